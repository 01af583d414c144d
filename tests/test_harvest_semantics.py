"""Harvest semantics: deletion of records a source no longer lists (and its guards), incremental runs
from the watermark, and listings that continue after an interruption, even a SIGKILL.

Sources are real: a folder of the corpus records that a test changes as a pole's catalogue would, and a
real pycsw serving the same records, reached directly or through a proxy on 127.0.0.1 that fails or
slows down on purpose. Each case checks the catalogue afterwards, not only the run's counts.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
import requests

from api.settings import Settings, load
from catalogue.query import Query
from catalogue.record import Record
from catalogue.store import Store, open_store
from harvester.ledger import Ledger, open_ledger
from harvester.run import HarvestRun, RunSummary
from harvester.source import Source
from tests.fixtures.fault_server import FaultServer, Received, Reply
from tests.fixtures.oai_server import DATA, OaiServer, records
from tests.fixtures.pycsw_server import PycswServer

ROOT = Path(__file__).resolve().parent.parent

FOLDER_CONFIG = """\
store: {backend: sqlite, path: var/catalogue.db}
harvest: {ledger: var/harvest.db, batch_size: 7}
sources:
  - id: demo
    pole: ODATIS
    protocol: directory
    path: records
    page_size: 10
"""


@pytest.fixture
def folder(tmp_path: Path, demo_records: Path) -> Settings:
    shutil.copytree(demo_records, tmp_path / "records")
    (tmp_path / "terracat.yaml").write_text(FOLDER_CONFIG, encoding="utf-8")
    return load(tmp_path / "terracat.yaml")


def run(settings: Settings, **options: bool) -> tuple[RunSummary, Store, Ledger]:
    store = open_store(settings.store)
    ledger = open_ledger(settings.harvest.ledger)
    summary = HarvestRun(settings.sources[0], store, ledger, batch_size=7, **options).execute()
    return summary, store, ledger


def indexed_files(ledger: Ledger, summary: RunSummary) -> dict[str, str]:
    """File name -> record id, for the files the run added."""
    assert summary.run_id is not None
    return {e.locator: e.record_id for e in ledger.events(summary.run_id, "added") if e.record_id}


def catalogue(store: Store, source_id: str) -> dict[str, Record]:
    """The source's records without what differs between two harvests (when and from where)."""
    records = store.search(Query(limit=10_000, properties={"source": [source_id]})).records
    assert len(records) == store.count(source_id), "a duplicate or a lost record in the comparison"
    return {r.id: msgspec.structs.replace(r, provenance=None) for r in records}


# --- deletion of records no longer listed ---------------------------------------------------------


def test_records_no_longer_listed_are_deleted(folder: Settings) -> None:
    first, store, ledger = run(folder)
    files = indexed_files(ledger, first)
    gone = sorted(files)[:3]  # 3 of 38 records: under the 20 % guard
    for name in gone:
        (Path(folder.sources[0].path or "") / name).unlink()

    second, _, _ = run(folder)

    assert second.status == "succeeded" and second.kind == "full" and second.notes == []
    assert second.counts["deleted"] == 3
    assert store.count("demo") == first.counts["added"] - 3
    assert all(store.get(files[name]) is None for name in gone)
    deleted = ledger.events(second.run_id or 0, "deleted")
    assert sorted((e.record_id, e.code) for e in deleted) == sorted((files[n], "not-listed") for n in gone)
    assert all(ledger.raw(files[name]) is None for name in gone)  # forgotten by the ledger too


def test_deleting_more_than_the_ratio_waits_for_a_confirmation(folder: Settings) -> None:
    first, store, ledger = run(folder)
    files = indexed_files(ledger, first)
    for name in sorted(files)[:10]:  # 10 of 38: 26 %, above max_delete_ratio 20 %
        (Path(folder.sources[0].path or "") / name).unlink()

    withheld, _, _ = run(folder)

    assert withheld.status == "succeeded" and withheld.counts["deleted"] == 0
    assert store.count("demo") == first.counts["added"]
    assert withheld.notes == [
        "10 of 38 records (26%) were not seen but none deleted: more than max_delete_ratio 20%; check the "
        "source, then run `terracat harvest --full --confirm-delete demo` to delete them"
    ]
    assert ledger.runs("demo")[0].notes == withheld.notes

    confirmed, _, _ = run(folder, full=True, confirm_delete=True)

    assert confirmed.counts["deleted"] == 10 and confirmed.notes == []
    assert store.count("demo") == first.counts["added"] - 10


