"""The Elasticsearch ledger: the ledger contract against a real server (when ``TERRACAT_TEST_ES_URL``
names one), and, with no server, the documents and request bodies it builds and the config that names it.
"""

from __future__ import annotations

import base64
import os
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from api import settings as config
from catalogue.stores.elasticsearch import ElasticsearchStore, StoreWriteError, _already_deleted
from harvester.ledger import Event, Listing, RunInfo, RunOverlap, check_settings, local_dir
from harvester.ledgers import elasticsearch as es
from harvester.ledgers.elasticsearch import MAPPINGS, ElasticsearchLedger
from tests.ledger_contract import LedgerContract, MakeLedger, demo_raws

ES_URL = os.environ.get("TERRACAT_TEST_ES_URL")
SKIP_REASON = (
    "Elasticsearch leg skipped: set TERRACAT_TEST_ES_URL=http://host:9200 to run the ledger contract against"
    " a real server (none can be installed on this machine)"
)


@pytest.fixture
def make_ledger() -> Iterator[MakeLedger]:
    """New ledgers under prefixes of their own, their indexes deleted afterwards."""
    assert ES_URL is not None
    made: list[ElasticsearchLedger] = []

    def make() -> ElasticsearchLedger:
        made.append(ElasticsearchLedger(ES_URL, prefix=f"terracat-test-{uuid.uuid4().hex[:10]}", lock_ttl=3))
        return made[-1]

    yield make
    for ledger in made:
        # by name: clusters refuse wildcard deletions (action.destructive_requires_name)
        ledger.client.indices.delete(index=",".join(ledger.index.values()), ignore_unavailable=True)
        ledger.close()


if ES_URL:

    class TestElasticsearchLedger(LedgerContract):
        def reopen(self, ledger: object) -> ElasticsearchLedger:
            assert isinstance(ledger, ElasticsearchLedger) and ES_URL is not None
            return ElasticsearchLedger(ES_URL, prefix=ledger.prefix, lock_ttl=ledger.lock_ttl)

        def test_the_lock_of_a_dead_holder_expires(self, make_ledger: MakeLedger) -> None:
            ledger = make_ledger()
            assert isinstance(ledger, ElasticsearchLedger)
            lease = {"source_id": "demo", "owner": "dead", "holder": "gone pid 1", "expires": time.time() + 1}
            ledger.client.index(index=ledger.index["locks"], id="demo", document=lease, refresh=True)
            with pytest.raises(RunOverlap), ledger.lock("demo"):
                pass
            time.sleep(1.5)
            with ledger.lock("demo"):  # expired: taken over
                held = ledger.client.get(index=ledger.index["locks"], id="demo")["_source"]
                assert held["owner"] != "dead"
            assert not ledger.client.exists(index=ledger.index["locks"], id="demo")

        def test_a_long_run_keeps_its_lock(self, make_ledger: MakeLedger) -> None:
            """The lease is renewed (every lock_ttl / 3 s) while the run holds it."""
            ledger = make_ledger()
            elsewhere = self.reopen(ledger)
            with ledger.lock("demo"):
                time.sleep(2 * ledger.lock_ttl)  # type: ignore[attr-defined]
                with pytest.raises(RunOverlap), elsewhere.lock("demo"):
                    pass
            elsewhere.close()

        def test_the_indexes_are_created_once_with_their_mappings(self, make_ledger: MakeLedger) -> None:
            ledger = make_ledger()
            assert isinstance(ledger, ElasticsearchLedger)
            again = self.reopen(ledger)  # the indexes exist: left as they are
            for kind, name in ledger.index.items():
                mapping = ledger.client.indices.get_mapping(index=name)[name]["mappings"]
                assert mapping["dynamic"] == "strict" and set(mapping["properties"]) == set(MAPPINGS[kind])
            assert ElasticsearchLedger.exists(ES_URL, prefix=ledger.prefix)  # type: ignore[arg-type]
            assert not ElasticsearchLedger.exists(ES_URL, prefix="terracat-test-none")  # type: ignore[arg-type]
            again.close()

    # --- no server needed ------------------------------------------------------------------------------

