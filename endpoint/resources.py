"""Dereferencing (Cool URIs, 303 pattern): /id/ answers 303 by Accept, /data/ serves RDF, /page/ HTML.

``/id/{type}/{slug}`` and ``/id/concept/{scheme}[/{slug}]`` see-other to ``/page/...`` for browsers
and to ``/data/....{ext}`` for RDF clients; a suffix on /data/ overrides Accept; a merged entity
answers 301 to its survivor, a withdrawn one 410, an unknown one 404 (rendered by endpoint/errors.py).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import pyoxigraph as ox
from flask import Blueprint, Response, make_response, render_template, request

from endpoint.params import int_arg
from endpoint.negotiation import QUAD_FORMS, RDF_TYPES, SUFFIX_TYPES, negotiate, vary_accept, wants_html
from endpoint.state import get_kb
from kb.publish.describe import Merged, _state, describe, jsonld_context, quads_of, status, to_jsonld
from kb.errors import BadRequest, NotFound
from kb.namespaces import ENTITY_TYPES, LEGACY_ID, SLUG_RE
from kb.index.search import UUID, legacy_entity

bp = Blueprint("resources", __name__)

HTML = "text/html"
OX_FORMATS = {"ttl": ox.RdfFormat.TURTLE, "nt": ox.RdfFormat.N_TRIPLES, "rdf": ox.RdfFormat.RDF_XML,
              "nq": ox.RdfFormat.N_QUADS, "trig": ox.RdfFormat.TRIG, "n3": ox.RdfFormat.TURTLE}
CONTENT_TYPES = {ext: f"{mime}; charset=utf-8" for mime, ext in RDF_TYPES.items()}
FORMAT_NAMES = {"ttl": "Turtle", "nt": "N-Triples", "jsonld": "JSON-LD", "rdf": "RDF/XML", "nq": "N-Quads",
                "trig": "TriG", "n3": "N3"}


def _path(type_: str, slug: str) -> str:
    """The resource path ("organisation/nesta") after checking type and slug."""
    if type_ not in ENTITY_TYPES:
        raise NotFound(f"There are no resources of type {type_!r} here: "
                       f"entity types are {', '.join(ENTITY_TYPES)} (and concept/{{scheme}}/{{slug}})")
    if not SLUG_RE.match(slug):
        raise NotFound(f"{slug!r} is not a valid identifier: slugs are lowercase letters, digits and hyphens")
    return f"{type_}/{slug}"


def _concept_path(scheme: str, slug: str | None = None) -> str:
    for part in (scheme, slug):
        if part is not None and not SLUG_RE.match(part):
            raise NotFound(f"{part!r} is not a valid concept identifier")
    return f"concept/{scheme}" + (f"/{slug}" if slug else "")


def local_path(iri: str) -> str | None:
    """The resource path of an IRI under this knowledge base's /id/, else None."""
    id_ns = get_kb().names.id_ns
    return iri[len(id_ns):] if iri.startswith(id_ns) and "#" not in iri else None


def _moved(survivor: str, kind: str, ext: str | None = None) -> Response:
    """301 to the survivor of a merge: a page for browsers, plain text otherwise."""
    path = local_path(survivor)
    if path is None:
        target = survivor
    else:
        target = request.script_root + f"/{kind}/{path}" + (f".{ext}" if ext else "")
    message = f"This entry was merged into another one, which lives at {target}."
    if wants_html():
        body = render_template("error.html", status=301, title="Moved Permanently", message=message,
                               link=target)
        resp = make_response(body, 301)
    else:
        resp = make_response(f"301 Moved Permanently: {message}\n", 301,
                             {"Content-Type": "text/plain; charset=utf-8"})
    resp.headers["Location"] = target
    return vary_accept(resp)


# -- /id/: 303 See Other -------------------------------------------------------------------------
@bp.get("/id/<type_>/<slug>")
def id_entity(type_: str, slug: str):
    if type_ == "activity" and UUID.match(slug.lower()) and not _exists(f"activity/{slug}"):
        return _legacy("activity", slug)  # the 2013 site's activities (now projects)
    return _see_other(_path(type_, slug))


