"""Label folding: the form under which a keyword and a concept label are compared.

Records write the same term with other capitals ("Land cover", "LAND COVER"), with or without accents
("Écologie", "ecologie"), with typographic apostrophes (``hauteur d’eau``) or doubled spaces. The
vocabularies do the same. Both sides are folded the same way, so matching is one dictionary look-up.
"""

from __future__ import annotations

import unicodedata

# Letters that Unicode does not decompose into a base letter plus a mark.
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "’": "'", "‘": "'", "ʼ": "'"})


def fold(text: str) -> str:
    """``text`` without case, accents and spacing differences: "  Écologie " and "ecologie" fold alike."""
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
        text = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(text.casefold().split())


def path_segments(label: str) -> list[str] | None:
    """The levels of a hierarchical keyword ("EARTH SCIENCE > ATMOSPHERE > AEROSOLS", GCMD's and DIF's
    way of naming a concept by its path), or None when ``label`` has a single level. Empty levels
    (a trailing ">") are dropped."""
    if ">" not in label:
        return None
    segments = [s.strip() for s in label.split(">")]
    segments = [s for s in segments if s]
    return segments if len(segments) > 1 else None
