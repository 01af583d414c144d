"""The OAI-PMH 2.0 client against real servers on 127.0.0.1.

- pycsw 2.6.2's OAI-PMH endpoint (``<csw url>?mode=oaipmh``) over the demo ISO 19139 records, with a
  small ``maxrecords`` so that every listing pages through resumption tokens. What pycsw holds is read
  from pycsw itself (its database), never assumed.
- ``tests/fixtures/oai_server.py``: a small OAI-PMH repository serving real records (a DSpace
  repository's 81 oai_dc records, 2 of them deleted; SEANOE oai_dc; DataCite records as harvested from
  PANGAEA, EnviDat, GFZ and INRAE), scripted to fail on purpose.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from lxml import etree

from catalogue.query import Query
from catalogue.record import Record
from catalogue.store import open_store
from harvester import formats
from harvester.ledger import Ledger, open_ledger
from harvester.protocols import ListingError, Page, create
from harvester.protocols.oaipmh import OAIPMH
from harvester.raw import RawRecord
from harvester.run import HarvestRun, RunSummary
from harvester.source import Source
from tests.fixtures.fault_server import Reply
from tests.fixtures.oai_server import DATA, DAY, OAI_DATA, OAI_NS, OaiServer, corpus, records, wrap
from tests.fixtures.pycsw_server import DEMO_ISO19139, PycswServer

GMD_NS = "http://www.isotc211.org/2005/gmd"
OAI_DC = "{http://www.openarchives.org/OAI/2.0/oai_dc/}dc"
DSPACE = records(OAI_DATA / "pyoai__fake2_00002.xml")  # 81 records, 2 of them deleted
DSPACE_DELETED = ["hdl:1765/1160", "hdl:1765/1161"]
SEANOE = records(DATA / "dc" / "b2find__4aefaa20-ae37-5c89-bc7a-7574303850c3.xml") + records(
    DATA / "dc" / "b2find__7d8d61e8-c2c6-5a7e-bef1-24f5a1eb23b5.xml"
)


def datacite_records() -> list[etree._Element]:
    """DataCite records as repositories served them (PANGAEA, EnviDat, GFZ, INRAE), and the DataCite
    schema's examples in the OAI record a repository would wrap them in."""
    harvested = records(*sorted((DATA / "datacite").glob("b2find__*.xml")))
    examples = [
        wrap(path, f"oai:schema.datacite.org:{path.stem}", f"2024-01-{day:02d}T00:00:00Z")
        for day, path in enumerate(sorted((DATA / "datacite").glob("schema__*.xml")), start=1)
    ]
    return harvested + examples


def source(url: str, **options: Any) -> Source:
    settings: dict[str, Any] = {"id": "test-oai", "format": "dc", "timeout": 5.0, "retries": 0}
    settings.update(options)
    return Source(pole="ODATIS", protocol="oai-pmh", url=url, **settings)


def harvest(
    src: Source, *, since: str | None = None, resume: dict[str, Any] | None = None
) -> tuple[OAIPMH, list[Page], ListingError | None]:
    """The protocol, every page it yields, and the ListingError that ended the listing, if any."""
    protocol = create(src, since=since, resume=resume)
    assert isinstance(protocol, OAIPMH)
    pages: list[Page] = []
    try:
        for page in protocol.pages():
            pages.append(page)
    except ListingError as exc:
        return protocol, pages, exc
    return protocol, pages, None


def native_ids(pages: list[Page]) -> list[str | None]:
    return [raw.native_id for page in pages for raw in page.records]


def notes(pages: list[Page]) -> str:
    return "\n".join(note for page in pages for note in page.notes)


def run(tmp_path: Path, src: Source) -> tuple[RunSummary, dict[str, Record], Ledger]:
    store = open_store({"backend": "sqlite", "path": str(tmp_path / "catalogue.db")})
    ledger = open_ledger(tmp_path / "harvest.db")
    summary = HarvestRun(src, store, ledger, batch_size=50).execute()
    return summary, {r.id: r for r in store.search(Query(limit=10_000)).records}, ledger


def listing_requests(server: OaiServer) -> list[dict[str, str]]:
    return [params for params in server.requests if params.get("verb") == "ListRecords"]


