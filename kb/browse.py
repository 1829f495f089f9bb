"""Faceted lists of entities: filter by facet values, count per value, sort, page.

One table per entity type is read from the store with a few SPARQL queries and kept in memory until
the store's generation changes; filtering, counting and paging then run over that table. Facets AND
together (each chosen value narrows the list); counts are over the current, filtered list. Hidden
(spam, test) entities are left out of lists and counts unless asked for.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from kb.errors import BadRequest, NotFound
from kb.store import KB

BROWSE_TYPES = {"organisation": "Organisation", "project": "Project", "activity": "Activity",
                "event": "Event", "place": "Place", "person": "Person"}


@dataclass(frozen=True)
class Facet:
    """A facet: its URL parameter, label, and the SPARQL path from an entity to a value."""

    key: str
    label: str
    path: str


AREA = Facet("area", "Area of society", "dsi:areaOfSociety")
TECH = Facet("technology", "Technology focus", "dsi:technologyFocus")
COUNTRY = Facet("country", "Country", "dsi:country")
ORG_TYPE = Facet("type", "Organisation type", "dsi:organisationType")
FACETS = {
    "organisation": (ORG_TYPE, COUNTRY,
                     Facet("area", "Area of society (of its projects)", "dsi:areaOfSociety|(dsi:takesPartIn/dsi:areaOfSociety)"),
                     Facet("technology", "Technology focus (of its projects)", "dsi:technologyFocus|(dsi:takesPartIn/dsi:technologyFocus)")),
    "project": (AREA, TECH, COUNTRY, Facet("activity", "Activity type", "dsi:activityType")),
}
SORTS = {"label": "name A–Z", "-label": "name Z–A", "-start": "newest first", "start": "oldest first"}
MAX_PER_PAGE = 500


@dataclass
class Row:
    iri: str
    label: str
    description: str = ""
    start: str = ""
    hidden: bool = False
    values: dict[str, set] = field(default_factory=dict)


@dataclass
class Table:
    rows: list[Row]
    value_labels: dict[str, str]


@dataclass
class Listing:
    type: str
    rows: list[Row]
    total: int
    page: int
    pages: int
    per_page: int
    sort: str
    selected: dict[str, list[str]]  # facet key -> chosen value slugs
    facets: list[dict]  # {key, label, values: [{slug, iri, label, count, selected}]}
    value_labels: dict[str, str]


_cache: dict[tuple, Table] = {}
_lock = threading.Lock()


def slug_of(iri: str) -> str:
    return iri.rstrip("/").rsplit("/", 1)[-1]


def table(kb: KB, type_: str) -> Table:
    """All entities of a type with their facet values (cached per store generation)."""
    if type_ not in BROWSE_TYPES:
        raise NotFound(f"there is no list of {type_!r}: browse one of {', '.join(BROWSE_TYPES)}")
    key = (id(kb.store), kb.generation, type_)
    with _lock:
        cached = _cache.get(key)
        if cached is not None:
            return cached
        for old in [k for k in _cache if k[0] == key[0] and k[1] != key[1]]:
            del _cache[old]
        built = _build(kb, type_)
        _cache[key] = built
        return built


def _build(kb: KB, type_: str) -> Table:
    cls = kb.names.dsi(BROWSE_TYPES[type_])
    rows: dict[str, Row] = {}
    query = f"""
    SELECT ?s (SAMPLE(?l) AS ?label) (SAMPLE(COALESCE(?sd, ?dd)) AS ?desc) (MIN(STR(?start)) AS ?from) (MAX(?h) AS ?hidden)
    WHERE {{
      ?s a <{cls}> FILTER(isIRI(?s))
      OPTIONAL {{ ?s rdfs:label ?l }}
      OPTIONAL {{ ?s dsi:shortDescription ?sd }}
      OPTIONAL {{ ?s dcterms:description ?dd }}
      OPTIONAL {{ ?s dsi:startDate ?start }}
      OPTIONAL {{ ?s dsi:hidden ?hv BIND(IF(?hv, 1, 0) AS ?h) }}
      FILTER NOT EXISTS {{ ?s dsi:mergedInto ?survivor }}
      FILTER NOT EXISTS {{ ?s dsi:withdrawn ?when }}
    }} GROUP BY ?s"""
    for r in kb.select(query):
        iri = r["s"].value
        rows[iri] = Row(iri, r["label"].value if "label" in r else slug_of(iri),
                        r["desc"].value if "desc" in r else "",
                        r["from"].value if "from" in r else "",
                        bool(int(r["hidden"].value)) if "hidden" in r else False)
    value_labels: dict[str, str] = {}
    for facet in FACETS.get(type_, ()):
        q = f"""SELECT DISTINCT ?s ?v ?vl WHERE {{
            ?s a <{cls}> ; {facet.path} ?v . FILTER(isIRI(?v))
            OPTIONAL {{ ?v rdfs:label|skos:prefLabel ?vl }} }}"""
        for r in kb.select(q):
            row = rows.get(r["s"].value)
            if row is None:
                continue
            v = r["v"].value
            row.values.setdefault(facet.key, set()).add(v)
            if "vl" in r and (v not in value_labels or r["vl"].language in (None, "en")):
                value_labels[v] = r["vl"].value
    ordered = sorted(rows.values(), key=lambda row: (row.label.casefold(), row.iri))
    return Table(ordered, value_labels)


def listing(kb: KB, type_: str, *, filters: dict[str, list[str]] | None = None, sort: str = "label",
            page: int = 1, per_page: int = 50, include_hidden: bool = False) -> Listing:
    """One page of the list of ``type_`` narrowed by ``filters`` (facet key -> value slugs)."""
    tab = table(kb, type_)
    facets = FACETS.get(type_, ())
    known = {f.key for f in facets}
    filters = {k: [v for v in vs if v] for k, vs in (filters or {}).items() if vs}
    unknown = set(filters) - known
    if unknown:
        raise BadRequest(f"unknown facet {', '.join(sorted(unknown))} for {type_}: "
                         f"use {', '.join(sorted(known)) or 'none'}")
    if sort not in SORTS:
        raise BadRequest(f"unknown sort {sort!r}: use one of {', '.join(SORTS)}")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise BadRequest(f"per_page must be between 1 and {MAX_PER_PAGE}")
    rows = [r for r in tab.rows if include_hidden or not r.hidden]
    for key, slugs in filters.items():
        wanted = set(slugs)
        rows = [r for r in rows if wanted <= {slug_of(v) for v in r.values.get(key, ())}]
    if sort in ("start", "-start"):
        dated = [r for r in rows if r.start]
        undated = [r for r in rows if not r.start]
        dated.sort(key=lambda r: r.start, reverse=sort == "-start")
        rows = dated + undated
    elif sort == "-label":
        rows = list(reversed(rows))
    facet_out = []
    for facet in facets:
        counts: dict[str, int] = {}
        for r in rows:
            for v in r.values.get(facet.key, ()):
                counts[v] = counts.get(v, 0) + 1
        chosen = set(filters.get(facet.key, ()))
        values = [{"iri": v, "slug": slug_of(v), "label": tab.value_labels.get(v, slug_of(v)),
                   "count": c, "selected": slug_of(v) in chosen}
                  for v, c in counts.items()]
        values.sort(key=lambda x: (not x["selected"], -x["count"], x["label"].casefold()))
        facet_out.append({"key": facet.key, "label": facet.label, "values": values})
    total = len(rows)
    pages = max(1, -(-total // per_page))
    if page < 1 or page > pages:
        raise NotFound(f"page {page} does not exist: this list has {pages} page(s)")
    start = (page - 1) * per_page
    return Listing(type_, rows[start:start + per_page], total, page, pages, per_page, sort,
                   filters, facet_out, tab.value_labels)
