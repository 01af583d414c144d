"""The ``oai-pmh`` protocol: an OAI-PMH 2.0 repository, listed with ``ListRecords`` and resumption tokens.

Why it works the way it does:

- ``Identify`` comes first: its ``granularity`` says how ``from`` must be written (a day-granularity
  repository gets the date part of the watermark: the overlap costs nothing, unchanged records are not
  even parsed again), its ``responseDate`` is the server's own clock for the next watermark, and its
  ``deletedRecord`` policy says whether an incremental harvest can see deletions at all. A watermark older
  than ``earliestDatestamp`` sends no ``from``: the listing is then complete, and the run knows it.
- ``ListMetadataFormats`` and ``ListSets`` check the source's config before anything is listed: a prefix
  or set the repository does not offer is a ``ListingError`` naming what it does offer, not an empty
  harvest that looks like success.
- One listing per configured set, in turn (a record in two sets comes twice: the run handles duplicates).
  Tokens are followed until an empty or missing one. A token already used in the listing, or records
  past ``completeListSize`` by half (past ``max_records`` without it: ``bounds``), raise
  ``ListingError`` after the last good page instead of looping; ``badResumptionToken`` (a token that
  expired) restarts the listing from its beginning once per run; ``noRecordsMatch`` is an empty listing.
- Each response is parsed once, in the download thread, and split into records there too. A record
  holding bytes that are not in the response's encoding is rejected alone (``salvage``). The resumption
  token is near the end of a page, so a page is parsed before the request for the next one is sent: it
  leaves before the page is handed over, and is downloaded and parsed while the caller works. Every
  record becomes its own small document (``RawRecord.element``) without the OAI envelope, so its digest
  does not change when the envelope does (a new ``responseDate`` on every page).
- Checkpoints are ``{"prefix", "set", "from", "token", "page", "cursor"}``: the listing to continue
  with the arguments it started with (``token`` None: that set is complete, go on with the next one) and
  how far it got (pages, records).

Real servers bend the protocol; what this client copes with, each reported once per run in a note:

- pycsw 2.6.2 (``<csw url>?mode=oaipmh``) answers a ``resumptionToken`` sent alone, as OAI-PMH requires,
  with ``badArgument: Missing metadataPrefix parameter``. Its token is a bare start position that keeps
  neither the prefix nor ``from``: the client then repeats the listing's arguments beside the token for
  the rest of the run (repeating only the prefix would page through the unfiltered listing).
- pycsw ends every listing with the token ``0`` (a request for it starts the listing again) and writes
  ``<dateStamp>`` instead of ``<datestamp>``, with the records' own metadata dates in whatever form they
  have rather than the declared granularity. Its ``from`` compares those dates as text and ``set`` is
  ignored; ``until`` is never sent.
- GeoNetwork 4 writes its dates with two Zs (``2025-06-04T06:12:54.543994ZZ``, as its manual shows):
  ``responseDate`` and ``earliestDatestamp`` are read as one Z, and ``server_time`` is always given as
  ``YYYY-MM-DDThh:mm:ssZ`` (fractions cut: an earlier watermark only overlaps).
"""

from __future__ import annotations

import contextvars
import logging
import re
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import unescape
from typing import TYPE_CHECKING, Any

from lxml import etree

from harvester.http import HttpClient, Response
from harvester.protocols import ListingError, Page, Protocol
from harvester.protocols.bounds import Overrun, overrun
from harvester.protocols.salvage import ENCODING_ERROR, Salvaged, salvage
from harvester.raw import RawRecord

if TYPE_CHECKING:
    from harvester.source import Source

log = logging.getLogger(__name__)

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
_NS = {"oai": OAI_NS}
_ACCEPT = "text/xml, application/xml;q=0.9, */*;q=0.1"

