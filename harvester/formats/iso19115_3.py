"""ISO 19115-3 (``mdb:MD_Metadata``) -> canonical ``Record``.

ISO 19115-3 is the XML encoding of ISO 19115-1:2014 that GeoNetwork 4 writes natively (the Wallonia
Metawal catalogue, the records GeoNetwork's STAC and DataCite harvesters produce), that ArcGIS Pro exports
and that pycsw serves as an output schema. It encodes the model ISO 19139 encodes, in one namespace per
package (``mdb``, ``mri``, ``cit``, ``gex``, ``mco``, ``mrd``, ``mrl``, ``lan``, ``mcc``, ``gcx``...), so
this crosswalk is ``iso19139.IsoReader`` given the ISO 19115-3 paths of the table below: the same
tolerant reading, the same warnings (naming the 19115-3 elements), the same Record fields.

What differs, and what this module reads itself:

- Namespace versions vary between writers: ``mdb``, ``cit`` and ``mrl`` exist as ``1.0`` (the 2014
  schemas ArcGIS writes) and ``2.0`` (GeoNetwork, pycsw), ``srv`` as ``2.0`` and ``2.1``. The paths are
  compiled once per combination seen (there are a handful), from the namespaces the record declares,
  else from the element that uses them (a record may declare them below ``MD_Metadata``).
- Parties: a ``cit:CI_Responsibility`` has a role and parties; an organisation may list its people
  (``cit:individual``). One contact per person, carrying the organisation's name, and the organisation's
  contact details when the person has none: the contact the same party gives in ISO 19139
  (GeoNetwork's 19139 -> 19115-3 conversion moves individualName under the organisation). An
  organisation without people is one contact.
- Metadata date: ``mdb:dateInfo`` holds typed dates; the metadata date is the latest ``revision``, else
  the ``creation``, else any other.
- Parent: ``mdb:parentMetadata/@uuidref`` (the parent's metadata identifier), else its citation's
  identifier, else its ``xlink:href``.
- Licences: ``mco:reference`` cites the licence document (title and link): a licence candidate.
- Resource identifier URI: the resource citation's ``cit:onlineResource`` plays ISO 19139's dataSetURI.
- ``PT_FreeText`` translations point to ``lan:PT_Locale`` ids; an id that no locale declares is read as
  a language code, with a warning (GeoNetwork's multilingual template writes ``#GE`` for ``DE``).
- A document holding several records (a whole CSW response) is rejected: a raw record is one record.

Rejection codes: ``not-xml``, ``not-iso19115-3``, ``no-identifier``, ``no-title``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from lxml import etree

from catalogue.record import Contact, Record
from harvester.formats import Crosswalk
from harvester.formats.common import (
    Rights,
    first,
    local_name,
    normalise_date,
    one_line,
    single_element,
    xml_root,
)
from harvester.formats.iso19139 import GCX, LAN, IsoPaths, IsoReader, code_of, compile_paths, href_of, text_of
from harvester.raw import RawRecord

ISO = "http://standards.iso.org/iso/19115/-3"
MDB_NAMESPACES = (f"{ISO}/mdb/2.0", f"{ISO}/mdb/1.0")
_METADATA_TAGS = tuple(f"{{{ns}}}MD_Metadata" for ns in MDB_NAMESPACES)
_HREF = "{http://www.w3.org/1999/xlink}href"
_MODULE_URI = re.compile(rf"{re.escape(ISO)}/([a-z]+)/\d+(?:\.\d+)*/?")

# Modules whose namespace has several versions in use, the element that tells which one a record uses,
# and the version to assume when the record has none of them.
_VERSIONED = (
    ("cit", "CI_Citation", f"{ISO}/cit/2.0"),
    ("mrl", "LI_Lineage", f"{ISO}/mrl/2.0"),
    ("srv", "SV_ServiceIdentification", f"{ISO}/srv/2.0"),
)
# Modules with a single version.
_FIXED_NAMESPACES = {
    "mri": f"{ISO}/mri/1.0",
    "gex": f"{ISO}/gex/1.0",
    "lan": LAN,
    "mcc": f"{ISO}/mcc/1.0",
    "mco": f"{ISO}/mco/1.0",
    "mrd": f"{ISO}/mrd/1.0",
    "gco": f"{ISO}/gco/1.0",
    "gcx": GCX,
    "xlink": "http://www.w3.org/1999/xlink",
}

_IDENTIFICATION = "mdb:identificationInfo/*"
_EXTENTS = f"{_IDENTIFICATION}/mri:extent/gex:EX_Extent"
_DISTRIBUTION = "mdb:distributionInfo/mrd:MD_Distribution"
_CITATION = "mri:citation/cit:CI_Citation"
# The same fields as ISO 19139's table (see ``iso19139.IsoPaths`` for what each is relative to).
_TABLE = {
    "metadata_id": "mdb:metadataIdentifier/mcc:MD_Identifier/mcc:code",
    "metadata_language": "mdb:defaultLocale/lan:PT_Locale/lan:language",
    "locales": "mdb:defaultLocale/lan:PT_Locale | mdb:otherLocale/lan:PT_Locale",
    "locale_code": "lan:language/*",
    "scopes": "mdb:metadataScope/mdb:MD_MetadataScope/mdb:resourceScope/*",
    "metadata_dates": "mdb:dateInfo/cit:CI_Date",
    "parent": "mdb:parentMetadata",
    "dataset_uri": (
        f"mdb:identificationInfo[1]/*/{_CITATION}/cit:onlineResource/cit:CI_OnlineResource/cit:linkage"
    ),
    "identifications": _IDENTIFICATION,
    "bboxes": f"{_EXTENTS}/gex:geographicElement/gex:EX_GeographicBoundingBox",
    "places": f"{_EXTENTS}/gex:geographicElement/gex:EX_GeographicDescription/gex:geographicIdentifier/*",
    "temporals": f"{_EXTENTS}/gex:temporalElement/*/gex:extent/*",
    "metadata_contacts": "mdb:contact/cit:CI_Responsibility",
    "distributor_contacts": f"{_DISTRIBUTION}/mrd:distributor/*/mrd:distributorContact/cit:CI_Responsibility",
    "online": (
        f"{_DISTRIBUTION}/mrd:transferOptions/*/mrd:onLine/cit:CI_OnlineResource | {_DISTRIBUTION}"
        "/mrd:distributor/*/mrd:distributorTransferOptions/*/mrd:onLine/cit:CI_OnlineResource"
    ),
    "connect_points": (
        "mdb:identificationInfo/srv:SV_ServiceIdentification/srv:containsOperations/*/srv:connectPoint/*"
    ),
    "formats": (
        f"{_DISTRIBUTION}/mrd:distributionFormat/mrd:MD_Format"
        f" | {_DISTRIBUTION}/mrd:distributor/*/mrd:distributorFormat/mrd:MD_Format"
        f" | {_IDENTIFICATION}/mri:resourceFormat/mrd:MD_Format"
    ),
    "lineages": "mdb:resourceLineage/mrl:LI_Lineage/mrl:statement",
    "title": f"{_CITATION}/cit:title",
    "citation_dates": f"{_CITATION}/cit:date/cit:CI_Date",
    "resource_ids": f"{_CITATION}/cit:identifier/*",
    "cited_parties": f"{_CITATION}/cit:citedResponsibleParty/cit:CI_Responsibility",
    "abstract": "mri:abstract",
    "resource_language": "mri:defaultLocale/lan:PT_Locale/lan:language",
    "points_of_contact": "mri:pointOfContact/cit:CI_Responsibility",
    "keyword_blocks": "mri:descriptiveKeywords/mri:MD_Keywords",
    "topics": "mri:topicCategory/mri:MD_TopicCategoryCode",
    "thumbnails": "mri:graphicOverview/mcc:MD_BrowseGraphic/mcc:fileName",
    "constraint_blocks": "mri:resourceConstraints/*",
    "date_value": "cit:date/*",
    "date_type": "cit:dateType/*",
    "id_code": "mcc:code",
    "id_codespace": "mcc:codeSpace",
    "id_authority": "mcc:authority/cit:CI_Citation/cit:title",
    "keywords": "mri:keyword",
    "keyword_type": "mri:type/*",
    "thesaurus_title": "mri:thesaurusName/cit:CI_Citation/cit:title",
    "thesaurus_id": "mri:thesaurusName/cit:CI_Citation/cit:identifier/*/mcc:code",
    "bbox_type": "gex:extentTypeCode/*",
    "west": "gex:westBoundLongitude/*",
    "south": "gex:southBoundLatitude/*",
    "east": "gex:eastBoundLongitude/*",
    "north": "gex:northBoundLatitude/*",
    "party_individual": "cit:name",
    "party_organisation": "cit:name",
    "party_position": "cit:positionName",
    "party_role": "cit:role/*",
    "contact_info": "cit:contactInfo/cit:CI_Contact",
    # Every number but fax numbers: ISO 19115-3 types them instead of naming the element ``voice``.
    "phones": (
        "cit:phone/cit:CI_Telephone[not(cit:numberType/*[@codeListValue = 'facsimile'"
        " or normalize-space() = 'facsimile'])]/cit:number"
    ),
    "address": "cit:address/cit:CI_Address",
    "contact_url": "cit:onlineResource/cit:CI_OnlineResource/cit:linkage/*",
    "emails": "cit:electronicMailAddress",
    "delivery_points": "cit:deliveryPoint",
    "city": "cit:city",
    "area": "cit:administrativeArea",
    "postcode": "cit:postalCode",
    "country": "cit:country",
    "linkage": "cit:linkage/*",
    "protocol": "cit:protocol",
    "function": "cit:function/*",
    "name": "cit:name",
    "description": "cit:description",
    "format_name": "mrd:formatSpecificationCitation/cit:CI_Citation/cit:title",
    "format_version": "mrd:formatSpecificationCitation/cit:CI_Citation/cit:edition",
    "use_limitations": "mco:useLimitation",
    "access_codes": "mco:accessConstraints/*",
    "use_codes": "mco:useConstraints/*",
    "other_constraints": "mco:otherConstraints",
}


@dataclass(frozen=True, slots=True)
class _Paths:
    """The shared table, and the paths of what only ISO 19115-3 has."""

    iso: IsoPaths
    parties: etree.XPath  # relative to a CI_Responsibility
    individuals: etree.XPath  # relative to a CI_Organisation
    parent_code: etree.XPath  # relative to mdb:parentMetadata
    references: etree.XPath  # relative to a constraints block
    reference_title: etree.XPath  # relative to a CI_Citation
    reference_url: etree.XPath


@lru_cache(maxsize=16)
def _compiled(mdb: str, cit: str, mrl: str, srv: str) -> _Paths:
    """The paths for one combination of namespace versions (compiled once, then reused)."""
    namespaces = {**_FIXED_NAMESPACES, "mdb": mdb, "cit": cit, "mrl": mrl, "srv": srv}

    def xpath(path: str) -> etree.XPath:
        return etree.XPath(path, namespaces=namespaces, smart_strings=False)

    return _Paths(
        iso=compile_paths(_TABLE, namespaces),
        parties=xpath("cit:party/*"),
        individuals=xpath("cit:individual/cit:CI_Individual"),
        parent_code=xpath("cit:CI_Citation/cit:identifier/*/mcc:code"),
        references=xpath("mco:reference/cit:CI_Citation"),
        reference_title=xpath("cit:title"),
        reference_url=xpath("cit:onlineResource/cit:CI_OnlineResource/cit:linkage"),
    )


def _paths(md: Any) -> _Paths:
    """The paths for the namespace versions this record uses: those it declares when it declares one
    version of a module, else that of the first element of the module, else the 2018 version."""
    declared: dict[str, set[str]] = {}
    for uri in md.nsmap.values():
        if uri and (match := _MODULE_URI.fullmatch(uri)):
            declared.setdefault(match.group(1), set()).add(uri)
    versions = []
    for module, marker, default in _VERSIONED:
        uris = declared.get(module, set())
        if len(uris) == 1:
            versions.append(next(iter(uris)))
            continue
        element = next(md.iter(f"{{*}}{marker}"), None)
        namespace = etree.QName(element).namespace if element is not None else None
        versions.append(namespace or default)
    return _compiled(etree.QName(md).namespace, *versions)


class _Reader(IsoReader):
    """``IsoReader`` with the ISO 19115-3 element names, parties, dates, parent and licence citations."""

    METADATA_ID = "mdb:metadataIdentifier"
    SCOPE = "mdb:resourceScope"
    TITLE = "mri:citation/cit:title"
    EXTENT = "gex"
    CITATION = "cit"

    def __init__(self, md: Any, paths: _Paths):
        super().__init__(md, paths.iso)
        self.q = paths

    def locale_language(self, reference: str | None) -> str:
        """As in ISO 19139, with a warning when no ``lan:PT_Locale`` declares the reference: ISO 19115-3
        requires the declaration, so the language is a guess from the id."""
        language = super().locale_language(reference)
        key = (reference or "").strip().lstrip("#")
        if key and key not in self.locales:
            self.warn(
                f"lan:LocalisedCharacterString: locale {reference!r} is declared by no lan:PT_Locale;"
                f" read as language {language!r}"
            )
        return language

    def metadata_date(self) -> str | None:
        """The latest ``revision`` of ``mdb:dateInfo``, else the latest ``creation``, else the latest date
        of any type: the date ISO 19139 gives as ``dateStamp``."""
        dates: dict[str, list[str]] = {}
        for element in self.p.metadata_dates(self.md):
            kind = code_of(first(self.p.date_type(element))) or "unknown"
            text = text_of(first(self.p.date_value(element)))
            if not text:
                continue
            if value := normalise_date(text):
                dates.setdefault(kind, []).append(value)
            else:
                self.warn(f"mdb:dateInfo ({kind}): unreadable date {text!r}")
        chosen = dates.get("revision") or dates.get("creation") or [d for ds in dates.values() for d in ds]
        return max(chosen) if chosen else None

    def parent_id(self) -> str | None:
        prop = first(self.p.parent(self.md))
        if prop is None:
            return None
        return (
            one_line(prop.get("uuidref"))
            or text_of(first(self.q.parent_code(prop)))
            or one_line(prop.get(_HREF))
        )

    def party_contacts(self, party: Any) -> list[Contact]:
        """The contacts of a ``CI_Responsibility``: one per person, else one per organisation."""
        role = self.role(party)
        contacts: list[Contact | None] = []
        for element in self.q.parties(party):
            if local_name(element) == "CI_Organisation":
                contacts.extend(self.organisation_contacts(role, element))
            else:
                contacts.append(self.person_contact(role, element, None, None))
        return [contact for contact in contacts if contact is not None]

    def organisation_contacts(self, role: str | None, organisation: Any) -> list[Contact | None]:
        name = self.localised(first(self.p.party_organisation(organisation)))
        info = first(self.p.contact_info(organisation))
        people = self.q.individuals(organisation)
        if not people:
            return [
                self.contact(
                    role, name=None, organisation=name.text if name else None, position=None, info=info
                )
            ]
        return [self.person_contact(role, person, name.text if name else None, info) for person in people]

    def person_contact(
        self, role: str | None, person: Any, organisation: str | None, organisation_info: Any
    ) -> Contact | None:
        info = first(self.p.contact_info(person))
        return self.contact(
            role,
            name=text_of(first(self.p.party_individual(person))),
            organisation=organisation,
            position=text_of(first(self.p.party_position(person))),
            info=organisation_info if info is None else info,
        )

    def licence_references(self, block: Any, rights: Rights) -> None:
        """``mco:reference``: the citation of the licence document, its title and link."""
        for citation in self.q.references(block):
            title_prop = first(self.q.reference_title(citation))
            title = self.localised(title_prop)
            url = text_of(first(self.q.reference_url(citation))) or href_of(title_prop)
            rights.add(title.text if title else None, url, "other")


class ISO19115_3(Crosswalk):
    """ISO 19115-3 XML -> ``Record``. Rejection codes: ``not-xml``, ``not-iso19115-3``, ``no-identifier``,
    ``no-title``."""

    name = "iso19115-3"

    def to_record(self, raw: RawRecord, *, pole: str | None = None) -> Record:
        md = single_element(xml_root(raw), _METADATA_TAGS, "not-iso19115-3", "mdb:MD_Metadata")
        return _Reader(md, _paths(md)).record(raw, pole=pole, native_format=self.name)
