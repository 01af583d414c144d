"""Harvest runs over a ``directory`` source of the real corpus records: statuses, re-harvests, failures.

The records are copied to a temporary folder so a test can change, break or remove them like a pole's
catalogue would, and the run goes through the real crosswalk, ledger and SQLite index.
"""

from __future__ import annotations

import fcntl
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from api.settings import Settings, load
from catalogue import fair, quality
from catalogue.store import Store, open_store
from harvester.ledger import Ledger, open_ledger
from harvester.run import HarvestRun, RunSummary

CONFIG = """\
store: {backend: sqlite, path: var/catalogue.db}
harvest: {ledger: var/harvest.db, batch_size: 7}
sources:
  - id: demo
    pole: ODATIS
    protocol: directory
    path: records
    page_size: 10
"""

# Real identifier clashes in the corpus: three SEMIC test inputs share one fileIdentifier, and the
# Environment Canada gmi record repeats the fileIdentifier of its ISO 19139 twin.
SEMIC_ID = "123e4567-e89b-12d3-a456-426655440000"
CANADA_ID = "3f342f64-9348-11df-ba6a-0014c2c00eab"


@pytest.fixture
def setup(tmp_path: Path, demo_records: Path) -> Settings:
    shutil.copytree(demo_records, tmp_path / "records")
    (tmp_path / "terracat.yaml").write_text(CONFIG, encoding="utf-8")
    return load(tmp_path / "terracat.yaml")


def run(settings: Settings) -> tuple[RunSummary, Store, Ledger]:
    store = open_store(settings.store)
    ledger = open_ledger(settings.harvest.ledger)
    summary = HarvestRun(settings.sources[0], store, ledger, batch_size=settings.harvest.batch_size).execute()
    return summary, store, ledger


def test_first_harvest_accounts_for_every_file(setup: Settings, demo_records: Path) -> None:
    files = sorted(demo_records.glob("*.xml"))
    summary, store, ledger = run(setup)
    assert summary.status == "succeeded" and summary.listing_complete
    assert summary.matched == len(files) == summary.received == 41
    assert summary.counts["added"] + summary.counts["rejected"] == 41
    assert store.count("demo") == summary.counts["added"]
    events = ledger.events(summary.run_id or 0)
    assert sorted(e.locator for e in events) == sorted(f.name for f in files)
    rejected = {e.locator: e for e in events if e.status == "rejected"}
    # A file that repeats an identifier already harvested in this run is rejected, not overwritten.
    duplicates = {e.locator: e.message or "" for e in rejected.values() if e.code == "duplicate-identifier"}
    assert sorted(duplicates) == [
        "owslib__tests_resources_iso_mi.xml",
        "semic__distributorinfo-multiple__input.xml",
        "semic__identifiers-anchor__input.xml",
    ]
    assert CANADA_ID in duplicates["owslib__tests_resources_iso_mi.xml"]
    assert (
        "owslib__9250AA67-F3AC-6C12-0CB9-0662231AA181_iso.xml"
        in duplicates["owslib__tests_resources_iso_mi.xml"]
    )
    assert SEMIC_ID in duplicates["semic__identifiers-anchor__input.xml"]
    assert all(e.code and e.message for e in rejected.values())
    # every record indexed is retrievable with its provenance stamped by the run
    record = store.get("demo.17bd184a-7e7d-4f81-95a5-041449a7212b")
    assert record is not None and record.provenance is not None
    assert record.provenance.harvested_at
    assert record.provenance.source_url is None  # a path on this server is not published
    assert record.pole == "ODATIS"
    # the raw bytes are kept exactly as received, so the catalogue can be re-normalised without harvesting
    raw = ledger.raw("demo.17bd184a-7e7d-4f81-95a5-041449a7212b")
    assert raw is not None
    assert raw.content == (demo_records / "owslib__17bd184a-7e7d-4f81-95a5-041449a7212b_iso.xml").read_bytes()
    assert (raw.format, raw.source_id) == ("iso19139", "demo")


