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
from datetime import date
from typing import Any, NamedTuple

from pygeofilter import ast, values
from pygeofilter.backends.evaluator import handle

from catalogue import facets
from catalogue.query import EQUALITY_PROPERTIES, FILTERABLES, SORTABLES, ExternalId, Query, QueryError
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

SORT_FIELDS = {
    "title": "title_key",
    "updated": "updated",
    "created": "created",
    "start": "time_start",
    "end": "time_end",
    "id": "id",
    "fair": "fair_score",
}
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
assert set(SORT_FIELDS) == set(SORTABLES)
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


class _Field(NamedTuple):
    name: str
    kind: (
        str  # as ``sqlite_filter``'s kinds: code, title, text, words, theme, facet, instant, extent, geometry
    )
    es: str  # the document field


_FIELDS: dict[str, tuple[str, str]] = {
    "id": ("code", "id"),
    "type": ("code", "type"),
    "pole": ("code", "pole"),
    "source": ("code", "source"),
    "language": ("code", "language"),
    "fair_level": ("code", "fair_level"),
    "title": ("title", "title_key"),
    "description": ("text", "description_key"),
    "keywords": ("words", "keyword_keys"),
    "theme": ("theme", "themes"),
    "platform": ("facet", "platforms"),
    "instrument": ("facet", "instruments"),
    "format": ("facet", "formats"),
    "license": ("facet", "license"),
    "year": ("facet", "years"),
    "created": ("instant", "created"),
    "updated": ("instant", "updated"),
    "time": ("extent", "temporal"),
    "datetime": ("extent", "temporal"),
    "geometry": ("geometry", "geometry"),
}
assert set(_FIELDS) == set(FILTERABLES)


class _Folded(NamedTuple):
    inner: Any


class _Cond(NamedTuple):
    """A query and the fields whose missing value makes it unknown (CQL2's three-valued logic)."""

    query: dict[str, Any]
    nullable: frozenset[str] = frozenset()


class _Period(NamedTuple):
    start: str
    end: str


