"""Offline FAIR assessment of one record: the F-UJI v0.8 metrics that the record alone can answer.

F-UJI (PANGAEA) evaluates a landing page over the network; the catalogue wants a score per record at
every harvest, for thousands of records, so ``assess`` evaluates the metrics that are pure functions of
the normalised record (DOMAIN.md §3.4) in microseconds and without network. The metrics that need a
resolver (FsF-F1-02MD-2 "registered", FsF-A1-02MD "retrievable") are left to a periodic job.

Each metric is one ``Check`` that passes or fails as a whole (F-UJI's partial scores are folded into
the reason, which names what was found or what is missing), weighted by the priority the RDA FAIR Data
Maturity Model gives the matching indicator: essential 2, important 1 (``WEIGHTS``). The score is the
weighted share of passed checks out of 100, rounded half up; the level uses F-UJI's words for its
quartiles: ``incomplete`` (< 25), ``initial`` (< 50), ``moderate`` (< 75), ``advanced`` (>= 75).

What terracat itself publishes (FsF-F4-01M embedded JSON-LD, FsF-I1-01M RDF by content negotiation)
passes by construction, provided the record has what that JSON-LD must carry to be accepted (a title
and a description of the length Google Dataset Search requires). The source's own identifiers are
judged, not the catalogue URL: that one identifies our copy of the metadata, not the source's data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import NamedTuple

from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression

from catalogue.geojson import spdx_id
from catalogue.record import Check, Constraints, FairReport, Link, Record

ESSENTIAL, IMPORTANT = 2, 1
LEVELS = ((25, "incomplete"), (50, "initial"), (75, "moderate"))  # score below the bound -> level
TOP_LEVEL = "advanced"
DESCRIPTION_LENGTH = (50, 5000)  # Google Dataset Search: a description of 50 to 5000 characters


def assess(record: Record) -> FairReport:
    """The FAIR report of a record: every metric of ``METRICS``, the weighted score and its level."""
    checks = []
    for metric, (name, _, evaluate) in METRICS.items():
        passed, reason = evaluate(record)
        checks.append(Check(id=metric, name=name, passed=passed, reason=reason))
    points = score(checks)
    return FairReport(score=points, level=level(points), checks=checks)


def score(checks: Iterable[Check]) -> int:
    """The weighted share of passed checks out of 100, rounded half up."""
    checks = list(checks)
    total = sum(WEIGHTS[check.id] for check in checks)
    passed = sum(WEIGHTS[check.id] for check in checks if check.passed)
    return (200 * passed + total) // (2 * total) if total else 0


def level(points: int) -> str:
    """F-UJI's maturity words for a score out of 100."""
    return next((name for bound, name in LEVELS if points < bound), TOP_LEVEL)


# --- identifiers -----------------------------------------------------------------------------------
# (kind, pattern, persistent). Order matters: the first kind that matches names the identifier.
_IDENTIFIER_KINDS: tuple[tuple[str, re.Pattern[str], bool], ...] = (
    ("DOI", re.compile(r"(?:doi:|https?://(?:dx\.)?doi\.org/)?10\.\d{4,9}/\S+", re.I), True),
    ("Handle", re.compile(r"(?:hdl:|https?://hdl\.handle\.net/)\d+(?:\.\w+)*/\S+", re.I), True),
    ("ARK", re.compile(r"(?:\S*/)?ark:/?\d{5,}/\S+", re.I), True),
    ("PURL", re.compile(r"https?://purl\.(?:org|oclc\.org)/\S+", re.I), True),
    ("w3id", re.compile(r"https?://w3id\.org/\S+", re.I), True),
    ("identifiers.org", re.compile(r"https?://(?:identifiers\.org|n2t\.net)/\S+", re.I), True),
    ("URN:NBN", re.compile(r"urn:nbn:\S+", re.I), True),
    ("URL", re.compile(r"(?:https?|ftp)://[^\s/]+\.[^\s/]+(?:/\S*)?", re.I), False),
    ("URN", re.compile(r"urn:[a-z0-9][a-z0-9-]{0,31}:\S+", re.I), False),
    (
        "UUID",
        re.compile(r"\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?", re.I),
        False,
    ),
    ("hash", re.compile(r"[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}", re.I), False),
)


