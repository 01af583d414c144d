"""The harvest scheduler (``harvester.scheduler``) and ``max_duration``: real sources (the demo records
copied to a folder, a slow OAI-PMH repository on 127.0.0.1), a real store and ledger, crons with seconds
so that they fire within the test; ``terracat scheduler`` and ``terracat serve`` as processes."""

from __future__ import annotations

import itertools
import logging
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from werkzeug.routing import Map

from api import settings as config
from api.cli import main, running_scheduler
from api.operations import with_operations
from catalogue.store import open_store
from harvester import scheduler
from harvester.ledger import Ledger, RunInfo
from harvester.run import HarvestRun, source_lock
from harvester.source import Source
from tests.fixtures.api_server import REPO_ROOT
from tests.fixtures.oai_server import OaiServer, records
from tests.test_serve_workers import _alive, _children, terracat_serve

OAI_RECORDS = Path(__file__).parent / "data" / "oai" / "pyoai__fake2_00002.xml"  # 81 records, 2 deleted


def write_config(folder: Path, *sources: dict[str, Any]) -> Path:
    path = folder / "terracat.yaml"
    settings = {
        "store": {"backend": "sqlite", "path": str(folder / "catalogue.db")},
        "harvest": {"ledger": str(folder / "harvest.db")},
        "sources": list(sources),
    }
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    return path


@pytest.fixture
def records_dir(tmp_path: Path, demo_records: Path) -> Path:
    return Path(shutil.copytree(demo_records, tmp_path / "records"))


def folder_source(records_dir: Path, **options: Any) -> dict[str, Any]:
    return {"id": "demo", "pole": "ODATIS", "protocol": "directory", "path": str(records_dir), **options}


def slow_source(server: OaiServer, **options: Any) -> dict[str, Any]:
    """The repository's 9 pages, 0.4 s apart: a run of 3 s or more."""
    return {
        "id": "slow",
        "pole": "ODATIS",
        "protocol": "oai-pmh",
        "format": "dc",
        "url": server.url,
        "delay": 0.4,
        **options,
    }


def wait_for(condition: Callable[[], Any], timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.1)
    pytest.fail(f"not seen within {timeout} s")


def runs(settings: config.Settings, source_id: str) -> list[RunInfo]:
    ledger = Ledger(settings.harvest.ledger)
    try:
        return list(reversed(ledger.runs(source_id, limit=100)))
    finally:
        ledger.close()


def finished(settings: config.Settings, source_id: str) -> list[RunInfo]:
    return [run for run in runs(settings, source_id) if run.finished]


def test_a_cron_with_seconds_fires_and_harvests(tmp_path: Path, records_dir: Path) -> None:
    settings = config.load(write_config(tmp_path, folder_source(records_dir, schedule="*/2 * * * * *")))
    health = with_operations(lambda environ, start: [], settings.store, routes=Map())
    with running_scheduler(settings) as running:
        assert scheduler.running() is running and running.alive
        assert health.health()[1]["checks"]["scheduler"] == {
            "status": "ok",
            "state": "running",
            "sources": ["demo"],
        }
        first = wait_for(lambda: finished(settings, "demo"))[0]
    assert scheduler.running() is None and not running.alive
    assert health.health()[1]["checks"]["scheduler"]["state"] == "not-running-here"
    assert first.status == "succeeded" and first.counts["added"] > 30
    with open_store(settings.store) as store:
        assert store.count("demo") == first.counts["added"]


