"""Moderation over HTTP: sign-in, CSRF, accept (named graph + PROV-O), reject with a reason, edits that
replace earlier statements and keep the history, withdrawal (dsi:withdrawn, 410, out of the dump)."""

from __future__ import annotations

import gc
import io
import json
import re
import time

import pyoxigraph as ox
import pytest

from tests.test_submissions import BASE, ORG, project, small_store

RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"

PROV = "http://www.w3.org/ns/prov#"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def mod_app(tmp_path_factory):
    from endpoint import create_app
    from kb.contribute.accounts import add_account

    root = tmp_path_factory.mktemp("moderation")
    accounts = root / "moderators"
    add_account(accounts, "alice", PASSWORD)
    kb = small_store(root / "store", moderators=str(accounts))
    app = create_app(kb.settings, kb=kb)
    app.config["TESTING"] = True
    yield app
    del app, kb
    gc.collect()


def token(client, path="/moderate/login") -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client):
    resp = client.post("/moderate/login", data={"name": "alice", "password": PASSWORD,
                                                 "csrf_token": token(client)})
    assert resp.status_code == 303, resp.get_data(as_text=True)
    return client


@pytest.fixture()
def moderator(mod_app):
    return login(mod_app.test_client())


def send(client, data) -> str:
    resp = client.post("/api/submissions", data=json.dumps(data), content_type="application/json")
    assert resp.status_code == 202, resp.get_data(as_text=True)
    return resp.get_json()["id"]


def decide(client, sid, action, **form):
    form["csrf_token"] = token(client, f"/moderate/{sid}")
    return client.post(f"/moderate/{sid}/{action}", data=form)


def test_the_queue_needs_a_signed_in_moderator(mod_app):
    client = mod_app.test_client()
    assert client.get("/moderate").status_code == 302
    wrong = client.post("/moderate/login", data={"name": "alice", "password": "not it at all",
                                                 "csrf_token": token(client)})
    assert wrong.status_code == 401 and "wrong password" in wrong.get_data(as_text=True)
    login(client)
    page = client.get("/moderate")
    assert page.status_code == 200 and "Moderation queue" in page.get_data(as_text=True)


def test_forms_without_the_csrf_token_are_refused(mod_app, moderator):
    sid = send(moderator, project(name="Csrf Target Project"))
    assert moderator.post(f"/moderate/{sid}/accept").status_code == 403
    assert moderator.post(f"/moderate/{sid}/accept", data={"csrf_token": "forged"}).status_code == 403
    fresh = mod_app.test_client()
    assert fresh.post("/moderate/login", data={"name": "alice", "password": PASSWORD}).status_code == 403
    assert mod_app.extensions["dsikb_submissions"].get(sid).status == "pending"


def test_accept_publishes_the_named_graph_with_provenance(mod_app, moderator):
    kb = mod_app.extensions["dsikb"]
    sid = send(moderator, project(name="Accepted Air Project"))
    page = moderator.get(f"/moderate/{sid}").get_data(as_text=True)
    assert "create" in page and BASE + "id/project/accepted-air-project" in page
    assert decide(moderator, sid, "accept").status_code == 303
    graph = kb.graphs.submission(sid)
    entity = BASE + "id/project/accepted-air-project"
    assert kb.ask(f"ASK {{ GRAPH <{graph}> {{ <{entity}> a dsi:Project ; rdfs:label 'Accepted Air Project' }} }}")
    rows = kb.select(f"""SELECT ?act ?when ?nick ?who WHERE {{ GRAPH <{graph}> {{
        <{graph}> prov:wasGeneratedBy ?act ; prov:generatedAtTime ?when ; prov:wasAttributedTo ?s .
        ?act a prov:Activity ; prov:wasAssociatedWith ?m . ?m foaf:nick ?nick . ?s foaf:name ?who }} }}""")
    assert rows and rows[0]["nick"].value == "alice" and rows[0]["who"].value == "Ada Example"
    status = moderator.get(f"/api/submissions/{sid}", headers={"Accept": "application/json"}).get_json()
    assert status["status"] == "accepted"


def test_a_submitter_who_did_not_agree_is_not_named(mod_app, moderator):
    kb = mod_app.extensions["dsikb"]
    sid = send(moderator, project(name="Anonymous Project", submitter={"name": "Secret Person", "consentToBeNamed": False}))
    decide(moderator, sid, "accept")
    graph = kb.graphs.submission(sid)
    assert not kb.ask(f"ASK {{ GRAPH <{graph}> {{ ?x ?p 'Secret Person' }} }}")
    assert not kb.ask(f"ASK {{ GRAPH <{graph}> {{ <{graph}> prov:wasAttributedTo ?s }} }}")


