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
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from catalogue.store import Store
from harvester.ledger import Ledger
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


def running() -> Scheduler | None:
    """The scheduler started in this process, if one is."""
    return _running


class Scheduler:
    """Harvests ``sources`` (those enabled and with a ``schedule``) into ``store`` on their crons, with
    the same options as ``terracat harvest`` (``parallel``: runs of different sources at a time)."""

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
    ):
        self.sources = [s for s in sources if s.enabled and s.schedule]
        self.store = store
        self.ledger = ledger
        self.thesaurus = thesaurus
        self.batch_size = batch_size
        self.workers = workers
        self._stop = threading.Event()  # stops the runs under way at their next page boundary
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max(1, min(parallel, len(self.sources))))},
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
            timezone=UTC,
        )

    def start(self) -> None:
        global _running
        now = datetime.now(UTC)
        for source in self.sources:
            assert source.schedule is not None
            trigger = cron_trigger(source.schedule)
            when: dict[str, Any] = {}
            if self._missed(source, trigger, now):
                log.info("%s: a scheduled run was missed since the last one; harvesting now", source.id)
                when["next_run_time"] = now
            self._scheduler.add_job(
                self._run, trigger, args=(source,), id=source.id, name=f"harvest {source.id}", **when
            )
        self._scheduler.start()
        _running = self
        log.info("scheduler started: %s", ", ".join(f"{s.id} ({s.schedule})" for s in self.sources))

    def stop(self) -> None:
        """Stop firing, stop the runs under way at their next page boundary and wait for them."""
        global _running
        self._stop.set()
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

    def _missed(self, source: Source, trigger: CronTrigger, now: datetime) -> bool:
        """Whether the cron fired since the source's last run began. The ledger keeps whole seconds,
        so a second is added: the fire that started that run is not a missed one."""
        runs = self.ledger.runs(source.id, limit=1)
        if not runs:
            return False
        last = datetime.strptime(runs[0].started, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        due = trigger.get_next_fire_time(None, last + timedelta(seconds=1))
        return due is not None and due <= now

    def _run(self, source: Source) -> None:
        if self._stop.is_set():
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
        if summary.run_id is None:  # another process harvests the source
            log.warning("%s: scheduled run skipped: %s", source.id, summary.error)
        elif summary.status == "succeeded":
            log.info("%s", summary.line())
        else:
            log.warning("%s", summary.line())
