"""SHACL validation of records' JSON-LD against the shapes we ship (``catalogue/shapes/*.ttl``).

Three profiles, one file each, each file naming its profile (``dct:identifier`` of its
``owl:Ontology``): ``dcat-ap-3`` (DCAT-AP 3.0.1 mandatory and recommended properties), ``google-dataset``
(what Google Dataset Search needs) and ``data-terra`` (what our own facets rely on).

Cost decides the design, because the harvest validates every record it indexes:
- the shapes files are read and parsed once per process (``_shapes``); pyshacl's own reading of the
  shapes from that graph, redone per run, costs about a millisecond;
- a batch is one pyshacl run over the union graph of its records (``jsonld.graph_of``), inference off,
  data graph validated in place; each result goes back to its record by its focus node: the dataset IRI
  itself, or a node reachable from it (distributions, locations, agents) or about it (the
  ``dcat:CatalogRecord`` whose ``foaf:primaryTopic`` it is). A node that several records share (a
  concept, a licence) belongs to each of them.

Within one record, results that differ only by their focus (twelve distributions without a licence) are
reported once, naming the first node and how many others: a report an administrator reads, not a dump.
``SHAPES_VERSION`` is a digest of the shapes files' bytes, stored in each report so that reports made
against older shapes can be found and redone.
"""

from __future__ import annotations

import hashlib
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pyshacl
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, FOAF, OWL, RDF, RDFS, SH
from rdflib.term import Node

from catalogue import jsonld
from catalogue.record import Record, ShapeResult, ValidationReport

SHAPES_DIR = Path(__file__).with_name("shapes")
SHAPES_FILES = tuple(sorted(SHAPES_DIR.glob("*.ttl")))
SHAPES_VERSION = hashlib.sha256(
    b"".join(p.name.encode() + b"\0" + p.read_bytes() for p in SHAPES_FILES)
).hexdigest()[:16]

_SEVERITIES = {SH.Violation: "violation", SH.Warning: "warning", SH.Info: "info"}
_PREFIXES = {
    "schema": "https://schema.org/",
    "dcat": "http://www.w3.org/ns/dcat#",
    "dcatap": "http://data.europa.eu/r5r/",
    "dct": str(DCTERMS),
    "foaf": str(FOAF),
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "locn": "http://www.w3.org/ns/locn#",
    "adms": "http://www.w3.org/ns/adms#",
    "prov": "http://www.w3.org/ns/prov#",
    "geodcatap": "http://data.europa.eu/930/",
    "gsp": "http://www.opengis.net/ont/geosparql#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "owl": str(OWL),
    "rdfs": str(RDFS),
}
_DCAT = Namespace(_PREFIXES["dcat"])
_SCHEMA = Namespace(_PREFIXES["schema"])
# What names a node in a message: the first of these it has.
_LABELS = (
    _DCAT.accessURL,
    _SCHEMA.contentUrl,
    _DCAT.endpointURL,
    DCTERMS.title,
    _SCHEMA.name,
    URIRef("http://www.w3.org/2006/vcard/ns#fn"),
    FOAF.name,
    RDFS.label,
    _DCAT.bbox,
    _DCAT.startDate,
)


@dataclass(frozen=True)
class _Shapes:
    """The shapes of every file in one graph, and the profile of every node of every file."""

    graph: Graph
    profiles: dict[Node, str]


_SHAPES_LOCK = threading.Lock()


def _shapes() -> _Shapes:
    """The shapes, loaded once per process. Under a lock: two threads validating at once (sources
    harvested in parallel) would each load a copy, and the blank nodes of one copy's results are not
    nodes of the other, which the cache may keep."""
    with _SHAPES_LOCK:
        return _load_shapes()


@cache
def _load_shapes() -> _Shapes:
    graph = Graph()
    profiles: dict[Node, str] = {}
    for path in SHAPES_FILES:
        part = Graph().parse(path, format="turtle")
        names = [
            str(n) for s in part.subjects(RDF.type, OWL.Ontology) for n in part.objects(s, DCTERMS.identifier)
        ]
        if len(names) != 1:
            raise ValueError(f"{path.name} must name its profile once (dct:identifier of its owl:Ontology)")
        profiles.update(dict.fromkeys(part.subjects(), names[0]))
        graph += part
    return _Shapes(graph, profiles)


def profiles() -> list[str]:
    """The profile names the shapes files declare, for a reader of the reports."""
    return sorted(set(_shapes().profiles.values()))


def validate(records: Sequence[Record]) -> list[ValidationReport]:
    """One report per record, in order: one SHACL run over the batch's union graph.

    Records that share an id (a source listing the same record twice in a page, two versions of one
    record) would share their dataset node in one graph: each repeat goes to a further run."""
    reports: dict[int, ValidationReport] = {}
    pending = list(range(len(records)))
    while pending:
        run: dict[str, int] = {}  # record id -> index of its first pending occurrence
        repeats = []
        for index in pending:
            if records[index].id in run:
                repeats.append(index)
            else:
                run[records[index].id] = index
        batch = [records[index] for index in run.values()]
        found = validate_graph(jsonld.graph_of(batch), [jsonld.dataset_iri(r) for r in batch])
        reports.update(zip(run.values(), found, strict=True))
        pending = repeats
    return [reports[index] for index in range(len(records))]


