"""The thesaurus against the real vocabularies shipped in ``config/thesauri`` and the real demo records.

Every expected concept URI below was read in the vocabulary file by hand (grep for the label, read the
``rdf:about``); concept counts are counted again here with lxml, independently of rdflib and of the code
under test. The load times, the enrichment time and the demo mapping rates are printed in the
run's "terracat reports" section.
"""

from __future__ import annotations

from pathlib import Path
from time import perf_counter

import pytest
import rdflib
from lxml import etree

from catalogue.record import Keyword, Record
from harvester import formats
from harvester.formats import Rejected
from harvester.raw import RawRecord
from thesaurus import Thesaurus
from thesaurus.cache import entry_path, load_vocabulary
from thesaurus.citations import title_key
from thesaurus.labels import fold, path_segments
from thesaurus.skos import Vocabulary, parse, rdf_format
from thesaurus.uris import uri_key

ROOT = Path(__file__).resolve().parent.parent
THESAURI = ROOT / "config" / "thesauri"
DEMO = ROOT / "config" / "demo" / "records" / "iso19139"
NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
}
# The files shipped, with their concept counts as DOMAIN.md §2 and the files' publishers give them.
SHIPPED = {
    "gcmd-freeze__sciencekeywords.rdf": 2000,  # truncated at one KMS page
    "gcmd-freeze__platforms.rdf": 992,
    "gcmd-freeze__instruments.rdf": 1779,
    "geonetwork__httpinspireeceuropaeutheme-theme.rdf": 34,
    "util-gemet__gemet-fr.rdf": 5570,
    "geonetwork__gemet-theme.rdf": 40,
    "sextant-gn__odatis_thematiques.rdf": 7,
    "sextant-gn__odatis_centre_donnees.rdf": 11,
    "fmt-rdf-converter__fmt-variable2.rdf": 32,
    "geonetwork__data-theme-skos.rdf": 14,
}
GCMD = "https://gcmd.earthdata.nasa.gov/kms/concept/"
GCMD_SCHEMES = "https://gcmd.earthdata.nasa.gov/kms/concepts/concept_scheme/"
GEMET = "http://www.eionet.europa.eu/gemet/"
GEMET_SCHEME = "http://geonetwork-opensource.org/gemet"
GEMET_THEMES_SCHEME = "http://geonetwork-opensource.org/gemet-theme"
INSPIRE = "http://inspire.ec.europa.eu/theme"
SST = GCMD + "bd24a9a9-7d52-4c29-b2a0-6cefd216ae78"  # EARTH SCIENCE > OCEANS > OCEAN TEMPERATURE > SST


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("thesaurus-cache")


@pytest.fixture(scope="session")
def cold_load(cache_dir: Path) -> tuple[Thesaurus, float]:
    """The shipped vocabularies parsed by rdflib (the cache is empty), and the seconds it took."""
    start = perf_counter()
    thesaurus = Thesaurus.load([THESAURI / name for name in SHIPPED], cache_dir=cache_dir)
    return thesaurus, perf_counter() - start


@pytest.fixture(scope="session")
def thesaurus(cold_load: tuple[Thesaurus, float]) -> Thesaurus:
    return cold_load[0]


def vocabulary(thesaurus: Thesaurus, name: str) -> Vocabulary:
    return next(v for v in thesaurus.vocabularies if v.source == name)


def described_concepts(path: Path) -> set[str]:
    """The ``rdf:about`` of the skos:Concept elements and of the rdf:Description typed skos:Concept."""
    about = etree.parse(str(path)).xpath(
        "//skos:Concept/@rdf:about | //rdf:Description[rdf:type/@rdf:resource = $concept]/@rdf:about",
        namespaces=NS,
        concept=NS["skos"] + "Concept",
    )
    return {str(a) for a in about}


def label_of(thesaurus: Thesaurus, uri: str, lang: str = "en") -> str:
    entry = thesaurus.concept(uri)
    assert entry is not None, uri
    return entry.pref[lang]


