"""The DIF crosswalk against the real records in ``tests/data/dif`` (see its README).

Every expected value below was read in the XML file by hand (the comment says where when it is not
obvious); none is computed by the code under test. The records of the pycsw GetRecords response and of
the invalid file are taken out of them as a protocol hands records over. The corpus has no DIF 10 record:
one test rewrites the real GCMD DIF 9 record with the DIF 10 names and nesting of the same elements
(values unchanged) and expects the same Record. The only other hand-made input is the not-XML bytes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from catalogue.record import (
    BBox,
    Contact,
    Keyword,
    Link,
    LocalisedText,
    Record,
    TemporalExtent,
    from_json,
    to_json,
)
from harvester.formats import Rejected
from harvester.formats.dif import DIF
from harvester.raw import RawRecord
from tests import crosswalk_checks as checks

CORPUS = Path(__file__).resolve().parent / "data" / "dif"
CORPUS_FILES = sorted(CORPUS.glob("*.xml"))
GCMD = "gcmd__dif_record.xml"
OWSLIB = "owslib__9250AA67-F3AC-6C12-0CB9-0662231AA181_dif.xml"
INVALID = "gcmd__invalid_dif.xml"
RESPONSE = "pycsw__post_GetRecords-filter-bbox.xml"
DIF9 = "http://gcmd.gsfc.nasa.gov/Aboutus/xml/dif/"
DIF10 = "http://gcmd.nasa.gov/Aboutus/xml/dif/"
REJECTION_CODES = {"not-xml", "not-dif", "no-identifier", "no-title"}
CROSSWALK = DIF()
SCIENCE_KEYWORDS_URI = "https://gcmd.earthdata.nasa.gov/kms/concepts/concept_scheme/sciencekeywords"
LOCATIONS_URI = "https://gcmd.earthdata.nasa.gov/kms/concepts/concept_scheme/locations"


def convert(name: str, *, native_id: str | None = None) -> Record:
    raw = RawRecord(source_id="demo", format="dif", content=(CORPUS / name).read_bytes(), native_id=native_id)
    return CROSSWALK.to_record(raw, pole="aeris")


def records_in(name: str) -> list[RawRecord]:
    """The DIF records of a file holding several, each as its own raw record (element and bytes)."""
    root = etree.fromstring((CORPUS / name).read_bytes())
    return [
        RawRecord(source_id="pycsw", format="dif", content=etree.tostring(dif), element=dif)
        for dif in root.iter(f"{{{DIF9}}}DIF")
    ]


def rejection(content: bytes) -> Rejected:
    return checks.rejected_bytes(CROSSWALK, content)


# --- the whole corpus ---------------------------------------------------------------------------------------
def test_the_corpus_is_there():
    assert [path.name for path in CORPUS_FILES] == [GCMD, INVALID, OWSLIB, RESPONSE]
    assert len(records_in(RESPONSE)) == len(records_in(INVALID)) == 2


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda path: path.name)
def test_every_corpus_file_gives_a_record_or_a_known_rejection(path: Path):
    # Fewer checks than ``check_corpus_input``: not the pole, nor that the id goes on after "demo.".
    record = checks.record_or_known_rejection(
        CROSSWALK, path.read_bytes(), pole="aeris", codes=REJECTION_CODES
    )
    if record is None:
        return
    assert record.id.startswith("demo.")
    assert record.native_id.strip() == record.native_id != ""
    assert record.title.text.strip() == record.title.text != ""
    assert record.provenance is not None and record.provenance.native_format == "dif"
    assert from_json(to_json(record)) == record


def test_which_files_are_rejected_and_why():
    rejected = checks.rejections(CROSSWALK, checks.named_files(CORPUS_FILES))
    assert rejected == {INVALID: "not-dif", OWSLIB: "no-identifier", RESPONSE: "not-dif"}


def test_the_registry_gives_this_crosswalk():
    checks.assert_registered(DIF, "dif")


def test_the_corpus_converts_in_a_few_milliseconds_per_record():
    raws = records_in(RESPONSE) + records_in(INVALID)
    raws += [
        RawRecord(source_id="d", format="dif", content=(CORPUS / n).read_bytes(), native_id="x")
        for n in (GCMD, OWSLIB)
    ]
    assert checks.seconds_per_record(CROSSWALK, raws) < 0.010


# --- rejections ---------------------------------------------------------------------------------------------
def test_bytes_that_are_not_xml_are_rejected():
    assert rejection(b"<DIF><Entry_ID>x</DIF>").code == "not-xml"


def test_the_invalid_file_holds_two_records_and_is_rejected_as_a_whole():
    # <Root> around two DIFs: no single record to read, and keeping the first would lose the second.
    exc = rejection((CORPUS / INVALID).read_bytes())
    assert exc.code == "not-dif"
    assert exc.message.startswith("root element Root holds 2 DIF records")


def test_each_dif_of_the_invalid_file_is_a_record_with_an_id_and_a_title_only():
    first, second = (CROSSWALK.to_record(raw) for raw in records_in(INVALID))
    assert (first.native_id, second.native_id) == ("1", "2")
    assert first.title == second.title == LocalisedText(text="invalid record")
    assert first.abstract is None and first.keywords == [] and first.contacts == [] and first.warnings == []


def test_a_whole_csw_response_is_rejected():
    exc = rejection((CORPUS / RESPONSE).read_bytes())
    assert exc.code == "not-dif"
    assert "GetRecordsResponse holds 2 DIF records" in exc.message


def test_an_empty_entry_id_is_rejected_unless_the_protocol_gives_an_id():
    # OWSLib's record: <Entry_ID/>, and no DOI in its citation.
    with pytest.raises(Rejected) as info:
        convert(OWSLIB)
    assert info.value.code == "no-identifier"
    assert "Entry_ID" in info.value.message
    assert convert(OWSLIB, native_id="9250AA67-F3AC-6C12-0CB9-0662231AA181").id == (
        "demo.9250AA67-F3AC-6C12-0CB9-0662231AA181"
    )


# --- the GCMD DIF 9.8 test record ---------------------------------------------------------------------------
def test_gcmd_identity_and_description():
    record = convert(GCMD)
    assert record.native_id == "test-doc-001"
    assert record.id == "demo.test-doc-001"
    assert record.pole == "aeris"
    assert record.resource_type == "dataset"
    assert record.title == LocalisedText(text="Dif Parsing Test")
    assert record.abstract == LocalisedText(
        text="A DIF XML to Hash conversion test to see if all edge cases are handled correctly."
    )  # Summary/Abstract
    assert record.language == "en"  # Data_Set_Language "English"
    assert record.metadata_date == "2012-08-07"  # Last_DIF_Revision_Date
    assert record.published is None  # the citation has no Dataset_Release_Date


def test_gcmd_parameters_are_gcmd_science_keyword_paths():
    keywords = convert(GCMD).keywords
    assert keywords[:2] == [
        Keyword(
            label="TEST SCIENCE > TEST CLASSIFICATION > TEST/CLASS > CODE > PARSING > TRANSFORMATION",
            type="theme",
            thesaurus="GCMD Science Keywords",
            thesaurus_uri=SCIENCE_KEYWORDS_URI,
        ),
        Keyword(
            label="XML > STANDARDS > CONVERSION > XML > STANDARDS > CONVERSION",
            type="theme",
            thesaurus="GCMD Science Keywords",
            thesaurus_uri=SCIENCE_KEYWORDS_URI,
        ),
    ]
    # Location_Category > Location_Type > Location_Subregion1 > Location_Subregion2.
    assert keywords[-2:] == [
        Keyword(
            label="OCEAN > DEEP OCEAN > CODE OCEAN > DEEP CODE BLUE",
            type="place",
            thesaurus="GCMD Locations",
            thesaurus_uri=LOCATIONS_URI,
        ),
        Keyword(
            label="GEOGRAPHIC REGION > CODE COUNTRY",
            type="place",
            thesaurus="GCMD Locations",
            thesaurus_uri=LOCATIONS_URI,
        ),
    ]


def test_gcmd_topic_categories_that_are_not_iso_stay_keywords_with_a_warning():
    record = convert(GCMD)
    assert record.topic_categories == []
    assert [Keyword(label="CODE"), Keyword(label="RUBY"), Keyword(label="XML")] == record.keywords[2:5]
    assert record.warnings == [
        f"ISO_Topic_Category: {value!r} is not an ISO 19115 topic category; kept as a keyword"
        for value in ("CODE", "RUBY", "XML")
    ]


def test_gcmd_extents():
    record = convert(GCMD)
    # Two Spatial_Coverage points (south = north, west = east) and two Temporal_Coverage periods,
    # the first ending "2012-08-1".
    assert record.bboxes == [BBox(35.0, 75.0, 35.0, 75.0), BBox(75.0, 35.0, 75.0, 35.0)]
    assert record.temporal == [
        TemporalExtent(start="2012-07-28", end="2012-08-01"),
        TemporalExtent(start="2012-08-05", end="2012-08-07"),
    ]
    assert record.places == ["CODE STRAIT"]  # Detailed_Location


def test_gcmd_personnel_one_contact_per_role_and_the_data_centre():
    contacts = convert(GCMD).contacts
    address = "Code Test Lane, Nr.1, Pbox T, 1351 Testsville, Testas"
    dux = {"name": "R Dux", "emails": ["rdux@test.to", "rdux.test@account.to"], "address": address}
    # R Dux: Investigator and Technical Contact; a fax number and no phone.
    assert contacts[0] == Contact(role="principalInvestigator", country="Testilvania", **dux)
    assert contacts[1] == Contact(role="pointOfContact", country="Testilvania", **dux)
    assert contacts[2] == Contact(
        role="principalInvestigator",
        name="Cnrd H",
        emails=["cnrdh@test.to"],
        phones=["555 424521"],
        address="Code Test Road, Nr.2, 1351 Testsville, Testas",
        country="Testilvania",
    )
    # The Data_Center's contact person carries the centre's long name and URL.
    assert contacts[3] == Contact(
        role="distributor", organisation="Testicon", url="http://www.tasti.ts", country="Testilvania", **dux
    )
    assert contacts[4] == Contact(role="author", name="RDux, CnrdH")  # Dataset_Creator as written
    assert len(contacts) == 5


def test_gcmd_as_dif10_gives_the_same_record():
    assert CROSSWALK.to_record(
        RawRecord(source_id="demo", format="dif", content=as_dif10(GCMD)), pole="aeris"
    ) == (convert(GCMD))


def as_dif10(name: str) -> bytes:
    """The DIF 9 record rewritten with the DIF 10 names and nesting of the same elements, values unchanged:
    namespace, Entry_ID/Short_Name, Science_Keywords, Range_DateTime, Geometry/Bounding_Rectangle,
    Organization, Contact_Person (Address/Street_Address, typed Phone), Dataset_Citation,
    Dataset_Language, Metadata_Dates."""
    root = etree.fromstring((CORPUS / name).read_bytes().replace(DIF9.encode(), DIF10.encode()))

    def q(local: str) -> str:
        return f"{{{DIF10}}}{local}"

    def rename(element: etree._Element, local: str) -> None:
        element.tag = q(local)

    def nest(parent: etree._Element, local: str, children: list[etree._Element]) -> etree._Element:
        wrapper = etree.Element(q(local))
        parent.insert(parent.index(children[0]), wrapper)
        wrapper.extend(children)
        return wrapper

    entry = root.find(q("Entry_ID"))
    etree.SubElement(entry, q("Short_Name")).text, entry.text = entry.text, None
    etree.SubElement(entry, q("Version")).text = "Not provided"
    for element in root.findall(q("Parameters")):
        rename(element, "Science_Keywords")
    for coverage in root.findall(q("Temporal_Coverage")):
        for old, new in (("Start_Date", "Beginning_Date_Time"), ("Stop_Date", "Ending_Date_Time")):
            rename(coverage.find(q(old)), new)
        nest(coverage, "Range_DateTime", list(coverage))
    for coverage in root.findall(q("Spatial_Coverage")):
        bounds = list(coverage)
        etree.SubElement(etree.SubElement(coverage, q("Geometry")), q("Bounding_Rectangle")).extend(bounds)
    for personnel in root.iter(q("Personnel")):
        for phone in personnel.findall(q("Phone")) + personnel.findall(q("Fax")):
            number, phone.text = phone.text, None
            etree.SubElement(phone, q("Number")).text = number
            etree.SubElement(phone, q("Type")).text = "Telephone" if phone.tag == q("Phone") else "Fax"
            rename(phone, "Phone")
        address = personnel.find(q("Contact_Address"))
        rename(address, "Address")
        for street in address.findall(q("Address")):
            rename(street, "Street_Address")
        rename(address.find(q("Province_or_State")), "State_Province")
        nest(personnel, "Contact_Person", [child for child in personnel if child.tag != q("Role")])
    centre = root.find(q("Data_Center"))
    rename(centre, "Organization")
    rename(centre.find(q("Data_Center_Name")), "Organization_Name")
    rename(centre.find(q("Data_Center_URL")), "Organization_URL")
    etree.SubElement(centre, q("Organization_Type")).text = "DISTRIBUTOR"
    rename(root.find(q("Data_Set_Citation")), "Dataset_Citation")
    rename(root.find(q("Data_Set_Language")), "Dataset_Language")
    dates = nest(
        root, "Metadata_Dates", [root.find(q("DIF_Creation_Date")), root.find(q("Last_DIF_Revision_Date"))]
    )
    rename(dates[0], "Metadata_Creation")
    rename(dates[1], "Metadata_Last_Revision")
    return etree.tostring(root)


# --- Environment Canada (OWSLib), DIF 9.7 -------------------------------------------------------------------
def test_owslib_description_and_iso_topic_codes():
    record = convert(OWSLIB, native_id="9250AA67-F3AC-6C12-0CB9-0662231AA181")
    assert record.title == LocalisedText(text="ALLSPECIES")
    assert record.abstract.text.startswith(
        "272 Categorized Initiatives: Initiatives are referenced to a Category"
    )
    assert record.language == "en"  # "eng; CAN"
    assert record.topic_categories == [
        "farming",
        "climatologyMeteorologyAtmosphere",
        "biota",
        "environment",
        "inlandWaters",
        "oceans",
    ]
    # 51 Keyword elements; the empty Parameters block gives none.
    assert len(record.keywords) == 51
    assert record.keywords[0] == Keyword(label="citizen")
    assert record.keywords[-1] == Keyword(label="International > North America")
    assert record.published == "2009-09-03"  # Dataset_Release_Date
    assert record.metadata_date == "2009-09-03"  # DIF_Creation_Date
    assert record.warnings == []


def test_owslib_parties_and_links():
    record = convert(OWSLIB, native_id="9250AA67-F3AC-6C12-0CB9-0662231AA181")
    # Role "primary" is no DIF role: kept as written. The Data_Center is empty: no contact.
    assert record.contacts == [
        Contact(
            role="primary",
            name="EMAN Office",
            emails=["Marlene.Doyle@ec.gc.ca"],
            phones=["+01-905-336-4453"],
            address="867 Lakeshore Road, L7R-4A6 Burlington, Ontario",
            country="CAN",
        ),
        Contact(role="originator", organisation="EMAN Coordinating Office, Environment Canada"),
        Contact(role="author", name="EMAN Coordinating Office, Environment Canada"),
    ]
    # URL_Content_Type "accessLink" has no ISO equivalent and stays; "none" says nothing. The relative
    # URL is kept as given (rendering decides what is a safe link).
    assert record.links == [
        Link(url="http://www.citizenscience.ca/", function="accessLink"),
        Link(url="DisplayFullMetadata.jsp?id=FBAED13B-DF3C-9CCC-95A6-27BEB390001C"),
    ]
    assert record.bboxes == [] and record.temporal == [] and record.constraints is None


# --- pycsw's GetRecords response in DIF ---------------------------------------------------------------------
def test_pycsw_records_with_empty_elements():
    first, second = (CROSSWALK.to_record(raw, pole="theia") for raw in records_in(RESPONSE))
    assert first.native_id == "urn:uuid:94bc9c83-97f6-4b40-9eb8-a8e8787a5c63"
    assert first.id.startswith("pycsw.urn-uuid-94bc9c83-97f6-4b40-9eb8-a8e8787a5c63-")  # ':' hashed
    assert first.title == LocalisedText(text="Mauris sed neque")
    assert first.abstract == LocalisedText(
        text="Curabitur lacinia, ante non porta tempus, mi lorem feugiat odio, eget suscipit eros pede ac"
        " velit."
    )
    assert first.keywords == [Keyword(label="Vegetation-Cropland")]
    assert first.bboxes == [BBox(-4.1, 47.59, 0.89, 51.22)]
    # Empty Start_Date/End_Date, ISO_Topic_Category, Access_Constraints, Data_Set_Language, DIF_Creation_Date.
    assert (first.temporal, first.topic_categories, first.constraints, first.language) == ([], [], None, None)
    assert first.metadata_date is None and first.warnings == []
    assert second.title == LocalisedText(text="Ñunç elementum")
    assert second.abstract is None  # <dif:Summary></dif:Summary>
    assert second.bboxes == [BBox(-6.17, 44.79, -2.23, 51.13)]
    assert second.keywords == [Keyword(label="Hydrography-Oceanographic")]


def test_an_element_parsed_by_the_protocol_gives_the_same_record_as_its_bytes():
    checks.assert_element_gives_the_bytes_record(CROSSWALK, records_in(RESPONSE)[0])
