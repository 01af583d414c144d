"""Executable test suite of OGC API - Records - Part 1: Core (1.0), against the live server.

One test per abstract test of the suite (``core/standard/abstract_tests`` of opengeospatial/ogcapi-records)
that a searchable catalogue must pass, named after its identifier (``/conf/record-core-query-parameters/
q-response`` -> ``test_ats_record_core_query_parameters_q_response``), with its test method carried out
as written: the request it describes, then its checks, on every record catalogue the server has where it
says "each". Where the method says "only records that ...", the expected records are computed from the
indexed records themselves, independently of the server.

The abstract tests that do not apply to this server are listed in ``NOT_APPLICABLE`` with the reason,
and ``test_ats_every_abstract_test_is_run_or_excluded`` keeps the list and the tests complete.

The server is the production stack (pygeoapi, our provider, waitress) on the real demo records.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from catalogue.geojson import to_geojson
from catalogue.query import SORTABLES
from catalogue.record import BBox, Record
from catalogue.stores.sqlite import instant, sort_key
from tests.fixtures.api_server import demo_catalogue, demo_records, intersects, serving

RECORDS_CONF = "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf"
OGC_REL = "http://www.opengis.net/def/rel/ogc/1.0"
RECORD_PROFILE = "http://www.opengis.net/def/profile/OGC/0/ogc-record"
GEOJSON = "application/geo+json"
CATALOG_JSON = "application/ogc-catalog+json"

# Abstract tests of the suite this server does not meet the conditions of, and why.
NOT_APPLICABLE = {
    "/conf/record-core/templated-link": "no record carries link templates",
    "/conf/record-core/templated-link-header": "no response carries link templates",
    "/conf/record-collection/license": "a catalogue has no licence of its own: each record keeps its own",
    "/conf/record-collection/links-catalog-related": "no catalogue names related catalogues",
    "/conf/record-collection/links-catalog-series": "the catalogues are not a series",
    "/conf/record-collection/links-record": "the records are listed at /items, not in links",
    "/conf/record-collection/records-array-name": "no catalogue holds its records in-line",
    "/conf/record-collection/records": "no catalogue holds its records in-line",
    "/conf/searchable-catalog/crs": "records are served in CRS84 only (OGC API Features Part 2 is not met)",
}

# The abstract tests of the classes a searchable catalogue with sorting, filtering, JSON, HTML, OpenAPI
# 3.0 and autodiscovery declares.
ABSTRACT_TESTS = [
    "/conf/searchable-catalog/conformance",
    "/conf/searchable-catalog/building-blocks",
    "/conf/searchable-catalog/mandatatory-catalog-properties",
    "/conf/searchable-catalog/mandatory-record-properties",
    "/conf/searchable-catalog/filtering-conformance",
    "/conf/searchable-catalog/building-blocks/filtering",
    "/conf/searchable-catalog/mandatory-queryables",
    "/conf/searchable-catalog/sorting-conformance",
    "/conf/searchable-catalog/building-blocks/sorting",
    "/conf/searchable-catalog/crs",
    "/conf/records-api/features-api",
    "/conf/records-api/catalog-response",
    "/conf/records-api/catalogs-response",
    "/conf/records-api/record-op",
    "/conf/records-api/record-response",
    "/conf/records-api/records-op",
    "/conf/records-api/resource-name-mapping",
    "/conf/records-api/mandatory-params",
    "/conf/record-core/mandatory-properties-record",
    "/conf/record-core/links",
    "/conf/record-core/templated-link",
    "/conf/record-core/templated-link-header",
    "/conf/record-core/license",
    "/conf/record-core/contact",
    "/conf/record-core/time-instant-interval",
    "/conf/record-core/time-instant",
    "/conf/record-core/time-interval",
    "/conf/record-core/time-zone",
    "/conf/record-core/default-mediatype",
    "/conf/record-collection/mandatory-properties-collection",
    "/conf/record-collection/itemType",
    "/conf/record-collection/contact",
    "/conf/record-collection/license",
    "/conf/record-collection/links",
    "/conf/record-collection/links-catalog-hierarchy",
    "/conf/record-collection/links-catalog-related",
    "/conf/record-collection/links-catalog-series",
    "/conf/record-collection/links-record",
    "/conf/record-collection/links-records",
    "/conf/record-collection/records-array-name",
    "/conf/record-collection/records",
    "/conf/record-collection/default-mediatype",
    "/conf/record-core-query-parameters/bbox",
    "/conf/record-core-query-parameters/datetime",
    "/conf/record-core-query-parameters/externalIds-definition",
    "/conf/record-core-query-parameters/externalIds-response",
    "/conf/record-core-query-parameters/ids-definition",
    "/conf/record-core-query-parameters/ids-response",
    "/conf/record-core-query-parameters/limit",
    "/conf/record-core-query-parameters/q-definition",
    "/conf/record-core-query-parameters/q-response",
    "/conf/record-core-query-parameters/type-definition",
    "/conf/record-core-query-parameters/type-response",
    "/conf/record-core-query-parameters/empty-value",
    "/conf/sorting/conformance",
    "/conf/sorting/defaultSortOrder-definition",
    "/conf/sorting/get-sortables-op",
    "/conf/sorting/get-sortables-success",
    "/conf/sorting/sortby-definition",
    "/conf/sorting/sortby-response",
    "/conf/record-filter/filter-param",
    "/conf/record-filter/filter-lang-param",
    "/conf/record-filter/filter-crs-param",
    "/conf/record-filter/response",
    "/conf/json/conformance",
    "/conf/json/catalog-content",
    "/conf/json/catalog-response",
    "/conf/json/record-content",
    "/conf/json/record-response",
    "/conf/html/conformance",
    "/conf/html/content",
    "/conf/html/definition",
    "/conf/oas30/conformance",
    "/conf/oas30/oas30",
    "/conf/autodiscovery/links",
]


class Api:
    """The server under test, and the records it was loaded with."""

    def __init__(self, url: str, records: dict[str, Record]):
        self.url = url
        self.records = records
        self.session = requests.Session()

    def get(self, path: str, **params: Any) -> requests.Response:
        url = path if path.startswith("http") else f"{self.url}{path}"
        headers = params.pop("headers", None)
        return self.session.get(url, params=params, headers=headers, timeout=30)

    def json(self, path: str, **params: Any) -> Any:
        response = self.get(path, **params)
        assert response.status_code == 200, (path, params, response.text)
        return response.json()

    def conformance(self) -> list[str]:
        return self.json("/conformance")["conformsTo"]

    def catalogs(self) -> list[dict[str, Any]]:
        """The collections whose ``itemType`` is ``record``: the catalogues (JSONPath in the ATS)."""
        collections = self.json("/collections")["collections"]
        return [c for c in collections if c.get("itemType") == "record"]

    def members(self, catalog_id: str) -> dict[str, Record]:
        """The records a catalogue holds: all, or one pole's."""
        pole = next((r.pole for r in self.records.values() if _catalog_id(r.pole) == catalog_id), None)
        return {i: r for i, r in self.records.items() if pole is None or r.pole == pole}

    def ids(self, catalog_id: str = "catalogue", **params: Any) -> list[str]:
        page = self.json(f"/collections/{catalog_id}/items", limit=1000, **params)
        assert page["numberMatched"] == page["numberReturned"] == len(page["features"])
        return [feature["id"] for feature in page["features"]]

    def openapi(self) -> dict[str, Any]:
        return self.json("/openapi", f="json")

    def search_parameter(self, name: str) -> dict[str, Any]:
        """The definition of a parameter of the record search, resolved from the API definition."""
        document = self.openapi()
        for parameter in document["paths"]["/collections/catalogue/items"]["get"]["parameters"]:
            if "$ref" in parameter:
                parameter = document["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[1]]
            if parameter["name"] == name:
                return parameter
        raise AssertionError(f"the API definition lists no {name} parameter")


def _catalog_id(pole: str) -> str:
    return re.sub(r"[^a-z0-9]", "", pole.lower().replace("@", "a"))


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    records = demo_records()
    with serving(demo_catalogue(tmp_path_factory.mktemp("ats"), records)) as url:
        yield Api(url, records)


def _links(document: dict[str, Any], rel: str) -> list[dict[str, Any]]:
    return [link for link in document.get("links", []) if link.get("rel") == rel]


def _one_record(api: Api) -> Record:
    """A record with much to check: boxes, a time span, a licence, contacts."""
    return next(r for r in api.records.values() if r.native_id == "ie.marine.data:dataset.1135")


def test_ats_every_abstract_test_is_run_or_excluded() -> None:
    names = {name for name in globals() if name.startswith("test_ats_")}
    for identifier in ABSTRACT_TESTS:
        test = "test_ats_" + re.sub(r"[^a-z0-9]+", "_", identifier.removeprefix("/conf/").lower()).strip("_")
        assert (test in names) != (identifier in NOT_APPLICABLE), identifier
    assert set(NOT_APPLICABLE) <= set(ABSTRACT_TESTS)


# --- Searchable Catalog ---------------------------------------------------------------------------


def test_ats_searchable_catalog_conformance(api: Api) -> None:
    declared = api.conformance()
    for uri in ("searchable-catalog", "json", "html", "oas30"):
        assert f"{RECORDS_CONF}/{uri}" in declared
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in declared


def test_ats_searchable_catalog_building_blocks(api: Api) -> None:
    declared = api.conformance()
    for uri in ("records-api", "record-core", "record-collection", "record-core-query-parameters"):
        assert f"{RECORDS_CONF}/{uri}" in declared
    assert [c["id"] for c in api.catalogs()] == ["catalogue", "aeris", "formater", "odatis", "theia"]


def test_ats_searchable_catalog_mandatatory_catalog_properties(api: Api) -> None:
    for listed in api.catalogs():
        catalog = api.json(f"/collections/{listed['id']}")
        assert catalog["id"] == listed["id"]
        assert catalog["type"] == "Collection"
        assert catalog["links"] and all("href" in link and "rel" in link for link in catalog["links"])


def test_ats_searchable_catalog_mandatory_record_properties(api: Api) -> None:
    for catalog in api.catalogs():
        page = api.json(f"/collections/{catalog['id']}/items", limit=1000)
        assert page["features"]
        for record in page["features"]:
            assert isinstance(record["id"], str) and record["id"]
            assert record["type"] == "Feature"
            assert "geometry" in record and isinstance(record["properties"], dict)


def test_ats_searchable_catalog_filtering_conformance(api: Api) -> None:
    assert f"{RECORDS_CONF}/searchable-catalog-filtering" in api.conformance()
    assert f"{RECORDS_CONF}/searchable-catalog/filtering" in api.conformance()  # the ATS spelling


def test_ats_searchable_catalog_building_blocks_filtering(api: Api) -> None:
    assert f"{RECORDS_CONF}/filtering" in api.conformance()
    for catalog in api.catalogs():
        members = api.members(catalog["id"])
        expected = {i for i, r in members.items() if r.resource_type == "dataset" and r.temporal}
        found = api.ids(catalog["id"], filter="type = 'dataset' AND time IS NOT NULL")
        assert set(found) == expected, catalog["id"]


def test_ats_searchable_catalog_mandatory_queryables(api: Api) -> None:
    for catalog in api.catalogs():
        queryables = api.json(f"/collections/{catalog['id']}/queryables")["properties"]
        assert {"id", "type", "title"} <= set(queryables)


def test_ats_searchable_catalog_sorting_conformance(api: Api) -> None:
    assert f"{RECORDS_CONF}/searchable-catalog-sorting" in api.conformance()
    assert f"{RECORDS_CONF}/searchable-catalog/sorting" in api.conformance()  # the ATS spelling


def test_ats_searchable_catalog_building_blocks_sorting(api: Api) -> None:
    assert f"{RECORDS_CONF}/sorting" in api.conformance()
    for catalog in api.catalogs():
        features = api.json(f"/collections/{catalog['id']}/items", limit=1000, sortby="-title")["features"]
        keys = [sort_key(f["properties"]["title"]) for f in features]
        assert keys == sorted(keys, reverse=True) and len(keys) == len(api.members(catalog["id"]))


# --- Records API ----------------------------------------------------------------------------------


def test_ats_records_api_features_api(api: Api) -> None:
    landing = api.json("/")
    rels = {link["rel"] for link in landing["links"]}
    assert {"service-desc", "conformance", "data"} <= rels
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in api.conformance()
    assert api.json("/collections")["collections"]


def test_ats_records_api_catalog_response(api: Api) -> None:
    for listed in api.catalogs():
        catalog = api.json(f"/collections/{listed['id']}")
        assert (catalog["id"], catalog["itemType"], catalog["type"]) == (listed["id"], "record", "Collection")
        assert _links(catalog, "items")


def test_ats_records_api_catalogs_response(api: Api) -> None:
    collections = api.json("/collections")
    assert _links(collections, "self")
    for catalog in api.catalogs():
        assert catalog["links"] and catalog["itemType"] == "record"


def test_ats_records_api_record_op(api: Api) -> None:
    for catalog in api.catalogs():
        record_id = next(iter(api.members(catalog["id"])))
        assert api.json(f"/collections/{catalog['id']}/items/{record_id}")["id"] == record_id
        assert api.get(f"/collections/{catalog['id']}/items/no-such-record").status_code == 404


def test_ats_records_api_record_response(api: Api) -> None:
    record = _one_record(api)
    response = api.get(f"/collections/odatis/items/{record.id}", headers={"Accept": GEOJSON})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == GEOJSON
    document = response.json()
    assert all("rel" in link and "href" in link for link in document["links"])
    assert [link["href"] for link in _links(document, "self")] == [
        f"{api.url}/collections/odatis/items/{record.id}?f=json"
    ]
    alternates = {link["type"]: link["href"] for link in _links(document, "alternate")}
    assert {"application/ld+json", "text/html"} <= set(alternates)
    for media_type, href in alternates.items():
        assert api.get(href).headers["Content-Type"].split(";")[0] == media_type
    assert [link["href"] for link in _links(document, "collection")] == [f"{api.url}/collections/odatis"]
    assert [link["href"] for link in _links(document, "profile")] == [RECORD_PROFILE]


def test_ats_records_api_records_op(api: Api) -> None:
    for catalog in api.catalogs():
        page = api.json(f"/collections/{catalog['id']}/items")
        assert page["type"] == "FeatureCollection"
        assert page["numberMatched"] == len(api.members(catalog["id"]))
        assert page["numberReturned"] == len(page["features"]) == min(10, page["numberMatched"])


def test_ats_records_api_resource_name_mapping(api: Api) -> None:
    paths = api.openapi()["paths"]
    for catalog in api.catalogs():
        assert f"/collections/{catalog['id']}/items" in paths
        assert f"/collections/{catalog['id']}/items/{{featureId}}" in paths


def test_ats_records_api_mandatory_params(api: Api) -> None:
    for name in ("bbox", "datetime", "limit", "q", "type", "ids", "externalIds"):
        assert api.search_parameter(name)["in"] == "query"
    # parameters are ANDed
    services = set(api.ids(type="service"))
    in_europe = set(api.ids(bbox="-10,35,30,70"))
    assert set(api.ids(type="service", bbox="-10,35,30,70")) == services & in_europe != set()


# --- Record Core ----------------------------------------------------------------------------------


def _all_records(api: Api) -> list[dict[str, Any]]:
    return api.json("/collections/catalogue/items", limit=1000)["features"]


def test_ats_record_core_mandatory_properties_record(api: Api) -> None:
    records = _all_records(api)
    assert len(records) == len(api.records)
    assert all(isinstance(r["id"], str) and r["id"].strip() for r in records)


def test_ats_record_core_links(api: Api) -> None:
    for record in _all_records(api):
        collection = _links(record, "collection")
        assert len(collection) == 1, record["id"]
    catalog = api.json(collection[0]["href"])
    assert catalog["type"] == "Collection" and catalog["itemType"] == "record"


def test_ats_record_core_license(api: Api) -> None:
    licensed = 0
    for record in _all_records(api):
        license_ = record["properties"].get("license")
        if license_ is None:
            continue
        licensed += 1
        assert license_ == "other" or re.fullmatch(r"[A-Za-z0-9.+-]+", license_), license_
        if license_ == "other":
            assert _links(record, "license"), record["id"]
    assert licensed


def test_ats_record_core_contact(api: Api) -> None:
    contacts = [c for r in _all_records(api) for c in r["properties"].get("contacts", [])]
    assert contacts
    for contact in contacts:
        assert contact.get("name") or contact.get("organization")
        for link in contact.get("links", []):
            assert link["rel"] and link["type"] and link["href"]
        if "logo" in contact:
            assert contact["logo"]["rel"] == "icon" and contact["logo"]["type"].startswith("image/")
        for phone in contact.get("phones", []):
            assert phone["value"]


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def _times(api: Api) -> list[dict[str, Any]]:
    times = [r["time"] for r in _all_records(api) if r.get("time")]
    assert times
    return times


def test_ats_record_core_time_instant_interval(api: Api) -> None:
    for time in _times(api):
        assert set(time) <= {"date", "timestamp", "interval", "resolution"} and time
        if "interval" in time and ("date" in time or "timestamp" in time):
            instant_ = time.get("date") or time.get("timestamp")
            assert time["interval"][0] in ("..", instant_) or time["interval"][0] <= instant_


def test_ats_record_core_time_instant(api: Api) -> None:
    instants = [t for t in _times(api) if "date" in t or "timestamp" in t]
    assert instants
    for time in instants:
        assert "date" not in time or _DATE.match(time["date"])
        assert "timestamp" not in time or _TIMESTAMP.match(time["timestamp"])


def test_ats_record_core_time_interval(api: Api) -> None:
    intervals = [t["interval"] for t in _times(api) if "interval" in t]
    assert intervals
    for start, end in intervals:
        ends = [e for e in (start, end) if e != ".."]
        assert ends, "an interval has at least one known end"
        kinds = {"date" if _DATE.match(e) else "timestamp" if _TIMESTAMP.match(e) else "bad" for e in ends}
        assert len(kinds) == 1 and "bad" not in kinds, (start, end)
        assert len(ends) < 2 or start <= end


def test_ats_record_core_time_zone(api: Api) -> None:
    stamps = [t["timestamp"] for t in _times(api) if "timestamp" in t]
    stamps += [e for t in _times(api) for e in t.get("interval", []) if "T" in e]
    assert stamps and all(s.endswith("Z") for s in stamps)


def test_ats_record_core_default_mediatype(api: Api) -> None:
    record = _one_record(api)
    response = api.get(f"/collections/catalogue/items/{record.id}")
    assert response.headers["Content-Type"] == GEOJSON
    assert [link["href"] for link in _links(response.json(), "profile")] == [RECORD_PROFILE]


# --- Record Collection ----------------------------------------------------------------------------


def test_ats_record_collection_mandatory_properties_collection(api: Api) -> None:
    for listed in api.catalogs():
        catalog = api.json(f"/collections/{listed['id']}")
        assert catalog["id"] and catalog["type"] == "Collection" and catalog["links"]


def test_ats_record_collection_itemtype(api: Api) -> None:
    for listed in api.catalogs():
        assert api.json(f"/collections/{listed['id']}")["itemType"] == "record"


def test_ats_record_collection_contact(api: Api) -> None:
    for listed in api.catalogs():
        for contact in api.json(f"/collections/{listed['id']}")["contacts"]:
            assert contact.get("name") or contact.get("organization")
            assert all(link["rel"] == "about" and link["type"] for link in contact["links"])


def test_ats_record_collection_links(api: Api) -> None:
    for listed in api.catalogs():
        catalog = api.json(f"/collections/{listed['id']}")
        (self_link,) = _links(catalog, "self")
        assert api.json(self_link["href"]) == catalog
        alternates = _links(catalog, "alternate")
        assert {link["type"] for link in alternates} >= {"text/html"}
        for link in alternates:
            assert api.get(link["href"]).headers["Content-Type"].split(";")[0] == link["type"]


def test_ats_record_collection_links_catalog_hierarchy(api: Api) -> None:
    federated = api.json("/collections/catalogue")
    children = [link["href"] for link in _links(federated, "child")]
    assert children == [f"{api.url}/collections/{c}" for c in ("aeris", "formater", "odatis", "theia")]
    for href in children:
        child = api.json(href)
        assert child["type"] == "Collection"
        assert [link["href"] for link in _links(child, "parent")] == [f"{api.url}/collections/catalogue"]


def test_ats_record_collection_links_records(api: Api) -> None:
    for listed in api.catalogs():
        items = _links(api.json(f"/collections/{listed['id']}"), "items")
        assert items
        for link in items:
            response = api.get(link["href"])
            assert response.headers["Content-Type"].split(";")[0] == link["type"]
            if link["type"] == GEOJSON:
                assert response.json()["type"] == "FeatureCollection"


def test_ats_record_collection_default_mediatype(api: Api) -> None:
    for listed in api.catalogs():
        response = api.get(f"/collections/{listed['id']}")
        assert response.headers["Content-Type"] == CATALOG_JSON


# --- Record Core Query Parameters -----------------------------------------------------------------




def test_ats_record_core_query_parameters_bbox(api: Api) -> None:
    for box in ([-11.0, 51.0, -9.0, 53.0], [170.0, -10.0, -170.0, 10.0], [5.0, 45.0, 8.0, 48.0]):
        expected = {i for i, r in api.records.items() if intersects(r, BBox(*box))}
        assert expected
        assert set(api.ids(bbox=",".join(map(str, box)))) == expected


def _span(record: Record) -> tuple[str, str] | None:
    starts = [instant(t.start, end=False) if t.start else "0000" for t in record.temporal]
    ends = [instant(t.end, end=True) if t.end else "9999" for t in record.temporal]
    return (min(starts), max(ends)) if record.temporal else None


def test_ats_record_core_query_parameters_datetime(api: Api) -> None:
    cases = {
        "2009-06-15/2009-06-16": ("2009-06-15T00:00:00Z", "2009-06-16T23:59:59Z"),
        "2020-01-01T00:00:00Z/..": ("2020-01-01T00:00:00Z", "9999"),
        "../2000-12-31": ("0000", "2000-12-31T23:59:59Z"),
    }
    for value, (start, end) in cases.items():
        expected = {
            i
            for i, r in api.records.items()
            if len(r.temporal) == 1 and (span := _span(r)) and span[0] <= end and span[1] >= start
        }
        found = set(api.ids(datetime=value))
        assert expected and expected <= found, value
        assert all(_span(api.records[i]) for i in found), value


def test_ats_record_core_query_parameters_externalids_definition(api: Api) -> None:
    parameter = api.search_parameter("externalIds")
    assert parameter["schema"] == {"type": "array", "items": {"type": "string"}}
    assert (parameter["in"], parameter.get("required", False), parameter["explode"]) == (
        "query",
        False,
        False,
    )
    assert (
        api.get("/collections/catalogue/items", externalIds="https://doi.org:10.16904/14").status_code == 200
    )


def test_ats_record_core_query_parameters_externalids_response(api: Api) -> None:
    shown = {i: to_geojson(r)["properties"].get("externalIds", []) for i, r in api.records.items()}

    def having(test: Any) -> set[str]:
        return {i for i, ids in shown.items() if any(test(e) for e in ids)}

    scheme_value = having(lambda e: (e.get("scheme"), e["value"]) == ("org.maracoos", "AVHRR.2011.7Agg"))
    assert scheme_value and set(api.ids(externalIds="org.maracoos:AVHRR.2011.7Agg")) == scheme_value
    value_only = having(lambda e: e["value"] == "1300392329603")
    assert value_only and set(api.ids(externalIds="1300392329603")) == value_only
    dois = having(lambda e: e.get("scheme") == "https://doi.org")
    assert len(dois) >= 2 and set(api.ids(externalIds="https://doi.org:")) == dois
    either = set(api.ids(externalIds="org.maracoos:AVHRR.2011.7Agg,1300392329603"))
    assert either == scheme_value | value_only
    assert api.ids(externalIds="org.maracoos:no-such-id") == []


def test_ats_record_core_query_parameters_ids_definition(api: Api) -> None:
    parameter = api.search_parameter("ids")
    assert parameter["schema"] == {"type": "array", "items": {"type": "string"}}
    assert (parameter["in"], parameter["explode"]) == ("query", False)
    assert api.get("/collections/catalogue/items", ids="x").status_code == 200


def test_ats_record_core_query_parameters_ids_response(api: Api) -> None:
    wanted = sorted(api.records)[3:6]
    assert sorted(api.ids(ids=",".join([*wanted, "demo.no-such-record"]))) == wanted


def test_ats_record_core_query_parameters_limit(api: Api) -> None:
    parameter = api.search_parameter("limit")
    assert parameter["schema"]["minimum"] == 1 and parameter["schema"]["maximum"] >= 100
    page = api.json("/collections/catalogue/items", limit=5)
    assert page["numberReturned"] == len(page["features"]) == 5
    assert page["numberMatched"] == len(api.records)
    (next_link,) = _links(page, "next")
    following = api.json(next_link["href"])
    assert following["features"][0]["id"] == sorted(api.records)[5]
    assert _links(following, "prev")
    assert api.get("/collections/catalogue/items", limit=0).status_code == 400


def _assert_array_of_strings(parameter: dict[str, Any]) -> None:
    assert parameter["schema"] == {"type": "array", "items": {"type": "string"}}
    assert (parameter["in"], parameter.get("required", False), parameter["explode"]) == (
        "query",
        False,
        False,
    )


def test_ats_record_core_query_parameters_q_definition(api: Api) -> None:
    _assert_array_of_strings(api.search_parameter("q"))
    assert api.get("/collections/catalogue/items", q="ocean").status_code == 200


def _tokens(text: str) -> list[str]:
    """Words as the index reads them: letters and digits, case and accents folded."""
    folded = "".join(
        c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c)
    )
    return re.findall(r"[^\W_]+", folded)


