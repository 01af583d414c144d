"""The OGC API - Records server: pygeoapi with our record provider, one federated collection
(``catalogue``) and one collection per pole.

What pygeoapi 0.21 needs, and how it is met here:

- Its Flask app (``pygeoapi.flask_app``) reads ``PYGEOAPI_CONFIG`` and ``PYGEOAPI_OPENAPI`` (two files)
  once, at import, into module globals. We write both files (config YAML, OpenAPI JSON made by
  pygeoapi's own generator from the same config) in ``pygeoapi/`` beside the store file, set the
  variables, and load a fresh copy of that module per ``create_app`` call, so that two apps in one
  process (tests, the demo) never serve each other's config.
- It declares the pre-1.0 Records conformance URIs (``…/conf/core``, which 1.0 does not have), grows
  its conformance list on every ``/conformance`` request, has no ``/sortables``, describes catalogues
  as plain collections, serves records as ``application/json`` and HTML without a charset, and answers
  ``sortby=`` / ``f=csv`` on records with a 500. We replace the conformance view with the classes we
  meet, add ``/collections/{id}/sortables`` and ``/facets``, complete catalogue descriptions from the
  store (``api.catalog``), link the catalogues from the landing page (autodiscovery) and fix those
  responses in Flask hooks on the app.
- It reads ``filter`` as ECQL, knows only ``filter-lang=cql-text``/``cql-json`` and refuses an empty
  ``bbox``. The record search view (``search_records``) parses CQL2 text and JSON with our parser and
  hands the provider the result, and drops the Record Core parameters given empty.
- Its OpenAPI document lacks our search parameters and points at remote schemas: ``api.openapi``
  completes it and makes it whole.

Records are also served as FAIR JSON-LD (``f=jsonld``, ``Accept: application/ld+json``, embedded in
record pages) by ``api.linked_data`` around pygeoapi.

``create_app`` returns a WSGI app with pygeoapi at ``/``, the portal wrapped around it (``api.portal``:
browsers asking for HTML at ``/`` get the search page), and other WSGI apps (the admin API) mounted
beside it by path prefix through ``mounts``.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import itertools
import json
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from html import escape
from http import HTTPStatus
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import jinja2
import msgspec
import yaml
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from api import catalog, openapi
from api.catalog import CATALOG_MEDIA_TYPE
from api.linked_data import LinkedData
from api.operations import with_operations
from api.portal import with_portal
from api.provider import FACET_PROPERTIES, REQUEST_FILTER, fixed_filter, shared_store, store_settings
from catalogue.query import DEFAULT_BUCKETS, FACETS, MAX_LIMIT, SORTABLES, QueryError, parse_filter
from harvester.source import POLES

Json = dict[str, Any]
WSGIApp = Callable[..., Any]

log = logging.getLogger(__name__)

CATALOGUE = "catalogue"
PROVIDER = "api.provider.TerracatProvider"
DEFAULT_LIMIT = 10
MAX_ITEMS = min(1000, MAX_LIMIT)

_RECORDS = "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf"
_SORTABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/sortables"

_FEATURES_3 = "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf"
_CQL2 = "http://www.opengis.net/spec/cql2/1.0/conf"
_FACETS = "http://www.opengis.net/spec/ogcapi-records-2/1.0/conf"

# The classes this server meets. Records 1.0 URIs as clause 2 of the standard spells them, plus the
# abstract test suite's spelling where the two differ (ANCHORS.md §2.2: ``record-api``/``records-api``,
# ``filtering``/``cql-filter``/``record-filter``, ``searchable-catalog-sorting``/``searchable-catalog/
# sorting``...), so that a client testing either finds it. Searchable catalogue: Records API, Record
# Core, Record Collection and Record Core Query Parameters (``externalIds`` included), OGC API Features
# Core, with Sorting and Filtering (CQL2 through ``catalogue.query.parse_filter``) at every record
# collection. Autodiscovery: the landing page and the portal's pages link the catalogues with
# ``rel=ogc-catalog``. Not declared: crawlable catalogue (no static catalogue files), Features Part 3
# ``queryables-query-parameters`` (free-text queryables such as ``title`` are searched with ``q`` and
# ``filter``, not by equality). CQL2: what ``catalogue.stores.sqlite_filter`` evaluates in full; not
# ``basic-spatial-functions-plus`` (``S_INTERSECTS`` tests a polygon's envelope), ``temporal-functions``
# and ``array-functions`` (only some of their operators).
CQL2_CLASSES = [
    "cql2-text",
    "cql2-json",
    "basic-cql2",
    "advanced-comparison-operators",
    "case-insensitive-comparison",
    "accent-insensitive-comparison",
    "basic-spatial-functions",
]
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/landing-page",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/collections",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    f"{_FEATURES_3}/queryables",
    f"{_FEATURES_3}/filter",
    f"{_FEATURES_3}/features-filter",
    f"{_RECORDS}/searchable-catalog",
    f"{_RECORDS}/searchable-catalog-filtering",
    f"{_RECORDS}/searchable-catalog/filtering",
    f"{_RECORDS}/searchable-catalog-sorting",
    f"{_RECORDS}/searchable-catalog/sorting",
    f"{_RECORDS}/record-core",
    f"{_RECORDS}/record-collection",
    f"{_RECORDS}/record-core-query-parameters",
    f"{_RECORDS}/record-api",
    f"{_RECORDS}/records-api",
    f"{_RECORDS}/sorting",
    f"{_RECORDS}/filtering",
    f"{_RECORDS}/cql-filter",
    f"{_RECORDS}/record-filter",
    f"{_RECORDS}/json",
    f"{_RECORDS}/html",
    f"{_RECORDS}/oas30",
    f"{_RECORDS}/autodiscovery",
    f"{_FACETS}/simple",
    f"{_FACETS}/advanced",
    *(f"{_CQL2}/{name}" for name in CQL2_CLASSES),
]

OGC_CATALOG_REL = "http://www.opengis.net/def/rel/ogc/1.0/ogc-catalog"
FACETS_MEDIA_TYPE = "application/facets+json"  # Records Part 2 draft, /req/simple/media_type


def collection_id(pole: str) -> str:
    """The collection of a pole: its name lower-cased, letters and digits only, ``@`` read as the
    ``a`` it stands for (``ForM@Ter`` -> ``formater``)."""
    return re.sub(r"[^a-z0-9]", "", pole.lower().replace("@", "a"))


def pygeoapi_config(store_settings: Mapping[str, Any], base_url: str, poles: Sequence[str] = POLES) -> Json:
    """The pygeoapi configuration for our catalogue at ``base_url``."""
    base_url = base_url.rstrip("/")
    parts = urlsplit(base_url)
    resources = {CATALOGUE: _collection(CATALOGUE, store_settings, base_url)}
    for pole in poles:
        resources[collection_id(pole)] = _collection(collection_id(pole), store_settings, base_url, pole)
    return {
        "server": {
            "bind": {"host": parts.hostname or "127.0.0.1", "port": parts.port or 80},
            "url": base_url,
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "languages": ["en-US", "fr-FR"],
            "limits": {"default_items": DEFAULT_LIMIT, "max_items": MAX_ITEMS, "on_exceed": "throttle"},
            "pretty_print": False,
            "map": {
                "url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                "attribution": "&copy; <a href='https://openstreetmap.org/copyright'>OpenStreetMap</a>",
            },
        },
        "logging": {"level": "ERROR"},
        "metadata": _metadata(base_url),
        "resources": resources,
    }


def _metadata(base_url: str) -> Json:
    return {
        "identification": {
            "title": {"en": "Data Terra catalogue", "fr": "Catalogue Data Terra"},
            "description": {
                "en": "Federated metadata catalogue of the Data Terra research infrastructure"
                " (AERIS, ForM@Ter, ODATIS, THEIA), as OGC API - Records.",
                "fr": "Catalogue fédéré des métadonnées de l'infrastructure de recherche Data Terra"
                " (AERIS, ForM@Ter, ODATIS, THEIA), en OGC API - Records.",
            },
            "keywords": {
                "en": ["Data Terra", "Earth system", "metadata", "catalogue"],
                "fr": ["Data Terra", "système Terre", "métadonnées", "catalogue"],
            },
            "keywords_type": "theme",
            "terms_of_service": "https://www.data-terra.org/",
            "url": base_url,
        },
        "license": {
            "name": "Each record keeps its provider's licence",
            "url": "https://www.data-terra.org/",
        },
        "provider": {"name": "Data Terra", "url": "https://www.data-terra.org/"},
        "contact": {"name": "Data Terra", "url": "https://www.data-terra.org/", "role": "pointOfContact"},
    }


def _collection(name: str, store_settings: Mapping[str, Any], base_url: str, pole: str | None = None) -> Json:
    """A record collection: the federated catalogue, or one pole's records when ``pole`` is given."""
    url = f"{base_url}/collections/{name}"
    provider: Json = {
        "type": "record",
        "name": PROVIDER,
        "data": dict(store_settings),
        "id_field": "id",
        "title_field": "title",
        # Only so that pygeoapi's OpenAPI generator lists the ``datetime`` parameter; not a field.
        "time_field": "time",
        "collection_url": url,
    }
    if pole:
        provider["filter"] = {"pole": pole}
        title = {"en": f"{pole} records", "fr": f"Fiches {pole}"}
        description = {
            "en": f"The records of the Data Terra pole {pole}.",
            "fr": f"Les fiches du pôle Data Terra {pole}.",
        }
    else:
        title = {"en": "Data Terra federated catalogue", "fr": "Catalogue fédéré Data Terra"}
        description = {
            "en": "Every record harvested from the four Data Terra poles, searchable together.",
            "fr": "Toutes les fiches moissonnées auprès des quatre pôles de Data Terra, interrogeables"
            " ensemble.",
        }
    return {
        "type": "collection",
        "title": title,
        "description": description,
        "keywords": {"en": ["Data Terra", "metadata", *([pole] if pole else [])], "fr": ["Data Terra"]},
        "links": [
            {
                "type": "application/schema+json",
                "rel": _SORTABLES_REL,
                "title": "Sortables",
                "href": f"{url}/sortables",
            }
        ],
        "extents": {
            "spatial": {
                "bbox": [-180, -90, 180, 90],
                "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
            }
        },
        "providers": [provider],
    }


