"""The harvest scheduler (``harvester.scheduler``) and ``max_duration``: real sources (the demo records
copied to a folder, a slow OAI-PMH repository on 127.0.0.1), a real store and ledger, crons with seconds
so that they fire within the test; ``terracat scheduler`` and ``terracat serve`` as processes."""

from __future__ import annotations

import itertools
import json
import logging
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from werkzeug.routing import Map
from werkzeug.test import Client

from api import admin
from api import settings as config
from api.cli import main, running_scheduler
from api.operations import with_operations
from catalogue.store import open_store
from harvester import scheduler
from harvester.ledger import RunInfo, open_ledger
from harvester.run import HarvestRun, source_lock
from harvester.source import Source
from tests.fixtures.api_server import REPO_ROOT
from tests.fixtures.oai_server import OaiServer, records
from tests.test_serve_workers import _alive, _children, terracat_serve

OAI_RECORDS = Path(__file__).parent / "data" / "oai" / "pyoai__fake2_00002.xml"  # 81 records, 2 deleted


def write_config(folder: Path, *sources: dict[str, Any], **harvest: Any) -> Path:
    path = folder / "terracat.yaml"
    settings = {
        "store": {"backend": "sqlite", "path": str(folder / "catalogue.db")},
        "harvest": {"ledger": str(folder / "harvest.db"), **harvest},
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
    ledger = open_ledger(settings.harvest.ledger)
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
    ledger = open_ledger(settings.harvest.ledger)
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
        ledger = open_ledger(settings.harvest.ledger)
        resumed = HarvestRun(source, store, ledger).execute()
        ledger.close()
        assert resumed.status == "succeeded" and resumed.resumed_from == first.id
        assert resumed.listing_complete and store.count("slow") == kept + resumed.counts["added"] > 70


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_terracat_harvest_stopped_by_a_signal_prints_its_summaries(
    tmp_path: Path, records_dir: Path, oai_server: Callable[..., OaiServer], signum: signal.Signals
) -> None:
    """SIGTERM or Ctrl-C: the run under way stops at its next page boundary, the source still waiting
    is not begun, and the summaries are printed as at a normal end (exit 1: stopped early)."""
    server = oai_server(records(OAI_RECORDS), page_size=10)
    path = write_config(tmp_path, slow_source(server), folder_source(records_dir), parallel=1, batch_size=10)
    settings = config.load(path)
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "harvest", "--config", str(path)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def indexed() -> int:
            with open_store(settings.store) as store:
                return store.count("slow") if runs(settings, "slow") else 0

        wait_for(indexed)  # a page of the slow source is indexed: the run is under way
        process.send_signal(signum)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 1
    assert f"terracat: {signum.name}: stopping the harvests at their next page boundary" in err
    lines = out.splitlines()
    assert len(lines) == 2 and "demo: not harvested: stopped before its run began" in lines
    (summary,) = [line for line in lines if line.startswith("slow (full): received ")]
    assert "stopped at a page boundary; the next run continues the listing STOPPED" in summary
    (run,) = runs(settings, "slow")
    assert run.status == "stopped" and not run.listing_complete and 0 < sum(run.counts.values()) < 81
    assert f"received {sum(run.counts.values())}, added {run.counts['added']}," in summary
    with open_store(settings.store) as store:
        assert store.count("slow") == run.counts["added"] and store.count("demo") == 0
    assert runs(settings, "demo") == []


def test_a_run_told_to_stop_stops_at_the_next_page(tmp_path: Path, records_dir: Path) -> None:
    settings = config.load(write_config(tmp_path, folder_source(records_dir, page_size=10)))
    stop = threading.Event()
    with open_store(settings.store) as store:
        ledger = open_ledger(settings.harvest.ledger)
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


# --- following the config while running -----------------------------------------------------------------


def write_overrides(settings: config.Settings, *sources: dict[str, Any], deleted: Sequence[str] = ()) -> None:
    """What the admin API writes, through the writer it uses."""
    overrides = config.Overrides(sources=[Source(**source) for source in sources], deleted=list(deleted))
    config.write_overrides(Path(settings.admin.overrides or ""), overrides)


def later_today() -> str:
    """A daily cron that will not fire during the test."""
    return f"0 {(datetime.now(UTC).hour + 12) % 24} * * *"


def test_the_scheduler_follows_source_changes_without_restart(
    tmp_path: Path, records_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_config(tmp_path, folder_source(records_dir, schedule=later_today()), reload_interval=0.2)
    settings = config.load(path)
    health = with_operations(lambda environ, start: [], settings.store, routes=Map())
    other = folder_source(records_dir, id="other", schedule="* * * * * *")
    few = tmp_path / "few"
    few.mkdir()
    for file in sorted(records_dir.iterdir())[:3]:
        shutil.copy(file, few / file.name)
    caplog.set_level(logging.INFO, logger="harvester.scheduler")
    with running_scheduler(settings, path) as running:
        assert [s.id for s in running.sources] == ["demo"] and running.next_fire("other") is None

        # A source created: scheduled and harvested on its cron.
        write_overrides(settings, other)
        wait_for(lambda: running.next_fire("other"))
        first = wait_for(lambda: finished(settings, "other"))[0]
        assert first.status == "succeeded" and first.counts["added"] > 30

        # Its definition changed: the next run takes it (3 records listed, not 40).
        write_overrides(settings, {**other, "path": str(few), "max_delete_ratio": 1.0})
        changed = wait_for(lambda: [r for r in finished(settings, "other") if sum(r.counts.values()) == 3])
        assert changed[0].status == "succeeded" and changed[0].counts["unchanged"] == 3

        # A cron changed: rescheduled, and it fires on the new one.
        assert not finished(settings, "demo")
        every_2_s = folder_source(records_dir, schedule="*/2 * * * * *")
        write_overrides(settings, {**other, "path": str(few)}, every_2_s)
        soon = datetime.now(UTC) + timedelta(seconds=3)
        wait_for(lambda: (fire := running.next_fire("demo")) and fire < soon)
        assert wait_for(lambda: finished(settings, "demo"))[0].status == "succeeded"

        # Disabled: no job, no run any more.
        disabled = {**other, "path": str(few), "enabled": False}
        write_overrides(settings, disabled, every_2_s)
        wait_for(lambda: running.next_fire("other") is None)
        time.sleep(0.5)  # a run that had already begun ends
        count = len(runs(settings, "other"))
        time.sleep(2.5)
        assert len(runs(settings, "other")) == count
        assert [s.id for s in running.sources] == ["demo"]

        # A hand edit that breaks the file: the jobs stay, the error names the file and line.
        overrides = Path(settings.admin.overrides or "")
        overrides.write_text("sources:\n  - id: other\n    pole: THEIA\n    protcol: csw\n", encoding="utf-8")
        error = wait_for(lambda: running.config_error)
        assert error.startswith(f"{overrides}:4: sources[0].protcol: unknown key 'protcol'")
        assert running.alive and [s.id for s in running.sources] == ["demo"] and running.next_fire("demo")
        check = health.health()[1]["checks"]["scheduler"]
        assert check["status"] == "error" and check["config_error"] == error and check["sources"] == ["demo"]
        assert any(r.levelno == logging.ERROR and str(overrides) in r.getMessage() for r in caplog.records)
        demo_runs = len(finished(settings, "demo"))
        wait_for(lambda: len(finished(settings, "demo")) > demo_runs)  # still firing

        # Fixed, deleting the configured source: the error clears and the job goes.
        write_overrides(settings, disabled, deleted=("demo",))
        wait_for(lambda: running.config_error is None and running.next_fire("demo") is None)
        assert running.sources == [] and health.health()[1]["checks"]["scheduler"]["status"] == "ok"
    said = [r.getMessage() for r in caplog.records]
    assert any("other: scheduled (* * * * * *)" in m for m in said)
    assert any("demo: rescheduled (*/2 * * * * *" in m for m in said)
    assert any("other: no longer scheduled" in m for m in said)


def test_a_run_under_way_ends_with_the_definition_it_began_with(
    tmp_path: Path, oai_server: Callable[..., OaiServer]
) -> None:
    server = oai_server(records(OAI_RECORDS), page_size=10)
    path = write_config(tmp_path, slow_source(server, schedule="* * * * * *"), reload_interval=0.2)
    settings = config.load(path)
    with running_scheduler(settings, path) as running:
        wait_for(lambda: runs(settings, "slow"))
        write_overrides(settings, deleted=("slow",))  # while it runs (9 pages, 0.4 s apart)
        wait_for(lambda: running.next_fire("slow") is None)
        assert runs(settings, "slow")[0].finished is None  # the reload did not wait for it, nor stop it
        run = wait_for(lambda: finished(settings, "slow"))[0]
        time.sleep(1.5)
    assert run.status == "succeeded" and run.listing_complete and run.counts["added"] > 70
    assert len(runs(settings, "slow")) == 1  # none after


def test_terracat_scheduler_follows_the_admin_api_of_another_process(
    tmp_path: Path, records_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(tmp_path, folder_source(records_dir), reload_interval=0.2)  # nothing scheduled
    settings = config.load(path)
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "-v", "scheduler", "--config", str(path)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        assert "scheduler running 0 sources" in process.stdout.readline()
        monkeypatch.setenv("TERRACAT_ADMIN_TOKEN", "token-of-the-test-admin-0123456789")
        api = Client(admin.AdminAPI(settings, config=path))
        auth = {"Authorization": "Bearer token-of-the-test-admin-0123456789"}
        created = folder_source(records_dir, id="added", schedule="*/2 * * * * *")
        assert api.post("/sources", json=created, headers=auth).status_code == 201
        run = wait_for(lambda: finished(settings, "added"))[0]
        assert run.status == "succeeded" and run.counts["added"] > 30
        assert api.post("/sources/added/disable", headers=auth).status_code == 200
        time.sleep(1.0)  # picked up, and a run begun before ended
        count = len(runs(settings, "added"))
        time.sleep(2.5)
        assert len(runs(settings, "added")) == count
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        lines = [json.loads(line) for line in process.stderr.read().splitlines()]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    mine = [line for line in lines if line["logger"] == "harvester.scheduler"]
    assert any(line["message"].startswith("added: scheduled (*/2 * * * * *), next run") for line in mine)
    assert any(line["message"] == "added: no longer scheduled (deleted or disabled)" for line in mine)
    summaries = [line for line in mine if line.get("run_id") == run.id]
    assert summaries and summaries[0]["source"] == "added"
    assert summaries[0]["message"].startswith("added (full")


def test_terracat_serve_schedules_a_source_created_over_http_and_reports_a_broken_config(
    tmp_path: Path, records_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(tmp_path, folder_source(records_dir), reload_interval=0.2)  # nothing scheduled
    settings = config.load(path)
    main(["harvest", "--config", str(path)])
    monkeypatch.setenv("TERRACAT_ADMIN_TOKEN", "token-of-the-test-admin-0123456789")
    auth = {"Authorization": "Bearer token-of-the-test-admin-0123456789"}
    with terracat_serve(path, "--workers", "1") as (process, url):
        health = requests.get(f"{url}/health", timeout=10).json()
        assert health["checks"]["scheduler"] == {"status": "ok", "state": "running", "sources": []}
        created = folder_source(records_dir, id="added", schedule="*/2 * * * * *")
        answer = requests.post(f"{url}/admin/sources", json=created, headers=auth, timeout=30)
        assert answer.status_code == 201, answer.text
        assert wait_for(lambda: finished(settings, "added"))[0].status == "succeeded"
        scheduled = requests.get(f"{url}/health", timeout=10).json()["checks"]["scheduler"]
        assert scheduled == {"status": "ok", "state": "running", "sources": ["added"]}

        edited = yaml.safe_load(path.read_text())
        edited["harvest"]["parallel"] = 0  # a bad hand edit
        path.write_text(yaml.safe_dump(edited), encoding="utf-8")

        def broken() -> dict[str, Any] | None:
            report = requests.get(f"{url}/health", timeout=10).json()
            return report if "config_error" in report["checks"]["scheduler"] else None

        report = wait_for(broken)
        assert report["status"] == "degraded" and report["checks"]["scheduler"]["sources"] == ["added"]
        assert f"{path}:" in report["checks"]["scheduler"]["config_error"]
        assert "parallel: must be between 1 and 64" in report["checks"]["scheduler"]["config_error"]
        count = len(finished(settings, "added"))
        wait_for(lambda: len(finished(settings, "added")) > count)  # the job goes on
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
