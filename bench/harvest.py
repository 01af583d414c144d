"""Harvest throughput per protocol, printed side by side for N records (``make bench``).

For each N, N distinct ISO 19139 records are made from the real corpus (``bench/records.py``) and loaded
into a local pycsw, which serves them over CSW and OAI-PMH; N STAC items made from the corpus items are
served by the tests' STAC API server. Each protocol is timed twice on the same records:

- download: merely fetching the same pages with plain ``requests`` (the source's own speed, the floor of
  any harvest over that protocol);
- harvest: terracat's harvest end to end (listing, crosswalk, enrichment, FAIR rating, index, ledger)
  into a fresh index: the time until every record is searchable;
- validation: the SHACL validation the run does next, once its records are searchable (printed apart);

each the best of two alternating runs (a shared 2-core machine varies by tens of percent). Then:

- directory harvest: the ISO records read from a folder (our own processing rate);
- parse: plain ``lxml.etree.fromstring`` of the ISO records, ``msgspec`` decoding of the STAC items (the
  ceiling of any pipeline over those payloads).

Usage: ``python bench/harvest.py [--sizes 1000 10000] [--page-size 100] [--workdir DIR]``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
import requests
from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.cli import harvest  # noqa: E402
from api.settings import load  # noqa: E402
from bench.records import generate  # noqa: E402
from harvester.protocols.csw import OUTPUTS, request_body  # noqa: E402
from harvester.run import RunSummary  # noqa: E402
from tests.fixtures.pycsw_server import start_pycsw  # noqa: E402
from tests.fixtures.stac_server import StacApi, stac_collections, stac_features  # noqa: E402

CORPUS = ROOT / "config" / "demo" / "records" / "iso19139"
_NEXT = re.compile(rb'nextRecord="(\d+)"')
_MATCHED = re.compile(rb'numberOfRecordsMatched="(\d+)"')
_TOKEN = re.compile(rb"<(?:\w+:)?resumptionToken[^>]*>([^<]*)</")
_HEADER = re.compile(rb"<(?:\w+:)?header[ >]")
_COMPLETE = re.compile(rb'completeListSize="(\d+)"')


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
            body = request_body("2.0.2", start, page_size, OUTPUTS["iso19139"], sort=True)
            content = session.post(url, data=body, timeout=120).content
            pages, size = pages + 1, size + len(content)
            head = content[:4096]
            next_match, matched = _NEXT.search(head), _MATCHED.search(head)
            if not next_match or not matched:
                raise RuntimeError(f"unexpected GetRecords response: {head[:300]!r}")
            next_record = int(next_match.group(1))
            start = next_record if 0 < next_record <= int(matched.group(1)) else 0
    return pages, size


def download_oai(url: str) -> tuple[int, int]:
    """Fetch every ListRecords page of pycsw's OAI-PMH (which wants metadataPrefix beside the token and
    ends its listings with the token "0"); returns (pages, bytes)."""
    pages = size = received = 0
    params = {"mode": "oaipmh", "verb": "ListRecords", "metadataPrefix": "iso19139"}
    with requests.Session() as session:
        while True:
            content = session.get(url, params=params, timeout=120).content
            pages, size = pages + 1, size + len(content)
            received += len(_HEADER.findall(content))
            token, complete = _TOKEN.search(content), _COMPLETE.search(content)
            if not token or not token.group(1) or (complete and received >= int(complete.group(1))):
                if complete and received < int(complete.group(1)):
                    raise RuntimeError(
                        f"OAI-PMH listing ended after {received} of {complete.group(1)} records"
                    )
                return pages, size
            params = {**params, "resumptionToken": token.group(1).decode()}


def download_stac(url: str, page_size: int) -> tuple[int, int]:
    """Follow the item search's next links with plain requests; returns (pages, bytes)."""
    pages = size = 0
    next_url: str | None = f"{url}/search?collections=bench&limit={page_size}"
    with requests.Session() as session:
        while next_url:
            content = session.get(next_url, timeout=120).content
            pages, size = pages + 1, size + len(content)
            links = json.loads(content).get("links", [])
            next_url = next((link["href"] for link in links if link.get("rel") == "next"), None)
    return pages, size


def stac_api(n: int) -> StacApi:
    """The tests' STAC API holding one collection of ``n`` items made from the corpus items."""
    templates = stac_features()
    collection = {**next(iter(stac_collections().values())), "id": "bench"}
    items = [
        {**template, "id": f"{template['id']}-{i}", "collection": "bench"}
        for i, template in ((i, templates[i % len(templates)]) for i in range(n))
    ]
    api = StacApi()
    api.collections = {"bench": collection}
    api.items = {"bench": items}
    return api


