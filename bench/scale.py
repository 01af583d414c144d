"""Scale benchmark: a catalogue of N records harvested, searched and reindexed on this machine.

    .venv/bin/python -m bench.scale --sizes 100000 1000000 [--workers 2] [--dir var/scale] [--repeat 200]

For each size a real ledger and index are built under ``--dir/<size>/`` the way a harvest builds them:
four sources (ODATIS and AERIS in ISO 19139, ForM@Ter in Dublin Core, THEIA in STAC items and
collections) list raw records made from the real corpus records, each copy with its own identifiers,
a title naming a place, a year and a campaign code, a moved box and shifted dates. The harvest is
``harvester.run.HarvestRun`` itself (ledger, crosswalks in ``--workers`` processes, thesaurus
enrichment, FAIR rating, index writer), through a protocol that generates the pages in memory, so the
rate is terracat's own processing rate, not a source's.

SHACL validation (~9 ms a record, the step a harvest runs once its records are searchable) is measured on
a sample of the records instead of being run on all of them: the sample's reports are compared with the
report of each record's template, and every record gets its template's report (the varied fields are
ones the shapes do not judge). ``reindex`` then finds every report current, as after a real harvest.

A build is kept and reused: a size whose ``build.json`` says it is complete is not built again, and a
build interrupted in a source resumes from that source's checkpoint (the harvester's own resumption).
Then, each in a fresh process:

- searches: each shape ``--repeat`` times with drawn parameters, p50/p99 in ms, on the store's columnar
  snapshot (``catalogue.stores.columns``), with the resident memory of the searching process before the
  first search, after it (the snapshot loaded) and at its peak. The matches of common words that
  searches saved in the index are forgotten first, so that the first search of each is FTS5's; a
  second process then times its first search of each, with the matches the first saved;
- ``reindex`` (``harvester.reindex.reindex`` with ``--workers``): wall time, rate, peak memory.

The machine is shared (2 cores): figures vary by tens of percent between runs.
"""

from __future__ import annotations

import argparse
import copy
import json
import multiprocessing
import os
import random
import re
import resource
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any

import msgspec
from lxml import etree

from api.settings import load as load_settings
from bench import records as iso_records
from bench.store import EVERY_FACET, PLACES, PORTAL_FACETS
from catalogue import quality
from catalogue.query import Query, Sort
from catalogue.record import Record, ValidationReport
from catalogue.stores.sqlite import SQLiteStore
from harvester import parallel, protocols
from harvester.enrich import Enricher
from harvester.ledger import open_ledger
from harvester.parallel import crosswalk
from harvester.protocols import Page, Protocol
from harvester.raw import RawRecord
from harvester.reindex import reindex
from harvester.run import HarvestRun
from harvester.source import Source
from thesaurus import Thesaurus

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path("/work/shared/corpus")
CONFIG = ROOT / "config" / "terracat.yaml"
BUILD_VERSION = 4  # bumped when the generated records change: older builds are made again
PAGE = 500  # records per generated page (and per index batch)
SAMPLE = 400  # records SHACL-validated for real

# source id -> (pole, format, share of the catalogue)
SOURCES: dict[str, tuple[str, str, float]] = {
    "odatis-csw": ("ODATIS", "iso19139", 0.35),
    "aeris-csw": ("AERIS", "iso19139", 0.20),
    "formater-oai": ("ForM@Ter", "dc", 0.15),
    "theia-stac": ("THEIA", "stac", 0.30),
}
COMMON_WORDS = ["data", "temperature", "satellite", "ocean", "sentinel", "surface", "aerosol"]
PHRASES = [place.lower().split() for place in PLACES if " " in place] + [["sea", "surface", "temperature"]]
CAMPAIGNS = 9973  # campaign codes: a rare word matches one record in ~10 000
_SLOT = re.compile(rb"@@(\w+)@@")
_HREF = "{http://www.w3.org/1999/xlink}href"


# --- generated records ---------------------------------------------------------------------------------


class Variant(msgspec.Struct):
    """What makes copy ``i`` of a template its own record."""

    id: str
    suffix: str  # appended to the title: place, year, campaign code
    box: tuple[float, float, float, float]  # west, south, east, north
    years: int  # shift of every date


