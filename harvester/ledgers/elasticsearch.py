"""The Elasticsearch ledger: the harvest state in small indexes of the cluster that holds the catalogue,
so that a deployment on Elasticsearch needs no other engine (and harvesters on several machines share
one memory).

Indexes (``{prefix}`` defaults to ``terracat``; one shard each, a replica once the cluster has a second
node), every mapping ``strict`` so a malformed document is refused rather than guessed:

- ``{prefix}-runs``: a run per document, ``_id`` the run id. A new id is the highest one + 1, claimed
  with ``op_type=create``: a conflict means another process claimed it, and the next is tried, so ids
  are unique and increasing without a counter document.
- ``{prefix}-raw``: a raw record per document (``_id`` the record id); the bytes zlib-compressed then
  base64 in a ``binary`` field, never indexed.
- ``{prefix}-events``: a record status per document; ``seq`` (a per-process monotonic nanosecond clock:
  one process writes a run's events, under the source's lock) keeps the filing order.
- ``{prefix}-listings``: per source, its watermark and its open listing (checkpoint as JSON text).
- ``{prefix}-seen``: the records a source's open listing has seen.
- ``{prefix}-unmapped``: per record, its unmapped keywords (``nested``, aggregated by a ``composite``
  aggregation, exact whatever their number).
- ``{prefix}-locks``: a source's lock is a lease: a document created with ``op_type=create``, renewed
  by a thread every ``lock_ttl / 3`` seconds and deleted on release; one whose holder died expires after
  ``lock_ttl`` seconds and is then taken over (with ``if_seq_no``/``if_primary_term``, so two takers
  cannot both win). The hosts' clocks must agree within a fraction of ``lock_ttl`` (NTP).

Writes use ``refresh`` (``"true"`` by default: a read right after a write sees it, as the contract
requires; ``"wait_for"`` costs less refreshing but adds up to a second per write). Elasticsearch has no
transaction over several documents: ``save`` writes the batch's documents in bulk requests (of
``_PAGE`` operations) and only then moves the listing's checkpoint, so that a run killed between the
two resumes from the previous checkpoint and re-reads records it had already stored (harmless: they
are then unchanged), never skips any. ``begin_listing`` opens the new listing before it forgets what
the old one had seen: a crash between the two leaves records marked seen, which can only spare records
from deletion, never delete one.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import logging
import os
import socket
import threading
import time
import uuid
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from harvester.ledger import (
    Entry,
    Event,
    Known,
    Ledger,
    Listing,
    RunInfo,
    RunOverlap,
    StoredEvent,
    StoredListing,
    StoredRaw,
    StoredSeen,
    StoredUnmapped,
    UnmappedRow,
    utc_now,
)
from harvester.raw import RawRecord

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

log = logging.getLogger(__name__)

_PAGE = 1000  # documents per search page and per bulk request
_MAX_ID_BYTES = 512  # Elasticsearch's limit on a document _id
_BULK_RETRIES = 5  # of the operations a bulk request's answer refuses with 429
Operation = list[dict[str, Any]]  # a bulk action line, and its document unless it deletes

_STORED = {"type": "keyword", "index": False, "doc_values": False}  # kept in _source, never searched
_OPAQUE = {"type": "object", "enabled": False}

MAPPINGS: dict[str, dict[str, Any]] = {
    "runs": {
        "id": {"type": "long"},
        "source_id": {"type": "keyword"},
        "started": {"type": "keyword"},
        "finished": _STORED,
        "status": {"type": "keyword"},
        "listing_complete": {"type": "boolean"},
        "matched": {"type": "long"},
        "counts": _OPAQUE,
        "error": _STORED,
        "kind": {"type": "keyword"},
        "resumed_from": {"type": "long"},
        "notes": _STORED,
    },
    "raw": {
        "record_id": {"type": "keyword"},
        "source_id": {"type": "keyword"},
        "source_key": {"type": "keyword"},
        "format": {"type": "keyword"},
        "digest": {"type": "keyword"},
        "content": {"type": "binary"},  # zlib then base64; binary fields are never indexed
        "datestamp": _STORED,
        "run_id": {"type": "long"},
    },
    "events": {
        "run_id": {"type": "long"},
        "seq": {"type": "long"},
        "record_id": {"type": "keyword"},
        "locator": _STORED,
        "status": {"type": "keyword"},
        "code": {"type": "keyword"},
        "message": _STORED,
    },
    "listings": {
        "source_id": {"type": "keyword"},
        "watermark": _STORED,
        "listing": _OPAQUE,  # run_id, kind, since, watermark, checkpoint (JSON text), received
    },
    "seen": {
        "source_id": {"type": "keyword"},
        "record_id": {"type": "keyword"},
    },
    "unmapped": {
        "record_id": {"type": "keyword"},
        "source_id": {"type": "keyword"},
        "keywords": {
            "type": "nested",
            "properties": {
                "source_id": {"type": "keyword"},
                "label": {"type": "keyword"},
                "thesaurus": {"type": "keyword"},
            },
        },
    },
    "locks": {
        "source_id": {"type": "keyword"},
        "owner": {"type": "keyword"},
        "holder": _STORED,
        "expires": {"type": "double"},
    },
}

# painless scripts of the listing updates, applied atomically by the shard holding the document
_PROGRESS = (
    "if (ctx._source.listing == null) { ctx.op = 'noop'; return; }"
    " ctx._source.listing.received += params.received;"
    " if (params.checkpoint != null) { ctx._source.listing.checkpoint = params.checkpoint; }"
)
_OPEN = "ctx._source.listing = params.listing"
_SERVER_TIME = (
    "if (ctx._source.listing == null) { ctx.op = 'noop'; return; }"
    " ctx._source.listing.watermark = params.watermark;"
)
_CLOSE = "ctx._source.watermark = params.watermark; ctx._source.listing = null;"
_INTERRUPT = "ctx._source.status = 'interrupted'"


class LedgerError(Exception):
    """Elasticsearch refused part of a write (the first reason given)."""


def doc_id(key: str) -> str:
    """A document ``_id`` for ``key``: itself when it fits Elasticsearch's 512 bytes, else its SHA-256
    (the key stays in the document; a catalogue never has two keys with one digest)."""
    if 0 < len(key.encode()) <= _MAX_ID_BYTES:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def index_body(kind: str, replicas: str) -> dict[str, Any]:
    """The ``indices.create`` body of one of the ledger's indexes."""
    return {
        "settings": {"number_of_shards": 1, "auto_expand_replicas": replicas},
        "mappings": {"dynamic": "strict", "properties": MAPPINGS[kind]},
    }


