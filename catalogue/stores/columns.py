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
write changed. It is immutable once made, shared by every thread; only the full-text cache changes,
under a lock. The snapshot of the next generation is made from it (``advance``): each write logs the
records it inserted, deleted or regrouped (``changes``), whatever process wrote, and the new snapshot
reads those records alone, appends the new ones and marks the deleted ones dead (tombstones), so that
positions never move and per-value arrays are only appended to. When the dead are a quarter of the rows,
or the log no longer reaches back to the snapshot, the store loads a snapshot whole instead.

Records are numbered by position (``i``) in ``nums``, the records' ``num`` in increasing order (a record
number is never given twice, and a new record's is above every other: new rows go at the end).
"""

from __future__ import annotations

import ctypes
import gc
import json
import math
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import NamedTuple, Protocol

import numpy as np

from catalogue import facets as facet_values
from catalogue.query import Facet, FacetRequest, Query

# Columns a query may test for equality or count, by facet or property name.
CODED = {"source": "source_id", "pole": "pole", "type": "resource_type", "language": "language"}
CODED_FACETS = {"pole": "pole", "source": "source_id", "type": "resource_type", "fair_level": "fair_level"}
_TEXT_COLUMNS = ("source_id", "pole", "resource_type", "language", "fair_level")
_SORTED_COLUMNS = ("title_key", "updated", "created", "time_start", "time_end", "id", "fair_score")
_MULTI = facet_values.MULTI_VALUED
_FTS_CACHE = 512  # phrases remembered per snapshot
# Ranked matches found by FTS5 in one go from which they are saved in the index (``FullText.remember``):
# ten thousand cost FTS5 about ten milliseconds, a word in a third of 10^6 records 400.
_REMEMBER_FROM = 10_000
_ORDERS = 4  # orders of every row remembered per snapshot (deep pages)
_LAST = np.iinfo(np.int64).max  # the sort key of a missing value: after every other
BOX_BITS = 16  # box k of record num is R*Tree id num << BOX_BITS | k (catalogue.stores.sqlite)
_MOST_DEAD = 4  # a snapshot with more than 1/_MOST_DEAD dead rows is loaded whole again
_NOTHING = np.zeros(0, dtype=np.int64)
_CHUNK = 4096  # rows read at a time when loading a snapshot
# glibc's ``malloc_trim``, where there is one (``_give_back``)
_TRIM = getattr(ctypes.CDLL(None), "malloc_trim", None) if os.name == "posix" else None


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


class FullText(Protocol):
    """The FTS5 index as the search's read transaction sees it."""

    def matches(self, phrase: str, ranked: bool, after: int) -> tuple[np.ndarray, np.ndarray | None]:
        """The rowids above ``after`` that match the FTS5 ``phrase``, and their bm25 scores when ranked
        (with the index's column weights, which must be whole numbers: ``_frequencies``)."""

    def totals(self) -> tuple[int, int]:
        """The rows of the index and their tokens, all columns: what bm25's IDF and average length are of."""

    def remembered(self, phrase: str) -> Remembered | None:
        """The ranked matches of ``phrase`` a search saved in the index (``remember``), if any."""

    def remember(self, phrase: str, matches: Remembered) -> None:
        """Save a phrase's ranked matches for the searches of every process to come (when the index is
        not busy: a search never waits for it)."""


class Remembered(NamedTuple):
    """A phrase's ranked matches as they are saved in the index, by record number: they stay true as
    long as the index lives, since a record's text never changes while its number lives and a number
    is never given twice. Of a snapshot of ``generation``: every record then indexed whose number is
    at most ``covered`` and that matches is in ``nums``, with its weighted frequency of the phrase."""

    nums: np.ndarray
    frequencies: np.ndarray
    covered: int
    generation: int


class _Matches(NamedTuple):
    """A phrase's matches: positions, covering the first ``covered`` rows; when ranked, each match's
    weighted frequency of the phrase (FTS5 bm25's ``f(q, D)``), and its bm25 score in this snapshot
    (``None`` in an entry carried from the snapshot before, whose scores a write changed)."""

    positions: np.ndarray
    frequencies: np.ndarray | None
    scores: np.ndarray | None
    covered: int


_NO_MATCHES = _Matches(_NOTHING, np.zeros(0), None, 0)

# FTS5's bm25 parameters (fts5_aux.c), which ``_bm25`` computes as it does.
_K1 = 1.2
_B = 0.75


