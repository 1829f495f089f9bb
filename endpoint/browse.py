"""Browse and search pages, each with machine-readable twins.

``/browse/{type}[.csv|.json]``: faceted lists, facet state in the URL (``?area=health&country=spain``),
counts per facet value, sorting, paging. ``/search[.json]?q=&type=``: ranked full-text search.
"""

from __future__ import annotations

import csv
import io

from flask import Blueprint, jsonify, make_response, render_template, request
from markupsafe import Markup, escape

from endpoint.i18n import current_language
from endpoint.pages import link_target, local_href, query_url
from endpoint.params import int_arg
from endpoint.state import get_kb, get_settings
from kb.index.browse import BROWSE_TYPES, FACETS, listing, sort_menu
from kb.errors import BadRequest, NotFound
from kb.index.search import MARK_END, MARK_START, SEARCH_TYPES, find, lexicon

bp = Blueprint("browse", __name__)
PER_PAGE = 50


def _include_hidden() -> bool:
    return request.args.get("hidden") in ("1", "include", "true")


@bp.get("/browse/<name>")
def browse(name: str):
    type_, _, ext = name.partition(".")
    if ext not in ("", "csv", "json"):
        raise NotFound(f"no .{ext} form of this list: use .csv or .json")
    if type_ not in BROWSE_TYPES:
        raise NotFound(f"there is no list of {type_!r}: browse one of {', '.join(BROWSE_TYPES)}")
    keys = [f.key for f in FACETS.get(type_, ())]
    filters = {k: request.args.getlist(k) for k in keys if request.args.getlist(k)}
    allowed = ("sort", "order", "page", "per_page", "hidden", "lang")
    unknown = [k for k in request.args if k not in keys and k not in allowed]
    if unknown:
        raise BadRequest(f"unknown parameter {', '.join(unknown)}: filters for {type_} are "
                         f"{', '.join(keys) or 'none'}; also sort, order, page, per_page, lang")
    kb = get_kb()
    sort = request.args.get("sort") or "name"
    order = request.args.get("order") or None
    settings = get_settings()
    # the lists of the latest change, waited for DSIKB_INDEX_WAIT s, else the previous ones; with
    # none yet, DSIKB_QUERY_TIMEOUT s, then a 503 with Retry-After
    wait, fresh_wait = settings.query_timeout, settings.index_wait
    if ext == "csv":
        result = listing(kb, type_, filters=filters, sort=sort, order=order, page=1, per_page=500,
                         include_hidden=_include_hidden(), wait=wait, fresh_wait=fresh_wait)
        rows = result.rows
        for p in range(2, result.pages + 1):
            rows += listing(kb, type_, filters=filters, sort=sort, order=order, page=p, per_page=500,
                            include_hidden=_include_hidden(), wait=wait, fresh_wait=fresh_wait).rows
        return _csv(type_, rows, result)
    result = listing(kb, type_, filters=filters, sort=sort, order=order, page=int_arg("page", 1),
                     per_page=int_arg("per_page", PER_PAGE), include_hidden=_include_hidden(),
                     lang=current_language() if ext == "" else "en", wait=wait, fresh_wait=fresh_wait)
    if ext == "json":
        return jsonify(_json(result))
    body = render_template("browse.html", r=result, type_=type_, sorts=sort_menu(type_),
                           types=BROWSE_TYPES, rows=[_row_view(row) for row in result.rows],
                           active=_active_filters(result),
                           clear_all=query_url(**{k: None for k in result.selected}, page=None))
    resp = make_response(body)
    query = request.query_string.decode()
    suffix = ("?" + query) if query else ""
    resp.headers["Link"] = (f'<{request.script_root}/browse/{type_}.json{suffix}>; rel="alternate"; type="application/json", '
                            f'<{request.script_root}/browse/{type_}.csv{suffix}>; rel="alternate"; type="text/csv"')
    return resp


def _row_view(row) -> dict:
    return {"iri": row.iri, "href": local_href(row.iri) or link_target(row.iri), "label": row.label,
            "description": row.description, "line": row.line, "start": row.start, "hidden": row.hidden,
            "place": row.place, "derived_place": row.countries_derived and not row.cities,
            "kinds": row.kinds, "count": row.count, "added": row.added}


def _active_filters(result) -> list[dict]:
    """Each chosen facet value with the link that removes it (the same URL without that value)."""
    from endpoint.pages import query_url

    out = []
    labels = {f["key"]: f["label"] for f in result.facets}
    for key, slugs in result.selected.items():
        for slug in slugs:
            value = next((x for f in result.facets if f["key"] == key for x in f["values"] if x["slug"] == slug),
                         None)  # its label is in the visitor's language where the data has one
            out.append({"key": key, "facet": labels.get(key, key), "slug": slug,
                        "label": value["label"] if value else slug,
                        "remove": query_url(**{key: [s for s in slugs if s != slug], "page": None})})
    return out