def identifier_kind(value: str) -> tuple[str, bool] | None:
    """(kind, persistent) of an identifier by its syntax alone (F-UJI's "unique" and "persistent"
    identifier vocabularies), or None when it is a local code."""
    value = value.strip()
    for kind, pattern, persistent in _IDENTIFIER_KINDS:
        if pattern.fullmatch(value):
            return kind, persistent
    return None


def _source_identifiers(record: Record) -> list[tuple[str, tuple[str, bool] | None]]:
    """The source's identifiers of the resource and of its metadata, with their kind; a DOI identifier
    counts as a DOI whatever its code looks like."""
    values: list[tuple[str, tuple[str, bool] | None]] = [
        (record.native_id, identifier_kind(record.native_id))
    ]
    for identifier in record.identifiers:
        kind = ("DOI", True) if identifier.scheme == "doi" else identifier_kind(identifier.code)
        values.append((identifier.code, kind))
        if identifier.url:
            values.append((identifier.url, identifier_kind(identifier.url)))
    return values


def _unique_identifier(record: Record) -> tuple[bool, str]:
    found = sorted(
        ((value, kind) for value, kind in _source_identifiers(record) if kind),
        key=lambda item: not item[1][1],  # a PID first: it is the one worth naming
    )
    if found:
        value, (kind, _) = found[0]
        return True, f"{kind} {value!r} is globally unique by its syntax"
    return False, (
        f"native identifier {record.native_id!r} and the resource identifiers are local codes: give a URI, "
        "UUID or PID (DOI, Handle, ARK) as fileIdentifier or citation identifier"
    )


def _persistent_identifier(record: Record) -> tuple[bool, str]:
    found = [(value, kind[0]) for value, kind in _source_identifiers(record) if kind and kind[1]]
    if found:
        value, kind = found[0]
        return True, f"{kind} {value!r} has a persistent identifier syntax (registration not checked offline)"
    return (
        False,
        "no DOI, Handle, ARK, PURL, w3id or URN:NBN among the identifiers: register a PID (e.g. a DOI)",
    )


# --- core metadata ---------------------------------------------------------------------------------
CREATOR_ROLES = frozenset({"author", "coAuthor", "originator", "principalInvestigator", "creator"})


def _has_party(record: Record, roles: frozenset[str]) -> bool:
    return any(c.role in roles and (c.name or c.organisation) for c in record.contacts)


def _core_metadata(record: Record) -> tuple[bool, str]:
    """F-UJI's citation core (creator, title, identifier, publisher, publication date, type: the type
    is always set) and descriptive core (summary, keywords), all of them (FsF-F2-01M-2 and -3)."""
    present = {
        "creator (author/originator/principal investigator)": _has_party(record, CREATOR_ROLES),
        "resource identifier": bool(record.identifiers),
        "publisher": _has_party(record, frozenset({"publisher"})),
        "publication date": bool(record.published),
        "summary": bool(record.abstract and record.abstract.text.strip()),
        "keywords": bool(record.keywords),
    }
    missing = [name for name, ok in present.items() if not ok]
    if missing:
        return False, f"missing {', '.join(missing)}"
    return True, "title, creator, identifier, publisher, publication date, type, summary and keywords present"


# --- data links ------------------------------------------------------------------------------------
_DATA_FUNCTIONS = frozenset({"download", "order", "offlineAccess"})
# Protocols of links that lead to the data: downloads, FTP, OGC and other data services, feeds, STAC.
_DATA_PROTOCOL = re.compile(
    r"download|ftp|ogc[: ]|opendap|thredds|atom|esri:rest|motu|stac items|web (?:map|feature|coverage)",
    re.I,
)


_URL_SCHEME = re.compile(r"\s*([a-z][a-z0-9+.-]*):", re.I)


def _absolute(link: Link) -> bool:
    """Whether the link is an absolute URI (any scheme): a relative path or a "-" locates nothing."""
    return _URL_SCHEME.match(link.url) is not None


