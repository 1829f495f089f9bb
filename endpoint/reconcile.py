"""``/reconcile``: the W3C Reconciliation Service API 0.2 (OpenRefine), and ``/export/mixnmatch.tsv``.

The manifest on a plain GET; batched queries (``queries=`` as GET parameter or form POST) answered
with scored candidates; suggest for entities, types and properties; an HTML preview; CORS on every
response (and JSONP on GET for old clients). The scoring lives in :mod:`kb.reconcile`.
"""

from __future__ import annotations

import json
import math
import re

from flask import Blueprint, Response, jsonify, request
from markupsafe import escape

from endpoint.state import get_kb
from kb.index import reconcile as rc
from kb.errors import BadRequest, NotFound
from kb.terms import FieldProblem

bp = Blueprint("reconcile", __name__)

MAX_QUERIES = 500
MAX_LIMIT = 100
_CALLBACK = re.compile(r"^[A-Za-z_$][\w$.]{0,63}$")


@bp.after_request
def cors(response: Response) -> Response:
    """Reconciliation clients run in browsers on other origins: allow them (read-only service)."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = request.headers.get(
        "Access-Control-Request-Headers", "Content-Type")
    response.headers["Access-Control-Max-Age"] = "86400"
    return response


def _root() -> str:
    return request.url_root.rstrip("/")


def manifest() -> dict:
    kb = get_kb()
    root = _root()
    return {
        "versions": ["0.2"],
        "name": "Digital Social Innovation (DSI) knowledge base",
        "identifierSpace": kb.names.id_ns,
        "schemaSpace": kb.names.dsi_ns,
        "documentation": root + "/",
        "serviceVersion": "0.1",
        "defaultTypes": [{"id": t, "name": rc.TYPE_NAMES[t]} for t in rc.DEFAULT_TYPES],
        "view": {"url": "{{id}}"},
        "preview": {"url": root + "/reconcile/preview?id={{id}}", "width": 400, "height": 120},
        "suggest": {
            "entity": {"service_url": root + "/reconcile", "service_path": "/suggest/entity"},
            "type": {"service_url": root + "/reconcile", "service_path": "/suggest/type"},
            "property": {"service_url": root + "/reconcile", "service_path": "/suggest/property"},
        },
    }


def _reply(payload):
    """JSON, or JSONP when a GET names a ``callback``."""
    callback = request.args.get("callback")
    if callback and request.method == "GET":
        if not _CALLBACK.match(callback):
            raise BadRequest("callback must be a JavaScript identifier (letters, digits, _, $, .)")
        body = f"/**/{callback}({json.dumps(payload)});"
        return Response(body, mimetype="application/javascript")
    return jsonify(payload)


def _param(name: str) -> str | None:
    values = request.values.getlist(name)
    if len(values) > 1:
        raise BadRequest(f"the parameter {name!r} was given {len(values)} times; give it once")
    return values[0] if values else None


def _json_param(name: str, raw: str):
    from kb.nesting import json_depth

    json_depth(raw, MAX_JSON_DEPTH)  # 400 past it: json.loads recurses, 100,000 levels were a 500
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise BadRequest(f"{name} is not valid JSON: {exc}") from None


def _types(q: dict, names) -> tuple[str, ...]:
    raw = q.get("type")
    if raw is None:
        return ()
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for item in items:
        if not isinstance(item, str):
            raise BadRequest("type must be a type id or a list of type ids")
        tid = rc.type_id(item, names)
        if tid is None:
            raise BadRequest(f"unknown type {item!r}: use one of {', '.join(rc.TYPES)}")
        out.append(tid)
    return tuple(out)


MAX_JSON_DEPTH = 16  # a query batch nests 4 levels (batch, query, properties, property)


def _limit(value, default: int) -> int:
    if value is None:
        return default
    problem = FieldProblem("limit", f"must be a positive number, not {str(value)[:50]!r}", status=400)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise problem
    try:
        number = float(value)
    except ValueError:
        raise problem from None
    if not math.isfinite(number):  # inf, nan: int() of them raises OverflowError (a 500)
        raise problem
    n = int(min(number, MAX_LIMIT))
    if n < 1:
        raise problem
    return min(n, MAX_LIMIT)


def answer(q: dict, key: str = "query") -> list[dict]:
    """Candidates for one query object, after checking its shape."""
    if not isinstance(q, dict):
        raise BadRequest(f"query {key!r} must be a JSON object with 'query' and optional 'type', "
                         "'limit', 'properties'")
    unknown = set(q) - {"query", "type", "limit", "properties", "type_strict"}
    if unknown:
        raise BadRequest(f"query {key!r} has unknown member(s): {', '.join(sorted(unknown))}")
    text = q.get("query", "")
    props = q.get("properties") or []
    if not isinstance(text, str):
        raise BadRequest(f"query {key!r}: 'query' must be a string")
    if not isinstance(props, list) or not all(isinstance(p, dict) and isinstance(p.get("pid"), str) and "v" in p
                                              for p in props):
        raise BadRequest(f"query {key!r}: 'properties' must be a list of {{\"pid\": ..., \"v\": ...}}")
    if not text.strip() and not props:
        raise BadRequest(f"query {key!r} needs a non-empty 'query' or some 'properties'")
    kb = get_kb()
    return rc.score(rc.index(kb), text, types=_types(q, kb.names), properties=props,
                    limit=_limit(q.get("limit"), 5))


@bp.route("/reconcile", methods=["GET", "POST"])
def service():
    queries = _param("queries")
    single = _param("query")
    if queries is None and single is None:
        if request.method == "POST":
            raise BadRequest("POST a form with queries={\"q0\": {\"query\": \"...\"}} (a JSON object)")
        return _reply(manifest())
    if queries is not None:
        batch = _json_param("queries", queries)
        if not isinstance(batch, dict) or not batch:
            raise BadRequest("queries must be a non-empty JSON object of query objects, "
                             "e.g. {\"q0\": {\"query\": \"Nesta\"}}")
        if len(batch) > MAX_QUERIES:
            raise BadRequest(f"at most {MAX_QUERIES} queries per batch, got {len(batch)}")
        return _reply({key: {"result": answer(q, key)} for key, q in batch.items()})
    # Version 0.1 single query: a plain string or one query object.
    q = _json_param("query", single) if single.lstrip().startswith("{") else {"query": single}
    return _reply({"result": answer(q)})


@bp.get("/reconcile/suggest/entity")
def suggest_entity():
    kb = get_kb()
    prefix = _param("prefix") or ""
    types = _types({"type": _param("type")}, kb.names) if _param("type") else ()
    results = rc.suggest_entities(rc.index(kb), prefix, types=types, limit=_limit(_param("limit"), 10))
    return _reply({"result": results})


@bp.get("/reconcile/suggest/type")
def suggest_type():
    p = (_param("prefix") or "").strip().lower()
    results = [{"id": t, "name": name} for t, name in rc.TYPE_NAMES.items()
               if not p or t.startswith(p) or name.lower().startswith(p)]
    return _reply({"result": results})


@bp.get("/reconcile/suggest/property")
def suggest_property():
    p = (_param("prefix") or "").strip().lower()
    results = [{"id": pid, "name": name} for pid, name in rc.PROPERTIES.items()
               if not p or pid.lower().startswith(p) or p in name.lower()]
    return _reply({"result": results})


@bp.get("/reconcile/preview")
def preview():
    kb = get_kb()
    ident = (_param("id") or "").strip()
    if not ident:
        raise BadRequest("give the entity to preview: /reconcile/preview?id=<our URI or type/slug>")
    iri = ident if "://" in ident else kb.names.id_ns + ident.strip("/")
    e = rc.index(kb).entities.get(iri)
    if e is None:
        raise NotFound(f"no public entity {ident!r} (ids are our URIs, e.g. {kb.names.id_ns}organisation/nesta)")
    parts = [f'<div style="font: 13px sans-serif"><strong><a href="{escape(e.iri)}" target="_blank">'
             f"{escape(e.label)}</a></strong> <em>{escape(rc.TYPE_NAMES[e.type])}</em>"]
    if e.country_label:
        parts.append(f"<br>{escape(e.country_label)}")
    if e.websites:
        parts.append(f'<br><a href="{escape(e.websites[0])}" target="_blank">{escape(e.websites[0])}</a>')
    if e.description:
        parts.append(f"<p>{escape(e.description)}</p>")
    parts.append("</div>")
    html = f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(e.label)}</title></head>" \
           f"<body>{''.join(parts)}</body></html>"
    return Response(html, mimetype="text/html")


@bp.get("/export/mixnmatch.tsv")
def mixnmatch():
    """Mix'n'match catalogue of one type (default organisation): id (our slug), name, description,
    url, type (a Wikidata class). One catalogue per proposed Wikidata property."""
    kb = get_kb()
    wanted = _param("type") or "organisation"
    type_ = rc.type_id(wanted, kb.names)
    if type_ is None:
        raise BadRequest(f"unknown type {wanted!r}: use one of {', '.join(rc.TYPES)}")

    def clean(value: str) -> str:
        return " ".join((value or "").split())

    lines = ["id\tname\tdescription\turl\ttype"]
    for row in rc.mixnmatch_rows(rc.index(kb), type_):
        lines.append("\t".join(clean(v) for v in row))
    body = "\n".join(lines) + "\n"
    return Response(body, mimetype="text/tab-separated-values",
                    headers={"Content-Disposition": f"inline; filename=dsi-mixnmatch-{type_}.tsv"})
