"""The submissions API over HTTP: 202, 422 (report by Accept), 400 with line and column, 413, 415,
status by GET, and a repeated POST (same Idempotency-Key or same content) giving the same submission.

These tests run on a small real store (ontology, taxonomies, shapes as ``dsikb init`` loads them, plus
a few entities) so that they can write without copying the whole knowledge base.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest
import rdflib

from tests.conftest import settings_for

BASE = "https://w3id.org/dsi/"
ORG = BASE + "id/organisation/"
CONCEPT = BASE + "id/concept/"
SH = rdflib.Namespace("http://www.w3.org/ns/shacl#")

SEED = f"""
@prefix dsi: <{BASE}def/dsi#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<{ORG}nesta> a dsi:Organisation ; rdfs:label "Nesta" ; dsi:website <https://www.nesta.org.uk/> ;
    dsi:country <{BASE}id/place/united-kingdom> .
<{ORG}waag> a dsi:Organisation ; rdfs:label "Waag Society" ; dsi:website <https://waag.org/> ;
    dsi:country <{BASE}id/place/netherlands> .
<{BASE}id/place/united-kingdom> a dsi:Place ; rdfs:label "United Kingdom" .
<{BASE}id/place/netherlands> a dsi:Place ; rdfs:label "Netherlands" .
"""


def small_store(path, **overrides):
    """A real on-disk store with the bundled graphs (ontology, taxonomies, shapes) and two
    organisations in an import graph; returns the open KB."""
    import pyoxigraph as ox

    from kb.build.init import bundled_graphs, parse_files
    from kb.store import KB

    settings = settings_for(path, **overrides)
    kb = KB.open(settings)
    for graph, files in bundled_graphs(kb).items():
        if files:
            kb.replace_graph(graph, parse_files(files, settings.base_uri))
    kb.replace_graph(kb.graphs.source("dsi4eu"), list(ox.parse(SEED, ox.RdfFormat.TURTLE)))
    kb.flush()
    return kb


def project(**changes) -> dict:
    """A valid project in the simple JSON shape."""
    data = {
        "type": "project",
        "name": "Open Air Quality Map",
        "website": "https://air.example.org/",
        "shortDescription": "Citizens measure air quality with open sensors.",
        "country": "United Kingdom",
        "city": "Manchester",
        "areasOfSociety": ["energy-and-environment"],
        "technologyFocus": ["open-data", "open-hardware"],
        "partners": [{"organisation": ORG + "nesta", "role": "delivery-lead"}],
        "startDate": "2024-01-01",
        "submitter": {"name": "Ada Example", "email": "ada@example.org", "consentToBeNamed": True},
    }
    data.update(changes)
    return data


@pytest.fixture(scope="module")
def sub_app(tmp_path_factory):
    from endpoint import create_app

    root = tmp_path_factory.mktemp("subs")
    kb = small_store(root / "store")
    # every test of the module posts from the test client's one address: no per-address limit here
    # (tests/test_sparql_capacity.py tests the limit)
    app = create_app(kb.settings.replace(submission_rate_limit=0), kb=kb)
    app.config["TESTING"] = True
    yield app
    del app, kb
    gc.collect()


@pytest.fixture()
def api(sub_app):
    return sub_app.test_client()


def post_json(api, data, **headers):
    return api.post("/api/submissions", data=json.dumps(data), content_type="application/json", headers=headers)


def test_a_valid_json_submission_is_accepted_for_review_with_a_location(api, sub_app):
    resp = post_json(api, project(name="Sensor Commons Bristol"))
    assert resp.status_code == 202, resp.get_data(as_text=True)
    body = resp.get_json()
    assert resp.headers["Location"] == f"/api/submissions/{body['id']}"
    assert body["status"] == "pending" and body["kind"] == "create"
    assert body["entities"] == [BASE + "id/project/sensor-commons-bristol"]
    # durably there: a fresh spool object over the same file finds it with its raw body and graph
    from kb.contribute.queue import SubmissionStore

    stored = SubmissionStore(sub_app.extensions["dsikb_submissions"].path).get(body["id"])
    assert json.loads(stored.raw)["name"] == "Sensor Commons Bristol"
    assert f"<{BASE}id/project/sensor-commons-bristol> <http://www.w3.org/2000/01/rdf-schema#label>" in stored.ntriples
    assert stored.submitter.email == "ada@example.org" and stored.submitter.named


def test_get_status_of_a_submission(api):
    sid = post_json(api, project(name="Status Check Project")).get_json()["id"]
    resp = api.get(f"/api/submissions/{sid}", headers={"Accept": "application/json"})
    assert resp.status_code == 200
    assert resp.get_json()["status"] == "pending"
    assert "Accept" in resp.headers["Vary"]
    assert api.get("/api/submissions/20000101t000000-00000000", headers={"Accept": "application/json"}).status_code == 404


def test_turtle_submission_gets_minted_iri_unique_against_the_store(api):
    ttl = f"""@prefix dsi: <{BASE}def/dsi#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
    [] a dsi:Organisation ; rdfs:label "Nesta" ; dsi:website <https://nesta-copy.example.org/> ;
       dsi:country <{BASE}id/place/united-kingdom> ."""
    resp = api.post("/api/submissions", data=ttl, content_type="text/turtle")
    assert resp.status_code == 202, resp.get_data(as_text=True)
    assert resp.get_json()["entities"] == [ORG + "nesta-2"]  # "nesta" is taken by the import


def test_jsonld_submission(api):
    doc = {"@context": {"dsi": BASE + "def/dsi#", "rdfs": "http://www.w3.org/2000/01/rdf-schema#"},
           "@id": "new-org", "@type": "dsi:Organisation", "rdfs:label": "JSON-LD Makers",
           "dsi:country": {"@id": BASE + "id/place/netherlands"}}
    resp = api.post("/api/submissions", data=json.dumps(doc), content_type="application/ld+json")
    assert resp.status_code == 202, resp.get_data(as_text=True)
    assert resp.get_json()["entities"] == [ORG + "json-ld-makers"]


@pytest.mark.parametrize("accept", ["application/json", "text/turtle", "application/ld+json"])
def test_a_non_conforming_submission_gets_422_with_the_report(api, accept):
    data = project(name="Project Without Areas", areasOfSociety=[], website="ftp://files.example.org/")
    resp = post_json(api, data, Accept=accept)
    assert resp.status_code == 422, resp.get_data(as_text=True)
    assert resp.mimetype == accept
    if accept == "application/json":
        results = resp.get_json()["results"]
        fields = {r["field"] for r in results if r["severity"] == "Violation"}
        assert {"areasOfSociety", "website"} <= fields, results
        assert all(r["message"] for r in results)
    else:
        import pyoxigraph as ox

        fmt = ox.RdfFormat.TURTLE if accept == "text/turtle" else ox.RdfFormat.JSON_LD
        nt = ox.serialize(ox.parse(resp.get_data(), fmt), format=ox.RdfFormat.N_TRIPLES)
        g = rdflib.Graph().parse(data=nt.decode(), format="nt")
        assert (None, rdflib.RDF.type, SH.ValidationReport) in g
        assert (None, SH.conforms, rdflib.Literal(False)) in g
        paths = set(g.objects(None, SH.resultPath))
        assert rdflib.URIRef(BASE + "def/dsi#areaOfSociety") in paths


def test_json_outside_the_schema_gets_422_naming_the_field(api):
    resp = post_json(api, {"type": "project", "name": "X", "colour": "blue"})
    assert resp.status_code == 422
    assert "colour" in resp.get_json()["message"]


@pytest.mark.parametrize("content_type,body,line,column", [
    ("text/turtle", '@prefix dsi: <https://w3id.org/dsi/def/dsi#> .\n[] a dsi:Organisation ;\n   dsi:label "x ', 3, None),
    ("application/json", '{"type": "project",\n "name": "x",,}', 2, 14),
    ("application/ld+json", '{"@id": "x",\n "@type": }', 2, None),
])
def test_a_syntax_error_gets_400_with_line_and_column(api, content_type, body, line, column):
    resp = api.post("/api/submissions", data=body, content_type=content_type)
    assert resp.status_code == 400, resp.get_data(as_text=True)
    err = resp.get_json()
    assert err["line"] == line
    assert isinstance(err["column"], int) and (column is None or err["column"] == column)
    assert f"line {line}" in err["message"]


def test_a_body_over_the_cap_gets_413(api, sub_app):
    cap = sub_app.config["DSIKB_SETTINGS"].submission_max_bytes
    big = project(description="x" * (cap + 10))
    resp = post_json(api, big)
    assert resp.status_code == 413
    assert str(cap) in resp.get_json()["message"]


def test_an_unknown_body_type_gets_415(api):
    resp = api.post("/api/submissions", data="name,type\nX,project\n", content_type="text/csv")
    assert resp.status_code == 415
    assert "text/turtle" in resp.get_json()["message"]


def test_same_idempotency_key_gives_the_same_submission(api, sub_app):
    subs = sub_app.extensions["dsikb_submissions"]
    before = len(subs.ids())
    first = post_json(api, project(name="Idempotent One"), **{"Idempotency-Key": "key-123"})
    again = post_json(api, project(name="Idempotent One, changed"), **{"Idempotency-Key": "key-123"})
    assert first.status_code == again.status_code == 202
    assert again.headers["Location"] == first.headers["Location"]
    assert again.get_json()["duplicate"] is True
    assert len(subs.ids()) == before + 1


def test_same_content_twice_gives_the_same_submission(api, sub_app):
    subs = sub_app.extensions["dsikb_submissions"]
    before = len(subs.ids())
    body = project(name="Posted Twice")
    first = post_json(api, body)
    # same JSON, other key order: the same content
    again = api.post("/api/submissions", data=json.dumps(body, sort_keys=True, indent=1),
                     content_type="application/json")
    assert again.headers["Location"] == first.headers["Location"]
    assert len(subs.ids()) == before + 1


def test_the_schema_is_served_and_documents_the_shape(api):
    schema = api.get("/api/submissions/schema").get_json()
    assert schema["$schema"].startswith("https://json-schema.org/")
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(project(), schema)


def test_rdf_about_other_resources_is_refused(api):
    ttl = f"""@prefix dsi: <{BASE}def/dsi#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
    <#org> a dsi:Organisation ; rdfs:label "Honest Org" ; dsi:country <{BASE}id/place/netherlands> .
    <{ORG}nesta> rdfs:label "Nesta is now mine" ."""
    resp = api.post("/api/submissions", data=ttl, content_type="text/turtle")
    assert resp.status_code == 422, resp.get_data(as_text=True)
    assert "outside this submission" in resp.get_json()["message"]
    foreign = f"""@prefix dsi: <{BASE}def/dsi#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
    <http://example.org/x> a dsi:Organisation ; rdfs:label "Foreign" ."""
    resp = api.post("/api/submissions", data=foreign, content_type="text/turtle")
    assert resp.status_code == 422 and "outside this knowledge base" in resp.get_json()["message"]


