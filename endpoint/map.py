"""The map: ``/map`` (HTML, filtered by the browse facets) and its data twin ``/map.json`` (GeoJSON).

Country shapes, Leaflet and the marker clusters are static files (endpoint/static/map/, built by
endpoint/map-build/build.sh): no tile server, no CDN. The small map on entity and place pages uses the
same files (``minimap()`` below, endpoint/templates/_minimap.html).
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, make_response, render_template, request, stream_with_context
from flask_babel import gettext as _

from endpoint.pages import link_target, local_href, query_url
from endpoint.state import get_kb
from kb.index import mapdata
from kb.index.browse import FACETS
from kb.errors import BadRequest

bp = Blueprint("map", __name__)
OTHER_PARAMS = ("show", "lang")


def _request_filters() -> tuple[str, dict[str, list[str]]]:
    """(kind, facet filters) from the query string; unknown parameters are a 400 naming them."""
    kind = request.args.get("show") or "organisation"
    if kind not in mapdata.KINDS:
        raise BadRequest(f"unknown value for show: {kind[:50]!r}: use one of {', '.join(mapdata.KINDS)}")
    keys = [f.key for f in FACETS.get(kind, ())]
    unknown = sorted({k for k in request.args if k not in keys and k not in OTHER_PARAMS})
    if unknown:
        raise BadRequest(f"unknown parameter {', '.join(u[:50] for u in unknown)}: filters for {kind} are "
                         f"{', '.join(keys)}; also show ({' or '.join(mapdata.KINDS)})")
    return kind, {k: request.args.getlist(k) for k in keys if request.args.getlist(k)}


def _href(iri: str) -> str | None:
    return local_href(iri) or link_target(iri)


CHUNK = 1000  # features written at a time


def _geojson(result):
    """The FeatureCollection as text, a chunk of features at a time: made from the answer's compact
    arrays, with links, and let go once written (a whole map at 10M statements made as one list of
    dicts and one string took ~1.4 GB for the length of the request)."""
    dumps = current_app.json.dumps
    yield '{"features":['
    chunk, first = [], True
    for f in result.iter_features():
        f["properties"]["href"] = _href(f["properties"]["id"])
        chunk.append(dumps(f))
        if len(chunk) == CHUNK:
            yield ("" if first else ",") + ",".join(chunk)
            chunk, first = [], False
    if chunk:
        yield ("" if first else ",") + ",".join(chunk)
    rest = dumps({"type": "FeatureCollection", "kind": result.kind, "filters": result.selected,
                  "total": result.total, "placed": result.placed, "placed_by": result.how})
    yield "]," + rest[1:]


@bp.get("/map.json")
def map_json():
    kind, filters = _request_filters()
    result = mapdata.features(get_kb(), kind, filters)  # a bad filter is a 400 before anything is sent
    resp = Response(stream_with_context(_geojson(result)), mimetype="application/geo+json")  # RFC 7946
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


@bp.get("/map")
def map_page():
    kind, filters = _request_filters()
    result = mapdata.features(get_kb(), kind, filters)
    query = request.query_string.decode()
    data_url = request.script_root + "/map.json" + ("?" + query if query else "")
    rest = [(k, v) for k, v in request.args.items(multi=True) if k not in OTHER_PARAMS]
    browse_url = request.script_root + "/browse/" + kind + ("?" + urlencode(rest) if rest else "")
    body = render_template("map.html", r=result, kind=kind, kinds=mapdata.KINDS, data_url=data_url,
                           browse_url=browse_url)
    resp = make_response(body)
    resp.headers["Link"] = f'<{data_url}>; rel="alternate"; type="application/geo+json"'
    return resp


@bp.app_template_global("minimap")
def minimap(iri: str, coordinates: dict | None = None) -> dict | None:
    """The small map of an entity page: its own coordinates, else (a place) where the place is."""
    point = None
    if coordinates:
        try:
            point = (float(coordinates["lat"]), float(coordinates["long"]))
        except (KeyError, TypeError, ValueError):
            point = None
    if point is None and "/id/place/" in iri:  # other entities without coordinates: no map, no work
        point = mapdata.place_point(get_kb(), iri)
    if point is None or not (-90 <= point[0] <= 90 and -180 <= point[1] <= 180):
        return None
    href, caption = request.script_root + "/map", _("See all organisations on the map")
    if "/id/place/" in iri and mapdata.is_country(get_kb(), iri):
        href += "?" + urlencode({"country": iri.rstrip("/").rsplit("/", 1)[-1]})
        caption = _("See this country's organisations on the map")
    return {"lat": point[0], "long": point[1], "href": href, "label": _("On the map"), "caption": caption}


@bp.app_template_global("map_remove_url")
def map_remove_url(key: str, slug: str) -> str:
    """The current /map URL without one chosen facet value."""
    return query_url(**{key: [v for v in request.args.getlist(key) if v != slug]})
