"""Dumps of the store as RDF files: streaming (memory stays flat as the store grows), gzip on ``.gz``.

Quad formats (N-Quads, TriG) keep the named graphs; triple formats (Turtle, N-Triples, JSON-LD) of
the whole dataset hold the union of the graphs (each triple once, found without a growing set). A *public* dump leaves out hidden
and withdrawn entities: every statement whose subject or object is one of them, or is a membership or
collaboration node that involves one (see docs/publishing.md).
"""

from __future__ import annotations

import gzip
import os
import sys
import tempfile
from pathlib import Path
from typing import IO, Iterable, Iterator

import pyoxigraph as ox

from kb.errors import BadRequest

FORMATS = {
    "ttl": ox.RdfFormat.TURTLE,
    "nt": ox.RdfFormat.N_TRIPLES,
    "nq": ox.RdfFormat.N_QUADS,
    "trig": ox.RdfFormat.TRIG,
    "jsonld": ox.RdfFormat.JSON_LD,
}
MEDIA_TYPES = {
    "ttl": "text/turtle",
    "nt": "application/n-triples",
    "nq": "application/n-quads",
    "trig": "application/trig",
    "jsonld": "application/ld+json",
}
QUAD_FORMATS = {"nq", "trig"}
# prefixes of instance namespaces: their local names ("organisation/x") would need escaping in Turtle
INSTANCE_PREFIXES = {"dsid", "concept", "graph"}


def excluded_nodes(kb) -> set:
    """Hidden and withdrawn entities, and the membership/collaboration nodes that involve them."""
    n = kb.names
    rows = kb.select("SELECT DISTINCT ?x WHERE { { ?x dsi:hidden true } UNION { ?x dsi:withdrawn ?when } }")
    entities = {row["x"] for row in rows}
    if not entities:
        return entities
    dependent_types = {ox.NamedNode(n.dsi("ActivityMembership")), ox.NamedNode(n.dsi("Collaboration"))}
    if not kb.in_process:  # a remote store: one query, not two round trips per entity
        rows = kb.select(  # the entities first: joined the other way round, Oxigraph takes seconds
            "SELECT DISTINCT ?x WHERE { { SELECT DISTINCT ?e WHERE { { ?e dsi:hidden true } UNION "
            "{ ?e dsi:withdrawn ?when } } } ?x ?p ?e . "
            "FILTER EXISTS { ?x a ?t VALUES ?t { dsi:ActivityMembership dsi:Collaboration } } }")
        return entities | {row["x"] for row in rows}
    rdf_type = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
    dependent = set()
    for entity in entities:  # index lookups by object: fast however large the store
        for quad in kb.quads(None, None, entity, None):
            x = quad.subject
            if x not in dependent and any(
                    t.object in dependent_types for t in kb.quads(x, rdf_type, None, None)):
                dependent.add(x)
    return entities | dependent


def _open_out(out) -> tuple[IO[bytes], callable]:
    """A binary writer for ``out`` (path, file object or None = stdout) and a function that
    finishes it: paths are written to a temporary file beside them and renamed (atomic)."""
    if out is None or out == "-":
        return sys.stdout.buffer, lambda ok: sys.stdout.buffer.flush()
    if hasattr(out, "write"):
        return out, lambda ok: None
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".tmp", dir=path.parent)
    raw = os.fdopen(fd, "wb")
    stream = gzip.GzipFile(filename=path.name[:-3], mode="wb", fileobj=raw, compresslevel=6, mtime=0) \
        if path.name.endswith(".gz") else raw

    def finish(ok: bool):
        if stream is not raw:
            stream.close()
        raw.close()
        if ok:
            os.replace(tmp, path)
        else:
            os.unlink(tmp)

    return stream, finish


def _statements(kb, fmt: str, graph: str | None, public: bool = False) -> Iterable:
    """Quads (quad formats) or triples (triple formats) of the store or of one graph. The store's
    default graph is derived (kb/store/publicview.py): quad formats hold the named graphs only, and the
    public merge of a triple format is the default graph itself."""
    if graph:
        node = ox.NamedNode(graph)
        if not kb.has_graph(node):
            raise BadRequest(f"no graph <{graph}> in the store (see `dsikb stats` for the graphs)")
        quads = kb.quads(graph=node)
        return quads if fmt in QUAD_FORMATS else (q.triple for q in quads)
    if fmt in QUAD_FORMATS:
        tmp_prefix = kb.graphs.ns + "tmp/"
        return (q for q in kb.quads()
                if isinstance(q.graph_name, ox.NamedNode) and not q.graph_name.value.startswith(tmp_prefix))
    if public:
        return (q.triple for q in kb.quads(graph=ox.DefaultGraph()))
    return kb.union_triples()


