"""The store: one on-disk pyoxigraph Store per process, wrapped with the knowledge base's names.

Queries see the union of all named graphs by default. Writes go through :class:`KB` so that every
write bumps the store's *generation* (used for ETags, caches and dumps) and graph replacement is
atomic (build under a temporary name, then one ``MOVE`` update).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
import pyoxigraph as ox

from kb.errors import KBError
from kb.graphs import Graphs
from kb.namespaces import names as _names
from kb.settings import Settings
from kb.store.base import QUAD_FORMATS, Store, graph_node, rdf_format


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


class KB(Store):
    """The embedded knowledge base: an on-disk (or in-memory) pyoxigraph store, in this process.
    ``store`` is the pyoxigraph Store: only kb/store/ and the SPARQL worker processes touch it."""

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
    def open(cls, settings: Settings, *, read_only: bool = False, defer_view: bool = False) -> "KB":
        """The store at ``settings.store_path``. A public default graph left pending by ``dsikb load``
        (kb/store/loader.py) is brought in step first, unless ``defer_view`` (``dsikb load`` itself);
        a read-only open does it when no other process holds the store (one that does opened it for
        writing, which did it already, and no load can run beside it)."""
        if settings.store_is_remote:
            from kb.store.remote import RemoteKB

            return RemoteKB(settings)
        path = settings.store_path.resolve()
        if read_only:
            if not path.exists():
                raise KBError(f"no store at {path}: run `dsikb init` first")
            if cls._state_of(path).get("view_pending"):
                try:
                    writer = cls.open(settings)
                except KBError:
                    pass  # held by a writer, which brought the view in step when it opened
                else:
                    writer.close()
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
        if not defer_view:
            kb.apply_pending_view()
        return kb

    def close(self) -> None:
        """Let go of the on-disk store (and its lock) now rather than when collected."""
        import gc

        self.store = None
        gc.collect()

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

    @staticmethod
    def _state_of(path: Path) -> dict:
        try:
            return json.loads(path.with_name(path.name + ".state.json").read_text())
        except (OSError, ValueError):
            return {}

    def _write_state(self, state: dict) -> None:
        """Replace the state file atomically (a new inode: readers notice, see ``_read_state``)."""
        if self._state_file:
            tmp = self._state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(state))
            os.replace(tmp, self._state_file)

    # -- the public default graph after deferred loads (kb/store/loader.py) ----------------------
    def _pending(self) -> list[dict]:
        return [dict(e) for e in self._read_state().get("view_pending", [])]

    def _set_pending(self, entries: list[dict]) -> None:
        state = {k: v for k, v in self._read_state().items() if k != "view_pending"}
        if entries:
            state["view_pending"] = entries
        self._write_state(state)

    def view_pending_add(self, entry: dict) -> None:
        self._set_pending(self._pending() + [entry])

    def view_pending_loaded(self, entry: dict) -> None:
        self._set_pending([dict(e, loaded=True) if e == entry else e for e in self._pending()])

    def view_pending_remove(self, entry: dict) -> None:
        self._set_pending([e for e in self._pending() if e != entry])

    @_reopens_after_disk_full
    def apply_pending_view(self) -> bool:
        """Bring the public default graph in step with the loads ``dsikb load`` left to the next open;
        whether there were any."""
        entries = self._pending()
        if not entries:
            return False
        from kb.store.loader import apply_pending_view

        apply_pending_view(self, entries)
        self._set_pending([])
        self.bump()
        return True

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
        state = {**self._read_state(), "generation": self._generation,
                 "modified": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        self._write_state(state)
        return self._generation

    # -- reading -----------------------------------------------------------------------------
    def quads(self, subject=None, predicate=None, object=None, graph=None):
        return self.store.quads_for_pattern(subject, predicate, object, graph_node(graph))

    def has_graph(self, graph) -> bool:
        return self.store.contains_named_graph(graph_node(graph))

    def named_graphs(self) -> list[str]:
        tmp = self.graphs.ns + "tmp/"
        return sorted(g.value for g in self.store.named_graphs()
                      if isinstance(g, ox.NamedNode) and not g.value.startswith(tmp))

    def staging_graphs(self) -> list[str]:
        tmp = self.graphs.ns + "tmp/"
        return sorted(g.value for g in self.store.named_graphs()
                      if isinstance(g, ox.NamedNode) and g.value.startswith(tmp))

    def union_triples(self):
        """Every triple of every graph once, in flat memory: a triple stated in several graphs is
        written where the store's SPOG index lists it first (a SPARQL DISTINCT would instead keep a
        hash set of every triple seen, which grows with the store)."""
        tmp_prefix = self.graphs.ns + "tmp/"
        store = self.store

        def usable(graph) -> bool:
            return isinstance(graph, ox.NamedNode) and not graph.value.startswith(tmp_prefix)

        for quad in store.quads_for_pattern(None, None, None, None):
            if not usable(quad.graph_name):
                continue
            first = next(q.graph_name for q in store.quads_for_pattern(quad.subject, quad.predicate, quad.object, None)
                         if usable(q.graph_name))
            if first == quad.graph_name:
                yield quad.triple

    def quad_count(self) -> int:
        return len(self.store)

    def raw_query(self, sparql: str, **kwargs):
        return self.store.query(sparql, **kwargs)

    def dump(self, output, format, *, graph=None) -> None:
        fmt, g = rdf_format(format), graph_node(graph)
        if g is None:
            self.store.dump(output, fmt)
        elif fmt in QUAD_FORMATS and isinstance(g, ox.NamedNode):
            ox.serialize(self.quads(graph=g), output, fmt)
        else:
            self.store.dump(output, fmt, from_graph=g)

    # -- primitives and writing (the logic is kb.store.base.Store's) ---------------------------
    def raw_update(self, sparql: str, *, prefixes: dict | None = None, base_iri: str | None = None) -> None:
        self.store.update(sparql, prefixes=prefixes, base_iri=base_iri)

    def add_quads(self, quads) -> None:
        self.store.extend(quads)

    def remove_graph(self, graph) -> None:
        self.store.remove_graph(graph_node(graph))

    replace_graph = _reopens_after_disk_full(Store.replace_graph)
    drop_graph = _reopens_after_disk_full(Store.drop_graph)
    change_graphs = _reopens_after_disk_full(Store.change_graphs)
    update = _reopens_after_disk_full(Store.update)
    drop_staging_graphs = _reopens_after_disk_full(Store.drop_staging_graphs)

    @_reopens_after_disk_full
    def load_file(self, path: str | os.PathLike, *, graph: str | None = None,
                  format: str | None = None, base_iri: str | None = None, defer_view: bool = False) -> int:
        """Load one RDF file, all or nothing. Returns the number of quads added.

        Triples go into ``graph`` (required for triple formats); quad formats keep their graphs.
        A syntax error names the file, line and column and leaves the store unchanged.
        The public default graph follows in step, streamed (kb/store/loader.py); with ``defer_view``
        (``dsikb load``), after a bulk load it follows at the next open of the store instead.
        """
        from kb.store.loader import load_file

        added = load_file(self, path, graph=graph, format=format, base_iri=base_iri, public_view=True,
                          defer_view=defer_view and self._state_file is not None)
        if added:
            self.bump()
        return added

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

