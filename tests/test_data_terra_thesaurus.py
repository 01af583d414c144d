"""The Data Terra thesaurus (`config/thesauri/data-terra.ttl`): a sound SKOS tree whose every mapping
points at a concept of one of the vocabulary files shipped beside it in `config/thesauri/`."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from functools import cache
from pathlib import Path

import pytest
from rdflib import DCTERMS, FOAF, RDF, SKOS, Graph, Literal, URIRef

from harvester.source import POLES

THESAURI = Path(__file__).resolve().parent.parent / "config" / "thesauri"
DATA_TERRA = THESAURI / "data-terra.ttl"

DT = "https://w3id.org/data-terra/thesaurus/"
SCHEME = URIRef(DT)
COMPARTMENTS = {URIRef(DT + s) for s in ("atmosphere", "solid-earth", "ocean", "land-surfaces")}
CROSS_CUTTING = {URIRef(DT + s) for s in ("earth-observation", "in-situ-observation", "models")}
DC_URI = URIRef("http://purl.org/dc/elements/1.1/uri")  # rdflib's closed DC namespace has no `uri`
XSD_DATE = URIRef("http://www.w3.org/2001/XMLSchema#date")
MAPPINGS = (SKOS.exactMatch, SKOS.closeMatch, SKOS.narrowMatch, SKOS.broadMatch, SKOS.relatedMatch)

GCMD = "https://gcmd.earthdata.nasa.gov/kms/concept/"
SCIENCE_KEYWORDS = "gcmd-freeze__sciencekeywords.rdf"
PLATFORMS = "gcmd-freeze__platforms.rdf"
EARTH_SCIENCE = URIRef(GCMD + "e9f67a66-e9fc-435c-b720-ae32a2c3d8f5")  # the parent of the GCMD topics
EU_DATA_THEMES = "http://publications.europa.eu/resource/authority/data-theme/"
ODATIS_THEMATIQUES = "https://vocab.ifremer.fr/collection/odatis_thematiques/"
GEMET_THEMES = "http://www.eionet.europa.eu/gemet/theme/"

# A mapping target's namespace names the shipped file(s) it must be a concept of.
VOCABULARIES = {
    GCMD: (SCIENCE_KEYWORDS, PLATFORMS),
    "http://inspire.ec.europa.eu/theme/": ("geonetwork__httpinspireeceuropaeutheme-theme.rdf",),
    GEMET_THEMES: ("geonetwork__gemet-theme.rdf",),
    EU_DATA_THEMES: ("geonetwork__data-theme-skos.rdf",),
    ODATIS_THEMATIQUES: ("sextant-gn__odatis_thematiques.rdf",),
    "https://w3id.org/formater/variable/": ("fmt-rdf-converter__fmt-variable2.rdf",),
}


@cache
def vocabulary(name: str) -> Graph:
    """A shipped vocabulary file, its relative `rdf:about` resolved against the base its scheme declares.

    GeoNetwork's GEMET themes file writes `rdf:about="theme/40"`; its scheme names GEMET in `dc:uri`
    (`http://www.eionet.europa.eu/gemet/about?langcode=en`), against which those read as GEMET's own theme
    URIs, `http://www.eionet.europa.eu/gemet/theme/40`. Left alone, rdflib would resolve them against the
    file's location.
    """
    path = THESAURI / name
    assert path.is_file(), f"{path} is missing: copy it unchanged from the project corpus (skos/{name})"
    graph = Graph()
    graph.parse(path, format="xml")
    local = path.parent.as_uri()
    if any(str(s).startswith(local) for s in graph.subjects(RDF.type, SKOS.Concept)):
        scheme = next(graph.subjects(RDF.type, SKOS.ConceptScheme))
        base = graph.value(scheme, DC_URI)
        graph = Graph()
        graph.parse(path, format="xml", publicID=str(base))
    return graph


def concepts_of(name: str) -> set[URIRef]:
    return {s for s in vocabulary(name).subjects(RDF.type, SKOS.Concept) if isinstance(s, URIRef)}


@pytest.fixture(scope="module")
def dt() -> Graph:
    graph = Graph()
    graph.parse(DATA_TERRA, format="turtle")
    return graph


@pytest.fixture(scope="module")
def concepts(dt: Graph) -> set[URIRef]:
    return set(dt.subjects(RDF.type, SKOS.Concept))


def texts(graph: Graph, subject: URIRef, predicate: URIRef, lang: str) -> list[str]:
    return [
        str(o) for o in graph.objects(subject, predicate) if isinstance(o, Literal) and o.language == lang
    ]


def test_one_concept_scheme_with_its_metadata(dt: Graph) -> None:
    assert list(dt.subjects(RDF.type, SKOS.ConceptScheme)) == [SCHEME]
    for predicate in (DCTERMS.title, DCTERMS.description):
        for lang in ("fr", "en"):
            assert len(texts(dt, SCHEME, predicate, lang)) == 1, (predicate, lang)
    created = dt.value(SCHEME, DCTERMS.created)
    assert isinstance(created, Literal) and created.datatype == XSD_DATE
    assert dt.value(SCHEME, DCTERMS.license) == URIRef("https://creativecommons.org/licenses/by/4.0/")
    creator = dt.value(SCHEME, DCTERMS.creator)
    assert (creator, RDF.type, FOAF.Organization) in dt
    assert str(dt.value(creator, FOAF.name)) == "Data Terra"


def test_every_concept_is_labelled_and_defined_in_french_and_english(
    dt: Graph, concepts: set[URIRef]
) -> None:
    assert len(concepts) >= 4 + 12
    for concept in concepts:
        assert str(concept).startswith(DT) and re.fullmatch(r"[a-z]+(-[a-z]+)*", str(concept)[len(DT) :])
        assert (concept, SKOS.inScheme, SCHEME) in dt, concept
        for lang in ("fr", "en"):
            labels = texts(dt, concept, SKOS.prefLabel, lang)
            assert len(labels) == 1 and labels[0].strip(), (concept, lang, labels)
            definitions = texts(dt, concept, SKOS.definition, lang)
            assert len(definitions) == 1 and len(definitions[0]) > 40, (concept, lang, definitions)
            assert labels[0] not in texts(dt, concept, SKOS.altLabel, lang), concept  # SKOS S13
        other = {
            o.language
            for p in (SKOS.prefLabel, SKOS.altLabel, SKOS.definition)
            for o in dt.objects(concept, p)
        }
        assert other <= {"fr", "en"}, (concept, other)


def test_labels_name_one_concept_each(dt: Graph, concepts: set[URIRef]) -> None:
    """A keyword matched by label must not hesitate between two Data Terra concepts."""
    owners: dict[tuple[str, str], set[URIRef]] = defaultdict(set)
    for concept in concepts:
        for predicate in (SKOS.prefLabel, SKOS.altLabel, SKOS.hiddenLabel):
            for label in dt.objects(concept, predicate):
                owners[(label.language or "", str(label).casefold())].add(concept)
    assert {key: c for key, c in owners.items() if len(c) > 1} == {}


def test_the_hierarchy_is_a_tree_under_the_compartments_and_the_cross_cutting_themes(
    dt: Graph, concepts: set[URIRef]
) -> None:
    tops = COMPARTMENTS | CROSS_CUTTING
    assert set(dt.objects(SCHEME, SKOS.hasTopConcept)) == tops
    assert set(dt.subjects(SKOS.topConceptOf, SCHEME)) == tops
    names = {label for c in COMPARTMENTS for label in texts(dt, c, SKOS.prefLabel, "en")}
    assert names == {"Atmosphere", "Solid Earth", "Ocean", "Land surfaces"}
    broader = {(c, b) for c, b in dt.subject_objects(SKOS.broader)}
    narrower = {(c, n) for c, n in dt.subject_objects(SKOS.narrower)}
    assert {(b, c) for c, b in broader} == narrower  # narrower is exactly the inverse of broader
    for concept in concepts:
        parents = list(dt.objects(concept, SKOS.broader))
        if concept in tops:
            assert parents == [], concept
            continue
        assert len(parents) == 1 and parents[0] in concepts, (concept, parents)  # a tree: one parent
        seen = [concept]
        while seen[-1] not in tops:  # walks up to a top concept, never round a cycle
            seen.append(dt.value(seen[-1], SKOS.broader))
            assert seen[-1] not in seen[:-1], seen
    for compartment in COMPARTMENTS:
        assert len(list(dt.objects(compartment, SKOS.narrower))) >= 3, compartment


def test_notations_are_short_and_unique(dt: Graph, concepts: set[URIRef]) -> None:
    notations = []
    for concept in concepts:
        values = [str(o) for o in dt.objects(concept, SKOS.notation)]
        assert len(values) == 1 and re.fullmatch(r"[A-Z]{2,6}(-[A-Z]{2,6})?", values[0]), (concept, values)
        notations.append(values[0])
    assert [n for n, count in Counter(notations).items() if count > 1] == []
    for concept in concepts:  # a theme's code starts with its compartment's
        parent = dt.value(concept, SKOS.broader)
        if parent is not None:
            assert str(dt.value(concept, SKOS.notation)).startswith(
                str(dt.value(parent, SKOS.notation)) + "-"
            )


def test_every_mapping_target_is_a_concept_of_a_shipped_vocabulary(dt: Graph) -> None:
    missing = []
    count = 0
    for predicate in MAPPINGS:
        for concept, target in dt.subject_objects(predicate):
            count += 1
            files = [f for prefix, f in VOCABULARIES.items() if str(target).startswith(prefix)]
            if len(files) != 1:
                missing.append((concept, predicate, target, "no shipped vocabulary has this namespace"))
            elif not any(target in concepts_of(name) for name in files[0]):
                missing.append((concept, predicate, target, f"not a concept of {', '.join(files[0])}"))
    assert count > 100
    assert missing == []


def test_the_gemet_theme_targets_are_gemet_own_theme_uris() -> None:
    """The relative GEMET theme ids resolve to the theme URIs of GEMET itself, which records cite."""
    themes = concepts_of("geonetwork__gemet-theme.rdf")
    assert len(themes) == 40
    assert all(re.fullmatch(re.escape(GEMET_THEMES) + r"\d+", str(t)) for t in themes)
    assert themes <= concepts_of("util-gemet__gemet-fr.rdf")  # the full GEMET file names them the same


def test_pole_themes_map_to_gcmd_science_keywords(dt: Graph, concepts: set[URIRef]) -> None:
    science_keywords = concepts_of(SCIENCE_KEYWORDS)
    gcmd = science_keywords | concepts_of(PLATFORMS)

    def targets(concept: URIRef, predicates=MAPPINGS) -> set[URIRef]:
        return {t for p in predicates for t in dt.objects(concept, p)}

    for concept in concepts - COMPARTMENTS - CROSS_CUTTING:
        assert targets(concept) & science_keywords, concept
    for compartment in COMPARTMENTS:  # a GCMD topic (ATMOSPHERE, OCEANS, ...) and an EU data theme
        equivalent = targets(compartment, (SKOS.exactMatch, SKOS.closeMatch, SKOS.narrowMatch))
        topics = {
            t
            for t in equivalent & science_keywords
            if vocabulary(SCIENCE_KEYWORDS).value(t, SKOS.broader) == EARTH_SCIENCE
        }
        assert topics, compartment
        assert any(str(t).startswith(EU_DATA_THEMES) for t in dt.objects(compartment, SKOS.broadMatch)), (
            compartment
        )
    for theme in CROSS_CUTTING:
        assert targets(theme) & gcmd, theme


def test_ocean_is_broader_than_every_odatis_thematique(dt: Graph) -> None:
    thematiques = concepts_of("sextant-gn__odatis_thematiques.rdf")
    assert len(thematiques) == 7
    assert set(dt.objects(URIRef(DT + "ocean"), SKOS.narrowMatch)) >= thematiques


def test_mappings_do_not_contradict_each_other(dt: Graph) -> None:
    by_pair: dict[tuple[URIRef, URIRef], list[URIRef]] = defaultdict(list)
    for predicate in MAPPINGS:
        for concept, target in dt.subject_objects(predicate):
            by_pair[(concept, target)].append(predicate)
    assert {pair: p for pair, p in by_pair.items() if len(p) > 1} == {}  # one relation per pair (SKOS S46)
    exact: dict[URIRef, set[URIRef]] = defaultdict(set)
    for concept, target in dt.subject_objects(SKOS.exactMatch):
        exact[target].add(concept)
    # exactMatch is transitive: two of our concepts exactly matching one target would be one concept
    assert {t: c for t, c in exact.items() if len(c) > 1} == {}


def test_each_pole_names_its_compartment(dt: Graph) -> None:
    """The configured `pole:` of a source finds its compartment (the last resort for an unmapped record)."""
    for pole in POLES:
        owners = {c for c in dt.subjects(SKOS.hiddenLabel, Literal(pole))}
        assert len(owners) == 1 and owners <= COMPARTMENTS, (pole, owners)
