"""The figures of ``/stats``: each one is the answer of one SPARQL query, evaluated as the endpoint
evaluates it (over the store's default graph, the public view: kb/store/publicview.py), once per store
generation and kept until the next write, so that pages and CSV downloads read a table and never run
the queries per request.

The query text is what the page shows and what "open in the editor" opens: the numbers on the page
are that query's answer, nothing else. ``#defaultView:BarChart`` (as on the Wikidata Query Service)
makes the editor show its answer as a chart.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import pyoxigraph as ox

from kb.errors import NotFound
from kb.store.generational import PerGeneration

XSD = "http://www.w3.org/2001/XMLSchema#"
NUMERIC = {XSD + t for t in ("integer", "decimal", "double", "float", "int", "long", "short", "byte",
                             "nonNegativeInteger", "positiveInteger", "unsignedInt", "unsignedLong")}
FRACTIONAL = {XSD + t for t in ("decimal", "double", "float")}

COUNTRY = """# Organisations and projects per country
# Public organisations by the country they are based in; public projects by their own country, or
# else by the countries of the organisations taking part.
#defaultView:BarChart
PREFIX dsi: <https://w3id.org/dsi/def/dsi#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>

SELECT ?country ?label ?organisations ?projects
WHERE {
  { SELECT ?country (COUNT(DISTINCT ?organisation) AS ?organisations)
           (COUNT(DISTINCT ?project) AS ?projects)
    WHERE {
      { ?organisation a dsi:Organisation ; dsi:country ?country .
        FILTER NOT EXISTS { ?organisation dsi:hidden true } }
      UNION
      { ?project a dsi:Project ; dsi:country ?country .
        FILTER NOT EXISTS { ?project dsi:hidden true } }
      UNION
      { ?project a dsi:Project .
        FILTER NOT EXISTS { ?project dsi:hidden true }
        FILTER NOT EXISTS { ?project dsi:country ?own }
        ?partner dsi:takesPartIn ?project ; dsi:country ?country . }
    }
    GROUP BY ?country }
  ?country rdfs:label ?label .
}
ORDER BY DESC(?organisations) DESC(?projects) ?label
"""


AREA = """# Projects and organisations per area of society
# Public projects by the areas of society they address (dsi:areaOfSociety), and the public
# organisations taking part in them.
#defaultView:BarChart
PREFIX dsi: <https://w3id.org/dsi/def/dsi#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>

SELECT ?area ?label ?projects ?organisations
WHERE {
  { SELECT ?area (COUNT(DISTINCT ?project) AS ?projects)
           (COUNT(DISTINCT ?organisation) AS ?organisations)
    WHERE {
      ?project a dsi:Project ; dsi:areaOfSociety ?area .
      FILTER NOT EXISTS { ?project dsi:hidden true }
      OPTIONAL { ?organisation dsi:takesPartIn ?project ; a dsi:Organisation .
                 FILTER NOT EXISTS { ?organisation dsi:hidden true } }
    }
    GROUP BY ?area }
  ?area skos:prefLabel ?label .
  FILTER(LANGMATCHES(LANG(?label), "en"))
}
ORDER BY DESC(?projects) ?label
"""

TECHNOLOGY = """# Projects and organisations per technology trend
# Public projects by their technology focus (dsi:technologyFocus: open data, open hardware, open
# networks, open knowledge), and the public organisations taking part in them.
#defaultView:BarChart
PREFIX dsi: <https://w3id.org/dsi/def/dsi#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>

SELECT ?technology ?label ?projects ?organisations
WHERE {
  { SELECT ?technology (COUNT(DISTINCT ?project) AS ?projects)
           (COUNT(DISTINCT ?organisation) AS ?organisations)
    WHERE {
      ?project a dsi:Project ; dsi:technologyFocus ?technology .
      FILTER NOT EXISTS { ?project dsi:hidden true }
      OPTIONAL { ?organisation dsi:takesPartIn ?project ; a dsi:Organisation .
                 FILTER NOT EXISTS { ?organisation dsi:hidden true } }
    }
    GROUP BY ?technology }
  ?technology skos:prefLabel ?label .
  FILTER(LANGMATCHES(LANG(?label), "en"))
}
ORDER BY DESC(?projects) ?label
"""

METHOD = """# Projects and organisations per technology method
# Public projects by the technologies and methods they use (dsi:technologyMethod), and the public
# organisations taking part in them.
#defaultView:BarChart
PREFIX dsi: <https://w3id.org/dsi/def/dsi#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>

