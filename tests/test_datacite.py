"""The DataCite crosswalk against the real records bundled in ``tests/data/datacite`` (see its README).

Every expected value below was read in the XML file by hand (the comment says where when it is not
obvious); none is computed by the code under test. The records of the two pycsw OAI-PMH responses in
``oai/`` are taken out with lxml, as the OAI-PMH protocol hands them over. The only hand-made inputs are
the not-XML and wrong-root bytes; other edge cases are real records with one element taken out.
"""

from __future__ import annotations

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
    LocalisedText,
    Record,
    TemporalExtent,
)
from harvester.formats import Rejected
from harvester.formats.datacite import DataCite
from harvester.raw import RawRecord
from tests import crosswalk_checks as checks

CORPUS = Path(__file__).resolve().parent / "data" / "datacite"
CORPUS_FILES = sorted(CORPUS.glob("*.xml"))
OAI_RESPONSES = sorted((CORPUS / "oai").glob("*.xml"))
REJECTION_CODES = {"not-xml", "not-datacite", "no-identifier", "no-title"}
CROSSWALK = DataCite()
OAI = "{http://www.openarchives.org/OAI/2.0/}"

GEOFON = "b2find__56347bce-8b50-51e9-9564-f99269b46c48.xml"  # kernel 2.2 in oai_datacite payload
NANNOPLANKTON = "b2find__5755f06f-a5a9-5794-9d05-ab23e51452be.xml"  # PANGAEA kernel 4
SIPEX = "b2find__6bd42527-0a4f-563f-88ed-999b1c8ded9e.xml"  # EnviDat kernel 4, polygon
INRAE = "b2find__79c2c09c-16e6-566f-8be9-e0f700322fce.xml"  # OAI-PMH GetRecord response
SNOWMELT = "b2find__90029ec9-dd10-5e6a-b067-7583054a77e6.xml"  # FID GEO kernel 3, prefixed
DEAD_WOOD = "b2find__bbox_80e203d7-7c64-5c00-8d1f-a91d49b0fa16.xml"  # EnviDat kernel 3, text box
ALLIGATOR = "b2find__e4723633-ab46-5316-875f-fcd788dc0931.xml"  # PANGAEA, box over the antimeridian
FULL = "schema__datacite-example-full-v4.xml"


def raw_record(name: str, *, native_id: str | None = None, datestamp: str | None = None) -> RawRecord:
    return checks.raw_file(CROSSWALK, CORPUS / name, native_id=native_id, datestamp=datestamp)


def convert(name: str, **kwargs: str | None) -> Record:
    return CROSSWALK.to_record(raw_record(name, **kwargs), pole="formater")


def oai_records(name: str) -> list[RawRecord]:
    """The records of an OAI-PMH response as the protocol hands them over: the element inside
    ``<metadata>`` and the header's identifier and datestamp."""
    root = etree.parse(str(CORPUS / "oai" / name)).getroot()
    return [
        RawRecord(
            source_id="demo",
            format="datacite",
            content=etree.tostring(record.find(f"{OAI}metadata")[0]),
            native_id=record.findtext(f"{OAI}header/{OAI}identifier"),
            datestamp=record.findtext(f"{OAI}header/{OAI}datestamp") or None,
        )
        for record in root.iter(f"{OAI}record")
    ]


def without(name: str, local_name: str) -> RawRecord:
    """A real record with every element of that local name removed."""
    return checks.edited_raw(CROSSWALK, CORPUS / name, checks.removing(f"{{*}}{local_name}"))


# --- the whole corpus ---------------------------------------------------------------------------------
def test_the_corpus_is_there():
    assert len(CORPUS_FILES) == 13
    assert [path.name for path in OAI_RESPONSES] == [
        "pycsw__oaipmh_get_GetRecord_datacite.xml",
        "pycsw__oaipmh_get_ListRecords_datacite.xml",
    ]


