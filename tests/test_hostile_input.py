"""Hostile input (issue 8): what sources, pole administrators and clients could send to hurt the catalogue,
each against the real component: real files harvested into a real store and ledger, real servers on
127.0.0.1 that count what they are asked (to prove that nothing was fetched) or stream without end, the
admin API and the OGC API served by the production stack.

- XML: external entities (file and http), external DTDs and parameter entities, billion laughs, quadratic
  blow-up, entity loops, nesting 300 deep, an 11 MB attribute: each record rejected with its reason, the
  others indexed, no request made.
- Responses: an endless body and an endless gzip bomb stop at ``max_response_mb`` (decompressed bytes).
- SSRF: admin-supplied source URLs on loopback, private, link-local (cloud metadata), unique-local,
  unspecified or multicast addresses are refused, names are vetted when connecting, redirects too.
- Directory sources: links leading outside the folder are not read.
- OGC API: ``q`` and CQL2 ``filter`` injection, out-of-range ``limit``, deep ``offset``, odd ``bbox`` and
  ``datetime``: a 200 or a 400 with a reason, never a 500 nor an SQL error.
- Admin API: every route refuses a request without a token (401) or with a wrong one (403).
"""

from __future__ import annotations

import ast
import ipaddress
import re
import shutil
import threading
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from api import admin
from api.cli import harvest
from api.server import MAX_ITEMS
from api.settings import ConfigError, load
from catalogue.query import MAX_LIMIT, QueryError, parse_limit
from catalogue.store import open_store
from harvester import formats, url_safety
from harvester.http import HttpClient
from harvester.ledger import open_ledger
from harvester.protocols import ListingError
from harvester.protocols.directory import Directory
from harvester.raw import RawRecord
from harvester.source import Source
from harvester.url_safety import NetworkPolicy, RefusedAddress
from tests.fixtures.api_server import REPO_ROOT, demo_catalogue, demo_records, serving
from tests.fixtures.corpus import DEMO_ISO19139
from tests.fixtures.fault_server import Reply
from tests.fixtures.oai_server import OaiServer
from tests.test_admin_api import ROUTES as ADMIN_ROUTES
from tests.test_oaipmh import DSPACE

# --- a server that counts what it is asked, and can stream without end ---------------------------------


class Hostile:
    """An HTTP/1.0 server on ``host``: ``routes[path]`` writes the answer; ``hits`` counts the requests per
    path and ``sent`` the body bytes written (an endless answer stops when the client hangs up)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.hits: dict[str, int] = {}
        self.sent = 0
        self.done = threading.Event()
        self.routes: dict[str, Callable[[BaseHTTPRequestHandler], None]] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.partition("?")[0]
                server.hits[path] = server.hits.get(path, 0) + 1
                try:
                    server.routes.get(path, _not_found)(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading: what an endless answer waits for
                finally:
                    server.done.set()

            do_POST = do_GET

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the tests assert on the counts."""

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://{host}:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def endless(
        self, block: bytes, headers: dict[str, str], first: bytes = b""
    ) -> Callable[[BaseHTTPRequestHandler], None]:
        """An answer of ``first`` then ``block`` repeated until the client hangs up, up to 10 GB (no
        Content-Length: the body ends when the connection does)."""

        def write(handler: BaseHTTPRequestHandler) -> None:
            handler.send_response(200)
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(first)
            while self.sent < 10 * 1024**3:
                handler.wfile.write(block)
                self.sent += len(block)

        return write

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def requests(self) -> int:
        return sum(self.hits.values())


