"""``terracat``: the command line of the catalogue.

Exit codes: 0 success; 1 a harvest failed or stopped early (max_duration, or SIGTERM / Ctrl-C: the runs
stop at their next page boundary and their summaries are printed), or a reindex failed or was refused;
2 the config or the command line is wrong (the message names the file, line and key).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

from api import migrate
from api import settings as config
from api.logs import configure_logging
from catalogue.store import Store, open_store
from harvester import parallel
from harvester.enrich import Enricher
from harvester.ledger import Ledger, RunInfo, describe, local_dir, open_ledger
from harvester.parallel import local_workers
from harvester.partition import Partition
from harvester.reindex import reindex
from harvester.run import HarvestRun, Progress, RunOverlap, RunSummary
from harvester.scheduler import Scheduler
from harvester.source import POLES, Source
from thesaurus import Thesaurus

DEMO_CONFIG = Path(__file__).resolve().parent.parent / "config" / "demo" / "terracat.yaml"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging(logging.INFO if args.verbose else logging.WARNING)
    try:
        return int(args.command(args))
    except config.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except config.UnknownSource as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="terracat", description="Data Terra federated metadata catalogue")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the harvest does")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, func, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(command=func)
        return sub

    default_config = os.environ.get("TERRACAT_CONFIG", config.DEFAULT_CONFIG)
    sub = command(
        "check-config", _check_config, "validate a config file (exit 0, or 2 with file:line: reason)"
    )
    sub.add_argument("file", nargs="?", default=default_config)

    sub = command("harvest", _harvest, "harvest the configured sources (all enabled ones when none is named)")
    sub.add_argument("--config", default=default_config)
    sub.add_argument("sources", nargs="*", metavar="SOURCE_ID")
    sub.add_argument(
        "--full",
        action="store_true",
        help="list every record, not only what changed since the last complete listing; records no longer "
        "listed are then deleted (within each source's max_delete_ratio)",
    )
    sub.add_argument(
        "--confirm-delete",
        action="store_true",
        help="with --full: delete unlisted records even beyond max_delete_ratio (after checking the source)",
    )
    sub.add_argument(
        "--restart",
        action="store_true",
        help="drop the listing an interrupted or failed run left open (by default the next run continues it"
        " from its checkpoint) and list anew",
    )

    sub = command(
        "reindex",
        _reindex,
        "re-normalise every record from the raw records the ledger keeps (current crosswalks and thesauri, "
        "no network) and replace the index with them at once",
    )
    sub.add_argument("--config", default=default_config)

    sub = command("serve", _serve, "serve the catalogue as OGC API - Records")
    sub.add_argument("--config", default=default_config)
    _server_options(sub, workers=server_workers(), default="one per core, at most 4")
    sub.add_argument(
        "--no-scheduler",
        dest="scheduler",
        action="store_false",
        help="do not harvest the sources on their schedules here (run `terracat scheduler` elsewhere)",
    )
    _partition_options(sub, "its scheduler harvests")

    sub = command(
        "scheduler",
        _scheduler,
        "harvest the enabled sources (or a partition of them: --pole, --sources) on their schedules, in the "
        "foreground, until Ctrl-C or SIGTERM",
    )
    sub.add_argument("--config", default=default_config)
    _partition_options(sub, "harvest")
    sub.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)  # stop when this process is gone

    sub = command("demo", _demo, "harvest the bundled demo sources, then serve the catalogue")
    sub.add_argument("--config", default=str(DEMO_CONFIG))
    _server_options(sub, workers=1, default="1")

    sub = command("sources", _sources, "list the configured sources with their indexed record counts")
    sub.add_argument("--config", default=default_config)

    sub = command(
        "unmapped", _unmapped, "keywords no thesaurus concept matched, most frequent first, per source"
    )
    sub.add_argument("--config", default=default_config)
    sub.add_argument("source", nargs="?", metavar="SOURCE_ID")
    sub.add_argument("--limit", type=int, default=50)

    sub = command("runs", _runs, "show the latest harvest runs")
    sub.add_argument("--config", default=default_config)
    sub.add_argument("source", nargs="?", metavar="SOURCE_ID")
    sub.add_argument("--limit", type=int, default=10)

    sub = command(
        "migrate",
        _migrate,
        "copy the catalogue (index and harvest ledger) into another backend, check the counts, and print"
        " the config to switch to it",
    )
    sub.add_argument("--config", default=default_config)
    migrate.add_arguments(sub)

    sub = command("run-show", _run_show, "show a harvest run and the status of each of its records")
    sub.add_argument("--config", default=default_config)
    sub.add_argument("run_id", type=int, metavar="RUN_ID")
    sub.add_argument("--status", help="only the records with this status (rejected, added, deleted...)")
    sub.add_argument("--limit", type=int, default=50, help="records shown (default: 50)")
    sub.add_argument("--offset", type=int, default=0, help="records skipped first (default: 0)")
    return parser


def _server_options(sub: argparse.ArgumentParser, *, workers: int, default: str) -> None:
    sub.add_argument("--host", help="address to listen on (default: server.host in the config)")
    sub.add_argument("--port", type=int, help="port to listen on (default: server.port in the config)")
    sub.add_argument(
        "--workers",
        type=_positive,
        default=workers,
        help=f"server processes answering on the port (default: {default}; 1: a single process)",
    )


def _partition_options(sub: argparse.ArgumentParser, harvests: str) -> None:
    """``--pole`` and ``--sources``: the partition of the sources a scheduler harvests."""
    sub.add_argument(
        "--pole",
        dest="poles",
        action="append",
        default=[],
        type=_poles,
        metavar="POLE[,POLE...]",
        help=f"{harvests} only the sources of these poles (with --sources: those too); repeatable; replaces "
        "harvest.partition of the config. Several schedulers with disjoint partitions share one store",
    )
    sub.add_argument(
        "--sources",
        dest="partition_sources",
        action="append",
        default=[],
        type=_ids,
        metavar="ID[,ID...]",
        help=f"{harvests} only these sources (with --pole: those of the poles too); repeatable",
    )


def server_workers() -> int:
    """Server processes by default: one per core, at most 4. A search is CPU-bound Python, so a
    process per core is what uses the machine; each process holds its own copy of the index's column
    snapshot (~70 MB per 100 000 records), hence the cap."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cores, 4))


