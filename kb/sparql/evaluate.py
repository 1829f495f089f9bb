"""Evaluating one SPARQL query and writing its results as messages (used inside worker processes,
and in a thread for stores a worker cannot open).

Messages: ``("all", body, info)`` when the whole result fits in one chunk; otherwise
``("chunk", bytes)``... then ``("end", info)``; or ``("error", status, message)``. ``info`` says how
many rows were written and which cap, if any, truncated them.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

import pyoxigraph as ox

from kb.errors import KBError
from kb.sparql import formats, syntax

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
        emit(refused(job, exc))
        return
    except _FormMismatch as exc:
        emit(("error", 400, f"could not tell the query form before evaluation; it is {exc}: "
                            "put the query form (SELECT, ASK, ...) right after the prologue"))
        return
    except KBError as exc:  # e.g. a remote store that cannot be reached
        if job.get("services") and exc.status >= 500:  # a remote store's words about a failed SERVICE
            log.warning("SPARQL evaluation with SERVICE failed: %s", str(exc))  # call may name hosts: logged
            emit(("error", exc.status, "the triple store could not evaluate this query with SERVICE (it "
                                       "may be down, or the federated endpoint failed); the details are "
                                       "in the server log"))
        elif exc.status < 500 or exc.status in (502, 503):  # the remote store is down, or answered
            emit(("error", exc.status, exc.message))  # what it should not: its message helps
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
    # the text, not the exception: a log record keeps its arguments, and an exception's traceback
    # keeps the evaluating thread's frames (pyoxigraph results there must not be dropped elsewhere)
    log.warning("SPARQL evaluation failed: %s: %s", type(exc).__name__, str(exc))
    if job.get("services") or ("service" in job.get("query", "").lower() and not isinstance(exc, KBError)):
        return ("error", 502, "the federated endpoint could not be reached, or its answer could not be "
                              "used (SERVICE); the details are in the server log")
    return ("error", 500, "the query could not be evaluated (an internal error; the details are in "
                          "the server log)")


def refused(job: dict, exc: SyntaxError) -> tuple:
    """The error message for a query the store refused. Unparsed (``job["parsed"]`` unset), it is the
    parser's syntax error. Parsed here first (kb.sparql.syntax), it is a remote store refusing a
    query that is valid SPARQL: Oxigraph's server answers a SERVICE call that failed with 400 and
    the network error's text, which is a failure of the federated endpoint (502, details logged);
    anything else is the store's own limit, said in its words (400)."""
    if not job.get("parsed"):
        return ("error", 400, syntax.message(exc))
    if job.get("services"):
        return failure(job, exc)
    return ("error", 400, str(exc))


syntax_message = syntax.message  # the name older callers use


class _FormMismatch(Exception):
    pass
