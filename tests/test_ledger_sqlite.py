"""The SQLite ledger: the ledger contract, plus what only its file has (a lock file beside it, the columns
added to ``runs`` after the first release, the config forms of ``harvest.ledger``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from harvester.ledger import Ledger, RunOverlap, check_settings, ledger_exists, local_dir, open_ledger
from harvester.ledgers.sqlite import SQLiteLedger
from tests.ledger_contract import LedgerContract, MakeLedger


class TestSQLiteLedger(LedgerContract):
    @pytest.fixture
    def make_ledger(self, tmp_path: Path) -> Iterator[MakeLedger]:
        made: list[Ledger] = []

        def make() -> Ledger:
            made.append(open_ledger(tmp_path / f"ledger-{len(made)}" / "harvest.db"))
            return made[-1]

        yield make
        for ledger in made:
            ledger.close()

    def reopen(self, ledger: Ledger) -> Ledger:
        assert isinstance(ledger, SQLiteLedger)
        return SQLiteLedger(ledger.path)


def test_the_config_forms_of_the_ledger(tmp_path: Path) -> None:
    path = tmp_path / "var" / "harvest.db"
    assert not ledger_exists(str(path))
    for config in (str(path), path, {"path": str(path)}, {"backend": "sqlite", "path": str(path)}):
        with open_ledger(config) as ledger:
            assert isinstance(ledger, SQLiteLedger) and ledger.path == path
        assert ledger_exists(config) and local_dir(config) == path.parent
    assert check_settings(str(path)) is None
    assert check_settings({"backend": "sqlite"}) == ("path", "backend sqlite needs 'path'")
    assert check_settings({"backend": "sqlite", "path": "x", "url": "y"})[0] == "url"  # type: ignore[index]
    assert check_settings({"backend": "cassandra"})[0] == "backend"  # type: ignore[index]


def test_the_lock_is_a_file_beside_the_ledger(tmp_path: Path) -> None:
    """Another process's lock (a file lock the kernel holds for it) is seen through the file."""
    import fcntl

    ledger = SQLiteLedger(tmp_path / "harvest.db")
    lock = tmp_path / "locks" / "demo.lock"
    with ledger.lock("demo"):
        assert lock.is_file()
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(RunOverlap), ledger.lock("demo"):
            pass
    ledger.close()


def test_a_ledger_of_the_first_release_gains_the_new_run_columns(tmp_path: Path) -> None:
    path = tmp_path / "harvest.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE runs (id INTEGER PRIMARY KEY, source_id TEXT NOT NULL, started TEXT NOT NULL,"
            " finished TEXT, status TEXT NOT NULL, listing_complete INTEGER NOT NULL DEFAULT 0,"
            " matched INTEGER, counts TEXT NOT NULL DEFAULT '{}', error TEXT)"
        )
        db.execute(
            "INSERT INTO runs (source_id, started, status)"
            " VALUES ('demo', '2024-01-01T00:00:00Z', 'succeeded')"
        )
    db.close()
    with open_ledger(path) as ledger:
        [run] = ledger.runs()
        assert (run.id, run.kind, run.resumed_from, run.notes) == (1, "full", None, [])
        assert ledger.start_run("demo") == 2
