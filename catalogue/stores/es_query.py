"""A ``Query`` as an Elasticsearch search request body (``catalogue.stores.es_mapping`` fields).

Where Elasticsearch cannot behave exactly as the embedded index (``catalogue.stores.sqlite``):

- ``q`` ranking: both match the same records (phrases over the same texts, split, lower-cased and
  accent-folded alike), but scores are Lucene BM25 with the same field weights, plus the French and
  English light stemmers' sub-fields as a ranking bonus: records tie and order differently between
  backends. Accent folding is ``asciifolding`` (which also unfolds ligatures, "œ" -> "oe") where SQLite's
  ``remove_diacritics`` only drops marks.
- NOT in a CQL2 filter: CQL2's (and SQL's) three-valued logic is kept for a negated test of one field
  (``NOT (language = 'fr')`` leaves out records without a language), but a negated combination requires
  every field it tests to have a value, where SQL would select a record when the known part decides.
- A title equality or ``LIKE`` compares the first ``es_mapping.MAX_KEY_CHARS`` characters of titles.
- Facets: theme bucket labels come from one record of the bucket (``top_hits``), completed from the
  thesaurus, where the embedded index takes the labels any record carries.
- ``offset`` beyond ``max_result_window`` (10 000): the page is reached by walking the sort order with
  ``search_after`` in a point in time (``catalogue.stores.elasticsearch``), a request per 10 000 hits
  skipped: deep pages cost in proportion to their offset.
- A write is not atomic: a batch is checked whole before anything is written, but a bulk request the
  cluster refuses in part leaves the records it took (the error names the others).
"""

from __future__ import annotations

import re
import sys
from typing import Any, ClassVar, NamedTuple

from pygeofilter import ast
from pygeofilter.backends.evaluator import handle

from catalogue import cql2 as cql
from catalogue import facets
from catalogue.query import EQUALITY_PROPERTIES, SORTABLES, ExternalId, Query, QueryError
from catalogue.stores import sqlite, sqlite_filter
from catalogue.stores.es_mapping import MAX_KEY_CHARS, XID_SEPARATOR, envelope_query


def _dsl() -> None:
    """pygeofilter's backend imports ``elasticsearch_dsl``; with the 9.x client, which no release of that
    package accepts, the DSL bundled in the client takes its name (as elasticsearch-dsl 8.18 does)."""
    try:
        import elasticsearch_dsl  # noqa: F401
    except ImportError:
        from elasticsearch import dsl  # noqa: F401

        for name in [m for m in sys.modules if m.startswith("elasticsearch.dsl")]:
            sys.modules[name.replace("elasticsearch.dsl", "elasticsearch_dsl")] = sys.modules[name]


_dsl()

from pygeofilter.backends.elasticsearch.evaluate import ElasticSearchDSLEvaluator  # noqa: E402

MAX_RESULT_WINDOW = 10_000  # Elasticsearch's default index.max_result_window

# bm25 weights of the embedded index's FTS columns, as boosts.
TEXT_FIELDS = {"title_text": 10.0, "abstract_text": 2.0, "keyword_text": 5.0, "other_text": 1.0}

# The documents' sort fields are named after the embedded index's columns (``es_mapping``).
SORT_FIELDS = sqlite._SORT_COLUMNS
PROPERTY_FIELDS = {
    "source": "source",
    "pole": "pole",
    "type": "type",
    "language": "language",
    "fair_level": "fair_level",
    "theme": "themes",
    "platform": "platforms",
    "instrument": "instruments",
    "format": "formats",
    "license": "license",
}
FACET_FIELDS = {
    "pole": "pole",
    "source": "source",
    "type": "type",
    "theme": "theme_buckets",
    "platform": "platforms",
    "instrument": "instruments",
    "format": "formats",
    "license": "license",
    "fair_level": "fair_level",
    "year": "years",
}
assert {*PROPERTY_FIELDS, "year"} == set(EQUALITY_PROPERTIES)

_TERMS_ORDER = {
    "count_desc": [{"_count": "desc"}, {"_key": "asc"}],
    "count_asc": [{"_count": "asc"}, {"_key": "asc"}],
    "value_asc": [{"_key": "asc"}],
    "value_desc": [{"_key": "desc"}],
}
HIDE_DUPLICATES = {"bool": {"must_not": [{"exists": {"field": "duplicate_of"}}]}}
NOTHING = {"bool": {"must_not": [{"match_all": {}}]}}


