"""An entity's description as triples: what its page and its /data/ documents show.

Built from indexed pattern lookups (no SPARQL), so it stays fast on a large store: the entity's own
statements (with the named graph each comes from), labels and types of everything it links to, its
inverse links one page at a time, the statements of the nodes that hang off it (memberships,
collaborations) and the document's own metadata (primary topic, licence, dataset, modified, sources).
"""

from __future__ import annotations

import itertools
import os
import weakref
from dataclasses import dataclass, field

import pyoxigraph as ox

from kb.errors import Gone, KBError, NotFound
from kb.namespaces import STANDARD_PREFIXES
from kb.store import KB

_P = STANDARD_PREFIXES


def _n(prefix: str, local: str) -> ox.NamedNode:
    return ox.NamedNode(_P[prefix] + local)


RDF_TYPE = _n("rdf", "type")
RDFS_LABEL = _n("rdfs", "label")
SKOS_PREF = _n("skos", "prefLabel")
LABEL_PREDICATES = (RDFS_LABEL, SKOS_PREF)
XSD_DATETIME = _n("xsd", "dateTime")
INVERSE_PAGE = 100
MAX_CACHED_TERMS = 200_000
_STATE_CACHE: dict = {}
_TERM_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # KB -> (generation, {term: ...})
MAX_DEPENDENTS = 5000


class Merged(KBError):
    """The entity was merged into another: answer 301 to the survivor."""

    status = 301

    def __init__(self, message: str, survivor: str):
        super().__init__(message)
        self.survivor = survivor


@dataclass
class Statement:
    predicate: ox.NamedNode
    value: ox.NamedNode | ox.BlankNode | ox.Literal
    graphs: list[str]


@dataclass
class Inverse:
    subject: ox.NamedNode | ox.BlankNode
    predicate: ox.NamedNode
    graphs: list[str]


@dataclass
class Description:
    """Everything a page or a data document says about one resource."""

    iri: str
    path: str  # e.g. "organisation/nesta" or "concept/area-of-society/health"
    document: str  # {base}data/{path}
    own: list[Statement]
    inverse: list[Inverse]
    inverse_total: int
    inverse_page: int
    inverse_pages: int
    attached: list[ox.Triple]  # statements of the nodes hanging off the entity, labels and types
    labels: dict[str, str]
    types: dict[str, list[str]]
    graphs: list[dict]  # {iri, label, license, statements}
    hidden: bool = False
    modified: str | None = None
    meta: list[ox.Triple] = field(default_factory=list)
    hidden_links: set[str] = field(default_factory=set)  # linked resources flagged dsi:hidden
    aligned: list[Statement] = field(default_factory=list)  # standard forms only graph/aligned states

    def values(self, predicate: str) -> list:
        return [s.value for s in self.own if s.predicate.value == predicate]

    def first(self, predicate: str):
        found = self.values(predicate)
        return found[0] if found else None

    def label(self, term=None) -> str | None:
        """The label of ``term`` (default: the described resource), else None."""
        key = self.iri if term is None else (term.value if hasattr(term, "value") else str(term))
        return self.labels.get(key)

    def triples(self) -> list[ox.Triple]:
        """The RDF document: own statements, inverse links, attached nodes, then metadata."""
        subject = ox.NamedNode(self.iri)
        seen = set()
        out = []
        for t in itertools.chain(
            (ox.Triple(subject, s.predicate, s.value) for s in self.own),
            (ox.Triple(subject, s.predicate, s.value) for s in self.aligned),
            (ox.Triple(i.subject, i.predicate, subject) for i in self.inverse),
            self.attached,
            self.meta,
        ):
            if t not in seen:
                seen.add(t)
                out.append(t)
        return out


def _graph_of(quad: ox.Quad) -> str:
    g = quad.graph_name
    return g.value if isinstance(g, ox.NamedNode) else ""


def _pick_label(values) -> str | None:
    """English or untagged first, then any language, alphabetically for stability."""
    found = [v for v in values if isinstance(v, ox.Literal)]
    if not found:
        return None
    found.sort(key=lambda lit: (lit.language not in (None, "en"), lit.language or "", lit.value))
    return found[0].value


