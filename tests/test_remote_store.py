"""DSIKB_STORE=sparql+http://... : every feature on a real remote triple store (``oxigraph serve``,
started here on 127.0.0.1 by tests/remote.py), through the one store interface (kb/store/base.py),
over real HTTP: pages, data, browse, search, submissions and moderation, merges, dumps, VoID, the
ontology, the command line, a store that goes away and comes back; and the /sparql endpoint."""

from __future__ import annotations

import io
import json
import re
import threading
import time

import pyoxigraph as ox
import pytest
import rdflib

from tests.remote import OxigraphServer, oxigraph_server, remote_built  # noqa: F401 - fixtures

EX = "http://example.org/"
BASE = "https://w3id.org/dsi/"
G1, G2 = BASE + "graph/import/one", BASE + "graph/import/two"
PASSWORD = "correct horse battery"


def quads() -> list[ox.Quad]:
    out = []
    for i in range(25):
        s = ox.NamedNode(f"{EX}org/{i}")
        out.append(ox.Quad(s, ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label"),
                           ox.Literal(f"Org {i}", language="en"), ox.NamedNode(G1 if i % 2 else G2)))
        out.append(ox.Quad(s, ox.NamedNode(EX + "size"), ox.Literal(str(i), datatype=ox.NamedNode(
            "http://www.w3.org/2001/XMLSchema#integer")), ox.NamedNode(G1)))
    return out


def open_remote(server, **overrides):
    from kb.store import KB

    return KB.open(server.settings(**overrides))


@pytest.fixture()
def small(oxigraph_server):  # noqa: F811
    """A remote store holding two graphs written through the interface."""
    kb = open_remote(oxigraph_server)
    for graph in (G1, G2):
        kb.replace_graph(graph, [q.triple for q in quads() if q.graph_name.value == graph])
    return kb


# -- the interface on a remote store ----------------------------------------------------------
def test_urls_from_settings():
    from kb.store.remote import endpoints
    from tests.conftest import settings_for

    assert endpoints(settings_for("sparql+http://h:7878")) == (
        "http://h:7878/query", "http://h:7878/update", "http://h:7878/store")
    assert endpoints(settings_for("sparql+http://h:7878/query")) == (
        "http://h:7878/query", "http://h:7878/update", "http://h:7878/store")
    assert endpoints(settings_for("sparql+https://h/sparql")) == ("https://h/sparql", "https://h/sparql", None)
    assert endpoints(settings_for("sparql+http://h:7878", store_gsp_url="none",
                                  store_update_url="http://u/up")) == ("http://h:7878/query", "http://u/up", None)


def test_bound_terms_are_substituted_as_pyoxigraph_does():
    from kb.store.remote import substitute

    store = ox.Store()
    store.extend(quads())
    label = "<http://www.w3.org/2000/01/rdf-schema#label>"
    cases = [  # a FILTER in a nested group, a GROUP BY key, a projection, text in strings and comments
        (f"SELECT ?s ?l WHERE {{ {{ ?s {label} ?x FILTER(?x = ?l) }} }}", {"l": ox.Literal("Org 3", language="en")}),
        ("SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g", {"g": ox.NamedNode(G1)}),
        ('SELECT ?s ?l WHERE { ?s ?p ?o FILTER(STR(?o) != "?l") } # ?l\nORDER BY ?s LIMIT 3', {"l": ox.Literal("x")}),
    ]
    for query, bind in cases:
        expected = [list(map(str, row)) for row in store.query(
            query, use_default_graph_as_union=True, substitutions={ox.Variable(k): v for k, v in bind.items()})]
        got = [list(map(str, row)) for row in store.query(substitute(query, bind), use_default_graph_as_union=True)]
        assert got == expected and got, query


