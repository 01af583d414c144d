"""Listings paged by ``next`` links, shared by the ``stac`` and ``ogcapi-records`` protocols.

STAC API item search, OGC API Features/Records ``/items`` and OGC API ``/collections`` all answer a page
of JSON objects with a ``links`` array; the page after it is wherever its ``rel="next"`` link says.

Why it works the way it does:

- Paging follows the server's next link, never our own arithmetic: servers cap the page size (GEODES
  sends 80 items whatever ``limit`` asks, SFEOS 100 collections), page by opaque tokens (SFEOS, pgstac)
  or by page numbers (GEODES), and a client that counts for itself skips or re-reads items.
- A STAC API next link is a request, not only a URL: ``method`` POST with a ``body``, which with
  ``merge: true`` is merged into the body of the request that gave the page (STAC API item search,
  "Pagination"). ``Request`` is such a resolved request; as a checkpoint it holds the whole body, so a
  resumed run needs nothing of the run before.
- The server's total is ``numberMatched`` (OGC API) or ``context.matched`` (the STAC context extension
  that GEODES and older stac-fastapi still send).
- A listing that cannot go on raises ``ListingError`` after its last good page: a next link that repeats
  an earlier request, a page holding the very objects of an earlier one (next links with ever new tokens
  that go round in a loop), next links that bring new objects past the total or ``max_records``
  (``bounds``), an empty page although the total says more remain, a page that is not JSON or not a
  FeatureCollection. The harvest then knows its listing is incomplete and deletes nothing. That last page
  is handed over without a checkpoint (``Listed.failed``), so the next run reads it again and follows its
  next link afresh: were it taken as the end of its collection, the next run would go on with the next
  collection, and the items after it would never be listed (nor their old versions replaced).
- Downloads run in a background thread, one request in flight: the next page is requested as soon as
  this one is parsed, before it is handed over, so the download overlaps the caller's work on it.
- Each page is parsed once; every object becomes its own record: its JSON re-encoded without the
  envelope (``content``: the crosswalk never sees the FeatureCollection around it) and the decoded
  object itself (``RawRecord.element``: a crosswalk may use it instead of parsing the bytes again).
"""

from __future__ import annotations

import contextvars
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import msgspec

from catalogue.urls import public_url
from harvester.http import HttpClient, Response
from harvester.protocols import ListingError, Page
from harvester.protocols.bounds import Overrun, overrun
from harvester.raw import RawRecord

if TYPE_CHECKING:
    from harvester.source import Source

log = logging.getLogger(__name__)

# GeoJSON first (items), then JSON (landing pages, collections) and JSON Schema (queryables): servers
# that negotiate (pygeoapi) otherwise answer a client without a preference in HTML.
JSON_ACCEPT = "application/geo+json, application/json;q=0.9, application/schema+json;q=0.8"
_OGC_REL = "http://www.opengis.net/def/rel/ogc/1.0/"  # link relations registered by the OGC


@dataclass(frozen=True, slots=True)
class Request:
    """One page's request, as the listing's first request or a next link describes it."""

    href: str
    method: str = "GET"
    body: dict[str, Any] | None = None  # POST only: the JSON body, a merged link body already merged
    headers: dict[str, str] | None = None  # what a next link asks to send besides the source's headers

    def checkpoint(self) -> dict[str, Any]:
        return {"href": self.href, "method": self.method, "body": self.body, "headers": self.headers}

    @classmethod
    def from_checkpoint(cls, data: Any) -> Request | None:
        """The request a checkpoint names, or ``None`` when it names none that can be sent."""
        if not isinstance(data, dict) or not isinstance(data.get("href"), str):
            return None
        method, body, headers = data.get("method", "GET"), data.get("body"), data.get("headers")
        if method not in ("GET", "POST") or not (body is None or isinstance(body, dict)):
            return None
        return cls(data["href"], method, body, _headers(headers) or None)

    @property
    def key(self) -> bytes:
        """Equal for the same request (body keys in any order): what the loop guard compares."""
        return msgspec.json.encode((self.method, self.href, self.body), order="sorted")


def _headers(value: Any) -> dict[str, str]:
    """A link's ``headers``: text names and values only, none that could start another header."""
    if not isinstance(value, dict):
        return {}
    return {
        name: text
        for name, text in value.items()
        if isinstance(name, str) and isinstance(text, str) and not any(c in name + text for c in "\r\n")
    }