def best_label(kb: KB, node) -> str | None:
    """rdfs:label or skos:prefLabel, English or untagged first."""
    for p in LABEL_PREDICATES:
        label = _pick_label([q.object for q in kb.quads(node, p, None, None)])
        if label is not None:
            return label
    return None


def _state(kb: KB) -> tuple[int, str | None]:
    """(generation, modified) of the store, re-read only when its state file changes on disk."""
    path = kb.path.with_name(kb.path.name + ".state.json") if kb.path else None
    if path is None:
        return kb.generation, kb.modified
    try:
        st = os.stat(path)
        stamp = (str(path), st.st_mtime_ns, st.st_size)
    except OSError:
        return kb.generation, kb.modified
    cached = _STATE_CACHE.get(stamp[0])
    if cached and cached[0] == stamp:
        return cached[1]
    value = (kb.generation, kb.modified)
    _STATE_CACHE[stamp[0]] = (stamp, value)
    return value


def _term_cache(kb: KB) -> dict:
    """Labels, types and context triples of linked resources, kept for one store generation."""
    key = _state(kb)[0]
    entry = _TERM_CACHE.get(kb)
    if entry is None or entry[0] != key or len(entry[1]) > MAX_CACHED_TERMS:
        entry = (key, {})
        _TERM_CACHE[kb] = entry
    return entry[1]


def _remember(kb: KB, cache: dict, term) -> tuple:
    context, labels, tys = [], [], []
    for p in LABEL_PREDICATES + (RDF_TYPE,):
        for q in kb.quads(term, p, None, None):
            context.append(ox.Triple(q.subject, q.predicate, q.object))
            (tys if p == RDF_TYPE else labels).append(q.object)
    hidden = any(q.object.value == "true" for q in
                 kb.quads(term, ox.NamedNode(kb.names.dsi("hidden")), None, None))
    rdfs = _pick_label([t.object for t in context if t.predicate == RDFS_LABEL])
    value = (rdfs or _pick_label(labels), sorted({t.value for t in tys}), tuple(context), hidden)
    cache[term] = value
    return value


def status(kb: KB, iri: str) -> None:
    """Raise NotFound (unknown), Gone (withdrawn) or Merged (301) for ``iri``; else return."""
    node = ox.NamedNode(iri)
    n = kb.names
    merged = next(iter(kb.quads(node, ox.NamedNode(n.dsi("mergedInto")), None, None)), None)
    if merged is not None:
        raise Merged(f"{iri} was merged into {merged.object.value}", merged.object.value)
    withdrawn = next(iter(kb.quads(node, ox.NamedNode(n.dsi("withdrawn")), None, None)), None)
    if withdrawn is not None:
        reason = next(iter(kb.quads(node, ox.NamedNode(n.dsi("reason")), None, None)), None)
        why = f" ({reason.object.value})" if reason is not None else ""
        raise Gone(f"{iri} was withdrawn on {withdrawn.object.value[:10]}{why}. "
                   "Its identifier stays reserved and is never reused.")
    if next(iter(kb.quads(node, None, None, None)), None) is None:
        raise NotFound(f"There is no resource {iri} in this knowledge base. "
                       "Check the spelling of the address or use the search.")