def _json(result) -> dict:
    def page_url(p):
        from endpoint.pages import query_url
        return request.script_root + query_url(page=p)

    return {
        "type": result.type, "total": result.total, "page": result.page, "pages": result.pages,
        "per_page": result.per_page, "sort": result.sort, "filters": result.selected,
        "next": page_url(result.page + 1) if result.page < result.pages else None,
        "index": result.index,
        "items": [{"id": r.iri, "label": r.label, "description": r.description or None,
                   "start": r.start or None, "added": r.added or None, "place": r.place or None, "countries": r.countries,
                   "place_derived": r.countries_derived and not r.cities, "kinds": r.kinds,
                   ("projects" if result.type == "organisation" else "partners"): r.count,
                   "url": request.host_url.rstrip("/") + (local_href(r.iri) or ""),
                   **{k: sorted(v) for k, v in r.values.items()}} for r in result.rows],
        "facets": [{"key": f["key"], "label": f["label"],
                    "values": [{"value": x["slug"], "id": x["iri"], "label": x["label"], "count": x["count"]}
                               for x in f["values"]]} for f in result.facets],
    }


def _csv(type_: str, rows, result):
    keys = [f["key"] for f in result.facets]
    out = io.StringIO()
    writer = csv.writer(out)
    count = "projects" if type_ == "organisation" else "partners"
    writer.writerow(["id", "label", "description", "start", *keys, "place", "kind", count, "added"])
    for r in rows:
        writer.writerow([r.iri, r.label, r.description, r.start,
                         *["; ".join(sorted(result.value_labels.get(v, v) for v in r.values.get(k, ())))
                           for k in keys], r.place, "; ".join(r.kinds), r.count, r.added])
    resp = make_response(out.getvalue())
    resp.headers["Content-Type"] = "text/csv; charset=utf-8"
    resp.headers["Content-Disposition"] = f'inline; filename="dsi-{type_}.csv"'
    return resp


@bp.get("/search")
@bp.get("/search.json")
def search_page():
    as_json = request.path.endswith(".json")
    q = request.args.get("q", "").strip()
    type_ = request.args.get("type") or None
    if type_ is not None and type_ not in SEARCH_TYPES:
        raise BadRequest(f"unknown type {type_!r}: use one of {', '.join(SEARCH_TYPES)}")
    page = int_arg("page", 1) or 1
    per_page = min(int_arg("per_page", 20) or 20, 100)
    kb = get_kb()
    settings = get_settings()
    wait, fresh_wait = settings.query_timeout, settings.index_wait  # as /browse: the previous index meanwhile
    exact = request.args.get("exact") in ("1", "true")
    result = find(kb, q, type=type_, limit=per_page, offset=(page - 1) * per_page,
                  include_hidden=_include_hidden(), switch=not exact, wait=wait, fresh_wait=fresh_wait) if q else None
    total = result.total if result else 0
    pages = max(1, -(-total // per_page))
    if as_json:
        return jsonify({"q": q, "type": type_, "total": total, "page": page, "pages": pages,
                        "suggestion": result.suggestion if result else None,
                        "corrected": result.corrected if result else False,
                        "searched": result.searched if result else q,
                        "types": result.types if result else {},
                        "index": result.index if result else None,
                        "results": [{"id": h.iri, "type": h.type, "label": h.label, "snippet": _plain(h.snippet),
                                     "place": h.place or None,
                                     "url": request.host_url.rstrip("/") + (local_href(h.iri) or ""),
                                     "score": round(-h.score, 3)} for h in (result.hits if result else [])]})
    view = [{"href": local_href(h.iri) or link_target(h.iri), "label": h.label, "type": h.type,
             "snippet": _marked(h.snippet), "hidden": h.hidden, "place": h.place} for h in (result.hits if result else [])]
    if result is not None:  # the type menu: the types among the results (and the chosen one)
        menu = {t: result.types.get(t, 0) for t in SEARCH_TYPES if result.types.get(t) or t == type_}
    else:  # no query yet: the types the store has
        present = lexicon(kb, wait, fresh_wait).present_types()
        menu = {t: None for t in SEARCH_TYPES if t in present or t == type_}
    suggestion_href = query_url(q=result.suggestion, page=None, exact=None) if result and result.suggestion else None
    original_href = query_url(page=None, exact="1") if result and result.corrected else None
    return render_template("search.html", q=q, type_=type_, hits=view, total=total, page=page,
                           pages=pages, types=menu, result=result, suggestion_href=suggestion_href,
                           original_href=original_href, per_page=per_page)


def _plain(snippet: str) -> str:
    return snippet.replace(MARK_START, "").replace(MARK_END, "")


def _marked(snippet: str) -> Markup:
    """The snippet as HTML: its text escaped, the matched words in <mark>."""
    return Markup(str(escape(snippet)).replace(MARK_START, "<mark>").replace(MARK_END, "</mark>"))
