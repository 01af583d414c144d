"""STAC Collection and Item (STAC 0.8 to 1.1) -> canonical ``Record``.

One raw record is one STAC object. A Collection becomes a record of resource type ``collection`` (the
ISO 19115-1 scope code for "a set of resources"); an Item becomes a ``dataset`` whose parent is its
collection. Catalogs only group other objects and ItemCollection pages hold many items, so both are
refused with ``not-a-record``: the protocol hands collections and items over one by one.

What STAC does not say the ISO way is mapped as follows (DOMAIN.md §4.3):

- ``license``: an SPDX id is the licence (its URL is the ``rel=license`` link, else its SPDX page);
  ``other``/``proprietary``/``various`` send to that link (``common.spdx_constraints``).
- ``providers`` become one contact per role, the roles mapped to ISO CI_RoleCode
  (``common.PROVIDER_ROLES``); the provider's name is an organisation.
- Links keep what a reader can follow: ``about``/``describedby``/``alternate``/``via``/``related`` are
  ``information``, ``items`` (the API's item listing) is ``search``, an OGC service-type relation keeps
  the service as protocol (``OGC:WMS``); navigation (``self``, ``root``, ``parent``, ``child``,
  ``item``, ``collection``, paging) is the catalogue's structure, not the resource's, and is left out.
- Assets are files of the resource: ``download``, or ``completeMetadata`` for the ``metadata`` role;
  ``thumbnail`` assets, web-image ``overview`` assets and ``preview`` links are thumbnails. The media
  types of the downloadable assets are the record's formats.
- ``sci:doi`` (also in collection summaries) and ``cite-as`` DOI links are DOIs of the resource, but not
  the DOIs listed in ``sci:publications``: those are articles about it and become links.
- Platforms: ``platform`` and ``constellation``, instruments: ``instruments``, read from item
  properties, collection ``summaries`` (lists or JSON-schema ``const``/``enum``/``oneOf``) and the legacy
  collection ``properties``; the 0.8 ``eo:`` names and the singular ``instrument`` some APIs (CNES
  GEODES) write are read too.

Relative hrefs stay as given unless the record's ``locator`` is the document's http(s) URL, in which case
they are resolved against it (static catalogues link with relative hrefs).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

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
from harvester.formats.common import (
    PROVIDER_ROLES,
    URL_IN_TEXT,
    add_identifier,
    bbox_from_numbers,
    distinct_names,
    doi_identifier,
    geometry_bboxes,
    intervals,
    json_document,
    link_type,
    normalise_date,
    one_line,
    spdx_constraints,
    unique,
)
from harvester.raw import RawRecord

# The catalogue's own structure: where the object sits, not what the resource offers.
_NAVIGATION = frozenset(
    {
        "self", "canonical", "root", "parent", "child", "item", "collection", "next", "prev", "previous",
        "first", "last",
    }
)  # fmt: skip
_FUNCTION_BY_REL = {
    "about": "information",
    "describedby": "information",
    "alternate": "information",
    "via": "information",
    "related": "information",
    "cite-as": "information",
    "license": "information",
    "items": "search",
    "search": "search",
    "enclosure": "download",
    "data": "download",
}
_PREVIEW_RELS = frozenset({"preview", "thumbnail"})
_OGC_SERVICE_TYPE = "http://www.opengis.net/def/serviceType/ogc/"
# An ``overview`` asset is a thumbnail only when a browser can show it (not a multi-GB COG).
_WEB_IMAGES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


def _kind(doc: Any) -> str:
    """``collection`` or ``item``; ``Rejected`` for a catalog, an ItemCollection page or non-STAC JSON.

    Collections before STAC 1.0 had no ``type``: an ``extent`` with a ``license`` or ``stac_version``
    tells them from a catalog (which has neither extent nor licence).
    """
    if not isinstance(doc, dict):
        raise Rejected("not-stac", f"the document is a JSON {type(doc).__name__}, not a STAC object")
    kind = doc.get("type")
    if kind == "Collection" or (
        kind is None and "extent" in doc and ("license" in doc or "stac_version" in doc)
    ):
        return "collection"
    if kind == "Feature" and "stac_version" in doc:
        return "item"
    if kind == "Catalog" or (kind is None and "stac_version" in doc):
        raise Rejected(
            "not-a-record",
            f"STAC catalog {doc.get('id')!r} only groups collections and items: harvest what it links to",
        )
    if kind == "FeatureCollection":
        count = len(doc["features"]) if isinstance(doc.get("features"), list) else "?"
        raise Rejected(
            "not-a-record",
            f"an ItemCollection page of {count} items: the protocol must hand its features over one by one",
        )
    if kind == "Feature":
        raise Rejected("not-stac", "a GeoJSON Feature without stac_version: not a STAC item")
    raise Rejected("not-stac", f"type {kind!r} without the members of a STAC collection or item")


def _strings(value: Any) -> list[str]:
    """A string or a list of strings as a list of non-empty one-line strings (other values dropped)."""
    values = value if isinstance(value, list) else [value]
    return [text for item in values if isinstance(item, str) and (text := one_line(item))]


def _summary_values(summary: Any) -> list[str]:
    """Values of a collection summary: a list, or a JSON schema (``const``, ``enum``, ``oneOf``/``anyOf``
    of ``const``) as STAC 1.1 allows; a range (``minimum``/``maximum``) names no value."""
    if isinstance(summary, dict):
        choices = summary.get("oneOf") or summary.get("anyOf") or []
        consts = [choice.get("const") for choice in choices if isinstance(choice, dict)]
        return _strings([summary.get("const"), *(summary.get("enum") or []), *consts])
    return _strings(summary)


class _Reader:
    """Reads one STAC collection or item; holds the document, its kind, the base URL and warnings.

    ``fields`` is where the descriptive fields are: the item's ``properties``, the collection itself.
    """

    def __init__(self, doc: dict[str, Any], kind: str, raw: RawRecord):
        self.doc = doc
        self.kind = kind
        self.warnings: list[str] = []
        self.base = raw.locator if raw.locator.startswith(("http://", "https://")) else None
        fields = doc.get("properties") if kind == "item" else doc
        if not isinstance(fields, dict):
            self.warn(f"properties: {fields!r} is not an object; item read from its top level only")
            fields = {}
        self.fields: dict[str, Any] = fields
        summaries = doc.get("summaries") if kind == "collection" else None
        self.summaries: dict[str, Any] = summaries if isinstance(summaries, dict) else {}

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def text(self, holder: dict[str, Any], key: str) -> str | None:
        value = holder.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            return value.strip() or None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)  # numeric ids are seen in the wild
        self.warn(f"{key}: {value!r} is not a string; ignored")
        return None

    def href(self, value: Any) -> str | None:
        """The href as given, or resolved against the document URL when the record has one."""
        href = one_line(value) if isinstance(value, str) else None
        return urljoin(self.base, href) if href and self.base else href

    # --- identity ---
    def collection_id(self) -> str | None:
        """The collection an item belongs to (0.8 items sometimes put it in ``properties``)."""
        if self.kind != "item":
            return None
        return self.text(self.doc, "collection") or self.text(self.fields, "collection")

    def native_id(self, raw: RawRecord, collection: str | None) -> str:
        """The ``id``, prefixed with the item's collection (item ids are unique only within one), else
        the protocol's id as it is."""
        own = self.text(self.doc, "id")
        if own and collection:
            return f"{collection}/{own}"
        if own:  # an item that does not name its collection: the protocol knows the one it came from
            hinted = (raw.native_id or "").strip()
            return hinted if self.kind == "item" and hinted.endswith(f"/{own}") else own
        fallback = (raw.native_id or "").strip()
        if not fallback:
            raise Rejected("no-identifier", f"STAC {self.kind} without an id, and no id from the protocol")
        return fallback

    def title(self, native_id: str) -> LocalisedText:
        """``title``, else the id: items are named by their id by design; a collection without a title
        is common in static catalogues but worth a title, hence the warning."""
        title = one_line(self.text(self.fields, "title"))
        if title:
            return LocalisedText(text=title)
        if self.kind == "collection":
            self.warn("title: missing; the collection id is shown as its title")
        return LocalisedText(text=self.text(self.doc, "id") or native_id)

    def description(self) -> LocalisedText | None:
        """CommonMark text kept as written: its line breaks and indentation carry its structure."""
        text = self.text(self.fields, "description")
        return LocalisedText(text=text) if text else None

    def identifiers(self, cite_as: list[str]) -> tuple[list[Identifier], list[Link]]:
        """DOIs of the resource (``sci:doi``, DOI URLs in ``sci:citation``, ``cite-as`` links), and the
        publications about it (``sci:publications``) as links."""
        found: list[Identifier] = []
        publications: list[Link] = []
        publication_dois: set[str] = set()
        entries = self.fields.get("sci:publications")
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict) or not isinstance(entry.get("doi"), str):
                continue
            doi = normalise_doi(entry["doi"])
            if doi:
                publication_dois.add(doi)
                citation = one_line(entry.get("citation")) if isinstance(entry.get("citation"), str) else None
                publications.append(
                    Link(url=f"https://doi.org/{doi}", function="information", description=citation)
                )
        for value in [*_strings(self.fields.get("sci:doi")), *_summary_values(self.summaries.get("sci:doi"))]:
            identifier = doi_identifier(value)
            if identifier is None:
                self.warn(f"sci:doi: {value!r} is not a DOI; ignored")
            add_identifier(found, identifier)
        citations = [
            *_strings(self.fields.get("sci:citation")),
            *_summary_values(self.summaries.get("sci:citation")),
        ]
        for url in (url for citation in citations for url in URL_IN_TEXT.findall(citation)):
            add_identifier(found, doi_identifier(url))
        for href in cite_as:
            identifier = doi_identifier(href)
            if identifier is not None and identifier.code not in publication_dois:
                add_identifier(found, identifier)
        return found, publications

    # --- description ---
    def keywords(self) -> list[Keyword]:
        value = self.fields.get("keywords")
        if value is not None and not isinstance(value, list):
            self.warn(f"keywords: {value!r} is not a list; ignored")
            return []
        return unique(Keyword(label=label) for label in _strings(value))

    def equipment(self, *keys: str) -> list[str]:
        """Platform or instrument names under ``keys``, from the item properties, the collection
        summaries and the legacy collection ``properties``, without repeats."""
        sources = [self.fields, self.summaries]
        legacy = self.doc.get("properties") if self.kind == "collection" else None
        if isinstance(legacy, dict):
            sources.append(legacy)
        return distinct_names(
            [name for source in sources for key in keys for name in _summary_values(source.get(key))]
        )

    def contacts(self) -> list[Contact]:
        """One contact per provider role (a provider with no role gets one contact without a role)."""
        providers = self.fields.get("providers")
        if providers is None:
            return []
        if not isinstance(providers, list):
            self.warn(f"providers: {providers!r} is not a list; ignored")
            return []
        found = []
        for provider in providers:
            name = one_line(self.text(provider, "name")) if isinstance(provider, dict) else None
            if not name:
                self.warn(f"providers: {provider!r} has no name; ignored")
                continue
            url = self.href(provider.get("url"))
            for role in _strings(provider.get("roles")) or [None]:
                found.append(Contact(role=PROVIDER_ROLES.get(role, role), organisation=name, url=url))
        return unique(found)

    # --- extents ---
    def bboxes(self) -> list[BBox]:
        if self.kind == "collection":
            return self.extent_bboxes()
        if "bbox" in self.doc:
            box, problem = bbox_from_numbers(self.doc["bbox"])
            if box is not None:
                return [box]
            self.warn(f"bbox: {problem}; box computed from the geometry")
        boxes, problem = geometry_bboxes(self.doc.get("geometry"))
        if problem:
            self.warn(f"geometry: {problem}; no bounding box")
        return boxes

    def extent_bboxes(self) -> list[BBox]:
        """``extent.spatial.bbox``: the first box is the overall extent, the others its parts; all
        distinct boxes are kept. Before STAC 1.0 it was a single flat box."""
        spatial = self.extent().get("spatial")
        values = spatial.get("bbox") if isinstance(spatial, dict) else None
        if isinstance(values, list) and values and not isinstance(values[0], list):
            values = [values]
        boxes = []
        for numbers in values if isinstance(values, list) else []:
            box, problem = bbox_from_numbers(numbers)
            if box is None:
                self.warn(f"extent.spatial.bbox: {problem}; box skipped")
            else:
                boxes.append(box)
        return unique(boxes)

    def extent(self) -> dict[str, Any]:
        extent = self.doc.get("extent")
        if not isinstance(extent, dict):
            self.warn("extent: missing or not an object; no bounding box and no time extent")
            return {}
        return extent

    def temporal(self) -> list[TemporalExtent]:
        """Items: ``start_datetime``/``end_datetime`` when given (``datetime`` is then only a
        representative instant), else the ``datetime`` instant. Collections: every interval."""
        if self.kind == "collection":
            return self.extent_intervals()
        start, end = self.fields.get("start_datetime"), self.fields.get("end_datetime")
        if start is None and end is None:
            start = end = self.fields.get("datetime")
            if start is None:
                self.warn("properties.datetime: null without start_datetime/end_datetime; no time extent")
                return []
        return self.intervals([[start, end]], "properties.datetime")

    def extent_intervals(self) -> list[TemporalExtent]:
        temporal = self.extent().get("temporal")
        pairs = temporal.get("interval") if isinstance(temporal, dict) else None
        if isinstance(pairs, list) and pairs and not isinstance(pairs[0], list):
            pairs = [pairs]  # before STAC 1.0: one flat [start, end]
        return self.intervals(pairs if isinstance(pairs, list) else [], "extent.temporal.interval")

    def intervals(self, pairs: list[Any], where: str) -> list[TemporalExtent]:
        readable = []
        for pair in pairs:
            if isinstance(pair, list) and len(pair) == 2:
                readable.append(pair)
            else:
                self.warn(f"{where}: {pair!r} is not a [start, end] pair; ignored")
        extents, problems = intervals(readable)
        for problem in problems:
            self.warn(f"{where}: {problem}")
        return extents

    def date(self, key: str) -> str | None:
        text = self.text(self.fields, key)
        value = normalise_date(text)
        if text and value is None:
            self.warn(f"{key}: unreadable date {text!r}")
        return value

    # --- links, assets, licence ---
    def link_entries(self) -> list[tuple[str, str, str | None, Any]]:
        """The document's links as (rel, href, title, type), navigation left out."""
        entries = []
        links = self.doc.get("links")
        for link in links if isinstance(links, list) else []:
            href = self.href(link.get("href")) if isinstance(link, dict) else None
            if href is None:
                self.warn(f"links: {link!r} has no href; ignored")
                continue
            rel = one_line(link.get("rel")) if isinstance(link.get("rel"), str) else None
            title = one_line(link.get("title")) if isinstance(link.get("title"), str) else None
            if rel not in _NAVIGATION:
                entries.append((rel or "", href, title, link.get("type")))
        return entries

    def links(self, licence_href: str | None) -> tuple[list[Link], list[str], list[str]]:
        """(resource links, thumbnail URLs, cite-as DOI URLs). The licence link the licence was read
        from and DOI links (identifiers or publications) are not repeated as links."""
        links: list[Link] = []
        thumbnails: list[str] = []
        dois: list[str] = []
        for rel, href, title, kind in self.link_entries():
            media_type, protocol = link_type(kind)
            if rel in _PREVIEW_RELS and (media_type or "image/").startswith("image/"):
                thumbnails.append(href)
            elif rel in _PREVIEW_RELS:  # a map viewer page, not an image
                links.append(Link(url=href, function="browsing", name=title, media_type=media_type))
            elif rel == "cite-as" and doi_identifier(href):
                dois.append(href)
            elif rel.startswith(_OGC_SERVICE_TYPE):
                protocol = f"OGC:{rel.removeprefix(_OGC_SERVICE_TYPE).upper()}"
                links.append(Link(url=href, protocol=protocol, name=title, media_type=media_type))
            elif not (rel == "license" and href == licence_href):
                function = _FUNCTION_BY_REL.get(rel)
                link = Link(url=href, protocol=protocol, function=function, name=title, media_type=media_type)
                links.append(link)
        return links, thumbnails, dois

    def assets(self) -> tuple[list[Link], list[str]]:
        """(asset links, thumbnail URLs). Before STAC 0.9 roles did not exist and the thumbnail was the
        asset keyed ``thumbnail``."""
        links: list[Link] = []
        thumbnails: list[str] = []
        assets = self.doc.get("assets")
        for key, asset in (assets if isinstance(assets, dict) else {}).items():
            href = self.href(asset.get("href")) if isinstance(asset, dict) else None
            if href is None:
                self.warn(f"assets.{key}: no href; ignored")
                continue
            roles = _strings(asset.get("roles"))
            media_type, protocol = link_type(asset.get("type"))
            web_image = (media_type or "").split(";")[0].strip() in _WEB_IMAGES
            if (
                "thumbnail" in roles
                or (not roles and key == "thumbnail")
                or ("overview" in roles and web_image)
            ):
                thumbnails.append(href)
                continue
            description = asset.get("description")
            links.append(
                Link(
                    url=href,
                    function="completeMetadata" if "metadata" in roles else "download",
                    name=one_line(asset.get("title")) if isinstance(asset.get("title"), str) else key,
                    description=(description.strip() or None) if isinstance(description, str) else None,
                    media_type=media_type,
                    protocol=protocol,
                )
            )
        return links, thumbnails

    def constraints(self) -> tuple[Constraints | None, str | None]:
        """The licence (``license`` and the first ``rel=license`` link, whose href is returned too: the
        licence carries it, it is not repeated among the links)."""
        licence_links = [(href, title) for rel, href, title, _ in self.link_entries() if rel == "license"]
        href, title = licence_links[0] if licence_links else (None, None)
        constraints, problem = spdx_constraints(self.text(self.fields, "license"), href, title)
        if problem:
            self.warn(problem)
        return constraints, href


