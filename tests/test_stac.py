"""The STAC crosswalk against the real collections and items in ``tests/data/stac-collection`` and
``tests/data/stac-item``.

Every expected value below was read in the JSON file by hand (the comment says where when it is not
obvious); none is computed by the code under test. The ItemCollection pages (GEODES, Earth Search) are
split into their features here, as a protocol does. The only hand-made inputs are the not-JSON bytes,
a minimal catalog, and real records with one member removed or changed.
"""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

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
from harvester.formats import Rejected
from harvester.formats.stac import STAC
from harvester.raw import RawRecord
from tests import crosswalk_checks as checks

DATA = Path(__file__).resolve().parent / "data"
COLLECTION_FILES = sorted((DATA / "stac-collection").glob("*.json"))
ITEM_FILES = sorted((DATA / "stac-item").glob("*.json"))
PAGES = ("eodag__geodes_search_itemcollection.json", "eodag__earth_search_itemcollection.json")
REJECTION_CODES = {"not-json", "not-stac", "not-a-record", "no-identifier"}
CROSSWALK = STAC()


def document(folder: str, name: str) -> dict:
    return json.loads((DATA / folder / name).read_bytes())


def convert_bytes(content: bytes, *, native_id: str | None = None, locator: str = "") -> Record:
    raw = RawRecord(source_id="demo", format="stac", content=content, native_id=native_id, locator=locator)
    return CROSSWALK.to_record(raw, pole="theia")


def collection(name: str) -> Record:
    return convert_bytes((DATA / "stac-collection" / name).read_bytes())


def item(name: str) -> Record:
    return convert_bytes((DATA / "stac-item" / name).read_bytes())


def page_feature(name: str) -> Record:
    """The one feature of a real ItemCollection page, handed over alone as a protocol would."""
    (feature,) = document("stac-item", name)["features"]
    return convert_bytes(msgspec.json.encode(feature))


def rejection(content: bytes) -> Rejected:
    return checks.rejected_bytes(CROSSWALK, content)


def corpus_records() -> list[tuple[str, bytes]]:
    """(name, bytes) of every STAC object in the corpus, page features one by one."""
    found = [(path.name, path.read_bytes()) for path in COLLECTION_FILES]
    for path in ITEM_FILES:
        if path.name in PAGES:
            features = json.loads(path.read_bytes())["features"]
            found += [(f"{path.name}#{i}", msgspec.json.encode(f)) for i, f in enumerate(features)]
        else:
            found.append((path.name, path.read_bytes()))
    return found


# --- the whole corpus ----------------------------------------------------------------------------------
def test_the_corpus_is_there():
    assert len(COLLECTION_FILES) == 17
    assert len(ITEM_FILES) == 19
    assert len(corpus_records()) == 36  # each page holds one feature


@pytest.mark.parametrize(("name", "content"), corpus_records(), ids=[name for name, _ in corpus_records()])
def test_every_corpus_object_gives_a_record_or_a_known_rejection(name: str, content: bytes):
    record = checks.check_corpus_input(CROSSWALK, content, pole="theia", codes=REJECTION_CODES)
    if record is not None:
        assert record.resource_type in ("collection", "dataset")


def test_no_corpus_object_is_rejected():
    assert checks.rejections(CROSSWALK, corpus_records()) == {}


def test_the_registry_gives_this_crosswalk():
    checks.assert_registered(STAC, "stac")


def test_the_whole_corpus_converts_in_a_few_milliseconds_per_record():
    """A loose guard against a pathological slowdown (items with 40 assets included)."""
    raws = [checks.raw_bytes(CROSSWALK, content) for _, content in corpus_records()]
    assert checks.seconds_per_record(CROSSWALK, raws) < 0.005


def test_the_object_a_protocol_already_decoded_is_not_decoded_again():
    (feature,) = document("stac-item", "eodag__geodes_search_itemcollection.json")["features"]
    raw = RawRecord(source_id="demo", format="stac", content=b"", element=feature)
    record = CROSSWALK.to_record(raw)
    assert record.native_id == "PEPS_S2_L1C/URN:FEATURE:DATA:gdh:25416e3f-1a7f-379a-9b65-a6539b1fd95b:V1"


# --- rejections ----------------------------------------------------------------------------------------
def test_bytes_that_are_not_json_are_rejected_with_the_parser_message():
    exc = rejection(b'{"type": "Collection", "id": ')
    assert exc.code == "not-json"
    assert "truncated" in exc.message


