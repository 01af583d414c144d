"""The portal (``api.portal``): the search and record pages people use, on the real demo records.

Two kinds of tests: the WSGI app through werkzeug's test client (status codes, content negotiation at
``/``, error pages, what the pages say and link to), and Debian's chromium driven by Playwright against
a live server (search, facet, drawing a box, record page, paging, language, back button), writing a
screenshot of every step under ``test-artifacts/portal/``. The browser tests need ``/usr/bin/chromium``
(``apt-get install chromium``; ``.ci/run`` installs it) and fail, not skip, without it.

The portal must mean what the API means: a page's results are compared with the API's answer to the
same search (the page's own ``rel=alternate`` link).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import lxml.html
import msgspec
import pytest
import requests
from werkzeug.test import Client

from api.portal import snippet
from api.portal_messages import LANGUAGES, MESSAGES
from api.server import create_app
from catalogue import jsonld
from catalogue.record import Link, Record
from harvester.enrich import Enricher
from tests.fixtures.api_server import REPO_ROOT, demo_catalogue, demo_records, serving
from tests.fixtures.browser import chromium, english_tab, screenshot
from thesaurus import Thesaurus

BASE = "http://portal.test"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
OGC_CATALOG = "http://www.opengis.net/def/rel/ogc/1.0/ogc-catalog"
ARTIFACTS = REPO_ROOT / "test-artifacts" / "portal"
TRANSLATED = "demo.6ae23528-500c-4ede-a825-e45cb4b0f8a9"  # "Chlorophylle" (fr), "Chlorophyll" (en)
LEAFLET = "/static/portal/vendor/leaflet"


THEMES = "https://w3id.org/data-terra/thesaurus/"
# Enough vocabularies to place the demo records under Data Terra themes (the demo loads more).
THESAURI = [
    REPO_ROOT / "config" / "thesauri" / name
    for name in (
        "data-terra.ttl",
        "gcmd-freeze__sciencekeywords.rdf",
        "geonetwork__httpinspireeceuropaeutheme-theme.rdf",
        "sextant-gn__odatis_thematiques.rdf",
    )
]


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Record]:
    """The demo records as a harvest indexes them: with their concepts, Data Terra themes and FAIR rating."""
    thesaurus = Thesaurus.load(THESAURI, cache_dir=tmp_path_factory.mktemp("thesauri"))
    enricher = Enricher(thesaurus)
    return {key: enricher.enrich(record)[0] for key, record in demo_records().items()}


@pytest.fixture(scope="module")
def settings(records: dict[str, Record], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return demo_catalogue(tmp_path_factory.mktemp("portal"), records)


@pytest.fixture(scope="module")
def client(settings: dict[str, Any]) -> Client:
    return Client(create_app(settings, BASE))


def page(client: Client, url: str, status: int = 200, **headers: str) -> lxml.html.HtmlElement:
    """The portal page at ``url`` as a browser asks for it, parsed."""
    response = client.get(url, headers={**BROWSER, **headers})
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    return lxml.html.fromstring(response.get_data(as_text=True))


def api_answer(client: Client, href: str) -> dict[str, Any]:
    """What the API answers at ``href`` (an absolute link the portal gave)."""
    parts = urlsplit(href)
    assert f"{parts.scheme}://{parts.netloc}" == BASE
    response = client.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return json.loads(response.get_data())


def alternate(html: lxml.html.HtmlElement, media_type: str = "application/geo+json") -> str:
    return html.xpath(f'//head/link[@rel="alternate"][@type="{media_type}"]/@href')[0]


def matched(html: lxml.html.HtmlElement) -> int:
    return int(html.xpath('//p[@class="matched"]/@data-matched')[0])


def result_ids(html: lxml.html.HtmlElement) -> list[str]:
    return html.xpath('//li[@class="result"]/@data-id')


# --- content negotiation at / ----------------------------------------------------------------------


def test_browsers_get_the_portal_at_the_root(client: Client) -> None:
    html = page(client, "/")
    assert html.xpath('//form[@role="search"]/@action') == ["/"]
    assert html.xpath("//title/text()") == ["Data Terra catalogue"]


@pytest.mark.parametrize(
    ("url", "accept"),
    [
        ("/", "application/json"),
        ("/", "*/*"),
        ("/", ""),
        ("/?f=json", BROWSER["Accept"]),
        ("/?q=sea", "application/json"),
    ],
)
def test_machines_get_the_ogc_api_landing_page_at_the_root(client: Client, url: str, accept: str) -> None:
    response = client.get(url, headers={"Accept": accept})
    assert response.status_code == 200
    landing = response.get_json()
    assert landing["title"] == "Data Terra catalogue"
    assert {link["rel"] for link in landing["links"]} >= {"conformance", "data", "service-desc"}
    assert "Accept" in response.headers["Vary"]


def test_f_html_at_the_root_is_pygeoapis_landing_page(client: Client) -> None:
    response = client.get("/?f=html", headers=BROWSER)
    assert response.status_code == 200
    html = lxml.html.fromstring(response.get_data(as_text=True))
    assert not html.xpath('//form[@role="search"]')
    assert html.xpath('//a[contains(@href, "/conformance")]')
    assert "Accept" in response.headers["Vary"]


# --- the search page -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/?q=climate",
        "/?q=sea%20surface,chlorophyll",
        "/?pole=ODATIS",
        "/?type=series",
        "/?bbox=-10,35,30,60",
        "/?bbox=170,-50,-170,0",
        "/?datetime=2010-01-01/2020-12-31",
        "/?sortby=title",
        "/?sortby=-updated&pole=ForM@Ter",
        "/?limit=5&offset=5",
    ],
)
def test_results_are_the_apis_for_the_same_search(client: Client, url: str) -> None:
    html = page(client, url)
    answer = api_answer(client, alternate(html))
    assert matched(html) == answer["numberMatched"]
    assert result_ids(html) == [feature["id"] for feature in answer["features"]]
    titles = html.xpath('//li[@class="result"]//h3/a/text()')
    assert titles == [english_title(feature) for feature in answer["features"]]


def english_title(feature: dict[str, Any]) -> str:
    """A record's title as the English pages show it: its English translation, else its own."""
    properties = feature["properties"]
    return properties.get("translations", {}).get("en", {}).get("title") or properties["title"]