def test_the_moderator_sees_possible_duplicates(mod_app, moderator):
    sid = send(moderator, {"type": "organisation", "name": "NESTA", "website": "https://nesta.org.uk/about",
                           "country": "United Kingdom"})
    page = moderator.get(f"/moderate/{sid}").get_data(as_text=True)
    dups = page[page.index('id="duplicates"'):]
    assert "/page/organisation/nesta" in dups and "same website host nesta.org.uk" in dups
    assert "similar name" in dups
    assert "Waag" not in dups


def test_reject_keeps_the_submission_with_its_reason(mod_app, moderator):
    kb = mod_app.extensions["dsikb"]
    sid = send(moderator, project(name="Spammy Project"))
    assert decide(moderator, sid, "reject", reason="").status_code == 400
    assert decide(moderator, sid, "reject", reason="Advertising, not a project").status_code == 303
    status = moderator.get(f"/api/submissions/{sid}", headers={"Accept": "application/json"}).get_json()
    assert status == {**status, "status": "rejected", "reason": "Advertising, not a project"}
    assert not kb.has_graph(kb.graphs.submission(sid))
    assert mod_app.extensions["dsikb_submissions"].get(sid).raw  # kept


def test_an_accepted_edit_replaces_earlier_statements_and_keeps_history(mod_app, moderator):
    kb = mod_app.extensions["dsikb"]
    first = send(moderator, project(name="Edited Project", website="https://old.example.org/"))
    decide(moderator, first, "accept")
    entity = BASE + "id/project/edited-project"
    edit = send(moderator, project(name="Edited Project (new name)", entity=entity, website="https://new.example.org/"))
    detail = moderator.get(f"/moderate/{edit}").get_data(as_text=True)
    assert "change" in detail and "https://old.example.org/" in detail  # the diff shows what goes
    decide(moderator, edit, "accept")
    labels = {r["l"].value for r in kb.select(f"SELECT ?l WHERE {{ <{entity}> rdfs:label ?l }}")}
    sites = {r["w"].value for r in kb.select(f"SELECT ?w WHERE {{ <{entity}> dsi:website ?w }}")}
    assert labels == {"Edited Project (new name)"} and sites == {"https://new.example.org/"}
    old_graph, new_graph = kb.graphs.submission(first), kb.graphs.submission(edit)
    assert kb.ask(f"ASK {{ GRAPH <{new_graph}> {{ <{new_graph}> prov:wasRevisionOf <{old_graph}> }} }}")
    assert kb.ask(f"ASK {{ GRAPH <{old_graph}> {{ <{old_graph}> prov:invalidatedAtTime ?t }} }}")
    subs = mod_app.extensions["dsikb_submissions"]
    assert subs.get(first).superseded_by == edit
    assert b"https://old.example.org/" in subs.get(first).raw  # history kept


def test_an_accepted_edit_corrects_imported_values_and_a_reimport_keeps_them(mod_app, moderator):
    """Waag is imported (dsi4eu) as "Waag Society" with a website and a country; an edit renames it.
    The imported name leaves the import graph in the accepting update, properties the edit does not
    state keep their imported values, and importing the source again does not bring the old name back."""
    import pyoxigraph as ox

    from kb.contribute.overrides import submitted, without_overridden
    from tests.test_submissions import SEED

    kb = mod_app.extensions["dsikb"]
    waag = ORG + "waag"
    imported = kb.graphs.source("dsi4eu")
    kb.update(f'INSERT DATA {{ GRAPH <{imported}> {{ <{waag}> <{BASE}def/dsi#twitter> "waagsociety" }} }}')
    sid = send(moderator, {"type": "organisation", "entity": waag, "name": "Waag Futurelab",
                           "website": "https://waag.org/", "country": "Netherlands",
                           "shortDescription": "A lab for open technology."})
    detail = moderator.get(f"/moderate/{sid}").get_data(as_text=True)
    assert "Waag Society" in detail[detail.index("change"):]  # the diff shows the imported name going
    assert decide(moderator, sid, "accept").status_code == 303

    def values(prop):
        return {r["o"].value for r in kb.select(f"SELECT DISTINCT ?o WHERE {{ <{waag}> {prop} ?o }}")}

    assert values("rdfs:label") == {"Waag Futurelab"}
    assert values("dsi:website") == {"https://waag.org/"}  # the same value: kept in both graphs
    assert values("dsi:country") == {BASE + "id/place/netherlands"}
    assert values("dsi:twitter") == {"waagsociety"}  # not in the edit: the imported value stays
    # (the aligned graph adds the standard types: schema, org, foaf)
    assert {t for t in values("rdf:type") if t.startswith(BASE)} == {BASE + "def/dsi#Organisation"}
    assert not kb.ask(f'ASK {{ GRAPH <{imported}> {{ <{waag}> rdfs:label "Waag Society" }} }}')
    assert kb.ask(f"ASK {{ GRAPH <{imported}> {{ <{waag}> dsi:website <https://waag.org/> }} }}")
    page = mod_app.test_client().get("/page/organisation/waag").get_data(as_text=True)
    assert "Waag Futurelab" in page and "Waag Society" not in page
    # a re-import of the same source file keeps the correction
    again = without_overridden(kb, list(ox.parse(SEED, ox.RdfFormat.TURTLE)), submitted(kb))
    labels = {t.object.value for t in again if t.subject.value == waag and t.predicate.value.endswith("#label")}
    assert labels == set()
    assert {t.object.value for t in again if t.subject.value == ORG + "nesta"
            and t.predicate.value.endswith("#label")} == {"Nesta"}  # other entities untouched