def create_app(
    store_settings: Mapping[str, Any],
    base_url: str,
    *,
    poles: Sequence[str] = POLES,
    mounts: Mapping[str, WSGIApp] | None = None,
    ledger: str | Path | None = None,
) -> WSGIApp:
    """The WSGI app serving the store at ``base_url`` (the URL clients use: links are built on it),
    with ``mounts`` (path prefix -> WSGI app) beside pygeoapi, and ``/health`` and ``/metrics`` before
    all of them (``api.operations``; ``ledger``: the harvest ledger whose runs they report)."""
    config = pygeoapi_config(store_settings, base_url, poles)
    with _load_lock:
        module = _load_pygeoapi(*_write_config(config, _config_dir(store_settings)))
    _extend(module)
    api = LinkedData(module.APP, store_settings, base_url)
    app = DispatcherMiddleware(with_portal(api, store_settings, base_url), dict(mounts or {}))
    routes = module.APP.url_map
    return with_operations(app, store_settings, routes=routes, mounts=list(mounts or {}), ledger=ledger)


def serve(
    store_settings: Mapping[str, Any],
    host: str,
    port: int,
    public_url: str | None = None,
    *,
    poles: Sequence[str] = POLES,
    workers: int = 1,
    ledger: str | Path | None = None,
    mounts: Mapping[str, WSGIApp] | None = None,
) -> None:
    """Serve the catalogue until interrupted (Ctrl-C, SIGTERM); the URL is printed once the port is
    bound, so a caller reading it knows the server is there.

    One worker is one process served by waitress. Answering a search is CPU-bound Python under one GIL,
    so using more cores takes more processes: gunicorn's arbiter binds the port, forks ``workers``
    processes that accept on it, restarts one that dies, and on SIGTERM or SIGINT stops them all and
    exits. Its ``sync`` worker answers one connection at a time and closes it: an idle process takes
    the next connection from the kernel, so requests are spread over the processes one by one. Worker
    threads with keep-alive connections (gunicorn's ``gthread``) measured half the throughput on 2 cores
    (``bench/api.py``): a connection stays with the process that accepted it, busy or not, and requests
    wait on hand-overs between threads for the GIL. A slow client holds a sync worker for as long as it
    sends or reads: facing the Internet, the server belongs behind a buffering reverse proxy (nginx...),
    as gunicorn's documentation says. Each worker builds the app and opens the store itself, after the
    fork: a SQLite connection and the store's column snapshot must not be shared between processes."""
    base_url = (public_url or f"http://{_url_host(host)}:{port}").rstrip("/")
    if workers > 1:
        _serve_workers(store_settings, host, port, base_url, poles, workers, ledger, mounts)
        return
    import waitress

    from api.provider import close_stores

    app = create_app(store_settings, base_url, poles=poles, ledger=ledger, mounts=mounts)
    warm_up(store_settings)
    # waitress accepts 100 connections by default, and a client on a busy keep-alive connection never
    # gives its place up: the 101st waited in the listen backlog until it timed out (bench/load.py,
    # 200 clients). Admitted, connections share the threads in turn; poll() has no 1024-descriptor cap.
    server = waitress.create_server(
        app, host=host, port=port, threads=8, ident="terracat", connection_limit=1000, asyncore_use_poll=True
    )
    print(f"terracat: OGC API - Records at {base_url} (listening on {host}:{port})", flush=True)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM stops it as Ctrl-C does
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        close_stores()