# --- loading ---------------------------------------------------------------------------------------
def test_every_shipped_vocabulary_file_has_a_readme_row():
    readme = (THESAURI / "README.md").read_text(encoding="utf-8")
    shipped = {p.name for p in THESAURI.glob("*.rdf")}
    assert shipped == set(SHIPPED)
    assert all(f"`{name}`" in readme for name in shipped)


@pytest.mark.parametrize("name", SHIPPED)
def test_each_file_loads_every_concept_it_describes(thesaurus: Thesaurus, name: str):
    loaded = vocabulary(thesaurus, name)
    described = described_concepts(THESAURI / name)
    assert len(described) == SHIPPED[name]
    assert len(loaded.concepts) == SHIPPED[name]
    assert all(c.schemes for c in loaded.concepts), "every concept belongs to a scheme"


def test_gemet_concepts_without_a_french_label_are_kept(thesaurus: Thesaurus):
    gemet = vocabulary(thesaurus, "util-gemet__gemet-fr.rdf")
    labelled = etree.parse(str(THESAURI / "util-gemet__gemet-fr.rdf")).xpath(
        "count(//skos:Concept[skos:prefLabel])", namespaces=NS
    )
    assert labelled == 5348
    assert sum(1 for c in gemet.concepts if c.pref) == 5348


def test_gcmd_alternative_names_in_gcmd_altlabel_attributes_are_read(thesaurus: Thesaurus):
    # <gcmd:altLabel gcmd:category="primary" gcmd:text="WorldView-110 camera" xml:lang="en"/>
    assert thesaurus.labelled(["WorldView-110 camera"]) == [GCMD + "001d8e8c-e9b1-4418-9941-f41321c2c500"]
    assert label_of(thesaurus, GCMD + "001d8e8c-e9b1-4418-9941-f41321c2c500") == "WV110"


def test_the_loaded_schemes_carry_their_titles(thesaurus: Thesaurus):
    schemes = {s.uri: s for v in thesaurus.vocabularies for s in v.schemes}
    assert schemes[INSPIRE].titles == ["GEMET - INSPIRE themes, version 1.0"]
    assert schemes["https://vocab.ifremer.fr/collection/odatis_thematiques"].identifiers == [
        "odatis_thematiques"
    ]
    assert GCMD_SCHEMES + "instruments" in schemes


@pytest.mark.parametrize("fmt, suffix", [("turtle", ".ttl"), ("json-ld", ".jsonld")])
@pytest.mark.filterwarnings(
    "ignore:ConjunctiveGraph is deprecated:DeprecationWarning"
)  # rdflib's JSON-LD parser
def test_turtle_and_json_ld_give_the_same_vocabulary_as_rdf_xml(tmp_path: Path, fmt: str, suffix: str):
    source = THESAURI / "fmt-rdf-converter__fmt-variable2.rdf"
    copy = tmp_path / f"fmt-variable2{suffix}"
    rdflib.Graph().parse(source, format="xml").serialize(copy, format=fmt)
    assert parse(copy.read_bytes(), copy.name).concepts == parse(source.read_bytes(), source.name).concepts


def test_the_format_of_a_file_without_a_known_extension_is_read_from_its_content():
    assert rdf_format("vocabulary.skos", b'\n  <?xml version="1.0"?><rdf:RDF/>') == "xml"
    assert rdf_format("vocabulary.skos", b'{"@context": {}}') == "json-ld"
    assert (
        rdf_format("vocabulary.skos", b"@prefix skos: <http://www.w3.org/2004/02/skos/core#> .") == "turtle"
    )


def test_a_file_that_is_not_rdf_is_refused_with_its_name():
    with pytest.raises(ValueError, match=r"README\.md"):
        parse((THESAURI / "README.md").read_bytes(), "README.md")


def test_our_own_turtle_thesaurus_loads_with_the_others(thesaurus: Thesaurus):
    path = THESAURI / "data-terra.ttl"
    graph = rdflib.Graph().parse(path, format="turtle")
    typed = {str(s) for s in graph.subjects(rdflib.RDF.type, rdflib.SKOS.Concept)}
    ours = load_vocabulary(path)
    assert typed and typed <= {c.uri for c in ours.concepts}
    together = Thesaurus([*thesaurus.vocabularies, ours])
    assert all(together.concept(uri) is not None for uri in typed)