def test_suggest_a_change_through_the_form(mod_app, moderator):
    from werkzeug.datastructures import MultiDict

    kb = mod_app.extensions["dsikb"]
    first = send(moderator, project(name="Form Edited Project"))
    decide(moderator, first, "accept")
    entity = BASE + "id/project/form-edited-project"
    person = mod_app.test_client()
    html = person.get("/submit", query_string={"entity": entity}).get_data(as_text=True)
    assert "Suggest a change to Form Edited Project" in html
    assert 'value="https://air.example.org/"' in html and 'name="entity"' in html
    form = MultiDict([("type", "project"), ("entity", entity), ("name", "Form Edited Project"),
                      ("website", "https://changed.example.org/"), ("country", "United Kingdom"),
                      ("areasOfSociety", BASE + "id/concept/area-of-society/energy-and-environment"),
                      ("technologyFocus", BASE + "id/concept/technology-focus/open-data"),
                      ("csrf_token", token(person, "/submit"))])
    resp = person.post("/submit", data=form)
    assert resp.status_code == 303, resp.get_data(as_text=True)
    sid = resp.headers["Location"].rsplit("/", 1)[-1]
    assert mod_app.extensions["dsikb_submissions"].get(sid).kind == "edit"
    decide(moderator, sid, "accept")
    sites = {r["w"].value for r in kb.select(f"SELECT ?w WHERE {{ <{entity}> dsi:website ?w }}")}
    assert sites == {"https://changed.example.org/"}
    assert person.get("/submit", query_string={"entity": ORG + "nope"}).status_code == 404


def test_withdrawal_records_it_answers_410_and_leaves_the_dump(mod_app, moderator):
    from kb.publish.dump import dump

    kb = mod_app.extensions["dsikb"]
    entity = ORG + "waag"
    # the organisation uses the form, giving its page's address
    person = mod_app.test_client()
    resp = person.post("/submit/withdraw", data={
        "entity": "http://localhost/page/organisation/waag", "reason": "We asked to be removed",
        "submitter_name": "Waag", "consent": "yes", "csrf_token": token(person, "/submit/withdraw")})
    assert resp.status_code == 303, resp.get_data(as_text=True)
    sid = resp.headers["Location"].rsplit("/", 1)[-1]
    assert mod_app.extensions["dsikb_submissions"].get(sid).kind == "withdraw"
    assert moderator.get("/page/organisation/waag").status_code == 200
    decide(moderator, sid, "accept")
    assert kb.ask(f"ASK {{ <{entity}> dsi:withdrawn ?when }}")
    assert moderator.get("/page/organisation/waag").status_code == 410
    out = io.BytesIO()
    dump(kb, "nt", out, public=True)
    assert f"<{entity}>" not in out.getvalue().decode()
    assert f"<{ORG}nesta>" in out.getvalue().decode()


def test_withdrawing_an_unknown_entity_is_refused(mod_app):
    client = mod_app.test_client()
    resp = client.post("/api/submissions", data=json.dumps({"withdraw": ORG + "no-such-org"}),
                       content_type="application/json")
    assert resp.status_code == 422 and "not an entity" in resp.get_json()["message"]
    resp = client.post("/submit/withdraw", data={"entity": "/page/organisation/no-such-org",
                                                 "csrf_token": token(client, "/submit/withdraw")})
    assert resp.status_code == 422 and "not an entity" in resp.get_data(as_text=True)


