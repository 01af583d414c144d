"""Fuzzing the crosswalks with hypothesis over the real corpus records (issue 8): whatever a source sends,
a crosswalk answers a ``Record`` or ``Rejected`` with a code and a message, never another exception (a
crosswalk bug that the harvest would file as ``crosswalk-error``), and the record it answers can be
written as GeoJSON (what the OGC API serves).

Three mutators, each starting from a real record of every format the corpus holds (ISO 19139 and
19115-3, Dublin Core, DataCite, DIF, STAC, OGC API Records):
- bytes: cut, insert, repeat or overwrite a slice (truncated downloads, wrong encodings, stray bytes);
- XML trees: drop an element, give one odd text (empty, blank, any Unicode XML allows, numbers where
  dates are expected), odd attributes, or move it under another parent;
- JSON values: replace a value anywhere in the document by any JSON value (null, numbers, NaN-free
  floats, strings, nested lists and objects) or drop a key.

Bounded example counts keep the run under a minute; the example database is off, so the run is the same
on every machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lxml import etree

from catalogue.geojson import to_geojson
from catalogue.record import Record
from harvester import formats
from harvester.formats import Rejected
from harvester.raw import RawRecord
from tests.fixtures.corpus import DATA, DEMO_ISO19139, FORMAT_DIRS

CORPUS = {DEMO_ISO19139: "iso19139", **{DATA / folder: name for folder, name in FORMAT_DIRS.items()}}
SAMPLES = [
    (path, name)
    for folder, name in CORPUS.items()
    for path in sorted(folder.iterdir())
    if path.suffix in (".xml", ".json")
]
XML_SAMPLES = [(path, name) for path, name in SAMPLES if path.suffix == ".xml"]
JSON_SAMPLES = [(path, name) for path, name in SAMPLES if path.suffix == ".json"]
CONTENT = {path: path.read_bytes() for path, _ in SAMPLES}

PLAIN = st.text(alphabet="abcxyzABC0123456789 -:./", min_size=1, max_size=40)
FUZZ = settings(
    max_examples=400, deadline=None, database=None, suppress_health_check=list(HealthCheck), derandomize=True
)


def check(content: bytes, name: str, element: Any = None) -> None:
    """The crosswalk's answer: a Record that serialises, or ``Rejected`` with a code and a message."""
    raw = RawRecord(source_id="fuzz", format=name, content=content, locator="fuzz", element=element)
    try:
        record = formats.get(name).to_record(raw, pole="ODATIS")
    except Rejected as rejected:
        assert rejected.code and rejected.message
        return
    assert isinstance(record, Record) and record.id.startswith("fuzz.")
    msgspec.json.encode(to_geojson(record))


def test_the_corpus_covers_every_format() -> None:
    assert {name for _, name in SAMPLES} == set(CORPUS.values())
    assert len(XML_SAMPLES) > 40 and len(JSON_SAMPLES) > 30


# --- bytes -----------------------------------------------------------------------------------------------


@st.composite
def mutated_bytes(draw: st.DrawFn) -> tuple[bytes, str]:
    path, name = draw(st.sampled_from(SAMPLES))
    content = CONTENT[path]
    for _ in range(draw(st.integers(1, 3))):
        start = draw(st.integers(0, len(content)))
        end = draw(st.integers(start, min(len(content), start + 200)))
        kind = draw(st.sampled_from(["cut", "insert", "repeat", "overwrite", "truncate"]))
        noise = draw(st.binary(min_size=1, max_size=40) | PLAIN.map(str.encode))  # plain: often still XML
        if kind == "cut":
            content = content[:start] + content[end:]
        elif kind == "insert":
            content = content[:start] + noise + content[start:]
        elif kind == "repeat":
            content = content[:end] + content[start:end] * draw(st.integers(2, 5)) + content[end:]
        elif kind == "overwrite":
            content = content[:start] + noise + content[start + len(noise) :]
        else:
            content = content[:start]
    return content, name


@FUZZ
@given(mutated_bytes())
def test_mutated_bytes_give_a_record_or_a_rejection(case: tuple[bytes, str]) -> None:
    check(*case)


# --- XML trees -----------------------------------------------------------------------------------------

TEXTS = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "\n\t",
            "0",
            "-1",
            "NaN",
            "1e999",
            "9999-99-99",
            "0000-00-00",
            "2020-02-30T25:61:00Z",
            "../..",
            "http://",
            "doi:",
            "10.",
            "urn:x",
            "-180",
            "181",
            "91",
            "-90.0000001",
            "true",
        ]
    ),
    st.text(st.characters(exclude_categories=("Cs", "Cc")) | st.sampled_from("\n\t"), max_size=60),
    st.text(alphabet="0123456789.-+eE:TZ/ ", max_size=25),
)


