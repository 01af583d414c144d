"""The Elasticsearch mapping and the Record <-> document conversion (no server needed)."""

from __future__ import annotations

import re

import msgspec
import pytest

from catalogue.record import BBox, Identifier, Keyword, Link, TemporalExtent
from catalogue.stores import es_mapping
from catalogue.stores.es_mapping import MAPPING, SETTINGS, from_document, index_body, to_document
from harvester import formats
from harvester.formats import Rejected
from harvester.raw import RawRecord
from tests.fixtures.corpus import DATA, DEMO_ISO19139, FORMAT_DIRS
from tests.store_contract import (
    AEROSOLS,
    DATA_TERRA,
    EARTH_SCIENCE,
    _record,
    argo,
    catalogue_records,
    faceted_polder,
    faceted_sst,
    iasi,
    ice,
    wms,
)

CORPUS = {DEMO_ISO19139: "iso19139", **{DATA / folder: name for folder, name in FORMAT_DIRS.items()}}


def corpus_records() -> list:
    out = []
    for folder, name in CORPUS.items():
        crosswalk = formats.get(name)
        for path in sorted(folder.iterdir()):
            if path.suffix not in (".xml", ".json"):
                continue
            raw = RawRecord(source_id="corpus", format=name, content=path.read_bytes(), locator=str(path))
            try:
                out.append(crosswalk.to_record(raw))
            except Rejected:
                continue
    return out


def test_every_document_field_is_mapped_and_the_mapping_is_strict() -> None:
    documents = [to_document(r, 1) for r in [*catalogue_records(), faceted_sst(), faceted_polder()]]
    used = {name for doc in documents for name in doc}
    assert used <= set(MAPPING["properties"])
    assert MAPPING["dynamic"] == "strict"
    assert {"record", "seq", "group_keys", "id", "title_text", "geometry", "temporal", "years"} <= used


def test_raw_record_is_stored_not_indexed_and_theme_facts_likewise() -> None:
    assert MAPPING["properties"]["record"] == {"type": "object", "enabled": False}
    assert MAPPING["properties"]["theme_facts"]["enabled"] is False


def test_field_types_serve_space_time_sorting_and_facets() -> None:
    props = MAPPING["properties"]
    assert props["geometry"]["type"] == "geo_shape"
    assert props["temporal"]["type"] == "date_range"
    assert props["years"]["type"] == "integer_range"
    for code in ("id", "pole", "source", "type", "language", "themes", "theme_buckets", "duplicate_of"):
        assert props[code]["type"] == "keyword", code
    assert props["title_key"] == {"type": "keyword", "normalizer": "folding"}
    assert props["seq"]["type"] == "long"
    for text in ("title_text", "abstract_text", "keyword_text", "other_text"):
        assert props[text]["analyzer"] == "folded"
        assert props[text]["fields"]["fr"]["analyzer"] == "french_light"
        assert props[text]["fields"]["en"]["analyzer"] == "english_light"


def test_analyzers_fold_case_and_accents_and_stem_lightly() -> None:
    analysis = SETTINGS["analysis"]
    assert analysis["analyzer"]["folded"]["filter"] == ["lowercase", "asciifolding"]
    assert analysis["tokenizer"]["words"]["type"] == "pattern"
    french = analysis["analyzer"]["french_light"]["filter"]
    assert french[0] == "fr_elision" and "asciifolding" in french
    assert analysis["filter"]["fr_light_stem"]["language"] == "light_french"
    assert analysis["filter"]["en_light_stem"]["language"] == "light_english"
    assert "l" in analysis["filter"]["fr_elision"]["articles"]
    assert analysis["normalizer"]["folding"]["filter"] == ["lowercase", "asciifolding"]
    assert index_body() == {"settings": SETTINGS, "mappings": MAPPING}


def test_an_antimeridian_box_is_two_envelopes() -> None:
    doc = to_document(argo(), 7)
    assert doc["geometry"] == [
        {"type": "envelope", "coordinates": [[170.0, 10.0], [180.0, -20.0]]},
        {"type": "envelope", "coordinates": [[-180.0, 10.0], [-170.0, -20.0]]},
        {"type": "envelope", "coordinates": [[140.0, 30.0], [150.0, 20.0]]},
    ]
    assert doc["n_boxes"] == 3
    assert (min(doc["lon_min"]), max(doc["lon_max"])) == (-180.0, 180.0)
    assert doc["seq"] == 7


def test_a_degenerate_box_is_a_point_or_a_line() -> None:
    station = _record(
        "theia-oso.station",
        title=wms().title,
        bboxes=[BBox(2.0, 45.0, 2.0, 45.0), BBox(1.0, 44.0, 3.0, 44.0)],
    )
    assert to_document(station, 1)["geometry"] == [
        {"type": "point", "coordinates": [2.0, 45.0]},
        {"type": "linestring", "coordinates": [[1.0, 44.0], [3.0, 44.0]]},
    ]