def test_bytes_that_are_not_utf8_are_not_json():
    assert rejection(b'{"id": "caf\xe9"}').code == "not-json"


def test_an_item_collection_page_is_not_a_record():
    exc = rejection((DATA / "stac-item" / "eodag__geodes_search_itemcollection.json").read_bytes())
    assert exc.code == "not-a-record"
    assert "1 items" in exc.message


def test_a_catalog_is_not_a_record():
    exc = rejection(b'{"type": "Catalog", "stac_version": "1.0.0", "id": "sentinel", "links": []}')
    assert exc.code == "not-a-record"
    assert "'sentinel'" in exc.message


def test_a_catalog_before_stac_1_has_no_type_and_no_extent():
    exc = rejection(b'{"stac_version": "0.9.0", "id": "landsat", "description": "x", "links": []}')
    assert exc.code == "not-a-record"


def test_a_geojson_feature_without_stac_version_is_not_stac():
    feature = document("stac-item", "stac-spec__simple-item.json")
    del feature["stac_version"]
    exc = rejection(json.dumps(feature).encode())
    assert exc.code == "not-stac"
    assert "stac_version" in exc.message


def test_json_that_is_no_object_is_not_stac():
    assert rejection(b"[1, 2]").code == "not-stac"


def test_a_collection_without_id_falls_back_to_the_protocol_id_else_is_rejected():
    doc = document("stac-collection", "stac-spec__examples_collection.json")
    del doc["id"]
    assert rejection(json.dumps(doc).encode()).code == "no-identifier"
    record = convert_bytes(json.dumps(doc).encode(), native_id="collections/simple")
    assert record.native_id == "collections/simple"
    assert record.title.text == "Simple Example Collection"


# --- collections ---------------------------------------------------------------------------------------
def test_planetary_computer_landsat_collection():
    record = collection("pystac__landsat-collection-example.json")
    assert record.id == "demo.landsat-c2-l2"
    assert record.native_id == "landsat-c2-l2"
    assert record.resource_type == "collection"
    assert record.parent_id is None
    assert record.title == LocalisedText(text="Landsat Collection 2 Level-2")
    assert record.abstract is not None
    assert record.abstract.text.startswith("Landsat Collection 2 Level-2 [Science Products](https://www.usgs")
    assert "\n\nThis dataset represents the global archive" in record.abstract.text  # CommonMark kept
    # summaries.sci:doi and the three cite-as links name the same three DOIs
    assert record.identifiers == [
        Identifier(code="10.5066/p9iaxovv", scheme="doi", url="https://doi.org/10.5066/p9iaxovv"),
        Identifier(code="10.5066/p9c7i13b", scheme="doi", url="https://doi.org/10.5066/p9c7i13b"),
        Identifier(code="10.5066/p9ogbgm6", scheme="doi", url="https://doi.org/10.5066/p9ogbgm6"),
    ]
    assert [k.label for k in record.keywords] == [
        "Landsat", "USGS", "NASA", "Satellite", "Global", "Imagery", "Reflectance", "Temperature",
    ]  # fmt: skip
    assert record.bboxes == [BBox(-180.0, -90.0, 180.0, 90.0)]
    assert record.temporal == [TemporalExtent(start="1982-08-22T00:00:00Z")]
    nasa, usgs = (
        "https://landsat.gsfc.nasa.gov/",
        ("https://www.usgs.gov/landsat-missions/landsat-collection-2-level-2-science-products"),
    )
    assert record.contacts == [
        Contact(role="originator", organisation="NASA", url=nasa),
        Contact(role="rightsHolder", organisation="NASA", url=nasa),
        Contact(role="originator", organisation="USGS", url=usgs),
        Contact(role="processor", organisation="USGS", url=usgs),
        Contact(role="rightsHolder", organisation="USGS", url=usgs),
        Contact(role="distributor", organisation="Microsoft", url="https://planetarycomputer.microsoft.com"),
    ]
    # license "proprietary": the rel=license link, named by its title
    assert record.constraints == Constraints(
        licence="Public Domain", licence_url="https://www.usgs.gov/core-science-systems/hdds/data-policy"
    )
    assert record.links == [
        Link(
            url="https://planetarycomputer.microsoft.com/api/stac/v1/collections/landsat-c2-l2/items",
            function="search",
            media_type="application/geo+json",
        ),
        Link(
            url="https://planetarycomputer.microsoft.com/dataset/landsat-c2-l2",
            function="information",
            name="Human readable dataset overview and reference",
            media_type="text/html",
        ),
        Link(
            url="abfs://items/landsat-c2-l2.parquet",
            function="download",
            name="GeoParquet STAC items",
            description="Snapshot of the collection's STAC items exported to GeoParquet format.",
            media_type="application/x-parquet",
        ),
    ]
    assert record.formats == [Format(name="application/x-parquet")]
    assert record.thumbnails == [
        "https://ai4edatasetspublicassets.blob.core.windows.net/assets/pc_thumbnails/landsat-c2-l2-thumb.png"
    ]
    assert record.platforms == ["landsat-4", "landsat-5", "landsat-7", "landsat-8", "landsat-9"]
    assert record.instruments == ["tm", "etm+", "oli", "tirs"]
    assert record.warnings == []


