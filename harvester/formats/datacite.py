"""DataCite metadata kernel 2.2, 3 and 4.0-4.6 (``resource``) -> canonical ``Record``.

DataCite records come from OAI-PMH repositories and DOI registries (PANGAEA, EnviDat, GFZ, INRAE): a bare
``resource``, inside an ``oai_datacite/payload`` envelope, or inside an OAI ``<record>``. The kernel
namespace changes with its version (``http://datacite.org/schema/kernel-N``) and pycsw writes the element
with no namespace at all, so elements are matched by local name: the ``resource``'s direct children,
then theirs (never a descendant search, which would read ``relatedItems``' own titles and creators).

Choices, where the kernel and the model do not line up one to one:

- Native id: the DOI, bare and lower-cased (DOIs are case-insensitive; the DC crosswalk gives the same
  dataset the same native id), or the identifier as written when it is not a DOI.
- Titles: the first title without ``titleType`` is the title; a ``TranslatedTitle`` in another language
  is a translation. The model has no alternative titles: ``AlternativeTitle``/``Subtitle``/``Other``
  titles are kept as free keywords so that they stay searchable.
- Parties: creators are ``author`` (ISO 19115-1 CI_RoleCode "party who authored the resource"; GeoNetwork's
  DataCite->ISO conversion makes the same choice, and GeoDCAT-AP renders author as ``dct:creator``, which
  is what a DataCite creator is; ``originator`` would render as a GeoDCAT extension role). Contributor
  types map to the nearest ISO role (``_CONTRIBUTOR_ROLES``), the publisher is ``publisher``, funders
  (``fundingReferences``) are ``funder`` contacts (award numbers have no field and are not kept). An
  ORCID/ROR/other name identifier becomes the contact's ``url``; an affiliation that is an e-mail
  address (INRAE writes them) its e-mail.
- Dates: Issued (else publicationYear) -> published, Created -> created, Updated -> revised; Collected,
  Coverage and Valid dates and ranges (``2010-01-01/2012``) -> temporal extents.
- Descriptions: Abstract (or no type) -> abstract, Methods -> lineage; without an abstract the first
  description of another type stands in (PANGAEA sometimes gives only TechnicalInfo).
- Rights: a ``rights`` with an SPDX ``rightsIdentifier`` or naming a licence is a licence candidate (the
  first with a ``rightsURI`` wins, the URI is the licence URL, the others stay in ``other``);
  ``info:eu-repo/semantics/*Access`` are access constraints; other statements are kept in ``other``.
- geoLocations: ``geoLocationBox`` as child elements (4.x) or as text ``"S W N E"`` (3.x), points (4.x
  children, 3.x text ``"lat lon"``) as degenerate boxes, polygons as the box of their points (a box
  may over-cover, never under-cover), ``geoLocationPlace`` as places.
- relatedIdentifiers: DOIs and URLs are links (relation type in the link's description); an ``IsPartOf``
  DOI is the parent. Other identifier types (Handle, ARK, ISBN...) have no resolvable address given.
- resourceTypeGeneral -> ISO scope through ``scope_of_type`` (Dataset -> dataset, Collection ->
  collection, Software -> software, Text -> document, Instrument -> sensor...).
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from catalogue.identity import normalise_doi, record_id
from catalogue.record import (
    BBox,
    Constraints,
    Contact,
    Format,
    Identifier,
    Keyword,
    Link,
    LocalisedText,
    Provenance,
    Record,
    TemporalExtent,
)
from harvester.formats import Crosswalk, Rejected
from harvester.formats.common import (
    Rights,
    add_identifier,
    bbox_from_numbers,
    first,
    interval,
    is_placeholder,
    local_name,
    normalise_date,
    normalise_language,
    one_line,
    paragraphs,
    scope_of_type,
    single_element,
    to_identifier,
    unique,
    xml_root,
)
from harvester.raw import RawRecord

_KERNEL = re.compile(r"https?://datacite\.org/schema/kernel-[\d.]+")
_RESOURCE_NAME = "DataCite resource (namespace http://datacite.org/schema/kernel-N)"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

# DataCite contributorType -> ISO 19115-1 CI_RoleCode; any other type is a plain contributor.
_CONTRIBUTOR_ROLES = {
    "ContactPerson": "pointOfContact",
    "DataCollector": "collaborator",
    "DataCurator": "custodian",
    "DataManager": "custodian",
    "Distributor": "distributor",
    "Editor": "editor",
    "Funder": "funder",  # kernel 2.x-3.x, replaced by fundingReference in 4.0
    "HostingInstitution": "resourceProvider",
    "Producer": "originator",
    "ProjectLeader": "principalInvestigator",
    "ProjectMember": "collaborator",
    "Researcher": "collaborator",
    "RightsHolder": "rightsHolder",
    "Sponsor": "sponsor",
    "WorkPackageLeader": "collaborator",
}
# Contributor types that name an institution when the record does not say (no nameType before 4.1).
_INSTITUTION_TYPES = frozenset(
    {
        "Distributor",
        "Funder",
        "HostingInstitution",
        "RegistrationAgency",
        "RegistrationAuthority",
        "ResearchGroup",
        "Sponsor",
    }
)
_DATE_FIELDS = {"Created": "created", "Issued": "published", "Updated": "revised"}
_EXTENT_DATES = frozenset({"Collected", "Coverage", "Valid"})
_BOX_BOUNDS = ("westBoundLongitude", "southBoundLatitude", "eastBoundLongitude", "northBoundLatitude")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_ACCESS_RIGHTS = "info:eu-repo/semantics/"


# --- reading elements by local name ------------------------------------------------------------------
def _children(element: Any, name: str) -> list[Any]:
    return [child for child in element.iterchildren(tag=etree.Element) if local_name(child) == name]


def _child(element: Any, name: str) -> Any:
    return next((c for c in element.iterchildren(tag=etree.Element) if local_name(c) == name), None)


def _grandchildren(element: Any, name: str, child_name: str) -> list[Any]:
    """``<titles><title/>...</titles>``: the items of every list element called ``name``."""
    return [item for group in _children(element, name) for item in _children(group, child_name)]


def _text(element: Any) -> str | None:
    return one_line("".join(element.itertext())) if element is not None else None


def _rich_text(element: Any) -> str | None:
    """A description's text with its ``<br/>`` as line breaks (kernel 3 allows them)."""
    parts = [element.text or ""]
    for child in element.iterchildren():
        if local_name(child) == "br":
            parts.append("\n")
        elif isinstance(child.tag, str):  # not a comment
            parts.append("".join(child.itertext()))
        parts.append(child.tail or "")
    return paragraphs("".join(parts))


