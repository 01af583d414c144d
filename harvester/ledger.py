"""The harvest ledger: raw records as received, the run history and every record's status per run.

It is the harvester's own memory, kept apart from the index (``catalogue.store``): the ledger keeps the
raw bytes (so ``reindex`` can re-normalise without re-harvesting), the content digest of each record (so
an unchanged record costs no parsing or indexing), why each rejected record was rejected, and where an
interrupted listing stands. ``Ledger`` is the interface; two backends implement it and pass the same
contract tests (``tests/ledger_contract.py``): one SQLite file (default, ``harvester.ledgers.sqlite``)
and small Elasticsearch indexes (``harvester.ledgers.elasticsearch``), so that a deployment whose index
is Elasticsearch needs no other engine.

``open_ledger`` builds one from the config's ``harvest.ledger``: a path (an SQLite file, as before
backends existed) or a mapping ``{backend: NAME, ...options}``, checked when the config is read
(``check_settings``) as the ``store:`` section is.
"""

from __future__ import annotations

import importlib
import inspect
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from harvester.raw import RawRecord


class RunOverlap(Exception):
    """Another run of the same source holds the lock."""


@dataclass(slots=True)
class Known:
    """What the ledger remembers of a record already harvested from a source."""

    record_id: str
    digest: str


@dataclass(slots=True)
class Listing:
    """A listing under way or interrupted: what it asks, and where to continue."""

    run_id: int
    kind: str  # full | incremental
    since: str | None
    watermark: str
    checkpoint: dict[str, Any] | None
    received: int


@dataclass(slots=True)
class Event:
    record_id: str | None
    locator: str
    status: str
    code: str | None = None
    message: str | None = None


class RunInfo(msgspec.Struct, kw_only=True):
    id: int
    source_id: str
    started: str
    finished: str | None
    status: str
    listing_complete: bool
    matched: int | None
    counts: dict[str, int]
    error: str | None
    kind: str = "full"
    resumed_from: int | None = None
    notes: list[str] = []


# --- what a ledger holds, entry by entry: ``Ledger.dump`` and ``Ledger.load`` (``terracat migrate``) ---


@dataclass(slots=True)
class StoredRaw:
    """A raw record as the ledger keeps it, with the run that last changed it."""

    record_id: str
    source_id: str
    source_key: str  # the ledger key ``known`` returns it by
    format: str
    digest: str
    content: bytes
    datestamp: str | None
    run_id: int


@dataclass(slots=True)
class StoredEvent:
    run_id: int
    event: Event


@dataclass(slots=True)
class StoredListing:
    """A source's watermark and open listing (either may be ``None``)."""

    source_id: str
    watermark: str | None
    listing: Listing | None


@dataclass(slots=True)
class StoredSeen:
    source_id: str
    record_id: str


@dataclass(slots=True)
class StoredUnmapped:
    source_id: str
    record_id: str
    label: str
    thesaurus: str


Entry = RunInfo | StoredRaw | StoredEvent | StoredListing | StoredSeen | StoredUnmapped
# ``Ledger.tally`` keys, in the order ``dump`` yields them
KINDS = ("runs", "raw", "events", "listings", "seen", "unmapped")


def kind_of(entry: Entry) -> str:
    """The ``tally`` key an entry counts under."""
    kinds: dict[type, str] = {
        RunInfo: "runs",
        StoredRaw: "raw",
        StoredEvent: "events",
        StoredListing: "listings",
        StoredSeen: "seen",
        StoredUnmapped: "unmapped",
    }
    return kinds[type(entry)]


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# (source, label, cited thesaurus or '', number of records): a row of ``Ledger.unmapped``
UnmappedRow = tuple[str, str, str, int]


