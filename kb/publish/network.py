"""The network of organisations: who is linked to whom through shared projects, and its figures.

Two visible organisations are linked when they take part in the same project (any role, from the
memberships and the ``dsi:takesPartIn`` shortcut), when one funds a project the other takes part in
(``dsi:Funding`` nodes: ``dsi:funder`` and ``dsi:fundedProject``), or when the 2013 partner network
says they are partners (``dsi:Collaboration`` nodes of the 2013 import). Hidden, withdrawn and merged
organisations are left out (a merged one's links go to its survivor).

Figures per organisation (networkx): degree (distinct partners), betweenness centrality (sampled
from ``SAMPLES`` sources with a fixed seed past ``EXACT_BETWEENNESS`` nodes), community (Louvain, fixed seed) and the
communities its partners fall in (a *bridge* links two or more). Past ``FAST_ABOVE`` nodes (large
stores: ~500,000 organisations at 10M statements) igraph's C code computes the betweenness (the same
sampled estimate) and the communities (its Louvain), kb/publish/network_fast.py. They are published as RDF in their
own named graph (``graph/network``, see :func:`publish`), rebuilt by ``kb.derive.derive`` after every
change of the data, and kept in memory per store generation for the ``/network`` page
(:func:`network`), with a layout computed here so the browser draws at once.
"""

from __future__ import annotations

import math
import threading
import weakref
from dataclasses import dataclass, field

import networkx as nx
import pyoxigraph as ox

from kb.store.generational import Budgeted

SEED = 42
EXACT_BETWEENNESS = 600  # nodes; above it, betweenness from SAMPLES sampled sources (Brandes: O(sources x links))
SAMPLES = 300
FAST_ABOVE = 20_000  # nodes; above it igraph (C) computes betweenness and communities (kb/publish/network_fast.py)
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
GRAPH_TITLE = "Network figures of organisations (degree, betweenness, communities), computed from shared projects"


@dataclass
class Network:
    """The organisation graph of one store generation, with its figures and a layout."""

    generation: int
    graph: nx.Graph
    labels: dict[str, str]
    degree: dict[str, int]
    betweenness: dict[str, float]
    community: dict[str, int]  # node -> community number (1 = the largest)
    communities: list[list[str]]  # number - 1 -> members, most central first
    links: dict[str, list[int]]  # node -> the communities it and its partners are in (sorted)
    positions: dict[str, tuple[float, float]] = field(default_factory=dict)
    memo: dict = field(default_factory=dict)  # views of the page, by filter

    def bridges(self, iri: str) -> list[int]:
        """The communities an organisation links (two or more), else []."""
        found = self.links.get(iri, [])
        return found if len(found) > 1 else []

    def community_label(self, number: int) -> str:
        members = self.communities[number - 1]
        return f"Community {number} (around {self.labels.get(members[0], members[0])})"


# -- reading the graph from the store ---------------------------------------------------------------
def _visible_organisations(kb) -> tuple[set[str], dict[str, str]]:
    """Organisations that are neither hidden nor withdrawn, and merged -> survivor."""
    orgs = {r["o"].value for r in kb.select("SELECT ?o WHERE { ?o a dsi:Organisation }")
            if isinstance(r["o"], ox.NamedNode)}
    gone = {r["o"].value for r in kb.select(
        "SELECT DISTINCT ?o WHERE { { ?o dsi:hidden true } UNION { ?o dsi:withdrawn ?w } }")}
    merged = {r["o"].value: r["s"].value for r in kb.select("SELECT ?o ?s WHERE { ?o dsi:mergedInto ?s }")}
    return orgs - gone - set(merged), merged


