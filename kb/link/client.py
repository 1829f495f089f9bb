"""A polite SPARQL client for other people's query services (the Wikidata Query Service first).

SPARQLWrapper sends the queries; this module adds what the services ask of robots: an identifying
User-Agent, a timeout on every request, bounded retries with backoff on 429 and 5xx that honour
``Retry-After``, and a check that the answer really is a SPARQL JSON result before it is used.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import math
import socket
import time
import urllib.error
from dataclasses import dataclass, field
from typing import Callable

from SPARQLWrapper import JSON, POST, SPARQLWrapper
from SPARQLWrapper.SPARQLExceptions import (EndPointInternalError, EndPointNotFound, QueryBadFormed,
                                            Unauthorized, URITooLong)

from kb.errors import KBError


class RemoteError(KBError):
    """The remote service failed for good (after the allowed retries, or with a non-retryable error)."""

    status = 502


@dataclass
class Term:
    """One value of a SPARQL JSON result: its lexical value, kind and language."""

    value: str
    kind: str = "literal"
    lang: str = ""


@dataclass
class SparqlClient:
    """Runs SELECT queries against ``endpoint`` with retries; ``sleep`` is injectable for tests."""

    endpoint: str
    user_agent: str
    timeout: float = 60.0
    max_attempts: int = 5
    backoff: float = 2.0
    max_wait: float = 300.0
    sleep: Callable[[float], None] = time.sleep
    log: Callable[[str], None] = lambda message: None
    requests: int = field(default=0, init=False)
    retries: int = field(default=0, init=False)

    def select(self, query: str) -> list[dict[str, Term]]:
        """Rows of a SELECT (variable -> Term, unbound variables absent)."""
        last = ""
        for attempt in range(1, self.max_attempts + 1):
            wait = None
            try:
                return self._once(query)
            except urllib.error.HTTPError as exc:  # 429, 502, 503, 504 ... (SPARQLWrapper re-raises them)
                if exc.code != 429 and exc.code < 500:
                    raise RemoteError(f"{self.endpoint} answered {exc.code} {exc.reason}") from None
                last = f"HTTP {exc.code}"
                wait = retry_after(exc.headers.get("Retry-After") if exc.headers else None)
            except EndPointInternalError:
                last = "HTTP 500"
            except (QueryBadFormed, URITooLong) as exc:
                raise RemoteError(f"{self.endpoint} rejected the query: {_short(exc)}") from None
            except (EndPointNotFound, Unauthorized) as exc:
                raise RemoteError(f"{self.endpoint} is not a usable SPARQL endpoint: {_short(exc)}") from None
            except (urllib.error.URLError, TimeoutError, socket.timeout, ConnectionError,
                    http.client.HTTPException) as exc:
                reason = getattr(exc, "reason", exc)
                last = f"no answer ({reason})"
                if isinstance(reason, ConnectionRefusedError):
                    last = "connection refused"
            except MalformedResult as exc:
                last = f"malformed result ({exc})"
            if attempt == self.max_attempts:
                break
            delay = wait if wait is not None else self.backoff * 2 ** (attempt - 1)
            delay = min(delay, self.max_wait)
            self.retries += 1
            self.log(f"{self.endpoint}: {last}; retry {attempt}/{self.max_attempts - 1} in {delay:.1f} s")
            self.sleep(delay)
        raise RemoteError(f"{self.endpoint} failed {self.max_attempts} times, last: {last}")

    def _once(self, query: str) -> list[dict[str, Term]]:
        sw = SPARQLWrapper(self.endpoint, agent=self.user_agent)
        sw.setMethod(POST)
        sw.setReturnFormat(JSON)
        sw.setTimeout(max(1, math.ceil(self.timeout)))  # SPARQLWrapper keeps whole seconds only
        sw.setQuery(query)
        self.requests += 1
        result = sw.query()
        try:
            raw = result.response.read()
        finally:
            result.response.close()
        return parse_results(raw)


class MalformedResult(ValueError):
    """The body is not a SPARQL 1.1 JSON result."""


def parse_results(raw: bytes) -> list[dict[str, Term]]:
    """Rows of a SPARQL JSON result; anything else raises :class:`MalformedResult`."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedResult(f"not JSON: {exc}") from None
    bindings = data.get("results", {}).get("bindings") if isinstance(data, dict) else None
    if not isinstance(bindings, list):
        raise MalformedResult("no results.bindings list")
    rows = []
    for binding in bindings:
        if not isinstance(binding, dict):
            raise MalformedResult("a binding is not an object")
        row = {}
        for var, term in binding.items():
            if not isinstance(term, dict) or not isinstance(term.get("value"), str):
                raise MalformedResult(f"the value of ?{var} is not a term")
            row[var] = Term(term["value"], term.get("type", "literal"), term.get("xml:lang", ""))
        rows.append(row)
    return rows


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
