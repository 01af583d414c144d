"""``Record`` -> FAIR JSON-LD: one node that is both a schema.org ``Dataset`` (Google, ESIP SOSO) and a
``dcat:Dataset`` (DCAT-AP 3 / GeoDCAT-AP 3), so that one document serves search engines and DCAT
harvesters alike.

The RDF shape was agreed with the validation engineers (their SHACL shapes are written against it):
every statement is made in both vocabularies where both have one (``dct:title`` + ``schema:name``,
``dct:spatial`` + ``schema:spatialCoverage``, ...). The dataset IRI is the record's catalogue URL;
every other node hangs below it, so that a SHACL result on any node can be traced back to its record.

Why the document is built by hand rather than from an rdflib graph: the server renders pages of 100
records and the harvester validates every record, and a dict written straight from the ``Record`` is
some sixty times cheaper than serialising a graph and compacting it with pyld (``bench/jsonld.py``:
~0.15 ms against ~9 ms per corpus record, the graph's own making not counted).
The graph, when one is needed, is parsed from that same document, so the two can never disagree.

Choices worth knowing:

- The context is ours and published (``context.jsonld``); documents carry it inline so that an offline
  consumer or a crawler needs to fetch nothing. schema.org terms come through ``@vocab``, DCAT and the
  others by prefixed names. No value is a JSON number (coordinates are text), so that every JSON-LD
  processor produces the same literals.
- Text is language-tagged only with an ISO 639-1 code (``fr``, ``en-gb``): a source's own code ("sp",
  "french") is not a language tag, and a wrong tag is worse than none.
- Dates are typed by their form: ``xsd:gYear``, ``xsd:gYearMonth``, ``xsd:date`` or ``xsd:dateTime``;
  anything else stays a plain literal for the validation to report.
- A box is a WKT ``POLYGON`` in lon lat order (GeoSPARQL's default CRS84) and a SOSO ``box`` "S W N E";
  a box crossing the antimeridian keeps west > east in both, as SOSO asks, never split.
- Only http(s)/ftp addresses become IRIs (``catalogue.urls.is_link``); characters an IRI may not hold
  are percent-encoded, because JSON-LD processors differ on what they do with invalid IRIs.
- Links are placed by their relation (``catalogue.geojson.link_rel``, shared with the GeoJSON): a
  download becomes a ``dcat:Distribution`` with a ``downloadURL`` and a ``schema:DataDownload``; an OGC
  service a distribution with a ``dcat:DataService``; an information or search page (or a linkage
  whose protocol says "landing page") ``foaf:page`` / ``schema:url``; anything else a ``dct:relation``
  (DataCite related identifiers are papers, not distributions).
- Shared IRIs (concepts, licences, roles, standards, the catalogue) get only statements that do not
  depend on the record, so that a graph of many records does not pile up conflicting labels on them,
  with one exception: an anchored keyword the thesaurus did not know is labelled as the source wrote it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from rdflib import Graph
from rdflib.plugins.parsers.jsonld import to_rdf

from catalogue.geojson import link_rel, spdx_id
from catalogue.identity import record_id
from catalogue.record import BBox, Constraints, Contact, Keyword, Link, LocalisedText, Record, TemporalExtent
from catalogue.urls import is_link

DEFAULT_BASE = "https://catalogue.data-terra.org/collections/catalogue/items/"
CONTEXT: dict[str, Any] = json.loads((Path(__file__).with_name("context.jsonld")).read_text("utf-8"))
CATALOGUE_NAME = "Data Terra"

Json = dict[str, Any]

_CONTEXT = CONTEXT["@context"]

# --- controlled values -----------------------------------------------------------------------------

# ISO 639-1 -> ISO 639-2/T, from Debian's iso-codes (iso_639-2.json): the valid language tags, and the
# code of the EU language authority (http://publications.europa.eu/resource/authority/language/).
_ISO639 = dict(
    re.findall(
        r"([a-z]{2}):([A-Z]{3})",
        "aa:AAR ab:ABK ae:AVE af:AFR ak:AKA am:AMH an:ARG ar:ARA as:ASM av:AVA ay:AYM az:AZE ba:BAK be:BEL "
        "bg:BUL bh:BIH bi:BIS bm:BAM bn:BEN bo:BOD br:BRE bs:BOS ca:CAT ce:CHE ch:CHA co:COS cr:CRE cs:CES "
        "cu:CHU cv:CHV cy:CYM da:DAN de:DEU dv:DIV dz:DZO ee:EWE el:ELL en:ENG eo:EPO es:SPA et:EST eu:EUS "
        "fa:FAS ff:FUL fi:FIN fj:FIJ fo:FAO fr:FRA fy:FRY ga:GLE gd:GLA gl:GLG gn:GRN gu:GUJ gv:GLV ha:HAU "
        "he:HEB hi:HIN ho:HMO hr:HRV ht:HAT hu:HUN hy:HYE hz:HER ia:INA id:IND ie:ILE ig:IBO ii:III ik:IPK "
        "io:IDO is:ISL it:ITA iu:IKU ja:JPN jv:JAV ka:KAT kg:KON ki:KIK kj:KUA kk:KAZ kl:KAL km:KHM kn:KAN "
        "ko:KOR kr:KAU ks:KAS ku:KUR kv:KOM kw:COR ky:KIR la:LAT lb:LTZ lg:LUG li:LIM ln:LIN lo:LAO lt:LIT "
        "lu:LUB lv:LAV mg:MLG mh:MAH mi:MRI mk:MKD ml:MAL mn:MON mr:MAR ms:MSA mt:MLT my:MYA na:NAU nb:NOB "
        "nd:NDE ne:NEP ng:NDO nl:NLD nn:NNO no:NOR nr:NBL nv:NAV ny:NYA oc:OCI oj:OJI om:ORM or:ORI os:OSS "
        "pa:PAN pi:PLI pl:POL ps:PUS pt:POR qu:QUE rm:ROH rn:RUN ro:RON ru:RUS rw:KIN sa:SAN sc:SRD sd:SND "
        "se:SME sg:SAG si:SIN sk:SLK sl:SLV sm:SMO sn:SNA so:SOM sq:SQI sr:SRP ss:SSW st:SOT su:SUN sv:SWE "
        "sw:SWA ta:TAM te:TEL tg:TGK th:THA ti:TIR tk:TUK tl:TGL tn:TSN to:TON tr:TUR ts:TSO tt:TAT tw:TWI "
        "ty:TAH ug:UIG uk:UKR ur:URD uz:UZB ve:VEN vi:VIE vo:VOL wa:WLN wo:WOL xh:XHO yi:YID yo:YOR za:ZHA "
        "zh:ZHO zu:ZUL",
    )
)
EU_LANGUAGE = "http://publications.europa.eu/resource/authority/language/"
_LANG_TAG = re.compile(r"([a-z]{2})(?:-[a-z0-9]{1,8})*")

# ISO 19115 MD_TopicCategoryCode, published as the INSPIRE TopicCategory code list.
_TOPIC_CATEGORIES = frozenset(
    {
        "farming", "biota", "boundaries", "climatologyMeteorologyAtmosphere", "economy", "elevation",
        "environment", "geoscientificInformation", "health", "imageryBaseMapsEarthCover",
        "intelligenceMilitary", "inlandWaters", "location", "oceans", "planningCadastre", "society",
        "structure", "transportation", "utilitiesCommunication",
    }
)  # fmt: skip
TOPIC_CATEGORY = "http://inspire.ec.europa.eu/metadata-codelist/TopicCategory/"

# ISO 19115:2003 CI_RoleCode values, which the INSPIRE registry publishes (GeoDCAT-AP uses these IRIs);
# the roles ISO 19115-1 added have no such IRI and are named by a label.
_INSPIRE_ROLES = frozenset(
    {
        "resourceProvider", "custodian", "owner", "user", "distributor", "originator", "pointOfContact",
        "principalInvestigator", "processor", "publisher", "author",
    }
)  # fmt: skip
INSPIRE_ROLE = "http://inspire.ec.europa.eu/metadata-codelist/ResponsiblePartyRole/"
_CREATOR_ROLES = frozenset({"author", "originator", "principalInvestigator"})
_RIGHTS_HOLDER_ROLES = frozenset({"owner", "rightsHolder"})

_DCAT_TYPES = {"series": "dcat:DatasetSeries", "service": "dcat:DataService"}

DOI_REGISTRY = "https://registry.identifiers.org/registry/doi"
IANA_MEDIA_TYPES = "https://www.iana.org/assignments/media-types/"
_MEDIA_TYPE = re.compile(r"[a-z]+/[A-Za-z0-9.+_-]+")
_OGC_SERVICE = re.compile(r"\b(WMTS|WMS|WFS|WCS|CSW|SOS|WPS)\b", re.IGNORECASE)
OGC_STANDARD = "http://www.opengeospatial.org/standards/"

# The metadata standard each crosswalk reads, for the catalogue record's dct:conformsTo.
_STANDARDS = {
    "iso19139": ("http://www.isotc211.org/2005/gmd", "ISO 19139"),
    "iso19115-3": ("http://standards.iso.org/iso/19115/-3/mdb/2.0", "ISO 19115-3"),
    "dc": ("http://purl.org/dc/elements/1.1/", "Dublin Core"),
    "datacite": ("https://schema.datacite.org/", "DataCite Metadata Schema"),
    "dif": ("http://gcmd.gsfc.nasa.gov/Aboutus/xml/dif/", "Directory Interchange Format (DIF)"),
    "stac": ("https://stacspec.org/", "SpatioTemporal Asset Catalog (STAC)"),
    "ogcapi-records": (
        "http://www.opengis.net/spec/ogcapi-records-1/1.0/req/record-core",
        "OGC API - Records record",
    ),
}

_POLES = {
    "aeris": ("AERIS", "https://www.aeris-data.fr/"),
    "formater": ("ForM@Ter", "https://www.poleterresolide.fr/"),
    "odatis": ("ODATIS", "https://www.odatis-ocean.fr/"),
    "theia": ("THEIA", "https://www.theia-land.fr/"),
}

_DATE_TYPES = (
    (re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?"), "xsd:dateTime"),
    (re.compile(r"\d{4}-\d{2}-\d{2}"), "xsd:date"),
    (re.compile(r"\d{4}-\d{2}"), "xsd:gYearMonth"),
    (re.compile(r"\d{4}"), "xsd:gYear"),
)
_IRI_UNSAFE = re.compile(r"[\x00-\x20<>\"{}|\\^`\x7f]")
_ABSOLUTE_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]+")
_NO_LIMITATIONS = re.compile(r"no\s*limitations", re.IGNORECASE)  # INSPIRE LimitationsOnPublicAccess
_EMAIL = re.compile(r"[^\s@<>\"{}|\\^`:]+@[^\s@<>\"{}|\\^`]+")


# --- public interface --------------------------------------------------------------------------------


def dataset_iri(record: Record, base: str = DEFAULT_BASE) -> str:
    """The IRI of the record's dataset node: its catalogue URL (record ids are URL-safe)."""
    return f"{base}{record.id}"