def test_temporal_extents_are_date_ranges_with_open_ends_unbounded() -> None:
    assert to_document(iasi(), 1)["temporal"] == [{"gte": "2007-10-01T00:00:00Z"}]
    assert to_document(ice(), 1)["temporal"] == [{"lte": "1950-12-31T23:59:59Z"}]
    doc = to_document(argo(), 1)
    assert doc["temporal"] == [
        {"gte": "2001-01-01T00:00:00Z", "lte": "2005-12-31T23:59:59Z"},
        {"gte": "2015-01-01T00:00:00Z", "lte": "2016-12-31T23:59:59Z"},
    ]
    assert (doc["time_start"], doc["time_end"]) == ("2001-01-01T00:00:00Z", "2016-12-31T23:59:59Z")
    assert to_document(ice(), 1)["time_start"] == "0000-01-01T00:00:00Z"  # an open start sorts first
    assert "temporal" not in to_document(wms(), 1) and "time_start" not in to_document(wms(), 1)
    assert to_document(iasi(), 1)["years"] == [{"gte": 2007}]


def test_concepts_carry_their_ancestors_as_keywords() -> None:
    doc = to_document(faceted_polder(), 1)
    assert AEROSOLS in doc["themes"] and EARTH_SCIENCE in doc["themes"]
    assert doc["theme_buckets"] == [DATA_TERRA + "atmosphere"]
    assert "AEROSOLS" in doc["other_text"]  # an ancestor's label is searchable
    sst = to_document(faceted_sst(), 1)
    assert sst["theme_facts"][DATA_TERRA + "physical-oceanography"]["parent"] == DATA_TERRA + "ocean"
    assert sst["formats"] == ["NetCDF"] and sst["license"] == "CC-BY-4.0"


def test_codes_keys_and_identifiers() -> None:
    doc = to_document(faceted_sst(), 3)
    assert (doc["pole"], doc["source"], doc["type"], doc["language"]) == (
        "ODATIS",
        "odatis-sextant",
        "dataset",
        "fr",
    )
    assert doc["title_key"] == "temperature de surface de la mer - golfe de gascogne"
    assert "oceans" not in doc["keyword_keys"] and "ocean" in doc["keyword_keys"]
    assert "https://doi.org\x1f10.12770/sst-gascogne" in doc["xid_own"]
    assert "odatis-sextant\x1fsst-gascogne" in doc["xid_all"]
    assert "odatis-sextant\x1fsst-gascogne" not in doc["xid_own"]
    assert doc["group_keys"] and "duplicate_of" not in doc
    assert (doc["fair_score"], doc["fair_level"]) == (64, "moderate")


def test_a_record_that_would_not_come_back_is_refused() -> None:
    broken = _record("odatis-sextant.casse", title=wms().title, links=[Link(url=object())])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        to_document(broken, 1)


def test_a_corpus_record_round_trips_through_its_document() -> None:
    records = corpus_records()
    assert len(records) > 50
    for record in records:
        doc = to_document(record, 1)
        assert from_document(doc) == record, record.id
        # through JSON, as Elasticsearch returns ``_source``
        assert from_document(msgspec.json.decode(msgspec.json.encode(doc))) == record, record.id
        assert set(doc) <= set(MAPPING["properties"])


def test_contract_records_round_trip_with_every_shape_of_time() -> None:
    odd = _record(
        "theia-oso.odd", title=wms().title, temporal=[TemporalExtent(start="2020-01-01T01:00:00+02:00")]
    )
    for record in [*catalogue_records(), odd]:
        assert from_document(to_document(record, 5)) == record
    assert to_document(odd, 1)["temporal"] == [{"gte": "2019-12-31T23:00:00Z"}]


def test_keys_longer_than_lucene_takes_are_cut() -> None:
    long_title = _record("theia-oso.long", title=msgspec.structs.replace(wms().title, text="x" * 50_000))
    assert len(to_document(long_title, 1)["title_key"]) == es_mapping.MAX_KEY_CHARS


# --- what Elasticsearch would refuse -------------------------------------------------------------
# A document whose value does not fit its field's type is refused whole (and with it, in the store's
# bulk writes, a harvest batch): checked here field by field, as the server checks them.

LUCENE_MAX_TERM_BYTES = 32_766


def _refusal(mapping: dict, value: object) -> str | None:
    """Why Elasticsearch would refuse ``value`` for a field mapped ``mapping`` (``None``: it takes it)."""
    if isinstance(value, list):
        return next((why for v in value if (why := _refusal(mapping, v))), None)
    kind = mapping.get("type", "object")
    if kind == "keyword":
        if not isinstance(value, str):
            return f"keyword {value!r}"
        return "immense term" if len(value.encode()) > LUCENE_MAX_TERM_BYTES else None
    if kind in ("text", "wildcard"):
        return None if isinstance(value, str) else f"{kind} {value!r}"
    if kind in ("integer", "long"):
        return None if isinstance(value, int) and not isinstance(value, bool) else f"{kind} {value!r}"
    if kind == "double":
        return None if isinstance(value, int | float) and not isinstance(value, bool) else f"double {value!r}"
    if kind in ("date_range", "integer_range"):
        if not isinstance(value, dict) or not set(value) <= {"gte", "lte"}:
            return f"{kind} {value!r}"
        if kind == "date_range" and not all(
            re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", v) for v in value.values()
        ):
            return f"not strict_date_time_no_millis: {value!r}"
        if "gte" in value and "lte" in value and value["gte"] > value["lte"]:
            return f"min value greater than max value: {value!r}"  # Lucene's range fields refuse it
        return None
    if kind == "geo_shape":
        return _shape_refusal(value)
    if kind == "object" and mapping.get("enabled") is False:
        return None if isinstance(value, dict) else f"object {value!r}"
    return f"unexpected mapping {mapping!r}"


