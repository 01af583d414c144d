"""The ``ogcapi-records`` protocol: the records of OGC API - Records catalogues, page by page.

``source.url`` is one catalogue (a collection, ``.../collections/{id}``) or the API's landing page; from
a landing page the collections named in ``source.collections`` are harvested, or, when none is named,
every collection whose ``itemType`` is ``record`` (``/collections`` paged along its next links).

Each catalogue is listed with ``GET {collection}/items?limit=page_size`` along its next links, as
``harvester.protocols.links`` describes (guards against loops and short listings, one page downloading
ahead). A record's native id is its ``id``; its locator names the page and position ("items of
catalogue page 3 #7"), never a URL. With ``since``, a catalogue is filtered with ``updated >=
TIMESTAMP('since')`` in CQL2 text when the API declares filtering with CQL2 text and the collection's
queryables include ``updated``; else it is listed whole and, when no catalogue could be filtered,
``filtered`` is False. A checkpoint holds the catalogues not finished and the next link of the current
one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from catalogue.urls import public_url
from harvester.protocols import ListingError, Page, Protocol
from harvester.protocols.links import (
    FeatureItems,
    ItemPages,
    ItemsCheckpoint,
    JsonClient,
    Listing,
    Request,
    Start,
    conformance,
    declares_filter,
    decode,
    find_link,
    object_id,
)

_RECORD = "record"  # the itemType of a records catalogue (pygeoapi, pycsw, GeoNetwork 4 write it so)


class OGCAPIRecords(Protocol):
    name = "ogcapi-records"

    def pages(self) -> Iterator[Page]:
        url = self.source.url or ""
        with JsonClient(self.source, "ogcapi-records") as client:
            catalogue = _Catalogue(self.source.collections, client, url)
            classes = conformance(client, catalogue.landing, catalogue.landing_url) if self.since else []
            search = _RecordItems(
                client, catalogue, self.source.page_size, self.since, declares_filter(classes, "cql2-text")
            )
            search.notes.extend(catalogue.notes)
            if self.since is not None and not search.can_filter:
                search.notes.append(
                    "the API declares no CQL2 text filter: listing every record, not only changes"
                )
            resume = self._resume(catalogue, search.notes) or ItemsCheckpoint(catalogue.collections)
            items = ItemPages.resumed(client, self.source, search, resume)
            yield from items.pages()
            if search.notes:  # nothing came after the notes: hand them over on their own
                checkpoint = ItemsCheckpoint([], items.announced).to_dict()
                yield Page([], notes=list(search.notes), checkpoint=checkpoint)
            self.filtered = self.since is not None and search.applied

    def _resume(self, catalogue: _Catalogue, notes: list[str]) -> ItemsCheckpoint | None:
        """The checkpoint to continue from, if it is one of these catalogues (noted when not)."""
        if not self.resume:
            return None
        resume = ItemsCheckpoint.from_dict(self.resume) if self.resume.get("stage") == "items" else None
        if resume is None or not set(resume.collections) <= set(catalogue.urls):
            notes.append("the checkpoint is not one of this listing: listing from the start")
            return None
        return resume


class _Catalogue:
    """Which collections to list, and where each one is."""

    def __init__(self, chosen: list[str], client: JsonClient, url: str):
        self.notes: list[str] = []
        response, document = client.document(url, f"OGC API Records ({public_url(url)})")
        if not chosen and (document.get("itemType") is not None or find_link(document, "items", base=url)):
            collection = object_id(document) or urlsplit(response.url).path.rstrip("/").rpartition("/")[2]
            self.collections = [collection]
            self.urls = {collection: response.url.rstrip("/")}
            root = find_link(document, "root", base=response.url)
            self.landing_url = root["href"] if root else response.url.partition("/collections/")[0]
            self.landing: dict[str, Any] = {}  # its conformance is read at /conformance
            return
        self.landing, self.landing_url = document, response.url
        data = find_link(document, "data", base=response.url)
        collections_url = data["href"] if data else urljoin(response.url.rstrip("/") + "/", "collections")
        self.collections = list(chosen) or self._record_collections(client, collections_url)
        base = collections_url.rstrip("/") + "/"
        self.urls = {collection: urljoin(base, quote(collection, safe="")) for collection in self.collections}

    def _record_collections(self, client: JsonClient, collections_url: str) -> list[str]:
        """Every collection of the API whose ``itemType`` is ``record``."""
        found: list[str] = []
        listing = Listing(client, Start(Request(collections_url)), member="collections", label="collections")
        for listed in listing.pages():
            self.notes.extend(listed.notes)
            for collection in listed.objects:
                item_type = collection.get("itemType") if isinstance(collection, dict) else None
                if isinstance(item_type, str) and item_type.lower() == _RECORD and object_id(collection):
                    found.append(object_id(collection) or "")
        if not found:
            raise ListingError(
                f"{public_url(collections_url)}: no collection has itemType {_RECORD!r}; name the catalogues "
                "to harvest in the source's collections"
            )
        return found

    def items_url(self, collection: str) -> str:
        return self.urls[collection] + "/items"


class _RecordItems(FeatureItems):
    """``/items`` of each catalogue, filtered where its queryables offer ``updated``."""

    def __init__(
        self, client: JsonClient, catalogue: _Catalogue, page_size: int, since: str | None, can_filter: bool
    ):
        super().__init__(catalogue.items_url, page_size, since, can_filter)
        self.client = client
        self.catalogue = catalogue

    def filters(self, collection: str) -> bool:
        href = self.catalogue.urls[collection] + "/queryables"
        response = self.client.send(Request(href), f"queryables of {collection}", accept_errors=True)
        try:
            queryables = decode(response) if response.status < 400 else None
        except ListingError:
            queryables = None
        properties = queryables.get("properties") if isinstance(queryables, dict) else None
        if isinstance(properties, dict) and "updated" in properties:
            return True
        self.notes.append(f"{collection} has no queryable 'updated': listing every record of it")
        return False
