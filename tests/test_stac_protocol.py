"""The ``stac`` protocol against real HTTP servers on 127.0.0.1 serving the corpus STAC documents.

A static catalogue is written in each test from the corpus collections and items (``tests/data/stac-*``)
with relative hrefs, nested catalogs, a STAC 0.8 catalog without ``type``, a link to another host, a
cycle, an item listed twice, a dead link and an ``s3://`` link, and served by ``http.server``. STAC APIs
are played by ``tests/fixtures/stac_server.py`` the way SFEOS, pgstac and CNES GEODES page. What a test
expects is read from what the server serves, never written down twice.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest

from catalogue.query import Query
from catalogue.store import open_store
from harvester.ledger import open_ledger
from harvester.protocols import Page, create
from harvester.run import HarvestRun
from harvester.source import Source
from tests.fixtures.stac_server import (
    STAC_COLLECTIONS,
    STAC_ITEMS,
    Received,
    Reply,
    StacApi,
    StaticServer,
    error,
    flat,
    harvest,
    notes,
    reply,
)

NAVIGATION = {"self", "root", "parent", "child", "item", "items", "collection"}


def source(url: str, **options: Any) -> Source:
    settings: dict[str, Any] = {"id": "stac-test", "page_size": 3, "timeout": 5.0, "retries": 0}
    settings.update(options)
    return Source(pole="THEIA", protocol="stac", format="stac", url=url, **settings)


# --- a static catalogue -------------------------------------------------------------------------------


@dataclass
class Served:
    native_id: str | None
    content: bytes


def _corpus(folder: Path, name: str) -> dict[str, Any]:
    return json.loads((folder / name).read_bytes())


def _write(folder: Path, relative: str, document: Any) -> bytes:
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    content = json.dumps(document, indent=1).encode()
    path.write_bytes(content)
    return content


def _relinked(document: dict[str, Any], links: list[dict[str, str]]) -> dict[str, Any]:
    """The corpus document with its navigation links replaced by those of the catalogue it is put in."""
    kept = [link for link in document.get("links", []) if link.get("rel") not in NAVIGATION]
    return {**document, "links": [*links, *kept]}


# collection id -> (corpus collection file, corpus item files): STAC 0.8.1 to 1.1 items, a 0.9.0
# collection without "type", a 1.0.0-rc.1 one, 1.1 ones.
LAYOUT = {
    "MERRAclim": (
        "pystac__scientific_examples_collection.json",
        ["pystac__envisat.json", "pystac__scientific_examples_item.json"],
    ),
    "sentinel-2": (
        "pystac__1.0.0-RC1_collection-only_collection.json",
        ["pystac__sentinel2-sample.json", "pystac__example-sentinel2.json"],
    ),
    "znz": (
        "pystac__test-case-4_znz_collection.json",
        ["pystac__CBERS_4_MUX_20181029_177_106_L4.json", "pystac__eo-landsat-example.json"],
    ),
    "simple-collection": (
        "stac-spec__examples_collection.json",
        ["stac-spec__core-item.json", "stac-spec__proj-example.json"],
    ),
}


def _collection(folder: Path, base: str, collection: str, served: dict[str, Served]) -> None:
    """``<collection>/collection.json`` and its items under ``items/``; the first item is linked twice."""
    name, item_files = LAYOUT[collection]
    links = [{"rel": "root", "href": "../catalog.json"}, {"rel": "parent", "href": "../catalog.json"}]
    for file in item_files:
        item = _corpus(STAC_ITEMS, file)
        relative = f"{collection}/items/{item['id']}.json"
        item = _relinked(
            {**item, "collection": collection}, [{"rel": "collection", "href": "../collection.json"}]
        )
        served[f"{base}/{relative}"] = Served(f"{collection}/{item['id']}", _write(folder, relative, item))
        links.append({"rel": "item", "href": f"./items/{item['id']}.json"})
    links.append(links[2])
    document = _relinked(_corpus(STAC_COLLECTIONS, name), links)
    served[f"{base}/{collection}/collection.json"] = Served(
        collection, _write(folder, f"{collection}/collection.json", document)
    )


def static_catalogue(folder: Path, other: Path, base: str, other_base: str) -> dict[str, Served]:
    """A catalogue in ``folder`` (served at ``base``) with one collection on another host (``other``);
    returns what each harvested document's URL serves."""
    served: dict[str, Served] = {}
    for collection in ("MERRAclim", "sentinel-2", "znz"):
        _collection(folder, base, collection, served)
    _collection(other, other_base, "simple-collection", served)
    loose = _relinked(
        _corpus(STAC_ITEMS, "stac-spec__collectionless-item.json"),
        [{"rel": "parent", "href": "../catalog.json"}],
    )
    served[f"{base}/loose/item.json"] = Served(
        f"root/{loose['id']}", _write(folder, "loose/item.json", loose)
    )
    _write(folder, "catalog.json", {
        "type": "Catalog", "stac_version": "1.0.0", "id": "root", "description": "test catalogue",
        "links": [
            {"rel": "self", "href": f"{base}/catalog.json"},
            {"rel": "child", "href": "./sub/catalog.json"},
            {"rel": "child", "href": "MERRAclim/collection.json"},
            {"rel": "child", "href": "s3://bucket/elsewhere/catalog.json"},
            {"rel": "child", "href": "./missing/catalog.json"},
            {"rel": "item", "href": "loose/item.json"},
        ],
    })  # fmt: skip
    _write(folder, "sub/catalog.json", {  # STAC 0.8: no "type"
        "stac_version": "0.8.1", "id": "sub", "description": "nested catalog",
        "links": [
            {"rel": "root", "href": "../catalog.json"},
            {"rel": "child", "href": "../catalog.json"},  # a cycle
            {"rel": "child", "href": "../sentinel-2/collection.json"},
            {"rel": "child", "href": f"{other_base}/simple-collection/collection.json"},
            {"rel": "child", "href": "../znz/collection.json#fragment"},
            {"rel": "child", "href": "../MERRAclim/collection.json"},  # visited from the root already
        ],
    })  # fmt: skip
    return served


