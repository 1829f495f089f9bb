"""The example queries of the editor's gallery, on the real DSI data as ``dsikb init`` builds it: each
one sent by GET, form POST and direct POST returns rows, and the same rows the store gives directly.
Then SPARQLWrapper, the standard Python client, against a live server."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import rdflib

from endpoint.sparql_editor import examples
from tests.support import live_server

EXAMPLES = examples()


@pytest.fixture(scope="module")
def real_app(built_kb):
    from endpoint import create_app, sparql

    app = create_app(built_kb.settings.replace(rate_limit=0), kb=built_kb)
    app.config["TESTING"] = True
    yield app
    sparql.close(app)


def _direct(kb, query: str):
    """What the store itself answers over its default graph (the public RDF merge, as the endpoint)."""
    results = kb.raw_query(query)
    if hasattr(results, "variables"):
        names = [v.value for v in results.variables]
        return names, Counter(tuple(_plain(s[n]) for n in names) for s in results)
    return None, {(_plain(t.subject), _plain(t.predicate), _plain(t.object)) for t in results}


def _plain(term):
    return None if term is None else term.value


def test_gallery_has_ten_or_more_examples():
    assert len(EXAMPLES) >= 10
    assert all(ex.title and ex.description for ex in EXAMPLES)


@pytest.mark.parametrize("how", ["get", "form", "direct"])
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
def test_example_query_returns_rows(real_app, built_kb, example, how):
    c = real_app.test_client()
    select = "CONSTRUCT" not in example.query.upper().split("WHERE")[0]
    accept = "application/sparql-results+json" if select else "text/turtle"
    headers = {"Accept": accept}
    if how == "get":
        r = c.get("/sparql", query_string={"query": example.query}, headers=headers)
    elif how == "form":
        r = c.post("/sparql", data={"query": example.query}, headers=headers)
    else:
        r = c.post("/sparql", data=example.query.encode(), content_type="application/sparql-query",
                   headers=headers)
    assert r.status_code == 200, r.data[:500]
    names, expected = _direct(built_kb, example.query)
    if select:
        data = json.loads(r.data)
        assert data["head"]["vars"] == names
        got = Counter(tuple(b.get(n, {}).get("value") for n in names) for b in data["results"]["bindings"])
        assert sum(got.values()) > 0, f"{example.name} returns no rows on the real data"
        assert got == expected
    else:
        graph = rdflib.Graph().parse(data=r.data, format="turtle")
        assert len(graph) > 0
        got = {(str(s), str(p), str(o)) for s, p, o in graph}
        assert got == expected


@pytest.fixture(scope="module")
def live_url(real_app):
    with live_server(real_app) as url:
        yield url + "/sparql"


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_sparqlwrapper_select(live_url, built_kb, method):
    from SPARQLWrapper import JSON, XML, SPARQLWrapper

    example = next(e for e in EXAMPLES if e.name.startswith("06-"))
    client = SPARQLWrapper(live_url)
    client.setMethod(method)
    client.setQuery(example.query)
    client.setReturnFormat(JSON)
    data = client.query().convert()
    names, expected = _direct(built_kb, example.query)
    got = Counter(tuple(b.get(n, {}).get("value") for n in names) for b in data["results"]["bindings"])
    assert got == expected and sum(got.values()) > 10
    client.setReturnFormat(XML)
    document = client.query().convert()  # an xml.dom document of SPARQL XML results
    assert len(document.getElementsByTagName("result")) == sum(expected.values())


def test_sparqlwrapper_ask_and_construct(live_url, built_kb):
    from SPARQLWrapper import JSON, TURTLE, SPARQLWrapper

    client = SPARQLWrapper(live_url)
    client.setQuery("ASK { ?o a dsi:Organisation }")
    client.setReturnFormat(JSON)
    assert client.query().convert()["boolean"] is True
    example = next(e for e in EXAMPLES if e.name.startswith("13-"))
    client.setQuery(example.query)
    client.setReturnFormat(TURTLE)
    body = client.query().convert()
    graph = rdflib.Graph().parse(data=body, format="turtle")
    assert {(str(s), str(p), str(o)) for s, p, o in graph} == _direct(built_kb, example.query)[1]


def test_sparqlwrapper_sees_errors_as_errors(live_url):
    from SPARQLWrapper import SPARQLWrapper
    from SPARQLWrapper.SPARQLExceptions import QueryBadFormed

    client = SPARQLWrapper(live_url)
    client.setQuery("SELECT * WHERE { ?s ?p }")
    with pytest.raises(QueryBadFormed, match="line 1, column"):
        client.query()
