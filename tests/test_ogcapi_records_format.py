"""The OGC API - Records crosswalk against real records, and the round trip through our own GeoJSON.

Real inputs: the OGC example record and a WMO WCMP2 record (project corpus), three records of the Dutch
national georegister as pygeoapi publishes them (``tests/data/ogcapi-records/README.md``), and the ISO
19139 demo records rendered by ``catalogue.geojson.to_geojson``: ISO record -> our GeoJSON -> this
crosswalk must give back the title, abstract, identifiers, keywords, boxes, time extent, contacts,
links and licence. Expected values were read in the files by hand; the only hand-made inputs are the
not-JSON bytes and real records with one member removed or changed.
"""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from catalogue.geojson import to_geojson
from catalogue.record import (
    BBox,
    Constraints,
    Contact,
    Format,
    Identifier,
    Keyword,
    Link,
    LocalisedText,
    Record,
    TemporalExtent,
)
from catalogue.urls import is_link
from harvester.formats import Rejected
from harvester.formats.iso19139 import ISO19139
from harvester.formats.ogcapi_records import OGCAPIRecord
from harvester.raw import RawRecord
from tests import crosswalk_checks as checks

DATA = Path(__file__).resolve().parent / "data" / "ogcapi-records"
OGC_EXAMPLE = "ogcapi-records__examples_json_record.json"
WCMP2 = "pywcmp__wcmp2-passing.json"
PYGEOAPI_NL = "pygeoapi__dutch-nationaalgeoregister_sample-records.tinydb.json"
ISO_DEMO = Path(__file__).resolve().parent.parent / "config" / "demo" / "records" / "iso19139"
REJECTION_CODES = {"not-json", "not-a-record", "no-identifier", "no-title"}
CROSSWALK = OGCAPIRecord()


def convert_bytes(content: bytes, *, native_id: str | None = None) -> Record:
    raw = RawRecord(source_id="demo", format="ogcapi-records", content=content, native_id=native_id)
    return CROSSWALK.to_record(raw, pole="aeris")


def document(name: str) -> dict:
    return json.loads((DATA / name).read_bytes())


def convert(name: str) -> Record:
    return convert_bytes((DATA / name).read_bytes())


def pygeoapi_record(number: str) -> Record:
    """One record of the pygeoapi TinyDB file, handed over alone."""
    return convert_bytes(msgspec.json.encode(document(PYGEOAPI_NL)["_default"][number]))


def rejection(content: bytes) -> Rejected:
    return checks.rejected_bytes(CROSSWALK, content)


def corpus_records() -> list[tuple[str, bytes]]:
    found = [(name, (DATA / name).read_bytes()) for name in (OGC_EXAMPLE, WCMP2)]
    for number, record in document(PYGEOAPI_NL)["_default"].items():
        found.append((f"{PYGEOAPI_NL}#{number}", msgspec.json.encode(record)))
    return found


def iso_records() -> list[tuple[str, Record]]:
    """The ISO 19139 demo records as the ISO crosswalk reads them (the one without identifier left out)."""
    found = []
    for path in sorted(ISO_DEMO.glob("*.xml")):
        try:
            found.append((path.name, ISO19139().to_record(RawRecord("demo", "iso19139", path.read_bytes()))))
        except Rejected:
            continue
    return found


def round_trip(record: Record) -> Record:
    """ISO record -> the GeoJSON our API serves -> this crosswalk."""
    return convert_bytes(msgspec.json.encode(to_geojson(record)))


def iso_record(name: str) -> Record:
    return dict(iso_records())[name]


# --- the whole corpus ---------------------------------------------------------------------------------
def test_the_corpus_is_there():
    assert sorted(path.name for path in DATA.glob("*.json")) == [OGC_EXAMPLE, PYGEOAPI_NL, WCMP2]
    assert len(corpus_records()) == 5
    assert len(iso_records()) == 40