def _searched(record: Record) -> list[list[str]]:
    """The searched text fields of a record, each as its words: title, description, keywords (and
    topic categories), and the rest (places, platforms, instruments, organisations, identifiers)."""
    keywords = [k.label for k in record.keywords] + [
        t for k in record.keywords for t in k.translations.values()
    ]
    fields = [
        record.title.all_texts(),
        record.abstract.all_texts() if record.abstract else [],
        [*keywords, *record.topic_categories],
        [
            *record.places,
            *record.platforms,
            *record.instruments,
            *(c.organisation or "" for c in record.contacts),
            *(i.code for i in record.identifiers),
        ],
    ]
    return [_tokens(" ".join(texts)) for texts in fields]


def _has_phrase(record: Record, phrase: str) -> bool:
    wanted = _tokens(phrase)
    return any(words[i : i + len(wanted)] == wanted for words in _searched(record) for i in range(len(words)))


def test_ats_record_core_query_parameters_q_response(api: Api) -> None:
    for q, alternatives in (
        ("Survey", ["survey"]),
        ("soil,OCÉAN", ["soil", "océan"]),
        ("climate change", ["climate change"]),
    ):
        expected = {i for i, r in api.records.items() if any(_has_phrase(r, a) for a in alternatives)}
        assert expected, q
        assert set(api.ids(q=q)) == expected, q
    assert api.ids(q="change climate survey") == []  # the words, but not in that order


