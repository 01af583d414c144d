"""What every crosswalk test checks the same way, written once.

Each format's test file (ISO 19139, ISO 19115-3, Dublin Core, DataCite, DIF, STAC, OGC API - Records)
holds its crosswalk to one contract: every real input gives a ``Record`` that keeps the invariants the
store, the API and the harvest rely on, or a ``Rejected`` with a known code and a message an
administrator can act on. The contract lives here so that it cannot drift from one format to the next;
what a format's records contain stays in its own test file, read in its data files by hand.

Every raw record built here comes from the source ``demo`` and names the crosswalk's own format. Pytest
rewrites the asserts of test files only, not of this module: each assert here says itself what failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from lxml import etree

from catalogue.record import Record, from_json, to_json
from harvester import formats
from harvester.formats import Crosswalk, Rejected
from harvester.raw import RawRecord

SOURCE_ID = "demo"


def raw_file(
    crosswalk: Crosswalk, path: Path, *, native_id: str | None = None, datestamp: str | None = None
) -> RawRecord:
    """A data file handed over as a protocol would, with the header's id and datestamp when a test
    needs them; the path is the locator so that a failure names the file."""
    return RawRecord(
        source_id=SOURCE_ID,
        format=crosswalk.name,
        content=path.read_bytes(),
        native_id=native_id,
        datestamp=datestamp,
        locator=str(path),
    )


def raw_bytes(crosswalk: Crosswalk, content: bytes, *, native_id: str | None = None) -> RawRecord:
    """Bytes handed over with nothing else known: the crosswalk must find all it needs in them."""
    return RawRecord(source_id=SOURCE_ID, format=crosswalk.name, content=content, native_id=native_id)


def edited_raw(crosswalk: Crosswalk, path: Path, edit: Callable[[etree._Element], object]) -> RawRecord:
    """A real record changed with lxml (an element removed, a value changed), handed over as the parsed
    element a protocol passes along: edge cases stay real records rather than hand-written XML."""
    root = etree.fromstring(path.read_bytes())
    edit(root)
    return RawRecord(source_id=SOURCE_ID, format=crosswalk.name, content=b"", element=root)


def removing(tag: str) -> Callable[[etree._Element], None]:
    """An edit for ``edited_raw`` that takes out every element ``tag`` matches (``{*}name`` for any
    namespace)."""

    def edit(root: etree._Element) -> None:
        for element in list(root.iter(tag)):
            element.getparent().remove(element)

    return edit


def rejection_of(crosswalk: Crosswalk, raw: RawRecord) -> Rejected:
    """The ``Rejected`` the crosswalk raises for ``raw``, for the test to check its code and message;
    a record instead fails the test."""
    with pytest.raises(Rejected) as info:
        crosswalk.to_record(raw)
    return info.value


def rejected_bytes(crosswalk: Crosswalk, content: bytes, *, native_id: str | None = None) -> Rejected:
    """The rejection of bad bytes (not XML or JSON, another format, a whole response)."""
    return rejection_of(crosswalk, raw_bytes(crosswalk, content, native_id=native_id))


def record_or_known_rejection(
    crosswalk: Crosswalk, content: bytes, *, pole: str, codes: set[str]
) -> Record | None:
    """The record for ``content``, or None once its rejection is checked: a harvest reports a rejection
    by its code and shows its message, so an unknown code or an empty message is a failure."""
    try:
        return crosswalk.to_record(raw_bytes(crosswalk, content), pole=pole)
    except Rejected as exc:
        assert exc.code in codes, f"unknown rejection code {exc.code!r}: {exc.message}"
        assert exc.message, f"rejection {exc.code!r} without a message"
        return None


def assert_canonical(record: Record, *, pole: str, native_format: str) -> None:
    """The invariants every format's records keep: an id under the source's prefix, a native id and a
    title without stray white space to show and search, the caller's pole, the provenance naming the
    format, and a record that survives the store's JSON unchanged."""
    prefix = f"{SOURCE_ID}."
    assert record.id.startswith(prefix) and len(record.id) > len(prefix), f"id {record.id!r}"
    assert record.native_id.strip() == record.native_id != "", f"native id {record.native_id!r}"
    assert record.title.text.strip() == record.title.text != "", f"title {record.title.text!r}"
    assert record.pole == pole, f"pole {record.pole!r}, not {pole!r}"
    assert record.provenance is not None and record.provenance.native_format == native_format, (
        f"provenance {record.provenance!r}"
    )
    again = from_json(to_json(record))
    assert again == record, f"the JSON round trip changes {differing(again, record)}"


def check_corpus_input(crosswalk: Crosswalk, content: bytes, *, pole: str, codes: set[str]) -> Record | None:
    """The contract for one real input: a canonical record (returned for format-specific checks) or a
    known rejection (None)."""
    record = record_or_known_rejection(crosswalk, content, pole=pole, codes=codes)
    if record is not None:
        assert_canonical(record, pole=pole, native_format=crosswalk.name)
    return record


def rejections(crosswalk: Crosswalk, inputs: Iterable[tuple[str, bytes]]) -> dict[str, str]:
    """The rejection code of each named input that gives no record: one equality then pins exactly
    which inputs are rejected, so a new rejection cannot hide among the known ones."""
    rejected: dict[str, str] = {}
    for name, content in inputs:
        try:
            crosswalk.to_record(raw_bytes(crosswalk, content))
        except Rejected as exc:
            rejected[name] = exc.code
    return rejected


def named_files(paths: Iterable[Path]) -> list[tuple[str, bytes]]:
    """Files as (name, bytes) inputs, the name being what a failure or a rejection list shows."""
    return [(path.name, path.read_bytes()) for path in paths]


def assert_registered(cls: type[Crosswalk], name: str) -> None:
    """The ``format:`` value of a source's config must reach this crosswalk."""
    assert isinstance(formats.get(name), cls), f"format {name!r} gives {formats.get(name)!r}"
    assert cls.name == name, f"{cls.__name__}.name is {cls.name!r}"


def seconds_per_record(crosswalk: Crosswalk, raws: list[RawRecord], rounds: int = 3) -> float:
    """Mean time of one conversion over a few rounds: a loose guard against a pathological slowdown,
    not a benchmark."""
    started = time.perf_counter()
    for raw in raws * rounds:
        crosswalk.to_record(raw)
    return (time.perf_counter() - started) / (len(raws) * rounds)


def assert_element_gives_the_bytes_record(crosswalk: Crosswalk, raw: RawRecord) -> None:
    """A protocol passes the element it already parsed to spare a second parse: that shortcut must not
    change the record the bytes alone give."""
    from_bytes = RawRecord(
        source_id=raw.source_id,
        format=raw.format,
        content=raw.content,
        native_id=raw.native_id,
        datestamp=raw.datestamp,
        locator=raw.locator,
    )
    parsed, read = crosswalk.to_record(raw), crosswalk.to_record(from_bytes)
    assert parsed == read, f"the parsed element changes {differing(parsed, read)}"


def differing(one: Record, other: Record) -> list[str]:
    """The fields two records differ in: what a failed equality of records must name."""
    return [name for name in Record.__struct_fields__ if getattr(one, name) != getattr(other, name)]
