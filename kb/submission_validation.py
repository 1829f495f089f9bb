"""Validation of one submission against the project's SHACL shapes, fast enough for a form.

Only what the shapes need is given to pySHACL: the submission, the ontology, and the type, label and
scheme of every IRI the submission mentions (not the whole knowledge base); results are mapped to the
fields of the simple JSON shape so the form can show each message next to its field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyoxigraph as ox

from kb.submissions import CONCEPT_FIELDS, DCTERMS, GEO, RDF, RDFS

SH = "http://www.w3.org/ns/shacl#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
CONTEXT_PROPERTIES = (RDF + "type", RDFS + "label", SKOS + "inScheme", SKOS + "prefLabel", SKOS + "topConceptOf")
FIELD_OF = {RDFS + "label": "name", DCTERMS + "description": "description", RDF + "type": "type",
            GEO + "lat": "latitude", GEO + "long": "longitude"}
FIELD_OF_DSI = {"website": "website", "country": "country", "city": "city", "startDate": "startDate",
                "endDate": "endDate", "shortDescription": "shortDescription", "tag": "tags",
                "organisation": "partners", "role": "partners", "project": "partners",
                **{prop: key for key, (prop, _) in CONCEPT_FIELDS.items()}}


def context_triples(kb, triples) -> list[ox.Triple]:
    """What a submission's validation needs from the store: the type, label and scheme of every IRI it
    mentions (concepts, partners, places), not the whole knowledge base."""
    iris = {t.object.value for t in triples if isinstance(t.object, ox.NamedNode)}
    iris -= {t.subject.value for t in triples}
    if not iris:
        return []
    if hasattr(kb, "store"):  # index lookups: microseconds, where a VALUES query took ~40 ms
        found = {q.triple for i in iris for p in CONTEXT_PROPERTIES
                 for q in kb.store.quads_for_pattern(ox.NamedNode(i), ox.NamedNode(p), None, None)}
        return sorted(found, key=str)
    values = " ".join(f"<{i}>" for i in sorted(iris))
    props = " ".join(f"<{p}>" for p in CONTEXT_PROPERTIES)
    rows = kb.select(f"SELECT DISTINCT ?s ?p ?o WHERE {{ VALUES ?s {{ {values} }} VALUES ?p {{ {props} }} ?s ?p ?o }}")
    return [ox.Triple(r["s"], r["p"], r["o"]) for r in rows]


def validate(kb, triples):
    """SHACL-validate a submission with the project's shapes; returns pySHACL's outcome
    (``.conforms``, ``.report_graph``, ``.text``).

    Fast enough for a form (< 100 ms median, bench/validate_bench.py): the data graph is an in-memory
    Oxigraph store (pySHACL then runs the shapes' SPARQL in Oxigraph, not rdflib's slow parser) with
    the submission, the ontology and :func:`context_triples` only, and only the submission's own
    nodes are focus nodes (referenced entities are context, not under review).
    """
    import pyshacl
    import rdflib

    shapes, ontology = _shapes_and_ontology(kb)
    data = ox.Store()
    default = ox.DefaultGraph()
    data.extend([ox.Quad(t.subject, t.predicate, t.object, default)
                 for t in list(triples) + context_triples(kb, triples)] + ontology)
    focus = sorted({rdflib.URIRef(t.subject.value) for t in triples if isinstance(t.subject, ox.NamedNode)})
    conforms, report, text = pyshacl.validate(data, shacl_graph=shapes, advanced=True, inference="none",
                                              allow_warnings=True, focus_nodes=focus)
    return _Result(conforms, report, text)


@dataclass
class _Result:
    conforms: bool
    report_graph: object
    text: str
    results: list = field(default_factory=list)


_CACHE: dict = {}


def _shapes_and_ontology(kb):
    """The shapes (an rdflib graph) and the ontology (quads for the default graph), read from the store
    (falling back to the repository's files), cached until the store changes."""
    import rdflib

    key = (id(kb), kb.generation)
    if _CACHE.get("key") != key:
        shapes_triples = [q.triple for q in kb.graph_quads(kb.graphs.shapes)]
        if not shapes_triples:
            from kb.init import SHAPES_DIR, parse_files

            shapes_triples = parse_files(sorted(SHAPES_DIR.glob("*.ttl")), kb.settings.base_uri)
        shapes = rdflib.Graph()
        shapes.parse(data=ox.serialize(shapes_triples, format=ox.RdfFormat.N_TRIPLES).decode(), format="nt")
        ontology = [ox.Quad(q.subject, q.predicate, q.object, ox.DefaultGraph())
                    for q in kb.graph_quads(kb.graphs.ontology)]
        _CACHE.update(key=key, value=(shapes, ontology))
    return _CACHE["value"]


def results_of(kb, result) -> list[dict]:
    """The report's results as plain dicts, each with the form field it concerns."""
    report = result.report_graph
    rows = report.query(
        "PREFIX sh: <http://www.w3.org/ns/shacl#> SELECT ?r ?focus ?path ?severity ?message ?value WHERE { "
        "?r a sh:ValidationResult ; sh:focusNode ?focus ; sh:resultSeverity ?severity . "
        "OPTIONAL { ?r sh:resultPath ?path } OPTIONAL { ?r sh:resultMessage ?message } "
        "OPTIONAL { ?r sh:value ?value } }")
    out = []
    for row in rows:
        path = str(row.path) if row.path is not None and not _is_bnode(row.path) else ""
        out.append({
            "focus": str(row.focus),
            "path": path,
            "field": field_of(kb, path, str(row.focus)),
            "severity": str(row.severity).rsplit("#", 1)[-1],
            "message": str(row.message) if row.message is not None else "does not conform",
            "value": str(row.value) if row.value is not None else None,
        })
    out.sort(key=lambda r: (r["severity"] != "Violation", r["field"], r["message"]))
    return out


def _is_bnode(term) -> bool:
    import rdflib

    return isinstance(term, rdflib.BNode)


def field_of(kb, path: str, focus: str = "") -> str:
    if "#membership-" in focus:
        return "partners"
    if path in FIELD_OF:
        return FIELD_OF[path]
    if path.startswith(kb.names.dsi_ns):
        return FIELD_OF_DSI.get(path[len(kb.names.dsi_ns):], path[len(kb.names.dsi_ns):])
    return path.rsplit("/", 1)[-1].rsplit("#", 1)[-1] or "(entity)"
