"""The reconciliation service through HTTP, checked against the official 0.2 JSON Schemas."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft7Validator
from referencing import Registry, Resource

from tests.conftest import SPECS, settings_for

SPEC = SPECS / "reconciliation-0.2"

SMALL = """
@prefix dsi: <https://w3id.org/dsi/def/dsi#> .
@prefix o: <https://w3id.org/dsi/id/organisation/> .
@prefix pr: <https://w3id.org/dsi/id/project/> .
@prefix pl: <https://w3id.org/dsi/id/place/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix dcterms: <http://purl.org/dc/terms/> .
o:nesta a dsi:Organisation ; rdfs:label "Nesta" ; skos:altLabel "NESTA Ltd" ;
  dsi:website <http://www.nesta.org.uk/> ; dsi:country pl:united-kingdom ;
  dsi:shortDescription "Innovation foundation <b>UK</b>" ; dcterms:identifier "dsi4eu:organisation:1" .
o:nesta-italia a dsi:Organisation ; rdfs:label "Nesta Italia" ;
  dsi:country pl:italy .
o:waag a dsi:Organisation ; rdfs:label "Waag Society" ; skos:altLabel "Waag" ;
  dsi:website <https://waag.org> ; dsi:country pl:netherlands .
o:spam-shop a dsi:Organisation ; rdfs:label "Cheap Nesta Pills" ; dsi:hidden true .
o:old-waag a dsi:Organisation ; rdfs:label "Waag Society Amsterdam" ;
  dsi:mergedInto o:waag .
pr:nesta-open-data a dsi:Project ; rdfs:label "Nesta Open Data Challenge" ;
  dsi:country pl:united-kingdom .
pl:united-kingdom a dsi:Place ; rdfs:label "United Kingdom" .
pl:italy a dsi:Place ; rdfs:label "Italy" .
pl:netherlands a dsi:Place ; rdfs:label "Netherlands" .
"""


def _schema(name: str) -> dict:
    return json.loads((SPEC / "schemas" / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def validators():
    """Validators of the spec's schemas, with the schemas registered under their $id for $ref."""
    resources = []
    for file in (SPEC / "schemas").glob("*.json"):
        doc = json.loads(file.read_text())
        if "$id" in doc:
            resources.append((doc["$id"], Resource.from_contents(doc, default_specification=_draft())))
    registry = Registry().with_resources(resources)
    names = ["manifest", "reconciliation-query-batch", "reconciliation-result-batch",
             "suggest-entities-response", "suggest-types-response", "suggest-properties-response"]
    return {n: Draft7Validator(_schema(n), registry=registry) for n in names}


def _draft():
    from referencing.jsonschema import DRAFT7

    return DRAFT7


@pytest.fixture(scope="module")
def small_client(tmp_path_factory):
    from endpoint import create_app
    from kb.store import KB

    path = tmp_path_factory.mktemp("reconcile") / "store"
    kb = KB.open(settings_for(path))
    ttl = path.parent / "small.ttl"
    ttl.write_text(SMALL)
    kb.load_file(ttl, graph=kb.graphs.curated)
    app = create_app(kb.settings, kb=kb)
    app.config["TESTING"] = True
    return app.test_client()


@pytest.mark.parametrize("kind,valid", [
    ("manifest", True), ("manifest", False),
    ("reconciliation-query-batch", True), ("reconciliation-query-batch", False),
    ("reconciliation-result-batch", True), ("reconciliation-result-batch", False),
    ("suggest-entities-response", True), ("suggest-types-response", True),
    ("suggest-properties-response", True),
])
def test_spec_examples_validate_as_the_spec_says(validators, kind, valid):
    """Our use of the schemas is right: the spec's valid examples pass, its invalid ones fail."""
    folder = SPEC / "examples" / kind / ("valid" if valid else "invalid")
    files = sorted(folder.glob("*.json"))
    assert files
    schema_name = kind
    for file in files:
        doc = json.loads(file.read_text())
        if kind == "manifest" and "authentication" in doc:
            continue  # refers to the remote Swagger schema; we have no network
        errors = list(validators[schema_name].iter_errors(doc))
        assert (not errors) == valid, f"{file.name}: {[e.message for e in errors]}"


def test_manifest_validates_and_names_our_spaces(small_client, validators):
    r = small_client.get("/reconcile")
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    m = r.get_json()
    validators["manifest"].validate(m)
    assert m["versions"] == ["0.2"]
    assert m["identifierSpace"] == "https://w3id.org/dsi/id/"
    assert m["schemaSpace"] == "https://w3id.org/dsi/def/dsi#"
    assert {t["id"] for t in m["defaultTypes"]} == {"organisation", "project", "place"}
    assert m["preview"]["url"].startswith("http://localhost/reconcile/preview?id=")
    assert set(m["suggest"]) == {"entity", "type", "property"}