# Source format -> the metadataPrefixes that carry it, in order of preference (the first one the
# repository offers is harvested). ``metadata_prefix`` in the source's config overrides this.
PREFIXES: dict[str, tuple[str, ...]] = {
    "iso19139": ("iso19139",),
    "dc": ("oai_dc",),
    "datacite": ("oai_datacite", "datacite"),
    "dif": ("dif",),
    "iso19115-3": ("iso19115-3.2018", "iso19115-3"),  # GeoNetwork names it after its schema plugin
}
DAY = "YYYY-MM-DD"
SECONDS = "YYYY-MM-DDThh:mm:ssZ"
_GRANULARITY_FORMS = {
    DAY: re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    SECONDS: re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"),
}
_MAX_NAMED = 20  # offered prefixes or sets named in a message
_MAX_TOKEN = 60  # characters of a resumption token shown in a message
_PYCSW_END = "0"  # pycsw's last-page token: a request for it lists from the beginning again
# The resumptionToken is the last element of a ListRecords page: found in its raw tail before parsing.
_TAIL = 4096
_TAIL_TOKEN = re.compile(rb"<(?:[\w.-]+:)?resumptionToken\b[^>]*>([^<]*)</(?:[\w.-]+:)?resumptionToken\s*>")


class OAIPMH(Protocol):
    name = "oai-pmh"

    def __init__(self, source: Source, *, since: str | None = None, resume: dict[str, Any] | None = None):
        super().__init__(source, since=since, resume=resume)
        # What Identify and ListMetadataFormats said, for messages and the admin interface.
        self.granularity: str | None = None
        self.deleted_record: str | None = None  # no | transient | persistent
        self.earliest_datestamp: str | None = None
        self.metadata_prefix: str | None = None

    def pages(self) -> Iterator[Page]:
        with _Client(self.source) as client:
            yield from _Harvest(self, client).pages()


@dataclass(slots=True)
class _Answer:
    """One OAI-PMH response, parsed: its errors, or its verb element (and, for ListRecords, the records)."""

    where: str  # "GET http://host/oai ListRecords set=x page 3", for messages
    size: int
    response_date: str | None
    errors: list[tuple[str, str]]  # (code, text) of every <error>
    body: etree._Element | None  # <Identify>, <ListRecords>, ...
    request: _Request | None = None
    records: list[RawRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # about single records of the page
    quirks: dict[str, str] = field(default_factory=dict)  # kind -> note; each kind is noted once a run
    token: str | None = None  # the resumptionToken's text; None when absent or empty
    complete_size: int | None = None
    cursor: int | None = None
    ahead: _Ahead | None = None  # the next page, asked for before this one was parsed
    salvaged: Salvaged | None = None  # records holding bytes not in the response's encoding (``salvage``)

    def summary(self) -> str:
        return "; ".join(code + (f": {text}" if text else "") for code, text in self.errors)


@dataclass(slots=True)
class _Ahead:
    """A download of the next page started on the token read from the raw bytes of this one, before
    parsing: parsing and splitting a page then overlap the server's work on the next. Used only when the
    parsed page confirms the token and the request would be the same."""

    token: str
    with_arguments: bool
    response: Future[Response]


@dataclass(slots=True)
class _Listing:
    """One ListRecords walk: one set (or the whole repository) from ``from`` on."""

    spec: str | None
    from_: str | None
    page: int = 0  # pages yielded; a restart goes on counting, so locators stay unique in a run
    received: int = 0  # records since the listing (re)started
    matched: int | None = None  # completeListSize
    tokens: set[str] = field(default_factory=set)
    resumed_token: str | None = None  # the checkpoint's token, until it worked
    cursor_noted: bool = False

    @property
    def label(self) -> str:
        return "ListRecords" + (f" set={self.spec}" if self.spec else "")

    def restart(self) -> None:
        self.received = 0
        self.matched = None
        self.tokens.clear()
        self.resumed_token = None


@dataclass(slots=True)
class _Request:
    """One ListRecords request, kept with its answer: an error may ask to send it again differently."""

    listing: _Listing
    page: int
    token: str | None
    with_arguments: bool  # metadataPrefix, from and set beside the token (pycsw)
    ahead: Future[Response] | None = None  # its response, already asked for


class _Client:
    """HTTP GETs through ``HttpClient`` and one background thread for the next ListRecords page.

    Closing it (the ``pages()`` generator closed early, or an error) cancels a request not yet started
    and does not wait for one under way: the worker thread ends when that request does.
    """

    def __init__(self, source: Source):
        self.url = source.url or ""
        self.http = HttpClient(source, accept=_ACCEPT)
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"oai-{source.id}")
        self.downloads = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"oai-{source.id}-ahead")

    def __enter__(self) -> _Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.downloads.shutdown(wait=False, cancel_futures=True)
        self.http.close()

    def call(self, verb: str, params: dict[str, str], what: str) -> _Answer:
        """One request, parsed; ``ListingError`` for HTTP failures and responses that are not OAI-PMH."""
        return _parse(self.get(verb, params), verb, what)

    def get(self, verb: str, params: dict[str, str]) -> Response:
        return self.http.get(self.url, {"verb": verb, **params}, accept_errors=True)