def with_params(href: str, params: dict[str, str]) -> str:
    """``href`` with ``params`` added to (or replacing the same names in) its query string."""
    parts = urlsplit(href)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    return urlunsplit(parts._replace(query=urlencode([*query, *params.items()])))


def find_link(document: Any, *rels: str, base: str) -> dict[str, Any] | None:
    """The first link of ``document`` with one of ``rels`` (in the order of ``rels``), its ``href``
    made absolute against ``base``."""
    links = document.get("links") if isinstance(document, dict) else None
    if not isinstance(links, list):
        return None
    for rel in rels:
        for link in links:
            if isinstance(link, dict) and link.get("rel") == rel and isinstance(link.get("href"), str):
                return {**link, "href": urljoin(base, link["href"].strip())}
    return None


def next_request(document: dict[str, Any], base: str, current: Request) -> Request | None:
    """The request for the page after ``document`` (answered to ``current`` from URL ``base``).

    A STAC API link may say ``method`` POST with a ``body``, and ``headers``; with ``merge: true`` both
    are merged into those of ``current`` (a POST link without a body repeats ``current``'s)."""
    link = find_link(document, "next", base=base)
    if link is None:
        return None
    method = str(link.get("method") or "GET").upper()
    if method not in ("GET", "POST"):
        raise ListingError(f"the next link asks for HTTP {method}; only GET and POST are sent")
    merge = bool(link.get("merge"))
    headers = (
        {**(current.headers or {}), **_headers(link.get("headers"))}
        if merge
        else _headers(link.get("headers"))
    )
    if method == "GET":
        return Request(link["href"], headers=headers or None)
    body = link.get("body") if isinstance(link.get("body"), dict) else {}
    if merge or not body:
        body = {**(current.body or {}), **body}
    return Request(link["href"], "POST", body, headers or None)


def decode(response: Response) -> Any:
    """The JSON of a response; a UTF-8 byte order mark (Windows editors write one into static
    catalogues) is skipped.

    An unpaired UTF-16 surrogate escape (``"\\ud800"``) is JSON but no text, and msgspec refuses the
    whole page for it. Such a page is read with the standard library, which keeps the surrogate: the
    object holding it is then rejected on its own (``records``), and the objects around it harvested."""
    content = response.content.removeprefix(b"\xef\xbb\xbf")
    try:
        return msgspec.json.decode(content)
    except msgspec.DecodeError as exc:
        if "surrogate" in str(exc):
            try:
                return json.loads(content)
            except (ValueError, RecursionError):
                pass
        raise ListingError(
            f"{response.where}: the response is not JSON ({exc}){response.snippet()}"
        ) from None
    except RecursionError:
        raise ListingError(f"{response.where}: the response's JSON is nested too deep to read") from None


class JsonClient:
    """The HTTP client of one source and its download thread (one request in flight).

    Closing it (the ``pages()`` generator closed early, or an error) cancels a request not yet started
    and does not wait for one under way: the worker thread ends when that request does.
    """

    def __init__(self, source: Source, name: str):
        self.source = source
        self.http = HttpClient(source, accept=JSON_ACCEPT)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-{source.id}")

    def __enter__(self) -> JsonClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.http.close()

    def submit(self, request: Request, where: str, *, accept_errors: bool = False) -> Future[Response]:
        return self._pool.submit(contextvars.copy_context().run, self.send, request, where, accept_errors)

    def send(self, request: Request, where: str, accept_errors: bool = False) -> Response:
        options: dict[str, Any] = {"accept_errors": accept_errors, "where": where, "headers": request.headers}
        if request.method == "POST":
            body = msgspec.json.encode(request.body or {})
            return self.http.post(request.href, body, "application/json", **options)
        return self.http.get(request.href, **options)

    def document(self, url: str, where: str) -> tuple[Response, dict[str, Any]]:
        """A JSON object fetched now (a landing page, a collection): ``ListingError`` for anything else."""
        response = self.send(Request(url), where)
        document = decode(response)
        if not isinstance(document, dict):
            raise ListingError(f"{where}: expected a JSON object{response.snippet()}")
        return response, document


class Refused(ListingError):
    """The first request of a listing was refused: an HTTP 4xx, or an answer that is not the listing.
    A resumed next link that expired, or a filter the server does not take: the caller may ask again
    differently."""


