"""``Record`` -> OGC API Records GeoJSON: hand-made records for each rule, then the whole real corpus
(through the real crosswalk) for the invariants of the record-core schema."""

from __future__ import annotations

import json
import re

import pytest

from catalogue import quality
from catalogue.geojson import geometry, link_rel, spdx_id, time_object, to_geojson
from catalogue.record import (
    BBox,
    Concept,
    Constraints,
    Contact,
    Format,
    Identifier,
    Keyword,
    Link,
    LocalisedText,
    Provenance,
    Record,
    TemporalExtent,
)
from tests.fixtures.api_server import demo_records


def _record(**fields: object) -> Record:
    base: dict[str, object] = {
        "id": "odatis-sextant.chl",
        "native_id": "chl",
        "source_id": "odatis-sextant",
        "title": LocalisedText(text="Chlorophylle", lang="fr"),
    }
    return Record(**{**base, **fields})  # type: ignore[arg-type]


# --- geometry --------------------------------------------------------------------------------------


def test_one_box_is_a_counter_clockwise_polygon() -> None:
    assert geometry([BBox(-5.0, 43.0, 10.0, 51.5)]) == {
        "type": "Polygon",
        "coordinates": [[[-5.0, 43.0], [10.0, 43.0], [10.0, 51.5], [-5.0, 51.5], [-5.0, 43.0]]],
    }


def test_several_boxes_and_the_antimeridian_make_a_multipolygon() -> None:
    shape = geometry([BBox(170.0, -20.0, -170.0, -10.0), BBox(0.0, 0.0, 1.0, 1.0)])
    assert shape is not None and shape["type"] == "MultiPolygon"
    assert [polygon[0][:3] for polygon in shape["coordinates"]] == [
        [[170.0, -20.0], [180.0, -20.0], [180.0, -10.0]],
        [[-180.0, -20.0], [-170.0, -20.0], [-170.0, -10.0]],
        [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]],
    ]


def test_a_point_box_is_a_point_and_no_box_is_null() -> None:
    assert geometry([BBox(-4.5, 48.4, -4.5, 48.4)]) == {"type": "Point", "coordinates": [-4.5, 48.4]}
    assert geometry([]) is None
    assert to_geojson(_record())["geometry"] is None


# --- time ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extents", "expected"),
    [
        ([TemporalExtent(start="2010-03-01", end="2012-10-31")], {"interval": ["2010-03-01", "2012-10-31"]}),
        ([TemporalExtent(start="2010", end="2012-02")], {"interval": ["2010-01-01", "2012-02-29"]}),
        (
            [TemporalExtent(start="2010-03-01", end="2012-10-31T12:00:00+02:00")],
            {"interval": ["2010-03-01T00:00:00Z", "2012-10-31T10:00:00Z"]},
        ),
        ([TemporalExtent(start="2010-03-01")], {"interval": ["2010-03-01", ".."]}),
        (
            [TemporalExtent(start="2010-03-01", end="2020-01-01", indeterminate_end="now")],
            {"interval": ["2010-03-01", ".."]},
        ),
        ([TemporalExtent(start_raw="spring 2010", end="2011-01-01")], {"interval": ["..", "2011-01-01"]}),
        ([TemporalExtent(start="2017-07-23", end="2017-07-23")], {"date": "2017-07-23"}),
        (
            [TemporalExtent(start="2011-08-26T23:37:00Z", end="2011-08-26T23:37:00Z")],
            {"timestamp": "2011-08-26T23:37:00Z"},
        ),
        (
            [TemporalExtent(start="2015", end="2016"), TemporalExtent(start="2001-05-01", end="2003-01-01")],
            {"interval": ["2001-05-01", "2016-12-31"]},
        ),
        ([TemporalExtent(start_raw="unknown")], None),
        ([], None),
    ],
)
def test_time_object(extents: list[TemporalExtent], expected: dict | None) -> None:
    assert time_object(extents) == expected


# --- licence and rights ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "identifier"),
    [
        ("CC BY 4.0", "CC-BY-4.0"),
        ("CC-BY-NC-SA 3.0", "CC-BY-NC-SA-3.0"),
        ("https://creativecommons.org/licenses/by-sa/4.0/", "CC-BY-SA-4.0"),
        ("Creative Commons Attribution-NonCommercial 4.0 International License", "CC-BY-NC-4.0"),
        ("https://creativecommons.org/publicdomain/zero/1.0/", "CC0-1.0"),
        ("Licence Ouverte (version 2.0 d'avril 2017)", "etalab-2.0"),
        ("Licence Ouverte v2.0 (Etalab)", "etalab-2.0"),
        ("Open Database License (ODbL)", "ODbL-1.0"),
        ("Creative Commons", None),
        ("Licence Ouverte", None),
        ("Pas de restriction d'accès public", None),
    ],
)
def test_spdx_id(text: str, identifier: str | None) -> None:
    assert spdx_id(text) == identifier


