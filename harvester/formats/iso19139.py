"""ISO 19139 (``gmd:MD_Metadata`` and ISO 19115-2 ``gmi:MI_Metadata``) -> canonical ``Record``.

Every pole publishes ISO 19139 through CSW, so this crosswalk sees the widest variety of writers
(GeoNetwork 2-4, pycsw, ncISO, pygeometa, ESRI, hand-edited files). It is therefore tolerant in what it
reads — ``gco:CharacterString`` or ``gmx:Anchor`` or ``PT_FreeText`` alone, code-list values as
attribute or text, GML 3.1 and 3.2 — and strict only on what a record cannot do without: an identifier
and a title. What it can read only partly goes to ``Record.warnings``, naming the element.

Speed: the whole harvest must stay above 300 records/s on one core, so every XPath is compiled once at
import time and every path starts from a known element instead of scanning with ``//``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from lxml import etree

from catalogue.identity import normalise_doi, record_id
from catalogue.record import (
    BBox,
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
from harvester.formats import Crosswalk, Rejected
from harvester.raw import RawRecord

GMD = "http://www.isotc211.org/2005/gmd"
GMI = "http://www.isotc211.org/2005/gmi"
NS = {
    "gmd": GMD,
    "gmi": GMI,
    "gco": "http://www.isotc211.org/2005/gco",
    "gmx": "http://www.isotc211.org/2005/gmx",
    "srv": "http://www.isotc211.org/2005/srv",
    "gml": "http://www.opengis.net/gml",
    "gml32": "http://www.opengis.net/gml/3.2",
    "xlink": "http://www.w3.org/1999/xlink",
}
_METADATA_TAGS = (f"{{{GMD}}}MD_Metadata", f"{{{GMI}}}MI_Metadata")
_PT_FREETEXT = f"{{{GMD}}}PT_FreeText"
_LANGUAGE_CODE = f"{{{GMD}}}LanguageCode"
_SERVICE_IDENTIFICATION = f"{{{NS['srv']}}}SV_ServiceIdentification"
_HREF = f"{{{NS['xlink']}}}href"

# No DTD entity expansion and no network access: records come from sources we do not control.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=False)


def _xp(path: str) -> etree.XPath:
    return etree.XPath(path, namespaces=NS, smart_strings=False)


# --- compiled paths (relative to MD_Metadata unless the name says otherwise) ---------------------------
_FILE_ID = _xp("gmd:fileIdentifier")
_MD_LANGUAGE = _xp("gmd:language")
_LOCALES = _xp("gmd:locale/gmd:PT_Locale")
_LOCALE_CODE = _xp("gmd:languageCode/*")  # relative to PT_Locale
_HIERARCHY = _xp("gmd:hierarchyLevel/*")
_DATESTAMP = _xp("gmd:dateStamp/*")
_PARENT = _xp("gmd:parentIdentifier")
_DATASET_URI = _xp("gmd:dataSetURI")
_IDENTIFICATIONS = _xp("gmd:identificationInfo/*")
_EXTENTS = "gmd:identificationInfo/*/*[self::gmd:extent or self::srv:extent]/gmd:EX_Extent"
_BBOXES = _xp(f"{_EXTENTS}/gmd:geographicElement/gmd:EX_GeographicBoundingBox")
_PLACES = _xp(f"{_EXTENTS}/gmd:geographicElement/gmd:EX_GeographicDescription/gmd:geographicIdentifier/*")
_TEMPORALS = _xp(f"{_EXTENTS}/gmd:temporalElement/*/gmd:extent/*")
_METADATA_CONTACTS = _xp("gmd:contact/gmd:CI_ResponsibleParty")
_DISTRIBUTION = "gmd:distributionInfo/gmd:MD_Distribution"
_DISTRIBUTOR_CONTACTS = _xp(
    f"{_DISTRIBUTION}/gmd:distributor/*/gmd:distributorContact/gmd:CI_ResponsibleParty"
)
_ONLINE = _xp(
    f"{_DISTRIBUTION}/gmd:transferOptions/*/gmd:onLine/gmd:CI_OnlineResource"
    f" | {_DISTRIBUTION}/gmd:distributor/*/gmd:distributorTransferOptions/*/gmd:onLine/gmd:CI_OnlineResource"
)
_CONNECT_POINTS = _xp(
    "gmd:identificationInfo/srv:SV_ServiceIdentification/srv:containsOperations/*/srv:connectPoint/*"
)
_FORMATS = _xp(
    f"{_DISTRIBUTION}/gmd:distributionFormat/gmd:MD_Format"
    f" | {_DISTRIBUTION}/gmd:distributor/*/gmd:distributorFormat/gmd:MD_Format"
    " | gmd:identificationInfo/*/gmd:resourceFormat/gmd:MD_Format"
)
_LINEAGES = _xp("gmd:dataQualityInfo/*/gmd:lineage/*/gmd:statement")
_ACQUISITION = "*[local-name()='acquisitionInformation']/*"
_PLATFORMS = _xp(f"{_ACQUISITION}/*[local-name()='platform']/*")
_INSTRUMENTS = _xp(
    f"{_ACQUISITION}/*[local-name()='instrument']/*"
    f" | {_ACQUISITION}/*[local-name()='platform']/*/*[local-name()='instrument']/*"
)
_EQUIPMENT_CODES = _xp("*[local-name()='identifier']//*[local-name()='code']")  # relative to a platform
_EQUIPMENT_IDENTIFIER = _xp("*[local-name()='identifier']")
_EQUIPMENT_DESCRIPTION = _xp("*[local-name()='description']")

# relative to the identification element (MD_DataIdentification, SV_ServiceIdentification)
_CITATION = "gmd:citation/gmd:CI_Citation"
_TITLE = _xp(f"{_CITATION}/gmd:title")
_CITATION_DATES = _xp(f"{_CITATION}/gmd:date/gmd:CI_Date")
_RESOURCE_IDS = _xp(f"{_CITATION}/gmd:identifier/*")
_CITED_PARTIES = _xp(f"{_CITATION}/gmd:citedResponsibleParty/gmd:CI_ResponsibleParty")
_ABSTRACT = _xp("gmd:abstract")
_RESOURCE_LANGUAGE = _xp("gmd:language")
_POINTS_OF_CONTACT = _xp("gmd:pointOfContact/gmd:CI_ResponsibleParty")
_KEYWORD_BLOCKS = _xp("gmd:descriptiveKeywords/gmd:MD_Keywords")
_TOPICS = _xp("gmd:topicCategory/gmd:MD_TopicCategoryCode")
_THUMBNAILS = _xp("gmd:graphicOverview/gmd:MD_BrowseGraphic/gmd:fileName")
_CONSTRAINT_BLOCKS = _xp("gmd:resourceConstraints/*")

# relative to smaller elements
_TRANSLATIONS = _xp("gmd:PT_FreeText/gmd:textGroup/gmd:LocalisedCharacterString")
_ANCHOR = _xp("gmx:Anchor")
_DATE_VALUE = _xp("gmd:date/*")
_DATE_TYPE = _xp("gmd:dateType/*")
_ID_CODE = _xp("gmd:code")
_ID_CODESPACE = _xp("gmd:codeSpace")
_ID_AUTHORITY = _xp("gmd:authority/gmd:CI_Citation/gmd:title")
_KEYWORDS = _xp("gmd:keyword")
_KEYWORD_TYPE = _xp("gmd:type/*")
_THESAURUS_TITLE = _xp("gmd:thesaurusName/gmd:CI_Citation/gmd:title")
_THESAURUS_ID = _xp("gmd:thesaurusName/gmd:CI_Citation/gmd:identifier/*/gmd:code")
_BBOX_TYPE = _xp("gmd:extentTypeCode/*")
_BOUNDS = tuple(
    (name, _xp(f"gmd:{name}/*"))
    for name in ("westBoundLongitude", "southBoundLatitude", "eastBoundLongitude", "northBoundLatitude")
)
_BEGIN = _xp(
    "gml:beginPosition | gml32:beginPosition"
    " | gml:begin/gml:TimeInstant/gml:timePosition | gml32:begin/gml32:TimeInstant/gml32:timePosition"
)
_END = _xp(
    "gml:endPosition | gml32:endPosition"
    " | gml:end/gml:TimeInstant/gml:timePosition | gml32:end/gml32:TimeInstant/gml32:timePosition"
)
_INSTANT = _xp("gml:timePosition | gml32:timePosition")
_PARTY_INDIVIDUAL = _xp("gmd:individualName")
_PARTY_ORGANISATION = _xp("gmd:organisationName")
_PARTY_POSITION = _xp("gmd:positionName")
_PARTY_ROLE = _xp("gmd:role/*")
_CONTACT_INFO = _xp("gmd:contactInfo/gmd:CI_Contact")
_PHONES = _xp("gmd:phone/gmd:CI_Telephone/gmd:voice")
_ADDRESS = _xp("gmd:address/gmd:CI_Address")
_EMAILS = _xp("gmd:electronicMailAddress")
_DELIVERY_POINTS = _xp("gmd:deliveryPoint")
_CITY = _xp("gmd:city")
_AREA = _xp("gmd:administrativeArea")
_POSTCODE = _xp("gmd:postalCode")
_COUNTRY = _xp("gmd:country")
_CONTACT_URL = _xp("gmd:onlineResource/gmd:CI_OnlineResource/gmd:linkage/*")
_LINKAGE = _xp("gmd:linkage/*")
_PROTOCOL = _xp("gmd:protocol")
_FUNCTION = _xp("gmd:function/*")
_NAME = _xp("gmd:name")
_DESCRIPTION = _xp("gmd:description")
_VERSION = _xp("gmd:version")
_USE_LIMITATIONS = _xp("gmd:useLimitation")
_ACCESS_CODES = _xp("gmd:accessConstraints/*")
_USE_CODES = _xp("gmd:useConstraints/*")
_OTHER_CONSTRAINTS = _xp("gmd:otherConstraints")

# --- vocabularies ---------------------------------------------------------------------------------------
# ISO 639-2 (bibliographic and terminology codes) and a few names seen in records -> ISO 639-1.
# fmt: off
_ISO639 = {
    "eng": "en", "english": "en", "fre": "fr", "fra": "fr", "french": "fr", "français": "fr",
    "francais": "fr", "ger": "de", "deu": "de", "german": "de", "deutsch": "de", "ita": "it",
    "italian": "it", "dut": "nl", "nld": "nl", "spa": "es", "por": "pt", "roh": "rm", "rum": "ro",
    "ron": "ro", "pol": "pl", "cze": "cs", "ces": "cs", "slo": "sk", "slk": "sk", "slv": "sl",
    "hrv": "hr", "hun": "hu", "gre": "el", "ell": "el", "bul": "bg", "swe": "sv", "dan": "da",
    "fin": "fi", "nor": "no", "nob": "nb", "nno": "nn", "est": "et", "lav": "lv", "lit": "lt",
    "gle": "ga", "mlt": "mt", "cat": "ca", "baq": "eu", "eus": "eu", "glg": "gl", "ice": "is",
    "isl": "is", "wel": "cy", "cym": "cy", "bre": "br", "cos": "co", "oci": "oc", "ltz": "lb",
    "rus": "ru", "ukr": "uk", "tur": "tr", "ara": "ar", "chi": "zh", "zho": "zh", "jpn": "ja",
    "kor": "ko",
}
# fmt: on
_LANG_SEPARATORS = re.compile(r"[;,\s_-]")

# ISO 19115 MD_ScopeCode (2003 list and the 19115-1 additions).
_SCOPES = frozenset(
    {
        "attribute", "attributeType", "collectionHardware", "collectionSession", "dataset", "series",
        "nonGeographicDataset", "dimensionGroup", "feature", "featureType", "propertyType", "fieldSession",
        "software", "service", "model", "tile", "initiative", "stereomate", "sensor", "platformSeries",
        "sensorSeries", "productionSeries", "transferAggregate", "otherAggregate", "collection", "document",
        "repository", "aggregate", "product", "application", "metadata",
    }
)  # fmt: skip
# CI_DateTypeCode -> Record field; the 19115-1 names say the same as the 19139 ones.
_CITATION_DATE_FIELDS = {
    "creation": "created",
    "publication": "published",
    "released": "published",
    "revision": "revised",
    "lastRevision": "revised",
    "lastUpdate": "revised",
}
# Restriction codes that only say "see the text": the text is kept, the pointer would be noise.
_POINTER_CODES = frozenset({"otherRestrictions"})
# Canadian NAP register ids ("RI_414") stand in codeListValue while the code is in the text.
_REGISTER_ID = re.compile(r"RI_\d+")

_LICENCE_TEXT = re.compile(
    r"creative\s*commons|\bcc[\s-]?(?:by|zero|0)\b|licen[cs]e\s+ouverte|open\s+licen[cs]e|etalab"
    r"|open\s+data\s+commons|\bodbl\b|open\s+government\s+licen[cs]e|\bpddl\b",
    re.IGNORECASE,
)
_LICENCE_URL = re.compile(r"licen[cs]|creativecommons\.org|opendatacommons\.org|etalab", re.IGNORECASE)
_URL_IN_TEXT = re.compile(r"https?://[^\s<>\"')\]]+")
_FOLD = re.compile(r"[\W_]+")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
# A fileIdentifier left as a template placeholder ("{uuid}", "${id}") would merge unrelated records.
_PLACEHOLDER = re.compile(r"\$?\{+[^{}]*\}+")

# Texts a source writes in a gml position when it means "no value".
_OPEN_POSITIONS = {"": None, "none": None, "null": None, "nil": None, "unknown": "unknown", "now": "now"}
_DATE = re.compile(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?(?:Z|[+-]\d{2}:?\d{2})?")
_BASIC_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")


# --- dates -----------------------------------------------------------------------------------------------
def normalise_date(value: str | None) -> str | None:
    """The ISO 8601 form of a date as written in metadata, or ``None`` when it cannot be read.

    Calendar dates keep their precision (``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD``; a zone on a plain date,
    ``2012-01-01Z``, is dropped); the basic format ``20170322`` is read as a date; timestamps become
    RFC 3339 in UTC to the second (sub-second digits, even nanoseconds, are cut). A timestamp without a
    zone is taken as UTC: a few hours' error matters less to a catalogue than an unsortable value.
    Impossible dates (``2015-14-12``) and prose (``8 juillet 1974``) give ``None``: guessing would hide
    the error from the source's administrator.
    """
    if not value:
        return None
    text = value.strip()
    match = _DATE.fullmatch(text) or _BASIC_DATE.fullmatch(text)
    if match:
        return _calendar_date(*match.groups())
    if "T" in text or ":" in text:
        return _timestamp(text)
    return None


def _calendar_date(year: str, month: str | None, day: str | None) -> str | None:
    try:
        date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        return None
    if day:
        return f"{year}-{int(month or 1):02d}-{int(day):02d}"
    return f"{year}-{int(month):02d}" if month else year


def _timestamp(text: str) -> str | None:
    try:
        moment = datetime.fromisoformat(text)
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return moment.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


# --- small readers -----------------------------------------------------------------------------------------
def _first(elements: list[Any]) -> Any:
    return elements[0] if elements else None


def _one_line(text: str | None) -> str | None:
    """Whitespace collapsed: titles, names and codes are often pretty-printed over several lines."""
    if not text:
        return None
    return " ".join(text.split()) or None


def _paragraphs(text: str | None) -> str | None:
    """Long text (abstract, lineage, constraints) with its paragraphs but without pretty-printing.

    When continuation lines are indented the line breaks come from an XML pretty-printer: lines are
    joined and only blank-line paragraph breaks are kept. Otherwise the author's line breaks are kept.
    """
    if not text:
        return None
    lines = text.strip().splitlines()
    if any(line.startswith((" ", "\t")) for line in lines[1:]):
        paragraphs = _PARAGRAPH_BREAK.split(text.strip())
        return "\n\n".join(" ".join(paragraph.split()) for paragraph in paragraphs) or None
    return "\n".join(line.strip() for line in lines) or None


def _main_text(prop: Any, clean: Callable[[str | None], str | None]) -> str | None:
    """The value in the main language: the first non-empty child that is not ``PT_FreeText``
    (``gco:CharacterString``, ``gmx:Anchor``, ``gco:Date``, ``gmd:URL``, even ``gco:characterString``)."""
    for child in prop.iterchildren(tag=etree.Element):
        if child.tag != _PT_FREETEXT and (value := clean(child.text)):
            return value
    return None


def _text(prop: Any) -> str | None:
    """The value of an ISO property element, one line: its main-language child, else the element's
    own text (non-conformant writers put ``<gmi:identifier>Sentinel-2B</gmi:identifier>``), else the
    first ``PT_FreeText`` translation."""
    if prop is None:
        return None
    value = _main_text(prop, _one_line) or _one_line(prop.text)
    if value:
        return value
    return next((value for element in _TRANSLATIONS(prop) if (value := _one_line(element.text))), None)


def _texts(props: list[Any]) -> list[str]:
    return _unique(value for prop in props if (value := _text(prop)))


def _href(prop: Any) -> str | None:
    """The ``xlink:href`` of the property's ``gmx:Anchor``: the URI the source gives for the value."""
    anchor = _first(_ANCHOR(prop)) if prop is not None else None
    return _one_line(anchor.get(_HREF)) if anchor is not None else None


