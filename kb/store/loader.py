"""Loading RDF files into the store: all or nothing per file, with a progress bar on large files.

Small files are parsed in memory and added in one transaction (``Store.extend``), so the count of
statements added is exact and cheap. Large files, and any file going into a new graph or an empty
store, go to ``Store.bulk_load``, which streams from the file in one pass and is atomic in pyoxigraph
0.5 (its files are ingested at the end, only after the whole input parsed: a syntax error adds
nothing; tests/test_load.py checks it for triples into a new graph, into one holding data, and quads).

The public default graph (kb/store/publicview.py) follows each load: at once after a small load (the
quads added are known), and after a bulk load by reading the file a second time into the default
graph (:func:`add_to_public_view`). ``dsikb load`` defers that second pass (``defer_view``): the
store's state file records the file (:func:`pending_entry`) and the next open of the store brings the
view in step (:func:`apply_pending_view`), so a series of loads costs the bulk loads alone and the view
is paid once, by ``dsikb serve``, ``dsikb stats`` or whatever opens the store next.
"""

from __future__ import annotations

import gzip
import io
import os
import sys
import time
from pathlib import Path

import pyoxigraph as ox

from kb.errors import BadRequest, KBError, SyntaxProblem
from kb.namespaces import rebase
from kb.settings import DEFAULT_BASE_URI

BULK_THRESHOLD = 16 * 1024 * 1024  # bytes; above this, bulk load (streaming)
FORMATS = {
    "ttl": ox.RdfFormat.TURTLE,
    "turtle": ox.RdfFormat.TURTLE,
    "nt": ox.RdfFormat.N_TRIPLES,
    "ntriples": ox.RdfFormat.N_TRIPLES,
    "nq": ox.RdfFormat.N_QUADS,
    "nquads": ox.RdfFormat.N_QUADS,
    "trig": ox.RdfFormat.TRIG,
    "jsonld": ox.RdfFormat.JSON_LD,
    "json": ox.RdfFormat.JSON_LD,
    "rdf": ox.RdfFormat.RDF_XML,
    "xml": ox.RdfFormat.RDF_XML,
    "owl": ox.RdfFormat.RDF_XML,
}


def rdf_format(name_or_path: str | os.PathLike) -> ox.RdfFormat:
    """The RDF format for a short name (``ttl``) or a file path (``x.nt``, ``x.ttl.gz``)."""
    text = str(name_or_path).lower()
    if text.endswith(".gz"):
        text = text[:-3]
    ext = text.rsplit(".", 1)[-1]
    try:
        return FORMATS[ext]
    except KeyError:
        raise BadRequest(
            f"unknown RDF format {ext!r}: use one of {', '.join(sorted(set(FORMATS)))}"
        ) from None


def syntax_problem(path, exc: SyntaxError) -> SyntaxProblem:
    """A parse error as a message with file, line and column."""
    line = getattr(exc, "lineno", None)
    col = getattr(exc, "offset", None)
    where = f"{path}" + (f", line {line}" if line else "") + (f", column {col}" if col else "")
    return SyntaxProblem(f"{where}: {exc.msg if hasattr(exc, 'msg') else exc}")


QUAD_FORMATS = {ox.RdfFormat.N_QUADS, ox.RdfFormat.TRIG}
BAR_WIDTH = 30


