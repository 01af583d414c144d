"""Benchmark of the quality assessment a harvest runs on every batch: SHACL validation and FAIR checks.

    .venv/bin/python -m bench.quality [--corpus DIR ...] [--no-thesaurus] [--rounds 3]

The records are the real corpus records of every format (``<corpus>/<format>/*``, through the
crosswalks), enriched by the shipped thesauri as a harvest enriches them (unless ``--no-thesaurus``),
repeated with distinct ids to fill the larger batches. Figures: ms per record of ``validation.validate``
for batches of 1 (20 records one by one), 100 and 500 records, the best of ``--rounds`` (one pyshacl
run per batch, so the per-run overhead shows in the batches of 1); ms per record of ``quality.assess``
on a batch of 100; µs per record of ``fair.assess``. The first figure is the one-off cost of loading
the shapes.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import msgspec

from catalogue import fair, quality, validation
from catalogue.record import Record
from harvester import formats
from harvester.formats import Rejected
from harvester.raw import RawRecord
from tests.fixtures.corpus import FORMAT_DIRS as TEST_FORMAT_DIRS

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = (ROOT / "tests" / "data", ROOT / "config" / "demo" / "records")
# Folder under a corpus -> crosswalk: the tests' folders, and the demo's ISO 19139 records.
FORMAT_DIRS = {"iso19139": "iso19139", **TEST_FORMAT_DIRS}
BATCHES = (1, 100, 500)
SINGLES = 20


def corpus_records(corpus: Sequence[Path]) -> list[Record]:
    """Every file of the known format folders of ``corpus`` that its crosswalk turns into a record."""
    records = []
    for folder in corpus:
        for name, crosswalk_name in FORMAT_DIRS.items():
            crosswalk = formats.get(crosswalk_name)
            for path in sorted((folder / name).glob("*.*")):
                if path.suffix not in (".xml", ".json"):
                    continue
                raw = RawRecord(
                    source_id="bench", format=crosswalk.name, content=path.read_bytes(), locator=str(path)
                )
                try:
                    records.append(crosswalk.to_record(raw, pole="odatis"))
                except Rejected:
                    continue
    return records


def enriched(records: list[Record]) -> list[Record]:
    """The records with the concepts and Data Terra themes the shipped thesauri give them."""
    from thesaurus import Thesaurus

    folder = ROOT / "config" / "thesauri"
    paths = [*sorted(folder.glob("*.rdf")), folder / "data-terra.ttl"]
    thesaurus = Thesaurus.load(paths, cache_dir=ROOT / "var" / "thesaurus-cache")
    return [thesaurus.enrich(record)[0] for record in records]


def batch(records: list[Record], size: int) -> list[Record]:
    """``size`` records cycling through ``records``, each copy with its own id."""
    return [
        msgspec.structs.replace(records[i % len(records)], id=f"{records[i % len(records)].id}-{i}")
        for i in range(size)
    ]


def best_seconds(run: Callable[[], object], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, action="append", help="a folder of <format>/ folders")
    parser.add_argument("--no-thesaurus", action="store_true", help="validate the records as crosswalked")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    records = corpus_records(args.corpus or DEFAULT_CORPUS)
    if not args.no_thesaurus:
        records = enriched(records)
    print(f"{len(records)} corpus records, shapes {validation.SHAPES_VERSION}")

    started = time.perf_counter()
    validation.profiles()
    print(f"shapes loaded and parsed once: {(time.perf_counter() - started) * 1000:.0f} ms")

    for size in BATCHES:
        # Batches of one: the first SINGLES records one by one, so that one record's size does not decide.
        chunks = [[r] for r in records[:SINGLES]] if size == 1 else [batch(records, size)]
        seconds = best_seconds(lambda chunks=chunks: [validation.validate(c) for c in chunks], args.rounds)
        count = sum(len(c) for c in chunks)
        print(f"validate, batch of {size:>3}: {seconds / count * 1000:7.2f} ms/record")

    hundred = batch(records, 100)
    seconds = best_seconds(lambda: quality.assess(hundred), args.rounds)
    print(f"quality.assess, batch of 100: {seconds / 100 * 1000:7.2f} ms/record")

    seconds = best_seconds(lambda: [fair.assess(r) for r in records], args.rounds)
    print(f"fair.assess: {seconds / len(records) * 1e6:7.1f} µs/record")

    reports = validation.validate(records)
    violations = sum(not report.conforms for report in reports)
    results = sum(len(report.results) for report in reports)
    per_record = results / len(records)
    print(f"{violations} of {len(records)} records with a violation; {per_record:.1f} results/record")


if __name__ == "__main__":
    main()
