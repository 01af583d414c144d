"""The OGC API - Records server, end to end: the real demo records through the real crosswalk into a
SQLite store, served by ``api.server.create_app`` under waitress, read with OWSLib's Records client
(and ``requests`` where status codes and headers are the point)."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from markupsafe import escape
from owslib.ogcapi.records import Records
from werkzeug.test import Client

from api.provider import build_query
from api.server import CONFORMANCE, create_app
from catalogue.query import FACETS, ExternalId, QueryError, parse_filter
from catalogue.record import BBox, Record
from catalogue.stores.sqlite import instant, sort_key
from tests.fixtures.api_server import REPO_ROOT, demo_catalogue, demo_records, intersects, serving

ANCHOR_NATIVE_ID = "ie.marine.data:dataset.1135"  # owslib__iso_keywords_anchor.xml, an Irish survey
S2_SCENE_NATIVE_ID = "S2B_MSIL2A_20200902T090559_N0214_R050_T34SFG_20200902T113910.SAFE"
RECORD_CORE = "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/record-core"


class Catalogue:
    """The running server and what was indexed, for the assertions."""

    def __init__(self, url: str, records: dict[str, Record]):
        self.url = url
        self.records = records
        self.client = Records(url)

    def by_native(self, native_id: str) -> Record:
        return next(r for r in self.records.values() if r.native_id == native_id)

    def items(self, collection: str = "catalogue", **params: Any) -> dict:
        return self.client.collection_items(collection, **params)

    def all_ids(self, collection: str = "catalogue", **params: Any) -> list[str]:
        """Every id the API returns for a query, page by page."""
        return [f["id"] for f in self.items(collection, limit=1000, **params)["features"]]


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalogue]:
    records = demo_records()
    settings = demo_catalogue(tmp_path_factory.mktemp("api"), records)
    with serving(settings) as url:
        yield Catalogue(url, records)


# --- landing page, conformance, collections --------------------------------------------------------


def test_landing_page_links_the_api_documents(catalogue: Catalogue) -> None:
    landing = catalogue.client.response
    assert landing["title"] == "Data Terra catalogue"
    rels = {link["rel"]: link["href"] for link in catalogue.client.links}
    assert rels["conformance"] == f"{catalogue.url}/conformance"
    assert rels["data"] == f"{catalogue.url}/collections"
    assert rels["service-desc"] == f"{catalogue.url}/openapi"
    assert "paths" in catalogue.client.api()


def test_conformance_declares_records_1_0_classes(catalogue: Catalogue) -> None:
    declared = catalogue.client.conformance()["conformsTo"]
    assert declared == CONFORMANCE
    records_classes = {uri.rsplit("/conf/", 1)[1] for uri in declared if "ogcapi-records-1" in uri}
    assert {
        "searchable-catalog",
        "searchable-catalog-filtering",
        "searchable-catalog-sorting",
        "record-core",
        "record-collection",
        "record-core-query-parameters",
        "records-api",
        "sorting",
        "filtering",
        "json",
        "html",
        "oas30",
        "autodiscovery",
    } <= records_classes
    assert "crawlable-catalog" not in records_classes  # no static catalogue files
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in declared
    cql2 = {uri.rsplit("/conf/", 1)[1] for uri in declared if "/cql2/" in uri}
    assert {"cql2-text", "cql2-json", "basic-cql2"} <= cql2
    assert "temporal-functions" not in cql2  # T_OVERLAPS is refused
    assert "core" not in records_classes  # pygeoapi's pre-1.0 URI, which 1.0 does not define
    # pygeoapi's own view appended its classes again on every request; ours does not grow
    assert catalogue.client.conformance()["conformsTo"] == declared


def test_collections_are_the_federated_catalogue_and_one_per_pole(catalogue: Catalogue) -> None:
    assert catalogue.client.records() == ["catalogue", "aeris", "formater", "odatis", "theia"]
    description = catalogue.client.collection("catalogue")
    assert description["title"] == "Data Terra federated catalogue"
    assert description["type"] == "Collection"
    assert description["itemType"] == "record"
    assert description["defaultSortOrder"] == [{"field": "id", "direction": "asc"}]
    odatis = [r for r in catalogue.records.values() if r.pole == "ODATIS"]
    west, south, east, north = catalogue.client.collection("odatis")["extent"]["spatial"]["bbox"][0]
    assert west <= min(b.west for r in odatis for b in r.bboxes) and east >= max(
        b.east for r in odatis for b in r.bboxes
    )
    assert south <= min(b.south for r in odatis for b in r.bboxes) < south + 0.001
    assert north >= max(b.north for r in odatis for b in r.bboxes) > north - 0.001
    assert description["schemes"][0]["namespace"] == "https://w3id.org/data-terra/thesaurus/"
    sortables = [
        link["href"]
        for link in description["links"]
        if link["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/sortables"
    ]
    assert sortables == [f"{catalogue.url}/collections/catalogue/sortables"]


def test_queryables_and_sortables(catalogue: Catalogue) -> None:
    queryables = catalogue.client.collection_queryables("catalogue")["properties"]
    assert {"title", "description", "keywords", "type", "pole", "source", "language", "updated"} <= set(
        queryables
    )
    assert "start" not in queryables  # a sort key, not a record property
    response = requests.get(f"{catalogue.url}/collections/catalogue/sortables", timeout=30)
    assert response.headers["Content-Type"] == "application/schema+json"
    sortables = response.json()
    assert list(sortables["properties"]) == ["title", "updated", "created", "start", "end", "id", "fair"]
    assert sortables["additionalProperties"] is False
    assert requests.get(f"{catalogue.url}/collections/nope/sortables", timeout=30).status_code == 404


def test_openapi_document_lists_record_search_parameters(catalogue: Catalogue) -> None:
    document = requests.get(f"{catalogue.url}/openapi", params={"f": "json"}, timeout=30).json()
    parameters = document["paths"]["/collections/catalogue/items"]["get"]["parameters"]
    refs = [p.get("$ref", p.get("name")).rsplit("/", 1)[-1] for p in parameters]
    assert {"q", "bbox", "datetime", "limit", "sortby", "ids", "type", "externalIds", "facets"} <= set(refs)
    assert {"filter", "filter-lang", "filter-crs", "pole", "language", "theme"} <= set(refs)
    assert "title" not in refs  # free text is searched with q and filter, not by equality
    components = document["components"]["parameters"]
    for name in ("q", "ids", "type", "externalIds"):  # /req/record-core-query-parameters/*-definition
        assert components[name]["schema"] == {"type": "array", "items": {"type": "string"}}
        assert components[name]["explode"] is False and components[name]["in"] == "query"
    assert components["filter-lang"]["schema"]["enum"] == ["cql2-text", "cql2-json"]
    assert "/collections/odatis/items/{featureId}" in document["paths"]
    assert "/collections/odatis/sortables" in document["paths"]
    # whole: every reference is to a component of the document itself
    assert not re.findall(r'"\$ref": "(?!#/)', json.dumps(document))


# --- items: paging, search parameters, sorting -----------------------------------------------------


def test_paging_returns_every_record_once(catalogue: Catalogue) -> None:
    seen: list[str] = []
    offset, limit = 0, 7
    while True:
        page = catalogue.items(limit=limit, offset=offset)
        assert page["numberMatched"] == len(catalogue.records)
        assert page["numberReturned"] == len(page["features"])
        seen.extend(f["id"] for f in page["features"])
        if len(page["features"]) < limit:
            break
        offset += limit
    assert len(seen) == len(set(seen)) == len(catalogue.records) == 37
    assert set(seen) == set(catalogue.records)


def test_default_order_is_by_id_and_limit_defaults_to_ten(catalogue: Catalogue) -> None:
    page = catalogue.items()
    assert [f["id"] for f in page["features"]] == sorted(catalogue.records)[:10]
    assert [link["rel"] for link in page["links"]].count("next") == 1


def test_resulttype_hits_counts_without_records(catalogue: Catalogue) -> None:
    hits = catalogue.items(resulttype="hits", pole="ODATIS")
    odatis = [r for r in catalogue.records.values() if r.pole == "ODATIS"]
    assert (hits["numberMatched"], hits["features"]) == (len(odatis), [])


def test_q_matches_a_phrase_and_alternatives(catalogue: Catalogue) -> None:
    anchor = catalogue.by_native(ANCHOR_NATIVE_ID)
    found = catalogue.items(q="Climate Change Survey")
    assert found["features"][0]["id"] == anchor.id
    assert found["features"][0]["properties"]["title"] == "CE0911 Climate Change Survey"
    assert catalogue.all_ids(q="survey change climate") == []  # a phrase: terms in order
    chlorophyll = next(r for r in catalogue.records.values() if r.title.text == "Chlorophylle")
    assert {anchor.id, chlorophyll.id} <= set(catalogue.all_ids(q="Climate Change Survey,Chlorophylle"))




@pytest.mark.parametrize(
    "bbox",
    [
        [-11.0, 51.0, -9.0, 53.0],  # off Ireland: the CE0911 survey
        [170.0, -10.0, -170.0, 10.0],  # across the antimeridian
        [5.0, 45.0, 8.0, 48.0],  # Switzerland and the Upper Rhine
    ],
)
def test_bbox_returns_exactly_the_intersecting_records(catalogue: Catalogue, bbox: list[float]) -> None:
    expected = {r.id for r in catalogue.records.values() if intersects(r, BBox(*bbox))}
    assert expected, "the corpus must have records in each test box"
    assert set(catalogue.all_ids(bbox=bbox)) == expected


def test_bbox_finds_the_irish_survey_not_the_canadian_records(catalogue: Catalogue) -> None:
    ids = catalogue.all_ids(bbox=[-11.0, 51.0, -9.0, 53.0])
    assert catalogue.by_native(ANCHOR_NATIVE_ID).id in ids
    assert catalogue.by_native("07b7ef80-6061-43fc-b874-e2800e9ae547").id not in ids


def test_datetime_intersects_temporal_extents(catalogue: Catalogue) -> None:
    anchor = catalogue.by_native(ANCHOR_NATIVE_ID).id  # 2009-06-14 / 2009-06-22
    scene = catalogue.by_native(S2_SCENE_NATIVE_ID).id  # 2020-09-02T09:05:59Z
    survey_week = catalogue.all_ids(datetime_="2009-06-15/2009-06-16")
    assert anchor in survey_week and scene not in survey_week
    assert scene in catalogue.all_ids(datetime_="2020-09-02T09:05:59Z")
    after = catalogue.all_ids(datetime_="2020-01-01/..")
    assert scene in after and anchor not in after


def test_equality_parameters_and_ids(catalogue: Catalogue) -> None:
    services = {r.id for r in catalogue.records.values() if r.resource_type == "service"}
    assert services and set(catalogue.all_ids(type="service")) == services
    theia = {r.id for r in catalogue.records.values() if r.pole == "THEIA"}
    assert set(catalogue.all_ids(pole="THEIA")) == theia
    two = sorted(catalogue.records)[:2]
    assert catalogue.all_ids(ids=",".join(two)) == two


def test_sortby_title_and_updated(catalogue: Catalogue) -> None:
    by_title = catalogue.items(limit=1000, sortby=("title", "asc"))["features"]
    keys = [sort_key(f["properties"]["title"]) for f in by_title]
    assert keys == sorted(keys) and len(keys) == len(catalogue.records)
    by_updated = catalogue.items(limit=1000, sortby=("updated", "desc"))["features"]
    stamps = [f["properties"].get("updated") for f in by_updated]
    known = [instant(s, end=False) for s in stamps if s]
    assert known == sorted(known, reverse=True)
    assert stamps[: len(known)] == [s for s in stamps if s]  # records without a date stamp come last


def test_pole_collection_holds_only_its_pole(catalogue: Catalogue) -> None:
    odatis = {r.id for r in catalogue.records.values() if r.pole == "ODATIS"}
    page = catalogue.items("odatis", limit=1000)
    assert page["numberMatched"] == len(odatis) == 6
    assert {f["id"] for f in page["features"]} == odatis
    assert {f["properties"]["pole"] for f in page["features"]} == {"ODATIS"}
    elsewhere = catalogue.items("odatis", pole="THEIA")
    assert elsewhere["numberMatched"] == 0 and "facets" not in elsewhere
    faceted = catalogue.items("odatis", pole="THEIA", facets="pole,type")["facets"]
    assert {name: facet["buckets"] for name, facet in faceted.items()} == {"pole": [], "type": []}
    theia_record = next(r.id for r in catalogue.records.values() if r.pole == "THEIA")
    response = requests.get(f"{catalogue.url}/collections/odatis/items/{theia_record}", timeout=30)
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("collection", "params"),
    [
        ("catalogue", {}),
        ("catalogue", {"q": "survey,soil"}),
        ("catalogue", {"bbox": [-20, 30, 40, 70], "type": "dataset"}),
        ("catalogue", {"filter": "pole = 'ForM@Ter' OR type = 'service'"}),
        ("catalogue", {"datetime": "2000-01-01/..", "resulttype": "hits"}),
        ("odatis", {"externalIds": "https://doi.org:,ie.marine.data:dataset.1135"}),
    ],
)
def test_facets_in_the_part_2_shape_count_every_match(
    catalogue: Catalogue, collection: str, params: dict[str, Any]
) -> None:
    """Records Part 2 draft: a ``facets`` member, one term facet per facet asked for, whose buckets count
    every matched record (not just the page): a single-valued property's counts add up to numberMatched."""
    page = catalogue.items(collection, facets="pole,type:2,license,year:100:value_asc", limit=1, **params)
    facets = page["facets"]
    assert list(facets) == ["pole", "type", "license", "year"]
    for name, facet in facets.items():
        assert facet["type"] == "term" and isinstance(facet["more"], bool)
        assert all(bucket["count"] > 0 and bucket["value"] for bucket in facet["buckets"]), name
    assert facets["pole"]["property"] == "pole" and facets["year"]["property"] == "time"
    matched = page["numberMatched"]
    assert sum(b["count"] for b in facets["pole"]["buckets"]) == matched
    types = facets["type"]["buckets"]
    assert len(types) <= 2 and (sum(b["count"] for b in types) == matched) != facets["type"]["more"]
    years = [b["value"] for b in facets["year"]["buckets"]]
    assert years == sorted(years)
    everything = catalogue.items(
        collection, limit=1000, **{k: v for k, v in params.items() if k != "resulttype"}
    )
    assert everything["numberMatched"] == matched
    poles: dict[str, int] = {}
    for feature in everything["features"]:
        poles[feature["properties"]["pole"]] = poles.get(feature["properties"]["pole"], 0) + 1
    assert {b["value"]: b["count"] for b in facets["pole"]["buckets"]} == poles


