"""``terracat reindex`` end to end: real corpus records harvested without a thesaurus, then re-normalised
from the ledger with the shipped vocabularies, the folders they came from removed first (no source is
read again, over a network or not).

Three directory sources: the demo's ISO 19139 records (ODATIS), the same files republished by another
pole (AERIS: the records that carry a DOI or a URI identifier become duplicates of the first source's,
harvested first), and the DataCite records of tests/data (THEIA). The second source's ids sort before
the first's, so a reindex in ledger order instead of indexing order would swap every primary.
"""

from __future__ import annotations

import fcntl
import shutil
import sqlite3
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest

from api.cli import main
from api.settings import Settings, load
from catalogue.query import Query
from catalogue.record import Keyword, Record
from catalogue.store import Store, open_store
from harvester import formats
from harvester.enrich import Enricher
from harvester.ledger import Ledger, open_ledger
from harvester.raw import RawRecord
from harvester.reindex import ReindexSummary, _read_ahead, reindex
from harvester.run import HarvestRun, RunOverlap, source_lock
from thesaurus import Thesaurus

ROOT = Path(__file__).resolve().parent.parent
THESAURI_DIR = ROOT / "config" / "thesauri"
THESAURI = [*sorted(THESAURI_DIR.glob("*.rdf")), THESAURI_DIR / "data-terra.ttl"]
DATACITE = ROOT / "tests" / "data" / "datacite"
DATA_TERRA = "https://w3id.org/data-terra/thesaurus/"
LAND_SURFACES = DATA_TERRA + "land-surfaces"

CONFIG = """\
store: {backend: sqlite, path: var/catalogue.db}
harvest: {ledger: var/harvest.db, batch_size: 7}
sources:
  - {id: demo, pole: ODATIS, protocol: directory, path: records/demo, page_size: 10}
  - {id: aeris-copies, pole: AERIS, protocol: directory, path: records/copies, page_size: 10}
  - {id: theia-datacite, pole: THEIA, protocol: directory, format: datacite, path: records/datacite}
"""


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("thesaurus-cache")


@pytest.fixture(scope="module")
def enricher(cache_dir: Path) -> Enricher:
    return Enricher(Thesaurus.load(THESAURI, cache_dir=cache_dir))


@dataclass
class Catalogue:
    settings: Settings
    store: Store
    ledger: Ledger
    config: Path

    def reindex(self, enricher: Enricher, **options: int) -> ReindexSummary:
        sources = {source.id: source for source in self.settings.sources}
        return reindex(self.store, self.ledger, enricher, sources, **options)


@pytest.fixture
def catalogue(tmp_path: Path, demo_records: Path) -> Iterator[Catalogue]:
    """The three sources harvested in order, without a thesaurus; then their folders are gone."""
    shutil.copytree(demo_records, tmp_path / "records" / "demo")
    shutil.copytree(demo_records, tmp_path / "records" / "copies")
    (tmp_path / "records" / "datacite").mkdir()
    for path in DATACITE.glob("*.xml"):
        shutil.copy(path, tmp_path / "records" / "datacite")
    (tmp_path / "terracat.yaml").write_text(CONFIG, encoding="utf-8")
    settings = load(tmp_path / "terracat.yaml")
    store = open_store(settings.store)
    ledger = open_ledger(settings.harvest.ledger)
    for source in settings.sources:
        assert HarvestRun(source, store, ledger).execute().status == "succeeded"
    shutil.rmtree(tmp_path / "records")
    yield Catalogue(settings, store, ledger, tmp_path / "terracat.yaml")
    store.close()
    ledger.close()


def every_id(store: Store) -> list[str]:
    return [record.id for record in store.scan()]


def served(store: Store, **criteria: object) -> set[str]:
    return {record.id for record in store.search(Query(limit=10_000, **criteria)).records}


def under(record: Record, uri: str) -> bool:
    return any(uri in (concept.uri, *concept.ancestors) for concept in record.concepts)


@contextmanager
def ledger_file(ledger: Ledger) -> Iterator[sqlite3.Connection]:
    """A connection of our own to the ledger's file, committed and closed after use."""
    conn = sqlite3.connect(ledger.path)
    try:
        with conn:
            yield conn
    finally:
        conn.close()


def unmapped_of(ledger: Ledger, record_id: str) -> list[tuple[str, str]]:
    with ledger_file(ledger) as conn:
        sql = "SELECT label, thesaurus FROM unmapped WHERE record_id = ? ORDER BY rowid"
        return conn.execute(sql, (record_id,)).fetchall()