else:  # one line in the report rather than one per contract test

    def test_ledger_contract_on_elasticsearch() -> None:
        cases = sum(name.startswith("test_") for name in dir(LedgerContract))
        pytest.skip(f"{SKIP_REASON}; {cases} contract tests not run")


def test_every_document_fits_its_strict_mapping() -> None:
    """Each builder makes exactly the fields its index maps (a strict mapping refuses any other)."""
    rid, key, raw = demo_raws(count=1)[0]
    run = RunInfo(
        id=3,
        source_id="demo",
        started="2024-05-01T10:00:00Z",
        finished=None,
        status="running",
        listing_complete=False,
        matched=None,
        counts={},
        error=None,
    )
    documents = {
        "raw": es.raw_document(3, rid, key, raw),
        "runs": es.run_document(run),
        "events": es.event_document(3, 1, Event(rid, key, "added")),
        "unmapped": es.unmapped_document(rid, "demo", [("houle", "")]),
        "listings": {"source_id": "demo", "watermark": None, "listing": None},
        "seen": {"source_id": "demo", "record_id": rid},
    }
    for kind, document in documents.items():
        assert set(document) == set(MAPPINGS[kind]), kind
    nested = MAPPINGS["unmapped"]["keywords"]["properties"]
    assert all(set(k) == set(nested) for k in documents["unmapped"]["keywords"])
    listing = es.listing_document(Listing(3, "full", None, "2024-05-01T10:00:00Z", {"page": 2}, 10))
    assert set(listing) == {"run_id", "kind", "since", "watermark", "checkpoint", "received"}
    for kind in MAPPINGS:
        body = es.index_body(kind, "0-1")
        assert body["mappings"] == {"dynamic": "strict", "properties": MAPPINGS[kind]}
        assert body["settings"] == {"number_of_shards": 1, "auto_expand_replicas": "0-1"}


def test_raw_bytes_are_compressed_then_base64_and_never_indexed() -> None:
    assert MAPPINGS["raw"]["content"] == {"type": "binary"}
    for rid, key, raw in demo_raws(count=8):
        document = es.raw_document(7, rid, key, raw)
        packed = base64.b64decode(document["content"], validate=True)
        assert zlib.decompress(packed) == raw.content
        assert len(document["content"]) < len(raw.content)  # ISO XML shrinks even after base64
        back = es.raw_of(document)
        assert (back.content, back.digest, back.native_id, back.locator) == (
            raw.content,
            raw.digest,
            key,
            rid,
        )
        assert (back.source_id, back.format, back.datestamp) == (raw.source_id, raw.format, raw.datestamp)
        assert document["digest"] == raw.digest and document["run_id"] == 7


def test_runs_events_and_listings_round_trip() -> None:
    run = RunInfo(
        id=12,
        source_id="sextant",
        started="2024-05-01T10:00:00Z",
        finished="2024-05-01T10:05:00Z",
        status="succeeded",
        listing_complete=True,
        matched=1200,
        counts={"added": 1199, "rejected": 1},
        error=None,
        kind="incremental",
        resumed_from=11,
        notes=["deletion withheld"],
    )
    assert es.run_of(es.run_document(run)) == run
    event = Event(None, "page 3, record 7", "rejected", "not-iso", "no MD_Metadata root")
    assert es.event_of(es.event_document(12, 5, event)) == event
    listing = Listing(12, "incremental", "2024-04-01T00:00:00Z", "2024-05-01T10:00:00Z", {"token": "a/b"}, 40)
    document = es.listing_document(listing)
    assert document["checkpoint"] == '{"token":"a/b"}'  # JSON text: never mapped, never searched
    assert es.listing_of(document) == listing
    assert es.listing_of(es.listing_document(Listing(1, "full", None, "w", None, 0))) == Listing(
        1, "full", None, "w", None, 0
    )
    assert es.listing_of(None) is None


