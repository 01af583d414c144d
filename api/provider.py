"""pygeoapi record provider over our ``Store``: OGC API - Records items and item from the index.

Configured as a pygeoapi provider::

    providers:
      - type: record
        name: api.provider.TerracatProvider
        data: {backend: sqlite, path: var/catalogue.db}   # store settings, or just a SQLite path
        id_field: id
        title_field: title
        filter: {pole: ODATIS}                   # optional: a fixed filter, for per-pole collections
        collection_url: https://host/collections/odatis    # optional: per-record rel=collection link

What pygeoapi hands over (0.21, ``api/itemtypes.py``) and what we make of it:

- ``bbox``: a list of floats (``[]`` when absent), ``datetime_``: the raw string, ``q``: the raw
  string, ``limit``/``offset``: ints already range-checked by pygeoapi; all are re-read with our
  ``catalogue.query`` parsers so that the API and the store agree on one meaning, and any
  ``QueryError`` becomes ``ProviderInvalidQueryError`` (HTTP 400, never 500).
- ``sortby``: ``[{"property", "order": "+"|"-"}]``, already checked against ``fields``; so the sort
  keys that are not record properties (``start``, ``end``) must be fields too. ``properties`` (the
  provider's advertised list) is set to the queryables alone, which keeps them out of
  ``/queryables`` and the OpenAPI document.
- ``properties``: ``[(name, value)]`` for every request parameter naming a field, and with
  ``include_extra_query_parameters`` (which we set) every other non-reserved one, so that ``ids``,
  ``externalIds`` and ``facets`` reach us. Values are comma-separated alternatives. Parameters we do
  not know are ignored, as pygeoapi does; a queryable we cannot test for equality (``title=...``) is a
  400.
- ``filterq``: a CQL2 filter pygeoapi parsed itself, which it does only for a CQL2 JSON request body
  (``POST .../items``). A ``filter`` query parameter is parsed by the server with our own parser
  (``api.server``: pygeoapi reads it as ECQL and refuses ``filter-lang=cql2-text``) and reaches us
  through ``REQUEST_FILTER``, as pygeoapi passes providers a fixed set of arguments.
- ``facets`` (OGC API Records Part 2 draft): the answer gets a ``facets`` member, one term facet per
  facet asked for, counted over every matched record; pygeoapi keeps unknown members of the
  provider's answer in its JSON.

pygeoapi builds a provider per request, so stores are opened once per process and shared (the SQLite
store keeps one connection per thread).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any
from urllib.parse import quote

import msgspec
from pygeoapi.provider.base import (
    BaseProvider,
    ProviderConnectionError,
    ProviderInvalidQueryError,
    ProviderItemNotFoundError,
)

from catalogue.geojson import external_ids, to_geojson
from catalogue.query import (
    SORTABLES,
    ExternalId,
    Facet,
    FacetRequest,
    Query,
    QueryError,
    parse_bbox,
    parse_datetime,
    parse_external_ids,
    parse_facets,
    parse_limit,
    parse_offset,
    parse_q,
    parse_sortby,
)
from catalogue.record import Record
from catalogue.store import SearchResult, Store, open_store

Json = dict[str, Any]

_DATE = {"type": "string", "format": "date-time"}

# Record properties a client may name in queries: /queryables, ``properties=``, ``name=value``.
QUERYABLES: dict[str, Json] = {
    "id": {"type": "string", "description": "record id"},
    "title": {"type": "string", "description": "title in the record's main language"},
    "description": {"type": "string", "description": "abstract in the record's main language"},
    "keywords": {"type": "string", "description": "keywords as the source wrote them"},
    "type": {"type": "string", "description": "resource type (dataset, series, service, ...)"},
    "pole": {"type": "string", "description": "Data Terra pole (AERIS, ForM@Ter, ODATIS, THEIA)"},
    "source": {"type": "string", "description": "harvest source id"},
    "language": {"type": "string", "description": "language of the resource (ISO 639-1)"},
    "created": {**_DATE, "description": "resource creation date"},
    "updated": {**_DATE, "description": "metadata date stamp"},
    "theme": {
        "type": "string",
        "format": "uri",
        "description": "concept URI (Data Terra theme or any mapped vocabulary); narrower concepts match too",
    },
    "fair_level": {
        "type": "string",
        "enum": ["incomplete", "initial", "moderate", "advanced"],
        "description": "level of the record's offline FAIR assessment",
    },
    "platform": {"type": "string", "description": "platform, as the platform facet names it"},
    "instrument": {"type": "string", "description": "instrument, as the instrument facet names it"},
    "format": {"type": "string", "description": "data format, as the format facet names it (NetCDF, ...)"},
    "license": {"type": "string", "description": "licence: an SPDX id, or other"},
    "year": {"type": "integer", "description": "a year the temporal extent covers"},
}

# Sort keys that are not record properties: fields for pygeoapi's sortby check, not queryables.
_SORT_ONLY: dict[str, Json] = {
    name: {**({"type": "integer"} if name == "fair" else _DATE), "description": SORTABLES[name]}
    for name in SORTABLES
    if name not in QUERYABLES
}


def _record_values(record: Record) -> dict[str, str | None]:
    """The values of a record a fixed collection filter tests (``FIXED_FILTERS``)."""
    return {
        "type": record.resource_type,
        "pole": record.pole,
        "source": record.source_id,
        "language": record.language,
    }


# Request parameter -> where it goes in ``Query``: ``ids``, ``types`` or a ``Query.properties`` key.
_EQUALITY = {
    "id": "ids",
    "ids": "ids",
    "type": "types",
    "pole": "pole",
    "source": "source",
    "language": "language",
    "theme": "theme",
    "fair_level": "fair_level",
    "platform": "platform",
    "instrument": "instrument",
    "format": "format",
    "license": "license",
    "year": "year",
}
# Parameters a fixed collection filter may set: the single-valued record properties.
FIXED_FILTERS = ("type", "pole", "source", "language")

# The record property each facet counts (the ``property`` member of a Part 2 facet).
FACET_PROPERTIES = {
    "pole": "pole",
    "source": "source",
    "type": "type",
    "theme": "themes.concepts.id",
    "platform": "platforms",
    "instrument": "instruments",
    "format": "formats.name",
    "license": "license",
    "year": "time",
    "fair_level": "quality.fair.level",
}

# The CQL2 filter of the request being answered, parsed by the server (see the module docstring).
REQUEST_FILTER: ContextVar[Any] = ContextVar("terracat_request_filter", default=None)
# The records served in the request being answered, by id, when the caller asked to see them
# (``api.linked_data`` renders them as JSON-LD without reading them from the store again).
SERVED_RECORDS: ContextVar[dict[str, Record] | None] = ContextVar("terracat_served_records", default=None)


class TerracatProvider(BaseProvider):
    """An OGC API Records collection backed by the catalogue ``Store``, optionally restricted by a
    fixed filter (one collection per pole)."""

    def __init__(self, provider_def: Json) -> None:
        super().__init__(provider_def)
        self.store_settings = store_settings(provider_def["data"])
        self.fixed = fixed_filter(provider_def.get("filter") or {})
        self.collection_url = provider_def.get("collection_url")
        self.id_field = self.id_field or "id"
        self.title_field = self.title_field or "title"
        self.properties = self.properties or list(QUERYABLES)
        self.include_extra_query_parameters = True
        self._fields = self.get_fields()

    def get_fields(self) -> dict[str, Json]:
        """Queryables plus sort-only keys (fresh dicts: pygeoapi's OpenAPI generator edits them)."""
        return {name: dict(spec) for name, spec in {**QUERYABLES, **_SORT_ONLY}.items()}

    @property
    def store(self) -> Store:
        return shared_store(self.store_settings)

    def query(
        self,
        offset: int = 0,
        limit: int = 10,
        resulttype: str = "results",
        bbox: list[float] | None = None,
        datetime_: str | None = None,
        properties: list[tuple[str, str]] | None = None,
        sortby: list[dict[str, str]] | None = None,
        select_properties: list[str] | None = None,
        skip_geometry: bool = False,
        q: str | None = None,
        filterq: object = None,
        **kwargs: Any,
    ) -> Json:
        """One page of records as a GeoJSON FeatureCollection with ``numberMatched`` (and ``facets``
        when asked for)."""
        if resulttype not in ("results", "hits"):
            raise ProviderInvalidQueryError(user_msg=f"resulttype must be results or hits: {resulttype!r}")
        try:
            query = build_query(
                offset=offset,
                limit=limit,
                bbox=bbox or [],
                datetime_=datetime_,
                properties=properties or [],
                sortby=sortby or [],
                q=q,
                fixed=self.fixed,
                filter_=filterq if filterq is not None else REQUEST_FILTER.get(),
            )
            if isinstance(query, list):  # nothing can match: only the facets asked for, empty
                return _collection([], 0, [Facet(name=f.name) for f in query] if query else None)
            if resulttype == "hits":  # the count only: one record is the least every backend accepts
                query = msgspec.structs.replace(query, limit=1, offset=0)
            result = self._search(query)
        except QueryError as err:
            raise ProviderInvalidQueryError(user_msg=str(err)) from err
        facets = result.facets if query.facets else None
        if (served := SERVED_RECORDS.get()) is not None:
            served.update((record.id, record) for record in result.records)
        if resulttype == "hits":
            return _collection([], result.matched, facets)
        features = [self._feature(r, select_properties or [], skip_geometry) for r in result.records]
        return _collection(features, result.matched, facets)

    def get(self, identifier: str, **kwargs: Any) -> Json:
        """One record; a record outside this collection's fixed filter is as absent as a missing one."""
        try:
            record = self.store.get(identifier)
        except Exception as err:  # a broken store is a server error whatever the backend raises
            raise ProviderConnectionError(user_msg="the catalogue index is unavailable") from err
        if record is None or not self._in_collection(record):
            raise ProviderItemNotFoundError(user_msg=f"no record {identifier!r} in this collection")
        if (served := SERVED_RECORDS.get()) is not None:
            served[record.id] = record
        feature = to_geojson(record)
        self._add_group(feature, record.id)
        return feature

    def _add_group(self, feature: Json, record_id: str) -> None:
        """The copies of one dataset published by several sources. The primary (the one searches
        return) links its duplicates (``rel=duplicate``) and carries their identifiers in
        ``externalIds``, each copy's own id under its source's name: a client holding any source's
        identifier finds the dataset. A duplicate names its primary (``rel=canonical``)."""
        group = self.store.group(record_id)
        if len(group) < 2:
            return
        base = f"{self.collection_url}/items/" if self.collection_url else ""
        if group[0] != record_id:
            feature["links"].append(
                {"rel": "canonical", "type": "application/geo+json", "href": base + group[0]}
            )
            return
        known = feature["properties"]["externalIds"]
        for other in group[1:]:
            feature["links"].append(
                {"rel": "duplicate", "type": "application/geo+json", "href": base + other}
            )
            copy = self.store.get(other)
            for entry in (
                [*external_ids(copy), {"scheme": copy.source_id, "value": copy.native_id}] if copy else []
            ):
                if entry not in known:
                    known.append(entry)

    def _search(self, query: Query) -> SearchResult:
        try:
            return self.store.search(query)
        except QueryError:
            raise
        except Exception as err:
            raise ProviderConnectionError(user_msg="the catalogue index is unavailable") from err

    def _in_collection(self, record: Record) -> bool:
        values = _record_values(record)
        return all(values[name] in accepted for name, accepted in self.fixed.items())

    def _feature(self, record: Record, select: list[str], skip_geometry: bool) -> Json:
        """A record of a page, with the links pygeoapi gives a record served alone (it adds none to
        the records of a page): itself in each representation, and its one collection."""
        feature = to_geojson(record)
        if select:
            feature["properties"] = {k: v for k, v in feature["properties"].items() if k in select}
        if skip_geometry:
            feature["geometry"] = None
        if self.collection_url:
            href = f"{self.collection_url}/items/{quote(record.id, safe='')}"
            feature["links"].extend(
                [
                    {"rel": "self", "type": "application/geo+json", "href": href},
                    {"rel": "alternate", "type": "application/ld+json", "href": f"{href}?f=jsonld"},
                    {"rel": "alternate", "type": "text/html", "href": f"{href}?f=html"},
                    {"rel": "collection", "type": "application/json", "href": self.collection_url},
                ]
            )
        return feature

    def __repr__(self) -> str:
        return f"<TerracatProvider> {self.store_settings} {self.fixed or ''}"


def build_query(
    *,
    offset: int,
    limit: int,
    bbox: list[float],
    datetime_: str | None,
    properties: list[tuple[str, str]],
    sortby: list[dict[str, str]],
    q: str | None,
    fixed: Mapping[str, list[str]],
    filter_: Any = None,
) -> Query | list[FacetRequest]:
    """Our ``Query`` for pygeoapi's parsed arguments; when it can match nothing (the client asked for
    a pole outside this collection's fixed filter), the facets it asked for instead, whose buckets are
    then all empty. Raises ``QueryError``."""
    wanted: dict[str, list[str]] = {}
    external: list[ExternalId] = []
    facets: list[FacetRequest] = []
    for name, value in properties:
        if name == "externalIds":
            external.extend(parse_external_ids(str(value)))
            continue
        if name == "facets":
            facets = parse_facets(str(value))
            continue
        values = [v.strip() for v in str(value).split(",") if v.strip()]
        target = _equality_target(name)
        if target is None or not values:
            continue
        wanted[target] = [v for v in wanted[target] if v in values] if target in wanted else values
    for name, accepted in fixed.items():
        target = _EQUALITY[name]
        wanted[target] = [v for v in wanted.get(target, accepted) if v in accepted]
    if any(not values for values in wanted.values()):
        return facets
    return Query(
        q=parse_q(q),
        bbox=parse_bbox(",".join(repr(float(c)) for c in bbox) if bbox else None),
        time=parse_datetime(datetime_),
        ids=wanted.pop("ids", []),
        types=wanted.pop("types", []),
        properties=wanted,
        external_ids=external,
        filter=filter_,
        sortby=parse_sortby([f"{s.get('order', '+')}{s['property']}" for s in sortby]),
        facets=facets,
        limit=parse_limit(limit),
        offset=parse_offset(offset),
    )


def _equality_target(name: str) -> str | None:
    """Where ``name=value`` goes in the query; ``None`` for a parameter we do not know (ignored)."""
    if name in _EQUALITY:
        return _EQUALITY[name]
    if name in QUERYABLES or name in _SORT_ONLY:
        raise QueryError(
            f"{name} cannot be used as a filter parameter; search text with q, or filter by equality on"
            f" {', '.join(sorted(set(_EQUALITY) - {'id'}))}"
        )
    return None


def fixed_filter(config: Mapping[str, str | list[str]]) -> dict[str, list[str]]:
    """The provider's ``filter:`` as name -> accepted values; a bad one is a configuration error."""
    fixed = {}
    for name, value in config.items():
        if name not in FIXED_FILTERS:
            raise ValueError(f"provider filter on {name!r} is not possible; use {', '.join(FIXED_FILTERS)}")
        fixed[name] = [value] if isinstance(value, str) else [str(v) for v in value]
    return fixed


def _collection(features: list[Json], matched: int, facets: list[Facet] | None = None) -> Json:
    page: Json = {
        "type": "FeatureCollection",
        "features": features,
        "numberMatched": matched,
        "numberReturned": len(features),
    }
    if facets is not None:
        page["facets"] = {facet.name: facet_object(facet) for facet in facets}
    return page


def facet_object(facet: Facet) -> Json:
    """A facet in the Records Part 2 draft shape: a ``term`` facet on the record property it counts,
    its buckets (``value``, ``count``, and our ``labels`` and ``parent`` where known) and ``more``."""
    return {
        "type": "term",
        "property": FACET_PROPERTIES.get(facet.name, facet.name),
        "buckets": [msgspec.to_builtins(bucket) for bucket in facet.buckets],
        "more": facet.more,
    }


def store_settings(data: str | Mapping[str, Any]) -> dict[str, Any]:
    """Store settings from the provider's ``data``: a settings mapping, or a SQLite file path."""
    if isinstance(data, str):
        return {"backend": "sqlite", "path": data}
    return dict(data)


_stores: dict[str, Store] = {}
_stores_lock = threading.Lock()


def shared_store(settings: Mapping[str, Any]) -> Store:
    """The process's one open store for ``settings`` (opened on first use)."""
    key = json.dumps(settings, sort_keys=True, default=str)
    with _stores_lock:
        if key not in _stores:
            _stores[key] = open_store(dict(settings))
        return _stores[key]


def close_stores() -> None:
    """Close every store the providers opened (at server shutdown)."""
    with _stores_lock:
        for store in _stores.values():
            store.close()
        _stores.clear()
