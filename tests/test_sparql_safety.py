"""A public endpoint one user cannot take down or turn against others: no outbound fetches (SERVICE,
LOAD, FROM), update only with the token, a query timeout that really stops the query while others are
answered, rate limiting."""

from __future__ import annotations

import http.server
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
import time
from concurrent.futures import ThreadPoolExecutor

import pyoxigraph as ox
import pytest

from tests.conftest import settings_for
from tests.support import live_server
from kb.store import publicview

EX = "http://example.org/"
TOKEN = "s3cret-token-for-tests"


def make_app(path, n=200, **overrides):
    from endpoint import create_app
    from kb.store import KB

    settings = settings_for(path, **{"rate_limit": 0, **overrides})
    kb = KB.open(settings)
    kb.add_quads(ox.Quad(ox.NamedNode(f"{EX}s/{i}"), ox.NamedNode(EX + "p"), ox.Literal(str(i)),
                            ox.NamedNode(EX + "g")) for i in range(n))
    publicview.rebuild(kb)  # derive the public default graph of what was written directly
    kb.bump()
    kb.flush()
    app = create_app(settings, kb=kb)
    app.config["TESTING"] = True
    return app


@pytest.fixture()
def app_factory(tmp_path):
    from endpoint import sparql

    apps = []

    def build(**overrides):
        app = make_app(tmp_path / f"store{len(apps)}", **overrides)
        apps.append(app)
        return app

    yield build
    for app in apps:
        sparql.close(app)


@pytest.fixture()
def listener():
    """A local HTTP server that records every request it gets (it must get none)."""
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/turtle")
            self.end_headers()
            self.wfile.write(b"<http://a> <http://b> <http://c> .")

        do_POST = do_GET

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", hits
    server.shutdown()
    server.server_close()
    thread.join()


def test_service_is_refused_before_evaluation(app_factory, listener):
    url, hits = listener
    c = app_factory().test_client()
    for query in (f"SELECT * WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}",
                  f"SELECT * WHERE {{ SERVICE SILENT <{url}> {{ ?s ?p ?o }} }}",
                  f"PREFIX r: <{url}> SELECT * WHERE {{ SERVICE r:x {{ ?s ?p ?o }} }}",
                  "SELECT * WHERE { BIND(<%s> AS ?e) SERVICE ?e { ?s ?p ?o } }" % url):
        r = c.get("/sparql", query_string={"query": query})
        assert r.status_code == 400, query
        assert "SERVICE" in r.data.decode() and "DSIKB_SERVICE_ALLOWLIST" in r.data.decode()
    # the word inside a string or comment is not a SERVICE call
    r = c.get("/sparql", query_string={"query": 'SELECT ?x WHERE { BIND("SERVICE <x>" AS ?x) } # SERVICE <y>'})
    assert r.status_code == 200
    assert hits == []


def test_from_and_dataset_parameters_never_fetch(app_factory, listener):
    url, hits = listener
    c = app_factory().test_client()
    r = c.get("/sparql", query_string={"query": f"SELECT (COUNT(*) AS ?n) FROM <{url}> WHERE {{ ?s ?p ?o }}"})
    assert json.loads(r.data)["results"]["bindings"][0]["n"]["value"] == "0"
    r = c.get("/sparql", query_string={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }",
                                       "default-graph-uri": url, "named-graph-uri": url})
    assert json.loads(r.data)["results"]["bindings"][0]["n"]["value"] == "0"
    assert hits == []


def test_update_is_refused_on_a_read_only_endpoint(app_factory):
    c = app_factory().test_client()
    r = c.post("/sparql", data="INSERT DATA { <http://a> <http://b> <http://c> }",
               content_type="application/sparql-update", headers={"Authorization": "Bearer anything"})
    assert r.status_code == 403
    assert "read-only" in r.data.decode()


def test_update_needs_the_token(app_factory):
    app = app_factory(update_token=TOKEN)
    c = app.test_client()
    update = f"INSERT DATA {{ GRAPH <{EX}g> {{ <{EX}new> <{EX}p> 'x' }} }}"
    ask = {"query": f"ASK {{ <{EX}new> ?p ?o }}"}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic " + TOKEN}):
        r = c.post("/sparql", data=update, content_type="application/sparql-update", headers=headers)
        assert r.status_code == 401 and "Bearer" in r.headers["WWW-Authenticate"]
    assert json.loads(c.get("/sparql", query_string=ask).data)["boolean"] is False
    r = c.post("/sparql", data={"update": update}, headers={"Authorization": "Bearer " + TOKEN})
    assert r.status_code == 204
    # workers reopen on the new generation and see the write
    assert json.loads(c.get("/sparql", query_string=ask).data)["boolean"] is True
    # the token is kept hashed, never in clear
    from endpoint.sparql import SparqlService

    svc: SparqlService = app.extensions["dsikb_sparql"]
    assert TOKEN.encode() not in svc.token_hash
    r = c.post("/sparql", data="CLEAR XYZ", content_type="application/sparql-update",
               headers={"Authorization": "Bearer " + TOKEN})
    assert r.status_code == 400 and "syntax" in r.data.decode()


