"""``HttpClient``: how every network protocol talks to a source.

One place for what all of them need and what harvesters elsewhere get wrong one protocol at a time:

- retries of connection errors, timeouts, 429 and 5xx with exponential backoff, obeying ``Retry-After``
  only up to 30 s so that one slow source cannot stall a run;
- the source's request timeout, its HTTP headers (tokens read from environment variables, never written
  in the config) and its polite delay between requests;
- a cap on the size of a response, so that a misbehaving server cannot fill the memory;
- only http(s) URLs, including after redirects, and for a source supplied through the admin API only
  the network addresses the config allows (``harvester.url_safety``), checked at every connection;
- messages that name the cause in words, and never a URL's query string or credentials, which may hold a
  token: neither in errors nor in urllib3's retry logs.

Every failure raises ``ListingError``: to a harvest, a request that failed after its retries means the
listing is incomplete.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from urllib3 import BaseHTTPResponse
from urllib3 import exceptions as urllib3_exceptions
from urllib3.util import Retry

from catalogue.urls import public_url
from harvester import url_safety
from harvester.protocols import ListingError

if TYPE_CHECKING:
    from harvester.source import Source

USER_AGENT = "terracat/0.1"
_RETRY_STATUSES = (429, 500, 502, 503, 504)
_MAX_RETRY_AFTER = 30.0  # seconds
_MAX_REDIRECTS = 5
_CHUNK = 1024 * 1024
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _HideQueryStrings(logging.Filter):
    """urllib3 logs the request target, query string included, when it retries: a token in a source's
    URL must not reach the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                arg.partition("?")[0] + "?..." if isinstance(arg, str) and "?" in arg else arg
                for arg in record.args
            )
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_HideQueryStrings())


class _Retry(Retry):
    """Obeys a server's Retry-After only up to ``_MAX_RETRY_AFTER``: one slow source must not stall a run."""

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, _MAX_RETRY_AFTER)


@dataclass(slots=True)
class Response:
    """An answer as received: ``url`` is the final URL (after redirects), for resolving relative links."""

    url: str
    status: int
    reason: str
    content_type: str
    content: bytes
    where: str  # "GET http://host/oai verb=ListRecords", for messages

    def snippet(self) -> str:
        """The start of the body, for messages about a body that is not what was expected."""
        text = " ".join(self.content[:200].decode("utf-8", "replace").split())
        return f" ({self.content_type or 'no Content-Type'}: {text!r})" if text else ""


def expand_headers(headers: dict[str, str]) -> dict[str, str]:
    """The source's headers with ``${NAME}`` replaced by environment variables.

    Raises ``ListingError`` naming the variable (never its value) when one is not set: a run without its
    token would be refused by the server with a less helpful message, or worse, see a public subset."""
    expanded = {}
    for name, value in headers.items():
        missing = [var for var in _ENV_REFERENCE.findall(value) if var not in os.environ]
        if missing:
            raise ListingError(f"header {name}: environment variable {missing[0]} is not set")
        expanded[name] = _ENV_REFERENCE.sub(lambda m: os.environ[m.group(1)], value)
    return expanded