def test_a_search_lists_title_pole_dates_and_a_snippet_with_the_words_marked(client: Client) -> None:
    html = page(client, "/?q=climate")
    first = html.xpath('//li[@class="result"]')[0]
    assert first.xpath(".//h3/a/text()") == ["CE0911 Climate Change Survey"]
    assert first.xpath('.//span[@class="pole"]/text()') == ["ODATIS"]
    assert first.xpath('.//span[@class="dates"]/text()') == ["2009-06-14 – 2009-06-22"]
    assert [mark.text.lower() for mark in first.xpath('.//p[@class="snippet"]/mark')] == [
        "climate",
        "climate",
    ]
    href = first.xpath(".//h3/a/@href")[0]
    assert href.startswith("/records/demo.") and href.endswith("?lang=en")


def test_every_portal_link_keeps_the_language(client: Client) -> None:
    html = page(client, "/?q=climate&lang=fr")
    local = [
        href for href in html.xpath("//a/@href") if href.startswith("/") and not href.startswith("/static")
    ]
    assert local
    assert all(parse_qs(urlsplit(href).query).get("lang") in (["fr"], ["en"]) for href in local)
    assert html.xpath('//a[@class="lang-switch"]/@href') == ["/?q=climate&lang=en"]


def test_paging_links_keep_the_search_and_move_the_offset(client: Client) -> None:
    html = page(client, "/?pole=ForM@Ter&limit=5")
    assert matched(html) == 20
    assert html.xpath('//nav[@class="paging"]//a[@rel="prev"]') == []
    next_url = html.xpath('//nav[@class="paging"]//a[@rel="next"]/@href')[0]
    assert parse_qs(urlsplit(next_url).query) == {
        "pole": ["ForM@Ter"],
        "limit": ["5"],
        "offset": ["5"],
        "lang": ["en"],
    }
    second = page(client, next_url)
    assert second.xpath('//ol[@class="result-list"]/@start') == ["6"]
    assert not set(result_ids(second)) & set(result_ids(html))
    previous = second.xpath('//nav[@class="paging"]//a[@rel="prev"]/@href')[0]
    assert "offset" not in parse_qs(urlsplit(previous).query)  # the first page has one URL
    last = page(client, "/?pole=ForM@Ter&limit=5&offset=15")
    assert last.xpath('//nav[@class="paging"]//a[@rel="next"]') == []
    assert last.xpath('//span[@class="page-of"]/text()') == ["Page 4 of 4"]


