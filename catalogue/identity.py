"""Record identity: ids that are stable, URL-safe and unique across sources; DOIs in any spelling.

A record id is ``<source id>.<native id made URL-safe>``. Source ids may not contain a dot (see
``harvester.source``), so the first dot splits the two halves unambiguously. When the native id had to
be changed to be URL-safe, or is very long, a short hash of the original is appended so that two native
ids that differ only in unsafe characters never collide.
"""

from __future__ import annotations

import hashlib
import re

from catalogue.record import Record

_UNSAFE = re.compile(r"[^A-Za-z0-9._~-]+")
_MAX_NATIVE = 100

# A DOI as written in metadata: bare, doi: prefixed, or a resolver URL (doi.org, dx.doi.org, hdl...).
_DOI = re.compile(
    r"^\s*(?:doi:\s*|(?:https?://)?(?:dx\.)?doi\.org/|info:doi/)?(10\.\d{4,9}/\S+?)\s*$", re.IGNORECASE
)

# A global identifier: an http(s) URI with a host and a path (a bare host names a site, not a dataset),
# or a URN with a namespace and a name. The first group is what RFC 3986 and RFC 8141 make
# case-insensitive: the scheme and host, or "urn:" and the namespace.
_GLOBAL_ID = re.compile(r"(https?://[^/?#]+)([/?#].+)|(urn:[^:]+:)(.+)", re.IGNORECASE | re.DOTALL)


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


def group_keys(record: Record) -> set[str]:
    """The keys that make records of different sources copies of one resource: ``doi:<doi>`` for each
    DOI and ``id:<uri>`` for each other identifier that is a URI or URN (``http://``, ``https://``,
    ``urn:``). Local codes ("1", "dataset-42") are left out: two sources numbering their records alike
    say nothing about the records being the same.

    A URI is trimmed and only its case-insensitive part lower-cased (scheme and host, or ``urn:`` and
    the namespace), so spellings of one identifier meet; the rest keeps its case, because paths and URN
    names are case-sensitive and folding them could merge distinct resources. ``http`` and ``https``
    stay apart: nothing says a server answers both for the same resource.
    """
    keys = set()
    for identifier in record.identifiers:
        code = identifier.code.strip()
        if identifier.scheme == "doi":
            keys.add(f"doi:{code}")
        elif match := _GLOBAL_ID.fullmatch(code):
            insensitive, rest = match.group(1, 2) if match.group(1) else match.group(3, 4)
            keys.add(f"id:{insensitive.lower()}{rest}")
    return keys
