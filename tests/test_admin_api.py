"""The admin API (``api.admin``) on a real server over a real harvest: the demo ISO 19139 records and two
malformed files in a ``directory`` source, the real crosswalk, thesaurus, ledger and SQLite index; the
dry run also over HTTP, against the OGC API - Records server of ``tests/fixtures/stac_server.py``."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
import requests
import yaml

from api import admin
from api.cli import harvest
from api.settings import AdminSettings, ConfigError, Settings, load
from catalogue.store import open_store
from harvester.ledger import open_ledger
from harvester.run import source_lock
from tests.fixtures.api_server import REPO_ROOT, serving
from tests.fixtures.oai_server import OaiServer, records
from tests.fixtures.stac_server import RecordsApi

TOKEN = "s3cret-admin-token-for-tests"
OLD_TOKEN = "previous-admin-token-still-valid"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BROKEN = {"000-not-iso.xml": b"<record><title>not ISO</title></record>", "001-truncated.xml": b"<gmd:MD_Meta"}
THESAURUS = REPO_ROOT / "config" / "thesauri" / "data-terra.ttl"

ROUTES = [
    ("GET", "/admin/"),
    ("GET", "/admin/sources"),
    ("GET", "/admin/sources/demo"),
    ("POST", "/admin/sources/demo/run"),
    ("GET", "/admin/runs"),
    ("GET", "/admin/runs/1"),
    ("GET", "/admin/runs/1/records"),
    ("POST", "/admin/dry-run"),
    ("GET", "/admin/reports/unmapped"),
    ("GET", "/admin/reports/fair"),
    ("GET", "/admin/no-such-route"),
    ("POST", "/admin/sources"),
    ("PUT", "/admin/sources/demo"),
    ("DELETE", "/admin/sources/demo"),
    ("POST", "/admin/sources/demo/enable"),
    ("POST", "/admin/sources/demo/disable"),
    ("POST", "/admin/runs"),
    ("POST", "/admin/runs/1/cancel"),
]


class Site:
    def __init__(self, folder: Path, settings: Settings, run_id: int, url: str, app: admin.AdminAPI):
        self.folder = folder
        self.settings = settings
        self.run_id = run_id
        self.url = url
        self.app = app

    def get(self, path: str, **params: Any) -> requests.Response:
        return requests.get(f"{self.url}/admin{path}", params=params, headers=AUTH, timeout=60)

    def post(self, path: str, body: Any = None, **options: Any) -> requests.Response:
        return requests.post(f"{self.url}/admin{path}", json=body, headers=AUTH, timeout=60, **options)

    def ledger_runs(self) -> list[int]:
        ledger = open_ledger(self.settings.harvest.ledger)
        try:
            return [run.id for run in ledger.runs(limit=1000)]
        finally:
            ledger.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, demo_records: Path) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("admin")
    shutil.copytree(demo_records, folder / "records")
    for name, content in BROKEN.items():
        (folder / "records" / name).write_bytes(content)
    (folder / "elsewhere").mkdir()
    config = {
        "store": {"backend": "sqlite", "path": str(folder / "catalogue.db")},
        "harvest": {"ledger": str(folder / "harvest.db"), "allowed_networks": ["127.0.0.0/8"]},  # local
        "admin": {"tokens_env": ["TERRACAT_TEST_ADMIN_TOKEN", "TERRACAT_TEST_OLD_ADMIN_TOKEN"]},
        "thesauri": [str(THESAURUS)],
        "sources": [
            {
                "id": "demo",
                "pole": "ODATIS",
                "protocol": "directory",
                "path": "records",
                "format": "iso19139",
                "headers": {"X-Api-Key": "do-not-show-this"},
            },
            {
                "id": "later",
                "pole": "THEIA",
                "protocol": "csw",
                "url": "https://example.org/csw",
                "enabled": False,
            },
        ],
    }
    (folder / "terracat.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    settings = load(folder / "terracat.yaml")
    [summary] = harvest(settings, [settings.source("demo")])
    assert summary.status == "succeeded" and summary.counts["rejected"] > len(BROKEN)  # demo ones too
    app = admin.AdminAPI(settings)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TERRACAT_TEST_ADMIN_TOKEN", TOKEN)
        patch.setenv("TERRACAT_TEST_OLD_ADMIN_TOKEN", OLD_TOKEN)
        with serving(settings.store, ledger=settings.harvest.ledger, mounts={"/admin": app}) as url:
            yield Site(folder, settings, summary.run_id or 0, url, app)
            app.wait(60)


def _finished(site: Site, run_id: int) -> dict[str, Any]:
    """The run once it has ended (a run-now harvest runs in a thread of the server)."""
    for _ in range(600):
        run = site.get(f"/runs/{run_id}").json()
        if run["status"] != "running":
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} still running")


# --- authorisation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_wants_a_valid_bearer_token(site: Site, method: str, path: str) -> None:
    url = f"{site.url}{path}"
    missing = requests.request(method, url, timeout=30)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Bearer" in missing.json()["error"]
    malformed = requests.request(method, url, headers={"Authorization": f"Basic {TOKEN}"}, timeout=30)
    assert malformed.status_code == 401
    wrong = requests.request(method, url, headers={"Authorization": "Bearer not-the-admin-token"}, timeout=30)
    assert wrong.status_code == 403
    assert TOKEN not in wrong.text
    assert wrong.headers["Cache-Control"] == "no-store"


def test_either_configured_token_opens_the_api(site: Site) -> None:
    for token in (TOKEN, OLD_TOKEN):
        response = requests.get(
            f"{site.url}/admin/sources", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        assert response.status_code == 200
    assert site.get("/no-such-route").status_code == 404
    assert requests.delete(f"{site.url}/admin/sources", headers=AUTH, timeout=30).status_code == 405


def test_without_a_configured_token_the_api_is_closed(site: Site) -> None:
    closed = msgspec.structs.replace(site.settings, admin=AdminSettings(tokens_env=["TERRACAT_TEST_UNSET"]))
    app = admin.AdminAPI(closed, environ={"TERRACAT_TEST_UNSET": "short"})  # too short to be a secret
    with serving(closed.store, mounts={"/admin": app}) as url:
        for headers in ({}, AUTH, {"Authorization": "Bearer short"}):
            response = requests.get(f"{url}/admin/sources", headers=headers, timeout=30)
            assert response.status_code == 403
            assert "TERRACAT_TEST_UNSET" in response.json()["error"]


# --- sources ------------------------------------------------------------------------------------------


def test_sources_list_config_records_and_last_run(site: Site) -> None:
    response = site.get("/sources")
    assert response.status_code == 200
    assert "do-not-show-this" not in response.text
    sources = {source["id"]: source for source in response.json()["sources"]}
    assert list(sources) == ["demo", "later"]
    with open_store(site.settings.store) as store:
        assert sources["demo"]["records"] == store.count("demo") > 0
    assert sources["demo"]["config"]["headers"] == {"X-Api-Key": "(withheld)"}
    assert sources["demo"]["config"]["pole"] == "ODATIS"
    assert sources["later"] == site.get("/sources/later").json()
    assert sources["later"]["config"]["enabled"] is False
    assert sources["later"]["records"] == 0 and sources["later"]["last_run"] is None
    assert site.get("/sources/demo").json()["last_run"]["id"] >= site.run_id
    missing = site.get("/sources/nope")
    assert missing.status_code == 404 and "demo, later" in missing.json()["error"]


# --- runs ---------------------------------------------------------------------------------------------


def test_a_run_with_its_records_paged_and_filtered(site: Site) -> None:
    run = site.get(f"/runs/{site.run_id}").json()
    assert run["source_id"] == "demo" and run["status"] == "succeeded"
    assert run["counts"]["rejected"] > len(BROKEN) and run["counts"]["added"] > 10
    assert isinstance(run["seconds"], float) and run["seconds"] >= 0
    listed = site.get("/runs", source="demo", limit=1000).json()["runs"]
    assert site.run_id in [r["id"] for r in listed]
    assert [r["id"] for r in listed] == sorted((r["id"] for r in listed), reverse=True)

    rejected = site.get(f"/runs/{site.run_id}/records", status="rejected").json()
    assert rejected["total"] == run["counts"]["rejected"] == len(rejected["records"])
    reasons = {Path(r["locator"]).name: r for r in rejected["records"]}
    assert set(BROKEN) <= set(reasons)
    assert all(r["status"] == "rejected" and r["code"] and r["message"] for r in reasons.values())
    assert len({r["code"] for r in reasons.values()}) > 1
    assert reasons["001-truncated.xml"]["code"] != reasons["000-not-iso.xml"]["code"]

    everything = site.get(f"/runs/{site.run_id}/records", limit=1000).json()
    assert everything["total"] == sum(run["counts"].values()) == len(everything["records"])
    first = site.get(f"/runs/{site.run_id}/records", limit=5).json()["records"]
    second = site.get(f"/runs/{site.run_id}/records", limit=5, offset=5).json()["records"]
    assert first + second == everything["records"][:10]
    added = site.get(f"/runs/{site.run_id}/records", status="added", limit=3, offset=1).json()["records"]
    assert added == [r for r in everything["records"] if r["status"] == "added"][1:4]


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/runs/{run}/records", {"status": "exploded"}, 400),
        ("/runs/{run}/records", {"limit": "many"}, 400),
        ("/runs/{run}/records", {"limit": "5000"}, 400),
        ("/runs/{run}/records", {"offset": "-1"}, 400),
        ("/runs", {"source": "nope"}, 404),
        ("/runs/999999", {}, 404),
        ("/runs/999999/records", {}, 404),
        ("/reports/unmapped", {"source": "nope"}, 404),
        ("/reports/fair", {"source": "nope"}, 404),
    ],
)
def test_bad_queries_are_client_errors(site: Site, path: str, params: dict[str, str], status: int) -> None:
    response = site.get(path.format(run=site.run_id), **params)
    assert response.status_code == status
    assert response.json()["error"]


def test_run_now_then_read_its_run(site: Site) -> None:
    before = site.ledger_runs()
    response = site.post("/sources/demo/run")
    assert response.status_code == 202
    run_id = response.json()["run"]
    assert response.headers["Location"] == f"{site.url}/admin/runs/{run_id}"
    assert run_id not in before and run_id in site.ledger_runs()
    run = _finished(site, run_id)
    assert run["status"] == "succeeded" and run["kind"] == "full"  # a folder is always listed whole
    # nothing changed since the first harvest: the records come back unchanged, the broken ones rejected
    assert run["counts"]["rejected"] == site.get(f"/runs/{site.run_id}").json()["counts"]["rejected"]
    assert run["counts"]["unchanged"] == site.get("/sources/demo").json()["records"]
    unchanged = site.get(f"/runs/{run_id}/records", status="unchanged", limit=4).json()
    assert unchanged["total"] == run["counts"]["unchanged"] and len(unchanged["records"]) == 4
    assert {r["status"] for r in unchanged["records"]} == {"unchanged"}
    assert site.get("/runs", source="demo", limit=1).json()["runs"][0]["id"] == run_id


def test_run_now_refused_while_a_run_holds_the_lock(site: Site) -> None:
    ledger = open_ledger(site.settings.harvest.ledger)
    try:
        before = site.ledger_runs()
        with source_lock(ledger, "demo"):
            response = site.post("/sources/demo/run")
        assert response.status_code == 409
        assert "already running" in response.json()["error"]
        assert site.ledger_runs() == before
    finally:
        ledger.close()
    assert site.post("/sources/nope/run").status_code == 404
    assert site.post("/sources/demo/run", {"full": "yes"}).status_code == 400
    assert site.post("/sources/demo/run", {"everything": True}).status_code == 400


# --- dry run ------------------------------------------------------------------------------------------


def _definition(site: Site, **options: Any) -> dict[str, Any]:
    return {
        "id": "trial",
        "pole": "ODATIS",
        "protocol": "directory",
        "path": str(site.folder / "records"),
        "format": "iso19139",
        "page_size": 6,
    } | options


def test_dry_run_of_a_folder_writes_nothing(site: Site) -> None:
    runs = site.ledger_runs()
    with open_store(site.settings.store) as store:
        count = store.count()
    response = site.post("/dry-run", _definition(site))
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["source"] == "trial" and result["page"]["received"] == 6
    records = result["records"]
    assert [Path(r["locator"]).name for r in records[:2]] == sorted(BROKEN)
    assert {r["status"] for r in records[:2]} == {"rejected"}
    assert all(r["code"] and r["message"] for r in records[:2])
    accepted = records[2:]
    assert {r["status"] for r in accepted} == {"added"}  # source "trial" holds nothing yet
    with open_store(site.settings.store) as store:
        for entry in accepted:
            feature = entry["record"]
            assert feature["type"] == "Feature" and feature["id"].startswith("trial.")
            assert feature["properties"]["title"]
            assert 0 <= entry["fair"]["score"] <= 100 and entry["fair"]["level"]
            assert feature["properties"]["quality"]["fair"]["score"] == entry["fair"]["score"]
            assert isinstance(entry["unmapped"], list)
            assert store.get(feature["id"]) is None
        assert store.count() == count
    assert any(entry["unmapped"] for entry in accepted)
    assert result["counts"] == {"rejected": 2, "added": 4}
    assert site.ledger_runs() == runs


def test_dry_run_of_a_configured_source_says_what_would_be_updated(site: Site) -> None:
    result = site.post("/dry-run", _definition(site, id="demo", page_size=4)).json()
    assert [r["status"] for r in result["records"]] == ["rejected", "rejected", "updated", "updated"]


def test_dry_run_over_http(site: Site, records_api: Callable[..., RecordsApi]) -> None:
    api = records_api()
    api.records.insert(0, {"type": "Feature", "id": "no-title", "geometry": None, "properties": {}})
    definition = {
        "id": "remote",
        "pole": "AERIS",
        "protocol": "ogcapi-records",
        "format": "ogcapi-records",
        "url": f"{api.url}/collections/catalogue",
        "page_size": 3,
        "retries": 0,
        "timeout": 10,
    }
    response = site.post("/dry-run", definition)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["page"]["matched"] == len(api.records) and result["page"]["received"] == 3
    assert len([r for r in api.requests if r.path.endswith("/items")]) == 1  # the first page only
    first, *others = result["records"]
    assert first["status"] == "rejected" and first["code"] and first["native_id"] == "no-title"
    assert [r["status"] for r in others] == ["added", "added"]
    assert [r["native_id"] for r in others] == [record["id"] for record in api.records[1:3]]
    assert all(r["record"]["id"].startswith("remote.") and r["record"]["properties"]["title"] for r in others)


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"id": "x", "pole": "ODATIS", "protocol": "gopher", "url": "http://example.org"}, 400, "protocol"),
        ({"id": "x", "pole": "ODATIS", "protocol": "csw", "url": "file:///etc/passwd"}, 400, "http"),
        ({"id": "x", "pole": "Nowhere", "protocol": "csw", "url": "http://example.org"}, 400, "pole"),
        ({"id": "x", "pole": "ODATIS", "protocol": "directory", "path": "/etc"}, 400, "folder"),
        ({"id": "x", "pole": "ODATIS", "protocol": "directory", "path": "records"}, 400, "folder"),
        (
            {"id": "x", "pole": "ODATIS", "protocol": "csw", "url": "http://127.0.0.1:9/csw", "retries": 0},
            502,
            "",
        ),
        (["not", "an", "object"], 400, "object"),
        (None, 400, "body"),
    ],
)
def test_dry_run_refuses_bad_definitions(site: Site, body: Any, status: int, words: str) -> None:
    response = site.post("/dry-run", body)
    assert response.status_code == status, response.text
    assert words in response.json()["error"]


def test_dry_run_refuses_a_folder_outside_the_configured_ones(site: Site) -> None:
    response = site.post("/dry-run", _definition(site, path=str(site.folder / "elsewhere")))
    assert response.status_code == 400
    response = site.post(
        "/dry-run", _definition(site, path=str(site.folder / "records" / ".." / "elsewhere"))
    )
    assert response.status_code == 400
    not_json = requests.post(f"{site.url}/admin/dry-run", data=b"{nope", headers=AUTH, timeout=30)
    assert not_json.status_code == 400 and "JSON" in not_json.json()["error"]


# --- reports ------------------------------------------------------------------------------------------


def test_unmapped_keywords_report(site: Site) -> None:
    ledger = open_ledger(site.settings.harvest.ledger)
    try:
        expected = ledger.unmapped("demo", limit=20)
    finally:
        ledger.close()
    assert expected
    report = site.get("/reports/unmapped", source="demo", limit=20).json()
    assert [(k["source"], k["label"], k["thesaurus"] or "", k["records"]) for k in report["keywords"]] == [
        tuple(row) for row in expected
    ]
    assert len(site.get("/reports/unmapped", limit=3).json()["keywords"]) == 3


def test_fair_report(site: Site) -> None:
    report = site.get("/reports/fair").json()
    sources = {entry["source"]: entry for entry in report["sources"]}
    assert set(sources) == {"demo", "later"}
    demo = sources["demo"]
    with open_store(site.settings.store) as store:
        records = [store.get(rid) for rid in store.ids("demo")]
    scores = [r.quality.fair.score for r in records if r and r.quality and r.quality.fair]
    assert demo["rated"] == len(scores) == sum(demo["levels"].values()) == demo["records"]
    assert sum(b["records"] for b in demo["scores"]["histogram"]) == len(scores)
    assert demo["scores"]["min"] == min(scores) and demo["scores"]["max"] == max(scores)
    assert len(demo["scores"]["histogram"]) == admin.FAIR_BINS
    assert sources["later"]["records"] == 0 and sources["later"]["scores"]["mean"] is None
    assert site.get("/reports/fair", source="demo").json()["sources"] == [demo]


def test_run_now_says_why_a_run_cannot_start(site: Site) -> None:
    harvest_settings = msgspec.structs.replace(
        site.settings.harvest, ledger=str(site.folder / "terracat.yaml" / "harvest.db")
    )
    broken = msgspec.structs.replace(site.settings, harvest=harvest_settings)
    app = admin.AdminAPI(broken, environ={"TERRACAT_TEST_ADMIN_TOKEN": TOKEN})
    with serving(broken.store, mounts={"/admin": app}) as url:
        response = requests.post(f"{url}/admin/sources/demo/run", headers=AUTH, timeout=60)
        app.wait(60)
        assert response.status_code == 503
        assert "could not start" in response.json()["error"]
        assert requests.get(f"{url}/admin", headers=AUTH, timeout=30).json()["links"]
        assert requests.get(f"{url}/admin/runs", headers=AUTH, timeout=30).json()["runs"] == []


# --- changing sources, running and cancelling (the overrides file) -----------------------------------

OAI_RECORDS = Path(__file__).parent / "data" / "oai" / "pyoai__fake2_00002.xml"  # 81 records, 9 pages


class Writable:
    """A server whose admin API may change its sources: its own config, overrides file and index."""

    def __init__(self, folder: Path, config: Path, url: str, app: admin.AdminAPI):
        self.folder, self.config, self.url, self.app = folder, config, url, app

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> requests.Response:
        url = f"{self.url}/admin{path}"
        return requests.request(method, url, json=body, params=params, headers=AUTH, timeout=60)

    def finished(self, run_id: int) -> dict[str, Any]:
        for _ in range(600):
            run = self.call("GET", f"/runs/{run_id}").json()
            if run["status"] != "running":
                return run
            time.sleep(0.1)
        raise AssertionError(f"run {run_id} still running")


@pytest.fixture
def writable(tmp_path: Path, demo_records: Path) -> Iterator[Writable]:
    shutil.copytree(demo_records, tmp_path / "inbox" / "story")
    config = {
        "store": {"backend": "sqlite", "path": "catalogue.db"},
        "harvest": {"ledger": "harvest.db", "allowed_networks": ["127.0.0.0/8"]},  # the test servers
        "admin": {"tokens_env": ["TERRACAT_TEST_ADMIN_TOKEN"]},
        "thesauri": [str(THESAURUS)],
        "sources": [
            {"id": "inbox", "pole": "ODATIS", "protocol": "directory", "path": "inbox", "enabled": False},
            {"id": "csw", "pole": "THEIA", "protocol": "csw", "url": "https://example.org/csw"},
        ],
    }
    path = tmp_path / "terracat.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    settings = load(path)
    app = admin.AdminAPI(settings, config=path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TERRACAT_TEST_ADMIN_TOKEN", TOKEN)
        with serving(settings.store, ledger=settings.harvest.ledger, mounts={"/admin": app}) as url:
            yield Writable(tmp_path, path, url, app)
            app.wait(60)


def test_create_dry_run_run_read_disable_delete_a_source(writable: Writable) -> None:
    """The issue's story, end to end."""
    definition = {
        "id": "story",
        "pole": "ODATIS",
        "protocol": "directory",
        "path": str(writable.folder / "inbox" / "story"),
    }
    created = writable.call("POST", "/sources", {**definition, "schedule": "30 2 * * *"})
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == f"{writable.url}/admin/sources/story"
    assert created.json()["config"]["enabled"] is True and created.json()["records"] == 0
    # its cron's next fire: today's or tomorrow's 02:30 UTC, whichever comes first
    now = datetime.now(UTC)
    fire = now.replace(hour=2, minute=30, second=0, microsecond=0)
    fire = fire if fire > now else fire + timedelta(days=1)
    assert created.json()["next_run"] == fire.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert writable.call("POST", "/sources", definition).status_code == 409  # the id exists now

    dry = writable.call("POST", "/dry-run", definition).json()
    assert dry["counts"]["added"] > 0
    assert load(writable.config).source("story").path == definition["path"]  # saved, nothing harvested

    started = writable.call("POST", "/sources/story/run")
    assert started.status_code == 202
    run = writable.finished(started.json()["run"])
    assert run["status"] == "succeeded" and run["counts"]["added"] > 0
    statuses = writable.call("GET", f"/runs/{run['id']}/records", status="added", limit=1000).json()
    assert statuses["total"] == run["counts"]["added"] == len(statuses["records"])
    with open_store(load(writable.config).store) as store:
        assert store.count("story") == run["counts"]["added"]

    disabled = writable.call("POST", "/sources/story/disable")
    assert disabled.status_code == 200 and disabled.json()["config"]["enabled"] is False
    assert disabled.json()["next_run"] is None  # a disabled source is not scheduled
    assert load(writable.config).source("story").enabled is False

    deleted = writable.call("DELETE", "/sources/story", records="delete")
    assert deleted.status_code == 200
    assert deleted.json()["records_deleted"] == run["counts"]["added"]
    assert writable.call("GET", "/sources/story").status_code == 404
    assert "story" not in {s.id for s in load(writable.config).sources}
    with open_store(load(writable.config).store) as store:
        assert store.count("story") == 0 and not store.ids("story")


