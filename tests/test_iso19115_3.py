"""The ISO 19115-3 crosswalk against the real records in ``tests/data/iso19115-3`` (see its README).

Every expected value below was read in the XML file by hand (the comment says where when it is not
obvious); none is computed by the code under test. The records of the pycsw GetRecords response are
taken out of it as the CSW protocol hands them over. The only hand-made inputs are the not-XML bytes and
two real records with an element taken out (no identifier, no title). Two records have an ISO 19139 twin
in the demo records: both crosswalks must give them the same Record.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

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
    from_json,
    to_json,
)
from harvester.formats import Rejected
from harvester.formats.iso19115_3 import ISO19115_3
from harvester.formats.iso19139 import ISO19139
from harvester.raw import RawRecord
from tests import crosswalk_checks as checks

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "iso19115-3"
CORPUS_FILES = sorted(CORPUS.glob("*.xml"))
ISO19139_DEMO = ROOT / "config" / "demo" / "records" / "iso19139"
RESPONSE = CORPUS / "pycsw__iso19115p3__post_GetRecords-all.xml"
MDB = "http://standards.iso.org/iso/19115/-3/mdb/2.0"
CIT = "http://standards.iso.org/iso/19115/-3/cit/2.0"
MRI = "http://standards.iso.org/iso/19115/-3/mri/1.0"
REJECTION_CODES = {"not-xml", "not-iso19115-3", "no-identifier", "no-title"}
CROSSWALK = ISO19115_3()


def raw_record(name: str, *, native_id: str | None = None, datestamp: str | None = None) -> RawRecord:
    return checks.raw_file(CROSSWALK, CORPUS / name, native_id=native_id, datestamp=datestamp)


def convert(name: str, **kwargs: str | None) -> Record:
    return CROSSWALK.to_record(raw_record(name, **kwargs), pole="theia")


def response_records() -> list[RawRecord]:
    """The records of the pycsw response, as the CSW protocol hands them: each element, and its bytes."""
    page = etree.fromstring(RESPONSE.read_bytes())
    return [
        RawRecord(source_id="pycsw", format="iso19115-3", content=etree.tostring(md), element=md)
        for md in page.iter(f"{{{MDB}}}MD_Metadata")
    ]


def from_response(position: int) -> Record:
    return CROSSWALK.to_record(response_records()[position], pole="formater")


def rejection(content: bytes, native_id: str | None = None) -> Rejected:
    return checks.rejected_bytes(CROSSWALK, content, native_id=native_id)


# --- the whole corpus ---------------------------------------------------------------------------------------
def test_the_corpus_is_there():
    assert len(CORPUS_FILES) == 12
    assert len(response_records()) == 4


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda path: path.name)
def test_every_corpus_file_gives_a_record_or_a_known_rejection(path: Path):
    checks.check_corpus_input(CROSSWALK, path.read_bytes(), pole="theia", codes=REJECTION_CODES)


def test_every_record_of_the_response_gives_a_record_that_round_trips():
    for raw in response_records():
        record = CROSSWALK.to_record(raw)
        assert from_json(to_json(record)) == record


def test_only_the_whole_csw_response_is_rejected():
    rejected = checks.rejections(CROSSWALK, checks.named_files(CORPUS_FILES))
    assert rejected == {RESPONSE.name: "not-iso19115-3"}


def test_the_registry_gives_this_crosswalk():
    checks.assert_registered(ISO19115_3, "iso19115-3")


def test_the_whole_corpus_converts_in_a_few_milliseconds_per_record():
    """A loose guard against a pathological slowdown (the ISO 19139 crosswalk takes ~1 ms a record)."""
    raws = [raw_record(path.name, native_id="x") for path in CORPUS_FILES if path != RESPONSE]
    raws += response_records()
    assert checks.seconds_per_record(CROSSWALK, raws) < 0.010


# --- rejections ---------------------------------------------------------------------------------------------
def test_bytes_that_are_not_xml_are_rejected_with_the_parser_message():
    exc = rejection(b"<mdb:MD_Metadata>not closed")
    assert exc.code == "not-xml"
    assert "line 1" in exc.message


def test_an_iso19139_record_is_not_iso19115_3_and_the_message_names_its_root():
    exc = rejection((ISO19139_DEMO / "geonetwork__UpperRhineCastles-iso19139.xml").read_bytes())
    assert exc.code == "not-iso19115-3"
    assert "{http://www.isotc211.org/2005/gmd}MD_Metadata" in exc.message


def test_a_whole_csw_response_is_rejected_saying_how_many_records_it_holds():
    exc = rejection(RESPONSE.read_bytes())
    assert exc.code == "not-iso19115-3"
    assert "GetRecordsResponse holds 4 mdb:MD_Metadata records" in exc.message


def multilingual_without(path: str) -> bytes:
    """The multilingual template with the element at ``path`` taken out."""
    root = etree.fromstring((CORPUS / "geonetwork__metadata-multilingual.xml").read_bytes())
    element = root.find(path)
    element.getparent().remove(element)
    return etree.tostring(root)


def test_a_record_without_any_identifier_is_rejected_unless_the_protocol_gives_one():
    # The template has no citation identifier: without its metadataIdentifier nothing identifies it.
    content = multilingual_without(f"{{{MDB}}}metadataIdentifier")
    exc = rejection(content)
    assert exc.code == "no-identifier"
    assert "mdb:metadataIdentifier" in exc.message
    record = CROSSWALK.to_record(
        RawRecord(source_id="demo", format="x", content=content, native_id="oai:x:1")
    )
    assert record.native_id == "oai:x:1"


def test_a_record_without_title_is_rejected_naming_the_record():
    exc = rejection(multilingual_without(f".//{{{MRI}}}citation/{{{CIT}}}CI_Citation/{{{CIT}}}title"))
    assert exc.code == "no-title"
    assert "cdecfe47-1780-4dda-9fdf-e0a099e4ba9b" in exc.message
    assert "mri:citation/cit:title" in exc.message


# --- GeoNetwork 4: WALOUS land use (Wallonia) ---------------------------------------------------------------
def test_walous_a_template_identifier_falls_back_to_the_resource_identifier():
    # metadataIdentifier "{uuid}"; the first citation identifier is the record's uuid.
    record = convert("geonetwork__metadata.iso19115-3.xml")
    assert record.native_id == "fafb9fc7-4e32-4a40-8163-c64966cb573c"
    assert record.id == "demo.fafb9fc7-4e32-4a40-8163-c64966cb573c"
    assert record.warnings == ["mdb:metadataIdentifier: template placeholder '{uuid}' ignored"]
    assert record.identifiers == [
        Identifier(code="fafb9fc7-4e32-4a40-8163-c64966cb573c", scheme="http://geodata.wallonie.be/id/"),
        Identifier(code="WALOUS__WAL_UTS__2018", scheme="BE.SPW.INFRASIG.CARTON"),
    ]


def test_walous_description():
    record = convert("geonetwork__metadata.iso19115-3.xml")
    assert record.resource_type == "dataset"
    assert record.title == LocalisedText(text="Utilisation du Sol en Wallonie - WALOUS 2018", lang="fr")
    assert record.abstract.text.startswith(
        "Cette couche de données reprend la cartographie de l’utilisation du sol de l’ensemble du"
        " territoire wallon pour l’année 2018 (WAL_UTS__2018).\n\n"
    )
    assert record.language == record.metadata_language == "fr"
    assert record.topic_categories == ["imageryBaseMapsEarthCover"]
    assert record.bboxes == [BBox(2.75, 49.45, 6.5, 50.85)]
    assert record.temporal == [TemporalExtent(start="2018-01-01", end="2018-12-31")]
    assert (record.created, record.published, record.revised) == ("2020-09-28", "2020-10-30", None)
    # dateInfo: revision 2023-07-04T07:51:35.236Z, creation 2019-01-10T12:00:00.
    assert record.metadata_date == "2023-07-04T07:51:35Z"
    assert record.lineage.startswith("Les étapes principales de production de la donnée WAL_UTS__2018")
    assert record.formats == [
        Format(name="ESRI File Geodatabase (.fgdb)"),
        Format(name="OGC GeoPackage (.gpkg)"),
    ]
    assert len(record.thumbnails) == 3
    assert record.thumbnails[0].endswith("/attachments/WAL_UTS__2018_niv1.png")


def test_walous_keywords_keep_their_anchor_and_thesaurus():
    keywords = convert("geonetwork__metadata.iso19115-3.xml").keywords
    assert keywords[0] == Keyword(
        label="Données de base",
        uri="https://metawal.wallonie.be/thesaurus/theme-geoportail-wallon#ThemesGeoportailWallon/50",
        lang="fr",
        type="theme",
        thesaurus="Thèmes du géoportail wallon",
        thesaurus_uri="https://metawal.wallonie.be/thesaurus/theme-geoportail-wallon",
    )
    assert (
        Keyword(
            label="Régional",
            lang="fr",
            type="theme",
            thesaurus="Champ géographique",
            thesaurus_uri="http://inspire.ec.europa.eu/metadata-codelist/SpatialScope",
        )
        in keywords
    )
    assert keywords[-1] == Keyword(label="COSW", lang="fr")  # the last block has no type nor thesaurus
    assert len(keywords) == 17


def test_walous_an_organisation_with_people_gives_one_contact_per_person():
    # The ULB "processor" responsibility: organisation ULB (ewolff@ulb.ac.be) with five individuals
    # who have no contact details of their own.
    contacts = convert("geonetwork__metadata.iso19115-3.xml").contacts
    processors = [contact for contact in contacts if contact.role == "processor"]
    assert [contact.name for contact in processors[:5]] == [
        "Taïs Grippa",
        "Moritz Lennert",
        "Augustin Martinet",
        "Sabine Vanhuysse",
        "Eléonore Wolff",
    ]
    assert processors[0] == Contact(
        role="processor",
        name="Taïs Grippa",
        organisation="Université Libre de Bruxelles (ULB)",
        emails=["ewolff@ulb.ac.be"],
    )
    assert len(processors) == 13
    assert contacts[1] == Contact(
        role="owner",
        organisation="Service public de Wallonie (SPW)",
        emails=["helpdesk.carto@spw.wallonie.be"],
        url="https://geoportail.wallonie.be",
    )
    assert contacts[-1] == Contact(
        role="distributor",
        organisation="Service public de Wallonie (SPW)",
        emails=["helpdesk.carto@spw.wallonie.be"],
    )


def test_walous_constraints_and_links():
    record = convert("geonetwork__metadata.iso19115-3.xml")
    assert record.constraints == Constraints(
        access=["No limitations to public access"],  # an INSPIRE LimitationsOnPublicAccess anchor
        use_limitations=["Conditions d'accès et d'utilisation spécifiques"],
        other=[
            "Les conditions générales d'utilisation s'appliquent.",
            "Les conditions générales d'accès s’appliquent.",
            "Les conditions générales d'utilisation s'appliquent et sont étendues par les conditions"
            " particulières de type C",
        ],
    )
    assert len(record.links) == 9
    assert record.links[2] == Link(
        url="https://geoservices.wallonie.be/arcgis/services/SOL_SOUS_SOL/WALOUS_UTILISATION_SOL/MapServer"
        "/WMSServer?request=GetCapabilities&service=WMS",
        protocol="OGC:WMS",
        function="browsing",
        name="Service de visualisation WMS",
        description="Adresse de connexion au service de visualisation WMS de la couche de données"
        ' "Utilisation du Sol en Wallonie - WALOUS 2018"',
    )


# --- GeoRhena castles (fr/de/en) and the Wallonia protected sites: the ISO 19139 twins ----------------------
def test_castles_title_abstract_keywords_and_lineage_in_three_languages():
    record = convert("geonetwork__UpperRhineCastles-iso19115-3.2018.xml")
    assert record.title == LocalisedText(
        text="Châteaux rhénans",
        lang="fr",
        translations={"de": "Burgen am Oberrhein", "en": "Castles on the Upper Rhine"},
    )
    assert record.abstract.translations["en"].startswith(
        "Presentation of the fortified castles of the Upper Rhine according to data on accessibility"
    )
    assert record.keywords[0] == Keyword(
        label="Rhin Supérieur",
        lang="fr",
        type="place",
        translations={"de": "Oberrhein", "en": "Upper Rhine"},
    )
    assert record.keywords[1].thesaurus == "GEMET - Concepts, version 2.4"
    assert record.lineage.startswith("Recensement des châteaux forts à partir de données collectées")
    assert (record.created, record.published, record.revised) == ("2024-02-15", "2024-03-14", "2024-07-15")
    assert record.metadata_date == "2025-06-18T14:55:30Z"
    assert record.warnings == []


def test_castles_contacts_and_licence():
    record = convert("geonetwork__UpperRhineCastles-iso19115-3.2018.xml")
    # The individual "GeoRhena" has no contact details: the organisation's (phone typed voice) apply.
    assert record.contacts[0] == Contact(
        role="pointOfContact",
        name="GeoRhena",
        organisation="GeoRhena",
        emails=["contact@georhena.eu"],
        phones=["00 33 3 89 30 63 91"],
        url="https://www.georhena.eu/",
        address="100, avenue d'Alsace, 68000 COLMAR",
        country="FRANCE",
    )
    # The metadata contact's only number is typed facsimile: no phone.
    assert record.contacts[-1] == Contact(
        role="distributor",
        organisation="GeoRhena: Système d'Information Géographique du Rhin Supérieur",
        url="http://www.georhena.eu",
        address="100, avenue d'Alsace, 68000 COLMAR",
        country="FR",
    )
    assert record.constraints == Constraints(
        licence="Licence CC-BY - ©CeA ; ©GeoRhena", other=["Pas d'autre limitation"]
    )
    assert record.formats == [Format(name="Géodonnée au format SHP", version="-")]


@pytest.mark.parametrize(
    ("iso19115_3", "iso19139"),
    [
        ("geonetwork__UpperRhineCastles-iso19115-3.2018.xml", "geonetwork__UpperRhineCastles-iso19139.xml"),
        ("geonetwork-microserv__metadata-iso19115-3.xml", "geonetwork-microserv__metadata-iso19139.xml"),
    ],
)
def test_a_record_and_its_iso19139_twin_give_the_same_record(iso19115_3: str, iso19139: str):
    """GeoNetwork publishes the same metadata in both encodings; the catalogue must not tell them apart."""
    twin = RawRecord(source_id="demo", format="iso19139", content=(ISO19139_DEMO / iso19139).read_bytes())
    expected = ISO19139().to_record(twin, pole="theia")
    record = convert(iso19115_3)
    assert record.provenance.native_format == "iso19115-3"
    record.provenance = expected.provenance
    assert record == expected


def test_protected_sites_is_a_series_with_seven_thesauri():
    record = convert("geonetwork-microserv__metadata-iso19115-3.xml")
    assert record.native_id == "ffc45d44-1cc2-4924-bb8c-214096eb9058"
    assert record.resource_type == "series"
    assert record.title.text == "INSPIRE - Sites protégés en Wallonie (BE)"
    assert record.topic_categories == ["biota", "environment"]
    assert record.bboxes == [BBox(2.78, 49.46, 6.41, 50.85)]
    assert (record.created, record.published, record.revised) == ("2017-10-20", "2020-09-07", "2020-09-07")
    assert record.metadata_date == "2020-09-09T16:22:03Z"
    assert (
        Keyword(
            label="Sites protégés",
            uri="http://inspire.ec.europa.eu/theme/ps",
            lang="fr",
            type="theme",
            thesaurus="GEMET - INSPIRE themes, version 1.0",
            thesaurus_uri="http://inspire.ec.europa.eu/theme",
        )
        in record.keywords
    )
    assert len({keyword.thesaurus for keyword in record.keywords} - {None}) == 7
    assert record.formats == [Format(name="GML (.gml)", version="3.2.1")]


# --- multilingual template, DataCite and OpenDataSoft conversions -------------------------------------------
def test_multilingual_locales_that_no_pt_locale_declares_are_warned():
    # Locales EN (default), FR, DE, ZH, ES, AR, RU; the title's text groups say #GE, #CH and #SP.
    record = convert("geonetwork__metadata-multilingual.xml")
    assert record.title == LocalisedText(
        text="Template for Vector data (multilingual)",
        lang="en",
        translations={
            "fr": "Modèle pour les données vecteur (multilingue)",
            "ge": "Vorlage für die Vektor-Daten (mehrsprachig)",
            "ch": "模板矢量数据（多种语言）",
            "sp": "De plantilla para el vector de datos (multilingüe)",
            "ru": "Шаблон для векторных данных (многоязычное)",
        },
    )
    assert record.warnings == [
        f"lan:LocalisedCharacterString: locale '#{key}' is declared by no lan:PT_Locale; read as language"
        f" '{key.lower()}'"
        for key in ("GE", "CH", "SP")
    ]
    # dateInfo revision 2022-02-23T16:48:58.92Z wins over creation 2009-07-02T14:46:24.
    assert record.metadata_date == "2022-02-23T16:48:58Z"
    assert record.constraints == Constraints(access=["copyright"])
    assert record.keywords == [Keyword(label="World", lang="en", type="place")]


def test_datacite_conversion_a_doi_metadata_identifier_is_the_doi():
    record = convert("geonetwork__metadata-datacite-after-conversion.xml")
    assert record.native_id == "10.18144/0__df04f43c-e644-4c52-9345-f218e037bac2"
    assert record.identifiers == [
        Identifier(
            code="10.18144/0__df04f43c-e644-4c52-9345-f218e037bac2",
            scheme="doi",
            url="https://doi.org/10.18144/0__df04f43c-e644-4c52-9345-f218e037bac2",
        )
    ]
    assert record.doi == "10.18144/0__df04f43c-e644-4c52-9345-f218e037bac2"
    assert record.title.translations == {
        "en": "TEST-Geological map of the corsican continental margins at the 1:250,000 scale"
    }
    assert record.published == "2025"  # the first publication date, gco:DateTime "2025"
    assert record.created == "2010-12-01"
    assert record.metadata_date is None  # its dateInfo has a type and no date
    assert record.bboxes == [BBox(8.5347, 41.3336, 9.5601, 43.0277), BBox(7.6, 40.94, 10.8, 43.52)]
    assert record.formats == [Format(name="SHAPEFILE"), Format(name="PARQUET")]
    # useLimitation "Use limitation", "etalab-2.0", "etalab-2.0": the licence is not repeated.
    assert record.constraints == Constraints(licence="etalab-2.0", use_limitations=["Use limitation"])
    assert record.contacts[0] == Contact(role="author", name="THINON Isabelle", organisation="BRGM")
    assert Contact(role="funder", organisation="BRGM") in record.contacts


def test_ods_licence_cited_in_a_reference_with_its_link():
    # mco:reference/cit:CI_Citation: title anchor "Creative Commons - CC0" and an online resource.
    record = convert("geonetwork__test_resources_ods.xml")
    assert record.constraints == Constraints(
        licence="Creative Commons - CC0", licence_url="http://www.opendefinition.org/licenses/cc-by/"
    )
    assert record.places == ["be_40_03000", "be_40_04000"]
    assert record.temporal == [TemporalExtent(start="2020", end="2022")]
    assert record.published == record.revised == "2024-08-29T08:09:20Z"
    # CI_RoleCode codeListValue "originator" (its text says publisher: the code wins).
    assert record.contacts[0] == Contact(
        role="originator", organisation="Croix-rouge de Belgique - Service du sang"
    )
    assert record.links[0].function == "download"
    assert record.links[0].protocol == "WWW:DOWNLOAD:text/csv"


# --- STAC harvester outputs, services, ArcGIS ---------------------------------------------------------------
def test_stac_collection_outputs_are_series_with_their_doi_and_licence():
    forms = convert("geonetwork__biomass-and-wood-output.xml")
    assert forms.native_id == "forms-t"
    assert forms.resource_type == "series"
    assert forms.doi == "10.5281/zenodo.15489231"  # a gcx:Anchor code
    assert forms.temporal == [TemporalExtent(start="2018-01-01T00:00:00Z", end="2024-12-30T00:00:00Z")]
    assert forms.contacts == [
        Contact(
            role="pointOfContact",
            name="Martin Schwartz",
            organisation="Laboratoire des Sciences du Climat et de l'Environnement, LSCE/IPSL,CEA-CNRS-UVSQ,"
            " Université Paris-Saclay,Gif-sur-Yvette,91191, France",
            emails=["martin.schwartz@lsce.ipsl.fr"],
        )
    ]
    sigma0 = convert("geonetwork__sigma0-orthorectified-output.xml")
    assert sigma0.title == LocalisedText(text="Sentinel-1 sigma0 ortho", lang="fr")
    assert sigma0.constraints == Constraints(licence="etalab-2.0", access=["license"])
    assert sigma0.thumbnails == ["https://i.ibb.co/RDZ0xzf/sentinel-1-quicklook.png"]
    assert sigma0.links[-1].protocol == "WWW:LINK-1.0-http--link"


def test_service_record_connect_point_is_added_to_the_links():
    record = convert("geonetwork__sample-data_service_record_metadata.xml")
    assert record.resource_type == "service"
    assert record.links == [
        Link(
            url="http://localhost:8080/geonetwork/srv/eng/csw?SERVICE=CSW&VERSION=2.0.2&REQUEST=GetCapabilities",
            protocol="OGC:CSW",
            function="browsing",
            name="CSW service URL",
        ),
        Link(url="http://localhost:8080/geonetwork/srv/eng/csw", protocol="OGC:CSW"),
    ]
    assert (record.published, record.revised) == ("2015-01-30", "2015-05-05")


def test_metawal_service_in_srv_2_1():
    record = convert("owslib__metawal.wallonie.be-srv.xml")
    assert record.resource_type == "service"
    assert (
        record.title.text
        == "INSPIRE - Santé et sécurité des personnes en Wallonie (BE) - Service de visualisation WMS"
    )
    assert record.published == "2018-03-01"
    assert record.metadata_date == "2023-12-11T13:33:59Z"
    assert record.links[0].protocol == "OGC:WMS"
    assert record.links[0].url.startswith(
        "https://geoservices.test.wallonie.be/geoserver/inspire_hh/ows?service=WMS"
    )


def test_arcgis_template_in_the_2014_namespaces():
    # mdb/1.0 and cit/1.0: every value names the ArcGIS form field it comes from.
    record = convert("owslib__arcgis-sample.xml")
    assert record.native_id == "Metadata > Details > File Identifier"
    assert record.title.text == "Overview > Item Description > Title + Overview > Citation > Titles > Title"
    assert record.resource_type == "service"
    assert record.parent_id == "Metadata > Details > Parent Identifier"  # parentMetadata/@uuidref
    assert record.bboxes == [BBox(-155.0, 35.0, -135.0, 42.0), BBox(-180.0, -90.0, 180.0, 90.0)]
    assert record.places == ["Resource > Extents > Extent > Geographic Description > Code"]
    assert record.temporal == [TemporalExtent(start="2011-01-01T00:00:01Z", end="2011-12-31T23:59:59Z")]
    assert (record.created, record.published, record.revised) == (
        "1993-01-01T23:59:59Z",
        "1994-01-01T06:00:00Z",
        "1995-01-01T18:30:59Z",
    )
    assert record.metadata_date == "2021-12-07T00:00:00Z"
    assert [keyword.type for keyword in record.keywords[::2]] == [
        "place", "stratum", "temporal", "theme", "discipline", None, "subTopicCategory", "product", None
    ]  # fmt: skip
    assert record.lineage == "Resource > Lineage > Statement"
    assert record.thumbnails == ["Resource > Details > Browse Graphic > File Name"]
    assert record.formats[0] == Format(
        name="Resource > Details > Distribution Format > Format Name",
        version="Resource > Details > Distribution Format > Format Version",
    )


def test_arcgis_metadata_contact_without_its_fax_number():
    contact = convert("owslib__arcgis-sample.xml").contacts[-1]
    assert contact.role == "pointOfContact"
    assert contact.name == "Metadata > Contacts > Contact > Name"
    assert contact.organisation == "Metadata > Contacts > Contact > Organization"
    assert contact.position == "Metadata > Contacts > Contact > Position"
    assert contact.phones == [
        "Metadata > Contacts > Contact > Contact Information > Phone",
        "Metadata > Contacts > Contact > Contact Information > Phone + TDD/TTY",
    ]
    assert contact.country == "US"  # lan:CountryCode


# --- the pycsw GetRecords response --------------------------------------------------------------------------
def test_pycsw_auscope_model_cited_parties_and_licence_url():
    record = from_response(0)
    assert record.native_id == "5ebc3cb7-a3b5-4760-a8ff-851d5d5beb32"
    assert record.title.text == "3D geological model of the Otway and Torquay Basin 2011"
    assert record.resource_type == "dataset"  # no metadataScope
    assert record.identifiers == [
        Identifier(
            code="https://geology.data.vic.gov.au/searchAssistant/document.php?q=parent_id:107513",
            url="https://geology.data.vic.gov.au/searchAssistant/document.php?q=parent_id:107513",
        )
    ]
    assert [(contact.role, contact.name or contact.organisation) for contact in record.contacts] == [
        ("funder", "AuScope"),
        ("publisher", "Earth Resources Victoria"),
        ("author", "P.B. SKLADZIEN"),
        ("coAuthor", "C. Jorand"),
        ("collaborator", "A. Krassay"),
        ("contributor", "L. Hall"),
        ("pointOfContact", "Anthony Hurst"),
    ]
    assert record.constraints == Constraints(
        licence="https://creativecommons.org/licenses/by/4.0/",
        licence_url="https://creativecommons.org/licenses/by/4.0/",
        access=["license"],
        other=["license"],
    )
    assert record.bboxes == [BBox(143.0, -39.4, 144.0, -38.4)]
    assert record.pole == "formater"


def test_pycsw_csiro_person_with_own_contact_details():
    # The individual has its own contactInfo; its phone is a gco:characterString (lower case c) and
    # its numberType a CI_TelephoneTypeCode with text "voice" and no codeListValue.
    record = from_response(1)
    assert record.contacts == [
        Contact(
            role="pointOfContact",
            name="Peter Warren",
            organisation="CSIRO",
            position="Software Engineer",
            phones=["+61 2 9490 8802"],
            address="11 Julius Ave, 2113 North Ryde, CSIRO",
            country="Australia",
        )
    ]
    assert record.links[0] == Link(
        url="https://nvclwebservices.csiro.au/geoserver/wms?SERVICE=WMS&",
        protocol="OGC:WMS-1.1.1-http-get-map",
        name="gml:ProvinceFullExtent",
        description="ProvinceFullExtent",
    )


def test_pycsw_protection_des_captages_series():
    record = from_response(2)
    assert record.native_id == "74f81503-8d39-4ec8-a49a-c76e0cd74946"
    assert record.resource_type == "series"
    assert record.title.text == "Protection des captages - Série"
    assert record.topic_categories == ["geoscientificInformation", "inlandWaters"]
    assert (record.created, record.published, record.revised) == ("2000-01-01", "2022-11-08", "2023-07-31")
    assert record.identifiers[0] == Identifier(code="PROTECT_CAPT", scheme="BE.SPW.INFRASIG.GINET")


def test_pycsw_serves_the_metawal_service_as_the_owslib_copy_reads():
    served = from_response(3)
    copy = convert("owslib__metawal.wallonie.be-srv.xml")
    assert served.native_id == copy.native_id == "1714cd1e-6685-4dea-a6f4-b51612a15ed0"
    assert (served.title, served.links, served.bboxes) == (copy.title, copy.links, copy.bboxes)


def test_an_element_parsed_by_the_protocol_gives_the_same_record_as_its_bytes():
    checks.assert_element_gives_the_bytes_record(CROSSWALK, response_records()[2])


def test_provenance_and_pole_come_from_the_raw_record_and_the_caller():
    record = convert("geonetwork__sigma0-orthorectified-output.xml", datestamp="2025-10-23T11:41:06Z")
    assert record.pole == "theia"
    assert record.provenance.source_id == "demo"
    assert record.provenance.datestamp == "2025-10-23T11:41:06Z"
