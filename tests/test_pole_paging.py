"""Every shipped pole source harvested from a local replay of its endpoint's documented paging.

The poles' endpoints (``config/sources/*.yaml``) cannot be reached from the build machines. Each source
of the shipped config is harvested here exactly as configured (its ``page_size``, format, metadata
prefix, collections, items setting), with only the host of its URL replaced by a server on 127.0.0.1
that pages as /work/shared/reference/DOMAIN.md documents the real one (``tests/fixtures/pole_servers.py``)
and a ``delay`` of 0. A CSW source added to the config is replayed as the others are; a source of
another protocol fails ``test_every_shipped_source_has_a_replay`` until its endpoint has a replay.

Each replay checks that the run indexes every record the server holds, that the requests follow the
endpoint's protocol (CSW ``startPosition`` sequence, OAI-PMH ``resumptionToken`` alone after the first
request, STAC ``limit`` and next links, GEODES' ``limit`` at most 80, only the configured collections),
that a second full run finds everything unchanged and that an incremental one asks only for changes.
One case per protocol replays a documented misbehaviour: the run deletes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit
from urllib.request import Request, urlopen

import msgspec
import pytest
from lxml import etree

from api.settings import load
from catalogue.identity import record_id
from catalogue.store import Store, open_store
from harvester.ledger import Ledger, open_ledger
from harvester.protocols.csw import OUTPUTS, request_body
from harvester.run import HarvestRun, RunSummary
from harvester.source import Source
from tests.fixtures.oai_server import OAI_NS, OaiServer, corpus
from tests.fixtures.pole_servers import (
    CSW_NS,
    GEODES_MAX_LIMIT,
    GEODES_OTHERS,
    GEODES_THEIA,
    GMD_NS,
    TOKEN_EXPIRY,
    CswCatalogue,
    Geodes,
    StacReplay,
    TheiaDatastore,
    exception,
    geodes_holdings,
    iso_records,
    replicated_collections,
    seanoe,
)
from tests.fixtures.stac_server import error

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = load(ROOT / "config" / "terracat.yaml")
SOURCES = {source.id: source for source in SETTINGS.sources}

# Every CSW source of the config is replayed as a GeoNetwork (DOMAIN §1.2 to §1.5: all of them but
# AERIS's). GeoNetwork ends a listing with nextRecord 0 or past numberOfRecordsMatched (§1.8): which one
# each pole's version sends is not documented, so the two are shared out among the sources (a harvest
# costs a few seconds; the settings of the sources do not differ in what paging depends on). The SEDOO
# façade of AERIS is no GeoNetwork and its maxRecords cap is unknown (§6.1): it is replayed as well
# sending fewer records than asked.
CSW_VARIANTS = {
    "aeris-csw": ("nextRecord=0", "maxRecords capped at 40"),
    "formater-csw": ("nextRecord>matched",),
    "odatis-portal": ("nextRecord>matched",),
    "theia-hydroweb": ("nextRecord>matched",),
}
CSW_CASES = [
    pytest.param(source.id, variant, id=f"{source.id}[{variant}]")
    for source in SETTINGS.sources
    if source.protocol == "csw"
    for variant in CSW_VARIANTS.get(source.id, ("nextRecord=0",))
]
# The other protocols' endpoints page each their own way: one replay (a test below) per source.
REPLAYED = {
    "odatis-seanoe": "test_seanoe_replay",
    "theia-datastore": "test_theia_datastore_replay",
    "theia-geodes": "test_geodes_replay",
}
CSW_RECORDS = 230  # three pages at the CSW sources' page_size of 100
SEANOE_RECORDS, SEANOE_PAGE = 130, 50  # SEANOE chooses its page size (not documented): three pages
DATASTORE_COLLECTIONS = 130  # three pages at the Theia datastore's page_size of 50


@pytest.mark.parametrize("source_id", [s.id for s in SETTINGS.sources if s.protocol != "csw"])
def test_every_shipped_source_has_a_replay(source_id: str) -> None:
    """CSW sources are replayed from the config (``CSW_CASES``); any other needs a replay of its own."""
    assert source_id in REPLAYED, (
        f"shipped source {source_id} ({SOURCES[source_id].protocol}) has no replay of its endpoint's paging: "
        "write one from DOMAIN.md §1.8 (tests/fixtures/pole_servers.py) and name its test in REPLAYED"
    )
    assert callable(globals().get(REPLAYED[source_id])), REPLAYED[source_id]


# --- harvesting ----------------------------------------------------------------------------------------


@dataclass
class Catalogue:
    """A real SQLite index and ledger, and the runs made into them."""

    store: Store
    ledger: Ledger
    runs: list[RunSummary] = field(default_factory=list)

    def harvest(self, src: Source, *, full: bool = False) -> RunSummary:
        summary = HarvestRun(src, self.store, self.ledger, full=full).execute()
        self.runs.append(summary)
        return summary


@pytest.fixture
def catalogue(tmp_path: Path) -> Iterator[Catalogue]:
    store = open_store({"backend": "sqlite", "path": str(tmp_path / "catalogue.db")})
    ledger = open_ledger(str(tmp_path / "harvest.db"))
    yield Catalogue(store, ledger)
    ledger.close()


def local(source_id: str, url: str, **changes: Any) -> Source:
    """The shipped source with its URL on the replay and no politeness delay; nothing else changed."""
    shipped = SOURCES[source_id]
    assert urlsplit(url).path == urlsplit(shipped.url or "").path  # the replay serves the real path
    return msgspec.structs.replace(shipped, url=url, delay=0.0, **changes)


def succeeded(summary: RunSummary) -> None:
    assert summary.status == "succeeded", summary.line()
    assert summary.listing_complete and summary.error is None, summary.line()


def assert_indexed(catalogue: Catalogue, src: Source, expected: set[str], summary: RunSummary) -> None:
    """The index holds exactly the records ``expected`` (catalogue ids), every one added by the run."""
    assert catalogue.store.ids(src.id) == expected
    assert summary.counts["added"] == len(expected) and summary.counts["rejected"] == 0, summary.line()


def assert_unchanged(summary: RunSummary, count: int) -> None:
    succeeded(summary)
    assert summary.counts["unchanged"] >= count, summary.line()
    assert summary.counts["added"] == summary.counts["updated"] == summary.counts["deleted"] == 0


# --- CSW (GeoNetwork, SEDOO) ---------------------------------------------------------------------------


@pytest.fixture
def csw_catalogues() -> Iterator[Callable[..., CswCatalogue]]:
    started: list[CswCatalogue] = []

    def start(source_id: str, **options: Any) -> CswCatalogue:
        path = urlsplit(SOURCES[source_id].url or "").path
        started.append(CswCatalogue(path, iso_records(CSW_RECORDS), **options))
        return started[-1]

    yield start
    for server in started:
        server.close()


def csw_options(variant: str) -> dict[str, Any]:
    return {
        "nextRecord=0": {"end": "zero"},
        "nextRecord>matched": {"end": "past"},
        "maxRecords capped at 40": {"end": "zero", "cap": 40},
    }[variant]


def check_csw_listing(server: CswCatalogue, src: Source, first: int) -> None:
    """The GetRecords of one full listing from request ``first`` on: the source's page size and ISO
    schema, sorted by identifier, startPosition following nextRecord page after page (the server's cap
    when it has one), nothing asked past the end."""
    asked = server.requests[first:]
    step = min(src.page_size, server.cap or src.page_size)
    assert [a.start for a in asked] == list(range(1, len(server.records) + 1, step))
    for request in asked:
        assert (request.max_records, request.output_schema, request.type_names) == (
            src.page_size,
            GMD_NS,
            "gmd:MD_Metadata",
        )
        assert request.result_type == "results" and request.sorted and request.since is None


def warnings(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelname == "WARNING")


def run_csw(
    catalogue: Catalogue, server: CswCatalogue, source_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    src = local(source_id, server.url)
    expected = {record_id(src.id, identifier) for identifier in server.identifiers}

    first = catalogue.harvest(src)
    succeeded(first)
    assert first.matched == first.received == CSW_RECORDS
    assert_indexed(catalogue, src, expected, first)
    check_csw_listing(server, src, 0)
    capped = f"the server sends {server.cap} records per page although maxRecords={src.page_size} was asked"
    assert (capped in warnings(caplog)) == bool(server.cap)

    mark = len(server.requests)
    again = catalogue.harvest(src, full=True)
    assert_unchanged(again, CSW_RECORDS)
    check_csw_listing(server, src, mark)

    mark = len(server.requests)
    changes = catalogue.harvest(src)  # incremental: only what changed since the last listing began
    succeeded(changes)
    assert changes.kind == "incremental" and changes.received == 0 and changes.counts["deleted"] == 0
    asked = server.requests[mark:]
    assert len(asked) == 1 and asked[0].since is not None and asked[0].start == 1
    assert catalogue.store.ids(src.id) == expected


@pytest.mark.parametrize(("source_id", "variant"), CSW_CASES)
def test_csw_source_replay(
    source_id: str,
    variant: str,
    csw_catalogues: Callable[..., CswCatalogue],
    catalogue: Catalogue,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("WARNING", logger="harvester.run")
    run_csw(catalogue, csw_catalogues(source_id, **csw_options(variant)), source_id, caplog)


def test_csw_next_record_past_matched_before_the_end_deletes_nothing(
    csw_catalogues: Callable[..., CswCatalogue], catalogue: Catalogue
) -> None:
    """GeoNetwork signals the end (nextRecord past numberOfRecordsMatched) after the first page although
    it matched more: the harvest ends there, says so, and deletes none of the records it did not see."""
    server = csw_catalogues("formater-csw", end="past")
    src = local("formater-csw", server.url)
    succeeded(catalogue.harvest(src))
    held = catalogue.store.ids(src.id)
    server.fault = lambda asked: server.page(asked, next_record=CSW_RECORDS + 1) if asked.start == 1 else None
    mark = len(server.requests)
    short = catalogue.harvest(src, full=True)
    assert [a.start for a in server.requests[mark:]] == [1]  # nothing asked after the announced end
    assert short.received == src.page_size and short.matched == CSW_RECORDS
    assert short.counts["deleted"] == 0 and catalogue.store.ids(src.id) == held
    assert any(f"the listing gave {src.page_size} records of the {CSW_RECORDS}" in n for n in short.notes)


def test_csw_exception_midway_fails_the_run_which_the_next_one_continues(
    csw_catalogues: Callable[..., CswCatalogue], catalogue: Catalogue
) -> None:
    """GeoNetwork answers an ExceptionReport at startPosition=101: the run fails naming it, deletes
    nothing; the next run continues the listing from that page, not from the first."""
    server = csw_catalogues("odatis-sextant")
    src = local("odatis-sextant", server.url)
    succeeded(catalogue.harvest(src))
    held = catalogue.store.ids(src.id)
    failing = exception("NoApplicableCode", None, "Raised exception while searching metadata")
    server.fault = lambda asked: failing if asked.start == 101 else None
    failed = catalogue.harvest(src, full=True)
    assert failed.status == "failed" and not failed.listing_complete
    assert "startPosition=101" in (failed.error or "") and "NoApplicableCode" in (failed.error or "")
    assert failed.counts["deleted"] == 0 and catalogue.store.ids(src.id) == held
    server.fault = lambda asked: None
    mark = len(server.requests)
    continued = catalogue.harvest(src, full=True)
    succeeded(continued)
    assert continued.resumed_from == failed.run_id
    assert [a.start for a in server.requests[mark:]] == [101, 201]
    assert continued.counts["deleted"] == 0 and catalogue.store.ids(src.id) == held


# --- OAI-PMH (SEANOE) ----------------------------------------------------------------------------------


@pytest.fixture
def seanoe_repository() -> Iterator[OaiServer]:
    server = seanoe(SEANOE_RECORDS, page_size=SEANOE_PAGE)
    yield server
    server.close()


def live(server: OaiServer) -> set[str]:
    """The identifiers of the records the repository holds (not those it reports deleted)."""
    return {item.identifier for item in server.items if b'status="deleted"' not in item.xml}


def check_oai_listing(server: OaiServer, first: int, *, from_: str | None = None) -> None:
    """One listing from request ``first`` on: Identify and ListMetadataFormats, then ListRecords with
    oai_dc (no set: the source names none), then only the resumption token of the page before."""
    asked = server.requests[first:]
    assert [params["verb"] for params in asked[:2]] == ["Identify", "ListMetadataFormats"]
    listing = asked[2:]
    expected = {"verb": "ListRecords", "metadataPrefix": "oai_dc", **({"from": from_} if from_ else {})}
    assert listing[0] == expected
    pages = -(-len(server.items) // SEANOE_PAGE) if from_ is None else len(listing)
    assert len(listing) == pages
    for number, params in enumerate(listing[1:], start=1):
        assert set(params) == {"verb", "resumptionToken"}  # the token is an exclusive argument
        assert params["resumptionToken"].endswith(f":{number * SEANOE_PAGE}")  # the one just given


def test_seanoe_replay(seanoe_repository: OaiServer, catalogue: Catalogue) -> None:
    server = seanoe_repository
    src = local("odatis-seanoe", server.url)
    assert src.metadata_prefix == "oai_dc" and not src.sets
    first = catalogue.harvest(src)
    succeeded(first)
    assert first.matched == first.received == SEANOE_RECORDS
    known = catalogue.ledger.known(src.id)  # the ledger knows OAI records by their OAI identifier
    assert set(known) == live(server) and all(i.startswith("oai:seanoe.org:") for i in known)
    assert_indexed(catalogue, src, {k.record_id for k in known.values()}, first)
    assert first.counts["unchanged"] == 1  # the deleted record: the catalogue never held it
    check_oai_listing(server, 0)
    indexed = [r for r in map(catalogue.store.get, catalogue.store.ids(src.id)) if r is not None]
    dois = {i.code for r in indexed for i in r.identifiers if i.scheme == "doi"}
    assert len(dois) == len(known) and all(doi.startswith("10.17882/") for doi in dois)

    mark = len(server.requests)
    again = catalogue.harvest(src, full=True)
    assert_unchanged(again, SEANOE_RECORDS - 1)
    check_oai_listing(server, mark)

    # a record deleted at SEANOE after that: the incremental run asks from the day of the last listing
    gone = sorted(live(server))[3]
    server.delete(gone, "2025-03-02")
    server.response_date = "2025-03-02T09:00:00Z"
    mark = len(server.requests)
    changes = catalogue.harvest(src)
    succeeded(changes)
    assert changes.kind == "incremental" and changes.received == 1 and changes.counts["deleted"] == 1
    check_oai_listing(server, mark, from_="2025-03-01")
    assert catalogue.store.ids(src.id) == {k.record_id for i, k in known.items() if i != gone}


def test_seanoe_bad_resumption_tokens_fail_the_run_which_deletes_nothing(
    seanoe_repository: OaiServer, catalogue: Catalogue
) -> None:
    """Every token SEANOE gave answers badResumptionToken (they expired): the listing is restarted once,
    then the run fails naming the error; nothing is deleted, and the next run recovers."""
    server = seanoe_repository
    src = local("odatis-seanoe", server.url)
    succeeded(catalogue.harvest(src))
    held = catalogue.store.ids(src.id)
    expiring = server.script
    assert expiring is not None
    server.script = lambda index, params, answer: (
        corpus("sickle__badResumptionToken.xml")
        if "resumptionToken" in params
        else expiring(index, params, answer)
    )
    mark = len(server.requests)
    failed = catalogue.harvest(src, full=True)
    assert failed.status == "failed" and not failed.listing_complete
    assert "badResumptionToken" in (failed.error or "") and "restarted once" in (failed.error or "")
    first_pages = [p for p in server.requests[mark:] if p.get("metadataPrefix")]
    assert len(first_pages) == 2  # the listing and its one restart
    assert failed.counts["deleted"] == 0 and catalogue.store.ids(src.id) == held
    server.script = expiring
    recovered = catalogue.harvest(src, full=True)
    succeeded(recovered)
    assert recovered.counts["deleted"] == 0 and catalogue.store.ids(src.id) == held


# --- STAC APIs (Theia datastore, GEODES) ---------------------------------------------------------------


@pytest.fixture
def stac_replays() -> Iterator[Callable[..., StacReplay]]:
    started: list[StacReplay] = []

    def start(kind: type[StacReplay], **options: Any) -> StacReplay:
        started.append(kind(**options))
        return started[-1]

    yield start
    for server in started:
        server.close()


def datastore(start: Callable[..., StacReplay]) -> StacReplay:
    collections = {c["id"]: c for c in replicated_collections(DATASTORE_COLLECTIONS)}
    return start(TheiaDatastore, base="/", collections=collections)


def test_theia_datastore_replay(stac_replays: Callable[..., StacReplay], catalogue: Catalogue) -> None:
    server = datastore(stac_replays)
    src = local("theia-datastore", server.url)
    assert not src.items and not src.collections
    first = catalogue.harvest(src)
    succeeded(first)
    assert first.matched == first.received == DATASTORE_COLLECTIONS
    assert_indexed(catalogue, src, {record_id(src.id, c) for c in server.collections}, first)
    listing = [(r.method, r.path, r.query) for r in server.requests]
    limit = str(src.page_size)
    assert listing == [
        ("GET", "/", {}),
        ("GET", "/collections", {"limit": limit}),
        ("GET", "/collections", {"limit": limit, "offset": "50"}),
        ("GET", "/collections", {"limit": limit, "offset": "100"}),
    ]  # collections only (items: false): no item search, no collection fetched one by one

    mark = len(server.requests)
    again = catalogue.harvest(src, full=True)
    assert_unchanged(again, DATASTORE_COLLECTIONS)
    assert [(r.path, r.query) for r in server.requests[mark:]] == [(p, q) for _, p, q in listing]
    changes = catalogue.harvest(src)  # nothing says which collections changed: all are listed again
    assert_unchanged(changes, DATASTORE_COLLECTIONS)
    assert changes.kind == "full" and catalogue.store.ids(src.id) == {
        record_id(src.id, c) for c in server.collections
    }


def test_collections_listed_without_limit_when_the_api_refuses_it(
    stac_replays: Callable[..., StacReplay], catalogue: Catalogue
) -> None:
    """A STAC API that answers 400 to ``limit`` on ``/collections`` is listed at its own page size."""
    server = datastore(stac_replays)
    server.fault = lambda r: error(400, "unknown parameter limit") if "limit" in r.query else None
    src = local("theia-datastore", server.url)
    first = catalogue.harvest(src)
    succeeded(first)
    assert first.received == DATASTORE_COLLECTIONS == len(catalogue.store.ids(src.id))
    queries = [r.query for r in server.requests if r.path == "/collections"]
    assert queries[0] == {"limit": "50"} and all("limit" not in q for q in queries[1:-1])
    assert len(queries) == 1 + -(-DATASTORE_COLLECTIONS // TheiaDatastore.DEFAULT_LIMIT)


def geodes(start: Callable[..., StacReplay], **items: int) -> StacReplay:
    collections, held = geodes_holdings(items)
    return start(Geodes, base="/api/stac", collections=collections, items=held)


def limits(server: StacReplay) -> list[int]:
    """Every ``limit`` the harvester sent, in a query or a body."""
    found = [r.query.get("limit") for r in server.requests] + [
        (r.body or {}).get("limit") for r in server.requests
    ]
    return [int(value) for value in found if value is not None]


def test_geodes_replay(stac_replays: Callable[..., StacReplay], catalogue: Catalogue) -> None:
    server = geodes(stac_replays)
    src = local("theia-geodes", server.url)
    assert list(src.collections) == list(GEODES_THEIA) and not src.items
    first = catalogue.harvest(src)
    succeeded(first)
    assert first.matched == first.received == len(GEODES_THEIA)
    assert_indexed(catalogue, src, {record_id(src.id, c) for c in GEODES_THEIA}, first)
    asked = [(r.method, r.path) for r in server.requests]
    assert asked == [("GET", "/api/stac")] + [("GET", f"/api/stac/collections/{c}") for c in GEODES_THEIA]
    again = catalogue.harvest(src, full=True)
    assert_unchanged(again, len(GEODES_THEIA))
    assert not any(other in r.path for r in server.requests for other in GEODES_OTHERS)


def test_geodes_items_if_switched_on_page_by_page_at_most_80(
    stac_replays: Callable[..., StacReplay], catalogue: Catalogue
) -> None:
    """With ``items: true`` (the shipped source harvests collections only) the items of the configured
    collections are searched 80 at a time, page after page along GEODES' POST next links."""
    server = geodes(stac_replays, THEIA_REFLECTANCE_SENTINEL2_L2A=3 * GEODES_MAX_LIMIT - 10)
    src = local("theia-geodes", server.url, items=True)
    first = catalogue.harvest(src)
    succeeded(first)
    expected = {record_id(src.id, c) for c in GEODES_THEIA} | {
        record_id(src.id, f"{c}/{item['id']}") for c in GEODES_THEIA for item in server.items[c]
    }
    assert first.matched == first.received == len(expected)
    assert_indexed(catalogue, src, expected, first)
    searches = [r.body for r in server.requests if r.path == "/api/stac/search"]
    assert all(r.method == "POST" for r in server.requests if r.path == "/api/stac/search")
    assert [(b["collections"], b.get("page", 1)) for b in searches] == [
        (["THEIA_REFLECTANCE_SENTINEL2_L2A"], 1),
        (["THEIA_REFLECTANCE_SENTINEL2_L2A"], 2),
        (["THEIA_REFLECTANCE_SENTINEL2_L2A"], 3),
        *[([c], 1) for c in GEODES_THEIA[1:]],
    ]
    assert limits(server) and set(limits(server)) == {src.page_size} and src.page_size <= GEODES_MAX_LIMIT
    again = catalogue.harvest(src, full=True)
    assert_unchanged(again, len(expected))