def _ids(text: str) -> list[str]:
    """``a,b`` -> ``[a, b]``: options that name several values take them comma-separated or repeated."""
    ids = [part.strip() for part in text.split(",") if part.strip()]
    if not ids:
        raise argparse.ArgumentTypeError(f"no value in {text!r}")
    return ids


def _poles(text: str) -> list[str]:
    try:
        return Partition(poles=_ids(text)).poles
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("poles: ")) from None


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _migrate(args: argparse.Namespace) -> int:
    return migrate.run(args)


def _check_config(args: argparse.Namespace) -> int:
    settings = config.load(args.file)
    print(
        f"{args.file}: OK ({len(settings.sources)} sources, store {settings.store.get('backend', 'sqlite')})"
    )
    for pole in POLES:
        sources = [s.id + ("" if s.enabled else " (disabled)") for s in settings.sources if s.pole == pole]
        if sources:
            print(f"  {pole}: {len(sources)} ({', '.join(sources)})")
    if not settings.harvest.partition.everything:
        print(f"  scheduler partition: {settings.harvest.partition}")
    return 0


def _harvest(args: argparse.Namespace) -> int:
    settings = config.load(args.config)
    sources = (
        [settings.source(s) for s in args.sources]
        if args.sources
        else [s for s in settings.sources if s.enabled]
    )
    if args.confirm_delete and not args.full:
        print("error: --confirm-delete goes with --full (only a full listing deletes)", file=sys.stderr)
        return 2
    with _stopped_by_signals() as stop:
        summaries = harvest(
            settings,
            sources,
            full=args.full,
            confirm_delete=args.confirm_delete,
            stop=stop,
            restart=args.restart,
        )
    return 0 if all(s.status == "succeeded" for s in summaries) else 1