def _code(element: Any) -> str | None:
    """The value of a code-list element (``codeListValue``, else its text).

    The text wins when the attribute is unusable: WMO puts a register URL there, the Canadian NAP a
    register id (``RI_414``) with ``pointOfContact; contact`` (code; French label) in the text.
    """
    if element is None:
        return None
    value = (element.get("codeListValue") or "").strip()
    if not value or "/" in value or _REGISTER_ID.fullmatch(value):
        value = (element.text or "").split(";", 1)[0].strip()
    return value or None


def _language(prop: Any) -> str | None:
    """A language property: ``gmd:LanguageCode`` or ``gco:CharacterString`` -> ISO 639-1."""
    if prop is None:
        return None
    child = next(prop.iterchildren(tag=etree.Element), None)
    if child is not None and child.tag == _LANGUAGE_CODE:
        return normalise_language(_code(child))
    return normalise_language(_text(prop))


def normalise_language(code: str | None) -> str | None:
    """ISO 639-1 for the usual spellings (``fre``, ``fra``, ``eng; CAN``, ``fr-FR``, ``German``); any
    other code lower-cased, as the record convention says."""
    if not code:
        return None
    key = _LANG_SEPARATORS.split(code.strip().lower(), 1)[0]
    return _ISO639.get(key, key) or None


