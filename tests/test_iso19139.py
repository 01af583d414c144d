"""The ISO 19139 crosswalk against the real records bundled in ``config/demo/records/iso19139``.

Every expected value below was read in the XML file by hand (the comment says where when it is not
obvious); none is computed by the code under test. The only hand-made inputs are the not-XML and
wrong-root bytes, and one real record with its title removed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from catalogue.record import (
    BBox,
    Contact,
    Identifier,
    Keyword,
    Link,
    Record,
    TemporalExtent,
)
from harvester.formats import Rejected
from harvester.formats.common import normalise_date, normalise_language
from harvester.formats.iso19139 import ISO19139
from harvester.raw import RawRecord
from tests import crosswalk_checks as checks

CORPUS = Path(__file__).resolve().parent.parent / "config" / "demo" / "records" / "iso19139"
CORPUS_FILES = sorted(CORPUS.glob("*.xml"))
REJECTION_CODES = {"not-xml", "not-iso19139", "no-identifier", "no-title"}
CROSSWALK = ISO19139()


def raw_record(name: str, *, native_id: str | None = None, datestamp: str | None = None) -> RawRecord:
    return checks.raw_file(CROSSWALK, CORPUS / name, native_id=native_id, datestamp=datestamp)


def convert(name: str, **kwargs: str | None) -> Record:
    return CROSSWALK.to_record(raw_record(name, **kwargs), pole="odatis")


def rejection(content: bytes) -> Rejected:
    return checks.rejected_bytes(CROSSWALK, content)


# --- the whole corpus ---------------------------------------------------------------------------------
def test_the_corpus_is_there():
    assert len(CORPUS_FILES) == 41


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda path: path.name)
def test_every_corpus_file_gives_a_record_or_a_known_rejection(path: Path):
    checks.check_corpus_input(CROSSWALK, path.read_bytes(), pole="theia", codes=REJECTION_CODES)


def test_only_the_record_without_any_identifier_is_rejected():
    rejected = checks.rejections(CROSSWALK, checks.named_files(CORPUS_FILES))
    assert rejected == {"geonetwork__collectiondata4ESA.xml": "no-identifier"}


def test_the_registry_gives_this_crosswalk():
    checks.assert_registered(ISO19139, "iso19139")


def test_the_whole_corpus_converts_in_a_few_milliseconds_per_record():
    """A loose guard against a pathological slowdown (the target is ~1 ms; see the crosswalk docstring)."""
    raws = [checks.raw_bytes(CROSSWALK, p.read_bytes(), native_id="x") for p in CORPUS_FILES]
    assert checks.seconds_per_record(CROSSWALK, raws) < 0.010


# --- rejections -------------------------------------------------------------------------------------------
def test_bytes_that_are_not_xml_are_rejected_with_the_parser_message():
    exc = rejection(b"this is not XML <gmd:MD_Metadata")
    assert exc.code == "not-xml"
    assert "line 1" in exc.message


def test_empty_content_is_not_xml():
    assert rejection(b"").code == "not-xml"


def test_xml_without_iso_metadata_is_rejected_naming_the_root():
    exc = rejection(b'<feed xmlns="http://www.w3.org/2005/Atom"><title>x</title></feed>')
    assert exc.code == "not-iso19139"
    assert "{http://www.w3.org/2005/Atom}feed" in exc.message


def test_an_empty_file_identifier_with_no_fallback_is_rejected():
    # geonetwork__collectiondata4ESA.xml: <fileIdentifier><gco:CharacterString/></fileIdentifier>, no
    # citation identifier.
    with pytest.raises(Rejected) as info:
        convert("geonetwork__collectiondata4ESA.xml")
    assert info.value.code == "no-identifier"


def test_an_empty_file_identifier_falls_back_to_the_protocol_id():
    record = convert("geonetwork__collectiondata4ESA.xml", native_id="urn:esa:asar-ws")
    assert record.native_id == "urn:esa:asar-ws"
    assert record.id.startswith("demo.urn-esa-asar-ws-")  # ':' is not URL-safe: hashed suffix
    assert record.title.text == "ESA ENVISAT ASAR Wide Swath Striplines"
    assert record.created == "2002-09-03"
    assert record.bboxes == [BBox(-180.0, -90.0, 180.0, 90.0)]
    assert record.temporal == [TemporalExtent(start="2000-09-05", end="2002-01-30")]
    assert record.metadata_date == "2006-10-05T09:55:27Z"
    assert record.contacts[0] == Contact(
        role="Technical",
        name="Jolyon Martin",
        organisation="ESA",
        emails=["Jolyon.Martin@esa.int"],
        address="Via Galilei Galileo, CP. 64, 00044",
        country="Italy",
    )


def test_a_record_without_title_is_rejected():
    # A real record with its title element taken out.
    root = etree.fromstring((CORPUS / "geonetwork__vicinityMap.xml").read_bytes())
    title = root.find(".//{http://www.isotc211.org/2005/gmd}title")
    title.getparent().remove(title)
    raw = RawRecord(source_id="demo", format="iso19139", content=b"", element=root)
    exc = checks.rejection_of(CROSSWALK, raw)
    assert exc.code == "no-title"
    assert "de4cb8d1-4e23-4ad0-92c4-524f284e06b0" in exc.message


# --- parsing and identity ---------------------------------------------------------------------------------
def test_an_element_parsed_by_the_protocol_gives_the_same_record_as_the_bytes():
    name = "b2find__6741bd14-d1a2-588b-b9de-b06e0c59eed0.xml"  # an OAI <record> wrapper
    raw = raw_record(name)
    raw.element = etree.fromstring(raw.content)
    checks.assert_element_gives_the_bytes_record(CROSSWALK, raw)


def test_provenance_and_pole_come_from_the_raw_record_and_the_caller():
    record = convert("geonetwork__vicinityMap.xml", datestamp="2017-08-23T09:10:07Z")
    assert record.pole == "odatis"
    assert record.source_id == "demo"
    assert record.provenance.source_id == "demo"
    assert record.provenance.native_format == "iso19139"
    assert record.provenance.datestamp == "2017-08-23T09:10:07Z"
    assert record.provenance.harvested_at is None  # set by the harvest run


def test_a_file_identifier_on_several_lines_is_stripped():
    # pygeometa__707a02ac: <gco:CharacterString>\n      707a02ac-...</gco:CharacterString>
    record = convert("pygeometa__707a02ac-9240-4a2d-afbd-395b69756534.xml")
    assert record.native_id == "707a02ac-9240-4a2d-afbd-395b69756534"
    assert record.id == "demo.707a02ac-9240-4a2d-afbd-395b69756534"


def test_a_template_file_identifier_falls_back_to_the_resource_identifier():
    # geonetwork__metadata.iso19139.xml: fileIdentifier "{uuid}", first citation identifier below.
    record = convert("geonetwork__metadata.iso19139.xml")
    assert record.native_id == "copernicus_v_3035_100_m_cha-2012-2018_p_2011-2018_v20_r01"
    assert "gmd:fileIdentifier: template placeholder '{uuid}' ignored" in record.warnings


# --- multilingual records -------------------------------------------------------------------------------
def test_owslib_mi_metadata_english_and_french():
    record = convert("owslib__tests_resources_iso_mi.xml")
    assert record.native_id == "3f342f64-9348-11df-ba6a-0014c2c00eab"
    assert record.metadata_language == "en"
    assert record.language == "en"  # "eng; CAN"
    assert record.title.text == "title in English"
    assert record.title.lang == "en"
    assert record.title.translations == {"fr": "title in French"}  # locale="#fr", PT_Locale id "locale-fr"
    assert record.title.in_lang("fr") == "title in French"
    assert record.abstract.text == "abstract in English"
    assert record.abstract.translations == {"fr": "abstract in French"}
    assert record.keywords[0] == Keyword(
        label="kw1 in English", lang="en", translations={"fr": "kw1 in French"}
    )
    assert record.keywords[3] == Keyword(
        label="FOO",
        lang="en",
        type="theme",
        thesaurus="My Vocabulary",
        thesaurus_uri="https://example.org/my-vocab",
    )
    assert [k.label for k in record.keywords] == [
        "kw1 in English",
        "kw2 in English",
        "kw3 in English",
        "FOO",
        "BAR",
        "kw1",
        "kw2",
    ]
    assert record.parent_id == "someparentid"
    assert record.identifiers == [Identifier(code="http://some/minted/uri", url="http://some/minted/uri")]
    assert record.topic_categories == ["climatologyMeteorologyAtmosphere"]
    assert record.bboxes == [BBox(-141.0, 42.0, -52.0, 84.0)]
    assert record.temporal == [TemporalExtent(start="1950-07-31", indeterminate_end="now")]
    assert (record.created, record.published, record.metadata_date) == (
        "2011-11-11",
        "2000-09-01",
        "2014-11-11",
    )
    assert record.platforms == ["LANDSAT_8"]  # description "Landsat 8" names the same platform
    assert record.instruments == ["OLI_TIRS"]
    assert record.constraints is None  # only accessConstraints otherRestrictions, with no text


def test_owslib_mi_metadata_contacts_distributor_then_metadata_contact():
    contacts = convert("owslib__tests_resources_iso_mi.xml").contacts
    assert [c.role for c in contacts] == ["distributor", "pointOfContact"]
    assert contacts[1] == Contact(
        role="pointOfContact",
        name="Tom Kralidis",
        organisation="Environment Canada",
        position="Senior Systems Scientist",
        emails=["foo@bar.tld"],
        phones=["+01-123-456-7890"],  # voice only, not the facsimile
        url="https://www.ec.gc.ca/",
        address="4905 Dufferin Street, M3H 5T4 Toronto, Ontario",
        country="Canada",
    )


def test_geonetwork_forest_four_languages():
    record = convert("geonetwork__geonet_kernel_forest.xml")
    assert record.metadata_language == "en"
    assert record.title.text == "Forest"
    assert record.title.translations == {
        "de": "Wald",
        "fr": "Forêt",
        "it": "Bosco",
    }  # the #EN copy is the main text
    assert record.abstract.translations["fr"] == (
        "Forêt. Type de carte: Choroplètes. Étendue spatiale: Suisse. Unité temporelle: 2010"
    )
    basemaps = record.keywords[0]
    assert basemaps.label == "Basemaps"
    assert basemaps.thesaurus == "Atlas of Switzerland - Categories"
    assert basemaps.translations == {"de": "Basiskarten", "fr": "Fonds de carte", "it": "Carte di base"}
    assert record.keywords[2].label == "Land cover"
    assert record.keywords[2].translations["fr"] == "Couverture du sol"
    assert record.identifiers == [Identifier(code="34", scheme="ads:online:maps")]
    assert record.contacts[0].organisation == "Atlas of Switzerland"  # PT_FreeText organisationName
    assert record.contacts[0].emails == ["atlasinfo@ethz.ch"]
    assert record.bboxes == [
        BBox(5.606041613827549, 45.53396348515653, 10.988229452947234, 47.97997376576611)
    ]
    assert record.temporal == [TemporalExtent(start="2010-01-01T00:00:00Z", end="2010-12-31T23:59:59Z")]
    assert (record.created, record.published, record.revised) == ("2014-11-17", "2016-06-03", "2020-09-25")
    assert record.metadata_date == "2023-01-19"
    assert record.links == [
        Link(url="https://www.atlasofswitzerland.ch/forest/", protocol="WWW:LINK-1.0-http--link")
    ]


def test_pt_freetext_with_a_locale_that_is_not_declared():
    # pygeometa__707a02ac: <LocalisedCharacterString locale="ger"> and no gmd:locale at all.
    record = convert("pygeometa__707a02ac-9240-4a2d-afbd-395b69756534.xml")
    assert record.title.text == "Agronomic data of long term field experiment CATCHY Asendorf"
    assert record.title.translations == {"de": "Agronomische Daten des Langzeitversuches CATCHY in Asendorf"}


def test_ifremer_chlorophyll_french_with_english_translation():
    record = convert("geonetwork__onlinesrc-add-multilingual.xml")
    assert record.metadata_language == "fr"
    assert record.title.text == "Chlorophylle"
    assert record.title.lang == "fr"
    assert record.title.translations == {"en": "Chlorophyll"}
    # The pretty-printer's line breaks are not kept.
    assert record.abstract.text == (
        "Cartes mensuelles moyennes de chlorophylle-a réalisées sur la période 2003-2010. "
        "La chlorophylle-a est calculée avec l'algorithme OC5 développé à l'Ifremer."
    )
    assert record.abstract.translations["en"].startswith("Monthly maps of mean chlorophyll-a achieved over")
    assert record.bboxes == [BBox(-12.0, 36.0, 13.0, 60.0)]
    assert record.contacts == [
        Contact(organisation="Ifremer - Centre de Brest", emails=["sextant@ifremer.fr"])
    ]
    assert record.formats[0].name == "GeoTIFF"
    assert record.formats[0].version == "Aldus TIFF 6.0 spec (TIFF version 42)"
    # The second online resource has <gmd:linkage gco:nilReason="withheld"/>: no URL, no link.
    assert record.links == [
        Link(
            url="http://www.ifremer.fr/services/wms/oceanographie_physique",
            protocol="OGC:WMS",
            name="chlorophyll_a_2003_2010_01",
            description="Janvier",
        )
    ]
    assert record.metadata_date == "2016-05-26T16:56:45Z"


def test_vicinity_map_french_text_in_a_record_declared_english():
    record = convert("geonetwork__vicinityMap.xml")
    assert record.title.text == "carte des environs"
    assert record.title.lang == "en"  # gmd:language says eng: the declaration is what we have
    assert record.abstract.text == "Décrit les environs."
    assert record.topic_categories == ["oceans"]
    assert record.bboxes == [
        BBox(-98.64222717285156, 17.14999771118164, -93.58940124511719, 22.446941375732422)
    ]
    assert record.temporal == [TemporalExtent(start="2017-07-23", end="2017-07-23")]  # gml:TimeInstant
    assert record.created == "2017-03-08"
    assert record.contacts == []  # its only contact is empty (nilReason="missing")
    assert record.warnings == []


def test_shom_french_record_with_licence_ouverte():
    record = convert("semic__multilingual-resource-description__input.xml")
    assert record.resource_type == "series"
    assert record.title.text == "Modèle hydrodynamique 3D d'évolution de l'océan"
    assert record.title.translations == {"en": "3D hydrodynamic model for the evolution of the ocean"}
    constraints = record.constraints
    assert constraints.licence == "Licence Ouverte version 2.0"
    assert constraints.licence_url == "https://www.etalab.gouv.fr/licence-ouverte-open-licence"
    # The useLimitation (twice in the file) also names the licence but has no URL: it stays a use limitation.
    assert constraints.use_limitations == [
        "Utilisation libre sous réserve de citer les sources. Licence Ouverte (version 2.0 d'avril 2017), "
        "définie par la mission Etalab."
    ]
    assert "license" in constraints.access


# --- extents ----------------------------------------------------------------------------------------------
def test_eea_corine_six_bounding_boxes_doi_and_links():
    record = convert("geonetwork__metadata.iso19139.xml")
    assert record.bboxes == [
        BBox(-31.561261, 27.405827, 44.820775, 71.409109),
        BBox(-61.906047, 15.736333, -60.905616, 16.607552),
        BBox(-54.268239, 3.772692, -51.621253, 5.851958),
        BBox(-61.326095, 14.29692, -60.711516, 14.970484),
        BBox(44.927382, -13.089579, 45.390135, -12.546691),
        BBox(55.114983, -21.482245, 55.935919, -20.77811),
    ]
    assert record.temporal == [TemporalExtent(start="2017-01-01", end="2018-12-31")]
    assert (record.published, record.revised) == ("2019-06-14", "2020-05-13")
    assert record.doi == "10.2909/f30f1000-7cf8-43bb-872c-5eb093911b24"
    dois = [i for i in record.identifiers if i.scheme == "doi"]
    assert dois == [  # in a gmx:Anchor code and again as an online resource: one identifier
        Identifier(
            code="10.2909/f30f1000-7cf8-43bb-872c-5eb093911b24",
            scheme="doi",
            url="https://doi.org/10.2909/f30f1000-7cf8-43bb-872c-5eb093911b24",
        )
    ]
    assert [i.code for i in record.identifiers if i.scheme != "doi"] == [
        "copernicus_v_3035_100_m_cha-2012-2018_p_2011-2018_v20_r01",
        "DAT-49-en",
        "DAT-38-en",
    ]
    assert [(link.protocol, link.function) for link in record.links] == [
        ("WWW:LINK-1.0-http--link", "download"),
        ("ESRI:REST", "information"),
        ("OGC:WMS", "information"),
        ("DOI", None),
    ]
    # URLs written over several lines by the pretty-printer come out whole.
    assert (
        record.links[1].url
        == "https://image.discomap.eea.europa.eu/arcgis/rest/services/Corine/CHA2012_2018_WM/MapServer"
    )
    assert record.links[2].url == (
        "https://image.discomap.eea.europa.eu/arcgis/services/Corine/CHA2012_2018_WM/MapServer/WMSServer"
        "?service=WMS&request=GetCapabilities&version=1.3.0"
    )
    assert record.constraints.access == ["no limitations to public access"]  # INSPIRE anchor text
    assert record.constraints.other[0].startswith(
        "Access to data is based on a principle of full, open and free"
    )
    assert record.contacts[0].organisation == "European Environment Agency"
    assert record.contacts[0].emails == ["sdi@eea.europa.eu"]


def test_avhrr_boxes_repeated_by_the_service_identification_count_once():
    # ncISO writes the same box in the data identification and in the OPeNDAP service identification.
    record = convert("pycsw__AVHRR.2011.7Agg.xml")
    assert record.native_id == "org.maracoos:avhrr.sst"
    assert record.resource_type == "dataset"  # first of two hierarchyLevels (dataset, service)
    assert record.bboxes == [BBox(-100.0, 20.0, -50.0, 52.0)]
    assert record.temporal == [TemporalExtent(start="2011-08-26T23:37:00Z", end="2011-08-26T23:37:00Z")]
    assert record.identifiers == [
        Identifier(code="AVHRR.2011.7Agg", scheme="org.maracoos")
    ]  # authority title
    opendap = Link(
        url="http://tds.maracoos.org/thredds/dodsC/AVHRR/2011/7Agg",
        protocol="OPeNDAP:OPeNDAP",
        function="download",
        name="OPeNDAP",
        description="THREDDS OPeNDAP",
    )
    assert opendap in record.links  # from srv:connectPoint
    assert record.contacts[0].name == "Matt Oliver"
    assert record.contacts[0].role == "originator"


def test_record_without_bounding_box():
    record = convert("owslib__9250AA67-F3AC-6C12-0CB9-0662231AA181_iso.xml")
    assert record.title.text == "ALLSPECIES"
    assert record.bboxes == []
    assert record.keywords[0] == Keyword(
        label="Agriculture and Farming", lang="en", type="theme", thesaurus="NRCan"
    )
    assert record.warnings == []


def test_empty_bounding_box_and_unreadable_creation_date_are_warned():
    record = convert("pygeometa__iso19139-no-bbox.xml")
    assert record.title.text == "Database on the monitoring of mineral nitrogen in soils of the SISMAP"
    # The first EX_GeographicBoundingBox is empty, the second is read.
    assert record.bboxes == [BBox(21.0558004086, 55.61510692, 28.1767094256, 57.9701569688)]
    assert "gmd:westBoundLongitude: missing; bounding box skipped" in record.warnings
    assert record.created is None
    assert "gmd:CI_Date (created): unreadable date '2005 - 2020'" in record.warnings
    assert record.published == "2025-09-01"
    assert record.temporal == [
        TemporalExtent(start="2005-11-03", end="2008-05-12"),
        TemporalExtent(start="2005"),  # <gml:endPosition /> is an open end
    ]
    assert record.identifiers == [
        Identifier(
            code="http://www.vaad.gov.lv/sakums/informacija-sabiedribai/par-augsnu-agrokimisko-izpeti-un-minerala-slapekla-monitoringu.aspx",
            url="http://www.vaad.gov.lv/sakums/informacija-sabiedribai/par-augsnu-agrokimisko-izpeti-un-minerala-slapekla-monitoringu.aspx",
        )
    ]  # gmd:dataSetURI


def test_impossible_publication_date_is_warned_and_the_revision_kept():
    record = convert("ckanext-spatial__xml_gemini2.1-waf_wales2.xml")
    assert record.title.text == "Protected sites: Country Parks - GIS dataset"
    assert record.published is None
    assert record.warnings == ["gmd:CI_Date (published): unreadable date '2009-00-00'"]
    assert record.revised == "2009-01-01"
    assert Identifier(code="98742", scheme="http://www.ccw.gov.uk") in record.identifiers


def test_point_box_flagged_as_exclusion_is_still_indexed():
    # pygeometa__707a02ac: the only box has extentTypeCode false and south = north = 52.76.
    record = convert("pygeometa__707a02ac-9240-4a2d-afbd-395b69756534.xml")
    assert record.bboxes == [BBox(9.02, 52.76, 9.03, 52.76)]
    assert any("extentTypeCode false" in warning for warning in record.warnings)
    assert record.temporal == [TemporalExtent(start="2015-05-01", end="2024-04-30")]


def test_ebas_station_inside_an_oai_record_with_zoned_dates():
    record = convert("b2find__6741bd14-d1a2-588b-b9de-b06e0c59eed0.xml")
    assert record.native_id == (
        "EBAS.FR0022R.20120101000000.20170704152606.volume_scattering_coefficient_in_air_due_to_dried_aerosol"
        "_particles.aerosol.1h.2"
    )
    assert record.title.text.startswith(
        "Measurements of volume scattering coefficient in air due to dried aerosol"
    )
    # <gml:beginPosition>2012-01-01Z</gml:beginPosition> <gml:endPosition>2017-01-01Z</gml:endPosition>
    assert record.temporal == [TemporalExtent(start="2012-01-01", end="2017-01-01")]
    # A station: a point box (the source wrote the latitude as longitude; we keep what it says).
    assert record.bboxes == [BBox(48.5622, 5.5056, 48.5622, 5.5056)]
    assert record.places == ["6 - Europe", "France", "Observatoire Perenne de l'Environnement"]
    assert record.metadata_date == "2018-09-28T00:40:29Z"
    assert record.revised == "2017-07-04"
    assert record.warnings == []


def test_deims_windthrow_end_written_none_is_an_open_end():
    record = convert("b2find__65b17960-85fa-5733-8e28-62af33a8ba8e.xml")
    assert record.title.text == "Wind throw monitoring valleys"
    # <gml:beginPosition>1988-08-08</gml:beginPosition> <gml:endPosition>None</gml:endPosition>
    assert record.temporal == [TemporalExtent(start="1988-08-08")]
    assert record.warnings == []
    assert record.bboxes == [BBox(13.350448608398, 48.925911200013, 13.575668334961, 48.97821714644)]
    inspire = record.keywords[0]
    assert inspire.label == "Environmental monitoring facilities"
    assert inspire.uri == "http://inspire.ec.europa.eu/theme/ef"
    assert inspire.thesaurus == "GEMET - INSPIRE themes, version 1.0"
    assert inspire.thesaurus_uri == "http://www.eionet.europa.eu/gemet/inspire_themes"
    assert record.keywords[1] == Keyword(
        label="Vascular plants",
        lang="en",
        thesaurus="envthes",
        thesaurus_uri="http://vocabs.lter-europe.net/EnvThes/10000",
    )
    assert record.constraints.access == [
        "public access limited according to Article 13(1)(g) of the INSPIRE Directive"
    ]
    assert record.links[0] == Link(
        url="http://hdl.handle.net/11097/217f9245-12e6-4676-af68-2e9d0c27262e",
        function="download",
        name="B2Share Download Link",
    )


# --- keywords and anchors ---------------------------------------------------------------------------------
def test_marine_institute_anchor_keywords_and_cc_by_licence():
    record = convert("owslib__iso_keywords_anchor.xml")
    assert record.title.text == "CE0911 Climate Change Survey"
    assert [(k.label, k.uri) for k in record.keywords] == [
        ("Atmospheric pressure", "http://vocab.nerc.ac.uk/collection/A05/current/EV_AIRPRESS/"),
        ("Air temperature", "http://vocab.nerc.ac.uk/collection/A05/current/EV_AIRTEMP/"),
        ("Salinity", "http://vocab.nerc.ac.uk/collection/A05/current/EV_SALIN/"),
        ("Temperature", "http://vocab.nerc.ac.uk/collection/A05/current/EV_SEATEMP/"),
        ("Wind direction", "http://vocab.nerc.ac.uk/collection/A05/current/EV_WDIR/"),
        ("Wind speed", "http://vocab.nerc.ac.uk/collection/A05/current/EV_WSPD/"),
    ]
    assert {k.thesaurus for k in record.keywords} == {"AtlantOS Essential Variables"}
    assert {k.thesaurus_uri for k in record.keywords} == {"http://vocab.nerc.ac.uk/collection/A05/current/"}
    # <gmd:useLimitation><gmd:MD_ClassificationCode codeListValue="cc-by4.0">CC-By 4.0</...>
    assert record.constraints.licence == "CC-By 4.0"
    assert record.constraints.use_limitations == ["Consult license for use limitations"]
    assert record.temporal == [TemporalExtent(start="2009-06-14T00:00:00Z", end="2009-06-22T23:59:59Z")]
    assert record.bboxes == [BBox(-15.148822, 49.7991699, -8.254568548, 54.6287598)]


def test_wallonia_protected_sites_anchors_and_inspire_constraints():
    record = convert("geonetwork-microserv__metadata-iso19139.xml")
    assert record.resource_type == "series"
    assert record.metadata_language == "fr"
    assert record.title.text == "INSPIRE - Sites protégés en Wallonie (BE)"
    assert record.title.lang == "fr"
    protected_sites = next(k for k in record.keywords if k.uri == "http://inspire.ec.europa.eu/theme/ps")
    assert protected_sites.label == "Sites protégés"
    assert protected_sites.thesaurus == "GEMET - INSPIRE themes, version 1.0"
    assert protected_sites.thesaurus_uri == "http://inspire.ec.europa.eu/theme"  # the anchor on the title
    walloon = record.keywords[0]
    assert walloon.label == "Nature et environnement"
    assert walloon.thesaurus_uri == "http://metawal.wallonie.be/thesaurus/Themes_geoportail_wallon_hierarchy"
    natura = next(k for k in record.keywords if k.label == "Natura 2000 sites (Habitats Directive)")
    assert (
        natura.uri
        == "http://inspire.ec.europa.eu/metadata-codelist/PriorityDataset/Natura2000Sites-dir-1992-43"
    )
    assert record.identifiers == [
        Identifier(code="ffc45d44-1cc2-4924-bb8c-214096eb9058", scheme="http://geodata.wallonie.be/id/")
    ]
    assert record.constraints.access == ["No limitations to public access"]
    assert record.constraints.use_limitations == ["Conditions d'accès et d'utilisation spécifiques"]
    assert record.constraints.other == [
        "Les conditions générales d'utilisation s'appliquent.",
        "Les conditions générales d'accès s’appliquent.",
    ]
    assert record.constraints.licence is None
    assert [(link.protocol, link.url) for link in record.links] == [
        (
            "OGC:WMS",
            "https://geoservices.wallonie.be/INSPIRE/WMS/PS/MapServer/WMSServer?request=GetCapabilities&service=WMS",
        ),
        ("atom:feed", "https://geoservices.wallonie.be/inspire/atom/PS_Service.xml"),
    ]
    assert record.formats[0].name == "GML (.gml)"  # a gmx:Anchor
    assert record.formats[0].version == "3.2.1"


def test_bonares_doi_in_an_identifier_code_and_agrovoc_anchors():
    record = convert("pygeometa__707a02ac-9240-4a2d-afbd-395b69756534.xml")
    # <gco:CharacterString> https://doi.org/10.20387/bonares-1naq-dvww</gco:CharacterString>
    assert record.doi == "10.20387/bonares-1naq-dvww"
    assert (
        Identifier(
            code="10.20387/bonares-1naq-dvww", scheme="doi", url="https://doi.org/10.20387/bonares-1naq-dvww"
        )
        in record.identifiers
    )
    maize = next(k for k in record.keywords if k.label == "maize")
    assert maize.uri == "http://aims.fao.org/aos/agrovoc/c_12332"
    assert maize.type == "theme"
    assert maize.thesaurus == "AGROVOC Multilingual agricultural thesaurus"
    assert (record.created, record.revised, record.published) == ("2020-08-31", "2020-11-06", "2020-10-09")


def test_envidat_doi_as_file_identifier_and_odbl():
    record = convert("b2find__bbox_2ea750c6-4354-5f0a-9b67-2275d922d06f.xml")
    assert record.native_id == "doi:10.16904/14"
    assert record.identifiers == [
        Identifier(code="10.16904/14", scheme="doi", url="https://doi.org/10.16904/14")
    ]
    assert record.constraints.licence == "Open Data Commons Open Database License (ODbL)"
    assert record.bboxes == [BBox(5.95587, 45.81802, 10.49203, 47.80838)]
    assert record.metadata_language == "en"  # "Eng"


def test_georhena_licence_and_french_main_language():
    record = convert("geonetwork__UpperRhineCastles-iso19139.xml")
    assert record.title.text == "Châteaux rhénans"
    assert record.title.translations == {"de": "Burgen am Oberrhein", "en": "Castles on the Upper Rhine"}
    assert record.constraints.licence == "Licence CC-BY - ©CeA ; ©GeoRhena"


# --- acquisition, services ----------------------------------------------------------------------------------
def test_sentinel2_scene_platform_instrument_and_timestamps():
    record = convert("pycsw__iso_19115-2_Sentinel-2-scene.xml")
    assert record.native_id == "S2B_MSIL2A_20200902T090559_N0214_R050_T34SFG_20200902T113910.SAFE"
    assert record.platforms == ["Sentinel-2B"]  # identifier and description are the same
    assert record.instruments == ["INS-NOBS"]
    # <gml:beginPosition>2020-09-02T09:05:59.024Z</gml:beginPosition>: to the second, UTC
    assert record.temporal == [TemporalExtent(start="2020-09-02T09:05:59Z", end="2020-09-02T09:05:59Z")]
    assert record.bboxes == [
        BBox(22.241087944581203, 36.95084163397443, 22.316296604618408, 37.21692395594552)
    ]
    assert len(record.links) == 36
    assert record.links[0] == Link(
        url="s3://eodata/Sentinel-2/MSI/L2A/2020/09/02/S2B_MSIL2A_20200902T090559_N0214_R050_T34SFG_20200902T113910.SAFE/",
        protocol="enclosure",
        function="download",
        name="product",
        description="product",
    )


def test_bavarian_wfs_service_record():
    record = convert("owslib__iso19139_srv.xml")
    assert record.resource_type == "service"
    assert record.metadata_language == "de"
    assert record.title.text == "ALKIS®-vereinfacht ohne Eigentümer - Web Feature Service"
    assert record.bboxes == [
        BBox(8.945096154917964, 47.24843532655711, 13.908908586487573, 50.56420950059199)
    ]
    assert record.constraints.access == [
        "Öffentlicher Zugriff beschränkt entsprechend Artikel 13(1)(e) der INSPIRE-Richtlinie: e) aufgrund "
        "nachteiliger Auswirkungen auf die Rechte des geistigen Eigentums"
    ]
    distributor = next(c for c in record.contacts if c.emails == ["service@geodaten.bayern.de"])
    assert distributor == Contact(
        role="pointOfContact",
        name="Kundenservice der Bayerischen Vermessungsverwaltung",
        organisation="Landesamt für Digitalisierung, Breitband und Vermessung",
        emails=["service@geodaten.bayern.de"],
        phones=["+49-89-2129-1111"],
        url="http://www.geodaten.bayern.de",
        address="Alexandrastraße 4, 80538 München, Bayern",
        country="Deutschland",
    )
    # The six srv:connectPoint give the WFS URL already listed in the distribution: one link.
    urls = [link.url for link in record.links]
    assert urls.count("https://geoservices.bayern.de/wfs/v1/ogc_alkis_ave.cgi?") == 1
    assert record.links[0] == Link(
        url="https://geoservices.bayern.de/wfs/v1/ogc_alkis_ave.cgi?",
        function="download",
        name="URL des Dienstes",
        description="URL des Dienstes",
    )


# --- dates and languages, with the values real records carry ---------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2015-14-12", None),  # month 14 (DOMAIN.md §5)
        ("8 juillet 1974", None),
        ("Premières mesures en 2004", None),
        ("2009-00-00", None),  # ckanext-spatial wales2
        ("2005 - 2020", None),  # pygeometa no-bbox
        ("20170322", "2017-03-22"),  # ISO 8601 basic format
        ("2019-06-12T10:15:30.123456789Z", "2019-06-12T10:15:30Z"),  # nanoseconds
        ("2020-09-02T09:05:59.024Z", "2020-09-02T09:05:59Z"),
        ("2012-01-01Z", "2012-01-01"),
        ("2011-08-26T23:37:00+02:00", "2011-08-26T21:37:00Z"),
        ("2010-12-31T23:59:59", "2010-12-31T23:59:59Z"),
        ("2005", "2005"),
        ("2005-11", "2005-11"),
        (" 2008-05-12 ", "2008-05-12"),
        ("None", None),
        ("", None),
        (None, None),
    ],
)
def test_normalise_date(value: str | None, expected: str | None):
    assert normalise_date(value) == expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("eng", "en"),
        ("Eng", "en"),
        ("eng; CAN", "en"),
        ("fre", "fr"),
        ("fra", "fr"),
        ("ger", "de"),
        ("deu", "de"),
        ("ita", "it"),
        ("dut", "nl"),
        ("nld", "nl"),
        ("spa", "es"),
        ("fr", "fr"),
        ("fr-FR", "fr"),
        ("YPAAT", "ypaat"),  # pycsw T_ortho: an organisation name in gmd:language
        ("", None),
        (None, None),
    ],
)
def test_normalise_language(code: str | None, expected: str | None):
    assert normalise_language(code) == expected