def criteria(query: Query, primaries: list[str] | None = None) -> dict[str, Any]:
    """The ``query`` part of the body: every criterion ANDed, duplicates left out unless ids are
    given. ``primaries``: the primaries of the duplicates ``query.external_ids`` found (see
    ``external_ids``), which those identifiers find too."""
    if query.limit < 0 or query.offset < 0:
        raise QueryError("limit and offset must not be negative")
    must: list[dict[str, Any]] = []
    filters: list[dict[str, Any]] = []
    if query.q:
        must.append(full_text(query.q))
    if query.bbox is not None:
        filters.append(bbox(query.bbox))
    if query.time is not None:
        filters.append(time(*query.time))
    if query.ids:
        filters.append({"terms": {"id": list(query.ids)}})
    if query.types:
        filters.append({"terms": {"type": list(query.types)}})
    for name, wanted in query.properties.items():
        if name not in EQUALITY_PROPERTIES:
            raise QueryError(f"unknown property {name!r}; known: {', '.join(EQUALITY_PROPERTIES)}")
        if wanted:
            filters.append(
                year(wanted) if name == "year" else {"terms": {PROPERTY_FIELDS[name]: list(wanted)}}
            )
    if query.external_ids:
        filters.append(external_ids(query.external_ids, primaries or []))
    if query.filter is not None:
        filters.append(cql2(query.filter))
    body: dict[str, Any] = {}
    if must:
        body["must"] = must
    if filters:
        body["filter"] = filters
    if not query.ids:
        body["must_not"] = [{"exists": {"field": "duplicate_of"}}]
    return {"bool": body} if body else {"match_all": {}}


def full_text(q: list[list[str]]) -> dict[str, Any]:
    """Each alternative a phrase over the four texts (weighted as the embedded index weighs them), ORed;
    the stemmed sub-fields only add to the score of what the phrases match. No alternative with a word
    (only punctuation) matches nothing."""
    phrases = []
    for alternative in q:
        text = " ".join(alternative).replace("\x00", " ").encode("utf-8", "replace").decode("utf-8")
        if text.strip() and text not in phrases:
            phrases.append(text)
    if not phrases:
        return NOTHING
    fields = [f"{name}^{boost:g}" for name, boost in TEXT_FIELDS.items()]
    stemmed = [
        f"{name}.{lang}^{boost / 10:g}" for name, boost in TEXT_FIELDS.items() for lang in ("fr", "en")
    ]
    should = [
        {"multi_match": {"query": text, "type": "phrase", "fields": fields, "zero_terms_query": "none"}}
        for text in phrases
    ]
    bonus = [{"multi_match": {"query": text, "type": "phrase", "fields": stemmed}} for text in phrases]
    return {
        "bool": {
            "must": [{"bool": {"should": should, "minimum_should_match": 1}}],
            "should": bonus,
        }
    }


def bbox(box: tuple[float, float, float, float]) -> dict[str, Any]:
    """Some box of the record intersects ``box`` (split at the antimeridian, as boxes are indexed)."""
    parts = sqlite._split(*box)
    if not parts:
        raise QueryError(f"bbox must be finite numbers: {box!r}")
    return {
        "bool": {"should": [envelope_query("geometry", part) for part in parts], "minimum_should_match": 1}
    }


def time(start: str | None, end: str | None) -> dict[str, Any]:
    """Some temporal extent intersects [start, end]; (None, None): the record has one."""
    return time_intersects(
        None if start is None else sqlite._query_instant(start, end=False),
        None if end is None else sqlite._query_instant(end, end=True),
    )


HAS_TIME = {"exists": {"field": "time_start"}}  # set exactly when the record has a temporal extent


def time_intersects(start: str | None, end: str | None) -> dict[str, Any]:
    """Some extent intersects [start, end] (index time text; ``None``: unbounded), as the embedded
    index tests an extent's ends (``time_start <= end AND time_end >= start``). An extent a source wrote
    backwards is indexed the right way round in ``temporal_reversed``: that test then holds when it
    lies within [start, end]."""
    bounds: dict[str, Any] = {}
    if start is not None:
        bounds["gte"] = start
    if end is not None:
        bounds["lte"] = end
    if not bounds:
        return HAS_TIME
    return {
        "bool": {
            "should": [
                {"range": {"temporal": {**bounds, "relation": "intersects"}}},
                {"range": {"temporal_reversed": {**bounds, "relation": "within"}}},
            ],
            "minimum_should_match": 1,
        }
    }


