"""The public default graph: the store's default graph holds the RDF merge of every named graph, each
triple once, without hidden or withdrawn entities (nor the memberships and collaborations that
involve them), so SPARQL clients get set semantics (SPARQL 1.1: the default graph is an RDF merge).

The named graphs stay as they are, for provenance (``GRAPH ?g``, ``FROM NAMED``). Every write keeps the
default graph in step in the same ``Store.update`` call (one transaction): the write's own operations,
then the maintenance operations below, which only read and write graphs of their own (temporary
graphs under ``graph/tmp/``, dropped at the end). Every IRI in these updates is minted here or is a
pyoxigraph term serialised by ``str()``; nothing comes from a request.
See docs/decisions/2026-12-01-public-default-graph.md.
"""

from __future__ import annotations

import uuid
from typing import Iterable

import pyoxigraph as ox

from kb.terms import sparql_term


DEFAULT = ox.DefaultGraph()


class Staging:
    """Temporary graphs of one maintenance run: excluded nodes, triples added and removed by the
    write, and nodes whose every statement must be re-derived."""

    def __init__(self, kb):
        ns = kb.graphs.ns + "tmp/"
        key = uuid.uuid4().hex
        self.tmp_ns = ns
        self.excluded = ox.NamedNode(f"{ns}{key}-excluded")
        self.added = ox.NamedNode(f"{ns}{key}-added")
        self.removed = ox.NamedNode(f"{ns}{key}-removed")
        self.nodes = ox.NamedNode(f"{ns}{key}-nodes")
        self.mark = ox.NamedNode(ns + "mark")  # never a data predicate: staged nodes are not hidden
        self.kb = kb
        public = public_graph(kb)
        # patterns of the default graph are in the public graph instead where there is one (not by
        # `WITH <g>`: Virtuoso 7.2 then inserts into no graph and deletes nothing)
        self.view_open = "" if public is None else f"GRAPH {sparql_term(public)} {{ "
        self.view_close = "" if public is None else " }"
        self.clear = "CLEAR DEFAULT" if public is None else f"CLEAR SILENT GRAPH {sparql_term(public)}"

    def stage(self, kb, *, added: Iterable = (), removed: Iterable = (), nodes: Iterable = ()) -> None:
        """Write the staging graphs (before the update: readers never use tmp graphs)."""
        quads = [ox.Quad(t.subject, t.predicate, t.object, self.added) for t in added]
        quads += [ox.Quad(t.subject, t.predicate, t.object, self.removed) for t in removed]
        quads += [ox.Quad(n, self.mark, ox.Literal(True), self.nodes) for n in nodes]
        if quads:
            kb.add_quads(quads)

    def operations(self, *, full: bool = False) -> list[str]:
        """The maintenance operations, to run after the write's own in the same update."""
        n = self.kb.names
        X, A, R, N, mark = self.excluded, self.added, self.removed, self.nodes, self.mark
        hidden, withdrawn = ox.NamedNode(n.dsi("hidden")), ox.NamedNode(n.dsi("withdrawn"))
        kinds = [ox.NamedNode(n.dsi("ActivityMembership")), ox.NamedNode(n.dsi("Collaboration"))]
        tmp, ours = ox.Literal(self.tmp_ns), ox.Literal(usable_prefix(self.kb))
        o, c = self.view_open, self.view_close  # around every pattern of the public view
        # usable graphs (?g, ?h, ?g2) are the knowledge base's own (:func:`usable_prefix`), not temporary
        # ones; neither end of a copied statement is excluded
        ops = [
            # hidden and withdrawn entities, then the memberships and collaborations naming them
            f"INSERT {{ GRAPH {sparql_term(X)} {{ ?x {sparql_term(mark)} true }} }} WHERE {{ "
            f"{{ GRAPH ?h {{ ?x {sparql_term(hidden)} true }} }} UNION {{ GRAPH ?h {{ ?x {sparql_term(withdrawn)} ?w }} }} "
            f"FILTER(STRSTARTS(STR(?h), {sparql_term(ours)}) && !STRSTARTS(STR(?h), {sparql_term(tmp)})) }}",
            f"INSERT {{ GRAPH {sparql_term(X)} {{ ?m {sparql_term(mark)} true }} }} WHERE {{ GRAPH {sparql_term(X)} {{ ?x {sparql_term(mark)} true }} "
            f"GRAPH ?g {{ ?m ?q ?x }} FILTER(STRSTARTS(STR(?g), {sparql_term(ours)}) && !STRSTARTS(STR(?g), {sparql_term(tmp)})) GRAPH ?g2 {{ ?m a ?t }} "
            f"FILTER(STRSTARTS(STR(?g2), {sparql_term(ours)}) && !STRSTARTS(STR(?g2), {sparql_term(tmp)})) VALUES ?t {{ {sparql_term(kinds)} }} }}",
        ]
        if full:
            ops += [self.clear,
                    f"INSERT {{ {o}?s ?p ?o{c} }} WHERE {{ GRAPH ?g {{ ?s ?p ?o }} FILTER(STRSTARTS(STR(?g), {sparql_term(ours)}) && !STRSTARTS(STR(?g), {sparql_term(tmp)})) "
                    f"FILTER NOT EXISTS {{ GRAPH {sparql_term(X)} {{ ?s {sparql_term(mark)} true }} }} "
                    f"FILTER NOT EXISTS {{ GRAPH {sparql_term(X)} {{ ?o {sparql_term(mark)} true }} }} }}"]
        else:
            ops += [
                # removed triples leave the default graph unless another graph still states them
                f"DELETE {{ {o}?s ?p ?o{c} }} WHERE {{ GRAPH {sparql_term(R)} {{ ?s ?p ?o }} "
                f"FILTER NOT EXISTS {{ GRAPH ?g {{ ?s ?p ?o }} FILTER(STRSTARTS(STR(?g), {sparql_term(ours)}) && !STRSTARTS(STR(?g), {sparql_term(tmp)})) }} }}",
                f"INSERT {{ {o}?s ?p ?o{c} }} WHERE {{ GRAPH {sparql_term(A)} {{ ?s ?p ?o }} "
                f"FILTER NOT EXISTS {{ GRAPH {sparql_term(X)} {{ ?s {sparql_term(mark)} true }} }} "
                f"FILTER NOT EXISTS {{ GRAPH {sparql_term(X)} {{ ?o {sparql_term(mark)} true }} }} }}",
                # nodes to re-derive, with the memberships and collaborations naming them
                f"INSERT {{ GRAPH {sparql_term(N)} {{ ?m {sparql_term(mark)} true }} }} WHERE {{ GRAPH {sparql_term(N)} {{ ?x {sparql_term(mark)} true }} "
                f"GRAPH ?g {{ ?m ?q ?x }} FILTER(STRSTARTS(STR(?g), {sparql_term(ours)}) && !STRSTARTS(STR(?g), {sparql_term(tmp)})) GRAPH ?g2 {{ ?m a ?t }} "
                f"FILTER(STRSTARTS(STR(?g2), {sparql_term(ours)}) && !STRSTARTS(STR(?g2), {sparql_term(tmp)})) VALUES ?t {{ {sparql_term(kinds)} }} }}",
                f"DELETE {{ {o}?x ?p ?o{c} }} WHERE {{ GRAPH {sparql_term(N)} {{ ?x {sparql_term(mark)} true }} {o}?x ?p ?o{c} }}",
                f"DELETE {{ {o}?s ?p ?x{c} }} WHERE {{ GRAPH {sparql_term(N)} {{ ?x {sparql_term(mark)} true }} {o}?s ?p ?x{c} }}",
                f"INSERT {{ {o}?s ?p ?o{c} }} WHERE {{ GRAPH {sparql_term(N)} {{ ?s {sparql_term(mark)} true }} GRAPH ?g {{ ?s ?p ?o }} "
                f"FILTER(STRSTARTS(STR(?g), {sparql_term(ours)}) && !STRSTARTS(STR(?g), {sparql_term(tmp)})) "
                f"FILTER NOT EXISTS {{ GRAPH {sparql_term(X)} {{ ?s {sparql_term(mark)} true }} }} "
                f"FILTER NOT EXISTS {{ GRAPH {sparql_term(X)} {{ ?o {sparql_term(mark)} true }} }} }}",
                f"INSERT {{ {o}?s ?p ?o{c} }} WHERE {{ GRAPH {sparql_term(N)} {{ ?o {sparql_term(mark)} true }} GRAPH ?g {{ ?s ?p ?o }} "
                f"FILTER(STRSTARTS(STR(?g), {sparql_term(ours)}) && !STRSTARTS(STR(?g), {sparql_term(tmp)})) "
                f"FILTER NOT EXISTS {{ GRAPH {sparql_term(X)} {{ ?s {sparql_term(mark)} true }} }} "
                f"FILTER NOT EXISTS {{ GRAPH {sparql_term(X)} {{ ?o {sparql_term(mark)} true }} }} }}",
            ]
        ops += [f"DROP SILENT GRAPH {sparql_term(g)}" for g in (X, A, R, N)]
        return ops

    def discard(self, kb) -> None:
        """Drop the staging graphs (after a failed update)."""
        if not kb.in_process:  # one request, not two per graph
            kb.raw_update(" ;\n".join(f"DROP SILENT GRAPH {sparql_term(g)}" for g in (
                self.excluded, self.added, self.removed, self.nodes)))
            return
        for g in (self.excluded, self.added, self.removed, self.nodes):
            if kb.has_graph(g):
                kb.remove_graph(g)


