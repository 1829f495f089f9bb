"""``/sparql``: the SPARQL 1.1 Protocol endpoint (query by GET and both POST forms, update with a
bearer token), its Service Description, and the YASGUI editor for browsers.

Safety first: SERVICE/LOAD are refused before evaluation, queries run in worker processes that are
stopped at the timeout, results are capped in rows and bytes. Fair use (endpoint/ratelimit.py): SPARQL
holds a bounded share of the server's threads, one client a bounded share of the workers, and each
client a budget of evaluation seconds; a full endpoint answers 503/429 at once with Retry-After.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time

from flask import Blueprint, Flask, Response, current_app, request

from endpoint import ratelimit
from endpoint import sparql_protocol as protocol
from endpoint.negotiation import negotiate, vary_accept
from endpoint.sparql_editor import editor, examples
from endpoint.state import get_kb, get_settings
from kb.store import publicview
from kb.errors import BadRequest, Forbidden, KBError, NotAcceptable
from kb.sparql import description, formats, lanes, precomputed, products, safety, syntax, using
from kb.sparql.cache import ResultCache
from kb.sparql.inline import InlineLane, ReadOnlyStore, eligible
from kb.sparql.pool import Busy, InlinePool, Lanes, WorkerPool

bp = Blueprint("sparql", __name__)
METHODS = ["GET", "POST", "OPTIONS", "PUT", "DELETE", "PATCH"]
CACHE_CONTROL = "public, max-age=60"
CACHE_ENTRIES = 256  # complete results of up to 1 MB kept for repeated queries
# Lookups evaluated in the web process at once (kb/sparql/inline.py); 0, the default, turns the
# inline lane off: measured, it answered one lookup at a time faster but 8 clients slower than the
# worker lanes (GIL hand-offs per row; docs/decisions/2026-12-01-query-evaluation.md)
INLINE_SLOTS = int(os.environ.get("DSIKB_INLINE_SLOTS", "0") or 0)


class SparqlService:
    """Per-app state of the endpoint: worker pool, result cache, fair-use limits, update token hash."""

    def __init__(self, kb, settings):
        self.kb = kb
        self.settings = settings
        self.allowlist = safety.parse_allowlist(settings.service_allowlist)
        path = getattr(kb, "path", None)
        light = getattr(settings, "light_workers", 0)
        if path is not None and not getattr(settings, "store_is_remote", False) and light > 0:
            # light lookups get workers of their own (kb/sparql/lanes.py): never behind heavy queries
            self.pool = Lanes(str(path), settings.query_workers, light, lambda: kb.generation,
                              isolate=not self.allowlist, light_seconds=settings.light_seconds)
        elif path is not None and not getattr(settings, "store_is_remote", False):
            self.pool = WorkerPool(str(path), settings.query_workers, lambda: kb.generation,
                                   isolate=not self.allowlist)
        else:
            self.pool = InlinePool(kb.raw_query)
        # the lightest lookups in this process, no worker (kb/sparql/inline.py); only beside light lanes
        self.inline = (InlineLane(ReadOnlyStore(str(path), lambda: kb.generation).query, INLINE_SLOTS,
                                  settings.light_seconds)
                       if isinstance(self.pool, Lanes) and INLINE_SLOTS > 0 else None)
        self.cache = ResultCache(CACHE_ENTRIES)
        self.token_hash = (hashlib.sha256(settings.update_token.encode()).digest()
                           if settings.update_token else None)
        self.budget = ratelimit.Budget(
            settings.rate_limit / 60, settings.rate_burst,
            f"budget of {settings.rate_limit:g} s of query evaluation a minute (DSIKB_RATE_LIMIT; "
            f"at most {settings.rate_burst:g} s at once, DSIKB_RATE_BURST)")
        self.gate = ratelimit.Gate(settings.sparql_threads, self.client_cap(), settings.queue_wait)
        self._update_lock = threading.Lock()
        self._sd_cache: tuple | None = None
        self.gallery_checks: dict = {}  # gallery text -> its safety check (the same every time)
        self.precomputed = (precomputed.Precomputed(
            {ex.name: ex.query for ex in examples()}, evaluate=self.evaluate_gallery,
            generation=lambda: kb.generation, timeout=settings.query_timeout,
            caps=(settings.max_rows, settings.max_response_bytes), prefixes=kb.names.prefixes(),
            output_prefixes=kb.names.prefixes(), path=_table_path(kb),
            modified=lambda: kb.modified) if settings.precompute else None)

    def close(self) -> None:
        if self.precomputed is not None:
            self.precomputed.close()
        self.pool.close()

    def spare_worker(self) -> bool:
        """Whether background work may take a heavy worker now: the pool was started (by a request,
        or by ``dsikb serve`` before it listens: starting it here would make the first requests
        wait for workers being spawned, and answer 503) and two are idle (one stays for the next
        request; with one worker, that one). Stores evaluated in threads always may."""
        heavy = getattr(self.pool, "heavy", self.pool)
        idle = getattr(heavy, "_idle", None)
        if idle is None:
            return True
        return bool(getattr(heavy, "_started", False)) and idle.qsize() >= min(2, heavy.size)

    def evaluate_gallery(self, text: str, media: str, timeout: float) -> tuple[bytes, dict]:
        """A gallery query evaluated as a request without dataset parameters would be, on the heavy
        lane (or the remote store), with the query timeout; raises on an error or a timeout."""
        found = safety.check(text, allowlist=self.allowlist, prefixes=self.kb.names.prefixes())
        job = make_job(self.kb, self.settings, text, media, found)
        syntax.check(text, prefixes=job["prefixes"])
        job["parsed"], job["services"] = True, found.services
        # Only a spare heavy worker, never a place in the queue: a request waiting for a worker
        # gets the next one first; the table waits.
        deadline = time.monotonic() + max(60.0, 10 * timeout)
        while True:
            try:
                if not self.spare_worker():
                    raise Busy("no spare worker")
                execution = self.pool.submit(job, timeout, wait=0, light=False)
                break
            except Busy:
                if self.precomputed is None or self.precomputed.closed or time.monotonic() > deadline:
                    raise
                time.sleep(0.25)
        try:
            first = execution.next()
            if first[0] == "error":
                raise KBError(first[2], status=first[1])
            if first[0] == "all":
                return first[1], first[2]
            body = bytearray(first[1])
            while True:
                message = execution.next()
                if message[0] == "error":
                    raise KBError(message[2], status=message[1])
                if message[0] == "end":
                    return bytes(body), message[1]
                body += message[1]
        finally:
            execution.close()

    def client_cap(self) -> int:
        """Queries one client may run at once: ``DSIKB_CLIENT_QUERIES``, but never every worker, so
        one client cannot make all others wait (with one worker: one query)."""
        cap = self.settings.client_queries
        size = getattr(self.pool, "size", None)
        if size is None or cap <= 0:
            return cap
        return min(cap, max(1, size - 1))

    def token_ok(self, given: str) -> bool:
        if self.token_hash is None:
            return False
        return hmac.compare_digest(hashlib.sha256(given.encode()).digest(), self.token_hash)

    def store_figures(self) -> tuple[int, list[str]]:
        """(triples, named graphs) for the service description, once per generation."""
        generation = self.kb.generation
        if self._sd_cache is None or self._sd_cache[0] != generation:
            self._sd_cache = (generation, publicview.size(self.kb), self.kb.named_graphs())
        return self._sd_cache[1], self._sd_cache[2]


def _table_path(kb):
    """The precomputed gallery's file, shared by the store's app processes: beside the submission
    queue (one per store; None for a store in memory, whose table stays in the process)."""
    from kb.contribute.queue import SubmissionStore

    queue = SubmissionStore.for_kb(kb).path
    return None if queue is None else queue.with_name(queue.name + ".precomputed.sqlite")


def service() -> SparqlService:
    return current_app.extensions["dsikb_sparql"]


def init_app(app: Flask) -> None:
    ratelimit.init_app(app)
    app.extensions["dsikb_sparql"] = SparqlService(app.extensions["dsikb"], app.config["DSIKB_SETTINGS"])


def close(app: Flask) -> None:
    """Stop the app's query workers (tests call this; an exiting interpreter does it anyway)."""
    svc = app.extensions.get("dsikb_sparql")
    if svc is not None:
        svc.close()


