"""CQL2 filters and ``externalIds`` as SQL over the embedded index (``catalogue.stores.sqlite``).

A filter (a pygeofilter AST, ``catalogue.query.parse_filter``) becomes one WHERE condition on the
search's record row ``r`` (and its number, ``key``), with every value a named parameter: nothing a client
writes is ever spliced into the SQL. What each queryable (``catalogue.query.FILTERABLES``) is, and what
may be done with it:

- codes (``id``, ``type``, ``pole``, ``source``, ``language``, ``fair_level``): columns of ``records``;
  comparisons, ``LIKE`` (case-insensitive), ``IN``, ``BETWEEN``, ``IS NULL``.
- ``title``: the main title as ``records.title_key`` holds it, case- and accent-folded, compared with
  the value folded alike; ``description``: the abstract with its translations, folded when read.
- ``keywords``: multi-valued (each keyword and translation, and the labels of the record's concepts, a
  line of ``documents.keyword_text``): ``=``, ``<>``, ``LIKE``, ``IN`` hold when some keyword matches
  (folded); ``A_CONTAINS``/``A_OVERLAPS`` when all/any of a list do.
- ``theme``: a concept URI through ``record_concepts`` (a broad concept matches records having a
  narrower one): ``=``, ``<>``, ``IN``, ``LIKE`` on URIs, ``A_CONTAINS``/``A_OVERLAPS``, ``IS NULL``.
- facet values (``platform``, ``instrument``, ``format``, ``license``, ``year``): the bucket values of
  their facets, read from ``record_facets`` (``facet_where``): ``=``, ``<>``, ``IN``, ``IS NULL``, and
  ``A_CONTAINS``/``A_OVERLAPS`` on the multi-valued ones; ``year`` holds when an extent covers it.
- ``created``, ``updated``: instants; a date or a partial date compares as the period it names (``=``
  a day is within it, ``<`` before its start, ``>`` after its end), as do ``BETWEEN`` and the temporal
  predicates.
- ``time``/``datetime``: the temporal extents. ``T_INTERSECTS`` holds when some extent intersects;
  ``T_BEFORE``/``T_AFTER``/``T_DURING``/``T_CONTAINS``/``T_DISJOINT`` look at their union (the record
  ends before, starts after, lies within, spans, touches nowhere). Open ends are the index's sentinels.
- ``geometry``: the bounding boxes, in the R*Tree. ``S_INTERSECTS`` (and ``BBOX``) hold when some box
  intersects the envelope of the geometry given (exact for a box, a superset for other shapes);
  ``S_DISJOINT`` when a record has boxes and none does.

Anything else pygeofilter parses (other operators, functions, arithmetic, property-to-property
comparisons) is a ``QueryError`` saying it is not supported: a client's mistake, never a server error.

``externalIds``: ``record_identifiers`` holds what ``catalogue.geojson.external_ids`` shows of each
record (``own``), and the record's source and native id (not own: what its primary shows of it when it
is a duplicate, see ``api.provider``). An identifier of a duplicate finds its primary, which lists it.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
import sqlite3
import unicodedata
from datetime import date
from typing import Any, NamedTuple

from pygeofilter import ast, values
from pygeofilter.backends.evaluator import Evaluator, handle

from catalogue import facets
from catalogue.geojson import external_ids
from catalogue.query import FILTERABLES, ExternalId, QueryError
from catalogue.record import Record
from catalogue.stores import sqlite as index

# The blocks of combining diacritical marks, as ``sqlite.sort_key`` removes them.
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def fold(text: str | None) -> str | None:
    """Case- and accent-folded, as ``sort_key`` folds titles, but not stripped (a LIKE pattern's
    spaces count)."""
    if text is None:
        return None
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text.casefold()))


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.DOTALL)


def _lines_match(text: str | None, pattern: str) -> bool:
    """Whether a line of ``text``, folded, matches the regular expression ``pattern`` whole."""
    if not text:
        return False
    regex = _compiled(pattern)
    return any(regex.fullmatch(fold(line) or "") for line in text.split("\n"))


def register_functions(conn: sqlite3.Connection) -> None:
    """The SQL functions filters use, on a new connection."""
    conn.create_function("tc_fold", 1, fold, deterministic=True)
    conn.create_function("tc_lines_match", 2, _lines_match, deterministic=True)


# --- externalIds ----------------------------------------------------------------------------------


def identifier_rows(record: Record) -> list[tuple[str, str, int]]:
    """``(scheme, value, own)`` of the record's identifiers: those ``externalIds`` shows (``own`` 1;
    no scheme is ``''``), then its source and native id (``own`` 0), each once."""
    rows = {(entry.get("scheme", ""), entry["value"], 1): None for entry in external_ids(record)}
    rows.setdefault((record.source_id, record.native_id, 0), None)
    return list(rows)


def external_ids_where(wanted: list[ExternalId], key: str, params: dict[str, object]) -> str:
    """Records having one of the identifiers ``wanted``: own ones, and those of their duplicates (the
    primary lists its copies' identifiers and their source and native id)."""
    full = [[w.scheme, w.value] for w in wanted if w.scheme is not None and w.value is not None]
    tests = []
    if full:
        params["xid_full"] = json.dumps(full)
        tests.append(
            "(i.scheme, i.value) IN"
            " (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(:xid_full))"
        )
    if value_only := [w.value for w in wanted if w.scheme is None and w.value is not None]:
        params["xid_value"] = json.dumps(value_only)
        tests.append("i.value IN (SELECT value FROM json_each(:xid_value))")
    if scheme_only := [w.scheme for w in wanted if w.scheme is not None and w.value is None]:
        params["xid_scheme"] = json.dumps(scheme_only)
        tests.append("i.scheme IN (SELECT value FROM json_each(:xid_scheme))")
    if not tests:
        return "0"
    test = " OR ".join(tests)
    return (
        f"{key} IN (SELECT i.num FROM record_identifiers AS i WHERE i.own AND ({test})"
        f" UNION SELECT x.duplicate_of FROM record_identifiers AS i JOIN records AS x ON x.num = i.num"
        f" WHERE x.duplicate_of IS NOT NULL AND ({test}))"
    )


# --- facet values ---------------------------------------------------------------------------------

FACET_PROPERTIES = ("platform", "instrument", "format", "license", "year")


def facet_where(name: str, wanted: list[str] | None, key: str, param: Any) -> str:
    """Records having one of the ``wanted`` bucket values of the facet ``name`` (``None``: any value), as
    ``catalogue.facets.Facts`` in ``record_facets`` holds them; ``param(value)`` names a parameter.
    ``year``: an extent covers one of the years (a year no bucket can have matches nothing)."""
    facts = "CAST(f.facts AS TEXT)"  # SQLite before 3.45 refuses JSON as a BLOB
    if name == "license":
        test = (
            "" if wanted is None else f" AND v IN (SELECT value FROM json_each({param(json.dumps(wanted))}))"
        )
        return (
            f"{key} IN (SELECT num FROM (SELECT f.num, json_extract({facts}, '$.license') AS v"
            f" FROM record_facets AS f) WHERE v IS NOT NULL{test})"
        )
    if name == "year":
        test = ""
        if wanted is not None:
            years = facets.years(wanted)
            if not years:
                return "0"
            test = (
                f" AND EXISTS (SELECT 1 FROM json_each({param(json.dumps(years))}) AS w"
                f" WHERE json_extract(y.value, '$[0]') <= w.value"
                f" AND coalesce(json_extract(y.value, '$[1]'), w.value) >= w.value)"
            )
        years_of = f"record_facets AS f, json_each({facts}, '$.years') AS y"
        return f"{key} IN (SELECT f.num FROM {years_of} WHERE 1{test})"
    path = f"$.{facets.MULTI_VALUED[name]}"
    test = (
        ""
        if wanted is None
        else f" WHERE v.value IN (SELECT value FROM json_each({param(json.dumps(wanted))}))"
    )
    return f"{key} IN (SELECT f.num FROM record_facets AS f, json_each({facts}, '{path}') AS v{test})"


# --- CQL2 filter ----------------------------------------------------------------------------------


MAX_DEPTH = 100  # of a filter's tree: far below SQLite's 1000 levels of expression, and Python's stack


def filter_where(node: Any, key: str, params: dict[str, object]) -> str:
    """The SQL condition of the filter ``node``, its values added to ``params`` (``cql<n>``)."""
    if _depth(node) > MAX_DEPTH:
        raise QueryError(f"filter is nested too deeply (more than {MAX_DEPTH} levels)")
    condition = _SQL(key, params).evaluate(node)
    if not isinstance(condition, _Condition):
        raise QueryError("filter must be a condition (a comparison, a predicate...)")
    return condition.sql


def _depth(node: Any) -> int:
    """How deep the tree under ``node`` is, walked without recursion (a client decides the depth)."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth <= MAX_DEPTH and hasattr(current, "get_sub_nodes"):
            subs = current.get_sub_nodes()
            stack.extend((sub, depth + 1) for sub in (subs if isinstance(subs, list) else [subs]))
    return deepest


class _Field(NamedTuple):
    name: str
    kind: str  # how it is stored: see _FIELDS
    column: str  # the SQL expression of its value, where it has one


class _Folded(NamedTuple):
    """``CASEI(x)``/``ACCENTI(x)``: ``x`` compared case- and accent-insensitively."""

    inner: Any


class _Condition(NamedTuple):
    sql: str


class _Period(NamedTuple):
    """A time literal as the first and last second it covers (index text, open ends as sentinels)."""

    start: str
    end: str


_DOCUMENT = "(SELECT {} FROM documents AS d WHERE d.num = r.num)"
_FIELDS: dict[str, tuple[str, str]] = {
    "id": ("code", "r.id"),
    "type": ("code", "r.resource_type"),
    "pole": ("code", "r.pole"),
    "source": ("code", "r.source_id"),
    "language": ("code", "r.language"),
    "fair_level": ("code", "r.fair_level"),
    "title": ("title", "r.title_key"),
    "description": ("text", _DOCUMENT.format("d.abstract_text")),
    "keywords": ("words", _DOCUMENT.format("d.keyword_text")),
    "theme": ("theme", ""),
    **{name: ("facet", "") for name in FACET_PROPERTIES},
    "created": ("instant", "r.created"),
    "updated": ("instant", "r.updated"),
    "time": ("extent", ""),
    "datetime": ("extent", ""),
    "geometry": ("geometry", ""),
}
assert set(_FIELDS) == set(FILTERABLES)

_COMPARISONS = {
    ast.ComparisonOp.EQ: "=",
    ast.ComparisonOp.NE: "<>",
    ast.ComparisonOp.LT: "<",
    ast.ComparisonOp.LE: "<=",
    ast.ComparisonOp.GT: ">",
    ast.ComparisonOp.GE: ">=",
}
_MIRRORED = {"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_FALSE = _Condition("0")
_LIKE_ESCAPE = "\\"


class _SQL(Evaluator):
    """The pygeofilter evaluator making the SQL: leaves evaluate to ``_Field``s and values, predicates
    to ``_Condition``s, combinations of conditions to conditions."""

    def __init__(self, key: str, params: dict[str, object]) -> None:
        self.key = key
        self.params = params
        self.count = itertools.count()

    def adopt(self, node: Any, *args: Any) -> Any:
        raise QueryError(f"{_describe(node)} is not supported in filters")

    def _param(self, value: object) -> str:
        name = f"cql{next(self.count)}"
        self.params[name] = value
        return f":{name}"

    # --- leaves -----------------------------------------------------------------------------

    @handle(ast.Attribute)
    def attribute(self, node: ast.Attribute) -> _Field:
        if node.name not in _FIELDS:
            known = ", ".join(FILTERABLES)
            raise QueryError(f"unknown property {node.name!r} in filter; queryables: {known}")
        return _Field(node.name, *_FIELDS[node.name])

    @handle(*values.LITERALS, type(None))
    def literal(self, node: Any) -> Any:
        return node

    @handle(values.Envelope, values.Geometry)
    def shape(self, node: Any) -> Any:
        return node

    @handle(values.Interval)
    def interval(self, node: values.Interval, start: Any, end: Any) -> _Period:
        # An open bound, or the first instant there is (cql2-text's open bound, see parse_filter): the
        # index's sentinel, so that an open-ended extent lies within an open-ended interval.
        first = _bound(start, end=False) if start is not None else index.OPEN_START
        return _Period(
            index.OPEN_START if first.startswith("0001-01-01T00:00:00") else first,
            _bound(end, end=True) if end is not None else index.OPEN_END,
        )

    @handle(ast.Function)
    def function(self, node: ast.Function, *arguments: Any) -> Any:
        name = node.name.lower()
        if name in ("lower", "casei", "accenti") and len(arguments) == 1:
            return arguments[0] if isinstance(arguments[0], _Folded) else _Folded(arguments[0])
        if name == "bbox" and len(arguments) in (4, 6):
            numbers = arguments if len(arguments) == 4 else (*arguments[:2], *arguments[3:5])
            west, south, east, north = numbers
            return values.Envelope(west, east, south, north)
        raise QueryError(f"function {node.name}() is not supported in filters")

    # --- logic ------------------------------------------------------------------------------

    @handle(ast.And, ast.Or)
    def combination(self, node: ast.Combination, lhs: Any, rhs: Any) -> _Condition:
        return _Condition(f"({_condition(lhs).sql} {node.op.value} {_condition(rhs).sql})")

    @handle(ast.Not)
    def negation(self, node: ast.Not, sub: Any) -> _Condition:
        return _negated(_condition(sub))

    @handle(ast.Include)
    def include(self, node: ast.Include) -> _Condition:
        return _Condition("0" if node.not_ else "1")

    # --- comparisons ------------------------------------------------------------------------

    @handle(ast.Comparison, subclasses=True)
    def comparison(self, node: ast.Comparison, lhs: Any, rhs: Any) -> _Condition:
        op = _COMPARISONS[node.op]
        if not _is_field(lhs) and _is_field(rhs):
            lhs, rhs, op = rhs, lhs, _MIRRORED[op]
        field, folded = _field(lhs, "a comparison")
        value = _scalar(rhs, field)
        if field.kind == "instant":
            return self._instant_compare(field, op, _period(value, field))
        if field.kind == "facet" and op in ("=", "<>"):
            test = self._facet(field, [value])
            return test if op == "=" else _negated(test)
        text = self._text(field, value, folded)
        if field.kind in ("code", "title", "text"):
            return _Condition(f"{self._column(field, folded)} {op} {self._param(text)}")
        if field.kind in ("words", "theme") and op in ("=", "<>"):
            test = self._member(field, [text])
            return test if op == "=" else _negated(test)
        raise QueryError(f"{field.name} cannot be compared with {op}{_instead(field)}")

    @handle(ast.Between)
    def between(self, node: ast.Between, lhs: Any, low: Any, high: Any) -> _Condition:
        field, folded = _field(lhs, "BETWEEN")
        low, high = _scalar(low, field), _scalar(high, field)
        if field.kind == "instant":
            low_period, high_period = _period(low, field), _period(high, field)
            test = _Condition(
                f"({field.column} >= {self._param(low_period.start)}"
                f" AND {field.column} <= {self._param(high_period.end)})"
            )
        elif field.kind in ("code", "title", "text"):
            column = self._column(field, folded)
            low_text, high_text = self._text(field, low, folded), self._text(field, high, folded)
            test = _Condition(f"({column} BETWEEN {self._param(low_text)} AND {self._param(high_text)})")
        else:
            raise QueryError(f"{field.name} cannot be tested with BETWEEN{_instead(field)}")
        return _negated(test) if node.not_ else test

    @handle(ast.Like)
    def like(self, node: ast.Like, lhs: Any) -> _Condition:
        field, folded = _field(lhs, "LIKE")
        pattern = node.pattern
        if isinstance(pattern, ast.Function) and pattern.name.lower() in ("lower", "casei", "accenti"):
            pattern = pattern.arguments[0] if len(pattern.arguments) == 1 else None
        if not isinstance(pattern, str):
            raise QueryError(f"the pattern of LIKE on {field.name} must be text")
        parts = _like_parts(pattern, node)
        if field.kind == "code" and not folded:  # codes are ASCII: SQLite's LIKE ignores their case
            test = f"{field.column} LIKE {self._param(_like_sql(parts, fold_text=False))} ESCAPE '\\'"
        elif field.kind == "theme":
            test = (
                f"{self.key} IN (SELECT num FROM record_concepts WHERE concept IN (SELECT id FROM concepts"
                f" WHERE uri LIKE {self._param(_like_sql(parts, fold_text=False))} ESCAPE '\\'))"
            )
        elif field.kind in ("code", "title", "text"):
            column = self._column(field, folded=True)
            test = f"{column} LIKE {self._param(_like_sql(parts, fold_text=True))} ESCAPE '\\'"
        elif field.kind == "words":
            test = f"tc_lines_match({field.column}, {self._param(_like_regex(parts))})"
        else:
            raise QueryError(f"{field.name} cannot be tested with LIKE{_instead(field)}")
        return _negated(_Condition(test)) if node.not_ else _Condition(test)

    @handle(ast.In)
    def in_(self, node: ast.In, lhs: Any, *options: Any) -> _Condition:
        field, folded = _field(lhs, "IN")
        listed = [_scalar(option, field) for option in options]
        if field.kind == "instant":
            tests = [self._instant_compare(field, "=", _period(v, field)).sql for v in listed]
            test = _Condition(f"({' OR '.join(tests)})")
        elif field.kind in ("code", "title", "text"):
            texts = json.dumps([self._text(field, v, folded) for v in listed])
            test = _Condition(
                f"{self._column(field, folded)} IN (SELECT value FROM json_each({self._param(texts)}))"
            )
        elif field.kind in ("words", "theme"):
            test = self._member(field, [self._text(field, v, folded) for v in listed])
        elif field.kind == "facet":
            test = self._facet(field, listed)
        else:
            raise QueryError(f"{field.name} cannot be tested with IN{_instead(field)}")
        return _negated(test) if node.not_ else test

    @handle(ast.IsNull)
    def is_null(self, node: ast.IsNull, lhs: Any) -> _Condition:
        field, _ = _field(lhs, "IS NULL")
        if field.kind == "facet":
            test = _Condition(f"NOT {facet_where(field.name, None, self.key, self._param)}")
            return _negated(test) if node.not_ else test
        tests = {
            "title": "r.title_key = ''",
            "text": f"{field.column} = ''",
            "words": f"{field.column} = ''",
            "theme": f"{self.key} NOT IN (SELECT num FROM record_concepts)",
            "extent": "r.time_start IS NULL",
            "geometry": "r.n_boxes = 0",
        }
        test = _Condition(tests.get(field.kind, f"{field.column} IS NULL"))
        return _negated(test) if node.not_ else test

    # --- arrays -----------------------------------------------------------------------------

    @handle(ast.ArrayContains, ast.ArrayOverlaps)
    def array(self, node: ast.ArrayPredicate, lhs: Any, rhs: Any) -> _Condition:
        field, folded = _field(lhs, node.op.value)
        if field.kind not in ("words", "theme") and field.name not in facets.MULTI_VALUED:
            multi = ", ".join(("keywords", "theme", *facets.MULTI_VALUED))
            raise QueryError(f"{node.op.value} applies to {multi}, not {field.name}")
        if not isinstance(rhs, list) or not rhs or not all(isinstance(v, str) for v in rhs):
            raise QueryError(f"{node.op.value} on {field.name} takes a list of texts")
        if field.kind == "facet":
            if node.op == ast.ArrayComparisonOp.AOVERLAPS:
                return self._facet(field, rhs)
            return _Condition(f"({' AND '.join(self._facet(field, [v]).sql for v in rhs)})")
        texts = [self._text(field, v, folded) for v in rhs]
        if node.op == ast.ArrayComparisonOp.AOVERLAPS:
            return self._member(field, texts)
        return _Condition(f"({' AND '.join(self._member(field, [t]).sql for t in texts)})")

    # --- time -------------------------------------------------------------------------------

    @handle(ast.TemporalPredicate, subclasses=True)
    def temporal(self, node: ast.TemporalPredicate, lhs: Any, rhs: Any) -> _Condition:
        name = _describe(node)
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
            return self._instant_compare(field, tests[op], period)
        start, end = self._param(period.start), self._param(period.end)
        if op in (kinds.TOVERLAPS, kinds.DISJOINT):  # pygeofilter reads T_INTERSECTS as OVERLAPS
            intersects = (
                f"(r.time_start <= {end} AND r.time_end >= {start} AND (r.n_times = 1 OR EXISTS"
                f" (SELECT 1 FROM record_times AS x WHERE x.num = r.num AND x.time_start <= {end}"
                f" AND x.time_end >= {start})))"
            )
            if op == kinds.TOVERLAPS:
                return _Condition(intersects)
            return _Condition(f"(r.time_start IS NOT NULL AND NOT {intersects})")
        tests = {
            kinds.BEFORE: f"r.time_end < {start}",
            kinds.AFTER: f"r.time_start > {end}",
            kinds.DURING: f"(r.time_start >= {start} AND r.time_end <= {end})",
            kinds.TCONTAINS: f"(r.time_start <= {start} AND r.time_end >= {end})",
        }
        if op not in tests:
            raise QueryError(f"{name} is not supported in filters")
        return _Condition(tests[op])

    # --- space ------------------------------------------------------------------------------

    @handle(ast.GeometryIntersects, ast.GeometryDisjoint)
    def spatial(self, node: ast.SpatialComparisonPredicate, lhs: Any, rhs: Any) -> _Condition:
        if _is_field(rhs) and not _is_field(lhs):
            lhs, rhs = rhs, lhs
        field, _ = _field(lhs, _describe(node))
        if field.kind != "geometry":
            raise QueryError(f"{_describe(node)} applies to geometry, not {field.name}")
        intersects = self._boxes(_envelope(rhs))
        if isinstance(node, ast.GeometryIntersects):
            return intersects
        return _Condition(f"(r.n_boxes > 0 AND NOT {intersects.sql})")

    @handle(ast.BBox)
    def bbox(self, node: ast.BBox, lhs: Any) -> _Condition:
        field, _ = _field(lhs, "BBOX")
        if field.kind != "geometry":
            raise QueryError(f"BBOX applies to geometry, not {field.name}")
        return self._boxes(_checked_box(node.minx, node.miny, node.maxx, node.maxy))

    # --- helpers ----------------------------------------------------------------------------

    def _column(self, field: _Field, folded: bool) -> str:
        """The SQL of the field's value as compared: titles are folded in the index already."""
        if field.kind == "text" or (folded and field.kind == "code"):
            return f"tc_fold({field.column})"
        return field.column

    def _text(self, field: _Field, value: Any, folded: bool) -> str:
        """A literal as the field's column holds values."""
        if not isinstance(value, str):
            raise QueryError(f"{field.name} takes text, got {value!r}")
        if field.kind == "title":
            return index.sort_key(value)
        if field.kind in ("text", "words") or (folded and field.kind == "code"):
            return fold(value) or ""
        return value

    def _member(self, field: _Field, texts: list[str]) -> _Condition:
        """Some value of the multi-valued ``field`` is one of ``texts`` (already ``_text``)."""
        if field.kind == "theme":
            uris = self._param(json.dumps(texts))
            return _Condition(
                f"{self.key} IN (SELECT num FROM record_concepts WHERE concept IN"
                f" (SELECT id FROM concepts WHERE uri IN (SELECT value FROM json_each({uris}))))"
            )
        regex = "|".join(re.escape(text) for text in texts)
        return _Condition(f"tc_lines_match({field.column}, {self._param(regex)})")

    def _facet(self, field: _Field, listed: list[Any]) -> _Condition:
        """Some bucket value of the facet ``field`` is one of ``listed`` (texts; years as numbers too)."""
        wanted = []
        for value in listed:
            if field.name == "year" and isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            if not isinstance(value, str):
                raise QueryError(f"{field.name} takes text, got {value!r}")
            wanted.append(value)
        return _Condition(facet_where(field.name, wanted, self.key, self._param))

    def _instant_compare(self, field: _Field, op: str, period: _Period) -> _Condition:
        column = field.column
        if op == "=":
            start, end = self._param(period.start), self._param(period.end)
            return _Condition(f"({column} >= {start} AND {column} <= {end})")
        if op == "<>":
            start, end = self._param(period.start), self._param(period.end)
            return _Condition(f"({column} < {start} OR {column} > {end})")
        bound = period.start if op in ("<", ">=") else period.end
        return _Condition(f"{column} {op} {self._param(bound)}")

    def _boxes(self, box: tuple[float, float, float, float]) -> _Condition:
        selects = []
        for min_lon, max_lon, min_lat, max_lat in index._split(*box):
            selects.append(
                f"SELECT id >> {index._BOX_BITS} FROM record_boxes WHERE min_lon <= {self._param(max_lon)}"
                f" AND max_lon >= {self._param(min_lon)} AND min_lat <= {self._param(max_lat)}"
                f" AND max_lat >= {self._param(min_lat)}"
            )
        return _Condition(f"{self.key} IN ({' UNION ALL '.join(selects)})")


def _is_field(value: Any) -> bool:
    return isinstance(value, _Field) or (isinstance(value, _Folded) and isinstance(value.inner, _Field))


def _field(value: Any, what: str) -> tuple[_Field, bool]:
    """The queryable a predicate tests, and whether it was wrapped in CASEI/ACCENTI."""
    if isinstance(value, _Folded) and isinstance(value.inner, _Field):
        return value.inner, True
    if isinstance(value, _Field):
        return value, False
    raise QueryError(f"{what} must test a queryable ({', '.join(FILTERABLES)}), not {value!r}")


def _scalar(value: Any, field: _Field) -> Any:
    """A literal compared with ``field`` (``CASEI`` on a literal changes nothing: values are folded
    as the field is)."""
    if isinstance(value, _Folded):
        value = value.inner
    if _is_field(value):
        raise QueryError(f"{field.name} can only be compared with a value, not with another property")
    if isinstance(value, list | dict | values.Envelope | values.Geometry | _Period):
        raise QueryError(f"{field.name} cannot be compared with {value!r}")
    return value


def _condition(value: Any) -> _Condition:
    if not isinstance(value, _Condition):
        raise QueryError(f"AND, OR and NOT combine conditions, not {value!r}")
    return value


def _negated(condition: _Condition) -> _Condition:
    """NOT in SQL's three-valued logic, which is CQL2's: a test of a missing value (a record with no
    pole) is unknown, and so is its negation; neither selects the record."""
    return _Condition(f"NOT {condition.sql}")


def _instead(field: _Field) -> str:
    hints = {
        "extent": "; use T_INTERSECTS, T_BEFORE, T_AFTER, T_DURING, T_CONTAINS or T_DISJOINT",
        "geometry": "; use S_INTERSECTS, S_DISJOINT or BBOX",
        "words": "; use =, <>, LIKE, IN, A_CONTAINS or A_OVERLAPS",
        "theme": "; use =, <>, LIKE, IN, A_CONTAINS or A_OVERLAPS",
        "facet": "; use =, <>, IN or IS NULL",
    }
    return hints.get(field.kind, "")


def _describe(node: Any) -> str:
    """How a client wrote ``node``, near enough for an error message."""
    if isinstance(node, ast.TemporalPredicate):
        renamed = {"TOVERLAPS": "INTERSECTS", "TCONTAINS": "CONTAINS", "TEQUALS": "EQUALS"}
        return f"T_{renamed.get(node.op.name, node.op.name)}"
    if isinstance(node, ast.SpatialComparisonPredicate):
        return f"S_{node.op.name}"
    if isinstance(node, ast.ArrayPredicate):
        return f"A_{node.op.name[1:]}"
    if isinstance(node, ast.SpatialDistancePredicate):
        return f"S_{node.op.name}"
    if isinstance(node, ast.Arithmetic):
        return "arithmetic"
    return type(node).__name__.upper()


# --- values ---------------------------------------------------------------------------------------


def _bound(value: Any, *, end: bool) -> str:
    """A date, timestamp or (partial) date text as index time text: its first second, or its last."""
    if isinstance(value, date):  # datetimes too
        text = value.isoformat()
    elif isinstance(value, str):
        text = value
    else:
        raise QueryError(f"a time must be a date or a timestamp, got {value!r}")
    normalised = index.instant(text, end=end)
    if normalised is None:
        raise QueryError(f"{value!r} is not a date or a timestamp")
    return normalised


def _period(value: Any, field: _Field) -> _Period:
    if isinstance(value, bool) or not isinstance(value, str | date):
        raise QueryError(f"{field.name} takes a date or a timestamp, got {value!r}")
    return _Period(_bound(value, end=False), _bound(value, end=True))


def _checked_box(west: Any, south: Any, east: Any, north: Any) -> tuple[float, float, float, float]:
    numbers = (west, south, east, north)
    if not all(isinstance(n, int | float) and not isinstance(n, bool) and math.isfinite(n) for n in numbers):
        raise QueryError(f"a box must be four finite numbers, got {numbers!r}")
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= 90 and -90 <= north <= 90):
        raise QueryError(f"a box must lie within [-180, 180] x [-90, 90], got {numbers!r}")
    if south > north:
        raise QueryError(f"a box's south ({south}) is north of its north ({north})")
    return (float(west), float(south), float(east), float(north))