def describe(kb: KB, iri: str, path: str, *, page: int = 1, per_page: int = INVERSE_PAGE) -> Description:
    """The description of ``iri`` (raises NotFound / Gone / Merged first)."""
    status(kb, iri)
    n = kb.names
    node = ox.NamedNode(iri)
    own: dict[tuple, Statement] = {}
    for q in kb.quads(node, None, None, None):
        key = (q.predicate, q.object)
        if key in own:
            own[key].graphs.append(_graph_of(q))
        else:
            own[key] = Statement(q.predicate, q.object, [_graph_of(q)])

    # The standard forms graph/aligned adds (schema:name, schema:Organization, ...) go into the data
    # documents but not into what pages list; inverse ones (every org's schema:location of a country)
    # are left to SPARQL.
    aligned_graphs = {kb.graphs.aligned}
    aligned = [s for s in own.values() if {g for g in s.graphs if g} == aligned_graphs]
    own = {k: s for k, s in own.items() if {g for g in s.graphs if g} != aligned_graphs}

    inverse_all: dict[tuple, Inverse] = {}
    dependents: dict = {}  # memberships and collaborations naming the entity: all of them, unpaged
    for q in kb.quads(None, None, node, None):
        if q.predicate == RDF_TYPE:
            continue
        if _is_dependent(q.subject, None):
            if len(dependents) < MAX_DEPENDENTS:
                dependents.setdefault(q.subject, (q.predicate, _graph_of(q)))
            continue
        key = (q.subject, q.predicate)
        if key in inverse_all:
            inverse_all[key].graphs.append(_graph_of(q))
        else:
            inverse_all[key] = Inverse(q.subject, q.predicate, [_graph_of(q)])
    inverse_all = {k: i for k, i in inverse_all.items() if {g for g in i.graphs if g} != aligned_graphs}
    total = len(inverse_all)
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    inverse = list(itertools.islice(inverse_all.values(), (page - 1) * per_page, page * per_page))
    inverse += [Inverse(subj, pred, [g]) for subj, (pred, g) in dependents.items()]

    attached: list[ox.Triple] = []
    # Nodes hanging off the entity: its hash IRIs and blank nodes it points to, and the memberships
    # and collaborations that point at it, with all their statements.
    hanging = [s.value for s in own.values() if _is_dependent(s.value, iri)] + list(dependents)
    seen_nodes = set()
    for h in hanging:
        if h in seen_nodes:
            continue
        seen_nodes.add(h)
        for q in kb.quads(h, None, None, None):
            attached.append(ox.Triple(q.subject, q.predicate, q.object))

    linked = {s.value for s in own.values() if isinstance(s.value, ox.NamedNode)}
    linked |= {i.subject for i in inverse if isinstance(i.subject, ox.NamedNode)}
    linked |= {t.object for t in attached if isinstance(t.object, ox.NamedNode)}
    linked.discard(node)
    labels: dict[str, str] = {}
    types: dict[str, list[str]] = {}
    own_label = _pick_label([s.value for s in own.values() if s.predicate in LABEL_PREDICATES])
    if own_label is not None:
        labels[iri] = own_label
    types[iri] = sorted({s.value.value for s in own.values() if s.predicate == RDF_TYPE})
    cache = _term_cache(kb)
    hidden_links: set[str] = set()
    for term in linked:
        label, tys, context, flagged = cache.get(term) or _remember(kb, cache, term)
        if flagged:
            hidden_links.add(term.value)
        if label is not None:
            labels[term.value] = label
        if tys:
            types[term.value] = tys
        attached.extend(context)

    graph_counts: dict[str, int] = {}
    for s in itertools.chain(own.values(), aligned):
        for g in s.graphs:
            graph_counts[g] = graph_counts.get(g, 0) + 1
    graphs = [graph_info(kb, g, count) for g, count in sorted(graph_counts.items()) if g]
    hidden_p = ox.NamedNode(n.dsi("hidden"))
    hidden = any(s.predicate == hidden_p and s.value.value == "true" for s in own.values())
    document = n.base + "data/" + path
    desc = Description(
        iri=iri, path=path, document=document, own=list(own.values()), inverse=inverse,
        inverse_total=total, inverse_page=page, inverse_pages=pages, attached=attached,
        labels=labels, types=types, graphs=graphs, hidden=hidden, modified=_state(kb)[1],
    )
    desc.hidden_links = hidden_links
    desc.aligned = aligned
    desc.meta = _metadata(kb, desc)
    return desc


def _is_dependent(term, iri: str | None) -> bool:
    """A node that belongs to an entity's document: a blank node, or a hash IRI of the entity."""
    if isinstance(term, ox.BlankNode):
        return True
    if iri is not None and isinstance(term, ox.NamedNode):
        return term.value.startswith(iri + "#")
    if iri is None and isinstance(term, ox.NamedNode):
        return "#" in term.value and "/id/" in term.value
    return False


def graph_info(kb: KB, graph: str, statements: int = 0) -> dict:
    """Label and licence of a named graph, from graph/meta (wherever it is said)."""
    g = ox.NamedNode(graph)
    lic = sorted({q.object.value for q in kb.quads(g, _n("dcterms", "license"), None, None)})
    label = best_label(kb, g)
    if label is None:
        title = next(iter(kb.quads(g, _n("dcterms", "title"), None, None)), None)
        label = title.object.value if title is not None else graph.rsplit("graph/", 1)[-1]
    return {"iri": graph, "label": label, "licenses": lic, "statements": statements}


