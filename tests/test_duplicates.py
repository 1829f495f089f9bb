"""kb/contribute/duplicates.py and /moderate/duplicates over the real data: the known duplicate groups are found,
a submission's check is fast, and a one-click merge makes the duplicate answer 301."""

from __future__ import annotations

import dataclasses
import re
import statistics
import time

import pytest

from kb.contribute import duplicates
from kb.importers.common import clean_text
from tests.conftest import SOURCES

ID = "https://w3id.org/dsi/id/"
PASSWORD = "correct horse battery"


def _labels(group) -> list[str]:
    return sorted(m.label for m in group.members)


def _group_of(groups, iri):
    return next((g for g in groups if iri in {m.iri for m in g.members}), None)


def test_known_duplicate_groups_of_the_real_data_are_found(built_kb):
    groups = duplicates.groups(built_kb)
    by_type: dict[str, int] = {}
    for g in groups:
        by_type[g.type] = by_type.get(g.type, 0) + 1
    print(f"\nsuspected duplicate groups: {len(groups)} {by_type}")
    for g in groups:
        print(f"  {g.type}: {' | '.join(_labels(g))} ({', '.join(g.why)})")
    palermo = _group_of(groups, ID + "organisation/fablab-palermo")
    assert {m.iri for m in palermo.members} == {ID + "organisation/fablab-palermo",
                                                ID + "organisation/fablab-palermo-2",
                                                ID + "organisation/fablab-palermo-3"}
    hague = _group_of(groups, ID + "place/den-haag-netherlands")
    assert _labels(hague) == ["Den Haag", "The Hague"] and hague.type == "place"
    essrg = _group_of(groups, ID + "organisation/essrg")
    assert _labels(essrg) == ["ESSRG", "ESSRG Ltd."] and "same name" in essrg.why
    call = _group_of(groups, ID + "organisation/call-for-team")
    assert len(call.members) == 3
    assert all(len({m.type for m in g.members}) == 1 for g in groups)  # one type per group
    assert 20 <= len(groups) <= 150


def test_groups_leave_out_hidden_and_merged_entities(built_kb):
    hidden = {r["e"].value for r in built_kb.select("SELECT ?e WHERE { ?e dsi:hidden true }")}
    merged = {r["e"].value for r in built_kb.select("SELECT ?e WHERE { ?e dsi:mergedInto ?s }")}
    members = {m.iri for g in duplicates.groups(built_kb) for m in g.members}
    assert hidden and not members & (hidden | merged)


@pytest.mark.parametrize("name, website, city, country, expected, why", [
    ("ESSRG Kft.", "https://www.essrg.hu", "Budapest", "Hungary", "essrg", "same website host"),
    ("essrg ltd", None, None, None, "essrg-ltd", "same name"),
    ("Fab-Lab Palermo", None, "palermo", "IT", "fablab-palermo", "same name"),
    ("Open Data Manchestr", None, "Manchester", "UK", "open-data-manchester", "close name in the same city"),
    ("Waag Society B.V.", "HTTP://WAAG.ORG", None, None, "waag-society", "same website host"),
    ("Nesta", None, None, None, "nesta", "same name"),
])
def test_candidates_for_a_submission_say_why(built_kb, name, website, city, country, expected, why):
    found = duplicates.candidates(built_kb, name, website, city, country)
    match = next(m for m in found if m.iri == ID + "organisation/" + expected)
    assert why in match.why and match.page == "/page/organisation/" + expected and match.label


def test_candidates_for_something_new_are_empty(built_kb):
    assert duplicates.candidates(built_kb, "Rīgas Atvērto Datu Laboratorija", "https://example.lv",
                                 "Riga", "Latvia") == []
    assert duplicates.candidates(built_kb, "", None) == []


@pytest.mark.parametrize("name, key", [
    ("ESSRG Ltd.", "essrg"), ("Waag Society e.V.", "waag society"), ("Ideas S.L.", "ideas"),
    ("Code B.V.", "code"), ("Müller GmbH", "muller"), ("Ltd.", "ltd"),
])
def test_names_are_compared_without_case_accents_punctuation_or_legal_forms(name, key):
    assert duplicates.normal_name(name) == key


def test_hosts_are_compared_without_scheme_www_slash_or_case():
    keys = {duplicates.host_key(u) for u in ("http://www.Waag.org/", "https://waag.org", "WAAG.ORG/",
                                             "www.waag.org")}
    assert keys == {"waag.org"}
    assert duplicates.host_key("http://index.php/") == ""