def year(wanted: list[str] | list[Any]) -> dict[str, Any]:
    """An extent covers one of the years (``catalogue.facets.years``: a year no bucket has matches
    nothing; a value that is no year is a ``QueryError``)."""
    years = facets.years(wanted)
    if not years:
        return NOTHING
    return {
        "bool": {
            "should": [{"term": {"years": y}} for y in years],
            "minimum_should_match": 1,
        }
    }


def external_ids(wanted: list[ExternalId], primaries: list[str]) -> dict[str, Any]:
    """Records showing one of the identifiers ``wanted``, or the primaries of duplicates having one."""
    should = identifier_tests(wanted, own=True)
    if primaries:
        should.append({"terms": {"id": primaries}})
    return {"bool": {"should": should, "minimum_should_match": 1}} if should else NOTHING


def identifier_tests(wanted: list[ExternalId], *, own: bool) -> list[dict[str, Any]]:
    """Term tests of the identifiers ``wanted``: the record's own (what it shows) or all of them (its
    source and native id too: what a duplicate's primary lists of it)."""
    kind = "own" if own else "all"
    full = [
        f"{w.scheme}{XID_SEPARATOR}{w.value}" for w in wanted if w.scheme is not None and w.value is not None
    ]
    value_only = [w.value for w in wanted if w.scheme is None and w.value is not None]
    scheme_only = [w.scheme for w in wanted if w.scheme is not None and w.value is None]
    tests = []
    if full:
        tests.append({"terms": {f"xid_{kind}": full}})
    if value_only:
        tests.append({"terms": {f"xid_{kind}_value": value_only}})
    if scheme_only:
        tests.append({"terms": {f"xid_{kind}_scheme": scheme_only}})
    return tests


def duplicates_having(wanted: list[ExternalId]) -> dict[str, Any]:
    """The duplicates having one of the identifiers (their primaries are found by them)."""
    tests = identifier_tests(wanted, own=False)
    return {
        "bool": {
            "filter": [{"exists": {"field": "duplicate_of"}}],
            "should": tests or [NOTHING],
            "minimum_should_match": 1,
        }
    }


def sort(query: Query) -> list[Any]:
    """The sort keys (missing values last, as in the embedded index), relevance for ``q`` without
    sortby, then id: equal keys keep one order from page to page (and ``search_after`` needs it)."""
    keys: list[Any] = []
    for by in query.sortby:
        if by.field not in SORT_FIELDS:
            raise QueryError(f"cannot sort by {by.field!r}; sortable fields: {', '.join(SORTABLES)}")
        keys.append({SORT_FIELDS[by.field]: {"order": "asc" if by.ascending else "desc", "missing": "_last"}})
    if query.q and not query.sortby:
        keys.append({"_score": {"order": "desc"}})
    if not any(by.field == "id" for by in query.sortby):
        keys.append({"id": {"order": "asc"}})
    return keys


def aggregations(query: Query) -> dict[str, Any]:
    """One aggregation per facet asked, named after it: terms (one bucket more than asked, so that
    ``more`` is known, in the order asked), or for ``year`` a histogram of the extents' year ranges,
    bounded to the years a bucket may have."""
    sqlite._check_facets(query)
    aggs: dict[str, Any] = {}
    for request in query.facets:
        field = FACET_FIELDS[request.name]
        if request.name == "year":
            aggs[request.name] = {
                "histogram": {
                    "field": field,
                    "interval": 1,
                    "min_doc_count": 1,
                    "hard_bounds": {"min": facets.FIRST_YEAR, "max": facets.this_year()},
                }
            }
            continue
        terms = {
            "field": field,
            "size": request.size + 1,
            "shard_size": max(10 * (request.size + 1), 100),
            "order": _TERMS_ORDER[request.order],
        }
        aggs[request.name] = {"terms": terms}
        if request.name == "theme":
            aggs[request.name]["aggs"] = {
                "facts": {"top_hits": {"size": 1, "_source": {"includes": ["theme_facts"]}}}
            }
    return aggs


def search_body(query: Query, primaries: list[str] | None = None) -> dict[str, Any]:
    """The whole body of a search within ``max_result_window`` (from/size paging)."""
    body: dict[str, Any] = {
        "query": criteria(query, primaries),
        "sort": sort(query),
        "track_total_hits": True,
        "from": query.offset,
        "size": query.limit,
        "_source": ["record"],
    }
    if query.facets:
        body["aggs"] = aggregations(query)
    return body