def document(record: Record, base: str = DEFAULT_BASE) -> Json:
    """The compact JSON-LD document of one record, context inline. The ``@context`` value is shared
    with ``CONTEXT``: serialise the document, do not modify it in place."""
    return {"@context": _CONTEXT, **_dataset(record, base)}


def documents(records: Sequence[Record], base: str = DEFAULT_BASE) -> Json:
    """One JSON-LD document for a page of records: one ``@context``, the datasets in ``@graph``."""
    return {"@context": _CONTEXT, "@graph": [_dataset(record, base) for record in records]}


def graph(record: Record, base: str = DEFAULT_BASE) -> Graph:
    """The RDF of ``document(record)``, parsed by rdflib (the inline context: no network)."""
    return _parse(document(record, base))


def graph_of(records: Iterable[Record], base: str = DEFAULT_BASE) -> Graph:
    """One graph for many records (a validation batch): every node of a record is reachable from its
    ``dataset_iri``; only IRIs the records share (concepts, licences, the catalogue) are merged."""
    return _parse(documents(list(records), base))


def _parse(data: Json) -> Graph:
    out = Graph()
    to_rdf(data, out)
    return out


# --- the dataset node --------------------------------------------------------------------------------


def _dataset(record: Record, base: str) -> Json:
    iri = dataset_iri(record, base)
    text_lang = record.title.lang or record.metadata_language
    node: Json = {
        "@id": iri,
        "@type": ["Dataset", _DCAT_TYPES.get(record.resource_type, "dcat:Dataset")],
    }
    titles = _texts(record.title, text_lang)
    _put(node, "dct:title", titles)
    _put(node, "name", titles)
    if record.abstract:
        descriptions = _texts(record.abstract, record.abstract.lang or text_lang)
        _put(node, "dct:description", descriptions)
        _put(node, "description", descriptions)
    _identifiers(node, record)
    _keywords(node, record)
    _spatial(node, record.bboxes, record.places)
    _temporal(node, record.temporal)
    for dcat_key, schema_key, value in (
        ("dct:issued", "datePublished", record.published),
        ("dct:modified", "dateModified", record.revised),
        ("dct:created", "dateCreated", record.created),
    ):
        if value:
            node[dcat_key] = node[schema_key] = _date(value)
    _parties(node, record.contacts)
    _rights(node, record.constraints)
    _links(node, record, iri)
    if record.lineage:
        node["dct:provenance"] = {"@type": "dct:ProvenanceStatement", "rdfs:label": record.lineage}
    language = _lang(record.language)
    if language:
        primary = language.split("-", 1)[0]
        node["dct:language"] = {"@id": EU_LANGUAGE + _ISO639[primary], "@type": "dct:LinguisticSystem"}
        node["inLanguage"] = language
    if record.parent_id:
        node["dct:isPartOf"] = node["isPartOf"] = f"{base}{record_id(record.source_id, record.parent_id)}"
    _put(node, "measurementTechnique", _unique(record.instruments))
    _catalogue(node, record, iri, base)
    return node


