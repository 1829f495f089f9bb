"""The /sparql protocol through HTTP on a small real store: the three ways to send a query, result
formats parsed back, content negotiation, parameter errors, service description, CORS, caching."""

from __future__ import annotations

import csv
import io
import json
from urllib.parse import quote

import pyoxigraph as ox
import pytest
import rdflib
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
import rdflib.util
from rdflib.query import Result

from tests.conftest import settings_for
from kb.store import publicview

# rdflib's JSON-LD parser uses its own deprecated ConjunctiveGraph internally.
pytestmark = pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")

EX = "http://example.org/"
G1, G2 = EX + "graph/one", EX + "graph/two"
LABEL = "http://www.w3.org/2000/01/rdf-schema#label"


def fill(kb, n: int = 40) -> None:
    """n people in graph one, a label with a language and a comma in graph two."""
    quads = []
    for i in range(n):
        s = ox.NamedNode(f"{EX}person/{i}")
        quads.append(ox.Quad(s, ox.NamedNode(LABEL), ox.Literal(f"Person {i}"), ox.NamedNode(G1)))
        quads.append(ox.Quad(s, ox.NamedNode(EX + "age"), ox.Literal(str(20 + i), datatype=ox.NamedNode(
            "http://www.w3.org/2001/XMLSchema#integer")), ox.NamedNode(G1)))
    quads.append(ox.Quad(ox.NamedNode(EX + "thing"), ox.NamedNode(LABEL),
                         ox.Literal('Ding, "quoted"', language="de"), ox.NamedNode(G2)))
    kb.add_quads(quads)
    publicview.rebuild(kb)  # derive the public default graph of what was written directly
    kb.bump()
    kb.flush()


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    from endpoint import create_app, sparql
    from kb.store import KB

    path = tmp_path_factory.mktemp("sparql-small") / "store"
    settings = settings_for(path, rate_limit=0, max_rows=1000, query_workers=1)
    kb = KB.open(settings)
    fill(kb)
    app = create_app(settings, kb=kb)
    app.config["TESTING"] = True
    yield app
    sparql.close(app)


@pytest.fixture()
def c(small):
    return small.test_client()


SELECT_PEOPLE = f"SELECT ?s ?label WHERE {{ ?s <{LABEL}> ?label FILTER(STRSTARTS(?label, 'Person')) }}"


def send(client, how: str, query: str, accept: str | None = None, **params):
    headers = {"Accept": accept} if accept else {}
    if how == "get":
        return client.get("/sparql", query_string={"query": query, **params}, headers=headers)
    if how == "form":
        return client.post("/sparql", data={"query": query, **params}, headers=headers)
    return client.post("/sparql", data=query.encode(), content_type="application/sparql-query",
                       query_string=params, headers=headers)


def rows_json(response) -> list[dict]:
    data = json.loads(response.data)
    return [{k: v["value"] for k, v in b.items()} for b in data["results"]["bindings"]]


@pytest.mark.parametrize("how", ["get", "form", "direct"])
def test_select_by_each_protocol_form(c, how):
    r = send(c, how, SELECT_PEOPLE)
    assert r.status_code == 200, r.data
    assert r.mimetype == "application/sparql-results+json"
    rows = rows_json(r)
    assert len(rows) == 40
    assert {"s": f"{EX}person/7", "label": "Person 7"} in rows
    assert "Accept" in r.headers["Vary"]
    assert r.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("accept", ["application/sparql-results+xml", "text/csv", "text/tab-separated-values",
                                    "application/sparql-results+json"])
def test_select_formats_parse_back(c, accept):
    query = f"SELECT ?s ?label WHERE {{ ?s <{LABEL}> ?label }} ORDER BY ?s"
    r = send(c, "get", query, accept=accept)
    assert r.status_code == 200
    assert r.mimetype == accept
    if accept == "text/csv":
        table = list(csv.DictReader(io.StringIO(r.data.decode())))
        labels = {row["label"] for row in table}
    elif accept == "text/tab-separated-values":
        lines = r.data.decode().splitlines()
        assert lines[0] == "?s\t?label"
        labels = {line.split("\t")[1] for line in lines[1:]}
        assert '"Ding, \\"quoted\\""@de' in labels
        return
    else:
        fmt = "xml" if "xml" in accept else "json"
        result = Result.parse(io.BytesIO(r.data), format=fmt)
        labels = {str(row[1]) for row in result}
    assert 'Ding, "quoted"' in labels and "Person 0" in labels and len(labels) == 41


