"""A CSW or OAI-PMH page in which a record holds bytes that are not in the response's encoding (Latin-1
pasted into a UTF-8 catalogue): that record alone is rejected, ``encoding-error`` naming the line, the
column and the bytes; its page-mates and the rest of the listing are harvested
(``harvester.protocols.salvage``). Against the fault matrix's real local servers over corpus records.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lxml import etree

from catalogue.store import Store, open_store
from harvester.ledger import Ledger, open_ledger
from harvester.protocols.salvage import declared_encoding, salvage
from harvester.run import HarvestRun, RunSummary
from harvester.source import Source
from tests.fixtures.fault_server import Reply
from tests.fixtures.faulty_source import FaultyCsw, FaultyOai, Misbehaving, Request
from tests.fixtures.pole_servers import iso_records

SOURCE_ID = "encoding"
E_ACUTE = (b"caf", b"\xe9")  # what ``latin1`` inserts: a Latin-1 é
TITLE = re.compile(rb"<(?:gmd:title>\s*<gco:CharacterString|dc:title)>")


def expected_message(page: bytes, *inserted: tuple[bytes, bytes]) -> str:
    """The rejection message for bad bytes inserted (in this order) into ``page``, each given as
    ``(prefix, bad)``: the bytes before it, so that it is not found inside a valid character."""
    places = []
    for prefix, bad in inserted:
        offset = page.index(prefix + bad) + len(prefix)
        line_start = page.rfind(b"\n", 0, offset) + 1
        column = len(page[line_start:offset].decode("utf-8")) + 1
        line = page.count(b"\n", 0, offset) + 1
        places.append(f"{' '.join(f'0x{b:02X}' for b in bad)} at line {line}, column {column}")
    return (
        "the record holds bytes that are not UTF-8 (the response's encoding), so its text cannot be read: "
        f"{'; '.join(places)}; the other records of the page are harvested"
    )


class Catalogue:
    """A source's catalogue: SQLite index and ledger in a folder, harvested with ``HarvestRun``."""

    def __init__(self, folder: Path, server: Misbehaving):
        self.server = server
        self.source = Source(
            id=SOURCE_ID, pole="ODATIS", protocol=server.protocol, format=server.format, url=server.url,
            page_size=10, timeout=5, retries=1,
        )  # fmt: skip
        self.store: Store = open_store({"backend": "sqlite", "path": str(folder / "catalogue.db")})
        self.ledger: Ledger = open_ledger(folder / "harvest.db")
        self.pages: list[bytes] = []  # the broken pages as served

    def harvest(self, change: Callable[[bytes], bytes] | None = None, page: int = 2) -> RunSummary:
        """A full harvest, ``change`` applied to listing page ``page``."""

        def fault(number: int, request: Request, reply: Reply) -> Reply | None:
            if change is None or number != page:
                return None
            status, content, headers = reply
            self.pages.append(change(content))
            return status, self.pages[-1], headers

        self.server.arm(fault)
        try:
            return HarvestRun(self.source, self.store, self.ledger, full=True).execute()
        finally:
            self.server.disarm()

    def native_ids(self) -> set[str]:
        return set(self.ledger.known(SOURCE_ID))

    def rejected(self, summary: RunSummary) -> list[tuple[str | None, str | None, str | None]]:
        events = self.ledger.events(summary.run_id or 0, "rejected")
        return [(e.locator, e.code, e.message) for e in events]


@pytest.fixture
def csw(tmp_path: Path) -> Iterator[Catalogue]:
    server = FaultyCsw()
    try:
        yield Catalogue(tmp_path, server)
    finally:
        server.close()


@pytest.fixture
def oai(tmp_path: Path) -> Iterator[Catalogue]:
    server = FaultyOai()
    try:
        yield Catalogue(tmp_path, server)
    finally:
        server.close()


def latin1(content: bytes) -> bytes:
    """The first title of the page (its first record's) with a Latin-1 ``é``."""
    return TITLE.sub(lambda found: found[0] + b"caf\xe9 ", content, count=1)


def test_csw_record_with_a_latin1_byte_is_rejected_and_its_page_mates_indexed(csw: Catalogue) -> None:
    assert isinstance(csw.server, FaultyCsw)
    listed = [record.identifier for record in csw.server.listed()]
    summary = csw.harvest(latin1)
    assert summary.status == "succeeded" and summary.listing_complete, summary.line()
    assert (summary.received, summary.counts["added"], summary.counts["rejected"]) == (30, 29, 1)
    [page] = csw.pages
    assert csw.rejected(summary) == [
        ("startPosition=11 #1", "encoding-error", expected_message(page, E_ACUTE))
    ]
    assert csw.native_ids() == set(listed) - {listed[10]}  # page 2 is listed[10:20]: #1 is out
    assert csw.store.count(SOURCE_ID) == 29


def test_oai_record_rejected_keeps_its_indexed_version_and_nothing_is_deleted(oai: Catalogue) -> None:
    first = oai.harvest()
    assert first.status == "succeeded" and first.counts["added"] == 30, first.line()
    indexed = {rid: oai.store.get(rid) for rid in oai.store.ids(SOURCE_ID)}
    summary = oai.harvest(latin1)
    assert summary.status == "succeeded" and summary.listing_complete, summary.line()
    assert (summary.counts["unchanged"], summary.counts["rejected"], summary.counts["deleted"]) == (29, 1, 0)
    [page] = oai.pages
    [(locator, code, message)] = oai.rejected(summary)
    identifier = re.search(rb"<identifier>([^<]+)</identifier>", page)
    assert identifier is not None
    assert locator == f"ListRecords page 2 #1 {identifier[1].decode()}"
    assert (code, message) == ("encoding-error", expected_message(page, E_ACUTE))
    after = {rid: oai.store.get(rid) for rid in oai.store.ids(SOURCE_ID)}
    assert after == indexed  # the rejected record kept its indexed version


