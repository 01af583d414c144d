"""Scaling the harvester out: sources partitioned across scheduler processes that share one index and
one ledger (``harvester.partition``, ``terracat scheduler --pole/--sources``, ``harvest.partition``).
Real `terracat scheduler` processes, real folder sources and a slow OAI-PMH repository on 127.0.0.1,
one SQLite index and ledger."""

from __future__ import annotations

import itertools
import json
import logging
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.routing import Map
from werkzeug.test import Client

from api import admin
from api import settings as config
from api.cli import main, running_scheduler
from api.operations import with_operations
from catalogue.store import open_store
from harvester.ledger import Ledger, RunOverlap, open_ledger
from harvester.partition import Partition
from harvester.run import HarvestRun, source_lock
from harvester.source import Source
from tests.fixtures.api_server import REPO_ROOT
from tests.fixtures.oai_server import OaiServer, records
from tests.test_scheduler import (
    OAI_RECORDS,
    finished,
    later_today,
    runs,
    slow_source,
    wait_for,
    write_config,
    write_overrides,
)
from tests.test_serve_workers import terracat_serve

TOKEN = "token-of-the-test-admin-0123456789"


def folders(tmp_path: Path, demo_records: Path, count: int) -> list[Path]:
    """The demo records dealt into ``count`` folders: sources holding different records."""
    out = [tmp_path / f"records-{i}" for i in range(count)]
    for folder in out:
        folder.mkdir()
    for i, file in enumerate(sorted(demo_records.iterdir())):
        shutil.copy(file, out[i % count] / file.name)
    return out


def folder(source_id: str, pole: str, path: Path, **options: Any) -> dict[str, Any]:
    return {"id": source_id, "pole": pole, "protocol": "directory", "path": str(path), **options}


def soon(seconds: int = 4) -> str:
    """A daily cron whose next fire is ``seconds`` from now."""
    fire = datetime.now(UTC) + timedelta(seconds=seconds)
    return f"{fire.second} {fire.minute} {fire.hour} * * *"


def config_lines(path: Path, text: str) -> list[int]:
    return [i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line]


# --- the partition in the config and on the command line --------------------------------------------------


