"""The public default graph (kb/store/publicview.py): after any sequence of writes it equals the RDF merge of
the named graphs without hidden and withdrawn entities, computed from scratch; and on the real data,
SPARQL clients get each solution once and the same figures as the home page, VoID and the dumps."""

from __future__ import annotations

import gzip
import json

import pyoxigraph as ox
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb.store import publicview
from kb.publish.dump import excluded_nodes
from tests.conftest import settings_for
from tests.support import counted_figures

BASE = "https://w3id.org/dsi/"
ENTITIES = [ox.NamedNode(f"{BASE}id/organisation/o{i}") for i in range(4)]
PROJECTS = [ox.NamedNode(f"{BASE}id/project/p{i}") for i in range(2)]
DSI = BASE + "def/dsi#"
RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
LABEL = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")


def _triple(draw_kind, i, j):
    e, p = ENTITIES[i % 4], PROJECTS[j % 2]
    m = ox.NamedNode(f"{p.value}#membership-o{i % 4}")
    return {
        "type": [ox.Triple(e, RDF_TYPE, ox.NamedNode(DSI + "Organisation"))],
        "label": [ox.Triple(e, LABEL, ox.Literal(f"Org {j}"))],
        "hidden": [ox.Triple(e, ox.NamedNode(DSI + "hidden"), ox.Literal(True))],
        "withdrawn": [ox.Triple(e, ox.NamedNode(DSI + "withdrawn"), ox.Literal("2026-12-01"))],
        "membership": [ox.Triple(m, RDF_TYPE, ox.NamedNode(DSI + "ActivityMembership")),
                       ox.Triple(m, ox.NamedNode(DSI + "organisation"), e),
                       ox.Triple(m, ox.NamedNode(DSI + "project"), p)],
    }[draw_kind]


statements = st.builds(_triple, st.sampled_from(["type", "label", "label", "hidden", "withdrawn", "membership"]),
                       st.integers(0, 3), st.integers(0, 1))
graph_names = st.sampled_from(["curated", "import/a", "import/b", "submission/s1"])
operations = st.lists(st.one_of(
    st.tuples(st.just("replace"), graph_names, st.lists(statements, max_size=6)),
    st.tuples(st.just("drop"), graph_names, st.just([])),
    st.tuples(st.just("update"), graph_names, st.lists(statements, min_size=1, max_size=3)),
), min_size=1, max_size=8)


def expected_default(kb) -> set:
    """The merge from scratch: every triple of every named graph once, less excluded nodes."""
    excluded = excluded_nodes(kb)
    return {q.triple for q in kb.quads()
            if isinstance(q.graph_name, ox.NamedNode) and not q.graph_name.value.startswith(kb.graphs.ns + "tmp/")
            and q.subject not in excluded and q.object not in excluded}


def actual_default(kb) -> set:
    return {q.triple for q in kb.quads(graph=ox.DefaultGraph())}


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    from kb.store import KB

    return KB.open(settings_for(tmp_path_factory.mktemp("public") / "store"))


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_every_write_keeps_the_merge(scratch, ops):
    kb = scratch
    for g in kb.named_graphs():
        kb.remove_graph(g)
    kb.raw_update("CLEAR DEFAULT")
    for kind, name, groups in ops:
        graph = BASE + "graph/" + name
        triples = [t for group in groups for t in group]
        if kind == "replace":
            kb.replace_graph(graph, triples)
        elif kind == "drop":
            kb.drop_graph(graph)
        else:  # an update that adds statements, naming the nodes it touches, as kb/ callers do
            body = " ".join(f"{t.subject} {t.predicate} {t.object} ." for t in triples)
            kb.update(f"INSERT DATA {{ GRAPH {ox.NamedNode(graph)} {{ {body} }} }}",
                      touched={t.subject for t in triples})
        assert actual_default(kb) == expected_default(kb), (kind, name)
    assert not [g for g in kb.named_graphs() if "/tmp/" in g], "staging graphs are dropped"


