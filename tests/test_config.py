"""A bad config stops the command with exit code 2 and names the file, line and key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from api.cli import DEMO_CONFIG, main

GOOD = """\
store: {backend: sqlite, path: var/catalogue.db}
sources:
  - id: odatis-sextant
    pole: ODATIS
    protocol: csw
    url: https://sextant.ifremer.fr/geonetwork/srv/eng/csw
    format: iso19139
    page_size: 100
    schedule: "0 3 * * *"
  - id: theia-local
    pole: THEIA
    protocol: directory
    path: records
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "terracat.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_demo_config_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(DEMO_CONFIG)]) == 0
    assert "OK (1 sources, store sqlite)" in capsys.readouterr().out


def test_good_config_resolves_paths_relative_to_the_file(tmp_path: Path) -> None:
    from api.settings import load

    settings = load(write(tmp_path, GOOD))
    assert settings.store["path"] == str(tmp_path / "var" / "catalogue.db")
    assert settings.source("theia-local").path == str(tmp_path / "records")
    assert settings.source("odatis-sextant").page_size == 100
    assert settings.harvest.ledger == str(tmp_path / "var" / "harvest.db")


@pytest.mark.parametrize(
    ("change", "line", "expected"),
    [
        (("    page_size: 100", "    pag_size: 100"), 8, "sources[0].pag_size: unknown key 'pag_size'"),
        (("    page_size: 100", "    page_size: many"), 8, "sources[0].page_size: Expected `int`, got `str`"),
        (("    page_size: 100", "    page_size: 0"), 8, "sources[0].page_size: must be between 1 and 10000"),
        (("pole: ODATIS", "pole: Ocean"), 4, "sources[0].pole: Invalid enum value 'Ocean' (allowed: AERIS"),
        (("url: https://sextant", "url: ftp://sextant"), 6, "sources[0].url: 'ftp://sextant.ifremer.fr"),
        (("protocol: csw", "protocol: z3950"), 5, "sources[0].protocol: unknown protocol 'z3950'"),
        (("format: iso19139", "format: marc21"), 7, "sources[0].format: unknown format 'marc21'"),
        (
            ("id: theia-local", "id: odatis-sextant"),
            10,
            "sources[1].id: duplicate source id 'odatis-sextant'",
        ),
        (("id: theia-local", "id: Theia Local"), 10, "sources[1].id: 'Theia Local' must be"),
        (("    path: records", ""), 12, "sources[1].protocol: directory needs a path"),
        (("backend: sqlite", "backend: oracle"), 1, "store.backend: unknown backend 'oracle'"),
        (("path: var/catalogue.db", "paht: var/catalogue.db"), 1, "store.paht: unknown key 'paht' for"),
        (("sqlite, path: var/catalogue.db", "sqlite"), 1, "store.path: backend sqlite needs 'path'"),
        (("sources:", "sources: {"), 3, "invalid YAML"),
    ],
)
def test_mistakes_name_file_line_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: tuple[str, str], line: int, expected: str
) -> None:
    old, new = change
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}:{line}: "), err
    assert expected in err


def test_missing_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(tmp_path / "nope.yaml")]) == 2
    assert "cannot read the config file" in capsys.readouterr().err


def test_command_line_entry_point_exits_2(tmp_path: Path) -> None:
    """The installed command, as an administrator runs it."""
    path = write(tmp_path, GOOD.replace("    page_size: 100", "    pag_size: 100"))
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "check-config", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert f"{path}:8: sources[0].pag_size" in done.stderr