@contextmanager
def _stopped_by_signals() -> Iterator[threading.Event]:
    """An event the first SIGTERM or SIGINT (Ctrl-C) sets: the runs stop at their next page boundary and
    the command ends as it does otherwise, summaries printed, so an operator sees what was done. A second
    signal ends the process at once, as a kill would (the next run continues the listing)."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():  # only the main thread takes signals
        yield stop
        return

    def handle(signum: int, frame: object) -> None:
        if stop.is_set():
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
            return
        stop.set()
        name = signal.Signals(signum).name
        print(
            f"terracat: {name}: stopping the harvests at their next page boundary (again to quit at once)",
            file=sys.stderr,
            flush=True,
        )

    previous = {signum: signal.signal(signum, handle) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def harvest(
    settings: config.Settings,
    sources: list[Source],
    *,
    full: bool = False,
    confirm_delete: bool = False,
    stop: threading.Event | None = None,
    restart: bool = False,
) -> list[RunSummary]:
    """Harvest sources, ``settings.harvest.parallel`` at a time, printing one summary line per source as
    it ends. Progress bars are drawn when a single source is harvested on a terminal. Once ``stop`` is
    set, the runs under way stop at their next page boundary (status ``stopped``) and the sources still
    waiting are not begun (a line says so). ``restart``: each drops the listing its source left open."""
    printing = threading.Lock()
    options = settings.harvest
    stop = stop if stop is not None else threading.Event()

    def run(source: Source, store: Store, ledger: Ledger) -> RunSummary:
        if stop.is_set():
            with printing:
                print(f"{source.id}: not harvested: stopped before its run began", flush=True)
            return RunSummary(source.id, None, "stopped", False, None, error="stopped before its run began")

        def execute(progress: Progress | None) -> RunSummary:
            return HarvestRun(
                source,
                store,
                ledger,
                batch_size=options.batch_size,
                workers=options.workers,
                progress=progress,
                full=full,
                confirm_delete=confirm_delete,
                thesaurus=thesaurus,
                stop=stop,
                restart=restart,
            ).execute()

        summary = _with_progress(source, execute) if len(sources) == 1 else execute(None)
        with printing:
            print(summary.line(), flush=True)
        return summary

    thesaurus = load_thesaurus(settings)
    with open_store(settings.store) as store:
        ledger = open_ledger(options.ledger)
        try:
            with ThreadPoolExecutor(max_workers=min(options.parallel, max(len(sources), 1))) as pool:
                return list(pool.map(lambda source: run(source, store, ledger), sources))
        finally:
            ledger.close()


def _reindex(args: argparse.Namespace) -> int:
    """Exit 1 with the reason when a harvest runs or the reindex fails (the index then stays as it was,
    unless only the unmapped report failed after it)."""
    settings = config.load(args.config)
    enricher = Enricher(load_thesaurus(settings), workers=local_workers())
    sources = {source.id: source for source in settings.sources}
    with open_store(settings.store) as store:
        ledger = open_ledger(settings.harvest.ledger)
        try:
            summary = reindex(store, ledger, enricher, sources, workers=settings.harvest.workers)
        except RunOverlap as exc:
            print(f"error: reindex refused: {exc}; run it when the harvest has finished", file=sys.stderr)
            return 1
        except Exception as exc:
            logging.getLogger(__name__).debug("reindex failed", exc_info=True)
            print(f"error: reindex failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        finally:
            ledger.close()
    for line in summary.lines():
        print(line)
    return 0


def load_thesaurus(settings: config.Settings) -> Thesaurus | None:
    """The configured vocabularies, read once per process (their compiled index is cached beside the
    ledger, so only a changed file is parsed again)."""
    if not settings.thesauri:
        return None
    return Thesaurus.load(settings.thesauri, cache_dir=local_dir(settings.harvest.ledger) / "thesauri")


def _with_progress(source: Source, run: Callable[[Progress | None], RunSummary]) -> RunSummary:
    """``run(progress)`` with a progress bar on a terminal."""
    if not sys.stderr.isatty():
        return run(None)
    from tqdm import tqdm

    with tqdm(desc=source.id, unit=" records", file=sys.stderr, leave=False) as bar:

        def progress(received: int, matched: int | None) -> None:
            bar.total = matched
            bar.update(received - bar.n)

        return run(progress)


def _serve(args: argparse.Namespace) -> int:
    """The server, and the scheduler (unless ``--no-scheduler``): in this process with one server
    process; with several, in a process of its own (``terracat scheduler``), so that it runs once, not
    once per server process, and gunicorn never forks server processes from one running harvests. A
    scheduler that cannot start (an unreadable index) does not keep the server from answering."""
    settings = config.load(args.config)
    # Even with no source scheduled yet: one the admin API schedules is harvested without a restart.
    scheduled = args.scheduler
    if not scheduled and (args.poles or args.partition_sources):
        print(
            "error: --pole and --sources choose what the scheduler harvests: not with --no-scheduler",
            file=sys.stderr,
        )
        return 2
    partition = _partition(args, settings)
    if scheduled and args.workers > 1:
        command = [sys.executable, "-m", "api.cli", *(["-v"] if args.verbose else [])]
        command += ["scheduler", "--config", args.config, "--parent-pid", str(os.getpid())]
        command += [f"--pole={','.join(poles)}" for poles in args.poles]
        command += [f"--sources={','.join(ids)}" for ids in args.partition_sources]
        process = subprocess.Popen(command)
        try:
            _start_server(settings, args)
        finally:
            process.terminate()  # it stops its harvests at a page boundary
            process.wait()
    elif scheduled:
        with ExitStack() as scheduler:
            try:
                scheduler.enter_context(running_scheduler(settings, args.config, partition))
            except Exception:  # an unreadable index or ledger: /health says so; searches go on meanwhile
                logging.getLogger(__name__).exception("the scheduler cannot start: no scheduled harvest here")
            _start_server(settings, args)
    else:
        _start_server(settings, args)
    return 0


@contextmanager
def running_scheduler(
    settings: config.Settings, path: str | Path | None = None, partition: Partition | None = None
) -> Iterator[Scheduler]:
    """The scheduler of the config's sources, started, harvesting as ``terracat harvest`` does; stopped
    (its runs stopped at a page boundary) on leaving. Given the config's ``path``, it follows the changes
    made to its sources (by the admin API or by hand) while it runs. It harvests the sources of
    ``partition``, by default the config's ``harvest.partition`` (all sources when it names none)."""
    options = settings.harvest
    thesaurus = load_thesaurus(settings)
    with open_store(settings.store) as store:
        ledger = open_ledger(options.ledger)
        scheduler = Scheduler(
            settings.sources,
            store,
            ledger,
            thesaurus=thesaurus,
            batch_size=options.batch_size,
            workers=options.workers,
            parallel=options.parallel,
            config=config.ConfigSources(path, settings) if path is not None else None,
            reload_interval=options.reload_interval,
            partition=partition if partition is not None else options.partition,
        )
        try:
            scheduler.start()
            yield scheduler
        finally:
            scheduler.stop()
            ledger.close()


