"""Reading one SKOS file into a compact ``Vocabulary``: the concepts with their labels and relations.

rdflib parses RDF/XML, Turtle and JSON-LD, but a parsed graph is slow to build (seconds for the 4 MB
GCMD and GEMET dumps) and slow to query per keyword. So a file is read once into plain structs that
keep only what keyword matching needs; ``thesaurus.cache`` stores them, ``thesaurus.index`` merges them.

What the real dumps taught:

- GeoNetwork's GEMET theme file has relative ``rdf:about="theme/40"`` and no ``xml:base``, so RDF
  would resolve it against wherever the file happens to be on disk. Relative URIs are resolved instead
  against the home page the concept scheme declares (``dc:uri``, ``foaf:homepage``), else against the
  scheme URI: the GEMET themes become ``http://www.eionet.europa.eu/gemet/theme/40``, the very URIs the
  GEMET concept dump uses for them.
- GCMD KMS dumps carry alternative names as ``gcmd:altLabel`` elements whose text is in a ``gcmd:text``
  attribute (an RDF blank node), not as ``skos:altLabel``.
- GEMET concepts carry no ``skos:inScheme``: a concept without one belongs to the file's only scheme.
- Broader and narrower are each often stated on one side only, so both directions are unioned.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import PurePath
from urllib.parse import urljoin

import msgspec
from rdflib import RDF, RDFS, SKOS, BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DC, DCTERMS, FOAF
from rdflib.term import Node

GCMD = Namespace("http://gcmd.gsfc.nasa.gov/kms#")
DC_URI = URIRef(str(DC) + "uri")  # not a Dublin Core term, but what GeoNetwork's GEMET exports use
MATCH_PROPERTIES = ("exactMatch", "closeMatch", "broadMatch", "narrowMatch", "relatedMatch")
# rdflib resolves relative references against this made-up base, so that they can be told apart and
# resolved again against the scheme's home (see the module docstring).
_RELATIVE = "http://relative.invalid/"
_FORMATS = {
    ".rdf": "xml",
    ".xml": "xml",
    ".owl": "xml",
    ".ttl": "turtle",
    ".jsonld": "json-ld",
    ".json": "json-ld",
    ".nt": "nt",
}


class Label(msgspec.Struct, array_like=True, frozen=True, order=True):
    """A label in a language (``""`` when the file gives none)."""

    lang: str
    text: str


class SkosConcept(msgspec.Struct, array_like=True):
    """One concept as the file describes it. URIs are absolute; lists are sorted (stable cache bytes)."""

    uri: str
    schemes: list[str]
    pref: list[Label]  # at most one per language
    alt: list[Label]  # skos:altLabel, gcmd:altLabel, and surplus prefLabels of a language
    hidden: list[Label]
    notations: list[str]
    broader: list[str]  # skos:broader, and the concepts that name this one skos:narrower
    narrower: list[str]
    matches: dict[str, list[str]]  # exactMatch, closeMatch, ... -> URIs


class Scheme(msgspec.Struct, array_like=True):
    """A concept scheme with the names a record may cite it by."""

    uri: str
    titles: list[str]  # dc/dcterms title, skos:prefLabel, rdfs:label
    identifiers: list[str]  # dc/dcterms identifier (GeoNetwork's short name, e.g. odatis_thematiques)


class Vocabulary(msgspec.Struct):
    """Everything keyword matching needs from one vocabulary file."""

    source: str  # the file's name, for messages
    sha256: str  # of the file's bytes: the cache key
    schemes: list[Scheme]
    concepts: list[SkosConcept]


def rdf_format(name: str, data: bytes) -> str:
    """The rdflib parser for a file: by extension, else by its first character."""
    known = _FORMATS.get(PurePath(name).suffix.lower())
    if known:
        return known
    start = data.lstrip()[:1]
    if start == b"<":
        return "xml"
    if start in (b"{", b"["):
        return "json-ld"
    return "turtle"


def parse(data: bytes, name: str) -> Vocabulary:
    """The vocabulary in ``data`` (the bytes of the file called ``name``); raises ``ValueError`` naming
    the file when rdflib cannot parse it."""
    graph = Graph()
    try:
        graph.parse(data=data, format=rdf_format(name, data), publicID=_RELATIVE)
    except Exception as exc:  # rdflib raises parser-specific errors (SAX, JSON, BadSyntax, ...)
        raise ValueError(f"{name}: not a readable RDF file ({exc})") from exc
    return _Reader(graph).vocabulary(name, hashlib.sha256(data).hexdigest())


class _Reader:
    """Walks one parsed graph; holds the base that relative URIs are resolved against."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.scheme_nodes = self._scheme_nodes()
        self.base = self._base()

    def vocabulary(self, name: str, sha256: str) -> Vocabulary:
        schemes = [self._scheme(node) for node in sorted(self.scheme_nodes)]
        default = [schemes[0].uri] if len(schemes) == 1 else []
        concepts = [self._concept(node, default) for node in sorted(self._concept_nodes())]
        return Vocabulary(source=name, sha256=sha256, schemes=schemes, concepts=concepts)

    def _scheme_nodes(self) -> set[URIRef]:
        g = self.graph
        nodes: set[Node] = set(g.subjects(RDF.type, SKOS.ConceptScheme))
        nodes.update(g.objects(None, SKOS.inScheme))
        nodes.update(g.objects(None, SKOS.topConceptOf))
        nodes.update(g.subjects(SKOS.hasTopConcept, None))
        return {n for n in nodes if isinstance(n, URIRef)}

    def _concept_nodes(self) -> set[URIRef]:
        g = self.graph
        nodes: set[Node] = set(g.subjects(RDF.type, SKOS.Concept))
        nodes.update(g.subjects(SKOS.inScheme, None))
        nodes.update(g.subjects(SKOS.topConceptOf, None))
        return {n for n in nodes if isinstance(n, URIRef) and n not in self.scheme_nodes}

    def _base(self) -> str | None:
        """The home page a scheme declares, else its URI as a folder: what relative URIs resolve to."""
        absolute = sorted(str(n) for n in self.scheme_nodes if not str(n).startswith(_RELATIVE))
        for scheme in absolute:
            for prop in (DC_URI, FOAF.homepage):
                for home in self.graph.objects(URIRef(scheme), prop):
                    if str(home).startswith(("http://", "https://")):
                        return str(home)
        return absolute[0].rstrip("/") + "/" if absolute else None

    def _uri(self, node: URIRef) -> str:
        text = str(node)
        if not text.startswith(_RELATIVE):
            return text
        relative = text[len(_RELATIVE) :]
        # Without any scheme to resolve against, the reference stays as written: still a usable key.
        return urljoin(self.base, relative) if self.base else relative

    def _uris(self, nodes: Iterable[Node]) -> list[str]:
        return sorted({self._uri(n) for n in nodes if isinstance(n, URIRef)})

    def _literals(self, node: Node, *props: URIRef) -> list[Label]:
        found = set()
        for prop in props:
            for value in self.graph.objects(node, prop):
                if isinstance(value, Literal) and str(value).strip():
                    found.add(Label(lang=(value.language or "").lower(), text=str(value).strip()))
        return sorted(found)

    def _scheme(self, node: URIRef) -> Scheme:
        titles = self._literals(node, DC.title, DCTERMS.title, SKOS.prefLabel, RDFS.label)
        identifiers = self._literals(node, DC.identifier, DCTERMS.identifier)
        return Scheme(
            uri=self._uri(node),
            titles=sorted({t.text for t in titles}),
            identifiers=sorted({i.text for i in identifiers}),
        )

    def _concept(self, node: URIRef, default_schemes: list[str]) -> SkosConcept:
        g = self.graph
        pref: list[Label] = []
        alt = set(self._literals(node, SKOS.altLabel))
        for label in self._literals(node, SKOS.prefLabel):  # sorted by language: surplus ones follow
            if pref and pref[-1].lang == label.lang:
                alt.add(label)
            else:
                pref.append(label)
        for holder in g.objects(node, GCMD.altLabel):
            if isinstance(holder, BNode):
                alt.update(self._literals(holder, GCMD.text))
        schemes = self._uris(
            [
                *g.objects(node, SKOS.inScheme),
                *g.objects(node, SKOS.topConceptOf),
                *g.subjects(SKOS.hasTopConcept, node),
            ]
        )
        matches = {}
        for name in MATCH_PROPERTIES:
            targets = self._uris(g.objects(node, SKOS[name]))
            if targets:
                matches[name] = targets
        return SkosConcept(
            uri=self._uri(node),
            schemes=schemes or default_schemes,
            pref=pref,
            alt=sorted(alt),
            hidden=self._literals(node, SKOS.hiddenLabel),
            notations=sorted({str(n).strip() for n in g.objects(node, SKOS.notation) if str(n).strip()}),
            broader=self._uris([*g.objects(node, SKOS.broader), *g.subjects(SKOS.narrower, node)]),
            narrower=self._uris([*g.objects(node, SKOS.narrower), *g.subjects(SKOS.broader, node)]),
            matches=matches,
        )