def test_ats_record_core_query_parameters_type_definition(api: Api) -> None:
    _assert_array_of_strings(api.search_parameter("type"))
    assert api.get("/collections/catalogue/items", type="dataset").status_code == 200


def test_ats_record_core_query_parameters_type_response(api: Api) -> None:
    for value, types in (("service", {"service"}), ("series,service", {"series", "service"})):
        expected = {i for i, r in api.records.items() if r.resource_type in types}
        assert expected and set(api.ids(type=value)) == expected


def test_ats_record_core_query_parameters_empty_value(api: Api) -> None:
    def page(**params: str) -> dict[str, Any]:
        document = api.json("/collections/catalogue/items", **params)
        document.pop("timeStamp")
        return document

    assert page(bbox="", ids="", q="", datetime="", type="", externalIds="", f="json") == page(f="json")
    assert page(limit="", q="survey") == page(q="survey")


# --- Sorting --------------------------------------------------------------------------------------


def test_ats_sorting_conformance(api: Api) -> None:
    assert f"{RECORDS_CONF}/sorting" in api.conformance()


def test_ats_sorting_defaultsortorder_definition(api: Api) -> None:
    for listed in api.catalogs():
        catalog = api.json(f"/collections/{listed['id']}")
        order = catalog["defaultSortOrder"]
        assert order and all(set(o) == {"field", "direction"} for o in order)
        assert all(o["field"] in SORTABLES and o["direction"] in ("asc", "desc") for o in order)
        ids = api.ids(listed["id"])
        assert ids == sorted(ids)  # the declared order, id ascending, is the one served


