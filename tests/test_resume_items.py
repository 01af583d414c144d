"""Item listings (a STAC API, an OGC API - Records catalogue: the same paging, ``harvester.protocols.links``)
that fail or are interrupted in the middle of a collection's items, then continued by the next run from
the checkpoint the ledger keeps, end with every item of every collection: none skipped, none deleted.

Each case runs against a real server on 127.0.0.1 (``tests.fixtures.faulty_source``: the corpus STAC
collections and items, the corpus OGC API records spread over three catalogues) paging one item at a
time, so that every collection is several listings of pages and a checkpoint follows each page:

1. a clean full harvest, then every item of the source is revised (its title): a run that skips an item
   leaves its old version in the catalogue, and one that deletes it loses it;
2. the faulty run(s), full, with the fault armed, then the runs that continue the listing;
3. the catalogue (the SQLite index) is compared with a clean harvest of the source into an empty one
   (the *reference*): the same records, the same contents; no run deleted anything; every record was
   listed by the runs of the listing; the run statuses say what happened.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest

from api.cli import main
from catalogue.query import Query
from catalogue.record import Record
from catalogue.store import Store, open_store
from harvester.ledger import Ledger, open_ledger
from harvester.run import HarvestRun, RunSummary
from harvester.source import Source
from tests.fixtures.fault_server import Reply
from tests.fixtures.faulty_source import Action, FaultyRecords, FaultyStac, Misbehaving, Request, cut, stall
from tests.fixtures.stac_server import Style

ROOT = Path(__file__).resolve().parent.parent
SOURCE_ID = "resumed"
PAGE_SIZE = 1  # an item per page: a checkpoint after each
SERVER_ERROR: Reply = (500, b"Internal Server Error", {"Content-Type": "text/plain"})
EXPIRED: Reply = (
    400,
    json.dumps({"code": "InvalidParameterValue", "description": "token expired"}).encode(),
    {"Content-Type": "application/json"},
)


def items_page(server: Misbehaving, request: Request) -> tuple[str, int] | None:
    """The collection and page number (from 1) an items request asks for; ``None`` for another request."""
    if isinstance(server, FaultyStac):
        if request.path != "/search":
            return None
        body = json.loads(request.body)
        return body["collections"][0], int(body.get("token", 0)) // PAGE_SIZE + 1
    if not request.path.endswith("/items"):
        return None
    collection = request.path.split("/")[-2]
    return collection, int(request.query.get("offset", 0)) // PAGE_SIZE + 1


def collections_of(server: Misbehaving) -> dict[str, list[dict[str, Any]]]:
    """The server's items by collection, in the order they are listed."""
    if isinstance(server, FaultyStac):
        return {collection: server.items[collection] for collection in server.collections}
    assert isinstance(server, FaultyRecords)
    return server.catalogues


def target(server: Misbehaving) -> str:
    """The collection whose listing fails: of those another collection follows, the one with the most
    items (three at least: the page that fails has pages before and after it), the latest of a tie."""
    held = collections_of(server)
    ids = list(held)[:-1]
    chosen = max(reversed(ids), key=lambda collection: len(held[collection]))
    assert len(held[chosen]) >= 3
    return chosen


def emptied(reply: Reply) -> Reply:
    """The page without its items, its next link and numberMatched kept: a server glitch."""
    status, content, headers = reply
    document = json.loads(content)
    return status, json.dumps({**document, "features": [], "numberReturned": 0}).encode(), headers


ANSWERS: dict[str, Callable[[Reply], Reply]] = {
    "http-500": lambda reply: SERVER_ERROR,
    "truncated-json": cut,
    "empty-page": emptied,
}