@pytest.mark.parametrize(("name", "content"), corpus_records(), ids=[name for name, _ in corpus_records()])
def test_every_corpus_record_gives_a_record_or_a_known_rejection(name: str, content: bytes):
    checks.check_corpus_input(CROSSWALK, content, pole="aeris", codes=REJECTION_CODES)


def test_the_registry_gives_this_crosswalk():
    checks.assert_registered(OGCAPIRecord, "ogcapi-records")


# --- rejections ---------------------------------------------------------------------------------------
def test_bytes_that_are_not_json_are_rejected():
    exc = rejection(b"<csw:Record/>")
    assert exc.code == "not-json"
    assert "malformed" in exc.message


def test_a_page_of_records_is_not_a_record():
    page = {"type": "FeatureCollection", "features": [document(WCMP2), document(OGC_EXAMPLE)]}
    exc = rejection(json.dumps(page).encode())
    assert exc.code == "not-a-record"
    assert "2 records" in exc.message


def test_a_collection_document_is_not_a_record():
    exc = rejection(b'{"id": "metadata", "type": "Collection", "title": "Records", "links": []}')
    assert exc.code == "not-a-record"
    assert "'Collection'" in exc.message


def test_a_record_without_title_is_rejected():
    doc = document(WCMP2)
    del doc["properties"]["title"]
    exc = rejection(json.dumps(doc).encode())
    assert exc.code == "no-title"
    assert "urn:wmo:md:ca-eccc-msc:weather.observations.swob-realtime" in exc.message


def test_a_record_without_id_falls_back_to_the_protocol_id_else_is_rejected():
    doc = document(WCMP2)
    del doc["id"]
    assert rejection(json.dumps(doc).encode()).code == "no-identifier"
    assert convert_bytes(json.dumps(doc).encode(), native_id="swob-realtime").native_id == "swob-realtime"


# --- real records -------------------------------------------------------------------------------------
def test_the_ogc_example_record():
    record = convert(OGC_EXAMPLE)
    native = "urn:x-wmo:md:int.wmo.wis::https://geo.woudc.org/def/data/ozone/total-column-ozone/totalozone"
    assert record.native_id == native
    assert record.resource_type == "dataset"
    assert record.title == LocalisedText(text="Total Ozone - daily observations", lang="en")  # "en-CA"
    assert record.abstract is not None
    assert record.abstract.text.startswith("A measurement of the total amount of atmospheric ozone")
    assert record.metadata_language == "en"
    assert record.language is None
    assert record.identifiers == [Identifier(code=native, scheme="WMO:WIS")]
    # the plain keywords first ("dobson", "brewer", "saoz" are also theme concepts), then the other concepts
    labels = [k.label for k in record.keywords]
    assert labels[:7] == ["total", "ozone", "level 1.0", "column", "dobson", "brewer", "saoz"]
    assert len(labels) == 4 + 9 + 4  # plain keywords not in a theme, instrument codes, WMO categories
    assert record.keywords[4] == Keyword(
        label="dobson",
        uri="https://geo.woudc.org/codelists.xml#WOUDC_InstrumentCode_dobson",
        lang="en",
        thesaurus="https://geo.woudc.org/codelists.xml#WOUDC_InstrumentCode",
        thesaurus_uri="https://geo.woudc.org/codelists.xml#WOUDC_InstrumentCode",
    )
    assert record.keywords[0] == Keyword(label="total", lang="en")
    assert record.bboxes == [BBox(-180.0, -90.0, 180.0, 90.0)]
    assert record.temporal == [TemporalExtent(start="1924-08-17T00:00:00Z")]  # [..., ".."]
    assert record.created == "2021-02-08T00:00:00Z"
    assert record.metadata_date == "2021-02-08T00:00:00Z"
    assert record.contacts == [
        Contact(
            role="publisher",
            name="World Ozone and Ultraviolet Radiation Data Centre",
            url="https://woudc.org",
        )
    ]
    # license "other" and an untitled licence link
    assert record.constraints == Constraints(licence_url="https://woudc.org/about/data-policy.php")
    assert record.thumbnails == ["https://woudc.org/data/preview.png"]
    assert record.links == [
        Link(url="https://woudc.org/data/dataset_info.php", function="information"),
        Link(
            url="https://geo.woudc.org/ows?service=WMS&request=GetCapabilities",
            name="OGC Web Map Service (WMS)",
        ),
        Link(
            url="https://geo.woudc.org/ows?service=WFS&request=GetCapabilities",
            name="OGC Web Feature Service (WFS)",
        ),
        Link(
            url="https://woudc.org/archive/Archive-NewFormat/TotalOzone_1.0_1",
            function="download",
            name="Web Accessible Folder (WAF)",
            media_type="text/html",
        ),
        Link(
            url="https://woudc.org/archive/Summaries/dataset-snapshots/totalozone.zip",
            function="download",
            name="Static dataset archive file",
            media_type="application/zip",
        ),
        Link(
            url="https://woudc.org/data/explore.php?dataset=totalozone",
            function="search",
            name="Data Search / Download User Interface",
            media_type="text/html",
        ),
    ]
    assert [f.name for f in record.formats][:3] == ["TEXT", "CSV", "GML2"]
    assert len(record.formats) == 14
    assert record.warnings == []


