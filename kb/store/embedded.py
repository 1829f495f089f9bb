"""The store: one on-disk pyoxigraph Store per process, wrapped with the knowledge base's names.

Queries see the union of all named graphs by default. Writes go through :class:`KB` so that every
write bumps the store's *generation* (used for ETags, caches and dumps) and graph replacement is
atomic (build under a temporary name, then one ``MOVE`` update).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from pathlib import Path
from typing import Iterable

import pyoxigraph as ox

from kb.errors import KBError
from kb.graphs import Graphs
from kb.namespaces import names as _names
from kb.settings import Settings
from kb.terms import bindings, sparql_term


def _reopens_after_disk_full(write):
    """RocksDB refuses every write after one found the disk full, until the database is opened again:
    reopen it (the failed write is one transaction, so nothing half-written stays), then re-raise, so
    the next write works once there is room again, without a restart. When something still holds the
    old store (a dump being written), the store stays read-only and the next write tries again."""
    import functools

    @functools.wraps(write)
    def wrapper(self, *args, **kwargs):
        if self._degraded:
            self._reopen()
            if self._degraded:
                raise KBError("the store is read-only since the disk ran full; it takes writes again "
                              "once it can be reopened: try again shortly, or restart the server",
                              status=503, headers={"Retry-After": "60"})
        try:
            return write(self, *args, **kwargs)
        except OSError as exc:
            if self.path is not None and "No space left on device" in str(exc):
                self._reopen()
            raise

    return wrapper


class KB:
    """A knowledge base: a pyoxigraph store plus the names, graphs and prefixes of one base IRI."""

    def __init__(self, store: ox.Store, settings: Settings, *, path: Path | None = None):
        self.store = store
        self.settings = settings
        self.names = _names(settings.base_uri)
        self.graphs = Graphs(self.names)
        self.path = path
        self._state_file = path.with_name(path.name + ".state.json") if path else None
        self._state_cache: tuple | None = None
        self._degraded = False  # read-only since a full disk, until the store can be reopened
        self._generation = self._read_state().get("generation", 0)

    # -- opening -----------------------------------------------------------------------------
    @classmethod
    def open(cls, settings: Settings, *, read_only: bool = False) -> "KB":
        if settings.store_is_remote:
            from kb.store.remote import RemoteKB

            return RemoteKB(settings)
        path = settings.store_path.resolve()
        if read_only:
            if not path.exists():
                raise KBError(f"no store at {path}: run `dsikb init` first")
            return cls(ox.Store.read_only(str(path)), settings, path=path)
        path.mkdir(parents=True, exist_ok=True)
        try:
            store = ox.Store(str(path))
        except OSError as exc:
            raise KBError(
                f"cannot open the store at {path}: {exc} (is another dsikb process using it?)"
            ) from exc
        kb = cls(store, settings, path=path)
        kb.drop_staging_graphs()  # this process is the only writer now: any staging graph is stale
        return kb

    @classmethod
    def in_memory(cls, settings: Settings | None = None) -> "KB":
        return cls(ox.Store(), settings or Settings())

    # -- generation (changes on every write) -------------------------------------------------
    def _read_state(self) -> dict:
        """The state file's content, re-read only when its stat signature changed (``bump`` replaces
        the file atomically, so every write gives a new inode): one ``stat`` per call, since the
        SPARQL endpoint asks for the generation on every request. A file written in the last two
        seconds is always re-read (as git treats "racy" index entries): on a filesystem with coarse
        timestamps, two quick writes could otherwise recycle an inode with the same mtime and size."""
        if not self._state_file:
            return {}
        try:
            st = os.stat(self._state_file)
        except OSError:
            return {}
        signature = (st.st_ino, st.st_mtime_ns, st.st_size)
        cached = self._state_cache
        if cached is not None and cached[0] == signature and time.time() - st.st_mtime > 2:
            return cached[1]
        try:
            state = json.loads(self._state_file.read_text())
        except (OSError, ValueError):
            return {}
        self._state_cache = (signature, state)
        return state

    @property
    def generation(self) -> int:
        """A number that changes whenever the store's content changes (read from disk each time,
        so a server sees writes made by another process after it reopens)."""
        state = self._read_state()
        return state.get("generation", self._generation)

    @property
    def modified(self) -> str | None:
        return self._read_state().get("modified")

    def bump(self) -> int:
        """Record that the content changed."""
        self._generation = self.generation + 1
        state = {"generation": self._generation,
                 "modified": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        if self._state_file:
            tmp = self._state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(state))
            os.replace(tmp, self._state_file)
        return self._generation

    # -- reading -----------------------------------------------------------------------------
    def query(self, sparql: str, *, union: bool = True, prologue: bool = True, bind: dict | None = None,
              **kwargs):
        """Run a SPARQL query; the project's prefixes are declared; default graph = union.
        ``bind={"e": term}`` substitutes pyoxigraph terms for variables: values from requests reach
        the store this way, never as query text (see kb/terms.py). Oxigraph wants each bound variable
        in scope: in an ASK's pattern, or in a SELECT's projection (and GROUP BY)."""
        prefixes = self.names.prefixes() if prologue else None
        if bind:
            kwargs["substitutions"] = bindings(bind)
        return self.store.query(
            sparql, prefixes=prefixes, use_default_graph_as_union=union, **kwargs
        )

    def select(self, sparql: str, **kwargs) -> list[dict]:
        """SELECT rows as dicts of variable name -> pyoxigraph term (unbound variables absent)."""
        results = self.query(sparql, **kwargs)
        names = [v.value for v in results.variables]
        rows = []
        for solution in results:
            row = {}
            for name in names:
                value = solution[name]
                if value is not None:
                    row[name] = value
            rows.append(row)
        return rows

    def ask(self, sparql: str, **kwargs) -> bool:
        return bool(self.query(sparql, **kwargs))

    def named_graphs(self) -> list[str]:
        return sorted(g.value for g in self.store.named_graphs() if isinstance(g, ox.NamedNode))

    def graph_quads(self, graph: str) -> Iterable[ox.Quad]:
        return self.store.quads_for_pattern(None, None, None, ox.NamedNode(graph))

    def graph_digest(self, graph: str) -> str:
        """SHA-256 over the sorted N-Quads of a graph (blank nodes excluded from identity)."""
        return _digest(list(self.graph_quads(graph)))

    def triple_count(self, graph: str | None = None) -> int:
        if graph:  # grouped so that ?g can be bound: an empty graph gives no row
            rows = list(self.store.query("SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g",
                                         substitutions=bindings({"g": ox.NamedNode(graph)})))
        else:
            rows = list(self.store.query("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"))
        return int(rows[0]["n"].value) if rows else 0

    # -- writing -----------------------------------------------------------------------------
    @_reopens_after_disk_full
    def replace_graph(self, graph: str, quads_or_triples: Iterable) -> bool:
        """Make ``graph`` hold exactly these triples, atomically, with the public default graph kept in
        step in the same transaction. Returns False (and writes nothing) when it already did:
        re-running an import changes nothing."""
        from kb.store import publicview

        target = ox.NamedNode(graph)
        tmp = ox.NamedNode(self.graphs.ns + "tmp/" + uuid.uuid4().hex)
        staged = [ox.Quad(t.subject, t.predicate, t.object, tmp) for t in quads_or_triples]
        new_digest = _digest(staged)
        exists = self.store.contains_named_graph(target)
        if exists and new_digest == self.graph_digest(graph):
            return False
        if not staged and not exists:
            return False
        old = {q.triple for q in self.graph_quads(graph)} if exists else set()
        new = {q.triple for q in staged}
        added, removed = new - old, old - new
        view = publicview.Staging(self)
        try:
            self.store.extend(staged)
            view.stage(self, added=added, removed=removed,
                       nodes=publicview.status_nodes(self, added | removed))
            self.store.update(" ;\n".join([f"MOVE SILENT GRAPH {sparql_term(tmp)} TO GRAPH {sparql_term(target)}",
                                            *view.operations()]))
        finally:
            self.store.remove_graph(tmp) if self.store.contains_named_graph(tmp) else None
            view.discard(self)
        self.bump()
        return True

    @_reopens_after_disk_full
    def load_file(self, path: str | os.PathLike, *, graph: str | None = None,
                  format: str | None = None, base_iri: str | None = None) -> int:
        """Load one RDF file, all or nothing. Returns the number of quads added.

        Triples go into ``graph`` (required for triple formats); quad formats keep their graphs.
        A syntax error names the file, line and column and leaves the store unchanged.
        """
        from kb.store.loader import load_file

        # the public default graph follows in step, streamed (kb/store/loader.py add_to_public_view)
        added = load_file(self, path, graph=graph, format=format, base_iri=base_iri, public_view=True)
        if added:
            self.bump()
        return added

    @_reopens_after_disk_full
    def drop_staging_graphs(self) -> list[str]:
        """Remove the staging graphs (``graph/tmp/...``) a process killed inside a write left behind
        (between staging and its update): never part of the default graph, but the union of the
        named graphs would show their triples."""
        staging = [g for g in self.named_graphs() if g.startswith(self.graphs.ns + "tmp/")]
        for graph in staging:
            self.store.remove_graph(ox.NamedNode(graph))
        if staging:
            self.bump()
        return staging

    @_reopens_after_disk_full
    def drop_graph(self, graph: str) -> bool:
        """Remove a named graph; what only it stated leaves the public default graph with it."""
        from kb.store import publicview

        node = ox.NamedNode(graph)
        if not self.store.contains_named_graph(node):
            return False
        removed = {q.triple for q in self.graph_quads(graph)}
        view = publicview.Staging(self)
        try:
            view.stage(self, removed=removed, nodes=publicview.status_nodes(self, removed))
            self.store.update(" ;\n".join([f"DROP GRAPH {sparql_term(node)}", *view.operations()]))
        finally:
            view.discard(self)
        self.bump()
        return True

    @_reopens_after_disk_full
    def update(self, sparql: str, *, base_iri: str | None = None, touched: Iterable | None = None) -> None:
        """Run a SPARQL update (relative IRIs resolve against ``base_iri``, as in queries) and keep the
        public default graph in step: in the same transaction for the nodes named in ``touched`` (every
        node whose statements the update may change, as the callers in kb/ know them), else by deriving
        the whole default graph again right after (updates from the endpoint's operator)."""
        from kb.store import publicview

        if touched is None:
            self.store.update(sparql, prefixes=self.names.prefixes(), base_iri=base_iri)
            publicview.rebuild(self)
        else:
            view = publicview.Staging(self)
            try:
                view.stage(self, nodes=[ox.NamedNode(t) if isinstance(t, str) else t for t in touched])
                # a newline first: the caller's text may end in a comment
                self.store.update("\n ;\n".join([sparql, *view.operations()]),
                                  prefixes=self.names.prefixes(), base_iri=base_iri)
            finally:
                view.discard(self)
        self.bump()

    def _reopen(self) -> None:
        """Close the on-disk store and open it again; while another reference keeps the old one (and
        its lock) alive, open it read-only and say so (``_degraded``): reads go on, writes wait."""
        import gc

        old, self.store = self.store, None
        del old
        gc.collect()
        try:
            self.store = ox.Store(str(self.path))
            self._degraded = False
        except OSError:
            self.store = ox.Store.read_only(str(self.path))
            self._degraded = True

    def flush(self) -> None:
        try:
            self.store.flush()
        except (OSError, AttributeError):
            pass


def _term(term) -> str:
    # Blank node labels change on every parse: leave them out of the digest (as documented above).
    return "_:" if isinstance(term, ox.BlankNode) else str(term)


def _digest(quads: list[ox.Quad]) -> str:
    lines = sorted(f"{_term(q.subject)} {q.predicate} {_term(q.object)}" for q in quads)
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode())
        h.update(b"\n")
    return h.hexdigest()