def _scheduler(args: argparse.Namespace) -> int:
    settings = config.load(args.config)
    partition = _partition(args, settings)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    # Even with no source scheduled yet: it follows the config, and harvests those scheduled later.
    with running_scheduler(settings, args.config, partition) as scheduler:
        for source in scheduler.sources:
            print(f"terracat: {source.id} ({source.schedule}) next {scheduler.next_fire(source.id)}")
        print(f"terracat: scheduler running {scheduler.describe()}, following {args.config}", flush=True)
        # The parent's id changes when ``serve`` that started this process is gone (even killed).
        while not stop.wait(1.0) and (args.parent_pid is None or os.getppid() == args.parent_pid):
            pass
        print("terracat: scheduler stopping (harvests stop at a page boundary)", flush=True)
    return 0


def _partition(args: argparse.Namespace, settings: config.Settings) -> Partition:
    """The partition ``--pole`` / ``--sources`` name (replacing the config's), else the config's;
    ``UnknownSource`` for an id the config does not define."""
    poles = [pole for group in args.poles for pole in group]
    ids = [source_id for group in args.partition_sources for source_id in group]
    if not poles and not ids:
        return settings.harvest.partition
    partition = Partition(poles=poles, sources=ids)
    unknown = partition.unknown(settings.sources)
    if unknown:
        known = ", ".join(s.id for s in settings.sources) or "none"
        message = f"--sources: no source {unknown[0]!r} in {args.config} (configured: {known})"
        raise config.UnknownSource(message)
    return partition


