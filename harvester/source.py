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
    delay: float = 0.0  # seconds between two requests: politeness towards small servers
    headers: dict[str, str] = {}  # sent with every request; "${NAME}" reads environment variable NAME
    max_response_mb: float = 512.0  # a larger response is refused: a broken server must not fill memory
    version: str | None = None  # protocol version when a server speaks several (CSW: 2.0.2 or 3.0.0)
    metadata_prefix: str | None = None  # OAI-PMH; default from the format (oai_dc, oai_datacite, ...)
    sets: list[str] = []  # OAI-PMH setSpecs to harvest (each listed in turn); empty: the whole repository
    collections: list[str] = []  # STAC / OGC API Records collection ids; empty: every collection
    items: bool = True  # STAC: harvest the items of the collections, not only the collections
    max_delete_ratio: float = 0.2  # a full run never deletes a larger share of the source's records
    schedule: str | None = None  # cron (UTC) for the scheduler: 5 fields, or 6 with seconds first
    max_duration: float | None = None  # seconds: a longer run stops at a page boundary, to resume next time
    # A listing whose source announces no total stops past this many records: a paginator that never ends
    # (new records on every page) fails the run instead of running until max_duration.
    max_records: int = 5_000_000
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
        if self.delay < 0:
            raise ValueError(f"delay: must be 0 or more seconds, got {self.delay}")
        if self.max_response_mb <= 0:
            raise ValueError(f"max_response_mb: must be more than 0, got {self.max_response_mb}")
        if not 0 <= self.max_delete_ratio <= 1:
            raise ValueError(f"max_delete_ratio: must be between 0 and 1, got {self.max_delete_ratio}")
        if self.max_duration is not None and self.max_duration <= 0:
            raise ValueError(f"max_duration: must be more than 0 seconds, got {self.max_duration}")
        if self.max_records < 1:
            raise ValueError(f"max_records: must be 1 or more, got {self.max_records}")
        if self.schedule is not None:
            from harvester.scheduler import cron_trigger  # imports this module

            cron_trigger(self.schedule)
        for name, value in self.headers.items():
            if any(c in name + value for c in "\r\n"):
                raise ValueError(f"headers.{name}: a header name or value cannot hold a line break")