def test_facets_in_html_and_jsonld_pages(catalogue: Catalogue) -> None:
    html = requests.get(
        f"{catalogue.url}/collections/catalogue/items", params={"f": "html", "facets": "pole"}, timeout=30
    )
    assert html.status_code == 200 and "<html" in html.text.lower()
    jsonld = requests.get(
        f"{catalogue.url}/collections/catalogue/items", params={"f": "jsonld", "facets": "pole"}, timeout=30
    ).json()
    assert sum(b["count"] for b in jsonld["facets"]["pole"]["buckets"]) == len(catalogue.records)
    response = requests.get(f"{catalogue.url}/collections/odatis/facets", timeout=30)
    assert response.headers["Content-Type"] == "application/facets+json"
    described = response.json()
    assert described["id"] == "odatis" and list(described["facets"]) == list(FACETS)
    assert described["facets"]["theme"] == {
        "type": "term",
        "property": "themes.concepts.id",
        "sortedBy": "count",
        "description": described["facets"]["theme"]["description"],
    }
    assert requests.get(f"{catalogue.url}/collections/nope/facets", timeout=30).status_code == 404


# --- one record ------------------------------------------------------------------------------------


def test_item_is_an_ogc_record(catalogue: Catalogue) -> None:
    anchor = catalogue.by_native(ANCHOR_NATIVE_ID)
    item = catalogue.client.collection_item("catalogue", anchor.id)
    assert item["id"] == anchor.id == "demo.ie.marine.data-dataset.1135-2c5c4594ca"
    assert item["type"] == "Feature"
    assert item["conformsTo"] == ["http://www.opengis.net/spec/ogcapi-records-1/1.0/req/record-core"]
    assert item["geometry"]["type"] == "Polygon"
    assert item["geometry"]["coordinates"][0][0] == [-15.148822, 49.7991699]
    assert item["time"] == {"interval": ["2009-06-14T00:00:00Z", "2009-06-22T23:59:59Z"]}
    properties = item["properties"]
    assert properties["title"] == "CE0911 Climate Change Survey"
    assert properties["license"] == "CC-BY-4.0"
    assert properties["pole"] == "ODATIS"
    assert properties["themes"][0]["scheme"] == "http://vocab.nerc.ac.uk/collection/A05/current/"
    assert len(properties["themes"][0]["concepts"]) == 6
    rels = [link["rel"] for link in item["links"]]
    assert rels.count("collection") == 1
    assert {"self", "license", "root"} <= set(rels)