@pytest.fixture
def catalogue(
    tmp_path: Path, static_server: Callable[[Path], StaticServer]
) -> tuple[StaticServer, StaticServer, dict[str, Served]]:
    main, other = static_server(tmp_path / "main"), static_server(tmp_path / "other")
    served = static_catalogue(tmp_path / "main", tmp_path / "other", main.url, other.url)
    return main, other, served


Catalogue = tuple[StaticServer, StaticServer, dict[str, Served]]


def test_static_catalogue_yields_every_collection_and_item_once(catalogue: Catalogue) -> None:
    main, other, served = catalogue
    pages, failure = harvest(source(main.url + "/catalog.json"), since="2024-01-01T00:00:00Z")
    assert failure is None
    got = flat(pages)
    assert sorted(r.locator for r in got) == sorted(served)  # catalogs are walked, not harvested
    for record in got:
        assert record.native_id == served[record.locator].native_id
        assert record.content == served[record.locator].content  # the document as received
        assert record.format == "stac" and record.element == json.loads(record.content)
    assert all(0 < len(page.records) <= 3 for page in pages[:-1])
    # no URL fetched twice (the cycle, the item linked twice, the fragment), the dead link tried once
    assert len(main.paths) == len(set(main.paths)) and len(other.paths) == len(set(other.paths))
    assert "/missing/catalog.json" in main.paths
    assert any("dead child link" in note and "HTTP 404" in note for note in notes(pages))
    assert any("not http(s) not followed (s3://bucket/elsewhere/catalog.json)" in n for n in notes(pages))
    protocol = create(source(main.url + "/catalog.json"), since="2024-01-01T00:00:00Z")
    list(protocol.pages())
    assert protocol.filtered is False  # a static catalogue cannot say what changed


