"""``HarvestRun``: one harvest of one source, from its listing to the index, with a status per record.

The run enumerates the source page by page, turns each raw record into a ``Record`` with the source's
crosswalk and indexes changed records in batches (one transaction each). Every record gets a status:
added, updated, unchanged (same bytes as last time: not even parsed again), deleted, or rejected with a
reason code and message. A record that fails keeps its previously indexed version.

Incremental, resumable, and never deleting wrongly:

- A source's *watermark* is when its last complete listing began. A run asks only for what changed
  since then (``--full``, or a source never listed completely, lists everything).
- Each batch commits its records, their statuses, the records seen and the protocol's checkpoint
  together. A run that dies (even SIGKILL) leaves its listing open; the next run continues it from the
  checkpoint, and the listing ends with the catalogue an uninterrupted run would have made.
- Records the source reports deleted (OAI-PMH) are deleted at once. Records a *full* listing did not
  see are deleted only when the listing completed without error, received at least what the source
  announced, saw no change of that total between pages (pages addressed by position then shift and
  skip records), and the share to delete is at most the source's ``max_delete_ratio``; otherwise nothing
  is deleted and the run says why. A listing that fails deletes nothing.

Two runs of the same source never overlap: the run holds the source's lock in the ledger (``Ledger.lock``).

A run can be stopped (``HarvestRun.stop``: the scheduler shutting down, an administrator's cancel) and
stops itself past the source's ``max_duration``. Either way it stops at the next page boundary, as an
interrupted run would: what it indexed stays, nothing is deleted, and its listing stays open for the
next run to continue. Its status is then ``stopped`` or ``timed-out``, with a note saying so.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec

from catalogue import validation
from catalogue.record import Provenance, Record
from catalogue.store import Store
from catalogue.urls import public_url
from harvester import formats, protocols
from harvester.enrich import Enricher
from harvester.ledger import Event, Known, Ledger, Listing, RunOverlap, utc_now
from harvester.log_fields import run_fields
from harvester.parallel import Crosswalker, Outcome, default_workers, local_workers
from harvester.protocols import ListingError, Page
from harvester.protocols.bounds import Overrun
from harvester.raw import RawRecord
from harvester.source import Source

if TYPE_CHECKING:
    from thesaurus import Thesaurus

log = logging.getLogger(__name__)

STATUSES = ("added", "updated", "unchanged", "deleted", "duplicate", "rejected")
_DELETE_BATCH = 500

Progress = Callable[[int, int | None], None]  # (records received so far, source's total if known)


@dataclass
class RunSummary:
    source_id: str
    run_id: int | None
    status: str  # succeeded | failed | stopped | timed-out
    listing_complete: bool
    matched: int | None
    counts: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    error: str | None = None
    kind: str = "full"  # full | incremental
    resumed_from: int | None = None  # the run whose interrupted listing this one continued
    notes: list[str] = field(default_factory=list)  # what an administrator should know: withheld deletions
    validated: int = 0  # records SHACL-validated once indexed
    validation_seconds: float = 0.0  # part of ``seconds``

    @property
    def received(self) -> int:
        return sum(self.counts[s] for s in STATUSES)

    def line(self) -> str:
        """The one-line summary the CLI prints for a source."""
        parts = [f"received {self.received}"] + [f"{s} {self.counts[s]}" for s in STATUSES]
        matched = "unknown" if self.matched is None else str(self.matched)
        harvesting = self.seconds - self.validation_seconds
        rate = self.received / harvesting if harvesting > 0 else 0.0
        resumed = f", resumed run #{self.resumed_from}" if self.resumed_from is not None else ""
        validated = (
            f"; validated {self.validated} in {self.validation_seconds:.1f} s" if self.validated else ""
        )
        text = (
            f"{self.source_id} ({self.kind}{resumed}): {', '.join(parts)}, numberOfRecordsMatched {matched}"
            f" ({harvesting:.1f} s, {rate:.0f} records/s{validated})"
        )
        text += "".join(f"; {note}" for note in self.notes)
        if self.status in ("stopped", "timed-out"):
            return f"{text} {self.status.upper()}"
        return text if self.status == "succeeded" else f"{text} FAILED: {self.error}"


@contextmanager
def source_lock(ledger: Ledger, source_id: str) -> Iterator[None]:
    """The exclusive lock of a source's runs (``Ledger.lock``: held across processes); ``RunOverlap`` at
    once when a run holds it. ``terracat reindex`` takes every source's, so that no harvest writes while
    it rebuilds the index."""
    with ledger.lock(source_id):
        yield


class HarvestRun:
    def __init__(
        self,
        source: Source,
        store: Store,
        ledger: Ledger,
        *,
        batch_size: int = 500,
        workers: int | None = None,
        progress: Progress | None = None,
        full: bool = False,
        confirm_delete: bool = False,
        thesaurus: Thesaurus | None = None,
        stop: threading.Event | None = None,
        restart: bool = False,
    ):
        """``restart``: drop the source's interrupted listing, if any, and list anew (a listing whose
        checkpoint keeps failing where a new listing would not: a resumed link the server keeps
        answering with an error, say)."""
        self.source = source
        self.restart = restart
        # Set by another thread to stop the run at the next page boundary.
        self.stop = stop if stop is not None else threading.Event()
        self._deadline: float | None = None
        self.enricher = Enricher(thesaurus, workers=local_workers())
        self.full = full
        self.confirm_delete = confirm_delete
        self.store = store
        self.ledger = ledger
        self.batch_size = batch_size
        self.progress = progress
        self.crosswalker = Crosswalker(default_workers(source) if workers is None else workers)
        # published with every record: never a token or credentials, never a path on this server
        self.source_url = public_url(source.url) if source.url else None

    def execute(self) -> RunSummary:
        """The run, its log lines (and those of its protocol and HTTP clients) with its ``source`` and
        ``run_id`` fields (``harvester.log_fields``)."""
        with run_fields(self.source.id) as self._log_fields:
            return self._execute()

    def _execute(self) -> RunSummary:
        started = time.perf_counter()
        if self.source.max_duration is not None:
            self._deadline = time.monotonic() + self.source.max_duration
        summary = RunSummary(self.source.id, None, "failed", False, None)
        try:
            with source_lock(self.ledger, self.source.id):
                summary.run_id = self.ledger.start_run(self.source.id)
                self._log_fields["run_id"] = summary.run_id
                self._harvest(summary)
                # Still under the lock: a run that takes it next (another process) must find this one
                # finished, not 'running' (which it would mark 'interrupted').
                self._finish(summary, started)
        except RunOverlap as exc:
            summary.error = str(exc)
            summary.seconds = time.perf_counter() - started
        return summary

    def _finish(self, summary: RunSummary, started: float) -> None:
        assert summary.run_id is not None
        summary.seconds = time.perf_counter() - started
        self.ledger.finish_run(
            summary.run_id,
            status=summary.status,
            listing_complete=summary.listing_complete,
            matched=summary.matched,
            counts=dict(summary.counts),
            error=summary.error,
            kind=summary.kind,
            resumed_from=summary.resumed_from,
            notes=summary.notes,
        )

    def _harvest(self, summary: RunSummary) -> None:
        assert summary.run_id is not None
        listing = self._listing(summary)
        writer = _Writer(self.store, self.ledger, self.source.id)
        batch = _Batch(summary.run_id)
        state = self._state()
        protocol = protocols.create(self.source, since=listing.since, resume=listing.checkpoint)
        pages = self._crosswalked(protocol.pages(), state.known)
        overrun = False
        try:
            for page, unchanged, outcomes in pages:
                if protocol.server_time and summary.resumed_from is None and not state.server_time:
                    state.server_time = protocol.server_time
                    self.ledger.set_listing_watermark(self.source.id, protocol.server_time)
                if page.matched is not None:
                    summary.matched = page.matched
                state.unsettled = state.unsettled or page.unsettled
                for note in page.notes:
                    log.warning("%s %s: %s", self.source.id, page.position, note)
                for raw, previous in zip(page.records, unchanged, strict=True):
                    outcome = previous if previous is not None else next(outcomes)
                    status = self._file(raw, outcome, state, batch)
                    summary.counts[status] += 1
                    if len(batch.events) >= self.batch_size:
                        summary.counts.update(writer.write(batch))
                        batch = _Batch(summary.run_id)
                batch.checkpoint = page.checkpoint or batch.checkpoint
                if self.progress:
                    self.progress(summary.received, summary.matched)
                if self._stopped(summary):
                    break
            else:
                summary.listing_complete = True
                summary.status = "succeeded"
        except ListingError as exc:
            summary.error = str(exc)
            overrun = isinstance(exc, Overrun)
        except Exception as exc:  # a protocol bug must end the run as failed, not crash the scheduler
            log.exception("harvest of %s failed", self.source.id)
            summary.error = f"{type(exc).__name__}: {exc}"
        finally:
            pages.close()  # a stopped run leaves the page read ahead unfiled: the checkpoint is before it
            try:
                try:
                    summary.counts.update(writer.write(batch))
                finally:
                    summary.counts.update(writer.close())
            except Exception as exc:
                log.exception("writing the harvest of %s failed", self.source.id)
                summary.status = "failed"
                summary.listing_complete = False
                summary.error = summary.error or f"writing to the index failed: {type(exc).__name__}: {exc}"
        if overrun:  # what it saw includes what the broken pages made up: list again, from the start
            kind, since = listing.kind, listing.since
            self.ledger.begin_listing(self.source.id, summary.run_id, kind, since, listing.watermark)
            summary.notes.append("the listing ran past its bound: the next run lists from the start")
        if summary.status == "succeeded":
            if not protocol.filtered:
                summary.kind = "full"
                self._delete_unseen(summary, state.unsettled)
            self.ledger.end_listing(self.source.id, state.server_time or listing.watermark)
        if summary.status not in ("stopped", "timed-out"):  # a stopped run is not to go on validating
            self._validate(summary)

    def _stopped(self, summary: RunSummary) -> bool:
        """Whether the run is to stop after the page just filed: told to, or past its ``max_duration``.
        The records filed so far are written with the page's checkpoint, so the next run continues
        from there."""
        if self.stop.is_set():
            summary.status = "stopped"
            summary.notes.append("stopped at a page boundary; the next run continues the listing")
        elif self._deadline is not None and time.monotonic() > self._deadline:
            summary.status = "timed-out"
            summary.notes.append(
                f"stopped at a page boundary after max_duration {self.source.max_duration:g} s;"
                " the next run continues the listing"
            )
        else:
            return False
        log.warning("harvest of %s %s: %s", self.source.id, summary.status, summary.notes[-1])
        return True

    def _validate(self, summary: RunSummary) -> None:
        """SHACL validation, once they are searchable, of the source's records without a current report:
        those this run indexed, and any an interrupted run or older shapes left (it is 150 times as slow
        as the FAIR rating done inline: ``catalogue.quality``). A failure here costs reports, never
        records: the next run validates what is left."""
        started = time.perf_counter()
        try:
            record_ids = self.store.unvalidated(self.source.id, validation.SHAPES_VERSION)
            for start in range(0, len(record_ids), self.batch_size):
                chunk = record_ids[start : start + self.batch_size]
                records = [r for r in map(self.store.get, chunk) if r is not None]
                self.store.upsert(self.enricher.validate(records))
                summary.validated += len(records)
        except Exception as exc:
            log.exception("validating the records of %s failed", self.source.id)
            summary.notes.append(f"SHACL validation stopped after {summary.validated} records: {exc}")
        summary.validation_seconds = time.perf_counter() - started

    def _listing(self, summary: RunSummary) -> Listing:
        """The listing this run works on: the source's interrupted one when there is one to continue
        (a full run continues only a full listing), else a new one, incremental from the watermark
        unless the run is full or the source was never listed completely."""
        assert summary.run_id is not None
        open_listing = self.ledger.listing(self.source.id)
        if open_listing is not None and self.restart:
            summary.notes.append(
                f"the {open_listing.kind} listing run #{open_listing.run_id} left open was dropped (restart):"
                " listing anew"
            )
        elif open_listing is not None and (open_listing.kind == "full" or not self.full):
            summary.kind = open_listing.kind
            summary.resumed_from = open_listing.run_id
            return open_listing
        since = None if self.full else self.ledger.watermark(self.source.id)
        kind = "full" if since is None else "incremental"
        summary.kind = kind
        self.ledger.begin_listing(self.source.id, summary.run_id, kind, since, utc_now())
        listing = self.ledger.listing(self.source.id)
        assert listing is not None
        return listing

    def _delete_unseen(self, summary: RunSummary, unsettled: str | None) -> None:
        """After a complete full listing: delete the source's records it did not see, within the guards.
        A listing whose pages shifted under it, or that ended on an empty page with a next link
        (``unsettled``), may have missed records the source still holds: it deletes nothing, and the
        next full listing without such doubt deletes what is really gone."""
        assert summary.run_id is not None
        indexed = self.store.ids(self.source.id)
        unseen = sorted(indexed - self.ledger.seen(self.source.id))
        if not unseen:
            return
        listing = self.ledger.listing(self.source.id)
        received = listing.received if listing is not None else summary.received
        if summary.matched is not None and received < summary.matched:
            summary.notes.append(
                f"{len(unseen)} record(s) not seen but none deleted: the listing gave {received} records of "
                f"the {summary.matched} the source announced"
            )
            return
        if unsettled:
            summary.notes.append(
                f"{len(unseen)} record(s) not seen but none deleted: {unsettled}, so the listing may have "
                "missed records the source still holds; the next full harvest deletes what is gone"
            )
            return
        ratio = len(unseen) / len(indexed)
        if ratio > self.source.max_delete_ratio and not self.confirm_delete:
            summary.notes.append(
                f"{len(unseen)} of {len(indexed)} records ({ratio:.0%}) were not seen but none deleted: more "
                f"than max_delete_ratio {self.source.max_delete_ratio:.0%}; check the source, then run "
                "`terracat harvest --full --confirm-delete " + self.source.id + "` to delete them"
            )
            return
        for start in range(0, len(unseen), _DELETE_BATCH):
            chunk = unseen[start : start + _DELETE_BATCH]
            self.store.delete(chunk)
            events = [
                Event(rid, rid, "deleted", "not-listed", "no longer listed by the source") for rid in chunk
            ]
            self.ledger.save(summary.run_id, [], events, removed=chunk)
        summary.counts["deleted"] += len(unseen)

    def _state(self) -> _RunState:
        """What the run starts from. Only records still indexed can be 'unchanged' (an index rebuilt or
        lost since makes them 'added' again)."""
        indexed = self.store.ids(self.source.id)
        known = {key: k for key, k in self.ledger.known(self.source.id).items() if k.record_id in indexed}
        return _RunState(known=known, indexed=indexed)

    def _crosswalked(
        self, pages: Iterator[Page], known: dict[str, Known]
    ) -> Iterator[tuple[Page, list[Known | _Gone | formats.Rejected | None], Iterator[Outcome]]]:
        """Each page with what the ledger knows of its unchanged records and the crosswalk outcomes of
        the others. The next page is read and its crosswalk started before this one is handed over, so
        the workers crosswalk while the caller files. When the listing fails, the pages already received
        are still handed over before the error."""
        ahead = None
        try:
            for page in pages:
                unchanged = [self._unchanged(raw, known) for raw in page.records]
                changed = [raw for raw, same in zip(page.records, unchanged, strict=True) if same is None]
                current = (page, unchanged, self.crosswalker.submit(changed, self.source.pole))
                if ahead is not None:
                    yield ahead
                ahead = current
        except Exception:
            if ahead is not None:
                yield ahead
            raise
        if ahead is not None:
            yield ahead

    @staticmethod
    def _unchanged(raw: RawRecord, known: dict[str, Known]) -> Known | _Gone | formats.Rejected | None:
        """What needs no crosswalk: a record the source reports deleted, one the protocol found unreadable,
        or one whose bytes did not change since the ledger stored them (not even parsed again)."""
        if raw.rejected is not None:
            return formats.Rejected(*raw.rejected)
        previous = known.get(raw.native_id) if raw.native_id else None
        if raw.deleted:
            return _Gone(previous.record_id if previous is not None else None)
        return previous if previous is not None and previous.digest == raw.digest else None

    def _file(self, raw: RawRecord, outcome: Known | _Gone | Outcome, state: _RunState, batch: _Batch) -> str:
        """Record what became of ``raw``: deleted, rejected, a duplicate, unchanged, added or updated.

        The ledger knows a record under its protocol's id hint (a file path, an OAI identifier) when
        there is one, else under the crosswalk's identifier: the key under which the next run will look
        it up before parsing anything. Every record with an id counts as seen by the listing, even a
        rejected one: its indexed version stays and must not be deleted as unlisted."""
        batch.received += 1
        if isinstance(outcome, _Gone):
            return self._gone(raw, outcome, state, batch)
        if isinstance(outcome, formats.Rejected):
            previous = state.known.get(raw.native_id) if raw.native_id else None
            if previous is not None:
                batch.seen.append(previous.record_id)
            return batch.event(Event(None, raw.locator, "rejected", outcome.code, outcome.message))
        record_id = outcome.record_id if isinstance(outcome, Known) else outcome.id
        batch.seen.append(record_id)
        if record_id in state.seen:
            native = raw.native_id if isinstance(outcome, Known) else outcome.native_id
            message = f"identifier {native!r} was already given by {state.seen[record_id]} in this harvest"
            return batch.event(Event(record_id, raw.locator, "rejected", "duplicate-identifier", message))
        state.seen[record_id] = raw.locator
        if isinstance(outcome, Known):
            return batch.event(Event(record_id, raw.locator, "unchanged"))
        record = outcome
        key = raw.native_id or record.native_id
        previous = state.known.get(key)
        if previous is not None and previous.record_id == record.id and previous.digest == raw.digest:
            return batch.event(Event(record.id, raw.locator, "unchanged"))
        status = "updated" if record.id in state.indexed else "added"
        record, unmapped = self.enricher.enrich(record)
        batch.unmapped.extend((record.id, k.label, k.thesaurus or "") for k in unmapped)
        batch.records.append(self._stamped(record))
        batch.raws.append((record.id, key, raw))
        return batch.event(Event(record.id, raw.locator, status, None, "; ".join(record.warnings) or None))

    @staticmethod
    def _gone(raw: RawRecord, gone: _Gone, state: _RunState, batch: _Batch) -> str:
        """A record the source reports deleted: removed at once, if the catalogue holds it."""
        if gone.record_id is None or gone.record_id not in state.indexed:
            message = "deleted at the source; the catalogue did not hold it"
            return batch.event(Event(None, raw.locator, "unchanged", None, message))
        state.indexed.discard(gone.record_id)
        batch.deletions.append(gone.record_id)
        return batch.event(Event(gone.record_id, raw.locator, "deleted", "deleted-at-source", None))

    def _stamped(self, record: Record) -> Record:
        """The record with when and where it was harvested (the crosswalk knows neither)."""
        base = record.provenance or Provenance(source_id=self.source.id)
        provenance = msgspec.structs.replace(base, harvested_at=utc_now(), source_url=self.source_url)
        return msgspec.structs.replace(record, provenance=provenance)


@dataclass(slots=True)
class _Gone:
    """A record the source reports deleted, with the id the ledger knows it by (``None``: never held)."""

    record_id: str | None


@dataclass(slots=True)
class _RunState:
    known: dict[str, Known]  # ledger key -> what the last run stored, for records still indexed
    indexed: set[str]  # ids of the source's records in the index when the run started
    seen: dict[str, str] = field(default_factory=dict)  # record id -> locator that gave it, this run
    server_time: str | None = None  # the server's clock at the start of a new listing, when it tells
    unsettled: str | None = None  # why this run's pages may have skipped records (``Page.unsettled``)


@dataclass(slots=True)
class _Batch:
    """Records waiting to be indexed, with their raw bytes and the statuses of the records seen."""

    run_id: int
    records: list[Record] = field(default_factory=list)
    raws: list[tuple[str, str, RawRecord]] = field(default_factory=list)  # (record id, ledger key, raw)
    events: list[Event] = field(default_factory=list)
    deletions: list[str] = field(default_factory=list)  # ids of records the source reports deleted
    seen: list[str] = field(default_factory=list)  # ids of the records the listing gave in this batch
    received: int = 0
    checkpoint: dict[str, Any] | None = None  # the protocol's checkpoint after the last complete page
    unmapped: list[tuple[str, str, str]] = field(default_factory=list)  # (record id, keyword, thesaurus)

    def event(self, event: Event) -> str:
        self.events.append(event)
        return event.status


class _Writer:
    """Indexes batches in one background thread, one batch in flight, while the next one is prepared.

    SQLite does its work with the GIL released, so indexing overlaps parsing and crosswalking. ``write``
    and ``close`` return the status changes of the batch written before (records the index refused turn
    from added/updated into rejected) and re-raise its error, so the run sees every outcome in order.
    """

    def __init__(self, store: Store, ledger: Ledger, source_id: str):
        self.store = store
        self.ledger = ledger
        self.source_id = source_id
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"index-{source_id}")
        self._pending: Future[Counter[str]] | None = None

    def write(self, batch: _Batch) -> Counter[str]:
        """Queue ``batch``; waits for the batch before it first and returns its status changes."""
        changes = self._wait()
        if batch.events or batch.checkpoint is not None:
            # In the run's context: the writer's log lines have the run's fields too.
            self._pending = self._pool.submit(contextvars.copy_context().run, self._write, batch)
        return changes

    def close(self) -> Counter[str]:
        try:
            return self._wait()
        finally:
            self._pool.shutdown(wait=True)

    def _wait(self) -> Counter[str]:
        pending, self._pending = self._pending, None
        return pending.result() if pending is not None else Counter()

    def _write(self, batch: _Batch) -> Counter[str]:
        changes: Counter[str] = Counter()
        if batch.records:
            try:
                self.store.upsert(batch.records)
            except Exception:  # one record the index refuses must not cost the whole batch
                log.exception("indexing a batch of %s failed; indexing one by one", self.source_id)
                changes = self._upsert_one_by_one(batch)
        if batch.records:
            changes.update(self._mark_duplicates(batch))
        if batch.deletions:
            self.store.delete(batch.deletions)
        self.ledger.save(
            batch.run_id,
            batch.raws,
            batch.events,
            source_id=self.source_id,
            seen=batch.seen,
            removed=batch.deletions,
            checkpoint=batch.checkpoint,
            received=batch.received,
            unmapped=batch.unmapped,
        )
        return changes

    def _mark_duplicates(self, batch: _Batch) -> Counter[str]:
        """Added or updated records the index keeps as duplicates of another source's record (same DOI or
        resource identifier): indexed and linked, but searches serve the primary. Status ``duplicate``."""
        primaries = self.store.duplicates_of(record.id for record in batch.records)
        changes: Counter[str] = Counter()
        for event in batch.events:
            primary = primaries.get(event.record_id or "")
            if primary is not None and event.status in ("added", "updated"):
                changes[event.status] -= 1
                changes["duplicate"] += 1
                event.status, event.code = "duplicate", "same-resource"
                note = f"the same resource as {primary}, which searches serve; linked to it"
                event.message = f"{note}; {event.message}" if event.message else note
        return changes

    def _upsert_one_by_one(self, batch: _Batch) -> Counter[str]:
        """Index what can be indexed and reject the rest with the index's reason."""
        refused: dict[str, str] = {}
        for record in batch.records:
            try:
                self.store.upsert([record])
            except Exception as exc:
                refused[record.id] = f"{type(exc).__name__}: {exc}"
        batch.raws[:] = [entry for entry in batch.raws if entry[0] not in refused]
        changes: Counter[str] = Counter()
        for event in batch.events:
            if event.record_id in refused and event.status in ("added", "updated"):
                changes[event.status] -= 1
                changes["rejected"] += 1
                event.status, event.code, event.message = "rejected", "index-error", refused[event.record_id]
        return changes
