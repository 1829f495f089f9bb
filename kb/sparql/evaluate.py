"""Evaluating one SPARQL query and writing its results as messages (used inside worker processes,
and in a thread for stores a worker cannot open).

Messages: ``("all", body, info)`` when the whole result fits in one chunk; otherwise
``("chunk", bytes)``... then ``("end", info)``; or ``("error", status, message)``. ``info`` says how
many rows were written and which cap, if any, truncated them.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Callable

import pyoxigraph as ox

from kb.errors import KBError
from kb.sparql import formats

CHUNK = 64 * 1024
log = logging.getLogger("dsikb.sparql")


class ChunkWriter:
    """A binary file-like object that hands its content on in chunks of about ``CHUNK`` bytes."""

    def __init__(self, emit: Callable[[tuple], None], chunk: int = CHUNK):
        self.emit = emit
        self.chunk = chunk
        self.buffer = bytearray()
        self.total = 0
        self.flushed = False

    def write(self, data) -> int:
        self.buffer += data
        self.total += len(data)
        if len(self.buffer) >= self.chunk:
            self.emit(("chunk", bytes(self.buffer)))
            self.buffer.clear()
            self.flushed = True
        return len(data)

    def tell(self) -> int:
        return self.total

    def flush(self) -> None:
        pass

    def finish(self, info: dict) -> None:
        if not self.flushed:
            self.emit(("all", bytes(self.buffer), info))
        else:
            if self.buffer:
                self.emit(("chunk", bytes(self.buffer)))
            self.emit(("end", info))


def dataset_kwargs(job: dict) -> dict:
    """pyoxigraph query arguments for the request's dataset (protocol, query FROM, or union)."""
    if job.get("default_graph") is not None or job.get("named_graphs") is not None:
        return {
            "default_graph": [ox.NamedNode(g) for g in job.get("default_graph") or []],
            "named_graphs": [ox.NamedNode(g) for g in job.get("named_graphs") or []],
        }
    if job.get("has_dataset") or not job.get("union"):
        # the query's own FROM / FROM NAMED, or the store's default graph: the public RDF merge of the
        # named graphs (kb/store/publicview.py), every named graph still there for GRAPH ?g
        return {}
    return {"use_default_graph_as_union": True}  # a remote store whose default graph is the union


def evaluate(query: Callable, job: dict, emit: Callable[[tuple], None]) -> None:
    """Run ``job`` with ``query`` (a ``Store.query``-like callable) and emit its serialised results."""
    started = time.perf_counter()
    caps = formats.Caps(job["max_rows"], job["max_bytes"])
    writer = ChunkWriter(emit)
    try:
        results = query(job["query"], prefixes=job.get("prefixes"), base_iri=job.get("base_iri"),
                        **dataset_kwargs(job))
        media = job["media"]
        if isinstance(results, ox.QueryBoolean):
            if media not in formats.BOOLEAN:
                raise _FormMismatch("ASK")
            formats.write_boolean(bool(results), formats.BOOLEAN[media], writer)
        elif isinstance(results, ox.QuerySolutions):
            if media not in formats.TABULAR:
                raise _FormMismatch("SELECT")
            formats.write_solutions(results, formats.TABULAR[media], writer, caps)
        else:
            if media not in formats.GRAPH:
                raise _FormMismatch("CONSTRUCT or DESCRIBE")
            formats.write_triples(results, media, writer, caps, job.get("output_prefixes"))
    except SyntaxError as exc:
        emit(("error", 400, syntax_message(exc)))
        return
    except _FormMismatch as exc:
        emit(("error", 400, f"could not tell the query form before evaluation; it is {exc}: "
                            "put the query form (SELECT, ASK, ...) right after the prologue"))
        return
    except KBError as exc:  # e.g. a remote store that cannot be reached
        if exc.status < 500 or exc.status == 503:  # 503: the remote store is down; its message helps
            emit(("error", exc.status, exc.message))
        else:
            emit(failure(job, exc))
        return
    except Exception as exc:  # noqa: BLE001 - any fault of evaluation: reported without its details
        emit(failure(job, exc))
        return
    writer.finish({"rows": caps.rows, "truncated": caps.truncated, "bytes": writer.total,
                   "seconds": time.perf_counter() - started})


def failure(job: dict, exc: BaseException) -> tuple:
    """The error message for a failed evaluation. What went wrong (host, port, "Connection refused",
    OS error text) goes to the server log only: echoed to the client it would make SERVICE a port
    scanner and show the operator's network."""
    log.warning("SPARQL evaluation failed: %s: %s", type(exc).__name__, exc)
    if "service" in job.get("query", "").lower() and not isinstance(exc, KBError):
        return ("error", 502, "the federated endpoint could not be reached, or its answer could not be "
                              "used (SERVICE); the details are in the server log")
    return ("error", 500, "the query could not be evaluated (an internal error; the details are in "
                          "the server log)")


def syntax_message(exc: SyntaxError) -> str:
    """The parser's message with its position spelled out: ``error at 2:9: ...`` -> line 2, column 9."""
    text = re.sub(r"^error at (\d+):(\d+):", r"line \1, column \2:", str(exc))
    return f"SPARQL syntax error at {text}" if text != str(exc) else f"SPARQL syntax error: {text}"


class _FormMismatch(Exception):
    pass
