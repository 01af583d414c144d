"""OGC API - Records 1.0 record (a GeoJSON Feature) -> canonical ``Record``; also WMO WCMP2, its profile.

Writers differ a lot: the standard and WCMP2, pygeoapi and pycsw (which build records from ISO or MCF
metadata and put the ISO protocol in a link's ``type``, addresses as lists, ``null`` schemes), and our
own ``catalogue.geojson`` (whose plain-named extras - ``platforms``, ``instruments``,
``topicCategories``, ``places``, ``lineage``, ``published``, ``revised``, ``resourceLanguages``,
``translations``, and the ``protocol``/``function`` of links - are read back, so that records one
terracat publishes come back whole when another harvests them). The reader is tolerant in what it reads
and strict only on an identifier and a title.

Mapping choices:

- ``properties.type`` is an ISO 19115 scope code (as our GeoJSON writes it), else a DCMI/DataCite type
  name mapped by ``common.scope_of_type``, else ``dataset`` with a warning.
- ``language`` (a code or ``{code, name}``) is the metadata language and the language of title,
  description and keywords; ``resourceLanguages`` gives the resource's.
- ``created`` is the resource creation date and ``updated`` the metadata date, as our GeoJSON writes
  them.
- A theme concept becomes a keyword: label = ``title`` or ``id``, URI = ``url``, or the ``id`` when it
  is a URI (WCMP2 and pygeoapi use plain words as ids), vocabulary = ``scheme`` (its URI too when the
  scheme is a URI). A plain keyword that a theme already gave is not repeated.
- Contacts: one per role, the STAC/WCMP2 roles mapped to ISO (``common.PROVIDER_ROLES``); the first
  contact link is the contact's URL.
- ``license`` as in STAC (``common.spdx_constraints``); ``rights`` (a statement per line) and the
  WCMP2 ``wmo:dataPolicy`` are other constraints, unless nothing else names the licence and a
  statement does (our GeoJSON puts a licence it has no SPDX id or URL for there).
- Links: ``preview``/``thumbnail`` images are thumbnails, ``license`` feeds the licence, a DOI
  ``cite-as`` is an identifier; ``self``, ``root``, ``parent``, paging and ``profile`` describe the API,
  not the resource, and are left out. The link's own ``function`` (our GeoJSON) wins over the relation.
"""

from __future__ import annotations

from typing import Any

import msgspec

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
    PROVIDER_ROLES,
    SCOPE_CODES,
    Rights,
    add_identifier,
    doi_identifier,
    geometry_bboxes,
    intervals,
    json_document,
    link_type,
    normalise_date,
    normalise_language,
    one_line,
    postal_address,
    scope_of_type,
    spdx_constraints,
    to_identifier,
    unique,
)
from harvester.raw import RawRecord

# The API's structure, not the resource's.
_NAVIGATION = frozenset({"self", "root", "parent", "next", "prev", "previous", "first", "last", "profile"})
# Relations -> ISO CI_OnLineFunctionCode; the reverse of what ``catalogue.geojson.link_rel`` writes.
_FUNCTION_BY_REL = {
    "enclosure": "download",
    "data": "download",
    "items": "download",  # WCMP2: the data access API and the notification channel
    "describedby": "information",
    "about": "information",
    "alternate": "information",
    "collection": "information",
    "via": "information",
    "cite-as": "information",
    "license": "information",
    "search": "search",
}
_PREVIEW_RELS = frozenset({"preview", "thumbnail"})
_URI_PREFIXES = ("http://", "https://", "urn:")


def _is_uri(value: str | None) -> bool:
    return bool(value) and value.lower().startswith(_URI_PREFIXES)


def _string(value: Any) -> str | None:
    return one_line(value) if isinstance(value, str) else None


def _strings(value: Any) -> list[str]:
    """A string, or the strings of a list (values may be ``{"value": ...}`` objects, as OGC API
    Records writes e-mails and phones)."""
    values = value if isinstance(value, list) else [value]
    found = [item.get("value") if isinstance(item, dict) else item for item in values]
    return [text for item in found if (text := _string(item))]