def test_static_catalogue_limited_to_collections_and_without_items(catalogue: Catalogue) -> None:
    main, _, served = catalogue
    pages, failure = harvest(source(main.url + "/catalog.json", collections=["znz", "simple-collection"]))
    assert failure is None
    expected = {
        url for url, s in served.items() if (s.native_id or "").split("/")[0] in ("znz", "simple-collection")
    }
    assert {r.locator for r in flat(pages)} == expected
    assert not any("/items/" in path for path in main.paths if path.startswith("/MERRAclim"))

    main.paths.clear()
    pages, failure = harvest(source(main.url + "/catalog.json", items=False))
    assert failure is None
    assert sorted(r.native_id for r in flat(pages)) == sorted(
        ["MERRAclim", "sentinel-2", "znz", "simple-collection"]
    )
    assert not any("/items/" in path or path.startswith("/loose") for path in main.paths)


def test_static_collection_as_root(catalogue: Catalogue) -> None:
    main, _, _ = catalogue
    pages, failure = harvest(source(main.url + "/znz/collection.json", page_size=100))
    assert failure is None
    items = ["CBERS_4_MUX_20181029_177_106_L4", "LC08_L1TP_107018_20181001_20181001_01_RT"]
    assert [r.native_id for r in flat(pages)] == ["znz", *(f"znz/{item}" for item in items)]
    assert flat(pages)[1].locator == f"{main.url}/znz/items/{items[0]}.json"


def test_static_walk_resumes_after_its_checkpoint(catalogue: Catalogue) -> None:
    main, _, _ = catalogue
    src = source(main.url + "/catalog.json", page_size=2)
    pages, _ = harvest(src)
    everything = [r.locator for r in flat(pages)]
    for index, page in enumerate(pages[:-1]):
        assert page.checkpoint is not None and page.checkpoint["stage"] == "static"
        json.dumps(page.checkpoint)  # JSON-able
        before = [r.locator for p in pages[: index + 1] for r in p.records]
        resumed, failure = harvest(src, resume=page.checkpoint)
        assert failure is None and not [note for note in notes(resumed) if "root" in note]
        again = [r.locator for r in flat(resumed)]
        rest = everything[len(before) :]
        assert [url for url in again if url in rest] == rest
        # URLs seen before the checkpoint are not remembered: a link back to them walks them again
        assert set(again) - set(rest) <= set(before)
    assert pages[-1].checkpoint == {"stage": "static", "path": []}
    assert harvest(src, resume=pages[-1].checkpoint)[0][0].records == []


def test_static_walk_restarts_when_its_checkpoint_no_longer_fits(catalogue: Catalogue) -> None:
    main, _, served = catalogue
    src = source(main.url + "/catalog.json")
    changed = {
        "stage": "static",
        "path": [{"url": main.url + "/catalog.json", "after": main.url + "/gone.json"}],
    }
    for checkpoint in (changed, {"stage": "items", "collections": []}):
        pages, failure = harvest(src, resume=checkpoint)
        assert failure is None
        assert sorted(r.locator for r in flat(pages)) == sorted(served)
        assert any("walking" in note and "from the root" in note for note in notes(pages))


def test_static_documents_that_are_not_stac(catalogue: Catalogue, tmp_path: Path) -> None:
    main, _, _ = catalogue
    item = tmp_path / "main" / "znz" / "items" / "CBERS_4_MUX_20181029_177_106_L4.json"
    item.write_bytes(b"<html>not json</html>")
    pages, failure = harvest(source(main.url + "/catalog.json", page_size=100))
    assert failure is None
    broken = [r for r in flat(pages) if r.locator.endswith("CBERS_4_MUX_20181029_177_106_L4.json")]
    assert len(broken) == 1 and broken[0].content == b"<html>not json</html>" and broken[0].native_id is None

    (tmp_path / "main" / "znz" / "collection.json").write_bytes(b'{"truncated": ')
    pages, failure = harvest(source(main.url + "/catalog.json", page_size=100))
    assert failure is not None and "znz/collection.json" in str(failure)
    assert "not a STAC Catalog, Collection or Item" in str(failure)
    # what was read before it is handed over, without a checkpoint (the page is not complete)
    assert [page.checkpoint for page in pages] == [None]
    before = [r.native_id or "" for r in flat(pages)]
    assert {native.split("/")[0] for native in before} == {"sentinel-2", "simple-collection"} and len(
        before
    ) == 6

    (tmp_path / "main" / "catalog.json").write_bytes(b"not json")
    pages, failure = harvest(source(main.url + "/catalog.json"))
    assert pages == [] and failure is not None and "not JSON" in str(failure)


