"""The canonical record: one model rich enough for what the four poles publish.

Every crosswalk (ISO 19139, DataCite, STAC, ...) produces a ``Record``; every backend, renderer and API
reads only ``Record``. The model is a set of ``msgspec.Struct`` types so that a record round-trips to
JSON quickly and typed (the index keeps records as JSON documents and decodes them per request).

Conventions:
- Languages are ISO 639-1 two-letter codes when they can be recognised (``fr``, ``en``), else the
  source's own code lower-cased. ``LocalisedText.lang`` is the language of ``text``, when known.
- Dates are kept as ISO 8601 strings as normalised by the crosswalk (``YYYY``, ``YYYY-MM``,
  ``YYYY-MM-DD`` or an RFC 3339 timestamp). A value that could not be read is kept in a ``*_raw``
  field and a warning names it: we never drop a source's value silently.
- Lists default to empty, optional scalars to ``None``; empty values are left out of the JSON.
"""

from __future__ import annotations

import msgspec


class LocalisedText(msgspec.Struct, omit_defaults=True, kw_only=True):
    """A text in its main language with the translations the source gave (``PT_FreeText``)."""

    text: str
    lang: str | None = None
    translations: dict[str, str] = {}

    def in_lang(self, lang: str | None) -> str:
        """The text in ``lang`` when there is a translation, else the main text."""
        if lang and lang != self.lang and lang in self.translations:
            return self.translations[lang]
        return self.text

    def all_texts(self) -> list[str]:
        """The main text then every distinct translation, for full-text indexing."""
        out = [self.text]
        out.extend(t for t in self.translations.values() if t not in out)
        return out


class Identifier(msgspec.Struct, omit_defaults=True, kw_only=True):
    """An identifier of the resource. ``scheme`` is a codeSpace / identifier type; DOIs get ``doi``
    and their ``code`` is the bare, lower-cased ``10.xxxx/yyy`` form."""

    code: str
    scheme: str | None = None
    url: str | None = None


class Keyword(msgspec.Struct, omit_defaults=True, kw_only=True):
    """A keyword as the source wrote it, with the vocabulary it claims to come from."""

    label: str
    uri: str | None = None  # gmx:Anchor/@xlink:href
    lang: str | None = None
    type: str | None = None  # ISO MD_KeywordTypeCode: theme, place, discipline, stratum, temporal...
    thesaurus: str | None = None  # thesaurus citation title
    thesaurus_uri: str | None = None  # thesaurus identifier or anchor
    translations: dict[str, str] = {}


class Concept(msgspec.Struct, omit_defaults=True, kw_only=True):
    """A thesaurus concept of the record (filled by ``thesaurus``, not by crosswalks): one a keyword
    named, or a Data Terra theme inferred from those (``via``).

    ``ancestors`` (URIs, nearest first) and ``ancestor_labels`` (their prefLabels in every language)
    travel with the record so that the index can serve hierarchical facets and expand a search on a
    broad concept ("aerosols") to records tagged with a narrower one, without the thesaurus at hand."""

    uri: str
    scheme: str | None = None
    labels: dict[str, str] = {}
    ancestors: list[str] = []
    ancestor_labels: list[str] = []
    via: list[str] = []  # for an inferred theme: the record's concept URIs, or "pole:<POLE>", it came from


class Check(msgspec.Struct, omit_defaults=True, kw_only=True):
    """One FAIR indicator evaluated on the record (F-UJI metric or RDA indicator id)."""

    id: str  # e.g. FsF-F1-01MD
    name: str
    passed: bool
    reason: str  # why it passed or failed, in words an administrator can act on


class FairReport(msgspec.Struct, omit_defaults=True, kw_only=True):
    """The offline FAIR assessment of a record: every check, a score out of 100 and a level."""

    score: int
    level: str
    checks: list[Check] = []


class ShapeResult(msgspec.Struct, omit_defaults=True, kw_only=True):
    """One SHACL result: which profile's shape, on which property, how serious, and what to fix."""

    severity: str  # violation | warning | info
    profile: str  # dcat-ap-3 | google-dataset | data-terra
    message: str
    path: str | None = None  # the property (compact IRI) the result is about
    focus: str | None = None  # the node, when not the dataset itself (a distribution, a location)


class ValidationReport(msgspec.Struct, omit_defaults=True, kw_only=True):
    """The SHACL validation of the record's JSON-LD against the shapes we ship."""

    conforms: bool  # no violation (warnings allowed)
    shapes: str  # version of the shapes validated against, so stale reports can be found
    results: list[ShapeResult] = []