def _serve_workers(
    store_settings: Mapping[str, Any],
    host: str,
    port: int,
    base_url: str,
    poles: Sequence[str],
    workers: int,
    ledger: str | Path | None,
    mounts: Mapping[str, WSGIApp] | None = None,
) -> None:
    """``serve`` with ``workers`` gunicorn processes; returns when they have all stopped. The workers
    write their request metrics to a folder of this server's own (``PROMETHEUS_MULTIPROC_DIR``, set
    before they fork), which any of them sums up for ``/metrics``; it is removed when they stop."""
    from gunicorn.app.base import BaseApplication

    from api.provider import close_stores

    settings = dict(store_settings)
    options: dict[str, Any] = {
        "bind": [f"[{host}]:{port}" if ":" in host else f"{host or '0.0.0.0'}:{port}"],
        "workers": workers,
        "worker_class": "sync",
        "preload_app": False,  # the app, and so the store, are made in each worker
        "timeout": 60,  # a worker silent for longer (a search cannot be) is restarted
        "graceful_timeout": 10,
        # Its own lines as ours: JSON when not on a terminal, at the command's level (-v: INFO).
        "logger_class": "api.logs.GunicornLogger",
        "loglevel": logging.getLevelName(min(logging.root.level, logging.WARNING)).lower(),
        "proc_name": "terracat",
        "when_ready": lambda arbiter: print(
            f"terracat: OGC API - Records at {base_url} (listening on {host}:{port},"
            f" {workers} worker processes)",
            flush=True,
        ),
        "post_worker_init": lambda worker: warm_up(settings),
        "worker_exit": lambda arbiter, worker: close_stores(),
    }

    class Server(BaseApplication):
        def load_config(self) -> None:
            for name, value in options.items():
                self.cfg.set(name, value)

        def load(self) -> WSGIApp:
            return create_app(settings, base_url, poles=poles, ledger=ledger, mounts=mounts)

    metrics = tempfile.mkdtemp(prefix="terracat-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics
    arbiter = os.getpid()
    try:
        Server().run()
    except SystemExit as stop:  # the arbiter exits the process; a clean stop is a return here
        if stop.code:
            raise
    finally:
        if os.getpid() == arbiter:  # a worker leaves through here too: the folder is not its to remove
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]
            shutil.rmtree(metrics, ignore_errors=True)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def warm_up(store_settings: Mapping[str, Any]) -> None:
    """Open the store and load what it keeps in memory (the SQLite store's column snapshot: a second
    or so per 100 000 records) before serving, rather than in the first search a client waits for."""
    from catalogue.query import Query

    try:
        shared_store(store_settings).search(Query(limit=1))
    except Exception:
        log.exception("the catalogue index cannot be read: searches fail until it can")