def _demo(args: argparse.Namespace) -> int:
    settings = config.load(args.config)
    summaries = harvest(settings, [s for s in settings.sources if s.enabled])
    with open_store(settings.store) as store:
        total = store.count()
    added = sum(s.counts["added"] + s.counts["updated"] for s in summaries)
    print(f"Harvested {added} new or changed records; the catalogue holds {total} records.", flush=True)
    parallel.shutdown()  # idle from now on; server workers forked from here must not inherit them
    _start_server(settings, args)
    return 0


def _start_server(settings: config.Settings, args: argparse.Namespace) -> None:
    from api import admin, admin_page
    from api.server import serve

    host = args.host or settings.server.host
    port = args.port or int(os.environ.get("TERRACAT_PORT", settings.server.port))
    serve(
        settings.store,
        host=host,
        port=port,
        public_url=settings.server.url,
        workers=args.workers,
        ledger=settings.harvest.ledger,
        mounts=admin.mounts(settings, config=args.config) | admin_page.mounts(),
    )


def _sources(args: argparse.Namespace) -> int:
    settings = config.load(args.config)
    with open_store(settings.store) as store:
        for s in settings.sources:
            where = s.url or s.path
            state = "" if s.enabled else " (disabled)"
            print(f"{s.id}\t{s.pole}\t{s.protocol}/{s.format}\t{store.count(s.id)} records\t{where}{state}")
    return 0


@contextmanager
def _source_ledger(args: argparse.Namespace) -> Iterator[Ledger]:
    """The config's ledger, for a report on ``args.source`` (checked to be configured) or on all."""
    settings = config.load(args.config)
    if args.source:
        settings.source(args.source)
    ledger = open_ledger(settings.harvest.ledger)
    try:
        yield ledger
    finally:
        ledger.close()


def _unmapped(args: argparse.Namespace) -> int:
    with _source_ledger(args) as ledger:
        for source_id, label, thesaurus, count in ledger.unmapped(args.source, limit=args.limit):
            cited = f"\t({thesaurus})" if thesaurus else ""
            print(f"{count}\t{source_id}\t{label}{cited}")
    return 0


def _runs(args: argparse.Namespace) -> int:
    with _source_ledger(args) as ledger:
        for run in ledger.runs(args.source, limit=args.limit):
            print(_run_line(run))
    return 0


def _run_line(run: RunInfo) -> str:
    counts = ", ".join(f"{k} {v}" for k, v in sorted(run.counts.items()))
    error = f" error: {run.error}" if run.error else ""
    resumed = f" resumed #{run.resumed_from}" if run.resumed_from is not None else ""
    notes = "".join(f" note: {note}" for note in run.notes)
    return (
        f"#{run.id} {run.source_id} {run.started} {run.kind}{resumed} {run.status}"
        f" matched={run.matched} {counts}{error}{notes}"
    )


def _run_show(args: argparse.Namespace) -> int:
    """The run's line as ``runs`` prints it, when it finished, then one line per record (status, reason
    code, record id, where it came from, message), tab-separated, a page at a time. Exit 1 for an
    unknown run."""
    settings = config.load(args.config)
    ledger = open_ledger(settings.harvest.ledger)
    try:
        run = ledger.run(args.run_id)
        if run is None:
            print(f"error: no run #{args.run_id} in {describe(settings.harvest.ledger)}", file=sys.stderr)
            return 1
        events = ledger.events(run.id, args.status, limit=args.limit, offset=args.offset)
    finally:
        ledger.close()
    print(_run_line(run))
    print(f"finished: {run.finished or 'not finished'}")
    which = f"{args.status} " if args.status else ""
    total = run.counts.get(args.status, 0) if args.status else sum(run.counts.values())
    last = args.offset + len(events)
    print(f"{which}records {args.offset + 1 if events else 0}-{last} of {total}:")
    for event in events:
        fields = (event.status, event.code, event.record_id, event.locator, event.message)
        print("\t".join("-" if value is None else value for value in fields))
    return 0


if __name__ == "__main__":
    sys.exit(main())