def _identifiers(node: Json, record: Record) -> None:
    """Every identifier as ``dct:identifier``; the scheme-qualified ones as SOSO ``PropertyValue``s and
    ``adms:identifier``s (all but the primary one: the DOI when there is one, else the native id)."""
    doi = record.doi
    codes = _unique([record.native_id, *(i.code for i in record.identifiers)])
    _put(node, "dct:identifier", codes)
    values: list[Any] = [] if record.native_id in {i.code for i in record.identifiers} else [record.native_id]
    others: list[Json] = []
    seen: set[tuple[str, str | None]] = set()
    for identifier in record.identifiers:
        if not identifier.code or (identifier.code, identifier.scheme) in seen:
            continue
        seen.add((identifier.code, identifier.scheme))
        is_doi = identifier.scheme == "doi"
        value: Json = {"@type": "PropertyValue", "value": identifier.code}
        scheme = DOI_REGISTRY if is_doi else identifier.scheme
        if scheme:
            value["propertyID"] = scheme
        url = _iri(f"https://doi.org/{identifier.code}" if is_doi else identifier.url or identifier.code)
        if url:
            value["url"] = url
        values.append(value)
        if identifier.code != (doi or record.native_id):
            other: Json = {"@type": "adms:Identifier", "skos:notation": identifier.code}
            if identifier.scheme:
                other["adms:schemaAgency"] = identifier.scheme
            others.append(other)
    _put(node, "identifier", values)
    _put(node, "adms:identifier", others)
    if doi and (same := _iri(f"https://doi.org/{doi}")):
        node["sameAs"] = node["owl:sameAs"] = same


