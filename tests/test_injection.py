"""Values from requests never become SPARQL text (issue 10, item 2): crafted ``entity``, ``withdraw``
and ``partner`` values get a 4xx with a message, and no query the store runs contains them."""

from __future__ import annotations

import re
import time

import pytest

from tests.test_submissions import ORG, api, post_json, project, sub_app  # noqa: F401 (fixtures)

INJECTIONS = [
    ORG + "x> ?p ?o } UNION { ?a ?b ?c",
    ORG + "nesta> ?p ?o . ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l } #",
    ORG + "nesta>?p?o}UNION{?a?b?c.?d?e?f.?g?h?i.?j?k?l}#",
    ORG + 'x> ?p ?o FILTER(REGEX(STR(?o), "(a+)+$")) } #',
    ORG + "nesta\u0000",
    ORG + "\\u003e",
]


@pytest.fixture()
def queries(sub_app, monkeypatch):
    """Every query text the store is given while the test runs."""
    kb = sub_app.extensions["dsikb"]
    seen: list[str] = []
    real_query, real_update = kb.query, kb.update

    def query(sparql, **kwargs):
        seen.append(sparql)
        return real_query(sparql, **kwargs)

    def update(sparql, **kwargs):
        seen.append(sparql)
        return real_update(sparql, **kwargs)

    monkeypatch.setattr(kb, "query", query)
    monkeypatch.setattr(kb, "update", update)
    return seen


@pytest.mark.parametrize("value", INJECTIONS)
def test_a_crafted_entity_is_a_field_error(api, queries, value):
    started = time.monotonic()
    resp = post_json(api, project(entity=value))
    assert resp.status_code in (400, 422), resp.get_data(as_text=True)[:300]
    body = resp.get_json()
    assert body["field"] == "entity" and "IRI" in body["message"]
    assert time.monotonic() - started < 5
    assert not any(value in q for q in queries)


@pytest.mark.parametrize("value", INJECTIONS)
def test_a_crafted_withdraw_is_a_field_error(api, queries, value):
    started = time.monotonic()
    resp = post_json(api, {"withdraw": value, "reason": "test"})
    assert resp.status_code in (400, 422), resp.get_data(as_text=True)[:300]
    assert resp.get_json()["field"] == "withdraw"
    assert time.monotonic() - started < 5
    assert not any(value in q for q in queries)


def test_an_unknown_but_valid_entity_is_refused_by_a_bound_lookup(api, queries):
    resp = post_json(api, project(entity=ORG + "no-such-org"))
    assert resp.status_code == 422
    assert "not an entity of this knowledge base" in resp.get_json()["message"]
    assert not any("no-such-org" in q for q in queries)


def test_withdrawing_a_real_entity_still_works(api, queries):
    resp = post_json(api, {"withdraw": ORG + "waag", "reason": "injection test"})
    assert resp.status_code == 202, resp.get_data(as_text=True)
    assert not any(ORG + "waag" in q for q in queries)


def _token(api, path="/submit") -> str:
    html = api.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.mark.parametrize("partner", [ORG + "x> ?p ?o } UNION { ?a ?b ?c", ORG + "nesta>", ORG + "a b"])
def test_a_crafted_partner_in_the_form_is_a_field_error(api, queries, partner):
    form = {"csrf_token": _token(api), "type": "project", "name": "Injected Partner Project",
            "shortDescription": "x", "country": "United Kingdom", "partner": partner,
            "partner_role": "co-funder", "submitter_name": "Ada", "consent": "yes"}
    resp = api.post("/submit", data=form)
    assert resp.status_code in (400, 422), resp.status_code
    html = resp.get_data(as_text=True)
    assert 'data-field="partners"' in html  # a plain message on the partners field (issue 11)
    assert not any(partner in q for q in queries)


def test_a_crafted_entity_in_the_edit_form_is_a_404(api, queries):
    resp = api.get("/submit", query_string={"entity": INJECTIONS[0]})
    assert resp.status_code in (400, 404)
    assert not any(INJECTIONS[0] in q for q in queries)


def test_a_crafted_withdraw_form_is_refused(api, queries):
    form = {"csrf_token": _token(api, "/submit/withdraw"), "entity": "organisation/x> ?p ?o } UNION { ?a ?b ?c",
            "reason": "x"}
    resp = api.post("/submit/withdraw", data=form)
    assert resp.status_code in (400, 422)
    assert not any("UNION" in q for q in queries)


# -- the moderators' forms: merge and link decisions take IRIs typed by a person ------------------
@pytest.fixture(scope="module")
def moderation_app(tmp_path_factory):
    import gc

    from endpoint import create_app
    from kb.contribute.accounts import add_account
    from tests.test_moderation import PASSWORD
    from tests.test_submissions import small_store

    root = tmp_path_factory.mktemp("inject-moderation")
    add_account(root / "moderators", "alice", PASSWORD)
    kb = small_store(root / "store", moderators=str(root / "moderators"))
    app = create_app(kb.settings, kb=kb)
    app.config["TESTING"] = True
    yield app
    del app, kb
    gc.collect()


@pytest.fixture()
def moderator_queries(moderation_app, monkeypatch):
    kb = moderation_app.extensions["dsikb"]
    seen: list[str] = []
    real_query, real_update = kb.query, kb.update
    monkeypatch.setattr(kb, "query", lambda sparql, **kw: (seen.append(sparql), real_query(sparql, **kw))[1])
    monkeypatch.setattr(kb, "update", lambda sparql, **kw: (seen.append(sparql), real_update(sparql, **kw))[1])
    return seen


@pytest.mark.parametrize("value", INJECTIONS[:4])
def test_a_crafted_merge_is_refused(moderation_app, moderator_queries, value):
    from tests.test_moderation import login, token

    client = login(moderation_app.test_client())
    form = {"csrf_token": token(client, "/moderate/merge"), "survivor": ORG + "nesta", "merged": value,
            "reason": "test"}
    resp = client.post("/moderate/merge", data=form)
    assert 400 <= resp.status_code < 500, resp.status_code
    assert not any(value in q for q in moderator_queries)
    kb = moderation_app.extensions["dsikb"]
    assert kb.ask(f"ASK {{ <{ORG}nesta> ?p ?o }}") and kb.ask(f"ASK {{ <{ORG}waag> ?p ?o }}")


@pytest.mark.parametrize("field", ["entity", "item"])
def test_a_crafted_link_decision_is_refused(moderation_app, moderator_queries, field):
    from tests.test_moderation import login, token

    client = login(moderation_app.test_client())
    value = INJECTIONS[0] if field == "entity" else "http://www.wikidata.org/entity/Q1> } ; DROP ALL ; INSERT DATA { <a:b> <a:b> <a:b>"
    form = {"csrf_token": token(client, "/moderate/merge"), "entity": ORG + "nesta",
            "item": "http://www.wikidata.org/entity/Q1", "decision": "confirmed", field: value}
    resp = client.post("/moderate/links/decide", data=form)
    assert 400 <= resp.status_code < 500, resp.status_code
    assert not any(value in q for q in moderator_queries)
    kb = moderation_app.extensions["dsikb"]
    assert kb.ask(f"ASK {{ <{ORG}nesta> ?p ?o }}")


def test_bound_terms_on_a_local_store_refuse_plain_strings(sub_app):
    kb = sub_app.extensions["dsikb"]
    with pytest.raises(TypeError):
        kb.ask("ASK { ?e ?p ?o }", bind={"e": ORG + "nesta> ?p ?o } #"})
