"""The offline FAIR assessment (``catalogue.fair``) on real corpus records.

Each metric is checked on real records chosen because they pass or fail it; the comment says what in
the file decides it (read in the file by hand, not computed by the code under test). The score and level
arithmetic is checked on hand-counted weights, the licence recognition on the spellings the corpus and
the poles use.
"""

from __future__ import annotations

import time
from functools import cache
from pathlib import Path

import msgspec
import pytest

from catalogue import fair
from catalogue.fair import METRICS, WEIGHTS, assess, level, licence_name, score
from catalogue.record import Check, Record
from harvester import formats
from harvester.raw import RawRecord
from thesaurus import Thesaurus

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {
    "iso19139": ROOT / "config" / "demo" / "records" / "iso19139",
    "dc": ROOT / "tests" / "data" / "dc",
    "datacite": ROOT / "tests" / "data" / "datacite",
    "stac-collection": ROOT / "tests" / "data" / "stac-collection",
    "stac-item": ROOT / "tests" / "data" / "stac-item",
}
CROSSWALKS = {"stac-collection": "stac", "stac-item": "stac"}

# The records the checks below are read in (folder, file).
BONARES = ("iso19139", "pygeometa__707a02ac-9240-4a2d-afbd-395b69756534.xml")  # rich ISO record with a DOI
VICINITY = ("iso19139", "geonetwork__vicinityMap.xml")  # a GeoNetwork template: almost empty
CASTLES = ("iso19139", "geonetwork__UpperRhineCastles-iso19139.xml")
CEH = ("iso19139", "ckanext-spatial__04_Dataset_Valid.xml")
FORESTRY = ("iso19139", "ckanext-spatial__FCSConservancyPolygons.xml")
AVHRR = ("iso19139", "geonetwork__urnHMAEUMM02AVHxxx1B.xml")
CORINE = ("iso19139", "geonetwork__metadata.iso19139.xml")
SHOM = ("iso19139", "semic__multilingual-resource-description__input.xml")
MI = ("iso19139", "owslib__tests_resources_iso_mi.xml")
MULTILINGUAL = ("iso19139", "geonetwork__multilingual-metadata.xml")
GEOFON = ("datacite", "b2find__56347bce-8b50-51e9-9564-f99269b46c48.xml")
SEANOE = ("dc", "b2find__4aefaa20-ae37-5c89-bc7a-7574303850c3.xml")
CBERS_COLLECTION = ("stac-collection", "pystac__cbers-partial_CBERS4AWFI_collection.json")
CBERS_ITEM = ("stac-item", "pystac__CBERS_4_MUX_20181029_177_106_L4.json")
ENVISAT = ("stac-item", "pystac__envisat.json")


@cache
def record(folder: str, name: str) -> Record:
    crosswalk = formats.get(CROSSWALKS.get(folder, folder))
    path = FOLDERS[folder] / name
    raw = RawRecord(source_id="demo", format=crosswalk.name, content=path.read_bytes(), locator=str(path))
    return crosswalk.to_record(raw, pole="odatis")


@pytest.fixture(scope="module")
def thesaurus(tmp_path_factory: pytest.TempPathFactory) -> Thesaurus:
    """The shipped thesauri, through a cache the session's modules share (test_validation loads them)."""
    folder = ROOT / "config" / "thesauri"
    paths = [*sorted(folder.glob("*.rdf")), folder / "data-terra.ttl"]
    return Thesaurus.load(paths, cache_dir=tmp_path_factory.getbasetemp() / "shipped-thesauri-cache")


def check(source: tuple[str, str], metric: str) -> Check:
    return next(c for c in assess(record(*source)).checks if c.id == metric)