# --- cache ----------------------------------------------------------------------------------------
def test_the_second_load_reads_the_cache_and_gives_the_same_index(cold_load, cache_dir: Path, report):
    thesaurus, cold_seconds = cold_load
    entries = {name: entry_path(cache_dir, (THESAURI / name).read_bytes()) for name in SHIPPED}
    assert all(entry.is_file() for entry in entries.values())
    stamps = {name: entry.stat().st_mtime_ns for name, entry in entries.items()}
    start = perf_counter()
    cached = Thesaurus.load([THESAURI / name for name in SHIPPED], cache_dir=cache_dir)
    cached_seconds = perf_counter() - start
    report(f"load of {len(SHIPPED)} vocabularies: cold {cold_seconds:.2f} s, cached {cached_seconds:.3f} s")
    assert cached.vocabularies == thesaurus.vocabularies
    assert len(cached) == len(thesaurus)
    # read, not written again: each entry is as the cold load left it
    assert {name: entry.stat().st_mtime_ns for name, entry in entries.items()} == stamps


def test_a_cache_entry_is_named_by_the_file_bytes_and_a_damaged_one_is_parsed_again(tmp_path: Path):
    source = THESAURI / "sextant-gn__odatis_thematiques.rdf"
    expected = load_vocabulary(source)
    assert load_vocabulary(source, tmp_path) == expected
    entry = entry_path(tmp_path, source.read_bytes())
    assert entry.name.startswith(expected.sha256)
    entry.write_bytes(b"not msgpack")
    assert load_vocabulary(source, tmp_path) == expected
    assert load_vocabulary(source, tmp_path) == expected  # the entry was rewritten


# --- URIs -----------------------------------------------------------------------------------------
def test_relative_gemet_theme_uris_resolve_to_the_themes_of_the_gemet_dump(thesaurus: Thesaurus):
    themes = {c.uri for c in vocabulary(thesaurus, "geonetwork__gemet-theme.rdf").concepts}
    tops = etree.parse(str(THESAURI / "util-gemet__gemet-fr.rdf")).xpath(
        "//skos:ConceptScheme/skos:hasTopConcept/@rdf:resource", namespaces=NS
    )
    assert themes == {str(t) for t in tops} - {GEMET + "themes"}
    water = thesaurus.concept(GEMET + "theme/40")
    assert water is not None
    assert (water.pref["en"], water.pref["fr"], water.pref["de"]) == ("water", "eau", "Wasser")
    assert sorted(water.schemes) == [GEMET_SCHEME, GEMET_THEMES_SCHEME]  # one concept, both files
    assert GEMET + "concept/5986" in water.narrower  # from the GEMET dump


def test_xml_base_of_each_concept_is_honoured(thesaurus: Thesaurus):
    geomagnetism = thesaurus.concept("https://w3id.org/formater/variable/geomagnetism")
    assert geomagnetism is not None
    assert geomagnetism.pref == {"en": "Geomagnetism", "fr": "Géomagnétisme"}
    assert geomagnetism.broader == ["https://w3id.org/formater/variable/solid_earth"]


def test_gcmd_concepts_are_found_by_their_old_and_new_hosts(thesaurus: Thesaurus):
    uuid = "bd24a9a9-7d52-4c29-b2a0-6cefd216ae78"
    for uri in (
        f"https://gcmd.earthdata.nasa.gov/kms/concept/{uuid}",
        f"http://gcmd.earthdata.nasa.gov/kms/concept/{uuid}/",
        f"https://gcmdservices.gsfc.nasa.gov/kms/concept/{uuid}",
        f"http://gcmdservices.gsfc.nasa.gov/kms/concept/{uuid.upper()}/",
    ):
        entry = thesaurus.concept(uri)
        assert entry is not None and entry.uri == SST, uri


def test_forMaTer_exact_matches_on_the_old_gcmd_host_reach_the_gcmd_concept(thesaurus: Thesaurus):
    geomagnetism = thesaurus.concept("https://w3id.org/formater/variable/geomagnetism")
    assert geomagnetism is not None
    # <skos:exactMatch rdf:resource="https://gcmdservices.gsfc.nasa.gov/kms/concept/910013d7-…"/>
    (match,) = geomagnetism.matches["exactMatch"]
    assert label_of(thesaurus, match) == "GEOMAGNETISM"