def test_reads_match_the_embedded_store(small):
    from kb.store import KB
    from kb.store.remote import RemoteKB

    local = KB.in_memory(small.settings.replace(store="var/unused"))
    for graph in (G1, G2):
        local.replace_graph(graph, [q.triple for q in quads() if q.graph_name.value == graph])
    assert isinstance(small, RemoteKB)
    query = "SELECT DISTINCT ?s ?label WHERE { ?s rdfs:label ?label } ORDER BY ?s"
    assert small.select(query) == local.select(query) and len(small.select(query)) == 25
    assert small.select(query, union=False) == local.select(query, union=False)  # the public default graph
    in_graphs = "SELECT DISTINCT ?g ?s WHERE { GRAPH ?g { ?s rdfs:label ?l } } ORDER BY ?g ?s"
    assert small.select(in_graphs) == local.select(in_graphs) and len(small.select(in_graphs)) == 25
    assert small.named_graphs() == local.named_graphs() == [G1, G2]
    assert small.triple_count() == 50 and small.triple_count(G2) == 13
    org3 = ox.NamedNode(EX + "org/3")
    assert sorted(map(str, small.quads(org3))) == sorted(map(str, local.quads(org3)))
    assert set(small.quads(None, None, None, ox.DefaultGraph())) == set(local.quads(None, None, None, ox.DefaultGraph()))
    assert small.has_graph(G1) and not small.has_graph(BASE + "graph/none")
    assert small.ask("ASK { ?s rdfs:label ?l }", bind={"l": ox.Literal("Org 3", language="en")})
    assert small.graph_digest(G1) == local.graph_digest(G1)
    with pytest.raises(SyntaxError, match="refused"):
        small.select("SELECT * WHERE { ?s ?p }")


def test_writes_keep_the_public_default_graph_and_count_generations(small, oxigraph_server):  # noqa: F811
    other = open_remote(oxigraph_server)  # another app process on the same store
    before = other.generation
    assert small.replace_graph(G1, [q.triple for q in quads() if q.graph_name.value == G1]) is False
    org = ox.NamedNode(EX + "org/1")
    small.update(f"INSERT DATA {{ GRAPH <{G1}> {{ <{org.value}> <{BASE}def/dsi#hidden> true }} }}", touched=[org])
    assert small.generation == before + 1
    time.sleep(1.1)  # the generation is read again after at most a second
    assert other.generation == before + 1
    # the hidden organisation left the public default graph, not its named graph
    assert not small.ask("ASK { ?org ?p ?o }", union=False, bind={"org": org})
    assert small.ask("ASK { ?org ?p ?o }", bind={"org": org})
    assert small.drop_graph(G2) and small.named_graphs() == [G1]
    out = io.BytesIO()
    small.dump(out, ox.RdfFormat.N_TRIPLES, graph=G1)
    assert len(out.getvalue().splitlines()) == 38  # 12 labels, 25 sizes, the flag


def test_loads_without_the_graph_store_protocol(oxigraph_server, tmp_path):  # noqa: F811
    kb = open_remote(oxigraph_server, store_gsp_url="none")
    assert kb.gsp_url is None
    file = tmp_path / "x.nq"
    file.write_bytes(ox.serialize(quads(), format=ox.RdfFormat.N_QUADS))
    assert kb.load_file(file) == 50
    assert kb.triple_count() == 50 and kb.named_graphs() == [G1, G2]
    out = io.BytesIO()
    kb.dump(out, ox.RdfFormat.N_TRIPLES, graph=G2)
    assert len(out.getvalue().splitlines()) == 13


