"""``Enricher``: what happens to a crosswalked record before it is indexed, the same in a harvest and in
``terracat reindex``, so that re-normalising the ledger's raw records gives what a new harvest would.

The record's keywords are mapped to thesaurus concepts and Data Terra themes (``thesaurus``); the
keywords that map to none are handed back for the per-source unmapped report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from catalogue.record import Keyword, Record

if TYPE_CHECKING:
    from thesaurus import Thesaurus


class Enricher:
    """Thesaurus enrichment of records, by one record as a harvest crosswalks them."""

    def __init__(self, thesaurus: Thesaurus | None = None):
        self.thesaurus = thesaurus

    def enrich(self, record: Record) -> tuple[Record, list[Keyword]]:
        """The record with its concepts and themes, and its keywords no concept matched."""
        if self.thesaurus is None:
            return record, []
        return self.thesaurus.enrich(record)