def test_ask_json_and_xml(c):
    r = send(c, "direct", f"ASK {{ <{EX}person/3> ?p ?o }}")
    assert json.loads(r.data) == {"head": {}, "boolean": True}
    r = send(c, "get", "ASK { <http://nowhere/> ?p ?o }", accept="application/sparql-results+xml")
    assert Result.parse(io.BytesIO(r.data), format="xml").askAnswer is False


@pytest.mark.parametrize("accept,fmt", [("text/turtle", "turtle"), ("application/n-triples", "nt"),
                                        ("application/ld+json", "json-ld"), ("application/rdf+xml", "xml"),
                                        ("application/n-quads", "nquads"), ("application/trig", "trig")])
def test_construct_formats_parse_back(c, accept, fmt):
    query = f"CONSTRUCT {{ ?s <{LABEL}> ?l }} WHERE {{ ?s <{LABEL}> ?l }}"
    r = send(c, "form", query, accept=accept)
    assert r.status_code == 200, r.data
    assert r.mimetype == accept
    if fmt in ("nquads", "trig"):  # rdflib's Dataset warns on its own internals: parse with pyoxigraph
        fmt_ox = ox.RdfFormat.N_QUADS if fmt == "nquads" else ox.RdfFormat.TRIG
        triples = [tuple(rdflib.util.from_n3(str(t)) for t in (q.subject, q.predicate, q.object))
                   for q in ox.parse(r.data, fmt_ox)]
    else:
        triples = list(rdflib.Graph().parse(data=r.data, format=fmt))
    assert len(triples) == 41
    assert (rdflib.URIRef(EX + "thing"), rdflib.RDFS.label, rdflib.Literal('Ding, "quoted"', lang="de")) in {
        t[:3] for t in triples}


def test_describe_returns_rdf(c):
    r = send(c, "get", f"DESCRIBE <{EX}person/1>", accept="text/turtle")
    g = rdflib.Graph().parse(data=r.data, format="turtle")
    assert (rdflib.URIRef(EX + "person/1"), rdflib.RDFS.label, rdflib.Literal("Person 1")) in g


def test_q_values_choose_the_format(c):
    r = send(c, "get", SELECT_PEOPLE, accept="application/sparql-results+json;q=0.5, text/csv;q=0.9")
    assert r.mimetype == "text/csv"
    r = send(c, "get", SELECT_PEOPLE, accept="application/json")
    assert r.mimetype == "application/sparql-results+json"
    r = send(c, "get", SELECT_PEOPLE, accept="*/*")
    assert r.mimetype == "application/sparql-results+json"


def test_format_parameter_overrides_accept(c):
    r = send(c, "get", SELECT_PEOPLE, accept="application/sparql-results+xml", format="csv")
    assert r.mimetype == "text/csv"
    r = send(c, "get", f"CONSTRUCT WHERE {{ ?s <{LABEL}> ?o }}", format="jsonld")
    assert r.mimetype == "application/ld+json"
    assert len(rdflib.Graph().parse(data=r.data, format="json-ld")) == 41


def test_406_lists_offered_types(c):
    r = send(c, "get", SELECT_PEOPLE, accept="image/png")
    assert r.status_code == 406
    for media in ("application/sparql-results+json", "text/csv", "text/tab-separated-values"):
        assert media in r.data.decode()
    r = send(c, "get", f"CONSTRUCT WHERE {{ ?s ?p ?o }}", format="csv")
    assert r.status_code == 406 and "text/turtle" in r.data.decode()


def test_syntax_error_names_line_and_column(c):
    r = send(c, "get", "SELECT * WHERE {\n  ?s ?p }")
    assert r.status_code == 400
    assert "line 2, column" in r.data.decode()
    # a browser client on another site can read the error too
    assert r.headers["Access-Control-Allow-Origin"] == "*" and "Accept" in r.headers["Vary"]


@pytest.mark.parametrize("request_kwargs,status,words", [
    ({"method": "GET", "query_string": "query=ASK%7B%7D&query=ASK%7B%7D"}, 400, "2 times"),
    ({"method": "POST", "data": "query=ASK%7B%7D&update=CLEAR%20ALL",
      "content_type": "application/x-www-form-urlencoded"}, 400, "not both"),
    ({"method": "POST", "query_string": "query=ASK%7B%7D", "data": "ASK {}",
      "content_type": "application/sparql-query"}, 400, "conflict"),
    ({"method": "POST", "data": "ASK {}", "content_type": "text/plain"}, 415, "application/sparql-query"),
    ({"method": "POST", "data": "ASK {}"}, 400, "no Content-Type"),  # W3C bad_query_missing_form_type
    ({"method": "POST", "data": "ASK {}".encode("utf-16"),
      "content_type": "application/sparql-query; charset=UTF-16"}, 415, "UTF-8"),
    ({"method": "GET", "query_string": "update=CLEAR%20ALL"}, 400, "POST"),
    ({"method": "DELETE"}, 405, "GET or POST"),
    ({"method": "PUT", "data": "ASK {}"}, 405, "GET or POST"),
    ({"method": "GET", "query_string": "query=ASK%7B%7D&default-graph-uri=not%20an%20iri"}, 400, "IRI"),
])
def test_bad_requests(c, request_kwargs, status, words):
    r = c.open("/sparql", **request_kwargs)
    assert r.status_code == status, r.data
    assert words in r.data.decode()