def test_a_rejected_record_is_seen_and_keeps_its_version(folder: Settings) -> None:
    first, store, ledger = run(folder)
    files = indexed_files(ledger, first)
    name = sorted(files)[0]
    path = Path(folder.sources[0].path or "") / name
    before = store.get(files[name])
    path.write_bytes(path.read_bytes()[:1000])  # a truncated file: rejected, not unlisted

    second, _, _ = run(folder)

    assert second.counts["rejected"] == first.counts["rejected"] + 1 and second.counts["deleted"] == 0
    assert store.get(files[name]) == before


def csw_source(url: str, *, page_size: int = 5, **options: object) -> Source:
    return Source(
        id="sextant",
        pole="ODATIS",
        protocol="csw",
        url=url,
        page_size=page_size,
        retries=0,
        timeout=30,
        **options,  # type: ignore[arg-type]
    )


def proxy(target: str, fail: set[int] | None = None, delay: float = 0.0):
    """A FaultServer answer that forwards each GetRecords to the real pycsw, failing the requests whose
    index is in ``fail`` with an HTTP 500 and waiting ``delay`` seconds before each answer."""

    def respond(index: int, request: Received) -> Reply:
        time.sleep(delay)
        if fail and index in fail:
            return 500, b"database connection lost", {"Content-Type": "text/plain"}
        answer = requests.post(target, data=request.body, headers={"Content-Type": "application/xml"})
        return answer.status_code, answer.content, {"Content-Type": answer.headers["Content-Type"]}

    return respond


def csw_harvest(tmp_path: Path, source: Source, **options: bool) -> tuple[RunSummary, Store, Ledger]:
    store = open_store({"backend": "sqlite", "path": str(tmp_path / "catalogue.db")})
    ledger = open_ledger(tmp_path / "harvest.db")
    return HarvestRun(source, store, ledger, batch_size=4, **options).execute(), store, ledger


def test_a_failed_full_listing_deletes_nothing(
    tmp_path: Path, pycsw_server: PycswServer, faulty: FaultServer
) -> None:
    first, store, _ = csw_harvest(tmp_path, csw_source(pycsw_server.url))
    faulty.respond = proxy(pycsw_server.url, fail={2})  # page 3 of 7 fails

    failed, _, _ = csw_harvest(tmp_path, csw_source(faulty.url), full=True)

    assert failed.status == "failed" and failed.counts["unchanged"] == 10 and failed.counts["deleted"] == 0
    assert "startPosition=11: HTTP 500" in (failed.error or "")
    assert store.count("sextant") == first.counts["added"] == pycsw_server.count


def test_a_listing_short_of_what_the_server_announced_deletes_nothing(
    tmp_path: Path, pycsw_server: PycswServer, faulty: FaultServer
) -> None:
    """A server that ends its listing early (nextRecord=0 after two pages although it matched 33):
    complete in its own terms, but the run does not delete the 23 records it did not get."""
    first, store, _ = csw_harvest(tmp_path, csw_source(pycsw_server.url))
    forward = proxy(pycsw_server.url)

    def early_end(index: int, request: Received) -> Reply:
        status, body, headers = forward(index, request)
        if index == 1:
            body = body.replace(b'nextRecord="11"', b'nextRecord="0"')
        return status, body, headers

    faulty.respond = early_end

    short, _, _ = csw_harvest(tmp_path, csw_source(faulty.url), full=True)

    assert short.status == "succeeded" and short.received == 10 and short.counts["deleted"] == 0
    assert short.notes == [
        "23 record(s) not seen but none deleted: the listing gave 10 records of the 33 the source announced"
    ]
    assert store.count("sextant") == first.counts["added"]


# --- incremental runs and resumed listings ------------------------------------------------------------


