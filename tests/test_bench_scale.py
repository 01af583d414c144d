"""The scale bench's catalogue at a small size: what ``bench/scale.py`` times must be what it claims, a
harvest of distinct, valid records (none rejected, none a duplicate of another) that a reindex finds
unchanged. Nothing is timed here."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from msgspec.structs import astuple

from bench import scale
from catalogue import validation
from catalogue.stores.sqlite import SQLiteStore


def test_the_generated_catalogue_is_harvested_whole_and_reindexed_unchanged(tmp_path: Path) -> None:
    state = scale.build(400, tmp_path, workers=0)
    counts: Counter[str] = Counter()
    for source in state["sources"].values():
        counts.update(source["counts"])
        sampled = scale.SAMPLE // len(scale.SOURCES)
        assert source["shacl"].startswith(f"{sampled}/{sampled} sampled copies"), source["shacl"]
    assert counts == {"added": 400}
    with SQLiteStore(tmp_path / "index.db") as store:
        records = list(store.scan())
        assert len({r.title.text for r in records}) == len(records) == 400
        boxes = [astuple(r.bboxes[0]) for r in records if r.bboxes]
        assert len(set(boxes)) == len(boxes) > 300
        assert {r.pole for r in records} == {"ODATIS", "AERIS", "ForM@Ter", "THEIA"}
        assert all(not store.unvalidated(source, validation.SHAPES_VERSION) for source in scale.SOURCES)

    again = scale.build(400, tmp_path, workers=0)  # kept: nothing harvested again
    assert again == state

    figures = scale.reindex_figures(tmp_path, 0)
    assert figures["lines"][0].startswith("reindexed 400 records (0 changed, 0 restored"), figures["lines"]
    assert " 0 validated anew" in figures["lines"][0]