def test_inspire_and_nvs_uris_match_with_either_scheme_and_trailing_slash(thesaurus: Thesaurus):
    land_use = thesaurus.concept("https://inspire.ec.europa.eu/theme/lu/")
    assert land_use is not None and land_use.uri == INSPIRE + "/lu"
    nvs = "http://vocab.nerc.ac.uk/collection/P01/current/TEMPPR01/"
    assert uri_key(nvs) == uri_key("https://vocab.nerc.ac.uk/collection/P01/current/TEMPPR01")
    assert thesaurus.concept("https://inspire.ec.europa.eu/theme/nope") is None


def test_a_gemet_web_page_names_its_concept(thesaurus: Thesaurus):
    entry = thesaurus.concept("https://www.eionet.europa.eu/gemet/en/concept/4614")
    assert entry is not None and entry.uri == GEMET + "concept/4614"


# --- labels ---------------------------------------------------------------------------------------
def test_folding_ignores_case_accents_ligatures_apostrophes_and_spacing():
    assert fold("  Écologie  ") == fold("ECOLOGIE") == "ecologie"
    assert fold("hauteur d’eau") == "hauteur d'eau"
    assert fold("Œuvre\u00a0d'art") == "oeuvre d'art"


def test_labels_match_in_any_language_whatever_the_accents_and_case(thesaurus: Thesaurus):
    assert thesaurus.labelled(["ECOLOGIE"]) == [GEMET + "concept/2470"]  # fr "écologie"
    assert thesaurus.labelled(["Eau"], frozenset({GEMET_THEMES_SCHEME})) == [GEMET + "theme/40"]
    assert thesaurus.labelled(["WATER"], frozenset({GEMET_THEMES_SCHEME})) == [GEMET + "theme/40"]
    odatis = frozenset({"https://vocab.ifremer.fr/collection/odatis_thematiques"})
    remote_sensing = [
        "https://vocab.ifremer.fr/collection/odatis_thematiques/12891b96-b4a8-42b7-ba99-e51d0c753424"
    ]
    assert thesaurus.labelled(["teledetection"], odatis) == thesaurus.labelled(["remote SENSING"], odatis)
    assert thesaurus.labelled(["remote SENSING"], odatis) == remote_sensing
    assert thesaurus.labelled(["adressen"]) == [INSPIRE + "/ad"]  # the one German label of the file


def test_a_preferred_label_beats_an_alternative_one(thesaurus: Thesaurus):
    # GCMD gives ATMOSPHERE the altLabel "OCEANS"; the concept OCEANS is meant.
    assert thesaurus.labelled(["Oceans"]) == [GCMD + "91697b7d-8f2b-4954-850e-61d5f61c867d"]
    assert thesaurus.labelled(["lu"]) == [INSPIRE + "/lu"]  # INSPIRE codes are altLabels


def test_citation_titles_are_compared_without_version_and_punctuation():
    assert title_key("GEMET - INSPIRE themes, version 1.0") == "gemet inspire themes"
    assert title_key("GEMET Themes, version 2.3") == "gemet themes"
    assert title_key("NASA/Global Change Master Directory (GCMD) Science Keywords") == (
        "nasa global change master directory gcmd science keywords"
    )


@pytest.mark.parametrize(
    "citation, expected",
    [
        ({"thesaurus": "GEMET - INSPIRE themes, version 1.0"}, INSPIRE + "/so"),
        (
            {"thesaurus_uri": "geonetwork.thesaurus.external.theme.httpinspireeceuropaeutheme-theme"},
            INSPIRE + "/so",
        ),
        ({"thesaurus_uri": "http://www.eionet.europa.eu/gemet/inspire_themes"}, INSPIRE + "/so"),
        ({"thesaurus": "GEMET themes"}, GEMET + "theme/35"),
        ({"thesaurus_uri": "http://geonetwork-opensource.org/gemet-theme"}, GEMET + "theme/35"),
        ({"thesaurus": "GCMD Science Keywords"}, None),
        ({"thesaurus": "NASA/Global Change Master Directory (GCMD) Science Keywords"}, None),
    ],
)
def test_the_cited_thesaurus_picks_the_scheme_of_an_ambiguous_label(
    thesaurus: Thesaurus, citation: dict[str, str], expected: str | None
):
    soil = Keyword(label="Soil", **citation)
    found = thesaurus.match(soil)
    if expected is None:  # GCMD has "SOILS", no "Soil": a cited scheme is never left for another
        assert found.how == "none"
    else:
        assert (found.how, found.uri) == ("label", expected)