def test_geodes_refuses_a_limit_over_80_and_the_run_deletes_nothing(
    stac_replays: Callable[..., StacReplay], catalogue: Catalogue
) -> None:
    server = geodes(stac_replays)
    src = local("theia-geodes", server.url, items=True)
    succeeded(catalogue.harvest(src))
    held = catalogue.store.ids(src.id)
    failed = catalogue.harvest(msgspec.structs.replace(src, page_size=100), full=True)
    assert failed.status == "failed" and "HTTP 400" in (failed.error or "")
    assert "limit must be less than or equal to 80" in (failed.error or "")
    assert failed.counts["deleted"] == 0 and catalogue.store.ids(src.id) == held


def test_geodes_collection_renamed_fails_the_run_naming_it(
    stac_replays: Callable[..., StacReplay], catalogue: Catalogue
) -> None:
    """GEODES renamed its THEIA collections once (MUSCATE_ to THEIA_, DOMAIN §1.5 b): a configured
    collection that is gone fails the run naming it, and nothing is deleted."""
    server = geodes(stac_replays)
    src = local("theia-geodes", server.url)
    succeeded(catalogue.harvest(src))
    held = catalogue.store.ids(src.id)
    server.collections["MUSCATE_SNOW_SENTINEL2_L2B"] = server.collections.pop("THEIA_SNOW_SENTINEL2_L2B")
    failed = catalogue.harvest(src, full=True)
    assert failed.status == "failed" and "THEIA_SNOW_SENTINEL2_L2B" in (failed.error or "")
    assert "404" in (failed.error or "")
    assert failed.counts["deleted"] == 0 and catalogue.store.ids(src.id) == held