ALL_INPUTS = [
    *((path.name, path.read_bytes()) for path in CORPUS_FILES),
    *(
        (f"{path.name}#{n}", raw.content)
        for path in OAI_RESPONSES
        for n, raw in enumerate(oai_records(path.name))
    ),
]


@pytest.mark.parametrize(
    "content", [content for _, content in ALL_INPUTS], ids=[name for name, _ in ALL_INPUTS]
)
def test_every_input_gives_a_record_or_a_known_rejection(content: bytes):
    checks.check_corpus_input(CROSSWALK, content, pole="formater", codes=REJECTION_CODES)


def test_only_the_pycsw_records_with_an_empty_title_are_rejected():
    rejected = checks.rejections(CROSSWALK, ALL_INPUTS)
    # ListRecords records 2 and 7: <title xml:lang="eng"/>.
    assert rejected == {
        "pycsw__oaipmh_get_ListRecords_datacite.xml#1": "no-title",
        "pycsw__oaipmh_get_ListRecords_datacite.xml#6": "no-title",
    }


def test_the_registry_gives_this_crosswalk():
    checks.assert_registered(DataCite, "datacite")


def test_the_whole_corpus_converts_in_a_few_milliseconds_per_record():
    """A loose guard against a pathological slowdown (about 0.6 ms a record when written)."""
    raws = [checks.raw_bytes(CROSSWALK, p.read_bytes()) for p in CORPUS_FILES]
    assert checks.seconds_per_record(CROSSWALK, raws) < 0.010


# --- rejections and identity --------------------------------------------------------------------------------
def test_bytes_that_are_not_xml_are_rejected():
    exc = checks.rejected_bytes(CROSSWALK, b"<resource><identifier>")
    assert exc.code == "not-xml"


def test_xml_without_a_datacite_resource_is_rejected_naming_the_root():
    content = b'<feed xmlns="http://www.w3.org/2005/Atom"><title>x</title></feed>'
    exc = checks.rejected_bytes(CROSSWALK, content)
    assert exc.code == "not-datacite"
    assert "{http://www.w3.org/2005/Atom}feed" in exc.message


def test_a_resource_without_identifier_and_protocol_id_is_rejected():
    assert checks.rejection_of(CROSSWALK, without(GEOFON, "identifier")).code == "no-identifier"


def test_a_resource_without_identifier_takes_the_protocol_id_with_a_warning():
    raw = without(GEOFON, "identifier")  # also removes the OAI header's identifier: same local name
    raw.native_id = "oai:doidb.wdc-terra.org:4317"
    record = CROSSWALK.to_record(raw)
    assert record.native_id == "oai:doidb.wdc-terra.org:4317"
    assert record.identifiers == []
    assert record.warnings == [
        "identifier: missing; the protocol's id 'oai:doidb.wdc-terra.org:4317' is used"
    ]


def test_a_resource_without_title_is_rejected_naming_it():
    exc = checks.rejection_of(CROSSWALK, without(NANNOPLANKTON, "titles"))
    assert exc.code == "no-title"
    assert "10.1594/pangaea.548413" in exc.message


def test_an_element_parsed_by_the_protocol_gives_the_same_record_as_the_bytes():
    raw = raw_record(SNOWMELT)
    raw.element = etree.fromstring(raw.content)
    checks.assert_element_gives_the_bytes_record(CROSSWALK, raw)


def test_provenance_comes_from_the_raw_record_and_the_doi_is_the_native_id():
    record = convert(
        NANNOPLANKTON, native_id="oai:pangaea.de:doi:10.1594/PANGAEA.548413", datestamp="2020-01-19"
    )
    assert record.native_id == "10.1594/pangaea.548413"  # the DOI, lower-cased
    assert record.id == record_id("demo", "10.1594/pangaea.548413")
    assert record.provenance.datestamp == "2020-01-19"
    assert record.pole == "formater"


