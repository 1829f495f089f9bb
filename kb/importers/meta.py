"""The meta graph (graph/meta): one description per named graph, each written as its own *part*.

A part is every triple whose subject is the graph IRI or starts with ``{graph}#``. ``update_meta``
replaces the given parts and keeps every other part as it is, then writes the whole meta graph with
one atomic ``replace_graph``: writers of different graphs never overwrite each other's descriptions.
"""

from __future__ import annotations

import pyoxigraph as ox

from kb.importers import dsi2013, dsi4eu
from kb.importers.common import RDF_TYPE, std
from kb.build.sources import BY_NAME

CC_BY = "https://creativecommons.org/licenses/by/4.0/"
CC_BY_NC = "https://creativecommons.org/licenses/by-nc/3.0/"
CC_BY_NC_SA = "https://creativecommons.org/licenses/by-nc-sa/4.0/"
SPDX = "http://spdx.org/rdf/terms#"
PROJECT_GRAPH_TITLES = {
    "ontology": "The DSI ontology",
    "shapes": "SHACL shapes of the DSI knowledge base",
    "curated": "DSI organisations and initiatives curated by the project",
    "derived": "Statements derived from the imports (shortcuts, collaborations)",
    "matches": "Cross-source matches between the 2013 DSI mapping and DSI4EU",
    "taxonomy": "A SKOS concept scheme of the DSI knowledge base",
}


# The sources, each with its importer module (its pinned FILES) and its licence.
SOURCES = {
    "dsi2013": (dsi2013, CC_BY_NC),
    "dsi4eu": (dsi4eu, CC_BY_NC_SA),
}

def _owned(graph: str, subject: str) -> bool:
    return subject == graph or subject.startswith(graph + "#")


def update_meta(kb, parts: dict[str, list[ox.Triple]]) -> bool:
    """Replace the description parts of the graphs in ``parts``; returns whether meta changed."""
    meta = kb.graphs.meta
    kept = [ox.Triple(q.subject, q.predicate, q.object) for q in kb.graph_quads(meta)
            if not any(_owned(g, q.subject.value) for g in parts)]
    new = [t for triples in parts.values() for t in triples]
    return kb.replace_graph(meta, kept + new)


def describe(graph: str, *, title: str, license: str, sources: list[tuple[str, str, str]] = ()
             ) -> list[ox.Triple]:
    """A graph's description: title, licence, and for each (file name, URL, SHA-256) the source
    (dcterms:source, prov:wasDerivedFrom) and a ``<{graph}#file-N>`` node with its checksum."""
    g = ox.NamedNode(graph)
    out = [
        ox.Triple(g, RDF_TYPE, std("prov:Entity")),
        ox.Triple(g, std("dcterms:title"), ox.Literal(title, language="en")),
        ox.Triple(g, std("dcterms:license"), ox.NamedNode(license)),
    ]
    for i, (name, url, sha) in enumerate(sources, 1):
        origin = ox.NamedNode(url)
        node = ox.NamedNode(f"{graph}#file-{i}")
        checksum = ox.NamedNode(f"{graph}#file-{i}-sha256")
        out += [
            ox.Triple(g, std("dcterms:source"), origin),
            ox.Triple(g, std("prov:wasDerivedFrom"), origin),
            ox.Triple(g, std("prov:wasDerivedFrom"), node),
            ox.Triple(node, RDF_TYPE, std("dcat:Distribution")),
            ox.Triple(node, std("dcterms:title"), ox.Literal(name)),
            ox.Triple(node, std("dcat:downloadURL"), origin),
            ox.Triple(node, ox.NamedNode(SPDX + "checksum"), checksum),
            ox.Triple(checksum, RDF_TYPE, ox.NamedNode(SPDX + "Checksum")),
            ox.Triple(checksum, ox.NamedNode(SPDX + "algorithm"),
                      ox.NamedNode(SPDX + "checksumAlgorithm_sha256")),
            ox.Triple(checksum, ox.NamedNode(SPDX + "checksumValue"),
                      ox.Literal(sha, datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#hexBinary"))),
        ]
    return out


def describe_source(graph: str, source: str, files: tuple[str, ...], license: str) -> list[ox.Triple]:
    titles = {"dsi2013": "The 2013 DSI mapping (Swirrl linked data, via the DSI4EU import)",
              "dsi4eu": "The DSI4EU platform export of 27 March 2017"}
    sources = [(name, BY_NAME[name].url(), BY_NAME[name].sha256) for name in files]
    return describe(graph, title=titles[source], license=license, sources=sources)


def describe_project_graphs(kb) -> dict[str, list[ox.Triple]]:
    """Parts for every graph whose description this module knows, as far as it is in the store:
    the project's own (CC BY 4.0: ontology, shapes, taxonomies, curated, derived, matches) and the
    imports (their licence, origin and pinned checksums). Other writers' parts are left alone."""
    g = kb.graphs
    present = set(kb.named_graphs())
    parts = {}
    for source, (module, license) in SOURCES.items():
        if g.source(source) in present:
            parts[g.source(source)] = describe_source(g.source(source), source, module.FILES, license)
    for graph in present:
        kind = g.kind(graph)
        if graph in (g.ontology, g.shapes, g.curated, g.derived, g.matches):
            title = PROJECT_GRAPH_TITLES[graph[len(g.ns):]]
        elif kind == "taxonomy":
            title = PROJECT_GRAPH_TITLES["taxonomy"] + f": {graph.rsplit('/', 1)[-1]}"
        else:
            continue
        parts[graph] = describe(graph, title=title, license=CC_BY)
    return parts
