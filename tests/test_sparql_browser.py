"""The query editor in a real browser (headless Chromium via Playwright, Debian's binary): YASGUI loads
from our own static files (no request leaves 127.0.0.1), opens an example from the gallery, runs it
against the endpoint and shows the rows; a shared /sparql?query= link opens with that query."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import pytest

from endpoint.sparql_editor import examples

from tests.support import live_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live(built_kb):
    from endpoint import create_app, sparql

    app = create_app(built_kb.settings.replace(rate_limit=0), kb=built_kb)
    with live_server(app) as url:
        yield url
    sparql.close(app)


BROWSER_VIEWPORT = (1280, 1000)


def _editor_text(page) -> str:
    return page.evaluate("() => window.dsikbYasgui.getTab().getQuery()")


def test_editor_runs_an_example_and_shows_rows(browser, live, built_kb):
    hosts = set()
    page = browser.new_page()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).hostname))
    page.goto(live + "/sparql")
    page.wait_for_selector(".yasqe .CodeMirror")
    assert page.get_by_role("heading", level=1).inner_text() == "SPARQL query editor"
    example = next(e for e in examples() if e.name.startswith("06-"))
    card = page.locator(f"#example-{example.name}")
    assert card.get_by_role("heading").inner_text() == example.title
    card.get_by_role("button", name="Open in the editor").click()
    assert "dsi:Organisation" in _editor_text(page)
    page.locator(".yasqe_queryButton").click()
    page.wait_for_selector(".yasr table tbody tr")
    table = page.locator(".yasr").inner_text()
    top = built_kb.select(example.query)[0]
    assert top["country"].value in table
    assert str(top["organisations"].value) in table
    assert hosts <= {"127.0.0.1"}, f"the editor called other hosts: {hosts - {'127.0.0.1'}}"
    page.close()


def test_shared_link_opens_the_query(browser, live):
    query = "SELECT ?p WHERE { ?p a dsi:Project } LIMIT 7"
    page = browser.new_page()
    page.goto(live + "/sparql?query=" + quote(query), wait_until="load")
    page.wait_for_selector(".yasqe .CodeMirror")
    text = _editor_text(page)
    assert text.endswith(query) and "PREFIX dsi:" in text
    # the query in the address runs by itself; a click on the run button while it runs aborts it
    page.wait_for_selector(".yasr table tbody tr")
    page.get_by_role("button", name="Insert the project's prefixes").click()
    with_prefixes = _editor_text(page)
    assert "PREFIX geo: <http://www.w3.org/2003/01/geo/wgs84_pos#>" in with_prefixes
    assert with_prefixes.count("PREFIX dsi:") == 1
    page.locator(".yasqe_queryButton").click()
    page.wait_for_selector(".yasr table tbody tr")
    assert page.locator(".yasr table tbody tr").count() == 7
    page.close()


# -- pictures, shared links and /stats (issue 13) ------------------------------------------------------
import json  # noqa: E402
import urllib.request  # noqa: E402
from urllib.parse import urlencode  # noqa: E402

from kb.publish.figures import FIGURES  # noqa: E402
from tests.support import ARTIFACTS  # noqa: E402

COORDINATES = ("SELECT ?org ?label ?lat ?long WHERE { ?org a dsi:Organisation ; rdfs:label ?label ; "
               "geo:lat ?lat ; geo:long ?long } ORDER BY ?label LIMIT 30")
AGGREGATE = ("SELECT ?typeLabel (COUNT(DISTINCT ?org) AS ?organisations) WHERE { ?org a dsi:Organisation ; "
             "dsi:organisationType ?type . ?type skos:prefLabel ?typeLabel FILTER(LANG(?typeLabel) = 'en') } "
             "GROUP BY ?typeLabel ORDER BY DESC(?organisations)")


def _answer(live: str, query: str) -> list[dict]:
    """The endpoint's answer over HTTP (SPARQL JSON results): the bindings."""
    request = urllib.request.Request(live + "/sparql?" + urlencode({"query": query}),
                                     headers={"Accept": "application/sparql-results+json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)["results"]["bindings"]


def _shot(page, name: str, selector: str | None = None) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    (page.locator(selector) if selector else page).screenshot(path=str(ARTIFACTS / name))


def test_stats_charts_are_their_queries_answers(browser, live):
    page = browser.new_page()
    page.goto(live + "/stats")
    page.wait_for_function(f"() => window.dsikbCharts && Object.keys(window.dsikbCharts).length === {len(FIGURES)}")
    charts = page.evaluate("() => Object.fromEntries(Object.entries(window.dsikbCharts).map(([name, c]) => "
                           "[name, {labels: c.data.labels, series: c.data.datasets.map(d => d.data)}]))")
    for fig in FIGURES:
        rows = _answer(live, fig.query)
        assert charts[fig.name]["labels"] == [r[fig.label]["value"] for r in rows], fig.name
        assert charts[fig.name]["series"] == [[int(r[s]["value"]) for r in rows] for s in fig.series], fig.name
    _shot(page, "stats.png")
    page.close()


def test_a_figure_opens_in_the_editor_as_a_chart(browser, live):
    fig = next(f for f in FIGURES if f.name == "area")
    page = browser.new_page()
    page.goto(live + "/stats")
    page.locator("#area .open-in-editor").click()
    page.wait_for_function("() => window.dsikbEditorChart && window.dsikbEditorChart.data.labels.length > 0")
    assert _editor_text(page) == fig.query
    chart = page.evaluate("() => ({labels: window.dsikbEditorChart.data.labels, "
                          "series: window.dsikbEditorChart.data.datasets.map(d => [d.label, d.data])})")
    rows = _answer(live, fig.query)
    assert chart["labels"] == [r["label"]["value"] for r in rows]
    assert chart["series"] == [[s, [int(r[s]["value"]) for r in rows]] for s in fig.series]
    page.close()


def test_a_shared_fragment_link_opens_and_runs_its_query(browser, live):
    query = "SELECT ?p WHERE { ?p a dsi:Project } ORDER BY ?p LIMIT 7"
    page = browser.new_page()
    page.goto(live + "/sparql#query=" + quote(query, safe=""))
    page.wait_for_selector(".yasr table tbody tr")  # run without anyone pressing the button
    text = _editor_text(page)
    assert text.endswith(query) and "PREFIX dsi:" in text
    shown = page.locator(".yasr table tbody").inner_text()
    assert page.locator(".yasr table tbody tr").count() == 7
    first = _answer(live, query)[0]["p"]["value"].rsplit("/", 1)[-1]
    assert first in shown
    # the share button gives a link of the same form, which opens the same query elsewhere
    page.locator(".yasqe_share").click()
    link = page.locator(".yasqe_sharePopup input").input_value()
    assert link.startswith(live + "/sparql#query=")
    other = browser.new_page()
    other.goto(link)
    other.wait_for_selector(".yasr table tbody tr")
    assert _editor_text(other) == text and other.locator(".yasr table tbody tr").count() == 7
    other.close()
    page.close()


def test_an_entity_pages_query_link_runs_the_query(browser, live, built_kb):
    page = browser.new_page()
    page.goto(live + "/page/organisation/nesta")
    page.get_by_role("link", name="open the query in SPARQL").click()
    page.wait_for_selector(".yasr table tbody tr")
    assert "nesta" in _editor_text(page)
    assert page.locator(".yasr table tbody tr").count() > 5
    page.close()


def test_results_with_coordinates_show_on_a_map(browser, live):
    rows = _answer(live, COORDINATES)
    hosts = set()
    page = browser.new_page()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).hostname))
    page.goto(live + "/sparql#query=" + quote(COORDINATES, safe=""))
    page.wait_for_selector(".yasr table tbody tr")
    page.locator(".yasr .select_map").click()
    page.wait_for_selector("path.dsikb-marker")
    assert page.locator("path.dsikb-marker").count() == len(rows) == 30
    page.wait_for_function("() => document.querySelectorAll('.dsikb-plugin-map path').length > 30")  # borders
    page.locator("path.dsikb-marker").first.click(force=True)
    popup = page.locator(".leaflet-popup-content").inner_text()
    assert any(r["label"]["value"] in popup for r in rows)
    _shot(page, "editor-map.png", ".yasr")
    assert hosts <= {"127.0.0.1"}, f"the map called other hosts (tiles?): {hosts - {'127.0.0.1'}}"
    # #defaultView:Map opens the map straight away; a WKT point is a marker too
    wkt = ("#defaultView:Map\nSELECT ?place ?where WHERE { VALUES (?place ?where) { "
           "('Brussels' 'POINT(4.35 50.85)'^^<http://www.opengis.net/ont/geosparql#wktLiteral>) "
           "('Lisbon' 'Point(-9.14 38.72)'^^<http://www.opengis.net/ont/geosparql#wktLiteral>) } }")
    page.goto(live + "/sparql#query=" + quote(wkt, safe=""))
    page.wait_for_function("() => document.querySelectorAll('path.dsikb-marker').length === 2")
    page.close()


def test_counts_show_as_a_bar_chart(browser, live):
    rows = _answer(live, AGGREGATE)
    page = browser.new_page()
    page.goto(live + "/sparql#query=" + quote(AGGREGATE, safe=""))
    page.wait_for_selector(".yasr table tbody tr")
    page.locator(".yasr .select_chart").click()
    page.wait_for_function("() => window.dsikbEditorChart && window.dsikbEditorChart.data.labels.length > 0")
    chart = page.evaluate("() => [window.dsikbEditorChart.data.labels, window.dsikbEditorChart.data.datasets[0].data]")
    assert chart == [[r["typeLabel"]["value"] for r in rows], [int(r["organisations"]["value"]) for r in rows]]
    _shot(page, "editor-chart.png", ".yasr")
    page.close()
