"""What every crosswalk reads the same way: safe XML parsing, JSON decoding, text clean-up, dates,
languages, licences, identifiers, and the boxes and roles of the GeoJSON formats (STAC, OGC API Records).

Kept in one place so that a date, a language code, a DOI or a licence written the same way in an ISO
record, a DataCite record and a STAC collection becomes the same value in the catalogue, whatever the
format it came in.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from typing import Any, Literal

import msgspec
from lxml import etree

from catalogue.identity import normalise_doi
from catalogue.record import BBox, Constraints, Identifier, TemporalExtent
from harvester.formats import Rejected
from harvester.raw import RawRecord

# Records come from sources we do not control. No entity expansion and no DTD loading: an external entity
# would read a file or a URL (XXE). No network access at all. libxml2's own limits stay on (no
# ``huge_tree``): entity amplification (billion laughs, quadratic blow-up), nesting deeper than 256,
# text or attribute values over 10 MB are parse errors.
PARSER = etree.XMLParser(
    resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False, remove_blank_text=False
)
_LIMIT_ERRORS = frozenset({etree.ErrorTypes.ERR_RESOURCE_LIMIT, etree.ErrorTypes.ERR_ENTITY_LOOP})


def xml_root(raw: RawRecord) -> Any:
    """The parsed document: the protocol's element when it already parsed the response, else the bytes
    parsed safely (``PARSER``).

    Rejected: ``not-xml`` when the bytes are not well-formed, ``xml-limits`` when they exceed the parser's
    safety limits, ``xml-entity`` when the record refers to an entity declared in a DTD (never expanded:
    the record would be read without the text it stands for)."""
    if raw.element is not None:
        element = raw.element
        root = element.getroot() if hasattr(element, "getroot") else element
    else:
        try:
            root = etree.fromstring(raw.content, PARSER)
        except etree.XMLSyntaxError as exc:
            if exc.code in _LIMIT_ERRORS:
                raise Rejected(
                    "xml-limits",
                    f"the record exceeds the XML parser's safety limits (entity expansion, nesting depth"
                    f" 256, 10 MB per text or attribute value): {exc}",
                ) from None
            raise Rejected("not-xml", f"the record is not well-formed XML: {exc}") from None
        except ValueError as exc:
            raise Rejected("not-xml", f"the record is not well-formed XML: {exc}") from None
    entity = next(root.iter(etree.Entity), None)
    if entity is not None:
        raise Rejected(
            "xml-entity",
            f"the record uses the entity {entity.text}, declared in a DTD: entities are not expanded (they"
            " can read files or URLs, or grow a few bytes into gigabytes); write the characters instead",
        )
    return root


def local_name(element: Any) -> str:
    """``MD_Metadata`` for ``{http://...}MD_Metadata``."""
    tag = element.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def single_element(root: Any, tags: tuple[str, ...], code: str, expected: str) -> Any:
    """The record element of a document: ``root`` itself when it has one of ``tags`` (``{*}name`` matches
    the name in any namespace), else the only such element inside a wrapper (OAI-PMH ``record``, CSW
    response, GeoNetwork export).

    ``Rejected(code)`` when there is none, or several: a raw record holds one record, and keeping the
    first of several would drop the others without a word (the response or the file was not split).
    """
    found = root.iter(*tags)
    element = next(found, None)
    if element is None:
        raise Rejected(code, f"root element is {root.tag} and it contains no {expected}")
    if element is not root and next(found, None) is not None:
        count = 2 + sum(1 for _ in found)
        raise Rejected(
            code,
            f"root element {root.tag} holds {count} {expected} records; a harvested record must be one"
            " (split the response or the file into records)",
        )
    return element


def json_document(raw: RawRecord) -> Any:
    """The decoded JSON value: the protocol's when it already decoded the page (``RawRecord.element``
    holds the object then), else the bytes decoded with msgspec (several times faster than ``json``);
    ``Rejected("not-json")`` when they are not JSON in UTF-8, ``Rejected("json-limits")`` when they nest
    deeper than the decoder goes. A UTF-8 byte order mark is skipped:
    Windows editors write one and the JSON grammar does not allow it."""
    if isinstance(raw.element, dict | list):
        return raw.element
    try:
        return msgspec.json.decode(raw.content.removeprefix(b"\xef\xbb\xbf"))
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise Rejected("not-json", f"the record is not JSON in UTF-8: {exc}") from None
    except RecursionError:  # msgspec's answer to arrays or objects nested a thousand deep
        raise Rejected("json-limits", "the record nests arrays or objects too deeply to be read") from None


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


_PLACEHOLDER_TEXT = re.compile(
    r"(?:unknown|none|null|n/?a|(?:[\w ]+ )?not (?:available|applicable|known))\W*", re.IGNORECASE
)


def is_placeholder(text: str) -> bool:
    """Whether a value is a form filler (``Unknown``, ``N/A``, ``Funding information not available.``):
    it names no one and nothing, and would only add noise to contacts, links and facets."""
    return bool(_PLACEHOLDER_TEXT.fullmatch(text.strip()))


def distinct_names(names: list[str]) -> list[str]:
    """Names without repeats in any spelling: ``Landsat 8`` beside ``LANDSAT_8`` counts once."""
    seen: set[str] = set()
    out = []
    for name in names:
        if fold(name) not in seen:
            seen.add(fold(name))
            out.append(name)
    return out


def postal_address(
    delivery_points: list[str], postcode: str | None, city: str | None, area: str | None
) -> str | None:
    """One line, as ISO and DIF addresses read: delivery points, postcode and city, administrative area."""
    town = " ".join(filter(None, (postcode, city)))
    return ", ".join(part for part in (*delivery_points, town, area) if part) or None


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


# What JSON formats write at an open interval end besides null: ".." (OGC API, ISO 8601-2) or "".
_OPEN_ENDS = frozenset({"", ".."})


def interval(start: Any, end: Any) -> tuple[TemporalExtent, list[str]]:
    """The extent between two JSON interval ends (STAC ``extent.temporal``, OGC API ``time``) and what
    was wrong with it. ``null``, ``""`` and ``".."`` are open ends; an unreadable end is kept in
    ``*_raw`` so the administrator can see what the source wrote."""
    problems: list[str] = []
    ends: list[tuple[str | None, str | None]] = []
    for name, value in (("start", start), ("end", end)):
        text = None if value is None else str(value).strip()
        if text is None or text in _OPEN_ENDS:
            ends.append((None, None))
            continue
        normalised = normalise_date(text)
        if normalised is None:
            problems.append(f"unreadable {name} {text!r}")
        ends.append((normalised, None if normalised else text))
    (first_day, start_raw), (last_day, end_raw) = ends
    if first_day and last_day and first_day[:10] > last_day[:10]:
        problems.append(f"ends ({last_day}) before it begins ({first_day})")
    extent = TemporalExtent(start=first_day, end=last_day, start_raw=start_raw, end_raw=end_raw)
    return extent, problems


def intervals(pairs: list[tuple[Any, Any]]) -> tuple[list[TemporalExtent], list[str]]:
    """The distinct extents of ``(start, end)`` pairs, both-ends-open ones left out (they say nothing),
    and what was wrong with them."""
    extents: list[TemporalExtent] = []
    problems: list[str] = []
    for start, end in pairs:
        extent, found = interval(start, end)
        problems.extend(found)
        if extent != TemporalExtent():
            extents.append(extent)
    return unique(extents), problems


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


RightsList = Literal["access", "use_limitations", "other"]


class Rights:
    """A record's rights statements filed as ``Constraints`` lists, and the one that names its licence.

    A statement that names a licence (``is_licence``) is a licence candidate instead of a list entry. The
    licence is the first candidate that comes with a URL (a link to the licence text beats a name alone),
    else the first candidate; the other candidates go back to the list they were filed under, unless
    they repeat the licence.
    """

    def __init__(self) -> None:
        self.lists: dict[RightsList, list[str]] = {"access": [], "use_limitations": [], "other": []}
        self.candidates: list[tuple[str, str | None, RightsList]] = []

    def add(self, text: str | None, url: str | None, home: RightsList, *, licence: bool = False) -> None:
        """File a statement (its text, else its URL) under ``home`` or among the licence candidates; a
        statement without URL of its own takes the first URL in its text. ``licence`` says the source
        itself calls it a licence (``dct:license``, a DataCite SPDX ``rightsIdentifier``), whatever
        its words."""
        label = text or url
        if not label:
            return
        url = url or first(URL_IN_TEXT.findall(label))
        if licence or is_licence(label, url):
            self.candidates.append((label, url, home))
        else:
            self.lists[home].append(label)

    def constraints(self) -> Constraints | None:
        lists = {home: list(texts) for home, texts in self.lists.items()}
        licence = next((c for c in self.candidates if c[1]), first(self.candidates))
        for label, _, home in self.candidates:
            if licence is not None and label != licence[0]:
                lists[home].append(label)
        constraints = Constraints(
            licence=licence[0] if licence else None,
            licence_url=licence[1] if licence else None,
            access=unique(lists["access"]),
            use_limitations=unique(lists["use_limitations"]),
            other=unique(lists["other"]),
        )
        return None if constraints == Constraints() else constraints


# STAC and OGC API Records ``license``: an SPDX id, or one of these with the licence in a rel=license link.
_NOT_SPDX = frozenset({"other", "proprietary", "various"})
_SPDX_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+-]*")