@pytest.mark.parametrize(
    "citation",
    [
        {"thesaurus": "NASA/Global Change Master Directory (GCMD) Science Keywords"},
        {"thesaurus_uri": GCMD_SCHEMES + "sciencekeywords"},
    ],
)
def test_gcmd_citations_pick_gcmd_among_gemet_and_gcmd_homonyms(
    thesaurus: Thesaurus, citation: dict[str, str]
):
    assert thesaurus.match(Keyword(label="agriculture")).how == "ambiguous"
    assert (
        thesaurus.match(Keyword(label="agriculture", **citation)).uri
        == GCMD + "a956d045-3b12-441c-8a18-fac7d33b2b4e"
    )


def test_without_a_citation_an_ambiguous_label_is_reported_not_guessed(thesaurus: Thesaurus):
    found = thesaurus.match(Keyword(label="soil"))
    assert found.how == "ambiguous" and found.uri is None
    assert set(found.uris) == {INSPIRE + "/so", GEMET + "theme/35"}


def test_a_geonetwork_registry_url_names_its_thesaurus(thesaurus: Thesaurus):
    cited = "https://geoportal.georhena.eu/geonetwork/srv/api/registries/vocabularies/external.theme.gemet"
    found = thesaurus.match(Keyword(label="tourisme", thesaurus_uri=cited))
    assert found.schemes == {GEMET_SCHEME}
    assert found.uri == GEMET + "concept/8522"  # not the theme "tourisme" above it (theme/29)


def test_an_anchor_into_a_vocabulary_not_loaded_is_not_guessed_from_its_label(thesaurus: Thesaurus):
    nvs = Keyword(label="Temperature", uri="http://vocab.nerc.ac.uk/collection/A05/current/EV_SEATEMP/")
    assert thesaurus.match(nvs).how == "none"
    assert thesaurus.match(Keyword(label="Temperature")).uri == GEMET + "concept/8366"


# --- GCMD paths -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "label",
    [
        "EARTH SCIENCE > OCEANS > OCEAN TEMPERATURE > SEA SURFACE TEMPERATURE",
        "Earth Science>Oceans>Ocean Temperature>Sea Surface Temperature>",
        "OCEANS > OCEAN TEMPERATURE > SEA SURFACE TEMPERATURE",
    ],
)
def test_gcmd_paths_are_walked_down_from_their_first_level(thesaurus: Thesaurus, label: str):
    assert thesaurus.match(Keyword(label=label)).uri == SST


def test_a_dif_category_topic_term_variable_path_resolves(thesaurus: Thesaurus):
    dif = Keyword(
        label="EARTH SCIENCE > ATMOSPHERE > AEROSOLS > AEROSOL OPTICAL DEPTH/THICKNESS",
        thesaurus="GCMD Science Keywords",
        thesaurus_uri=GCMD_SCHEMES + "sciencekeywords",
    )
    found = thesaurus.match(dif)
    assert (found.how, found.uri) == ("path", GCMD + "61c3b720-abc8-4430-866c-f1da35d2cd0b")


def test_a_path_tells_apart_concepts_a_label_cannot(thesaurus: Thesaurus):
    # Two GCMD concepts are labelled OCEAN TEMPERATURE: under OCEANS, and under MARINE ADVISORIES.
    assert thesaurus.match(Keyword(label="OCEAN TEMPERATURE")).how == "ambiguous"
    path = thesaurus.match(Keyword(label="EARTH SCIENCE > OCEANS > OCEAN TEMPERATURE"))
    assert path.uri == GCMD + "251c87cd-03b3-464f-8390-8ede2fec28fc"
    assert path_segments("OCEANS") is None
    assert thesaurus.match(Keyword(label="EARTH SCIENCE > OCEANS > NO SUCH TERM")).how == "none"


