"""A remote SPARQL 1.1 store (``DSIKB_STORE=sparql+http(s)://host/path``) behind the same reading
interface as :class:`kb.store.KB`: query/select/ask/named_graphs/triple_count/generation.

Queries go out by the SPARQL 1.1 Protocol (direct POST); results come back as SPARQL JSON or
N-Triples and are parsed by pyoxigraph, so callers get the same term objects as from a local store.
The union default graph is asked for with Oxigraph's ``union-default-graph`` parameter (other
servers ignore it: configure them to use the union as default graph). Read-only: no ``update``.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pyoxigraph as ox

from kb.errors import KBError
from kb.graphs import Graphs
from kb.namespaces import names as _names
from kb.settings import Settings
from kb.terms import bindings, inline_bindings

GENERATION_TTL = 30.0  # seconds a remote "generation" (a fingerprint of the store) is reused
ACCEPT = "application/sparql-results+json, application/n-triples;q=0.9"


class RemoteStore:
    """The remote endpoint, with ``query()`` taking the arguments of ``pyoxigraph.Store.query``."""

    def __init__(self, url: str, *, timeout: float, user_agent: str, max_bytes: int):
        self.url = url
        self.timeout = timeout
        self.user_agent = user_agent
        self.max_bytes = max_bytes

    def query(self, query: str, *, prefixes: dict[str, str] | None = None, base_iri: str | None = None,
              use_default_graph_as_union: bool = False, default_graph=None, named_graphs=None,
              substitutions=None, **_ignored):
        # the protocol has no bindings: bound terms travel as a VALUES block written by kb.terms
        text = inline_bindings(query, {v.value: t for v, t in (substitutions or {}).items()})
        if prefixes:
            text = "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in prefixes.items()) + text
        if base_iri:
            text = f"BASE <{base_iri}>\n" + text
        params: list[tuple[str, str]] = []
        if default_graph is not None or named_graphs is not None:
            for g in _as_list(default_graph):
                params.append(("default-graph-uri", g.value))
            for g in _as_list(named_graphs):
                params.append(("named-graph-uri", g.value))
            if default_graph is not None and not _as_list(default_graph):
                # an explicitly empty default graph: name one that cannot exist
                params.append(("default-graph-uri", "urn:dsikb:empty"))
        elif use_default_graph_as_union:
            params.append(("union-default-graph", ""))
        url = self.url + ("&" if "?" in self.url else "?") + urllib.parse.urlencode(params) if params else self.url
        request = urllib.request.Request(url, data=text.encode("utf-8"), method="POST", headers={
            "Content-Type": "application/sparql-query; charset=utf-8", "Accept": ACCEPT,
            "User-Agent": self.user_agent})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                media = response.headers.get_content_type()
                body = response.read(self.max_bytes + 1)
        except urllib.error.HTTPError as exc:
            with exc:
                message = exc.read(2000).decode("utf-8", "replace").strip()
            if exc.code == 400:
                raise SyntaxError(f"the remote store refused the query: {message}") from None
            raise KBError(f"the remote store {self.url} answered {exc.code}: {message}", status=502) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise KBError(f"the remote store {self.url} cannot be reached: {exc}", status=502) from None
        if len(body) > self.max_bytes:
            raise KBError(f"the remote store's answer is larger than {self.max_bytes} bytes "
                          "(DSIKB_MAX_RESPONSE_BYTES)", status=502)
        if media == "application/sparql-results+json":
            return ox.parse_query_results(body, ox.QueryResultsFormat.JSON)
        if media == "application/sparql-results+xml":
            return ox.parse_query_results(body, ox.QueryResultsFormat.XML)
        formats = {"application/n-triples": ox.RdfFormat.N_TRIPLES, "text/turtle": ox.RdfFormat.TURTLE,
                   "application/rdf+xml": ox.RdfFormat.RDF_XML, "text/plain": ox.RdfFormat.N_TRIPLES}
        if media in formats:
            return [ox.Triple(q.subject, q.predicate, q.object) for q in ox.parse(body, formats[media])]
        raise KBError(f"the remote store answered with an unexpected type {media}", status=502)


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


class RemoteKB:
    """A knowledge base whose triples live in a remote SPARQL 1.1 store (read-only)."""

    path = None

    def __init__(self, settings: Settings):
        if not settings.store_is_remote:
            raise KBError(f"not a remote store URL: {settings.store!r} (use sparql+http(s)://...)")
        self.settings = settings
        self.url = settings.store[len("sparql+"):]
        self.names = _names(settings.base_uri)
        self.graphs = Graphs(self.names)
        self.store = RemoteStore(self.url, timeout=settings.query_timeout, user_agent=settings.user_agent,
                                 max_bytes=settings.max_response_bytes)
        self._generation: tuple[float, int] | None = None
        self._lock = threading.Lock()

    def query(self, sparql: str, *, union: bool = True, prologue: bool = True, bind: dict | None = None,
              **kwargs):
        """Run a SPARQL query remotely; the project's prefixes are declared; default graph = union.
        ``bind={"e": term}`` as for a local store (see RemoteStore.query)."""
        if bind:
            kwargs["substitutions"] = bindings(bind)
        return self.store.query(sparql, prefixes=self.names.prefixes() if prologue else None,
                                use_default_graph_as_union=union, **kwargs)

    def select(self, sparql: str, **kwargs) -> list[dict]:
        results = self.query(sparql, **kwargs)
        names = [v.value for v in results.variables]
        return [{n: s[n] for n in names if s[n] is not None} for s in results]

    def ask(self, sparql: str, **kwargs) -> bool:
        return bool(self.query(sparql, **kwargs))

    def named_graphs(self) -> list[str]:
        rows = self.select("SELECT DISTINCT ?g WHERE { GRAPH ?g { } }", union=False)
        return sorted(r["g"].value for r in rows if isinstance(r.get("g"), ox.NamedNode))

    def triple_count(self, graph: str | None = None) -> int:
        if graph:  # grouped so that ?g can be bound: an empty graph gives no row
            rows = self.select("SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g",
                               union=False, bind={"g": ox.NamedNode(graph)})
        else:
            rows = self.select("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }", union=False)
        return int(rows[0]["n"].value) if rows else 0

    @property
    def generation(self) -> int:
        """A fingerprint of the remote content (its triple count), refreshed every 30 s: a remote
        store has no write counter we could read, and ETags/caches need something that changes."""
        with self._lock:
            now = time.monotonic()
            if self._generation is None or now - self._generation[0] > GENERATION_TTL:
                self._generation = (now, self.triple_count())
            return self._generation[1]

    @property
    def modified(self) -> str | None:
        return None

    def flush(self) -> None:
        pass
