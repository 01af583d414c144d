"""The ``ogcapi-records`` protocol against real servers on 127.0.0.1.

Two servers: terracat's own OGC API - Records server (pygeoapi with our provider, serving the demo ISO
19139 records, ``tests/fixtures/api_server.py``), and ``RecordsApi`` (``tests/fixtures/stac_server.py``)
serving the corpus OGC API records with the options pygeoapi's does not have (CQL2 filtering) and the
faults a test scripts. What a test expects is read from what the server serves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import requests

from catalogue.query import Query
from catalogue.store import open_store
from harvester.ledger import open_ledger
from harvester.protocols import create
from harvester.run import HarvestRun
from harvester.source import Source
from tests.fixtures.api_server import demo_catalogue, demo_records, serving
from tests.fixtures.stac_server import Received, RecordsApi, Reply, error, flat, harvest, notes, reply

SINCE = "2022-01-01T00:00:00Z"


def source(url: str, **options: Any) -> Source:
    settings: dict[str, Any] = {"id": "records-test", "page_size": 2, "timeout": 10.0, "retries": 0}
    settings.update(options)
    return Source(pole="AERIS", protocol="ogcapi-records", format="ogcapi-records", url=url, **settings)


@pytest.fixture(scope="module")
def terracat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """terracat's OGC API - Records server over the demo records; yields its base URL."""
    settings = demo_catalogue(tmp_path_factory.mktemp("records-api"), demo_records())
    with serving(settings) as url:
        yield url