def _not_found(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(404)
    handler.send_header("Content-Length", "0")
    handler.end_headers()


def _redirect(location: str) -> Callable[[BaseHTTPRequestHandler], None]:
    def write(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return write


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    server = Hostile()
    yield server
    server.close()


def http_source(url: str, **options: Any) -> Source:
    return Source(id="hostile", pole="THEIA", protocol="csw", url=url, retries=0, timeout=10, **options)


# --- XML: entities, DTDs, bombs, depth, huge values ------------------------------------------------------

RECORD = (DEMO_ISO19139 / sorted(p.name for p in DEMO_ISO19139.glob("*.xml"))[0]).read_bytes()


def _body() -> bytes:
    """The record without its XML declaration, if it has one."""
    return RECORD.split(b"?>", 1)[1] if RECORD.lstrip().startswith(b"<?xml") else RECORD


def _with_doctype(doctype: str, entity_at_title: str = "") -> bytes:
    """The real record with a DOCTYPE before its root element and ``entity_at_title`` (an entity
    reference) at the start of its first CharacterString: hostile content in an otherwise valid record."""
    body = _body()
    root_name = body.lstrip().split(b">", 1)[0].split()[0].lstrip(b"<").decode()
    body = body.replace(b"<gco:CharacterString>", f"<gco:CharacterString>{entity_at_title}".encode(), 1)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE {root_name} {doctype}>'.encode() + body


def hostile_records(secret_url: str) -> dict[str, tuple[bytes, str]]:
    """File name -> (content, the rejection code expected)."""
    laughs = '<!ENTITY lol0 "lololololol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    body = _body()
    deep = body.replace(b"<gco:CharacterString>", b"<gco:CharacterString>" + b"<x>" * 300 + b"</x>" * 300, 1)
    huge = body.replace(b">", b' data="' + b"a" * (11 * 1024 * 1024) + b'">', 1)
    return {
        "xxe-file.xml": (_with_doctype('[<!ENTITY xxe SYSTEM "file:///etc/passwd">]', "&xxe;"), "xml-entity"),
        "xxe-http.xml": (
            _with_doctype(f'[<!ENTITY xxe SYSTEM "{secret_url}/secret">]', "&xxe;"),
            "xml-entity",
        ),
        "dtd-http.xml": (_with_doctype(f'SYSTEM "{secret_url}/evil.dtd"', "&fromdtd;"), "xml-entity"),
        "parameter-entity.xml": (
            _with_doctype(f'[<!ENTITY % remote SYSTEM "{secret_url}/param.dtd"> %remote;]', "&sent;"),
            "xml-entity",
        ),
        "billion-laughs.xml": (_with_doctype(f"[{laughs}]", "&lol9;"), "xml-limits"),
        "quadratic.xml": (
            _with_doctype(f'[<!ENTITY a "{"x" * 100_000}">]', "&a;" * 100_000),
            "xml-limits",
        ),
        "entity-loop.xml": (_with_doctype('[<!ENTITY a "&b;"><!ENTITY b "&a;">]', "&a;"), "xml-limits"),
        "deep.xml": (deep, "xml-limits"),
        "huge-attribute.xml": (huge, "xml-limits"),
    }


def test_every_xml_parser_of_the_code_resolves_no_entity_and_uses_no_network() -> None:
    """Every ``XMLParser``/``XMLPullParser``/``iterparse``/``XMLSchema`` built by the code: entities not
    resolved, no network, no DTD loading (a parser built without them would be a hole the tests above
    do not see, since each covers the parsers of its path)."""
    sites = []
    for path in sorted(REPO_ROOT.glob("*/**/*.py")):
        if path.parts[len(REPO_ROOT.parts)] not in ("api", "catalogue", "harvester", "thesaurus"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = getattr(getattr(node, "func", None), "attr", None)
            if isinstance(node, ast.Call) and name in ("XMLParser", "XMLPullParser", "iterparse"):
                options = {k.arg: _literal(k.value) for k in node.keywords if k.arg}
                sites.append((f"{path.relative_to(REPO_ROOT)}:{node.lineno}", options))
    assert len(sites) >= 4, sites
    for site, options in sites:
        assert options.get("resolve_entities") is False and options.get("no_network") is True, site
        assert not options.get("load_dtd") and not options.get("dtd_validation"), site


def _literal(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except ValueError:
        return node  # an expression: not a literal True/False


def test_xml_attacks_are_rejected_with_their_reason_and_the_harvest_goes_on(
    tmp_path: Path, hostile: Hostile
) -> None:
    folder = tmp_path / "records"
    folder.mkdir()
    good = sorted(DEMO_ISO19139.glob("*.xml"))[:3]
    for path in good:
        shutil.copy(path, folder / path.name)
    attacks = hostile_records(hostile.url)
    for name, (content, _) in attacks.items():
        (folder / name).write_bytes(content)
    config = {
        "store": {"backend": "sqlite", "path": "catalogue.db"},
        "harvest": {"ledger": "harvest.db", "workers": 0},
        "sources": [{"id": "files", "pole": "ODATIS", "protocol": "directory", "path": "records"}],
    }
    (tmp_path / "terracat.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    settings_ = load(tmp_path / "terracat.yaml")

    [summary] = harvest(settings_, [settings_.source("files")])

    assert summary.status == "succeeded", summary.line()
    ledger = open_ledger(settings_.harvest.ledger)
    try:
        events = {event.locator: event for event in ledger.events(summary.run_id or 0)}
    finally:
        ledger.close()
    rejected = {locator: (e.code, e.message) for locator, e in events.items() if e.status == "rejected"}
    assert {locator: code for locator, (code, _) in rejected.items()} == {
        name: code for name, (_, code) in attacks.items()
    }
    assert all(message for _, message in rejected.values())
    assert "entity &xxe;" in rejected["xxe-file.xml"][1]
    assert "root:" not in str(rejected)  # /etc/passwd was not read into a message
    assert "amplification" in rejected["billion-laughs.xml"][1]
    assert "depth" in rejected["deep.xml"][1]
    assert hostile.requests == 0, hostile.hits  # no entity, DTD or parameter entity was fetched
    store = open_store(settings_.store)
    assert store.count("files") == len(good)


def test_a_doctype_the_record_does_not_need_is_harmless(hostile: Hostile) -> None:
    """A DOCTYPE naming an external DTD the record does not use: the record is read, the DTD never
    fetched (DTDs are not loaded at all)."""
    content = _with_doctype(f'SYSTEM "{hostile.url}/evil.dtd"')
    raw = RawRecord(source_id="files", format="iso19139", content=content, locator="doctype.xml")
    record = formats.get("iso19139").to_record(raw, pole="ODATIS")
    assert record.title
    assert hostile.requests == 0


def test_an_entity_in_an_oai_pmh_page_rejects_its_record_only(
    tmp_path: Path, hostile: Hostile, oai_server: Callable[..., OaiServer]
) -> None:
    """A repository whose page declares external entities (a file and a URL of the counting server) and
    uses them in one record: that record is rejected, the page's other records are indexed, nothing is
    fetched."""
    server = oai_server(DSPACE, page_size=100)
    doctype = (
        f'<!DOCTYPE OAI-PMH [<!ENTITY xxe SYSTEM "{hostile.url}/secret">'
        '<!ENTITY passwd SYSTEM "file:///etc/passwd">]>'
    ).encode()

    def poisoned(index: int, params: dict[str, str], reply: Reply) -> Reply:
        status, body, headers = reply
        if params.get("verb") != "ListRecords":
            return reply
        body = body.replace(b"<dc:title>", b"<dc:title>&xxe;&passwd;", 1)
        head, _, rest = body.partition(b"?>") if body.startswith(b"<?xml") else (b"", b"", body)
        return status, (head + b"?>" if head else b"") + doctype + rest, headers

    clean = _harvest_oai(tmp_path / "clean", server.url)
    server.script = poisoned
    summary = _harvest_oai(tmp_path / "poisoned", server.url)

    assert summary.status == "succeeded", summary.line()
    ledger = open_ledger(str(tmp_path / "poisoned" / "harvest.db"))
    try:
        rejected = [e for e in ledger.events(summary.run_id or 0) if e.code == "xml-entity"]
    finally:
        ledger.close()
    assert len(rejected) == 1 and "&xxe;" in (rejected[0].message or "")
    assert summary.counts["added"] == clean.counts["added"] - 1
    assert summary.counts["rejected"] == clean.counts["rejected"] + 1
    assert hostile.requests == 0


def _harvest_oai(folder: Path, url: str) -> Any:
    folder.mkdir()
    source = {"id": "oai", "pole": "ODATIS", "protocol": "oai-pmh", "format": "dc", "url": url, "retries": 0}
    config = {"store": {"backend": "sqlite", "path": "catalogue.db"}, "harvest": {"ledger": "harvest.db"}}
    (folder / "terracat.yaml").write_text(yaml.safe_dump({**config, "sources": [source]}), encoding="utf-8")
    loaded = load(folder / "terracat.yaml")
    [summary] = harvest(loaded, [loaded.source("oai")])
    return summary


def test_a_json_page_nested_without_end_fails_the_listing_saying_so(hostile: Hostile, tmp_path: Path) -> None:
    """A STAC landing page of 100 000 nested arrays: the run fails naming the page, nothing indexed."""
    deep = b"[" * 100_000 + b"]" * 100_000

    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(deep)))
        handler.end_headers()
        handler.wfile.write(deep)

    hostile.routes["/stac"] = answer
    source = {"id": "stac", "pole": "THEIA", "protocol": "stac", "url": f"{hostile.url}/stac", "retries": 0}
    config = {"store": {"backend": "sqlite", "path": "catalogue.db"}, "harvest": {"ledger": "harvest.db"}}
    (tmp_path / "terracat.yaml").write_text(yaml.safe_dump({**config, "sources": [source]}), encoding="utf-8")
    loaded = load(tmp_path / "terracat.yaml")
    [summary] = harvest(loaded, [loaded.source("stac")])
    assert summary.status == "failed"
    assert summary.error == f"STAC root ({hostile.url}/stac): the response's JSON is nested too deep to read"
    with open_store(loaded.store) as store:
        assert store.count() == 0


# --- responses: endless bodies and gzip bombs ----------------------------------------------------------


def test_an_endless_response_stops_at_the_limit_without_being_held(hostile: Hostile) -> None:
    hostile.routes["/endless"] = hostile.endless(b"<x>" + b"a" * 65_533, {"Content-Type": "application/xml"})
    client = HttpClient(http_source(f"{hostile.url}/endless", max_response_mb=4), accept="*/*")
    tracemalloc.start()
    try:
        with client, pytest.raises(ListingError) as error:
            client.get(f"{hostile.url}/endless")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(error.value) == (
        f"GET {hostile.url}/endless: the response is larger than max_response_mb=4 MB; stopped reading"
    )
    assert hostile.done.wait(30)
    assert hostile.sent < 64 * 1024**2, hostile.sent  # of the 10 GB offered: the limit and socket buffers
    assert peak < 32 * 1024**2, peak


def test_a_gzip_bomb_stops_at_the_limit_on_its_decompressed_size(hostile: Hostile) -> None:
    """An endless gzip stream of zeros, about 1000 times smaller than what it inflates to: the limit
    counts the inflated bytes, as they are inflated."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip container
    first = deflate.compress(b"\0" * 1024**2) + deflate.flush(zlib.Z_FULL_FLUSH)  # with the gzip header
    block = deflate.compress(b"\0" * 1024**2) + deflate.flush(zlib.Z_FULL_FLUSH)  # 1 MB inflated
    assert deflate.compress(b"\0" * 1024**2) + deflate.flush(zlib.Z_FULL_FLUSH) == block  # repeatable
    headers = {"Content-Type": "application/xml", "Content-Encoding": "gzip"}
    hostile.routes["/bomb"] = hostile.endless(block, headers, first)
    client = HttpClient(http_source(f"{hostile.url}/bomb", max_response_mb=8), accept="*/*")
    tracemalloc.start()
    try:
        with client, pytest.raises(ListingError) as error:
            client.get(f"{hostile.url}/bomb")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "larger than max_response_mb=8 MB; stopped reading" in str(error.value)
    assert hostile.done.wait(30)
    assert len(block) < 8 * 1024  # the bomb: 1 MB in a few kB
    assert peak < 64 * 1024**2, peak


# --- SSRF: the network policy --------------------------------------------------------------------------

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.5.4", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local (cloud metadata service)"),
    ("169.254.1.1", "link-local"),
    ("fe80::1", "link-local"),
    ("fc00::1", "unique-local"),
    ("fd12:3456::1", "unique-local"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("100.64.0.1", "not a public address"),
    ("192.0.2.1", "private"),  # documentation range, in Python's private list
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:169.254.169.254", "cloud metadata"),
]


@pytest.mark.parametrize(("address", "kind"), REFUSED)
def test_the_default_policy_refuses_what_is_not_a_public_host(address: str, kind: str) -> None:
    reason = NetworkPolicy().refusal(ipaddress.ip_address(address))
    assert reason is not None and kind in reason
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(RefusedAddress) as error:
        url_safety.check_url(f"http://{host}/csw", NetworkPolicy())
    assert kind in str(error.value) and "harvest.allow_private_networks" in str(error.value)


def test_public_addresses_pass_and_the_config_can_allow_networks() -> None:
    for public in ("8.8.8.8", "193.51.24.1", "2001:4860:4860::8888"):
        assert NetworkPolicy().refusal(ipaddress.ip_address(public)) is None
    intranet = NetworkPolicy.of(False, ["10.20.0.0/16"])
    assert intranet.refusal(ipaddress.ip_address("10.20.3.4")) is None
    assert intranet.refusal(ipaddress.ip_address("10.21.3.4")) is not None
    assert NetworkPolicy.of(True, []).refusal(ipaddress.ip_address("169.254.169.254")) is None


def test_a_name_is_vetted_when_connecting_not_only_when_checked(hostile: Hostile) -> None:
    """``localhost`` is a name: what it resolves to is checked at connection time, and refused."""
    port = hostile.url.rpartition(":")[2]
    source = http_source(f"http://localhost:{port}/csw")
    url_safety.restrict(source, NetworkPolicy())
    with HttpClient(source, accept="*/*") as client, pytest.raises(ListingError) as error:
        client.get(f"http://localhost:{port}/csw")
    assert "connection to localhost refused: 127.0.0.1 is a loopback address" in str(error.value)
    assert hostile.requests == 0


def test_a_redirect_to_a_refused_address_is_refused(hostile: Hostile) -> None:
    """The source's host is allowed (127.0.0.1 only); it redirects to 127.0.0.2, which is not."""
    inner = Hostile("127.0.0.2")
    try:
        inner.routes["/secret"] = _redirect("/never")
        hostile.routes["/csw"] = _redirect(f"{inner.url}/secret")
        source = http_source(f"{hostile.url}/csw")
        url_safety.restrict(source, NetworkPolicy.of(False, ["127.0.0.1/32"]))
        with HttpClient(source, accept="*/*") as client, pytest.raises(ListingError) as error:
            client.get(f"{hostile.url}/csw")
        assert "127.0.0.2 is a loopback address" in str(error.value)
        assert hostile.hits == {"/csw": 1} and inner.requests == 0
        metadata = http_source(f"{hostile.url}/metadata")
        hostile.routes["/metadata"] = _redirect("http://169.254.169.254/latest/meta-data/")
        url_safety.restrict(metadata, NetworkPolicy.of(False, ["127.0.0.1/32"]))
        with HttpClient(metadata, accept="*/*") as client, pytest.raises(ListingError) as error:
            client.get(f"{hostile.url}/metadata")
        assert "169.254.169.254 is link-local (cloud metadata service)" in str(error.value)
    finally:
        inner.close()


def test_the_operators_own_sources_are_not_restricted(hostile: Hostile) -> None:
    """A source of the config files (here built directly) reaches the local server: tests, demos and
    intranet catalogues configured by the operator work as written."""
    hostile.routes["/csw"] = lambda handler: _not_found(handler)
    source = http_source(f"{hostile.url}/csw")
    assert url_safety.policy_for(source) is None
    with HttpClient(source, accept="*/*") as client:
        assert client.get(f"{hostile.url}/csw", accept_errors=True).status == 404
    assert hostile.hits == {"/csw": 1}


def test_a_bad_allowed_network_stops_loading_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "terracat.yaml"
    path.write_text("harvest:\n  allowed_networks: [10.0.0.0/8, intranet]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load(path)
    assert error.value.line == 2 and "'intranet' is not a CIDR network" in str(error.value)


TOKEN = "hostile-input-admin-token-0123456789"


@pytest.fixture
def admin_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Client, Path]]:
    """The admin API of a config with the default network policy and one configured directory source."""
    shutil.copytree(DEMO_ISO19139, tmp_path / "inbox" / "pole")
    (tmp_path / "outside").mkdir()
    (tmp_path / "inbox" / "escape").symlink_to(tmp_path / "outside")
    config = {
        "store": {"backend": "sqlite", "path": "catalogue.db"},
        "harvest": {"ledger": "harvest.db"},
        "admin": {"tokens_env": ["TERRACAT_HOSTILE_TOKEN"]},
        "sources": [{"id": "inbox", "pole": "ODATIS", "protocol": "directory", "path": "inbox"}],
    }
    path = tmp_path / "terracat.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    monkeypatch.setenv("TERRACAT_HOSTILE_TOKEN", TOKEN)
    app = admin.AdminAPI(load(path), config=path)
    yield Client(app), tmp_path
    app.wait(30)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://127.0.0.1:{port}/csw", "127.0.0.1 is a loopback address"),
        ("http://localhost:{port}/csw", "is a loopback address"),
        ("http://[::1]:{port}/csw", "::1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata service"),
        ("http://10.0.0.1/csw", "private address"),
        ("http://0.0.0.0:{port}/csw", "unspecified"),
        ("http://[fd00::1]/csw", "unique-local"),
        ("http://224.0.0.1/csw", "multicast"),
    ],
)
def test_admin_supplied_urls_to_refused_addresses_are_400(
    admin_client: tuple[Client, Path], hostile: Hostile, url: str, words: str
) -> None:
    client, _ = admin_client
    port = hostile.url.rpartition(":")[2]
    definition = {
        "id": "probe",
        "pole": "THEIA",
        "protocol": "csw",
        "url": url.format(port=port),
        "retries": 0,
    }
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for method, route in (("POST", "/dry-run"), ("POST", "/sources"), ("PUT", "/sources/inbox")):
        body = definition if route != "/sources/inbox" else {**definition, "id": "inbox"}
        response = client.open(route, method=method, json=body, headers=auth)
        assert response.status_code == 400, (route, response.get_data(as_text=True))
        assert (
            words in response.get_json()["error"] and "allow_private_networks" in response.get_json()["error"]
        )
    assert hostile.requests == 0