def _keywords(node: Json, record: Record) -> None:
    """Keyword labels (each translation too) as ``dcat:keyword`` and ``schema:keywords``; concepts and
    anchored keywords as ``dcat:theme`` skos:Concepts that are also the ``schema:DefinedTerm``s of
    ``schema:keywords``; ISO topic categories as GeoDCAT-AP ``topicCategory``."""
    tagged: dict[tuple[str, str | None], Any] = {}
    plain: dict[str, None] = {}
    for keyword in record.keywords:
        for text, lang in ((keyword.label, keyword.lang), *((t, c) for c, t in keyword.translations.items())):
            if text and text.strip():
                tag = _lang(lang)
                tagged.setdefault((text, tag), _literal(text, tag))
                plain.setdefault(text)
    _put(node, "dcat:keyword", list(tagged.values()))
    themes: dict[str, Json] = {}
    for concept in record.concepts:
        if _ABSOLUTE_IRI.fullmatch(concept.uri):
            labels = [_literal(text, _lang(lang)) for lang, text in concept.labels.items() if text.strip()]
            themes.setdefault(concept.uri, _concept(concept.uri, labels, concept.scheme))
    for keyword in record.keywords:
        if (uri := _iri(keyword.uri)) and uri not in themes:
            themes[uri] = _concept(uri, _keyword_labels(keyword), keyword.thesaurus_uri)
    _put(node, "dcat:theme", list(themes.values()))
    terms = [*plain, *_unique([*record.platforms, *record.instruments])]
    _put(node, "keywords", _unique(terms) + [{"@id": uri} for uri in themes])
    topics = [TOPIC_CATEGORY + code for code in _unique(record.topic_categories) if code in _TOPIC_CATEGORIES]
    _put(node, "geodcatap:topicCategory", topics)


