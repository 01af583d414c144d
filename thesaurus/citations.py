"""Which loaded concept scheme a keyword's cited thesaurus is.

Records name the thesaurus of a keyword block in many ways, and rarely by the scheme URI:

- a citation title, with or without a version: "GEMET - INSPIRE themes, version 1.0", "GEMET Themes,
  version 2.3", "NASA/Global Change Master Directory (GCMD) Science Keywords";
- a thesaurus URI: the scheme's (``http://inspire.ec.europa.eu/theme``) or another page about it
  (``http://www.eionet.europa.eu/gemet/inspire_themes``);
- a GeoNetwork thesaurus key, alone or at the end of a registry URL:
  ``geonetwork.thesaurus.external.theme.httpinspireeceuropaeutheme-theme``,
  ``…/registries/vocabularies/external.theme.gemet``. GeoNetwork names a thesaurus it downloaded after
  the scheme URI with its punctuation removed, plus ``-{keyword type}``; a local one by its short name.

``Citations`` indexes every name of every loaded scheme: its URI, its titles and identifiers from the
file, the last segment of its URI, its GeoNetwork key, and the well-known names in ``KNOWN_NAMES`` that
the files themselves do not carry (GCMD dumps have no title at all).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

from catalogue.record import Keyword
from thesaurus.labels import fold
from thesaurus.skos import Scheme
from thesaurus.uris import uri_key

_GCMD_SCHEMES = "https://gcmd.earthdata.nasa.gov/kms/concepts/concept_scheme/"
# Names records use for a scheme that its file does not give: titles and URIs, by scheme URI.
KNOWN_NAMES: dict[str, tuple[str, ...]] = {
    _GCMD_SCHEMES + "sciencekeywords": (
        "GCMD Science Keywords",
        "GCMD Earth Science Keywords",
        "NASA/Global Change Master Directory (GCMD) Science Keywords",
        "NASA/Global Change Master Directory (GCMD) Earth Science Keywords",
        "Global Change Master Directory (GCMD) Science Keywords",
    ),
    _GCMD_SCHEMES + "platforms": (
        "GCMD Platforms",
        "GCMD Platform Keywords",
        "NASA/Global Change Master Directory (GCMD) Platform Keywords",
    ),
    _GCMD_SCHEMES + "instruments": (
        "GCMD Instruments",
        "GCMD Instrument Keywords",
        "NASA/Global Change Master Directory (GCMD) Instrument Keywords",
    ),
    "http://inspire.ec.europa.eu/theme": (
        "INSPIRE themes",
        "INSPIRE spatial data themes",
        "http://www.eionet.europa.eu/gemet/inspire_themes",
        "https://www.eionet.europa.eu/gemet/en/inspire-themes/",
    ),
    "http://geonetwork-opensource.org/gemet": (
        "GEMET - Concepts",
        "GEMET Thesaurus",
        "General Multilingual Environmental Thesaurus",
    ),
}
_GEONETWORK_KEY = re.compile(r"(?:^|[./])(?:external|local)\.([a-zA-Z]+)\.([\w.-]+?)/?$")
_VERSION = re.compile(r"[\s,;(-]*\b(?:version|v)\s*\.?\s*\d[\w.-]*\)?\s*$", re.IGNORECASE)
_NOT_WORD = re.compile(r"[\W_]+")


def title_key(title: str) -> str:
    """A citation title without case, accents, punctuation and trailing version: "GEMET - INSPIRE
    themes, version 1.0" and "gemet inspire themes" have the same key."""
    return _NOT_WORD.sub(" ", fold(_VERSION.sub("", title))).strip()


def _squashed(uri: str) -> str:
    """GeoNetwork's file name for a thesaurus downloaded from ``uri``: its letters and digits."""
    return re.sub(r"[^a-z0-9]", "", uri.lower())


def _is_uri(text: str) -> bool:
    return text.startswith(("http://", "https://", "urn:"))


class Citations:
    """Maps a keyword's cited thesaurus (title, URI or GeoNetwork key) to the loaded schemes it names."""

    def __init__(self, schemes: Iterable[Scheme]):
        self._by_uri: dict[str, set[str]] = defaultdict(set)
        self._by_title: dict[str, set[str]] = defaultdict(set)
        # GeoNetwork keys are file names, not titles: "variable" must not name a scheme as a title would.
        self._by_key: dict[str, set[str]] = defaultdict(set)
        for scheme in schemes:
            self._by_uri[uri_key(scheme.uri)].add(scheme.uri)
            for name in (*scheme.titles, *KNOWN_NAMES.get(scheme.uri, ())):
                if _is_uri(name):
                    self._by_uri[uri_key(name)].add(scheme.uri)
                else:
                    self._by_title[title_key(name)].add(scheme.uri)
            last_segment = scheme.uri.rstrip("/").rsplit("/", 1)[-1]
            for key in (*scheme.identifiers, last_segment, _squashed(scheme.uri)):
                self._by_key[title_key(key)].add(scheme.uri)

    def schemes(self, keyword: Keyword) -> frozenset[str]:
        """The schemes the keyword's thesaurus citation names; empty when it cites none we hold."""
        for cited in (keyword.thesaurus_uri, keyword.thesaurus):
            if cited and (found := self._lookup(cited.strip())):
                return frozenset(found)
        return frozenset()

    def _lookup(self, cited: str) -> set[str] | None:
        key = _GEONETWORK_KEY.search(cited)
        if key:
            kind, name = key.groups()  # GeoNetwork adds "-{type}" to the name of a downloaded thesaurus
            return self._by_key.get(title_key(name.removesuffix(f"-{kind}")))
        if _is_uri(cited):
            return self._by_uri.get(uri_key(cited))
        return self._by_title.get(title_key(cited))
