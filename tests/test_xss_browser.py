"""Stored XSS through links: an accepted submission whose IRIs use `javascript:` (or any scheme other
than http, https and mailto) must not become a link anywhere, and the Content-Security-Policy stops
script that slips through.

The accepted submission is written into its own submission graph of a small real store (what
moderation's accept does); the pages are read as HTML by Flask's test client and clicked through in
a real browser (headless Chromium on a live server on 127.0.0.1).
"""

from __future__ import annotations

import gc
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pyoxigraph as ox
import pytest

from tests.test_submissions import BASE, small_store

from tests.support import ARTIFACTS, live_server

EVIL = BASE + "id/organisation/evil-links"
PAGE = "/page/organisation/evil-links"
PARTNER = BASE + "id/project/evil-partner"
# one javascript: IRI (spelt a different way each time) under each predicate the pages render
PREDICATES = {
    "http://www.w3.org/2000/01/rdf-schema#seeAlso": "javascript:alert(1)",
    "http://www.w3.org/2002/07/owl#sameAs": "JaVaScRiPt:alert(2)",
    "https://schema.org/url": "javascript:alert(3)",
    "http://xmlns.com/foaf/0.1/homepage": "javascript:alert(document.domain)",
    BASE + "def/dsi#website": "javascript:alert(5)",
    "http://purl.org/dc/terms/source": "javascript://example.org/%0aalert(6)",
    "http://www.w3.org/2004/02/skos/core#closeMatch": "javascript:alert(7)",
    "http://www.w3.org/2004/02/skos/core#exactMatch": "vbscript:alert(8)",
    BASE + "def/dsi#country": "javascript:alert(9)",
    "http://purl.org/dc/terms/license": "javascript:alert(10)",
}


