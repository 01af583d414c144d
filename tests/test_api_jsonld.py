"""FAIR JSON-LD on the live OGC API (``api.linked_data``): the real demo records, enriched with the
shipped thesauri, served by the production stack and read with ``requests`` and pyld.

Clients ask for JSON-LD with ``f=jsonld`` or ``Accept: application/ld+json``; people's browsers get HTML
with the same JSON-LD embedded, which is what search engines and F-UJI read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from pyld import jsonld as pyld

from catalogue import jsonld
from catalogue.record import Record
from tests.fixtures.api_server import demo_catalogue, demo_records, serving
from thesaurus import Thesaurus

THESAURI = Path(__file__).resolve().parent.parent / "config" / "thesauri"
SCHEMA = "https://schema.org/"
DCAT = "http://www.w3.org/ns/dcat#"
DATA_TERRA = "https://w3id.org/data-terra/thesaurus/"
LD = "application/ld+json"
SCRIPT = re.compile(r'<script type="application/ld\+json">(.*?)</script>', re.S)


class Served:
    def __init__(self, url: str, records: dict[str, Record]):
        self.url = url
        self.records = records

    def item_url(self, record_id: str) -> str:
        return f"{self.url}/collections/catalogue/items/{record_id}"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("api-jsonld")
    thesaurus = Thesaurus.load(
        [*sorted(THESAURI.glob("*.rdf")), THESAURI / "data-terra.ttl"], cache_dir=folder / "thesauri"
    )
    records = {rid: thesaurus.enrich(record)[0] for rid, record in demo_records().items()}
    with serving(demo_catalogue(folder, records)) as url:
        yield Served(url, records)


def expanded_values(node: dict, term: str) -> list:
    """The values of an expanded JSON-LD node's property, as plain values or ids."""
    return [v.get("@value", v.get("@id")) for v in node.get(term, [])]


def dataset(document: dict) -> dict:
    """The expanded dataset node of a one-record document."""
    nodes = pyld.flatten(document)
    return next(n for n in nodes if SCHEMA + "Dataset" in n.get("@type", []))


def a_record_with_themes(served: Served) -> Record:
    return next(r for r in served.records.values() if any(c.uri.startswith(DATA_TERRA) for c in r.concepts))


def test_a_record_in_json_ld_by_the_f_parameter(served: Served) -> None:
    record = a_record_with_themes(served)
    response = requests.get(served.item_url(record.id), params={"f": "jsonld"}, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith(LD)
    node = dataset(response.json())
    assert node["@id"] == served.item_url(record.id)
    assert record.title.text in expanded_values(node, SCHEMA + "name")
    themes = expanded_values(node, DCAT + "theme")
    assert any(uri.startswith(DATA_TERRA) for uri in themes)
    assert {c.uri for c in record.concepts} <= set(themes)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (LD, LD),
        (f"{LD}, application/json;q=0.5", LD),
        ("text/html", "text/html"),
        ("application/geo+json", "application/geo+json"),
        ("*/*", "application/geo+json"),
    ],
)
def test_content_negotiation_on_a_record(served: Served, accept: str, expected: str) -> None:
    record = next(iter(served.records.values()))
    response = requests.get(served.item_url(record.id), headers={"Accept": accept}, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].split(";")[0] == expected


def test_a_page_of_records_is_one_graph_with_the_paging_kept(served: Served) -> None:
    url = f"{served.url}/collections/catalogue/items"
    geojson = requests.get(url, params={"limit": 5, "q": "data"}, timeout=10).json()
    response = requests.get(url, params={"limit": 5, "q": "data", "f": "jsonld"}, timeout=10)
    assert response.status_code == 200
    document = response.json()
    assert document["@context"] == jsonld.CONTEXT["@context"]
    expected = [served.item_url(f["id"]) for f in geojson["features"]]
    assert [node["@id"] for node in document["@graph"]] == expected
    assert document["numberMatched"] == geojson["numberMatched"]
    following = next(link for link in document["links"] if link["rel"] == "next")
    assert "f=jsonld" in following["href"] and following["type"] == LD
    again = requests.get(following["href"], timeout=10).json()
    assert {n["@id"] for n in again["@graph"]}.isdisjoint(expected)


def test_errors_stay_ogc_exceptions(served: Served) -> None:
    missing = requests.get(served.item_url("no-such-record"), params={"f": "jsonld"}, timeout=10)
    assert missing.status_code == 404
    assert "code" in missing.json()
    bad = requests.get(
        f"{served.url}/collections/catalogue/items", params={"f": "jsonld", "bbox": "1,2"}, timeout=10
    )
    assert bad.status_code == 400
    assert bad.json()["code"] == "InvalidParameterValue"


def test_the_record_page_embeds_its_json_ld(served: Served) -> None:
    record = a_record_with_themes(served)
    response = requests.get(served.item_url(record.id), params={"f": "html"}, timeout=10)
    assert response.status_code == 200
    head = response.text.split("</head>", 1)[0]
    embedded = SCRIPT.findall(head)
    assert len(embedded) == 1
    node = dataset(json.loads(embedded[0]))
    assert node["@id"] == served.item_url(record.id)
    assert record.title.text in expanded_values(node, SCHEMA + "name")


def test_the_context_is_published(served: Served) -> None:
    response = requests.get(f"{served.url}/context.jsonld", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith(LD)
    assert response.json() == jsonld.CONTEXT


def test_a_catalogue_describes_its_data_terra_themes(served: Served) -> None:
    """With the thesaurus applied, a catalogue's description lists the Data Terra themes of its records
    (the ``theme`` facet's Data Terra buckets), under the Data Terra scheme it declares."""
    description = requests.get(f"{served.url}/collections/odatis", timeout=30).json()
    (themes,) = description["themes"]
    assert themes["scheme"] == DATA_TERRA
    assert DATA_TERRA in [scheme["namespace"] for scheme in description["schemes"]]
    facet = requests.get(
        f"{served.url}/collections/odatis/items", params={"facets": "theme:200", "limit": 1}, timeout=30
    ).json()["facets"]["theme"]
    expected = [b["value"] for b in facet["buckets"] if b["value"].startswith(DATA_TERRA)]
    assert expected and [concept["id"] for concept in themes["concepts"]] == expected
    assert all(concept["title"] and concept["url"] == concept["id"] for concept in themes["concepts"])
    odatis = [r for r in served.records.values() if r.pole == "ODATIS"]
    tagged = {c.uri for r in odatis for c in r.concepts if c.uri.startswith(DATA_TERRA)}
    assert tagged <= set(expected)
