"""ISO 19139 (``gmd:MD_Metadata`` and ISO 19115-2 ``gmi:MI_Metadata``) -> canonical ``Record``.

Every pole publishes ISO 19139 through CSW, so this crosswalk sees the widest variety of writers
(GeoNetwork 2-4, pycsw, ncISO, pygeometa, ESRI, hand-edited files). It is therefore tolerant in what it
reads — ``gco:CharacterString`` or ``gmx:Anchor`` or ``PT_FreeText`` alone, code-list values as
attribute or text, GML 3.1 and 3.2 — and strict only on what a record cannot do without: an identifier
and a title. What it can read only partly goes to ``Record.warnings``, naming the element.

ISO 19115-3 encodes the same model in other namespaces, so ``IsoReader`` holds the reading logic for
both: it evaluates the XPaths of an ``IsoPaths`` table (ISO 19139's here, ISO 19115-3's in
``iso19115_3``), and the small readers accept either encoding of free text, anchors and language codes.

Speed: the whole harvest must stay above 300 records/s on one core, so every XPath is compiled once at
import time and every path starts from a known element instead of scanning with ``//``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
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
    SCOPE_CODES,
    Rights,
    RightsList,
    add_identifier,
    distinct_names,
    doi_identifier,
    first,
    local_name,
    normalise_date,
    normalise_language,
    one_line,
    paragraphs,
    postal_address,
    to_identifier,
    unique,
    xml_root,
)
from harvester.raw import RawRecord

GMD = "http://www.isotc211.org/2005/gmd"
GMI = "http://www.isotc211.org/2005/gmi"
# ISO 19115-3 free text and anchors (their namespaces have a single version).
LAN = "http://standards.iso.org/iso/19115/-3/lan/1.0"
GCX = "http://standards.iso.org/iso/19115/-3/gcx/1.0"
NS = {
    "gmd": GMD,
    "gmi": GMI,
    "gco": "http://www.isotc211.org/2005/gco",
    "gmx": "http://www.isotc211.org/2005/gmx",
    "srv": "http://www.isotc211.org/2005/srv",
    "gml": "http://www.opengis.net/gml",
    "gml32": "http://www.opengis.net/gml/3.2",
    "xlink": "http://www.w3.org/1999/xlink",
    "lan": LAN,
    "gcx": GCX,
}
_METADATA_TAGS = (f"{{{GMD}}}MD_Metadata", f"{{{GMI}}}MI_Metadata")
_PT_FREETEXT = frozenset({f"{{{GMD}}}PT_FreeText", f"{{{LAN}}}PT_FreeText"})
_LANGUAGE_CODE = frozenset({f"{{{GMD}}}LanguageCode", f"{{{LAN}}}LanguageCode"})
_ANCHOR = frozenset({f"{{{NS['gmx']}}}Anchor", f"{{{GCX}}}Anchor"})
_HREF = f"{{{NS['xlink']}}}href"


def _xp(path: str, namespaces: dict[str, str] = NS) -> etree.XPath:
    return etree.XPath(path, namespaces=namespaces, smart_strings=False)


@dataclass(frozen=True, slots=True)
class IsoPaths:
    """The XPaths ``IsoReader`` evaluates, compiled for one XML encoding of ISO 19115 (19139 or 19115-3).

    Relative to ``MD_Metadata`` down to ``lineages``, to the identification element from ``title`` to
    ``constraint_blocks``, then to the element each comment names.
    """

    metadata_id: etree.XPath
    metadata_language: etree.XPath
    locales: etree.XPath
    locale_code: etree.XPath  # relative to a locale
    scopes: etree.XPath
    metadata_dates: etree.XPath  # 19139: the dateStamp value; 19115-3: the typed dateInfo dates
    parent: etree.XPath
    dataset_uri: etree.XPath
    identifications: etree.XPath
    bboxes: etree.XPath
    places: etree.XPath
    temporals: etree.XPath
    metadata_contacts: etree.XPath
    distributor_contacts: etree.XPath
    online: etree.XPath
    connect_points: etree.XPath
    formats: etree.XPath
    lineages: etree.XPath
    title: etree.XPath
    citation_dates: etree.XPath
    resource_ids: etree.XPath
    cited_parties: etree.XPath
    abstract: etree.XPath
    resource_language: etree.XPath
    points_of_contact: etree.XPath
    keyword_blocks: etree.XPath
    topics: etree.XPath
    thumbnails: etree.XPath
    constraint_blocks: etree.XPath
    date_value: etree.XPath  # relative to a CI_Date
    date_type: etree.XPath
    id_code: etree.XPath  # relative to an MD_Identifier
    id_codespace: etree.XPath
    id_authority: etree.XPath
    keywords: etree.XPath  # relative to an MD_Keywords
    keyword_type: etree.XPath
    thesaurus_title: etree.XPath
    thesaurus_id: etree.XPath
    bbox_type: etree.XPath  # relative to an EX_GeographicBoundingBox
    west: etree.XPath
    south: etree.XPath
    east: etree.XPath
    north: etree.XPath
    party_individual: etree.XPath  # relative to a party (19115-3: an individual)
    party_organisation: etree.XPath  # relative to a party (19115-3: an organisation)
    party_position: etree.XPath
    party_role: etree.XPath  # relative to a responsible party / responsibility
    contact_info: etree.XPath  # relative to a party
    phones: etree.XPath  # relative to a CI_Contact
    address: etree.XPath
    contact_url: etree.XPath
    emails: etree.XPath  # relative to a CI_Address
    delivery_points: etree.XPath
    city: etree.XPath
    area: etree.XPath
    postcode: etree.XPath
    country: etree.XPath
    linkage: etree.XPath  # relative to a CI_OnlineResource
    protocol: etree.XPath
    function: etree.XPath
    name: etree.XPath
    description: etree.XPath
    format_name: etree.XPath  # relative to an MD_Format
    format_version: etree.XPath
    use_limitations: etree.XPath  # relative to a constraints block
    access_codes: etree.XPath
    use_codes: etree.XPath
    other_constraints: etree.XPath


def compile_paths(table: dict[str, str], namespaces: dict[str, str]) -> IsoPaths:
    """``IsoPaths`` from a table of XPath expressions keyed by field name."""
    return IsoPaths(**{name: _xp(path, namespaces) for name, path in table.items()})


_EXTENTS = "gmd:identificationInfo/*/*[self::gmd:extent or self::srv:extent]/gmd:EX_Extent"
_DISTRIBUTION = "gmd:distributionInfo/gmd:MD_Distribution"
_CITATION = "gmd:citation/gmd:CI_Citation"
_PATHS = compile_paths(
    {
        "metadata_id": "gmd:fileIdentifier",
        "metadata_language": "gmd:language",
        "locales": "gmd:locale/gmd:PT_Locale",
        "locale_code": "gmd:languageCode/*",
        "scopes": "gmd:hierarchyLevel/*",
        "metadata_dates": "gmd:dateStamp/*",
        "parent": "gmd:parentIdentifier",
        "dataset_uri": "gmd:dataSetURI",
        "identifications": "gmd:identificationInfo/*",
        "bboxes": f"{_EXTENTS}/gmd:geographicElement/gmd:EX_GeographicBoundingBox",
        "places": f"{_EXTENTS}/gmd:geographicElement/gmd:EX_GeographicDescription/gmd:geographicIdentifier/*",
        "temporals": f"{_EXTENTS}/gmd:temporalElement/*/gmd:extent/*",
        "metadata_contacts": "gmd:contact/gmd:CI_ResponsibleParty",
        "distributor_contacts": (
            f"{_DISTRIBUTION}/gmd:distributor/*/gmd:distributorContact/gmd:CI_ResponsibleParty"
        ),
        "online": (
            f"{_DISTRIBUTION}/gmd:transferOptions/*/gmd:onLine/gmd:CI_OnlineResource | {_DISTRIBUTION}"
            "/gmd:distributor/*/gmd:distributorTransferOptions/*/gmd:onLine/gmd:CI_OnlineResource"
        ),
        "connect_points": (
            "gmd:identificationInfo/srv:SV_ServiceIdentification/srv:containsOperations/*/srv:connectPoint/*"
        ),
        "formats": (
            f"{_DISTRIBUTION}/gmd:distributionFormat/gmd:MD_Format"
            f" | {_DISTRIBUTION}/gmd:distributor/*/gmd:distributorFormat/gmd:MD_Format"
            " | gmd:identificationInfo/*/gmd:resourceFormat/gmd:MD_Format"
        ),
        "lineages": "gmd:dataQualityInfo/*/gmd:lineage/*/gmd:statement",
        "title": f"{_CITATION}/gmd:title",
        "citation_dates": f"{_CITATION}/gmd:date/gmd:CI_Date",
        "resource_ids": f"{_CITATION}/gmd:identifier/*",
        "cited_parties": f"{_CITATION}/gmd:citedResponsibleParty/gmd:CI_ResponsibleParty",
        "abstract": "gmd:abstract",
        "resource_language": "gmd:language",
        "points_of_contact": "gmd:pointOfContact/gmd:CI_ResponsibleParty",
        "keyword_blocks": "gmd:descriptiveKeywords/gmd:MD_Keywords",
        "topics": "gmd:topicCategory/gmd:MD_TopicCategoryCode",
        "thumbnails": "gmd:graphicOverview/gmd:MD_BrowseGraphic/gmd:fileName",
        "constraint_blocks": "gmd:resourceConstraints/*",
        "date_value": "gmd:date/*",
        "date_type": "gmd:dateType/*",
        "id_code": "gmd:code",
        "id_codespace": "gmd:codeSpace",
        "id_authority": "gmd:authority/gmd:CI_Citation/gmd:title",
        "keywords": "gmd:keyword",
        "keyword_type": "gmd:type/*",
        "thesaurus_title": "gmd:thesaurusName/gmd:CI_Citation/gmd:title",
        "thesaurus_id": "gmd:thesaurusName/gmd:CI_Citation/gmd:identifier/*/gmd:code",
        "bbox_type": "gmd:extentTypeCode/*",
        "west": "gmd:westBoundLongitude/*",
        "south": "gmd:southBoundLatitude/*",
        "east": "gmd:eastBoundLongitude/*",
        "north": "gmd:northBoundLatitude/*",
        "party_individual": "gmd:individualName",
        "party_organisation": "gmd:organisationName",
        "party_position": "gmd:positionName",
        "party_role": "gmd:role/*",
        "contact_info": "gmd:contactInfo/gmd:CI_Contact",
        "phones": "gmd:phone/gmd:CI_Telephone/gmd:voice",
        "address": "gmd:address/gmd:CI_Address",
        "contact_url": "gmd:onlineResource/gmd:CI_OnlineResource/gmd:linkage/*",
        "emails": "gmd:electronicMailAddress",
        "delivery_points": "gmd:deliveryPoint",
        "city": "gmd:city",
        "area": "gmd:administrativeArea",
        "postcode": "gmd:postalCode",
        "country": "gmd:country",
        "linkage": "gmd:linkage/*",
        "protocol": "gmd:protocol",
        "function": "gmd:function/*",
        "name": "gmd:name",
        "description": "gmd:description",
        "format_name": "gmd:name",
        "format_version": "gmd:version",
        "use_limitations": "gmd:useLimitation",
        "access_codes": "gmd:accessConstraints/*",
        "use_codes": "gmd:useConstraints/*",
        "other_constraints": "gmd:otherConstraints",
    },
    NS,
)

# --- paths both encodings share -------------------------------------------------------------------------
_TRANSLATIONS = _xp(
    "gmd:PT_FreeText/gmd:textGroup/gmd:LocalisedCharacterString"
    " | lan:PT_FreeText/lan:textGroup/lan:LocalisedCharacterString"
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
# ISO 19115-2 (gmi) and ISO 19115-3 (mac) acquisition information, by local name.
_ACQUISITION = "*[local-name()='acquisitionInformation']/*"
_PLATFORMS = _xp(f"{_ACQUISITION}/*[local-name()='platform']/*")
_INSTRUMENTS = _xp(
    f"{_ACQUISITION}/*[local-name()='instrument']/*"
    f" | {_ACQUISITION}/*[local-name()='platform']/*/*[local-name()='instrument']/*"
)
_EQUIPMENT_CODES = _xp("*[local-name()='identifier']//*[local-name()='code']")  # relative to a platform
_EQUIPMENT_IDENTIFIER = _xp("*[local-name()='identifier']")
_EQUIPMENT_DESCRIPTION = _xp("*[local-name()='description']")

# --- vocabularies ---------------------------------------------------------------------------------------
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


# --- small readers (either encoding) ---------------------------------------------------------------------
def _main_text(prop: Any, clean: Callable[[str | None], str | None]) -> tuple[str | None, bool]:
    """The value in the main language: the first non-empty child that is not ``PT_FreeText``
    (``gco:CharacterString``, ``gmx:Anchor``, ``gco:Date``, ``gmd:URL``, even ``gco:characterString``),
    and whether there is a ``PT_FreeText``: most properties have none, and the translations XPath is
    then not worth running."""
    main = None
    has_translations = False
    for child in prop.iterchildren(tag=etree.Element):
        if child.tag in _PT_FREETEXT:
            has_translations = True
        elif main is None:
            main = clean(child.text)
    return main, has_translations


def text_of(prop: Any) -> str | None:
    """The value of an ISO property element, one line: its main-language child, else the element's
    own text (non-conformant writers put ``<gmi:identifier>Sentinel-2B</gmi:identifier>``), else the
    first ``PT_FreeText`` translation."""
    if prop is None:
        return None
    main, has_translations = _main_text(prop, one_line)
    value = main or one_line(prop.text)
    if value or not has_translations:
        return value
    return next((value for element in _TRANSLATIONS(prop) if (value := one_line(element.text))), None)


def texts_of(props: list[Any]) -> list[str]:
    return unique(value for prop in props if (value := text_of(prop)))


def href_of(prop: Any) -> str | None:
    """The ``xlink:href`` of the property's ``gmx:Anchor``: the URI the source gives for the value."""
    if prop is not None:
        for child in prop:  # a loop over the few children is faster than an XPath call
            if child.tag in _ANCHOR:
                return one_line(child.get(_HREF))
    return None


