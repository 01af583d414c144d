"""Paginators that never end and bring new records on every page (``harvester.protocols.bounds``): the
listing stops past the announced total by half and a page, or past ``max_records`` when the source
announces none; the run fails, deletes nothing, and the next run lists the source from the start.
Against real local servers (OGC API Records, OAI-PMH, CSW) over corpus records."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import msgspec
import pytest

from api.settings import ConfigError, load
from catalogue.store import open_store
from harvester.ledger import open_ledger
from harvester.protocols.bounds import Overrun, overrun
from harvester.run import HarvestRun, RunSummary
from harvester.source import Source
from tests.fixtures.fault_server import Reply
from tests.fixtures.faulty_source import FaultyCsw, FaultyOai, Misbehaving, Request
from tests.fixtures.stac_server import Received, RecordsApi, flat, harvest, reply


def test_overrun_bounds() -> None:
    """Past the total by more than half of it and a page; without a total, past max_records."""
    assert overrun(150, 100, 10, 1000, what="records", total="numberMatched") is None
    assert overrun(151, 100, 10, 1000, what="records", total="numberMatched") == (
        "the pages do not end: received 151 records although numberMatched=100, more than 50% and a page "
        "beyond it; stopping instead of following them"
    )
    assert overrun(12, 2, 10, 1000, what="features", total="numberMatched") is None  # a page at least
    assert overrun(13, 2, 10, 1000, what="features", total="numberMatched") is not None
    assert overrun(10**7, None, 10, 10**8, what="records", total="completeListSize") is None
    assert overrun(1001, None, 10, 1000, what="records", total="completeListSize") == (
        "the pages do not end: received 1001 records, more than max_records=1000, from a source that "
        "announces no total (completeListSize); stopping (raise max_records if it holds more)"
    )


def test_max_records_is_a_validated_source_setting(tmp_path: Path) -> None:
    source = {"id": "s", "pole": "AERIS", "protocol": "stac", "format": "stac", "url": "http://a.example/"}
    assert msgspec.convert(source, Source).max_records == 5_000_000
    assert msgspec.convert({**source, "max_records": 20}, Source).max_records == 20
    config = tmp_path / "terracat.yaml"
    config.write_text(
        "store: {backend: sqlite, path: catalogue.db}\n"
        f"sources:\n  - {msgspec.json.encode({**source, 'max_records': 0}).decode()}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"sources\[0\]\.max_records: must be 1 or more, got 0"):
        load(config)


# --- OGC API Records: next links that go on with new records ----------------------------------------------


def endless_records(api: RecordsApi, *, total: bool) -> Callable[[Received], Reply | None]:
    """Past its records the catalogue links to pages of made-up records (the real ones under new ids);
    ``total``: whether its pages say ``numberMatched``."""

    def fault(request: Received) -> Reply | None:
        if request.path != "/collections/catalogue/items":
            return None
        count = len(api.records)
        limit, offset = int(request.query.get("limit", 10)), int(request.query.get("offset", 0))
        features = [
            {**record, "id": f"{record['id']}-{offset + index}"}
            for index, record in enumerate((api.records * (limit // count + 1))[:limit])
        ]
        if offset < count:
            features = api.records[offset : offset + limit]
        following = f"{api.url}{request.path}?" + urlencode({**request.query, "offset": offset + limit})
        page: dict[str, Any] = {
            "type": "FeatureCollection",
            "features": features,
            "links": [{"rel": "next", "href": following}],
        }
        return reply(page | ({"numberMatched": count} if total else {}))

    return fault


def records_source(url: str, **options: Any) -> Source:
    settings = {"id": "records", "page_size": 2, "timeout": 10.0, "retries": 0, **options}
    return Source(pole="AERIS", protocol="ogcapi-records", format="ogcapi-records", url=url, **settings)


@pytest.mark.parametrize("total", [True, False], ids=["numberMatched", "no-total"])
def test_records_api_new_records_on_every_page_stop_the_listing(
    records_api: Callable[..., RecordsApi], total: bool
) -> None:
    api = records_api()
    count = len(api.records)
    api.fault = endless_records(api, total=total)
    most = count + 3
    pages, failure = harvest(records_source(api.url, max_records=most))
    received = len(flat(pages))
    assert isinstance(failure, Overrun), failure
    if total:  # stopped on the first page past count + max(count // 2, 2)
        bound = count + max(count // 2, 2)
        assert bound < received <= bound + 2
        assert f"received {received} features although numberMatched={count}" in str(failure)
    else:
        assert most < received <= most + 2
        assert f"received {received} features, more than max_records={most}" in str(failure)
    filled = [page for page in pages if page.records]
    assert str(failure).startswith(f"items of catalogue page {len(filled)} (GET ")  # after the page crossing
    assert [r.native_id for r in flat(pages)[:count]] == [record["id"] for record in api.records]


def test_the_run_fails_deletes_nothing_and_the_next_lists_from_the_start(
    records_api: Callable[..., RecordsApi], tmp_path: Path
) -> None:
    """The made-up records the broken pages brought are indexed (the source served them); the listing is
    begun again, so a clean full harvest deletes them as no longer listed."""
    api = records_api()
    source = records_source(api.url, max_delete_ratio=1.0)
    store = open_store({"backend": "sqlite", "path": str(tmp_path / "catalogue.db")})
    ledger = open_ledger(tmp_path / "harvest.db")
    clean = HarvestRun(source, store, ledger).execute()
    assert clean.status == "succeeded", clean.line()
    held = store.ids(source.id)
    removed = ledger.known(source.id)[api.records[0]["id"]].record_id
    api.fault = endless_records(api, total=True)
    api.records = api.records[1:]  # a record removed at the source: a complete listing would delete it
    faulty = HarvestRun(source, store, ledger, full=True).execute()
    assert faulty.status == "failed" and not faulty.listing_complete, faulty.line()
    assert "the pages do not end" in (faulty.error or "") and faulty.counts["deleted"] == 0
    assert faulty.notes == ["the listing ran past its bound: the next run lists from the start"]
    made_up = store.ids(source.id) - held
    assert made_up and held < store.ids(source.id)  # every record kept, and the made-up ones indexed
    listing = ledger.listing(source.id)
    assert listing is not None and listing.checkpoint is None and ledger.seen(source.id) == set()
    api.fault = lambda request: None
    recovery = HarvestRun(source, store, ledger, full=True).execute()
    assert recovery.status == "succeeded" and recovery.counts["deleted"] == len(made_up) + 1, recovery.line()
    assert store.ids(source.id) == held - {removed}


# --- OAI-PMH: resumption tokens that go on with new records ------------------------------------------------


def endless_tokens(server: FaultyOai, *, total: bool) -> Callable[[int, Request, Reply], Reply | None]:
    """Past its last page the repository goes on giving tokens, each page the first one's records under
    new identifiers; ``total``: whether its tokens say ``completeListSize``."""
    held = server.held()

    def fault(page: int, request: Request, reply_: Reply) -> Reply | None:
        if request.query.get("verb") != "ListRecords":
            return None
        status, content, headers = reply_
        token = request.query.get("resumptionToken", "")
        key, _, offset = token.partition(":")
        if token and int(offset) >= held:
            first = server.normal(
                Request("GET", request.path, {**request.query, "resumptionToken": f"{key}:0"}, b"", 0)
            )
            content = re.sub(
                rb"(<identifier>[^<]+)(</identifier>)", rb"\1-" + offset.encode() + rb"\2", first[1]
            )
        else:
            key = key or re.search(rb">(\d+):\d+</resumptionToken>", content)[1].decode()  # type: ignore[index]
        following = f"{key}:{int(offset or 0) + server.page_size}".encode()
        size = f' completeListSize="{held}"'.encode() if total else b""
        token_element = b"<resumptionToken" + size + b">" + following + b"</resumptionToken>"
        content = re.sub(rb"<resumptionToken[^>]*(?:/>|>[^<]*</resumptionToken>)", b"", content)
        return status, content.replace(b"</ListRecords>", token_element + b"</ListRecords>"), headers

    return fault


@pytest.fixture
def oai() -> Iterator[FaultyOai]:
    server = FaultyOai()
    try:
        yield server
    finally:
        server.close()


def run(
    server: Misbehaving, tmp_path: Path, fault: Callable[..., Reply | None], **options: Any
) -> RunSummary:
    source = Source(
        id="endless", pole="ODATIS", protocol=server.protocol, format=server.format, url=server.url,
        page_size=10, timeout=5, retries=0, **options,
    )  # fmt: skip
    store = open_store({"backend": "sqlite", "path": str(tmp_path / "catalogue.db")})
    server.arm(fault)
    try:
        return HarvestRun(source, store, open_ledger(tmp_path / "harvest.db"), full=True).execute()
    finally:
        server.disarm()


@pytest.mark.parametrize("total", [True, False], ids=["completeListSize", "no-total"])
def test_oai_tokens_with_new_records_stop_the_listing(oai: FaultyOai, tmp_path: Path, total: bool) -> None:
    summary = run(oai, tmp_path, endless_tokens(oai, total=total), max_records=35)
    assert summary.status == "failed" and summary.counts["deleted"] == 0, summary.line()
    if total:  # 30 + max(15, 10): the fifth page of 10 crosses it
        assert summary.received == 50  # the made-up pages' records share their DOIs: duplicates
        assert (
            "ListRecords page 5: the pages do not end: received 50 records although completeListSize=30"
            in (summary.error or "")
        )
    else:
        assert summary.received == 40
        assert "ListRecords page 4: the pages do not end: received 40 records, more than max_records=35" in (
            summary.error or ""
        )


# --- CSW: nextRecord that goes on within the total --------------------------------------------------------


def test_csw_next_record_that_reads_pages_again_for_ever_stops(tmp_path: Path) -> None:
    """nextRecord is always one past the page's start: every page but its first record is read again, and
    the listing would crawl through the catalogue a record at a time, each page costing ten."""
    server = FaultyCsw()
    try:

        def crawl(page: int, request: Request, reply_: Reply) -> Reply | None:
            status, content, headers = reply_
            start = server.position(request)
            return (
                status,
                re.sub(rb'nextRecord="\d+"', f'nextRecord="{start + 1}"'.encode(), content),
                headers,
            )

        summary = run(server, tmp_path, crawl)
    finally:
        server.close()
    assert summary.status == "failed" and summary.counts["deleted"] == 0, summary.line()
    assert summary.received == 50  # 30 + max(15, 10) crossed by the fifth page
    assert (
        "startPosition=5: the pages do not end: received 50 records although numberOfRecordsMatched=30"
        in (summary.error or "")
    )