def read_graph(kb, pending: dict | None = None) -> tuple[nx.Graph, dict[str, str]]:
    """The undirected organisation graph (edge attributes: ``weight`` = shared projects, at least 1;
    ``funding`` = one of the two funds a project they share) and the organisations' labels.
    ``pending``: graph IRI -> (removed, added) triples of a write not made yet (kb/build/incremental.py
    writes graph/derived and these figures in one update): read as if it were made."""
    visible, merged = _visible_organisations(kb)

    def node(term) -> str | None:
        iri = merged.get(term.value, term.value) if isinstance(term, ox.NamedNode) else None
        return iri if iri in visible else None

    members: dict[str, set[str]] = {}  # project -> organisations
    funders: dict[str, set[str]] = {}  # project -> organisations that fund it
    for o, p, r in _participation(kb, pending):
        o = node(o)
        if o is None or not isinstance(p, ox.NamedNode):
            continue
        members.setdefault(p.value, set()).add(o)
        if r is not None and (isinstance(r, ox.Literal) or r.value.endswith(("/sole-funder", "/co-funder"))):
            funders.setdefault(p.value, set()).add(o)
    g = nx.Graph()
    for project in sorted(members):
        orgs = sorted(members[project])
        paying = funders.get(project, set())
        for i, a in enumerate(orgs):
            for b in orgs[i + 1:]:
                if g.has_edge(a, b):
                    g[a][b]["weight"] += 1
                    g[a][b]["funding"] |= a in paying or b in paying
                else:
                    g.add_edge(a, b, weight=1, funding=a in paying or b in paying)
    for a, b in _partner_pairs(kb, pending):
        a, b = node(a), node(b)
        if a and b and a != b and not g.has_edge(a, b):
            g.add_edge(a, b, weight=1, funding=False)
    ordered = nx.Graph()  # nodes and edges in IRI order: the seeded algorithms give the same answer each run
    ordered.add_nodes_from(sorted(g.nodes))
    ordered.add_edges_from(sorted((min(a, b), max(a, b), d) for a, b, d in g.edges(data=True)))
    found: dict[str, list] = {}
    if kb.in_process:  # one quad pattern per linked organisation (every graph, as the union query reads):
        label = ox.NamedNode(RDFS_LABEL)  # cheap in process, not every organisation's labels, no SPARQL
        for iri in ordered:
            ls = [q.object for q in kb.quads(ox.NamedNode(iri), label, None, None) if isinstance(q.object, ox.Literal)]
            if ls:
                found[iri] = ls
    else:  # one request
        for r in kb.select("SELECT ?o ?l WHERE { ?o a dsi:Organisation ; rdfs:label ?l }"):
            if r["o"].value in ordered and isinstance(r["l"], ox.Literal):
                found.setdefault(r["o"].value, []).append(r["l"])
    # English or untagged first, then the same choice every run (community names come from labels)
    labels = {o: min(ls, key=lambda lit: (lit.language not in (None, "en"), lit.language or "", lit.value)).value
              for o, ls in found.items()}
    return ordered, labels


def _triples(kb, predicate: ox.NamedNode, object=None, pending: dict | None = None):
    """The statements (quads, and the triples of ``pending``: each has ``subject`` and ``object``) of a
    quad pattern over every graph, with a ``pending`` write (see :func:`read_graph`) made. In process,
    the named graphs one by one: the default graph's statements are in some named graph too (it is
    their merge, kb/store/publicview.py), so its copies add nothing and reading them took as long."""
    pending = pending or {}
    gone = {t for removed, _ in pending.values() for t in removed if t.predicate == predicate}
    graphs = [ox.NamedNode(g) for g in kb.named_graphs()] if kb.in_process else [None]
    for graph in graphs:
        for q in kb.quads(None, predicate, object, graph):
            if gone and q.triple in gone:
                named = not isinstance(q.graph_name, ox.DefaultGraph)
                if not named or q.triple in pending.get(q.graph_name.value, ((),))[0]:
                    continue  # the default graph's copy goes unless a named graph still states it
            yield q
    for _, added in pending.values():
        yield from (t for t in added if t.predicate == predicate and (object is None or t.object == object))


def _pairs(kb, predicate: str, pending: dict | None = None) -> dict:
    """Subject -> set of objects of ``dsi:{predicate}`` (a quad pattern: the cheapest read)."""
    out: dict = {}
    for t in _triples(kb, ox.NamedNode(kb.names.dsi(predicate)), None, pending):
        out.setdefault(t.subject, set()).add(t.object)
    return out


def _participation(kb, pending: dict | None = None) -> set[tuple]:
    """(organisation, project, role or None) as one SPARQL query would give them (``?o dsi:takesPartIn
    ?p``, or a membership with its role if any, or a dsi:Funding node with ``true`` for a role), from
    quad patterns joined here: where the union of joins took a second on the real data."""
    pairs = lambda predicate: _pairs(kb, predicate, pending)  # noqa: E731
    out: set[tuple] = {(o, p, None) for o, ps in pairs("takesPartIn").items() for p in ps}
    orgs, projects, roles = pairs("organisation"), pairs("project"), pairs("role")
    for m, os_ in orgs.items():
        for p in projects.get(m, ()):
            for o in os_:
                out.update((o, p, r) for r in roles.get(m, (None,)))
    funded = pairs("fundedProject")
    for f, os_ in pairs("funder").items():
        out.update((o, p, ox.Literal(True)) for p in funded.get(f, ()) for o in os_)
    return out