def test_recognised_licence_gets_its_spdx_id_and_link() -> None:
    feature = to_geojson(_record(constraints=Constraints(licence="CC-BY 4.0", access=["otherRestrictions"])))
    assert feature["properties"]["license"] == "CC-BY-4.0"
    assert feature["properties"]["rights"] == "otherRestrictions"
    license_links = [link for link in feature["links"] if link["rel"] == "license"]
    assert license_links == [
        {"rel": "license", "href": "https://spdx.org/licenses/CC-BY-4.0.html", "title": "CC-BY 4.0"}
    ]


def test_unrecognised_licence_is_other_with_its_link_or_a_right() -> None:
    with_url = Constraints(licence="Conditions Sextant", licence_url="https://sextant.ifremer.fr/cgu")
    feature = to_geojson(_record(constraints=with_url))
    assert feature["properties"]["license"] == "other"
    assert {"rel": "license", "href": "https://sextant.ifremer.fr/cgu", "title": "Conditions Sextant"} in (
        feature["links"]
    )
    text_only = to_geojson(_record(constraints=Constraints(licence="Usage libre", use_limitations=["Citer"])))
    assert "license" not in text_only["properties"]
    assert text_only["properties"]["rights"] == "Usage libre\nCiter"


# --- text, keywords, identifiers, contacts ---------------------------------------------------------


def test_translations_stay_reachable() -> None:
    record = _record(
        title=LocalisedText(text="Chlorophylle", lang="fr", translations={"en": "Chlorophyll"}),
        abstract=LocalisedText(text="Concentration", lang="fr", translations={"en": "Concentration (en)"}),
        keywords=[Keyword(label="océan", translations={"en": "ocean"})],
        language="fr",
    )
    properties = to_geojson(record)["properties"]
    assert (properties["title"], properties["description"]) == ("Chlorophylle", "Concentration")
    assert properties["language"] == {"code": "fr"}
    assert properties["languages"] == [{"code": "fr"}, {"code": "en"}]
    assert properties["resourceLanguages"] == [{"code": "fr"}]
    assert properties["translations"] == {
        "en": {"title": "Chlorophyll", "description": "Concentration (en)", "keywords": ["ocean"]}
    }


def test_keywords_and_themes() -> None:
    p02 = "http://vocab.nerc.ac.uk/collection/P02/current/"
    record = _record(
        keywords=[
            Keyword(
                label="Chlorophyll pigment concentrations", uri=f"{p02}CPWC/", thesaurus="SeaDataNet P02"
            ),
            Keyword(label="Bretagne", thesaurus="Régions"),
            Keyword(label="Bretagne", thesaurus="Régions"),
            Keyword(label="ocean colour"),
        ],
        concepts=[
            Concept(uri=f"{p02}CPWC/", scheme=p02, labels={"en": "Chlorophyll pigment concentrations"})
        ],
    )
    properties = to_geojson(record)["properties"]
    assert properties["keywords"] == ["Chlorophyll pigment concentrations", "Bretagne", "ocean colour"]
    assert properties["themes"] == [
        {
            "scheme": "SeaDataNet P02",
            "concepts": [
                {"id": f"{p02}CPWC/", "title": "Chlorophyll pigment concentrations", "url": f"{p02}CPWC/"}
            ],
        },
        {"scheme": "Régions", "concepts": [{"id": "Bretagne", "title": "Bretagne"}]},
        {
            "scheme": p02,
            "concepts": [
                {"id": f"{p02}CPWC/", "url": f"{p02}CPWC/", "title": "Chlorophyll pigment concentrations"}
            ],
        },
    ]


def test_identifiers_become_external_ids_and_a_doi_cites() -> None:
    record = _record(
        identifiers=[Identifier(code="10.12770/abcd", scheme="doi"), Identifier(code="FR-123", scheme="SDN")]
    )
    feature = to_geojson(record)
    assert feature["properties"]["externalIds"] == [
        {"scheme": "https://doi.org", "value": "10.12770/abcd"},
        {"scheme": "SDN", "value": "FR-123"},
    ]
    assert {"rel": "cite-as", "href": "https://doi.org/10.12770/abcd", "title": "DOI"} in feature["links"]


