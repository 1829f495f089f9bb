"""Links as stored in ``graph/linkset/{target}``: the link triple plus a node with its evidence.

Each link is ``<entity> owl:sameAs <item>`` (confident) or ``skos:closeMatch`` (probable), and a node
``<{graph}#link-{hash}>`` (an ``rdf:Statement``: subject, predicate, object) that carries the score
(``prov:value``), the evidence (``dcterms:description``, one line each), the date and the source.
A moderator's decision sits on the same node (``dsi:status`` "confirmed" or "rejected", ``dsi:reason``,
``prov:wasAttributedTo``): the linker never deletes or changes a decided node.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

import pyoxigraph as ox

from kb.errors import BadRequest, NotFound
from kb.store import KB
from kb.terms import iri as parse_iri, sparql_term

SAME_AS = "http://www.w3.org/2002/07/owl#sameAs"
CLOSE_MATCH = "http://www.w3.org/2004/02/skos/core#closeMatch"
CONFIRMED, REJECTED = "confirmed", "rejected"


@dataclass
class Link:
    """A proposed link from one of our entities to an item of the target."""

    entity: str
    item: str
    predicate: str
    score: float
    evidence: list[str] = field(default_factory=list)


def node_iri(graph: str, entity: str, item: str) -> str:
    digest = hashlib.sha1(f"{entity} {item}".encode()).hexdigest()[:16]
    return f"{graph}#link-{digest}"


RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
PROV = "http://www.w3.org/ns/prov#"
DCT = "http://purl.org/dc/terms/"
XSD = "http://www.w3.org/2001/XMLSchema#"
_n = ox.NamedNode


def _typed(value: str, datatype: str) -> ox.Literal:
    return ox.Literal(value, datatype=_n(XSD + datatype))


def _decimal(score: float) -> str:
    """A score as the store writes an xsd:decimal back ("1", "0.75"): the same triple in and out,
    so a linkset rebuilt by ``replace_graph`` compares equal to the one stored."""
    return f"{score:.3f}".rstrip("0").rstrip(".")


def decisions(kb: KB, graph: str) -> dict[tuple[str, str], str]:
    """(entity, item) -> 'confirmed' | 'rejected' for every moderated link."""
    rows = kb.select("""SELECT ?g ?e ?i ?s WHERE { GRAPH ?g {
        ?n rdf:subject ?e ; rdf:object ?i ; dsi:status ?s } }""", bind={"g": _n(graph)})
    return {(r["e"].value, r["i"].value): r["s"].value for r in rows}


def links(kb: KB, graph: str, entity: str | None = None) -> list[dict]:
    """The links in ``graph`` (optionally of one entity), with predicate, score and decision."""
    bind = {"g": _n(graph), **({"e": parse_iri(entity, "entity")} if entity else {})}
    rows = kb.select("""SELECT ?g ?e ?p ?i ?score ?status WHERE { GRAPH ?g {
        ?e ?p ?i FILTER(?p IN (owl:sameAs, skos:closeMatch))
        OPTIONAL { ?n rdf:subject ?e ; rdf:object ?i .
                   OPTIONAL { ?n prov:value ?score } OPTIONAL { ?n dsi:status ?status } }
    } }""", bind=bind)
    return [{"entity": r["e"].value, "predicate": r["p"].value, "item": r["i"].value,
             "score": float(r["score"].value) if "score" in r else None,
             "status": r["status"].value if "status" in r else None} for r in rows]


def link_triples(graph: str, link: Link, source: str, when: dt.datetime | None) -> list[ox.Triple]:
    """The link triple and its evidence node; ``when=None`` leaves the dates out (a linkset rebuilt
    whole from offline data, which must come out the same on every run)."""
    e, p, i = _n(link.entity), _n(link.predicate), _n(link.item)
    n = _n(node_iri(graph, link.entity, link.item))
    out = [ox.Triple(e, p, i),
           ox.Triple(n, _n(RDF + "type"), _n(RDF + "Statement")),
           ox.Triple(n, _n(RDF + "subject"), e), ox.Triple(n, _n(RDF + "predicate"), p),
           ox.Triple(n, _n(RDF + "object"), i),
           ox.Triple(n, _n(PROV + "value"), _typed(_decimal(link.score), "decimal")),
           ox.Triple(n, _n(DCT + "source"), _n(source)),
           ox.Triple(n, _n(DCT + "creator"), ox.Literal("dsikb link"))]
    if when is not None:
        out += [ox.Triple(n, _n(PROV + "generatedAtTime"), _typed(when.isoformat(), "dateTime")),
                ox.Triple(n, _n(DCT + "date"), _typed(when.date().isoformat(), "date"))]
    return out + [ox.Triple(n, _n(DCT + "description"), ox.Literal(line)) for line in link.evidence]


def replace_machine_links(kb: KB, graph: str, entities: list[str], new: list[Link], *,
                          source: str, when: dt.datetime | None = None) -> None:
    """Drop the undecided links of ``entities`` and write ``new`` in one update."""
    if not entities and not new:
        return
    when = when or dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    g = _n(graph)
    delete = f"""DELETE {{ GRAPH {sparql_term(g)} {{ ?e ?lp ?i . ?n ?np ?no }} }}