def test_items_carry_self_alternate_and_collection_links(catalogue: Catalogue) -> None:
    for collection in ("catalogue", "theia"):
        for feature in catalogue.items(collection, limit=1000)["features"]:
            href = f"{catalogue.url}/collections/{collection}/items/{feature['id']}"
            typed = {(link["rel"], link.get("type"), link["href"]) for link in feature["links"]}
            assert {
                ("self", "application/geo+json", href),
                ("alternate", "application/ld+json", f"{href}?f=jsonld"),
                ("alternate", "text/html", f"{href}?f=html"),
                ("collection", "application/json", f"{catalogue.url}/collections/{collection}"),
            } <= typed
            assert [rel for rel, _, _ in typed].count("collection") == 1


def test_records_link_the_resource_they_describe(catalogue: Catalogue) -> None:
    doi = next(r for r in catalogue.records.values() if r.doi == "10.16904/14")
    item = catalogue.client.collection_item("catalogue", doi.id)
    assert [link["href"] for link in item["links"] if link["rel"] == "describes"] == [
        "https://doi.org/10.16904/14"
    ]
    deims = next(
        r for r in catalogue.records.values() if r.native_id == "1d609f60-6f05-11e4-a976-005056ab003f"
    )
    item = catalogue.client.collection_item("catalogue", deims.id)
    described = [link["href"] for link in item["links"] if link["rel"] == "describes"]
    assert described == ["https://deims.org/dataset/1d609f60-6f05-11e4-a976-005056ab003f"]


