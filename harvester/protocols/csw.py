"""The ``csw`` protocol: a whole OGC CSW 2.0.2 catalogue, page by page, through ``GetRecords``.

Why it works the way it does:

- One POST ``GetRecords`` per page (``resultType=results``, ``ElementSetName=full``, the source's page
  size) and never a ``GetRecordById`` per record, the N+1 pattern that makes GeoNetwork's own CSW
  harvester slow.
- Paging follows the server's ``nextRecord``, not our own arithmetic: servers cap the page size (pycsw's
  ``maxrecords``) or leave out records they cannot render in the asked schema (GeoNetwork), and a client
  that counts for itself re-reads or skips records. Such anomalies are reported in ``Page.notes``. A
  listing that cannot go on (``nextRecord`` not advancing, an empty page before the end) raises
  ``ListingError`` after the last good page, so the harvest knows not to delete on its strength.
- Records are sorted by identifier when the server accepts it, so that inserts during a harvest do not
  shift the pages; a server that refuses the ``SortBy`` is paged unsorted (noted on the first page).
- Downloads run in a background thread, one request in flight. The next page is requested as soon as the
  start tag of this page's ``csw:SearchResults`` is parsed (it holds ``nextRecord``), so its download
  overlaps the parsing of this page and the caller's work on it: a harvest takes about as long as the
  download of its pages. Each response is parsed once; every record becomes its own small document
  (``RawRecord.element``), so the crosswalk neither parses it again nor sees the CSW envelope.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from copy import deepcopy
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import requests
from lxml import etree
from requests.adapters import HTTPAdapter
from urllib3 import BaseHTTPResponse
from urllib3 import exceptions as urllib3_exceptions
from urllib3.util import Retry

from catalogue.urls import public_url
from harvester.protocols import ListingError, Page, Protocol
from harvester.raw import RawRecord

if TYPE_CHECKING:
    from harvester.source import Source

log = logging.getLogger(__name__)


class _HideQueryStrings(logging.Filter):
    """urllib3 logs the request target, query string included, when it retries: a token in a source's
    URL must not reach the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                arg.partition("?")[0] + "?..." if isinstance(arg, str) and "?" in arg else arg
                for arg in record.args
            )
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_HideQueryStrings())

CSW_NS = "http://www.opengis.net/cat/csw/2.0.2"
GMD_NS = "http://www.isotc211.org/2005/gmd"
# CSW 2.0.2 servers answer with OWS 1.0 exceptions; some use OWS 1.1 (or 2.0, the CSW 3 one).
OWS_NAMESPACES = (
    "http://www.opengis.net/ows",
    "http://www.opengis.net/ows/1.1",
    "http://www.opengis.net/ows/2.0",
)
_NS = {"csw": CSW_NS, "gmd": GMD_NS, "dc": "http://purl.org/dc/elements/1.1/"}
_SEARCH_RESULTS = f"{{{CSW_NS}}}SearchResults"

# Source format -> (outputSchema, typeNames) of the GetRecords request. gmd:MD_Metadata is what
# GeoNetwork's harvester sends with the ISO schema; pycsw accepts it and csw:Record alike. A Dublin Core
# source would be (CSW_NS, "csw:Record") once a "dc" crosswalk exists.
_OUTPUT = {"iso19139": (GMD_NS, "gmd:MD_Metadata")}
# dc:identifier is a core queryable in every CSW; pycsw sorts on its identifier column, GeoNetwork maps
# it (namespace stripped, lower-cased) to the metadata identifier.
_SORT_BY = (
    "<ogc:SortBy><ogc:SortProperty><ogc:PropertyName>dc:identifier</ogc:PropertyName>"
    "<ogc:SortOrder>ASC</ogc:SortOrder></ogc:SortProperty></ogc:SortBy>"
)
_USER_AGENT = "terracat/0.1"
_RETRY_STATUSES = (429, 500, 502, 503, 504)
_MAX_RETRY_AFTER = 30.0  # seconds: a server's Retry-After is obeyed up to this, so it cannot stall a run
_CHUNK = 256 * 1024  # bytes fed to the parser at a time; SearchResults comes within the first one


class CSW(Protocol):
    name = "csw"

    def pages(self) -> Iterator[Page]:
        output = _OUTPUT.get(self.source.format)
        if output is None:
            raise ListingError(
                f"CSW source {self.source.id}: format {self.source.format!r} has no CSW outputSchema "
                f"(supported: {', '.join(sorted(_OUTPUT))})"
            )
        if urlsplit(self.source.url or "").scheme not in ("http", "https"):
            raise ListingError(f"CSW source {self.source.id}: the url must be http(s)")
        with _Fetcher(self.source, *output) as fetcher:
            yield from _Listing(self.source, fetcher).pages()


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


