"""The Elasticsearch request bodies built for each case of the query model (no server needed)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from catalogue.query import (
    FacetRequest,
    Query,
    QueryError,
    Sort,
    parse_external_ids,
    parse_filter,
)
from catalogue.stores import es_query
from catalogue.stores.elasticsearch import _facet
from catalogue.stores.es_query import HIDE_DUPLICATES, NOTHING, cql2, criteria, search_body

HIDDEN = [{"exists": {"field": "duplicate_of"}}]


def filters(query: Query) -> list:
    return criteria(query)["bool"].get("filter", [])


def test_no_criteria_lists_primaries_by_id() -> None:
    body = search_body(Query(limit=5, offset=10))
    assert body["query"] == {"bool": {"must_not": HIDDEN}} == HIDE_DUPLICATES
    assert body["sort"] == [{"id": {"order": "asc"}}]
    assert (body["from"], body["size"], body["track_total_hits"]) == (10, 5, True)
    assert body["_source"] == ["record"] and "aggs" not in body


def test_q_alternatives_are_ored_phrases_over_the_weighted_texts() -> None:
    query = criteria(Query(q=[["sea", "surface"], ["iasi"]]))
    (text,) = query["bool"]["must"]
    alternatives = text["bool"]["must"][0]["bool"]
    assert alternatives["minimum_should_match"] == 1
    first, second = alternatives["should"]
    assert first["multi_match"]["query"] == "sea surface" and second["multi_match"]["query"] == "iasi"
    assert first["multi_match"]["type"] == "phrase"
    assert first["multi_match"]["fields"] == [
        "title_text^10",
        "abstract_text^2",
        "keyword_text^5",
        "other_text^1",
    ]
    bonus = text["bool"]["should"][0]["multi_match"]  # stemmed sub-fields rank, never select
    assert "title_text.fr^1" in bonus["fields"] and "title_text.en^1" in bonus["fields"]
    assert query["bool"]["must_not"] == HIDDEN


def test_q_without_a_word_matches_nothing_and_nul_separates() -> None:
    assert criteria(Query(q=[["\x00"]]))["bool"]["must"] == [{"bool": {"must_not": [{"match_all": {}}]}}]
    text = criteria(Query(q=[["etna\x00iasi"]]))["bool"]["must"][0]
    assert text["bool"]["must"][0]["bool"]["should"][0]["multi_match"]["query"] == "etna iasi"


def test_bbox_intersects_with_the_antimeridian_split() -> None:
    (box,) = filters(Query(bbox=(175.0, -5.0, -175.0, 5.0)))
    shapes = [clause["geo_shape"]["geometry"] for clause in box["bool"]["should"]]
    assert shapes == [
        {
            "shape": {"type": "envelope", "coordinates": [[175.0, 5.0], [180.0, -5.0]]},
            "relation": "intersects",
        },
        {
            "shape": {"type": "envelope", "coordinates": [[-180.0, 5.0], [-175.0, -5.0]]},
            "relation": "intersects",
        },
    ]
    (point,) = filters(Query(bbox=(15.0, 37.7, 15.0, 37.7)))
    assert point["bool"]["should"][0]["geo_shape"]["geometry"]["shape"]["type"] == "point"


def either_way(**bounds: str) -> dict:
    """An extent intersects the bounds, or one written backwards (indexed swapped) lies within them."""
    return {
        "bool": {
            "should": [
                {"range": {"temporal": {**bounds, "relation": "intersects"}}},
                {"range": {"temporal_reversed": {**bounds, "relation": "within"}}},
            ],
            "minimum_should_match": 1,
        }
    }


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        (
            ("2020-01-01T00:00:00Z", "2020-12-31T23:59:59Z"),
            either_way(gte="2020-01-01T00:00:00Z", lte="2020-12-31T23:59:59Z"),
        ),
        ((None, "2007-09-30T23:59:59Z"), either_way(lte="2007-09-30T23:59:59Z")),
        (("2021-07-01T02:00:00+02:00", None), either_way(gte="2021-07-01T00:00:00Z")),
        ((None, None), {"exists": {"field": "time_start"}}),
    ],
)
def test_datetime_intersects_with_open_ends_in_utc(time: tuple, expected: dict) -> None:
    assert filters(Query(time=time)) == [expected]


def test_a_bad_datetime_is_a_query_error() -> None:
    with pytest.raises(QueryError, match="RFC 3339"):
        criteria(Query(time=("soon", None)))


def test_ids_types_and_properties() -> None:
    query = criteria(Query(ids=["a.b"], types=["series"], properties={"pole": ["AERIS"], "theme": ["u"]}))
    assert query["bool"]["filter"] == [
        {"terms": {"id": ["a.b"]}},
        {"terms": {"type": ["series"]}},
        {"terms": {"pole": ["AERIS"]}},
        {"terms": {"themes": ["u"]}},  # ancestors are indexed: a broad theme finds narrower ones
    ]
    assert "must_not" not in query["bool"]  # a client naming records gets duplicates too


def test_year_property_tests_the_year_ranges() -> None:
    (years,) = filters(Query(properties={"year": ["2005", "1700"]}))
    assert years == {"bool": {"should": [{"term": {"years": 2005}}], "minimum_should_match": 1}}
    assert filters(Query(properties={"year": ["1700"]})) == [NOTHING]
    with pytest.raises(QueryError, match="year must be a year"):
        criteria(Query(properties={"year": ["2015-01"]}))
    with pytest.raises(QueryError, match="unknown property"):
        criteria(Query(properties={"colour": ["blue"]}))


def test_external_ids_test_own_identifiers_and_primaries_of_duplicates() -> None:
    wanted = parse_external_ids("theia:oso-2021")
    (ids,) = filters(Query(external_ids=wanted))
    assert {"terms": {"xid_own": ["theia\x1foso-2021"]}} in ids["bool"]["should"]
    assert {"terms": {"xid_own_value": ["theia:oso-2021"]}} in ids["bool"]["should"]
    (with_primaries,) = criteria(Query(external_ids=wanted), ["p.1"])["bool"]["filter"]
    assert {"terms": {"id": ["p.1"]}} in with_primaries["bool"]["should"]
    dups = es_query.duplicates_having(parse_external_ids("https://doi.org:"))
    assert dups["bool"]["should"] == [{"terms": {"xid_all_scheme": ["https://doi.org"]}}]


@pytest.mark.parametrize(
    ("sortby", "q", "expected"),
    [
        ([], [], [{"id": {"order": "asc"}}]),
        ([], [["x"]], [{"_score": {"order": "desc"}}, {"id": {"order": "asc"}}]),
        ([Sort("id", False)], [], [{"id": {"order": "desc", "missing": "_last"}}]),
        (
            [Sort("title"), Sort("start", False)],
            [["x"]],
            [
                {"title_key": {"order": "asc", "missing": "_last"}},
                {"time_start": {"order": "desc", "missing": "_last"}},
                {"id": {"order": "asc"}},
            ],
        ),
        (
            [Sort("fair")],
            [],
            [{"fair_score": {"order": "asc", "missing": "_last"}}, {"id": {"order": "asc"}}],
        ),
    ],
)
def test_sortby_keys_missing_last_then_id(sortby: list, q: list, expected: list) -> None:
    assert search_body(Query(sortby=sortby, q=q))["sort"] == expected


def test_an_unknown_sort_field_or_negative_paging_is_a_query_error() -> None:
    with pytest.raises(QueryError):
        search_body(Query(sortby=[Sort("colour")]))
    with pytest.raises(QueryError):
        search_body(Query(offset=-1))


def test_facets_are_aggregations_one_bucket_beyond_the_size() -> None:
    asked = [
        FacetRequest("pole", 2, "count_asc"),
        FacetRequest("theme"),
        FacetRequest("year", 50, "value_asc"),
    ]
    aggs = search_body(Query(facets=asked))["aggs"]
    assert aggs["pole"]["terms"]["size"] == 3
    assert aggs["pole"]["terms"]["order"] == [{"_count": "asc"}, {"_key": "asc"}]
    assert aggs["theme"]["terms"]["field"] == "theme_buckets"
    assert aggs["theme"]["aggs"]["facts"]["top_hits"]["size"] == 1
    histogram = aggs["year"]["histogram"]
    assert histogram["field"] == "years" and histogram["interval"] == 1
    assert histogram["hard_bounds"] == {"min": 1800, "max": datetime.now(UTC).year}
    for bad in (FacetRequest("colour"), FacetRequest("pole", 0), FacetRequest("pole", 5, "largest")):
        with pytest.raises(QueryError):
            search_body(Query(facets=[bad]))


def test_facet_buckets_are_cut_and_flag_more() -> None:
    buckets = [
        {"key": "AERIS", "doc_count": 4},
        {"key": "ODATIS", "doc_count": 2},
        {"key": "THEIA", "doc_count": 1},
    ]
    facet = _facet(FacetRequest("pole", 2), {"buckets": buckets})
    assert [(b.value, b.count) for b in facet.buckets] == [("AERIS", 4), ("ODATIS", 2)] and facet.more
    years = _facet(FacetRequest("year", 10, "value_asc"), {"buckets": [{"key": 2001.0, "doc_count": 1}]})
    assert [b.value for b in years.buckets] == ["2001"] and not years.more
    ocean = "https://w3id.org/data-terra/thesaurus/ocean"
    physical = "https://w3id.org/data-terra/thesaurus/physical-oceanography"
    hit = {
        "_source": {"theme_facts": {physical: {"parent": ocean, "labels": {"en": "Physical oceanography"}}}}
    }
    theme = _facet(
        FacetRequest("theme"),
        {"buckets": [{"key": physical, "doc_count": 1, "facts": {"hits": {"hits": [hit]}}}]},
    )
    assert theme.buckets[0].parent == ocean and theme.buckets[0].labels["en"] == "Physical oceanography"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pole = 'AERIS'", {"term": {"pole": {"value": "AERIS"}}}),
        ("CASEI(pole) = CASEI('aeris')", {"term": {"pole": {"value": "aeris", "case_insensitive": True}}}),
        ("pole >= 'ODATIS'", {"range": {"pole": {"gte": "ODATIS"}}}),
        ("'ODATIS' <= pole", {"range": {"pole": {"gte": "ODATIS"}}}),
        ("pole LIKE 'ae%'", {"wildcard": {"pole": {"value": "ae*", "case_insensitive": True}}}),
        ("title LIKE 'carte d_occupation%'", {"wildcard": {"title_key": {"value": "carte d?occupation*"}}}),
        ("title LIKE 'a*b%'", {"wildcard": {"title_key": {"value": "a\\*b*"}}}),
        ("title = 'ARGO Float'", {"term": {"title_key": {"value": "argo float"}}}),
        ("description LIKE '%Bay%'", {"wildcard": {"description_key": {"value": "*bay*"}}}),
        ("keywords = 'OCÉAN'", {"terms": {"keyword_keys": ["ocean"]}}),
        (
            "theme LIKE 'https://w3id.org/%'",
            {"wildcard": {"themes": {"value": "https://w3id.org/*", "case_insensitive": False}}},
        ),
        ("platform IN ('Metop-A', 'Sentinel-1A')", {"terms": {"platforms": ["Metop-A", "Sentinel-1A"]}}),
        (
            "created = '2008'",
            {"range": {"created": {"gte": "2008-01-01T00:00:00Z", "lte": "2008-12-31T23:59:59Z"}}},
        ),
        ("created > '2015'", {"range": {"created": {"gt": "2015-12-31T23:59:59Z"}}}),
        ("language IS NULL", {"bool": {"must_not": [{"exists": {"field": "language"}}]}}),
        ("geometry IS NULL", {"bool": {"must_not": [{"exists": {"field": "n_boxes"}}]}}),
        ("INCLUDE", {"match_all": {}}),
        ("EXCLUDE", NOTHING),
        ("T_INTERSECTS(time, INTERVAL('..', '1900-01-01'))", either_way(lte="1900-01-01T23:59:59Z")),
        ("time IS NULL", {"bool": {"must_not": [{"exists": {"field": "time_start"}}]}}),
        (
            "T_BEFORE(time, TIMESTAMP('2000-01-01T00:00:00Z'))",
            {"bool": {"filter": [{"range": {"time_end": {"lt": "2000-01-01T00:00:00Z"}}}]}},
        ),
        ("T_AFTER(updated, DATE('2023-12-31'))", {"range": {"updated": {"gt": "2023-12-31T23:59:59Z"}}}),
    ],
)
def test_cql2_filters_become_queries_on_our_fields(text: str, expected: dict) -> None:
    assert cql2(parse_filter(text)) == expected


def test_cql2_negation_keeps_three_valued_logic() -> None:
    assert cql2(parse_filter("NOT (language = 'fr')")) == {
        "bool": {
            "must_not": [{"term": {"language": {"value": "fr"}}}],
            "filter": [{"exists": {"field": "language"}}],
        }
    }
    disjoint = cql2(parse_filter("S_DISJOINT(geometry, BBOX(-180, -90, 0, 90))"))
    assert disjoint["bool"]["filter"] == [{"exists": {"field": "n_boxes"}}]
    combined = cql2(parse_filter("pole = 'AERIS' AND NOT (type = 'series')"))
    assert combined["bool"]["filter"][0] == {"term": {"pole": {"value": "AERIS"}}}


def test_cql2_a_contains_needs_every_value() -> None:
    both = parse_filter(
        '{"op": "a_contains", "args": [{"property": "platform"}, ["Metop-A", "Metop-B"]]}', "cql2-json"
    )
    assert cql2(both) == {
        "bool": {"filter": [{"term": {"platforms": "Metop-A"}}, {"term": {"platforms": "Metop-B"}}]}
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("title = 5", "title takes text"),
        ("time = '2020'", "time cannot be compared with ="),
        ("S_CONTAINS(geometry, POINT(1 2))", "S_CONTAINS is not supported"),
        ("S_WITHIN(geometry, POINT(1 2))", "S_WITHIN is not supported"),
        ("T_MEETS(time, DATE('2020-01-01'))", "T_MEETS is not supported"),
        ("upper(pole) = 'AERIS'", "function upper() is not supported"),
        ("colour = 'red'", "unknown property 'colour'"),
        ("S_INTERSECTS(geometry, BBOX(0, 50, 10, 40))", "south"),
        ('{"op": "a_overlaps", "args": [{"property": "license"}, ["other"]]}', "not license"),
        (" OR ".join(["pole = 'THEIA'"] * 1000), "nested too deeply"),
    ],
)
def test_a_filter_it_cannot_translate_is_a_query_error(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        cql2(parse_filter(text, "cql2-json" if text.startswith("{") else None))


def test_the_filter_is_anded_with_the_other_criteria() -> None:
    query = criteria(Query(filter=parse_filter("pole = 'AERIS'"), types=["service"]))
    assert query["bool"]["filter"] == [
        {"terms": {"type": ["service"]}},
        {"term": {"pole": {"value": "AERIS"}}},
    ]


def test_an_extent_written_backwards_is_found_as_the_embedded_index_finds_it() -> None:
    """SQLite tests ``time_start <= end AND time_end >= start`` on the extent as written; for one
    ending before it begins, that holds when the swapped extent (``temporal_reversed``) lies within the
    query's span, open ends included."""
    (test,) = filters(Query(time=("2009", None)))
    assert {"range": {"temporal_reversed": {"gte": "2009-01-01T00:00:00Z", "relation": "within"}}} in (
        test["bool"]["should"]
    )
    # T_DISJOINT is read as NOT T_INTERSECTS AND time IS NOT NULL: a record whose only extent is
    # backwards has a time (``time_start``), though no ``temporal``
    disjoint = cql2(parse_filter("T_DISJOINT(time, INTERVAL('2000-01-01', '2001-12-31'))"))
    has_time = {"bool": {"must_not": [{"bool": {"must_not": [{"exists": {"field": "time_start"}}]}}]}}
    assert disjoint == {
        "bool": {
            "filter": [
                {"bool": {"must_not": [either_way(gte="2000-01-01T00:00:00Z", lte="2001-12-31T23:59:59Z")]}},
                has_time,
            ]
        }
    }


def test_keywords_are_cut_as_documents_cut_them() -> None:
    """(externalIds are refused beyond 2048 characters, shorter than documents keep.)"""
    long = "x" * 5_000
    assert cql2(parse_filter(f"keywords = '{long}'")) == {"terms": {"keyword_keys": ["x" * 4000]}}
