"""Faceted lists of entities: filter by facet values, count per value, sort, page.

One table per entity type is read from the store with a few SPARQL queries and kept in memory until
the store's generation changes; filtering, counting and paging then run over that table. Facets AND
together (each chosen value narrows the list); counts are over the current, filtered list. Hidden
(spam, test) entities are left out of lists and counts unless asked for.

Each row carries what a list shows: place (city, country), kind (organisation or activity type), a
one-line description, the number of projects (of an organisation) or partners (of a project), when it
was added (dcterms:created) and started. A project's countries are those it states, else those of its
partner organisations (dsi:partnerCountry, graph/derived/partner-countries); its country facet uses both.
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
    also: tuple[str, ...] = ()  # more dsi properties whose values count as this facet's


AREA = Facet("area", N_("Area of society"), "areaOfSociety")
TECH = Facet("technology", N_("Technology focus"), "technologyFocus")
COUNTRY = Facet("country", N_("Country"), "country")
PROJECT_COUNTRY = Facet("country", N_("Country (stated, or of its partners)"), "country",
                        also=("partnerCountry",))
ORG_TYPE = Facet("type", N_("Organisation type"), "organisationType")
FACETS = {
    "organisation": (ORG_TYPE, COUNTRY,
                     Facet("area", N_("Area of society (of its projects)"), "areaOfSociety", True),
                     Facet("technology", N_("Technology focus (of its projects)"), "technologyFocus", True)),
    "project": (AREA, TECH, PROJECT_COUNTRY, Facet("activity", N_("Activity type"), "activityType")),
}
# sort key -> what it orders by; "-key" (or order=desc) reverses. Rows without a value come last.
SORT_KEYS = {
    "organisation": ("name", "country", "projects", "added", "start"),
    "project": ("name", "country", "partners", "added", "start"),
}
SORT_ALIASES = {"label": "name"}  # the names of earlier versions, kept working
# What the sort menu offers (value -> label), per type.
SORTS_MENU = {
    "organisation": {"name": N_("name A–Z"), "-name": N_("name Z–A"), "country": N_("country A–Z"),
                     "-country": N_("country Z–A"), "-projects": N_("most projects"),
                     "projects": N_("fewest projects"), "-added": N_("newest added"),
                     "added": N_("oldest added"), "-start": N_("newest founded"), "start": N_("oldest founded")},
    "project": {"name": N_("name A–Z"), "-name": N_("name Z–A"), "country": N_("country A–Z"),
                "-country": N_("country Z–A"), "-partners": N_("most partners"),
                "partners": N_("fewest partners"), "-added": N_("newest added"), "added": N_("oldest added"),
                "-start": N_("newest started"), "start": N_("oldest started")},
}
OTHER_MENU = {"name": N_("name A–Z"), "-name": N_("name Z–A"), "-added": N_("newest added"),
              "added": N_("oldest added"), "-start": N_("newest first"), "start": N_("oldest first")}
SORTS = SORTS_MENU["project"]  # kept for callers of earlier versions


def sort_menu(type_: str) -> dict[str, str]:
    """The sort menu of a list: value -> label."""
    return SORTS_MENU.get(type_, OTHER_MENU)


ORDERS = ("asc", "desc")
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
    added: str = ""  # dcterms:created (the date the record was made), earliest
    cities: list[str] = field(default_factory=list)  # labels
    countries: list[str] = field(default_factory=list)  # labels: stated, else derived (partners')
    countries_derived: bool = False
    kinds: list[str] = field(default_factory=list)  # labels of its organisation or activity types
    places: set = field(default_factory=set)  # IRIs of its cities and countries (stated and derived)
    related: set = field(default_factory=set)  # IRIs: its projects (organisation), partners (project)

    @property
    def place(self) -> str:
        """"Amsterdam, Netherlands": cities then countries, without a country a city label names."""
        parts = [c for c in self.cities if c]
        parts += [c for c in self.countries if c and not any(p.endswith(", " + c) for p in parts)]
        return ", ".join(dict.fromkeys(parts))

    @property
    def line(self) -> str:
        """The description's first line, at most about 160 characters, cut at a word."""
        text = " ".join(self.description.split("\n", 1)[0].split())
        if len(text) <= 160:
            return text
        return text[:160].rsplit(" ", 1)[0].rstrip(",;:") + "…"

    @property
    def count(self) -> int:
        return len(self.related)


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
    starts = _earliest(_scan(kb, n.dsi("startDate"), cls), members)
    added = _earliest(_scan(kb, dcterms + "created", cls), members)
    all_hidden = {s_ for s_, o in _scan(kb, n.dsi("hidden")) if o.value == "true"}
    hidden = all_hidden & members
    rows = {m: Row(m.value, labels.get(m) or slug_of(m.value), short.get(m) or long.get(m) or "",
                   starts.get(m, ""), m in hidden, added=added.get(m, "")) for m in members}
    value_labels: dict[str, str] = {}
    facets = FACETS.get(type_, ())
    takes_part = list(_scan(kb, n.dsi("takesPartIn")))
    for org, proj in takes_part:  # visible projects of an organisation, visible partners of a project
        if org in all_hidden or org in gone or proj in all_hidden or proj in gone:
            continue
        if type_ == "organisation" and org in rows:
            rows[org].related.add(proj.value)
        elif type_ == "project" and proj in rows:
            rows[proj].related.add(org.value)
    for facet in facets:
        scope = None if facet.via_projects else cls
        pairs = [(s_, o) for prop in (facet.prop, *facet.also) for s_, o in _scan(kb, n.dsi(prop), scope)
                 if isinstance(o, ox.NamedNode)]
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
    located = {prop: [(s_, o) for s_, o in _scan(kb, n.dsi(prop), cls) if s_ in rows and isinstance(o, ox.NamedNode)]
               for prop in ("city", "country", "partnerCountry")}
    kind_prop = {"organisation": "organisationType", "project": "activityType"}.get(type_)
    kinds = [(s_, o) for s_, o in _scan(kb, n.dsi(kind_prop), cls)
             if s_ in rows and isinstance(o, ox.NamedNode)] if kind_prop else []
    for _, o in [*kinds, *(pair for pairs in located.values() for pair in pairs)]:
        value_labels.setdefault(o.value, "")
    for iri in value_labels:
        node = ox.NamedNode(iri)
        found = [q.object for p in (rdfs + "label", skos + "prefLabel")
                 for q in kb.quads(node, ox.NamedNode(p), None, None)]
        value_labels[iri] = _pick(found) or slug_of(iri)
        for lit in found:  # the label in each language, for visitors who read it (English is the fallback)
            if isinstance(lit, ox.Literal) and lit.language:
                labels_in.setdefault(lit.language, {}).setdefault(iri, lit.value)
    for key, pairs in located.items():
        for s_, o in sorted(pairs, key=lambda pair: value_labels[pair[1].value].casefold()):
            row = rows[s_]
            row.places.add(o.value)
            label = value_labels[o.value]
            if key == "city" and label not in row.cities:
                row.cities.append(label)
            elif key == "country" and label not in row.countries:
                row.countries.append(label)
    stated = {s_ for s_, _ in located["country"]}
    for s_, o in sorted(located["partnerCountry"], key=lambda pair: value_labels[pair[1].value].casefold()):
        if s_ not in stated:
            row = rows[s_]
            row.countries_derived = True
            if value_labels[o.value] not in row.countries:
                row.countries.append(value_labels[o.value])
    for s_, o in sorted(kinds, key=lambda pair: value_labels[pair[1].value].casefold()):
        if value_labels[o.value] not in rows[s_].kinds:
            rows[s_].kinds.append(value_labels[o.value])
    ordered = sorted(rows.values(), key=lambda row: (row.label.casefold(), row.iri))
    return Table(ordered, value_labels, labels_in=labels_in)


