"""The query editor in a real browser (headless Chromium via Playwright, Debian's binary): YASGUI loads
from our own static files (no request leaves 127.0.0.1), opens an example from the gallery, runs it
against the endpoint and shows the rows; a shared /sparql?query= link opens with that query."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import pytest

from endpoint.sparql_editor import examples

from tests.support import chromium, live_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live(built_kb):
    from endpoint import create_app, sparql

    app = create_app(built_kb.settings.replace(rate_limit=0), kb=built_kb)
    with live_server(app) as url:
        yield url
    sparql.close(app)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium-sparql"), width=1280, height=1000) as context:
        yield context


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
    page.get_by_role("button", name="Insert the project's prefixes").click()
    with_prefixes = _editor_text(page)
    assert "PREFIX geo: <http://www.w3.org/2003/01/geo/wgs84_pos#>" in with_prefixes
    assert with_prefixes.count("PREFIX dsi:") == 1
    page.locator(".yasqe_queryButton").click()
    page.wait_for_selector(".yasr table tbody tr")
    assert page.locator(".yasr table tbody tr").count() == 7
    page.close()
