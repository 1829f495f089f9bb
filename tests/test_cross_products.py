"""A remote store is never sent a cross product it cannot stop (kb/sparql/products.py).

The Oxigraph server's timeout cancels a query only at its next read of the store, and a join of parts
that share no variable runs in memory between reads: such a query sent by the test suite ran for 20
CPU minutes past the server's `--timeout-s 120` and grew it to 4.9 GB. On a remote store the endpoint
refuses, from the parsed algebra, a query that joins three or more unrelated parts; on the embedded
store the worker evaluating a query is killed at the timeout instead, so nothing is refused there.
"""

from __future__ import annotations

import time
from pathlib import Path

import pyoxigraph as ox
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb.errors import BadRequest
from kb.sparql import products, safety
from tests.remote import oxigraph_server  # noqa: F401 - fixture

PREFIXES = {"dsi": "https://w3id.org/dsi/def/dsi#", "rdfs": "http://www.w3.org/2000/01/rdf-schema#"}
PRODUCT = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
JOINED = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?p ?o . ?b ?p ?o2 . ?c ?p ?o3 . ?d ?p ?o4 }"
EX = "http://example.org/"


def refused(query: str) -> bool:
    try:
        products.check(query, safety.analyse(query, PREFIXES), PREFIXES)
    except BadRequest:
        return True
    return False


@pytest.mark.parametrize("query", [
    PRODUCT,
    "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }",
    "SELECT * WHERE { ?a a dsi:Organisation . ?b a dsi:Project . ?c a dsi:Organisation }",
    "SELECT * WHERE { [] ?b ?c . [] ?e ?f . [] ?h ?i }",  # blank nodes are variables, each its own
    "SELECT * WHERE { ?a ?b ?c OPTIONAL { ?d ?e ?f } OPTIONAL { ?g ?h ?i } }",
    "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i FILTER(?c = ?f && ?f = ?i) }",  # filtered after
    "SELECT * WHERE { { ?a ?b ?c } UNION { ?d ?e ?f . ?g ?h ?i . ?j ?k ?l } }",  # inside a branch
    "SELECT * WHERE { ?s ?p ?o FILTER NOT EXISTS { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } }",
    "ASK { ?s ?p ?o MINUS { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } }",
    "SELECT * WHERE { ?s ?p ?o { SELECT ?x WHERE { ?x ?y ?z . ?a ?b ?c . ?d ?e ?f } } }",
    "SELECT * WHERE { { SELECT ?x { ?x ?y ?z } } { SELECT ?a { ?a ?b ?c } } { SELECT ?d { ?d ?e ?f } } }",
    "CONSTRUCT { ?a ?b ?c } WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }",
    "select * where{?a ?b ?c.?d ?e ?f.?g ?h ?i}",
    "SELECT * WHERE { GRAPH <http://example.org/g> { ?a ?b ?c . ?d ?e ?f . ?x ?y ?z } }",
])
def test_three_unrelated_parts_are_refused(query):
    assert refused(query)


@pytest.mark.parametrize("query", [
    "ASK { <http://example.org/s> ?p ?o }",
    "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f }",  # two: cancelled at each read of the first
    JOINED,  # one part: every combination is a read of the store
    "SELECT * WHERE { ?a ?p ?b . ?b ?q ?c . ?c ?r ?d . ?d ?s ?e }",
    "SELECT * WHERE { GRAPH ?g { ?a ?b ?c . ?d ?e ?f . ?x ?y ?z } }",  # ?g joins them
    "SELECT * WHERE { ?a ?b ?c . BIND(?a AS ?d) ?d ?e ?f . ?f ?x ?y }",
    "SELECT * WHERE { VALUES ?v { 1 2 3 } VALUES ?w { 4 5 } ?a ?b ?c . ?d ?e ?f }",
    "SELECT ?o ?l WHERE { ?o a dsi:Organisation ; rdfs:label ?l . ?p dsi:x ?o . ?p rdfs:label ?pl }",
    "SELECT (COUNT(?o) AS ?n) (SAMPLE(?l) AS ?s) WHERE { ?o rdfs:label ?l . ?x ?y ?z } GROUP BY ?o",
    "SELECT ?x WHERE { ?x a dsi:Organisation . { ?x rdfs:label ?l } UNION { ?x dsi:name ?l } }",
])
def test_joined_parts_are_let_through(query):
    assert not refused(query)


def test_every_gallery_query_is_let_through():
    gallery = sorted((Path(__file__).resolve().parent.parent / "endpoint" / "queries").glob("*.rq"))
    assert len(gallery) >= 13
    for path in gallery:
        assert not refused(path.read_text()), path.name


def test_the_refusal_says_which_parts_and_what_to_do():
    with pytest.raises(BadRequest) as caught:
        products.check(PRODUCT, safety.analyse(PRODUCT), {})
    message = caught.value.message
    assert "4 parts" in message and "?a ?b ?c" in message and "?j ?k ?l" in message
    assert "shared variable" in message


# -- generated patterns: the verdict follows the parts, counted here from the structure generated ----