class _Harvest:
    """Identify, check the config, then list each set in turn, following resumption tokens."""

    def __init__(self, protocol: OAIPMH, client: _Client):
        self.protocol = protocol
        self.source = protocol.source
        self.client = client
        self.prefix = ""
        self.repeat_arguments = False  # the server wants the listing's arguments beside the token
        self.restarts_left = 1  # badResumptionToken restarts per run
        self.matched_before = 0  # records in the sets already listed
        self.notes: list[str] = []  # for the next page
        self.unsettled: str | None = None  # for the next page: ``Page.unsettled``
        self.noted: set[str] = set()

    def pages(self) -> Iterator[Page]:
        from_ = self._identify()
        self.prefix = self._choose_prefix()
        self.protocol.metadata_prefix = self.prefix
        specs = self._check_sets()
        index, listing, token = self._start(specs, from_)
        while index < len(specs):
            yield from self._walk(listing, token)
            self.matched_before += listing.matched if listing.matched is not None else listing.received
            index += 1
            if index < len(specs):
                listing, token = _Listing(specs[index], listing.from_), None

    # -- before the listing ------------------------------------------------------------------------

    def _identify(self) -> str | None:
        """Read Identify; the ``from`` argument for ``since`` (None: list everything)."""
        answer = self.client.call("Identify", {}, "Identify")
        if answer.errors:
            raise ListingError(f"{answer.where}: the repository answered {answer.summary()}")
        assert answer.body is not None
        self.protocol.server_time = _utc_text(answer.response_date)
        if answer.response_date and self.protocol.server_time is None:
            self.notes.append(
                f"responseDate {answer.response_date!r} is not a date; the run keeps its own clock"
            )
        granularity = _child_text(answer.body, "granularity")
        self.protocol.granularity = granularity
        self.protocol.deleted_record = _child_text(answer.body, "deletedRecord")
        self.protocol.earliest_datestamp = _child_text(answer.body, "earliestDatestamp")
        if self.protocol.since is None:
            return None
        since = _moment(self.protocol.since)
        if since is None:
            raise ListingError(
                f"OAI-PMH source {self.source.id}: since={self.protocol.since!r} is not a date"
            )
        earliest = _moment(self.protocol.earliest_datestamp or "")
        if earliest is not None and since < earliest:
            self.protocol.filtered = False  # every record is newer than since: list them all, completely
            return None
        if granularity not in (DAY, SECONDS):
            self.notes.append(
                f"Identify gives granularity {granularity!r}, neither {DAY} nor {SECONDS}; "
                f"from is sent as {DAY}, which every repository accepts"
            )
        if self.protocol.deleted_record in ("no", "transient"):
            self.notes.append(
                f"the repository keeps deletions {self.protocol.deleted_record!r} (deletedRecord): an "
                "incremental harvest may not see records deleted since the last one; a full harvest does"
            )
        return since.strftime("%Y-%m-%dT%H:%M:%SZ" if granularity == SECONDS else "%Y-%m-%d")

    def _choose_prefix(self) -> str:
        """The metadataPrefix to harvest: the configured one, else the format's, if the repository has it."""
        answer = self.client.call("ListMetadataFormats", {}, "ListMetadataFormats")
        if answer.errors:
            raise ListingError(f"{answer.where}: the repository answered {answer.summary()}")
        assert answer.body is not None
        offered = [
            text.strip()
            for text in answer.body.xpath("oai:metadataFormat/oai:metadataPrefix/text()", namespaces=_NS)
        ]
        if self.source.metadata_prefix:
            wanted: tuple[str, ...] = (self.source.metadata_prefix,)
        elif self.source.format in PREFIXES:
            wanted = PREFIXES[self.source.format]
        else:
            raise ListingError(
                f"OAI-PMH source {self.source.id}: format {self.source.format!r} has no usual "
                f"metadataPrefix; set metadata_prefix (the repository offers {_named(offered)})"
            )
        for prefix in wanted:
            if prefix in offered:
                return prefix
        raise ListingError(
            f"{answer.where}: the repository does not offer metadataPrefix {' or '.join(wanted)} "
            f"(format {self.source.format}); it offers {_named(offered)}"
        )

    def _check_sets(self) -> list[str | None]:
        """The sets to list in turn (``[None]``: the whole repository), each checked against ListSets."""
        specs = list(dict.fromkeys(self.source.sets))
        if not specs:
            return [None]
        offered: list[str] = []
        params: dict[str, str] = {}
        tokens: set[str] = set()
        while True:
            answer = self.client.call("ListSets", params, "ListSets")
            if answer.errors:
                raise ListingError(
                    f"{answer.where}: the source lists sets ({', '.join(specs)}) but the repository "
                    f"answered {answer.summary()}"
                )
            assert answer.body is not None
            offered += [t.strip() for t in answer.body.xpath("oai:set/oai:setSpec/text()", namespaces=_NS)]
            token = _token(answer.body)
            if token is None:
                break
            if token in tokens:
                raise ListingError(f"{answer.where}: resumptionToken {_short(token)} repeats; stopping")
            tokens.add(token)
            params = {"resumptionToken": token}
        missing = [spec for spec in specs if spec not in offered]
        if missing:
            raise ListingError(
                f"{answer.where}: the repository has no set {', '.join(missing)}; it offers {_named(offered)}"
            )
        return list(specs)

    def _start(self, specs: list[str | None], from_: str | None) -> tuple[int, _Listing, str | None]:
        """Where the listing starts: the beginning, or after the checkpoint of an interrupted run."""
        checkpoint = self.protocol.resume
        if not checkpoint:
            return 0, _Listing(specs[0], from_), None
        problem = self._unusable(checkpoint, specs)
        if problem:
            self.notes.append(
                f"the checkpoint of the interrupted run cannot be used ({problem}); listing from the start"
            )
            return 0, _Listing(specs[0], from_), None
        # The checkpoint's listing goes on with the arguments it started with.
        self.protocol.filtered = checkpoint["from"] is not None
        index = specs.index(checkpoint["set"])
        listing = _Listing(checkpoint["set"], checkpoint["from"], page=checkpoint["page"])
        listing.received = checkpoint["cursor"]
        token = checkpoint["token"]
        if token is None:  # that set was complete: go on with the next one, if any
            self.matched_before += listing.received
            following = _Listing(specs[index + 1], checkpoint["from"]) if index + 1 < len(specs) else listing
            return index + 1, following, None
        listing.resumed_token = token
        listing.tokens.add(token)
        return index, listing, token

    def _unusable(self, checkpoint: dict[str, Any], specs: list[str | None]) -> str | None:
        """Why a checkpoint cannot be continued, or None."""
        kinds = {"prefix": str, "set": (str, type(None)), "from": (str, type(None))}
        kinds |= {"token": (str, type(None)), "page": int, "cursor": int}
        for key, kind in kinds.items():
            if not isinstance(checkpoint.get(key, ...), kind):
                return f"no valid {key!r}"
        if checkpoint["prefix"] != self.prefix:
            return f"it lists metadataPrefix {checkpoint['prefix']}, the source now {self.prefix}"
        if checkpoint["set"] not in specs:
            return (
                f"set {checkpoint['set']} is no longer configured"
                if checkpoint["set"]
                else "sets are now configured"
            )
        return None

    # -- the listing ---------------------------------------------------------------------------------

    def _walk(self, listing: _Listing, token: str | None) -> Iterator[Page]:
        """Every page of one listing; the next request is under way while a page is handed over."""
        future: Future[_Answer] | None = self._submit(listing, token)
        while future is not None:
            answer = future.result()
            if answer.errors:
                future = self._recover(listing, answer)
                if future is None:  # noRecordsMatch: the listing is empty, or has ended
                    listing.page += 1
                    listing.matched = listing.received
                    yield self._page(listing, answer, None)
                continue
            listing.resumed_token = None
            listing.page += 1
            listing.received += len(answer.records)
            self.notes += answer.notes
            if any(raw.rejected and not raw.native_id for raw in answer.records):
                self.unsettled = (
                    "a record whose identifier holds bytes that are not in the response's encoding cannot "
                    "be matched with its indexed version"
                )
                self.notes.append(self.unsettled)
            for kind, quirk in answer.quirks.items():
                self._note_once(kind, quirk)
            failure: ListingError | None = None
            try:
                next_token = self._next_token(listing, answer)
            except ListingError as exc:
                next_token, failure = None, exc
            if next_token is not None:
                future = self._submit(listing, next_token, answer.ahead)
            else:
                future = None
                if answer.ahead is not None:
                    answer.ahead.response.cancel()
            yield self._page(listing, answer, next_token, failed=failure is not None)
            if failure is not None:
                raise failure

    def _submit(self, listing: _Listing, token: str | None, ahead: _Ahead | None = None) -> Future[_Answer]:
        request = _Request(listing, listing.page + 1, token, self.repeat_arguments)
        if ahead is not None and (ahead.token, ahead.with_arguments) == (token, request.with_arguments):
            request.ahead = ahead.response
        elif ahead is not None:
            ahead.response.cancel()
        return self.client.pool.submit(contextvars.copy_context().run, self._fetch, request)

    def _params(self, listing: _Listing, token: str | None, with_arguments: bool) -> dict[str, str]:
        params = {}
        if token is None or with_arguments:
            params["metadataPrefix"] = self.prefix
            if listing.from_:
                params["from"] = listing.from_
            if listing.spec:
                params["set"] = listing.spec
        if token is not None:
            params["resumptionToken"] = token
        return params

    def _fetch(self, request: _Request) -> _Answer:
        """Download and parse one ListRecords page (in the background thread). As soon as the bytes
        arrive, the next page is asked for on the token found at their end, then this one is parsed."""
        listing = request.listing
        if request.ahead is not None:
            response = request.ahead.result()
        else:
            response = self.client.get(
                "ListRecords", self._params(listing, request.token, request.with_arguments)
            )
        ahead = self._ahead(listing, response, request)
        answer = _parse(response, "ListRecords", f"{listing.label} page {request.page}")
        answer.request = request
        answer.ahead = ahead
        if answer.body is not None and not answer.errors:
            _read_records(
                answer, self.source, f"{listing.label} page {request.page}", self.protocol.granularity
            )
        return answer

    def _ahead(self, listing: _Listing, response: Response, request: _Request) -> _Ahead | None:
        """Start downloading the next page on the token read from the end of the raw response, when it
        is one the listing would follow (not the one just sent, not one seen, not pycsw's end)."""
        found = _TAIL_TOKEN.search(response.content[-_TAIL:])
        token = unescape(found.group(1).decode("utf-8", "replace")).strip() if found else ""
        if not token or token in (request.token, _PYCSW_END) or token in listing.tokens:
            return None
        params = self._params(listing, token, self.repeat_arguments)
        download = self.client.downloads.submit(
            contextvars.copy_context().run, self.client.get, "ListRecords", params
        )
        return _Ahead(token, self.repeat_arguments, download)

    def _recover(self, listing: _Listing, answer: _Answer) -> Future[_Answer] | None:
        """What an OAI error means for the listing: the request to send instead, None for the end of the
        listing (noRecordsMatch), or ``ListingError``."""
        request = answer.request
        assert request is not None
        codes = {code for code, _ in answer.errors}
        if "noRecordsMatch" in codes:
            if listing.received:
                self.notes.append(
                    f"noRecordsMatch after {listing.received} records; taken as the end of the listing"
                )
            return None
        texts = " ".join(text for _, text in answer.errors).lower()
        if (
            codes == {"badArgument"}
            and request.token
            and not request.with_arguments
            and "metadataprefix" in texts
        ):
            self.repeat_arguments = True
            self._note_once(
                "arguments",
                f"the repository answers a resumptionToken sent alone with {answer.summary()} (pycsw does, "
                "against OAI-PMH): metadataPrefix, from and set are repeated beside the token",
            )
            return self._submit(listing, request.token)
        if "badResumptionToken" in codes and request.token:
            if request.token == listing.resumed_token:
                reason = "the resumption token of the interrupted run is no longer valid"
            elif self.restarts_left:
                self.restarts_left -= 1
                reason = f"the resumption token after page {listing.page} expired"
            else:
                raise ListingError(
                    f"{answer.where}: {answer.summary()}, and the listing was already restarted once in "
                    f"this run (received {listing.received} records since); stopping"
                )
            self.notes.append(
                f"{reason} ({answer.summary()}); listing {listing.label} again from its beginning"
            )
            listing.restart()
            return self._submit(listing, None)
        raise ListingError(f"{answer.where}: the repository answered {answer.summary()}")

    def _next_token(self, listing: _Listing, answer: _Answer) -> str | None:
        """The token of the next page (None: the listing is complete); ``ListingError`` for a listing that
        would loop. Notes on what the page said of the listing's size."""
        if answer.complete_size is not None:
            if listing.matched is not None and answer.complete_size != listing.matched:
                self.unsettled = (
                    f"completeListSize changed from {listing.matched} to {answer.complete_size} during the "
                    "listing"
                )
                self.notes.append(self.unsettled)
            listing.matched = answer.complete_size
        before = listing.received - len(answer.records)
        if answer.cursor is not None and answer.cursor != before and not listing.cursor_noted:
            listing.cursor_noted = True
            self.notes.append(
                f"resumptionToken cursor={answer.cursor} although {before} records came before this page"
            )
        token = answer.token
        if token == _PYCSW_END and listing.matched is not None and listing.received >= listing.matched:
            self._note_once(
                "pycsw-end",
                f"the last page holds resumptionToken {_PYCSW_END!r} (pycsw's end of a listing; a request "
                "for it lists from the beginning again): taken as the end",
            )
            token = None
        if token is None:
            if listing.matched is None:
                listing.matched = listing.received
            elif listing.received != listing.matched:
                self.notes.append(
                    f"the listing ended after {listing.received} of {listing.matched} records "
                    "(completeListSize)"
                )
            return None
        sent = answer.request.token if answer.request else None
        if token == sent:
            raise ListingError(
                f"{answer.where}: the resumptionToken {_short(token)} repeats the one just sent; stopping "
                f"instead of looping (received {listing.received} records)"
            )
        if token in listing.tokens:
            raise ListingError(
                f"{answer.where}: the resumptionToken {_short(token)} was already used in this listing; "
                f"stopping instead of looping (received {listing.received} records)"
            )
        page, most = len(answer.records), self.source.max_records
        reason = overrun(
            listing.received, listing.matched, page, most, what="records", total="completeListSize"
        )
        if reason is not None:  # new tokens and new records, past the total or past max_records
            raise Overrun(f"{answer.where}: {reason}")
        listing.tokens.add(token)
        return token

    def _page(
        self, listing: _Listing, answer: _Answer, next_token: str | None, *, failed: bool = False
    ) -> Page:
        matched = None if listing.matched is None else self.matched_before + listing.matched
        checkpoint = None
        if not failed:
            checkpoint = {
                "prefix": self.prefix,
                "set": listing.spec,
                "from": listing.from_,
                "token": next_token,
                "page": listing.page,
                "cursor": listing.received,
            }
        notes, self.notes = self.notes, []
        unsettled, self.unsettled = self.unsettled, None
        log.debug("%s: %d records of %s", answer.where, len(answer.records), matched)
        return Page(
            records=answer.records,
            matched=matched,
            position=f"{listing.label} page {listing.page}",
            received_bytes=answer.size,
            notes=notes,
            checkpoint=checkpoint,
            unsettled=unsettled,
        )

    def _note_once(self, kind: str, note: str) -> None:
        if kind not in self.noted:
            self.noted.add(kind)
            self.notes.append(note)


