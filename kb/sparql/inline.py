"""The inline lane: the lightest lookups evaluated in the web process itself, with no worker process.

A light lookup's time through a worker was mostly waiting to be scheduled: the request thread hands
the query to another process, which must get a core, then hands the answer back (two process
wake-ups per query; on a busy two-core machine each costs milliseconds). pyoxigraph releases the GIL
while it evaluates, so evaluating in the request thread costs the other threads nothing.
docs/decisions/2026-12-01-query-evaluation.md has the figures.

A query evaluated here cannot be killed, so only a narrow shape comes here (:func:`eligible`), whose
evaluation starts from constants: an ASK or a SELECT of plain variables over at most
``MAX_PATTERNS`` triple patterns, each with a subject that is an IRI, the variable of the one
``VALUES`` list, or a variable an earlier pattern's object binds; no FILTER, OPTIONAL, UNION, GRAPH,
subquery, path, blank node, aggregate or modifier other than LIMIT/OFFSET. Everything else goes to
the worker lanes (kb/sparql/pool.py) as before. Guards, should such a lookup still be slow:

- at most ``slots`` inline evaluations at once (then the worker lanes take the query);
- rows are pulled one by one: a SELECT still running after ``seconds`` (DSIKB_LIGHT_SECONDS) is
  abandoned (pyoxigraph stops evaluating an iterator no one pulls) and given to the worker lanes,
  which kill it at the timeout;
- an evaluation that cannot be abandoned (an ASK, or a first row that takes long) closes the lane
  while it runs past ``seconds``: no other one can start, so at most ``slots`` threads (started
  together) are ever held this way, and the lane opens again once they have finished;
- a query text that ran past ``seconds`` is remembered and never evaluated inline again.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from typing import Callable

import pyoxigraph as ox

from kb.sparql import formats
from kb.sparql.evaluate import ChunkWriter, dataset_kwargs
from kb.sparql.safety import tokens

MAX_PATTERNS = 4
_TERMS = ("iri", "pname")
_OBJECTS = ("iri", "pname", "string", "number", "var")
_WORD_OBJECTS = ("true", "false")


def eligible(text: str) -> bool:
    """Whether ``text`` has the inline shape (see the module's docstring); already checked safe and
    classified light by the caller."""
    toks = tokens(text)
    n, i = len(toks), 0
    while i < n and toks[i].kind == "word" and toks[i].text.upper() in ("PREFIX", "BASE"):
        i += 3 if toks[i].text.upper() == "PREFIX" else 2
    if i >= n or toks[i].kind != "word":
        return False
    form = toks[i].text.upper()
    i += 1
    if form == "SELECT":
        while i < n and (toks[i].kind == "var" or toks[i].text == "*"):
            i += 1
    elif form != "ASK":
        return False
    if i < n and toks[i].kind == "word" and toks[i].text.upper() == "WHERE":
        i += 1
    if i >= n or toks[i].text != "{":
        return False
    i += 1
    bound: set[str] = set()
    if i < n and toks[i].kind == "word" and toks[i].text.upper() == "VALUES":
        if i + 2 >= n or toks[i + 1].kind != "var" or toks[i + 2].text != "{":
            return False
        bound.add(toks[i + 1].text[1:])
        i += 3
        while i < n and toks[i].kind in ("iri", "pname", "string", "number", "lang"):
            i += 1
        if i >= n or toks[i].text != "}":
            return False
        i += 1
    patterns = 0
    subject = None
    while i < n and toks[i].text != "}":
        if subject is None:  # a new subject
            tok = toks[i]
            if not (tok.kind in _TERMS or (tok.kind == "var" and tok.text[1:] in bound)):
                return False
            subject = tok
            i += 1
        # predicate
        if i >= n or not (toks[i].kind in ("iri", "pname", "var") or toks[i].text == "a"):
            return False
        i += 1
        while True:  # object list: o (, o)*
            if i >= n:
                return False
            tok = toks[i]
            if tok.kind in _OBJECTS or (tok.kind == "word" and tok.text in _WORD_OBJECTS):
                patterns += 1
                if tok.kind == "var":
                    bound.add(tok.text[1:])
                i += 1
                if i < n and tok.kind == "string" and toks[i].kind == "lang":
                    i += 1
            else:
                return False
            if i < n and toks[i].text == ",":
                i += 1
                continue
            break
        if patterns > MAX_PATTERNS or i >= n:
            return False
        if toks[i].text == ";":  # same subject, next predicate
            i += 1
            continue
        if toks[i].text == ".":
            i += 1
        subject = None
    if i >= n or patterns == 0:
        return False
    i += 1  # the closing brace
    while i + 1 < n and toks[i].kind == "word" and toks[i].text.upper() in ("LIMIT", "OFFSET") \
            and toks[i + 1].kind == "number" and toks[i + 1].text.isdigit():
        i += 2
    return i == n


JSON = "application/sparql-results+json"


class _Abandoned(Exception):
    """The rows were not all pulled within the lane's seconds."""


class _Rows:
    """The solutions as ``formats.write_solutions`` reads them, given up past ``deadline``."""

    def __init__(self, solutions: ox.QuerySolutions, deadline: float):
        self.variables = solutions.variables
        self._solutions, self._deadline = solutions, deadline

    def __iter__(self):
        deadline = self._deadline
        for count, solution in enumerate(self._solutions):
            if count & 31 == 0 and time.monotonic() > deadline:
                raise _Abandoned
            yield solution
        if time.monotonic() > deadline:
            raise _Abandoned


class _Sink:
    """Where pyoxigraph writes JSON results (a few KB at a time): gives up past the deadline or the
    byte cap, so a large result is not built in memory and a slow one stops between writes."""

    def __init__(self, deadline: float, max_bytes: int):
        self.parts: list[bytes] = []
        self.total = 0
        self.deadline, self.max_bytes = deadline, max_bytes
        self.abandoned: str | None = None

    def write(self, data) -> int:
        self.total += len(data)
        if self.total > self.max_bytes:
            self.abandoned = "bytes"
            raise _Abandoned
        if time.monotonic() > self.deadline:
            self.abandoned = "seconds"
            raise _Abandoned
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass


class ReadOnlyStore:
    """``query`` over a read-only open of the store at ``path`` (evaluation measured ~2x faster than
    through the web process's read-write open), opened again when ``generation()`` changes, as the
    workers are: a read-only open sees the store as it was when it was opened."""

    def __init__(self, path: str, generation: Callable[[], int]):
        self.path, self.generation = path, generation
        self._store: tuple[int, ox.Store] | None = None
        self._lock = threading.Lock()

    def store(self) -> ox.Store:
        generation = self.generation()
        current = self._store
        if current is None or current[0] != generation:
            with self._lock:
                current = self._store
                if current is None or current[0] != generation:
                    current = self._store = (generation, ox.Store.read_only(self.path))
        return current[1]

    def query(self, text: str, **kwargs):
        return self.store().query(text, **kwargs)


class InlineLane:
    """Runs eligible light lookups with ``query`` (``Store.query``) in the calling thread."""

    def __init__(self, query: Callable, slots: int = 2, seconds: float = 1.0, remember: int = 1024):
        self._query = query
        self.slots = slots
        self.seconds = seconds
        self._running: dict[int, float] = {}  # id -> start (monotonic)
        self._slow: OrderedDict[bytes, None] = OrderedDict()
        self._remember = remember
        self._lock = threading.Lock()
        self._ids = iter(range(1 << 62))

    def query(self, text: str, **kwargs):
        return self._query(text, **kwargs)

    def _admit(self, digest: bytes) -> int | None:
        now = time.monotonic()
        with self._lock:
            if len(self._running) >= self.slots or digest in self._slow:
                return None
            if any(now - started > self.seconds for started in self._running.values()):
                return None  # one is past its seconds and cannot be abandoned: closed until it ends
            ident = next(self._ids)
            self._running[ident] = now
            return ident

    def _leave(self, ident: int, digest: bytes, slow: bool) -> None:
        with self._lock:
            self._running.pop(ident, None)
            if slow:
                self._slow[digest] = None
                while len(self._slow) > self._remember:
                    self._slow.popitem(last=False)

    def run(self, job: dict) -> tuple | None:
        """``("all", body, info)`` for a finished evaluation; None when the lane is full or closed,
        the query was given up, or it failed (the worker lanes then evaluate it and word the error)."""
        media = job["media"]
        if media not in formats.TABULAR:
            return None
        digest = hashlib.blake2b(job["query"].encode(), digest_size=16).digest()
        ident = self._admit(digest)
        if ident is None:
            return None
        started = time.monotonic()
        deadline = started + self.seconds
        slow = False
        try:
            try:
                results = self.query(job["query"], prefixes=job.get("prefixes"), base_iri=job.get("base_iri"),
                                     **dataset_kwargs(job))
                parts: list[bytes] = []
                writer = ChunkWriter(lambda message: parts.append(message[1]))
                caps = formats.Caps(job["max_rows"], job["max_bytes"])
                if isinstance(results, ox.QueryBoolean):
                    formats.write_boolean(bool(results), formats.BOOLEAN[media], writer)
                elif isinstance(results, ox.QuerySolutions) and media == JSON:
                    return self._json(results, job, started, digest)
                elif isinstance(results, ox.QuerySolutions):
                    formats.write_solutions(_Rows(results, deadline), formats.TABULAR[media], writer, caps)
                else:
                    return None
            except _Abandoned:
                slow = True
                return None
            except Exception:  # noqa: BLE001 - syntax errors and the like: the worker lanes answer them
                return None
            seconds = time.monotonic() - started
            slow = seconds > self.seconds
            body = bytes(writer.buffer) if not parts else b"".join(parts) + bytes(writer.buffer)
            return ("all", body, {"rows": caps.rows, "truncated": caps.truncated, "bytes": writer.total,
                                  "seconds": seconds})
        finally:
            self._leave(ident, digest, slow or time.monotonic() - started > self.seconds)

    def _json(self, results: ox.QuerySolutions, job: dict, started: float, digest: bytes) -> tuple | None:
        """JSON results written by pyoxigraph in one call (one GIL hand-off, not one a row: with
        8 clients the per-row hand-offs made the Python writer the bottleneck). The rows are counted
        from the document; past a cap the worker lanes answer (they stop at the cap, row by row)."""
        sink = _Sink(started + self.seconds, job["max_bytes"])
        try:
            results.serialize(sink, format=ox.QueryResultsFormat.JSON)
        except Exception:  # noqa: BLE001 - the sink's _Abandoned, however pyoxigraph wraps it
            if sink.abandoned == "seconds":
                raise _Abandoned from None
            return None
        seconds = time.monotonic() - started
        body = b"".join(sink.parts)
        rows = len(json.loads(body)["results"]["bindings"])
        if rows > job["max_rows"]:
            return None
        return ("all", body, {"rows": rows, "truncated": None, "bytes": len(body), "seconds": seconds})