SELECT ?method ?label ?projects ?organisations
WHERE {
  { SELECT ?method (COUNT(DISTINCT ?project) AS ?projects)
           (COUNT(DISTINCT ?organisation) AS ?organisations)
    WHERE {
      ?project a dsi:Project ; dsi:technologyMethod ?method .
      FILTER NOT EXISTS { ?project dsi:hidden true }
      OPTIONAL { ?organisation dsi:takesPartIn ?project ; a dsi:Organisation .
                 FILTER NOT EXISTS { ?organisation dsi:hidden true } }
    }
    GROUP BY ?method }
  ?method skos:prefLabel ?label .
  FILTER(LANGMATCHES(LANG(?label), "en"))
}
ORDER BY DESC(?projects) ?label
"""

YEAR = """# Organisations founded and projects started per year
# Public organisations and projects by the year of their dsi:startDate (only those whose start is
# known are counted).
#defaultView:BarChart
PREFIX dsi: <https://w3id.org/dsi/def/dsi#>

SELECT ?year (COUNT(DISTINCT ?organisation) AS ?organisations) (COUNT(DISTINCT ?project) AS ?projects)
WHERE {
  { ?organisation a dsi:Organisation ; dsi:startDate ?start .
    FILTER NOT EXISTS { ?organisation dsi:hidden true } }
  UNION
  { ?project a dsi:Project ; dsi:startDate ?start .
    FILTER NOT EXISTS { ?project dsi:hidden true } }
  BIND(YEAR(?start) AS ?year)
  FILTER(BOUND(?year))
}
GROUP BY ?year
ORDER BY ?year
"""


@dataclass(frozen=True)
class Figure:
    """One figure: ``name`` (in URLs), its query, the variable naming each bar (``label``), the one
    holding the thing counted (``key``, an IRI, or None), the numeric variables drawn (``series``),
    and whether the bars lie (``horizontal``: long category names) or stand (years)."""

    name: str
    query: str
    label: str
    key: str | None
    series: tuple[str, ...]
    horizontal: bool = True

    @property
    def title(self) -> str:
        return self.query.splitlines()[0].lstrip("# ").strip()


FIGURES: tuple[Figure, ...] = (
    Figure("country", COUNTRY, "label", "country", ("organisations", "projects")),
    Figure("area", AREA, "label", "area", ("projects", "organisations")),
    Figure("technology", TECHNOLOGY, "label", "technology", ("projects", "organisations")),
    Figure("method", METHOD, "label", "method", ("projects", "organisations")),
    Figure("year", YEAR, "year", None, ("organisations", "projects"), horizontal=False),
)
BY_NAME = {f.name: f for f in FIGURES}


@dataclass(frozen=True)
class Table:
    """A query's answer: its variables and rows of plain values (str, int or float; None if unbound)."""

    figure: Figure
    columns: tuple[str, ...]
    rows: tuple[tuple, ...]

    def column(self, name: str) -> list:
        i = self.columns.index(name)
        return [row[i] for row in self.rows]

    def csv(self) -> str:
        """The table as CSV (RFC 4180): the variables as the header, one line per row."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(self.columns)
        writer.writerows(["" if v is None else v for v in row] for row in self.rows)
        return out.getvalue()


@dataclass(frozen=True)
class Figures:
    generation: int
    tables: dict[str, Table]


def plain(term) -> str | int | float | None:
    """A result term as a plain value: numbers as numbers, everything else as its lexical form."""
    if term is None:
        return None
    if isinstance(term, ox.Literal) and term.datatype.value in NUMERIC:
        try:
            return float(term.value) if term.datatype.value in FRACTIONAL else int(term.value)
        except ValueError:
            return term.value
    return term.value


def evaluate(kb, query: str) -> tuple[tuple[str, ...], tuple[tuple, ...]]:
    """Run ``query`` as the SPARQL endpoint does: over the store's default graph (the public view),
    or the union of the named graphs for a remote store (kb/sparql/evaluate.py)."""
    from kb.store import publicview

    results = kb.query(query, union=publicview.union_default(kb), prologue=False)
    columns = tuple(v.value for v in results.variables)
    rows = tuple(tuple(plain(solution[name]) for name in columns) for solution in results)
    return columns, rows


def _build(kb, generation: int) -> Figures:
    tables = {}
    for figure in FIGURES:
        columns, rows = evaluate(kb, figure.query)
        tables[figure.name] = Table(figure, columns, rows)
    return Figures(generation, tables)


figures = PerGeneration(_build)


def table(kb, name: str) -> Table:
    """One figure's table, from the current generation's precomputed figures."""
    if name not in BY_NAME:
        raise NotFound(f"there is no figure {name!r}: the figures are {', '.join(BY_NAME)}")
    return figures(kb).tables[name]
