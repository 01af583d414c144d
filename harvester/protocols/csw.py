"""The ``csw`` protocol: a whole OGC CSW 2.0.2 catalogue, page by page, through ``GetRecords``.

Why it works the way it does:

- One POST ``GetRecords`` per page (``resultType=results``, ``ElementSetName=full``, the source's page
  size) and never a ``GetRecordById`` per record, the N+1 pattern that makes GeoNetwork's own CSW
  harvester slow.
- Paging follows the server's ``nextRecord``, not our own arithmetic: servers cap the page size (pycsw's
  ``maxrecords``) or leave out records they cannot render in the asked schema (GeoNetwork), and a client
  that counts for itself re-reads or skips records. Such anomalies are reported in ``Page.notes``. A
  listing that cannot go on (``nextRecord`` not advancing, an empty page before the end) raises
  ``ListingError`` after the last good page, so the harvest knows not to delete on its strength; so
  does a listing that runs past numberOfRecordsMatched by half (``bounds``).
- A record holding bytes that are not in the response's encoding is rejected alone (``salvage``): the
  rest of its page and of the listing is harvested.
- Records are sorted by identifier when the server accepts it, so that inserts during a harvest do not
  shift the pages; a server that refuses the ``SortBy`` is paged unsorted (noted on the first page).
- Downloads run in a background thread, one request in flight. The next page is requested as soon as the
  start tag of this page's ``csw:SearchResults`` is parsed (it holds ``nextRecord``), so its download
  overlaps the parsing of this page and the caller's work on it: a harvest takes about as long as the
  download of its pages. Each response is parsed once; every record becomes its own small document
  (``RawRecord.element``), so the crosswalk neither parses it again nor sees the CSW envelope.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from copy import deepcopy
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lxml import etree

from catalogue.urls import public_url
from harvester.http import HttpClient
from harvester.protocols import ListingError, Page, Protocol
from harvester.protocols.bounds import Overrun, overrun
from harvester.protocols.salvage import ENCODING_ERROR, Salvaged, salvage
from harvester.raw import RawRecord

if TYPE_CHECKING:
    from harvester.source import Source

log = logging.getLogger(__name__)

CSW_NS = "http://www.opengis.net/cat/csw/2.0.2"
CSW30_NS = "http://www.opengis.net/cat/csw/3.0"
GMD_NS = "http://www.isotc211.org/2005/gmd"
MDB_NS = "http://standards.iso.org/iso/19115/-3/mdb/2.0"
# CSW 2.0.2 servers answer with OWS 1.0 exceptions; some use OWS 1.1 (or 2.0, the CSW 3 one).
OWS_NAMESPACES = (
    "http://www.opengis.net/ows",
    "http://www.opengis.net/ows/1.1",
    "http://www.opengis.net/ows/2.0",
)
_NS = {"gmd": GMD_NS, "dc": "http://purl.org/dc/elements/1.1/", "mdb": MDB_NS}
_MCC = "http://standards.iso.org/iso/19115/-3/mcc/1.0"
VERSIONS = ("2.0.2", "3.0.0")


@dataclass(frozen=True, slots=True)
class _Dialect:
    """What differs between CSW 2.0.2 and 3.0.0 requests and responses."""

    version: str
    namespace: str
    filter_ns: str  # OGC Filter 1.1 (CSW 2.0.2) or FES 2.0 (CSW 3.0)
    property_tag: str  # PropertyName or ValueReference
    filter_version: str

    @property
    def search_results(self) -> str:
        return f"{{{self.namespace}}}SearchResults"

    @property
    def response(self) -> str:
        return f"{{{self.namespace}}}GetRecordsResponse"


_DIALECTS = {
    "2.0.2": _Dialect("2.0.2", CSW_NS, "http://www.opengis.net/ogc", "PropertyName", "1.1.0"),
    "3.0.0": _Dialect("3.0.0", CSW30_NS, "http://www.opengis.net/fes/2.0", "ValueReference", "2.0.0"),
}


@dataclass(frozen=True, slots=True)
class _Output:
    """The GetRecords outputSchema and typeNames for a record format, and its modification queryable."""

    schema: str  # "" = the CSW namespace of the dialect (Dublin Core csw:Record)
    type_names: str
    modified: str  # the queryable holding the metadata's modification date


# Source format -> what to ask for. gmd:MD_Metadata is what GeoNetwork's harvester sends with the ISO
# schema; pycsw accepts it and csw:Record alike. apiso:Modified is the ISO application profile's name
# for the metadata date stamp (GeoNetwork and pycsw both know it); dct:modified is the core one.
OUTPUTS = {
    "iso19139": _Output(GMD_NS, "gmd:MD_Metadata", "apiso:Modified"),
    "iso19115-3": _Output(MDB_NS, "mdb:MD_Metadata", "apiso:Modified"),
    "dc": _Output("", "csw:Record", "dct:modified"),
}
_DUBLIN_CORE = "dc"
_CHUNK = 256 * 1024  # bytes fed to the parser at a time; SearchResults comes within the first one


class CSW(Protocol):
    name = "csw"

    def pages(self) -> Iterator[Page]:
        version = self.source.version or "2.0.2"
        if version not in _DIALECTS:
            raise ListingError(
                f"CSW source {self.source.id}: version {version!r} is not supported ({', '.join(VERSIONS)})"
            )
        if self.source.format not in OUTPUTS:
            raise ListingError(
                f"CSW source {self.source.id}: format {self.source.format!r} has no CSW outputSchema "
                f"(supported: {', '.join(sorted(OUTPUTS))})"
            )
        request = _Request.initial(self.source.format, self.since, self.resume)
        with _Fetcher(self.source, _DIALECTS[version]) as fetcher:
            listing = _Listing(self.source, fetcher, request)
            yield from listing.pages()
        self.filtered = request.constrained is not None


@dataclass(slots=True)
class _Request:
    """What every GetRecords of one listing asks: the same for all its pages, and for a resumed listing.

    The first request may be refused by a server (an ExceptionReport): it is then relaxed one step at a
    time, each step noted: no SortBy, then no modification-date constraint (a full listing), then Dublin
    Core ``csw:Record`` instead of an outputSchema the server does not offer."""

    format: str
    sort: bool = True
    constrained: str | None = None  # list only records modified at or after this time
    start: int = 1

    @classmethod
    def initial(cls, format_: str, since: str | None, resume: dict | None) -> _Request:
        if resume:
            return cls(
                format=resume.get("format", format_),
                sort=bool(resume.get("sort", True)),
                constrained=resume.get("since"),
                start=int(resume.get("start", 1)),
            )
        return cls(format=format_, constrained=since)

    def checkpoint(self, next_start: int) -> dict:
        return {"start": next_start, "format": self.format, "sort": self.sort, "since": self.constrained}

    def relax(self, summary: str) -> str | None:
        """Give up what the server refused, as far as its exception text tells; the note to report, or
        ``None`` when there is nothing left to give up. An exception that names nothing we can recognise
        gives up the sort, then the constraint: the output schema only goes when it is named."""
        text = summary.lower()
        schema = "outputschema" in text or "typename" in text
        sort = "sort" in text
        constraint = any(word in text for word in ("constraint", "filter", "modified", "propertyname"))
        unknown = not (schema or sort or constraint)
        if self.sort and (sort or unknown):
            self.sort = False
            return f"the server refused SortBy dc:identifier ({summary}); paging without sort"
        if self.constrained and (constraint or unknown):
            self.constrained = None
            return f"the server refused the modification-date constraint ({summary}); listing every record"
        if schema and self.format != _DUBLIN_CORE:
            refused, self.format = self.format, _DUBLIN_CORE
            return (
                f"the server refused the {refused} outputSchema ({summary}); harvesting its Dublin Core "
                "csw:Record instead"
            )
        return None


@dataclass(slots=True)
class _Download:
    """A GetRecords answer as received (HTTP errors were already turned into ``ListingError``)."""

    start: int
    where: str  # "CSW http://host/csw startPosition=101", for messages
    content: bytes


@dataclass(slots=True)
class _Step:
    """What reading one page decided: the request for the next page, or why the listing must stop."""

    notes: list[str]
    matched: int | None = None
    returned: int | None = None
    next_start: int | None = None
    next_download: Future[_Download] | None = None
    failure: ListingError | None = None
    unsettled: str | None = None  # ``Page.unsettled``


class _ServerException(ListingError):
    """The server answered with an OGC ExceptionReport (``summary``: code, locator and text)."""

    def __init__(self, where: str, summary: str):
        super().__init__(f"{where}: the server answered with an exception: {summary}")
        self.summary = summary


class _Listing:
    """One walk through a catalogue: follow nextRecord, stop at 0 or past matched, refuse to loop."""

    def __init__(self, source: Source, fetcher: _Fetcher, request: _Request):
        self.source = source
        self.fetcher = fetcher
        self.request = request
        self.pages_read = 0
        self.received = 0
        self.matched: int | None = None
        self.cap_reported = False

    def pages(self) -> Iterator[Page]:
        download: Future[_Download] | None = self.fetcher.submit(self.request.start, self.request)
        notes: list[str] = []
        while download is not None:
            try:
                step, page = self._read(download.result(), notes)
            except _ServerException as exc:
                note = None if self.pages_read else self.request.relax(exc.summary)
                if note is None:  # only the first request can have been refused for what it asked
                    raise
                notes.append(note)
                download = self.fetcher.submit(self.request.start, self.request)
                continue
            self.pages_read += 1
            yield page
            if step.failure is not None:
                raise step.failure
            download, notes = step.next_download, []

    def _read(self, download: _Download, notes: list[str]) -> tuple[_Step, Page]:
        """Parse one response; the next request leaves as soon as its SearchResults start tag is read."""
        step = _Step(notes)
        dialect = self.fetcher.dialect
        root, salvaged = _parse(
            download, dialect, lambda results: self._request_next(download, results, step)
        )
        results = _search_results(root, dialect, download.where)
        if step.matched is None:  # SearchResults elsewhere than the parser expected; decide now
            self._request_next(download, results, step)
        records = _split(results, download.start, self.source, self.request.format, salvaged)
        if salvaged is not None and any(r.rejected and not r.native_id for r in records):
            step.unsettled = (
                "a record whose identifier holds bytes that are not in the response's encoding cannot be "
                "matched with its indexed version"
            )
            step.notes.append(step.unsettled)
        self._review(download, len(records), step)
        log.debug("%s: %d records of %s", download.where, len(records), step.matched)
        page = Page(
            records=records,
            matched=step.matched,
            position=f"startPosition={download.start}",
            received_bytes=len(download.content),
            notes=step.notes,
            checkpoint=self.request.checkpoint(step.next_start or download.start + len(records)),
            unsettled=step.unsettled,
        )
        return step, page

    def _request_next(self, download: _Download, results: etree._Element, step: _Step) -> None:
        """Read the paging attributes and send the request for the next page, if there is one."""
        step.matched = _count(results, "numberOfRecordsMatched", download.where, required=True)
        step.returned = _count(results, "numberOfRecordsReturned", download.where)
        next_record = _count(results, "nextRecord", download.where)
        try:
            step.next_start = self._next_start(download, step, next_record)
        except ListingError as exc:
            step.failure = exc
            return
        if step.next_start is not None:
            step.next_download = self.fetcher.submit(step.next_start, self.request)

    def _next_start(self, download: _Download, step: _Step, next_record: int | None) -> int | None:
        start, matched, returned = download.start, step.matched or 0, step.returned
        if next_record is None:
            if returned is None:
                raise ListingError(
                    f"{download.where}: SearchResults has neither nextRecord nor numberOfRecordsReturned"
                )
            next_record = start + returned
            step.notes.append(f"no nextRecord in the response; continuing at startPosition={next_record}")
        if next_record == 0 or next_record > matched:
            return None
        if next_record <= start:
            raise ListingError(
                f"{download.where}: nextRecord={next_record} does not advance (numberOfRecordsMatched="
                f"{matched}); stopping instead of looping"
            )
        if returned == 0:
            raise ListingError(
                f"{download.where}: no records although numberOfRecordsMatched={matched} and "
                f"nextRecord={next_record} (received {self.received} of {matched})"
            )
        return next_record

    def _review(self, download: _Download, count: int, step: _Step) -> None:
        """Notes on what the page really held; an empty page before the end stops the listing."""
        self.received += count
        matched = step.matched or 0
        if step.returned is not None and step.returned != count:
            step.notes.append(f"numberOfRecordsReturned={step.returned} but the page holds {count} records")
        if self.matched is not None and matched != self.matched:
            step.unsettled = (
                f"numberOfRecordsMatched changed from {self.matched} to {matched} during the listing"
            )
            step.notes.append(step.unsettled)
        self.matched = matched
        if step.failure is not None:
            return
        if step.next_start is None:
            if self.received < matched:
                step.notes.append(f"the listing ended after {self.received} of {matched} matched records")
            return
        if count == 0:  # numberOfRecordsReturned said otherwise; the request already sent is abandoned
            step.failure = ListingError(
                f"{download.where}: no records although numberOfRecordsMatched={matched} and "
                f"nextRecord={step.next_start} (received {self.received} of {matched})"
            )
            return
        page = max(count, self.source.page_size)
        total = "numberOfRecordsMatched"
        most = self.source.max_records
        reason = overrun(self.received, matched, page, most, what="records", total=total)
        if reason is not None:  # nextRecord goes on within a total that keeps growing
            step.failure = Overrun(f"{download.where}: {reason}")
            return
        self._note_gap(download.start, count, step.next_start, step.notes)

    def _note_gap(self, start: int, count: int, next_start: int, notes: list[str]) -> None:
        expected = start + count
        if next_start > expected:
            notes.append(f"nextRecord={next_start} skips {next_start - expected} position(s) after this page")
        elif next_start < expected:
            notes.append(
                f"nextRecord={next_start} reads {expected - next_start} record(s) of this page again"
            )
        elif count < self.source.page_size and not self.cap_reported:
            self.cap_reported = True
            notes.append(
                f"the server sends {count} records per page although maxRecords={self.source.page_size} "
                "was asked; following nextRecord"
            )


class _Fetcher:
    """Downloads pages in one background thread, one request in flight at a time.

    Closing it (the ``pages()`` generator closed early, or an error) cancels a request not yet started
    and does not wait for one under way: the worker thread ends when that request does.
    """

    def __init__(self, source: Source, dialect: _Dialect):
        self.source = source
        self.dialect = dialect
        self.url = source.url or ""
        self._client = HttpClient(source, accept="application/xml")
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"csw-{source.id}")

    def __enter__(self) -> _Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    def submit(self, start: int, request: _Request) -> Future[_Download]:
        body = request_body(
            self.dialect.version,
            start,
            self.source.page_size,
            OUTPUTS[request.format],
            sort=request.sort,
            since=request.constrained,
        )
        return self._pool.submit(contextvars.copy_context().run, self._download, start, body)

    def _download(self, start: int, body: bytes) -> _Download:
        """The answer to one GetRecords; ``ListingError`` for network failures and HTTP errors."""
        where = f"CSW {public_url(self.url)} startPosition={start}"
        response = self._client.post(
            self.url, body, "application/xml", accept_errors=True, follow=False, where=where
        )
        if response.status >= 400:
            summary = _exception_summary(response.content)
            if summary is not None:
                raise _ServerException(f"{where}: HTTP {response.status}", summary)
            raise ListingError(f"{where}: HTTP {response.status} {response.reason}{response.snippet()}")
        return _Download(start, where, response.content)


def request_body(
    version: str, start: int, max_records: int, output: _Output, *, sort: bool, since: str | None = None
) -> bytes:
    """The GetRecords POST body for one page (public: the benchmark downloads the very same pages)."""
    dialect = _DIALECTS[version]
    csw, fes, prop = dialect.namespace, dialect.filter_ns, dialect.property_tag
    schema = output.schema or csw
    result_type = ' resultType="results"' if version == "2.0.2" else ""  # CSW 3.0 dropped it: always results
    sort_by = (
        f"<fes:SortBy><fes:SortProperty><fes:{prop}>dc:identifier</fes:{prop}>"
        "<fes:SortOrder>ASC</fes:SortOrder></fes:SortProperty></fes:SortBy>"
        if sort
        else ""
    )
    constraint = (
        f'<csw:Constraint version="{dialect.filter_version}"><fes:Filter>'
        f"<fes:PropertyIsGreaterThanOrEqualTo><fes:{prop}>{output.modified}</fes:{prop}>"
        f"<fes:Literal>{since}</fes:Literal></fes:PropertyIsGreaterThanOrEqualTo></fes:Filter></csw:Constraint>"
        if since
        else ""
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<csw:GetRecords xmlns:csw="{csw}" xmlns:fes="{fes}" xmlns:gmd="{GMD_NS}" xmlns:mdb="{MDB_NS}" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dct="http://purl.org/dc/terms/" '
        'xmlns:apiso="http://www.opengis.net/cat/csw/apiso/1.0" '
        f'service="CSW" version="{version}"{result_type} startPosition="{start}" '
        f'maxRecords="{max_records}" outputSchema="{schema}">'
        f'<csw:Query typeNames="{output.type_names}"><csw:ElementSetName>full</csw:ElementSetName>'
        f"{constraint}{sort_by}</csw:Query></csw:GetRecords>"
    ).encode()


def _safe_parser() -> etree.XMLParser:
    """No entity expansion, no network access; libxml2's limits on a text node's size and on depth kept, as
    the crosswalks keep them for a record (``harvester.formats.common``): a record a reindex would
    refuse is not indexed by a harvest either. A page may still be as large as the response limit."""
    return etree.XMLParser(resolve_entities=False, no_network=True)


def _parse(
    download: _Download, dialect: _Dialect, on_results: Callable[[etree._Element], None]
) -> tuple[etree._Element, Salvaged | None]:
    """Parse the response once, in chunks, handing csw:SearchResults to ``on_results`` as soon as its
    start tag (with the paging attributes) is read. No entity expansion, no network access.

    A response holding bytes that are not in its encoding is parsed again with them replaced
    (``salvage``): the records holding them are rejected, the others harvested; the envelope broken
    too, the listing fails."""
    parser = etree.XMLPullParser(
        events=("start",), tag=dialect.search_results, resolve_entities=False, no_network=True
    )
    content = download.content
    try:
        for offset in range(0, max(len(content), 1), _CHUNK):
            parser.feed(content[offset : offset + _CHUNK])
            for _event, results in parser.read_events():
                on_results(results)
        return parser.close(), None
    except etree.XMLSyntaxError as exc:
        salvaged = salvage(content, _safe_parser(), lambda root: _record_elements(root, dialect))
        if salvaged is not None:
            return salvaged.root, salvaged
        start = content[:80].decode("utf-8", "replace").strip()
        raise ListingError(
            f"{download.where}: the response is not XML ({exc}); it starts with {start!r}"
        ) from None


def _search_results(root: etree._Element, dialect: _Dialect, where: str) -> etree._Element:
    summary = _report_summary(root)
    if summary is not None:
        raise _ServerException(where, summary)
    results = root.find(dialect.search_results)
    if root.tag != dialect.response or results is None:
        raise ListingError(
            f"{where}: expected a CSW {dialect.version} GetRecordsResponse with SearchResults,"
            f" got <{root.tag}>"
        )
    return results


def _exception_summary(content: bytes) -> str | None:
    """The summary of ``content`` if it is an OGC ExceptionReport (the body of an HTTP error)."""
    try:
        return _report_summary(etree.fromstring(content, _safe_parser()))
    except etree.XMLSyntaxError:
        return None


def _report_summary(root: etree._Element) -> str | None:
    """'code at locator: text' for every ows:Exception, if ``root`` is an ExceptionReport."""
    qname = etree.QName(root)
    if qname.localname != "ExceptionReport" or qname.namespace not in OWS_NAMESPACES:
        return None
    parts = []
    for exception in root:
        if not isinstance(exception.tag, str):
            continue
        code = exception.get("exceptionCode", "?")
        locator = exception.get("locator")
        texts = " ".join(
            " ".join(text.text.split())
            for text in exception
            if isinstance(text.tag, str) and etree.QName(text).localname == "ExceptionText" and text.text
        )
        parts.append(code + (f" at {locator}" if locator else "") + (f": {texts}" if texts else ""))
    return "; ".join(parts) or "an empty ExceptionReport"


def _count(results: etree._Element, attribute: str, where: str, *, required: bool = False) -> int | None:
    value = results.get(attribute)
    if value is None and not required:
        return None
    try:
        return int(value or "")
    except ValueError:
        raise ListingError(f"{where}: SearchResults @{attribute}={value!r} is not a number") from None


def _record_elements(root: etree._Element, dialect: _Dialect) -> list[etree._Element]:
    results = root.find(dialect.search_results)
    return [] if results is None else [child for child in results if isinstance(child.tag, str)]


def _split(
    results: etree._Element, start: int, source: Source, format_: str, salvaged: Salvaged | None = None
) -> list[RawRecord]:
    """One RawRecord per record element, copied into its own document: absolute XPaths work on it, and
    its bytes declare only the namespaces it uses, not the envelope's, so its digest does not change
    when the server's envelope does. A record of a ``salvaged`` page holding bad bytes is rejected with
    its identifier, when that is readable (the run then keeps its indexed version)."""
    records = []
    elements = (child for child in results if isinstance(child.tag, str))
    for index, child in enumerate(elements, start=1):
        locator = f"startPosition={start} #{index}"
        if salvaged is not None and child in salvaged.broken:
            native_id = salvaged.readable(_native_id(child))
            rejected = (ENCODING_ERROR, salvaged.broken[child])
            records.append(RawRecord(source.id, format_, b"", native_id, locator=locator, rejected=rejected))
            continue
        element = deepcopy(child)
        element.tail = None
        records.append(
            RawRecord(
                source_id=source.id,
                format=format_,
                content=etree.tostring(element, encoding="UTF-8"),
                native_id=_native_id(element),
                locator=locator,
                element=element,
            )
        )
    return records


def _native_id(element: etree._Element) -> str | None:
    """The ISO fileIdentifier / metadataIdentifier or the csw:Record dc:identifier, when there is one."""
    text = (
        element.findtext("gmd:fileIdentifier/*", namespaces=_NS)
        or element.findtext(f"mdb:metadataIdentifier/*/{{{_MCC}}}code/*", namespaces=_NS)
        or element.findtext("dc:identifier", namespaces=_NS)
    )
    return (text.strip() or None) if text else None