def _partner_pairs(kb, pending: dict | None = None) -> set[tuple]:
    """(a, b) with STR(a) < STR(b) for every dsi:Collaboration node naming both as collaborators."""
    kind = ox.NamedNode(kb.names.dsi("Collaboration"))
    typed = {t.subject for t in _triples(kb, ox.NamedNode(RDF_TYPE), kind, pending)}
    out = set()
    for c, names in _pairs(kb, "collaborator", pending).items():
        if c in typed:
            named = [t for t in names if not isinstance(t, ox.BlankNode)]  # STR() of a blank node fails
            out.update((a, b) for a in named for b in named if a.value < b.value)
    return out


def compute(kb, generation: int | None = None, pending: dict | None = None) -> Network:
    """Read the graph and compute every figure (deterministic for a given store content; ``pending``:
    see :func:`read_graph`)."""
    g, labels = read_graph(kb, pending)
    degree = dict(g.degree())
    net = assemble(kb.generation if generation is None else generation, g, labels, degree,
                   betweenness_of(g), communities_of(g))
    net.positions = layout(net)
    return net


def _fast(g: nx.Graph) -> bool:
    """Whether igraph computes the figures: past ``FAST_ABOVE`` nodes, when it is installed."""
    if g.number_of_nodes() <= FAST_ABOVE:
        return False
    from kb.publish import network_fast

    return network_fast.available()


def betweenness_of(g: nx.Graph) -> dict[str, float]:
    """Normalised betweenness: exact up to ``EXACT_BETWEENNESS`` nodes, else estimated from ``SAMPLES``
    sources drawn with ``SEED`` (networkx's estimate; igraph computes the same figures past
    ``FAST_ABOVE`` nodes)."""
    n = g.number_of_nodes()
    k = SAMPLES if n > EXACT_BETWEENNESS else None
    if _fast(g):
        from kb.publish import network_fast

        return network_fast.betweenness(g, k, SEED)
    if k is not None:
        return nx.betweenness_centrality(g, k=k, seed=SEED)
    return nx.betweenness_centrality(g) if n else {}


def communities_of(g: nx.Graph) -> list[set[str]]:
    """Louvain communities (weights: shared projects, seeded with ``SEED``): networkx's up to
    ``FAST_ABOVE`` nodes, igraph's multilevel past it (another partition of the same quality)."""
    if not g.number_of_nodes():
        return []
    if _fast(g):
        from kb.publish import network_fast

        return network_fast.communities(g, SEED)
    return nx.community.louvain_communities(g, weight="weight", seed=SEED)


def assemble(generation: int, g: nx.Graph, labels: dict[str, str], degree: dict[str, int],
             betweenness: dict[str, float], found: list) -> Network:
    """The Network of these figures: communities numbered by size (1 = the largest), members most
    central first, and the communities each organisation and its partners are in (no layout yet)."""
    def central(iri):
        return (-degree[iri], -betweenness.get(iri, 0.0), iri)

    communities = sorted((sorted(c, key=central) for c in found), key=lambda c: (-len(c), central(c[0])))
    community = {iri: i + 1 for i, c in enumerate(communities) for iri in c}
    links = {iri: sorted({community[iri], *(community[x] for x in g[iri])}) for iri in g}
    return Network(generation, g, labels, degree, betweenness, community, communities, links)


# -- layout -----------------------------------------------------------------------------------------
GOLDEN = math.pi * (3 - math.sqrt(5))
EXACT_PACKING = 400  # discs; past it, a new disc size resumes the spiral one turn back, not from its start
CELL = 8.0  # side of the packer's grid cells (layout units)


def layout(net: Network) -> dict[str, tuple[float, float]]:
    """Positions: each community is a disc (its most central members in the middle, on a sunflower
    spiral), the discs packed along a spiral from the largest outwards (see :class:`_Packer`).
    Computed here, not in the browser, so the page draws at once, and the same every time for the
    same data."""
    radii = [math.sqrt(len(members)) + 1.0 for members in net.communities]
    packer = _Packer(radii)
    positions: dict[str, tuple[float, float]] = {}
    for members, radius in zip(net.communities, radii):
        cx, cy = packer.place(radius)
        for k, iri in enumerate(members):
            r, a = math.sqrt(k + 0.5), k * GOLDEN
            positions[iri] = (round(cx + r * math.cos(a), 3), round(cy + r * math.sin(a), 3))
    return positions


