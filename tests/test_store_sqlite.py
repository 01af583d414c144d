"""The SQLite backend: the store contract, plus what only an SQLite file has (WAL readers, schema
version and migration, index consistency, date normalisation)."""

from __future__ import annotations

import logging
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest

from bench.store import generate
from catalogue.query import FACET_ORDERS, FACETS, MAX_BUCKETS, FacetRequest, Query, Sort, parse_external_ids
from catalogue.record import Identifier, LocalisedText, Record, from_json
from catalogue.store import Store, open_store
from catalogue.stores import columns as columns_module
from catalogue.stores import sqlite as backend
from catalogue.stores.sqlite import SCHEMA_VERSION, SQLiteStore, instant
from tests.store_contract import (
    AEROSOLS,
    ARGO,
    DATA_TERRA,
    EARTH_SCIENCE,
    ETNA,
    POLDER,
    SST,
    SST_AERIS,
    SST_SERIES,
    SST_THEIA,
    StoreContract,
    catalogue_records,
    counts,
    found,
    many_records,
    polder,
    republished,
    sst,
    sst_series,
    themed_sst,
)


class TestSQLiteStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SQLiteStore]:
        store = SQLiteStore(path=tmp_path / "var" / "catalogue.db")
        yield store
        store.close()

    def reopen(self, store: Store) -> Store:
        assert isinstance(store, SQLiteStore)
        store.close()
        return SQLiteStore(path=store.path)


