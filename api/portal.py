"""The portal: the catalogue's search pages for people, rendered on the server from the ``Store``.

Why server-rendered pages and plain GET forms and links: every state of a search (words, facets,
area, period, sort, page, language) is then the page's URL, so it can be shared and bookmarked and
the browser's back button restores it with no script; the one script (``static/portal/portal.js``)
only draws an area on the map and fills the form's ``bbox`` field with it.

The portal shares ``/`` with the OGC API landing page (``with_portal``): a browser asking for HTML
without ``f`` gets the search page, while ``?f=json``, ``?f=html`` or an ``Accept`` preferring JSON
get pygeoapi's landing page as before. Record pages are at ``/records/{id}`` and the portal's static
files (Leaflet among them) at ``/static/portal/``. Searches run through the same ``catalogue.query``
parsers as the API, so a search means the same on both, and a parameter the parsers refuse is a 400
page that says what is wrong and keeps the form filled in to correct it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import jinja2
from markupsafe import Markup, escape
from werkzeug.datastructures import LanguageAccept, MIMEAccept
from werkzeug.exceptions import NotFound
from werkzeug.http import parse_accept_header
from werkzeug.utils import send_from_directory
from werkzeug.wrappers import Request, Response

from api.portal_messages import DEFAULT_LANGUAGE, LANGUAGES, MESSAGES
from api.provider import shared_store
from catalogue import jsonld
from catalogue.geojson import licence, link_rel, time_object
from catalogue.query import (
    EQUALITY_PROPERTIES,
    FACETS,
    Bucket,
    Facet,
    FacetRequest,
    Query,
    QueryError,
    parse_bbox,
    parse_datetime,
    parse_limit,
    parse_offset,
    parse_q,
    parse_sortby,
)
from catalogue.record import Concept, Record
from catalogue.urls import is_link, public_url

WSGIApp = Callable[..., Any]

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates" / "portal"
STATIC = HERE / "static" / "portal"
STATIC_PATH = "/static/portal/"
RECORD_PATH = "/records/"
OGC_CATALOG_REL = "http://www.opengis.net/def/rel/ogc/1.0/ogc-catalog"

DEFAULT_LIMIT = 10
MAX_LIMIT = 100  # a page people read; machines page through the API
SNIPPET_SIZE = 280

# The URL parameters of a search, in the order links spell them (one order: one URL per state).
SEARCH_PARAMS = ("q", "bbox", "datetime", *EQUALITY_PROPERTIES, "sortby", "limit", "offset")
# Facets shown, in this order, when they can refine the search: an equality property takes the
# clicked value, ``year`` becomes a ``datetime`` period. Others are counted by the store but have no
# parameter to refine with, and a count one cannot click is noise on this page.
FACET_ORDER = ("pole", "theme", "type", "year", "platform", "instrument", "format", "license", "fair_level")
FACET_SIZES = {"theme": 60}  # room for compartments and their themes (a hierarchy, not a top 10)
SORTS = (("", "sort_relevance"), ("-updated", "sort_updated"), ("title", "sort_title"))
# Online resources by what a reader does with them (``catalogue.geojson.link_rel``).
LINK_GROUPS = {
    "enclosure": "links_download",
    "service": "links_service",
    "describedby": "links_information",
    "search": "links_information",
    "related": "links_related",
    "preview": "links_related",
}


def with_portal(api: WSGIApp, store_settings: Mapping[str, Any], base_url: str) -> WSGIApp:
    """``api`` with the portal beside it: the portal's paths and browsers' requests for ``/`` go to
    the portal, everything else to ``api``. Answers at ``/`` vary with ``Accept``, and say so to caches."""
    portal = Portal(store_settings, base_url)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if portal.serves(environ):
            return portal(environ, start_response)
        if environ.get("PATH_INFO", "") not in ("", "/"):
            return api(environ, start_response)

        def varying(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            kept = [(k, v) for k, v in headers if k.lower() != "vary"]
            return start_response(status, [*kept, ("Vary", "Accept, Accept-Language")], exc_info)

        return api(environ, varying)

    return app


class Portal:
    """The portal as a WSGI app: the search page, record pages and the portal's static files."""

    def __init__(self, store_settings: Mapping[str, Any], base_url: str):
        self.store_settings = dict(store_settings)
        self.base_url = base_url.rstrip("/")
        self.prefix = urlsplit(self.base_url).path.rstrip("/")  # links stay under a proxy's path
        self.catalogue_url = f"{self.base_url}/collections/catalogue"
        self.items_url = f"{self.catalogue_url}/items"
        self.facets = [
            FacetRequest(name, FACET_SIZES.get(name, 10))
            for name in FACET_ORDER
            if name in FACETS and (name in EQUALITY_PROPERTIES or name == "year")
        ]
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.globals["is_link"] = is_link

    def serves(self, environ: Mapping[str, Any]) -> bool:
        """Whether a request is the portal's: its own paths, or ``/`` asked for as HTML without ``f``."""
        path = environ.get("PATH_INFO", "") or "/"
        if path.startswith((RECORD_PATH, STATIC_PATH)):
            return True
        if path != "/" or environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            return False
        if any(name == "f" for name, _ in parse_qsl(environ.get("QUERY_STRING", ""))):
            return False
        accept = parse_accept_header(environ.get("HTTP_ACCEPT", ""), MIMEAccept)
        return accept.best_match(("application/json", "text/html")) == "text/html"

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        return self.respond(request)(environ, start_response)

    def respond(self, request: Request) -> Response:
        path = request.path
        if path.startswith(STATIC_PATH):
            try:
                return send_from_directory(STATIC, path[len(STATIC_PATH) :], request.environ, max_age=3600)
            except NotFound:
                return self._not_found(Page(self, request))
        page = Page(self, request)
        if path == "/":
            return self._search(page)
        if path.startswith(RECORD_PATH) and "/" not in path[len(RECORD_PATH) :]:
            return self._record(page, path[len(RECORD_PATH) :])
        return self._not_found(page)

    # --- search page ---------------------------------------------------------------------------------

    def _search(self, page: Page) -> Response:
        search = Search(page.request.args, page.lang, self.prefix)
        try:
            query = search.query(self.facets)
        except QueryError as err:
            return page.render("error.html", 400, search=search, error=str(err))
        result = shared_store(self.store_settings).search(query)
        facets = [self._facet(facet, search, page) for facet in result.facets if facet.buckets]
        first = query.offset + 1
        last = query.offset + len(result.records)
        return page.render(
            "search.html",
            200,
            search=search,
            results=[self._result(record, query, page) for record in result.records],
            matched=result.matched,
            first=first,
            last=last,
            paging=_paging(search, query, result.matched),
            facets=facets,
            chips=self._chips(search, page, result.facets),
            sorts=[(value, page.t(key)) for value, key in SORTS],
            map_data={
                "bbox": list(query.bbox) if query.bbox else None,
                "results": [self._map_result(record, page) for record in result.records if record.bboxes],
            },
            alternates=[
                {"type": "application/geo+json", "href": search.api_url(self.items_url, "json")},
                {"type": "application/ld+json", "href": search.api_url(self.items_url, "jsonld")},
            ],
        )

    def _result(self, record: Record, query: Query, page: Page) -> dict[str, Any]:
        description = record.abstract.in_lang(page.lang) if record.abstract else ""
        return {
            "id": record.id,
            "url": page.record_url(record.id),
            "title": record.title.in_lang(page.lang),
            "pole": record.pole,
            "type": page.value_label("type", record.resource_type),
            "dates": page.period(record),
            "snippet": snippet(description, [term for phrase in query.q for term in phrase]),
        }

    def _map_result(self, record: Record, page: Page) -> dict[str, Any]:
        return {
            "title": record.title.in_lang(page.lang),
            "url": page.record_url(record.id),
            "boxes": [[b.west, b.south, b.east, b.north] for b in record.bboxes],
        }

    def _facet(self, facet: Facet, search: Search, page: Page) -> dict[str, Any]:
        """A facet's buckets as links that refine the search; ``theme`` as a tree (by ``parent``)."""
        nodes = {
            bucket.value: {
                "value": bucket.value,
                "label": page.bucket_label(facet.name, bucket),
                "count": bucket.count,
                "url": search.url(**_refine(facet.name, bucket.value)),
                "active": search.is_active(facet.name, bucket.value),
                "children": [],
            }
            for bucket in facet.buckets
        }
        roots = []
        for bucket in facet.buckets:
            parent = nodes.get(bucket.parent or "")
            (parent["children"] if parent is not None else roots).append(nodes[bucket.value])
        return {
            "name": facet.name,
            "title": page.t(f"facet_{facet.name}"),
            "buckets": roots,
            "more": facet.more,
        }

    def _chips(self, search: Search, page: Page, facets: list[Facet]) -> list[dict[str, str]]:
        """The active criteria, each with the URL of the same search without it."""
        buckets = {(facet.name, bucket.value): bucket for facet in facets for bucket in facet.buckets}
        chips = []
        for name in SEARCH_PARAMS:
            value = search.params.get(name)
            if value is None or name in ("sortby", "limit", "offset"):
                continue
            if name in EQUALITY_PROPERTIES:
                bucket = buckets.get((name, value))
                label = page.t(f"facet_{name}")
                shown = page.bucket_label(name, bucket) if bucket else page.value_label(name, value)
            else:
                label, shown = page.t(f"filter_{name}"), value
            chips.append({"name": name, "label": label, "value": shown, "remove": search.url(**{name: None})})
        return chips

    # --- record page ---------------------------------------------------------------------------------

    def _record(self, page: Page, record_id: str) -> Response:
        store = shared_store(self.store_settings)
        record = store.get(record_id)
        if record is None:
            return self._not_found(page)
        item = f"{self.items_url}/{record.id}"
        licence_id, licence_link = licence(record.constraints)
        return page.render(
            "record.html",
            200,
            record=record,
            title=record.title.in_lang(page.lang),
            description=record.abstract.in_lang(page.lang) if record.abstract else "",
            period=page.period(record),
            links=_link_groups(record),
            licence_name=(record.constraints.licence if record.constraints else None) or licence_id,
            licence_href=licence_link["href"] if licence_link else None,
            concepts=[self._concept(concept, page) for concept in record.concepts],
            group=store.group(record.id),
            source_url=public_url(record.provenance.source_url)
            if record.provenance and record.provenance.source_url
            else None,
            item={"json": f"{item}?f=json", "jsonld": f"{item}?f=jsonld", "html": f"{item}?f=html"},
            linked_data=jsonld.document(record, f"{self.items_url}/"),
            map_data={"record": [[b.west, b.south, b.east, b.north] for b in record.bboxes]},
            alternates=[
                {"type": "application/geo+json", "href": f"{item}?f=json"},
                {"type": "application/ld+json", "href": f"{item}?f=jsonld"},
            ],
        )

    def _concept(self, concept: Concept, page: Page) -> dict[str, Any]:
        return {
            "label": _in_lang(concept.labels, page.lang) or concept.uri,
            "uri": concept.uri if is_link(concept.uri) else None,
            "search": f"{self.prefix}/?{urlencode({'theme': concept.uri, 'lang': page.lang})}",
        }

    def _not_found(self, page: Page) -> Response:
        return page.render("error.html", 404, search=None, error=None)


