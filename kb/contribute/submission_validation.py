"""Validation of one submission against the project's SHACL shapes, fast enough for a form.

Only what the shapes need is given to pySHACL: the submission, the ontology, and the type, label and
scheme of every IRI the submission mentions (not the whole knowledge base); results are mapped to the
fields of the simple JSON shape so the form can show each message next to its field.
"""

from __future__ import annotations

import pyoxigraph as ox

from kb.contribute.submission_json import CONCEPT_FIELDS
from kb.contribute.queue import DCTERMS, GEO, RDF, RDFS
from kb.terms import sparql_term

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
    if kb.in_process:  # index lookups: microseconds, where a VALUES query took ~40 ms
        found = {q.triple for i in iris for p in CONTEXT_PROPERTIES
                 for q in kb.quads(ox.NamedNode(i), ox.NamedNode(p), None, None)}
        return sorted(found, key=str)
    nodes = [ox.NamedNode(i) for i in sorted(iris)]
    props = [ox.NamedNode(p) for p in CONTEXT_PROPERTIES]
    rows = kb.select(f"SELECT DISTINCT ?s ?p ?o WHERE {{ VALUES ?s {{ {sparql_term(nodes)} }} "
                     f"VALUES ?p {{ {sparql_term(props)} }} ?s ?p ?o }}")
    return [ox.Triple(r["s"], r["p"], r["o"]) for r in rows]


def validate(kb, triples):
    """SHACL-validate a submission with the project's shapes (``kb.validate.validate_graph``: the
    shapes parsed once, the ontology's axioms and the facts of the concepts used, in an in-memory
    Oxigraph store), given the submission plus :func:`context_triples`. Returns its ``Result``
    (``.conforms``, ``.report_graph``, ``.text``, ``.results``); results about context entities are
    for the caller to drop (see :func:`kb.submissions.submit`)."""
    from kb.contribute.validate import validate_graph

    nt = ox.serialize(list(triples) + context_triples(kb, triples), format=ox.RdfFormat.N_TRIPLES)
    return validate_graph(nt, settings=kb.settings, fmt=ox.RdfFormat.N_TRIPLES, source="the submission")


def results_of(kb, result) -> list[dict]:
    """The report's results as plain dicts, each with the form field it concerns (walked, not queried:
    rdflib would parse a SPARQL query on every call)."""
    import rdflib

    sh = rdflib.Namespace(SH)
    report = result.report_graph
    out = []
    for r in report.objects(None, sh.result):  # top-level results, not nested sh:detail
        focus, path = report.value(r, sh.focusNode), report.value(r, sh.resultPath)
        severity, value = report.value(r, sh.resultSeverity), report.value(r, sh.value)
        messages = list(report.objects(r, sh.resultMessage))
        english = [m for m in messages if getattr(m, "language", None) in (None, "en")] or messages
        path = str(path) if path is not None and not _is_bnode(path) else ""
        out.append({
            "focus": str(focus),
            "path": path,
            "field": field_of(kb, path, str(focus)),
            "severity": str(severity).rsplit("#", 1)[-1] if severity is not None else "Violation",
            "message": (str(english[0]) if english else "does not conform").replace(kb.names.dsi_ns, "dsi:"),
            "value": str(value) if value is not None else None,
        })
    out.sort(key=lambda r: (r["severity"] != "Violation", r["field"], r["message"]))
    return out


def _is_bnode(term) -> bool:
    import rdflib

    return isinstance(term, rdflib.BNode)


def field_of(kb, path: str, focus: str = "") -> str:
    if "#membership-" in focus:
        return "partners"
    if focus.startswith(kb.names.id_ns + "place/"):  # a new place the submission describes
        return "city"
    if path in FIELD_OF:
        return FIELD_OF[path]
    if path.startswith(kb.names.dsi_ns):
        return FIELD_OF_DSI.get(path[len(kb.names.dsi_ns):], path[len(kb.names.dsi_ns):])
    return path.rsplit("/", 1)[-1].rsplit("#", 1)[-1] or "(entity)"
