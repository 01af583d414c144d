"""The embedded index: one SQLite file, zero setup, enough for ~10^6 records on one machine.

Layout (schema version ``SCHEMA_VERSION``, kept in ``PRAGMA user_version`` so later versions can
migrate a file in place):

- ``records``: one narrow row per record, keyed by an integer ``num`` (what the other tables join on)
  and unique on ``id``, with the columns queries filter and sort on. Narrow, because a query visits
  a row per candidate: with the documents inline a common word read hundreds of MB. A replaced record
  gets a new ``num`` (FTS5 writes rowids in increasing order fastest) but keeps its ``seq``, the
  ``num`` it was first indexed under: the indexing order, which makes the primary of a duplicate
  group. ``duplicate_of`` is the ``num`` of a duplicate's primary.
- ``documents``: the record as its ``to_json`` document in ``doc``, and the texts the full-text index
  covers, as ``documents_fts``' external content.
- ``documents_fts``: FTS5 (``unicode61 remove_diacritics 2``) over ``documents``, written beside it
  (not by triggers: a trigger makes FTS5 flush its buffer on every row, seven times slower) and told
  to forget exactly the text read back from ``documents``. Documents are never updated in place,
  only deleted and inserted again.
- ``record_boxes``: R*Tree of bounding boxes. Box ``k`` of record ``num`` has id ``num << 16 | k``, so
  a record's boxes are found from ``records.n_boxes`` without a scan (R*Tree indexes only its id and
  coordinates). Boxes crossing the antimeridian are stored as two halves.
- ``record_times``: every temporal extent of a record, as sortable UTC text with open ends replaced by
  sentinels; ``records.time_start``/``time_end`` hold their union, for sorting and as a filter that
  is exact for the usual record with one extent (``n_times``).
- ``record_keys``: the duplicate group keys of each record (``catalogue.identity.group_keys``) with its
  source, keyed both ways: by key, to find a record's fellows and tell whether a key is held by two
  sources (only then does it link records), and by ``num``, to forget a record's keys.
- ``record_concepts``: each record's concepts and all their ancestors, one row per (concept, ``num``),
  keyed both ways: by concept, so a ``theme`` filter on a broad concept finds the records tagged with
  any narrower one (what facets are built on), and by ``num``, to list or forget a record's. A
  concept is its number in ``concepts``, which holds each URI once. The ancestors' labels are indexed as
  text too (``other_text``, the lowest weight): a search for "aerosols" finds a record tagged only
  with a narrower concept. ``records.fair_score``/``fair_level`` hold the record's FAIR assessment.
- ``record_identifiers``: what ``externalIds`` matches, and CQL2 filters are made SQL of, in
  ``catalogue.stores.sqlite_filter``.

- ``record_facets``: what facets count that no column holds (platforms, instruments, formats, licence,
  years, Data Terra themes with their labels: ``catalogue.facets.Facts``), one small document per record.
- ``generation``: one number, incremented by every write transaction, and ``changes``: the records each
  write inserted, deleted or regrouped, by generation (the last ``_CHANGES_KEPT`` generations). Record
  numbers are never given twice (``generation.last_num``).
- ``phrase_matches``: the ranked full-text matches of common phrases, by record number, that a search
  had FTS5 find and saved for the searches of every other process (``columns.Remembered``).

Searches and facets run on a columnar snapshot of the index in memory (``catalogue.stores.columns``):
numpy arrays read from these tables (not from the documents), tagged with the generation they were read
at, and used only by a read transaction that sees that very generation. The first search after a write
brings the snapshot to that generation by applying the changes logged since (tens of milliseconds for a
batch of 500, whichever process wrote it), or loads it whole when the log no longer reaches back that
far, or after a ``rebuild`` (about 2 s per 10^5 records, in the search's own transaction; searches in
other threads meanwhile run in SQL). Criteria the snapshot does not hold (CQL2 ``filter``,
``externalIds``) run in SQL. So a search never serves what a committed write changed.

Version 1 had no duplicate groups, version 2 no concepts, FAIR columns, identifiers, facets nor
generations, version 3 no saved phrase matches; an older file is migrated in place when opened, to the
very schema a new file gets.

Concurrency: WAL mode, one connection per thread. A harvest in another process writes in short
batch transactions while the server's threads keep reading their snapshot, unblocked. ``rebuild``
writes the whole index in one transaction on a connection of its own: readers keep the old snapshot,
the rebuilding thread's included, until it commits.
"""

from __future__ import annotations

import calendar
import functools
import itertools
import json
import logging
import math
import re
import sqlite3
import threading
import unicodedata
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import msgspec
import numpy as np

from catalogue import facets
from catalogue.identity import group_keys
from catalogue.query import (
    EQUALITY_PROPERTIES,
    FACET_ORDERS,
    FACETS,
    MAX_BUCKETS,
    SORTABLES,
    Facet,
    Query,
    QueryError,
)
from catalogue.record import FairReport, Record, from_json, to_json
from catalogue.store import Extent, SearchResult, Store
from catalogue.stores import sqlite_filter
from catalogue.stores.columns import BOX_BITS, Columns, Criteria, Remembered, varints
from catalogue.stores.wal import write_ahead_logging

SCHEMA_VERSION = 4

OPEN_START = "0000-01-01T00:00:00Z"
OPEN_END = "9999-12-31T23:59:59Z"

_logger = logging.getLogger(__name__)

_BOX_BITS = BOX_BITS
MAX_BOXES = 1 << _BOX_BITS  # per record, after antimeridian splitting

# bm25 weights of the FTS columns, in order: a hit in the title counts most, then keywords. Whole numbers:
# the columnar snapshot scores again from frequencies it rounds (``columns._frequencies``).
_WEIGHTS = (10.0, 2.0, 5.0, 1.0)
assert all(weight.is_integer() for weight in _WEIGHTS)

_SCHEMA = """
CREATE TABLE records (
    num INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    source_id TEXT NOT NULL,
    pole TEXT,
    resource_type TEXT,
    language TEXT,
    title_key TEXT,
    updated TEXT,
    created TEXT,
    time_start TEXT,
    time_end TEXT,
    n_times INTEGER NOT NULL,
    n_boxes INTEGER NOT NULL
);
CREATE INDEX records_source ON records (source_id);
-- Sort indexes serve only unfiltered listings (see _order): the usual ones, by title and by date.
-- Every index costs each write a random page; the other sorts scan the narrow table (~15 ms/10^5).
CREATE INDEX records_title ON records (title_key);
CREATE INDEX records_updated ON records (updated);

CREATE TABLE documents (
    num INTEGER PRIMARY KEY,
    title_text TEXT NOT NULL,
    abstract_text TEXT NOT NULL,
    keyword_text TEXT NOT NULL,
    other_text TEXT NOT NULL,
    doc BLOB NOT NULL
);

CREATE VIRTUAL TABLE documents_fts USING fts5 (
    title_text, abstract_text, keyword_text, other_text,
    content = 'documents', content_rowid = 'num',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE VIRTUAL TABLE record_boxes USING rtree (id, min_lon, max_lon, min_lat, max_lat);

CREATE TABLE record_times (
    num INTEGER NOT NULL,
    time_start TEXT NOT NULL,
    time_end TEXT NOT NULL,
    PRIMARY KEY (num, time_start, time_end)
) WITHOUT ROWID;
"""

# Version 2, duplicate groups: what migrates a version-1 file, and completes ``_SCHEMA`` in a new one,
# so that both have the very same schema.
_GROUPS = """
ALTER TABLE records ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;  -- a default to add it; set by _add_groups
ALTER TABLE records ADD COLUMN duplicate_of INTEGER;
-- Partial: the usual record, in no group or a primary, costs no write in it.
CREATE INDEX records_duplicates ON records (duplicate_of) WHERE duplicate_of IS NOT NULL;

-- With the source: a key only links records of two sources, which two index seeks tell (_LINKING).
CREATE TABLE record_keys (
    key TEXT NOT NULL,
    source_id TEXT NOT NULL,
    num INTEGER NOT NULL,
    PRIMARY KEY (key, source_id, num)
) WITHOUT ROWID;
CREATE INDEX record_keys_num ON record_keys (num);
"""

