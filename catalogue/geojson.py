"""``Record`` -> OGC API - Records 1.0 GeoJSON record (``recordGeoJSON.yaml``, class ``record-core``).

A pure function of the record, shared by the API provider, the portal and exports. Choices:

- ``properties.title`` / ``description`` / ``keywords`` are in the record's main language, named by
  ``language``; ``languages`` lists every language the record has text in, and ``translations`` maps
  each other language to ``{title, description, keywords}`` so no translation the source gave is lost.
- ``created`` is the resource creation date and ``updated`` the metadata date stamp (the same meaning
  as the ``created``/``updated`` sort keys); the other citation dates go to ``published``/``revised``.
  Dates keep the precision the source gave (a year stays a year).
- ``time`` is the envelope of all temporal extents, both ends of the same kind (dates, or UTC
  timestamps when any end has a time of day); an unknown or open end is ``".."``.
- ``geometry`` is a Polygon per box (a box crossing the antimeridian becomes two), a MultiPolygon for
  several, a Point for a single degenerate box, and ``null`` without boxes.
- ``license`` is an SPDX id when one can be recognised, else ``other`` with a ``rel=license`` link;
  a licence known only as unrecognised text (no URL) goes to ``rights`` with the other constraints.
- Link relations: the described resource (DOI, or an identifier that is a web address) ->
  ``describes``, download -> ``enclosure``, OGC/web service endpoints -> ``service`` (with the
  ``protocol`` kept as a link property), information -> ``describedby``, search -> ``search``,
  thumbnails -> ``preview``, DOI -> ``cite-as``, licence -> ``license``, harvest source -> ``via``,
  anything else -> ``related``. A link without a media type gets the one its file name says, if any.
- Our own fields are extras under plain names: ``pole``, ``source``, ``nativeId``, ``platforms``,
  ``instruments``, ``topicCategories``, ``places``, ``lineage``. Crosswalk ``warnings`` are not
  published: they are for pole administrators and are served by the admin API.
"""

from __future__ import annotations

import calendar
import functools
import mimetypes
import re
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from catalogue.record import BBox, Constraints, Contact, Keyword, Link, Record, TemporalExtent
from catalogue.urls import is_link as _is_link

# Records of one catalogue cite the same addresses over and over (concept URIs, licences, their source,
# the record profile): each is parsed once, not once per record of every page served.
is_link = functools.lru_cache(maxsize=16384)(_is_link)

RECORD_CORE = "http://www.opengis.net/spec/ogcapi-records-1/1.0/req/record-core"
RECORD_PROFILE = "http://www.opengis.net/def/profile/OGC/0/ogc-record"
DOI_SCHEME = "https://doi.org"

Json = dict[str, Any]


def to_geojson(record: Record) -> Json:
    """The OGC API Records GeoJSON feature for ``record`` (a fresh dict the caller may modify)."""
    licensed = licence(record.constraints)  # the licence feeds properties and links: read it once
    return {
        "id": record.id,
        "type": "Feature",
        "conformsTo": [RECORD_CORE],
        "geometry": geometry(record.bboxes),
        "time": time_object(record.temporal),
        "properties": _properties(record, licensed),
        "links": record_links(record, licensed[1]),
    }


# --- properties -----------------------------------------------------------------------------------


def _properties(record: Record, licensed: tuple[str | None, Json | None]) -> Json:
    text_language = record.title.lang or record.metadata_language
    other_languages = translations(record)
    license_id, licence_link = licensed
    properties: Json = {
        "type": record.resource_type,
        "title": record.title.text,
        "description": record.abstract.text if record.abstract else None,
        "keywords": _unique(k.label for k in record.keywords),
        "themes": themes(record),
        "language": {"code": text_language} if text_language else None,
        "languages": _languages(text_language, other_languages),
        "resourceLanguages": [{"code": record.language}] if record.language else None,
        "externalIds": external_ids(record),
        "formats": [_format(f.name, f.version) for f in record.formats],
        "contacts": [entry for entry in map(contact, record.contacts) if entry],
        "license": license_id,
        "rights": rights(record.constraints, licence_link),
        "created": record.created,
        "updated": record.metadata_date,
        "published": record.published,
        "revised": record.revised,
        "translations": other_languages,
        "pole": record.pole,
        "source": record.source_id,
        "nativeId": record.native_id,
        "platforms": record.platforms,
        "instruments": record.instruments,
        "topicCategories": record.topic_categories,
        "places": record.places,
        "lineage": record.lineage,
        "quality": quality(record),
    }
    # Members that are not None, "", [] nor {} (a zero or False is a value); truth first, the common case.
    return {
        key: value
        for key, value in properties.items()
        if value or (value is not None and not isinstance(value, (str, list, dict)))
    }