def test_a_stac_0_9_collection_without_type_and_its_publication():
    record = collection("pystac__scientific_examples_collection.json")
    assert record.resource_type == "collection"
    assert record.native_id == "MERRAclim"
    assert record.title.text.startswith("MERRAclim, a high-resolution global dataset of remotely sensed")
    # sci:doi is the dataset; 10.1038/sdata.2017.78 is in sci:publications (and a cite-as link): an article
    assert record.identifiers == [
        Identifier(code="10.5061/dryad.s2v81.2", scheme="doi", url="https://doi.org/10.5061/dryad.s2v81.2")
    ]
    assert record.links == [
        Link(
            url="https://doi.org/10.1038/sdata.2017.78",
            function="information",
            description="Vega GC, Pertierra LR, Olalla-Tárraga MÁ (2017) MERRAclim, a high-resolution global"
            " dataset of remotely sensed bioclimatic variables for ecological modelling. Scientific Data 4:"
            " 170078.",
        )
    ]
    assert record.constraints == Constraints(
        licence="CC0-1.0", licence_url="https://spdx.org/licenses/CC0-1.0.html"
    )
    assert record.temporal == [TemporalExtent(start="1980-01-01T00:00:00Z", end="2009-12-31T23:59:59Z")]
    assert record.keywords == [
        Keyword(label="bioclimatic"), Keyword(label="MERRAclim"),
        Keyword(label="macroecology"), Keyword(label="biogeography"),
    ]  # fmt: skip
    assert record.contacts == []


def test_a_stac_1_1_collection_with_json_schema_summaries_and_licence_other():
    record = collection("stac-spec__examples_collection-only_collection-with-schemas.json")
    assert record.title.text == "Sentinel-2 MSI: MultiSpectral Instrument, Level-2A"
    assert record.abstract is not None and record.abstract.text.startswith("The SENTINEL-2 mission is a land")
    assert record.bboxes == [BBox(-180.0, -82.852377834669, 180.0, 82.819463367711)]
    # 2017-04-12T02:57:21.459000Z: sub-second digits cut
    assert record.temporal == [TemporalExtent(start="2017-04-12T02:57:21Z", end="2021-04-22T11:30:12Z")]
    # summaries.platform is {"oneOf": [{"const": "sentinel-2b"}, {"const": "sentinel-2a"}]}
    assert record.platforms == ["sentinel-2b", "sentinel-2a"]
    assert record.instruments == ["msi"]  # {"const": "msi"}
    assert record.constraints == Constraints(
        licence="Legal notice on the use of Copernicus Sentinel Data and Service Information",
        licence_url="https://scihub.copernicus.eu/twiki/pub/SciHubWebPortal/TermsConditions/"
        "Sentinel_Data_Terms_and_Conditions.pdf",
    )
    esa = "https://sentinel.esa.int/web/sentinel/user-guides/sentinel-2-msi"
    assert record.contacts == [
        Contact(role="originator", organisation="European Union/ESA/Copernicus", url=esa),
        Contact(role="rightsHolder", organisation="European Union/ESA/Copernicus", url=esa),
        Contact(role="distributor", organisation="AWS", url="https://registry.opendata.aws/sentinel-2/"),
        Contact(role="processor", organisation="jeobrowser", url="https://github.com/jjrom/resto"),
    ]
    assert record.links == []  # parent, root (navigation) and the licence link only
    assert record.keywords == []


