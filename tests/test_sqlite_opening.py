"""Several processes opening the same new SQLite index and ledger at the same moment, as two
`terracat scheduler` processes started together on one store do: every one of them opens it, in WAL
mode, with its schema once (SQLite refuses the switch to WAL to all but one of them at first)."""

from __future__ import annotations

import multiprocessing
import sqlite3
from multiprocessing.synchronize import Barrier
from pathlib import Path

from catalogue.stores.sqlite import SCHEMA_VERSION, SQLiteStore
from harvester.ledgers.sqlite import SQLiteLedger

PROCESSES = 4
FILES = 12


def open_together(folder: str, barrier: Barrier, errors: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """Open each new index and ledger of ``folder`` at the moment the other processes do."""
    for i in range(FILES):
        barrier.wait()
        try:
            with SQLiteStore(path=Path(folder) / f"catalogue-{i}.db") as store:
                store.count()
            ledger = SQLiteLedger(Path(folder) / f"harvest-{i}.db")
            try:
                ledger.start_run("demo")
            finally:
                ledger.close()
        except Exception as error:  # reported to the test, which names the file
            errors.put(f"file {i}: {type(error).__name__}: {error}")


def test_processes_opening_a_new_index_and_ledger_together_all_open_them(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    barrier, errors = context.Barrier(PROCESSES), context.Queue()
    processes = [
        context.Process(target=open_together, args=(str(tmp_path), barrier, errors)) for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [process.exitcode for process in processes] == [0] * PROCESSES
    failures = []
    while not errors.empty():
        failures.append(errors.get())
    assert failures == []
    for i in range(FILES):
        with sqlite3.connect(tmp_path / f"catalogue-{i}.db") as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        with sqlite3.connect(tmp_path / f"harvest-{i}.db") as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            runs = conn.execute("SELECT count(*) FROM runs WHERE source_id = 'demo'").fetchone()[0]
            assert runs == PROCESSES  # one run started by each process
