"""Mapping record keywords to thesaurus concepts: ``Thesaurus.match`` for one keyword, ``enrich`` for a
record.

A keyword is tried, in order:

1. by its anchor URI (``gmx:Anchor``): the concept it names, if we hold its vocabulary. An anchor into a
   vocabulary we do not hold is not guessed from its label, unless the keyword also cites a thesaurus
   we hold (then its label is looked up there);
2. as a path, when its label has levels ("EARTH SCIENCE > OCEANS > OCEAN TEMPERATURE", GCMD's and DIF's
   way of writing a keyword): from the concepts named like the first level, down by narrower concepts
   named like each next level;
3. by label: its label and its translations, folded, against every label of every concept.

When the keyword cites a thesaurus we hold (``thesaurus.citations``), only that scheme's concepts are
candidates: "Land use" cited from "GEMET - INSPIRE themes" is the INSPIRE theme, not GEMET's concept
of the same name. Otherwise all schemes are, and a keyword maps only if one concept wins (best label
rank, ``thesaurus.index.PREF`` first); several winners are reported as ambiguous, never picked at random.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import msgspec

from catalogue.record import Concept, Keyword, Record
from thesaurus.cache import load_vocabulary
from thesaurus.citations import Citations
from thesaurus.index import ConceptIndex
from thesaurus.labels import path_segments
from thesaurus.skos import Vocabulary
from thesaurus.themes import Themes, is_theme

How = Literal["anchor", "path", "label", "ambiguous", "none"]


@dataclass(frozen=True, slots=True)
class Match:
    """What a keyword matched: ``uris`` holds the concept (anchor, path, label) or the candidates that
    tied (ambiguous); ``schemes`` the schemes its citation named (empty when none we hold)."""

    how: How
    uris: tuple[str, ...] = ()
    schemes: frozenset[str] = frozenset()

    @property
    def uri(self) -> str | None:
        """The concept the keyword maps to, or None when it maps to none or to several."""
        return self.uris[0] if self.how in ("anchor", "path", "label") else None


class Thesaurus(ConceptIndex):
    """The loaded vocabularies, and the matching of record keywords to their concepts."""

    def __init__(self, vocabularies: Iterable[Vocabulary]):
        super().__init__(vocabularies)
        self.citations = Citations(s for v in self.vocabularies for s in v.schemes)
        self.themes = Themes(self)

    @classmethod
    def load(cls, paths: Iterable[str | Path], cache_dir: str | Path | None = None) -> Thesaurus:
        """The vocabularies in these SKOS files (RDF/XML, Turtle, JSON-LD). With ``cache_dir``, each
        file's compiled index is kept there and reused while the file's bytes do not change."""
        cache = Path(cache_dir) if cache_dir is not None else None
        return cls(load_vocabulary(Path(p), cache) for p in paths)

    def match(self, keyword: Keyword) -> Match:
        """The concept ``keyword`` names (see the module docstring for the order of the attempts)."""
        schemes = self.citations.schemes(keyword)
        if keyword.uri:
            entry = self.concept(keyword.uri)
            if entry is not None:
                return Match("anchor", (entry.uri,), schemes)
            if not schemes:
                return Match("none", (), schemes)
        segments = path_segments(keyword.label)
        if segments:
            return self._decide("path", self.resolve_path(segments, schemes), schemes)
        texts = [keyword.label, *keyword.translations.values()]
        return self._decide("label", self.labelled(texts, schemes), schemes)

    def labelled(self, texts: Iterable[str], schemes: frozenset[str] = frozenset()) -> list[str]:
        """The concepts (of ``schemes`` when given) with the best-ranked label among ``texts``."""
        found: dict[str, int] = {}
        for text in texts:
            for uri, rank in self.by_label(text).items():
                if rank < found.get(uri, rank + 1) and self._in(uri, schemes):
                    found[uri] = rank
        if not found:
            return []
        best = min(found.values())
        return sorted(uri for uri, rank in found.items() if rank == best)

    def resolve_path(self, segments: list[str], schemes: frozenset[str] = frozenset()) -> list[str]:
        """The concepts a hierarchical keyword names: those labelled like the first level, then at each
        level their narrower concepts labelled like it (GCMD "Category > Topic > Term > Variable")."""
        current = self.labelled([segments[0]], schemes)
        for segment in segments[1:]:
            if not current:
                break
            below = self.by_label(segment)
            children = {child for uri in current for child in self.children(uri) if child in below}
            best = min((below[c] for c in children), default=None)
            current = sorted(c for c in children if below[c] == best)
        return current

    def enrich(self, record: Record) -> tuple[Record, list[Keyword]]:
        """The record with ``concepts`` set to the concepts its keywords map to (each once, in keyword
        order) followed by the Data Terra themes they place it under (``thesaurus.themes``), and the
        keywords that map to none or ambiguously (for the per-source unmapped report)."""
        concepts: dict[str, Concept] = {}
        unmapped: list[Keyword] = []
        for keyword in record.keywords:
            found = self.match(keyword)
            uri = found.uri
            if uri is None:
                unmapped.append(keyword)
            elif uri not in concepts:
                concepts[uri] = self.record_concept(uri, found.schemes)
        for theme, via in self.themes.place(list(concepts), record.pole).items():
            if theme not in concepts:
                concepts[theme] = msgspec.structs.replace(self.record_concept(theme), via=via)
        return msgspec.structs.replace(record, concepts=list(concepts.values())), unmapped

    def record_concept(self, uri: str, cited: frozenset[str] = frozenset()) -> Concept:
        """The ``Concept`` a record carries for ``uri``: its scheme (the cited one when the concept is in
        it), its prefLabels by language, its ancestors and their labels (for search expansion)."""
        entry = self.concept(uri)
        if entry is None:
            raise KeyError(uri)
        scheme = next((s for s in entry.schemes if s in cited), entry.schemes[0] if entry.schemes else None)
        ancestors = self.ancestors(uri)
        labels: dict[str, None] = {}
        for upper in ancestors:
            above = self.concept(upper)
            if above is not None:
                labels.update(dict.fromkeys(above.pref.values()))
        return Concept(
            uri=entry.uri,
            scheme=scheme,
            labels=dict(entry.pref),
            ancestors=list(ancestors),
            ancestor_labels=list(labels),
        )

    def _decide(self, how: How, candidates: list[str], schemes: frozenset[str]) -> Match:
        """One candidate maps; of a concept and its ancestor named alike (GEMET's theme "tourisme" and
        its concept "tourisme"), the narrower one is meant; a Data Terra theme named like a concept of
        the poles' vocabularies ("Aerosols" and GCMD AEROSOLS, "Océan" and GEMET's "océan") stands back,
        since themes are placed from those concepts (``thesaurus.themes``); other ties are ambiguous."""
        if len(candidates) > 1:
            above = {a for uri in candidates for a in self.ancestors(uri)}
            candidates = [uri for uri in candidates if uri not in above]
        if len(candidates) > 1 and not all(map(is_theme, candidates)):
            candidates = [uri for uri in candidates if not is_theme(uri)]
        if len(candidates) == 1:
            return Match(how, tuple(candidates), schemes)
        return Match("ambiguous" if candidates else "none", tuple(candidates), schemes)

    def _in(self, uri: str, schemes: frozenset[str]) -> bool:
        if not schemes:
            return True
        entry = self.concept(uri)
        return entry is not None and not schemes.isdisjoint(entry.schemes)