def _unique(values: Any) -> list[Any]:
    """Values in order without repeats (list membership: Structs are not hashable)."""
    out: list[Any] = []
    for value in values:
        if value not in out:
            out.append(value)
    return out


def _fold(name: str) -> str:
    return _FOLD.sub("", name.lower())


def _is_licence(text: str, url: str | None) -> bool:
    return bool(_LICENCE_TEXT.search(text) or (url and _LICENCE_URL.search(url)))


# --- locating the metadata ----------------------------------------------------------------------------
def _root(raw: RawRecord) -> Any:
    """The parsed document: the protocol's element when it already parsed the response."""
    if raw.element is not None:
        element = raw.element
        return element.getroot() if hasattr(element, "getroot") else element
    try:
        return etree.fromstring(raw.content, _PARSER)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise Rejected("not-xml", f"the record is not well-formed XML: {exc}") from None


def _metadata_element(root: Any) -> Any:
    """``MD_Metadata``/``MI_Metadata``: the root, or inside an OAI ``<record>`` or GeoNetwork wrapper."""
    if root.tag in _METADATA_TAGS:
        return root
    found = next(root.iter(*_METADATA_TAGS), None)
    if found is None:
        raise Rejected(
            "not-iso19139",
            f"root element is {root.tag} and it contains no gmd:MD_Metadata or gmi:MI_Metadata",
        )
    return found


