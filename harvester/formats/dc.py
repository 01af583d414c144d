"""Dublin Core (OAI-PMH ``oai_dc:dc``, CSW 2.0.2/3.0 ``csw:Record``/``SummaryRecord``/``BriefRecord``,
GeoNetwork ``simpledc``) -> canonical ``Record``.

DC reaches the catalogue two ways: repositories such as SEANOE serve ``oai_dc`` over OAI-PMH, and CSW
servers serve ``csw:Record`` for their default output schema. Fifteen loose elements written by many
hands, so the crosswalk is lenient in what it reads and strict only on an identifier and a title:

- Elements are read from the ``dc`` and ``dcterms`` namespaces alike (``dcterms`` refines every DC
  element), directly under the record, in one pass over its children (no XPath needed).
- Native id: the first ``dc:identifier`` that is a local id (neither a DOI nor a URL). For a GeoNetwork
  ``csw:Record`` that is the ISO fileIdentifier, so a record keeps its id when its source is switched
  between the DC and ISO output schemas. Else the first DOI, bare and lower-cased (the native id the
  DataCite crosswalk gives the same dataset), else any identifier, else the protocol's id. Every DOI
  among the identifiers and links is kept as a ``doi`` identifier.
- Dates: ``dct:created``/``issued``/``modified`` are the resource's created/published/revised. A bare
  ``dc:date`` is the metadata date stamp in a ``csw:Record`` (GeoNetwork's csw-full.xsl writes
  gmd:dateStamp there) and the publication date in ``oai_dc`` (SEANOE writes the DOI's date).
- Parties: ``dc:creator`` -> role ``author``, ``dc:contributor`` -> ``contributor``, ``dc:publisher`` ->
  ``publisher``, ``dct:rightsHolder`` -> ``rightsHolder`` (ISO 19115-1 CI_RoleCode names, the ones the
  DataCite crosswalk also uses, so one role facet covers both). A ``Family, Given`` name is a person;
  any other name, and every publisher, an organisation.
- Bounding boxes: ``ows:WGS84BoundingBox`` is lon lat; ``ows:BoundingBox`` follows its ``@crs`` (EPSG:4326
  in any spelling is lat lon, CRS84 or no crs lon lat, anything else is skipped with a warning).
  GeoNetwork writes every box "east south" / "west north" in lon lat whatever its crs says (the
  iso19139 ``present/csw/csw-{brief,summary,full}.xsl`` in every version seen); its records are
  recognised by the ``geonet`` namespace they declare (a Sextant record read as lat lon would cross
  the antimeridian). Text boxes
  in ``dc:coverage``/``dct:spatial``: ``North n, South s, East e, West w`` (GeoNetwork, SEANOE), DCMI Box
  ``northlimit=...`` and four numbers ``S W N E`` (SEANOE ``DCTERMS:Box``); other text is a place name.
- Links: ``dc:URI`` (GeoNetwork, with ``@protocol @name @description``) and ``dct:references`` (pycsw,
  with ``@scheme``); an ``image/*`` protocol or an image file name makes a thumbnail instead.
- GeoNetwork ``csw:Record`` extras: ``dc:rights`` holds ISO restriction codes (kept as access codes),
  ``dc:source`` the lineage statement, plain ``dc:subject`` the topic categories, ``dc:subject/@href``
  the keyword's anchor URI. ``dct:alternative`` (Sextant puts the CMEMS product id there) has no field
  of its own in the model: it is kept as a free keyword so that it stays searchable.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from catalogue.identity import normalise_doi, record_id
from catalogue.record import (
    BBox,
    Constraints,
    Contact,
    Format,
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
    add_identifier,
    bbox_from_numbers,
    doi_identifier,
    first,
    interval,
    is_placeholder,
    normalise_date,
    normalise_language,
    one_line,
    paragraphs,
    scope_of_type,
    single_element,
    to_identifier,
    unique,
    xml_root,
)
from harvester.raw import RawRecord

DC = "http://purl.org/dc/elements/1.1/"
DCT = "http://purl.org/dc/terms/"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
CSW_NAMESPACES = ("http://www.opengis.net/cat/csw/2.0.2", "http://www.opengis.net/cat/csw/3.0")
OWS_NAMESPACES = frozenset({"http://www.opengis.net/ows", "http://www.opengis.net/ows/2.0"})
GEONETWORK = "http://www.fao.org/geonetwork"
_PREFIXES = {DC: "dc", DCT: "dct"}
_CSW_TAGS = frozenset(
    f"{{{ns}}}{name}" for ns in CSW_NAMESPACES for name in ("Record", "SummaryRecord", "BriefRecord")
)
_RECORD_TAGS = (f"{{{OAI_DC}}}dc", *sorted(_CSW_TAGS), "simpledc")
_RECORD_NAMES = "oai_dc:dc, csw:Record, csw:SummaryRecord or csw:BriefRecord"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

# ISO 19115 MD_TopicCategoryCode: GeoNetwork writes the topic categories as plain dc:subject.
_TOPIC_CATEGORIES = frozenset(
    {
        "farming", "biota", "boundaries", "climatologyMeteorologyAtmosphere", "economy", "elevation",
        "environment", "geoscientificInformation", "health", "imageryBaseMapsEarthCover",
        "intelligenceMilitary", "inlandWaters", "location", "oceans", "planningCadastre", "society",
        "structure", "transportation", "utilitiesCommunication", "extraTerrestrial", "disaster",
    }
)  # fmt: skip
# ISO 19115 MD_RestrictionCode (2003 and 19115-1): GeoNetwork writes them in dc:rights.
_RESTRICTION_CODES = frozenset(
    {
        "copyright", "patent", "patentPending", "trademark", "license", "intellectualPropertyRights",
        "restricted", "otherRestrictions", "unrestricted", "licenceUnrestricted", "licenceEndUser",
        "licenceDistributor", "private", "statutory", "confidential", "sensitiveButUnclassified",
        "in-confidence",
    }
)  # fmt: skip
# "otherRestrictions" only says "see the text": the pointer would be noise.
_POINTER_CODE = "otherRestrictions"

# "Family, Given" (up to four words each side); a name with an organisation word is not a person.
_NAME_PART = r"[^\W\d_][\w'’.-]*(?: [^\W\d_][\w'’.-]*){0,3}"
_PERSON = re.compile(f"{_NAME_PART}, {_NAME_PART}")
_ORGANISATION_WORD = re.compile(
    r"\b(?:office|cent(?:re|er)|institut\w*|universit\w*|laborato\w*|department|agency|service|survey"
    r"|ministry|council|observator\w*|foundation|association|society|company|group|team|network"
    r"|programme|program|project|inc|ltd|gmbh)\b",
    re.IGNORECASE,
)
_URL = re.compile(r"(?:https?|ftps?|sftp)://\S+", re.IGNORECASE)
_IMAGE_FILE = re.compile(r"\.(?:png|jpe?g|gif|webp)(?:\?\S*)?$", re.IGNORECASE)

# ows:BoundingBox/@crs: WGS 84 with lat lon axis order (EPSG:4326 as code, URN or URI) or lon lat.
_LAT_LON_CRS = re.compile(r"epsg\D*(?:[\d.]+\D+)?4326\b", re.IGNORECASE)
_LON_LAT_CRS = re.compile(r"crs:?84\b", re.IGNORECASE)
# Text boxes: "North 37.3, South 37.2, East -32.2, West -32.3" and DCMI Box "northlimit=37.3; ...".
_NUMBER = r"[-+]?\d+(?:\.\d+)?"
_NAMED_BOUND = re.compile(rf"\b(north|south|east|west)(?:limit)?\s*[=:]?\s*({_NUMBER})", re.IGNORECASE)
_DCMI_NAME = re.compile(r"\bname\s*=\s*([^;]+)", re.IGNORECASE)
_DCMI_PERIOD = re.compile(r"\b(start|end)\s*=\s*([^;]*)", re.IGNORECASE)
_SEPARATORS = re.compile(r"[\s,;]+")
_PLACE_PUNCTUATION = " \t\n.,;:()[]"


def _line(element: Any) -> str | None:
    return one_line("".join(element.itertext()))


def _label(element: Any) -> str:
    """``dct:abstract`` for warnings: the element as the administrator sees it in the record."""
    name = etree.QName(element)
    return f"{_PREFIXES.get(name.namespace or '', 'ows')}:{name.localname}"


def _fields(record: Any) -> dict[str, list[Any]]:
    """The record's DC/DCMI-terms children by local name, OWS boxes as ``ows:<name>``."""
    fields: dict[str, list[Any]] = {}
    for child in record.iterchildren(tag=etree.Element):
        name = etree.QName(child)
        if name.namespace in _PREFIXES:
            key = name.localname
        elif name.namespace in OWS_NAMESPACES:
            key = f"ows:{name.localname}"
        else:
            continue
        fields.setdefault(key, []).append(child)
    return fields