# --- STAC APIs -------------------------------------------------------------------------------------------


def expected_api(api: StacApi) -> dict[str, Any]:
    """native id -> object, for everything the API holds."""
    expected: dict[str, Any] = dict(api.collections)
    for collection, items in api.items.items():
        expected.update({f"{collection}/{item['id']}": item for item in items})
    return expected


def check_complete(pages: list[Page], api: StacApi) -> None:
    got = flat(pages)
    expected = expected_api(api)
    assert sorted(r.native_id or "" for r in got) == sorted(expected)
    for record in got:
        assert msgspec.json.decode(record.content) == expected[record.native_id or ""]
        assert record.element == expected[record.native_id or ""]
        assert " page " in record.locator and "://" not in record.locator
    assert pages[-1].matched == len(got)


@pytest.mark.parametrize(
    "style",
    [
        pytest.param({"collections_page": 5}, id="sfeos-post-full-body"),
        pytest.param({"post_next": "merge", "cap": 2, "legacy_context": True}, id="geodes-merge-cap-context"),
        pytest.param({"post_search": False, "collections_page": 100}, id="get-search"),
        pytest.param({"item_search": False}, id="ogcapi-features-items"),
    ],
)
def test_api_lists_collections_then_items(stac_api: Callable[..., StacApi], style: dict[str, Any]) -> None:
    api = stac_api(**style)
    pages, failure = harvest(source(api.url + "/"))
    assert failure is None
    check_complete(pages, api)
    searches = api.asked("/search")
    if not style.get("item_search", True):
        assert not searches and api.asked("/collections/landsat-8-l1/items")
    elif style.get("post_search", True):
        assert {r.method for r in searches} == {"POST"}
        first = searches[0].body
        assert first == {"collections": [next(iter(api.collections))], "limit": 3}
        follow = [r.body for r in searches if r.body.get("page") or r.body.get("token")]
        assert follow and all(body["limit"] == 3 and len(body["collections"]) == 1 for body in follow)
    else:
        assert {r.method for r in searches} == {"GET"} and searches[0].query["limit"] == "3"
    if style.get("cap"):
        assert any("sends 2 features per page although limit=3" in note for note in notes(pages))


def test_api_checkpoints_resume_where_the_run_stopped(stac_api: Callable[..., StacApi]) -> None:
    api = stac_api(cap=1, collections_page=5)
    src = source(api.url)
    pages, _ = harvest(src)
    everything = [r.native_id for r in flat(pages)]
    for index, page in enumerate(pages):
        if page.checkpoint is None:
            assert page.position.startswith("collections")  # collections are listed again on resume
            continue
        msgspec.json.encode(page.checkpoint)
        resumed, failure = harvest(src, resume=page.checkpoint)
        assert failure is None and not [note for note in notes(resumed) if "checkpoint" in note]
        done = sum(len(p.records) for p in pages[: index + 1])
        assert [r.native_id for r in flat(resumed)] == everything[done:]
    mid = next(p.checkpoint for p in pages if p.checkpoint and p.checkpoint["next"])
    assert mid["next"]["method"] == "POST" and mid["next"]["body"]["token"] == 1


def test_api_restarts_a_collection_when_its_next_link_expired(stac_api: Callable[..., StacApi]) -> None:
    api = stac_api(cap=1)
    src = source(api.url)
    pages, _ = harvest(src)
    checkpoint = next(p.checkpoint for p in pages if p.checkpoint and p.checkpoint["next"])
    collection = checkpoint["collections"][0]
    refused: list[Received] = []

    def expire(request: Received) -> Reply | None:
        if request.body and request.body.get("token") and not refused:
            refused.append(request)
            return error(400, "token expired")
        return None

    api.fault = expire
    resumed, failure = harvest(src, resume=checkpoint)
    assert failure is None
    assert any(
        f"listing the items of {collection} again" in note and "token expired" in note
        for note in notes(resumed)
    )
    expected = [
        n
        for n in (r.native_id or "" for r in flat(pages))
        if "/" in n and n.split("/")[0] in checkpoint["collections"]
    ]
    assert [r.native_id for r in flat(resumed)] == expected


