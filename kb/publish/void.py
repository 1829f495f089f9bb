"""The dataset's own description: VoID (statistics, partitions, linksets) and DCAT 3 (distributions,
data service), as RDF triples; validated against the DCAT-AP 3 SHACL shapes by the tests.

Two steps, so a server can cache the expensive one per store generation:
:func:`statistics` reads the store (counts, partitions, links); :func:`describe` turns those figures,
the dump files and the site's URL into triples. The published dataset is the public one: hidden and
withdrawn entities are left out of the figures as they are of the dumps (kb.dump).
"""

from __future__ import annotations

import re
from collections import Counter

import pyoxigraph as ox

from kb.publish.dump import MEDIA_TYPES, excluded_nodes

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XSD = "http://www.w3.org/2001/XMLSchema#"
OWL = "http://www.w3.org/2002/07/owl#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
DCT = "http://purl.org/dc/terms/"
DCAT = "http://www.w3.org/ns/dcat#"
VOID = "http://rdfs.org/ns/void#"
FOAF = "http://xmlns.com/foaf/0.1/"
SPDX = "http://spdx.org/rdf/terms#"
IANA = "http://www.iana.org/assignments/media-types/"
VCARD = "http://www.w3.org/2006/vcard/ns#"
DATA_THEME = "http://publications.europa.eu/resource/authority/data-theme/"
LINK_PREDICATES = (OWL + "sameAs", SKOS + "exactMatch", SKOS + "closeMatch")
PROJECT_LICENCE = "https://creativecommons.org/licenses/by/4.0/"
TITLE = "Digital Social Innovation in Europe (dsikb)"
DESCRIPTION = ("Organisations, projects and activities of digital social innovation (DSI) in Europe, "
               "from the 2013 DSI mapping and the DSI4EU platform, with their roles, areas of society, "
               "technologies, places and links to Wikidata; published as linked open data.")
KEYWORDS = ("digital social innovation", "social innovation", "civic technology", "open data",
            "organisations", "projects", "Europe", "linked data")
# EU data themes (the Publications Office's authority table): population and society; science and
# technology.
THEMES = (("SOCI", "Population and society"), ("TECH", "Science and technology"))
# Known link targets: slug, IRI namespace, title, homepage. Other namespaces are grouped by host.
TARGETS = (
    ("wikidata", "http://www.wikidata.org/entity/", "Wikidata", "https://www.wikidata.org/"),
    ("geonames", "https://sws.geonames.org/", "GeoNames", "https://www.geonames.org/"),
    ("dsi2013-legacy", "http://data.digitalsocial.eu/", "Digital Social Innovation linked data (2013)",
     "http://data.digitalsocial.eu/"),
    ("eurovoc", "http://eurovoc.europa.eu/", "EuroVoc", "https://op.europa.eu/en/web/eu-vocabularies"),
    ("dbpedia", "http://dbpedia.org/resource/", "DBpedia", "https://www.dbpedia.org/"),
)
PREFIXES_OUT = {"rdf": RDF, "rdfs": RDFS, "xsd": XSD, "owl": OWL, "skos": SKOS, "dcterms": DCT,
                "dcat": DCAT, "void": VOID, "foaf": FOAF, "spdx": SPDX, "vcard": VCARD}


def restrictiveness(licence: str) -> tuple[int, str]:
    """How much a Creative Commons licence asks of a user (CC0 least, BY-NC-SA/ND most), then its
    IRI (a later version sorts after an earlier one); anything unknown counts as most restrictive."""
    path = licence.lower()
    if "publicdomain" in path:
        rank = 0
    elif "/licenses/" not in path:
        rank = 9
    else:
        kind = path.split("/licenses/", 1)[1].split("/", 1)[0]
        rank = {"by": 1, "by-sa": 2, "by-nc": 3, "by-nd": 4, "by-nc-sa": 5, "by-nc-nd": 6}.get(kind, 9)
    return rank, licence


