"""Contributing as people do it, in a real browser (issue 11): a new organisation (its type, size,
country from the list, coordinates typed with commas, a website without https://), a new project
(two areas, a partner found by typing) and "Suggest a change" on Waag Society reached from search;
a moderator accepts each; each is then on its page, in search, over SPARQL and in the dump.

A copy of the real store (``kb_copy``) so Waag Society and the real taxonomies are there; a live
server on 127.0.0.1; Debian's Chromium driven by Playwright. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import time
import urllib.parse
import urllib.request

import pytest

from tests.support import ARTIFACTS, chromium, live_server

PASSWORD = "people in a browser"
BASE = "https://w3id.org/dsi/"
pytestmark = pytest.mark.browser


@pytest.fixture()
def live(kb_copy, tmp_path):
    from endpoint import create_app
    from kb.contribute.accounts import add_account

    add_account(tmp_path / "moderators", "mia", PASSWORD)
    settings = dataclasses.replace(kb_copy.settings, moderators=str(tmp_path / "moderators"))
    app = create_app(settings, kb=kb_copy)
    with live_server(app) as url:
        yield url, kb_copy


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"people-{name}.png"), full_page=True)


def get_json(url: str):
    req = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as resp:
        return json.load(resp)


def sparql_labels(url: str, entity: str) -> list[str]:
    query = f"SELECT ?l WHERE {{ <{entity}> <http://www.w3.org/2000/01/rdf-schema#label> ?l }}"
    req = urllib.request.Request(url + "/sparql?" + urllib.parse.urlencode({"query": query}),
                                 headers={"Accept": "application/sparql-results+json"})
    with urllib.request.urlopen(req, timeout=120) as resp:
        return [b["l"]["value"] for b in json.load(resp)["results"]["bindings"]]


def sent(page) -> str:
    """Send the form; the id of the submission from the status page it lands on."""
    page.click("#send")
    page.wait_for_selector("#status")
    return page.url.rstrip("/").rsplit("/", 1)[-1]


def test_people_add_and_change_and_a_moderator_publishes(live, tmp_path):
    url, kb = live
    with chromium(tmp_path / "profile", width=1200, height=1000) as browser:
        page = browser.new_page()
        page.set_default_timeout(20_000)

        # 1. a new organisation
        page.goto(url + "/submit")
        page.check("input[name=type][value=organisation]")
        page.fill("#name", "Buurtwerk Digitaal Rotterdam")
        page.fill("#website", "www.buurtwerk-digitaal.example.org")
        page.fill("#shortDescription", "Neighbours learn digital skills together.")
        page.select_option("#country", label="Netherlands")
        page.fill("#city", "Rotterdam")
        page.fill("#latitude", "51,92")
        page.fill("#longitude", "4,48")
        page.select_option("#organisationType", label="Grassroots organisation or community network")
        page.select_option("#organisationSize", label="6-10 people")
        shot(page, "1-organisation-form")
        org_sid = sent(page)
        assert "New organisation 'Buurtwerk Digitaal Rotterdam', waiting for review" in page.inner_text("#status")
        shot(page, "1-organisation-status")

        # 2. a new project with two areas and a partner found by typing
        page.goto(url + "/submit")
        page.check("input[name=type][value=project]")
        page.fill("#name", "Open Sensor Streets")
        page.fill("#shortDescription", "Streets measure their own air with open hardware.")
        page.select_option("#country", label="Netherlands")
        page.fill("#city", "Amsterdam")
        page.locator("#areasOfSociety label", has_text="Energy and environment").first.locator("input").check()
        page.locator("#areasOfSociety label", has_text="Health and wellbeing").first.locator("input").check()
        page.locator("#technologyFocus label", has_text="Open hardware").locator("input").check()
        page.fill("#partner-search", "waag")
        page.locator("#partner-results button", has_text="Waag").first.click()
        assert "Waag" in page.inner_text("#partner-list")
        shot(page, "2-project-form")
        project_sid = sent(page)
        assert "New project 'Open Sensor Streets', waiting for review" in page.inner_text("#status")

        # 3. "Suggest a change" on Waag Society, found by search
        page.goto(url + "/search?q=Waag+Society")
        page.locator("main a", has_text="Waag Society").first.click()
        page.wait_for_selector("text=Suggest a change")
        waag_page = page.url
        page.click("text=Suggest a change")
        page.wait_for_selector("#send")
        assert "Suggest a change to Waag Society" in page.inner_text("h1")
        waag = page.input_value("input[name=entity]")
        page.fill("#shortDescription", "Waag is a Future Lab for technology and society in Amsterdam.")
        shot(page, "3-change-form")
        change_sid = sent(page)
        assert "Your change to Waag Society is waiting for review" in page.inner_text("#status")

        # 4. a moderator accepts each
        page.goto(url + "/moderate")
        page.fill("#mod-name", "mia")
        page.fill("#mod-password", PASSWORD)
        page.click("#sign-in")
        page.wait_for_selector("#pending")
        shot(page, "4-queue")
        for n, sid in enumerate((org_sid, project_sid, change_sid)):
            page.goto(f"{url}/moderate/{sid}")
            main = page.inner_text("main")
            assert "https://w3id.org/dsi/def/dsi#" not in main
            if sid == project_sid:
                assert "Waag Society" in main and "Energy and environment" in main  # names, not IRIs
            shot(page, f"4-moderate-{n}")
            started = time.monotonic()
            page.click("#accept", timeout=240_000)  # one store transaction, then the derived graph
            page.wait_for_selector("#status")
            print(f"accept {sid}: {time.monotonic() - started:.1f} s")
            assert "accepted" in page.inner_text("#status")

        # 5. each is on its page, in search, over SPARQL and in the dump
        org = get_json(f"{url}/api/submissions/{org_sid}")["entities"][0]
        project = get_json(f"{url}/api/submissions/{project_sid}")["entities"][0]
        page.goto(url + "/page/" + org.split("/id/", 1)[1])
        body = page.inner_text("main")
        assert "Buurtwerk Digitaal Rotterdam" in body and "Rotterdam" in body
        shot(page, "5-organisation-page")
        page.goto(url + "/page/" + project.split("/id/", 1)[1])
        assert "Waag Society" in page.inner_text("main")
        shot(page, "5-project-page")
        page.goto(waag_page + "?after=change")  # pages may be cached for 5 minutes (Cache-Control)
        assert "Future Lab for technology and society in Amsterdam" in page.inner_text("main")
        shot(page, "5-waag-page")
        for text, entity in (("Buurtwerk Digitaal", org), ("Open Sensor Streets", project), ("Waag Society", waag)):
            hits = get_json(url + "/search.json?" + urllib.parse.urlencode({"q": text}))["results"]
            assert entity in [h["id"] for h in hits], (text, hits)
        assert sparql_labels(url, org) == ["Buurtwerk Digitaal Rotterdam"]
        assert sparql_labels(url, project) == ["Open Sensor Streets"]
        assert "Waag Society" in sparql_labels(url, waag)
        page.close()

    deadline = time.monotonic() + 240
    while True:
        listing = get_json(url + "/dumps/index.json")
        if listing["fresh"] or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert listing["fresh"], listing
    with urllib.request.urlopen(url + "/dumps/dsi.nt.gz", timeout=240) as resp:
        dump = gzip.decompress(resp.read()).decode()
    for entity, text in ((org, "Buurtwerk Digitaal Rotterdam"), (project, "Open Sensor Streets"),
                         (waag, "Future Lab for technology and society in Amsterdam")):
        assert any(line.startswith(f"<{entity}> ") and text in line for line in dump.splitlines()), entity