def test_ats_sorting_get_sortables_op(api: Api) -> None:
    for listed in api.catalogs():
        (link,) = _links(api.json(f"/collections/{listed['id']}"), f"{OGC_REL}/sortables")
        assert link["type"] == "application/schema+json"
        assert api.get(link["href"]).status_code == 200


def test_ats_sorting_get_sortables_success(api: Api) -> None:
    response = api.get("/collections/odatis/sortables")
    assert response.headers["Content-Type"] == "application/schema+json"
    schema = response.json()
    assert schema["$schema"] in (
        "https://json-schema.org/draft/2019-09/schema",
        "https://json-schema.org/draft/2020-12/schema",
    )
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(SORTABLES)


def test_ats_sorting_sortby_definition(api: Api) -> None:
    parameter = api.search_parameter("sortby")
    assert parameter["schema"]["type"] == "array" and parameter["explode"] is False
    assert all(re.match(parameter["schema"]["items"]["pattern"], f"-{name}") for name in SORTABLES)
    assert api.get("/collections/catalogue/items", sortby="+title").status_code == 200


def test_ats_sorting_sortby_response(api: Api) -> None:
    features = api.json("/collections/catalogue/items", limit=1000, sortby="-updated,title")["features"]
    stamps = [
        instant(f["properties"]["updated"], end=False) for f in features if f["properties"].get("updated")
    ]
    assert len(stamps) > 10 and stamps == sorted(stamps, reverse=True)
    by_title = api.json("/collections/catalogue/items", limit=1000, sortby="title")["features"]
    keys = [sort_key(f["properties"]["title"]) for f in by_title]
    assert keys == sorted(keys)


