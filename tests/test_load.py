"""The load scenario of ``bench/load.py`` at a small scale: clients firing a portal's mix at ``terracat
serve`` while ``terracat harvest`` writes into the same index, everything in processes of its own on
127.0.0.1. Every answer must be the one expected and well-formed, no search may miss a committed write,
and the server must log no error. Nothing is timed here (figures are the bench's): what is asserted is
that the server holds, whatever the speed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.load import KINDS, Report, run_load


@pytest.fixture(scope="module", params=[1, 2], ids=["waitress", "2 gunicorn workers"])
def report(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Report:
    workdir: Path = tmp_path_factory.mktemp("load")
    # A write transaction per page of 100 records: several writes during the 5 seconds.
    return run_load(2000, 40, 5, request.param, 100, workdir, batch=100, say=lambda line: None)


def test_every_answer_is_the_expected_one(report: Report) -> None:
    assert report.samples, "no request was answered"
    assert dict(report.errors) == {}
    for kind, _, status, error, _ in report.samples:
        assert (status, error) == (404 if kind == "missing" else 200, "")


def test_the_whole_mix_was_sent(report: Report) -> None:
    assert {kind for kind, *_ in report.samples} == set(KINDS)


def test_the_harvest_wrote_while_the_clients_searched(report: Report) -> None:
    assert report.harvested > 0
    assert report.probes > 0
    assert report.stale == []


def test_the_server_logged_no_error(report: Report) -> None:
    assert report.server_errors == []
    assert report.rss_mb and all(mb > 0 for mb in report.rss_mb.values())