def test_a_collection_without_title_is_named_by_its_id_with_a_warning():
    record = collection("pystac__cbers-partial_CBERS4AWFI_collection.json")
    assert record.title == LocalisedText(text="CBERS4AWFI")
    assert record.abstract == LocalisedText(text="CBERS4 AWFI camera catalog")
    assert record.warnings == ["title: missing; the collection id is shown as its title"]
    # the legacy collection "properties": {"platform": "CBERS-4", "instruments": ["AWFI"]}
    assert record.platforms == ["CBERS-4"]
    assert record.instruments == ["AWFI"]
    assert record.constraints == Constraints(
        licence="CC-BY-SA-3.0", licence_url="https://spdx.org/licenses/CC-BY-SA-3.0.html"
    )
    assert [(c.role, c.organisation) for c in record.contacts] == [
        ("originator", "Instituto Nacional de Pesquisas Espaciais, INPE"),
        ("processor", "AMS Kepler"),
        ("distributor", "Amazon Web Services"),
    ]
    assert record.bboxes == [BBox(-180.0, -83.0, 180.0, 83.0)]
    assert record.temporal == [TemporalExtent(start="2014-12-08T00:00:00Z")]


def test_earth_search_v0_collection():
    record = collection("stac-fastapi-elastic__sample_data_collection.json")
    assert record.native_id == "sentinel-s2-l2a-cogs-test"
    assert record.title.text == "Sentinel 2 L2A COGs"
    assert [k.label for k in record.keywords] == ["sentinel", "earth observation", "esa"]
    # "proprietary" with an untitled licence link: "proprietary" names it
    assert record.constraints == Constraints(
        licence="proprietary",
        licence_url="https://sentinel.esa.int/documents/247904/690755/Sentinel_Data_Legal_Notice",
    )
    assert record.links == [
        Link(url="https://github.com/stac-utils/stac-sentinel", function="information"),
        Link(
            url="https://earth-search.aws.element84.com/v0/collections/sentinel-s2-l2a-cogs/items",
            function="search",
        ),
    ]
    assert record.platforms == ["sentinel-2a", "sentinel-2b", "sentinel-2"]  # platform, then constellation
    assert record.instruments == ["msi"]
    assert record.temporal == [TemporalExtent(start="2015-06-27T10:25:31Z")]
    assert [(c.role, c.organisation) for c in record.contacts] == [
        ("originator", "ESA"),
        ("processor", "Sinergise"),
        ("distributor", "AWS"),
        ("processor", "Element 84"),
    ]


def test_a_proprietary_licence_without_a_licence_link_is_warned_about():
    record = collection("pystac__example-catalog_landsat-8-l1_collection.json")
    assert record.constraints == Constraints(licence="proprietary")
    assert record.warnings == ["license 'proprietary' without a rel=license link naming the licence"]
    assert record.temporal == [TemporalExtent(start="2018-05-21T15:44:59Z", end="2018-07-08T15:45:34Z")]
    assert record.links == []  # self, root, parent and four item links: the catalogue's structure