def _place(discs, radius: float) -> tuple[float, float]:
    """The first point along an outward spiral where a disc of ``radius`` overlaps none of ``discs``
    (x, y, radius), as :class:`_Packer` places it after them."""
    packer = _Packer([d[2] for d in discs] + [radius])
    for x, y, r in discs:
        packer.add(x, y, r)
    return packer.place(radius)


class _Packer:
    """Discs placed one after another along the spiral (0.6 t cos t, 0.6 t sin t), each at the first
    point of the spiral (stepped by its radius) where it overlaps no disc placed before.

    The placed discs are kept in a grid of ``CELL``-sided cells: each is listed in every cell within
    reach of a disc still to come (its radius + the largest radius to come + the 1.5 gap), so a point
    is checked against the discs of its own cell only. A disc of the same radius as the one before
    resumes the spiral where that one was placed: every earlier point of the same steps was refused
    already, and more discs refuse no less, so it goes where a walk from the start would put it. A
    disc of another radius walks from the start while at most ``EXACT_PACKING`` discs are placed (so
    small networks are laid out as before: the first free point), past it from one turn before where
    the last disc went (gaps further in may stay empty; a placement then costs about a turn of the
    spiral, not the whole spiral: O(n) overall rather than O(n^2))."""

    def __init__(self, radii: list[float]):
        self.to_come = radii[:]  # the largest radius from each position on
        for i in range(len(radii) - 2, -1, -1):
            self.to_come[i] = max(radii[i], self.to_come[i + 1])
        self.count = 0
        self.grid: dict[tuple[int, int], list[tuple[float, float, float]]] = {}
        self.last: tuple[float, float] | None = None  # (radius, t) of the last placement

    def add(self, x: float, y: float, radius: float) -> None:
        self.count += 1
        later = self.to_come[self.count] if self.count < len(self.to_come) else radius
        reach = radius + later + 1.5
        disc = (x, y, radius)
        for i in range(math.floor((x - reach) / CELL), math.floor((x + reach) / CELL) + 1):
            for j in range(math.floor((y - reach) / CELL), math.floor((y + reach) / CELL) + 1):
                self.grid.setdefault((i, j), []).append(disc)

    def place(self, radius: float) -> tuple[float, float]:
        x = y = t = 0.0
        if self.count:
            if self.last is not None and self.last[0] == radius:
                t = self.last[1]
            elif self.count > EXACT_PACKING and self.last is not None:
                t = max(0.0, self.last[1] - 2 * math.pi)
            grid, blocker = self.grid, None  # the disc that refused the last point: likely the next too
            while True:
                x, y = 0.6 * t * math.cos(t), 0.6 * t * math.sin(t)
                if blocker is None or not _overlaps(x, y, radius, blocker):
                    near = grid.get((math.floor(x / CELL), math.floor(y / CELL)))
                    blocker = next((d for d in near if _overlaps(x, y, radius, d)), None) if near else None
                    if blocker is None:
                        break
                t += max(0.02, 0.5 * radius / (1.0 + 0.6 * t))
        self.last = (radius, t)
        self.add(x, y, radius)
        return x, y


def _overlaps(x: float, y: float, radius: float, disc: tuple[float, float, float]) -> bool:
    dx, dy, dr = disc
    return not (x - dx) ** 2 + (y - dy) ** 2 >= (radius + dr + 1.5) ** 2


# -- per-generation cache ---------------------------------------------------------------------------
_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # KB -> Network
_lock = threading.Lock()


def cached(kb) -> Network | None:
    """The newest network computed for this store (of any generation), if any."""
    return _cache.get(kb)


def offer(kb, net: Network) -> None:
    """Keep ``net`` for the page unless a newer generation's is kept already (kb/publish/network_job.py)."""
    with _lock:
        held = _cache.get(kb)
        if held is None or held.generation <= net.generation:
            _cache[kb] = net


