"""VoID + DCAT description over HTTP: every Accept path and suffix, parsed back with rdflib, figures
checked against the store, links counted per target dataset, download URLs on the request's host,
conditional GET, and no Violation against the DCAT-AP 3.0.1 SHACL shapes."""

from __future__ import annotations

import pyoxigraph as ox
import pytest
import rdflib
from rdflib.namespace import DCAT, DCTERMS, RDF, VOID

from tests.conftest import SPECS
from tests.test_dumps import EXCLUDED, SMALL_TOTAL, parse_graph, small_app, small_client, small_kb  # noqa: F401

SPDX = rdflib.Namespace("http://spdx.org/rdf/terms#")
OWL_SAME = "http://www.w3.org/2002/07/owl#sameAs"
FORMATS = {"text/turtle": "turtle", "application/ld+json": "json-ld", "application/rdf+xml": "xml",
           "application/n-triples": "nt"}


@pytest.fixture(scope="module")
def dcat_ap_shapes() -> rdflib.Graph:
    """DCAT-AP 3.0.1 shapes and ranges. The release references 5 property shapes it never defines
    (dangling sh:property links that make any validator stop); those references are dropped."""
    from rdflib.namespace import SH

    folder = SPECS / "dcat-ap-3.0.1"
    g = rdflib.Graph().parse(folder / "dcat-ap-SHACL.ttl").parse(folder / "ranges.ttl")
    dangling = [(s, o) for s, o in g.subject_objects(SH.property) if (o, SH.path, None) not in g]
    assert len(dangling) <= 5
    for s, o in dangling:
        g.remove((s, SH.property, o))
    return g


@pytest.fixture()
def hosts_client(small_kb):
    """A client of an app that answers for the other host names these tests use (DSIKB_TRUSTED_HOSTS)."""
    from endpoint import create_app

    settings = small_kb.settings.replace(trusted_hosts="localhost dsi.example.org other.example")
    return create_app(settings, kb=small_kb).test_client()


def void_graph(client, path="/.well-known/void", accept="text/turtle", **kwargs) -> rdflib.Graph:
    r = client.get(path, headers={"Accept": accept}, **kwargs)
    assert r.status_code == 200, r.get_data(as_text=True)
    return parse_graph(r.data, FORMATS[r.mimetype])


def dataset(g: rdflib.Graph) -> rdflib.URIRef:
    (ds,) = list(g.subjects(RDF.type, DCAT.Dataset))
    return ds


@pytest.mark.parametrize("path", ["/.well-known/void", "/void"])
@pytest.mark.parametrize("accept, mimetype", [
    ("text/turtle", "text/turtle"), ("application/ld+json", "application/ld+json"),
    ("application/rdf+xml", "application/rdf+xml"), ("application/n-triples", "application/n-triples"),
    ("*/*", "text/turtle"), ("text/html,application/xhtml+xml,*/*;q=0.8", "text/turtle"),
    ("application/json", "application/ld+json"),
])
def test_void_by_accept(small_client, path, accept, mimetype):
    r = small_client.get(path, headers={"Accept": accept})
    assert r.status_code == 200 and r.mimetype == mimetype
    assert "Accept" in r.headers["Vary"]
    g = parse_graph(r.data, FORMATS[mimetype])
    assert (dataset(g), RDF.type, VOID.Dataset) in g


@pytest.mark.parametrize("suffix, mimetype", [("ttl", "text/turtle"), ("jsonld", "application/ld+json"),
                                               ("rdf", "application/rdf+xml"), ("nt", "application/n-triples")])
def test_void_suffix_overrides_accept(small_client, suffix, mimetype):
    r = small_client.get(f"/void.{suffix}", headers={"Accept": "application/ld+json;q=0.1, text/csv"})
    assert r.status_code == 200 and r.mimetype == mimetype
    assert len(parse_graph(r.data, FORMATS[mimetype])) > 20


def test_void_unknown_accept_and_suffix(small_client):
    r = small_client.get("/.well-known/void", headers={"Accept": "image/png"})
    assert r.status_code == 406 and "text/turtle" in r.get_data(as_text=True)
    assert small_client.get("/void.csv").status_code == 404


