"""Standard vocabularies (issue 12): schema.org, ORG, FOAF and geo statements materialised in
graph/aligned from the ontology's own alignment axioms (kb/link/align.py), seen through SPARQL on the real
data, in pages' embedded JSON-LD, and derived for a new axiom without code changes."""

from __future__ import annotations

import json
import warnings

import pyoxigraph as ox
import pytest
import rdflib

from kb.settings import DEFAULT_BASE_URI, Settings

B = DEFAULT_BASE_URI
DSI = B + "def/dsi#"
SDO = "https://schema.org/"
ORG = "http://www.w3.org/ns/org#"
FOAF = "http://xmlns.com/foaf/0.1/"
GEO = "http://www.w3.org/2003/01/geo/wgs84_pos#"
PREFIXES = (f"PREFIX dsi: <{DSI}> PREFIX schema: <{SDO}> PREFIX org: <{ORG}> PREFIX foaf: <{FOAF}> "
            f"PREFIX geo: <{GEO}> PREFIX owl: <http://www.w3.org/2002/07/owl#> "
            "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> PREFIX dcterms: <http://purl.org/dc/terms/> "
            "PREFIX xsd: <http://www.w3.org/2001/XMLSchema#> ")


def count(client, where: str) -> int:
    """A COUNT over the public default graph, through the SPARQL endpoint."""
    r = client.get("/sparql", query_string={"query": PREFIXES + f"SELECT (COUNT(*) AS ?n) WHERE {{ {where} }}"},
                   headers={"Accept": "application/sparql-results+json"})
    assert r.status_code == 200, r.text
    return int(r.get_json()["results"]["bindings"][0]["n"]["value"])


# -- the real data, through /sparql -------------------------------------------------------------------
def test_every_public_organisation_has_the_three_standard_types(client):
    orgs = count(client, "?s a dsi:Organisation")
    assert orgs > 1000
    assert count(client, "?s a dsi:Organisation, schema:Organization, org:Organization, foaf:Organization") == orgs


@pytest.mark.parametrize("ours, theirs", [("dsi:Project", "schema:Project"), ("dsi:Place", "schema:Place")])
def test_projects_and_places_have_the_schema_org_type(client, ours, theirs):
    n = count(client, f"?s a {ours}")
    assert n > 100 and count(client, f"?s a {ours}, {theirs}") == n


@pytest.mark.parametrize("ours, theirs", [
    ("rdfs:label", "schema:name"), ("dsi:website", "schema:url"), ("dsi:website", "foaf:homepage"),
    ("dcterms:description", "schema:description"), ("dsi:country", "schema:location"),
    ("dsi:city", "schema:location"), ("owl:sameAs", "schema:sameAs"),
])
def test_common_properties_appear_in_their_standard_form(client, ours, theirs):
    """Every public statement with our property is also there with the standard one."""
    n = count(client, f"?s a ?t ; {ours} ?o VALUES ?t {{ dsi:Organisation dsi:Project }}")
    assert n > 100
    assert count(client, f"?s a ?t ; {ours} ?o ; {theirs} ?o VALUES ?t {{ dsi:Organisation dsi:Project }}") == n


def test_every_public_organisation_has_a_schema_name(client):
    assert count(client, "?s a dsi:Organisation FILTER NOT EXISTS { ?s schema:name ?n }") == 0


def test_coordinates_are_wgs84_decimals(client):
    located = count(client, "?s geo:lat ?lat")
    assert located > 1000
    assert count(client, "?s geo:lat ?lat ; geo:long ?long "
                         "FILTER(DATATYPE(?lat) = xsd:decimal && DATATYPE(?long) = xsd:decimal)") == located


def test_only_the_namespace_schema_org_publishes(client):
    assert count(client, "?s ?p ?o FILTER(STRSTARTS(STR(?p), 'http://schema.org/'))") == 0
    assert count(client, "?s a ?t FILTER(STRSTARTS(STR(?t), 'http://schema.org/'))") == 0


def test_hidden_entities_get_no_public_standard_statements(client, built_kb):
    hidden = built_kb.select("SELECT DISTINCT ?s WHERE { ?s a dsi:Organisation ; dsi:hidden true } LIMIT 1")
    assert hidden, "the real data has flagged organisations"
    r = client.get("/sparql", query_string={"query": f"ASK {{ <{hidden[0]['s'].value}> ?p ?o }}"},
                   headers={"Accept": "application/sparql-results+json"})
    assert r.get_json()["boolean"] is False


# -- pages' embedded JSON-LD ---------------------------------------------------------------------------
def embedded(html: str) -> dict:
    start = html.index('<script type="application/ld+json">') + len('<script type="application/ld+json">')
    return json.loads(html[start:html.index("</script>", start)])