class Ledger(ABC):
    """The harvester's memory. Every method may be called from several threads at once (a run's index
    writer, the runs of other sources harvested in parallel, the admin API); a write is visible to
    every read made after it returns."""

    # runs -----------------------------------------------------------------------------------------

    @abstractmethod
    def lock(self, source_id: str) -> AbstractContextManager[None]:
        """The exclusive lock of a source's runs, held across processes (and machines, for a shared
        backend) while the context is open; ``RunOverlap`` at once when another holder has it, and
        released by the death of its holder, so that a killed harvest never blocks the source."""

    @abstractmethod
    def start_run(self, source_id: str) -> int:
        """A new run of ``source_id``, with an id greater than every earlier run's. Runs left 'running'
        by a process that died (the caller holds the source's lock, so none is really running) are
        marked 'interrupted' first."""

    @abstractmethod
    def finish_run(
        self,
        run_id: int,
        *,
        status: str,
        listing_complete: bool,
        matched: int | None,
        counts: dict[str, int],
        error: str | None,
        kind: str = "full",
        resumed_from: int | None = None,
        notes: list[str] | None = None,
    ) -> None:
        """Record how a run ended, stamped with the time now."""

    @abstractmethod
    def run(self, run_id: int) -> RunInfo | None:
        """One run by its id (``terracat run-show``)."""

    @abstractmethod
    def runs(self, source_id: str | None = None, limit: int = 20) -> list[RunInfo]:
        """The latest ``limit`` runs, of one source or of all, newest (highest id) first."""

    @abstractmethod
    def events(
        self, run_id: int, status: str | None = None, *, limit: int | None = None, offset: int = 0
    ) -> list[Event]:
        """The record statuses of a run in the order they were filed; a page of them with ``limit``."""

    @abstractmethod
    def source_ids(self) -> list[str]:
        """Every source the ledger has a run of, sorted."""

    # records --------------------------------------------------------------------------------------

    @abstractmethod
    def known(self, source_id: str) -> dict[str, Known]:
        """Every record of a source, by ledger key (the protocol's id hint, else the record's native id):
        loaded once per run to find unchanged records."""

    @abstractmethod
    def raw(self, record_id: str) -> RawRecord | None:
        """The raw record last received for a record id, bytes as the source sent them (its
        ``native_id`` is the ledger key, its ``locator`` the record id)."""

    @abstractmethod
    def raws(self, record_ids: Iterable[str]) -> dict[str, RawRecord]:
        """The raw records of ``record_ids`` (as ``raw`` gives each), by record id; ids without one are
        left out. Read in a few requests, not one per record: ``reindex`` reads the raw of every indexed
        record, a million of them on a large catalogue."""

    @abstractmethod
    def raw_records(self, batch_size: int = 500) -> Iterator[tuple[RawRecord, str | None]]:
        """Every raw record held, in record id order, with when the run that stored it started: what
        ``terracat reindex`` re-normalises. Read ``batch_size`` at a time, so that the ledger can be
        written between two batches and memory stays bounded."""

    @abstractmethod
    def save(
        self,
        run_id: int,
        changed: Iterable[tuple[str, str, RawRecord]],
        events: Iterable[Event],
        *,
        source_id: str | None = None,
        seen: Iterable[str] = (),
        removed: Iterable[str] = (),
        checkpoint: dict[str, Any] | None = None,
        received: int = 0,
        unmapped: Iterable[tuple[str, str, str]] = (),
    ) -> None:
        """Commit one batch: the raw bytes of added/updated records (record id, ledger key, raw;
        ``known`` returns them by that key), the statuses, the raw records of ``removed`` records
        forgotten, and for the source's open listing the records it has seen, how many it received and
        the checkpoint after the batch (kept when ``None``). A run killed at any moment therefore resumes
        from a checkpoint whose records are all committed. ``unmapped`` (record id, label, cited
        thesaurus) replaces what was reported for the changed and removed records."""

    @abstractmethod
    def set_unmapped(self, record_ids: Iterable[str], unmapped: Iterable[tuple[str, str, str]]) -> None:
        """Replace what is reported for records ``record_ids`` by ``unmapped`` (record id, label, cited
        thesaurus), filed under the source of each record's raw (a record without one is left out): how
        ``reindex`` reports what it re-normalised."""

    @abstractmethod
    def unmapped(self, source_id: str | None = None, limit: int = 50) -> list[UnmappedRow]:
        """The keywords no thesaurus concept matched, most frequent first (then by source and label):
        (source, label, cited thesaurus, number of records), for pole administrators to curate the
        thesaurus."""

    # listings -------------------------------------------------------------------------------------

    @abstractmethod
    def watermark(self, source_id: str) -> str | None:
        """When the last complete listing of the source began (``None``: never listed completely)."""

    @abstractmethod
    def listing(self, source_id: str) -> Listing | None:
        """The source's listing under way or interrupted, if any."""

    @abstractmethod
    def begin_listing(
        self, source_id: str, run_id: int, kind: str, since: str | None, watermark: str
    ) -> None:
        """Start a new listing of the source, forgetting any interrupted one and what it had seen."""

    @abstractmethod
    def set_listing_watermark(self, source_id: str, watermark: str) -> None:
        """Use the server's own clock (OAI-PMH responseDate) as the watermark of the open listing."""

    @abstractmethod
    def seen(self, source_id: str) -> set[str]:
        """The ids of the records the source's open listing has seen, over every run that worked on it."""

    @abstractmethod
    def end_listing(self, source_id: str, watermark: str) -> None:
        """The listing completed: its start becomes the source's watermark and its state is dropped."""

    # migration ------------------------------------------------------------------------------------

    @abstractmethod
    def dump(self) -> Iterator[Entry]:
        """Everything the ledger holds, read in bounded batches: runs by id, raw records by record id,
        each run's events in filing order (runs in id order), listings, seen records, and unmapped
        keywords grouped by record id. What ``load`` takes to copy a ledger into another backend."""

    @abstractmethod
    def load(self, entries: Iterable[Entry]) -> None:
        """Add ``entries`` (as ``dump`` yields them) to an empty ledger, keeping run ids, each run's
        event order and each raw record's digest and run; written in bounded batches."""

    @abstractmethod
    def tally(self) -> dict[str, int]:
        """How many entries of each kind (``KINDS``) the ledger holds: what a migration compares."""

    # ----------------------------------------------------------------------------------------------

    @abstractmethod
    def close(self) -> None:
        """Release connections and files."""

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Delegating(Ledger):
    """A ledger passing every call to ``inner``: the base of wrappers that add to a method (the admin
    API's run-now announces a run's id as soon as it has one) whatever the backend."""

    def __init__(self, inner: Ledger):
        self.inner = inner

    def lock(self, source_id: str) -> AbstractContextManager[None]:
        return self.inner.lock(source_id)

    def start_run(self, source_id: str) -> int:
        return self.inner.start_run(source_id)

    def finish_run(self, run_id: int, **outcome: Any) -> None:
        self.inner.finish_run(run_id, **outcome)

    def run(self, run_id: int) -> RunInfo | None:
        return self.inner.run(run_id)

    def runs(self, source_id: str | None = None, limit: int = 20) -> list[RunInfo]:
        return self.inner.runs(source_id, limit)

    def events(
        self, run_id: int, status: str | None = None, *, limit: int | None = None, offset: int = 0
    ) -> list[Event]:
        return self.inner.events(run_id, status, limit=limit, offset=offset)

    def source_ids(self) -> list[str]:
        return self.inner.source_ids()

    def known(self, source_id: str) -> dict[str, Known]:
        return self.inner.known(source_id)

    def raw(self, record_id: str) -> RawRecord | None:
        return self.inner.raw(record_id)

    def raws(self, record_ids: Iterable[str]) -> dict[str, RawRecord]:
        return self.inner.raws(record_ids)

    def raw_records(self, batch_size: int = 500) -> Iterator[tuple[RawRecord, str | None]]:
        return self.inner.raw_records(batch_size)

    def save(
        self,
        run_id: int,
        changed: Iterable[tuple[str, str, RawRecord]],
        events: Iterable[Event],
        **batch: Any,
    ) -> None:
        self.inner.save(run_id, changed, events, **batch)

    def set_unmapped(self, record_ids: Iterable[str], unmapped: Iterable[tuple[str, str, str]]) -> None:
        self.inner.set_unmapped(record_ids, unmapped)

    def unmapped(self, source_id: str | None = None, limit: int = 50) -> list[UnmappedRow]:
        return self.inner.unmapped(source_id, limit)

    def watermark(self, source_id: str) -> str | None:
        return self.inner.watermark(source_id)

    def listing(self, source_id: str) -> Listing | None:
        return self.inner.listing(source_id)

    def begin_listing(
        self, source_id: str, run_id: int, kind: str, since: str | None, watermark: str
    ) -> None:
        self.inner.begin_listing(source_id, run_id, kind, since, watermark)

    def set_listing_watermark(self, source_id: str, watermark: str) -> None:
        self.inner.set_listing_watermark(source_id, watermark)

    def seen(self, source_id: str) -> set[str]:
        return self.inner.seen(source_id)

    def end_listing(self, source_id: str, watermark: str) -> None:
        self.inner.end_listing(source_id, watermark)

    def dump(self) -> Iterator[Entry]:
        return self.inner.dump()

    def load(self, entries: Iterable[Entry]) -> None:
        self.inner.load(entries)

    def tally(self) -> dict[str, int]:
        return self.inner.tally()

    def close(self) -> None:
        self.inner.close()


