"""SPARQL 1.1 Service Description of the endpoint (https://www.w3.org/TR/sparql11-service-description/).

Built as pyoxigraph triples so the same description serialises to Turtle, JSON-LD or RDF/XML.
"""

from __future__ import annotations

import pyoxigraph as ox

SD = "http://www.w3.org/ns/sparql-service-description#"
VOID = "http://rdfs.org/ns/void#"
RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
DCTERMS = "http://purl.org/dc/terms/"
FORMATS_NS = "http://www.w3.org/ns/formats/"

# W3C format IRIs (https://www.w3.org/ns/formats/) for what the endpoint answers.
RESULT_FORMATS = ["SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV",
                  "SPARQL_Results_TSV", "Turtle", "N-Triples", "JSON-LD", "RDF_XML", "N-Quads", "TriG"]
INPUT_FORMATS = ["Turtle", "N-Triples", "RDF_XML", "JSON-LD", "N-Quads", "TriG"]
DESCRIPTION_TYPES = {"text/turtle": ox.RdfFormat.TURTLE, "application/ld+json": ox.RdfFormat.JSON_LD,
                     "application/rdf+xml": ox.RdfFormat.RDF_XML,
                     "application/n-triples": ox.RdfFormat.N_TRIPLES}


def _n(iri: str) -> ox.NamedNode:
    return ox.NamedNode(iri)


def description(endpoint: str, *, triples: int, graphs: list[str], dataset: str,
                update: bool, federated: bool = False, title: str = "DSI knowledge base SPARQL endpoint") -> list[ox.Triple]:
    """The triples describing the service at ``endpoint`` over a store of ``triples`` triples."""
    service = _n(endpoint)
    out = [ox.Triple(service, RDF_TYPE, _n(SD + "Service")),
           ox.Triple(service, _n(SD + "endpoint"), service),
           ox.Triple(service, _n(DCTERMS + "title"), ox.Literal(title, language="en")),
           ox.Triple(service, _n(SD + "supportedLanguage"), _n(SD + "SPARQL11Query"))]
    if update:
        out.append(ox.Triple(service, _n(SD + "supportedLanguage"), _n(SD + "SPARQL11Update")))
    for name in RESULT_FORMATS:
        out.append(ox.Triple(service, _n(SD + "resultFormat"), _n(FORMATS_NS + name)))
    for name in INPUT_FORMATS:
        out.append(ox.Triple(service, _n(SD + "inputFormat"), _n(FORMATS_NS + name)))
    # The default graph is the union of all named graphs; SERVICE is off unless allow-listed.
    out.append(ox.Triple(service, _n(SD + "feature"), _n(SD + "UnionDefaultGraph")))
    if federated:
        out.append(ox.Triple(service, _n(SD + "feature"), _n(SD + "BasicFederatedQuery")))
    ds = ox.BlankNode("dataset")
    default = ox.BlankNode("default")
    out += [ox.Triple(service, _n(SD + "defaultDataset"), ds),
            ox.Triple(ds, RDF_TYPE, _n(SD + "Dataset")),
            ox.Triple(ds, _n(DCTERMS + "source"), _n(dataset)),
            ox.Triple(ds, _n(SD + "defaultGraph"), default),
            ox.Triple(default, RDF_TYPE, _n(SD + "Graph")),
            ox.Triple(default, RDF_TYPE, _n(VOID + "Dataset")),
            ox.Triple(default, _n(VOID + "triples"), ox.Literal(str(triples), datatype=_n(
                "http://www.w3.org/2001/XMLSchema#integer")))]
    for i, graph in enumerate(graphs):
        node = ox.BlankNode(f"g{i}")
        out += [ox.Triple(ds, _n(SD + "namedGraph"), node),
                ox.Triple(node, RDF_TYPE, _n(SD + "NamedGraph")),
                ox.Triple(node, _n(SD + "name"), _n(graph))]
    return out


def serialise(triples: list[ox.Triple], media: str) -> bytes:
    fmt = DESCRIPTION_TYPES[media]
    use = {"sd": SD, "void": VOID, "dcterms": DCTERMS, "formats": FORMATS_NS,
           "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "xsd": "http://www.w3.org/2001/XMLSchema#"}
    return ox.serialize(triples, None, fmt, prefixes=use if fmt != ox.RdfFormat.N_TRIPLES else None)

