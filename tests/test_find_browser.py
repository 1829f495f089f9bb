"""Issue 13 in a real browser (headless Chromium): a person narrows a list with the facet forms, takes
filters off again, tries every sort, and searches with a misspelling, with and without spaces, and by
each type the menu offers. Screenshots in tests/artifacts/ (gitignored)."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.test_browser import _shot

pytestmark = pytest.mark.browser


def _total(page) -> int:
    return int(page.locator(".summary strong").first.inner_text().replace(",", ""))


def _open(page, key: str) -> None:
    """Open a facet's <details> as a person does, by clicking its heading (the first two are open)."""
    if page.locator(f"#facet-{key}").get_attribute("open") is None:
        page.locator(f"#facet-{key} > summary").click()


def _json(client, url: str) -> dict:
    parts = urlsplit(url)
    path = parts.path.replace("/browse/organisation", "/browse/organisation.json").replace(
        "/browse/project", "/browse/project.json")
    return client.get(path, query_string=parse_qsl(parts.query)).get_json()


def test_facet_forms_and_removing_filters(browser, live_url, client):
    page = browser.new_page()
    page.goto(live_url + "/browse/project")
    everything = _total(page)
    # a country facet value, as a link: projects in the Netherlands come from partners' countries
    _open(page, "country")
    link = page.locator("#facet-country li a", has_text="Netherlands")
    expected = int(link.locator("xpath=following-sibling::span").inner_text())
    link.click()
    page.wait_for_url("**country=netherlands*")
    assert _total(page) == expected == _json(client, page.url)["total"] > 20
    assert "(partners)" in page.locator("ol.items").inner_text()
    # then an area, as a link
    area = page.locator("#facet-area li a").first
    area_count = int(area.locator("xpath=following-sibling::span").inner_text())
    area.click()
    page.wait_for_load_state()
    assert _total(page) == area_count <= expected
    assert page.locator(".active-filters li").count() == 3  # two filters and "clear all"
    _shot(page, "find-01-two-filters")
    # take the country off with its own link: the area stays
    page.locator(".active-filters li", has_text="Netherlands").get_by_role("link").click()
    page.wait_for_load_state()
    assert "country=" not in page.url and "area=" in page.url
    assert _total(page) == _json(client, page.url)["total"] >= area_count
    page.locator(".active-filters a.remove").click()
    page.wait_for_load_state()
    assert _total(page) == everything and page.locator(".active-filters").count() == 0
    page.close()


@pytest.mark.parametrize("type_", ["organisation", "project"])
def test_every_more_option_of_the_facet_forms(browser, live_url, type_):
    """The "More:" menus (values past the first fifteen): each option, chosen and added, gives the
    number it promised."""
    page = browser.new_page()
    page.goto(f"{live_url}/browse/{type_}")
    menus = page.locator("form.facet-more select")
    assert menus.count() >= 1
    for m in range(menus.count()):
        menu_id = menus.nth(m).get_attribute("id")
        options = page.locator(f"#{menu_id} option").evaluate_all("os => os.map(o => o.textContent)")
        values = page.locator(f"#{menu_id} option").evaluate_all("os => os.map(o => o.value)")
        assert options
        for value, text in zip(values, options):
            page.goto(f"{live_url}/browse/{type_}")
            _open(page, menu_id.removeprefix("more-"))
            page.select_option(f"#{menu_id}", value)
            page.locator(f"#{menu_id}").locator("xpath=following-sibling::button").click()
            page.wait_for_load_state()
            found = re.search(r"\((\d+)\)\s*$", text)
            assert found, repr(text)
            promised = int(found.group(1))
            assert _total(page) == promised, (menu_id, text)
            assert page.locator(".active-filters").count() == 1
    _shot(page, f"find-02-more-{type_}")
    page.close()


@pytest.mark.parametrize("type_", ["organisation", "project"])
def test_every_sort_option(browser, live_url, client, type_):
    page = browser.new_page()
    page.goto(f"{live_url}/browse/{type_}?country=netherlands")
    values = page.locator("#sort option").evaluate_all("os => os.map(o => o.value)")
    assert len(values) == 10
    for value in values:
        page.select_option("#sort", value)
        page.locator("form.sort button").click()
        page.wait_for_url(f"**sort={value.replace('+', '%2B')}*")
        assert page.locator("#sort").input_value() == value
        assert "country=netherlands" in page.url  # the filter stays
        expected = [i["label"] for i in _json(client, page.url)["items"][:5]]
        shown = page.locator("ol.items > li > a").all_inner_texts()[:5]
        assert shown == expected, value
    _shot(page, f"find-03-sorted-{type_}")
    page.close()


def test_search_forgives_and_offers_only_found_types(browser, live_url, client):
    page = browser.new_page()
    page.goto(live_url + "/")
    page.get_by_label("Find an organisation or project").fill("Fairfone")
    page.get_by_label("Find an organisation or project").press("Enter")
    page.wait_for_url("**/search?q=*")
    assert "Showing results for" in page.locator(".suggest").inner_text()
    assert page.locator("ol.hits a", has_text="Fairphone").count() >= 1
    assert "Amsterdam, Netherlands" in page.locator("ol.hits").inner_text()
    _shot(page, "find-04-fairfone")

    box = page.get_by_label("Words in the name or description")
    box.fill("fab lab")
    page.get_by_role("main").get_by_role("button", name="Search").click()
    page.wait_for_load_state()
    spaced = page.locator(".summary").inner_text()
    spaced_total = int(re.match(r"([\d,]+)", spaced).group(1).replace(",", ""))
    options = page.locator("#search-type option").evaluate_all("os => os.map(o => o.textContent)")
    values = page.locator("#search-type option").evaluate_all("os => os.map(o => o.value)")
    assert values[0] == "" and set(values[1:]) == {"organisation", "project"}
    for value, text in zip(values, options):
        page.get_by_label("Words in the name or description").fill("fab lab")
        page.select_option("#search-type", value)
        page.get_by_role("main").get_by_role("button", name="Search").click()
        page.wait_for_load_state()
        shown = int(re.match(r"([\d,]+)", page.locator(".summary").inner_text()).group(1).replace(",", ""))
        assert shown == int(re.search(r"\((\d+)\)$", text).group(1)), text
        if value:
            assert set(page.locator("ol.hits .tag").all_inner_texts()) == {value}
    assert page.locator("ol.hits mark").count() >= 1 or page.locator("ol.hits .snippet").count() >= 1
    page.get_by_label("Words in the name or description").fill("fablab")
    page.select_option("#search-type", "")
    page.get_by_role("main").get_by_role("button", name="Search").click()
    page.wait_for_load_state()
    assert int(re.match(r"([\d,]+)", page.locator(".summary").inner_text()).group(1).replace(",", "")) == spaced_total
    _shot(page, "find-05-fablab")
    page.close()
