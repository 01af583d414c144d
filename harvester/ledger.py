"""The harvest ledger: raw records as received, the run history and every record's status per run.

It is the harvester's own memory, kept apart from the index (``catalogue.store``): whatever backend
indexes the records (SQLite or Elasticsearch), the ledger keeps the raw bytes (so ``reindex`` can
re-normalise without re-harvesting), the content digest of each record (so an unchanged record costs
no parsing or indexing), and why each rejected record was rejected. One SQLite file in WAL mode.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from harvester.raw import RawRecord

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    source_id TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT,
    status TEXT NOT NULL,            -- running | succeeded | failed
    listing_complete INTEGER NOT NULL DEFAULT 0,
    matched INTEGER,                 -- the source's own total (numberOfRecordsMatched)
    counts TEXT NOT NULL DEFAULT '{}', -- JSON {status: n}
    error TEXT,
    kind TEXT NOT NULL DEFAULT 'full', -- full | incremental (changes since the watermark)
    resumed_from INTEGER,            -- the run whose interrupted listing this run continued
    notes TEXT NOT NULL DEFAULT '[]' -- JSON [text]: withheld deletions, protocol fallbacks
);
CREATE INDEX IF NOT EXISTS runs_source ON runs (source_id, id);
CREATE TABLE IF NOT EXISTS raw_records (
    record_id TEXT PRIMARY KEY,
    source_id TEXT NOT NULL,
    source_key TEXT NOT NULL,        -- the protocol's id hint (file path, OAI id), else the native id
    format TEXT NOT NULL,
    digest TEXT NOT NULL,
    content BLOB NOT NULL,           -- zlib-compressed bytes as received (ISO XML shrinks about 5x)
    datestamp TEXT,
    run_id INTEGER NOT NULL          -- the run that last changed it
);
CREATE INDEX IF NOT EXISTS raw_records_source ON raw_records (source_id, source_key);
CREATE TABLE IF NOT EXISTS record_events (
    run_id INTEGER NOT NULL,
    record_id TEXT,                  -- NULL when the record was rejected before it had an id
    locator TEXT NOT NULL,
    status TEXT NOT NULL,            -- added | updated | unchanged | rejected | deleted
    code TEXT,                       -- rejection reason code
    message TEXT
);
CREATE INDEX IF NOT EXISTS record_events_run ON record_events (run_id, status);
CREATE TABLE IF NOT EXISTS watermarks (
    source_id TEXT PRIMARY KEY,
    watermark TEXT NOT NULL          -- when the last complete listing began: the next one asks from here
);
CREATE TABLE IF NOT EXISTS listings (  -- a listing under way or interrupted, one per source at most
    source_id TEXT PRIMARY KEY,
    run_id INTEGER NOT NULL,         -- the run that began it
    kind TEXT NOT NULL,              -- full | incremental
    since TEXT,                      -- what it asks for (incremental listings)
    watermark TEXT NOT NULL,         -- becomes the source's watermark when the listing completes
    checkpoint TEXT,                 -- JSON: where to continue after the last committed page
    received INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS unmapped (  -- keywords of indexed records that no thesaurus concept matched
    source_id TEXT NOT NULL,
    record_id TEXT NOT NULL,
    label TEXT NOT NULL,
    thesaurus TEXT NOT NULL          -- the thesaurus the record cites for it; '' for a free keyword
);
CREATE INDEX IF NOT EXISTS unmapped_record ON unmapped (record_id);
CREATE INDEX IF NOT EXISTS unmapped_source ON unmapped (source_id, label);
CREATE TABLE IF NOT EXISTS seen (     -- the records the open listing of a source has seen so far
    source_id TEXT NOT NULL,
    record_id TEXT NOT NULL,
    PRIMARY KEY (source_id, record_id)
) WITHOUT ROWID;
"""
# Columns added to ``runs`` after the first release of the ledger: (name, definition).
_RUN_COLUMNS = (
    ("kind", "TEXT NOT NULL DEFAULT 'full'"),
    ("resumed_from", "INTEGER"),
    ("notes", "TEXT NOT NULL DEFAULT '[]'"),
)


@dataclass(slots=True)
class Known:
    """What the ledger remembers of a record already harvested from a source."""

    record_id: str
    digest: str