def network(kb) -> Network:
    """The network of the store's current generation, computed once by one thread, in this one
    (the pages ask kb/publish/network_job.py instead, which computes it in the background)."""
    generation = kb.generation
    cached = _cache.get(kb)
    if cached is not None and cached.generation == generation:
        return cached
    with _lock:
        cached = _cache.get(kb)
        if cached is None or cached.generation != generation:
            cached = compute(kb, generation)
            _cache[kb] = cached
    return cached


# -- the figures as RDF -----------------------------------------------------------------------------
def community_iri(kb, number: int) -> str:
    return f"{kb.graphs.network}#community-{number}"


def triples(kb, net: Network) -> list[ox.Triple]:
    """The figures graph: dsi:degree, dsi:betweenness, dsi:community and dsi:bridgesCommunities of
    each linked organisation, and each dsi:Community with its label and dsi:communitySize."""
    d = kb.names.dsi
    integer, decimal = ox.NamedNode(XSD + "integer"), ox.NamedNode(XSD + "decimal")
    p_degree, p_betweenness = ox.NamedNode(d("degree")), ox.NamedNode(d("betweenness"))
    p_community, p_bridges = ox.NamedNode(d("community")), ox.NamedNode(d("bridgesCommunities"))
    p_size = ox.NamedNode(d("communitySize"))
    nodes = [ox.NamedNode(community_iri(kb, i + 1)) for i in range(len(net.communities))]
    out = []
    for i, members in enumerate(net.communities):
        out += [ox.Triple(nodes[i], ox.NamedNode(RDF_TYPE), ox.NamedNode(d("Community"))),
                ox.Triple(nodes[i], ox.NamedNode(RDFS_LABEL), ox.Literal(net.community_label(i + 1), language="en")),
                ox.Triple(nodes[i], p_size, ox.Literal(str(len(members)), datatype=integer))]
    for iri in net.graph:
        org = ox.NamedNode(iri)
        out += [ox.Triple(org, p_degree, ox.Literal(str(net.degree[iri]), datatype=integer)),
                ox.Triple(org, p_betweenness, ox.Literal(_decimal(net.betweenness.get(iri, 0.0)), datatype=decimal)),
                ox.Triple(org, p_community, nodes[net.community[iri] - 1])]
        out += [ox.Triple(org, p_bridges, nodes[c - 1]) for c in net.bridges(iri)]
    return out


def _decimal(x: float) -> str:
    """Six decimals in xsd:decimal's canonical form (as the store keeps it: no trailing zeros), so an
    unchanged network gives an unchanged graph."""
    return f"{x:.6f}".rstrip("0").rstrip(".") or "0"


def write(kb, net: Network) -> bool:
    """Make graph/network hold the figures of ``net``; True when its content changed."""
    changed = kb.replace_graph(kb.graphs.network, triples(kb, net))
    keep(kb, net)
    return changed


def keep(kb, net: Network) -> None:
    """Let ``net`` serve the page for the store's current generation: for callers whose writes since
    computing it cannot change the network (the figures graph, graph/aligned, graph/meta)."""
    net.generation = kb.generation
    with _lock:
        _cache[kb] = net


def publish(kb) -> bool:
    """Recompute the network from the store and write its figures (see :func:`write`)."""
    return write(kb, compute(kb))


def figures(kb, iri: str) -> dict | None:
    """An organisation's figures for its page, from the store's figures graph (None when it has no
    partners): degree, betweenness, community {iri, label, size} and the communities it links."""
    node = ox.NamedNode(iri)
    rows = kb.select("""SELECT ?g ?o ?degree ?betweenness ?c ?label ?size WHERE {
        GRAPH ?g { ?o dsi:degree ?degree ; dsi:betweenness ?betweenness ; dsi:community ?c .
          ?c rdfs:label ?label ; dsi:communitySize ?size . } }""",
                     bind={"o": node, "g": ox.NamedNode(kb.graphs.network)})
    if not rows:
        return None
    r = rows[0]
    bridges = kb.select("""SELECT ?g ?o ?c ?label ?size WHERE { GRAPH ?g {
        ?o dsi:bridgesCommunities ?c . ?c rdfs:label ?label ; dsi:communitySize ?size } }""",
                        bind={"o": node, "g": ox.NamedNode(kb.graphs.network)})

    def community(row) -> dict:
        return {"iri": row["c"].value, "label": row["label"].value, "size": int(row["size"].value),
                "number": int(row["c"].value.rsplit("-", 1)[-1])}

    return {"degree": int(r["degree"].value), "betweenness": float(r["betweenness"].value),
            "community": community(r),
            "bridges": sorted((community(b) for b in bridges), key=lambda c: c["number"])}