# --- items ---------------------------------------------------------------------------------------------
def test_a_geodes_item_from_a_real_search_page():
    record = page_feature("eodag__geodes_search_itemcollection.json")
    assert record.native_id == "PEPS_S2_L1C/URN:FEATURE:DATA:gdh:25416e3f-1a7f-379a-9b65-a6539b1fd95b:V1"
    assert record.id.startswith("demo.PEPS_S2_L1C-URN-FEATURE-DATA-gdh-25416e3f")  # ':' and '/' made safe
    assert record.parent_id == "PEPS_S2_L1C"
    assert record.resource_type == "dataset"
    assert record.title == LocalisedText(text="URN:FEATURE:DATA:gdh:25416e3f-1a7f-379a-9b65-a6539b1fd95b:V1")
    assert record.abstract is None
    # start_datetime = end_datetime = 2025-04-02T17:57:41.024Z; datetime (2025-04-03T09:00) is outside it
    assert record.temporal == [TemporalExtent(start="2025-04-02T17:57:41Z", end="2025-04-02T17:57:41Z")]
    assert record.bboxes == [BBox(-101.99523907493, 52.226210870436, -100.32145593499, 53.241963547644)]
    assert record.keywords == [Keyword(label="location:northern"), Keyword(label="season:spring")]
    # no "license" property; the licence link alone names it
    assert record.constraints == Constraints(
        licence="Apache License 2.0", licence_url="https://spdx.org/licenses/Apache-2.0.html"
    )
    assert record.identifiers == []
    assert record.warnings == ["sci:doi: '[]' is not a DOI; ignored"]
    assert record.platforms == ["S2A"]
    assert record.instruments == ["MSI"]  # the non-standard singular "instrument"
    assert record.thumbnails == [  # the quicklook asset (role "overview", image/jpeg)
        "https://geodes-portal.cnes.fr/api/quicklook/URN:FEATURE:DATA:gdh:25416e3f-1a7f-379a-9b65-a6539b1fd95b:V1"
        "/files/1003ae6b1edf05adf7c46cb759ffeaec?scope=gdh"
    ]
    (download,) = record.links
    assert download.url == (
        "https://geodes-portal.cnes.fr/api/download/URN:FEATURE:DATA:gdh:25416e3f-1a7f-379a-9b65-a6539b1fd95b:V1"
        "/files/86f828c4c7e921615d1cd0476604f780"
    )
    assert download.function == "download"
    assert download.name == "S2A_MSIL1C_20250402T175741_N0511_R141_T14ULD_20250403T022035.zip"
    assert download.media_type == "application/zip"
    assert download.description is not None and download.description.startswith("File size: 764210185 bytes")
    assert record.formats == [Format(name="application/zip")]


def test_an_earth_search_item_from_a_real_search_page():
    record = page_feature("eodag__earth_search_itemcollection.json")
    assert record.native_id == "sentinel-2-l1c/S2B_27VWK_20240206_0_L1C"
    assert record.parent_id == "sentinel-2-l1c"
    assert record.temporal == [TemporalExtent(start="2024-02-06T13:14:11Z", end="2024-02-06T13:14:11Z")]
    assert record.created == "2024-02-06T15:02:12Z"
    assert record.revised == record.metadata_date == "2024-02-06T15:02:12Z"
    assert record.constraints == Constraints(
        licence_url="https://sentinel.esa.int/documents/247904/690755/Sentinel_Data_Legal_Notice"
    )
    assert record.platforms == ["sentinel-2b", "sentinel-2"]
    assert record.instruments == ["msi"]
    assert record.thumbnails == [
        "s3://sentinel-s2-l1c/tiles/27/V/WK/2024/2/6/0/preview.jpg",
        "https://earth-search.aws.element84.com/v1/collections/sentinel-2-l1c/items/S2B_27VWK_20240206_0_L1C"
        "/thumbnail",
    ]
    urls = [link.url for link in record.links]
    assert not any("earthsearch-data" in url for url in urls)  # rel=canonical: the item's own JSON
    assert len(record.links) == 16  # 17 assets but the thumbnail
    assert (
        Link(
            url="s3://sentinel-s2-l1c/tiles/27/V/WK/2024/2/6/0/metadata.xml",
            function="completeMetadata",
            name="granule_metadata",
            media_type="application/xml",
        )
        in record.links
    )
    assert (
        Link(
            url="s3://sentinel-s2-l1c/tiles/27/V/WK/2024/2/6/0/B02.jp2",
            function="download",
            name="Blue (band 2) - 10m",
            media_type="image/jp2",
        )
        in record.links
    )
    assert record.formats == [Format(name="image/jp2")]
    assert record.warnings == []