def raw_document(run_id: int, record_id: str, key: str, raw: RawRecord) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "source_id": raw.source_id,
        "source_key": key,
        "format": raw.format,
        "digest": raw.digest,
        "content": base64.b64encode(zlib.compress(raw.content, 1)).decode("ascii"),
        "datestamp": raw.datestamp,
        "run_id": run_id,
    }


def raw_of(document: Mapping[str, Any]) -> RawRecord:
    """The ``RawRecord`` a raw document holds, as ``Ledger.raw`` returns it."""
    return RawRecord(
        source_id=document["source_id"],
        format=document["format"],
        content=zlib.decompress(base64.b64decode(document["content"])),
        native_id=document["source_key"],
        datestamp=document["datestamp"],
        locator=document["record_id"],
    )


def run_document(run: RunInfo) -> dict[str, Any]:
    return msgspec.to_builtins(run)


def run_of(document: Mapping[str, Any]) -> RunInfo:
    return msgspec.convert(document, RunInfo)


def event_document(run_id: int, seq: int, event: Event) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "seq": seq,
        "record_id": event.record_id,
        "locator": event.locator,
        "status": event.status,
        "code": event.code,
        "message": event.message,
    }


def event_of(document: Mapping[str, Any]) -> Event:
    return Event(
        document["record_id"], document["locator"], document["status"], document["code"], document["message"]
    )


def listing_document(listing: Listing) -> dict[str, Any]:
    checkpoint = None if listing.checkpoint is None else msgspec.json.encode(listing.checkpoint).decode()
    return {
        "run_id": listing.run_id,
        "kind": listing.kind,
        "since": listing.since,
        "watermark": listing.watermark,
        "checkpoint": checkpoint,
        "received": listing.received,
    }


def listing_of(document: Mapping[str, Any] | None) -> Listing | None:
    if document is None:
        return None
    checkpoint = document.get("checkpoint")
    return Listing(
        document["run_id"],
        document["kind"],
        document.get("since"),
        document["watermark"],
        None if checkpoint is None else msgspec.json.decode(checkpoint),
        document.get("received", 0),
    )