def test_each_broken_record_names_its_own_bytes(csw: Catalogue) -> None:
    """Two records of a page broken, the first in two places (one of them two bytes in a row)."""

    def two_records(content: bytes) -> bytes:
        content = TITLE.sub(lambda found: found[0] + b"caf\xe9 ", content, count=2)
        abstract = re.compile(rb"<gmd:abstract>\s*<gco:CharacterString>")
        return abstract.sub(lambda found: found[0] + b"\x80\x81 ", content, count=1)

    summary = csw.harvest(two_records)
    assert summary.status == "succeeded" and summary.counts["rejected"] == 2, summary.line()
    [page] = csw.pages
    ends = [m.end() for m in re.finditer(rb"</(?:gmd:MD_Metadata|gmi:MI_Metadata)>", page)]
    first_end, second_at = ends[0], page.rindex(b"caf\xe9")
    assert page.index(b"\x80\x81") < first_end < second_at
    position = 1 + sum(end < second_at for end in ends)  # the second title may be a later record's
    second = page[:first_end].replace(b"caf\xe9", b"cafe") + page[first_end:]  # its own é only
    assert csw.rejected(summary) == [
        (
            "startPosition=11 #1",
            "encoding-error",
            expected_message(page, E_ACUTE, (b"<gco:CharacterString>", b"\x80\x81")),
        ),
        (f"startPosition=11 #{position}", "encoding-error", expected_message(second, E_ACUTE)),
    ]
    assert summary.counts["added"] == 28


@pytest.mark.parametrize("protocol", ["csw", "oai"])
def test_bad_bytes_outside_the_records_fail_the_page(protocol: str, request: pytest.FixtureRequest) -> None:
    """In the envelope (a comment between records): the page itself is broken and the listing fails as
    before, deleting nothing."""
    catalogue: Catalogue = request.getfixturevalue(protocol)
    clean = catalogue.harvest()
    assert clean.status == "succeeded", clean.line()
    catalogue.server.drop([0])  # a deletion a complete listing would make
    start = rb"<csw:SearchResults[^>]*>" if protocol == "csw" else rb"<ListRecords>"
    summary = catalogue.harvest(lambda content: re.sub(start, lambda m: m[0] + b"<!-- caf\xe9 -->", content))
    assert summary.status == "failed" and not summary.listing_complete, summary.line()
    assert "the response is not XML (Invalid bytes in character encoding" in (summary.error or "")
    assert summary.counts["deleted"] == 0 and catalogue.store.count(SOURCE_ID) == 30


@pytest.mark.parametrize("protocol", ["csw", "oai"])
def test_an_unreadable_identifier_keeps_the_listing_from_deleting(
    protocol: str, request: pytest.FixtureRequest
) -> None:
    """The bad byte is in the record's identifier (ISO fileIdentifier, OAI header identifier): the
    rejection cannot name the indexed record it stands for, so the listing grounds no deletion (that
    record would otherwise be deleted as unlisted)."""
    catalogue: Catalogue = request.getfixturevalue(protocol)
    clean = catalogue.harvest()
    assert clean.status == "succeeded", clean.line()
    catalogue.server.drop([0])
    tag = rb"<gmd:fileIdentifier>\s*<gco:CharacterString>" if protocol == "csw" else rb"<identifier>"
    identifier = re.compile(tag)
    summary = catalogue.harvest(lambda content: identifier.sub(lambda m: m[0] + b"\xe9", content, count=1))
    assert summary.status == "succeeded" and summary.counts["rejected"] == 1, summary.line()
    [event] = catalogue.ledger.events(summary.run_id or 0, "rejected")
    assert event.record_id is None and event.code == "encoding-error"
    assert summary.counts["deleted"] == 0 and catalogue.store.count(SOURCE_ID) == 30
    assert any("none deleted: a record whose identifier holds bytes" in note for note in summary.notes), (
        summary.notes
    )


def children(root: etree._Element) -> list[etree._Element]:
    return [child for child in root if isinstance(child.tag, str)]


def test_salvage_gives_up_on_pages_wrong_elsewhere() -> None:
    """A real corpus record in a minimal envelope: salvaged when only its bytes are wrong; not when the
    page is also malformed, when every byte decodes, or when the page declares Latin-1."""
    [record] = iso_records(1)
    page = b'<?xml version="1.0" encoding="UTF-8"?>\n<page>\n' + record.xml + b"\n<other/></page>"
    broken = latin1(page)
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    salvaged = salvage(broken, parser, children)
    assert salvaged is not None
    assert list(salvaged.broken) == children(salvaged.root)[:1]
    assert list(salvaged.broken.values()) == [expected_message(broken, E_ACUTE)]
    assert salvage(broken.replace(b"<other/>", b"<other>"), parser, children) is None
    assert salvage(page.replace(b"<other/>", b"<other>"), parser, children) is None
    latin = broken.replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"')
    assert declared_encoding(latin) == "ISO-8859-1" and salvage(latin, parser, children) is None
