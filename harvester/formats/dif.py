"""GCMD DIF (Directory Interchange Format) 9.x and 10 -> canonical ``Record``.

DIF is NASA's Global Change Master Directory format, still served by CSW servers (pycsw's DIF output
schema) and by the polar and NASA-related data centres that feed the GCMD/CMR. DIF 9 lives in the
``http://gcmd.gsfc.nasa.gov/Aboutus/xml/dif/`` namespace, DIF 10 in ``http://gcmd.nasa.gov/...``, and some
writers use none, so every element is matched by local name (``{*}`` paths). DIF 10 renamed and nested
several elements; both spellings are read wherever they differ.

Mapping:

- ``Entry_ID`` is the native id (DIF 10: ``Short_Name`` and ``Version``, joined as CMR's entry id
  ``<short name>_<version>``), else the dataset DOI, else the protocol's id. ``Entry_Title`` is the title
  (else the citation's ``Dataset_Title``, with a warning); ``Summary`` (DIF 9.7) or ``Summary/Abstract``
  the abstract.
- ``Parameters`` (DIF 10 ``Science_Keywords``): one keyword per parameter, its label the GCMD path
  ``Category > Topic > Term > Variable_Level_1 > ...``, thesaurus "GCMD Science Keywords";
  ``Detailed_Variable`` is a free keyword. ``Location`` likewise ("GCMD Locations", type ``place``),
  ``Detailed_Location`` a place name. ``Keyword`` (DIF 10 ``Ancillary_Keyword``) free keywords.
- ``ISO_Topic_Category``: the ISO code, written either as the code (``inlandWaters``) or as DIF's words
  (``INLAND WATERS``, ``CLIMATOLOGY/METEOROLOGY/ATMOSPHERE``); a value that is neither stays a free
  keyword, with a warning.
- ``Sensor_Name`` (DIF 10 ``Platform/Instrument``) and ``Source_Name`` (DIF 10 ``Platform``): instrument
  and platform short names (long names when there is no short name).
- ``Temporal_Coverage``: ``Start_Date``/``Stop_Date`` (pycsw writes ``End_Date``), DIF 10
  ``Range_DateTime`` and ``Single_DateTime``. ``Spatial_Coverage``: the four bounds, directly (DIF 9) or
  in ``Geometry/Bounding_Rectangle`` (DIF 10).
- Parties: ``Personnel`` roles -> ISO CI_RoleCode (Investigator -> principalInvestigator, Technical
  Contact and the metadata author -> pointOfContact, as ISO records give their metadata contact; other
  roles as written), one contact per role. ``Data_Center`` is the distributor (DIF 10 ``Organization``:
  its ``Organization_Type``), named by its long name: one contact per person of it, carrying the centre's
  name and URL, else the centre itself.
  ``Originating_Center`` is the originator; the citation's ``Dataset_Creator`` the author (a name as
  written: DIF does not say person or organisation) and ``Dataset_Publisher`` the publisher.
- ``Related_URL``: one link per URL; ``URL_Content_Type/Type`` becomes the ISO CI_OnLineFunctionCode
  when there is one (GET DATA -> download, VIEW ... -> information), else stays as written. The
  citation's ``Online_Resource`` is an information link.
- ``Access_Constraints`` and ``Use_Constraints`` (text or ``Description``): access and use limitations,
  or the licence when they name one. ``Data_Set_Citation/Dataset_DOI`` (DIF 10
  ``Persistent_Identifier``) and any DOI among the links are identifiers; ``Dataset_Release_Date`` the
  publication date. DIF 9 ``DIF_Creation_Date``/``Last_DIF_Revision_Date`` (DIF 10 ``Metadata_Dates``)
  give the metadata date; DIF 10 ``Data_Creation``/``Data_Last_Revision`` the resource's dates.
- ``Data_Set_Language`` (DIF 10 ``Dataset_Language``) is the resource language; ``Parent_DIF`` the
  parent. DIF describes data sets: the resource type is always ``dataset``.

A document holding several DIF records (a whole CSW response) is rejected: a raw record is one record.
Rejection codes: ``not-xml``, ``not-dif``, ``no-identifier``, ``no-title``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from catalogue.identity import record_id
from catalogue.record import (
    BBox,
    Constraints,
    Contact,
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
    distinct_names,
    doi_identifier,
    fold,
    intervals,
    is_placeholder,
    normalise_date,
    normalise_language,
    one_line,
    paragraphs,
    postal_address,
    single_element,
    to_identifier,
    unique,
    xml_root,
)
from harvester.formats.dc import _TOPIC_CATEGORIES as ISO_TOPIC_CATEGORIES
from harvester.raw import RawRecord

SCIENCE_KEYWORDS = "GCMD Science Keywords"
SCIENCE_KEYWORDS_URI = "https://gcmd.earthdata.nasa.gov/kms/concepts/concept_scheme/sciencekeywords"
LOCATIONS = "GCMD Locations"
LOCATIONS_URI = "https://gcmd.earthdata.nasa.gov/kms/concepts/concept_scheme/locations"

_PARAMETER_LEVELS = ("Category", "Topic", "Term", "Variable_Level_1", "Variable_Level_2", "Variable_Level_3")
_LOCATION_LEVELS = (
    "Location_Category",
    "Location_Type",
    "Location_Subregion1",
    "Location_Subregion2",
    "Location_Subregion3",
)
# DIF 9 and DIF 10 names of the four bounds, in BBox order.
_BOUNDS = ("Westernmost_Longitude", "Southernmost_Latitude", "Easternmost_Longitude", "Northernmost_Latitude")

# ISO topic categories by folded code, which is also how DIF words them (``INLAND WATERS``); DIF 10 writes
# the last one ``UTILITIES/COMMUNICATIONS``.
_TOPICS = {fold(code): code for code in ISO_TOPIC_CATEGORIES} | {
    "utilitiescommunications": "utilitiesCommunication"
}

# DIF Personnel roles (DIF 9 words, DIF 10 capitals) -> ISO CI_RoleCode, by folded name.
_ROLES = {
    "investigator": "principalInvestigator",
    "technicalcontact": "pointOfContact",
    "difauthor": "pointOfContact",
    "metadataauthor": "pointOfContact",
    "datacentercontact": "distributor",
}
# DIF 10 Organization_Type -> ISO CI_RoleCode.
_ORGANISATION_ROLES = {
    "distributor": "distributor",
    "archiver": "custodian",
    "originator": "originator",
    "processor": "processor",
}
# GCMD Related URL types -> ISO CI_OnLineFunctionCode, by folded type.
_URL_FUNCTIONS = {
    "getdata": "download",
    "getdataviadirectaccess": "download",
    "viewrelatedinformation": "information",
    "viewprojecthomepage": "information",
    "projecthomepage": "information",
    "viewdatasetlandingpage": "information",
    "datasetlandingpage": "information",
    "getrelatedvisualization": "browseGraphic",
    "viewextendedmetadata": "completeMetadata",
    "extendedmetadata": "completeMetadata",
}
# What DIF 10 writes when it has no version.
_NO_VERSION = frozenset({"notprovided", "notapplicable"})


@lru_cache(maxsize=256)
def _any_namespace(path: str) -> str:
    """``{*}A/{*}B`` for ``A/B``: the ElementPath of local names, built once per path."""
    return "/".join(f"{{*}}{name}" for name in path.split("/"))


def _all(element: Any, path: str) -> list[Any]:
    """The elements at ``path`` (``/``-separated local names) below ``element``, in any namespace."""
    return element.findall(_any_namespace(path))


def _lines(element: Any, path: str) -> list[str]:
    return unique(value for child in _all(element, path) if (value := one_line(child.text)))


def _line(element: Any, path: str) -> str | None:
    """The first non-empty text at ``path``."""
    for child in element.iterfind(_any_namespace(path)):
        if value := one_line(child.text):
            return value
    return None


def _path(element: Any, levels: tuple[str, ...]) -> str | None:
    """A GCMD hierarchical keyword: its non-empty levels joined with `` > ``."""
    return " > ".join(filter(None, (_line(element, level) for level in levels))) or None


def _short_or_long(elements: list[Any]) -> list[str]:
    """Platform or instrument names: each one's short name (the GCMD keyword), else its long name."""
    names = (_line(element, "Short_Name") or _line(element, "Long_Name") for element in elements)
    return distinct_names([name for name in names if name])


