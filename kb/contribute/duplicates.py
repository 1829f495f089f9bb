"""Suspected duplicates: for a submission (``candidates``) and already in the data (``groups``).

Evidence, strongest first: the same website host (``http://www.x.org/`` and ``https://x.org`` are one
host; shared hosts such as facebook.com count with their first path segment), the same normalised
name (case, accents, punctuation and legal forms such as Ltd., GmbH, e.V., S.L., B.V. ignored), or
a close name in the same city. Places are also the same when GeoNames knows both names for one city
("Den Haag", "The Hague"). Hidden, withdrawn and merged entities are left out. The entities are read
into memory once per store generation, so a check is a few dictionary look-ups.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit
from dataclasses import dataclass, field

import pyoxigraph as ox
from rapidfuzz import fuzz

from kb.link.matching import LEGAL_FORMS, fold, site_key
from kb.store.generational import PerGeneration
from kb.terms import sparql_term

TYPES = {"organisation": "Organisation", "project": "Project", "place": "Place"}
# fuzz.ratio (0-100) of two normalised names, spaces removed, for "close name in the same city".
# Over every same-city pair of the real data, 84-96 is empty: 97 is a spelling variant ("Sea
# Communication" / "Sea Communications"); 83 and below are mostly different organisations that share
# words ("Rewired State" / "Young Rewired State" 83, "Barcelona Lab" / "Barcelona Media" 77). 90 sits
# in the gap, with room for one typo in a short name.
CLOSE_NAME = 90
SAME_HOST = "same website host"
SAME_PAGE = "same web page"
SAME_NAME = "same name"
CLOSE_IN_CITY = "close name in the same city"
SAME_CITY = "another name of the same city (GeoNames)"
_DOTTED = re.compile(r"\b(?:[^\W\d_]\.){1,3}(?:[^\W\d_]\b)?")
_EXTRA_LEGAL = frozenset({"sl", "slu", "sll", "bv", "ev", "gbr", "ohg", "sas", "scs", "srls", "spa", "sprl",
                          "cvba", "vof", "oü", "ou", "sp", "zoo", "sro", "as", "doo", "kft", "zrt", "ltda"})


def normal_name(text: str | None) -> str:
    """A name's comparison key: 'ESSRG Ltd.' and 'essrg' -> 'essrg'; 'Waag Society e.V.' -> 'waag society'."""
    text = _DOTTED.sub(lambda m: m.group(0).replace(".", ""), text or "")
    words = fold(text).split()
    kept = [w for w in words if w not in LEGAL_FORMS and w not in _EXTRA_LEGAL]
    return " ".join(kept or words)


_FILE_SUFFIX = re.compile(r"\.(php|html?|aspx?|jsp|cgi)$")


def host_key(url: str | None) -> str:
    """A website's host without scheme, ``www.``, port, path or case ('' for none, and for a file
    name taken for a host such as ``index.php``)."""
    key = site_key(url or "") if url and url.strip() else ""
    return "" if _FILE_SUFFIX.search(key.split("/")[0]) else key


def page_key(url: str | None) -> str:
    """Host and path (no scheme, ``www.``, query or trailing slash): one organisation's site hosts
    many projects, so for projects only the same page is evidence."""
    h = host_key(url)
    if not h:
        return ""
    path = urlsplit(url.strip() if "://" in url else "http://" + url.strip()).path.rstrip("/").lower()
    return h.split("/")[0] + path


@dataclass
class Entry:
    iri: str
    type: str
    slug: str
    label: str = ""
    names: set[str] = field(default_factory=set)  # normal_name keys of every name
    hosts: set[str] = field(default_factory=set)
    websites: list[str] = field(default_factory=list)
    city: str = ""  # place IRI
    city_label: str = ""
    country: str = ""
    country_label: str = ""

    @property
    def page(self) -> str:
        return f"/page/{self.type}/{self.slug}"

    def as_dict(self) -> dict:
        return {"iri": self.iri, "type": self.type, "label": self.label, "page": self.page,
                "websites": self.websites, "city": self.city_label, "country": self.country_label}


@dataclass
class Match:
    """One suspected duplicate of a submission: which entity, and why."""

    iri: str
    label: str
    page: str
    type: str
    why: list[str]

    def as_dict(self) -> dict:
        return {"iri": self.iri, "label": self.label, "page": self.page, "type": self.type, "why": self.why}