def quality(record: Record) -> Json | None:
    """What the catalogue found of the record's quality, in brief: the FAIR score and level with the
    checks it failed, and whether its JSON-LD conforms to our SHACL profiles (with counts). The full
    reports (every check's reason, every SHACL result) are for the administrators' reports."""
    if record.quality is None:
        return None
    out: Json = {}
    if (rated := record.quality.fair) is not None:
        failed = [check.id for check in rated.checks if not check.passed]
        out["fair"] = {"score": rated.score, "level": rated.level, "failed": failed}
    if (report := record.quality.validation) is not None:
        severities = Counter(result.severity for result in report.results)
        out["validation"] = {
            "conforms": report.conforms,
            "violations": severities["violation"],
            "warnings": severities["warning"],
        }
    return out or None


def _unique(values: Iterable[str]) -> list[str]:
    """Distinct non-empty values in first-seen order (sources often repeat a keyword per thesaurus)."""
    return list(dict.fromkeys(v for v in values if v))


def _languages(main: str | None, others: dict[str, Json]) -> list[Json] | None:
    """Every language the record's text is available in, main first; only worth saying when >1."""
    if not others:
        return None
    return [{"code": code} for code in _unique([main or "", *sorted(others)])]


def translations(record: Record) -> dict[str, Json]:
    """``{lang: {title, description, keywords}}`` for every language other than the main one."""
    out: dict[str, Json] = {}
    for lang, text in record.title.translations.items():
        out.setdefault(lang, {})["title"] = text
    if record.abstract:
        for lang, text in record.abstract.translations.items():
            out.setdefault(lang, {})["description"] = text
    for keyword in record.keywords:
        for lang, text in keyword.translations.items():
            words = out.setdefault(lang, {}).setdefault("keywords", [])
            if text not in words:
                words.append(text)
    out.pop(record.title.lang or "", None)  # some sources repeat the main language as a translation
    return out


def themes(record: Record) -> list[Json]:
    """Keywords that name a vocabulary (thesaurus or anchor URI) and matched concepts, by scheme.

    A scheme is the thesaurus URI when the source gives one, else its title; a concept's ``id`` is its
    URI when it has one (so two records using the same concept share the id), else its label.
    """
    by_scheme: dict[str, dict[str, Json]] = {}
    for keyword in record.keywords:
        scheme = _keyword_scheme(keyword)
        if scheme is None:
            continue
        concept: Json = {"id": keyword.uri or keyword.label, "title": keyword.label}
        if is_link(keyword.uri):
            concept["url"] = keyword.uri
        by_scheme.setdefault(scheme, {}).setdefault(concept["id"], concept)
    for item in record.concepts:
        title = _concept_label(item.labels, record.title.lang)
        concept = {"id": item.uri, "url": item.uri, **({"title": title} if title else {})}
        by_scheme.setdefault(item.scheme or _namespace(item.uri), {}).setdefault(item.uri, concept)
    return [{"scheme": scheme, "concepts": list(concepts.values())} for scheme, concepts in by_scheme.items()]


def _keyword_scheme(keyword: Keyword) -> str | None:
    """The vocabulary a keyword claims (``None`` for a free keyword, which stays in ``keywords`` only)."""
    return keyword.thesaurus_uri or keyword.thesaurus or (_namespace(keyword.uri) if keyword.uri else None)


def _namespace(uri: str) -> str:
    """The vocabulary a bare concept URI belongs to: everything up to its last ``/`` or ``#``."""
    cut = max(uri.rfind("/"), uri.rfind("#"))
    return uri[: cut + 1] if cut > len("https://") else uri


def _concept_label(labels: dict[str, str], lang: str | None) -> str | None:
    """The concept's label in the record's language, else English, French, or any."""
    for choice in (lang, "en", "fr"):
        if choice in labels:
            return labels[choice]
    return next(iter(labels.values()), None)


