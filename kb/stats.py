"""Figures of the store, for ``dsikb stats`` and ``/healthz``."""

from __future__ import annotations

from kb.store import KB

ENTITY_CLASSES = ("Organisation", "Project", "Activity", "Event", "Funding", "Place", "Person")


def stats(kb: KB) -> dict:
    """Triples, entities per class (public ones: not flagged hidden), graphs, outbound links."""
    n = kb.names
    per_class = {}
    for cls in ENTITY_CLASSES:
        rows = kb.select(
            f"SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ ?s a <{n.dsi(cls)}> "
            f"FILTER NOT EXISTS {{ ?s <{n.dsi('hidden')}> true }} }}"
        )
        per_class[cls] = int(rows[0]["n"].value)
    hidden = kb.select(f"SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ ?s <{n.dsi('hidden')}> true }}")
    links = kb.select(
        "SELECT (COUNT(*) AS ?n) WHERE { { ?s owl:sameAs ?o } UNION { ?s skos:exactMatch ?o } "
        "UNION { ?s skos:closeMatch ?o } FILTER(isIRI(?o) && STRSTARTS(STR(?o), 'http://www.wikidata.org/')) }"
    )
    graphs = kb.named_graphs()
    return {
        "triples": kb.triple_count(),
        "entities": per_class,
        "hidden_entities": int(hidden[0]["n"].value),
        "graphs": len(graphs),
        "wikidata_links": int(links[0]["n"].value),
        "generation": kb.generation,
        "last_modified": kb.modified,
    }
