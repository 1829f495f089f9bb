"""Betweenness and communities of large organisation graphs with igraph (C), for kb/publish/network.py.

networkx's betweenness (Brandes, from ``SAMPLES`` sources) and Louvain are pure Python: on the
500,000 organisations of a 10M-statement store they took most of half an hour. igraph's C code
computes the same figures in seconds:

- betweenness from the *same* sampled sources networkx would take (``random.Random(seed).sample``
  of the nodes in graph order, as ``nx.betweenness_centrality(g, k=..., seed=...)`` does), from every
  sampled source to every node (``Graph.betweenness(sources=..., targets=...)``), rescaled as
  networkx rescales a sampled estimate, so the figures are those networkx gives (to float rounding);
- communities from ``Graph.community_multilevel`` (Louvain, with the links' weights), igraph's
  random numbers drawn from a ``random.Random(seed)`` for the call, so a run gives the same
  partition as the last for the same graph (not networkx's partition: another implementation).

Used above ``network.FAST_ABOVE`` nodes; networkx stays below it (the real data's figures).
"""

from __future__ import annotations

import random
import threading

import networkx as nx

_rng_lock = threading.Lock()  # igraph's random number generator is global to the process


def available() -> bool:
    try:
        import igraph  # noqa: F401
    except ImportError:
        return False
    return True


def _igraph(g: nx.Graph, index: dict):
    import igraph

    edges = [(index[a], index[b]) for a, b in g.edges()]
    out = igraph.Graph(n=len(index), edges=edges, directed=False)
    out.es["weight"] = [d.get("weight", 1) for _, _, d in g.edges(data=True)]
    return out


def _seeded(seed: int, fn):
    """``fn()`` with igraph drawing from ``random.Random(seed)``, then the default again."""
    import igraph

    with _rng_lock:
        igraph.set_random_number_generator(random.Random(seed))
        try:
            return fn()
        finally:
            igraph.set_random_number_generator(random)


def betweenness(g: nx.Graph, k: int | None, seed: int) -> dict[str, float]:
    """``nx.betweenness_centrality(g, k=k, seed=seed)`` (normalised, endpoints excluded), in C."""
    nodes = list(g.nodes())
    n = len(nodes)
    if n < 3:
        return dict.fromkeys(nodes, 0.0)
    if k is not None and k >= n:
        k = None  # networkx computes exactly then, as here
    index = {iri: i for i, iri in enumerate(nodes)}
    ig = _igraph(g, index)
    if k is None:
        raw = ig.betweenness(directed=False)  # unordered pairs
        scale = 2 / ((n - 1) * (n - 2))  # networkx: ordered pairs / ((n - 1)(n - 2))
        return {iri: raw[i] * scale for i, iri in enumerate(nodes)}
    sampled = random.Random(seed).sample(nodes, k)  # networkx's choice of sources for this seed
    raw = ig.betweenness(directed=False, sources=[index[s] for s in sampled], targets=range(n))
    # networkx's rescaling of a sampled estimate (endpoints excluded): paths from k sources (k - 1
    # for a source itself, which is no inner node of its own paths) to the n - 2 other nodes; raw
    # counts each path from a source once, the undirected halving (x 2) is igraph's
    source_scale = 2 / ((k - 1) * (n - 2)) if k > 1 else float("nan")
    other_scale = 2 / (k * (n - 2))
    sources = set(sampled)
    return {iri: raw[i] * (source_scale if iri in sources else other_scale) for i, iri in enumerate(nodes)}


def communities(g: nx.Graph, seed: int) -> list[set[str]]:
    """Louvain communities (weights: ``weight``), seeded: the same partition for the same graph."""
    nodes = list(g.nodes())
    if not nodes:
        return []
    index = {iri: i for i, iri in enumerate(nodes)}
    ig = _igraph(g, index)
    found = _seeded(seed, lambda: ig.community_multilevel(weights="weight"))
    groups: dict[int, set[str]] = {}
    for i, c in enumerate(found.membership):
        groups.setdefault(c, set()).add(nodes[i])
    return list(groups.values())