def _url_host(host: str) -> str:
    """The host part of our own URL: a wildcard address is not one clients can use."""
    if host in ("", "0.0.0.0", "::"):
        return "localhost"
    return f"[{host}]" if ":" in host else host


# --- loading pygeoapi -----------------------------------------------------------------------------


def _config_dir(store_settings: Mapping[str, Any]) -> Path:
    """Where the generated pygeoapi files go: beside the store file, else in a temporary folder."""
    path = store_settings.get("path")
    if path:
        return Path(path).resolve().parent / "pygeoapi"
    return Path(tempfile.mkdtemp(prefix="terracat-pygeoapi-"))


def _write_config(config: Json, folder: Path) -> tuple[Path, Path]:
    """Write the config and its OpenAPI document (made by pygeoapi's own generator). The names carry
    a digest of the config, so servers on one store with different URLs never read each other's."""
    from pygeoapi.openapi import get_oas
    from pygeoapi.util import to_json

    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(config, default=str)  # Path and other values as plain text, order kept
    digest = hashlib.sha1(text.encode()).hexdigest()[:12]
    config_path = folder / f"pygeoapi-config-{digest}.yml"
    openapi_path = folder / f"pygeoapi-openapi-{digest}.json"
    plain = json.loads(text)
    _replace(config_path, yaml.safe_dump(plain, allow_unicode=True, sort_keys=False))
    catalogues = [name for name, resource in plain["resources"].items() if _is_catalogue(resource)]
    _replace(openapi_path, to_json(openapi.complete(get_oas(plain), catalogues), pretty=False))
    return config_path, openapi_path


