"""The query model shared by every ``Store`` backend and every API.

``Query`` is what a backend executes; ``parse_*`` turn request parameters (OGC API Records semantics)
into it and raise ``QueryError`` with a message fit for a 400 response when a parameter is malformed.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from typing import Any

import msgspec


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

# Properties a query may test for equality (``property=value`` in OGC API Records). ``theme`` is a
# concept URI and is hierarchical: it also matches records having a narrower concept.
EQUALITY_PROPERTIES: tuple[str, ...] = ("source", "pole", "type", "language", "theme", "fair_level")


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


def _instant(text: str, *, end: bool) -> str:
    """An RFC 3339 date or date-time as a UTC timestamp; a bare date covers its whole day."""
    text = text.strip()
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
