"""The Elasticsearch backend of the ``Store`` interface (scale-out deployments).

Layout: one index for every pole and source behind the alias ``{prefix}-records``, pointing at one
physical index ``{prefix}-records-v{N}`` (mapping and analysers: ``catalogue.stores.es_mapping``).
``rebuild`` fills ``{prefix}-records-v{N+1}`` in bounded bulk batches, refreshes it, then moves the alias
in one ``update_aliases`` call and deletes the old index: readers see the old index or the new one,
never part of one; a failure deletes the half-built index and leaves the alias. The indexing order is a
``seq`` number per record, drawn from a counter document (``{prefix}-records-sequence``, incremented by
a scripted update, which Elasticsearch applies atomically); a replaced record keeps its ``seq``.

Duplicate groups follow the embedded index exactly: each document holds its group keys, and every
write regroups the records the keys it touches link (before and after it), in ``seq`` order, with the
embedded index's own grouping (``sqlite._primaries``); ``duplicate_of`` holds the primary's id.

Refresh: a write returns once its records are searchable (``refresh="wait_for"``, the default, or
``"true"``): a harvest reads its writes back, and regrouping searches the records just written.

Client versions: the official ``elasticsearch`` client sends ``compatible-with=<its major>`` headers.
A server accepts its own major and the one before (REST API compatibility), so the 8.x client talks to
Elasticsearch 8.x and 9.x, and the 9.x client to 9.x only. pygeofilter's CQL2 backend imports
``elasticsearch_dsl``, whose releases pin the client below 9: the ``elasticsearch`` extra installs the
8.x client, which serves both majors. A deployment on 9.x that installs the 9.x client instead still
works: ``catalogue.stores.es_query`` then uses the DSL bundled in the client (``elasticsearch.dsl``).
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from elasticsearch import BadRequestError, Elasticsearch, NotFoundError, helpers

from catalogue import facets
from catalogue.query import Facet, Query
from catalogue.record import Record
from catalogue.store import Extent, SearchResult, Store
from catalogue.stores import es_mapping, es_query, sqlite


def _secret(variable: str | None, what: str) -> str | None:
    """The value of the environment variable named ``variable``: secrets never sit in config files and
    never reach a log (an error names the variable, not its value)."""
    if variable is None:
        return None
    value = os.environ.get(variable)
    if not value:
        raise ValueError(f"Elasticsearch {what}: environment variable {variable} is not set")
    return value


def es_client(
    url: str,
    *,
    username: str | None = None,
    password_env: str | None = None,
    api_key_env: str | None = None,
    verify_certs: bool = True,
    ca_certs: str | None = None,
    timeout: float = 30.0,
) -> Elasticsearch:
    """A client for the server at ``url`` (``http(s)://host:9200``; several nodes comma-separated).

    Authentication: an API key read from the environment variable ``api_key_env``, or basic auth with
    ``username`` and the password read from ``password_env``. ``timeout`` bounds each request (seconds);
    requests that time out or meet a 429/502/503/504 are retried (three times) on another node.
    """
    if not url or not url.strip():
        raise ValueError("Elasticsearch url is empty")
    hosts = [host.strip() for host in url.split(",") if host.strip()]
    for host in hosts:
        # The client would take user:password@ in a URL, which then sits in the config and in any
        # message quoting the URL: the URL is refused, without being quoted.
        if "@" in host:
            raise ValueError(
                "Elasticsearch url must not hold credentials: use username with password_env, or api_key_env"
            )
    if username is not None and password_env is None:
        raise ValueError("Elasticsearch username given without password_env")
    if password_env is not None and username is None:
        raise ValueError("Elasticsearch password_env given without username")
    api_key = _secret(api_key_env, "api_key_env")
    password = _secret(password_env, "password_env")
    options: dict[str, object] = {
        "request_timeout": timeout,
        "retry_on_timeout": True,
        "max_retries": 3,
        "retry_on_status": (429, 502, 503, 504),
        "verify_certs": verify_certs,
    }
    if ca_certs is not None:
        options["ca_certs"] = ca_certs
    if api_key is not None:
        options["api_key"] = api_key
    elif username is not None and password is not None:
        options["basic_auth"] = (username, password)
    return Elasticsearch(hosts, **options)  # type: ignore[arg-type]


_BATCH = 500  # records per bulk request, and documents per page of scan
_KEEP_ALIVE = "5m"  # of the point in time a scan or a deep page reads
_REFRESH = ("wait_for", "true")


def check_naming(prefix: str, refresh: str) -> None:
    """What the store and the ledger on Elasticsearch both require: a ``prefix`` Elasticsearch takes in
    index names, a ``refresh`` mode a write may ask for."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", prefix):
        raise ValueError(f"Elasticsearch prefix {prefix!r}: lower-case letters, digits, '-', '_', '.'")
    if refresh not in _REFRESH:
        raise ValueError(f"Elasticsearch refresh must be one of {', '.join(_REFRESH)}, not {refresh!r}")


