"""``reindex``: the whole catalogue re-normalised from the raw records the ledger keeps, without the network.

A better crosswalk, a new thesaurus or a quality assessment then reaches every record, not only those a
source happens to change. The index is read in its indexing order (``Store.scan``): each record is
crosswalked again from its raw bytes (pole from the source's config when given, else the pole it had),
enriched as a harvest enriches (``Enricher``), and keeps the provenance of its harvest (when and from
where it was harvested did not change). The ledger's raw records the index does not hold (an index lost
or rebuilt since) follow, in record id order. ``Store.rebuild`` replaces the index with the result in one
go: the catalogue serves the old index until the new one is complete, an error leaves it as it was, and
the order kept keeps every duplicate group's primary.

Nothing is lost: a raw record the current crosswalk rejects keeps its indexed version, and so does a
record indexed without a raw in the ledger; both are counted, the rejections with their reasons. The
unmapped keywords report is refreshed for every re-normalised record once all are made, while the index
is finished.

No harvest may write meanwhile (its batches would wait for the rebuild, and the ledger could change
under it): every source's run lock is taken first, or the reindex is refused naming the source being
harvested (``RunOverlap``).
"""

from __future__ import annotations

import gc
import itertools
import queue
import tempfile
import threading
import time
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import IO, Any, TypeVar

import msgspec

from catalogue import quality
from catalogue.record import Provenance, Record
from catalogue.store import Store
from catalogue.urls import public_url
from harvester import formats, parallel
from harvester.enrich import Enricher
from harvester.ledger import Ledger
from harvester.parallel import Crosswalker, Enriched, Outcome, Shipment, local_workers
from harvester.raw import RawRecord
from harvester.run import source_lock
from harvester.source import Source

_BATCH = 500  # records crosswalked, enriched and handed to the index at a time
_CROSSWALKED_AHEAD = 2  # batches in the crosswalk workers' hands while one is indexed
# A batch of (raw, indexed version, harvest time), with the outcomes of its crosswalk under way
_Started = tuple[list[tuple[RawRecord | None, Record | None, str | None]], Iterator[Enriched | Outcome]]
_T = TypeVar("_T")


@dataclass(slots=True)
class Kept:
    """A raw record that could not be re-normalised: the crosswalk's rejection code and message, or
    ``id-changed`` when the crosswalk now gives the record another id."""

    record_id: str
    code: str
    message: str


@dataclass
class ReindexSummary:
    """What a reindex did, for the administrator: every record is counted once, as re-normalised or
    kept as it was indexed (and why), or as a ledger raw left out."""

    reindexed: int = 0  # records re-normalised from their raw and indexed
    changed: int = 0  # of those, records that differ from the version indexed before
    restored: int = 0  # of those, records the ledger held and the index did not
    kept_rejected: list[Kept] = field(default_factory=list)  # rejected now: the indexed version stays
    kept_without_raw: int = 0  # indexed without a raw in the ledger: kept as they are
    not_restored: list[Kept] = field(default_factory=list)  # ledger-only raws the crosswalk rejects
    indexed: int = 0  # records in the rebuilt index
    validated: int = 0  # re-normalised records SHACL-validated anew (the others kept their report)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.indexed / self.seconds if self.seconds > 0 else 0.0

    def lines(self) -> list[str]:
        """What the CLI prints: the counts, then one line per reason records were kept or left out."""
        lines = [
            f"reindexed {self.reindexed} records ({self.changed} changed, {self.restored} restored from the"
            f" ledger); kept as indexed: {len(self.kept_rejected)} the crosswalk now rejects,"
            f" {self.kept_without_raw} without a raw record; {self.indexed} indexed, {self.validated}"
            f" validated anew ({self.seconds:.1f} s, {self.rate:.0f} records/s)"
        ]
        lines += _reasons("kept the indexed version of", self.kept_rejected)
        lines += _reasons("left out", self.not_restored)
        return lines


def _reasons(what: str, records: list[Kept]) -> list[str]:
    """One line per reason code: how many, one example and its message."""
    by_code: dict[str, list[Kept]] = {}
    for kept in records:
        by_code.setdefault(kept.code, []).append(kept)
    return [
        f"{what} {len(same)} record(s), rejected {code}: {same[0].record_id}: {same[0].message}"
        for code, same in sorted(by_code.items())
    ]


