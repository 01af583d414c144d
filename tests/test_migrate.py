"""``terracat migrate``: a catalogue harvested for real (the demo's ISO 19139 records, and a copy of them
republished by another pole, so that there are duplicate groups) is copied by the command into another
SQLite folder, and into Elasticsearch when ``TERRACAT_TEST_ES_URL`` names a server; the copy must hold
the same records in the same order and groups, the same ledger, and work as the catalogue from then on.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from api import settings as config
from api.cli import main
from catalogue.store import Store, open_store
from harvester.ledger import Ledger, open_ledger
from harvester.run import source_lock

ROOT = Path(__file__).resolve().parent.parent
ES_URL = os.environ.get("TERRACAT_TEST_ES_URL")
SKIP_REASON = (
    "Elasticsearch leg skipped: set TERRACAT_TEST_ES_URL=http://host:9200 to run the migration into a real"
    " server (none can be installed on this machine)"
)


@dataclass
class Harvested:
    config: Path
    settings: config.Settings


@pytest.fixture
def harvested(tmp_path: Path, demo_records: Path, capsys: pytest.CaptureFixture[str]) -> Harvested:
    """Two sources harvested by ``terracat harvest``: the demo records, and the same records under
    another pole (each a duplicate of the first's)."""
    shutil.copytree(demo_records, tmp_path / "records" / "demo")
    shutil.copytree(demo_records, tmp_path / "records" / "copies")
    catalogue = {
        "store": {"backend": "sqlite", "path": "var/catalogue.db"},
        "harvest": {"ledger": "var/harvest.db", "parallel": 1},
        "thesauri": [str(ROOT / "config" / "thesauri" / "data-terra.ttl")],
        "sources": [
            {
                "id": "demo",
                "pole": "ODATIS",
                "protocol": "directory",
                "path": "records/demo",
                "page_size": 10,
            },
            {
                "id": "copies",
                "pole": "AERIS",
                "protocol": "directory",
                "path": "records/copies",
                "page_size": 10,
            },
        ],
    }
    path = tmp_path / "terracat.yaml"
    path.write_text(yaml.safe_dump(catalogue, sort_keys=False), encoding="utf-8")
    assert main(["harvest", "--config", str(path)]) == 0
    capsys.readouterr()  # the harvest's summary lines
    return Harvested(path, config.load(path))


def migrate(harvested: Harvested, *options: str) -> int:
    return main(["migrate", "--config", str(harvested.config), *options])


def snippet(output: str) -> dict[str, Any]:
    """The config the command printed to switch to the copy."""
    return yaml.safe_load(output.split("set in the config:", 1)[1])


def assert_same_catalogue(store: Store, copy: Store, ledger: Ledger, ledger_copy: Ledger) -> None:
    records = list(store.scan())
    assert [r.id for r in copy.scan()] == [r.id for r in records]  # the indexing order, so the primaries
    for record in records:
        assert copy.get(record.id) == record
        assert copy.group(record.id) == store.group(record.id)
    ids = [r.id for r in records]
    assert copy.duplicates_of(ids) == store.duplicates_of(ids) != {}
    assert ledger_copy.tally() == ledger.tally()
    assert ledger_copy.runs() == ledger.runs()
    for run in ledger.runs():
        assert ledger_copy.events(run.id) == ledger.events(run.id)
    for source in ("demo", "copies"):
        assert ledger_copy.known(source) == ledger.known(source)
        assert ledger_copy.watermark(source) == ledger.watermark(source) is not None
    assert ledger_copy.unmapped(limit=1000) == ledger.unmapped(limit=1000) != []
    assert [(raw, when) for raw, when in ledger_copy.raw_records()] == list(ledger.raw_records())


def test_migrate_into_another_sqlite_folder(
    harvested: Harvested, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "copy"
    assert migrate(harvested, "--to", "sqlite", "--path", str(target)) == 0
    output = capsys.readouterr().out
    settings = harvested.settings
    with open_store(settings.store) as store, open_ledger(settings.harvest.ledger) as ledger:
        count, tally = store.count(), ledger.tally()
        assert f"index: {count} records copied into sqlite" in output
        assert f"ledger: {tally['runs']} runs, {tally['raw']} raw, {tally['events']} events" in output
        assert "verified:" in output
        switch = snippet(output)
        assert switch == {
            "store": {"backend": "sqlite", "path": str(target / "catalogue.db")},
            "harvest": {"ledger": str(target / "harvest.db")},
        }
        with open_store(switch["store"]) as copy, open_ledger(switch["harvest"]["ledger"]) as ledger_copy:
            assert_same_catalogue(store, copy, ledger, ledger_copy)

    # the copy is the catalogue from now on: harvesting again finds every record unchanged
    switched = yaml.safe_load(harvested.config.read_text(encoding="utf-8"))
    switched["store"] = switch["store"]
    switched["harvest"]["ledger"] = switch["harvest"]["ledger"]
    harvested.config.write_text(yaml.safe_dump(switched), encoding="utf-8")
    assert main(["harvest", "--config", str(harvested.config)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all("added 0, updated 0" in line and "deleted 0" in line for line in lines)
    with open_ledger(switch["harvest"]["ledger"]) as ledger_copy:
        newest = ledger_copy.runs(limit=2)
        assert [run.counts for run in newest] == [{"unchanged": 38, "rejected": 3}] * 2
        assert [run.id for run in newest] == [4, 3]  # after the copied runs 1 and 2


def test_migrate_refuses_a_target_that_is_not_empty(
    harvested: Harvested, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "copy"
    assert migrate(harvested, "--to", "sqlite", "--path", str(target)) == 0
    capsys.readouterr()
    assert migrate(harvested, "--to", "sqlite", "--path", str(target)) == 1
    error = capsys.readouterr().err
    assert "error: the target already holds 76 records: migrate into an empty one" in error


def test_migrate_waits_for_no_harvest(
    harvested: Harvested, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with open_ledger(harvested.settings.harvest.ledger) as ledger, source_lock(ledger, "copies"):
        assert migrate(harvested, "--to", "sqlite", "--path", str(tmp_path / "copy")) == 1
    assert "migrate refused: a harvest of copies is already running" in capsys.readouterr().err
    with open_store({"backend": "sqlite", "path": str(tmp_path / "copy" / "catalogue.db")}) as copy:
        assert copy.count() == 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--to", "sqlite"], "--to sqlite takes --path DIR"),
        (["--to", "elasticsearch"], "--to elasticsearch takes --url URL"),
        (["--to", "elasticsearch", "--url", "http://es:9200", "--path", "x"], "(and no --path)"),
    ],
)
def test_migrate_needs_its_target(
    harvested: Harvested, options: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert migrate(harvested, *options) == 2
    assert message in capsys.readouterr().err


def test_migrate_refuses_to_copy_a_catalogue_onto_itself(
    harvested: Harvested, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = Path(harvested.settings.harvest.ledger).parent  # type: ignore[arg-type]
    assert migrate(harvested, "--to", "sqlite", "--path", str(folder)) == 2
    assert "the target is the catalogue itself" in capsys.readouterr().err


@pytest.fixture
def es_prefix() -> Iterator[str]:
    """A prefix of its own on the test server; every index under it deleted afterwards."""
    assert ES_URL is not None
    from catalogue.stores.elasticsearch import es_client

    prefix = f"terracat-test-{uuid.uuid4().hex[:10]}"
    yield prefix
    client = es_client(ES_URL)
    names = list(client.indices.get(index=f"{prefix}-*", expand_wildcards="all"))
    if names:  # by name: clusters refuse wildcard deletions
        client.indices.delete(index=",".join(names))
    client.close()


@pytest.mark.skipif(not ES_URL, reason=SKIP_REASON)
def test_migrate_into_elasticsearch(
    harvested: Harvested, es_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ES_URL is not None
    assert migrate(harvested, "--to", "elasticsearch", "--url", ES_URL, "--prefix", es_prefix) == 0
    output = capsys.readouterr().out
    assert "verified:" in output
    switch = snippet(output)
    expected = {"backend": "elasticsearch", "url": ES_URL, "prefix": es_prefix}
    assert switch == {"store": expected, "harvest": {"ledger": expected}}
    settings = harvested.settings
    with (
        open_store(settings.store) as store,
        open_ledger(settings.harvest.ledger) as ledger,
        open_store(switch["store"]) as copy,
        open_ledger(switch["harvest"]["ledger"]) as ledger_copy,
    ):
        assert_same_catalogue(store, copy, ledger, ledger_copy)