# --- every metric, on records that pass and records that fail it ---------------------------------------
CASES = [
    # F1-01MD: a DOI (citation identifier, gmd:code "https://doi.org/10.20387/bonares-1naq-dvww") is named
    # before the UUID fileIdentifier.
    ("FsF-F1-01MD", BONARES, True, "DOI"),
    # fileIdentifier "urn:HMA:EUM:M02::AVHxxx1B": a URN.
    ("FsF-F1-01MD", AVHRR, True, "URN 'urn:HMA:EUM:M02::AVHxxx1B'"),
    # fileIdentifier "test-record-04", citation identifier "1300392329603" (codeSpace CEH:EIDC:): local codes.
    ("FsF-F1-01MD", CEH, False, "'test-record-04'"),
    # STAC collection id "CBERS4AWFI", no sci:doi.
    ("FsF-F1-01MD", CBERS_COLLECTION, False, "'CBERS4AWFI'"),
    # DataCite identifier identifierType="DOI" 10.5880/GEOFON.gfz2012mfau.
    ("FsF-F1-02MD", GEOFON, True, "DOI '10.5880/geofon.gfz2012mfau'"),
    # fileIdentifier is a UUID (unique, not persistent) and the citation has no identifier.
    ("FsF-F1-02MD", CASTLES, False, "no DOI"),
    # author (Deutsche Saatveredelung AG), publisher (BonaRes Data Centre), publication date, DOI,
    # abstract, keywords.
    ("FsF-F2-01M", BONARES, True, "present"),
    # DataCite record without <subjects>: everything else of the citation is there.
    ("FsF-F2-01M", GEOFON, False, "missing keywords"),
    # only pointOfContact/owner parties and no citation identifier.
    (
        "FsF-F2-01M",
        CASTLES,
        False,
        "missing creator (author/originator/principal investigator), resource identifier",
    ),
    # transferOptions/onLine with a download link (maps.bonares.de).
    ("FsF-F3-01M", BONARES, True, "https://maps.bonares.de/"),
    # no distributionInfo at all.
    ("FsF-F3-01M", VICINITY, False, "no download link"),
    # the only linkages are "Server=fcspatialsv5; ..." (an SDE connection string) and a plain web page.
    ("FsF-F3-01M", FORESTRY, False, "no download link"),
    # asset hrefs of the ENVISAT item are relative file names: they locate nothing.
    ("FsF-F3-01M", ENVISAT, False, "no download link"),
    # the abstract is a paragraph: F4 passes by construction of terracat's JSON-LD.
    ("FsF-F4-01M", BONARES, True, "by construction"),
    # abstract "Décrit les environs." (20 characters): too short for Google.
    ("FsF-F4-01M", VICINITY, False, "20 characters"),
    # accessConstraints codeListValue="copyright".
    ("FsF-A1-01M", BONARES, True, "'copyright'"),
    # no access constraints, but useLimitation "Licence CC-BY - ©CeA ; ©GeoRhena".
    ("FsF-A1-01M", CASTLES, True, "CC-BY licence"),
    # no resourceConstraints at all.
    ("FsF-A1-01M", AVHRR, False, "no access constraints"),
    # the download link is https.
    ("FsF-A1.1-01MD", BONARES, True, "https"),
    # every band asset is an s3:// href; only the thumbnail is https.
    ("FsF-A1.1-01MD", CBERS_ITEM, False, "(s3)"),
    # nothing to check: no link, no DOI.
    ("FsF-A1.1-01MD", VICINITY, False, "no data link or DOI"),
    # the abstract is there: terracat's DCAT is valid, and it serves it.
    ("FsF-I1-01M", CEH, True, "by construction"),
    # STAC item without description.
    ("FsF-I1-01M", ENVISAT, False, "without a description"),
    # keywords anchored in the INSPIRE registry (inspire.ec.europa.eu/metadata-codelist/...).
    ("FsF-I2-01M", CORINE, True, "INSPIRE registry"),
    # every keyword anchor is AGROVOC (aims.fao.org), not among the registered namespaces.
    ("FsF-I2-01M", BONARES, False, "none from a registered vocabulary"),
    # free-text keywords only.
    ("FsF-I2-01M", CASTLES, False, "no keyword carries a vocabulary URI"),
    # parentIdentifier "someparentid".
    ("FsF-I3-01M", MI, True, "parent 'someparentid'"),
    # an online resource with function information (the ESRI REST service page).
    ("FsF-I3-01M", CORINE, True, "information link"),
    # WMS, WFS and a download, no information link, no parent.
    ("FsF-I3-01M", CASTLES, False, "no parent identifier"),
    # distributionFormat CSV.
    ("FsF-R1-01M", BONARES, True, "dataset delivered as CSV"),
    # no distributionInfo, no links.
    ("FsF-R1-01M", AVHRR, False, "without a distribution format"),
    # Licence Ouverte 2.0 cited with its etalab.gouv.fr anchor.
    ("FsF-R1.1-01M", SHOM, True, "etalab-2.0"),
    # "license": "CC-BY-SA-3.0".
    ("FsF-R1.1-01M", CBERS_COLLECTION, True, "CC-BY-SA-3.0"),
    # no licence anywhere in the record.
    ("FsF-R1.1-01M", VICINITY, False, "no licence"),
    # a lineage statement (dataQualityInfo/lineage).
    ("FsF-R1.2-01M", BONARES, True, "lineage"),
    # no lineage, but creator "geofon operator" and date dateType="Created" 2012-06-22.
    ("FsF-R1.2-01M", GEOFON, True, "creator and creation/publication date"),
    # gmi:acquisitionInformation with an MI_Platform and its MI_Instrument.
    ("FsF-R1.2-01M", MI, True, "platforms/instruments"),
    # no lineage, no acquisition information, no dated creator.
    ("FsF-R1.2-01M", MULTILINGUAL, False, "no lineage statement"),
    # ISO 19139.
    ("FsF-R1.3-01M", CORINE, True, "community-specific"),
    # Dublin Core: in the RDA catalogue, multidisciplinary.
    ("FsF-R1.3-01M", SEANOE, True, "multidisciplinary"),
    # distributionFormat NetCDF.
    ("FsF-R1.3-02D", SHOM, True, "'NetCDF'"),
    # distributionFormat "SDE Feature Class" and "Unknown": a proprietary database, no file format.
    ("FsF-R1.3-02D", FORESTRY, False, "'SDE Feature Class', 'Unknown'"),
]