def test_active_filters_are_chips_that_remove_themselves(client: Client) -> None:
    html = page(client, "/?q=sea&pole=ODATIS&bbox=-20,30,20,60&offset=0&lang=en")
    chips = {chip.get("data-filter"): chip.get("href") for chip in html.xpath('//a[@class="chip"]')}
    assert set(chips) == {"q", "bbox", "pole"}
    assert parse_qs(urlsplit(chips["pole"]).query) == {"q": ["sea"], "bbox": ["-20,30,20,60"], "lang": ["en"]}
    assert parse_qs(urlsplit(chips["q"]).query) == {
        "bbox": ["-20,30,20,60"],
        "pole": ["ODATIS"],
        "lang": ["en"],
    }
    # the search form keeps the facet filter while the words change
    assert html.xpath('//form[@role="search"]//input[@name="pole"]/@value') == ["ODATIS"]


def test_the_pole_facet_counts_what_each_of_its_links_finds(
    client: Client, records: dict[str, Record]
) -> None:
    html = page(client, "/")
    buckets = html.xpath('//section[@data-facet="pole"]//li/a')
    counts = {a.get("data-value"): int(a.getnext().text) for a in buckets}
    poles: dict[str, int] = {}
    for record in records.values():
        poles[record.pole or ""] = poles.get(record.pole or "", 0) + 1
    assert counts == poles
    for link in buckets:
        refined = page(client, link.get("href"))
        assert matched(refined) == counts[link.get("data-value")]
        assert refined.xpath('//a[@class="chip"]/@data-filter') == ["pole"]
        assert refined.xpath('//section[@data-facet="pole"]//li[@class="active"]/a/@data-value') == [
            link.get("data-value")
        ]


def test_the_theme_facet_is_a_tree_of_compartments_and_their_themes(
    client: Client, records: dict[str, Record]
) -> None:
    html = page(client, "/?lang=fr")
    facet = html.xpath('//section[@data-facet="theme"]')[0]
    compartments = facet.xpath("./ul/li/a")
    assert compartments, "the demo records are placed under Data Terra themes"
    nested = facet.xpath("./ul/li/ul/li/a")
    assert nested, "themes sit under their compartment"
    land = facet.xpath(f'./ul/li[a/@data-value="{THEMES}land-surfaces"]')[0]
    assert land.xpath("a/text()") == ["Surfaces continentales"]
    under_land = land.xpath("ul/li/a/@data-value")
    assert f"{THEMES}land-use" in under_land
    for value in [*under_land, f"{THEMES}land-surfaces"]:
        placed = [r for r in records.values() if any(value in (c.uri, *c.ancestors) for c in r.concepts)]
        assert int(facet.xpath(f'.//a[@data-value="{value}"]/../span[@class="count"]/text()')[0]) == len(
            placed
        )
    theme = facet.xpath(f'.//a[@data-value="{THEMES}land-use"]')[0]
    refined = page(client, theme.get("href"))
    assert parse_qs(urlsplit(theme.get("href")).query)["theme"] == [f"{THEMES}land-use"]
    assert matched(refined) == int(theme.getnext().text)
    assert refined.xpath('string(//a[@class="chip"][@data-filter="theme"])').split() == [
        "Thème:",
        "Usage",
        "des",
        "sols",
        "×",
    ]
    assert matched(refined) == api_answer(client, alternate(refined))["numberMatched"]


def test_fair_levels_and_resource_types_are_in_words(client: Client) -> None:
    for lang in LANGUAGES:
        html = page(client, f"/?lang={lang}")
        levels = html.xpath('//section[@data-facet="fair_level"]//a')
        assert levels
        assert all(a.text == MESSAGES[lang][f"fair_{a.get('data-value')}"] for a in levels)
        types = html.xpath('//section[@data-facet="type"]//a')
        assert {a.text for a in types} == {MESSAGES[lang][f"type_{a.get('data-value')}"] for a in types}


def test_pages_carry_autodiscovery_links(client: Client) -> None:
    for html in (page(client, "/?q=sea"), page(client, f"/records/{TRANSLATED}")):
        catalogs = html.xpath(f'//head/link[@rel="{OGC_CATALOG}"]/@href')
        assert catalogs == [f"{BASE}/collections/catalogue/items", f"{BASE}/collections/catalogue"]
        assert api_answer(client, alternate(html))
    search = page(client, "/?q=sea")
    assert parse_qs(urlsplit(alternate(search, "application/ld+json")).query)["f"] == ["jsonld"]


