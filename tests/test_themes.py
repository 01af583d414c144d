"""Records placed under the Data Terra themes (``thesaurus.themes``), with the shipped vocabularies and
real records of tests/data.

The rule is the one ``config/thesauri/data-terra.README.md`` states: themes whose exact, close or narrow
match is one of the record's concepts (or an ancestor of one), else the compartments of themes broadly
matching one, else the compartment of the record's pole. Each expected theme below was traced by hand in
``data-terra.ttl`` (the mapping line is quoted) from the keyword in the record's file.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from catalogue.record import Keyword, Record
from harvester import formats
from harvester.formats import Rejected
from harvester.raw import RawRecord
from harvester.source import POLES
from tests.fixtures.corpus import FORMAT_DIRS
from thesaurus import Thesaurus
from thesaurus.themes import SCHEME

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
THESAURI = ROOT / "config" / "thesauri"
GCMD = "https://gcmd.earthdata.nasa.gov/kms/concept/"
INSPIRE = "http://inspire.ec.europa.eu/theme/"
@pytest.fixture(scope="module")
def thesaurus(tmp_path_factory: pytest.TempPathFactory) -> Thesaurus:
    paths = [*sorted(THESAURI.glob("*.rdf")), THESAURI / "data-terra.ttl"]
    return Thesaurus.load(paths, cache_dir=tmp_path_factory.mktemp("thesaurus-cache"))


def record_of(directory: str, name: str, pole: str | None = None) -> Record:
    crosswalk = formats.get(FORMAT_DIRS[directory])
    path = DATA / directory / name
    raw = RawRecord(source_id="demo", format=crosswalk.name, content=path.read_bytes(), locator=str(path))
    return crosswalk.to_record(raw, pole=pole)


def themes(record: Record) -> dict[str, list[str]]:
    """The record's Data Terra themes by slug, with what placed each."""
    return {c.uri.removeprefix(SCHEME): c.via for c in record.concepts if c.uri.startswith(SCHEME)}


def test_an_inspire_theme_places_the_record_under_the_themes_mapped_to_it(thesaurus: Thesaurus) -> None:
    # dc:subject "Oceanographic geographical features" is INSPIRE theme "of";
    # data-terra.ttl: ocean `skos:narrowMatch inspire:of`, physical-oceanography `skos:closeMatch inspire:of`.
    record, _ = thesaurus.enrich(record_of("dc", "b2find__172e6ae7-4df3-547b-9c56-70aea1de2795.xml"))
    placed = themes(record)
    assert INSPIRE + "of" in placed["physical-oceanography"]
    assert INSPIRE + "of" in placed["ocean"]
    # a theme carries its place in the Data Terra tree, for hierarchical facets
    theme = next(c for c in record.concepts if c.uri == SCHEME + "physical-oceanography")
    assert theme.ancestors == [SCHEME + "ocean"]
    assert {"Océan", "Ocean"} <= set(theme.ancestor_labels)
    assert theme.labels == {"fr": "Océanographie physique", "en": "Physical oceanography"}


def test_a_narrower_gcmd_keyword_reaches_the_theme_through_its_ancestors(thesaurus: Thesaurus) -> None:
    # WCMP2 record: "EARTH SCIENCE > ATMOSPHERE > PRECIPITATION > ..." keywords; data-terra.ttl:
    # clouds-precipitation `skos:narrowMatch gcmd:1532e590-...`
    # (GCMD: EARTH SCIENCE > ATMOSPHERE > PRECIPITATION).
    record, _ = thesaurus.enrich(record_of("ogcapi-records", "pywcmp__wcmp2-passing.json"))
    placed = themes(record)
    assert placed["clouds-precipitation"] == [GCMD + "1532e590-a62d-46e3-8d03-2351bc48166a"]
    assert "atmosphere" in placed


def test_a_platform_places_a_satellite_collection_under_earth_observation(thesaurus: Thesaurus) -> None:
    # STAC summaries.platform "landsat-8" is GCMD platform LANDSAT (77d92504-...), itself under
    # "Earth Observation Satellites", which earth-observation has as `skos:closeMatch`.
    record, _ = thesaurus.enrich(record_of("stac-collection", "pystac__example-landsat8.json"))
    assert themes(record) == {"earth-observation": [GCMD + "77d92504-8160-4f72-90b9-a7c9640f4361"]}


