"""Benchmark of a ``Store``: bulk upsert rate and query latencies on N generated records.

    .venv/bin/python -m bench.store [--n 100000] [--batch 500] [--path var/bench.db] [--sql] [--live 20]

The records are a few realistic ones of the four poles, written here in code, each copy with its own
id, a title naming a place and a year, a moved box and shifted dates, so that queries have the
selectivities of a real catalogue (a common word matches most records, a place a few percent). They
carry the concepts and FAIR report a harvest gives them (GCMD concepts with their ancestors, Data Terra
themes), which the index writes as rows and text too.

The rebuild figure is what ``terracat reindex`` costs the index: every record read back in indexing
order (``scan``) and written again in one transaction (``rebuild``), crosswalks not included.

Searches run on the store's columnar snapshot (``catalogue.stores.columns``), loaded by the first search
after the writes (timed apart); ``first ms`` is each shape's first run, before the snapshot knows its
words. ``--sql`` searches in SQL only (facets then counted on a snapshot of the matches alone).

``extent`` is what a catalogue description asks (``api.catalog``). The live harvest scenario searches
while another process (a harvester has its own) replaces batches of ``--batch`` records every second
for ``--live`` seconds: every search after a write must see it, so this is what the snapshot's keeping
up with writes costs the searches.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from catalogue.query import FACETS, FacetRequest, Query, Sort
from catalogue.record import (
    BBox,
    Concept,
    Constraints,
    Contact,
    FairReport,
    Format,
    Identifier,
    Keyword,
    Link,
    LocalisedText,
    Provenance,
    Quality,
    Record,
    TemporalExtent,
)
from catalogue.store import Store
from catalogue.stores.sqlite import SQLiteStore

PLACES = [
    "Golfe de Gascogne", "Manche", "Méditerranée", "Mer d'Iroise", "Bretagne", "Guyane", "Réunion",
    "Nouvelle-Calédonie", "Polynésie", "Kerguelen", "Alpes", "Pyrénées", "Massif central", "Etna",
    "Piton de la Fournaise", "Antarctique", "Groenland", "Sahel", "Amazonie", "Atlantique Nord",
    "Pacifique Sud", "Océan Indien", "Mer du Nord", "Baltique", "Arctique", "Camargue", "Loire",
    "Rhône", "Seine", "Garonne", "Corse", "Martinique", "Guadeloupe", "Mayotte", "Tahiti", "Wallis",
    "Saint-Pierre", "Crozet", "Amsterdam", "Adélie",
]  # fmt: skip
POLES = {"odatis-sextant": "ODATIS", "aeris-catalogue": "AERIS", "formater-catalogue": "FORMATER"}
GCMD = "https://gcmd.earthdata.nasa.gov/kms/concept/"
EARTH_SCIENCE = GCMD + "e9f67a66-e9fc-435c-b720-ae32a2c3d8f5"
SCIENCE_KEYWORDS = GCMD + "1eb0ea0a-312c-4d74-8d42-6f1ad758f999"
DATA_TERRA = "https://w3id.org/data-terra/thesaurus/"


def gcmd(uuid: str, label: str, *ancestors: tuple[str, str]) -> Concept:
    """A GCMD science keyword under ``ancestors`` ((uuid, label), nearest first) and the GCMD roots."""
    return Concept(
        uri=GCMD + uuid,
        labels={"en": label},
        ancestors=[*(GCMD + a for a, _ in ancestors), EARTH_SCIENCE, SCIENCE_KEYWORDS],
        ancestor_labels=[*(name for _, name in ancestors), "EARTH SCIENCE", "Science Keywords"],
    )


def theme(slug: str, fr: str, en: str, compartment: tuple[str, str, str] | None = None) -> Concept:
    """A Data Terra theme, under its compartment ((slug, fr, en)) when it is not one."""
    return Concept(
        uri=DATA_TERRA + slug,
        labels={"fr": fr, "en": en},
        ancestors=[DATA_TERRA + compartment[0]] if compartment else [],
        ancestor_labels=list(compartment[1:]) if compartment else [],
    )


OCEAN = ("ocean", "Océan", "Ocean")
ATMOSPHERE = ("atmosphere", "Atmosphère", "Atmosphere")
SOLID_EARTH = ("solid-earth", "Terre solide", "Solid Earth")


def templates() -> list[Record]:
    """A few records as the poles publish them (shortened)."""
    ifremer = Contact(role="pointOfContact", organisation="Ifremer", emails=["sextant@ifremer.fr"])
    return [
        Record(
            id="t.sst",
            native_id="sst",
            source_id="odatis-sextant",
            title=LocalisedText(
                text="Température de surface de la mer",
                lang="fr",
                translations={"en": "Sea surface temperature"},
            ),
            abstract=LocalisedText(
                text="Analyse quotidienne de la température de surface de la mer à partir des observations "
                "satellitaires infrarouges et micro-ondes et des mesures in situ des bouées dérivantes, "
                "interpolées sur une grille régulière de 0,02°. Le produit est validé mensuellement "
                "contre les profils Argo et diffusé en NetCDF CF-1.6.",
                lang="fr",
                translations={
                    "en": "Daily analysis of sea surface temperature from infrared and microwave "
                    "satellite observations and in situ measurements of drifting buoys, "
                    "interpolated on a regular 0.02° grid."
                },
            ),
            language="fr",
            keywords=[
                Keyword(label=k, lang="fr", thesaurus="GEMET")
                for k in ("Océanographie", "Température de la mer", "Télédétection", "Bouées dérivantes")
            ]
            + [
                Keyword(
                    label="Sea surface temperature",
                    uri="http://vocab.nerc.ac.uk/collection/P02/current/TEMP/",
                )
            ],
            contacts=[ifremer],
            links=[Link(url="https://sextant.ifremer.fr/Donnees/sst", protocol="WWW:LINK")],
            platforms=["Metop-B", "Bouées dérivantes"],
            instruments=["AVHRR"],
            formats=[Format(name="NetCDF", version="4")],
            constraints=Constraints(licence="CC-BY 4.0"),
            concepts=[
                gcmd(
                    "bd24a9a9-7d52-4c29-b2a0-6cefd216ae78",
                    "SEA SURFACE TEMPERATURE",
                    ("251c87cd-03b3-464f-8390-8ede2fec28fc", "OCEAN TEMPERATURE"),
                    ("91697b7d-8f2b-4954-850e-61d5f61c867d", "OCEANS"),
                ),
                theme("physical-oceanography", "Océanographie physique", "Physical oceanography", OCEAN),
                theme(*OCEAN),
            ],
            quality=Quality(fair=FairReport(score=71, level="moderate")),
        ),
        Record(
            id="t.iasi",
            native_id="iasi",
            source_id="aeris-catalogue",
            resource_type="series",
            title=LocalisedText(text="IASI carbon monoxide total columns", lang="en"),
            abstract=LocalisedText(
                text="Daily global total columns of carbon monoxide retrieved from IASI radiances on board "
                "the Metop satellites with the FORLI algorithm. Level 2 products are provided per orbit "
                "with averaging kernels and a priori profiles; level 3 products are daily gridded means.",
                lang="en",
            ),
            language="en",
            keywords=[
                Keyword(label=k, lang="en")
                for k in ("Atmospheric chemistry", "Carbon monoxide", "Air quality", "Satellite")
            ],
            contacts=[Contact(role="distributor", organisation="AERIS", emails=["contact@aeris-data.fr"])],
            platforms=["Metop-A", "Metop-B", "Metop-C"],
            instruments=["IASI"],
            formats=[Format(name="netCDF-4"), Format(name="HDF5")],
            constraints=Constraints(
                licence="Licence Ouverte Etalab 2.0", licence_url="https://www.etalab.gouv.fr/licence-ouverte"
            ),
            concepts=[
                gcmd(
                    "88a1b416-1589-45a4-9923-452975ec35c7",
                    "CARBON MONOXIDE",
                    ("19ab681c-bdd7-4793-bbdb-1ec498575314", "CARBON AND HYDROCARBON COMPOUNDS"),
                    ("b9c56939-c624-467d-b196-e56a5b660334", "ATMOSPHERIC CHEMISTRY"),
                    ("c47f6052-634e-40ef-a5ac-13f69f6f4c2a", "ATMOSPHERE"),
                ),
                theme(
                    "atmospheric-composition",
                    "Composition atmosphérique",
                    "Atmospheric composition",
                    ATMOSPHERE,
                ),
                theme(*ATMOSPHERE),
            ],
            quality=Quality(fair=FairReport(score=54, level="moderate")),
        ),
        Record(
            id="t.insar",
            native_id="insar",
            source_id="formater-catalogue",
            title=LocalisedText(text="Déformation du sol par interférométrie radar", lang="fr"),
            abstract=LocalisedText(
                text="Séries temporelles de déplacement du sol mesurées par interférométrie radar à "
                "synthèse d'ouverture Sentinel-1, corrigées des effets troposphériques et des "
                "variations de température. Vitesses moyennes et séries chronologiques par pixel.",
                lang="fr",
            ),
            language="fr",
            keywords=[
                Keyword(label=k, lang="fr") for k in ("Géodésie", "Déformation", "InSAR", "Volcanologie")
            ],
            contacts=[Contact(role="originator", organisation="ISTerre")],
            platforms=["Sentinel-1A", "Sentinel-1B"],
            formats=[Format(name="GeoTIFF")],
            concepts=[
                gcmd(
                    "1e17c8d3-81d0-473c-8f24-d2a4ea52b6b9",
                    "TECTONICS",
                    ("2b9ad978-d986-4d63-b477-0f5efc8ace72", "SOLID EARTH"),
                ),
                theme(
                    "geodesy",
                    "Géodésie, gravimétrie et déformation",
                    "Geodesy, gravimetry and deformation",
                    SOLID_EARTH,
                ),
                theme(*SOLID_EARTH),
            ],
            quality=Quality(fair=FairReport(score=38, level="initial")),
        ),
        Record(
            id="t.argo",
            native_id="argo",
            source_id="odatis-sextant",
            title=LocalisedText(text="Argo float temperature and salinity profiles", lang="en"),
            abstract=LocalisedText(
                text="Temperature and salinity profiles measured by Argo profiling floats, quality "
                "controlled in delayed mode by the Coriolis data centre.",
                lang="en",
            ),
            language="en",
            keywords=[Keyword(label=k, lang="en") for k in ("Argo", "Salinity", "Ocean temperature")],
            contacts=[ifremer],
            platforms=["Argo floats"],
            instruments=["CTD SBE41"],
            formats=[Format(name="NetCDF")],
            constraints=Constraints(licence="CC-BY 4.0"),
            concepts=[
                gcmd(
                    "7e95b5fc-1d58-431a-af36-948b29fa870d",
                    "SALINITY",
                    ("a46016d7-e571-403a-ab37-7223fd74e68e", "SALINITY/DENSITY"),
                    ("91697b7d-8f2b-4954-850e-61d5f61c867d", "OCEANS"),
                ),
                theme("physical-oceanography", "Océanographie physique", "Physical oceanography", OCEAN),
                theme(*OCEAN),
            ],
            quality=Quality(fair=FairReport(score=88, level="advanced")),
        ),
    ]


def generate(n: int, seed: int = 42) -> list[Record]:
    rng = random.Random(seed)
    bases = templates()
    out = []
    for i in range(n):
        base = bases[i % len(bases)]
        place = PLACES[rng.randrange(len(PLACES))]
        year = rng.randint(1980, 2022)
        end = None if rng.random() < 0.2 else f"{min(year + rng.randint(0, 15), 2025)}-12-31"
        title = msgspec.structs.replace(base.title, text=f"{base.title.text} - {place} {year}")
        out.append(
            msgspec.structs.replace(
                base,
                id=f"{base.source_id}.rec-{i:07d}",
                native_id=f"rec-{i:07d}",
                pole=POLES[base.source_id],
                title=title,
                identifiers=[Identifier(code=f"10.12770/bench-{i}", scheme="doi")],
                places=[place],
                bboxes=_boxes(rng),
                temporal=[TemporalExtent(start=f"{year}-{rng.randint(1, 12):02d}", end=end)],
                created=f"{year}",
                metadata_date=f"{rng.randint(2015, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                provenance=Provenance(source_id=base.source_id, harvested_at="2025-01-01T00:00:00Z"),
            )
        )
    return out


def _boxes(rng: random.Random) -> list[BBox]:
    """One box of a few degrees (sometimes across the antimeridian), now and then a second one."""
    boxes = []
    for _ in range(1 if rng.random() < 0.8 else 2):
        width, height = rng.uniform(0.5, 20), rng.uniform(0.5, 15)
        west, south = rng.uniform(-180, 180), rng.uniform(-85, 85 - height)
        east = west + width if west + width <= 180 else west + width - 360
        boxes.append(BBox(round(west, 3), round(south, 3), round(east, 3), round(south + height, 3)))
    return boxes


def _revised(record: Record) -> Record:
    """The record as a later harvest brings it: a new title and date stamp."""
    title = msgspec.structs.replace(record.title, text=f"{record.title.text} (v2)")
    return msgspec.structs.replace(record, title=title, metadata_date="2025-06-01")


def _random_box(rng: random.Random) -> tuple[float, float, float, float]:
    west, south = rng.uniform(-180, 150), rng.uniform(-60, 40)
    return (west, south, west + 30, south + 20)


EVERY_FACET = [FacetRequest(name) for name in FACETS]
# What the portal's search page asks with every search.
PORTAL_FACETS = [FacetRequest(name) for name in ("pole", "type", "theme", "platform", "license", "year")]

# Query shapes: name -> (random) query maker.
SHAPES: dict[str, Callable[[random.Random], Query]] = {
    "q common word, relevance": lambda rng: Query(q=[["temperature"]]),
    "q place, relevance": lambda rng: Query(q=[rng.choice(PLACES).split()]),
    "q + bbox + sort -updated": lambda rng: Query(
        q=[["temperature"]], bbox=_random_box(rng), sortby=[Sort("updated", False)]
    ),
    "q OR + bbox + time + sort title": lambda rng: Query(
        q=[["carbon", "monoxide"], ["salinity"]],
        bbox=_random_box(rng),
        time=(f"{rng.randint(1990, 2015)}-01-01T00:00:00Z", None),
        sortby=[Sort("title")],
    ),
    "bbox antimeridian + time": lambda rng: Query(
        bbox=(170.0, -30.0, -170.0, 30.0), time=("2000-01-01T00:00:00Z", "2005-12-31T23:59:59Z")
    ),
    "pole + sort title, offset 500": lambda rng: Query(
        properties={"pole": [rng.choice(list(POLES.values()))]}, sortby=[Sort("title")], offset=500
    ),
    "browse all, sort -updated": lambda rng: Query(sortby=[Sort("updated", False)]),
    "browse all, default (id)": lambda rng: Query(offset=rng.randrange(1000)),
    "browse all, sort start (no index)": lambda rng: Query(sortby=[Sort("start")]),
    "theme (ancestor), sort -fair": lambda rng: Query(
        properties={"theme": [DATA_TERRA + rng.choice(["ocean", "atmosphere", "solid-earth"])]},
        sortby=[Sort("fair", False)],
    ),
    "q ancestor label + theme": lambda rng: Query(
        q=[["oceans"]], properties={"theme": [DATA_TERRA + "physical-oceanography"]}
    ),
    "facets (all 10), no criteria": lambda rng: Query(facets=EVERY_FACET, offset=rng.randrange(100)),
    "q common word + facets (all 10)": lambda rng: Query(q=[["temperature"]], facets=EVERY_FACET),
    "q place + bbox + portal facets": lambda rng: Query(
        q=[rng.choice(PLACES).split()], bbox=_random_box(rng), facets=PORTAL_FACETS
    ),
    "theme + portal facets, sort title": lambda rng: Query(
        properties={"theme": [DATA_TERRA + rng.choice(["ocean", "atmosphere", "solid-earth"])]},
        sortby=[Sort("title")],
        facets=PORTAL_FACETS,
    ),
    "pole + year facet (all years)": lambda rng: Query(
        properties={"pole": [rng.choice(list(POLES.values()))]},
        facets=[FacetRequest("year", 1000, "value_asc")],
    ),
}


def bench_upsert(store: Store, records: list[Record], batch: int) -> float:
    """Records per second over all batches."""
    started = time.perf_counter()
    for start in range(0, len(records), batch):
        store.upsert(records[start : start + batch])
    return len(records) / (time.perf_counter() - started)


def bench_rebuild(store: Store) -> float:
    """Records per second of a rebuild fed from the store's own scan, as ``terracat reindex`` does.

    The bench's own generated records (alive throughout, unlike in a reindex) are frozen out of the
    garbage collector first: every collection the rebuild's decoding triggers would traverse them all,
    which more than doubles the time spent decoding."""
    gc.freeze()
    started = time.perf_counter()
    indexed = store.rebuild(store.scan(), decoded=True)
    return indexed / (time.perf_counter() - started)


def bench_queries(store: Store, repeat: int, seed: int = 7) -> None:
    """Each shape ``repeat`` times; ``first``: its first run, before the index's caches know it (the
    full-text matches of its words, for one)."""
    rng = random.Random(seed)
    started = time.perf_counter()
    store.search(Query(limit=0))
    print(f"first search (loads what the index keeps in memory): {time.perf_counter() - started:.2f} s\n")
    print(f"{'query':36} {'p50 ms':>8} {'p95 ms':>8} {'first ms':>9} {'matched (median)':>17}")
    for name, make in SHAPES.items():
        timings, matched = [], []
        for _ in range(repeat):
            query = make(rng)
            started = time.perf_counter()
            result = store.search(query)
            timings.append((time.perf_counter() - started) * 1000)
            matched.append(result.matched)
        p50, p95 = _percentile(timings, 50), _percentile(timings, 95)
        print(f"{name:36} {p50:8.1f} {p95:8.1f} {timings[0]:9.1f} {statistics.median(matched):17.0f}")


def bench_get(store: Store, records: list[Record], repeat: int) -> None:
    rng = random.Random(3)
    timings = []
    for _ in range(repeat):
        record_id = rng.choice(records).id
        started = time.perf_counter()
        store.get(record_id)
        timings.append((time.perf_counter() - started) * 1000)
    print(f"{'get by id':36} {_percentile(timings, 50):8.2f} {_percentile(timings, 95):8.2f}")


def bench_extent(store: Store, repeat: int) -> None:
    """A catalogue description's extent: of every record, and of a pole's."""
    for name, query in (
        ("extent, all records", Query()),
        ("extent, one pole", Query(properties={"pole": ["AERIS"]})),
    ):
        timings = []
        for _ in range(repeat):
            started = time.perf_counter()
            store.extent(query)
            timings.append((time.perf_counter() - started) * 1000)
        print(f"{name:36} {_percentile(timings, 50):8.1f} {_percentile(timings, 95):8.1f}")


def _harvest(path: Path, n: int, batch: int, pause: float, ready: Any, stop: Any, written: Any) -> None:
    """A harvester in its own process: batches of revised records, one every ``pause`` seconds."""
    records = generate(n)
    with SQLiteStore(path=path) as store:
        ready.set()
        round_ = 0
        while not stop.is_set():
            for start in range(0, n, batch):
                if stop.is_set():
                    break
                title = f"(r{round_})"
                store.upsert(
                    [
                        msgspec.structs.replace(
                            r, title=msgspec.structs.replace(r.title, text=f"{r.title.text} {title}")
                        )
                        for r in records[start : start + batch]
                    ]
                )
                written.value += 1
                stop.wait(pause)
            round_ += 1


def bench_live_harvest(store: SQLiteStore, seconds: float, batch: int, seed: int = 11) -> None:
    """Search latencies (every shape, drawn at random) while another process writes a batch a second."""
    context = multiprocessing.get_context("spawn")
    ready, stop, written = context.Event(), context.Event(), context.Value("i", 0)
    writer = context.Process(
        target=_harvest, args=(store.path, min(20_000, store.count()), batch, 1.0, ready, stop, written)
    )
    writer.start()
    ready.wait()
    rng = random.Random(seed)
    shapes = list(SHAPES.values())
    timings = []
    started = time.perf_counter()
    try:
        while time.perf_counter() - started < seconds:
            query = rng.choice(shapes)(rng)
            began = time.perf_counter()
            store.search(query)
            timings.append((time.perf_counter() - began) * 1000)
    finally:
        stop.set()
        writer.join()
    print(
        f"\nlive harvest ({written.value} batches of {batch} written by another process in {seconds:.0f} s):"
        f" {len(timings)} searches, p50 {_percentile(timings, 50):.1f} ms,"
        f" p95 {_percentile(timings, 95):.1f} ms, p99 {_percentile(timings, 99):.1f} ms,"
        f" max {max(timings):.0f} ms"
    )


def _percentile(values: list[float], p: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000, help="records to index")
    parser.add_argument("--batch", type=int, default=500, help="records per upsert")
    parser.add_argument("--repeat", type=int, default=50, help="runs of each query shape")
    parser.add_argument("--path", type=Path, help="index file (default: a temporary one)")
    parser.add_argument("--sql", action="store_true", help="search in SQL only (no columnar snapshot)")
    parser.add_argument("--live", type=float, default=20, help="seconds of searches during a live harvest")
    args = parser.parse_args()

    records = generate(args.n)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.path or Path(tmp) / "bench.db"
        with SQLiteStore(path=path, columns=not args.sql) as store:
            rate = bench_upsert(store, records, args.batch)
            print(f"upsert (new):     {rate:8.0f} records/s  ({args.n} records, batches of {args.batch})")
            revised = [_revised(r) for r in records[:20_000]]
            rate = bench_upsert(store, revised, args.batch)
            print(f"upsert (replace): {rate:8.0f} records/s  ({len(revised)} changed records)")
            size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
            print(f"index size: {size / 2**20:.0f} MB for {store.count()} records")
            rate = bench_rebuild(store)
            print(f"rebuild:          {rate:8.0f} records/s  (scan and rebuild of {store.count()} records)\n")
            bench_queries(store, args.repeat)
            bench_get(store, records, args.repeat * 10)
            bench_extent(store, 20)
            if args.live:
                bench_live_harvest(store, args.live, args.batch)


if __name__ == "__main__":
    main()