def _keyword_labels(keyword: Keyword) -> list[Any]:
    labels = {(keyword.label, _lang(keyword.lang)): None}
    labels.update(((text, _lang(lang)), None) for lang, text in keyword.translations.items())
    return [_literal(text, lang) for text, lang in labels if text.strip()]


def _concept(uri: str, labels: list[Any], scheme: str | None) -> Json:
    node: Json = {"@id": uri, "@type": ["skos:Concept", "DefinedTerm"]}
    _put(node, "skos:prefLabel", labels)
    _put(node, "name", labels)
    if scheme and _ABSOLUTE_IRI.fullmatch(scheme):
        node["skos:inScheme"] = node["inDefinedTermSet"] = scheme
    return node


def _spatial(node: Json, boxes: list[BBox], places: list[str]) -> None:
    locations: list[Json] = []
    coverage: list[Json] = []
    for box in boxes:
        w, s, e, n = (_number(v) for v in (box.west, box.south, box.east, box.north))
        wkt = f"POLYGON(({w} {s}, {e} {s}, {e} {n}, {w} {n}, {w} {s}))"
        locations.append({"@type": "dct:Location", "dcat:bbox": wkt})
        coverage.append({"@type": "Place", "geo": {"@type": "GeoShape", "box": f"{s} {w} {n} {e}"}})
    for place in _unique(places):
        locations.append({"@type": "dct:Location", "skos:prefLabel": place})
        coverage.append({"@type": "Place", "name": place})
    _put(node, "dct:spatial", locations)
    _put(node, "spatialCoverage", coverage)


