"""Downloads and self-description: ``/dumps/`` (the whole public dataset as gzipped files),
``/.well-known/void`` and ``/void.ttl`` (VoID + DCAT), ``/def/dsi`` and ``/def/shapes`` (ontology and
shapes, as RDF or HTML documentation).

Dumps are regenerated when the store's generation changes, not per request: into ``{store}.dumps/``
beside the store, in a background thread, atomically (kb.dump.write_public_dumps). A request that
finds them stale starts the rebuild and waits a little for it; when it takes longer, the previous
files are served (the listing says they are being rebuilt) or, before the first build, 503.
"""

from __future__ import annotations

import base64
import hashlib
import tempfile
import threading
from email.utils import format_datetime, parsedate_to_datetime
from datetime import datetime, timezone
from pathlib import Path

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, jsonify, render_template, request, send_file, url_for

from endpoint.negotiation import negotiate, vary_accept
from endpoint.state import get_kb
from kb.publish import void
from kb.publish.dump import PUBLIC_DUMPS, read_manifest, write_public_dumps
from kb.errors import KBError, NotFound

bp = Blueprint("dumps", __name__)

HTML = "text/html"
JSON = "application/json"
RDF_OFFERS = {"text/turtle": ox.RdfFormat.TURTLE, "application/ld+json": ox.RdfFormat.JSON_LD,
              "application/rdf+xml": ox.RdfFormat.RDF_XML, "application/n-triples": ox.RdfFormat.N_TRIPLES}
SUFFIXES = {"ttl": "text/turtle", "jsonld": "application/ld+json", "rdf": "application/rdf+xml",
            "nt": "application/n-triples"}
WAIT_SECONDS = 20.0  # how long a request waits for the first build before it gets 503
STALE_WAIT_SECONDS = 3.0  # how long it waits for a rebuild before it is served the previous files


class DumpBuilder:
    """Keeps the public dumps of one store up to date: one background build at a time."""

    def __init__(self, kb, folder: Path):
        self.kb, self.folder = kb, Path(folder)
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.error: str | None = None

    def _build(self):
        try:
            write_public_dumps(self.kb, self.folder, extra=void.statistics)
            self.error = None
        except Exception as exc:  # noqa: BLE001 - reported on the listing page, retried next request
            self.error = f"{type(exc).__name__}: {exc}"
            current_app.logger.exception("building the dumps failed")

    def current(self, wait: float = WAIT_SECONDS) -> tuple[dict | None, bool]:
        """(manifest, fresh): the newest dumps and whether they match the store's generation."""
        manifest = read_manifest(self.folder)
        if manifest and manifest["generation"] == self.kb.generation:
            return manifest, True
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                app = current_app._get_current_object()

                def run():
                    with app.app_context():
                        self._build()

                self.thread = threading.Thread(target=run, name="dsikb-dumps", daemon=True)
                self.thread.start()
            thread = self.thread
        thread.join(wait if manifest is None else min(wait, STALE_WAIT_SECONDS))
        manifest = read_manifest(self.folder)
        return manifest, bool(manifest and manifest["generation"] == self.kb.generation)


def init_app(app) -> None:
    kb = app.extensions["dsikb"]
    folder = kb.path.with_name(kb.path.name + ".dumps") if getattr(kb, "path", None) else \
        Path(tempfile.mkdtemp(prefix="dsikb-dumps-"))
    app.extensions["dsikb_dumps"] = DumpBuilder(kb, folder)
    app.extensions["dsikb_defs"] = {}


def _builder() -> DumpBuilder:
    return current_app.extensions["dsikb_dumps"]


def _manifest_or_503() -> tuple[dict, bool]:
    manifest, fresh = _builder().current()
    if manifest is None:
        message = "The dumps are being generated for the first time; try again in a minute."
        if _builder().error:
            message = f"The dumps could not be generated ({_builder().error}); try again later."
        raise KBError(message, status=503, headers={"Retry-After": "60"})
    return manifest, fresh


