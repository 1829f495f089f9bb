"""The editor's gallery of example queries, answered from a table computed once per store generation
(issue 14, "Analytic queries"): the gallery's queries are heavy aggregates (query 13 took 675 ms at
1M quads), and a visitor clicking through the gallery should not wait for them nor load the workers.

**What is precomputed.** Every gallery query (``endpoint/queries/*.rq``) in every result format the
endpoint offers for its form: one evaluation per query through the endpoint's normal path (the
worker pool's heavy lane with the query timeout, or the remote store), in the background, one query
at a time and only on a spare worker (endpoint/sparql.py, ``evaluate_gallery``), so a request never
waits behind it. The other formats are written from that result by
the same serialisers and caps (:mod:`kb.sparql.formats`), which is what evaluating again would write;
a result the caps cut short is evaluated again in each format instead. An answer computed while the
store changed is thrown away: every answer is of the generation it is filed under.

**Which requests get it: the matching key.** A request's query is matched to a gallery query in
three steps, each sound on its own and each only narrowing the next:

1. the exact text (a dictionary lookup): the editor sends the gallery text as it is;
2. the sequence of SPARQL tokens (:func:`kb.sparql.safety.tokens`, the SPARQL 1.1 terminals: strings,
   IRIs, numbers, names...), comments and whitespace dropped: a client that sends the same query
   re-indented, with CRLF line ends or without the comment lines matches; a query differing in one
   constant, variable, keyword or prefix name does not;
3. confirmed by a second, independent parser: rdflib's SPARQL algebra of the text must equal the
   gallery query's (pyoxigraph exposes no algebra). A lexer mistake in step 2 would need rdflib
   to make the same mistake to give a wrong answer.

Steps 2-3 cost ~0.2 ms and ~35 ms; they run only for a text that holds the longest variable and the
three longest tokens of a gallery query (substring searches: microseconds, so other queries pay nothing), step 3 only for a
text whose tokens are a gallery query's, and their verdict is remembered per exact text (a bounded
memo). The answer also depends on what is
not in the text: only a request without ``default-graph-uri``/``named-graph-uri`` and without
relative IRIs is served (the endpoint checks), the format is part of the key, and so is the
generation: a request for generation N gets an answer of generation N or none (it is then evaluated
normally, never waiting for the table).

**Pinned, shared by the store's app processes.** The table lives in the app process, never
evicted by other queries (the result cache, :mod:`kb.sparql.cache`, is an LRU of everything else),
and in a small SQLite file beside the submission queue (:mod:`kb.sparql.precomputed_file`): the
first process to reach a generation computes it, the others (N app processes on a remote store, a
restarted server) read it.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections import OrderedDict
from typing import Callable

import pyoxigraph as ox

from kb.sparql import formats, safety

log = logging.getLogger("dsikb.sparql")
MEMO = 256  # texts whose verdict (gallery name or None) is remembered ...
MEMO_TEXT = 16 * 1024  # ... each of at most this many characters
HEADER = "X-SPARQL-Precomputed"


def token_key(text: str) -> tuple:
    """The query's SPARQL tokens without comments and whitespace: equal keys, same query."""
    return tuple(safety.tokens(text))


def algebra_key(text: str, prefixes: dict[str, str] | None = None) -> str | None:
    """rdflib's algebra of the query, as text (None when rdflib cannot read it)."""
    from pyparsing import ParseBaseException
    from rdflib.plugins.sparql import algebra, parser

    try:
        with safety._PARSER:  # pyparsing is not thread-safe: the lock the safety check parses under
            tree = parser.parseQuery(text)
        return repr(algebra.translateQuery(tree, initNs=dict(prefixes or {})).algebra)
    except (ParseBaseException, ValueError, TypeError, KeyError, AttributeError, RecursionError,
            NotImplementedError) as exc:  # rdflib's ways of not reading a text Oxigraph reads
        log.debug("rdflib could not read a query: %s", exc)
        return None


class Matcher:
    """Which gallery query, if any, a request's text is (the module docstring: exact text, then
    tokens, confirmed by rdflib's algebra)."""

    def __init__(self, queries: dict[str, str], prefixes: dict[str, str] | None = None):
        self.queries = dict(queries)
        self.prefixes = dict(prefixes or {})
        self._exact = {text: name for name, text in self.queries.items()}
        self.texts = frozenset(self._exact)
        self._tokens = {token_key(text): name for name, text in self.queries.items()}
        # Equal tokens mean each token's text is in the request's text: its three longest, looked
        # for first (microseconds), spare every other query the tokenising (and the memo).
        self._needles = {name: sorted({t.text for t in key}, key=len)[-3:] for key, name in self._tokens.items()}
        # and first its longest variable (rarer in other queries than its prefixes' IRIs)
        self._first = [(max((t.text for t in key if t.kind == "var"), key=len, default=key[0].text), name)
                       for key, name in self._tokens.items()]
        self._algebra: dict[str, str | None] = {}
        self._memo: OrderedDict[str, str | None] = OrderedDict()
        self._lock = threading.Lock()

    def match(self, text: str) -> str | None:
        name = self._exact.get(text)
        if name is not None:
            return name
        if not any(needle in text and all(n in text for n in self._needles[name])
                   for needle, name in self._first):
            return None
        with self._lock:
            if text in self._memo:
                self._memo.move_to_end(text)
                return self._memo[text]
        name = self._decide(text)
        if len(text) > MEMO_TEXT:
            return name
        with self._lock:
            self._memo[text] = name
            while len(self._memo) > MEMO:
                self._memo.popitem(last=False)
        return name

    def _decide(self, text: str) -> str | None:
        name = self._tokens.get(token_key(text))
        if name is None:
            return None
        if name not in self._algebra:
            self._algebra[name] = algebra_key(self.queries[name], self.prefixes)
        wanted = self._algebra[name]
        return name if wanted is not None and algebra_key(text, self.prefixes) == wanted else None