def _number(value: float) -> str:
    """A coordinate as the source gave it (the shortest decimal that reads back as the same float), with
    no exponent and no trailing ``.0``: ``4.799``, ``56.98779999999999``, ``-180``."""
    text = repr(float(value))
    if "e" in text:
        text = f"{value:.20f}"
    text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _temporal(node: Json, extents: list[TemporalExtent]) -> None:
    periods: list[Json] = []
    coverage: list[str] = []
    for extent in extents:
        start = extent.start
        end = None if extent.indeterminate_end == "now" else extent.end
        if not (start or end):
            continue
        period: Json = {"@type": "dct:PeriodOfTime"}
        if start:
            period["dcat:startDate"] = _date(start)
        if end:
            period["dcat:endDate"] = _date(end)
        periods.append(period)
        coverage.append(f"{start or '..'}/{end or '..'}")
    _put(node, "dct:temporal", periods)
    _put(node, "temporalCoverage", _unique(coverage))


# --- parties -----------------------------------------------------------------------------------------


def _parties(node: Json, contacts: list[Contact]) -> None:
    """Points of contact as vCards; publishers and creators in both vocabularies (schema creators as an
    ordered list, as SOSO asks); every other role as a ``prov:qualifiedAttribution`` with its role."""
    points: list[Json] = []
    publishers: list[Json] = []
    creators: list[Json] = []
    attributions: list[Json] = []
    holders: list[Json] = []
    for party in contacts:
        if party.role == "pointOfContact":
            if card := _vcard(party):
                points.append(card)
            continue
        agent = _agent(party)
        if agent is None:
            continue
        if party.role == "publisher":
            publishers.append(agent)
        elif party.role in _CREATOR_ROLES:
            creators.append(agent)
        else:
            attribution: Json = {"@type": "prov:Attribution", "prov:agent": agent}
            if party.role:
                attribution["dcat:hadRole"] = _role(party.role)
            attributions.append(attribution)
            if party.role in _RIGHTS_HOLDER_ROLES:
                holders.append(agent)
    _put(node, "dcat:contactPoint", points)
    # One agent dict under two properties is two blank nodes once serialised: JSON-LD cannot share a
    # node without an id, and blank node ids would collide between the records of one page.
    _put(node, "dct:publisher", publishers)
    _put(node, "publisher", publishers)
    _put(node, "dct:creator", creators)
    if creators:
        node["creator"] = {"@list": creators}
    _put(node, "dct:rightsHolder", holders)
    _put(node, "prov:qualifiedAttribution", attributions)


def _vcard(party: Contact) -> Json | None:
    card: Json = {"@type": "vcard:Kind"}
    name = party.name or party.organisation
    if name:
        card["vcard:fn"] = name
    if party.organisation:
        card["vcard:organization-name"] = party.organisation
    _put(card, "vcard:hasEmail", _mailtos(party.emails))
    if url := _iri(party.url):
        card["vcard:hasURL"] = url
    return card if len(card) > 1 else None


def _agent(party: Contact) -> Json | None:
    """A ``foaf:Agent`` that is a schema Person (an individual is named) or Organization; the
    individual's organisation is its ``affiliation``. ``None`` without a name to give it."""
    name = party.name or party.organisation
    if not name:
        return None
    agent: Json = {"@type": ["foaf:Agent", "Person" if party.name else "Organization"], "foaf:name": name}
    agent["name"] = name
    if party.name and party.organisation:
        agent["affiliation"] = {
            "@type": ["foaf:Agent", "Organization"],
            "foaf:name": party.organisation,
            "name": party.organisation,
        }
    mailtos = _mailtos(party.emails)
    _put(agent, "foaf:mbox", mailtos)
    _put(agent, "email", [mailto.removeprefix("mailto:") for mailto in mailtos])
    if url := _iri(party.url):
        agent["url"] = url
    return agent


def _role(role: str) -> Json:
    if role in _INSPIRE_ROLES:
        return {"@id": INSPIRE_ROLE + role, "@type": "dcat:Role"}
    return {"@type": "dcat:Role", "skos:prefLabel": role}


def _mailtos(emails: list[str]) -> list[str]:
    out = []
    for email in emails:
        address = email.strip().removeprefix("mailto:")
        if _EMAIL.fullmatch(address):
            out.append(f"mailto:{address}")
    return _unique(out)


# --- rights ------------------------------------------------------------------------------------------