def test_405_has_allow_header(c):
    r = c.patch("/sparql")
    assert r.status_code == 405
    assert "POST" in r.headers["Allow"]


def test_413_for_a_too_long_query(small):
    from endpoint import create_app, sparql

    settings = small.config["DSIKB_SETTINGS"].replace(max_query_length=100)
    app = create_app(settings, kb=small.extensions["dsikb"])
    try:
        r = app.test_client().get("/sparql", query_string={"query": "ASK {} #" + "x" * 200})
        assert r.status_code == 413
        assert "at most 100" in r.data.decode()
    finally:
        sparql.close(app)


def test_protocol_dataset_selects_stored_graphs(c):
    q = f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s <{LABEL}> ?o }}"
    assert rows_json(send(c, "get", q))[0]["n"] == "41"  # default graph = union
    assert rows_json(send(c, "get", q, **{"default-graph-uri": G2}))[0]["n"] == "1"
    assert rows_json(send(c, "direct", q, **{"default-graph-uri": G1}))[0]["n"] == "40"
    # FROM in the query selects a stored graph; a graph the store lacks is empty
    assert rows_json(send(c, "get", f"SELECT (COUNT(*) AS ?n) FROM <{G2}> WHERE {{ ?s ?p ?o }}"))[0]["n"] == "1"
    assert rows_json(send(c, "get", "SELECT (COUNT(*) AS ?n) FROM <http://example.org/nope> "
                                    "WHERE { ?s ?p ?o }"))[0]["n"] == "0"
    named = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"
    assert [r["g"] for r in rows_json(send(c, "form", named, **{"named-graph-uri": G2}))] == [G2]


NOPE = EX + "graph/none"  # a graph the store lacks
SIZES = {G1: 80, G2: 1, NOPE: 0}
graph_lists = st.none() | st.lists(st.sampled_from(sorted(SIZES)), min_size=1, max_size=3, unique=True)


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(defaults=graph_lists, named=graph_lists, how=st.sampled_from(["get", "form", "direct"]),
       from_clause=st.booleans())
@example(defaults=None, named=[G2], how="get", from_clause=False)  # named graphs only: empty default
@example(defaults=[G1, NOPE], named=[G2], how="form", from_clause=True)  # the protocol overrides FROM
@example(defaults=None, named=None, how="direct", from_clause=True)  # FROM alone
def test_protocol_datasets_answer_as_the_protocol_says(c, defaults, named, how, from_clause):
    """SPARQL 1.1 Protocol 2.1.4: default-graph-uri and named-graph-uri make the dataset (an RDF
    dataset with only one of them has nothing in the other part), overriding FROM / FROM NAMED; with
    neither, the default graph is the public merge and every stored graph is named. Regression: on
    the remote store these requests answered 500 (issue 14); the same answers on both backends."""
    params = {}
    if defaults is not None:
        params["default-graph-uri"] = defaults
    if named is not None:
        params["named-graph-uri"] = named
    dataset = bool(params)
    prologue = f"FROM <{G2}> FROM NAMED <{G2}> " if from_clause else ""
    r = send(c, how, f"SELECT (COUNT(*) AS ?n) {prologue}WHERE {{ ?s ?p ?o }}", **params)
    assert r.status_code == 200, r.data
    expected = (sum(SIZES[g] for g in defaults or []) if dataset else 1 if from_clause
                else publicview.size(c.application.extensions["dsikb"]))
    assert rows_json(r)[0]["n"] == str(expected)
    r = send(c, how, f"SELECT ?g (COUNT(*) AS ?n) {prologue}WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }} GROUP BY ?g", **params)
    assert r.status_code == 200, r.data
    counts = {row["g"]: int(row["n"]) for row in rows_json(r) if row["g"] in SIZES}
    expected = ({g: SIZES[g] for g in named or [] if SIZES[g]} if dataset else {G2: 1} if from_clause
                else {G1: 80, G2: 1})
    assert counts == expected
    # the other query forms take the same dataset
    r = send(c, how, f"ASK {{ <{EX}thing> ?p ?o }}", **params)
    assert r.status_code == 200 and json.loads(r.data)["boolean"] is (G2 in (defaults or []) or not dataset)
    r = send(c, how, f"CONSTRUCT WHERE {{ <{EX}thing> ?p ?o }}", accept="application/n-triples", **params)
    assert r.status_code == 200 and len(r.data.decode().splitlines()) == int(G2 in (defaults or []) or not dataset)