def _numbers(text: str | None) -> list[float] | None:
    """The numbers of a whitespace- or comma-separated list, None when any part is not a number."""
    try:
        return [float(part) for part in _SEPARATORS.split((text or "").strip()) if part]
    except ValueError:
        return None


# An ISSN or ISBN (written as such: hyphenated or prefixed, so a plain numeric record id stays an id), or a
# filler made of punctuation only.
_NOT_AN_ID = re.compile(
    r"(?i)(?:issn[:\s]*)?\d{4}-\d{3}[\dx]|issn[:\s]*\d{7}[\dx]|isbn[:\s]*[\d\s-]{9,16}[\dx]"
    r"|97[89]-[\d-]{10,13}[\dx]|[\W_]*"
)


class _Reader:
    """Reads one DC record; holds its fields, its language and the warnings."""

    def __init__(self, record: Any):
        self.fields = _fields(record)
        self.is_csw = record.tag in _CSW_TAGS
        self.geonetwork = GEONETWORK in record.nsmap.values()
        self.warnings: list[str] = []
        self.language = normalise_language(first(self.texts("language")))

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def elements(self, name: str) -> list[Any]:
        return self.fields.get(name, [])

    def texts(self, name: str) -> list[str]:
        return unique(text for element in self.elements(name) if (text := _line(element)))

    def lang(self, element: Any) -> str | None:
        return normalise_language(element.get(_XML_LANG)) or self.language

    # --- identity ---
    def native_id(self, raw: RawRecord) -> str:
        """The first local identifier (the metadata record's own id in a csw:Record), else the DOI,
        else any identifier, else the protocol's id. An ISSN, ISBN or a filler such as "-" is not a
        record's id: repositories (DSpace) write the journal's ISSN first on every article."""
        identifiers = [i for i in self.texts("identifier") if not _NOT_AN_ID.fullmatch(i)]
        local = next((i for i in identifiers if not normalise_doi(i) and not _URL.fullmatch(i)), None)
        doi = next((doi for i in identifiers if (doi := normalise_doi(i))), None)
        native = local or doi or first(identifiers) or (raw.native_id or "").strip()
        if not native:
            raise Rejected("no-identifier", "no dc:identifier and no id from the protocol")
        return native

    def identifiers(self, native_id: str, links: list[Link]) -> list[Any]:
        """The resource identifiers but the local id used as native id (the metadata record's own id,
        as ISO keeps its fileIdentifier out), and every DOI, from identifiers or doi.org links."""
        found: list[Any] = []
        for text in self.texts("identifier"):
            if text != native_id or normalise_doi(text):
                add_identifier(found, to_identifier(text, None, None))
        for link in links:
            add_identifier(found, doi_identifier(link.url))
        return found

    # --- text ---
    def localised(self, elements: list[Any], *, multiline: bool) -> LocalisedText | None:
        """The first text with its language; texts in other languages are its translations. Several
        descriptions in the same language (DSpace writes one per note) are paragraphs of one text."""
        clean = paragraphs if multiline else one_line
        main: list[str] = []
        main_lang: str | None = None
        translations: dict[str, str] = {}
        for element in elements:
            text = clean("".join(element.itertext()))
            if not text:
                continue
            lang = self.lang(element)
            if not main:
                main, main_lang = [text], lang
            elif lang is None or lang == main_lang:
                if multiline and text not in main:
                    main.append(text)
            else:
                translations.setdefault(lang, text)
        if not main:
            return None
        return LocalisedText(text="\n\n".join(main), lang=main_lang, translations=translations)

    def resource_type(self) -> str:
        """The first ``dc:type`` that is an ISO scope code (GeoNetwork) or a DCMI type, else dataset."""
        for element in self.elements("type"):
            text = _line(element)
            if not text:
                continue
            if scope := (text if text in SCOPE_CODES else scope_of_type(text)):
                return scope
            self.warn(f"{_label(element)}: {text!r} is neither an ISO scope code nor a DCMI type")
        return "dataset"

    def keywords(self) -> tuple[list[Keyword], list[str]]:
        """Subjects (with GeoNetwork's ``@href`` as the keyword URI) and alternative titles; in a
        ``csw:Record``, a plain subject that is an ISO topic category code is a topic category."""
        keywords: list[Keyword] = []
        topics: list[str] = []
        for element in self.elements("subject"):
            label = _line(element)
            if not label:
                continue
            uri = one_line(element.get("href"))
            if self.is_csw and uri is None and label in _TOPIC_CATEGORIES:
                topics.append(label)
            else:
                keywords.append(Keyword(label=label, uri=uri, lang=self.lang(element)))
        for element in self.elements("alternative"):
            if label := _line(element):
                keywords.append(Keyword(label=label, lang=self.lang(element)))
        return unique(keywords), unique(topics)

    # --- dates ---
    def date(self, name: str) -> str | None:
        """The first readable date of an element; unreadable ones are named in a warning."""
        for element in self.elements(name):
            text = _line(element)
            if text and (value := normalise_date(text)):
                return value
            if text:
                self.warn(f"{_label(element)}: unreadable date {text!r}")
        return None

    def dates(self) -> dict[str, str]:
        dates = {
            field: value
            for name, field in (("created", "created"), ("issued", "published"), ("modified", "revised"))
            if (value := self.date(name))
        }
        if value := self.date("date"):
            dates.setdefault("metadata_date" if self.is_csw else "published", value)
        return dates

    # --- parties and rights ---
    def contacts(self) -> list[Contact]:
        contacts = []
        for name, role in (
            ("creator", "author"),
            ("contributor", "contributor"),
            ("publisher", "publisher"),
            ("rightsHolder", "rightsHolder"),
        ):
            for text in self.texts(name):
                if is_placeholder(text):
                    continue
                if role != "publisher" and _PERSON.fullmatch(text) and not _ORGANISATION_WORD.search(text):
                    contacts.append(Contact(role=role, name=text))
                else:
                    contacts.append(Contact(role=role, organisation=text))
        return unique(contacts)

    def constraints(self) -> Constraints | None:
        """``dct:license`` and licence-like ``dc:rights`` are licence candidates (one with a URL first,
        the others stay in ``other``); ISO restriction codes and ``dct:accessRights`` are access
        constraints; any other ``dc:rights`` text is kept in ``other``."""
        rights = Rights()
        for text in self.texts("license"):
            rights.add(text, None, "other", licence=True)
        for text in self.texts("rights"):
            if text != _POINTER_CODE:
                rights.add(text, None, "access" if text in _RESTRICTION_CODES else "other")
        for text in self.texts("accessRights"):
            rights.add(text, None, "access")
        return rights.constraints()

    # --- distribution and lineage ---
    def links(self) -> tuple[list[Link], list[str]]:
        """Online resources and thumbnails from ``dc:URI`` and ``dct:references``; ``dc:relation`` and
        ``dc:source`` when they are a URL or a DOI (a DOI as its doi.org address)."""
        links: list[Link] = []
        thumbnails: list[str] = []
        for element in [*self.elements("URI"), *self.elements("references")]:
            url = _line(element)
            if not url:
                continue
            protocol = one_line(element.get("protocol") or element.get("scheme"))
            if (protocol or "").startswith("image/") or (protocol is None and _IMAGE_FILE.search(url)):
                thumbnails.append(url)
                continue
            links.append(
                Link(
                    url=url,
                    protocol=protocol,
                    name=one_line(element.get("name")),
                    description=one_line(element.get("description")),
                )
            )
        for name in ("relation", "source"):
            for text in self.texts(name):
                doi = normalise_doi(text)
                if doi or _URL.fullmatch(text):
                    links.append(Link(url=f"https://doi.org/{doi}" if doi else text, description=name))
        return unique(links), unique(thumbnails)

    def lineage(self) -> str | None:
        """``dc:source`` texts that are not addresses: GeoNetwork writes the lineage statement there."""
        texts = [
            text
            for element in self.elements("source")
            if (text := paragraphs("".join(element.itertext()))) and not _URL.fullmatch(text)
        ]
        return "\n\n".join(unique(texts)) or None

    # --- extents ---
    def extents(self) -> tuple[list[BBox], list[str], list[TemporalExtent]]:
        boxes = [self.ows_box(element) for element in self.elements("ows:BoundingBox")]
        boxes += [self.ows_box(element) for element in self.elements("ows:WGS84BoundingBox")]
        places: list[str] = []
        temporal: list[TemporalExtent] = []
        for name in ("coverage", "spatial", "temporal"):
            for element in self.elements(name):
                if text := _line(element):
                    self.coverage(element, text, boxes, places, temporal)
        return unique(box for box in boxes if box is not None), unique(places), unique(temporal)

    def ows_box(self, element: Any) -> BBox | None:
        """An ``ows:BoundingBox`` or ``ows:WGS84BoundingBox`` in WGS 84 (see the module docstring)."""
        label = _label(element)
        corners = {
            etree.QName(corner).localname: _line(corner) for corner in element.iterchildren(tag=etree.Element)
        }
        lower, upper = _numbers(corners.get("LowerCorner")), _numbers(corners.get("UpperCorner"))
        if lower is None or upper is None or len(lower) != 2 or len(upper) != 2:
            self.warn(f"{label}: LowerCorner and UpperCorner are not two pairs of numbers; box skipped")
            return None
        (x1, y1), (x2, y2) = lower, upper
        crs = element.get("crs") or ""
        if label == "ows:BoundingBox" and self.geonetwork:
            return self.box(label, [x2, y1, x1, y2])  # "east south" / "west north"
        if label == "ows:WGS84BoundingBox" or not crs or _LON_LAT_CRS.search(crs):
            return self.box(label, [x1, y1, x2, y2])
        if _LAT_LON_CRS.search(crs):
            return self.box(label, [y1, x1, y2, x2], swapped=[x1, y1, x2, y2])
        self.warn(f"{label}: crs {crs!r} is not WGS 84; box skipped")
        return None

    def box(self, label: str, bounds: list[float], swapped: list[float] | None = None) -> BBox | None:
        """The box of ``[west, south, east, north]``; a lat lon box written lon lat (the latitudes out of
        range, the swapped reading valid) is read swapped with a warning."""
        box, problem = bbox_from_numbers(bounds)
        if box is None and swapped is not None:
            box, _ = bbox_from_numbers(swapped)
            if box is not None:
                self.warn(f"{label}: coordinates are lon lat though the crs is lat lon; read as lon lat")
        if box is None:
            self.warn(f"{label}: {problem}; box skipped")
        return box

    def coverage(
        self,
        element: Any,
        text: str,
        boxes: list[BBox | None],
        places: list[str],
        temporal: list[TemporalExtent],
    ) -> None:
        """A coverage text: a box, a DCMI period, a date or interval, else a place name."""
        label = _label(element)
        bounds = {name.lower(): float(value) for name, value in _NAMED_BOUND.findall(text)}
        if len(bounds) == 4:
            boxes.append(self.box(label, [bounds["west"], bounds["south"], bounds["east"], bounds["north"]]))
            rest = _NAMED_BOUND.sub("", text)
            named = _DCMI_NAME.search(rest)
            place = named.group(1) if named else ("" if "=" in rest else rest)
            if place := one_line(place.strip(_PLACE_PUNCTUATION)):
                places.append(place)
            return
        numbers = _numbers(text)
        if numbers is not None and len(numbers) == 4:
            south, west, north, east = numbers
            boxes.append(self.box(label, [west, south, east, north], swapped=[south, west, north, east]))
            return
        period = {name.lower(): value.strip() for name, value in _DCMI_PERIOD.findall(text)}
        if period:
            extent, problems = interval(period.get("start"), period.get("end"))
        else:
            start, slash, end = text.partition("/")
            extent, problems = interval(start, end if slash else start)
        if not problems and extent != TemporalExtent():
            temporal.append(extent)
        elif period:
            self.warn(f"{label}: {'; '.join(problems) or 'empty period'} in {text!r}")
        elif not is_placeholder(text):
            places.append(text)