def test_unknown_item_is_404(catalogue: Catalogue) -> None:
    response = requests.get(f"{catalogue.url}/collections/catalogue/items/demo.no-such-record", timeout=30)
    assert response.status_code == 404
    assert response.json()["code"] == "NotFound"
    with pytest.raises(RuntimeError):
        catalogue.client.collection_item("catalogue", "demo.no-such-record")
    for path in ("/collections/nope", "/collections/nope/items", "/collections/nope/items/x"):
        unknown = requests.get(f"{catalogue.url}{path}", timeout=30)
        assert unknown.status_code == 404 and unknown.json()["code"] == "NotFound", path


@pytest.mark.parametrize(
    "params",
    [
        {"bbox": "1,2,3"},
        {"bbox": "a,b,c,d"},
        {"bbox": "0,10,5,0"},
        {"bbox": "200,0,210,10"},
        {"bbox": "nan,0,1,1"},
        {"datetime": "yesterday"},
        {"datetime": "2020-13-01"},
        {"datetime": "../.."},
        {"datetime": "2021-01-01/2020-01-01"},
        {"datetime": "9999-12-31T23:59:59-01:00"},
        {"datetime": "0001-01-01T00:00:00+01:00"},
        {"limit": "abc"},
        {"limit": "0"},
        {"offset": "-1"},
        {"offset": "x"},
        {"sortby": "nope"},
        {"sortby": "description"},
        {"sortby": ""},
        {"sortby": ",title"},
        {"f": "csv"},
        {"title": "a title"},
        {"filter": "title = "},
        {"filter": "title = 'x'", "filter-lang": "cql2-json"},
        {"filter": "title = 'x'", "filter-lang": "ecql"},
        {"filter": "S_INTERSECTS(geometry, POINT(1 2))", "filter-crs": "EPSG:2154"},
        {"filter": "nope = 'x'"},
        {"facets": "colour"},
        {"facets": "pole:0"},
        {"resulttype": "everything"},
    ],
)
def test_malformed_parameters_are_400_with_a_reason(catalogue: Catalogue, params: dict[str, str]) -> None:
    response = requests.get(f"{catalogue.url}/collections/catalogue/items", params=params, timeout=30)
    assert response.status_code == 400, response.text
    assert response.json()["description"]