def test_load_is_refused_even_with_the_token(app_factory, listener):
    url, hits = listener
    c = app_factory(update_token=TOKEN).test_client()
    r = c.post("/sparql", data=f"LOAD <{url}data.ttl>", content_type="application/sparql-update",
               headers={"Authorization": "Bearer " + TOKEN})
    assert r.status_code == 400 and "LOAD is refused" in r.data.decode()
    assert hits == []


def fetch(url: str, query: str) -> tuple[int, str]:
    """GET a query as a plain HTTP client would: (status, body text)."""
    full = url + "?" + urllib.parse.urlencode({"query": query})
    request = urllib.request.Request(full, headers={"Accept": "application/sparql-results+json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read().decode()


# 200^4 combinations joined on ?p (a cross product of unrelated parts is refused before it runs on a
# remote store, kb/sparql/products.py; this one reads the store between combinations, so every engine stops it)
PATHOLOGICAL = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?p ?o . ?b ?p ?o2 . ?c ?p ?o3 . ?d ?p ?o4 }"


@pytest.fixture()
def live(app_factory):
    app = app_factory(query_timeout=1.0, query_workers=2, client_queries=0)  # both from one client
    with live_server(app) as url:
        yield url + "/sparql"


def test_timeout_stops_the_query_and_others_are_served(live):
    assert fetch(live, "ASK {}")[0] == 200  # workers started

    def slow():
        start = time.monotonic()
        result = fetch(live, PATHOLOGICAL)
        return result, time.monotonic() - start

    with ThreadPoolExecutor(2) as pool:
        pending = pool.submit(slow)
        time.sleep(0.2)
        start = time.monotonic()
        status, body = fetch(live, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
        quick_time = time.monotonic() - start
        (slow_status, slow_body), elapsed = pending.result()
    assert status == 200 and json.loads(body)["results"]["bindings"][0]["n"]["value"] == "200"
    assert quick_time < 1.0  # answered while the slow one was still running
    assert slow_status == 503
    assert "DSIKB_QUERY_TIMEOUT" in slow_body and "1 s" in slow_body
    assert elapsed < 2.0  # within timeout + 1 s
    # the killed worker is replaced: the endpoint keeps answering
    status, body = fetch(live, "ASK { ?s ?p ?o }")
    assert json.loads(body)["boolean"] is True


@pytest.mark.embedded_only("SPARQL queries run in worker processes that open the on-disk store; a remote store evaluates them itself")
def test_a_quiet_endpoint_answers_from_the_worker_that_answered_last(app_factory):
    """Idle workers are taken last in, first out: one after another, queries go to the worker with
    the warmest caches rather than round the pool."""
    app = app_factory(query_workers=2, light_workers=0)  # one pool (ASK would take the light lane)
    c = app.test_client()
    pool = app.extensions["dsikb_sparql"].pool
    answered = []
    for n in range(4):
        r = c.get("/sparql", query_string={"query": f"ASK {{ ?s ?p ?o }} # {n}"})
        assert r.status_code == 200 and json.loads(r.data)["boolean"] is True
        answered.append(pool._idle.queue[-1])  # the worker given back last is taken next
    assert len(pool._idle.queue) == 2  # both workers started and are idle
    assert len(set(map(id, answered))) == 1


# -- nesting: Oxigraph's recursive-descent parser overflows its stack on deep nesting -----------------
DEEP = {
    "parentheses": "SELECT * { FILTER(" + "(" * 5000 + "1" + ")" * 5000 + ") }",
    "groups": "SELECT * " + "{ " * 5000 + "}" * 5000,
    "blank nodes": "SELECT * { ?s ?p " + "[ ?p " * 5000 + "1" + " ]" * 5000 + " }",
    "subqueries": "SELECT * {" + " { SELECT * {" * 3000 + "}}" * 3000 + "}",
}


@pytest.mark.parametrize("name", sorted(DEEP))
def test_deeply_nested_queries_are_refused_before_parsing(app_factory, name):
    c = app_factory().test_client()
    r = c.post("/sparql", data=DEEP[name], content_type="application/sparql-query")
    assert r.status_code == 400, r.data[:300]
    assert "levels deep" in r.data.decode() and "limit" in r.data.decode()
    assert c.get("/sparql", query_string={"query": "ASK {}"}).status_code == 200  # still serving


def test_long_operator_chains_are_refused(app_factory):
    c = app_factory().test_client()
    for query in ("SELECT * { {}" + " UNION {}" * 10000 + " }",
                  "SELECT * { FILTER(" + "1+" * 20000 + "1) }"):
        r = c.post("/sparql", data=query, content_type="application/sparql-query")
        assert r.status_code == 400, r.data[:300]
        assert "limit" in r.data.decode()


def test_deeply_nested_updates_are_refused_without_crashing_the_web_process(app_factory):
    """Updates are parsed in the web process itself: a stack overflow there would take it down."""
    c = app_factory(update_token=TOKEN).test_client()
    update = "INSERT DATA { <http://a> <http://b> " + "[ <http://p> " * 5000 + "1" + " ]" * 5000 + " }"
    r = c.post("/sparql", data=update, content_type="application/sparql-update",
               headers={"Authorization": "Bearer " + TOKEN})
    assert r.status_code == 400 and "levels deep" in r.data.decode()


def test_ordinary_nesting_is_accepted(app_factory):
    c = app_factory().test_client()
    query = ("SELECT ?s WHERE { { SELECT ?s WHERE { OPTIONAL { ?s ?p ?o FILTER(STRLEN(LCASE(STR(?o)))"
             " > (1 + (2 * (3 - 1)))) } } LIMIT 1 } }")
    assert c.get("/sparql", query_string={"query": query}).status_code == 200


# -- the tokenizer follows the SPARQL terminals -------------------------------------------------------
def test_keywords_are_not_prefixed_names():
    from kb.sparql import safety

    toks = [t.text for t in safety.tokens("?s ?p true.SERVICE<http://x>{} ex:a.b:c.")]
    assert toks[:6] == ["?s", "?p", "true", ".", "SERVICE", "<http://x>"]
    assert toks[-2:] == ["ex:a.b:c", "."]
    found = safety.analyse("PREFIX ex: <http://e/> SELECT * WHERE { ?s ex:p false.FILTER(?s = ex:o) }")
    assert found.form == "SELECT" and found.undeclared == set()
    assert safety.analyse("SELECT * { ?s dcterms:title 1.5e3 ; a ?t }").undeclared == {"dcterms"}


def test_the_deepest_allowed_query_is_still_checked_by_the_second_parser():
    """At the nesting limit, rdflib (~40 Python frames a level) still reads the query: a SERVICE at
    depth 64 is refused as a SERVICE, not as 'could not be checked'."""
    from kb.errors import BadRequest
    from kb.sparql import safety

    query = "SELECT * { FILTER(" + "(" * 62 + "1" + ")" * 62 + ") } # a service"
    assert safety.check(query).depth == safety.MAX_DEPTH
    query = "SELECT * {" + " { SELECT * {" * 31 + " SERVICE <http://x/> {} " + "}}" * 31 + " }"
    with pytest.raises(BadRequest, match="SERVICE http://x/ is refused"):
        safety.check(query)


def test_the_syntax_check_parses_and_evaluates_nothing(listener):
    """The endpoint parses every query itself (kb/sparql/syntax.py) with pyoxigraph's parser, in the
    web process and without a timeout: pyoxigraph must refuse the dataset arguments it is given
    after parsing and before evaluating. Evaluated, each of these heavy queries would take seconds
    (8 million rows; ASK and ORDER BY are eager) and the SERVICE would reach the listener."""
    from kb.errors import BadRequest
    from kb.sparql import syntax

    url, hits = listener
    values = " ".join(str(i) for i in range(200))
    heavy = f"VALUES ?a {{ {values} }} VALUES ?b {{ {values} }} VALUES ?c {{ {values} }} FILTER(?a + ?b + ?c < 0)"
    started = time.perf_counter()
    for query in (f"ASK {{ {heavy} }}", f"SELECT * WHERE {{ {heavy} }} ORDER BY ?a",
                  f"CONSTRUCT {{ ?a ?b ?c }} WHERE {{ {heavy} }} ORDER BY ?a",
                  f"ASK {{ SERVICE <{url}> {{ ?s ?p ?o }} }}"):
        syntax.check(query)
    assert time.perf_counter() - started < 2
    assert hits == []
    with pytest.raises(BadRequest, match=r"^SPARQL syntax error at line 2, column 10: "):
        syntax.check("SELECT * WHERE {\n  ?s ?p }")
    with pytest.raises(BadRequest, match="line 1, column 26: .*Prefix not found"):
        syntax.check("SELECT * WHERE { ?s a x:y }")  # a prefix the text does not declare
    syntax.check("SELECT * WHERE { ?s a x:y . ?s ?p <rel> }", prefixes={"x": "http://example.org/"},
                 base_iri="http://example.org/sparql")
