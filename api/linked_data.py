"""FAIR JSON-LD on the OGC API: records and pages of records as schema.org + DCAT (``catalogue.jsonld``).

pygeoapi answers the record requests (parameters, paging, errors, per-pole filters); this WSGI layer
around it changes only what JSON-LD clients get:

- ``f=jsonld``, or an ``Accept`` header preferring ``application/ld+json``, on ``/collections/{c}/items``
  and ``/collections/{c}/items/{id}``: the request goes to pygeoapi as a GeoJSON request, and the
  records of its answer are rendered as our JSON-LD (one document, or one ``@graph`` for a page, with
  the paging links kept). pygeoapi's own JSON-LD (a GeoJSON-LD rewrite of the feature) is never served.
- HTML record pages get the record's JSON-LD embedded as ``<script type="application/ld+json">`` in
  their ``<head>``, where search engines and F-UJI (FsF-F4-01M) look for it without running scripts.
- ``/context.jsonld`` publishes the context every document carries inline.

Error answers (400, 404) pass through untouched, so a JSON-LD client gets the same OGC exception as any.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from api.provider import SERVED_RECORDS, shared_store
from catalogue import jsonld
from catalogue.record import Record

WSGIApp = Callable[..., Any]
JSONLD = "application/ld+json"
CONTEXT_PATH = "/context.jsonld"
# Tried in this order when the client's preferences tie: JSON-LD only for a client that prefers it.
_OFFERS = ("application/geo+json", "application/json", "text/html", JSONLD)
_ITEMS = re.compile(r"^/collections/(?P<collection>[^/]+)/items(?:/(?P<record>[^/]+))?/?$")


class LinkedData:
    """WSGI middleware serving our JSON-LD for records answered by pygeoapi (``app``)."""

    def __init__(self, app: WSGIApp, store_settings: Mapping[str, Any], base_url: str):
        self.app = app
        self.store_settings = dict(store_settings)
        self.base = f"{base_url.rstrip('/')}/collections/catalogue/items/"

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == CONTEXT_PATH:
            return _respond(start_response, "200 OK", JSONLD, json.dumps(jsonld.CONTEXT).encode())
        found = _ITEMS.match(path)
        if found is None or environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            return self.app(environ, start_response)
        wanted = _wanted(environ)
        if wanted == "html" and found["record"]:
            return self._embed(environ, start_response)
        if wanted != "jsonld":
            return self.app(environ, start_response)
        status, headers, body, served = _call_keeping_records(self.app, _as_geojson(environ))
        if not status.startswith("200"):
            return _respond(start_response, status, _header(headers, "Content-Type"), body, headers)
        document = self._document(json.loads(body), served)
        return _respond(start_response, status, JSONLD, json.dumps(document, ensure_ascii=False).encode())

    def _document(self, answer: dict[str, Any], served: Mapping[str, Record]) -> dict[str, Any]:
        """Our JSON-LD for pygeoapi's answer: a record, or a page of records with its paging links. The
        records come from the provider (``served``), the store when it did not serve them."""
        store = shared_store(self.store_settings)

        def record(identifier: Any) -> Record | None:
            return served.get(str(identifier)) or store.get(str(identifier))

        if answer.get("type") == "Feature":
            found = record(answer["id"])
            return jsonld.document(found, self.base) if found else {}
        records = [r for f in answer.get("features", []) if (r := record(f["id"])) is not None]
        document = jsonld.documents(records, self.base)
        for key in ("numberMatched", "numberReturned", "facets", "links"):
            if key in answer:
                document[key] = _jsonld_links(answer[key]) if key == "links" else answer[key]
        return document

    def _embed(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """The HTML record page with the record's JSON-LD in its head."""
        status, headers, body, served = _call_keeping_records(self.app, environ)
        record = self._record(environ, served) if status.startswith("200") else None
        if record is not None and b"</head>" in body:
            text = json.dumps(jsonld.document(record, self.base), ensure_ascii=False)
            script = f'<script type="application/ld+json">{_script_safe(text)}</script>\n</head>'
            body = body.replace(b"</head>", script.encode(), 1)
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        return _respond(start_response, status, _header(headers, "Content-Type"), body, headers)

    def _record(self, environ: dict[str, Any], served: Mapping[str, Record]) -> Record | None:
        found = _ITEMS.match(environ.get("PATH_INFO", ""))
        if found is None:
            return None
        return served.get(found["record"]) or shared_store(self.store_settings).get(found["record"])


def _wanted(environ: dict[str, Any]) -> str | None:
    """``jsonld``, ``html`` or ``None`` (anything else, left to pygeoapi): ``f`` first, then ``Accept``."""
    query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
    if "f" in query:
        return {"jsonld": "jsonld", "html": "html"}.get(query["f"])
    return _preferred(environ.get("HTTP_ACCEPT", ""))


@functools.lru_cache(maxsize=256)  # clients send a few distinct Accept headers: each parsed once
def _preferred(accept_header: str) -> str | None:
    accept = parse_accept_header(accept_header, MIMEAccept)
    best = accept.best_match(_OFFERS) if accept else None
    return {JSONLD: "jsonld", "text/html": "html"}.get(best or "")


def _as_geojson(environ: dict[str, Any]) -> dict[str, Any]:
    """The same request, asking pygeoapi for GeoJSON."""
    pairs = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    query = [(k, v) for k, v in pairs if k != "f"]
    return {**environ, "QUERY_STRING": urlencode([*query, ("f", "json")]), "HTTP_ACCEPT": "application/json"}


def _jsonld_links(links: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """pygeoapi's paging links, pointing at the JSON-LD pages (``next`` of a JSON-LD page is JSON-LD)."""
    out = []
    for link in links:
        if link.get("rel") in ("self", "next", "prev", "first", "last"):
            link = {**link, "href": _with_format(str(link.get("href", "")), "jsonld"), "type": JSONLD}
        out.append(link)
    return out


def _with_format(href: str, fmt: str) -> str:
    """``href`` with its ``f`` parameter set to ``fmt`` (pygeoapi's next link may carry none)."""
    url = urlsplit(href)
    query = [(k, v) for k, v in parse_qsl(url.query, keep_blank_values=True) if k != "f"]
    return urlunsplit(url._replace(query=urlencode([*query, ("f", fmt)])))


def _script_safe(text: str) -> str:
    """JSON that cannot close the script element it sits in (``</script>`` in a description)."""
    return text.replace("</", "<\\/")


def _call(app: WSGIApp, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """Run a WSGI app to completion: status line, headers and body."""
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"], captured["headers"] = status, headers
        return lambda data: None

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return captured["status"], list(captured["headers"]), body


def _call_keeping_records(
    app: WSGIApp, environ: dict[str, Any]
) -> tuple[str, list[tuple[str, str]], bytes, dict[str, Record]]:
    """``_call``, and the records the provider served meanwhile, by id."""
    served: dict[str, Record] = {}
    token = SERVED_RECORDS.set(served)
    try:
        return (*_call(app, environ), served)
    finally:
        SERVED_RECORDS.reset(token)


def _header(headers: list[tuple[str, str]], name: str) -> str:
    return next((v for k, v in headers if k.lower() == name.lower()), "")


def _respond(
    start_response: Callable[..., Any],
    status: str,
    content_type: str,
    body: bytes,
    headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    kept = [(k, v) for k, v in headers or [] if k.lower() not in ("content-type", "content-length")]
    start_response(status, [*kept, ("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]