def test_contacts_follow_the_records_contact_schema() -> None:
    record = _record(
        contacts=[
            Contact(
                role="pointOfContact",
                name="Jane Doe",
                organisation="Ifremer",
                position="Data manager",
                emails=["sextant@ifremer.fr"],
                phones=["+33 (0)2 98 22 40 40", "02 98 22 40 40"],
                url="https://www.ifremer.fr",
                address="1625 route de Sainte-Anne, Plouzané",
                country="France",
            ),
            Contact(role="distributor", emails=["nobody@example.org"]),
        ]
    )
    assert to_geojson(record)["properties"]["contacts"] == [
        {
            "name": "Jane Doe",
            "organization": "Ifremer",
            "position": "Data manager",
            "emails": [{"value": "sextant@ifremer.fr"}],
            "phones": [{"value": "+33298224040"}, {"value": "02 98 22 40 40"}],
            "addresses": [{"deliveryPoint": ["1625 route de Sainte-Anne, Plouzané"], "country": "France"}],
            "links": [{"href": "https://www.ifremer.fr", "rel": "about", "type": "text/html"}],
            "roles": ["pointOfContact"],
        }
    ]


def test_formats_and_extras() -> None:
    record = _record(
        formats=[Format(name="NetCDF", version="4"), Format(name="application/x-netcdf")],
        pole="ODATIS",
        platforms=["Argo float"],
        instruments=["CTD"],
        topic_categories=["oceans"],
        created="2010",
        metadata_date="2024-05-01T10:00:00Z",
    )
    properties = to_geojson(record)["properties"]
    assert properties["formats"] == [
        {"name": "NetCDF", "version": "4"},
        {"name": "application/x-netcdf", "mediaType": "application/x-netcdf"},
    ]
    assert (properties["pole"], properties["source"], properties["nativeId"]) == (
        "ODATIS",
        "odatis-sextant",
        "chl",
    )
    assert (properties["platforms"], properties["instruments"], properties["topicCategories"]) == (
        ["Argo float"],
        ["CTD"],
        ["oceans"],
    )
    assert (properties["created"], properties["updated"]) == ("2010", "2024-05-01T10:00:00Z")


# --- links -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("link", "rel"),
    [
        (Link(url="https://x/f.nc", function="download"), "enclosure"),
        (Link(url="https://x/f.nc", protocol="WWW:DOWNLOAD-1.0-http--download"), "enclosure"),
        (Link(url="https://x/wms", protocol="OGC:WMS", function="download"), "service"),
        (Link(url="https://x/thredds/dodsC/f.nc", protocol="OPeNDAP:OPeNDAP"), "service"),
        (Link(url="https://x/about", function="information"), "describedby"),
        (Link(url="https://x/search", function="search"), "search"),
        (Link(url="https://x/q.png", function="browseGraphic"), "preview"),
        (Link(url="https://x/page", protocol="WWW:LINK-1.0-http--link"), "related"),
    ],
)
def test_link_relations(link: Link, rel: str) -> None:
    assert link_rel(link) == rel


def test_record_links_keep_protocol_and_are_distinct() -> None:
    record = _record(
        links=[
            Link(url="https://x/wms", protocol="OGC:WMS", name="CHL", description="Chlorophyll layer"),
            Link(url="https://x/q.png", function="browseGraphic"),
        ],
        thumbnails=["https://x/q.png"],
        provenance=Provenance(source_id="odatis-sextant", source_url="https://sextant.ifremer.fr/csw"),
    )
    assert to_geojson(record)["links"] == [
        {
            "rel": "service",
            "href": "https://x/wms",
            "title": "CHL",
            "description": "Chlorophyll layer",
            "protocol": "OGC:WMS",
        },
        {"rel": "preview", "href": "https://x/q.png", "type": "image/png", "function": "browseGraphic"},
        {"rel": "via", "href": "https://sextant.ifremer.fr/csw", "title": "Harvest source"},
        {
            "rel": "profile",
            "href": "http://www.opengis.net/def/profile/OGC/0/ogc-record",
            "title": "OGC API Records record",
        },
    ]


# --- the real corpus -------------------------------------------------------------------------------

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@pytest.fixture(scope="module")
def corpus() -> dict[str, Record]:
    return demo_records()


def _time_is_consistent(time: dict | None) -> bool:
    """record-core: date / timestamp patterns, and both interval ends of the same kind."""
    if time is None:
        return True
    if "date" in time:
        return bool(_DATE.match(time["date"]))
    if "timestamp" in time:
        return bool(_TIMESTAMP.match(time["timestamp"]))
    kinds = {"date" if _DATE.match(v) else "timestamp" for v in time["interval"] if v != ".."}
    return len(kinds) <= 1 and all(
        v == ".." or _DATE.match(v) or _TIMESTAMP.match(v) for v in time["interval"]
    )