def test_a_wmo_wcmp2_record():
    record = convert(WCMP2)
    assert record.native_id == "urn:wmo:md:ca-eccc-msc:weather.observations.swob-realtime"
    assert record.title == LocalisedText(text="Surface weather observations")  # no language given
    assert record.abstract is not None and record.abstract.text.startswith("Surface Observations measured")
    assert record.identifiers == []
    canada = (
        "https://library-archives.canada.ca/eng/services/government-canada/controlled-vocabularies-government"
        "-canada/pages/controlled-vocabularies-government-canada.aspx"
    )
    assert record.keywords[0] == Keyword(label="Weather", thesaurus=canada, thesaurus_uri=canada)
    wis2 = "https://codes.wmo.int/wis/topic-hierarchy/earth-system-discipline"
    assert record.keywords[-1] == Keyword(label="weather", thesaurus=wis2, thesaurus_uri=wis2)
    assert len(record.keywords) == 9
    assert all(keyword.uri is None for keyword in record.keywords)  # plain-word concept ids are no URIs
    assert record.bboxes == [BBox(-142.0, 28.0, -52.0, 82.0)]
    assert record.temporal == [TemporalExtent(start="2010-11-11T11:11:11Z")]
    assert record.created == "2018-01-01T11:11:11Z"
    assert record.metadata_date == "2022-06-22T12:42:46Z"
    eccc = Contact(
        organisation="Government of Canada; Environment and Climate Change Canada;"
        " Meteorological Service of Canada",
        position="National Inquiry Response Team",
        emails=["enviroinfo@ec.gc.ca"],
        phones=["+18199972800"],
        url="https://eccc-msc.github.io/open-data",
        address="77 Westmorland Street, suite 260, E3B 6Z4 Fredericton, NB",
        country="Canada",
    )
    assert record.contacts == [  # roles host, producer
        msgspec.structs.replace(eccc, role="distributor"),
        msgspec.structs.replace(eccc, role="originator"),
    ]
    assert record.constraints == Constraints(other=["WMO data policy: core"])
    assert [(link.function, link.url) for link in record.links] == [
        (None, "https://dd.weather.gc.ca/observations/doc/swob-xml_station_list.csv"),  # rel "stations"
        ("download", "https://dd.weather.gc.ca/observations/swob-ml"),  # rel "data"
        ("download", "https://api.weather.gc.ca/collections/swob-realtime/items"),  # rel "items"
        (None, "https://eccc-msc.github.io/open-data/msc-data/obs_station/readme_obs_insitu_swobdatamart_en"),
        ("download", "mqtt://example.org:8883"),
    ]
    assert record.links[0].name == "Stations associated with this dataset"
    assert record.links[0].media_type == "text/csv"