# --- Filtering (Features Part 3 at the record search) ---------------------------------------------


def test_ats_record_filter_filter_param(api: Api) -> None:
    parameter = api.search_parameter("filter")
    assert parameter["in"] == "query" and parameter["schema"]["type"] == "string"
    assert api.get("/collections/catalogue/items", filter="pole = 'THEIA'").status_code == 200


def test_ats_record_filter_filter_lang_param(api: Api) -> None:
    assert api.search_parameter("filter-lang")["schema"]["enum"] == ["cql2-text", "cql2-json"]
    text = api.ids(filter="type = 'series' OR pole = 'AERIS'", **{"filter-lang": "cql2-text"})
    cql2_json = {
        "op": "or",
        "args": [
            {"op": "=", "args": [{"property": "type"}, "series"]},
            {"op": "=", "args": [{"property": "pole"}, "AERIS"]},
        ],
    }
    as_json = api.ids(filter=json.dumps(cql2_json), **{"filter-lang": "cql2-json"})
    expected = {i for i, r in api.records.items() if r.resource_type == "series" or r.pole == "AERIS"}
    assert set(text) == set(as_json) == expected
    assert (
        api.get("/collections/catalogue/items", filter="pole = 'x'", **{"filter-lang": "ecql"}).status_code
        == 400
    )


