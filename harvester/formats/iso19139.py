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
from typing import Any

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
    Provenance,
    Record,
    TemporalExtent,
)
from harvester.formats import Crosswalk, Rejected
from harvester.formats.common import (
    URL_IN_TEXT,
    add_identifier,
    doi_identifier,
    first,
    fold,
    is_licence,
    normalise_date,
    normalise_language,
    one_line,
    paragraphs,
    to_identifier,
    unique,
    xml_root,
)
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

# A fileIdentifier left as a template placeholder ("{uuid}", "${id}") would merge unrelated records.
_PLACEHOLDER = re.compile(r"\$?\{+[^{}]*\}+")

# Texts a source writes in a gml position when it means "no value".
_OPEN_POSITIONS = {"": None, "none": None, "null": None, "nil": None, "unknown": "unknown", "now": "now"}


# --- small readers -----------------------------------------------------------------------------------------
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
    value = _main_text(prop, one_line) or one_line(prop.text)
    if value:
        return value
    return next((value for element in _TRANSLATIONS(prop) if (value := one_line(element.text))), None)


def _texts(props: list[Any]) -> list[str]:
    return unique(value for prop in props if (value := _text(prop)))


def _href(prop: Any) -> str | None:
    """The ``xlink:href`` of the property's ``gmx:Anchor``: the URI the source gives for the value."""
    anchor = first(_ANCHOR(prop)) if prop is not None else None
    return one_line(anchor.get(_HREF)) if anchor is not None else None


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
        self.metadata_language = _language(first(_MD_LANGUAGE(md)))
        self.locales = {
            locale.get("id"): normalise_language(_code(first(_LOCALE_CODE(locale))))
            for locale in _LOCALES(md)
        }
        self.ident = first(_IDENTIFICATIONS(md))

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
        clean = paragraphs if multiline else one_line
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
        native = _text(first(_FILE_ID(self.md)))
        if native and _PLACEHOLDER.fullmatch(native):
            self.warn(f"gmd:fileIdentifier: template placeholder {native!r} ignored")
            native = None
        if not native:
            codes = (_ID_CODE(identifier) for identifier in self.in_ident(_RESOURCE_IDS))
            native = next((value for code in codes if (value := _text(first(code)))), None)
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
        add_identifier(found, doi_identifier(native_id))
        for identifier in self.in_ident(_RESOURCE_IDS):
            code_prop = first(_ID_CODE(identifier))
            scheme = _text(first(_ID_CODESPACE(identifier))) or _text(first(_ID_AUTHORITY(identifier)))
            add_identifier(found, to_identifier(_text(code_prop), _href(code_prop), scheme))
        for uri in _texts(_DATASET_URI(self.md)):
            add_identifier(found, to_identifier(uri, None, None))
        for link in links:
            add_identifier(found, doi_identifier(link.url))
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
            kind = _code(first(_KEYWORD_TYPE(block)))
            title_prop = first(_THESAURUS_TITLE(block))
            id_prop = first(_THESAURUS_ID(block))
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
        return unique(box for element in _BBOXES(self.md) if (box := self.bbox(element)) is not None)

    def bbox(self, element: Any) -> BBox | None:
        """A WGS 84 box, or ``None`` (with a warning) when a bound is missing, not a number or out of
        range. ``west > east`` is kept (antimeridian); a point (west = east, south = north) is valid.

        ``extentTypeCode`` false (an exclusion box) is indexed as coverage all the same, with a warning:
        writers set it by mistake on the only box of a record (pygeometa, BonaRes), and dropping it
        would make the record unfindable on a map.
        """
        if (_text(first(_BBOX_TYPE(element))) or "").lower() in ("false", "0"):
            self.warn("gmd:EX_GeographicBoundingBox: extentTypeCode false (exclusion) ignored; box indexed")
        values: list[float] = []
        for name, path in _BOUNDS:
            text = _text(first(path(element)))
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
        return _texts([first(_ID_CODE(identifier)) for identifier in _PLACES(self.md)])

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
        return unique(extent for extent in extents if extent != TemporalExtent())

    def period(self, element: Any) -> TemporalExtent:
        start, start_raw, _ = self.position(first(_BEGIN(element)))
        end, end_raw, indeterminate = self.position(first(_END(element)))
        if start and end and start[:10] > end[:10]:
            self.warn(f"gml:TimePeriod: ends ({end}) before it begins ({start})")
        return TemporalExtent(
            start=start, end=end, start_raw=start_raw, end_raw=end_raw, indeterminate_end=indeterminate
        )

    def instant(self, element: Any) -> TemporalExtent:
        value, raw, _ = self.position(first(_INSTANT(element)))
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
            field = _CITATION_DATE_FIELDS.get(_code(first(_DATE_TYPE(element))) or "")
            text = _text(first(_DATE_VALUE(element)))
            if field is None or text is None or field in dates:
                continue
            if value := normalise_date(text):
                dates[field] = value
            else:
                self.warn(f"gmd:CI_Date ({field}): unreadable date {text!r}")
        return dates

    def metadata_date(self) -> str | None:
        text = _text(first(_DATESTAMP(self.md)))
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
        return unique(contact for party in parties if (contact := self.contact(party)) is not None)

    def contact(self, party: Any) -> Contact | None:
        """A ``CI_ResponsibleParty``; ``None`` when it names nobody and gives no way to reach anyone."""
        organisation = self.localised(first(_PARTY_ORGANISATION(party)))
        role = _code(first(_PARTY_ROLE(party)))
        if role and "{" in role:
            self.warn(f"gmd:role: template placeholder {role!r} ignored")
            role = None
        info = first(_CONTACT_INFO(party))
        address = first(_ADDRESS(info)) if info is not None else None
        contact = Contact(
            role=role,
            name=_text(first(_PARTY_INDIVIDUAL(party))),
            organisation=organisation.text if organisation else None,
            position=_text(first(_PARTY_POSITION(party))),
            emails=_texts(_EMAILS(address)) if address is not None else [],
            phones=_texts(_PHONES(info)) if info is not None else [],
            url=_text(first(_CONTACT_URL(info))) if info is not None else None,
            address=_postal_address(address) if address is not None else None,
            country=_text(first(_COUNTRY(address))) if address is not None else None,
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
        licence = next((c for c in candidates if c[1]), first(candidates))
        for candidate in candidates:
            if candidate is not licence:
                candidate[2].append(candidate[0])
        constraints = Constraints(
            licence=licence[0] if licence else None,
            licence_url=licence[1] if licence else None,
            access=unique(access),
            use_limitations=unique(use_limitations),
            other=unique(other),
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
        url = href or first(URL_IN_TEXT.findall(label))
        if is_licence(label, url):
            candidates.append((label, url, home))
        else:
            home.append(label)

    # --- distribution ---
    def links(self) -> list[Link]:
        """Distribution online resources, then service endpoints not already listed."""
        links = unique(link for element in _ONLINE(self.md) if (link := _link(element)) is not None)
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
            name = _text(first(_NAME(element)))
            if name:
                found.append(Format(name=name, version=_text(first(_VERSION(element)))))
        return unique(found)

    def lineage(self) -> str | None:
        statements = unique(
            text.text for prop in _LINEAGES(self.md) if (text := self.localised(prop, multiline=True))
        )
        return "\n\n".join(statements) or None

    def parent_id(self) -> str | None:
        prop = first(_PARENT(self.md))
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
            if fold(name) not in folded:
                folded.add(fold(name))
                out.append(name)
        return out


def _postal_address(address: Any) -> str | None:
    """One line: delivery points, postcode and city, administrative area."""
    town = " ".join(filter(None, (_text(first(_POSTCODE(address))), _text(first(_CITY(address))))))
    parts = [*_texts(_DELIVERY_POINTS(address)), town, _text(first(_AREA(address)))]
    return ", ".join(part for part in parts if part) or None


def _link(element: Any) -> Link | None:
    url = _text(first(_LINKAGE(element)))
    if not url:
        return None
    protocol_prop = first(_PROTOCOL(element))
    return Link(
        url=url,
        protocol=_text(protocol_prop) or _href(protocol_prop),
        function=_code(first(_FUNCTION(element))),
        name=_text(first(_NAME(element))),
        description=_text(first(_DESCRIPTION(element))),
    )


class ISO19139(Crosswalk):
    """ISO 19139 / ISO 19115-2 XML -> ``Record``. Rejection codes: ``not-xml``, ``not-iso19139``,
    ``no-identifier``, ``no-title``."""

    name = "iso19139"

    def to_record(self, raw: RawRecord, *, pole: str | None = None) -> Record:
        reader = _Reader(_metadata_element(xml_root(raw)))
        native_id = reader.native_id(raw)
        title = reader.localised(first(reader.in_ident(_TITLE)))
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
            abstract=reader.localised(first(reader.in_ident(_ABSTRACT)), multiline=True),
            language=_language(first(reader.in_ident(_RESOURCE_LANGUAGE))),
            metadata_language=reader.metadata_language,
            identifiers=reader.identifiers(native_id, links),
            parent_id=reader.parent_id(),
            keywords=reader.keywords(),
            topic_categories=unique(filter(None, map(_text, reader.in_ident(_TOPICS)))),
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
