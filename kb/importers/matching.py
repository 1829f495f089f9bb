"""Matching DSI4EU records to the entities already in the store (the 2013 import, the curated data).

DSI4EU imported the 2013 data, so most of its older records are the same organisations and
projects under new integer ids. Evidence per candidate pair: same normalised name, same website
host, coordinates within ~5 km, same country, and for projects a shared (already matched)
organisation. A *confident* match makes the DSI4EU record describe the existing entity (one entity,
both sources); a *doubtful* one keeps two entities and links them with ``rdfs:seeAlso`` and a note.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import pyoxigraph as ox

from kb.importers.common import host_of, norm
from kb.terms import sparql_term

GENERIC_HOSTS = {"facebook.com", "twitter.com", "google.com", "sites.google.com", "wordpress.com",
                 "blogspot.com", "linkedin.com", "youtube.com", "github.com", "meetup.com",
                 "instagram.com", "medium.com", "wix.com", "tumblr.com", "en.wikipedia.org"}


@dataclass
class Record:
    """One side of a match: key (source id or IRI), name and the evidence fields."""

    key: str
    name: str
    host: str = ""
    lat: float | None = None
    long: float | None = None
    country: str = ""
    orgs: frozenset = field(default_factory=frozenset)


@dataclass
class Match:
    key: str
    iri: str
    name: str
    other_name: str
    evidence: list[str]
    confident: bool

    def as_dict(self) -> dict:
        return {"record": self.key, "entity": self.iri, "name": self.name,
                "entity_name": self.other_name, "evidence": self.evidence,
                "decision": "same entity" if self.confident else "doubtful"}


def _km(a: Record, b: Record) -> float | None:
    if None in (a.lat, a.long, b.lat, b.long):
        return None
    dlat = (a.lat - b.lat) * 111.0
    dlong = (a.long - b.long) * 111.0 * math.cos(math.radians((a.lat + b.lat) / 2))
    return math.hypot(dlat, dlong)


def evidence(rec: Record, cand: Record) -> tuple[int, list[str], bool]:
    """(score, evidence lines, conflicting?) of a candidate pair."""
    lines, score = [], 0
    same_name = norm(rec.name) == norm(cand.name) and bool(norm(rec.name))
    if same_name:
        lines.append(f"same normalised name '{norm(rec.name)}'")
        score += 4
    host_conflict = False
    if rec.host and cand.host:
        if rec.host == cand.host and rec.host not in GENERIC_HOSTS:
            lines.append(f"same website host {rec.host}")
            score += 3
        elif rec.host != cand.host:
            host_conflict = True
    km = _km(rec, cand)
    far = False
    if km is not None:
        if km <= 5:
            lines.append(f"coordinates {km:.1f} km apart")
            score += 2
        elif km > 50:
            far = True
    if rec.country and cand.country:
        if rec.country == cand.country:
            lines.append("same country")
            score += 1
        else:
            far = True
    shared = rec.orgs & cand.orgs
    if shared:
        lines.append(f"{len(shared)} shared organisation(s)")
        score += 3
    return score, lines, host_conflict and far


def match(records: list[Record], candidates: list[Record]) -> list[Match]:
    """Confident matches (each candidate used at most once, best evidence first) and doubtful ones."""
    by_name, by_host = defaultdict(list), defaultdict(list)
    for c in candidates:
        if norm(c.name):
            by_name[norm(c.name)].append(c)
        if c.host and c.host not in GENERIC_HOSTS:
            by_host[c.host].append(c)
    scored = []
    for rec in records:
        seen = set()
        for cand in by_name.get(norm(rec.name), []) + by_host.get(rec.host, []):
            if cand.key in seen:
                continue
            seen.add(cand.key)
            score, lines, conflict = evidence(rec, cand)
            same_name = norm(rec.name) == norm(cand.name)
            name_count = len(by_name.get(norm(rec.name), []))
            if same_name:
                strong = not conflict and (score > 4 or name_count == 1)
            else:
                strong = score >= 5 and not conflict and _overlap(rec.name, cand.name)
            scored.append((-score, rec.key, cand.key, rec, cand, lines, strong))
    scored.sort(key=lambda s: s[:3])
    used_rec, used_cand, out = set(), set(), []
    for _, rkey, ckey, rec, cand, lines, strong in scored:
        if strong and rkey not in used_rec and ckey not in used_cand:
            used_rec.add(rkey)
            used_cand.add(ckey)
            out.append(Match(rkey, ckey, rec.name, cand.name, lines, True))
    for _, rkey, ckey, rec, cand, lines, strong in scored:
        if rkey in used_rec:
            continue
        why = list(lines)
        if strong and ckey in used_cand:
            why.append("the entity already matched another DSI4EU record")
        elif not strong:
            why.append("not enough agreeing evidence")
        out.append(Match(rkey, ckey, rec.name, cand.name, why, False))
    return out


def _overlap(a: str, b: str) -> bool:
    words_a = {w for w in norm(a).split() if len(w) > 2}
    words_b = {w for w in norm(b).split() if len(w) > 2}
    return bool(words_a & words_b)


def store_candidates(kb, cls: str, graphs: list[str]) -> list[Record]:
    """Entities of class ``cls`` in ``graphs`` with their name, website host, coordinates, country
    and organisations, read from those graphs only (so the result does not depend on the import
    that is being rebuilt)."""
    values = [ox.NamedNode(g) for g in graphs]
    rows = kb.select(f"""
        SELECT ?e (SAMPLE(?l) AS ?label) (SAMPLE(?w) AS ?site) (SAMPLE(?la) AS ?lat)
               (SAMPLE(?lo) AS ?long) (SAMPLE(?c) AS ?country)
               (GROUP_CONCAT(DISTINCT STR(?org); separator=" ") AS ?orgs)
        WHERE {{
          VALUES ?g {{ {sparql_term(values)} }}
          GRAPH ?g {{ ?e a {sparql_term(ox.NamedNode(kb.names.dsi(cls)))} }}
          {{ VALUES ?g1 {{ {sparql_term(values)} }} GRAPH ?g1 {{ ?e rdfs:label ?l }} }}
          OPTIONAL {{ VALUES ?g2 {{ {sparql_term(values)} }} GRAPH ?g2 {{ ?e dsi:website ?w }} }}
          OPTIONAL {{ VALUES ?g3 {{ {sparql_term(values)} }} GRAPH ?g3 {{ ?e geo:lat ?la ; geo:long ?lo }} }}
          OPTIONAL {{ VALUES ?g4 {{ {sparql_term(values)} }} GRAPH ?g4 {{ ?e dsi:country ?c }} }}
          OPTIONAL {{ VALUES ?g5 {{ {sparql_term(values)} }}
                      GRAPH ?g5 {{ ?m dsi:project ?e ; dsi:organisation ?org }} }}
        }} GROUP BY ?e""")
    out = []
    for r in rows:
        out.append(Record(
            key=r["e"].value, name=r["label"].value,
            host=host_of(r["site"].value) if "site" in r else "",
            lat=float(r["lat"].value) if "lat" in r else None,
            long=float(r["long"].value) if "long" in r else None,
            country=r["country"].value if "country" in r else "",
            orgs=frozenset(r["orgs"].value.split()) if "orgs" in r and r["orgs"].value else frozenset(),
        ))
    return sorted(out, key=lambda rec: rec.key)
