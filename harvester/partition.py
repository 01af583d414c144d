"""``Partition``: the share of the sources one scheduler process harvests, to scale the harvester out.

Several ``terracat scheduler`` processes (on one machine or several) share one index and one ledger,
each given a partition (``--pole`` / ``--sources``, or ``harvest.partition`` in its config): a source is
in a partition when its pole or its id is named there; an empty partition holds every source. The
partition is a rule, not a list: a source added later (admin API, a hand edit) goes to the process
whose partition holds it, without a restart. Partitions that overlap by mistake cost nothing but idle
fires: the source's lock in the ledger (``harvester.run.source_lock``) lets one run at a time.

It lives apart from the scheduler so that reading the config (``api.settings``) does not import the
harvest machinery.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from harvester.source import POLES, Source

_POLES = {pole.casefold(): pole for pole in POLES}


class Partition(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Poles and source ids; pole names are matched whatever their case and kept as ``POLES`` spells
    them (``aeris`` is ``AERIS``)."""

    poles: list[str] = []
    sources: list[str] = []

    def __post_init__(self) -> None:
        canonical = []
        for name in self.poles:
            pole = _POLES.get(name.casefold())
            if pole is None:
                raise ValueError(f"poles: unknown pole {name!r} (known: {', '.join(POLES)})")
            if pole not in canonical:
                canonical.append(pole)
        self.poles = canonical
        self.sources = list(dict.fromkeys(self.sources))

    @property
    def everything(self) -> bool:
        """Whether it holds every source (nothing named)."""
        return not self.poles and not self.sources

    def holds(self, source: Source) -> bool:
        return self.everything or source.pole in self.poles or source.id in self.sources

    def unknown(self, sources: Iterable[Source]) -> list[str]:
        """The source ids it names that are not among ``sources``: a typo would silently harvest less."""
        known = {source.id for source in sources}
        return [source_id for source_id in self.sources if source_id not in known]

    def __str__(self) -> str:
        if self.everything:
            return "all sources"
        named = [f"poles: {', '.join(self.poles)}"] if self.poles else []
        named += [f"sources: {', '.join(self.sources)}"] if self.sources else []
        return "; ".join(named)