class Page:
    """One request's page: its language, the strings and labels in it, and how it renders."""

    def __init__(self, portal: Portal, request: Request):
        self.portal = portal
        self.request = request
        self.lang = _language(request)
        self.messages = MESSAGES[self.lang]

    def t(self, key: str, **values: Any) -> str:
        """The interface string ``key`` in the page's language, with ``values`` put in."""
        text = self.messages[key]
        return text.format(**values) if values else text

    def record_url(self, record_id: str) -> str:
        return f"{self.portal.prefix}{RECORD_PATH}{record_id}?{urlencode({'lang': self.lang})}"

    def value_label(self, name: str, value: str) -> str:
        """A code shown in words where the interface knows it (resource types, FAIR levels)."""
        key = {"type": f"type_{value}", "fair_level": f"fair_{value}"}.get(name)
        return self.messages.get(key, value) if key else value

    def bucket_label(self, name: str, bucket: Bucket) -> str:
        return _in_lang(bucket.labels, self.lang) or self.value_label(name, bucket.value)

    def period(self, record: Record) -> str:
        """The envelope of the record's temporal extents, as dates; empty when it has none."""
        time = time_object(record.temporal)
        if time is None:
            return ""
        if "interval" not in time:
            return str(time.get("date") or time.get("timestamp"))[:10]
        start, end = time["interval"]
        start = self.t("open_start") if start == ".." else start[:10]
        end = self.t("open_end") if end == ".." else end[:10]
        return f"{start} – {end}"

    def switch_url(self) -> str:
        """This very page in the other language."""
        other = next(code for code in LANGUAGES if code != self.lang)
        args = [(k, v) for k, v in self.request.args.items(multi=True) if k != "lang"]
        return f"{self.portal.prefix}{self.request.path}?{urlencode([*args, ('lang', other)])}"

    def render(self, template: str, status: int, **context: Any) -> Response:
        portal = self.portal
        html = portal.templates.get_template(template).render(
            t=self.t,
            lang=self.lang,
            other_lang=next(code for code in LANGUAGES if code != self.lang),
            page=self,
            home=f"{portal.prefix}/?{urlencode({'lang': self.lang})}",
            action=f"{portal.prefix}/",
            static=f"{portal.prefix}{STATIC_PATH.rstrip('/')}",
            base_url=portal.base_url,
            catalogue_url=portal.catalogue_url,
            items_url=portal.items_url,
            catalog_rel=OGC_CATALOG_REL,
            **{"alternates": [], "map_data": None, **context},
        )
        response = Response(html, status=status, content_type="text/html; charset=utf-8")
        response.headers["Content-Language"] = self.lang
        response.headers["Vary"] = "Accept, Accept-Language"
        return response


