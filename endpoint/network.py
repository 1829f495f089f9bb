"""``/network``: the network of organisations drawn with sigma.js, and ``/network.json``, its data.

Both take the organisation list's facets (``?type=&country=&area=&technology=``, value slugs,
repeatable, ANDed as in /browse). The JSON has the nodes (with positions computed on the server, so the
browser draws at once), the links, each node's figures and community, and counts per facet value;
it is computed with bound terms only (kb/publish/network.py) and kept per store generation, with an ETag.
"""

from __future__ import annotations

import hashlib
import json
from urllib.parse import urlencode

import pyoxigraph as ox
from flask import Blueprint, make_response, render_template, request

from endpoint.pages import local_href
from endpoint.state import get_kb, get_settings
from kb.publish import network as kbnetwork
from kb.publish import network_job
from kb.index.browse import FACETS
from kb.errors import BadRequest
from kb.terms import sparql_term

bp = Blueprint("network", __name__)
KEYS = [f.key for f in FACETS["organisation"]]
IGNORED = ("lang",)  # the interface language (endpoint/i18n.py), not a filter
MAX_VALUE = 200  # characters of one facet value: slugs are short


def _filters() -> dict[str, list[str]]:
    unknown = sorted(k for k in request.args if k not in KEYS and k not in IGNORED)
    if unknown:
        raise BadRequest(f"unknown parameter {', '.join(unknown)[:200]}: the network filters by "
                         f"{', '.join(KEYS)} (value slugs, as in /browse/organisation)")
    filters = {k: request.args.getlist(k) for k in KEYS if request.args.getlist(k)}
    for k, values in filters.items():
        if any(len(v) > MAX_VALUE for v in values):
            raise BadRequest(f"{k}: a value is longer than {MAX_VALUE} characters")
    return filters


def _etag(generation: int, refreshing: bool = False) -> str:
    query = json.dumps(sorted(request.args.items(multi=True)), ensure_ascii=True)
    return f"net-{generation}{'-r' if refreshing else ''}-{hashlib.sha256(query.encode()).hexdigest()[:16]}"


def _view(filters: dict[str, list[str]]) -> dict:
    """The view of the network of the current generation, or of an older one while the current one is
    computed in the background (``refreshing``, ``current_generation``); 503 with Retry-After when
    none is computed yet and the job did not finish within the query timeout (kb/publish/network_job.py)."""
    kb = get_kb()
    wait = get_settings().query_timeout
    net, refreshing = network_job.current(kb, wait=wait)
    data = kbnetwork.view(kb, filters, net=net, wait=wait)
    return data | {"refreshing": refreshing, "current_generation": max(kb.generation, data["generation"])}


@bp.get("/network.json")
def network_json():
    data = _view(_filters())
    etag = _etag(data["generation"], data["refreshing"])
    if request.if_none_match.contains(etag):
        resp = make_response("", 304)
        resp.set_etag(etag)
        return resp
    nodes = [n | {"url": local_href(n["id"])} for n in data["nodes"]]  # a path on this server
    resp = make_response(json.dumps(data | {"nodes": nodes}, ensure_ascii=False, separators=(",", ":")))
    resp.headers["Content-Type"] = "application/json"
    resp.set_etag(etag)
    resp.headers["Cache-Control"] = "no-cache"  # revalidate: the ETag changes with the store
    return resp


@bp.get("/network")
def network_page():
    filters = _filters()
    data = _view(filters)
    query = request.query_string.decode("ascii", "replace")
    src = request.script_root + "/network.json" + ("?" + query if query else "")
    bridges = sorted((n for n in data["nodes"] if n["links"] > 1),
                     key=lambda n: (-n["links"], -n["betweenness"], n["label"].casefold()))[:15]
    central = sorted(data["nodes"], key=lambda n: (-n["betweenness"], -n["degree"], n["label"].casefold()))[:15]
    shown_communities = sorted({n["community"] for n in data["nodes"]})
    kb = get_kb()
    example = (f"SELECT ?organisation ?name ?degree ?betweenness ?community WHERE {{\n"
               f"  GRAPH {sparql_term(ox.NamedNode(kb.graphs.network))} {{ ?organisation dsi:degree ?degree ; dsi:betweenness ?betweenness ;\n"
               f"    dsi:community ?c . ?c rdfs:label ?community }}\n"
               f"  ?organisation rdfs:label ?name\n}} ORDER BY DESC(?betweenness) LIMIT 20")
    resp = make_response(render_template(
        "network.html", data=data, src=src, graph=kb.graphs.network,
        sparql_href=request.script_root + "/sparql?" + urlencode({"query": example}), bridges=[n | {"href": local_href(n["id"])} for n in bridges],
        central=[n | {"href": local_href(n["id"])} for n in central], filters=filters,
        communities=[c for c in data["communities"] if c["number"] in set(shown_communities)][:12]))
    resp.headers["Link"] = f'<{src}>; rel="alternate"; type="application/json"'
    return resp
