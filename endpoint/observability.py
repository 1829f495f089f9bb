"""What an operator watches: structured access logs, ``/readyz`` and Prometheus metrics at ``/metrics``.

- Access log: one JSON object a line on the ``dsikb.access`` logger (``dsikb serve`` sends it to
  standard error; ``DSIKB_ACCESS_LOG=text`` for Apache-like lines, ``off`` for none). Each request has
  an id (``X-Request-Id``, taken from the request when sane, else minted) echoed in the response.
- ``/metrics``: requests and latency per route (the URL rule, never the raw path, so the label set
  stays small), SPARQL query timeouts and rejected queries by reason, and, read at scrape time, the
  store's size and generation and the submissions waiting for a moderator. With several ``dsikb
  serve`` processes (``PROMETHEUS_MULTIPROC_DIR`` set) the figures are summed over processes.
- ``/readyz``: 200 when the store answers a query (with its generation and figures), 503 otherwise,
  so a load balancer sends no traffic to a process whose store is unreachable; ``/healthz`` says only
  that the process is alive.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from kb.errors import KBError, Timeout
from kb.publish.stats import PROBE_WAIT, stats

bp = Blueprint("observability", __name__)
access_log = logging.getLogger("dsikb.access")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """The app's metric objects, in a registry of its own (several apps may live in one process)."""

    def __init__(self, app: Flask):
        self.app = app
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("dsikb_http_requests", "HTTP requests answered, by route, method and status.",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("dsikb_http_request_duration_seconds",
                                 "Time to the response's first byte, by route.", ["route"], buckets=BUCKETS,
                                 registry=self.registry)
        self.timeouts = Counter("dsikb_sparql_query_timeouts", "SPARQL queries stopped at the query timeout.",
                                registry=self.registry)
        self.rejected = Counter("dsikb_sparql_rejected_queries",
                                "SPARQL requests refused before or instead of evaluation, by reason.",
                                ["reason"], registry=self.registry)
        self.registry.register(_StoreCollector(app))

    def exposition(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            registry.register(_StoreCollector(self.app))
            return generate_latest(registry)
        return generate_latest(self.registry)


class _StoreCollector:
    """Figures read when scraped: the store's size and generation, submissions pending."""

    def __init__(self, app: Flask):
        self.app = app

    def describe(self):
        return []

    def collect(self):
        kb = self.app.extensions.get("dsikb")
        if kb is None:
            return
        up = GaugeMetricFamily("dsikb_store_up", "1 when the store answered the last scrape's questions.")
        try:
            generation = kb.generation  # (asks a remote store)
            # counted once per generation, not per scrape; a scrape does not wait for a count
            triples = stats(kb, wait=PROBE_WAIT).get("quads")
        except Exception:  # noqa: BLE001 - a store that cannot answer is what this figure reports
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily("dsikb_store_generation", "The store's write generation.", value=generation)
        if triples is not None:  # none before the first count
            yield GaugeMetricFamily("dsikb_store_quads", "Quads in the store, all graphs (last counted).",
                                    value=triples)
        pending = _pending_submissions(kb)
        if pending is not None:
            yield GaugeMetricFamily("dsikb_submissions_pending", "Submissions waiting for a moderator.",
                                    value=pending)


def _pending_submissions(kb) -> int | None:
    from kb.contribute.queue import SubmissionStore

    try:
        subs = SubmissionStore.for_kb(kb)
        if not subs.exists:
            return 0
        return len(subs.list("pending", limit=1_000_000))
    except Exception:  # noqa: BLE001 - no queue (a read-only deployment): no figure
        return None


def _reason(exc: BaseException | None, status: int) -> str | None:
    """Why a SPARQL request was refused, for ``dsikb_sparql_rejected_queries``."""
    if status < 400 or status == 404:
        return None
    name = type(exc).__name__ if exc is not None else ""
    if name == "Busy" or status == 503 and not isinstance(exc, Timeout):
        return "busy"
    if status == 429:
        return "rate_limited"
    if status == 413:
        return "too_large"
    if status in (400, 403):
        return "refused"  # syntax, SERVICE/LOAD outside the allow-list, nesting, updates without a token
    if status in (406, 415):
        return "format"
    return None


def _route() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else "unmatched"


def init_app(app: Flask) -> None:
    metrics = Metrics(app)
    app.extensions["dsikb_metrics"] = metrics

    @app.before_request
    def _start():
        g.dsikb_started = time.perf_counter()
        given = request.headers.get("X-Request-Id", "")
        g.dsikb_request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex

    @app.after_request
    def _record(response: Response):
        started = g.get("dsikb_started")
        if started is None:
            return response
        elapsed = time.perf_counter() - started
        route = _route()
        metrics.requests.labels(route, request.method, str(response.status_code)).inc()
        metrics.latency.labels(route).observe(elapsed)
        if request.path == "/sparql":
            exc = g.get("dsikb_error")
            if isinstance(exc, Timeout) and type(exc).__name__ != "Busy":
                metrics.timeouts.inc()
            else:
                reason = _reason(exc, response.status_code)
                if reason:
                    metrics.rejected.labels(reason).inc()
        response.headers["X-Request-Id"] = g.dsikb_request_id
        _log(response, elapsed, route)
        return response


def _log(response: Response, elapsed: float, route: str) -> None:
    if not access_log.isEnabledFor(logging.INFO):
        return
    from endpoint.ratelimit import client_id

    try:
        client = client_id()
    except Exception:  # noqa: BLE001 - a log line must never fail a request
        client = request.remote_addr
    access_log.info("request", extra={"fields": {
        "method": request.method, "path": request.path, "query": request.query_string.decode("latin-1")[:500],
        "route": route, "status": response.status_code, "duration_ms": round(elapsed * 1000, 2),
        "bytes": response.calculate_content_length(), "client": client,
        "user_agent": request.headers.get("User-Agent", "")[:200], "request_id": g.dsikb_request_id}})


class JSONFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message and the record's ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
               "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        out.update(getattr(record, "fields", {}))
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        f = getattr(record, "fields", None)
        if not f:
            return super().format(record)
        return (f'{f["client"]} "{f["method"]} {f["path"]}" {f["status"]} {f["bytes"] or "-"} '
                f'{f["duration_ms"]}ms {f["request_id"]}')


def configure_logging(kind: str) -> None:
    """Send the app's logs to standard error: ``json`` (default), ``text`` or ``off`` (access log off)."""
    handler = logging.StreamHandler()
    handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s") if kind == "text"
                         else JSONFormatter())
    root = logging.getLogger("dsikb")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False
    access_log.disabled = kind == "off"


@bp.get("/metrics")
def metrics_view():
    body = current_app.extensions["dsikb_metrics"].exposition()
    return Response(body, headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})


