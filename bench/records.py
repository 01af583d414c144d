"""Benchmark records: N distinct ISO 19139 records made from the real corpus records.

Each record is a corpus record with its file identifier, title, bounding box and dates changed, so a
benchmark of N records exercises the real variety of the corpus (sizes from 6 to 77 kB, multilingual,
gmi, anchors) without N copies of one document.
"""

from __future__ import annotations

import random
from pathlib import Path

from lxml import etree

NS = {
    "gmd": "http://www.isotc211.org/2005/gmd",
    "gco": "http://www.isotc211.org/2005/gco",
    "gmi": "http://www.isotc211.org/2005/gmi",
}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)
_FILE_ID = etree.XPath("gmd:fileIdentifier/gco:CharacterString", namespaces=NS)
_TITLE = etree.XPath(
    "gmd:identificationInfo/*/gmd:citation/gmd:CI_Citation/gmd:title/gco:CharacterString", namespaces=NS
)
_BOUNDS = {
    name: etree.XPath(f".//gmd:EX_GeographicBoundingBox/gmd:{name}/gco:Decimal", namespaces=NS)
    for name in ("westBoundLongitude", "eastBoundLongitude", "southBoundLatitude", "northBoundLatitude")
}
_YEARS = etree.XPath(".//*[local-name()='beginPosition' or local-name()='endPosition']")


def templates(corpus: Path) -> list[etree._ElementTree]:
    """Corpus records that a CSW server can serve as they are: an ISO root with a file identifier."""
    out = []
    for path in sorted(corpus.glob("*.xml")):
        tree = etree.parse(str(path), _PARSER)
        root = tree.getroot()
        if etree.QName(root).localname not in ("MD_Metadata", "MI_Metadata"):
            continue
        ids = _FILE_ID(root)
        if ids and (ids[0].text or "").strip() and _TITLE(root):
            out.append(tree)
    return out


def generate(corpus: Path, out_dir: Path, n: int, seed: int = 42) -> list[Path]:
    """Write ``n`` records to ``out_dir`` (``bench-000001.xml`` ...); returns their paths."""
    rng = random.Random(seed)
    trees = templates(corpus)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        tree = trees[i % len(trees)]
        root = etree.fromstring(etree.tostring(tree))
        _FILE_ID(root)[0].text = f"bench-{i:06d}"
        title = _TITLE(root)[0]
        title.text = f"{(title.text or '').strip()} - lot {i}"
        _move_boxes(root, rng)
        _shift_years(root, rng.randint(-20, 5))
        path = out_dir / f"bench-{i:06d}.xml"
        path.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
        paths.append(path)
    return paths


def _move_boxes(root: etree._Element, rng: random.Random) -> None:
    west, south = rng.uniform(-179, 170), rng.uniform(-89, 80)
    east, north = min(west + rng.uniform(0.1, 9), 180), min(south + rng.uniform(0.1, 9), 90)
    for name, value in (
        ("westBoundLongitude", west),
        ("eastBoundLongitude", east),
        ("southBoundLatitude", south),
        ("northBoundLatitude", north),
    ):
        for element in _BOUNDS[name](root):
            element.text = f"{value:.4f}"


def _shift_years(root: etree._Element, years: int) -> None:
    for element in _YEARS(root):
        text = (element.text or "").strip()
        if len(text) >= 4 and text[:4].isdigit():
            element.text = f"{int(text[:4]) + years:04d}{text[4:]}"