WHERE {{ GRAPH {sparql_term(g)} {{ VALUES ?e {{ {sparql_term([_n(e) for e in entities])} }}
  ?n rdf:subject ?e ; rdf:object ?i ; ?np ?no .
  FILTER NOT EXISTS {{ ?n dsi:status ?s }}
  OPTIONAL {{ ?e ?lp ?i FILTER(?lp IN (owl:sameAs, skos:closeMatch)) }} }} }}"""
    data = [t for link in new for t in link_triples(graph, link, source, when)]
    insert = f"INSERT DATA {{ GRAPH {sparql_term(g)} {{ {sparql_term(data)} }} }}" if data else ""
    # every subject the update may change: the entities, their evidence nodes now and after
    old_nodes = [r["n"] for r in kb.select(
        f"SELECT ?g ?n WHERE {{ GRAPH ?g {{ VALUES ?e {{ {sparql_term([_n(e) for e in entities])} }} "
        "?n rdf:subject ?e } }", bind={"g": g})] if entities else []
    touched = {_n(e) for e in entities} | set(old_nodes) | {t.subject for t in data}
    kb.update(delete + (" ;\n" + insert if insert else ""), touched=touched)


def decide(kb: KB, graph: str, entity: str, item: str, decision: str, *, by: str,
           reason: str = "", predicate: str = SAME_AS) -> None:
    """Record a moderator's decision on a link (proposed or not): confirmed links hold
    ``predicate`` (default owl:sameAs); rejected ones lose their link triple but keep the node."""
    if decision not in (CONFIRMED, REJECTED):
        raise BadRequest(f"a decision is {CONFIRMED!r} or {REJECTED!r}, not {decision!r}")
    e, i, p = parse_iri(entity, "entity"), parse_iri(item, "item"), parse_iri(predicate, "predicate")
    if not kb.ask("ASK { ?e ?p ?o }", bind={"e": e}):
        raise NotFound(f"no entity {entity}")
    g, n = _n(graph), _n(node_iri(graph, e.value, i.value))
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    dsi = kb.names.dsi
    data = [ox.Triple(e, p, i)] if decision == CONFIRMED else []
    data += [ox.Triple(n, _n(RDF + "type"), _n(RDF + "Statement")), ox.Triple(n, _n(RDF + "subject"), e),
             ox.Triple(n, _n(RDF + "object"), i), ox.Triple(n, _n(RDF + "predicate"), p),
             ox.Triple(n, _n(dsi("status")), ox.Literal(decision)), ox.Triple(n, _n(dsi("reason")), ox.Literal(reason)),
             ox.Triple(n, _n(PROV + "wasAttributedTo"), ox.Literal(by)),
             ox.Triple(n, _n(DCT + "modified"), _typed(now, "dateTime"))]
    kb.update(f"""DELETE {{ GRAPH {sparql_term(g)} {{ {sparql_term(e)} ?lp {sparql_term(i)} . {sparql_term(n)} ?np ?no }} }}
WHERE {{ GRAPH {sparql_term(g)} {{
  {{ {sparql_term(e)} ?lp {sparql_term(i)} FILTER(?lp IN (owl:sameAs, skos:closeMatch)) }} UNION
  {{ {sparql_term(n)} ?np ?no FILTER(?np IN (rdf:predicate, dsi:status, dsi:reason,
                                    prov:wasAttributedTo, dcterms:modified)) }} }} }} ;
INSERT DATA {{ GRAPH {sparql_term(g)} {{ {sparql_term(data)} }} }}""", touched={e, n})


def one_same_as_per_item(kb: KB, graph: str) -> int:
    """Where several of our entities are owl:sameAs one item (duplicates in our data, or a project
    and its organisation), keep the best-scored and make the others skos:closeMatch. Moderated
    links are left as they are. Returns how many links were demoted."""
    rows = kb.select("""SELECT ?g ?e ?i ?n ?score WHERE { GRAPH ?g {
        ?e owl:sameAs ?i . ?n rdf:subject ?e ; rdf:object ?i ; prov:value ?score
        FILTER NOT EXISTS { ?n dsi:status ?s } } }""", bind={"g": _n(graph)})
    by_item: dict[str, list] = {}
    for r in rows:
        by_item.setdefault(r["i"].value, []).append((-float(r["score"].value), r["e"].value, r["n"].value))
    demote = []
    for item, group in by_item.items():
        if len(group) > 1:
            group.sort()
            keep = group[0][1]
            demote += [(e, item, n, keep) for _, e, n in group[1:]]
    if not demote:
        return 0
    g, rdf_p = _n(graph), _n(RDF + "predicate")
    same, close = _n(SAME_AS), _n(CLOSE_MATCH)
    parts, touched = [], set()
    for e, item, n, keep in demote:
        e, item, n = _n(e), _n(item), _n(n)
        gone = [ox.Triple(e, same, item), ox.Triple(n, rdf_p, same)]
        added = [ox.Triple(e, close, item), ox.Triple(n, rdf_p, close),
                 ox.Triple(n, _n(DCT + "description"), ox.Literal("the item is owl:sameAs a better match: " + keep))]
        parts.append(f"DELETE DATA {{ GRAPH {sparql_term(g)} {{ {sparql_term(gone)} }} }} ;\n"
                     f"INSERT DATA {{ GRAPH {sparql_term(g)} {{ {sparql_term(added)} }} }}")
        touched |= {e, n}
    kb.update(" ;\n".join(parts), touched=touched)
    return len(demote)


def describe_graph(kb: KB, graph: str, *, title: str, derived_from: str | None = None) -> None:
    """The graph's description in graph/meta (licence CC BY 4.0: the links are the project's work)."""
    from kb.importers.meta import CC_BY, describe, update_meta

    triples = describe(graph, title=title, license=CC_BY)
    g = ox.NamedNode(graph)
    dct = "http://purl.org/dc/terms/"
    if derived_from and derived_from.startswith(("http://", "https://")):
        triples.append(ox.Triple(g, ox.NamedNode(dct + "source"), ox.NamedNode(derived_from)))
        triples.append(ox.Triple(g, ox.NamedNode("http://www.w3.org/ns/prov#wasDerivedFrom"),
                                 ox.NamedNode(derived_from)))
    update_meta(kb, {graph: triples})
