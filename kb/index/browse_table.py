"""The browse tables of one store generation, compact: built once for every type in one pass.

Every predicate a list needs is scanned once for all six types (not once per type), and what is
kept per entity is flat: its IRI, label, dates and related-count in columns in name order (an
entity's *position*), its multi-valued fields (facet values, places, kinds, related IRIs) as
columns of small ids (:class:`Multi`), and each facet value's members as a Python int bitset
(:attr:`Table.bits`), so filtering is AND of ints and a count is ``int.bit_count()``. The columns
of one build are one temporary file mapped read-only (kb/index/columns.py): what stays per entity
in the process's heap is the bitsets (a bit an entity per facet value) and what is computed from
the columns on first use (sort orders, indexes by value, the Rows shown); an entity's position is
found from its IRI by bisection (:meth:`Table.position_of`). No Row
objects and no descriptions are built: :meth:`Table.rows_at` makes the Rows of the positions shown,
their descriptions read from the store then (one query a page; the last 4,096 Rows kept);
:attr:`Table.rows` (every Row, for the network) is made on first use. The map, the search index's
places and place pages make no Row they do not show: they read columns (:attr:`Table.iris`,
:attr:`Table.labels`, :meth:`Table.place_at`), the hidden positions (:meth:`Table.hidden_positions`)
and the entities at a place or beside some others (:meth:`Table.located_at`, :meth:`Table.related_to`,
through indexes from value to positions made on first use).
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Sequence
from sys import intern

import pyoxigraph as ox

from kb.index.browse_model import BROWSE_TYPES, FACETS, Row, pick, place_text, slug_of
from kb.index.columns import Ints, Strings, Writer
from kb.namespaces import STANDARD_PREFIXES
from kb.terms import sparql_term

RDF_TYPE = STANDARD_PREFIXES["rdf"] + "type"
RDFS_LABEL = STANDARD_PREFIXES["rdfs"] + "label"
SKOS_PREF = STANDARD_PREFIXES["skos"] + "prefLabel"
DCT = STANDARD_PREFIXES["dcterms"]
KIND_PROP = {"organisation": "organisationType", "project": "activityType"}
LOCATED = ("city", "country", "partnerCountry")
RECENT_ROWS = 4096  # Rows kept per table once shown (pages asked again cost nothing)
PAGE_QUERY = 500  # descriptions read by one query (a page has at most 500 rows)
RELATED_TYPE = {"organisation": "organisation", "project": "project"}  # types whose rows count related


class Multi:
    """Ids per position, compact (CSR): position i's ids are ``ids[offsets[i]:offsets[i + 1]]``."""

    __slots__ = ("offsets", "ids", "_offsets", "_ids")

    def __init__(self, n: int, pairs):
        pairs = sorted(set(pairs))
        counts = [0] * (n + 1)
        for p, _ in pairs:
            counts[p + 1] += 1
        for i in range(n):
            counts[i + 1] += counts[i]
        self._hold(array("i", [v for _, v in pairs]), array("i", counts))

    def _hold(self, ids, offsets) -> None:
        """``ids`` and ``offsets``: arrays, or :class:`~kb.index.columns.Ints` in a mapped file
        (read through their raw views: no Python call an access)."""
        self.ids, self.offsets = ids, offsets
        self._ids = ids.view if isinstance(ids, Ints) else ids
        self._offsets = offsets.view if isinstance(offsets, Ints) else offsets

    def mapped(self, writer: Writer) -> "Multi":
        """This Multi with its arrays moved into ``writer``'s file (read once it is finished)."""
        made = Multi.__new__(Multi)
        made.ids, made.offsets = writer.ints(self._ids), writer.ints(self._offsets)
        writer.then(lambda: made._hold(made.ids, made.offsets))
        return made

    def __getstate__(self):
        return self.ids, self.offsets

    def __setstate__(self, state) -> None:
        self._hold(*state)

    def get(self, pos: int):
        offsets = self._offsets
        return self._ids[offsets[pos]:offsets[pos + 1]]

    def has(self, pos: int) -> bool:
        return self._offsets[pos + 1] > self._offsets[pos]

    def transposed(self, n_ids: int) -> "Multi":
        """The positions per id (``get(id)``: the positions holding ``id``, ascending): a counting
        sort, no tuple per pair."""
        ids, offsets = self._ids, self._offsets
        counts = [0] * (n_ids + 1)
        for v in ids:
            counts[v + 1] += 1
        for i in range(n_ids):
            counts[i + 1] += counts[i]
        fill = counts[:]
        out = array("i", bytes(4 * len(ids)))
        for p in range(len(offsets) - 1):
            for i in range(offsets[p], offsets[p + 1]):
                v = ids[i]
                out[fill[v]] = p
                fill[v] += 1
        made = Multi.__new__(Multi)
        made._hold(out, array("i", counts))
        return made


