"""The ``stac`` protocol: a static STAC catalogue (a tree of JSON files) or a STAC API.

``source.url`` is a catalogue's root: a static ``catalog.json`` / ``collection.json``, or an API's
landing page, which declares ``conformsTo`` (STAC API 1.0) or links a ``search`` endpoint (older APIs).

A static catalogue is walked depth first along its ``child`` and ``item`` links (STAC 0.8 to 1.1):

- Catalogs only group other documents: they are walked, not harvested. Collections are harvested, and
  with ``source.items`` their items; ``source.collections`` limits both to the collections named.
- Relative hrefs are resolved against the URL of the document that holds them, after redirects; links to
  other hosts are followed when they are http(s) (``s3://`` and local paths are noted and skipped). No
  URL is fetched twice, so cycles and items listed twice cost nothing.
- A record's content is its document as received and its locator the document's own absolute URL: the
  crosswalk resolves the document's relative hrefs against it.
- A dead link (HTTP 404/410) is noted and skipped: the document is gone. Any other failure, or a
  ``child`` that is not a STAC document, fails the listing: what lies below it is unknown. An ``item``
  that is not JSON is still handed over; the crosswalk rejects it with its reason.
- A page is up to ``page_size`` harvested documents. Its checkpoint is the path from the root to the
  current document, each step the link last taken in it: a resumed walk fetches those few documents
  again and goes on after the links taken. It is a path and not the queue of documents still to visit,
  which holds every item of a catalogue walked breadth first. A catalogue changed so that a step's link
  is gone is walked again from its root (noted). URLs visited before the checkpoint are not remembered:
  a cycle back to them after a resume walks them again, once.
- Nothing in a static catalogue says what changed: ``since`` cannot be applied (``filtered`` is False).

A STAC API is listed in two stages: its collections (``/collections?limit=page_size``, as eodag asks the
Theia datastore, paged along ``next`` links: SFEOS sends 100 per page, stac-fastapi 10 when no limit is
asked; an API that refuses the ``limit`` is listed again without it, noted), then each collection's
items by item search (``POST /search`` when the landing page offers it, else ``GET``;
``collections=[id]``, ``limit=page_size``), or, without item search, by OGC API Features
``/collections/{id}/items``. Pages follow next links as ``harvester.protocols.links``
describes. Item native ids are ``"<collection>/<item id>"``: item ids are unique only within their
collection. With ``since``, an API that declares the filter extension with CQL2 JSON gets ``updated >=
since`` (a ``timestamp`` literal, as CQL2 wants); else everything is listed and ``filtered`` is False.
Checkpoints hold the collections not finished and the next link of the current one; a run interrupted
while the collections were listed lists them again (a few requests: those pages have no checkpoint).
A page's ``matched`` is the total announced so far: the collections, the items of the collections
done and the current one's ``numberMatched``.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urldefrag, urljoin, urlsplit

import msgspec

from catalogue.urls import public_url
from harvester.http import Response
from harvester.protocols import ListingError, Page, Protocol
from harvester.protocols.links import (
    FeatureItems,
    ItemPages,
    ItemsCheckpoint,
    ItemSearch,
    JsonClient,
    Listed,
    Listing,
    Refused,
    Request,
    Start,
    conformance,
    datestamp,
    declares_filter,
    decode,
    find_link,
    object_id,
    records,
    with_params,
)
from harvester.raw import RawRecord

_GONE = (404, 410)  # a dead link: the document is no longer there


class STAC(Protocol):
    name = "stac"

    def pages(self) -> Iterator[Page]:
        url = self.source.url or ""
        with JsonClient(self.source, "stac") as client:
            response, root = client.document(url, f"STAC root ({public_url(url)})")
            if "conformsTo" in root or find_link(root, "search", base=url) is not None:
                api = _Api(self, client, response.url, root)
                yield from api.pages()
                self.filtered = self.since is not None and api.search is not None and api.search.applied
            else:
                self.filtered = False
                yield from _StaticWalk(self, client, url).pages(response, root)


def _item_native_id(obj: Any, collection: str) -> str | None:
    """``"<collection>/<item id>"``: the item's own ``collection`` when it says one, else the collection
    it was listed in (in a static catalogue: the catalog or collection that links it; the bare item id
    when that has no id either); ``None`` for an item without id (the crosswalk rejects it)."""
    item = object_id(obj)
    if item is None:
        return None
    own = obj.get("collection")
    owner = own if isinstance(own, str) and own else collection
    return f"{owner}/{item}" if owner else item


def _declares(classes: list[str], suffix: str) -> bool:
    """Whether a STAC API conformance class (``https://api.stacspec.org/v1.0.0/<suffix>``, any
    version) is declared."""
    return any(uri.startswith("https://api.stacspec.org/") and uri.endswith(f"/{suffix}") for uri in classes)


class _ItemSearch(ItemSearch):
    """STAC API item search, one collection at a time, filtered in CQL2 JSON."""

    def __init__(self, href: str, method: str, page_size: int, since: str | None, can_filter: bool):
        super().__init__(since, can_filter)
        self.href = href
        self.method = method
        self.page_size = page_size

    def first(self, collection: str) -> Request:
        self.filtering = self.can_filter
        filters: dict[str, Any] = {}
        if self.filtering:
            updated = {"op": ">=", "args": [{"property": "updated"}, {"timestamp": self.since}]}
            filters = {"filter": updated, "filter-lang": "cql2-json"}
        if self.method == "POST":
            return Request(
                self.href, "POST", {"collections": [collection], "limit": self.page_size, **filters}
            )
        params = {"collections": collection, "limit": str(self.page_size)}
        if filters:
            params |= {"filter": msgspec.json.encode(filters["filter"]).decode(), "filter-lang": "cql2-json"}
        return Request(with_params(self.href, params))

    def native_id(self, obj: Any, collection: str) -> str | None:
        return _item_native_id(obj, collection)


class _FeatureItems(FeatureItems):
    """A STAC API without item search: OGC API Features ``/collections/{id}/items``."""

    def native_id(self, obj: Any, collection: str) -> str | None:
        return _item_native_id(obj, collection)


class _Api:
    """A STAC API: its collections, then the items of each."""

    def __init__(self, protocol: STAC, client: JsonClient, url: str, landing: dict[str, Any]):
        self.source = protocol.source
        self.resume = protocol.resume
        self.client = client
        self.notes: list[str] = []
        self.announced = 0  # the number of collections the API announced (or listed)
        classes = conformance(client, landing, url)
        data = find_link(landing, "data", base=url)
        self.collections_url = data["href"] if data else urljoin(url.rstrip("/") + "/", "collections")
        self.search = self._item_search(landing, url, classes, protocol.since)

    def _item_search(
        self, landing: dict[str, Any], url: str, classes: list[str], since: str | None
    ) -> ItemSearch | None:
        """Item search when the API has it (``POST`` when a search link offers it), else OGC API
        Features items; ``None`` (noted) when it has neither."""
        page_size = self.source.page_size
        links = [link for link in landing.get("links") or [] if isinstance(link, dict)]
        searches = [
            link for link in links if link.get("rel") == "search" and isinstance(link.get("href"), str)
        ]
        if searches or _declares(classes, "item-search"):
            post = [link for link in searches if str(link.get("method", "")).upper() == "POST"]
            chosen = (post or searches or [{"href": "search"}])[0]
            href = urljoin(url.rstrip("/") + "/", chosen["href"])
            search: ItemSearch = _ItemSearch(
                href, "POST" if post else "GET", page_size, since, declares_filter(classes, "cql2-json")
            )
        elif _declares(classes, "ogcapi-features") or any("ogcapi-features-1" in uri for uri in classes):
            search = _FeatureItems(self._items_url, page_size, since, declares_filter(classes, "cql2-text"))
        else:
            if self.source.items:
                self.notes.append(
                    "the API declares neither item search nor OGC API Features: collections only"
                )
            return None
        if since is not None and not search.can_filter:
            self.notes.append("the API declares no CQL2 filter: listing every item, not only changes")
        return search

    def _collection_url(self, collection: str) -> str:
        return urljoin(self.collections_url.rstrip("/") + "/", quote(collection, safe=""))

    def _items_url(self, collection: str) -> str:
        return self._collection_url(collection) + "/items"

    def pages(self) -> Iterator[Page]:
        resume = ItemsCheckpoint.from_dict(self.resume) if self.resume else None
        if self.resume and (resume is None or self.resume.get("stage") != "items"):
            self.notes.append("the checkpoint is not one of a STAC API listing: listing from the start")
            resume = None
        if resume is None:
            collections: list[str] = []
            yield from self._collections(collections)
            resume = ItemsCheckpoint(collections, self.announced)
        if self.source.items and self.search is not None:
            self.search.notes.extend(self.notes)
            yield from ItemPages.resumed(self.client, self.source, self.search, resume).pages()
            self.notes = self.search.notes
        if self.notes:  # nothing came after the notes: hand them over on their own
            yield Page([], notes=self.notes, checkpoint=ItemsCheckpoint([], self.announced).to_dict())

    def _collections(self, collections: list[str]) -> Iterator[Page]:
        """The collections as records; ``collections`` receives their ids. Their pages have no
        checkpoint (a resumed run lists them again) but the last: the start of the items stage."""
        if self.source.collections:
            yield self._chosen(collections)
            return
        limit: int | None = self.source.page_size
        start = Start(Request(with_params(self.collections_url, {"limit": str(limit)})), refusable=True)
        while True:
            listing = Listing(self.client, start, member="collections", label="collections", limit=limit)
            try:
                for listed in listing.pages():
                    page_records = records(self.source, listed, "collections", object_id)
                    collections.extend(r.native_id for r in page_records if r.native_id)
                    yield self._page(listed, page_records, collections)
                return
            except Refused as exc:  # raised by the first page only: nothing was handed over
                if limit is None:
                    raise ListingError(str(exc)) from None
                self.notes.append(
                    f"the API refused limit={limit} on its collections ({exc}); listing them at its own "
                    "page size"
                )
                limit, start = None, Start(Request(self.collections_url))

    def _chosen(self, collections: list[str]) -> Page:
        """The collections named in ``source.collections``, each fetched at ``/collections/{id}``."""
        objects, size = [], 0
        for collection in self.source.collections:
            href = self._collection_url(collection)
            response, document = self.client.document(href, f"collection {collection!r} ({public_url(href)})")
            objects.append(document)
            size += len(response.content)
            collections.append(collection)
        listed = Listed(objects, 1, len(objects), len(objects), size, [], None)
        return self._page(listed, records(self.source, listed, "collections", object_id), collections)

    def _page(self, listed: Listed, page_records: list[RawRecord], collections: list[str]) -> Page:
        notes, self.notes = [*self.notes, *listed.notes], []
        checkpoint, matched = None, listed.matched
        # the items stage starts after this page; not after one that ends the listing with an error, which
        # would leave the collections after it out of the listing (and their items)
        if listed.next is None and not listed.failed:
            self.announced = matched = listed.matched if listed.matched is not None else listed.received
            checkpoint = ItemsCheckpoint(list(collections), self.announced).to_dict()
        return Page(
            records=page_records,
            matched=matched,
            position=f"collections page {listed.number}",
            received_bytes=listed.received_bytes,
            notes=notes,
            checkpoint=checkpoint,
            unsettled=listed.unsettled,
        )


@dataclass(slots=True)
class _Frame:
    """A catalog or collection being walked: the documents it links to, and how many were taken."""

    url: str  # the document's own URL, after redirects
    owner: str  # its id: the collection of the items below it that do not name theirs
    links: list[tuple[str, str]]  # (rel, absolute URL) of the child and item links to follow, in order
    taken: int = 0

    def step(self) -> dict[str, Any]:
        return {"url": self.url, "after": self.links[self.taken - 1][1] if self.taken else None}


@dataclass(slots=True)
class _Batch:
    """The records of the page being filled, and what happened while fetching them."""

    first_document: int
    records: list[RawRecord] = field(default_factory=list)
    received_bytes: int = 0
    notes: list[str] = field(default_factory=list)


class _StaticWalk:
    """A depth-first walk of a static catalogue, one document downloading while the last is read."""

    def __init__(self, protocol: STAC, client: JsonClient, url: str):
        self.source = protocol.source
        self.resume = protocol.resume
        self.client = client
        self.wanted = set(self.source.collections)
        self.stack: list[_Frame] = []
        self.seen = {urldefrag(url).url}
        self.documents = 0

    def pages(self, response: Response, root: dict[str, Any]) -> Iterator[Page]:
        self.seen.add(urldefrag(response.url).url)
        batch = _Batch(1)
        resumed = self._resume(response, root, batch.notes) if self.resume else False
        if not resumed:
            self._visit(response, root, "child", None, batch)
        download = self._next_download()
        while download is not None:
            rel, parent, future = download
            try:
                self._read(future.result(), rel, parent, batch)
            except ListingError:
                if batch.records:  # good records read before the failure; resuming reads them again
                    yield self._page(batch, None)
                raise
            full = len(batch.records) >= self.source.page_size
            checkpoint = self._checkpoint() if full else None
            download = self._next_download()
            if full and download is not None:
                yield self._page(batch, checkpoint)
                batch = _Batch(self.documents + 1)
        yield self._page(batch, {"stage": "static", "path": []})

    def _page(self, batch: _Batch, checkpoint: dict[str, Any] | None) -> Page:
        return Page(
            records=batch.records,
            position=f"document {batch.first_document}",
            received_bytes=batch.received_bytes,
            notes=batch.notes,
            checkpoint=checkpoint,
        )

    def _checkpoint(self) -> dict[str, Any]:
        return {"stage": "static", "path": [frame.step() for frame in self.stack]}

    def _next_download(self) -> tuple[str, _Frame, Future[Response]] | None:
        """Take the next link of the walk not visited yet and start its download."""
        while self.stack:
            frame = self.stack[-1]
            if frame.taken >= len(frame.links):
                self.stack.pop()
                continue
            rel, url = frame.links[frame.taken]
            frame.taken += 1
            if url in self.seen:
                continue
            self.seen.add(url)
            where = f"STAC {rel} {public_url(url)}"
            return rel, frame, self.client.submit(Request(url), where, accept_errors=True)
        return None

    def _read(self, response: Response, rel: str, parent: _Frame, batch: _Batch) -> None:
        """One downloaded document: a dead link is noted, an error fails the listing."""
        batch.received_bytes += len(response.content)
        if response.status in _GONE:
            batch.notes.append(
                f"dead {rel} link in {public_url(parent.url)}: {response.where}: HTTP {response.status}"
            )
            return
        if response.status >= 400:
            raise ListingError(
                f"{response.where}: HTTP {response.status} {response.reason}{response.snippet()}"
            )
        self.seen.add(urldefrag(response.url).url)
        self._visit(response, _decode(response), rel, parent, batch)

    def _visit(
        self, response: Response, document: Any, rel: str, parent: _Frame | None, batch: _Batch
    ) -> None:
        """Harvest the document if it is a record, walk it if it links to others."""
        self.documents += 1
        kind = _kind(document)
        if kind == "Feature" or (kind is None and rel == "item"):
            if self.source.items:
                owner = parent.owner if parent else ""
                batch.records.append(self._record(response, document, _item_native_id(document, owner)))
            return
        if kind is None:
            raise ListingError(
                f"{response.where}: not a STAC Catalog, Collection or Item; what it links to is unknown"
                f"{response.snippet()}"
            )
        own = object_id(document) or ""
        wanted = kind == "Collection" and (not self.wanted or own in self.wanted)
        if wanted:
            batch.records.append(self._record(response, document, object_id(document)))
        self.stack.append(self._frame(response.url, document, own, wanted, batch.notes))

    def _frame(self, url: str, document: dict[str, Any], own: str, wanted: bool, notes: list[str]) -> _Frame:
        """The links to follow from a catalog or collection: its children; its items when they are
        harvested (items right under a catalog belong to no collection named in ``collections``)."""
        rels = {"child"}
        if self.source.items and (wanted or not self.wanted):
            rels.add("item")
        links, skipped = [], []
        for link in document.get("links") or []:
            if not isinstance(link, dict) or link.get("rel") not in rels:
                continue
            href = link.get("href")
            if not isinstance(href, str) or not href.strip():
                continue
            target = urldefrag(urljoin(url, href.strip())).url
            if urlsplit(target).scheme in ("http", "https"):
                links.append((link["rel"], target))
            else:
                skipped.append(target)
        if skipped:
            notes.append(
                f"{public_url(url)}: {len(skipped)} link(s) not http(s) not followed "
                f"({public_url(skipped[0])})"
            )
        return _Frame(url, own, links)

    def _record(self, response: Response, document: Any, native_id: str | None) -> RawRecord:
        return RawRecord(
            source_id=self.source.id,
            format=self.source.format,
            content=response.content,
            native_id=native_id,
            datestamp=datestamp(document),
            locator=response.url,
            element=document,
        )

    def _resume(self, response: Response, root: dict[str, Any], notes: list[str]) -> bool:
        """Rebuild the path of the checkpoint: each document on it fetched again and positioned after
        the link last taken in it. False (noted) when the catalogue no longer has that path."""
        path = self.resume.get("path") if self.resume and self.resume.get("stage") == "static" else None
        if not isinstance(path, list) or not all(isinstance(step, dict) for step in path):
            notes.append("the checkpoint is not one of a static STAC walk: walking from the root")
            return False
        for index, step in enumerate(path):
            fetched, document = response, root
            if index:
                url = step.get("url")
                if not isinstance(url, str):
                    break
                fetched = self.client.send(Request(url), f"STAC resume {public_url(url)}")
                self.seen.add(urldefrag(fetched.url).url)
                document = _decode(fetched)
            kind = _kind(document)
            if kind not in ("Catalog", "Collection"):
                break
            own = object_id(document) or ""
            wanted = kind == "Collection" and (not self.wanted or own in self.wanted)
            frame = self._frame(fetched.url, document, own, wanted, notes)
            after = step.get("after")
            urls = [target for _rel, target in frame.links]
            if after is not None and after not in urls:
                break
            frame.taken = urls.index(after) + 1 if after is not None else 0
            self.seen.update(urls[: frame.taken])
            self.stack.append(frame)
        else:
            return True
        self.stack.clear()
        notes.append("the catalogue changed since the checkpoint: walking it again from the root")
        return False


def _decode(response: Response) -> Any:
    """The document's JSON, or ``None`` when it is not JSON (what that means depends on the link)."""
    try:
        return decode(response)
    except ListingError:
        return None


def _kind(document: Any) -> str | None:
    """Catalog, Collection or Feature; STAC before 1.0 had no ``type`` on catalogs and collections."""
    if not isinstance(document, dict):
        return None
    kind = document.get("type")
    if kind in ("Catalog", "Collection", "Feature"):
        return kind
    if kind is None and "stac_version" in document and "id" in document:
        return "Collection" if "extent" in document else "Catalog"
    return None