def test_sparql_users_see_no_bookkeeping_graph_with_a_public_graph(oxigraph_server):  # noqa: F811
    """With DSIKB_STORE_PUBLIC_GRAPH (Virtuoso's setting, usable on any store) /sparql's dataset is the
    public view and the knowledge base's graphs: not the generation's graph, the public view's graph
    itself or a staging graph, all under graph/tmp/."""
    from tests.support import make_app

    kb = open_remote(oxigraph_server, store_public_graph=BASE + "graph/tmp/public")
    for graph in (G1, G2):
        kb.replace_graph(graph, [q.triple for q in quads() if q.graph_name.value == graph])
    kb.add_quads([ox.Quad(ox.NamedNode(EX + "x"), ox.NamedNode(EX + "y"), ox.Literal("z"),
                          ox.NamedNode(BASE + "graph/tmp/staging-left"))])
    kb.bump()
    assert kb.has_graph(BASE + "graph/tmp/state") and kb.has_graph(BASE + "graph/tmp/public")
    client = make_app(kb).test_client()
    r = client.get("/sparql", query_string={"query": "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"},
                   headers={"Accept": "application/sparql-results+json"})
    assert r.status_code == 200, r.data
    assert sorted(b["g"]["value"] for b in json.loads(r.data)["results"]["bindings"]) == [G1, G2]
    r = client.get("/sparql", query_string={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"},
                   headers={"Accept": "application/sparql-results+json"})
    assert int(json.loads(r.data)["results"]["bindings"][0]["n"]["value"]) == 50  # the public view


# -- the web app over the remote store (real data) ---------------------------------------------
@pytest.fixture(scope="module")
def remote_app(remote_built, tmp_path_factory):  # noqa: F811
    from endpoint import create_app, sparql
    from kb.contribute.accounts import add_account

    root = tmp_path_factory.mktemp("remote-app")
    accounts = root / "moderators"
    add_account(accounts, "alice", PASSWORD)
    app = create_app(remote_built.settings(rate_limit=0, moderators=str(accounts), submission_rate_limit=0))
    app.config["TESTING"] = True
    yield app
    sparql.close(app)


@pytest.fixture()
def client(remote_app):
    return remote_app.test_client()


def an_organisation(kb) -> str:
    return kb.select("SELECT ?s WHERE { ?s a dsi:Organisation ; rdfs:label ?l } ORDER BY ?s LIMIT 1",
                     union=False)[0]["s"].value


def test_pages_and_data(remote_app, client):
    kb = remote_app.extensions["dsikb"]
    org = an_organisation(kb)
    path = org[len(BASE) - 1:]
    r = client.get(path, headers={"Accept": "text/html"})
    assert r.status_code == 303 and "/page/" in r.headers["Location"]
    page = client.get(r.headers["Location"])
    assert page.status_code == 200 and "ETag" in page.headers
    data = client.get(path, headers={"Accept": "text/turtle"}, follow_redirects=True)
    assert data.status_code == 200
    g = rdflib.Graph().parse(data=data.get_data(as_text=True), format="turtle")
    assert (rdflib.URIRef(org), None, None) in g
    assert client.get("/data" + path[len("/id"):] + ".ttl").status_code == 200


def test_browse_and_search(client):
    r = client.get("/browse/organisation", headers={"Accept": "text/html"})
    assert r.status_code == 200
    r = client.get("/search", query_string={"q": "digital"}, headers={"Accept": "text/html"})
    assert r.status_code == 200 and "/id/" in r.get_data(as_text=True)


def test_void_dumps_and_ontology(client):
    assert client.get("/def/dsi", headers={"Accept": "text/turtle"}).status_code == 200
    assert client.get("/def/dsi", headers={"Accept": "text/html"}).status_code == 200
    deadline = time.monotonic() + 180
    while True:  # the first build of the dumps answers 503 "try again" until it is done
        r = client.get("/dumps/", headers={"Accept": "application/json"})
        if r.status_code != 503 or time.monotonic() > deadline:
            break
        assert "try again" in r.get_json()["message"]
    assert r.status_code == 200, r.data
    assert {f["name"] for f in r.get_json()["files"]} >= {"dsi.nt.gz", "dsi.nq.gz", "dsi.ttl.gz"}
    with client.get("/dumps/dsi.nt.gz") as r:
        assert r.status_code == 200 and len(r.data) > 100_000
    r = client.get("/.well-known/void", headers={"Accept": "text/turtle"}, follow_redirects=True)
    assert r.status_code == 200 and b"void:triples" in r.data


def token(client, path):
    html = client.get(path, headers={"Accept": "text/html"}).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def moderator(app):
    c = app.test_client()
    resp = c.post("/moderate/login", data={"name": "alice", "password": PASSWORD,
                                           "csrf_token": token(c, "/moderate/login")})
    assert resp.status_code == 303, resp.get_data(as_text=True)
    return c


def test_submission_accepted_and_merged(remote_app, client):
    from tests.test_submissions import project

    kb = remote_app.extensions["dsikb"]
    partner = an_organisation(kb)
    data = project(name="Remote Store Air Project", partners=[{"organisation": partner, "role": "delivery-lead"}])
    r = client.post("/api/submissions", data=json.dumps(data), content_type="application/json")
    assert r.status_code == 202, r.get_data(as_text=True)
    sid = r.get_json()["id"]
    mod = moderator(remote_app)
    generation = kb.generation
    r = mod.post(f"/moderate/{sid}/accept", data={"csrf_token": token(mod, f"/moderate/{sid}")})
    assert r.status_code == 303, r.get_data(as_text=True)
    assert kb.generation > generation
    entity = BASE + "id/project/remote-store-air-project"
    assert kb.has_graph(kb.graphs.submission(sid))
    page = client.get("/page/project/remote-store-air-project", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "Remote Store Air Project" in page.get_data(as_text=True)
    assert kb.ask("ASK { ?e rdfs:label ?l }", union=False, bind={"e": ox.NamedNode(entity)})
    # a merge: the second entry redirects to the first
    a, b = BASE + "id/organisation/remote-lab-one", BASE + "id/organisation/remote-lab-1"
    kb.update(f'INSERT DATA {{ GRAPH <{kb.graphs.curated}> {{ <{a}> a dsi:Organisation ; rdfs:label "Remote Lab One" . '
              f'<{b}> a dsi:Organisation ; rdfs:label "Remote Lab 1" }} }}', touched=[ox.NamedNode(a), ox.NamedNode(b)])
    form = {"survivor": a, "merged": b, "reason": "one lab, two entries",
            "csrf_token": token(mod, "/moderate/merge")}
    r = mod.post("/moderate/merge", data=form)
    assert r.status_code == 200 and "Merged" in r.get_data(as_text=True)
    r = client.get("/id/organisation/remote-lab-1", headers={"Accept": "text/html"})
    assert r.status_code == 301 and r.headers["Location"].endswith("/id/organisation/remote-lab-one")


def test_sparql_default_graph_is_the_public_view(remote_app, client):
    kb = remote_app.extensions["dsikb"]
    r = client.get("/sparql", query_string={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"},
                   headers={"Accept": "application/sparql-results+json"})
    assert r.status_code == 200
    public = int(json.loads(r.data)["results"]["bindings"][0]["n"]["value"])
    assert public == len(list(kb.quads(graph=ox.DefaultGraph()))) > 1000
    r = client.get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p }"})
    assert r.status_code == 400


# -- the command line ------------------------------------------------------------------------
def test_cli_init_load_dump_stats(oxigraph_server, tmp_path, monkeypatch, capsys):  # noqa: F811
    from kb.cli import main
    from tests.conftest import SOURCES

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DSIKB_STORE", oxigraph_server.store)
    monkeypatch.setenv("DSIKB_SOURCES", str(SOURCES))
    assert main(["init", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["triples"] > 10_000
    assert main(["init", "--json"]) == 0  # again: nothing changes
    again = json.loads(capsys.readouterr().out)
    assert set(again["graphs"].values()) == {"unchanged"}
    file = tmp_path / "extra.nt"
    file.write_text(f"<{EX}a> <{EX}b> <{EX}c> .\n")
    assert main(["load", str(file), "--graph", BASE + "graph/load/extra"]) == 0
    assert "1 triples added" in capsys.readouterr().out
    out = tmp_path / "extra-dump.nt"
    assert main(["dump", "--format", "nt", "--graph", BASE + "graph/load/extra", "--out", str(out)]) == 0
    assert out.read_text().strip() == f"<{EX}a> <{EX}b> <{EX}c> ."
    assert main(["stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats


# -- a store that goes away and comes back -----------------------------------------------------
def test_store_down_gives_503_then_recovers(small, oxigraph_server):  # noqa: F811
    from endpoint import create_app, sparql

    app = create_app(oxigraph_server.settings(rate_limit=0))
    app.config["TESTING"] = True
    c = app.test_client()
    query = {"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"}
    stop = threading.Event()
    try:
        assert c.get("/sparql", query_string=query).status_code == 200
        statuses: list[int] = []

        def load():  # requests keep coming while the store stops and starts again
            client = app.test_client()
            while not stop.is_set():
                statuses.append(client.get("/sparql", query_string=query).status_code)

        worker = threading.Thread(target=load, daemon=True)
        worker.start()
        oxigraph_server.stop()
        time.sleep(1.5)
        r = c.get("/sparql", query_string=query)
        assert r.status_code == 503
        assert "cannot be reached" in r.get_data(as_text=True)
        page = c.get("/browse/organisation", headers={"Accept": "text/html"})
        assert page.status_code == 503 and "without a restart" in page.get_data(as_text=True)
        oxigraph_server.start()
        time.sleep(0.5)
        stop.set()
        worker.join(30)
        assert c.get("/sparql", query_string=query).status_code == 200
        assert c.get("/browse/organisation", headers={"Accept": "text/html"}).status_code == 200
        assert set(statuses) <= {200, 503} and 503 in statuses
    finally:
        stop.set()
        sparql.close(app)


def test_allow_listed_service_is_called(small, oxigraph_server, tmp_path):  # noqa: F811
    from endpoint import create_app, sparql
    from kb.store import KB
    from tests.conftest import settings_for

    url = oxigraph_server.url + "/query"
    settings = settings_for(tmp_path / "store", rate_limit=0, query_workers=1, service_allowlist=url)
    kb = KB.open(settings)
    app = create_app(settings, kb=kb)
    try:
        c = app.test_client()
        q = f"SELECT (COUNT(*) AS ?n) WHERE {{ SERVICE <{url}> {{ GRAPH <{G1}> {{ ?s ?p ?o }} }} }}"
        r = c.get("/sparql", query_string={"query": q})
        assert r.status_code == 200, r.data
        assert json.loads(r.data)["results"]["bindings"][0]["n"]["value"] == "37"
        other = url.replace("/query", "/other")
        r = c.get("/sparql", query_string={"query": q.replace(url, other)})
        assert r.status_code == 400
        sd = c.get("/sparql", headers={"Accept": "text/turtle"}).data.decode()
        assert "BasicFederatedQuery" in sd
    finally:
        sparql.close(app)


def test_counts_off_the_request_path_may_take_longer_than_a_query(monkeypatch):
    """At 10M statements the store's figures (entities per class: 25 s on a busy machine) took longer
    than the HTTP read timeout of a user's query (DSIKB_QUERY_TIMEOUT + 5 s), so they were never
    counted. Within ``patient(seconds)`` a thread's queries may take that long. A store that answers
    after 5.6 s, over real HTTP: a query times out (503 after its tries); a patient one gets its rows."""
    import http.server

    from kb.errors import KBError
    from kb.settings import Settings
    from kb.store import remote

    class Slow(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            time.sleep(5.6)
            body = b'{"head":{"vars":["n"]},"results":{"bindings":[{"n":{"type":"literal","value":"7"}}]}}'
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/sparql-results+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:  # the client gave up
                pass

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(remote, "ATTEMPTS", 1)  # one try each: the point is the timeout, not the retries
    try:
        settings = Settings.from_env(store=f"sparql+http://127.0.0.1:{server.server_port}/query").replace(
            query_timeout=0.1)
        kb = remote.RemoteKB(settings)
        query = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
        with pytest.raises(KBError) as caught:
            kb.select(query, union=False, prologue=False)
        assert caught.value.status == 503 and "timed out" in caught.value.message
        with kb.patient(30):
            rows = kb.select(query, union=False, prologue=False)
        assert rows[0]["n"].value == "7"
        with pytest.raises(KBError):  # only within the block
            kb.select(query, union=False, prologue=False)
    finally:
        server.shutdown()
        server.server_close()