def test_syntax_error_position_is_in_the_text_sent(c):
    """A query with undeclared prefixes is sent to a remote store after a prologue declaring them:
    the position must still be the one in the person's text, in the same words on every backend."""
    query = "SELECT ?s WHERE {\n  ?s a dsi:Organisation .\n  FILTER( }"
    for how in ("get", "form", "direct"):
        r = send(c, how, query)
        assert r.status_code == 400
        assert r.data.decode().startswith("400 Bad Request: SPARQL syntax error at line 3, column 12: expected"), r.data
    r = send(c, "get", "PREFIX x: <http://example.org/>\nSELECT * WHERE { ?s x:p ?o . ?s undeclared:p ?o }")
    assert r.status_code == 400 and "line 2, column 45:" in r.data.decode(), r.data


def test_row_cap_truncates_to_a_valid_document(small):
    from endpoint import create_app, sparql

    settings = small.config["DSIKB_SETTINGS"].replace(max_rows=5)
    app = create_app(settings, kb=small.extensions["dsikb"])
    try:
        r = app.test_client().get("/sparql", query_string={"query": SELECT_PEOPLE})
        assert len(rows_json(r)) == 5
        assert r.headers["X-SPARQL-Truncated"] == "rows"
        r = app.test_client().get("/sparql", query_string={
            "query": f"CONSTRUCT WHERE {{ ?s <{LABEL}> ?o }}", "format": "nt"})
        assert len(rdflib.Graph().parse(data=r.data, format="nt")) == 5
    finally:
        sparql.close(app)


def test_byte_cap_truncates_to_a_valid_document(small):
    from endpoint import create_app, sparql

    settings = small.config["DSIKB_SETTINGS"].replace(max_response_bytes=1000)
    app = create_app(settings, kb=small.extensions["dsikb"])
    try:
        r = app.test_client().get("/sparql", query_string={"query": SELECT_PEOPLE})
        assert len(r.data) <= 1000
        assert 0 < len(rows_json(r)) < 40
        assert r.headers["X-SPARQL-Truncated"] == "bytes"
    finally:
        sparql.close(app)


def test_large_results_stream(small):
    """A result bigger than one chunk is sent as a stream (no Content-Length), complete."""
    big = "SELECT ?s ?label ?n WHERE { ?s <%s> ?label VALUES ?n { %s } }" % (
        LABEL, " ".join(str(i) for i in range(20)))
    r = small.test_client().get("/sparql", query_string={"query": big}, buffered=False)
    assert r.status_code == 200
    assert r.headers.get("Content-Length") is None
    assert r.is_streamed
    assert len(rows_json(r)) == 820


@pytest.mark.parametrize("accept, expected", [
    ("text/csv", "text/csv"),  # one exact type: answered without parsing the header
    ("TEXT/CSV", "text/csv"),  # media types are case-insensitive
    ("application/json", "application/sparql-results+json"),  # an alias
    ("text/csv;q=0.5, application/sparql-results+xml", "application/sparql-results+xml"),
    ("text/plain;q=0.1, text/tab-separated-values", "text/tab-separated-values"),
    ("*/*", "application/sparql-results+json"),
    ("text/*", "text/csv"),  # HTML ties with CSV: data wins; the editor is for browsers preferring HTML
])
def test_accept_header_choices(c, accept, expected):
    r = c.get("/sparql", query_string={"query": SELECT_PEOPLE}, headers={"Accept": accept})
    assert r.status_code == 200, r.data
    assert r.mimetype == expected