def data_links(record: Record) -> list[Link]:
    """The links that lead to the data content: downloads, orders and data services, by absolute URI."""
    return [
        link
        for link in record.links
        if _absolute(link)
        and (link.function in _DATA_FUNCTIONS or (link.protocol and _DATA_PROTOCOL.search(link.protocol)))
    ]


def _data_identifier(record: Record) -> tuple[bool, str]:
    links = data_links(record)
    if links:
        return True, f"{len(links)} link(s) to the data, e.g. {links[0].url}"
    return (
        False,
        "no download link or data service among the online resources (function download, OGC service)",
    )


_STANDARD_SCHEMES = frozenset({"http", "https", "ftp", "ftps", "sftp", "tftp"})


def _standard_protocol(record: Record) -> tuple[bool, str]:
    """F-UJI tests the scheme of the URIs that lead to the data: the data links, and the DOI (resolved
    by https://doi.org). The catalogue's own pages are https by construction."""
    urls = [link.url for link in data_links(record)]
    if record.doi:
        urls.append(f"https://doi.org/{record.doi}")
    schemes = {match.group(1).lower() for url in urls if (match := _URL_SCHEME.match(url))}
    standard = sorted(schemes & _STANDARD_SCHEMES)
    other = sorted(schemes - _STANDARD_SCHEMES)
    if not urls:
        return False, "no data link or DOI whose protocol could be checked"
    if not standard:
        return (
            False,
            f"data links use no standard protocol ({', '.join(other)}): publish http(s) or ftp links",
        )
    extra = f"; also {', '.join(other)}" if other else ""
    return True, f"data reachable by {', '.join(standard)}{extra}"


# --- what terracat publishes -----------------------------------------------------------------------
def _searchable(record: Record) -> tuple[bool, str]:
    low, high = DESCRIPTION_LENGTH
    length = len(record.abstract.text.strip()) if record.abstract else 0
    if not length:
        return False, "terracat embeds schema.org JSON-LD in the record page, but Google needs a description"
    if not low <= length <= high:
        return False, (
            f"terracat embeds schema.org JSON-LD in the record page, but the description has {length} "
            f"characters where Google Dataset Search needs {low} to {high}"
        )
    return True, "by construction: terracat embeds schema.org Dataset JSON-LD with name and description"


def _formal_representation(record: Record) -> tuple[bool, str]:
    if not (record.abstract and record.abstract.text.strip()):
        return False, "terracat serves DCAT/schema.org RDF, but without a description it is not valid DCAT-AP"
    return True, "by construction: terracat embeds JSON-LD and serves it by content negotiation"


# --- access ----------------------------------------------------------------------------------------
def _access(record: Record) -> tuple[bool, str]:
    constraints = record.constraints
    if constraints and constraints.access:
        return True, f"access conditions: {constraints.access[0]!r}"
    licence = standard_licence(constraints)
    if licence:
        return True, f"no access statement, but the {licence} licence makes the data public"
    return False, "no access constraints nor open licence: state the access level (public, restricted...)"


# --- vocabularies ----------------------------------------------------------------------------------
# Namespaces of registered vocabularies (host + path prefix, either scheme).
REGISTERED_VOCABULARIES: dict[str, str] = {
    "gcmd.earthdata.nasa.gov/kms": "GCMD",
    "gcmdservices.gsfc.nasa.gov/kms": "GCMD",
    "vocab.nerc.ac.uk/collection/P07/": "CF standard names (NVS P07)",
    "vocab.nerc.ac.uk/": "NVS",
    "cfconventions.org/": "CF standard names",
    "inspire.ec.europa.eu/": "INSPIRE registry",
    "www.eionet.europa.eu/gemet/": "GEMET",
    "publications.europa.eu/resource/authority/": "EU Publications Office authority tables",
    "vocab.ifremer.fr/": "ODATIS vocabularies",
    "w3id.org/data-terra/": "Data Terra thesaurus",
    "w3id.org/formater/": "ForM@Ter vocabularies",
    "w3id.org/ozcar-theia/": "Theia/OZCAR thesaurus",
    "data.loterre.fr/": "Loterre",
    "loterre.istex.fr/": "Loterre",
}
_SCHEME = re.compile(r"^https?://", re.I)