def test_every_indexed_record_is_rated_and_validated(setup: Settings) -> None:
    summary, store, _ = run(setup)
    assert summary.validated == summary.counts["added"] and summary.validation_seconds > 0
    assert f"validated {summary.validated} in" in summary.line()
    records = list(store.scan())
    assert len(records) == summary.counts["added"]
    for record in records:
        assert record.quality is not None and record.quality.fair is not None, record.id
        assert quality.current(record.quality.validation), record.id
        assert record.quality.fair == fair.assess(record)  # rated after enrichment, as indexed
    # a record with violations is indexed all the same, its report saying what to fix
    failing = [r for r in records if r.quality and r.quality.validation and not r.quality.validation.conforms]
    assert failing and all(
        any(result.severity == "violation" and result.message for result in r.quality.validation.results)
        for r in failing
        if r.quality and r.quality.validation
    )
    # the second harvest changes nothing and validates nothing
    again = HarvestRun(setup.sources[0], store, open_ledger(setup.harvest.ledger)).execute()
    assert again.validated == 0 and list(store.scan()) == records


def test_second_harvest_is_unchanged_and_changes_are_updates(setup: Settings) -> None:
    first, store, ledger = run(setup)
    second = HarvestRun(setup.sources[0], store, ledger).execute()
    assert second.counts["unchanged"] == first.counts["added"]
    assert second.counts["added"] == second.counts["updated"] == 0
    assert second.counts["rejected"] == first.counts["rejected"]

    path = Path(setup.sources[0].path or "") / "owslib__17bd184a-7e7d-4f81-95a5-041449a7212b_iso.xml"
    text = path.read_text(encoding="utf-8")
    assert "Air temperature" in text
    path.write_text(text.replace("Air temperature", "Near-surface air temperature", 1), encoding="utf-8")
    third = HarvestRun(setup.sources[0], store, ledger).execute()
    assert third.counts["updated"] == 1 and third.counts["added"] == 0
    record = store.get("demo.17bd184a-7e7d-4f81-95a5-041449a7212b")
    assert record is not None and "Near-surface air temperature" in record.title.text


def test_a_record_that_breaks_keeps_its_indexed_version(setup: Settings) -> None:
    summary, store, ledger = run(setup)
    record_id = "demo.17bd184a-7e7d-4f81-95a5-041449a7212b"
    before = store.get(record_id)
    assert before is not None
    path = Path(setup.sources[0].path or "") / "owslib__17bd184a-7e7d-4f81-95a5-041449a7212b_iso.xml"
    path.write_bytes(path.read_bytes()[:2000])  # truncated download
    again = HarvestRun(setup.sources[0], store, ledger).execute()
    assert again.status == "succeeded"
    broken = [e for e in ledger.events(again.run_id or 0, "rejected") if e.locator == path.name]
    assert len(broken) == 1 and broken[0].code == "not-xml"
    assert store.get(record_id) == before
    assert store.count("demo") == summary.counts["added"]


def test_a_failed_listing_deletes_nothing(setup: Settings) -> None:
    summary, store, ledger = run(setup)
    shutil.rmtree(setup.sources[0].path or "")
    failed = HarvestRun(setup.sources[0], store, ledger).execute()
    assert failed.status == "failed" and not failed.listing_complete
    assert "not a readable directory" in (failed.error or "")
    assert store.count("demo") == summary.counts["added"]
    assert ledger.runs("demo")[0].status == "failed"


def test_runs_of_one_source_never_overlap(setup: Settings) -> None:
    store = open_store(setup.store)
    ledger = open_ledger(setup.harvest.ledger)
    lock = Path(setup.harvest.ledger).parent / "locks" / "demo.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a run in another process would
        blocked = HarvestRun(setup.sources[0], store, ledger).execute()
    assert blocked.status == "failed" and blocked.error == "a harvest of demo is already running"
    assert store.count("demo") == 0


