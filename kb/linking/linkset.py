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

from kb.errors import BadRequest, NotFound
from kb.store import KB

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


def _lit(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ").replace("\r", " ") + '"'


def decisions(kb: KB, graph: str) -> dict[tuple[str, str], str]:
    """(entity, item) -> 'confirmed' | 'rejected' for every moderated link."""
    rows = kb.select(f"""SELECT ?e ?i ?s WHERE {{ GRAPH <{graph}> {{
        ?n rdf:subject ?e ; rdf:object ?i ; <{kb.names.dsi('status')}> ?s }} }}""")
    return {(r["e"].value, r["i"].value): r["s"].value for r in rows}


def links(kb: KB, graph: str, entity: str | None = None) -> list[dict]:
    """The links in ``graph`` (optionally of one entity), with predicate, score and decision."""
    where = f"VALUES ?e {{ <{entity}> }}" if entity else ""
    rows = kb.select(f"""SELECT ?e ?p ?i ?score ?status WHERE {{ GRAPH <{graph}> {{ {where}
        ?e ?p ?i FILTER(?p IN (owl:sameAs, skos:closeMatch))
        OPTIONAL {{ ?n rdf:subject ?e ; rdf:object ?i .
                   OPTIONAL {{ ?n prov:value ?score }} OPTIONAL {{ ?n <{kb.names.dsi('status')}> ?status }} }}
    }} }}""")
    return [{"entity": r["e"].value, "predicate": r["p"].value, "item": r["i"].value,
             "score": float(r["score"].value) if "score" in r else None,
             "status": r["status"].value if "status" in r else None} for r in rows]


def replace_machine_links(kb: KB, graph: str, entities: list[str], new: list[Link], *,
                          source: str, when: dt.datetime | None = None) -> None:
    """Drop the undecided links of ``entities`` and write ``new`` in one update."""
    if not entities and not new:
        return
    when = when or dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    status = kb.names.dsi("status")
    values = " ".join(f"<{e}>" for e in entities)
    delete = f"""DELETE {{ GRAPH <{graph}> {{ ?e ?lp ?i . ?n ?np ?no }} }}
WHERE {{ GRAPH <{graph}> {{ VALUES ?e {{ {values} }}
  ?n rdf:subject ?e ; rdf:object ?i ; ?np ?no .
  FILTER NOT EXISTS {{ ?n <{status}> ?s }}
  OPTIONAL {{ ?e ?lp ?i FILTER(?lp IN (owl:sameAs, skos:closeMatch)) }} }} }}"""
    triples = []
    for link in new:
        n = node_iri(graph, link.entity, link.item)
        triples.append(f"<{link.entity}> <{link.predicate}> <{link.item}> .")
        triples.append(f"<{n}> a rdf:Statement ; rdf:subject <{link.entity}> ; "
                       f"rdf:predicate <{link.predicate}> ; rdf:object <{link.item}> ; "
                       f'prov:value "{link.score:.3f}"^^xsd:decimal ; '
                       f'prov:generatedAtTime "{when.isoformat()}"^^xsd:dateTime ; '
                       f'dcterms:date "{when.date().isoformat()}"^^xsd:date ; '
                       f"dcterms:source <{source}> ; dcterms:creator \"dsikb link\" .")
        for line in link.evidence:
            triples.append(f"<{n}> dcterms:description {_lit(line)} .")
    insert = f"INSERT DATA {{ GRAPH <{graph}> {{ {' '.join(triples)} }} }}" if triples else ""
    kb.update(delete + (" ;\n" + insert if insert else ""))


def decide(kb: KB, graph: str, entity: str, item: str, decision: str, *, by: str,
           reason: str = "", predicate: str = SAME_AS) -> None:
    """Record a moderator's decision on a link (proposed or not): confirmed links hold
    ``predicate`` (default owl:sameAs); rejected ones lose their link triple but keep the node."""
    if decision not in (CONFIRMED, REJECTED):
        raise BadRequest(f"a decision is {CONFIRMED!r} or {REJECTED!r}, not {decision!r}")
    if not kb.ask(f"ASK {{ <{entity}> ?p ?o }}"):
        raise NotFound(f"no entity {entity}")
    n = node_iri(graph, entity, item)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    dsi = kb.names.dsi
    keep = f"<{entity}> <{predicate}> <{item}> ." if decision == CONFIRMED else ""
    kb.update(f"""DELETE {{ GRAPH <{graph}> {{ <{entity}> ?lp <{item}> . <{n}> ?np ?no }} }}
WHERE {{ GRAPH <{graph}> {{
  {{ <{entity}> ?lp <{item}> FILTER(?lp IN (owl:sameAs, skos:closeMatch)) }} UNION
  {{ <{n}> ?np ?no FILTER(?np IN (rdf:predicate, <{dsi('status')}>, <{dsi('reason')}>,
                                    prov:wasAttributedTo, dcterms:modified)) }} }} }} ;
INSERT DATA {{ GRAPH <{graph}> {{ {keep}
  <{n}> a rdf:Statement ; rdf:subject <{entity}> ; rdf:object <{item}> ; rdf:predicate <{predicate}> ;
    <{dsi('status')}> "{decision}" ; <{dsi('reason')}> {_lit(reason)} ;
    prov:wasAttributedTo {_lit(by)} ; dcterms:modified "{now}"^^xsd:dateTime . }} }}""")


def one_same_as_per_item(kb: KB, graph: str) -> int:
    """Where several of our entities are owl:sameAs one item (duplicates in our data, or a project
    and its organisation), keep the best-scored and make the others skos:closeMatch. Moderated
    links are left as they are. Returns how many links were demoted."""
    status = kb.names.dsi("status")
    rows = kb.select(f"""SELECT ?e ?i ?n ?score WHERE {{ GRAPH <{graph}> {{
        ?e owl:sameAs ?i . ?n rdf:subject ?e ; rdf:object ?i ; prov:value ?score
        FILTER NOT EXISTS {{ ?n <{status}> ?s }} }} }}""")
    by_item: dict[str, list] = {}
    for r in rows:
        by_item.setdefault(r["i"].value, []).append((-float(r["score"].value), r["e"].value, r["n"].value))
    demote = []
    for item, group in by_item.items():
        if len(group) > 1:
            group.sort()
            keep = group[0][1]
            demote += [(e, item, n, keep) for _, e, n, _ in [(g[0], g[1], g[2], None) for g in group[1:]]]
    if not demote:
        return 0
    parts = []
    for e, item, n, keep in demote:
        parts.append(f"""DELETE DATA {{ GRAPH <{graph}> {{ <{e}> owl:sameAs <{item}> . <{n}> rdf:predicate owl:sameAs }} }} ;
INSERT DATA {{ GRAPH <{graph}> {{ <{e}> skos:closeMatch <{item}> . <{n}> rdf:predicate skos:closeMatch ;
  dcterms:description {_lit("the item is owl:sameAs a better match: " + keep)} }} }}""")
    kb.update(" ;\n".join(parts))
    return len(demote)


def describe_graph(kb: KB, graph: str, *, title: str, derived_from: str | None = None) -> None:
    """The graph's description in graph/meta (licence CC BY 4.0: the links are the project's work)."""
    import pyoxigraph as ox

    from kb.importers.meta import CC_BY, describe, update_meta

    triples = describe(graph, title=title, license=CC_BY)
    g = ox.NamedNode(graph)
    dct = "http://purl.org/dc/terms/"
    if derived_from and derived_from.startswith(("http://", "https://")):
        triples.append(ox.Triple(g, ox.NamedNode(dct + "source"), ox.NamedNode(derived_from)))
        triples.append(ox.Triple(g, ox.NamedNode("http://www.w3.org/ns/prov#wasDerivedFrom"),
                                 ox.NamedNode(derived_from)))
    update_meta(kb, {graph: triples})