def public_graph(kb) -> ox.NamedNode | None:
    """The named graph that holds the public view on a store whose default graph cannot be written
    (``DSIKB_STORE_PUBLIC_GRAPH``: Virtuoso's default graph is the union of all its graphs), or None:
    the store's own default graph holds it (the embedded store, Oxigraph, Fuseki)."""
    return getattr(kb, "public_graph", None)


def usable_prefix(kb) -> str:
    """What the IRI of every graph the public view is merged from starts with: any (``""``), or
    with a public graph (a store that keeps graphs of its own, such as Virtuoso's system graphs) the
    base IRI's ``graph/`` namespace. Temporary ``graph/tmp/`` graphs (the public graph is one) never count."""
    return "" if public_graph(kb) is None else kb.graphs.ns


def status_nodes(kb, triples: Iterable) -> set:
    """Subjects whose hidden/withdrawn status a set of triples states: their whole description must be
    re-derived when those triples come or go."""
    flags = {kb.names.dsi("hidden"), kb.names.dsi("withdrawn")}
    return {t.subject for t in triples if t.predicate.value in flags}


def rebuild(kb) -> None:
    """Derive the whole default graph again from the named graphs (one transaction)."""
    staging = Staging(kb)
    try:
        kb.raw_update(" ;\n".join(kb._writes(staging.operations(full=True))))
    except BaseException:
        staging.discard(kb)
        raise


def union_default(kb) -> bool:
    """Whether the default graph must be asked for as the union of the named graphs: a store whose
    default graph this module does not keep (``Store.union_default``; every store the app opens
    keeps it, the remote one included)."""
    return bool(getattr(kb, "union_default", False))


def size(kb) -> int:
    """Triples in the public default graph (a count by index)."""
    if union_default(kb):
        q = "SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?s ?p ?o WHERE { ?s ?p ?o } }"
        return int(kb.select(q, union=True)[0]["n"].value)
    return int(kb.select("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", union=False, prologue=False)[0]["n"].value)