def _site() -> str:
    return request.host_url  # downloads and the endpoint are named on the host that was asked


def _http_date(iso: str) -> datetime:
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def _not_modified(etag: str, last_modified: datetime | None) -> bool:
    """Conditional GET: If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2)."""
    if request.if_none_match:
        return request.if_none_match.contains(etag) or "*" in request.if_none_match
    since = request.headers.get("If-Modified-Since")
    if since and last_modified is not None:
        try:
            return last_modified <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


def _conditional(body: bytes, mimetype: str, etag: str, last_modified: datetime | None,
                 negotiated: bool) -> Response:
    if _not_modified(etag, last_modified):
        resp = Response(status=304)
    else:
        resp = Response(body, mimetype=mimetype)
    resp.set_etag(etag)
    if last_modified is not None:
        resp.headers["Last-Modified"] = format_datetime(last_modified, usegmt=True)
    return vary_accept(resp) if negotiated else resp


# -- /dumps/ ----------------------------------------------------------------------------------------
@bp.get("/dumps/")
def listing():
    negotiated = not request.path.endswith(".json")
    mime = negotiate([HTML, JSON], default=HTML) if negotiated else JSON
    manifest, fresh = _manifest_or_503()
    files = [dict(f, url=url_for("dumps.download", name=f["name"], _external=True)) for f in manifest["files"]]
    extra = manifest.get("extra", {})
    payload = {"generation": manifest["generation"], "created": manifest["created"], "fresh": fresh,
               "triples": extra.get("triples"), "files": files,
               "void": url_for("dumps.void_wellknown", _external=True)}
    if mime == JSON:
        resp = jsonify(payload)
    else:
        resp = Response(render_template("dumps.html", dumps=payload, figures=extra), mimetype=HTML)
        resp.headers["Link"] = f'<{url_for("dumps.listing_json")}>; rel="alternate"; type="application/json"'
    resp.headers["Cache-Control"] = "no-cache"
    return vary_accept(resp) if negotiated else resp


bp.add_url_rule("/dumps/index.json", "listing_json", listing, methods=["GET"])


@bp.get("/dumps/<name>")
def download(name: str):
    if name not in {n for n, _, _ in PUBLIC_DUMPS}:
        raise NotFound(f"No dump named {name!r}. The dumps are: "
                       + ", ".join(n for n, _, _ in PUBLIC_DUMPS) + " (listed at /dumps/).")
    manifest, _ = _manifest_or_503()
    info = next(f for f in manifest["files"] if f["name"] == name)
    path = _builder().folder / manifest["folder"] / name
    resp = send_file(path, mimetype="application/gzip", as_attachment=True, download_name=name,
                     etag=info["sha256"], last_modified=_http_date(manifest["created"]),
                     conditional=True, max_age=0)
    resp.headers["Digest"] = "sha-256=" + base64.b64encode(bytes.fromhex(info["sha256"])).decode()
    return resp


# -- VoID / DCAT ------------------------------------------------------------------------------------
def _void(ext: str | None):
    mime = SUFFIXES[ext] if ext else negotiate(list(RDF_OFFERS), default="text/turtle")
    manifest, _ = _manifest_or_503()
    figures = manifest.get("extra") or void.statistics(get_kb())
    site = _site()
    dumps = [dict(f, modified=manifest["created"]) for f in manifest["files"]]
    etag = hashlib.sha256(f"{manifest['generation']}|{manifest['created']}|{site}|{mime}".encode()).hexdigest()[:32]
    last = _http_date(manifest["created"])
    if _not_modified(etag, last):
        return _conditional(b"", mime, etag, last, ext is None)
    body = void.serialize(void.describe(get_kb(), figures, site=site, dumps=dumps,
                                        contact=current_app.config["DSIKB_SETTINGS"].contact), RDF_OFFERS[mime])
    return _conditional(body, mime, etag, last, ext is None)


