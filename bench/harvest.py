"""Harvest throughput, printed side by side for N records (``make bench``).

For each N, N distinct ISO 19139 records are made from the real corpus (``bench/records.py``), loaded into
a local pycsw, and four things are timed on the same records:

- download: merely fetching the same GetRecords pages from pycsw (the source's own speed, the floor of
  any CSW harvest); download and CSW harvest are each the best of two alternating runs;
- csw harvest: terracat's harvest end to end over CSW from that pycsw, into a fresh index;
- directory harvest: the same records read from a folder (our own processing rate: parse, crosswalk,
  index, ledger);
- lxml parse: plain ``lxml.etree.fromstring`` of the same bytes (the ceiling of any XML pipeline).

Usage: ``python bench/harvest.py [--sizes 1000 10000] [--page-size 100] [--workdir DIR]``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests
from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.cli import harvest  # noqa: E402
from api.settings import load  # noqa: E402
from bench.records import generate  # noqa: E402
from harvester.protocols.csw import GMD_NS, request_body  # noqa: E402
from tests.fixtures.pycsw_server import start_pycsw  # noqa: E402

CORPUS = ROOT / "config" / "demo" / "records" / "iso19139"
_NEXT = re.compile(rb'nextRecord="(\d+)"')
_MATCHED = re.compile(rb'numberOfRecordsMatched="(\d+)"')


def timed(func: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def download(url: str, page_size: int) -> tuple[int, int]:
    """Fetch every GetRecords page as the CSW harvester asks for them; returns (pages, bytes)."""
    pages = size = 0
    start = 1
    with requests.Session() as session:
        session.headers["Content-Type"] = "application/xml"
        while start:
            body = request_body(start, page_size, GMD_NS, "gmd:MD_Metadata", sort=True)
            content = session.post(url, data=body, timeout=120).content
            pages, size = pages + 1, size + len(content)
            head = content[:4096]
            next_match, matched = _NEXT.search(head), _MATCHED.search(head)
            if not next_match or not matched:
                raise RuntimeError(f"unexpected GetRecords response: {head[:300]!r}")
            next_record = int(next_match.group(1))
            start = next_record if 0 < next_record <= int(matched.group(1)) else 0
    return pages, size


def run_harvest(workdir: Path, source_yaml: str) -> None:
    """terracat's harvest of one source into a fresh index and ledger (it prints its summary line)."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    config = workdir / "terracat.yaml"
    config.write_text(
        "store: {backend: sqlite, path: var/catalogue.db}\n"
        "harvest: {ledger: var/harvest.db}\n"
        f"sources:\n{source_yaml}",
        encoding="utf-8",
    )
    settings = load(config)
    (summary,) = harvest(settings, settings.sources)
    if summary.status != "succeeded":
        raise RuntimeError(summary.line())


def parse_all(contents: list[bytes]) -> int:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return sum(1 for content in contents if etree.fromstring(content, parser) is not None)


def bench(n: int, page_size: int, workdir: Path) -> dict[str, float]:
    records = workdir / f"records-{n}"
    if not records.exists() or len(list(records.glob("*.xml"))) != n:
        generate(CORPUS, records, n)
    contents = [p.read_bytes() for p in sorted(records.glob("*.xml"))]
    print(f"\nN={n}: {sum(map(len, contents)) / 1e6:.1f} MB of XML; loading pycsw...", flush=True)
    url, stop = start_pycsw(records, workdir / f"pycsw-{n}", maxrecords=max(page_size, 1000))
    try:
        download(url, page_size)  # warm-up: pycsw's first queries pay for its caches
        # Best of two, alternating: on a shared 2-core machine a single sample varies by tens of percent.
        t_download = t_csw = float("inf")
        csw_yaml = f"  - {{id: bench-csw, pole: ODATIS, protocol: csw, url: '{url}', page_size: {page_size}}}"
        for _ in range(2):
            seconds, (pages, size) = timed(lambda: download(url, page_size))
            t_download = min(t_download, seconds)
            seconds, _ = timed(lambda: run_harvest(workdir / f"csw-{n}", csw_yaml + "\n"))
            t_csw = min(t_csw, seconds)
        print(f"  download: {pages} pages, {size / 1e6:.1f} MB", flush=True)
    finally:
        stop()
    t_dir, _ = timed(
        lambda: run_harvest(
            workdir / f"dir-{n}",
            f"  - {{id: bench-dir, pole: ODATIS, protocol: directory, path: '{records}',"
            f" page_size: {page_size}}}\n",
        )
    )
    t_parse, _ = timed(lambda: parse_all(contents))
    return {"download": t_download, "csw harvest": t_csw, "directory harvest": t_dir, "lxml parse": t_parse}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="terracat-bench-"))
    results = {n: bench(n, args.page_size, workdir) for n in args.sizes}

    print(f"\nHarvest throughput, page size {args.page_size} (seconds, records/s)")
    names = ["download", "csw harvest", "directory harvest", "lxml parse"]
    print(f"{'N':>7}  " + "  ".join(f"{name:>22}" for name in names) + "  csw/download")
    for n, times in results.items():
        cells = "  ".join(f"{times[k]:8.2f} s {n / times[k]:8.0f}/s" for k in names)
        print(f"{n:>7}  {cells}  {times['csw harvest'] / times['download']:11.2f}x")


if __name__ == "__main__":
    main()