def _earliest(pairs, members: set) -> dict:
    out: dict = {}
    for s_, o in pairs:
        if s_ in members and (s_ not in out or o.value < out[s_]):
            out[s_] = o.value
    return out


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


def parse_sort(type_: str, sort: str | None, order: str | None = None) -> tuple[str, bool]:
    """(sort key, descending?) from ``sort`` ("name", "-projects", ...) and ``order`` (asc|desc);
    BadRequest naming the allowed values otherwise."""
    keys = SORT_KEYS.get(type_, ("name", "added", "start"))
    text = sort or "name"
    descending = text.startswith("-")
    key = SORT_ALIASES.get(text.lstrip("-"), text.lstrip("-"))
    if key not in keys or text.count("-") > 1 or (descending and len(text) < 2):
        raise BadRequest(f"unknown sort {sort!r} for {type_}: use one of {', '.join(keys)} "
                         f"(a leading '-' or order=desc reverses it)")
    if order is not None:
        if order not in ORDERS:
            raise BadRequest(f"unknown order {order!r}: use asc or desc")
        if descending and order == "asc":
            raise BadRequest(f"sort {sort!r} and order=asc contradict each other: give the direction once")
        descending = order == "desc"
    return key, descending


def sort_value(key: str, descending: bool) -> str:
    return ("-" if descending else "") + key