@bp.after_request
def _cors_and_vary(response: Response) -> Response:
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers.setdefault("Access-Control-Expose-Headers",
                                "ETag, Retry-After, X-SPARQL-Rows, X-SPARQL-Truncated, X-SPARQL-Cache, "
                                "X-SPARQL-Lane, X-SPARQL-Precomputed")
    return vary_accept(response)


@bp.route("/sparql", methods=METHODS)
@bp.route("/sparql/", methods=METHODS)
def sparql():
    if request.method == "OPTIONS":
        return _preflight()
    if request.method not in ("GET", "HEAD", "POST"):
        return Response(f"405 Method Not Allowed: {request.method} is not part of the SPARQL protocol; "
                        "use GET or POST\n", 405, {"Allow": "GET, POST, OPTIONS",
                                                   "Content-Type": "text/plain; charset=utf-8"})
    settings = get_settings()
    op = protocol.parse(request, max_length=settings.max_query_length)
    if op.kind is None:
        if protocol.html_preferred(request, list(description.DESCRIPTION_TYPES)):
            return editor()
        return _service_description(op.format)
    if (op.kind == "query" and request.method != "POST" and op.format is None
            and protocol.html_preferred(request, formats.ANSWERS)):
        return editor(op.text)
    if op.kind == "update":
        return _update(op)
    return _query(op)