def test_void_figures_match_the_store(small_client, small_kb):
    g = void_graph(small_client)
    ds = dataset(g)
    public = SMALL_TOTAL - EXCLUDED  # the RDF merge of every graph, less the hidden/withdrawn ones
    assert int(g.value(ds, VOID.triples)) == public
    listing = small_client.get("/dumps/index.json").get_json()
    assert int(g.value(ds, VOID.triples)) == next(f["triples"] for f in listing["files"] if f["name"] == "dsi.nt.gz")
    classes = {str(g.value(p, VOID["class"])): int(g.value(p, VOID.entities)) for p in g.objects(ds, VOID.classPartition)}
    assert classes["https://w3id.org/dsi/def/dsi#Organisation"] == 2  # nesta, waag: not spam, not gone
    props = {str(g.value(p, VOID.property)): int(g.value(p, VOID.triples)) for p in g.objects(ds, VOID.propertyPartition)}
    assert props[OWL_SAME] == 2 and "https://w3id.org/dsi/def/dsi#hidden" not in props
    assert str(g.value(ds, VOID.uriSpace)) == "https://w3id.org/dsi/id/"
    assert set(map(str, g.objects(ds, VOID.exampleResource))) <= {
        "https://w3id.org/dsi/id/organisation/nesta", "https://w3id.org/dsi/id/organisation/waag",
        "https://w3id.org/dsi/id/project/p1"}
    assert rdflib.URIRef("https://w3id.org/dsi/def/dsi#") in set(g.objects(ds, VOID.vocabulary))


def test_void_linksets_per_target_with_counts(small_client):
    g = void_graph(small_client)
    ds = dataset(g)
    linksets = {}
    for ls in g.objects(ds, VOID.subset):
        if (ls, RDF.type, VOID.Linkset) in g:
            target = g.value(ls, VOID.objectsTarget)
            linksets[str(g.value(target, VOID.uriSpace))] = (ls, int(g.value(ls, VOID.triples)))
    # nesta owl:sameAs Q6985508 and waag skos:closeMatch Q2268422; the spam record's link is left out
    assert linksets["http://www.wikidata.org/entity/"][1] == 2
    assert linksets["http://data.digitalsocial.eu/"][1] == 1  # legacy 2013 identifiers
    wikidata = linksets["http://www.wikidata.org/entity/"][0]
    per_predicate = {str(g.value(s, VOID.linkPredicate)): int(g.value(s, VOID.triples)) for s in g.objects(wikidata, VOID.subset)}
    assert per_predicate == {OWL_SAME: 1, "http://www.w3.org/2004/02/skos/core#closeMatch": 1}


def test_void_distributions_use_the_request_host(small_client, hosts_client):
    g = void_graph(hosts_client, base_url="https://dsi.example.org:8443/")
    ds = dataset(g)
    dumps = sorted(map(str, g.objects(ds, VOID.dataDump)))
    assert dumps == [f"https://dsi.example.org:8443/dumps/dsi.{x}.gz" for x in ("jsonld", "nq", "nt", "ttl")]
    assert str(g.value(ds, VOID.sparqlEndpoint)) == "https://dsi.example.org:8443/sparql"
    listing = {f["name"]: f for f in small_client.get("/dumps/index.json").get_json()["files"]}
    for dist in g.objects(ds, DCAT.distribution):
        url = g.value(dist, DCAT.downloadURL)
        if url is None:
            assert g.value(dist, DCAT.accessService) is not None  # the SPARQL distribution
            continue
        info = listing[str(url).rsplit("/", 1)[-1]]
        assert int(g.value(dist, DCAT.byteSize)) == info["bytes"]
        assert str(g.value(g.value(dist, SPDX.checksum), SPDX.checksumValue)) == info["sha256"]
        assert str(g.value(dist, DCAT.mediaType)).endswith(info["media_type"])
        assert str(g.value(dist, DCAT.compressFormat)).endswith("application/gzip")
    (service,) = list(g.subjects(RDF.type, DCAT.DataService))
    assert str(g.value(service, DCAT.endpointURL)) == "https://dsi.example.org:8443/sparql"