# --- CQL2 -----------------------------------------------------------------------------------------


class _Cond(NamedTuple):
    """A query and the fields whose missing value makes it unknown (CQL2's three-valued logic)."""

    query: dict[str, Any]
    nullable: frozenset[str] = frozenset()


_RANGE = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}
_MATCH_ALL: dict[str, Any] = {"match_all": {}}


def cql2(node: Any) -> dict[str, Any]:
    """The query of a CQL2 filter (a pygeofilter AST), with the embedded index's semantics
    (``catalogue.stores.sqlite_filter``) and the checks and error messages of ``catalogue.cql2``."""
    cql.check_depth(node)
    try:
        condition = _ES().evaluate(node)
    except NotImplementedError as err:  # an operator pygeofilter's evaluator has no handler for
        raise QueryError(f"filter: {err}") from None
    return cql.condition(condition, _Cond).query


class _ES(ElasticSearchDSLEvaluator, cql.Evaluator):
    """pygeofilter's Elasticsearch evaluator, its handlers replaced where the embedded index's
    semantics differ from its own (``match`` on analysed text, no three-valued NOT, temporal
    predicates on one date field), with the leaves and checks ``sqlite_filter`` has (``catalogue.cql2``).
    Conditions are plain request-body dicts rather than ``elasticsearch_dsl`` objects: the body is what
    is sent."""

    columns: ClassVar[dict[str, str]] = {  # the document field of each queryable (es_mapping)
        "id": "id",
        "type": "type",
        "pole": "pole",
        "source": "source",
        "language": "language",
        "fair_level": "fair_level",
        "title": "title_key",
        "description": "description_key",
        "keywords": "keyword_keys",
        "theme": "themes",
        "platform": "platforms",
        "instrument": "instruments",
        "format": "formats",
        "license": "license",
        "year": "years",
        "created": "created",
        "updated": "updated",
        "time": "temporal",
        "datetime": "temporal",
        "geometry": "geometry",
    }

    def __init__(self) -> None:
        super().__init__(attribute_map=None, version="8.0")

    # --- logic

    @handle(ast.And, ast.Or)
    def and_or(self, node: ast.Combination, lhs: Any, rhs: Any) -> _Cond:
        left, right = cql.condition(lhs, _Cond), cql.condition(rhs, _Cond)
        if node.op == ast.CombinationOp.AND:
            query = {"bool": {"filter": [left.query, right.query]}}
        else:
            query = {"bool": {"should": [left.query, right.query], "minimum_should_match": 1}}
        return _Cond(query, left.nullable | right.nullable)

    @handle(ast.Not)
    def not_(self, node: ast.Not, sub: Any) -> _Cond:
        return _negated(cql.condition(sub, _Cond))

    @handle(ast.Include)
    def include(self, node: ast.Include) -> _Cond:
        return _Cond(NOTHING if node.not_ else _MATCH_ALL)

    # --- comparisons

    @handle(ast.Comparison, subclasses=True)
    def comparison(self, node: ast.Comparison, lhs: Any, rhs: Any) -> _Cond:
        field, folded, op, value = cql.compared(node, lhs, rhs)
        if field.kind == "instant":
            return _instant_compare(field, op, cql.period(value, field))
        if field.kind == "facet" and op in ("=", "<>"):
            test = _facet(field, [value])
            return test if op == "=" else _negated(test)
        text = _text(field, value, folded)
        if field.kind in ("code", "title", "text"):
            if field.kind == "text" and op in ("=", "<>"):
                test = _Cond({"term": {field.column: text}}, frozenset({field.column}))
            elif op in ("=", "<>"):
                term: dict[str, Any] = {"value": text}
                if folded and field.kind == "code":
                    term["case_insensitive"] = True
                test = _Cond({"term": {field.column: term}}, frozenset({field.column}))
            else:
                if field.kind == "text" or (folded and field.kind == "code"):
                    raise QueryError(f"{field.name} cannot be compared with {op} on Elasticsearch")
                return _Cond({"range": {field.column: {_RANGE[op]: text}}}, frozenset({field.column}))
            return test if op == "=" else _negated(test)
        if field.kind in ("words", "theme") and op in ("=", "<>"):
            test = _Cond({"terms": {field.column: [text]}})
            return test if op == "=" else _negated(test)
        raise cql.refused(field, f"compared with {op}")

    @handle(ast.Between)
    def between(self, node: ast.Between, lhs: Any, low: Any, high: Any) -> _Cond:
        field, folded, low, high = cql.between(lhs, low, high)
        if field.kind == "instant":
            bounds = {"gte": cql.period(low, field).start, "lte": cql.period(high, field).end}
        elif field.kind in ("code", "title") and not folded:
            bounds = {"gte": _text(field, low, folded), "lte": _text(field, high, folded)}
        else:
            raise cql.refused(field, "tested with BETWEEN")
        test = _Cond({"range": {field.column: bounds}}, frozenset({field.column}))
        return _negated(test) if node.not_ else test

    @handle(ast.Like)
    def like(self, node: ast.Like, lhs: Any) -> _Cond:
        field, _, parts = cql.like(node, lhs)
        if field.kind in ("code", "theme"):
            # Codes are ASCII: the embedded index's LIKE ignores their case; URIs are compared as written.
            wildcard = {"value": _wildcard(parts, fold_text=False), "case_insensitive": field.kind == "code"}
        elif field.kind in ("title", "text", "words"):
            wildcard = {"value": _wildcard(parts, fold_text=True)}
        else:
            raise cql.refused(field, "tested with LIKE")
        nullable = frozenset({field.column}) if field.kind in ("code", "title", "text") else frozenset()
        test = _Cond({"wildcard": {field.column: wildcard}}, nullable)
        return _negated(test) if node.not_ else test

    @handle(ast.In)
    def in_(self, node: ast.In, lhs: Any, *options: Any) -> _Cond:
        field, folded, listed = cql.listed(lhs, options)
        if field.kind == "instant":
            tests = [_instant_compare(field, "=", cql.period(v, field)).query for v in listed]
            test = _Cond({"bool": {"should": tests, "minimum_should_match": 1}}, frozenset({field.column}))
        elif field.kind in ("code", "title", "text", "words", "theme"):
            texts = [_text(field, v, folded) for v in listed]
            if folded and field.kind == "code":
                should = [{"term": {field.column: {"value": t, "case_insensitive": True}}} for t in texts]
                query: dict[str, Any] = {"bool": {"should": should, "minimum_should_match": 1}}
            else:
                query = {"terms": {field.column: texts}}
            nullable = frozenset({field.column}) if field.kind in ("code", "title", "text") else frozenset()
            test = _Cond(query, nullable)
        elif field.kind == "facet":
            test = _facet(field, listed)
        else:
            raise cql.refused(field, "tested with IN")
        return _negated(test) if node.not_ else test

    @handle(ast.IsNull)
    def null(self, node: ast.IsNull, lhs: Any) -> _Cond:
        field, _ = cql.tested(lhs, "IS NULL")
        if field.kind == "geometry":
            missing = {"bool": {"must_not": [{"exists": {"field": "n_boxes"}}]}}
        elif field.kind == "extent":
            missing = {"bool": {"must_not": [HAS_TIME]}}
        else:
            missing = {"bool": {"must_not": [{"exists": {"field": field.column}}]}}
        exists = {"bool": {"must_not": [missing]}}
        return _Cond(exists if node.not_ else missing)

    # --- arrays

    @handle(ast.ArrayContains, ast.ArrayOverlaps)
    def array(self, node: ast.ArrayPredicate, lhs: Any, rhs: Any) -> _Cond:
        field, folded, listed = cql.array(node, lhs, rhs)
        texts = listed if field.kind == "facet" else [_text(field, v, folded) for v in listed]
        if node.op == ast.ArrayComparisonOp.AOVERLAPS:
            return _Cond({"terms": {field.column: texts}})
        return _Cond({"bool": {"filter": [{"term": {field.column: t}} for t in texts]}})

    # --- time

    @handle(ast.TemporalPredicate, subclasses=True)
    def temporal(self, node: ast.TemporalPredicate, lhs: Any, rhs: Any) -> _Cond:
        field, period = cql.temporal(node, lhs, rhs)
        if field.kind == "instant":
            return _instant_compare(field, cql.instant_test(node, field), period)
        op = node.op
        kinds = ast.TemporalComparisonOp
        if op in (kinds.TOVERLAPS, kinds.DISJOINT):  # pygeofilter reads T_INTERSECTS as OVERLAPS
            intersects = time_intersects(
                None if period.start == sqlite.OPEN_START else period.start,
                None if period.end == sqlite.OPEN_END else period.end,
            )
            if op == kinds.TOVERLAPS:
                return _Cond(intersects)
            return _Cond({"bool": {"filter": [HAS_TIME], "must_not": [intersects]}})
        tests_of = {
            kinds.BEFORE: [{"range": {"time_end": {"lt": period.start}}}],
            kinds.AFTER: [{"range": {"time_start": {"gt": period.end}}}],
            kinds.DURING: [
                {"range": {"time_start": {"gte": period.start}}},
                {"range": {"time_end": {"lte": period.end}}},
            ],
            kinds.TCONTAINS: [
                {"range": {"time_start": {"lte": period.start}}},
                {"range": {"time_end": {"gte": period.end}}},
            ],
        }
        if op not in tests_of:
            raise cql.unsupported(node)
        return _Cond({"bool": {"filter": tests_of[op]}})

    # --- space

    @handle(ast.GeometryIntersects, ast.GeometryDisjoint)
    def spatial(self, node: ast.SpatialComparisonPredicate, lhs: Any, rhs: Any) -> _Cond:
        intersects = bbox(cql.spatial(node, lhs, rhs))
        if isinstance(node, ast.GeometryIntersects):
            return _Cond(intersects)
        return _Cond({"bool": {"filter": [{"exists": {"field": "n_boxes"}}], "must_not": [intersects]}})

    @handle(ast.BBox)
    def bbox_(self, node: ast.BBox, lhs: Any) -> _Cond:
        return _Cond(bbox(cql.bbox(node, lhs)))