def _objects(value: Any) -> list[dict[str, Any]]:
    """The objects of a JSON list (anything else in it, or a value that is no list, gives nothing)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _language(value: Any) -> str | None:
    """``"en-CA"`` or ``{"code": "en-CA", "name": ...}`` (both versions of the standard) -> ``en``."""
    code = value.get("code") if isinstance(value, dict) else value
    return normalise_language(code) if isinstance(code, str) else None


def _feature(doc: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(feature, properties); ``Rejected("not-a-record")`` for anything that is not one record."""
    if not isinstance(doc, dict):
        raise Rejected("not-a-record", f"the document is a JSON {type(doc).__name__}, not a record (Feature)")
    kind = doc.get("type")
    if kind == "FeatureCollection":
        count = len(doc["features"]) if isinstance(doc.get("features"), list) else "?"
        raise Rejected(
            "not-a-record",
            f"a page of {count} records: the protocol must hand its features over one by one",
        )
    if kind != "Feature":
        raise Rejected("not-a-record", f"type {kind!r}: a record is a GeoJSON Feature")
    properties = doc.get("properties")
    if not isinstance(properties, dict):
        raise Rejected("not-a-record", "a Feature without properties: not a record")
    return doc, properties


class _Reader:
    """Reads one record; holds the feature, its properties, its language and the warnings."""

    def __init__(self, feature: dict[str, Any], properties: dict[str, Any]):
        self.feature = feature
        self.props = properties
        self.warnings: list[str] = []
        self.lang = _language(properties.get("language"))
        translations = properties.get("translations")
        self.translations: dict[str, Any] = translations if isinstance(translations, dict) else {}

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    # --- identity and text ---
    def native_id(self, raw: RawRecord) -> str:
        value = self.feature.get("id")
        native = str(value).strip() if isinstance(value, str | int) else ""
        native = native or (raw.native_id or "").strip()
        if not native:
            raise Rejected("no-identifier", "the record has no id and the protocol gave none")
        return native

    def text(self, key: str, *, multiline: bool = False) -> str | None:
        """A text property: one line, or as written (descriptions keep their paragraphs)."""
        value = self.props.get(key)
        if not isinstance(value, str):
            return None
        return (value.strip() or None) if multiline else one_line(value)

    def localised(self, key: str, *, multiline: bool) -> LocalisedText | None:
        """A text in the record's language with the translations our GeoJSON lists by language."""
        text = self.text(key, multiline=multiline)
        if text is None:
            return None
        translations = {}
        for lang, entry in self.translations.items():
            other = entry.get(key) if isinstance(entry, dict) else None
            if isinstance(other, str) and other.strip() and lang != self.lang:
                translations[lang] = other.strip()
        return LocalisedText(text=text, lang=self.lang, translations=translations)

    def resource_language(self) -> str | None:
        """The first of ``resourceLanguages`` (our GeoJSON): the language of the resource itself."""
        languages = self.props.get("resourceLanguages")
        codes = (_language(entry) for entry in (languages if isinstance(languages, list) else []))
        return next((code for code in codes if code), None)

    def resource_type(self) -> str:
        value = _string(self.props.get("type"))
        if value is None:
            return "dataset"
        if value in SCOPE_CODES:
            return value
        scope = scope_of_type(value)
        if scope is None:
            self.warn(f"type: {value!r} is neither an ISO scope code nor a known resource type; dataset")
        return scope or "dataset"

    def identifiers(self, native_id: str, dois: list[str]) -> list[Identifier]:
        """``externalIds``, the DOIs of ``cite-as`` links, and the id when it is a DOI."""
        found: list[Identifier] = []
        add_identifier(found, doi_identifier(native_id))
        for entry in _objects(self.props.get("externalIds")):
            scheme = _string(entry.get("scheme"))
            add_identifier(found, to_identifier(_string(entry.get("value")), None, scheme))
        for href in dois:
            add_identifier(found, doi_identifier(href))
        return found

    def keywords(self) -> list[Keyword]:
        """``keywords`` in their order, each the theme concept of the same label when there is one,
        then the theme concepts not among the keywords."""
        concepts = self.theme_keywords()
        by_label: dict[str, Keyword] = {}
        for keyword in concepts:
            by_label.setdefault(keyword.label, keyword)
        plain = [
            by_label.get(label) or Keyword(label=label, lang=self.lang)
            for label in _strings(self.props.get("keywords"))
        ]
        return unique([*plain, *concepts])

    def theme_keywords(self) -> list[Keyword]:
        found = []
        for theme in _objects(self.props.get("themes")):
            scheme = _string(theme.get("scheme"))
            for concept in _objects(theme.get("concepts")):
                concept_id = _string(concept.get("id"))
                label = _string(concept.get("title")) or concept_id
                if not label:
                    self.warn(f"themes: concept {concept!r} has neither id nor title; ignored")
                    continue
                url = _string(concept.get("url"))
                found.append(
                    Keyword(
                        label=label,
                        uri=url or (concept_id if _is_uri(concept_id) else None),
                        lang=self.lang,
                        thesaurus=scheme,
                        thesaurus_uri=scheme if _is_uri(scheme) else None,
                    )
                )
        return found

    # --- extents and dates ---
    def bboxes(self) -> list[BBox]:
        boxes, problem = geometry_bboxes(self.feature.get("geometry"))
        if problem:
            self.warn(f"geometry: {problem}; no bounding box")
        return boxes

    def temporal(self) -> list[TemporalExtent]:
        """``time``: ``date``, ``timestamp`` or ``interval``; a bare ``[start, end]`` list (older
        pygeoapi) is read as an interval."""
        time = self.feature.get("time")
        if time is None:
            return []
        if isinstance(time, dict) and isinstance(time.get("interval"), list):
            ends = time["interval"]
        elif isinstance(time, dict) and (instant := time.get("date") or time.get("timestamp")):
            ends = [instant, instant]
        else:
            ends = time
        if not isinstance(ends, list) or len(ends) != 2:
            self.warn(f"time: {time!r} is not a date, a timestamp or an interval; ignored")
            return []
        extents, problems = intervals([ends])
        for problem in problems:
            self.warn(f"time: {problem}")
        return extents

    def date(self, key: str) -> str | None:
        text = _string(self.props.get(key))
        value = normalise_date(text)
        if text and value is None:
            self.warn(f"{key}: unreadable date {text!r}")
        return value

    # --- parties ---
    def contacts(self) -> list[Contact]:
        found = []
        for entry in _objects(self.props.get("contacts")):
            urls = [_string(link.get("href")) for link in _objects(entry.get("links"))]
            address = next(iter(_objects(entry.get("addresses"))), None)
            base = Contact(
                name=_string(entry.get("name")),
                organisation=_string(entry.get("organization")),
                position=_string(entry.get("position")),
                emails=_strings(entry.get("emails")),
                phones=_strings(entry.get("phones")),
                url=next((url for url in urls if url), None),
                address=self.address(address) if address else None,
                country=next(iter(_strings(address.get("country"))), None) if address else None,
            )
            if base == Contact():
                continue
            for role in _strings(entry.get("roles")) or [None]:
                found.append(msgspec.structs.replace(base, role=PROVIDER_ROLES.get(role, role)))
        return unique(found)

    def address(self, address: dict[str, Any]) -> str | None:
        """One line (fields may be strings or lists, as pygeoapi writes them)."""

        def one(key: str) -> str | None:
            return next(iter(_strings(address.get(key))), None)

        return postal_address(
            _strings(address.get("deliveryPoint")), one("postalCode"), one("city"), one("administrativeArea")
        )

    # --- rights, distribution ---
    def link_entries(self) -> list[dict[str, Any]]:
        links = self.feature.get("links")
        entries = []
        for link in links if isinstance(links, list) else []:
            if isinstance(link, dict) and _string(link.get("href")):
                entries.append(link)
            else:
                self.warn(f"links: {link!r} has no href; ignored")
        return entries

    def constraints(self) -> tuple[Constraints | None, str | None]:
        """Licence, ``rights`` and the WCMP2 data policy; and the href of the first ``rel=license``
        link (the licence carries it, it is not repeated among the links).

        ``rights`` is read a statement per line (our GeoJSON writes the constraints it cannot say in
        ``license`` one per line); without ``license`` or a licence link, a statement that names a
        licence is the licence.
        """
        licence_links = [link for link in self.link_entries() if link.get("rel") == "license"]
        href = _string(licence_links[0].get("href")) if licence_links else None
        title = _string(licence_links[0].get("title")) if licence_links else None
        licence, problem = spdx_constraints(_string(self.props.get("license")), href, title)
        if problem:
            self.warn(problem)
        rights = self.text("rights", multiline=True)
        statements = [line.strip() for line in rights.splitlines() if line.strip()] if rights else []
        if policy := _string(self.props.get("wmo:dataPolicy")):
            statements.append(f"WMO data policy: {policy}")
        if licence is not None:
            return msgspec.structs.replace(licence, other=unique(statements)), href
        found = Rights()
        for statement in statements:
            found.add(statement, None, "other")
        return found.constraints(), href

    def links(self, licence_href: str | None) -> tuple[list[Link], list[str], list[str]]:
        """(resource links, thumbnail URLs, DOI hrefs of cite-as and describes links). A ``describes``
        link to one of the record's ``externalIds`` is the resource itself, not a further link."""
        links: list[Link] = []
        thumbnails: list[str] = []
        dois: list[str] = []
        identifiers = {_string(entry.get("value")) for entry in _objects(self.props.get("externalIds"))}
        for entry in self.link_entries():
            href = _string(entry["href"])
            rel = _string(entry.get("rel")) or ""
            media_type, type_protocol = link_type(entry.get("type"))
            if rel in _NAVIGATION or (rel == "license" and href == licence_href):
                continue
            if rel == "describes" and href in identifiers:
                continue  # the resource itself, already one of its identifiers
            if rel in _PREVIEW_RELS and (media_type or "image/").startswith("image/"):
                thumbnails.append(href)
            elif rel in ("cite-as", "describes") and doi_identifier(href):
                dois.append(href)
            else:
                links.append(
                    Link(
                        url=href,
                        protocol=_string(entry.get("protocol")) or type_protocol,
                        function=_string(entry.get("function")) or _FUNCTION_BY_REL.get(rel),
                        name=_string(entry.get("title")),
                        description=_string(entry.get("description")),
                        media_type=media_type,
                    )
                )
        return unique(links), unique(thumbnails), dois

    def formats(self) -> list[Format]:
        """``formats``: ``{name, mediaType, version}`` objects, or plain names in early drafts."""
        found = []
        formats = self.props.get("formats")
        for entry in formats if isinstance(formats, list) else []:
            if isinstance(entry, dict):
                name = _string(entry.get("name")) or _string(entry.get("mediaType"))
                version = _string(entry.get("version"))
            else:
                name, version = _string(entry), None
            if name:
                found.append(Format(name=name, version=version))
        return unique(found)

    def strings(self, key: str) -> list[str]:
        return unique(_strings(self.props.get(key)))


