"""The CSW 2.0.2 client against a real pycsw, and against real responses played by a faulty server.

The pycsw tests compare the harvest with what the server's own repository holds (pycsw refuses 8 of the
41 corpus files; see ``tests/fixtures/pycsw_server.py``). The fault-injection tests serve real CSW
responses (``tests/data/csw/``) from an ``http.server`` on 127.0.0.1 that answers wrong on purpose.
"""

from __future__ import annotations

import math
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from harvester import http as http_module
from harvester.protocols import ListingError, Page, create
from harvester.protocols.csw import CSW
from harvester.source import Source
from tests.fixtures.fault_server import FaultServer, Received, Reply, xml
from tests.fixtures.pycsw_server import DEMO_ISO19139, PycswServer

CSW_NS = "http://www.opengis.net/cat/csw/2.0.2"
GMD_NS = "http://www.isotc211.org/2005/gmd"
GMI_NS = "http://www.isotc211.org/2005/gmi"
NS = {"csw": CSW_NS, "ogc": "http://www.opengis.net/ogc", "gmd": GMD_NS}
GEONETWORK_IDS = ["da165110-88fd-11da-a88f-000d939bc5d8", "7e926fbf-00fb-4ff5-a99e-c8576027c4e7"]
INSPIRE_IDS = ["8dad9c98-0512-4845-a2bf-3ace1c93df6f", "eeae2de7-0a09-4b69-b7a0-0b6b20903fd5"]
SORT_REFUSED = (
    "InvalidParameterValue at service: Invalid ogc:SortProperty/ogc:PropertyName: 'dc:nosuchproperty'"
)


def source(url: str, **options: object) -> Source:
    settings: dict[str, object] = {"id": "test-csw", "page_size": 10, "timeout": 5.0, "retries": 0}
    settings.update(options)
    return Source(pole="ODATIS", protocol="csw", url=url, **settings)  # type: ignore[arg-type]


def harvest(src: Source) -> tuple[list[Page], ListingError | None]:
    """Every page the client yields, and the ListingError that ended the listing, if any."""
    pages: list[Page] = []
    try:
        for page in CSW(src).pages():
            pages.append(page)
    except ListingError as exc:
        return pages, exc
    return pages, None


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


# --- against the real pycsw -------------------------------------------------------------------------


def test_pycsw_holds_what_it_accepted(pycsw_server: PycswServer) -> None:
    rejected = {path.name: reason for path, reason in pycsw_server.rejected.items()}
    assert len(pycsw_server.files) == 41
    assert pycsw_server.count == len(pycsw_server.identifiers) == len(pycsw_server.loaded) == 33
    assert sorted(rejected) == [
        "b2find__6741bd14-d1a2-588b-b9de-b06e0c59eed0.xml",  # OAI-PMH <record> wrappers
        "b2find__bbox_2ea750c6-4354-5f0a-9b67-2275d922d06f.xml",
        "b2find__d22b897b-7255-52ec-a591-3e82b21d1928.xml",
        "geonetwork__collectiondata4ESA.xml",  # no fileIdentifier
        "geonetwork__iso19139-collection-updater-output.xml",  # GeoNetwork <preview> wrapper
        "owslib__tests_resources_iso_mi.xml",  # same fileIdentifier as owslib__9250AA67-...
        "semic__distributorinfo-multiple__input.xml",  # same fileIdentifier as semic__basic_dataset
        "semic__identifiers-anchor__input.xml",
    ]
    assert "Unsupported metadata format" in rejected["geonetwork__iso19139-collection-updater-output.xml"]
    assert "NOT NULL constraint failed: records.identifier" in rejected["geonetwork__collectiondata4ESA.xml"]
    assert "UNIQUE constraint failed: records.identifier" in rejected["semic__identifiers-anchor__input.xml"]


