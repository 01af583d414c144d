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
  configured ``directory`` source's folder: the API must not read the server's other files. An http(s)
  source, here and in ``POST``/``PUT /sources``, may only reach the addresses that
  ``harvest.allow_private_networks`` and ``harvest.allowed_networks`` allow (``harvester.url_safety``: by
  default no loopback, private or link-local address), when given (400) and at each connection of its
  harvests.
- ``POST /sources`` with a source definition: 201 with its ``Location``; 409 when the id exists; 400
  with the validation message. ``PUT /sources/{id}``: replace its definition (a header shown as
  ``(withheld)`` keeps its value). ``POST /sources/{id}/enable``, ``/disable``. ``DELETE
  /sources/{id}?records=delete|keep``: with its indexed records, or leaving them (204; 409 while it
  runs). Directory sources must be folders inside a configured directory source's folder, as for a dry
  run. Changes go to the overrides file (``api.settings``: ``admin.overrides``, by default
  ``sources.overrides.yaml`` beside the config), written atomically under a lock and reloaded with the
  config, so a restart keeps them; every server process sees them at its next request, and the scheduler
  (in this process or its own, ``harvester.scheduler``) within its ``harvest.reload_interval``.
- ``POST /runs`` (body ``{"sources": [ids], "full": false}``; no ``sources``: every enabled source):
  runs now, 202 with ``{"runs": [{source, run, status, href} | {source, status: "refused", error}]}``.
  ``POST /runs/{id}/cancel``: stop a run of this server at its next page boundary (202; the run ends
  ``stopped``); 409 when the run has ended or runs in another process.
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

import fcntl
import hmac
import logging
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from api import settings as config
from api.provider import shared_store
from api.settings import ConfigError, Overrides, Settings
from catalogue.geojson import to_geojson
from catalogue.query import MAX_BUCKETS, FacetRequest, Query, QueryError, parse_limit, parse_offset
from catalogue.record import Record
from catalogue.store import Store, open_store
from harvester import formats, protocols, url_safety
from harvester.enrich import Enricher
from harvester.ledger import Delegating, Event, Ledger, RunInfo, ledger_exists, open_ledger
from harvester.parallel import crosswalk
from harvester.protocols import ListingError
from harvester.run import STATUSES, HarvestRun, RunOverlap, source_lock
from harvester.scheduler import cron_trigger
from harvester.source import Source

Json = dict[str, Any]

log = logging.getLogger(__name__)