@dataclass
class Group:
    """Entities of one type that look like one thing, and the evidence per pair."""

    type: str
    members: list[Entry]
    pairs: list[tuple[str, str, list[str]]]  # (iri, iri, reasons)

    @property
    def why(self) -> list[str]:
        return sorted({r for _, _, reasons in self.pairs for r in reasons})


class Index:
    """Public organisations, projects and places by name key, host and city."""

    def __init__(self, entries: list[Entry], generation: int):
        self.generation = generation
        self.entries = {e.iri: e for e in entries}
        self.by_name: dict[tuple[str, str], set[str]] = {}
        self.by_host: dict[tuple[str, str], set[str]] = {}
        self.by_city: dict[tuple[str, str], set[str]] = {}
        self.city_keys: dict[str, str] = {}  # city label key / IRI -> city IRI
        self.groups: list[Group] | None = None  # computed on first use (kb/duplicates.groups)
        for e in entries:
            for k in e.names:  # a place's name is only the same within its country
                k = k.replace(" ", "")
                self.by_name.setdefault((e.type, k + "@" + e.country if e.type == "place" else k),
                                        set()).add(e.iri)
            for h in e.hosts:
                self.by_host.setdefault((e.type, h), set()).add(e.iri)
            if e.city:
                self.by_city.setdefault((e.type, e.city), set()).add(e.iri)
                self.city_keys.setdefault(fold(e.city_label), e.city)




def build_index(kb, generation: int = 0) -> Index:
    n = kb.names
    dsi = n.dsi
    gone = {r["e"].value for r in kb.select(
        "SELECT ?e WHERE { { ?e dsi:hidden true } UNION { ?e dsi:withdrawn ?w } UNION { ?e dsi:mergedInto ?m } }")}
    entries: dict[str, Entry] = {}
    classes = [ox.NamedNode(dsi(c)) for c in TYPES.values()]
    for row in kb.select(f"SELECT ?e WHERE {{ VALUES ?c {{ {sparql_term(classes)} }} ?e a ?c }}"):
        iri = row["e"].value
        parsed = n.parse_entity(iri)
        if iri not in gone and parsed and parsed[0] in TYPES:
            entries.setdefault(iri, Entry(iri, parsed[0], parsed[1]))

    def each(predicate: str):
        for r in kb.select("SELECT ?e ?v ?pred WHERE { ?e ?pred ?v } ORDER BY ?e ?v",
                           bind={"pred": ox.NamedNode(predicate)}):
            e = entries.get(r["e"].value)
            if e is not None:
                yield e, r["v"].value

    labels: dict[str, str] = {}
    for r in kb.select("SELECT ?e ?v WHERE { ?e rdfs:label ?v } ORDER BY ?e ?v"):
        labels.setdefault(r["e"].value, r["v"].value)
    rdfs = "http://www.w3.org/2000/01/rdf-schema#"
    for e, v in each(rdfs + "label"):
        e.label = e.label or labels.get(e.iri, v)
        e.names.add(normal_name(v))
    for e, v in each("http://www.w3.org/2004/02/skos/core#altLabel"):
        e.names.add(normal_name(v))
    for e, v in each(dsi("website")):
        e.websites.append(v)
        key = host_key(v) if e.type == "organisation" else page_key(v)
        if key:
            e.hosts.add(key)
    for e, v in each(dsi("city")):
        e.city, e.city_label = e.city or v, e.city_label or labels.get(v, "")
    for e, v in each(dsi("country")):
        e.country, e.country_label = e.country or v, e.country_label or labels.get(v, "")
    for e in entries.values():
        e.names.discard("")
        e.label = e.label or e.slug
    return Index(list(entries.values()), generation)


index = PerGeneration(build_index)  # the index of a store for its current generation


def _close(a: str, b: str) -> bool:
    return fuzz.ratio(a.replace(" ", ""), b.replace(" ", "")) >= CLOSE_NAME