def external_ids(record: Record) -> list[Json]:
    """Identifiers as ``{scheme, value}``; DOIs get the resolver as scheme so clients can link them."""
    out = []
    for identifier in record.identifiers:
        scheme = DOI_SCHEME if identifier.scheme == "doi" else identifier.scheme
        entry = {"scheme": scheme, "value": identifier.code} if scheme else {"value": identifier.code}
        if entry not in out:
            out.append(entry)
    return out


def _format(name: str, version: str | None) -> Json:
    """A format by name; a name that is a media type is also given as ``mediaType``."""
    entry: Json = {"name": name}
    if re.fullmatch(r"[\w.+-]+/[\w.+-]+", name):
        entry["mediaType"] = name
    if version:
        entry["version"] = version
    return entry


_E164_NOISE = re.compile(r"\(0\)|[\s().-]")
_E164 = re.compile(r"^\+[1-9][0-9]{3,14}$")


def contact(party: Contact) -> Json | None:
    """An OARec contact, or ``None`` when the party has neither a name nor an organisation (the
    schema requires one of them)."""
    if not (party.name or party.organisation):
        return None
    entry: Json = {
        "name": party.name,
        "organization": party.organisation,
        "position": party.position,
        "emails": [{"value": email} for email in party.emails],
        "phones": [{"value": _phone(number)} for number in party.phones],
        "addresses": _addresses(party),
        "links": [{"href": party.url, "rel": "about", "type": "text/html"}] if is_link(party.url) else None,
        "roles": [party.role] if party.role else None,
    }
    return {key: value for key, value in entry.items() if value}


def _phone(number: str) -> str:
    """E.164 (``+33298224242``) when the number can be read as one, else as the source wrote it."""
    compact = _E164_NOISE.sub("", number)
    return compact if _E164.match(compact) else number


def _addresses(party: Contact) -> list[Json] | None:
    if not (party.address or party.country):
        return None
    address: Json = {}
    if party.address:
        address["deliveryPoint"] = [party.address]
    if party.country:
        address["country"] = party.country
    return [address]


# --- licence and rights ---------------------------------------------------------------------------

_CC_URL = re.compile(r"creativecommons\.org/licenses/([a-z-]+)/(\d\.\d)")
_CC_CODE = re.compile(r"\bcc-(by(?:-(?:nc|nd|sa))*)-(\d\.\d)\b")
_CC_WORDS = re.compile(
    r"creative-commons-attribution((?:-(?:non-?commercial|no-?deriv(?:ative)?s?|share-?alike))*)"
    r"-(?:international-)?(?:licen[cs]e-)?(?:v(?:ersion)?-?)?(\d\.\d)"
)
_SIMPLE_LICENCES = (
    (re.compile(r"\bcc0\b|creativecommons\.org/publicdomain/zero|public-domain-dedication"), "CC0-1.0"),
    (
        re.compile(r"etalab-2\.0|(?:licen[cs]e-ouverte|open-licen[cs]e)(?:-etalab)?-(?:v(?:ersion)?-?)?2\.0"),
        "etalab-2.0",
    ),
    (re.compile(r"\bodbl\b|open-database-licen[cs]e"), "ODbL-1.0"),
    (re.compile(r"\bpddl\b|opendatacommons\.org/licenses/pddl"), "PDDL-1.0"),
    (re.compile(r"\bodc-by\b|opendatacommons\.org/licenses/by"), "ODC-By-1.0"),
)


@functools.lru_cache(maxsize=4096)  # a catalogue has a few licences, written a few ways
def spdx_id(*texts: str | None) -> str | None:
    """The SPDX id of the licence named by any of ``texts`` (a URL or a name), when recognisable."""
    for text in texts:
        if not text:
            continue
        folded = re.sub(r"(?:[^\w./:@]|_)+", "-", text.strip().lower())  # "CC_BY (4.0)" -> "cc-by-4.0-"
        for pattern, identifier in _SIMPLE_LICENCES:
            if pattern.search(folded):
                return identifier
        if match := _CC_URL.search(folded) or _CC_CODE.search(folded):
            return f"CC-{match.group(1).upper()}-{match.group(2)}"
        if match := _CC_WORDS.search(folded):
            return "-".join(["CC-BY", *_cc_restrictions(match.group(1)), match.group(2)])
    return None