class _ServerException(ListingError):
    """The server answered with an OGC ExceptionReport (``summary``: code, locator and text)."""

    def __init__(self, where: str, summary: str):
        super().__init__(f"{where}: the server answered with an exception: {summary}")
        self.summary = summary


class _Listing:
    """One walk through a catalogue: follow nextRecord, stop at 0 or past matched, refuse to loop."""

    def __init__(self, source: Source, fetcher: _Fetcher):
        self.source = source
        self.fetcher = fetcher
        self.pages_read = 0
        self.received = 0
        self.matched: int | None = None
        self.cap_reported = False

    def pages(self) -> Iterator[Page]:
        download: Future[_Download] | None = self.fetcher.submit(1)
        notes: list[str] = []
        while download is not None:
            try:
                step, page = self._read(download.result(), notes)
            except _ServerException as exc:
                if self.pages_read or not self.fetcher.sort:
                    raise
                self.fetcher.sort = False  # only the first request may have failed for its SortBy
                notes = [f"the server refused SortBy dc:identifier ({exc.summary}); paging without sort"]
                download = self.fetcher.submit(1)
                continue
            self.pages_read += 1
            yield page
            if step.failure is not None:
                raise step.failure
            download, notes = step.next_download, []

    def _read(self, download: _Download, notes: list[str]) -> tuple[_Step, Page]:
        """Parse one response; the next request leaves as soon as its SearchResults start tag is read."""
        step = _Step(notes)
        root = _parse(download, lambda results: self._request_next(download, results, step))
        results = _search_results(root, download.where)
        if step.matched is None:  # SearchResults elsewhere than the parser expected; decide now
            self._request_next(download, results, step)
        records = _split(results, download.start, self.source)
        self._review(download, len(records), step)
        log.debug("%s: %d records of %s", download.where, len(records), step.matched)
        page = Page(
            records=records,
            matched=step.matched,
            position=f"startPosition={download.start}",
            received_bytes=len(download.content),
            notes=step.notes,
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
            step.next_download = self.fetcher.submit(step.next_start)

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
            step.notes.append(
                f"numberOfRecordsMatched changed from {self.matched} to {matched} during the listing"
            )
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

    def __init__(self, source: Source, output_schema: str, type_names: str):
        self.source = source
        self.output_schema = output_schema
        self.type_names = type_names
        self.sort = True
        self.url = source.url or ""
        self.safe_url = public_url(self.url)
        self._session = _session(source)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"csw-{source.id}")

    def __enter__(self) -> _Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._session.close()

    def submit(self, start: int) -> Future[_Download]:
        return self._pool.submit(self._download, start, self.sort)

    def _download(self, start: int, sort: bool) -> _Download:
        """The answer to one GetRecords; ``ListingError`` for network failures and HTTP errors."""
        where = f"CSW {self.safe_url} startPosition={start}"
        body = request_body(start, self.source.page_size, self.output_schema, self.type_names, sort=sort)
        try:
            response = self._session.post(
                self.url, data=body, timeout=self.source.timeout, allow_redirects=False
            )
        except requests.RequestException as exc:
            raise _request_failure(exc, where, self.source) from None
        if response.is_redirect:
            target = public_url(response.headers.get("Location", ""))
            raise ListingError(
                f"{where}: HTTP {response.status_code} redirect to {target}; update the source url"
            )
        if response.status_code >= 400:
            summary = _exception_summary(response.content)
            if summary is not None:
                raise _ServerException(f"{where}: HTTP {response.status_code}", summary)
            raise ListingError(f"{where}: HTTP {response.status_code} {response.reason}{_snippet(response)}")
        return _Download(start, where, response.content)


def _session(source: Source) -> requests.Session:
    """A session that retries connection errors, timeouts and 429/5xx with exponential backoff."""
    retry = _Retry(
        total=source.retries,
        backoff_factor=0.5,
        status_forcelist=_RETRY_STATUSES,
        allowed_methods=frozenset({"GET", "POST"}),  # GetRecords is a read, even over POST
        raise_on_status=False,  # hand back the last response: its body may be an ExceptionReport
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry, pool_maxsize=1)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.update(
        {"User-Agent": _USER_AGENT, "Content-Type": "application/xml", "Accept": "application/xml"}
    )
    return session