def _parse(response: Response, verb: str, what: str) -> _Answer:
    """Parse an OAI-PMH response once (no entity expansion, no network access)."""
    where = f"{response.where} {what}"
    http_error = ListingError(f"{where}: HTTP {response.status} {response.reason}{response.snippet()}")
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    salvaged = None
    try:
        root = etree.fromstring(response.content, parser)
    except etree.XMLSyntaxError as exc:
        if response.status >= 400:
            raise http_error from None
        if verb == "ListRecords":  # records with bytes not in the page's encoding: only they are rejected
            salvaged = salvage(
                response.content,
                etree.XMLParser(resolve_entities=False, no_network=True),
                lambda page: page.iterfind("oai:ListRecords/oai:record", _NS),
            )
        if salvaged is None:
            raise ListingError(f"{where}: the response is not XML ({exc}){response.snippet()}") from None
        root = salvaged.root
    if root.tag != f"{{{OAI_NS}}}OAI-PMH":
        if response.status >= 400:
            raise http_error
        raise ListingError(f"{where}: expected an OAI-PMH response, got <{root.tag}>")
    # An error status with an OAI error inside is read as the OAI error, which says more.
    errors = [
        (error.get("code", "?"), " ".join((error.text or "").split()))
        for error in root.iterfind("oai:error", _NS)
    ]
    body = root.find(f"oai:{verb}", _NS)
    if not errors and response.status >= 400:
        raise http_error
    if not errors and body is None:
        raise ListingError(f"{where}: the response has neither <{verb}> nor <error>")
    date = root.findtext("oai:responseDate", namespaces=_NS)
    answer = _Answer(where, len(response.content), date.strip() if date else None, errors, body)
    answer.salvaged = salvaged
    return answer


