"""The shipped production config (``config/terracat.yaml`` and the poles' ``config/sources/*.yaml``) and
the ``sources_from`` include mechanism it relies on.

The poles' endpoints cannot be reached from the build machines, so validating the files is what can be
checked here: every source well formed, in the file of its pole, with a unique id.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from api.cli import main
from api.settings import ConfigError, load

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "terracat.yaml"
POLE_FILES = {
    "aeris.yaml": "AERIS",
    "formater.yaml": "ForM@Ter",
    "odatis.yaml": "ODATIS",
    "theia.yaml": "THEIA",
}


def _ids_in(file: Path) -> list[str]:
    return [source["id"] for source in yaml.safe_load(file.read_text(encoding="utf-8"))["sources"]]


def test_shipped_config_validates_with_a_summary_per_pole(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(CONFIG)]) == 0
    out = capsys.readouterr().out
    assert f"{CONFIG}: OK (9 sources, store sqlite)" in out
    assert "  AERIS: 1 (aeris-csw)" in out
    assert "  ForM@Ter: 1 (formater-csw)" in out
    assert "  ODATIS: 3 (odatis-sextant, odatis-portal, odatis-seanoe)" in out
    assert "  THEIA: 4 (theia-insitu, theia-hydroweb, theia-datastore, theia-geodes)" in out


def test_every_pole_file_is_included_and_every_source_is_in_its_poles_file() -> None:
    settings = load(CONFIG)
    folder = ROOT / "config" / "sources"
    assert sorted(p.name for p in folder.glob("*.yaml")) == sorted(POLE_FILES)
    by_id = {source.id: source for source in settings.sources}
    for name, pole in POLE_FILES.items():
        ids = _ids_in(folder / name)
        assert ids, name
        assert {by_id[i].pole for i in ids} == {pole}, name
    assert len(by_id) == len(settings.sources) == sum(len(_ids_in(folder / n)) for n in POLE_FILES)


def test_every_source_is_a_polite_scheduled_http_endpoint() -> None:
    settings = load(CONFIG)
    for source in settings.sources:
        parts = urlsplit(source.url or "")
        assert parts.scheme in ("http", "https") and parts.netloc, source.id
        assert source.delay >= 1, source.id
        assert source.schedule and len(source.schedule.split()) == 5, source.id
        assert source.enabled, source.id  # DOMAIN reports none of these endpoints broken
    geodes = settings.source("theia-geodes")
    assert geodes.page_size <= 80  # GEODES caps `limit` at 80 (DOMAIN §1.8)
    assert geodes.collections and not geodes.items


def test_shipped_config_resolves_thesauri_and_store_next_to_the_project() -> None:
    settings = load(CONFIG)
    shipped = sorted(p.name for p in (ROOT / "config" / "thesauri").iterdir() if p.suffix in (".rdf", ".ttl"))
    assert sorted(Path(t).name for t in settings.thesauri) == shipped
    assert settings.store["path"] == str(ROOT / "var" / "catalogue.db")


MAIN = """\
store: {backend: sqlite, path: var/catalogue.db}
sources:
  - id: local
    pole: THEIA
    protocol: directory
    path: records
sources_from:
  - "poles/*.yaml"
"""

POLE = """\
# a pole's sources
sources:
  - id: sextant
    pole: ODATIS
    protocol: csw
    url: https://sextant.ifremer.fr/geonetwork/srv/eng/csw
  - id: odatis-local
    pole: ODATIS
    protocol: directory
    path: records
"""


def _layout(tmp_path: Path, pole: str = POLE, main_text: str = MAIN) -> Path:
    (tmp_path / "poles").mkdir()
    (tmp_path / "poles" / "odatis.yaml").write_text(pole, encoding="utf-8")
    path = tmp_path / "terracat.yaml"
    path.write_text(main_text, encoding="utf-8")
    return path


def test_included_sources_follow_the_main_files_with_paths_relative_to_their_own_file(tmp_path: Path) -> None:
    settings = load(_layout(tmp_path))
    assert [s.id for s in settings.sources] == ["local", "sextant", "odatis-local"]
    assert settings.source("local").path == str(tmp_path / "records")
    assert settings.source("odatis-local").path == str(tmp_path / "poles" / "records")


@pytest.mark.parametrize(
    ("change", "line", "expected"),
    [
        (("    protocol: csw", "    protocl: csw"), 5, "sources[0].protocl: unknown key 'protocl'"),
        (("pole: ODATIS", "pole: Ocean"), 4, "sources[0].pole: Invalid enum value 'Ocean' (allowed: AERIS"),
        (("url: https://sextant", "url: ftp://sextant"), 6, "sources[0].url: 'ftp://sextant"),
        (("    path: records", ""), 9, "sources[1].protocol: directory needs a path"),
        (("sources:", "source:"), 2, "source: unknown key 'source'"),
        (("  - id: sextant", "  - id: sextant\n  - {"), 6, "invalid YAML"),
    ],
)
def test_a_mistake_in_an_included_file_names_that_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: tuple[str, str], line: int, expected: str
) -> None:
    old, new = change
    assert old in POLE
    path = _layout(tmp_path, POLE.replace(old, new, 1))
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"error: {tmp_path / 'poles' / 'odatis.yaml'}:{line}: " in err
    assert expected in err


def test_duplicate_ids_across_files_are_refused_naming_both_files(tmp_path: Path) -> None:
    path = _layout(tmp_path, POLE.replace("id: odatis-local", "id: local"))
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert str(caught.value) == (
        f"{tmp_path / 'poles' / 'odatis.yaml'}:7: sources[1].id: duplicate source id 'local' "
        f"(first defined on {path}:3)"
    )


def test_duplicate_ids_between_two_included_files_are_refused(tmp_path: Path) -> None:
    path = _layout(tmp_path)
    (tmp_path / "poles" / "theia.yaml").write_text(POLE.replace("ODATIS", "THEIA"), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert str(caught.value) == (
        f"{tmp_path / 'poles' / 'theia.yaml'}:3: sources[0].id: duplicate source id 'sextant' "
        f"(first defined on {tmp_path / 'poles' / 'odatis.yaml'}:3)"
    )


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("pols/*.yaml", "sources_from[0]: no file matches 'pols/*.yaml'"),
        ("poles/theia.yaml", "sources_from[0]: no file matches 'poles/theia.yaml'"),
        ("*.yaml", "sources_from[0]: '*.yaml' matches the config file itself"),
        ("/etc/*.yaml", "sources_from[0]: '/etc/*.yaml': give a path relative to"),
    ],
)
def test_a_bad_include_pattern_names_the_main_file_and_line(
    tmp_path: Path, pattern: str, expected: str
) -> None:
    path = _layout(tmp_path, main_text=MAIN.replace("poles/*.yaml", pattern))
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert str(caught.value).startswith(f"{path}:8: {expected}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the sources file is empty"),
        ("- id: x\n", "an included file must be a mapping with a 'sources:' list"),
        ("store: {backend: sqlite}\nsources: []\n", "store: unknown key 'store'"),
    ],
)
def test_an_included_file_holds_only_sources(tmp_path: Path, text: str, expected: str) -> None:
    path = _layout(tmp_path, pole=text)
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert str(caught.value).startswith(str(tmp_path / "poles" / "odatis.yaml"))
    assert expected in str(caught.value)