def reindex(
    store: Store,
    ledger: Ledger,
    enricher: Enricher,
    sources: dict[str, Source] | None = None,
    *,
    workers: int | None = None,
) -> ReindexSummary:
    """Re-normalise every record from the ledger and rebuild the index with them (see the module).

    ``sources`` (by id) give each source's current pole and public URL; ``workers`` crosswalk processes
    (``harvester.parallel``; 0: in this process; ``None``: as for a folder, the raws being on disk too,
    1.3x as fast on two cores as in process). The workers enrich the records they crosswalk too (the
    enricher's thesaurus is shipped to them, ``parallel.shipped``), leaving this process the index to
    write. The enricher validates, in its own workers, the records whose content changed or whose
    report predates the shipped shapes. Raises ``RunOverlap`` when a harvest is running; an error
    before the index is rebuilt leaves index and ledger unchanged."""
    started = time.perf_counter()
    configured = sources or {}
    with ExitStack() as locks, _fewer_collections():
        for source_id in sorted(set(configured) | set(ledger.source_ids())):
            locks.enter_context(source_lock(ledger, source_id))
        crosswalker = Crosswalker(local_workers() if workers is None else workers)
        with (
            tempfile.TemporaryFile() as spool,
            ExitStack() as shipping,
            ThreadPoolExecutor(1, thread_name_prefix="reindex-unmapped") as reporting,
        ):
            shipment = None
            if crosswalker.workers > 0 and enricher.portable:
                shipment = shipping.enter_context(parallel.shipped(enricher.thesaurus))
            renormalised = _Renormalised(
                store, ledger, enricher, configured, crosswalker, (spool, reporting), shipment
            )
            renormalised.summary.indexed = store.rebuild(renormalised.records(), decoded=True)
            renormalised.unmapped_reported()
    renormalised.summary.seconds = time.perf_counter() - started
    return renormalised.summary


