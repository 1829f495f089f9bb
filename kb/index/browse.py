"""Faceted lists of entities: filter by facet values, count per value, sort, page.

The tables of every type are read from the store together, with one index scan per predicate, and
kept in memory, compact, until the store's generation changes (kb/index/browse_table.py: IRIs,
labels and dates in lists, multi-valued fields as arrays of ids, each facet value's members as an
int bitset). Facets AND together (each chosen value narrows the list): a filter is an AND of ints,
a count ``int.bit_count()``; counts are over the current, filtered list. Each sort is an array of
positions, computed once; a page's rows are found by walking it (or, for a small filtered list, by
sorting its members' ranks), and only the rows shown are made into Rows, their descriptions read
from the store then. Hidden (spam, test) entities are left out of lists and counts unless asked for.

Each row carries what a list shows: place (city, country), kind (organisation or activity type), a
one-line description, the number of projects (of an organisation) or partners (of a project), when it
was added (dcterms:created) and started. A project's countries are those it states, else those of its
partner organisations (dsi:partnerCountry, graph/derived/partner-countries); its country facet uses both.

A new generation's tables are built once, in a thread of their own, however many requests ask for
them meanwhile (kb/index/refresh.py: one build at a time, coalesced: writes during a build make one
more build, of the newest generation). ``/browse`` waits for the current tables at most
``DSIKB_INDEX_WAIT`` seconds, then answers from the previous generation's tables, saying so
(:class:`Listing`'s ``index``); only when there are none yet does it wait the query timeout
(``DSIKB_QUERY_TIMEOUT``) and then answer 503 with ``Retry-After`` (:class:`Building`). Other callers
(``warm``, the map, the home page's facets, place and concept pages) pass no bound and wait for the
one build, as they did.
"""

from __future__ import annotations

import threading
import weakref
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

from kb.errors import BadRequest, NotFound
from kb.store.generational import Budgeted
from kb.index.browse_model import (AREA, BROWSE_TYPES, COUNTRY, FACETS, MAX_PER_PAGE, N_, ORDERS,  # noqa: F401
                                   ORG_TYPE, OTHER_MENU, PROJECT_COUNTRY, SORT_ALIASES, SORT_KEYS, SORTS,
                                   SORTS_MENU, TECH, Facet, Row, slug_of, sort_menu)
from kb.index.browse_table import Table, build_all, positions_of
from kb.index.refresh import Building, Refresher, Snapshot  # noqa: F401  (Building: /browse's 503)
from kb.store import KB, child


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
    index: dict | None = None  # {"generation", "current", "refreshing"} of the tables it is from


_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # KB -> (generation, {type: Table}), the newest built
_memo_lock = threading.Lock()
RETRY = 5  # seconds, for a bounded wait for the current tables that ran out


def _build(kb: KB, generation: int) -> dict[str, Table]:
    # over a large store, in a child process, which sends the columns back (one file's bytes, mapped
    # here again: kb/index/columns.py): this process keeps none of the build's scratch
    # (kb/store/child.py; at 1M statements a build in place left ~73 MiB held)
    if not child.worth_it(kb):
        built = build_all(kb)
    else:
        built = child.run(kb, build_all, name="dsikb-browse-tables")
        for tab in built.values():
            tab.kb = kb
    _cache[kb] = (generation, built)
    return built


refresher = Refresher(_build, name="browse-tables", what="lists")


def snapshot(kb: KB, wait: float | None = None, fresh_wait: float | None = None) -> Snapshot:
    """Every type's table: of the store's current generation when built within ``fresh_wait``
    seconds, else the newest older ones (``current`` False) when there are any, else of the current
    generation within ``wait`` seconds (None: until built), else :class:`Building`."""
    return refresher.get(kb, kb.generation, wait=wait, fresh_wait=fresh_wait)


def tables(kb: KB, wait: float | None = None) -> dict[str, Table]:
    """Every type's table of the store's current generation: cached, else built once (in its own
    thread) for all who ask meanwhile. Waits at most ``wait`` seconds (None: until it is built),
    then :class:`Building` (503 with Retry-After)."""
    snap = refresher.get(kb, kb.generation, wait=wait)
    if not snap.current:
        raise Building(f"the lists are being built for this version of the data: try again in {RETRY} s",
                       headers={"Retry-After": str(RETRY)})
    return snap.value


