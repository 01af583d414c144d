"""The fault matrix: one harvest per fault, against real local sources that misbehave on purpose
(``tests.fixtures.faulty_source``: a CSW catalogue, an OAI-PMH repository and a STAC API over real corpus
records), each case ending with a clear run status and no record lost or wrongly deleted.

Every case goes the same way:

1. a clean full harvest: the catalogue holds the source's N records;
2. the source changes as a pole's catalogue does (two titles revised, the first and the last record
   listed, one record removed) and the faulty harvest runs, full, with the fault armed;
3. the catalogue is compared with what the source holds, as a harvest into an empty catalogue of the
   source without the fault sees it (the *reference*): no record the source still holds is missing
   (*lost*), none was deleted while the source holds it (*wrongly deleted*), every record the faulty run
   saw is the source's current version, and every record it did not see kept its indexed version;
4. a clean harvest recovers: the catalogue equals the reference.

Each case adds a row to the matrix printed after the test summary ("terracat reports") and written to
``test-artifacts/fault-matrix.txt``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest

from api.settings import Settings, load
from catalogue.query import Query
from catalogue.record import Record
from catalogue.store import Store, open_store
from harvester.ledger import Ledger, open_ledger
from harvester.run import HarvestRun, RunSummary
from tests.fixtures.fault_server import Reply
from tests.fixtures.faulty_source import (
    Action,
    FaultyCsw,
    FaultyOai,
    FaultyStac,
    Misbehaving,
    Request,
    cut,
    endless,
    reset,
    silent,
    stall,
)

ROOT = Path(__file__).resolve().parent.parent
ARTIFACT = ROOT / "test-artifacts" / "fault-matrix.txt"
SOURCE_ID = "faulty"
PROCESS_RECORDS = 30  # records of the CSW catalogue run in a process of its own
ENVIRONMENT = {**os.environ, "PYTHONPATH": str(ROOT)}


# --- the matrix -----------------------------------------------------------------------------------------


@dataclass
class Row:
    case: str
    protocol: str
    status: str
    cause: str
    before: int
    after: int
    lost: int
    wrongly_deleted: int
    recovered: bool


COLUMNS = ("case", "protocol", "status", "before", "after", "lost", "wr.del", "recovered", "error / note")


def table(rows: list[Row]) -> list[str]:
    cells = [
        (r.case, r.protocol, r.status, r.before, r.after, r.lost, r.wrongly_deleted, r.recovered, r.cause)
        for r in rows
    ]
    lines = [COLUMNS, *[tuple(map(str, row)) for row in cells]]
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS) - 1)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=False)) + "  " + line[-1]
        for line in lines
    ]


@pytest.fixture(scope="module")
def matrix(session_report: Callable[[str], None]) -> Iterator[list[Row]]:
    """The rows of the cases run; printed and written once the module is done."""
    rows: list[Row] = []
    yield rows
    if not rows:
        return
    order = list(CASES)
    rows.sort(key=lambda row: order.index(row.case))
    lines = ["fault matrix (tests/test_fault_matrix.py): run status and records before/after the faulty run"]
    lines += table(rows)
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for line in lines:
        session_report(line)


# --- a source, its catalogue and the comparisons ----------------------------------------------------------


def catalogue(store: Store) -> dict[str, Record]:
    """The source's records without what differs between two harvests (when and from where)."""
    records = store.search(Query(limit=10_000, properties={"source": [SOURCE_ID]})).records
    assert len(records) == store.count(SOURCE_ID), "a duplicate or a lost record in the comparison"
    return {r.id: msgspec.structs.replace(r, provenance=None) for r in records}