def test_changes_survive_a_reload_of_the_config(writable: Writable, demo_records: Path) -> None:
    definition = {
        "id": "new",
        "pole": "THEIA",
        "protocol": "oai-pmh",
        "format": "dc",
        "url": "https://e.org/oai",
    }
    assert writable.call("POST", "/sources", definition).status_code == 201
    replaced = writable.call(
        "PUT", "/sources/csw", {**msgspec.to_builtins(load(writable.config).source("csw")), "page_size": 42}
    )
    assert replaced.status_code == 200 and replaced.json()["config"]["page_size"] == 42
    assert writable.call("POST", "/sources/inbox/enable").status_code == 200
    kept = writable.call("DELETE", "/sources/new", records="keep")
    assert kept.status_code == 200 and kept.json()["records_deleted"] == 0
    assert writable.call("POST", "/sources", {**definition, "url": "https://e.org/oai2"}).status_code == 201

    reloaded = load(writable.config)  # what a restart reads
    assert [s.id for s in reloaded.sources] == ["inbox", "csw", "new"]
    assert reloaded.source("csw").page_size == 42 and reloaded.source("inbox").enabled is True
    assert reloaded.source("new").url == "https://e.org/oai2"
    assert writable.call("DELETE", "/sources/csw").status_code == 200  # a source of the config itself
    assert [s.id for s in load(writable.config).sources] == ["inbox", "new"]
    restarted = admin.AdminAPI(load(writable.config), config=writable.config)
    assert set(restarted.sources) == {"inbox", "new"}
    assert (writable.folder / "sources.overrides.yaml").is_file()