class HttpClient:
    """Requests to one source, with its timeout, retries, headers and polite delay.

    Thread-safe for the one-request-in-flight pattern the protocols use (a download thread fetching the
    next page while the previous one is parsed): the polite delay is kept across threads.
    """

    def __init__(self, source: Source, *, accept: str):
        self.source = source
        self.max_bytes = int(source.max_response_mb * 1024 * 1024)
        self._session = requests.Session()
        retry = _Retry(
            total=source.retries,
            backoff_factor=0.5,
            status_forcelist=_RETRY_STATUSES,
            allowed_methods=frozenset({"GET", "POST"}),  # every request we send is a read
            raise_on_status=False,  # hand back the last response: its body may say why
            redirect=_MAX_REDIRECTS,
        )
        adapter = url_safety.adapter(url_safety.policy_for(source), max_retries=retry, pool_maxsize=2)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.max_redirects = _MAX_REDIRECTS
        self._session.headers.update({"User-Agent": USER_AGENT, "Accept": accept})
        # The source's own headers carry its tokens: they go to the source's host only, never to a
        # host that a static catalogue's link or a next link points to.
        self._source_headers = expand_headers(source.headers)
        self._source_host = urlsplit(source.url or "").netloc.rpartition("@")[2].lower()
        self._lock = threading.Lock()
        self._last_request = 0.0

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def get(
        self,
        url: str,
        params: dict[str, str] | None = None,
        *,
        accept_errors: bool = False,
        where: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """GET ``url`` with ``params``; redirects to http(s) URLs are followed. ``headers`` are sent
        besides the source's (a STAC API next link may ask for some)."""
        return self._request(
            "GET", url, params=params, headers=headers, accept_errors=accept_errors, where=where
        )

    def post(
        self,
        url: str,
        body: bytes,
        content_type: str,
        *,
        accept_errors: bool = False,
        follow: bool = True,
        where: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """POST ``body``. ``follow=False`` refuses redirects (a redirected POST may come back as a GET
        that answers something else: CSW sources must then fix their URL)."""
        return self._request(
            "POST",
            url,
            data=body,
            headers={**(headers or {}), "Content-Type": content_type},
            accept_errors=accept_errors,
            follow=follow,
            where=where,
        )

    def _request(
        self,
        method: str,
        url: str,
        *,
        accept_errors: bool,
        follow: bool = True,
        where: str | None = None,
        **kwargs: Any,
    ) -> Response:
        """One request with retries. An HTTP error status raises ``ListingError`` unless
        ``accept_errors`` (the caller reads the error body: an OGC ExceptionReport, an OAI error).
        ``where`` names the request in messages (default: the method and the URL without its query)."""
        where = where or f"{method} {public_url(url)}"
        if urlsplit(url).scheme not in ("http", "https"):
            raise ListingError(f"{where}: only http and https URLs are harvested")
        if self._source_headers and urlsplit(url).netloc.rpartition("@")[2].lower() == self._source_host:
            kwargs["headers"] = {**self._source_headers, **(kwargs.get("headers") or {})}
        self._wait_politely()
        try:
            response = self._session.request(
                method, url, timeout=self.source.timeout, allow_redirects=follow, stream=True, **kwargs
            )
        except requests.RequestException as exc:
            raise _failure(exc, where, self.source) from None
        except url_safety.RefusedAddress as exc:  # also when a redirect leads there
            raise ListingError(f"{where}: {exc}") from None
        with response:
            if response.is_redirect and not follow:
                target = public_url(response.headers.get("Location", ""))
                raise ListingError(
                    f"{where}: HTTP {response.status_code} redirect to {target}; update the source url"
                )
            content = self._read(response, where)
        answer = Response(
            url=response.url,
            status=response.status_code,
            reason=response.reason or "",
            content_type=response.headers.get("Content-Type", ""),
            content=content,
            where=where,
        )
        if answer.status >= 400 and not accept_errors:
            raise ListingError(f"{where}: HTTP {answer.status} {answer.reason}{answer.snippet()}")
        return answer

    def _wait_politely(self) -> None:
        """Sleep so that requests start at least ``source.delay`` seconds apart."""
        if self.source.delay <= 0:
            return
        with self._lock:
            pause = self._last_request + self.source.delay - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            self._last_request = time.monotonic()

    def _read(self, response: requests.Response, where: str) -> bytes:
        """The body, refused beyond ``max_bytes`` (checked on Content-Length first, then as it arrives)."""
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise ListingError(f"{where}: the response is {int(declared):,} bytes, more than {self._limit()}")
        chunks = []
        size = 0
        try:
            for chunk in response.iter_content(_CHUNK):
                size += len(chunk)
                if size > self.max_bytes:
                    raise ListingError(
                        f"{where}: the response is larger than {self._limit()}; stopped reading"
                    )
                chunks.append(chunk)
        except requests.RequestException as exc:
            raise _failure(exc, where, self.source) from None
        return b"".join(chunks)

    def _limit(self) -> str:
        return f"max_response_mb={self.source.max_response_mb:g} MB"


def _failure(exc: requests.RequestException, where: str, source: Source) -> ListingError:
    """A message naming the root cause; requests' own repeats the URL with its query string."""
    if isinstance(exc, requests.TooManyRedirects):
        return ListingError(f"{where}: more than {_MAX_REDIRECTS} redirects")
    if isinstance(exc, requests.exceptions.InvalidSchema):
        return ListingError(f"{where}: redirected to a URL that is not http(s)")
    cause = exc.args[0] if exc.args and isinstance(exc.args[0], Exception) else None
    if isinstance(cause, urllib3_exceptions.MaxRetryError):  # wraps the error of the last attempt
        cause = cause.reason
    # After retries a timeout arrives as a ConnectionError; a refused connection is no timeout, although
    # urllib3 derives NewConnectionError from ConnectTimeoutError.
    timed_out = isinstance(exc, requests.Timeout) or isinstance(cause, urllib3_exceptions.TimeoutError)
    if timed_out and not isinstance(cause, urllib3_exceptions.NewConnectionError):
        return ListingError(f"{where}: no answer within {source.timeout:g} s ({source.retries} retries)")
    reason = f"{type(cause).__name__}: {cause}" if cause is not None else type(exc).__name__
    return ListingError(f"{where}: request failed: {reason}")