def unmapped_document(record_id: str, source_id: str, keywords: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "source_id": source_id,
        "keywords": [
            {"source_id": source_id, "label": label, "thesaurus": cited} for label, cited in keywords
        ],
    }


def unmapped_aggregation(after: Mapping[str, Any] | None) -> dict[str, Any]:
    """A page of the (source, label, thesaurus) groups of the unmapped keywords, counted: a ``composite``
    aggregation under ``nested``, paged with ``after`` so every group is counted exactly."""
    composite: dict[str, Any] = {
        "size": _PAGE,
        "sources": [
            {"source": {"terms": {"field": "keywords.source_id"}}},
            {"label": {"terms": {"field": "keywords.label"}}},
            {"thesaurus": {"terms": {"field": "keywords.thesaurus"}}},
        ],
    }
    if after is not None:
        composite["after"] = dict(after)
    return {"keywords": {"nested": {"path": "keywords"}, "aggs": {"groups": {"composite": composite}}}}


def most_frequent(groups: Iterable[Mapping[str, Any]], limit: int) -> list[UnmappedRow]:
    """``Ledger.unmapped``'s rows from the composite buckets: most records first, then by source, label
    and thesaurus."""
    rows = [(g["key"]["source"], g["key"]["label"], g["key"]["thesaurus"], g["doc_count"]) for g in groups]
    rows.sort(key=lambda row: (-row[3], row[0], row[1], row[2]))
    return rows[:limit]


def bulk_errors(response: Mapping[str, Any]) -> list[str]:
    """The reasons of the items a bulk request refused (deleting a missing document is no error)."""
    reasons = []
    for item in response.get("items", ()):
        ((action, result),) = item.items()
        if "error" in result:
            error = result["error"]
            reason = error.get("reason", error) if isinstance(error, dict) else error
            reasons.append(f"{action} {result.get('_index')}/{result.get('_id')}: {reason}")
    return reasons


def _status(item: Mapping[str, Any]) -> int:
    ((_, result),) = item.items()
    return int(result.get("status", 200))