def table(kb: KB, type_: str, wait: float | None = None) -> Table:
    """All entities of a type with their facet values (cached per store generation)."""
    if type_ not in BROWSE_TYPES:
        raise NotFound(f"there is no list of {type_!r}: browse one of {', '.join(BROWSE_TYPES)}")
    return tables(kb, wait)[type_]


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
            lang: str = "en", wait: float | None = None, fresh_wait: float | None = None) -> Listing:
    """One page of the list of ``type_`` narrowed by ``filters`` (facet key -> value slugs), ordered by
    ``sort`` (see :data:`SORT_KEYS`; "-key" or ``order="desc"`` for the reverse); facet value labels in
    ``lang`` where the data has them, else English. Waits for the tables at most ``wait`` seconds
    (None: until they are built), then :class:`Building`; with ``fresh_wait``, after that many seconds
    an older generation's tables when there are any (``index["current"]`` False)."""
    sort_key, descending = parse_sort(type_, sort, order)
    if type_ not in BROWSE_TYPES:
        raise NotFound(f"there is no list of {type_!r}: browse one of {', '.join(BROWSE_TYPES)}")
    facets = FACETS.get(type_, ())
    known = {f.key for f in facets}
    filters = {k: [v for v in vs if v] for k, vs in (filters or {}).items() if vs}
    unknown = set(filters) - known
    if unknown:
        raise BadRequest(f"unknown facet {', '.join(sorted(unknown))} for {type_}: "
                         f"use {', '.join(sorted(known)) or 'none'}")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise BadRequest(f"per_page must be between 1 and {MAX_PER_PAGE}")
    snap = snapshot(kb, wait, fresh_wait) if fresh_wait is not None else None
    tab = snap.value[type_] if snap is not None else table(kb, type_, wait)
    order_ = _positions(tab, sort_key, descending, include_hidden)
    if filters:
        found = _filtered(tab, facets, filters, (sort_key, descending), include_hidden)
        total, all_counts = found.total, found.counts
    else:
        total = len(order_)
        all_counts = tab.once(("counts", include_hidden), lambda: _bit_counts(tab, facets, _visible(tab, include_hidden)))
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
    pages = max(1, -(-total // per_page))
    if page < 1 or page > pages:
        raise NotFound(f"page {page} does not exist: this list has {pages} page(s)")
    start = (page - 1) * per_page
    shown = _page(tab, found, order_, start, per_page) if filters else order_[start:start + per_page]
    return Listing(type_, tab.rows_at(shown), total, page, pages, per_page,
                   sort_value(sort_key, descending), filters, facet_out, tab.value_labels,
                   {"generation": snap.key, "current": snap.current, "refreshing": snap.refreshing}
                   if snap is not None else None)


FILTERED_KEPT = 256  # filtered lists (bitset, counts, positions) kept per table, most recently used,
# holding at most this many matching positions in all (kb.store.generational.Budgeted): 4 bytes each
# once computed, and a list's bits as text a byte a row of the table (counted as a quarter position),
# so ~8 MiB at most per table whatever the store's size (a count alone let 256 lists of tens of
# thousands of positions, then Python ints of ~36 bytes, be kept at 1M statements)
FILTERED_POSITIONS = 2_000_000
DENSE = 16  # a filtered list with at least 1/DENSE of the table is paged by walking the sort order
WALK = 5000  # ... as far as this many matches; past them (or when sparse) its positions are kept


def _bits_text(bits: int) -> str:
    """Bit p of ``bits`` as character p ("1" or "0"; shorter than the table when its top bits are 0)."""
    return bin(bits)[:1:-1]


def _visible(tab: Table, include_hidden: bool) -> int:
    return tab.all if include_hidden else tab.all & ~tab.hidden


@dataclass
class _Filtered:
    bits: int
    total: int
    counts: dict[str, dict[str, int]]
    text: str = ""  # the bits as text, to test a position in the walk
    positions: array | None = None  # every matching position in the sort order, once computed (4 bytes each)


def _filtered(tab: Table, facets, filters: dict, sort: tuple, include_hidden: bool) -> _Filtered:
    """The members and counts of a filtered list: AND of the chosen values' bitsets. Kept for the
    next request (most recently used first), so a filtered page costs what it shows."""
    key = (tuple(sorted((k, tuple(sorted(set(v)))) for k, v in filters.items())), sort, include_hidden)
    with _memo_lock:
        kept = tab.memo.get("filtered")
        if kept is None:
            size = len(tab.iris) // 4 + 1  # the bits as text: a byte a row, a quarter of a position's 4
            kept = tab.memo["filtered"] = Budgeted(lambda: FILTERED_KEPT, lambda: FILTERED_POSITIONS,
                                                   lambda f: f.total + size)
    found = kept.get(key)
    if found is None:
        by_slug = tab.once(("slugs",), lambda: _slug_bits(tab))
        bits = _visible(tab, include_hidden)
        for k, slugs in filters.items():
            for slug in set(slugs):
                bits &= by_slug.get(k, {}).get(slug, 0)
        found = _Filtered(bits, bits.bit_count(), _bit_counts(tab, facets, bits))
        kept.put(key, found)
    return found


def _slug_bits(tab: Table) -> dict[str, dict[str, int]]:
    """facet key -> value slug -> the positions with a value of that slug."""
    out: dict[str, dict[str, int]] = {}
    for k, by_value in tab.bits.items():
        by = out.setdefault(k, {})
        for iri, bits in by_value.items():
            slug = slug_of(iri)
            by[slug] = by.get(slug, 0) | bits
    return out


def _bit_counts(tab: Table, facets, bits: int) -> dict[str, dict[str, int]]:
    out = {}
    for facet in facets:
        counts = {}
        for v, members in tab.bits.get(facet.key, {}).items():
            c = (members & bits).bit_count()
            if c:
                counts[v] = c
        out[facet.key] = counts
    return out


def _page(tab: Table, found: _Filtered, order, start: int, count: int) -> list[int]:
    """The positions of one page of a filtered list, in the sort order."""
    if found.positions is None and found.total * DENSE >= len(tab) and start + count <= WALK:
        if not found.text:
            found.text = _bits_text(found.bits)
        text, end, out, seen = found.text, len(found.text), [], 0
        for p in order:  # a dense list: its first pages are near the top of the order
            if p < end and text[p] == "1":
                if seen >= start:
                    out.append(p)
                    if len(out) == count:
                        break
                seen += 1
        return out
    if found.positions is None:
        if found.total * DENSE >= len(tab):
            text = found.text or _bits_text(found.bits)
            end = len(text)
            found.positions = array("i", (p for p in order if p < end and text[p] == "1"))
        else:  # a small list: its members, by their rank in the order
            rank = tab.once(("rank", id(order)), lambda: _ranks(order, len(tab)))
            text, members, p = _bits_text(found.bits), [], -1
            while (p := text.find("1", p + 1)) >= 0:
                members.append(p)
            found.positions = array("i", sorted(members, key=rank.__getitem__))
    return found.positions[start:start + count].tolist()


def _ranks(order, n: int) -> array:
    rank = array("i", [n]) * n
    for i, p in enumerate(order):
        rank[p] = i
    return rank


def _sort_value(tab: Table, key: str):
    """position -> its value for sort ``key``, or None when it has none."""
    labels = tab.value_labels
    values = tab.shared.values
    if key == "country":
        stated, partner = tab.located["country"], tab.located["partnerCountry"]

        def country(p):
            ids = stated.get(p) or partner.get(p)
            return min(labels[values[v]].casefold() for v in ids) if ids else None
        return country
    if key in ("projects", "partners"):
        return lambda p: tab.counts[p] or None
    column = list(tab.added if key == "added" else tab.starts)  # decoded at once, for this sort only
    return lambda p: column[p] or None


def _positions(tab: Table, key: str, descending: bool, include_hidden: bool) -> array:
    """The unfiltered list's positions in the asked-for order (computed once per table); those
    without a value for the key come last, in name order; ties in name order."""
    def compute():
        n = len(tab)
        if include_hidden or not tab.hidden:
            base = range(n)  # positions are in name order
        else:
            hidden = _bits_text(tab.hidden)
            end = len(hidden)
            base = [p for p in range(n) if p >= end or hidden[p] != "1"]
        if key == "name":
            return array("i", reversed(base) if descending else base)
        value = _sort_value(tab, key)
        keyed = [(value(p), p) for p in base]
        with_value = [x for x in keyed if x[0] is not None]
        with_value.sort(key=lambda x: x[0], reverse=descending)  # stable: name order within ties
        return array("i", [p for _, p in with_value] + [p for v, p in keyed if v is None])
    return tab.once(("positions", key, descending, include_hidden), compute)


def _ordered(tab: Table, key: str, descending: bool, include_hidden: bool) -> list[Row]:
    """Every Row of the unfiltered list in the asked-for order (makes every Row: for a few callers)."""
    rows = tab.rows
    return [rows[p] for p in _positions(tab, key, descending, include_hidden)]


def _counts(tab: Table, facets, rows) -> dict[str, dict[str, int]]:
    """Counts per facet value over some Rows (what the bitset counts must equal)."""
    out = {}
    for facet in facets:
        counts: dict[str, int] = {}
        for r in rows:
            for v in r.values.get(facet.key, ()):
                counts[v] = counts.get(v, 0) + 1
        out[facet.key] = counts
    return out


def matching(tab: Table, filters: dict[str, list[str]], include_hidden: bool = False) -> int:
    """The bitset of a list narrowed by ``filters`` (facet key -> value slugs, every one required,
    as :func:`listing` counts them; validate them with :func:`listing` first)."""
    if not filters:
        return _visible(tab, include_hidden)
    return _filtered(tab, FACETS.get(tab.type, ()), filters, ("name", False), include_hidden).bits


class ListedRows(Sequence):
    """Some entities of one type (at a place, filed under a concept), in name order: a count and
    positions; Rows made only for what is read (``rows[:500]``: one query for their descriptions)."""

    def __init__(self, tab: Table, positions: list[int]):
        self.table = tab
        self.positions = positions

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self.table.rows_at(self.positions[index])
        return self.table.rows_at([self.positions[index]])[0]

    def __iter__(self):
        for i in range(0, len(self.positions), MAX_PER_PAGE):
            yield from self.table.rows_at(self.positions[i:i + MAX_PER_PAGE])

    @property
    def iris(self) -> list[str]:
        return [self.table.iris[p] for p in self.positions]


class AtPlace(dict):
    """type -> :class:`ListedRows`; ``is_country``: whether an entity listed names the place as its
    country (organisations: stated; projects: stated or their partners')."""

    is_country: bool = False


def at_place(kb: KB, place: str, *, include_hidden: bool = False, wait: float | None = None) -> AtPlace:
    """The organisations and projects located at ``place`` (a country or city IRI), in name order:
    organisations by their stated city or country; projects by theirs, their partners' countries
    (dsi:partnerCountry) or, for a city, by a partner organisation there. Read from the tables'
    indexes: no Row is made until the page reads the lists."""
    tabs = tables(kb, wait)
    org, proj = tabs["organisation"], tabs["project"]

    def shown(tab: Table, positions) -> list[int]:
        hidden = set() if include_hidden else tab.hidden_positions()
        return [p for p in positions if p not in hidden]

    def names_country(tab: Table) -> bool:
        return bool(tab.bits.get("country", {}).get(place, 0) & _visible(tab, include_hidden))

    orgs = shown(org, org.located_at(place))
    org_country = names_country(org)
    here = [] if org_country else [org.iris[p] for p in orgs]  # a country: exactly its browse list
    projects = shown(proj, sorted(set(proj.located_at(place)) | set(proj.related_to(here))))
    out = AtPlace(organisation=ListedRows(org, orgs), project=ListedRows(proj, projects))
    out.is_country = org_country or names_country(proj)
    return out


def filed_under(kb: KB, concept: str, wait: float | None = None) -> list[tuple[str, Facet, ListedRows]]:
    """(type, facet, visible rows) for each list where ``concept`` is a facet value the entities
    state themselves (not one organisations inherit from their projects): what its browse link lists."""
    tabs = tables(kb, wait)
    out = []
    for type_, facets in FACETS.items():
        tab = tabs[type_]
        for facet in facets:
            if facet.via_projects:
                continue
            bits = tab.bits.get(facet.key, {}).get(concept, 0) & _visible(tab, False)
            if bits:  # no Row made until the page reads them
                out.append((type_, facet, ListedRows(tab, list(positions_of(bits)))))
    return out
