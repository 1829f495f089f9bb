"""Submissions against the real knowledge base (the session's store built by ``dsikb init`` from the
DSI exports): the form's choices come from the real taxonomies and places, partners are found among
the real organisations, and possible duplicates among them are shown to moderators. These tests only
write to the submissions spool, never to the store."""

from __future__ import annotations

import json
import re

BASE = "https://w3id.org/dsi/"


def test_the_form_offers_the_real_taxonomies_and_countries(client):
    html = client.get("/submit").get_data(as_text=True)
    assert f'value="{BASE}id/concept/technology-focus/open-data"' in html
    assert f'value="{BASE}id/concept/area-of-society/health-and-care"' in html
    for country in ("united-kingdom", "italy", "latvia", "malta"):  # every ISO country, as the place IRI
        assert re.search(f'<option value="{BASE}id/place/{country}" >[^<]+</option>', html), country
    assert ">Latvia</option>" in html and ">Malta</option>" in html
    assert 'name="csrf_token"' in html


def test_partners_are_found_as_you_type(client, built_kb):
    hits = client.get("/submit/partners.json?q=waag").get_json()
    assert hits and hits[0]["label"].lower().startswith("waag")
    assert built_kb.ask(f"ASK {{ <{hits[0]['iri']}> a dsi:Organisation }}")
    assert client.get("/submit/partners.json?q=w").get_json() == []  # two letters at least
    assert client.get("/submit/partners.json?q=" + "x" * 101).status_code == 400


def test_a_real_partner_validates_and_duplicates_are_found(client, built_kb, app):
    from kb.contribute.moderation import duplicates

    waag = client.get("/submit/partners.json?q=waag").get_json()[0]["iri"]
    body = {"type": "project", "name": "Amsterdam Open Sensors 2026", "country": "Netherlands",
            "website": "https://sensors.example.nl/", "areasOfSociety": ["energy-and-environment"],
            "technologyFocus": ["open-hardware"], "partners": [{"organisation": waag, "role": "delivery-lead"}]}
    resp = client.post("/api/submissions", data=json.dumps(body), content_type="application/json")
    assert resp.status_code == 202, resp.get_data(as_text=True)
    assert resp.get_json()["entities"] == [BASE + "id/project/amsterdam-open-sensors-2026"]

    org = {"type": "organisation", "name": "Waag Society Amsterdam", "website": "https://www.waag.org/en",
           "country": "Netherlands"}
    resp = client.post("/api/submissions", data=json.dumps(org), content_type="application/json")
    assert resp.status_code == 202, resp.get_data(as_text=True)
    sub = app.extensions["dsikb_submissions"].get(resp.get_json()["id"])
    found = duplicates(built_kb, sub)
    assert any(d["candidate"] == waag and "same website host waag.org" in d["why"] for d in found), found