class _Reader:
    """Reads one ``MD_Metadata``; holds what the parts share: locales, main language, warnings.

    The first ``identificationInfo`` describes the resource (ncISO adds service identifications after
    the data identification); extents and service endpoints are read from all of them.
    """

    def __init__(self, md: Any):
        self.md = md
        self.warnings: list[str] = []
        self.metadata_language = _language(_first(_MD_LANGUAGE(md)))
        self.locales = {
            locale.get("id"): normalise_language(_code(_first(_LOCALE_CODE(locale))))
            for locale in _LOCALES(md)
        }
        self.ident = _first(_IDENTIFICATIONS(md))

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def in_ident(self, path: etree.XPath) -> list[Any]:
        return path(self.ident) if self.ident is not None else []

    # --- text in several languages ---
    def locale_language(self, reference: str | None) -> str:
        """The language of a ``locale="#FR"`` reference: the ``PT_Locale`` it points to, else the id
        itself read as a language code (``#fra``, ``#fr`` with a ``locale-fr`` PT_Locale)."""
        if not reference:
            return "und"
        key = reference.strip().lstrip("#")
        resolved = self.locales.get(key)
        return resolved or normalise_language(key.lower().removeprefix("locale-")) or "und"

    def localised(self, prop: Any, *, multiline: bool = False) -> LocalisedText | None:
        """The main text in the metadata language with its ``PT_FreeText`` translations."""
        if prop is None:
            return None
        clean = _paragraphs if multiline else _one_line
        main = _main_text(prop, clean)
        translations: dict[str, str] = {}
        for element in _TRANSLATIONS(prop):
            if value := clean(element.text):
                translations.setdefault(self.locale_language(element.get("locale")), value)
        lang = self.metadata_language
        if main is None:
            if not translations:
                return None
            lang = lang if lang in translations else next(iter(translations))
            main = translations[lang]
        if lang is not None and translations.get(lang) == main:
            del translations[lang]
        return LocalisedText(text=main, lang=lang, translations=translations)

    # --- identity ---
    def native_id(self, raw: RawRecord) -> str:
        """``fileIdentifier``, else the first resource identifier, else what the protocol knew."""
        native = _text(_first(_FILE_ID(self.md)))
        if native and _PLACEHOLDER.fullmatch(native):
            self.warn(f"gmd:fileIdentifier: template placeholder {native!r} ignored")
            native = None
        if not native:
            codes = (_ID_CODE(identifier) for identifier in self.in_ident(_RESOURCE_IDS))
            native = next((value for code in codes if (value := _text(_first(code)))), None)
        native = native or (raw.native_id or "").strip()
        if not native:
            raise Rejected(
                "no-identifier", "no gmd:fileIdentifier, no resource identifier and no id from the protocol"
            )
        return native

    def identifiers(self, native_id: str, links: list[Link]) -> list[Identifier]:
        """Resource identifiers and every DOI, wherever the source put it (fileIdentifier, identifier
        code or anchor, dataSetURI, a doi.org online resource); one entry per DOI."""
        found: list[Identifier] = []
        _add_identifier(found, _doi_identifier(native_id))
        for identifier in self.in_ident(_RESOURCE_IDS):
            code_prop = _first(_ID_CODE(identifier))
            scheme = _text(_first(_ID_CODESPACE(identifier))) or _text(_first(_ID_AUTHORITY(identifier)))
            _add_identifier(found, _identifier(_text(code_prop), _href(code_prop), scheme))
        for uri in _texts(_DATASET_URI(self.md)):
            _add_identifier(found, _identifier(uri, None, None))
        for link in links:
            _add_identifier(found, _doi_identifier(link.url))
        return found

    # --- classification ---
    def resource_type(self) -> str:
        """The first valid ``hierarchyLevel``; else service for a service identification, else dataset."""
        for element in _HIERARCHY(self.md):
            scope = _code(element)
            if scope in _SCOPES:
                return scope
            if scope:
                self.warn(f"gmd:hierarchyLevel: unknown scope code {scope!r}")
        is_service = self.ident is not None and self.ident.tag == _SERVICE_IDENTIFICATION
        return "service" if is_service else "dataset"

    def keywords(self) -> list[Keyword]:
        """One ``Keyword`` per ``gmd:keyword``, carrying its block's type and thesaurus."""
        found: list[Keyword] = []
        for block in self.in_ident(_KEYWORD_BLOCKS):
            kind = _code(_first(_KEYWORD_TYPE(block)))
            title_prop = _first(_THESAURUS_TITLE(block))
            id_prop = _first(_THESAURUS_ID(block))
            thesaurus = _text(title_prop)
            thesaurus_uri = _href(title_prop) or _href(id_prop) or _text(id_prop)
            for prop in _KEYWORDS(block):
                label = self.localised(prop)
                if label is None:
                    continue
                keyword = Keyword(
                    label=label.text,
                    uri=_href(prop),
                    lang=label.lang,
                    type=kind,
                    thesaurus=thesaurus,
                    thesaurus_uri=thesaurus_uri,
                    translations=label.translations,
                )
                if keyword not in found:
                    found.append(keyword)
        return found

    # --- extents ---
    def bboxes(self) -> list[BBox]:
        return _unique(box for element in _BBOXES(self.md) if (box := self.bbox(element)) is not None)

    def bbox(self, element: Any) -> BBox | None:
        """A WGS 84 box, or ``None`` (with a warning) when a bound is missing, not a number or out of
        range. ``west > east`` is kept (antimeridian); a point (west = east, south = north) is valid.

        ``extentTypeCode`` false (an exclusion box) is indexed as coverage all the same, with a warning:
        writers set it by mistake on the only box of a record (pygeometa, BonaRes), and dropping it
        would make the record unfindable on a map.
        """
        if (_text(_first(_BBOX_TYPE(element))) or "").lower() in ("false", "0"):
            self.warn("gmd:EX_GeographicBoundingBox: extentTypeCode false (exclusion) ignored; box indexed")
        values: list[float] = []
        for name, path in _BOUNDS:
            text = _text(_first(path(element)))
            try:
                value = float((text or "").replace(",", "."))
            except ValueError:
                problem = f"{text!r} is not a number" if text else "missing"
                self.warn(f"gmd:{name}: {problem}; bounding box skipped")
                return None
            limit = 90.0 if name.endswith("Latitude") else 180.0
            if not math.isfinite(value) or abs(value) > limit:
                self.warn(f"gmd:{name}: {text} is out of range; bounding box skipped")
                return None
            values.append(value)
        west, south, east, north = values
        if south > north:
            self.warn(f"gmd:EX_GeographicBoundingBox: south {south} is above north {north}; box skipped")
            return None
        return BBox(west, south, east, north)

    def places(self) -> list[str]:
        return _texts([_first(_ID_CODE(identifier)) for identifier in _PLACES(self.md)])

    def temporal(self) -> list[TemporalExtent]:
        extents = []
        for element in _TEMPORALS(self.md):
            kind = element.tag.rpartition("}")[2]
            if kind == "TimePeriod":
                extents.append(self.period(element))
            elif kind == "TimeInstant":
                extents.append(self.instant(element))
            else:
                self.warn(f"gmd:EX_TemporalExtent: {kind} is not read")
        return _unique(extent for extent in extents if extent != TemporalExtent())

    def period(self, element: Any) -> TemporalExtent:
        start, start_raw, _ = self.position(_first(_BEGIN(element)))
        end, end_raw, indeterminate = self.position(_first(_END(element)))
        if start and end and start[:10] > end[:10]:
            self.warn(f"gml:TimePeriod: ends ({end}) before it begins ({start})")
        return TemporalExtent(
            start=start, end=end, start_raw=start_raw, end_raw=end_raw, indeterminate_end=indeterminate
        )

    def instant(self, element: Any) -> TemporalExtent:
        value, raw, _ = self.position(_first(_INSTANT(element)))
        return TemporalExtent(start=value, end=value, start_raw=raw, end_raw=raw)

    def position(self, element: Any) -> tuple[str | None, str | None, str | None]:
        """(date, raw text when unreadable, indeterminate position) of a gml position.

        Empty, ``None``, ``unknown`` and ``now`` mean an open end, not an error; ``now``/``unknown`` are
        kept as the indeterminate position when the attribute does not already say it.
        """
        if element is None:
            return None, None, None
        indeterminate = element.get("indeterminatePosition")
        text = (element.text or "").strip()
        if text.lower() in _OPEN_POSITIONS:
            return None, None, indeterminate or _OPEN_POSITIONS[text.lower()]
        value = normalise_date(text)
        if value is None:
            name = element.tag.rpartition("}")[2]
            self.warn(f"gml:{name}: unreadable date {text!r}")
            return None, text, indeterminate
        return value, None, indeterminate

    # --- dates ---
    def citation_dates(self) -> dict[str, str]:
        """created/published/revised from the resource citation (the first readable date of each type)."""
        dates: dict[str, str] = {}
        for element in self.in_ident(_CITATION_DATES):
            field = _CITATION_DATE_FIELDS.get(_code(_first(_DATE_TYPE(element))) or "")
            text = _text(_first(_DATE_VALUE(element)))
            if field is None or text is None or field in dates:
                continue
            if value := normalise_date(text):
                dates[field] = value
            else:
                self.warn(f"gmd:CI_Date ({field}): unreadable date {text!r}")
        return dates

    def metadata_date(self) -> str | None:
        text = _text(_first(_DATESTAMP(self.md)))
        value = normalise_date(text)
        if text and value is None:
            self.warn(f"gmd:dateStamp: unreadable date {text!r}")
        return value

    # --- parties ---
    def contacts(self) -> list[Contact]:
        """Cited parties and points of contact of the resource, distributors, then metadata contacts."""
        parties = [
            *self.in_ident(_CITED_PARTIES),
            *self.in_ident(_POINTS_OF_CONTACT),
            *_DISTRIBUTOR_CONTACTS(self.md),
            *_METADATA_CONTACTS(self.md),
        ]
        return _unique(contact for party in parties if (contact := self.contact(party)) is not None)

    def contact(self, party: Any) -> Contact | None:
        """A ``CI_ResponsibleParty``; ``None`` when it names nobody and gives no way to reach anyone."""
        organisation = self.localised(_first(_PARTY_ORGANISATION(party)))
        role = _code(_first(_PARTY_ROLE(party)))
        if role and "{" in role:
            self.warn(f"gmd:role: template placeholder {role!r} ignored")
            role = None
        info = _first(_CONTACT_INFO(party))
        address = _first(_ADDRESS(info)) if info is not None else None
        contact = Contact(
            role=role,
            name=_text(_first(_PARTY_INDIVIDUAL(party))),
            organisation=organisation.text if organisation else None,
            position=_text(_first(_PARTY_POSITION(party))),
            emails=_texts(_EMAILS(address)) if address is not None else [],
            phones=_texts(_PHONES(info)) if info is not None else [],
            url=_text(_first(_CONTACT_URL(info))) if info is not None else None,
            address=_postal_address(address) if address is not None else None,
            country=_text(_first(_COUNTRY(address))) if address is not None else None,
        )
        reachable = contact.emails or contact.phones or contact.url
        return contact if reachable or contact.name or contact.organisation or contact.position else None

    # --- rights ---
    def constraints(self) -> Constraints | None:
        """Licence, access and use constraints of the resource.

        The licence is the first constraint text that names one (Creative Commons, Etalab/Licence
        Ouverte, ODbL, Open Government Licence, or a URL about a licence), preferring one that comes with
        a URL; other licence-like texts stay in the list they were found in.
        """
        access: list[str] = []
        use_limitations: list[str] = []
        other: list[str] = []
        candidates: list[tuple[str, str | None, list[str]]] = []
        for block in self.in_ident(_CONSTRAINT_BLOCKS):
            for prop in _USE_LIMITATIONS(block):
                self.constraint_text(prop, use_limitations, candidates)
            access.extend(
                code for code in map(_code, _ACCESS_CODES(block)) if code and code not in _POINTER_CODES
            )
            other.extend(
                code for code in map(_code, _USE_CODES(block)) if code and code not in _POINTER_CODES
            )
            for prop in _OTHER_CONSTRAINTS(block):
                public_access = "LimitationsOnPublicAccess" in (_href(prop) or "")
                self.constraint_text(prop, access if public_access else other, candidates)
        licence = next((c for c in candidates if c[1]), _first(candidates))
        for candidate in candidates:
            if candidate is not licence:
                candidate[2].append(candidate[0])
        constraints = Constraints(
            licence=licence[0] if licence else None,
            licence_url=licence[1] if licence else None,
            access=_unique(access),
            use_limitations=_unique(use_limitations),
            other=_unique(other),
        )
        return None if constraints == Constraints() else constraints

    def constraint_text(
        self, prop: Any, home: list[str], candidates: list[tuple[str, str | None, list[str]]]
    ) -> None:
        """File a constraint text under ``home``, or among the licence candidates when it names one."""
        text = self.localised(prop, multiline=True)
        href = _href(prop)
        label = text.text if text else href
        if not label:
            return
        url = href or _first(_URL_IN_TEXT.findall(label))
        if _is_licence(label, url):
            candidates.append((label, url, home))
        else:
            home.append(label)

    # --- distribution ---
    def links(self) -> list[Link]:
        """Distribution online resources, then service endpoints not already listed."""
        links = _unique(link for element in _ONLINE(self.md) if (link := _link(element)) is not None)
        urls = {link.url for link in links}
        for element in _CONNECT_POINTS(self.md):
            link = _link(element)
            if link is not None and link.url not in urls:
                urls.add(link.url)
                links.append(link)
        return links

    def formats(self) -> list[Format]:
        found = []
        for element in _FORMATS(self.md):
            name = _text(_first(_NAME(element)))
            if name:
                found.append(Format(name=name, version=_text(_first(_VERSION(element)))))
        return _unique(found)

    def lineage(self) -> str | None:
        statements = _unique(
            text.text for prop in _LINEAGES(self.md) if (text := self.localised(prop, multiline=True))
        )
        return "\n\n".join(statements) or None

    def parent_id(self) -> str | None:
        prop = _first(_PARENT(self.md))
        return _text(prop) or _href(prop)

    # --- acquisition (ISO 19115-2) ---
    def equipment(self, path: etree.XPath) -> list[str]:
        """Platform or instrument names: identifier codes, and the description when it names something
        else (``Landsat 8`` beside ``LANDSAT_8`` is the same platform and is not repeated)."""
        names: list[str] = []
        for element in path(self.md):
            codes = _texts(_EQUIPMENT_CODES(element)) or _texts(_EQUIPMENT_IDENTIFIER(element))
            names.extend(codes)
            names.extend(_texts(_EQUIPMENT_DESCRIPTION(element)))
        folded: set[str] = set()
        out = []
        for name in names:
            if _fold(name) not in folded:
                folded.add(_fold(name))
                out.append(name)
        return out


