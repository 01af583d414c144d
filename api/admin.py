"""The admin API: what the people running the catalogue ask of it over HTTP, in JSON, mounted at
``/admin`` beside the OGC API (``api.server.create_app(mounts=...)``).

- ``GET /sources``, ``GET /sources/{id}``: each configured source (header values withheld: they may
  hold credentials), its indexed record count and its last run.
- ``POST /sources/{id}/run`` (body ``{"full": true}`` optional): a harvest now, in a thread of this
  server; 202 with the run's ``Location`` once the ledger has given it an id, 409 when a run of the
  source holds its lock (in this process or another: the lock is a file).
- ``GET /runs?source=&limit=&offset=``: runs, newest first, with their counts and duration;
  ``GET /runs/{id}``; ``GET /runs/{id}/records?status=&limit=&offset=``: each record's status, reason
  code and message, a page at a time.
- ``POST /dry-run`` with a source definition (the keys of a config source): its first page only,
  crosswalked, enriched and rated as a harvest would, with what would be added, updated or rejected
  and why. Nothing is written: no index, no ledger. Only http(s) sources, or a folder inside a
  configured ``directory`` source's folder: the API must not read the server's other files.
- ``GET /reports/unmapped?source=&limit=``: keywords no thesaurus concept matched, most frequent
  first; ``GET /reports/fair?source=``: the FAIR levels (the index's ``fair_level`` facet) and a
  histogram of scores per source.

Every route wants ``Authorization: Bearer <token>``, a token from one of the environment variables
that ``admin.tokens_env`` names (default ``TERRACAT_ADMIN_TOKEN``; tokens shorter than
``MIN_TOKEN_LENGTH`` are ignored). No header or a malformed one: 401; a wrong token: 403; no token
configured: 403 on every route, saying how to configure one. The API is never open by default.
Tokens are compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from api.provider import shared_store
from api.settings import Settings
from catalogue.geojson import to_geojson
from catalogue.query import MAX_BUCKETS, FacetRequest, Query, QueryError, parse_limit, parse_offset
from catalogue.record import Record
from catalogue.store import Store, open_store
from harvester import formats, protocols
from harvester.enrich import Enricher
from harvester.ledger import Event, Ledger, RunInfo
from harvester.parallel import crosswalk
from harvester.protocols import ListingError
from harvester.run import STATUSES, HarvestRun
from harvester.source import Source

Json = dict[str, Any]

log = logging.getLogger(__name__)

MIN_TOKEN_LENGTH = 16
DEFAULT_LIMIT = 50
MAX_PAGE = 1000
MAX_BODY = 1 << 20  # a source definition is a few hundred bytes
STARTED_WAIT = 10.0  # seconds a run-now request waits for the run's id before answering without it
FAIR_BINS = 10  # the score histogram: 0-9, 10-19, ..., 90-100
_SCORE_PAGE = 1000


class ClientError(Exception):
    """A request the API refuses: ``status`` and a message the client can act on."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.headers = dict(headers or {})