VARS = ["?a", "?b", "?c", "?d", "?e", "?f", "?g"]
term = st.one_of(st.sampled_from(VARS), st.just("<http://example.org/k>"))
triple = st.tuples(term, st.sampled_from(VARS + ["<http://example.org/p>"]), term)
# a group element: ("t", triple) | ("opt", [triples]) | ("graph", var or None, [triples]) | ("filter", var, var)
element = st.one_of(
    st.tuples(st.just("t"), triple),
    st.tuples(st.just("opt"), st.lists(triple, min_size=1, max_size=3)),
    st.tuples(st.just("graph"), st.one_of(st.none(), st.sampled_from(VARS)), st.lists(triple, min_size=1, max_size=3)),
    st.tuples(st.just("filter"), st.sampled_from(VARS), st.sampled_from(VARS)),
)


def _text(elements) -> str:
    def triples(ts):
        return " . ".join(" ".join(t) for t in ts)

    out = []
    for el in elements:
        if el[0] == "t":
            out.append(" ".join(el[1]) + " .")
        elif el[0] == "opt":
            out.append("OPTIONAL { " + triples(el[1]) + " }")
        elif el[0] == "graph":
            out.append(f"GRAPH {el[1] or '<http://example.org/g>'} {{ " + triples(el[2]) + " }")
        else:
            out.append(f"FILTER({el[1]} != {el[2]})")
    return "SELECT * WHERE { " + " ".join(out) + " }"


def _expected_parts(elements) -> int:
    """Connected groups of variables, from the generated structure (filters connect nothing)."""
    groups: list[set] = []

    def add(names):
        names = set(names)
        if not names:
            return
        rest = [g for g in groups if not g & names]
        for g in groups:
            if g & names:
                names |= g
        groups[:] = rest + [names]

    def var_names(t):
        return {x for x in t if x.startswith("?")}

    for el in elements:
        if el[0] == "t":
            add(var_names(el[1]))
        elif el[0] == "opt":
            for t in el[1]:
                add(var_names(t))
        elif el[0] == "graph":
            inside = set().union(*(var_names(t) for t in el[2]))
            if el[1] is None:
                for t in el[2]:
                    add(var_names(t))
            else:
                add(inside | {el[1]})
    return len(groups)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(element, min_size=1, max_size=6))
def test_generated_patterns_are_refused_exactly_when_three_parts_share_no_variable(elements):
    query = _text(elements)
    # an OPTIONAL's own triples are joined inside it first: count its parts the same way
    assert refused(query) == (_expected_parts(elements) >= products.LIMIT), query


# -- through the endpoint, on a real Oxigraph server ----------------------------------------------------

@pytest.fixture()
def remote_app(oxigraph_server):  # noqa: F811
    from endpoint import create_app, sparql
    from kb.store import KB, publicview

    settings = oxigraph_server.settings(rate_limit=0, query_timeout=1, client_queries=0)
    kb = KB.open(settings)
    kb.add_quads(ox.Quad(ox.NamedNode(f"{EX}s/{i}"), ox.NamedNode(EX + "p"), ox.Literal(str(i)),
                         ox.NamedNode(EX + "g")) for i in range(300))
    publicview.rebuild(kb)
    kb.bump()
    app = create_app(settings, kb=kb)
    app.config["TESTING"] = True
    yield app, oxigraph_server
    sparql.close(app)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    import os

    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_remote_store_never_gets_the_product_and_keeps_answering(remote_app):
    app, server = remote_app
    client = app.test_client()
    accept = {"Accept": "application/sparql-results+json"}
    before = _cpu_seconds(server.process.pid)
    started = time.monotonic()
    response = client.get("/sparql", query_string={"query": PRODUCT}, headers=accept)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert time.monotonic() - started < 5
    assert "cross product" in response.get_data(as_text=True)
    # POST (form and direct) are checked the same
    form = client.post("/sparql", data={"query": PRODUCT}, headers=accept)
    direct = client.post("/sparql", data=PRODUCT, headers={**accept, "Content-Type": "application/sparql-query"})
    assert form.status_code == direct.status_code == 400
    time.sleep(1.0)
    assert _cpu_seconds(server.process.pid) - before < 1.0  # the server was not given it
    # a huge join of related parts runs until the app's timeout (the server's own stops it there)
    slow = client.get("/sparql", query_string={"query": JOINED}, headers=accept)
    assert slow.status_code == 503 and "DSIKB_QUERY_TIMEOUT" in slow.get_data(as_text=True)
    ok = client.get("/sparql", query_string={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"},
                    headers=accept)
    assert ok.status_code == 200 and ok.get_json()["results"]["bindings"][0]["n"]["value"] == "300"


def test_the_embedded_store_still_runs_it_until_the_timeout(tmp_path):
    """Nothing is refused on the embedded store: the worker evaluating it is killed at the timeout."""
    from tests import support
    from tests.test_sparql_safety import make_app

    if support.remote():
        pytest.skip("about the embedded store's worker processes")
    app = make_app(tmp_path / "store", query_timeout=1)  # 200^4 combinations
    try:
        response = app.test_client().get("/sparql", query_string={"query": PRODUCT},
                                          headers={"Accept": "application/sparql-results+json"})
        assert response.status_code == 503, response.get_data(as_text=True)
    finally:
        from endpoint import sparql

        sparql.close(app)