@pytest.mark.parametrize(
    ("metric", "source", "passed", "reason"), CASES, ids=[f"{c[0]}-{c[1][1][:30]}-{c[2]}" for c in CASES]
)
def test_each_metric_on_a_record_that_passes_or_fails_it(
    metric: str, source: tuple[str, str], passed: bool, reason: str
):
    found = check(source, metric)
    assert found.passed is passed, found.reason
    assert reason in found.reason


def test_every_metric_has_a_passing_and_a_failing_case():
    """The table above covers each metric both ways (R1.3-01M fails on no real crosswalk output: its
    failing case is the next test)."""
    passing = {metric for metric, _, passed, _ in CASES if passed}
    failing = {metric for metric, _, passed, _ in CASES if not passed}
    assert passing == set(METRICS)
    assert failing == set(METRICS) - {"FsF-R1.3-01M"}


def test_an_unknown_native_format_is_no_community_standard():
    """A record whose provenance does not say its native format (a record from an unknown source)."""
    unknown = msgspec.structs.replace(record(*CORINE), provenance=None)
    found = next(c for c in assess(unknown).checks if c.id == "FsF-R1.3-01M")
    assert not found.passed
    assert "None is not a known community standard" in found.reason


def test_a_theme_from_the_pole_alone_is_no_vocabulary_term(thesaurus: Thesaurus):
    """FORESTRY's free keywords ("administrative", "regional") map to no concept: the thesaurus gives it
    the pole's Data Terra theme only, the catalogue's guess, which does not pass I2. SHOM's INSPIRE
    theme anchor ("Oceanographic geographical features") maps to the INSPIRE theme and, through it, to
    Data Terra themes, which do."""
    forestry, _ = thesaurus.enrich(record(*FORESTRY))
    assert [c.via for c in forestry.concepts] == [["pole:odatis"]]
    found = next(c for c in assess(forestry).checks if c.id == "FsF-I2-01M")
    assert not found.passed
    shom, _ = thesaurus.enrich(msgspec.structs.replace(record(*SHOM), pole=None))
    found = next(c for c in assess(shom).checks if c.id == "FsF-I2-01M")
    assert found.passed
    assert "Data Terra thesaurus" in found.reason and "INSPIRE registry" in found.reason


def test_every_report_lists_the_metrics_in_order_with_their_names():
    report = assess(record(*GEOFON))
    assert [c.id for c in report.checks] == list(METRICS)
    assert [c.name for c in report.checks] == [m.name for m in METRICS.values()]
    assert all(c.reason for c in report.checks)


def test_the_assessment_is_fast():
    records = [record(*source) for source in {case[1] for case in CASES}]
    started = time.perf_counter()
    for _ in range(20):
        for r in records:
            assess(r)
    per_record = (time.perf_counter() - started) / (20 * len(records))
    assert per_record < 1e-3, f"{per_record * 1e6:.0f} µs per record"


# --- score and level ---------------------------------------------------------------------------------
def test_weights_follow_the_rda_priorities():
    """Ten metrics match an essential RDA indicator (2), five an important one (1): 25 in all."""
    assert sorted(WEIGHTS.values()).count(2) == 10
    assert sorted(WEIGHTS.values()).count(1) == 5
    assert WEIGHTS["FsF-A1-01M"] == WEIGHTS["FsF-I2-01M"] == 1
    assert WEIGHTS["FsF-F1-01MD"] == WEIGHTS["FsF-R1.1-01M"] == 2


def test_score_of_a_real_record():
    """BONARES fails I2 and I3 (both important, 1 each): 23 of 25 points, 92, advanced.
    VICINITY passes F1-01MD (2), I1 (1) and R1.3-01M (2): 5 of 25, 20, incomplete."""
    bonares = assess(record(*BONARES))
    assert [c.id for c in bonares.checks if not c.passed] == ["FsF-I2-01M", "FsF-I3-01M"]
    assert (bonares.score, bonares.level) == (92, "advanced")
    vicinity = assess(record(*VICINITY))
    assert [c.id for c in vicinity.checks if c.passed] == ["FsF-F1-01MD", "FsF-I1-01M", "FsF-R1.3-01M"]
    assert (vicinity.score, vicinity.level) == (20, "incomplete")