def _metadata(kb: KB, desc: Description) -> list[ox.Triple]:
    doc = ox.NamedNode(desc.document)
    out = [
        ox.Triple(doc, RDF_TYPE, _n("foaf", "Document")),
        ox.Triple(doc, _n("foaf", "primaryTopic"), ox.NamedNode(desc.iri)),
        ox.Triple(doc, _n("void", "inDataset"), ox.NamedNode(kb.names.dataset)),
    ]
    label = desc.label()
    if label:
        out.append(ox.Triple(doc, _n("dcterms", "title"), ox.Literal(f"Description of {label}", language="en")))
    if desc.modified:
        out.append(ox.Triple(doc, _n("dcterms", "modified"), ox.Literal(desc.modified, datatype=XSD_DATETIME)))
    for g in desc.graphs:
        out.append(ox.Triple(doc, _n("prov", "wasDerivedFrom"), ox.NamedNode(g["iri"])))
        for lic in g["licenses"]:
            out.append(ox.Triple(doc, _n("dcterms", "license"), ox.NamedNode(lic)))
            out.append(ox.Triple(ox.NamedNode(g["iri"]), _n("dcterms", "license"), ox.NamedNode(lic)))
    if desc.inverse_page < desc.inverse_pages:
        out.append(ox.Triple(doc, _n("rdfs", "seeAlso"),
                             ox.NamedNode(f"{desc.document}?page={desc.inverse_page + 1}")))
    return out


def quads_of(kb: KB, triples) -> list[ox.Quad]:
    """Each triple once in every named graph that states it (not the public default graph, which
    merges them); a triple no graph states (the document's own metadata) in the default graph."""
    tmp = kb.graphs.ns + "tmp/"
    out = []
    for t in triples:
        graphs = sorted({q.graph_name.value for q in kb.quads(t.subject, t.predicate, t.object, None)
                         if isinstance(q.graph_name, ox.NamedNode) and not q.graph_name.value.startswith(tmp)})
        out += [ox.Quad(t.subject, t.predicate, t.object, ox.NamedNode(g)) for g in graphs] or [
            ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph())]
    return out


def property_labels(kb: KB) -> dict[str, str]:
    """rdfs:label of every property and class the ontology and taxonomies name (cached per generation)."""
    key = _state(kb)[0]
    cached = _LABEL_CACHE.get(kb)
    if cached and cached[0] == key:
        return cached[1]
    labels: dict[str, str] = {}
    for q in kb.quads(None, RDFS_LABEL, None, ox.NamedNode(kb.graphs.ontology)):
        lit = q.object
        if isinstance(lit, ox.Literal) and lit.language in (None, "en"):
            labels.setdefault(q.subject.value, lit.value)
    _LABEL_CACHE[kb] = (key, labels)
    return labels


_LABEL_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


# -- JSON-LD: one published context built from the project's prefix map -------------------------
LITERAL_PROPERTIES = {
    "shortDescription", "socialImpact", "tag", "networkTag", "whoWeHelp", "twitter", "startDate",
    "endDate", "amount", "currency", "legacyId", "reason", "status",
}
TYPED_PROPERTIES = {"hidden": "xsd:boolean", "consentToList": "xsd:boolean",
                    "sharedProjects": "xsd:integer", "withdrawn": "xsd:dateTime"}
