"""What the people running the catalogue watch: ``/health`` and ``/metrics`` (the logs: ``api.logs``).

``with_operations`` wraps the whole server (pygeoapi, the portal and the mounted apps): it answers
``/health`` and ``/metrics`` itself, before anything else can take those paths, and times every other
request.

- ``/health``: whether the index answers (a count), and whether the harvest ledger can be read; JSON,
  200 when the index answers, 503 when it does not (a load balancer then stops sending searches).
  The ``scheduler`` check tells whether the harvest scheduler runs in this process (``terracat serve``
  with one server process): ``running``, ``stopped`` (an error: its thread died), or
  ``not-running-here`` (``--no-scheduler``, several server processes); an error with ``config_error``
  when the config it follows no longer reads (it keeps its previous jobs meanwhile); its ``partition``
  (poles and source ids) when it harvests only some of the sources (``harvest.partition``).
- ``/metrics``: the Prometheus text format. Records per source and pole and the last harvest run of
  each source are read at each scrape (from the index and, read only, the ledger), so they are never
  stale and every server process tells the same. Request counts and latencies are labelled by route
  template (``/collections/<path:collection_id>/items``), never by raw path, so their label values are
  bounded whatever clients ask. With several server processes (``terracat serve --workers N``) each
  writes its request metrics to ``PROMETHEUS_MULTIPROC_DIR`` (set by ``api.server.serve``) and any of
  them answers a scrape with the sum over all of them.

prometheus_client decides between in-process and multi-process values when it is first imported, from
``PROMETHEUS_MULTIPROC_DIR``; it is therefore imported here when the first app is built (in each server
process, after the variable is set), not when this module is.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from werkzeug.routing import Map
from werkzeug.routing.exceptions import HTTPException, RequestRedirect
from werkzeug.wsgi import ClosingIterator

from api.portal import RECORD_PATH
from api.provider import shared_store
from catalogue.query import MAX_BUCKETS, FacetRequest, Query
from harvester import scheduler
from harvester.ledger import Ledger, LedgerConfig, RunInfo, describe, ledger_exists, open_ledger
from harvester.run import STATUSES

WSGIApp = Callable[..., Any]
Json = dict[str, Any]

HEALTH_PATH = "/health"
METRICS_PATH = "/metrics"
METRICS_MEDIA_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Seconds: a facet page takes milliseconds, a large export or a cold snapshot load seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

log = logging.getLogger(__name__)


def with_operations(
    app: WSGIApp,
    store_settings: Mapping[str, Any],
    *,
    routes: Map,
    mounts: Sequence[str] = (),
    ledger: LedgerConfig | None = None,
) -> WSGIApp:
    """``app`` with ``/health`` and ``/metrics``, its requests counted and timed. ``routes``: the URL map
    whose rules name the request routes (pygeoapi's); ``mounts``: path prefixes of the other mounted
    apps, each a route of its own; ``ledger``: the harvest ledger file, for the runs (None: not known)."""
    return Operations(app, store_settings, routes=routes, mounts=mounts, ledger=ledger)


class Operations:
    """The WSGI layer ``with_operations`` returns; its metrics are its own (two apps in one process, as
    in the tests, never count each other's requests), unless they are shared between processes."""

    def __init__(
        self,
        app: WSGIApp,
        store_settings: Mapping[str, Any],
        *,
        routes: Map,
        mounts: Sequence[str],
        ledger: LedgerConfig | None,
    ) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram
        from prometheus_client.multiprocess import MultiProcessCollector

        self.app = app
        self.store_settings = dict(store_settings)
        self.routes = routes.bind("localhost")
        self.mounts = sorted((m.rstrip("/") for m in mounts), key=len, reverse=True)
        self.ledger_config = ledger
        self._ledger: Ledger | None = None
        self.registry = CollectorRegistry(auto_describe=False)
        shared = "PROMETHEUS_MULTIPROC_DIR" in os.environ
        # Shared across processes: the values live in files, summed at a scrape by the collector.
        own = None if shared else self.registry
        if shared:
            MultiProcessCollector(self.registry)
        labels = ("method", "route", "status")
        self.requests = Counter(
            "terracat_http_requests", "HTTP requests answered, by route template", labels, registry=own
        )
        self.latency = Histogram(
            "terracat_http_request_duration_seconds",
            "Time from a request's arrival to its response's last byte, by route template",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=own,
        )
        self.registry.register(_CatalogueCollector(self))

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if path == HEALTH_PATH:
            return self._health(start_response)
        if path == METRICS_PATH:
            return self._metrics(start_response)
        started = time.perf_counter()
        method = environ.get("REQUEST_METHOD", "GET").upper()
        method = method if method in _METHODS else "other"
        route = self.route(path, method)
        status: list[str] = ["5xx"]

        def starting(code: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = f"{code[:1]}xx"
            return start_response(code, headers, exc_info) if exc_info else start_response(code, headers)

        def done() -> None:
            labels = (method, route, status[0])
            self.requests.labels(*labels).inc()
            self.latency.labels(*labels).observe(time.perf_counter() - started)

        try:
            body = self.app(environ, starting)
        except BaseException:
            done()
            raise
        return ClosingIterator(body, [done])

    def route(self, path: str, method: str) -> str:
        """The template of the route ``path`` takes: a mount's prefix, the portal's record pages, a rule
        of the URL map, else ``other`` (an unknown path must not make a label value of its own)."""
        for prefix in self.mounts:
            if path == prefix or path.startswith(prefix + "/"):
                return f"{prefix}/*"
        if path.startswith(RECORD_PATH):  # the portal's record pages, beside pygeoapi's routes
            return f"{RECORD_PATH}<record_id>"
        try:
            rule, _ = self.routes.match(path, method="GET" if method == "HEAD" else method, return_rule=True)
        except RequestRedirect:
            return "other"
        except HTTPException:  # not found, or a method the route does not take
            try:
                rule, _ = self.routes.match(path, method="GET", return_rule=True)
            except HTTPException:
                return "other"
        return rule.rule

    # --- /health ------------------------------------------------------------------------------------

    def health(self) -> tuple[int, Json]:
        """The status code and the report: ``down`` (503) when the index does not answer a count,
        ``degraded`` when it does but the ledger cannot be read, else ``ok``."""
        checks = {"store": self._store_check()}
        if self.ledger_config is not None:
            checks["ledger"] = self._ledger_check()
        checks["scheduler"] = _scheduler_check()
        if checks["store"]["status"] != "ok":
            status = "down"
        elif any(check["status"] != "ok" for check in checks.values()):
            status = "degraded"
        else:
            status = "ok"
        return (503 if status == "down" else 200), {"status": status, "checks": checks}

    def _store_check(self) -> Json:
        path = self.store_settings.get("path")
        backend = self.store_settings.get("backend", "sqlite")
        # An open connection still reads a file deleted or replaced since: what harvests write is
        # then no longer what is served.
        if path and not Path(path).is_file():
            return {"status": "error", "backend": backend, "error": f"the index file {path} is missing"}
        try:
            records = shared_store(self.store_settings).count()
        except Exception as exc:
            log.warning("health: the index does not answer: %s", exc)
            return {"status": "error", "backend": backend, "error": f"{type(exc).__name__}: {exc}"}
        return {"status": "ok", "backend": backend, "records": records}

    def _ledger_check(self) -> Json:
        try:
            runs = self.last_runs()
        except Exception as exc:
            log.warning("health: the harvest ledger cannot be read: %s", exc)
            return {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
        finished = [run.finished for run in runs if run.finished]
        return {
            "status": "ok",
            "sources": len(runs),
            "failed": sorted(run.source_id for run in runs if run.status == "failed"),
            "last_finished": max(finished) if finished else None,
        }

    def last_runs(self) -> list[RunInfo]:
        """The latest run of each source in the ledger. The ledger is opened once, and only once it
        exists: a server must not create an empty one."""
        if self._ledger is None:
            assert self.ledger_config is not None
            if not ledger_exists(self.ledger_config):
                raise FileNotFoundError(f"no harvest ledger at {describe(self.ledger_config)}")
            self._ledger = open_ledger(self.ledger_config)
        ledger = self._ledger
        return [run for source in ledger.source_ids() for run in ledger.runs(source, limit=1)]

    def _health(self, start_response: Callable[..., Any]) -> list[bytes]:
        code, report = self.health()
        body = msgspec.json.encode(report)
        start_response(
            "200 OK" if code == 200 else "503 Service Unavailable",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
            ],
        )
        return [body]

    # --- /metrics -----------------------------------------------------------------------------------

    def _metrics(self, start_response: Callable[..., Any]) -> list[bytes]:
        from prometheus_client import generate_latest

        body = generate_latest(self.registry)
        start_response(
            "200 OK",
            [
                ("Content-Type", METRICS_MEDIA_TYPE),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
            ],
        )
        return [body]


class _CatalogueCollector:
    """The index's and the ledger's figures, read at each scrape."""

    def __init__(self, operations: Operations) -> None:
        self.operations = operations

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        up = GaugeMetricFamily("terracat_store_up", "1 when the index answers a count, else 0")
        records = GaugeMetricFamily(
            "terracat_records",
            "Records searches serve (duplicates of another source's record not counted), by source and pole",
            labels=("source", "pole"),
        )
        try:
            for pole, source, count in self._records():
                records.add_metric((source, pole), count)
            up.add_metric((), 1 if self.operations._store_check()["status"] == "ok" else 0)
        except Exception as exc:
            log.warning("metrics: the index does not answer: %s", exc)
            up.add_metric((), 0)
        yield up
        yield records
        if self.operations.ledger_config is not None:
            yield from self._runs()

    def _records(self) -> Iterator[tuple[str, str, int]]:
        """(pole, source, records): one search per pole, counting its sources."""
        store = shared_store(self.operations.store_settings)
        poles = store.search(Query(limit=0, facets=[FacetRequest("pole", MAX_BUCKETS)])).facets[0]
        for pole in poles.buckets:
            query = Query(
                limit=0, properties={"pole": [pole.value]}, facets=[FacetRequest("source", MAX_BUCKETS)]
            )
            for source in store.search(query).facets[0].buckets:
                yield pole.value, source.value, source.count

    def _runs(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        up = GaugeMetricFamily("terracat_ledger_up", "1 when the harvest ledger can be read, else 0")
        last = GaugeMetricFamily(
            "terracat_harvest_last_run",
            "The latest harvest run of each source: 1, with its status (running, succeeded, failed,"
            " interrupted) and kind",
            labels=("source", "status", "kind"),
        )
        seconds = GaugeMetricFamily(
            "terracat_harvest_last_run_duration_seconds",
            "How long the latest finished run of each source took",
            labels=("source",),
        )
        finished = GaugeMetricFamily(
            "terracat_harvest_last_run_finished_timestamp_seconds",
            "When the latest finished run of each source ended (Unix time)",
            labels=("source",),
        )
        counts = GaugeMetricFamily(
            "terracat_harvest_last_run_records",
            "Records of the latest run of each source, by status (added, updated, unchanged, rejected...)",
            labels=("source", "status"),
        )
        try:
            runs = self.operations.last_runs()
        except Exception as exc:
            log.warning("metrics: the harvest ledger cannot be read: %s", exc)
            runs = None
        up.add_metric((), 0 if runs is None else 1)
        for run in runs or []:
            last.add_metric((run.source_id, run.status, run.kind), 1)
            # every status, 0 included: a series that comes and goes cannot be graphed or alerted on
            for status in dict.fromkeys([*STATUSES, *sorted(run.counts)]):
                counts.add_metric((run.source_id, status), run.counts.get(status, 0))
            if run.finished:
                end = _unix(run.finished)
                finished.add_metric((run.source_id,), end)
                seconds.add_metric((run.source_id,), end - _unix(run.started))
        yield from (up, last, seconds, finished, counts)


def _scheduler_check() -> Json:
    here = scheduler.running()
    if here is None:
        return {"status": "ok", "state": "not-running-here"}
    if not here.alive:
        return {"status": "error", "state": "stopped", "error": "the scheduler's thread is not running"}
    check: Json = {"status": "ok", "state": "running", "sources": [s.id for s in here.sources]}
    if not here.partition.everything:  # one of several schedulers: which share of the sources is its
        check["partition"] = {"poles": here.partition.poles, "sources": here.partition.sources}
    if here.config_error is not None:  # it goes on with its previous jobs: someone must fix the file
        check |= {"status": "error", "config_error": here.config_error}
    return check


def _unix(stamp: str) -> float:
    """Unix time of the ledger's UTC stamps (``2026-12-06T08:21:07Z``)."""
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