def _filtered(statements: Iterable, excluded: set, counter: list) -> Iterator:
    if not excluded:
        for st in statements:
            counter[0] += 1
            yield st
        return
    for st in statements:
        if st.subject in excluded or st.object in excluded:
            continue
        counter[0] += 1
        yield st


def _line_based(kb, format: str, graph: str | None, public: bool = False) -> bool:
    """N-Quads of the store (graph by graph), N-Triples/N-Quads of one graph, or the public N-Triples
    (the default graph): the store's own dump writes them (one statement per line, so lines can be
    counted and filtered; on a remote store a streamed Graph Store Protocol GET per graph)."""
    if format == "nq" and not graph:
        return True
    if format == "nt" and not graph and public:
        return True
    return format in ("nq", "nt") and graph is not None


class _Lines:
    """A writer between ``Store.dump`` and the output: counts statement lines and drops those whose
    subject or object is an excluded node (N-Triples/N-Quads terms other than literals hold no space);
    with ``graph``, N-Triples lines become N-Quads lines of that graph."""

    def __init__(self, out, excluded: set, graph: ox.NamedNode | None = None):
        self.out, self.count, self.rest = out, 0, b""
        self.tokens = {(f"<{n.value}>" if isinstance(n, ox.NamedNode) else f"_:{n.value}").encode()
                       for n in excluded}
        self.suffix = f" {graph} .\n".encode() if graph is not None else None

    def write(self, data: bytes) -> int:
        size = len(data)
        if not self.tokens and self.suffix is None:
            self.count += data.count(b"\n")
            self.out.write(data)
            return size
        data = self.rest + data
        cut = data.rfind(b"\n") + 1
        self.rest = data[cut:]
        kept = [line for line in data[:cut].splitlines(keepends=True) if line.strip() and not self._excluded(line)]
        if self.suffix is not None:  # "s p o ." -> "s p o <g> ."
            kept = [line.rstrip()[:-1].rstrip() + self.suffix for line in kept]
        self.count += len(kept)
        self.out.write(b"".join(kept))
        return size

    def _excluded(self, line: bytes) -> bool:
        subject, _, rest = line.split(b" ", 2)
        if subject in self.tokens:
            return True
        return rest[:1] in (b"<", b"_") and rest[:rest.index(b" ")] in self.tokens

    def flush(self):
        self.out.flush()


def _dump_lines(kb, format: str, out, graph: str | None, excluded: set) -> int:
    stream, finish = _open_out(out)
    ok = False
    try:
        lines = _Lines(stream, excluded)
        kwargs = {}
        if graph:
            node = ox.NamedNode(graph)
            if not kb.has_graph(node):
                raise BadRequest(f"no graph <{graph}> in the store (see `dsikb stats` for the graphs)")
            kwargs["graph"] = node
        elif format == "nt":  # the public merge: the derived default graph, already without excluded nodes
            kwargs["graph"] = ox.DefaultGraph()
        else:  # N-Quads of the store: its named graphs one by one (staging and the derived default left out)
            total = 0
            for name in kb.named_graphs():
                node = ox.NamedNode(name)
                per_graph = _Lines(stream, excluded, node)
                kb.dump(per_graph, ox.RdfFormat.N_TRIPLES, graph=node)
                total += per_graph.count
            ok = True
            return total
        kb.dump(lines, FORMATS[format], **kwargs)
        ok = True
    finally:
        finish(ok)
    return lines.count