def _phone(phone: Any) -> str | None:
    """A DIF 9 ``Phone`` text, or a DIF 10 ``Phone/Number`` that is not a fax (no number to call)."""
    if not len(phone):
        return one_line(phone.text)
    if "fax" in (_line(phone, "Type") or "").lower():
        return None
    return _line(phone, "Number")


def _address(address: Any) -> str | None:
    """A DIF 9 ``Contact_Address`` or a DIF 10 ``Address``, on one line."""
    return postal_address(
        _lines(address, "Address") + _lines(address, "Street_Address"),
        _line(address, "Postal_Code"),
        _line(address, "City"),
        _line(address, "Province_or_State") or _line(address, "State_Province"),
    )


class _Reader:
    """Reads one DIF record; holds it and the warnings."""

    def __init__(self, dif: Any):
        self.dif = dif
        self.warnings: list[str] = []
        self.citations = _all(dif, "Data_Set_Citation") + _all(dif, "Dataset_Citation")  # DIF 9, DIF 10

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    # --- identity ---
    def native_id(self, raw: RawRecord) -> str:
        """``Entry_ID`` (DIF 10: short name and version), else the dataset DOI, else the protocol's id."""
        entry = next(iter(_all(self.dif, "Entry_ID")), None)
        native = None
        if entry is not None:
            short_name = _line(entry, "Short_Name")
            version = _line(entry, "Version")
            if short_name and version and fold(version) not in _NO_VERSION:
                native = f"{short_name}_{version}"
            else:
                native = short_name or one_line(entry.text)
        if not native:
            native = next((i.code for i in self.citation_identifiers() if i.scheme == "doi"), None)
        native = native or (raw.native_id or "").strip()
        if not native:
            raise Rejected("no-identifier", "no Entry_ID, no dataset DOI and no id from the protocol")
        return native

    def title(self, native_id: str) -> LocalisedText:
        title = _line(self.dif, "Entry_Title")
        if title is None:
            title = next((t for c in self.citations if (t := _line(c, "Dataset_Title"))), None)
            if title is None:
                raise Rejected("no-title", f"record {native_id!r} has no Entry_Title and no Dataset_Title")
            self.warn("Entry_Title: missing; the citation's Dataset_Title is the title")
        return LocalisedText(text=title)

    def abstract(self) -> LocalisedText | None:
        for summary in _all(self.dif, "Summary"):
            abstract = next(iter(_all(summary, "Abstract")), None)
            text = paragraphs((abstract if abstract is not None else summary).text)
            if text:
                return LocalisedText(text=text)
        return None

    def citation_identifiers(self) -> list[Identifier]:
        """The dataset DOIs of the citations (DIF 9 ``Dataset_DOI``, DIF 10 ``Persistent_Identifier``)."""
        found: list[Identifier] = []
        for citation in self.citations:
            for doi in _lines(citation, "Dataset_DOI"):
                if (identifier := doi_identifier(doi)) is None:
                    self.warn(f"Dataset_DOI: {doi!r} is not a DOI; kept as an identifier")
                    identifier = to_identifier(doi, None, None)
                add_identifier(found, identifier)
            for persistent in _all(citation, "Persistent_Identifier"):
                kind = _line(persistent, "Type")
                code = _line(persistent, "Identifier")
                add_identifier(found, to_identifier(code, None, kind.lower() if kind else None))
        return found

    def identifiers(self, native_id: str, links: list[Link]) -> list[Identifier]:
        found: list[Identifier] = []
        add_identifier(found, doi_identifier(native_id))
        for identifier in self.citation_identifiers():
            add_identifier(found, identifier)
        for link in links:
            add_identifier(found, doi_identifier(link.url))
        return found

    # --- classification ---
    def keywords(self) -> tuple[list[Keyword], list[str]]:
        """Keywords, and the ISO topic categories."""
        found: list[Keyword] = []
        for parameter in _all(self.dif, "Parameters") + _all(self.dif, "Science_Keywords"):
            if label := _path(parameter, _PARAMETER_LEVELS):
                found.append(
                    Keyword(
                        label=label,
                        type="theme",
                        thesaurus=SCIENCE_KEYWORDS,
                        thesaurus_uri=SCIENCE_KEYWORDS_URI,
                    )
                )
            found.extend(Keyword(label=label) for label in _lines(parameter, "Detailed_Variable"))
        topics: list[str] = []
        for value in _lines(self.dif, "ISO_Topic_Category"):
            if code := _TOPICS.get(fold(value)):
                topics.append(code)
            else:
                self.warn(
                    f"ISO_Topic_Category: {value!r} is not an ISO 19115 topic category; kept as a keyword"
                )
                found.append(Keyword(label=value))
        for location in _all(self.dif, "Location"):
            if label := _path(location, _LOCATION_LEVELS):
                found.append(
                    Keyword(label=label, type="place", thesaurus=LOCATIONS, thesaurus_uri=LOCATIONS_URI)
                )
        for name in ("Keyword", "Ancillary_Keyword"):
            found.extend(Keyword(label=label) for label in _lines(self.dif, name))
        return unique(found), unique(topics)

    def places(self) -> list[str]:
        return unique(
            place
            for location in _all(self.dif, "Location")
            for place in _lines(location, "Detailed_Location")
        )

    # --- extents ---
    def bboxes(self) -> list[BBox]:
        boxes: list[BBox] = []
        for coverage in _all(self.dif, "Spatial_Coverage"):
            for element in [coverage, *_all(coverage, "Geometry/Bounding_Rectangle")]:
                if (box := self.bbox(element)) is not None and box not in boxes:
                    boxes.append(box)
        return boxes

    def bbox(self, element: Any) -> BBox | None:
        """The box of the four bounds under ``element``; ``None`` when it has none, and with a warning
        when one is missing or not a number, out of range, or south is above north."""
        texts = [_line(element, name) for name in _BOUNDS]
        if not any(texts):
            return None
        numbers: list[float] = []
        for name, text in zip(_BOUNDS, texts, strict=True):
            try:
                numbers.append(float(text or ""))
            except ValueError:
                self.warn(
                    f"{name}: {text!r} is not a number; box skipped"
                    if text
                    else f"{name}: missing; box skipped"
                )
                return None
        box, problem = bbox_from_numbers(numbers)
        if problem:
            self.warn(f"Spatial_Coverage: {problem}; box skipped")
        return box

    def temporal(self) -> list[TemporalExtent]:
        ends: list[tuple[Any, Any]] = []
        for coverage in _all(self.dif, "Temporal_Coverage"):
            stop = _line(coverage, "Stop_Date") or _line(coverage, "End_Date")
            ends.append((_line(coverage, "Start_Date"), stop))
            for period in _all(coverage, "Range_DateTime"):
                ends.append((_line(period, "Beginning_Date_Time"), _line(period, "Ending_Date_Time")))
            ends.extend((moment, moment) for moment in _lines(coverage, "Single_DateTime"))
        extents, problems = intervals(ends)
        for problem in problems:
            self.warn(f"Temporal_Coverage: {problem}")
        return extents

    # --- dates ---
    def date(self, path: str) -> str | None:
        text = _line(self.dif, path)
        value = normalise_date(text)
        if text and value is None:
            self.warn(f"{path}: unreadable date {text!r}")
        return value

    def published(self) -> str | None:
        for citation in self.citations:
            text = _line(citation, "Dataset_Release_Date")
            if value := normalise_date(text):
                return value
            if text:
                self.warn(f"Dataset_Release_Date: unreadable date {text!r}")
        return None

    def metadata_date(self) -> str | None:
        revised = self.date("Last_DIF_Revision_Date") or self.date("Metadata_Dates/Metadata_Last_Revision")
        return revised or self.date("DIF_Creation_Date") or self.date("Metadata_Dates/Metadata_Creation")

    # --- parties ---
    def contacts(self) -> list[Contact]:
        """Personnel, data centres, then the originating centre and the citation's creator and publisher."""
        contacts: list[Contact | None] = []
        for personnel in _all(self.dif, "Personnel"):
            roles = [role.strip() for text in _lines(personnel, "Role") for role in text.split(",")]
            mapped = [_ROLES.get(fold(role), role) for role in roles if role] or [None]
            contacts.extend(self.person(personnel, role, None, None) for role in mapped)
        for centre in _all(self.dif, "Data_Center"):
            contacts.extend(self.centre(centre, "Data_Center_Name", "Data_Center_URL", "distributor"))
        for organisation in _all(self.dif, "Organization"):
            kind = fold(_line(organisation, "Organization_Type") or "")
            role = _ORGANISATION_ROLES.get(kind, "distributor")
            contacts.extend(self.centre(organisation, "Organization_Name", "Organization_URL", role))
        contacts.extend(
            Contact(role="originator", organisation=name) for name in _lines(self.dif, "Originating_Center")
        )
        for citation in self.citations:
            contacts.extend(Contact(role="author", name=name) for name in _lines(citation, "Dataset_Creator"))
            contacts.extend(
                Contact(role="publisher", organisation=name) for name in _lines(citation, "Dataset_Publisher")
            )
        return unique(contact for contact in contacts if contact is not None)

    def centre(self, centre: Any, name_path: str, url_path: str, role: str) -> list[Contact | None]:
        """A data centre's people, each with the centre as organisation; else the centre itself."""
        names = next(iter(_all(centre, name_path)), None)
        name = (_line(names, "Long_Name") or _line(names, "Short_Name")) if names is not None else None
        url = _line(centre, url_path)
        people = [self.person(personnel, role, name, url) for personnel in _all(centre, "Personnel")]
        if any(person is not None for person in people):
            return people
        return [Contact(role=role, organisation=name, url=url)] if name or url else []

    def person(
        self, personnel: Any, role: str | None, organisation: str | None, url: str | None
    ) -> Contact | None:
        """A DIF 9 ``Personnel`` or the DIF 10 ``Contact_Person``/``Contact_Group`` in it; ``None`` when
        it names nobody and gives no way to reach anyone."""
        person = next(iter(_all(personnel, "Contact_Person") + _all(personnel, "Contact_Group")), personnel)
        parts = (_line(person, part) for part in ("First_Name", "Middle_Name", "Last_Name"))
        name = _line(person, "Name") or " ".join(filter(None, parts)) or None
        phones = [text for phone in _all(person, "Phone") if (text := _phone(phone))]
        address = next(iter(_all(person, "Contact_Address") + _all(person, "Address")), None)
        contact = Contact(
            role=role,
            name=name,
            organisation=organisation,
            emails=_lines(person, "Email"),
            phones=unique(phones),
            url=url,
            address=_address(address) if address is not None else None,
            country=_line(address, "Country") if address is not None else None,
        )
        reachable = contact.emails or contact.phones or contact.address
        return contact if name or reachable else None

    # --- rights and links ---
    def constraints(self) -> Constraints | None:
        rights = Rights()
        for name, home in (("Access_Constraints", "access"), ("Use_Constraints", "use_limitations")):
            for element in _all(self.dif, name):
                text = paragraphs(element.text) or _line(element, "Description")
                if text and not is_placeholder(text):  # "None", "N/A": no constraint
                    rights.add(text, None, home)
        return rights.constraints()

    def links(self) -> list[Link]:
        links: list[Link] = []
        for related in _all(self.dif, "Related_URL"):
            kind = _line(related, "URL_Content_Type/Type")
            function = _URL_FUNCTIONS.get(fold(kind or "")) or (
                kind if kind and not is_placeholder(kind) else None
            )
            for url in _lines(related, "URL"):
                links.append(
                    Link(
                        url=url,
                        protocol=_line(related, "Protocol"),
                        function=function,
                        name=_line(related, "Title") or _line(related, "URL_Content_Type/Subtype"),
                        description=_line(related, "Description"),
                        media_type=_line(related, "Mime_Type"),
                    )
                )
        for citation in self.citations:
            links.extend(Link(url=url, function="information") for url in _lines(citation, "Online_Resource"))
        return unique(links)