# --- PANGAEA ------------------------------------------------------------------------------------------------
def test_pangaea_nannoplankton_collection():
    record = convert(NANNOPLANKTON)
    assert record.identifiers == [
        Identifier(code="10.1594/pangaea.548413", scheme="doi", url="https://doi.org/10.1594/pangaea.548413")
    ]
    assert record.resource_type == "collection"  # resourceTypeGeneral="Collection"
    assert record.title.text.startswith("Nannoplankton of multi-net samples, sediment surface and sediment")
    assert record.title.lang == "en"  # no xml:lang: the resource's <language>en</language>
    assert record.abstract.text.startswith('Recent nannoplankton from the "Meteor”-stations M 242')
    assert record.keywords[0] == Keyword(label="Box corer", lang="en", thesaurus="Method")
    assert record.keywords[3] == Keyword(label="Meteor (1964)", lang="en", thesaurus="Basis")
    assert record.bboxes == [BBox(62.883, 21.966, 64.183, 23.15)]
    assert record.places == ["Northern Arabian Sea"]
    # <date dateType="Collected">1965-03-19T00:00:00/1965-03-21T00:00:00</date>
    assert record.temporal == [TemporalExtent(start="1965-03-19T00:00:00Z", end="1965-03-21T00:00:00Z")]
    assert record.published == "1972"  # publicationYear, no Issued date
    assert record.contacts == [
        Contact(role="author", name="Martini, Erlend"),
        Contact(role="author", name="Müller, Carla"),
        Contact(role="publisher", organisation="PANGAEA - Data Publisher for Earth & Environmental Science"),
    ]
    assert record.constraints == Constraints(
        licence="Creative Commons Attribution 3.0 Unported",
        licence_url="https://creativecommons.org/licenses/by/3.0/",
    )
    assert record.formats == [Format(name="application/zip")]
    assert record.warnings == []


def test_pangaea_cruise_over_the_antimeridian_with_parent_and_orcids():
    record = convert(ALLIGATOR)
    # west 140.025, east -124.066: the North Pacific, across the antimeridian.
    assert record.bboxes == [BBox(140.025, 34.4607, -124.066, 56.98779999999999)]
    assert record.temporal == [TemporalExtent(start="1999-11-25T00:10:00Z", end="1999-12-07T16:30:00Z")]
    # relatedIdentifier DOI IsPartOf 10.1594/PANGAEA.767698
    assert record.parent_id == "10.1594/pangaea.767698"
    assert record.links == [Link(url="https://doi.org/10.1594/pangaea.767698", description="IsPartOf")]
    # Only a TechnicalInfo description: it stands in for the abstract.
    assert record.abstract == LocalisedText(
        text="Detailed metadata description of each cruise doi:10.1594/PANGAEA.769638", lang="en"
    )
    assert record.contacts == [
        Contact(role="author", name="Nojiri, Yukihiro", url="http://orcid.org/0000-0001-9885-9195"),
        Contact(role="publisher", organisation="PANGAEA - Data Publisher for Earth & Environmental Science"),
        Contact(
            role="resourceProvider",  # HostingInstitution, no nameType: an institution
            organisation="Carbon Dioxide Information Analysis Center, Oak Ridge National Laboratory",
        ),
        Contact(role="collaborator", name="Olsen, Are", url="http://orcid.org/0000-0003-1696-9142"),
    ]
    assert len(record.keywords) == 25
    assert record.keywords[-1] == Keyword(
        label="Surface Ocean CO2 Atlas Project (SOCAT)", lang="en", thesaurus="Project"
    )