class _Renormalised:
    """The records of the new index, produced lazily as ``Store.rebuild`` reads them. The unmapped
    keywords of each are spooled to a temporary file meanwhile (a large catalogue has millions), for
    the ledger once the last record is produced: reported by a thread of their own while the index is
    finished (its deferred indexes made, committed, checkpointed: minutes for 10^6 records, as long as
    the report), so that neither waits for the other. A rebuild that fails in that time leaves the
    report refreshed ahead of the index: it is a report, and the next reindex or harvest mends it."""

    def __init__(
        self,
        store: Store,
        ledger: Ledger,
        enricher: Enricher,
        sources: dict[str, Source],
        crosswalker: Crosswalker,
        reporting: tuple[IO[bytes], Executor],
        shipment: Shipment | None,
    ):
        self.store = store
        self.ledger = ledger
        self.enricher = enricher
        self.sources = sources
        self.crosswalker = crosswalker
        self.spool, self.reporting = reporting  # the unmapped keywords, and the thread that reports them
        self.report: Future[None] | None = None
        self.shipment = shipment  # the thesaurus the workers enrich with, when they do
        self.summary = ReindexSummary()

    def records(self) -> Iterator[Record]:
        """The index's records in indexing order, then the ledger's others (only their ids are kept
        meanwhile, to tell them apart). The crosswalk of each batch starts ``_CROSSWALKED_AHEAD``
        batches before it is indexed, so that the workers crosswalk while this process works (as a
        harvest reads a page ahead) rather than each waiting for the other: one batch ahead, this
        process still waited for the workers a sixth of the time at 10^6 records, each side's pace
        varying; and the batches are read by a thread of their own (``_read_ahead``)."""
        pending: deque[_Started] = deque()
        for batch in _read_ahead(self._batches()):
            pending.append(self._started(batch))
            if len(pending) > _CROSSWALKED_AHEAD:
                yield from self._batch(*pending.popleft())
        while pending:
            yield from self._batch(*pending.popleft())
        self.report = self.reporting.submit(self._report_unmapped)

    def unmapped_reported(self) -> None:
        """Wait for the report of the unmapped keywords (made now if the index did not read every
        record), raising its error."""
        (self.report or self.reporting.submit(self._report_unmapped)).result()

    def _batches(self) -> Iterator[list[tuple[RawRecord | None, Record | None, str | None]]]:
        """``(raw, indexed version, harvest time)``, a batch at a time: the index's records, then the
        ledger's raws the index does not hold. Those are looked for only when the ledger's record ids
        (read without their raws) name one: reading and decompressing every raw again to find none
        costs a large catalogue minutes."""
        indexed: set[str] = set()
        for batch in _batches(self.store.scan()):
            indexed.update(old.id for old in batch)
            raws = self.ledger.raws(old.id for old in batch)
            yield [(raws.get(old.id), old, None) for old in batch]
        sources = sorted(set(self.sources) | set(self.ledger.source_ids()))
        if all(k.record_id in indexed for s in sources for k in self.ledger.known(s).values()):
            return
        restored = (
            (raw, None, harvested_at)
            for raw, harvested_at in self.ledger.raw_records(_BATCH)
            if raw.locator not in indexed
        )
        yield from _batches(restored)

    def _report_unmapped(self) -> None:
        """The spooled unmapped keywords to the ledger, replacing what it reported for those records."""
        self.spool.seek(0)
        for lines in _batches(self.spool):
            entries = [msgspec.json.decode(line, type=tuple[str, list[tuple[str, str]]]) for line in lines]
            self.ledger.set_unmapped(
                [record_id for record_id, _ in entries],
                [(record_id, label, cited) for record_id, keywords in entries for label, cited in keywords],
            )

    def _started(
        self, batch: list[tuple[RawRecord | None, Record | None, str | None]]
    ) -> tuple[list[tuple[RawRecord | None, Record | None, str | None]], Iterator[Enriched | Outcome]]:
        """The batch with the crosswalk outcomes of its raws, their crosswalk started."""
        return batch, self._crosswalked([(raw, old) for raw, old, _ in batch if raw is not None])

    def _batch(
        self,
        batch: list[tuple[RawRecord | None, Record | None, str | None]],
        outcomes: Iterator[Enriched | Outcome],
    ) -> Iterator[Record]:
        """Each ``(raw, indexed version, harvest time)`` as the record the new index gets, in order."""
        accepted: dict[int, Enriched] = {}  # position in the batch -> its crosswalked, enriched record
        for position, (raw, old, _) in enumerate(batch):
            if raw is not None and (record := self._accepted(raw, old, next(outcomes))) is not None:
                accepted[position] = record
        renormalised: dict[int, Record] = {}
        changed: set[int] = set()  # positions of the records that differ from their indexed version
        for position, (record, unmapped) in accepted.items():
            _, old, harvested_at = batch[position]
            renormalised[position] = self._stamped(record, old, harvested_at)
            if self._counted(renormalised[position], old):
                changed.add(position)
            keywords = [(keyword.label, keyword.thesaurus or "") for keyword in unmapped]
            self.spool.write(msgspec.json.encode((record.id, keywords)) + b"\n")
        renormalised.update(self._validated(renormalised, changed, batch))
        for position, (raw, old, _) in enumerate(batch):
            if position in renormalised:
                yield renormalised[position]
            elif old is not None:
                if raw is None:
                    self.summary.kept_without_raw += 1
                yield old

    def _crosswalked(self, pairs: list[tuple[RawRecord, Record | None]]) -> Iterator[Enriched | Outcome]:
        """The crosswalk outcome of each raw, in order, enriched when the workers enrich; the raws of one
        pole go to the workers together, now (the outcomes are waited for when read)."""
        poles = [self._pole(raw, old) for raw, old in pairs]
        submitted: list[tuple[list[int], Iterator[Enriched | Outcome]]] = []
        for pole in dict.fromkeys(poles):
            positions = [i for i, p in enumerate(poles) if p == pole]
            raws = [pairs[i][0] for i in positions]
            if self.shipment is not None:
                submitted.append((positions, self.crosswalker.enriched(raws, pole, self.shipment)))
            else:
                submitted.append((positions, self.crosswalker.submit(raws, pole)))

        return _in_order(submitted, len(pairs))

    def _pole(self, raw: RawRecord, old: Record | None) -> str | None:
        source = self.sources.get(raw.source_id)
        if source is not None:
            return source.pole
        return old.pole if old is not None else None

    def _accepted(self, raw: RawRecord, old: Record | None, outcome: Enriched | Outcome) -> Enriched | None:
        """The crosswalked record enriched (here, unless the workers did), or ``None`` with the reason
        counted (the indexed version stays). A record the crosswalk now gives another id stays too: a
        reindex never moves a record."""
        record = outcome.record if isinstance(outcome, Enriched) else outcome
        if isinstance(record, formats.Rejected):
            code, message = record.code, record.message
        elif record.id != raw.locator:
            code = "id-changed"
            message = f"the crosswalk now gives it the id {record.id!r}; harvest its source again to adopt it"
        elif isinstance(outcome, Enriched):
            return outcome
        else:
            return Enriched(*self.enricher.enrich(record))
        (self.summary.kept_rejected if old is not None else self.summary.not_restored).append(
            Kept(raw.locator, code, message)
        )
        return None

    def _validated(
        self,
        renormalised: dict[int, Record],
        changed: set[int],
        batch: list[tuple[RawRecord | None, Record | None, str | None]],
    ) -> dict[int, Record]:
        """The records with their SHACL validation: the indexed version's, when it was made with the
        current shapes for the same content, else a new one (``catalogue.quality``). A record
        ``changed`` does not count is the same content (a deep comparison spared: most records are)."""
        kept, stale = {}, {}
        for position, record in renormalised.items():
            old = batch[position][1]
            report = old.quality.validation if old is not None and old.quality is not None else None
            same = position not in changed or (old is not None and quality.same_content(record, old))
            if old is not None and quality.current(report) and same:
                kept[position] = quality.with_validation([record], [report])[0]
            else:
                stale[position] = record
        self.summary.validated += len(stale)
        return kept | dict(zip(stale, self.enricher.validate(list(stale.values())), strict=True))

    def _stamped(self, record: Record, old: Record | None, harvested_at: str | None) -> Record:
        """The record with the provenance of its harvest: that of the version it replaces, else (a record
        restored from the ledger) when the run that stored its raw started and the source's public URL."""
        base = record.provenance or Provenance(source_id=record.source_id)
        if old is not None and old.provenance is not None:
            provenance = msgspec.structs.replace(
                base, harvested_at=old.provenance.harvested_at, source_url=old.provenance.source_url
            )
        else:
            source = self.sources.get(record.source_id)
            url = public_url(source.url) if source is not None and source.url else None
            provenance = msgspec.structs.replace(base, harvested_at=harvested_at, source_url=url)
        return msgspec.structs.replace(record, provenance=provenance)

    def _counted(self, record: Record, old: Record | None) -> bool:
        """Count the record; whether it differs from its indexed version (its validation aside)."""
        self.summary.reindexed += 1
        if old is None:
            self.summary.restored += 1
        elif _unvalidated(record) != _unvalidated(old):
            self.summary.changed += 1
            return True
        return False


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """The garbage collector spared what exists before the reindex (the thesaurus index, modules: a
    full collection would traverse them every time) and run less often on the records that pass
    through, millions of short-lived objects without cycles, freed by reference counting anyway: 15%
    less CPU in this process, the reindex's bottleneck (measured on 20 000 records)."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(20_000, 50, 1_000)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _unvalidated(record: Record) -> Record:
    """The record without its validation report (which ``_validated`` adds after the comparison)."""
    if record.quality is None:
        return record
    return msgspec.structs.replace(record, quality=msgspec.structs.replace(record.quality, validation=None))


def _in_order(
    submitted: list[tuple[list[int], Iterator[Enriched | Outcome]]], count: int
) -> Iterator[Enriched | Outcome]:
    """The outcomes of ``submitted`` (positions in the batch, their outcomes) in batch order, waited
    for when the first is read."""
    outcomes: dict[int, Enriched | Outcome] = {}
    for positions, pole_outcomes in submitted:
        outcomes.update(zip(positions, pole_outcomes, strict=True))
    yield from (outcomes[i] for i in range(count))


def _read_ahead(items: Iterator[_T], depth: int = 2) -> Iterator[_T]:
    """``items``, taken from the iterator by a thread of its own up to ``depth`` ahead: the next batch's
    records and raws are read (SQLite and zlib let go of the GIL meanwhile) while this thread indexes
    the one before. An error of the iterator is raised here, in order; when the consumer stops early,
    the thread stops at its next item."""
    ahead: queue.Queue[tuple[bool, Any]] = queue.Queue(depth)
    stopped = threading.Event()

    def put(entry: tuple[bool, Any]) -> bool:
        """Queue ``entry`` unless the consumer stops meanwhile; whether it was."""
        while not stopped.is_set():
            try:
                ahead.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((True, item)):
                    return
            put((False, None))
        except BaseException as exc:  # handed to the consumer, raised in its thread
            put((False, exc))

    thread = threading.Thread(target=produce, name="reindex-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            more, item = ahead.get()
            if not more:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stopped.set()
        thread.join()
        if isinstance(items, Generator):
            items.close()


def _batches(items: Iterable[_T]) -> Iterator[list[_T]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, _BATCH)):
        yield batch