# Version 3, concepts, quality, facets and generations: what migrates a version-2 file (``_add_version_3``)
# and completes a new one. No index on the FAIR columns: a filter or sort on them scans the narrow table,
# as pole does.
_VERSION_3 = """
ALTER TABLE records ADD COLUMN fair_score INTEGER;
ALTER TABLE records ADD COLUMN fair_level TEXT;
-- The shapes version of the record's validation report (NULL: none yet), for ``unvalidated``.
ALTER TABLE records ADD COLUMN validated TEXT;

-- URIs are numbered once (thousands of concepts at most, never deleted), so that each row is two
-- integers: a tenth of the size with URIs, and less for a write to insert and delete.
CREATE TABLE concepts (
    id INTEGER PRIMARY KEY,
    uri TEXT NOT NULL UNIQUE
);
CREATE TABLE record_concepts (
    concept INTEGER NOT NULL,
    num INTEGER NOT NULL,
    PRIMARY KEY (concept, num)
) WITHOUT ROWID;
CREATE INDEX record_concepts_num ON record_concepts (num);

-- What ``externalIds`` matches (``sqlite_filter.identifier_rows``): keyed by value, the usual search,
-- and by ``num``, to forget a record's. No scheme is ''.
CREATE TABLE record_identifiers (
    value TEXT NOT NULL,
    scheme TEXT NOT NULL,
    num INTEGER NOT NULL,
    own INTEGER NOT NULL,
    PRIMARY KEY (value, scheme, num, own)
) WITHOUT ROWID;
CREATE INDEX record_identifiers_num ON record_identifiers (num);

-- What facets count that no column holds (``catalogue.facets.Facts``), so that a snapshot
-- (``catalogue.stores.columns``) is read without decoding every document.
CREATE TABLE record_facets (
    num INTEGER PRIMARY KEY,
    facts BLOB NOT NULL
);

-- n: the generation, incremented by every write transaction (a snapshot serves the readers that see its
-- generation only); logged: ``changes`` lists every change of the generations after it; last_num: the
-- highest record number ever given, so that none is given twice (a snapshot tells records by number).
CREATE TABLE generation (
    n INTEGER NOT NULL,
    logged INTEGER NOT NULL,
    last_num INTEGER NOT NULL
);
INSERT INTO generation VALUES (0, 0, 0);

-- The records each write inserted, deleted or regrouped, by generation: what a snapshot of an older
-- generation applies to follow the writes (``Columns.advance``). Kept for ``_CHANGES_KEPT`` generations.
CREATE TABLE changes (
    generation INTEGER NOT NULL,
    num INTEGER NOT NULL,
    PRIMARY KEY (generation, num)
) WITHOUT ROWID;
"""
_CHANGES_KEPT = 256

# Version 4, remembered full-text matches: what migrates a version-3 file and completes a new one.
_VERSION_4 = """
-- The ranked matches of common phrases (``columns.Remembered``), saved by the search that had FTS5
-- find them, so that no other process has it find them again (400 ms for a word in a third of 10^6
-- records). True as long as the file lives: a record's text never changes while its number lives
-- (a change that rewrote indexed text in place, as a migration might, must empty this table), and a
-- rebuild numbers every record anew (it empties it, to free the space).
CREATE TABLE phrase_matches (
    phrase TEXT PRIMARY KEY,      -- the FTS5 phrase, quoted (``fts_phrases``)
    weights TEXT NOT NULL,        -- the bm25 column weights of the frequencies (``_WEIGHTS``)
    generation INTEGER NOT NULL,  -- of the snapshot they were found in
    covered INTEGER NOT NULL,     -- every record then indexed, numbered up to this and matching, is in nums
    nums BLOB NOT NULL,           -- their numbers, increasing: int64, little-endian
    frequencies BLOB NOT NULL     -- each one's weighted frequency of the phrase: float32 (whole numbers)
);
"""
# Bytes of matches ``phrase_matches`` keeps (about 60 words each in a third of 10^6 records): past them,
# those saved from the oldest snapshots are forgotten.
_SAVED_BYTES = 256 << 20
_WEIGHTS_SAVED = ",".join(map(str, _WEIGHTS))
_SAVE_MATCHES = """
INSERT INTO phrase_matches (phrase, weights, generation, covered, nums, frequencies) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (phrase) DO UPDATE SET
    weights = excluded.weights, generation = excluded.generation, covered = excluded.covered,
    nums = excluded.nums, frequencies = excluded.frequencies
WHERE excluded.generation >= phrase_matches.generation OR excluded.weights != phrase_matches.weights
"""
_FORGET_MATCHES = """
DELETE FROM phrase_matches WHERE phrase IN (
    SELECT phrase FROM (
        SELECT phrase, sum(length(nums) + length(frequencies)) OVER (ORDER BY generation DESC, phrase) AS kept
        FROM phrase_matches
    ) WHERE kept > ?
)
"""
_SAVES_PENDING = 4  # remembered matches waiting to be saved; more are dropped (``SQLiteStore._remember``)
_SAVE_WAIT_MS = 1000  # how long a save waits for the write lock before it is dropped

_INSERT_RECORD = """
INSERT INTO records (num, id, source_id, pole, resource_type, language, title_key, updated, created,
                     time_start, time_end, n_times, n_boxes, seq, fair_score, fair_level, validated)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_INSERT_DOCUMENT = """
INSERT INTO documents (num, title_text, abstract_text, keyword_text, other_text, doc)
VALUES (?, ?, ?, ?, ?, ?)
"""
_INSERT_TEXT = """
INSERT INTO documents_fts (rowid, title_text, abstract_text, keyword_text, other_text) VALUES (?, ?, ?, ?, ?)
"""
# FTS5 must be told the very text it indexed to forget it: read back from its content table.
_DELETE_TEXT = """
INSERT INTO documents_fts (documents_fts, rowid, title_text, abstract_text, keyword_text, other_text)
SELECT 'delete', num, title_text, abstract_text, keyword_text, other_text FROM documents
WHERE num IN (SELECT value FROM json_each(?))
"""
# The FTS entries of records whose text ``documents`` now holds (after a migration rewrote it).
_INSERT_TEXT_OF = """
INSERT INTO documents_fts (rowid, title_text, abstract_text, keyword_text, other_text)
SELECT num, title_text, abstract_text, keyword_text, other_text FROM documents
WHERE num IN (SELECT value FROM json_each(?))
"""
_INSERT_KEY = "INSERT OR IGNORE INTO record_keys (key, source_id, num) VALUES (?, ?, ?)"
_INSERT_CONCEPT = "INSERT INTO record_concepts (concept, num) VALUES (?, ?)"
_INSERT_IDENTIFIER = "INSERT INTO record_identifiers (scheme, value, own, num) VALUES (?, ?, ?, ?)"
_KEYS_HELD = "SELECT num, key FROM record_keys WHERE num IN (SELECT value FROM json_each(?))"
_HOLDERS = "SELECT DISTINCT num FROM record_keys WHERE key IN (SELECT value FROM json_each(?))"
# The keys, among those given, that records of two sources or more hold.
_LINKING = """
SELECT value FROM json_each(?) AS k
WHERE (SELECT min(source_id) FROM record_keys WHERE key = k.value)
    < (SELECT max(source_id) FROM record_keys WHERE key = k.value)
