"""What a CQL2 filter may say about records, whichever index evaluates it.

A filter (a pygeofilter AST, ``catalogue.query.parse_filter``) is evaluated by the embedded index
(``catalogue.stores.sqlite_filter``: SQL) and by Elasticsearch (``catalogue.stores.es_query``: a request
body). Both must accept the same filters and refuse the others with the same ``QueryError``: the
queryables and their kinds, the leaves (properties, literals, intervals, ``CASEI``/``ACCENTI``, ``BBOX()``),
and the checks and normalisations each operator needs live here, once; an evaluator only builds its
own output from what these return.

Kinds of queryables (``catalogue.query.FILTERABLES``): ``code`` (exact values), ``title`` and ``text``
(folded texts), ``words`` (keywords, multi-valued), ``theme`` (concept URIs), ``facet`` (facet bucket
values), ``instant`` (``created``, ``updated``), ``extent`` (the temporal extents), ``geometry``.
"""

from __future__ import annotations

import math
from datetime import date
from types import ModuleType
from typing import Any, ClassVar, NamedTuple

from pygeofilter import ast, values
from pygeofilter.backends import evaluator
from pygeofilter.backends.evaluator import handle

from catalogue import facets
from catalogue.query import FILTERABLES, QueryError

MAX_DEPTH = 100  # of a filter's tree: far below SQLite's 1000 levels of expression, and Python's stack

FACET_PROPERTIES = ("platform", "instrument", "format", "license", "year")

KINDS: dict[str, str] = {
    "id": "code",
    "type": "code",
    "pole": "code",
    "source": "code",
    "language": "code",
    "fair_level": "code",
    "title": "title",
    "description": "text",
    "keywords": "words",
    "theme": "theme",
    **{name: "facet" for name in FACET_PROPERTIES},
    "created": "instant",
    "updated": "instant",
    "time": "extent",
    "datetime": "extent",
    "geometry": "geometry",
}
assert set(KINDS) == set(FILTERABLES)

