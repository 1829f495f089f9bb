"""The linker: candidates from a target's SPARQL endpoint, scored, written as links with evidence.

For a batch of our entities it asks three batched questions (items with one of our websites, items
with one of our names or aliases, then the facts about every candidate found), scores each candidate
on name, website, country and class, and keeps at most one link per entity: ``owl:sameAs`` when the
evidence is strong and unambiguous, ``skos:closeMatch`` when it is probable. Moderated links are left
alone; progress is saved after every batch so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from kb.link import linkset
from kb.link.client import SparqlClient
from kb.link.linkset import CLOSE_MATCH, SAME_AS, Link
from kb.link.matching import best_similarity, fold, site_key, tokens, website_variants
from kb.link.targets import COUNTRY_LANGUAGES, ORGANIZATION, Target
from kb.index.reconcile import Entity, build_index
from kb.store import KB

LINKED_TYPES = ("organisation", "project", "place")


def kind_of(e: Entity) -> str:
    """organisation, project, country or city (a place in a country is a city)."""
    if e.type == "place":
        return "city" if e.country_label else "country"
    return "project" if e.type in ("project", "activity") else e.type


@dataclass
class Candidate:
    """What the target says about one item."""

    item: str
    labels: list[str] = field(default_factory=list)
    sites: set[str] = field(default_factory=set)
    countries: set[str] = field(default_factory=set)  # folded English labels
    classes: set[str] = field(default_factory=set)  # Q-ids from ASKED_CLASSES


@dataclass
class Judgement:
    item: str
    predicate: str | None
    score: float
    evidence: list[str]


def judge(e: Entity, c: Candidate, target: Target) -> Judgement:
    """Weigh the evidence for ``e`` being ``c`` (pure: no I/O)."""
    kind = target.kinds[kind_of(e)]
    sim, ours, theirs = best_similarity(e.names, c.labels)
    evidence = [f"name similarity {sim:.2f} ('{ours}' ~ '{theirs}')"] if ours else ["no comparable name"]
    same_site = bool(e.sites & c.sites)
    related = not same_site and any(_related(a, b) for a in e.sites for b in c.sites)
    site_conflict = bool(e.sites and c.sites and not same_site and not related)
    if same_site:
        evidence.append(f"same website ({', '.join(sorted(e.sites & c.sites))})")
    elif related:
        evidence.append("websites on the same domain")
    elif site_conflict:
        evidence.append("different websites")
    our_countries = {x for x in e.countries if "://" not in x}
    if kind_of(e) == "country":
        our_countries = set()
    country = "unknown"
    if our_countries and c.countries:
        country = "match" if our_countries & c.countries else "conflict"
        evidence.append(f"country {country} ({e.country_label} / {', '.join(sorted(c.countries))})")
    fits = bool(c.classes & kind.fits)
    excluded = bool(c.classes & kind.excludes) and not fits
    org_for_project = kind_of(e) == "project" and not fits and ORGANIZATION in c.classes
    if org_for_project and sim < 0.9:
        excluded = True  # the website of a project is often its organisation's
        evidence.append("an organisation, not a project, under another name")
    if fits:
        evidence.append("class fits (" + ", ".join(sorted(c.classes & kind.fits)) + ")")
    elif excluded:
        evidence.append("class excludes (" + ", ".join(sorted(c.classes & kind.excludes)) + ")")

    score = 0.6 * sim + (0.3 if same_site else 0.0) + (0.1 if country == "match" else 0.0) \
        + (0.05 if fits else 0.0) - (0.3 if country == "conflict" else 0.0) - (0.15 if site_conflict else 0.0)
    score = max(0.0, min(1.0, score))
    predicate = None
    if excluded:
        predicate = None
    elif same_site and sim >= 0.6 and country != "conflict":
        predicate = SAME_AS
    elif sim >= 0.95 and country == "match" and fits and not site_conflict:
        predicate = SAME_AS
    elif sim >= 0.95 and kind_of(e) == "country" and fits:
        predicate = SAME_AS
    elif same_site and (country != "conflict" or sim >= 0.9):
        predicate = CLOSE_MATCH  # a multinational's website, with an office elsewhere
    elif sim >= 0.95 and country != "conflict" and not site_conflict and (fits or country == "match"):
        predicate = CLOSE_MATCH
    elif sim >= 0.85 and country == "match" and fits and not site_conflict:
        predicate = CLOSE_MATCH
    elif sim >= 0.95 and country == "match" and fits and len(tokens(ours)) >= 3:
        predicate = CLOSE_MATCH  # a long distinctive name outweighs a changed website
    if predicate == SAME_AS and org_for_project:
        predicate = CLOSE_MATCH
        evidence.append("an organisation, not a project: at most a close match")
    return Judgement(c.item, predicate, round(score, 3), evidence)


def _related(a: str, b: str) -> bool:
    """One host is a subdomain of the other (fundacio.guifi.net and guifi.net)."""
    return "/" not in a + b and (a.endswith("." + b) or b.endswith("." + a))


def choose(judgements: list[Judgement]) -> Judgement | None:
    """The one link to keep: the best linkable candidate, downgraded when a rival is as good."""
    linkable = sorted((j for j in judgements if j.predicate), key=lambda j: (-j.score, j.item))
    if not linkable:
        return None
    best = linkable[0]
    rivals = [j for j in linkable[1:] if best.score - j.score < 0.1]
    if not rivals:
        return best
    if best.predicate == SAME_AS and all(j.predicate == CLOSE_MATCH for j in rivals) and \
            best.score - rivals[0].score >= 0.05:
        return best
    if best.predicate == SAME_AS:
        best.predicate = CLOSE_MATCH
        best.evidence.append(f"ambiguous: {len(rivals)} other candidate(s) score within 0.1")
        return best
    return None  # several probable candidates: none is worth a link


def languages_of(e: Entity) -> list[str]:
    langs = ["en", "mul"]
    for c in e.countries:
        for lang in COUNTRY_LANGUAGES.get(c, []):
            if lang not in langs:
                langs.append(lang)
    return langs


class Linker:
    """Links our public entities to one target, batch by batch."""

    def __init__(self, kb: KB, target: Target, client: SparqlClient, *, batch_size: int = 40,
                 log: Callable[[str], None] = lambda m: None):
        self.kb = kb
        self.target = target
        self.client = client
        self.batch_size = batch_size
        self.log = log
        self.graph = kb.graphs.linkset(target.name)

    def subjects(self) -> list[Entity]:
        idx = build_index(self.kb)
        return sorted((e for e in idx.entities.values() if e.type in LINKED_TYPES),
                      key=lambda e: (e.type, e.slug))

    def candidates(self, batch: list[Entity]) -> dict[str, set[str]]:
        """Our entity IRI -> items found by website or by name."""
        found: dict[str, set[str]] = {e.iri: set() for e in batch}
        by_site: dict[str, set[str]] = {}
        for e in batch:
            for w in e.websites:
                for v in website_variants(w):
                    by_site.setdefault(v, set()).add(e.iri)
        if by_site:
            for row in self.client.select(self.target.website_query(sorted(by_site))):
                for iri in by_site.get(row["site"].value, ()):
                    found[iri].add(row["item"].value)
        by_name: dict[tuple[str, str], set[str]] = {}
        for e in batch:
            for name in set(e.names):
                for lang in languages_of(e):
                    by_name.setdefault((name.strip(), lang), set()).add(e.iri)
        if by_name:
            for row in self.client.select(self.target.label_query(sorted(by_name))):
                key = (row["name"].value, row["name"].lang)
                for iri in by_name.get(key, ()):
                    found[iri].add(row["item"].value)
        return found

    def details(self, items: set[str], languages: list[str]) -> dict[str, Candidate]:
        out = {i: Candidate(i) for i in items}
        ns = self.target.namespace
        chunk = sorted(items)
        for start in range(0, len(chunk), 100):
            query = self.target.details_query(chunk[start:start + 100], languages)
            for row in self.client.select(query):
                c = out.get(row["item"].value)
                if c is None or "p" not in row or "v" not in row:
                    continue
                p, v = row["p"].value, row["v"].value
                if p in ("label", "alt"):
                    c.labels.append(v)
                elif p == "site" and site_key(v):
                    c.sites.add(site_key(v))
                elif p == "country":
                    c.countries.add(fold(row["vl"].value) if "vl" in row else v)
                elif p == "isa" and v.startswith(ns):
                    c.classes.add(v[len(ns):])
        return out

    def link_batch(self, batch: list[Entity], decided: dict[tuple[str, str], str]) -> list[Link]:
        settled = {e for (e, _), status in decided.items() if status == linkset.CONFIRMED}
        batch = [e for e in batch if e.iri not in settled]
        found = self.candidates(batch)
        items = {i for s in found.values() for i in s}
        languages = sorted({lang for e in batch for lang in languages_of(e)})
        facts = self.details(items, languages) if items else {}
        links = []
        for e in batch:
            options = [judge(e, facts[i], self.target) for i in sorted(found[e.iri])
                       if decided.get((e.iri, i)) != linkset.REJECTED]
            best = choose(options)
            if best:
                links.append(Link(e.iri, best.item, best.predicate, best.score, best.evidence))
        linkset.replace_machine_links(self.kb, self.graph, [e.iri for e in batch], links,
                                      source=self.client.endpoint)
        return links

    def run(self, *, state_path: Path, resume: bool = False, limit: int | None = None) -> dict:
        """Link every subject (or the first ``limit``); returns figures of the run."""
        state = _read_state(state_path) if resume else {}
        if state.get("target") not in (None, self.target.name):
            state = {}
        done = set(state.get("done", []))
        subjects = [e for e in self.subjects() if e.iri not in done]
        if limit is not None:
            subjects = subjects[:max(0, limit)]
        decided = linkset.decisions(self.kb, self.graph)
        figures = {"same_as": state.get("same_as", 0), "close_match": state.get("close_match", 0)}
        state.update({"target": self.target.name, "endpoint": self.client.endpoint, "finished": False,
                      "started": state.get("started") or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        _write_state(state_path, state)
        t0 = time.monotonic()
        for start in range(0, len(subjects), self.batch_size):
            batch = subjects[start:start + self.batch_size]
            new = self.link_batch(batch, decided)
            figures["same_as"] += sum(1 for link in new if link.predicate == SAME_AS)
            figures["close_match"] += sum(1 for link in new if link.predicate == CLOSE_MATCH)
            done.update(e.iri for e in batch)
            state.update(done=sorted(done), **figures)
            _write_state(state_path, state)
            self.log(f"{len(done)} entities looked at; {figures['same_as']} owl:sameAs, "
                     f"{figures['close_match']} skos:closeMatch")
        demoted = linkset.one_same_as_per_item(self.kb, self.graph)
        figures["same_as"] -= demoted
        figures["close_match"] += demoted
        state.update(finished=True, **figures)
        linkset.describe_graph(self.kb, self.graph, derived_from=self.target.namespace,
                               title=f"Links from DSI entities to {self.target.title} (owl:sameAs, skos:closeMatch)")
        _write_state(state_path, state)
        return {**figures, "entities": len(done), "requests": self.client.requests,
                "retries": self.client.retries, "seconds": round(time.monotonic() - t0, 2)}


def _read_state(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_state(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, path)