# --- ancestors ------------------------------------------------------------------------------------
def test_the_gemet_broader_cycle_is_in_the_file():
    # concept/2663 "émission" says both broader and narrower concept/625 "émission atmosphérique".
    tree = etree.parse(str(THESAURI / "util-gemet__gemet-fr.rdf"))
    emission = tree.xpath(f"//skos:Concept[@rdf:about='{GEMET}concept/2663']", namespaces=NS)[0]
    assert f"{GEMET}concept/625" in emission.xpath("skos:broader/@rdf:resource", namespaces=NS)
    assert f"{GEMET}concept/625" in emission.xpath("skos:narrower/@rdf:resource", namespaces=NS)


@pytest.mark.parametrize("concept, other", [("2663", "625"), ("625", "2663"), ("15125", "15046")])
def test_ancestors_end_on_the_gemet_cycle(thesaurus: Thesaurus, concept: str, other: str):
    ancestors = thesaurus.ancestors(f"{GEMET}concept/{concept}")
    assert f"{GEMET}concept/{other}" in ancestors
    assert f"{GEMET}concept/{concept}" not in ancestors
    assert len(ancestors) == len(set(ancestors))


def test_ancestors_follow_every_broader_chain_to_the_top(thesaurus: Thesaurus):
    assert [label_of(thesaurus, uri) for uri in thesaurus.ancestors(SST)] == [
        "OCEAN TEMPERATURE",
        "OCEANS",
        "EARTH SCIENCE",
        "Science Keywords",
    ]
    # "tourisme" is under three themes, themselves under the root "GEMET themes".
    assert thesaurus.ancestors(GEMET + "concept/8522") == [
        GEMET + "theme/29",
        GEMET + "theme/34",
        GEMET + "theme/9",
        GEMET + "themes",
    ]


# --- enrichment of the demo records ---------------------------------------------------------------
def demo_records() -> list[Record]:
    crosswalk = formats.get("iso19139")
    records = []
    for path in sorted(DEMO.glob("*.xml")):
        try:
            records.append(
                crosswalk.to_record(RawRecord(source_id="demo", format="iso19139", content=path.read_bytes()))
            )
        except Rejected:
            continue
    return records


def enriched(thesaurus: Thesaurus, name: str) -> tuple[Record, list[Keyword]]:
    raw = RawRecord(source_id="demo", format="iso19139", content=(DEMO / name).read_bytes())
    return thesaurus.enrich(formats.get("iso19139").to_record(raw))


def mapping(record: Record, thesaurus: Thesaurus) -> dict[str, str | None]:
    return {k.label: thesaurus.match(k).uri for k in record.keywords}


# Keyword -> concept, read in the record and in the vocabulary files by hand.
EXPECTED = {
    "b2find__65b17960-85fa-5733-8e28-62af33a8ba8e.xml": {
        "Environmental monitoring facilities": INSPIRE + "/ef",  # gmx:Anchor
        "wind throw": None,  # EnvThes, not loaded
    },
    "geonetwork-microserv__metadata-iso19139.xml": {
        "Sites protégés": INSPIRE + "/ps",  # anchor; the label is French, the file English
        "zones naturelles, paysages, écosystèmes": GEMET + "theme/23",  # GEMET themes, fr label
        "écologie": GEMET + "concept/2470",
        "Régional": None,  # anchor into INSPIRE SpatialScope, not loaded
        "Nature et environnement": None,  # Walloon geoportal themes, not loaded
    },
    "geonetwork__UpperRhineCastles-iso19139.xml": {
        "gestion patrimoniale": GEMET + "concept/11069",
        "tourisme": GEMET + "concept/8522",
        "Châteaux forts": None,
    },
    "geonetwork__multilingual-metadata.xml": {
        "Flughafen": GEMET + "concept/267",  # German label, French translation "aéroport"
        "Flugplatz": None,  # geocat.ch thesaurus
    },
    "semic__basic_dataset__input.xml": {
        "Land use": INSPIRE + "/lu",
        "land development": GEMET + "concept/4614",  # anchor to the GEMET web page …/gemet/en/concept/4614
        "National": None,
    },
    "pycsw__AVHRR.2011.7Agg.xml": {
        "EARTH SCIENCE > OCEANS > OCEAN TEMPERATURE > SEA SURFACE TEMPERATURE": SST,
        "AVHRR": GCMD + "e64e83bd-02b3-4a47-830d-00e1aa4b04d3",  # GCMD instrument
        "sea_surface_temperature": None,  # CF standard name
    },
    "geonetwork__inspire-valid-iso19139.xml": {"Adressen": INSPIRE + "/ad"},
}