def test_an_edit_must_name_an_existing_entity(api):
    resp = post_json(api, project(name="Ghost", entity=BASE + "id/project/does-not-exist"))
    assert resp.status_code == 422
    assert "not an entity" in resp.get_json()["message"]


def test_the_queue_of_a_remote_store_is_a_setting_and_never_in_the_working_directory(tmp_path, monkeypatch):
    """DSIKB_SUBMISSIONS_DB names the queue; unset, a remote store's queue (and a linking run's
    progress) is one file per store in the user's state folder, whatever the working directory."""
    from kb.contribute.queue import SubmissionStore
    from kb.link import state_path
    from kb.settings import Settings
    from kb.store import KB

    monkeypatch.chdir(tmp_path)
    state = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(state))

    def opened(**env):
        return KB.open(Settings.from_env(environ={"DSIKB_" + k.upper(): v for k, v in env.items()}))

    def queue(**env):
        return SubmissionStore.for_kb(opened(**env)).path

    assert queue(store="sparql+http://h:7878") == queue(store="sparql+http://h:7878/query") \
        == state / "dsikb" / "h-7878.submissions.sqlite"
    assert queue(store="sparql+http://h:7879") == state / "dsikb" / "h-7879.submissions.sqlite"
    assert queue(store="sparql+https://h/sparql") == state / "dsikb" / "h-sparql.submissions.sqlite"
    assert queue(store="sparql+http://h:7878", submissions_db=str(tmp_path / "q.sqlite")) == tmp_path / "q.sqlite"
    assert state_path(opened(store="sparql+http://h:7878"), "wikidata") == state / "dsikb" / "h-7878.link-wikidata.json"
    monkeypatch.setenv("XDG_STATE_HOME", "relative")  # not absolute: ignored, as the specification says
    assert queue(store="sparql+http://h:7878").is_relative_to(Path.home() / ".local" / "state" / "dsikb")
    assert not list(tmp_path.glob("var"))


def test_an_iri_taken_by_another_process_meanwhile_is_minted_again(tmp_path):
    """Two servers over one store: the spool's UNIQUE iri column catches the clash, intake mints again."""
    from kb.contribute.queue import SubmissionStore
    from kb.contribute.submissions import submit

    kb = small_store(tmp_path / "store")
    mine = SubmissionStore(tmp_path / "store.submissions.sqlite")
    other = SubmissionStore(tmp_path / "store.submissions.sqlite")
    taken = BASE + "id/project/race-project"
    real_is_minted = mine.is_minted
    mine.is_minted = lambda iri: False if iri == taken else real_is_minted(iri)  # blind to the other
    first = submit(kb, other, json.dumps(project(name="Race Project")).encode(), "application/json")
    assert first.submission.entities == [taken]
    calls = []
    mine.is_minted = lambda iri: (calls.append(iri) or False) if iri == taken and len(calls) < 1 else real_is_minted(iri)
    second = submit(kb, mine, json.dumps(project(name="Race Project", website="https://race2.example.org/")).encode(),
                    "application/json")
    assert second.created and second.submission.entities == [BASE + "id/project/race-project-2"]
    del kb
    gc.collect()
