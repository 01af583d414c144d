"""The query model shared by every ``Store`` backend and every API.

``Query`` is what a backend executes; ``parse_*`` turn request parameters (OGC API Records semantics)
into it and raise ``QueryError`` with a message fit for a 400 response when a parameter is malformed.
"""

from __future__ import annotations

import functools
import json
import math
import os.path
import re
from datetime import UTC, date, datetime
from typing import Any

import msgspec
from pygeofilter import ast

from catalogue.geojson import DOI_SCHEME
from catalogue.identity import normalise_doi


class QueryError(ValueError):
    """A query parameter a client got wrong; the message says which and why (served as HTTP 400)."""


class Sort(msgspec.Struct, frozen=True):
    field: str
    ascending: bool = True


# Fields a query may sort on, with what they mean (the backends map them to their own columns).
SORTABLES: dict[str, str] = {
    "title": "the record title (main language), case-insensitive",
    "updated": "the metadata date stamp",
    "created": "the resource creation date",
    "start": "start of the temporal extent",
    "end": "end of the temporal extent",
    "id": "the record id",
    "fair": "the FAIR score of the record (0-100)",
}

# Properties a query may test for equality (``property=value`` in OGC API Records; values ORed). ``theme``
# is a concept URI and is hierarchical: it also matches records having a narrower concept. ``platform``,
# ``instrument``, ``format``, ``license`` and ``year`` take the bucket values of their facets (the names as
# ``catalogue.facets`` normalises them), so that a search is refined by a bucket; ``year`` matches the
# records whose temporal extent covers that year.
EQUALITY_PROPERTIES: tuple[str, ...] = (
    "source",
    "pole",
    "type",
    "language",
    "theme",
    "fair_level",
    "platform",
    "instrument",
    "format",
    "license",
    "year",
)


# Facets a search may ask for (OGC API Records Part 2 draft: ``facets=name[:bucketCount[:order]]``),
# with what their buckets count. Every record counts once per bucket (a record with two platforms
# counts in both); ``theme`` is hierarchical: a record counts under its concepts and their ancestors.
FACETS: dict[str, str] = {
    "pole": "Data Terra pole",
    "source": "harvest source",
    "type": "resource type",
    "theme": "Data Terra theme (compartment > theme); a bucket's parent is its broader theme",
    "platform": "platform (satellite, ship, station...)",
    "instrument": "instrument or sensor",
    "format": "data format",
    "license": "licence (SPDX id, or other)",
    "year": "a year the temporal extent covers",
    "fair_level": "level of the FAIR assessment",
}
FACET_ORDERS = ("count_desc", "count_asc", "value_asc", "value_desc")
DEFAULT_BUCKETS = 10
MAX_BUCKETS = 1000


class FacetRequest(msgspec.Struct, frozen=True):
    """One facet asked for: its name (``FACETS``), how many buckets at most, in which order."""

    name: str
    size: int = DEFAULT_BUCKETS
    order: str = "count_desc"


class Bucket(msgspec.Struct, omit_defaults=True, kw_only=True):
    """A facet value and how many of the matched records have it. ``labels`` by language where the
    value is a code or URI (a concept's prefLabels); ``parent``: the broader bucket value (``theme``)."""

    value: str
    count: int
    labels: dict[str, str] = {}
    parent: str | None = None


class Facet(msgspec.Struct, omit_defaults=True, kw_only=True):
    """The buckets of one facet over every record the query matches (not just the page); ``more``:
    other values exist beyond the buckets returned."""

    name: str
    buckets: list[Bucket] = []
    more: bool = False


class ExternalId(msgspec.Struct, frozen=True):
    """An ``externalIds`` criterion: a scheme and a value, a value alone (any scheme), or a scheme
    alone (any value)."""

    scheme: str | None = None
    value: str | None = None


