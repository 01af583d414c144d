"""The harvest scheduler: each enabled source with a ``schedule`` is harvested on its cron.

``terracat serve`` runs it beside the server, ``terracat scheduler`` on its own (deployments that keep
the API and the harvests apart). APScheduler 3 fires the jobs; a job is a ``HarvestRun``, exactly as
``terracat harvest`` makes it.

- Schedules are cron expressions in UTC: 5 fields (minute hour day month weekday), or 6 with seconds
  first (``*/2 * * * * *``: every 2 seconds, for tests). Weekdays are written as names (``mon-fri``):
  cron numbers Sunday 0, APScheduler Monday 0, so a number would be read a day off.
- Runs of one source never overlap: a fire while the source's last run still goes on is skipped and
  logged, never queued (``max_instances=1``), and the source's lock file (``harvester.run.source_lock``)
  skips a fire while another process (``terracat harvest``) harvests the source.
- Missed fires coalesce into one run. Jobs are kept in memory, not in a database job store: what has to
  survive a restart is when each source last ran, and the ledger knows that. At start, a source whose
  cron fired since its last run began (the scheduler was down then) is harvested at once, once; the
  others wait for their next fire time. A source never harvested waits for its first fire time.
- A run longer than the source's ``max_duration`` stops at a page boundary (``timed-out``); stopping the
  scheduler stops the runs under way the same way (``stopped``). The next run continues their listings.
- Given its ``config`` (``api.settings.ConfigSources``), it follows changes to the sources while it
  runs: it polls the modification times of the config's files (the config, the source files it
  includes, the admin API's overrides file) every ``reload_interval`` seconds, a few stat calls, and when
  one changed it reads the config again and reconciles its jobs: a job for each new or enabled source, none
  for a deleted or disabled one, a changed cron rescheduled, and the next run of a changed source uses its
  new definition. A run under way is never interrupted: it ends with the definition it started with. A
  config that no longer reads (a typo in a hand edit) changes nothing: the jobs stay as they were and the
  error (file, line, what is wrong) is logged and kept in ``config_error`` for ``/health`` until a
  change to the files reads again. Only the sources are followed: other settings take a restart.
- Given a ``partition`` (``harvester.partition``), it harvests only the sources it holds, and keeps
  applying it at each reload: a source added or changed into the partition is scheduled, one outside it
  is not (logged once). Several schedulers with disjoint partitions share the sources of one config,
  index and ledger; should two schedule the same source, the source's lock lets one run at a time and
  the other's fire is skipped and logged, as for a ``terracat harvest`` under way.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from catalogue.store import Store
from harvester.ledger import Ledger
from harvester.partition import Partition
from harvester.run import HarvestRun
from harvester.source import Source

if TYPE_CHECKING:
    from thesaurus import Thesaurus

log = logging.getLogger(__name__)

_running: Scheduler | None = None  # the scheduler started in this process, for /health


def cron_trigger(expression: str) -> CronTrigger:
    """The trigger of a ``schedule``; ``ValueError`` saying what is wrong (the config names the line)."""
    fields = expression.split()
    if len(fields) not in (5, 6):
        raise ValueError(
            f"schedule: {expression!r} must have 5 fields (minute hour day month weekday) or 6 with the "
            "seconds first"
        )
    if any(c.isdigit() for c in fields[-1]):
        raise ValueError(
            f"schedule: write the weekday of {expression!r} as a name (mon, tue, ... sun; mon-fri): "
            "cron and the scheduler number weekdays differently"
        )
    try:
        if len(fields) == 5:
            return CronTrigger.from_crontab(expression, timezone=UTC)
        second, minute, hour, day, month, weekday = fields
        return CronTrigger(
            second=second, minute=minute, hour=hour, day=day, month=month, day_of_week=weekday, timezone=UTC
        )
    except ValueError as exc:
        raise ValueError(f"schedule: {expression!r} is not a valid cron expression: {exc}") from None


class SourceConfig(Protocol):
    """Where the scheduled sources are defined, read again when one of its files changes."""

    def files(self) -> Iterable[Path]:
        """The files the sources are read from, as they are now (a file may not exist yet)."""
        ...

    def sources(self) -> Iterable[Source]:
        """The sources read and validated again; an exception whose message says where it is wrong."""
        ...


_FileState = tuple[tuple[str, tuple[int, int, int] | None], ...]


def _file_state(files: Iterable[Path]) -> _FileState:
    """What tells that a file changed: its inode (an atomic write renames a new file over it), size and
    modification time, or ``None`` while it does not exist."""
    state = []
    for file in files:
        try:
            stat = os.stat(file)
        except OSError:
            state.append((str(file), None))
        else:
            state.append((str(file), (stat.st_ino, stat.st_size, stat.st_mtime_ns)))
    return tuple(state)


def running() -> Scheduler | None:
    """The scheduler started in this process, if one is."""
    return _running


class Scheduler:
    """Harvests ``sources`` (those enabled, with a ``schedule`` and in ``partition``) into ``store`` on
    their crons, with the same options as ``terracat harvest`` (``parallel``: runs of different sources at
    a time); follows ``config`` while it runs, when given (checked every ``reload_interval`` seconds)."""

    def __init__(
        self,
        sources: Iterable[Source],
        store: Store,
        ledger: Ledger,
        *,
        thesaurus: Thesaurus | None = None,
        batch_size: int = 500,
        workers: int | None = None,
        parallel: int = 4,
        config: SourceConfig | None = None,
        reload_interval: float = 5.0,
        partition: Partition | None = None,
    ):
        self.partition = partition if partition is not None else Partition()
        # The definition each job's next run takes: replaced as a whole by a reload, read once per run.
        # ``_elsewhere``: the scheduled sources outside the partition (other processes harvest them).
        self._sources, self._elsewhere = self._scheduled(sources)
        self.store = store
        self.ledger = ledger
        self.thesaurus = thesaurus
        self.batch_size = batch_size
        self.workers = workers
        self.config = config
        self.reload_interval = reload_interval
        self.config_error: str | None = None  # why the config last failed to read again, until it reads
        self._files = _file_state(config.files()) if config is not None else ()
        self._stop = threading.Event()  # stops the runs under way at their next page boundary
        self._watcher: threading.Thread | None = None
        self._reloading = threading.Lock()
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max(1, parallel))},
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
            timezone=UTC,
        )

    @property
    def sources(self) -> list[Source]:
        """The sources it harvests on their crons now."""
        return list(self._sources.values())

    def describe(self) -> str:
        """What it harvests, for its start-up line: ``3 of 9 sources (poles: AERIS)`` (of the sources
        scheduled in the config), or ``9 sources`` without a partition."""
        mine = len(self._sources)
        if self.partition.everything:
            return f"{mine} sources"
        return f"{mine} of {mine + len(self._elsewhere)} sources ({self.partition})"

    def start(self) -> None:
        global _running
        now = datetime.now(UTC)
        for source in self._sources.values():
            assert source.schedule is not None
            trigger = cron_trigger(source.schedule)
            when: dict[str, Any] = {}
            if self._missed(source, trigger, now):
                log.info(
                    "%s: a scheduled run was missed since the last one; harvesting now",
                    source.id,
                    extra={"source": source.id},
                )
                when["next_run_time"] = now
            self._add(source, trigger, **when)
        self._scheduler.start()
        _running = self
        if self.config is not None:
            self._watcher = threading.Thread(target=self._watch, name="scheduler-config", daemon=True)
            self._watcher.start()
        log.info(
            "scheduler started, %s: %s",
            self.describe(),
            ", ".join(f"{s.id} ({s.schedule})" for s in self.sources),
        )

    def stop(self) -> None:
        """Stop firing, stop the runs under way at their next page boundary and wait for them."""
        global _running
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        if _running is self:
            _running = None

    @property
    def alive(self) -> bool:
        """Whether it fires jobs: started, not stopped, and its thread runs."""
        thread = getattr(self._scheduler, "_thread", None)  # BackgroundScheduler's own thread
        return self._scheduler.running and thread is not None and thread.is_alive()

    def next_fire(self, source_id: str) -> datetime | None:
        job = self._scheduler.get_job(source_id)
        return job.next_run_time if job is not None else None

    def reload(self) -> bool:
        """Read the config again if one of its files changed since it was last read, and reconcile the
        jobs with it; whether it was read (a config that does not read leaves the jobs as they were)."""
        assert self.config is not None
        with self._reloading:
            # Taken before reading: a change made while it reads is seen at the next check.
            files = _file_state(self.config.files())
            if files == self._files:
                return False
            self._files = files  # a config that does not read is not read again until it changes
            try:
                sources = self.config.sources()
            except Exception as exc:  # whatever a hand edit breaks, the scheduler goes on with what it has
                self.config_error = str(exc)
                log.error("the config does not read: the scheduled jobs are kept as they were: %s", exc)
                return False
            if self.config_error is not None:
                log.info("the config reads again")
            self.config_error = None
            self.reconcile(sources)
            return True

    def reconcile(self, sources: Iterable[Source]) -> None:
        """Make the jobs those of ``sources``: the runs under way go on with the definition they began
        with; the next runs take the new one. Only the sources in the partition have jobs."""
        wanted, elsewhere = self._scheduled(sources)
        for source_id in self._sources.keys() - wanted.keys():
            self._scheduler.remove_job(source_id)
            why = "deleted or disabled"
            if source_id in elsewhere:
                why = f"outside this scheduler's partition: {self.partition}"
            log.info("%s: no longer scheduled (%s)", source_id, why, extra={"source": source_id})
        for source_id in sorted(elsewhere - self._elsewhere - self._sources.keys()):
            log.info(
                "%s: not scheduled here: outside this scheduler's partition (%s)",
                source_id,
                self.partition,
                extra={"source": source_id},
            )
        for source_id, source in wanted.items():
            before = self._sources.get(source_id)
            assert source.schedule is not None
            if before is None:
                self._add(source, cron_trigger(source.schedule))
                log.info(
                    "%s: scheduled (%s), next run %s",
                    source_id,
                    source.schedule,
                    self.next_fire(source_id),
                    extra={"source": source_id},
                )
            elif source.schedule != before.schedule:
                self._scheduler.reschedule_job(source_id, trigger=cron_trigger(source.schedule))
                log.info(
                    "%s: rescheduled (%s, was %s), next run %s",
                    source_id,
                    source.schedule,
                    before.schedule,
                    self.next_fire(source_id),
                    extra={"source": source_id},
                )
            elif source != before:
                log.info("%s: definition changed, for its next run", source_id, extra={"source": source_id})
        self._sources, self._elsewhere = wanted, elsewhere

    def _scheduled(self, sources: Iterable[Source]) -> tuple[dict[str, Source], set[str]]:
        """The scheduled sources (enabled, with a cron) this scheduler harvests, by id, and the ids of
        those outside its partition."""
        scheduled = [source for source in sources if source.enabled and source.schedule]
        mine = {source.id: source for source in scheduled if self.partition.holds(source)}
        return mine, {source.id for source in scheduled} - mine.keys()

    def _add(self, source: Source, trigger: CronTrigger, **when: Any) -> None:
        # The job names the source, not its definition: a run takes the one current when it begins.
        self._scheduler.add_job(
            self._run, trigger, args=(source.id,), id=source.id, name=f"harvest {source.id}", **when
        )

    def _watch(self) -> None:
        while not self._stop.wait(self.reload_interval):
            try:
                self.reload()
            except Exception:  # the watch must outlive anything a reload meets; the jobs stay
                log.exception("following the config's changes failed")

    def _missed(self, source: Source, trigger: CronTrigger, now: datetime) -> bool:
        """Whether the cron fired since the source's last run began. The ledger keeps whole seconds,
        so a second is added: the fire that started that run is not a missed one."""
        runs = self.ledger.runs(source.id, limit=1)
        if not runs:
            return False
        last = datetime.strptime(runs[0].started, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        due = trigger.get_next_fire_time(None, last + timedelta(seconds=1))
        return due is not None and due <= now

    def _run(self, source_id: str) -> None:
        source = self._sources.get(source_id)
        if self._stop.is_set() or source is None:  # stopping, or unscheduled since the fire
            return
        summary = HarvestRun(
            source,
            self.store,
            self.ledger,
            batch_size=self.batch_size,
            workers=self.workers,
            thesaurus=self.thesaurus,
            stop=self._stop,
        ).execute()
        fields = {"source": source.id, "run_id": summary.run_id}
        if summary.run_id is None:  # another process harvests the source
            log.warning("%s: scheduled run skipped: %s", source.id, summary.error, extra=fields)
        elif summary.status == "succeeded":
            log.info("%s", summary.line(), extra=fields)
        else:
            log.warning("%s", summary.line(), extra=fields)