_COMPARISONS = {
    ast.ComparisonOp.EQ: "=",
    ast.ComparisonOp.NE: "<>",
    ast.ComparisonOp.LT: "<",
    ast.ComparisonOp.LE: "<=",
    ast.ComparisonOp.GT: ">",
    ast.ComparisonOp.GE: ">=",
}
_MIRRORED = {"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_RANGE = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}
_MATCH_ALL: dict[str, Any] = {"match_all": {}}


def cql2(node: Any) -> dict[str, Any]:
    """The query of a CQL2 filter (a pygeofilter AST), with the embedded index's semantics
    (``catalogue.stores.sqlite_filter``) and its error messages for what cannot be evaluated."""
    if sqlite_filter._depth(node) > sqlite_filter.MAX_DEPTH:
        raise QueryError(f"filter is nested too deeply (more than {sqlite_filter.MAX_DEPTH} levels)")
    try:
        condition = _ES().evaluate(node)
    except NotImplementedError as err:  # an operator pygeofilter's evaluator has no handler for
        raise QueryError(f"filter: {err}") from None
    return _condition(condition).query


class _ES(ElasticSearchDSLEvaluator):
    """pygeofilter's Elasticsearch evaluator, its handlers replaced where the embedded index's
    semantics differ from its own (``match`` on analysed text, no three-valued NOT, temporal
    predicates on one date field) and every leaf checked as ``sqlite_filter`` checks it. Conditions are
    plain request-body dicts rather than ``elasticsearch_dsl`` objects: the body is what is sent."""

    def __init__(self) -> None:
        super().__init__(attribute_map=None, version="8.0")

    def adopt(self, node: Any, *args: Any) -> Any:
        raise QueryError(f"{sqlite_filter._describe(node)} is not supported in filters")

    @handle(ast.Attribute)
    def attribute(self, node: ast.Attribute) -> _Field:
        if node.name not in _FIELDS:
            raise QueryError(
                f"unknown property {node.name!r} in filter; queryables: {', '.join(FILTERABLES)}"
            )
        return _Field(node.name, *_FIELDS[node.name])

    @handle(*values.LITERALS, type(None))
    def literal(self, node: Any) -> Any:
        return node

    @handle(values.Envelope, values.Geometry)
    def shape(self, node: Any) -> Any:
        return node

    @handle(values.Interval)
    def interval(self, node: values.Interval, start: Any, end: Any) -> _Period:
        first = sqlite_filter._bound(start, end=False) if start is not None else sqlite.OPEN_START
        return _Period(
            sqlite.OPEN_START if first.startswith("0001-01-01T00:00:00") else first,
            sqlite_filter._bound(end, end=True) if end is not None else sqlite.OPEN_END,
        )

    @handle(ast.Function)
    def function(self, node: ast.Function, *arguments: Any) -> Any:
        name = node.name.lower()
        if name in ("lower", "casei", "accenti") and len(arguments) == 1:
            return arguments[0] if isinstance(arguments[0], _Folded) else _Folded(arguments[0])
        if name == "bbox" and len(arguments) in (4, 6):
            west, south, east, north = arguments if len(arguments) == 4 else (*arguments[:2], *arguments[3:5])
            return values.Envelope(west, east, south, north)
        raise QueryError(f"function {node.name}() is not supported in filters")

    # --- logic

    @handle(ast.And, ast.Or)
    def and_or(self, node: ast.Combination, lhs: Any, rhs: Any) -> _Cond:
        left, right = _condition(lhs), _condition(rhs)
        if node.op == ast.CombinationOp.AND:
            query = {"bool": {"filter": [left.query, right.query]}}
        else:
            query = {"bool": {"should": [left.query, right.query], "minimum_should_match": 1}}
        return _Cond(query, left.nullable | right.nullable)

    @handle(ast.Not)
    def not_(self, node: ast.Not, sub: Any) -> _Cond:
        return _negated(_condition(sub))

    @handle(ast.Include)
    def include(self, node: ast.Include) -> _Cond:
        return _Cond(NOTHING if node.not_ else _MATCH_ALL)

    # --- comparisons

    @handle(ast.Comparison, subclasses=True)
    def comparison(self, node: ast.Comparison, lhs: Any, rhs: Any) -> _Cond:
        op = _COMPARISONS[node.op]
        if not _is_field(lhs) and _is_field(rhs):
            lhs, rhs, op = rhs, lhs, _MIRRORED[op]
        field, folded = _field(lhs, "a comparison")
        value = _scalar(rhs, field)
        if field.kind == "instant":
            return _instant_compare(field, op, _period(value, field))
        if field.kind == "facet" and op in ("=", "<>"):
            test = _facet(field, [value])
            return test if op == "=" else _negated(test)
        text = _text(field, value, folded)
        if field.kind in ("code", "title", "text"):
            if field.kind == "text" and op in ("=", "<>"):
                test = _Cond({"term": {field.es: text}}, frozenset({field.es}))
            elif op in ("=", "<>"):
                term: dict[str, Any] = {"value": text}
                if folded and field.kind == "code":
                    term["case_insensitive"] = True
                test = _Cond({"term": {field.es: term}}, frozenset({field.es}))
            else:
                if field.kind == "text" or (folded and field.kind == "code"):
                    raise QueryError(f"{field.name} cannot be compared with {op} on Elasticsearch")
                return _Cond({"range": {field.es: {_RANGE[op]: text}}}, frozenset({field.es}))
            return test if op == "=" else _negated(test)
        if field.kind in ("words", "theme") and op in ("=", "<>"):
            test = _Cond({"terms": {field.es: [text]}})
            return test if op == "=" else _negated(test)
        raise QueryError(f"{field.name} cannot be compared with {op}{sqlite_filter._instead(field)}")

    @handle(ast.Between)
    def between(self, node: ast.Between, lhs: Any, low: Any, high: Any) -> _Cond:
        field, folded = _field(lhs, "BETWEEN")
        low, high = _scalar(low, field), _scalar(high, field)
        if field.kind == "instant":
            bounds = {"gte": _period(low, field).start, "lte": _period(high, field).end}
        elif field.kind in ("code", "title") and not folded:
            bounds = {"gte": _text(field, low, folded), "lte": _text(field, high, folded)}
        else:
            raise QueryError(f"{field.name} cannot be tested with BETWEEN{sqlite_filter._instead(field)}")
        test = _Cond({"range": {field.es: bounds}}, frozenset({field.es}))
        return _negated(test) if node.not_ else test

    @handle(ast.Like)
    def like(self, node: ast.Like, lhs: Any) -> _Cond:
        field, _ = _field(lhs, "LIKE")
        pattern = node.pattern
        if isinstance(pattern, ast.Function) and pattern.name.lower() in ("lower", "casei", "accenti"):
            pattern = pattern.arguments[0] if len(pattern.arguments) == 1 else None
        if not isinstance(pattern, str):
            raise QueryError(f"the pattern of LIKE on {field.name} must be text")
        parts = sqlite_filter._like_parts(pattern, node)
        if field.kind in ("code", "theme"):
            # Codes are ASCII: the embedded index's LIKE ignores their case; URIs are compared as written.
            wildcard = {"value": _wildcard(parts, fold_text=False), "case_insensitive": field.kind == "code"}
        elif field.kind in ("title", "text", "words"):
            wildcard = {"value": _wildcard(parts, fold_text=True)}
        else:
            raise QueryError(f"{field.name} cannot be tested with LIKE{sqlite_filter._instead(field)}")
        nullable = frozenset({field.es}) if field.kind in ("code", "title", "text") else frozenset()
        test = _Cond({"wildcard": {field.es: wildcard}}, nullable)
        return _negated(test) if node.not_ else test

    @handle(ast.In)
    def in_(self, node: ast.In, lhs: Any, *options: Any) -> _Cond:
        field, folded = _field(lhs, "IN")
        listed = [_scalar(option, field) for option in options]
        if field.kind == "instant":
            tests = [_instant_compare(field, "=", _period(v, field)).query for v in listed]
            test = _Cond({"bool": {"should": tests, "minimum_should_match": 1}}, frozenset({field.es}))
        elif field.kind in ("code", "title", "text", "words", "theme"):
            texts = [_text(field, v, folded) for v in listed]
            if folded and field.kind == "code":
                should = [{"term": {field.es: {"value": t, "case_insensitive": True}}} for t in texts]
                query: dict[str, Any] = {"bool": {"should": should, "minimum_should_match": 1}}
            else:
                query = {"terms": {field.es: texts}}
            nullable = frozenset({field.es}) if field.kind in ("code", "title", "text") else frozenset()
            test = _Cond(query, nullable)
        elif field.kind == "facet":
            test = _facet(field, listed)
        else:
            raise QueryError(f"{field.name} cannot be tested with IN{sqlite_filter._instead(field)}")
        return _negated(test) if node.not_ else test

    @handle(ast.IsNull)
    def null(self, node: ast.IsNull, lhs: Any) -> _Cond:
        field, _ = _field(lhs, "IS NULL")
        if field.kind == "geometry":
            missing = {"bool": {"must_not": [{"exists": {"field": "n_boxes"}}]}}
        elif field.kind == "extent":
            missing = {"bool": {"must_not": [HAS_TIME]}}
        else:
            missing = {"bool": {"must_not": [{"exists": {"field": field.es}}]}}
        exists = {"bool": {"must_not": [missing]}}
        return _Cond(exists if node.not_ else missing)

    # --- arrays

    @handle(ast.ArrayContains, ast.ArrayOverlaps)
    def array(self, node: ast.ArrayPredicate, lhs: Any, rhs: Any) -> _Cond:
        field, folded = _field(lhs, node.op.value)
        if field.kind not in ("words", "theme") and field.name not in facets.MULTI_VALUED:
            multi = ", ".join(("keywords", "theme", *facets.MULTI_VALUED))
            raise QueryError(f"{node.op.value} applies to {multi}, not {field.name}")
        if not isinstance(rhs, list) or not rhs or not all(isinstance(v, str) for v in rhs):
            raise QueryError(f"{node.op.value} on {field.name} takes a list of texts")
        texts = rhs if field.kind == "facet" else [_text(field, v, folded) for v in rhs]
        if node.op == ast.ArrayComparisonOp.AOVERLAPS:
            return _Cond({"terms": {field.es: texts}})
        return _Cond({"bool": {"filter": [{"term": {field.es: t}} for t in texts]}})

    # --- time

    @handle(ast.TemporalPredicate, subclasses=True)
    def temporal(self, node: ast.TemporalPredicate, lhs: Any, rhs: Any) -> _Cond:
        name = sqlite_filter._describe(node)
        field, _ = _field(lhs, name)
        if field.kind not in ("extent", "instant"):
            raise QueryError(f"{name} applies to time, datetime, created and updated, not {field.name}")
        period = rhs if isinstance(rhs, _Period) else _period(_scalar(rhs, field), field)
        op = node.op
        kinds = ast.TemporalComparisonOp
        if field.kind == "instant":
            tests = {
                kinds.TOVERLAPS: "=",
                kinds.DURING: "=",
                kinds.BEFORE: "<",
                kinds.AFTER: ">",
                kinds.DISJOINT: "<>",
            }
            if op not in tests:
                raise QueryError(f"{name} is not supported in filters on {field.name}")
            return _instant_compare(field, tests[op], period)
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
            raise QueryError(f"{name} is not supported in filters")
        return _Cond({"bool": {"filter": tests_of[op]}})

    # --- space

    @handle(ast.GeometryIntersects, ast.GeometryDisjoint)
    def spatial(self, node: ast.SpatialComparisonPredicate, lhs: Any, rhs: Any) -> _Cond:
        if _is_field(rhs) and not _is_field(lhs):
            lhs, rhs = rhs, lhs
        field, _ = _field(lhs, sqlite_filter._describe(node))
        if field.kind != "geometry":
            raise QueryError(f"{sqlite_filter._describe(node)} applies to geometry, not {field.name}")
        intersects = bbox(sqlite_filter._envelope(rhs))
        if isinstance(node, ast.GeometryIntersects):
            return _Cond(intersects)
        return _Cond({"bool": {"filter": [{"exists": {"field": "n_boxes"}}], "must_not": [intersects]}})

    @handle(ast.BBox)
    def bbox_(self, node: ast.BBox, lhs: Any) -> _Cond:
        field, _ = _field(lhs, "BBOX")
        if field.kind != "geometry":
            raise QueryError(f"BBOX applies to geometry, not {field.name}")
        return _Cond(bbox(sqlite_filter._checked_box(node.minx, node.miny, node.maxx, node.maxy)))


# Only the handlers above: a node pygeofilter's own evaluator would turn into a query of other semantics
# (S_WITHIN, S_CONTAINS, EXISTS...) goes to ``adopt`` and is refused, as the embedded index refuses it.
_ES.handler_map = {
    kind: handler for kind, handler in _ES.handler_map.items() if handler.__qualname__.startswith("_ES.")
}


def _is_field(value: Any) -> bool:
    return isinstance(value, _Field) or (isinstance(value, _Folded) and isinstance(value.inner, _Field))


def _field(value: Any, what: str) -> tuple[_Field, bool]:
    if isinstance(value, _Folded) and isinstance(value.inner, _Field):
        return value.inner, True
    if isinstance(value, _Field):
        return value, False
    raise QueryError(f"{what} must test a queryable ({', '.join(FILTERABLES)}), not {value!r}")


def _scalar(value: Any, field: _Field) -> Any:
    if isinstance(value, _Folded):
        value = value.inner
    if _is_field(value):
        raise QueryError(f"{field.name} can only be compared with a value, not with another property")
    if isinstance(value, list | dict | values.Envelope | values.Geometry | _Period):
        raise QueryError(f"{field.name} cannot be compared with {value!r}")
    return value


def _condition(value: Any) -> _Cond:
    if not isinstance(value, _Cond):
        raise QueryError(f"AND, OR and NOT combine conditions, not {value!r}")
    return value


def _negated(condition: _Cond) -> _Cond:
    """NOT in three-valued logic: a test of a missing value is unknown, and so is its negation."""
    exists = [{"exists": {"field": name}} for name in sorted(condition.nullable)]
    query: dict[str, Any] = {"bool": {"must_not": [condition.query]}}
    if exists:
        query["bool"]["filter"] = exists
    return _Cond(query, condition.nullable)


def _text(field: _Field, value: Any, folded: bool) -> str:
    if not isinstance(value, str):
        raise QueryError(f"{field.name} takes text, got {value!r}")
    if field.kind == "title":
        return sqlite.sort_key(value)[:MAX_KEY_CHARS]
    if field.kind == "text":
        return sqlite_filter.fold(value) or ""
    if field.kind == "words":
        return (sqlite_filter.fold(value) or "")[:MAX_KEY_CHARS]
    return value


def _period(value: Any, field: _Field) -> _Period:
    if isinstance(value, bool) or not isinstance(value, str | date):
        raise QueryError(f"{field.name} takes a date or a timestamp, got {value!r}")
    return _Period(sqlite_filter._bound(value, end=False), sqlite_filter._bound(value, end=True))


def _instant_compare(field: _Field, op: str, period: _Period) -> _Cond:
    nullable = frozenset({field.es})
    if op == "=":
        return _Cond({"range": {field.es: {"gte": period.start, "lte": period.end}}}, nullable)
    if op == "<>":
        outside = [{"range": {field.es: {"lt": period.start}}}, {"range": {field.es: {"gt": period.end}}}]
        return _Cond({"bool": {"should": outside, "minimum_should_match": 1}}, nullable)
    bound = period.start if op in ("<", ">=") else period.end
    return _Cond({"range": {field.es: {_RANGE[op]: bound}}}, nullable)


def _facet(field: _Field, listed: list[Any]) -> _Cond:
    wanted = []
    for value in listed:
        if field.name == "year" and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise QueryError(f"{field.name} takes text, got {value!r}")
        wanted.append(value)
    if field.name == "year":
        return _Cond(year(wanted))
    return _Cond({"terms": {field.es: wanted}})


_WILDCARD_SPECIAL = re.compile(r"([*?\\])")


def _wildcard(parts: list[Any], *, fold_text: bool) -> str:
    """A ``LIKE`` pattern (``sqlite_filter._like_parts``) as a wildcard pattern: ``*`` and ``?``,
    the literal text escaped (and folded as the field is)."""
    out = []
    for part in parts:
        if part is sqlite_filter._ANY:
            out.append("*")
        elif part is sqlite_filter._ONE:
            out.append("?")
        else:
            text = (sqlite_filter.fold(part) or "") if fold_text else part
            out.append(_WILDCARD_SPECIAL.sub(r"\\\1", text))
    return "".join(out)