# -- what the /network page draws -------------------------------------------------------------------
MEMO_SIZE = 64  # filtered views kept per generation, most recently asked, holding at most this many
MEMO_ITEMS = 400_000  # nodes and edges in all (kb.store.generational.Budgeted), whatever the network's size


def view(kb, filters: dict[str, list[str]] | None = None, *, net: Network | None = None,
         wait: float | None = None) -> dict:
    """The network narrowed to organisations with every chosen facet value (the facets of the
    organisation list, kb/index/browse.py: type, country, area, technology, as value slugs), the links
    among them, their figures and positions, and counts per facet value over what is shown. Memoised
    per network and filter. ``net``: the network to show (default: the current generation's, computed
    here if need be); ``wait``: how long to wait for the organisation list being built (see
    kb.index.browse.tables)."""
    from kb.index.browse import FACETS, slug_of, table
    from kb.errors import BadRequest

    facets = FACETS["organisation"]
    keys = [f.key for f in facets]
    filters = {k: sorted({v for v in vs if v}) for k, vs in (filters or {}).items()}
    filters = {k: vs for k, vs in filters.items() if vs}
    unknown = sorted(set(filters) - set(keys))
    if unknown:
        raise BadRequest(f"unknown facet {', '.join(unknown)}: the network filters by {', '.join(keys)}")
    net = network(kb) if net is None else net
    memo_key = tuple(sorted((k, tuple(v)) for k, v in filters.items()))
    memo = net.memo.get("views")
    if memo is None:
        memo = net.memo.setdefault("views", Budgeted(lambda: MEMO_SIZE, lambda: MEMO_ITEMS,
                                                     lambda v: len(v["nodes"]) + len(v["edges"])))
    kept = memo.get(memo_key)
    if kept is not None:
        return kept | {"generation": net.generation}  # keep() may have moved it on since
    tab = table(kb, "organisation", wait=wait)
    # the list's columns, not a Row per organisation (122 MiB kept per generation at 1M statements,
    # bench/rows_bench.py): an organisation's facet values are ids into the table's value IRIs
    value_iris = tab.shared.values
    columns = {k: tab.facet_values.get(k) for k in keys}

    def values(pos: int, key: str) -> list[str]:
        multi = columns[key]
        return [value_iris[v] for v in multi.get(pos)] if multi is not None else []

    # the network's organisations' positions (keys: the network's own strings), once per network and table
    position = tab.once(("network-positions", net.generation), lambda: {
        iri: p for iri in net.graph if (p := tab.position_of(iri)) is not None})
    shown = [iri for iri in net.graph if iri in position
             and all(set(vs) <= {slug_of(v) for v in values(position[iri], k)} for k, vs in filters.items())]
    index = {iri: i for i, iri in enumerate(shown)}
    edges = [[index[a], index[b], d["weight"], int(d["funding"])] for a, b, d in net.graph.edges(data=True)
             if a in index and b in index]
    counts: dict[str, dict[str, int]] = {k: {} for k in keys}
    for iri in shown:
        for k in keys:
            for v in values(position[iri], k):
                counts[k][v] = counts[k].get(v, 0) + 1
    out = {
        "generation": net.generation, "filters": filters,
        "total": {"nodes": net.graph.number_of_nodes(), "edges": net.graph.number_of_edges(),
                  "communities": len(net.communities)},
        "nodes": [{"id": iri, "label": net.labels.get(iri) or slug_of(iri),
                   "x": net.positions[iri][0], "y": net.positions[iri][1], "degree": net.degree[iri],
                   "betweenness": round(net.betweenness.get(iri, 0.0), 6), "community": net.community[iri],
                   "links": len(net.bridges(iri))} for iri in shown],
        "edges": edges,
        "communities": [{"number": i + 1, "label": net.community_label(i + 1), "size": len(c)}
                        for i, c in enumerate(net.communities)],
        "facets": [{"key": f.key, "label": f.label, "values": sorted(
            ({"value": slug_of(v), "id": v, "label": tab.value_labels.get(v, slug_of(v)), "count": n,
              "selected": slug_of(v) in filters.get(f.key, ())} for v, n in counts[f.key].items()),
            key=lambda x: (not x["selected"], -x["count"], x["label"].casefold()))} for f in facets],
    }
    memo.put(memo_key, out)
    return out | {}
