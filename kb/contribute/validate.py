"""SHACL validation of RDF against shapes/dsi-shapes.ttl (``dsikb validate``, the submission API, tests).

A failing validation is a :class:`Result`, not an exception; only real faults raise (unparseable input:
:class:`kb.errors.SyntaxProblem` with line and column). To stay fast (one submission well under 100 ms),
the data graph is the submission plus a small context: the ontology's class and domain axioms and the
scheme facts of the concepts the submission refers to, never the whole knowledge base. The parsed shapes
and that context are cached per base IRI at module level.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pyoxigraph as ox
import rdflib
from pyshacl import Validator
from pyshacl.graph_abstraction import DataGraph
from pyshacl.monkey import apply_patches
from pyshacl.validator import assign_baked_in
from rdflib.namespace import OWL, RDF, RDFS, SH, SKOS

from kb.errors import BadRequest, SyntaxProblem
from kb.namespaces import rebase
from kb.settings import DATA_DIR, DEFAULT_BASE_URI
from kb.store import rdf_format

SHAPES_FILE = DATA_DIR / "shapes" / "dsi-shapes.ttl"
ONTOLOGY_FILE = DATA_DIR / "ontology" / "dsi.ttl"
TAXONOMY_DIR = DATA_DIR / "ontology" / "taxonomies"
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
SEVERITY_ORDER = {"Violation": 0, "Warning": 1, "Info": 2}


@dataclass
class Result:
    """Outcome of one validation: ``conforms`` is False only when a sh:Violation was found."""

    conforms: bool
    report_graph: rdflib.Graph
    results: list[dict] = field(default_factory=list)
    text: str = ""

    @property
    def violations(self) -> list[dict]:
        return [r for r in self.results if r["severity"] == "Violation"]

    @property
    def warnings(self) -> list[dict]:
        return [r for r in self.results if r["severity"] == "Warning"]


def _rebase_text(text: str, base: str) -> str:
    """Move shapes/ontology text to ``base``, including the regex-escaped form used in sh:pattern."""
    if base == DEFAULT_BASE_URI:
        return text
    escaped = re.escape(DEFAULT_BASE_URI).replace("\\", "\\\\")
    return rebase(text, base).replace(escaped, re.escape(base).replace("\\", "\\\\"))


class _Resources:
    """Shapes graph and validation context for one base IRI, parsed once."""

    def __init__(self, base: str):
        self.base = base
        self.concept_ns = base + "id/concept/"
        self.shapes = rdflib.Graph().parse(data=_rebase_text(SHAPES_FILE.read_text(encoding="utf-8"), base),
                                           format="turtle")
        ontology = rdflib.Graph().parse(data=rebase(ONTOLOGY_FILE.read_text(encoding="utf-8"), base), format="turtle")
        dsi_ns = base + "def/dsi#"
        self.axioms = rdflib.Graph()
        for s, p, o in ontology.triples((None, RDFS.subClassOf, None)):
            if str(s).startswith(dsi_ns):
                self.axioms.add((s, p, o))
        for s, _, domain in ontology.triples((None, RDFS.domain, None)):
            if str(s).startswith(dsi_ns):
                self.axioms.add((s, RDFS.domain, domain))
                for lst in ontology.objects(domain, OWL.unionOf):
                    self.axioms.add((domain, OWL.unionOf, lst))
                    node = lst
                    while node and node != RDF.nil:
                        for p in (RDF.first, RDF.rest):
                            for o in ontology.objects(node, p):
                                self.axioms.add((node, p, o))
                        node = ontology.value(node, RDF.rest)
        self.concepts: dict[rdflib.URIRef, list[tuple]] = {}
        for path in sorted(TAXONOMY_DIR.glob("*.ttl")):
            g = rdflib.Graph().parse(data=rebase(path.read_text(encoding="utf-8"), base), format="turtle")
            for concept, scheme in g.subject_objects(SKOS.inScheme):
                facts = [(concept, SKOS.inScheme, scheme)]
                facts += [(concept, RDF.type, t) for t in g.objects(concept, RDF.type)]
                self.concepts[concept] = facts

        self.shapes_graph = None  # pyshacl's parsed shapes, built on first use and reused
        self.lock = threading.Lock()  # pyshacl's shape objects are shared between validations
        self.axiom_quads = [ox.Quad(_ox(a), _ox(b), _ox(c)) for a, b, c in self.axioms]
        self.concept_quads = {str(k): [ox.Quad(_ox(a), _ox(b), _ox(c)) for a, b, c in v]
                              for k, v in self.concepts.items()}

    def data_store(self, data: rdflib.Graph) -> ox.Store:
        """An in-memory Oxigraph store with the data, the axioms and the facts of the concepts it uses."""
        store = ox.Store()
        quads = [ox.Quad(_ox(s), _ox(p), _ox(o)) for s, p, o in data]
        quads += self.axiom_quads
        for o in set(data.objects()):
            if isinstance(o, rdflib.URIRef) and str(o).startswith(self.concept_ns):
                quads += self.concept_quads.get(str(o), ())
        store.extend(quads)
        return store


@lru_cache(maxsize=4)
def resources(base: str = DEFAULT_BASE_URI) -> _Resources:
    return _Resources(base)


def shapes_graph(base: str = DEFAULT_BASE_URI) -> rdflib.Graph:
    """The parsed shapes (cached; do not modify)."""
    return resources(base).shapes


# ---------------------------------------------------------------- parsing

def _ox(t):
    """rdflib term -> pyoxigraph term."""
    if isinstance(t, rdflib.URIRef):
        return ox.NamedNode(str(t))
    if isinstance(t, rdflib.BNode):
        return ox.BlankNode(str(t))
    if t.language:
        return ox.Literal(str(t), language=t.language)
    return ox.Literal(str(t), datatype=ox.NamedNode(str(t.datatype or XSD_STRING)))


def _term(t) -> rdflib.term.Node:
    if isinstance(t, ox.NamedNode):
        return rdflib.URIRef(t.value)
    if isinstance(t, ox.BlankNode):
        return rdflib.BNode(t.value)
    if t.language:
        return rdflib.Literal(t.value, lang=t.language)
    return rdflib.Literal(t.value, datatype=rdflib.URIRef(t.datatype.value))


def parse(data: str | bytes, fmt: ox.RdfFormat = ox.RdfFormat.TURTLE, *, source: str = "input",
          base_iri: str | None = None) -> rdflib.Graph:
    """Parse RDF text into an rdflib graph; a syntax error raises SyntaxProblem naming line and column."""
    g = rdflib.Graph()
    try:
        for quad in ox.parse(data, fmt, base_iri=base_iri):
            g.add((_term(quad.subject), _term(quad.predicate), _term(quad.object)))
    except SyntaxError as e:
        detail = re.sub(r"^Parser error (at|between) line \d+ column \d+( and line \d+ column \d+)?: ", "", e.msg)
        raise SyntaxProblem(f"{source}: line {e.lineno}, column {e.offset}: {detail}") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise SyntaxProblem(f"{source}: {e}") from None
    return g


# ---------------------------------------------------------------- validation

def _short(node, prefixes: dict[str, str]) -> str | None:
    if node is None:
        return None
    if isinstance(node, rdflib.Literal):
        return str(node)
    text = str(node)
    for prefix, ns in prefixes.items():
        if text.startswith(ns) and re.fullmatch(r"[A-Za-z_][\w-]*", text[len(ns):]):
            return f"{prefix}:{text[len(ns):]}"
    return text if isinstance(node, rdflib.URIRef) else None


def _tidy(message: str, prefixes: dict[str, str]) -> str:
    """Messages name ontology terms as dsi:term rather than full IRIs."""
    return re.sub(re.escape(prefixes["dsi"]) + r"(\w+)", r"dsi:\1", message)


def _results(report: rdflib.Graph, prefixes: dict[str, str]) -> list[dict]:
    out = []
    for r in report.objects(None, SH.result):  # top-level results only, not nested sh:detail
        severity = report.value(r, SH.resultSeverity)
        messages = [m for m in report.objects(r, SH.resultMessage)]
        english = [m for m in messages if getattr(m, "language", None) in (None, "en")] or messages
        out.append({
            "focus": str(report.value(r, SH.focusNode)),
            "path": _short(report.value(r, SH.resultPath), prefixes),
            "message": _tidy(str(english[0]) if english else "", prefixes),
            "severity": str(severity).rsplit("#", 1)[-1] if severity else "Violation",
            "component": _short(report.value(r, SH.sourceConstraintComponent), {"sh": str(SH)}),
            "value": _short(report.value(r, SH.value), prefixes),
            "shape": str(report.value(r, SH.sourceShape)),
        })
    out.sort(key=lambda d: (SEVERITY_ORDER.get(d["severity"], 9), d["focus"], d["path"] or "", d["message"]))
    return out


def _text(conforms: bool, results: list[dict]) -> str:
    v = sum(r["severity"] == "Violation" for r in results)
    w = len(results) - v
    head = "Conforms." if conforms else "Does not conform."
    lines = [f"{head} {v} violation(s), {w} warning(s)."]
    for r in results:
        where = f" {r['path']}" if r["path"] else ""
        value = f" (value: {r['value']})" if r["value"] and r["path"] else ""
        lines.append(f"- {r['severity']}: <{r['focus']}>{where}: {r['message']}{value}")
    return "\n".join(lines)


def _run(res: _Resources, data_graph: DataGraph) -> tuple[bool, rdflib.Graph]:
    """pySHACL's Validator with the shapes parsed once (advanced features on, inference off)."""
    apply_patches()
    assign_baked_in()
    options = {"inference": "none", "advanced": True, "inplace": True, "allow_warnings": True,
               "allow_infos": True}
    validator = Validator(data_graph, shacl_graph=res.shapes, options=options)
    if res.shapes_graph is None:
        res.shapes_graph = validator.shacl_graph
    else:
        validator.shacl_graph = res.shapes_graph
    conforms, report, _ = validator.run()
    return bool(conforms), report


