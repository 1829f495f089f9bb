"""Generic SPARQL clients with their defaults, against a live server: SPARQLWrapper (every query form x
every return format, with its default parameters and with ``setOnlyConneg``) and rdflib's SPARQLStore.
Each answer must equal the one the store gives directly."""

from __future__ import annotations

import io
import warnings

import pyoxigraph as ox
import pytest
import rdflib

from tests.conftest import settings_for
from tests.support import live_server
from kb.store import publicview

EX = "http://example.org/"
DATA = f"""
<{EX}a> <{EX}name> "Alpha" ; <{EX}knows> <{EX}b> .
<{EX}b> <{EX}name> "Beta" ; <{EX}knows> <{EX}c> .
<{EX}c> <{EX}name> "Gamma" .
"""
QUERIES = {
    "SELECT": f"SELECT ?s ?n WHERE {{ ?s <{EX}name> ?n }}",
    "ASK": f"ASK {{ <{EX}a> <{EX}knows> <{EX}b> }}",
    "CONSTRUCT": f"CONSTRUCT {{ ?s <{EX}knows> ?o }} WHERE {{ ?s <{EX}knows> ?o }}",
    "DESCRIBE": f"DESCRIBE <{EX}a>",
}
FORMATS = ["json", "xml", "n3", "turtle", "json-ld", "rdf", "rdf+xml", "csv", "tsv"]
SELECT_ROWS = {(f"{EX}a", "Alpha"), (f"{EX}b", "Beta"), (f"{EX}c", "Gamma")}
CONSTRUCT_TRIPLES = {(f"{EX}a", f"{EX}knows", f"{EX}b"), (f"{EX}b", f"{EX}knows", f"{EX}c")}
DESCRIBE_TRIPLES = {(f"{EX}a", f"{EX}name", "Alpha"), (f"{EX}a", f"{EX}knows", f"{EX}b")}
# Formats SPARQLWrapper itself considers right for each form (others draw its RuntimeWarning that the
# endpoint answered in another format, which is the correct behaviour for, e.g., SELECT as Turtle).
NATIVE = {"SELECT": {"json", "xml", "csv", "tsv"}, "ASK": {"json", "xml", "csv", "tsv"},
          "CONSTRUCT": {"xml", "n3", "turtle", "json-ld", "rdf+xml"},
          "DESCRIBE": {"xml", "n3", "turtle", "json-ld", "rdf+xml"}}


@pytest.fixture(scope="module")
def clients_app(tmp_path_factory):
    """The app over a small store holding DATA in one named graph."""
    from endpoint import create_app, sparql
    from kb.store import KB

    path = tmp_path_factory.mktemp("clients") / "store"
    kb = KB.open(settings_for(path, rate_limit=0, query_workers=1))
    kb.add_quads(ox.Quad(t.subject, t.predicate, t.object, ox.NamedNode(EX + "graph"))
                 for t in ox.parse(DATA.encode(), ox.RdfFormat.TURTLE))
    publicview.rebuild(kb)  # derive the public default graph of what was written directly
    kb.bump()
    kb.flush()
    app = create_app(kb.settings, kb=kb)
    app.config["TESTING"] = True
    yield app
    sparql.close(app)


@pytest.fixture(scope="module")
def endpoint(clients_app):
    """Its SPARQL endpoint on a live server, for real clients."""
    with live_server(clients_app) as url:
        yield url + "/sparql"


def _triples(result, fmt: str) -> set:
    if isinstance(result, rdflib.Graph):
        graph = result
    else:
        text = result.decode() if isinstance(result, bytes) else result
        graph = rdflib.Graph().parse(data=text, format="turtle")
    return {(str(s), str(p), str(o)) for s, p, o in graph}


def _rows(result, fmt: str) -> set:
    if isinstance(result, dict):
        return {(b["s"]["value"], b["n"]["value"]) for b in result["results"]["bindings"]}
    if hasattr(result, "getElementsByTagName"):
        rows = set()
        for r in result.getElementsByTagName("result"):
            values = {b.getAttribute("name"): b.firstChild.firstChild.data for b in r.getElementsByTagName("binding")}
            rows.add((values["s"], values["n"]))
        return rows
    text = result.decode() if isinstance(result, bytes) else result
    sep = "\t" if text.startswith("?") else ","
    lines = [line for line in io.StringIO(text).read().splitlines()[1:] if line]
    return {tuple(v.strip("<>\"") for v in line.split(sep)) for line in lines}


def _boolean(result) -> bool:
    if isinstance(result, dict):
        return result["boolean"]
    if hasattr(result, "getElementsByTagName"):
        return result.getElementsByTagName("boolean")[0].firstChild.data == "true"
    text = result.decode() if isinstance(result, bytes) else result
    return "true" in text.lower()