def _number(element: Any) -> float | None:
    try:
        return float(_text(element) or "")
    except ValueError:
        return None


def _resource(root: Any) -> tuple[Any, bool]:
    """The ``resource`` element and whether it is in a DataCite kernel namespace: the root, or inside an
    ``oai_datacite`` payload or an OAI record. A ``resource`` without namespace (pycsw) is read too."""
    resource = single_element(root, ("{*}resource",), "not-datacite", _RESOURCE_NAME)
    namespace = etree.QName(resource).namespace
    if namespace is not None and not _KERNEL.fullmatch(namespace):
        raise Rejected(
            "not-datacite", f"{resource.tag} is not in a DataCite kernel namespace ({_RESOURCE_NAME})"
        )
    return resource, namespace is not None


def _name_url(element: Any) -> str | None:
    """The address of a person or organisation from its ``nameIdentifier``: the identifier when it is a
    URL, else the scheme's URI followed by the identifier (ORCID without a scheme URI: orcid.org)."""
    for identifier in _children(element, "nameIdentifier"):
        value = _text(identifier)
        if not value:
            continue
        if _URL.fullmatch(value):
            return value
        scheme_uri = one_line(identifier.get("schemeURI"))
        if not scheme_uri and (identifier.get("nameIdentifierScheme") or "").upper() == "ORCID":
            scheme_uri = "https://orcid.org/"
        if scheme_uri:
            return f"{scheme_uri.rstrip('/')}/{value}"
    return None


