"""How many of the corpus's keywords the shipped vocabularies map to concepts: the figure pole
administrators and the thesaurus curators watch, printed in the "terracat reports" section of every run.

Keywords come three ways (DOMAIN.md §2): anchored (``gmx:Anchor``, DataCite ``valueURI``), free text
citing a thesaurus, and bare free text. The first two are *controlled*. A controlled keyword can be mapped
only if we hold its vocabulary, so the report splits them: those citing or anchored in a vocabulary
loaded, and the rest, counted by vocabulary so that the next vocabulary worth shipping is plain to see.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from catalogue.record import Keyword, Record
from harvester import formats
from harvester.formats import Rejected
from harvester.raw import RawRecord
from tests.fixtures.corpus import DATA, DEMO_ISO19139, FORMAT_DIRS
from thesaurus import Thesaurus

ROOT = Path(__file__).resolve().parent.parent
THESAURI = ROOT / "config" / "thesauri"
# Every real record the tests hold, by folder and crosswalk.
CORPUS = {DEMO_ISO19139: "iso19139", **{DATA / folder: name for folder, name in FORMAT_DIRS.items()}}


@pytest.fixture(scope="module")
def thesaurus(tmp_path_factory: pytest.TempPathFactory) -> Thesaurus:
    paths = [*sorted(THESAURI.glob("*.rdf")), THESAURI / "data-terra.ttl"]
    return Thesaurus.load(paths, cache_dir=tmp_path_factory.mktemp("thesaurus-cache"))


@pytest.fixture(scope="module")
def records() -> list[Record]:
    out = []
    for folder, name in CORPUS.items():
        crosswalk = formats.get(name)
        for path in sorted(folder.iterdir()):
            if path.suffix not in (".xml", ".json"):
                continue
            raw = RawRecord(source_id="corpus", format=name, content=path.read_bytes(), locator=str(path))
            try:
                out.append(crosswalk.to_record(raw))
            except Rejected:
                continue
    return out


def controlled(keyword: Keyword) -> bool:
    return bool(keyword.uri or keyword.thesaurus or keyword.thesaurus_uri)


def vocabulary(keyword: Keyword) -> str:
    """What a report line calls a keyword's vocabulary: its citation, else its anchor's namespace."""
    if keyword.thesaurus or keyword.thesaurus_uri:
        return (keyword.thesaurus or keyword.thesaurus_uri or "")[:70]
    return (keyword.uri or "").rsplit("/", 1)[0][:70]


def test_mapping_rates_over_the_corpus(thesaurus: Thesaurus, records: list[Record], report) -> None:
    keywords = [k for r in records for k in r.keywords]
    mapped = {id(k): thesaurus.match(k).uri is not None for k in keywords}
    held = [k for k in keywords if controlled(k) and thesaurus.citations.schemes(k)]
    held += [k for k in keywords if controlled(k) and k.uri and thesaurus.concept(k.uri) and k not in held]
    other = [k for k in keywords if controlled(k) and all(k is not h for h in held)]
    free = [k for k in keywords if not controlled(k)]

    def rate(group: list[Keyword]) -> str:
        hits = sum(mapped[id(k)] for k in group)
        return f"{hits}/{len(group)} ({hits / len(group):.0%})"

    report(f"keyword mapping over {len(records)} corpus records ({len(keywords)} keywords):")
    report(f"  controlled, vocabulary shipped: {rate(held)}")
    report(f"  controlled, vocabulary not shipped: {rate(other)}; all controlled: {rate(held + other)}")
    report(f"  free keywords: {rate(free)}")
    missing = Counter(vocabulary(k) for k in other)
    most = "; ".join(f"{v} ({n})" for v, n in missing.most_common(8))
    report(f"  most cited vocabularies not shipped: {most}")
    misses = Counter(f"{k.label} ({vocabulary(k)})" for k in held if not mapped[id(k)])
    report("  unmapped though shipped: " + "; ".join(f"{m} x{n}" for m, n in misses.most_common(10)))
    # What is shipped maps: the misses are English GEMET concepts (only the French GEMET is shipped),
    # German INSPIRE theme names (the INSPIRE file is English) and GCMD test strings of a DIF fixture.
    assert sum(mapped[id(k)] for k in held) / len(held) >= 0.8
    assert sum(mapped[id(k)] for k in free) / len(free) >= 0.15


def test_every_mapped_concept_is_on_the_record(thesaurus: Thesaurus, records: list[Record]) -> None:
    for record in records:
        enriched, unmapped = thesaurus.enrich(record)
        uris = {c.uri for c in enriched.concepts}
        for keyword in record.keywords:
            uri = thesaurus.match(keyword).uri
            assert (uri in uris) if uri else keyword in unmapped, (record.id, keyword.label)