def test_service_description(c):
    r = c.get("/sparql", headers={"Accept": "text/turtle"})
    assert r.status_code == 200 and r.mimetype == "text/turtle"
    g = rdflib.Graph().parse(data=r.data, format="turtle")
    sd = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
    void = rdflib.Namespace("http://rdfs.org/ns/void#")
    service = rdflib.URIRef("http://localhost/sparql")
    assert (service, sd.endpoint, service) in g
    assert (service, sd.supportedLanguage, sd.SPARQL11Query) in g
    assert (service, sd.resultFormat, rdflib.URIRef("http://www.w3.org/ns/formats/SPARQL_Results_JSON")) in g
    triples = g.value(g.value(g.value(service, sd.defaultDataset), sd.defaultGraph), void.triples)
    assert int(triples) == 81
    names = set(g.objects(None, sd.name))
    assert {rdflib.URIRef(G1), rdflib.URIRef(G2)} <= names
    for accept, fmt in (("application/ld+json", "json-ld"), ("application/rdf+xml", "xml")):
        r = c.get("/sparql", headers={"Accept": accept})
        assert r.mimetype == accept
        assert (service, sd.endpoint, service) in rdflib.Graph().parse(data=r.data, format=fmt)


def test_browser_gets_the_editor_with_prefixes_and_examples(c, small):
    r = c.get("/sparql", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.data.decode()
    assert "yasgui/yasgui.min.js" in html and "cdn" not in html.lower()
    config = json.loads(html.split('<script id="sparql-config" type="application/json">')[1].split("</script>")[0])
    assert config["endpoint"] == "http://localhost/sparql"
    assert config["prefixes"]["dsi"].endswith("def/dsi#")
    assert "<code>dsi:</code>" in html  # the prefix table people can read
    from endpoint.sparql_editor import examples

    assert len(examples()) >= 10
    for ex in examples():
        assert ex.title in html
    with c.get("/static/yasgui/yasgui.min.js") as js:
        assert js.status_code == 200 and b"Yasgui" in js.data


def test_shared_link_opens_the_editor_with_the_query(c):
    query = "SELECT ?org WHERE { ?org a dsi:Organisation } LIMIT 3"
    r = c.get("/sparql?query=" + quote(query), headers={"Accept": "text/html"})
    html = r.data.decode()
    config = json.loads(html.split('<script id="sparql-config" type="application/json">')[1].split("</script>")[0])
    assert config["initial"].endswith(query)
    assert "PREFIX dsi: <" in config["initial"]  # the prefix it uses, spelled out for the editor


def test_cors_preflight(c):
    r = c.options("/sparql", headers={"Origin": "https://yasgui.example", "Access-Control-Request-Method": "POST",
                                      "Access-Control-Request-Headers": "Content-Type"})
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in r.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in r.headers["Access-Control-Allow-Headers"]


def test_etag_and_conditional_get(c):
    r = send(c, "get", SELECT_PEOPLE)
    etag = r.headers["ETag"]
    assert "max-age" in r.headers["Cache-Control"]
    again = c.get("/sparql", query_string={"query": SELECT_PEOPLE}, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    other = c.get("/sparql", query_string={"query": SELECT_PEOPLE},
                  headers={"If-None-Match": etag, "Accept": "text/csv"})
    assert other.status_code == 200  # another representation, another ETag


def test_cache_and_etag_follow_the_store_generation(small):
    c = small.test_client()
    kb = small.extensions["dsikb"]
    q = f"SELECT (COUNT(*) AS ?n) WHERE {{ <{EX}new> ?p ?o }}"
    first = send(c, "get", q)
    assert rows_json(first)[0]["n"] == "0"
    assert send(c, "get", q).headers.get("X-SPARQL-Cache") == "hit"
    kb.add_quads([ox.Quad(ox.NamedNode(EX + "new"), ox.NamedNode(LABEL), ox.Literal("new"), ox.NamedNode(G2))])
    publicview.rebuild(kb)  # derive the public default graph of what was written directly
    kb.bump()
    kb.flush()
    after = send(c, "get", q)
    assert rows_json(after)[0]["n"] == "1"  # new workers see the write; the cache was dropped
    assert after.headers["ETag"] != first.headers["ETag"]
    stale = c.get("/sparql", query_string={"query": q}, headers={"If-None-Match": first.headers["ETag"]})
    assert stale.status_code == 200


def test_head_answers_like_get_without_a_body(c):
    r = c.head("/sparql", query_string={"query": SELECT_PEOPLE})
    assert r.status_code == 200 and r.data == b""
    assert r.mimetype == "application/sparql-results+json" and "ETag" in r.headers


def test_service_description_format_parameter(c):
    r = c.get("/sparql", query_string={"format": "jsonld"})
    assert r.mimetype == "application/ld+json"
    g = rdflib.Graph().parse(data=r.data, format="json-ld")
    service = rdflib.URIRef("http://localhost/sparql")
    assert (service, rdflib.URIRef("http://www.w3.org/ns/sparql-service-description#endpoint"), service) in g
    assert c.get("/sparql", query_string={"format": "csv"}).status_code == 406
