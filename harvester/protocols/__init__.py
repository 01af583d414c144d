"""Protocol clients: enumerate a source page by page as ``RawRecord``s.

A protocol is a small class with a ``name`` (the ``protocol:`` value in a source's config) whose
``pages()`` yields ``Page``s. A record that is malformed is still yielded (the crosswalk rejects it with
a reason); a failure of the listing itself (HTTP error after retries, OGC ExceptionReport, a response
that is not what the protocol promises) raises ``ListingError``: the harvest then knows its listing is
incomplete and must not delete anything.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

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


class Protocol(ABC):
    name: str

    def __init__(self, source: Source):
        self.source = source

    @abstractmethod
    def pages(self) -> Iterator[Page]:
        """Every page of the listing, in order. Raises ``ListingError`` if the listing fails."""


_PROTOCOLS: dict[str, str] = {
    "directory": "harvester.protocols.directory:Directory",
    "csw": "harvester.protocols.csw:CSW",
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


def create(source: Source) -> Protocol:
    """The protocol client that enumerates ``source``."""
    if source.protocol not in _PROTOCOLS:
        raise KeyError(f"unknown protocol {source.protocol!r}; known: {', '.join(names())}")
    module_name, _, attr = _PROTOCOLS[source.protocol].partition(":")
    return getattr(importlib.import_module(module_name), attr)(source)