def dump(kb, format: str, out, graph: str | None = None, *, public: bool = False,
         excluded: set | None = None) -> int:
    """Write the store (or one named graph) as ``format`` to ``out``; returns statements written.

    ``out``: a path (gzip when it ends in ``.gz``; written atomically), a binary file object, or
    None for standard output. ``public=True`` leaves out hidden and withdrawn entities
    (``excluded``: :func:`excluded_nodes` when the caller has them already).
    """
    if format not in FORMATS:
        raise BadRequest(f"unknown dump format {format!r}: use one of {', '.join(FORMATS)}")
    if not public:
        excluded = set()
    elif excluded is None:
        excluded = excluded_nodes(kb)
    if _line_based(kb, format, graph, public):
        return _dump_lines(kb, format, out, graph, excluded)
    statements = _statements(kb, format, graph, public)
    stream, finish = _open_out(out)
    counter = [0]
    ok = False
    try:
        kwargs = {}
        if format in ("ttl", "trig", "jsonld"):
            kwargs["prefixes"] = {p: ns for p, ns in kb.names.prefixes().items() if p not in INSTANCE_PREFIXES}
        ox.serialize(_filtered(statements, excluded, counter), stream, FORMATS[format], **kwargs)
        ok = True
    finally:
        finish(ok)
    return counter[0]


# The public dump files the web app serves at /dumps/: name, format, label.
PUBLIC_DUMPS = (
    ("dsi.ttl.gz", "ttl", "Turtle, all graphs merged"),
    ("dsi.nt.gz", "nt", "N-Triples, all graphs merged"),
    ("dsi.nq.gz", "nq", "N-Quads, with the named graphs"),
    ("dsi.jsonld.gz", "jsonld", "JSON-LD, all graphs merged"),
)
MANIFEST = "manifest.json"
CONVERTED = ("ttl", "jsonld")  # written from the N-Triples union file: a fast parse, no second store scan


def convert(source, out, format: str, prefixes: dict | None = None) -> None:
    """Re-serialise an N-Triples file (gzip by suffix) as ``format``, streaming."""
    source = Path(source)
    opener = gzip.open if source.name.endswith(".gz") else open
    stream, finish = _open_out(out)
    ok = False
    try:
        with opener(source, "rb") as fh:
            kwargs = {}
            if format in ("ttl", "trig", "jsonld") and prefixes:
                kwargs["prefixes"] = {p: ns for p, ns in prefixes.items() if p not in INSTANCE_PREFIXES}
            ox.serialize(ox.parse(fh, ox.RdfFormat.N_TRIPLES), stream, FORMATS[format], **kwargs)
        ok = True
    finally:
        finish(ok)


def write_public_dumps(kb, folder, *, extra=None) -> dict:
    """Write every public dump of the store's current generation into ``folder`` (atomically: a
    fresh subfolder, then ``manifest.json`` replaced in one step) and return the manifest.

    ``extra``: a function of the kb returning more JSON to keep in the manifest (e.g. VoID figures),
    computed from the same generation.
    """
    import hashlib
    import json
    import shutil
    import time
    import uuid

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    generation = kb.generation
    build = folder / f"g{generation}-{uuid.uuid4().hex[:8]}"
    build.mkdir()
    files = []
    excluded = excluded_nodes(kb)
    try:
        union = None  # (path, count) of the N-Triples union: Turtle and JSON-LD are converted from it
        for name, fmt, label in sorted(PUBLIC_DUMPS, key=lambda d: CONVERTED.count(d[1])):
            path = build / name
            if fmt in CONVERTED and union is not None:
                convert(union[0], path, fmt, kb.names.prefixes())
                triples = union[1]
            else:
                triples = dump(kb, fmt, path, public=True, excluded=excluded)
                if fmt == "nt":
                    union = (path, triples)
            sha = hashlib.sha256()
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    sha.update(block)
            files.append({"name": name, "format": fmt, "label": label, "media_type": MEDIA_TYPES[fmt],
                          "bytes": path.stat().st_size, "sha256": sha.hexdigest(), "triples": triples,
                          "modified": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(path.stat().st_mtime))})
        order = [d[0] for d in PUBLIC_DUMPS]
        files.sort(key=lambda f: order.index(f["name"]))
        manifest = {"generation": generation, "folder": build.name, "files": files,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        if extra is not None:
            manifest["extra"] = extra(kb)
        tmp = folder / f".{MANIFEST}.{uuid.uuid4().hex[:8]}"
        tmp.write_text(json.dumps(manifest, indent=1))
        os.replace(tmp, folder / MANIFEST)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    for old in folder.glob("g*"):  # earlier generations: open downloads keep their file handles
        if old.is_dir() and old.name != build.name:
            shutil.rmtree(old, ignore_errors=True)
    return manifest


def read_manifest(folder) -> dict | None:
    """The manifest of the dumps in ``folder``, or None when there are none yet."""
    import json

    path = Path(folder) / MANIFEST
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