# -- pycsw 2.6.2 --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pycsw(pycsw_factory: Callable[..., PycswServer]) -> PycswServer:
    """pycsw over the demo records with 7 records a page: 5 pages, 4 resumption tokens."""
    return pycsw_factory(sorted(DEMO_ISO19139.glob("*.xml")), maxrecords=7)


def pycsw_source(server: PycswServer, **options: Any) -> Source:
    return source(server.url + "?mode=oaipmh", **{"format": "iso19139", **options})


def test_pycsw_listing_follows_tokens_and_copes_with_its_quirks(pycsw: PycswServer) -> None:
    protocol, pages, error = harvest(pycsw_source(pycsw))
    assert error is None
    ids = native_ids(pages)
    assert sorted(ids) == sorted(pycsw.identifiers) and len(ids) == pycsw.count == 33
    assert [page.position for page in pages] == [f"ListRecords page {n}" for n in range(1, 6)]
    assert [page.matched for page in pages] == [33] * 5
    assert [page.checkpoint["token"] for page in pages if page.checkpoint] == ["8", "15", "22", "29", None]
    said = notes(pages)
    # a token alone is refused: the listing's arguments go beside it (said once, on the page it cost)
    assert "badArgument: Missing metadataPrefix parameter" in pages[1].notes[0]
    assert said.count("Missing metadataPrefix") == 1
    assert "resumptionToken '0'" in pages[-1].notes[0]  # pycsw's end of a listing, not followed
    assert "<dateStamp> instead of <datestamp>" in said
    assert protocol.metadata_prefix == "iso19139" and protocol.granularity == "YYYY-MM-DDThh:mm:ssZ"
    assert protocol.server_time and not protocol.filtered
    for raw in (raw for page in pages for raw in page.records):
        assert raw.element.getparent() is None and raw.element.getroottree().getroot() is raw.element
        assert etree.QName(raw.element).namespace == GMD_NS or "gmi" in raw.element.tag
        assert OAI_NS not in raw.element.nsmap.values() and OAI_NS.encode() not in raw.content
        assert etree.fromstring(raw.content).tag == raw.element.tag
        assert raw.datestamp and not raw.deleted
        assert raw.locator.startswith("ListRecords page ") and raw.locator.endswith(f" {raw.native_id}")


def test_pycsw_oai_dc_is_the_prefix_of_the_dc_format(pycsw: PycswServer) -> None:
    protocol, pages, error = harvest(pycsw_source(pycsw, format="dc"))
    assert error is None and protocol.metadata_prefix == "oai_dc"
    assert sorted(native_ids(pages)) == sorted(pycsw.identifiers)
    elements = [raw.element for page in pages for raw in page.records]
    assert {element.tag for element in elements} == {OAI_DC}
    assert {element.findtext("{http://purl.org/dc/elements/1.1/}identifier") for element in elements} == set(
        pycsw.identifiers
    )


def test_pycsw_config_checks_name_what_it_offers(pycsw: PycswServer) -> None:
    _, pages, error = harvest(pycsw_source(pycsw, sets=["datasets", "nosuch"]))
    assert not pages and error is not None
    assert "ListSets: the repository has no set nosuch; it offers datasets, interactiveResources" in str(
        error
    )
    _, pages, error = harvest(pycsw_source(pycsw, metadata_prefix="oai_datacite"))
    assert not pages and error is not None
    assert str(error).endswith(
        "does not offer metadataPrefix oai_datacite (format iso19139); it offers csw-record, dif, fgdc-std, "
        "gm03, iso19139, oai_dc"
    )
    # pycsw accepts its sets but ignores set=: each set lists the whole repository
    _, pages, error = harvest(pycsw_source(pycsw, sets=["datasets"]))
    assert error is None and len(native_ids(pages)) == 33
    assert pages[0].position == "ListRecords set=datasets page 1"


def test_pycsw_resumes_after_a_checkpoint(pycsw: PycswServer) -> None:
    _, full, _ = harvest(pycsw_source(pycsw))
    protocol, pages, error = harvest(pycsw_source(pycsw), resume=full[1].checkpoint)
    assert error is None
    assert native_ids(pages) == native_ids(full[2:])
    assert [page.position for page in pages] == [
        "ListRecords page 3",
        "ListRecords page 4",
        "ListRecords page 5",
    ]
    assert pages[-1].matched == 33 and not protocol.filtered