def variant(source_id: str, i: int) -> Variant:
    rng = random.Random(f"{source_id}/{i}")
    place = PLACES[rng.randrange(len(PLACES))]
    width, height = rng.uniform(0.5, 20), rng.uniform(0.5, 15)
    west, south = rng.uniform(-180, 180 - width), rng.uniform(-85, 85 - height)
    box = (round(west, 4), round(south, 4), round(west + width, 4), round(south + height, 4))
    suffix = f" - {place} {rng.randint(1980, 2024)} C{rng.randrange(CAMPAIGNS):04d}"
    return Variant(f"scale-{source_id}-{i:07d}", suffix, box, rng.randint(-20, 3))


class XmlTemplate:
    """A corpus XML record with slots (``@@name@@``) where a variant's values go: filled by a bytes
    substitution, 100 times as fast as editing a parsed copy."""

    def __init__(self, content: bytes):
        self.content = content

    def fill(self, v: Variant) -> bytes:
        west, south, east, north = v.box
        values = {
            b"ID": v.id,
            b"SUFFIX": v.suffix,
            b"W": f"{west}",
            b"S": f"{south}",
            b"E": f"{east}",
            b"N": f"{north}",
        }

        def slot(match: re.Match[bytes]) -> bytes:
            name = match.group(1)
            if name.startswith(b"Y"):
                return b"%04d" % (int(name[1:]) + v.years)
            return values[name].encode()

        return _SLOT.sub(slot, self.content)


def iso_templates() -> list[XmlTemplate]:
    """The ISO 19139 corpus records (``bench.records``) with slots for file identifier, title, boxes,
    years and resource identifiers (which must differ, or every copy would be a duplicate of one)."""
    out = []
    for tree in iso_records.templates(CORPUS / "iso19139"):
        root = copy.deepcopy(tree.getroot())
        iso_records._FILE_ID(root)[0].text = "@@ID@@"
        title = iso_records._TITLE(root)[0]
        title.text = f"{(title.text or '').strip()}@@SUFFIX@@"
        for name, slot in zip(iso_records._BOUNDS, ("W", "E", "S", "N"), strict=True):
            for element in iso_records._BOUNDS[name](root):
                element.text = f"@@{slot}@@"
        _year_slots(iso_records._YEARS(root))
        for code in root.iterfind(".//gmd:code/*", iso_records.NS):
            code.text = f"{(code.text or '').strip()}/@@ID@@"
            if _HREF in code.attrib:
                code.set(_HREF, f"{code.get(_HREF)}/@@ID@@")
        for uri in root.iterfind("gmd:dataSetURI/*", iso_records.NS):
            uri.text = f"{(uri.text or '').strip()}/@@ID@@"
        for url in root.iterfind(".//gmd:URL", iso_records.NS):
            if "doi" in (url.text or ""):
                url.text = f"{url.text}/@@ID@@"
        out.append(XmlTemplate(etree.tostring(root, xml_declaration=True, encoding="UTF-8")))
    return out


def dc_templates() -> list[XmlTemplate]:
    """The Dublin Core corpus records (``csw:Record``) with slots for identifier, title, box (as an
    ``ows:WGS84BoundingBox``, lon lat) and date years."""
    out = []
    for path in sorted((CORPUS / "dc").glob("*.xml")):
        root = etree.fromstring(path.read_bytes(), iso_records._PARSER)
        ids, titles = root.findall("{*}identifier"), root.findall("{*}title")
        if not ids or not titles:
            continue
        ids[0].text = "@@ID@@"
        for extra in ids[1:]:
            extra.text = f"{(extra.text or '').strip()}/@@ID@@"
        titles[0].text = f"{(titles[0].text or '').strip()}@@SUFFIX@@"
        for box in root.findall("{http://www.opengis.net/ows}BoundingBox"):
            root.remove(box)
        box = etree.SubElement(root, "{http://www.opengis.net/ows}WGS84BoundingBox")
        etree.SubElement(box, "{http://www.opengis.net/ows}LowerCorner").text = "@@W@@ @@S@@"
        etree.SubElement(box, "{http://www.opengis.net/ows}UpperCorner").text = "@@E@@ @@N@@"
        _year_slots(root.findall("{*}date") + root.findall("{*}modified") + root.findall("{*}created"))
        out.append(XmlTemplate(etree.tostring(root, xml_declaration=True, encoding="UTF-8")))
    return out


def _year_slots(elements: list[Any]) -> None:
    for element in elements:
        text = (element.text or "").strip()
        if len(text) >= 4 and text[:4].isdigit():
            element.text = f"@@Y{text[:4]}@@{text[4:]}"


