"""Crosswalks, and SHACL validations, in worker processes.

Parsing and crosswalking a record is pure Python CPU work (about 1 ms for an ISO 19139 record), so a
harvest in one process is capped at one core however fast the source is. ``Crosswalker`` runs the
crosswalk of a page's records in a pool of worker processes and hands the outcomes back in the order of
the records, so the run's bookkeeping (statuses, duplicate identifiers) stays sequential and simple.

With ``workers=0`` the crosswalk runs in the calling process, on the protocol's already-parsed element
(no second parse): the right choice on one core, and for debugging.

``Crosswalker.enriched`` also enriches the crosswalked records in the workers (thesaurus concepts and
themes, FAIR rating: ``enriched``), for ``terracat reindex``, whose own process would otherwise spend
twice the workers' time on them. The thesaurus goes to the workers once, as a file of its compiled
vocabularies (``shipped``) that each worker decodes on its first task (0.4 s) and keeps.

``validate`` runs the SHACL validation of records (``catalogue.validation``, ~9 ms a record of pure
Python) in the same pool, a batch of records per task.

Workers are forked from a ``forkserver`` (never from the harvesting process itself, which runs threads:
the CSW prefetcher, the index writer, a web server) and the pool is shared by every run in the process.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import tempfile
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import msgspec

from catalogue import quality, validation
from catalogue.record import Keyword, Record, ValidationReport, from_json, to_json
from harvester import formats, protocols
from harvester.raw import RawRecord
from harvester.source import Source
from thesaurus import Thesaurus
from thesaurus.skos import Vocabulary

log = logging.getLogger(__name__)

Outcome = Record | formats.Rejected  # what the crosswalk made of one raw record


class Enriched(NamedTuple):
    """A crosswalked record enriched (``enriched``), with its keywords no concept matched."""

    record: Record
    unmapped: list[Keyword]


# (source id, format, content, native id, datestamp, locator, pole, enrichment): what a worker needs,
# picklable. The enrichment is ``None`` for none, else the path of a shipped thesaurus ('' for none).
_Job = tuple[str, str, bytes, str | None, str | None, str, str | None, str | None]


def default_workers(source: Source) -> int:
    """Workers pay off when records arrive faster than one core crosswalks them (~1 000 records/s):
    from a folder, yes (``local_workers``). Over the network, no: a pole's catalogue serves far slower
    than that, and a worker costs a second parse and the trip between processes, CPU better left to
    other runs (measured on a local pycsw: harvest/download 1.3x in-process, 1.3-1.6x with 2 workers)."""
    if source.protocol in protocols.NETWORK_PROTOCOLS:
        return 0
    return local_workers()


def local_workers() -> int:
    """For records read from disk (a folder, the ledger in a reindex): one worker per core, at most 4
    (beyond that the index writer is the bottleneck); none on one core."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(cores, 4) if cores > 1 else 0


def crosswalk(raw: RawRecord, pole: str | None) -> Outcome:
    """The record for ``raw``, or why there is none. A crosswalk bug on one record is a rejection of
    that record ("crosswalk-error"), never the end of the harvest."""
    try:
        return formats.get(raw.format).to_record(raw, pole=pole)
    except formats.Rejected as exc:
        return exc
    except Exception as exc:
        log.exception("crosswalk %s failed on %s", raw.format, raw.locator)
        return formats.Rejected("crosswalk-error", f"{type(exc).__name__}: {exc}")


def enriched(record: Record, thesaurus: Thesaurus | None) -> Enriched:
    """The record with its concepts and themes, then its FAIR rating (``catalogue.quality.rate``), and
    its keywords no concept matched: ``Enricher.enrich``, here so that a worker runs the same code."""
    unmapped: list[Keyword] = []
    if thesaurus is not None:
        record, unmapped = thesaurus.enrich(record)
    return Enriched(quality.rate(record), unmapped)


