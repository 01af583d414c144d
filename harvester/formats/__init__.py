"""Format crosswalks: a ``RawRecord`` in a native format -> a canonical ``Record``.

A crosswalk is a small class with a ``name`` (the ``format:`` value in a source's config) and a
``to_record`` method. It raises ``Rejected`` with a reason code when the raw record cannot become a
record; the harvest then records the rejection and goes on with the next record. Anything the crosswalk
could read only partly goes into ``Record.warnings`` instead of being dropped silently.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod

from catalogue.record import Record
from harvester.raw import RawRecord


class Rejected(Exception):
    """A raw record that cannot become a catalogue record.

    ``code`` is a stable machine-readable reason (``not-xml``, ``not-iso19139``, ``no-identifier``,
    ``no-title``, ...); the message says what was wrong in words a pole administrator can act on.
    """

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class Crosswalk(ABC):
    name: str

    @abstractmethod
    def to_record(self, raw: RawRecord, *, pole: str | None = None) -> Record:
        """The canonical record for ``raw``; raises ``Rejected`` if there can be none."""


_CROSSWALKS: dict[str, str] = {
    "iso19139": "harvester.formats.iso19139:ISO19139",
    "iso19115-3": "harvester.formats.iso19115_3:ISO19115_3",
    "dif": "harvester.formats.dif:DIF",
    "stac": "harvester.formats.stac:STAC",
    "ogcapi-records": "harvester.formats.ogcapi_records:OGCAPIRecord",
    "dc": "harvester.formats.dc:DublinCore",
    "datacite": "harvester.formats.datacite:DataCite",
}

_instances: dict[str, Crosswalk] = {}


def register(name: str, target: str) -> None:
    """Make a crosswalk available as ``format: name``; ``target`` is ``"module:ClassName"``."""
    _CROSSWALKS[name] = target


def names() -> list[str]:
    return sorted(_CROSSWALKS)


def get(name: str) -> Crosswalk:
    """The crosswalk for a format name (one shared instance: crosswalks hold no per-record state)."""
    if name not in _instances:
        if name not in _CROSSWALKS:
            raise KeyError(f"unknown format {name!r}; known: {', '.join(names())}")
        module_name, _, attr = _CROSSWALKS[name].partition(":")
        _instances[name] = getattr(importlib.import_module(module_name), attr)()
    return _instances[name]