def positions_of(bits: int):
    """The positions whose bit is set in ``bits``, ascending."""
    text = bin(bits)[:1:-1]
    p = text.find("1")
    while p >= 0:
        yield p
        p = text.find("1", p + 1)


def bitset(positions, n: int) -> int:
    """The int whose bit ``p`` is set for each ``p`` in ``positions``."""
    buf = bytearray((n >> 3) + 1)
    for p in positions:
        buf[p >> 3] |= 1 << (p & 7)
    return int.from_bytes(buf, "little")


class Shared:
    """What the tables of one generation share: value IRIs by id, their labels, related IRIs."""

    def __init__(self):
        self.values: list[str] = []
        self.value_id: dict[str, int] = {}
        self.value_labels: dict[str, str] = {}  # value IRI -> label (English or untagged first)
        self.labels_in: dict[str, dict[str, str]] = {}  # language -> value IRI -> label
        self.others: Sequence[str] = []  # related IRIs by id (a Strings column once built)
        self.other_id: dict[str, int] | None = {}  # while building only

    def vid(self, iri: str) -> int:
        found = self.value_id.get(iri)
        if found is None:
            found = self.value_id[iri] = len(self.values)
            self.values.append(iri)
        return found

    def oid(self, iri: str) -> int:
        found = self.other_id.get(iri)
        if found is None:
            found = self.other_id[iri] = len(self.others)
            self.others.append(iri)
        return found

    def other_at(self, iri: str) -> int | None:
        """The id of a related IRI, else None."""
        if self.other_id is not None:
            return self.other_id.get(iri)
        return self.others.index_of(iri)


