"""JSON-LD rendering cost per record, on the real corpus records of every format (``tests/test_jsonld.py``).

``catalogue.jsonld`` writes the compact document straight from the ``Record`` and parses that document
when an rdflib graph is needed. This measures that choice against the other route, where a graph is the
source and the document is derived from it (rdflib serialises JSON-LD, pyld compacts it with our
context), so that the figures, not a guess, justify it:

- document: ``jsonld.document`` (what the API renders per record), then with ``json.dumps``;
- page: ``jsonld.documents`` of 100 records, serialised (an items response with ``f=jsonld``);
- graph: ``jsonld.graph`` (document + rdflib JSON-LD parser), and ``graph_of`` over pages of 100;
- other route: graph -> ``serialize(format="json-ld")`` -> ``pyld.jsonld.compact``, not counting the
  making of the graph itself.

Every figure is the best of ``--rounds`` passes over the corpus (a shared machine varies). Usage:
``python bench/jsonld.py [--rounds 3]``. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pyld import jsonld as pyld

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from catalogue import jsonld  # noqa: E402
from catalogue.record import Record  # noqa: E402
from tests.test_jsonld import corpus_records  # noqa: E402

PAGE = 100


def best_microseconds(work: Callable[[], Any], count: int, rounds: int) -> float:
    """The best of ``rounds`` runs of ``work``, per item of the ``count`` it handles, in µs."""
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return min(timings) / count * 1e6


def pages(records: Sequence[Record]) -> list[Sequence[Record]]:
    return [records[i : i + PAGE] for i in range(0, len(records), PAGE)]


def other_route(graphs: Sequence[Any]) -> None:
    for graph in graphs:
        expanded = json.loads(graph.serialize(format="json-ld"))
        pyld.compact(expanded, jsonld.CONTEXT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    records = [record for _, record in corpus_records()]
    n = len(records)
    graphs = [jsonld.graph(record) for record in records]
    triples = sum(len(graph) for graph in graphs) / n
    figures = {
        "document": best_microseconds(lambda: [jsonld.document(r) for r in records], n, args.rounds),
        "document + json.dumps": best_microseconds(
            lambda: [json.dumps(jsonld.document(r)) for r in records], n, args.rounds
        ),
        f"page of {PAGE} + json.dumps": best_microseconds(
            lambda: [json.dumps(jsonld.documents(page)) for page in pages(records)], n, args.rounds
        ),
        "graph (document + rdflib parse)": best_microseconds(
            lambda: [jsonld.graph(r) for r in records], n, args.rounds
        ),
        f"graph_of, pages of {PAGE}": best_microseconds(
            lambda: [jsonld.graph_of(page) for page in pages(records)], n, args.rounds
        ),
        "other route: graph -> json-ld -> pyld compact": best_microseconds(
            lambda: other_route(graphs), n, args.rounds
        ),
    }
    print(f"{n} corpus records, {triples:.0f} triples per record on average, best of {args.rounds} rounds")
    for name, microseconds in figures.items():
        print(f"{name:48} {microseconds:10.0f} µs/record")


if __name__ == "__main__":
    main()