def combined_licence(licences) -> str:
    """The one licence a whole made of graphs under ``licences`` can be used under: the most
    restrictive of them (CC BY and CC BY-NC 3.0 material may be re-shared under CC BY-NC-SA 4.0)."""
    return max(licences, key=restrictiveness) if licences else PROJECT_LICENCE


def _target_of(iri: str) -> tuple[str, str, str, str]:
    for slug, ns, title, home in TARGETS:
        if iri.startswith(ns):
            return slug, ns, title, home
    m = re.match(r"^(https?://([^/]+)/)", iri)
    host = m.group(2) if m else "other"
    slug = re.sub(r"[^a-z0-9]+", "-", host.lower()).strip("-") or "other"
    return slug, m.group(1) if m else iri, host, m.group(1) if m else iri


def _namespace(iri: str) -> str:
    cut = max(iri.rfind("#"), iri.rfind("/"))
    return iri[:cut + 1] if cut > 0 else iri


def statistics(kb) -> dict:
    """Figures of the public dataset, counted in the public default graph (kb/store/publicview.py): the
    triples of the merged public dump, each once, without hidden and withdrawn entities."""
    from kb.store import publicview

    n = kb.names
    excluded = excluded_nodes(kb)
    dropped = set()
    for node in excluded:  # the statements about excluded nodes, in the named graphs
        dropped.update(q.triple for q in kb.quads(node, None, None, None)
                       if isinstance(q.graph_name, ox.NamedNode))
        dropped.update(q.triple for q in kb.quads(None, None, node, None)
                       if isinstance(q.graph_name, ox.NamedNode))
    classes = Counter()
    for row in kb.select("SELECT ?c (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a ?c FILTER(isIRI(?c)) } GROUP BY ?c",
                         union=False):
        classes[row["c"].value] = int(row["n"].value)
    properties = Counter()
    for row in kb.select("SELECT ?p (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?p", union=False):
        properties[row["p"].value] = int(row["n"].value)
    links: dict[str, Counter] = {}
    info = {}
    for pred in LINK_PREDICATES:
        for quad in kb.quads(None, ox.NamedNode(pred), None, ox.DefaultGraph()):
            o = quad.object
            if not isinstance(o, ox.NamedNode) or o.value.startswith(n.base):
                continue
            slug, ns, title, home = _target_of(o.value)
            info[slug] = (ns, title, home)
            links.setdefault(slug, Counter())[pred] += 1
    examples = [r["s"].value for r in kb.select(
        "SELECT DISTINCT ?s WHERE { VALUES ?c { dsi:Organisation dsi:Project } ?s a ?c ; rdfs:label ?l } "
        "ORDER BY ?l LIMIT 3", union=False)]
    described = {}
    for r in kb.select("""SELECT ?meta ?g ?l ?t WHERE { GRAPH ?meta { ?g dcterms:license ?l
                            OPTIONAL { ?g dcterms:title ?t } } FILTER(isIRI(?l)) } ORDER BY ?g ?l ?t""",
                       bind={"meta": ox.NamedNode(kb.graphs.meta)}):
        described.setdefault(r["g"].value, (r["l"].value, r["t"].value if "t" in r else None))
    graphs = {}
    for name in kb.named_graphs():
        if name.startswith(kb.graphs.ns + "tmp/"):
            continue
        # a graph without a description is the project's own work (graph/meta itself, for one)
        licence, title = described.get(name, (PROJECT_LICENCE, None))
        graphs[name] = {"licence": licence, "title": title, "triples": kb.triple_count(name)}
    licences = sorted({g["licence"] for g in graphs.values()})
    return {
        "triples": publicview.size(kb),
        "excluded_statements": len(dropped),
        "entities": sum(c for k, c in classes.items() if k.startswith(n.dsi_ns) and k[len(n.dsi_ns):] in
                        ("Organisation", "Project", "Activity", "Event", "Funding", "Place", "Person")),
        "classes": {k: v for k, v in sorted(classes.items()) if v > 0},
        "properties": {k: v for k, v in sorted(properties.items()) if v > 0},
        "links": {slug: {"namespace": info[slug][0], "title": info[slug][1], "homepage": info[slug][2],
                         "predicates": dict(c), "triples": sum(c.values())} for slug, c in sorted(links.items())},
        "examples": examples,
        "licences": licences or [PROJECT_LICENCE],
        "graphs": graphs,
        "modified": kb.modified,
        "generation": kb.generation,
    }