class _Reader:
    """Reads one ``resource``; holds its language and the warnings."""

    def __init__(self, resource: Any):
        self.resource = resource
        self.warnings: list[str] = []
        self.language = normalise_language(_text(self.child("language")))

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def child(self, name: str) -> Any:
        return _child(self.resource, name)

    def items(self, name: str, child_name: str) -> list[Any]:
        return _grandchildren(self.resource, name, child_name)

    def lang(self, element: Any) -> str | None:
        return normalise_language(element.get(_XML_LANG)) or self.language

    # --- identity ---
    def native_id(self, raw: RawRecord) -> str:
        identifier = self.child("identifier")
        text = _text(identifier)
        if text:
            return normalise_doi(text) or text
        native = (raw.native_id or "").strip()
        if not native:
            raise Rejected("no-identifier", "the resource has no identifier and the protocol gave no id")
        self.warn(f"identifier: missing; the protocol's id {native!r} is used")
        return native

    def identifiers(self) -> list[Identifier]:
        """The identifier (a DOI as ``doi``, else with its ``identifierType`` as scheme), then the
        alternate identifiers with their types."""
        found: list[Identifier] = []
        identifier = self.child("identifier")
        if identifier is not None:
            add_identifier(found, to_identifier(_text(identifier), None, identifier.get("identifierType")))
        for element in self.items("alternateIdentifiers", "alternateIdentifier"):
            add_identifier(found, to_identifier(_text(element), None, element.get("alternateIdentifierType")))
        return found

    # --- titles, descriptions, subjects ---
    def titles(self) -> tuple[LocalisedText | None, list[Keyword]]:
        """The main title with its translations, and the other titles as keywords."""
        titles = [(element, text) for element in self.items("titles", "title") if (text := _text(element))]
        main = next(((e, t) for e, t in titles if not e.get("titleType")), first(titles))
        if main is None:
            return None, []
        lang = self.lang(main[0])
        translations: dict[str, str] = {}
        others: list[Keyword] = []
        for element, text in titles:
            if element is main[0]:
                continue
            title_lang = self.lang(element)
            if element.get("titleType") == "TranslatedTitle" and title_lang and title_lang != lang:
                translations.setdefault(title_lang, text)
            else:
                others.append(Keyword(label=text, lang=title_lang))
        return LocalisedText(text=main[1], lang=lang, translations=translations), others

    def descriptions(self) -> tuple[LocalisedText | None, str | None]:
        """(abstract, lineage): Abstract (or untyped) descriptions, else the first description of any
        other type; Methods descriptions are the lineage."""
        by_type: dict[str, list[tuple[str, str | None]]] = {}
        for element in self.items("descriptions", "description"):
            if text := _rich_text(element):
                kind = element.get("descriptionType") or "Abstract"
                by_type.setdefault(kind, []).append((text, self.lang(element)))
        abstracts = by_type.get("Abstract") or next(
            (texts[:1] for kind, texts in by_type.items() if kind != "Methods"), []
        )
        abstract = None
        if abstracts:
            lang = abstracts[0][1]
            translations: dict[str, str] = {}
            for text, other in abstracts:
                if other and other != lang:
                    translations.setdefault(other, text)
            main = unique(text for text, other in abstracts if other in (lang, None))
            abstract = LocalisedText(text="\n\n".join(main), lang=lang, translations=translations)
        methods = unique(text for text, _ in by_type.get("Methods", []))
        return abstract, "\n\n".join(methods) or None

    def keywords(self) -> list[Keyword]:
        keywords = []
        for element in self.items("subjects", "subject"):
            if label := _text(element):
                keywords.append(
                    Keyword(
                        label=label,
                        uri=one_line(element.get("valueURI")),
                        lang=self.lang(element),
                        thesaurus=one_line(element.get("subjectScheme")),
                        thesaurus_uri=one_line(element.get("schemeURI")),
                    )
                )
        return unique(keywords)

    def resource_type(self) -> str:
        element = self.child("resourceType")
        general = one_line(element.get("resourceTypeGeneral")) if element is not None else None
        scope = scope_of_type(general)
        if general and scope is None:
            self.warn(f"resourceType: unknown resourceTypeGeneral {general!r}; dataset assumed")
        return scope or "dataset"

    # --- dates ---
    def dates(self) -> tuple[dict[str, str], list[TemporalExtent]]:
        """Citation dates by type (the first readable of each) and the extents of Collected, Coverage
        and Valid dates; publicationYear when there is no Issued date."""
        found: dict[str, str] = {}
        extents: list[TemporalExtent] = []
        for element in self.items("dates", "date"):
            kind, text = element.get("dateType") or "", _text(element)
            if not text:
                continue
            if kind in _EXTENT_DATES:
                start, slash, end = text.partition("/")
                extent, problems = interval(start, end if slash else start)
                for problem in problems:
                    self.warn(f"date ({kind}): {problem}")
                if extent != TemporalExtent():
                    extents.append(extent)
            elif (field := _DATE_FIELDS.get(kind)) and field not in found:
                if value := normalise_date(text):
                    found[field] = value
                else:
                    self.warn(f"date ({kind}): unreadable date {text!r}")
        year = _text(self.child("publicationYear"))
        if year and "published" not in found:
            if value := normalise_date(year):
                found["published"] = value
            else:
                self.warn(f"publicationYear: unreadable year {year!r}")
        return found, unique(extents)

    # --- parties ---
    def contacts(self) -> list[Contact]:
        """Creators, the publisher, contributors, then funders."""
        contacts = [
            contact
            for element in self.items("creators", "creator")
            if (contact := self.party(element, "creatorName", "author", institution=False))
        ]
        publisher = self.child("publisher")
        if name := _text(publisher):
            url = one_line(publisher.get("publisherIdentifier"))
            contacts.append(
                Contact(role="publisher", organisation=name, url=url if url and _URL.fullmatch(url) else None)
            )
        for element in self.items("contributors", "contributor"):
            kind = element.get("contributorType") or ""
            role = _CONTRIBUTOR_ROLES.get(kind, "contributor")
            if contact := self.party(
                element, "contributorName", role, institution=kind in _INSTITUTION_TYPES
            ):
                contacts.append(contact)
        for element in self.items("fundingReferences", "fundingReference"):
            name = _text(_child(element, "funderName"))
            if name and not is_placeholder(name):
                funder_id = _text(_child(element, "funderIdentifier"))
                url = funder_id if funder_id and _URL.fullmatch(funder_id) else None
                contacts.append(Contact(role="funder", organisation=name, url=url))
        return unique(contacts)

    def party(self, element: Any, name_tag: str, role: str, *, institution: bool) -> Contact | None:
        """A creator or contributor: a person with the affiliations as organisation, or an organisation
        (``nameType="Organizational"``, or an institution-like contributor type with no nameType)."""
        name_element = _child(element, name_tag)
        name = _text(name_element)
        if not name or is_placeholder(name):
            return None
        name_type = name_element.get("nameType")
        affiliations = [text for a in _children(element, "affiliation") if (text := _text(a))]
        emails = unique(text for text in affiliations if _EMAIL.fullmatch(text))
        affiliations = unique(text for text in affiliations if text not in emails)
        url = _name_url(element)
        if name_type == "Organizational" or (name_type is None and institution):
            return Contact(role=role, organisation=name, emails=emails, url=url)
        organisation = "; ".join(affiliations) or None
        return Contact(role=role, name=name, organisation=organisation, emails=emails, url=url)

    # --- rights ---
    def constraints(self) -> Constraints | None:
        """The licence (SPDX or named licence, one with a URL first), eu-repo access rights, the rest."""
        rights = Rights()
        for element in [*self.items("rightsList", "rights"), *_children(self.resource, "rights")]:
            uri = one_line(element.get("rightsURI"))
            spdx = one_line(element.get("rightsIdentifier"))
            if uri and uri.startswith(_ACCESS_RIGHTS):
                rights.add(_text(element) or uri, None, "access")
            else:
                rights.add(_text(element) or spdx, uri, "other", licence=spdx is not None)
        return rights.constraints()

    # --- related resources ---
    def links(self) -> tuple[list[Link], str | None]:
        """Landing pages (URL alternate identifiers) and DOI/URL related identifiers; the parent's DOI
        (the first ``IsPartOf`` DOI)."""
        links = [
            Link(url=text, function="information", description="landing page")
            for element in self.items("alternateIdentifiers", "alternateIdentifier")
            if (text := _text(element)) and _URL.fullmatch(text)
        ]
        parent = None
        for element in self.items("relatedIdentifiers", "relatedIdentifier"):
            text = _text(element)
            relation = one_line(element.get("relationType"))
            doi = (
                normalise_doi(text) if (element.get("relatedIdentifierType") or "").upper() == "DOI" else None
            )
            if doi:
                links.append(Link(url=f"https://doi.org/{doi}", description=relation))
                parent = parent or (doi if relation == "IsPartOf" else None)
            elif text and _URL.fullmatch(text):
                links.append(Link(url=text, description=relation))
        return unique(links), parent

    # --- geography ---
    def geography(self) -> tuple[list[BBox], list[str]]:
        boxes: list[BBox | None] = []
        places: list[str] = []
        for location in self.items("geoLocations", "geoLocation"):
            places.extend(text for e in _children(location, "geoLocationPlace") if (text := _text(e)))
            boxes.extend(self.point(e) for e in _children(location, "geoLocationPoint"))
            boxes.extend(self.box(e) for e in _children(location, "geoLocationBox"))
            boxes.extend(self.polygon(e) for e in location.iter("{*}geoLocationPolygon"))
        return unique(box for box in boxes if box is not None), unique(places)

    def checked(self, label: str, bounds: list[float | None]) -> BBox | None:
        if any(value is None for value in bounds):
            self.warn(f"{label}: a coordinate is missing or not a number; skipped")
            return None
        box, problem = bbox_from_numbers(bounds)
        if box is None:
            self.warn(f"{label}: {problem}; skipped")
        return box

    def text_pairs(self, element: Any, count: int) -> list[float] | None:
        """The numbers of a kernel 3 text point (``lat lon``) or box (``S W N E``), else None."""
        try:
            numbers = [float(part) for part in (_text(element) or "").split()]
        except ValueError:
            return None
        return numbers if len(numbers) == count else None

    def point(self, element: Any) -> BBox | None:
        """A point as a degenerate box: ``pointLongitude``/``pointLatitude`` (4.x) or ``lat lon`` (3.x)."""
        if _child(element, "pointLongitude") is not None:
            lon, lat = _number(_child(element, "pointLongitude")), _number(_child(element, "pointLatitude"))
        else:
            lat, lon = self.text_pairs(element, 2) or (None, None)
        return self.checked("geoLocationPoint", [lon, lat, lon, lat])

    def box(self, element: Any) -> BBox | None:
        """A box from its bound elements (4.x) or its text ``S W N E`` (3.x)."""
        if _child(element, "westBoundLongitude") is not None:
            west, south, east, north = (_number(_child(element, name)) for name in _BOX_BOUNDS)
            return self.checked("geoLocationBox", [west, south, east, north])
        south, west, north, east = self.text_pairs(element, 4) or (None, None, None, None)
        return self.checked("geoLocationBox", [west, south, east, north])

    def polygon(self, element: Any) -> BBox | None:
        """The box of a polygon's points (``inPolygonPoint`` only says which side is inside)."""
        lons: list[float] = []
        lats: list[float] = []
        for point in _children(element, "polygonPoint"):
            lon, lat = _number(_child(point, "pointLongitude")), _number(_child(point, "pointLatitude"))
            if lon is None or lat is None:
                self.warn("geoLocationPolygon: a point is missing or not a number; skipped")
                return None
            lons.append(lon)
            lats.append(lat)
        if not lons:
            self.warn("geoLocationPolygon: no polygonPoint; skipped")
            return None
        return self.checked("geoLocationPolygon", [min(lons), min(lats), max(lons), max(lats)])


