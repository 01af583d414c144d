"""OWSLib's OGC API - Records client (what QGIS MetaSearch and many scripts use) against the live server:
discovery, catalogue descriptions, searches with q, bbox, CQL2 filters (text, and JSON posted with
``cql=``) and sortby, paging through ``next`` links, and one record."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from owslib.ogcapi.records import Records

from catalogue.record import Record
from catalogue.stores.sqlite import sort_key
from tests.fixtures.api_server import demo_catalogue, demo_records, serving

ANCHOR_NATIVE_ID = "ie.marine.data:dataset.1135"  # an Irish survey, 2009-06-14 / 2009-06-22


class Served:
    def __init__(self, url: str, records: dict[str, Record]):
        self.url = url
        self.records = records
        self.client = Records(url)

    def anchor(self) -> Record:
        return next(r for r in self.records.values() if r.native_id == ANCHOR_NATIVE_ID)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    records = demo_records()
    with serving(demo_catalogue(tmp_path_factory.mktemp("owslib"), records)) as url:
        yield Served(url, records)


def test_discovery_and_catalogues(served: Served) -> None:
    client = served.client
    assert (
        "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/searchable-catalog"
        in (client.conformance()["conformsTo"])
    )
    assert client.records() == ["catalogue", "aeris", "formater", "odatis", "theia"]
    odatis = client.collection("odatis")
    assert (odatis["type"], odatis["itemType"]) == ("Collection", "record")
    assert odatis["extent"]["temporal"]["interval"][0][0] <= "2009-06-14T00:00:00Z"
    assert {"id", "title", "type"} <= set(client.collection_queryables("odatis")["properties"])


def test_search_with_q_bbox_and_sortby(served: Served) -> None:
    client = served.client
    anchor = served.anchor()
    found = client.collection_items("catalogue", q="climate change survey", bbox=[-11, 51, -9, 53], limit=50)
    assert [f["id"] for f in found["features"]] == [anchor.id]
    by_title = client.collection_items("catalogue", sortby=("title", "desc"), limit=1000)["features"]
    keys = [sort_key(f["properties"]["title"]) for f in by_title]
    assert keys == sorted(keys, reverse=True) and len(keys) == len(served.records)


def test_search_with_cql2_text_and_json_filters(served: Served) -> None:
    client = served.client
    expected = {i for i, r in served.records.items() if r.pole == "THEIA" and r.resource_type == "dataset"}
    assert expected
    text = client.collection_items("catalogue", filter="pole = 'THEIA' AND type = 'dataset'", limit=100)
    assert {f["id"] for f in text["features"]} == expected
    cql2_json = {
        "op": "and",
        "args": [
            {"op": "=", "args": [{"property": "pole"}, "THEIA"]},
            {"op": "in", "args": [{"property": "type"}, ["dataset"]]},
        ],
    }
    posted = client.collection_items("catalogue", cql=cql2_json, limit=100)
    assert {f["id"] for f in posted["features"]} == expected
    with pytest.raises(RuntimeError, match="not valid CQL2"):
        client.collection_items("catalogue", filter="pole = ")


def test_paging_follows_next_links(served: Served) -> None:
    client = served.client
    seen: list[str] = []
    page = client.collection_items("theia", limit=4)
    while True:
        seen.extend(f["id"] for f in page["features"])
        following = [link["href"] for link in page["links"] if link["rel"] == "next"]
        if not following:
            break
        page = client._request(path=following[0].removeprefix(f"{served.url}/"))
    theia = sorted(i for i, r in served.records.items() if r.pole == "THEIA")
    assert seen == theia


def test_one_record(served: Served) -> None:
    anchor = served.anchor()
    item = served.client.collection_item("odatis", anchor.id)
    assert item["properties"]["title"] == "CE0911 Climate Change Survey"
    assert [link["href"] for link in item["links"] if link["rel"] == "collection"] == [
        f"{served.url}/collections/odatis"
    ]
    with pytest.raises(RuntimeError, match="NotFound"):
        served.client.collection_item("aeris", anchor.id)  # an ODATIS record is not in AERIS' catalogue