# --- bad requests: a friendly page, never a 500 -----------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field", "said"),
    [
        ("bbox=1,2", "bbox", "bbox must have 4 or 6"),
        ("bbox=west,south,east,north", "bbox", "bbox must be numbers"),
        ("bbox=0,50,10,40", "bbox", "south"),
        ("bbox=0,0,200,10", "bbox", "longitudes"),
        ("datetime=yesterday", "datetime", "RFC 3339"),
        ("datetime=2020-01-01/2019-01-01", "datetime", "starts after it ends"),
        ("sortby=colour", None, "cannot sort by"),
        ("limit=0", None, "limit must be between"),
        ("limit=1000", None, "limit must be between 1 and 100"),
        ("offset=-1", None, "offset"),
        ("offset=many", None, "whole number"),
    ],
)
def test_a_bad_parameter_is_a_400_page_that_says_what_to_fix(
    client: Client, query: str, field: str | None, said: str
) -> None:
    for lang in LANGUAGES:
        html = page(client, f"/?q=sea&{query}&lang={lang}", status=400)
        alert = html.xpath('//section[@role="alert"]')[0]
        assert alert.xpath("h1/text()") == [MESSAGES[lang]["error_title"]]
        assert said in alert.xpath('string(.//p[@class="error-message"])')
        # the form is there again, filled in as sent, to correct it
        assert html.xpath('//form[@role="search"]//input[@name="q"]/@value') == ["sea"]
        if field:
            sent = parse_qs(query)[field][0]
            assert html.xpath(f'//form[@role="search"]//input[@name="{field}"]/@value') == [sent]


def test_unknown_addresses_are_404_pages(client: Client) -> None:
    for url in (
        "/records/no-such-record",
        "/records/a/b",
        f"{LEAFLET}/nothing.js",
        "/static/portal/../portal.py",
    ):
        html = page(client, url, status=404)
        assert html.xpath("//h1/text()") == ["Page not found"]
    assert client.get("/static/portal/%2e%2e/portal.py").status_code == 404


def test_the_portal_serves_leaflet_from_its_static_files(client: Client) -> None:
    script = client.get(f"{LEAFLET}/leaflet.js")
    assert script.status_code == 200
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert b"Leaflet 1.9.4" in script.get_data()[:200]
    assert client.get(f"{LEAFLET}/leaflet.css").headers["Content-Type"].startswith("text/css")
    assert client.get(f"{LEAFLET}/images/marker-icon.png").headers["Content-Type"] == "image/png"
    html = page(client, "/")
    assert html.xpath("//script/@src") == [f"{LEAFLET}/leaflet.js", "/static/portal/portal.js"]
    assert not [
        src
        for src in html.xpath("//@src | //link/@href")
        if src.startswith("http") and "portal.test" not in src
    ]


# --- record pages ----------------------------------------------------------------------------------


def test_a_record_page_shows_the_record_with_its_json_ld(client: Client, records: dict[str, Record]) -> None:
    record = records["demo.ie.marine.data-dataset.1135-2c5c4594ca"]
    html = page(client, f"/records/{record.id}")
    assert html.xpath("//h1/text()") == [record.title.text]
    scripts = html.xpath('//head/script[@type="application/ld+json"]/text()')
    assert len(scripts) == 1
    assert json.loads(scripts[0]) == jsonld.document(record, f"{BASE}/collections/catalogue/items/")
    shown = html.text_content()
    for value in (record.native_id, record.abstract.text, *(k.label for k in record.keywords)):
        assert value in shown
    for link in record.links:
        assert html.xpath(f'//section[@class="data-links"]//a[@href="{link.url}"]')
    item = f"{BASE}/collections/catalogue/items/{record.id}"
    machine = html.xpath('//section[@class="machine"]//a/@href')
    assert machine == [f"{item}?f=json", f"{item}?f=jsonld", f"{item}?f=html"]
    assert api_answer(client, machine[0])["id"] == record.id


def test_a_record_page_is_in_the_language_asked(client: Client) -> None:
    assert page(client, f"/records/{TRANSLATED}?lang=en").xpath("//h1/text()") == ["Chlorophyll"]
    french = page(client, f"/records/{TRANSLATED}?lang=fr")
    assert french.xpath("//h1/text()") == ["Chlorophylle"]
    assert french.xpath("//html/@lang") == ["fr"]
    assert french.xpath('//section[@class="machine"]/h2/text()') == [MESSAGES["fr"]["machine"]]
    by_browser = page(client, f"/records/{TRANSLATED}", **{"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"})
    assert by_browser.xpath("//h1/text()") == ["Chlorophylle"]


