"""Writing one entity's facts into an import graph, respecting facts other graphs already state.

Precedence for single-valued facts: curated > dsi2013 > dsi4eu. When a higher graph already gives
an entity a label, the lower source's different name becomes a ``skos:altLabel``; its website,
place, coordinates, type, size, dates and descriptions are left to the higher graph, so one merged
entity never shows two of them.
"""

from __future__ import annotations

from collections import defaultdict

import pyoxigraph as ox

from kb.importers.common import Builder, norm, std
from kb.terms import sparql_term

SINGLE = ("website", "country", "city", "region", "organisationType", "organisationSize",
          "startDate", "endDate", "shortDescription", "socialImpact", "twitter")
SINGLE_STD = ("rdfs:label", "geo:lat", "dcterms:description", "dcterms:created")


class Existing:
    """Single-valued facts (predicate IRI -> values) per entity, from higher-precedence graphs."""

    def __init__(self, facts: dict[str, dict[str, list[str]]] | None = None):
        self.facts = facts or {}

    @classmethod
    def from_graphs(cls, kb, graphs: list[str]) -> "Existing":
        graphs = [g for g in graphs if g]
        if not graphs:
            return cls()
        preds = [kb.names.dsi(t) for t in SINGLE] + [std(p).value for p in SINGLE_STD]
        rows = kb.select(f"""
            SELECT ?s ?p ?o WHERE {{
              VALUES ?g {{ {sparql_term([ox.NamedNode(g) for g in graphs])} }}
              VALUES ?p {{ {sparql_term([ox.NamedNode(p) for p in preds])} }}
              GRAPH ?g {{ ?s ?p ?o }}
            }}""")
        facts: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        for row in rows:
            facts[row["s"].value][row["p"].value].append(row["o"].value)
        return cls(facts)

    def has(self, iri: str, pred: str) -> bool:
        return bool(self.facts.get(iri, {}).get(pred))

    def values(self, iri: str, pred: str) -> list[str]:
        return self.facts.get(iri, {}).get(pred, [])


class EntityWriter:
    """Adds an entity's facts to a :class:`Builder`, single-valued ones only where not yet stated."""

    def __init__(self, b: Builder, existing: Existing):
        self.b = b
        self.existing = existing

    def label(self, iri: str, name: str) -> None:
        if not name:
            return
        label_p = std("rdfs:label")
        known = self.existing.values(iri, label_p.value)
        if not known:
            self.b.add(iri, label_p, ox.Literal(name))
        elif norm(name) not in {norm(k) for k in known}:
            self.b.add(iri, "skos:altLabel", ox.Literal(name))

    def _free(self, iri: str, pred_iri: str) -> bool:
        return not self.existing.has(iri, pred_iri)

    def single(self, iri: str, term: str, obj) -> None:
        """A single-valued dsi: fact (obj: IRI string or pyoxigraph literal)."""
        pred = self.b.dsi(term)
        if obj is None or not self._free(iri, pred.value):
            return
        self.b.add(iri, pred, ox.NamedNode(obj) if isinstance(obj, str) else obj)

    def single_std(self, iri: str, prefixed: str, obj) -> None:
        pred = std(prefixed)
        if obj is None or not self._free(iri, pred.value):
            return
        self.b.add(iri, pred, obj)

    def text(self, iri: str, term: str, value: str) -> None:
        if value:
            self.single(iri, term, ox.Literal(value))

    def coords(self, iri: str, pair) -> None:
        if pair and self._free(iri, std("geo:lat").value):
            dec = ox.NamedNode("http://www.w3.org/2001/XMLSchema#decimal")
            self.b.add(iri, "geo:lat", ox.Literal(pair[0], datatype=dec))
            self.b.add(iri, "geo:long", ox.Literal(pair[1], datatype=dec))

    def date(self, iri: str, term: str, value: str | None) -> None:
        if value:
            self.single(iri, term, ox.Literal(value, datatype=ox.NamedNode(
                "http://www.w3.org/2001/XMLSchema#date")))
