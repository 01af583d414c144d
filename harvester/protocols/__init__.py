"""Protocol clients: enumerate a source page by page as ``RawRecord``s.

A protocol is a small class with a ``name`` (the ``protocol:`` value in a source's config) whose
``pages()`` yields ``Page``s. A record that is malformed is still yielded (the crosswalk rejects it with
a reason); a failure of the listing itself (HTTP error after retries, OGC ExceptionReport, a response
that is not what the protocol promises) raises ``ListingError``: the harvest then knows its listing is
incomplete and must not delete anything.

What a run asks of a protocol, beyond "every page":

- ``since`` (RFC 3339 UTC, or ``None`` for a full listing): list only what changed since then (OAI-PMH
  ``from``, CSW ``Modified >=``, a STAC filter on ``updated``). A protocol that cannot filter, or finds that
  the server cannot, lists everything and sets ``filtered`` to False: the run then knows it saw the whole
  source.
- ``resume``: the ``checkpoint`` of the last page a previous run committed before it was interrupted
  (JSON-able, protocol-defined: a resumption token, a start position, a next link). The protocol continues
  after that page. When the checkpoint no longer works (an expired resumption token), it starts the same
  listing again from the beginning and says so in a note: records already harvested come back unchanged.
- Records the source reports deleted (OAI-PMH ``status="deleted"``) are yielded with ``deleted=True``,
  their ``native_id`` and empty content.
- ``server_time``: the server's own clock at the start of the listing when it tells it (OAI-PMH
  ``responseDate``); the run keeps it as the next watermark, so the two clocks need not agree.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harvester.raw import RawRecord

if TYPE_CHECKING:
    from harvester.source import Source


class ListingError(Exception):
    """The source could not be enumerated completely; the message says where and why."""


@dataclass(slots=True)
class Page:
    records: list[RawRecord]
    matched: int | None = None  # the source's own total for the whole listing (numberOfRecordsMatched)
    position: str = ""  # where this page starts, for progress and error messages ("startPosition=101")
    received_bytes: int = 0  # size of the response, for throughput figures
    notes: list[str] = field(default_factory=list)  # protocol anomalies worth telling an admin
    checkpoint: dict[str, Any] | None = None  # where to continue after this page; None: cannot resume here
    # The source's total changed between two pages: pages addressed by position shifted, so a record the
    # source still holds may have been skipped, and the listing must not ground deletions (says why).
    unsettled: str | None = None


class Protocol(ABC):
    name: str

    def __init__(self, source: Source, *, since: str | None = None, resume: dict[str, Any] | None = None):
        self.source = source
        self.since = since
        self.resume = resume
        self.filtered = since is not None  # set to False when the listing could not be limited to changes
        self.server_time: str | None = None

    @abstractmethod
    def pages(self) -> Iterator[Page]:
        """Every page of the listing, in order. Raises ``ListingError`` if the listing fails."""


_PROTOCOLS: dict[str, str] = {
    "directory": "harvester.protocols.directory:Directory",
    "csw": "harvester.protocols.csw:CSW",
    "oai-pmh": "harvester.protocols.oaipmh:OAIPMH",
    "stac": "harvester.protocols.stac:STAC",
    "ogcapi-records": "harvester.protocols.ogcapi_records:OGCAPIRecords",
}

# Protocols that read from the network and therefore need an http(s) ``url``.
NETWORK_PROTOCOLS = {"csw", "oai-pmh", "stac", "ogcapi-records"}


def register(name: str, target: str, *, network: bool = True) -> None:
    """Make a protocol available as ``protocol: name``; ``target`` is ``"module:ClassName"``."""
    _PROTOCOLS[name] = target
    if network:
        NETWORK_PROTOCOLS.add(name)


def names() -> list[str]:
    return sorted(_PROTOCOLS)


def create(source: Source, *, since: str | None = None, resume: dict[str, Any] | None = None) -> Protocol:
    """The protocol client that enumerates ``source`` (changes since ``since``; from ``resume`` on)."""
    if source.protocol not in _PROTOCOLS:
        raise KeyError(f"unknown protocol {source.protocol!r}; known: {', '.join(names())}")
    module_name, _, attr = _PROTOCOLS[source.protocol].partition(":")
    return getattr(importlib.import_module(module_name), attr)(source, since=since, resume=resume)
