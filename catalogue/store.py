"""The ``Store`` interface: where records are indexed and searched, whatever the backend.

Two backends implement it and pass the same contract tests: the embedded SQLite index (default) and
Elasticsearch (scale-out). A backend registers itself under a name with ``register``; ``open_store``
builds one from the ``store:`` section of the config.

Duplicate groups: data poles often republish each other's datasets, so one resource reaches the index
as several records. Records of different sources that share a group key (``catalogue.identity.
group_keys``: a DOI, or a URI/URN identifier) form a group; the catalogue serves its primary, the record
indexed first, and keeps the others as duplicates linked to it, rather than refusing them and aborting a
harvest. Records of one source never group with each other (a source may give a series and its dataset
the same DOI), so a group holds at most one record per source. Groups follow the index: a write
re-evaluates the groups of the records it touches, a deleted primary hands over to the next record
indexed, and an update keeps a record's place in the indexing order.

Rebuilds: ``terracat reindex`` re-normalises every record and replaces the whole content with
``rebuild``, fed from ``scan`` of the very store it replaces: a backend serves both from snapshots, so
the catalogue never serves half of an index, and a rebuild that fails leaves the old one.
"""

from __future__ import annotations

import importlib
import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import msgspec

from catalogue.query import Facet, Query
from catalogue.record import Record


class SearchResult(msgspec.Struct, kw_only=True):
    """One page of results; ``matched`` counts every record the query matches, not just this page."""

    records: list[Record]
    matched: int
    facets: list[Facet] = []  # in the order the query asked for them


class Extent(msgspec.Struct, kw_only=True):
    """Where and when the records of a query lie, for the ``extent`` of a catalogue description:
    ``bbox`` (west, south, east, north) encloses all their boxes, ``None`` if none has one; ``time``
    (start, end) spans all their temporal extents as UTC timestamps, an open end as ``None``, and is
    ``None`` itself if none has one."""

    bbox: tuple[float, float, float, float] | None = None
    time: tuple[str | None, str | None] | None = None


class Store(ABC):
    """An index of ``Record``s. Writes are batched: a batch is applied whole or not at all."""

    @abstractmethod
    def upsert(self, records: Sequence[Record]) -> None:
        """Insert or replace records (by ``Record.id``) in one transaction."""

    @abstractmethod
    def delete(self, ids: Iterable[str]) -> int:
        """Remove records by id; returns how many existed."""

    @abstractmethod
    def rebuild(self, records: Iterable[Record], *, decoded: bool = False) -> int:
        """Replace the whole content of the index with ``records``, atomically; returns how many records
        it then holds. ``decoded``: the records were decoded from documents, and only decoded values put
        in them (a reindex's, a copy of another index): a backend that reads each document it writes
        back, to refuse one that would not decode, may spare itself that.

        Until it returns, every reader (any thread, any process, the caller's own thread while it
        produces ``records`` included) sees the old content; then the new one, never part of it. If
        anything fails (a record the index refuses, the iterable raising midway) nothing changes.
        The iterable's order is the new indexing order (it decides the primary of each duplicate
        group); an id given twice is indexed once, its last version in the place of its first. It
        is read lazily, in bounded batches: a backend never holds the whole catalogue in memory."""

    @abstractmethod
    def get(self, record_id: str) -> Record | None:
        """One record by id, or ``None``."""

    @abstractmethod
    def search(self, query: Query) -> SearchResult:
        """Records matching ``query`` (all its criteria ANDed), sorted and paged as it asks.

        Duplicates are left out, so that ``matched`` counts each resource once, unless the query names
        records (``query.ids``): a client asking for a record by id gets it, duplicate or not."""

    @abstractmethod
    def extent(self, query: Query) -> Extent:
        """The extent of every record ``query`` matches (duplicates left out as by ``search``; its
        sort, paging and facets play no part)."""

    @abstractmethod
    def count(self, source_id: str | None = None) -> int:
        """How many records are indexed, for one source or in all, duplicates included: a harvest
        compares it with what it wrote."""

    @abstractmethod
    def ids(self, source_id: str) -> set[str]:
        """Every record id indexed for a source, duplicates included (used to find records a full
        harvest no longer saw)."""

    @abstractmethod
    def unvalidated(self, source_id: str, shapes: str) -> list[str]:
        """The ids of a source's records, in indexing order, without a validation report made with the
        ``shapes`` version: what a harvest validates once it has indexed, whatever the run that indexed
        them (an interrupted one, one before the shapes changed)."""

    @abstractmethod
    def duplicates_of(self, ids: Iterable[str]) -> dict[str, str]:
        """The duplicates among ``ids``, each mapped to the id of its group's primary; primaries,
        records in no group and unknown ids are left out. One call for a page of records."""

    @abstractmethod
    def group(self, record_id: str) -> list[str]:
        """The ids of the duplicate group of ``record_id``: its primary first, then the duplicates in
        the order they were indexed; ``[]`` when the record is in no group or is not indexed."""

    @abstractmethod
    def scan(self) -> Iterator[Record]:
        """Every indexed record, duplicates included, in indexing order (what ``rebuild`` takes to keep
        the duplicate groups as they are), from one snapshot taken at its first record: writes made
        while it runs, a ``rebuild`` fed from it included, are not seen. Read in bounded batches."""

    @abstractmethod
    def close(self) -> None:
        """Release connections and files."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_BACKENDS: dict[str, str] = {
    # name -> "module:attribute"; imported lazily so a backend's client library is only needed when used
    "sqlite": "catalogue.stores.sqlite:SQLiteStore",
    "elasticsearch": "catalogue.stores.elasticsearch:ElasticsearchStore",
}


def register(name: str, target: str) -> None:
    """Make a backend available as ``store: {backend: name}``; ``target`` is ``"module:ClassName"``."""
    _BACKENDS[name] = target


def backends() -> list[str]:
    return sorted(_BACKENDS)


def _factory(settings: dict[str, Any]) -> tuple[Callable[..., Store], dict[str, Any]]:
    options = dict(settings)
    name = options.pop("backend", "sqlite")
    if name not in _BACKENDS:
        raise ValueError(f"unknown backend {name!r}; known: {', '.join(backends())}")
    module_name, _, attr = _BACKENDS[name].partition(":")
    return getattr(importlib.import_module(module_name), attr), options


def check_settings(settings: dict[str, Any]) -> tuple[str, str] | None:
    """The first problem with a ``store:`` section as ``(key, message)``, or ``None``: a key the backend
    does not take, or one it needs, is found when the config is read, not when the store is opened."""
    try:
        factory, options = _factory(settings)
    except ValueError as exc:
        return ("backend", str(exc))
    parameters = inspect.signature(factory).parameters
    backend = settings.get("backend", "sqlite")
    for key in options:
        if key not in parameters:
            return (key, f"unknown key {key!r} for backend {backend} (it takes: {', '.join(parameters)})")
    for name, parameter in parameters.items():
        if parameter.default is inspect.Parameter.empty and name not in options:
            return (name, f"backend {backend} needs {name!r}")
    return None


def open_store(settings: dict[str, Any]) -> Store:
    """Build the store described by the ``store:`` config section (``backend`` plus its options)."""
    factory, options = _factory(settings)
    return factory(**options)
