"""Thesaurus: SKOS vocabularies and matching of free keywords to concept URIs (issue 4).

``Thesaurus.load(paths, cache_dir)`` reads the vocabulary files (``skos``), through a cache of their
compiled index (``cache``), merges them (``index``) and maps record keywords to concepts (``matching``)
by anchor URI (``uris``), cited thesaurus (``citations``) and folded label or path (``labels``).
"""

from thesaurus.matching import Match, Thesaurus

__all__ = ["Match", "Thesaurus"]