class _Clock:
    """Event sequence numbers: nanoseconds since the epoch, strictly increasing within the process."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            self._last = max(self._last + 1, time.time_ns())
            return self._last


class ElasticsearchLedger(Ledger):
    """The ledger in the cluster at ``url``. Connection options are ``es_client``'s (secrets are read
    from the environment variables they name); ``prefix`` names the indexes; ``replicas`` is their
    ``auto_expand_replicas``; ``lock_ttl`` (seconds) how long a dead harvester's lock blocks its source;
    ``cache_dir`` the folder on this machine for compiled thesauri."""

    def __init__(
        self,
        url: str,
        prefix: str = "terracat",
        username: str | None = None,
        password_env: str | None = None,
        api_key_env: str | None = None,
        verify_certs: bool = True,
        ca_certs: str | None = None,
        timeout: float = 30.0,
        refresh: str = "true",
        replicas: str = "0-1",
        lock_ttl: float = 120.0,
        cache_dir: str = "var",
    ) -> None:
        from catalogue.stores.elasticsearch import check_naming  # imported only when this ledger is used

        check_naming(prefix, refresh)
        if lock_ttl < 3:
            raise ValueError(f"lock_ttl must be at least 3 seconds, got {lock_ttl}")
        self.client = _client(
            url,
            username=username,
            password_env=password_env,
            api_key_env=api_key_env,
            verify_certs=verify_certs,
            ca_certs=ca_certs,
            timeout=timeout,
        )
        self.prefix = prefix
        self.refresh = refresh
        self.lock_ttl = lock_ttl
        self._clock = _Clock()
        self.index = {kind: f"{prefix}-{kind}" for kind in MAPPINGS}
        for kind, name in self.index.items():
            if not self.client.indices.exists(index=name):
                from elasticsearch import BadRequestError

                try:
                    self.client.indices.create(index=name, **index_body(kind, replicas))
                except BadRequestError as exc:  # created meanwhile by another process
                    if exc.error != "resource_already_exists_exception":
                        raise

    @staticmethod
    def exists(url: str, prefix: str = "terracat", **options: Any) -> bool:
        connection = {k: v for k, v in options.items() if k in _CLIENT_OPTIONS}
        client = _client(url, **connection)
        try:
            return bool(client.indices.exists(index=f"{prefix}-runs"))
        finally:
            client.close()

    @staticmethod
    def local_dir(url: str, cache_dir: str = "var", **options: Any) -> Path:
        return Path(cache_dir)

    def close(self) -> None:
        self.client.close()

    # helpers --------------------------------------------------------------------------------------

    def _get(self, kind: str, key: str) -> dict[str, Any] | None:
        from elasticsearch import NotFoundError

        try:
            return self.client.get(index=self.index[kind], id=doc_id(key))["_source"]
        except NotFoundError:
            return None

    def _hits(
        self,
        kind: str,
        query: Mapping[str, Any],
        sort: list[Any],
        *,
        source: Any = True,
        size: int = _PAGE,
    ) -> Iterator[list[dict[str, Any]]]:
        """Every document ``query`` matches in ``sort`` order (which must be unique per document), a page
        of ``size`` at a time, paged with ``search_after`` (no 10 000 limit)."""
        after = None
        while True:
            response = self.client.search(
                index=self.index[kind],
                query=dict(query),
                sort=sort,
                size=size,
                source=source,
                search_after=after,
                track_total_hits=False,
            )
            hits = response["hits"]["hits"]
            if not hits:
                return
            yield [hit["_source"] for hit in hits]
            if len(hits) < size:
                return
            after = hits[-1]["sort"]

    def _bulk(self, operations: list[Operation]) -> None:
        """Bulk requests of at most ``_PAGE`` operations each. A busy cluster answers a bulk request
        200 and refuses some of its operations with 429 (the client's own retries only cover a request
        refused whole): those are sent again, after a growing pause, ``_BULK_RETRIES`` times at most."""
        for start in range(0, len(operations), _PAGE):
            pending = operations[start : start + _PAGE]
            for attempt in range(_BULK_RETRIES + 1):
                if attempt:
                    time.sleep(min(30.0, 2.0 ** (attempt - 1)))
                chunk = [line for operation in pending for line in operation]
                response = self.client.bulk(operations=chunk, refresh=self.refresh)
                items = zip(pending, response["items"], strict=True)
                busy = [operation for operation, item in items if _status(item) == 429]
                errors = bulk_errors(response)
                if not busy or attempt == _BULK_RETRIES or len(busy) < len(errors):
                    break
                pending = busy
            if errors:
                raise LedgerError(f"{len(errors)} ledger writes refused, first: {errors[0]}")

    def _index_op(self, kind: str, key: str, document: dict[str, Any]) -> Operation:
        return [{"index": {"_index": self.index[kind], "_id": doc_id(key)}}, document]

    def _delete_op(self, kind: str, key: str) -> Operation:
        return [{"delete": {"_index": self.index[kind], "_id": doc_id(key)}}]

    def _update_listing(
        self, source_id: str, script: str, params: dict[str, Any], *, upsert: Any = None
    ) -> None:
        from elasticsearch import NotFoundError

        try:
            self.client.update(
                index=self.index["listings"],
                id=doc_id(source_id),
                script={"source": script, "lang": "painless", "params": params},
                upsert=upsert,
                refresh=self.refresh,
                retry_on_conflict=3,
            )
        except NotFoundError:  # no listing of the source: nothing to update
            if upsert is not None:
                raise

    def _forget_seen(self, source_id: str) -> None:
        self.client.delete_by_query(
            index=self.index["seen"],
            query={"term": {"source_id": source_id}},
            refresh=True,
            conflicts="proceed",
        )

    # locks ----------------------------------------------------------------------------------------

    @contextmanager
    def lock(self, source_id: str) -> Iterator[None]:
        owner = uuid.uuid4().hex
        version = self._acquire(source_id, owner)
        stop = threading.Event()
        renewer = threading.Thread(
            target=self._renew, args=(source_id, owner, version, stop), name=f"lock {source_id}", daemon=True
        )
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join()
            self._release(source_id, owner)

    def _lease(self, source_id: str, owner: str) -> dict[str, Any]:
        return {
            "source_id": source_id,
            "owner": owner,
            "holder": f"{socket.gethostname()} pid {os.getpid()}",
            "expires": time.time() + self.lock_ttl,
        }

    def _acquire(self, source_id: str, owner: str) -> tuple[int, int]:
        from elasticsearch import ConflictError, NotFoundError

        index, key = self.index["locks"], doc_id(source_id)
        overlap = RunOverlap(f"a harvest of {source_id} is already running")
        for _ in range(3):  # a lock released between our two calls: try again
            try:
                created = self.client.index(
                    index=index,
                    id=key,
                    document=self._lease(source_id, owner),
                    op_type="create",
                    refresh=True,
                )
                return created["_seq_no"], created["_primary_term"]
            except ConflictError:
                pass
            try:
                held = self.client.get(index=index, id=key)
            except NotFoundError:
                continue
            if held["_source"]["expires"] > time.time():
                raise overlap
            log.warning("lock of %s held by %s expired: taken over", source_id, held["_source"]["holder"])
            try:
                taken = self.client.index(
                    index=index,
                    id=key,
                    document=self._lease(source_id, owner),
                    if_seq_no=held["_seq_no"],
                    if_primary_term=held["_primary_term"],
                    refresh=True,
                )
                return taken["_seq_no"], taken["_primary_term"]
            except ConflictError:
                raise overlap from None
        raise overlap

    def _renew(self, source_id: str, owner: str, version: tuple[int, int], stop: threading.Event) -> None:
        from elasticsearch import ApiError, ConflictError

        while not stop.wait(self.lock_ttl / 3):
            try:
                renewed = self.client.index(
                    index=self.index["locks"],
                    id=doc_id(source_id),
                    document=self._lease(source_id, owner),
                    if_seq_no=version[0],
                    if_primary_term=version[1],
                    refresh=True,
                )
                version = renewed["_seq_no"], renewed["_primary_term"]
            except ConflictError:
                log.error(
                    "lock of %s lost (it expired and was taken over): the run goes on unguarded", source_id
                )
                return
            except (ApiError, OSError) as exc:  # the cluster unreachable a moment: try again at the next beat
                log.warning("lock of %s not renewed: %s", source_id, exc)

    def _release(self, source_id: str, owner: str) -> None:
        from elasticsearch import ConflictError, NotFoundError

        try:
            held = self.client.get(index=self.index["locks"], id=doc_id(source_id))
            if held["_source"]["owner"] == owner:
                self.client.delete(
                    index=self.index["locks"],
                    id=doc_id(source_id),
                    if_seq_no=held["_seq_no"],
                    if_primary_term=held["_primary_term"],
                    refresh=True,
                )
        except (ConflictError, NotFoundError):  # expired and taken over, or already gone
            pass

    # runs -----------------------------------------------------------------------------------------

    def start_run(self, source_id: str) -> int:
        from elasticsearch import ConflictError

        self.client.update_by_query(
            index=self.index["runs"],
            query={"bool": {"filter": [{"term": {"source_id": source_id}}, {"term": {"status": "running"}}]}},
            script={"source": _INTERRUPT, "lang": "painless"},
            refresh=True,
            conflicts="proceed",
        )
        last = self.client.search(
            index=self.index["runs"], size=1, sort=[{"id": "desc"}], source=["id"], track_total_hits=False
        )["hits"]["hits"]
        run = RunInfo(
            id=last[0]["_source"]["id"] + 1 if last else 1,
            source_id=source_id,
            started=utc_now(),
            finished=None,
            status="running",
            listing_complete=False,
            matched=None,
            counts={},
            error=None,
        )
        while True:  # the next id no other process has claimed
            try:
                self.client.index(
                    index=self.index["runs"],
                    id=str(run.id),
                    document=run_document(run),
                    op_type="create",
                    refresh=True,
                )
                return run.id
            except ConflictError:
                run.id += 1

    def finish_run(
        self,
        run_id: int,
        *,
        status: str,
        listing_complete: bool,
        matched: int | None,
        counts: dict[str, int],
        error: str | None,
        kind: str = "full",
        resumed_from: int | None = None,
        notes: list[str] | None = None,
    ) -> None:
        from elasticsearch import NotFoundError

        outcome = {
            "finished": utc_now(),
            "status": status,
            "listing_complete": listing_complete,
            "matched": matched,
            "counts": counts,
            "error": error,
            "kind": kind,
            "resumed_from": resumed_from,
            "notes": notes or [],
        }
        # ``counts`` replaced whole (a partial update would merge the old keys in); as by the SQLite
        # ledger, an unknown run is left alone
        with contextlib.suppress(NotFoundError):
            self.client.update(
                index=self.index["runs"],
                id=str(run_id),
                script={
                    "source": "ctx._source.putAll(params.outcome)",
                    "lang": "painless",
                    "params": {"outcome": outcome},
                },
                refresh=True,
            )

    def run(self, run_id: int) -> RunInfo | None:
        document = self._get("runs", str(run_id))
        return None if document is None else run_of(document)

    def runs(self, source_id: str | None = None, limit: int = 20) -> list[RunInfo]:
        if limit <= 0:
            return []
        query = {"term": {"source_id": source_id}} if source_id else {"match_all": {}}
        pages = self._hits("runs", query, [{"id": "desc"}], size=min(limit, _PAGE))
        return [run_of(doc) for doc in itertools.islice(itertools.chain.from_iterable(pages), limit)]

    def events(
        self, run_id: int, status: str | None = None, *, limit: int | None = None, offset: int = 0
    ) -> list[Event]:
        if limit is not None and limit <= 0:
            return []
        filters: list[dict[str, Any]] = [{"term": {"run_id": run_id}}]
        if status:
            filters.append({"term": {"status": status}})
        size = _PAGE if limit is None else min(offset + limit, _PAGE)
        pages = self._hits("events", {"bool": {"filter": filters}}, [{"seq": "asc"}], size=size)
        stop = None if limit is None else offset + limit
        return [event_of(doc) for doc in itertools.islice(itertools.chain.from_iterable(pages), offset, stop)]

    def source_ids(self) -> list[str]:
        sources: list[str] = []
        after = None
        while True:
            composite: dict[str, Any] = {"size": _PAGE, "sources": [{"s": {"terms": {"field": "source_id"}}}]}
            if after is not None:
                composite["after"] = after
            response = self.client.search(
                index=self.index["runs"], size=0, aggs={"sources": {"composite": composite}}
            )
            buckets = response["aggregations"]["sources"]["buckets"]
            sources += [bucket["key"]["s"] for bucket in buckets]
            after = response["aggregations"]["sources"].get("after_key")
            if not buckets or after is None:
                return sorted(sources)

    # records --------------------------------------------------------------------------------------

    def known(self, source_id: str) -> dict[str, Known]:
        pages = self._hits(
            "raw",
            {"term": {"source_id": source_id}},
            [{"record_id": "asc"}],
            source=["record_id", "source_key", "digest"],
            size=5 * _PAGE,
        )
        return {doc["source_key"]: Known(doc["record_id"], doc["digest"]) for page in pages for doc in page}

    def raw(self, record_id: str) -> RawRecord | None:
        document = self._get("raw", record_id)
        return None if document is None else raw_of(document)

    def raws(self, record_ids: Iterable[str]) -> dict[str, RawRecord]:
        """One ``mget`` per ``_PAGE`` ids."""
        ids = list(dict.fromkeys(record_ids))
        found: dict[str, RawRecord] = {}
        for start in range(0, len(ids), _PAGE):
            chunk = ids[start : start + _PAGE]
            docs = self.client.mget(index=self.index["raw"], ids=[doc_id(rid) for rid in chunk])["docs"]
            for rid, doc in zip(chunk, docs, strict=True):
                if doc.get("found"):
                    found[rid] = raw_of(doc["_source"])
        return found

    def raw_records(self, batch_size: int = 500) -> Iterator[tuple[RawRecord, str | None]]:
        for page in self._hits("raw", {"match_all": {}}, [{"record_id": "asc"}], size=batch_size):
            run_ids = sorted({doc["run_id"] for doc in page})
            found = self.client.mget(
                index=self.index["runs"], ids=[str(i) for i in run_ids], source=["started"]
            )
            started = {int(d["_id"]): d["_source"]["started"] for d in found["docs"] if d.get("found")}
            for doc in page:
                yield raw_of(doc), started.get(doc["run_id"])

    def save(
        self,
        run_id: int,
        changed: Iterable[tuple[str, str, RawRecord]],
        events: Iterable[Event],
        *,
        source_id: str | None = None,
        seen: Iterable[str] = (),
        removed: Iterable[str] = (),
        checkpoint: dict[str, Any] | None = None,
        received: int = 0,
        unmapped: Iterable[tuple[str, str, str]] = (),
    ) -> None:
        """The documents in bulk requests, then the listing's progress (see the module's doc)."""
        changed = list(changed)
        removed = list(removed)
        operations: list[Operation] = []
        sources: dict[str, str | None] = {rid: None for rid in removed}
        for rid, key, raw in changed:
            operations.append(self._index_op("raw", rid, raw_document(run_id, rid, key, raw)))
            sources[rid] = raw.source_id
        for rid in removed:
            operations.append(self._delete_op("raw", rid))
        operations += self._unmapped_ops(sources, unmapped)
        for event in events:
            document = event_document(run_id, self._clock.next(), event)
            operations.append([{"index": {"_index": self.index["events"]}}, document])
        if source_id is not None:
            for rid in seen:
                key = f"{source_id}\x1f{rid}"
                operations.append(self._index_op("seen", key, {"source_id": source_id, "record_id": rid}))
        self._bulk(operations)
        if source_id is not None and (received or checkpoint is not None):
            encoded = None if checkpoint is None else msgspec.json.encode(checkpoint).decode()
            self._update_listing(source_id, _PROGRESS, {"received": received, "checkpoint": encoded})

    def _unmapped_ops(
        self, sources: Mapping[str, str | None], unmapped: Iterable[tuple[str, str, str]]
    ) -> list[Operation]:
        """The writes replacing the unmapped keywords of the records ``sources`` maps to their source
        (``None``: no raw, so nothing is reported for it)."""
        keywords: dict[str, list[tuple[str, str]]] = {}
        for rid, label, cited in unmapped:
            keywords.setdefault(rid, []).append((label, cited))
        operations: list[Operation] = []
        for rid, source_id in sources.items():
            if source_id is not None and keywords.get(rid):
                operations.append(
                    self._index_op("unmapped", rid, unmapped_document(rid, source_id, keywords[rid]))
                )
            else:
                operations.append(self._delete_op("unmapped", rid))
        return operations

    def set_unmapped(self, record_ids: Iterable[str], unmapped: Iterable[tuple[str, str, str]]) -> None:
        unmapped = list(unmapped)
        ids = list(dict.fromkeys([*record_ids, *(rid for rid, _, _ in unmapped)]))
        sources: dict[str, str | None] = {}
        for start in range(0, len(ids), _PAGE):
            chunk = ids[start : start + _PAGE]
            found = self.client.mget(
                index=self.index["raw"], ids=[doc_id(rid) for rid in chunk], source=["source_id"]
            )
            for rid, doc in zip(chunk, found["docs"], strict=True):
                sources[rid] = doc["_source"]["source_id"] if doc.get("found") else None
        self._bulk(self._unmapped_ops(sources, unmapped))

    def unmapped(self, source_id: str | None = None, limit: int = 50) -> list[UnmappedRow]:
        query = {"term": {"source_id": source_id}} if source_id else {"match_all": {}}
        groups: list[dict[str, Any]] = []
        after = None
        while True:
            response = self.client.search(
                index=self.index["unmapped"], size=0, query=query, aggs=unmapped_aggregation(after)
            )
            page = response["aggregations"]["keywords"]["groups"]
            groups += page["buckets"]
            after = page.get("after_key")
            if not page["buckets"] or after is None:
                return most_frequent(groups, limit)

    # listings -------------------------------------------------------------------------------------

    def watermark(self, source_id: str) -> str | None:
        document = self._get("listings", source_id)
        return None if document is None else document.get("watermark")

    def listing(self, source_id: str) -> Listing | None:
        document = self._get("listings", source_id)
        return None if document is None else listing_of(document.get("listing"))

    def begin_listing(
        self, source_id: str, run_id: int, kind: str, since: str | None, watermark: str
    ) -> None:
        listing = listing_document(Listing(run_id, kind, since, watermark, None, 0))
        upsert = {"source_id": source_id, "watermark": None, "listing": listing}
        self._update_listing(source_id, _OPEN, {"listing": listing}, upsert=upsert)
        self._forget_seen(source_id)

    def set_listing_watermark(self, source_id: str, watermark: str) -> None:
        self._update_listing(source_id, _SERVER_TIME, {"watermark": watermark})

    def seen(self, source_id: str) -> set[str]:
        pages = self._hits(
            "seen",
            {"term": {"source_id": source_id}},
            [{"record_id": "asc"}],
            source=["record_id"],
            size=5 * _PAGE,
        )
        return {doc["record_id"] for page in pages for doc in page}

    def end_listing(self, source_id: str, watermark: str) -> None:
        upsert = {"source_id": source_id, "watermark": watermark, "listing": None}
        self._update_listing(source_id, _CLOSE, {"watermark": watermark}, upsert=upsert)
        self._forget_seen(source_id)

    # migration ------------------------------------------------------------------------------------

    def dump(self) -> Iterator[Entry]:
        for page in self._hits("runs", {"match_all": {}}, [{"id": "asc"}]):
            yield from (run_of(doc) for doc in page)
        for page in self._hits("raw", {"match_all": {}}, [{"record_id": "asc"}], size=500):
            for doc in page:
                yield StoredRaw(
                    doc["record_id"],
                    doc["source_id"],
                    doc["source_key"],
                    doc["format"],
                    doc["digest"],
                    zlib.decompress(base64.b64decode(doc["content"])),
                    doc["datestamp"],
                    doc["run_id"],
                )
        for page in self._hits("events", {"match_all": {}}, [{"run_id": "asc"}, {"seq": "asc"}]):
            yield from (StoredEvent(doc["run_id"], event_of(doc)) for doc in page)
        for page in self._hits("listings", {"match_all": {}}, [{"source_id": "asc"}]):
            for doc in page:
                yield StoredListing(doc["source_id"], doc.get("watermark"), listing_of(doc.get("listing")))
        for page in self._hits("seen", {"match_all": {}}, [{"source_id": "asc"}, {"record_id": "asc"}]):
            yield from (StoredSeen(doc["source_id"], doc["record_id"]) for doc in page)
        for page in self._hits("unmapped", {"match_all": {}}, [{"record_id": "asc"}]):
            for doc in page:
                for keyword in doc["keywords"]:
                    yield StoredUnmapped(
                        doc["source_id"], doc["record_id"], keyword["label"], keyword["thesaurus"]
                    )

    def load(self, entries: Iterable[Entry]) -> None:
        """Unmapped keywords must come grouped by record, as ``dump`` yields them: a record's document
        is written when its group ends."""
        operations: list[Operation] = []
        group: list[StoredUnmapped] = []

        def flush_group() -> None:
            if group:
                keywords = [(u.label, u.thesaurus) for u in group]
                doc = unmapped_document(group[0].record_id, group[0].source_id, keywords)
                operations.append(self._index_op("unmapped", group[0].record_id, doc))
                group.clear()

        for entry in entries:
            if group and not (isinstance(entry, StoredUnmapped) and entry.record_id == group[0].record_id):
                flush_group()
            match entry:
                case RunInfo():
                    operations.append(self._index_op("runs", str(entry.id), run_document(entry)))
                case StoredRaw():
                    raw = RawRecord(entry.source_id, entry.format, entry.content, datestamp=entry.datestamp)
                    document = raw_document(entry.run_id, entry.record_id, entry.source_key, raw)
                    document["digest"] = entry.digest  # as stored, even if made by another hash
                    operations.append(self._index_op("raw", entry.record_id, document))
                case StoredEvent(run_id, event):
                    document = event_document(run_id, self._clock.next(), event)
                    operations.append([{"index": {"_index": self.index["events"]}}, document])
                case StoredListing(source_id, watermark, listing):
                    document = {
                        "source_id": source_id,
                        "watermark": watermark,
                        "listing": None if listing is None else listing_document(listing),
                    }
                    operations.append(self._index_op("listings", source_id, document))
                case StoredSeen(source_id, record_id):
                    document = {"source_id": source_id, "record_id": record_id}
                    operations.append(self._index_op("seen", f"{source_id}\x1f{record_id}", document))
                case StoredUnmapped():
                    group.append(entry)
            if len(operations) >= _PAGE:
                self._bulk(operations)
                operations.clear()
        flush_group()
        self._bulk(operations)

    def tally(self) -> dict[str, int]:
        counts = {}
        for kind in ("runs", "raw", "events", "listings", "seen"):
            counts[kind] = self.client.count(index=self.index[kind])["count"]
        nested = self.client.search(
            index=self.index["unmapped"], size=0, aggs={"k": {"nested": {"path": "keywords"}}}
        )
        counts["unmapped"] = nested["aggregations"]["k"]["doc_count"]
        return counts


_CLIENT_OPTIONS = ("username", "password_env", "api_key_env", "verify_certs", "ca_certs", "timeout")


def _client(url: str, **options: Any) -> Elasticsearch:
    """The client the Elasticsearch store makes (``es_client``: same options, same retries), imported only
    when an Elasticsearch ledger is used."""
    from catalogue.stores.elasticsearch import es_client

    return es_client(url, **options)
