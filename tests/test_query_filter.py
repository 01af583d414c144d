"""``externalIds`` and CQL2 ``filter`` as the query model reads them (``catalogue.query``), and
``externalIds`` over the real corpus: every record found by each identifier it shows, DOIs in every
spelling. The operators a store evaluates are in the store contract (``tests/store_contract.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pygeofilter import ast, values

from catalogue.geojson import DOI_SCHEME, external_ids
from catalogue.query import (
    MAX_EXTERNAL_IDS,
    ExternalId,
    Query,
    QueryError,
    parse_external_ids,
    parse_filter,
)
from catalogue.record import Record
from catalogue.stores.sqlite import SQLiteStore
from harvester import formats
from harvester.raw import RawRecord
from tests.fixtures.api_server import DEMO_ISO19139

DATA = Path(__file__).resolve().parent / "data"

# --- externalIds --------------------------------------------------------------------------------


def test_an_external_id_is_read_as_a_value_and_at_each_colon() -> None:
    assert parse_external_ids("sextant-7") == [ExternalId(value="sextant-7")]
    assert parse_external_ids("ifremer:sextant-7") == [
        ExternalId(value="ifremer:sextant-7"),
        ExternalId("ifremer", "sextant-7"),
    ]
    assert parse_external_ids("urn:uuid:1234") == [
        ExternalId(value="urn:uuid:1234"),
        ExternalId("urn", "uuid:1234"),
        ExternalId("urn:uuid", "1234"),
    ]


def test_a_doi_is_read_in_any_spelling() -> None:
    doi = ExternalId(DOI_SCHEME, "10.12770/sst-gascogne")
    for written in [
        "10.12770/SST-Gascogne",
        "doi:10.12770/sst-gascogne",
        "DOI:10.12770/sst-gascogne",
        "https://doi.org/10.12770/sst-gascogne",
        "http://dx.doi.org/10.12770/SST-GASCOGNE",
        "https://doi.org:10.12770/sst-gascogne",
    ]:
        assert doi in parse_external_ids(written), written
    assert ExternalId(DOI_SCHEME, "10.1/x") not in parse_external_ids("10.1/y")


def test_a_trailing_colon_asks_for_a_scheme_alone() -> None:
    assert parse_external_ids("theia:") == [ExternalId("theia")]
    assert parse_external_ids("doi:") == [ExternalId(DOI_SCHEME)]
    assert parse_external_ids("https://doi.org:") == [ExternalId(DOI_SCHEME)]


def test_external_ids_are_a_comma_list_or_a_list() -> None:
    assert parse_external_ids(None) == parse_external_ids("") == parse_external_ids(" , ") == []
    assert parse_external_ids("a, b,a") == [ExternalId(value="a"), ExternalId(value="b")]
    assert parse_external_ids(["a,b"]) == [ExternalId(value="a,b")]  # as a client's list gave it


def test_too_many_or_too_long_external_ids_are_query_errors() -> None:
    parse_external_ids(",".join(f"id-{n}" for n in range(MAX_EXTERNAL_IDS)))
    with pytest.raises(QueryError, match="at most 100"):
        parse_external_ids(",".join(f"id-{n}" for n in range(MAX_EXTERNAL_IDS + 1)))
    with pytest.raises(QueryError, match="characters long"):
        parse_external_ids("x" * 5000)


# --- filter -------------------------------------------------------------------------------------


def test_no_filter_is_none() -> None:
    assert parse_filter(None) is None
    assert parse_filter("  ") is None


def test_cql2_text_and_json_give_the_same_tree() -> None:
    text = parse_filter("pole = 'AERIS' AND title LIKE '%sea%'", "cql2-text")
    as_json = {
        "op": "and",
        "args": [
            {"op": "=", "args": [{"property": "pole"}, "AERIS"]},
            {"op": "like", "args": [{"property": "title"}, "%sea%"]},
        ],
    }
    assert parse_filter(json.dumps(as_json), "cql2-json") == text
    assert parse_filter(as_json) == text  # a mapping is cql2-json by default
    assert isinstance(text, ast.And)


def test_standard_temporal_functions_are_read() -> None:
    before = parse_filter("T_BEFORE(updated, DATE('2020-01-01'))")
    assert isinstance(before, ast.TimeBefore) and before.lhs == ast.Attribute("updated")
    # Dates and open ends in intervals: pygeofilter's grammar takes timestamps only.
    during = parse_filter("T_DURING(time, INTERVAL('2000-01-01', '..'))")
    assert isinstance(during, ast.TimeDuring) and isinstance(during.rhs, values.Interval)
    assert (during.rhs.start.isoformat()[:19], during.rhs.end.year) == ("2000-01-01T00:00:00", 9999)
    disjoint = parse_filter("T_DISJOINT(time, DATE('2020-01-01'))")
    assert isinstance(disjoint, ast.And) and isinstance(disjoint.lhs, ast.Not)
    # Quoted text is never rewritten.
    quoted = parse_filter("title = 'T_BEFORE(a, b)'")
    assert isinstance(quoted, ast.Equal) and quoted.rhs == "T_BEFORE(a, b)"


def test_json_boxes_and_between_are_read_as_cql2_writes_them() -> None:
    box = {"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": [14, 37, 16, 38]}]}
    assert parse_filter(box).rhs == values.Envelope(x1=14, x2=16, y1=37, y2=38)
    box_3d = {"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": [14, 37, 0, 16, 38, 9]}]}
    assert parse_filter(box_3d).rhs == values.Envelope(x1=14, x2=16, y1=37, y2=38)
    between = parse_filter({"op": "between", "args": [{"property": "created"}, "2001", "2010"]})
    assert (between.low, between.high) == ("2001", "2010")


@pytest.mark.parametrize(
    ("source", "lang", "message"),
    [
        ("title = ", None, "ends too early"),
        ("title === 'x'", None, "unexpected '=' at column 8"),
        ("title = 'x' ((", None, "unexpected '(' at column 13"),
        ("created > DATE('2020-13-01')", None, "month must be in 1..12"),
        ("time T_OVERLAPS DATE('2020-01-01')", None, "T_OVERLAPS is not supported"),
        ("{", "cql2-json", "not valid JSON"),
        ('{"op": "frobnicate", "args": []}', "cql2-json", "not valid CQL2 JSON"),
        ('{"op": "t_overlaps", "args": [{"property": "time"}, {"date": "2020-01-01"}]}', "cql2-json", "t_"),
        ('{"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": [1]}]}', "cql2-json", "bbox"),
        ("[1, 2]", "cql2-json", "must be a condition"),
        ("pole = 'AERIS'", "cql-text", "filter-lang must be one of cql2-text, cql2-json"),
        (
            '{"op":"not","args":[' * 800 + '{"op": "=", "args": [{"property": "pole"}, "x"]}' + "]}" * 800,
            "cql2-json",
            "nested too deeply",
        ),
        ("pole = '" + "x" * 30_000 + "'", None, "longer than"),
    ],
)
def test_a_bad_filter_is_a_query_error_with_a_readable_message(
    source: str, lang: str | None, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(QueryError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_filter(source, lang)
    assert capsys.readouterr() == ("", "")  # no parser state dumped on the console


# --- externalIds over the real corpus -----------------------------------------------------------

# Formats with the corpus files each crosswalk reads; each becomes a source of its own.
_CORPUS = {
    "iso19139": DEMO_ISO19139,
    "datacite": DATA / "datacite",
    "dc": DATA / "dc",
    "dif": DATA / "dif",
    "iso19115-3": DATA / "iso19115-3",
}


def corpus_records() -> list[Record]:
    records = []
    for name, folder in _CORPUS.items():
        crosswalk = formats.get(name)
        for file in sorted(folder.glob("*.xml")):
            content = file.read_bytes()
            raw = RawRecord(source_id=f"corpus-{name}", format=name, content=content, locator=str(file))
            try:
                records.append(crosswalk.to_record(raw, pole="AERIS"))
            except formats.Rejected:
                continue
    return records


def test_every_corpus_record_is_found_by_each_identifier_it_shows(tmp_path: Path) -> None:
    records = corpus_records()
    dois = [i.code for r in records for i in r.identifiers if i.scheme == "doi"]
    assert len(records) > 40 and len(dois) >= 10  # the corpus has records of every format, many with DOIs
    with SQLiteStore(path=tmp_path / "corpus.db") as store:
        store.upsert(records)
        primaries = store.duplicates_of([r.id for r in records])
        for record in records:
            shown = primaries.get(record.id, record.id)  # a duplicate is found through its primary
            # One source gives a JSON-LD document as an identifier's code: no client sends that back.
            for entry in (e for e in external_ids(record) if len(e["value"]) < 2048):
                written = f"{entry['scheme']}:{entry['value']}" if "scheme" in entry else entry["value"]
                for query in ([entry["value"]], [written]):
                    found = store.search(Query(external_ids=parse_external_ids(query), limit=1000)).records
                    assert shown in [r.id for r in found], (record.id, query)
            for identifier in record.identifiers:
                if identifier.scheme == "doi":
                    for written in (f"doi:{identifier.code.upper()}", f"https://doi.org/{identifier.code}"):
                        found = store.search(Query(external_ids=parse_external_ids([written]))).records
                        assert [r.id for r in found] == [shown], (record.id, written)
