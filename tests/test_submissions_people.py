"""Issue 11 regressions: the form and the API as people use them. An organisation with a type, a
website without a scheme, comma decimals, an unknown country, withdrawal by name, an exact copy of an
existing organisation, the status page in words and the moderator's diff in names.

A small real store (tests.test_submissions.small_store) where Waag Society has a type, a city and a
size, as 979 of the 1,245 imported organisations do.
"""

from __future__ import annotations

import gc
import html as html_lib
import json
import re

import pyoxigraph as ox
import pytest

from tests.test_submissions import BASE, ORG, small_store

PASSWORD = "people test password"
CONCEPT = BASE + "id/concept/"
TYPE = CONCEPT + "organisation-type/social-enterprise-charity-or-foundation"
EXTRA = f"""
@prefix dsi: <{BASE}def/dsi#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<{ORG}waag> dsi:organisationType <{TYPE}> ; dsi:organisationSize <{CONCEPT}organisation-size/26-50> ;
    dsi:shortDescription "Waag is a research institute for technology and society." ;
    dsi:city <{BASE}id/place/amsterdam-netherlands> .
<{BASE}id/place/amsterdam-netherlands> a dsi:Place ; rdfs:label "Amsterdam" ;
    dsi:country <{BASE}id/place/netherlands> .
"""


@pytest.fixture(scope="module")
def people_app(tmp_path_factory):
    from endpoint import create_app
    from kb.contribute.accounts import add_account

    root = tmp_path_factory.mktemp("people")
    add_account(root / "moderators", "mo", PASSWORD)
    kb = small_store(root / "store", moderators=str(root / "moderators"))
    kb.replace_graph(kb.graphs.source("dsi2013"), list(ox.parse(EXTRA, ox.RdfFormat.TURTLE)))
    kb.flush()
    app = create_app(kb.settings, kb=kb)
    app.config["TESTING"] = True
    yield app
    del app, kb
    gc.collect()


@pytest.fixture()
def web(people_app):
    return people_app.test_client()


def token(client, path="/submit") -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def form(client, **fields):
    data = {"csrf_token": token(client), "type": "organisation", "name": "Stichting Open Buurt",
            "country": "Netherlands", "city": "Utrecht", **fields}
    return client.post("/submit", data=data)


def api(client, data):
    return client.post("/api/submissions", data=json.dumps(data), content_type="application/json")


def messages_of(html: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for field, text in re.findall(r'data-field="([^"]+)">([^<]*)<', html):
        out.setdefault(field, []).append(html_lib.unescape(text))
    return out


def plain(text: str) -> bool:
    return not re.search(r"[{}\[\]]|https?:|\bdsi:", text)


def test_the_form_takes_an_organisation_with_a_type_and_a_size(web):
    resp = form(web, organisationType=TYPE, organisationSize=CONCEPT + "organisation-size/0-5", name="Buurtlab Utrecht")
    assert resp.status_code == 303, resp.get_data(as_text=True)[:3000]


def test_suggest_a_change_to_an_organisation_with_a_type(web):
    page = web.get("/submit?entity=" + ORG + "waag").get_data(as_text=True)
    assert f'value="{TYPE}" selected' in page
    values = {"csrf_token": token(web), "type": "organisation", "entity": ORG + "waag", "name": "Waag Society",
              "organisationType": TYPE, "organisationSize": CONCEPT + "organisation-size/26-50",
              "country": "Netherlands", "city": "Amsterdam", "website": "https://waag.org/",
              "shortDescription": "Waag is a Future Lab for technology and society."}
    resp = web.post("/submit", data=values)
    assert resp.status_code == 303, resp.get_data(as_text=True)[:3000]


@pytest.mark.parametrize("typed", ["www.buurt-example.org", "buurt-example.org"])
def test_a_website_without_a_scheme_is_normalised(web, typed):
    resp = api(web, {"type": "organisation", "name": "Buurt " + typed, "country": "Netherlands", "website": typed})
    assert resp.status_code == 202, resp.get_data(as_text=True)


@pytest.mark.parametrize("fields,field,words", [
    ({"name": ""}, "name", "Give the organisation's name"),
    ({"latitude": "123", "longitude": "5"}, "latitude", "Latitude must be between -90 and 90; you typed 123"),
    ({"latitude": "abc", "longitude": "5"}, "latitude", "Latitude must be a number"),
    ({"website": "not a url"}, "website", "website"),
    ({"country": "Atlantis"}, "country", "Atlantis"),
    ({"startDate": "2024-13-45"}, "startDate", "date"),
])
def test_every_problem_is_a_plain_message_next_to_its_field(web, fields, field, words):
    resp = form(web, **fields)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422, html[:2000]
    found = messages_of(html)
    assert field in found, (found, html[:3000])
    assert any(words in m for m in found[field]), found
    assert all(plain(m) for ms in found.values() for m in ms), found
    for key, value in fields.items():  # what the person typed stays in the form
        if value:
            assert f'value="{value}"' in html
    body = api(web, {"type": "organisation", "name": "Stichting Open Buurt", "country": "Netherlands", **fields})
    err = body.get_json()
    assert body.status_code == 422, err
    assert field in {r["field"] for r in err["results"]}, err
    assert all(plain(r["message"]) for r in err["results"]) and plain(err["message"]), err


def test_comma_decimals_are_read(web):
    resp = form(web, name="Comma Lab", latitude="52,37", longitude="4,89")
    assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]


