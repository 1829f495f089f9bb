"""``/stats``: every figure is its query's answer. Over the real store, the page's table, its CSV and its
JSON hold exactly the rows the SPARQL endpoint returns for the query shown under it; the "open in the
editor" link carries that query; the figures are computed once per store generation and follow writes
(a hidden organisation leaves its country's count). Charts in Chromium: tests/test_sparql_browser.py."""

from __future__ import annotations

import csv
import io
from urllib.parse import unquote

import html5lib
import pyoxigraph as ox
import pytest

from kb.publish import figures
from kb.publish.figures import FIGURES
from kb.terms import sparql_term

NAMES = [f.name for f in FIGURES]


@pytest.fixture(scope="module")
def page(app):
    r = app.test_client().get("/stats")
    assert r.status_code == 200 and r.mimetype == "text/html"
    return html5lib.parse(r.get_data(as_text=True), namespaceHTMLElements=False)


def sparql_answer(client, query: str) -> tuple[list[str], list[list]]:
    """The endpoint's answer to ``query`` (SPARQL JSON results), as variables and rows of plain values."""
    r = client.get("/sparql", query_string={"query": query},
                   headers={"Accept": "application/sparql-results+json"})
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    names = body["head"]["vars"]
    rows = []
    for b in body["results"]["bindings"]:
        row = []
        for v in names:
            term = b.get(v)
            if term is None:
                row.append(None)
            elif term.get("datatype") == "http://www.w3.org/2001/XMLSchema#integer":
                row.append(int(term["value"]))
            else:
                row.append(term["value"])
        rows.append(row)
    return names, rows


def html_table(page, name: str) -> list[list[str]]:
    table = page.find(f".//table[@id='table-{name}']")
    assert table is not None, f"no table for {name}"
    return [["".join(cell.itertext()).strip() for cell in tr] for tr in table.find("tbody")]


def section(page, name: str):
    found = page.find(f".//section[@id='{name}']")
    assert found is not None
    return found


@pytest.mark.parametrize("name", NAMES)
def test_each_figure_is_its_querys_answer(page, client, name):
    fig = figures.BY_NAME[name]
    names, rows = sparql_answer(client, fig.query)
    assert rows, f"{name}: the query found nothing in the real data"
    expected = [[str(row[names.index(fig.label)])] + [str(row[names.index(s)]) for s in fig.series] for row in rows]
    assert html_table(page, name) == expected
    json_rows = client.get(f"/stats/{name}.json").get_json()["rows"]
    assert json_rows == rows


@pytest.mark.parametrize("name", NAMES)
def test_csv_equals_the_table(page, client, name):
    fig = figures.BY_NAME[name]
    r = client.get(f"/stats/{name}.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    lines = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    header, body = lines[0], lines[1:]
    names, rows = sparql_answer(client, fig.query)
    assert header == names
    assert body == [["" if v is None else str(v) for v in row] for row in rows]
    shown = html_table(page, name)
    assert [[line[header.index(fig.label)]] + [line[header.index(s)] for s in fig.series] for line in body] == shown
    if fig.key:  # each label links to the page of the thing counted
        links = [a.get("href") for a in section(page, name).find(".//table").iter("a")]
        base = "https://w3id.org/dsi/"
        assert links == ["/" + line[header.index(fig.key)][len(base):] for line in body]


@pytest.mark.parametrize("name", NAMES)
def test_the_page_shows_the_query_and_opens_it_in_the_editor(page, name):
    fig = figures.BY_NAME[name]
    box = section(page, name)
    assert "".join(box.find(".//pre/code").itertext()) == fig.query
    link = next(a.get("href") for a in box.iter("a") if "open-in-editor" in (a.get("class") or ""))
    assert link.startswith("/sparql#query=")
    assert unquote(link[len("/sparql#query="):]) == fig.query
    csv_link = next(a.get("href") for a in box.iter("a") if a.get("href", "").endswith(".csv"))
    assert csv_link == f"/stats/{name}.csv"


def test_the_country_figure_agrees_with_the_organisation_list(client):
    """Organisations per country = what /browse/organisation counts for each country facet value
    (the figure also lists countries where only projects are)."""
    table = {row[0]: row[2] for row in client.get("/stats/country.json").get_json()["rows"] if row[2]}
    facets = client.get("/browse/organisation.json?per_page=1").get_json()["facets"]
    countries = next(f for f in facets if f["key"] == "country")
    assert {v["id"]: v["count"] for v in countries["values"]} == table


def test_unknown_figures_are_404_with_a_message(client):
    for path in ("/stats/nothing.csv", "/stats/country.xml", "/stats/nothing", "/stats/.csv"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert "country, area, technology" in r.get_data(as_text=True), path
    r = client.get("/stats/year")
    assert r.status_code == 303 and r.headers["Location"].endswith("/stats#year")


def test_home_links_to_the_figures(client):
    html = client.get("/").get_data(as_text=True)
    assert 'href="/stats#country"' in html and 'href="/stats"' in html
    assert 'href="/stats">Figures</a>' in client.get("/stats").get_data(as_text=True)


def test_figures_are_computed_once_per_generation_and_follow_writes(kb_copy):
    first = figures.figures(kb_copy)
    assert figures.figures(kb_copy) is first  # no query runs while the store is unchanged
    uk = ox.NamedNode("https://w3id.org/dsi/id/place/united-kingdom")
    before = {r[0]: r for r in first.tables["country"].rows}[uk.value]
    org = next(iter(kb_copy.raw_query(
        "SELECT ?o ?c WHERE { ?o a dsi:Organisation ; dsi:country ?c } ORDER BY ?o LIMIT 1",
        prefixes=kb_copy.names.prefixes(), substitutions={ox.Variable("c"): uk})))["o"]
    graph = ox.NamedNode(kb_copy.graphs.curated)
    hidden = ox.NamedNode("https://w3id.org/dsi/def/dsi#hidden")
    kb_copy.update(f"INSERT DATA {{ GRAPH {sparql_term(graph)} {{ {sparql_term(org)} {sparql_term(hidden)} true }} }}",
                   touched=[org])
    second = figures.figures(kb_copy)
    assert second is not first and second.generation != first.generation
    after = {r[0]: r for r in second.tables["country"].rows}[uk.value]
    assert after[2] == before[2] - 1  # the hidden organisation is not counted any more