def as_graph(data: dict) -> rdflib.Graph:
    with warnings.catch_warnings():  # rdflib's JSON-LD parser uses its own deprecated ConjunctiveGraph
        warnings.simplefilter("ignore", DeprecationWarning)
        return rdflib.Graph().parse(data=json.dumps(data), format="json-ld")  # offline: inline context


def first_iri(built_kb, cls: str) -> str:
    rows = built_kb.select(f"SELECT ?s WHERE {{ ?s a dsi:{cls} ; rdfs:label ?l FILTER NOT EXISTS "
                           "{ ?s dsi:hidden true } } ORDER BY ?s LIMIT 1", union=False)
    return rows[0]["s"].value


@pytest.mark.parametrize("cls, sdo_type", [("Organisation", "Organization"), ("Project", "Project"),
                                            ("Place", "Place")])
def test_page_json_ld_parses_with_schema_org_types(client, built_kb, cls, sdo_type):
    iri = first_iri(built_kb, cls)
    path = iri[len(built_kb.names.id_ns):]
    data = embedded(client.get(f"/page/{path}").text)
    g = as_graph(data)
    subject = rdflib.URIRef(iri)
    types = set(g.objects(subject, rdflib.RDF.type))
    assert rdflib.URIRef(SDO + sdo_type) in types
    assert all(str(t).startswith(SDO) for t in types)
    assert not any(str(p).startswith("http://schema.org/") for p in g.predicates())
    assert "address" not in data or sdo_type != "Place"
    # what the page says in JSON-LD, the RDF says too
    rdf = rdflib.Graph().parse(data=client.get(f"/data/{path}.ttl").data, format="turtle")
    name = g.value(subject, rdflib.URIRef(SDO + "name"))
    assert name is not None and (subject, rdflib.URIRef(SDO + "name"), name) in rdf
    assert (subject, rdflib.RDF.type, rdflib.URIRef(SDO + sdo_type)) in rdf


def test_concept_page_json_ld_is_a_defined_term(client, built_kb):
    iri = built_kb.select("SELECT ?c WHERE { ?c a dsi:AreaOfSociety } ORDER BY ?c LIMIT 1")[0]["c"].value
    path = iri[len(built_kb.names.id_ns):]
    data = embedded(client.get(f"/page/{path}").text)
    g = as_graph(data)
    assert (rdflib.URIRef(iri), rdflib.RDF.type, rdflib.URIRef(SDO + "DefinedTerm")) in g
    scheme = g.value(rdflib.URIRef(iri), rdflib.URIRef(SDO + "inDefinedTermSet"))
    assert scheme is not None and (scheme, rdflib.RDF.type, rdflib.URIRef(SDO + "DefinedTermSet")) in g
    assert "address" not in data and "Thing" not in json.dumps(data)


# -- the rule set: axioms in, triples out, no code per property -------------------------------------------
SMALL = f"""
@prefix dsi: <{DSI}> . @prefix schema: <{SDO}> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> . @prefix foaf: <{FOAF}> . @prefix legacy: <http://data.digitalsocial.eu/def/ontology/> .
"""
ONTOLOGY = SMALL + """
dsi:Organisation rdfs:subClassOf schema:Organization ; owl:equivalentClass foaf:Organization .
dsi:city rdfs:subPropertyOf dsi:location . dsi:location rdfs:subPropertyOf schema:location .
dsi:twitter owl:equivalentProperty legacy:twitterAccount .
"""
DATA = SMALL + f"""
<{B}id/organisation/a> a dsi:Organisation ; dsi:city <{B}id/place/x> ; dsi:tag "maps" ; dsi:twitter "a" .
<{B}id/organisation/b> a foaf:Organization .
"""


def small_kb():
    from kb.store import KB

    kb = KB.in_memory(Settings())
    for graph, text in ((kb.graphs.ontology, ONTOLOGY), (kb.graphs.source("dsi4eu"), DATA)):
        kb.replace_graph(graph, ox.parse(text, ox.RdfFormat.TURTLE))
    return kb


def public(kb) -> set:
    return {(q.subject.value, q.predicate.value, q.object.value)
            for q in kb.quads(None, None, None, ox.DefaultGraph())}


def test_rule_set_derives_from_the_axioms_it_finds():
    from kb.link.align import align

    kb = small_kb()
    align(kb)
    a, b = B + "id/organisation/a", B + "id/organisation/b"
    rdf_type = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
    got = public(kb)
    assert (a, rdf_type, SDO + "Organization") in got and (a, rdf_type, FOAF + "Organization") in got
    assert (a, SDO + "location", B + "id/place/x") in got  # transitive: city < location < schema:location
    assert (b, rdf_type, SDO + "Organization") in got  # equivalence works both ways, then transitively
    assert (b, rdf_type, DSI + "Organisation") not in got  # only standard vocabularies are materialised
    assert not any(p == SDO + "keywords" for _, p, _ in got)
    # the 2013 vocabulary is an alignment too, but not a standard one: not materialised
    assert not any(p.startswith("http://data.digitalsocial.eu/") for _, p, _ in got)
    # one new axiom in the ontology graph, no code: its statements appear
    kb.replace_graph(kb.graphs.ontology, ox.parse(ONTOLOGY + "dsi:tag rdfs:subPropertyOf schema:keywords .",
                                                  ox.RdfFormat.TURTLE))
    assert align(kb) is True
    assert (a, SDO + "keywords", "maps") in public(kb)
    assert align(kb) is False  # nothing new: nothing written


