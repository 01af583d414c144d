"""Switching a SQLite database to write-ahead logging when several processes open it at once."""

from __future__ import annotations

import sqlite3
import time


def write_ahead_logging(conn: sqlite3.Connection, timeout: float) -> None:
    """Put ``conn``'s database in WAL mode, waiting up to ``timeout`` seconds for other connections.

    Two processes opening a new database together (two ``terracat scheduler`` processes sharing one
    index) both read it, then each asks for the exclusive lock that the switch to WAL needs: SQLite
    answers "database is locked" at once to one of them rather than call the busy handler (waiting
    would deadlock). The failed statement releases its locks, so asking again succeeds once the other
    has switched; by then the database is in WAL mode and nothing more is needed.
    """
    deadline = time.monotonic() + timeout
    pause = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.2)