def _rights(node: Json, constraints: Constraints | None) -> None:
    """The licence as an IRI when the source gave a URL or named a licence SPDX knows, else as text in
    ``dct:rights`` with the other use conditions; access constraints as ``dct:accessRights``."""
    if constraints is None:
        return
    licence = _iri(constraints.licence_url)
    known = spdx_id(constraints.licence_url, constraints.licence)
    if licence is None and known:
        licence = f"https://spdx.org/licenses/{known}"
    rights = [] if licence or not constraints.licence else [constraints.licence]
    if licence:
        node["dct:license"] = {"@id": licence, "@type": "dct:LicenseDocument"}
        node["license"] = licence
    _put(node, "dct:rights", _unique([*rights, *constraints.use_limitations, *constraints.other]))
    access = [{"@id": url} if (url := _iri(text)) else text for text in _unique(constraints.access)]
    _put(node, "dct:accessRights", access)
    if known or any(_NO_LIMITATIONS.search(text) for text in constraints.access):
        node["isAccessibleForFree"] = True


# --- links -------------------------------------------------------------------------------------------


def _links(node: Json, record: Record, iri: str) -> None:
    distributions: list[Json] = []
    downloads: list[Json] = []
    pages: list[str] = []
    related: list[str] = []
    depictions = [url for url in map(_iri, record.thumbnails) if url]
    endpoints: list[str] = []
    # ISO gives formats per distribution, not per link: they describe each download link, unless the
    # links carry their own media types (STAC, whose formats are its assets' types).
    formats = [] if any(link.media_type for link in record.links) else _unique(f.name for f in record.formats)
    seen: set[tuple[str, str]] = set()
    for link in record.links:
        url = _iri(link.url)
        kind = _kind(link)
        if url is None or (kind, url) in seen:
            continue
        seen.add((kind, url))
        if kind == "service":
            distributions.append(_service(link, url))
            endpoints.append(url)
        elif kind == "enclosure":
            distribution, download = _download(link, url, formats)
            distributions.append(distribution)
            downloads.append(download)
        elif kind == "page":
            pages.append(url)
        elif kind == "preview":
            depictions.append(url)
        else:
            related.append(url)
    _put(node, "dcat:distribution", distributions)
    _put(node, "distribution", downloads)
    _put(node, "foaf:page", [{"@id": url, "@type": "foaf:Document"} for url in pages])
    _put(node, "url", pages or [iri])
    _put(node, "dct:relation", _unique(related))
    depictions = _unique(depictions)
    _put(node, "foaf:depiction", depictions)
    _put(node, "thumbnailUrl", depictions)
    if record.resource_type == "service":
        _put(node, "dcat:endpointURL", endpoints)


def _kind(link: Link) -> str:
    """service, enclosure, page, preview or related (see the module docstring)."""
    rel = link_rel(link)
    if rel in ("describedby", "search") or (rel == "related" and "landing" in (link.protocol or "").lower()):
        return "page"
    return rel


def _service(link: Link, url: str) -> Json:
    service: Json = {"@type": "dcat:DataService", "dct:title": link.name or link.description or link.protocol}
    service["dcat:endpointURL"] = url
    if match := _OGC_SERVICE.search(link.protocol or ""):
        standard = OGC_STANDARD + match.group(1).lower()
        service["dct:conformsTo"] = {"@id": standard, "@type": "dct:Standard"}
    distribution: Json = {"@type": "dcat:Distribution", "dcat:accessURL": url}
    _describe(distribution, link)
    distribution["dcat:accessService"] = service
    return distribution