def test_sources_from_the_overrides_file_obey_the_policy_when_harvested(
    tmp_path: Path, hostile: Hostile
) -> None:
    """A source the admin API wrote (it resolved to a public address then, say) is harvested later by the
    scheduler or ``terracat harvest``: its connections are vetted, so the run fails without a request."""
    config = {"store": {"backend": "sqlite", "path": "catalogue.db"}, "harvest": {"ledger": "harvest.db"}}
    (tmp_path / "terracat.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    late = {"id": "late", "pole": "THEIA", "protocol": "csw", "url": f"{hostile.url}/csw", "retries": 0}
    overrides = {"sources": [late]}
    (tmp_path / "sources.overrides.yaml").write_text(yaml.safe_dump(overrides), encoding="utf-8")
    loaded = load(tmp_path / "terracat.yaml")
    source = loaded.source("late")
    assert url_safety.policy_for(source) == NetworkPolicy()

    [summary] = harvest(loaded, [source])

    assert summary.status == "failed" and "127.0.0.1 is a loopback address" in (summary.error or ""), summary
    assert hostile.requests == 0


# --- directory sources: links out of the folder ---------------------------------------------------------


def test_links_out_of_a_directory_source_are_not_read(tmp_path: Path) -> None:
    folder, outside = tmp_path / "records", tmp_path / "outside"
    folder.mkdir()
    outside.mkdir()
    good = sorted(DEMO_ISO19139.glob("*.xml"))[:2]
    for path in good:
        shutil.copy(path, folder / path.name)
    secret = outside / "secret.xml"
    secret.write_bytes(sorted(DEMO_ISO19139.glob("*.xml"))[5].read_bytes())  # another pole's record, say
    (folder / "link.xml").symlink_to(secret)  # a file link leading out
    (folder / "linked-folder").symlink_to(outside, target_is_directory=True)  # a folder link: not entered
    (folder / "sub").mkdir()
    (folder / "sub" / "up.xml").symlink_to(Path("..") / ".." / "outside" / "secret.xml")  # ../ in a link
    (folder / "sub" / "inside.xml").symlink_to(folder / good[0].name)  # a link inside: read

    source = Source(id="files", pole="ODATIS", protocol="directory", path=str(folder))
    pages = list(Directory(source).pages())

    read = [raw.locator for page in pages for raw in page.records]
    assert read == sorted([good[0].name, good[1].name, "sub/inside.xml"])
    assert all(raw.content != secret.read_bytes() for page in pages for raw in page.records)
    notes = [note for page in pages for note in page.notes]
    assert notes == [
        f"link.xml: a link to {secret}, outside the folder; not read",
        f"sub/up.xml: a link to {secret}, outside the folder; not read",
    ]


def test_a_folder_with_only_links_out_says_so(tmp_path: Path) -> None:
    (tmp_path / "records").mkdir()
    (tmp_path / "secret.xml").write_bytes(RECORD)
    (tmp_path / "records" / "link.xml").symlink_to(tmp_path / "secret.xml")
    source = Source(id="files", pole="ODATIS", protocol="directory", path=str(tmp_path / "records"))
    [page] = list(Directory(source).pages())
    assert page.records == [] and page.matched == 0 and "outside the folder; not read" in page.notes[0]


def test_admin_directory_paths_out_of_the_configured_folders_are_refused(
    admin_client: tuple[Client, Path],
) -> None:
    client, folder = admin_client
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for path in (
        "/etc",
        str(folder / "inbox" / ".." / "outside"),  # ../
        str(folder / "inbox" / "escape"),  # a link inside the folder, to outside
        "inbox/pole",  # relative
    ):
        body = {"id": "probe", "pole": "ODATIS", "protocol": "directory", "path": path}
        for route in ("/dry-run", "/sources"):
            response = client.post(route, json=body, headers=auth)
            assert response.status_code == 400, (path, route, response.get_data(as_text=True))
    inside = {
        "id": "probe",
        "pole": "ODATIS",
        "protocol": "directory",
        "path": str(folder / "inbox" / "pole"),
    }
    assert client.post("/dry-run", json=inside, headers=auth).status_code == 200


# --- admin API: every route wants a valid token ---------------------------------------------------------


def test_every_admin_route_refuses_a_missing_or_wrong_token(admin_client: tuple[Client, Path]) -> None:
    """Every rule of the API's URL map, whatever its method: 401 without a Bearer token, 403 with a wrong
    one (also one that differs from the right one by its last character, or is its prefix)."""
    client, _ = admin_client
    app = client.application
    rules = [(method, rule.rule) for rule in app.routes.iter_rules() for method in rule.methods or ()]
    rules = [(m, r) for m, r in rules if m not in ("HEAD", "OPTIONS")]
    concrete = {
        (m, "/admin" + r.replace("<source_id>", "demo").replace("<int:run_id>", "1")) for m, r in rules
    }
    assert concrete <= set(ADMIN_ROUTES)  # and tests/test_admin_api.py tries each one over HTTP
    wrong_tokens = ["nope", TOKEN[:-1] + "X", TOKEN[:-1], TOKEN + "0", TOKEN.upper()]
    for method, rule in rules:
        path = rule.replace("<source_id>", "inbox").replace("<int:run_id>", "1")
        for headers in ({}, {"Authorization": TOKEN}, {"Authorization": f"Basic {TOKEN}"}):
            assert client.open(path, method=method, headers=headers).status_code == 401, (method, path)
        for token in wrong_tokens:
            response = client.open(path, method=method, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 403, (method, path, token)
    assert client.get("/sources", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


# --- OGC API: injection and out-of-range parameters -----------------------------------------------------


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(demo_catalogue(tmp_path_factory.mktemp("hostile-api"), demo_records())) as url:
        yield url


def items(api_url: str, **params: Any) -> requests.Response:
    return requests.get(f"{api_url}/collections/catalogue/items", params=params, timeout=60)


def _client_or_success(response: requests.Response) -> None:
    """200, or 400 with a description; never a server error, never the database's words."""
    assert response.status_code in (200, 400), (response.status_code, response.url, response.text[:300])
    text = response.text.lower()
    assert "sqlite" not in text and "fts5" not in text and "syntax error" not in text, response.text[:300]
    if response.status_code == 400:
        assert response.json()["description"]


INJECTIONS = [
    "'",
    '"',
    "''",
    '""',
    "*",
    "ocean*",
    "NEAR(ocean sea)",
    "NEAR",
    "ocean OR sea",
    "OR",
    "AND",
    "NOT",
    "-ocean",
    "ocean -sea",
    "title:ocean",
    "abstract:ocean",
    "{title abstract}:ocean",
    "^ocean",
    "ocean +",
    "' OR 1=1 --",
    "'; DROP TABLE records; --",
    '") OR ("1"="1',
    "ocean\x00",
    "\\",
    "%",
    "_",
    "(",
    ")",
    "ocean,",
    ",",
    ",,,",
    "(ocean",
    "océan",
    "😀",
    "a" * 10_000,
    "ocean " * 500,
]


@pytest.mark.parametrize("q", INJECTIONS)
def test_q_injection_is_answered_as_text(api_url: str, q: str) -> None:
    response = items(api_url, q=q)
    _client_or_success(response)
    if response.status_code == 200:
        # words narrow the search; a q without any (punctuation only) is no condition
        narrowed = response.json()["numberMatched"] < items(api_url).json()["numberMatched"]
        assert narrowed or not re.search(r"\w", q)


@pytest.mark.parametrize(
    ("q", "plain"),
    [("ocean*", "ocean"), ("-ocean", "ocean"), ('"sea"', "sea"), ("^sea", "sea"), ("(sea)", "sea"),
     ("sea:", "sea"), ("title:sea", "title sea"), ("sea OR ocean", "sea or ocean"),
     ("NEAR(sea)", "near sea")],
)  # fmt: skip
def test_q_metacharacters_are_words_not_operators(api_url: str, q: str, plain: str) -> None:
    """FTS5 syntax in ``q`` is no syntax: ``*`` is no prefix query, ``-`` no exclusion, ``title:`` no
    column filter, ``OR``/``NEAR`` no operators; the search is that of the plain words."""
    assert (
        items(api_url, q="ocean").json()["numberMatched"] > 0
        and items(api_url, q="sea").json()["numberMatched"]
    )

    def found(text: str) -> list[str]:
        return sorted(feature["id"] for feature in items(api_url, q=text, limit=1000).json()["features"])

    assert found(q) == found(plain)


FILTERS = [
    "title = 'x'' OR 1=1 --'",
    "title = 'x' OR 1=1",
    "title LIKE '%'",
    "title LIKE '%'; DROP TABLE records; --",
    "\"title\" = 'ocean'",
    'title = "ocean"',
    "title = 'ocean') OR ('1'='1",
    "(" * 2000 + "title = 'x'" + ")" * 2000,
    "title = '" + "a" * 100_000 + "'",
    "S_INTERSECTS(geometry, BBOX(-1e308, -1e308, 1e308, 1e308))",
    "S_INTERSECTS(geometry, BBOX(NaN, 0, 1, 1))",
    "S_INTERSECTS(geometry, POLYGON((0 0, 1 0, 0 0)))",
    "T_INTERSECTS(updated, INTERVAL('2020-13-45', '..'))",
    "updated > TIMESTAMP('not a time')",
    "updated > DATE('2020-02-30')",
    "title IN ()",
    "title IS NULL OR title IS NOT NULL",
    "CASEI(title) = CASEI('ocean')",
    "keyword = 1e400",
    "title = 'x' AND " * 500 + "title = 'y'",
]


@pytest.mark.parametrize("cql", FILTERS)
def test_cql2_injection_is_a_filter_or_a_400(api_url: str, cql: str) -> None:
    response = items(api_url, filter=cql)
    _client_or_success(response)
    if response.status_code == 200 and "OR 1=1" in cql:
        assert response.json()["numberMatched"] == 0  # the quote was part of the string


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(
    q=st.lists(
        st.sampled_from(
            [
                '"',
                "'",
                "*",
                "NEAR",
                "OR",
                "AND",
                "NOT",
                "-",
                ":",
                "title:",
                "(",
                ")",
                "^",
                "+",
                ",",
                "ocean",
                "sea",
                "é",
                "\\",
                "%",
                "{",
                "}",
                ";",
                "--",
                " ",
            ]
        ),
        max_size=12,
    ).map("".join),
    cql=st.lists(
        st.sampled_from(
            [
                "title",
                "=",
                "'",
                "ocean",
                "OR",
                "AND",
                "(",
                ")",
                "LIKE",
                "'%'",
                "NOT",
                "1",
                "1e999",
                "S_INTERSECTS",
                "BBOX(",
                ",",
                "geometry",
                "updated",
                ">",
                "TIMESTAMP(",
                "''",
                " ",
            ]
        ),
        min_size=1,
        max_size=12,
    ).map(" ".join),
)
def test_random_q_and_filter_never_break_the_server(api_url: str, q: str, cql: str) -> None:
    _client_or_success(items(api_url, q=q))
    _client_or_success(items(api_url, filter=cql))
    _client_or_success(items(api_url, q=q, filter=cql))


def test_limit_over_the_maximum_is_clamped(api_url: str) -> None:
    """OGC API Features (/per/core/limit-response-1) lets a server answer an oversized ``limit`` with its
    maximum: ours does (``MAX_ITEMS``), as the store refuses more than ``MAX_LIMIT`` from any caller."""
    for limit in (MAX_ITEMS + 1, 10**12, 10**100):
        response = items(api_url, limit=limit)
        assert response.status_code == 200
        page = response.json()
        assert page["numberReturned"] == min(page["numberMatched"], MAX_ITEMS)
    with pytest.raises(QueryError, match=f"limit must be between 1 and {MAX_LIMIT}"):
        parse_limit(MAX_LIMIT + 1)


def test_a_deep_offset_is_an_empty_page(api_url: str) -> None:
    deep = items(api_url, offset=10**9)
    assert deep.status_code == 200
    assert deep.json()["features"] == [] and deep.json()["numberReturned"] == 0
    assert deep.json()["numberMatched"] == items(api_url).json()["numberMatched"]
    assert items(api_url, offset=10**9 + 1).status_code == 400
    assert items(api_url, offset=10**30).status_code == 400


@pytest.mark.parametrize(
    "params",
    [
        {"bbox": "-1e308,-1e308,1e308,1e308"},
        {"bbox": "1e400,0,1,1"},
        {"bbox": "inf,0,1,1"},
        {"bbox": "-inf,-90,180,90"},
        {"bbox": "0,0,1,1,2,2,3"},
        {"bbox": "0x10,0,1,1"},
        {"bbox": ",,,"},
        {"bbox": "1" * 5000 + ",0,1,1"},
        {"datetime": "2020-01-01T25:00:00Z"},
        {"datetime": "2020-02-30"},
        {"datetime": "2020-01-01\x00"},
        {"datetime": "2020-01-01/2020-01-02/2020-01-03"},
        {"datetime": "99999-01-01"},
        {"datetime": "-2020-01-01"},
        {"datetime": "2020-01-01T00:00:00+25:00"},
    ],
)
def test_odd_bbox_and_datetime_are_400_with_a_reason(api_url: str, params: dict[str, str]) -> None:
    response = items(api_url, **params)
    assert response.status_code == 400, response.text[:300]
    assert response.json()["description"]


@pytest.mark.parametrize("value", ["1" * 5000, "20200101", "2020-W01-1", "2020-01-01T00:00"])
def test_iso_8601_forms_outside_rfc_3339_are_400(api_url: str, value: str) -> None:
    """Python 3.11's ``fromisoformat`` reads ISO 8601 forms RFC 3339 does not allow (``20200101``, a run
    of digits as 1111-11-11T11:11:11.111...): the query refuses them rather than guess."""
    response = items(api_url, datetime=value)
    assert response.status_code == 400, response.text[:300]
    assert "RFC 3339" in response.json()["description"]


def test_rfc_3339_fractions_of_any_length_are_read(api_url: str) -> None:
    response = items(api_url, datetime="2020-01-01T00:00:00.123456789123456789Z/..")
    assert response.status_code == 200, response.text[:300]