class Query(msgspec.Struct, kw_only=True):
    """A search. Every criterion given is ANDed with the others.

    - ``q``: OGC semantics, already split: a list of alternatives (comma = OR), each a list of terms
      that must appear in that order (a phrase).
    - ``bbox``: (west, south, east, north) in WGS 84; west > east crosses the antimeridian; matches
      records with any box intersecting it.
    - ``time``: (start, end) as RFC 3339 UTC timestamps, ``None`` = open; matches records whose temporal
      extent intersects it.
    - ``ids``: record ids; ``types``: resource types; ``properties``: field -> accepted values.
    - ``external_ids``: records having any of these identifiers (ORed).
    - ``filter``: a CQL2 filter already parsed by pygeofilter (an AST node), ANDed with the rest.
    - ``sortby``: applied in order; default is relevance when ``q`` is given, else ``id``.
    - ``facets``: the facets to count over every matched record (``SearchResult.facets``).
    """

    q: list[list[str]] = []
    bbox: tuple[float, float, float, float] | None = None
    time: tuple[str | None, str | None] | None = None
    ids: list[str] = []
    types: list[str] = []
    properties: dict[str, list[str]] = {}
    external_ids: list[ExternalId] = []
    filter: Any = None
    sortby: list[Sort] = []
    facets: list[FacetRequest] = []
    limit: int = 10
    offset: int = 0


MAX_LIMIT = 10_000

_WORD = re.compile(r"\w+", re.UNICODE)


def parse_q(value: str | None) -> list[list[str]]:
    """``"sea surface,chlorophyll"`` -> ``[["sea", "surface"], ["chlorophyll"]]``.

    Terms are the word characters of the text (punctuation separates terms, as the index tokeniser
    does), so a phrase matches however the user punctuated it.
    """
    if not value:
        return []
    alternatives = []
    for part in value.split(","):
        terms = _WORD.findall(part)
        if terms:
            alternatives.append(terms)
    return alternatives


def parse_bbox(value: str | None) -> tuple[float, float, float, float] | None:
    """``"w,s,e,n"`` (or the 6-number 3D form, whose heights are ignored) in WGS 84 degrees."""
    if value is None or value == "":
        return None
    parts = [p.strip() for p in value.split(",")]
    if len(parts) not in (4, 6):
        raise QueryError(f"bbox must have 4 or 6 comma-separated numbers, got {len(parts)}: {value!r}")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise QueryError(f"bbox must be numbers: {value!r}") from None
    if not all(math.isfinite(n) for n in numbers):
        raise QueryError(f"bbox must be finite numbers: {value!r}")
    west, south, east, north = (
        numbers if len(numbers) == 4 else (numbers[0], numbers[1], numbers[3], numbers[4])
    )
    if not (-180 <= west <= 180 and -180 <= east <= 180):
        raise QueryError(f"bbox longitudes must be within [-180, 180]: {value!r}")
    if not (-90 <= south <= 90 and -90 <= north <= 90):
        raise QueryError(f"bbox latitudes must be within [-90, 90]: {value!r}")
    if south > north:
        raise QueryError(f"bbox south ({south}) is north of north ({north}): {value!r}")
    return (west, south, east, north)


# RFC 3339's date and date-time (its offset optional here: a time without one is read as UTC).
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})?)?")