def test_document_ids_fit_elasticsearch() -> None:
    assert es.doc_id("odatis:urn:uuid:1f2e/é") == "odatis:urn:uuid:1f2e/é"
    long = "theia:" + "é" * 300  # 606 bytes
    hashed = es.doc_id(long)
    assert hashed.startswith("sha256:") and len(hashed.encode()) <= 512
    assert hashed == es.doc_id(long) != es.doc_id(long + "x")
    assert es.doc_id("x" * 512) == "x" * 512


def test_the_unmapped_report_is_aggregated_exactly() -> None:
    first = es.unmapped_aggregation(None)
    composite = first["keywords"]["aggs"]["groups"]["composite"]
    assert first["keywords"]["nested"] == {"path": "keywords"}
    assert [next(iter(s)) for s in composite["sources"]] == ["source", "label", "thesaurus"]
    assert "after" not in composite
    after = {"source": "demo", "label": "houle", "thesaurus": ""}
    assert es.unmapped_aggregation(after)["keywords"]["aggs"]["groups"]["composite"]["after"] == after
    buckets = [
        {"key": {"source": "b", "label": "houle", "thesaurus": ""}, "doc_count": 2},
        {"key": {"source": "a", "label": "marée", "thesaurus": "GEMET"}, "doc_count": 2},
        {"key": {"source": "a", "label": "houle", "thesaurus": ""}, "doc_count": 5},
        {"key": {"source": "a", "label": "algue", "thesaurus": ""}, "doc_count": 1},
    ]
    assert es.most_frequent(buckets, 3) == [
        ("a", "houle", "", 5),
        ("a", "marée", "GEMET", 2),
        ("b", "houle", "", 2),
    ]


def test_bulk_errors_name_the_refused_items() -> None:
    response = {
        "errors": True,
        "items": [
            {"index": {"_index": "t-raw", "_id": "a", "status": 201, "result": "created"}},
            {"delete": {"_index": "t-unmapped", "_id": "b", "status": 404, "result": "not_found"}},
            {
                "index": {
                    "_index": "t-events",
                    "_id": "c",
                    "status": 400,
                    "error": {"type": "strict_dynamic_mapping_exception", "reason": "mapping set to strict"},
                }
            },
        ],
    }
    assert es.bulk_errors(response) == ["index t-events/c: mapping set to strict"]
    assert es.bulk_errors({"errors": False, "items": response["items"][:2]}) == []