BATCH = {
    "q0": {"query": "NESTA", "type": "organisation",
           "properties": [{"pid": "website", "v": "https://nesta.org.uk"}, {"pid": "country", "v": "United Kingdom"}]},
    "q1": {"query": "Waag", "limit": 3},
    "q2": {"query": "Nesta Italia", "type": ["organisation"]},
    "q3": {"query": "zzzz qqqq"},
    "q4": {"query": "Nesta", "type": "project"},
}


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_batch_by_get_and_form_post_scores_and_flags_matches(small_client, validators, method):
    validators["reconciliation-query-batch"].validate(BATCH)
    payload = {"queries": json.dumps(BATCH)}
    r = small_client.get("/reconcile", query_string=payload) if method == "GET" \
        else small_client.post("/reconcile", data=payload)
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    validators["reconciliation-result-batch"].validate(body)
    assert set(body) == set(BATCH)
    top = body["q0"]["result"][0]
    assert top["id"] == "https://w3id.org/dsi/id/organisation/nesta" and top["match"] is True
    assert {f["id"]: f["value"] for f in top["features"]}["website"] is True
    # the Italian namesake is a candidate but scored below and not a match
    others = body["q0"]["result"][1:]
    assert all(not c["match"] and c["score"] < top["score"] for c in others)
    assert body["q1"]["result"][0]["id"].endswith("/organisation/waag")  # by its alternative name
    assert body["q2"]["result"][0]["id"].endswith("/nesta-italia") and body["q2"]["result"][0]["match"]
    assert body["q3"]["result"] == []
    assert [c["id"].split("/id/")[1] for c in body["q4"]["result"]] == ["project/nesta-open-data"]
    ids = {c["id"] for q in body.values() for c in q["result"]}
    assert not any("spam-shop" in i or "old-waag" in i for i in ids)  # hidden and merged stay out


def test_country_conflict_lowers_the_score(small_client):
    q = {"a": {"query": "Nesta", "properties": [{"pid": "country", "v": "Italy"}]}}
    body = small_client.post("/reconcile", data={"queries": json.dumps(q)}).get_json()
    assert body["a"]["result"][0]["id"].endswith("/nesta-italia")


@pytest.mark.parametrize("payload,needle", [
    ({"queries": "{not json"}, "not valid JSON"),
    ({"queries": "[]"}, "non-empty JSON object"),
    ({"queries": json.dumps({"q0": {"query": ""}})}, "non-empty 'query'"),
    ({"queries": json.dumps({"q0": {"query": "x", "type": "person-like"}})}, "unknown type"),
    ({"queries": json.dumps({"q0": {"query": "x", "limit": -1}})}, "limit"),
    ({"queries": json.dumps({"q0": {"qery": "x"}})}, "unknown member"),
])
def test_bad_batches_get_400_with_a_message(small_client, payload, needle):
    r = small_client.post("/reconcile", data=payload)
    assert r.status_code == 400
    assert needle in r.get_json()["message"]
    assert r.headers["Access-Control-Allow-Origin"] == "*"