def listing(kb: KB, type_: str, *, filters: dict[str, list[str]] | None = None, sort: str = "name",
            page: int = 1, per_page: int = 50, include_hidden: bool = False, order: str | None = None,
            lang: str = "en") -> Listing:
    """One page of the list of ``type_`` narrowed by ``filters`` (facet key -> value slugs), ordered by
    ``sort`` (see :data:`SORT_KEYS`; "-key" or ``order="desc"`` for the reverse); facet value labels in
    ``lang`` where the data has them, else English."""
    sort_key, descending = parse_sort(type_, sort, order)
    tab = table(kb, type_)
    facets = FACETS.get(type_, ())
    known = {f.key for f in facets}
    filters = {k: [v for v in vs if v] for k, vs in (filters or {}).items() if vs}
    unknown = set(filters) - known
    if unknown:
        raise BadRequest(f"unknown facet {', '.join(sorted(unknown))} for {type_}: "
                         f"use {', '.join(sorted(known)) or 'none'}")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise BadRequest(f"per_page must be between 1 and {MAX_PER_PAGE}")
    rows = _ordered(tab, sort_key, descending, include_hidden)
    if filters:
        rows, all_counts = _filtered(tab, facets, rows, filters, (sort_key, descending), include_hidden)
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
    return Listing(type_, rows[start:start + per_page], total, page, pages, per_page,
                   sort_value(sort_key, descending), filters, facet_out, tab.value_labels)


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


SORT_VALUE = {  # key -> (the row's value, or None when it has none)
    "name": lambda r: r.label.casefold(),
    "country": lambda r: r.countries[0].casefold() if r.countries else None,
    "projects": lambda r: r.count if r.related else None,
    "partners": lambda r: r.count if r.related else None,
    "added": lambda r: r.added or None,
    "start": lambda r: r.start or None,
}


def _ordered(tab: Table, key: str, descending: bool, include_hidden: bool) -> list[Row]:
    """The unfiltered list in the asked-for order (computed once per table); rows without a value
    for the key come last, in name order; ties in name order."""
    def compute():
        rows = [r for r in tab.rows if include_hidden or not r.hidden]  # already in name order
        value = SORT_VALUE[key]
        with_value = [r for r in rows if value(r) is not None]
        without = [r for r in rows if value(r) is None]
        if key == "name":
            return list(reversed(rows)) if descending else rows
        with_value.sort(key=value, reverse=descending)  # stable: name order within ties
        return with_value + without
    return _memo(tab, ("order", key, descending, include_hidden), compute)


def _counts(tab: Table, facets, rows) -> dict[str, dict[str, int]]:
    out = {}
    for facet in facets:
        counts: dict[str, int] = {}
        for r in rows:
            for v in r.values.get(facet.key, ()):
                counts[v] = counts.get(v, 0) + 1
        out[facet.key] = counts
    return out


def at_place(kb: KB, place: str, *, include_hidden: bool = False) -> dict[str, list[Row]]:
    """The organisations and projects located at ``place`` (a country or city IRI), in name order:
    organisations by their stated city or country; projects by theirs, their partners' countries
    (dsi:partnerCountry) or, for a city, by a partner organisation there."""
    orgs = [r for r in table(kb, "organisation").rows if place in r.places and (include_hidden or not r.hidden)]
    is_country = any(place in r.values.get("country", ()) for r in orgs)
    here = set() if is_country else {r.iri for r in orgs}  # a country: exactly its browse list
    projects = [r for r in table(kb, "project").rows if (include_hidden or not r.hidden)
                and (place in r.places or r.related & here)]
    return {"organisation": orgs, "project": projects}


def filed_under(kb: KB, concept: str) -> list[tuple[str, Facet, list[Row]]]:
    """(type, facet, visible rows) for each list where ``concept`` is a facet value the entities
    state themselves (not one organisations inherit from their projects): what its browse link lists."""
    out = []
    for type_, facets in FACETS.items():
        for facet in facets:
            if facet.via_projects:
                continue
            rows = [r for r in _ordered(table(kb, type_), "name", False, False) if concept in r.values.get(facet.key, ())]
            if rows:
                out.append((type_, facet, rows))
    return out