@bp.get("/readyz")
def readyz():
    """Ready when the store answers: its generation and figures; 503 with the reason otherwise."""
    kb = current_app.extensions["dsikb"]
    started = time.perf_counter()
    try:
        kb.ask("ASK { ?s ?p ?o }")
        generation = kb.generation
        figures = stats(kb, wait=PROBE_WAIT)
    except KBError as exc:
        return _not_ready(exc.message)
    except OSError as exc:
        return _not_ready(f"the store cannot be read: {exc}")
    settings = current_app.config["DSIKB_SETTINGS"]
    shape = {"store": "remote" if settings.store_is_remote else "embedded", "pid": os.getpid()}
    if not settings.store_is_remote:
        shape["query_workers"] = settings.query_workers
    from kb.index import browse, search

    stamp = search.refresher.built(kb)
    built = {"lists": browse.refresher.built(kb), "search": search.stamp_generation(stamp) if stamp else None}
    return jsonify({"status": "ready", "generation": generation, "process": shape, "built": built,
                    "store_ms": round((time.perf_counter() - started) * 1000, 1), "store": figures}), 200, \
        {"Cache-Control": "no-store"}


def _not_ready(reason: str):
    return jsonify({"status": "unavailable", "reason": reason}), 503, {"Cache-Control": "no-store",
                                                                        "Retry-After": "5"}