def validate_graph(data: Graph, datasets: Sequence[str]) -> list[ValidationReport]:
    """One report per dataset node of ``data`` (IRIs, in order), from one SHACL run over ``data``: the
    RDF of records, or any DCAT/schema.org graph whose datasets are known."""
    report = _run(data)
    owners = _owners(data, [URIRef(iri) for iri in datasets])
    found: list[dict[_Key, set[Node | None]]] = [defaultdict(set) for _ in datasets]
    for result in report.subjects(RDF.type, SH.ValidationResult):
        focus = report.value(result, SH.focusNode)
        key = _key(report, result)
        for index, dataset in owners.get(focus, ()):
            found[index][key].add(None if focus == dataset else focus)
    return [
        ValidationReport(
            conforms=not any(severity == "violation" for severity, *_ in results),
            shapes=SHAPES_VERSION,
            results=_results(results, data),
        )
        for results in found
    ]


def _run(data: Graph) -> Graph:
    """pyshacl on ``data`` with the process's shapes graph: in place, no inference, every result."""
    _, report, _ = pyshacl.validate(
        data, shacl_graph=_shapes().graph, inference="none", inplace=True, abort_on_first=False
    )
    return report


def _owners(data: Graph, datasets: list[URIRef]) -> dict[Node, list[tuple[int, URIRef]]]:
    """Every node of ``data`` -> the (index, dataset IRI) of the records it belongs to: the dataset, the
    nodes about it (``foaf:primaryTopic``) and every node reachable from those without passing through
    another record's dataset."""
    batch = set(datasets)
    owners: dict[Node, list[tuple[int, URIRef]]] = defaultdict(list)
    for index, dataset in enumerate(datasets):
        todo = [dataset, *data.subjects(FOAF.primaryTopic, dataset)]
        seen = set(todo)
        while todo:
            node = todo.pop()
            owners[node].append((index, dataset))
            for value in data.objects(node, None):
                if value not in seen and not isinstance(value, Literal) and value not in batch:
                    seen.add(value)
                    todo.append(value)
    return owners


_Key = tuple[str, str, str, str | None]  # severity, profile, message, path


def _key(report: Graph, result: Node) -> _Key:
    """What a result says, whatever its focus node: severity, profile, message and compact path."""
    severity = report.value(result, SH.resultSeverity)
    path = report.value(result, SH.resultPath)
    return (
        _SEVERITIES[severity],
        _shapes().profiles[report.value(result, SH.sourceShape)],
        str(report.value(result, SH.resultMessage) or ""),
        _path(report, path) if path is not None else None,
    )


def _compact(iri: Node) -> str:
    """``dct:title`` for ``http://purl.org/dc/terms/title``; an IRI of no known namespace stays whole."""
    text = str(iri)
    for prefix, namespace in _PREFIXES.items():
        if text.startswith(namespace):
            return f"{prefix}:{text[len(namespace) :]}"
    return text


def _path(graph: Graph, path: Node) -> str:
    """A SHACL property path in a compact form: ``schema:url|schema:sameAs`` for an alternative."""
    if isinstance(path, BNode):
        alternatives = graph.value(path, SH.alternativePath)
        if alternatives is not None:
            return "|".join(_compact(p) for p in graph.items(alternatives))
    return _compact(path)


def _describe(data: Graph, node: Node) -> str:
    """A node other than the dataset, as an administrator can find it: its types and what names it
    (a distribution's URL, an agent's name), or its IRI."""
    types = sorted(_compact(t) for t in data.objects(node, RDF.type))
    if isinstance(node, URIRef):
        name = str(node)
    else:
        name = next((str(v) for p in _LABELS for v in data.objects(node, p)), "")
    return " ".join(filter(None, [" ".join(types), name])) or str(node)


_SEVERITY_ORDER = {"violation": 0, "warning": 1, "info": 2}


def _results(found: dict[_Key, set[Node | None]], data: Graph) -> list[ShapeResult]:
    """One result per finding on the dataset node, and one per finding on other nodes naming the first
    of them and how many others; violations first, then by profile and path, so that reports read and
    compare stably."""
    out = []
    for (severity, profile, message, path), foci in found.items():
        if None in foci:
            out.append(ShapeResult(severity=severity, profile=profile, message=message, path=path))
        described = sorted(_describe(data, node) for node in foci if node is not None)
        if described:
            more = f" (and {len(described) - 1} more)" if len(described) > 1 else ""
            focus = described[0] + more
            out.append(
                ShapeResult(severity=severity, profile=profile, message=message, path=path, focus=focus)
            )
    return sorted(out, key=lambda r: (_SEVERITY_ORDER[r.severity], r.profile, r.path or "", r.focus or ""))