def write_config(folder: Path, url: str, protocol: str, format_: str, **options: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    source = {
        "id": SOURCE_ID,
        "pole": "ODATIS",
        "protocol": protocol,
        "format": format_,
        "url": url,
        "page_size": 10,
        "timeout": 1,
        "retries": 1,
        **options,
    }
    config = folder / "terracat.yaml"
    config.write_text(
        "store: {backend: sqlite, path: catalogue.db}\n"
        "harvest: {ledger: harvest.db, batch_size: 5}\n"
        f"sources:\n  - {json.dumps(source)}\n",
        encoding="utf-8",
    )
    return config


@dataclass
class Harness:
    """One case: its source, its catalogue (SQLite index and ledger in ``folder``) and what it saw."""

    folder: Path
    server: Misbehaving | None
    protocol: str
    format: str
    url: str
    options: dict[str, Any] = field(default_factory=dict)
    references: int = 0

    def __post_init__(self) -> None:
        self.config = write_config(self.folder, self.url, self.protocol, self.format, **self.options)
        self.settings: Settings = load(self.config)
        self.store = open_store(self.settings.store)
        self.ledger: Ledger = open_ledger(self.settings.harvest.ledger)

    def harvest(self, **options: bool) -> RunSummary:
        source = self.settings.sources[0]
        return HarvestRun(source, self.store, self.ledger, batch_size=5, **options).execute()

    def cli(self, *arguments: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "api.cli", "harvest", "--config", str(self.config), *arguments]
        return subprocess.run(
            command, cwd=ROOT, env=ENVIRONMENT, capture_output=True, text=True, timeout=timeout
        )

    def reference(self) -> dict[str, Record]:
        """What the source holds now, as a clean harvest into an empty catalogue sees it."""
        self.references += 1
        folder = self.folder / f"reference-{self.references}"
        config = write_config(folder, self.url, self.protocol, self.format, **self.options)
        settings = load(config)
        store = open_store(settings.store)
        summary = HarvestRun(settings.sources[0], store, open_ledger(settings.harvest.ledger)).execute()
        assert summary.status == "succeeded", summary.line()
        return catalogue(store)

    def clean_start(self) -> dict[str, Record]:
        first = self.harvest()
        assert first.status == "succeeded" and first.counts["rejected"] == 0, first.line()
        before = catalogue(self.store)
        held = self.server.held() if self.server is not None else PROCESS_RECORDS
        assert len(before) == first.counts["added"] == held
        return before

    def change_source(self) -> None:
        """Two titles revised (the first and last records listed), one record removed (the sixth)."""
        assert self.server is not None
        self.server.revise(0)
        self.server.revise(-1)
        self.server.drop([5])


@dataclass
class Outcome:
    """The faulty run measured against the source."""

    lost: set[str]
    wrongly_deleted: set[str]
    stale: list[str]  # records the run saw that are not the source's version
    changed_unseen: list[str]  # records the run did not see that are not their indexed version


def content(record: Record | None) -> Record | None:
    """The record without its SHACL report: reports are made once a listing is over (``HarvestRun``), so
    a killed run leaves them to the next one."""
    if record is None or record.quality is None:
        return record
    return msgspec.structs.replace(record, quality=msgspec.structs.replace(record.quality, validation=None))


def compare(
    h: Harness,
    run_id: int | None,
    before: dict[str, Record],
    after: dict[str, Record],
    now: dict[str, Record],
) -> Outcome:
    held = set(before) & set(now)
    deleted = {e.record_id for e in h.ledger.events(run_id or 0, "deleted") if e.record_id}
    seen = {
        e.record_id
        for e in h.ledger.events(run_id or 0)
        if e.record_id and e.status in ("added", "updated", "unchanged")
    }
    return Outcome(
        lost=held - set(after),
        wrongly_deleted=deleted & set(now),
        stale=sorted(rid for rid in seen if rid in now and content(after.get(rid)) != content(now[rid])),
        changed_unseen=sorted(rid for rid in held - seen if rid in after and after[rid] != before[rid]),
    )


def summary_of(summary: RunSummary, remark: str = "-") -> str:
    text = summary.error or "; ".join(summary.notes) or remark
    text = re.sub(r"http://127\.0\.0\.1:\d+", "", text)  # the port changes from run to run
    return text if len(text) <= 110 else text[:107] + "..."


def standard(
    h: Harness,
    matrix: list[Row],
    case: str,
    fault: Callable[[int, Request, Reply], Reply | Action | None],
    *,
    status: str,
    cause: str | None,
    change: Callable[[], None] | None = None,
    remark: str = "-",
) -> RunSummary:
    """The four steps of a case; returns the faulty run for the case's own checks. ``cause``: what its
    error or notes must say; ``remark``: what the matrix shows when they say nothing (a fault that the
    retries absorbed)."""
    assert h.server is not None
    before = h.clean_start()
    (change or h.change_source)()
    h.server.arm(fault)
    try:
        faulty = h.harvest(full=True)
    finally:
        h.server.disarm()
    after = catalogue(h.store)
    now = h.reference()
    outcome = compare(h, faulty.run_id, before, after, now)
    recovery = h.harvest(full=True)
    recovered = recovery.status == "succeeded" and catalogue(h.store) == now
    matrix.append(
        Row(
            case,
            h.protocol,
            faulty.status,
            summary_of(faulty, remark),
            len(before),
            len(after),
            len(outcome.lost),
            len(outcome.wrongly_deleted),
            recovered,
        )
    )
    assert faulty.status == status, faulty.line()
    if cause is not None:
        assert cause in (faulty.error or "") + " | " + " | ".join(faulty.notes), faulty.line()
    if status == "failed":
        assert faulty.error and not faulty.listing_complete and faulty.counts["deleted"] == 0
    assert not outcome.lost and not outcome.wrongly_deleted, outcome
    assert not outcome.stale, f"records the run saw but did not update: {outcome.stale}"
    assert not outcome.changed_unseen, f"records the run did not see but changed: {outcome.changed_unseen}"
    assert recovered, recovery.line()
    return faulty


# --- the cases ------------------------------------------------------------------------------------------


def from_page(first: int, answer: Callable[[Request, Reply], Reply | Action]) -> Callable[..., Any]:
    """A fault on every listing page from page ``first`` on (retries of a page are pages too)."""
    return lambda page, request, reply: answer(request, reply) if page >= first else None


def case_timeout(h: Harness, matrix: list[Row]) -> None:
    assert h.server is not None
    release = h.server.release
    faulty = standard(
        h, matrix, "timeout", from_page(2, lambda request, reply: silent(release)),
        status="failed", cause="no answer within 1 s (1 retries)",
    )  # fmt: skip
    assert faulty.counts["updated"] == 1  # the first page's revision is in; the last page was never seen


def case_connection_reset(h: Harness, matrix: list[Row]) -> None:
    standard(
        h, matrix, "connection-reset", from_page(2, lambda request, reply: reset(reply)),
        status="failed", cause="request failed",
    )  # fmt: skip


def case_5xx_burst(h: Harness, matrix: list[Row]) -> None:
    def burst(page: int, request: Request, reply: Reply) -> Reply | None:
        return (
            (503 if page == 2 else 502, b"overloaded", {"Content-Type": "text/plain"})
            if page in (2, 3)
            else None
        )

    faulty = standard(
        h, matrix, "5xx-burst", burst, status="succeeded", cause=None, remark="(503, 502: retried)"
    )
    assert faulty.counts["updated"] == 2 and faulty.counts["deleted"] == 1


def case_5xx_beyond_retries(h: Harness, matrix: list[Row]) -> None:
    error = (500, b"Internal Server Error", {"Content-Type": "text/plain"})
    standard(
        h, matrix, "5xx-beyond-retries", from_page(2, lambda request, reply: error),
        status="failed", cause="HTTP 500",
    )  # fmt: skip


def case_retry_after(h: Harness, matrix: list[Row]) -> None:
    assert h.server is not None

    def busy(page: int, request: Request, reply: Reply) -> Reply | None:
        return (503, b"busy", {"Retry-After": "1", "Content-Type": "text/plain"}) if page == 2 else None

    faulty = standard(
        h, matrix, "retry-after", busy, status="succeeded", cause=None, remark="(503 Retry-After: 1 obeyed)"
    )
    assert faulty.counts["updated"] == 2 and faulty.counts["deleted"] == 1
    pages = [r for r in h.server.received[h.server.armed_at :] if h.server.is_page(r)]
    refused = next(i for i, r in enumerate(pages) if r.query.get("resumptionToken"))
    assert pages[refused].query == pages[refused + 1].query  # the same page asked again...
    assert pages[refused + 1].at - pages[refused].at >= 0.9  # ...once the second Retry-After asked passed


def case_truncated_xml(h: Harness, matrix: list[Row]) -> None:
    standard(
        h, matrix, "truncated-xml", from_page(2, lambda request, reply: cut(reply)),
        status="failed", cause="the response is not XML",
    )  # fmt: skip


def case_malformed_xml(h: Harness, matrix: list[Row]) -> None:
    def mismatched(request: Request, reply: Reply) -> Reply:
        status, content, headers = reply
        return status, content.replace(b"</gmd:MD_Metadata>", b"</gmd:MD_Metadta>", 1), headers

    standard(
        h, matrix, "malformed-xml", from_page(2, mismatched), status="failed", cause="the response is not XML"
    )


def case_truncated_json(h: Harness, matrix: list[Row]) -> None:
    standard(
        h, matrix, "truncated-json", from_page(3, lambda request, reply: cut(reply)),
        status="failed", cause="JSON",
    )  # fmt: skip


def case_malformed_json(h: Harness, matrix: list[Row]) -> None:
    def stray_comma(request: Request, reply: Reply) -> Reply:
        status, content, headers = reply
        return status, content.replace(b'"features": [', b'"features": [,', 1), headers

    standard(h, matrix, "malformed-json", from_page(3, stray_comma), status="failed", cause="JSON")


def case_record_encoding_error_json(h: Harness, matrix: list[Row]) -> None:
    """One item's title holds an unpaired UTF-16 surrogate (``\\ud800``): JSON's syntax allows it, but it
    is no text (it has no UTF-8). That item alone is rejected, keeping its indexed version; the rest of
    its page and of the listing is harvested."""
    assert isinstance(h.server, FaultyStac)
    broken = h.server.listed()[1]

    def surrogate(page: int, request: Request, reply: Reply) -> Reply | None:
        status, content, headers = reply
        if request.path != "/search" or broken["id"].encode() not in content:
            return None
        document = json.loads(content)
        for item in document["features"]:
            if item["id"] == broken["id"]:
                item["properties"]["title"] = "Sentinel \ud800 scene"
        return status, json.dumps(document).encode(), headers

    faulty = standard(
        h, matrix, "record-encoding-error-json", surrogate,
        status="succeeded", cause=None, remark="(1 item rejected: not-json)",
    )  # fmt: skip
    assert faulty.counts["rejected"] == 1 and faulty.counts["deleted"] == 1
    assert faulty.run_id is not None
    [rejected] = h.ledger.events(faulty.run_id, "rejected")
    assert rejected.code == "not-json" and "surrogate" in (rejected.message or ""), rejected


def latin1_title(content: bytes, count: int = 1) -> bytes:
    """``content`` with a Latin-1 ``é`` (byte 0xE9, not UTF-8) in its first ``count`` titles."""
    title = re.compile(rb"<(?:gmd:title>\s*<gco:CharacterString|dc:title)>")
    return title.sub(lambda found: found[0] + b"caf\xe9 ", content, count=count)


def case_record_encoding_error_xml(h: Harness, matrix: list[Row]) -> None:
    """One record of page 2 has a Latin-1 byte in its title in a UTF-8 response: libxml2 refuses the
    response, so the page is parsed again with that byte replaced; the record holding it alone is rejected
    (keeping its indexed version), naming the line and the byte, and the rest of its page and of the
    listing is harvested."""
    revised: list[bytes] = []

    def latin1(page: int, request: Request, reply: Reply) -> Reply | None:
        status, content, headers = reply
        if page != 2:
            return None
        broken = latin1_title(content)
        revised.append(broken)
        return status, broken, headers

    faulty = standard(
        h, matrix, f"record-encoding-error-xml{'-oai' if h.protocol == 'oai-pmh' else ''}", latin1,
        status="succeeded", cause=None, remark="(1 record rejected: encoding-error)",
    )  # fmt: skip
    assert faulty.counts["rejected"] == 1 and faulty.counts["deleted"] == 1, faulty.line()
    assert faulty.run_id is not None
    [rejected] = h.ledger.events(faulty.run_id, "rejected")
    [page] = revised
    line = page[: page.index(b"caf\xe9")].count(b"\n") + 1
    assert rejected.code == "encoding-error", rejected
    assert f"0xE9 at line {line}, column " in (rejected.message or ""), rejected
    assert "not UTF-8" in (rejected.message or ""), rejected


def _links_past_the_end(
    server: FaultyStac, page_at: Callable[[dict[str, Any], int, int, dict[str, Any]], dict[str, Any]]
) -> Callable[[int, Request, Reply], Reply | None]:
    """A fault: past its last page, the search goes on linking to a 'next' page (POST, a token growing by
    the items of each page), whose content ``page_at(body, token, numberMatched, page)`` makes."""

    def past_the_end(page: int, request: Request, reply: Reply) -> Reply | None:
        if request.path != "/search":
            return None
        body = json.loads(request.body) if request.body else {}
        status, content, headers = reply
        document = json.loads(content)
        if any(link.get("rel") == "next" for link in document["links"]):
            return None
        token = int(body.get("token", 0))
        document = page_at(body, token, document["numberMatched"], document)
        following = {**body, "token": token + len(document["features"])}
        next_link = {"rel": "next", "href": f"{server.url}/search", "method": "POST", "body": following}
        document["links"] = [{**next_link, "merge": False}]
        return status, json.dumps(document).encode(), headers

    return past_the_end


def _search_page(server: FaultyStac, body: dict[str, Any], token: int) -> dict[str, Any]:
    """The page of the search ``body`` that starts at ``token``, as the source serves it."""
    reply = server.normal(Request("POST", "/search", {}, json.dumps({**body, "token": token}).encode(), 0.0))
    return json.loads(reply[1])


def case_endless_next_chain(h: Harness, matrix: list[Row]) -> None:
    """Past its last page the API goes on linking to 'next' pages that hold its first items again."""
    assert isinstance(h.server, FaultyStac)
    server = h.server
    endless_chain = _links_past_the_end(
        server, lambda body, token, total, page: _search_page(server, body, token % total)
    )
    standard(h, matrix, "endless-next-chain", endless_chain, status="failed", cause="go round in a loop")


def case_endless_new_items(h: Harness, matrix: list[Row]) -> None:
    """Past its last page the API goes on linking to 'next' pages that each hold new items (ids made up
    from an ever-growing offset): nothing repeats, so only the count gives the broken paginator away.
    The listing stops once it runs past the collection's numberMatched by half and a page. The new items
    it filed before that are what the source served, so they are indexed; the listing is not continued
    but begun again, so the clean harvest deletes them as no longer listed (``max_delete_ratio`` 0.5:
    they outnumber a fifth of the catalogue)."""
    assert isinstance(h.server, FaultyStac)
    server = h.server

    def made_up(body: dict[str, Any], token: int, total: int, page: dict[str, Any]) -> dict[str, Any]:
        if token < total:
            return page
        # a made-up page: the collection's items again, under new ids
        first = _search_page(server, body, 0)
        first["features"] = [
            {**item, "id": f"{item['id']}-{token + index}"} for index, item in enumerate(first["features"])
        ]
        return first

    faulty = standard(
        h, matrix, "endless-new-items", _links_past_the_end(server, made_up),
        status="failed", cause="the pages do not end: received 12 features although numberMatched=1",
    )  # fmt: skip
    assert faulty.counts["deleted"] == 0 and faulty.counts["added"] == 11, faulty.line()
    assert faulty.notes == ["the listing ran past its bound: the next run lists from the start"]


def case_repeated_resumption_token(h: Harness, matrix: list[Row]) -> None:
    tokens: list[bytes] = []
    token = re.compile(rb">(\d+:\d+)</resumptionToken>")

    def repeat(page: int, request: Request, reply: Reply) -> Reply | None:
        status, content, headers = reply
        found = token.search(content)
        if found is None:
            return None
        tokens.append(found[1])
        return status, token.sub(b">" + tokens[0] + b"</resumptionToken>", content), headers

    standard(h, matrix, "repeated-resumption-token", repeat, status="failed", cause="repeats")


def case_page_changes_under_paging(h: Harness, matrix: list[Row]) -> None:
    """A record listed on page 1 is removed while page 2 is asked for: every later record moves up one
    position, and the first of page 2 is never listed although the source still holds it."""
    assert isinstance(h.server, FaultyCsw)
    server = h.server

    def remove_while_paging(page: int, request: Request, reply: Reply) -> Reply | None:
        if page != 2:
            return None
        server.drop([2])
        return server.normal(request)

    def revise_only() -> None:
        server.revise(0)
        server.revise(-1)

    standard(
        h, matrix, "page-changes-under-paging", remove_while_paging,
        status="succeeded", cause="numberOfRecordsMatched changed from 30 to 29", change=revise_only,
    )  # fmt: skip


def case_10gb_response(h: Harness, matrix: list[Row]) -> None:
    sent: list[int] = []
    standard(
        h, matrix, "10gb-response",
        from_page(2, lambda request, reply: endless("application/xml", sent=sent)),
        status="failed", cause="larger than max_response_mb=2 MB; stopped reading",
    )  # fmt: skip
    assert sent and max(sent) < 64 * 1024**2  # the client hung up long before 10 GB


def case_deletion_guard(h: Harness, matrix: list[Row]) -> None:
    """The source suddenly lists half its records: nothing is deleted, the run says why, and the
    deletion confirmed through the CLI (``--full --confirm-delete``) deletes them."""
    assert h.server is not None
    server = h.server
    before = h.clean_start()
    server.revise(0)
    server.drop(list(range(1, 30, 2)))
    faulty = h.harvest(full=True)
    after = catalogue(h.store)
    now = h.reference()
    outcome = compare(h, faulty.run_id, before, after, now)
    confirmed = h.cli("--full", "--confirm-delete", SOURCE_ID)
    final = catalogue(h.store)
    recovered = confirmed.returncode == 0 and final == now
    matrix.append(
        Row(
            "deletion-guard", h.protocol, faulty.status, summary_of(faulty), len(before), len(after),
            len(outcome.lost), len(outcome.wrongly_deleted), recovered,
        )
    )  # fmt: skip
    assert faulty.status == "succeeded" and faulty.counts["deleted"] == 0, faulty.line()
    assert faulty.notes == [
        "15 of 30 records (50%) were not seen but none deleted: more than max_delete_ratio 20%; check the "
        f"source, then run `terracat harvest --full --confirm-delete {SOURCE_ID}` to delete them"
    ]
    assert set(after) == set(before) and not outcome.lost and not outcome.stale
    assert "deleted 15" in confirmed.stdout, confirmed.stdout + confirmed.stderr
    assert recovered, confirmed.stdout + confirmed.stderr


def wait_for_checkpoint(ledger: Path, process: subprocess.Popen[bytes], timeout: float = 30.0) -> bool:
    """Poll the ledger until the running harvest has committed a checkpoint of its open listing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        with sqlite3.connect(ledger, timeout=5) as db:
            row = db.execute("SELECT checkpoint FROM listings").fetchone()
        if row and row[0]:
            return True
        time.sleep(0.05)
    return False


def consistent(h: Harness) -> None:
    """Both SQLite files intact, and the ledger holds the raw record of every indexed record, only those."""
    for path in (h.folder / "catalogue.db", h.folder / "harvest.db"):
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",), path
    known = {k.record_id for k in h.ledger.known(SOURCE_ID).values()}
    assert known == h.store.ids(SOURCE_ID)


def case_sigkill_harvester(h: Harness, matrix: list[Row]) -> None:
    """``terracat harvest`` in a subprocess, SIGKILLed while page 3 is half received; the rerun continues
    the listing and ends with the source's catalogue."""
    assert h.server is not None
    server = h.server
    clean = h.cli()
    assert clean.returncode == 0, clean.stderr
    before = catalogue(h.store)
    assert before == h.reference()
    h.change_source()
    reached = threading.Event()
    server.arm(lambda page, request, reply: stall(reply, server.release, reached) if page == 3 else None)
    command = [sys.executable, "-m", "api.cli", "harvest", "--full", "--config", str(h.config)]
    process = subprocess.Popen(command, cwd=ROOT, env=ENVIRONMENT, stdout=subprocess.PIPE)
    try:
        assert reached.wait(30), "page 3 was never asked for"
        assert wait_for_checkpoint(h.folder / "harvest.db", process), "no checkpoint was committed"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        server.disarm()
    assert process.returncode == -signal.SIGKILL
    after = catalogue(h.store)
    now = h.reference()
    assert h.store.ids(SOURCE_ID) <= set(before) | set(now)  # nothing half-written or foreign
    rerun = h.cli()
    runs = h.ledger.runs(SOURCE_ID)
    killed = runs[1]
    outcome = compare(h, killed.id, before, after, now)
    final = catalogue(h.store)
    recovered = rerun.returncode == 0 and final == now
    resumed = rerun.stdout.strip().partition(": ")[0].removeprefix(f"{SOURCE_ID} ")
    matrix.append(
        Row(
            "sigkill-harvester", h.protocol, killed.status,
            f"SIGKILL while page 3 was received; the rerun: {resumed}", len(before), len(after),
            len(outcome.lost), len(outcome.wrongly_deleted), recovered,
        )
    )  # fmt: skip
    assert [(r.status, r.resumed_from) for r in runs[:2]] == [("succeeded", killed.id), ("interrupted", None)]
    assert rerun.stdout.startswith(f"{SOURCE_ID} (full, resumed run #{killed.id}): received ")
    assert not outcome.lost and not outcome.wrongly_deleted and not outcome.stale
    assert recovered, rerun.stdout + rerun.stderr
    consistent(h)


class ServerProcess:
    """The CSW catalogue in a process of its own (``python -m tests.fixtures.faulty_source``)."""

    def __init__(self, *arguments: str) -> None:
        module = "tests.fixtures.faulty_source"
        command = [sys.executable, "-m", module, "--records", str(PROCESS_RECORDS), *arguments]
        self.process = subprocess.Popen(command, cwd=ROOT, env=ENVIRONMENT, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        assert self.url.startswith("http://127.0.0.1:"), self.url

    @property
    def port(self) -> str:
        return self.url.rsplit(":", 1)[1].partition("/")[0]

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)


def case_sigkill_server(h: Harness, matrix: list[Row], server: ServerProcess) -> None:
    """The server is SIGKILLed while it sends page 2: the run fails naming the broken connection; the
    server restarted, the rerun continues the listing and recovers."""
    revised = ("--revise", "0", "--revise", str(PROCESS_RECORDS - 1))
    before = h.clean_start()
    server.kill()
    stalling = ServerProcess("--port", server.port, "--stall-page", "2", *revised)
    try:
        with ThreadPoolExecutor(1) as pool:
            running = pool.submit(h.harvest, full=True)
            assert stalling.process.stdout is not None
            assert stalling.process.stdout.readline().strip() == "stalled"
            stalling.kill()
            faulty = running.result(timeout=60)
    finally:
        stalling.kill()
    after = catalogue(h.store)
    restarted = ServerProcess("--port", server.port, *revised)
    try:
        now = h.reference()
        outcome = compare(h, faulty.run_id, before, after, now)
        recovery = h.harvest(full=True)
        recovered = recovery.status == "succeeded" and catalogue(h.store) == now
    finally:
        restarted.kill()
    matrix.append(
        Row(
            "sigkill-server", h.protocol, faulty.status, summary_of(faulty), len(before), len(after),
            len(outcome.lost), len(outcome.wrongly_deleted), recovered,
        )
    )  # fmt: skip
    assert faulty.status == "failed" and "request failed" in (faulty.error or ""), faulty.line()
    assert not outcome.lost and not outcome.wrongly_deleted and not outcome.stale
    assert recovery.resumed_from == faulty.run_id and recovered, recovery.line()
    consistent(h)


CASES: dict[str, tuple[str, dict[str, Any], Callable[..., None]]] = {
    "timeout": ("oai-pmh", {}, case_timeout),
    "connection-reset": ("csw", {}, case_connection_reset),
    "5xx-burst": ("stac", {"retries": 3}, case_5xx_burst),
    "5xx-beyond-retries": ("csw", {}, case_5xx_beyond_retries),
    "retry-after": ("oai-pmh", {}, case_retry_after),
    "truncated-xml": ("oai-pmh", {}, case_truncated_xml),
    "malformed-xml": ("csw", {}, case_malformed_xml),
    "truncated-json": ("stac", {}, case_truncated_json),
    "malformed-json": ("stac", {}, case_malformed_json),
    "record-encoding-error-json": ("stac", {}, case_record_encoding_error_json),
    "record-encoding-error-xml": ("csw", {}, case_record_encoding_error_xml),
    "record-encoding-error-xml-oai": ("oai-pmh", {}, case_record_encoding_error_xml),
    "endless-next-chain": ("stac", {}, case_endless_next_chain),
    "endless-new-items": ("stac", {"max_delete_ratio": 0.5}, case_endless_new_items),
    "repeated-resumption-token": ("oai-pmh", {}, case_repeated_resumption_token),
    "page-changes-under-paging": ("csw", {}, case_page_changes_under_paging),
    "10gb-response": ("csw", {"max_response_mb": 2}, case_10gb_response),
    "deletion-guard": ("oai-pmh", {}, case_deletion_guard),
    "sigkill-harvester": ("csw", {}, case_sigkill_harvester),
    "sigkill-server": ("csw", {"timeout": 10, "retries": 0}, case_sigkill_server),
}
_SERVERS: dict[str, Callable[[], Misbehaving]] = {"csw": FaultyCsw, "oai-pmh": FaultyOai, "stac": FaultyStac}


@pytest.mark.parametrize("case", list(CASES))
def test_fault(case: str, tmp_path: Path, matrix: list[Row]) -> None:
    protocol, options, run_case = CASES[case]
    if case == "sigkill-server":
        server = ServerProcess()
        try:
            run_case(Harness(tmp_path, None, protocol, "iso19139", server.url, options), matrix, server)
        finally:
            server.kill()
        return
    source = _SERVERS[protocol]()
    try:
        run_case(Harness(tmp_path, source, protocol, source.format, source.url, options), matrix)
    finally:
        source.disarm()
        source.close()