@dataclass(frozen=True, slots=True)
class Shipment:
    """A thesaurus as the workers get it: ``path`` names the file of its vocabularies ('' for none)."""

    thesaurus: Thesaurus | None
    path: str


@contextmanager
def shipped(thesaurus: Thesaurus | None) -> Iterator[Shipment]:
    """The thesaurus written for the workers (its compiled vocabularies, msgpack, 4 MB for the shipped
    ones) to a temporary file, removed on exit. Sending it with each task instead would cost more than
    the enrichment saves."""
    if thesaurus is None:
        yield Shipment(None, "")
        return
    with tempfile.NamedTemporaryFile(prefix="terracat-thesaurus-", suffix=".msgpack") as file:
        file.write(msgspec.msgpack.encode(thesaurus.vocabularies))
        file.flush()
        yield Shipment(thesaurus, file.name)


_worker_thesaurus: tuple[str, Thesaurus | None] = ("", None)  # in a worker: the last shipment decoded


def _shipped_thesaurus(path: str) -> Thesaurus | None:
    """Runs in a worker: the shipped thesaurus, decoded on first use (the one before it is dropped)."""
    global _worker_thesaurus
    if not path:
        return None
    if _worker_thesaurus[0] != path:
        _worker_thesaurus = ("", None)  # the previous one freed before the next is built
        vocabularies = msgspec.msgpack.decode(Path(path).read_bytes(), type=list[Vocabulary])
        _worker_thesaurus = (path, Thesaurus(vocabularies))
    return _worker_thesaurus[1]


_Result = tuple[str, bytes | str, bytes | str]  # (kind, payload, unmapped keywords or message)


def _work(job: _Job) -> _Result:
    """Runs in a worker: the outcome encoded for the trip back (records and keywords as msgspec JSON)."""
    source_id, format_, content, native_id, datestamp, locator, pole, enrichment = job
    raw = RawRecord(source_id, format_, content, native_id=native_id, datestamp=datestamp, locator=locator)
    outcome = crosswalk(raw, pole)
    if isinstance(outcome, formats.Rejected):
        return ("rejected", outcome.code, outcome.message)
    if enrichment is None:
        return ("record", to_json(outcome), "")
    record, unmapped = enriched(outcome, _shipped_thesaurus(enrichment))
    return ("enriched", to_json(record), msgspec.json.encode(unmapped))


