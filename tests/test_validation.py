"""SHACL validation of records (``catalogue.validation``) against the shapes shipped in
``catalogue/shapes``, on the real corpus records of every format.

What a result must say (its profile, path and message) is read in the shapes files here with rdflib,
independently of the code under test. The edge cases are real records with one element removed, or
the real RDF of a record with one statement changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path

import msgspec
import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, SH

from catalogue import fair, jsonld, quality, validation
from catalogue.record import Record, ShapeResult, ValidationReport
from harvester import formats
from harvester.formats import Rejected
from harvester.formats.iso19139 import ISO19139
from harvester.raw import RawRecord
from tests import crosswalk_checks as checks
from tests.test_datacite import OAI_RESPONSES, oai_records
from tests.test_ogcapi_records_format import corpus_records as ogcapi_inputs
from tests.test_stac import corpus_records as stac_inputs
from thesaurus import Thesaurus

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
ISO_DEMO = ROOT / "config" / "demo" / "records" / "iso19139"
THESAURI = ROOT / "config" / "thesauri"
PROFILES = {"dcat-ap-3", "google-dataset", "data-terra"}
DCAT = "http://www.w3.org/ns/dcat#"
SCHEMA = "https://schema.org/"

# Real ISO records the edge cases start from (config/demo/records/iso19139).
SHOM = "semic__multilingual-resource-description__input.xml"  # ocean model, INSPIRE theme "of" anchored
VICINITY = "geonetwork__vicinityMap.xml"  # abstract "Décrit les environs." (20 characters)
MARINE = "owslib__iso_keywords_anchor.xml"  # a box, a time period, useLimitation "CC-By 4.0"


# --- the corpus --------------------------------------------------------------------------------------
def raw_inputs() -> Iterator[tuple[str, RawRecord]]:
    """(name, raw record) of every corpus input of every format, as the format tests hand them over
    (STAC and OGC API pages split into their records, OAI-PMH responses into theirs)."""
    folders = {"iso19139": ISO_DEMO, "iso19115-3": DATA / "iso19115-3", "dc": DATA / "dc"}
    folders |= {"datacite": DATA / "datacite", "dif": DATA / "dif"}
    for name, folder in folders.items():
        for path in sorted(folder.glob("*.xml")):
            yield f"{name}/{path.name}", checks.raw_file(formats.get(name), path)
    for path in OAI_RESPONSES:
        for n, raw in enumerate(oai_records(path.name)):
            yield f"datacite/{path.name}#{n}", raw
    for name, content in stac_inputs():
        yield f"stac/{name}", checks.raw_bytes(formats.get("stac"), content)
    for name, content in ogcapi_inputs():
        yield f"ogcapi-records/{name}", checks.raw_bytes(formats.get("ogcapi-records"), content)


@cache
def corpus() -> tuple[list[str], list[Record]]:
    """The records of every input that is not rejected (rejections are the format tests' business)."""
    names, records = [], []
    for name, raw in raw_inputs():
        try:
            records.append(formats.get(raw.format).to_record(raw, pole="odatis"))
        except Rejected:
            continue
        names.append(name)
    return names, records


@pytest.fixture(scope="module")
def corpus_reports() -> list[ValidationReport]:
    """The whole corpus validated as one batch, as a harvest validates a page."""
    return validation.validate(corpus()[1])


def iso(name: str, *, pole: str | None = "odatis") -> Record:
    return ISO19139().to_record(checks.raw_file(ISO19139(), ISO_DEMO / name), pole=pole)


@pytest.fixture(scope="module")
def thesaurus(tmp_path_factory: pytest.TempPathFactory) -> Thesaurus:
    """The shipped thesauri, through a cache the session's modules share (test_fair loads them too)."""
    paths = [*sorted(THESAURI.glob("*.rdf")), THESAURI / "data-terra.ttl"]
    return Thesaurus.load(paths, cache_dir=tmp_path_factory.getbasetemp() / "shipped-thesauri-cache")


# --- what the shapes files say, read here ------------------------------------------------------------
@cache
def shapes_files() -> dict[str, Graph]:
    """profile -> the parsed file that declares it."""
    found = {}
    for path in sorted((ROOT / "catalogue" / "shapes").glob("*.ttl")):
        graph = Graph().parse(path, format="turtle")
        (ontology,) = graph.subjects(RDF.type, OWL.Ontology)
        found[str(graph.value(ontology, DCTERMS.identifier))] = graph
    return found


def path_name(graph: Graph, path: URIRef) -> str:
    """The property path as the file's own prefixes write it; an alternative as ``a|b``."""
    alternatives = graph.value(path, SH.alternativePath)
    if alternatives is not None:
        return "|".join(graph.namespace_manager.qname(p) for p in graph.items(alternatives))
    return graph.namespace_manager.qname(path)


@cache
def declared() -> dict[tuple[str, str], tuple[str, str]]:
    """(profile, message) -> (severity, path) of every property shape of every file."""
    found = {}
    for profile, graph in shapes_files().items():
        for shape in graph.subjects(SH.message, None):
            severity = str(graph.value(shape, SH.severity)).rsplit("#", 1)[1].lower()
            found[(profile, str(graph.value(shape, SH.message)))] = (
                severity,
                path_name(graph, graph.value(shape, SH.path)),
            )
    return found


def messages(profile: str, path: str, severity: str = "violation") -> set[str]:
    """The messages the shapes files give the shapes of ``profile`` on ``path`` with ``severity`` (one
    per target class: a dataset, a series and a service each have their own)."""
    return {m for (p, m), (s, q) in declared().items() if (p, q, s) == (profile, path, severity)}


def violations(report: ValidationReport, profile: str, path: str) -> list[ShapeResult]:
    """The violations of ``profile`` on ``path`` in ``report``, checked to carry one of that shape's
    messages."""
    found = [r for r in report.results if (r.severity, r.profile, r.path) == ("violation", profile, path)]
    for result in found:
        assert result.message in messages(profile, path), result
    return found


# --- the shapes files --------------------------------------------------------------------------------
def test_the_three_profiles_are_declared_once_each():
    assert set(shapes_files()) == PROFILES
    assert validation.profiles() == sorted(PROFILES)


def test_every_shape_has_a_severity_and_a_message():
    for profile, graph in shapes_files().items():
        property_shapes = set(graph.subjects(SH.path, None))
        assert property_shapes, profile
        for shape in property_shapes:
            assert graph.value(shape, SH.severity) in (SH.Violation, SH.Warning), (profile, shape)
            assert len(str(graph.value(shape, SH.message))) > 40, (profile, shape)


def test_the_shapes_version_is_a_digest_every_report_carries(corpus_reports: list[ValidationReport]):
    assert len(validation.SHAPES_VERSION) == 16 and int(validation.SHAPES_VERSION, 16) >= 0
    assert {report.shapes for report in corpus_reports} == {validation.SHAPES_VERSION}


def test_every_shape_has_something_to_check_in_the_corpus():
    """Each node shape's target class has instances in the corpus RDF: no shape is dead weight."""
    data = jsonld.graph_of(corpus()[1])
    for profile, graph in shapes_files().items():
        for shape, target in graph.subject_objects(SH.targetClass):
            assert next(data.subjects(RDF.type, target), None) is not None, (profile, shape, target)


# --- the whole corpus --------------------------------------------------------------------------------
def test_every_format_is_in_the_corpus():
    names = corpus()[0]
    assert {name.split("/")[0] for name in names} == {
        "iso19139", "iso19115-3", "dc", "datacite", "dif", "stac", "ogcapi-records",
    }  # fmt: skip


def test_every_corpus_record_gets_a_report_with_precise_results(corpus_reports: list[ValidationReport]):
    """One report per record, in order; conforms exactly when no violation; every result names its
    profile, the property path and severity its shape declares, and the shape's own message."""
    names, records = corpus()
    assert len(corpus_reports) == len(records)
    for name, report in zip(names, corpus_reports, strict=True):
        assert report.conforms == all(r.severity != "violation" for r in report.results), name
        for result in report.results:
            assert (result.profile, result.message) in declared(), (name, result)
            assert declared()[(result.profile, result.message)] == (result.severity, result.path), (
                name,
                result,
            )


def test_every_profile_finds_something_in_the_corpus(corpus_reports: list[ValidationReport]):
    assert {r.profile for report in corpus_reports for r in report.results} == PROFILES


def test_a_batch_gives_each_record_its_own_report(corpus_reports: list[ValidationReport]):
    """The first record of every format, validated alone, gets the report the batch gave it."""
    names, records = corpus()
    first = {}
    for index, name in enumerate(names):
        first.setdefault(name.split("/")[0], index)
    for index in first.values():
        assert validation.validate([records[index]]) == [corpus_reports[index]], names[index]


def test_results_on_other_nodes_name_them_once(corpus_reports: list[ValidationReport]):
    """A result about a distribution says which; twelve distributions lacking the same thing make one
    result naming the first and the count of the others."""
    foci = [r.focus for report in corpus_reports for r in report.results if r.focus]
    assert any(focus.startswith("dcat:Distribution http") for focus in foci)
    assert any(focus.endswith(" more)") for focus in foci)
    for report in corpus_reports:
        keys = [(r.severity, r.profile, r.message, r.path, r.focus is None) for r in report.results]
        assert len(keys) == len(set(keys))


# --- what each profile catches -------------------------------------------------------------------------
def test_a_record_without_description_violates_dcat_ap_and_google():
    raw = checks.edited_raw(ISO19139(), ISO_DEMO / SHOM, checks.removing("{*}abstract"))
    record = ISO19139().to_record(raw, pole="odatis")
    assert record.abstract is None
    (report,) = validation.validate([record])
    assert not report.conforms
    # SHOM is a series (hierarchyLevel series): the dcat:DatasetSeries shape's message
    (dcat,) = violations(report, "dcat-ap-3", "dct:description")
    assert dcat.focus is None and "series" in dcat.message
    (google,) = violations(report, "google-dataset", "schema:description")
    assert google.focus is None and "needs a description" in google.message
    (unedited,) = validation.validate([iso(SHOM)])
    assert not [r for r in unedited.results if r.path in ("dct:description", "schema:description")]


def test_a_short_description_violates_google_only():
    (report,) = validation.validate([iso(VICINITY)])
    google = [r for r in report.results if r.profile == "google-dataset" and r.severity == "violation"]
    assert [(r.path, r.focus) for r in google] == [("schema:description", None)]
    assert "50 to 5000 characters" in google[0].message
    assert violations(report, "dcat-ap-3", "dct:description") == []


def test_a_data_terra_theme_satisfies_the_data_terra_profile(thesaurus: Thesaurus):
    """SHOM's keywords cite the INSPIRE theme "Oceanographic geographical features", which the Data
    Terra thesaurus maps to its ocean themes; without a pole, the theme comes from the keywords alone.
    The plain and the enriched record share their id: validated together, each keeps its own report."""
    record = iso(SHOM, pole=None)
    enriched, _ = thesaurus.enrich(record)
    assert any(c.uri.startswith("https://w3id.org/data-terra/thesaurus/") for c in enriched.concepts)
    plain, rich = validation.validate([record, enriched])
    (theme,) = violations(plain, "data-terra", "dcat:theme")
    assert theme.focus is None and "No Data Terra theme" in theme.message
    assert not [r for r in rich.results if r.profile == "data-terra" and r.severity == "violation"]
    assert rich.conforms
    assert [plain, rich] == [validation.validate([record])[0], validation.validate([enriched])[0]]


def test_results_of_a_batch_go_to_the_right_records(thesaurus: Thesaurus):
    good, _ = thesaurus.enrich(iso(SHOM))
    bad = iso(VICINITY)
    reports = validation.validate([bad, good])
    assert reports[1].conforms and not reports[0].conforms
    assert reports == [validation.validate([bad])[0], validation.validate([good])[0]]


def test_datatype_shapes_catch_what_a_dcat_reader_cannot_read():
    """A record's own RDF with its box, start date and licence URL made plain text: each becomes a
    violation on the node that holds it. The record (Irish Marine Institute) has all three."""
    record = iso(MARINE)
    iri = jsonld.dataset_iri(record)
    data = jsonld.graph(record)
    bbox, start, licence = URIRef(DCAT + "bbox"), URIRef(DCAT + "startDate"), DCTERMS.license
    for predicate in (bbox, start, licence):
        (subject, value) = next(data.subject_objects(predicate))
        data.remove((subject, predicate, value))
        data.add((subject, predicate, Literal(str(value))))
    (before,) = validation.validate([record])
    (after,) = validation.validate_graph(data, [iri])
    new = [r for r in after.results if r not in before.results]
    assert {(r.profile, r.path, r.severity) for r in new} == {
        ("dcat-ap-3", "dcat:bbox", "violation"),
        ("dcat-ap-3", "dcat:startDate", "violation"),
        ("dcat-ap-3", "dct:license", "violation"),
    }
    foci = {r.path: r.focus for r in new}
    assert foci["dct:license"] is None  # the dataset itself
    assert foci["dcat:bbox"].startswith("dct:Location POLYGON")
    assert foci["dcat:startDate"].startswith("dct:PeriodOfTime")


def test_a_download_without_url_is_named():
    """A schema:DataDownload whose contentUrl is removed gets Google's warning on that node."""
    record = next(
        r for r in corpus()[1] if next(jsonld.graph(r).subjects(URIRef(SCHEMA + "contentUrl")), None)
    )
    data = jsonld.graph(record)
    download = next(data.subjects(URIRef(SCHEMA + "contentUrl")))
    data.remove((download, URIRef(SCHEMA + "contentUrl"), None))
    (report,) = validation.validate_graph(data, [jsonld.dataset_iri(record)])
    (found,) = [r for r in report.results if r.path == "schema:contentUrl"]
    assert (found.severity, found.profile) == ("warning", "google-dataset")
    assert found.focus is not None and found.focus.startswith("schema:DataDownload")


# --- quality -----------------------------------------------------------------------------------------
def test_quality_sets_both_reports_on_every_record_of_a_batch():
    records = [iso(SHOM), iso(VICINITY)]
    assessed = quality.assess(records)
    assert [msgspec.structs.replace(r, quality=None) for r in assessed] == records
    assert [r.quality.validation for r in assessed] == validation.validate(records)
    assert [r.quality.fair for r in assessed] == [fair.assess(r) for r in records]