class Table:
    """One type's list (see the module docstring). Positions are in name order."""

    def __init__(self, kb, type_: str, shared: Shared):
        self.kb = kb
        self.type = type_
        self.shared = shared
        self.value_labels = shared.value_labels
        self.labels_in = shared.labels_in
        # in name order; Strings columns (kb/index/columns.py) once built: in a mapped file
        self.iris: Sequence[str] = []
        self.labels: Sequence[str] = []
        self.starts: Sequence[str] = []
        self.added: Sequence[str] = []
        self.counts = array("i")
        self.hidden = 0  # bitset of hidden positions
        self.all = 0  # bitset of every position
        self.bits: dict[str, dict[str, int]] = {}  # facet key -> value IRI -> bitset
        self.facet_values: dict[str, Multi] = {}  # facet key -> value ids per position
        self.located: dict[str, Multi] = {}  # city / country / partnerCountry -> value ids
        self.kinds: Multi | None = None
        self.related: Multi | None = None  # ids into shared.others
        self.memo: dict = {}  # orders, counts and filtered lists, computed once
        self.memo_lock = threading.Lock()
        self._rows: list[Row] | None = None
        self._recent: dict[int, Row] = {}  # Rows recently shown, at most RECENT_ROWS
        self._rows_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.iris)

    def __getstate__(self) -> dict:
        """The columns, for a table built in another process (kb/store/child.py): not the store,
        the locks, nor what was computed from the columns since."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("kb", "memo_lock", "_rows_lock")}
        state.update(memo={}, _rows=None, _recent={})
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.kb = None  # the receiving process gives its own store (kb.index.browse)
        self.memo_lock, self._rows_lock = threading.Lock(), threading.Lock()

    def is_hidden(self, pos: int) -> bool:
        return bool(self.hidden >> pos & 1) if self.hidden else False

    def once(self, key, compute):
        """``compute()``, once per table and ``key`` (kept in ``memo``; one thread computes it)."""
        found = self.memo.get(key)
        if found is None:
            with self.memo_lock:
                found = self.memo.get(key)
                if found is None:
                    found = self.memo[key] = compute()
        return found

    def hidden_positions(self) -> frozenset:
        """The hidden positions (few: testing one costs no shift of a table-wide int)."""
        return self.once(("hidden-positions",), lambda: frozenset(positions_of(self.hidden)))

    def _located(self, pos: int) -> tuple[list[str], list[str], bool, dict]:
        """(city labels, country labels, countries derived from partners?, value IRIs per located
        property by label) of one position: what :attr:`Row.place` and :attr:`Row.places` are made of."""
        sh, labels = self.shared, self.value_labels

        def by_label(multi):
            return sorted((sh.values[v] for v in multi.get(pos)), key=lambda v: labels[v].casefold())

        located = {k: by_label(m) for k, m in self.located.items()}
        cities, countries, derived = [], [], False
        for v in located.get("city", ()):
            if labels[v] not in cities:
                cities.append(labels[v])
        for v in located.get("country", ()):
            if labels[v] not in countries:
                countries.append(labels[v])
        if not located.get("country"):
            for v in located.get("partnerCountry", ()):
                derived = True
                if labels[v] not in countries:
                    countries.append(labels[v])
        return cities, countries, derived, located

    def place_at(self, pos: int) -> str:
        """:attr:`Row.place` of one position, without its Row (one string per set of places)."""
        key = tuple(tuple(m.get(pos)) for m in self.located.values())
        texts = self.memo.get("place-texts")
        if texts is None:
            texts = self.once("place-texts", dict)
        found = texts.get(key)
        if found is None:
            cities, countries, _, _ = self._located(pos)
            found = texts[key] = place_text(cities, countries)
        return found

    def located_at(self, place: str) -> list[int]:
        """The positions whose city, country or partners' country is ``place``, ascending (:attr:`Row.places`)."""
        vid = self.shared.value_id.get(place)
        if vid is None:
            return []
        found: set[int] = set()
        for prop, multi in self.located.items():
            found.update(self.once(("by-value", prop), lambda m=multi: m.transposed(len(self.shared.values))).get(vid))
        return sorted(found)

    def related_to(self, iris) -> list[int]:
        """The positions whose related IRIs (:attr:`Row.related`) include one of ``iris``, ascending."""
        if self.related is None:
            return []
        index = self.once(("by-related",), lambda: self.related.transposed(len(self.shared.others)))
        found: set[int] = set()
        for iri in iris:
            oid = self.shared.other_at(iri)
            if oid is not None and oid < len(index.offsets) - 1:
                found.update(index.get(oid))
        return sorted(found)

    def position_of(self, iri: str) -> int | None:
        """The position of an entity of this table, else None (by bisection over the IRI column:
        no dict of every IRI)."""
        if isinstance(self.iris, Strings):
            return self.iris.index_of(iri)
        try:
            return self.iris.index(iri)
        except ValueError:
            return None

    def row(self, pos: int, description: str = "") -> Row:
        """The Row of one position (its description given: see :meth:`rows_at`)."""
        sh, labels = self.shared, self.value_labels
        iri = self.iris[pos]
        row = Row(iri, self.labels[pos], description, self.starts[pos], self.is_hidden(pos), added=self.added[pos])
        for key, multi in self.facet_values.items():
            ids = multi.get(pos)
            if ids:
                row.values[key] = {sh.values[v] for v in ids}
                row.slugs[key] = {slug_of(sh.values[v]) for v in ids}
        row.cities, row.countries, row.countries_derived, located = self._located(pos)
        for key, found in located.items():
            row.places.update(found)
        if self.kinds is not None:
            kinds = sorted((sh.values[v] for v in self.kinds.get(pos)), key=lambda v: labels[v].casefold())
            for v in kinds:
                if labels[v] not in row.kinds:
                    row.kinds.append(labels[v])
        if self.related is not None:
            row.related = {sh.others[i] for i in self.related.get(pos)}
        return row

    def rows_at(self, positions) -> list[Row]:
        """The Rows of some positions (a page), descriptions read from the store for these only."""
        positions = list(positions)
        if self._rows is not None:
            return [self._rows[p] for p in positions]
        recent = self._recent
        missing = [p for p in dict.fromkeys(positions) if p not in recent]
        for i in range(0, len(missing), PAGE_QUERY):
            chunk = missing[i:i + PAGE_QUERY]
            made = {p: self.row(p, d) for p, d in zip(chunk, descriptions_of(self.kb, [self.iris[p] for p in chunk]))}
            with self._rows_lock:
                while len(recent) + len(made) > RECENT_ROWS and recent:
                    recent.pop(next(iter(recent)), None)  # the oldest first
                recent.update(made)
        return [recent.get(p) or self.row(p, descriptions_of(self.kb, [self.iris[p]])[0]) for p in positions]

    @property
    def rows(self) -> list[Row]:
        """Every Row in name order (made on first use: one scan of the descriptions)."""
        if self._rows is None:
            with self._rows_lock:
                if self._rows is None:
                    index = {iri: i for i, iri in enumerate(self.iris)}
                    short = _best(_scan(self.kb, self.kb.names.dsi("shortDescription")), index)
                    long = _best(_scan(self.kb, DCT + "description"), index)
                    self._rows = [self.row(p, short.get(p) or long.get(p) or "") for p in range(len(self.iris))]
        return self._rows