def test_reindex_adds_concepts_and_keeps_ids_order_and_primaries(
    catalogue: Catalogue, enricher: Enricher
) -> None:
    store, ledger = catalogue.store, catalogue.ledger
    before = {record.id: record for record in store.scan()}
    order = list(before)
    duplicates = store.duplicates_of(order)
    assert len(duplicates) == 11 and all(primary.startswith("demo.") for primary in duplicates.values())
    assert not any(record.concepts for record in before.values())
    assert served(store, properties={"theme": [LAND_SURFACES]}) == set()
    assert served(store, q=[["surfaces", "continentales"]]) == set()

    summary = catalogue.reindex(enricher, workers=0)  # crosswalked in this process

    assert (summary.reindexed, summary.changed, summary.indexed) == (len(before), len(before), len(before))
    assert summary.validated == len(before)  # new concepts, new JSON-LD: every report is made anew
    assert (summary.kept_rejected, summary.kept_without_raw, summary.restored) == ([], 0, 0)
    after = {record.id: record for record in store.scan()}
    assert list(after) == order
    assert store.duplicates_of(order) == duplicates
    assert all(store.group(record_id) == [primary, record_id] for record_id, primary in duplicates.items())
    for record_id, record in after.items():
        assert record.concepts, record_id  # every record lands under a theme at least (its pole's)
        # the same crosswalk, the same harvest: only what the thesaurus adds differs, and the quality
        # assessed on it (the vocabularies check, the themes in the JSON-LD)
        assert before[record_id].quality is not None and record.quality is not None
        assert record.quality.validation is not None and record.quality.fair is not None
        unassessed = msgspec.structs.replace(record, concepts=[], quality=None)
        assert unassessed == msgspec.structs.replace(before[record_id], quality=None)
    # the theme filter and the ancestors' labels find records that nothing found before
    landed = {i for i, r in after.items() if under(r, LAND_SURFACES) and i not in duplicates}
    assert served(store, properties={"theme": [LAND_SURFACES]}) == landed
    assert any(LAND_SURFACES not in (c.uri for c in after[i].concepts) for i in landed)  # through an ancestor
    named = {
        i for i, r in after.items() if any("Surfaces continentales" in c.ancestor_labels for c in r.concepts)
    }
    assert named and named - set(duplicates) <= served(store, q=[["surfaces", "continentales"]])
    # the unmapped report now says what the thesaurus did not match, as a harvest would have
    record_id = next(i for i in order if i.startswith("theia-datacite."))
    _, unmapped = enricher.enrich(msgspec.structs.replace(after[record_id], concepts=[]))
    assert unmapped_of(ledger, record_id) == [(k.label, k.thesaurus or "") for k in unmapped]
    report = ledger.unmapped(limit=10_000)
    assert report and {source for source, *_ in report} == {"demo", "aeris-copies", "theia-datacite"}

    again = catalogue.reindex(enricher, workers=2)  # crosswalked in worker processes this time

    assert (again.reindexed, again.changed, again.validated) == (len(before), 0, 0)  # reports kept
    assert {record.id: record for record in store.scan()} == after
    assert ledger.unmapped(limit=10_000) == report


class Annotating(Enricher):
    """An enricher that adds to ``enrich``: what it adds is not something the crosswalk workers do."""

    NOTE = "annotated by the deployment's own enricher"

    def enrich(self, record: Record) -> tuple[Record, list[Keyword]]:
        record, unmapped = super().enrich(record)
        return msgspec.structs.replace(record, warnings=[*record.warnings, self.NOTE]), unmapped


def test_an_enricher_that_adds_to_enrich_runs_it_even_with_workers(
    catalogue: Catalogue, enricher: Enricher
) -> None:
    annotating = Annotating(enricher.thesaurus)
    assert enricher.portable and not annotating.portable

    summary = catalogue.reindex(annotating, workers=2)

    records = list(catalogue.store.scan())
    assert summary.reindexed == len(records) > 0
    assert all(Annotating.NOTE in record.warnings and record.concepts for record in records)


