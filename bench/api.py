"""Search latency through the OGC API: concurrent ``/collections/catalogue/items`` requests against the
server ``terracat serve`` runs (``api.server.serve``: pygeoapi under waitress, or with ``--workers N``
N gunicorn worker processes), for N indexed records.

    .venv/bin/python -m bench.api [--sizes 10000 100000] [--clients 1 4] [--workers 1 2] [--requests 1000]

For each size, ``bench.store``'s generated records are indexed into a fresh file; for each number of
workers the server is started in a process of its own on 127.0.0.1 (so that the load generator does not
share its interpreter), and clients, each on a keep-alive connection of its own (which the workers of
``--workers 2`` and more close after each answer: the client connects again), fire a mix of the
searches a portal sends, every one with the facets its search page shows:

- ``q`` a common word of the titles (most records match), a rare one (a place, a year: a few percent),
  or two words as alternatives; half of them with a ``bbox``, some with a ``datetime`` interval;
- ``q`` with a pole or theme filter, and browsing by pole or theme (no ``q``) sorted by title;
- every request with ``facets=pole,type,theme,platform,license,year`` (the portal's), ``limit=10``.

The same requests are also timed against the store directly, in one thread (``store`` lines): what the
server adds is the rest. The first search after the index is written loads what the store keeps in
memory; the server does it before it answers (each worker for itself, as it starts), and the first
request is timed apart (``first request``: with several workers, the wait for the first worker to
start). The load generator shares the machine's cores with the server: with 2 cores, 2 workers and
more than one client, the clients' own CPU time is part of what is measured.
"""

from __future__ import annotations

import argparse
import http.client
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import msgspec

from bench.store import DATA_TERRA, PLACES, POLES, PORTAL_FACETS, generate
from catalogue.query import Query, parse_bbox, parse_datetime, parse_facets, parse_q, parse_sortby
from catalogue.stores.sqlite import SQLiteStore

FACETS = ",".join(f.name for f in PORTAL_FACETS)
COMMON = ["temperature", "surface", "carbon", "sol", "argo", "salinity", "mer", "monoxide"]
THEMES = ["ocean", "atmosphere", "solid-earth", "physical-oceanography", "geodesy"]


def requests_mix(rng: random.Random, n: int) -> list[dict[str, str]]:
    """``n`` parameter sets of the portal's searches (see the module docstring)."""
    out = []
    for _ in range(n):
        params: dict[str, str] = {"facets": FACETS, "limit": "10"}
        kind = rng.random()
        if kind < 0.3:
            params["q"] = rng.choice(COMMON)
        elif kind < 0.55:
            params["q"] = rng.choice([rng.choice(PLACES), str(rng.randint(1980, 2022))])
        elif kind < 0.65:
            params["q"] = f"{rng.choice(COMMON)},{rng.choice(PLACES)}"
        elif kind < 0.8:
            params["q"] = rng.choice(COMMON)
            params[rng.choice(["pole", "theme"])] = (
                rng.choice(list(POLES.values())) if rng.random() < 0.5 else DATA_TERRA + rng.choice(THEMES)
            )
        else:
            params["sortby"] = "title"
            if rng.random() < 0.5:
                params["pole"] = rng.choice(list(POLES.values()))
            else:
                params["theme"] = DATA_TERRA + rng.choice(THEMES)
        if rng.random() < 0.5:
            west, south = rng.uniform(-180, 140), rng.uniform(-60, 40)
            params["bbox"] = f"{west:.2f},{south:.2f},{west + 40:.2f},{south + 30:.2f}"
        if rng.random() < 0.2:
            params["datetime"] = f"{rng.randint(1990, 2015)}-01-01/.."
        out.append(params)
    return out


def as_query(params: dict[str, str]) -> Query:
    """The store query the provider makes of ``params`` (for the direct store figures)."""
    properties = {name: [params[name]] for name in ("pole", "theme") if name in params}
    return Query(
        q=parse_q(params.get("q")),
        bbox=parse_bbox(params.get("bbox")),
        time=parse_datetime(params.get("datetime")),
        properties=properties,
        sortby=parse_sortby(params.get("sortby")),
        facets=parse_facets(params["facets"]),
        limit=int(params["limit"]),
    )