def descriptions_of(kb, iris: list[str]) -> list[str]:
    """Each entity's one description (dsi:shortDescription, else dcterms:description): one query
    for a page of entities, on either store."""
    if not iris:
        return []
    short = kb.names.dsi("shortDescription")
    found: dict[str, dict[str, list]] = {}
    preds = (ox.NamedNode(short), ox.NamedNode(DCT + "description"))
    pairs = [(ox.NamedNode(i), p) for i in dict.fromkeys(iris) for p in preds]  # one VALUES of (?s ?p)
    query = f"SELECT ?s ?p ?o WHERE {{ VALUES (?s ?p) {{ {sparql_term(pairs)} }} ?s ?p ?o }}"  # pairs: two VALUES blocks are slow
    for s, p, o in kb.query(query, prologue=False):
        found.setdefault(s.value, {}).setdefault(p.value, []).append(o)
    out = []
    for iri in iris:
        by = found.get(iri, {})
        out.append(pick(by.get(short, ())) or pick(by.get(DCT + "description", ())) or "")
    return out


def _scan(kb, predicate: str):
    """(subject, object) of every statement with ``predicate``: one index scan, through SPARQL,
    which hands rows to Python faster than quads_for_pattern."""
    for row in kb.query("SELECT ?s ?o ?p WHERE { ?s ?p ?o }", prologue=False,
                        substitutions={ox.Variable("p"): ox.NamedNode(predicate)}):
        yield row[0], row[1]


def _best(pairs, index: dict) -> dict:
    """position -> the best literal (English or untagged first) of the subjects in ``index``."""
    by: dict = {}
    for s, o in pairs:
        p = index.get(s.value)
        if p is not None:
            by.setdefault(p, []).append(o)
    return {p: pick(lits) for p, lits in by.items()}