def spdx_constraints(
    value: str | None, link_href: str | None, link_title: str | None
) -> tuple[Constraints | None, str | None]:
    """The licence of a STAC or OGC API Records document and what was wrong with it.

    An SPDX id is the licence, with the ``rel=license`` link as URL when there is one (the source's
    own address for it, not repeated as a second link), else its SPDX page; ``other``/``proprietary``/
    ``various`` point to the link, named by its title (else ``proprietary``/``various``, which say
    something; ``other`` says nothing). Without a ``license`` the link alone names the licence. An
    SPDX expression (``MIT OR Apache-2.0``) is kept as text.
    """
    value = one_line(value)
    if value and value.lower() not in _NOT_SPDX:
        spdx_page = f"https://spdx.org/licenses/{value}.html" if _SPDX_ID.fullmatch(value) else None
        return Constraints(licence=value, licence_url=link_href or spdx_page), None
    if link_href:
        name = one_line(link_title) or (value if value and value.lower() != "other" else None)
        return Constraints(licence=name, licence_url=link_href), None
    if value:
        return Constraints(licence=value), f"license {value!r} without a rel=license link naming the licence"
    return None, None


# --- resource types -----------------------------------------------------------------------------------
# DCMI Type vocabulary and DataCite resourceTypeGeneral (its extension) -> ISO 19115 scope code. Types
# ISO has no scope for (images, sound, physical objects, events) are data to a catalogue: dataset.
# fmt: off
_TYPE_SCOPES = {
    "dataset": "dataset", "collection": "collection", "service": "service", "software": "software",
    "computationalnotebook": "software", "workflow": "software", "model": "model",
    "interactiveresource": "application", "instrument": "sensor", "project": "initiative",
    "award": "initiative", "text": "document", "book": "document", "bookchapter": "document",
    "report": "document", "journal": "document", "journalarticle": "document", "datapaper": "document",
    "conferencepaper": "document", "conferenceproceeding": "document", "dissertation": "document",
    "preprint": "document", "peerreview": "document", "standard": "document",
    "outputmanagementplan": "document", "studyregistration": "document", "image": "dataset",
    "stillimage": "dataset", "movingimage": "dataset", "audiovisual": "dataset", "film": "dataset",
    "sound": "dataset", "physicalobject": "dataset", "event": "dataset", "other": "dataset",
}
# fmt: on


