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

What each queryable is, what each operator takes, and the errors for the rest are ``catalogue.cql2``'s,
which the Elasticsearch backend (``catalogue.stores.es_query``) shares.

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
import re
import sqlite3
import unicodedata
from typing import Any, ClassVar, NamedTuple

from pygeofilter import ast
from pygeofilter.backends.evaluator import handle

from catalogue import cql2, facets
from catalogue.cql2 import FACET_PROPERTIES as FACET_PROPERTIES
from catalogue.geojson import external_ids
from catalogue.query import ExternalId, QueryError
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


def filter_where(node: Any, key: str, params: dict[str, object]) -> str:
    """The SQL condition of the filter ``node``, its values added to ``params`` (``cql<n>``)."""
    cql2.check_depth(node)
    condition = _SQL(key, params).evaluate(node)
    if not isinstance(condition, _Condition):
        raise QueryError("filter must be a condition (a comparison, a predicate...)")
    return condition.sql


class _Condition(NamedTuple):
    sql: str


_DOCUMENT = "(SELECT {} FROM documents AS d WHERE d.num = r.num)"


class _SQL(cql2.Evaluator):
    """The pygeofilter evaluator making the SQL: leaves evaluate to ``cql2.Field``s and values (``cql2``
    checks them), predicates to ``_Condition``s, combinations of conditions to conditions."""

    columns: ClassVar[dict[str, str]] = {  # the SQL expression of a queryable's value, where it has one
        "id": "r.id",
        "type": "r.resource_type",
        "pole": "r.pole",
        "source": "r.source_id",
        "language": "r.language",
        "fair_level": "r.fair_level",
        "title": "r.title_key",
        "description": _DOCUMENT.format("d.abstract_text"),
        "keywords": _DOCUMENT.format("d.keyword_text"),
        "created": "r.created",
        "updated": "r.updated",
    }

    def __init__(self, key: str, params: dict[str, object]) -> None:
        self.key = key
        self.params = params
        self.count = itertools.count()

    def _param(self, value: object) -> str:
        name = f"cql{next(self.count)}"
        self.params[name] = value
        return f":{name}"

    # --- logic ------------------------------------------------------------------------------

    @handle(ast.And, ast.Or)
    def combination(self, node: ast.Combination, lhs: Any, rhs: Any) -> _Condition:
        left, right = cql2.condition(lhs, _Condition), cql2.condition(rhs, _Condition)
        return _Condition(f"({left.sql} {node.op.value} {right.sql})")

    @handle(ast.Not)
    def negation(self, node: ast.Not, sub: Any) -> _Condition:
        return _negated(cql2.condition(sub, _Condition))

    @handle(ast.Include)
    def include(self, node: ast.Include) -> _Condition:
        return _Condition("0" if node.not_ else "1")

    # --- comparisons ------------------------------------------------------------------------

    @handle(ast.Comparison, subclasses=True)
    def comparison(self, node: ast.Comparison, lhs: Any, rhs: Any) -> _Condition:
        field, folded, op, value = cql2.compared(node, lhs, rhs)
        if field.kind == "instant":
            return self._instant_compare(field, op, cql2.period(value, field))
        if field.kind == "facet" and op in ("=", "<>"):
            test = self._facet(field, [value])
            return test if op == "=" else _negated(test)
        text = self._text(field, value, folded)
        if field.kind in ("code", "title", "text"):
            return _Condition(f"{self._column(field, folded)} {op} {self._param(text)}")
        if field.kind in ("words", "theme") and op in ("=", "<>"):
            test = self._member(field, [text])
            return test if op == "=" else _negated(test)
        raise cql2.refused(field, f"compared with {op}")

    @handle(ast.Between)
    def between(self, node: ast.Between, lhs: Any, low: Any, high: Any) -> _Condition:
        field, folded, low, high = cql2.between(lhs, low, high)
        if field.kind == "instant":
            low_period, high_period = cql2.period(low, field), cql2.period(high, field)
            test = _Condition(
                f"({field.column} >= {self._param(low_period.start)}"
                f" AND {field.column} <= {self._param(high_period.end)})"
            )
        elif field.kind in ("code", "title", "text"):
            column = self._column(field, folded)
            low_text, high_text = self._text(field, low, folded), self._text(field, high, folded)
            test = _Condition(f"({column} BETWEEN {self._param(low_text)} AND {self._param(high_text)})")
        else:
            raise cql2.refused(field, "tested with BETWEEN")
        return _negated(test) if node.not_ else test

    @handle(ast.Like)
    def like(self, node: ast.Like, lhs: Any) -> _Condition:
        field, folded, parts = cql2.like(node, lhs)
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
            raise cql2.refused(field, "tested with LIKE")
        return _negated(_Condition(test)) if node.not_ else _Condition(test)

    @handle(ast.In)
    def in_(self, node: ast.In, lhs: Any, *options: Any) -> _Condition:
        field, folded, listed = cql2.listed(lhs, options)
        if field.kind == "instant":
            tests = [self._instant_compare(field, "=", cql2.period(v, field)).sql for v in listed]
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
            raise cql2.refused(field, "tested with IN")
        return _negated(test) if node.not_ else test

    @handle(ast.IsNull)
    def is_null(self, node: ast.IsNull, lhs: Any) -> _Condition:
        field, _ = cql2.tested(lhs, "IS NULL")
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
        field, folded, listed = cql2.array(node, lhs, rhs)
        if field.kind == "facet":
            if node.op == ast.ArrayComparisonOp.AOVERLAPS:
                return self._facet(field, listed)
            return _Condition(f"({' AND '.join(self._facet(field, [v]).sql for v in listed)})")
        texts = [self._text(field, v, folded) for v in listed]
        if node.op == ast.ArrayComparisonOp.AOVERLAPS:
            return self._member(field, texts)
        return _Condition(f"({' AND '.join(self._member(field, [t]).sql for t in texts)})")

    # --- time -------------------------------------------------------------------------------

    @handle(ast.TemporalPredicate, subclasses=True)
    def temporal(self, node: ast.TemporalPredicate, lhs: Any, rhs: Any) -> _Condition:
        field, period = cql2.temporal(node, lhs, rhs)
        if field.kind == "instant":
            return self._instant_compare(field, cql2.instant_test(node, field), period)
        op = node.op
        kinds = ast.TemporalComparisonOp
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
            raise cql2.unsupported(node)
        return _Condition(tests[op])

    # --- space ------------------------------------------------------------------------------

    @handle(ast.GeometryIntersects, ast.GeometryDisjoint)
    def spatial(self, node: ast.SpatialComparisonPredicate, lhs: Any, rhs: Any) -> _Condition:
        intersects = self._boxes(cql2.spatial(node, lhs, rhs))
        if isinstance(node, ast.GeometryIntersects):
            return intersects
        return _Condition(f"(r.n_boxes > 0 AND NOT {intersects.sql})")

    @handle(ast.BBox)
    def bbox(self, node: ast.BBox, lhs: Any) -> _Condition:
        return self._boxes(cql2.bbox(node, lhs))

    # --- helpers ----------------------------------------------------------------------------

    def _column(self, field: cql2.Field, folded: bool) -> str:
        """The SQL of the field's value as compared: titles are folded in the index already."""
        if field.kind == "text" or (folded and field.kind == "code"):
            return f"tc_fold({field.column})"
        return field.column

    def _text(self, field: cql2.Field, value: Any, folded: bool) -> str:
        """A literal as the field's column holds values."""
        text = cql2.text(field, value)
        if field.kind == "title":
            return index.sort_key(text)
        if field.kind in ("text", "words") or (folded and field.kind == "code"):
            return fold(text) or ""
        return text

    def _member(self, field: cql2.Field, texts: list[str]) -> _Condition:
        """Some value of the multi-valued ``field`` is one of ``texts`` (already ``_text``)."""
        if field.kind == "theme":
            uris = self._param(json.dumps(texts))
            return _Condition(
                f"{self.key} IN (SELECT num FROM record_concepts WHERE concept IN"
                f" (SELECT id FROM concepts WHERE uri IN (SELECT value FROM json_each({uris}))))"
            )
        regex = "|".join(re.escape(text) for text in texts)
        return _Condition(f"tc_lines_match({field.column}, {self._param(regex)})")

    def _facet(self, field: cql2.Field, listed: list[Any]) -> _Condition:
        """Some bucket value of the facet ``field`` is one of ``listed`` (texts; years as numbers too)."""
        return _Condition(facet_where(field.name, cql2.facet_values(field, listed), self.key, self._param))

    def _instant_compare(self, field: cql2.Field, op: str, period: cql2.Period) -> _Condition:
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


def _negated(condition: _Condition) -> _Condition:
    """NOT in SQL's three-valued logic, which is CQL2's: a test of a missing value (a record with no
    pole) is unknown, and so is its negation; neither selects the record."""
    return _Condition(f"NOT {condition.sql}")


# --- LIKE -----------------------------------------------------------------------------------------


def _like_sql(parts: list[Any], *, fold_text: bool) -> str:
    out = []
    for part in parts:
        if part is cql2.ANY:
            out.append("%")
        elif part is cql2.ONE:
            out.append("_")
        else:
            text = (fold(part) or "") if fold_text else part
            out.append(re.sub(r"([%_\\])", r"\\\1", text))
    return "".join(out)


def _like_regex(parts: list[Any]) -> str:
    wildcards = {cql2.ANY: ".*", cql2.ONE: "."}
    return "".join(wildcards.get(part) or re.escape(fold(part) or "") for part in parts)