@pytest.mark.parametrize("only_conneg", [False, True], ids=["defaults", "onlyConneg"])
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("form", list(QUERIES))
def test_sparqlwrapper_every_form_and_format(endpoint, form, fmt, only_conneg):
    from SPARQLWrapper import SPARQLWrapper

    client = SPARQLWrapper(endpoint)
    client.setQuery(QUERIES[form])
    client.setReturnFormat(fmt)
    client.setOnlyConneg(only_conneg)
    with warnings.catch_warnings():
        # SPARQLWrapper parses RDF answers into rdflib's deprecated ConjunctiveGraph.
        warnings.simplefilter("ignore", DeprecationWarning)
        # Asking SELECT for Turtle makes SPARQLWrapper send Accept: */* and warn that it did, then warn
        # again that JSON came back: both are its own notices, not errors.
        if fmt not in NATIVE[form]:
            warnings.simplefilter("ignore", RuntimeWarning)
        result = client.query().convert()
    if form == "SELECT":
        assert _rows(result, fmt) == SELECT_ROWS
    elif form == "ASK":
        assert _boolean(result) is True
    elif form == "CONSTRUCT":
        assert _triples(result, fmt) == CONSTRUCT_TRIPLES
    else:
        assert _triples(result, fmt) == DESCRIBE_TRIPLES


def test_rdflib_sparqlstore(endpoint):
    from rdflib.plugins.stores.sparqlstore import SPARQLStore

    graph = rdflib.Graph(SPARQLStore(endpoint, returnFormat="json"))
    names = {str(o) for o in graph.objects(None, rdflib.URIRef(EX + "name"))}
    assert names == {"Alpha", "Beta", "Gamma"}
    assert len(graph) == 5
    assert (rdflib.URIRef(EX + "a"), rdflib.URIRef(EX + "knows"), rdflib.URIRef(EX + "b")) in graph
    rows = graph.query(QUERIES["SELECT"])
    assert {(str(s), str(n)) for s, n in rows} == SELECT_ROWS


@pytest.fixture()
def direct(clients_app):
    """The same app through Flask's test client (requests no client library would send)."""
    return clients_app.test_client()


@pytest.mark.parametrize("accept", [
    "application/sparql-results+json, text/html;q=0.1",
    "application/sparql-results+json;q=1.0,application/json;q=0.9,text/html;q=0.2",
    "*/*",
    "",
])
def test_html_only_when_html_is_preferred(direct, accept):
    r = direct.get("/sparql", query_string={"query": QUERIES["ASK"]}, headers={"Accept": accept})
    assert r.status_code == 200 and r.mimetype != "text/html"


@pytest.mark.parametrize("accept", [
    # Comunica's service description request
    "application/n-quads,application/trig;q=0.95,application/ld+json;q=0.9,application/n-triples;q=0.8,"
    "text/turtle;q=0.6,application/rdf+xml;q=0.5,text/n3;q=0.35,application/xml;q=0.3,image/svg+xml;q=0.3,"
    "text/xml;q=0.3,text/html;q=0.2,application/xhtml+xml;q=0.18",
    "text/turtle, text/html;q=0.1",
    "*/*",
    "",
])
def test_service_description_not_html_unless_preferred(direct, accept):
    sd = direct.get("/sparql", headers={"Accept": accept})
    assert sd.status_code == 200 and sd.mimetype != "text/html"
    assert list(ox.parse(sd.data, ox.RdfFormat.from_media_type(sd.mimetype)))


def test_browsers_still_get_the_editor(direct):
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    assert direct.get("/sparql", headers={"Accept": browser}).mimetype == "text/html"
    r = direct.get("/sparql", query_string={"query": QUERIES["ASK"]}, headers={"Accept": browser})
    assert r.mimetype == "text/html"


@pytest.mark.parametrize("fmt, media", [("xml", "application/rdf+xml"), ("rdf+xml", "application/rdf+xml"),
                                        ("n3", "text/turtle"), ("text/n3", "text/turtle"),
                                        ("json", "application/ld+json")])
def test_graph_format_names_as_fuseki_reads_them(direct, fmt, media):
    r = direct.get("/sparql", query_string={"query": QUERIES["CONSTRUCT"], "format": fmt})
    assert r.status_code == 200 and r.mimetype == media


def test_text_n3_accept_gets_turtle(direct):
    r = direct.get("/sparql", query_string={"query": QUERIES["CONSTRUCT"]}, headers={"Accept": "text/n3"})
    assert r.status_code == 200 and r.mimetype == "text/turtle"
    assert len(rdflib.Graph().parse(data=r.data, format="turtle")) == 2


def test_repeated_format_parameters(direct):
    same = direct.get("/sparql?format=tsv&format=text/tab-separated-values&output=tsv&query="
                      + "SELECT%20*%20%7B%3Fs%20%3Fp%20%3Fo%7D")
    assert same.status_code == 200 and same.mimetype == "text/tab-separated-values"
    clash = direct.get("/sparql?format=json&format=csv&query=SELECT%20*%20%7B%3Fs%20%3Fp%20%3Fo%7D")
    assert clash.status_code == 400 and b"disagree" in clash.data
    unknown = direct.get("/sparql?format=foo&query=SELECT%20*%20%7B%3Fs%20%3Fp%20%3Fo%7D")
    assert unknown.status_code == 406 and b"format=foo" in unknown.data


def test_ask_as_csv_and_tsv(direct):
    csv = direct.get("/sparql", query_string={"query": QUERIES["ASK"]}, headers={"Accept": "text/csv"})
    assert csv.status_code == 200 and csv.data == b"_askResult\r\ntrue\r\n"
    tsv = direct.get("/sparql", query_string={"query": QUERIES["ASK"], "format": "tsv"})
    assert tsv.data == b"?_askResult\ntrue\n"


def test_post_without_content_type_is_400(direct):
    r = direct.post("/sparql", data=b"query=ASK%7B%7D", headers={"Content-Type": ""})
    assert r.status_code == 400 and b"Content-Type" in r.data