def _download(link: Link, url: str, formats: list[str]) -> tuple[Json, Json]:
    """The DCAT distribution and the schema.org DataDownload of a download link, described by the link's
    media type, else by ``formats`` (the record's, when its links carry no media type of their own)."""
    distribution: Json = {"@type": "dcat:Distribution", "dcat:accessURL": url, "dcat:downloadURL": url}
    download: Json = {"@type": "DataDownload", "contentUrl": url}
    _describe(distribution, link)
    if link.name:
        download["name"] = link.name
    names = [link.media_type] if link.media_type else formats
    media_types: list[Json] = []
    described: list[Json] = []
    for name in names:
        media_type = name.split(";", 1)[0].strip().lower()
        if _MEDIA_TYPE.fullmatch(media_type):
            media_types.append({"@id": IANA_MEDIA_TYPES + media_type, "@type": "dct:MediaType"})
        else:
            described.append({"@type": "dct:MediaTypeOrExtent", "rdfs:label": name})
    _put(distribution, "dcat:mediaType", media_types)
    _put(distribution, "dct:format", described)
    _put(download, "encodingFormat", names)
    return distribution, download


def _describe(distribution: Json, link: Link) -> None:
    if link.name:
        distribution["dct:title"] = link.name
    if link.description and link.description != link.name:
        distribution["dct:description"] = link.description


# --- the catalogue -----------------------------------------------------------------------------------


def _catalogue(node: Json, record: Record, iri: str, base: str) -> None:
    """The catalogue holding the record (schema ``includedInDataCatalog``, and a ``dcat:CatalogRecord``
    about the dataset with the metadata date and standard) and the pole that provides it."""
    catalogue = base.rstrip("/").removesuffix("/items")
    node["includedInDataCatalog"] = {
        "@id": catalogue,
        "@type": "DataCatalog",
        "name": CATALOGUE_NAME,
        "url": catalogue,
    }
    entry: Json = {"@id": f"{iri}#record", "@type": "dcat:CatalogRecord", "foaf:primaryTopic": iri}
    provenance = record.provenance
    modified = record.metadata_date or (provenance and (provenance.datestamp or provenance.harvested_at))
    if modified:
        entry["dct:modified"] = _date(modified)
    standard = _STANDARDS.get(provenance.native_format or "") if provenance else None
    if standard:
        entry["dct:conformsTo"] = {"@id": standard[0], "@type": "dct:Standard", "dct:title": standard[1]}
    node["foaf:isPrimaryTopicOf"] = entry
    if record.pole:
        name, url = _POLES.get(record.pole.lower(), (record.pole, None))
        provider: Json = {"@type": "Organization", "name": name}
        if url:
            provider["url"] = url
        node["provider"] = provider


# --- values ------------------------------------------------------------------------------------------


def _put(node: Json, key: str, values: list[Any]) -> None:
    """Set ``key`` when there is something to say: one value alone, several as an array."""
    if values:
        node[key] = values[0] if len(values) == 1 else values


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v and v.strip()))


def _lang(code: str | None) -> str | None:
    """``code`` as a language tag when it is one (ISO 639-1 primary subtag), lower-cased, else None."""
    if not code:
        return None
    tag = code.strip().lower().replace("_", "-")
    match = _LANG_TAG.fullmatch(tag)
    return tag if match and match.group(1) in _ISO639 else None


def _literal(text: str, lang: str | None) -> Any:
    return {"@value": text, "@language": lang} if lang else text


def _texts(text: LocalisedText, lang: str | None) -> list[Any]:
    """The text and each translation, language-tagged when the language is a valid tag."""
    tag = _lang(lang)
    out = {(text.text, tag): None} if text.text.strip() else {}
    for code, translation in text.translations.items():
        if translation.strip():
            out.setdefault((translation, _lang(code)))
    return [_literal(value, language) for value, language in out]


def _date(value: str) -> Any:
    """A date typed by its form (see the module docstring); an unknown form stays a plain literal."""
    for pattern, datatype in _DATE_TYPES:
        if pattern.fullmatch(value):
            return {"@value": value, "@type": datatype}
    return value


def _iri(url: str | None) -> str | None:
    """``url`` as an IRI when it is a followable link, with the characters IRIs forbid percent-encoded."""
    if not is_link(url):
        return None
    return _IRI_UNSAFE.sub(lambda match: quote(match.group()), url.strip())