class DIF(Crosswalk):
    """GCMD DIF 9.x / DIF 10 XML -> ``Record``. Rejection codes: ``not-xml``, ``not-dif``,
    ``no-identifier``, ``no-title``."""

    name = "dif"

    def to_record(self, raw: RawRecord, *, pole: str | None = None) -> Record:
        reader = _Reader(single_element(xml_root(raw), ("{*}DIF",), "not-dif", "DIF"))
        native_id = reader.native_id(raw)
        title = reader.title(native_id)
        links = reader.links()
        keywords, topics = reader.keywords()
        return Record(
            id=record_id(raw.source_id, native_id),
            native_id=native_id,
            source_id=raw.source_id,
            pole=pole,
            title=title,
            abstract=reader.abstract(),
            language=normalise_language(
                _line(reader.dif, "Data_Set_Language") or _line(reader.dif, "Dataset_Language")
            ),
            identifiers=reader.identifiers(native_id, links),
            parent_id=_line(reader.dif, "Parent_DIF"),
            keywords=keywords,
            topic_categories=topics,
            bboxes=reader.bboxes(),
            places=reader.places(),
            temporal=reader.temporal(),
            created=reader.date("Metadata_Dates/Data_Creation"),
            published=reader.published(),
            revised=reader.date("Metadata_Dates/Data_Last_Revision"),
            metadata_date=reader.metadata_date(),
            contacts=reader.contacts(),
            constraints=reader.constraints(),
            links=links,
            platforms=_short_or_long(_all(reader.dif, "Source_Name") + _all(reader.dif, "Platform")),
            instruments=_short_or_long(
                _all(reader.dif, "Sensor_Name") + _all(reader.dif, "Platform/Instrument")
            ),
            provenance=Provenance(source_id=raw.source_id, native_format=self.name, datestamp=raw.datestamp),
            warnings=reader.warnings,
        )
