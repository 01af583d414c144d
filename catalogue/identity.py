"""Record identity: ids that are stable, URL-safe and unique across sources; DOIs in any spelling.

A record id is ``<source id>.<native id made URL-safe>``. Source ids may not contain a dot (see
``harvester.source``), so the first dot splits the two halves unambiguously. When the native id had to
be changed to be URL-safe, or is very long, a short hash of the original is appended so that two native
ids that differ only in unsafe characters never collide.
"""

from __future__ import annotations

import hashlib
import re

_UNSAFE = re.compile(r"[^A-Za-z0-9._~-]+")
_MAX_NATIVE = 100

# A DOI as written in metadata: bare, doi: prefixed, or a resolver URL (doi.org, dx.doi.org, hdl...).
_DOI = re.compile(
    r"^\s*(?:doi:\s*|(?:https?://)?(?:dx\.)?doi\.org/|info:doi/)?(10\.\d{4,9}/\S+?)\s*$", re.IGNORECASE
)


def safe_native_id(native_id: str) -> str:
    """The URL-safe form of a source's own identifier (deterministic)."""
    cleaned = native_id.strip()
    safe = _UNSAFE.sub("-", cleaned).strip("-.") or "x"
    if safe != cleaned or len(safe) > _MAX_NATIVE:
        digest = hashlib.sha1(cleaned.encode("utf-8")).hexdigest()[:10]
        safe = f"{safe[:_MAX_NATIVE]}-{digest}"
    return safe


def record_id(source_id: str, native_id: str) -> str:
    """The catalogue id of the record ``native_id`` harvested from ``source_id``."""
    return f"{source_id}.{safe_native_id(native_id)}"


def normalise_doi(value: str | None) -> str | None:
    """``10.xxxx/yyy`` lower-cased when ``value`` is a DOI in any usual spelling, else ``None``."""
    if not value:
        return None
    match = _DOI.match(value)
    if not match:
        return None
    return match.group(1).rstrip(".,;").lower()
