"""Operations: ``/health`` and ``/metrics`` of a real server over a real harvest (the demo records through
a ``directory`` source, the real crosswalk, ledger and SQLite index), the JSON logs and ``run-show``."""

from __future__ import annotations

import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from api.cli import harvest, main
from api.settings import Settings, load
from catalogue.query import FacetRequest, Query
from catalogue.store import open_store
from harvester.ledger import RunInfo, open_ledger
from harvester.run import RunSummary
from tests.fixtures.api_server import REPO_ROOT, serving
from tests.test_serve_workers import terracat_serve

ITEMS = "/collections/<path:collection_id>/items"
ITEM = "/collections/<path:collection_id>/items/<path:item_id>"


class Harvested:
    def __init__(self, folder: Path, settings: Settings, summary: RunSummary):
        self.folder = folder
        self.config = folder / "terracat.yaml"
        self.settings = settings
        self.summary = summary

    def run(self) -> RunInfo:
        ledger = open_ledger(self.settings.harvest.ledger)
        try:
            run = ledger.run(self.summary.run_id or 0)
        finally:
            ledger.close()
        assert run is not None
        return run


@pytest.fixture(scope="module")
def harvested(tmp_path_factory: pytest.TempPathFactory, demo_records: Path) -> Harvested:
    folder = tmp_path_factory.mktemp("operations")
    shutil.copytree(demo_records, folder / "records")
    config = {
        "store": {"backend": "sqlite", "path": str(folder / "catalogue.db")},
        "harvest": {"ledger": str(folder / "harvest.db")},
        "server": {"host": "127.0.0.1", "port": 5000},
        "sources": [
            {"id": "demo", "pole": "ODATIS", "protocol": "directory", "path": "records", "format": "iso19139"}
        ],
    }
    (folder / "terracat.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    settings = load(folder / "terracat.yaml")
    [summary] = harvest(settings, settings.sources)
    assert summary.status == "succeeded" and summary.counts["added"] > 0
    return Harvested(folder, settings, summary)


@pytest.fixture
def url(harvested: Harvested) -> Iterator[str]:
    with serving(harvested.settings.store, ledger=harvested.settings.harvest.ledger) as url:
        yield url


def _unix(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC).timestamp()


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus text page, by name and labels (parsed by prometheus_client)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _labels(**labels: str) -> frozenset[tuple[str, str]]:
    return frozenset(labels.items())


# --- /health ----------------------------------------------------------------------------------------


def test_health_reports_the_index_and_the_ledger(harvested: Harvested, url: str) -> None:
    response = requests.get(f"{url}/health", timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    report = response.json()
    assert report["status"] == "ok"
    with open_store(harvested.settings.store) as store:
        assert report["checks"]["store"] == {"status": "ok", "backend": "sqlite", "records": store.count()}
    run = harvested.run()
    assert report["checks"]["ledger"] == {
        "status": "ok",
        "sources": 1,
        "failed": [],
        "last_finished": run.finished,
    }
    assert report["checks"]["scheduler"] == {"status": "ok", "state": "not-running-here"}


def test_health_is_503_when_the_index_is_gone(harvested: Harvested, tmp_path: Path) -> None:
    store = {"backend": "sqlite", "path": str(tmp_path / "catalogue.db")}
    shutil.copy(harvested.settings.store["path"], store["path"])
    with serving(store, ledger=harvested.settings.harvest.ledger) as url:
        assert requests.get(f"{url}/health", timeout=30).status_code == 200
        Path(store["path"]).unlink()
        response = requests.get(f"{url}/health", timeout=30)
        assert response.status_code == 503
        report = response.json()
        assert report["status"] == "down"
        assert report["checks"]["store"]["status"] == "error"
        assert "missing" in report["checks"]["store"]["error"]
        metrics = _samples(requests.get(f"{url}/metrics", timeout=30).text)
        assert metrics[("terracat_store_up", _labels())] == 0


def test_health_is_503_when_the_index_is_not_a_database(tmp_path: Path) -> None:
    broken = tmp_path / "catalogue.db"
    broken.write_bytes(b"this is not an SQLite database " * 10)
    with serving({"backend": "sqlite", "path": str(broken)}) as url:
        response = requests.get(f"{url}/health", timeout=30)
        assert response.status_code == 503
        report = response.json()
        assert report["status"] == "down"
        assert "DatabaseError" in report["checks"]["store"]["error"]
        assert "ledger" not in report["checks"]  # the server was not told of one


def test_mounted_apps_are_a_route_each_and_health_comes_first(harvested: Harvested) -> None:
    def admin(environ: dict, start_response) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["PATH_INFO"].encode()]

    with serving(harvested.settings.store, mounts={"/admin": admin, "/health": admin}) as url:
        assert requests.get(f"{url}/admin/sources/demo", timeout=30).text == "/sources/demo"
        assert requests.get(f"{url}/health", timeout=30).json()["status"] == "ok"  # not the mount's
        metrics = _samples(requests.get(f"{url}/metrics", timeout=30).text)
    assert (
        metrics[("terracat_http_requests_total", _labels(method="GET", route="/admin/*", status="2xx"))] == 1
    )


def test_health_is_degraded_without_its_ledger_and_creates_none(harvested: Harvested, tmp_path: Path) -> None:
    missing = tmp_path / "no" / "harvest.db"
    with serving(harvested.settings.store, ledger=missing) as url:
        response = requests.get(f"{url}/health", timeout=30)
        assert response.status_code == 200
        assert response.json()["status"] == "degraded"
        assert "no harvest ledger" in response.json()["checks"]["ledger"]["error"]
        metrics = _samples(requests.get(f"{url}/metrics", timeout=30).text)
        assert metrics[("terracat_ledger_up", _labels())] == 0
    assert not missing.exists() and not missing.parent.exists()


# --- /metrics ---------------------------------------------------------------------------------------


def test_metrics_count_records_runs_and_requests(harvested: Harvested, url: str) -> None:
    ids = [f["id"] for f in requests.get(f"{url}/collections/catalogue/items", timeout=30).json()["features"]]
    assert requests.get(f"{url}/collections/odatis/items", params={"q": "ocean"}, timeout=30).ok
    assert requests.get(f"{url}/collections/catalogue/items/{ids[0]}", timeout=30).ok
    assert (
        requests.get(f"{url}/collections/catalogue/items", params={"limit": "x"}, timeout=30).status_code
        == 400
    )
    assert requests.get(f"{url}/no/such/page-1234", timeout=30).status_code == 404
    assert requests.get(f"{url}/records/{ids[0]}", headers={"Accept": "text/html"}, timeout=30).ok
    # A request is counted once its response's last byte is sent (the server closes the response after
    # the client may have read it all): scrape until the six are in.
    deadline = time.monotonic() + 10
    while True:
        response = requests.get(f"{url}/metrics", timeout=30)
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        metrics = _samples(response.text)
        answered = sum(v for (name, _), v in metrics.items() if name == "terracat_http_requests_total")
        if answered == 6 or time.monotonic() > deadline:
            break
        time.sleep(0.05)

    assert metrics[("terracat_store_up", _labels())] == 1
    assert metrics[("terracat_ledger_up", _labels())] == 1
    records = {
        dict(labels)["pole"]: value for (name, labels), value in metrics.items() if name == "terracat_records"
    }
    summary = harvested.summary
    assert records == {"ODATIS": summary.counts["added"]}  # one source, no duplicates across sources
    with open_store(harvested.settings.store) as store:
        facet = store.search(Query(limit=0, facets=[FacetRequest("source")])).facets[0]
        assert [(b.value, b.count) for b in facet.buckets] == [("demo", summary.counts["added"])]

    run = harvested.run()
    assert (
        metrics[("terracat_harvest_last_run", _labels(source="demo", status="succeeded", kind="full"))] == 1
    )
    for status in ("added", "rejected", "unchanged"):
        key = ("terracat_harvest_last_run_records", _labels(source="demo", status=status))
        assert metrics[key] == summary.counts[status]
    assert run.finished is not None
    finished = metrics[("terracat_harvest_last_run_finished_timestamp_seconds", _labels(source="demo"))]
    assert finished == _unix(run.finished)
    duration = metrics[("terracat_harvest_last_run_duration_seconds", _labels(source="demo"))]
    assert duration == _unix(run.finished) - _unix(run.started) >= 0

    def requests_of(route: str, status: str) -> float:
        return metrics[("terracat_http_requests_total", _labels(method="GET", route=route, status=status))]

    assert requests_of(ITEMS, "2xx") == 2  # two collections, one route
    assert requests_of(ITEMS, "4xx") == 1
    assert requests_of(ITEM, "2xx") == 1
    assert requests_of("other", "4xx") == 1
    assert requests_of("/records/<record_id>", "2xx") == 1
    counted = _labels(method="GET", route=ITEMS, status="2xx")
    assert metrics[("terracat_http_request_duration_seconds_count", counted)] == 2
    assert metrics[("terracat_http_request_duration_seconds_sum", counted)] > 0
    buckets = sorted(
        (float(dict(labels)["le"]), value)
        for (name, labels), value in metrics.items()
        if name == "terracat_http_request_duration_seconds_bucket"
        and labels - {("le", dict(labels)["le"])} == counted
    )
    assert buckets[-1] == (float("inf"), 2)
    assert [value for _, value in buckets] == sorted(value for _, value in buckets)
    # raw paths and ids never become label values
    assert not any("page-1234" in value or ids[0] in value for _, labels in metrics for _, value in labels)
    assert not any(dict(labels).get("route") in ("/health", "/metrics") for _, labels in metrics)


def test_worker_processes_sum_their_request_metrics(harvested: Harvested) -> None:
    """Under ``--workers 2`` each request is answered by one process or the other; every scrape, whichever
    process answers it, counts all of them."""
    with terracat_serve(harvested.config, "--workers", "2") as (process, url):
        for _ in range(6):
            assert requests.get(f"{url}/collections/catalogue/items", timeout=60).status_code == 200
        counted = _labels(method="GET", route=ITEMS, status="2xx")
        scrapes = [_samples(requests.get(f"{url}/metrics", timeout=60).text) for _ in range(4)]
        assert {scrape[("terracat_http_requests_total", counted)] for scrape in scrapes} == {6}
        assert {scrape[("terracat_http_request_duration_seconds_count", counted)] for scrape in scrapes} == {
            6
        }
        records = _labels(source="demo", pole="ODATIS")
        assert {scrape[("terracat_records", records)] for scrape in scrapes} == {
            harvested.summary.counts["added"]
        }
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, process.stderr.read() if process.stderr else ""


# --- logs -------------------------------------------------------------------------------------------

_LOG = (
    "import logging, sys; from api.logs import configure_logging; configure_logging(logging.INFO);"
    " logging.getLogger('harvester.run').warning('run %s of %s failed', 7, 'demo',"
    " extra={'source': 'demo', 'run_id': 7})"
)


def test_logs_are_json_lines_off_a_terminal() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _LOG], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    [line] = done.stderr.splitlines()
    entry = json.loads(line)
    assert entry.keys() == {"timestamp", "level", "logger", "message", "source", "run_id"}
    assert (entry["level"], entry["logger"], entry["message"]) == (
        "WARNING",
        "harvester.run",
        "run 7 of demo failed",
    )
    assert (entry["source"], entry["run_id"]) == ("demo", 7)
    assert datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00")).tzinfo is not None