def test_dsikb_moderator_add_writes_a_scrypt_hash(tmp_path, monkeypatch, capsys):
    from kb.contribute import accounts
    from kb.cli import main

    path = tmp_path / "mods"
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough secret\n"))
    assert main(["moderator", "add", "bob", "--file", str(path), "--password-stdin"]) == 0
    line = [x for x in path.read_text().splitlines() if x.startswith("bob:")][0]
    assert line.startswith("bob:scrypt:") and "a long enough secret" not in line
    assert oct(path.stat().st_mode)[-3:] == "600"
    assert accounts.check(path, "bob", "a long enough secret")
    assert not accounts.check(path, "bob", "a long enough secreT")
    assert not accounts.check(path, "nobody", "a long enough secret")
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["moderator", "add", "carol", "--file", str(path), "--password-stdin"]) == 2
    assert "at least" in capsys.readouterr().err


def test_recovery_settles_an_accept_cut_between_store_and_spool(tmp_path):
    """The store got the graph, the process died before the spool said 'accepted': the next start
    (init_app runs recover) records it, with its moderator and the submission it revised."""
    from endpoint import create_app
    from kb.contribute import moderation
    from kb.contribute.queue import SubmissionStore
    from kb.contribute.submissions import submit

    kb = small_store(tmp_path / "store")
    subs = SubmissionStore(tmp_path / "store.submissions.sqlite")
    first = submit(kb, subs, json.dumps(project(name="Recovered Project")).encode(), "application/json").submission
    moderation.accept(kb, subs, first.id, "alice")
    entity = first.entities[0]
    edit = submit(kb, subs, json.dumps(project(name="Recovered Project 2", entity=entity)).encode(),
                  "application/json").submission
    real_decide = subs.decide
    subs.decide = lambda *a, **k: (_ for _ in ()).throw(OSError("killed"))  # dies after the store write
    with pytest.raises(OSError):
        moderation.accept(kb, subs, edit.id, "bob")
    subs.decide = real_decide
    assert subs.get(edit.id).status == "pending"
    create_app(kb.settings, kb=kb)  # a restart
    after = SubmissionStore(subs.path)
    assert after.get(edit.id).status == "accepted" and after.get(edit.id).moderator == "bob"
    assert after.get(first.id).superseded_by == edit.id
    del kb
    gc.collect()


def test_an_interrupted_accept_is_settled_when_a_store_that_was_down_comes_back(tmp_path):
    """The app starts while its remote store is down and the queue holds an accept cut between store
    and queue: it answers 503 with a message (the queue would say "pending" wrongly), then, once the
    store is back, settles the accept without a restart."""
    from endpoint import create_app, sparql
    from kb.contribute.moderation import provenance_triples
    from kb.contribute.queue import Submission, SubmissionStore, Submitter, new_id, now_iso
    from kb.store import KB
    from tests.remote import OxigraphServer

    server = OxigraphServer(tmp_path / "oxigraph").start()
    app = None
    try:
        kb = KB.open(server.settings(rate_limit=0))
        subs = SubmissionStore.for_kb(kb)
        assert subs.path == tmp_path / "oxigraph.submissions.sqlite"  # DSIKB_SUBMISSIONS_DB
        entity = ORG + "cut-off-lab"
        triples = [ox.Triple(ox.NamedNode(entity), ox.NamedNode(RDFS_LABEL), ox.Literal("Cut Off Lab"))]
        sub, _ = subs.add(Submission(new_id(), now_iso(), "create", "text/turtle", b"", ox.serialize(
            triples, format=ox.RdfFormat.N_TRIPLES).decode(), [entity], Submitter()), [entity])
        # what an accept cut between the store write and the queue's update leaves: the graph, pending
        kb.replace_graph(kb.graphs.submission(sub.id), triples + provenance_triples(kb, sub, "carol", now_iso(), []))
        subs.close()
        server.stop()
        app = create_app(kb.settings)  # a restart, with the store down
        client = app.test_client()
        r = client.get(f"/api/submissions/{sub.id}", headers={"Accept": "application/json"})
        assert r.status_code == 503 and "cannot be reached" in r.get_json()["message"]
        assert r.headers["Retry-After"]
        server.start()
        deadline = time.monotonic() + 30
        while True:  # the app asks the store again at most once per RETRY_SECONDS
            r = client.get(f"/api/submissions/{sub.id}", headers={"Accept": "application/json"})
            if r.status_code != 503 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert r.status_code == 200 and r.get_json()["status"] == "accepted"
        assert SubmissionStore(subs.path).get(sub.id).moderator == "carol"
    finally:
        if app is not None:
            sparql.close(app)
        server.stop()