class Quality(msgspec.Struct, omit_defaults=True, kw_only=True):
    """What the catalogue found of a record's quality when it indexed it."""

    fair: FairReport | None = None
    validation: ValidationReport | None = None


class BBox(msgspec.Struct, array_like=True):
    """A WGS 84 bounding box. ``west > east`` means the box crosses the antimeridian."""

    west: float
    south: float
    east: float
    north: float


class TemporalExtent(msgspec.Struct, omit_defaults=True, kw_only=True):
    """A time interval; ``None`` at either end means open (unknown or "now")."""

    start: str | None = None
    end: str | None = None
    start_raw: str | None = None  # what the source wrote when it could not be read as a date
    end_raw: str | None = None
    indeterminate_end: str | None = None  # ISO indeterminatePosition: now, unknown, after, before


class Contact(msgspec.Struct, omit_defaults=True, kw_only=True):
    """A responsible party with its ISO role (pointOfContact, originator, custodian, ...)."""

    role: str | None = None
    name: str | None = None  # individual
    organisation: str | None = None
    position: str | None = None
    emails: list[str] = []
    phones: list[str] = []
    url: str | None = None
    address: str | None = None
    country: str | None = None


class Link(msgspec.Struct, omit_defaults=True, kw_only=True):
    """An online resource: download, OGC service endpoint, landing page, browse graphic."""

    url: str
    protocol: str | None = None  # e.g. OGC:WMS, WWW:DOWNLOAD-1.0-http--download
    function: str | None = None  # ISO CI_OnLineFunctionCode: download, information, search...
    name: str | None = None
    description: str | None = None
    media_type: str | None = None


class Constraints(msgspec.Struct, omit_defaults=True, kw_only=True):
    """Legal and access constraints. ``licence`` is the licence when one can be named (text or URL)."""

    licence: str | None = None
    licence_url: str | None = None
    access: list[str] = []  # accessConstraints codes and INSPIRE LimitationsOnPublicAccess texts
    use_limitations: list[str] = []
    other: list[str] = []


class Format(msgspec.Struct, omit_defaults=True, kw_only=True):
    name: str
    version: str | None = None


class Provenance(msgspec.Struct, omit_defaults=True, kw_only=True):
    """Where and when the record came from."""

    source_id: str
    source_url: str | None = None
    native_format: str | None = None
    harvested_at: str | None = None  # RFC 3339, UTC
    datestamp: str | None = None  # the source's own datestamp for the record, when it gives one


class Record(msgspec.Struct, omit_defaults=True, kw_only=True):
    """One catalogue record. ``id`` is stable across re-harvests, URL-safe and unique across sources
    (see ``catalogue.identity.record_id``)."""

    id: str
    native_id: str  # the identifier the source uses (ISO fileIdentifier, OAI identifier, STAC id)
    source_id: str
    pole: str | None = None
    resource_type: str = "dataset"  # ISO scope: dataset, series, service, nonGeographicDataset, ...
    title: LocalisedText
    abstract: LocalisedText | None = None
    language: str | None = None  # language of the resource
    metadata_language: str | None = None
    identifiers: list[Identifier] = []
    parent_id: str | None = None
    keywords: list[Keyword] = []
    concepts: list[Concept] = []
    topic_categories: list[str] = []
    bboxes: list[BBox] = []
    places: list[str] = []  # geographic descriptions (EX_GeographicDescription codes)
    temporal: list[TemporalExtent] = []
    created: str | None = None  # citation dates of the resource
    published: str | None = None
    revised: str | None = None
    metadata_date: str | None = None  # ISO dateStamp: when the metadata last changed
    contacts: list[Contact] = []
    constraints: Constraints | None = None
    links: list[Link] = []
    formats: list[Format] = []
    thumbnails: list[str] = []
    lineage: str | None = None
    platforms: list[str] = []
    instruments: list[str] = []
    provenance: Provenance | None = None
    quality: Quality | None = None  # set by catalogue.quality when indexed, not by crosswalks
    warnings: list[str] = []  # what the crosswalk could not read, said once per problem

    @property
    def doi(self) -> str | None:
        """The first DOI among the identifiers, bare and lower-cased."""
        return next((i.code for i in self.identifiers if i.scheme == "doi"), None)


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Record)


def to_json(record: Record) -> bytes:
    """Serialise a record for storage (compact, defaults left out)."""
    return _encoder.encode(record)


def from_json(data: bytes | str) -> Record:
    """Read back a record serialised by ``to_json``; raises ``msgspec.ValidationError`` if invalid."""
    return _decoder.decode(data)