class _Retry(Retry):
    """Obeys a server's Retry-After only up to ``_MAX_RETRY_AFTER``: one slow source must not stall a run."""

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, _MAX_RETRY_AFTER)


def request_body(start: int, max_records: int, output_schema: str, type_names: str, *, sort: bool) -> bytes:
    """The GetRecords POST body for one page (public: the benchmark downloads the very same pages)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<csw:GetRecords xmlns:csw="{CSW_NS}" xmlns:ogc="http://www.opengis.net/ogc" xmlns:gmd="{GMD_NS}" '
        f'service="CSW" version="2.0.2" resultType="results" startPosition="{start}" '
        f'maxRecords="{max_records}" outputSchema="{output_schema}">'
        f'<csw:Query typeNames="{type_names}"><csw:ElementSetName>full</csw:ElementSetName>'
        f"{_SORT_BY if sort else ''}</csw:Query></csw:GetRecords>"
    ).encode()


def _safe_parser() -> etree.XMLParser:
    """No entity expansion, no network access, large documents allowed."""
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


def _parse(download: _Download, on_results: Callable[[etree._Element], None]) -> etree._Element:
    """Parse the response once, in chunks, handing csw:SearchResults to ``on_results`` as soon as its
    start tag (with the paging attributes) is read. No entity expansion, no network access."""
    parser = etree.XMLPullParser(
        events=("start",), tag=_SEARCH_RESULTS, resolve_entities=False, no_network=True, huge_tree=True
    )
    content = download.content
    try:
        for offset in range(0, max(len(content), 1), _CHUNK):
            parser.feed(content[offset : offset + _CHUNK])
            for _event, results in parser.read_events():
                on_results(results)
        return parser.close()
    except etree.XMLSyntaxError as exc:
        start = content[:80].decode("utf-8", "replace").strip()
        raise ListingError(
            f"{download.where}: the response is not XML ({exc}); it starts with {start!r}"
        ) from None


def _search_results(root: etree._Element, where: str) -> etree._Element:
    summary = _report_summary(root)
    if summary is not None:
        raise _ServerException(where, summary)
    results = root.find("csw:SearchResults", _NS)
    if root.tag != f"{{{CSW_NS}}}GetRecordsResponse" or results is None:
        raise ListingError(f"{where}: expected a csw:GetRecordsResponse with SearchResults, got <{root.tag}>")
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


def _split(results: etree._Element, start: int, source: Source) -> list[RawRecord]:
    """One RawRecord per record element, copied into its own document: absolute XPaths work on it, and
    its bytes declare only the namespaces it uses, not the envelope's, so its digest does not change
    when the server's envelope does."""
    records = []
    elements = (child for child in results if isinstance(child.tag, str))
    for index, child in enumerate(elements, start=1):
        element = deepcopy(child)
        element.tail = None
        records.append(
            RawRecord(
                source_id=source.id,
                format=source.format,
                content=etree.tostring(element, encoding="UTF-8"),
                native_id=_native_id(element),
                locator=f"startPosition={start} #{index}",
                element=element,
            )
        )
    return records


def _native_id(element: etree._Element) -> str | None:
    """The ISO fileIdentifier or the csw:Record dc:identifier, when the record has one."""
    text = element.findtext("gmd:fileIdentifier/*", namespaces=_NS) or element.findtext(
        "dc:identifier", namespaces=_NS
    )
    return (text.strip() or None) if text else None


def _request_failure(exc: requests.RequestException, where: str, source: Source) -> ListingError:
    """A message naming the root cause; requests' own repeats the URL with its query string."""
    cause = exc.args[0] if exc.args and isinstance(exc.args[0], Exception) else None
    if isinstance(cause, urllib3_exceptions.MaxRetryError):  # wraps the error of the last attempt
        cause = cause.reason
    # After retries a timeout arrives as a ConnectionError; a refused connection is no timeout, although
    # urllib3 derives NewConnectionError from ConnectTimeoutError.
    timed_out = isinstance(exc, requests.Timeout) or isinstance(cause, urllib3_exceptions.TimeoutError)
    if timed_out and not isinstance(cause, urllib3_exceptions.NewConnectionError):
        return ListingError(f"{where}: no answer within {source.timeout:g} s ({source.retries} retries)")
    reason = f"{type(cause).__name__}: {cause}" if cause is not None else type(exc).__name__
    return ListingError(f"{where}: request failed: {reason}")


def _snippet(response: requests.Response) -> str:
    text = " ".join(response.content[:200].decode("utf-8", "replace").split())
    return f" ({response.headers.get('Content-Type', 'no Content-Type')}: {text!r})" if text else ""