def test_a_slow_run_is_never_overlapped(
    tmp_path: Path, oai_server: Callable[..., OaiServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = oai_server(records(OAI_RECORDS), page_size=10)
    settings = config.load(write_config(tmp_path, slow_source(server, schedule="* * * * * *")))
    caplog.set_level(logging.WARNING)
    with running_scheduler(settings):
        wait_for(lambda: len(runs(settings, "slow")) >= 2, timeout=20)
    every = runs(settings, "slow")
    assert every[0].status == "succeeded" and every[0].listing_complete and every[0].counts["added"] > 70
    assert every[-1].status in ("succeeded", "stopped")  # the scheduler stopped stops a run under way
    for before, after in itertools.pairwise(every):  # the ledger keeps whole seconds
        assert before.finished is not None and after.started >= before.finished
    said = [r.getMessage() for r in caplog.records]
    assert any("maximum number of running instances" in m for m in said)  # skipped, not queued


def test_a_fire_while_another_process_harvests_is_skipped(
    tmp_path: Path, records_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = config.load(write_config(tmp_path, folder_source(records_dir, schedule="* * * * * *")))
    ledger = Ledger(settings.harvest.ledger)
    caplog.set_level(logging.WARNING)
    try:
        with source_lock(ledger, "demo"), running_scheduler(settings):  # as `terracat harvest demo` would
            wait_for(lambda: any("scheduled run skipped" in r.getMessage() for r in caplog.records))
            assert runs(settings, "demo") == []
    finally:
        ledger.close()


def test_a_restart_after_a_missed_fire_runs_once_at_start(tmp_path: Path, records_dir: Path) -> None:
    hour = (datetime.now(UTC).hour + 12) % 24  # a daily cron that will not fire during the test
    settings = config.load(write_config(tmp_path, folder_source(records_dir, schedule=f"0 {hour} * * *")))
    main(["harvest", "--config", str(tmp_path / "terracat.yaml")])
    with running_scheduler(settings) as running:  # the last run began after the last fire: nothing due
        assert running.next_fire("demo") is not None and running.next_fire("demo") > datetime.now(UTC)
        time.sleep(1.5)
    assert len(runs(settings, "demo")) == 1
    # The scheduler was down for two days: it missed two fires, which make one run at start.
    with sqlite3.connect(settings.harvest.ledger) as db:
        db.execute("UPDATE runs SET started = '2020-01-01T00:00:00Z', finished = '2020-01-01T00:01:00Z'")
    with running_scheduler(settings):
        wait_for(lambda: len(finished(settings, "demo")) == 2)
        time.sleep(1.5)
    after = runs(settings, "demo")
    assert len(after) == 2 and after[1].status == "succeeded"
    assert after[1].counts.get("added", 0) == 0 and after[1].counts["unchanged"] >= after[0].counts["added"]
    with running_scheduler(settings):  # restarted again: that run is the last, nothing is due
        time.sleep(1.5)
    assert len(runs(settings, "demo")) == 2


def test_max_duration_stops_a_slow_run_which_the_next_run_continues(
    tmp_path: Path, oai_server: Callable[..., OaiServer], capsys: pytest.CaptureFixture[str]
) -> None:
    server = oai_server(records(OAI_RECORDS), page_size=10)
    path = write_config(tmp_path, slow_source(server, max_duration=1.0))
    settings = config.load(path)
    assert main(["harvest", "--config", str(path)]) == 1

    first = runs(settings, "slow")[0]
    assert first.status == "timed-out" and not first.listing_complete and first.error is None
    assert "after max_duration 1 s" in first.notes[0]
    assert 0 < sum(first.counts.values()) < 81
    with open_store(settings.store) as store:
        kept = store.count("slow")
    assert kept == first.counts["added"] > 0  # what was indexed stays
    capsys.readouterr()
    main(["runs", "--config", str(path)])
    assert "timed-out" in capsys.readouterr().out

    source = Source(**{**slow_source(server), "delay": 0})
    with open_store(settings.store) as store:
        ledger = Ledger(settings.harvest.ledger)
        resumed = HarvestRun(source, store, ledger).execute()
        ledger.close()
        assert resumed.status == "succeeded" and resumed.resumed_from == first.id
        assert resumed.listing_complete and store.count("slow") == kept + resumed.counts["added"] > 70


def test_a_run_told_to_stop_stops_at_the_next_page(tmp_path: Path, records_dir: Path) -> None:
    settings = config.load(write_config(tmp_path, folder_source(records_dir, page_size=10)))
    stop = threading.Event()
    with open_store(settings.store) as store:
        ledger = Ledger(settings.harvest.ledger)
        run = HarvestRun(settings.sources[0], store, ledger, progress=lambda n, total: stop.set(), stop=stop)
        summary = run.execute()
        assert summary.status == "stopped" and summary.received == 10 and store.count("demo") == 10
        assert "STOPPED" in summary.line() and ledger.listing("demo") is not None
        ledger.close()


def test_invalid_schedules_are_config_errors_with_their_line(tmp_path: Path, records_dir: Path) -> None:
    for schedule, message in (
        ("0 3 * *", "5 fields"),
        ("0 3 * * 1", "as a name"),
        ("0 25 * * *", "not a valid cron"),
    ):
        path = write_config(tmp_path, folder_source(records_dir, schedule=schedule))
        line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "schedule:" in text)
        with pytest.raises(config.ConfigError) as error:
            config.load(path)
        assert error.value.line == line and error.value.key == "sources[0].schedule"
        assert message in error.value.message
    path = write_config(tmp_path, folder_source(records_dir, max_duration=0))
    with pytest.raises(config.ConfigError, match="max_duration"):
        config.load(path)


def test_terracat_scheduler_harvests_and_stops_on_sigterm(tmp_path: Path, records_dir: Path) -> None:
    path = write_config(tmp_path, folder_source(records_dir, schedule="*/2 * * * * *"))
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "scheduler", "--config", str(path)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert "next" in process.stdout.readline()
        assert "scheduler running 1 sources" in process.stdout.readline()
        settings = config.load(path)
        wait_for(lambda: finished(settings, "demo"))
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        assert "scheduler stopping" in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_serve_with_workers_runs_the_scheduler_once(tmp_path: Path, records_dir: Path) -> None:
    path = write_config(tmp_path, folder_source(records_dir, schedule="*/2 * * * * *"))
    settings = config.load(path)
    main(["harvest", "--config", str(path)])  # the store exists before the server opens it
    with terracat_serve(path, "--workers", "2") as (process, url):
        def scheduler_processes() -> list[int]:
            return [
                pid
                for pid in _children(process.pid)
                if b"scheduler" in Path(f"/proc/{pid}/cmdline").read_bytes()
            ]

        one = wait_for(lambda: len(_children(process.pid)) == 3 and scheduler_processes())
        assert len(one) == 1
        wait_for(lambda: len(finished(settings, "demo")) >= 2)
        health = requests.get(f"{url}/health", timeout=10).json()
        assert health["checks"]["scheduler"] == {"status": "ok", "state": "not-running-here"}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert not _alive(one[0])


def test_serve_with_one_process_runs_the_scheduler_in_it(tmp_path: Path, records_dir: Path) -> None:
    path = write_config(tmp_path, folder_source(records_dir, schedule="*/2 * * * * *"))
    settings = config.load(path)
    main(["harvest", "--config", str(path)])
    with terracat_serve(path, "--workers", "1") as (process, url):
        wait_for(lambda: len(finished(settings, "demo")) >= 2)
        health = requests.get(f"{url}/health", timeout=10).json()
        assert health["checks"]["scheduler"] == {"status": "ok", "state": "running", "sources": ["demo"]}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    assert all(run.finished for run in runs(settings, "demo"))  # no run left 'running'
