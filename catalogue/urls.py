"""URLs from harvested metadata: which may become links, and how a source URL may be shown.

Metadata is written by many hands: a linkage can be ``javascript:...``, ``data:...`` or a local path.
Only addresses a browser or a download client can follow safely become links (``is_link``); every
rendering goes through it, whatever crosswalk produced the record. A source's own URL can carry a token
or credentials: ``public_url`` is the form that may be logged or published.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

LINK_SCHEMES = frozenset({"http", "https", "ftp", "ftps", "sftp"})


def is_link(url: str | None) -> bool:
    """True for an absolute http(s)/ftp(s)/sftp URL with a host: safe as an ``href``."""
    if not url:
        return False
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in LINK_SCHEMES and bool(parts.netloc)


def public_url(url: str) -> str:
    """The URL without credentials, query string or fragment: those may hold tokens."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))