def test_pycsw_harvest_end_to_end(tmp_path: Path, pycsw: PycswServer) -> None:
    """Every record harvested over OAI-PMH equals the record read from its file (but for its provenance
    and the quality the catalogue assessed); the next, incremental
    run sends from= the first run's responseDate, and pycsw, which compares it with the records' own
    metadata dates (all older), lists nothing."""
    src = pycsw_source(pycsw)
    summary, harvested, ledger = run(tmp_path, src)
    assert summary.status == "succeeded", summary.error
    assert summary.matched == summary.received == pycsw.count
    crosswalk = formats.get("iso19139")
    expected = {}
    for path in pycsw.loaded:
        raw = RawRecord(source_id=src.id, format="iso19139", content=path.read_bytes(), locator=path.name)
        record = crosswalk.to_record(raw, pole="ODATIS")
        expected[record.id] = msgspec.structs.replace(record, provenance=None)
    unassessed = {i: msgspec.structs.replace(r, provenance=None, quality=None) for i, r in harvested.items()}
    assert unassessed == expected
    assert all(r.quality and r.quality.fair and r.quality.validation for r in harvested.values())
    assert summary.counts["added"] == len(harvested)

    store = open_store({"backend": "sqlite", "path": str(tmp_path / "catalogue.db")})
    second = HarvestRun(src, store, ledger).execute()
    assert second.status == "succeeded" and second.kind == "incremental"
    assert second.received == 0 and store.count(src.id) == len(harvested)


# -- a scripted repository of real records -------------------------------------------------------------


@pytest.fixture
def dspace(oai_server: Callable[..., OaiServer]) -> OaiServer:
    return oai_server(DSPACE, page_size=10)


def test_listing_pages_records_and_deleted_records(dspace: OaiServer) -> None:
    protocol, pages, error = harvest(source(dspace.url))
    assert error is None
    assert native_ids(pages) == dspace.identifiers
    assert len(pages) == 9 and [page.matched for page in pages] == [81] * 9
    assert [page.checkpoint for page in pages][-1] == {
        "prefix": "oai_dc", "set": None, "from": None, "token": None, "page": 9, "cursor": 81
    }  # fmt: skip
    assert pages[0].checkpoint and pages[0].checkpoint["token"] == "1:10"
    # the token is an exclusive argument: the listing's arguments go only with the first request
    assert listing_requests(dspace)[0] == {"verb": "ListRecords", "metadataPrefix": "oai_dc"}
    assert listing_requests(dspace)[1:] == [
        {"verb": "ListRecords", "resumptionToken": f"1:{n}"} for n in range(10, 90, 10)
    ]
    raws = [raw for page in pages for raw in page.records]
    deleted = [raw for raw in raws if raw.deleted]
    assert [(raw.native_id, raw.content, raw.element) for raw in deleted] == [
        (identifier, b"", None) for identifier in DSPACE_DELETED
    ]
    assert deleted[0].datestamp == "2004-02-16T13:29:54Z"
    assert not notes(pages) and protocol.server_time == dspace.response_date and not protocol.filtered
    for raw, original in zip(raws, DSPACE, strict=True):
        if raw.deleted:
            continue
        metadata = original.find(f"{{{OAI_NS}}}metadata")[0]
        assert raw.element.tag == OAI_DC and raw.element.getparent() is None
        assert _c14n(raw.element) == _c14n(metadata)
        assert raw.datestamp == original.findtext(f"{{{OAI_NS}}}header/{{{OAI_NS}}}datestamp")
    assert raws[26].locator == f"ListRecords page 3 #7 {dspace.identifiers[26]}"


def test_next_page_downloads_while_the_caller_works_on_this_one(dspace: OaiServer) -> None:
    asked = threading.Event()

    def second_page(index: int, params: dict[str, str], reply: Reply) -> Reply:
        if offset(params) == 10:
            asked.set()
        return reply

    dspace.script = second_page
    pages = create(source(dspace.url)).pages()
    first = next(pages)
    # the generator is paused on the first page: the second one is requested all the same
    assert asked.wait(timeout=5)
    assert first.checkpoint and listing_requests(dspace)[1]["resumptionToken"] == first.checkpoint["token"]
    pages.close()  # closing early sends nothing more
    assert len(listing_requests(dspace)) == 2