def test_a_partition_in_the_config_is_read_and_checked_with_its_line(
    tmp_path: Path, demo_records: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one, two = folders(tmp_path, demo_records, 2)
    sources = (folder("a1", "ODATIS", one), folder("b1", "AERIS", two))
    path = write_config(tmp_path, *sources, partition={"poles": ["aeris", "AERIS"], "sources": ["a1"]})
    partition = config.load(path).harvest.partition
    assert partition.poles == ["AERIS"] and partition.sources == ["a1"]  # named as POLES spells them
    assert str(partition) == "poles: AERIS; sources: a1"
    assert main(["check-config", str(path)]) == 0
    assert "  scheduler partition: poles: AERIS; sources: a1\n" in capsys.readouterr().out

    path = write_config(tmp_path, *sources, partition={"poles": ["aeris", "atlantis"]})
    with pytest.raises(config.ConfigError) as error:
        config.load(path)
    assert (
        error.value.key == "harvest.partition.poles" and error.value.line == config_lines(path, "poles:")[0]
    )
    assert error.value.message == "unknown pole 'atlantis' (known: AERIS, ForM@Ter, ODATIS, THEIA)"

    path = write_config(tmp_path, *sources, partition={"sources": ["a1", "a2"]})
    with pytest.raises(config.ConfigError) as error:
        config.load(path)
    assert error.value.key == "harvest.partition.sources[1]"
    assert error.value.line == config_lines(path, "- a2")[0]
    assert error.value.message == "no source 'a2' in the config (configured: a1, b1)"
    assert str(error.value).startswith(f"{path}:{error.value.line}: harvest.partition.sources[1]: ")
    assert main(["check-config", str(path)]) == 2
    assert capsys.readouterr().err == f"error: {error.value}\n"

    path = write_config(tmp_path, *sources, partition={"pole": ["AERIS"]})
    with pytest.raises(config.ConfigError, match="unknown key 'pole'"):
        config.load(path)


def test_the_admin_api_does_not_delete_a_source_a_partition_names(
    tmp_path: Path, demo_records: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two = folders(tmp_path, demo_records, 2)
    sources = (folder("a1", "ODATIS", one), folder("b1", "AERIS", two))
    path = write_config(tmp_path, *sources, partition={"sources": ["a1"]})
    monkeypatch.setenv("TERRACAT_ADMIN_TOKEN", TOKEN)
    api = Client(admin.AdminAPI(config.load(path), config=path))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    refused = api.delete("/sources/a1", headers=auth)
    assert refused.status_code == 400
    assert "harvest.partition.sources[0]: no source 'a1'" in refused.get_json()["error"]
    assert [s.id for s in config.load(path).sources] == ["a1", "b1"]  # nothing saved
    assert api.delete("/sources/b1", headers=auth).status_code == 200
    assert [s.id for s in config.load(path).sources] == ["a1"]


def test_terracat_scheduler_refuses_an_unknown_pole_or_source(
    tmp_path: Path, demo_records: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (one,) = folders(tmp_path, demo_records, 1)
    path = write_config(tmp_path, folder("a1", "ODATIS", one), folder("a2", "THEIA", one))
    with pytest.raises(SystemExit) as exit:
        main(["scheduler", "--config", str(path), "--pole", "odatis,atlantis"])
    assert exit.value.code == 2
    said = capsys.readouterr().err
    assert "argument --pole: unknown pole 'atlantis' (known: AERIS, ForM@Ter, ODATIS, THEIA)" in said

    assert main(["scheduler", "--config", str(path), "--sources", "a1", "--sources", "a3,a2"]) == 2
    said = capsys.readouterr().err
    assert said == f"error: --sources: no source 'a3' in {path} (configured: a1, a2)\n"


def test_terracat_serve_takes_a_partition_for_its_scheduler(
    tmp_path: Path, demo_records: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``terracat serve --pole/--sources``: its scheduler harvests that partition, in the server process
    (``/health`` says which) or, with several server processes, in the scheduler process it starts."""
    one, two = folders(tmp_path, demo_records, 2)

    every_second = "* * * * * *"
    path = write_config(
        tmp_path,
        folder("a1", "ODATIS", one, schedule=every_second),
        folder("b1", "AERIS", two, schedule=every_second),
    )
    settings = config.load(path)
    with terracat_serve(path, "--workers", "1", "--pole", "aeris") as (_, url):
        check = requests.get(f"{url}/health", timeout=10).json()["checks"]["scheduler"]
        assert check["partition"] == {"poles": ["AERIS"], "sources": []}
        wait_for(lambda: len(finished(settings, "b1")) >= 2)
        assert finished(settings, "b1")[0].status == "succeeded"
        assert runs(settings, "a1") == []  # fired as often, had it been scheduled here

    harvested = len(runs(settings, "b1"))
    with terracat_serve(path, "--workers", "2", "--sources", "a1") as _:
        wait_for(lambda: len(finished(settings, "a1")) >= 2)
        assert finished(settings, "a1")[0].status == "succeeded"
        assert len(runs(settings, "b1")) == harvested

    assert main(["serve", "--config", str(path), "--no-scheduler", "--pole", "aeris"]) == 2
    said = capsys.readouterr().err
    assert said == "error: --pole and --sources choose what the scheduler harvests: not with --no-scheduler\n"
    assert main(["serve", "--config", str(path), "--sources", "c1"]) == 2
    assert capsys.readouterr().err == f"error: --sources: no source 'c1' in {path} (configured: a1, b1)\n"


# --- a partition applied while the config changes ------------------------------------------------------


def test_the_partition_is_kept_as_sources_come_and_change(
    tmp_path: Path, demo_records: Path, caplog: pytest.LogCaptureFixture
) -> None:
    one, two = folders(tmp_path, demo_records, 2)
    path = write_config(
        tmp_path,
        folder("a1", "ODATIS", one, schedule=later_today()),
        folder("b1", "AERIS", two, schedule=later_today()),
        folder("c1", "THEIA", two, schedule=later_today()),
        reload_interval=0.2,
        partition={"poles": ["ODATIS"], "sources": ["c1"]},
    )
    settings = config.load(path)
    health = with_operations(lambda environ, start: [], settings.store, routes=Map())
    caplog.set_level(logging.INFO, logger="harvester.scheduler")
    with running_scheduler(settings, path) as running:
        assert [s.id for s in running.sources] == ["a1", "c1"] and running.next_fire("b1") is None
        assert running.describe() == "2 of 3 sources (poles: ODATIS; sources: c1)"
        check = health.health()[1]["checks"]["scheduler"]
        assert check["partition"] == {"poles": ["ODATIS"], "sources": ["c1"]}

        # Added through the admin API's file: the ODATIS one is harvested here, the AERIS one is not.
        inside = folder("a2", "ODATIS", one, schedule="* * * * * *")
        outside = folder("b2", "AERIS", two, schedule="* * * * * *")
        write_overrides(settings, inside, outside)
        assert wait_for(lambda: finished(settings, "a2"))[0].status == "succeeded"
        assert running.next_fire("b2") is None and runs(settings, "b2") == []

        # a2 moved to another pole: no longer harvested here; b2 moved in: harvested.
        write_overrides(settings, {**inside, "pole": "AERIS"}, {**outside, "pole": "ODATIS"})
        wait_for(lambda: running.next_fire("a2") is None)
        assert wait_for(lambda: finished(settings, "b2"))[0].status == "succeeded"
        assert sorted(s.id for s in running.sources) == ["a1", "b2", "c1"]
    said = [r.getMessage() for r in caplog.records]
    assert "b2: not scheduled here: outside this scheduler's partition (poles: ODATIS; sources: c1)" in said
    assert "a2: no longer scheduled (outside this scheduler's partition: poles: ODATIS; sources: c1)" in said
    assert not any(m.startswith("b1: ") for m in said)
    assert any(
        m.startswith("scheduler started, 2 of 3 sources (poles: ODATIS; sources: c1): a1") for m in said
    )


def test_the_config_partition_limits_the_scheduler_of_terracat_serve(
    tmp_path: Path, demo_records: Path
) -> None:
    """``running_scheduler`` (what ``terracat serve`` starts) takes the config's partition; ``--pole``
    replaces it."""
    one, two = folders(tmp_path, demo_records, 2)
    path = write_config(
        tmp_path,
        folder("a1", "ODATIS", one, schedule=later_today()),
        folder("b1", "AERIS", two, schedule=later_today()),
        partition={"poles": ["AERIS"]},
    )
    settings = config.load(path)
    with running_scheduler(settings, path) as running:
        assert [s.id for s in running.sources] == ["b1"]
    with running_scheduler(settings, path, Partition(poles=["odatis"])) as running:
        assert [s.id for s in running.sources] == ["a1"]
    with running_scheduler(settings, path, Partition()) as running:
        assert [s.id for s in running.sources] == ["a1", "b1"] and running.describe() == "2 sources"


# --- several `terracat scheduler` processes on one index and ledger -----------------------------------------


class SchedulerProcess:
    """`terracat -v scheduler` with its output in files (a pipe left unread would block it)."""

    def __init__(self, tmp_path: Path, name: str, config_path: Path, *options: str):
        self.out, self.err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
        with self.out.open("w") as out, self.err.open("w") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "api.cli", "-v", "scheduler", "--config", str(config_path), *options],
                cwd=REPO_ROOT,
                stdout=out,
                stderr=err,
                text=True,
            )

    def started(self) -> str | None:
        """Its start-up line, once printed; a process that ended before printing it fails the test."""
        if self.process.poll() is not None and not self.out.read_text():
            pytest.fail(f"the scheduler ended ({self.process.returncode}): {self.err.read_text()[-2000:]}")
        return next((line for line in self.out.read_text().splitlines() if "scheduler running" in line), None)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=30) == 0, self.err.read_text()[-2000:]

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def logs(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.err.read_text().splitlines() if line.startswith("{")]

    def harvested(self) -> dict[int, str]:
        """The runs whose summary it logged: run id -> source id."""
        return {
            line["run_id"]: line["source"]
            for line in self.logs()
            if line["logger"] == "harvester.scheduler" and "run_id" in line and line["run_id"] is not None
        }


def test_two_scheduler_processes_with_disjoint_partitions_share_one_store(
    tmp_path: Path, demo_records: Path
) -> None:
    parts = folders(tmp_path, demo_records, 4)
    poles = {"a1": "ODATIS", "a2": "ODATIS", "b1": "AERIS", "b2": "THEIA"}

    def configure(schedule: str) -> Path:
        sources = [
            folder(sid, pole, part, schedule=schedule)
            for (sid, pole), part in zip(poles.items(), parts, strict=True)
        ]
        return write_config(tmp_path, *sources, reload_interval=0.2)

    path = configure(later_today())  # nothing fires until both processes run
    settings = config.load(path)
    odatis = SchedulerProcess(tmp_path, "odatis", path, "--pole", "odatis")
    others = SchedulerProcess(tmp_path, "others", path, "--pole", "AERIS", "--sources", "b2")
    try:
        assert "scheduler running 2 of 4 sources (poles: ODATIS), following" in wait_for(odatis.started)
        assert "scheduler running 2 of 4 sources (poles: AERIS; sources: b2)" in wait_for(others.started)
        configure(soon(5))  # one fire for every source: each process reschedules its own
        wait_for(lambda: all(finished(settings, sid) for sid in poles), timeout=40)
        odatis.stop()
        others.stop()
    finally:
        odatis.kill()
        others.kill()

    by_odatis, by_others = odatis.harvested(), others.harvested()
    with open_store(settings.store) as store:
        total = store.count()
        for source_id, part in zip(poles, parts, strict=True):
            (run,) = runs(settings, source_id)  # harvested once
            assert run.status == "succeeded" and sum(run.counts.values()) == len(list(part.iterdir()))
            owner, other = (by_odatis, by_others) if poles[source_id] == "ODATIS" else (by_others, by_odatis)
            assert owner.get(run.id) == source_id and run.id not in other  # by the process that holds it
            assert store.count(source_id) == run.counts["added"] + run.counts.get("duplicate", 0) > 0
        assert (
            total == sum(store.count(source_id) for source_id in poles) == len(list(demo_records.iterdir()))
        )
    rescheduled = {
        name: {line["source"] for line in process.logs() if "rescheduled" in line["message"]}
        for name, process in (("odatis", odatis), ("others", others))
    }
    assert rescheduled == {"odatis": {"a1", "a2"}, "others": {"b1", "b2"}}


def test_overlapping_partitions_never_run_a_source_twice_at_once(tmp_path: Path, oai_server: Any) -> None:
    """Both processes schedule the slow source (a mistake in their partitions), every second: its lock
    in the ledger lets one run at a time, the other process's fires are skipped and logged."""
    server: OaiServer = oai_server(records(OAI_RECORDS), page_size=10)
    path = write_config(tmp_path, slow_source(server, schedule="* * * * * *"))
    settings = config.load(path)
    first = SchedulerProcess(tmp_path, "first", path, "--sources", "slow")
    second = SchedulerProcess(tmp_path, "second", path, "--pole", "ODATIS")
    try:
        wait_for(lambda: first.started() and second.started())

        def skipped() -> bool:
            return any(
                line["message"] == "slow: scheduled run skipped: a harvest of slow is already running"
                for line in first.logs() + second.logs()
            )

        wait_for(lambda: len(finished(settings, "slow")) >= 2 and skipped(), timeout=40)
        first.stop()
        second.stop()
    finally:
        first.kill()
        second.kill()
    every = runs(settings, "slow")
    assert every[0].status == "succeeded" and every[0].counts["added"] > 70
    assert all(run.status in ("succeeded", "stopped") and run.finished for run in every)  # none interrupted
    for before, after in itertools.pairwise(every):  # one after the other (the ledger keeps whole seconds)
        assert before.finished is not None and after.started >= before.finished
    by_first, by_second = first.harvested(), second.harvested()
    assert not by_first.keys() & by_second.keys()
    assert by_first.keys() | by_second.keys() == {run.id for run in every}
    with open_store(settings.store) as store:
        assert store.count("slow") == every[0].counts["added"]  # no record indexed twice


def test_the_next_holder_of_a_source_lock_finds_the_run_finished(tmp_path: Path, demo_records: Path) -> None:
    """A run keeps the source's lock until it is marked finished: a run of another process that takes
    the lock the moment it is free must not find it 'running' (it would mark it 'interrupted'). Another
    holder spins on the lock while runs go on; each time it gets it, the last run is finished."""
    few = folders(tmp_path, demo_records, 10)[0]  # 4 records: short runs
    settings = config.load(write_config(tmp_path, folder("a1", "ODATIS", few)))
    seen: list[str | None] = []

    def next_holder(ledger: Ledger, running: threading.Event) -> None:
        running.wait()
        while True:
            try:
                with source_lock(ledger, "a1"):
                    last = ledger.runs("a1", limit=1)
                    seen.append(last[0].status if last else None)
                    return
            except RunOverlap:
                time.sleep(0)

    with open_store(settings.store) as store:
        ledger = open_ledger(settings.harvest.ledger)
        try:
            running = threading.Event()  # set by each run's first page: the other holder starts trying
            for _ in range(20):
                running.clear()
                other = threading.Thread(target=next_holder, args=(ledger, running))
                other.start()
                run = HarvestRun(settings.sources[0], store, ledger, progress=lambda n, total: running.set())
                assert run.execute().status == "succeeded"
                other.join(timeout=10)
        finally:
            ledger.close()
    assert seen == ["succeeded"] * 20


def test_a_source_in_no_partition_is_reported_at_start_up(tmp_path: Path, demo_records: Path) -> None:
    """A partition holding nothing scheduled says so: the operator sees it harvests nothing here."""
    (one,) = folders(tmp_path, demo_records, 1)
    path = write_config(tmp_path, folder("a1", "ODATIS", one, schedule=later_today()))
    settings = config.load(path)
    with running_scheduler(settings, path, Partition(poles=["THEIA"])) as running:
        assert running.sources == [] and running.describe() == "0 of 1 sources (poles: THEIA)"
    assert Partition(poles=["theia"]).holds(Source(**folder("t", "THEIA", one)))
    assert not Partition(poles=["theia"]).holds(Source(**folder("a1", "ODATIS", one)))
