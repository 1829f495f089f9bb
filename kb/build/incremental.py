"""The derived graphs after one small write (an accepted submission), recomputed only where the write
can change them, with the same result as rebuilding them from the whole store (kb/build/derive.py).

Every rule of the derivation is local to a key, and a write changes the conclusions of the keys that
its changed statements name, before or after:

- membership shortcuts (graph/derived): per *project* (each shortcut names one project);
- collaborations (graph/derived): per *organisation* (a pair's count changes only when a membership
  of one of the two changes, or one of them is hidden);
- partner countries (graph/derived/partner-countries): per *project*, and every project of an
  organisation whose own statements changed (its country, hidden, withdrawn);
- the standard-vocabulary forms (graph/aligned): per *subject* (each is entailed by the subject's
  own statements), for the nodes written and the subjects of every derived statement that changed.

The network figures are global (one more link can move every organisation's betweenness and the
communities), so they are computed again in full, from quad patterns (kb/publish/network.py), and
written as a difference like the rest, when the network has at most ``DSIKB_NETWORK_INLINE_MAX``
organisations (:func:`inline_network`); a bigger one would hold the accept for minutes, so the accept
leaves them to the background job (kb/publish/network_job.py), which writes them (and their part of
graph/aligned) with :func:`write_network` a while later. The affected keys are the written nodes (``touched``, the
subjects of every statement the write adds or removes) and every node their statements name
before and after the write (:func:`before` is called just before it). Every difference goes into
one store update, one transaction with the public default graph in step; the network and
graph/aligned are computed as if the differences before them were written already (``pending``).
A store whose derived graphs are missing, or a difference with blank nodes (which SPARQL ``DELETE
DATA`` cannot name), gets the full derivation instead.

Differences are only right from a state that was itself derived: kb.contribute.moderation.accept
holds :data:`LOCK` from its write to the end of the derivation, and a :class:`Marker` file beside
the submission spool says a write was made whose derivation may not have been (a kill in between);
found there, the next accept derives from the whole store.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
LOCK = threading.Lock()  # held by kb.contribute.moderation.accept from its write to the end of its derivation


class Marker:
    """A file that says "a write is done whose derivation may not be": set before the write, cleared
    after the derivation. Found set, the process stopped in between (a kill, a crash): the next
    derivation is a full one, since differences from the last state would miss that write."""

    def __init__(self, path: Path | None):
        self.path = path

    @classmethod
    def beside(cls, spool: Path | None) -> "Marker":
        """The marker beside a submission spool (none for an in-memory store's)."""
        return cls(spool.with_name(spool.name + ".derive-pending") if spool is not None else None)

    def present(self) -> bool:
        return self.path is not None and self.path.exists()

    def set(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "w") as fh:
                fh.write("derivation pending\n")
                fh.flush()
                os.fsync(fh.fileno())

    def clear(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


@dataclass
class Before:
    """What the store said about the nodes a write is about to change."""

    nodes: set[ox.NamedNode]
    statements: set[ox.Triple]


def _about(kb, nodes) -> set[ox.Triple]:
    """Every statement whose subject is one of ``nodes``, in any graph but staging ones."""
    tmp = kb.graphs.ns + "tmp/"
    out: set[ox.Triple] = set()
    for node in nodes:
        out.update(q.triple for q in kb.quads(node, None, None, None)
                   if isinstance(q.graph_name, ox.DefaultGraph) or not q.graph_name.value.startswith(tmp))
    return out


def before(kb, touched) -> Before:
    """Call just before the write that changes the statements of ``touched`` (IRIs or NamedNodes)."""
    nodes = {ox.NamedNode(t) if isinstance(t, str) else t for t in touched}
    nodes = {n for n in nodes if isinstance(n, ox.NamedNode)}
    return Before(nodes, _about(kb, nodes))


class Fallback(Exception):
    """The difference cannot be written as data (blank nodes): derive everything instead."""


def _graph_triples(kb, graph: ox.NamedNode, subject=None, predicate=None, object=None) -> set[ox.Triple]:
    return {q.triple for q in kb.quads(subject, predicate, object, graph)}


def _objects(kb, subject, predicate: str) -> set:
    if isinstance(subject, ox.Literal):
        return set()
    return {q.object for q in kb.quads(subject, ox.NamedNode(kb.names.dsi(predicate)), None, None)}


def _subjects(kb, predicate: str, object) -> set:
    return {q.subject for q in kb.quads(None, ox.NamedNode(kb.names.dsi(predicate)), object, None)}


def _hidden(kb, node) -> bool:
    return ox.Literal(True) in _objects(kb, node, "hidden")


def _shortcuts(kb, projects, graph) -> tuple[set, set]:
    """graph/derived's shortcuts naming each of ``projects`` (old) and as kb.build.derive's rule
    gives them now (new): its membership SELECT, from quad patterns."""
    from kb.build import derive as d

    membership = ox.NamedNode(kb.names.dsi("ActivityMembership"))
    old, new = set(), set()
    roles = None
    for p in projects:
        rows = [{"o": o, "p": p, "role": role} for m in _subjects(kb, "project", p)
                if any(True for _ in kb.quads(m, RDF_TYPE, membership, None))
                for o in _objects(kb, m, "organisation") for role in _objects(kb, m, "role")]
        if rows and roles is None:
            roles = d.shortcut_roles(kb)
        new |= d.shortcuts_of(kb, rows, roles or {})
        for prop in d.SHORTCUTS:
            old |= _graph_triples(kb, graph, None, ox.NamedNode(kb.names.dsi(prop)), p)
        for extra in d.EXTRA.values():
            old |= _graph_triples(kb, graph, p, ox.NamedNode(extra), None)
    return old, new


def _collaborations(kb, organisations, graph) -> tuple[set, set]:
    """graph/derived's collaborations of each of ``organisations`` (old) and as kb.build.derive's
    rule gives them now (new): shared projects counted from quad patterns."""
    from kb.build import derive as d

    with_, collaborator = ox.NamedNode(kb.names.dsi("collaboratesWith")), ox.NamedNode(kb.names.dsi("collaborator"))
    kind, g2013 = ox.NamedNode(kb.names.dsi("Collaboration")), ox.NamedNode(kb.graphs.source("dsi2013"))
    old, new = set(), set()
    for org in organisations:
        old |= _graph_triples(kb, graph, org, with_, None) | _graph_triples(kb, graph, None, with_, org)
        for q in kb.quads(None, collaborator, org, graph):
            old |= _graph_triples(kb, graph, q.subject)
        if isinstance(org, ox.BlankNode):
            continue  # STR() of a blank node fails: the rule pairs none
        shared: dict = {}  # other organisation -> the projects both take part in
        if not _hidden(kb, org):
            for p in {p for m in _subjects(kb, "organisation", org) for p in _objects(kb, m, "project")}:
                for other in {o for m in _subjects(kb, "project", p) for o in _objects(kb, m, "organisation")}:
                    shared.setdefault(other, set()).add(p)
        pairs, existing = {}, set()
        for other, projects in shared.items():
            if not isinstance(other, ox.BlankNode) and other.value != org.value and not _hidden(kb, other):
                pairs[tuple(sorted((org.value, other.value)))] = len(projects)
        for c in {q.subject for q in kb.quads(None, collaborator, org, g2013)}:  # the 2013 partner network
            if any(True for _ in kb.quads(c, RDF_TYPE, kind, g2013)):
                for other in {q.object for q in kb.quads(c, collaborator, None, g2013)}:
                    if not isinstance(other, ox.BlankNode) and other.value != org.value:
                        existing.add(c.value)
                        pairs.setdefault(tuple(sorted((org.value, other.value))), 0)
        new |= d.pair_triples(kb, pairs, existing)
    return old, new


def _partner_countries(kb, projects, graph) -> tuple[set, set]:
    from kb.build.partner_countries import of_project

    predicate = ox.NamedNode(kb.names.dsi("partnerCountry"))
    old, new = set(), set()
    for p in projects:
        new |= of_project(kb, p)
        old |= _graph_triples(kb, graph, p, predicate, None)
    return old, new


def _aligned(kb, subjects, graph, pending: dict) -> tuple[set, set]:
    """graph/aligned's statements about ``subjects``, old and new, the ``pending`` changes (graph IRI
    -> removed, added; written in the same update) made."""
    from kb.link import align

    classes, properties = align.axioms(kb)
    sources = align.source_graphs(kb)
    later = {name: diff for name, diff in pending.items() if ox.NamedNode(name) in sources}
    added_by: dict = {}  # subject -> pending added triples (a scan of every added triple per subject
    for _, added in later.values():  # was quadratic: hours for a network of 50,000 organisations)
        for t in added:
            added_by.setdefault(t.subject, []).append(t)
    old, new = set(), set()
    for s in subjects:
        stated = {q.triple for q in kb.quads(s, None, None, None) if q.graph_name in sources
                  and q.triple not in later.get(q.graph_name.value, ((),))[0]}
        stated.update(added_by.get(s, ()))
        found = set()
        for t in stated:
            if t.predicate == align.RDF_TYPE and isinstance(t.object, ox.NamedNode):
                found.update(ox.Triple(s, align.RDF_TYPE, sup) for sup in align._targets(classes.get(t.object, ())))
            found.update(ox.Triple(s, sup, t.object) for sup in align._targets(properties.get(t.predicate, ())))
        new |= found - stated
        old |= _graph_triples(kb, graph, s)
    return old, new


def _nodes(triples) -> set[ox.NamedNode]:
    return {term for t in triples for term in (t.subject, t.object) if isinstance(term, ox.NamedNode)}


def _write(kb, changes: dict[str, tuple[set, set]]) -> dict[str, bool]:
    """One update: each graph loses its removed triples and gains its added ones."""
    kb.change_graphs(changes)
    return {graph: bool(removed or added) for graph, (removed, added) in changes.items()}


def _difference(old: set, new: set) -> tuple[set, set]:
    removed, added = old - new, new - old
    if any(isinstance(term, ox.BlankNode) for t in removed | added for term in (t.subject, t.object)):
        raise Fallback()
    return removed, added


def derive_after(kb, was: Before) -> dict[str, str]:
    """Bring the derived graphs up to date after the write ``was`` was taken before; graph IRI ->
    updated/unchanged, as :func:`kb.build.derive.derive` reports."""
    from kb.build.derive import derive
    from kb.publish import network

    g = kb.graphs
    graphs = (g.derived, g.partner_countries, g.network, g.aligned)
    if not all(kb.has_graph(ox.NamedNode(x)) for x in graphs):
        return derive(kb)  # a store derived for the first time (its graph descriptions too)
    after = _about(kb, was.nodes)
    keys = was.nodes | _nodes(was.statements | after)
    try:
        derived, countries = ox.NamedNode(g.derived), ox.NamedNode(g.partner_countries)
        old, new = _shortcuts(kb, keys, derived)
        o2, n2 = _collaborations(kb, keys, derived)
        derived_diff = _difference(old | o2, new | n2)
        projects = set(keys)
        for org in was.nodes:  # an organisation's own change (its country...) reaches all its projects
            projects |= {p for m in _subjects(kb, "organisation", org) for p in _objects(kb, m, "project")}
        countries_diff = _difference(*_partner_countries(kb, projects, countries))
        pending = {g.derived: derived_diff, g.partner_countries: countries_diff}
        net = None
        if inline_network(kb):  # as the store will be once graph/derived is written
            net = network.compute(kb, pending=pending)
            pending[g.network] = _difference(_graph_triples(kb, ox.NamedNode(g.network)), set(network.triples(kb, net)))
        subjects = was.nodes | {t.subject for diff in pending.values() for part in diff for t in part}
        pending[g.aligned] = _difference(*_aligned(kb, subjects, ox.NamedNode(g.aligned), pending))
        states = _write(kb, pending)
    except Fallback:
        return derive(kb)
    if not all(kb.has_graph(ox.NamedNode(x)) for x in graphs):
        return derive(kb)  # a graph emptied: its description goes too
    if net is not None:
        network.keep(kb, net)  # the figures graph and graph/aligned cannot change the network
    states[g.meta] = False
    out = {k: "updated" if v else "unchanged" for k, v in states.items()}
    if net is None:
        out[g.network] = "deferred"  # to kb/publish/network_job.py, which the caller starts
    return out


# -- the network figures: in the accept's transaction up to a size, else by the background job --------
def network_size(kb) -> int:
    """Organisations in the network: the last one computed, else those with figures in graph/network,
    else (no figures written yet: a store loaded from N-Quads, not derived) the organisations, which
    bound it: a big store must not be taken for an empty network and computed inline."""
    from kb.publish import network

    held = network.cached(kb)
    if held is not None:
        return held.graph.number_of_nodes()
    rows = kb.select("SELECT ?g (COUNT(?o) AS ?n) WHERE { GRAPH ?g { ?o dsi:degree ?d } } GROUP BY ?g",
                     bind={"g": ox.NamedNode(kb.graphs.network)})
    if rows and int(rows[0]["n"].value):
        return int(rows[0]["n"].value)
    rows = kb.select("SELECT ?class (COUNT(?o) AS ?n) WHERE { ?o a ?class } GROUP BY ?class",
                     bind={"class": ox.NamedNode(kb.names.dsi("Organisation"))})
    return int(rows[0]["n"].value) if rows else 0


def inline_network(kb) -> bool:
    """Whether an accept computes the network figures in its own transaction (a network of at most
    ``DSIKB_NETWORK_INLINE_MAX`` organisations, seconds at most), else leaves them to the background job
    (kb/publish/network_job.py), which writes them a while after the accept."""
    return network_size(kb) <= kb.settings.network_inline_max


def network_changes(kb, net) -> dict:
    """What writing ``net``'s figures changes, from the store as it is: graph IRI -> (removed, added)
    for graph/network and graph/aligned (the community labels' schema:name), or None for graph/aligned
    when its difference has blank nodes (then it is aligned again in full)."""
    from kb.publish import network

    g = kb.graphs
    old = _graph_triples(kb, ox.NamedNode(g.network))
    new = set(network.triples(kb, net))
    changes: dict = {g.network: (old - new, new - old)}
    if old != new:
        subjects = {t.subject for part in changes[g.network] for t in part}
        try:
            changes[g.aligned] = _difference(*_aligned(kb, subjects, ox.NamedNode(g.aligned), changes))
        except Fallback:
            changes[g.aligned] = None
    return changes


def write_network(kb, net, changes: dict) -> None:
    """Write :func:`network_changes` (computed from the store as it still is: the caller holds
    :data:`LOCK` and has checked that nothing was written since) and keep ``net`` for the page."""
    from kb.build.derive import derive
    from kb.link.align import align
    from kb.publish import network

    g = kb.graphs
    realign = g.aligned in changes and changes[g.aligned] is None
    _write(kb, {k: v for k, v in changes.items() if v is not None})
    if realign:
        align(kb)
    if not kb.has_graph(ox.NamedNode(g.network)):
        derive(kb)  # the figures graph emptied: its description goes too (and the network is kept)
        return
    network.keep(kb, net)