def test_from_follows_the_repository_granularity(oai_server: Callable[..., OaiServer]) -> None:
    """SEANOE datestamps are days: from is the day of the watermark (an overlap, never a gap)."""
    days = oai_server(SEANOE, granularity=DAY)
    protocol, pages, error = harvest(source(days.url), since="2019-01-22T10:30:00Z")
    assert error is None and protocol.filtered
    assert listing_requests(days)[0]["from"] == "2019-01-22"
    assert native_ids(pages) == ["oai:seanoe.org:41349"]
    assert "deletedRecord" not in notes(pages)  # persistent: deletions are listed

    seconds = oai_server(SEANOE, deleted_record="no")
    protocol, pages, error = harvest(source(seconds.url), since="2019-01-22T10:30:00.5+00:00")
    assert error is None and protocol.filtered
    assert listing_requests(seconds)[0]["from"] == "2019-01-22T10:30:00Z"
    # noRecordsMatch: an empty listing, not an error
    assert [(page.records, page.matched) for page in pages] == [([], 0)]
    assert "the repository keeps deletions 'no'" in notes(pages)

    # a watermark older than every record: no from, and the listing is complete
    protocol, pages, error = harvest(source(days.url), since="2001-01-01T00:00:00Z")
    assert error is None and not protocol.filtered and "from" not in listing_requests(days)[-1]
    assert len(native_ids(pages)) == 2


def test_dates_with_two_zs(oai_server: Callable[..., OaiServer]) -> None:
    """GeoNetwork 4 writes responseDate and earliestDatestamp with two Zs (its OAI-PMH manual shows it)."""
    server = oai_server(SEANOE, earliest="2005-03-31T17:13:30ZZ")
    server.response_date = "2025-06-04T06:12:54.543994ZZ"
    protocol, pages, error = harvest(source(server.url), since="2005-03-01T00:00:00Z")
    assert error is None and len(native_ids(pages)) == 2
    assert protocol.server_time == "2025-06-04T06:12:54Z"  # a watermark the next run can send back
    assert not protocol.filtered and "from" not in listing_requests(server)[0]  # older than the earliest
    protocol, _, error = harvest(source(server.url), since="2019-01-01T00:00:00Z")
    assert (
        error is None and protocol.filtered and listing_requests(server)[-1]["from"] == "2019-01-01T00:00:00Z"
    )


def test_sets_are_listed_in_turn(dspace: OaiServer) -> None:
    """DSpace sets are hierarchical: a record of set 1:2 is also in set 1, and comes twice."""
    specs = {
        r.findtext(f".//{{{OAI_NS}}}identifier"): r.xpath(".//oai:setSpec/text()", namespaces={"oai": OAI_NS})
        for r in DSPACE
    }
    in_1_2 = [identifier for identifier, sets in specs.items() if "1:2" in sets]
    in_1 = [identifier for identifier, sets in specs.items() if any(s.startswith("1:") for s in sets)]
    assert len(in_1) > 10 and 0 < len(in_1_2) < len(in_1)
    _, pages, error = harvest(source(dspace.url, sets=["1:2", "1"]))
    assert error is None
    assert native_ids(pages) == in_1_2 + in_1
    assert [params.get("set") for params in listing_requests(dspace) if "metadataPrefix" in params] == [
        "1:2",
        "1",
    ]
    assert pages[0].position == "ListRecords set=1:2 page 1" and pages[-1].position.startswith(
        "ListRecords set=1 "
    )
    assert pages[-1].matched == len(in_1_2) + len(in_1)
    assert (
        pages[-1].checkpoint and pages[-1].checkpoint["set"] == "1" and pages[-1].checkpoint["token"] is None
    )