@dataclass
class Harness:
    """One case: its source, and its catalogue (SQLite index and ledger in ``folder``)."""

    folder: Path
    server: Misbehaving

    def __post_init__(self) -> None:
        self.store: Store = open_store({"backend": "sqlite", "path": str(self.folder / "catalogue.db")})
        self.ledger: Ledger = open_ledger(self.folder / "harvest.db")
        self.source = self.source_in()

    def source_in(self) -> Source:
        settings: dict[str, Any] = {"page_size": PAGE_SIZE, "timeout": 5.0, "retries": 1}
        server = self.server
        return Source(
            id=SOURCE_ID,
            pole="THEIA",
            protocol=server.protocol,
            format=server.format,
            url=server.url,
            **settings,
        )

    def harvest(self, **options: Any) -> RunSummary:
        return HarvestRun(self.source, self.store, self.ledger, batch_size=3, **options).execute()

    def fail_on(self, pages: set[tuple[str, int]], answer: Callable[[Reply], Reply], times: int = 0) -> None:
        """Arm a fault: ``answer`` instead of these item pages (its retries too); ``times`` > 0: only so
        many times."""
        answered: list[Request] = []

        def fault(page: int, request: Request, reply: Reply) -> Reply | None:
            if items_page(self.server, request) not in pages or (times and len(answered) >= times):
                return None
            answered.append(request)
            return answer(reply)

        self.server.arm(fault)

    def asked(self, since: int) -> list[tuple[str, int]]:
        """The item pages asked for from the ``since``-th request the server received on, in order."""
        received = self.server.received[since:]
        return [page for page in (items_page(self.server, r) for r in received) if page is not None]

    def catalogue(self, store: Store | None = None) -> dict[str, Record]:
        """The source's records without what differs between two harvests (when and from where) and
        their SHACL reports (made once a listing is over)."""
        store = store or self.store
        records = store.search(Query(limit=10_000, properties={"source": [SOURCE_ID]})).records
        assert len(records) == store.count(SOURCE_ID)
        return {r.id: msgspec.structs.replace(r, provenance=None, quality=None) for r in records}

    def reference(self) -> dict[str, Record]:
        """What the source holds now, as a clean harvest into an empty catalogue sees it."""
        folder = self.folder / "reference"
        folder.mkdir()
        store = open_store({"backend": "sqlite", "path": str(folder / "catalogue.db")})
        summary = HarvestRun(self.source, store, open_ledger(folder / "harvest.db")).execute()
        assert summary.status == "succeeded" and not summary.counts["rejected"], summary.line()
        return self.catalogue(store)

    def clean_start(self) -> dict[str, Record]:
        """A clean harvest, then every item of the source revised."""
        first = self.harvest()
        assert first.status == "succeeded" and first.counts["added"] == self.server.held(), first.line()
        before = self.catalogue()
        for position in range(sum(len(items) for items in collections_of(self.server).values())):
            self.server.revise(position)
        return before

    def check(self, runs: list[int | None]) -> None:
        """The catalogue after ``runs`` (one listing) is the source's; no run deleted anything, and the
        runs together listed every record."""
        final = self.catalogue()
        now = self.reference()
        assert set(final) == set(now), f"lost: {sorted(set(now) - set(final))}"
        stale = sorted(rid for rid in now if final[rid] != now[rid])
        assert not stale, f"items skipped by the listing (their old version stayed): {stale}"
        seen: set[str] = set()
        for run in runs:
            assert run is not None and not self.ledger.events(run, "deleted"), run
            seen |= {
                e.record_id
                for e in self.ledger.events(run)
                if e.record_id and e.status in ("added", "updated", "unchanged")
            }
        assert seen == set(now), f"not listed: {sorted(set(now) - seen)}"
        assert self.ledger.listing(SOURCE_ID) is None  # the listing is over


# The OGC API records in two catalogues: the first holds three (pages 1 to 3), the second two.
SERVERS: dict[str, Callable[[], Misbehaving]] = {
    "stac": FaultyStac,
    "ogcapi-records": lambda: FaultyRecords(catalogues=2),
}


@pytest.fixture(params=list(SERVERS))
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    server = SERVERS[request.param]()
    try:
        yield Harness(tmp_path, server)
    finally:
        server.disarm()
        server.close()


def resumed(h: Harness, failed: RunSummary | int, *, disarm: bool = True) -> RunSummary:
    """The next run (the fault disarmed, unless not to): it continues the listing of the run ``failed``
    (its summary or id) and completes it."""
    if disarm:
        h.server.disarm()
    run = h.harvest()
    assert run.status == "succeeded" and run.listing_complete, run.line()
    assert run.resumed_from == (failed.run_id if isinstance(failed, RunSummary) else failed), run.line()
    return run


def continued(h: Harness, failed: RunSummary) -> list[tuple[str, int]]:
    """The next run continues the listing of the run ``failed`` and completes it, with the source's
    catalogue (``Harness.check``); the item pages it asked for."""
    mark = len(h.server.received)
    run = resumed(h, failed)
    asked = h.asked(mark)  # before the check's own harvest of the source
    h.check([failed.run_id, run.run_id])
    return asked