def test_an_interrupted_listing_is_continued_by_the_next_run(
    tmp_path: Path, pycsw_server: PycswServer, faulty: FaultServer
) -> None:
    reference, reference_store, _ = csw_harvest(tmp_path / "reference", csw_source(pycsw_server.url))
    faulty.respond = proxy(pycsw_server.url, fail={3})  # pages 1-3 arrive, page 4 fails

    interrupted, store, ledger = csw_harvest(tmp_path, csw_source(faulty.url))
    starts_before = len(faulty.requests)
    faulty.respond = proxy(pycsw_server.url)
    resumed, _, _ = csw_harvest(tmp_path, csw_source(faulty.url))

    assert (interrupted.status, interrupted.counts["added"]) == ("failed", 15)
    assert resumed.status == "succeeded" and resumed.resumed_from == interrupted.run_id
    assert resumed.kind == "full"  # it continued the first, full listing
    assert faulty.starts[starts_before:] == [16, 21, 26, 31]  # from the checkpoint, not from 1
    assert resumed.counts["added"] == reference.counts["added"] - 15
    assert catalogue(store, "sextant") == catalogue(reference_store, "sextant")
    assert ledger.listing("sextant") is None and ledger.watermark("sextant") is not None


def test_full_run_after_an_interrupted_one_deletes_only_what_neither_saw(
    tmp_path: Path, pycsw_server: PycswServer, faulty: FaultServer
) -> None:
    """The records seen before the interruption count as seen when the continued listing completes: a
    record listed only on the pages before the interruption is not deleted."""
    first, store, _ = csw_harvest(tmp_path, csw_source(pycsw_server.url))
    faulty.respond = proxy(pycsw_server.url, fail={2})
    csw_harvest(tmp_path, csw_source(faulty.url), full=True)
    faulty.respond = proxy(pycsw_server.url)

    resumed, _, _ = csw_harvest(tmp_path, csw_source(faulty.url), full=True)

    assert resumed.status == "succeeded" and resumed.counts["deleted"] == 0
    assert store.count("sextant") == first.counts["added"]


def test_incremental_run_asks_the_server_for_changes_since_the_watermark(
    tmp_path: Path, pycsw_server: PycswServer, faulty: FaultServer
) -> None:
    faulty.respond = proxy(pycsw_server.url)
    first, _, ledger = csw_harvest(tmp_path, csw_source(faulty.url))
    watermark = ledger.watermark("sextant")
    second, _, _ = csw_harvest(tmp_path, csw_source(faulty.url))

    assert (first.kind, second.kind) == ("full", "incremental")
    assert watermark is not None and first.seconds < 60
    constraint = f"<fes:Literal>{watermark}</fes:Literal>".encode()
    assert constraint in faulty.requests[-1].body and b"apiso:Modified" in faulty.requests[-1].body
    assert all(constraint not in request.body for request in faulty.requests[:-1])


def test_harvest_killed_mid_listing_resumes_to_the_same_catalogue(
    tmp_path: Path, pycsw_server: PycswServer, faulty: FaultServer
) -> None:
    """``terracat harvest`` in a real subprocess, killed with SIGKILL once a checkpoint is committed,
    then run again: it continues the listing and ends with the catalogue of an uninterrupted run."""
    reference, reference_store, _ = csw_harvest(tmp_path / "reference", csw_source(pycsw_server.url))
    faulty.respond = proxy(pycsw_server.url, delay=0.15)
    config = tmp_path / "terracat.yaml"
    config.write_text(
        "store: {backend: sqlite, path: catalogue.db}\n"
        "harvest: {ledger: harvest.db, batch_size: 2}\n"
        "sources:\n"
        f"  - {{id: sextant, pole: ODATIS, protocol: csw, url: '{faulty.url}', page_size: 3, retries: 0}}\n",
        encoding="utf-8",
    )
    command = [sys.executable, "-m", "api.cli", "harvest", "--config", str(config)]
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.PIPE)
    try:
        assert wait_for_checkpoint(tmp_path / "harvest.db", process), "no checkpoint was committed"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    done = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("sextant (full, resumed run #1): received ")
    store = open_store({"backend": "sqlite", "path": str(tmp_path / "catalogue.db")})
    assert catalogue(store, "sextant") == catalogue(reference_store, "sextant")
    assert store.count("sextant") == reference.counts["added"]
    runs = open_ledger(tmp_path / "harvest.db").runs("sextant")
    assert [(r.status, r.resumed_from) for r in runs] == [("succeeded", 1), ("interrupted", None)]