def test_a_collectionless_item_with_common_metadata():
    record = item("stac-spec__collectionless-item.json")
    assert record.native_id == "CS3-20160503_132131_08"  # no collection: the id alone
    assert record.parent_id is None
    assert record.title == LocalisedText(text="Full Item")
    assert record.abstract is not None and record.abstract.text.startswith("A sample STAC Item demonstrates")
    # "datetime": null with start_datetime/end_datetime
    assert record.temporal == [TemporalExtent(start="2016-05-03T13:22:30Z", end="2016-05-03T13:27:30Z")]
    assert record.created == "2016-05-04T00:00:01Z"
    assert record.revised == record.metadata_date == "2017-01-01T00:30:55Z"
    assert record.constraints == Constraints(
        licence="Data License for Remote Data, Inc.", licence_url="http://remotedata.io/license.html"
    )
    assert record.contacts == [
        Contact(role="originator", organisation="Remote Data, Inc", url="http://remotedata.it"),
        Contact(role="processor", organisation="Remote Data, Inc", url="http://remotedata.it"),
    ]
    base = "http://cool-sat.com/catalog/CS3-20160503_132130_04/"
    assert record.links == [
        Link(
            url=f"{base}CS3-20160503_132130_04.html",
            function="information",
            name="HTML representation of this STAC Item",
            media_type="text/html",
        ),
        Link(url=f"{base}analytic.tif", function="download", name="4-Band Analytic"),
        Link(url=f"{base}UDM.tif", function="download", name="Unusable Data Mask"),
        Link(
            url=f"{base}extended-metadata.json",
            function="completeMetadata",
            name="Extended Metadata",
            media_type="application/json",
        ),
        Link(
            url=f"{base}S3-20160503_132130_04.EPH", function="download", name="Satellite Ephemeris Metadata"
        ),
    ]
    assert record.thumbnails == [f"{base}thumbnail.png"]
    assert record.formats == []  # no downloadable asset says its media type
    assert record.platforms == ["cool_sat2"]
    assert record.instruments == ["cool_sensor_v1"]


def test_an_envisat_item_with_swapped_axes_has_no_box_and_says_why():
    record = item("pystac__envisat.json")
    # bbox [64.302468, 114.587673, 71.179088, 128.611298] and the geometry: latitudes first
    assert record.bboxes == []
    assert record.warnings == [
        "bbox: south 114.587673 is out of range (latitude and longitude swapped?); box computed from the"
        " geometry",
        "geometry: south 114.587673 is out of range (latitude and longitude swapped?); no bounding box",
    ]
    assert record.temporal == [TemporalExtent(start="2009-05-20T02:40:01Z", end="2009-05-20T02:41:31Z")]
    assert record.platforms == ["envisat"]  # platform and constellation are the same name
    assert record.instruments == ["asar"]
    assert record.links[:2] == [
        Link(
            url="https://earth.esa.int/pub/ESA_DOC/ENVISAT/ASAR/asar.ProductHandbook.2_2.pdf",
            function="information",
            name="ASAR Product Handbook",
            media_type="application/pdf",
        ),
        Link(
            url="https://earth.esa.int/web/sppa/mission-performance/esa-missions/envisat/asar/products-and-algorithms",
            function="information",
            name="ASAR Product and Algorithms",
            media_type="text/html",
        ),
    ]
    # a relative asset href stays as given when the record's locator is no URL
    assert record.links[2].url == "ASA_GM1_1PNPDE20090520_023957_000001022079_00118_37747_3607.n1.gz"
    assert (
        record.links[2].description
        == "Amplitude and Intensity. Intensity equals the square of the amplitude band"
    )


def test_relative_hrefs_are_resolved_against_the_document_url():
    url = (
        "https://raw.githubusercontent.com/stac-utils/pystac/e064109398b0/tests/data-files/examples/0.9.0/"
        "extensions/sar/examples/envisat.json"
    )
    record = convert_bytes((DATA / "stac-item" / "pystac__envisat.json").read_bytes(), locator=url)
    assert record.links[2].url == (
        "https://raw.githubusercontent.com/stac-utils/pystac/e064109398b0/tests/data-files/examples/0.9.0/"
        "extensions/sar/examples/ASA_GM1_1PNPDE20090520_023957_000001022079_00118_37747_3607.n1.gz"
    )
    assert record.links[0].url.startswith("https://earth.esa.int/")  # absolute hrefs unchanged


