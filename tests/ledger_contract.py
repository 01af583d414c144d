"""The contract every ``Ledger`` backend passes (``harvester.ledger``), whatever it is built on.

A backend's test module subclasses ``LedgerContract``, provides a ``make_ledger`` fixture (a function
returning a new, empty ledger each time it is called, closed at teardown) and implements ``reopen``
(another handle on the same ledger, as another process would open it).

The cases are the behaviour the harvester relies on, as the SQLite ledger first defined it and the
harvest tests exercise it: increasing run ids and the newest-first history, runs left 'running'
interrupted by the next start, events in filing order and paged, raw bytes returned exactly (real
ISO 19139 records of the demo), records forgotten when removed, the unmapped keyword report and its
replacement, a listing's checkpoint, received count and seen records across batches and its end, the
source lock, and a copy through ``dump``/``load`` that keeps all of it.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

import pytest

from harvester.ledger import KINDS, Event, Known, Ledger, Listing, RunOverlap, StoredUnmapped
from harvester.raw import RawRecord
from harvester.run import source_lock

DEMO_RECORDS = Path(__file__).resolve().parent.parent / "config" / "demo" / "records" / "iso19139"

MakeLedger = Callable[[], Ledger]


def demo_raws(source_id: str = "demo", count: int = 6) -> list[tuple[str, str, RawRecord]]:
    """(record id, ledger key, raw) of real demo records, ids in file name order."""
    out = []
    for path in sorted(DEMO_RECORDS.glob("*.xml"))[:count]:
        raw = RawRecord(source_id, "iso19139", path.read_bytes(), datestamp="2024-05-01T00:00:00Z")
        out.append((f"{source_id}:{path.stem}", str(path.relative_to(DEMO_RECORDS)), raw))
    return out


def added(changed: list[tuple[str, str, RawRecord]]) -> list[Event]:
    return [Event(rid, key, "added") for rid, key, _ in changed]


class LedgerContract(ABC):
    @abstractmethod
    def reopen(self, ledger: Ledger) -> Ledger:
        """Another handle on ``ledger``'s content, with its own connection (closed by the caller)."""

    @pytest.fixture
    def ledger(self, make_ledger: MakeLedger) -> Ledger:
        return make_ledger()

    # runs -----------------------------------------------------------------------------------------

    def test_run_ids_increase_and_history_is_newest_first(self, ledger: Ledger) -> None:
        first = ledger.start_run("demo")
        second = ledger.start_run("other")
        third = ledger.start_run("demo")
        assert first < second < third
        assert [run.id for run in ledger.runs()] == [third, second, first]
        assert [run.id for run in ledger.runs("demo")] == [third, first]
        assert [run.id for run in ledger.runs("demo", limit=1)] == [third]
        assert ledger.runs("nobody") == []
        assert ledger.source_ids() == ["demo", "other"]

    def test_a_new_run_interrupts_the_runs_of_its_source_left_running(self, ledger: Ledger) -> None:
        dead = ledger.start_run("demo")
        other = ledger.start_run("other")
        ledger.start_run("demo")
        statuses = {run.id: run.status for run in ledger.runs()}
        assert statuses[dead] == "interrupted"
        assert statuses[other] == "running"  # another source's run is left alone

    def test_a_finished_run_keeps_its_outcome(self, ledger: Ledger) -> None:
        run_id = ledger.start_run("demo")
        started = ledger.run(run_id)
        assert started is not None and started.status == "running" and started.finished is None
        assert started.counts == {} and started.notes == [] and started.kind == "full"
        ledger.finish_run(
            run_id,
            status="failed",
            listing_complete=True,
            matched=41,
            counts={"added": 40, "rejected": 1},
            error="HTTPError: 503",
            kind="incremental",
            resumed_from=7,
            notes=["deletion withheld: 3 of 10 records", "fell back to GetRecords"],
        )
        run = ledger.run(run_id)
        assert run is not None
        assert (run.source_id, run.started, run.status) == ("demo", started.started, "failed")
        assert run.finished is not None and run.finished >= run.started
        assert run.listing_complete is True and run.matched == 41
        assert run.counts == {"added": 40, "rejected": 1}
        assert (run.error, run.kind, run.resumed_from) == ("HTTPError: 503", "incremental", 7)
        assert run.notes == ["deletion withheld: 3 of 10 records", "fell back to GetRecords"]
        assert ledger.runs("demo") == [run]

    def test_counts_are_replaced_not_merged(self, ledger: Ledger) -> None:
        run_id = ledger.start_run("demo")
        outcome = dict(listing_complete=False, matched=None, error=None)
        ledger.finish_run(run_id, status="stopped", counts={"added": 2, "rejected": 1}, **outcome)
        ledger.finish_run(run_id, status="succeeded", counts={"unchanged": 3}, **outcome)
        run = ledger.run(run_id)
        assert run is not None and run.counts == {"unchanged": 3} and run.status == "succeeded"

    def test_unknown_runs(self, ledger: Ledger) -> None:
        assert ledger.run(12345) is None
        assert ledger.events(12345) == []
        # finishing a run the ledger never had changes nothing
        ledger.finish_run(12345, status="failed", listing_complete=False, matched=None, counts={}, error="x")
        assert ledger.run(12345) is None and ledger.runs() == []

    def test_run_ids_are_unique_when_runs_start_at_once(self, ledger: Ledger) -> None:
        ledgers = [ledger, self.reopen(ledger)]  # as two processes would, each with its connection
        ids: list[int] = []
        barrier = threading.Barrier(4)

        def start(ledger: Ledger, source: str) -> None:
            barrier.wait()
            for _ in range(5):
                ids.append(ledger.start_run(source))

        threads = [threading.Thread(target=start, args=(ledgers[i % 2], f"source-{i}")) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(ids) == len(set(ids)) == 20
        assert sorted(run.id for run in ledgers[0].runs(limit=100)) == sorted(ids)
        ledgers[1].close()

    # events ---------------------------------------------------------------------------------------

    def test_events_keep_their_filing_order_and_page(self, ledger: Ledger) -> None:
        run_id = ledger.start_run("demo")
        other = ledger.start_run("other")
        statuses = ["added", "rejected", "unchanged", "added", "deleted", "rejected", "added"]
        events = [
            Event(None if status == "rejected" else f"demo:{i}", f"file-{i}.xml", status)
            for i, status in enumerate(statuses)
        ]
        events[1] = Event(None, "file-1.xml", "rejected", "not-xml", "the file is not XML: line 1")
        for batch in (events[:3], events[3:5], events[5:]):
            ledger.save(run_id, [], batch)
        ledger.save(other, [], [Event("other:1", "x", "added")])
        assert ledger.events(run_id) == events
        assert ledger.events(run_id, "added") == [e for e in events if e.status == "added"]
        assert ledger.events(run_id, "rejected")[0].code == "not-xml"
        assert ledger.events(run_id, limit=2) == events[:2]
        assert ledger.events(run_id, limit=3, offset=2) == events[2:5]
        assert ledger.events(run_id, offset=5) == events[5:]
        assert ledger.events(run_id, "added", limit=2, offset=1) == [events[3], events[6]]
        assert ledger.events(run_id, limit=5, offset=20) == []
        assert ledger.events(other) == [Event("other:1", "x", "added")]

    def test_many_events_page_past_a_search_window(self, ledger: Ledger) -> None:
        run_id = ledger.start_run("demo")
        events = [Event(f"demo:{i:05d}", f"page {i // 100}, record {i % 100}", "added") for i in range(2500)]
        ledger.save(run_id, [], events)
        assert ledger.events(run_id) == events
        assert ledger.events(run_id, limit=10, offset=2400) == events[2400:2410]

    # raw records ----------------------------------------------------------------------------------

    def test_raw_records_come_back_byte_for_byte(self, ledger: Ledger) -> None:
        run_id = ledger.start_run("demo")
        changed = demo_raws()
        ledger.save(run_id, changed, added(changed))
        for rid, key, raw in changed:
            back = ledger.raw(rid)
            assert back is not None
            assert back.content == raw.content and back.digest == raw.digest
            assert (back.source_id, back.format, back.datestamp) == ("demo", "iso19139", raw.datestamp)
            assert (back.native_id, back.locator) == (key, rid)
        assert ledger.raw("demo:nothing") is None
        assert ledger.known("demo") == {key: Known(rid, raw.digest) for rid, key, raw in changed}
        assert ledger.known("other") == {}

    def test_a_changed_record_replaces_its_raw_and_a_removed_one_is_forgotten(self, ledger: Ledger) -> None:
        first = ledger.start_run("demo")
        changed = demo_raws(count=3)
        ledger.save(first, changed, added(changed))
        second = ledger.start_run("demo")
        rid, key, _ = changed[0]
        newer = RawRecord("demo", "iso19139", DEMO_RECORDS.joinpath(changed[1][1]).read_bytes())
        ledger.save(second, [(rid, key, newer)], [Event(rid, key, "updated")], removed=[changed[2][0]])
        back = ledger.raw(rid)
        assert back is not None and back.content == newer.content and back.datestamp is None
        assert ledger.raw(changed[2][0]) is None
        assert ledger.known("demo") == {
            key: Known(rid, newer.digest),
            changed[1][1]: Known(changed[1][0], changed[1][2].digest),
        }
        started = {run.id: run.started for run in ledger.runs()}
        by_id = {raw.locator: when for raw, when in ledger.raw_records()}
        assert by_id == {rid: started[second], changed[1][0]: started[first]}

    def test_raw_records_are_read_in_record_id_order_a_batch_at_a_time(self, ledger: Ledger) -> None:
        run_id = ledger.start_run("demo")
        changed = demo_raws("b", 5) + demo_raws("a", 4)
        ledger.save(run_id, changed, [])
        seen = []
        for raw, started in ledger.raw_records(batch_size=2):
            seen.append(raw.locator)
            assert started == ledger.runs()[0].started
            if len(seen) == 3:  # the ledger can be written between two batches
                ledger.set_unmapped([raw.locator], [(raw.locator, "océan", "")])
        assert seen == sorted(rid for rid, _, _ in changed)
        assert ledger.unmapped() == [("a", "océan", "", 1)]

    def test_raws_are_read_many_at_a_time(self, ledger: Ledger) -> None:
        """More ids than one look-up takes (500 in SQLite, 1 000 in Elasticsearch), some twice, some
        unknown, some odd: each raw found comes back as ``raw`` gives it, the unknown ones are left out."""
        run_id = ledger.start_run("demo")
        templates = demo_raws(count=3)
        changed = [(f"demo:{i:05d}", f"key {i}", templates[i % 3][2]) for i in range(1_203)]
        changed.append(("demo:" + "x" * 600 + "/é ?", "long key", templates[0][2]))
        ledger.save(run_id, changed, [])
        wanted = [*[rid for rid, _, _ in changed][::-1], "demo:nothing", "demo:00007", "demo:99999"]
        found = ledger.raws(wanted)
        assert set(found) == {rid for rid, _, _ in changed}
        for rid, key, raw in changed[::97] + changed[-1:]:
            back = found[rid]
            assert back == ledger.raw(rid)
            assert (back.content, back.native_id, back.locator) == (raw.content, key, rid)
        assert ledger.raws([]) == {} and ledger.raws(["demo:nothing"]) == {}

    def test_odd_record_ids(self, ledger: Ledger) -> None:
        """Ids with slashes, spaces, accents and over 512 bytes (longer than an Elasticsearch _id)."""
        run_id = ledger.start_run("demo")
        raw = demo_raws(count=1)[0][2]
        ids = ["demo:a/b c?d=é#f", "demo:" + "x" * 600, "demo:urn:uuid:1f2e"]
        ledger.save(run_id, [(rid, f"key {i}", raw) for i, rid in enumerate(ids)], [])
        for rid in ids:
            back = ledger.raw(rid)
            assert back is not None and back.locator == rid
        assert {k.record_id for k in ledger.known("demo").values()} == set(ids)
        ledger.save(run_id, [], [], removed=[ids[1]])
        assert ledger.raw(ids[1]) is None and len(ledger.known("demo")) == 2

    # unmapped keywords ----------------------------------------------------------------------------

    def test_unmapped_keywords_are_counted_most_frequent_first(self, ledger: Ledger) -> None:
        run_id = ledger.start_run("demo")
        demo, other = demo_raws("demo", 3), demo_raws("other", 2)
        gcmd = "GCMD Science Keywords"
        unmapped = [
            (demo[0][0], "houle", ""),
            (demo[1][0], "houle", ""),
            (demo[2][0], "houle", ""),
            (demo[0][0], "salinité", gcmd),
            (demo[1][0], "salinité", gcmd),
            (demo[0][0], "zooplancton", ""),
        ]
        ledger.save(run_id, demo, [], unmapped=unmapped)
        ledger.save(run_id, other, [], unmapped=[(other[0][0], "houle", ""), (other[1][0], "houle", "")])
        assert ledger.unmapped() == [
            ("demo", "houle", "", 3),
            ("demo", "salinité", gcmd, 2),
            ("other", "houle", "", 2),
            ("demo", "zooplancton", "", 1),
        ]
        assert ledger.unmapped("other") == [("other", "houle", "", 2)]
        assert ledger.unmapped(limit=1) == [("demo", "houle", "", 3)]
        assert ledger.unmapped("nobody") == []

    def test_unmapped_keywords_follow_their_records(self, ledger: Ledger) -> None:
        run_id = ledger.start_run("demo")
        changed = demo_raws(count=3)
        (a, ka, ra), (b, _, _), (c, _, _) = changed
        ledger.save(run_id, changed, [], unmapped=[(a, "houle", ""), (b, "houle", ""), (c, "houle", "")])
        # a changed record's report is replaced; a removed record's dropped
        ledger.save(run_id, [(a, ka, ra)], [], removed=[c], unmapped=[(a, "marée", "")])
        assert ledger.unmapped() == [("demo", "houle", "", 1), ("demo", "marée", "", 1)]
        # reindex: replaced for the records named, a record without a raw left out
        ledger.set_unmapped([a, b, "demo:gone"], [(b, "marée", "GEMET"), ("demo:gone", "marée", "")])
        assert ledger.unmapped() == [("demo", "marée", "GEMET", 1)]
        ledger.set_unmapped([b], [])
        assert ledger.unmapped() == []

    # listings -------------------------------------------------------------------------------------

    def test_a_listing_goes_from_beginning_to_end(self, ledger: Ledger) -> None:
        assert ledger.watermark("demo") is None and ledger.listing("demo") is None
        assert ledger.seen("demo") == set()
        run_id = ledger.start_run("demo")
        ledger.begin_listing("demo", run_id, "full", None, "2024-05-01T10:00:00Z")
        assert ledger.listing("demo") == Listing(run_id, "full", None, "2024-05-01T10:00:00Z", None, 0)
        changed = demo_raws(count=4)
        ledger.save(
            run_id,
            changed[:2],
            added(changed[:2]),
            source_id="demo",
            seen=[rid for rid, _, _ in changed[:2]],
            checkpoint={"start": 3, "token": "ab/cd"},
            received=2,
        )
        ledger.save(run_id, [], [], source_id="demo", seen=[changed[2][0]], received=1)  # checkpoint kept
        listing = ledger.listing("demo")
        assert listing is not None
        assert (listing.checkpoint, listing.received) == ({"start": 3, "token": "ab/cd"}, 3)
        assert ledger.seen("demo") == {rid for rid, _, _ in changed[:3]}
        ledger.set_listing_watermark("demo", "2024-05-01T09:59:58Z")  # the server's clock
        listing = ledger.listing("demo")
        assert listing is not None and listing.watermark == "2024-05-01T09:59:58Z"
        assert ledger.watermark("demo") is None  # until the listing completes
        ledger.end_listing("demo", "2024-05-01T09:59:58Z")
        assert ledger.watermark("demo") == "2024-05-01T09:59:58Z"
        assert ledger.listing("demo") is None and ledger.seen("demo") == set()

    def test_a_new_listing_forgets_the_interrupted_one(self, ledger: Ledger) -> None:
        first = ledger.start_run("demo")
        ledger.begin_listing("demo", first, "full", None, "2024-05-01T10:00:00Z")
        ledger.save(
            first, [], [], source_id="demo", seen=["demo:1", "demo:2"], checkpoint={"page": 2}, received=2
        )
        ledger.end_listing("demo", "2024-05-01T10:00:00Z")
        second = ledger.start_run("demo")
        ledger.begin_listing("demo", second, "incremental", "2024-05-01T10:00:00Z", "2024-05-02T10:00:00Z")
        ledger.save(second, [], [], source_id="demo", seen=["demo:3"], checkpoint={"page": 1}, received=1)
        third = ledger.start_run("demo")
        ledger.begin_listing("demo", third, "full", None, "2024-05-03T10:00:00Z")
        assert ledger.listing("demo") == Listing(third, "full", None, "2024-05-03T10:00:00Z", None, 0)
        assert ledger.seen("demo") == set()
        assert ledger.watermark("demo") == "2024-05-01T10:00:00Z"  # the last complete listing's

    def test_listings_are_per_source(self, ledger: Ledger) -> None:
        run_id = ledger.start_run("demo")
        ledger.begin_listing("demo", run_id, "full", None, "2024-05-01T10:00:00Z")
        # progress of a source with no open listing changes nothing
        ledger.save(run_id, [], [], source_id="other", seen=["other:1"], checkpoint={"page": 9}, received=5)
        ledger.set_listing_watermark("other", "2024-01-01T00:00:00Z")
        assert ledger.listing("other") is None and ledger.watermark("other") is None
        ledger.save(run_id, [], [], source_id="demo", seen=["demo:1"], received=1)
        ledger.end_listing("other", "2024-05-01T11:00:00Z")
        assert ledger.watermark("other") == "2024-05-01T11:00:00Z"
        assert ledger.seen("demo") == {"demo:1"}
        listing = ledger.listing("demo")
        assert listing is not None and listing.received == 1

    # locks ----------------------------------------------------------------------------------------

    def test_a_source_lock_is_exclusive_until_released(self, ledger: Ledger) -> None:
        elsewhere = self.reopen(ledger)  # as another process would try to take it
        with ledger.lock("demo"):
            with (
                pytest.raises(RunOverlap, match="a harvest of demo is already running"),
                elsewhere.lock("demo"),
            ):
                pass
            with pytest.raises(RunOverlap), source_lock(ledger, "demo"):
                pass
            with elsewhere.lock("other"):  # another source is free
                pass
        with source_lock(elsewhere, "demo"):
            pass
        elsewhere.close()

    def test_a_lock_is_released_when_its_holder_fails(self, ledger: Ledger) -> None:
        with pytest.raises(ValueError), ledger.lock("demo"):
            raise ValueError("the run failed")
        with ledger.lock("demo"):
            pass

    # migration ------------------------------------------------------------------------------------

    def test_dump_and_load_copy_everything(self, make_ledger: MakeLedger) -> None:
        ledger = make_ledger()
        first = ledger.start_run("demo")
        changed = demo_raws(count=5)
        events = [*added(changed), Event(None, "broken.xml", "rejected", "not-xml", "no root element")]
        ledger.save(
            first, changed, events, unmapped=[(changed[0][0], "houle", ""), (changed[1][0], "houle", "")]
        )
        ledger.finish_run(
            first, status="succeeded", listing_complete=True, matched=6, counts={"added": 5}, error=None
        )
        ledger.begin_listing("demo", first, "full", None, "2024-05-01T10:00:00Z")
        ledger.end_listing("demo", "2024-05-01T10:00:00Z")
        second = ledger.start_run("demo")
        ledger.begin_listing("demo", second, "incremental", "2024-05-01T10:00:00Z", "2024-05-02T10:00:00Z")
        other = demo_raws("other", 2)
        ledger.save(
            second,
            other,
            added(other),
            source_id="demo",
            seen=[changed[0][0]],
            checkpoint={"resumptionToken": "x!1"},
            received=1,
            unmapped=[(other[0][0], "marée", "GEMET")],
        )
        entries = list(ledger.dump())
        assert sum(isinstance(e, StoredUnmapped) for e in entries) == 3
        copy = make_ledger()
        copy.load(entries)
        assert copy.tally() == ledger.tally() == dict(zip(KINDS, [2, 7, 8, 1, 1, 3], strict=True))
        assert copy.runs() == ledger.runs()
        for run_id in (first, second):
            assert copy.events(run_id) == ledger.events(run_id)
        for source in ("demo", "other"):
            assert copy.known(source) == ledger.known(source)
            assert copy.unmapped(source) == ledger.unmapped(source)
        assert copy.raw(changed[3][0]) == ledger.raw(changed[3][0])
        assert copy.listing("demo") == ledger.listing("demo") is not None
        assert copy.watermark("demo") == "2024-05-01T10:00:00Z"
        assert copy.seen("demo") == {changed[0][0]}
        assert copy.start_run("demo") > second  # new ids follow the copied ones