@pytest.mark.parametrize("page_size", [1, 7, 100])
def test_listing_covers_the_repository_once(pycsw_server: PycswServer, page_size: int) -> None:
    pages = list(create(source(pycsw_server.url, page_size=page_size)).pages())
    records = [record for page in pages for record in page.records]

    assert len(records) == pycsw_server.count == 33
    assert {page.matched for page in pages} == {33}
    # sorted by identifier, each of the repository's records exactly once
    assert [record.native_id for record in records] == sorted(pycsw_server.identifiers)
    assert len(pages) == math.ceil(33 / page_size)
    assert [page.position for page in pages] == [
        f"startPosition={1 + n * page_size}" for n in range(len(pages))
    ]
    assert [page.notes for page in pages] == [[]] * len(pages)
    assert all(page.received_bytes > 1000 for page in pages)
    assert records[1].locator == ("startPosition=2 #1" if page_size == 1 else "startPosition=1 #2")
    assert {(record.source_id, record.format) for record in records} == {("test-csw", "iso19139")}
    roots = Counter(etree.QName(etree.fromstring(record.content)).text for record in records)
    assert roots == {f"{{{GMD_NS}}}MD_Metadata": 31, f"{{{GMI_NS}}}MI_Metadata": 2}


def test_each_record_is_a_standalone_document(pycsw_server: PycswServer) -> None:
    record = next(iter(CSW(source(pycsw_server.url, page_size=3)).pages())).records[0]

    assert record.native_id == "01ef8e6a-df59-4c2d-8468-79da95046705"
    assert record.element.getparent() is None
    assert record.element.getroottree().getroot().tag == f"{{{GMD_NS}}}MD_Metadata"
    assert record.element.xpath("/gmd:MD_Metadata/gmd:fileIdentifier/*/text()", namespaces=NS) == [
        "01ef8e6a-df59-4c2d-8468-79da95046705"
    ]
    assert record.content == etree.tostring(record.element, encoding="UTF-8")
    assert b"csw:" not in record.content


def test_server_capping_the_page_size_is_followed(pycsw_factory: Callable[..., PycswServer]) -> None:
    server = pycsw_factory(sorted(DEMO_ISO19139.glob("*.xml")), maxrecords=5)
    pages = list(CSW(source(server.url, page_size=7)).pages())

    assert [len(page.records) for page in pages] == [5, 5, 5, 5, 5, 5, 3]
    assert [page.position for page in pages] == [f"startPosition={start}" for start in range(1, 32, 5)]
    assert pages[0].notes == [
        "the server sends 5 records per page although maxRecords=7 was asked; following nextRecord"
    ]
    assert [page.notes for page in pages[1:]] == [[]] * 6
    assert [record.native_id for page in pages for record in page.records] == sorted(server.identifiers)


def test_server_without_iso_is_harvested_in_dublin_core(pycsw_factory: Callable[..., PycswServer]) -> None:
    server = pycsw_factory(sorted(DEMO_ISO19139.glob("pycsw__*.xml")), profiles=())

    pages, error = harvest(source(server.url))

    assert error is None
    assert pages[0].notes == [
        "the server refused the iso19139 outputSchema (InvalidParameterValue at outputschema: Invalid "
        f"outputSchema parameter value: {GMD_NS}); harvesting its Dublin Core csw:Record instead"
    ]
    records = [record for page in pages for record in page.records]
    assert {record.format for record in records} == {"dc"}
    assert sorted(record.native_id for record in records) == sorted(server.identifiers)
    assert all(etree.QName(record.element).localname == "Record" for record in records)


