"""The Dublin Core crosswalk against the real records bundled in ``tests/data/dc`` (see its README).

Every expected value below was read in the XML file by hand (the comment says where when it is not
obvious); none is computed by the code under test. The only hand-made inputs are the not-XML and
wrong-root bytes; other edge cases are real records with one element taken out or changed with lxml.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from catalogue.identity import record_id
from catalogue.record import (
    BBox,
    Constraints,
    Contact,
    Format,
    Identifier,
    Keyword,
    Link,
    Record,
)
from harvester.formats.dc import DublinCore
from harvester.raw import RawRecord
from tests import crosswalk_checks as checks

CORPUS = Path(__file__).resolve().parent / "data" / "dc"
CORPUS_FILES = sorted(CORPUS.glob("*.xml"))
REJECTION_CODES = {"not-xml", "not-dc", "no-identifier", "no-title"}
CROSSWALK = DublinCore()
DC = "{http://purl.org/dc/elements/1.1/}"

CORA_OA = "b2find__0bf66760-5ca0-5fb6-9e1e-4519618384f9.xml"  # Sextant csw:Record, CMEMS product
EUROMAPAPP = "b2find__11ed0576-4a1d-5256-bb74-ef16357cc72a.xml"  # Sextant csw:Record, regional box
ARGO = "b2find__12315a55-94af-5cf2-96a9-95102e7ddee4.xml"  # Sextant csw:Record with a DOI link
SEANOE_OSS = "b2find__4aefaa20-ae37-5c89-bc7a-7574303850c3.xml"  # SEANOE oai_dc in an OAI <record>
SEANOE_EMSO = "b2find__7d8d61e8-c2c6-5a7e-bef1-24f5a1eb23b5.xml"
POLAR = "geonetwork__sample-data_natural_polar_ecosystems_metadata.xml"  # GeoNetwork simpledc
ALLSPECIES = "owslib__9250AA67-F3AC-6C12-0CB9-0662231AA181_dc.xml"  # Environment Canada csw:Record


def raw_record(name: str, *, native_id: str | None = None, datestamp: str | None = None) -> RawRecord:
    return checks.raw_file(CROSSWALK, CORPUS / name, native_id=native_id, datestamp=datestamp)


def convert(name: str, **kwargs: str | None) -> Record:
    return CROSSWALK.to_record(raw_record(name, **kwargs), pole="odatis")


def edited(name: str, edit: Callable[[etree._Element], object]) -> RawRecord:
    return checks.edited_raw(CROSSWALK, CORPUS / name, edit)


# --- the whole corpus ---------------------------------------------------------------------------------
def test_the_corpus_is_there():
    assert len(CORPUS_FILES) == 19


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda path: path.name)
def test_every_corpus_file_gives_a_record_or_a_known_rejection(path: Path):
    checks.check_corpus_input(CROSSWALK, path.read_bytes(), pole="odatis", codes=REJECTION_CODES)


def test_no_corpus_record_is_rejected_and_every_one_has_a_box():
    for path in CORPUS_FILES:
        record = CROSSWALK.to_record(checks.raw_bytes(CROSSWALK, path.read_bytes()))
        assert len(record.bboxes) == 1, path.name


def test_the_registry_gives_this_crosswalk():
    checks.assert_registered(DublinCore, "dc")


def test_the_whole_corpus_converts_in_a_few_milliseconds_per_record():
    """A loose guard against a pathological slowdown (about 0.3 ms a record when written)."""
    raws = [checks.raw_bytes(CROSSWALK, p.read_bytes()) for p in CORPUS_FILES]
    assert checks.seconds_per_record(CROSSWALK, raws) < 0.010


# --- rejections and identity --------------------------------------------------------------------------------
def test_bytes_that_are_not_xml_are_rejected():
    exc = checks.rejected_bytes(CROSSWALK, b"<oai_dc:dc><dc:title>")
    assert exc.code == "not-xml"
    assert "line 1" in exc.message


def test_xml_without_a_dc_record_is_rejected_naming_the_root():
    content = b'<feed xmlns="http://www.w3.org/2005/Atom"><title>x</title></feed>'
    exc = checks.rejected_bytes(CROSSWALK, content)
    assert exc.code == "not-dc"
    assert "{http://www.w3.org/2005/Atom}feed" in exc.message


def test_a_record_without_identifier_and_protocol_id_is_rejected():
    exc = checks.rejection_of(CROSSWALK, edited(POLAR, checks.removing(f"{DC}identifier")))
    assert exc.code == "no-identifier"


def test_a_record_without_identifier_takes_the_protocol_id():
    raw = edited(POLAR, checks.removing(f"{DC}identifier"))
    raw.native_id = "oai:geonetwork:polar"
    record = CROSSWALK.to_record(raw)
    assert record.native_id == "oai:geonetwork:polar"


def test_a_record_without_title_is_rejected_naming_it():
    exc = checks.rejection_of(CROSSWALK, edited(ALLSPECIES, checks.removing(f"{DC}title")))
    assert exc.code == "no-title"
    assert "9250AA67-F3AC-6C12-0CB9-0662231AA181" in exc.message


def test_an_element_parsed_by_the_protocol_gives_the_same_record_as_the_bytes():
    raw = raw_record(SEANOE_OSS)
    raw.element = etree.fromstring(raw.content)
    checks.assert_element_gives_the_bytes_record(CROSSWALK, raw)


def test_provenance_and_pole_come_from_the_raw_record_and_the_caller():
    record = convert(SEANOE_OSS, native_id="oai:seanoe.org:41101", datestamp="2017-05-15")
    assert (record.pole, record.source_id) == ("odatis", "demo")
    assert record.provenance.native_format == "dc"
    assert record.provenance.datestamp == "2017-05-15"
    # The DOI in the record wins over the OAI identifier: the same dataset harvested as DataCite
    # gets the same native id.
    assert record.native_id == "10.17882/41101"


# --- Sextant (GeoNetwork) csw:Record ------------------------------------------------------------------------
def test_sextant_cmems_product_record():
    record = convert(CORA_OA)
    assert record.native_id == "7691f8b8-1193-4aef-8e7e-0d7a9c88c057"
    assert record.id == "demo.7691f8b8-1193-4aef-8e7e-0d7a9c88c057"
    assert record.identifiers == []  # the only dc:identifier is the metadata's own id
    assert record.resource_type == "series"
    assert record.title.text == (
        "Global Ocean- Delayed Mode gridded CORA- In-situ Observations objective analysis in Delayed Mode"
    )
    assert record.title.lang == "en"  # dc:language eng
    assert record.language == "en"
    # dct:abstract is preferred to the identical dc:description; the wiki markup is the source's.
    assert record.abstract.text.startswith("'''Short description:'''\n\nFor the Global Ocean- Gridded")
    assert record.metadata_date == "2018-06-13T11:12:59Z"  # dc:date = GeoNetwork's dateStamp
    assert record.published is None
    assert record.keywords[0] == Keyword(
        label="Oceanographic geographical features",
        uri="http://rdfdata.eionet.europa.eu/inspirethemes/themes/28",
        lang="en",
    )
    assert (
        Keyword(
            label="sea_water_salinity",
            uri="http://vocab.nerc.ac.uk/collection/P07/current/CFSN0331/",
            lang="en",
        )
        in record.keywords
    )
    # The three empty <dc:subject href=""/> give nothing; dct:alternative (the CMEMS product id) is kept
    # as a free keyword; the plain subject "oceans" is GeoNetwork's topic category.
    assert record.keywords[-1] == Keyword(label="INSITU_GLO_TS_OA_REP_OBSERVATIONS_013_002_b", lang="en")
    assert len(record.keywords) == 12
    assert record.topic_categories == ["oceans"]
    # <ows:LowerCorner>180 -60</ows:LowerCorner><ows:UpperCorner>-180 60</ows:UpperCorner>: GeoNetwork's
    # "east south" / "west north".
    assert record.bboxes == [BBox(-180.0, -60.0, 180.0, 60.0)]
    # dc:rights otherRestrictions (a pointer, dropped) and license (an ISO restriction code).
    assert record.constraints == Constraints(access=["license"])
    assert record.links[0] == Link(
        url="ftp://my.cmems-du.eu/Core/INSITU_GLO_TS_OA_REP_OBSERVATIONS_013_002_b/CORIOLIS-GLOBAL-CORA05.0-OBS_FULL_TIME_SERIE",
        protocol="WWW:FTP",
        name="CORIOLIS-GLOBAL-CORA05.0-OBS_FULL_TIME_SERIE",
        description="FTP download of the latest version (5.0)",
    )
    assert record.links[2].protocol == "OGC:WMS:getCapabilities"
    assert record.links[2].description is None  # description=""
    assert [link.name for link in record.links if link.protocol == "OGC:WMS"] == [
        "PSAL",
        "PSAL_PCTVAR",
        "TEMP",
        "TEMP_PCTVAR",
    ]
    assert len(record.links) == 8
    assert record.thumbnails == [  # <dc:URI protocol="image/png">
        "http://marine.copernicus.eu/documents/IMG/INSITU_GLO_TS_OA_OBSERVATIONS_013_002_a.png"
    ]
    assert record.lineage.startswith("The myOcean products depends on other products")  # dc:source
    assert record.contacts == []
    assert record.warnings == []


def test_sextant_regional_box_in_geonetwork_corner_order():
    record = convert(EUROMAPAPP)
    # <ows:BoundingBox crs="urn:ogc:def:crs:EPSG:6.6:4326"> LowerCorner "6.62 -0.0026", UpperCorner
    # "-83.0149 68.6387": east south / west north in lon lat, whatever the crs says.
    assert record.bboxes == [BBox(-83.0149, -0.0026, 6.62, 68.6387)]
    assert record.topic_categories == ["elevation"]
    assert record.resource_type == "dataset"
    assert record.title.text.startswith("EuroMapApp – Bathymetric integration")
    assert [link.url for link in record.links] == [
        "https://www.ngdc.noaa.gov",
        "http://www.geomapapp.org/",
        "http://www.emodnet-bathymetry.eu/",
        "https://www.pangaea.de/?q=%40geomarBathymetryUnderway&f.project%5B%5D=AtlantOS",
    ]
    assert record.constraints is None  # only otherRestrictions and an empty dc:rights
    assert record.formats == []  # <dc:format/> twice
    assert record.lineage == "To be completed"
    assert record.warnings == []


def test_without_the_geonetwork_namespace_the_same_box_reads_as_lat_lon_and_says_so():
    # The same real record with its (unused) xmlns:geonet declaration removed: nothing says GeoNetwork
    # wrote it, so the crs (EPSG:4326, lat lon) is believed; the latitudes are then out of order, and the
    # lon lat reading is taken with a warning. That box crosses the antimeridian: the reason GeoNetwork
    # records are recognised.
    raw = edited(EUROMAPAPP, etree.cleanup_namespaces)
    record = CROSSWALK.to_record(raw)
    assert record.bboxes == [BBox(6.62, -0.0026, -83.0149, 68.6387)]
    assert record.warnings == [
        "ows:BoundingBox: coordinates are lon lat though the crs is lat lon; read as lon lat"
    ]


def test_sextant_argo_doi_from_a_link():
    record = convert(ARGO)
    assert record.title.text == "Argo float data and metadata from Global Data Assembly Centre (Argo GDAC)"
    assert record.resource_type == "series"
    # <dc:URI protocol="WWW:LINK-1.0-http--metadata-URL" ...>http://doi.org/10.17882/42182</dc:URI>
    assert record.identifiers == [
        Identifier(code="10.17882/42182", scheme="doi", url="https://doi.org/10.17882/42182")
    ]
    assert record.doi == "10.17882/42182"
    assert (
        Link(
            url="ftp://ftp.ifremer.fr/ifremer/argo/",
            protocol="WWW:DOWNLOAD-1.0-link--download",
            name="FTP ARGO",
            description="FTP ARGO",
        )
        in record.links
    )
    assert record.links[1].description == "Argo GDAC snapshots access"
    assert record.thumbnails == [
        "https://sextant.ifremer.fr/geonetwork/srv/api/records/3df904de-e47d-4bf9-85a0-7c0942aff8b6/attachments/argo-float.jpg"
    ]
    assert record.metadata_date == "2018-06-06T10:07:28Z"


# --- SEANOE oai_dc ------------------------------------------------------------------------------------------
def test_seanoe_ocean_salinity_stratification():
    record = convert(SEANOE_OSS)
    assert record.native_id == "10.17882/41101"  # <dc:identifier>DOI:10.17882/41101</dc:identifier>
    assert record.id == record_id("demo", "10.17882/41101")
    # DOI:10.17882/41101 and http://dx.doi.org/10.17882/41101 are one DOI.
    assert record.identifiers == [
        Identifier(code="10.17882/41101", scheme="doi", url="https://doi.org/10.17882/41101")
    ]
    assert record.title.text == "Ocean Salinity Stratification (OSS)"
    assert record.title.lang is None  # no dc:language, no xml:lang
    assert record.abstract.text.startswith("This dataset is composed by the climatological seasonal field")
    assert "T. J. O’Kane (2014)" in record.abstract.text  # &#8217;
    assert record.resource_type == "dataset"
    assert record.published == "2014-03-10"  # a bare dc:date in oai_dc
    assert record.metadata_date is None
    assert record.contacts == [
        Contact(role="author", name="Maes, Christophe"),
        Contact(role="author", name="O'Kane, Terence"),
        Contact(role="publisher", organisation="SEANOE"),
    ]
    assert [k.label for k in record.keywords] == ["salinity", "oceanography", "stratification"]
    # dc:coverage "North 90.0, South -90.0, East 180.0, West -180.0" and dcterms:spatial DCTERMS:Box
    # "-90.0 -180.0 90.0 180.0" (S W N E) are the same box.
    assert record.bboxes == [BBox(-180.0, -90.0, 180.0, 90.0)]
    assert record.places == []
    assert record.constraints == Constraints(licence="CC0")
    assert record.thumbnails == ["https://www.seanoe.org/data/00300/41101/illustration.gif"]  # dct:references
    assert record.links == []
    assert record.warnings == []


def test_seanoe_emso_small_box_and_month_date():
    record = convert(SEANOE_EMSO)
    assert record.native_id == "10.17882/41349"
    assert record.bboxes == [BBox(-32.27982, 37.2888, -32.275618, 37.30134)]
    assert record.published == "2015-10"  # <dc:date>2015-10</dc:date>
    assert record.constraints == Constraints(licence="CC-BY")
    assert [c.name for c in record.contacts if c.role == "author"] == [
        "Legrand, Julien",
        "Sarradin, Pierre-marie",
        "Cannat, Mathilde",
    ]
    # dc:relation info:eu-repo/grantAgreement/EC/FP7/312463/EU//FIXO3 is neither a URL nor a DOI.
    assert record.links == []
    assert record.warnings == []


# --- GeoNetwork simpledc, OWSLib csw:Record -------------------------------------------------------------
def test_geonetwork_simpledc_sample():
    record = convert(POLAR)
    assert record.native_id == "01f8da31-10d7-11da-b569-000f1f1a7b03"
    assert record.title.text == "Natural polar ecosystems"
    assert record.title.lang == "en"
    assert record.abstract.text == (
        "A harmonised database of natural ecosystems in the Circumpolar Arctic, based on published"
        " vegetation maps."
    )
    assert record.published == "2000"
    # "North 90, South -90, East 180, West -180.  (Global)": a box and a place.
    assert record.bboxes == [BBox(-180.0, -90.0, 180.0, 90.0)]
    assert record.places == ["Global"]
    # dc:contributor "Unknown" and dc:relation "Unknown" are form fillers.
    assert record.contacts == [
        Contact(role="author", organisation="GeoNetwork test user"),
        Contact(role="publisher", organisation="GeoNetwork test centre"),
    ]
    assert record.links == []
    assert record.constraints == Constraints(
        other=["Access constraints: None. Usage constraints: No restrictions"]
    )
    assert record.formats == [Format(name="Web page")]
    assert record.lineage == "Compiled from published vegetation maps of the 8 circumpolar countries."
    assert record.resource_type == "dataset"
    assert record.warnings == ["dc:type: 'Maps and graphics' is neither an ISO scope code nor a DCMI type"]


def test_owslib_environment_canada_record_in_lat_lon():
    record = convert(ALLSPECIES)
    assert record.native_id == "9250AA67-F3AC-6C12-0CB9-0662231AA181"
    assert record.title.text == "ALLSPECIES"
    assert record.resource_type == "dataset"  # http://purl.org/dc/dcmitype/Dataset
    assert record.language == "en"  # "eng; CAN"
    assert record.abstract.text.startswith("272 Categorized Initiatives: Initiatives are referenced")
    # <ows:BoundingBox crs="EPSG:4326"> "-90 -180" / "90 180": lat lon.
    assert record.bboxes == [BBox(-180.0, -90.0, 180.0, 90.0)]
    assert (record.created, record.revised) == ("2009-09-03", "2009-09-03")
    # "EMAN Coordinating Office, Environment Canada" has a comma but is no "Family, Given".
    assert record.contacts == [
        Contact(role="author", organisation="EMAN Coordinating Office, Environment Canada"),
        Contact(role="contributor", organisation="EMAN Office"),
    ]
    assert record.keywords[0] == Keyword(label="Locations: Canada > Manitoba", lang="en")
    assert len(record.keywords) == 24
    assert record.topic_categories == []
    assert record.formats == [Format(name="text/xml")]
    assert record.links == [  # dc:source is a URL: the original record
        Link(
            url="http://geodiscover.cgdi.ca/wes/serviceManagerCSW/csw?service=CSW&request=GetRepositoryItem"
            "&id=030D6774-856E-17C0-E64E-4141FC8BD367",
            description="source",
        )
    ]
    assert record.lineage is None
    assert record.warnings == []


def test_a_box_in_a_projected_crs_is_skipped_with_a_warning():
    def to_lambert(root):
        root.find("{http://www.opengis.net/ows}BoundingBox").set("crs", "EPSG:2154")

    record = CROSSWALK.to_record(edited(ALLSPECIES, to_lambert))
    assert record.bboxes == []
    assert record.warnings == ["ows:BoundingBox: crs 'EPSG:2154' is not WGS 84; box skipped"]