class Columns:
    """The index of one generation as arrays; ``load`` reads it in one read transaction."""

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self.dead = 0  # rows of records deleted since the snapshot was loaded (``live`` false)
        # (phrase, ranked) -> its matches, carried to the next snapshot and completed there (``_phrase``)
        self._fts: OrderedDict[tuple[str, bool], _Matches] = OrderedDict()
        self._fts_lock = threading.Lock()
        # sort columns -> every row in that order (``page``'s deep pages): made on first use
        self._orders: OrderedDict[tuple[tuple[str, bool], ...], np.ndarray] = OrderedDict()

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
            loaded = cls._load(conn, generation, nums)
        finally:
            if collecting:
                gc.enable()
        if nums is None:
            _give_back()
        return loaded

    @classmethod
    def _load(cls, conn: sqlite3.Connection, generation: int, nums: Sequence[int] | None) -> Columns:
        """Each table is read in chunks of ``_CHUNK`` rows, each chunk turned into arrays (texts into codes
        of the values met so far) before the next is read: the rows of a whole table as Python objects
        took ten times the arrays' memory while loading, and much of it stayed with the process after
        (freed objects scattered among the survivors)."""
        self = cls(generation)
        among = "IN (SELECT value FROM json_each(?))"  # the records ``nums``
        where, params = ("", ()) if nums is None else (f" WHERE num {among}", (json.dumps(list(nums)),))
        numbers: list[np.ndarray] = []
        primary: list[np.ndarray] = []
        n_times: list[np.ndarray] = []
        n_boxes: list[np.ndarray] = []
        coded = {name: _Codes() for name in _TEXT_COLUMNS}
        ranked = {name: _Ranks() for name in _SORTED_COLUMNS}
        time_start: list[np.ndarray] = []
        time_end: list[np.ndarray] = []
        cursor = conn.execute(
            "SELECT num, duplicate_of IS NULL, n_times, source_id, pole, resource_type, language, fair_level,"
            f" title_key, updated, created, time_start, time_end, id, fair_score, n_boxes FROM records{where}"
            " ORDER BY num",
            params,
        )
        while rows := cursor.fetchmany(_CHUNK):
            columns = list(zip(*rows, strict=True))
            del rows
            numbers.append(np.array(columns[0], dtype=np.int64))
            primary.append(np.array(columns[1], dtype=bool))
            n_times.append(np.array(columns[2], dtype=np.int64))
            for name, values in zip(_TEXT_COLUMNS, columns[3:8], strict=True):
                coded[name].add(values)
            for name, values in zip(_SORTED_COLUMNS, columns[8:15], strict=True):
                ranked[name].add(values)
            n_boxes.append(np.array(columns[15], dtype=np.int64))
            time_start.append(np.array([v or "" for v in columns[11]], dtype="S20"))
            time_end.append(np.array([v or "" for v in columns[12]], dtype="S20"))
        self.nums = _joined(numbers, np.int64)
        self.n = len(self.nums)
        self.live = np.ones(self.n, dtype=bool)
        self.primary = _joined(primary, bool)
        self.n_times = _joined(n_times, np.int64)
        self.codes: dict[str, tuple[np.ndarray, list[str]]] = {
            name: codes.finished() for name, codes in coded.items()
        }
        # Ranks in the order of the distinct values of each column (``sorted_values``): sort keys.
        self.ranks: dict[str, np.ndarray] = {}
        self.sorted_values: dict[str, np.ndarray] = {}
        for name, ranks in ranked.items():
            self.ranks[name], self.sorted_values[name] = ranks.finished()
        del coded, ranked
        self.time_null = self.ranks["time_start"] < 0
        self.time_start = _joined(time_start, "S20")
        self.time_end = _joined(time_end, "S20")
        del time_start, time_end

        # The extents of the records with several (the others' is the union, in ``time_start``/``end``).
        many = self.nums[self.n_times > 1]
        extent_of, extent_start, extent_end = [], [], []
        cursor = conn.execute(f"SELECT num, time_start, time_end FROM record_times{where}", params)
        while rows := cursor.fetchmany(_CHUNK):
            columns = list(zip(*rows, strict=True))
            del rows
            of = np.array(columns[0], dtype=np.int64)
            kept = np.isin(of, many)
            extent_of.append(self._positions(of[kept]))
            extent_start.append(np.array(columns[1], dtype="S20")[kept])
            extent_end.append(np.array(columns[2], dtype="S20")[kept])
        self.extent_of = _joined(extent_of, np.int64)
        self.extent_start = _joined(extent_start, "S20")
        self.extent_end = _joined(extent_end, "S20")

        # Some records' boxes by their ids: the R*Tree finds a box by its id, not by a function of it.
        if nums is None:
            box_where, box_params = "", ()
        else:
            box_nums = np.repeat(self.nums, _joined(n_boxes, np.int64))
            box_ids = (box_nums << BOX_BITS) + _ordinals(_joined(n_boxes, np.int64))
            box_where, box_params = f" WHERE id {among}", (json.dumps(box_ids.tolist()),)
        del n_boxes
        box_of: list[np.ndarray] = []
        edges: list[np.ndarray] = []
        cursor = conn.execute(
            f"SELECT id >> {BOX_BITS}, min_lon, max_lon, min_lat, max_lat FROM record_boxes{box_where}",
            box_params,
        )
        while rows := cursor.fetchmany(_CHUNK):
            box_of.append(np.array([row[0] for row in rows], dtype=np.int64))
            edges.append(np.array([row[1:] for row in rows], dtype=np.float64).reshape(len(rows), 4))
            del rows
        # By west edge, so that a query tests only the boxes starting west of its east edge.
        of, box_edges = _joined(box_of, np.int64), np.concatenate(edges) if edges else np.zeros((0, 4))
        del box_of, edges
        order = np.argsort(box_edges[:, 0], kind="stable")
        self.box_of = self._positions(of[order])
        self.box_west, self.box_east, self.box_south, self.box_north = (
            np.ascontiguousarray(box_edges[order, k]) for k in range(4)
        )
        del of, box_edges, order

        # A concept's records, as one text per concept: far fewer rows to read than one per pair.
        cursor = conn.execute(
            "SELECT c.uri, group_concat(rc.num) FROM record_concepts AS rc"
            " JOIN concepts AS c ON c.id = rc.concept"
            f"{'' if nums is None else f' WHERE rc.num {among}'} GROUP BY rc.concept",
            params,
        )
        self.concept_records = {
            uri: self._positions(np.array(text.split(","), dtype=np.int64)) for uri, text in cursor
        }

        self._load_facts(conn, where, params)
        self._load_lengths(conn, nums)
        return self

    def _load_lengths(self, conn: sqlite3.Connection, nums: Sequence[int] | None) -> None:
        """Each row's length in tokens, all columns, as FTS5's bm25 takes it: from the index's
        ``docsize`` table (a varint per column, the format of SQLite's record varints)."""
        self.lengths = np.zeros(self.n, dtype=np.int64)
        sql, params = "SELECT id, sz FROM documents_fts_docsize", ()
        if nums is not None:
            sql, params = f"{sql} WHERE id IN (SELECT value FROM json_each(?))", (json.dumps(list(nums)),)
        cursor = conn.execute(sql, params)
        while rows := cursor.fetchmany(_CHUNK):
            of = self._positions([row[0] for row in rows])
            self.lengths[of] = _varint_sums([row[1] for row in rows])

    def _load_facts(self, conn: sqlite3.Connection, where: str, params: tuple[object, ...]) -> None:
        """The facet values that no column holds, decoded a chunk of records at a time (a record without
        facts has none)."""
        multi = {name: _Entries() for name in (*_MULTI, "theme")}
        licences = _Codes()
        licence_at: list[np.ndarray] = []
        self.theme_labels: dict[str, dict[str, str]] = {}
        self.theme_parents: dict[str, str] = {}
        years: list[np.ndarray] = []
        self.year = now = facet_values.this_year()
        cursor = conn.execute(f"SELECT num, facts FROM record_facets{where} ORDER BY num", params)
        while rows := cursor.fetchmany(_CHUNK):
            of = np.array([row[0] for row in rows], dtype=np.int64)
            at = np.minimum(np.searchsorted(self.nums, of), max(self.n - 1, 0))
            known = self.nums[at] == of if self.n else np.zeros(len(of), dtype=bool)
            listed = [facet_values.decode(row[1]) for row in rows]
            del rows
            positions = at[known].tolist()
            listed = [f for f, ok in zip(listed, known.tolist(), strict=True) if ok]
            for name, field in _MULTI.items():
                multi[name].add(positions, [getattr(f, field) for f in listed])
            multi["theme"].add(positions, [[t.uri for t in f.themes] for f in listed])
            licence_at.append(at[known])
            licences.add([f.license for f in listed])
            for f in listed:
                for theme in f.themes:
                    if theme.labels and theme.uri not in self.theme_labels:
                        self.theme_labels[theme.uri] = theme.labels
                    if theme.parent:
                        self.theme_parents.setdefault(theme.uri, theme.parent)
            spanned = [
                (i, first, now if last is None else last)
                for i, f in zip(positions, listed, strict=True)
                for first, last in f.years
            ]
            years.append(np.array(spanned, dtype=np.int64).reshape(len(spanned), 3))
            del listed, spanned
        self.multi: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]] = {
            name: entries.finished(self.n) for name, entries in multi.items()
        }
        codes, names = licences.finished()
        self.codes["license"] = (np.zeros(self.n, dtype=np.intp), names)
        self.codes["license"][0][_joined(licence_at, np.int64)] = codes
        spanned = np.concatenate(years) if years else np.zeros((0, 3), dtype=np.int64)
        of = spanned[:, 0]
        first = np.maximum(spanned[:, 1], facet_values.FIRST_YEAR)
        last = np.minimum(spanned[:, 2], now)
        kept = first <= last  # the ranges stay disjoint: each is clipped apart
        self.year_of, self.year_first, self.year_last = of[kept], first[kept], last[kept]
        self.year_rows = _rows(self.year_of, self.n)

    def carry_matches(self, older: Columns) -> None:
        """Take the phrase matches an older snapshot of this index remembered, for this one, loaded whole
        (the log no longer reached back, too many rows were dead): a row's text never changes while
        its number lives, and a new record is numbered above every other, so an entry still holds
        every match among the rows it covered, less the records deleted since, and is completed as
        ``_phrase`` completes a carried one. After a rebuild nothing is left of them (every record was
        numbered anew)."""
        with older._fts_lock:
            entries = list(older._fts.items())
        for key, entry in entries:
            last = int(older.nums[entry.covered - 1]) if entry.covered else 0
            self._fts[key] = self._carried(older.nums[entry.positions], entry.frequencies, last)

    def _carried(self, nums: np.ndarray, frequencies: np.ndarray | None, last: int) -> _Matches:
        """The matches among the records numbered up to ``last`` (and their frequencies, if any) of an
        older snapshot, in this one: less those no longer in it, covering its rows up to ``last``."""
        at = np.minimum(np.searchsorted(self.nums, nums), max(self.n - 1, 0))
        kept = self.nums[at] == nums if self.n else np.zeros(len(nums), dtype=bool)
        covered = int(np.searchsorted(self.nums, last, side="right"))
        return _Matches(at[kept], frequencies[kept] if frequencies is not None else None, None, covered)

    def _positions(self, nums: Sequence[int] | np.ndarray) -> np.ndarray:
        """Positions of record numbers known to be in the snapshot."""
        return np.searchsorted(self.nums, np.asarray(nums, dtype=np.int64))

    # --- following writes ------------------------------------------------------------------------------

    def advance(self, conn: sqlite3.Connection, generation: int) -> Columns | None:
        """The snapshot of ``generation``, which the open transaction of ``conn`` sees, made from this one
        and the changes logged since; ``None`` when it must be loaded whole: the log no longer reaches
        back to this snapshot (or a rebuild restarted it), too many rows would be dead, or the year
        changed (open extents count up to the current year)."""
        logged = conn.execute("SELECT logged FROM generation").fetchone()[0]
        if logged > self.generation or self.year != facet_values.this_year():
            return None
        sql = "SELECT DISTINCT num FROM changes WHERE generation > ?"
        changed = np.array(sorted(n for (n,) in conn.execute(sql, (self.generation,))), dtype=np.int64)
        sql = "SELECT num, duplicate_of IS NULL FROM records WHERE num IN (SELECT value FROM json_each(?))"
        indexed = dict(conn.execute(sql, (json.dumps(changed.tolist()),)).fetchall())
        at = np.minimum(np.searchsorted(self.nums, changed), max(self.n - 1, 0))
        known = (self.nums[at] == changed) & self.live[at] if self.n else np.zeros(len(changed), dtype=bool)
        still = np.array([int(num) in indexed for num in changed.tolist()], dtype=bool)
        dead = at[known & ~still]
        if (self.dead + len(dead)) * _MOST_DEAD > self.n:
            return None
        # A record keeps its number while indexed, and its row changes in place only when regrouped.
        kept = at[known & still]
        primary = np.array([bool(indexed[int(num)]) for num in self.nums[kept].tolist()], dtype=bool)
        new = changed[~known & still]
        return self._extended(generation, dead, kept, primary, Columns.load(conn, generation, new.tolist()))

    def _extended(
        self, generation: int, dead: np.ndarray, kept: np.ndarray, primary: np.ndarray, added: Columns
    ) -> Columns:
        """A new snapshot: this one with the rows ``dead`` dead, the rows ``kept`` primary or not as
        ``primary`` says, and the records of ``added`` (all numbered above this one's) appended. Arrays
        are copied, never changed: other threads may be searching this snapshot."""
        out = Columns(generation)
        n = self.n
        out.n = n + added.n
        out.dead = self.dead + len(dead)
        out.year = self.year
        out.nums = np.concatenate([self.nums, added.nums])
        out.live = np.concatenate([self.live, added.live])
        out.live[dead] = False
        out.primary = np.concatenate([self.primary, added.primary])
        out.primary[kept] = primary
        out.primary[dead] = False
        out.n_times = np.concatenate([self.n_times, added.n_times])
        out.codes = {name: _merged_codes(codes, added.codes[name]) for name, codes in self.codes.items()}
        out.ranks, out.sorted_values = {}, {}
        for name, rank in self.ranks.items():
            out.ranks[name], out.sorted_values[name] = _merged_ranks(
                rank, self.sorted_values[name], added.ranks[name], added.sorted_values[name]
            )
        out.time_null = np.concatenate([self.time_null, added.time_null])
        out.time_start = np.concatenate([self.time_start, added.time_start])
        out.time_end = np.concatenate([self.time_end, added.time_end])
        out.extent_of = np.concatenate([self.extent_of, added.extent_of + n])
        out.extent_start = np.concatenate([self.extent_start, added.extent_start])
        out.extent_end = np.concatenate([self.extent_end, added.extent_end])
        # Still by west edge: each new box inserted where it sorts.
        at = np.searchsorted(self.box_west, added.box_west, side="right")
        out.box_of = np.insert(self.box_of, at, added.box_of + n)
        out.box_west = np.insert(self.box_west, at, added.box_west)
        out.box_east = np.insert(self.box_east, at, added.box_east)
        out.box_south = np.insert(self.box_south, at, added.box_south)
        out.box_north = np.insert(self.box_north, at, added.box_north)
        out.concept_records = dict(self.concept_records)
        for uri, positions in added.concept_records.items():
            before = self.concept_records.get(uri, _NOTHING)
            out.concept_records[uri] = np.concatenate([before, positions + n])
        out.multi = {name: _merged_multi(multi, added.multi[name], n) for name, multi in self.multi.items()}
        out.theme_labels = {**added.theme_labels, **self.theme_labels}
        out.theme_parents = {**added.theme_parents, **self.theme_parents}
        out.year_of = np.concatenate([self.year_of, added.year_of + n])
        out.year_first = np.concatenate([self.year_first, added.year_first])
        out.year_last = np.concatenate([self.year_last, added.year_last])
        out.year_rows = np.concatenate([self.year_rows[:n], added.year_rows + len(self.year_of)])
        out.lengths = np.concatenate([self.lengths, added.lengths])
        with self._fts_lock:
            out._fts.update((key, entry._replace(scores=None)) for key, entry in self._fts.items())
        return out

    # --- search --------------------------------------------------------------------------------------

    def match(
        self, query: Query, criteria: Criteria, full_text: FullText
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The mask of the records ``query`` matches, and their bm25 scores when ranked by relevance."""
        mask = self.live.copy() if query.ids else self.primary.copy()
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
            mask &= np.isin(self.ranks["id"], self._id_ranks(query.ids))
        if query.types:
            mask &= self._equal("resource_type", query.types)
        for name, values in query.properties.items():
            if not values:
                continue
            if name == "theme":
                found = [self.concept_records[uri] for uri in values if uri in self.concept_records]
                mask &= self._among(np.concatenate(found) if found else [])
            elif name in facet_values.MULTI_VALUED:
                of, _, codes, names = self.multi[name]
                wanted = [code for code, value in enumerate(names) if value in set(values)]
                mask &= self._among(of[np.isin(codes, wanted)])
            elif name == "year":
                covered = np.zeros(len(self.year_of), dtype=bool)
                for year in facet_values.years(values):
                    covered |= (self.year_first <= year) & (self.year_last >= year)
                mask &= self._among(self.year_of[covered])
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
        """One phrase's matches, remembered; a ranked entry serves an unranked search too. An entry
        carried from the previous snapshot is completed with the matches among the rows appended since
        (dead rows stay in it: searches leave them out). Its scores are not carried: a write changes
        every bm25 score (through the number of rows, of those matching, and their average length),
        but not what each is computed from, each match's frequency of the phrase and its length, so
        they are computed again here from those (``_bm25``), not by FTS5 for every match: 5 ms rather
        than 400 for a word in a third of 10^6 records.

        A phrase this snapshot has no entry for is looked for in the index, where the searches of
        every process save the ranked matches FTS5 found many of (``_REMEMBER_FROM``): the first search
        of a common word in a process is then as cheap as one after a write."""
        with self._fts_lock:
            entry = None
            for key in ((phrase, ranked), (phrase, True)):
                if key in self._fts:
                    self._fts.move_to_end(key)
                    entry = self._fts[key]
                    if entry.covered == self.n and (entry.scores is not None or not ranked):
                        return entry.positions, entry.scores
                    break
        if entry is None:
            entry = self._remembered(phrase, full_text)
        if ranked and entry.frequencies is None:
            entry = _NO_MATCHES  # unranked: no frequencies to score the rows it covers
        after = int(self.nums[entry.covered - 1]) if entry.covered else 0
        rowids, scores = full_text.matches(phrase, ranked, after)
        added = self._positions(rowids)
        positions = np.concatenate([entry.positions, added])
        frequencies = all_scores = None
        if ranked:
            assert scores is not None and entry.frequencies is not None
            rows, tokens = full_text.totals()
            hits = int(np.count_nonzero(self.live[positions]))
            found = _frequencies(scores, self.lengths[added], hits, rows, tokens)
            frequencies = np.concatenate([entry.frequencies, found])
            all_scores = _bm25(frequencies, self.lengths[positions], hits, rows, tokens)
        with self._fts_lock:
            self._fts[(phrase, ranked)] = _Matches(positions, frequencies, all_scores, self.n)
            while len(self._fts) > _FTS_CACHE:
                self._fts.popitem(last=False)
        if frequencies is not None and len(rowids) >= _REMEMBER_FROM:
            last = int(self.nums[self.n - 1])
            full_text.remember(phrase, Remembered(self.nums[positions], frequencies, last, self.generation))
        return positions, all_scores

    def _remembered(self, phrase: str, full_text: FullText) -> _Matches:
        """The phrase's matches the index keeps, when saved from a snapshot no newer than this one (a
        newer one lacks the records deleted since, which this one still holds); else none."""
        saved = full_text.remembered(phrase)
        if saved is None or saved.generation > self.generation:
            return _NO_MATCHES
        return self._carried(saved.nums, saved.frequencies, saved.covered)

    def _id_ranks(self, ids: list[str]) -> np.ndarray:
        """The id ranks of the records ``ids`` that the snapshot has (dead rows too: ``match`` masks
        them). Found in the sorted ids, not in a dict of every id: that took 160 MB for 10^6 records, and
        a copy at every write."""
        values = self.sorted_values["id"]
        wanted = np.empty(len(ids), dtype=object)
        wanted[:] = ids
        at = np.searchsorted(values, wanted)
        inside = at < len(values)
        return at[inside][values[at[inside]] == wanted[inside]]

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
        if score is None and wanted >= len(matched) // 4 and len(matched) * 16 >= self.n:
            # A deep page of many matches: a pass over every row in order rather than a sort of them.
            order = self._order(criteria.sort_columns)
            return self.nums[order[mask[order]][query.offset : wanted]].tolist()
        keys = self._sort_keys(criteria.sort_columns, score)
        candidates = matched
        if wanted < len(matched) // 4:  # a partial sort on the first key keeps the page and its ties
            first = keys[0][matched]
            bound = np.partition(first, wanted - 1)[wanted - 1]
            candidates = matched[first <= bound]
        order = np.lexsort([key[candidates] for key in reversed(keys)])
        return self.nums[candidates[order][query.offset : wanted]].tolist()

    def extent(
        self, mask: np.ndarray
    ) -> tuple[tuple[float, float, float, float] | None, tuple[str, str] | None]:
        """The box around the boxes of the records of ``mask`` (west, south, east, north, as the R*Tree
        holds them), and the first start and last end of their extents as the index's text (open ends as
        its sentinels); ``None`` when none has any."""
        boxed = mask[self.box_of]
        bbox = None
        if boxed.any():
            west, south = self.box_west[boxed].min(), self.box_south[boxed].min()
            east, north = self.box_east[boxed].max(), self.box_north[boxed].max()
            bbox = (float(west), float(south), float(east), float(north))
        starts, ends = self.ranks["time_start"], self.ranks["time_end"]
        timed = mask & (starts >= 0)
        if not timed.any():
            return bbox, None
        first = self.sorted_values["time_start"][starts[timed].min()]
        last = self.sorted_values["time_end"][ends[timed].max()]
        return bbox, (first, last)

    def _sort_keys(
        self, sort_columns: list[tuple[str, bool]], score: np.ndarray | None = None
    ) -> list[np.ndarray]:
        """The keys of an order, first to last: the sort columns', relevance, then the id's (unless
        sorted on)."""
        keys = [self._sort_key(column, ascending) for column, ascending in sort_columns]
        if score is not None:
            keys.append(score)
        if not any(column == "id" for column, _ in sort_columns):
            keys.append(self.ranks["id"])
        return keys

    def _order(self, sort_columns: list[tuple[str, bool]]) -> np.ndarray:
        """Every row in the order of ``sort_columns`` (then id), made once per snapshot and order (a
        sort of all the rows, 0.1 s for 10^6 records; 8 bytes a row, the last ``_ORDERS`` kept): a deep
        page is then a pass over the rows rather than a sort of every match. Two threads asking at once
        may both make it, harmlessly."""
        key = tuple(sort_columns)
        with self._fts_lock:
            if (order := self._orders.get(key)) is not None:
                self._orders.move_to_end(key)
                return order
        order = np.lexsort(list(reversed(self._sort_keys(sort_columns))))
        with self._fts_lock:
            self._orders[key] = order
            while len(self._orders) > _ORDERS:
                self._orders.popitem(last=False)
        return order

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
            labels = {
                value: facet_values.theme_labels(value, self.theme_labels.get(value)) for value in counted
            }
            return facet_values.facet(request, counted, labels, self.theme_parents)
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


class _Codes:
    """The codes of a text column read in chunks: each value numbered when first met, renumbered in the
    order of the values once all are read (see ``finished``)."""

    def __init__(self) -> None:
        self.code: dict[str, int] = {}
        self.parts: list[np.ndarray] = []

    def add(self, values: Sequence[str | None]) -> None:
        code = self.code
        self.parts.append(
            np.array([-1 if v is None else code.setdefault(v, len(code)) for v in values], dtype=np.intp)
        )

    def finished(self) -> tuple[np.ndarray, list[str]]:
        """Codes and the distinct values: code ``k`` is ``names[k - 1]``, ``0`` none (so that a count of
        the codes is the counts of the values after that of none)."""
        names = sorted(self.code)
        renumbered = np.zeros(len(names) + 1, dtype=np.intp)  # the last entry: none (-1)
        renumbered[[self.code[name] for name in names]] = np.arange(1, len(names) + 1)
        return renumbered[_joined(self.parts, np.intp)], names


class _Ranks:
    """Dense ranks of a column read in chunks, in SQLite's order (texts by code point, as BINARY compares
    UTF-8), ``-1`` for NULL, and the distinct values in that order: each chunk's distinct values are
    sorted apart, and those of all the chunks merged at the end (no dict of every value: most columns'
    values are nearly all distinct)."""

    def __init__(self) -> None:
        self.distinct: list[np.ndarray] = []
        self.parts: list[np.ndarray] = []
        self.count = 0

    def add(self, values: Sequence[object]) -> None:
        known = np.array([v is not None for v in values], dtype=bool)
        array = np.empty(len(values), dtype=object)
        array[:] = values
        distinct, inverse = np.unique(array[known], return_inverse=True)
        codes = np.full(len(values), -1, dtype=np.int64)
        codes[known] = inverse.reshape(-1) + self.count
        self.count += len(distinct)
        self.distinct.append(distinct)
        self.parts.append(codes)

    def finished(self) -> tuple[np.ndarray, np.ndarray]:
        every = np.concatenate(self.distinct) if self.distinct else np.zeros(0, dtype=object)
        ordered, rank = np.unique(every, return_inverse=True)
        rank = np.append(rank.reshape(-1), -1)  # code -1 (NULL) picks the last entry
        return rank[_joined(self.parts, np.int64)], ordered.astype(object)


class _Entries:
    """A multi-valued facet read in chunks: (record position, value code) pairs."""

    def __init__(self) -> None:
        self.code: dict[str, int] = {}
        self.of: list[np.ndarray] = []
        self.parts: list[np.ndarray] = []

    def add(self, positions: list[int], lists: list[list[str]]) -> None:
        code = self.code
        self.of.append(np.repeat(np.array(positions, dtype=np.int64), [len(values) for values in lists]))
        self.parts.append(
            np.array([code.setdefault(v, len(code)) for values in lists for v in values], dtype=np.int64)
        )

    def finished(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
        """(record position, value code) pairs in record order, where each record's start (``_rows``),
        and the distinct values, sorted (each list holds a value once)."""
        names = sorted(self.code)
        renumbered = np.zeros(len(names), dtype=np.int64)
        renumbered[[self.code[name] for name in names]] = np.arange(len(names))
        of = _joined(self.of, np.int64)
        return of, _rows(of, n), renumbered[_joined(self.parts, np.int64)], names


def _give_back() -> None:
    """Returns the free memory of the C heap to the system, after a whole load: the chunks' arrays and
    the load's temporaries, once freed, stay in the heap among the arrays made after them (190 MB of
    880 MB resident for 10^6 records), and glibc gives back only what ends the heap unless asked."""
    if _TRIM is not None:
        _TRIM(0)


def _joined(parts: list[np.ndarray], dtype: object) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


def _ordinals(counts: np.ndarray) -> np.ndarray:
    """``0..count - 1`` for each count, one after the other."""
    ends = np.cumsum(counts)
    return np.arange(int(ends[-1]) if len(ends) else 0) - np.repeat(ends - counts, counts)


def _merged_ranks(
    ranks: np.ndarray, values: np.ndarray, more_ranks: np.ndarray, more_values: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Ranks of two sets of rows (each with its sorted distinct values) in the order of the union of
    their values: the values new to the first are inserted where they sort, and its ranks shifted past
    them. Ranks need not be dense (values of dead rows stay), only in order and equal for equal values."""
    at = np.searchsorted(values, more_values)
    found = np.zeros(len(more_values), dtype=bool)
    inside = at < len(values)
    found[inside] = values[at[inside]] == more_values[inside]
    if found.all():
        shifted = ranks
        merged = values
    else:
        new_at = at[~found]
        merged = np.insert(values, new_at, more_values[~found])
        moved = np.arange(len(values)) + np.searchsorted(new_at, np.arange(len(values)), side="right")
        shifted = np.where(ranks < 0, -1, moved[ranks]) if len(values) else ranks
    places = np.searchsorted(merged, more_values) if len(more_values) else _NOTHING
    more = np.where(more_ranks < 0, -1, places[more_ranks]) if len(more_values) else more_ranks
    return np.concatenate([shifted, more]), merged


