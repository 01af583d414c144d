"""FAIR JSON-LD (``catalogue.jsonld``) of real records of every format.

Three kinds of checks:

- Every corpus record (ISO 19139 demo records, and ``tests/data/<format>/`` read as each crosswalk test
  reads it), enriched by the real thesaurus: pyld, an independent JSON-LD processor, expands the document
  without losing a title, a description, an identifier, a keyword, a concept, a box, a time extent, the
  licence or a distribution URL; pyld's RDF and ours (rdflib) are isomorphic; every node hangs below the
  dataset IRI; nothing is empty.
- Ten records, at least one per format, whose triples were read in their source files by hand (the
  comment says where when it is not obvious).
- GeoNetwork's own ISO 19139 -> DCAT output for one record (``tests/data/jsonld/``): our graph carries
  its DCAT statements.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
import pytest
from lxml import etree
from pyld import jsonld as pyld
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.compare import isomorphic

from catalogue import jsonld
from catalogue.geojson import link_rel
from catalogue.identity import record_id
from catalogue.record import Link, Record
from catalogue.urls import is_link
from harvester import formats
from harvester.formats import Rejected
from harvester.raw import RawRecord
from thesaurus import Thesaurus

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
ISO_DEMO = ROOT / "config" / "demo" / "records" / "iso19139"
GN_INPUT = DATA / "jsonld" / "gn__iso19139-dcat-dataset__input.xml"
GN_EXPECTED = DATA / "jsonld" / "gn__iso19139-dcat-dataset__expected.rdf"
THESAURI = [
    *sorted((ROOT / "config" / "thesauri").glob("*.rdf")),
    ROOT / "config" / "thesauri" / "data-terra.ttl",
]

# Plain namespaces: rdflib's closed ones warn when pytest inspects the module's names.
SDO = Namespace("https://schema.org/")
DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCTERMS = Namespace("http://purl.org/dc/terms/")
FOAF = Namespace("http://xmlns.com/foaf/0.1/")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
PROV = Namespace("http://www.w3.org/ns/prov#")
SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")
OWL = Namespace("http://www.w3.org/2002/07/owl#")
RDF = Namespace("http://www.w3.org/1999/02/22-rdf-syntax-ns#")
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")
GSP = Namespace("http://www.opengis.net/ont/geosparql#")
ADMS = Namespace("http://www.w3.org/ns/adms#")
GEODCATAP = Namespace("http://data.europa.eu/930/")
OAI = "{http://www.openarchives.org/OAI/2.0/}"
MDB = "{http://standards.iso.org/iso/19115/-3/mdb/2.0}MD_Metadata"
DIF9 = "{http://gcmd.gsfc.nasa.gov/Aboutus/xml/dif/}DIF"
XML = etree.XMLParser(resolve_entities=False, no_network=True)
# A pole per format, so that every pole's provider is rendered somewhere in the corpus.
POLES = {
    "iso19139": "odatis",
    "iso19115-3": "theia",
    "dc": "odatis",
    "datacite": "formater",
    "dif": "aeris",
    "stac": "theia",
    "ogcapi-records": "aeris",
}


# --- the corpus --------------------------------------------------------------------------------------


def corpus_inputs() -> list[tuple[str, str, bytes]]:
    """(format, name, bytes) of every record of the corpus, the records of a response one by one."""
    found: list[tuple[str, str, bytes]] = [
        ("iso19139", p.name, p.read_bytes()) for p in sorted(ISO_DEMO.glob("*.xml"))
    ]
    for path in sorted((DATA / "iso19115-3").glob("*.xml")):
        found += _split("iso19115-3", path, MDB)
    found += [("dc", p.name, p.read_bytes()) for p in sorted((DATA / "dc").glob("*.xml"))]
    found += [("datacite", p.name, p.read_bytes()) for p in sorted((DATA / "datacite").glob("*.xml"))]
    for path in sorted((DATA / "datacite" / "oai").glob("*.xml")):
        records = etree.fromstring(path.read_bytes(), XML).iter(f"{OAI}record")
        found += [
            ("datacite", f"{path.name}#{n}", etree.tostring(record.find(f"{OAI}metadata")[0]))
            for n, record in enumerate(records)
        ]
    for path in sorted((DATA / "dif").glob("*.xml")):
        found += _split("dif", path, DIF9)
    for folder in ("stac-collection", "stac-item"):
        for path in sorted((DATA / folder).glob("*.json")):
            content = json.loads(path.read_bytes())
            if content.get("type") == "FeatureCollection":
                found += [
                    ("stac", f"{path.name}#{n}", msgspec.json.encode(feature))
                    for n, feature in enumerate(content["features"])
                ]
            else:
                found.append(("stac", path.name, path.read_bytes()))
    for path in sorted((DATA / "ogcapi-records").glob("*.json")):
        content = json.loads(path.read_bytes())
        if "_default" in content:  # the pygeoapi TinyDB file
            found += [
                ("ogcapi-records", f"{path.name}#{n}", msgspec.json.encode(record))
                for n, record in content["_default"].items()
            ]
        else:
            found.append(("ogcapi-records", path.name, path.read_bytes()))
    return found


def _split(fmt: str, path: Path, tag: str) -> list[tuple[str, str, bytes]]:
    """A file as one record, or as each record it holds when it holds several (a CSW response)."""
    elements = list(etree.fromstring(path.read_bytes(), XML).iter(tag))
    if len(elements) < 2:
        return [(fmt, path.name, path.read_bytes())]
    return [(fmt, f"{path.name}#{n}", etree.tostring(element)) for n, element in enumerate(elements)]


def corpus_records() -> list[tuple[str, Record]]:
    """``format/name`` and record of every corpus input a crosswalk accepts (the rejected few are the
    crosswalk tests' business)."""
    found = []
    for fmt, name, content in corpus_inputs():
        try:
            record = formats.get(fmt).to_record(RawRecord("demo", fmt, content), pole=POLES[fmt])
        except Rejected:
            continue
        found.append((f"{fmt}/{name}", record))
    return found


CORPUS = dict(corpus_records())


@pytest.fixture(scope="module")
def thesaurus(tmp_path_factory: pytest.TempPathFactory) -> Thesaurus:
    return Thesaurus.load(THESAURI, cache_dir=tmp_path_factory.mktemp("thesaurus-cache"))


@pytest.fixture(scope="module")
def enriched(thesaurus: Thesaurus) -> dict[str, Record]:
    """The corpus records with their concepts, as a harvest indexes them."""
    return {name: thesaurus.enrich(record)[0] for name, record in CORPUS.items()}


def test_the_corpus_has_records_of_every_format():
    assert Counter(name.split("/")[0] for name in CORPUS) == {
        "iso19139": 40,
        "iso19115-3": 15,
        "dc": 19,
        "datacite": 22,
        "dif": 5,
        "stac": 36,
        "ogcapi-records": 5,
    }


# --- helpers -----------------------------------------------------------------------------------------


def expanded(record: Record) -> dict[str, Any]:
    """The dataset node as pyld expands the document (through JSON text, as a client receives it)."""
    (node,) = pyld.expand(json.loads(json.dumps(jsonld.document(record))))
    return node


def values(node: dict[str, Any], iri: URIRef) -> list[Any]:
    return node.get(str(iri), [])


def texts(node: dict[str, Any], iri: URIRef) -> set[str]:
    return {value["@value"] for value in values(node, iri) if "@value" in value}


def ids(node: dict[str, Any], iri: URIRef) -> set[str]:
    return {value["@id"] for value in values(node, iri) if "@id" in value}


def pyld_graph(document: dict[str, Any]) -> Graph:
    """The RDF pyld makes of a document. Its N-Quads are all in the default graph: N-Triples."""
    quads = pyld.to_rdf(json.loads(json.dumps(document)), {"format": "application/n-quads"})
    return Graph().parse(data=quads, format="nt")


def reachable(graph: Graph, start: URIRef) -> set[Any]:
    seen = {start}
    todo = [start]
    while todo:
        for value in graph.objects(todo.pop()):
            if isinstance(value, URIRef | BNode) and value not in seen:
                seen.add(value)
                todo.append(value)
    return seen


_WKT = re.compile(r"POLYGON\(\(([^)]*)\)\)")


def wkt_box(wkt: str) -> tuple[float, ...]:
    """(west, south, east, north) of our WKT box: its first corner is SW, its third NE."""
    match = _WKT.fullmatch(wkt)
    assert match, wkt
    corners = [tuple(float(v) for v in corner.split()) for corner in match.group(1).split(",")]
    assert len(corners) == 5 and corners[0] == corners[4], wkt
    (west, south), (east, north) = corners[0], corners[2]
    return west, south, east, north


def soso_box(box: str) -> tuple[float, ...]:
    """(west, south, east, north) of a SOSO box "S W N E"."""
    south, west, north, east = (float(v) for v in box.split())
    return west, south, east, north


def distributions(node: dict[str, Any]) -> list[dict[str, Any]]:
    return values(node, DCAT.distribution)


def empties(value: Any, path: str = "") -> list[str]:
    """Where a compact document says nothing: empty strings, lists or nodes (a node with a type only)."""
    if isinstance(value, str):
        return [path] if not value.strip() else []
    if isinstance(value, list):
        return (
            [path]
            if not value
            else [p for n, item in enumerate(value) for p in empties(item, f"{path}[{n}]")]
        )
    if isinstance(value, dict):
        if not set(value) - {"@type"}:
            return [path]
        return [p for key, item in value.items() if key != "@context" for p in empties(item, f"{path}/{key}")]
    return []


def languages(value: Any) -> set[str]:
    if isinstance(value, list):
        return {tag for item in value for tag in languages(item)}
    if isinstance(value, dict):
        found = {value["@language"]} if "@language" in value else set()
        return found | {tag for key, item in value.items() if key != "@context" for tag in languages(item)}
    return set()


# --- every corpus record -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CORPUS))
def test_pyld_expands_every_record_without_loss(name: str, enriched: dict[str, Record]):
    record = enriched[name]
    node = expanded(record)
    assert node["@id"] == jsonld.dataset_iri(record)
    assert {str(SDO.Dataset)} < set(node["@type"])

    titles = {record.title.text, *record.title.translations.values()}
    assert titles <= texts(node, DCTERMS.title) and titles <= texts(node, SDO.name)
    if record.abstract:
        descriptions = {record.abstract.text, *record.abstract.translations.values()}
        assert descriptions <= texts(node, DCTERMS.description)
        assert descriptions <= texts(node, SDO.description)
    assert {record.native_id, *(i.code for i in record.identifiers)} <= texts(node, DCTERMS.identifier)

    labels = {keyword.label for keyword in record.keywords}
    assert labels <= texts(node, DCAT.keyword) and labels <= texts(node, SDO.keywords)
    concepts = {concept.uri for concept in record.concepts}
    assert concepts <= ids(node, DCAT.theme) and concepts <= ids(node, SDO.keywords)

    wkt = [v for place in values(node, DCTERMS.spatial) for v in values(place, DCAT.bbox)]
    assert {v["@type"] for v in wkt} <= {str(GSP.wktLiteral)}
    boxes = [(b.west, b.south, b.east, b.north) for b in record.bboxes]
    assert sorted(wkt_box(v["@value"]) for v in wkt) == sorted(boxes)
    geo = [v for place in values(node, SDO.spatialCoverage) for v in values(place, SDO.geo)]
    assert sorted(soso_box(v) for shape in geo for v in texts(shape, SDO.box)) == sorted(boxes)

    periods = values(node, DCTERMS.temporal)
    starts = {v for period in periods for v in texts(period, DCAT.startDate)}
    ends = {v for period in periods for v in texts(period, DCAT.endDate)}
    assert {e.start for e in record.temporal if e.start} == starts
    assert {e.end for e in record.temporal if e.end and e.indeterminate_end != "now"} == ends

    constraints = record.constraints
    if constraints and is_link(constraints.licence_url):
        assert ids(node, DCTERMS.license) == ids(node, SDO.license) == {constraints.licence_url}
    elif constraints and constraints.licence:  # a licence SPDX knows by name, else the text itself
        assert ids(node, DCTERMS.license) or constraints.licence in texts(node, DCTERMS.rights)

    for link in record.links:
        if is_link(link.url) and link_rel(link) in ("enclosure", "service"):
            assert link.url in {url for d in distributions(node) for url in ids(d, DCAT.accessURL)}


@pytest.mark.parametrize("name", list(CORPUS))
def test_pyld_and_rdflib_make_the_same_graph_and_every_node_hangs_below_the_dataset(
    name: str, enriched: dict[str, Record]
):
    record = enriched[name]
    ours = jsonld.graph(record)
    assert isomorphic(ours, pyld_graph(jsonld.document(record)))
    assert set(ours.subjects()) <= reachable(ours, URIRef(jsonld.dataset_iri(record)))


@pytest.mark.parametrize("name", list(CORPUS))
def test_nothing_is_empty_repeated_or_wrongly_tagged(name: str, enriched: dict[str, Record]):
    document = jsonld.document(enriched[name])
    assert empties(document) == []
    keywords = document.get("dcat:keyword", [])
    keywords = keywords if isinstance(keywords, list) else [keywords]
    assert len({json.dumps(k, sort_keys=True) for k in keywords}) == len(keywords)
    assert all(re.fullmatch(r"[a-z]{2}(-[a-z0-9]{1,8})*", tag) for tag in languages(document))


# --- a page of records -------------------------------------------------------------------------------


def test_a_page_is_one_context_and_the_graph_of_each_record(enriched: dict[str, Record]):
    page = [enriched[name] for name in list(CORPUS)[::14]]  # eleven records, spread over the formats
    document = jsonld.documents(page)
    assert set(document) == {"@context", "@graph"}
    assert [node["@id"] for node in document["@graph"]] == [jsonld.dataset_iri(r) for r in page]

    together = jsonld.graph_of(page)
    one_by_one = Graph()
    for record in page:
        one_by_one += jsonld.graph(record)
    assert isomorphic(together, one_by_one)  # shared IRIs merge, blank nodes do not
    assert isomorphic(together, pyld_graph(document))
    owners = [reachable(together, URIRef(jsonld.dataset_iri(record))) for record in page]
    for blank in {node for node in together.subjects() if isinstance(node, BNode)}:
        assert sum(blank in owned for owned in owners) == 1


def test_the_base_names_the_dataset_and_the_catalogue():
    record = CORPUS["iso19139/pycsw__AVHRR.2011.7Agg.xml"]
    document = jsonld.document(record, base="http://localhost:5000/collections/catalogue/items/")
    assert document["@id"] == f"http://localhost:5000/collections/catalogue/items/{record.id}"
    assert document["includedInDataCatalog"]["@id"] == "http://localhost:5000/collections/catalogue"
    assert document["foaf:isPrimaryTopicOf"]["foaf:primaryTopic"] == document["@id"]


# --- the context -------------------------------------------------------------------------------------


def test_the_published_context_is_the_agreed_one_and_does_not_change_silently():
    context = jsonld.CONTEXT["@context"]
    assert json.loads((ROOT / "catalogue" / "context.jsonld").read_text()) == jsonld.CONTEXT
    prefixes = {term: value for term, value in context.items() if isinstance(value, str)}
    assert prefixes == {
        "@vocab": "https://schema.org/",
        "schema": "https://schema.org/",
        "dcat": "http://www.w3.org/ns/dcat#",
        "dct": "http://purl.org/dc/terms/",
        "foaf": "http://xmlns.com/foaf/0.1/",
        "vcard": "http://www.w3.org/2006/vcard/ns#",
        "locn": "http://www.w3.org/ns/locn#",
        "adms": "http://www.w3.org/ns/adms#",
        "prov": "http://www.w3.org/ns/prov#",
        "geodcatap": "http://data.europa.eu/930/",
        "gsp": "http://www.opengis.net/ont/geosparql#",
        "skos": "http://www.w3.org/2004/02/skos/core#",
        "xsd": "http://www.w3.org/2001/XMLSchema#",
        "owl": "http://www.w3.org/2002/07/owl#",
        "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    }
    # A term's meaning is its IRI and its type: changing one changes every document already published.
    # Update this digest only together with a new version of the published context.
    canonical = json.dumps(context, sort_keys=True, separators=(",", ":")).encode()
    assert hashlib.sha256(canonical).hexdigest() == (
        "49679da7740d83a9797ffae90fbff6b95d57accac05d0c0695fca883a2328e94"
    )


# --- ten records checked by hand ---------------------------------------------------------------------


def dataset(record: Record) -> tuple[Graph, URIRef]:
    return jsonld.graph(record), URIRef(jsonld.dataset_iri(record))


def only(graph: Graph, subject: Any, predicate: URIRef) -> Any:
    (value,) = graph.objects(subject, predicate)
    return value


def test_iso19139_bilingual_record_with_a_doi():
    """pygeometa__707a02ac...xml (BonaRes): title and abstract in English with a German PT_FreeText, a
    DOI as citation identifier, creation/publication/revision dates, a box, a period, "CC BY" as the
    only licence statement (no URL, no version: SPDX cannot name it)."""
    record = CORPUS["iso19139/pygeometa__707a02ac-9240-4a2d-afbd-395b69756534.xml"]
    g, d = dataset(record)
    assert (d, RDF.type, DCAT.Dataset) in g and (d, RDF.type, SDO.Dataset) in g
    for predicate in (DCTERMS.title, SDO.name):
        assert set(g.objects(d, predicate)) == {
            Literal("Agronomic data of long term field experiment CATCHY Asendorf", lang="en"),
            Literal("Agronomische Daten des Langzeitversuches CATCHY in Asendorf", lang="de"),
        }
    doi = URIRef("https://doi.org/10.20387/bonares-1naq-dvww")
    assert (d, OWL.sameAs, doi) in g and (d, SDO.sameAs, doi) in g
    (value,) = (v for v in g.objects(d, SDO.identifier) if isinstance(v, BNode))
    assert only(g, value, SDO.propertyID) == Literal("https://registry.identifiers.org/registry/doi")
    assert only(g, value, SDO.url) == doi
    assert (d, DCTERMS.created, Literal("2020-08-31", datatype=XSD.date)) in g
    assert (d, SDO.datePublished, Literal("2020-10-09", datatype=XSD.date)) in g
    assert (d, DCTERMS.modified, Literal("2020-11-06", datatype=XSD.date)) in g
    period = only(g, d, DCTERMS.temporal)
    assert only(g, period, DCAT.startDate) == Literal("2015-05-01", datatype=XSD.date)
    assert only(g, period, DCAT.endDate) == Literal("2024-04-30", datatype=XSD.date)
    assert (d, SDO.temporalCoverage, Literal("2015-05-01/2024-04-30")) in g
    bbox = Literal(
        "POLYGON((9.02 52.76, 9.03 52.76, 9.03 52.76, 9.02 52.76, 9.02 52.76))", datatype=GSP.wktLiteral
    )
    assert bbox in {o for place in g.objects(d, DCTERMS.spatial) for o in g.objects(place, DCAT.bbox)}
    assert (d, DCTERMS.rights, Literal("CC BY")) in g and not list(g.objects(d, DCTERMS.license))
    assert (d, GEODCATAP.topicCategory, URIRef(jsonld.TOPIC_CATEGORY + "environment")) in g
    card = only(g, d, DCAT.contactPoint)
    assert only(g, card, VCARD.hasEmail) == URIRef("mailto:doerte.schweneker@dsv-saaten.de")
    assert only(g, only(g, d, SDO.provider), SDO.name) == Literal("ODATIS")


def test_iso19115_3_multilingual_record_keeps_only_valid_language_tags():
    """geonetwork__metadata-multilingual.xml: title translations under locales #FR, #GE, #SP, #RU
    (``ge`` and ``sp`` are not ISO 639-1 codes: those texts lose their tag, not their words)."""
    record = CORPUS["iso19115-3/geonetwork__metadata-multilingual.xml"]
    g, d = dataset(record)
    titles = set(g.objects(d, DCTERMS.title))
    assert Literal("Template for Vector data (multilingual)", lang="en") in titles
    assert Literal("Modèle pour les données vecteur (multilingue)", lang="fr") in titles
    assert Literal("Шаблон для векторных данных (многоязычное)", lang="ru") in titles
    assert Literal("Vorlage für die Vektor-Daten (mehrsprachig)") in titles
    assert Literal("De plantilla para el vector de datos (multilingüe)") in titles
    (place,) = g.objects(d, DCTERMS.spatial)
    assert only(g, place, DCAT.bbox) == Literal(
        "POLYGON((-180 -90, 180 -90, 180 90, -180 90, -180 -90))", datatype=GSP.wktLiteral
    )
    (coverage,) = g.objects(d, SDO.spatialCoverage)
    assert only(g, only(g, coverage, SDO.geo), SDO.box) == Literal("-90 -180 90 180")
    # dateStamp 2022-02-23T16:48:58.92Z: the crosswalk keeps whole seconds
    entry = only(g, d, FOAF.isPrimaryTopicOf)
    assert (entry, RDF.type, DCAT.CatalogRecord) in g and (entry, FOAF.primaryTopic, d) in g
    assert only(g, entry, DCTERMS.modified) == Literal("2022-02-23T16:48:58Z", datatype=XSD.dateTime)
    assert only(g, entry, DCTERMS.conformsTo) == URIRef("http://standards.iso.org/iso/19115/-3/mdb/2.0")


def test_iso19115_3_service_record_is_a_data_service_with_its_endpoints():
    """geonetwork__sample-data_service_record_metadata.xml: resourceScope service, two OGC:CSW
    linkages, publication 2015-01-30 and revision 2015-05-05, an INSPIRE theme anchor."""
    record = CORPUS["iso19115-3/geonetwork__sample-data_service_record_metadata.xml"]
    g, d = dataset(record)
    assert (d, RDF.type, DCAT.DataService) in g and (d, RDF.type, SDO.Dataset) in g
    assert (d, RDF.type, DCAT.Dataset) not in g
    csw = "http://localhost:8080/geonetwork/srv/eng/csw"
    capabilities = f"{csw}?SERVICE=CSW&VERSION=2.0.2&REQUEST=GetCapabilities"
    assert set(g.objects(d, DCAT.endpointURL)) == {URIRef(csw), URIRef(capabilities)}
    services = [only(g, dist, DCAT.accessService) for dist in g.objects(d, DCAT.distribution)]
    assert {only(g, s, DCTERMS.conformsTo) for s in services} == {
        URIRef("http://www.opengeospatial.org/standards/csw")
    }
    assert Literal("CSW service URL") in {only(g, s, DCTERMS.title) for s in services}
    assert (d, DCTERMS.issued, Literal("2015-01-30", datatype=XSD.date)) in g
    assert (d, SDO.dateModified, Literal("2015-05-05", datatype=XSD.date)) in g
    theme = URIRef("http://inspire.ec.europa.eu/theme/hh")
    assert (d, DCAT.theme, theme) in g and (d, SDO.keywords, theme) in g
    assert (theme, SKOS.prefLabel, Literal("Human health and safety", lang="en")) in g
    assert (theme, RDF.type, SKOS.Concept) in g and (theme, RDF.type, SDO.DefinedTerm) in g
    assert (d, SDO.isAccessibleForFree, Literal(True)) in g  # "No limitations to public access"


def test_dublin_core_seanoe_record():
    """b2find__7d8d61e8...xml (SEANOE oai_dc): the DOI is the identifier, dc:date 2015-10, three
    creators in order, publisher SEANOE, rights "CC-BY" (no version: a text, not a licence IRI)."""
    record = CORPUS["dc/b2find__7d8d61e8-c2c6-5a7e-bef1-24f5a1eb23b5.xml"]
    g, d = dataset(record)
    assert (d, OWL.sameAs, URIRef("https://doi.org/10.17882/41349")) in g
    assert (d, DCTERMS.identifier, Literal("10.17882/41349")) in g
    assert (d, DCTERMS.issued, Literal("2015-10", datatype=XSD.gYearMonth)) in g
    creators = list(g.items(only(g, d, SDO.creator)))
    assert [only(g, c, SDO.name) for c in creators] == [
        Literal("Legrand, Julien"),
        Literal("Sarradin, Pierre-marie"),
        Literal("Cannat, Mathilde"),
    ]
    assert all((c, RDF.type, SDO.Person) in g and (c, RDF.type, FOAF.Agent) in g for c in creators)
    assert {only(g, c, FOAF.name) for c in g.objects(d, DCTERMS.creator)} == set(
        only(g, c, SDO.name) for c in creators
    )
    assert only(g, only(g, d, DCTERMS.publisher), FOAF.name) == Literal("SEANOE")
    assert (d, DCTERMS.rights, Literal("CC-BY")) in g
    assert set(g.objects(d, DCAT.keyword)) == {
        Literal(word)
        for word in (
            "Mid-Atlantic Ridge",
            "EMSO",
            "Lucky Strike",
            "buoy",
            "Time-series",
            "Transmission",
            "MoMAR",
            "BOREL",
        )
    }
    # dcterms:spatial xsi:type="DCTERMS:Box": 37.2888 -32.27982 37.30134 -32.275618 (S W N E)
    box = only(g, only(g, only(g, d, SDO.spatialCoverage), SDO.geo), SDO.box)
    assert box == Literal("37.2888 -32.27982 37.30134 -32.275618")
    thumbnail = URIRef("https://www.seanoe.org/data/00302/41349/illustration.gif")
    assert (d, FOAF.depiction, thumbnail) in g and (d, SDO.thumbnailUrl, thumbnail) in g


def test_datacite_record_with_a_box_over_the_antimeridian():
    """b2find__e4723633...xml (PANGAEA): west 140.025 > east -124.066 stays as given, north written
    56.98779999999999 in the source; Collected 1999-11-25T00:10:00/1999-12-07T16:30:00;
    publicationYear 2011; CC-BY-3.0 rightsURI; IsPartOf 10.1594/PANGAEA.767698."""
    record = CORPUS["datacite/b2find__e4723633-ab46-5316-875f-fcd788dc0931.xml"]
    g, d = dataset(record)
    place = only(g, d, DCTERMS.spatial)
    assert only(g, place, DCAT.bbox) == Literal(
        "POLYGON((140.025 34.4607, -124.066 34.4607, -124.066 56.98779999999999, 140.025 56.98779999999999, "
        "140.025 34.4607))",
        datatype=GSP.wktLiteral,
    )
    box = only(g, only(g, only(g, d, SDO.spatialCoverage), SDO.geo), SDO.box)
    assert box == Literal("34.4607 140.025 56.98779999999999 -124.066")
    period = only(g, d, DCTERMS.temporal)
    assert only(g, period, DCAT.startDate) == Literal("1999-11-25T00:10:00Z", datatype=XSD.dateTime)
    assert only(g, period, DCAT.endDate) == Literal("1999-12-07T16:30:00Z", datatype=XSD.dateTime)
    assert (d, DCTERMS.issued, Literal("2011", datatype=XSD.gYear)) in g
    licence = URIRef("https://creativecommons.org/licenses/by/3.0/")
    assert (d, DCTERMS.license, licence) in g and (d, SDO.license, licence) in g
    assert (licence, RDF.type, DCTERMS.LicenseDocument) in g
    assert (d, SDO.isAccessibleForFree, Literal(True)) in g
    parent = URIRef(jsonld.DEFAULT_BASE + record_id("demo", "10.1594/pangaea.767698"))
    assert (d, DCTERMS.isPartOf, parent) in g and (d, SDO.isPartOf, parent) in g
    (creator,) = g.items(only(g, d, SDO.creator))
    assert only(g, creator, SDO.url) == URIRef("http://orcid.org/0000-0001-9885-9195")
    roles = {
        only(g, only(g, a, PROV.agent), FOAF.name): only(g, a, DCAT.hadRole)
        for a in g.objects(d, PROV.qualifiedAttribution)
    }
    hosting = Literal("Carbon Dioxide Information Analysis Center, Oak Ridge National Laboratory")
    assert roles[hosting] == URIRef(jsonld.INSPIRE_ROLE + "resourceProvider")
    assert only(g, roles[Literal("Olsen, Are")], SKOS.prefLabel) == Literal("collaborator")
    assert (d, DCTERMS.language, URIRef(jsonld.EU_LANGUAGE + "ENG")) in g
    assert only(g, only(g, d, SDO.provider), SDO.name) == Literal("ForM@Ter")


def test_dif_record_with_two_point_boxes_two_periods_and_investigators():
    """gcmd__dif_record.xml: two Spatial_Coverage points, two Temporal_Coverage, Detailed_Location
    CODE STRAIT, two Investigators (one also Technical Contact, with two e-mails)."""
    record = CORPUS["dif/gcmd__dif_record.xml"]
    g, d = dataset(record)
    boxes = {o for place in g.objects(d, DCTERMS.spatial) for o in g.objects(place, DCAT.bbox)}
    assert boxes == {
        Literal("POLYGON((35 75, 35 75, 35 75, 35 75, 35 75))", datatype=GSP.wktLiteral),
        Literal("POLYGON((75 35, 75 35, 75 35, 75 35, 75 35))", datatype=GSP.wktLiteral),
    }
    assert {o for place in g.objects(d, DCTERMS.spatial) for o in g.objects(place, SKOS.prefLabel)} == {
        Literal("CODE STRAIT")
    }
    # Stop_Date "2012-08-1" is read as 2012-08-01
    assert set(g.objects(d, SDO.temporalCoverage)) == {
        Literal("2012-07-28/2012-08-01"),
        Literal("2012-08-05/2012-08-07"),
    }
    card = only(g, d, DCAT.contactPoint)
    assert only(g, card, VCARD.fn) == Literal("R Dux")
    assert set(g.objects(card, VCARD.hasEmail)) == {
        URIRef("mailto:rdux@test.to"),
        URIRef("mailto:rdux.test@account.to"),
    }
    names = [only(g, c, SDO.name) for c in g.items(only(g, d, SDO.creator))]
    assert names[:2] == [Literal("R Dux"), Literal("Cnrd H")]
    assert only(g, only(g, d, SDO.provider), SDO.name) == Literal("AERIS")


def test_stac_collection_keeps_followable_links_only():
    """pystac__landsat-collection-example.json: three cite-as DOIs, license proprietary with a
    rel=license link, a describedby page, an items link, a thumbnail asset and an abfs:// asset."""
    record = CORPUS["stac/pystac__landsat-collection-example.json"]
    g, d = dataset(record)
    assert (d, RDF.type, DCAT.Dataset) in g  # a STAC collection is a dataset
    assert (d, OWL.sameAs, URIRef("https://doi.org/10.5066/p9iaxovv")) in g
    others = {only(g, i, SKOS.notation) for i in g.objects(d, ADMS.identifier)}
    assert others == {Literal("10.5066/p9c7i13b"), Literal("10.5066/p9ogbgm6")}
    licence = URIRef("https://www.usgs.gov/core-science-systems/hdds/data-policy")
    assert (d, DCTERMS.license, licence) in g
    pages = set(g.objects(d, FOAF.page))
    assert (
        pages
        == set(g.objects(d, SDO.url))
        == {
            URIRef("https://planetarycomputer.microsoft.com/dataset/landsat-c2-l2"),
            URIRef("https://planetarycomputer.microsoft.com/api/stac/v1/collections/landsat-c2-l2/items"),
        }
    )
    assert not list(g.objects(d, DCAT.distribution))  # the only download asset is abfs://
    assert not [o for o in g.objects() if str(o).startswith("abfs:")]
    assert (d, SDO.temporalCoverage, Literal("1982-08-22T00:00:00Z/..")) in g
    assert set(g.objects(d, SDO.measurementTechnique)) == {Literal(i) for i in ("tm", "etm+", "oli", "tirs")}
    assert Literal("landsat-8") in set(g.objects(d, SDO.keywords))


def test_stac_item_assets_are_distributions_with_their_media_types():
    """stac-spec__core-item.json: analytic/visual/udm GeoTIFF assets, an ephemeris asset without a
    type, collection simple-collection, created 2020-12-12T01:48:13.725Z."""
    record = CORPUS["stac/stac-spec__core-item.json"]
    g, d = dataset(record)
    by_url = {only(g, dist, DCAT.downloadURL): dist for dist in g.objects(d, DCAT.distribution)}
    visual = by_url[URIRef("https://storage.googleapis.com/open-cogs/stac-examples/20201211_223832_CS2.tif")]
    assert only(g, visual, DCAT.mediaType) == URIRef(jsonld.IANA_MEDIA_TYPES + "image/tiff")
    assert only(g, visual, DCTERMS.title) == Literal("3-Band Visual")
    ephemeris = by_url[URIRef("http://cool-sat.com/catalog/20201211_223832_CS2/20201211_223832_CS2.EPH")]
    assert not list(g.objects(ephemeris, DCAT.mediaType)) and not list(g.objects(ephemeris, DCTERMS.format))
    downloads = {only(g, dd, SDO.contentUrl): dd for dd in g.objects(d, SDO.distribution)}
    assert set(downloads) == set(by_url)
    analytic = downloads[
        URIRef("https://storage.googleapis.com/open-cogs/stac-examples/20201211_223832_CS2_analytic.tif")
    ]
    assert only(g, analytic, SDO.encodingFormat) == Literal(
        "image/tiff; application=geotiff; profile=cloud-optimized"
    )
    parent = URIRef(jsonld.DEFAULT_BASE + record_id("demo", "simple-collection"))
    assert (d, DCTERMS.isPartOf, parent) in g
    # the crosswalk keeps whole seconds of created
    assert (d, SDO.dateCreated, Literal("2020-12-12T01:48:13Z", datatype=XSD.dateTime)) in g
    assert (d, SDO.measurementTechnique, Literal("cool_sensor_v1")) in g


def test_ogc_api_record_with_anchored_keywords_and_a_licence_link():
    """ogcapi-records__examples_json_record.json (WOUDC total ozone): externalIds WMO:WIS, themes with
    concept URLs, license other + rel=license, publisher WOUDC, a zip enclosure, time from 1924."""
    record = CORPUS["ogcapi-records/ogcapi-records__examples_json_record.json"]
    g, d = dataset(record)
    urn = "urn:x-wmo:md:int.wmo.wis::https://geo.woudc.org/def/data/ozone/total-column-ozone/totalozone"
    (value,) = (v for v in g.objects(d, SDO.identifier) if isinstance(v, BNode))
    assert only(g, value, SDO.propertyID) == Literal("WMO:WIS") and only(g, value, SDO.value) == Literal(urn)
    dobson = URIRef("https://geo.woudc.org/codelists.xml#WOUDC_InstrumentCode_dobson")
    assert (d, DCAT.theme, dobson) in g
    assert only(g, dobson, SKOS.inScheme) == URIRef(
        "https://geo.woudc.org/codelists.xml#WOUDC_InstrumentCode"
    )
    assert (d, DCTERMS.license, URIRef("https://woudc.org/about/data-policy.php")) in g
    publisher = only(g, d, DCTERMS.publisher)
    assert only(g, publisher, FOAF.name) == Literal("World Ozone and Ultraviolet Radiation Data Centre")
    assert (publisher, RDF.type, SDO.Person) in g  # given as the contact's "name", a person's in OARec
    assert only(g, publisher, SDO.url) == URIRef("https://woudc.org")
    zipped = URIRef("https://woudc.org/archive/Summaries/dataset-snapshots/totalozone.zip")
    (dist,) = (dist for dist in g.objects(d, DCAT.distribution) if (dist, DCAT.downloadURL, zipped) in g)
    assert only(g, dist, DCAT.mediaType) == URIRef(jsonld.IANA_MEDIA_TYPES + "application/zip")
    assert (d, SDO.temporalCoverage, Literal("1924-08-17T00:00:00Z/..")) in g
    assert only(g, only(g, d, SDO.provider), SDO.name) == Literal("AERIS")


def test_record_with_concepts_links_them_as_themes_and_defined_terms(enriched: dict[str, Record]):
    """pycsw__AVHRR.2011.7Agg.xml keywords "AVHRR" and "EARTH SCIENCE > OCEANS > OCEAN TEMPERATURE > SEA
    SURFACE TEMPERATURE" -> the GCMD instrument e64e83bd... (prefLabel AVHRR, gcmd-freeze__instruments.rdf)
    and science keyword bd24a9a9... ; the Data Terra themes ocean (Océan/Ocean, data-terra.ttl)."""
    record = enriched["iso19139/pycsw__AVHRR.2011.7Agg.xml"]
    g, d = dataset(record)
    avhrr = URIRef("https://gcmd.earthdata.nasa.gov/kms/concept/e64e83bd-02b3-4a47-830d-00e1aa4b04d3")
    sst = URIRef("https://gcmd.earthdata.nasa.gov/kms/concept/bd24a9a9-7d52-4c29-b2a0-6cefd216ae78")
    ocean = URIRef("https://w3id.org/data-terra/thesaurus/ocean")
    for concept in (avhrr, sst, ocean):
        assert (d, DCAT.theme, concept) in g and (d, SDO.keywords, concept) in g
        assert (concept, RDF.type, SKOS.Concept) in g and (concept, RDF.type, SDO.DefinedTerm) in g
    assert (avhrr, SKOS.prefLabel, Literal("AVHRR", lang="en")) in g
    instruments = URIRef("https://gcmd.earthdata.nasa.gov/kms/concepts/concept_scheme/instruments")
    assert (avhrr, SKOS.inScheme, instruments) in g and (avhrr, SDO.inDefinedTermSet, instruments) in g
    assert (sst, SKOS.prefLabel, Literal("SEA SURFACE TEMPERATURE", lang="en")) in g
    assert set(g.objects(ocean, SDO.name)) == {Literal("Ocean", lang="en"), Literal("Océan", lang="fr")}
    assert (ocean, SKOS.inScheme, URIRef("https://w3id.org/data-terra/thesaurus/")) in g
    assert (d, DCAT.keyword, Literal("AVHRR", lang="en")) in g


# --- links a browser cannot follow ---------------------------------------------------------------------


def test_only_followable_links_become_iris_and_unsafe_characters_are_encoded():
    """A real record given a javascript: linkage and a download URL with a space (both seen in harvested
    metadata): the first is dropped, the second percent-encoded, so that pyld and rdflib agree."""
    record = CORPUS["iso19139/pycsw__AVHRR.2011.7Agg.xml"]
    edited = msgspec.structs.replace(
        record,
        links=[
            Link(url="javascript:alert(1)", function="download"),
            Link(url="https://example.org/data/file one.nc", function="download"),
        ],
    )
    g, d = dataset(edited)
    assert set(g.objects(only(g, d, DCAT.distribution), DCAT.downloadURL)) == {
        URIRef("https://example.org/data/file%20one.nc")
    }
    assert isomorphic(g, pyld_graph(jsonld.document(edited)))


# --- GeoNetwork's ISO 19139 -> DCAT ------------------------------------------------------------------


def test_geonetwork_dcat_statements_are_in_our_graph():
    """GeoNetwork's DCAT formatter output for its test record: we compare values, not blank nodes.

    Not emitted, knowingly:
    - ``dct:type`` (DCMI type and ISO scope concepts), ``adms:status`` (onGoing), ``dcat:version``
      (edition), ``dct:accrualPeriodicity`` (irregular): the canonical Record has no such fields;
    - lineage as ``adms:versionNotes``: we give it as ``dct:provenance`` (the agreed shape);
    - the graphic overview as ``foaf:page``: it is an image, we give ``foaf:depiction``;
    - the ``landingpage`` linkage as a distribution: it is a landing page, we give ``foaf:page``;
    - otherConstraints "Open data (publiek)|<url>" as an ``dct:accessRights`` statement: our crosswalk
      reads it as the licence, so the URL is our ``dct:license``;
    - the CatalogRecord's title, description and identifier, and ``xsd:string``/``@nl`` on identifiers
      and names (we compare lexical values);
    - ``org:memberOf`` (we give the organisation as ``schema:affiliation``).
    We add what GeoNetwork leaves out: the metadata point of contact as ``dcat:contactPoint``, the
    distributor as a qualified attribution, the use limitation as ``dct:rights``.
    """
    expected = Graph().parse(GN_EXPECTED, format="xml")
    e = expected.value(predicate=RDF.type, object=DCAT.Dataset, any=False)
    record = formats.get("iso19139").to_record(
        RawRecord("demo", "iso19139", GN_INPUT.read_bytes()), pole="odatis"
    )
    g, d = dataset(record)

    def same(predicate: URIRef) -> None:
        assert set(g.objects(d, predicate)) == set(expected.objects(e, predicate)), predicate

    for predicate in (DCTERMS.title, DCTERMS.description, DCAT.keyword, DCTERMS.modified, DCTERMS.language):
        same(predicate)
    assert {str(v) for v in expected.objects(e, DCTERMS.identifier)} <= {
        str(v) for v in g.objects(d, DCTERMS.identifier)
    }

    (theirs,) = (
        v for place in expected.objects(e, DCTERMS.spatial) for v in expected.objects(place, DCAT.bbox)
    )
    ring = json.loads(theirs)["coordinates"][0]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    (ours,) = (v for place in g.objects(d, DCTERMS.spatial) for v in g.objects(place, DCAT.bbox))
    assert wkt_box(str(ours)) == (min(lons), min(lats), max(lons), max(lats))

    def period(graph: Graph, node: Any) -> set[tuple[Any, Any]]:
        return {(p, o) for t in graph.objects(node, DCTERMS.temporal) for p, o in graph.predicate_objects(t)}

    assert period(g, d) == period(expected, e)

    def by_role(graph: Graph, node: Any) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for attribution in graph.objects(node, PROV.qualifiedAttribution):
            role = re.split(r"[#/]", str(graph.value(attribution, DCAT.hadRole)))[-1]
            found.setdefault(role, set()).add(
                str(graph.value(graph.value(attribution, PROV.agent), FOAF.name))
            )
        return found

    assert by_role(expected, e).items() <= by_role(g, d).items()
    holders = {str(expected.value(h, FOAF.name)) for h in expected.objects(e, DCTERMS.rightsHolder)}
    assert holders == {str(g.value(h, FOAF.name)) for h in g.objects(d, DCTERMS.rightsHolder)}
    card = only(g, d, DCAT.contactPoint)  # the metadata contact (gmd:contact), which GeoNetwork leaves out
    assert only(g, card, VCARD.hasEmail) == URIRef("mailto:GIS@provincie-utrecht.nl")

    (statement,) = (
        str(v)
        for rights in expected.objects(e, DCTERMS.accessRights)
        for v in expected.objects(rights, DCTERMS.description)
    )
    assert str(only(g, d, DCTERMS.license)) in statement

    def services(graph: Graph, node: Any) -> set[tuple[Any, ...]]:
        return {
            (
                graph.value(dist, DCAT.accessURL),
                graph.value(service, DCAT.endpointURL),
                graph.value(service, DCTERMS.conformsTo),
                str(graph.value(service, DCTERMS.title)),
            )
            for dist in graph.objects(node, DCAT.distribution)
            for service in graph.objects(dist, DCAT.accessService)
        }

    assert services(g, d) == services(expected, e)
    landing = {
        expected.value(dist, DCAT.accessURL)
        for dist in expected.objects(e, DCAT.distribution)
        if not list(expected.objects(dist, DCAT.accessService))
    }
    assert landing == set(g.objects(d, FOAF.page))

    their_entry = expected.value(e, FOAF.isPrimaryTopicOf)
    our_entry = only(g, d, FOAF.isPrimaryTopicOf)
    assert g.value(our_entry, DCTERMS.modified) == expected.value(their_entry, DCTERMS.modified)
    assert (our_entry, RDF.type, DCAT.CatalogRecord) in g