def test_cli_prints_one_summary_line_per_source(setup: Settings, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "harvest", "--config", str(tmp_path / "terracat.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("demo (full): received 41, added ")
    assert ", numberOfRecordsMatched 41 (" in lines[0]
    unknown = subprocess.run(
        [sys.executable, "-m", "api.cli", "harvest", "--config", str(tmp_path / "terracat.yaml"), "nope"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert unknown.returncode == 2 and "no source 'nope' in the config (configured: demo)" in unknown.stderr


def test_a_record_the_index_refuses_costs_only_itself(setup: Settings) -> None:
    """The index refuses one record of a batch (fault injected into the real SQLite store)."""
    from catalogue.stores.sqlite import SQLiteStore

    refused_id = "demo.17bd184a-7e7d-4f81-95a5-041449a7212b"

    class RefusingStore(SQLiteStore):
        def upsert(self, records):  # type: ignore[no-untyped-def]
            if any(r.id == refused_id for r in records):
                raise sqlite3.IntegrityError("disk says no")
            super().upsert(records)

    store = RefusingStore(path=setup.store["path"])
    ledger = open_ledger(setup.harvest.ledger)
    summary = HarvestRun(setup.sources[0], store, ledger, batch_size=50).execute()
    assert summary.status == "succeeded"
    refused = [e for e in ledger.events(summary.run_id or 0, "rejected") if e.code == "index-error"]
    assert [(e.record_id, e.message) for e in refused] == [(refused_id, "IntegrityError: disk says no")]
    assert store.get(refused_id) is None
    assert store.count("demo") == summary.counts["added"] == 41 - 3 - 1  # 3 duplicate identifiers


def test_worker_processes_and_in_process_crosswalks_agree(setup: Settings, tmp_path: Path) -> None:
    """The pool of crosswalk processes changes the speed of a harvest, nothing else."""
    outcomes = []
    for workers in (0, 2):
        store = open_store({"backend": "sqlite", "path": str(tmp_path / f"w{workers}" / "catalogue.db")})
        ledger = open_ledger(tmp_path / f"w{workers}" / "harvest.db")
        summary = HarvestRun(setup.sources[0], store, ledger, workers=workers).execute()
        events = [(e.record_id, e.locator, e.status, e.code) for e in ledger.events(summary.run_id or 0)]
        records = {
            rid: msgspec.structs.replace(record, provenance=None)
            for rid in store.ids("demo")
            if (record := store.get(rid)) is not None
        }
        outcomes.append((dict(summary.counts), events, records))
    assert outcomes[0] == outcomes[1]
    assert len(outcomes[0][2]) == 38


def test_unchanged_files_are_not_even_parsed_again(setup: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ledger knows each file by its path: a re-harvest of unchanged files skips the crosswalk."""
    from harvester.formats.iso19139 import ISO19139

    calls: list[str] = []
    real = ISO19139.to_record

    def counting(self, raw, *, pole=None):  # type: ignore[no-untyped-def]
        calls.append(raw.locator)
        return real(self, raw, pole=pole)

    monkeypatch.setattr(ISO19139, "to_record", counting)
    store = open_store(setup.store)
    ledger = open_ledger(setup.harvest.ledger)
    first = HarvestRun(setup.sources[0], store, ledger, workers=0).execute()
    assert len(calls) == 41
    calls.clear()
    second = HarvestRun(setup.sources[0], store, ledger, workers=0).execute()
    assert second.counts["unchanged"] == first.counts["added"] == 38
    # only the files rejected last time (duplicate identifiers are not stored) are crosswalked again
    assert sorted(calls) == [
        "owslib__tests_resources_iso_mi.xml",
        "semic__distributorinfo-multiple__input.xml",
        "semic__identifiers-anchor__input.xml",
    ]
    assert second.counts["rejected"] == 3