def vocabulary_of(uri: str) -> str | None:
    """The registered vocabulary a term URI belongs to, by namespace."""
    rest = _SCHEME.sub("", uri.strip())
    return next((name for prefix, name in REGISTERED_VOCABULARIES.items() if rest.startswith(prefix)), None)


def _term_uris(record: Record) -> list[str]:
    """The URIs of the record's terms: keyword anchors and the concepts the thesaurus found, except a
    Data Terra theme inferred from the pole alone (the catalogue's guess, not a term of the record)."""
    uris = [k.uri for k in record.keywords if k.uri]
    uris.extend(c.uri for c in record.concepts if not c.via or not all(v.startswith("pole:") for v in c.via))
    return uris


def _vocabularies(record: Record) -> tuple[bool, str]:
    uris = _term_uris(record)
    found = sorted({name for uri in uris if (name := vocabulary_of(uri))})
    if found:
        return True, f"terms from {', '.join(found)}"
    if uris:
        return False, f"{len(uris)} term URI(s), none from a registered vocabulary (e.g. {uris[0]})"
    return False, "no keyword carries a vocabulary URI and no keyword maps to a thesaurus concept"


# --- related resources -----------------------------------------------------------------------------
_RELATED_FUNCTIONS = frozenset({"information", "search", "completeMetadata", "browsing", "canonical"})


def _related(record: Record) -> tuple[bool, str]:
    """Typed references: the parent (dct:isPartOf) and links whose function names the relation
    (landing page, documentation, full metadata); downloads and thumbnails are the data itself."""
    found = [f"parent {record.parent_id!r}"] if record.parent_id else []
    found.extend(
        f"{link.function} link {link.url}"
        for link in record.links
        if link.function in _RELATED_FUNCTIONS and _absolute(link)
    )
    if found:
        return True, f"{len(found)} typed reference(s), e.g. {found[0]}"
    return False, "no parent identifier nor typed link to related information (landing page, documentation)"


# --- content ---------------------------------------------------------------------------------------
_SERVICE_PROTOCOL = re.compile(r"ogc[: ]|opendap|esri:rest|stac|web (?:map|feature|coverage)", re.I)


def _data_forms(record: Record) -> list[str]:
    """The distribution formats and the media types of the data links, each once."""
    forms = [f.name for f in record.formats]
    forms.extend(link.media_type for link in data_links(record) if link.media_type)
    return list(dict.fromkeys(forms))


def _content(record: Record) -> tuple[bool, str]:
    """Resource type (always set by the crosswalks) plus the manner and form of the data: file type,
    or a service endpoint with its protocol (FsF-R1-01M-1 and -2)."""
    forms = _data_forms(record)
    services = [
        link.protocol for link in record.links if link.protocol and _SERVICE_PROTOCOL.search(link.protocol)
    ]
    if forms or services:
        what = forms[0] if forms else f"{services[0]} service"
        return True, f"{record.resource_type} delivered as {what}"
    return False, f"{record.resource_type} without a distribution format, media type or service protocol"


# --- licence ---------------------------------------------------------------------------------------
_FAMILIES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bcc[\s_-]*by\b|creative\s*commons\s*(?:-\s*)?attribution", re.I), "CC-BY"),
    (re.compile(r"\bcc[\s_-]*(?:0|zero)\b|creative\s*commons\s*zero", re.I), "CC0-1.0"),
    (re.compile(r"creativecommons\.org/(?:licenses|publicdomain)/", re.I), "Creative Commons"),
    (re.compile(r"licen[cs]e[\s_-]*ouverte|\bopen[\s_-]*licen[cs]e\b|etalab", re.I), "Licence Ouverte"),
    (
        re.compile(r"\bodbl\b|open\s*database\s*licen[cs]e|opendatacommons\.org/licenses/odbl", re.I),
        "ODbL-1.0",
    ),
    (re.compile(r"opendatacommons\.org/licenses/|opendefinition\.org/licenses/", re.I), "Open Data Commons"),
    (re.compile(r"open\s*government\s*licen[cs]e", re.I), "Open Government Licence"),
)
_SPDX_PAGE = re.compile(
    r"(?:spdx\.org/licenses|opensource\.org/licenses)/([A-Za-z0-9.+-]+?)(?:\.html|\.json)?/?$"
)
# The EU Publications Office licence table: CC_BY_4_0, ODC_BL... (its codes spell SPDX ids with "_").
_EU_LICENCE = re.compile(r"publications\.europa\.eu/resource/authority/licence/([A-Za-z0-9_]+)")
_EU_VERSION = re.compile(r"_(\d+)_(\d+)$")
_SPDX_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+-]*")