def test_sets_the_repository_does_not_offer(dspace: OaiServer, oai_server: Callable[..., OaiServer]) -> None:
    _, pages, error = harvest(source(dspace.url, sets=["1", "7:7"]))
    assert not pages and error is not None
    assert str(error).endswith(
        "ListSets: the repository has no set 7:7; it offers 1, 13, 13:37, 1:1, 1:2, 1:4, 2, 2:8, 3, 3:5, 5, "
        "5:12, 5:41, 6, 6:14, 6:20, 9, 9:17"
    )
    # a long list of sets (the sickle sample's 131) is cut short in the message
    dspace.script = lambda index, params, reply: (
        corpus("sickle__ListSets.xml") if params["verb"] == "ListSets" else reply
    )
    _, _, error = harvest(source(dspace.url, sets=["1"]))
    assert error is not None and "no set 1; it offers bi, bookChapterFtxt, bookEditor, " in str(error)
    assert str(error).endswith(" ... (131 in all)")
    flat = oai_server(datacite_records()[-5:], formats=("oai_datacite",))  # no record is in a set
    _, _, error = harvest(source(flat.url, format="datacite", sets=["x"]))
    assert (
        error is not None
        and "the source lists sets (x) but the repository answered noSetHierarchy" in str(error)
    )


def test_metadata_prefix_is_chosen_from_what_the_repository_offers(
    oai_server: Callable[..., OaiServer],
) -> None:
    items = datacite_records()
    for offered, chosen in [
        (("oai_dc", "oai_datacite", "datacite"), "oai_datacite"),
        (("oai_dc", "datacite"), "datacite"),  # as pycsw and others name it
    ]:
        server = oai_server(items, formats=offered)
        protocol, pages, error = harvest(source(server.url, format="datacite"))
        assert error is None and protocol.metadata_prefix == chosen
        assert listing_requests(server)[0]["metadataPrefix"] == chosen
        assert len(native_ids(pages)) == len(items) == 13
    # a ListMetadataFormats without DataCite (a sickle sample)
    server.script = lambda index, params, reply: (
        corpus("sickle__ListMetadataFormats.xml") if params["verb"] == "ListMetadataFormats" else reply
    )
    _, pages, error = harvest(source(server.url, format="datacite"))
    assert not pages and error is not None
    assert str(error).endswith(
        "ListMetadataFormats: the repository does not offer metadataPrefix oai_datacite or datacite "
        "(format datacite); it offers epicur, xMetaDissPlus, oai_dc, mods, swepub_mods"
    )
    _, _, error = harvest(source(server.url, format="stac"))
    assert error is not None and "format 'stac' has no usual metadataPrefix; set metadata_prefix" in str(
        error
    )
    protocol, pages, error = harvest(source(server.url, format="datacite", metadata_prefix="oai_dc"))
    assert error is None and protocol.metadata_prefix == "oai_dc"


def test_bad_resumption_token_restarts_the_listing_once(dspace: OaiServer) -> None:
    """The repository forgets its tokens (a restart, a timeout): the listing starts again, once."""
    tokens_sent = 0

    def expire(index: int, params: dict[str, str], reply: Reply) -> Reply:
        nonlocal tokens_sent
        if "resumptionToken" in params:
            tokens_sent += 1
            if tokens_sent in (2, 5):  # the second page of each pass would be the third
                dspace.expire_tokens()
                return dspace.answer(params)  # badResumptionToken
        return reply

    dspace.page_size = 20
    dspace.script = expire
    _, pages, error = harvest(source(dspace.url))
    assert error is not None
    assert (
        "badResumptionToken: This resumptionToken is invalid, and the listing was already restarted"
        in str(error)
    )
    ids = native_ids(pages)
    assert ids == dspace.identifiers[:40] + dspace.identifiers[:60]
    restart = pages[2].notes[0]
    assert restart == (
        "the resumption token after page 2 expired (badResumptionToken: This resumptionToken is invalid); "
        "listing ListRecords again from its beginning"
    )
    assert [page.position for page in pages] == [f"ListRecords page {n}" for n in range(1, 6)]
    assert pages[-1].checkpoint is not None and pages[-1].checkpoint["cursor"] == 60


