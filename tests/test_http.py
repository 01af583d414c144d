"""``HttpClient`` against real servers on 127.0.0.1: tokens from the environment reach the source's host
and no other, a missing variable is named, and an oversized answer is refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harvester import http as http_module
from harvester.http import HttpClient
from harvester.protocols import ListingError
from harvester.source import Source
from tests.fixtures.fault_server import FaultServer


@pytest.fixture
def other_host() -> Iterator[FaultServer]:
    server = FaultServer()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def source(url: str, **options: object) -> Source:
    return Source(id="http-test", pole="THEIA", protocol="csw", url=url, retries=0, **options)  # type: ignore[arg-type]


def test_source_headers_come_from_the_environment_and_go_to_its_host_only(
    faulty: FaultServer, other_host: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THEIA_TOKEN", "s3cret")
    faulty.respond = other_host.respond = lambda index, request: (200, b"ok", {"Content-Type": "text/plain"})
    headers = {"Authorization": "Bearer ${THEIA_TOKEN}", "X-Client": "terracat"}

    with HttpClient(source(faulty.url, headers=headers), accept="application/json") as client:
        client.post(faulty.url, b"{}", "application/json")
        client.post(other_host.url, b"{}", "application/json")  # a next link to another host

    sent = faulty.requests[0].headers
    assert (sent["Authorization"], sent["X-Client"], sent["Accept"]) == (
        "Bearer s3cret",
        "terracat",
        "application/json",
    )
    assert "Authorization" not in other_host.requests[0].headers
    assert "X-Client" not in other_host.requests[0].headers


def test_a_missing_environment_variable_is_named_not_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("THEIA_TOKEN", raising=False)
    with pytest.raises(ListingError) as error:
        HttpClient(
            source("http://127.0.0.1:9/", headers={"Authorization": "Bearer ${THEIA_TOKEN}"}), accept="*/*"
        )
    assert str(error.value) == "header Authorization: environment variable THEIA_TOKEN is not set"


def test_a_response_larger_than_the_limit_is_refused(faulty: FaultServer) -> None:
    faulty.respond = lambda index, request: (200, b"x" * 2_000_000, {"Content-Type": "text/plain"})

    client = HttpClient(source(faulty.url, max_response_mb=1), accept="*/*")
    with client, pytest.raises(ListingError) as error:
        client.post(faulty.url, b"", "text/plain")

    assert (
        str(error.value)
        == f"POST {faulty.url}: the response is 2,000,000 bytes, more than max_response_mb=1 MB"
    )


def test_only_http_urls_are_requested(faulty: FaultServer) -> None:
    with HttpClient(source(faulty.url), accept="*/*") as client, pytest.raises(ListingError) as error:
        client.get("file:///etc/passwd")
    assert str(error.value).endswith("only http and https URLs are harvested")
    assert faulty.requests == []


def test_polite_delay_spaces_the_requests(faulty: FaultServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two requests in a row: the second waits out what remains of the source's delay."""
    pauses: list[float] = []
    monkeypatch.setattr(http_module.time, "sleep", pauses.append)
    faulty.respond = lambda index, request: (200, b"ok", {"Content-Type": "text/plain"})

    with HttpClient(source(faulty.url, delay=5.0), accept="*/*") as client:
        client.post(faulty.url, b"", "text/plain")
        client.post(faulty.url, b"", "text/plain")

    assert len(pauses) == 1 and 4.0 < pauses[0] <= 5.0
    assert len(faulty.requests) == 2