def wait_for_checkpoint(ledger: Path, process: subprocess.Popen[bytes], timeout: float = 30.0) -> bool:
    """Poll the ledger until the running harvest has committed a checkpoint (and is not finished)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if ledger.exists():
            with sqlite3.connect(ledger, timeout=5) as db:
                try:
                    row = db.execute("SELECT checkpoint FROM listings").fetchone()
                except sqlite3.OperationalError:  # tables not created yet
                    row = None
            if row and row[0]:
                return True
        time.sleep(0.05)
    return False


# --- the same resource from two sources -----------------------------------------------------------------

TWO_SOURCES = """\
store: {backend: sqlite, path: var/catalogue.db}
harvest: {ledger: var/harvest.db, parallel: 1}
sources:
  - {id: alpha, pole: ODATIS, protocol: directory, path: alpha}
  - {id: beta, pole: THEIA, protocol: directory, path: beta}
"""
# Real records holding a DOI (two) and a resource identifier URN: published again by a second source.
SHARED = {
    "b2find__bbox_2ea750c6-4354-5f0a-9b67-2275d922d06f.xml": "doi:10.16904/14",
    "pygeometa__707a02ac-9240-4a2d-afbd-395b69756534.xml": "doi:10.20387/bonares-1naq-dvww",
    "geonetwork__urnHMAEUMM02AVHxxx1B.xml": "urn:HMA:EUM:M02::AVHxxx1B",
}


def test_the_same_resource_from_two_sources_is_served_once_and_linked(
    tmp_path: Path, demo_records: Path
) -> None:
    shutil.copytree(demo_records, tmp_path / "alpha")
    (tmp_path / "beta").mkdir()
    for name in SHARED:
        shutil.copy(demo_records / name, tmp_path / "beta" / name)
    (tmp_path / "terracat.yaml").write_text(TWO_SOURCES, encoding="utf-8")
    settings = load(tmp_path / "terracat.yaml")
    store = open_store(settings.store)
    ledger = open_ledger(settings.harvest.ledger)

    alpha = HarvestRun(settings.sources[0], store, ledger).execute()
    beta = HarvestRun(settings.sources[1], store, ledger).execute()

    assert beta.status == "succeeded" and beta.counts["duplicate"] == 3 and beta.counts["added"] == 0
    events = ledger.events(beta.run_id or 0, "duplicate")
    primaries = {e.locator: e.message.split(",")[0].removeprefix("the same resource as ") for e in events}
    assert {e.code for e in events} == {"same-resource"}
    assert sorted(primaries) == sorted(SHARED)
    assert all(primary.startswith("alpha.") for primary in primaries.values())
    # searches serve each resource once; the copies stay stored and findable by id
    assert store.count() == alpha.counts["added"] + 3
    assert store.search(Query(limit=1000)).matched == alpha.counts["added"]
    copies = [e.record_id for e in events if e.record_id]
    assert len(store.search(Query(ids=copies)).records) == 3
    for copy in copies:
        primary = store.duplicates_of([copy])[copy]
        assert store.group(primary) == [primary, copy]


def test_group_links_in_the_api(tmp_path: Path, demo_records: Path) -> None:
    """The primary's record page lists its duplicate, the duplicate names its primary."""
    from tests.fixtures.api_server import serving

    shutil.copytree(demo_records, tmp_path / "alpha")
    (tmp_path / "beta").mkdir()
    name = "geonetwork__urnHMAEUMM02AVHxxx1B.xml"
    shutil.copy(demo_records / name, tmp_path / "beta" / name)
    (tmp_path / "terracat.yaml").write_text(TWO_SOURCES, encoding="utf-8")
    settings = load(tmp_path / "terracat.yaml")
    with open_store(settings.store) as store:
        ledger = open_ledger(settings.harvest.ledger)
        for source in settings.sources:
            HarvestRun(source, store, ledger).execute()
        (copy,) = [e.record_id for e in ledger.events(2, "duplicate")]
        primary = store.duplicates_of([copy])[copy]

    with serving(settings.store) as url:
        items = f"{url}/collections/catalogue/items"
        shown = requests.get(f"{items}/{primary}", params={"f": "json"}, timeout=30).json()
        copied = requests.get(f"{items}/{copy}", params={"f": "json"}, timeout=30).json()

    assert [link["href"] for link in shown["links"] if link["rel"] == "duplicate"] == [f"{items}/{copy}"]
    # the copy's own identifier, under its source's name: the dataset is found through externalIds
    assert {"scheme": "beta", "value": "urn:HMA:EUM:M02::AVHxxx1B"} in shown["properties"]["externalIds"]
    assert [link["href"] for link in copied["links"] if link["rel"] == "canonical"] == [f"{items}/{primary}"]