def test_a_form_sent_twice_makes_one_submission(mod_app):
    from werkzeug.datastructures import MultiDict

    person = mod_app.test_client()
    html = person.get("/submit").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)
    form = MultiDict([("type", "project"), ("name", "Double Click Project"), ("country", "United Kingdom"),
                      ("areasOfSociety", BASE + "id/concept/area-of-society/energy-and-environment"),
                      ("technologyFocus", BASE + "id/concept/technology-focus/open-data"),
                      ("idempotency_key", key), ("csrf_token", token(person, "/submit"))])
    first, again = person.post("/submit", data=form), person.post("/submit", data=form)
    assert first.status_code == again.status_code == 303
    assert first.headers["Location"] == again.headers["Location"]


def test_moderators_decide_proposed_links_over_http(mod_app, moderator):
    from kb.link.linkset import CLOSE_MATCH, SAME_AS, Link, replace_machine_links

    kb = mod_app.extensions["dsikb"]
    graph = kb.graphs.linkset("wikidata")
    nesta, waag = ORG + "nesta", ORG + "waag"
    replace_machine_links(kb, graph, [nesta, waag], [
        Link(nesta, "http://www.wikidata.org/entity/Q6954145", SAME_AS, 0.97, ["same website host"]),
        Link(waag, "http://www.wikidata.org/entity/Q2114059", CLOSE_MATCH, 0.71, ["similar name"])],
        source="https://query.wikidata.org/sparql")
    assert mod_app.test_client().get("/moderate/links").status_code == 302  # moderators only
    page = moderator.get("/moderate/links").get_data(as_text=True)
    rows = page[page.index('id="links"'):]
    assert "Q2114059" in rows and "Q6954145" in rows and "Nesta" in rows
    assert rows.index("Q2114059") < rows.index("Q6954145")  # the probable one first
    form = {"entity": nesta, "item": "http://www.wikidata.org/entity/Q6954145", "decision": "confirmed",
            "reason": "checked the website"}
    assert moderator.post("/moderate/links/decide", data=form).status_code == 403  # no CSRF token
    form["csrf_token"] = token(moderator, "/moderate/links")
    assert moderator.post("/moderate/links/decide", data=form).status_code == 303
    form.update(entity=waag, item="http://www.wikidata.org/entity/Q2114059", decision="rejected",
                reason="another Waag")
    assert moderator.post("/moderate/links/decide", data=form).status_code == 303
    assert kb.ask(f"ASK {{ GRAPH <{graph}> {{ <{nesta}> owl:sameAs wd:Q6954145 }} }}")
    assert not kb.ask(f"ASK {{ <{waag}> ?p wd:Q2114059 }}")
    page = moderator.get("/moderate/links").get_data(as_text=True)
    assert "Nothing waiting" in page and "confirmed" in page and "rejected" in page
    form.update(decision="maybe")
    assert moderator.post("/moderate/links/decide", data=form).status_code == 400


def test_moderators_merge_duplicates_over_http(mod_app, moderator):
    kb = mod_app.extensions["dsikb"]
    a, b = ORG + "fab-lab-one", ORG + "fablab-1"
    kb.update(f'INSERT DATA {{ GRAPH <{kb.graphs.curated}> {{ <{a}> a dsi:Organisation ; rdfs:label "Fab Lab One" . '
              f'<{b}> a dsi:Organisation ; rdfs:label "FabLab 1" }} }}')
    form = {"survivor": a, "merged": b, "reason": "", "csrf_token": token(moderator, "/moderate/merge")}
    assert moderator.post("/moderate/merge", data=form).status_code == 400  # a reason is needed
    form["reason"] = "one lab, two entries"
    resp = moderator.post("/moderate/merge", data=form)
    assert resp.status_code == 200 and "Merged" in resp.get_data(as_text=True)
    r = mod_app.test_client().get("/id/organisation/fablab-1", headers={"Accept": "text/html"})
    assert r.status_code == 301 and r.headers["Location"].endswith("/id/organisation/fab-lab-one")
    form.update(survivor=a, merged=ORG + "nesta-project")
    assert moderator.post("/moderate/merge", data=form).status_code in (400, 404)
