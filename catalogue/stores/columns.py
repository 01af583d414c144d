"""A columnar snapshot of the SQLite index in memory, what searches and facets run on.

Why: SQL answers a search by visiting a row per candidate, so a common word or a whole pole (tens of
thousands of records) costs tens of milliseconds, and facets would cost that again per facet. Here each
criterion is a vectorised test over numpy arrays (one entry per record, or per box, extent, concept,
facet value), the page is a partial sort of the matches, and each facet one ``np.bincount`` over them:
a few milliseconds for 10^5 records. Full-text matches still come from FTS5 (with their bm25 scores),
remembered per phrase, since a portal asks the same words again and again: alternatives (``q=a,b``) are
the union of their phrases' matches, scored by the sum of their scores, which is what FTS5's bm25 of
``"a" OR "b"`` is (a sum over the query's phrases, a phrase a document lacks adding nothing).

A snapshot is of one index *generation* (``generation.n``, which every write transaction increments)
and is only used by a read transaction that sees that generation, so it never serves what a committed
write changed: the store loads a new one, or searches in SQL meanwhile (``catalogue.stores.sqlite``).
It is immutable once loaded, shared by every thread; only the full-text cache changes, under a lock.

Records are numbered by position (``i``) in ``nums``, the records' ``num`` in increasing order.
"""

from __future__ import annotations

import gc
import json
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

from catalogue import facets as facet_values
from catalogue.query import Facet, FacetRequest, Query

# Columns a query may test for equality or count, by facet or property name.
CODED = {"source": "source_id", "pole": "pole", "type": "resource_type", "language": "language"}
CODED_FACETS = {"pole": "pole", "source": "source_id", "type": "resource_type", "fair_level": "fair_level"}
_TEXT_COLUMNS = ("source_id", "pole", "resource_type", "language", "fair_level")
_SORTED_COLUMNS = ("title_key", "updated", "created", "time_start", "time_end", "id", "fair_score")
_MULTI = {"platform": "platforms", "instrument": "instruments", "format": "formats"}
_FTS_CACHE = 512  # phrases remembered per snapshot
_LAST = np.iinfo(np.int64).max  # the sort key of a missing value: after every other
BOX_BITS = 16  # box k of record num is R*Tree id num << BOX_BITS | k (catalogue.stores.sqlite)


class Criteria:
    """What the store has already normalised for a search (the SQL plan's own helpers did)."""

    def __init__(
        self,
        phrases: list[str],
        boxes: list[tuple[float, float, float, float]],
        time: tuple[str | None, str | None] | None,
        sort_columns: list[tuple[str, bool]],
    ) -> None:
        self.phrases = phrases  # FTS5 phrases of q, ORed; none: q has no word (matches nothing)
        self.boxes = boxes  # (min_lon, max_lon, min_lat, max_lat), split at the antimeridian
        self.time = time  # (start, end) as the index's UTC text
        self.sort_columns = sort_columns  # (column, ascending)


# (FTS5 expression, ranked) -> rowids, and bm25 scores when ranked
FullText = Callable[[str, bool], tuple[np.ndarray, np.ndarray | None]]


