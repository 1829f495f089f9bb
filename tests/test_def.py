"""``/def/dsi`` and ``/def/shapes`` over HTTP: the RDF by Accept or suffix (parsed back with rdflib),
the pyLODE documentation page for browsers with an anchor per term, 304, 406 and 404."""

from __future__ import annotations

import re
import time

import pytest
import rdflib
from rdflib.namespace import OWL, RDF, SH, SKOS

from kb.vocab import TERMS
from tests.test_dumps import parse_graph, small_app, small_client, small_kb  # noqa: F401

FORMATS = {"text/turtle": "turtle", "application/ld+json": "json-ld", "application/rdf+xml": "xml",
           "application/n-triples": "nt"}
DSI = "https://w3id.org/dsi/def/dsi#"


@pytest.mark.parametrize("accept, mimetype", [
    ("text/turtle", "text/turtle"), ("application/ld+json", "application/ld+json"),
    ("application/rdf+xml", "application/rdf+xml"), ("application/n-triples", "application/n-triples"),
    ("*/*", "text/turtle"), (None, "text/turtle"),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "text/html"),
])
def test_ontology_by_accept(client, accept, mimetype):
    r = client.get("/def/dsi", headers={"Accept": accept} if accept else {})
    assert r.status_code == 200 and r.mimetype == mimetype
    assert "Accept" in r.headers["Vary"]
    if mimetype == "text/html":
        assert "<title>" in r.get_data(as_text=True)
        return
    g = parse_graph(r.data, FORMATS[mimetype])
    assert (rdflib.URIRef("https://w3id.org/dsi/def/dsi"), RDF.type, OWL.Ontology) in g
    assert (rdflib.URIRef(DSI + "Organisation"), RDF.type, OWL.Class) in g
    assert len(set(g.subjects(RDF.type, SKOS.ConceptScheme))) >= 8  # the taxonomies come along


@pytest.mark.parametrize("accept, mimetype", [
    ("text/turtle", "text/turtle"), ("application/ld+json", "application/ld+json"),
    ("application/rdf+xml", "application/rdf+xml"), ("text/html", "text/html"),
])
def test_shapes_by_accept(client, accept, mimetype):
    r = client.get("/def/shapes", headers={"Accept": accept})
    assert r.status_code == 200 and r.mimetype == mimetype
    if mimetype == "text/html":
        html = r.get_data(as_text=True)
        assert "<h1>SHACL shapes" in html and "<table>" in html
        return
    g = parse_graph(r.data, FORMATS[mimetype])
    shapes = set(g.subjects(RDF.type, SH.NodeShape))
    assert shapes and all(f'id="{str(s).rsplit("#", 1)[-1]}"' in client.get(
        "/def/shapes.html").get_data(as_text=True) for s in list(shapes)[:3])


@pytest.mark.parametrize("path, mimetype", [
    ("/def/dsi.ttl", "text/turtle"), ("/def/dsi.jsonld", "application/ld+json"),
    ("/def/dsi.rdf", "application/rdf+xml"), ("/def/dsi.nt", "application/n-triples"),
    ("/def/dsi.html", "text/html"), ("/def/shapes.ttl", "text/turtle"),
])
def test_suffix_overrides_accept(client, path, mimetype):
    r = client.get(path, headers={"Accept": "image/png"})
    assert r.status_code == 200 and r.mimetype == mimetype


def test_every_term_has_its_anchor_on_the_documentation_page(client):
    html = client.get("/def/dsi", headers={"Accept": "text/html"}).get_data(as_text=True)
    ids = set(re.findall(r'id="([^"]+)"', html))
    assert "Organisation" in ids
    assert sorted(t for t in TERMS if t not in ids) == []
    assert 'href="#Organisation"' in html  # the table of contents links to it
    assert "Concept schemes" in html and 'id="scheme-area-of-society"' in html
    assert "https://w3id.org/dsi/id/concept/role/delivery-lead" in html
    assert "<title>The DSI ontology</title>" in html and "Organización" not in html  # the English page
    assert '<link rel="alternate"' not in html or "text/turtle" in html


def test_documentation_page_is_cached_per_generation(client):
    client.get("/def/dsi", headers={"Accept": "text/html"})
    t0 = time.perf_counter()
    r = client.get("/def/dsi", headers={"Accept": "text/html"})
    assert r.status_code == 200 and time.perf_counter() - t0 < 0.5  # pyLODE itself takes seconds
    assert "/def/dsi.ttl" in r.headers["Link"]


def test_conditional_get_and_errors(client):
    first = client.get("/def/dsi.ttl")
    assert client.get("/def/dsi.ttl", headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    r = client.get("/def/dsi", headers={"Accept": "image/png"})
    assert r.status_code == 406 and "text/turtle" in r.get_data(as_text=True)
    assert client.get("/def/dsi.csv").status_code == 404
    assert client.get("/def/nothing").status_code == 404


def test_def_on_a_store_without_ontology_says_how_to_fix(small_client):
    r = small_client.get("/def/dsi", headers={"Accept": "text/turtle"})
    assert r.status_code == 404 and "dsikb init" in r.get_data(as_text=True)