@dataclass(slots=True)
class Start:
    """Where a listing starts: its first request, and how far a previous run got before it."""

    request: Request
    pages: int = 0  # pages already read (page numbers continue after them)
    received: int = 0  # objects already received (compared with the server's total)
    refusable: bool = False  # a 4xx or a wrong answer to the first request raises ``Refused``


@dataclass(slots=True)
class Listed:
    """One page of a listing, as decoded, and what it says of the rest."""

    objects: list[Any]
    number: int  # the page's number in its listing, from 1
    matched: int | None  # the server's total for the listing
    received: int  # objects of the listing received so far, this page's included
    received_bytes: int
    notes: list[str]
    next: Request | None  # the request for the next page (already sent)
    unsettled: str | None = None  # ``Page.unsettled``
    # The listing stops with an error after this page (``next`` is then ``None``): it is not over, and
    # this page is no place to continue from.
    failed: bool = False


class Listing:
    """One walk along next links, from ``start``; ``member`` is the array of objects ("features" in a
    FeatureCollection, "collections" in ``/collections``); ``limit`` the page size asked, if any."""

    def __init__(
        self, client: JsonClient, start: Start, *, member: str, label: str, limit: int | None = None
    ):
        self.client = client
        self.start = start
        self.member = member
        self.label = label
        self.limit = limit
        self.received = start.received
        self.matched: int | None = None
        self.unsettled: str | None = None  # of the page just read: ``Page.unsettled``
        self.seen: dict[bytes, int] = {}  # request key -> number of the page it gave
        # hash of a page's object ids -> its number: next links that each differ can still loop
        self.contents: dict[int, int] = {}
        self.cap_reported = False

    def pages(self) -> Iterator[Listed]:
        request, number = self.start.request, self.start.pages + 1
        self.seen[request.key] = number
        download = self._submit(request, number, accept_errors=self.start.refusable)
        while download is not None:
            listed, download, failure = self._read(download.result(), request, number)
            yield listed
            if failure is not None:
                raise failure
            if listed.next is not None:
                request, number = listed.next, number + 1

    def _submit(self, request: Request, number: int, *, accept_errors: bool = False) -> Future[Response]:
        where = f"{self.label} page {number} ({request.method} {public_url(request.href)})"
        return self.client.submit(request, where, accept_errors=accept_errors)

    def _read(
        self, response: Response, request: Request, number: int
    ) -> tuple[Listed, Future[Response] | None, ListingError | None]:
        """Parse one page and send the request for the next one; the failure that must end the
        listing once this page is handed over, if any."""
        try:
            document = self._document(response)
        except Refused:
            raise
        except ListingError as exc:
            if number == self.start.pages + 1 and self.start.refusable and response.status < 500:
                raise Refused(str(exc)) from None
            raise
        objects: list[Any] = document[self.member]
        self.received += len(objects)
        notes: list[str] = []
        matched = self._review(document, len(objects), notes)
        failure = None
        try:
            following = self._following(document, response.url, request, number, notes)
        except ListingError as exc:
            following, failure = None, type(exc)(f"{response.where}: {exc}")  # an ``Overrun`` stays one
        download = None if following is None else self._submit(following, number + 1)
        log.debug("%s: %d %s of %s", response.where, len(objects), self.member, matched)
        listed = Listed(
            objects,
            number,
            matched,
            self.received,
            len(response.content),
            notes,
            following,
            self.unsettled,
            failed=failure is not None,
        )
        return listed, download, failure

    def _document(self, response: Response) -> dict[str, Any]:
        """The page as a JSON object holding the ``member`` array; an HTTP error status arrives here
        only for the first request of a refusable listing."""
        if response.status >= 400:
            error = f"{response.where}: HTTP {response.status} {response.reason}{response.snippet()}"
            raise (Refused if response.status < 500 else ListingError)(error)
        document = decode(response)
        if self.member == "features":
            if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
                found = document.get("type") if isinstance(document, dict) else type(document).__name__
                raise ListingError(
                    f"{response.where}: expected a GeoJSON FeatureCollection, got {found!r}"
                    f"{response.snippet()}"
                )
        elif not isinstance(document, dict):
            raise ListingError(f"{response.where}: expected a JSON object{response.snippet()}")
        if not isinstance(document.get(self.member), list):
            raise ListingError(f"{response.where}: the response has no {self.member!r} array")
        return document

    def _review(self, document: dict[str, Any], count: int, notes: list[str]) -> int | None:
        """The server's total, and notes on what the page really held."""
        matched = _count(document, "numberMatched", "matched")
        returned = _count(document, "numberReturned", "returned")
        if returned is not None and returned != count:
            notes.append(f"numberReturned={returned} but the page holds {count} {self.member}")
        self.unsettled = None
        if matched is not None and self.matched is not None and matched != self.matched:
            self.unsettled = f"numberMatched changed from {self.matched} to {matched} during the listing"
            notes.append(self.unsettled)
        self.matched = matched if matched is not None else self.matched
        return matched

    def _following(
        self,
        document: dict[str, Any],
        base: str,
        request: Request,
        number: int,
        notes: list[str],
    ) -> Request | None:
        """The next page's request; ``ListingError`` when following it would loop or skip. The total
        is the last one the server gave: some give it on the first page only."""
        count, matched = len(document[self.member]), self.matched
        following = next_request(document, base, request)
        behind = matched is not None and self.received < matched
        if following is None:
            if behind:
                notes.append(f"the listing ended after {self.received} of {matched} matched {self.member}")
            return None
        if following.key in self.seen:
            raise ListingError(
                f"the next link repeats the request of page {self.seen[following.key]}; stopping instead "
                "of looping"
            )
        ids = tuple(object_id(obj) for obj in document[self.member])
        if any(ids):
            earlier = self.contents.setdefault(hash(ids), number)
            if earlier != number:
                raise ListingError(
                    f"page {number} holds the same {count} {self.member} as page {earlier} although its next "
                    "link is new: the next links go round in a loop; stopping"
                )
        if count == 0:
            if behind:
                raise ListingError(
                    f"no {self.member} although numberMatched={matched} (received {self.received} of "
                    f"{matched}); stopping instead of following the next link"
                )
            # Without a total, nothing tells whether objects remain behind the link: the listing ends
            # here, and grounds no deletion (``Page.unsettled``).
            self.unsettled = (
                f"{self.label}: an empty page with a next link ended the listing ({self.member} received"
                f" before it: {self.received})"
            )
            notes.append(self.unsettled)
            return None
        most = self.client.source.max_records
        reason = overrun(
            self.received, matched, max(count, self.limit or 0), most, what=self.member, total="numberMatched"
        )
        if reason is not None:  # new objects on every page, past the total or past max_records
            raise Overrun(reason)
        if self.limit is not None and count < self.limit and not self.cap_reported:
            self.cap_reported = True
            notes.append(
                f"the server sends {count} {self.member} per page although limit={self.limit} was asked; "
                "following next links"
            )
        self.seen[following.key] = number + 1
        return following


