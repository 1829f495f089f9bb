"""Reconciliation over the store: score our entities against a name, website, country and type.

Answers the W3C Reconciliation Service API (``endpoint/reconcile.py``) and the Mix'n'match export.
An in-memory index is built once per store generation (a few SELECTs), so a batch of queries costs
dictionary look-ups and a few hundred fuzzy comparisons, not SPARQL round trips.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyoxigraph as ox

from kb.link.matching import best_similarity, fold, site_key, tokens
from kb.store.generational import PerGeneration
from kb.store import KB
from kb.terms import sparql_term

# Reconciliation type id -> ontology class; the ids are the entity types of our URIs.
TYPES = {"organisation": "Organisation", "project": "Project", "place": "Place",
         "activity": "Activity", "event": "Event"}
TYPE_NAMES = {"organisation": "Organisation", "project": "Project", "place": "Place",
              "activity": "Activity", "event": "Event"}
DEFAULT_TYPES = ("organisation", "project", "place")
# Property ids the service understands, with the names shown in OpenRefine.
PROPERTIES = {
    "website": "Website (dsi:website)",
    "country": "Country (dsi:country: name or our place URI)",
    "altLabel": "Alternative name (skos:altLabel)",
    "identifier": "Source identifier (dcterms:identifier, e.g. dsi4eu:organisation:336)",
}
PROPERTY_ALIASES = {"dsi:website": "website", "p856": "website", "url": "website", "homepage": "website",
                    "dsi:country": "country", "p17": "country", "skos:altlabel": "altLabel",
                    "altlabel": "altLabel", "alias": "altLabel", "dcterms:identifier": "identifier",
                    "id": "identifier"}

MATCH_SCORE = 85.0
MATCH_GAP = 10.0


@dataclass
class Entity:
    """What reconciliation needs to know of one public entity."""

    iri: str
    type: str
    slug: str
    label: str = ""
    names: list[str] = field(default_factory=list)
    sites: set[str] = field(default_factory=set)
    websites: list[str] = field(default_factory=list)
    countries: set[str] = field(default_factory=set)  # folded labels and IRIs
    country_label: str = ""
    description: str = ""
    identifiers: list[str] = field(default_factory=list)


class Index:
    """Entities by IRI, by name word, by website and by source identifier."""

    def __init__(self, entities: list[Entity], generation: int):
        self.generation = generation
        self.entities = {e.iri: e for e in entities}
        self.by_token: dict[str, set[str]] = {}
        self.by_site: dict[str, set[str]] = {}
        self.by_identifier: dict[str, str] = {}
        self.by_folded: dict[str, set[str]] = {}
        for e in entities:
            for name in e.names:
                self.by_folded.setdefault(fold(name), set()).add(e.iri)
                for t in tokens(name):
                    self.by_token.setdefault(t, set()).add(e.iri)
            for s in e.sites:
                self.by_site.setdefault(s, set()).add(e.iri)
            for i in e.identifiers:
                self.by_identifier[i] = e.iri

    def candidates(self, query: str, sites=(), limit_per_token: int = 400) -> set[str]:
        """Entities sharing a distinctive word or a website with the query."""
        found: set[str] = set(self.by_folded.get(fold(query), ()))
        for t in tokens(query):
            hits = self.by_token.get(t, set())
            if len(hits) <= limit_per_token:
                found |= hits
        for s in sites:
            found |= self.by_site.get(s, set())
        return found




def build_index(kb: KB, generation: int = 0) -> Index:
    """Read the public entities (not hidden, withdrawn or merged) of the given types."""
    n = kb.names
    dsi = n.dsi
    classes = [ox.NamedNode(dsi(c)) for c in TYPES.values()]
    # Cheaper than FILTER NOT EXISTS per entity: read the few non-public entities once.
    hidden = {r["e"].value for r in kb.select(
        "SELECT ?e WHERE { { ?e dsi:hidden true } UNION { ?e dsi:withdrawn ?w } UNION { ?e dsi:mergedInto ?m } }")}
    entities: dict[str, Entity] = {}
    for row in kb.select(f"SELECT ?e WHERE {{ VALUES ?c {{ {sparql_term(classes)} }} ?e a ?c }}"):
        iri = row["e"].value
        if iri in hidden or iri in entities:
            continue
        parsed = n.parse_entity(iri)
        if parsed and parsed[0] in TYPES:
            entities[iri] = Entity(iri=iri, type=parsed[0], slug=parsed[1])

    prefixes = n.prefixes()

    def each(curie: str):
        """(entity, value) of one property, given as a prefixed name such as ``rdfs:label``."""
        prefix, local = curie.split(":", 1)
        for row in kb.select("SELECT ?e ?v ?p WHERE { ?e ?p ?v }",
                             bind={"p": ox.NamedNode(prefixes[prefix] + local)}):
            e = entities.get(row["e"].value)
            if e is not None:
                yield e, row["v"].value

    for e, v in each("rdfs:label"):
        if not e.label:
            e.label = v
        e.names.append(v)
    for e, v in each("skos:altLabel"):
        e.names.append(v)
    for e, v in each("dsi:website"):
        e.websites.append(v)
        if site_key(v):
            e.sites.add(site_key(v))
    for e, v in each("dsi:country"):
        e.countries.add(v)
        place = entities.get(v)  # places are indexed too: their label is known already
        if place is not None and place.label:
            e.countries.add(fold(place.label))
            e.country_label = e.country_label or place.label
    for e, v in each("dsi:shortDescription"):
        e.description = e.description or v
    for e, v in each("dcterms:description"):
        e.description = e.description or v
    for e, v in each("dcterms:identifier"):
        e.identifiers.append(v)
    usable = [e for e in entities.values() if e.names]
    for e in usable:
        if len(e.description) > 300:
            e.description = e.description[:297].rstrip() + "..."
    return Index(usable, generation)


index = PerGeneration(build_index)  # the index of a store for its current generation


def type_id(value: str, names) -> str | None:
    """A reconciliation type id from 'organisation', 'Organisation' or the class IRI."""
    v = (value or "").strip()
    if v.startswith(names.dsi_ns):
        v = v[len(names.dsi_ns):]
    v = v.removeprefix("dsi:").lower()
    return v if v in TYPES else None


def _values(v) -> list[str]:
    items = v if isinstance(v, list) else [v]
    out = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("id") or item.get("name") or ""
        if isinstance(item, (str, int, float)) and not isinstance(item, bool):
            out.append(str(item))
    return [s for s in out if s.strip()]


def property_id(pid: str) -> str | None:
    p = (pid or "").strip()
    if p in PROPERTIES:
        return p
    return PROPERTY_ALIASES.get(p.lower())


def score(idx: Index, query: str, *, types=(), properties=(), limit: int = 5) -> list[dict]:
    """Scored candidates (0..100, best first) for one reconciliation query."""
    props: dict[str, list[str]] = {}
    for prop in properties or ():
        pid = property_id(prop.get("pid", ""))
        if pid:
            props.setdefault(pid, []).extend(_values(prop.get("v")))
    names = [query] if query and query.strip() else []
    names += props.get("altLabel", [])
    sites = {site_key(w) for w in props.get("website", []) if site_key(w)}
    countries = {fold(c) if "://" not in c else c for c in props.get("country", [])}
    found: set[str] = set()
    for name in names:
        found |= idx.candidates(name)
    for s in sites:
        found |= idx.by_site.get(s, set())
    for ident in props.get("identifier", []):
        if ident in idx.by_identifier:
            found.add(idx.by_identifier[ident])
    results = []
    for iri in found:
        e = idx.entities[iri]
        if types and e.type not in types:
            continue
        sim, _, _ = best_similarity(names, e.names) if names else (0.0, "", "")
        points = 90.0 * sim
        features = [{"id": "name", "value": round(sim, 3)}]
        if sites:
            same_site = bool(sites & e.sites)
            points += 25.0 if same_site else (-10.0 if e.sites else 0.0)
            features.append({"id": "website", "value": same_site})
        if countries:
            same_country = bool(countries & e.countries)
            points += 10.0 if same_country else (-20.0 if e.countries else 0.0)
            features.append({"id": "country", "value": same_country})
        if props.get("identifier"):
            same_id = bool(set(props["identifier"]) & set(e.identifiers))
            points += 100.0 if same_id else 0.0
            features.append({"id": "identifier", "value": same_id})
        if not names:
            points += 60.0 if (sites & e.sites) else 0.0
        points = max(0.0, min(100.0, points))
        if points <= 20.0:
            continue
        results.append((points, e, features))
    results.sort(key=lambda r: (-r[0], r[1].label.lower(), r[1].iri))
    out = []
    for i, (points, e, features) in enumerate(results[:max(1, limit)]):
        runner_up = results[i + 1][0] if i + 1 < len(results) else 0.0
        match = i == 0 and points >= MATCH_SCORE and points - runner_up >= MATCH_GAP
        out.append(candidate(e, points, match=match, features=features))
    return out


def candidate(e: Entity, points: float, *, match: bool = False, features=None) -> dict:
    item = {"id": e.iri, "name": e.label, "score": round(points, 2), "match": match,
            "type": [{"id": e.type, "name": TYPE_NAMES[e.type]}]}
    if e.description:
        item["description"] = e.description
    if features:
        item["features"] = features
    return item


def suggest_entities(idx: Index, prefix: str, *, types=(), limit: int = 10) -> list[dict]:
    """Entities whose name (or one of its words) starts with ``prefix``, exact and shorter first."""
    p = fold(prefix)
    if not p:
        return []
    hits = []
    for e in idx.entities.values():
        if types and e.type not in types:
            continue
        best = None
        for name in e.names:
            f = fold(name)
            if f.startswith(p):
                rank = (0 if f == p else 1, len(f))
            elif f" {p}" in f" {f}":
                rank = (2, len(f))
            else:
                continue
            best = rank if best is None or rank < best else best
        if best is not None:
            hits.append((best, e.label.lower(), e))
    hits.sort(key=lambda h: (h[0], h[1]))
    out = []
    for _, _, e in hits[:limit]:
        item = {"id": e.iri, "name": e.label, "notable": [{"id": e.type, "name": TYPE_NAMES[e.type]}]}
        if e.description:
            item["description"] = e.description
        out.append(item)
    return out


WIKIDATA_CLASS = {"organisation": "Q43229", "project": "Q170584", "place": "Q2221906",
                  "activity": "Q170584", "event": "Q1656682"}


def mixnmatch_rows(idx: Index, type_: str = "organisation"):
    """(id, name, description, url, type) per public entity of one type: a Mix'n'match catalogue
    for one Wikidata property ("DSI organisation ID", see docs/wikidata.md), so the id is the bare
    slug (unique within a type) and type is the Wikidata class of the catalogue's items."""
    for e in sorted(idx.entities.values(), key=lambda e: e.slug):
        if e.type == type_:
            yield (e.slug, e.label, e.description, e.iri, WIKIDATA_CLASS[e.type])