class StacTemplate:
    """A corpus STAC item or collection; a variant changes its id, title, box, geometry and dates."""

    def __init__(self, doc: dict[str, Any]):
        self.doc = doc

    def fill(self, v: Variant) -> bytes:
        doc = dict(self.doc)
        west, south, east, north = v.box
        title = f"{self.doc.get('title') or self.doc.get('properties', {}).get('title') or self.doc['id']}"
        doc["id"] = f"{self.doc['id']}-{v.id}"
        if doc.get("type") == "Collection":
            doc["title"] = title + v.suffix
            extent = copy.deepcopy(doc.get("extent") or {})
            extent["spatial"] = {"bbox": [[west, south, east, north]]}
            for interval in extent.get("temporal", {}).get("interval", []):
                interval[:] = [_shifted(value, v.years) for value in interval]
            doc["extent"] = extent
        else:
            properties = {
                key: _shifted(value, v.years) if key.endswith("datetime") else value
                for key, value in self.doc.get("properties", {}).items()
            }
            properties["title"] = title + v.suffix
            if "sci:doi" in properties:
                properties["sci:doi"] = f"{properties['sci:doi']}/{v.id}"
            doc["properties"] = properties
            doc["bbox"] = [west, south, east, north]
            ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
            doc["geometry"] = {"type": "Polygon", "coordinates": [ring]}
        return msgspec.json.encode(doc)


def _shifted(value: Any, years: int) -> Any:
    if isinstance(value, str) and len(value) >= 4 and value[:4].isdigit():
        return f"{int(value[:4]) + years:04d}{value[4:]}"
    return value


def stac_templates() -> list[StacTemplate]:
    """The corpus STAC items (single features), then collections: one in six records is a collection."""
    items = [json.loads(p.read_bytes()) for p in sorted((CORPUS / "stac-item").glob("*.json"))]
    collections = [json.loads(p.read_bytes()) for p in sorted((CORPUS / "stac-collection").glob("*.json"))]
    items = [doc for doc in items if doc.get("type") == "Feature"]
    collections = [doc for doc in collections if doc.get("type") == "Collection"]
    return [StacTemplate(doc) for doc in items * 5 + collections[: len(items)]]


_TEMPLATES: dict[str, list[Any]] = {}


def templates(format_: str) -> list[Any]:
    if format_ not in _TEMPLATES:
        make = {"iso19139": iso_templates, "dc": dc_templates, "stac": stac_templates}[format_]
        _TEMPLATES[format_] = make()
    return _TEMPLATES[format_]


def raw_record(source: Source, i: int) -> RawRecord:
    """Copy ``i`` of the source's templates (template ``i mod their number``)."""
    chosen = templates(source.format)
    content = chosen[i % len(chosen)].fill(variant(source.id, i))
    key = f"{source.id}/{i:07d}"
    return RawRecord(source_id=source.id, format=source.format, content=content, native_id=key, locator=key)


def copy_number(record: Record) -> int:
    """Which copy a harvested record is (its native id ends with the number): its template is that
    number modulo the number of templates."""
    return int(record.native_id[-7:])


# How many records each generated source lists (set by ``build`` before its harvest).
PLANNED: dict[str, int] = {}


class Generated(Protocol):
    """A listing of ``PLANNED[source id]`` generated records, ``page_size`` a page; resumable at any
    page from its checkpoint (the next copy number)."""

    name = "bench-generated"

    def pages(self) -> Iterator[Page]:
        self.filtered = False
        total = PLANNED[self.source.id]
        start = int(self.resume["next"]) if self.resume else 0
        for first in range(start, total, self.source.page_size):
            last = min(first + self.source.page_size, total)
            records = [raw_record(self.source, i) for i in range(first, last)]
            yield Page(
                records=records,
                matched=total,
                position=f"record {first + 1} of {total}",
                received_bytes=sum(len(r.content) for r in records),
                checkpoint={"next": last},
            )


protocols.register(Generated.name, f"{__name__}:Generated", network=False)


# --- build -----------------------------------------------------------------------------------------------


