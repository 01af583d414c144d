"""``RawRecord``: a record as received from a source, before any interpretation.

The bytes are kept (in the harvest ledger), so the whole catalogue can be re-normalised with a better
crosswalk or thesaurus without harvesting again. A protocol that already parsed the response hands the
parsed element along in ``element`` so the crosswalk does not parse the same bytes twice; ``element``
is a cache, never stored.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class RawRecord:
    source_id: str
    format: str  # the crosswalk name: iso19139, dc, datacite, stac, ...
    content: bytes  # the record's XML/JSON exactly as received (one record, wrappers removed)
    native_id: str | None = (
        None  # when the protocol knows it (OAI header id, STAC id); else from the crosswalk
    )
    datestamp: str | None = None  # the source's datestamp for the record, when it gives one
    deleted: bool = False  # the source says the record was deleted (OAI-PMH status="deleted")
    locator: str = ""  # where it came from, for messages: a file path, "page 3, record 7", a URL
    element: Any = field(default=None, repr=False, compare=False)  # parsed lxml element, when available
    # (code, message) when the protocol already knows the record cannot be read (bytes that are not in the
    # response's encoding): the run rejects it so without a crosswalk; ``content`` is then empty.
    rejected: tuple[str, str] | None = None
    _digest: str | None = field(default=None, repr=False, compare=False)

    @property
    def digest(self) -> str:
        """Content hash: a record whose bytes did not change since the last harvest is 'unchanged'."""
        if self._digest is None:
            self._digest = hashlib.blake2b(self.content, digest_size=16).hexdigest()
        return self._digest