def test_every_corpus_record_meets_record_core(corpus: dict[str, Record]) -> None:
    for record in corpus.values():
        feature = json.loads(json.dumps(to_geojson(record)))  # plain JSON all the way down
        assert feature["id"] == record.id and feature["type"] == "Feature"
        assert "geometry" in feature and isinstance(feature["properties"], dict)
        assert _time_is_consistent(feature["time"]), (record.id, feature["time"])
        assert all({"rel", "href"} <= set(link) for link in feature["links"]), record.id
        assert all("name" in c or "organization" in c for c in feature["properties"].get("contacts", []))
        assert all(
            theme["concepts"] and all("id" in c for c in theme["concepts"])
            for theme in feature["properties"].get("themes", [])
        )
        license_id = feature["properties"].get("license")
        if license_id == "other":
            assert any(link["rel"] == "license" for link in feature["links"]), record.id
        assert feature["properties"]["title"] == record.title.text


def test_corpus_anchor_record(corpus: dict[str, Record]) -> None:
    record = next(r for r in corpus.values() if r.native_id == "ie.marine.data:dataset.1135")
    feature = to_geojson(record)
    assert feature["time"] == {"interval": ["2009-06-14T00:00:00Z", "2009-06-22T23:59:59Z"]}
    assert feature["geometry"]["coordinates"][0][2] == [-8.254568548, 54.6287598]
    theme = feature["properties"]["themes"][0]
    assert theme["scheme"] == "http://vocab.nerc.ac.uk/collection/A05/current/"
    assert theme["concepts"][0] == {
        "id": "http://vocab.nerc.ac.uk/collection/A05/current/EV_AIRPRESS/",
        "title": "Atmospheric pressure",
        "url": "http://vocab.nerc.ac.uk/collection/A05/current/EV_AIRPRESS/",
    }
    assert feature["properties"]["license"] == "CC-BY-4.0"


def test_corpus_multilingual_shom_record(corpus: dict[str, Record]) -> None:
    record = next(r for r in corpus.values() if r.native_id == "OCEANO_MODELE_HYDRODYN.xml")
    properties = to_geojson(record)["properties"]
    assert properties["title"] == "Modèle hydrodynamique 3D d'évolution de l'océan"
    assert properties["language"] == {"code": "fr"}
    assert properties["translations"]["en"]["title"] == "3D hydrodynamic model for the evolution of the ocean"
    assert properties["license"] == "etalab-2.0"
    assert properties["type"] == "series"


def test_only_followable_addresses_become_links() -> None:
    """Harvested metadata is not trusted: a javascript: or data: linkage must never reach an href (the HTML
    record page renders every link), and relative paths cannot be followed."""
    hostile = _record(
        links=[
            Link(url="javascript:alert(1)", function="download"),
            Link(url="data/Sentinel-2/MSI/L2A/2020/09/02/scene.SAFE", function="download"),
            Link(url="https://data.example.org/scene.zip", function="download"),
            Link(url="ftp://ftp.ifremer.fr/ifremer/argo/", function="download"),
        ],
        thumbnails=["data:image/png;base64,AAAA", "CCW_Countryparks_s.png"],
        contacts=[Contact(organisation="Ifremer", url="javascript:steal()")],
        keywords=[Keyword(label="Sea", thesaurus="GEMET", uri="vbscript:run")],
    )
    feature = to_geojson(hostile)
    hrefs = re.findall(r'"(?:href|url)": "([^"]*)"', json.dumps(feature))
    assert hrefs and all(h.startswith(("http://", "https://", "ftp://")) for h in hrefs), hrefs
    assert "https://data.example.org/scene.zip" in hrefs and "ftp://ftp.ifremer.fr/ifremer/argo/" in hrefs


def test_quality_in_brief(corpus: dict[str, Record]) -> None:
    record = next(r for r in corpus.values() if r.native_id == "ie.marine.data:dataset.1135")
    assert "quality" not in to_geojson(record)["properties"]  # never assessed: nothing claimed
    (assessed,) = quality.assess([record])
    assert assessed.quality is not None and assessed.quality.fair and assessed.quality.validation
    brief = to_geojson(assessed)["properties"]["quality"]
    rated, report = assessed.quality.fair, assessed.quality.validation
    assert brief["fair"]["score"] == rated.score and brief["fair"]["level"] == rated.level
    assert brief["fair"]["failed"] == [c.id for c in rated.checks if not c.passed]
    assert brief["validation"]["conforms"] is report.conforms
    assert brief["validation"]["violations"] == sum(r.severity == "violation" for r in report.results)
    assert brief["validation"]["warnings"] == sum(r.severity == "warning" for r in report.results)