# Only ``catalogue.cql2``'s handlers and those above: a node pygeofilter's own evaluator would turn into a
# query of other semantics (S_WITHIN, S_CONTAINS, EXISTS...) goes to ``adopt`` and is refused, as the
# embedded index refuses it.
_ES.handler_map = {
    kind: handler
    for kind, handler in _ES.handler_map.items()
    if handler not in ElasticSearchDSLEvaluator.handler_map.values()
}


def _negated(condition: _Cond) -> _Cond:
    """NOT in three-valued logic: a test of a missing value is unknown, and so is its negation."""
    exists = [{"exists": {"field": name}} for name in sorted(condition.nullable)]
    query: dict[str, Any] = {"bool": {"must_not": [condition.query]}}
    if exists:
        query["bool"]["filter"] = exists
    return _Cond(query, condition.nullable)


def _text(field: cql.Field, value: Any, folded: bool) -> str:
    """A literal as the document field holds values."""
    text = cql.text(field, value)
    if field.kind == "title":
        return sqlite.sort_key(text)[:MAX_KEY_CHARS]
    if field.kind == "text":
        return sqlite_filter.fold(text) or ""
    if field.kind == "words":
        return (sqlite_filter.fold(text) or "")[:MAX_KEY_CHARS]
    return text


def _instant_compare(field: cql.Field, op: str, period: cql.Period) -> _Cond:
    nullable = frozenset({field.column})
    if op == "=":
        return _Cond({"range": {field.column: {"gte": period.start, "lte": period.end}}}, nullable)
    if op == "<>":
        column = field.column
        outside = [{"range": {column: {"lt": period.start}}}, {"range": {column: {"gt": period.end}}}]
        return _Cond({"bool": {"should": outside, "minimum_should_match": 1}}, nullable)
    bound = period.start if op in ("<", ">=") else period.end
    return _Cond({"range": {field.column: {_RANGE[op]: bound}}}, nullable)


def _facet(field: cql.Field, listed: list[Any]) -> _Cond:
    wanted = cql.facet_values(field, listed)
    if field.name == "year":
        return _Cond(year(wanted))
    return _Cond({"terms": {field.column: wanted}})


_WILDCARD_SPECIAL = re.compile(r"([*?\\])")


def _wildcard(parts: list[Any], *, fold_text: bool) -> str:
    """A ``LIKE`` pattern (``catalogue.cql2.like_parts``) as a wildcard pattern: ``*`` and ``?``,
    the literal text escaped (and folded as the field is)."""
    out = []
    for part in parts:
        if part is cql.ANY:
            out.append("*")
        elif part is cql.ONE:
            out.append("?")
        else:
            text = (sqlite_filter.fold(part) or "") if fold_text else part
            out.append(_WILDCARD_SPECIAL.sub(r"\\\1", text))
    return "".join(out)
