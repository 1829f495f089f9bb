"""Standard vocabularies for generic clients (graph/aligned), entailed by the ontology's own alignment
axioms rather than written per property.

The rule set is four OWL 2 RL rules (the RDFS subset): ``cax-sco`` (rdfs:subClassOf), ``cax-eqc1/2``
(owl:equivalentClass), ``prp-spo1`` (rdfs:subPropertyOf) and ``prp-eqp1/2`` (owl:equivalentProperty),
applied to the axioms of graph/ontology (transitively), over the data's named graphs, keeping only the
statements whose class or property is in one of :data:`TARGETS` and that no data graph states already.
Adding an axiom to ontology/dsi.ttl is all it takes to publish a new standard form.
See docs/ontology.md ("Standard vocabularies").
"""

from __future__ import annotations

from collections import defaultdict

import pyoxigraph as ox

from kb.namespaces import STANDARD_PREFIXES as P

RDF_TYPE = ox.NamedNode(P["rdf"] + "type")
# axiom predicate -> (what it relates, both directions?)
RULES = {
    P["rdfs"] + "subClassOf": ("class", False),        # cax-sco
    P["owl"] + "equivalentClass": ("class", True),     # cax-eqc1, cax-eqc2
    P["rdfs"] + "subPropertyOf": ("property", False),  # prp-spo1
    P["owl"] + "equivalentProperty": ("property", True),  # prp-eqp1, prp-eqp2
}
# The vocabularies materialised: standard ones a generic client knows. (The 2013 DSI vocabulary is
# aligned too, with owl:equivalent*, but is not one of them: it would double every membership.)
TARGETS = tuple(P[p] for p in ("schema", "org", "foaf", "geo", "dcterms", "prov", "skos", "frapo"))


def _closure(edges: dict) -> dict:
    """Every node's strict ancestors (transitive, cycles allowed: equivalences are two-way edges)."""
    out = {}
    for start in edges:
        seen, todo = set(), list(edges[start])
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo.extend(edges.get(n, ()))
        seen.discard(start)
        out[start] = seen
    return out


def axioms(kb) -> tuple[dict, dict]:
    """(class -> superclasses, property -> superproperties), closed, from graph/ontology's named terms."""
    edges = {"class": defaultdict(set), "property": defaultdict(set)}
    onto = ox.NamedNode(kb.graphs.ontology)
    for predicate, (kind, both) in RULES.items():
        for q in kb.quads(None, ox.NamedNode(predicate), None, onto):
            a, b = q.subject, q.object
            if not (isinstance(a, ox.NamedNode) and isinstance(b, ox.NamedNode)) or a == b:
                continue
            edges[kind][a].add(b)
            if both:
                edges[kind][b].add(a)
    return _closure(edges["class"]), _closure(edges["property"])


def _targets(terms) -> set:
    return {t for t in terms if t.value.startswith(TARGETS)}


def source_graphs(kb) -> set:
    """The data the rules read: every named graph but the ontology, shapes, graph descriptions, the
    aligned graph itself and staging graphs."""
    g = kb.graphs
    skip = {g.ontology, g.shapes, g.meta, g.aligned}
    return {ox.NamedNode(name) for name in kb.named_graphs()
            if name not in skip and not name.startswith(g.ns + "tmp/")}


def aligned_triples(kb) -> set[ox.Triple]:
    """The statements the rule set adds to the data (in a target vocabulary, not stated already)."""
    classes, properties = axioms(kb)
    sources = source_graphs(kb)
    stated: set[ox.Triple] = set()
    out: set[ox.Triple] = set()
    for cls, supers in classes.items():
        wanted = _targets(supers)
        if not wanted:
            continue
        for q in kb.quads(None, RDF_TYPE, cls, None):
            if q.graph_name in sources:
                out.update(ox.Triple(q.subject, RDF_TYPE, sup) for sup in wanted)
    for prop, supers in properties.items():
        wanted = _targets(supers)
        if not wanted:
            continue
        for q in kb.quads(None, prop, None, None):
            if q.graph_name in sources:
                out.update(ox.Triple(q.subject, sup, q.object) for sup in wanted)
    if kb.in_process:
        for t in out:  # what a data graph says already needs no second copy
            if any(q.graph_name in sources for q in kb.quads(t.subject, t.predicate, t.object, None)):
                stated.add(t)
    else:  # a remote store: one request per target predicate, not one per triple
        for pred in {t.predicate for t in out}:
            stated.update(q.triple for q in kb.quads(None, pred, None, None)
                          if q.graph_name in sources and q.triple in out)
    return out - stated


def align(kb) -> bool:
    """Rebuild graph/aligned (one atomic write, the public default graph in step); False if unchanged."""
    return kb.replace_graph(kb.graphs.aligned, aligned_triples(kb))
