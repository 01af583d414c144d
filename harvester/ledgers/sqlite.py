"""The SQLite ledger: one file in WAL mode, with one connection per thread (a run's index writer thread
and the runs of other sources, harvested in parallel, each get their own; WAL lets them read while one
writes). Each ``save`` is one transaction. A source's lock is a file lock beside the ledger, so that it
holds across processes and dies with its holder."""

from __future__ import annotations

import fcntl
import sqlite3
import threading
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec

from catalogue.stores.wal import write_ahead_logging
from harvester.ledger import (
    KINDS,
    Entry,
    Event,
    Known,
    Ledger,
    Listing,
    RunInfo,
    RunOverlap,
    StoredEvent,
    StoredListing,
    StoredRaw,
    StoredSeen,
    StoredUnmapped,
    UnmappedRow,
    kind_of,
    utc_now,
)
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
# Ids bound in one ``IN (...)`` look-up: under SQLite's historical limit of 999 host parameters.
_IDS_PER_QUERY = 500
_BUSY_TIMEOUT = 60  # seconds a write waits for another process's to end
# Columns added to ``runs`` after the first release of the ledger: (name, definition).
_RUN_COLUMNS = (
    ("kind", "TEXT NOT NULL DEFAULT 'full'"),
    ("resumed_from", "INTEGER"),
    ("notes", "TEXT NOT NULL DEFAULT '[]'"),
)


