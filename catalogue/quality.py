"""The quality of records as the catalogue indexes them: FAIR assessment and SHACL validation.

The harvest and ``terracat reindex`` call ``assess`` on every batch before indexing, so that the index
keeps, with each record, what an administrator needs to improve it (``Record.quality``) and the FAIR
level facet has a value. The FAIR checks run per record (microseconds); the validation runs once for
the whole batch, because pyshacl's cost is mostly per run, not per record.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from catalogue import fair, validation
from catalogue.record import Quality, Record


def assess(records: Sequence[Record]) -> list[Record]:
    """The records, in order, each with its ``quality`` set (any previous assessment replaced)."""
    reports = validation.validate(records)
    return [
        msgspec.structs.replace(record, quality=Quality(fair=fair.assess(record), validation=report))
        for record, report in zip(records, reports, strict=True)
    ]