def evil_quads(kb) -> list[ox.Quad]:
    """The accepted submission: an organisation with javascript: values, a javascript: property and a
    javascript: subject that links to it (shown under "linked from")."""
    g = ox.NamedNode(kb.graphs.submission("evil"))
    s = ox.NamedNode(EVIL)
    quads = [ox.Quad(s, ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
                     ox.NamedNode(BASE + "def/dsi#Organisation"), g),
             ox.Quad(s, ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label"), ox.Literal("Evil links"), g),
             ox.Quad(s, ox.NamedNode("javascript:alert(11)"), ox.Literal("a javascript: property"), g),
             ox.Quad(ox.NamedNode("javascript:alert(12)"), ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#seeAlso"), s, g),
             ox.Quad(ox.NamedNode("javascript:alert(13)"), ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label"),
                     ox.Literal("Evil subject"), g)]
    quads += [ox.Quad(s, ox.NamedNode(p), ox.NamedNode(o), g) for p, o in PREDICATES.items()]
    return quads


@pytest.fixture(scope="module")
def evil_kb(tmp_path_factory):
    kb = small_store(tmp_path_factory.mktemp("xss") / "store")
    kb.add_quads(evil_quads(kb))
    kb.bump()
    kb.flush()
    yield kb
    del kb
    gc.collect()


class Links(HTMLParser):
    """Every URL-valued attribute of a page, and every inline script or event handler."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("href", "src", "action", "formaction"):
            if attrs.get(name) is not None:
                self.urls.append(attrs[name])
        self.inline += [f"{tag} {n}" for n in attrs if n.startswith("on")]
        if tag == "script" and "src" not in attrs and attrs.get("type") not in ("application/json", "application/ld+json"):
            self.inline.append("inline <script>")


def parse(html: str) -> Links:
    links = Links()
    links.feed(html)
    return links


# -- the decision itself -----------------------------------------------------------------------------
@pytest.mark.parametrize("value", [
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)",
    "java\nscript:alert(1)", "\x01javascript:alert(1)", "javascript\x00:alert(1)", "vbscript:x",
    "data:text/html,<script>alert(1)</script>", "file:///etc/passwd", "ftp://files.example.org/",
    "urn:isbn:0451450523", "jav&#x09;ascript:alert(1)", "//evil.example/x", "/\\evil.example", "", None,
    "relative/path", "\u2028javascript:alert(1)",
])
def test_unsafe_values_are_no_link_target(value):
    from endpoint.pages import link_target

    assert link_target(value) is None


@pytest.mark.parametrize("value, expected", [
    ("https://example.org/", "https://example.org/"), ("http://example.org/a?b#c", "http://example.org/a?b#c"),
    ("HTTPS://EXAMPLE.ORG/", "HTTPS://EXAMPLE.ORG/"), ("mailto:a@example.org", "mailto:a@example.org"),
    ("/page/organisation/nesta", "/page/organisation/nesta"), (" https://example.org/ ", "https://example.org/"),
])
def test_web_addresses_and_local_paths_are_link_targets(value, expected):
    from endpoint.pages import link_target

    assert link_target(value) == expected


# -- the submission path refuses them (shapes/dsi-shapes.ttl dsish:WebAddresses) -----------------------
@pytest.mark.parametrize("predicate", [p for p in PREDICATES if not p.endswith("#country")])
def test_a_submission_with_a_javascript_iri_is_refused(evil_kb, predicate):
    from tests.support import make_app

    client = make_app(evil_kb).test_client()
    ttl = (f"@prefix dsi: <{BASE}def/dsi#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
           f"[] a dsi:Organisation ; rdfs:label \"Script Kiddies\" ; dsi:country <{BASE}id/place/united-kingdom> ;\n"
           f"   <{predicate}> <jAvAsCrIpT:alert(1)> .")
    r = client.post("/api/submissions", data=ttl, content_type="text/turtle", headers={"Accept": "application/json"})
    assert r.status_code == 422, r.get_data(as_text=True)
    assert "web address" in r.get_data(as_text=True) or "http" in r.get_data(as_text=True)


# -- the pages as HTML ---------------------------------------------------------------------------------
def test_entity_page_makes_no_link_of_a_javascript_iri(evil_kb):
    from tests.support import make_app

    client = make_app(evil_kb).test_client()
    r = client.get(PAGE, headers={"Accept": "text/html"})
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    links = parse(html)
    bad = [u for u in links.urls if (urlsplit(u.strip()).scheme or "http").lower() not in ("http", "https", "mailto")]
    assert bad == [], bad
    assert links.inline == []
    for value in PREDICATES.values():  # still shown, as text
        assert value.replace("&", "&amp;") in html or value.split(":", 1)[1] in html
    # nor does the schema.org description for search engines give it as the url
    import json
    import re

    schema = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1))
    assert "url" not in schema and "javascript" not in json.dumps(schema.get("sameAs", [])).lower()
    # the javascript: subject that links here is listed, as text
    assert "Evil subject" in html or "javascript:alert(12)" in html


def test_no_page_has_inline_script_or_handlers(evil_kb):
    from tests.support import make_app

    client = make_app(evil_kb).test_client()
    for path in ("/", PAGE, "/submit", "/sparql", "/browse/organisation", "/search?q=evil", "/dumps/",
                 "/page/organisation/nesta", "/submit/withdraw?entity=" + EVIL):
        r = client.get(path, headers={"Accept": "text/html"})
        assert r.status_code == 200, path
        links = parse(r.get_data(as_text=True))
        assert links.inline == [], (path, links.inline)
        assert not [u for u in links.urls if u.strip().lower().startswith("javascript:")], path


# -- in a real browser -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def live(evil_kb):
    from endpoint import create_app, sparql

    app = create_app(evil_kb.settings.replace(rate_limit=0), kb=evil_kb)
    with live_server(app) as url:
        yield url
    sparql.close(app)


@pytest.mark.browser
def test_clicking_every_link_of_the_page_runs_no_script(live, browser):
    dialogs: list[str] = []
    page = browser.new_page()
    page.set_default_timeout(10_000)
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(live + PAGE)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "xss-entity-page.png"), full_page=True)
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    assert hrefs and not [h for h in hrefs if "script:" in h.lower()], hrefs
    count = page.locator("main a").count()
    assert count > 3
    for i in range(count):  # each link clicked on a freshly loaded page
        page.goto(live + PAGE)
        link = page.locator("main a").nth(i)
        href = link.get_attribute("href") or ""
        if href.lower().startswith(("http://", "https://", "mailto:")):  # outside links: stay on this machine
            link.evaluate("a => a.addEventListener('click', e => e.preventDefault())")
        link.click()
        page.wait_for_timeout(150)  # a dialog, were there one, is reported in this time
        page.wait_for_load_state()
    # and script injected through a value would be refused by the CSP: an inline handler does not run
    page.goto(live + PAGE)
    page.evaluate("() => { const a = document.createElement('a'); a.href = 'javascript:alert(99)';"
                  " a.id = 'injected'; a.textContent = 'x'; document.body.appendChild(a); }")
    page.click("#injected", no_wait_after=True)
    page.wait_for_timeout(200)
    assert dialogs == []
    page.close()


@pytest.mark.browser
def test_pages_work_under_the_csp_without_violations(live, browser):
    """The editor, the form and an entity page load their scripts from /static/ and break no rule of
    the Content-Security-Policy (Chromium logs every refused script or style on the console)."""
    messages: list[str] = []
    page = browser.new_page()
    page.set_default_timeout(15_000)
    page.on("console", lambda m: messages.append(m.text))
    page.on("pageerror", lambda e: messages.append(str(e)))
    page.goto(live + "/sparql?query=" + "SELECT%20%3Fs%20%3Fl%20WHERE%20%7B%3Fs%20rdfs%3Alabel%20%3Fl%7D%20LIMIT%205")
    page.wait_for_selector(".yasqe .CodeMirror")
    # a query given in the address runs by itself (a click now would abort it): wait for its rows
    page.wait_for_selector(".yasr table tbody tr")
    page.get_by_role("button", name="Insert the project's prefixes").click()
    assert "PREFIX dsi:" in page.evaluate("() => window.dsikbYasgui.getTab().getQuery()")
    page.goto(live + "/submit")
    page.check("input[name=type][value=organisation]")
    assert page.locator(".for-project").is_hidden()
    page.check("input[name=type][value=project]")
    assert page.locator(".for-organisation").is_hidden() and page.locator(".for-project").is_visible()
    page.fill("#partner-search", "nes")
    page.locator("#partner-results button", has_text="Nesta").click()
    assert "Nesta" in page.inner_text("#partner-list")
    page.goto(live + PAGE)
    page.goto(live + "/page/organisation/nesta")
    csp = [m for m in messages if "Content Security Policy" in m]
    assert csp == [], csp
    page.close()