def test_the_command_line_logs_json_lines(tmp_path: Path) -> None:
    """``terracat serve`` over an index it cannot read says so at start, as a JSON line with the
    traceback (stderr is a pipe here)."""
    broken = tmp_path / "catalogue.db"
    broken.write_bytes(b"this is not an SQLite database " * 10)
    config = {
        "store": {"backend": "sqlite", "path": str(broken)},
        "harvest": {"ledger": str(tmp_path / "harvest.db")},
        "server": {"host": "127.0.0.1", "port": 5000},
        "sources": [],
    }
    (tmp_path / "terracat.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    with terracat_serve(tmp_path / "terracat.yaml", "--workers", "1") as (process, url):
        assert requests.get(f"{url}/health", timeout=30).status_code == 503
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        errors = process.stderr.read() if process.stderr else ""
    entries = [json.loads(line) for line in errors.splitlines()]
    [failure] = [e for e in entries if e["level"] == "ERROR" and e["logger"] == "api.server"]
    assert failure["message"] == "the catalogue index cannot be read: searches fail until it can"
    assert failure["exception"].startswith("Traceback") and "DatabaseError" in failure["exception"]
    assert all(entry["level"] in ("WARNING", "ERROR") for entry in entries)  # not --verbose


def test_logs_are_readable_lines_on_a_terminal() -> None:
    leader, follower = pty.openpty()
    try:
        subprocess.run([sys.executable, "-c", _LOG], cwd=REPO_ROOT, stderr=follower, check=True)
        os.close(follower)
        text = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal's other end is closed: all read
                break
            if not chunk:
                break
            text += chunk
    finally:
        os.close(leader)
    line = text.decode().strip()
    assert line.endswith(" WARNING harvester.run: run 7 of demo failed"), line
    assert not line.startswith("{")


# --- run-show ---------------------------------------------------------------------------------------


def test_run_show_prints_the_run_and_a_page_of_its_records(
    harvested: Harvested, capsys: pytest.CaptureFixture[str]
) -> None:
    run = harvested.run()
    config = str(harvested.config)
    rejected = harvested.summary.counts["rejected"]
    assert rejected >= 3  # the corpus repeats identifiers
    assert (
        main(
            [
                "run-show",
                str(run.id),
                "--config",
                config,
                "--status",
                "rejected",
                "--limit",
                "2",
                "--offset",
                "1",
            ]
        )
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"#{run.id} demo {run.started} full succeeded matched=41 ")
    assert lines[1] == f"finished: {run.finished}"
    assert lines[2] == f"rejected records 2-3 of {rejected}:"
    ledger = open_ledger(harvested.settings.harvest.ledger)
    try:
        expected = ledger.events(run.id, "rejected")[1:3]
    finally:
        ledger.close()
    assert len(lines) == 5
    for line, event in zip(lines[3:], expected, strict=True):
        status, code, record_id, locator, message = line.split("\t")
        assert (status, code, locator, message) == ("rejected", event.code, event.locator, event.message)
        assert record_id == (event.record_id or "-")

    assert main(["run-show", str(run.id), "--config", config, "--limit", "1000"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2] == "records 1-41 of 41:"
    assert sorted(line.split("\t")[3] for line in lines[3:]) == sorted(
        p.name for p in (harvested.folder / "records").glob("*.xml")
    )

    assert main(["run-show", "9999", "--config", config]) == 1
    assert "no run #9999" in capsys.readouterr().err


def test_runs_lists_the_runs_of_a_source(harvested: Harvested, capsys: pytest.CaptureFixture[str]) -> None:
    run = harvested.run()
    assert main(["runs", "demo", "--config", str(harvested.config)]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith(f"#{run.id} demo {run.started} full succeeded matched=41 ")
    assert f"added {harvested.summary.counts['added']}" in line