def test_a_pygeoapi_record_with_iso_protocols_in_link_types_and_list_addresses():
    record = pygeoapi_record("1")
    assert record.native_id == "35149dfb-31d3-431c-a8bc-12a4034dac48"
    assert record.title == LocalisedText(text="Kaartboeck 1635")
    assert record.abstract is not None and record.abstract.text.startswith(
        "Data uit kaartboeken van de periode"
    )
    assert record.identifiers == [Identifier(code="35149dfb-31d3-431c-a8bc-12a4034dac48", scheme="default")]
    assert record.keywords == [
        Keyword(label=label)
        for label in ("ARGEOLOGIE", "MONUMENTEN", "KADASTER", "KAARTBOEK", "KAARTBOECK", "HISTORIE")
    ]
    assert record.bboxes == [BBox(4.690751953125, 52.358740234375, 5.020341796875, 52.6333984375)]
    assert record.temporal == []  # "interval": [null, null]
    assert record.created == "2021-12-08"  # "2021-12-08Z"
    assert record.metadata_date == "2025-06-16T12:39:57Z"
    assert record.contacts == [
        Contact(
            role="custodian",
            name="Team Geo",
            organisation="Gemeente Zaanstad",
            emails=["geo-informatie@zaanstad.nl"],
            phones=["14 075"],
            address="Stadhuisplein 100, 1506 MZ Zaanstad, Noord-Holland",
            country="Netherlands",
        )
    ]
    wfs = "https://maps-intern.zaanstad.gem.local/geoserver/wfs?SERVICE=WFS"
    assert record.links == [
        Link(
            url="https://maps-intern.zaanstad.gem.local/geoserver/wms?SERVICE=WMS",
            protocol="OGC:WMS",
            name="geo:kaartboeck",
        ),
        Link(url=wfs, protocol="OGC:WFS", name="geo:kaartboeck"),
        Link(
            url=f"{wfs}&version=1.0.0&request=GetFeature&typeName=geo:kaartboeck&outputFormat=csv",
            protocol="download",
        ),
        Link(
            url=f"{wfs}&version=1.0.0&request=GetFeature&typeName=geo:kaartboeck&outputFormat=shape-zip",
            protocol="download",
        ),
    ]
    assert record.constraints is None
    assert record.warnings == []


def test_a_pygeoapi_record_whose_contact_url_is_a_link_without_rel():
    record = pygeoapi_record("2")
    assert record.title.text == "Diepteligging onderkant keileem (t.o.v. NAP)"
    assert record.created == "2022-06-01"
    (contact,) = record.contacts
    assert contact.role == "pointOfContact"
    assert contact.name == "Team Gis/Cartografie"
    assert contact.organisation == "Provincie Drenthe"
    assert contact.url == "https://www.provincie.drenthe.nl"
    assert contact.phones == ["0592-365555"]
    assert contact.address == "Westerbrink 1, 9400AC Assen, Drenthe"
    assert contact.country == "Nederland"
    assert record.keywords[0] == Keyword(label="beleidsinstrument")  # "scheme": null
    assert record.links == [
        Link(
            url="https://kaartportaal.drenthe.nl/server/services/GDB_actueel/GBI_KEILEEM_DIEPTE_ONDER_NAP_R"
            "/MapServer/WMSServer",
            protocol="OGC:WMS",
            name="0",
        )
    ]


