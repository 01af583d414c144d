"""``Enricher``: what happens to a crosswalked record before it is indexed, the same in a harvest and in
``terracat reindex``, so that re-normalising the ledger's raw records gives what a new harvest would.

The record's keywords are mapped to thesaurus concepts and Data Terra themes (``thesaurus``); the
keywords that map to none are handed back for the per-source unmapped report. The enriched record is
then rated (FAIR, ``catalogue.quality.rate``). Its SHACL validation, 150 times as slow, is a separate
step (``validate``) that runs once the records are indexed (see ``catalogue.quality``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from catalogue import quality
from catalogue.record import Keyword, Record
from harvester import parallel

if TYPE_CHECKING:
    from thesaurus import Thesaurus


class Enricher:
    """Thesaurus enrichment and FAIR rating of records, by one record as a harvest crosswalks them;
    SHACL validation by batch, in ``workers`` processes (``harvester.parallel``; 0: in this process)."""

    def __init__(self, thesaurus: Thesaurus | None = None, *, workers: int = 0):
        self.thesaurus = thesaurus
        self.workers = workers

    def enrich(self, record: Record) -> tuple[Record, list[Keyword]]:
        """The record with its concepts, themes and FAIR rating, and its keywords no concept matched."""
        return parallel.enriched(record, self.thesaurus)

    @property
    def portable(self) -> bool:
        """Whether the crosswalk workers may enrich in its stead (``parallel.Crosswalker.enriched``, with
        its thesaurus): not when a subclass adds to ``enrich``, which the workers would not run."""
        return type(self).enrich is Enricher.enrich

    def validate(self, records: list[Record]) -> list[Record]:
        """The records, in order, with their SHACL validation report."""
        return quality.with_validation(records, parallel.validate(records, self.workers))
