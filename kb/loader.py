"""Loading RDF files into the store: all or nothing per file, with a progress line on large files.

Small files go through ``Store.load`` (one transaction). Large files are parsed once to prove they are
well formed (a syntax error then changes nothing), then given to ``Store.bulk_load``, which does not
hold the file in memory.
"""

from __future__ import annotations

import gzip
import io
import os
import sys
import time
from pathlib import Path

import pyoxigraph as ox

from kb.errors import BadRequest, KBError
from kb.namespaces import rebase
from kb.settings import DEFAULT_BASE_URI

BULK_THRESHOLD = 16 * 1024 * 1024  # bytes; above this, parse-check then bulk load
QUAD_FORMATS = {ox.RdfFormat.N_QUADS, ox.RdfFormat.TRIG}


class _Progress(io.RawIOBase):
    """A binary reader that reports how far through the file it is, at most once a second."""

    def __init__(self, raw, total: int, label: str, stream=sys.stderr):
        self.raw, self.total, self.label, self.stream = raw, total, label, stream
        self.done, self.last = 0, 0.0

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.done += n
        now = time.monotonic()
        if self.stream is not None and (now - self.last > 1.0 or n == 0):
            self.last = now
            pct = 100.0 * self.done / self.total if self.total else 100.0
            self.stream.write(f"\r{self.label}: {pct:5.1f}%")
            if n == 0:
                self.stream.write("\n")
            self.stream.flush()
        return n


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def load_file(kb, path, *, graph=None, format=None, base_iri=None, progress=None) -> int:
    """Load ``path`` into ``kb``; returns the number of quads added (as counted before/after)."""
    from kb.store import rdf_format, syntax_problem

    path = Path(path)
    if not path.is_file():
        raise KBError(f"{path}: no such file")
    fmt = rdf_format(format or path.name)
    if fmt not in QUAD_FORMATS and not graph:
        graph = kb.graphs.ns + "load/" + _graph_part(path)
    to_graph = ox.NamedNode(graph) if graph and fmt not in QUAD_FORMATS else None
    base_iri = base_iri or path.resolve().as_uri()
    size = path.stat().st_size
    before = kb.triple_count()
    needs_rebase = kb.settings.base_uri != DEFAULT_BASE_URI
    try:
        if size < BULK_THRESHOLD or needs_rebase:
            with _open(path) as fh:
                data = fh.read()
            if needs_rebase:
                data = rebase(data.decode("utf-8"), kb.settings.base_uri).encode("utf-8")
            kb.store.load(data, fmt, base_iri=base_iri, to_graph=to_graph)
        else:
            show = sys.stderr.isatty() if progress is None else progress
            with _open(path) as fh:  # pass 1: prove the file parses, so a bad file adds nothing
                for _ in ox.parse(fh, fmt, base_iri=base_iri):
                    pass
            with _open(path) as fh:
                reader = io.BufferedReader(
                    _Progress(fh, size, f"loading {path.name}", sys.stderr if show else None),
                    buffer_size=1 << 20,
                )
                kb.store.bulk_load(reader, fmt, base_iri=base_iri, to_graph=to_graph)
    except SyntaxError as exc:
        raise syntax_problem(path, exc) from None
    except ValueError as exc:
        raise BadRequest(f"{path}: {exc}") from None
    return kb.triple_count() - before


def _graph_part(path: Path) -> str:
    stem = path.name.split(".")[0].lower()
    cleaned = "".join(c if c.isalnum() or c in "-_" else "-" for c in stem).strip("-_")
    return cleaned or "file"