def test_api_source_collections_are_fetched_by_id(stac_api: Callable[..., StacApi]) -> None:
    api = stac_api()
    pages, failure = harvest(source(api.url, collections=["znz", "simple-collection"], page_size=10))
    assert failure is None
    assert not api.asked("/collections")
    assert sorted(r.native_id or "" for r in flat(pages)) == sorted(
        [
            "znz",
            "simple-collection",
            *(f"{c}/{i['id']}" for c in ("znz", "simple-collection") for i in api.items[c]),
        ]
    )
    pages, failure = harvest(source(api.url, collections=["no-such-collection"]))
    assert pages == [] and failure is not None
    assert "collection 'no-such-collection'" in str(failure) and "HTTP 404" in str(failure)


def test_api_items_only_when_asked(stac_api: Callable[..., StacApi]) -> None:
    api = stac_api()
    pages, failure = harvest(source(api.url, items=False))
    assert failure is None and not api.asked("/search")
    assert sorted(r.native_id or "" for r in flat(pages)) == sorted(api.collections)


@pytest.mark.parametrize("post", [True, False])
def test_api_filters_on_updated_when_it_declares_cql2(stac_api: Callable[..., StacApi], post: bool) -> None:
    api = stac_api(filter=True, post_search=post)
    since = "2020-01-01T00:00:00Z"
    protocol = create(source(api.url), since=since)
    pages = list(protocol.pages())
    items = [r for r in flat(pages) if "/" in (r.native_id or "")]
    assert items and all((r.datestamp or "") >= "2020" for r in items)
    assert len(items) == sum(
        1 for c in api.items.values() for i in c if (i["properties"].get("updated") or "") >= "2020"
    )
    assert protocol.filtered is True
    search = api.asked("/search")[0]
    expression = search.body["filter"] if post else json.loads(search.query["filter"])
    assert expression == {"op": ">=", "args": [{"property": "updated"}, {"timestamp": since}]}


def test_api_without_filter_lists_everything(stac_api: Callable[..., StacApi]) -> None:
    api = stac_api()
    protocol = create(source(api.url), since="2020-01-01T00:00:00Z")
    pages = list(protocol.pages())
    check_complete(pages, api)
    assert protocol.filtered is False
    assert any("declares no CQL2 filter" in note for note in notes(pages))


def test_api_drops_a_filter_the_server_refuses(stac_api: Callable[..., StacApi]) -> None:
    api = stac_api(filter=True)
    api.fault = lambda r: error(400, "unknown queryable updated") if r.body and "filter" in r.body else None
    protocol = create(source(api.url), since="2020-01-01T00:00:00Z")
    pages = list(protocol.pages())
    check_complete(pages, api)
    assert protocol.filtered is False
    assert any("refused the filter on updated" in n and "unknown queryable" in n for n in notes(pages))


def test_merge_links_carry_their_headers(stac_api: Callable[..., StacApi]) -> None:
    api = stac_api(post_next="merge", cap=1, next_headers={"X-Search-Session": "s-1"})
    pages, failure = harvest(source(api.url))
    assert failure is None
    check_complete(pages, api)
    follow = [r for r in api.asked("/search") if r.body.get("page")]
    assert follow and all(r.headers.get("X-Search-Session") == "s-1" for r in follow)
    assert not [r for r in api.asked("/search") if "page" not in r.body and "X-Search-Session" in r.headers]
    mid = next(p.checkpoint for p in pages if p.checkpoint and p.checkpoint["next"])
    assert mid["next"]["headers"] == {"X-Search-Session": "s-1"}
    assert mid["next"]["body"] == {"collections": [mid["collections"][0]], "limit": 3, "page": 2}