class _Progress(io.RawIOBase):
    """A binary reader that draws a progress bar of how far through the file it is (at most 4/s)."""

    def __init__(self, raw, total: int, label: str, stream=sys.stderr):
        self.raw, self.total, self.label, self.stream = raw, total, label, stream
        self.done, self.last, self.start = 0, 0.0, time.monotonic()

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.done += n
        now = time.monotonic()
        if self.stream is not None and (now - self.last > 0.25 or n == 0):
            self.last = now
            frac = min(1.0, self.done / self.total) if self.total else 1.0
            filled = int(frac * BAR_WIDTH)
            rate = self.done / max(now - self.start, 1e-6) / 1e6
            self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] "
                              f"{100 * frac:5.1f}% {rate:6.1f} MB/s")
            if n == 0:
                self.stream.write("\n")
            self.stream.flush()
        return n


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def load_file(kb, path, *, graph=None, format=None, base_iri=None, progress=None, public_view=False,
              defer_view=False) -> int:
    """Load ``path`` into ``kb``, all or nothing; returns the number of statements added.

    Triples go into ``graph`` (default: a graph named after the file); quad formats keep their own.
    A syntax error raises :class:`kb.errors.SyntaxProblem` naming file, line and column.
    With ``public_view``, the public default graph (kb/store/publicview.py) is brought in step with
    what was added, streamed (see :func:`add_to_public_view`); with ``defer_view`` too, a bulk load
    leaves that to the next open of the store (the module docstring).
    """

    path = Path(path)
    if not path.is_file():
        raise KBError(f"{path}: no such file")
    fmt = rdf_format(format or path.name)
    quads = fmt in QUAD_FORMATS
    if not quads and not graph:
        graph = kb.graphs.ns + "load/" + _graph_part(path)
    to_graph = ox.NamedNode(graph) if graph and not quads else None
    base_iri = base_iri or path.resolve().as_uri()
    size = path.stat().st_size
    needs_rebase = kb.settings.base_uri != DEFAULT_BASE_URI
    # into an empty store or a new graph a bulk load is one pass with no per-statement "already
    # there?" lookups, so even a small file goes there
    fresh = to_graph is not None and not kb.store.contains_named_graph(to_graph) or next(iter(kb.store), None) is None
    try:
        if needs_rebase or (size < BULK_THRESHOLD and not fresh):
            return _load_in_memory(kb, path, fmt, to_graph, base_iri, needs_rebase, public_view)
        show = sys.stderr.isatty() if progress is None else progress
        view = "defer" if public_view and defer_view else public_view
        return _bulk_load(kb, path, fmt, to_graph, base_iri, size, sys.stderr if show else None, view)
    except SyntaxError as exc:
        raise syntax_problem(path, exc) from None
    except ValueError as exc:
        raise BadRequest(f"{path}: {exc}") from None


def _load_in_memory(kb, path: Path, fmt, to_graph, base_iri: str, needs_rebase: bool,
                    public_view: bool = False) -> int:
    """Parse the whole file, then add what is new in one transaction: an exact count."""
    with _open(path) as fh:
        data = fh.read()
    if needs_rebase:
        data = rebase(data.decode("utf-8"), kb.settings.base_uri).encode("utf-8")
    parsed = ox.parse(data, fmt, base_iri=base_iri, rename_blank_nodes=True)
    if to_graph is not None:
        parsed = (ox.Quad(q.subject, q.predicate, q.object, to_graph) for q in parsed)
    store = kb.store
    new = {q for q in parsed if q not in store}
    if new:
        store.extend(new)
        if public_view:
            add_to_public_view(kb, quads=new)
    return len(new)


def _bulk_load(kb, path: Path, fmt, to_graph, base_iri: str, size: int, stream, public_view=False) -> int:
    """Stream a file in with ``bulk_load``, one pass (atomic: see the module docstring).
    ``public_view``: True (the default graph follows now), "defer" (at the next open), False."""
    store = kb.store
    empty_store = next(iter(store), None) is None
    fresh_graph = to_graph is not None and not store.contains_named_graph(to_graph)
    before = 0 if fresh_graph or empty_store else _count(kb, to_graph)
    entry = pending_entry(path, fmt, base_iri) if public_view == "defer" else None
    if entry is not None:  # the intent first: a crash during the load leaves a full re-derivation due
        kb.view_pending_add(entry)
    with _open(path) as fh:
        reader = io.BufferedReader(_Progress(fh, size, f"loading {path.name}", stream), buffer_size=1 << 20)
        try:
            store.bulk_load(reader, fmt, base_iri=base_iri, to_graph=to_graph)
        except BaseException:
            # pyoxigraph's bulk load adds nothing when it fails; in case a version ever does, a new
            # graph or an empty store is restored by removing what it was given
            if empty_store:
                store.clear()
            elif fresh_graph and store.contains_named_graph(to_graph):
                store.remove_graph(to_graph)
            if entry is not None:
                kb.view_pending_remove(entry)
            raise
    added = _count(kb, to_graph) - before
    if entry is not None:
        if added:
            kb.view_pending_loaded(entry)
        else:
            kb.view_pending_remove(entry)
    elif public_view and added:
        add_to_public_view(kb, source=(path, fmt, base_iri))
    return added


def pending_entry(path: Path, fmt, base_iri: str) -> dict:
    """What the next open needs to bring the public default graph in step after a deferred load:
    the file (read again if it did not change since), its format and base IRI."""
    st = path.stat()
    return {"path": str(path.resolve()), "format": fmt.file_extension, "base_iri": base_iri,
            "size": st.st_size, "mtime_ns": st.st_mtime_ns, "loaded": False}


def apply_pending_view(kb, entries: list[dict]) -> None:
    """Bring the public default graph in step after deferred loads: each file read again into it
    (:func:`add_to_public_view`); a whole re-derivation from the named graphs instead when a file
    changed or is gone, or a load never finished (a crash: what it added is unknown)."""
    from kb.store import publicview

    def unchanged(e) -> bool:
        try:
            st = os.stat(e["path"])
        except OSError:
            return False
        return e["loaded"] and st.st_size == e["size"] and st.st_mtime_ns == e["mtime_ns"]

    if not all(unchanged(e) for e in entries):
        publicview.rebuild(kb)
        return
    for e in entries:
        add_to_public_view(kb, source=(Path(e["path"]), rdf_format(e["format"]), e["base_iri"]))