def _exists(path: str) -> bool:
    """Whether the store says anything about ``{base}id/{path}``."""
    kb = get_kb()
    node = ox.NamedNode(kb.names.id_ns + path)
    return next(iter(kb.quads(node, None, None, None)), None) is not None


@bp.get("/id/organization/<uuid>")
def id_legacy_organization(uuid: str):
    return _legacy("organization", uuid)


def _legacy(kind: str, uuid: str) -> Response:
    """301 from a 2013 identifier (``http://data.digitalsocial.eu/id/{kind}/{uuid}``) to the entity
    that carries it as owl:sameAs, so the knowledge base can answer at the old domain."""
    kb = get_kb()
    entity = legacy_entity(kb, uuid, kind=kind) if UUID.match(uuid.lower()) else None
    if entity is None:
        raise NotFound(f"{LEGACY_ID}{kind}/{uuid} is not an identifier of the 2013 DSI site that this "
                       "knowledge base knows. Search for the organisation or project by name at "
                       f"{request.script_root}/search instead.")
    target = request.script_root + "/id/" + local_path(entity)
    resp = make_response(f"301 Moved Permanently: the 2013 identifier {LEGACY_ID}{kind}/{uuid.lower()} "
                         f"is now {target}\n", 301, {"Content-Type": "text/plain; charset=utf-8"})
    resp.headers["Location"] = target
    resp.headers["Cache-Control"] = "public, max-age=86400"
    return resp


@bp.get("/id/concept/<scheme>/<slug>")
def id_concept(scheme: str, slug: str):
    return _see_other(_concept_path(scheme, slug))


@bp.get("/id/concept/<scheme>")
def id_scheme(scheme: str):
    return _see_other(_concept_path(scheme))


def _see_other(path: str) -> Response:
    kb = get_kb()
    try:
        status(kb, kb.names.id_ns + path)
    except Merged as merged:
        return _moved(merged.survivor, "id")
    mime = negotiate([HTML, *RDF_TYPES], default=HTML)
    if mime == HTML:
        location = f"{request.script_root}/page/{path}"
    else:
        location = f"{request.script_root}/data/{path}.{RDF_TYPES[mime]}"
    resp = make_response(f"303 See Other: {location}\n", 303, {"Content-Type": "text/plain; charset=utf-8"})
    resp.headers["Location"] = location
    return vary_accept(resp)


# -- /data/: the RDF description -------------------------------------------------------------------
@bp.get("/data/<type_>/<name>")
def data_entity(type_: str, name: str):
    slug, ext = _split(name)
    return _data(_path(type_, slug), ext)


@bp.get("/data/concept/<scheme>/<name>")
def data_concept(scheme: str, name: str):
    slug, ext = _split(name)
    return _data(_concept_path(scheme, slug), ext)


@bp.get("/data/concept/<name>")
def data_scheme(name: str):
    scheme, ext = _split(name)
    return _data(_concept_path(scheme), ext)


def _split(name: str) -> tuple[str, str | None]:
    if "." not in name:
        return name, None
    slug, ext = name.rsplit(".", 1)
    if ext not in SUFFIX_TYPES:
        raise NotFound(f"no {ext!r} form of this resource: offered suffixes are "
                       + ", ".join("." + e for e in SUFFIX_TYPES))
    return slug, ext


def _page_number() -> int:
    return int_arg("page", 1, minimum=1)


def _data(path: str, ext: str | None) -> Response:
    kb = get_kb()
    negotiated = ext is None
    if negotiated:
        ext = RDF_TYPES[negotiate(list(RDF_TYPES), default="text/turtle")]
    try:
        desc = describe(kb, kb.names.id_ns + path, path, page=_page_number())
    except Merged as merged:
        return _moved(merged.survivor, "data", None if negotiated else ext)
    triples = desc.triples()
    body = serialize(quads_of(kb, triples) if ext in QUAD_FORMS else triples, ext, kb.names, first=desc.iri)
    resp = make_response(body, 200, {"Content-Type": CONTENT_TYPES[ext]})
    resp.headers["Link"] = alternates_header(path) + f', <{request.script_root}/page/{path}>; rel="alternate"; type="text/html"'
    resp.headers["Access-Control-Allow-Origin"] = "*"
    if negotiated:
        resp.headers["Content-Location"] = f"{request.script_root}/data/{path}.{ext}"
        vary_accept(resp)
    return _conditional(resp, desc, ext)