# --- OAI-PMH faults midway through a full listing: nothing lost, nothing deleted, then resumed -------

OAI_RECORDS = DATA / "oai" / "pyoai__fake2_00002.xml"  # 81 real DSpace records, 2 of them deleted


def _third_page(
    fault: Callable[[dict[str, str], Reply], Reply],
) -> Callable[[int, dict[str, str], Reply], Reply]:
    """A script that spoils the answer to the third ListRecords request with ``fault``."""
    seen = []

    def script(index: int, params: dict[str, str], reply: Reply) -> Reply:
        if params.get("verb") != "ListRecords":
            return reply
        seen.append(index)
        return fault(params, reply) if len(seen) == 3 else reply

    return script


def _repeat_token(params: dict[str, str], reply: Reply) -> Reply:
    status, body, headers = reply
    sent = params["resumptionToken"].encode()
    return (
        status,
        re.sub(rb"(<resumptionToken[^>]*>)[^<]+(</resumptionToken>)", rb"\g<1>" + sent + rb"\2", body),
        headers,
    )


OAI_FAULTS = {
    "http-500": (
        lambda params, reply: (500, b"Internal Server Error", {"Content-Type": "text/plain"}),
        "HTTP 500",
    ),
    "truncated-page": (lambda params, reply: (reply[0], reply[1][: len(reply[1]) // 2], reply[2]), "not XML"),
    "malformed-xml": (lambda params, reply: (200, b"<OAI-PMH><ListRecords><record>", reply[2]), "not XML"),
    "repeated-token": (_repeat_token, "repeats the one just sent"),
}


@pytest.mark.parametrize("fault", sorted(OAI_FAULTS))
def test_oai_fault_midway_loses_and_deletes_nothing_then_resumes(
    tmp_path: Path, oai_server: Callable[..., OaiServer], fault: str
) -> None:
    server = oai_server(records(OAI_RECORDS), page_size=10)
    src = Source(
        id="dspace", pole="ODATIS", protocol="oai-pmh", url=server.url, format="dc", retries=0, timeout=5
    )
    store = open_store({"backend": "sqlite", "path": str(tmp_path / "catalogue.db")})
    ledger = open_ledger(tmp_path / "harvest.db")
    first = HarvestRun(src, store, ledger).execute()
    before = catalogue(store, "dspace")
    spoil, message = OAI_FAULTS[fault]
    server.script = _third_page(spoil)

    failed = HarvestRun(src, store, ledger, full=True).execute()

    assert first.status == "succeeded" and len(before) == first.counts["added"] > 50
    assert failed.status == "failed" and message in (failed.error or "")
    assert failed.counts["deleted"] == 0 and catalogue(store, "dspace") == before
    server.script = None
    resumed = HarvestRun(src, store, ledger, full=True).execute()
    assert resumed.status == "succeeded" and resumed.resumed_from == failed.run_id
    assert resumed.counts["deleted"] == 0 and catalogue(store, "dspace") == before


def test_harvest_maps_keywords_to_concepts_and_reports_the_rest(folder: Settings, tmp_path: Path) -> None:
    """With thesauri configured, indexed records carry concepts and the unmapped keywords are counted."""
    from api.cli import load_thesaurus

    thesauri = ROOT / "config" / "thesauri"
    settings = msgspec.structs.replace(
        folder,
        thesauri=[
            str(thesauri / "geonetwork__httpinspireeceuropaeutheme-theme.rdf"),
            str(thesauri / "data-terra.ttl"),
        ],
    )
    thesaurus = load_thesaurus(settings)
    store = open_store(settings.store)
    ledger = open_ledger(settings.harvest.ledger)

    summary = HarvestRun(settings.sources[0], store, ledger, thesaurus=thesaurus).execute()

    assert summary.status == "succeeded"
    records = store.search(Query(limit=1000)).records
    concepts = {c.uri for r in records for c in r.concepts}
    assert any(uri.startswith("http://inspire.ec.europa.eu/theme/") for uri in concepts)
    report = ledger.unmapped("demo", limit=10_000)
    assert report and all(source == "demo" and count >= 1 for source, _, _, count in report)
    keywords = sum(len(r.keywords) for r in records)
    assert sum(count for *_, count in report) < keywords  # some mapped, the rest reported