def _spdx(token: str) -> str | None:
    """The canonical SPDX id of a single licence id (not an expression, not a LicenseRef)."""
    if not _SPDX_TOKEN.fullmatch(token):
        return None
    try:
        return canonicalize_license_expression(token)
    except InvalidLicenseExpression:
        return None


def licence_name(*texts: str | None) -> str | None:
    """The standard licence named by any of ``texts`` (URL or name), as an SPDX id when the version is
    known, else as the family name ("CC-BY", "Licence Ouverte"); None for a bespoke licence.

    Standard: an SPDX id or SPDX/OSI page, a Creative Commons, Etalab (Licence Ouverte / Open
    Licence), Open Data Commons or Open Government Licence URL or name, an EU authority licence URL."""
    versioned = spdx_id(*texts)
    if versioned:
        return versioned
    for text in filter(None, texts):
        text = text.strip()
        if eu := _EU_LICENCE.search(text):
            code = eu.group(1)
            return spdx_id(_EU_VERSION.sub(r"-\1.\2", code).replace("_", "-")) or f"EU licence {code}"
        page = _SPDX_PAGE.search(text)
        found = _spdx(page.group(1)) if page else _spdx(text)
        if found:
            return found
        for pattern, family in _FAMILIES:
            if pattern.search(text):
                return family
    return None


def standard_licence(constraints: Constraints | None) -> str | None:
    """The standard licence of a record's constraints (``licence_name`` of its URL, then its name)."""
    if constraints is None:
        return None
    return licence_name(constraints.licence_url, constraints.licence)


def _licence(record: Record) -> tuple[bool, str]:
    constraints = record.constraints
    licence = standard_licence(constraints)
    if licence:
        return True, f"standard licence {licence}"
    if constraints and (constraints.licence or constraints.licence_url):
        named = constraints.licence or constraints.licence_url
        return False, f"licence {named!r} is not a standard licence (SPDX, Creative Commons, Etalab, ODC)"
    return False, "no licence: name one (e.g. CC-BY-4.0, etalab-2.0) with its URL in the use constraints"


# --- provenance ------------------------------------------------------------------------------------
def _provenance(record: Record) -> tuple[bool, str]:
    """A lineage statement, or the PROV-DC elements of creation: who made it and when."""
    if record.lineage:
        return True, "lineage statement present"
    date = record.created or record.published
    if date and _has_party(record, CREATOR_ROLES):
        return True, f"creator and creation/publication date {date} present (no lineage statement)"
    if record.platforms or record.instruments:
        return True, "platforms/instruments that generated the data are named (no lineage statement)"
    return False, "no lineage statement, no platform or instrument, and no creator with a creation date"


# --- standards and formats -------------------------------------------------------------------------
# Native formats -> (standard, community-specific?). F-UJI gives both kinds the point (-1 and -3).
METADATA_STANDARDS: dict[str, tuple[str, bool]] = {
    "iso19139": ("ISO 19115/19139 (geographic information)", True),
    "iso19115-3": ("ISO 19115-3 (geographic information)", True),
    "dif": ("GCMD DIF (Earth science)", True),
    "stac": ("STAC (Earth observation)", True),
    "ogcapi-records": ("OGC API - Records (geospatial)", True),
    "datacite": ("DataCite metadata schema", False),
    "dc": ("Dublin Core", False),
}


def _metadata_standard(record: Record) -> tuple[bool, str]:
    native = record.provenance.native_format if record.provenance else None
    if native in METADATA_STANDARDS:
        standard, community = METADATA_STANDARDS[native]
        kind = "community-specific" if community else "multidisciplinary, community-endorsed"
        return True, f"harvested as {standard}, a {kind} standard"
    return False, f"native metadata format {native!r} is not a known community standard"


