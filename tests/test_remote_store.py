"""DSIKB_STORE=sparql+http://... : the knowledge base read from a real remote SPARQL 1.1 store (the
``oxigraph serve`` binary from PyPI, started here on 127.0.0.1), through the same interface as a local
store and through the /sparql endpoint. Also: SERVICE to an allow-listed endpoint works."""

from __future__ import annotations

import gc
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyoxigraph as ox
import pytest

from tests.conftest import settings_for

EX = "http://example.org/"
G1, G2 = EX + "graph/one", EX + "graph/two"
OXIGRAPH = shutil.which("oxigraph", path=str(Path(sys.executable).parent)) or shutil.which("oxigraph")


def quads() -> list[ox.Quad]:
    out = []
    for i in range(25):
        s = ox.NamedNode(f"{EX}org/{i}")
        out.append(ox.Quad(s, ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label"),
                           ox.Literal(f"Org {i}", language="en"), ox.NamedNode(G1 if i % 2 else G2)))
        out.append(ox.Quad(s, ox.NamedNode(EX + "size"), ox.Literal(str(i), datatype=ox.NamedNode(
            "http://www.w3.org/2001/XMLSchema#integer")), ox.NamedNode(G1)))
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def oxigraph_url(tmp_path_factory):
    if OXIGRAPH is None:
        pytest.fail("the oxigraph server binary (PyPI package `oxigraph`, in the [test] extra) is missing")
    location = tmp_path_factory.mktemp("remote") / "db"
    store = ox.Store(str(location))
    store.extend(quads())
    store.flush()
    del store
    gc.collect()
    port = free_port()
    process = subprocess.Popen([OXIGRAPH, "serve-read-only", "--location", str(location),
                                "--bind", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/query"
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(url + "?query=ASK%7B%7D", timeout=2):
                break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                process.wait()
                pytest.fail("oxigraph serve did not start")
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(10)


@pytest.fixture()
def remote(oxigraph_url, tmp_path):
    from kb.store import KB

    return KB.open(settings_for("sparql+" + oxigraph_url))


@pytest.fixture(scope="module")
def local():
    store = ox.Store()
    store.extend(quads())
    return store


def test_kb_open_selects_the_remote_store(remote, oxigraph_url):
    from kb.store.remote import RemoteKB

    assert isinstance(remote, RemoteKB)
    assert remote.url == oxigraph_url


def test_select_matches_a_local_store(remote, local):
    query = "SELECT ?s ?label WHERE { ?s rdfs:label ?label } ORDER BY ?s"
    got = [(r["s"], r["label"]) for r in remote.select(query)]
    expected = [(s["s"], s["label"]) for s in local.query(
        query, prefixes={"rdfs": "http://www.w3.org/2000/01/rdf-schema#"}, use_default_graph_as_union=True)]
    assert got == expected and len(got) == 25
    assert got[0][1] == ox.Literal("Org 0", language="en")  # real terms, not strings


def test_ask_construct_graphs_and_counts(remote):
    assert remote.ask(f"ASK {{ <{EX}org/3> ?p ?o }}") is True
    assert remote.ask(f"ASK {{ <{EX}org/99> ?p ?o }}") is False
    triples = list(remote.query(f"CONSTRUCT WHERE {{ ?s <{EX}size> ?n }}"))
    assert len(triples) == 25 and all(isinstance(t, ox.Triple) for t in triples)
    assert remote.named_graphs() == [G1, G2]
    assert remote.triple_count() == 50
    assert remote.triple_count(G2) == 13  # labels of the even-numbered orgs
    assert remote.generation == 50
    # the union default graph is asked for; without it the remote default graph is empty
    assert len(remote.select("SELECT * WHERE { ?s ?p ?o }", union=False)) == 0


def test_remote_syntax_error_is_a_syntax_error(remote):
    with pytest.raises(SyntaxError, match="refused"):
        remote.select("SELECT * WHERE { ?s ?p }")


def test_endpoint_over_the_remote_store(oxigraph_url):
    from endpoint import create_app, sparql

    app = create_app(settings_for("sparql+" + oxigraph_url, rate_limit=0))
    app.config["TESTING"] = True
    try:
        c = app.test_client()
        r = c.get("/sparql", query_string={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s rdfs:label ?l }"})
        assert r.status_code == 200
        assert json.loads(r.data)["results"]["bindings"][0]["n"]["value"] == "25"
        r = c.get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p }"})
        assert r.status_code == 400
        r = c.get("/sparql", headers={"Accept": "text/turtle"})
        assert b"50" in r.data and G1.encode() in r.data
    finally:
        sparql.close(app)


def test_allow_listed_service_is_called(oxigraph_url, tmp_path):
    from endpoint import create_app, sparql
    from kb.store import KB

    settings = settings_for(tmp_path / "store", rate_limit=0, query_workers=1, service_allowlist=oxigraph_url)
    kb = KB.open(settings)
    app = create_app(settings, kb=kb)
    try:
        c = app.test_client()
        q = f"SELECT (COUNT(*) AS ?n) WHERE {{ SERVICE <{oxigraph_url}> {{ GRAPH ?g {{ ?s ?p ?o }} }} }}"
        r = c.get("/sparql", query_string={"query": q})
        assert r.status_code == 200, r.data
        assert json.loads(r.data)["results"]["bindings"][0]["n"]["value"] == "50"
        other = oxigraph_url.replace("/query", "/other")
        r = c.get("/sparql", query_string={"query": q.replace(oxigraph_url, other)})
        assert r.status_code == 400
        sd = c.get("/sparql", headers={"Accept": "text/turtle"}).data.decode()
        assert "BasicFederatedQuery" in sd
    finally:
        sparql.close(app)
