"""Loading RDF files into the store: all or nothing per file, with a progress bar on large files.

Small files are parsed in memory and added in one transaction (``Store.extend``), so the count of
statements added is exact and cheap. Large files go to ``Store.bulk_load``, which streams:
- triples into a graph that is empty: loaded in one pass; on a syntax error the graph is removed
  again, which leaves the store as it was;
- otherwise (quad formats, or a graph that already holds data): parsed once first to prove the file
  is well formed, then bulk loaded.
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


def load_file(kb, path, *, graph=None, format=None, base_iri=None, progress=None) -> int:
    """Load ``path`` into ``kb``, all or nothing; returns the number of statements added.

    Triples go into ``graph`` (default: a graph named after the file); quad formats keep their own.
    A syntax error raises :class:`kb.errors.SyntaxProblem` naming file, line and column.
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
    try:
        if size < BULK_THRESHOLD or needs_rebase:
            return _load_in_memory(kb, path, fmt, to_graph, base_iri, needs_rebase)
        show = sys.stderr.isatty() if progress is None else progress
        return _bulk_load(kb, path, fmt, to_graph, base_iri, size, sys.stderr if show else None)
    except SyntaxError as exc:
        raise syntax_problem(path, exc) from None
    except ValueError as exc:
        raise BadRequest(f"{path}: {exc}") from None


def _load_in_memory(kb, path: Path, fmt, to_graph, base_iri: str, needs_rebase: bool) -> int:
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
    return len(new)


def _bulk_load(kb, path: Path, fmt, to_graph, base_iri: str, size: int, stream) -> int:
    """Stream a large file in with ``bulk_load``; see the module docstring for all-or-nothing."""
    store = kb.store
    fresh_graph = to_graph is not None and not store.contains_named_graph(to_graph)
    if fresh_graph:
        before = 0
    else:
        before = _count(kb, to_graph)
        with _open(path) as fh:  # prove the file parses, so a bad file adds nothing
            for _ in ox.parse(fh, fmt, base_iri=base_iri):
                pass
    with _open(path) as fh:
        reader = io.BufferedReader(_Progress(fh, size, f"loading {path.name}", stream), buffer_size=1 << 20)
        try:
            store.bulk_load(reader, fmt, base_iri=base_iri, to_graph=to_graph)
        except BaseException:
            if fresh_graph and store.contains_named_graph(to_graph):
                store.remove_graph(to_graph)  # the graph was new: removing it restores the store
            raise
    return _count(kb, to_graph) - before


def _count(kb, graph) -> int:
    """Statements in one graph, or in the whole store (default graph included)."""
    return kb.triple_count(graph.value) if graph is not None else kb.quad_count()


def _graph_part(path: Path) -> str:
    stem = path.name.split(".")[0].lower()
    cleaned = "".join(c if c.isalnum() or c in "-_" else "-" for c in stem).strip("-_")
    return cleaned or "file"