def test_a_collection_short_of_its_total_keeps_the_total(stac_api: Callable[..., StacApi]) -> None:
    api = stac_api()

    def overstated(request: Received) -> Reply | None:
        if request.path == "/search" and request.body["collections"] == ["znz"]:
            return reply({"type": "FeatureCollection", "features": api.items["znz"], "numberMatched": 9})
        return None

    api.fault = overstated
    pages, failure = harvest(source(api.url, page_size=10))
    assert failure is None
    count = len(api.items["znz"])
    assert any(f"the listing ended after {count} of 9 matched features" in note for note in notes(pages))
    assert pages[-1].matched == len(flat(pages)) + 9 - count  # the harvest then deletes nothing


# --- faults ------------------------------------------------------------------------------------------


def fault_on(api: StacApi, collection: str, page: int, answer: Callable[[Received], Reply]) -> None:
    """``answer`` instead of the ``page``-th search page (1-based) of ``collection``."""

    def fault(request: Received) -> Reply | None:
        body = request.body or {}
        if (
            request.path == "/search"
            and body.get("collections") == [collection]
            and body.get("token", 0) == page - 1
        ):
            return answer(request)
        return None

    api.fault = fault


def item_pages_of(pages: list[Page], collection: str) -> list[Page]:
    return [p for p in pages if p.position.startswith(f"items of {collection} ")]


def test_repeating_next_link_stops_after_the_last_good_page(stac_api: Callable[..., StacApi]) -> None:
    api = stac_api(cap=1)
    items = api.items["landsat-8-l1"]

    def same_again(request: Received) -> Reply:
        link = {
            "rel": "next",
            "href": api.url + "/search",
            "method": "POST",
            "body": {**request.body, "token": 1},
        }
        return reply(
            {
                "type": "FeatureCollection",
                "features": items[1:2],
                "links": [link],
                "numberMatched": len(items),
            }
        )

    fault_on(api, "landsat-8-l1", 2, same_again)
    pages, failure = harvest(source(api.url))
    assert failure is not None and "repeats the request of page 2" in str(failure)
    assert "items of landsat-8-l1 page 2" in str(failure)
    assert [r.native_id for r in flat(item_pages_of(pages, "landsat-8-l1"))] == [
        f"landsat-8-l1/{i['id']}" for i in items[:2]
    ]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (lambda r: (200, b'{"type": "FeatureCollection", "features": [{"id": ', {}), "not JSON"),
        (
            lambda r: reply({"type": "Feature", "id": "x"}),
            "expected a GeoJSON FeatureCollection, got 'Feature'",
        ),
        (lambda r: reply({"code": "ServerError"}, content_type="application/json"), "got None"),
        (
            lambda r: reply(
                {
                    "type": "FeatureCollection",
                    "features": [],
                    "links": [{"rel": "next", "href": "/search?token=9"}],
                    "numberMatched": 3,
                }
            ),
            "no features although numberMatched=3",
        ),
        (lambda r: error(500, "database down"), "HTTP 500"),
    ],
    ids=["truncated", "feature", "error-object", "empty-page", "500"],
)
def test_broken_page_fails_the_listing_after_the_pages_before(
    stac_api: Callable[..., StacApi], answer: Callable[[Received], Reply], message: str
) -> None:
    api = stac_api(cap=1)
    fault_on(api, "landsat-8-l1", 2, answer)
    pages, failure = harvest(source(api.url))
    assert failure is not None and message in str(failure)
    assert "items of landsat-8-l1 page 2" in str(failure)
    assert [r.native_id for r in flat(item_pages_of(pages, "landsat-8-l1"))] == [
        f"landsat-8-l1/{api.items['landsat-8-l1'][0]['id']}"
    ]


def test_a_burst_of_500s_is_retried(stac_api: Callable[..., StacApi]) -> None:
    api = stac_api(cap=1)
    failures = iter(range(2))
    fault_on(
        api, "landsat-8-l1", 2, lambda r: error(500, "busy") if next(failures, None) is not None else None
    )  # type: ignore[arg-type,return-value]
    pages, failure = harvest(source(api.url, retries=2))
    assert failure is None
    check_complete(pages, api)


