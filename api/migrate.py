"""``terracat migrate``: copy a catalogue (index and harvest ledger) into another backend.

The way from the embedded catalogue to Elasticsearch (``--to elasticsearch --url URL``), or to another
SQLite folder (``--to sqlite --path DIR``). The index is copied with ``Store.scan`` into the target's
``Store.rebuild``: the records keep their indexing order, so every duplicate group keeps its primary.
The ledger is copied with ``Ledger.dump`` into ``Ledger.load``: run ids, event order, raw bytes and
digests (so the next harvest finds unchanged records unchanged), listings, watermarks and the unmapped
report. Every source's lock is held meanwhile, so no harvest writes during the copy. The counts are
compared after, and the config to switch to is printed: the config in use is never rewritten.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import yaml

from api import settings as config
from catalogue.query import Query
from catalogue.store import Store, open_store
from harvester.ledger import KINDS, Ledger, describe, ledger_exists, open_ledger
from harvester.run import RunOverlap, source_lock

TARGETS = ("elasticsearch", "sqlite")
_CONNECTION = ("username", "password_env", "api_key_env", "ca_certs")


def add_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--to", required=True, choices=TARGETS, help="the backend to copy into")
    sub.add_argument("--url", help="elasticsearch: the cluster, http(s)://host:9200 (nodes comma-separated)")
    sub.add_argument("--prefix", default="terracat", help="elasticsearch: prefix of the index names")
    sub.add_argument("--username", help="elasticsearch: basic auth user (with --password-env)")
    sub.add_argument("--password-env", help="elasticsearch: environment variable holding the password")
    sub.add_argument("--api-key-env", help="elasticsearch: environment variable holding an API key")
    sub.add_argument("--ca-certs", help="elasticsearch: CA bundle of the cluster's certificate")
    sub.add_argument("--path", help="sqlite: the folder to write catalogue.db and harvest.db into")


def targets(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any] | str]:
    """The target's ``store:`` section and ``harvest.ledger`` value; ``ValueError`` when the command line
    does not name one."""
    if args.to == "sqlite":
        if not args.path or args.url:
            raise ValueError("--to sqlite takes --path DIR (and no --url)")
        folder = Path(args.path).expanduser().resolve()
        return {"backend": "sqlite", "path": str(folder / "catalogue.db")}, str(folder / "harvest.db")
    if not args.url or args.path:
        raise ValueError("--to elasticsearch takes --url URL (and no --path)")
    options: dict[str, Any] = {"url": args.url, "prefix": args.prefix}
    options |= {key: getattr(args, key) for key in _CONNECTION if getattr(args, key) is not None}
    return {"backend": "elasticsearch", **options}, {"backend": "elasticsearch", **options}


def run(args: argparse.Namespace) -> int:
    """Exit 0 when everything was copied and the counts match; 1 when the copy was refused (a harvest
    runs, the target is not empty) or the counts differ; 2 for a wrong command line."""
    settings = config.load(args.config)
    try:
        store_target, ledger_target = targets(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if store_target == settings.store or ledger_target == settings.harvest.ledger:
        print("error: the target is the catalogue itself", file=sys.stderr)
        return 2
    has_ledger = ledger_exists(settings.harvest.ledger)
    with ExitStack() as stack:
        source_store = stack.enter_context(open_store(settings.store))
        target_store = stack.enter_context(open_store(store_target))
        source_ledger = stack.enter_context(open_ledger(settings.harvest.ledger)) if has_ledger else None
        target_ledger = stack.enter_context(open_ledger(ledger_target))
        if problem := _not_empty(target_store, target_ledger):
            print(f"error: the target already holds {problem}: migrate into an empty one", file=sys.stderr)
            return 1
        try:
            if source_ledger is not None:  # no harvest writes while the copy runs
                sources = {s.id for s in settings.sources} | set(source_ledger.source_ids())
                for source_id in sorted(sources):
                    stack.enter_context(source_lock(source_ledger, source_id))
        except RunOverlap as exc:
            print(f"error: migrate refused: {exc}; run it when the harvest has finished", file=sys.stderr)
            return 1
        copied = target_store.rebuild(source_store.scan(), decoded=True)
        print(f"index: {copied} records copied into {args.to}", flush=True)
        if source_ledger is not None:
            target_ledger.load(source_ledger.dump())
            tally = target_ledger.tally()
            print("ledger: " + ", ".join(f"{tally[kind]} {kind}" for kind in KINDS), flush=True)
        else:
            print(f"ledger: none at {describe(settings.harvest.ledger)}, nothing to copy")
        differences = _compare(source_store, target_store, source_ledger, target_ledger)
    if differences:
        for line in differences:
            print(f"error: {line}", file=sys.stderr)
        return 1
    print("verified: the target holds as many records, duplicates, runs, raws, events and keywords")
    print("\nTo switch to it, set in the config:\n")
    snippet = {"store": store_target, "harvest": {"ledger": ledger_target}}
    print(yaml.safe_dump(snippet, sort_keys=False, default_flow_style=None, allow_unicode=True), end="")
    return 0


def _not_empty(store: Store, ledger: Ledger) -> str | None:
    if records := store.count():
        return f"{records} records"
    tally = ledger.tally()
    if any(tally.values()):
        return "a harvest ledger (" + ", ".join(f"{n} {kind}" for kind, n in tally.items() if n) + ")"
    return None


def _compare(source: Store, target: Store, ledger: Ledger | None, copy: Ledger) -> list[str]:
    """What the target does not hold as the catalogue does: records, records served (duplicates are
    not), and each kind of ledger entry."""
    out = []
    pairs = {
        "records": (source.count(), target.count()),
        "records served (duplicates left out)": (
            source.search(Query(limit=0)).matched,
            target.search(Query(limit=0)).matched,
        ),
    }
    if ledger is not None:
        before, after = ledger.tally(), copy.tally()
        pairs |= {f"ledger {kind}": (before[kind], after[kind]) for kind in KINDS}
    for what, (expected, found) in pairs.items():
        if expected != found:
            out.append(f"{what}: {expected} in the catalogue, {found} in the target")
    return out