# -- the public default graph after a load ---------------------------------------------------------
DEFAULT = ox.DefaultGraph()


def excluded_nodes(kb) -> set:
    """Hidden and withdrawn entities, and the memberships and collaborations naming one: what the
    public default graph leaves out (the same rule as kb/store/publicview.py)."""
    n = kb.names
    tmp = kb.graphs.ns + "tmp/"
    hidden = ox.NamedNode(n.dsi("hidden"))
    withdrawn = ox.NamedNode(n.dsi("withdrawn"))
    out = set()
    for q in kb.store.quads_for_pattern(None, hidden, ox.Literal(True)):
        if not isinstance(q.graph_name, ox.DefaultGraph) and not q.graph_name.value.startswith(tmp):
            out.add(q.subject)
    for q in kb.store.quads_for_pattern(None, withdrawn, None):
        if not isinstance(q.graph_name, ox.DefaultGraph) and not q.graph_name.value.startswith(tmp):
            out.add(q.subject)
    kinds = {ox.NamedNode(n.dsi("ActivityMembership")), ox.NamedNode(n.dsi("Collaboration"))}
    rdf_type = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
    naming = set()
    for x in out:
        for q in kb.store.quads_for_pattern(None, None, x):
            if isinstance(q.graph_name, ox.DefaultGraph) or q.graph_name.value.startswith(tmp):
                continue
            m = q.subject
            if m not in naming and any(not isinstance(t.graph_name, ox.DefaultGraph)
                                       and not t.graph_name.value.startswith(tmp)
                                       for k in kinds for t in kb.store.quads_for_pattern(m, rdf_type, k)):
                naming.add(m)
    return out | naming


def add_to_public_view(kb, *, quads=None, source=None) -> None:
    """Bring the public default graph in step after a load, without the whole-store SPARQL update of
    ``publicview.rebuild`` (which re-derives every triple in one in-memory transaction: 3.4x the
    load itself at 100k statements). A load only adds statements, so the view only grows by the
    added triples, less those naming an excluded node; the few already there that name a node the
    load excluded (a new ``dsi:hidden``) are removed after. ``quads``: exactly what was added (small
    loads). ``source``: (path, format, base IRI) of a large file, read again rather than the store
    (reading quads back from the store costs a string lookup per term, ~10x a parse): a triple format
    is bulk loaded a second time, into the default graph; quads are parsed and their triples bulk
    added. Not one transaction (neither is a bulk load): an interrupted load is loaded again."""
    from kb.store import publicview

    store = kb.store
    tmp = kb.graphs.ns + "tmp/"
    if quads is not None:
        if any(isinstance(q.graph_name, ox.DefaultGraph) for q in quads):
            publicview.rebuild(kb)  # statements for the derived default graph itself: derive it again
            return
        store.extend(ox.Quad(q.subject, q.predicate, q.object) for q in quads
                     if not q.graph_name.value.startswith(tmp))
    else:
        path, fmt, base_iri = source
        if fmt not in QUAD_FORMATS:
            with _open(path) as fh:
                store.bulk_load(fh, fmt, base_iri=base_iri, to_graph=DEFAULT, lenient=True)
        else:
            stated_default = []

            def triples():
                with _open(path) as fh:
                    for q in ox.parse(fh, fmt, base_iri=base_iri, lenient=True):
                        graph = q.graph_name
                        if isinstance(graph, ox.DefaultGraph):
                            stated_default.append(q)
                        elif not graph.value.startswith(tmp):
                            yield ox.Quad(q.subject, q.predicate, q.object)

            store.bulk_extend(triples())
            if stated_default:
                publicview.rebuild(kb)
                return
    excluded = excluded_nodes(kb)
    stale = [q for x in excluded for q in (*store.quads_for_pattern(x, None, None, DEFAULT),
                                           *store.quads_for_pattern(None, None, x, DEFAULT))]
    for q in stale:
        store.remove(q)


def _count(kb, graph) -> int:
    """Statements in one graph, or in the whole store (default graph included)."""
    return kb.triple_count(graph.value) if graph is not None else kb.quad_count()


def _graph_part(path: Path) -> str:
    stem = path.name.split(".")[0].lower()
    cleaned = "".join(c if c.isalnum() or c in "-_" else "-" for c in stem).strip("-_")
    return cleaned or "file"
