"""The OGC API - Records server: pygeoapi with our record provider, one federated collection
(``catalogue``) and one collection per pole.

What pygeoapi 0.21 needs, and how it is met here:

- Its Flask app (``pygeoapi.flask_app``) reads ``PYGEOAPI_CONFIG`` and ``PYGEOAPI_OPENAPI`` (two files)
  once, at import, into module globals. We write both files (config YAML, OpenAPI JSON made by
  pygeoapi's own generator from the same config) in ``pygeoapi/`` beside the store file, set the
  variables, and load a fresh copy of that module per ``create_app`` call, so that two apps in one
  process (tests, the demo) never serve each other's config.
- It declares the pre-1.0 Records conformance URIs (``…/conf/core``, which 1.0 does not have), grows
  its conformance list on every ``/conformance`` request, has no ``/sortables``, leaves
  ``type: Collection`` and ``defaultSortOrder`` out of catalogue descriptions, serves records as
  ``application/json`` and HTML without a charset, and answers ``sortby=`` / ``f=csv`` on records
  with a 500. We replace the conformance view with the classes we meet, add
  ``/collections/{id}/sortables`` and fix those responses in Flask hooks on the app.

Records are also served as FAIR JSON-LD (``f=jsonld``, ``Accept: application/ld+json``, embedded in
record pages) by ``api.linked_data`` around pygeoapi.

``create_app`` returns a WSGI app with pygeoapi at ``/``; other WSGI apps (admin API, portal) are
mounted beside it by path prefix through ``mounts``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import json
import os
import re
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import yaml
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from api.linked_data import LinkedData
from catalogue.query import MAX_LIMIT, SORTABLES
from harvester.source import POLES

Json = dict[str, Any]
WSGIApp = Callable[..., Any]

CATALOGUE = "catalogue"
PROVIDER = "api.provider.TerracatProvider"
DEFAULT_LIMIT = 10
MAX_ITEMS = min(1000, MAX_LIMIT)

_RECORDS = "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf"
_SORTABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/sortables"

# The classes this server meets. Records 1.0 URIs as clause 2 of the standard spells them, plus the
# abstract test suite's spelling where the two differ (see ANCHORS.md §2.2). Not declared yet:
# filtering (no CQL2 in our query model), autodiscovery, crawlable catalogue.
# Declared only where implemented in full: record-core-query-parameters (and so the searchable-catalog
# deployment classes) also needs ``externalIds``, and filtering needs CQL2; both come with the OGC API
# Records issue.
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
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    f"{_RECORDS}/record-core",
    f"{_RECORDS}/record-collection",
    f"{_RECORDS}/record-api",
    f"{_RECORDS}/records-api",
    f"{_RECORDS}/sorting",
    f"{_RECORDS}/json",
    f"{_RECORDS}/html",
    f"{_RECORDS}/oas30",
]

# What the store does without ``sortby``: id order (relevance first when ``q`` is given).
DEFAULT_SORT_ORDER = [{"field": "id", "direction": "asc"}]


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
) -> WSGIApp:
    """The WSGI app serving the store at ``base_url`` (the URL clients use: links are built on it),
    with ``mounts`` (path prefix -> WSGI app) beside pygeoapi."""
    config = pygeoapi_config(store_settings, base_url, poles)
    with _load_lock:
        module = _load_pygeoapi(*_write_config(config, _config_dir(store_settings)))
    _extend(module)
    return DispatcherMiddleware(LinkedData(module.APP, store_settings, base_url), dict(mounts or {}))


def serve(
    store_settings: Mapping[str, Any],
    host: str,
    port: int,
    public_url: str | None = None,
    *,
    poles: Sequence[str] = POLES,
) -> None:
    """Serve the catalogue with waitress until interrupted; the URL is printed once the port is
    bound, so a caller reading it knows the server is there."""
    import waitress

    from api.provider import close_stores

    base_url = (public_url or f"http://{_url_host(host)}:{port}").rstrip("/")
    app = create_app(store_settings, base_url, poles=poles)
    server = waitress.create_server(app, host=host, port=port, threads=8, ident="terracat")
    print(f"terracat: OGC API - Records at {base_url} (listening on {host}:{port})", flush=True)
    try:
        server.run()
    finally:
        close_stores()


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
    _replace(openapi_path, to_json(get_oas(plain), pretty=False))
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
    """Our conformance view, the sortables endpoint and the response fixes."""
    from flask import request

    app = module.APP
    app.view_functions["pygeoapi.conformance"] = lambda: module.execute_from_flask(conformance, request)
    app.add_url_rule(
        "/collections/<path:collection_id>/sortables",
        "terracat_sortables",
        lambda collection_id: module.execute_from_flask(sortables, request, collection_id),
    )
    app.before_request(lambda: _refuse_what_pygeoapi_cannot_answer(module))
    app.after_request(_complete_responses)


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


def _complete_responses(response: Any) -> Any:
    """Fix what pygeoapi's responses miss: records are served as ``application/geo+json`` (pygeoapi
    says ``application/json``), catalogue descriptions get Records 1.0's ``type: Collection`` and
    ``defaultSortOrder``, and HTML says its charset (else clients guess Latin-1 and garble accents)."""
    from flask import request

    if response.status_code != HTTPStatus.OK or _header(response, "Content-Encoding"):
        return response
    content_type = _header(response, "Content-Type")
    if content_type == "text/html":
        response.headers["Content-Type"] = "text/html; charset=utf-8"
    if content_type.split(";")[0].strip() != "application/json":
        return response
    if request.endpoint == "pygeoapi.collection_items":
        response.headers["Content-Type"] = "application/geo+json"
    elif request.endpoint == "pygeoapi.collections":
        document = json.loads(response.get_data())
        for description in document.get("collections", [document]):
            if description.get("itemType") == "record":
                description["type"] = "Collection"
                description["defaultSortOrder"] = DEFAULT_SORT_ORDER
        response.set_data(json.dumps(document, ensure_ascii=False))
    return response


def _header(response: Any, name: str) -> str:
    """A response header whatever its case: pygeoapi replaces Flask's headers with a plain dict."""
    return next((v for k, v in response.headers.items() if k.lower() == name.lower()), "")
