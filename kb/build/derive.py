"""Derived statements (graph/derived), rebuilt from the whole store after every import.

Shortcuts of the n-ary memberships (``dsi:takesPartIn`` for every role, ``dsi:leads``, ``dsi:funds``
with ``schema:funder``, ``schema:member``, ...) and collaborations: two visible organisations that
share projects ``dsi:collaboratesWith`` each other, with a ``dsi:Collaboration`` node counting the
shared projects. Pairs from the 2013 partner network (already a Collaboration node in the 2013
import, with that site's count) get the ``collaboratesWith`` links but no second node.
Then graph/derived/partner-countries: projects' countries from their partner organisations
(dsi:partnerCountry, kb/build/partner_countries.py), in a graph of its own so stated and derived places
differ.
Then graph/aligned: the standard-vocabulary forms (schema.org, ORG, FOAF, ...) the ontology's alignment
axioms entail (kb/link/align.py). Also refreshes the meta-graph parts of the project's own graphs (CC BY 4.0).
"""

from __future__ import annotations

import pyoxigraph as ox

from kb.importers.dsi2013 import collaboration_iri
from kb.link.align import align
from kb.importers.meta import CC_BY, describe, describe_project_graphs, update_meta
from kb.build import partner_countries

SHORTCUTS = {  # property -> roles (None: every role)
    "takesPartIn": None,
    "leads": ("delivery-lead",),
    "funds": ("sole-funder", "co-funder"),
    "partnerIn": ("delivery-partner",),
    "evaluates": ("evaluator",),
    "advises": ("advisory-group-member",),
}
ALIGNED_TITLE = "Standard-vocabulary forms (schema.org, ORG, FOAF) entailed by the ontology's alignments"
INTEGER = ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")


EXTRA = {"funds": "https://schema.org/funder", "takesPartIn": "https://schema.org/member"}  # ?p extra ?o


MEMBERSHIPS = """SELECT DISTINCT ?o ?p ?role WHERE {
    ?m a dsi:ActivityMembership ; dsi:organisation ?o ; dsi:project ?p ; dsi:role ?role }"""


def shortcut_triples(kb) -> set[ox.Triple]:
    """The membership shortcuts, from one SELECT over the union of graphs (built as terms in
    Python rather than CONSTRUCT text per property)."""
    return shortcuts_of(kb, kb.select(MEMBERSHIPS), shortcut_roles(kb))


def shortcut_roles(kb) -> dict[str, set[str] | None]:
    """Shortcut property -> the role concepts it stands for (None: every role)."""
    lookup = _role_lookup(kb)
    return {prop: ({lookup(r) for r in roles} - {None} if roles else None) for prop, roles in SHORTCUTS.items()}


def _role_lookup(kb):
    """``ConceptIndex.from_store(kb).lookup("role", ...)`` from the role scheme's concepts alone (quad
    patterns, not every taxonomy's labels: an accept needs only these)."""
    from kb.importers.concepts import FALLBACK, norm

    skos = kb.names.prefixes()["skos"]
    index: dict[str, str] = {}
    rows = []
    for scheme in (kb.names.concept_ns + "role", kb.names.concept_ns + "role/"):
        for q in kb.quads(None, ox.NamedNode(skos + "inScheme"), ox.NamedNode(scheme), None):
            for label in ("prefLabel", "altLabel", "hiddenLabel", "notation"):
                rows += [(q.subject.value, lq.object.value) for lq in kb.quads(q.subject, ox.NamedNode(skos + label), None, None)]
    for concept, label in sorted(rows):
        index.setdefault(norm(label), concept)
        index.setdefault(norm(concept.rsplit("/", 1)[-1]), concept)
    if not rows:
        for slug, spellings in FALLBACK.get("role", {}).items():
            for spelling in [slug, *spellings]:
                index.setdefault(norm(spelling), kb.names.concept("role", slug))
    return lambda value: index.get(norm(value))


def shortcuts_of(kb, rows, roles: dict) -> set[ox.Triple]:
    """The shortcuts of membership rows (dicts of ``o``, ``p``, ``role``), given :func:`shortcut_roles`."""
    out: set[ox.Triple] = set()
    for prop, wanted in roles.items():
        shortcut = ox.NamedNode(kb.names.dsi(prop))
        extra = ox.NamedNode(EXTRA[prop]) if prop in EXTRA else None
        for r in rows:
            o, p = r["o"], r["p"]
            if wanted is not None and r["role"].value not in wanted:
                continue
            if isinstance(o, (ox.NamedNode, ox.BlankNode)):  # as CONSTRUCT: no literal subjects
                out.add(ox.Triple(o, shortcut, p))
            if extra is not None and isinstance(p, (ox.NamedNode, ox.BlankNode)):
                out.add(ox.Triple(p, extra, o))
    return out