class Search:
    """A search's state: the URL parameters the portal knows (first value of each, blanks dropped)."""

    def __init__(self, args: Mapping[str, str], lang: str, prefix: str):
        self.lang = lang
        self.prefix = prefix
        self.params = {name: value for name in SEARCH_PARAMS if (value := (args.get(name) or "").strip())}

    def url(self, **changes: str | None) -> str:
        """This search with ``changes`` (``None`` removes a parameter). Any change of criteria goes
        back to the first page; only a change of ``offset`` pages."""
        params = dict(self.params)
        if "offset" not in changes:
            params.pop("offset", None)
        params.update(changes)
        pairs = [(name, value) for name in SEARCH_PARAMS if (value := params.get(name))]
        return f"{self.prefix}/?{urlencode([*pairs, ('lang', self.lang)])}"

    def hidden(self) -> list[tuple[str, str]]:
        """What the search form carries unseen: the facet filters, sort and page size."""
        names = [*EQUALITY_PROPERTIES, "sortby", "limit"]
        return [(name, self.params[name]) for name in names if name in self.params] + [("lang", self.lang)]

    def is_active(self, facet: str, value: str) -> bool:
        return self.params.get(facet) == value or (
            facet == "year" and self.params.get("datetime") == _year(value)
        )

    def query(self, facets: list[FacetRequest]) -> Query:
        """The store query; raises ``QueryError`` for a parameter the API would refuse too."""
        params = self.params
        limit = parse_limit(params.get("limit"), DEFAULT_LIMIT)
        if limit > MAX_LIMIT:
            raise QueryError(f"limit must be between 1 and {MAX_LIMIT} on these pages, got {limit}")
        return Query(
            q=parse_q(params.get("q")),
            bbox=parse_bbox(params.get("bbox")),
            time=parse_datetime(params.get("datetime")),
            types=[params["type"]] if "type" in params else [],
            properties={
                name: [params[name]] for name in EQUALITY_PROPERTIES if name != "type" and name in params
            },
            sortby=parse_sortby(params.get("sortby")),
            limit=limit,
            offset=parse_offset(params.get("offset")),
            facets=facets,
        )

    def api_url(self, items_url: str, fmt: str) -> str:
        """The same search on the OGC API (same parameter names and meanings)."""
        pairs = [(name, value) for name in SEARCH_PARAMS if (value := self.params.get(name))]
        if "limit" not in self.params:
            pairs.append(("limit", str(DEFAULT_LIMIT)))
        return f"{items_url}?{urlencode([*pairs, ('f', fmt)])}"


