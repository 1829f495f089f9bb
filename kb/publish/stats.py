"""Figures of the store, for ``dsikb stats``, the home page, ``/healthz``, ``/readyz`` and ``/metrics``.

The quick figures are counts over the whole store (6 s over a remote Oxigraph server at 1M
statements, longer at 10M), so they are computed once per store generation, by one thread of their
own: health probes every few seconds must not keep the store busy, nor be an anonymous way to do so,
and no request thread waits for them longer than it asks (``wait``): a liveness probe, the home page
or a metrics scrape that waited for the count held a server thread each, and while a large store was
being counted they filled the server's threads and it stopped answering anything. A caller that
stops waiting gets the figures of the last generation counted, marked ``"counting": true`` (or only
that mark, before the first count). ``detail=True`` (``dsikb stats``) adds the statements per named
graph and the links per target dataset, which read the whole store, and is never kept.
"""

from __future__ import annotations

import threading
import time
import weakref

import pyoxigraph as ox

from kb.store import KB

ENTITY_CLASSES = ("Organisation", "Project", "Activity", "Event", "Funding", "Place", "Person")


class _Counting:
    """One KB's figures: the last counted (generation, figures), and the count under way, if any."""

    def __init__(self):
        self.held: tuple[int, dict] | None = None
        self.running: int | None = None  # the generation being counted
        self.round = 0  # counts started; a waiter waits for the end of its own round
        self.finished = 0  # the last round that ended (rounds run one at a time, in order)
        self.ended: dict[int, tuple] = {}  # the last few rounds -> (generation counted, error or None)


# Seconds a health probe or metrics scrape, and the home page (before the first count, then when
# older figures can be shown), wait for this generation's figures before they answer with the last
# counted, marked "counting".
PROBE_WAIT = 1.0
PAGE_WAIT = 3.0
PAGE_WAIT_STALE = 0.5
# Seconds each of the count's queries may take over a remote store (a user's query has
# DSIKB_QUERY_TIMEOUT): at 10M statements counting the entities per class took 25 s on a busy machine.
COUNT_SECONDS = 600.0

_counting: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # KB -> _Counting
_changed = threading.Condition()


def stats(kb: KB, *, detail: bool = False, wait: float | None = None, wait_stale: float | None = None) -> dict:
    """Triples and entities per class of the public dataset (the public default graph: what the dumps,
    VoID and SPARQL clients see), hidden and withdrawn entities, graphs, outbound links.

    Without ``detail``, counted once per store generation by a thread of its own (a copy is returned).
    ``wait``: seconds to wait for this generation's figures (None: until they are counted); past it,
    the last generation's figures with ``"counting": True``. ``wait_stale``: the same when an older
    generation's figures are there to show (default: ``wait``). An error of the count (the store cannot
    answer) is raised to those who waited for it; the next call counts again."""
    if detail:
        with kb.patient(COUNT_SECONDS):
            return _stats(kb, detail=True)
    generation = kb.generation
    started = time.monotonic()
    with _changed:
        st = _counting.get(kb)
        if st is None:
            st = _counting[kb] = _Counting()
        while True:
            if st.held is not None and st.held[0] == generation:
                return _copy(st.held[1])
            if st.running is None:
                st.round += 1
                st.running = generation
                threading.Thread(target=_count, args=(kb, st, st.round, generation), name="dsikb-figures",
                                 daemon=True).start()
            mine = st.round  # the round under way: ours, or an older generation's (then one more)
            while st.finished < mine:
                patience = wait if st.held is None or wait_stale is None else wait_stale
                left = None if patience is None else started + patience - time.monotonic()
                if left is not None and left <= 0:
                    stale = _copy(st.held[1]) if st.held is not None else {}
                    stale["counting"] = True
                    return stale
                _changed.wait(left)
            counted, error = st.ended.get(mine, (None, None))  # (long gone: counted again)
            if error is not None and counted == generation:
                raise error


def _count(kb: KB, st: _Counting, round_: int, generation) -> None:
    """The count of one round, on its own thread; kept under the generation read before counting
    (a write meanwhile is counted by the next round)."""
    error: BaseException | None = None
    try:
        with kb.patient(COUNT_SECONDS):
            figures = _stats(kb)
    except BaseException as exc:  # noqa: BLE001 - handed to whoever waits for this round
        error = exc
    with _changed:
        if error is None:
            st.held = (generation, figures)  # rounds run one at a time: the newest counted
        st.running = None
        st.finished = round_
        st.ended = {r: e for r, e in st.ended.items() if r > round_ - 8}
        st.ended[round_] = (generation, error)
        _changed.notify_all()


def _copy(figures: dict) -> dict:
    return dict(figures, entities=dict(figures["entities"]))


def _stats(kb: KB, *, detail: bool = False) -> dict:
    from kb.store import publicview

    n = kb.names
    counts = {row["c"].value: int(row["n"].value) for row in kb.select(
        "SELECT ?c (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a ?c } GROUP BY ?c",
        union=publicview.union_default(kb))}
    per_class = {cls: counts.get(n.dsi(cls), 0) for cls in ENTITY_CLASSES}
    hidden = kb.select("SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s dsi:hidden true }")
    withdrawn = kb.select("SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s dsi:withdrawn ?w }")
    # the public view leaves hidden and withdrawn entities out (a FILTER NOT EXISTS per statement took
    # 130 s at 10M statements)
    countries = kb.select("SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE { ?s dsi:country ?c }",
                          union=publicview.union_default(kb))
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
        "countries": int(countries[0]["n"].value) if countries else 0,
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
