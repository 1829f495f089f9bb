"""Fair use: who the client is, how much it may use, and the answer when it has used enough.

- ``client_address``: the peer's address; ``X-Forwarded-For`` counts only when the peer is one of
  ``DSIKB_TRUSTED_PROXIES`` (and then only the right-most hop that is not a trusted proxy).
- ``Budget``: a token bucket per client charged by *cost* (seconds of query evaluation, or one per
  submission), so many cheap requests pass while a few expensive ones are throttled.
- ``Gate``: how many request threads SPARQL may hold in all, and how many queries one client may run.
- ``Refused``: the 429/503 answer with ``Retry-After``, as JSON or text for whoever asked.
See docs/sparql.md, "Fair use and limits".
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from functools import wraps

from flask import Flask, current_app, jsonify, make_response, request

from kb.errors import KBError

JSON_TYPES = ("application/json", "application/sparql-results+json")
IDLE_CLIENTS = 10_000  # beyond this many tracked clients, forget those whose bucket is full again


class Refused(KBError):
    """A request turned away for capacity or fair use; carries when to retry (seconds)."""

    def __init__(self, status: int, message: str, retry_after: float):
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(message, status=status, headers={"Retry-After": str(self.retry_after)})


# -- who is the client ---------------------------------------------------------------------------
def parse_networks(text: str) -> list:
    """Space-separated addresses or CIDR networks (``DSIKB_TRUSTED_PROXIES``)."""
    networks = []
    for item in text.split():
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"DSIKB_TRUSTED_PROXIES: {item!r} is neither an IP address nor a "
                             "CIDR network (e.g. 10.0.0.1 or 10.0.0.0/8)") from None
    return networks


def _trusted(address: str, networks: list) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(peer: str | None, forwarded: str | None, trusted: list) -> str:
    """The client's address: ``peer``, or, when ``peer`` is a trusted proxy, the right-most
    ``X-Forwarded-For`` entry that is not a trusted proxy (entries further left are claims the
    client made itself). A malformed entry stops the walk at the last trusted hop."""
    client = peer or "unknown"
    if not forwarded or not _trusted(client, trusted):
        return client
    for hop in reversed([h.strip() for h in forwarded.split(",")]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return client
        client = hop
        if not _trusted(hop, trusted):
            return hop
    return client


def client_id() -> str:
    """The current request's client address (see ``client_address``)."""
    limits = current_app.extensions.get("dsikb_limits")
    trusted = limits.trusted if limits is not None else []
    return client_address(request.remote_addr, request.headers.get("X-Forwarded-For"), trusted)


# -- how much it may use -------------------------------------------------------------------------
class Budget:
    """Token buckets keyed by client: ``capacity`` tokens, refilled at ``rate`` tokens a second.
    ``check`` refuses a client in debt (tokens <= 0); ``charge`` takes the measured cost afterwards,
    so a bucket may go below zero and the client waits until it has refilled past zero."""

    def __init__(self, rate: float, capacity: float, what: str):
        self.rate, self.capacity, self.what = rate, max(capacity, 0.0), what
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def _level(self, client: str, now: float) -> float:
        tokens, at = self._buckets.get(client, (self.capacity, now))
        return min(self.capacity, tokens + (now - at) * self.rate)

    def check(self, client: str, need: float = 0.0) -> None:
        """Refuse (429) a client with no more than ``need`` tokens left."""
        if not self.enabled:
            return
        with self._lock:
            tokens = self._level(client, time.monotonic())
        if tokens <= need:
            wait = (need - tokens) / self.rate + 0.001
            raise Refused(429, f"{client} has used its {self.what}; retry in {math.ceil(wait)} s",
                          wait)

    def charge(self, client: str, cost: float) -> None:
        if not self.enabled or cost <= 0:
            return
        with self._lock:
            now = time.monotonic()
            self._buckets[client] = (self._level(client, now) - cost, now)
            if len(self._buckets) > IDLE_CLIENTS:
                full = [k for k in self._buckets if self._level(k, now) >= self.capacity]
                for key in full:
                    del self._buckets[key]

    def take(self, client: str, cost: float = 1.0) -> None:
        """``check`` then ``charge`` in one step, for requests whose cost is known up front."""
        self.check(client, need=cost - 1e-9)
        self.charge(client, cost)


class Gate:
    """At most ``total`` requests in SPARQL evaluation at once (503 beyond, at once), and at most
    ``per_client`` queries running per client; a client's next query waits up to ``wait`` seconds
    for one of its own to end (as many may wait as may run), then gets 429."""

    def __init__(self, total: int, per_client: int, wait: float):
        self.total, self.per_client, self.wait = total, per_client, wait
        self._cond = threading.Condition()
        self._held = 0
        self._running: dict[str, int] = {}
        self._waiting: dict[str, int] = {}

    def enter(self, client: str) -> None:
        with self._cond:
            if self.total > 0 and self._held >= self.total:
                raise Refused(503, f"the SPARQL endpoint is serving {self._held} queries, its most "
                                   "(DSIKB_SPARQL_THREADS); retry shortly", 2)
            if self.per_client > 0 and self._running.get(client, 0) >= self.per_client:
                self._wait_for_turn(client)
            self._held += 1
            self._running[client] = self._running.get(client, 0) + 1

    def _wait_for_turn(self, client: str) -> None:
        refused = Refused(429, f"{client} already has {self.per_client} SPARQL queries running, the "
                               "most one client may run at once (DSIKB_CLIENT_QUERIES); send the "
                               "next one when one of them has answered", 1)
        if self._waiting.get(client, 0) >= self.per_client:
            raise refused
        self._held += 1  # a waiting request holds a server thread too
        self._waiting[client] = self._waiting.get(client, 0) + 1
        deadline = time.monotonic() + self.wait
        try:
            while self._running.get(client, 0) >= self.per_client:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise refused
                self._cond.wait(remaining)
        finally:
            self._held -= 1
            self._waiting[client] -= 1
            if not self._waiting[client]:
                del self._waiting[client]

    def leave(self, client: str) -> None:
        with self._cond:
            self._held -= 1
            self._running[client] -= 1
            if not self._running[client]:
                del self._running[client]
            self._cond.notify_all()


# -- the answer ----------------------------------------------------------------------------------
def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/plain", "text/html", *JSON_TYPES])
    return best in JSON_TYPES or request.path.startswith("/api/")


class Limits:
    """Per-app state: trusted proxies and the submission budget."""

    def __init__(self, settings):
        self.trusted = parse_networks(settings.trusted_proxies)
        per_hour = settings.submission_rate_limit
        self.submissions = Budget(per_hour / 3600, per_hour, f"{per_hour} submissions an hour "
                                  "(DSIKB_SUBMISSION_RATE_LIMIT)")


def init_app(app: Flask) -> None:
    if "dsikb_limits" in app.extensions:
        return
    app.extensions["dsikb_limits"] = Limits(app.config["DSIKB_SETTINGS"])

    @app.errorhandler(Refused)
    def refused(exc: Refused):
        from endpoint.errors import TITLES, _render

        title = TITLES.get(exc.status, "Error")
        if not _wants_json():
            return _render(exc.status, title, exc.message, exc.headers)
        response = make_response(jsonify({"status": exc.status, "error": title, "message": exc.message,
                                          "retryAfter": exc.retry_after}), exc.status)
        response.headers.update(exc.headers)
        return response


def limit_submissions(view):
    """Decorator: one submission from the budget of the client's address (429 when used up)."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        current_app.extensions["dsikb_limits"].submissions.take(client_id())
        return view(*args, **kwargs)
    return wrapper
