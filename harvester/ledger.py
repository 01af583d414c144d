"""The harvest ledger: raw records as received, the run history and every record's status per run.

It is the harvester's own memory, kept apart from the index (``catalogue.store``): whatever backend
indexes the records (SQLite or Elasticsearch), the ledger keeps the raw bytes (so ``reindex`` can
re-normalise without re-harvesting), the content digest of each record (so an unchanged record costs
no parsing or indexing), and why each rejected record was rejected. One SQLite file in WAL mode.
"""

from __future__ import annotations

import sqlite3
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

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
    error TEXT
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
"""


@dataclass(slots=True)
class Known:
    """What the ledger remembers of a record already harvested from a source."""

    record_id: str
    digest: str


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


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Ledger:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # runs -----------------------------------------------------------------------------------------

    def start_run(self, source_id: str) -> int:
        cursor = self._db.execute(
            "INSERT INTO runs (source_id, started, status) VALUES (?, ?, 'running')", (source_id, utc_now())
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
    ) -> None:
        self._db.execute(
            "UPDATE runs SET finished = ?, status = ?, listing_complete = ?, matched = ?, counts = ?,"
            " error = ? WHERE id = ?",
            (utc_now(), status, int(listing_complete), matched, msgspec.json.encode(counts), error, run_id),
        )

    def runs(self, source_id: str | None = None, limit: int = 20) -> list[RunInfo]:
        sql = (
            "SELECT id, source_id, started, finished, status, listing_complete, matched, counts, error"
            " FROM runs"
        )
        args: tuple[object, ...] = ()
        if source_id:
            sql += " WHERE source_id = ?"
            args = (source_id,)
        rows = self._db.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
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
            )
            for r in rows
        ]

    def events(self, run_id: int, status: str | None = None) -> list[Event]:
        sql = "SELECT record_id, locator, status, code, message FROM record_events WHERE run_id = ?"
        args: tuple[object, ...] = (run_id,)
        if status:
            sql += " AND status = ?"
            args = (run_id, status)
        return [Event(*row) for row in self._db.execute(sql + " ORDER BY rowid", args)]

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
            "SELECT source_id, format, content, source_key, datestamp FROM raw_records WHERE record_id = ?",
            (record_id,),
        ).fetchone()
        if row is None:
            return None
        source_id, format_, content, source_key, datestamp = row
        return RawRecord(
            source_id=source_id,
            format=format_,
            content=zlib.decompress(content),
            native_id=source_key,
            datestamp=datestamp,
            locator=record_id,
        )

    def save(
        self, run_id: int, changed: Iterable[tuple[str, str, RawRecord]], events: Iterable[Event]
    ) -> None:
        """Store the raw bytes of added/updated records (record id, ledger key, raw) and the statuses of a
        batch, in one transaction. The key is what ``known`` returns them by."""
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
            db.executemany(
                "INSERT INTO record_events (run_id, record_id, locator, status, code, message)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(run_id, e.record_id, e.locator, e.status, e.code, e.message) for e in events],
            )
