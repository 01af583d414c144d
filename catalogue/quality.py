"""The quality of records as the catalogue indexes them: FAIR assessment and SHACL validation.

The index keeps, with each record, what an administrator needs to improve it (``Record.quality``), and
the FAIR level facet needs a value for every record. The two steps cost very differently, so they run
at different moments:

- ``rate``: the FAIR checks, about 60 µs a record, run inline as each record is enriched;
- ``validate``: the SHACL validation, about 9 ms a record even in batches (pyshacl's cost is mostly per
  run, so it runs once per batch), runs after the records are indexed, so that a harvest's records are
  searchable at the harvest's speed and the reports follow (``harvester.enrich``).

A validation report names the shapes it was made with (``ValidationReport.shapes``): ``current`` tells
whether a stored one still holds, so that ``terracat reindex`` validates only what changed.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from catalogue import fair, validation
from catalogue.record import Quality, Record, ValidationReport


def rate(record: Record) -> Record:
    """The record with its FAIR assessment. A validation report it carried is dropped: it was made
    for whatever version of the record the caller changed."""
    return msgspec.structs.replace(record, quality=Quality(fair=fair.assess(record)))


def with_validation(records: Sequence[Record], reports: Sequence[ValidationReport]) -> list[Record]:
    """The records, in order, each with its validation report set beside its FAIR assessment."""
    return [
        msgspec.structs.replace(
            record, quality=msgspec.structs.replace(record.quality or Quality(), validation=report)
        )
        for record, report in zip(records, reports, strict=True)
    ]


def assess(records: Sequence[Record]) -> list[Record]:
    """The records, in order, each rated and validated (any previous assessment replaced)."""
    rated = [rate(record) for record in records]
    return with_validation(rated, validation.validate(rated))


def current(report: ValidationReport | None) -> bool:
    """Whether ``report`` was made with the shapes shipped now."""
    return report is not None and report.shapes == validation.SHAPES_VERSION


def same_content(record: Record, other: Record) -> bool:
    """Whether two versions of a record differ at most in their quality (a validation of one holds for
    the other)."""
    return msgspec.structs.replace(record, quality=None) == msgspec.structs.replace(other, quality=None)