def test_resume_continues_after_the_checkpoint(dspace: OaiServer) -> None:
    _, full, _ = harvest(source(dspace.url))
    checkpoint = full[2].checkpoint
    assert checkpoint == {
        "prefix": "oai_dc",
        "set": None,
        "from": None,
        "token": "1:30",
        "page": 3,
        "cursor": 30,
    }
    dspace.requests.clear()
    protocol, pages, error = harvest(source(dspace.url), resume=checkpoint)
    assert error is None and not protocol.filtered
    assert native_ids(pages) == dspace.identifiers[30:]
    assert pages[0].position == "ListRecords page 4" and pages[-1].checkpoint["cursor"] == 81
    assert listing_requests(dspace)[0] == {"verb": "ListRecords", "resumptionToken": "1:30"}

    # the token expired since: the listing starts again from its beginning
    dspace.expire_tokens()
    _, pages, error = harvest(source(dspace.url), resume=checkpoint)
    assert error is None and native_ids(pages) == dspace.identifiers
    assert pages[0].notes == [
        "the resumption token of the interrupted run is no longer valid (badResumptionToken: This "
        "resumptionToken is invalid); listing ListRecords again from its beginning"
    ]

    # a checkpoint of another listing: from the beginning, and said
    _, pages, error = harvest(source(dspace.url, sets=["1"]), resume=checkpoint)
    assert error is None and pages[0].position == "ListRecords set=1 page 1"
    assert pages[0].notes[0].startswith("the checkpoint of the interrupted run cannot be used (sets are now")
    _, pages, error = harvest(
        source(dspace.url), resume={**checkpoint, "token": None, "page": 9, "cursor": 81}
    )
    assert error is None and pages == []  # that listing was complete


def offset(params: dict[str, str]) -> int | None:
    """Where the page asked for starts in its listing (the scripted server's tokens are key:offset)."""
    token = params.get("resumptionToken")
    return int(token.partition(":")[2]) if token else None


def replace_token(at: int, instead: int) -> Callable[[int, dict[str, str], Reply], Reply]:
    """A script: the page at offset ``at`` names the token of offset ``instead`` as the next one."""

    def script(index: int, params: dict[str, str], reply: Reply) -> Reply:
        status, content, headers = reply
        if offset(params) == at:
            key = params["resumptionToken"].partition(":")[0]
            content = re.sub(rb">\d+:\d+</", f">{key}:{instead}</".encode(), content)
        return status, content, headers

    return script


@pytest.mark.parametrize(
    ("at", "instead", "message"),
    [
        (20, 20, "page 3: the resumptionToken '1:20' repeats the one just sent"),  # names itself again
        (40, 10, "page 5: the resumptionToken '1:10' was already used in this listing"),  # a cycle
    ],
)
def test_repeating_token_stops_after_the_last_good_page(
    dspace: OaiServer, at: int, instead: int, message: str
) -> None:
    dspace.script = replace_token(at, instead)
    _, pages, error = harvest(source(dspace.url))
    assert native_ids(pages) == dspace.identifiers[: at + 10]
    assert str(error) == (
        f"GET {dspace.url} ListRecords {message}; stopping instead of looping (received {at + 10} records)"
    )
    assert pages[-1].checkpoint is None  # nothing to continue from
    assert [page.checkpoint["token"] for page in pages[:-1] if page.checkpoint] == [
        f"1:{n}" for n in range(10, at + 10, 10)
    ]


