"""What every crosswalk reads the same way: safe XML parsing, text clean-up, dates, languages, licences
and identifiers.

Kept in one place so that a date, a language code, a DOI or a licence written the same way in an ISO
record, a DataCite record and a STAC collection becomes the same value in the catalogue, whatever the
format it came in.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from lxml import etree

from catalogue.identity import normalise_doi
from catalogue.record import Identifier
from harvester.formats import Rejected
from harvester.raw import RawRecord

# No DTD entity expansion and no network access: records come from sources we do not control.
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=False)


def xml_root(raw: RawRecord) -> Any:
    """The parsed document: the protocol's element when it already parsed the response, else the bytes
    parsed safely; ``Rejected("not-xml")`` when they are not well-formed."""
    if raw.element is not None:
        element = raw.element
        return element.getroot() if hasattr(element, "getroot") else element
    try:
        return etree.fromstring(raw.content, PARSER)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise Rejected("not-xml", f"the record is not well-formed XML: {exc}") from None


def local_name(element: Any) -> str:
    """``MD_Metadata`` for ``{http://...}MD_Metadata``."""
    tag = element.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


# --- text -------------------------------------------------------------------------------------------
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
_FOLD = re.compile(r"[\W_]+")


def first(elements: list[Any]) -> Any:
    return elements[0] if elements else None


def one_line(text: str | None) -> str | None:
    """Whitespace collapsed: titles, names and codes are often pretty-printed over several lines."""
    if not text:
        return None
    return " ".join(text.split()) or None


def paragraphs(text: str | None) -> str | None:
    """Long text (abstract, lineage, constraints) with its paragraphs but without pretty-printing.

    When continuation lines are indented the line breaks come from an XML pretty-printer: lines are
    joined and only blank-line paragraph breaks are kept. Otherwise the author's line breaks are kept.
    """
    if not text:
        return None
    lines = text.strip().splitlines()
    if any(line.startswith((" ", "\t")) for line in lines[1:]):
        parts = _PARAGRAPH_BREAK.split(text.strip())
        return "\n\n".join(" ".join(part.split()) for part in parts) or None
    return "\n".join(line.strip() for line in lines) or None


def unique(values: Any) -> list[Any]:
    """Values in order without repeats (list membership: Structs are not hashable)."""
    out: list[Any] = []
    for value in values:
        if value not in out:
            out.append(value)
    return out


def fold(name: str) -> str:
    """Lower-cased with punctuation and spaces removed: ``Landsat 8`` and ``LANDSAT_8`` fold alike."""
    return _FOLD.sub("", name.lower())


# --- dates ------------------------------------------------------------------------------------------
_DATE = re.compile(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?(?:Z|[+-]\d{2}:?\d{2})?")
_BASIC_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")


def normalise_date(value: str | None) -> str | None:
    """The ISO 8601 form of a date as written in metadata, or ``None`` when it cannot be read.

    Calendar dates keep their precision (``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD``; a zone on a plain date,
    ``2012-01-01Z``, is dropped); the basic format ``20170322`` is read as a date; timestamps become
    RFC 3339 in UTC to the second (sub-second digits, even nanoseconds, are cut). A timestamp without a
    zone is taken as UTC: a few hours' error matters less to a catalogue than an unsortable value.
    Impossible dates (``2015-14-12``) and prose (``8 juillet 1974``) give ``None``: guessing would hide
    the error from the source's administrator.
    """
    if not value:
        return None
    text = value.strip()
    match = _DATE.fullmatch(text) or _BASIC_DATE.fullmatch(text)
    if match:
        return _calendar_date(*match.groups())
    if "T" in text or ":" in text:
        return _timestamp(text)
    return None


def _calendar_date(year: str, month: str | None, day: str | None) -> str | None:
    try:
        date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        return None
    if day:
        return f"{year}-{int(month or 1):02d}-{int(day):02d}"
    return f"{year}-{int(month):02d}" if month else year


def _timestamp(text: str) -> str | None:
    try:
        moment = datetime.fromisoformat(text)
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return moment.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


# --- languages --------------------------------------------------------------------------------------
# ISO 639-2 (bibliographic and terminology codes) and a few names seen in records -> ISO 639-1.
# fmt: off
_ISO639 = {
    "eng": "en", "english": "en", "fre": "fr", "fra": "fr", "french": "fr", "français": "fr",
    "francais": "fr", "ger": "de", "deu": "de", "german": "de", "deutsch": "de", "ita": "it",
    "italian": "it", "dut": "nl", "nld": "nl", "spa": "es", "por": "pt", "roh": "rm", "rum": "ro",
    "ron": "ro", "pol": "pl", "cze": "cs", "ces": "cs", "slo": "sk", "slk": "sk", "slv": "sl",
    "hrv": "hr", "hun": "hu", "gre": "el", "ell": "el", "bul": "bg", "swe": "sv", "dan": "da",
    "fin": "fi", "nor": "no", "nob": "nb", "nno": "nn", "est": "et", "lav": "lv", "lit": "lt",
    "gle": "ga", "mlt": "mt", "cat": "ca", "baq": "eu", "eus": "eu", "glg": "gl", "ice": "is",
    "isl": "is", "wel": "cy", "cym": "cy", "bre": "br", "cos": "co", "oci": "oc", "ltz": "lb",
    "rus": "ru", "ukr": "uk", "tur": "tr", "ara": "ar", "chi": "zh", "zho": "zh", "jpn": "ja",
    "kor": "ko",
}
# fmt: on
_LANG_SEPARATORS = re.compile(r"[;,\s_-]")


def normalise_language(code: str | None) -> str | None:
    """ISO 639-1 for the usual spellings (``fre``, ``fra``, ``eng; CAN``, ``fr-FR``, ``German``); any
    other code lower-cased, as the record convention says."""
    if not code:
        return None
    key = _LANG_SEPARATORS.split(code.strip().lower(), 1)[0]
    return _ISO639.get(key, key) or None


# --- licences -----------------------------------------------------------------------------------------
_LICENCE_TEXT = re.compile(
    r"creative\s*commons|\bcc[\s-]?(?:by|zero|0)\b|licen[cs]e\s+ouverte|open\s+licen[cs]e|etalab"
    r"|open\s+data\s+commons|\bodbl\b|open\s+government\s+licen[cs]e|\bpddl\b",
    re.IGNORECASE,
)
_LICENCE_URL = re.compile(r"licen[cs]|creativecommons\.org|opendatacommons\.org|etalab", re.IGNORECASE)
URL_IN_TEXT = re.compile(r"https?://[^\s<>\"')\]]+")


def is_licence(text: str, url: str | None) -> bool:
    """Whether a rights statement names a licence (Creative Commons, Etalab/Licence Ouverte, ODbL, Open
    Government Licence, or a URL about a licence) rather than an access or use restriction."""
    return bool(_LICENCE_TEXT.search(text) or (url and _LICENCE_URL.search(url)))


# --- identifiers --------------------------------------------------------------------------------------
def to_identifier(code: str | None, href: str | None, scheme: str | None) -> Identifier | None:
    """An identifier from a code and/or URI; any DOI, however written, becomes scheme ``doi``."""
    doi = normalise_doi(code) or normalise_doi(href)
    if doi:
        return Identifier(code=doi, scheme="doi", url=f"https://doi.org/{doi}")
    value = code or href
    if not value:
        return None
    url = href or (value if value.startswith(("http://", "https://")) else None)
    return Identifier(code=value, scheme=scheme, url=url)


def doi_identifier(value: str | None) -> Identifier | None:
    """The DOI identifier for ``value`` when it is a DOI (bare, ``doi:`` or a doi.org URL), else None."""
    doi = normalise_doi(value)
    return Identifier(code=doi, scheme="doi", url=f"https://doi.org/{doi}") if doi else None


def add_identifier(found: list[Identifier], candidate: Identifier | None) -> None:
    """Append unless the same code (same scheme) is already there: a DOI counts once however written."""
    if candidate is None:
        return
    if any(i.code == candidate.code and i.scheme == candidate.scheme for i in found):
        return
    found.append(candidate)
