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

    def stage(self, kb, *, added: Iterable = (), removed: Iterable = (), nodes: Iterable = ()) -> None:
        """Write the staging graphs (before the update: readers never use tmp graphs)."""
        quads = [ox.Quad(t.subject, t.predicate, t.object, self.added) for t in added]
        quads += [ox.Quad(t.subject, t.predicate, t.object, self.removed) for t in removed]
        quads += [ox.Quad(n, self.mark, ox.Literal(True), self.nodes) for n in nodes]
        if quads:
            kb.store.extend(quads)

    def operations(self, *, full: bool = False) -> list[str]:
        """The maintenance operations, to run after the write's own in the same update."""
        n = self.kb.names
        X, A, R, N, mark = self.excluded, self.added, self.removed, self.nodes, self.mark
        hidden, withdrawn = ox.NamedNode(n.dsi("hidden")), ox.NamedNode(n.dsi("withdrawn"))
        membership, collaboration = ox.NamedNode(n.dsi("ActivityMembership")), ox.NamedNode(n.dsi("Collaboration"))
        rdf_type = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
        usable = f'FILTER(!STRSTARTS(STR(?g), {ox.Literal(self.tmp_ns)}))'
        usable_h = usable.replace("?g", "?h")
        usable_g2 = usable.replace("?g", "?g2")
        not_excluded = (f"FILTER NOT EXISTS {{ GRAPH {X} {{ ?s {mark} true }} }} "
                        f"FILTER NOT EXISTS {{ GRAPH {X} {{ ?o {mark} true }} }}")
        ops = [
            # hidden and withdrawn entities, then the memberships and collaborations naming them
            f"INSERT {{ GRAPH {X} {{ ?x {mark} true }} }} WHERE {{ "
            f"{{ GRAPH ?h {{ ?x {hidden} true }} }} UNION {{ GRAPH ?h {{ ?x {withdrawn} ?w }} }} {usable_h} }}",
            f"INSERT {{ GRAPH {X} {{ ?m {mark} true }} }} WHERE {{ GRAPH {X} {{ ?x {mark} true }} "
            f"GRAPH ?g {{ ?m ?q ?x }} {usable} GRAPH ?g2 {{ ?m {rdf_type} ?t }} {usable_g2} "
            f"VALUES ?t {{ {membership} {collaboration} }} }}",
        ]
        if full:
            ops += ["CLEAR DEFAULT",
                    f"INSERT {{ ?s ?p ?o }} WHERE {{ GRAPH ?g {{ ?s ?p ?o }} {usable} {not_excluded} }}"]
        else:
            ops += [
                # removed triples leave the default graph unless another graph still states them
                f"DELETE {{ ?s ?p ?o }} WHERE {{ GRAPH {R} {{ ?s ?p ?o }} "
                f"FILTER NOT EXISTS {{ GRAPH ?g {{ ?s ?p ?o }} {usable} }} }}",
                f"INSERT {{ ?s ?p ?o }} WHERE {{ GRAPH {A} {{ ?s ?p ?o }} {not_excluded} }}",
                # nodes to re-derive, with the memberships and collaborations naming them
                f"INSERT {{ GRAPH {N} {{ ?m {mark} true }} }} WHERE {{ GRAPH {N} {{ ?x {mark} true }} "
                f"GRAPH ?g {{ ?m ?q ?x }} {usable} GRAPH ?g2 {{ ?m {rdf_type} ?t }} {usable_g2} "
                f"VALUES ?t {{ {membership} {collaboration} }} }}",
                f"DELETE {{ ?x ?p ?o }} WHERE {{ GRAPH {N} {{ ?x {mark} true }} ?x ?p ?o }}",
                f"DELETE {{ ?s ?p ?x }} WHERE {{ GRAPH {N} {{ ?x {mark} true }} ?s ?p ?x }}",
                f"INSERT {{ ?s ?p ?o }} WHERE {{ GRAPH {N} {{ ?s {mark} true }} GRAPH ?g {{ ?s ?p ?o }} "
                f"{usable} {not_excluded} }}",
                f"INSERT {{ ?s ?p ?o }} WHERE {{ GRAPH {N} {{ ?o {mark} true }} GRAPH ?g {{ ?s ?p ?o }} "
                f"{usable} {not_excluded} }}",
            ]
        ops += [f"DROP SILENT GRAPH {g}" for g in (X, A, R, N)]
        return ops

    def discard(self, kb) -> None:
        """Drop the staging graphs (after a failed update)."""
        for g in (self.excluded, self.added, self.removed, self.nodes):
            if kb.store.contains_named_graph(g):
                kb.store.remove_graph(g)


def status_nodes(kb, triples: Iterable) -> set:
    """Subjects whose hidden/withdrawn status a set of triples states: their whole description must be
    re-derived when those triples come or go."""
    flags = {kb.names.dsi("hidden"), kb.names.dsi("withdrawn")}
    return {t.subject for t in triples if t.predicate.value in flags}


def rebuild(kb) -> None:
    """Derive the whole default graph again from the named graphs (one transaction)."""
    staging = Staging(kb)
    try:
        kb.store.update(" ;\n".join(staging.operations(full=True)))
    except BaseException:
        staging.discard(kb)
        raise


def union_default(kb) -> bool:
    """Whether the default graph must be asked for as the union of the named graphs: a remote store,
    whose default graph this module does not keep (yet)."""
    return bool(getattr(kb.settings, "store_is_remote", False))


def size(kb) -> int:
    """Triples in the public default graph (a count by index)."""
    if union_default(kb):
        q = "SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?s ?p ?o WHERE { ?s ?p ?o } }"
        return int(kb.select(q, union=True)[0]["n"].value)
    return int(next(iter(kb.store.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")))["n"].value)