def test_truncated_page_fails_the_listing_naming_the_page(dspace: OaiServer) -> None:
    def truncate(index: int, params: dict[str, str], reply: Reply) -> Reply:
        status, content, headers = reply
        return (
            (status, content[: len(content) // 2], headers)
            if params.get("resumptionToken") == "1:20"
            else reply
        )

    dspace.script = truncate
    _, pages, error = harvest(source(dspace.url))
    assert native_ids(pages) == dspace.identifiers[:20]
    assert error is not None and str(error).startswith(
        f"GET {dspace.url} ListRecords page 3: the response is not XML ("
    )


def test_server_errors_are_retried_then_fail_the_listing(dspace: OaiServer) -> None:
    failures = {20: 2}  # offset -> 500s to answer in a row

    def burst(index: int, params: dict[str, str], reply: Reply) -> Reply:
        at = offset(params)
        if at is not None and failures.get(at, 0) > 0:
            failures[at] -= 1
            return 500, b"Internal error: database connection lost", {"Content-Type": "text/plain"}
        return reply

    dspace.script = burst
    _, pages, error = harvest(source(dspace.url, retries=2))
    assert error is None and native_ids(pages) == dspace.identifiers
    assert [offset(params) for params in listing_requests(dspace)].count(20) == 3

    failures[50] = 1
    _, pages, error = harvest(source(dspace.url, retries=0))
    assert native_ids(pages) == dspace.identifiers[:50]
    assert str(error) == (
        f"GET {dspace.url} ListRecords page 6: HTTP 500 Internal Server Error "
        "(text/plain: 'Internal error: database connection lost')"
    )


def test_oai_errors_are_listing_errors(dspace: OaiServer) -> None:
    # offered by ListMetadataFormats, refused by ListRecords
    dspace.script = lambda index, params, reply: (
        corpus("sickle__cannotDisseminateFormat.xml") if params["verb"] == "ListRecords" else reply
    )
    _, pages, error = harvest(source(dspace.url))
    assert not pages
    assert (
        str(error) == f"GET {dspace.url} ListRecords page 1: the repository answered cannotDisseminateFormat"
    )
    dspace.script = lambda index, params, reply: (
        dspace.answer({"verb": "ListRecords"}) if offset(params) == 10 else reply
    )
    _, pages, error = harvest(source(dspace.url))
    assert len(
        pages
    ) == 1 and "page 2: the repository answered badArgument: metadataPrefix is required" in str(error)
    dspace.script = lambda index, params, reply: (
        (200, b"<html><body>Maintenance</body></html>", {}) if params["verb"] == "Identify" else reply
    )
    _, pages, error = harvest(source(dspace.url))
    assert not pages and str(error) == f"GET {dspace.url} Identify: expected an OAI-PMH response, got <html>"


def test_record_without_metadata_is_yielded_for_the_crosswalk_to_reject(dspace: OaiServer) -> None:
    def strip(index: int, params: dict[str, str], reply: Reply) -> Reply:
        status, content, headers = reply
        if params.get("metadataPrefix"):  # the first page: its first record loses its metadata
            content = re.sub(rb"<metadata>.*?</metadata>", b"", content, count=1, flags=re.S)
        return status, content, headers

    dspace.script = strip
    _, pages, error = harvest(source(dspace.url))
    assert error is None
    first = pages[0].records[0]
    assert (first.native_id, first.content, first.deleted) == (dspace.identifiers[0], b"", False)
    with pytest.raises(formats.Rejected) as rejected:
        formats.get("dc").to_record(first)
    assert rejected.value.code == "not-xml"


# -- end to end ---------------------------------------------------------------------------------------


def test_dublin_core_harvest_end_to_end(tmp_path: Path, dspace: OaiServer) -> None:
    summary, harvested, ledger = run(tmp_path, source(dspace.url))
    assert summary.status == "succeeded", summary.error
    assert summary.matched == summary.received == 81 and summary.kind == "full"
    assert summary.counts["added"] + summary.counts["rejected"] == 79
    assert summary.counts["unchanged"] == 2  # deleted at the source, never held
    assert len(harvested) == summary.counts["added"] > 60
    events = ledger.events(summary.run_id or 0)
    assert {event.locator for event in events} >= {"ListRecords page 1 #1 hdl:1765/9"}


def test_datacite_harvest_end_to_end_with_a_deletion(
    tmp_path: Path, oai_server: Callable[..., OaiServer]
) -> None:
    server = oai_server(datacite_records(), formats=("oai_datacite",), page_size=5)
    src = source(server.url, format="datacite")
    first, harvested, ledger = run(tmp_path, src)
    assert first.status == "succeeded", first.error
    assert first.received == first.matched == 13
    assert first.counts["added"] == len(harvested) > 8
    # one record is deleted at the source after the first run: the incremental run removes it
    gone = next(iter(ledger.known(src.id)))  # the ledger knows records by their OAI identifier
    server.delete(gone, "2025-03-02T08:00:00Z")
    server.response_date = "2025-03-02T09:00:00Z"
    store = open_store({"backend": "sqlite", "path": str(tmp_path / "catalogue.db")})
    second = HarvestRun(src, store, ledger).execute()
    assert second.status == "succeeded" and second.kind == "incremental"
    assert listing_requests(server)[-1]["from"] == "2025-03-01T12:00:00Z"
    assert second.received == 1 and second.counts["deleted"] == 1
    assert store.count(src.id) == len(harvested) - 1


def _c14n(element: etree._Element) -> bytes:
    """The element's canonical form, with the namespaces it uses wherever they were declared."""
    return etree.tostring(element, method="c14n", exclusive=True)
