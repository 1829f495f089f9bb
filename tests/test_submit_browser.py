"""The submission form in a real browser (headless Chromium): fill it, get the shapes' messages next
to the fields, fix them, send, find it in the moderation queue, accept it as a moderator, then see the
new project's page, its triples over SPARQL and in the next dump.

A live server on 127.0.0.1 (in a thread) over a small real store; Debian's Chromium driven by
Playwright (``executable_path``, no downloaded browser). Skipped only when Chromium is missing.
"""

from __future__ import annotations

import gc
import json
import urllib.parse
import urllib.request

import pytest

from tests.test_submissions import BASE, small_store

from tests.support import ARTIFACTS, live_server

PASSWORD = "browser test password"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    from endpoint import create_app
    from kb.contribute.accounts import add_account

    root = tmp_path_factory.mktemp("submit-browser")
    add_account(root / "moderators", "mia", PASSWORD)
    kb = small_store(root / "store", moderators=str(root / "moderators"))
    app = create_app(kb.settings, kb=kb)
    with live_server(app) as url:
        yield url, kb
    del app, kb
    gc.collect()


def field_error(page, field: str) -> str:
    return " ".join(page.locator(f'.field-error[data-field="{field}"]').all_inner_texts())


def test_submit_fix_moderate_publish(live, browser):
    url, kb = live
    page = browser.new_page()
    page.set_default_timeout(10_000)
    page.goto(url + "/submit")
    page.check('input[name=type][value=project]')
    page.fill("#name", "Community Sensor Network Leeds")
    page.fill("#website", "ftp://sensors.example.org")  # not http(s): the shapes refuse it
    page.fill("#shortDescription", "Neighbours measure noise and air with open hardware.")
    page.select_option("#country", label="United Kingdom")
    page.fill("#city", "Leeds")
    # partners by search-as-you-type
    page.fill("#partner-search", "nes")
    page.locator("#partner-results button", has_text="Nesta").click()
    assert "Nesta" in page.inner_text("#partner-list")
    # no area of society, no technology: the shapes require them for a project
    page.click("#send")
    page.wait_for_selector(".form-errors")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "submit-field-errors.png"), full_page=True)
    assert field_error(page, "website"), page.content()
    assert field_error(page, "areasOfSociety"), page.inner_text("main")[:3000]
    assert page.input_value("#name") == "Community Sensor Network Leeds"  # what they typed is kept
    assert page.input_value("#shortDescription").startswith("Neighbours")
    assert "Nesta" in page.inner_text("#partner-list")
    assert page.get_attribute("#website", "aria-invalid") == "true"

    # fix and send again
    page.fill("#website", "https://sensors.example.org/")
    page.locator("#areasOfSociety label", has_text="Energy and environment").first.locator("input").check()
    page.locator("#technologyFocus label", has_text="Open hardware").locator("input").check()
    page.click("#send")
    page.wait_for_selector("#status")
    assert "waiting for review" in page.inner_text("#status")
    sid = page.url.rstrip("/").rsplit("/", 1)[-1]
    entity = BASE + "id/project/community-sensor-network-leeds"
    assert entity in page.content()

    # a moderator signs in, finds it in the queue, sees the diff, accepts
    page.goto(url + "/moderate")
    page.fill("#mod-name", "mia")
    page.fill("#mod-password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_selector("#pending")
    page.click(f"a[href='/moderate/{sid}']")
    assert "create" in page.inner_text("main") and "Community Sensor Network Leeds" in page.inner_text("main")
    page.click("#accept")
    page.wait_for_selector("#status")
    assert "accepted" in page.inner_text("#status")

    # the new entity's page
    page.goto(url + "/page/project/community-sensor-network-leeds")
    body = page.inner_text("main")
    assert "Community Sensor Network Leeds" in body and "Nesta" in body
    assert "accepted by moderator mia" in body  # its provenance, under "where this comes from"

    # its triples over SPARQL
    query = f"SELECT ?g ?label WHERE {{ GRAPH ?g {{ <{entity}> <http://www.w3.org/2000/01/rdf-schema#label> ?label }} }}"
    req = urllib.request.Request(url + "/sparql?" + urllib.parse.urlencode({"query": query}),
                                 headers={"Accept": "application/sparql-results+json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        rows = json.load(resp)["results"]["bindings"]
    assert [(r["g"]["value"], r["label"]["value"]) for r in rows] == [
        (kb.graphs.submission(sid), "Community Sensor Network Leeds")]

    # and in the next dump, downloaded as a user would (regenerated for the new store generation)
    import gzip
    import time

    deadline = time.monotonic() + 60
    while True:
        with urllib.request.urlopen(url + "/dumps/index.json", timeout=60) as resp:
            listing = json.load(resp)
        if listing["fresh"] or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert listing["fresh"], listing
    with urllib.request.urlopen(url + "/dumps/dsi.nq.gz", timeout=60) as resp:
        nquads = gzip.decompress(resp.read()).decode()
    lines = [line for line in nquads.splitlines() if line.startswith(f"<{entity}> ")]
    # the membership shortcuts, the countries of its partners and the standard-vocabulary forms,
    # derived at acceptance
    derived = (f"<{kb.graphs.derived}>", f"<{kb.graphs.partner_countries}>", f"<{kb.graphs.aligned}>")
    assert lines and all(f"<{kb.graphs.submission(sid)}>" in line or any(d in line for d in derived)
                         for line in lines)
    assert any("Community Sensor Network Leeds" in line for line in lines)
    page.close()


def test_withdrawal_by_name_with_suggestions(live, browser):
    """An organisation types part of its name, picks itself from the suggestions and sends."""
    url, kb = live
    page = browser.new_page()
    page.set_default_timeout(10_000)
    page.goto(url + "/submit/withdraw")
    page.fill("#entity", "nes")
    page.locator("#entity-results button", has_text="Nesta").first.click()
    assert page.input_value("#entity") == "Nesta"
    assert page.input_value("#entity_iri").endswith("/id/organisation/nesta")
    page.fill("#reason", "We asked to be removed")
    page.click("#send-withdrawal")
    page.wait_for_selector("#status")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "withdraw-by-name.png"), full_page=True)
    assert "Your request to remove Nesta is waiting for review" in page.inner_text("#status")
    page.close()
