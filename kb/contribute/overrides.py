"""Accepted submissions override what the imports and the curated file say, property by property.

An accepted edit states an entity's values of the properties a submitter may edit (its name,
website, descriptions, classifications, dates, places). For each such (entity, property), the values
in the submission graphs are the knowledge base's: statements of the same entity and property with
other values leave the import and curated graphs, at acceptance (in the accepting update) and at
every later import (``without_overridden``), so a re-import does not bring a corrected name back.
The source files and import reports keep the originals; the submission's graph holds the new values
with their provenance. Properties an edit does not state keep their imported values.
"""

from __future__ import annotations

from typing import Iterable

import pyoxigraph as ox

from kb.contribute.submission_json import CONCEPT_FIELDS, TEXT_FIELDS
from kb.contribute.queue import GEO, RDFS
from kb.terms import sparql_term

Pairs = dict[tuple[str, str], set]  # (subject IRI, property IRI) -> submitted values (terms)


def editable(kb) -> frozenset[str]:
    """The properties an edit replaces: those of the submission form and JSON shape."""
    dsi = kb.names.dsi
    return frozenset([RDFS + "label", dsi("website"), dsi("country"), dsi("city"), dsi("startDate"),
                      dsi("endDate"), GEO + "lat", GEO + "long"]
                     + [dsi(p) for p in TEXT_FIELDS.values()]
                     + [dsi(p) for p, _ in CONCEPT_FIELDS.values()])


def base_graphs(kb) -> list[str]:
    """The graphs submitted values override: the curated file's and each import's."""
    from kb.importers.meta import SOURCES

    return [kb.graphs.curated] + [kb.graphs.source(name) for name in SOURCES]


def pairs_of(kb, triples: Iterable[ox.Triple], entities: Iterable[str]) -> Pairs:
    """(entity, editable property) -> values, from the triples of one submission."""
    props, wanted = editable(kb), set(entities)
    out: Pairs = {}
    for t in triples:
        if isinstance(t.subject, ox.NamedNode) and t.subject.value in wanted and t.predicate.value in props:
            out.setdefault((t.subject.value, t.predicate.value), set()).add(t.object)
    return out


def submitted(kb) -> Pairs:
    """(entity, editable property) -> values, from every accepted submission in the store."""
    prefix = kb.graphs.ns + "submission/"
    rows = kb.select(f"SELECT DISTINCT ?s ?p ?o ?prefix WHERE {{ "
                     f"VALUES ?p {{ {sparql_term([ox.NamedNode(p) for p in sorted(editable(kb))])} }} "
                     "GRAPH ?g { ?s ?p ?o } FILTER(isIRI(?s) && STRSTARTS(STR(?g), ?prefix)) }",
                     bind={"prefix": ox.Literal(prefix)})
    out: Pairs = {}
    for r in rows:
        out.setdefault((r["s"].value, r["p"].value), set()).add(r["o"])
    return out


def overridden(kb, pairs: Pairs) -> list[ox.Quad]:
    """Statements of the base graphs that ``pairs`` replace (same entity and property, other value).
    One SPARQL query, so it also works where the store is remote (the moderator's diff)."""
    if not pairs:
        return []
    keys = [(ox.NamedNode(s), ox.NamedNode(p)) for s, p in sorted(pairs)]
    graphs = [ox.NamedNode(g) for g in base_graphs(kb)]
    rows = kb.select(f"SELECT ?g ?s ?p ?o WHERE {{ VALUES (?s ?p) {{ {sparql_term(keys)} }} "
                     f"VALUES ?g {{ {sparql_term(graphs)} }} GRAPH ?g {{ ?s ?p ?o }} }}")
    return [ox.Quad(r["s"], r["p"], r["o"], r["g"]) for r in rows
            if r["o"] not in pairs[(r["s"].value, r["p"].value)]]


def without_overridden(kb, triples: list[ox.Triple], pairs: Pairs | None = None) -> list[ox.Triple]:
    """``triples`` (an import's or the curated file's) minus those accepted edits replaced."""
    pairs = submitted(kb) if pairs is None else pairs
    if not pairs:
        return triples
    return [t for t in triples
            if (objects := pairs.get((t.subject.value, t.predicate.value))) is None or t.object in objects]