class STAC(Crosswalk):
    """STAC Collection / Item JSON -> ``Record``. Rejection codes: ``not-json``, ``not-stac``,
    ``not-a-record`` (catalog, ItemCollection page), ``no-identifier``."""

    name = "stac"

    def to_record(self, raw: RawRecord, *, pole: str | None = None) -> Record:
        doc = json_document(raw)
        kind = _kind(doc)
        reader = _Reader(doc, kind, raw)
        collection = reader.collection_id()
        native_id = reader.native_id(raw, collection)
        constraints, licence_href = reader.constraints()
        links, thumbnails, cite_as = reader.links(licence_href)
        asset_links, asset_thumbnails = reader.assets()
        identifiers, publications = reader.identifiers(cite_as)
        updated = reader.date("updated")
        return Record(
            id=record_id(raw.source_id, native_id),
            native_id=native_id,
            source_id=raw.source_id,
            pole=pole,
            resource_type="collection" if kind == "collection" else "dataset",
            title=reader.title(native_id),
            abstract=reader.description(),
            identifiers=identifiers,
            parent_id=collection,
            keywords=reader.keywords(),
            bboxes=reader.bboxes(),
            temporal=reader.temporal(),
            created=reader.date("created"),
            revised=updated,
            metadata_date=updated,
            contacts=reader.contacts(),
            constraints=constraints,
            links=unique([*links, *asset_links, *publications]),
            formats=unique(
                Format(name=link.media_type)
                for link in asset_links
                if link.function == "download" and link.media_type
            ),
            thumbnails=unique([*asset_thumbnails, *thumbnails]),
            platforms=reader.equipment("platform", "constellation", "eo:platform", "eo:constellation"),
            instruments=reader.equipment("instruments", "instrument", "eo:instrument"),
            provenance=Provenance(source_id=raw.source_id, native_format="stac", datestamp=raw.datestamp),
            warnings=reader.warnings,
        )