def test_an_unknown_country_gets_suggestions_and_mints_no_place(web, people_app):
    err = api(web, {"type": "organisation", "name": "Atlantean Lab", "country": "Germny"}).get_json()
    assert err["results"][0]["field"] == "country" and "Germany" in err["results"][0]["message"]
    kb = people_app.extensions["dsikb"]
    assert not kb.ask("ASK { ?e ?p ?o }", bind={"e": ox.NamedNode(BASE + "id/place/atlantis")})


def test_the_country_list_has_every_eu_country(web):
    page = web.get("/submit").get_data(as_text=True)
    assert ">Latvia<" in page and ">Malta<" in page


def test_withdrawal_by_name(web):
    hits = web.get("/submit/entities.json?q=waag").get_json()
    assert hits and {h["label"] for h in hits} == {"Waag Society"} and ORG + "waag" in {h["iri"] for h in hits}
    # two entries are called Waag Society here (the curated one and the imported one): choose
    resp = web.post("/submit/withdraw", data={"csrf_token": token(web, "/submit/withdraw"),
                                              "entity": "Waag Society", "reason": "We closed."})
    assert resp.status_code == 422 and "choose one" in resp.get_data(as_text=True)
    resp = web.post("/submit/withdraw", data={"csrf_token": token(web, "/submit/withdraw"), "entity": "Waag Society",
                                              "entity_iri": ORG + "waag", "reason": "We closed."})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]
    status = web.get(resp.headers["Location"], headers={"Accept": "application/json"}).get_json()
    assert status["entities"] == [ORG + "waag"] and status["kind"] == "withdraw"
    resp = web.post("/submit/withdraw", data={"csrf_token": token(web, "/submit/withdraw"),
                                              "entity": "futureeverything", "reason": "x"})  # typed, not chosen
    assert resp.status_code == 303
    bad = web.post("/submit/withdraw", data={"csrf_token": token(web, "/submit/withdraw"),
                                             "entity": "No Such Organisation Anywhere", "reason": "x"})
    assert bad.status_code == 422 and "No Such Organisation Anywhere" in bad.get_data(as_text=True)


def test_an_exact_copy_is_flagged_as_a_duplicate(web):
    copy = {"type": "organisation", "name": "Waag Society", "website": "https://waag.org/", "country": "Netherlands"}
    body = api(web, copy).get_json()
    assert body["duplicates"] and body["duplicates"][0]["label"] == "Waag Society", body
    resp = form(web, name="Waag Society", website="https://waag.org/", city="Amsterdam")
    assert resp.status_code == 303
    status = web.get(resp.headers["Location"], headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "Is this Waag Society?" in status and "/submit?entity=" in status
    web.post("/moderate/login", data={"name": "mo", "password": PASSWORD, "csrf_token": token(web, "/moderate/login")})
    queue = web.get("/moderate").get_data(as_text=True)
    assert "may duplicate Waag Society" in queue  # flagged in the queue
    sid = body["id"]
    detail = web.get(f"/moderate/{sid}").get_data(as_text=True)
    assert "same website host" in detail and "/page/organisation/waag" in detail
    web.post(f"/moderate/{sid}/reject", data={"csrf_token": token(web, f"/moderate/{sid}"),
                                              "reason": "it is Waag Society, already listed"})
    words = web.get(f"/api/submissions/{sid}", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "New organisation &#39;Waag Society&#39; was rejected because it is Waag Society, already listed" in words


def test_status_page_and_moderation_speak_names(web):
    resp = form(web, name="Status Words Lab", organisationType=TYPE)
    sid = resp.headers["Location"].rsplit("/", 1)[-1]
    status = web.get(f"/api/submissions/{sid}", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "New organisation 'Status Words Lab', waiting for review" in status.replace("&#39;", "'")
    mod = web
    mod.post("/moderate/login", data={"name": "mo", "password": PASSWORD, "csrf_token": token(mod, "/moderate/login")})
    detail = mod.get(f"/moderate/{sid}").get_data(as_text=True)
    assert "Social enterprise" in detail or "social enterprise" in detail.lower()
    shown = re.sub(r'(href|value)="[^"]*"|<pre>.*?</pre>|<code>.*?</code>', "", detail, flags=re.S)
    assert TYPE not in shown and "organisationType" not in shown
    decision = mod.post(f"/moderate/{sid}/accept", data={"csrf_token": token(mod, f"/moderate/{sid}")})
    assert decision.status_code == 303
    status = web.get(f"/api/submissions/{sid}", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "was accepted" in status


def test_an_accepted_project_refreshes_the_derived_graph(web, people_app):
    kb = people_app.extensions["dsikb"]
    sid = api(web, {"type": "project", "name": "Shared Work", "country": "Netherlands",
                    "areasOfSociety": ["energy-and-environment"], "technologyFocus": ["open-data"],
                    "partners": [{"organisation": ORG + "waag"}, {"organisation": ORG + "nesta"}]}).get_json()["id"]
    web.post("/moderate/login", data={"name": "mo", "password": PASSWORD, "csrf_token": token(web, "/moderate/login")})
    detail = web.get(f"/moderate/{sid}").get_data(as_text=True)
    assert "Waag Society" in detail and "Nesta" in detail  # partner memberships, by name
    web.post(f"/moderate/{sid}/accept", data={"csrf_token": token(web, f"/moderate/{sid}")})
    assert kb.ask("ASK { GRAPH ?g { ?c dsi:collaborator ?a, ?b } }",
                  bind={"g": ox.NamedNode(kb.graphs.derived), "a": ox.NamedNode(ORG + "waag"),
                        "b": ox.NamedNode(ORG + "nesta")})
