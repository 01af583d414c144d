"""The admin page (``api.admin_page``) over the admin API, on a real server over a real harvest of the
demo ISO 19139 records (some of which the crosswalk rejects): the page and its files are served without
a token and hold no data; in Debian's chromium (Playwright, as ``tests/test_portal.py``), a wrong token
is explained, the right one shows the sources, a run's rejected records and a run started with "Run
now". Screenshots of the steps are written under ``test-artifacts/admin/``."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lxml.html
import pytest
import requests
import yaml

from api import admin, admin_page
from api.cli import harvest
from api.settings import Settings, load
from tests.fixtures.api_server import REPO_ROOT, serving
from tests.fixtures.browser import chromium, english_tab, screenshot

TOKEN = "page-admin-token-for-the-tests"
ARTIFACTS = REPO_ROOT / "test-artifacts" / "admin"
PAGE = "/admin/page"


class Site:
    def __init__(self, settings: Settings, url: str, run_id: int, app: admin.AdminAPI):
        self.settings = settings
        self.url = url
        self.run_id = run_id
        self.app = app

    def api(self, path: str) -> Any:
        answer = requests.get(
            f"{self.url}/admin{path}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
        )
        assert answer.status_code == 200, answer.text
        return answer.json()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, demo_records: Path) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("admin-page")
    shutil.copytree(demo_records, folder / "records")
    config = {
        "store": {"backend": "sqlite", "path": str(folder / "catalogue.db")},
        "harvest": {"ledger": str(folder / "harvest.db")},
        "admin": {"tokens_env": ["TERRACAT_TEST_PAGE_ADMIN_TOKEN"]},
        "sources": [
            {
                "id": "demo",
                "pole": "ODATIS",
                "protocol": "directory",
                "path": "records",
                "format": "iso19139",
            },
            {
                "id": "nightly",
                "pole": "THEIA",
                "protocol": "csw",
                "url": "https://example.org/csw",
                "schedule": "0 3 * * *",
                "enabled": True,
            },
        ],
    }
    (folder / "terracat.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    settings = load(folder / "terracat.yaml")
    [summary] = harvest(settings, [settings.source("demo")])
    assert summary.status == "succeeded" and summary.counts["rejected"] > 0
    app = admin.AdminAPI(settings)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TERRACAT_TEST_PAGE_ADMIN_TOKEN", TOKEN)
        mounts = {"/admin": app, **admin_page.mounts()}
        with serving(settings.store, ledger=settings.harvest.ledger, mounts=mounts) as url:
            yield Site(settings, url, summary.run_id or 0, app)
            app.wait(60)


# --- served without a token, holding no data ------------------------------------------------------


def test_the_page_and_its_files_are_served_without_a_token_and_hold_no_data(site: Site) -> None:
    page = requests.get(f"{site.url}{PAGE}", timeout=30)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Referrer-Policy"] == "no-referrer"
    html = lxml.html.fromstring(page.text)
    assert html.get_element_by_id("admin").get("data-api") == "/admin"
    assert html.xpath('//input[@id="token"]/@type') == ["password"]
    # what the harvest put in the ledger and the index is nowhere in the page: the script asks the API
    indexed = site.api("/sources")["sources"][0]
    assert indexed["records"] > 0
    rejected = site.api(f"/runs/{site.run_id}/records?status=rejected")["records"]
    assert rejected and all(event["locator"] not in page.text for event in rejected)
    assert "data-source" not in page.text and TOKEN not in page.text
    assert requests.get(f"{site.url}{PAGE}/", timeout=30).text == page.text
    # its files: the script, its styles and the portal's, which it reuses
    static = REPO_ROOT / "api" / "static"
    files = {
        "/admin/page/static/admin.js": static / "admin" / "admin.js",
        "/admin/page/static/admin.css": static / "admin" / "admin.css",
        "/static/portal/portal.css": static / "portal" / "portal.css",
    }
    assert sorted([*html.xpath("//script/@src"), *html.xpath('//link[@rel="stylesheet"]/@href')]) == sorted(
        files
    )
    for path, file in files.items():
        answer = requests.get(f"{site.url}{path}", timeout=30)
        assert answer.status_code == 200, path
        assert answer.text == file.read_text(encoding="utf-8")
    script = requests.get(f"{site.url}/admin/page/static/admin.js", timeout=30).text
    assert "sessionStorage" in script and "Authorization" in script and "innerHTML" not in script


def test_the_page_is_outside_the_apis_routes(site: Site) -> None:
    assert requests.get(f"{site.url}{PAGE}/static/nothing.js", timeout=30).status_code == 404
    assert requests.get(f"{site.url}{PAGE}/static/..%2F..%2Fadmin.py", timeout=30).status_code == 404
    assert requests.get(f"{site.url}{PAGE}/sources", timeout=30).status_code == 404
    posted = requests.post(f"{site.url}{PAGE}", timeout=30)
    assert posted.status_code == 405 and posted.headers["Allow"] == "GET, HEAD"
    # the API itself still wants its token, beside the page
    assert requests.get(f"{site.url}/admin/sources", timeout=30).status_code == 401


def test_the_page_follows_a_proxys_prefix() -> None:
    from werkzeug.test import Client

    [(mount, app)] = admin_page.mounts().items()
    client = Client(app)
    answer = client.get("/", environ_overrides={"SCRIPT_NAME": f"/catalogue{mount}"})
    html = lxml.html.fromstring(answer.get_data(as_text=True))
    assert html.get_element_by_id("admin").get("data-api") == "/catalogue/admin"
    assert html.xpath("//script/@src") == ["/catalogue/admin/page/static/admin.js"]
    assert "/catalogue/static/portal/portal.css" in html.xpath('//link[@rel="stylesheet"]/@href')


# --- in Debian's chromium -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium("the admin page's browser tests") as opened:
        yield opened


@pytest.fixture
def tab(browser: Any) -> Iterator[Any]:
    with english_tab(browser, width=1400) as opened:
        yield opened


def shot(tab: Any, name: str) -> None:
    screenshot(tab, ARTIFACTS, name)


def test_token_sources_run_records_and_run_now_in_chromium(site: Site, tab: Any) -> None:
    from playwright.sync_api import expect

    requested: list[str] = []
    tab.on("request", lambda request: requested.append(request.url))
    tab.goto(f"{site.url}{PAGE}")
    expect(tab.locator("#message")).to_contain_text("Enter the admin token")
    shot(tab, "01-asks-for-a-token")

    # a wrong token: a clear message, nothing shown, the token not kept
    tab.fill("#token", "not-the-admin-token-at-all")
    tab.click("#token-form button[type=submit]")
    expect(tab.locator("#message")).to_contain_text("This token was refused (403)")
    expect(tab.locator("#message")).to_contain_text("Enter a valid admin token")
    assert tab.locator("#sources").is_hidden()
    assert tab.evaluate("sessionStorage.length") == 0
    shot(tab, "02-wrong-token")

    # the right one: the sources with their last run and counts, as the API has them
    tab.fill("#token", TOKEN)
    tab.click("#token-form button[type=submit]")
    demo = tab.locator('#sources tr[data-source="demo"]')
    expect(demo).to_be_visible()
    source = site.api("/sources/demo")
    last = source["last_run"]
    expect(demo.locator("td.records")).to_have_text(str(source["records"]))
    expect(demo.locator("td.last-run")).to_contain_text(f"{last['status']} run #{last['id']}")
    expect(demo.locator(".count-rejected")).to_have_text(f"rejected {last['counts']['rejected']}")
    expect(demo.locator(".count-added")).to_have_text(f"added {last['counts']['added']}")
    # its cron's next fire (03:00 UTC), as the API gives it
    next_run = site.api("/sources/nightly")["next_run"]
    assert next_run is not None and next_run.endswith("T03:00:00Z")
    shown = f"{next_run[:10]} 03:00:00 UTC"
    expect(tab.locator('#sources tr[data-source="nightly"] td.next-run')).to_contain_text(shown)
    expect(tab.locator('#sources tr[data-source="nightly"] td.last-run')).to_have_text("never run")
    assert tab.evaluate("sessionStorage.length") == 1
    assert all(TOKEN not in url for url in requested)  # never in a URL
    shot(tab, "03-sources")

    # a run's records: the rejected ones first, with their codes and messages
    demo.locator("button.open-run").click()
    run = tab.locator("#run")
    expect(run.locator("h2")).to_have_text(f"Run #{site.run_id} of demo")
    rejected = site.api(f"/runs/{site.run_id}/records?status=rejected&limit=1000")["records"]
    rows = run.locator("tbody tr")
    expect(rows.nth(len(rejected) - 1)).to_have_class(re.compile(r"\brejected\b"))
    expect(rows.nth(len(rejected))).not_to_have_class(re.compile(r"\brejected\b"))
    shown = [
        (rows.nth(i).locator("td.code").inner_text(), rows.nth(i).locator("td.message").inner_text())
        for i in range(len(rejected))
    ]
    assert shown == [(event["code"], event["message"] or "") for event in rejected]
    assert all(code for code, _ in shown)
    shot(tab, "04-run-records")

    # run now: a new run, shown in the runs table, then its records once it has ended
    before = {run["id"] for run in site.api("/runs?limit=1000")["runs"]}
    demo.locator("button.run-now").click()
    # the outcome stays on the page through the refreshes: "started", then how the run ended
    expect(tab.locator("#message")).to_contain_text(re.compile(r"Run #\d+ of demo (started|succeeded)\."))
    new = tab.locator("#runs tbody tr").first
    expect(new).not_to_have_attribute("data-run", str(site.run_id))
    new_id = int(new.get_attribute("data-run"))
    assert new_id not in before
    expect(run.locator("h2")).to_have_text(f"Run #{new_id} of demo", timeout=60_000)
    site.app.wait(60)
    ended = site.api(f"/runs/{new_id}")
    assert ended["status"] == "succeeded"
    expect(tab.locator("#message")).to_have_text(f"Run #{new_id} of demo succeeded.")
    expect(tab.locator('#sources tr[data-source="demo"] td.last-run')).to_contain_text(f"run #{new_id}")
    shot(tab, "05-run-now")

    # the token is forgotten on request
    tab.click("#forget")
    assert tab.evaluate("sessionStorage.length") == 0
    assert tab.locator("#sources").is_hidden()