def failed_run(run: RunSummary, *where: str) -> None:
    assert run.status == "failed" and not run.listing_complete and run.error, run.line()
    assert all(text in run.error for text in where), run.error


# --- (1) a run fails on page k of collection i of n; the next run continues ----------------------------


@pytest.mark.parametrize("fault", list(ANSWERS))
def test_failure_in_a_collection_then_resumed(harness: Harness, fault: str) -> None:
    h = harness
    h.clean_start()
    collection = target(h.server)
    h.fail_on({(collection, 2)}, ANSWERS[fault])
    mark = len(h.server.received)
    failed = h.harvest(full=True)
    failed_run(failed, f"items of {collection} page 2")
    assert h.asked(mark)[-1] == (collection, 2)  # the listing stopped there
    asked = continued(h, failed)
    # it went on from the page that failed, not from the collection's start nor the next collection
    assert asked[0] == (collection, 2), asked


# --- (2) the resumed next link is refused (an expired token) --------------------------------------------


def test_resumed_next_link_refused_starts_its_collection_again(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    h.clean_start()
    collection = target(h.server)
    h.fail_on({(collection, 2)}, ANSWERS["http-500"])
    failed = h.harvest(full=True)
    failed_run(failed, f"items of {collection} page 2", "HTTP 500")
    h.fail_on({(collection, 2)}, lambda reply: EXPIRED, times=1)  # the checkpoint's link, once
    mark = len(h.server.received)
    with caplog.at_level(logging.WARNING, logger="harvester.run"):
        continued = resumed(h, failed, disarm=False)
    asked = h.asked(mark)
    assert any(
        "the checkpoint no longer works" in message and "HTTP 400" in message and collection in message
        for message in caplog.messages
    ), caplog.messages
    h.check([failed.run_id, continued.run_id])
    pages = len(collections_of(h.server)[collection])
    assert asked[: pages + 1] == [(collection, 2), *((collection, n) for n in range(1, pages + 1))], asked


# --- (3) the resumed run fails on its first page too (the server still failing); a third run succeeds ----


@pytest.mark.parametrize("fault", list(ANSWERS))
def test_resumed_run_failing_again_then_a_third_run(harness: Harness, fault: str) -> None:
    h = harness
    h.clean_start()
    collection = target(h.server)
    h.fail_on({(collection, 2)}, ANSWERS[fault])
    failed = h.harvest(full=True)
    failed_run(failed, f"items of {collection} page 2")
    checkpoint = h.ledger.listing(SOURCE_ID)
    assert checkpoint is not None and checkpoint.checkpoint is not None
    mark = len(h.server.received)
    again = h.harvest()  # the fault still armed
    failed_run(again, f"items of {collection} page 2")
    assert again.resumed_from == failed.run_id and again.counts["deleted"] == 0, again.line()
    asked = h.asked(mark)
    assert asked[0] == (collection, 2), asked
    if fault == "truncated-json":  # not the listing: taken as a checkpoint that no longer works
        assert asked[:3] == [(collection, 2), (collection, 1), (collection, 2)], asked
    else:
        assert set(asked) == {(collection, 2)}, asked
        assert again.received == 0 and h.ledger.listing(SOURCE_ID) == checkpoint  # nothing moved
    third = resumed(h, failed)
    h.check([failed.run_id, again.run_id, third.run_id])


# --- (4) interrupted right after the last page of a collection: the checkpoint names the next one -------


def through(server: Misbehaving, collection: str) -> int:
    """The records a listing has received once ``collection``'s last item is: the STAC collections
    themselves, then the items of the collections up to it."""
    held = collections_of(server)
    ids = list(held)
    items = sum(len(held[c]) for c in ids[: ids.index(collection) + 1])
    return items + (len(held) if isinstance(server, FaultyStac) else 0)


@pytest.mark.parametrize("where", ["a-middle-collection", "the-last-collection"])
def test_stopped_after_the_last_page_of_a_collection(harness: Harness, where: str) -> None:
    h = harness
    h.clean_start()
    ids = list(collections_of(h.server))
    collection = target(h.server) if where == "a-middle-collection" else ids[-1]
    stop = threading.Event()
    last = through(h.server, collection)

    def progress(received: int, matched: int | None) -> None:
        if received == last:
            stop.set()

    stopped = HarvestRun(h.source, h.store, h.ledger, full=True, progress=progress, stop=stop).execute()
    assert stopped.status == "stopped" and not stopped.listing_complete, stopped.line()
    assert stopped.received == last and stopped.counts["deleted"] == 0, stopped.line()
    listing = h.ledger.listing(SOURCE_ID)
    assert listing is not None and listing.checkpoint is not None
    following = ids[ids.index(collection) + 1 :]
    assert listing.checkpoint["collections"] == following and listing.checkpoint["next"] is None
    mark = len(h.server.received)
    run = resumed(h, stopped)
    assert h.asked(mark) == [(c, n + 1) for c in following for n in range(len(collections_of(h.server)[c]))]
    assert run.received == h.server.held() - last
    h.check([stopped.run_id, run.run_id])


def test_failure_on_the_first_page_of_the_next_collection(harness: Harness) -> None:
    h = harness
    h.clean_start()
    ids = list(collections_of(h.server))
    collection = ids[ids.index(target(h.server)) + 1]
    h.fail_on({(collection, 1)}, ANSWERS["http-500"])
    failed = h.harvest(full=True)
    failed_run(failed, f"items of {collection} page 1")
    listing = h.ledger.listing(SOURCE_ID)
    assert listing is not None and listing.checkpoint is not None
    assert listing.checkpoint["collections"][0] == collection and listing.checkpoint["next"] is None
    asked = continued(h, failed)
    assert asked[0] == (collection, 1), asked


# --- a listing that keeps failing at its checkpoint: `terracat harvest --restart` lists anew ------------


def test_a_listing_left_open_is_dropped_by_a_restart(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    """The failed run's checkpoint fails again in the next run; ``terracat harvest --full --restart``
    drops that listing, lists the source from its first page, and ends with its catalogue."""
    h = harness
    h.clean_start()
    collection = target(h.server)
    h.fail_on({(collection, 2)}, ANSWERS["http-500"], times=4)  # two runs, each asking twice (a retry)
    failed = h.harvest(full=True)
    failed_run(failed, f"items of {collection} page 2")
    again = h.harvest(full=True)
    failed_run(again, f"items of {collection} page 2")
    assert again.resumed_from == failed.run_id
    config = h.folder / "terracat.yaml"
    source = {"id": SOURCE_ID, "pole": "THEIA", "protocol": h.source.protocol, "format": h.source.format}
    source |= {"url": h.source.url, "page_size": PAGE_SIZE, "timeout": 5.0, "retries": 1}
    config.write_text(
        "store: {backend: sqlite, path: catalogue.db}\nharvest: {ledger: harvest.db}\n"
        f"sources:\n  - {json.dumps(source)}\n",
        encoding="utf-8",
    )
    mark = len(h.server.received)
    assert main(["harvest", "--config", str(config), "--full", "--restart"]) == 0, capsys.readouterr()
    restarted = h.ledger.runs(SOURCE_ID)[0]
    assert restarted.status == "succeeded" and restarted.listing_complete and restarted.resumed_from is None
    assert restarted.notes == [
        f"the full listing run #{failed.run_id} left open was dropped (restart): listing anew"
    ]
    assert h.asked(mark)[0] == (next(iter(collections_of(h.server))), 1)  # from the first page
    h.check([restarted.id])


# --- an empty page with a next link and no total: the listing ends there, and deletes nothing ----------


def without_total(reply: Reply) -> Reply:
    """The page without its total (``numberMatched``, or the STAC context extension's)."""
    status, content, headers = reply
    document = {k: v for k, v in json.loads(content).items() if k not in ("numberMatched", "context")}
    return status, json.dumps(document).encode(), headers


def test_an_empty_page_without_a_total_ends_the_listing_but_deletes_nothing(harness: Harness) -> None:
    """Nothing tells whether items remain behind the empty page's next link: the run ends its listing
    there (succeeded) but deletes none of the records it did not see."""
    h = harness
    h.clean_start()
    collection = target(h.server)

    def fault(page: int, request: Request, reply: Reply) -> Reply | None:
        asked = items_page(h.server, request)
        if asked is None:
            return None
        return emptied(without_total(reply)) if asked == (collection, 2) else without_total(reply)

    h.server.arm(fault)
    run = h.harvest(full=True)
    assert run.status == "succeeded" and run.listing_complete, run.line()
    unseen = len(collections_of(h.server)[collection]) - 1  # its first page only was listed
    assert run.notes == [
        f"{unseen} record(s) not seen but none deleted: items of {collection}: an empty page with a next link"
        " ended the listing (features received before it: 1), so the listing may have missed records the"
        " source still holds; the next full harvest deletes what is gone"
    ]
    assert not h.ledger.events(run.run_id, "deleted") and run.counts["deleted"] == 0
    assert h.store.count(SOURCE_ID) == h.server.held()  # nothing lost


# --- the STAC collections listed before the items: a failure there ends the run, not the collections ----


def test_collections_listing_failing_midway(tmp_path: Path) -> None:
    """The API's collections are paged (five a page); the second page's next link repeats its own
    request. The run fails after that page; the next one lists the collections again, all of them, and
    their items: none is left out (nor, when the guard lets it, deleted as no longer listed)."""
    server = FaultyStac(Style(collections_page=5))
    try:
        h = Harness(tmp_path, server)
        h.clean_start()

        def looping(page: int, request: Request, reply: Reply) -> Reply | None:
            if request.path != "/collections" or request.query.get("token") != "5":
                return None
            status, content, headers = reply
            document = json.loads(content)
            document["links"] = [{"rel": "next", "href": f"{server.url}/collections?token=5"}]
            return status, json.dumps(document).encode(), headers

        server.arm(looping)
        failed = h.harvest(full=True)
        failed_run(failed, "collections page 2", "repeats the request of page 2")
        continued(h, failed)
    finally:
        server.disarm()
        server.close()


# --- the harvester SIGKILLed while a page of a collection's items arrives ---------------------------------


def committed(ledger: Ledger, collection: str) -> dict[str, Any] | None:
    """The checkpoint of the open listing, once it is inside ``collection``'s items."""
    listing = ledger.listing(SOURCE_ID)
    checkpoint = listing.checkpoint if listing is not None else None
    inside = checkpoint and checkpoint.get("next") and checkpoint["collections"][0] == collection
    return checkpoint if inside else None


def test_harvester_killed_mid_page(tmp_path: Path) -> None:
    """``terracat harvest`` in a subprocess, SIGKILLed while the last page of a collection's items (its
    fourth) is half received, once the run has committed a checkpoint inside that collection: the next
    run continues from it, inside that collection, and ends with the source's catalogue."""
    server = FaultyStac()
    try:
        h = Harness(tmp_path, server)
        h.clean_start()
        collection = target(server)
        source = {"id": SOURCE_ID, "pole": "THEIA", "protocol": "stac", "format": "stac", "url": server.url}
        source |= {"page_size": PAGE_SIZE, "timeout": 30, "retries": 0}
        config = tmp_path / "terracat.yaml"
        config.write_text(
            "store: {backend: sqlite, path: catalogue.db}\n"
            "harvest: {ledger: harvest.db, batch_size: 1}\n"
            f"sources:\n  - {json.dumps(source)}\n",
            encoding="utf-8",
        )
        reached = threading.Event()

        def half_page(page: int, request: Request, reply: Reply) -> Action | None:
            return (
                stall(reply, server.release, reached)
                if items_page(server, request) == (collection, len(server.items[collection]))
                else None
            )

        server.arm(half_page)
        command = [sys.executable, "-m", "api.cli", "harvest", "--full", "--config", str(config)]
        process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            assert reached.wait(60), "the last page was never asked for"
            deadline = time.monotonic() + 30
            while committed(h.ledger, collection) is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert committed(h.ledger, collection), h.ledger.listing(SOURCE_ID)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            server.disarm()
        assert process.returncode == -signal.SIGKILL
        killed = h.ledger.runs(SOURCE_ID)[0].id
        mark = len(server.received)
        continued = resumed(h, killed)
        asked = h.asked(mark)
        assert [run.status for run in h.ledger.runs(SOURCE_ID)] == ["succeeded", "interrupted", "succeeded"]
        h.check([killed, continued.run_id])
        assert asked[0] in {(collection, 2), (collection, 3), (collection, 4)}, asked  # after page 1
    finally:
        server.disarm()
        server.close()