def checks(passed: dict[str, bool]) -> list[Check]:
    return [
        Check(id=metric, name=METRICS[metric].name, passed=ok, reason="") for metric, ok in passed.items()
    ]


@pytest.mark.parametrize(
    ("passed", "expected"),
    [
        ({"FsF-F1-01MD": True, "FsF-A1-01M": False}, 67),  # 2 of 3: 66.7 rounds up
        ({"FsF-F1-01MD": False, "FsF-A1-01M": True}, 33),  # 1 of 3: 33.3 rounds down
        # 1 of 8: 12.5, rounded half up to 13
        ({"FsF-A1-01M": True, "FsF-I1-01M": False, "FsF-F2-01M": False, "FsF-F3-01M": False,
          "FsF-F4-01M": False}, 13),
        (dict.fromkeys(METRICS, True), 100),
        (dict.fromkeys(METRICS, False), 0),
    ],
)  # fmt: skip
def test_score_is_the_weighted_share_of_passed_checks(passed: dict[str, bool], expected: int):
    assert score(checks(passed)) == expected


@pytest.mark.parametrize(
    ("points", "expected"),
    [(0, "incomplete"), (24, "incomplete"), (25, "initial"), (49, "initial"), (50, "moderate"),
     (74, "moderate"), (75, "advanced"), (100, "advanced")],
)  # fmt: skip
def test_level_boundaries(points: int, expected: str):
    assert level(points) == expected


# --- licences ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "url", "expected"),
    [
        ("CC-BY 4.0", None, "CC-BY-4.0"),
        ("CC-By 4.0", None, "CC-BY-4.0"),  # tests/data/iso19115-3 spelling
        ("Creative Commons Attribution 4.0 International", None, "CC-BY-4.0"),
        ("Creative Commons Attribution-ShareAlike 4.0", None, "CC-BY-SA-4.0"),
        (
            "Creative Commons Attribution-NonCommercial-NoDerivatives 4.0 International",
            None,
            "CC-BY-NC-ND-4.0",
        ),
        ("CC BY", None, "CC-BY"),  # no version: the family
        ("Licence CC-BY - ©CeA ; ©GeoRhena", None, "CC-BY"),  # UpperRhineCastles useLimitation
        ("CC0", None, "CC0-1.0"),
        ("Creative Commons - CC0", None, "CC0-1.0"),
        (None, "https://creativecommons.org/licenses/by/4.0/", "CC-BY-4.0"),
        (None, "https://spdx.org/licenses/CC0-1.0.html", "CC0-1.0"),
        ("etalab-2.0", None, "etalab-2.0"),
        ("Etalab 2.0", None, "etalab-2.0"),
        (
            "Licence Ouverte version 2.0",
            "https://www.etalab.gouv.fr/licence-ouverte-open-licence",
            "etalab-2.0",
        ),
        ("Open Licence version 2.0", None, "etalab-2.0"),
        ("Licence Ouverte", None, "Licence Ouverte"),
        ("ODbL", None, "ODbL-1.0"),
        ("Open Data Commons Open Database License (ODbL)", None, "ODbL-1.0"),
        ("PDDL-1.0", "https://spdx.org/licenses/PDDL-1.0.html", "PDDL-1.0"),
        ("MIT", None, "MIT"),
        ("apache-2.0", None, "Apache-2.0"),  # an SPDX id in another case
        (None, "https://opensource.org/licenses/MIT", "MIT"),
        (None, "http://publications.europa.eu/resource/authority/licence/CC_BY_4_0", "CC-BY-4.0"),
        ("Open Government Licence v3.0", None, "Open Government Licence"),
        # not standard: bespoke licences, legal notices, "proprietary"/"other", a bare word
        ("proprietary", None, None),
        ("other", None, None),
        ("Public Domain", "https://www.usgs.gov/core-science-systems/hdds/data-policy", None),
        ("Data License for Remote Data, Inc.", "http://remotedata.io/license.html", None),
        (
            "Legal notice on the use of Copernicus Sentinel Data and Service Information",
            "https://scihub.copernicus.eu/twiki/pub/SciHubWebPortal/TermsConditions/Sentinel_Data_Terms_and_Conditions.pdf",
            None,
        ),
        ("License", None, None),
    ],
)
def test_licence_recognition(name: str | None, url: str | None, expected: str | None):
    assert licence_name(url, name) == expected


def test_a_bespoke_licence_fails_the_licence_check_and_says_so():
    """The STAC collection's "license": "proprietary", with a rel=license link to the Sentinel legal
    notice: a licence, but no standard one."""
    sentinel = record("stac-collection", "stac-fastapi-elastic__sample_data_collection.json")
    found = next(c for c in fair.assess(sentinel).checks if c.id == "FsF-R1.1-01M")
    assert not found.passed
    assert "'proprietary' is not a standard licence" in found.reason
