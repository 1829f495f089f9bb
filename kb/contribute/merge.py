"""Merging duplicate entities: the survivor keeps its slug, the other answers 301 to it forever.

A merge is a statement, not a deletion: ``<merged> dsi:mergedInto <survivor>`` in ``graph/merges``
(apart from the import graphs, so re-importing the sources keeps it), with the date, who decided and
why. The merged entity's names become alternative names of the survivor, so search and
reconciliation still find it under them. Earlier merges into the merged entity are re-pointed to the
survivor: a redirect never chains. The network figures follow as after an accept: in the merge
for a small network, by the background job (kb/publish/network_job.py) for a big one.
"""

from __future__ import annotations

import datetime as dt

import pyoxigraph as ox

from kb.errors import BadRequest, NotFound
from kb.store import KB
from kb.terms import iri as parse_iri, sparql_term

DCT = "http://purl.org/dc/terms/"
PROV = "http://www.w3.org/ns/prov#"
SKOS_ALT = "http://www.w3.org/2004/02/skos/core#altLabel"
XSD_DATETIME = "http://www.w3.org/2001/XMLSchema#dateTime"


def survivor_of(kb: KB, iri: str) -> str | None:
    rows = kb.select("SELECT ?e ?s WHERE { ?e dsi:mergedInto ?s }", bind={"e": parse_iri(iri, "merged")})
    return rows[0]["s"].value if rows else None


def _names_of(kb: KB, node: ox.NamedNode) -> set[str]:
    rows = kb.select("SELECT ?e ?l WHERE { { ?e rdfs:label ?l } UNION { ?e skos:altLabel ?l } }", bind={"e": node})
    return {r["l"].value for r in rows}


def merge(kb: KB, survivor: str, merged: str, *, by: str, reason: str = "") -> bool:
    """Merge ``merged`` into ``survivor`` (both entity IRIs of one type). Returns False when it
    already was (merging is idempotent)."""
    n = kb.names
    a, b = n.parse_entity(survivor), n.parse_entity(merged)
    if a is None or b is None:
        raise BadRequest(f"both must be entity IRIs under {n.id_ns}: {survivor!r}, {merged!r}")
    if a[0] != b[0]:
        raise BadRequest(f"cannot merge a {b[0]} into a {a[0]}: entities of one type only")
    if survivor == merged:
        raise BadRequest("an entity cannot be merged into itself")
    s_node, m_node = parse_iri(survivor, "survivor"), parse_iri(merged, "merged")
    for node in (s_node, m_node):
        if not kb.ask("ASK { ?e a ?t }", bind={"e": node}):
            raise NotFound(f"no entity {node.value}")
    if not by.strip():
        raise BadRequest("say who decided the merge (by=...)")
    merged_into = ox.NamedNode(n.dsi("mergedInto"))
    current = survivor_of(kb, merged)
    if current == survivor:
        return False
    if current is not None:
        raise BadRequest(f"{merged} was already merged into {current}")
    if survivor_of(kb, survivor) is not None:
        raise BadRequest(f"{survivor} was itself merged into {survivor_of(kb, survivor)}: merge into that one")
    graph = kb.graphs.merges
    g = ox.NamedNode(graph)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    names = _names_of(kb, m_node) - _names_of(kb, s_node)
    data = [ox.Triple(m_node, merged_into, s_node),
            ox.Triple(m_node, ox.NamedNode(DCT + "modified"), ox.Literal(now, datatype=ox.NamedNode(XSD_DATETIME))),
            ox.Triple(m_node, ox.NamedNode(PROV + "wasAttributedTo"), ox.Literal(by))]
    if reason.strip():
        data.append(ox.Triple(m_node, ox.NamedNode(n.dsi("reason")), ox.Literal(reason)))
    data += [ox.Triple(s_node, ox.NamedNode(SKOS_ALT), ox.Literal(x)) for x in sorted(names)]
    earlier = [r["x"] for r in kb.select("SELECT ?g ?m ?p ?x WHERE { GRAPH ?g { ?x ?p ?m } }",
                                         bind={"g": g, "m": m_node, "p": merged_into})]  # merged into m before
    kb.update(f"""
DELETE {{ GRAPH {sparql_term(g)} {{ ?x {sparql_term(merged_into)} {sparql_term(m_node)} }} }}
INSERT {{ GRAPH {sparql_term(g)} {{ ?x {sparql_term(merged_into)} {sparql_term(s_node)} }} }}
WHERE {{ GRAPH {sparql_term(g)} {{ ?x {sparql_term(merged_into)} {sparql_term(m_node)} }} }} ;
INSERT DATA {{ GRAPH {sparql_term(g)} {{ {sparql_term(data)} }} }}""", touched={m_node, s_node, *earlier})
    from kb.link.linkset import describe_graph

    describe_graph(kb, graph, title="Merges of duplicate entities (dsi:mergedInto, decided by moderators)")
    from kb.build import incremental
    from kb.publish import network, network_job

    # the merged organisation's links now count for the survivor: recomputed here for a network of at
    # most DSIKB_NETWORK_INLINE_MAX organisations (seconds); a bigger one would hold this request, and
    # the web process's interpreter, for minutes: the background job writes its figures (as after an
    # accept), and /network serves the previous ones meanwhile, saying so
    inline = incremental.inline_network(kb)
    if inline:
        network.publish(kb)
    kb.flush()
    if not inline:
        network_job.refresh(kb)
    return True