def _count(document: dict[str, Any], name: str, legacy: str) -> int | None:
    """``numberMatched`` / ``numberReturned``, or their STAC context extension spelling."""
    value = document.get(name)
    if value is None and isinstance(document.get("context"), dict):
        value = document["context"].get(legacy)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def object_id(obj: Any) -> str | None:
    """An object's ``id`` as text; ``None`` when it has none (the crosswalk then rejects it)."""
    value = obj.get("id") if isinstance(obj, dict) else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):  # OGC API Features ids may be numbers
        return str(value)
    return value if isinstance(value, str) and value else None


def datestamp(obj: Any) -> str | None:
    """The object's own last-update time: ``properties.updated`` (items, records) or ``updated``."""
    if not isinstance(obj, dict):
        return None
    properties = obj.get("properties")
    value = properties.get("updated") if isinstance(properties, dict) else None
    value = value if value is not None else obj.get("updated")
    return value if isinstance(value, str) else None


def records(
    source: Source, listed: Listed, label: str, native_id: Callable[[Any], str | None]
) -> list[RawRecord]:
    """One record per object of the page; the locator says which page and object, never a bare URL."""
    return [
        RawRecord(
            source_id=source.id,
            format=source.format,
            content=content,
            native_id=native_id(obj),
            datestamp=datestamp(obj),
            locator=f"{label} page {listed.number} #{index}",
            element=element,
        )
        for index, obj in enumerate(listed.objects, 1)
        for content, element in [_encoded(obj)]
    ]