def _shape_refusal(shape: object) -> str | None:
    if not isinstance(shape, dict) or shape.get("type") not in ("point", "linestring", "envelope"):
        return f"geo_shape {shape!r}"
    points = shape["coordinates"] if shape["type"] != "point" else [shape["coordinates"]]
    if not all(-180 <= lon <= 180 and -90 <= lat <= 90 for lon, lat in points):
        return f"coordinates out of range: {shape!r}"
    if shape["type"] == "envelope":
        (west, north), (east, south) = points  # [[minLon, maxLat], [maxLon, minLat]]
        if west > east or south > north:
            return f"envelope not in [[minLon, maxLat], [maxLon, minLat]] order: {shape!r}"
    if shape["type"] == "linestring" and points[0] == points[1]:
        return f"a line of one point: {shape!r}"
    return None


def _refusals(document: dict) -> dict[str, str]:
    properties = MAPPING["properties"]
    return {
        name: why
        for name, value in document.items()
        if (why := _refusal(properties[name], value)) is not None
    }


def hostile_records() -> list:
    """What sources send that a strict server refuses: an extent ending before it begins (the
    crosswalks keep it, noting a problem), keywords, platforms and identifiers beyond Lucene's term
    limit, boxes off the globe."""
    huge = "é" * 20_000  # 40 000 bytes
    return [
        _record(
            "theia-oso.backwards",
            title=wms().title,
            temporal=[TemporalExtent(start="2012-06-01", end="2010-01-01"), TemporalExtent(start="2015")],
        ),
        _record(
            "theia-oso.immense",
            title=wms().title,
            keywords=[Keyword(label=huge)],
            platforms=[huge],
            instruments=[huge],
            identifiers=[Identifier(code=huge, scheme=huge)],
            bboxes=[BBox(-200.0, 95.0, 200.0, -95.0), BBox(170.0, -10.0, -170.0, 10.0)],
        ),
    ]


def test_every_document_is_one_the_server_takes() -> None:
    records = [*corpus_records(), *catalogue_records(), faceted_sst(), faceted_polder(), *hostile_records()]
    refused = {r.id: why for r in records if (why := _refusals(to_document(r, 1)))}
    assert refused == {}


def test_the_checks_catch_what_the_server_refuses() -> None:
    """The validator above is only worth its verdicts: it refuses what Lucene refuses."""
    props = MAPPING["properties"]
    assert _refusal(props["temporal"], {"gte": "2012-06-01T00:00:00Z", "lte": "2010-12-31T23:59:59Z"})
    assert _refusal(props["keyword_keys"], ["a" * 40_000])
    assert _refusal(props["geometry"], {"type": "envelope", "coordinates": [[0.0, -5.0], [10.0, 5.0]]})
    assert _refusal(props["years"], {"gte": 2015, "lte": 2001})


def test_an_extent_written_backwards_is_indexed_the_right_way_round_apart() -> None:
    backwards = to_document(hostile_records()[0], 1)
    assert backwards["temporal"] == [{"gte": "2015-01-01T00:00:00Z"}]
    assert backwards["temporal_reversed"] == [{"gte": "2010-01-01T23:59:59Z", "lte": "2012-06-01T00:00:00Z"}]
    # the union the sorts and the embedded index's other tests read is as the embedded index keeps it
    assert (backwards["time_start"], backwards["time_end"]) == (
        "2012-06-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
    )
    assert "temporal_reversed" not in to_document(argo(), 1)


def test_keyword_values_beyond_the_term_limit_are_cut() -> None:
    doc = to_document(hostile_records()[1], 1)
    for name in ("keyword_keys", "platforms", "instruments", "xid_all_value", "xid_all_scheme", "xid_all"):
        assert all(len(v) <= es_mapping.MAX_KEY_CHARS for v in doc[name]), name
    assert doc["keyword_keys"] == ["e" * es_mapping.MAX_KEY_CHARS]


def test_the_sequence_counter_has_its_own_strict_index() -> None:
    """Created when the store opens (a cluster may forbid creating indexes on the fly); the upserted
    counter document ``{"n": ...}`` is all its mapping takes."""
    from catalogue.stores.elasticsearch import SEQUENCE_INDEX

    assert SEQUENCE_INDEX["mappings"] == {"dynamic": "strict", "properties": {"n": {"type": "long"}}}