def test_event_sequence_numbers_increase_across_threads() -> None:
    clock = es._Clock()
    drawn: list[list[int]] = [[] for _ in range(4)]

    def draw(out: list[int]) -> None:
        out.extend(clock.next() for _ in range(2000))

    threads = [threading.Thread(target=draw, args=(out,)) for out in drawn]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [n for out in drawn for n in out]
    assert len(set(every)) == len(every) == 8000
    assert all(out == sorted(out) for out in drawn)
    assert clock.next() > max(every)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"prefix": "Terracat"}, "lower-case"),
        ({"refresh": "false"}, "refresh must be one of"),
        ({"lock_ttl": 1}, "at least 3 seconds"),
    ],
)
def test_bad_options_are_refused_before_connecting(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ElasticsearchLedger("http://127.0.0.1:9", **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    [
        "http://terracat:s3cret@127.0.0.1:9",
        "http://127.0.0.1:9,https://u:s3cret@es2:9200",
        "u:s3cret@es:9200",
    ],
)
def test_credentials_in_the_url_are_refused_without_being_quoted(url: str) -> None:
    """The client would turn ``user:password@`` into a header, but the secret would sit in the config
    and in any message quoting the URL: refused, the message naming the right options, not the URL."""
    for open_backend in (ElasticsearchLedger, ElasticsearchStore):
        with pytest.raises(ValueError, match="password_env") as error:
            open_backend(url)
        assert "s3cret" not in str(error.value)


def test_a_refused_bulk_write_names_the_items_and_a_vanished_delete_is_none() -> None:
    """Items as the bulk API answers them (``streaming_bulk`` yields them without raising)."""
    busy = {
        "index": {
            "_index": "terracat-records-v1",
            "_id": "a.b",
            "status": 429,
            "error": {"type": "es_rejected_execution_exception", "reason": "rejected execution"},
        }
    }
    gone = {"delete": {"_index": "terracat-records-v1", "_id": "a.c", "status": 404, "result": "not_found"}}
    assert _already_deleted(gone) and not _already_deleted(busy)
    error = StoreWriteError([busy])
    assert str(error) == "Elasticsearch refused 1 writes; index a.b: rejected execution"
    assert error.refused == [busy]


def test_check_config_accepts_the_documented_config(capsys: pytest.CaptureFixture[str]) -> None:
    from api.cli import main

    docs = Path(__file__).resolve().parent.parent / "docs"
    assert main(["check-config", str(docs / "terracat.elasticsearch.yaml")]) == 0
    assert "OK (1 sources, store elasticsearch)" in capsys.readouterr().out


def write_config(tmp_path: Path, ledger: object) -> Path:
    text = yaml.safe_dump(
        {"store": {"backend": "sqlite", "path": "catalogue.db"}, "harvest": {"ledger": ledger}}
    )
    path = tmp_path / "terracat.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_config_names_an_elasticsearch_ledger(tmp_path: Path) -> None:
    ledger = {
        "backend": "elasticsearch",
        "url": "https://es.example.org:9200",
        "prefix": "dt",
        "cache_dir": "cache",
    }
    settings = config.load(write_config(tmp_path, ledger))
    resolved = settings.harvest.ledger
    assert isinstance(resolved, dict)
    assert resolved["cache_dir"] == str(tmp_path / "cache")  # relative to the config, as paths are
    assert resolved["url"] == "https://es.example.org:9200"
    assert local_dir(resolved) == tmp_path / "cache"
    assert check_settings(resolved) is None


@pytest.mark.parametrize(
    ("ledger", "key", "message", "line"),
    [
        (
            {"backend": "elasticsearch", "prefix": "dt"},
            "harvest.ledger.url",
            "backend elasticsearch needs 'url'",
            "ledger:",  # a missing key: the section's line
        ),
        (
            {"backend": "elasticsearch", "url": "http://es:9200", "passwd_env": "X"},
            "harvest.ledger.passwd_env",
            "unknown key 'passwd_env' for backend elasticsearch",
            "passwd_env: X",
        ),
        ({"backend": "redis"}, "harvest.ledger.backend", "unknown backend 'redis'", "backend: redis"),
        (12, "harvest.ledger", "Expected `str | object`", "ledger: 12"),
    ],
)
def test_a_bad_ledger_section_names_its_line(
    tmp_path: Path, ledger: object, key: str, message: str, line: str
) -> None:
    path = write_config(tmp_path, ledger)
    with pytest.raises(config.ConfigError) as error:
        config.load(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert error.value.key == key and message in error.value.message
    assert error.value.line is not None and lines[error.value.line - 1].strip() == line


def test_the_documented_deployment_is_consistent() -> None:
    """docs/: the config the compose file serves is valid, and what the compose file and the Dockerfile
    name exists."""
    docs = Path(__file__).resolve().parent.parent / "docs"
    settings = config.load(docs / "terracat.elasticsearch.yaml")
    assert settings.store["backend"] == "elasticsearch"
    assert isinstance(settings.harvest.ledger, dict) and settings.harvest.ledger["backend"] == "elasticsearch"
    assert "password" not in yaml.safe_dump(settings.store).replace("password_env", "")
    compose = yaml.safe_load((docs / "docker-compose.yml").read_text(encoding="utf-8"))
    terracat = compose["services"]["terracat"]
    context = docs / terracat["build"]["context"]  # relative to the compose file
    assert context.resolve() == docs.parent and (context / terracat["build"]["dockerfile"]).is_file()
    assert "docs/terracat.elasticsearch.yaml" in terracat["command"]
    assert set(terracat["environment"]) >= {settings.store["password_env"]}
    for line in (docs / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if line.startswith("COPY "):
            assert all((docs.parent / name).exists() for name in line.split()[1:-1]), line