# Open, long-term or scientific file formats (F-UJI's file format list, geoscience subset), by
# name or media type fragment; generic containers (zip) and web pages (HTML) say nothing of the data.
_COMMUNITY_FORMAT = re.compile(
    r"netcdf|\bnc4?\b|x-netcdf|\bhdf[45]?\b|x-hdf|\bgrib2?\b|geotiff?|cloud-optimized|\bcog\b|image/tiff|\btiff?\b"
    r"|\bcsv\b|comma-separated|tab-separated|\btsv\b|text/plain|\bascii\b|^\s*te?xt\s*$|\bjson\b|geo\+json"
    r"|geojson|\bxml\b|\bgml\d?\b|gml\+xml|\bkmz?\b|shapefile|\bshp\b|geopackage|\bgpkg\b|jpeg[\s-]?2000|\bjp2\b"
    r"|\bpng\b|parquet|\bzarr\b|\bla[sz]\b|seg-?y|mini-?seed|\bmseed\b|\bsac\b|nasa ames|\bodv\b|\bsafe\b"
    r"|darwin core|dwc-a|\bpdf\b|interlis|spatialite|opendap",
    re.I,
)


def _file_format(record: Record) -> tuple[bool, str]:
    forms = _data_forms(record)
    community = [form for form in forms if _COMMUNITY_FORMAT.search(form)]
    if community:
        return True, f"community or open format {community[0]!r}"
    if forms:
        return False, f"formats {', '.join(repr(f) for f in forms[:3])} are not known open/scientific formats"
    return False, "no data format given (distribution format or media type)"


class Metric(NamedTuple):
    name: str  # F-UJI's short name (metrics_v0.8.yaml)
    weight: int  # the RDA priority of the matching indicator
    evaluate: Callable[[Record], tuple[bool, str]]


METRICS: dict[str, Metric] = {
    "FsF-F1-01MD": Metric("Unique identifier", ESSENTIAL, _unique_identifier),  # RDA F1-02M
    "FsF-F1-02MD": Metric("Persistent identifier", ESSENTIAL, _persistent_identifier),  # RDA F1-01M
    "FsF-F2-01M": Metric("Descriptive core metadata", ESSENTIAL, _core_metadata),  # RDA F2-01M
    "FsF-F3-01M": Metric("Inclusion of data identifier in metadata", ESSENTIAL, _data_identifier),  # F3-01M
    "FsF-F4-01M": Metric("Searchable metadata", ESSENTIAL, _searchable),  # RDA F4-01M
    "FsF-A1-01M": Metric("Data access information", IMPORTANT, _access),  # RDA A1-01M
    "FsF-A1.1-01MD": Metric("Standard communication protocol", ESSENTIAL, _standard_protocol),  # A1.1-01M
    "FsF-I1-01M": Metric("Formal representation of metadata", IMPORTANT, _formal_representation),  # I1-01M
    "FsF-I2-01M": Metric("Metadata with semantic resources", IMPORTANT, _vocabularies),  # RDA I2-01M
    "FsF-I3-01M": Metric("Qualified references to related entities", IMPORTANT, _related),  # RDA I3-01M
    "FsF-R1-01M": Metric("Metadata of data content", ESSENTIAL, _content),  # RDA R1-01M
    # RDA R1.1-01M licence (essential) and R1.1-02M standard licence (important): the check asks both.
    "FsF-R1.1-01M": Metric("Data usage licence", ESSENTIAL, _licence),
    "FsF-R1.2-01M": Metric("Data provenance", IMPORTANT, _provenance),  # RDA R1.2-01M
    "FsF-R1.3-01M": Metric("Community-endorsed metadata standard", ESSENTIAL, _metadata_standard),  # R1.3-01M
    "FsF-R1.3-02D": Metric("Data file format", ESSENTIAL, _file_format),  # RDA R1.3-01D
}
WEIGHTS = {metric: m.weight for metric, m in METRICS.items()}
