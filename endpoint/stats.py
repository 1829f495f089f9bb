"""``/stats``: the dataset in figures (organisations and projects per country, area of society,
technology trend and method, and year), each a chart, a table, a CSV download and the SPARQL query
whose answer it is, with a link that opens that query in the editor.

The numbers come from :mod:`kb.publish.figures`, computed once per store generation: no request runs a query.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, jsonify, make_response, redirect, render_template, request
from flask_babel import lazy_gettext as _l

from endpoint.pages import link_target, local_href
from endpoint.state import get_kb
from kb.publish import figures as kbfigures
from kb.errors import NotFound

bp = Blueprint("stats", __name__)

# What the page says about each figure (translated); the numbers and the query come from kb.publish.figures.
TEXT = {
    "country": (_l("Organisations and projects per country"),
                _l("Organisations by the country they are based in; projects by their own country, or else "
                   "by the countries of the organisations taking part."), _l("Country")),
    "area": (_l("Projects and organisations per area of society"),
             _l("Projects by the areas of society they address, and the organisations taking part in them."),
             _l("Area of society")),
    "technology": (_l("Projects and organisations per technology trend"),
                   _l("Projects by their technology focus (open data, open hardware, open networks, open "
                      "knowledge), and the organisations taking part in them."), _l("Technology trend")),
    "method": (_l("Projects and organisations per technology method"),
               _l("Projects by the technologies and methods they use, and the organisations taking part."),
               _l("Technology method")),
    "year": (_l("Organisations founded and projects started per year"),
             _l("By the year of their start date; only organisations and projects whose start is known."),
             _l("Year")),
}
SERIES = {"organisations": _l("Organisations"), "projects": _l("Projects")}


def editor_link(query: str) -> str:
    """The query editor opened on ``query`` (it runs it): ``/sparql#query=...``."""
    return request.script_root + "/sparql#query=" + quote(query, safe="")


def _view(table: kbfigures.Table) -> dict:
    """What the page shows of one figure: headings, rows (label, link, numbers), chart data."""
    fig = table.figure
    title, description, label_heading = TEXT[fig.name]
    labels = [str(v) for v in table.column(fig.label)]
    keys = table.column(fig.key) if fig.key else [None] * len(labels)
    series = [{"name": s, "label": str(SERIES.get(s, s)), "data": table.column(s)} for s in fig.series]
    rows = [{"label": label, "href": (local_href(key) or link_target(key)) if key else None,
             "numbers": [s["data"][i] for s in series]} for i, (label, key) in enumerate(zip(labels, keys))]
    return {"name": fig.name, "title": str(title), "description": str(description),
            "label_heading": str(label_heading), "series": series, "rows": rows, "query": fig.query,
            "editor": editor_link(fig.query), "csv": f"{request.script_root}/stats/{fig.name}.csv",
            "chart": {"name": fig.name, "horizontal": fig.horizontal, "labels": labels,
                      "series": [{"label": s["label"], "data": s["data"]} for s in series]}}


@bp.get("/stats")
def stats_page():
    kb = get_kb()
    computed = kbfigures.figures(kb)
    views = [_view(computed.tables[f.name]) for f in kbfigures.FIGURES]
    response = make_response(render_template("stats.html", figures=views))
    response.headers["Link"] = (f'<{request.script_root}/stats.json>; rel="alternate"; type="application/json"')
    return response


@bp.get("/stats.json")
def stats_json():
    kb = get_kb()
    computed = kbfigures.figures(kb)
    return jsonify({"generation": computed.generation,
                    "figures": [_json(computed.tables[f.name]) for f in kbfigures.FIGURES]})


def _json(table: kbfigures.Table) -> dict:
    fig = table.figure
    return {"name": fig.name, "title": fig.title, "query": fig.query, "columns": list(table.columns),
            "rows": [list(r) for r in table.rows], "csv": f"{request.script_root}/stats/{fig.name}.csv",
            "editor": editor_link(fig.query)}


@bp.get("/stats/<name>")
def figure_file(name: str):
    """``/stats/{figure}.csv`` (the table, as the query's variables and rows) or ``.json``;
    ``/stats/{figure}`` goes to the figure on the page."""
    figure, dot, ext = name.rpartition(".")
    if not dot and name in kbfigures.BY_NAME:
        return redirect(f"{request.script_root}/stats#{name}", 303)
    if not dot or ext not in ("csv", "json"):
        raise NotFound(f"no figure file {name!r}: ask for /stats/{{figure}}.csv or .json, with figure one of "
                       f"{', '.join(kbfigures.BY_NAME)}")
    table = kbfigures.table(get_kb(), figure)
    if ext == "json":
        return jsonify(_json(table))
    response = make_response(table.csv())
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'inline; filename="dsi-{figure}.csv"'
    return response