def _cc_restrictions(words: str) -> list[str]:
    """``-noncommercial-sharealike`` -> ``["NC", "SA"]``, in SPDX order."""
    found = [
        ("NC", r"non-?commercial"),
        ("ND", r"no-?deriv"),
        ("SA", r"share-?alike"),
    ]
    return [code for code, pattern in found if re.search(pattern, words)]


def licence(constraints: Constraints | None) -> tuple[str | None, Json | None]:
    """``(license property, rel=license link)``.

    A recognised licence gets its SPDX id and a link to the source's licence URL, or to the SPDX page
    when the source gave none; an unrecognised licence with a URL is ``other`` plus the link.
    """
    if constraints is None or not (constraints.licence or constraints.licence_url):
        return None, None
    identifier = spdx_id(constraints.licence_url, constraints.licence)
    href = constraints.licence_url or (f"https://spdx.org/licenses/{identifier}.html" if identifier else None)
    if href is None:
        return None, None
    link = {"rel": "license", "href": href, "title": constraints.licence or identifier or href}
    return identifier or "other", link


def rights(constraints: Constraints | None, licence_link: Json | None) -> str | None:
    """Every constraint not carried by ``license`` (whose link ``licence`` gave), one statement per line."""
    if constraints is None:
        return None
    unplaced = [constraints.licence] if constraints.licence and licence_link is None else []
    statements = _unique([*unplaced, *constraints.access, *constraints.use_limitations, *constraints.other])
    return "\n".join(statements) or None


# --- geometry and time ----------------------------------------------------------------------------


def geometry(boxes: list[BBox]) -> Json | None:
    """GeoJSON geometry of the record's bounding boxes (see the module docstring)."""
    if not boxes:
        return None
    if len(boxes) == 1 and boxes[0].west == boxes[0].east and boxes[0].south == boxes[0].north:
        return {"type": "Point", "coordinates": [boxes[0].west, boxes[0].south]}
    rings = [ring for box in boxes for ring in _rings(box)]
    if len(rings) == 1:
        return {"type": "Polygon", "coordinates": rings[0]}
    return {"type": "MultiPolygon", "coordinates": rings}


def _rings(box: BBox) -> list[list[list[list[float]]]]:
    """Polygon coordinates for a box; one crossing the antimeridian is split at 180°."""
    if box.west > box.east:
        return [
            _ring(box.west, box.south, 180.0, box.north),
            _ring(-180.0, box.south, box.east, box.north),
        ]
    return [_ring(box.west, box.south, box.east, box.north)]


def _ring(west: float, south: float, east: float, north: float) -> list[list[list[float]]]:
    """A counter-clockwise exterior ring, as RFC 7946 asks."""
    return [[[west, south], [east, south], [east, north], [west, north], [west, south]]]


def time_object(extents: list[TemporalExtent]) -> Json | None:
    """The record-core ``time`` member for the envelope of ``extents``, or ``None`` if none is known."""
    starts = [_bound(e.start, end=False) for e in extents]
    ends = [None if e.indeterminate_end == "now" else _bound(e.end, end=True) for e in extents]
    if not any(starts) and not any(ends):
        return None
    if any(len(v) > 10 for v in (*starts, *ends) if v):
        starts = [_as_timestamp(v, end=False) for v in starts]
        ends = [_as_timestamp(v, end=True) for v in ends]
    start = None if None in starts else min(starts)
    end = None if None in ends else max(ends)
    if start is not None and start == end:
        return {"date": start} if len(start) == 10 else {"timestamp": start}
    return {"interval": [start or "..", end or ".."]}


_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$")


def _bound(value: str | None, *, end: bool) -> str | None:
    """A full date for ``YYYY``/``YYYY-MM``/``YYYY-MM-DD`` (widened to the period's first or last
    day), a UTC ``...Z`` timestamp for a date-time, ``None`` if unknown or unreadable."""
    if not value:
        return None
    if match := _PARTIAL_DATE.match(value.strip()):
        year, month, day = match.groups()
        try:
            if day:
                checked = datetime(int(year), int(month), int(day))  # a real day, or ValueError
                # Already what strftime writes, unless the year has fewer than 4 digits (unpadded).
                return f"{year}-{month}-{day}" if year >= "1000" else checked.strftime("%Y-%m-%d")
            month_number = int(month) if month else (12 if end else 1)
            last = calendar.monthrange(int(year), month_number)[1]
            return f"{int(year):04d}-{month_number:02d}-{last if end else 1:02d}"
        except ValueError:
            return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _as_timestamp(value: str | None, *, end: bool) -> str | None:
    """A full date as the first or last second of its day, so both interval ends are timestamps."""
    if value is None or len(value) > 10:
        return value
    return f"{value}T23:59:59Z" if end else f"{value}T00:00:00Z"