MIN_TOKEN_LENGTH = 16
DEFAULT_LIMIT = 50
MAX_PAGE = 1000
MAX_BODY = 1 << 20  # a source definition is a few hundred bytes
WITHHELD = "(withheld)"
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
    that a rotated token takes effect without a restart (the process's environment by default).
    ``config``: the config file ``settings`` were loaded from, reloaded after a change to the sources;
    without it the sources cannot be changed (409)."""

    def __init__(
        self,
        settings: Settings,
        *,
        environ: Mapping[str, str] | None = None,
        config: str | Path | None = None,
    ):
        self.settings = settings
        self.sources = {source.id: source for source in settings.sources}
        self.config = Path(config) if config is not None else None
        self._overrides_stamp = self._stamp()
        self._write_lock = threading.Lock()
        self._active: dict[int, threading.Event] = {}  # runs of this process: their stop events
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
                Rule("/sources", endpoint="create", methods=["POST"]),
                Rule("/sources/<source_id>", endpoint="source", methods=["GET"]),
                Rule("/sources/<source_id>", endpoint="replace", methods=["PUT"]),
                Rule("/sources/<source_id>", endpoint="delete", methods=["DELETE"]),
                Rule("/sources/<source_id>/enable", endpoint="enable", methods=["POST"]),
                Rule("/sources/<source_id>/disable", endpoint="disable", methods=["POST"]),
                Rule("/sources/<source_id>/run", endpoint="run_now", methods=["POST"]),
                Rule("/runs", endpoint="runs", methods=["GET"]),
                Rule("/runs", endpoint="run_many", methods=["POST"]),
                Rule("/runs/<int:run_id>", endpoint="run", methods=["GET"]),
                Rule("/runs/<int:run_id>/cancel", endpoint="cancel", methods=["POST"]),
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
            self._refresh()
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
            "next_run": _next_run(source),
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

    # --- changing sources ---------------------------------------------------------------------------

    def _create(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        source = self._checked(_body(request, required=True))

        def change(overrides: Overrides) -> Overrides:
            if source.id in self.sources:
                raise ClientError(
                    409, f"a source {source.id!r} exists: change it with PUT /sources/{source.id}"
                )
            deleted = [i for i in overrides.deleted if i != source.id]  # a configured one deleted before
            return Overrides(sources=[*overrides.sources, source], deleted=deleted)

        self._change(change)
        location = f"{request.root_url.rstrip('/')}/sources/{source.id}"
        return 201, self._describe(request, self._configured(source.id)), {"Location": location}

    def _replace(self, request: Request, source_id: str) -> tuple[int, Any, dict[str, str]]:
        current = self._configured(source_id)
        definition = _body(request, required=True)
        if definition.setdefault("id", source_id) != source_id:
            given = definition["id"]
            raise ClientError(400, f"id: the body's id {given!r} is not {source_id!r} (ids do not change)")
        headers = definition.get("headers")
        if isinstance(headers, dict):  # what GET showed as withheld keeps its value
            definition["headers"] = {
                name: current.headers.get(name, value) if value == WITHHELD else value
                for name, value in headers.items()
            }
        self._put(self._checked(definition))
        return 200, self._describe(request, self._configured(source_id)), {}

    def _enable(self, request: Request, source_id: str) -> tuple[int, Any, dict[str, str]]:
        self._put(msgspec.structs.replace(self._configured(source_id), enabled=True))
        return 200, self._describe(request, self._configured(source_id)), {}

    def _disable(self, request: Request, source_id: str) -> tuple[int, Any, dict[str, str]]:
        self._put(msgspec.structs.replace(self._configured(source_id), enabled=False))
        return 200, self._describe(request, self._configured(source_id)), {}

    def _delete(self, request: Request, source_id: str) -> tuple[int, Any, dict[str, str]]:
        self._configured(source_id)
        records = request.args.get("records", "keep")
        if records not in ("delete", "keep"):
            raise ClientError(400, f"records: 'delete' or 'keep', got {records!r}")

        def change(overrides: Overrides) -> Overrides:
            kept = [s for s in overrides.sources if s.id != source_id]  # added here, or replacing one
            return Overrides(sources=kept, deleted=[*overrides.deleted, source_id])  # configured or not

        removed = 0
        try:  # no run of the source may write while it goes, nor start until the change is saved
            with source_lock(self.ledger(), source_id):
                self._change(change)
                if records == "delete":
                    with open_store(self.settings.store) as store:
                        removed = store.delete(store.ids(source_id))
        except RunOverlap:
            raise ClientError(409, f"a harvest of {source_id} is running: cancel it first") from None
        log.info("admin: source %s deleted (%d indexed records deleted)", source_id, removed)
        return 200, {"source": source_id, "deleted": True, "records_deleted": removed}, {}

    def _checked(self, definition: Json) -> Source:
        """A source definition validated as the config validates it; directory sources only inside a
        configured directory source's folder, as for a dry run."""
        path = definition.get("path")
        if isinstance(path, str) and not Path(path).expanduser().is_absolute():
            raise ClientError(400, f"path: give an absolute path, got {path!r}")
        return self._dry_source(definition)

    def _put(self, source: Source) -> None:
        def change(overrides: Overrides) -> Overrides:
            others = [s for s in overrides.sources if s.id != source.id]
            deleted = [i for i in overrides.deleted if i != source.id]
            return Overrides(sources=[*others, source], deleted=deleted)

        self._change(change)

    def _change(self, change: Callable[[Overrides], Overrides]) -> None:
        """Read the overrides, change them, write them and reload the config, under a lock (this
        process's and a file's, for other server processes) so that no two changes lose each other.
        What the reloaded config refuses is not kept: 400 with its message."""
        if self.config is None:
            raise ClientError(
                409, "this server was started without its config file: sources cannot be changed"
            )
        file = Path(self.settings.admin.overrides or "")
        with self._write_lock, _file_lock(file.with_name(f".{file.name}.lock")):
            self._refresh()
            previous = file.read_bytes() if file.is_file() else None
            try:
                current = config.read_overrides(file) if previous is not None else Overrides()
            except ConfigError as exc:
                raise ClientError(409, f"the overrides file is invalid, fix it first: {exc}") from None
            config.write_overrides(file, change(current))
            try:
                settings = config.load(self.config)
            except ConfigError as exc:
                if previous is None:
                    file.unlink()
                else:
                    config.write_atomically(file, previous)
                raise ClientError(400, f"the change was not saved: {exc}") from None
            self._use(settings)

    def _stamp(self) -> tuple[int, int] | None:
        try:
            stat = os.stat(self.settings.admin.overrides or "")
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def _refresh(self) -> None:
        """Reload the config when another server process changed the overrides file."""
        if self.config is not None and self._stamp() != self._overrides_stamp:
            try:
                self._use(config.load(self.config))
            except ConfigError as exc:
                log.error("admin: the config no longer loads, sources kept as they were: %s", exc)
                self._overrides_stamp = self._stamp()

    def _use(self, settings: Settings) -> None:
        self.settings = settings
        self.sources = {source.id: source for source in settings.sources}
        self._overrides_stamp = self._stamp()

    # --- run now ------------------------------------------------------------------------------------

    def _run_now(self, request: Request, source_id: str) -> tuple[int, Any, dict[str, str]]:
        source = self._configured(source_id)
        options = _body(request, required=False)
        full = options.pop("full", False)
        if not isinstance(full, bool) or options:
            raise ClientError(400, 'the body may only hold {"full": true|false}')
        body = self._start(source, full, request.root_url.rstrip("/"))
        return 202, body, {"Location": body.get("href") or body["runs"]}

    def _run_many(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        options = _body(request, required=False)
        full = options.pop("full", False)
        ids = options.pop("sources", None)
        if not isinstance(full, bool) or options:
            raise ClientError(400, 'the body may only hold {"sources": [source ids], "full": true|false}')
        if ids is None:
            sources = [source for source in self.sources.values() if source.enabled]
        elif isinstance(ids, list) and ids and all(isinstance(i, str) for i in ids):
            sources = [self._configured(source_id) for source_id in dict.fromkeys(ids)]
        else:
            raise ClientError(400, "sources: give a non-empty list of source ids, or leave it out for all")
        if not sources:
            raise ClientError(409, "no source is enabled: nothing to run")
        base = request.root_url.rstrip("/")
        runs = []
        for source in sources:
            try:
                runs.append(self._start(source, full, base))
            except ClientError as exc:
                runs.append({"source": source.id, "status": "refused", "error": str(exc)})
        return 202, {"runs": runs}, {}

    def _start(self, source: Source, full: bool, base: str) -> Json:
        """Start a harvest of ``source`` in a thread and say where to follow it (``ClientError`` 409 when a
        run of it goes on, 503 when it cannot start)."""
        started = _Started()
        thread = threading.Thread(
            target=self._harvest, args=(source, full, started), name=f"admin-run-{source.id}", daemon=True
        )
        self.threads = [t for t in self.threads if t.is_alive()] + [thread]
        thread.start()
        started.event.wait(STARTED_WAIT)
        if started.overlap is not None:
            raise ClientError(409, started.overlap)
        if started.failure is not None:
            raise ClientError(503, f"the harvest of {source.id} could not start: {started.failure}")
        if started.run_id is None:  # still waiting for the ledger: point at the source's runs
            return {"source": source.id, "status": "starting", "runs": f"{base}/runs?source={source.id}"}
        location = f"{base}/runs/{started.run_id}"
        return {"source": source.id, "run": started.run_id, "status": "running", "href": location}

    def _cancel(self, request: Request, run_id: int) -> tuple[int, Any, dict[str, str]]:
        run = self._found_run(run_id)
        stop = self._active.get(run_id)
        if run.finished is not None:
            raise ClientError(409, f"run #{run_id} has ended ({run.status}): there is nothing to cancel")
        if stop is None:
            raise ClientError(
                409,
                f"run #{run_id} of {run.source_id} is not running in this server process: it runs in another"
                " (terracat harvest, the scheduler, another server worker); stop it there",
            )
        stop.set()
        href = f"{request.root_url.rstrip('/')}/runs/{run_id}"
        body = {"run": run_id, "source": run.source_id, "status": "stopping", "href": href}
        return 202, body, {"Location": href}

    def _harvest(self, source: Source, full: bool, started: _Started) -> None:
        """One run, as ``terracat harvest`` does it, with its own store and ledger connections."""
        ledger: Ledger | None = None
        try:
            ledger = _AnnouncingLedger(open_ledger(self.settings.harvest.ledger), started, self._active)
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
                    stop=started.stop,
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
            if started.run_id is not None:
                self._active.pop(started.run_id, None)
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
                self._ledger = open_ledger(self.settings.harvest.ledger)
            return self._ledger

    def _ledger_exists(self) -> bool:
        """Whether there is a ledger to read: the API must not create an empty one by reading."""
        return self._ledger is not None or ledger_exists(self.settings.harvest.ledger)

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
        if source.protocol in protocols.NETWORK_PROTOCOLS:  # its url is http(s): Source checks it
            policy = config.network_policy(self.settings)
            try:
                url_safety.check_url(source.url or "", policy)
            except url_safety.RefusedAddress as exc:
                raise ClientError(400, f"url: {exc}") from None
            url_safety.restrict(source, policy)  # and its connections: redirects, DNS rebinding
            return source
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
        self.stop = threading.Event()  # set by a cancel: the run stops at its next page boundary
        self.run_id: int | None = None
        self.overlap: str | None = None
        self.failure: str | None = None  # why the run could not even start (the ledger, the index)


class _AnnouncingLedger(Delegating):
    """The ledger, telling the request that started a run its id as soon as the run has one."""

    def __init__(self, ledger: Ledger, started: _Started, active: dict[int, threading.Event]):
        super().__init__(ledger)
        self.started = started
        self.active = active

    def start_run(self, source_id: str) -> int:
        run_id = super().start_run(source_id)
        self.active[run_id] = self.started.stop
        self.started.run_id = run_id
        self.started.event.set()
        return run_id


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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


def mounts(settings: Settings, config: str | Path | None = None) -> dict[str, Any]:
    """What ``api.server.create_app`` mounts for the admin API: it at ``/admin``."""
    return {"/admin": AdminAPI(settings, config=config)}


def _next_run(source: Source) -> str | None:
    """When the source's cron fires next (UTC, RFC 3339), ``None`` when it has none or is disabled. It is
    what the configuration says, which the scheduler follows within its ``harvest.reload_interval``."""
    if not source.enabled or source.schedule is None:
        return None
    fire = cron_trigger(source.schedule).get_next_fire_time(None, datetime.now(UTC))
    return fire.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if fire is not None else None
