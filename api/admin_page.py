"""The admin page: one HTML page and its script over the admin JSON API (``api.admin``), for the people
running the catalogue: the sources with their last run (status, time, duration, counts, error), their
schedule, a run's records (rejected first, with reason codes and messages) and a "Run now" button.

Why a static page and a script rather than pages rendered from the ledger: the page holds no data, so
it needs no token to load and cannot leak anything; everything it shows comes from the JSON API, asked
by the script with ``Authorization: Bearer``, so the API stays the one door, with its one token check.
The token is typed into the page and kept in the tab's ``sessionStorage`` (never in a URL, where logs
and browser history would keep it; gone when the tab closes). The page forbids other origins' scripts,
frames and referrers (``Content-Security-Policy``), which is what keeps a stored token out of reach.

It is mounted beside the API, at ``/admin/page`` (``mounts``), a path that is not one of the API's
routes; the links it writes hold the prefix a proxy gave (``SCRIPT_NAME``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import jinja2
from werkzeug.exceptions import NotFound
from werkzeug.utils import send_from_directory
from werkzeug.wrappers import Request, Response

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates" / "admin"
STATIC = HERE / "static" / "admin"
PAGE_PATH = "/page"  # under the admin API's prefix
STATIC_PATH = "/static/"
PORTAL_CSS = "/static/portal/portal.css"  # the portal's look, served by the portal (``api.portal``)
HEADERS = {
    # same-origin scripts, styles and fetches only; no framing; no referrer: the token stays in this tab
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self';"
    " img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


class AdminPage:
    """The WSGI app of the page (at the mount's root) and its static files (under ``/static/``).
    ``mount``: where it is mounted; ``api``: where the admin API is, both paths from the site's root."""

    def __init__(self, mount: str, api: str):
        self.mount = mount.rstrip("/")
        self.api = api.rstrip("/")
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
        )

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return self.respond(Request(environ))(environ, start_response)

    def respond(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            response = Response("The admin page is only read (GET).\n", 405, mimetype="text/plain")
            response.headers["Allow"] = "GET, HEAD"
        elif request.path in ("", "/"):
            response = self._page(request)
        elif request.path.startswith(STATIC_PATH):
            try:
                response = send_from_directory(
                    STATIC, request.path[len(STATIC_PATH) :], request.environ, max_age=3600
                )
            except NotFound:
                response = _not_found()
        else:
            response = _not_found()
        response.headers.update(HEADERS)
        return response

    def _page(self, request: Request) -> Response:
        # the site's root as the client sees it: a proxy's prefix, without where the page is mounted
        root = request.script_root.removesuffix(self.mount)
        html = self.templates.get_template("page.html").render(
            api=f"{root}{self.api}",
            static=f"{request.script_root}{STATIC_PATH.rstrip('/')}",
            portal_css=f"{root}{PORTAL_CSS}",
            home=f"{root}/",
        )
        response = Response(html, mimetype="text/html")
        response.headers["Cache-Control"] = "no-cache"
        return response


def _not_found() -> Response:
    return Response("No such file on the admin page.\n", 404, mimetype="text/plain")


def mounts(api: str = "/admin") -> dict[str, AdminPage]:
    """What ``api.server.create_app`` mounts for the page: it at ``{api}/page``, beside the admin API
    at ``api``."""
    mount = f"{api.rstrip('/')}{PAGE_PATH}"
    return {mount: AdminPage(mount, api)}