# --- GFZ kernel 2.2 and FID GEO kernel 3 -------------------------------------------------------------------
def test_geofon_kernel_2_2_in_an_oai_datacite_payload():
    record = convert(GEOFON)
    assert record.native_id == "10.5880/geofon.gfz2012mfau"
    assert record.title == LocalisedText(
        text="GEOFON event gfz2012mfau (Kermadec Islands Region; Magnitude 5.2)", lang="en"
    )
    assert record.abstract.text == "Earthquake, 2012-06-22 12:30:19, Kermadec Islands Region"
    assert record.language == "en"  # <language>eng</language>
    assert record.resource_type == "dataset"
    assert (record.created, record.published) == ("2012-06-22", "2012-06-22")  # Accepted is not mapped
    assert record.contacts == [
        Contact(role="author", name="geofon operator"),
        Contact(role="publisher", organisation="Deutsches GeoForschungsZentrum GFZ"),
        Contact(role="resourceProvider", organisation="Deutsches GeoForschungsZentrum GFZ"),
    ]
    assert record.formats == [Format(name="text/tab-separated-values")]
    assert record.bboxes == []
    assert record.warnings == []


def test_fid_geo_kernel_3_text_box_and_line_breaks():
    record = convert(SNOWMELT)
    assert record.native_id == "10.5880/fidgeo.2017.006"
    assert record.title == LocalisedText(text="Snowmelt Paramaters, 1987-2016, High Mountain Asia", lang="en")
    # <geoLocationBox>25 67.5 45 95</geoLocationBox>: S W N E.
    assert record.bboxes == [BBox(67.5, 25.0, 95.0, 45.0)]
    assert record.places == ["High Mountain Asia, 1987-2016"]
    assert record.temporal == [TemporalExtent(start="1987-10-01", end="2016-10-01")]
    assert (record.created, record.published) == ("2017-06-29", "2017")
    # <br/><br/> between the paragraphs; the pretty-printer's indentation is not kept.
    paragraphs = record.abstract.text.split("\n\n")
    assert len(paragraphs) == 3
    assert paragraphs[0].endswith("over the period 1987-2016.")
    assert paragraphs[2] == (
        "Six TIF files, showing the average Snowmelt Onset, End and Period and Trends in the same three"
        " variables. Data format is GeoTIFF."
    )
    # An ORCID without schemeURI gets orcid.org; Researcher contributors are collaborators.
    assert record.contacts[0] == Contact(
        role="author",
        name="Smith, Taylor",
        organisation="Universitat Potsdam",
        url="https://orcid.org/0000-0002-6763-7204",
    )
    assert [c.role for c in record.contacts] == [
        "author",
        "author",
        "publisher",
        "collaborator",
        "collaborator",
    ]
    assert record.constraints == Constraints(
        licence="CC BY 4.0", licence_url="http://creativecommons.org/licenses/by/4.0/"
    )
    assert record.links == [Link(url="https://doi.org/10.5194/tc-11-2329-2017", description="IsSupplementTo")]
    assert record.formats == [Format(name="application/x-zip-compressed")]
    # <date dateType="Available">/2</date> is a date type the model does not keep: no warning.
    assert record.warnings == []


# --- EnviDat ----------------------------------------------------------------------------------------------
def test_envidat_kernel_3_dead_wood():
    record = convert(DEAD_WOOD)
    assert record.native_id == "10.21258/1057112"
    # <geoLocationBox>45.81802 5.95587 47.80838 10.49203</geoLocationBox>: Switzerland.
    assert record.bboxes == [BBox(5.95587, 45.81802, 10.49203, 47.80838)]
    assert record.places == ["Switzerland"]
    assert record.title == LocalisedText(text="Stem number of dead wood NFI1", lang="en")  # xml:lang en-us
    assert record.identifiers[1] == Identifier(
        code="https://www.envidat.ch/dataset/stem_number_of_dead_wood_nfi1-248",
        scheme="URL",
        url="https://www.envidat.ch/dataset/stem_number_of_dead_wood_nfi1-248",
    )
    assert record.links == [
        Link(
            url="https://www.envidat.ch/dataset/stem_number_of_dead_wood_nfi1-248",
            function="information",
            description="landing page",
        )
    ]
    assert record.constraints == Constraints(other=["Other (Open)"])
    assert record.created == "2018-12-06"
    assert record.published == "2014"
    assert len([c for c in record.contacts if c.role == "author"]) == 12
    assert record.contacts[5] == Contact(role="author", name="Huber M.", organisation="WSL")
    assert record.contacts[-1] == Contact(role="pointOfContact", name="Urs-Beat Brändli", organisation="WSL")
    assert record.abstract.text.startswith("Number of stems of dead trees and shrubs (standing and lying)")