def test_cors_preflight(small_client):
    r = small_client.options("/reconcile", headers={
        "Origin": "http://127.0.0.1:3333", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in r.headers["Access-Control-Allow-Methods"]
    assert r.headers["Access-Control-Allow-Headers"] == "content-type"


def test_jsonp_callback(small_client):
    r = small_client.get("/reconcile", query_string={"callback": "cb_1"})
    assert r.mimetype == "application/javascript"
    text = r.get_data(as_text=True)
    assert text.startswith("/**/cb_1(") and json.loads(text[len("/**/cb_1("):-2])["versions"] == ["0.2"]
    assert small_client.get("/reconcile", query_string={"callback": "alert(1)//"}).status_code == 400


def test_suggest_services_validate(small_client, validators):
    r = small_client.get("/reconcile/suggest/entity", query_string={"prefix": "wa"})
    body = r.get_json()
    validators["suggest-entities-response"].validate(body)
    assert [e["id"].rsplit("/", 1)[1] for e in body["result"]] == ["waag"]
    body = small_client.get("/reconcile/suggest/entity", query_string={"prefix": "nesta", "type": "project"}).get_json()
    assert [e["name"] for e in body["result"]] == ["Nesta Open Data Challenge"]
    body = small_client.get("/reconcile/suggest/type", query_string={"prefix": "org"}).get_json()
    validators["suggest-types-response"].validate(body)
    assert body["result"] == [{"id": "organisation", "name": "Organisation"}]
    body = small_client.get("/reconcile/suggest/property", query_string={"prefix": "web"}).get_json()
    validators["suggest-properties-response"].validate(body)
    assert [p["id"] for p in body["result"]] == ["website"]


def test_preview_is_escaped_html(small_client):
    r = small_client.get("/reconcile/preview", query_string={"id": "https://w3id.org/dsi/id/organisation/nesta"})
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert "Nesta" in html and "United Kingdom" in html and "&lt;b&gt;UK&lt;/b&gt;" in html
    assert small_client.get("/reconcile/preview", query_string={"id": "organisation/waag"}).status_code == 200
    assert small_client.get("/reconcile/preview", query_string={"id": "organisation/nope"}).status_code == 404
    assert small_client.get("/reconcile/preview").status_code == 400


def test_mixnmatch_catalogue(small_client):
    r = small_client.get("/export/mixnmatch.tsv")
    assert r.status_code == 200 and r.mimetype == "text/tab-separated-values"
    rows = [line.split("\t") for line in r.get_data(as_text=True).splitlines()]
    assert rows[0] == ["id", "name", "description", "url", "type"]
    by_id = {row[0]: row for row in rows[1:]}
    assert all(len(row) == 5 for row in rows)
    assert by_id["nesta"][1:] == ["Nesta", "Innovation foundation <b>UK</b>",
                                  "https://w3id.org/dsi/id/organisation/nesta", "Q43229"]
    assert set(by_id) == {"nesta", "nesta-italia", "waag"}  # organisations only; no hidden, no merged
    only = small_client.get("/export/mixnmatch.tsv?type=project").get_data(as_text=True).splitlines()
    assert [line.split("\t")[0] for line in only[1:]] == ["nesta-open-data"]
    assert only[1].endswith("\tQ170584")
    assert small_client.get("/export/mixnmatch.tsv?type=spaceship").status_code == 400


def test_index_follows_writes(tmp_path):
    """A write bumps the generation; the next query sees the new entity."""
    from kb.index import reconcile as rc
    from kb.store import KB

    kb = KB.open(settings_for(tmp_path / "store"))
    ttl = tmp_path / "a.ttl"
    ttl.write_text(SMALL)
    kb.load_file(ttl, graph=kb.graphs.curated)
    assert not rc.score(rc.index(kb), "Fab Lab Barcelona")
    kb.update('INSERT DATA { GRAPH <https://w3id.org/dsi/graph/curated> { '
              '<https://w3id.org/dsi/id/organisation/fablab-bcn> a dsi:Organisation ; rdfs:label "FabLab Barcelona" } }')
    assert rc.score(rc.index(kb), "Fab Lab Barcelona")[0]["id"].endswith("/fablab-bcn")


def test_real_data_reconciles(client, validators):
    """Against the store built from the real DSI exports: a name with its website is a match."""
    batch = {
        "a": {"query": "waag society", "type": "organisation",
              "properties": [{"pid": "website", "v": "https://waag.org"}]},
        "b": {"query": "Nesta", "properties": [{"pid": "country", "v": "United Kingdom"}]},
        "c": {"query": "Manchester", "type": "place"},
    }
    r = client.post("/reconcile", data={"queries": json.dumps(batch)})
    body = r.get_json()
    validators["reconciliation-result-batch"].validate(body)
    assert body["a"]["result"][0]["id"].endswith("/organisation/waag-society")
    assert body["a"]["result"][0]["match"] is True
    assert body["b"]["result"][0]["id"].endswith("/organisation/nesta")
    assert body["c"]["result"][0]["id"].endswith("/place/manchester-united-kingdom")
    tsv = client.get("/export/mixnmatch.tsv").get_data(as_text=True).splitlines()
    assert len(tsv) > 1000 and "\nwaag-society\tWaag Society\t" in "\n".join(tsv)


@pytest.mark.parametrize("queries", [
    '{"q0":' + "[" * 100_000 + "]" * 100_000 + "}",  # json.loads recursed: a 500
    '{"q0":{"query":"x","properties":[{"pid":[null],"v":null}]}}',  # pid.strip() on a list: a 500
    '{"q0":{"query":"x","properties":[{"pid":{},"v":1}]}}',
])
def test_malformed_query_batches_are_400(tiny_client, queries):
    """Found by tests/test_fuzz_routes.py: each of these answered 500."""
    r = tiny_client.get("/reconcile", query_string={"queries": queries})
    assert r.status_code == 400 and r.get_json()["message"]


@pytest.mark.parametrize("limit", ["inf", "-inf", "nan", "1e999", "9" * 5000, "-1"])
def test_suggest_limits_that_are_not_numbers_are_400(tiny_client, limit):
    r = tiny_client.get("/reconcile/suggest/entity", query_string={"prefix": "nes", "limit": limit})
    assert r.status_code == 400