def build_all(kb) -> dict[str, Table]:
    """Every type's table, one scan per predicate for all of them."""
    dsi = kb.names.dsi
    sh = Shared()
    gone = {s.value for prop in ("mergedInto", "withdrawn") for s, _ in _scan(kb, dsi(prop))}
    all_hidden = {s.value for s, o in _scan(kb, dsi("hidden")) if o.value == "true"}
    # slots: one per (type, entity); where: IRI -> slot, or a tuple of slots (an entity of two types)
    slot_type: list[str] = []
    slot_iri: list[str] = []
    where: dict = {}
    for type_, cls in BROWSE_TYPES.items():
        for q in kb.quads(None, ox.NamedNode(RDF_TYPE), ox.NamedNode(dsi(cls)), None):
            s = q.subject
            if not isinstance(s, ox.NamedNode) or s.value in gone:
                continue
            iri = intern(s.value)  # one str per IRI, however many statements name it
            found = where.get(iri)
            mine = () if found is None else (found,) if isinstance(found, int) else found
            if any(slot_type[x] == type_ for x in mine):
                continue
            slot = len(slot_type)
            slot_type.append(type_)
            slot_iri.append(iri)
            where[iri] = slot if not mine else (*mine, slot)

    def slots(iri: str):
        found = where.get(iri)
        return () if found is None else (found,) if isinstance(found, int) else found

    n_slots = len(slot_type)
    label_lits: list = [None] * n_slots
    for s, o in _scan(kb, RDFS_LABEL):
        for slot in slots(s.value):
            if isinstance(o, ox.Literal):
                if label_lits[slot] is None:
                    label_lits[slot] = [o]
                else:
                    label_lits[slot].append(o)
    labels = [pick(lits) if lits else None for lits in label_lits]
    del label_lits
    dates = {}
    for prop in ("startDate", "created"):
        col: list = [""] * n_slots
        seen_values: dict[str, str] = {}  # one str per distinct date
        for s, o in _scan(kb, dsi(prop) if prop == "startDate" else DCT + prop):
            for slot in slots(s.value):
                v = seen_values.setdefault(o.value, o.value)
                if not col[slot] or v < col[slot]:
                    col[slot] = v
        dates[prop] = col
    takes_part = [(intern(s.value), intern(o.value)) for s, o in _scan(kb, dsi("takesPartIn"))]
    related: list[tuple[int, int]] = []
    for org, proj in takes_part:  # visible projects of an organisation, visible partners of a project
        if org in all_hidden or org in gone or proj in all_hidden or proj in gone:
            continue
        related += [(slot, sh.oid(proj)) for slot in slots(org) if slot_type[slot] == "organisation"]
        related += [(slot, sh.oid(org)) for slot in slots(proj) if slot_type[slot] == "project"]
    props = {f.prop for fs in FACETS.values() for f in fs} | {p for fs in FACETS.values() for f in fs for p in f.also}
    props |= set(LOCATED) | set(KIND_PROP.values())
    stated: dict[str, list[tuple[str, int]]] = {}  # prop -> (subject IRI, value id) of IRI objects
    for prop in sorted(props):
        stated[prop] = [(intern(s.value), sh.vid(o.value)) for s, o in _scan(kb, dsi(prop))
                        if isinstance(o, ox.NamedNode)]
    # (slot, value id) per (type, facet key), per located property and per kind
    facet_pairs: dict[tuple[str, str], list] = {}
    for type_, facets in FACETS.items():
        for facet in facets:
            pairs = facet_pairs.setdefault((type_, facet.key), [])
            for prop in (facet.prop, *facet.also):
                pairs += [(slot, v) for s, v in stated[prop] for slot in slots(s) if slot_type[slot] == type_]
            if facet.via_projects:
                by_project: dict[str, list[int]] = {}
                for s, v in stated[facet.prop]:
                    by_project.setdefault(s, []).append(v)
                pairs += [(slot, v) for org, proj in takes_part if proj in by_project
                          for slot in slots(org) if slot_type[slot] == type_ for v in by_project[proj]]
    located_pairs = {prop: [(slot, v) for s, v in stated[prop] for slot in slots(s)] for prop in LOCATED}
    kind_pairs = {type_: [(slot, v) for s, v in stated[prop] for slot in slots(s) if slot_type[slot] == type_]
                  for type_, prop in KIND_PROP.items()}
    del stated, takes_part
    _label_values(kb, sh)
    # split by type, in name order; the strings go to one mapped file (kb/index/columns.py)
    columns = Writer()
    tables = {}
    by_type: dict[str, list[int]] = {t: [] for t in BROWSE_TYPES}
    for slot, type_ in enumerate(slot_type):
        by_type[type_].append(slot)
    position = [0] * n_slots
    for type_, members in by_type.items():
        tab = Table(kb, type_, sh)
        named = [(labels[s] or slug_of(slot_iri[s]), s) for s in members]
        named.sort(key=lambda x: (x[0].casefold(), slot_iri[x[1]]))
        for pos, (_, s) in enumerate(named):
            position[s] = pos
        n = len(named)
        iris = [slot_iri[s] for _, s in named]
        tab.iris = columns.strings(iris, lookup=True)
        tab.labels = columns.strings([label for label, _ in named])
        tab.starts = columns.strings([dates["startDate"][s] for _, s in named])
        tab.added = columns.strings([dates["created"][s] for _, s in named])
        tab.hidden = bitset((pos for pos, iri in enumerate(iris) if iri in all_hidden), n)
        del iris
        tab.all = (1 << n) - 1
        mine = set(members)

        def local(pairs):
            return [(position[s], v) for s, v in pairs if s in mine]

        for facet in FACETS.get(type_, ()):
            pairs = local(facet_pairs[(type_, facet.key)])
            tab.facet_values[facet.key] = Multi(n, pairs)
            members_of: dict[int, list[int]] = {}
            for p, v in set(pairs):
                members_of.setdefault(v, []).append(p)
            tab.bits[facet.key] = {sh.values[v]: bitset(ps, n) for v, ps in members_of.items()}
        tab.located = {prop: Multi(n, local(pairs)) for prop, pairs in located_pairs.items()}
        if type_ in KIND_PROP:
            tab.kinds = Multi(n, local(kind_pairs[type_]))
        if type_ in RELATED_TYPE:
            tab.related = Multi(n, local(related))
            tab.counts = array("i", (tab.related.offsets[p + 1] - tab.related.offsets[p] for p in range(n)))
        else:
            tab.counts = array("i", bytes(4 * n))
        tables[type_] = tab
    sh.others, sh.other_id = columns.strings(sh.others, lookup=True), None
    for tab in tables.values():  # the ids and offsets too: nothing per entity stays in the heap
        tab.facet_values = {k: m.mapped(columns) for k, m in tab.facet_values.items()}
        tab.located = {k: m.mapped(columns) for k, m in tab.located.items()}
        tab.kinds = tab.kinds.mapped(columns) if tab.kinds is not None else None
        tab.related = tab.related.mapped(columns) if tab.related is not None else None
        tab.counts = columns.ints(tab.counts)
    columns.finish()
    return tables


def _label_values(kb, sh: Shared) -> None:
    """The label of every value (facet values, places, kinds), and its label in each language."""
    preds = (ox.NamedNode(RDFS_LABEL), ox.NamedNode(SKOS_PREF))
    for iri in sh.values:
        node = ox.NamedNode(iri)
        found = [q.object for p in preds for q in kb.quads(node, p, None, None)]
        sh.value_labels[iri] = pick(found) or slug_of(iri)
        for lit in found:  # the label in each language, for visitors who read it (English is the fallback)
            if isinstance(lit, ox.Literal) and lit.language:
                sh.labels_in.setdefault(lit.language, {}).setdefault(iri, lit.value)
