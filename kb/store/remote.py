"""A remote triple store (``DSIKB_STORE=sparql+http(s)://host:port``) behind the one store interface
(kb/store/base.py), readable and writable, spoken to by W3C standards only:

- SPARQL 1.1 Query and Update over the SPARQL 1.1 Protocol, always as a form-encoded POST
  (``application/x-www-form-urlencoded``: every store takes it; Virtuoso 7.2 never answers a direct
  POST of ``application/sparql-query``); results come back as SPARQL JSON or N-Triples and are
  parsed by pyoxigraph, so callers get the same term objects as from the embedded store;
- the SPARQL 1.1 Graph Store HTTP Protocol for whole graphs: POST of N-Triples to add (bulk), GET to
  dump (streamed). Without one (``DSIKB_STORE_GSP_URL=none``) loads go as ``INSERT DATA`` in chunks
  and dumps as ``CONSTRUCT``.

``sparql+http://host:7878`` (or the older ``.../query`` form) means Oxigraph server's ``/query``,
``/update`` and ``/store``; each URL and basic-auth credentials are settings (kb/settings.py).

The store's default graph holds the public view, kept by SPARQL Update exactly as in the embedded store
(kb/store/publicview.py), so SPARQL users get one deduplicated public default graph and never need the
union. The *generation* lives in the store itself: a triple in ``graph/tmp/state``, incremented by the
same update request (one transaction) as every write made through the app, and read with a 1 s TTL;
so every app process on one store shares it and none serves stale pages, indexes or ETags for longer.

Connection faults and 5xx answers are retried with backoff (bounded); when the store stays down a
:class:`kb.errors.KBError` with status 503 says so, and the next request after it is back just works.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
import weakref
from pathlib import Path
from typing import Iterable
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
import pyoxigraph as ox

from kb.errors import KBError
from kb.graphs import Graphs
from kb.namespaces import names as _names
from kb.settings import Settings
from kb.store.base import QUAD_FORMATS, Store, graph_node, rdf_format
from kb.store.sparql_text import declares_dataset, prologue, query_form, substitute
from kb.terms import inline_bindings, sparql_term

log = logging.getLogger(__name__)

WRITE_TIMEOUT = 600.0  # seconds an update or upload may take (a full rebuild of the public view is long)
GENERATION_TTL = 1.0  # seconds a generation read from the store is reused by this process
ATTEMPTS = 3  # tries of a request that met a connection error or a 5xx answer
BACKOFF = 0.25  # seconds before the second try; doubled for each further one
CHUNK = 20_000  # statements per request when loading without the Graph Store Protocol
RESULTS = "application/sparql-results+json"
FORM = "application/x-www-form-urlencoded"
TSV = "text/tab-separated-values"  # SPARQL 1.1 TSV results: a third of JSON's size, parsed faster
ACCEPT = f"{TSV}, {RESULTS};q=0.9, application/n-triples;q=0.8"
# for a store whose TSV is not SPARQL's (Virtuoso 7 quotes the variable names and writes IRIs as
# strings): JSON, measured 1.3-1.6x TSV's time on Oxigraph server for 1k-100k rows, the same below
ACCEPT_NO_TSV = f"{RESULTS}, application/n-triples;q=0.8"
GRAPH_ACCEPT = "application/n-triples, text/turtle;q=0.9"
EMPTY_GRAPH = "urn:dsikb:no-graph"  # a default-graph-uri that names nothing: an empty default graph
XSD = "http://www.w3.org/2001/XMLSchema#"
_VIRTUOSO_BNODE = re.compile(rb'("type"\s*:\s*"bnode"\s*,\s*"value"\s*:\s*")nodeID://')
_VIRTUOSO_BOOLEAN = re.compile(rb'("datatype": "http://www\.w3\.org/2001/XMLSchema#boolean", "value": ")([01])(?=")')


def endpoints(settings: Settings) -> tuple[str, str, str | None]:
    """(query URL, update URL, GSP URL or None) from DSIKB_STORE and the DSIKB_STORE_*_URL settings."""
    base = settings.store[len("sparql+"):] if settings.store_is_remote else ""
    parts = urlsplit(base)
    path = parts.path.rstrip("/")
    if path.endswith("/query") or path == "":  # Oxigraph server: /query, /update, /store
        root = path[: -len("/query")] if path.endswith("/query") else path
        derived = [urlunsplit((parts.scheme, parts.netloc, root + p, "", "")) for p in ("/query", "/update", "/store")]
    else:  # one SPARQL endpoint for queries and updates (Virtuoso's /sparql, ...): no GSP unless set
        derived = [base, base, None]
    query = settings.store_query_url or derived[0]
    update = settings.store_update_url or (derived[1] if not settings.store_query_url else query)
    gsp = settings.store_gsp_url or derived[2]
    if gsp is not None and gsp.strip().lower() in ("none", "off", "-"):
        gsp = None
    if not query:
        raise KBError("no remote store URL: set DSIKB_STORE=sparql+http://host:port (or DSIKB_STORE_QUERY_URL)")
    return query, update, gsp


class RemoteKB(Store):
    """A knowledge base whose triples live in a remote SPARQL 1.1 store, read and written by HTTP."""

    path = None
    in_process = False

    def __init__(self, settings: Settings):
        self.settings = settings
        self.names = _names(settings.base_uri)
        self.graphs = Graphs(self.names)
        self.query_url, self.update_url, self.gsp_url = endpoints(settings)
        # the named graph that holds the public view where the store's default graph cannot (Virtuoso)
        self.public_graph = ox.NamedNode(settings.store_public_graph) if settings.store_public_graph else None
        if self.public_graph is not None and not self.public_graph.value.startswith(self.graphs.ns + "tmp/"):
            raise KBError(f"DSIKB_STORE_PUBLIC_GRAPH must be under {self.graphs.ns}tmp/ (the app's own graphs, "
                          f"never merged into the public view), e.g. {self.graphs.ns}tmp/public")
        self.url = self.query_url
        auth = (settings.store_user, settings.store_password) if settings.store_user else None
        self.http = httpx.Client(
            auth=auth, headers={"User-Agent": settings.user_agent},
            timeout=httpx.Timeout(settings.query_timeout + 5, connect=5.0),
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16))
        self.write_timeout = httpx.Timeout(WRITE_TIMEOUT, connect=5.0)
        weakref.finalize(self, self.http.close)  # its pooled connections close with it
        state = self.graphs.ns + "tmp/state"
        self.state_graph = ox.NamedNode(state)
        self.generation_p = ox.NamedNode(state + "#generation")
        self.modified_p = ox.NamedNode(state + "#modified")
        self._lock = threading.Lock()
        self._cached: tuple[float, int, str | None] | None = None  # (read at, generation, modified)
        self._graphs_cache: tuple[int, list[str]] | None = None
        self._dataset_cache: tuple[int, list[str]] | None = None
        self._local = threading.local()
        self._accept = ACCEPT

    def close(self) -> None:
        self.http.close()

    # -- HTTP ---------------------------------------------------------------------------------
    def _send(self, method: str, url: str, *, retry_all: bool = True, **kwargs) -> httpx.Response:
        """One request with bounded retries: on connection errors (always: nothing reached the store)
        and on 5xx or read errors (``retry_all``: for requests that are safe to repeat)."""
        delay = BACKOFF
        for attempt in range(1, ATTEMPTS + 1):
            try:
                response = self.http.request(method, url, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                problem = exc
            except httpx.TransportError as exc:
                if not retry_all:
                    raise self._down(url, exc) from None
                problem = exc
            else:
                if response.status_code < 500 or not retry_all or attempt == ATTEMPTS:
                    return response
                problem = RuntimeError(f"HTTP {response.status_code}")
            if attempt == ATTEMPTS:
                raise self._down(url, problem) from None
            log.warning("remote store %s: %s; trying again in %.2f s", url, problem, delay)
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    def _down(self, url: str, exc: BaseException) -> KBError:
        self._cached = None
        return KBError(f"the triple store at {url} cannot be reached ({type(exc).__name__}: {exc}); "
                       "the site works again as soon as the store is back, without a restart: check "
                       "that the store server runs and DSIKB_STORE points at it", status=503,
                       headers={"Retry-After": "10"})

    def _check(self, response: httpx.Response, what: str) -> httpx.Response:
        if response.status_code < 300:
            return response
        message = response.text[:2000].strip()
        if response.status_code == 400:
            raise SyntaxError(f"the remote store refused the {what}: {message}")
        if response.status_code in (401, 403):
            raise KBError(f"the triple store refused the {what} ({response.status_code}): check "
                          "DSIKB_STORE_USER and DSIKB_STORE_PASSWORD", status=503)
        status = 503 if response.status_code >= 500 else 502
        raise KBError(f"the triple store answered the {what} with {response.status_code}: {message}",
                      status=status, headers={"Retry-After": "10"} if status == 503 else None)

    # -- SPARQL -------------------------------------------------------------------------------
    def raw_query(self, sparql: str, *, prefixes: dict | None = None, base_iri: str | None = None,
                  use_default_graph_as_union: bool = False, default_graph=None, named_graphs=None,
                  substitutions: dict | None = None, plain: bool = False, **_ignored):
        """``plain``: the store's own dataset, for the store layer's reads of named graphs only."""
        # the protocol has no bindings: bound terms are written into the text by kb.terms.sparql_term
        text = substitute(sparql, {v.value: t for v, t in (substitutions or {}).items()})
        text = prologue(prefixes, base_iri) + text
        form: list[tuple[str, str]] = [("query", text)]
        if default_graph is not None or named_graphs is not None:
            defaults = _as_list(default_graph)
            form += [("default-graph-uri", g.value) for g in defaults]
            form += [("named-graph-uri", g.value) for g in _as_list(named_graphs)]
            if default_graph is not None and not defaults:
                form.append(("default-graph-uri", EMPTY_GRAPH))
        elif use_default_graph_as_union:  # the union of the named graphs, as standard protocol
            # (naming the default graph's parts empties the named graphs unless they are named too)
            graphs = self._union_graphs() or [EMPTY_GRAPH]
            form += [("default-graph-uri", g) for g in graphs] + [("named-graph-uri", g) for g in graphs]
        elif self.public_graph is not None and not plain and not declares_dataset(text):
            # the public view as the default graph, the knowledge base's graphs as the named ones
            # (Virtuoso ignores GRAPH <iri> when only default-graph-uri is given)
            form.append(("default-graph-uri", self.public_graph.value))
            form += [("named-graph-uri", g) for g in self._dataset_graphs()]
        body_form = urlencode(form).encode()
        # an RDF format for a graph: Virtuoso answers CONSTRUCT in a results format when one comes first
        accept = GRAPH_ACCEPT if query_form(text) in ("CONSTRUCT", "DESCRIBE") else self._accept
        patient = getattr(self._local, "patient", None)  # seconds, within :meth:`patient`
        timeout = {"timeout": httpx.Timeout(patient, connect=5.0)} if patient else {}
        response = self._check(self._send("POST", self.query_url, content=body_form,
                                          headers={"Accept": accept, "Content-Type": FORM}, **timeout), "query")
        media = response.headers.get("content-type", "").split(";")[0].strip().lower()
        body = response.content
        if media == TSV and body[:1] not in (b"?", b"$", b"\n", b"\r", b""):
            # not SPARQL TSV, whose header names ?variables: ask this store for JSON from now on
            log.info("the store at %s writes TSV results not as SPARQL 1.1 does; asking for JSON", self.query_url)
            self._accept = ACCEPT_NO_TSV
            response = self._check(self._send("POST", self.query_url, content=body_form,
                                              headers={"Accept": self._accept, "Content-Type": FORM}, **timeout),
                                   "query")
            media = response.headers.get("content-type", "").split(";")[0].strip().lower()
            body = response.content
        if media == TSV:
            return ox.parse_query_results(body, ox.QueryResultsFormat.TSV)
        if media == RESULTS or media == "application/json":
            if b"nodeID://" in body:  # Virtuoso's blank node labels are not valid ones
                body = _VIRTUOSO_BNODE.sub(rb"\1", body)
            if b'#boolean", "value": "' in body:  # Virtuoso writes true as "1": the canonical form
                body = _VIRTUOSO_BOOLEAN.sub(lambda m: m.group(1) + (b"true" if m.group(2) == b"1" else b"false"), body)
            return ox.parse_query_results(body, ox.QueryResultsFormat.JSON)
        if media == "application/sparql-results+xml":
            return ox.parse_query_results(body, ox.QueryResultsFormat.XML)
        formats = {"application/n-triples": ox.RdfFormat.N_TRIPLES, "text/turtle": ox.RdfFormat.TURTLE,
                   "application/rdf+xml": ox.RdfFormat.RDF_XML, "text/plain": ox.RdfFormat.N_TRIPLES}
        if media in formats:
            return iter([ox.Triple(q.subject, q.predicate, q.object) for q in ox.parse(body, formats[media])])
        raise KBError(f"the triple store answered with an unexpected type {media!r}", status=502)

    @contextlib.contextmanager
    def patient(self, seconds: float):
        before = getattr(self._local, "patient", None)
        self._local.patient = seconds
        try:
            yield
        finally:
            self._local.patient = before

    def raw_update(self, sparql: str, *, prefixes: dict | None = None, base_iri: str | None = None) -> None:
        form = [("update", prologue(prefixes, base_iri) + sparql)]
        # an update is not repeated after it may have reached the store (it might apply twice)
        self._check(self._send("POST", self.update_url, content=urlencode(form).encode(), retry_all=False,
                               headers={"Content-Type": FORM}, timeout=self.write_timeout), "update")
        self._cached = None

    def _dataset_graphs(self) -> list[str]:
        generation = self.generation
        cached = self._dataset_cache
        if cached is None or cached[0] != generation:
            # the knowledge base's graphs only: never the app's own under graph/tmp/ (the generation,
            # the public view's graph itself, staging graphs), which SPARQL users must not see
            cached = self._dataset_cache = (generation, self.named_graphs())
        return cached[1]

    def _union_graphs(self) -> list[str]:
        generation = self.generation
        cached = self._graphs_cache
        if cached is None or cached[0] != generation:
            cached = self._graphs_cache = (generation, self.named_graphs())
        return cached[1]

    # -- quads --------------------------------------------------------------------------------
    def quads(self, subject=None, predicate=None, object=None, graph=None):
        """Quads by one SELECT. A blank node cannot be named in a query to another store: a pattern
        with one matches nothing here."""
        g = graph_node(graph)
        if any(isinstance(t, ox.BlankNode) for t in (subject, object)):
            return iter(())
        bind = {k: v for k, v in (("s", subject), ("p", predicate), ("o", object)) if v is not None}
        public = self.public_graph
        if isinstance(g, ox.DefaultGraph) and public is not None:
            query = "SELECT ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } }"
            bind["g"] = public
        elif isinstance(g, ox.DefaultGraph):
            query = "SELECT ?s ?p ?o WHERE { ?s ?p ?o }"
        elif g is None and public is not None:  # the public graph is one of the named graphs here
            query = "SELECT ?s ?p ?o ?g WHERE { GRAPH ?g { ?s ?p ?o } }"
        elif g is None:
            query = "SELECT ?s ?p ?o ?g WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }"
        else:
            query = "SELECT ?s ?p ?o ?g WHERE { GRAPH ?g { ?s ?p ?o } }"
            bind["g"] = g
        rows = self.raw_query(inline_bindings(query, bind), plain=public is not None)
        default = ox.DefaultGraph()
        if g is None and public is not None:  # its quads are the default graph's; the store's own graphs are left out
            return (ox.Quad(subject or row["s"], predicate or row["p"], object or row["o"],
                            default if row["g"] == public else row["g"])
                    for row in rows if row["g"] == public or self._ours(row["g"].value))
        return (ox.Quad(subject or row["s"], predicate or row["p"], object or row["o"],
                        g if g is not None else (row["g"] or default)) for row in rows)

    def has_graph(self, graph) -> bool:
        query = inline_bindings("ASK { GRAPH ?g { ?s ?p ?o } }", {"g": graph_node(graph)})
        return bool(self.raw_query(query, plain=True))

    def _ours(self, graph: str) -> bool:
        """A graph of the knowledge base, staging graphs included: with a public graph, only those
        under the base IRI's graph/ namespace (not the store's own, such as Virtuoso's system graphs)."""
        from kb.store import publicview

        return graph.startswith(publicview.usable_prefix(self))

    def _all_graphs(self) -> list[str]:
        # ``GRAPH ?g { }`` lists the graphs without a scan, but Virtuoso answers it with nothing
        graphs = [r["g"].value for r in self.raw_query("SELECT DISTINCT ?g WHERE { GRAPH ?g { } }", plain=True)
                  if isinstance(r["g"], ox.NamedNode)]
        if not graphs:
            # (GROUP BY, not DISTINCT: Virtuoso answers it in milliseconds, DISTINCT in tens of seconds)
            graphs = [r["g"].value for r in self.raw_query("SELECT ?g WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g", plain=True)
                      if isinstance(r["g"], ox.NamedNode)]
        return graphs

    def named_graphs(self) -> list[str]:
        tmp = self.graphs.ns + "tmp/"
        return sorted(g for g in self._all_graphs() if self._ours(g) and not g.startswith(tmp))

    def staging_graphs(self) -> list[str]:
        tmp = self.graphs.ns + "tmp/"
        keep = set(self._machinery_graphs())
        return sorted(g for g in self._all_graphs() if g.startswith(tmp) and g not in keep)

    def triple_count(self, graph: str | None = None) -> int:
        if graph:  # (not grouped by a bound ?g: Virtuoso then counts 1)
            query = inline_bindings("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }", {"g": ox.NamedNode(graph)})
            return int(next(iter(self.raw_query(query, plain=True)))["n"].value)
        from kb.store import publicview

        tmp, ours = ox.Literal(self.graphs.ns + "tmp/"), ox.Literal(publicview.usable_prefix(self))
        rows = self.select(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ ?s ?p ?o }} FILTER(STRSTARTS(STR(?g), "
                           f"{sparql_term(ours)}) && !STRSTARTS(STR(?g), {sparql_term(tmp)})) }}", union=False, prologue=False,
                           plain=True)
        return int(rows[0]["n"].value) if rows else 0

    def union_triples(self):
        from kb.store import publicview

        tmp, ours = ox.Literal(self.graphs.ns + "tmp/"), ox.Literal(publicview.usable_prefix(self))
        for row in self.query(f"SELECT DISTINCT ?s ?p ?o WHERE {{ GRAPH ?g {{ ?s ?p ?o }} FILTER(STRSTARTS(STR(?g), "
                              f"{sparql_term(ours)}) && !STRSTARTS(STR(?g), {sparql_term(tmp)})) }}", union=False, prologue=False,
                              plain=True):
            yield ox.Triple(row[0], row[1], row[2])

    def quad_count(self) -> int:
        rows = self.raw_query("SELECT (COUNT(*) AS ?n) WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }")
        return int(next(iter(rows))["n"].value)

    def add_quads(self, quads: Iterable[ox.Quad]) -> None:
        """Per graph: one Graph Store Protocol POST of N-Triples (blank nodes stay one node within a
        graph), or INSERT DATA in chunks without GSP."""
        by_graph: dict = {}
        for q in quads:
            by_graph.setdefault(q.graph_name, []).append(q.triple)
        for g, triples in by_graph.items():
            self._post_triples(g, triples)
        if by_graph:
            self._cached = None

    def _post_triples(self, g, triples: list) -> None:
        if isinstance(g, ox.DefaultGraph) and self.public_graph is not None:
            g = self.public_graph
        if self.gsp_url is None:
            for start in range(0, len(triples), CHUNK):
                chunk = triples[start:start + CHUNK]
                if isinstance(g, ox.DefaultGraph):
                    self.raw_update(f"INSERT DATA {{ {sparql_term(chunk)} }}")
                else:
                    self.raw_update(f"INSERT DATA {{ GRAPH {sparql_term(g)} {{ {sparql_term(chunk)} }} }}")
            return
        params = self._gsp_params(g)
        body = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES)
        response = self._send("POST", self.gsp_url, params=params, content=body, retry_all=False,
                              headers={"Content-Type": "application/n-triples"}, timeout=self.write_timeout)
        self._check(response, "graph upload")

    def _gsp_params(self, g) -> dict:
        if isinstance(g, ox.DefaultGraph) and self.public_graph is not None:
            g = self.public_graph
        return {"default": ""} if isinstance(g, ox.DefaultGraph) else {"graph": g.value}

    def remove_graph(self, graph) -> None:
        self.raw_update(f"DROP SILENT GRAPH {sparql_term(graph_node(graph))}")

    # -- dumps --------------------------------------------------------------------------------
    def dump(self, output, format, *, graph=None) -> None:
        format, g = rdf_format(format), graph_node(graph)
        if g is None:  # the whole dataset: GSP has no standard request for it
            ox.serialize(self.quads(), output, format)
            return
        if format in QUAD_FORMATS and isinstance(g, ox.NamedNode):  # quads keep the graph's name
            ox.serialize(self.quads(graph=g), output, format)
            return
        if self.gsp_url is None:
            ox.serialize((q.triple for q in self.quads(graph=g)), output, format)
            return
        params = self._gsp_params(g)
        for attempt in range(2):
            try:
                with self.http.stream("GET", self.gsp_url, params=params,
                                      headers={"Accept": format.media_type}) as response:
                    if response.status_code == 404:  # an empty graph
                        return
                    if response.status_code >= 300:
                        response.read()
                        self._check(response, "graph download")
                    lines = format in (ox.RdfFormat.N_TRIPLES, ox.RdfFormat.N_QUADS)
                    rest = b""
                    for chunk in response.iter_bytes(1 << 16):
                        if not lines:
                            output.write(chunk)
                            continue
                        rest += chunk
                        cut = rest.rfind(b"\n") + 1
                        if cut:
                            output.write(_one_space(rest[:cut], format))
                            rest = rest[cut:]
                    if rest:
                        output.write(_one_space(rest, format))
                return
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if attempt:
                    raise self._down(self.gsp_url, exc) from None
                time.sleep(BACKOFF)

    def load_file(self, path: str | os.PathLike, *, graph: str | None = None,
                  format: str | None = None, base_iri: str | None = None) -> int:
        """Parse the whole file first (a syntax error adds nothing), then upload it graph by graph
        and derive the public default graph again. Returns the statements the store gained."""
        from kb.errors import BadRequest
        from kb.namespaces import rebase
        from kb.settings import DEFAULT_BASE_URI
        from kb.store import publicview
        from kb.store.loader import QUAD_FORMATS, _graph_part, _open, rdf_format, syntax_problem

        path = Path(path)
        if not path.is_file():
            raise KBError(f"{path}: no such file")
        fmt = rdf_format(format or path.name)
        if fmt not in QUAD_FORMATS and not graph:
            graph = self.graphs.ns + "load/" + _graph_part(path)
        with _open(path) as fh:
            data = fh.read()
        if self.settings.base_uri != DEFAULT_BASE_URI:
            data = rebase(data.decode("utf-8"), self.settings.base_uri).encode("utf-8")
        try:
            parsed = list(ox.parse(data, fmt, base_iri=base_iri or path.resolve().as_uri(),
                                   rename_blank_nodes=True))
        except SyntaxError as exc:
            raise syntax_problem(path, exc) from None
        except ValueError as exc:
            raise BadRequest(f"{path}: {exc}") from None
        if fmt not in QUAD_FORMATS:
            target = ox.NamedNode(graph)
            parsed = [ox.Quad(q.subject, q.predicate, q.object, target) for q in parsed]
        before = self.quad_count()
        self.add_quads(parsed)
        added = self.quad_count() - before
        if added:
            publicview.rebuild(self)
            self.bump()
        return added

    # -- generation, kept in the store --------------------------------------------------------
    def _bump_operation(self) -> str:
        s, gen, mod = self.state_graph, self.generation_p, self.modified_p
        return (f"DELETE {{ GRAPH {sparql_term(s)} {{ {sparql_term(s)} {sparql_term(gen)} ?old . "
                f"{sparql_term(s)} {sparql_term(mod)} ?when }} }} "
                f"INSERT {{ GRAPH {sparql_term(s)} {{ {sparql_term(s)} {sparql_term(gen)} ?new . "
                f"{sparql_term(s)} {sparql_term(mod)} ?now }} }} WHERE {{ "
                # aggregates, not OPTIONALs: one row even on a new store (Virtuoso 7.2 inserts nothing
                # from a WHERE of OPTIONALs that all fail)
                f"{{ SELECT (MAX(?g0) AS ?old) WHERE {{ GRAPH {sparql_term(s)} {{ {sparql_term(s)} {sparql_term(gen)} ?g0 }} }} }} "
                f"{{ SELECT (MAX(?m0) AS ?when) WHERE {{ GRAPH {sparql_term(s)} {{ {sparql_term(s)} {sparql_term(mod)} ?m0 }} }} }} "
                f"BIND(COALESCE(?old, 0) + 1 AS ?new) BIND(NOW() AS ?now) }}")

    def _writes(self, operations: list[str]) -> list[str]:
        """Every write made through the app increments the generation in the same request."""
        self._local.bumped = True
        return [*operations, self._bump_operation()]

    def _machinery_graphs(self) -> list[str]:
        return [self.state_graph.value] + ([self.public_graph.value] if self.public_graph is not None else [])

    def _read_state(self) -> tuple[int, str | None]:
        s = self.state_graph
        rows = list(self.raw_query(
            f"SELECT ?n ?m WHERE {{ GRAPH {sparql_term(s)} {{ {sparql_term(s)} {sparql_term(self.generation_p)} ?n "
            f"OPTIONAL {{ {sparql_term(s)} {sparql_term(self.modified_p)} ?m }} }} }}", plain=True))
        if not rows:
            return 0, None
        when = rows[0]["m"]
        return int(rows[0]["n"].value), (when.value[:19] + "Z" if when is not None else None)

    def _state(self) -> tuple[int, str | None]:
        cached = self._cached
        now = time.monotonic()
        if cached is not None and now - cached[0] < GENERATION_TTL:
            return cached[1], cached[2]
        with self._lock:
            cached = self._cached
            if cached is None or time.monotonic() - cached[0] >= GENERATION_TTL:
                generation, modified = self._read_state()
                cached = self._cached = (time.monotonic(), generation, modified)
        return cached[1], cached[2]

    @property
    def generation(self) -> int:
        """The store's write counter (``graph/tmp/state``), read at most once a second per process."""
        return self._state()[0]

    @property
    def modified(self) -> str | None:
        return self._state()[1]

    def bump(self) -> int:
        """After a write through :meth:`_writes` the store has counted it already; otherwise (a
        write by primitives only) count it now."""
        if not getattr(self._local, "bumped", False):
            self.raw_update(self._bump_operation())
        self._local.bumped = False
        self._cached = None
        return self.generation

    def set_generation(self, generation: int, modified: str | None = None) -> None:
        """Make the store's generation ``generation`` and its modification time ``modified`` (now when
        None): a restore carries on the backup's, as an on-disk store's state file does."""
        s, gen, mod = self.state_graph, self.generation_p, self.modified_p
        count = ox.Literal(str(int(generation)), datatype=ox.NamedNode(XSD + "integer"))
        stamp = ox.Literal(modified or "", datatype=ox.NamedNode(XSD + "dateTime") if modified else None)
        self.raw_update(f"DELETE WHERE {{ GRAPH {sparql_term(s)} {{ {sparql_term(s)} {sparql_term(gen)} ?old }} }} ; "
                        f"DELETE WHERE {{ GRAPH {sparql_term(s)} {{ {sparql_term(s)} {sparql_term(mod)} ?when }} }} ; "
                        f"INSERT {{ GRAPH {sparql_term(s)} {{ {sparql_term(s)} {sparql_term(gen)} {sparql_term(count)} . "
                        f"{sparql_term(s)} {sparql_term(mod)} ?now }} }} "
                        f"WHERE {{ BIND(IF(STR({sparql_term(stamp)}) = \"\", NOW(), {sparql_term(stamp)}) AS ?now) }}")
        self._local.bumped = False

    def flush(self) -> None:
        pass


def _one_space(data: bytes, format) -> bytes:
    """Complete N-Triples/N-Quads lines as pyoxigraph writes them (terms separated by one space, as
    the dumps' line filter expects) when a store separates them otherwise (Virtuoso: tabs)."""
    if b"\t" not in data:
        return data
    return ox.serialize(ox.parse(data, format), format=format)


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]