def test_a_pygeoapi_record_without_geometry():
    record = pygeoapi_record("3")
    assert record.title.text == "Clusters geluid - wegen gecumuleerd"
    assert record.bboxes == []  # "geometry": null
    assert record.warnings == []
    assert [k.label for k in record.keywords] == [
        "GELUIDHINDER", "GELUIDSZONES", "PROVINCIALE WEGEN", "VERKEERSLAWAAI", "WET GELUIDHINDER",
        "Informatief",
    ]  # fmt: skip
    assert [(link.protocol, link.url) for link in record.links] == [
        (
            "landingpage",
            "https://download.geodata-utrecht.nl/download/vector/59352e7f-3792-4e17-bd73-9bba84a98890",
        ),
        ("OGC:WFS", "https://services.geodata-utrecht.nl/geoserver/m01_4_overlast_hinder_mgkp/wfs"),
        ("OGC:WMS", "https://services.geodata-utrecht.nl/geoserver/m01_4_overlast_hinder_mgkp/wms"),
    ]


def test_an_unknown_resource_type_is_a_dataset_with_a_warning():
    doc = document(PYGEOAPI_NL)["_default"]["1"]
    doc["properties"]["type"] = "RI_622"  # what pygeoapi wrote for the Canadian NAP records
    record = convert_bytes(json.dumps(doc).encode())
    assert record.resource_type == "dataset"
    assert record.warnings == [
        "type: 'RI_622' is neither an ISO scope code nor a known resource type; dataset"
    ]


# --- the round trip through our own GeoJSON --------------------------------------------------------------
@pytest.mark.parametrize(("name", "original"), iso_records(), ids=[name for name, _ in iso_records()])
def test_the_round_trip_through_our_geojson_keeps_the_record(name: str, original: Record):
    back = round_trip(original)
    assert back.native_id == original.id  # the id our API publishes is the other side's native id
    assert back.title == original.title
    assert back.abstract == original.abstract
    assert back.resource_type == original.resource_type
    assert back.metadata_language == original.metadata_language
    assert back.language == original.language
    assert [(i.code, i.scheme) for i in back.identifiers] == [
        (i.code, i.scheme) for i in original.identifiers
    ]
    assert {(k.label, k.uri) for k in back.keywords} == {(k.label, k.uri) for k in original.keywords}
    assert back.bboxes == original.bboxes
    assert (back.created, back.published, back.revised) == (
        original.created,
        original.published,
        original.revised,
    )
    assert back.metadata_date == original.metadata_date
    assert (back.platforms, back.instruments) == (original.platforms, original.instruments)
    assert (back.topic_categories, back.places, back.lineage) == (
        original.topic_categories,
        original.places,
        original.lineage,
    )
    assert back.formats == original.formats

    def party(contact: Contact) -> tuple:  # phones are published in E.164 when they can be
        url = contact.url if is_link(contact.url) else None
        fields = (contact.name, contact.organisation, contact.position, contact.address, contact.country)
        return (contact.role, *fields, contact.emails, url, len(contact.phones))

    assert [party(c) for c in back.contacts] == [
        party(c) for c in original.contacts if c.name or c.organisation
    ]
    # links: only followable addresses are published, one per relation and URL; a link without function
    # comes back with the one its relation says (a download protocol is published as "enclosure")
    for link in back.links:
        assert any(
            (link.url, link.protocol) == (source.url, source.protocol)
            and source.function in (None, link.function)
            for source in original.links
        )
    published = {link.url for link in back.links} | set(back.thumbnails)
    assert {link.url for link in original.links if is_link(link.url)} <= published
    assert back.warnings == []


def test_the_round_trip_keeps_translations():
    back = round_trip(iso_record("geonetwork__geonet_kernel_forest.xml"))
    assert back.title == LocalisedText(
        text="Forest", lang="en", translations={"de": "Wald", "fr": "Forêt", "it": "Bosco"}
    )


