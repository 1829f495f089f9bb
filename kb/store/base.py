"""The one store interface every feature uses: :class:`Store`, implemented by the embedded pyoxigraph
store (kb/store/embedded.py) and a remote SPARQL 1.1 store (kb/store/remote.py).

Features (pages, search, browse, dumps, submissions, moderation, linking, the command line) call
only the methods below, never the pyoxigraph ``Store`` behind an embedded KB: so each works the same
on a remote triple store. See docs/decisions/2026-12-01-store-interface.md.

Three layers:

- *reading*: :meth:`quads` (a quad pattern, the cheapest read), :meth:`has_graph`,
  :meth:`named_graphs`, :meth:`graph_quads`, :meth:`triple_count`, and SPARQL :meth:`query` /
  :meth:`select` / :meth:`ask` with ``bind=`` (terms from requests never become query text);
- *writing*: :meth:`replace_graph`, :meth:`drop_graph`, :meth:`update` (with ``touched=``),
  :meth:`load_file`; each is one transaction of the store that also keeps the public default graph
  in step (kb/store/publicview.py) and bumps the :attr:`generation`;
- *primitives* the shared write logic is built on (``raw_update``, ``add_quads``, ``remove_graph``:
  no generation bump, no public view): only kb/store/ uses them.

Quads carry pyoxigraph terms (``ox.Quad``, ``ox.NamedNode``, ...) whatever the backend, and a quad
of the default graph has ``ox.DefaultGraph()`` as its graph name.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import os
import uuid
from typing import IO, Iterable, Iterator

import pyoxigraph as ox

from kb.terms import sparql_term


def graph_node(graph) -> ox.NamedNode | ox.DefaultGraph | None:
    """A graph given as an IRI string, a NamedNode, DefaultGraph or None (any graph)."""
    if graph is None or isinstance(graph, (ox.NamedNode, ox.DefaultGraph)):
        return graph
    return ox.NamedNode(str(graph))


class Store(abc.ABC):
    """A knowledge base: a quad store plus the names, graphs and prefixes of one base IRI.

    Attributes every implementation sets: ``settings`` (kb.settings.Settings), ``names``
    (kb.namespaces.Names), ``graphs`` (kb.graphs.Graphs), ``path`` (the store directory, or None
    for a store SPARQL worker processes cannot open themselves: in memory or remote)."""

    settings = None
    names = None
    graphs = None
    path = None
    #: True for a store whose default graph is not kept as the public view (an external store the
    #: app does not write to): reads of "the default graph" then ask for the union of named graphs.
    union_default = False
    #: True when quad pattern lookups are in-process index reads (microseconds): callers may then
    #: prefer many :meth:`quads` calls to one SPARQL query; False for a remote store (a round trip).
    in_process = True

    # -- reading: quad patterns ---------------------------------------------------------------
    @abc.abstractmethod
    def quads(self, subject=None, predicate=None, object=None, graph=None) -> Iterator[ox.Quad]:
        """The quads matching a pattern (None: any). ``graph`` is an IRI, a NamedNode,
        ``ox.DefaultGraph()`` (the public default graph) or None (every graph, default included)."""

    @abc.abstractmethod
    def has_graph(self, graph) -> bool:
        """Whether a named graph (IRI or NamedNode) holds at least one triple."""

    @abc.abstractmethod
    def named_graphs(self) -> list[str]:
        """The IRIs of the named graphs, sorted (the store's own staging/state graphs excluded)."""

    def graph_quads(self, graph) -> Iterator[ox.Quad]:
        """Every quad of one named graph."""
        return self.quads(graph=graph_node(graph))

    def graph_digest(self, graph) -> str:
        """SHA-256 over the sorted statements of a graph (blank nodes excluded from identity)."""
        return digest(list(self.graph_quads(graph)))

    def triple_count(self, graph: str | None = None) -> int:
        """Statements in one named graph, or in all named graphs together (duplicates counted)."""
        if graph:  # grouped so that ?g can be bound: an empty graph gives no row
            rows = self.select("SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g",
                               union=False, prologue=False, bind={"g": ox.NamedNode(graph)})
        else:
            tmp = ox.Literal(self.graphs.ns + "tmp/")
            rows = self.select(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ ?s ?p ?o }} "
                               f"FILTER(!STRSTARTS(STR(?g), {sparql_term(tmp)})) }}", union=False, prologue=False)
        return int(rows[0]["n"].value) if rows else 0

    def union_triples(self) -> Iterator[ox.Triple]:
        """Every triple of every named graph once (staging graphs left out): the merged dump."""
        tmp = ox.Literal(self.graphs.ns + "tmp/")
        for row in self.query(f"SELECT DISTINCT ?s ?p ?o WHERE {{ GRAPH ?g {{ ?s ?p ?o }} "
                              f"FILTER(!STRSTARTS(STR(?g), {sparql_term(tmp)})) }}", union=False, prologue=False):
            yield ox.Triple(row[0], row[1], row[2])

    @abc.abstractmethod
    def quad_count(self) -> int:
        """Every statement of the store, default graph and staging graphs included (cheap)."""

    # -- reading: SPARQL ----------------------------------------------------------------------
    @abc.abstractmethod
    def raw_query(self, sparql: str, *, prefixes: dict | None = None, base_iri: str | None = None,
                  use_default_graph_as_union: bool = False, default_graph=None, named_graphs=None,
                  substitutions: dict | None = None):
        """``pyoxigraph.Store.query`` semantics: QuerySolutions, QueryBoolean or an iterator of
        triples. The SPARQL endpoint's query runner calls this (kb/sparql/evaluate.py)."""

    def query(self, sparql: str, *, union: bool = True, prologue: bool = True, bind: dict | None = None,
              **kwargs):
        """Run a SPARQL query; the project's prefixes are declared (``prologue``); the default graph
        is the union of the named graphs (``union=True``) or the public default graph (False).
        ``bind={"e": term}`` gives variables values: values from requests reach the store this way,
        never as query text (see kb/terms.py). Bind only variables in scope (an ASK's pattern, a
        SELECT's projection)."""
        from kb.terms import bindings

        if bind:
            kwargs["substitutions"] = bindings(bind)
        prefixes = self.names.prefixes() if prologue else None
        return self.raw_query(sparql, prefixes=prefixes, use_default_graph_as_union=union, **kwargs)

    @contextlib.contextmanager
    def patient(self, seconds: float):
        """Within this block, this thread's queries may take up to ``seconds`` (a remote store's HTTP
        read timeout; the embedded store has none): for counts over the whole store made off the
        request path, which at 10M statements take longer than a user's query may."""
        yield

    def select(self, sparql: str, **kwargs) -> list[dict]:
        """SELECT rows as dicts of variable name -> pyoxigraph term (unbound variables absent)."""
        results = self.query(sparql, **kwargs)
        names = [v.value for v in results.variables]
        rows = []
        for solution in results:
            rows.append({name: solution[name] for name in names if solution[name] is not None})
        return rows

    def ask(self, sparql: str, **kwargs) -> bool:
        return bool(self.query(sparql, **kwargs))

    @abc.abstractmethod
    def dump(self, output: IO[bytes], format, *, graph=None) -> None:
        """Stream the statements of ``graph`` (IRI, NamedNode or DefaultGraph) as ``format`` (an
        ``ox.RdfFormat`` or a short name: ``nq``, ``nt``, ``ttl``...) into ``output``, or with graph
        None the whole dataset (a quad format). A quad format of one named graph keeps its name."""

    # -- generation ---------------------------------------------------------------------------
    @property
    @abc.abstractmethod
    def generation(self) -> int:
        """A number that changes on every write, seen by every process using the same store: the
        key of every cache (pages, search index, browse tables, ETags)."""

    @property
    @abc.abstractmethod
    def modified(self) -> str | None:
        """When the content last changed (``YYYY-MM-DDTHH:MM:SSZ``), if known."""

    @abc.abstractmethod
    def bump(self) -> int:
        """Record that the content changed; returns the new generation."""

    def flush(self) -> None:
        """Make writes durable (no-op where the store does it itself)."""

    # -- primitives (kb/store/ only) ----------------------------------------------------------
    @abc.abstractmethod
    def raw_update(self, sparql: str, *, prefixes: dict | None = None, base_iri: str | None = None) -> None:
        """One SPARQL Update request, one transaction: no public view upkeep, no bump."""

    @abc.abstractmethod
    def add_quads(self, quads: Iterable[ox.Quad]) -> None:
        """Add quads (in bulk): no public view upkeep, no bump."""

    @abc.abstractmethod
    def remove_graph(self, graph) -> None:
        """Remove a named graph: no public view upkeep, no bump."""

    def _writes(self, operations: list[str]) -> list[str]:
        """Operations to run in the same transaction as every write (the remote store counts its
        generation this way)."""
        return operations

    # -- writing ------------------------------------------------------------------------------
    def replace_graph(self, graph: str, quads_or_triples: Iterable) -> bool:
        """Make ``graph`` hold exactly these triples, atomically, with the public default graph kept
        in step in the same transaction. Returns False (and writes nothing) when it already did:
        re-running an import changes nothing."""
        from kb.store import publicview

        target = ox.NamedNode(graph)
        tmp = ox.NamedNode(self.graphs.ns + "tmp/" + uuid.uuid4().hex)
        staged = [ox.Quad(t.subject, t.predicate, t.object, tmp) for t in quads_or_triples]
        exists = self.has_graph(target)
        old_quads = list(self.graph_quads(target)) if exists else []
        if exists and digest(staged) == digest(old_quads):
            return False
        if not staged and not exists:
            return False
        old = {q.triple for q in old_quads}
        new = {q.triple for q in staged}
        added, removed = new - old, old - new
        view = publicview.Staging(self)
        try:
            self.add_quads(staged)
            view.stage(self, added=added, removed=removed,
                       nodes=publicview.status_nodes(self, added | removed))
            self.raw_update(" ;\n".join(self._writes([
                f"MOVE SILENT GRAPH {sparql_term(tmp)} TO GRAPH {sparql_term(target)}", *view.operations()])))
        finally:
            if self.has_graph(tmp):
                self.remove_graph(tmp)
            view.discard(self)
        self.bump()
        return True

    def change_graphs(self, changes: dict) -> bool:
        """Remove and add triples in named graphs (graph IRI -> (removed, added)), atomically, with
        the public default graph kept in step in the same transaction by the triples changed (as
        :meth:`replace_graph` does, not by re-deriving every statement of their subjects). ``removed``
        are triples the graph holds, ``added`` ones it does not; no blank nodes (``DELETE DATA``
        cannot name them). False (and nothing written) when there is nothing to change."""
        from kb.store import publicview

        ops, added_all, removed_all = [], set(), set()
        for graph, (removed, added) in changes.items():
            node = ox.NamedNode(graph)
            if removed:
                ops.append(f"DELETE DATA {{ GRAPH {sparql_term(node)} {{ {sparql_term(sorted(removed, key=str))} }} }}")
            if added:
                ops.append(f"INSERT DATA {{ GRAPH {sparql_term(node)} {{ {sparql_term(sorted(added, key=str))} }} }}")
            added_all |= set(added)
            removed_all |= set(removed)
        if not ops:
            return False
        view = publicview.Staging(self)
        try:
            view.stage(self, added=added_all, removed=removed_all,
                       nodes=publicview.status_nodes(self, added_all | removed_all))
            self.raw_update(" ;\n".join(self._writes([*ops, *view.operations()])))
        finally:
            view.discard(self)
        self.bump()
        return True

    def drop_graph(self, graph: str) -> bool:
        """Remove a named graph; what only it stated leaves the public default graph with it."""
        from kb.store import publicview

        node = ox.NamedNode(graph)
        if not self.has_graph(node):
            return False
        removed = {q.triple for q in self.graph_quads(node)}
        view = publicview.Staging(self)
        try:
            view.stage(self, removed=removed, nodes=publicview.status_nodes(self, removed))
            self.raw_update(" ;\n".join(self._writes([f"DROP GRAPH {sparql_term(node)}", *view.operations()])))
        finally:
            view.discard(self)
        self.bump()
        return True

    def update(self, sparql: str, *, base_iri: str | None = None, touched: Iterable | None = None) -> None:
        """Run a SPARQL update (relative IRIs resolve against ``base_iri``) and keep the public
        default graph in step: in the same transaction for the nodes named in ``touched`` (every node
        whose statements the update may change, as the callers in kb/ know them), else by deriving
        the whole default graph again right after (updates from the endpoint's operator)."""
        from kb.store import publicview

        if touched is None:
            self.raw_update("\n ;\n".join(self._writes([sparql])), prefixes=self.names.prefixes(),
                            base_iri=base_iri)
            publicview.rebuild(self)
        else:
            view = publicview.Staging(self)
            try:
                view.stage(self, nodes=[ox.NamedNode(t) if isinstance(t, str) else t for t in touched])
                # a newline first: the caller's text may end in a comment
                self.raw_update("\n ;\n".join(self._writes([sparql, *view.operations()])),
                                prefixes=self.names.prefixes(), base_iri=base_iri)
            finally:
                view.discard(self)
        self.bump()

    def drop_staging_graphs(self) -> list[str]:
        """Remove the staging graphs (``graph/tmp/...``) a process killed inside a write left behind
        (between staging and its update)."""
        staging = self.staging_graphs()
        for graph in staging:
            self.remove_graph(graph)
        if staging:
            self.bump()
        return staging

    def staging_graphs(self) -> list[str]:
        """Staging graphs present now (left by an interrupted write, or of a write under way)."""
        tmp = ox.Literal(self.graphs.ns + "tmp/")
        rows = self.select(f"SELECT DISTINCT ?g WHERE {{ GRAPH ?g {{ ?s ?p ?o }} FILTER(STRSTARTS(STR(?g), {sparql_term(tmp)})) }}",
                           union=False, prologue=False)
        keep = set(self._machinery_graphs())
        return sorted(r["g"].value for r in rows if r["g"].value not in keep)

    def _machinery_graphs(self) -> list[str]:
        """Graphs under ``graph/tmp/`` that are the store's own bookkeeping, not staging."""
        return []

    @abc.abstractmethod
    def load_file(self, path: str | os.PathLike, *, graph: str | None = None,
                  format: str | None = None, base_iri: str | None = None) -> int:
        """Load one RDF file, all or nothing; returns the number of statements added. Triples go
        into ``graph`` (default: one named after the file); quad formats keep their graphs."""


def rdf_format(format) -> ox.RdfFormat:
    """An ``ox.RdfFormat`` for a format or its short name."""
    if isinstance(format, str):
        from kb.store.loader import rdf_format as by_name

        return by_name(format)
    return format


QUAD_FORMATS = (ox.RdfFormat.N_QUADS, ox.RdfFormat.TRIG)


def _term(term) -> str:
    # Blank node labels change on every parse: leave them out of the digest (as documented above).
    return "_:" if isinstance(term, ox.BlankNode) else str(term)


def digest(quads: list) -> str:
    """SHA-256 over sorted statements, blank node labels left out."""
    lines = sorted(f"{_term(q.subject)} {q.predicate} {_term(q.object)}" for q in quads)
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode())
        h.update(b"\n")
    return h.hexdigest()