"""
_DUPLICATES = "SELECT num FROM records WHERE duplicate_of IS NOT NULL"  # served by records_duplicates

# Query property -> column (``theme`` is not a column: ``_Plan._theme``, nor are the facet values:
# ``sqlite_filter.facet_where``); sortable field -> column.
_PROPERTY_COLUMNS = {
    "source": "source_id",
    "pole": "pole",
    "type": "resource_type",
    "language": "language",
    "fair_level": "fair_level",
}
_THEME = "theme"
_SORT_COLUMNS = {
    "title": "title_key",
    "updated": "updated",
    "created": "created",
    "start": "time_start",
    "end": "time_end",
    "id": "id",
    "fair": "fair_score",
}
assert {*_PROPERTY_COLUMNS, _THEME, *sqlite_filter.FACET_PROPERTIES} == set(EQUALITY_PROPERTIES)
assert set(_SORT_COLUMNS) == set(SORTABLES)

# Records a rebuild or a migration handles at a time: memory stays bounded however large the index.
_BATCH = 500

# Indexes that only searches and listings read, never a write (``_write``, ``_regroup``): a rebuild
# makes them after the rows (``SQLiteStore.rebuild``). The id, key and concept-number ones stay: a
# write looks records up by them.
_DEFERRED_INDEXES = (
    "records_source",
    "records_title",
    "records_updated",
    "records_duplicates",
    "record_concepts_num",
    "record_identifiers_num",
)
# A rebuild's page cache, KiB: allocated as pages are read, for the rebuild's connection only.
_REBUILD_CACHE_KIB = 1 << 20


class SQLiteStore(Store):
    """The ``Store`` in one SQLite file at ``path`` (its directory and schema are made on first open)."""

    def __init__(self, path: str | Path, busy_timeout: float = 30.0, columns: bool = True) -> None:
        """``columns``: search on a columnar snapshot in memory (``catalogue.stores.columns``; about
        70 MB per 10^5 records, 20-200 MB more while one loads), brought up to date after each write;
        ``False``: every search in SQL, and facets counted on a snapshot of the matches alone."""
        self.path = Path(path)
        self._use_columns = columns
        self._columns: Columns | None = None
        self._loading = threading.Lock()  # one thread makes a snapshot; the others wait, or search in SQL
        self._loading_whole = False  # the thread making one is loading it whole (seconds): do not wait
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        # Handles (not connections, which cannot be weakly referenced) of every thread's connection:
        # a thread that ends drops its handle and so its connection; ``close`` closes the live ones.
        self._handles: weakref.WeakSet[_Handle] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._closed = False
        self._saving: set[str] = set()  # phrases whose remembered matches wait to be saved
        self._saver: ThreadPoolExecutor | None = None  # saves them, made on first use
        try:
            self._create_schema()
        except BaseException:
            self.close()
            raise

    # --- writes ---------------------------------------------------------------------------------

    def upsert(self, records: Sequence[Record]) -> None:
        """Every row is made (each document read back, to validate it) before the write transaction
        begins, so a bad record fails its batch before anything is written. A replaced record is
        deleted and inserted again, so no box, extent or word of its old version survives; it keeps
        its ``seq``, its place in the indexing order. The groups its old and new keys touch are then
        evaluated again, in the same transaction."""
        rows = _rows(records)
        if not rows:
            return
        with self._transaction("IMMEDIATE") as conn:
            generation = _next_generation(conn)
            _log(conn, generation, _write(conn, rows))

    def rebuild(self, records: Iterable[Record], *, decoded: bool = False) -> int:
        """One write transaction on a connection of its own: everything is deleted, then the records
        are written ``_BATCH`` at a time as upserts into the empty index (so the iterable is read
        lazily and each batch's groups are evaluated in the order given). Readers keep the snapshot
        they had, whatever their connection; an error, from a record or from the iterable, rolls it
        all back.

        The indexes no write reads (``_DEFERRED_INDEXES``) are dropped first and made again, by one
        sort each, once every record is in; the connection gets a page cache of ``_REBUILD_CACHE_KIB``.
        At 10^6 records the pages that random inserts touch (the id, key and identifier B-trees, the
        full-text index being merged) no longer fit the usual 32 MB: each insert then read a page
        back from the file and spilled another to the WAL. Records ``decoded`` are not read back
        (``_Row.of``): a document made of decoded values decodes."""
        with self._own_connection() as conn, _transaction(conn, "IMMEDIATE"):
            conn.execute(f"PRAGMA cache_size = -{_REBUILD_CACHE_KIB}")
            deferred = _drop_indexes(conn, _DEFERRED_INDEXES)
            conn.execute("INSERT INTO documents_fts (documents_fts) VALUES ('delete-all')")
            for table in (
                "record_boxes",
                "record_times",
                "record_keys",
                "record_concepts",
                "record_facets",
                "record_identifiers",
                "documents",
            ):
                conn.execute(f"DELETE FROM {table}")
            conn.execute("DELETE FROM records")
            conn.execute("DELETE FROM phrase_matches")  # of numbers no record will have again
            # Every snapshot loads again: the log starts afresh at this generation.
            conn.execute("DELETE FROM changes")
            conn.execute("UPDATE generation SET logged = ?", (_next_generation(conn),))
            iterator = iter(records)
            while batch := list(itertools.islice(iterator, _BATCH)):
                _write(conn, _rows(batch, read_back=not decoded))
            for sql in deferred:
                conn.execute(sql)
            return conn.execute("SELECT count(*) FROM records").fetchone()[0]

    def delete(self, ids: Iterable[str]) -> int:
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return 0
        with self._transaction("IMMEDIATE") as conn:
            known = _known(conn, wanted)
            keys = _keys_of(conn, [r.num for r in known.values()])
            was_linked = _linked(conn, keys)
            if known:
                generation = _next_generation(conn)
                _remove(conn, known)
                regrouped = _regroup(conn, was_linked | _linked(conn, keys))
                _log(conn, generation, {r.num for r in known.values()} | regrouped)
        return len(known)

    # --- reads ----------------------------------------------------------------------------------

    def get(self, record_id: str) -> Record | None:
        sql = "SELECT d.doc FROM records AS r JOIN documents AS d ON d.num = r.num WHERE r.id = ?"
        row = self._connection().execute(sql, (record_id,)).fetchone()
        return from_json(row[0]) if row else None

    def search(self, query: Query) -> SearchResult:
        """On the columnar snapshot of the transaction's generation when there is one (loading it if no
        other thread is), else in SQL; criteria the snapshot does not hold (a CQL2 ``filter``,
        ``external_ids``) are searched in SQL, and their facets counted on the snapshot."""
        plan = _Plan.of(query)  # checks the query, whichever way it runs
        _check_facets(query)
        # One read transaction, so the page, the count and the facets come from the same snapshot.
        with self._transaction() as conn:
            columns = self._snapshot(conn, wait=bool(query.facets))
            if columns is not None and _columnar(query):
                criteria = _criteria(query)
                mask, score = columns.match(query, criteria, _FullText(conn, self._remember))
                nums = columns.page(mask, score, query, criteria)
                matched = int(np.count_nonzero(mask))
                counted = columns.facets(mask, query.facets)
            else:
                nums, matched = plan.run(conn, query.limit, query.offset)
                counted = _facets_in_sql(conn, plan, columns, query) if query.facets else []
            docs = dict(
                conn.execute(
                    "SELECT num, doc FROM documents WHERE num IN (SELECT value FROM json_each(?))",
                    (json.dumps(nums),),
                )
            )
        return SearchResult(records=[from_json(docs[n]) for n in nums], matched=matched, facets=counted)

    def _snapshot(self, conn: sqlite3.Connection, wait: bool) -> Columns | None:
        """The columnar snapshot of the generation the open read transaction sees, made in it when the
        one in memory is older: advanced by the changes logged since (``Columns.advance``), else loaded
        whole. While another thread makes one, the others wait for it (an advance takes milliseconds),
        unless it is loading one whole: then ``None`` (search in SQL), or with ``wait`` the one it
        loads if it is of this generation (facets in SQL would cost as much as the load when many
        records match). ``None`` too when disabled."""
        if not self._use_columns:
            return None
        generation = conn.execute("SELECT n FROM generation").fetchone()[0]
        current = self._columns
        if current is not None and current.generation == generation:
            return current
        if not self._loading.acquire(blocking=False):
            if self._loading_whole and not wait:
                return None
            self._loading.acquire()
        try:
            current = self._columns
            if current is not None and current.generation >= generation:
                return current if current.generation == generation else None
            made = current.advance(conn, generation) if current is not None else None
            if made is None:
                self._loading_whole = True
                made = Columns.load(conn, generation)
                if current is not None:
                    made.carry_matches(current)
            with self._lock:
                if self._columns is None or self._columns.generation < generation:
                    self._columns = made
            return made
        finally:
            self._loading_whole = False
            self._loading.release()

    def extent(self, query: Query) -> Extent:
        """On the snapshot when it holds every criterion (a min and max over arrays), else in SQL."""
        plan = _Plan.of(query)
        with self._transaction() as conn:
            columns = self._snapshot(conn, wait=True)
            if columns is None or not _columnar(query):
                return plan.extent(conn)
            mask, _ = columns.match(query, _criteria(query), _FullText(conn, self._remember))
            bbox, time = columns.extent(mask)
        return _extent(bbox, time)

    def count(self, source_id: str | None = None) -> int:
        conn = self._connection()
        if source_id is None:
            return conn.execute("SELECT count(*) FROM records").fetchone()[0]
        return conn.execute("SELECT count(*) FROM records WHERE source_id = ?", (source_id,)).fetchone()[0]

    def ids(self, source_id: str) -> set[str]:
        rows = self._connection().execute("SELECT id FROM records WHERE source_id = ?", (source_id,))
        return {record_id for (record_id,) in rows}

    def unvalidated(self, source_id: str, shapes: str) -> list[str]:
        sql = "SELECT id FROM records WHERE source_id = ? AND validated IS NOT ? ORDER BY seq"
        return [record_id for (record_id,) in self._connection().execute(sql, (source_id, shapes))]

    def duplicates_of(self, ids: Iterable[str]) -> dict[str, str]:
        sql = """
            SELECT r.id, p.id FROM records AS r JOIN records AS p ON p.num = r.duplicate_of
            WHERE r.id IN (SELECT value FROM json_each(?))
        """
        return dict(self._connection().execute(sql, (json.dumps(list(ids)),)).fetchall())

    def group(self, record_id: str) -> list[str]:
        sql = """
            WITH head AS (SELECT coalesce(duplicate_of, num) AS num FROM records WHERE id = ?)
            SELECT id FROM records, head WHERE records.num = head.num OR duplicate_of = head.num
            ORDER BY duplicate_of IS NOT NULL, seq
        """
        members = [member for (member,) in self._connection().execute(sql, (record_id,))]
        return members if len(members) > 1 else []

    def scan(self) -> Iterator[Record]:
        """One read transaction on a connection of its own, held until the generator ends: the
        snapshot of its first read, whatever the caller's thread does meanwhile (a ``rebuild`` fed
        from it, say). The record numbers are sorted by ``seq`` first (integers only), then the
        documents read ``_BATCH`` at a time."""
        with self._own_connection() as conn, _transaction(conn):
            nums = conn.execute("SELECT num FROM records ORDER BY seq")
            while batch := [num for (num,) in nums.fetchmany(_BATCH)]:
                docs = dict(
                    conn.execute(
                        "SELECT num, doc FROM documents WHERE num IN (SELECT value FROM json_each(?))",
                        (json.dumps(batch),),
                    )
                )
                for num in batch:
                    yield from_json(docs[num])

    # --- connections ----------------------------------------------------------------------------

    def _remember(self, phrase: str, matches: Remembered) -> None:
        """Save a phrase's ranked matches in a thread of its own: a search never waits for the write
        lock. One save a phrase at a time and ``_SAVES_PENDING`` at most: while the index is busy (a
        rebuild holds the write lock for minutes) the others are dropped; a later search finds them."""
        with self._lock:
            if self._closed or phrase in self._saving or len(self._saving) >= _SAVES_PENDING:
                return
            self._saving.add(phrase)
            if self._saver is None:
                self._saver = ThreadPoolExecutor(1, thread_name_prefix="terracat-matches")
            self._saver.submit(self._save_matches, phrase, matches)

    def _save_matches(self, phrase: str, matches: Remembered) -> None:
        """In the saving thread, whose connection serves nothing else: waiting ``_SAVE_WAIT_MS`` at
        most for the write lock. Not saved (a busy or read-only index) is not an error: it is logged."""
        try:
            conn = self._connection()
            conn.execute(f"PRAGMA busy_timeout = {_SAVE_WAIT_MS}")
            with _transaction(conn, "IMMEDIATE"):
                conn.execute(
                    _SAVE_MATCHES,
                    (
                        phrase,
                        _WEIGHTS_SAVED,
                        matches.generation,
                        matches.covered,
                        matches.nums.astype("<i8").tobytes(),
                        matches.frequencies.astype("<f4").tobytes(),
                    ),
                )
                conn.execute(_FORGET_MATCHES, (_SAVED_BYTES,))
        except sqlite3.Error as error:
            _logger.info("the matches of %s are not saved in %s: %s", phrase, self.path, error)
        except Exception:  # a bug: the executor would keep it in a future no one reads
            _logger.exception("the matches of %s are not saved in %s", phrase, self.path)
        finally:
            with self._lock:
                self._saving.discard(phrase)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            saver, self._saver = self._saver, None
        if saver is not None:
            saver.shutdown(wait=True, cancel_futures=True)  # the save under way ends; those waiting do not
        with self._lock:
            for handle in list(self._handles):
                handle.conn.close()
            self._handles.clear()

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection (SQLite connections must not be shared by threads mid-statement)."""
        handle: _Handle | None = getattr(self._local, "handle", None)
        if handle is None:
            handle = self._open()
            self._local.handle = handle
        return handle.conn

    @contextmanager
    def _own_connection(self) -> Iterator[sqlite3.Connection]:
        """A connection for one long transaction apart from the thread's (closed by ``close`` too)."""
        handle = self._open()
        try:
            yield handle.conn
        finally:
            self._handles.discard(handle)
            handle.conn.close()

    def _open(self) -> _Handle:
        with self._lock:
            if self._closed:
                raise sqlite3.ProgrammingError(f"the store {self.path} is closed")
            handle = _Handle(_connect(self.path, self._busy_timeout))
            self._handles.add(handle)
        return handle

    def _create_schema(self) -> None:
        """Create the schema in a new file, migrate an older file, refuse a file of another version
        rather than misread it. Only a new or old file takes the write lock: opening an index must not
        wait for a harvest's batch. Either is done in one transaction: a migration that fails leaves
        the file of the version it was, not half of the next one."""
        conn = self._connection()
        if _user_version(conn) < SCHEMA_VERSION:
            with self._transaction("IMMEDIATE"):
                version = _user_version(conn)  # another process may have done it meanwhile
                if version == 0:
                    for statement in _statements(_SCHEMA):
                        conn.execute(statement)
                if version in (0, 1):
                    _add_groups(conn)
                if version in (0, 1, 2):
                    _add_version_3(conn)
                if version in (0, 1, 2, 3):
                    for statement in _statements(_VERSION_4):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        version = _user_version(conn)
        if version != SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path}: index schema version {version}, not {SCHEMA_VERSION}; rebuild it"
            )

    def _transaction(self, mode: str = "") -> AbstractContextManager[sqlite3.Connection]:
        return _transaction(self._connection(), mode)