def test_a_posted_cql2_json_filter_searches(catalogue: Catalogue) -> None:
    """Features Part 3 lets a client post a CQL2 JSON filter (OWSLib's ``cql=``); a POST without a
    Content-Type, which pygeoapi answers with a 500, is a search too."""
    url = f"{catalogue.url}/collections/catalogue/items"
    services = {r.id for r in catalogue.records.values() if r.resource_type == "service"}
    body = {"op": "=", "args": [{"property": "type"}, "service"]}
    posted = requests.post(url, json=body, params={"limit": 100}, timeout=30)
    assert {f["id"] for f in posted.json()["features"]} == services
    untyped = requests.post(url, data=b"", timeout=30)
    assert untyped.status_code == 200 and untyped.json()["numberMatched"] == len(catalogue.records)
    garbage = requests.post(url, data=b"\xff", headers={"Content-Type": "text/plain"}, timeout=30)
    assert garbage.status_code == 400 and garbage.json()["description"]


# --- representations -------------------------------------------------------------------------------


def test_records_are_served_as_geojson(catalogue: Catalogue) -> None:
    items = requests.get(f"{catalogue.url}/collections/catalogue/items", timeout=30)
    assert items.headers["Content-Type"] == "application/geo+json"
    record_id = items.json()["features"][0]["id"]
    item = requests.get(f"{catalogue.url}/collections/catalogue/items/{record_id}", timeout=30)
    assert item.headers["Content-Type"] == "application/geo+json"
    described = requests.get(f"{catalogue.url}/collections/catalogue", timeout=30)
    assert described.headers["Content-Type"] == "application/ogc-catalog+json"
    asked = requests.get(
        f"{catalogue.url}/collections/catalogue", headers={"Accept": "application/json"}, timeout=30
    )
    assert asked.headers["Content-Type"] == "application/json"