def _encoded(obj: Any) -> tuple[bytes, Any]:
    """An object's bytes, and the object for the crosswalk. An object holding text that is no Unicode
    (``decode``) has no UTF-8: it goes as escaped ASCII without the object, so that its crosswalk
    rejects it as not JSON in UTF-8 (``formats.common.json_document``) and only it."""
    try:
        return msgspec.json.encode(obj), obj
    except UnicodeEncodeError:
        return json.dumps(obj).encode(), None


class ItemSearch(ABC):
    """How one API lists a collection's items: the first request, with the ``since`` filter while the
    server can take it. Subclasses: STAC item search, OGC API ``/collections/{id}/items``."""

    def __init__(self, since: str | None, can_filter: bool):
        self.since = since
        self.can_filter = since is not None and can_filter  # the API declares a filter we can write
        self.filtering = False  # the request ``first`` gave last carries the filter
        self.applied = False  # a filtered listing was answered: the harvest saw changes only
        self.notes: list[str] = []  # to hand over with the next page

    @abstractmethod
    def first(self, collection: str) -> Request:
        """The request for the first page of ``collection``'s items; sets ``filtering``."""

    @abstractmethod
    def native_id(self, obj: Any, collection: str) -> str | None:
        """The native id of an item of ``collection``."""

    def relax(self, reason: str) -> str | None:
        """Stop filtering after the server refused a filtered request; the note, or ``None`` when the
        request had no filter to drop."""
        if not self.filtering:
            return None
        self.can_filter = self.filtering = False
        return f"the server refused the filter on updated ({reason}); listing every item"


class FeatureItems(ItemSearch):
    """OGC API Features and Records: ``GET {collection}/items?limit=N``, filtered in CQL2 text."""

    def __init__(self, items_url: Callable[[str], str], page_size: int, since: str | None, can_filter: bool):
        super().__init__(since, can_filter)
        self.items_url = items_url
        self.page_size = page_size

    def first(self, collection: str) -> Request:
        self.filtering = self.can_filter and self.filters(collection)
        params = {"limit": str(self.page_size)}
        if self.filtering:
            params |= {"filter": f"updated >= TIMESTAMP('{self.since}')", "filter-lang": "cql2-text"}
        return Request(with_params(self.items_url(collection), params))

    def filters(self, collection: str) -> bool:
        """Whether the items of ``collection`` can be filtered on ``updated`` (the API can filter)."""
        return True

    def native_id(self, obj: Any, collection: str) -> str | None:
        return object_id(obj)


@dataclass(slots=True)
class ItemsCheckpoint:
    """Where the item listings of several collections continue: the collections not finished, the
    first of them at ``next`` (``None``: at its first page), and the total the source announced for
    all that was listed before it (``Page.matched`` goes on from it)."""

    collections: list[str]
    announced: int = 0
    next: Request | None = None
    pages: int = 0
    received: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": "items",
            "collections": self.collections,
            "announced": self.announced,
            "next": self.next.checkpoint() if self.next else None,
            "pages": self.pages,
            "received": self.received,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ItemsCheckpoint | None:
        """The checkpoint ``data`` holds, or ``None`` when it is not one."""
        collections, following = data.get("collections"), data.get("next")
        if not isinstance(collections, list) or not all(isinstance(c, str) for c in collections):
            return None
        request = Request.from_checkpoint(following)
        if following is not None and (request is None or not collections):
            return None
        counts = [data.get(name, 0) for name in ("announced", "pages", "received")]
        if not all(isinstance(count, int) for count in counts):
            return None
        return cls(collections, counts[0], request, counts[1], counts[2])


def _carries_filter(request: Request) -> bool:
    return "filter" in (request.body or {}) or "filter" in dict(parse_qsl(urlsplit(request.href).query))


