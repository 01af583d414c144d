"""Structured logs (``api.logs``): JSON lines with the fields given in ``extra=``; the ``source`` and
``run_id`` of a real harvest on the lines its thread writes while it runs, whichever module writes them;
and gunicorn's own lines (``terracat serve --workers N``) in the same JSON."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from api import settings as config
from api.logs import configure_logging
from catalogue.store import open_store
from harvester.ledger import open_ledger
from harvester.run import HarvestRun
from tests.fixtures import api_server
from tests.fixtures.api_server import REPO_ROOT, demo_catalogue
from tests.fixtures.oai_server import OaiServer, records
from tests.test_scheduler import OAI_RECORDS, write_config
from tests.test_serve_workers import _children, _free_port, _wait_for


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The JSON log lines of this test, as ``terracat`` writes them when stderr is not a terminal; the
    logging configuration before it is put back after it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging(logging.DEBUG, stream)
    try:
        yield stream
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_json_line_has_the_extra_fields_and_the_exception(json_log: io.StringIO) -> None:
    log = logging.getLogger("terracat.test")
    log.warning("run %s: %d pages", "x", 3, extra={"source": "aeris-csw", "run_id": 12, "pages": [1, 2]})
    try:
        raise ValueError("no such page")
    except ValueError:
        log.exception("failed", extra={"source": "aeris-csw"})
    first, second = lines(json_log)
    assert first["message"] == "run x: 3 pages" and first["level"] == "WARNING"
    assert first["logger"] == "terracat.test" and first["timestamp"].endswith("Z")
    assert (first["source"], first["run_id"], first["pages"]) == ("aeris-csw", 12, [1, 2])
    assert second["source"] == "aeris-csw" and "run_id" not in second
    assert second["exception"].startswith("Traceback") and "ValueError: no such page" in second["exception"]


def test_every_line_of_a_harvest_has_its_source_and_run(
    tmp_path: Path, oai_server: Callable[..., OaiServer], demo_records: Path, json_log: io.StringIO
) -> None:
    server = oai_server(records(OAI_RECORDS), page_size=10)
    oai = {"id": "seanoe", "pole": "ODATIS", "protocol": "oai-pmh", "format": "dc", "url": server.url}
    folder = {"id": "demo", "pole": "ODATIS", "protocol": "directory", "path": str(demo_records)}
    settings = config.load(write_config(tmp_path, oai, {**folder, "page_size": 10}))
    stop = threading.Event()  # the folder's run is stopped after its first page: a warning of the run's
    logging.getLogger("before").info("not in a run")
    with open_store(settings.store) as store:
        ledger = open_ledger(settings.harvest.ledger)
        try:
            listed = HarvestRun(settings.source("seanoe"), store, ledger).execute()
            logging.getLogger("between").info("not in a run either")
            demo = settings.source("demo")
            cut = HarvestRun(demo, store, ledger, progress=lambda *_: stop.set(), stop=stop).execute()
        finally:
            ledger.close()
    assert (listed.status, cut.status) == ("succeeded", "stopped")
    said = lines(json_log)
    between = next(i for i, line in enumerate(said) if line["logger"] == "between")
    assert "source" not in said[0] and "source" not in said[between]
    for run, during in ((listed, said[1:between]), (cut, said[between + 1 :])):
        ours = [line for line in during if line["logger"].startswith("harvester.")]
        assert ours and all((line["source"], line["run_id"]) == (run.source_id, run.run_id) for line in ours)
    # Another library's lines have them too, those of the download-ahead threads included (urllib3).
    urllib3 = [line for line in said[1:between] if line["logger"] == "urllib3.connectionpool"]
    assert urllib3
    assert all((line.get("source"), line.get("run_id")) == ("seanoe", listed.run_id) for line in urllib3)
    pages = [line for line in said[1:between] if line["logger"] == "harvester.protocols.oaipmh"]
    assert len(pages) == 9 and "ListRecords page 1: 10 records of 81" in pages[0]["message"]
    [warning] = [line for line in said[between + 1 :] if line["logger"] == "harvester.run"]
    assert warning["level"] == "WARNING" and warning["message"].startswith("harvest of demo stopped")
    assert listed.run_id != cut.run_id


@pytest.fixture
def served_config(tmp_path: Path, demo_records: Path) -> Path:
    path = tmp_path / "terracat.yaml"
    store = demo_catalogue(tmp_path, api_server.demo_records(demo_records))
    path.write_text(yaml.safe_dump({"store": store, "harvest": {"ledger": str(tmp_path / "harvest.db")}}))
    return path


@contextmanager
def verbose_serve(config: Path, workers: int) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``terracat -v serve --workers N`` (``-v``: gunicorn's INFO lines too) with stderr a pipe, as a log
    collector reads it; yields the process and its URL once it has printed it."""
    for _ in range(3):  # a port free a moment ago may be taken again: try another
        port = _free_port()
        command = ["-v", "serve", "--config", str(config), "--port", str(port), "--workers", str(workers)]
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", *command, "--no-scheduler"],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            if f"http://127.0.0.1:{port}" in (process.stdout.readline() if process.stdout else ""):
                yield process, f"http://127.0.0.1:{port}"
                return
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
    pytest.fail("terracat serve did not start on any port tried")


def test_gunicorn_logs_json_in_its_master_and_its_workers(served_config: Path) -> None:
    with verbose_serve(served_config, 2) as (process, url):
        workers = _wait_for(lambda: len(found := _children(process.pid)) == 2 and found)
        assert requests.get(f"{url}/collections/catalogue/items", timeout=30).status_code == 200
        killed = min(workers)
        os.kill(killed, signal.SIGKILL)  # the master says so, at ERROR, and starts another worker
        _wait_for(lambda: len(found := _children(process.pid)) == 2 and killed not in found)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        text = process.stderr.read() if process.stderr else ""
    said = [json.loads(line) for line in text.splitlines()]  # every line is JSON
    gunicorn = [line for line in said if line["logger"] == "gunicorn.error"]
    messages = [line["message"] for line in gunicorn]
    assert any(m.startswith("Starting gunicorn") for m in messages)  # the master
    assert sum(m.startswith("Booting worker with pid") for m in messages) == 3  # each worker, the new one too
    assert any(m.startswith("Handling signal: term") for m in messages)
    [sigkill] = [line for line in gunicorn if f"pid:{killed}" in line["message"]]
    assert sigkill["level"] == "ERROR" and "SIGKILL" in sigkill["message"]
    assert all(line["timestamp"].endswith("Z") and line["level"] for line in said)