def test_a_planetary_computer_item_with_doi_via_and_map_preview():
    record = item("stac-fastapi-pgstac__test2_item.json")
    assert record.native_id == "test2-collection/test2-item"
    assert record.abstract == LocalisedText(text="Landsat Collection 2 Level-1")
    assert record.identifiers == [
        Identifier(code="10.5066/p9af14yv", scheme="doi", url="https://doi.org/10.5066/p9af14yv")
    ]
    assert record.temporal == [TemporalExtent(start="1990-12-23T15:26:35Z", end="1990-12-23T15:26:35Z")]
    assert record.created == "2022-03-31T16:51:57Z"
    assert record.revised is None and record.metadata_date is None
    assert record.constraints is None
    assert record.platforms == ["landsat-5"]
    assert record.instruments == ["mss"]
    blob = "https://landsateuwest.blob.core.windows.net/landsat-c2/level-1/standard/mss/1990/018/038/"
    scene = "LM05_L1GS_018038_19901223_20200827_02_T2"
    assert record.thumbnails == [  # role thumbnail, then the image/jpeg overview
        f"{blob}{scene}/{scene}_thumb_small.jpeg",
        f"{blob}{scene}/{scene}_thumb_large.jpeg",
    ]
    assert record.links[0] == Link(
        url=f"https://landsatlook.usgs.gov/stac-server/collections/landsat-c2l1/items/{scene}",
        function="information",
        name="USGS STAC Item",
        media_type="application/json",
    )
    # rel=preview of type text/html is a map viewer, not an image
    assert record.links[1] == Link(
        url="https://pct-apis-staging.westeurope.cloudapp.azure.com/data/item/map?collection=landsat-c2-l1"
        "&item=LM05_L1GS_018038_19901223_02_T2",
        function="browsing",
        name="Map of item",
        media_type="text/html",
    )
    functions = [link.function for link in record.links[2:]]
    assert functions == ["download"] * 4 + ["completeMetadata"] * 3 + ["download"] * 2  # cloud, saturation
    assert record.formats == [
        Format(name="image/tiff; application=geotiff; profile=cloud-optimized"),
    ]
    assert not any("doi.org" in link.url for link in record.links)  # the cite-as DOI is an identifier


def test_a_stac_0_8_item():
    record = item("pystac__sentinel2-sample.json")
    # top-level collection "sentinel-s2-l2a" wins over properties.collection "s2-l2a"
    assert (
        record.native_id == "sentinel-s2-l2a/S2A_OPER_MSI_L2A_TL_SGS__20180524T190423_A015250_T26SKD_N02.08"
    )
    assert record.parent_id == "sentinel-s2-l2a"
    assert record.platforms == ["sentinel-2"]  # 0.8 "eo:platform"
    # 0.8 has no asset roles: the asset keyed "thumbnail" is the thumbnail
    assert record.thumbnails == ["s3://sentinel-s2-l2a/tiles/35/V/MK/2018/6/5/0/qi/L2A_PVI.jp2"]
    assert record.bboxes == [BBox(25.0815883093, 62.1306897126, 27.1935425597, 63.129387237)]
    assert record.temporal == [TemporalExtent(start="2018-06-05T10:00:27Z", end="2018-06-05T10:00:27Z")]


def test_a_pycsw_item_with_ogc_service_relations():
    record = item("pycsw__S2B_MSIL1C_20190910T095029_N0208_R079_T33TWN_20190910T120910.SAFE.json")
    assert record.native_id == "S2MSI1C/S2B_MSIL1C_20190910T095029_N0208_R079_T33TWN_20190910T120910.SAFE"
    services = [link for link in record.links if link.protocol]
    assert [link.protocol for link in services] == ["OGC:WMS", "OGC:WCS"]
    # the link "type" holds "OGC:WMS": not a media type
    assert [link.media_type for link in services] == [None, None]
    assert services[0].url.startswith("https://data-access-v1x.develop.eoepca.org/ows?")
    assert record.contacts == [  # providers inside properties
        Contact(role="originator", organisation="ESA", url="https://earth.esa.int/web/guest/home"),
        Contact(role="processor", organisation="ESA", url="https://earth.esa.int/web/guest/home"),
        Contact(role="rightsHolder", organisation="ESA", url="https://earth.esa.int/web/guest/home"),
    ]
    assert record.platforms == ["Sentinel-2B", "Sentinel 2"]


def test_a_scientific_item_keeps_its_own_doi_and_links_its_publications():
    record = item("pystac__scientific_examples_item.json")
    assert record.title == LocalisedText(text="MERRAclim. 2_5m_min_80s")
    assert record.identifiers == [
        Identifier(
            code="10.5061/dryad.s2v81.2/27.2", scheme="doi", url="https://doi.org/10.5061/dryad.s2v81.2/27.2"
        )
    ]
    assert [link.url for link in record.links if "doi.org" in link.url] == [
        "https://doi.org/10.5061/dryad.s2v81.2",
        "https://doi.org/10.1038/sdata.2017.78",
    ]
    assert record.temporal == [TemporalExtent(start="1980-01-01T00:00:00Z", end="1989-12-31T23:59:59Z")]