@dataclass(slots=True)
class Listing:
    """A listing under way or interrupted: what it asks, and where to continue."""

    run_id: int
    kind: str  # full | incremental
    since: str | None
    watermark: str
    checkpoint: dict[str, Any] | None
    received: int


@dataclass(slots=True)
class Event:
    record_id: str | None
    locator: str
    status: str
    code: str | None = None
    message: str | None = None


class RunInfo(msgspec.Struct, kw_only=True):
    id: int
    source_id: str
    started: str
    finished: str | None
    status: str
    listing_complete: bool
    matched: int | None
    counts: dict[str, int]
    error: str | None
    kind: str = "full"
    resumed_from: int | None = None
    notes: list[str] = []


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Ledger:
    """The ledger file, with one SQLite connection per thread: a run's index writer thread and the runs
    of other sources (harvested in parallel) each get their own, and SQLite's WAL lets them read while
    one writes."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        db = self._db
        db.executescript(_SCHEMA)
        present = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
        for name, definition in _RUN_COLUMNS:
            if name not in present:
                db.execute(f"ALTER TABLE runs ADD COLUMN {name} {definition}")

    @property
    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=60)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
            with self._connections_lock:
                self._connections.append(db)
        return db

    def close(self) -> None:
        with self._connections_lock:
            for db in self._connections:
                db.close()
            self._connections.clear()
        self._local = threading.local()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # runs -----------------------------------------------------------------------------------------

    def start_run(self, source_id: str) -> int:
        """A new run of ``source_id``. Runs left 'running' by a process that died (the caller holds the
        source's lock, so none is really running) are marked 'interrupted' first."""
        with self._transaction() as db:
            db.execute(
                "UPDATE runs SET status = 'interrupted' WHERE source_id = ? AND status = 'running'",
                (source_id,),
            )
            cursor = db.execute(
                "INSERT INTO runs (source_id, started, status) VALUES (?, ?, 'running')",
                (source_id, utc_now()),
            )
        return int(cursor.lastrowid or 0)

    def finish_run(
        self,
        run_id: int,
        *,
        status: str,
        listing_complete: bool,
        matched: int | None,
        counts: dict[str, int],
        error: str | None,
        kind: str = "full",
        resumed_from: int | None = None,
        notes: list[str] | None = None,
    ) -> None:
        self._db.execute(
            "UPDATE runs SET finished = ?, status = ?, listing_complete = ?, matched = ?, counts = ?,"
            " error = ?, kind = ?, resumed_from = ?, notes = ? WHERE id = ?",
            (
                utc_now(),
                status,
                int(listing_complete),
                matched,
                msgspec.json.encode(counts),
                error,
                kind,
                resumed_from,
                msgspec.json.encode(notes or []),
                run_id,
            ),
        )

    def run(self, run_id: int) -> RunInfo | None:
        """One run by its id (``terracat run-show``)."""
        runs = self._runs(" WHERE id = ?", (run_id,))
        return runs[0] if runs else None

    def runs(self, source_id: str | None = None, limit: int = 20) -> list[RunInfo]:
        where, args = (" WHERE source_id = ?", (source_id,)) if source_id else ("", ())
        return self._runs(where + " ORDER BY id DESC LIMIT ?", (*args, limit))

    def _runs(self, clauses: str, args: tuple[object, ...]) -> list[RunInfo]:
        sql = (
            "SELECT id, source_id, started, finished, status, listing_complete, matched, counts, error,"
            " kind, resumed_from, notes FROM runs"
        )
        rows = self._db.execute(sql + clauses, args).fetchall()
        return [
            RunInfo(
                id=r[0],
                source_id=r[1],
                started=r[2],
                finished=r[3],
                status=r[4],
                listing_complete=bool(r[5]),
                matched=r[6],
                counts=msgspec.json.decode(r[7]),
                error=r[8],
                kind=r[9],
                resumed_from=r[10],
                notes=msgspec.json.decode(r[11]),
            )
            for r in rows
        ]

    def events(
        self, run_id: int, status: str | None = None, *, limit: int | None = None, offset: int = 0
    ) -> list[Event]:
        """The record statuses of a run in the order they were filed; a page of them with ``limit``."""
        sql = "SELECT record_id, locator, status, code, message FROM record_events WHERE run_id = ?"
        args: tuple[object, ...] = (run_id,)
        if status:
            sql += " AND status = ?"
            args = (run_id, status)
        sql += " ORDER BY rowid LIMIT ? OFFSET ?"
        return [Event(*row) for row in self._db.execute(sql, (*args, -1 if limit is None else limit, offset))]

    # records --------------------------------------------------------------------------------------

    def known(self, source_id: str) -> dict[str, Known]:
        """Every record of a source, by ledger key (the protocol's id hint, else the record's native id):
        loaded once per run to find unchanged records."""
        rows = self._db.execute(
            "SELECT source_key, record_id, digest FROM raw_records WHERE source_id = ?", (source_id,)
        )
        return {native: Known(record_id, digest) for native, record_id, digest in rows}

    def raw(self, record_id: str) -> RawRecord | None:
        """The raw record last received for a record id, bytes as the source sent them."""
        row = self._db.execute(
            "SELECT record_id, source_id, format, content, source_key, datestamp FROM raw_records"
            " WHERE record_id = ?",
            (record_id,),
        ).fetchone()
        return None if row is None else _raw(*row)

    def raw_records(self, batch_size: int = 500) -> Iterator[tuple[RawRecord, str | None]]:
        """Every raw record held (``locator`` is its record id), in record id order, with when the run
        that stored it started: what ``terracat reindex`` re-normalises. Read ``batch_size`` at a time,
        each batch its own statement, so the ledger can be written between two."""
        sql = (
            "SELECT r.record_id, r.source_id, r.format, r.content, r.source_key, r.datestamp, runs.started"
            " FROM raw_records AS r LEFT JOIN runs ON runs.id = r.run_id"
            " WHERE r.record_id > ? ORDER BY r.record_id LIMIT ?"
        )
        last = ""
        while rows := self._db.execute(sql, (last, batch_size)).fetchall():
            for *row, started in rows:
                yield _raw(*row), started
            last = rows[-1][0]

    def source_ids(self) -> list[str]:
        """Every source the ledger has a run of."""
        return [row[0] for row in self._db.execute("SELECT DISTINCT source_id FROM runs ORDER BY source_id")]

    def save(
        self,
        run_id: int,
        changed: Iterable[tuple[str, str, RawRecord]],
        events: Iterable[Event],
        *,
        source_id: str | None = None,
        seen: Iterable[str] = (),
        removed: Iterable[str] = (),
        checkpoint: dict[str, Any] | None = None,
        received: int = 0,
        unmapped: Iterable[tuple[str, str, str]] = (),
    ) -> None:
        """Commit one batch in one transaction: the raw bytes of added/updated records (record id, ledger
        key, raw; ``known`` returns them by that key), the statuses, the raw records of ``removed``
        records forgotten, and for the source's open listing the records it has seen, how many it
        received and the checkpoint after the batch. A run killed at any moment therefore resumes from
        a checkpoint whose records are all committed. ``unmapped`` (record id, label, cited thesaurus)
        replaces what was reported for the changed records."""
        events = list(events)
        changed = list(changed)
        removed = list(removed)
        with self._transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO raw_records"
                " (record_id, source_id, source_key, format, digest, content, datestamp, run_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        rid,
                        raw.source_id,
                        key,
                        raw.format,
                        raw.digest,
                        zlib.compress(raw.content, 1),
                        raw.datestamp,
                        run_id,
                    )
                    for rid, key, raw in changed
                ],
            )
            db.executemany("DELETE FROM raw_records WHERE record_id = ?", [(rid,) for rid in removed])
            _replace_unmapped(db, removed + [c[0] for c in changed], unmapped)
            db.executemany(
                "INSERT INTO record_events (run_id, record_id, locator, status, code, message)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(run_id, e.record_id, e.locator, e.status, e.code, e.message) for e in events],
            )
            if source_id is not None:
                db.executemany(
                    "INSERT OR IGNORE INTO seen (source_id, record_id) VALUES (?, ?)",
                    [(source_id, rid) for rid in seen],
                )
                db.execute(
                    "UPDATE listings SET received = received + ?,"
                    " checkpoint = coalesce(?, checkpoint) WHERE source_id = ?",
                    (received, None if checkpoint is None else msgspec.json.encode(checkpoint), source_id),
                )

    def set_unmapped(self, record_ids: Iterable[str], unmapped: Iterable[tuple[str, str, str]]) -> None:
        """Replace what is reported for records ``record_ids`` by ``unmapped`` (record id, label, cited
        thesaurus), in one transaction: how ``reindex`` reports what it re-normalised."""
        with self._transaction() as db:
            _replace_unmapped(db, list(record_ids), unmapped)

    def unmapped(self, source_id: str | None = None, limit: int = 50) -> list[tuple[str, str, str, int]]:
        """The keywords no thesaurus concept matched, most frequent first: (source, label, cited
        thesaurus, number of records), for pole administrators to curate the thesaurus."""
        sql = "SELECT source_id, label, thesaurus, count(*) AS n FROM unmapped"
        args: tuple[object, ...] = ()
        if source_id:
            sql += " WHERE source_id = ?"
            args = (source_id,)
        sql += " GROUP BY source_id, label, thesaurus ORDER BY n DESC, source_id, label LIMIT ?"
        return [tuple(row) for row in self._db.execute(sql, (*args, limit))]  # type: ignore[misc]

    # listings -------------------------------------------------------------------------------------

    def watermark(self, source_id: str) -> str | None:
        """When the last complete listing of the source began (``None``: never listed completely)."""
        row = self._db.execute(
            "SELECT watermark FROM watermarks WHERE source_id = ?", (source_id,)
        ).fetchone()
        return row[0] if row else None

    def listing(self, source_id: str) -> Listing | None:
        """The source's listing under way or interrupted, if any."""
        row = self._db.execute(
            "SELECT run_id, kind, since, watermark, checkpoint, received FROM listings WHERE source_id = ?",
            (source_id,),
        ).fetchone()
        if row is None:
            return None
        run_id, kind, since, watermark, checkpoint, received = row
        return Listing(
            run_id, kind, since, watermark, msgspec.json.decode(checkpoint) if checkpoint else None, received
        )

    def begin_listing(
        self, source_id: str, run_id: int, kind: str, since: str | None, watermark: str
    ) -> None:
        """Start a new listing of the source, forgetting any interrupted one and what it had seen."""
        with self._transaction() as db:
            db.execute("DELETE FROM seen WHERE source_id = ?", (source_id,))
            db.execute(
                "INSERT OR REPLACE INTO listings"
                " (source_id, run_id, kind, since, watermark, checkpoint, received)"
                " VALUES (?, ?, ?, ?, ?, NULL, 0)",
                (source_id, run_id, kind, since, watermark),
            )

    def set_listing_watermark(self, source_id: str, watermark: str) -> None:
        """Use the server's own clock (OAI-PMH responseDate) as the watermark of the open listing."""
        self._db.execute("UPDATE listings SET watermark = ? WHERE source_id = ?", (watermark, source_id))

    def seen(self, source_id: str) -> set[str]:
        """The ids of the records the source's open listing has seen, over every run that worked on it."""
        rows = self._db.execute("SELECT record_id FROM seen WHERE source_id = ?", (source_id,))
        return {row[0] for row in rows}

    def end_listing(self, source_id: str, watermark: str) -> None:
        """The listing completed: its start becomes the source's watermark and its state is dropped."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO watermarks (source_id, watermark) VALUES (?, ?)",
                (source_id, watermark),
            )
            db.execute("DELETE FROM listings WHERE source_id = ?", (source_id,))
            db.execute("DELETE FROM seen WHERE source_id = ?", (source_id,))


def _raw(
    record_id: str, source_id: str, format_: str, content: bytes, source_key: str, datestamp: str | None
) -> RawRecord:
    return RawRecord(
        source_id=source_id,
        format=format_,
        content=zlib.decompress(content),
        native_id=source_key,
        datestamp=datestamp,
        locator=record_id,
    )


def _replace_unmapped(
    db: sqlite3.Connection, record_ids: list[str], unmapped: Iterable[tuple[str, str, str]]
) -> None:
    """Forget the unmapped keywords of ``record_ids``, then add ``unmapped`` (record id, label, cited
    thesaurus) under the source of the record's raw."""
    db.executemany("DELETE FROM unmapped WHERE record_id = ?", [(rid,) for rid in record_ids])
    db.executemany(
        "INSERT INTO unmapped (source_id, record_id, label, thesaurus)"
        " SELECT source_id, ?, ?, ? FROM raw_records WHERE record_id = ?",
        [(rid, label, thesaurus, rid) for rid, label, thesaurus in unmapped],
    )
