"""Shared test fixtures: the real servers the tests talk to are registered here as plugins."""

from pathlib import Path

import pytest

pytest_plugins = [
    "tests.fixtures.pycsw_server",
    "tests.fixtures.fault_server",
    "tests.fixtures.oai_server",
    "tests.fixtures.stac_server",
]
# Shared assertions of the crosswalk tests: pytest explains their failures as it does in test files.
pytest.register_assert_rewrite("tests.crosswalk_checks")

ROOT = Path(__file__).resolve().parent.parent
DEMO_RECORDS = ROOT / "config" / "demo" / "records" / "iso19139"


@pytest.fixture(scope="session")
def demo_records() -> Path:
    """The real ISO 19139 records bundled with the demo (copies of the project corpus)."""
    return DEMO_RECORDS


# --- reports: figures a test measures and prints at the end of the run (tests assert, they do not time) ---

_REPORTS = pytest.StashKey[list[str]]()


@pytest.fixture
def report(request: pytest.FixtureRequest):
    """``report(text)`` adds lines to the "terracat reports" section printed after the test summary."""
    lines = request.config.stash.setdefault(_REPORTS, [])
    return lines.append


@pytest.fixture(scope="session")
def session_report(request: pytest.FixtureRequest):
    """``report`` for fixtures that outlive a test: a table built over several tests, printed once."""
    return request.config.stash.setdefault(_REPORTS, []).append


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    lines = config.stash.get(_REPORTS, [])
    if lines:
        terminalreporter.section("terracat reports")
        for line in lines:
            terminalreporter.write_line(line)