def test_an_address_that_is_not_a_link_is_never_an_href(
    client: Client, records: dict[str, Record], tmp_path: Path
) -> None:
    record = records[TRANSLATED]
    unsafe = msgspec.structs.replace(
        record,
        links=[*record.links, Link(url="javascript:alert(1)", name="click me"), Link(url="www.example.org")],
    )
    app = Client(create_app(demo_catalogue(tmp_path, {record.id: unsafe}), BASE))
    html = page(app, f"/records/{record.id}")
    assert not html.xpath('//a[starts-with(@href, "javascript")] | //a[@href="www.example.org"]')
    assert "www.example.org" in html.xpath('string(//section[@class="data-links"])')
    assert "click me" in html.xpath('string(//section[@class="data-links"])')


# --- pieces ----------------------------------------------------------------------------------------


def test_both_languages_have_every_string() -> None:
    assert set(MESSAGES) == set(LANGUAGES)
    assert set(MESSAGES["en"]) == set(MESSAGES["fr"])


def test_a_snippet_marks_the_words_and_escapes_the_text() -> None:
    text = "Sea <b>surface</b> temperature " + "filler words " * 40 + "and the sea again"
    short = str(snippet(text, ["sea"], size=60))
    assert short.startswith("<mark>Sea</mark> &lt;b&gt;surface&lt;/b&gt;") and short.endswith("…")
    late = str(snippet("words " * 100 + "chlorophyll here", ["chlorophyll"], size=60))
    assert late.startswith("…") and "<mark>chlorophyll</mark> here" in late


# --- in Debian's chromium -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(settings: dict[str, Any]) -> Iterator[str]:
    with serving(settings) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium("the portal's browser tests") as opened:
        yield opened


@pytest.fixture
def tab(browser: Any) -> Iterator[Any]:
    with english_tab(browser, width=1280) as opened:
        yield opened


def shot(tab: Any, name: str) -> None:
    screenshot(tab, ARTIFACTS, name)


def shown_matched(tab: Any) -> int:
    return int(tab.locator("p.matched").get_attribute("data-matched"))


def api_matched(tab: Any) -> int:
    href = tab.locator('head link[rel="alternate"][type="application/geo+json"]').get_attribute("href")
    return requests.get(href, timeout=30).json()["numberMatched"]


def params(tab: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(tab.url).query)


def test_search_facet_box_record_and_back_in_chromium(live: str, tab: Any) -> None:
    tab.goto(f"{live}/")
    assert tab.locator("html").get_attribute("lang") == "en"
    everything = shown_matched(tab)
    assert everything == api_matched(tab) > 10
    assert tab.locator("#draw-box").is_visible()  # the map's script ran
    assert tab.locator("#map .leaflet-pane").count() > 0
    shot(tab, "01-home")

    tab.fill("#q", "data")
    tab.press("#q", "Enter")
    tab.wait_for_url(re.compile(r"q=data"))
    assert params(tab) == {"q": ["data"], "lang": ["en"]}  # empty fields stay out of the URL
    searched = shown_matched(tab)
    assert 0 < searched == api_matched(tab) < everything
    shot(tab, "02-search")

    facet = tab.locator('section[data-facet="pole"] li a').first
    value, count = facet.get_attribute("data-value"), int(facet.locator("xpath=../span").inner_text())
    facet.click()
    tab.wait_for_url(re.compile(r"pole="))
    assert params(tab)["pole"] == [value]
    assert shown_matched(tab) == count == api_matched(tab)
    assert tab.locator('a.chip[data-filter="pole"]').is_visible()
    shot(tab, "03-facet")
    refined = tab.url

    tab.click('a.chip[data-filter="q"]')  # widen again before drawing: the box then has records to find
    tab.wait_for_url(lambda url: "q=" not in url)
    before_box = shown_matched(tab)
    tab.click("#draw-box")
    box = tab.locator("#map").bounding_box()
    tab.mouse.move(box["x"] + box["width"] * 0.1, box["y"] + box["height"] * 0.1)
    tab.mouse.down()
    tab.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5, steps=8)
    tab.mouse.up()
    tab.wait_for_url(re.compile(r"bbox="))
    west, south, east, north = map(float, params(tab)["bbox"][0].split(","))
    assert -180 <= west < east <= 180 and -90 <= south < north <= 90
    assert north > 0 and west < 0  # the upper left part of the world map
    assert params(tab)["pole"] == [value]
    assert tab.input_value("#bbox") == params(tab)["bbox"][0]
    assert 0 < shown_matched(tab) == api_matched(tab) <= before_box
    assert tab.locator('a.chip[data-filter="bbox"]').is_visible()
    shot(tab, "04-box")
    boxed = tab.url

    first = tab.locator("li.result h3 a").first
    title = first.inner_text()
    first.click()
    tab.wait_for_url(re.compile(r"/records/"))
    assert tab.locator("h1").inner_text() == title
    linked = json.loads(tab.locator('head script[type="application/ld+json"]').text_content())
    assert linked["@id"].endswith("/collections/catalogue/items/" + urlsplit(tab.url).path.split("/")[-1])
    assert "@context" in linked
    shot(tab, "05-record")

    tab.go_back()
    tab.wait_for_url(boxed)
    assert tab.input_value("#bbox") == params(tab)["bbox"][0]
    tab.go_back()
    tab.go_back()
    tab.wait_for_url(refined)
    assert tab.input_value("#q") == "data"
    assert shown_matched(tab) == count
    shot(tab, "06-back")