class DataCite(Crosswalk):
    """DataCite kernel XML -> ``Record``. Rejection codes: ``not-xml``, ``not-datacite``,
    ``no-identifier``, ``no-title``."""

    name = "datacite"

    def to_record(self, raw: RawRecord, *, pole: str | None = None) -> Record:
        resource, namespaced = _resource(xml_root(raw))
        reader = _Reader(resource)
        if not namespaced:
            reader.warn("resource: no DataCite kernel namespace; read as DataCite kernel 4")
        native_id = reader.native_id(raw)
        title, other_titles = reader.titles()
        if title is None:
            raise Rejected("no-title", f"record {native_id!r} has no title (titles/title)")
        abstract, lineage = reader.descriptions()
        dates, temporal = reader.dates()
        links, parent = reader.links()
        bboxes, places = reader.geography()
        return Record(
            id=record_id(raw.source_id, native_id),
            native_id=native_id,
            source_id=raw.source_id,
            pole=pole,
            resource_type=reader.resource_type(),
            title=title,
            abstract=abstract,
            language=reader.language,
            identifiers=reader.identifiers(),
            parent_id=parent,
            keywords=unique([*reader.keywords(), *other_titles]),
            bboxes=bboxes,
            places=places,
            temporal=temporal,
            created=dates.get("created"),
            published=dates.get("published"),
            revised=dates.get("revised"),
            contacts=reader.contacts(),
            constraints=reader.constraints(),
            links=links,
            formats=[
                Format(name=name)
                for name in unique(filter(None, map(_text, reader.items("formats", "format"))))
            ],
            lineage=lineage,
            provenance=Provenance(source_id=raw.source_id, native_format="datacite", datestamp=raw.datestamp),
            warnings=reader.warnings,
        )