def test_an_invalid_overrides_file_stops_loading_with_its_line(writable: Writable) -> None:
    overrides = writable.folder / "sources.overrides.yaml"
    overrides.write_text(
        "sources:\n  - id: x\n    pole: ODATIS\n    protocol: csw\n    page_size: 0\n"
        "    url: https://e.org/csw\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as error:
        load(writable.config)
    assert str(error.value).startswith(f"{overrides}:5: sources[0].page_size: must be between 1 and 10000")
    # the API neither writes over a file it cannot read nor forgets what it holds
    refused = writable.call("POST", "/sources/csw/disable")
    assert refused.status_code == 409 and "sources.overrides.yaml:5" in refused.json()["error"]
    assert writable.call("GET", "/sources/csw").status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"id": "Bad Id", "pole": "ODATIS", "protocol": "csw", "url": "https://e.org"}, 400, "id: 'Bad Id'"),
        ({"id": "x", "pole": "NOPE", "protocol": "csw", "url": "https://e.org"}, 400, "pole"),
        ({"id": "x", "pole": "ODATIS", "protocol": "csw", "url": "ftp://e.org"}, 400, "http(s) URL"),
        ({"id": "x", "pole": "ODATIS", "protocol": "csw", "url": "https://e.org", "cron": 1}, 400, "cron"),
        ({"id": "x", "pole": "ODATIS", "protocol": "directory", "path": "/etc"}, 400, "configured directory"),
        ({"id": "x", "pole": "ODATIS", "protocol": "directory", "path": "inbox"}, 400, "absolute path"),
        (
            {"id": "x", "pole": "ODATIS", "protocol": "csw", "url": "https://e.org", "schedule": "* *"},
            400,
            "5 fields",
        ),
        ([1], 400, "JSON object"),
    ],
)
def test_invalid_sources_are_refused_with_the_message(
    writable: Writable, body: Any, status: int, words: str
) -> None:
    response = writable.call("POST", "/sources", body)
    assert response.status_code == status
    assert words in response.json()["error"]
    assert not (writable.folder / "sources.overrides.yaml").exists()  # nothing saved


