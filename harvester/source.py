"""``Source``: one configured harvest source (a pole's catalogue endpoint or a folder of records).

Validation happens when the config is read (``msgspec.convert`` runs ``__post_init__``), so a bad
source stops start-up with its key path instead of failing at 3 a.m. in the scheduler.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

import msgspec

from harvester import formats, protocols

POLES = ("AERIS", "ForM@Ter", "ODATIS", "THEIA")
_SOURCE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class Source(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    id: str
    pole: Literal["AERIS", "ForM@Ter", "ODATIS", "THEIA"]
    protocol: str
    format: str = "iso19139"
    url: str | None = None  # network protocols
    path: str | None = None  # directory protocol; the config loader makes it absolute
    title: str | None = None
    page_size: int = 100
    timeout: float = 60.0  # seconds, per HTTP request
    retries: int = 3  # per HTTP request, with exponential backoff
    schedule: str | None = None  # cron expression, for the scheduler
    enabled: bool = True

    def __post_init__(self) -> None:
        if not _SOURCE_ID.match(self.id):
            raise ValueError(
                f"id: {self.id!r} must be 1-63 lower-case letters, digits, '-' or '_' "
                "(it is part of every record id and URL)"
            )
        if self.protocol not in protocols.names():
            raise ValueError(
                f"protocol: unknown protocol {self.protocol!r}; known: {', '.join(protocols.names())}"
            )
        if self.format not in formats.names():
            raise ValueError(f"format: unknown format {self.format!r}; known: {', '.join(formats.names())}")
        if self.protocol in protocols.NETWORK_PROTOCOLS:
            if not self.url:
                raise ValueError(f"protocol: {self.protocol} needs a url")
            parts = urlsplit(self.url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(
                    f"url: {self.url!r} must be an http(s) URL (only http and https are harvested)"
                )
        elif self.protocol == "directory" and not self.path:
            raise ValueError("protocol: directory needs a path")
        if not 1 <= self.page_size <= 10_000:
            raise ValueError(f"page_size: must be between 1 and 10000, got {self.page_size}")
        if self.timeout <= 0:
            raise ValueError(f"timeout: must be more than 0 seconds, got {self.timeout}")
        if self.retries < 0:
            raise ValueError(f"retries: must be 0 or more, got {self.retries}")