@bp.get("/.well-known/void")
def void_wellknown():
    return _void(None)


@bp.get("/void")
def void_plain():
    return _void(None)


@bp.get("/void.<ext>")
def void_suffix(ext: str):
    if ext not in SUFFIXES:
        raise NotFound(f"No /void.{ext}: use /void.ttl, /void.jsonld, /void.rdf or /void.nt.")
    return _void(ext)


# -- /def/dsi and /def/shapes -------------------------------------------------------------------------
def _def_graphs(kind: str) -> tuple[list[str], list[str]]:
    """(graphs whose triples make the document, extra graphs for the HTML only)."""
    kb = get_kb()
    if kind == "dsi":
        taxonomies = [g for g in kb.named_graphs() if kb.graphs.kind(g) == "taxonomy"]
        return [kb.graphs.ontology, *taxonomies], taxonomies
    return [kb.graphs.shapes], []


def _quads(graphs: list[str]):
    kb = get_kb()
    for graph in graphs:
        yield from kb.quads(graph=ox.NamedNode(graph))


def _def_document(kind: str, mime: str) -> bytes:
    """The document for ``kind`` in ``mime``, cached per store generation."""
    kb = get_kb()
    cache = current_app.extensions["dsikb_defs"]
    key = (kind, mime, kb.generation)
    if key in cache:
        return cache[key]
    graphs, scheme_graphs = _def_graphs(kind)
    if not get_kb().has_graph(ox.NamedNode(graphs[0])):
        raise NotFound(f"The store holds no {'ontology' if kind == 'dsi' else 'shapes'} yet: run `dsikb init`.")
    if mime == HTML:
        import rdflib

        from kb.publish.ontodoc import ontology_html, shapes_html

        def to_rdflib(gs):
            data = ox.serialize((q.triple for q in _quads(gs)), format=ox.RdfFormat.N_TRIPLES)
            g = rdflib.Graph(bind_namespaces="core")
            for prefix, ns in kb.names.prefixes().items():
                g.bind(prefix, ns, override=True)
            return g.parse(data=data, format="nt")

        if kind == "dsi":
            body = ontology_html(to_rdflib(graphs[:1]), to_rdflib(scheme_graphs), kb.names.dsi_ns).encode()
        else:
            body = shapes_html(to_rdflib(graphs)).encode()
    else:
        triples = (q.triple for q in _quads(graphs))
        prefixes = {p: ns for p, ns in kb.names.prefixes().items() if p not in ("dsid", "concept", "graph")}
        body = ox.serialize(triples, format=RDF_OFFERS[mime], prefixes=prefixes)
    for old in [k for k in cache if k[2] != kb.generation]:
        del cache[old]
    cache[key] = body
    return body


def _def(kind: str, ext: str | None):
    mime = SUFFIXES[ext] if ext else negotiate([HTML, *RDF_OFFERS], default="text/turtle")
    kb = get_kb()
    body = _def_document(kind, mime)
    etag = hashlib.sha256(body).hexdigest()[:32]
    modified = kb.modified
    last = _http_date(modified) if modified else None
    resp = _conditional(body, mime, etag, last, ext is None)
    if mime == HTML:
        resp.headers["Link"] = ", ".join(
            f'<{request.path}.{e}>; rel="alternate"; type="{m}"' for e, m in SUFFIXES.items())
    return resp


@bp.get("/def/<any(dsi, shapes):kind>")
def definition(kind: str):
    return _def(kind, None)


@bp.get("/def/<any(dsi, shapes):kind>.<ext>")
def definition_suffix(kind: str, ext: str):
    if ext not in SUFFIXES and ext != "html":
        raise NotFound(f"No /def/{kind}.{ext}: use .ttl, .jsonld, .rdf, .nt or .html.")
    if ext == "html":
        body = _def_document(kind, HTML)
        etag = hashlib.sha256(body).hexdigest()[:32]
        return _conditional(body, HTML, etag, None, False)
    return _def(kind, ext)