def _read_records(answer: _Answer, source: Source, position: str, granularity: str | None) -> None:
    """The page's records, each copied into its own document, and its resumptionToken."""
    assert answer.body is not None
    token = answer.body.find("oai:resumptionToken", _NS)
    if token is not None:
        answer.token = (token.text or "").strip() or None
        answer.complete_size = _number(token.get("completeListSize"))
        answer.cursor = _number(token.get("cursor"))
    form = _GRANULARITY_FORMS.get(granularity or "")
    salvaged = answer.salvaged
    for index, record in enumerate(answer.body.iterfind("oai:record", _NS), start=1):
        if salvaged is not None and record in salvaged.broken:
            answer.records.append(_unreadable(record, salvaged, source, f"{position} #{index}"))
            continue
        header = record.find("oai:header", _NS)
        identifier = datestamp = None
        deleted = False
        if header is not None:
            identifier = _child_text(header, "identifier")
            datestamp = _child_text(header, "datestamp")
            if datestamp is None and (datestamp := _child_text(header, "dateStamp")) is not None:
                answer.quirks["dateStamp"] = (
                    "record headers hold <dateStamp> instead of <datestamp> (pycsw); read as the datestamp"
                )
            deleted = header.get("status") == "deleted"
        locator = f"{position} #{index}" + (f" {identifier}" if identifier else "")
        if datestamp and form and not form.match(datestamp) and "granularity" not in answer.quirks:
            answer.quirks["granularity"] = (
                f"header datestamps such as {datestamp!r} are not in the repository's granularity "
                f"{granularity}: its from filtering may not follow them"
            )
        if deleted:
            if identifier is None:
                answer.notes.append(f"{locator}: a deleted record without identifier; skipped")
                continue
            answer.records.append(
                RawRecord(source.id, source.format, b"", identifier, datestamp, True, locator)
            )
            continue
        element = _metadata(record, locator, answer.notes)
        answer.records.append(
            RawRecord(
                source_id=source.id,
                format=source.format,
                content=b"" if element is None else etree.tostring(element, encoding="UTF-8"),
                native_id=identifier,
                datestamp=datestamp,
                locator=locator,
                element=element,
            )
        )