def best_of_two(
    download: Callable[[], object], harvest_: Callable[[], RunSummary]
) -> tuple[float, float, float]:
    """(download, harvest, validation) seconds, each the best of two alternating runs."""
    t_download = t_harvest = t_validation = float("inf")
    for _ in range(2):
        t_download = min(t_download, timed(download)[0])
        seconds, summary = timed(harvest_)
        t_harvest = min(t_harvest, seconds - summary.validation_seconds)
        t_validation = min(t_validation, summary.validation_seconds)
    return t_download, t_harvest, t_validation


def run_harvest(workdir: Path, source_yaml: str) -> RunSummary:
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
    return summary


def parse_all(contents: list[bytes]) -> int:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return sum(1 for content in contents if etree.fromstring(content, parser) is not None)


def bench(n: int, page_size: int, workdir: Path) -> dict[str, float]:
    records = workdir / f"records-{n}"
    if not records.exists() or len(list(records.glob("*.xml"))) != n:
        generate(CORPUS, records, n)
    contents = [p.read_bytes() for p in sorted(records.glob("*.xml"))]
    print(f"\nN={n}: {sum(map(len, contents)) / 1e6:.1f} MB of XML; loading pycsw...", flush=True)
    times: dict[str, float] = {}
    url, stop = start_pycsw(records, workdir / f"pycsw-{n}", maxrecords=page_size)
    try:
        download(url, page_size)  # warm-up: pycsw's first queries pay for its caches
        csw = f"  - {{id: bench-csw, pole: ODATIS, protocol: csw, url: '{url}', page_size: {page_size}}}\n"
        times["csw download"], times["csw harvest"], times["csw validation"] = best_of_two(
            lambda: download(url, page_size), lambda: run_harvest(workdir / f"csw-{n}", csw)
        )
        oai = f"  - {{id: bench-oai, pole: ODATIS, protocol: oai-pmh, url: '{url}?mode=oaipmh'}}\n"
        times["oai download"], times["oai harvest"], times["oai validation"] = best_of_two(
            lambda: download_oai(url), lambda: run_harvest(workdir / f"oai-{n}", oai)
        )
    finally:
        stop()
    api = stac_api(n)
    try:
        stac = (
            f"  - {{id: bench-stac, pole: THEIA, protocol: stac, format: stac, url: '{api.url}',"
            f" collections: [bench], page_size: {page_size}}}\n"
        )
        times["stac download"], times["stac harvest"], times["stac validation"] = best_of_two(
            lambda: download_stac(api.url, page_size), lambda: run_harvest(workdir / f"stac-{n}", stac)
        )
        items = [msgspec.json.encode(item) for item in api.items["bench"]]
    finally:
        api.close()
    directory = (
        f"  - {{id: bench-dir, pole: ODATIS, protocol: directory, path: '{records}',"
        f" page_size: {page_size}}}\n"
    )
    seconds, summary = timed(lambda: run_harvest(workdir / f"dir-{n}", directory))
    times["directory harvest"] = seconds - summary.validation_seconds
    times["directory validation"] = summary.validation_seconds
    times["lxml parse"], _ = timed(lambda: parse_all(contents))
    times["json decode"], _ = timed(lambda: [msgspec.json.decode(item) for item in items])
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="terracat-bench-"))
    results = {n: bench(n, args.page_size, workdir) for n in args.sizes}

    print(f"\nHarvest throughput, page size {args.page_size} (seconds, records/s)")
    for n, times in results.items():
        print(f"N={n}")
        for protocol in ("csw", "oai", "stac"):
            download_s, harvest_s = times[f"{protocol} download"], times[f"{protocol} harvest"]
            validation_s = times[f"{protocol} validation"]
            print(
                f"  {protocol:<5} download {download_s:7.2f} s {n / download_s:7.0f}/s"
                f"   harvest {harvest_s:7.2f} s {n / harvest_s:7.0f}/s"
                f"   harvest/download {harvest_s / download_s:.2f}x"
                f"   then validation {validation_s:6.2f} s {n / validation_s:5.0f}/s"
            )
        for name in ("directory harvest", "directory validation", "lxml parse", "json decode"):
            print(f"  {name:<18} {times[name]:7.2f} s {n / times[name]:9.0f}/s")


if __name__ == "__main__":
    main()