def test_bad_changes_are_client_errors(writable: Writable) -> None:
    assert writable.call("PUT", "/sources/nope", {"pole": "ODATIS"}).status_code == 404
    renamed = writable.call(
        "PUT", "/sources/csw", {"id": "other", "pole": "THEIA", "protocol": "csw", "url": "https://e.org/csw"}
    )
    assert renamed.status_code == 400 and "ids do not change" in renamed.json()["error"]
    assert writable.call("DELETE", "/sources/csw", records="maybe").status_code == 400
    assert writable.call("POST", "/sources/nope/disable").status_code == 404
    assert writable.call("POST", "/runs", {"sources": "csw"}).status_code == 400
    assert writable.call("POST", "/runs", {"sources": ["nope"]}).status_code == 404
    assert writable.call("POST", "/runs/999/cancel").status_code == 404


def test_a_server_without_its_config_file_cannot_change_sources(site: Site) -> None:
    body = {"id": "x", "pole": "ODATIS", "protocol": "csw", "url": "https://e.org"}
    refused = site.post("/sources", body)
    assert refused.status_code == 409 and "config file" in refused.json()["error"]


def test_run_all_enabled_then_cancel_a_slow_run(
    writable: Writable, oai_server: Callable[..., OaiServer]
) -> None:
    server = oai_server(records(OAI_RECORDS), page_size=10)
    slow = {
        "id": "slow",
        "pole": "ODATIS",
        "protocol": "oai-pmh",
        "format": "dc",
        "url": server.url,
        "delay": 0.4,
    }
    assert writable.call("POST", "/sources", slow).status_code == 201
    assert writable.call("POST", "/sources/csw/disable").status_code == 200  # example.org: not run
    started = writable.call("POST", "/runs")  # every enabled source: only the slow one
    assert started.status_code == 202
    [run] = started.json()["runs"]
    assert run["source"] == "slow" and run["status"] == "running"
    again = writable.call("POST", "/runs", {"sources": ["slow"]}).json()["runs"]
    assert again[0]["status"] == "refused" and "already running" in again[0]["error"]

    cancelled = writable.call("POST", f"/runs/{run['run']}/cancel")
    assert cancelled.status_code == 202 and cancelled.headers["Location"] == run["href"]
    ended = writable.finished(run["run"])
    assert ended["status"] == "stopped" and 0 < ended["counts"]["added"] < 79
    late = writable.call("POST", f"/runs/{run['run']}/cancel")
    assert late.status_code == 409 and "has ended (stopped)" in late.json()["error"]


def test_cancel_says_when_a_run_is_not_in_this_process(writable: Writable) -> None:
    settings = load(writable.config)
    ledger = open_ledger(settings.harvest.ledger)
    try:
        run_id = ledger.start_run("csw")  # as another process's harvest would
    finally:
        ledger.close()
    refused = writable.call("POST", f"/runs/{run_id}/cancel")
    assert refused.status_code == 409 and "not running in this server process" in refused.json()["error"]