def test_ats_record_filter_filter_crs_param(api: Api) -> None:
    crs84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    assert api.search_parameter("filter-crs")["schema"]["enum"] == [crs84]
    box = "S_INTERSECTS(geometry, BBOX(-11, 51, -9, 53))"
    assert set(api.ids(filter=box, **{"filter-crs": crs84})) == set(api.ids(bbox="-11,51,-9,53"))
    wrong = api.get("/collections/catalogue/items", filter=box, **{"filter-crs": "EPSG:3857"})
    assert wrong.status_code == 400 and wrong.json()["code"] == "InvalidParameterValue"


def test_ats_record_filter_response(api: Api) -> None:
    expected = {i for i, r in api.records.items() if r.pole == "ODATIS" and r.resource_type != "dataset"}
    assert expected
    assert set(api.ids(filter="pole = 'ODATIS' AND NOT type = 'dataset'")) == expected
    assert set(api.ids(filter="CASEI(pole) = CASEI('odatis') AND type IN ('series', 'service')")) == expected
    castles = {i for i, r in api.records.items() if r.title.text == "Châteaux rhénans"}
    assert (
        set(api.ids(filter="ACCENTI(CASEI(title)) = ACCENTI(CASEI('CHATEAUX RHENANS'))")) == castles != set()
    )
    # ANDed with the other parameters, in a pole's catalogue too
    irish = {i for i, r in api.records.items() if intersects(r, BBox(-11, 51, -9, 53))}
    both = set(api.ids("odatis", filter="S_INTERSECTS(geometry, BBOX(-11, 51, -9, 53))", q="survey"))
    assert both == {
        i for i in irish if _has_phrase(api.records[i], "survey") and api.records[i].pole == "ODATIS"
    }
    assert both


