"""Figures of the store, for ``dsikb stats``, the home page, ``/healthz`` and ``/readyz``.

The quick figures are counts over the whole store (6 s over a remote Oxigraph server at 1M
statements), so they are computed once per store generation (they change
only when the store does) by one thread, and the others asking meanwhile wait for that answer:
health probes every few seconds must not keep the store busy, nor be an anonymous way to do so.
``detail=True`` (``dsikb stats``) adds the statements per named graph and the links per target
dataset, which read the whole store, and is never kept.
"""

from __future__ import annotations

import threading
import weakref

import pyoxigraph as ox

from kb.store import KB

_figures: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # KB -> (generation, figures)
_figures_lock = threading.Lock()

ENTITY_CLASSES = ("Organisation", "Project", "Activity", "Event", "Funding", "Place", "Person")


def stats(kb: KB, *, detail: bool = False) -> dict:
    """Triples and entities per class of the public dataset (the public default graph: what the dumps,
    VoID and SPARQL clients see), hidden and withdrawn entities, graphs, outbound links. Without
    ``detail``, computed once per store generation (a copy is returned)."""
    if detail:
        return _stats(kb, detail=True)
    generation = kb.generation
    held = _figures.get(kb)
    if held is None or held[0] != generation:
        with _figures_lock:  # one computation at a time; who waited gets its answer
            held = _figures.get(kb)
            generation = kb.generation
            if held is None or held[0] != generation:
                # kept under the generation read before counting: a write meanwhile is counted next time
                held = (generation, _stats(kb))
                _figures[kb] = held
    return dict(held[1], entities=dict(held[1]["entities"]))


def _stats(kb: KB, *, detail: bool = False) -> dict:
    from kb.store import publicview

    n = kb.names
    counts = {row["c"].value: int(row["n"].value) for row in kb.select(
        "SELECT ?c (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a ?c } GROUP BY ?c",
        union=publicview.union_default(kb))}
    per_class = {cls: counts.get(n.dsi(cls), 0) for cls in ENTITY_CLASSES}
    hidden = kb.select("SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s dsi:hidden true }")
    withdrawn = kb.select("SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s dsi:withdrawn ?w }")
    links = kb.select(
        "SELECT (COUNT(*) AS ?n) WHERE { { ?s owl:sameAs ?o } UNION { ?s skos:exactMatch ?o } "
        "UNION { ?s skos:closeMatch ?o } FILTER(isIRI(?o) && STRSTARTS(STR(?o), 'http://www.wikidata.org/')) }"
    )
    graphs = kb.named_graphs()
    figures = {
        "triples": publicview.size(kb),
        "quads": kb.triple_count(),
        "entities": per_class,
        "hidden_entities": int(hidden[0]["n"].value),
        "withdrawn_entities": int(withdrawn[0]["n"].value),
        "graphs": len(graphs),
        "wikidata_links": int(links[0]["n"].value),
        "generation": kb.generation,
        "last_modified": kb.modified,
    }
    if detail:
        figures["graph_triples"] = graph_triples(kb)
        figures["links"] = links_by_target(kb)
    return figures


def graph_triples(kb: KB) -> dict[str, int]:
    """Statements per named graph of the knowledge base, in one pass (a remote store's bookkeeping
    graphs under graph/tmp/, such as its generation, left out: they are not the knowledge base's)."""
    rows = kb.select("SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g",
                     union=False)
    ours = set(kb.named_graphs())
    return {row["g"].value: int(row["n"].value) for row in rows if row["g"].value in ours}


def links_by_target(kb: KB) -> dict[str, int]:
    """owl:sameAs / skos:exactMatch / skos:closeMatch links to other datasets, per target (as in VoID)."""
    import pyoxigraph as ox

    from kb.publish.void import LINK_PREDICATES, _target_of

    counts: dict[str, int] = {}
    for pred in LINK_PREDICATES:
        links = {q.triple for q in kb.quads(None, ox.NamedNode(pred), None, None)
                 if isinstance(q.graph_name, ox.NamedNode)}  # each link once, hidden entities' too
        for triple in links:
            o = triple.object
            if isinstance(o, ox.NamedNode) and not o.value.startswith(kb.names.base):
                slug = _target_of(o.value)[0]
                counts[slug] = counts.get(slug, 0) + 1
    return dict(sorted(counts.items()))
