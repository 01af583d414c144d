"""A page of XML records (CSW GetRecords, OAI-PMH ListRecords) in which some bytes do not decode in the
page's encoding: the records holding them are rejected, the others harvested.

Why it works the way it does:

- libxml2 refuses the whole response at the first byte that is not, say, UTF-8 ("Invalid bytes in
  character encoding"), so one record pasted from a Latin-1 editor would end the listing at its page and
  leave every later page unharvested. An admin needs the one record named, and the catalogue needs the
  others.
- The bytes that do not decode are found by decoding the page once with ``surrogateescape`` (each such
  byte becomes a lone surrogate, U+DC80 + byte). Each run of them is replaced by a *marker*, a
  private-use character the page does not hold, and the copy is parsed with the caller's (safe) parser.
  A record whose subtree holds markers is broken; every other record is exactly what a parse of correct
  bytes gives, and is harvested as usual. The runs are given to the broken records in document order,
  so each rejection names its own lines, columns and bytes.
- A marker outside every record (the envelope: a resumption token, a paging attribute), a marker where
  no character may stand (a tag name) or a page that still does not parse means the page itself is
  broken: ``salvage`` gives ``None`` and the caller fails the listing as before.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

ENCODING_ERROR = "encoding-error"  # the rejection code of a record with bytes that do not decode
_DECLARATION = re.compile(rb"^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?\bencoding\s*=\s*[\"']([A-Za-z][\w.:-]*)[\"']")
_ESCAPED = re.compile("[\udc80-\udcff]+")  # the bytes ``surrogateescape`` could not decode
_SHOWN = 3  # runs of bad bytes named in one rejection message


@dataclass(frozen=True, slots=True)
class BadBytes:
    """A run of bytes that do not decode, where the response holds it (1-based, columns in characters)."""

    line: int
    column: int
    data: bytes

    def __str__(self) -> str:
        return f"{' '.join(f'0x{byte:02X}' for byte in self.data)} at line {self.line}, column {self.column}"


@dataclass(slots=True)
class Salvaged:
    """The page parsed with its bad bytes replaced, and why each broken record is rejected."""

    root: Any  # etree._Element
    marker: str  # the character that replaced each run of bad bytes
    broken: dict[Any, str] = field(default_factory=dict)  # record element -> rejection message

    def readable(self, text: str | None) -> str | None:
        """``text`` taken from the salvaged tree, or ``None`` when bad bytes stood in it (an identifier
        that cannot be trusted to match the record's indexed version)."""
        return None if text is None or self.marker in text else text


def declared_encoding(content: bytes) -> str:
    """The encoding an XML document declares (UTF-8 when it declares none, as XML says)."""
    found = _DECLARATION.match(content)
    return found[1].decode("ascii") if found else "UTF-8"


def salvage(
    content: bytes, parser: etree.XMLParser, records: Callable[[Any], Iterable[Any]]
) -> Salvaged | None:
    """The page with its records that hold bytes not in its declared encoding marked ``broken``;
    ``None`` when every byte decodes (the page is wrong elsewhere), or when the page is broken outside
    its records. ``records`` finds the record elements in the parsed page, in document order."""
    declared = declared_encoding(content)
    try:
        codec = codecs.lookup(declared).name
        text = content.decode(codec, "surrogateescape")
    except (LookupError, UnicodeError):
        return None
    runs = list(_ESCAPED.finditer(text))
    if not runs:
        return None
    marker = next((chr(code) for code in range(0xE000, 0xF900) if chr(code) not in text), None)
    if marker is None:
        return None
    try:
        root = etree.fromstring(_ESCAPED.sub(marker, text).encode(codec), parser)
    except (etree.XMLSyntaxError, UnicodeError, ValueError):
        return None
    bad = [_where(text, run) for run in runs]
    salvaged = Salvaged(root, marker)
    taken = 0
    for element in records(root):
        count = etree.tostring(element, encoding="unicode", with_tail=False).count(marker)
        if count:
            mine, taken = bad[taken : taken + count], taken + count
            salvaged.broken[element] = _message(mine, declared)
    return salvaged if taken == len(bad) else None


def _where(text: str, run: re.Match[str]) -> BadBytes:
    start = run.start()
    line_start = text.rfind("\n", 0, start) + 1
    data = bytes(ord(character) - 0xDC00 for character in run[0])
    return BadBytes(text.count("\n", 0, start) + 1, start - line_start + 1, data)


def _message(bad: list[BadBytes], encoding: str) -> str:
    shown = "; ".join(map(str, bad[:_SHOWN]))
    more = f"; and {len(bad) - _SHOWN} more" if len(bad) > _SHOWN else ""
    return (
        f"the record holds bytes that are not {encoding} (the response's encoding), so its text cannot be "
        f"read: {shown}{more}; the other records of the page are harvested"
    )