def test_a_check_is_fast_on_the_real_data(built_kb):
    """Median over every DSI4EU and 2013 organisation row, checked as if submitted again."""
    import csv
    import json

    with open(SOURCES / "dsi2013_swirrl_export_orgs.csv", encoding="utf-8", newline="") as fh:
        rows = [(r["Name"], r["Website"], r["Location"], r["Country"]) for r in csv.DictReader(fh)]
    rows += [(r["organisation_name"], r.get("website"), r.get("region"), r.get("country"))
             for r in json.loads((SOURCES / "dsi4eu_organisations2_2017-03-27.json").read_text())]
    duplicates.candidates(built_kb, "warm up", None, "Paris", "France")
    times, found = [], 0
    for name, website, city, country in rows:
        start = time.perf_counter()
        found += bool(duplicates.candidates(built_kb, clean_text(name), website, city, country))
        times.append((time.perf_counter() - start) * 1000)
    median = statistics.median(times)
    print(f"\nduplicate check: {len(times)} checks, median {median:.3f} ms, "
          f"max {max(times):.1f} ms, {found} with a candidate")
    assert median < 50
    assert found > len(rows) * 0.9  # the data itself is in the store: nearly every row finds itself


# -- /moderate/duplicates over HTTP, on a copy of the real store ------------------------------
@pytest.fixture()
def moderator(kb_copy, tmp_path):
    from endpoint import create_app
    from kb.contribute.accounts import add_account

    accounts = tmp_path / "moderators"
    add_account(accounts, "alice", PASSWORD)
    app = create_app(dataclasses.replace(kb_copy.settings, moderators=str(accounts)), kb=kb_copy)
    app.config["TESTING"] = True
    client = app.test_client()
    resp = client.post("/moderate/login", data={"name": "alice", "password": PASSWORD,
                                                "csrf_token": _token(client, "/moderate/login")})
    assert resp.status_code == 303
    return client, app, kb_copy


def _token(client, path) -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_the_duplicates_page_is_for_moderators_only(kb_copy):
    from tests.support import make_app

    client = make_app(kb_copy).test_client()
    resp = client.get("/moderate/duplicates")
    assert resp.status_code == 302 and "/moderate/login" in resp.headers["Location"]
    assert client.post("/moderate/duplicates/merge", data={}).status_code == 302


def test_moderators_see_the_groups_and_merge_a_pair_with_one_click(moderator):
    client, app, kb = moderator
    page = client.get("/moderate/duplicates")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for text in ("Fablab Palermo", "Den Haag", "The Hague", "ESSRG Ltd.", "Call for team",
                 'href="/page/organisation/essrg"', "http://essrg.hu/", "Budapest"):
        assert text in html, text
    assert "<script" not in html.split("<main", 1)[-1]  # no inline script: CSP forbids it
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    survivor, merged = ID + "organisation/essrg", ID + "organisation/essrg-ltd"
    form = {"survivor": survivor, "merged": merged, "csrf_token": token}
    assert client.post("/moderate/duplicates/merge", data={**form, "csrf_token": "stale"}).status_code == 403
    resp = client.post("/moderate/duplicates/merge", data=form)
    assert resp.status_code == 303, resp.get_data(as_text=True)
    r = app.test_client().get("/id/organisation/essrg-ltd", headers={"Accept": "text/html"})
    assert r.status_code == 301 and r.headers["Location"].endswith("/id/organisation/essrg")
    assert kb.ask(f"""ASK {{ <{merged}> dsi:mergedInto <{survivor}> ; dsi:reason ?r
                   FILTER(STRSTARTS(?r, "duplicate: ") && CONTAINS(?r, "same name")) }}""")
    # both legacy identifiers stay reachable through the survivor's sameAs / identifiers
    assert kb.ask(f"ASK {{ <{merged}> owl:sameAs|dcterms:identifier ?k }}")
    after = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'id="merged"' in after and "essrg-ltd</code> and" not in after
    # the pair is no longer suspected: a second click is refused, not a 500
    assert client.post("/moderate/duplicates/merge", data=form).status_code == 400


def test_a_merge_of_a_pair_that_is_not_suspected_is_refused(moderator):
    client, _, _ = moderator
    token = _token(client, "/moderate/duplicates")
    for form in ({"survivor": ID + "organisation/nesta", "merged": ID + "organisation/waag-society"},
                 {"survivor": "", "merged": ""}, {"survivor": "not an iri", "merged": "x"}):
        resp = client.post("/moderate/duplicates/merge", data={**form, "csrf_token": token})
        assert resp.status_code == 400, form