class ElasticsearchStore(Store):
    """The ``Store`` on an Elasticsearch cluster (8.x or 9.x). Options are ``es_client``'s, plus
    ``prefix`` (the names of the alias and indexes; several catalogues may share a cluster) and
    ``refresh`` (``"wait_for"``: a write returns when a refresh made it searchable; ``"true"``: it forces
    one, for tests and small sources)."""

    def __init__(
        self,
        url: str,
        prefix: str = "terracat",
        username: str | None = None,
        password_env: str | None = None,
        api_key_env: str | None = None,
        verify_certs: bool = True,
        ca_certs: str | None = None,
        refresh: str = "wait_for",
        timeout: float = 30.0,
    ) -> None:
        check_naming(prefix, refresh)
        self.client = es_client(
            url,
            username=username,
            password_env=password_env,
            api_key_env=api_key_env,
            verify_certs=verify_certs,
            ca_certs=ca_certs,
            timeout=timeout,
        )
        self.alias = f"{prefix}-records"
        self.sequence = f"{prefix}-records-sequence"
        self.refresh = refresh
        self._ensure_index()

    # --- indexes --------------------------------------------------------------------------------

    def _ensure_index(self) -> None:
        """The alias, its first physical index and the sequence counter's index, on first open. Created
        here rather than left to the first write: a cluster may forbid creating indexes on the fly
        (``action.auto_create_index``), and the counter needs no dynamic mapping. Several processes
        (server workers, a harvest) may open a new deployment at once: an index another one has just
        created is taken as it is, and adding the alias again changes nothing."""
        if not self.client.indices.exists(index=self.sequence):
            _create(self.client, self.sequence, SEQUENCE_INDEX)
        if self.client.indices.exists_alias(name=self.alias):
            return
        first = self._physical(1)
        _create(self.client, first, es_mapping.index_body())
        self.client.indices.update_aliases(actions=[{"add": {"index": first, "alias": self.alias}}])

    def _physical(self, version: int) -> str:
        return f"{self.alias}-v{version}"

    def _current(self) -> str:
        """The physical index the alias points at."""
        return next(iter(self.client.indices.get_alias(name=self.alias)))

    def _next_version(self) -> int:
        """One above every physical index there is (a rebuild that failed midway deleted its own)."""
        existing = self.client.indices.get(index=f"{self.alias}-v*", allow_no_indices=True)
        numbers = [int(m.group(1)) for name in existing if (m := re.search(r"-v(\d+)$", name))]
        return max(numbers, default=0) + 1

    def _next_seqs(self, n: int) -> int:
        """The first of ``n`` fresh indexing numbers (a scripted increment is atomic per document)."""
        response = self.client.update(
            index=self.sequence,
            id="seq",
            script={"source": "ctx._source.n += params.k", "params": {"k": n}},
            upsert={"n": n},
            source=True,
            retry_on_conflict=20,
            refresh=True,
        )
        return response["get"]["_source"]["n"] - n + 1

    # --- writes ---------------------------------------------------------------------------------

    def upsert(self, records: Sequence[Record]) -> None:
        """Every document is made (each record encoded and read back) before anything is written;
        replaced records keep their ``seq``; the groups their old and new keys touch are then
        evaluated again."""
        unique = list({r.id: r for r in records}.values())
        if unique:
            self._write(self.alias, unique, [es_mapping.to_document(r, 0) for r in unique])

    def _write(self, index: str, records: list[Record], docs: list[dict[str, Any]]) -> None:
        known = self._group_docs(index, [r.id for r in records])
        old_keys = {key for doc in known.values() for key in doc.get("group_keys", [])}
        was_linked = self._linked(index, old_keys)
        fresh = [r.id for r in records if r.id not in known]
        first = self._next_seqs(len(fresh)) if fresh else 0
        seqs = {record_id: first + i for i, record_id in enumerate(fresh)}
        for record, doc in zip(records, docs, strict=True):
            doc["seq"] = known[record.id]["seq"] if record.id in known else seqs[record.id]
        actions = ({"_index": index, "_id": doc["id"], "_source": doc} for doc in docs)
        self._bulk(actions, self._refresh_of(index))
        new_keys = {key for doc in docs for key in doc.get("group_keys", [])}
        self._regroup(index, was_linked | self._linked(index, old_keys | new_keys))

    def _bulk(self, actions: Iterable[dict[str, Any]], refresh: str) -> None:
        """Bulk requests of ``_BATCH`` actions, the actions a busy cluster refused (429) sent again with
        backoff, then the index refreshed as ``refresh`` says (``wait_for``: each request returns once
        searchable; a rebuild's index, which nobody reads yet, is refreshed at once: ``true``).

        ``raise_on_error`` stays off: with it, ``streaming_bulk`` raises at the first refused action of
        a chunk instead of retrying the 429s. Refusals are gathered here instead; deleting or regrouping
        a record another process has just deleted is none."""
        refused = []
        for ok, item in helpers.streaming_bulk(
            self.client,
            actions,
            chunk_size=_BATCH,
            max_retries=5,
            initial_backoff=1,
            max_backoff=30,
            raise_on_error=False,
            refresh=refresh,
        ):
            if not ok and not _already_deleted(item):
                refused.append(item)
        if refused:
            raise StoreWriteError(refused)

    def _refresh_of(self, index: str) -> str:
        return self.refresh if index == self.alias else "true"

    def delete(self, ids: Iterable[str]) -> int:
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return 0
        known = self._group_docs(self.alias, wanted)
        if not known:
            return 0
        keys = {key for doc in known.values() for key in doc.get("group_keys", [])}
        was_linked = self._linked(self.alias, keys)
        index = self._current()
        self._bulk(({"_op_type": "delete", "_index": index, "_id": i} for i in known), self.refresh)
        self._regroup(self.alias, (was_linked - set(known)) | self._linked(self.alias, keys))
        return len(known)

    def rebuild(self, records: Iterable[Record], *, decoded: bool = False) -> int:
        """A new physical index written ``_BATCH`` records at a time as upserts into it (so each
        batch's groups are evaluated in the order given), then the alias moved to it atomically.
        (Documents are not read back here, ``decoded`` or not: Elasticsearch keeps them as sent.)"""
        old = self._current()
        new = self._physical(self._next_version())
        self.client.indices.create(index=new, **es_mapping.index_body())
        try:
            iterator = iter(records)
            while batch := list(itertools.islice(iterator, _BATCH)):
                unique = list({r.id: r for r in batch}.values())
                self._write(new, unique, [es_mapping.to_document(r, 0) for r in unique])
            self.client.indices.refresh(index=new)
            total = self.client.count(index=new)["count"]
            self.client.indices.update_aliases(
                actions=[
                    {"remove": {"index": old, "alias": self.alias}},
                    {"add": {"index": new, "alias": self.alias}},
                ]
            )
        except BaseException:
            self.client.indices.delete(index=new, ignore_unavailable=True)
            raise
        self.client.indices.delete(index=old, ignore_unavailable=True)
        return total

    # --- duplicate groups -----------------------------------------------------------------------

    def _group_docs(self, index: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        """What regrouping reads of the indexed records among ``ids`` (real-time: unrefreshed writes
        included), by id."""
        if not ids:
            return {}
        response = self.client.mget(index=index, ids=ids, source_includes=es_mapping.GROUP_FIELDS)
        return {doc["_id"]: doc["_source"] for doc in response["docs"] if doc.get("found")}

    def _linking(self, index: str, keys: set[str]) -> set[str]:
        """The keys among ``keys`` that records of two sources or more hold."""
        if not keys:
            return set()
        response = self.client.search(
            index=index,
            size=0,
            query={"terms": {"group_keys": sorted(keys)}},
            aggs={
                "keys": {
                    "terms": {"field": "group_keys", "include": sorted(keys), "size": len(keys)},
                    "aggs": {"sources": {"terms": {"field": "source", "size": 2}}},
                }
            },
        )
        buckets = response["aggregations"]["keys"]["buckets"]
        return {b["key"] for b in buckets if len(b["sources"]["buckets"]) > 1}

    def _holders(self, index: str, keys: set[str]) -> dict[str, dict[str, Any]]:
        if not keys:
            return {}
        hits = self._all(index, {"terms": {"group_keys": sorted(keys)}}, es_mapping.GROUP_FIELDS)
        return {hit["_id"]: hit["_source"] for hit in hits}

    def _linked(self, index: str, keys: set[str]) -> set[str]:
        """The records linked to ``keys``, directly or through other records' keys, by linking keys
        (``sqlite._linked``)."""
        found: set[str] = set()
        seen: set[str] = set()
        while keys := keys - seen:
            seen |= keys
            holders = {
                i: d for i, d in self._holders(index, self._linking(index, keys)).items() if i not in found
            }
            found |= set(holders)
            keys = {key for doc in holders.values() for key in doc.get("group_keys", [])}
        return found

    def _regroup(self, index: str, ids: set[str]) -> None:
        """Evaluate again the groups of the records ``ids`` (whole linked sets) in indexing order, as
        the embedded index does, and write the ``duplicate_of`` that changed."""
        if not ids:
            return
        docs = sorted(self._group_docs(index, sorted(ids)).values(), key=lambda d: d["seq"])
        linking = self._linking(index, {key for doc in docs for key in doc.get("group_keys", [])})
        primaries = sqlite._primaries([(d["source"], set(d.get("group_keys", [])) & linking) for d in docs])
        primary_of = {docs[dup]["id"]: docs[primary]["id"] for dup, primary in primaries.items()}
        changed = [
            (d["id"], primary_of.get(d["id"]))
            for d in docs
            if primary_of.get(d["id"]) != d.get("duplicate_of")
        ]
        if changed:
            physical = index if index != self.alias else self._current()
            self._bulk(
                (
                    {"_op_type": "update", "_index": physical, "_id": i, "doc": {"duplicate_of": p}}
                    for i, p in changed
                ),
                self._refresh_of(index),
            )

    # --- reads ----------------------------------------------------------------------------------

    def get(self, record_id: str) -> Record | None:
        try:
            doc = self.client.get(index=self.alias, id=record_id, source_includes=["record"])
        except NotFoundError:
            return None
        return es_mapping.from_document(doc["_source"])

    def search(self, query: Query) -> SearchResult:
        primaries = self._primaries_by_identifier(query)
        body = es_query.search_body(query, primaries)
        if query.offset + query.limit > es_query.MAX_RESULT_WINDOW:
            return self._deep_search(query, body)
        response = self.client.search(index=self.alias, **body)
        return self._result(query, response, response["hits"]["hits"])

    def _primaries_by_identifier(self, query: Query) -> list[str]:
        """The primaries of the duplicates having one of ``query.external_ids`` (found by them too)."""
        if not query.external_ids:
            return []
        hits = self._all(self.alias, es_query.duplicates_having(query.external_ids), ["duplicate_of"])
        return sorted({hit["_source"]["duplicate_of"] for hit in hits})

    def _deep_search(self, query: Query, body: dict[str, Any]) -> SearchResult:
        """A page past ``max_result_window``: the sort order walked with ``search_after`` in a point in
        time, ``MAX_RESULT_WINDOW`` sort keys at a time, up to the offset; then the page."""
        pit = self.client.open_point_in_time(index=self.alias, keep_alive=_KEEP_ALIVE)["id"]
        try:
            first = {k: v for k, v in body.items() if k not in ("from", "size", "_source")}
            skip, after, facets_response = query.offset, None, None
            while skip > 0:
                step = min(skip, es_query.MAX_RESULT_WINDOW)
                response = self.client.search(
                    pit={"id": pit, "keep_alive": _KEEP_ALIVE},
                    size=step,
                    source=False,
                    search_after=after,
                    **first,
                )
                hits = response["hits"]["hits"]
                if not hits:
                    return self._result(query, response, [])
                after = hits[-1]["sort"]
                skip -= len(hits)
                first.pop("aggs", None)  # counted once, on the first request
                if "aggregations" in response:
                    facets_response = response
            response = self.client.search(
                pit={"id": pit, "keep_alive": _KEEP_ALIVE},
                size=query.limit,
                source=["record"],
                search_after=after,
                **first,
            )
            if query.facets and facets_response is not None:
                response["aggregations"] = facets_response["aggregations"]
            return self._result(query, response, response["hits"]["hits"])
        finally:
            self.client.close_point_in_time(id=pit)

    def _result(self, query: Query, response: Any, hits: list[dict[str, Any]]) -> SearchResult:
        records = [es_mapping.from_document(hit["_source"]) for hit in hits]
        matched = response["hits"]["total"]["value"]
        aggregations = response.get("aggregations", {})
        return SearchResult(
            records=records,
            matched=matched,
            facets=[_facet(request, aggregations.get(request.name, {})) for request in query.facets],
        )

    def extent(self, query: Query) -> Extent:
        primaries = self._primaries_by_identifier(query)
        aggs: dict[str, Any] = {
            "west": {"min": {"field": "lon_min"}},
            "east": {"max": {"field": "lon_max"}},
            "south": {"min": {"field": "lat_min"}},
            "north": {"max": {"field": "lat_max"}},
            # Time text sorts as time: the first and last key of a terms aggregation are the min and max.
            "start": {"terms": {"field": "time_start", "size": 1, "order": {"_key": "asc"}}},
            "end": {"terms": {"field": "time_end", "size": 1, "order": {"_key": "desc"}}},
        }
        criteria = es_query.criteria(query, primaries)
        response = self.client.search(index=self.alias, size=0, query=criteria, aggs=aggs)
        found = response["aggregations"]
        west = found["west"]["value"]
        bbox = (
            None
            if west is None
            else (west, found["south"]["value"], found["east"]["value"], found["north"]["value"])
        )
        starts, ends = found["start"]["buckets"], found["end"]["buckets"]
        time = (starts[0]["key"], ends[0]["key"]) if starts and ends else None
        return sqlite._extent(bbox, time)

    def count(self, source_id: str | None = None) -> int:
        query = {"match_all": {}} if source_id is None else {"term": {"source": source_id}}
        return self.client.count(index=self.alias, query=query)["count"]

    def ids(self, source_id: str) -> set[str]:
        return {hit["_id"] for hit in self._all(self.alias, {"term": {"source": source_id}}, [])}

    def unvalidated(self, source_id: str, shapes: str) -> list[str]:
        query = {
            "bool": {
                "filter": [{"term": {"source": source_id}}],
                "must_not": [{"term": {"validated": shapes}}],
            }
        }
        return [hit["_id"] for hit in self._all(self.alias, query, [], sort=[{"seq": "asc"}])]

    def duplicates_of(self, ids: Iterable[str]) -> dict[str, str]:
        docs = self._group_docs(self.alias, list(dict.fromkeys(ids)))
        return {i: doc["duplicate_of"] for i, doc in docs.items() if doc.get("duplicate_of")}

    def group(self, record_id: str) -> list[str]:
        docs = self._group_docs(self.alias, [record_id])
        if record_id not in docs:
            return []
        head = docs[record_id].get("duplicate_of") or record_id
        query = {
            "bool": {
                "should": [{"term": {"id": head}}, {"term": {"duplicate_of": head}}],
                "minimum_should_match": 1,
            }
        }
        members = self._all(self.alias, query, ["id", "seq", "duplicate_of"], sort=[{"seq": "asc"}])
        ordered = sorted(
            members, key=lambda hit: (hit["_source"].get("duplicate_of") is not None, hit["_source"]["seq"])
        )
        return [hit["_id"] for hit in ordered] if len(ordered) > 1 else []

    def scan(self) -> Iterator[Record]:
        """A point in time opened at the first record read, walked by ``seq`` with ``search_after``,
        ``_BATCH`` documents at a time: writes and rebuilds made meanwhile are not seen."""
        pit = self.client.open_point_in_time(index=self.alias, keep_alive=_KEEP_ALIVE)["id"]
        try:
            after = None
            while True:
                response = self.client.search(
                    pit={"id": pit, "keep_alive": _KEEP_ALIVE},
                    size=_BATCH,
                    sort=[{"seq": "asc"}],
                    search_after=after,
                    source=["record"],
                    track_total_hits=False,
                )
                hits = response["hits"]["hits"]
                if not hits:
                    return
                for hit in hits:
                    yield es_mapping.from_document(hit["_source"])
                after = hits[-1]["sort"]
        finally:
            self.client.close_point_in_time(id=pit)

    def _all(
        self, index: str, query: dict[str, Any], fields: list[str], sort: list[Any] | None = None
    ) -> list[dict[str, Any]]:
        """Every hit of ``query`` (with ``fields`` of its source), ``_BATCH`` at a time by
        ``search_after`` on ``sort`` then id."""
        order = [*(sort or []), {"id": "asc"}]
        out: list[dict[str, Any]] = []
        after = None
        while True:
            response = self.client.search(
                index=index,
                query=query,
                size=_BATCH * 2,
                sort=order,
                search_after=after,
                source=fields or False,
                track_total_hits=False,
            )
            hits = response["hits"]["hits"]
            out.extend(hits)
            if len(hits) < _BATCH * 2:
                return out
            after = hits[-1]["sort"]

    def close(self) -> None:
        self.client.close()


SEQUENCE_INDEX: dict[str, Any] = {
    "settings": {"number_of_shards": 1, "auto_expand_replicas": "0-1"},
    "mappings": {"dynamic": "strict", "properties": {"n": {"type": "long"}}},
}


class StoreWriteError(RuntimeError):
    """Elasticsearch refused some actions of a bulk write (after the retries of those it was too busy
    for): how many, and the first reasons."""

    def __init__(self, refused: list[dict[str, Any]]) -> None:
        self.refused = refused
        reasons = []
        for item in refused[:3]:
            ((action, result),) = item.items()
            error = result.get("error")
            reason = error.get("reason", error) if isinstance(error, dict) else error
            reasons.append(f"{action} {result.get('_id')}: {reason}")
        super().__init__(f"Elasticsearch refused {len(refused)} writes; " + "; ".join(reasons))


def _already_deleted(item: dict[str, Any]) -> bool:
    """A delete, or a regrouping's update, of a record another process has just deleted."""
    ((action, result),) = item.items()
    return action in ("delete", "update") and result.get("status") == 404


def _create(client: Elasticsearch, index: str, body: dict[str, Any]) -> None:
    """Create ``index``, unless another process has just done so."""
    try:
        client.indices.create(index=index, **body)
    except BadRequestError as exc:
        if exc.error != "resource_already_exists_exception":
            raise


def _facet(request: Any, aggregation: dict[str, Any]) -> Facet:
    """A facet from its aggregation, ordered and cut by ``catalogue.facets`` as every backend's are."""
    buckets = aggregation.get("buckets", [])
    if request.name == "year":
        counted = {str(int(b["key"])): b["doc_count"] for b in buckets}
        return facets.facet(request, counted)
    counted = {str(b["key"]): b["doc_count"] for b in buckets}
    if request.name != "theme":
        return facets.facet(request, counted)
    labels: dict[str, dict[str, str]] = {}
    parents: dict[str, str] = {}
    for bucket in buckets:
        hits = bucket.get("facts", {}).get("hits", {}).get("hits", [])
        facts = hits[0]["_source"].get("theme_facts", {}).get(bucket["key"], {}) if hits else {}
        labels[bucket["key"]] = facets.theme_labels(bucket["key"], facts.get("labels"))
        if facts.get("parent"):
            parents[bucket["key"]] = facts["parent"]
    return facets.facet(request, counted, labels, parents)