def describe(kb, figures: dict, *, site: str, dumps: list[dict], contact: str | None = None) -> list[ox.Triple]:
    """VoID + DCAT triples of the dataset.

    ``site``: the URL the request came to (``https://host/``), used for downloads and the endpoint;
    ``dumps``: one dict per dump file (name, format, bytes, sha256, triples, modified);
    ``contact``: a ``mailto:`` or web address for dcat:contactPoint (default: the setting, else ``site``).
    """
    n = kb.names
    ds = ox.NamedNode(n.dataset)
    out: list[ox.Triple] = []

    def add(s, p, o):
        out.append(ox.Triple(s, ox.NamedNode(p), o))

    def iri(value):
        return ox.NamedNode(value)

    def lit(value, datatype=None, lang=None):
        if lang:
            return ox.Literal(str(value), language=lang)
        return ox.Literal(str(value), datatype=ox.NamedNode(datatype)) if datatype else ox.Literal(str(value))

    publisher = iri(n.dataset + "#publisher")
    add(publisher, RDF + "type", iri(FOAF + "Agent"))
    add(publisher, FOAF + "name", lit("The dsikb project", lang="en"))
    add(publisher, FOAF + "homepage", iri(site))
    for t in (VOID + "Dataset", DCAT + "Dataset"):
        add(ds, RDF + "type", iri(t))
    add(ds, DCT + "title", lit(TITLE, lang="en"))
    add(ds, DCT + "description", lit(DESCRIPTION, lang="en"))
    add(ds, DCT + "publisher", publisher)
    add(ds, FOAF + "homepage", iri(site))
    add(iri(site), RDF + "type", iri(FOAF + "Document"))
    add(ds, DCAT + "landingPage", iri(site))
    for licence in figures["licences"]:
        add(iri(licence), RDF + "type", iri(DCT + "LicenseDocument"))
        add(ds, DCT + "license", iri(licence))
    whole = combined_licence(figures["licences"])  # what each distribution, a merge of all, is under
    add(iri(whole), RDF + "type", iri(DCT + "LicenseDocument"))
    kind = iri(n.dataset + "#contact")
    add(kind, RDF + "type", iri(VCARD + "Kind"))
    add(kind, VCARD + "fn", lit("The dsikb project", lang="en"))
    address = ((contact if contact is not None else getattr(kb.settings, "contact", "")) or "").strip()
    if re.fullmatch(r"[^@\s:/]+@[^@\s/]+\.[^@\s/]+", address):  # a bare e-mail address
        address = "mailto:" + address
    try:
        ox.NamedNode(address)
    except ValueError:  # unset, or not an address: the site itself is where people reach us
        address = site
    add(kind, VCARD + ("hasEmail" if address.startswith("mailto:") else "hasURL"), iri(address))
    add(ds, DCAT + "contactPoint", kind)
    for word in KEYWORDS:
        add(ds, DCAT + "keyword", lit(word, lang="en"))
    for code, label in THEMES:
        theme = iri(DATA_THEME + code)
        add(theme, RDF + "type", iri(SKOS + "Concept"))
        add(theme, SKOS + "prefLabel", lit(label, lang="en"))
        add(theme, SKOS + "inScheme", iri(DATA_THEME[:-1]))
        add(ds, DCAT + "theme", theme)
    for name, graph in sorted(figures.get("graphs", {}).items()):
        g = iri(name)  # each named graph, as VoID's subsets are: its own licence and size
        add(ds, VOID + "subset", g)
        add(g, RDF + "type", iri(VOID + "Dataset"))
        if graph.get("title"):
            add(g, DCT + "title", lit(graph["title"], lang="en"))
        add(g, DCT + "license", iri(graph["licence"]))
        add(iri(graph["licence"]), RDF + "type", iri(DCT + "LicenseDocument"))
        add(g, VOID + "triples", lit(graph["triples"], XSD + "integer"))
        add(g, VOID + "sparqlEndpoint", iri(site + "sparql"))
    rights = iri(n.dataset + "#rights")
    add(rights, RDF + "type", iri(DCT + "RightsStatement"))
    add(rights, RDFS + "label", lit(
        "Each named graph carries its own licence and source (see the graph descriptions in "
        f"<{kb.graphs.meta}>); the combined dumps are under all of them.", lang="en"))
    add(ds, DCT + "rights", rights)
    if figures.get("modified"):
        add(ds, DCT + "modified", lit(figures["modified"], XSD + "dateTime"))
    sparql = iri(site + "sparql")
    add(sparql, RDF + "type", iri(RDFS + "Resource"))
    add(ds, VOID + "sparqlEndpoint", sparql)
    add(ds, VOID + "uriSpace", lit(n.id_ns))
    add(ds, VOID + "rootResource", iri(n.base))
    add(ds, VOID + "triples", lit(figures["triples"], XSD + "integer"))
    add(ds, VOID + "entities", lit(figures["entities"], XSD + "integer"))
    add(ds, VOID + "classes", lit(len(figures["classes"]), XSD + "integer"))
    add(ds, VOID + "properties", lit(len(figures["properties"]), XSD + "integer"))
    for example in figures["examples"]:
        add(ds, VOID + "exampleResource", iri(example))
    vocabularies = sorted({_namespace(p) for p in figures["properties"]} | {_namespace(c) for c in figures["classes"]})
    for vocab in vocabularies:
        add(ds, VOID + "vocabulary", iri(vocab))
    for i, (cls, count) in enumerate(figures["classes"].items()):
        part = iri(f"{n.dataset}#class-{i}")
        add(ds, VOID + "classPartition", part)
        add(part, VOID + "class", iri(cls))
        add(part, VOID + "entities", lit(count, XSD + "integer"))
    for i, (prop, count) in enumerate(figures["properties"].items()):
        part = iri(f"{n.dataset}#property-{i}")
        add(ds, VOID + "propertyPartition", part)
        add(part, VOID + "property", iri(prop))
        add(part, VOID + "triples", lit(count, XSD + "integer"))
    for slug, link in figures["links"].items():
        target = iri(f"{n.dataset}/target/{slug}")
        add(target, RDF + "type", iri(VOID + "Dataset"))
        add(target, DCT + "title", lit(link["title"], lang="en"))
        add(target, VOID + "uriSpace", lit(link["namespace"]))
        add(target, FOAF + "homepage", iri(link["homepage"]))
        linkset = iri(f"{n.dataset}/linkset/{slug}")
        add(ds, VOID + "subset", linkset)
        add(linkset, RDF + "type", iri(VOID + "Linkset"))
        add(linkset, DCT + "title", lit(f"Links to {link['title']}", lang="en"))
        add(linkset, VOID + "subjectsTarget", ds)
        add(linkset, VOID + "objectsTarget", target)
        add(linkset, VOID + "triples", lit(link["triples"], XSD + "integer"))
        for pred, count in sorted(link["predicates"].items()):
            sub = iri(f"{n.dataset}/linkset/{slug}/{pred.rsplit('#', 1)[-1]}")
            add(linkset, VOID + "subset", sub)
            add(sub, RDF + "type", iri(VOID + "Linkset"))
            add(sub, VOID + "subjectsTarget", ds)
            add(sub, VOID + "objectsTarget", target)
            add(sub, VOID + "linkPredicate", iri(pred))
            add(sub, VOID + "triples", lit(count, XSD + "integer"))
    sha256 = iri(SPDX + "checksumAlgorithm_sha256")
    if dumps:
        add(sha256, RDF + "type", iri(SPDX + "ChecksumAlgorithm"))
    for dump in dumps:
        url = iri(site + "dumps/" + dump["name"])
        dist = iri(f"{n.dataset}#dump-{dump['format']}")
        add(ds, VOID + "dataDump", url)
        add(ds, DCAT + "distribution", dist)
        add(dist, RDF + "type", iri(DCAT + "Distribution"))
        add(dist, DCT + "title", lit(f"{TITLE}: {dump['label']}", lang="en"))
        add(dist, DCAT + "downloadURL", url)
        add(dist, DCAT + "accessURL", iri(site + "dumps/"))
        media = iri(IANA + MEDIA_TYPES[dump["format"]])
        add(media, RDF + "type", iri(DCT + "MediaType"))
        add(dist, DCAT + "mediaType", media)
        gzip_type = iri(IANA + "application/gzip")
        add(gzip_type, RDF + "type", iri(DCT + "MediaType"))
        add(dist, DCAT + "compressFormat", gzip_type)
        add(dist, DCAT + "byteSize", lit(dump["bytes"], XSD + "nonNegativeInteger"))
        add(dist, DCT + "rights", rights)
        add(dist, DCT + "license", iri(whole))
        add(dist, DCT + "modified", lit(dump["modified"], XSD + "dateTime"))
        add(dist, VOID + "triples", lit(dump["triples"], XSD + "integer"))
        checksum = iri(f"{n.dataset}#dump-{dump['format']}-sha256")
        add(dist, SPDX + "checksum", checksum)
        add(checksum, RDF + "type", iri(SPDX + "Checksum"))
        add(checksum, SPDX + "algorithm", sha256)
        add(checksum, SPDX + "checksumValue", lit(dump["sha256"], XSD + "hexBinary"))
    service = iri(n.dataset + "#sparql-service")
    add(service, RDF + "type", iri(DCAT + "DataService"))
    add(service, DCT + "title", lit("SPARQL 1.1 endpoint of the DSI knowledge base", lang="en"))
    add(service, DCAT + "endpointURL", sparql)
    add(service, DCAT + "endpointDescription", sparql)
    add(service, DCAT + "servesDataset", ds)
    protocol = iri("https://www.w3.org/TR/sparql11-protocol/")
    add(protocol, RDF + "type", iri(DCT + "Standard"))
    add(service, DCT + "conformsTo", protocol)
    add(service, DCT + "publisher", publisher)
    add(service, DCAT + "contactPoint", kind)
    add(ds, DCAT + "distribution", iri(n.dataset + "#sparql"))
    sparql_dist = iri(n.dataset + "#sparql")
    add(sparql_dist, RDF + "type", iri(DCAT + "Distribution"))
    add(sparql_dist, DCT + "title", lit("The dataset through its SPARQL endpoint", lang="en"))
    add(sparql_dist, DCAT + "accessURL", sparql)
    add(sparql_dist, DCAT + "accessService", service)
    add(sparql_dist, DCT + "license", iri(whole))
    add(sparql_dist, DCT + "rights", rights)
    return out


def serialize(triples: list[ox.Triple], format: ox.RdfFormat) -> bytes:
    """The description as Turtle, JSON-LD or RDF/XML (grouped by subject, so Turtle reads well)."""
    unique = list(dict.fromkeys(triples))
    return ox.serialize(sorted(unique, key=lambda t: str(t.subject)), format=format, prefixes=PREFIXES_OUT)