class AdminAPI:
    """The WSGI app. It opens nothing until asked: a server process forked after building it (gunicorn
    workers) opens its own ledger and store. ``environ``: where the tokens are read, at each request, so
    that a rotated token takes effect without a restart (the process's environment by default)."""

    def __init__(self, settings: Settings, *, environ: Mapping[str, str] | None = None):
        self.settings = settings
        self.sources = {source.id: source for source in settings.sources}
        self.environ = os.environ if environ is None else environ
        self._ledger: Ledger | None = None
        self._ledger_lock = threading.Lock()
        self._thesaurus: Any = None
        self._thesaurus_loaded = False
        self.threads: list[threading.Thread] = []  # harvests started here (joined by ``wait``)
        self.routes = Map(
            [
                Rule("/", endpoint="index", methods=["GET"]),
                Rule("/sources", endpoint="sources", methods=["GET"]),
                Rule("/sources/<source_id>", endpoint="source", methods=["GET"]),
                Rule("/sources/<source_id>/run", endpoint="run_now", methods=["POST"]),
                Rule("/runs", endpoint="runs", methods=["GET"]),
                Rule("/runs/<int:run_id>", endpoint="run", methods=["GET"]),
                Rule("/runs/<int:run_id>/records", endpoint="run_records", methods=["GET"]),
                Rule("/dry-run", endpoint="dry_run", methods=["POST"]),
                Rule("/reports/unmapped", endpoint="unmapped", methods=["GET"]),
                Rule("/reports/fair", endpoint="fair", methods=["GET"]),
            ],
            strict_slashes=False,
        )

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        request.max_content_length = MAX_BODY
        try:
            self._authorise(request)
            adapter = self.routes.bind_to_environ(environ)
            endpoint, args = adapter.match()
            status, body, headers = getattr(self, f"_{endpoint}")(request, **args)
        except ClientError as exc:
            status, body, headers = exc.status, {"error": str(exc)}, exc.headers
        except HTTPException as exc:  # no such route, a method it does not take, a body too large
            status, body = exc.code or 400, {"error": exc.description}
            headers = dict(exc.get_headers()) if exc.code == 405 else {}
            headers.pop("Content-Type", None)
        response = Response(msgspec.json.encode(body), status=status, mimetype="application/json")
        response.headers.update(headers)
        response.headers["Cache-Control"] = "no-store"
        return response(environ, start_response)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the harvests started here to end (tests; a clean shutdown)."""
        for thread in list(self.threads):
            thread.join(timeout)

    # --- authorisation ------------------------------------------------------------------------------

    def tokens(self) -> list[str]:
        """The tokens configured now: the values of the named variables long enough to be secrets."""
        values = (self.environ.get(name, "").strip() for name in self.settings.admin.tokens_env)
        return [value for value in values if len(value) >= MIN_TOKEN_LENGTH]

    def _authorise(self, request: Request) -> None:
        tokens = self.tokens()
        if not tokens:
            names = ", ".join(self.settings.admin.tokens_env) or "(none: admin.tokens_env is empty)"
            raise ClientError(
                403,
                "the admin API is closed: no admin token is configured. Set one of the environment"
                f" variables {names} (admin.tokens_env in the config) to a secret of at least"
                f" {MIN_TOKEN_LENGTH} characters and restart the server",
            )
        challenge = {"WWW-Authenticate": 'Bearer realm="terracat admin"'}
        scheme, _, given = (request.headers.get("Authorization") or "").partition(" ")
        given = given.strip()
        if scheme.lower() != "bearer" or not given:
            raise ClientError(401, "give an admin token: Authorization: Bearer <token>", challenge)
        # compare with every token, whatever matches first: the time taken tells nothing
        matches = [hmac.compare_digest(given.encode(), token.encode()) for token in tokens]
        if not any(matches):
            raise ClientError(403, "this token is not an admin token")

    # --- sources ------------------------------------------------------------------------------------

    def _index(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        base = request.root_url.rstrip("/")
        routes = ["sources", "runs", "reports/unmapped", "reports/fair", "dry-run"]
        return 200, {"links": [{"rel": name, "href": f"{base}/{name}"} for name in routes]}, {}

    def _sources(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        return 200, {"sources": [self._describe(request, source) for source in self.sources.values()]}, {}

    def _source(self, request: Request, source_id: str) -> tuple[int, Any, dict[str, str]]:
        return 200, self._describe(request, self._configured(source_id)), {}

    def _describe(self, request: Request, source: Source) -> Json:
        runs = self.ledger().runs(source.id, limit=1) if self._ledger_exists() else []
        base = request.root_url.rstrip("/")
        return {
            "id": source.id,
            "config": _public(source),
            "records": shared_store(self.settings.store).count(source.id),
            "last_run": _run(runs[0], base) if runs else None,
            "links": [
                {"rel": "runs", "href": f"{base}/runs?source={source.id}"},
                {"rel": "run", "href": f"{base}/sources/{source.id}/run", "method": "POST"},
            ],
        }

    def _configured(self, source_id: str) -> Source:
        source = self.sources.get(source_id)
        if source is None:
            known = ", ".join(self.sources) or "none"
            raise ClientError(404, f"no source {source_id!r} in the config (configured: {known})")
        return source

    # --- run now ------------------------------------------------------------------------------------

    def _run_now(self, request: Request, source_id: str) -> tuple[int, Any, dict[str, str]]:
        source = self._configured(source_id)
        options = _body(request, required=False)
        full = options.pop("full", False)
        if not isinstance(full, bool) or options:
            raise ClientError(400, 'the body may only hold {"full": true|false}')
        started = _Started()
        thread = threading.Thread(
            target=self._harvest, args=(source, full, started), name=f"admin-run-{source.id}", daemon=True
        )
        self.threads = [t for t in self.threads if t.is_alive()] + [thread]
        thread.start()
        started.event.wait(STARTED_WAIT)
        base = request.root_url.rstrip("/")
        if started.overlap is not None:
            raise ClientError(409, started.overlap)
        if started.failure is not None:
            raise ClientError(503, f"the harvest could not start: {started.failure}")
        if started.run_id is None:  # still waiting for the ledger: point at the source's runs
            location = f"{base}/runs?source={source.id}"
            return 202, {"source": source.id, "status": "starting", "runs": location}, {"Location": location}
        location = f"{base}/runs/{started.run_id}"
        body = {"source": source.id, "run": started.run_id, "status": "running", "href": location}
        return 202, body, {"Location": location}

    def _harvest(self, source: Source, full: bool, started: _Started) -> None:
        """One run, as ``terracat harvest`` does it, with its own store and ledger connections."""
        ledger: Ledger | None = None
        try:
            ledger = _AnnouncingLedger(self.settings.harvest.ledger, started)
            with open_store(self.settings.store) as store:
                options = self.settings.harvest
                summary = HarvestRun(
                    source,
                    store,
                    ledger,
                    batch_size=options.batch_size,
                    workers=options.workers,
                    full=full,
                    thesaurus=self.thesaurus(),
                ).execute()
            if summary.run_id is None:
                started.overlap = summary.error or f"a harvest of {source.id} is already running"
            log.info("admin run-now: %s", summary.line())
        except Exception as exc:
            log.exception("admin run-now of %s failed", source.id)
            if started.run_id is None:
                started.failure = f"{type(exc).__name__}: {exc}"
        finally:
            started.event.set()
            if ledger is not None:
                ledger.close()

    def thesaurus(self) -> Any:
        """The configured vocabularies, loaded once (``api.cli.load_thesaurus``)."""
        if not self._thesaurus_loaded:
            from api.cli import load_thesaurus

            self._thesaurus = load_thesaurus(self.settings)
            self._thesaurus_loaded = True
        return self._thesaurus

    # --- runs ---------------------------------------------------------------------------------------

    def ledger(self) -> Ledger:
        with self._ledger_lock:
            if self._ledger is None:
                self._ledger = Ledger(self.settings.harvest.ledger)
            return self._ledger

    def _ledger_exists(self) -> bool:
        """Whether there is a ledger to read: the API must not create an empty one by reading."""
        return self._ledger is not None or Path(self.settings.harvest.ledger).is_file()

    def _runs(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        source_id = request.args.get("source") or None
        if source_id is not None:
            self._configured(source_id)
        limit, offset = _page(request)
        found = self.ledger().runs(source_id, limit=offset + limit)[offset:] if self._ledger_exists() else []
        base = request.root_url.rstrip("/")
        return 200, {"runs": [_run(run, base) for run in found], "limit": limit, "offset": offset}, {}

    def _found_run(self, run_id: int) -> RunInfo:
        run = self.ledger().run(run_id) if self._ledger_exists() else None
        if run is None:
            raise ClientError(404, f"no run #{run_id} in the harvest ledger")
        return run

    def _run(self, request: Request, run_id: int) -> tuple[int, Any, dict[str, str]]:
        return 200, _run(self._found_run(run_id), request.root_url.rstrip("/")), {}

    def _run_records(self, request: Request, run_id: int) -> tuple[int, Any, dict[str, str]]:
        run = self._found_run(run_id)
        status = request.args.get("status") or None
        if status is not None and status not in STATUSES:
            raise ClientError(400, f"status: {status!r} is not a record status; one of {', '.join(STATUSES)}")
        limit, offset = _page(request)
        events = self.ledger().events(run.id, status, limit=limit, offset=offset)
        # the run's counts are written when it ends; until then the total is not known
        total = (
            None
            if run.finished is None
            else (run.counts.get(status, 0) if status else sum(run.counts.values()))
        )
        body = {
            "run": run.id,
            "status": status,
            "total": total,
            "limit": limit,
            "offset": offset,
            "records": [_event(event) for event in events],
        }
        return 200, body, {}

    # --- dry run ------------------------------------------------------------------------------------

    def _dry_run(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        source = self._dry_source(_body(request, required=True))
        pages = protocols.create(source).pages()
        try:
            page = next(pages, None)
        except ListingError as exc:
            raise ClientError(502, f"the source's listing failed: {exc}") from None
        except Exception as exc:  # a protocol bug on what the source sent: still the source's answer
            log.exception("dry run of %s failed", source.id)
            raise ClientError(502, f"reading the source failed: {type(exc).__name__}: {exc}") from None
        finally:
            pages.close()
        enricher = Enricher(self.thesaurus())
        store = shared_store(self.settings.store)
        records = [self._would(raw, source, enricher, store) for raw in (page.records if page else [])]
        body = {
            "source": source.id,
            "page": {
                "position": page.position if page else None,
                "matched": page.matched if page else None,
                "received": len(records),
                "notes": page.notes if page else [],
            },
            "counts": dict(Counter(record["status"] for record in records)),
            "records": records,
        }
        return 200, body, {}

    def _dry_source(self, definition: Json) -> Source:
        try:
            source = msgspec.convert(definition, Source)
        except msgspec.ValidationError as exc:
            raise ClientError(400, f"invalid source definition: {exc}") from None
        if source.protocol in protocols.NETWORK_PROTOCOLS:
            return source  # its url is http(s): Source checks it
        folder = Path(source.path or "").expanduser()
        allowed = [
            Path(s.path).resolve() for s in self.sources.values() if s.protocol == "directory" and s.path
        ]
        if folder.is_absolute() and any(folder.resolve().is_relative_to(root) for root in allowed):
            if not folder.is_dir():
                raise ClientError(400, f"path: {source.path} is not a folder")
            return source
        raise ClientError(
            400,
            f"protocol: a dry run reads http(s) sources, or a folder inside a configured directory source's"
            f" folder (absolute path); {source.protocol} at {source.path!r} is neither",
        )

    @staticmethod
    def _would(raw: Any, source: Source, enricher: Enricher, store: Store) -> Json:
        """What a harvest would do with ``raw``, without doing it."""
        out: Json = {"locator": raw.locator, "native_id": raw.native_id}
        if raw.deleted:
            return out | {"status": "deleted", "code": "deleted-at-source", "message": None}
        outcome = crosswalk(raw, source.pole)
        if isinstance(outcome, formats.Rejected):
            return out | {"status": "rejected", "code": outcome.code, "message": str(outcome)}
        record: Record
        record, unmapped = enricher.enrich(outcome)
        fair = record.quality.fair if record.quality else None
        return out | {
            "status": "updated" if store.get(record.id) is not None else "added",
            "code": None,
            "message": "; ".join(record.warnings) or None,
            "record": to_geojson(record),
            "unmapped": [{"label": k.label, "thesaurus": k.thesaurus} for k in unmapped],
            "fair": {"score": fair.score, "level": fair.level} if fair else None,
        }

    # --- reports ------------------------------------------------------------------------------------

    def _unmapped(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        source_id = request.args.get("source") or None
        if source_id is not None:
            self._configured(source_id)
        limit, _ = _page(request)
        rows = self.ledger().unmapped(source_id, limit=limit) if self._ledger_exists() else []
        keywords = [
            {"source": source, "label": label, "thesaurus": thesaurus or None, "records": count}
            for source, label, thesaurus, count in rows
        ]
        return 200, {"source": source_id, "keywords": keywords}, {}

    def _fair(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        source_id = request.args.get("source") or None
        ids = [self._configured(source_id).id] if source_id else list(self.sources)
        store = shared_store(self.settings.store)
        return 200, {"sources": [_fair_report(store, source) for source in ids]}, {}


class _Started:
    """What a run-now thread tells the request that started it: the run's id, or that it overlapped."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.run_id: int | None = None
        self.overlap: str | None = None
        self.failure: str | None = None  # why the run could not even start (the ledger, the index)


