"""A person in a real browser (headless Chromium): home, search, a result, an entity page, a facet.

Runs a live server on 127.0.0.1 over the built data and drives Debian's Chromium with Playwright
(``executable_path``; no downloaded browsers). Screenshots go to tests/artifacts/ (gitignored).
"""

from __future__ import annotations

import re
import unicodedata

import pytest

from tests.support import ARTIFACTS, counted_figures

pytestmark = pytest.mark.browser


A11Y = r"""() => {
  const problems = [];
  const one = (sel) => document.querySelectorAll(sel).length;
  if (!document.documentElement.lang) problems.push("no lang on <html>");
  if (one("h1") !== 1) problems.push(one("h1") + " h1 elements");
  for (const sel of ["header[role=banner]", "main", "nav", "footer[role=contentinfo]"])
    if (!one(sel)) problems.push("no " + sel);
  for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
    const labelled = (el.id && document.querySelector(`label[for="${el.id}"]`)) || el.getAttribute("aria-label");
    if (!labelled) problems.push("unlabelled " + el.outerHTML.slice(0, 60));
  }
  for (const img of document.querySelectorAll("img")) if (!img.hasAttribute("alt")) problems.push("img without alt");
  for (const a of document.querySelectorAll("a")) if (!a.textContent.trim() && !a.getAttribute("aria-label")) problems.push("empty link");
  const lum = (rgb) => {
    const c = rgb.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number).map(v => v / 255)
      .map(v => v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4));
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const bg = (el) => {
    for (; el; el = el.parentElement) {
      const c = getComputedStyle(el).backgroundColor;
      if (c && !c.startsWith("rgba(0, 0, 0, 0)") && c !== "transparent") return c;
    }
    return "rgb(255, 255, 255)";
  };
  for (const el of document.querySelectorAll("main a, main p, main li, main dt, main dd, main th, main td, .count, .muted, nav a, footer")) {
    if (!el.textContent.trim() || !el.offsetParent) continue;
    const [l1, l2] = [lum(getComputedStyle(el).color), lum(bg(el))].sort((a, b) => b - a);
    const ratio = (l1 + 0.05) / (l2 + 0.05);
    if (ratio < 4.5) { problems.push(`contrast ${ratio.toFixed(2)} on ${el.tagName}.${el.className}`); break; }
  }
  return problems;
}"""


def _shot(page, name: str) -> None:
    """Keep a screenshot, after checking what a screen-reader or low-vision reader needs."""
    assert page.evaluate(A11Y) == [], f"accessibility problems on {page.url}"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c)).lower()


def _first_org(built_kb) -> tuple[str, str]:
    """A public organisation that leads a project, and a distinctive word of its name."""
    rows = built_kb.select(
        "SELECT ?s ?l WHERE { ?s a dsi:Organisation ; dsi:leads ?p ; rdfs:label ?l "
        "FILTER NOT EXISTS { ?s dsi:hidden true } FILTER(STRLEN(?l) > 6) } ORDER BY ?l LIMIT 1")
    return rows[0]["s"].value, rows[0]["l"].value


def test_home_search_entity_and_facet(browser, app, live_url, built_kb):
    iri, label = _first_org(built_kb)
    counted_figures(app.test_client())  # the home page waits 3 s for the first count, then says it counts
    page = browser.new_page()
    page.goto(live_url + "/")
    assert page.title() == "DSI knowledge base"
    assert page.get_by_role("heading", level=1).inner_text().startswith("Digital Social Innovation")
    figures = page.locator(".figures li").first.inner_text()
    assert "organisations" in figures and figures.split()[0].replace(",", "").isdigit()
    _shot(page, "01-home")

    page.get_by_label("Find an organisation or project").fill(label)
    page.get_by_label("Find an organisation or project").press("Enter")
    page.wait_for_url("**/search?q=*")
    assert "result" in page.get_by_role("status").inner_text()
    # then narrow it the way a person would: fewer words, no accents, only organisations
    words = sorted(re.findall(r"\w{4,}", _fold(label)), key=len, reverse=True)[:2] or [_fold(label)]
    page.get_by_label("Words in the name or description").fill(" ".join(words))
    page.get_by_label("Type").select_option("organisation")
    page.get_by_role("main").get_by_role("button", name="Search").click()
    page.wait_for_url("**type=organisation*")
    assert page.locator("ol.hits .tag").all_inner_texts() and \
        set(page.locator("ol.hits .tag").all_inner_texts()) == {"organisation"}
    _shot(page, "02-search")

    page.locator("ol.hits a", has_text=label).first.click()
    page.wait_for_load_state()
    assert "/page/organisation/" in page.url
    assert page.get_by_role("heading", level=1).inner_text() == label
    assert page.locator("dl.facts").is_visible()
    assert page.locator('link[rel="alternate"][type="text/turtle"]').count() == 1
    _shot(page, "03-entity")
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= 400, "entity page scrolls sideways on a phone"
    _shot(page, "03-entity-phone")
    page.set_viewport_size({"width": 1200, "height": 900})

    page.goto(live_url + "/browse/project")
    before = int(page.locator(".summary strong").first.inner_text().replace(",", ""))
    facet = page.locator(".facets details[open] li a").first
    expected = int(facet.locator("xpath=following-sibling::span").inner_text())
    facet.click()
    page.wait_for_load_state()
    after = int(page.locator(".summary strong").first.inner_text().replace(",", ""))
    assert "?" in page.url and after == expected and after <= before
    _shot(page, "04-browse-facet")

    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.goto(live_url + page.url.split(live_url, 1)[1])
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, "the list page must not scroll sideways on a phone"
    _shot(page, "05-browse-phone")
    page.close()