SHARED = """SELECT ?a ?b (COUNT(DISTINCT ?p) AS ?n) WHERE {
      ?m1 dsi:organisation ?a ; dsi:project ?p .
      ?m2 dsi:organisation ?b ; dsi:project ?p .
      FILTER(STR(?a) < STR(?b))
      FILTER NOT EXISTS { ?a dsi:hidden true }
      FILTER NOT EXISTS { ?b dsi:hidden true }
    } GROUP BY ?a ?b"""
PARTNERS = """SELECT ?g ?c ?a ?b WHERE {
      GRAPH ?g { ?c a dsi:Collaboration ; dsi:collaborator ?a, ?b . FILTER(STR(?a) < STR(?b)) }
    }"""


def collaboration_triples(kb) -> set[ox.Triple]:
    """collaboratesWith (both directions) and Collaboration nodes with shared-project counts."""
    rows = kb.select(SHARED)
    partner_rows = kb.select(PARTNERS, bind={"g": ox.NamedNode(kb.graphs.source("dsi2013"))})
    existing = {r["c"].value for r in partner_rows}
    pairs = {(r["a"].value, r["b"].value): int(r["n"].value) for r in rows}
    for r in partner_rows:
        pairs.setdefault((r["a"].value, r["b"].value), 0)
    return pair_triples(kb, pairs, existing)


def pair_triples(kb, pairs: dict[tuple[str, str], int], existing: set[str]) -> set[ox.Triple]:
    """The statements of collaborating pairs ((a, b) with a < b -> shared projects); no node for a
    pair of the 2013 partner network (its node IRI in ``existing``) nor for one sharing no project."""
    dsi = kb.names.dsi
    out: set[ox.Triple] = set()
    with_ = ox.NamedNode(dsi("collaboratesWith"))
    for (a, b), n in pairs.items():
        na, nb = ox.NamedNode(a), ox.NamedNode(b)
        out.add(ox.Triple(na, with_, nb))
        out.add(ox.Triple(nb, with_, na))
        node_iri = collaboration_iri(a, b)
        if node_iri in existing or n == 0:
            continue
        node = ox.NamedNode(node_iri)
        out.add(ox.Triple(node, ox.NamedNode(kb.names.prefixes()["rdf"] + "type"),
                          ox.NamedNode(dsi("Collaboration"))))
        out.add(ox.Triple(node, ox.NamedNode(dsi("collaborator")), na))
        out.add(ox.Triple(node, ox.NamedNode(dsi("collaborator")), nb))
        out.add(ox.Triple(node, ox.NamedNode(dsi("sharedProjects")), ox.Literal(str(n), datatype=INTEGER)))
    return out


def derive(kb) -> dict[str, str]:
    """Rebuild graph/derived, graph/aligned and the project graphs' meta parts; graph IRI ->
    updated/unchanged."""
    g = kb.graphs
    triples = shortcut_triples(kb) | collaboration_triples(kb)
    states = {g.derived: kb.replace_graph(g.derived, triples)}
    states[g.partner_countries] = partner_countries.derive_partner_countries(kb)
    from kb.publish import network

    net = network.compute(kb)  # the network figures follow the data too (after graph/derived)
    states[g.network] = network.write(kb, net)
    states[g.aligned] = align(kb)  # after graph/derived: its shortcuts are aligned too
    parts = describe_project_graphs(kb)
    if g.aligned in kb.named_graphs():
        parts[g.aligned] = describe(g.aligned, license=CC_BY, title=ALIGNED_TITLE)
    if g.network in kb.named_graphs():
        parts[g.network] = describe(g.network, license=CC_BY, title=network.GRAPH_TITLE)
    if g.partner_countries in kb.named_graphs():
        parts[g.partner_countries] = describe(g.partner_countries, license=CC_BY, title=partner_countries.TITLE)
    states[g.meta] = update_meta(kb, parts)
    network.keep(kb, net)  # the writes since compute() cannot change the network: no recomputation
    return {k: "updated" if v else "unchanged" for k, v in states.items()}
