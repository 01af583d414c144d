"""End to end over CSW: a real pycsw serving the corpus records, harvested into the SQLite index.

What pycsw holds is read from pycsw itself (its database and a ``resultType=hits`` query), never assumed:
the harvest must receive exactly ``numberOfRecordsMatched`` records at any page size, index each once,
and every harvested record must equal, field by field, the record read from the same file on disk.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from catalogue.query import Query
from catalogue.record import BBox, Record
from catalogue.store import open_store
from harvester import formats
from harvester.ledger import Ledger, open_ledger
from harvester.raw import RawRecord
from harvester.run import HarvestRun, RunSummary
from harvester.source import Source
from tests.fixtures.fault_server import FaultServer, xml
from tests.fixtures.pycsw_server import DEMO_ISO19139, PycswServer


def csw_source(url: str, page_size: int) -> Source:
    return Source(
        id="sextant", pole="ODATIS", protocol="csw", url=url, page_size=page_size, retries=1, timeout=30
    )


def harvest(tmp_path: Path, source: Source) -> tuple[RunSummary, dict[str, Record], Ledger]:
    store = open_store({"backend": "sqlite", "path": str(tmp_path / "catalogue.db")})
    ledger = open_ledger(tmp_path / "harvest.db")
    summary = HarvestRun(source, store, ledger, batch_size=50).execute()
    records = {r.id: r for r in store.search(Query(limit=10_000)).records}
    return summary, records, ledger


def from_disk(server: PycswServer) -> dict[str, Record]:
    """The records the same files give when read from disk (the reference for field-by-field checks)."""
    crosswalk = formats.get("iso19139")
    out = {}
    for path in server.loaded:
        raw = RawRecord(source_id="sextant", format="iso19139", content=path.read_bytes(), locator=path.name)
        record = crosswalk.to_record(raw, pole="ODATIS")
        out[record.id] = record
    return out


def comparable(record: Record) -> Record:
    """A record without what legitimately differs between two harvests (when and from where) and what
    the catalogue adds at indexing (its quality assessment)."""
    return msgspec.structs.replace(record, provenance=None, quality=None)


@pytest.mark.parametrize("page_size", [1, 7, 100])
def test_harvest_receives_every_record_once_at_any_page_size(
    tmp_path: Path, pycsw_server: PycswServer, page_size: int
) -> None:
    summary, records, ledger = harvest(tmp_path, csw_source(pycsw_server.url, page_size))
    assert summary.status == "succeeded", summary.error
    assert summary.matched == pycsw_server.count == len(pycsw_server.identifiers)
    assert summary.received == summary.matched
    events = ledger.events(summary.run_id or 0)
    assert len(events) == pycsw_server.count
    # pycsw holds each identifier once: any duplicate here would be a paging overlap
    assert not [e for e in events if e.code == "duplicate-identifier"]
    assert sorted(records) == sorted(from_disk(pycsw_server))
    assert summary.counts["added"] == len(records) == summary.received - summary.counts["rejected"]


def test_harvested_records_match_their_source_field_by_field(
    tmp_path: Path, pycsw_server: PycswServer
) -> None:
    _, records, _ = harvest(tmp_path, csw_source(pycsw_server.url, 10))
    expected = from_disk(pycsw_server)
    assert sorted(records) == sorted(expected)
    assert len(records) >= 30
    for record_id, record in records.items():
        assert comparable(record) == comparable(expected[record_id]), record_id
        assert record.provenance is not None
        assert record.provenance.source_url == pycsw_server.url
        assert record.provenance.harvested_at
    # concrete values of a sampled record, as its source says them
    ipma = records["sextant.17bd184a-7e7d-4f81-95a5-041449a7212b"]
    assert ipma.title.text == "Air temperature"
    assert ipma.bboxes == [BBox(-9.5, 36.96, -6.19, 42.15)]
    assert ipma.pole == "ODATIS" and ipma.source_id == "sextant"


def test_second_csw_harvest_asks_only_for_changes(tmp_path: Path, pycsw_server: PycswServer) -> None:
    """The corpus records were all modified years ago: the incremental run (apiso:Modified >= the first
    run's start) receives none of them, and deletes nothing for not having seen them."""
    source = csw_source(pycsw_server.url, 25)
    first, _, ledger = harvest(tmp_path, source)
    store = open_store({"backend": "sqlite", "path": str(tmp_path / "catalogue.db")})
    second = HarvestRun(source, store, ledger).execute()
    assert (first.kind, second.kind, second.status) == ("full", "incremental", "succeeded")
    assert second.received == 0 and second.matched == 0
    assert store.count("sextant") == first.counts["added"]


def test_full_csw_harvest_again_is_all_unchanged(tmp_path: Path, pycsw_server: PycswServer) -> None:
    source = csw_source(pycsw_server.url, 25)
    first, _, ledger = harvest(tmp_path, source)
    store = open_store({"backend": "sqlite", "path": str(tmp_path / "catalogue.db")})
    second = HarvestRun(source, store, ledger, full=True).execute()
    assert (second.kind, second.status) == ("full", "succeeded")
    assert second.counts["unchanged"] == first.counts["added"]
    assert second.counts["added"] == second.counts["updated"] == second.counts["deleted"] == 0
    assert store.count("sextant") == first.counts["added"]


def test_listing_failing_midway_keeps_what_was_received(faulty: FaultServer, tmp_path: Path) -> None:
    """Page 1 arrives (a real pycsw page of 5 records), page 2 fails: the run fails, page 1 is indexed."""
    faulty.respond = lambda index, request: (
        xml("pycsw__apiso__post_GetRecords-all.xml") if index == 0 else (500, b"database gone", {})
    )
    source = Source(id="sextant", pole="ODATIS", protocol="csw", url=faulty.url, page_size=5, retries=0)
    summary, records, ledger = harvest(tmp_path, source)
    assert summary.status == "failed" and not summary.listing_complete
    assert f"CSW {faulty.url} startPosition=6: HTTP 500" in (summary.error or "")
    assert summary.matched == 18 and summary.received == 5
    assert summary.counts["added"] == len(records) == 5
    assert "sextant.3e9a8c05" in records
    assert ledger.runs("sextant")[0].status == "failed"


def test_source_credentials_and_tokens_are_not_published(tmp_path: Path, pycsw_server: PycswServer) -> None:
    """A source URL may carry a token; every record says where it came from without it."""
    url = pycsw_server.url.replace("http://", "http://harvester:s3cret@") + "?token=abc123"
    _, records, _ = harvest(tmp_path, csw_source(url, 100))
    assert records
    assert {r.provenance.source_url for r in records.values() if r.provenance} == {pycsw_server.url}


def test_a_server_without_iso_is_harvested_in_dublin_core(
    tmp_path: Path, pycsw_factory: Callable[..., PycswServer]
) -> None:
    """pycsw without its ISO profile refuses the ISO outputSchema: the run harvests its csw:Record
    instead, through the Dublin Core crosswalk, and says so."""
    server = pycsw_factory(sorted(DEMO_ISO19139.glob("pycsw__*.xml")), profiles=())
    summary, records, _ = harvest(tmp_path, csw_source(server.url, 10))

    assert summary.status == "succeeded" and summary.counts["added"] == len(server.identifiers)
    assert {r.native_id for r in records.values()} == set(server.identifiers)
    assert {r.provenance.native_format for r in records.values() if r.provenance} == {"dc"}
    assert all(r.title.text for r in records.values())