def _identifier(code: str | None, href: str | None, code_space: str | None) -> Identifier | None:
    doi = normalise_doi(code) or normalise_doi(href)
    if doi:
        return Identifier(code=doi, scheme="doi", url=f"https://doi.org/{doi}")
    value = code or href
    if not value:
        return None
    url = href or (value if value.startswith(("http://", "https://")) else None)
    return Identifier(code=value, scheme=code_space, url=url)


def _doi_identifier(value: str | None) -> Identifier | None:
    doi = normalise_doi(value)
    return Identifier(code=doi, scheme="doi", url=f"https://doi.org/{doi}") if doi else None


def _add_identifier(found: list[Identifier], identifier: Identifier | None) -> None:
    """Append unless the same code (same scheme) is already there: a DOI counts once however written."""
    if identifier is None:
        return
    if any(i.code == identifier.code and i.scheme == identifier.scheme for i in found):
        return
    found.append(identifier)


def _postal_address(address: Any) -> str | None:
    """One line: delivery points, postcode and city, administrative area."""
    town = " ".join(filter(None, (_text(_first(_POSTCODE(address))), _text(_first(_CITY(address))))))
    parts = [*_texts(_DELIVERY_POINTS(address)), town, _text(_first(_AREA(address)))]
    return ", ".join(part for part in parts if part) or None