def test_items_without_id_are_still_handed_over(stac_api: Callable[..., StacApi]) -> None:
    api = stac_api()
    item = {key: value for key, value in api.items["znz"][0].items() if key != "id"}
    api.items["znz"][0] = item
    pages, failure = harvest(source(api.url))
    assert failure is None
    nameless = [r for r in flat(pages) if r.native_id is None]
    assert len(nameless) == 1 and msgspec.json.decode(nameless[0].content) == item


def test_next_page_downloads_while_the_page_is_handed_over(stac_api: Callable[..., StacApi]) -> None:
    api = stac_api(cap=1)
    asked = threading.Event()

    def watch(request: Received) -> None:
        if (
            request.path == "/search"
            and request.body.get("collections") == ["landsat-8-l1"]
            and request.body.get("token") == 1
        ):
            asked.set()

    api.fault = lambda r: watch(r)  # type: ignore[func-returns-value]
    pages = create(source(api.url)).pages()
    for page in pages:
        if page.position == "items of landsat-8-l1 page 1":
            assert asked.wait(5)  # requested before the caller asks for the next page
            break
    pages.close()


# --- end to end ----------------------------------------------------------------------------------------


def test_harvest_run_indexes_a_stac_api_and_a_static_catalogue(
    tmp_path: Path, stac_api: Callable[..., StacApi], catalogue: Catalogue
) -> None:
    api = stac_api(collections_page=5, cap=2)
    for src, expected in (
        (source(api.url, id="stac-api"), len(expected_api(api))),
        (source(catalogue[0].url + "/catalog.json", id="stac-static"), len(catalogue[2])),
    ):
        store = open_store({"backend": "sqlite", "path": str(tmp_path / f"{src.id}.db")})
        ledger = open_ledger(tmp_path / f"{src.id}-harvest.db")
        summary = HarvestRun(src, store, ledger, batch_size=7).execute()
        assert summary.status == "succeeded", summary.error
        assert summary.received == expected
        events = ledger.events(summary.run_id or 0)
        rejected = [e for e in events if e.status == "rejected"]
        assert not [e for e in rejected if e.code == "duplicate-identifier"]
        indexed = store.search(Query(limit=10_000)).records
        assert len(indexed) == summary.counts["added"] == expected - len(rejected)
        again = HarvestRun(src, store, ledger).execute()
        assert again.counts["unchanged"] == expected - len(rejected)


def test_harvest_run_incremental_and_continued_after_a_failure(
    tmp_path: Path, stac_api: Callable[..., StacApi]
) -> None:
    """The second run asks for changes only (the API filters on ``updated``) and deletes nothing; a run
    that fails mid-listing is continued from its checkpoint by the next one."""
    api = stac_api(filter=True, cap=1)
    src = source(api.url, id="stac-runs")
    store = open_store({"backend": "sqlite", "path": str(tmp_path / "catalogue.db")})
    ledger = open_ledger(tmp_path / "harvest.db")
    first = HarvestRun(src, store, ledger).execute()
    assert first.status == "succeeded" and first.kind == "full"
    total = len(store.search(Query(limit=10_000)).records)
    second = HarvestRun(src, store, ledger).execute()
    assert second.status == "succeeded" and second.kind == "incremental", second.line()
    assert all("filter" in r.body for r in api.asked("/search")[-len(api.collections) :])
    assert second.received == len(api.collections)  # collections are always listed; no item changed
    assert len(store.search(Query(limit=10_000)).records) == total

    full = HarvestRun(src, store, ledger, full=True)
    api.fault = lambda r: error(500, "down") if r.body and r.body.get("collections") == ["znz"] else None
    failed = full.execute()
    assert failed.status == "failed" and "items of znz page 1" in (failed.error or "")
    api.fault = lambda r: None
    continued = HarvestRun(src, store, ledger, full=True).execute()
    assert continued.status == "succeeded" and continued.resumed_from == failed.run_id
    assert continued.counts["deleted"] == 0
    assert failed.received + continued.received == total  # the continued run went on after the checkpoint
    assert len(store.search(Query(limit=10_000)).records) == total