# --- links ----------------------------------------------------------------------------------------

_SERVICE_PROTOCOL = re.compile(
    r"^(?:OGC:|ESRI:|OPeNDAP|OGC-|WMS|WFS|WCS|WMTS|CSW|SOS)|W[MFC]T?S|OPENDAP|THREDDS", re.IGNORECASE
)
_REL_BY_FUNCTION = {
    "download": "enclosure",
    "fileAccess": "enclosure",
    "information": "describedby",
    "completeMetadata": "describedby",
    "search": "search",
    "browseGraphic": "preview",
}


def link_rel(link: Link) -> str:
    """The link relation for an online resource (service endpoints first: a GetCapabilities URL
    tagged ``download`` is still a service)."""
    if link.protocol and _SERVICE_PROTOCOL.search(link.protocol):
        return "service"
    if link.function in _REL_BY_FUNCTION:
        return _REL_BY_FUNCTION[link.function]
    if link.protocol and "DOWNLOAD" in link.protocol.upper():
        return "enclosure"
    return "related"


def _resource_link(link: Link) -> Json:
    rel = link_rel(link)
    entry: Json = {"rel": rel, "href": link.url}
    media_type = link.media_type or (_image_type(link.url) if rel == "preview" else _file_type(link.url))
    if media_type:
        entry["type"] = media_type
    title = link.name or link.description
    if title:
        entry["title"] = title
    if link.description and link.description != title:
        entry["description"] = link.description
    if link.protocol:
        entry["protocol"] = link.protocol
    if link.function:
        entry["function"] = link.function
    return entry


def _image_type(url: str) -> str | None:
    guessed, _ = mimetypes.guess_type(url.split("?", 1)[0])
    return guessed if guessed and guessed.startswith("image/") else None


def _file_type(url: str) -> str | None:
    """The media type a URL's file name says (``.zip``, ``.nc``, ``.pdf``...), so that clients can tell
    a download from a page before following it; ``None`` for an address without one (an endpoint)."""
    path = urlsplit(url).path
    if "." not in path.rsplit("/", 1)[-1]:
        return None
    guessed, encoding = mimetypes.guess_type(path)
    return guessed if guessed and encoding is None else None


def described_resource(record: Record) -> str | None:
    """The address of the resource the record describes (``rel=describes``): its DOI, else an
    identifier that is a web address (as ``externalIds`` shows it, so a reader can tell it is one)."""
    if record.doi:
        return f"https://doi.org/{record.doi}"
    for identifier in record.identifiers:
        if identifier.code.startswith(("https://", "http://")) and is_link(identifier.code):
            return identifier.code
    return None


def record_links(record: Record, licence_link: Json | None) -> list[Json]:
    """The record's own links: the resource it describes, its online resources, previews, DOI,
    licence, harvest source and the record profile. Links the API adds (self, alternate, collection)
    are not the record's."""
    links = [_resource_link(link) for link in record.links]
    if described := described_resource(record):
        links.insert(0, {"rel": "describes", "href": described, "title": "The described resource"})
    for url in record.thumbnails:
        preview: Json = {"rel": "preview", "href": url}
        if image_type := _image_type(url):
            preview["type"] = image_type
        links.append(preview)
    if record.doi:
        links.append({"rel": "cite-as", "href": f"https://doi.org/{record.doi}", "title": "DOI"})
    if licence_link:
        links.append(licence_link)
    if record.provenance and record.provenance.source_url:
        links.append({"rel": "via", "href": record.provenance.source_url, "title": "Harvest source"})
    links.append({"rel": "profile", "href": RECORD_PROFILE, "title": "OGC API Records record"})
    return _distinct_links(links)


def _distinct_links(links: list[Json]) -> list[Json]:
    """One link per (rel, href): sources often list the same URL as both resource and thumbnail.
    Only followable addresses: a harvested ``javascript:`` linkage must never reach an ``href``."""
    seen: set[tuple[str, str]] = set()
    out = []
    for link in links:
        key = (link["rel"], link["href"])
        if key not in seen and is_link(link["href"]):
            seen.add(key)
            out.append(link)
    return out