def test_the_round_trip_keeps_several_boxes_and_the_doi():
    back = round_trip(iso_record("geonetwork__metadata.iso19139.xml"))
    # the six EX_GeographicBoundingBox (ISO order west, east, south, north): Europe and the five DOMs
    assert back.bboxes == [
        BBox(-31.561261, 27.405827, 44.820775, 71.409109),
        BBox(-61.906047, 15.736333, -60.905616, 16.607552),
        BBox(-54.268239, 3.772692, -51.621253, 5.851958),
        BBox(-61.326095, 14.29692, -60.711516, 14.970484),
        BBox(44.927382, -13.089579, 45.390135, -12.546691),
        BBox(55.114983, -21.482245, 55.935919, -20.77811),
    ]
    assert back.doi == "10.2909/f30f1000-7cf8-43bb-872c-5eb093911b24"
    assert (
        back.title.text
        == "CORINE Land Cover Change 2012-2018 (vector), Europe, 6-yearly - version 2020_20u1, May 2020"
    )


def test_the_round_trip_keeps_equipment_and_an_open_time_extent():
    back = round_trip(iso_record("owslib__tests_resources_iso_mi.xml"))
    # gmi:identifier LANDSAT_8 and gmi:description "Landsat 8": one platform in two spellings
    assert back.platforms == ["LANDSAT_8"]
    assert back.instruments == ["OLI_TIRS"]
    # beginPosition 1950-07-31, endPosition indeterminatePosition="now": published as "..", an open end
    assert back.temporal == [TemporalExtent(start="1950-07-31")]


def test_the_round_trip_keeps_a_licence_with_its_url_under_its_spdx_id():
    back = round_trip(iso_record("semic__multilingual-resource-description__input.xml"))
    # gmx:Anchor xlink:href="https://www.etalab.gouv.fr/licence-ouverte-open-licence":
    # "Licence Ouverte version 2.0"
    assert back.constraints is not None
    assert back.constraints.licence == "etalab-2.0"
    assert back.constraints.licence_url == "https://www.etalab.gouv.fr/licence-ouverte-open-licence"
    assert back.resource_type == "series"
    assert not any(link.url.startswith("https://www.etalab.gouv.fr") for link in back.links)


def test_the_round_trip_keeps_a_licence_known_only_by_its_text():
    back = round_trip(iso_record("geonetwork__UpperRhineCastles-iso19139.xml"))
    # gmd:useLimitation "Licence CC-BY - ©CeA ; ©GeoRhena": no SPDX id, no URL: published in "rights"
    assert back.constraints is not None
    assert back.constraints.licence == "Licence CC-BY - ©CeA ; ©GeoRhena"
    assert back.constraints.licence_url is None


def test_the_round_trip_rejoins_a_box_cut_at_the_antimeridian():
    """Our GeoJSON cuts a box crossing 180° into two polygons; reading it back gives the one box."""
    fiji = BBox(176.9, -19.2, -178.2, -16.0)  # the Fiji islands straddle the antimeridian
    original = msgspec.structs.replace(iso_record("pycsw__3e9a8c05.xml"), bboxes=[fiji])
    geometry = to_geojson(original)["geometry"]
    assert geometry["type"] == "MultiPolygon"
    assert round_trip(original).bboxes == [fiji]


def test_the_round_trip_phone_numbers_are_e164_when_they_can_be():
    back = round_trip(iso_record("pygeometa__x-wmo-md-int.wmo.wis.ISMD01EDZW.xml"))
    # gmd:voice "+49 (0) 69 8062-2546" (twice) and "T+49 69 8062 2546", which is kept as written
    assert {phone for contact in back.contacts for phone in contact.phones} == {
        "+496980622546",
        "T+49 69 8062 2546",
    }


def test_formats_of_our_geojson_keep_their_version():
    doc = to_geojson(iso_record("pycsw__3e9a8c05.xml"))
    doc["properties"]["formats"] = [{"name": "GeoTIFF", "version": "1.0"}, {"mediaType": "text/csv"}]
    record = convert_bytes(msgspec.json.encode(doc))
    assert record.formats == [Format(name="GeoTIFF", version="1.0"), Format(name="text/csv")]