def test_aligned_graph_follows_the_data():
    from kb.link.align import align

    kb = small_kb()
    align(kb)
    c = B + "id/organisation/c"
    kb.replace_graph(kb.graphs.source("dsi4eu"), ox.parse(DATA + f"<{c}> a dsi:Organisation .", ox.RdfFormat.TURTLE))
    align(kb)
    assert (c, "http://www.w3.org/1999/02/22-rdf-syntax-ns#type", SDO + "Organization") in public(kb)
    kb.replace_graph(kb.graphs.source("dsi4eu"), ox.parse(SMALL, ox.RdfFormat.TURTLE))
    align(kb)
    assert not any(s == c for s, _, _ in public(kb))


# -- quads and N3: each statement with the named graph it comes from --------------------------------------
def _strip_bnodes(quads) -> set:
    return {tuple("_:" if isinstance(x, ox.BlankNode) else str(x) for x in (q.subject, q.predicate, q.object,
                                                                            q.graph_name)) for q in quads}


def _org_path(built_kb) -> str:
    row = built_kb.select("SELECT DISTINCT ?s WHERE { ?s a dsi:Organisation ; dsi:leads ?p ; dsi:website ?w "
                          "FILTER NOT EXISTS { ?s dsi:hidden true } } ORDER BY ?s LIMIT 1")[0]
    return row["s"].value[len(built_kb.names.id_ns):]


@pytest.mark.parametrize("how", ["suffix", "accept"])
def test_entity_as_n_quads_and_trig_carries_its_graphs(client, built_kb, how):
    path = _org_path(built_kb)
    turtle = rdflib.Graph().parse(data=client.get(f"/data/{path}.ttl").data, format="turtle")
    got = {}
    for ext, mime, fmt in (("nq", "application/n-quads", ox.RdfFormat.N_QUADS),
                           ("trig", "application/trig", ox.RdfFormat.TRIG)):
        if how == "suffix":
            r = client.get(f"/data/{path}.{ext}")
        else:
            r = client.get(f"/data/{path}", headers={"Accept": mime})
            assert r.headers["Content-Location"] == f"/data/{path}.{ext}" and "Accept" in r.headers["Vary"]
        assert r.status_code == 200 and r.mimetype == mime
        quads = list(ox.parse(r.data, fmt))
        got[ext] = _strip_bnodes(quads)
        graphs = {q.graph_name.value for q in quads if isinstance(q.graph_name, ox.NamedNode)}
        assert built_kb.graphs.aligned in graphs and any("/graph/import/" in g for g in graphs)
        for q in quads:  # a statement in a named graph is in that graph of the store
            if isinstance(q.graph_name, ox.NamedNode) and not isinstance(q.subject, ox.BlankNode) \
                    and not isinstance(q.object, ox.BlankNode):
                assert any(built_kb.quads(q.subject, q.predicate, q.object, q.graph_name)), q
        merged = rdflib.Graph()
        for q in quads:  # the triples, once each, are the Turtle document's
            merged.parse(data=ox.serialize([q.triple], format=ox.RdfFormat.N_TRIPLES), format="nt")
        assert rdflib.compare.isomorphic(merged, turtle)
    assert got["nq"] == got["trig"]


def test_entity_as_n3(client, built_kb):
    path = _org_path(built_kb)
    r = client.get(f"/data/{path}", headers={"Accept": "text/n3"})
    assert r.status_code == 200 and r.mimetype == "text/n3"
    assert client.get(f"/data/{path}.n3").data == r.data
    n3 = {t for t in ox.parse(r.data, ox.RdfFormat.N3)}
    ttl = {t for t in ox.parse(client.get(f"/data/{path}.ttl").data, ox.RdfFormat.TURTLE)}
    assert _strip_bnodes(ox.Quad(t.subject, t.predicate, t.object) for t in n3) == \
        _strip_bnodes(ox.Quad(t.subject, t.predicate, t.object) for t in ttl)


@pytest.mark.parametrize("accept, ext", [("application/n-quads", "nq"), ("application/trig", "trig"),
                                         ("text/n3", "n3")])
def test_identifier_sees_other_to_the_quad_forms(client, built_kb, accept, ext):
    path = _org_path(built_kb)
    r = client.get(f"/id/{path}", headers={"Accept": accept})
    assert r.status_code == 303 and r.headers["Location"] == f"/data/{path}.{ext}"