@st.composite
def mutated_trees(draw: st.DrawFn) -> tuple[bytes, str]:
    path, name = draw(st.sampled_from(XML_SAMPLES))
    root = etree.fromstring(CONTENT[path])
    elements = [e for e in root.iter() if isinstance(e.tag, str)]
    for _ in range(draw(st.integers(1, 4))):
        element = draw(st.sampled_from(elements))
        kind = draw(st.sampled_from(["drop", "text", "attribute", "move", "children"]))
        if kind == "drop" and element is not root and element.getparent() is not None:
            element.getparent().remove(element)
            elements = [e for e in root.iter() if isinstance(e.tag, str)]
        elif kind == "text":
            element.text = draw(TEXTS)
        elif kind == "attribute":
            names = [*element.attrib.keys(), "codeListValue", "{http://www.w3.org/1999/xlink}href", "id"]
            element.set(draw(st.sampled_from(names)), draw(TEXTS))
        elif kind == "move":
            target = draw(st.sampled_from(elements))
            if element is not root and target is not element and element not in target.iterancestors():
                target.append(element)
                elements = [e for e in root.iter() if isinstance(e.tag, str)]
        else:
            for child in list(element):
                element.remove(child)
            elements = [e for e in root.iter() if isinstance(e.tag, str)]
    return etree.tostring(root), name


@FUZZ
@given(mutated_trees())
def test_mutated_xml_trees_give_a_record_or_a_rejection(case: tuple[bytes, str]) -> None:
    content, name = case
    check(content, name)
    check(content, name, element=etree.fromstring(content))  # as a protocol hands it over, parsed


# --- JSON values ---------------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["", "2020-02-30", "..", "http://", "CC-BY-4.0", "proprietary", "Polygon"]),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)


def _slots(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside a JSON document."""
    out = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _slots(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += _slots(item, (*path, index))
    return out


@st.composite
def mutated_documents(draw: st.DrawFn) -> tuple[bytes, str]:
    path, name = draw(st.sampled_from(JSON_SAMPLES))
    document = msgspec.json.decode(CONTENT[path])
    for _ in range(draw(st.integers(1, 4))):
        slot = draw(st.sampled_from(_slots(document)))
        if not slot:
            document = draw(JSON_VALUES) if draw(st.integers(0, 9)) == 0 else document
            continue
        parent = document
        for step in slot[:-1]:
            parent = parent[step]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[slot[-1]]
        else:
            parent[slot[-1]] = draw(JSON_VALUES)
    return msgspec.json.encode(document), name


def _stac_item(**properties: Any) -> tuple[bytes, str]:
    """A real STAC item of the corpus with ``properties`` changed: inputs the fuzzing found."""
    document = msgspec.json.decode(CONTENT[next(p for p, _ in JSON_SAMPLES if p.parent.name == "stac-item")])
    document.setdefault("properties", {}).update(properties)
    return msgspec.json.encode(document), "stac"


@FUZZ
@given(mutated_documents())
@example(_stac_item(**{"sci:publications": True}))  # found by this test: harvester/formats/stac.py:224
@example(_stac_item(**{"sci:publications": [{"doi": [None]}]}))  # stac.py:225, normalise_doi of a list
def test_mutated_json_documents_give_a_record_or_a_rejection(case: tuple[bytes, str]) -> None:
    content, name = case
    check(content, name)
    check(content, name, element=msgspec.json.decode(content))  # as a protocol hands it over, decoded


@pytest.mark.parametrize("name", ["stac", "ogcapi-records"])
@pytest.mark.parametrize("depth", [2, 300, 990, 5000])
@pytest.mark.parametrize("where", ["geometry", "property", "links"])
def test_deeply_nested_json_gives_a_record_or_a_rejection(name: str, depth: int, where: str) -> None:
    """Arrays nested ``depth`` deep in a real document: read (the geometry's positions are found however
    deep), or ``json-limits`` beyond what the decoder nests; never a RecursionError."""
    path = next(p for p, n in JSON_SAMPLES if n == name and b'"geometry"' in CONTENT[p])
    document = msgspec.json.decode(CONTENT[path])
    raw_nested = b"[" * depth + b"1.5, 2.5" + b"]" * depth
    marker = "@@nested@@"
    if where == "geometry":
        document["geometry"] = {"type": "Polygon", "coordinates": marker}
        document.pop("bbox", None)  # the box comes from the geometry then
        document.get("extent", {}).get("spatial", {}).pop("bbox", None)
    elif where == "property":
        document.setdefault("properties", {})["deep"] = marker
    else:
        document["links"] = [{"rel": "related", "href": marker}]
    content = msgspec.json.encode(document).replace(f'"{marker}"'.encode(), raw_nested)
    check(content, name)
    if where == "geometry" and depth < 900:
        record = formats.get(name).to_record(
            RawRecord(source_id="fuzz", format=name, content=content, locator="fuzz"), pole="ODATIS"
        )
        assert [(b.west, b.south) for b in record.bboxes] == [(1.5, 2.5)]


@pytest.mark.parametrize(("path", "name"), SAMPLES[:: max(1, len(SAMPLES) // 12)], ids=lambda v: str(v)[-40:])
def test_unmutated_corpus_records_give_a_record_or_a_rejection(path: Path, name: str) -> None:
    """The starting points themselves (a sample across the formats)."""
    check(CONTENT[path], name)