class Columns:
    """The index of one generation as arrays; ``load`` reads it in one read transaction."""

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self._fts: OrderedDict[tuple[str, bool], tuple[np.ndarray, np.ndarray | None]] = OrderedDict()
        self._fts_lock = threading.Lock()

    @classmethod
    def load(cls, conn: sqlite3.Connection, generation: int, nums: Sequence[int] | None = None) -> Columns:
        """The snapshot the open transaction of ``conn`` sees; of the records ``nums`` only, if given
        (what facets over a search made in SQL count).

        The garbage collector is paused meanwhile: the millions of short-lived rows and values read
        here would trigger collections that traverse them all again, which took three quarters of the
        time (objects still get freed by reference counting; only cycles wait)."""
        collecting = gc.isenabled()
        gc.disable()
        try:
            return cls._load(conn, generation, nums)
        finally:
            if collecting:
                gc.enable()

    @classmethod
    def _load(cls, conn: sqlite3.Connection, generation: int, nums: Sequence[int] | None) -> Columns:
        self = cls(generation)
        among = "IN (SELECT value FROM json_each(?))"  # the records ``nums``
        where, params = ("", ()) if nums is None else (f" WHERE num {among}", (json.dumps(list(nums)),))
        rows = conn.execute(
            "SELECT num, duplicate_of IS NULL, n_times, source_id, pole, resource_type, language, fair_level,"
            f" title_key, updated, created, time_start, time_end, id, fair_score FROM records{where}"
            " ORDER BY num",
            params,
        ).fetchall()
        self.n = len(rows)
        columns = list(zip(*rows, strict=True)) if rows else [()] * 15
        self.nums = np.array(columns[0], dtype=np.int64)
        self.primary = np.array(columns[1], dtype=bool)
        self.n_times = np.array(columns[2], dtype=np.int64)
        self.codes: dict[str, tuple[np.ndarray, list[str]]] = {}
        for name, values in zip(_TEXT_COLUMNS, columns[3:8], strict=True):
            self.codes[name] = _encode(values)
        self.ranks: dict[str, np.ndarray] = {}
        for name, values in zip(_SORTED_COLUMNS, columns[8:15], strict=True):
            self.ranks[name] = _rank(values)
        self.index_of_id = {record_id: i for i, record_id in enumerate(columns[13])}
        self.time_null = np.array([v is None for v in columns[11]], dtype=bool)
        self.time_start = np.array([v or "" for v in columns[11]], dtype="S20")
        self.time_end = np.array([v or "" for v in columns[12]], dtype="S20")

        extents = conn.execute(
            f"SELECT num, time_start, time_end FROM record_times{where}", params
        ).fetchall()
        many = {num for num, count in zip(columns[0], columns[2], strict=True) if count > 1}
        extents = [e for e in extents if e[0] in many]
        self.extent_of = self._positions([e[0] for e in extents])
        self.extent_start = np.array([e[1] for e in extents], dtype="S20")
        self.extent_end = np.array([e[2] for e in extents], dtype="S20")

        box_where = "" if nums is None else f" WHERE id >> {BOX_BITS} {among}"
        boxes = conn.execute(
            f"SELECT id >> {BOX_BITS}, min_lon, max_lon, min_lat, max_lat FROM record_boxes{box_where}",
            params,
        ).fetchall()
        # By west edge, so that a query tests only the boxes starting west of its east edge.
        boxes.sort(key=lambda box: box[1])
        self.box_of = self._positions([b[0] for b in boxes])
        self.box_west, self.box_east, self.box_south, self.box_north = (
            np.array([b[k] for b in boxes], dtype=np.float64) for k in range(1, 5)
        )

        # A concept's records, as one text per concept: far fewer rows to read than one per pair.
        concept_rows = conn.execute(
            "SELECT c.uri, group_concat(rc.num) FROM record_concepts AS rc"
            " JOIN concepts AS c ON c.id = rc.concept"
            f"{'' if nums is None else f' WHERE rc.num {among}'} GROUP BY rc.concept",
            params,
        ).fetchall()
        self.concept_records = {
            uri: self._positions(np.array(text.split(","), dtype=np.int64)) for uri, text in concept_rows
        }

        facts = {
            num: facet_values.decode(blob)
            for num, blob in conn.execute(f"SELECT num, facts FROM record_facets{where}", params)
        }
        listed = [facts.get(int(num)) or facet_values.Facts() for num in self.nums]
        self.multi: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]] = {
            name: _multi([getattr(f, field) for f in listed]) for name, field in _MULTI.items()
        }
        self.multi["theme"] = _multi([[t.uri for t in f.themes] for f in listed])
        self.codes["license"] = _encode([f.license for f in listed])
        self.theme_labels: dict[str, dict[str, str]] = {}
        self.theme_parents: dict[str, str] = {}
        for f in listed:
            for theme in f.themes:
                if theme.labels and theme.uri not in self.theme_labels:
                    self.theme_labels[theme.uri] = theme.labels
                if theme.parent:
                    self.theme_parents.setdefault(theme.uri, theme.parent)
        spans = [(i, first, last) for i, f in enumerate(listed) for first, last in f.years]
        now = facet_values.this_year()
        of = np.array([s[0] for s in spans], dtype=np.int64)
        first = np.maximum(np.array([s[1] for s in spans], dtype=np.int64), facet_values.FIRST_YEAR)
        last = np.minimum(np.array([now if s[2] is None else s[2] for s in spans], dtype=np.int64), now)
        kept = first <= last  # the ranges stay disjoint: each is clipped apart
        self.year_of, self.year_first, self.year_last = of[kept], first[kept], last[kept]
        self.year_rows = _rows(self.year_of, self.n)
        return self

    def _positions(self, nums: Sequence[int] | np.ndarray) -> np.ndarray:
        """Positions of record numbers known to be in the snapshot."""
        return np.searchsorted(self.nums, np.asarray(nums, dtype=np.int64))

    # --- search --------------------------------------------------------------------------------------

    def match(
        self, query: Query, criteria: Criteria, full_text: FullText
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The mask of the records ``query`` matches, and their bm25 scores when ranked by relevance."""
        mask = np.ones(self.n, dtype=bool) if query.ids else self.primary.copy()
        score = None
        if query.q:
            ranked = not query.sortby
            hits, score = self.full_text(criteria.phrases, ranked, full_text)
            mask &= hits
        if criteria.boxes:
            mask &= self._boxed(criteria.boxes)
        if criteria.time is not None:
            mask &= self._timed(*criteria.time)
        if query.ids:
            mask &= self._among([self.index_of_id[i] for i in query.ids if i in self.index_of_id])
        if query.types:
            mask &= self._equal("resource_type", query.types)
        for name, values in query.properties.items():
            if not values:
                continue
            if name == "theme":
                found = [self.concept_records[uri] for uri in values if uri in self.concept_records]
                mask &= self._among(np.concatenate(found) if found else [])
            else:
                mask &= self._equal(CODED.get(name, name), values)
        return mask, score

    def full_text(
        self, phrases: list[str], ranked: bool, full_text: FullText
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The mask of the records matching any of ``phrases`` and, when ranked, their bm25 scores
        (``inf`` elsewhere): the sum of the scores of the phrases they match."""
        hits = np.zeros(self.n, dtype=bool)
        total = np.zeros(self.n) if ranked else None
        for phrase in phrases:
            positions, scores = self._phrase(phrase, ranked, full_text)
            hits[positions] = True
            if total is not None:
                total[positions] += scores  # a phrase matches a record once
        return hits, (np.where(hits, total, np.inf) if total is not None else None)

    def _phrase(self, phrase: str, ranked: bool, full_text: FullText) -> tuple[np.ndarray, np.ndarray | None]:
        """One phrase's matches, remembered; a ranked entry serves an unranked search too."""
        with self._fts_lock:
            for key in ((phrase, ranked), (phrase, True)):
                if key in self._fts:
                    self._fts.move_to_end(key)
                    return self._fts[key]
        rowids, scores = full_text(phrase, ranked)
        entry = (self._positions(rowids), scores)
        with self._fts_lock:
            self._fts[(phrase, ranked)] = entry
            while len(self._fts) > _FTS_CACHE:
                self._fts.popitem(last=False)
        return entry

    def _among(self, positions: Sequence[int] | np.ndarray) -> np.ndarray:
        out = np.zeros(self.n, dtype=bool)
        out[np.asarray(positions, dtype=np.int64)] = True
        return out

    def _equal(self, column: str, values: list[str]) -> np.ndarray:
        codes, names = self.codes[column]
        wanted = [code for code, name in enumerate(names, start=1) if name in set(values)]
        return np.isin(codes, wanted)

    def _boxed(self, parts: list[tuple[float, float, float, float]]) -> np.ndarray:
        """Records with a box intersecting a part of the query's (the R*Tree's test, on its values)."""
        out = np.zeros(self.n, dtype=bool)
        for west, east, south, north in parts:
            k = int(np.searchsorted(self.box_west, east, side="right"))  # those with box_west <= east
            hit = (self.box_east[:k] >= west) & (self.box_south[:k] <= north) & (self.box_north[:k] >= south)
            out[self.box_of[:k][hit]] = True
        return out

    def _timed(self, start: str | None, end: str | None) -> np.ndarray:
        """The SQL plan's test: the union of the extents first, then each extent of the records with
        several."""

        def test(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
            ok = np.ones(len(starts), dtype=bool)
            if end is not None:
                ok &= starts <= end.encode()
            if start is not None:
                ok &= ends >= start.encode()
            return ok

        union = test(self.time_start, self.time_end) & ~self.time_null
        several = self.n_times > 1
        some_extent = self._among(self.extent_of[test(self.extent_start, self.extent_end)])
        return union & (~several | some_extent)

    def page(self, mask: np.ndarray, score: np.ndarray | None, query: Query, criteria: Criteria) -> list[int]:
        """The record numbers of the page: the sort keys, relevance, then id, as the SQL plan orders."""
        matched = np.flatnonzero(mask)
        wanted = query.offset + query.limit
        if query.limit == 0 or query.offset >= len(matched):
            return []
        keys = [self._sort_key(column, ascending) for column, ascending in criteria.sort_columns]
        if score is not None:
            keys.append(score)
        if not any(column == "id" for column, _ in criteria.sort_columns):
            keys.append(self.ranks["id"])
        candidates = matched
        if wanted < len(matched) // 4:  # a partial sort on the first key keeps the page and its ties
            first = keys[0][matched]
            bound = np.partition(first, wanted - 1)[wanted - 1]
            candidates = matched[first <= bound]
        order = np.lexsort([key[candidates] for key in reversed(keys)])
        return self.nums[candidates[order][query.offset : wanted]].tolist()

    def _sort_key(self, column: str, ascending: bool) -> np.ndarray:
        rank = self.ranks[column]
        return np.where(rank < 0, _LAST, rank if ascending else -rank)

    # --- facets --------------------------------------------------------------------------------------

    def facets(self, mask: np.ndarray, requests: list[FacetRequest]) -> list[Facet]:
        """The facets over the records of ``mask``: values are picked by the mask when many records
        match, by the matches' positions (and their entries') when few do, a cost in the matches."""
        if not requests:
            return []
        matched = np.flatnonzero(mask)
        few = matched if len(matched) * 8 < self.n else None
        return [self.facet(mask, few, request) for request in requests]

    def facet(self, mask: np.ndarray, few: np.ndarray | None, request: FacetRequest) -> Facet:
        name = request.name
        if name in CODED_FACETS or name == "license":
            codes, values = self.codes[CODED_FACETS.get(name, name)]
            counts = np.bincount(codes[mask if few is None else few], minlength=len(values) + 1)[1:]
        elif name == "year":
            picked = mask[self.year_of] if few is None else _entries(self.year_rows, few)
            return facet_values.facet(request, self._years(picked))
        else:
            of, rows, codes, values = self.multi[name]
            picked = mask[of] if few is None else _entries(rows, few)
            counts = np.bincount(codes[picked], minlength=len(values))
        counted = dict(zip(values, counts.tolist(), strict=True))
        if name == "theme":
            return facet_values.facet(request, counted, self.theme_labels, self.theme_parents)
        return facet_values.facet(request, counted)

    def _years(self, picked: np.ndarray) -> dict[str, int]:
        """Year ranges (disjoint per record; ``picked``: a mask or positions of them) counted with a
        difference array."""
        first, last = self.year_first[picked], self.year_last[picked]
        if not len(first):
            return {}
        low = int(first.min())
        size = int(last.max()) - low + 2
        delta = np.bincount(first - low, minlength=size) - np.bincount(last + 1 - low, minlength=size)
        counts = np.cumsum(delta)[:-1]
        return {str(low + k): int(c) for k, c in enumerate(counts.tolist()) if c}


def _encode(values: Sequence[str | None]) -> tuple[np.ndarray, list[str]]:
    """Codes and the distinct values: code ``k`` is ``names[k - 1]``, ``0`` none (so that a count of the
    codes is the counts of the values after that of none)."""
    names = sorted({v for v in values if v is not None})
    code = {name: i for i, name in enumerate(names, start=1)}
    return np.array([code[v] if v is not None else 0 for v in values], dtype=np.intp), names


def _rank(values: Sequence[object]) -> np.ndarray:
    """Dense ranks in SQLite's order (texts by code point, as BINARY compares UTF-8), ``-1`` for NULL."""
    distinct = sorted({v for v in values if v is not None})
    rank = {v: i for i, v in enumerate(distinct)}
    return np.array([rank[v] if v is not None else -1 for v in values], dtype=np.int64)


def _multi(lists: list[list[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """A multi-valued facet as (record position, value code) pairs in record order, where each record's
    start (``_rows``), and the distinct values (each list holds a value once)."""
    names = sorted({v for values in lists for v in values})
    code = {name: i for i, name in enumerate(names)}
    of = np.repeat(np.arange(len(lists), dtype=np.int64), [len(values) for values in lists])
    codes = np.array([code[v] for values in lists for v in values], dtype=np.int64)
    return of, _rows(of, len(lists)), codes, names


def _rows(of: np.ndarray, n: int) -> np.ndarray:
    """Where the entries of each record start in ``of`` (sorted), plus the end: record ``i`` has entries
    ``rows[i]:rows[i + 1]``."""
    return np.searchsorted(of, np.arange(n + 1))


def _entries(rows: np.ndarray, records: np.ndarray) -> np.ndarray:
    """The positions of the entries of ``records`` (see ``_rows``)."""
    starts = rows[records]
    lengths = rows[records + 1] - starts
    ends = np.cumsum(lengths)
    return np.repeat(starts - (ends - lengths), lengths) + np.arange(int(ends[-1]) if len(ends) else 0)