class SQLiteLedger(Ledger):
    """The ledger file at ``path`` (its folder is created)."""

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

    @staticmethod
    def exists(path: str | Path) -> bool:
        return Path(path).is_file()

    @staticmethod
    def local_dir(path: str | Path) -> Path:
        return Path(path).parent

    @contextmanager
    def lock(self, source_id: str) -> Iterator[None]:
        """A file lock in ``locks/`` beside the ledger: the kernel releases it when its holder dies."""
        path = self.path.parent / "locks" / f"{source_id}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RunOverlap(f"a harvest of {source_id} is already running") from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @property
    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=_BUSY_TIMEOUT
            )
            write_ahead_logging(db, _BUSY_TIMEOUT)
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
        sql = "SELECT record_id, locator, status, code, message FROM record_events WHERE run_id = ?"
        args: tuple[object, ...] = (run_id,)
        if status:
            sql += " AND status = ?"
            args = (run_id, status)
        sql += " ORDER BY rowid LIMIT ? OFFSET ?"
        return [Event(*row) for row in self._db.execute(sql, (*args, -1 if limit is None else limit, offset))]

    # records --------------------------------------------------------------------------------------

    def known(self, source_id: str) -> dict[str, Known]:
        rows = self._db.execute(
            "SELECT source_key, record_id, digest FROM raw_records WHERE source_id = ?", (source_id,)
        )
        return {native: Known(record_id, digest) for native, record_id, digest in rows}

    def raw(self, record_id: str) -> RawRecord | None:
        row = self._db.execute(
            "SELECT record_id, source_id, format, content, source_key, datestamp FROM raw_records"
            " WHERE record_id = ?",
            (record_id,),
        ).fetchone()
        return None if row is None else _raw(*row)

    def raws(self, record_ids: Iterable[str]) -> dict[str, RawRecord]:
        """One query per ``_IDS_PER_QUERY`` ids."""
        ids = list(dict.fromkeys(record_ids))
        found: dict[str, RawRecord] = {}
        for start in range(0, len(ids), _IDS_PER_QUERY):
            chunk = ids[start : start + _IDS_PER_QUERY]
            rows = self._db.execute(
                "SELECT record_id, source_id, format, content, source_key, datestamp FROM raw_records"
                f" WHERE record_id IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
            found.update((row[0], _raw(*row)) for row in rows)
        return found

    def raw_records(self, batch_size: int = 500) -> Iterator[tuple[RawRecord, str | None]]:
        """Each batch its own statement, so the ledger can be written between two."""
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
        """One transaction."""
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
        """One transaction."""
        with self._transaction() as db:
            _replace_unmapped(db, list(record_ids), unmapped)

    def unmapped(self, source_id: str | None = None, limit: int = 50) -> list[UnmappedRow]:
        sql = "SELECT source_id, label, thesaurus, count(*) AS n FROM unmapped"
        args: tuple[object, ...] = ()
        if source_id:
            sql += " WHERE source_id = ?"
            args = (source_id,)
        sql += " GROUP BY source_id, label, thesaurus ORDER BY n DESC, source_id, label LIMIT ?"
        return [tuple(row) for row in self._db.execute(sql, (*args, limit))]  # type: ignore[misc]

    # listings -------------------------------------------------------------------------------------

    def watermark(self, source_id: str) -> str | None:
        row = self._db.execute(
            "SELECT watermark FROM watermarks WHERE source_id = ?", (source_id,)
        ).fetchone()
        return row[0] if row else None

    def listing(self, source_id: str) -> Listing | None:
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
        with self._transaction() as db:
            db.execute("DELETE FROM seen WHERE source_id = ?", (source_id,))
            db.execute(
                "INSERT OR REPLACE INTO listings"
                " (source_id, run_id, kind, since, watermark, checkpoint, received)"
                " VALUES (?, ?, ?, ?, ?, NULL, 0)",
                (source_id, run_id, kind, since, watermark),
            )

    def set_listing_watermark(self, source_id: str, watermark: str) -> None:
        self._db.execute("UPDATE listings SET watermark = ? WHERE source_id = ?", (watermark, source_id))

    def seen(self, source_id: str) -> set[str]:
        rows = self._db.execute("SELECT record_id FROM seen WHERE source_id = ?", (source_id,))
        return {row[0] for row in rows}

    def end_listing(self, source_id: str, watermark: str) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO watermarks (source_id, watermark) VALUES (?, ?)",
                (source_id, watermark),
            )
            db.execute("DELETE FROM listings WHERE source_id = ?", (source_id,))
            db.execute("DELETE FROM seen WHERE source_id = ?", (source_id,))

    # migration ------------------------------------------------------------------------------------

    def dump(self) -> Iterator[Entry]:
        """Each batch its own statement (keyset paging), so memory stays bounded."""
        for ids in self._pages("SELECT id FROM runs WHERE id > ? ORDER BY id LIMIT ?", 0):
            marks = ", ".join("?" * len(ids))
            yield from self._runs(f" WHERE id IN ({marks}) ORDER BY id", tuple(row[0] for row in ids))
        raws = (
            "SELECT record_id, source_id, source_key, format, digest, content, datestamp, run_id"
            " FROM raw_records WHERE record_id > ? ORDER BY record_id LIMIT ?"
        )
        for rows in self._pages(raws, ""):
            for rid, source, key, format_, digest, content, datestamp, run in rows:
                yield StoredRaw(rid, source, key, format_, digest, zlib.decompress(content), datestamp, run)
        events = (  # (run_id, rowid): each run's events in filing order, runs in id order
            "SELECT rowid, run_id, record_id, locator, status, code, message FROM record_events"
            " WHERE run_id = ? AND rowid > ? ORDER BY rowid LIMIT ?"
        )
        for (run_id,) in self._db.execute("SELECT DISTINCT run_id FROM record_events ORDER BY 1").fetchall():
            for rows in self._pages(events, 0, run_id):
                for _, run, *event in rows:
                    yield StoredEvent(run, Event(*event))
        sources = "SELECT source_id FROM watermarks UNION SELECT source_id FROM listings ORDER BY 1"
        for (source_id,) in self._db.execute(sources).fetchall():
            yield StoredListing(source_id, self.watermark(source_id), self.listing(source_id))
        seen = "SELECT source_id || char(31) || record_id, source_id, record_id FROM seen"
        for rows in self._pages(
            seen + " WHERE source_id || char(31) || record_id > ? ORDER BY 1 LIMIT ?", ""
        ):
            yield from (StoredSeen(source_id, record_id) for _, source_id, record_id in rows)
        unmapped = (
            "SELECT rowid, source_id, record_id, label, thesaurus FROM unmapped"
            " WHERE rowid > ? ORDER BY rowid LIMIT ?"
        )
        grouped: dict[str, list[StoredUnmapped]] = {}  # the report is small: grouped by record in memory
        for rows in self._pages(unmapped, 0):
            for _, source_id, record_id, label, thesaurus in rows:
                grouped.setdefault(record_id, []).append(
                    StoredUnmapped(source_id, record_id, label, thesaurus)
                )
        for record_id in sorted(grouped):
            yield from grouped[record_id]

    def _pages(self, sql: str, start: object, *args: object, size: int = 1000) -> Iterator[list[Any]]:
        """The rows of ``sql`` (``... WHERE [args...] AND key > ? ORDER BY key LIMIT ?``, the key first
        in each row), a page at a time."""
        last = start
        while rows := self._db.execute(sql, (*args, last, size)).fetchall():
            yield rows
            last = rows[-1][0]

    def load(self, entries: Iterable[Entry]) -> None:
        pending: dict[str, list[Entry]] = {kind: [] for kind in KINDS}
        for entry in entries:
            batch = pending[kind_of(entry)]
            batch.append(entry)
            if len(batch) >= 1000:
                self._load(batch)
                batch.clear()
        for batch in pending.values():
            self._load(batch)

    def _load(self, entries: list[Entry]) -> None:
        """One transaction per batch of entries of one kind."""
        with self._transaction() as db:
            for entry in entries:
                match entry:
                    case RunInfo():
                        db.execute(
                            "INSERT INTO runs (id, source_id, started, finished, status, listing_complete,"
                            " matched, counts, error, kind, resumed_from, notes)"
                            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (
                                entry.id,
                                entry.source_id,
                                entry.started,
                                entry.finished,
                                entry.status,
                                int(entry.listing_complete),
                                entry.matched,
                                msgspec.json.encode(entry.counts),
                                entry.error,
                                entry.kind,
                                entry.resumed_from,
                                msgspec.json.encode(entry.notes),
                            ),
                        )
                    case StoredRaw():
                        db.execute(
                            "INSERT INTO raw_records (record_id, source_id, source_key, format, digest,"
                            " content, datestamp, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            (
                                entry.record_id,
                                entry.source_id,
                                entry.source_key,
                                entry.format,
                                entry.digest,
                                zlib.compress(entry.content, 1),
                                entry.datestamp,
                                entry.run_id,
                            ),
                        )
                    case StoredEvent(run_id, e):
                        db.execute(
                            "INSERT INTO record_events (run_id, record_id, locator, status, code, message)"
                            " VALUES (?, ?, ?, ?, ?, ?)",
                            (run_id, e.record_id, e.locator, e.status, e.code, e.message),
                        )
                    case StoredListing(source_id, watermark, listing):
                        if watermark is not None:
                            db.execute("INSERT INTO watermarks VALUES (?, ?)", (source_id, watermark))
                        if listing is not None:
                            db.execute(
                                "INSERT INTO listings (source_id, run_id, kind, since, watermark, checkpoint,"
                                " received) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                (
                                    source_id,
                                    listing.run_id,
                                    listing.kind,
                                    listing.since,
                                    listing.watermark,
                                    None
                                    if listing.checkpoint is None
                                    else msgspec.json.encode(listing.checkpoint),
                                    listing.received,
                                ),
                            )
                    case StoredSeen(source_id, record_id):
                        db.execute(
                            "INSERT INTO seen (source_id, record_id) VALUES (?, ?)", (source_id, record_id)
                        )
                    case StoredUnmapped(source_id, record_id, label, thesaurus):
                        db.execute(
                            "INSERT INTO unmapped (source_id, record_id, label, thesaurus)"
                            " VALUES (?, ?, ?, ?)",
                            (source_id, record_id, label, thesaurus),
                        )

    def tally(self) -> dict[str, int]:
        tables = {
            "runs": "runs",
            "raw": "raw_records",
            "events": "record_events",
            "listings": "(SELECT source_id FROM watermarks UNION SELECT source_id FROM listings)",
            "seen": "seen",
            "unmapped": "unmapped",
        }
        return {
            kind: self._db.execute(f"SELECT count(*) FROM {tables[kind]}").fetchone()[0] for kind in KINDS
        }


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