class _AnnouncingLedger(Ledger):
    """The ledger, telling the request that started a run its id as soon as the run has one."""

    def __init__(self, path: str | Path, started: _Started):
        super().__init__(path)
        self.started = started

    def start_run(self, source_id: str) -> int:
        run_id = super().start_run(source_id)
        self.started.run_id = run_id
        self.started.event.set()
        return run_id


def _fair_report(store: Store, source_id: str) -> Json:
    """The FAIR levels of a source's records (a facet of the index) and their scores in ``FAIR_BINS``
    bins. The index has no facet on scores, so they are read from the records, a page at a time: the
    cost grows with the source (a second or so per 10 000 records), fine for a report."""
    query = Query(
        limit=0, properties={"source": [source_id]}, facets=[FacetRequest("fair_level", MAX_BUCKETS)]
    )
    result = store.search(query)
    levels = {bucket.value: bucket.count for bucket in result.facets[0].buckets}
    width = 100 // FAIR_BINS
    bins = [0] * FAIR_BINS
    scores: list[int] = []
    for offset in range(0, result.matched, _SCORE_PAGE):
        page = store.search(Query(properties={"source": [source_id]}, limit=_SCORE_PAGE, offset=offset))
        for record in page.records:
            fair = record.quality.fair if record.quality else None
            if fair is not None:
                scores.append(fair.score)
                bins[min(fair.score // width, FAIR_BINS - 1)] += 1
    histogram = [
        {"from": i * width, "to": 100 if i == FAIR_BINS - 1 else (i + 1) * width - 1, "records": n}
        for i, n in enumerate(bins)
    ]
    return {
        "source": source_id,
        "records": result.matched,
        "rated": len(scores),
        "levels": levels,
        "scores": {
            "min": min(scores, default=None),
            "max": max(scores, default=None),
            "mean": round(sum(scores) / len(scores), 1) if scores else None,
            "histogram": histogram,
        },
    }


def _public(source: Source) -> Json:
    """A source's config as the API shows it: header values withheld (tokens, credentials)."""
    config = msgspec.to_builtins(source)
    config["headers"] = {name: "(withheld)" for name in source.headers}
    return config


def _run(run: RunInfo, base: str) -> Json:
    out = msgspec.to_builtins(run)
    out["seconds"] = _seconds(run.started, run.finished)
    out["links"] = [
        {"rel": "self", "href": f"{base}/runs/{run.id}"},
        {"rel": "records", "href": f"{base}/runs/{run.id}/records"},
    ]
    return out


def _seconds(started: str, finished: str | None) -> float | None:
    if not finished:
        return None
    stamps = [datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) for s in (started, finished)]
    return (stamps[1] - stamps[0]).total_seconds()


def _event(event: Event) -> Json:
    return {
        "record_id": event.record_id,
        "locator": event.locator,
        "status": event.status,
        "code": event.code,
        "message": event.message,
    }


def _page(request: Request) -> tuple[int, int]:
    try:
        limit = parse_limit(request.args.get("limit"), DEFAULT_LIMIT)
        offset = parse_offset(request.args.get("offset"))
    except QueryError as exc:
        raise ClientError(400, str(exc)) from None
    if limit > MAX_PAGE:
        raise ClientError(400, f"limit: at most {MAX_PAGE}, got {limit}")
    return limit, offset


def _body(request: Request, *, required: bool) -> Json:
    data = request.get_data(cache=False)
    if not data.strip():
        if required:
            raise ClientError(400, "give a JSON object in the request body")
        return {}
    try:
        body = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise ClientError(400, f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ClientError(400, "the body must be a JSON object")
    return body


def mounts(settings: Settings) -> dict[str, Any]:
    """What ``api.server.create_app`` mounts for the admin API: it at ``/admin``."""
    return {"/admin": AdminAPI(settings)}