def test_a_broad_keyword_gives_the_compartments_only(thesaurus: Thesaurus) -> None:
    # INSPIRE "Elevation" is only ever a broadMatch (seafloor and topography): the record goes under their
    # compartments, Ocean and Land surfaces, not under the narrower themes.
    record = record_of("dc", "b2find__172e6ae7-4df3-547b-9c56-70aea1de2795.xml")
    elevation = Keyword(label="Elevation", thesaurus="GEMET - INSPIRE themes, version 1.0")
    record, _ = thesaurus.enrich(msgspec.structs.replace(record, keywords=[elevation]))
    assert themes(record) == {"ocean": [INSPIRE + "el"], "land-surfaces": [INSPIRE + "el"]}


@pytest.mark.parametrize(
    ("pole", "compartment"),
    [("AERIS", "atmosphere"), ("ForM@Ter", "solid-earth"), ("ODATIS", "ocean"), ("THEIA", "land-surfaces")],
)
def test_a_record_whose_keywords_map_to_no_theme_goes_under_its_pole(
    thesaurus: Thesaurus, pole: str, compartment: str
) -> None:
    record = record_of("dc", "b2find__172e6ae7-4df3-547b-9c56-70aea1de2795.xml", pole=pole)
    record, _ = thesaurus.enrich(msgspec.structs.replace(record, keywords=[Keyword(label="Networks")]))
    assert themes(record) == {compartment: [f"pole:{pole}"]}


def test_without_a_pole_nor_a_mapped_keyword_there_is_no_theme(thesaurus: Thesaurus) -> None:
    record = record_of("dc", "b2find__172e6ae7-4df3-547b-9c56-70aea1de2795.xml")
    record, unmapped = thesaurus.enrich(msgspec.structs.replace(record, keywords=[Keyword(label="Networks")]))
    assert themes(record) == {}
    assert [k.label for k in unmapped] == ["Networks"]


def test_a_keyword_named_like_a_theme_maps_to_the_poles_vocabulary(thesaurus: Thesaurus) -> None:
    # "Aerosols" is the English prefLabel of both GCMD AEROSOLS and our theme: the keyword is GCMD's
    # concept, and the theme follows from it (aerosols `skos:exactMatch gcmd:2e5a401b-...`).
    aerosols = GCMD + "2e5a401b-1507-4f57-82b8-36557c13b154"
    assert thesaurus.match(Keyword(label="Aerosols")).uri == aerosols
    record = record_of("dc", "b2find__172e6ae7-4df3-547b-9c56-70aea1de2795.xml")
    record, _ = thesaurus.enrich(msgspec.structs.replace(record, keywords=[Keyword(label="Aérosols")]))
    assert [c.uri for c in record.concepts] == [aerosols, SCHEME + "aerosols", SCHEME + "atmosphere"]
    assert themes(record)["aerosols"] == [aerosols]


def test_ancestor_labels_travel_with_the_concept_for_search_expansion(thesaurus: Thesaurus) -> None:
    path = "EARTH SCIENCE > ATMOSPHERE > AEROSOLS > AEROSOL OPTICAL DEPTH/THICKNESS"
    record = record_of("dc", "b2find__172e6ae7-4df3-547b-9c56-70aea1de2795.xml")
    record, _ = thesaurus.enrich(msgspec.structs.replace(record, keywords=[Keyword(label=path)]))
    concept = record.concepts[0]
    assert concept.labels == {"en": "AEROSOL OPTICAL DEPTH/THICKNESS"}
    assert concept.ancestor_labels[:3] == ["AEROSOLS", "ATMOSPHERE", "EARTH SCIENCE"]
    assert "aerosols" in themes(record)


def test_every_record_of_a_pole_lands_under_a_theme(thesaurus: Thesaurus) -> None:
    """The promise facets rely on, over every real record of every format in tests/data."""
    checked = 0
    for directory in FORMAT_DIRS:
        for path in sorted((DATA / directory).iterdir()):
            if path.suffix not in (".xml", ".json"):
                continue
            for pole in POLES:
                try:
                    record = record_of(directory, path.name, pole=pole)
                except Rejected:
                    break
                record, _ = thesaurus.enrich(record)
                assert themes(record), f"{path.name} with pole {pole} is under no Data Terra theme"
                checked += 1
    assert checked > 100