class TestSQLiteStoreInSQL(StoreContract):
    """The contract again with every search made in SQL (``columns=False``): what a search does while
    another thread loads a new snapshot, and facets counted on a snapshot of the matches alone."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SQLiteStore]:
        store = SQLiteStore(path=tmp_path / "var" / "catalogue.db", columns=False)
        yield store
        store.close()

    def reopen(self, store: Store) -> Store:
        assert isinstance(store, SQLiteStore)
        store.close()
        return SQLiteStore(path=store.path, columns=False)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(path=tmp_path / "catalogue.db")
    store.upsert(catalogue_records())
    yield store
    store.close()


@contextmanager
def raw(store: SQLiteStore) -> Iterator[sqlite3.Connection]:
    """A connection of our own to the store's file, as another process would have."""
    conn = sqlite3.connect(store.path, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def assert_consistent(store: SQLiteStore) -> None:
    """The FTS index matches its content table, every box, extent and key belongs to a record and every
    duplicate to a primary."""
    with raw(store) as conn:
        conn.execute("INSERT INTO documents_fts (documents_fts, rank) VALUES ('integrity-check', 1)")
        boxes = conn.execute("SELECT coalesce(sum(n_boxes), 0) FROM records").fetchone()[0]
        assert conn.execute("SELECT count(*) FROM record_boxes").fetchone()[0] == boxes
        unled = """
            SELECT count(*) FROM records AS r LEFT JOIN records AS p ON p.num = r.duplicate_of
            WHERE r.duplicate_of IS NOT NULL AND (p.num IS NULL OR p.duplicate_of IS NOT NULL)
        """
        assert conn.execute(unled).fetchone()[0] == 0
        for table in ("record_times", "record_keys", "record_concepts", "record_identifiers", "documents"):
            orphans = conn.execute(f"SELECT count(*) FROM {table} WHERE num NOT IN (SELECT num FROM records)")
            assert orphans.fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM documents").fetchone()[0] == store.count()


def test_open_store_builds_the_configured_backend(tmp_path: Path) -> None:
    store = open_store({"backend": "sqlite", "path": str(tmp_path / "var" / "catalogue.db")})
    try:
        assert isinstance(store, SQLiteStore)
        assert (tmp_path / "var" / "catalogue.db").is_file()
    finally:
        store.close()


def test_the_file_is_in_wal_mode_with_a_schema_version(db: SQLiteStore) -> None:
    with raw(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_opening_again_keeps_the_records(db: SQLiteStore) -> None:
    with SQLiteStore(path=db.path) as again:
        assert again.count() == 7
    assert db.count() == 7


def test_a_file_of_another_schema_version_is_refused(tmp_path: Path) -> None:
    SQLiteStore(path=tmp_path / "catalogue.db").close()
    with sqlite3.connect(tmp_path / "catalogue.db") as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(RuntimeError, match="schema version"):
        SQLiteStore(path=tmp_path / "catalogue.db")


def as_version_2(store: SQLiteStore) -> None:
    """Make the (closed) store's file a version-2 file: a new file is made as version 2 then completed by
    ``_VERSION_3``, so dropping what that adds, and indexing the texts without the concepts' ancestor
    labels (version 2 had none), leaves what version 2 wrote."""
    with raw(store) as conn:
        conn.execute("BEGIN")
        for table in ("changes", "generation", "record_facets", "phrase_matches"):
            conn.execute(f"DROP TABLE {table}")
        for num, doc in conn.execute("SELECT num, doc FROM documents").fetchall():
            record = from_json(doc)
            bare = [msgspec.structs.replace(c, ancestor_labels=[]) for c in record.concepts]
            text = backend._join(backend._other_texts(msgspec.structs.replace(record, concepts=bare)))
            conn.execute("UPDATE documents SET other_text = ? WHERE num = ?", (text, num))
        conn.execute("INSERT INTO documents_fts (documents_fts) VALUES ('rebuild')")
        conn.execute("DROP TABLE record_concepts")
        conn.execute("DROP TABLE concepts")
        conn.execute("DROP TABLE record_identifiers")
        conn.execute("ALTER TABLE records DROP COLUMN fair_level")
        conn.execute("ALTER TABLE records DROP COLUMN fair_score")
        conn.execute("ALTER TABLE records DROP COLUMN validated")
        conn.execute("PRAGMA user_version = 2")
        conn.execute("COMMIT")


def as_version_1(store: SQLiteStore) -> None:
    """Make the (closed) store's file a version-1 file: a version-2 file less what ``_GROUPS`` adds."""
    as_version_2(store)
    with raw(store) as conn:
        conn.execute("DROP INDEX records_duplicates")
        conn.execute("DROP TABLE record_keys")
        conn.execute("ALTER TABLE records DROP COLUMN duplicate_of")
        conn.execute("ALTER TABLE records DROP COLUMN seq")
        conn.execute("PRAGMA user_version = 1")


def groups(store: SQLiteStore) -> dict[str, str]:
    """Every duplicate of the store, with its primary."""
    with raw(store) as conn:
        every_id = [record_id for (record_id,) in conn.execute("SELECT id FROM records")]
    return store.duplicates_of(every_id)


def test_a_version_1_file_is_migrated_in_place(tmp_path: Path) -> None:
    store = SQLiteStore(path=tmp_path / "catalogue.db")
    store.upsert(catalogue_records())
    store.upsert([republished(sst(), SST_THEIA), sst_series()])
    store.upsert([republished(sst(), SST_AERIS)])
    store.close()
    as_version_1(store)
    with SQLiteStore(path=store.path) as migrated:
        with raw(migrated) as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert migrated.count() == 10
        for record in [*catalogue_records(), sst_series()]:
            assert migrated.get(record.id) == record
        assert migrated.group(SST) == [SST, SST_THEIA, SST_AERIS]
        assert migrated.group(SST_SERIES) == []
        assert found(migrated, q=[["gascogne"]]) == [SST, SST_SERIES]
        assert_consistent(migrated)
        migrated.delete([SST])  # the series no longer has a record of its source in the group
        assert migrated.group(SST_AERIS) == [SST_THEIA, SST_SERIES, SST_AERIS]
        assert_consistent(migrated)


def schema(store: SQLiteStore) -> list[tuple[str, ...]]:
    """Every table's columns and every index's, of the store's file."""
    with raw(store) as conn:
        names = conn.execute("SELECT type, name, tbl_name FROM sqlite_schema ORDER BY name").fetchall()
        return [
            (kind, name, table, *(str(c) for c in conn.execute(f"PRAGMA {kind}_xinfo('{name}')")))
            for kind, name, table in names
            if kind in ("table", "index")
        ]


def test_a_version_2_file_is_migrated_in_place_to_the_schema_of_a_new_file(tmp_path: Path) -> None:
    store = SQLiteStore(path=tmp_path / "catalogue.db")
    store.upsert(catalogue_records())
    store.upsert([polder(), themed_sst()])
    store.upsert([republished(sst(), SST_AERIS)])
    store.close()
    as_version_2(store)
    with raw(store) as conn:  # what version 2 indexed: no ancestor labels
        match = "SELECT rowid FROM documents_fts WHERE documents_fts MATCH 'aerosols'"
        assert conn.execute(match).fetchall() == []
    with SQLiteStore(path=store.path) as migrated:
        with SQLiteStore(path=tmp_path / "new.db") as new:
            assert schema(migrated) == schema(new)
        assert migrated.count() == 9
        assert migrated.get(POLDER) == polder() and migrated.get(SST) == themed_sst()
        assert found(migrated, q=[["aerosols"]]) == [POLDER]
        assert found(migrated, properties={"theme": [EARTH_SCIENCE]}) == [POLDER, SST]
        assert found(migrated, properties={"fair_level": ["moderate"]}) == [SST]
        assert found(migrated, sortby=[Sort("fair", False)])[:2] == [POLDER, SST]
        assert migrated.group(SST) == [SST, SST_AERIS]
        assert found(migrated, external_ids=parse_external_ids("aeris-catalogue:sst-gascogne")) == [SST]
        (themes,) = migrated.search(Query(facets=[FacetRequest("theme")])).facets
        assert counts(themes) == {
            DATA_TERRA + "atmosphere": 1,
            DATA_TERRA + "ocean": 1,
            DATA_TERRA + "physical-oceanography": 1,
        }
        assert found(migrated, properties={"year": ["2015"], "theme": [DATA_TERRA + "ocean"]}) == [SST]
        assert_consistent(migrated)
        migrated.upsert([sst()])  # numbered above every record migrated, and followed by the snapshot
        assert found(migrated, properties={"theme": [EARTH_SCIENCE]}) == [POLDER]
        assert found(migrated, properties={"theme": [DATA_TERRA + "ocean"]}) == []
        assert_consistent(migrated)


def test_a_version_3_file_is_migrated_in_place_to_the_schema_of_a_new_file(
    db: SQLiteStore, tmp_path: Path
) -> None:
    db.upsert([polder(), sst()])
    db.close()
    with raw(db) as conn:  # version 3 did not remember matches
        conn.execute("DROP TABLE phrase_matches")
        conn.execute("PRAGMA user_version = 3")
    with SQLiteStore(path=db.path) as migrated, SQLiteStore(path=tmp_path / "new.db") as new:
        assert schema(migrated) == schema(new)
        assert found(migrated, q=[["aerosols"]]) == [POLDER]
        assert_consistent(migrated)


def test_a_version_1_file_gets_the_schema_of_a_new_file(db: SQLiteStore, tmp_path: Path) -> None:
    db.upsert([polder()])
    db.close()
    as_version_1(db)
    with SQLiteStore(path=db.path) as migrated, SQLiteStore(path=tmp_path / "new.db") as new:
        assert schema(migrated) == schema(new)
        assert found(migrated, properties={"theme": [AEROSOLS]}) == [POLDER]


def test_a_failed_migration_leaves_the_version_2_file(
    db: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    db.upsert([polder()])
    db.close()
    as_version_2(db)

    def fail(*args: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(backend, "_themes", fail)  # after the columns and table are added
    with pytest.raises(sqlite3.OperationalError):
        SQLiteStore(path=db.path)
    with raw(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_schema")}
        assert tables.isdisjoint({"record_concepts", "record_facets", "generation", "changes"})
        columns = {column for (_, column, *_) in conn.execute("PRAGMA table_info(records)")}
        assert "fair_score" not in columns
    monkeypatch.undo()
    with SQLiteStore(path=db.path) as migrated:
        assert found(migrated, q=[["aerosols"]]) == [POLDER]


def test_a_failed_migration_leaves_the_version_1_file(
    db: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    db.upsert([republished(sst(), SST_AERIS)])
    db.close()
    as_version_1(db)

    def fail(*args: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(backend, "_regroup", fail)  # after the columns, table and keys are added
    with pytest.raises(sqlite3.OperationalError):
        SQLiteStore(path=db.path)
    with raw(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_schema")}
        assert "record_keys" not in tables
    monkeypatch.undo()
    with SQLiteStore(path=db.path) as migrated:
        assert migrated.group(SST) == [SST, SST_AERIS]


def test_groups_after_any_writes_are_those_evaluated_afresh(db: SQLiteStore) -> None:
    """Writes evaluate groups again only where they touch them: the groups must always be those of an
    evaluation of every record from scratch."""

    def evaluated_afresh() -> dict[str, str]:
        with raw(db) as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("UPDATE records SET duplicate_of = NULL")
            backend._regroup(conn, {num for (num,) in conn.execute("SELECT num FROM records")})
            conn.execute("COMMIT")
        return groups(db)

    rng = random.Random(5)
    keys = [Identifier(code=f"10.25326/lot-{k}", scheme="doi") for k in range(6)]
    keys += [Identifier(code=f"https://data.example.org/lot/{k}") for k in range(4)]
    sources = ["odatis-sextant", "aeris-catalogue", "theia-oso"]
    sizes = set()
    for step in range(1, 301):
        ids = sorted({f"{rng.choice(sources)}.lot-{rng.randrange(8)}" for _ in range(rng.randint(1, 3))})
        if rng.random() < 0.2:
            db.delete(ids)
        else:
            db.upsert([republished(sst(), i, identifiers=rng.sample(keys, rng.randint(0, 2))) for i in ids])
        if step % 20 == 0:
            written = groups(db)
            assert evaluated_afresh() == written
            sizes.add(len(set(written.values())))
    assert_consistent(db)
    assert max(sizes) > 1  # several groups at once: not a trivial case


def test_indexes_stay_consistent_through_replaces_and_deletes(db: SQLiteStore) -> None:
    db.upsert(
        [
            msgspec.structs.replace(r, bboxes=r.bboxes[:1], temporal=r.temporal[-1:])
            for r in catalogue_records()
        ]
    )
    db.upsert(many_records(30))
    db.delete([ARGO, "odatis-sextant.lot-004"])
    db.upsert(catalogue_records())
    assert_consistent(db)
    assert db.count() == 7 + 29


def test_a_write_failing_midway_is_rolled_back(db: SQLiteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(backend, "_insert_extents", fail)  # after the records rows are written
    changed = msgspec.structs.replace(sst(), title=LocalisedText(text="Jamais écrit"))
    with pytest.raises(sqlite3.OperationalError):
        db.upsert([changed, *many_records(3)])
    monkeypatch.undo()
    assert db.count() == 7
    assert db.get(SST) == sst()
    assert found(db, q=[["jamais"]]) == []
    assert found(db, bbox=(-5.0, 44.0, 0.0, 46.0)) == ["aeris-catalogue.iasi-co", SST, "theia-oso.oso-2021"]
    assert_consistent(db)


def test_readers_are_not_blocked_by_a_write_in_progress(db: SQLiteStore) -> None:
    with raw(db) as writer:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("DELETE FROM records WHERE source_id = 'odatis-sextant'")
        started = time.monotonic()
        assert db.count() == 7  # the last committed snapshot
        assert found(db, q=[["ocean"]], sortby=[Sort("id")]) == [ARGO, SST]
        with SQLiteStore(path=db.path, busy_timeout=5) as opened_meanwhile:
            assert opened_meanwhile.count() == 7
        assert time.monotonic() - started < 1
        writer.execute("ROLLBACK")


def test_threads_search_while_another_writes(db: SQLiteStore) -> None:
    errors: list[BaseException] = []

    def search() -> None:
        try:
            for _ in range(30):
                result = db.search(Query(q=[["temperature"]], sortby=[Sort("title")], limit=5))
                assert result.matched >= 3
        except BaseException as error:  # reported below: pytest does not see other threads' failures
            errors.append(error)

    readers = [threading.Thread(target=search) for _ in range(4)]
    for reader in readers:
        reader.start()
    for start in range(0, 200, 20):
        db.upsert(many_records(200)[start : start + 20])
    for reader in readers:
        reader.join()
    assert errors == []
    assert db.count() == 7 + 200


def test_a_write_by_another_process_is_searched_at_once(db: SQLiteStore) -> None:
    """The snapshot in memory is of one generation: a write committed elsewhere is seen by the next
    search, facets included, never the snapshot of before."""
    asked = [FacetRequest("pole"), FacetRequest("theme")]
    assert db.search(Query(q=[["optical"]], facets=asked)).matched == 0
    with SQLiteStore(path=db.path) as harvest:  # another connection, as another process has
        harvest.upsert([polder()])
        result = db.search(Query(q=[["optical"]], facets=asked))
        assert [r.id for r in result.records] == [POLDER]
        assert [counts(f) for f in result.facets] == [{"AERIS": 1}, {DATA_TERRA + "atmosphere": 1}]
        harvest.delete([POLDER])
        assert found(db, q=[["optical"]]) == []
        harvest.rebuild([sst()])
        assert found(db) == [SST]


def test_facets_stay_consistent_while_another_process_writes(db: SQLiteStore) -> None:
    """Searches racing a harvest (batches of 20 committed by another connection) each see one committed
    state: the whole snapshot of some generation, in memory or in SQL while one thread loads it."""
    errors: list[BaseException] = []
    seen: list[int] = []
    asked = [FacetRequest("source"), FacetRequest("year", MAX_BUCKETS)]

    done = threading.Event()

    def search() -> None:
        try:
            while not done.is_set():
                result = db.search(Query(q=[["temperature"]], facets=asked, limit=3))
                sources = counts(result.facets[0])
                assert sum(sources.values()) == result.matched
                assert (result.matched - 3) % 20 == 0  # ETNA, ARGO, SST, then whole batches
                assert sources.get("odatis-sextant", 0) == result.matched - 1
                seen.append(result.matched)
        except BaseException as error:  # reported below: pytest does not see other threads' failures
            errors.append(error)

    readers = [threading.Thread(target=search) for _ in range(3)]
    for reader in readers:
        reader.start()
    with SQLiteStore(path=db.path) as harvest:
        records = many_records(400)
        for start in range(0, 400, 20):
            harvest.upsert(records[start : start + 20])
    done.set()
    for reader in readers:
        reader.join()
    assert errors == []
    assert db.search(Query(q=[["temperature"]], limit=0)).matched == 403
    assert len(set(seen)) > 1  # the searches did race the writes


def test_a_closed_store_refuses_work_in_any_thread(db: SQLiteStore) -> None:
    db.close()
    with pytest.raises(sqlite3.ProgrammingError):
        db.count()
    refused: list[BaseException] = []

    def count() -> None:
        try:
            db.count()
        except sqlite3.ProgrammingError as error:
            refused.append(error)

    thread = threading.Thread(target=count)
    thread.start()
    thread.join()
    assert len(refused) == 1


def test_lone_surrogates_in_q_are_harmless(db: SQLiteStore) -> None:
    assert found(db, q=[["etna\ud800"]]) == [ETNA]
    assert found(db, q=[["\ud800"], ["etna"]]) == [ETNA]


@pytest.mark.parametrize(
    ("value", "end", "expected"),
    [
        ("2010", False, "2010-01-01T00:00:00Z"),
        ("2010", True, "2010-12-31T23:59:59Z"),
        ("2012-02", True, "2012-02-29T23:59:59Z"),
        ("2010-05", False, "2010-05-01T00:00:00Z"),
        ("2010-05-01", True, "2010-05-01T23:59:59Z"),
        ("2010-05-01T12:30:00+02:00", False, "2010-05-01T10:30:00Z"),
        ("2010-05-01T12:30:00.750Z", True, "2010-05-01T12:30:00Z"),
        ("2010-05-01T12:30", False, "2010-05-01T12:30:00Z"),
        ("0950-06-01", False, "0950-06-01T00:00:00Z"),
        (" 2010 ", False, "2010-01-01T00:00:00Z"),
        ("2010-13", False, None),
        ("2010-02-30", True, None),
        ("Holocène", False, None),
        ("", False, None),
    ],
)
def test_dates_become_sortable_utc_bounds_of_their_period(
    value: str, end: bool, expected: str | None
) -> None:
    assert instant(value, end=end) == expected


WORDS = [["temperature"], ["golfe", "de", "gascogne"], ["carbon"], ["2003"], ["oceans"], ["manche"]]


def random_query(rng: random.Random) -> Query:
    """A search of any kind: alternatives ranked by summed phrase scores, boxes across the antimeridian,
    ties in every sort key, pages deep in the matches, every facet."""
    west, south = rng.uniform(-180, 180), rng.uniform(-80, 40)
    every = [
        FacetRequest(name, size=rng.choice([3, 1000]), order=rng.choice(FACET_ORDERS)) for name in FACETS
    ]
    return Query(
        q=rng.sample(WORDS, rng.choice([0, 1, 1, 2])),
        bbox=rng.choice([None, (west, south, min(west + 60, 180), south + 40), (160.0, -40.0, -150.0, 40.0)]),
        time=rng.choice(
            [None, (f"{rng.randint(1980, 2020)}-06-01T00:00:00Z", None), (None, "1995-01-01T00:00:00Z")]
        ),
        properties=rng.choice(
            [
                {},
                {"pole": ["AERIS", "ODATIS"]},
                {"theme": [DATA_TERRA + "ocean"]},
                {"fair_level": ["moderate"]},
                {"platform": ["Metop-B", "Argo floats"], "license": ["CC-BY-4.0"]},
                {"format": ["NetCDF"], "year": ["2003", "2015"]},
                {"instrument": ["IASI"]},
            ]
        ),
        sortby=rng.choice([[], [Sort("title")], [Sort("updated", False), Sort("fair")], [Sort("start")]]),
        offset=rng.choice([0, 0, 7, 150]),
        limit=rng.choice([0, 10, 40]),
        facets=every,
    )


def assert_same_answers(snapshot: SQLiteStore, sql: SQLiteStore, query: Query) -> None:
    expected, got = sql.search(query), snapshot.search(query)
    assert [r.id for r in got.records] == [r.id for r in expected.records], query
    assert got.matched == expected.matched and got.facets == expected.facets, query
    assert snapshot.extent(query) == sql.extent(query), query


def test_the_snapshot_answers_as_sql_does(tmp_path: Path) -> None:
    """Random searches of every kind give the same page, count, facets and extent on the columnar
    snapshot as in SQL."""
    records = generate(1500)
    with (
        SQLiteStore(path=tmp_path / "c.db") as snapshot,
        SQLiteStore(path=tmp_path / "c.db", columns=False) as sql,
    ):
        for start in range(0, len(records), 500):
            snapshot.upsert(records[start : start + 500])
        snapshot.upsert(
            [republished(r, r.id.replace("odatis-sextant", "aeris-catalogue")) for r in records[:40]]
        )
        rng = random.Random(5)
        for _ in range(200):
            assert_same_answers(snapshot, sql, random_query(rng))


def test_a_snapshot_loaded_in_small_chunks_answers_as_sql_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The snapshot is read a chunk of rows at a time (values coded per chunk, then merged): with chunks
    of a few rows, whose ends fall among a record's boxes, extents and facet values, random searches
    still give what SQL gives."""
    monkeypatch.setattr(columns_module, "_CHUNK", 7)
    records = generate(600)
    with (
        SQLiteStore(path=tmp_path / "c.db") as snapshot,
        SQLiteStore(path=tmp_path / "c.db", columns=False) as sql,
    ):
        snapshot.upsert(records)
        snapshot.upsert(
            [republished(r, r.id.replace("odatis-sextant", "aeris-catalogue")) for r in records[:30]]
        )
        rng = random.Random(11)
        for _ in range(100):
            assert_same_answers(snapshot, sql, random_query(rng))
        columns = snapshot._columns
        with raw(snapshot) as conn:
            rows = conn.execute("SELECT count(*) FROM records").fetchone()[0]
        assert columns is not None and columns.dead == 0 and columns.n == rows > 80 * 7  # loaded in chunks


def random_write(
    harvest: SQLiteStore, rng: random.Random, indexed: list[str], fresh: Iterator[Record], title: str
) -> list[str]:
    """One write of another process, drawn: new records, 10 records retitled ``title``, or 5 deleted;
    the ids indexed after it."""
    action = rng.choice(["insert", "replace", "delete"])
    if action == "insert":
        batch = [next(fresh) for _ in range(rng.randint(1, 30))]
        harvest.upsert(batch)
        return indexed + [r.id for r in batch]
    chosen = rng.sample(indexed, 10 if action == "replace" else 5)
    if action == "replace":
        harvest.upsert(
            [msgspec.structs.replace(harvest.get(i), title=LocalisedText(text=title)) for i in chosen]  # type: ignore[arg-type]
        )
        return indexed
    harvest.delete(chosen)
    return [i for i in indexed if i not in chosen]


def test_the_snapshot_follows_writes_of_another_process(tmp_path: Path) -> None:
    """A harvest in another process inserts, replaces, deletes and regroups records while the snapshot is
    searched: advanced by the changes each write logs, it answers as SQL does after every write."""
    records = generate(1200)
    path = tmp_path / "c.db"
    with (
        SQLiteStore(path=path) as snapshot,
        SQLiteStore(path=path, columns=False) as sql,
        SQLiteStore(path=path) as harvest,
    ):
        harvest.upsert(records[:300])
        rng = random.Random(8)
        indexed = [r.id for r in records[:300]]
        fresh = iter(records[300:])
        for step in range(60):
            if rng.random() < 0.75:
                indexed = random_write(harvest, rng, indexed, fresh, f"v{step}")
            else:  # another source republishes records: they group, and a delete of a primary regroups
                chosen = [r for r in records[:300] if r.id in indexed and r.source_id == "odatis-sextant"][:8]
                harvest.upsert([republished(r, r.id.replace("odatis-sextant", "theia-oso")) for r in chosen])
                indexed += [r.id.replace("odatis-sextant", "theia-oso") for r in chosen]
            for _ in range(3):
                assert_same_answers(snapshot, sql, random_query(rng))
        columns = snapshot._columns
        assert columns is not None and columns.dead > 0  # advanced, not loaded again, after the deletes


def _fts5_scores(store: SQLiteStore, phrase: str) -> dict[int, float]:
    """FTS5's own bm25 of each record matching ``phrase``, by record number."""
    weights = ", ".join(map(str, backend._WEIGHTS))
    sql = f"SELECT rowid, bm25(documents_fts, {weights}) FROM documents_fts WHERE documents_fts MATCH ?"
    with raw(store) as conn:
        return dict(conn.execute(sql, (phrase,)).fetchall())


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool, int]]:
    """What searches ask FTS5 for: (phrase, ranked, rowids above)."""
    calls: list[tuple[str, bool, int]] = []

    class Asked(backend._FullText):
        def matches(self, phrase: str, ranked: bool, after: int) -> tuple[np.ndarray, np.ndarray | None]:
            calls.append((phrase, ranked, after))
            return super().matches(phrase, ranked, after)

    monkeypatch.setattr(backend, "_FullText", Asked)
    return calls


def assert_fts5_scores(store: SQLiteStore, phrase: str) -> None:
    """The snapshot's scores of ``phrase``'s live matches are FTS5's bm25, bit for bit."""
    columns = store._columns
    assert columns is not None
    entry = columns._fts[(phrase, True)]
    assert entry.scores is not None
    live = columns.live[entry.positions]
    nums, scores = columns.nums[entry.positions][live], entry.scores[live]
    assert dict(zip(nums.tolist(), scores.tolist(), strict=True)) == _fts5_scores(store, phrase)


def test_ranked_matches_follow_writes_with_fts5s_own_scores(
    tmp_path: Path, asked: list[tuple[str, bool, int]]
) -> None:
    """A ranked phrase's matches are carried to the next snapshot and scored again there from each
    match's frequency and length (not by FTS5 for every match): after inserts, replacements and deletes
    in another process, every live match's score is FTS5's bm25 bit for bit, and the lengths the
    snapshot holds add up to FTS5's own total."""
    records = generate(900)
    path = tmp_path / "c.db"
    with SQLiteStore(path=path) as snapshot, SQLiteStore(path=path) as harvest:
        harvest.upsert(records[:400])
        rng = random.Random(3)
        indexed = [r.id for r in records[:400]]
        fresh = iter(records[400:])
        for step in range(25):
            snapshot.search(Query(q=[[rng.choice(WORDS)[0]], ["golfe", "de", "gascogne"]], limit=5))
            snapshot.search(Query(q=[["carbon"]], limit=5))
            columns = snapshot._columns
            assert columns is not None
            with raw(snapshot) as conn:
                assert backend._FullText(conn, snapshot._remember).totals()[1] == int(
                    columns.lengths[columns.live].sum()
                )
            scored = [key for key, entry in columns._fts.items() if key[1] and entry.scores is not None]
            assert ('"carbon"', True) in scored and ('"golfe de gascogne"', True) in scored
            for phrase, _ in scored:
                assert_fts5_scores(snapshot, phrase)
            indexed = random_write(harvest, rng, indexed, fresh, f"carbon v{step}")
        snapshot.search(Query(q=[["carbon"]], limit=5))
        assert snapshot._columns is not None and snapshot._columns.dead > 0  # advanced, not loaded again
    # FTS5 scored only the rows each write appended: the matches before were carried and scored here.
    assert any(after > 0 for phrase, ranked, after in asked if ranked and phrase == '"carbon"')


def test_ranked_matches_survive_a_snapshot_loaded_whole(
    tmp_path: Path, asked: list[tuple[str, bool, int]]
) -> None:
    """When the log no longer reaches back, the snapshot is loaded whole and takes the phrase matches the
    one before remembered: FTS5 is asked only for the rows added since, and scores are still its own."""
    records = generate(700)
    with SQLiteStore(path=tmp_path / "c.db") as snapshot, SQLiteStore(path=tmp_path / "c.db") as harvest:
        harvest.upsert(records[:300])
        before = snapshot.search(Query(q=[["temperature"]], limit=3))
        harvest.delete([r.id for r in records[:20]])
        for record in records[300:]:  # a generation each: the log no longer reaches back
            harvest.upsert([record])
        asked.clear()
        after = snapshot.search(Query(q=[["temperature"]], limit=3))
        assert snapshot._columns is not None and snapshot._columns.dead == 0  # loaded whole
        assert asked and all(ranked and last > 0 for _, ranked, last in asked)
        assert_fts5_scores(snapshot, '"temperature"')
        assert after.matched > before.matched


@pytest.fixture
def remember_all(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ranked phrase FTS5 finds matches of is saved in the index (not only the common ones)."""
    monkeypatch.setattr(columns_module, "_REMEMBER_FROM", 1)


def eventually(fetch: Callable[[], Any]) -> Any:
    """What ``fetch`` gives once it gives something: the store's saving thread saves a little later."""
    deadline = time.monotonic() + 10
    while not (found := fetch()):
        if time.monotonic() > deadline:
            pytest.fail("not seen within 10 s")
        time.sleep(0.02)
    return found


def saved_matches(store: SQLiteStore, phrase: str, generation: int = 0) -> tuple[int, list[int], list[float]]:
    """The covered number, record numbers and frequencies saved for ``phrase`` from a snapshot of
    ``generation`` or later, once the store's saving thread has written them."""
    sql = "SELECT covered, nums, frequencies FROM phrase_matches WHERE phrase = ? AND generation >= ?"

    def saved() -> tuple[int, bytes, bytes] | None:
        with raw(store) as conn:
            return conn.execute(sql, (phrase, generation)).fetchone()

    covered, nums, frequencies = eventually(saved)
    return covered, np.frombuffer(nums, "<i8").tolist(), np.frombuffer(frequencies, "<f4").tolist()


def generation_of(store: SQLiteStore) -> int:
    with raw(store) as conn:
        return conn.execute("SELECT n FROM generation").fetchone()[0]


@pytest.mark.usefixtures("remember_all")
def test_ranked_matches_are_saved_for_the_searches_of_other_processes(
    tmp_path: Path, asked: list[tuple[str, bool, int]]
) -> None:
    """The first search of a phrase in a process finds the matches another process's search saved: FTS5
    is asked only for the records numbered above them, the records deleted since are left out, and the
    scores are FTS5's own, bit for bit, whatever was written in between."""
    records = generate(700)
    path = tmp_path / "c.db"
    with SQLiteStore(path=path) as harvest, SQLiteStore(path=path, columns=False) as sql:
        harvest.upsert(records[:400])
        with SQLiteStore(path=path) as first:
            first.search(Query(q=[["carbon"]], limit=5))
        covered, nums, frequencies = saved_matches(harvest, '"carbon"')
        assert nums == sorted(_fts5_scores(harvest, '"carbon"')) and len(nums) > 20
        assert covered >= nums[-1] and all(f >= 1 and f.is_integer() for f in frequencies)

        rng = random.Random(5)
        indexed, fresh = [r.id for r in records[:400]], iter(records[400:])
        for step in range(4):  # inserts, replacements (new numbers) and deletes of carbon records
            indexed = random_write(harvest, rng, indexed, fresh, f"carbon v{step}")
        harvest.delete([i for i in indexed if i in {r.id for r in records[:400]}][:3])
        asked.clear()
        with SQLiteStore(path=path) as second:
            query = Query(q=[["carbon"]], limit=50)
            assert_same_answers(second, sql, query)
            assert asked == [('"carbon"', True, covered)]  # FTS5 found only the rows numbered above
            assert_fts5_scores(second, '"carbon"')
            assert second.search(Query(q=[["carbon"]], limit=0)).matched == len(
                _fts5_scores(harvest, '"carbon"')
            )


@pytest.mark.usefixtures("remember_all")
def test_matches_saved_after_a_delete_are_not_used_by_a_snapshot_of_before(
    tmp_path: Path, asked: list[tuple[str, bool, int]]
) -> None:
    """A read transaction that began before a delete still sees the record deleted: the matches another
    process saved after it lack that record, so that transaction's snapshot has FTS5 find them."""
    path = tmp_path / "c.db"
    with SQLiteStore(path=path) as harvest, SQLiteStore(path=path) as old:
        harvest.upsert(generate(300))
        before_delete = _fts5_scores(harvest, '"carbon"')
        with raw(harvest) as conn:
            (doomed,) = conn.execute("SELECT id FROM records WHERE num = ?", (min(before_delete),)).fetchone()
        with old._transaction() as conn:
            snapshot = old._snapshot(conn, wait=True)  # the read transaction sees this generation from now on
            assert snapshot is not None
            harvest.delete([doomed])
            with SQLiteStore(path=path) as newer:
                newer.search(Query(q=[["carbon"]], limit=1))
            saved_matches(harvest, '"carbon"', generation_of(harvest))
            asked.clear()
            hits, _ = snapshot.full_text(['"carbon"'], True, backend._FullText(conn, old._remember))
            assert set(snapshot.nums[hits].tolist()) == set(before_delete)  # the record deleted since too
            assert asked == [('"carbon"', True, 0)]


@pytest.mark.usefixtures("remember_all")
def test_a_rebuild_forgets_the_saved_matches(tmp_path: Path, asked: list[tuple[str, bool, int]]) -> None:
    records = generate(200)
    with SQLiteStore(path=tmp_path / "c.db") as store:
        store.upsert(records)
        store.search(Query(q=[["carbon"]], limit=1))
        saved_matches(store, '"carbon"')
        store.rebuild(records)  # every record numbered anew
        with raw(store) as conn:
            assert conn.execute("SELECT count(*) FROM phrase_matches").fetchone()[0] == 0
        asked.clear()
        with SQLiteStore(path=store.path) as after:
            after.search(Query(q=[["carbon"]], limit=1))
            assert asked == [('"carbon"', True, 0)]
            assert_fts5_scores(after, '"carbon"')


@pytest.mark.usefixtures("remember_all")
def test_past_their_bytes_the_matches_saved_from_the_oldest_snapshots_are_forgotten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = generate(300)
    with SQLiteStore(path=tmp_path / "c.db") as store:
        store.upsert(records[:200])
        saved = {}
        for word, record in zip(("carbon", "temperature", "2003"), records[200:], strict=False):
            if word == "2003":  # room for the last two saved only
                size = 12 * len(_fts5_scores(store, f'"{word}"'))
                monkeypatch.setattr(backend, "_SAVED_BYTES", saved['"temperature"'] + size)
            store.search(Query(q=[[word]], limit=1))
            _, nums, _ = saved_matches(store, f'"{word}"', generation_of(store))
            saved[f'"{word}"'] = 12 * len(nums)
            store.upsert([record])  # the next is saved from a newer snapshot
        with raw(store) as conn:
            kept = dict(conn.execute("SELECT phrase, length(nums) + length(frequencies) FROM phrase_matches"))
        assert kept == {'"temperature"': saved['"temperature"'], '"2003"': saved['"2003"']}


@pytest.mark.usefixtures("remember_all")
def test_matches_are_not_saved_while_another_process_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A save waits ``_SAVE_WAIT_MS`` at most for the write lock, in a thread of its own: the search
    answers, the save is dropped and logged, and a later search saves them."""
    monkeypatch.setattr(backend, "_SAVE_WAIT_MS", 50)
    path = tmp_path / "c.db"
    with SQLiteStore(path=path) as store:
        store.upsert(generate(200))
    with raw(store) as writer, caplog.at_level(logging.INFO, logger=backend.__name__):
        writer.execute("BEGIN IMMEDIATE")  # a harvest's write under way
        with SQLiteStore(path=path) as searching:
            assert searching.search(Query(q=[["carbon"]], limit=1)).matched > 0
            not_saved = 'the matches of "carbon" are not saved in'
            eventually(lambda: any(m.startswith(not_saved) and m.endswith("locked") for m in caplog.messages))
        assert writer.execute("SELECT count(*) FROM phrase_matches").fetchone()[0] == 0
        writer.execute("ROLLBACK")
    with SQLiteStore(path=path) as later:
        later.search(Query(q=[["carbon"]], limit=1))
        saved_matches(later, '"carbon"')


@pytest.mark.parametrize(
    ("data", "values"),
    [
        (b"", []),
        (b"\x00\x7f", [0, 127]),
        (b"\x81\x00\x82\x2c\x05", [128, 300, 5]),
        (b"\x81\x80\x00", [16384]),
    ],
)
def test_varints_are_read_as_sqlite_writes_them(data: bytes, values: list[int]) -> None:
    assert columns_module.varints(data).tolist() == values


def test_the_snapshot_is_loaded_again_when_the_log_no_longer_reaches_back(tmp_path: Path) -> None:
    records = many_records(300)
    with SQLiteStore(path=tmp_path / "c.db") as snapshot, SQLiteStore(path=tmp_path / "c.db") as harvest:
        harvest.upsert(records[:10])
        assert snapshot.search(Query(limit=0)).matched == 10
        for record in records[10:]:  # a generation each: the first ones' changes are forgotten
            harvest.upsert([record])
        with raw(snapshot) as conn:
            assert conn.execute("SELECT min(generation) FROM changes").fetchone()[0] > 2
        result = snapshot.search(Query(q=[["temperature"]], facets=[FacetRequest("source")], limit=0))
        assert result.matched == 300 and counts(result.facets[0]) == {"odatis-sextant": 300}