@contextmanager
def _transaction(conn: sqlite3.Connection, mode: str = "") -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` for writes: take the write lock up front rather than fail to upgrade."""
    conn.execute(f"BEGIN {mode}")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class _Handle:
    __slots__ = ("__weakref__", "conn")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn


def _connect(path: Path, busy_timeout: float) -> sqlite3.Connection:
    # check_same_thread=False only so that ``close`` may close other threads' connections.
    conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
    write_ahead_logging(conn, busy_timeout)
    conn.execute("PRAGMA synchronous = NORMAL")  # durable at checkpoints; never corrupt in WAL mode
    conn.execute("PRAGMA temp_store = MEMORY")  # sorts of large result sets
    conn.execute("PRAGMA cache_size = -32000")  # 32 MB
    # Python's SQLite may be built to zero every deleted page (secure_delete ON): a rebuild's first
    # step then rewrites the whole file (15 GB for 10^6 records) before writing anything new. FAST zeroes
    # deleted content only where the page is written anyway.
    conn.execute("PRAGMA secure_delete = FAST")
    # Checkpoint less often than every 4 MB: each checkpoint syncs the file, a cost per batch.
    conn.execute("PRAGMA wal_autocheckpoint = 10000")
    conn.execute(f"PRAGMA journal_size_limit = {64 << 20}")
    sqlite_filter.register_functions(conn)
    return conn


def _user_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def _statements(script: str) -> Iterator[str]:
    """Split the schema script (``executescript`` would commit our transaction) into statements."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer.strip()
            buffer = ""


# --- writing ------------------------------------------------------------------------------------


class _Row(msgspec.Struct, frozen=True):
    """What the index stores about one record, computed before the write transaction starts."""

    id: str
    source_id: str
    pole: str | None
    resource_type: str
    language: str | None
    title_key: str
    updated: str | None
    created: str | None
    boxes: list[tuple[float, float, float, float]]  # min_lon, max_lon, min_lat, max_lat
    times: list[tuple[str, str]]
    title_text: str
    abstract_text: str
    keyword_text: str
    other_text: str
    doc: bytes
    keys: list[str]
    themes: list[str]  # the record's concept URIs and their ancestors, each once
    fair_score: int | None
    fair_level: str | None
    validated: str | None
    facts: bytes  # catalogue.facets.Facts
    identifiers: list[tuple[str, str, int]]  # sqlite_filter.identifier_rows

    @classmethod
    def of(cls, record: Record, read_back: bool = True) -> _Row:
        # First, and read back: a record that would not decode must fail its batch, not every search.
        doc = to_json(record)
        if read_back:
            from_json(doc)
        boxes = [half for b in record.bboxes for half in _split(b.west, b.south, b.east, b.north)]
        if len(boxes) > MAX_BOXES:
            raise ValueError(f"record {record.id} has {len(boxes)} boxes; the index takes {MAX_BOXES}")
        return cls(
            id=record.id,
            source_id=record.source_id,
            pole=record.pole,
            resource_type=record.resource_type,
            language=record.language,
            title_key=sort_key(record.title.text),
            updated=_optional_instant(record.metadata_date),
            created=_optional_instant(record.created),
            boxes=boxes,
            times=_extents(record),
            title_text=_join(record.title.all_texts()),
            abstract_text=_join(record.abstract.all_texts() if record.abstract else []),
            keyword_text=_join(_keyword_texts(record)),
            other_text=_join(_other_texts(record)),
            doc=doc,
            keys=sorted(group_keys(record)),
            themes=_themes(record),
            fair_score=fair.score if (fair := _fair(record)) else None,
            fair_level=fair.level if fair else None,
            validated=_validated(record),
            facts=facets.encode(facets.facts(record)),
            identifiers=sqlite_filter.identifier_rows(record),
        )

    def record_columns(self, num: int, seq: int) -> tuple[object, ...]:
        starts = [start for start, _ in self.times]
        ends = [end for _, end in self.times]
        return (
            num,
            self.id,
            self.source_id,
            self.pole,
            self.resource_type,
            self.language,
            self.title_key,
            self.updated,
            self.created,
            min(starts, default=None),
            max(ends, default=None),
            len(self.times),
            len(self.boxes),
            seq,
            self.fair_score,
            self.fair_level,
            self.validated,
        )

    def text_columns(self, num: int) -> tuple[object, ...]:
        return (num, self.title_text, self.abstract_text, self.keyword_text, self.other_text)

    def document_columns(self, num: int) -> tuple[object, ...]:
        return (*self.text_columns(num), self.doc)


def _rows(records: Iterable[Record], read_back: bool = True) -> list[_Row]:
    """The rows of ``records``, the last of each id in the place of its first, as one write takes them."""
    return [_Row.of(record, read_back) for record in {r.id: r for r in records}.values()]


def _themes(record: Record) -> list[str]:
    return list(dict.fromkeys(uri for c in record.concepts for uri in (c.uri, *c.ancestors)))


def _fair(record: Record) -> FairReport | None:
    return record.quality.fair if record.quality else None


def _validated(record: Record) -> str | None:
    report = record.quality.validation if record.quality else None
    return report.shapes if report else None


def _write(conn: sqlite3.Connection, rows: list[_Row]) -> set[int]:
    """Insert or replace the records of ``rows`` (one row per id) in the open write transaction; the
    numbers of the records inserted, deleted or regrouped."""
    known = _known(conn, [row.id for row in rows])
    old_keys = _keys_of(conn, [r.num for r in known.values()])
    was_linked = _linked(conn, old_keys)
    # Numbered above every record ever numbered, replaced ones included, so that a new record's seq (its
    # first num) comes after every seq kept, and a snapshot never meets a number again.
    sql = "UPDATE generation SET last_num = last_num + ? RETURNING last_num - ? + 1"
    first = conn.execute(sql, (len(rows), len(rows))).fetchone()[0]
    _remove(conn, known)
    numbered = list(enumerate(rows, start=first))
    seqs = {row.id: known[row.id].seq if row.id in known else num for num, row in numbered}
    conn.executemany(_INSERT_RECORD, (row.record_columns(num, seqs[row.id]) for num, row in numbered))
    conn.executemany(_INSERT_DOCUMENT, (row.document_columns(num) for num, row in numbered))
    conn.executemany(_INSERT_TEXT, (row.text_columns(num) for num, row in numbered))
    _insert_extents(conn, numbered)
    conn.executemany(_INSERT_KEY, ((key, row.source_id, num) for num, row in numbered for key in row.keys))
    _insert_concepts(conn, [(num, row.themes) for num, row in numbered])
    conn.executemany("INSERT INTO record_facets VALUES (?, ?)", ((num, row.facts) for num, row in numbered))
    conn.executemany(_INSERT_IDENTIFIER, ((*i, num) for num, row in numbered for i in row.identifiers))
    new_keys = {key for row in rows for key in row.keys}
    regrouped = _regroup(conn, was_linked | _linked(conn, old_keys | new_keys))
    return {r.num for r in known.values()} | {num for num, _ in numbered} | regrouped


def _drop_indexes(conn: sqlite3.Connection, names: Sequence[str]) -> list[str]:
    """Drop the indexes ``names`` in the open write transaction; the statements that make them again,
    as the schema holds them (whichever version made the file)."""
    sql = "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
    sql += " AND name IN (SELECT value FROM json_each(?))"
    statements = dict(conn.execute(sql, (json.dumps(list(names)),)))
    for name in statements:
        conn.execute(f"DROP INDEX {name}")
    return list(statements.values())


def _next_generation(conn: sqlite3.Connection) -> int:
    """The generation the open write transaction makes."""
    return conn.execute("UPDATE generation SET n = n + 1 RETURNING n").fetchone()[0]


def _log(conn: sqlite3.Connection, generation: int, nums: set[int]) -> None:
    """Log the records a write changed, and forget the changes of generations older than
    ``_CHANGES_KEPT``: a snapshot that old loads again (every 16 generations: one delete for many)."""
    conn.executemany("INSERT INTO changes VALUES (?, ?)", ((generation, num) for num in nums))
    if generation % 16 == 0 and generation > _CHANGES_KEPT:
        oldest = generation - _CHANGES_KEPT
        conn.execute("DELETE FROM changes WHERE generation <= ?", (oldest,))
        conn.execute("UPDATE generation SET logged = max(logged, ?)", (oldest,))


class _Indexed(NamedTuple):
    """What a write needs to know of a record already indexed."""

    num: int
    n_boxes: int
    seq: int


def _known(conn: sqlite3.Connection, ids: list[str]) -> dict[str, _Indexed]:
    """The records among ``ids`` that are indexed, by id."""
    sql = "SELECT id, num, n_boxes, seq FROM records WHERE id IN (SELECT value FROM json_each(?))"
    return {row[0]: _Indexed(*row[1:]) for row in conn.execute(sql, (json.dumps(ids),))}


def _keys_of(conn: sqlite3.Connection, nums: Iterable[int]) -> set[str]:
    """The group keys the records ``nums`` hold."""
    return {key for _, key in conn.execute(_KEYS_HELD, (json.dumps(list(nums)),))}


def _remove(conn: sqlite3.Connection, known: dict[str, _Indexed]) -> None:
    """Delete records with everything indexed about them (their duplicates are left to ``_regroup``).
    Nothing to delete, nothing is run: in a rebuild, the tables it would look in have no index on
    ``num`` yet (``_DEFERRED_INDEXES``), and each statement would scan one."""
    if not known:
        return
    boxes = json.dumps([r.num << _BOX_BITS | k for r in known.values() for k in range(r.n_boxes)])
    nums = json.dumps([r.num for r in known.values()])
    conn.execute("DELETE FROM record_boxes WHERE id IN (SELECT value FROM json_each(?))", (boxes,))
    conn.execute(_DELETE_TEXT, (nums,))
    tables = ("record_times", "record_keys", "record_concepts", "record_facets", "record_identifiers")
    for table in (*tables, "documents", "records"):
        conn.execute(f"DELETE FROM {table} WHERE num IN (SELECT value FROM json_each(?))", (nums,))


def _insert_concepts(conn: sqlite3.Connection, themes: list[tuple[int, list[str]]]) -> None:
    """The ``record_concepts`` rows of records (``num``, concept URIs), their URIs numbered first."""
    uris = sorted({uri for _, uris in themes for uri in uris})
    if not uris:
        return
    conn.executemany("INSERT OR IGNORE INTO concepts (uri) VALUES (?)", ((uri,) for uri in uris))
    sql = "SELECT uri, id FROM concepts WHERE uri IN (SELECT value FROM json_each(?))"
    ids = dict(conn.execute(sql, (json.dumps(uris),)))
    conn.executemany(_INSERT_CONCEPT, ((ids[uri], num) for num, uris in themes for uri in uris))


def _insert_extents(conn: sqlite3.Connection, numbered: list[tuple[int, _Row]]) -> None:
    """The boxes and temporal extents of freshly inserted records."""
    conn.executemany(
        "INSERT INTO record_boxes VALUES (?, ?, ?, ?, ?)",
        ((num << _BOX_BITS | k, *box) for num, row in numbered for k, box in enumerate(row.boxes)),
    )
    conn.executemany(
        "INSERT OR IGNORE INTO record_times VALUES (?, ?, ?)",
        ((num, start, end) for num, row in numbered for start, end in row.times),
    )


# --- duplicate groups ---------------------------------------------------------------------------


def _add_groups(conn: sqlite3.Connection) -> None:
    """Version 1 -> 2: the group columns and table, the keys of every stored document, their groups.
    Version 1 kept no first ``num``, so the indexing order of a migrated file is the order its records
    were last written in: the best it knows."""
    for statement in _statements(_GROUPS):
        conn.execute(statement)
    conn.execute("UPDATE records SET seq = num")
    docs = conn.execute("SELECT r.num, r.source_id, d.doc FROM records AS r JOIN documents AS d USING (num)")
    conn.executemany(
        _INSERT_KEY,
        ((key, source_id, num) for num, source_id, doc in docs for key in group_keys(from_json(doc))),
    )
    _regroup(conn, _linked(conn, {key for (key,) in conn.execute("SELECT DISTINCT key FROM record_keys")}))


def _add_version_3(conn: sqlite3.Connection) -> None:
    """Version 2 -> 3: the FAIR columns, the concept, identifier and facet tables filled from every stored
    document, the generation counter, and the text of the records whose concepts carry ancestor labels
    indexed again (FTS5 forgets the text it indexed, read from ``documents`` before it is rewritten),
    ``_BATCH`` records at a time."""
    for statement in _statements(_VERSION_3):
        conn.execute(statement)
    conn.execute("UPDATE generation SET last_num = (SELECT coalesce(max(num), 0) FROM records)")
    sql = "SELECT num, other_text, doc FROM documents WHERE num > ? ORDER BY num LIMIT ?"
    last = 0
    while batch := conn.execute(sql, (last, _BATCH)).fetchall():
        last = batch[-1][0]
        records = [(num, text, from_json(doc)) for num, text, doc in batch]
        scored = [(num, fair, record) for num, _, record in records if (fair := _fair(record))]
        conn.executemany(
            "UPDATE records SET fair_score = ?, fair_level = ?, validated = ? WHERE num = ?",
            ((fair.score, fair.level, _validated(record), num) for num, fair, record in scored),
        )
        _insert_concepts(conn, [(num, _themes(record)) for num, _, record in records])
        conn.executemany(
            _INSERT_IDENTIFIER,
            ((*i, num) for num, _, record in records for i in sqlite_filter.identifier_rows(record)),
        )
        conn.executemany(
            "INSERT INTO record_facets VALUES (?, ?)",
            ((num, facets.encode(facets.facts(record))) for num, _, record in records),
        )
        stale = [(text, num) for num, old, record in records if (text := _join(_other_texts(record))) != old]
        if stale:
            nums = json.dumps([num for _, num in stale])
            conn.execute(_DELETE_TEXT, (nums,))
            conn.executemany("UPDATE documents SET other_text = ? WHERE num = ?", stale)
            conn.execute(_INSERT_TEXT_OF, (nums,))


def _linking(conn: sqlite3.Connection, keys: Iterable[str]) -> set[str]:
    """The keys among ``keys`` that link records: those held by two sources or more. A key held by one
    source only never groups its records, and is never followed: one source's thousands of records
    sharing a project URI cost a write no more than one record."""
    return {key for (key,) in conn.execute(_LINKING, (json.dumps(list(keys)),))}


def _linked(conn: sqlite3.Connection, keys: set[str]) -> set[int]:
    """The records linked to ``keys``, directly or through other records' keys, by linking keys: all
    the records whose groups a change of who holds ``keys`` may change."""
    nums: set[int] = set()
    seen: set[str] = set()
    while keys := keys - seen:
        seen |= keys
        found = {num for (num,) in conn.execute(_HOLDERS, (json.dumps(list(_linking(conn, keys))),))} - nums
        nums |= found
        keys = _keys_of(conn, found)
    return nums


def _regroup(conn: sqlite3.Connection, nums: set[int]) -> set[int]:
    """Evaluate again the groups of the records ``nums`` (whole linked sets: what ``_linked`` found
    before and after a change) and write the ``duplicate_of`` that changed. Evaluated in indexing
    order and whole, the groups are those an evaluation of the whole index would make, whatever the
    order of the writes that led to it. Returns the numbers of the records whose group changed."""
    if not nums:
        return set()
    params = (json.dumps(list(nums)),)
    held: dict[int, set[str]] = {}
    for num, key in conn.execute(_KEYS_HELD, params):
        held.setdefault(num, set()).add(key)
    linking = _linking(conn, {key for keys in held.values() for key in keys})
    sql = """
        SELECT num, source_id, duplicate_of FROM records WHERE num IN (SELECT value FROM json_each(?))
        ORDER BY seq
    """
    records = conn.execute(sql, params).fetchall()
    primaries = _primaries([(source_id, held.get(num, set()) & linking) for num, source_id, _ in records])
    primary_of = {records[duplicate][0]: records[primary][0] for duplicate, primary in primaries.items()}
    changed = [(primary_of.get(num), num) for num, _, current in records if primary_of.get(num) != current]
    conn.executemany("UPDATE records SET duplicate_of = ? WHERE num = ?", changed)
    return {num for _, num in changed}


def _primaries(records: list[tuple[str, set[str]]]) -> dict[int, int]:
    """``duplicate -> primary``, as positions in ``records``: ``(source_id, linking keys)`` in indexing
    order.

    Each record joins a group holding one of its keys that has no record of its source (for each key,
    the first group to have come to hold it; of those, the earliest), or starts a group. The other
    groups it so links merge into that one when they have no source in common with it, so a resource
    published by three sources is one group whichever pair was indexed first. A cursor per key and
    source passes each group once: a group that has a source keeps it, so it never takes that
    source's records again. The pass stays linear when thousands of one source's records share a key.
    """
    merged: dict[int, int] = {}  # a group's primary -> the primary of the group it merged into
    joined: dict[int, int] = {}  # record -> the primary of the group it joined (or itself)
    sources: dict[int, set[str]] = {}  # a group's primary -> the sources of its records
    keys_held: dict[int, set[str]] = {}  # a group's primary -> the keys of its records
    holding: dict[str, list[int]] = {}  # key -> the groups holding it, in the order they came to
    cursors: dict[tuple[str, str], int] = {}  # (key, source) -> first place in holding[key] to look

    def open_group(key: str, source_id: str) -> int | None:
        groups = holding.get(key, [])
        at = cursors.get((key, source_id), 0)
        while at < len(groups) and (groups[at] in merged or source_id in sources[groups[at]]):
            at += 1
        cursors[key, source_id] = at
        return groups[at] if at < len(groups) else None

    def hold(group: int, keys: set[str]) -> None:
        for key in keys - keys_held[group]:
            holding.setdefault(key, []).append(group)
        keys_held[group] |= keys

    def head(group: int) -> int:
        while group in merged:
            group = merged[group]
        return group

    for position, (source_id, keys) in enumerate(records):
        linked = sorted({group for key in keys if (group := open_group(key, source_id)) is not None})
        target = linked[0] if linked else position
        sources.setdefault(target, set()).add(source_id)
        keys_held.setdefault(target, set())
        hold(target, keys)
        for other in linked[1:]:
            if sources[target].isdisjoint(sources[other]):
                merged[other] = target
                sources[target] |= sources.pop(other)
                hold(target, keys_held.pop(other))
        joined[position] = target
    return {position: head(group) for position, group in joined.items() if head(group) != position}


def _join(texts: Iterable[str | None]) -> str:
    return "\n".join(t for t in texts if t)


def _keyword_texts(record: Record) -> Iterator[str]:
    for keyword in record.keywords:
        yield keyword.label
        yield from keyword.translations.values()
    for concept in record.concepts:
        yield from concept.labels.values()
    yield from record.topic_categories


def _other_texts(record: Record) -> Iterator[str | None]:
    # Each ancestor once: every GCMD concept of a record descends from "EARTH SCIENCE".
    yield from dict.fromkeys(label for concept in record.concepts for label in concept.ancestor_labels)
    yield from record.places
    yield from record.platforms
    yield from record.instruments
    for contact in record.contacts:
        yield contact.organisation
    for identifier in record.identifiers:
        yield identifier.code


# The blocks of combining diacritical marks (a regex is much faster than testing each character).
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def sort_key(title: str) -> str:
    """Titles sort case- and accent-insensitively, so "Écume" files among the e's, not after "z"."""
    return _COMBINING.sub("", unicodedata.normalize("NFKD", title.strip().casefold()))


# --- geometry -----------------------------------------------------------------------------------


def _split(west: float, south: float, east: float, north: float) -> list[tuple[float, float, float, float]]:
    """A box as one or two (min_lon, max_lon, min_lat, max_lat) in [-180, 180], split at the antimeridian.

    Out-of-range coordinates are clamped and swapped latitudes put in order: the R*Tree refuses
    min > max, and a source's sloppy box is better found roughly than not stored at all.
    """
    values = (west, south, east, north)
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
        return []
    west, east = (min(max(v, -180.0), 180.0) for v in (west, east))
    south, north = sorted(min(max(v, -90.0), 90.0) for v in (south, north))
    if west <= east:
        return [(west, east, south, north)]
    return [(west, 180.0, south, north), (-180.0, east, south, north)]


# --- time ---------------------------------------------------------------------------------------

_PARTIAL_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


@functools.lru_cache(maxsize=4096)  # a harvest repeats the same dates over and over
def instant(value: str, *, end: bool) -> str | None:
    """``value`` (``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD`` or an ISO 8601 timestamp) as sortable UTC text
    ``YYYY-MM-DDTHH:MM:SSZ``: the first second of the period it names, or its last when ``end``; so a
    record ending "2010" still intersects a query for December 2010. ``None`` if it is not a date."""
    text = value.strip()
    try:
        partial = _PARTIAL_DATE.fullmatch(text)
        if partial:
            return _period_bound(*partial.groups(), end=end)
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return _format(parsed.year, parsed.month, parsed.day, parsed.hour, parsed.minute, parsed.second)


def _period_bound(year: str, month: str | None, day: str | None, *, end: bool) -> str:
    y = int(year)
    m = int(month) if month else (12 if end else 1)
    last_day = calendar.monthrange(y, m)[1]  # raises ValueError on a month out of range
    d = int(day) if day else (last_day if end else 1)
    if not 1 <= d <= last_day:
        raise ValueError(f"no day {d} in {y}-{m:02d}")
    return _format(y, m, d, 23, 59, 59) if end else _format(y, m, d, 0, 0, 0)


def _format(year: int, month: int, day: int, hour: int, minute: int, second: int) -> str:
    # Not strftime: it does not zero-pad years before 1000 on every platform.
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}Z"


def _optional_instant(value: str | None) -> str | None:
    return instant(value, end=False) if value else None


def _extents(record: Record) -> list[tuple[str, str]]:
    """(start, end) of each temporal extent, open or unreadable ends as sentinels; an extent with
    neither end known says nothing and is left out."""
    out = []
    for extent in record.temporal:
        start = instant(extent.start, end=False) if extent.start else None
        end = instant(extent.end, end=True) if extent.end else None
        if start or end:
            out.append((start or OPEN_START, end or OPEN_END))
    return out


# --- queries ------------------------------------------------------------------------------------


class _Plan(msgspec.Struct):
    """The SQL of a search: the tables, the ANDed conditions and their parameters, the order.

    With ``q`` the FTS matches drive the query: filters test their rowid (``key``) before the
    record row is read. Counting the matches of ``q`` alone is cheap in the FTS index; with other
    filters the page query counts them too (a window count) rather than match and filter twice.
    """

    tables: str
    key: str  # the expression of a candidate's record number
    params: dict[str, object]
    where: list[str] = []  # the query's criteria
    order: str = ""
    fts: bool = False  # the FTS matches drive the query
    hide_duplicates: bool = False

    @classmethod
    def of(cls, query: Query) -> _Plan:
        if query.limit < 0 or query.offset < 0:
            raise QueryError("limit and offset must not be negative")
        plan = cls._full_text(query) if query.q else cls(tables="records AS r", key="r.num", params={})
        if query.bbox is not None:
            plan._bbox(query.bbox)
        if query.time is not None:
            plan._time(*query.time)
        plan._equal("id", query.ids)
        plan._equal("resource_type", query.types)
        for name, values in query.properties.items():
            if name == _THEME:
                plan._theme(values)
            elif name in _PROPERTY_COLUMNS:
                plan._equal(_PROPERTY_COLUMNS[name], values)
            elif name in sqlite_filter.FACET_PROPERTIES:
                if values:
                    plan.where.append(sqlite_filter.facet_where(name, values, plan.key, plan._param))
            else:
                raise QueryError(f"unknown property {name!r}; known: {', '.join(EQUALITY_PROPERTIES)}")
        if query.external_ids:
            plan.where.append(sqlite_filter.external_ids_where(query.external_ids, plan.key, plan.params))
        if query.filter is not None:
            plan.where.append(sqlite_filter.filter_where(query.filter, plan.key, plan.params))
        plan.order = _order(query, by_index=not (plan.where or query.q))
        # Apart from ``where``, which decides whether a sort index is walked and how matches are counted:
        # a test of the record row, which every plan reads for each candidate anyway, changes neither.
        plan.hide_duplicates = not query.ids
        return plan

    @classmethod
    def _full_text(cls, query: Query) -> _Plan:
        # bm25() works only in a plain query of the FTS table, hence the subquery.
        score = f", bm25(documents_fts, {', '.join(map(str, _WEIGHTS))}) AS score" if _ranked(query) else ""
        matches = f"SELECT rowid AS num{score} FROM documents_fts WHERE documents_fts MATCH :match"
        return cls(
            tables=f"({matches}) AS m JOIN records AS r ON r.num = m.num",
            # Unary + keeps SQLite from probing FTS5 by rowid, which reruns the match per probe.
            key="+m.num",
            # No searchable word in q (only punctuation, say): the empty phrase matches nothing.
            params={"match": fts_match(query.q) or '""'},
            fts=True,
        )

    def _bbox(self, bbox: tuple[float, float, float, float]) -> None:
        parts = _split(*bbox)
        if not parts:
            raise QueryError(f"bbox must be finite numbers: {bbox!r}")
        selects = []
        for i, part in enumerate(parts):
            selects.append(
                f"SELECT id >> {_BOX_BITS} FROM record_boxes WHERE min_lon <= :e{i} AND max_lon >= :w{i}"
                f" AND min_lat <= :n{i} AND max_lat >= :s{i}"
            )
            self.params.update(zip((f"w{i}", f"e{i}", f"s{i}", f"n{i}"), part, strict=True))
        self.where.append(f"{self.key} IN ({' UNION ALL '.join(selects)})")

    def _time(self, start: str | None, end: str | None) -> None:
        """Intersects: some extent starts before the query ends and ends after it starts."""
        conditions = []
        if end is not None:
            self.params["t_end"] = _query_instant(end, end=True)
            conditions.append("{t}.time_start <= :t_end")
        if start is not None:
            self.params["t_start"] = _query_instant(start, end=False)
            conditions.append("{t}.time_end >= :t_start")
        if not conditions:  # (None, None): any record with a temporal extent
            conditions.append("{t}.time_start IS NOT NULL")
        test = " AND ".join(conditions)
        # The union of the extents first, scanned (+): a range on one end of an interval selects
        # anything from nothing to all, and the planner cannot tell which.
        self.where.append(test.format(t="+r"))
        self.where.append(
            f"(r.n_times = 1 OR EXISTS (SELECT 1 FROM record_times AS x WHERE x.num = r.num"
            f" AND {test.format(t='x')}))"
        )

    def _theme(self, uris: list[str]) -> None:
        """Records having any of the concepts ``uris``, or a narrower one (their ancestors are rows too)."""
        if uris:
            self.params[_THEME] = json.dumps(list(uris))
            self.where.append(
                f"{self.key} IN (SELECT num FROM record_concepts WHERE concept IN"
                f" (SELECT id FROM concepts WHERE uri IN (SELECT value FROM json_each(:{_THEME}))))"
            )

    def _param(self, value: object) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def _equal(self, column: str, values: list[str]) -> None:
        if values:
            self.params[column] = json.dumps(list(values))
            self.where.append(f"r.{column} IN (SELECT value FROM json_each(:{column}))")

    def matches(self, conn: sqlite3.Connection) -> list[int]:
        """The record numbers of every match (what facets count when the search ran in SQL)."""
        conditions = [*self.where, "r.duplicate_of IS NULL"] if self.hide_duplicates else self.where
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        return [num for (num,) in conn.execute(f"SELECT r.num FROM {self.tables}{where}", self.params)]

    def run(self, conn: sqlite3.Connection, limit: int, offset: int) -> tuple[list[int], int]:
        """The record numbers of the page, and how many records match in all."""
        conditions = [*self.where, "r.duplicate_of IS NULL"] if self.hide_duplicates else self.where
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        page = f"FROM {self.tables}{where} ORDER BY {self.order} LIMIT :limit OFFSET :offset"
        params = {**self.params, "limit": limit, "offset": offset}
        if self.fts and self.where:
            rows = conn.execute(f"SELECT r.num, count(*) OVER () {page}", params).fetchall()
            if rows:
                return [num for num, _ in rows], rows[0][1]
            nums = []  # nothing matched, or the page is past the end or empty: count apart
        else:
            nums = [num for (num,) in conn.execute(f"SELECT r.num {page}", params)]
            if len(nums) < limit and (nums or offset == 0):
                return nums, offset + len(nums)
        # Without criteria a query names no ids, so duplicates are left out of the counts below.
        if self.where:
            counted = f"SELECT count(*) FROM {self.tables}{where}"
        elif self.fts:  # no record row is read: each match is looked up among the (few) duplicates instead
            counted = (
                "SELECT count(*) FROM documents_fts WHERE documents_fts MATCH :match"
                f" AND +rowid NOT IN ({_DUPLICATES})"
            )
        else:  # a whole table is counted from its b-tree without reading the rows a test would read
            counted = f"SELECT (SELECT count(*) FROM records) - (SELECT count(*) FROM ({_DUPLICATES}))"
        return nums, conn.execute(counted, self.params).fetchone()[0]

    def extent(self, conn: sqlite3.Connection) -> Extent:
        """Aggregates over the boxes and time spans of every match (each a scan of the matches: this
        serves catalogue descriptions, not searches)."""
        conditions = [*self.where, "r.duplicate_of IS NULL"] if self.hide_duplicates else self.where
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        matches = f"FROM {self.tables}{where}"
        west, south, east, north = conn.execute(
            "SELECT min(min_lon), min(min_lat), max(max_lon), max(max_lat) FROM record_boxes"
            f" WHERE id >> {_BOX_BITS} IN (SELECT r.num {matches})",
            self.params,
        ).fetchone()
        times = f"SELECT min(r.time_start), max(r.time_end) {matches}"
        start, end = conn.execute(times, self.params).fetchone()
        return _extent(
            None if west is None else (west, south, east, north), None if start is None else (start, end)
        )


def _extent(bbox: tuple[float, float, float, float] | None, time: tuple[str, str] | None) -> Extent:
    """The ``Extent`` of a box and a time span as the index holds it (open ends as sentinels)."""
    if time is None:
        return Extent(bbox=bbox)
    start, end = time
    return Extent(bbox=bbox, time=(start if start != OPEN_START else None, end if end != OPEN_END else None))


def _check_facets(query: Query) -> None:
    for request in query.facets:
        if request.name not in FACETS:
            raise QueryError(f"unknown facet {request.name!r}; facets: {', '.join(FACETS)}")
        if not 1 <= request.size <= MAX_BUCKETS:
            raise QueryError(f"facet {request.name} must have 1 to {MAX_BUCKETS} buckets, not {request.size}")
        if request.order not in FACET_ORDERS:
            raise QueryError(f"unknown facet order {request.order!r}; orders: {', '.join(FACET_ORDERS)}")


def _columnar(query: Query) -> bool:
    """Whether the snapshot holds every criterion of ``query``."""
    return query.filter is None and not query.external_ids


def _criteria(query: Query) -> Criteria:
    """The query's criteria normalised as the SQL plan normalises them (which has checked them)."""
    time = None
    if query.time is not None:
        start, end = query.time
        time = (
            _query_instant(start, end=False) if start is not None else None,
            _query_instant(end, end=True) if end is not None else None,
        )
    return Criteria(
        phrases=fts_phrases(query.q),
        boxes=_split(*query.bbox) if query.bbox is not None else [],
        time=time,
        sort_columns=[(_SORT_COLUMNS[sort.field], sort.ascending) for sort in query.sortby],
    )


class _FullText:
    """FTS5 as the columnar snapshot searches it (``columns.FullText``), in ``conn``'s read transaction;
    ``save`` saves remembered matches (``SQLiteStore._remember``)."""

    def __init__(self, conn: sqlite3.Connection, save: Callable[[str, Remembered], None]) -> None:
        self.conn = conn
        self.save = save

    def matches(self, phrase: str, ranked: bool, after: int) -> tuple[np.ndarray, np.ndarray | None]:
        if not ranked:
            sql = "SELECT rowid FROM documents_fts WHERE documents_fts MATCH ? AND rowid > ?"
            return np.fromiter((n for (n,) in self.conn.execute(sql, (phrase, after))), dtype=np.int64), None
        weights = ", ".join(map(str, _WEIGHTS))
        sql = (
            f"SELECT rowid, bm25(documents_fts, {weights}) FROM documents_fts WHERE documents_fts MATCH ?"
            " AND rowid > ?"
        )
        # Straight from the cursor into one array: no list of rows (a fifth less time for 360 000 rows).
        found = self.conn.execute(sql, (phrase, after))
        rows = np.fromiter(found, dtype=[("num", np.int64), ("score", np.float64)])
        return np.ascontiguousarray(rows["num"]), np.ascontiguousarray(rows["score"])

    def totals(self) -> tuple[int, int]:
        """From FTS5's averages record (row 1 of its data table): the rows, then the tokens of each column."""
        row = self.conn.execute("SELECT block FROM documents_fts_data WHERE id = 1").fetchone()
        values = varints(row[0]) if row else []
        return (int(values[0]), int(values[1:].sum())) if len(values) else (0, 0)

    def remembered(self, phrase: str) -> Remembered | None:
        sql = (
            "SELECT generation, covered, nums, frequencies FROM phrase_matches"
            " WHERE phrase = ? AND weights = ?"
        )
        row = self.conn.execute(sql, (phrase, _WEIGHTS_SAVED)).fetchone()
        if row is None:
            return None
        generation, covered, nums, frequencies = row
        return Remembered(
            np.frombuffer(nums, dtype="<i8").astype(np.int64),
            np.frombuffer(frequencies, dtype="<f4").astype(np.float64),
            covered,
            generation,
        )

    def remember(self, phrase: str, matches: Remembered) -> None:
        self.save(phrase, matches)


def _facets_in_sql(
    conn: sqlite3.Connection, plan: _Plan, columns: Columns | None, query: Query
) -> list[Facet]:
    """Facets of a search made in SQL: counted on the snapshot when there is one, else on a snapshot of
    the matches alone."""
    nums = plan.matches(conn)
    if columns is not None:
        return columns.facets(np.isin(columns.nums, nums), query.facets)
    generation = conn.execute("SELECT n FROM generation").fetchone()[0]
    matches = Columns.load(conn, generation, nums)
    return matches.facets(np.ones(matches.n, dtype=bool), query.facets)


def _query_instant(value: str, *, end: bool) -> str:
    normalised = instant(value, end=end)
    if normalised is None:
        raise QueryError(f"datetime {value!r} is not an RFC 3339 date or date-time")
    return normalised


def _order(query: Query, *, by_index: bool) -> str:
    """ORDER BY for the query: its sort keys (NULLs last), else relevance for ``q``, else id; then
    id, so that equal keys keep one order from page to page.

    Only an unfiltered query may walk a sort index. With a filter, unary + makes SQLite sort the
    matches instead: walking the index, it would test rows until enough pass, and when the filter
    correlates with the sort key (a pole's titles all start alike) that is most of the table.
    """
    column = "r.{}" if by_index else "+r.{}"
    terms = []
    for sort in query.sortby:
        if sort.field not in _SORT_COLUMNS:
            raise QueryError(f"cannot sort by {sort.field!r}; sortable fields: {', '.join(SORTABLES)}")
        direction = "ASC" if sort.ascending else "DESC"
        terms.append(f"{column.format(_SORT_COLUMNS[sort.field])} {direction} NULLS LAST")
    if _ranked(query):
        terms.append("m.score")
    if not any(sort.field == "id" for sort in query.sortby):
        terms.append(column.format("id"))
    return ", ".join(terms)


def _ranked(query: Query) -> bool:
    return bool(query.q) and not query.sortby


def fts_match(q: list[list[str]]) -> str | None:
    """An FTS5 expression for OGC ``q``: each alternative one quoted phrase, ORed.

    Quoting every alternative whole (``"` doubled``) leaves no FTS syntax to the user: ``*``, ``NEAR(``,
    ``AND``, ``-``, ``:`` are text the tokeniser drops or indexes as words. NULs are removed (they end
    the expression early) and unencodable surrogates replaced.
    """
    return " OR ".join(fts_phrases(q)) or None


def fts_phrases(q: list[list[str]]) -> list[str]:
    """The quoted FTS5 phrases of ``fts_match``, each once, in order."""
    phrases = []
    for alternative in q:
        text = " ".join(alternative).replace("\x00", " ")
        text = text.encode("utf-8", "replace").decode("utf-8")
        if text.strip():
            phrases.append('"' + text.replace('"', '""') + '"')
    return list(dict.fromkeys(phrases))