# --- the replays page as documented ----------------------------------------------------------------------


def test_replays_send_the_documented_paging_signals(
    csw_catalogues: Callable[..., CswCatalogue], seanoe_repository: OaiServer
) -> None:
    """What the harvests above were proved against: CSW's two end signals, and SEANOE's resumption
    tokens with completeListSize, cursor and expirationDate, the last one empty."""
    for end, last in (("zero", "0"), ("past", str(CSW_RECORDS + 1))):
        server = csw_catalogues("theia-insitu", end=end)
        body = request_body("2.0.2", 201, 100, OUTPUTS["iso19139"], sort=True)
        with urlopen(Request(server.url, body, {"Content-Type": "application/xml"}), timeout=5) as answer:
            results = etree.fromstring(answer.read()).find(f"{{{CSW_NS}}}SearchResults")
        assert results is not None
        assert (results.get("numberOfRecordsMatched"), results.get("numberOfRecordsReturned")) == (
            "230",
            "30",
        )
        assert results.get("nextRecord") == last

    query: dict[str, str] = {"verb": "ListRecords", "metadataPrefix": "oai_dc"}
    tokens = []
    while True:
        with urlopen(f"{seanoe_repository.url}?{urlencode(query)}", timeout=5) as answer:
            token = etree.fromstring(answer.read()).find(f".//{{{OAI_NS}}}resumptionToken")
        assert token is not None
        tokens.append(dict(token.attrib))
        if not token.text:
            break
        query = {"verb": "ListRecords", "resumptionToken": token.text}
    pages = [str(n) for n in range(0, SEANOE_RECORDS, SEANOE_PAGE)]
    assert [t["cursor"] for t in tokens] == pages and {t["completeListSize"] for t in tokens} == {"130"}
    assert [t.get("expirationDate") for t in tokens] == [TOKEN_EXPIRY] * (len(pages) - 1) + [None]