def _unreadable(record: etree._Element, salvaged: Salvaged, source: Source, locator: str) -> RawRecord:
    """A record holding bytes not in the response's encoding, rejected: with its header's identifier
    when that is readable, so that the run keeps its indexed version."""
    header = record.find("oai:header", _NS)
    identifier = salvaged.readable(_child_text(header, "identifier")) if header is not None else None
    datestamp = salvaged.readable(_child_text(header, "datestamp")) if header is not None else None
    return RawRecord(
        source_id=source.id,
        format=source.format,
        content=b"",
        native_id=identifier,
        datestamp=datestamp,
        locator=f"{locator} {identifier}" if identifier else locator,
        rejected=(ENCODING_ERROR, salvaged.broken[record]),
    )


def _metadata(record: etree._Element, locator: str, notes: list[str]) -> etree._Element | None:
    """The record's metadata element in a document of its own: its bytes declare the namespaces it uses,
    not the envelope's. None when there is none (the crosswalk rejects the empty record)."""
    metadata = record.find("oai:metadata", _NS)
    children = [] if metadata is None else [child for child in metadata if isinstance(child.tag, str)]
    if not children:
        return None
    if len(children) > 1:
        notes.append(f"{locator}: <metadata> holds {len(children)} elements; the first one is harvested")
    element = deepcopy(children[0])
    element.tail = None
    return element