# --- JSON -----------------------------------------------------------------------------------------


def test_ats_json_conformance(api: Api) -> None:
    assert f"{RECORDS_CONF}/json" in api.conformance()


def test_ats_json_catalog_content(api: Api) -> None:
    for listed in api.catalogs():
        catalog = api.json(f"/collections/{listed['id']}")
        assert isinstance(catalog["links"], list) and catalog["type"] == "Collection"
        box = catalog["extent"]["spatial"]["bbox"][0]
        assert len(box) == 4 and box[1] <= box[3]
        assert [link["href"] for link in _links(catalog, "self")] == [
            f"{api.url}/collections/{listed['id']}?f=json"
        ]


def test_ats_json_catalog_response(api: Api) -> None:
    for listed in api.catalogs():
        response = api.get(f"/collections/{listed['id']}", f="json")
        assert response.status_code == 200 and response.headers["Content-Type"] == CATALOG_JSON


def _is_geometry(geometry: dict[str, Any] | None) -> bool:
    return geometry is None or (
        geometry["type"] in ("Point", "Polygon", "MultiPolygon") and isinstance(geometry["coordinates"], list)
    )


def test_ats_json_record_content(api: Api) -> None:
    for record in _all_records(api):
        assert record["type"] == "Feature" and _is_geometry(record["geometry"])
        assert isinstance(record["properties"], dict) and isinstance(record["links"], list)
        properties = record["properties"]
        assert isinstance(properties.get("keywords", []), list)
        for theme in properties.get("themes", []):
            assert theme["scheme"] and all(concept["id"] for concept in theme["concepts"])
        for identifier in properties.get("externalIds", []):
            assert identifier["value"]