def media_for(form: str | None) -> list[str]:
    """Every media type the endpoint answers a query of ``form`` in, the one evaluated first first."""
    if form in ("SELECT", "ASK"):
        return list(formats.TABULAR if form == "SELECT" else formats.BOOLEAN)
    first = "application/n-triples"  # the simplest to read back, written in evaluation order
    return [first] + [m for m in formats.GRAPH if m != first]


class Precomputed:
    """The gallery's answers of one store generation, filled in the background.

    ``evaluate(text, media, timeout)`` returns ``(body, info)`` as the endpoint would answer (its
    normal evaluation path) or raises; ``generation()`` is the store's generation; ``caps`` the
    endpoint's (max rows, max bytes); ``output_prefixes`` what graph formats are written with."""

    def __init__(self, queries: dict[str, str], *, evaluate: Callable[[str, str, float], tuple],
                 generation: Callable[[], int], timeout: float, caps: tuple[int, int],
                 prefixes: dict[str, str] | None = None, output_prefixes: dict[str, str] | None = None,
                 path=None, modified: Callable[[], str | None] | None = None):
        self.matcher = Matcher(queries, prefixes)
        self.forms = {name: safety.analyse(text, prefixes).form for name, text in queries.items()}
        self.evaluate = evaluate
        self.generation = generation
        self.timeout = timeout
        self.caps = caps
        self.output_prefixes = output_prefixes
        self.computed_generation: int | None = None  # the generation the answers are of
        self.failures: dict[str, str] = {}  # gallery name -> why it was not precomputed
        self.seconds: float | None = None  # how long the last complete refresh took
        self._answers: dict[tuple[str, str], tuple[bytes, dict]] = {}
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()
        self._running: threading.Thread | None = None
        self._attempted: int | None = None  # the generation last refreshed (or tried)
        self.closed = False
        # shared with the other app processes of the store (kb/sparql/precomputed_file.py), if a path
        self.modified = modified or (lambda: None)
        self.shared = None
        self.source: str | None = None  # "computed" here or read from the "shared" file
        if path is not None:
            from kb.sparql.precomputed_file import SharedFile, fingerprint

            self.shared = SharedFile(path, fingerprint(sorted(queries.items()), list(caps), output_prefixes,
                                                       prefixes, {n: media_for(f) for n, f in self.forms.items()}))

    # -- serving --------------------------------------------------------------------------------
    def lookup(self, text: str, media: str, generation: int) -> tuple[bytes, dict] | None:
        """The precomputed ``(body, info)`` of ``text`` in ``media`` at ``generation``, or None; when
        a gallery query finds the table of another generation, starts refreshing it in the
        background (so an app that is never asked for the gallery never computes it)."""
        name = self.matcher.match(text)
        if name is None:
            return None
        if self._attempted != generation:
            self.refresh_later()
        if self.computed_generation != generation:
            return None
        with self._lock:
            if self.computed_generation != generation:
                return None
            return self._answers.get((name, media))

    def ready(self, generation: int | None = None) -> bool:
        """Every gallery answer of ``generation`` (default: the current one) is either in the table
        or failed to compute."""
        generation = self.generation() if generation is None else generation
        with self._lock:
            done = {name for name, _ in self._answers} | set(self.failures)
            return self.computed_generation == generation and done >= set(self.forms)

    # -- computing ------------------------------------------------------------------------------
    def refresh_later(self) -> None:
        """Refresh in a background thread, unless one runs or this generation was done already."""
        with self._lock:
            if self.closed or (self._running is not None and self._running.is_alive()):
                return
            thread = threading.Thread(target=self._refresh_quietly, daemon=True, name="dsikb-precompute")
            self._running = thread
        thread.start()

    def wait(self, timeout: float) -> bool:
        """Wait for a running refresh (tests, benchmarks); True when none is running afterwards."""
        thread = self._running
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def _refresh_quietly(self) -> None:
        try:
            self.refresh()
        except Exception as exc:  # noqa: BLE001 - a background thread: never an unhandled exception
            log.warning("precomputing the gallery failed: %s: %s", type(exc).__name__, exc)

    def refresh(self) -> bool:
        """Compute every gallery answer for the current generation (blocking). True when the
        generation did not change meanwhile (the answers are then served); a query that fails or
        times out is left to normal evaluation (``failures`` says why)."""
        with self._refreshing:  # one refresh at a time (the watcher's and a request's)
            return self._refresh()

    def _refresh(self) -> bool:
        generation = self.generation()
        if self._attempted == generation:
            return True
        started = time.perf_counter()
        run = f"{generation}@{self.modified()}"
        if self.shared is not None:
            try:
                state = self._shared_state(run, generation)
            except Exception as exc:  # noqa: BLE001 - a file that cannot be used: compute alone
                log.warning("the shared precomputed file %s cannot be used: %s", self.shared.path, exc)
                self.shared = None
            else:
                if state is None:
                    return False
                if state != "mine":
                    return True
        with self._lock:
            self._attempted = generation
            self.computed_generation = generation
            self._answers = {}
            self.failures = {}
            self.source = "computed"
        for name, text in self.matcher.queries.items():
            if self.closed:
                return False
            try:
                answers = self._compute(text, self.forms[name])
            except Exception as exc:  # noqa: BLE001 - a timeout, a store down, a query that fails
                with self._lock:
                    if self.computed_generation == generation:
                        self.failures[name] = f"{type(exc).__name__}: {exc}"
                log.warning("gallery query %s not precomputed: %s", name, exc)
                continue
            if self.generation() != generation:  # the store changed meanwhile: of no generation
                with self._lock:
                    if self.computed_generation == generation:
                        self._answers, self.computed_generation, self._attempted = {}, None, None
                self._shared_call("abandon", run)
                return False
            with self._lock:
                if self.computed_generation != generation:
                    return False
                for media, answer in answers.items():
                    self._answers[(name, media)] = answer
            for media, answer in answers.items():
                self._shared_call("put", run, name, media, answer[0], answer[1])
        self._shared_call("finish", run, dict(self.failures))
        self.seconds = time.perf_counter() - started
        return True

    def _shared_state(self, run: str, generation: int) -> str | None:
        """Claim ``run`` in the shared file: ``mine`` to compute it; ``done`` once its answers are
        read from the file (another process computed them, now or before a restart); None when the
        store changed while waiting for the process computing it."""
        state = self.shared.claim(run)
        while state == "theirs":
            if self.closed or self.generation() != generation:
                return None
            time.sleep(0.5)
            state = self.shared.claim(run)
        if state == "mine":
            return state
        loaded = self.shared.load(run)
        if loaded is None:
            return None
        with self._lock:
            self._answers, self.failures = loaded
            self._attempted = self.computed_generation = generation
            self.source = "shared"
        return state

    def _shared_call(self, method: str, *args) -> None:
        if self.shared is None:
            return
        try:
            getattr(self.shared, method)(*args)
        except Exception as exc:  # noqa: BLE001 - the table in memory still serves this process
            log.warning("the shared precomputed file %s cannot be written: %s", self.shared.path, exc)

    def _compute(self, text: str, form: str | None) -> dict[str, tuple[bytes, dict]]:
        """Every format's answer: one evaluation, the other formats written from its result."""
        wanted = media_for(form)
        first, *others = wanted
        body, info = self.evaluate(text, first, self.timeout)
        out = {first: (bytes(body), dict(info))}
        for media in others:
            derived = None if info.get("truncated") else self._derive(body, first, media, info)
            out[media] = derived if derived is not None else self.evaluate(text, media, self.timeout)
        return out

    def _derive(self, body: bytes, first: str, media: str, info: dict) -> tuple[bytes, dict] | None:
        caps = formats.Caps(*self.caps)
        output = io.BytesIO()
        if first in formats.GRAPH:
            triples = (ox.Triple(q.subject, q.predicate, q.object)
                       for q in ox.parse(body, formats.GRAPH[first]))
            formats.write_triples(triples, media, output, caps, self.output_prefixes)
        else:
            results = ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON)
            if isinstance(results, ox.QueryBoolean):
                formats.write_boolean(bool(results), formats.BOOLEAN[media], output)
            else:
                formats.write_solutions(results, formats.TABULAR[media], output, caps)
        data = output.getvalue()
        return data, {**info, "rows": caps.rows, "truncated": caps.truncated, "bytes": len(data)}

    def watch(self, every: float = 5.0) -> threading.Thread:
        """Keep the table of the store's current generation from now on (``dsikb serve``): refresh
        at once, then whenever the generation has changed, checked every ``every`` seconds (a write
        by this process, another process or, on a remote store, another machine)."""
        def loop():
            while not self.closed:
                try:
                    if self.generation() != self._attempted:
                        self.refresh()
                except Exception as exc:  # noqa: BLE001 - e.g. the remote store is down: next round
                    log.warning("precomputing the gallery failed: %s: %s", type(exc).__name__, exc)
                time.sleep(every)

        thread = threading.Thread(target=loop, daemon=True, name="dsikb-precompute-watch")
        thread.start()
        return thread

    def close(self) -> None:
        self.closed = True
        if self.shared is not None:
            self.shared.close()