def _replace(path: Path, text: str) -> None:
    """Write atomically: another server process may be reading the previous version."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


_load_lock = threading.Lock()
_load_count = itertools.count(1)


def _load_pygeoapi(config_path: Path, openapi_path: Path) -> ModuleType:
    """A fresh copy of ``pygeoapi.flask_app`` reading our files (it reads them at import; the caller
    holds ``_load_lock``, as the environment variables are process-wide)."""
    spec = importlib.util.find_spec("pygeoapi.flask_app")
    assert spec is not None and spec.origin is not None, "pygeoapi is not installed"
    os.environ["PYGEOAPI_CONFIG"] = str(config_path)
    os.environ["PYGEOAPI_OPENAPI"] = str(openapi_path)
    name = f"pygeoapi.flask_app_terracat{next(_load_count)}"
    copy_spec = importlib.util.spec_from_file_location(name, spec.origin)
    assert copy_spec is not None and copy_spec.loader is not None
    module = importlib.util.module_from_spec(copy_spec)
    sys.modules[name] = module  # Flask finds the app's root folder (static files) through it
    copy_spec.loader.exec_module(module)
    return module


# --- what we add to pygeoapi ----------------------------------------------------------------------


def _extend(module: ModuleType) -> None:
    """Our conformance, record search and facets views, the sortables endpoint and the response
    fixes."""
    from flask import request

    app = module.APP
    _speed_up_pygeoapi()
    app.view_functions["pygeoapi.conformance"] = lambda: module.execute_from_flask(conformance, request)
    pygeoapi_items = app.view_functions["pygeoapi.collection_items"]

    def items_view(collection_id: str, item_id: str | None = None) -> Any:
        # A POST that is not a record to add (pygeoapi's transactions) is a search, whatever its type:
        # pygeoapi answers a POST without Content-Type with no response at all (a 500).
        searching = request.method == "GET" or (
            request.method == "POST" and request.mimetype != "application/geo+json"
        )
        if item_id is None and searching:
            return module.execute_from_flask(search_records, request, collection_id, skip_valid_check=True)
        return pygeoapi_items(collection_id, item_id)

    app.view_functions["pygeoapi.collection_items"] = items_view
    app.add_url_rule(
        "/collections/<path:collection_id>/sortables",
        "terracat_sortables",
        lambda collection_id: module.execute_from_flask(sortables, request, collection_id),
    )
    app.add_url_rule(
        "/collections/<path:collection_id>/facets",
        "terracat_facets",
        lambda collection_id: module.execute_from_flask(facets, request, collection_id),
    )
    _hold_pygeoapi_logs(app)  # first: what the next hooks answer is held too
    app.before_request(lambda: _refuse_what_pygeoapi_cannot_answer(module))
    app.after_request(lambda response: _complete_responses(response, module.CONFIG))


def _speed_up_pygeoapi() -> None:
    """Costs of pygeoapi's views that buy nothing here, cut once per process (module globals of
    pygeoapi, pinned version):

    - its JSON answers are written by ``json.dumps`` with a Python ``default`` hook: msgspec writes the
      same JSON five times faster (same members in the same order, non-ASCII characters as UTF-8
      rather than ``\\u`` escapes), ~0.5 ms of a search's page;
    - every ``bbox`` goes through a pyproj transformation built anew for each request, also from CRS84
      to the CRS84 our records are stored in: that identity keeps the box as it is (another
      ``bbox-crs`` is transformed as before), ~0.4 ms;
    - every HTML page makes a new Jinja environment, which compiles its templates again: 30 ms a page.
      Its environments share a cache of compiled templates (Jinja's bytecode cache, checked against
      each template's source), which makes pages ten times faster and changes nothing else."""
    from pygeoapi import util
    from pygeoapi.api import itemtypes

    if isinstance(util.Environment, functools.partial):
        return
    plain_json, transform_bbox = itemtypes.to_json, itemtypes.transform_bbox
    encoder = msgspec.json.Encoder(enc_hook=util.json_serial, decimal_format="number")

    def to_json(content: Any, pretty: bool = False) -> str:
        if pretty:
            return plain_json(content, pretty)
        try:
            return encoder.encode(content).decode()
        except (TypeError, ValueError):  # what msgspec cannot write, json may (an integer key...)
            return plain_json(content, pretty)

    def transform_bbox_unless_same(bbox: list, from_crs: str, to_crs: str) -> list:
        return list(bbox) if from_crs == to_crs else transform_bbox(bbox, from_crs, to_crs)

    itemtypes.to_json = to_json
    itemtypes.transform_bbox = transform_bbox_unless_same
    util.Environment = functools.partial(jinja2.Environment, bytecode_cache=_CompiledTemplates())


class _CompiledTemplates(jinja2.BytecodeCache):
    """Jinja's bytecode cache in memory: a template's compiled code, by template (Jinja checks it
    against the template's source before using it)."""

    def __init__(self) -> None:
        self.codes: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if (code := self.codes.get(bucket.key)) is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.codes[bucket.key] = bucket.bytecode_to_string()


# --- pygeoapi's log ------------------------------------------------------------------------------
# pygeoapi logs an ERROR, often with a traceback, for every client error it answers (a bad ``limit``,
# an unknown format), and a WARNING for a request without ``offset``: a server log full of errors that
# are not the server's hides the ones that are. What its loggers say at WARNING or above while a request
# is answered is held until the answer's status is known: a 5xx logs it as it was (traceback included),
# anything else logs it at INFO as a remark on the request.

_HELD: ContextVar[list[logging.LogRecord] | None] = ContextVar("terracat_held_log", default=None)


class _HoldWhileAnswering(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        held = _HELD.get()
        if held is None or record.levelno < logging.WARNING:
            return True
        held.append(record)
        return False


_HOLD = _HoldWhileAnswering()


def _hold_pygeoapi_logs(app: Any) -> None:
    """Hold what pygeoapi's module loggers say during ``app``'s requests (filters do not apply to
    records propagated from child loggers: each one gets it). Flask's own log of an unhandled
    exception is not held."""
    for name, logger in list(logging.root.manager.loggerDict.items()):
        module_logger = name.split(".")[0] == "pygeoapi" and not name.startswith("pygeoapi.flask_app")
        if module_logger and isinstance(logger, logging.Logger):
            logger.addFilter(_HOLD)  # once: a logger keeps one copy of a filter
    app.before_request(_start_holding)
    app.after_request(_release_held_log)
    app.teardown_request(_stop_holding)


def _start_holding() -> None:
    _HELD.set([])


def _stop_holding(error: BaseException | None = None) -> None:
    _HELD.set(None)


def _release_held_log(response: Any) -> Any:
    from flask import request

    held = _HELD.get()
    _stop_holding()
    for record in held or ():
        if response.status_code >= HTTPStatus.INTERNAL_SERVER_ERROR:
            logging.getLogger(record.name).handle(record)
        else:
            status = response.status_code
            log.info("%s %s answered %d: %s", request.method, request.path, status, record.getMessage())
    return response


def _refuse_what_pygeoapi_cannot_answer(module: ModuleType) -> Any:
    """A 400 for item requests pygeoapi would answer with a 500: an empty ``sortby`` item (it reads
    ``item[0]``) and ``f=csv`` (its CSV formatter wants a feature provider)."""
    from flask import request

    if request.endpoint != "pygeoapi.collection_items":
        return None
    if "" in request.args.get("sortby", "x").split(","):
        problem = "sortby has an empty item"
    elif request.args.get("f") == "csv":
        problem = "records are not offered as CSV"
    else:
        return None

    def refuse(api: Any, api_request: Any) -> tuple[dict, int, str]:
        headers = api_request.get_response_headers(**api.api_headers)
        return api.get_exception(HTTPStatus.BAD_REQUEST, headers, "json", "InvalidParameterValue", problem)

    return module.execute_from_flask(refuse, request, skip_valid_check=True)


# Record Core query parameters that, given empty, are as if absent (``/req/record-core-query-
# parameters/empty-value``): pygeoapi would refuse an empty ``bbox`` or ``limit``.
_EMPTY_MEANS_ABSENT = ("bbox", "datetime", "limit", "q", "type", "ids", "externalIds", "facets")
_FILTER_PARAMETERS = ("filter", "filter-lang", "filter-crs")
_CRS84 = ("http://www.opengis.net/def/crs/OGC/1.3/CRS84", "https://www.opengis.net/def/crs/OGC/1.3/CRS84")


class _FilterParsed(dict):
    """Request parameters whose ``filter`` we parsed already: pygeoapi's ``get`` of a filter
    parameter finds none (it would parse ``filter`` as ECQL and refuse ``filter-lang=cql2-text``),
    while its links, built from ``items()``, keep them all."""

    def get(self, key: Any, default: Any = None) -> Any:
        return default if key in _FILTER_PARAMETERS else super().get(key, default)


def search_records(api: Any, request: Any, name: str) -> tuple[dict, int, str]:
    """``GET /collections/{id}/items`` (and ``POST`` of a CQL2 JSON filter): pygeoapi's, with empty core
    parameters dropped and the CQL2 filter parsed by ``catalogue.query.parse_filter`` (a 400 with the
    parser's reason when it is not valid), then handed to the provider (``REQUEST_FILTER``)."""
    from pygeoapi.api import itemtypes

    params = {
        key: value
        for key, value in request.params.items()
        if not (key in _EMPTY_MEANS_ABSENT and not value.strip())
    }
    params.setdefault("offset", "0")  # pygeoapi logs a warning for every request without one
    try:
        parsed = request_filter(params, request.data)
    except QueryError as err:
        problem = str(err)  # answered outside the handler: pygeoapi logs a traceback inside one
    else:
        problem = None
    if problem is not None:
        headers = request.get_response_headers(**api.api_headers)
        return api.get_exception(
            HTTPStatus.BAD_REQUEST, headers, request.format, "InvalidParameterValue", problem
        )
    request._args = _FilterParsed(params)
    request._data = b""  # parsed here already (pygeoapi would parse it again without our fixes)
    token = REQUEST_FILTER.set(parsed)
    try:
        return itemtypes.get_collection_items(api, request, name)
    finally:
        REQUEST_FILTER.reset(token)


def request_filter(params: Mapping[str, str], body: bytes = b"") -> Any:
    """The parsed filter of the request: its ``filter`` parameter, else a CQL2 JSON request body (what
    OWSLib's ``cql=`` posts), else ``None``. ``QueryError`` for a filter that is not valid CQL2 of its
    ``filter-lang`` (cql2-text by default), or a ``filter-crs`` other than CRS84, the only one we read
    coordinates in."""
    crs = params.get("filter-crs")
    if crs and crs not in _CRS84:
        raise QueryError(f"filter-crs must be {_CRS84[0]} (WGS 84 longitude, latitude), got {crs!r}")
    if params.get("filter") is None and body.strip():
        try:
            return parse_filter(body.decode("utf-8"), "cql2-json")
        except UnicodeDecodeError:
            raise QueryError("the request body is not UTF-8 text") from None
    return parse_filter(params.get("filter"), params.get("filter-lang") or "cql2-text")


def conformance(api: Any, request: Any) -> tuple[dict, int, str]:
    """``/conformance`` in pygeoapi's API-function shape (``api``, ``APIRequest``)."""
    from pygeoapi.api import F_HTML
    from pygeoapi.util import render_j2_template, to_json

    headers = request.get_response_headers(**api.api_headers)
    content = {"conformsTo": CONFORMANCE}
    if request.format == F_HTML:
        html = render_j2_template(
            api.tpl_config, api.config["server"]["templates"], "conformance.html", content, request.locale
        )
        return headers, HTTPStatus.OK, html
    return headers, HTTPStatus.OK, to_json(content, api.pretty_print)


def sortables(api: Any, request: Any, name: str) -> tuple[dict, int, str]:
    """``/collections/{id}/sortables`` (Records 1.0 Sorting): a JSON Schema of the sort keys."""
    from pygeoapi import l10n
    from pygeoapi.util import to_json

    headers = request.get_response_headers(**api.api_headers)
    resource = api.config["resources"].get(name)
    if not resource or not _is_catalogue(resource):
        return api.get_exception(
            HTTPStatus.NOT_FOUND, headers, request.format, "NotFound", "no such catalogue"
        )
    url = f"{api.get_collections_url()}/{name}/sortables"
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": url,
        "type": "object",
        "title": l10n.translate(resource["title"], request.locale),
        "properties": {field: _sortable(field, meaning) for field, meaning in SORTABLES.items()},
        "additionalProperties": False,
    }
    headers["Content-Type"] = "application/schema+json"
    return headers, HTTPStatus.OK, to_json(schema, api.pretty_print)


def _sortable(field: str, meaning: str) -> Json:
    spec: Json = {"title": field, "description": meaning, "type": "integer" if field == "fair" else "string"}
    if field in ("updated", "created", "start", "end"):
        spec["format"] = "date-time"
    return spec


def _is_catalogue(resource: Mapping[str, Any]) -> bool:
    return any(p.get("type") == "record" and p.get("name") == PROVIDER for p in resource.get("providers", []))


def facets(api: Any, request: Any, name: str) -> tuple[dict, int, str]:
    """``/collections/{id}/facets`` (Records Part 2 draft, Simple Facets): the facets a search of
    this catalogue may ask for with ``facets=``, each a ``term`` facet on a record property."""
    from pygeoapi import l10n
    from pygeoapi.util import to_json

    headers = request.get_response_headers(**api.api_headers)
    resource = api.config["resources"].get(name)
    if not resource or not _is_catalogue(resource):
        return api.get_exception(
            HTTPStatus.NOT_FOUND, headers, request.format, "NotFound", "no such catalogue"
        )
    content = {
        "id": name,
        "title": l10n.translate(resource["title"], request.locale),
        "facets": {
            facet: {
                "type": "term",
                "property": FACET_PROPERTIES[facet],
                "sortedBy": "count",
                "description": meaning,
            }
            for facet, meaning in FACETS.items()
        },
        "defaultBucketCount": DEFAULT_BUCKETS,
        "links": [
            {"rel": "self", "type": FACETS_MEDIA_TYPE, "href": f"{api.get_collections_url()}/{name}/facets"},
            {"rel": "collection", "type": CATALOG_MEDIA_TYPE, "href": f"{api.get_collections_url()}/{name}"},
        ],
    }
    headers["Content-Type"] = FACETS_MEDIA_TYPE
    return headers, HTTPStatus.OK, to_json(content, api.pretty_print)


def _complete_responses(response: Any, config: Mapping[str, Any]) -> Any:
    """Fix what pygeoapi's responses miss: records are served as ``application/geo+json`` (pygeoapi
    says ``application/json``), catalogue descriptions are completed as Records 1.0 catalog objects
    (``api.catalog``), the landing page links the catalogues for autodiscovery, and HTML says its
    charset (else clients guess Latin-1 and garble accents)."""
    from flask import request

    if response.status_code != HTTPStatus.OK or _header(response, "Content-Encoding"):
        return response
    resources, base_url = config["resources"], config["server"]["url"]
    content_type = _header(response, "Content-Type")
    if content_type == "text/html":
        response.headers["Content-Type"] = "text/html; charset=utf-8"
        if request.endpoint == "pygeoapi.landing_page":
            head = "".join(
                f'<link rel="{OGC_CATALOG_REL}" type="{link["type"]}" href="{escape(link["href"])}">\n'
                for link in _catalogue_links(resources, base_url)
            )
            response.set_data(response.get_data(as_text=True).replace("</head>", f"{head}</head>", 1))
    if content_type.split(";")[0].strip() != "application/json":
        return response
    if request.endpoint == "pygeoapi.collection_items":
        response.headers["Content-Type"] = "application/geo+json"
    elif request.endpoint == "pygeoapi.landing_page":
        document = json.loads(response.get_data())
        document["links"].extend(_catalogue_links(resources, base_url))
        response.set_data(json.dumps(document, ensure_ascii=False))
    elif request.endpoint == "pygeoapi.collections":
        document = json.loads(response.get_data())
        catalog_json = _wants_catalog_json(request)
        for description in document.get("collections", [document]):
            resource = resources.get(description.get("id"))
            if resource and _is_catalogue(resource):
                provider = _record_provider(resource)
                store = shared_store(store_settings(provider["data"]))
                fixed = fixed_filter(provider.get("filter") or {})
                hierarchy = _hierarchy(description["id"], resources, base_url)
                catalog.complete(description, store, fixed, catalog_json=catalog_json, hierarchy=hierarchy)
        response.set_data(json.dumps(document, ensure_ascii=False))
        if catalog_json and "collections" not in document:
            response.headers["Content-Type"] = CATALOG_MEDIA_TYPE
    return response


def _wants_catalog_json(request: Any) -> bool:
    """Whether a catalogue is served as ``application/ogc-catalog+json`` (Records JSON): always with
    ``f=json``, else unless the client's ``Accept`` names ``application/json`` and prefers it."""
    if "f" in request.args:
        return True
    accept = request.accept_mimetypes
    named = {value for value, _ in accept}
    return "application/json" not in named or (
        accept.quality(CATALOG_MEDIA_TYPE) >= accept.quality("application/json")
    )


def _catalogue_links(resources: Mapping[str, Any], base_url: str) -> list[Json]:
    """``rel=ogc-catalog`` links to the search endpoint of every catalogue (``/req/autodiscovery``)."""
    base = base_url.rstrip("/")
    return [
        {
            "rel": OGC_CATALOG_REL,
            "type": "application/geo+json",
            "title": resource["title"]["en"] if isinstance(resource["title"], dict) else resource["title"],
            "href": f"{base}/collections/{name}/items",
        }
        for name, resource in resources.items()
        if _is_catalogue(resource)
    ]


def _hierarchy(name: str, resources: Mapping[str, Any], base_url: str) -> list[Json]:
    """The federated catalogue's children are the poles' catalogues, whose parent it is."""

    def link(rel: str, other: str) -> Json:
        title = resources[other]["title"]
        return {
            "rel": rel,
            "type": CATALOG_MEDIA_TYPE,
            "title": title["en"] if isinstance(title, dict) else title,
            "href": f"{base_url.rstrip('/')}/collections/{other}",
        }

    if name == CATALOGUE:
        return [link("child", other) for other, r in resources.items() if other != name and _is_catalogue(r)]
    return [link("parent", CATALOGUE)] if CATALOGUE in resources else []


def _record_provider(resource: Mapping[str, Any]) -> Json:
    return next(p for p in resource["providers"] if p.get("type") == "record" and p.get("name") == PROVIDER)


def _header(response: Any, name: str) -> str:
    """A response header whatever its case: pygeoapi replaces Flask's headers with a plain dict."""
    return next((v for k, v in response.headers.items() if k.lower() == name.lower()), "")