def _refine(facet: str, value: str) -> dict[str, str]:
    """The parameter change a click on a bucket makes."""
    return {"datetime": _year(value)} if facet == "year" else {facet: value}


def _year(value: str) -> str:
    return f"{value}-01-01/{value}-12-31"


def _paging(search: Search, query: Query, matched: int) -> dict[str, Any]:
    limit, offset = query.limit, query.offset
    pages = max(1, -(-matched // limit))
    previous = None
    if offset > 0:  # the first page has no offset in its URL: one URL per state
        previous = search.url(offset=str(offset - limit) if offset > limit else None)
    return {
        "page": offset // limit + 1,
        "pages": pages,
        "previous": previous,
        "next": search.url(offset=str(offset + limit)) if offset + limit < matched else None,
    }


def _language(request: Request) -> str:
    """``lang`` when it names one of ours, else the browser's preference, else English."""
    asked = request.args.get("lang", "")
    if asked in LANGUAGES:
        return asked
    accept = parse_accept_header(request.headers.get("Accept-Language", ""), LanguageAccept)
    return accept.best_match(LANGUAGES) or DEFAULT_LANGUAGE


def _in_lang(labels: Mapping[str, str], lang: str) -> str | None:
    """A label in ``lang``, else English, French, or any."""
    for choice in (lang, "en", "fr"):
        if labels.get(choice):
            return labels[choice]
    return next(iter(labels.values()), None)


def _link_groups(record: Record) -> list[tuple[str, list[dict[str, Any]]]]:
    """The record's online resources by what a reader does with them, in the order of ``LINK_GROUPS``;
    an address that is not a safe link (``is_link``) is shown as text, never as an ``href``."""
    groups: dict[str, list[dict[str, Any]]] = {key: [] for key in dict.fromkeys(LINK_GROUPS.values())}
    for link in record.links:
        groups[LINK_GROUPS[link_rel(link)]].append(
            {
                "href": link.url if is_link(link.url) else None,
                "url": link.url,
                "title": link.name or link.description or link.url,
                "description": link.description if link.description != link.name else None,
                "protocol": link.protocol,
                "media_type": link.media_type,
            }
        )
    return [(key, links) for key, links in groups.items() if links]


def snippet(text: str, terms: list[str], size: int = SNIPPET_SIZE) -> Markup:
    """About ``size`` characters of ``text`` around the first search term, the terms marked."""
    text = " ".join(text.split())
    # whole words, as the index matches them
    pattern = (
        re.compile(r"\b(?:" + "|".join(map(re.escape, terms)) + r")\b", re.IGNORECASE) if terms else None
    )
    start = 0
    found = pattern.search(text) if pattern else None
    if found and found.start() > size // 3:
        start = text.rfind(" ", 0, found.start() - size // 4) + 1
    end = len(text)
    if end - start > size:
        end = text.rfind(" ", start, start + size)
        end = end if end > start else start + size
    piece = text[start:end]
    out = [Markup("…") if start else Markup("")]
    cursor = 0
    for match in pattern.finditer(piece) if pattern else ():
        out.append(escape(piece[cursor : match.start()]))
        out.append(Markup("<mark>%s</mark>") % match.group())
        cursor = match.end()
    out.append(escape(piece[cursor:]))
    if end < len(text):
        out.append(Markup("…"))
    return Markup("").join(out)
