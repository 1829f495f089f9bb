"""Merging duplicate entities: the survivor keeps its slug, the other answers 301 to it forever.

A merge is a statement, not a deletion: ``<merged> dsi:mergedInto <survivor>`` in ``graph/merges``
(apart from the import graphs, so re-importing the sources keeps it), with the date, who decided and
why. The merged entity's names become alternative names of the survivor, so search and
reconciliation still find it under them. Earlier merges into the merged entity are re-pointed to the
survivor: a redirect never chains.
"""

from __future__ import annotations

import datetime as dt

from kb.errors import BadRequest, NotFound
from kb.store import KB


def _lit(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ").replace("\r", " ") + '"'


def survivor_of(kb: KB, iri: str) -> str | None:
    rows = kb.select(f"SELECT ?s WHERE {{ <{iri}> <{kb.names.dsi('mergedInto')}> ?s }}")
    return rows[0]["s"].value if rows else None


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
    for iri in (survivor, merged):
        if not kb.ask(f"ASK {{ <{iri}> a ?t }}"):
            raise NotFound(f"no entity {iri}")
    if not by.strip():
        raise BadRequest("say who decided the merge (by=...)")
    merged_into = n.dsi("mergedInto")
    current = survivor_of(kb, merged)
    if current == survivor:
        return False
    if current is not None:
        raise BadRequest(f"{merged} was already merged into {current}")
    if survivor_of(kb, survivor) is not None:
        raise BadRequest(f"{survivor} was itself merged into {survivor_of(kb, survivor)}: merge into that one")
    graph = kb.graphs.merges
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    known = {r["l"].value for r in kb.select(
        f"SELECT ?l WHERE {{ {{ <{survivor}> rdfs:label ?l }} UNION {{ <{survivor}> skos:altLabel ?l }} }}")}
    names = {r["l"].value for r in kb.select(
        f"SELECT ?l WHERE {{ {{ <{merged}> rdfs:label ?l }} UNION {{ <{merged}> skos:altLabel ?l }} }}")}
    alt = " ".join(f"<{survivor}> skos:altLabel {_lit(x)} ." for x in sorted(names - known))
    why = f"<{merged}> <{n.dsi('reason')}> {_lit(reason)} ." if reason.strip() else ""
    kb.update(f"""
DELETE {{ GRAPH <{graph}> {{ ?x <{merged_into}> <{merged}> }} }}
INSERT {{ GRAPH <{graph}> {{ ?x <{merged_into}> <{survivor}> }} }}
WHERE {{ GRAPH <{graph}> {{ ?x <{merged_into}> <{merged}> }} }} ;
INSERT DATA {{ GRAPH <{graph}> {{
  <{merged}> <{merged_into}> <{survivor}> ; dcterms:modified "{now}"^^xsd:dateTime ;
    prov:wasAttributedTo {_lit(by)} .
  {why} {alt}
}} }}""")
    from kb.linking.linkset import describe_graph

    describe_graph(kb, graph, title="Merges of duplicate entities (dsi:mergedInto, decided by moderators)")
    kb.flush()
    return True