# --- backends ---------------------------------------------------------------------------------------

_BACKENDS: dict[str, str] = {
    # name -> "module:attribute"; imported lazily so a backend's client library is only needed when used
    "sqlite": "harvester.ledgers.sqlite:SQLiteLedger",
    "elasticsearch": "harvester.ledgers.elasticsearch:ElasticsearchLedger",
}

LedgerConfig = str | Path | Mapping[str, Any]  # the config's ``harvest.ledger``


def register(name: str, target: str) -> None:
    """Make a backend available as ``harvest: {ledger: {backend: name}}``; ``target`` is
    ``"module:ClassName"``."""
    _BACKENDS[name] = target


def backends() -> list[str]:
    return sorted(_BACKENDS)


def _options(config: LedgerConfig) -> tuple[str, dict[str, Any]]:
    if isinstance(config, str | Path):
        return "sqlite", {"path": config}
    options = dict(config)
    name = options.pop("backend", "sqlite")
    if name not in _BACKENDS:
        raise ValueError(f"unknown backend {name!r}; known: {', '.join(backends())}")
    return name, options


def _factory(config: LedgerConfig) -> tuple[Any, dict[str, Any]]:
    name, options = _options(config)
    module_name, _, attr = _BACKENDS[name].partition(":")
    return getattr(importlib.import_module(module_name), attr), options


