"""The network's figures past FAST_ABOVE nodes (igraph's betweenness and Louvain, issue 14) and the
disc packer of the layout, on a hand-made store small enough for a test: the threshold is lowered
for the test, so the code that runs on a 10M-statement store runs here on a few hundred nodes."""

from __future__ import annotations

import math
import random

import networkx as nx
import pyoxigraph as ox
import pytest

from kb.publish import network, network_fast
from kb.settings import Settings

B = "https://w3id.org/dsi/"
DSI = B + "def/dsi#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
CLUSTERS, SIZE = 24, 12  # organisations in clusters, each cluster's projects shared inside it


def org(i: int) -> str:
    return f"{B}id/organisation/scale-org-{i:04d}"


@pytest.fixture(scope="module")
def scale_kb():
    """Organisations in clusters: projects of three members inside a cluster, one project between
    neighbouring clusters, a chain of clusters (so betweenness is not flat), two hidden ones."""
    from kb.store import KB, publicview

    kb = KB.in_memory(Settings(base_uri=B))
    graph = ox.NamedNode(B + "graph/source/scale")
    rnd = random.Random(7)
    quads = []

    def add(s, p, o):
        quads.append(ox.Quad(ox.NamedNode(s), ox.NamedNode(p), o, graph))

    n = CLUSTERS * SIZE
    for i in range(n):
        add(org(i), RDF_TYPE, ox.NamedNode(DSI + "Organisation"))
        add(org(i), LABEL, ox.Literal(f"Scale organisation {i}", language="en"))
    for i in (5, 77):
        add(org(i), DSI + "hidden", ox.Literal(True))
    project = 0
    for c in range(CLUSTERS):
        members = list(range(c * SIZE, (c + 1) * SIZE))
        for j in range(SIZE):
            project += 1
            for m in {members[j], members[(j + 1) % SIZE], rnd.choice(members)}:
                add(org(m), DSI + "takesPartIn", ox.NamedNode(f"{B}id/project/scale-{project}"))
        if c:
            project += 1
            for m in (c * SIZE, (c - 1) * SIZE + 1):
                add(org(m), DSI + "takesPartIn", ox.NamedNode(f"{B}id/project/scale-{project}"))
    kb.store.extend(quads)
    publicview.rebuild(kb)
    kb.bump()
    return kb


@pytest.fixture
def fast(monkeypatch):
    """igraph past 50 nodes, betweenness sampled from 40 sources past 100 (as past 20,000 and 600)."""
    if not network_fast.available():
        pytest.skip("igraph is not installed")
    monkeypatch.setattr(network, "FAST_ABOVE", 50)
    monkeypatch.setattr(network, "EXACT_BETWEENNESS", 100)
    monkeypatch.setattr(network, "SAMPLES", 40)


def test_figures_past_the_threshold_are_sane_and_deterministic(scale_kb, fast):
    net = network.compute(scale_kb)
    again = network.compute(scale_kb)
    nodes = set(net.graph)
    assert len(nodes) == CLUSTERS * SIZE - 2  # the hidden two are left out
    assert org(5) not in nodes and org(77) not in nodes
    assert set(net.community) == nodes == set(net.positions) == set(net.betweenness)
    assert sorted(i for c in net.communities for i in c) == sorted(nodes)  # a partition
    assert [len(c) for c in net.communities] == sorted((len(c) for c in net.communities), reverse=True)
    assert all(0.0 <= b <= 1.0 for b in net.betweenness.values())
    assert max(net.betweenness.values()) > 0.1  # the chain of clusters has cut points
    assert 5 <= len(net.communities) <= 3 * CLUSTERS  # Louvain finds the clusters, more or less
    assert all(net.community[i] in net.links[i] for i in nodes)
    assert (net.betweenness, net.community, net.positions) == (again.betweenness, again.community, again.positions)
    assert net.labels[org(0)] == "Scale organisation 0"


def test_igraph_betweenness_is_networkx_sampled_estimate(scale_kb, fast):
    g, _ = network.read_graph(scale_kb)
    ours = network.betweenness_of(g)  # igraph, 40 sampled sources
    theirs = nx.betweenness_centrality(g, k=40, seed=network.SEED)
    assert ours.keys() == theirs.keys()
    assert max(abs(ours[i] - theirs[i]) for i in ours) < 1e-9
    exact = network_fast.betweenness(g, None, network.SEED)
    assert max(abs(exact[i] - b) for i, b in nx.betweenness_centrality(g).items()) < 1e-9


def test_igraph_communities_are_as_good_as_networkx(scale_kb, fast):
    g, _ = network.read_graph(scale_kb)
    ours = network.communities_of(g)
    theirs = nx.community.louvain_communities(g, weight="weight", seed=network.SEED)
    assert nx.community.modularity(g, ours) >= nx.community.modularity(g, theirs) - 0.05


def _centres(net) -> list[tuple[float, float, float]]:
    """Each community's disc (x, y, radius), from its first member (at sqrt(0.5) right of the centre)."""
    out = []
    for members in net.communities:
        x, y = net.positions[members[0]]
        out.append((x - math.sqrt(0.5), y, math.sqrt(len(members)) + 1.0))
    return out


def _communities(count: int, seed: int) -> list[list[str]]:
    rnd = random.Random(seed)
    sizes = sorted((max(2, int(rnd.paretovariate(1.3) * 2)) for _ in range(count)), reverse=True)
    out, i = [], 0
    for s in sizes:
        out.append([f"n{i + j}" for j in range(s)])
        i += s
    return out


def _walk_from_start(discs, radius):
    """The layout's rule without the packer: the first point of the spiral free of every disc."""
    t = 0.0
    while True:
        x, y = 0.6 * t * math.cos(t), 0.6 * t * math.sin(t)
        if not discs or not any(network._overlaps(x, y, radius, d) for d in discs):
            return x, y
        t += max(0.02, 0.5 * radius / (1.0 + 0.6 * t))


def test_packer_places_discs_where_a_walk_from_the_start_does():
    comms = _communities(60, 3)
    net = network.Network(0, nx.Graph(), {}, {}, {}, {}, comms, {})
    positions = network.layout(net)
    discs = []
    for members in comms:
        radius = math.sqrt(len(members)) + 1.0
        x, y = _walk_from_start(discs, radius)
        discs.append((x, y, radius))
        assert positions[members[0]] == (round(x + math.sqrt(0.5), 3), round(y, 3))


def test_many_discs_do_not_overlap(monkeypatch):
    monkeypatch.setattr(network, "EXACT_PACKING", 20)  # the resumed walk past it, as on large networks
    comms = _communities(700, 5)
    net = network.Network(0, nx.Graph(), {}, {}, {}, {}, comms, {})
    net.positions = network.layout(net)
    discs = _centres(net)
    discs.sort()
    for i, (x, y, r) in enumerate(discs):  # a sweep along x: only discs near enough in x can meet
        for x2, y2, r2 in discs[i + 1:]:
            if x2 - x > r + r2 + 1.5:
                break
            assert math.hypot(x2 - x, y2 - y) >= r + r2 + 1.5 - 0.01
    spread = max(math.hypot(x, y) for x, y, _ in discs)
    area = sum((r + 0.75) ** 2 for *_, r in discs)
    assert spread ** 2 < 4 * area  # packed, not strewn: the discs fill a good part of their circle