def test_ats_json_record_response(api: Api) -> None:
    items = api.get("/collections/catalogue/items")
    assert items.headers["Content-Type"] == GEOJSON
    record_id = items.json()["features"][0]["id"]
    assert api.get(f"/collections/catalogue/items/{record_id}").headers["Content-Type"] == GEOJSON


# --- HTML -----------------------------------------------------------------------------------------


def test_ats_html_conformance(api: Api) -> None:
    assert f"{RECORDS_CONF}/html" in api.conformance()


def test_ats_html_content(api: Api) -> None:
    record = _one_record(api)
    for path in (
        "/",
        "/conformance",
        "/collections",
        "/collections/catalogue",
        "/collections/catalogue/items",
        f"/collections/catalogue/items/{record.id}",
    ):
        response = api.get(path, f="html")
        assert response.status_code == 200 and response.headers["Content-Type"] == "text/html; charset=utf-8"
    page = api.get(f"/collections/catalogue/items/{record.id}", f="html").text
    assert record.title.text in page


def test_ats_html_definition(api: Api) -> None:
    page = api.get("/collections/odatis/items", f="html", limit=100).text
    assert page.lstrip().lower().startswith("<!doctype html>")
    for record_id in api.members("odatis"):
        assert f'href="{api.url}/collections/odatis/items/{record_id}' in page


# --- OpenAPI 3.0 ----------------------------------------------------------------------------------


def test_ats_oas30_conformance(api: Api) -> None:
    assert f"{RECORDS_CONF}/oas30" in api.conformance()


def test_ats_oas30_oas30(api: Api) -> None:
    response = api.get("/openapi", f="json")
    assert response.headers["Content-Type"].startswith("application/vnd.oai.openapi+json")
    document = response.json()
    assert document["openapi"].startswith("3.0.")
    (service_desc,) = _links(api.json("/"), "service-desc")
    assert service_desc["href"] == f"{api.url}/openapi"


# --- Autodiscovery --------------------------------------------------------------------------------


def test_ats_autodiscovery_links(api: Api) -> None:
    links = _links(api.json("/"), f"{OGC_REL}/ogc-catalog")
    assert [link["href"] for link in links] == [
        f"{api.url}/collections/{c['id']}/items" for c in api.catalogs()
    ]
    for link in links:
        response = api.get(link["href"])
        assert response.status_code == 200 and response.headers["Content-Type"] == link["type"]
    page = api.get("/", f="html").text
    for link in links:
        assert f'<link rel="{OGC_REL}/ogc-catalog" type="{link["type"]}" href="{link["href"]}">' in page