def check_settings(config: LedgerConfig) -> tuple[str, str] | None:
    """The first problem with ``harvest.ledger`` as ``(key, message)``, or ``None``: a key the backend
    does not take, or one it needs, is found when the config is read, not when the ledger is opened."""
    try:
        factory, options = _factory(config)
    except ValueError as exc:
        return ("backend", str(exc))
    parameters = inspect.signature(factory).parameters
    backend = _options(config)[0]
    for key in options:
        if key not in parameters:
            return (key, f"unknown key {key!r} for backend {backend} (it takes: {', '.join(parameters)})")
    for name, parameter in parameters.items():
        if parameter.default is inspect.Parameter.empty and name not in options:
            return (name, f"backend {backend} needs {name!r}")
    return None


def open_ledger(config: LedgerConfig) -> Ledger:
    """The ledger the config's ``harvest.ledger`` describes, created empty if there is none yet."""
    factory, options = _factory(config)
    return factory(**options)


def ledger_exists(config: LedgerConfig) -> bool:
    """Whether the ledger has been created: servers read it only then, and never create an empty one."""
    factory, options = _factory(config)
    exists: Callable[..., bool] = factory.exists
    return exists(**options)


def local_dir(config: LedgerConfig) -> Path:
    """The folder on this machine for what the harvester caches (compiled thesauri): beside an SQLite
    ledger, ``cache_dir`` for a remote one."""
    factory, options = _factory(config)
    where: Callable[..., Path] = factory.local_dir
    return where(**options)


def describe(config: LedgerConfig) -> str:
    """The ledger for a message: its file, or its backend and address."""
    name, options = _options(config)
    if name == "sqlite":
        return str(options["path"])
    return f"{name} {options.get('url', '')} {options.get('prefix', '')}".strip()