def _envelope(shape: Any) -> tuple[float, float, float, float]:
    """(west, south, east, north) of a box (west > east crosses the antimeridian) or of a geometry's
    coordinates."""
    if isinstance(shape, values.Envelope):
        return _checked_box(shape.x1, shape.y1, shape.x2, shape.y2)
    if isinstance(shape, values.Geometry):
        points = list(_points(shape.geometry))
        if not points:
            raise QueryError("the geometry of a spatial predicate has no coordinates")
        lons, lats = [p[0] for p in points], [p[1] for p in points]
        return _checked_box(min(lons), min(lats), max(lons), max(lats))
    raise QueryError(f"a spatial predicate takes a geometry or a BBOX, not {shape!r}")


def _points(geometry: Any) -> Any:
    if isinstance(geometry, dict):
        if geometry.get("type") == "GeometryCollection":
            for member in geometry.get("geometries", []):
                yield from _points(member)
            return
        geometry = geometry.get("coordinates", [])
    if isinstance(geometry, list | tuple):
        if len(geometry) >= 2 and all(isinstance(n, int | float) for n in geometry):
            yield geometry
        else:
            for item in geometry:
                yield from _points(item)


# --- LIKE -----------------------------------------------------------------------------------------

_ANY, _ONE = object(), object()


def _like_parts(pattern: str, node: ast.Like) -> list[Any]:
    """The pattern as literal texts and wildcards. CQL2's wildcards are ``%`` and ``_`` with ``\\`` to
    escape; pygeofilter's own ``singlechar`` (``.``) is not one, or a DOI or a version could not be
    searched."""
    parts: list[Any] = []
    text = ""
    chars = iter(pattern)
    for char in chars:
        if char == node.escapechar:
            text += next(chars, "")
        elif char in ("%", node.wildcard) or char == "_":
            if text:
                parts.append(text)
                text = ""
            parts.append(_ANY if char != "_" else _ONE)
        else:
            text += char
    if text:
        parts.append(text)
    return parts


def _like_sql(parts: list[Any], *, fold_text: bool) -> str:
    out = []
    for part in parts:
        if part is _ANY:
            out.append("%")
        elif part is _ONE:
            out.append("_")
        else:
            text = (fold(part) or "") if fold_text else part
            out.append(re.sub(r"([%_\\])", r"\\\1", text))
    return "".join(out)


def _like_regex(parts: list[Any]) -> str:
    return "".join(
        ".*" if part is _ANY else "." if part is _ONE else re.escape(fold(part) or "") for part in parts
    )