class Crosswalker:
    def __init__(self, workers: int):
        self.workers = workers

    def submit(self, raws: Sequence[RawRecord], pole: str | None) -> Iterator[Outcome]:
        """The outcome for each raw record, in order. With workers, the work starts now and the iterator
        waits for each result; in-process, each crosswalk runs when its outcome is read."""
        outcomes = self._submit(raws, pole, None)
        return (o.record if isinstance(o, Enriched) else o for o in outcomes)

    def enriched(
        self, raws: Sequence[RawRecord], pole: str | None, shipment: Shipment
    ) -> Iterator[Enriched | Outcome]:
        """As ``submit``, the records crosswalked in the workers being enriched there too (``enriched``,
        with the shipped thesaurus). In this process (no workers, or they failed) the records come back
        as crosswalked, to be enriched by the caller: only those it keeps need it."""
        return self._submit(raws, pole, shipment)

    def _submit(
        self, raws: Sequence[RawRecord], pole: str | None, shipment: Shipment | None
    ) -> Iterator[Enriched | Outcome]:
        if self.workers <= 0 or len(raws) < 2:
            return (crosswalk(raw, pole) for raw in raws)
        enrichment = None if shipment is None else shipment.path
        jobs = [
            (r.source_id, r.format, r.content, r.native_id, r.datestamp, r.locator, pole, enrichment)
            for r in raws
        ]
        chunk = max(1, len(jobs) // (self.workers * 2))
        try:
            results = _pool(self.workers).map(_work, jobs, chunksize=chunk)
        except BrokenProcessPool as exc:
            return self._in_process(raws, pole, exc)
        return self._outcomes(raws, pole, results)

    def _outcomes(
        self, raws: Sequence[RawRecord], pole: str | None, results: Iterator[_Result]
    ) -> Iterator[Enriched | Outcome]:
        for index in range(len(raws)):
            try:
                result = next(results)
            except BrokenProcessPool as exc:
                yield from self._in_process(raws[index:], pole, exc)
                return
            yield _decode(result)

    def _in_process(self, raws: Sequence[RawRecord], pole: str | None, exc: Exception) -> Iterator[Outcome]:
        """Workers that die (killed, out of memory, an unguarded ``__main__``) slow a harvest down; they
        never fail it: the remaining records are crosswalked here."""
        log.warning("crosswalk workers failed (%s); crosswalking in the harvest process from now on", exc)
        _discard(self.workers)
        self.workers = 0
        return (crosswalk(raw, pole) for raw in raws)


_VALIDATION_CHUNK = 100  # records per validation task: pyshacl's per-run cost amortised, work spread


def validate(records: Sequence[Record], workers: int) -> list[ValidationReport]:
    """The SHACL validation report of each record, in order; with ``workers``, in the worker processes
    (in this process if they fail)."""
    chunks = [records[i : i + _VALIDATION_CHUNK] for i in range(0, len(records), _VALIDATION_CHUNK)]
    if workers <= 0 or len(chunks) < 2:
        return validation.validate(records)
    try:
        results = list(_pool(workers).map(_validate_work, [[to_json(r) for r in chunk] for chunk in chunks]))
    except BrokenProcessPool as exc:
        log.warning("validation workers failed (%s); validating in this process", exc)
        _discard(workers)
        return validation.validate(records)
    return [report for result in results for report in _REPORTS.decode(result)]


_REPORTS = msgspec.json.Decoder(list[ValidationReport])


def _validate_work(payloads: list[bytes]) -> bytes:
    """Runs in a worker: the reports of a chunk of records, encoded for the trip back."""
    return msgspec.json.encode(validation.validate([from_json(p) for p in payloads]))


_KEYWORDS = msgspec.json.Decoder(list[Keyword])


def _decode(result: _Result) -> Enriched | Outcome:
    kind, payload, extra = result
    if kind == "record":
        assert isinstance(payload, bytes)
        return from_json(payload)
    if kind == "enriched":
        assert isinstance(payload, bytes) and isinstance(extra, bytes)
        return Enriched(from_json(payload), _KEYWORDS.decode(extra))
    assert isinstance(payload, str) and isinstance(extra, str)
    return formats.Rejected(payload, extra)


_pools: dict[int, ProcessPoolExecutor] = {}
_pools_lock = threading.Lock()


def _pool(workers: int) -> ProcessPoolExecutor:
    """The process-wide pool of ``workers`` processes, started on first use."""
    with _pools_lock:
        if workers not in _pools:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["harvester.formats.iso19139", "catalogue.record", "thesaurus"])
            _pools[workers] = ProcessPoolExecutor(
                max_workers=workers, mp_context=context, initializer=_yield_to_the_writer
            )
        return _pools[workers]


_NICENESS = 5  # what a worker adds to its scheduling niceness (``_yield_to_the_writer``)


def _yield_to_the_writer() -> None:
    """Runs in each worker as it starts: lower its scheduling priority. The process that hands the work
    out also writes the index, the one part that cannot be spread, while the workers are usually ahead
    (they wait for it at a reindex's end); on cores they share, the kernel then serves it first (a
    reindex of 10^6 records on 2 cores: the writing process was getting 70-85 % of a core)."""
    os.nice(_NICENESS)


def _discard(workers: int) -> None:
    with _pools_lock:
        pool = _pools.pop(workers, None)
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


@atexit.register
def shutdown() -> None:
    """Stop the pools' processes: at exit, and before this process forks others that must not inherit
    them (``terracat demo`` serving with several workers after its harvest). A later job starts a pool
    anew."""
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.shutdown(wait=True, cancel_futures=True)