def _conditional(resp: Response, desc, form: str) -> Response:
    """ETag (store generation, resource, form, page) and Last-Modified; 304 when unchanged."""
    generation = _state(get_kb())[0]
    tag = hashlib.sha1(f"{generation}|{desc.iri}|{form}|{desc.inverse_page}".encode()).hexdigest()[:20]
    resp.set_etag(tag)
    if desc.modified:
        resp.last_modified = datetime.fromisoformat(desc.modified.replace("Z", "+00:00"))
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp.make_conditional(request)


def serialize(triples, ext: str, names, *, first: str | None = None) -> bytes:
    """Triples as Turtle (also for N3), N-Triples, RDF/XML (pyoxigraph) or compact JSON-LD with the project
    context; quads as N-Quads or TriG."""
    if ext == "jsonld":
        return json.dumps(to_jsonld(triples, names, first=first), ensure_ascii=False, indent=1).encode()
    prefixes = used_prefixes(triples, names) if ext in ("ttl", "rdf", "trig", "n3") else None
    return ox.serialize(triples, format=OX_FORMATS[ext], prefixes=prefixes)


def used_prefixes(triples, names) -> dict[str, str]:
    """The project prefixes these triples use, leaving out those whose local names would need an
    escaped slash (``dsid:project\\/x``): entity IRIs then read in full."""
    iris = set()
    for t in triples:
        iris.add(t.predicate.value)
        for term in (t.subject, t.object):
            if isinstance(term, ox.NamedNode):
                iris.add(term.value)
            elif isinstance(term, ox.Literal):
                iris.add(term.datatype.value)
    out = {}
    for prefix, ns in names.prefixes().items():
        locals_ = [i[len(ns):] for i in iris if i.startswith(ns)]
        if locals_ and all("/" not in loc and "#" not in loc for loc in locals_):
            out[prefix] = ns
    return out


def alternates(path: str) -> list[dict]:
    """The RDF forms of a resource, for <link rel=alternate> and the page's download links."""
    return [{"href": f"{request.script_root}/data/{path}.{ext}", "type": mime, "name": FORMAT_NAMES[ext],
             "ext": ext} for mime, ext in RDF_TYPES.items()]


def alternates_header(path: str) -> str:
    return ", ".join(f'<{a["href"]}>; rel="alternate"; type="{a["type"]}"' for a in alternates(path))


@bp.get("/context.jsonld")
def context():
    body = json.dumps({"@context": jsonld_context(get_kb().names)}, indent=1)
    resp = make_response(body, 200, {"Content-Type": "application/ld+json; charset=utf-8"})
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


# -- /page/: the HTML page -------------------------------------------------------------------------
@bp.get("/page/<type_>/<slug>")
def page_entity(type_: str, slug: str):
    return _page(_path(type_, slug))


@bp.get("/page/concept/<scheme>/<slug>")
def page_concept(scheme: str, slug: str):
    return _page(_concept_path(scheme, slug))


@bp.get("/page/concept/<scheme>")
def page_scheme(scheme: str):
    return _page(_concept_path(scheme))


def _page(path: str) -> Response:
    from endpoint.pages import entity_view

    kb = get_kb()
    try:
        desc = describe(kb, kb.names.id_ns + path, path, page=_page_number())
    except Merged as merged:
        return _moved(merged.survivor, "page")
    view = entity_view(kb, desc)
    template = "concept.html" if path.startswith("concept/") else "entity.html"
    body = render_template(template, v=view, d=desc, alternates=alternates(path))
    resp = make_response(body, 200, {"Content-Type": "text/html; charset=utf-8"})
    resp.headers["Link"] = alternates_header(path)
    return _conditional(resp, desc, "html")