@pytest.mark.parametrize("name", EXPECTED)
def test_demo_record_keywords_map_to_the_hand_checked_concepts(thesaurus: Thesaurus, name: str):
    record, unmapped = enriched(thesaurus, name)
    found = mapping(record, thesaurus)
    assert {label: found[label] for label in EXPECTED[name]} == EXPECTED[name]
    concept_uris = [c.uri for c in record.concepts]
    assert len(concept_uris) == len(set(concept_uris))
    assert set(concept_uris) == {uri for uri in found.values() if uri}
    assert [k.label for k in unmapped] == [label for label, uri in found.items() if uri is None]


def test_an_enriched_concept_carries_its_cited_scheme_labels_and_ancestors(thesaurus: Thesaurus):
    record, _ = enriched(thesaurus, "geonetwork-microserv__metadata-iso19139.xml")
    concepts = {c.uri: c for c in record.concepts}
    theme = concepts[GEMET + "theme/23"]
    assert theme.scheme == GEMET_THEMES_SCHEME  # the record cites "GEMET themes"
    assert theme.labels["fr"] == "zones naturelles, paysages, écosystèmes"
    assert theme.labels["en"] == "natural areas, landscape, ecosystems"
    ecology = concepts[GEMET + "concept/2470"]
    assert ecology.scheme == GEMET_SCHEME
    assert ecology.labels == {"fr": "écologie"}
    assert GEMET + "themes" in ecology.ancestors
    assert concepts[INSPIRE + "/ps"].scheme == INSPIRE


def test_enrichment_replaces_the_concepts_so_it_can_run_again(thesaurus: Thesaurus):
    record, unmapped = enriched(thesaurus, "pycsw__AVHRR.2011.7Agg.xml")
    again, unmapped_again = thesaurus.enrich(record)
    assert again == record and unmapped_again == unmapped


def test_demo_corpus_mapping_rates_and_enrichment_time(thesaurus: Thesaurus, report):
    records = demo_records()
    cited = [k for r in records for k in r.keywords if k.uri or k.thesaurus or k.thesaurus_uri]
    free = [k for r in records for k in r.keywords if not (k.uri or k.thesaurus or k.thesaurus_uri)]
    cited_mapped = sum(1 for k in cited if thesaurus.match(k).uri)
    held = [k for k in cited if thesaurus.citations.schemes(k) or (k.uri and thesaurus.concept(k.uri))]
    held_mapped = sum(1 for k in held if thesaurus.match(k).uri)
    free_mapped = sum(1 for k in free if thesaurus.match(k).uri)
    rounds = 20
    start = perf_counter()
    for _ in range(rounds):
        for record in records:
            thesaurus.enrich(record)
    per_record = (perf_counter() - start) / (rounds * len(records))
    summary = (
        f"demo corpus ({len(records)} records): cited or anchored keywords mapped {cited_mapped}/{len(cited)}"
        f" ({cited_mapped / len(cited):.0%}; {held_mapped}/{len(held)} of those citing a vocabulary loaded),"
        f" free keywords mapped {free_mapped}/{len(free)}"
        f" ({free_mapped / len(free):.0%}); enrich {per_record * 1e6:.0f} µs per record"
    )
    report(summary)
    assert cited_mapped / len(cited) > 0.3, summary
    # The misses: English GEMET labels (only the French GEMET is shipped), German INSPIRE theme names.
    assert held_mapped / len(held) > 0.75, summary
