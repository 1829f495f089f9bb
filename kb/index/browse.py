"""Faceted lists of entities: filter by facet values, count per value, sort, page.

One table per entity type is read from the store with a few SPARQL queries and kept in memory until
the store's generation changes; filtering, counting and paging then run over that table. Facets AND
together (each chosen value narrows the list); counts are over the current, filtered list. Hidden
(spam, test) entities are left out of lists and counts unless asked for.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field

import pyoxigraph as ox

from kb.errors import BadRequest, NotFound
from kb.namespaces import STANDARD_PREFIXES
from kb.store import KB

def N_(text: str) -> str:  # noqa: N802 - the gettext marker: `make translations` extracts the string,
    return text  # the page translates it where it shows it (kb/ never imports Flask; docs/i18n.md)


BROWSE_TYPES = {"organisation": "Organisation", "project": "Project", "activity": "Activity",
                "event": "Event", "place": "Place", "person": "Person"}


@dataclass(frozen=True)
class Facet:
    """A facet: its URL parameter, label, the dsi property, and whether organisations inherit the
    values of the projects they take part in."""

    key: str
    label: str
    prop: str
    via_projects: bool = False


AREA = Facet("area", N_("Area of society"), "areaOfSociety")
TECH = Facet("technology", N_("Technology focus"), "technologyFocus")
COUNTRY = Facet("country", N_("Country"), "country")
ORG_TYPE = Facet("type", N_("Organisation type"), "organisationType")
FACETS = {
    "organisation": (ORG_TYPE, COUNTRY,
                     Facet("area", N_("Area of society (of its projects)"), "areaOfSociety", True),
                     Facet("technology", N_("Technology focus (of its projects)"), "technologyFocus", True)),
    "project": (AREA, TECH, COUNTRY, Facet("activity", N_("Activity type"), "activityType")),
}
SORTS = {"label": N_("name A–Z"), "-label": N_("name Z–A"), "-start": N_("newest first"), "start": N_("oldest first")}
MAX_PER_PAGE = 500


@dataclass
class Row:
    iri: str
    label: str
    description: str = ""
    start: str = ""
    hidden: bool = False
    values: dict[str, set] = field(default_factory=dict)  # facet key -> value IRIs
    slugs: dict[str, set] = field(default_factory=dict)  # facet key -> value slugs


@dataclass
class Table:
    rows: list[Row]
    value_labels: dict[str, str]
    memo: dict = field(default_factory=dict)  # unfiltered counts and orders, computed once
    labels_in: dict[str, dict[str, str]] = field(default_factory=dict)  # language -> value IRI -> label


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


_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # KB -> (generation, {type: Table})
_lock = threading.Lock()
_memo_lock = threading.Lock()


def slug_of(iri: str) -> str:
    return iri.rstrip("/").rsplit("/", 1)[-1]


def table(kb: KB, type_: str) -> Table:
    """All entities of a type with their facet values (cached per store generation)."""
    if type_ not in BROWSE_TYPES:
        raise NotFound(f"there is no list of {type_!r}: browse one of {', '.join(BROWSE_TYPES)}")
    generation = kb.generation
    with _lock:
        tables = _cache.get(kb)
        if tables is None or tables[0] != generation:
            tables = (generation, {})
            _cache[kb] = tables
        if type_ not in tables[1]:
            tables[1][type_] = _build(kb, type_)
        return tables[1][type_]


def _scan(kb: KB, predicate: str, cls: ox.NamedNode | None = None):
    """(subject, object) of every statement with ``predicate`` (of a subject of class ``cls``):
    one index scan, through SPARQL, which hands rows to Python faster than quads_for_pattern."""
    bind = {ox.Variable("p"): ox.NamedNode(predicate)}
    if cls is not None:
        bind[ox.Variable("c")] = cls
    query = "SELECT ?s ?o ?p ?c WHERE { ?s a ?c . ?s ?p ?o }" if cls is not None else "SELECT ?s ?o ?p WHERE { ?s ?p ?o }"
    for row in kb.query(query, prologue=False, substitutions=bind):
        yield row[0], row[1]


def _build(kb: KB, type_: str) -> Table:
    """Read the table with index scans (no SPARQL joins): flat cost per statement."""
    n = kb.names
    rdf, rdfs, dcterms, skos = (STANDARD_PREFIXES[p] for p in ("rdf", "rdfs", "dcterms", "skos"))
    cls = ox.NamedNode(n.dsi(BROWSE_TYPES[type_]))
    members = {q.subject for q in kb.quads(None, ox.NamedNode(rdf + "type"), cls, None)
               if isinstance(q.subject, ox.NamedNode)}
    gone = {s for s, _ in _scan(kb, n.dsi("mergedInto"))} | {s for s, _ in _scan(kb, n.dsi("withdrawn"))}
    members -= gone
    labels = _best_literals(_scan(kb, rdfs + "label", cls), members)
    short = _best_literals(_scan(kb, n.dsi("shortDescription"), cls), members)
    long = _best_literals(_scan(kb, dcterms + "description", cls), members)
    starts: dict = {}
    for s_, o in _scan(kb, n.dsi("startDate"), cls):
        if s_ in members and (s_ not in starts or o.value < starts[s_]):
            starts[s_] = o.value
    hidden = {s_ for s_, o in _scan(kb, n.dsi("hidden")) if s_ in members and o.value == "true"}
    rows = {m: Row(m.value, labels.get(m) or slug_of(m.value), short.get(m) or long.get(m) or "",
                   starts.get(m, ""), m in hidden) for m in members}
    value_labels: dict[str, str] = {}
    facets = FACETS.get(type_, ())
    if any(f.via_projects for f in facets):
        takes_part = [(s_, o) for s_, o in _scan(kb, n.dsi("takesPartIn"), cls) if s_ in rows]
    for facet in facets:
        scope = None if facet.via_projects else cls
        pairs = [(s_, o) for s_, o in _scan(kb, n.dsi(facet.prop), scope) if isinstance(o, ox.NamedNode)]
        if facet.via_projects:
            by_project: dict = {}
            for s_, o in pairs:
                by_project.setdefault(s_, set()).add(o)
            pairs += [(org, v) for org, proj in takes_part for v in by_project.get(proj, ())]
        for s_, v in pairs:
            row = rows.get(s_)
            if row is None:
                continue
            row.values.setdefault(facet.key, set()).add(v.value)
            row.slugs.setdefault(facet.key, set()).add(slug_of(v.value))
            value_labels.setdefault(v.value, "")
    labels_in: dict[str, dict[str, str]] = {}
    for iri in value_labels:
        node = ox.NamedNode(iri)
        found = [q.object for p in (rdfs + "label", skos + "prefLabel")
                 for q in kb.quads(node, ox.NamedNode(p), None, None)]
        value_labels[iri] = _pick(found) or slug_of(iri)
        for lit in found:  # the label in each language, for visitors who read it (English is the fallback)
            if isinstance(lit, ox.Literal) and lit.language:
                labels_in.setdefault(lit.language, {}).setdefault(iri, lit.value)
    ordered = sorted(rows.values(), key=lambda row: (row.label.casefold(), row.iri))
    return Table(ordered, value_labels, labels_in=labels_in)


def _pick(literals) -> str | None:
    found = [lit for lit in literals if isinstance(lit, ox.Literal)]
    found.sort(key=lambda lit: (lit.language not in (None, "en"), lit.language or "", lit.value))
    return found[0].value if found else None


def _best_literals(pairs, members: set) -> dict:
    """subject -> its best literal (English or untagged first) among ``members``."""
    by: dict = {}
    for s_, o in pairs:
        if s_ in members:
            by.setdefault(s_, []).append(o)
    return {s_: _pick(lits) for s_, lits in by.items()}


def listing(kb: KB, type_: str, *, filters: dict[str, list[str]] | None = None, sort: str = "label",
            page: int = 1, per_page: int = 50, include_hidden: bool = False, lang: str = "en") -> Listing:
    """One page of the list of ``type_`` narrowed by ``filters`` (facet key -> value slugs); facet
    value labels in ``lang`` where the data has them, else English."""
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
    rows = _ordered(tab, sort, include_hidden)
    if filters:
        rows, all_counts = _filtered(tab, facets, rows, filters, sort, include_hidden)
    else:
        all_counts = _memo(tab, ("counts", include_hidden), lambda: _counts(tab, facets, rows))
    facet_out = []
    for facet in facets:
        counts = all_counts[facet.key]
        chosen = set(filters.get(facet.key, ()))
        in_lang = tab.labels_in.get(lang, {}) if lang != "en" else {}
        values = [{"iri": v, "slug": slug_of(v), "label": in_lang.get(v) or tab.value_labels.get(v, slug_of(v)),
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


FILTERED_KEPT = 256  # filtered lists (rows and counts) kept per table, most recently used


def _filtered(tab: Table, facets, ordered: list[Row], filters: dict, sort: str, include_hidden: bool):
    """(rows, counts) of a filtered list. The matching rows come from an index of facet value ->
    rows (a set intersection, then the matches in list order), not a scan of the whole table, and
    the answer is kept for the next request, so a filtered page costs what it shows, not the size
    of the store."""
    key = (tuple(sorted((k, tuple(sorted(set(v)))) for k, v in filters.items())), sort, include_hidden)
    with _memo_lock:
        kept = tab.memo.setdefault("filtered", {})
        found = kept.pop(key, None)
    if found is None:
        index = _memo(tab, ("index",), lambda: _value_index(tab))
        matched = None
        for k, slugs in filters.items():
            for slug in set(slugs):
                ids = index.get(k, {}).get(slug, frozenset())
                matched = set(ids) if matched is None else matched & ids
        position = _memo(tab, ("position", sort, include_hidden),
                         lambda: {id(r): i for i, r in enumerate(ordered)})
        rows = [ordered[i] for i in sorted(position[m] for m in matched or () if m in position)]
        found = (rows, _counts(tab, facets, rows))
    with _memo_lock:
        while len(kept) >= FILTERED_KEPT:
            kept.pop(next(iter(kept)), None)
        kept[key] = found  # last: most recently used
    return found


def _value_index(tab: Table) -> dict[str, dict[str, frozenset]]:
    """facet key -> value slug -> ids of the rows that have it."""
    index: dict[str, dict[str, set]] = {}
    for r in tab.rows:
        for k, slugs in r.slugs.items():
            by = index.setdefault(k, {})
            for slug in slugs:
                by.setdefault(slug, set()).add(id(r))
    return {k: {slug: frozenset(ids) for slug, ids in by.items()} for k, by in index.items()}


def _memo(tab: Table, key, compute):
    if key not in tab.memo:
        tab.memo[key] = compute()
    return tab.memo[key]


def _ordered(tab: Table, sort: str, include_hidden: bool) -> list[Row]:
    """The unfiltered list in the asked-for order (computed once per table)."""
    def compute():
        rows = [r for r in tab.rows if include_hidden or not r.hidden]
        if sort in ("start", "-start"):
            dated = sorted((r for r in rows if r.start), key=lambda r: r.start, reverse=sort == "-start")
            return dated + [r for r in rows if not r.start]
        return list(reversed(rows)) if sort == "-label" else rows
    return _memo(tab, ("order", sort, include_hidden), compute)


def _counts(tab: Table, facets, rows) -> dict[str, dict[str, int]]:
    out = {}
    for facet in facets:
        counts: dict[str, int] = {}
        for r in rows:
            for v in r.values.get(facet.key, ()):
                counts[v] = counts.get(v, 0) + 1
        out[facet.key] = counts
    return out