class OGCAPIRecord(Crosswalk):
    """OGC API - Records GeoJSON record (and WMO WCMP2) -> ``Record``. Rejection codes: ``not-json``,
    ``not-a-record``, ``no-identifier``, ``no-title``."""

    name = "ogcapi-records"

    def to_record(self, raw: RawRecord, *, pole: str | None = None) -> Record:
        reader = _Reader(*_feature(json_document(raw)))
        native_id = reader.native_id(raw)
        title = reader.localised("title", multiline=False)
        if title is None:
            raise Rejected("no-title", f"record {native_id!r} has no title (properties.title)")
        constraints, licence_href = reader.constraints()
        links, thumbnails, dois = reader.links(licence_href)
        return Record(
            id=record_id(raw.source_id, native_id),
            native_id=native_id,
            source_id=raw.source_id,
            pole=pole,
            resource_type=reader.resource_type(),
            title=title,
            abstract=reader.localised("description", multiline=True),
            language=reader.resource_language(),
            metadata_language=reader.lang,
            identifiers=reader.identifiers(native_id, dois),
            keywords=reader.keywords(),
            topic_categories=reader.strings("topicCategories"),
            bboxes=reader.bboxes(),
            places=reader.strings("places"),
            temporal=reader.temporal(),
            created=reader.date("created"),
            published=reader.date("published"),
            revised=reader.date("revised"),
            metadata_date=reader.date("updated"),
            contacts=reader.contacts(),
            constraints=constraints,
            links=links,
            formats=reader.formats(),
            thumbnails=thumbnails,
            lineage=reader.text("lineage", multiline=True),
            platforms=reader.strings("platforms"),
            instruments=reader.strings("instruments"),
            provenance=Provenance(
                source_id=raw.source_id, native_format="ogcapi-records", datestamp=raw.datestamp
            ),
            warnings=reader.warnings,
        )