def scope_of_type(value: str | None) -> str | None:
    """The ISO scope code for a DCMI type or a DataCite ``resourceTypeGeneral``, by name or DCMI URI
    (``Dataset``, ``http://purl.org/dc/dcmitype/StillImage``, ``Physical Object``); None if unknown."""
    if not value:
        return None
    return _TYPE_SCOPES.get(fold(value.strip().rstrip("/").rpartition("/")[2]))


# ISO 19115 MD_ScopeCode (2003 list and the 19115-1 additions): what JSON formats that borrow the ISO
# scope (OGC API Records ``type``, our own GeoJSON) may write as a resource type.
SCOPE_CODES = frozenset(
    {
        "attribute", "attributeType", "collectionHardware", "collectionSession", "dataset", "series",
        "nonGeographicDataset", "dimensionGroup", "feature", "featureType", "propertyType", "fieldSession",
        "software", "service", "model", "tile", "initiative", "stereomate", "sensor", "platformSeries",
        "sensorSeries", "productionSeries", "transferAggregate", "otherAggregate", "collection", "document",
        "repository", "aggregate", "product", "application", "metadata",
    }
)  # fmt: skip


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


# --- GeoJSON formats (STAC, OGC API Records): boxes, geometries, roles ----------------------------------
_LIMITS = (("west", 180), ("south", 90), ("east", 180), ("north", 90))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def bbox_from_numbers(values: Any) -> tuple[BBox | None, str | None]:
    """The box of a GeoJSON/STAC ``bbox`` (``[west, south, east, north]`` or 3D ``[west, south, low,
    east, north, high]``) and what was wrong when there is none: not numbers, a longitude or latitude
    out of range (often swapped axes), south above north. ``west > east`` crosses the antimeridian."""
    if not isinstance(values, list) or len(values) not in (4, 6) or not all(map(_is_number, values)):
        return None, f"{values!r} is not 4 or 6 numbers"
    bounds = values if len(values) == 4 else [values[0], values[1], values[3], values[4]]
    for (name, limit), value in zip(_LIMITS, bounds, strict=True):
        if abs(value) > limit:
            swapped = " (latitude and longitude swapped?)" if limit == 90 and abs(value) <= 180 else ""
            return None, f"{name} {value} is out of range{swapped}"
    west, south, east, north = map(float, bounds)
    if south > north:
        return None, f"south {south} is above north {north}"
    return BBox(west, south, east, north), None


