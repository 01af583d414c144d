"""The store contract on Elasticsearch: runs against the server at ``TERRACAT_TEST_ES_URL``.

No Elasticsearch server can be installed on the machines these tests were written on: without the
variable the leg reports itself as skipped (``-ra`` shows why). Each test gets fresh indexes under a
prefix of its own, deleted afterwards, so a shared cluster is left as it was.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from catalogue.store import Store
from tests.store_contract import StoreContract

ES_URL = os.environ.get("TERRACAT_TEST_ES_URL")
SKIP_REASON = (
    "Elasticsearch leg skipped: set TERRACAT_TEST_ES_URL=http://host:9200 to run the store contract"
    " against a real server (none can be installed on this machine)"
)


if ES_URL:

    class TestElasticsearchStore(StoreContract):
        @pytest.fixture
        def store(self) -> Iterator[Store]:
            from catalogue.stores.elasticsearch import ElasticsearchStore, es_client

            prefix = f"terracat-test-{uuid.uuid4().hex[:12]}"
            store = ElasticsearchStore(ES_URL, prefix=prefix, refresh="wait_for")
            self._prefix = prefix
            try:
                yield store
            finally:
                store.close()
                cleaner = es_client(ES_URL)
                # by name: clusters refuse wildcard deletions (action.destructive_requires_name)
                names = list(cleaner.indices.get(index=f"{prefix}-*", expand_wildcards="all"))
                if names:
                    cleaner.indices.delete(index=",".join(names), ignore_unavailable=True)
                cleaner.close()

        def reopen(self, store: Store) -> Store:
            from catalogue.stores.elasticsearch import ElasticsearchStore

            store.close()
            return ElasticsearchStore(ES_URL or "", prefix=self._prefix)

else:  # one line in the report rather than one per contract test

    def test_store_contract_on_elasticsearch() -> None:
        cases = sum(name.startswith("test_") for name in dir(StoreContract))
        pytest.skip(f"{SKIP_REASON}; {cases} contract tests not run")