def _merged_codes(
    coded: tuple[np.ndarray, list[str]], more: tuple[np.ndarray, list[str]]
) -> tuple[np.ndarray, list[str]]:
    """The codes of two sets of rows in the names of the first, new names appended (their order does not
    matter: buckets are ordered by ``facets.facet``)."""
    codes, names = coded
    more_codes, more_names = more
    code = {name: i for i, name in enumerate(names, start=1)}
    names = names + [name for name in more_names if name not in code]
    code.update((name, i) for i, name in enumerate(names, start=1) if name not in code)
    translated = np.array([0, *(code[name] for name in more_names)], dtype=np.intp)
    return np.concatenate([codes, translated[more_codes]]), names


def _merged_multi(
    multi: tuple[np.ndarray, np.ndarray, np.ndarray, list[str]],
    more: tuple[np.ndarray, np.ndarray, np.ndarray, list[str]],
    n: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """A multi-valued facet of ``n`` rows with the rows of ``more`` appended (see ``_Entries``)."""
    of, rows, codes, names = multi
    more_of, more_rows, more_codes, more_names = more
    code = {name: i for i, name in enumerate(names)}
    names = names + [name for name in more_names if name not in code]
    code.update((name, i) for i, name in enumerate(names) if name not in code)
    translated = np.array([code[name] for name in more_names], dtype=np.int64)
    return (
        np.concatenate([of, more_of + n]),
        np.concatenate([rows[:n], more_rows + len(of)]),
        np.concatenate([codes, translated[more_codes]]),
        names,
    )


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


def _idf(hits: int, rows: int) -> float:
    """FTS5's IDF of a phrase that ``hits`` of ``rows`` rows hold, never below 1e-6 (``math.log``, the C
    library's, as FTS5's: the scores come out as FTS5 gives them, bit for bit)."""
    idf = math.log((rows - hits + 0.5) / (hits + 0.5)) if rows else 0.0
    return idf if idf > 0.0 else 1e-6


def _bm25(frequencies: np.ndarray, lengths: np.ndarray, hits: int, rows: int, tokens: int) -> np.ndarray:
    """FTS5's bm25 of one phrase (``fts5Bm25Function``: negative, the best first), from each match's
    weighted frequency of the phrase and length, the operations in its order."""
    average = tokens / rows if rows else 1.0
    norm = _K1 * (1 - _B + _B * lengths / average)
    return -1.0 * (_idf(hits, rows) * ((frequencies * (_K1 + 1.0)) / (frequencies + norm)))


def _frequencies(scores: np.ndarray, lengths: np.ndarray, hits: int, rows: int, tokens: int) -> np.ndarray:
    """What ``_bm25`` took to give ``scores``: each match's weighted frequency of the phrase, rounded to
    the whole number it is (the column weights are whole: ``FullText.matches``), so that a score
    computed again from it is exact."""
    average = tokens / rows if rows else 1.0
    norm = _K1 * (1 - _B + _B * lengths / average)
    top = _idf(hits, rows) * (_K1 + 1.0)
    return np.rint(-scores * norm / (top + scores))


def varints(data: bytes) -> np.ndarray:
    """The values of the varints ``data`` holds, one after the other (SQLite's varints, which FTS5's
    tables use: 7 bits a byte, the most significant first, a set high bit on every byte but the last;
    the sizes and counts read here never reach the 9-byte form)."""
    return _varints(np.frombuffer(data, dtype=np.uint8))[0]


def _varints(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``varints``, and where each starts in ``data``."""
    if not len(data):
        return _NOTHING, _NOTHING
    data = data.astype(np.int64)
    ends = np.flatnonzero(data < 0x80)  # the last byte of each varint
    at = np.arange(len(data))
    shifted = (data & 0x7F) << (7 * (ends[np.searchsorted(ends, at)] - at))
    starts = np.concatenate([[0], ends[:-1] + 1])
    return np.add.reduceat(shifted, starts), starts


def _varint_sums(blobs: list[bytes]) -> np.ndarray:
    """The sum of the varints of each blob."""
    values, starts = _varints(np.frombuffer(b"".join(blobs), dtype=np.uint8))
    blob_of = np.searchsorted(np.cumsum([len(blob) for blob in blobs]), starts, side="right")
    return np.bincount(blob_of, weights=values, minlength=len(blobs)).astype(np.int64)