def test_envidat_polygon_and_placeholder_funder():
    record = convert(SIPEX)
    assert record.bboxes == [BBox(114.0, -66.0, 122.0, -63.0)]  # the polygon's five points
    assert record.places == ["Antarctica, Southern Ocean [-66 114 -63 122]"]
    assert record.temporal == [TemporalExtent(start="2012-09-01", end="2012-09-01")]  # Collected, one day
    assert record.constraints == Constraints(
        licence="ODbL with Database Contents License (DbCL)",
        licence_url="https://opendefinition.org/licenses/odc-odbl",
    )
    assert record.contacts[0] == Contact(role="author", name="Ernesto Trujillo", organisation="EPFL; SLF")
    assert record.contacts[5] == Contact(
        role="publisher", organisation="École polytechnique fédérale de Lausanne"
    )
    assert record.contacts[6] == Contact(
        role="pointOfContact", name="Ernesto Trujillo", organisation="EPFL, SLF"
    )
    # <funderName>Funding information not available.</funderName> is no funder.
    assert [c.role for c in record.contacts].count("funder") == 0
    assert record.formats == [Format(name="DOC"), Format(name="DAT"), Format(name="ZIP")]
    assert record.abstract.text.splitlines()[1] == "How to cite:"  # the author's line breaks are kept
    assert record.warnings == []


# --- INRAE OAI-PMH response ------------------------------------------------------------------------------
def test_inrae_record_in_a_whole_oai_response():
    record = convert(INRAE)
    assert record.native_id == "10.15454/zzzxk8"
    assert record.title == LocalisedText(text="IPK:Beta vulgaris:BETA 465")  # no language anywhere
    assert record.abstract.text == "Abstract:AKER_1544 is a Beta vulgaris accession from GnpIS."
    assert (record.created, record.published, record.revised) == ("2017-05-08", "2018", "2019-09-18")
    assert record.contacts == [
        Contact(role="author", name="GnpIS"),
        Contact(role="publisher", organisation="Portail Data INRAE"),
        Contact(role="pointOfContact", organisation="Rinnova"),  # affiliation www.inra.fr: ignored
        Contact(role="pointOfContact", organisation="URGI data", emails=["urgi-data@inra.fr"]),
        Contact(role="distributor", organisation="INRA"),
    ]
    assert record.constraints == Constraints(
        licence="CC BY 2.0", access=["info:eu-repo/semantics/openAccess"]
    )
    assert [k.label for k in record.keywords] == ["Medicine, Health and Life Sciences", "Genetic Resource"]
    assert record.bboxes == []  # <geoLocations/>
    assert record.warnings == []