STANDARD_TERMS = {
    "label": "rdfs:label", "prefLabel": "skos:prefLabel", "altLabel": "skos:altLabel",
    "definition": "skos:definition", "description": "dcterms:description", "title": "dcterms:title",
    "identifier": "dcterms:identifier", "comment": "rdfs:comment",
    "sameAs": {"@id": "owl:sameAs", "@type": "@id"},
    "closeMatch": {"@id": "skos:closeMatch", "@type": "@id"},
    "exactMatch": {"@id": "skos:exactMatch", "@type": "@id"},
    "inScheme": {"@id": "skos:inScheme", "@type": "@id"},
    "broader": {"@id": "skos:broader", "@type": "@id"},
    "narrower": {"@id": "skos:narrower", "@type": "@id"},
    "primaryTopic": {"@id": "foaf:primaryTopic", "@type": "@id"},
    "license": {"@id": "dcterms:license", "@type": "@id"},
    "inDataset": {"@id": "void:inDataset", "@type": "@id"},
    "modified": {"@id": "dcterms:modified", "@type": "xsd:dateTime"},
    "wasDerivedFrom": {"@id": "prov:wasDerivedFrom", "@type": "@id"},
    "seeAlso": {"@id": "rdfs:seeAlso", "@type": "@id"},
    "lat": {"@id": "geo:lat", "@type": "xsd:decimal"},
    "long": {"@id": "geo:long", "@type": "xsd:decimal"},
}


def jsonld_context(names) -> dict:
    """The ``@context`` published at /context.jsonld: prefixes, then a short term per property."""
    from kb.vocab import PROPERTIES

    ctx: dict = {"id": "@id", "type": "@type"}
    ctx.update(names.prefixes())
    ctx.update(STANDARD_TERMS)
    for prop in sorted(PROPERTIES):
        if prop in ctx:
            continue
        if prop in TYPED_PROPERTIES:
            ctx[prop] = {"@id": "dsi:" + prop, "@type": TYPED_PROPERTIES[prop]}
        elif prop in LITERAL_PROPERTIES:
            ctx[prop] = "dsi:" + prop
        else:
            ctx[prop] = {"@id": "dsi:" + prop, "@type": "@id"}
    return ctx


def _compact(iri: str, prefixes: list[tuple[str, str]]) -> str:
    for prefix, ns in prefixes:
        if iri.startswith(ns) and len(iri) > len(ns):
            local = iri[len(ns):]
            if "/" not in local or prefix in ("dsid", "concept", "graph"):
                return f"{prefix}:{local}"
    return iri


def to_jsonld(triples, names, *, first: str | None = None) -> dict:
    """Compact JSON-LD (one node object per subject, ``first`` at the top) with the project context."""
    ctx = jsonld_context(names)
    prefixes = sorted(names.prefixes().items(), key=lambda kv: -len(kv[1]))
    terms = {}
    for term, definition in ctx.items():
        if isinstance(definition, dict):
            iri, coerce = definition["@id"], definition.get("@type")
        elif isinstance(definition, str) and ":" in definition and term not in names.prefixes():
            iri, coerce = definition, None
        else:
            continue
        prefix, local = iri.split(":", 1)
        full = ctx[prefix] + local
        if coerce and coerce != "@id":
            p2, l2 = coerce.split(":", 1)
            coerce = ctx[p2] + l2
        terms[full] = (term, coerce)
    nodes: dict[str, dict] = {}

    def ident(term) -> str:
        if isinstance(term, ox.BlankNode):
            return "_:" + term.value
        return _compact(term.value, prefixes)

    for t in triples:
        sid = ident(t.subject)
        node = nodes.setdefault(sid, {"id": sid})
        if t.predicate == RDF_TYPE:
            node.setdefault("type", []).append(_compact(t.object.value, prefixes))
            continue
        key, coerce = terms.get(t.predicate.value, (None, None))
        obj = t.object
        if isinstance(obj, ox.Literal):
            dt = obj.datatype.value
            if key and coerce and coerce != "@id" and dt == coerce:
                value = obj.value
            else:
                if key and coerce:
                    key = None
                if obj.language:
                    value = {"@value": obj.value, "@language": obj.language}
                elif dt == _P["xsd"] + "string":
                    value = obj.value
                else:
                    value = {"@value": obj.value, "@type": _compact(dt, prefixes)}
        else:
            if key and coerce == "@id":
                value = ident(obj)
            else:
                key = None
                value = {"@id": ident(obj)}
        if key is None:
            key = _compact(t.predicate.value, prefixes)
        node.setdefault(key, []).append(value)
    graph = []
    for sid, node in nodes.items():
        for k, v in list(node.items()):
            if isinstance(v, list) and len(v) == 1:
                node[k] = v[0]
        graph.append(node)
    if first:
        fid = _compact(first, prefixes)
        graph.sort(key=lambda nd: nd["id"] != fid)
    return {"@context": ctx, "@graph": graph}