def _child_text(parent: etree._Element, name: str) -> str | None:
    text = parent.findtext(f"oai:{name}", namespaces=_NS)
    return (text.strip() or None) if text else None


def _token(body: etree._Element) -> str | None:
    token = body.findtext("oai:resumptionToken", namespaces=_NS)
    return (token.strip() or None) if token else None


def _number(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _moment(text: str) -> datetime | None:
    """An RFC 3339 / OAI datestamp as an aware UTC datetime (a date alone is its midnight UTC).

    GeoNetwork 4 writes its dates with two Zs ("2025-06-04T06:12:54.543994ZZ"): read as one."""
    try:
        moment = datetime.fromisoformat(re.sub(r"Z+$", "Z", text.strip()))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _utc_text(text: str | None) -> str | None:
    """A date as ``YYYY-MM-DDThh:mm:ssZ`` (fractions cut: as a watermark, earlier is safe), or None."""
    moment = _moment(text or "")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None


def _named(values: list[str]) -> str:
    if not values:
        return "none"
    shown = ", ".join(values[:_MAX_NAMED])
    return shown + (f" ... ({len(values)} in all)" if len(values) > _MAX_NAMED else "")


def _short(token: str) -> str:
    return repr(token if len(token) <= _MAX_TOKEN else token[:_MAX_TOKEN] + "...")