def _preflight() -> Response:
    return Response(status=204, headers={
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": "Accept, Content-Type, Authorization, If-None-Match",
        "Access-Control-Max-Age": "86400",
        "Allow": "GET, POST, OPTIONS",
    })


def _choose_media(form: str | None, values: list[str]) -> str:
    form = form or "SELECT"
    chosen = formats.from_parameters(form, values, accept_given=bool(request.headers.get("Accept")))
    if chosen is not None:
        return chosen
    offered = formats.offers(form)
    alias = formats.aliases(form)
    best = negotiate(offered + [a for a in alias if a not in offered], default=offered[0])
    return alias.get(best, best)


def _query(op: protocol.Operation) -> Response:
    svc, settings, kb = service(), get_settings(), get_kb()
    found = svc.gallery_checks.get(op.text)  # the gallery's texts are checked once, not per request
    if found is None:
        found = safety.check(op.text, allowlist=svc.allowlist, prefixes=kb.names.prefixes())
        if svc.precomputed is not None and op.text in svc.precomputed.matcher.texts:
            svc.gallery_checks[op.text] = found
    if found.is_update:
        raise BadRequest("this is a SPARQL Update, not a query: send it by POST as "
                         "application/sparql-update (or update= in a form), with the bearer token")
    media = _choose_media(found.form, op.formats)
    generation = kb.generation
    # the base URL's parts, not request.base_url: that one re-encodes the URL each time (~0.1 ms)
    key = (media, request.scheme, request.host, request.root_path, request.path, op.text,
           tuple(op.default_graphs or ()), tuple(op.named_graphs or ()),
           op.default_graphs is None, op.named_graphs is None)
    headers = {"Content-Type": formats.content_type(media)}
    if request.method != "POST":
        digest = hashlib.sha256(repr(key).encode()).hexdigest()[:24]
        headers["ETag"] = f'"g{generation}-{digest}"'
        headers["Cache-Control"] = CACHE_CONTROL
        if request.if_none_match.contains(headers["ETag"][1:-1]):
            return Response(status=304, headers={k: v for k, v in headers.items() if k != "Content-Type"})
    table = svc.precomputed
    if (table is not None and op.default_graphs is None and op.named_graphs is None
            and not found.relative_iris):
        answer = table.lookup(op.text, media, generation)  # the gallery (kb/sparql/precomputed.py)
        if answer is not None:
            return Response(answer[0], 200, {**headers, **_info_headers(answer[1]),
                                             precomputed.HEADER: f"generation {generation}"})
    cached = svc.cache.get(key, generation)
    if cached is not None:
        body, info = cached
        return Response(body, 200, {**headers, **_info_headers(info), "X-SPARQL-Cache": "hit"})
    job = make_job(kb, settings, op.text, media, found,
                   base_iri=request.base_url if found.relative_iris else None,
                   default_graphs=op.default_graphs, named_graphs=op.named_graphs)
    # Parsed here, on every backend, before a store sees it: a syntax error reads the same (line and
    # column of the text sent) whichever store is behind, and a remote store's refusal of a query
    # that parses is not mistaken for one (kb/sparql/evaluate.py, refused).
    syntax.check(op.text, prefixes=job["prefixes"], base_iri=job["base_iri"])
    if settings.store_is_remote and op.text not in svc.gallery_checks:
        # a remote engine may not stop a cross product at its timeout (kb/sparql/products.py)
        products.check_once(op.text, found, job["prefixes"])
    job["parsed"], job["services"] = True, found.services
    light = lanes.classify(found) == lanes.LIGHT
    answer = _inline(svc, job) if light and svc.inline is not None and eligible(op.text) else None
    if answer is not None:
        svc.cache.put(key, generation, answer[1], answer[2])
        return Response(answer[1], 200, {**headers, **_info_headers(answer[2]), "X-SPARQL-Lane": "inline"})
    execution = _run(svc, settings, job, light=light)
    first = execution.next()
    headers["X-SPARQL-Lane"] = execution.lane
    if first[0] == "error":
        execution.close()
        raise KBError(first[2], status=first[1])
    if first[0] == "all":
        execution.close()
        body, info = first[1], first[2]
        svc.cache.put(key, generation, body, info)
        return Response(body, 200, {**headers, **_info_headers(info)})

    def stream():
        try:
            yield first[1]
            yield from execution.chunks()
        finally:
            execution.close()

    response = Response(stream(), 200, headers)
    response.call_on_close(execution.close)  # also when the body is never iterated (client gone)
    return response