def candidates(kb, name: str, website: str | None = None, city: str | None = None,
               country: str | None = None, *, type: str = "organisation") -> list[Match]:
    """Public entities of ``type`` a new record (name, website, city name or place IRI) may
    duplicate, strongest evidence first; with ``country``, a city name is matched in that country."""
    idx = index(kb)
    why: dict[str, list[str]] = {}
    host = host_key(website) if type == "organisation" else page_key(website)
    if host:
        for iri in idx.by_host.get((type, host), ()):
            why.setdefault(iri, []).append(SAME_HOST if type == "organisation" else SAME_PAGE)
    key = normal_name(name)
    if key:
        for iri in idx.by_name.get((type, key.replace(" ", "")), ()):
            why.setdefault(iri, []).append(SAME_NAME)
    city_iri = _city(kb, idx, (city or "").strip(), country)
    if key and city_iri:
        for iri in idx.by_city.get((type, city_iri), ()):
            if SAME_NAME not in why.get(iri, ()) and any(_close(key, k) for k in idx.entries[iri].names):
                why.setdefault(iri, []).append(CLOSE_IN_CITY)
    order = {SAME_HOST: 0, SAME_PAGE: 0, SAME_NAME: 1, CLOSE_IN_CITY: 2}
    out = [Match(iri, idx.entries[iri].label, idx.entries[iri].page, type, reasons)
           for iri, reasons in why.items()]
    out.sort(key=lambda m: (min(order[r] for r in m.why), -len(m.why), m.label.casefold(), m.iri))
    return out


def _city(kb, idx: Index, city: str, country: str | None) -> str:
    """The existing place a city value names ('' when none): an IRI, or a name in the country."""
    if not city or city.startswith(kb.names.id_ns):
        return city
    if country and country.strip():
        from kb.index import places

        try:
            found = places.city(kb, city, country)
        except places.PlaceError:
            return ""
        return found.iri if found.existing else ""
    return idx.city_keys.get(fold(city), "")


def cached_groups(kb) -> list[Group]:
    """:func:`groups`, computed once per store generation."""
    idx = index(kb)
    if idx.groups is None:
        idx.groups = groups(kb, idx)
    return idx.groups


def pair_reasons(kb, a: str, b: str) -> list[str]:
    """Why ``a`` and ``b`` are a suspected pair now ([] when they are not)."""
    for g in cached_groups(kb):
        for x, y, why in g.pairs:
            if {x, y} == {a, b}:
                return why
    return []


def groups(kb, idx: Index | None = None) -> list[Group]:
    """Suspected duplicate groups already in the store (connected by any evidence), largest first."""
    idx = idx or index(kb)
    pairs: dict[tuple[str, str], set[str]] = {}

    def link(members, reason):
        members = sorted(members)
        for i, a in enumerate(members):
            for b in members[i + 1:]:
                pairs.setdefault((a, b), set()).add(reason)

    for (type_, _), members in idx.by_host.items():
        if type_ != "place" and len(members) > 1:
            link(members, SAME_HOST if type_ == "organisation" else SAME_PAGE)
    for (_, _), members in idx.by_name.items():
        if len(members) > 1:
            link(members, SAME_NAME)
    for (type_, _), members in idx.by_city.items():
        if len(members) < 2:
            continue
        ms = sorted(members)
        for i, a in enumerate(ms):
            for b in ms[i + 1:]:
                if (a, b) not in pairs and any(_close(x, y) for x in idx.entries[a].names
                                               for y in idx.entries[b].names):
                    link((a, b), CLOSE_IN_CITY)
    for members in _same_cities(kb, idx):
        link(members, SAME_CITY)
    parent: dict[str, str] = {}

    def find(x):
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for a, b in pairs:
        parent[find(a)] = find(b)
    grouped: dict[str, list[str]] = {}
    for a, b in pairs:
        for x in (a, b):
            members = grouped.setdefault(find(x), [])
            if x not in members:
                members.append(x)
    out = []
    for members in grouped.values():
        members.sort()
        inside = [(a, b, sorted(r)) for (a, b), r in sorted(pairs.items()) if a in members]
        out.append(Group(idx.entries[members[0]].type, [idx.entries[m] for m in members], inside))
    out.sort(key=lambda g: (-len(g.members), g.type, g.members[0].label.casefold()))
    return out


def _same_cities(kb, idx: Index):
    """Places of one country that GeoNames gives as names of one city."""
    from kb.index import places

    by_city: dict[tuple[str, int], set[str]] = {}
    for e in idx.entries.values():
        if e.type != "place" or not e.country:
            continue
        try:
            code = places.country(kb, e.country).code
        except places.PlaceError:
            continue
        for gid in places.geonames_ids(e.label, code):
            by_city.setdefault((code, gid), set()).add(e.iri)
    return [m for m in by_city.values() if len(m) > 1]