def index(path: Path, n: int) -> float:
    """Index ``n`` generated records; seconds taken."""
    records = generate(n)
    started = time.perf_counter()
    with SQLiteStore(path=path) as store:
        for start in range(0, n, 1000):
            store.upsert(records[start : start + 1000])
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(path: Path, port: int, columns: bool, workers: int = 1) -> subprocess.Popen[bytes]:
    """``api.server.serve`` (what ``terracat serve --workers N`` runs) in a process of its own (and
    its workers'); returns once it answers. Its output goes to a file beside the index: a pipe nobody
    reads would stop a server that logs much."""
    settings = {"backend": "sqlite", "path": str(path), "columns": columns}
    code = f"from api.server import serve; serve({settings!r}, '127.0.0.1', {port}, workers={workers})"
    log = path.with_suffix(".log").open("w+b")
    server = subprocess.Popen([sys.executable, "-c", code], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                log.close()
                return server
        except OSError:
            if server.poll() is not None:
                log.seek(0)
                raise RuntimeError(log.read().decode() or "server died") from None
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("the server did not start within 2 minutes")


def fire(port: int, mix: list[dict[str, str]], clients: int) -> tuple[list[float], float, int]:
    """The mix shared among ``clients`` threads; (latencies in ms, wall seconds, failures)."""
    latencies: list[float] = []
    failures = [0]
    decode = msgspec.json.Decoder().decode  # the client's share of the two cores kept small
    lock = threading.Lock()
    cursor = iter(range(len(mix)))

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        while True:
            with lock:
                i = next(cursor, None)
            if i is None:
                break
            url = "/collections/catalogue/items?" + urlencode({**mix[i], "f": "json"})
            started = time.perf_counter()
            conn.request("GET", url)
            response = conn.getresponse()
            body = response.read()
            mine.append((time.perf_counter() - started) * 1000)
            if response.status != 200 or "facets" not in decode(body):
                with lock:
                    failures[0] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, time.perf_counter() - started, failures[0]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def line(label: str, latencies: list[float], seconds: float, failures: int = 0) -> str:
    return (
        f"{label:26} p50 {percentile(latencies, 50):6.1f} ms  p99 {percentile(latencies, 99):6.1f} ms"
        f"  {len(latencies) / seconds:7.0f} req/s  ({len(latencies)} requests"
        + (f", {failures} FAILED)" if failures else ")")
    )


def bench_size(
    n: int, clients: list[int], workers: list[int], count: int, workdir: Path, columns: bool, keep: bool
) -> None:
    path = workdir / f"api-{n}.db"
    if keep and path.exists():
        print(f"\n{n} records (index kept from an earlier run: {path})")
    else:
        path.unlink(missing_ok=True)
        seconds = index(path, n)
        print(f"\n{n} records (indexed in {seconds:.0f} s)")
    rng = random.Random(11)
    mix = requests_mix(rng, count)

    with SQLiteStore(path=path, columns=columns) as store:
        started = time.perf_counter()
        store.search(as_query(mix[0]))
        print(f"  store, first search: {(time.perf_counter() - started) * 1000:.0f} ms")
        timings = []
        started = time.perf_counter()
        for params in mix:
            query = as_query(params)
            begun = time.perf_counter()
            store.search(query)
            timings.append((time.perf_counter() - begun) * 1000)
        print("  " + line("store, 1 thread", timings, time.perf_counter() - started))

    for processes in workers:
        port = free_port()
        server = start_server(path, port, columns, processes)
        label = f"{processes} worker{'s' if processes > 1 else ''}"
        try:
            first, _, failed = fire(port, mix[:1], 1)
            print(f"  {label}, first request: {first[0]:.0f} ms" + (" FAILED" if failed else ""))
            fire(port, requests_mix(random.Random(5), 100), 2)  # warm-up (connections, pygeoapi)
            for c in clients:
                latencies, wall, failures = fire(port, mix, c)
                runs = f"API, {label}, {c} client{'s' if c > 1 else ''}"
                print("  " + line(runs, latencies, wall, failures))
        finally:
            server.terminate()
            server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], help="records to index")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4], help="concurrent clients")
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="server processes (terracat serve --workers)"
    )
    parser.add_argument("--requests", type=int, default=1000, help="requests per run")
    parser.add_argument("--workdir", type=Path, help="where the index files go (default: a temporary dir)")
    parser.add_argument(
        "--keep-index", action="store_true", help="with --workdir: search an index an earlier run left there"
    )
    parser.add_argument("--sql", action="store_true", help="search in SQL only (store option columns: false)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        print(f"mix: {args.requests} requests, facets={FACETS}, 2-core figures vary by tens of percent")
        for n in args.sizes:
            bench_size(n, args.clients, args.workers, args.requests, workdir, not args.sql, args.keep_index)


if __name__ == "__main__":
    main()