def test_terracat_catalogue_is_listed_whole_along_its_next_links(terracat: str) -> None:
    items = requests.get(
        f"{terracat}/collections/catalogue/items", params={"limit": 1000, "f": "json"}, timeout=10
    )
    served = {feature["id"]: feature for feature in items.json()["features"]}
    pages, failure = harvest(source(f"{terracat}/collections/catalogue", page_size=7))
    assert failure is None
    got = flat(pages)
    assert len(served) > 14 and len(pages) == -(-len(served) // 7)
    assert sorted(r.native_id or "" for r in got) == sorted(served)
    for record in got:
        assert msgspec.json.decode(record.content) == served[record.native_id or ""]
        assert record.locator.startswith("items of catalogue page ") and "://" not in record.locator
    assert {page.matched for page in pages} == {len(served)}
    assert pages[-1].checkpoint == {
        "stage": "items",
        "collections": [],
        "announced": len(served),
        "next": None,
        "pages": 0,
        "received": 0,
    }


def test_terracat_landing_page_with_collections(terracat: str) -> None:
    pages, failure = harvest(source(terracat, collections=["catalogue"], page_size=50))
    assert failure is None
    everything = {r.native_id for r in flat(pages)}
    pole = requests.get(f"{terracat}/collections", params={"f": "json"}, timeout=10).json()["collections"][1][
        "id"
    ]
    pages, failure = harvest(source(terracat, collections=[pole], page_size=50))
    assert failure is None
    assert {r.native_id for r in flat(pages)} < everything


def test_terracat_since_is_a_cql2_filter(terracat: str) -> None:
    protocol = create(source(f"{terracat}/collections/catalogue", page_size=50), since=SINCE)
    pages = list(protocol.pages())
    assert protocol.filtered is True  # terracat declares CQL2 text filtering, and updated is a queryable
    items = requests.get(f"{terracat}/collections/catalogue/items", params={"limit": 1000}, timeout=10).json()
    updated = {f["id"]: f["properties"].get("updated") or "" for f in items["features"]}
    recent = {i for i, stamp in updated.items() if stamp[:4] >= SINCE[:4]}
    assert recent and len(recent) < len(updated)
    assert {r.native_id for r in flat(pages)} == recent


# --- the corpus records ------------------------------------------------------------------------------


def test_landing_page_lists_the_record_collections(records_api: Callable[..., RecordsApi]) -> None:
    api = records_api()
    pages, failure = harvest(source(api.url))
    assert failure is None
    assert [r.native_id for r in flat(pages)] == [record["id"] for record in api.records]
    assert not api.asked("/collections/stations/items")  # itemType feature: not a catalogue
    assert [p.position for p in pages] == [
        "items of catalogue page 1",
        "items of catalogue page 2",
        "items of catalogue page 3",
    ]
    assert [r.query for r in api.asked("/collections/catalogue/items")] == [
        {"limit": "2"}, {"limit": "2", "offset": "2"}, {"limit": "2", "offset": "4"}
    ]  # fmt: skip


def test_checkpoints_resume_after_their_page(records_api: Callable[..., RecordsApi]) -> None:
    api = records_api()
    src = source(api.url + "/collections/catalogue")
    pages, _ = harvest(src)
    everything = [r.native_id for r in flat(pages)]
    for index, page in enumerate(pages):
        resumed, failure = harvest(src, resume=page.checkpoint)
        assert failure is None and not notes(resumed)
        assert [r.native_id for r in flat(resumed)] == everything[2 * (index + 1) :]
        assert all(p.matched == len(everything) for p in resumed)
    api.fault = lambda r: error(400, "offset out of range") if r.query.get("offset") else None
    resumed, failure = harvest(src, resume=pages[0].checkpoint)
    assert failure is not None and "offset out of range" in str(failure)  # the restart meets it too
    assert any("the checkpoint no longer works" in note for note in notes(resumed))
    assert [r.native_id for r in flat(resumed)] == everything[:2]


def test_foreign_checkpoint_lists_from_the_start(records_api: Callable[..., RecordsApi]) -> None:
    api = records_api()
    pages, failure = harvest(
        source(api.url), resume={"stage": "items", "collections": ["elsewhere"], "next": None}
    )
    assert failure is None and len(flat(pages)) == len(api.records)
    assert any("not one of this listing" in note for note in notes(pages))


def test_since_filters_where_the_server_can(records_api: Callable[..., RecordsApi]) -> None:
    api = records_api(filter=True)
    protocol = create(source(api.url), since=SINCE)
    pages = list(protocol.pages())
    expected = [r["id"] for r in api.records if r["properties"]["updated"] >= SINCE]
    assert 0 < len(expected) < len(api.records)
    assert [r.native_id for r in flat(pages)] == expected
    assert protocol.filtered is True
    first = api.asked("/collections/catalogue/items")[0].query
    assert first == {"limit": "2", "filter": f"updated >= TIMESTAMP('{SINCE}')", "filter-lang": "cql2-text"}
    # a resumed filtered listing still reports that it saw changes only
    resumed = create(source(api.url), since=SINCE, resume=pages[0].checkpoint)
    assert [r.native_id for p in resumed.pages() for r in p.records] == expected[2:]
    assert resumed.filtered is True


@pytest.mark.parametrize(
    ("options", "note"),
    [
        ({"filter": False}, "declares no CQL2 text filter"),
        ({"filter": True, "queryable_updated": False}, "catalogue has no queryable 'updated'"),
    ],
)
def test_since_without_filter_lists_everything(
    records_api: Callable[..., RecordsApi], options: dict[str, bool], note: str
) -> None:
    api = records_api(**options)
    protocol = create(source(api.url), since=SINCE)
    pages = list(protocol.pages())
    assert [r.native_id for r in flat(pages)] == [record["id"] for record in api.records]
    assert protocol.filtered is False
    assert any(note in n for n in notes(pages))


def test_a_refused_filter_is_dropped(records_api: Callable[..., RecordsApi]) -> None:
    api = records_api(filter=True)
    api.fault = lambda r: error(400, "filter too complex") if "filter" in r.query else None
    protocol = create(source(api.url), since=SINCE)
    pages = list(protocol.pages())
    assert len(flat(pages)) == len(api.records) and protocol.filtered is False
    assert any("refused the filter" in n and "filter too complex" in n for n in notes(pages))


def repeat_second_page(api: RecordsApi) -> Callable[[Received], Reply | None]:
    def fault(request: Received) -> Reply | None:
        if request.query.get("offset") != "2":
            return None
        link = {"rel": "next", "href": f"{api.url}/collections/catalogue/items?limit=2&offset=2"}
        page = {
            "type": "FeatureCollection",
            "features": api.records[2:4],
            "links": [link],
            "numberMatched": 5,
        }
        return reply(page)

    return fault


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (repeat_second_page, "repeats the request of page 2; stopping instead of looping"),
        (
            lambda api: lambda r: reply({"collections": []}) if r.query.get("offset") else None,
            "expected a GeoJSON FeatureCollection, got None",
        ),
        (
            lambda api: lambda r: (200, b"<html>", {}) if r.query.get("offset") else None,
            "the response is not JSON",
        ),
        (lambda api: lambda r: error(503, "maintenance") if r.query.get("offset") else None, "HTTP 503"),
    ],
    ids=["repeating-next", "not-a-featurecollection", "not-json", "503"],
)
def test_listing_failures_end_after_the_last_good_page(
    records_api: Callable[..., RecordsApi],
    fault: Callable[[RecordsApi], Callable[[Received], Reply | None]],
    message: str,
) -> None:
    api = records_api()
    api.fault = fault(api)
    pages, failure = harvest(source(api.url))
    assert failure is not None and message in str(failure) and "items of catalogue page 2" in str(failure)
    expected = 4 if "repeats" in message else 2
    assert [r.native_id for r in flat(pages)] == [record["id"] for record in api.records[:expected]]


def test_no_record_collection_is_a_listing_error(records_api: Callable[..., RecordsApi]) -> None:
    api = records_api()
    api.fault = lambda r: (
        reply({"collections": [{"id": "stations", "itemType": "feature"}], "links": []})
        if r.path == "/collections"
        else None
    )
    pages, failure = harvest(source(api.url))
    assert pages == [] and failure is not None and "no collection has itemType 'record'" in str(failure)


def test_harvest_run_indexes_the_records(
    tmp_path: Path, records_api: Callable[..., RecordsApi], terracat: str
) -> None:
    api = records_api()
    for src, count in (
        (source(api.url), len(api.records)),
        (source(f"{terracat}/collections/catalogue", id="terracat", page_size=10), None),
    ):
        store = open_store({"backend": "sqlite", "path": str(tmp_path / f"{src.id}.db")})
        ledger = open_ledger(tmp_path / f"{src.id}-harvest.db")
        summary = HarvestRun(src, store, ledger, batch_size=3).execute()
        assert summary.status == "succeeded", summary.error
        assert summary.received == (count or summary.matched)
        assert summary.counts["rejected"] == 0, ledger.events(summary.run_id or 0, "rejected")
        indexed = store.search(Query(limit=10_000)).records
        assert sorted(r.native_id for r in indexed) == sorted(r.native_id for r in flat(harvest(src)[0]))