def test_a_raw_the_crosswalk_now_rejects_keeps_its_indexed_version(
    catalogue: Catalogue, enricher: Enricher
) -> None:
    store, ledger = catalogue.store, catalogue.ledger
    record_id = "demo.17bd184a-7e7d-4f81-95a5-041449a7212b"
    before = store.get(record_id)
    raw = ledger.raw(record_id)
    assert before is not None and raw is not None
    with ledger_file(ledger) as conn:  # bytes the crosswalk can no longer read: a truncated file
        truncated = zlib.compress(raw.content[:2000])
        conn.execute("UPDATE raw_records SET content = ? WHERE record_id = ?", (truncated, record_id))

    summary = catalogue.reindex(enricher)

    assert [(kept.record_id, kept.code) for kept in summary.kept_rejected] == [(record_id, "not-xml")]
    assert summary.indexed == store.count() == summary.reindexed + 1
    assert store.get(record_id) == before
    assert any(
        line.startswith("kept the indexed version of 1 record(s), rejected not-xml: " + record_id)
        for line in summary.lines()
    )


def test_records_without_a_raw_stay_and_records_only_the_ledger_holds_come_back(
    catalogue: Catalogue, enricher: Enricher
) -> None:
    store, ledger = catalogue.store, catalogue.ledger
    path = DATACITE / "b2find__56347bce-8b50-51e9-9564-f99269b46c48.xml"
    raw = RawRecord(source_id="theia-manual", format="datacite", content=path.read_bytes(), locator=path.name)
    loaded = formats.get("datacite").to_record(raw, pole="THEIA")
    store.upsert([loaded])  # indexed by other means than a harvest: the ledger has no raw of it
    lost = next(i for i in every_id(store) if i.startswith("theia-datacite.") and i != loaded.id)
    assert store.delete([lost]) == 1  # as if the index had lost it

    summary = catalogue.reindex(enricher)

    assert (summary.kept_without_raw, summary.restored) == (1, 1)
    assert store.get(loaded.id) == loaded
    assert every_id(store)[-2:] == [loaded.id, lost]  # restored after every record indexed before
    restored = store.get(lost)
    assert restored is not None and restored.concepts and restored.pole == "THEIA"
    run = ledger.runs("theia-datacite")[0]
    assert restored.provenance is not None and restored.provenance.harvested_at == run.started


def test_reindex_is_refused_while_a_source_is_harvested(catalogue: Catalogue, enricher: Enricher) -> None:
    lock = Path(catalogue.settings.harvest.ledger).parent / "locks" / "theia-datacite.lock"
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a run in another process would
        with pytest.raises(RunOverlap, match="a harvest of theia-datacite is already running"):
            catalogue.reindex(enricher)
    assert not any(record.concepts for record in catalogue.store.scan())
    with source_lock(catalogue.ledger, "demo"):  # the locks it took are released
        pass


def test_the_cli_reindexes_the_catalogue_of_a_config(
    catalogue: Catalogue, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = catalogue.config.read_text(encoding="utf-8")
    config += "thesauri:\n" + "".join(f"  - {path}\n" for path in THESAURI)
    catalogue.config.write_text(config, encoding="utf-8")
    # the compiled vocabularies the CLI looks for beside the ledger: not parsed again
    shutil.copytree(cache_dir, Path(catalogue.settings.harvest.ledger).parent / "thesauri")
    count = catalogue.store.count()

    assert main(["reindex", "--config", str(catalogue.config)]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"reindexed {count} records ({count} changed, 0 restored")
    assert all(record.concepts for record in catalogue.store.scan())
    lock = Path(catalogue.settings.harvest.ledger).parent / "locks" / "demo.lock"
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert main(["reindex", "--config", str(catalogue.config)]) == 1
    assert "error: reindex refused: a harvest of demo is already running" in capsys.readouterr().err


def test_batches_read_ahead_in_order_with_their_errors_and_stop_with_the_reader() -> None:
    """The batches a reindex reads ahead come in order; an error of the reading comes after the batches
    read before it; and a reader that stops early (the index refused a record) stops the reading thread,
    whose generator is closed."""
    assert list(_read_ahead(iter(range(50)))) == list(range(50))

    def failing() -> Iterator[int]:
        yield from range(3)
        raise sqlite3.OperationalError("disk I/O error")

    got: list[int] = []
    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        got.extend(_read_ahead(failing()))
    assert got == [0, 1, 2]

    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.set()

    ahead = _read_ahead(endless())
    assert [next(ahead) for _ in range(5)] == [0, 1, 2, 3, 4]
    ahead.close()
    assert closed.is_set()
    assert not [t for t in threading.enumerate() if t.name == "reindex-read-ahead"]
