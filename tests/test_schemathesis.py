"""Property-based testing of the live server from its own OpenAPI document (schemathesis): every
operation the document describes, called with requests generated from its parameters' schemas (valid
ones, and invalid ones: wrong types, out-of-range numbers, odd strings), never gets a server error.

A bounded number of examples per operation keeps the run short; hypothesis' example database is off, so
the run is the same on every machine.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode

from tests.fixtures.api_server import demo_catalogue, demo_records, serving

EXAMPLES_PER_OPERATION = 25


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(demo_catalogue(tmp_path_factory.mktemp("schemathesis"), demo_records())) as url:
        yield url


def test_no_operation_answers_a_server_error(server_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{server_url}/openapi?f=json")
    session = requests.Session()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30, "the document describes the record catalogues"
    statuses: Counter[int] = Counter()
    failures: dict[str, str] = {}
    for operation in operations:
        _exercise(operation, server_url, session, statuses, failures)
    assert failures == {}
    # the requests were made, valid ones and invalid ones
    assert statuses[200] > len(operations) * 3 and statuses[400] > 50, statuses


def _exercise(
    operation: schemathesis.APIOperation,
    server_url: str,
    session: requests.Session,
    statuses: Counter[int],
    failures: dict[str, str],
) -> None:
    """Call one operation with generated requests; count their statuses, keep the first server error."""
    label = f"{operation.method.upper()} {operation.path}"

    strategies = [operation.as_strategy(generation_mode=mode) for mode in GenerationMode]
    negative = [
        s for s, mode in zip(strategies, GenerationMode, strict=True) if mode is GenerationMode.NEGATIVE
    ]

    @given(case=st.one_of(strategies) if negative else strategies[0])
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def call(case: schemathesis.Case) -> None:
        response = case.call(base_url=server_url, session=session, timeout=30)
        statuses[response.status_code] += 1
        if response.status_code >= 500 and label not in failures:
            failures[label] = f"{response.status_code} for {response.request.url}: {response.text[:300]}"

    call()