def _link(element: Any) -> Link | None:
    url = _text(_first(_LINKAGE(element)))
    if not url:
        return None
    protocol_prop = _first(_PROTOCOL(element))
    return Link(
        url=url,
        protocol=_text(protocol_prop) or _href(protocol_prop),
        function=_code(_first(_FUNCTION(element))),
        name=_text(_first(_NAME(element))),
        description=_text(_first(_DESCRIPTION(element))),
    )


class ISO19139(Crosswalk):
    """ISO 19139 / ISO 19115-2 XML -> ``Record``. Rejection codes: ``not-xml``, ``not-iso19139``,
    ``no-identifier``, ``no-title``."""

    name = "iso19139"

    def to_record(self, raw: RawRecord, *, pole: str | None = None) -> Record:
        reader = _Reader(_metadata_element(_root(raw)))
        native_id = reader.native_id(raw)
        title = reader.localised(_first(reader.in_ident(_TITLE)))
        if title is None:
            raise Rejected("no-title", f"record {native_id!r} has no resource title (gmd:citation/gmd:title)")
        links = reader.links()
        dates = reader.citation_dates()
        return Record(
            id=record_id(raw.source_id, native_id),
            native_id=native_id,
            source_id=raw.source_id,
            pole=pole,
            resource_type=reader.resource_type(),
            title=title,
            abstract=reader.localised(_first(reader.in_ident(_ABSTRACT)), multiline=True),
            language=_language(_first(reader.in_ident(_RESOURCE_LANGUAGE))),
            metadata_language=reader.metadata_language,
            identifiers=reader.identifiers(native_id, links),
            parent_id=reader.parent_id(),
            keywords=reader.keywords(),
            topic_categories=_unique(filter(None, map(_text, reader.in_ident(_TOPICS)))),
            bboxes=reader.bboxes(),
            places=reader.places(),
            temporal=reader.temporal(),
            created=dates.get("created"),
            published=dates.get("published"),
            revised=dates.get("revised"),
            metadata_date=reader.metadata_date(),
            contacts=reader.contacts(),
            constraints=reader.constraints(),
            links=links,
            formats=reader.formats(),
            thumbnails=_texts(reader.in_ident(_THUMBNAILS)),
            lineage=reader.lineage(),
            platforms=reader.equipment(_PLATFORMS),
            instruments=reader.equipment(_INSTRUMENTS),
            provenance=Provenance(source_id=raw.source_id, native_format="iso19139", datestamp=raw.datestamp),
            warnings=reader.warnings,
        )