def test_an_operator_update_is_followed_by_a_full_derivation(scratch):
    kb = scratch
    e = ENTITIES[0]
    kb.update(f"INSERT DATA {{ GRAPH <{BASE}graph/curated> {{ {e} {LABEL} \"x\" . {e} <{DSI}hidden> true }} }}")
    assert actual_default(kb) == expected_default(kb)
    assert not any(t.subject == e for t in actual_default(kb))


# -- the real data, through the endpoint ---------------------------------------------------------
def _count(client, query: str) -> int:
    r = client.get("/sparql", query_string={"query": query}, headers={"Accept": "application/sparql-results+json"})
    assert r.status_code == 200, r.data
    return int(r.get_json()["results"]["bindings"][0]["n"]["value"])


def test_counts_are_the_public_figures_everywhere(client, built_kb):
    organisations = _count(client, "SELECT (COUNT(*) AS ?n) WHERE { ?s a dsi:Organisation }")
    assert organisations == _count(client, "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a dsi:Organisation }")
    health = counted_figures(client)
    assert health["entities"]["Organisation"] == organisations > 1200
    response = client.get("/dumps/dsi.nt.gz")
    dumped = set(ox.parse(gzip.decompress(response.data), ox.RdfFormat.N_TRIPLES))
    response.close()
    org = ox.NamedNode(DSI + "Organisation")
    assert len({t.subject for t in dumped if t.predicate == RDF_TYPE and t.object == org}) == organisations
    triples = _count(client, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    assert triples == len(dumped) == health["triples"]
    listing = json.loads(client.get("/dumps/", headers={"Accept": "application/json"}).data)
    assert listing["triples"] == triples
    sd = client.get("/sparql", headers={"Accept": "application/n-triples"}).data.decode()
    assert f'"{triples}"^^<http://www.w3.org/2001/XMLSchema#integer>' in sd
    html = client.get("/").get_data(as_text=True)
    assert f"{organisations:,}" in html


def test_a_plain_list_has_no_duplicates(client):
    r = client.get("/sparql", query_string={"query": """
        SELECT ?o ?name WHERE { ?o a dsi:Organisation ; rdfs:label ?name ;
                                  dsi:country <https://w3id.org/dsi/id/place/netherlands> }"""},
                   headers={"Accept": "application/sparql-results+json"})
    rows = [(b["o"]["value"], b["name"]["value"]) for b in r.get_json()["results"]["bindings"]]
    assert len(rows) > 20 and len(rows) == len(set(rows))
    construct = client.get("/sparql", query_string={"query": "CONSTRUCT WHERE { ?s a dsi:Organisation } LIMIT 3"},
                           headers={"Accept": "application/n-triples"}).data.decode().splitlines()
    assert len(construct) == len(set(construct)) == 3


def test_named_graphs_keep_provenance_and_hidden_entities(client, built_kb):
    sources = _count(client, "SELECT (COUNT(DISTINCT ?g) AS ?n) WHERE { GRAPH ?g { ?s a dsi:Organisation } }")
    assert sources >= 2
    hidden_default = _count(client, "SELECT (COUNT(*) AS ?n) WHERE { ?s dsi:hidden true }")
    hidden_named = _count(client, "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { GRAPH ?g { ?s dsi:hidden true } }")
    assert hidden_default == 0 and hidden_named > 10
    one_source = _count(client, "SELECT (COUNT(*) AS ?n) FROM <https://w3id.org/dsi/graph/import/dsi2013> "
                                "WHERE { ?s a dsi:Organisation }")
    protocol = client.get("/sparql", query_string={
        "query": "SELECT (COUNT(*) AS ?n) WHERE { ?s a dsi:Organisation }",
        "default-graph-uri": "https://w3id.org/dsi/graph/import/dsi2013"},
        headers={"Accept": "application/sparql-results+json"}).get_json()
    assert int(protocol["results"]["bindings"][0]["n"]["value"]) == one_source > 1000