def _positions(coordinates: Any) -> list[list[Any]]:
    """Every position in nested GeoJSON coordinates, in order. A loop, not a recursion: a hostile
    document may nest its arrays as deep as the JSON decoder allows."""
    found: list[list[Any]] = []
    pending = [coordinates]
    while pending:
        value = pending.pop()
        if isinstance(value, list) and value and not isinstance(value[0], list):
            found.append(value)
        elif isinstance(value, list):
            pending.extend(reversed(value))
    return found


def _rejoined(west_half: BBox, east_half: BBox) -> BBox | None:
    """The box crossing the antimeridian that RFC 7946 §3.1.9 cut into these two halves, if it was one."""
    cut = west_half.east == 180 and east_half.west == -180 and west_half.west > -180 and east_half.east < 180
    if cut and (west_half.south, west_half.north) == (east_half.south, east_half.north):
        return BBox(west_half.west, west_half.south, east_half.east, west_half.north)
    return None


def geometry_bboxes(geometry: Any) -> tuple[list[BBox], str | None]:
    """The boxes of a GeoJSON geometry and what was wrong with it.

    One box per polygon of a MultiPolygon and per member of a GeometryCollection (several areas stay
    several boxes, as our own GeoJSON writes them), one envelope for any other type; the two halves of
    a box cut at the antimeridian become one box again.
    """
    if not isinstance(geometry, dict):
        return [], None
    kind = geometry.get("type")
    coordinates = geometry.get("coordinates")
    if kind == "GeometryCollection":
        members = geometry.get("geometries") or []
        parts = [member.get("coordinates") for member in members if isinstance(member, dict)]
    else:
        parts = list(coordinates or []) if kind == "MultiPolygon" else [coordinates]
    boxes: list[BBox] = []
    for part in parts:
        positions = _positions(part)
        if not positions or not all(len(p) >= 2 and _is_number(p[0]) and _is_number(p[1]) for p in positions):
            return [], f"{kind} coordinates are not positions"
        lons, lats = [p[0] for p in positions], [p[1] for p in positions]
        box, problem = bbox_from_numbers([min(lons), min(lats), max(lons), max(lats)])
        if box is None:
            return [], problem
        if boxes and (whole := _rejoined(boxes[-1], box)):
            boxes[-1] = whole
        elif box not in boxes:
            boxes.append(box)
    return boxes, None


_MEDIA_TYPE = re.compile(r"[\w.+-]+/[\w.+-]+\s*(?:;.*)?", re.DOTALL)


def link_type(value: Any) -> tuple[str | None, str | None]:
    """(media type, protocol) of a link's ``type``. Writers that start from ISO metadata (pygeometa,
    pycsw) put the ISO protocol there (``OGC:WMS``, ``download``): it is kept as the protocol."""
    text = one_line(value) if isinstance(value, str) else None
    if text is None or _MEDIA_TYPE.fullmatch(text):
        return text, None
    return None, text


# STAC provider roles, also used by OGC API Records and WMO WCMP2 contacts -> ISO 19115-1 CI_RoleCode
# (producer made it: originator; licensor grants the licence: rightsHolder; host serves it: distributor).
PROVIDER_ROLES = {
    "producer": "originator",
    "licensor": "rightsHolder",
    "processor": "processor",
    "host": "distributor",
}