def validate_graph(data, *, settings=None, base: str | None = None, fmt: ox.RdfFormat = ox.RdfFormat.TURTLE,
                   source: str = "input") -> Result:
    """Validate an rdflib Graph, or RDF text (Turtle by default), against the shapes."""
    base = base or (settings.base_uri if settings is not None else DEFAULT_BASE_URI)
    if not isinstance(data, rdflib.Graph):
        data = parse(data, fmt, source=source)
    res = resources(base)
    data_graph = DataGraph.from_oxigraph_store(res.data_store(data))
    with res.lock:
        conforms, report = _run(res, data_graph)
    from kb.namespaces import names

    prefixes = names(base).prefixes()
    results = _results(report, prefixes)
    for prefix, ns in prefixes.items():
        report.bind(prefix, ns)
    return Result(conforms=bool(conforms), report_graph=report, results=results, text=_text(bool(conforms), results))


def validate_file(path, settings=None) -> Result:
    """Validate an RDF file (format by extension: .ttl, .nt, .jsonld, .rdf, ...)."""
    path = Path(path)
    if not path.is_file():
        raise BadRequest(f"{path}: no such file")
    try:
        fmt = rdf_format(path)
    except BadRequest as e:
        raise BadRequest(f"{path}: {e.message}") from None
    data = path.read_bytes()
    if str(path).lower().endswith(".gz"):
        import gzip

        data = gzip.decompress(data)
    graph = parse(data, fmt, source=os.fspath(path), base_iri=path.resolve().as_uri())
    return validate_graph(graph, settings=settings)