class TemplateReports(Enricher):
    """Enrichment as in a harvest, then the SHACL report of the record's template (see the module)."""

    def __init__(self, thesaurus: Thesaurus | None, reports: list[tuple[str, ValidationReport]]):
        super().__init__(thesaurus)
        self.reports = reports

    def enrich(self, record: Record) -> tuple[Record, list[Any]]:
        record, unmapped = super().enrich(record)
        return quality.with_validation([record], [self.report(record)])[0], unmapped

    def report(self, record: Record) -> ValidationReport:
        """The template's report, its results about the template's record node made about this one."""
        template_id, report = self.reports[copy_number(record) % len(self.reports)]
        results = [
            msgspec.structs.replace(r, focus=r.focus.replace(template_id, record.id)) if r.focus else r
            for r in report.results
        ]
        return msgspec.structs.replace(report, results=results)


def shacl_reports(source: Source, enricher: Enricher) -> tuple[TemplateReports, str]:
    """Enrichment with the report of each template of ``source`` (made from its copies 0..n-1), and what
    the sample showed: how many other copies got their template's report, and the validation rate."""
    count = len(templates(source.format))
    firsts = enricher.validate([enricher.enrich(_crosswalked(source, i))[0] for i in range(count)])
    reports = TemplateReports(
        enricher.thesaurus,
        [(r.id, r.quality.validation) for r in firsts],  # type: ignore[union-attr]
    )
    rng = random.Random(source.id)
    sample = [rng.randrange(count, 100 * count) for _ in range(SAMPLE // len(SOURCES))]
    records = [enricher.enrich(_crosswalked(source, i))[0] for i in sample]
    started = time.perf_counter()
    validated = enricher.validate(records)
    rate = len(records) / (time.perf_counter() - started)
    same = sum(r.quality.validation == reports.report(r) for r in validated)  # type: ignore[union-attr]
    return reports, f"{same}/{len(sample)} sampled copies share their template's report, {rate:.0f} rec/s"


def _crosswalked(source: Source, i: int) -> Record:
    outcome = crosswalk(raw_record(source, i), source.pole)
    if not isinstance(outcome, Record):
        raise RuntimeError(f"template {i} of {source.id} is rejected: {outcome.code}: {outcome.message}")
    return outcome


def sources() -> list[Source]:
    return [
        Source(id=sid, pole=pole, protocol=Generated.name, format=fmt, page_size=PAGE)  # type: ignore[arg-type]
        for sid, (pole, fmt, _) in SOURCES.items()
    ]


def thesaurus(cache: Path) -> Thesaurus | None:
    settings = load_settings(CONFIG)
    return Thesaurus.load(settings.thesauri, cache_dir=cache) if settings.thesauri else None


def build(n: int, where: Path, workers: int) -> dict[str, Any]:
    """The ledger and index of ``n`` records in ``where``, harvested source by source; what is already
    built is kept (``build.json``)."""
    where.mkdir(parents=True, exist_ok=True)
    state_path = where / "build.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    if state.get("version") != BUILD_VERSION or state.get("n") != n:
        for stale in where.glob("*.db*"):
            stale.unlink()
        state = {"version": BUILD_VERSION, "n": n, "sources": {}}
    planned = _planned(n)
    PLANNED.update(planned)
    lexicon = thesaurus(where / "thesauri")
    enricher = Enricher(lexicon, workers=workers)
    with SQLiteStore(where / "index.db", columns=False) as store:
        ledger = open_ledger(where / "ledger.db")
        try:
            for source in sources():
                done = state["sources"].get(source.id, {})
                if done.get("complete"):
                    continue
                reports, sample = shacl_reports(source, enricher)
                run = HarvestRun(source, store, ledger, batch_size=PAGE, workers=workers, thesaurus=lexicon)
                run.enricher = reports
                summary = run.execute()
                if summary.status != "succeeded":
                    raise RuntimeError(f"harvest of {source.id}: {summary.line()}")
                print(f"  {summary.line()}\n    SHACL: {sample}", flush=True)
                state["sources"][source.id] = {
                    "complete": True,
                    "records": planned[source.id],
                    "seconds": done.get("seconds", 0.0) + summary.seconds,
                    "counts": dict(summary.counts),
                    "shacl": sample,
                }
                state_path.write_text(json.dumps(state, indent=1))
        finally:
            ledger.close()
    return state


def _planned(n: int) -> dict[str, int]:
    counts = {sid: int(n * share) for sid, (_, _, share) in SOURCES.items()}
    counts[next(iter(counts))] += n - sum(counts.values())
    return counts


# --- searches --------------------------------------------------------------------------------------------


def _box(rng: random.Random) -> tuple[float, float, float, float]:
    west, south = rng.uniform(-180, 150), rng.uniform(-60, 40)
    return (west, south, west + 30, south + 20)


def _years(rng: random.Random) -> tuple[str, str]:
    year = rng.randint(1985, 2020)
    return (f"{year}-01-01T00:00:00Z", f"{year + rng.randint(0, 2)}-12-31T23:59:59Z")


def shapes(n: int) -> dict[str, Callable[[random.Random], Query]]:
    """Query shapes by name; deep pages only below ``n``."""
    out: dict[str, Callable[[random.Random], Query]] = {
        "q common word": lambda rng: Query(q=[[rng.choice(COMMON_WORDS)]]),
        "q rare word (campaign)": lambda rng: Query(q=[[f"c{rng.randrange(CAMPAIGNS):04d}"]]),
        "q phrase": lambda rng: Query(q=[rng.choice(PHRASES)]),
        "bbox": lambda rng: Query(bbox=_box(rng)),
        "datetime": lambda rng: Query(time=_years(rng)),
        "bbox + datetime, sort -updated": lambda rng: Query(
            bbox=_box(rng), time=_years(rng), sortby=[Sort("updated", False)]
        ),
        "q + bbox + portal facets": lambda rng: Query(
            q=[[rng.choice(COMMON_WORDS)]], bbox=_box(rng), facets=PORTAL_FACETS
        ),
        "all facets (10), no criteria": lambda rng: Query(facets=EVERY_FACET, offset=rng.randrange(100)),
        "pole + all facets": lambda rng: Query(
            properties={"pole": [rng.choice(["ODATIS", "AERIS", "ForM@Ter", "THEIA"])]}, facets=EVERY_FACET
        ),
    }
    for offset in (10_000, 100_000, 900_000):
        if offset < n:
            out[f"offset {offset:,} (id order)"] = lambda rng, o=offset: Query(offset=o + rng.randrange(1000))
            out[f"offset {offset:,}, sort title"] = lambda rng, o=offset: Query(
                offset=o + rng.randrange(1000), sortby=[Sort("title")]
            )
    return out


def _scale_id(rng: random.Random, n: int) -> str:
    """The id of a record of the build, at random (of its largest source)."""
    return f"odatis-csw.scale-odatis-csw-{rng.randrange(int(n * 0.35)):07d}"


def _timed(store: SQLiteStore, query: Query) -> tuple[float, float, int]:
    """One search: milliseconds of wall time and of this thread's CPU, and how many records matched."""
    began, began_cpu = time.perf_counter(), time.thread_time()
    matched = store.search(query).matched
    return (time.perf_counter() - began) * 1000, (time.thread_time() - began_cpu) * 1000, matched


def _figures(runs: list[tuple[float, float, int]]) -> tuple[float, float, float, float, float]:
    """p50 and p99 of wall time, median matched, p50 and p99 of CPU time."""
    timings, cpu, matched = ([run[k] for run in runs] for k in range(3))
    return _pct(timings, 50), _pct(timings, 99), statistics.median(matched), _pct(cpu, 50), _pct(cpu, 99)


def _rss() -> dict[str, float]:
    """Resident and peak resident memory of this process, MB."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields


def search_figures(path: Path, n: int, repeat: int) -> dict[str, Any]:
    """Runs in a fresh process: the latencies of each shape and this process's memory."""
    out: dict[str, Any] = {"rss_open": _rss()["VmRSS"], "shapes": {}}
    with SQLiteStore(path) as store:
        started = time.perf_counter()
        store.search(Query(limit=0))
        out["first_search_s"] = time.perf_counter() - started
        out["rss_snapshot"] = _rss()["VmRSS"]
        rng = random.Random(7)
        # A ranked word's matches are FTS5's to find the first time the index is searched for it (the
        # caller forgot those saved before); then they are remembered, across writes too, and saved in
        # the index for the other processes (``first_searches``): the first searches apart, and again
        # below with a harvest's write before each search.
        firsts = [_timed(store, Query(q=[[word]])) for word in COMMON_WORDS]
        out["shapes"]["q common word, first search of the index"] = _figures(firsts)
        for name, make in shapes(n).items():
            out["shapes"][name] = _figures([_timed(store, make(rng)) for _ in range(repeat)])
        with SQLiteStore(path, columns=False) as harvest:
            writes = []
            for _ in range(repeat):
                again = (harvest.get(_scale_id(rng, n)) for _ in range(10))
                harvest.upsert([record for record in again if record is not None])
                writes.append(_timed(store, Query(q=[[rng.choice(COMMON_WORDS)]])))
            out["shapes"]["q common word, each after a write of 10 records"] = _figures(writes)
        ids = [_scale_id(rng, n) for _ in range(repeat)]
        timings = []
        for record_id in ids:
            began = time.perf_counter()
            store.get(record_id)
            timings.append((time.perf_counter() - began) * 1000)
        out["shapes"]["get by id"] = (_pct(timings, 50), _pct(timings, 99), 1, None, None)
    memory = _rss()
    out["rss_end"], out["rss_peak"] = memory["VmRSS"], memory["VmHWM"]
    return out


def forget_matches(path: Path) -> None:
    """Forget the full-text matches searches saved in the index, as a rebuild does."""
    SQLiteStore(path, columns=False).close()  # the schema of this version
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("DELETE FROM phrase_matches")


def first_searches(path: Path) -> tuple[float, float, float, float, float]:
    """Runs in a fresh process, after ``search_figures``: the first search of each common word in a
    process, whose matches an earlier process saved in the index."""
    with SQLiteStore(path) as store:
        store.search(Query(limit=0))
        return _figures([_timed(store, Query(q=[[word]])) for word in COMMON_WORDS])


def reindex_figures(where: Path, workers: int) -> dict[str, Any]:
    """Runs in a fresh process: ``terracat reindex`` of the build, as the CLI runs it."""
    enricher = Enricher(thesaurus(where / "thesauri"), workers=parallel.local_workers())
    configured = {source.id: source for source in sources()}
    with SQLiteStore(where / "index.db", columns=False) as store:
        ledger = open_ledger(where / "ledger.db")
        try:
            summary = reindex(store, ledger, enricher, configured, workers=workers)
            worker_cpu = sum(_cpu_seconds(pid) for pid in _worker_pids())
        finally:
            ledger.close()
            parallel.shutdown()  # a pool process's exit waits for its children: no ``atexit`` there
    own = resource.getrusage(resource.RUSAGE_SELF)
    cpu = {"main_cpu": own.ru_utime + own.ru_stime, "worker_cpu": worker_cpu}
    return {"lines": summary.lines(), "seconds": summary.seconds, "rate": summary.rate, **cpu, **_rss()}


def _worker_pids() -> list[int]:
    """The crosswalk workers' process ids, from the pool's own bookkeeping (private: a bench may peek)."""
    return [pid for pool in parallel._pools.values() for pid in (pool._processes or {})]


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def in_process(function: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """``function(*args)`` in a fresh process, so its memory is its own."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def _mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20


# --- main ------------------------------------------------------------------------------------------------


def measure(n: int, where: Path, workers: int, repeat: int, steps: set[str]) -> dict[str, Any]:
    print(f"\n=== {n:,} records in {where}", flush=True)
    state = build(n, where, workers)
    earlier = where / "figures.json"
    harvested = sum(s["records"] for s in state["sources"].values())
    seconds = sum(s["seconds"] for s in state["sources"].values())
    figures: dict[str, Any] = {
        **(json.loads(earlier.read_text()) if earlier.exists() else {}),  # steps measured before, kept
        "n": n,
        "harvest_rate": harvested / seconds,
        "harvest_s": seconds,
        "index_mb": _mb(where / "index.db"),
        "ledger_mb": _mb(where / "ledger.db"),
        "shacl": {sid: s["shacl"] for sid, s in state["sources"].items()},
    }
    print(
        f"harvest (no SHACL): {figures['harvest_rate']:.0f} rec/s over {seconds:.0f} s;"
        f" index {figures['index_mb']:.0f} MB, ledger {figures['ledger_mb']:.0f} MB",
        flush=True,
    )
    if "search" in steps:
        forget_matches(where / "index.db")
        figures["search"] = in_process(search_figures, where / "index.db", n, repeat)
        saved = in_process(first_searches, where / "index.db")
        figures["search"]["shapes"]["q common word, first search in another process"] = saved
        _print_search(figures["search"])
    if "reindex" in steps:
        figures["reindex"] = result = in_process(reindex_figures, where, workers)
        print("\n".join(result["lines"]), f"\nreindex process peak RSS {result['VmHWM']:.0f} MB", flush=True)
        cpu = result["main_cpu"] + result["worker_cpu"]
        least = max(result["main_cpu"], cpu / (os.cpu_count() or 1))
        print(
            f"reindex CPU: {result['main_cpu']:.0f} s in the reindexing process (start included),"
            f" {result['worker_cpu']:.0f} s in the crosswalk workers: {cpu / n * 1000:.2f} ms a record;"
            f" at least {least:.0f} s on {os.cpu_count()} idle cores",
            flush=True,
        )
    (where / "figures.json").write_text(json.dumps(figures, indent=1))
    return figures


def _print_search(search: dict[str, Any]) -> None:
    print(
        f"search process RSS: {search['rss_open']:.0f} MB open, {search['rss_snapshot']:.0f} MB with the"
        f" snapshot (first search {search['first_search_s']:.1f} s), peak {search['rss_peak']:.0f} MB"
    )
    print(f"{'query':34} {'p50 ms':>8} {'p99 ms':>8} {'matched':>9} {'CPU p50':>8} {'CPU p99':>8}")
    for name, (p50, p99, matched, cpu50, cpu99) in search["shapes"].items():
        cpu = f"{cpu50:8.1f} {cpu99:8.1f}" if cpu50 is not None else ""
        print(f"{name:34} {p50:8.1f} {p99:8.1f} {matched:9.0f} {cpu}", flush=True)


def table(all_figures: list[dict[str, Any]]) -> None:
    """Every size side by side."""
    sizes = [f"{f['n']:,}" for f in all_figures]
    rows: list[tuple[str, list[str]]] = [
        ("harvest rate, rec/s (no SHACL)", [f"{f['harvest_rate']:.0f}" for f in all_figures]),
        ("index size, MB", [f"{f['index_mb']:.0f}" for f in all_figures]),
        ("ledger size, MB", [f"{f['ledger_mb']:.0f}" for f in all_figures]),
    ]
    names = dict.fromkeys(name for f in all_figures for name in f.get("search", {}).get("shapes", {}))
    for name in names:
        cells = []
        for f in all_figures:
            shape = f.get("search", {}).get("shapes", {}).get(name)
            cpu = f" ({shape[4]:.1f})" if shape and shape[4] is not None else ""
            cells.append(f"{shape[0]:.1f} / {shape[1]:.1f}{cpu}" if shape else "-")
        rows.append((f"{name}, p50/p99 (CPU p99) ms", cells))
    rows += [
        ("search RSS with snapshot, MB", [_get(f, "search", "rss_snapshot", "{:.0f}") for f in all_figures]),
        ("search RSS peak, MB", [_get(f, "search", "rss_peak", "{:.0f}") for f in all_figures]),
        ("reindex wall time, s", [_get(f, "reindex", "seconds", "{:.0f}") for f in all_figures]),
        ("reindex rate, rec/s", [_get(f, "reindex", "rate", "{:.0f}") for f in all_figures]),
        ("reindex peak RSS, MB", [_get(f, "reindex", "VmHWM", "{:.0f}") for f in all_figures]),
        ("reindex CPU, main + workers, s", [_cpu(f) for f in all_figures]),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"\n{'':{width}} " + " ".join(f"{s:>22}" for s in sizes))
    for label, cells in rows:
        print(f"{label:{width}} " + " ".join(f"{c:>22}" for c in cells))


def _cpu(figures: dict[str, Any]) -> str:
    result = figures.get("reindex", {})
    return f"{result['main_cpu']:.0f} + {result['worker_cpu']:.0f}" if "main_cpu" in result else "-"


def _get(figures: dict[str, Any], part: str, key: str, form: str) -> str:
    value = figures.get(part, {}).get(key)
    return form.format(value) if value is not None else "-"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--workers", type=int, default=2, help="crosswalk processes (harvest and reindex)")
    parser.add_argument("--dir", type=Path, default=ROOT / "var" / "scale")
    parser.add_argument("--repeat", type=int, default=200, help="runs of each query shape")
    parser.add_argument(
        "--steps", nargs="*", default=["search", "reindex"], choices=["search", "reindex"],
        help="what to measure after the build (default: both)",
    )  # fmt: skip
    args = parser.parse_args()
    figures = [measure(n, args.dir / str(n), args.workers, args.repeat, set(args.steps)) for n in args.sizes]
    table(figures)


if __name__ == "__main__":
    main()