def _html(url: str, **params: str) -> str:
    response = requests.get(url, params={"f": "html", **params}, timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    return response.text


def test_html_pages_show_the_records(catalogue: Catalogue) -> None:
    assert "Data Terra catalogue" in _html(catalogue.url)
    assert "Catalogue Data Terra" in _html(catalogue.url, lang="fr")
    items_page = _html(f"{catalogue.url}/collections/catalogue/items", limit="100")
    for record in catalogue.records.values():
        assert f'title="{escape(record.title.text)}"' in items_page
    for record in catalogue.records.values():  # every record renders, whatever it lacks
        item_page = _html(f"{catalogue.url}/collections/catalogue/items/{record.id}")
        assert f"<h1>{escape(record.title.text)}</h1>" in item_page
    castles = next(r for r in catalogue.records.values() if r.native_id.startswith("f74f5451"))
    assert "<h1>Châteaux rhénans</h1>" in _html(f"{catalogue.url}/collections/catalogue/items/{castles.id}")
    assert "record-core" in _html(f"{catalogue.url}/conformance")
    assert "Data Terra federated catalogue" in _html(f"{catalogue.url}/collections/catalogue")


# --- the app factory and the server ----------------------------------------------------------------


def _tiny_store(folder: Path, records: dict[str, Record], native_id: str) -> dict[str, Any]:
    return demo_catalogue(folder, {r.id: r for r in records.values() if r.native_id == native_id})


def test_two_apps_in_one_process_serve_their_own_store(
    catalogue: Catalogue, tmp_path_factory: pytest.TempPathFactory
) -> None:
    first = _tiny_store(tmp_path_factory.mktemp("one"), catalogue.records, ANCHOR_NATIVE_ID)
    second = _tiny_store(tmp_path_factory.mktemp("two"), catalogue.records, S2_SCENE_NATIVE_ID)
    apps = [Client(create_app(first, "http://one.test")), Client(create_app(second, "http://two.test"))]
    pages = [app.get("/collections/catalogue/items").get_json() for app in apps]
    assert [page["features"][0]["properties"]["title"] for page in pages] == [
        "CE0911 Climate Change Survey",
        catalogue.by_native(S2_SCENE_NATIVE_ID).title.text,
    ]
    assert pages[1]["links"][0]["href"].startswith("http://two.test/collections/catalogue/items")


def test_other_apps_mount_beside_pygeoapi(catalogue: Catalogue, tmp_path: Path) -> None:
    def admin(environ: dict, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"admin {environ['PATH_INFO']}".encode()]

    settings = _tiny_store(tmp_path, catalogue.records, ANCHOR_NATIVE_ID)
    client = Client(create_app(settings, "http://host.test", poles=(), mounts={"/admin": admin}))
    assert client.get("/admin/sources").get_data() == b"admin /sources"
    assert client.get("/collections").get_json()["collections"][0]["id"] == "catalogue"
    assert len(client.get("/collections").get_json()["collections"]) == 1


def test_serve_runs_waitress_and_prints_its_url(catalogue: Catalogue, tmp_path: Path) -> None:
    settings = _tiny_store(tmp_path, catalogue.records, ANCHOR_NATIVE_ID)
    script = (
        "import sys; from api.server import serve;"
        f"serve({settings!r}, host='127.0.0.1', port=int(sys.argv[1]))"
    )
    for port in _candidate_ports():
        process = subprocess.Popen(
            [sys.executable, "-c", script, str(port)],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            line = process.stdout.readline() if process.stdout else ""
            if f"http://127.0.0.1:{port}" not in line:
                continue
            items = requests.get(f"http://127.0.0.1:{port}/collections/catalogue/items", timeout=30).json()
            assert items["features"][0]["properties"]["title"] == "CE0911 Climate Change Survey"
            return
        finally:
            process.terminate()
            process.wait(timeout=10)
    pytest.fail("serve() did not start on any candidate port")


def _candidate_ports() -> list[int]:
    """Ports the OS just handed out (and so free a moment ago); a few, in case one is taken again."""
    ports = []
    for _ in range(3):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
    return ports


# --- parameter mapping -----------------------------------------------------------------------------


def _query(**overrides: Any) -> Any:
    arguments: dict[str, Any] = {
        "offset": 0,
        "limit": 10,
        "bbox": [],
        "datetime_": None,
        "properties": [],
        "sortby": [],
        "q": None,
        "fixed": {},
    }
    return build_query(**{**arguments, **overrides})


def test_build_query_maps_pygeoapi_arguments() -> None:
    query = _query(
        bbox=[170.0, -10.0, -170.0, 10.0],
        datetime_="2020-01-01/..",
        properties=[("type", "dataset,series"), ("pole", "ODATIS"), ("ids", "a,b"), ("profile", "x")],
        sortby=[{"property": "updated", "order": "-"}],
        q="sea surface,chlorophyll",
        fixed={"source": ["demo"]},
    )
    assert query.bbox == (170.0, -10.0, -170.0, 10.0)
    assert query.time == ("2020-01-01T00:00:00Z", None)
    assert query.types == ["dataset", "series"]
    assert query.ids == ["a", "b"]
    assert query.properties == {"pole": ["ODATIS"], "source": ["demo"]}
    assert [(s.field, s.ascending) for s in query.sortby] == [("updated", False)]
    assert query.q == [["sea", "surface"], ["chlorophyll"]]
    assert query.external_ids == [] and query.facets == [] and query.filter is None


def test_build_query_maps_external_ids_facets_and_filter() -> None:
    parsed = parse_filter("type = 'dataset'")
    query = _query(
        properties=[("externalIds", "https://doi.org:10.1/x,urn:x:"), ("facets", "pole,theme:20:value_asc")],
        filter_=parsed,
    )
    assert ExternalId("https://doi.org", "10.1/x") in query.external_ids
    assert ExternalId("urn:x", None) in query.external_ids
    assert [(f.name, f.size, f.order) for f in query.facets] == [
        ("pole", 10, "count_desc"),
        ("theme", 20, "value_asc"),
    ]
    assert query.filter is parsed


def test_build_query_intersects_with_the_fixed_filter() -> None:
    assert _query(properties=[("pole", "THEIA")], fixed={"pole": ["ODATIS"]}) == []
    facets_only = _query(properties=[("pole", "THEIA"), ("facets", "type,year")], fixed={"pole": ["ODATIS"]})
    assert [f.name for f in facets_only] == ["type", "year"]  # nothing can match: empty facets
    both = _query(properties=[("pole", "ODATIS,THEIA")], fixed={"pole": ["ODATIS"]})
    assert both.properties == {"pole": ["ODATIS"]}
    with pytest.raises(QueryError, match="keywords cannot be used as a filter"):
        _query(properties=[("keywords", "ocean")])


def test_generated_config_is_valid_for_pygeoapi() -> None:
    from pygeoapi.config import validate_config

    from api.server import pygeoapi_config

    config = pygeoapi_config({"backend": "sqlite", "path": "var/catalogue.db"}, "https://catalogue.test/")
    assert validate_config(config)
    assert config["server"]["url"] == "https://catalogue.test"
    assert config["resources"]["formater"]["providers"][0]["filter"] == {"pole": "ForM@Ter"}