@dataclass(slots=True)
class ItemPages:
    """The items of ``collections``, one listing after another, as pages with checkpoints.

    A page's ``matched`` is the total the source announced for the whole listing so far: what it
    announced for everything before (``announced``: earlier collections, the collections themselves)
    and this collection's ``numberMatched``. A collection that ends short of its total thus keeps the
    harvest from deleting on its strength. A resumed next link the server refuses (an expired token)
    starts its collection again, and a filter it refuses is dropped: both noted (``search.notes``),
    never a failed harvest. A page after which the listing fails (``Listed.failed``) has no checkpoint:
    the one before it stands, and the next run reads that page again."""

    client: JsonClient
    source: Source
    search: ItemSearch
    collections: Sequence[str]
    announced: int = 0
    resume: Request | None = None  # where the first collection continues
    resume_counts: tuple[int, int] = (0, 0)  # its pages and objects read before

    @classmethod
    def resumed(
        cls, client: JsonClient, source: Source, search: ItemSearch, checkpoint: ItemsCheckpoint
    ) -> ItemPages:
        counts = (checkpoint.pages, checkpoint.received)
        return cls(
            client, source, search, checkpoint.collections, checkpoint.announced, checkpoint.next, counts
        )

    def pages(self) -> Iterator[Page]:
        for index, collection in enumerate(self.collections):
            resumed = index == 0 and self.resume is not None
            if self.resume is not None and resumed:
                start = Start(self.resume, *self.resume_counts, refusable=True)
                filtered = self.search.since is not None and _carries_filter(self.resume)
            else:
                start = Start(self.search.first(collection), refusable=self.search.filtering)
                filtered = self.search.filtering
            while True:
                try:
                    yield from self._listing(collection, index, start, filtered=filtered)
                    break
                except Refused as exc:  # raised by the first page only: nothing was handed over
                    if resumed:
                        note = (
                            f"the checkpoint no longer works ({exc}); listing the items of {collection} again"
                        )
                    else:
                        note = self.search.relax(str(exc))
                    if note is None:
                        raise ListingError(str(exc)) from None
                    self.search.notes.append(note)
                    resumed = False
                    start = Start(self.search.first(collection), refusable=self.search.filtering)
                    filtered = self.search.filtering

    def _listing(self, collection: str, index: int, start: Start, *, filtered: bool) -> Iterator[Page]:
        label = f"items of {collection}"
        listing = Listing(self.client, start, member="features", label=label, limit=self.source.page_size)
        total = None
        for listed in listing.pages():
            self.search.applied = self.search.applied or filtered
            total = listed.matched if listed.matched is not None else total
            checkpoint: ItemsCheckpoint | None = None
            if listed.failed:  # not over: the next run continues from the checkpoint before this page
                matched = None if total is None else self.announced + total
            elif listed.next is None:  # the listing is over: its total counts in those of the next ones
                self.announced += total if total is not None else listed.received
                matched = None if total is None else self.announced
                checkpoint = ItemsCheckpoint(list(self.collections[index + 1 :]), self.announced)
            else:
                matched = None if total is None else self.announced + total
                remaining = list(self.collections[index:])
                checkpoint = ItemsCheckpoint(
                    remaining, self.announced, listed.next, listed.number, listed.received
                )
            notes = [*self.search.notes, *listed.notes]
            self.search.notes.clear()
            yield Page(
                records=records(
                    self.source, listed, label, lambda obj: self.search.native_id(obj, collection)
                ),
                matched=matched,
                position=f"{label} page {listed.number}",
                received_bytes=listed.received_bytes,
                notes=notes,
                checkpoint=None if checkpoint is None else checkpoint.to_dict(),
                unsettled=listed.unsettled,
            )


def conformance(client: JsonClient, landing: dict[str, Any], url: str) -> list[str]:
    """The conformance classes an OGC API declares: on its landing page (STAC APIs) or at
    ``/conformance``; none when it has no readable ``/conformance`` (older STAC APIs)."""
    declared = landing.get("conformsTo")
    if not isinstance(declared, list):
        link = find_link(landing, "conformance", _OGC_REL + "conformance", base=url)
        href = link["href"] if link else urljoin(url.rstrip("/") + "/", "conformance")
        response = client.send(Request(href), f"conformance ({public_url(href)})", accept_errors=True)
        try:
            document = decode(response) if response.status < 400 else None
        except ListingError:
            document = None
        declared = document.get("conformsTo") if isinstance(document, dict) else None
    return [uri for uri in declared or [] if isinstance(uri, str)]


def declares_filter(classes: Sequence[str], language: str) -> bool:
    """Whether the API filters items with CQL2 in ``language`` ("cql2-json", "cql2-text"): a filter
    class (OGC API Features part 3, Records, STAC item search ``#filter``) and that encoding."""
    filters = any(uri.endswith(("/conf/filter", "/conf/features-filter", "#filter")) for uri in classes)
    return filters and any(uri.endswith(f"/conf/{language}") for uri in classes)