def _instant(text: str, *, end: bool) -> str:
    """An RFC 3339 date or date-time as a UTC timestamp; a bare date covers its whole day."""
    text = text.strip()
    if not _RFC3339.fullmatch(text):  # Python reads more forms than RFC 3339 (20200101, week dates)
        raise QueryError(f"datetime {text!r} is not an RFC 3339 date or date-time")
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            return f"{d.isoformat()}T23:59:59Z" if end else f"{d.isoformat()}T00:00:00Z"
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise QueryError(f"datetime {text!r} is not an RFC 3339 date or date-time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except OverflowError:  # 9999-12-31T23:59:59-01:00 is past the last representable instant
        raise QueryError(f"datetime {text!r} is outside the years 1 to 9999 once in UTC") from None


def parse_datetime(value: str | None) -> tuple[str | None, str | None] | None:
    """``"2020-01-01/.."``, ``"../2020-12-31"``, ``"a/b"`` or an instant, as a (start, end) pair."""
    if value is None or value.strip() == "":
        return None
    if "/" not in value:
        return (_instant(value, end=False), _instant(value, end=True))
    first, _, second = value.partition("/")
    start = None if first.strip() in ("", "..") else _instant(first, end=False)
    end = None if second.strip() in ("", "..") else _instant(second, end=True)
    if start is None and end is None:
        raise QueryError("datetime interval '../..' is open at both ends; give at least one end")
    if start and end and start > end:
        raise QueryError(f"datetime interval starts after it ends: {value!r}")
    return (start, end)


def parse_sortby(value: str | list[str] | None) -> list[Sort]:
    """``"-updated,title"`` or ``["-updated", "+title"]`` -> sort keys, checked against ``SORTABLES``."""
    if not value:
        return []
    items = value.split(",") if isinstance(value, str) else value
    sorts = []
    for raw in items:
        item = raw.strip()
        if not item:
            continue
        ascending = not item.startswith("-")
        name = item.lstrip("+-").strip()
        if name not in SORTABLES:
            raise QueryError(f"cannot sort by {name!r}; sortable fields: {', '.join(SORTABLES)}")
        sorts.append(Sort(name, ascending))
    return sorts


def parse_limit(value: str | int | None, default: int = 10) -> int:
    return _bounded_int("limit", value, default, 1, MAX_LIMIT)


def parse_offset(value: str | int | None) -> int:
    return _bounded_int("offset", value, 0, 0, 10**9)


def _bounded_int(name: str, value: str | int | None, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise QueryError(f"{name} must be a whole number, got {value!r}") from None
    if not low <= number <= high:
        raise QueryError(f"{name} must be between {low} and {high}, got {number}")
    return number


def parse_facets(value: str | None) -> list[FacetRequest]:
    """``"pole,theme:20,year:50:value_asc"`` (OGC API Records Part 2 draft: ``name[:bucketCount[:order]]``,
    comma-separated) -> facet requests, in the order given, each name once; ``true`` or ``all`` asks
    for every facet with the default bucket count."""
    if value is None or not value.strip():
        return []
    if value.strip().lower() in ("true", "all"):
        return [FacetRequest(name) for name in FACETS]
    requests: dict[str, FacetRequest] = {}
    for raw in value.split(","):
        item = raw.strip()
        if not item:
            continue
        name, *rest = (part.strip() for part in item.split(":"))
        if name not in FACETS:
            raise QueryError(f"unknown facet {name!r}; facets: {', '.join(FACETS)}")
        if len(rest) > 2:
            raise QueryError(f"facet {item!r} is not name[:bucketCount[:order]]")
        size = _bounded_int(
            f"bucket count of facet {name}", rest[0] if rest else None, DEFAULT_BUCKETS, 1, MAX_BUCKETS
        )
        order = rest[1] if len(rest) == 2 else "count_desc"
        if order not in FACET_ORDERS:
            raise QueryError(f"unknown order {order!r} for facet {name}; orders: {', '.join(FACET_ORDERS)}")
        if name in requests:
            raise QueryError(f"facet {name!r} is asked for twice")
        requests[name] = FacetRequest(name, size, order)
    return list(requests.values())


# --- externalIds ----------------------------------------------------------------------------------

MAX_EXTERNAL_IDS = 100
_MAX_EXTERNAL_ID_LENGTH = 2048
# How clients write the DOI scheme; the catalogue exposes DOIs under ``DOI_SCHEME`` (``externalIds``).
_DOI_SCHEMES = frozenset(
    {"doi", "https://doi.org", "http://doi.org", "https://dx.doi.org", "http://dx.doi.org"}
)


def parse_external_ids(value: str | list[str] | None) -> list[ExternalId]:
    """``externalIds`` (OGC API Records 1.0, record-core-query-parameters): a comma-separated list, each
    item ``scheme:value``, a value alone, or ``scheme:`` (a trailing colon: that scheme, any value).

    Where ``scheme:value`` splits is not decidable from the text: DOIs and URIs hold colons themselves
    (``https://doi.org/10.5194/x``, ``urn:uuid:...``), and so may schemes (``https://doi.org``). So an
    item is read every way it can be: as a value alone, and as a scheme and a value at each of its
    colons. The readings are ORed: an item matches an identifier whose value is the item, or whose
    scheme, a colon and value spell the item, which is what the text says whatever the split.

    DOIs meet in any spelling: the schemes ``doi``, ``https://doi.org``, ``http://dx.doi.org``... read as
    ``https://doi.org`` (what ``externalIds`` shows) with the value as a bare lower-case DOI, and a value
    alone that is a DOI (``doi:10.1/x``, ``https://doi.org/10.1/X``) also reads as that DOI.
    """
    if not value:
        return []
    items = [item.strip() for item in (value.split(",") if isinstance(value, str) else value)]
    items = [item for item in items if item]
    if len(items) > MAX_EXTERNAL_IDS:
        raise QueryError(f"externalIds takes at most {MAX_EXTERNAL_IDS} identifiers, got {len(items)}")
    readings: dict[ExternalId, None] = {}
    for item in items:
        if len(item) > _MAX_EXTERNAL_ID_LENGTH:
            raise QueryError(f"externalIds: an identifier is over {_MAX_EXTERNAL_ID_LENGTH} characters long")
        for reading in _readings(item):
            readings[reading] = None
    return list(readings)


def _readings(item: str) -> list[ExternalId]:
    """Every way to read one ``externalIds`` item (see ``parse_external_ids``), canonical."""
    if item.endswith(":") and item[:-1].strip():
        return [_canonical(item[:-1].strip(), None)]
    readings = [_canonical(None, item)]
    doi = normalise_doi(item)
    if doi:
        readings.append(ExternalId(DOI_SCHEME, doi))
    for at, char in enumerate(item):
        if char == ":" and item[:at].strip() and item[at + 1 :].strip():
            readings.append(_canonical(item[:at].strip(), item[at + 1 :].strip()))
    return readings


def _canonical(scheme: str | None, value: str | None) -> ExternalId:
    if scheme is not None and scheme.casefold().rstrip("/") in _DOI_SCHEMES:
        return ExternalId(DOI_SCHEME, (normalise_doi(value) or value) if value else None)
    return ExternalId(scheme, value)


# --- CQL2 filter ----------------------------------------------------------------------------------

# What a filter may name: the record properties of /queryables, and the Records spatial and temporal
# ones. Every backend evaluates every one of them (see the backends for the operators on each).
FILTERABLES: dict[str, str] = {
    "id": "the record id",
    "title": "the title in the record's main language; compared case- and accent-insensitively",
    "description": "the abstract (with its translations); compared case- and accent-insensitively",
    "keywords": "any keyword, in any language (with the labels of the concepts the record was tagged"
    " with); compared case- and accent-insensitively",
    "type": "the resource type",
    "pole": "the Data Terra pole",
    "source": "the harvest source id",
    "language": "the resource language",
    "created": "the resource creation date",
    "updated": "the metadata date stamp",
    "theme": "a concept URI; a broad concept also matches records having a narrower one",
    "fair_level": "the level of the FAIR assessment",
    "platform": "a platform, as the platform facet names it",
    "instrument": "an instrument, as the instrument facet names it",
    "format": "a data format, as the format facet names it (NetCDF, GeoTIFF...)",
    "license": "the licence: an SPDX id, or other",
    "year": "a year the temporal extent covers (as the year facet counts it)",
    "geometry": "the record's bounding boxes",
    "time": "the record's temporal extents",
    "datetime": "the record's temporal extents (as time)",
}
FILTER_LANGS = ("cql2-text", "cql2-json")
MAX_FILTER_LENGTH = 20_000


def parse_filter(source: str | dict[str, Any] | None, lang: str | None = None) -> Any:
    """A CQL2 filter (``filter`` + ``filter-lang``, OGC API Features Part 3) as a pygeofilter AST, or
    ``None`` when there is none. ``lang`` defaults to cql2-text for a string and cql2-json for a mapping.

    Works around what pygeofilter 0.4 gets wrong rather than evaluate a wrong filter: it reads a JSON
    ``bbox`` as (x1, x2, y1, y2) and ``between`` only as ``[value, [low, high]]``, so both are rewritten
    first; it reads ``t_overlaps`` as ``t_intersects``, so ``T_OVERLAPS`` is refused. Its cql2-text
    grammar wants ``a T_BEFORE b`` and timestamps in intervals, so the standard ``T_BEFORE(a, b)`` and
    dates or ``'..'`` in ``INTERVAL`` are rewritten to those; what it cannot read at all (``NOT`` before
    a parenthesised ``AND``/``OR``, arrays) is a syntax error, and cql2-json expresses it.

    pygeofilter's parser modules build their grammars when imported: they are imported here, on the
    first filter, rather than by every process that imports the query model.
    """
    if source is None or (isinstance(source, str) and not source.strip()):
        return None
    lang = lang or ("cql2-json" if isinstance(source, dict) else "cql2-text")
    if lang not in FILTER_LANGS:
        raise QueryError(f"filter-lang must be one of {', '.join(FILTER_LANGS)}, got {lang!r}")
    if isinstance(source, str) and len(source) > MAX_FILTER_LENGTH:
        raise QueryError(f"filter is longer than {MAX_FILTER_LENGTH} characters")
    try:
        node = _parse_json_filter(source) if lang == "cql2-json" else _parse_text_filter(source)
    except RecursionError:
        raise QueryError("filter is nested too deeply") from None
    if not isinstance(node, ast.Condition | ast.Predicate):
        raise QueryError(f"filter must be a condition (a comparison, a predicate...), not {node!r}")
    return node


@functools.cache
def _text_parser() -> Any:
    """pygeofilter's cql2-text grammar and transformer, built without ``debug``: pygeofilter's own parser
    prints the parser's whole state to stdout on every error a client makes."""
    from lark import Lark
    from pygeofilter.parsers.cql2_text import parser

    return Lark.open(
        "grammar.lark",
        rel_to=parser.__file__,
        parser="lalr",
        maybe_placeholders=False,
        transformer=parser.CQLTransformer(),
        import_paths=[os.path.dirname(os.path.dirname(parser.__file__))],
    )


def _parse_text_filter(source: str | dict[str, Any]) -> Any:
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

    if not isinstance(source, str):
        raise QueryError("a cql2-text filter must be text")
    if re.search(r"\bT_OVERLAPS\b", re.sub(r"'[^']*'", "''", source), re.IGNORECASE):
        raise QueryError("T_OVERLAPS is not supported in filters; T_INTERSECTS is")
    text = _interval_bounds(_infix_temporal(source))  # what columns in errors count in
    try:
        return _text_parser().parse(text)
    except UnexpectedEOF:
        raise QueryError("filter is not valid CQL2 text: it ends too early") from None
    except UnexpectedCharacters as err:
        raise QueryError(
            f"filter is not valid CQL2 text: unexpected {text[err.pos_in_stream]!r} at column {err.column}"
        ) from None
    except UnexpectedInput as err:
        token = getattr(err, "token", None)
        if token is not None and token.type == "$END":
            raise QueryError("filter is not valid CQL2 text: it ends too early") from None
        raise QueryError(
            f"filter is not valid CQL2 text: unexpected {str(token)!r} at column {err.column}"
        ) from None
    except Exception as err:  # lark wraps errors of pygeofilter's transformer (a bad date, say)
        raise QueryError(f"filter is not valid CQL2 text: {_cause(err)}") from None


_TEMPORAL_CALL = re.compile(r"(T_[A-Za-z]+)\s*\(", re.IGNORECASE)
_INTERVAL = re.compile(r"\bINTERVAL\s*\(\s*'([^']*)'\s*,\s*'([^']*)'\s*\)", re.IGNORECASE)


def _infix_temporal(text: str) -> str:
    """CQL2 text's temporal predicates, ``T_INTERSECTS(a, b)``, as pygeofilter 0.4's grammar has them:
    ``(a T_INTERSECTS b)``; ``T_DISJOINT``, which it lacks, as not intersecting. Quoted text is left as
    it is."""
    out = []
    at = 0
    while at < len(text):
        if text[at] == "'":
            end = _quoted_end(text, at)
            out.append(text[at:end])
            at = end
            continue
        call = _TEMPORAL_CALL.match(text, at)
        if call and (at == 0 or not (text[at - 1].isalnum() or text[at - 1] == "_")):
            args, end = _arguments(text, call.end())
            if len(args) == 2:
                lhs, rhs = (_infix_temporal(arg) for arg in args)
                if call.group(1).upper() == "T_DISJOINT":  # not in that grammar: what it means
                    out.append(f"(NOT ({lhs} T_INTERSECTS {rhs}) AND {lhs} IS NOT NULL)")
                else:
                    out.append(f"({lhs} {call.group(1)} {rhs})")
                at = end
                continue
        out.append(text[at])
        at += 1
    return "".join(out)


def _quoted_end(text: str, at: int) -> int:
    """Where the quoted text starting at ``at`` ends (past its closing quote; ``''`` is a quote)."""
    at += 1
    while at < len(text):
        if text[at] == "'":
            if text[at + 1 : at + 2] != "'":
                return at + 1
            at += 1
        at += 1
    return at


def _arguments(text: str, at: int) -> tuple[list[str], int]:
    """The top-level arguments of the call whose ``(`` ends before ``at``, and where the call ends."""
    args, depth, start = [], 1, at
    while at < len(text):
        char = text[at]
        if char == "'":
            at = _quoted_end(text, at)
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                args.append(text[start:at])
                return args, at + 1
        elif char == "," and depth == 1:
            args.append(text[start:at])
            start = at + 1
        at += 1
    return [], at  # unbalanced: left to the parser to report


def _interval_bounds(text: str) -> str:
    """``INTERVAL`` bounds as pygeofilter 0.4's grammar takes them, timestamps only: a date is its first
    (start) or last (end) second, and ``'..'`` (open) the first or last instant there is."""

    def bound(value: str, end: bool) -> str:
        value = value.strip()
        if value == "..":
            return "9999-12-31T23:59:59Z" if end else "0001-01-01T00:00:00Z"
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return f"{value}T23:59:59Z" if end else f"{value}T00:00:00Z"
        return value

    def interval(match: re.Match[str]) -> str:
        return f"INTERVAL('{bound(match.group(1), False)}','{bound(match.group(2), True)}')"

    return _INTERVAL.sub(interval, text)


def _parse_json_filter(source: str | dict[str, Any]) -> Any:
    from pygeofilter.parsers.cql2_json import parse

    if isinstance(source, str):
        try:
            source = json.loads(source)
        except ValueError as err:
            raise QueryError(f"filter is not valid JSON: {err}") from None
    try:
        return parse(_mend_json(source))
    except QueryError:
        raise
    except Exception as err:
        raise QueryError(f"filter is not valid CQL2 JSON: {_cause(err)}") from None


def _mend_json(node: Any) -> Any:
    """The CQL2 JSON ``node`` in the shapes pygeofilter 0.4 reads right (see ``parse_filter``)."""
    if isinstance(node, list):
        return [_mend_json(item) for item in node]
    if not isinstance(node, dict):
        return node
    if isinstance(box := node.get("bbox"), list) and "op" not in node:
        if len(box) not in (4, 6) or not all(isinstance(n, int | float) for n in box):
            raise QueryError(f"filter: a bbox is 4 or 6 numbers, got {box!r}")
        west, south, east, north = box if len(box) == 4 else (box[0], box[1], box[3], box[4])
        return {**node, "bbox": [west, east, south, north]}  # pygeofilter's Envelope(x1, x2, y1, y2)
    mended = {key: _mend_json(value) for key, value in node.items()}
    op = mended.get("op")
    if op == "t_overlaps":
        raise QueryError("t_overlaps is not supported in filters; t_intersects is")
    args = mended.get("args")
    if op == "between" and isinstance(args, list) and len(args) == 3:
        mended["args"] = [args[0], [args[1], args[2]]]
    return mended


def _cause(err: BaseException) -> str:
    """The message of the error at the bottom of ``err``'s chain (lark wraps transformer errors)."""
    while getattr(err, "orig_exc", None) is not None:
        err = err.orig_exc  # type: ignore[attr-defined]
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__
