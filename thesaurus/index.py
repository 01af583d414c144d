"""The concepts of several vocabularies merged into one graph, with the look-ups keyword matching needs.

Two files may describe the same concept: GEMET's themes are in both the GEMET theme file (en, fr, de,
it labels) and the GEMET concept dump (fr, with the themes' narrower concepts). They are merged by URI
key (``thesaurus.uris``), so that one concept has all its labels, schemes and relations.

Everything a keyword look-up touches is a dictionary built here once: URI key -> concept, folded label
-> concepts. Ancestors are computed on first use and remembered.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from thesaurus.labels import fold
from thesaurus.skos import SkosConcept, Vocabulary
from thesaurus.uris import uri_key

# How a label matched, best first: a prefLabel match beats an altLabel match (GCMD gives ATMOSPHERE the
# altLabel "OCEANS", which must not compete with the concept OCEANS).
PREF, ALT, HIDDEN, NOTATION = range(4)


@dataclass(slots=True)
class Entry:
    """A concept with what every file loaded says about it. URIs are as the first file spells them."""

    uri: str
    schemes: list[str]
    pref: dict[str, str]  # language ("" when none) -> prefLabel
    alt: list[str]
    hidden: list[str]
    notations: list[str]
    broader: list[str]  # skos:broader and inverse skos:narrower
    narrower: list[str]
    matches: dict[str, list[str]]  # exactMatch, closeMatch, ... -> URIs


class ConceptIndex:
    """Concepts by URI and by label, and the broader/narrower graph between them."""

    def __init__(self, vocabularies: Iterable[Vocabulary]):
        self.vocabularies = list(vocabularies)
        self._entries: dict[str, Entry] = {}  # URI key -> entry
        self._exact: dict[str, Entry] = {}  # URI as the file spells it -> entry (the fast path)
        self._labels: dict[str, dict[str, int]] = defaultdict(dict)  # folded label -> {URI: best rank}
        self._ancestors: dict[str, list[str]] = {}
        for vocabulary in self.vocabularies:
            for concept in vocabulary.concepts:
                self._merge(concept)
        self._exact.update((entry.uri, entry) for entry in self._entries.values())
        for entry in self._entries.values():
            entry.broader = self._canonical(entry.broader)
            entry.narrower = self._canonical(entry.narrower)
            self._index_labels(entry)

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Entry]:
        """Every concept, once (merged across files)."""
        return iter(self._entries.values())

    def concept(self, uri: str) -> Entry | None:
        """The concept a URI names, however the record spells it (GCMD old or new host, http or https,
        with or without a trailing slash)."""
        return self._exact.get(uri) or self._entries.get(uri_key(uri))

    def by_label(self, text: str) -> dict[str, int]:
        """The concepts with a label (pref, alt, hidden or notation) that folds like ``text``: URI ->
        rank of the best such label (``PREF`` ... ``NOTATION``)."""
        return self._labels.get(fold(text), {})

    def ancestors(self, uri: str) -> list[str]:
        """Every concept above ``uri`` through broader links, nearest first, each once. Several chains
        (a GEMET concept under two themes) are all followed; a cycle ends where it meets a concept
        already seen."""
        entry = self.concept(uri)
        if entry is None:
            return []
        if entry.uri not in self._ancestors:
            seen = {entry.uri}
            order: list[str] = []
            frontier = deque(entry.broader)
            while frontier:
                upper = frontier.popleft()
                if upper in seen:
                    continue
                seen.add(upper)
                order.append(upper)
                above = self.concept(upper)
                if above is not None:
                    frontier.extend(above.broader)
            self._ancestors[entry.uri] = order
        return self._ancestors[entry.uri]

    def children(self, uri: str) -> list[str]:
        """The concepts directly narrower than ``uri``."""
        entry = self.concept(uri)
        return entry.narrower if entry is not None else []

    def _merge(self, concept: SkosConcept) -> None:
        key = uri_key(concept.uri)
        entry = self._entries.get(key)
        if entry is None:  # the usual case: a concept described by one file only
            self._entries[key] = Entry(
                uri=concept.uri,
                schemes=list(concept.schemes),
                pref={label.lang: label.text for label in concept.pref},  # one per language (skos)
                alt=[label.text for label in concept.alt],
                hidden=[label.text for label in concept.hidden],
                notations=list(concept.notations),
                broader=list(concept.broader),
                narrower=list(concept.narrower),
                matches={name: list(targets) for name, targets in concept.matches.items()},
            )
            return
        _extend(entry.schemes, concept.schemes)
        for label in concept.pref:
            if label.lang in entry.pref:
                if entry.pref[label.lang] != label.text:
                    _extend(entry.alt, [label.text])
            else:
                entry.pref[label.lang] = label.text
        _extend(entry.alt, [label.text for label in concept.alt])
        _extend(entry.hidden, [label.text for label in concept.hidden])
        _extend(entry.notations, concept.notations)
        _extend(entry.broader, concept.broader)
        _extend(entry.narrower, concept.narrower)
        for name, targets in concept.matches.items():
            _extend(entry.matches.setdefault(name, []), targets)

    def _canonical(self, uris: list[str]) -> list[str]:
        """URIs as the concept's own file spells them (a concept another file names by an old GCMD host
        or with https); URIs of concepts not loaded stay as written."""
        out = []
        for uri in uris:
            entry = self.concept(uri)
            out.append(entry.uri if entry is not None else uri)
        return list(dict.fromkeys(out))

    def _index_labels(self, entry: Entry) -> None:
        ranked = (
            (PREF, entry.pref.values()),
            (ALT, entry.alt),
            (HIDDEN, entry.hidden),
            (NOTATION, entry.notations),
        )
        for rank, texts in ranked:
            for text in texts:
                found = self._labels[fold(text)]
                if rank < found.get(entry.uri, NOTATION + 1):
                    found[entry.uri] = rank


def _extend(target: list[str], items: Iterable[str]) -> None:
    """Append the items not already in ``target`` (short lists: the labels and links of one concept)."""
    for item in items:
        if item not in target:
            target.append(item)