def test_void_conditional_get(small_client, hosts_client):
    first = small_client.get("/void.ttl")
    r = small_client.get("/void.ttl", headers={"If-None-Match": first.headers["ETag"]})
    assert r.status_code == 304 and not r.data
    r = small_client.get("/void.ttl", headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert r.status_code == 304
    other_host = hosts_client.get("/void.ttl", base_url="http://other.example/")
    assert other_host.headers["ETag"] != first.headers["ETag"]  # its URLs differ


def _violations(data_graph: rdflib.Graph, shapes: rdflib.Graph) -> list[str]:
    import pyshacl

    conforms, report, text = pyshacl.validate(data_graph, shacl_graph=shapes)
    sh = rdflib.Namespace("http://www.w3.org/ns/shacl#")
    return [text] if any(report.subjects(sh.resultSeverity, sh.Violation)) else []


def test_void_validates_against_dcat_ap(small_client, dcat_ap_shapes):
    assert _violations(void_graph(small_client), dcat_ap_shapes) == []


def test_void_of_the_real_data(client, built_kb, dcat_ap_shapes):
    """The description of the store `dsikb init` builds: DCAT-AP valid, figures from the store."""
    from kb.publish.dump import excluded_nodes

    g = void_graph(client, accept="application/ld+json")
    assert _violations(g, dcat_ap_shapes) == []
    ds = dataset(g)
    # recount from the merged public dump file itself
    import gzip

    response = client.get("/dumps/dsi.nt.gz")
    dumped = set(ox.parse(gzip.decompress(response.data), ox.RdfFormat.N_TRIPLES))
    response.close()
    assert int(g.value(ds, VOID.triples)) == len(dumped) > 50_000
    rdf_type = ox.NamedNode(str(RDF.type))
    classes = {str(g.value(p, VOID["class"])): int(g.value(p, VOID.entities)) for p in g.objects(ds, VOID.classPartition)}
    for cls in ("Organisation", "Project", "Place"):
        iri = ox.NamedNode("https://w3id.org/dsi/def/dsi#" + cls)
        assert classes[iri.value] == len({t.subject for t in dumped if t.predicate == rdf_type and t.object == iri})
    from kb.publish.void import LINK_PREDICATES

    legacy = sum(1 for t in dumped if t.predicate.value in LINK_PREDICATES
                 and t.object.value.startswith("http://data.digitalsocial.eu/"))
    targets = {str(g.value(g.value(ls, VOID.objectsTarget), VOID.uriSpace)): int(g.value(ls, VOID.triples))
               for ls in g.subjects(RDF.type, VOID.Linkset) if (ds, VOID.subset, ls) in g}
    assert legacy > 0 and targets["http://data.digitalsocial.eu/"] == legacy
    assert g.value(ds, DCTERMS.license) is not None and g.value(ds, DCTERMS.title) is not None


# -- licences per graph and distribution, contact point, keywords, themes (issue 12) ------------------
DATA_THEME = "http://publications.europa.eu/resource/authority/data-theme/"
VCARD = rdflib.Namespace("http://www.w3.org/2006/vcard/ns#")


def test_void_states_a_licence_per_named_graph(client, built_kb):
    """Each named graph is a void:subset of the dataset with its own licence (the one graph/meta
    records for it): the 2013 import's CC BY-NC is not the project's CC BY."""
    g = void_graph(client)
    ds = dataset(g)
    subsets = {str(s): s for s in g.objects(ds, VOID.subset) if (s, RDF.type, VOID.Linkset) not in g}
    graphs = [name for name in built_kb.named_graphs() if "/graph/tmp/" not in name]
    assert set(graphs) <= set(subsets)
    meta = {r["g"].value: r["l"].value for r in built_kb.select(
        "SELECT ?m ?g ?l WHERE { GRAPH ?m { ?g dcterms:license ?l } }",
        bind={"m": ox.NamedNode(built_kb.graphs.meta)})}
    for name in graphs:
        licences = list(g.objects(subsets[name], DCTERMS.license))
        assert len(licences) == 1, name
        assert str(licences[0]) == meta.get(name, "https://creativecommons.org/licenses/by/4.0/"), name
        assert int(g.value(subsets[name], VOID.triples)) == built_kb.triple_count(name)
        assert (licences[0], RDF.type, DCTERMS.LicenseDocument) in g
    assert str(g.value(subsets[built_kb.graphs.source("dsi2013")], DCTERMS.license)) == \
        "https://creativecommons.org/licenses/by-nc/3.0/"


def test_void_every_distribution_has_one_licence(client):
    """The combined dumps mix CC BY, CC BY-NC and CC BY-NC-SA graphs: each distribution states the
    one licence the whole may be used under (the most restrictive: CC BY-NC-SA 4.0)."""
    g = void_graph(client)
    dists = list(g.objects(dataset(g), DCAT.distribution))
    assert len(dists) == 5  # four dumps and the SPARQL endpoint
    for dist in dists:
        assert [str(x) for x in g.objects(dist, DCTERMS.license)] == \
            ["https://creativecommons.org/licenses/by-nc-sa/4.0/"], dist


def test_void_contact_point_keywords_and_themes(small_client, dcat_ap_shapes):
    g = void_graph(small_client)
    ds = dataset(g)
    (contact,) = list(g.objects(ds, DCAT.contactPoint))
    assert (contact, RDF.type, VCARD.Kind) in g
    assert g.value(contact, VCARD.fn) is not None
    assert g.value(contact, VCARD.hasURL) is not None or g.value(contact, VCARD.hasEmail) is not None
    (service,) = list(g.subjects(RDF.type, DCAT.DataService))
    assert (service, DCAT.contactPoint, contact) in g
    keywords = {str(k) for k in g.objects(ds, DCAT.keyword)}
    assert {"digital social innovation", "linked data"} <= keywords
    assert all(k.language == "en" for k in g.objects(ds, DCAT.keyword))
    themes = set(map(str, g.objects(ds, DCAT.theme)))
    assert {DATA_THEME + "SOCI", DATA_THEME + "TECH"} <= themes
    for theme in g.objects(ds, DCAT.theme):
        assert (theme, RDF.type, rdflib.URIRef("http://www.w3.org/2004/02/skos/core#Concept")) in g
    assert _violations(g, dcat_ap_shapes) == []


def test_void_contact_is_a_setting(small_kb):
    """DSIKB_CONTACT: an e-mail address becomes vcard:hasEmail, a web address vcard:hasURL."""
    from endpoint import create_app

    for value, prop, expected in [("mailto:dsi@example.org", VCARD.hasEmail, "mailto:dsi@example.org"),
                                  ("https://example.org/issues", VCARD.hasURL, "https://example.org/issues")]:
        client = create_app(small_kb.settings.replace(contact=value), kb=small_kb).test_client()
        g = void_graph(client)
        contact = g.value(dataset(g), DCAT.contactPoint)
        assert str(g.value(contact, prop)) == expected


def test_void_links_to_geonames_counted(client, built_kb):
    """The GeoNames linkset (dsikb init writes it) is a void:Linkset with its count, per predicate."""
    g = void_graph(client)
    ds = dataset(g)
    targets = {str(g.value(g.value(ls, VOID.objectsTarget), VOID.uriSpace)): ls
               for ls in g.objects(ds, VOID.subset) if (ls, RDF.type, VOID.Linkset) in g}
    linkset = targets["https://sws.geonames.org/"]
    assert str(g.value(g.value(linkset, VOID.objectsTarget), DCTERMS.title)) == "GeoNames"
    expected = {}
    for pred in ("http://www.w3.org/2002/07/owl#sameAs", "http://www.w3.org/2004/02/skos/core#closeMatch"):
        n = sum(1 for q in built_kb.quads(None, ox.NamedNode(pred), None, ox.DefaultGraph())
                if q.object.value.startswith("https://sws.geonames.org/"))
        if n:
            expected[pred] = n
    assert int(g.value(linkset, VOID.triples)) == sum(expected.values()) > 300
    per_predicate = {str(g.value(s, VOID.linkPredicate)): int(g.value(s, VOID.triples))
                     for s in g.objects(linkset, VOID.subset)}
    assert per_predicate == expected