class DublinCore(Crosswalk):
    """Dublin Core XML -> ``Record``. Rejection codes: ``not-xml``, ``not-dc``, ``no-identifier``,
    ``no-title``."""

    name = "dc"

    def to_record(self, raw: RawRecord, *, pole: str | None = None) -> Record:
        reader = _Reader(single_element(xml_root(raw), _RECORD_TAGS, "not-dc", _RECORD_NAMES))
        native_id = reader.native_id(raw)
        title = reader.localised(reader.elements("title"), multiline=False)
        if title is None:
            raise Rejected("no-title", f"record {native_id!r} has no dc:title")
        abstract_elements = reader.elements("abstract") or reader.elements("description")
        links, thumbnails = reader.links()
        keywords, topics = reader.keywords()
        bboxes, places, temporal = reader.extents()
        dates = reader.dates()
        return Record(
            id=record_id(raw.source_id, native_id),
            native_id=native_id,
            source_id=raw.source_id,
            pole=pole,
            resource_type=reader.resource_type(),
            title=title,
            abstract=reader.localised(abstract_elements, multiline=True),
            language=reader.language,
            identifiers=reader.identifiers(native_id, links),
            keywords=keywords,
            topic_categories=topics,
            bboxes=bboxes,
            places=places,
            temporal=temporal,
            created=dates.get("created"),
            published=dates.get("published"),
            revised=dates.get("revised"),
            metadata_date=dates.get("metadata_date"),
            contacts=reader.contacts(),
            constraints=reader.constraints(),
            links=links,
            formats=[Format(name=name) for name in reader.texts("format")],
            thumbnails=thumbnails,
            lineage=reader.lineage(),
            provenance=Provenance(source_id=raw.source_id, native_format="dc", datestamp=raw.datestamp),
            warnings=reader.warnings,
        )