COMPARISONS = {
    ast.ComparisonOp.EQ: "=",
    ast.ComparisonOp.NE: "<>",
    ast.ComparisonOp.LT: "<",
    ast.ComparisonOp.LE: "<=",
    ast.ComparisonOp.GT: ">",
    ast.ComparisonOp.GE: ">=",
}
_MIRRORED = {"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}

# A temporal predicate on an instant, as the comparison it amounts to with the period given.
_INSTANT_TESTS = {
    ast.TemporalComparisonOp.TOVERLAPS: "=",  # pygeofilter reads T_INTERSECTS as OVERLAPS
    ast.TemporalComparisonOp.DURING: "=",
    ast.TemporalComparisonOp.BEFORE: "<",
    ast.TemporalComparisonOp.AFTER: ">",
    ast.TemporalComparisonOp.DISJOINT: "<>",
}


class Field(NamedTuple):
    name: str
    kind: str  # see ``KINDS``
    column: str  # where the evaluator's index keeps its value (``Evaluator.columns``), if it has one


class Folded(NamedTuple):
    """``CASEI(x)``/``ACCENTI(x)``: ``x`` compared case- and accent-insensitively."""

    inner: Any


class Period(NamedTuple):
    """A time literal as the first and last second it covers (index time text, open ends as the index's
    sentinels)."""

    start: str
    end: str


def _index() -> ModuleType:
    """The embedded index's module, whose time text (``instant``, the open ends) both indexes hold:
    imported when first needed, as it imports this module (through ``sqlite_filter``)."""
    from catalogue.stores import sqlite

    return sqlite


def check_depth(node: Any) -> None:
    """Refuses a tree deeper than ``MAX_DEPTH``, walked without recursion (a client decides the depth)."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth <= MAX_DEPTH and hasattr(current, "get_sub_nodes"):
            subs = current.get_sub_nodes()
            stack.extend((sub, depth + 1) for sub in (subs if isinstance(subs, list) else [subs]))
    if deepest > MAX_DEPTH:
        raise QueryError(f"filter is nested too deeply (more than {MAX_DEPTH} levels)")


class Evaluator(evaluator.Evaluator):
    """The leaves of a filter, as both evaluators see them: properties as ``Field``s (``columns``: where
    the subclass's index keeps each), literals as they are, intervals as ``Period``s, ``CASEI`` and
    ``ACCENTI`` as ``Folded``, ``BBOX()`` as an envelope. A node no handler takes is refused."""

    columns: ClassVar[dict[str, str]]

    def adopt(self, node: Any, *args: Any) -> Any:
        raise QueryError(f"{describe(node)} is not supported in filters")

    @handle(ast.Attribute)
    def attribute(self, node: ast.Attribute) -> Field:
        if node.name not in KINDS:
            raise QueryError(
                f"unknown property {node.name!r} in filter; queryables: {', '.join(FILTERABLES)}"
            )
        return Field(node.name, KINDS[node.name], self.columns.get(node.name, ""))

    @handle(*values.LITERALS, type(None))
    def literal(self, node: Any) -> Any:
        return node

    @handle(values.Envelope, values.Geometry)
    def shape(self, node: Any) -> Any:
        return node

    @handle(values.Interval)
    def interval(self, node: values.Interval, start: Any, end: Any) -> Period:
        # An open bound, or the first instant there is (cql2-text's open bound, see parse_filter): the
        # index's sentinel, so that an open-ended extent lies within an open-ended interval.
        index = _index()
        first = bound(start, end=False) if start is not None else index.OPEN_START
        return Period(
            index.OPEN_START if first.startswith("0001-01-01T00:00:00") else first,
            bound(end, end=True) if end is not None else index.OPEN_END,
        )

    @handle(ast.Function)
    def function(self, node: ast.Function, *arguments: Any) -> Any:
        name = node.name.lower()
        if name in ("lower", "casei", "accenti") and len(arguments) == 1:
            return arguments[0] if isinstance(arguments[0], Folded) else Folded(arguments[0])
        if name == "bbox" and len(arguments) in (4, 6):
            west, south, east, north = arguments if len(arguments) == 4 else (*arguments[:2], *arguments[3:5])
            return values.Envelope(west, east, south, north)
        raise QueryError(f"function {node.name}() is not supported in filters")


# --- operands of each operator --------------------------------------------------------------------


def compared(node: ast.Comparison, lhs: Any, rhs: Any) -> tuple[Field, bool, str, Any]:
    """A comparison as (field, folded, ``=``/``<>``/``<``..., value), the property on the left."""
    op = COMPARISONS[node.op]
    if not is_field(lhs) and is_field(rhs):
        lhs, rhs, op = rhs, lhs, _MIRRORED[op]
    field, folded = tested(lhs, "a comparison")
    return field, folded, op, scalar(rhs, field)


def between(lhs: Any, low: Any, high: Any) -> tuple[Field, bool, Any, Any]:
    field, folded = tested(lhs, "BETWEEN")
    return field, folded, scalar(low, field), scalar(high, field)


def listed(lhs: Any, options: tuple[Any, ...]) -> tuple[Field, bool, list[Any]]:
    """``IN``'s field and values."""
    field, folded = tested(lhs, "IN")
    return field, folded, [scalar(option, field) for option in options]


def like(node: ast.Like, lhs: Any) -> tuple[Field, bool, list[Any]]:
    """``LIKE``'s field and pattern, as ``like_parts``."""
    field, folded = tested(lhs, "LIKE")
    pattern = node.pattern
    if isinstance(pattern, ast.Function) and pattern.name.lower() in ("lower", "casei", "accenti"):
        pattern = pattern.arguments[0] if len(pattern.arguments) == 1 else None
    if not isinstance(pattern, str):
        raise QueryError(f"the pattern of LIKE on {field.name} must be text")
    return field, folded, like_parts(pattern, node)


def array(node: ast.ArrayPredicate, lhs: Any, rhs: Any) -> tuple[Field, bool, list[str]]:
    """``A_CONTAINS``/``A_OVERLAPS``: a multi-valued field and a list of texts."""
    field, folded = tested(lhs, node.op.value)
    if field.kind not in ("words", "theme") and field.name not in facets.MULTI_VALUED:
        multi = ", ".join(("keywords", "theme", *facets.MULTI_VALUED))
        raise QueryError(f"{node.op.value} applies to {multi}, not {field.name}")
    if not isinstance(rhs, list) or not rhs or not all(isinstance(v, str) for v in rhs):
        raise QueryError(f"{node.op.value} on {field.name} takes a list of texts")
    return field, folded, rhs


def temporal(node: ast.TemporalPredicate, lhs: Any, rhs: Any) -> tuple[Field, Period]:
    """A temporal predicate's field (an extent or an instant) and period."""
    field, _ = tested(lhs, describe(node))
    if field.kind not in ("extent", "instant"):
        raise QueryError(f"{describe(node)} applies to time, datetime, created and updated, not {field.name}")
    return field, rhs if isinstance(rhs, Period) else period(scalar(rhs, field), field)


def instant_test(node: ast.TemporalPredicate, field: Field) -> str:
    """The comparison a temporal predicate on an instant amounts to."""
    if node.op not in _INSTANT_TESTS:
        raise QueryError(f"{describe(node)} is not supported in filters on {field.name}")
    return _INSTANT_TESTS[node.op]


def unsupported(node: Any) -> QueryError:
    """The error for an operator neither index evaluates on the field it tests."""
    return QueryError(f"{describe(node)} is not supported in filters")


def spatial(node: ast.SpatialComparisonPredicate, lhs: Any, rhs: Any) -> tuple[float, float, float, float]:
    """The envelope a spatial predicate on ``geometry`` tests (``checked_box``)."""
    if is_field(rhs) and not is_field(lhs):
        lhs, rhs = rhs, lhs
    field, _ = tested(lhs, describe(node))
    if field.kind != "geometry":
        raise QueryError(f"{describe(node)} applies to geometry, not {field.name}")
    return envelope(rhs)


def bbox(node: ast.BBox, lhs: Any) -> tuple[float, float, float, float]:
    field, _ = tested(lhs, "BBOX")
    if field.kind != "geometry":
        raise QueryError(f"BBOX applies to geometry, not {field.name}")
    return checked_box(node.minx, node.miny, node.maxx, node.maxy)


def refused(field: Field, what: str) -> QueryError:
    """The error for an operator (``what``: ``"compared with <"``, ``"tested with IN"``...) a field does
    not take, with the operators it does take."""
    return QueryError(f"{field.name} cannot be {what}{_instead(field)}")


def _instead(field: Field) -> str:
    hints = {
        "extent": "; use T_INTERSECTS, T_BEFORE, T_AFTER, T_DURING, T_CONTAINS or T_DISJOINT",
        "geometry": "; use S_INTERSECTS, S_DISJOINT or BBOX",
        "words": "; use =, <>, LIKE, IN, A_CONTAINS or A_OVERLAPS",
        "theme": "; use =, <>, LIKE, IN, A_CONTAINS or A_OVERLAPS",
        "facet": "; use =, <>, IN or IS NULL",
    }
    return hints.get(field.kind, "")


def condition(value: Any, kind: type) -> Any:
    """``value`` if it is a condition (of the evaluator's ``kind``): AND, OR and NOT take nothing else."""
    if not isinstance(value, kind):
        raise QueryError(f"AND, OR and NOT combine conditions, not {value!r}")
    return value


def is_field(value: Any) -> bool:
    return isinstance(value, Field) or (isinstance(value, Folded) and isinstance(value.inner, Field))


def tested(value: Any, what: str) -> tuple[Field, bool]:
    """The queryable a predicate tests, and whether it was wrapped in CASEI/ACCENTI."""
    if isinstance(value, Folded) and isinstance(value.inner, Field):
        return value.inner, True
    if isinstance(value, Field):
        return value, False
    raise QueryError(f"{what} must test a queryable ({', '.join(FILTERABLES)}), not {value!r}")


def scalar(value: Any, field: Field) -> Any:
    """A literal compared with ``field`` (``CASEI`` on a literal changes nothing: values are folded
    as the field is)."""
    if isinstance(value, Folded):
        value = value.inner
    if is_field(value):
        raise QueryError(f"{field.name} can only be compared with a value, not with another property")
    if isinstance(value, list | dict | values.Envelope | values.Geometry | Period):
        raise QueryError(f"{field.name} cannot be compared with {value!r}")
    return value


def text(field: Field, value: Any) -> str:
    """``value``, which must be text as the field is."""
    if not isinstance(value, str):
        raise QueryError(f"{field.name} takes text, got {value!r}")
    return value


def facet_values(field: Field, listed: list[Any]) -> list[str]:
    """Bucket values of the facet ``field`` as texts (years may be written as numbers)."""
    wanted = []
    for value in listed:
        if field.name == "year" and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        wanted.append(text(field, value))
    return wanted


def describe(node: Any) -> str:
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


def bound(value: Any, *, end: bool) -> str:
    """A date, timestamp or (partial) date text as index time text: its first second, or its last."""
    if isinstance(value, date):  # datetimes too
        written = value.isoformat()
    elif isinstance(value, str):
        written = value
    else:
        raise QueryError(f"a time must be a date or a timestamp, got {value!r}")
    normalised = _index().instant(written, end=end)
    if normalised is None:
        raise QueryError(f"{value!r} is not a date or a timestamp")
    return normalised


def period(value: Any, field: Field) -> Period:
    """A date or a (partial) date compared with an instant field: the period it names."""
    if isinstance(value, bool) or not isinstance(value, str | date):
        raise QueryError(f"{field.name} takes a date or a timestamp, got {value!r}")
    return Period(bound(value, end=False), bound(value, end=True))


def checked_box(west: Any, south: Any, east: Any, north: Any) -> tuple[float, float, float, float]:
    numbers = (west, south, east, north)
    if not all(isinstance(n, int | float) and not isinstance(n, bool) and math.isfinite(n) for n in numbers):
        raise QueryError(f"a box must be four finite numbers, got {numbers!r}")
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= 90 and -90 <= north <= 90):
        raise QueryError(f"a box must lie within [-180, 180] x [-90, 90], got {numbers!r}")
    if south > north:
        raise QueryError(f"a box's south ({south}) is north of its north ({north})")
    return (float(west), float(south), float(east), float(north))


def envelope(shape: Any) -> tuple[float, float, float, float]:
    """(west, south, east, north) of a box (west > east crosses the antimeridian) or of a geometry's
    coordinates."""
    if isinstance(shape, values.Envelope):
        return checked_box(shape.x1, shape.y1, shape.x2, shape.y2)
    if isinstance(shape, values.Geometry):
        points = list(_points(shape.geometry))
        if not points:
            raise QueryError("the geometry of a spatial predicate has no coordinates")
        lons, lats = [p[0] for p in points], [p[1] for p in points]
        return checked_box(min(lons), min(lats), max(lons), max(lats))
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

ANY, ONE = object(), object()  # LIKE's wildcards, among the literal texts of ``like_parts``


def like_parts(pattern: str, node: ast.Like) -> list[Any]:
    """The pattern as literal texts and wildcards. CQL2's wildcards are ``%`` and ``_`` with ``\\`` to
    escape; pygeofilter's own ``singlechar`` (``.``) is not one, or a DOI or a version could not be
    searched."""
    parts: list[Any] = []
    literal = ""
    chars = iter(pattern)
    for char in chars:
        if char == node.escapechar:
            literal += next(chars, "")
        elif char in ("%", node.wildcard) or char == "_":
            if literal:
                parts.append(literal)
                literal = ""
            parts.append(ANY if char != "_" else ONE)
        else:
            literal += char
    if literal:
        parts.append(literal)
    return parts