def make_job(kb, settings, text: str, media: str, found, *, base_iri: str | None = None,
             default_graphs: list[str] | None = None, named_graphs: list[str] | None = None) -> dict:
    """What a worker evaluates for a query (kb/sparql/evaluate.py): the request's and, for the
    precomputed gallery, a gallery query's (no protocol dataset, no base IRI)."""
    # Only what the query needs: pyoxigraph plans some queries slower when given unused prefixes.
    prefixes = kb.names.prefixes()
    job = {"query": text, "media": media,
           "output_prefixes": prefixes if media in formats.GRAPH else None,
           "prefixes": {p: ns for p, ns in prefixes.items() if p in found.undeclared} or None,
           "base_iri": base_iri,
           "max_rows": settings.max_rows, "max_bytes": settings.max_response_bytes,
           "has_dataset": found.has_dataset, "default_graph": default_graphs,
           "union": publicview.union_default(kb),
           "named_graphs": named_graphs}
    if default_graphs is not None or named_graphs is not None:
        job["default_graph"] = default_graphs or []
        job["named_graphs"] = named_graphs or []
    return job


def _run(svc: SparqlService, settings, job: dict, light: bool = False):
    """Admit the client (budget, its share of workers, SPARQL's share of threads), then start the
    query; the execution charges its cost to the client and frees the slots when it closes."""
    client = ratelimit.client_id()
    svc.budget.check(client)
    svc.gate.enter(client)
    try:
        execution = svc.pool.submit(job, settings.query_timeout, wait=settings.queue_wait, light=light)
    except Busy as exc:
        svc.gate.leave(client)
        raise ratelimit.Refused(503, exc.message, 2) from None
    except BaseException:
        svc.gate.leave(client)
        raise

    execution.on_finish = lambda ex: svc.budget.charge(client, ex.cost)
    execution.on_close = lambda ex: svc.gate.leave(client)  # when the pool has the worker back
    return execution


def _inline(svc: SparqlService, job: dict) -> tuple | None:
    """The lookup evaluated in this process (kb/sparql/inline.py), admitted and charged like any
    query; None when the inline lane did not answer it (the worker lanes then do)."""
    client = ratelimit.client_id()
    svc.budget.check(client)
    svc.gate.enter(client)
    try:
        answer = svc.inline.run(job)
    finally:
        svc.gate.leave(client)
    if answer is not None:
        svc.budget.charge(client, answer[2]["seconds"])
    return answer


def _info_headers(info: dict) -> dict:
    out = {"X-SPARQL-Rows": str(info.get("rows", 0))}
    if "seconds" in info:  # evaluation and serialisation time in the worker (Server-Timing, ms)
        out["Server-Timing"] = f"eval;dur={info['seconds'] * 1000:.1f}"
    if info.get("truncated"):
        out["X-SPARQL-Truncated"] = info["truncated"]
    return out


def _update(op: protocol.Operation) -> Response:
    svc, kb = service(), get_kb()
    if svc.token_hash is None or not hasattr(kb, "update"):
        raise Forbidden("this endpoint is read-only: SPARQL Update is off (the operator enables it "
                        "by setting DSIKB_UPDATE_TOKEN)")
    auth = request.headers.get("Authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not svc.token_ok(token.strip()):
        raise KBError("SPARQL Update needs the operator's token: send Authorization: Bearer <token>",
                      status=401, headers={"WWW-Authenticate": 'Bearer realm="dsikb sparql"'})
    found = safety.check(op.text, allowlist=svc.allowlist, prefixes=kb.names.prefixes())
    if found.form is not None and not found.is_update:
        raise BadRequest("this is a query, not an update: send it as a query")
    text = op.text
    if op.using_graphs or op.using_named_graphs:
        text = using.apply(text, op.using_graphs or [], op.using_named_graphs or [])
    with svc._update_lock:
        try:
            kb.update(text, base_iri=request.base_url)
        except SyntaxError as exc:
            raise BadRequest(f"SPARQL Update syntax error: {exc}") from None
    return Response(status=204)


def _service_description(fmt: str | None = None) -> Response:
    svc, kb = service(), get_kb()
    offered = list(description.DESCRIPTION_TYPES)
    if fmt is not None:
        media = formats.SHORT_NAMES.get(fmt.lower(), fmt.lower())
        if media not in offered:
            raise NotAcceptable(f"format={fmt} is not offered for the service description. Offered: "
                                + ", ".join(offered))
    else:
        media = negotiate(offered, default="text/turtle")
    triples, graphs = svc.store_figures()
    endpoint = request.base_url
    sd = description.description(endpoint, triples=triples, graphs=graphs, dataset=kb.names.dataset,
                                 update=svc.token_hash is not None, federated=bool(svc.allowlist))
    body = description.serialise(sd, media)
    return Response(body, 200, {"Content-Type": formats.content_type(media),
                                "Cache-Control": CACHE_CONTROL})