def test_paging_sorting_and_back_in_chromium(live: str, tab: Any) -> None:
    tab.goto(f"{live}/?limit=5")
    total = shown_matched(tab)
    first_page = tab.locator("li.result").evaluate_all("items => items.map(i => i.dataset.id)")
    shot(tab, "07-page-1")

    tab.click('nav.paging a[rel="next"]')
    tab.wait_for_url(re.compile(r"offset=5"))
    second_page = tab.locator("li.result").evaluate_all("items => items.map(i => i.dataset.id)")
    assert len(second_page) == 5 and not set(first_page) & set(second_page)
    assert tab.locator("ol.result-list").get_attribute("start") == "6"
    shot(tab, "08-page-2")

    tab.click('nav.paging a[rel="next"]')
    tab.wait_for_url(re.compile(r"offset=10"))
    assert shown_matched(tab) == total
    shot(tab, "09-page-3")

    tab.go_back()
    tab.wait_for_url(re.compile(r"offset=5"))
    assert tab.locator("li.result").evaluate_all("items => items.map(i => i.dataset.id)") == second_page
    shot(tab, "10-back-to-page-2")

    tab.select_option("#sortby", "title")  # applies itself
    tab.wait_for_url(re.compile(r"sortby=title"))
    assert "offset" not in params(tab)
    titles = tab.locator("li.result h3 a").all_inner_texts()
    expected = requests.get(
        f"{live}/collections/catalogue/items", params={"sortby": "title", "limit": 5}, timeout=30
    ).json()
    assert titles == [english_title(feature) for feature in expected["features"]]
    shot(tab, "11-sorted")


def test_switching_language_in_chromium(live: str, browser: Any) -> None:
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    try:
        tab = context.new_page()
        tab.goto(f"{live}/?q=chlorophyll")  # the browser's language decides
        assert tab.locator("html").get_attribute("lang") == "fr"
        assert tab.locator("form.search button[type=submit]").inner_text() == MESSAGES["fr"]["search"]
        assert "Chlorophylle" in tab.locator("li.result h3 a").all_inner_texts()
        shot(tab, "12-french")

        tab.click("a.lang-switch")
        tab.wait_for_url(re.compile(r"lang=en"))
        assert params(tab)["q"] == ["chlorophyll"]
        assert tab.locator("form.search button[type=submit]").inner_text() == MESSAGES["en"]["search"]
        assert "Chlorophyll" in tab.locator("li.result h3 a").all_inner_texts()
        tab.click("li.result h3 a >> text=Chlorophyll")
        tab.wait_for_url(re.compile(r"/records/.*lang=en"))
        assert tab.locator("h1").inner_text() == "Chlorophyll"
        shot(tab, "13-english-record")

        tab.click("a.lang-switch")
        tab.wait_for_url(re.compile(r"/records/.*lang=fr"))
        assert tab.locator("h1").inner_text() == "Chlorophylle"
        shot(tab, "14-french-record")
    finally:
        context.close()


def test_a_bad_area_typed_in_the_form_is_explained_in_chromium(live: str, tab: Any) -> None:
    tab.goto(f"{live}/?q=sea")
    tab.fill("#bbox", "10,50")
    with tab.expect_navigation() as navigation:
        tab.press("#bbox", "Enter")
    assert navigation.value.status == 400
    alert = tab.locator("section[role=alert]")
    assert alert.locator("h1").inner_text() == MESSAGES["en"]["error_title"]
    assert "bbox must have 4 or 6" in alert.inner_text()
    assert tab.input_value("#bbox") == "10,50"
    shot(tab, "15-bad-area")