def test_unreachable_port_fails_fast_without_leaking_the_query(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:  # a port nobody listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()

    pages, error = harvest(source(f"http://127.0.0.1:{port}/csw?token=s3cret", retries=1, timeout=1.0))

    assert time.monotonic() - started < 5
    assert pages == []
    message = str(error)
    assert message.startswith(
        f"CSW http://127.0.0.1:{port}/csw startPosition=1: request failed: NewConnectionError"
    )
    assert "Connection refused" in message
    assert "s3cret" not in message
    assert "Retrying" in caplog.text  # urllib3 logs the retry, with the query string hidden
    assert "s3cret" not in caplog.text


# --- against a faulty server playing real responses -------------------------------------------------


def test_request_is_a_sorted_iso_getrecords(faulty: FaultServer) -> None:
    pages = list(CSW(source(faulty.url + "?portal=odatis", page_size=25)).pages())

    assert [[record.native_id for record in page.records] for page in pages] == [GEONETWORK_IDS]
    assert (pages[0].matched, pages[0].position, pages[0].received_bytes, pages[0].notes) == (
        2,
        "startPosition=1",
        19067,
        [],
    )
    request = faulty.requests[0]
    assert request.path == "/csw?portal=odatis"
    assert (request.headers["User-Agent"], request.headers["Content-Type"]) == (
        "terracat/0.1",
        "application/xml",
    )
    root = etree.fromstring(request.body)
    assert root.tag == f"{{{CSW_NS}}}GetRecords"
    assert dict(root.attrib) == {
        "service": "CSW",
        "version": "2.0.2",
        "resultType": "results",
        "startPosition": "1",
        "maxRecords": "25",
        "outputSchema": GMD_NS,
    }
    assert root.find("csw:Query", NS).get("typeNames") == "gmd:MD_Metadata"
    assert root.findtext("csw:Query/csw:ElementSetName", namespaces=NS) == "full"
    assert (
        root.findtext("csw:Query/ogc:SortBy/ogc:SortProperty/ogc:PropertyName", namespaces=NS)
        == "dc:identifier"
    )


def test_http_503_is_retried(faulty: FaultServer) -> None:
    faulty.respond = lambda index, request: (
        (503, b"busy", {"Content-Type": "text/plain"}) if index == 0 else xml("geonetwork__getRecords.xml")
    )

    pages, error = harvest(source(faulty.url, retries=2))

    assert error is None
    assert [record.native_id for page in pages for record in page.records] == GEONETWORK_IDS
    assert faulty.starts == [1, 1]


def test_http_503_after_the_last_retry_fails(faulty: FaultServer) -> None:
    faulty.respond = lambda index, request: (503, b"Service Unavailable", {"Content-Type": "text/plain"})

    pages, error = harvest(source(faulty.url, retries=2))

    assert pages == []
    assert str(error) == (
        f"CSW {faulty.url} startPosition=1: HTTP 503 Service Unavailable (text/plain: 'Service Unavailable')"
    )
    assert faulty.starts == [1, 1, 1]


def test_long_retry_after_is_capped(faulty: FaultServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_module, "_MAX_RETRY_AFTER", 0.2)
    faulty.respond = lambda index, request: (
        (503, b"", {"Retry-After": "3600"}) if index == 0 else xml("geonetwork__getRecords.xml")
    )
    started = time.monotonic()

    pages, error = harvest(source(faulty.url, retries=1))

    assert time.monotonic() - started < 3
    assert (error, [len(page.records) for page in pages]) == (None, [2])


def test_html_instead_of_csw_fails(faulty: FaultServer) -> None:
    page = b"<!DOCTYPE html><html><head><title>Maintenance</title></head><body><p>Back soon<br></body></html>"
    faulty.respond = lambda index, request: (200, page, {"Content-Type": "text/html"})

    pages, error = harvest(source(faulty.url))

    assert pages == []
    message = str(error)
    assert message.startswith(f"CSW {faulty.url} startPosition=1: the response is not XML (")
    assert message.endswith(
        "; it starts with '<!DOCTYPE html><html><head><title>Maintenance</title></head><body><p>Back soon<b'"
    )


def test_xhtml_instead_of_csw_fails(faulty: FaultServer) -> None:
    page = b'<html xmlns="http://www.w3.org/1999/xhtml"><body><p>Login required</p></body></html>'
    faulty.respond = lambda index, request: (200, page, {"Content-Type": "text/html"})

    pages, error = harvest(source(faulty.url))

    assert pages == []
    assert str(error) == (
        f"CSW {faulty.url} startPosition=1: expected a CSW 2.0.2 GetRecordsResponse with SearchResults, "
        "got <{http://www.w3.org/1999/xhtml}html>"
    )


def test_next_record_not_advancing_stops_after_the_last_good_page(faulty: FaultServer) -> None:
    faulty.respond = lambda index, request: xml("pycsw__apiso__post_GetRecords-all.xml")

    pages, error = harvest(source(faulty.url, page_size=5))

    assert [len(page.records) for page in pages] == [5, 5]
    assert pages[0].records[0].native_id == "3e9a8c05"
    assert str(error) == (
        f"CSW {faulty.url} startPosition=6: nextRecord=6 does not advance (numberOfRecordsMatched=18); "
        "stopping instead of looping"
    )
    assert faulty.starts == [1, 6]


def test_empty_page_before_the_end_fails(faulty: FaultServer) -> None:
    faulty.respond = lambda index, request: xml("pycsw__default__post_GetRecords-all-resulttype-hits.xml")

    pages, error = harvest(source(faulty.url))

    assert [(len(page.records), page.matched) for page in pages] == [(0, 12)]
    assert str(error) == (
        f"CSW {faulty.url} startPosition=1: no records although numberOfRecordsMatched=12 and nextRecord=6 "
        "(received 0 of 12)"
    )
    assert faulty.starts == [1]


def test_refused_sort_falls_back_to_unsorted_paging(faulty: FaultServer) -> None:
    faulty.respond = lambda index, request: xml(
        "pycsw-2.6.2__GetRecords-invalid-sortby.xml"
        if b"SortBy" in request.body
        else "geonetwork__getRecords.xml"
    )

    pages, error = harvest(source(faulty.url))

    assert error is None
    assert [record.native_id for page in pages for record in page.records] == GEONETWORK_IDS
    assert pages[0].notes == [
        f"the server refused SortBy dc:identifier ({SORT_REFUSED}); paging without sort"
    ]
    assert [b"SortBy" in request.body for request in faulty.requests] == [True, False]


def test_exception_report_with_http_400(faulty: FaultServer) -> None:
    faulty.respond = lambda index, request: xml("pycsw-2.6.2__GetRecords-invalid-sortby.xml", status=400)

    pages, error = harvest(source(faulty.url))

    assert pages == []
    assert str(error) == (
        f"CSW {faulty.url} startPosition=1: HTTP 400: the server answered with an exception: {SORT_REFUSED}"
    )
    assert len(faulty.requests) == 2  # with SortBy, then without; the same refusal again is final


def test_redirect_is_reported_not_followed(faulty: FaultServer) -> None:
    location = "https://catalogue.example.org/geonetwork/srv/eng/csw?token=s3cret"
    faulty.respond = lambda index, request: (301, b"", {"Location": location})

    pages, error = harvest(source(faulty.url))

    assert pages == []
    assert str(error) == (
        f"CSW {faulty.url} startPosition=1: HTTP 301 redirect to "
        "https://catalogue.example.org/geonetwork/srv/eng/csw; update the source url"
    )
    assert len(faulty.requests) == 1


def test_timeout_fails(faulty: FaultServer) -> None:
    def slow(index: int, request: Received) -> Reply:
        time.sleep(2)
        return xml("geonetwork__getRecords.xml")

    faulty.respond = slow
    started = time.monotonic()

    pages, error = harvest(source(faulty.url, timeout=0.3))

    assert time.monotonic() - started < 1.5
    assert pages == []
    assert str(error) == f"CSW {faulty.url} startPosition=1: no answer within 0.3 s (0 retries)"


def test_next_page_is_prefetched_and_early_close_ends_the_worker(faulty: FaultServer) -> None:
    faulty.respond = lambda index, request: xml("owslib__inspire-getrecords-response.xml")
    pages = CSW(source(faulty.url, id="early-close", page_size=2)).pages()

    first = next(pages)

    assert [record.native_id for record in first.records] == INSPIRE_IDS
    assert (first.matched, first.notes) == (216, ["nextRecord=85 skips 82 position(s) after this page"])
    assert wait_until(lambda: faulty.starts == [1, 85])  # asked while the caller still holds page 1
    pages.close()
    assert wait_until(lambda: not [t for t in threading.enumerate() if t.name.startswith("csw-early-close")])


def test_unsupported_format_is_refused() -> None:
    src = source("http://127.0.0.1:9/csw")
    src.format = "datacite"  # a format with a crosswalk but no CSW outputSchema (validation is bypassed)

    pages, error = harvest(src)

    assert pages == []
    assert (
        str(error) == "CSW source test-csw: format 'datacite' has no CSW outputSchema"
        " (supported: dc, iso19115-3, iso19139)"
    )


# --- CSW 3.0, ISO 19115-3 and incremental requests ---------------------------------------------------

CSW30_NS = "http://www.opengis.net/cat/csw/3.0"
MDB_NS = "http://standards.iso.org/iso/19115/-3/mdb/2.0"
ISO19115_3_RESPONSE = (
    Path(__file__).parent / "data" / "iso19115-3" / "pycsw__iso19115p3__post_GetRecords-all.xml"
)


def test_csw_30_lists_the_same_records_as_202(pycsw_server: PycswServer) -> None:
    pages_202, error_202 = harvest(source(pycsw_server.url, page_size=7))
    pages_30, error_30 = harvest(source(pycsw_server.url, page_size=7, version="3.0.0"))

    assert error_202 is None and error_30 is None
    ids_30 = [record.native_id for page in pages_30 for record in page.records]
    assert ids_30 == [record.native_id for page in pages_202 for record in page.records]
    assert ids_30 == sorted(pycsw_server.identifiers)
    assert [page.matched for page in pages_30] == [pycsw_server.count] * len(pages_30)
    assert pages_30[-1].checkpoint == {"start": 34, "format": "iso19139", "sort": True, "since": None}


def test_csw_30_request_and_its_modified_constraint(faulty: FaultServer) -> None:
    faulty.respond = lambda index, request: (500, b"", {})
    pages, _ = harvest_since(source(faulty.url, version="3.0.0"), "2024-05-01T00:00:00Z")

    root = etree.fromstring(faulty.requests[0].body)
    fes = "http://www.opengis.net/fes/2.0"
    assert (root.tag, root.get("version"), root.get("resultType")) == (
        f"{{{CSW30_NS}}}GetRecords",
        "3.0.0",
        None,
    )
    condition = root.find(f"{{{CSW30_NS}}}Query/{{{CSW30_NS}}}Constraint/{{{fes}}}Filter/*")
    assert condition.tag == f"{{{fes}}}PropertyIsGreaterThanOrEqualTo"
    assert [child.text for child in condition] == ["apiso:Modified", "2024-05-01T00:00:00Z"]
    assert (
        root.find(f".//{{{fes}}}SortBy/{{{fes}}}SortProperty/{{{fes}}}ValueReference").text == "dc:identifier"
    )
    assert pages == []


def harvest_since(src: Source, since: str) -> tuple[list[Page], ListingError | None]:
    pages: list[Page] = []
    try:
        pages.extend(CSW(src, since=since).pages())
    except ListingError as exc:
        return pages, exc
    return pages, None


def test_iso19115_3_output_schema_is_asked_and_read(faulty: FaultServer) -> None:
    """A real pycsw answer in ISO 19115-3 (mdb): each record is split out under its metadataIdentifier."""
    faulty.respond = lambda index, request: (
        200,
        ISO19115_3_RESPONSE.read_bytes(),
        {"Content-Type": "text/xml"},
    )

    pages, error = harvest(source(faulty.url, format="iso19115-3"))

    assert error is None
    root = etree.fromstring(faulty.requests[0].body)
    assert root.get("outputSchema") == MDB_NS
    assert root.find("csw:Query", NS).get("typeNames") == "mdb:MD_Metadata"
    records = pages[0].records
    assert pages[0].matched == len(records) == 4
    assert {record.format for record in records} == {"iso19115-3"}
    assert all(etree.QName(record.element).namespace == MDB_NS for record in records)
    assert all(record.native_id for record in records)


def test_a_refused_modified_constraint_falls_back_to_a_full_listing(faulty: FaultServer) -> None:
    refusal = (
        b'<ows:ExceptionReport xmlns:ows="http://www.opengis.net/ows" version="1.0.0"><ows:Exception '
        b'exceptionCode="InvalidParameterValue" locator="constraint"><ows:ExceptionText>Invalid Filter '
        b"query: unknown queryable apiso:Modified</ows:ExceptionText></ows:Exception></ows:ExceptionReport>"
    )
    faulty.respond = lambda index, request: (
        (400, refusal, {"Content-Type": "text/xml"})
        if b"apiso:Modified" in request.body
        else xml("geonetwork__getRecords.xml")
    )
    protocol = CSW(source(faulty.url), since="2024-05-01T00:00:00Z")

    pages = list(protocol.pages())

    assert [record.native_id for page in pages for record in page.records] == GEONETWORK_IDS
    assert pages[0].notes == [
        "the server refused the modification-date constraint (InvalidParameterValue at constraint: Invalid "
        "Filter query: unknown queryable apiso:Modified); listing every record"
    ]
    assert protocol.filtered is False  # a complete listing: the run may delete what it did not see
    assert [b"SortBy" in r.body for r in faulty.requests] == [True, True]
