"""Placing a record under the Data Terra themes, the concepts the catalogue's facets are built on.

The Data Terra thesaurus (``config/thesauri/data-terra.ttl``) maps each of its concepts to the concepts
of the vocabularies the poles cite (GCMD, INSPIRE, GEMET, ODATIS...). Its README states the rule these
mappings were designed for, applied here to the concepts a record's keywords matched, each together with
its ancestors in its own vocabulary:

1. the record goes under every Data Terra concept that has one of them as an ``exactMatch``,
   ``closeMatch`` or ``narrowMatch`` target (or that a keyword named directly);
2. failing that, under the *compartments* of the concepts that have one of them as a ``broadMatch`` or
   ``relatedMatch`` target (a broad keyword gives a broad placement);
3. failing that, under the compartment whose ``skos:hiddenLabel`` is the record's pole.

So every record of a source with a pole lands under at least one theme. Each theme says what it was
inferred from (``Concept.via``), so a surprising placement can be traced to the keyword behind it.

``labels`` gives the labels of every Data Terra concept, by language, from the thesaurus shipped with
the catalogue: facets show a compartment that records reach only as an ancestor of their themes, and
records carry their ancestors' labels for search only, not by language.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from thesaurus.cache import load_vocabulary
from thesaurus.index import ConceptIndex, Entry
from thesaurus.labels import fold

SCHEME = "https://w3id.org/data-terra/thesaurus/"
THESAURUS = Path(__file__).resolve().parent.parent / "config" / "thesauri" / "data-terra.ttl"
_NARROWING = ("exactMatch", "closeMatch", "narrowMatch")
_BROADENING = ("broadMatch", "relatedMatch")


class Themes:
    """The reverse of the Data Terra mappings: from a concept of any vocabulary to our themes."""

    def __init__(self, index: ConceptIndex):
        self.index = index
        self._narrowing: dict[str, list[str]] = defaultdict(list)  # target URI -> themes it places under
        self._broadening: dict[str, list[str]] = defaultdict(list)  # target URI -> compartments
        self._by_pole: dict[str, str] = {}  # folded pole name -> compartment
        themes = [entry for entry in index if is_theme(entry.uri)]
        for entry in themes:
            compartment = self._compartment(entry)
            for name in _NARROWING:
                for target in entry.matches.get(name, ()):
                    _add(self._narrowing[self._canonical(target)], entry.uri)
            for name in _BROADENING:
                for target in entry.matches.get(name, ()):
                    if compartment is not None:
                        _add(self._broadening[self._canonical(target)], compartment)
            if compartment == entry.uri:
                for pole in entry.hidden:
                    self._by_pole[fold(pole)] = entry.uri

    def __bool__(self) -> bool:
        """Whether the Data Terra thesaurus is loaded at all."""
        return bool(self._by_pole or self._narrowing)

    def place(self, concepts: Iterable[str], pole: str | None) -> dict[str, list[str]]:
        """The themes of a record whose keywords matched ``concepts`` (URIs as the index spells them),
        each with what placed it there: the record's concepts, or ``pole:<POLE>`` for the fallback."""
        placed: dict[str, list[str]] = {}
        broad: dict[str, list[str]] = {}
        for uri in concepts:
            if is_theme(uri):
                placed.setdefault(uri, [])
                continue
            for upper in (uri, *self.index.ancestors(uri)):
                for theme in self._narrowing.get(upper, ()):
                    _add(placed.setdefault(theme, []), uri)
                for compartment in self._broadening.get(upper, ()):
                    _add(broad.setdefault(compartment, []), uri)
        if placed:
            return placed
        if broad:
            return broad
        compartment = self._by_pole.get(fold(pole)) if pole else None
        return {compartment: [f"pole:{pole}"]} if compartment else {}

    def _compartment(self, entry: Entry) -> str | None:
        """The compartment a theme belongs to: the theme itself or the one above it that a pole names by
        ``hiddenLabel``; ``None`` for the cross-cutting themes."""
        for uri in (entry.uri, *self.index.ancestors(entry.uri)):
            upper = self.index.concept(uri)
            if upper is not None and upper.hidden and is_theme(upper.uri):
                return upper.uri
        return None

    def _canonical(self, uri: str) -> str:
        """A mapping target as the concept's own file spells it (GCMD's hosts differ between files)."""
        entry = self.index.concept(uri)
        return entry.uri if entry is not None else uri


def is_theme(uri: str) -> bool:
    return uri.startswith(SCHEME)


@functools.cache
def labels() -> dict[str, dict[str, str]]:
    """The prefLabels by language of every Data Terra concept of the shipped thesaurus (``THESAURUS``,
    parsed once per process: a tenth of a second); none when the file is not there."""
    try:
        vocabulary = load_vocabulary(THESAURUS)
    except OSError:
        return {}
    return {
        concept.uri: {label.lang: label.text for label in concept.pref if label.lang}
        for concept in vocabulary.concepts
        if is_theme(concept.uri)
    }


def _add(target: list[str], item: str) -> None:
    if item not in target:
        target.append(item)