# --- DataCite's own examples -----------------------------------------------------------------------------
def test_full_example_titles_descriptions_and_dates():
    record = convert(FULL)
    assert record.native_id == "10.82433/b09z-4k37"
    # The relatedItem's "Example RelatedItem Title" is not the resource's.
    assert record.title == LocalisedText(
        text="Example Title", lang="en", translations={"fr": "Example TranslatedTitle"}
    )
    assert Keyword(label="Example Subtitle", lang="en") in record.keywords
    assert Keyword(label="Example AlternativeTitle", lang="en") in record.keywords
    assert record.keywords[0] == Keyword(
        label="FOS: Computer and information sciences",
        uri="http://www.oecd.org/science/inno/38235147.pdf",
        lang="en",
        thesaurus="Fields of Science and Technology (FOS)",
        thesaurus_uri="http://www.oecd.org/science/inno",
    )
    assert record.abstract == LocalisedText(text="Example Abstract", lang="en")
    assert record.lineage == "Example Methods"
    assert (record.created, record.published, record.revised) == ("2024-01-01", "2024-01-01", "2024-01-01")
    assert record.temporal == [  # Collected and Coverage are the same range, Valid one day
        TemporalExtent(start="2024-01-01", end="2024-12-31"),
        TemporalExtent(start="2024-01-01", end="2024-01-01"),
    ]
    assert record.identifiers == [
        Identifier(code="10.82433/b09z-4k37", scheme="doi", url="https://doi.org/10.82433/b09z-4k37"),
        Identifier(code="12345", scheme="Local accession number"),
    ]
    # Vancouver point, Vancouver box, and the box of the polygon off Cape Cod.
    assert record.bboxes == [
        BBox(-123.1207, 49.2827, -123.1207, 49.2827),
        BBox(-123.27, 49.195, -123.02, 49.315),
        BBox(-71.032, 41.09, -68.211, 42.893),
    ]
    assert record.constraints == Constraints(
        licence="Creative Commons Attribution 4.0 International",
        licence_url="https://creativecommons.org/licenses/by/4.0/",
    )
    assert record.warnings == []


def test_full_example_parties_and_related_identifiers():
    record = convert(FULL)
    # Two creators (the relatedItem's creator is not one), the publisher with its ROR, 21 contributors,
    # the funder.
    assert record.contacts[:3] == [
        Contact(
            role="author",
            name="ExampleFamilyName, ExampleGivenName",
            organisation="ExampleAffiliation",
            url="https://orcid.org/0000-0001-5727-2427",
        ),
        Contact(role="author", organisation="ExampleOrganization", url="https://ror.org/04wxnsj81"),
        Contact(role="publisher", organisation="Example Publisher", url="https://ror.org/04z8jg394"),
    ]
    roles = [contact.role for contact in record.contacts]
    for role in (
        "pointOfContact",
        "collaborator",
        "custodian",
        "distributor",
        "editor",
        "resourceProvider",
        "originator",
        "principalInvestigator",
        "rightsHolder",
        "sponsor",
    ):
        assert role in roles
    assert record.contacts[-1] == Contact(
        role="funder", organisation="Example Funder", url="https://doi.org/10.13039/501100000780"
    )
    # DOI and URL related identifiers only (ARK, arXiv, Handle, ISBN... give no address); the relation
    # type is the description.
    assert record.links[0] == Link(
        url="https://doi.org/10.1016/j.epsl.2011.11.037", description="IsContinuedBy"
    )
    assert Link(url="http://www.heatflow.und.edu/index2.html", description="References") in record.links
    assert len(record.links) == 21
    assert record.parent_id is None  # its IsPartOf is a PMID


def test_geolocation_point_and_spdx_only_rights():
    record = convert("schema__datacite-example-GeoLocation-v4.xml")
    assert record.bboxes == [BBox(-52.0, 69.0, -52.0, 69.0)]  # a point: a degenerate box
    assert record.places == ["Disko Bay"]
    # <rights ... rightsIdentifier="CC-BY-3.0" rightsURI="https://creativecommons.org/licenses/by/3.0" />
    assert record.constraints == Constraints(
        licence="CC-BY-3.0", licence_url="https://creativecommons.org/licenses/by/3.0"
    )
    assert record.links == [Link(url="https://doi.org/10.5072/timeseries", description="Continues")]
    assert record.contacts[-1] == Contact(
        role="resourceProvider",
        organisation="IFM-GEOMAR Leibniz-Institute of Marine Sciences, Kiel University",
    )


def test_polygons_across_the_antimeridian_and_around_the_earth():
    record = convert("schema__datacite-example-polygon-advanced-v4.1.xml")
    assert record.resource_type == "software"
    assert record.bboxes == [
        BBox(-180.0, -16.987368, -179.81332, -16.6625),  # Taveuni, west of 180°
        BBox(179.87342, -17.01977, 180.0, -16.774761),  # Taveuni, east of 180°
        BBox(-175.0, -85.0, 175.0, 85.0),  # "Almost the entire earth"
    ]
    assert record.places == ["Taveuni Island", "Almost the entire earth"]
    assert record.contacts[0] == Contact(
        role="author", name="Stefan Jakobsson", organisation="Swedish National Data Service"
    )