def code_of(element: Any) -> str | None:
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


def language_of(prop: Any) -> str | None:
    """A language property: ``gmd:LanguageCode`` or ``gco:CharacterString`` -> ISO 639-1."""
    if prop is None:
        return None
    child = next(prop.iterchildren(tag=etree.Element), None)
    if child is not None and child.tag in _LANGUAGE_CODE:
        return normalise_language(code_of(child))
    return normalise_language(text_of(prop))


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


class IsoReader:
    """Reads one ``MD_Metadata`` through an ``IsoPaths`` table; holds what the parts share: locales,
    main language, warnings.

    The first ``identificationInfo`` describes the resource (ncISO adds service identifications after
    the data identification); extents and service endpoints are read from all of them. The class
    attributes name elements in messages, as the source's administrator reads them in the record.
    """

    METADATA_ID = "gmd:fileIdentifier"
    SCOPE = "gmd:hierarchyLevel"
    TITLE = "gmd:citation/gmd:title"
    EXTENT = "gmd"  # prefix of the extent elements
    CITATION = "gmd"  # prefix of the citation and party elements

    def __init__(self, md: Any, paths: IsoPaths):
        self.md = md
        self.p = paths
        self.warnings: list[str] = []
        self.metadata_language = language_of(first(paths.metadata_language(md)))
        self.locales = {
            locale.get("id"): normalise_language(code_of(first(paths.locale_code(locale))))
            for locale in paths.locales(md)
        }
        self.ident = first(paths.identifications(md))

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def in_ident(self, path: etree.XPath) -> list[Any]:
        return path(self.ident) if self.ident is not None else []

    # --- the record ---
    def record(self, raw: RawRecord, *, pole: str | None, native_format: str) -> Record:
        native_id = self.native_id(raw)
        title = self.localised(first(self.in_ident(self.p.title)))
        if title is None:
            raise Rejected("no-title", f"record {native_id!r} has no resource title ({self.TITLE})")
        links = self.links()
        dates = self.citation_dates()
        return Record(
            id=record_id(raw.source_id, native_id),
            native_id=native_id,
            source_id=raw.source_id,
            pole=pole,
            resource_type=self.resource_type(),
            title=title,
            abstract=self.localised(first(self.in_ident(self.p.abstract)), multiline=True),
            language=language_of(first(self.in_ident(self.p.resource_language))),
            metadata_language=self.metadata_language,
            identifiers=self.identifiers(native_id, links),
            parent_id=self.parent_id(),
            keywords=self.keywords(),
            topic_categories=unique(filter(None, map(text_of, self.in_ident(self.p.topics)))),
            bboxes=self.bboxes(),
            places=self.places(),
            temporal=self.temporal(),
            created=dates.get("created"),
            published=dates.get("published"),
            revised=dates.get("revised"),
            metadata_date=self.metadata_date(),
            contacts=self.contacts(),
            constraints=self.constraints(),
            links=links,
            formats=self.formats(),
            thumbnails=texts_of(self.in_ident(self.p.thumbnails)),
            lineage=self.lineage(),
            platforms=self.equipment(_PLATFORMS),
            instruments=self.equipment(_INSTRUMENTS),
            provenance=Provenance(
                source_id=raw.source_id, native_format=native_format, datestamp=raw.datestamp
            ),
            warnings=self.warnings,
        )

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
        main, has_translations = _main_text(prop, clean)
        translations: dict[str, str] = {}
        for element in _TRANSLATIONS(prop) if has_translations else ():
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
        native = text_of(first(self.p.metadata_id(self.md)))
        if native and _PLACEHOLDER.fullmatch(native):
            self.warn(f"{self.METADATA_ID}: template placeholder {native!r} ignored")
            native = None
        if not native:
            codes = (self.p.id_code(identifier) for identifier in self.in_ident(self.p.resource_ids))
            native = next((value for code in codes if (value := text_of(first(code)))), None)
        native = native or (raw.native_id or "").strip()
        if not native:
            raise Rejected(
                "no-identifier", f"no {self.METADATA_ID}, no resource identifier and no id from the protocol"
            )
        return native

    def identifiers(self, native_id: str, links: list[Link]) -> list[Identifier]:
        """Resource identifiers and every DOI, wherever the source put it (fileIdentifier, identifier
        code or anchor, dataSetURI, a doi.org online resource); one entry per DOI."""
        found: list[Identifier] = []
        add_identifier(found, doi_identifier(native_id))
        for identifier in self.in_ident(self.p.resource_ids):
            code_prop = first(self.p.id_code(identifier))
            scheme = text_of(first(self.p.id_codespace(identifier))) or text_of(
                first(self.p.id_authority(identifier))
            )
            add_identifier(found, to_identifier(text_of(code_prop), href_of(code_prop), scheme))
        for uri in texts_of(self.p.dataset_uri(self.md)):
            add_identifier(found, to_identifier(uri, None, None))
        for link in links:
            add_identifier(found, doi_identifier(link.url))
        return found

    # --- classification ---
    def resource_type(self) -> str:
        """The first valid scope (``hierarchyLevel``); else service for a service identification, else
        dataset."""
        for element in self.p.scopes(self.md):
            scope = code_of(element)
            if scope in SCOPE_CODES:
                return scope
            if scope:
                self.warn(f"{self.SCOPE}: unknown scope code {scope!r}")
        is_service = self.ident is not None and local_name(self.ident) == "SV_ServiceIdentification"
        return "service" if is_service else "dataset"

    def keywords(self) -> list[Keyword]:
        """One ``Keyword`` per ``gmd:keyword``, carrying its block's type and thesaurus."""
        found: list[Keyword] = []
        for block in self.in_ident(self.p.keyword_blocks):
            kind = code_of(first(self.p.keyword_type(block)))
            title_prop = first(self.p.thesaurus_title(block))
            id_prop = first(self.p.thesaurus_id(block))
            thesaurus = text_of(title_prop)
            thesaurus_uri = href_of(title_prop) or href_of(id_prop) or text_of(id_prop)
            for prop in self.p.keywords(block):
                label = self.localised(prop)
                if label is None:
                    continue
                keyword = Keyword(
                    label=label.text,
                    uri=href_of(prop),
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
        return unique(box for element in self.p.bboxes(self.md) if (box := self.bbox(element)) is not None)

    def bbox(self, element: Any) -> BBox | None:
        """A WGS 84 box, or ``None`` (with a warning) when a bound is missing, not a number or out of
        range. ``west > east`` is kept (antimeridian); a point (west = east, south = north) is valid.

        ``extentTypeCode`` false (an exclusion box) is indexed as coverage all the same, with a warning:
        writers set it by mistake on the only box of a record (pygeometa, BonaRes), and dropping it
        would make the record unfindable on a map.
        """
        prefix = self.EXTENT
        if (text_of(first(self.p.bbox_type(element))) or "").lower() in ("false", "0"):
            self.warn(
                f"{prefix}:EX_GeographicBoundingBox: extentTypeCode false (exclusion) ignored; box indexed"
            )
        values: list[float] = []
        bounds = (
            ("westBoundLongitude", self.p.west),
            ("southBoundLatitude", self.p.south),
            ("eastBoundLongitude", self.p.east),
            ("northBoundLatitude", self.p.north),
        )
        for name, path in bounds:
            text = text_of(first(path(element)))
            try:
                value = float((text or "").replace(",", "."))
            except ValueError:
                problem = f"{text!r} is not a number" if text else "missing"
                self.warn(f"{prefix}:{name}: {problem}; bounding box skipped")
                return None
            limit = 90.0 if name.endswith("Latitude") else 180.0
            if not math.isfinite(value) or abs(value) > limit:
                self.warn(f"{prefix}:{name}: {text} is out of range; bounding box skipped")
                return None
            values.append(value)
        west, south, east, north = values
        if south > north:
            self.warn(f"{prefix}:EX_GeographicBoundingBox: south {south} is above north {north}; box skipped")
            return None
        return BBox(west, south, east, north)

    def places(self) -> list[str]:
        return texts_of([first(self.p.id_code(identifier)) for identifier in self.p.places(self.md)])

    def temporal(self) -> list[TemporalExtent]:
        extents = []
        for element in self.p.temporals(self.md):
            kind = element.tag.rpartition("}")[2]
            if kind == "TimePeriod":
                extents.append(self.period(element))
            elif kind == "TimeInstant":
                extents.append(self.instant(element))
            else:
                self.warn(f"{self.EXTENT}:EX_TemporalExtent: {kind} is not read")
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
        for element in self.in_ident(self.p.citation_dates):
            field = _CITATION_DATE_FIELDS.get(code_of(first(self.p.date_type(element))) or "")
            text = text_of(first(self.p.date_value(element)))
            if field is None or text is None or field in dates:
                continue
            if value := normalise_date(text):
                dates[field] = value
            else:
                self.warn(f"{self.CITATION}:CI_Date ({field}): unreadable date {text!r}")
        return dates

    def metadata_date(self) -> str | None:
        text = text_of(first(self.p.metadata_dates(self.md)))
        value = normalise_date(text)
        if text and value is None:
            self.warn(f"gmd:dateStamp: unreadable date {text!r}")
        return value

    # --- parties ---
    def contacts(self) -> list[Contact]:
        """Cited parties and points of contact of the resource, distributors, then metadata contacts."""
        parties = [
            *self.in_ident(self.p.cited_parties),
            *self.in_ident(self.p.points_of_contact),
            *self.p.distributor_contacts(self.md),
            *self.p.metadata_contacts(self.md),
        ]
        return unique(contact for party in parties for contact in self.party_contacts(party))

    def party_contacts(self, party: Any) -> list[Contact]:
        """The contact of a ``CI_ResponsibleParty``: one, or none when it names nobody and gives no way
        to reach anyone."""
        organisation = self.localised(first(self.p.party_organisation(party)))
        contact = self.contact(
            self.role(party),
            name=text_of(first(self.p.party_individual(party))),
            organisation=organisation.text if organisation else None,
            position=text_of(first(self.p.party_position(party))),
            info=first(self.p.contact_info(party)),
        )
        return [contact] if contact is not None else []

    def role(self, party: Any) -> str | None:
        role = code_of(first(self.p.party_role(party)))
        if role and "{" in role:
            self.warn(f"{self.CITATION}:role: template placeholder {role!r} ignored")
            return None
        return role

    def contact(
        self, role: str | None, *, name: str | None, organisation: str | None, position: str | None, info: Any
    ) -> Contact | None:
        """A contact reached through the ``CI_Contact`` ``info``; ``None`` when it names nobody and gives
        no way to reach anyone."""
        address = first(self.p.address(info)) if info is not None else None
        contact = Contact(
            role=role,
            name=name,
            organisation=organisation,
            position=position,
            emails=texts_of(self.p.emails(address)) if address is not None else [],
            phones=texts_of(self.p.phones(info)) if info is not None else [],
            url=text_of(first(self.p.contact_url(info))) if info is not None else None,
            address=self.postal_address(address) if address is not None else None,
            country=text_of(first(self.p.country(address))) if address is not None else None,
        )
        reachable = contact.emails or contact.phones or contact.url
        return contact if reachable or contact.name or contact.organisation or contact.position else None

    def postal_address(self, address: Any) -> str | None:
        return postal_address(
            texts_of(self.p.delivery_points(address)),
            text_of(first(self.p.postcode(address))),
            text_of(first(self.p.city(address))),
            text_of(first(self.p.area(address))),
        )

    # --- rights ---
    def constraints(self) -> Constraints | None:
        """Licence, access and use constraints of the resource (the licence chosen by ``Rights``).

        Restriction codes are kept as they are; ``otherConstraints`` that are INSPIRE
        LimitationsOnPublicAccess anchors are access constraints, other texts go to ``other``.
        """
        rights = Rights()
        for block in self.in_ident(self.p.constraint_blocks):
            for prop in self.p.use_limitations(block):
                self.add_right(rights, prop, "use_limitations")
            rights.lists["access"].extend(
                code
                for code in map(code_of, self.p.access_codes(block))
                if code and code not in _POINTER_CODES
            )
            rights.lists["other"].extend(
                code for code in map(code_of, self.p.use_codes(block)) if code and code not in _POINTER_CODES
            )
            for prop in self.p.other_constraints(block):
                public_access = "LimitationsOnPublicAccess" in (href_of(prop) or "")
                self.add_right(rights, prop, "access" if public_access else "other")
            self.licence_references(block, rights)
        return rights.constraints()

    def add_right(self, rights: Rights, prop: Any, home: RightsList) -> None:
        text = self.localised(prop, multiline=True)
        rights.add(text.text if text else None, href_of(prop), home)

    def licence_references(self, block: Any, rights: Rights) -> None:
        """Citations of licence documents in a constraints block: ISO 19139 has none (ISO 19115-3 does)."""

    # --- distribution ---
    def links(self) -> list[Link]:
        """Distribution online resources, then service endpoints not already listed."""
        links = unique(link for element in self.p.online(self.md) if (link := self.link(element)) is not None)
        urls = {link.url for link in links}
        for element in self.p.connect_points(self.md):
            link = self.link(element)
            if link is not None and link.url not in urls:
                urls.add(link.url)
                links.append(link)
        return links

    def link(self, element: Any) -> Link | None:
        url = text_of(first(self.p.linkage(element)))
        if not url:
            return None
        protocol_prop = first(self.p.protocol(element))
        return Link(
            url=url,
            protocol=text_of(protocol_prop) or href_of(protocol_prop),
            function=code_of(first(self.p.function(element))),
            name=text_of(first(self.p.name(element))),
            description=text_of(first(self.p.description(element))),
        )

    def formats(self) -> list[Format]:
        found = []
        for element in self.p.formats(self.md):
            name = text_of(first(self.p.format_name(element)))
            if name:
                found.append(Format(name=name, version=text_of(first(self.p.format_version(element)))))
        return unique(found)

    def lineage(self) -> str | None:
        statements = unique(
            text.text for prop in self.p.lineages(self.md) if (text := self.localised(prop, multiline=True))
        )
        return "\n\n".join(statements) or None

    def parent_id(self) -> str | None:
        prop = first(self.p.parent(self.md))
        return text_of(prop) or href_of(prop)

    # --- acquisition (ISO 19115-2) ---
    def equipment(self, path: etree.XPath) -> list[str]:
        """Platform or instrument names: identifier codes, and the description when it names something
        else (``Landsat 8`` beside ``LANDSAT_8`` is the same platform and is not repeated)."""
        names: list[str] = []
        for element in path(self.md):
            codes = texts_of(_EQUIPMENT_CODES(element)) or texts_of(_EQUIPMENT_IDENTIFIER(element))
            names.extend(codes)
            names.extend(texts_of(_EQUIPMENT_DESCRIPTION(element)))
        return distinct_names(names)


class ISO19139(Crosswalk):
    """ISO 19139 / ISO 19115-2 XML -> ``Record``. Rejection codes: ``not-xml``, ``not-iso19139``,
    ``no-identifier``, ``no-title``."""

    name = "iso19139"

    def to_record(self, raw: RawRecord, *, pole: str | None = None) -> Record:
        reader = IsoReader(_metadata_element(xml_root(raw)), _PATHS)
        return reader.record(raw, pole=pole, native_format=self.name)
