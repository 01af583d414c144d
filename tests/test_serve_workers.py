"""``terracat serve --workers N``: N server processes on one port, each with its own store, all stopped
by SIGTERM; and a server log that keeps ERROR for server errors.

The server runs as ``terracat serve`` does, in a process of its own (``python -m api.cli``), over the
real demo records; what its processes are and which files they hold open is read from ``/proc``.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from werkzeug.test import Client

from api.cli import server_workers
from api.provider import close_stores
from api.server import create_app
from tests.fixtures.api_server import REPO_ROOT, demo_catalogue, demo_records

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads processes from /proc")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> set[int]:
    """The processes whose parent is ``pid``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:  # ended meanwhile
                continue
            if f"\nPPid:\t{pid}\n" in status:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    """Running, and not a zombie waiting to be reaped."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def _holds_open(pid: int, path: Path) -> bool:
    """Whether process ``pid`` has ``path`` open."""
    folder = Path(f"/proc/{pid}/fd")
    for fd in folder.iterdir():
        try:
            if os.readlink(fd) == str(path):
                return True
        except OSError:
            continue
    return False


def _wait_for(condition: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.1)
    pytest.fail(f"not seen within {timeout} s: {condition.__doc__ or condition}")


@contextmanager
def terracat_serve(config: Path, *options: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``terracat serve --config config *options`` on a free port; yields the process and its URL once
    it has printed it. The process is killed if the test has not stopped it."""
    for _ in range(3):  # a port free a moment ago may be taken again: try another
        port = _free_port()
        command = ["serve", "--config", str(config), "--port", str(port), *options]
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", *command],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            line = process.stdout.readline() if process.stdout else ""
            if f"http://127.0.0.1:{port}" in line:
                yield process, f"http://127.0.0.1:{port}"
                return
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
    pytest.fail("terracat serve did not start on any port tried")


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("serve")
    settings = demo_catalogue(folder, demo_records())
    path = folder / "terracat.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "store": settings,
                "harvest": {"ledger": str(folder / "harvest.db")},
                "server": {"host": "127.0.0.1", "port": 5000},
                "sources": [],
            }
        )
    )
    return path


def test_two_workers_answer_each_with_its_own_store_and_stop_on_sigterm(config: Path) -> None:
    store_path = Path(yaml.safe_load(config.read_text())["store"]["path"]).resolve()
    # No scheduler process: only the server processes are counted here (tests/test_scheduler.py has it).
    with terracat_serve(config, "--workers", "2", "--no-scheduler") as (process, url):
        workers = _wait_for(lambda: len(found := _children(process.pid)) == 2 and found)
        # Each worker opens the store itself, after the fork (warming it up before the first search);
        # the process that forks them never does, so there is no connection to share.
        _wait_for(lambda: all(_holds_open(pid, store_path) for pid in workers))
        assert not _holds_open(process.pid, store_path)

        with requests.Session() as session:
            answers = [
                session.get(f"{url}/collections/catalogue/items", params={"q": "climate", "facets": "pole"})
                for _ in range(6)
            ]
        assert {a.status_code for a in answers} == {200}
        page = answers[0].json()
        assert page["numberMatched"] >= 1 and page["features"]
        assert "climate" in page["features"][0]["properties"]["title"].lower()
        assert {b["value"] for b in page["facets"]["pole"]["buckets"]}
        # Connections from several clients at once are answered (by whichever worker accepts them).
        pages = [requests.get(f"{url}/collections/catalogue/items", timeout=30) for _ in range(4)]
        assert [p.status_code for p in pages] == [200] * 4
        assert requests.get(f"{url}/collections/catalogue/items", params={"limit": "x"}).status_code == 400

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert not [pid for pid in workers if _alive(pid)]
        errors = process.stderr.read() if process.stderr else ""
    # A client's mistake is not a server error: nothing logged at ERROR, no traceback.
    assert "ERROR" not in errors and "Traceback" not in errors, errors


def test_one_worker_is_one_process_and_stops_on_sigterm(config: Path) -> None:
    with terracat_serve(config, "--workers", "1") as (process, url):
        assert requests.get(f"{url}/collections/catalogue/items", timeout=30).status_code == 200
        assert not _children(process.pid)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


def test_default_workers_one_per_core_at_most_four() -> None:
    cores = len(os.sched_getaffinity(0))
    assert server_workers() == max(1, min(cores, 4))


def test_client_errors_are_not_logged_as_errors_server_errors_are(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "catalogue.db"
    broken.write_bytes(b"this is not an SQLite database " * 10)
    client = Client(create_app({"backend": "sqlite", "path": str(broken)}, "http://host.test"))
    caplog.set_level(logging.INFO)
    try:
        for query in ("limit=x", "f=xml", "sortby=", "datetime=bad", "filter=((("):
            caplog.clear()
            assert client.get(f"/collections/catalogue/items?{query}").status_code == 400, query
            assert not [r for r in caplog.records if r.levelno >= logging.WARNING], query
            said = [r.getMessage() for r in caplog.records if r.name == "api.server"]
            assert said and all("answered 400" in message for message in said), said

        caplog.clear()
        assert client.get("/collections/catalogue/items").status_code == 500
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert errors and errors[-1].exc_info is not None  # with the traceback
        assert "index is unavailable" in errors[-1].getMessage()
    finally:
        close_stores()