def test_instrument_and_collected_box_examples():
    instrument = convert("schema__datacite-example-instrument-v4.xml")
    assert instrument.resource_type == "sensor"  # resourceTypeGeneral Instrument
    assert instrument.contacts[0] == Contact(
        role="author", organisation="DECTRIS", url="https://www.wikidata.org/wiki/Q107529885"
    )
    assert instrument.identifiers[1] == Identifier(code="1234567", scheme="SerialNumber")
    report = convert("schema__datacite-example-Box_dateCollected_DataCollector-v4.xml")
    assert report.resource_type == "document"  # resourceTypeGeneral Text
    assert report.bboxes == [BBox(-64.2, 44.7167, -63.8, 44.9667)]
    assert report.temporal == [TemporalExtent(start="1961-06-01", end="1962-10-12")]
    assert report.keywords[0] == Keyword(
        label="Temperature", lang="en", thesaurus="LCCN", thesaurus_uri="https://lccn.loc.gov/sh85062931"
    )
    assert report.contacts[-1] == Contact(role="collaborator", name="Pomegranate, B.")  # DataCollector


# --- pycsw OAI-PMH responses (a resource without namespace) ------------------------------------------------
def test_pycsw_get_record_without_namespace():
    [raw] = oai_records("pycsw__oaipmh_get_GetRecord_datacite.xml")
    record = CROSSWALK.to_record(raw)
    assert record.native_id == "urn:uuid:19887a8a-f6b0-4a63-ae56-7fba0e17801f"
    assert record.identifiers == [
        Identifier(code="urn:uuid:19887a8a-f6b0-4a63-ae56-7fba0e17801f", scheme="URN")
    ]
    assert record.title == LocalisedText(text="Lorem ipsum", lang="en")  # xml:lang="eng"
    assert record.resource_type == "dataset"  # resourceTypeGeneral Image
    assert record.keywords == [Keyword(label="Tourism--Greece", lang="en")]
    assert record.contacts == []  # <creatorName/>
    assert record.constraints is None  # <rightsList/>
    assert record.formats == [Format(name="image/svg+xml")]
    assert record.provenance.datestamp is None  # <oai:datestamp/>
    assert record.warnings == ["resource: no DataCite kernel namespace; read as DataCite kernel 4"]


def test_pycsw_list_records():
    raws = oai_records("pycsw__oaipmh_get_ListRecords_datacite.xml")
    assert len(raws) == 10
    records = {}
    for raw in raws:
        try:
            records[raw.native_id] = CROSSWALK.to_record(raw)
        except Rejected as exc:
            records[raw.native_id] = exc.code
    assert records["urn:uuid:1ef30a8b-876d-4828-9246-c37ab4510bbd"] == "no-title"
    assert records["urn:uuid:88247b56-4cbc-4df9-9860-db3f8042e357"] == "no-title"
    crops = records["urn:uuid:94bc9c83-97f6-4b40-9eb8-a8e8787a5c63"]
    assert crops.title.text == "Mauris sed neque"
    assert crops.bboxes == [BBox(-4.1, 47.59, 0.89, 51.22)]
    assert (crops.published, crops.revised) == ("2006", "2006-03-26")
    assert crops.provenance.datestamp == "2006-03-26"
    assert records["urn:uuid:6a3de50b-fa66-4b58-a0e6-ca146fdd18d4"].resource_type == "service"
    assert records["urn:uuid:784e2afd-a9fd-44a6-9a92-a3848371c8ec"].resource_type == "document"
    assert records["urn:uuid:6a3de50b-fa66-4b58-a0e6-ca146fdd18d4"].abstract is None  # <description/>
