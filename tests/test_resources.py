"""Dereferencing and entity pages over HTTP: 303 by Accept, suffixes, 406/404/410/301, RDF parsed back.

Unit tests run over a tiny hand-made store (``tiny_kb``) written in the shared vocabulary; the HTTP
tests at the end run over the real built data (``client``).
"""

from __future__ import annotations

import json
import warnings

import pyoxigraph as ox
import pytest
import rdflib
from rdflib.compare import isomorphic

from kb.settings import DEFAULT_BASE_URI, Settings
from kb.store import publicview

B = DEFAULT_BASE_URI
TINY = f"""
@prefix dsi: <{B}def/dsi#> . @prefix dsid: <{B}id/> . @prefix concept: <{B}id/concept/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> . @prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix dcterms: <http://purl.org/dc/terms/> . @prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> . @prefix geo: <http://www.w3.org/2003/01/geo/wgs84_pos#> .
@prefix schema: <https://schema.org/> . @prefix o: <{B}id/organisation/> . @prefix p: <{B}id/project/> .
@prefix pl: <{B}id/place/> . @prefix aos: <{B}id/concept/area-of-society/> .
"""
GRAPHS = {
    "ontology": f"""
dsi:Organisation a owl:Class ; rdfs:label "Organisation"@en .
dsi:Project a owl:Class ; rdfs:label "Project"@en .
dsi:takesPartIn rdfs:label "takes part in"@en . dsi:leads rdfs:label "leads"@en .
dsi:tag rdfs:label "tag"@en . dsi:logo rdfs:label "logo image"@en . dsi:areaOfSociety rdfs:label "area of society"@en .
""",
    "taxonomy/area-of-society": f"""
concept:area-of-society a skos:ConceptScheme ; skos:prefLabel "Areas of society"@en .
aos:health a skos:Concept, dsi:AreaOfSociety ; skos:prefLabel "Health and wellbeing"@en ;
  skos:inScheme concept:area-of-society .
aos:education a skos:Concept, dsi:AreaOfSociety ; skos:prefLabel "Education and skills"@en ;
  skos:inScheme concept:area-of-society .
<{B}id/concept/role/delivery-lead> a skos:Concept, dsi:Role ; skos:prefLabel "delivery lead"@en .
<{B}id/concept/organisation-type/business> a skos:Concept ; skos:prefLabel "Business"@en .
<{B}id/concept/technology-focus/open-data> a skos:Concept ; skos:prefLabel "Open data"@en .
""",
    "import/dsi4eu": f"""
o:societe-numerique a dsi:Organisation ; rdfs:label "Société Numérique"@fr ;
  dcterms:description "Une association qui forme les citoyens au numérique."@fr ;
  dsi:country pl:france ; dsi:city pl:paris-france ; dsi:website <https://societe.example.org/> ;
  dsi:organisationType <{B}id/concept/organisation-type/business> ; geo:lat "48.85"^^xsd:decimal ; geo:long "2.35"^^xsd:decimal ;
  dsi:tag "digital inclusion" ; dsi:logo <https://societe.example.org/logo.png> ; owl:sameAs <http://www.wikidata.org/entity/Q42> .
o:open-lab a dsi:Organisation ; rdfs:label "Open Lab" ; dsi:country pl:france ;
  dsi:shortDescription "A makerspace for open hardware." .
o:spam-shop a dsi:Organisation ; rdfs:label "Cheap Pills Shop" ; dsi:hidden true ;
  dsi:country pl:france ; dsi:qualityIssue <{B}id/concept/quality-issue/spam> .
o:old-name a dsi:Organisation ; rdfs:label "Old Name" ; dsi:mergedInto o:open-lab .
o:gone-org a dsi:Organisation ; rdfs:label "Gone" ; dsi:withdrawn "2025-01-02T00:00:00Z"^^xsd:dateTime .
p:health-map a dsi:Project ; rdfs:label "Health Map" ; skos:altLabel "Carte santé"@fr ;
  dcterms:description "An open data map of community clinics." ; dsi:areaOfSociety aos:health ;
  dsi:technologyFocus <{B}id/concept/technology-focus/open-data> ; dsi:country pl:france ; dsi:startDate "2014-03-01"^^xsd:date .
p:learn-code a dsi:Project ; rdfs:label "Learn Code" ; dsi:areaOfSociety aos:education ,
  aos:health ; dsi:country pl:spain ; dsi:startDate "2016"^^xsd:gYear .
<{B}id/project/health-map#membership-societe-numerique-delivery-lead> a dsi:ActivityMembership ;
  dsi:organisation o:societe-numerique ; dsi:project p:health-map ; dsi:role <{B}id/concept/role/delivery-lead> .
<{B}id/project/health-map#membership-open-lab-takes-part> a dsi:ActivityMembership ;
  dsi:organisation o:open-lab ; dsi:project p:health-map .
pl:france a dsi:Place ; rdfs:label "France"@en . pl:spain a dsi:Place ; rdfs:label "Spain"@en .
pl:paris-france a dsi:Place ; rdfs:label "Paris, France"@en .
""",
    "derived": f"""
o:societe-numerique dsi:takesPartIn p:health-map ; dsi:leads p:health-map .
o:open-lab dsi:takesPartIn p:health-map .
p:health-map schema:member o:societe-numerique, o:open-lab .
""",
    "meta": f"""
<{B}graph/import/dsi4eu> rdfs:label "DSI4EU platform export, March 2017"@en ;
  dcterms:license <https://creativecommons.org/licenses/by-nc-sa/4.0/> .
<{B}graph/derived> rdfs:label "Derived statements"@en ; dcterms:license <https://creativecommons.org/licenses/by/4.0/> .
""",
}


def build_tiny(base: str = B):
    """An in-memory KB over the tiny data (moved to ``base``)."""
    from kb.namespaces import rebase
    from kb.store import KB

    kb = KB.in_memory(Settings(base_uri=base))
    for name, body in GRAPHS.items():
        text = rebase(TINY + body, base)
        graph = ox.NamedNode(base + "graph/" + name)
        kb.store.extend(ox.Quad(t.subject, t.predicate, t.object, graph)
                        for t in ox.parse(text, ox.RdfFormat.TURTLE))
    publicview.rebuild(kb)  # derive the public default graph of what was written directly
    kb.bump()
    return kb


def parse(body: bytes, fmt: str) -> rdflib.Graph:
    with warnings.catch_warnings():  # rdflib's JSON-LD parser uses its own deprecated ConjunctiveGraph
        warnings.simplefilter("ignore", DeprecationWarning)
        return rdflib.Graph().parse(data=body, format=fmt)


ORG = "/id/organisation/societe-numerique"
ORG_IRI = B + "id/organisation/societe-numerique"
HTML_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


# -- the description itself ------------------------------------------------------------------------
def test_description_has_own_inverse_labels_and_metadata(tiny_kb):
    from kb.publish.describe import describe

    d = describe(tiny_kb, ORG_IRI, "organisation/societe-numerique")
    g = {(t.subject.value, t.predicate.value, getattr(t.object, "value", None)) for t in d.triples()}
    dsi = B + "def/dsi#"
    assert (ORG_IRI, dsi + "country", B + "id/place/france") in g
    assert (B + "id/place/france", "http://www.w3.org/2000/01/rdf-schema#label", "France") in g
    # inverse: the membership that names it, with the project's label
    member = B + "id/project/health-map#membership-societe-numerique-delivery-lead"
    assert (member, dsi + "organisation", ORG_IRI) in g
    assert (B + "id/project/health-map", "http://www.w3.org/2000/01/rdf-schema#label", "Health Map") in g
    doc = B + "data/organisation/societe-numerique"
    assert (doc, "http://xmlns.com/foaf/0.1/primaryTopic", ORG_IRI) in g
    assert (doc, "http://purl.org/dc/terms/license", "https://creativecommons.org/licenses/by-nc-sa/4.0/") in g
    assert (doc, "http://rdfs.org/ns/void#inDataset", B + "dataset") in g
    assert (doc, "http://www.w3.org/ns/prov#wasDerivedFrom", B + "graph/import/dsi4eu") in g
    assert [x["label"] for x in d.graphs] == ["Derived statements", "DSI4EU platform export, March 2017"]


def test_statuses_of_unknown_withdrawn_merged(tiny_kb):
    from kb.publish.describe import Merged, status
    from kb.errors import Gone, NotFound

    with pytest.raises(NotFound):
        status(tiny_kb, B + "id/organisation/nobody")
    with pytest.raises(Gone, match="withdrawn on 2025-01-02"):
        status(tiny_kb, B + "id/organisation/gone-org")
    with pytest.raises(Merged) as merged:
        status(tiny_kb, B + "id/organisation/old-name")
    assert merged.value.survivor == B + "id/organisation/open-lab"


def test_inverse_links_are_paged(tiny_kb):
    from kb.publish.describe import describe

    first = describe(tiny_kb, B + "id/place/france", "place/france", per_page=2)
    second = describe(tiny_kb, B + "id/place/france", "place/france", page=2, per_page=2)
    assert first.inverse_total == second.inverse_total == 4
    assert first.inverse_pages == 2
    assert not {i.subject for i in first.inverse} & {i.subject for i in second.inverse}


# -- 303 by Accept ----------------------------------------------------------------------------------
@pytest.mark.parametrize("accept, location", [
    (HTML_ACCEPT, "/page/organisation/societe-numerique"),
    ("text/html", "/page/organisation/societe-numerique"),
    (None, "/page/organisation/societe-numerique"),
    ("*/*", "/page/organisation/societe-numerique"),
    ("text/turtle", "/data/organisation/societe-numerique.ttl"),
    ("application/n-triples", "/data/organisation/societe-numerique.nt"),
    ("application/ld+json", "/data/organisation/societe-numerique.jsonld"),
    ("application/rdf+xml", "/data/organisation/societe-numerique.rdf"),
    ("text/html;q=0.5, text/turtle", "/data/organisation/societe-numerique.ttl"),
    ("text/turtle;q=0.2, application/ld+json;q=0.9", "/data/organisation/societe-numerique.jsonld"),
    ("application/rdf+xml;q=0.9, text/html", "/page/organisation/societe-numerique"),
])
def test_id_see_other_by_accept(tiny_client, accept, location):
    headers = {"Accept": accept} if accept else {}
    r = tiny_client.get(ORG, headers=headers)
    assert r.status_code == 303
    assert r.headers["Location"] == location
    assert "Accept" in r.headers["Vary"]


def test_id_406_lists_offered_types(tiny_client):
    r = tiny_client.get(ORG, headers={"Accept": "image/png"})
    assert r.status_code == 406
    assert r.content_type.startswith("text/plain")
    for offered in ("text/html", "text/turtle", "application/ld+json", "application/rdf+xml", "application/n-triples"):
        assert offered in r.text


@pytest.mark.parametrize("path, accept, status, kind", [
    ("/id/organisation/nobody", "text/turtle", 404, "text/plain"),
    ("/id/organisation/nobody", HTML_ACCEPT, 404, "text/html"),
    ("/page/organisation/nobody", HTML_ACCEPT, 404, "text/html"),
    ("/data/organisation/nobody.ttl", "*/*", 404, "text/plain"),
    ("/id/organisation/Not_A_Slug", "text/turtle", 404, "text/plain"),
    ("/id/spaceship/x", HTML_ACCEPT, 404, "text/html"),
    ("/data/organisation/open-lab.exe", "*/*", 404, "text/plain"),
    ("/id/organisation/gone-org", HTML_ACCEPT, 410, "text/html"),
    ("/page/organisation/gone-org", HTML_ACCEPT, 410, "text/html"),
    ("/data/organisation/gone-org.ttl", "text/turtle", 410, "text/plain"),
])
def test_error_statuses_as_page_or_text(tiny_client, path, accept, status, kind):
    r = tiny_client.get(path, headers={"Accept": accept})
    assert r.status_code == status
    assert r.content_type.startswith(kind)
    if kind == "text/html":
        assert "<h1>" in r.text and "home page" in r.text
    if status == 410:
        assert "withdrawn" in r.text


@pytest.mark.parametrize("path, accept, location", [
    ("/id/organisation/old-name", "text/turtle", "/id/organisation/open-lab"),
    ("/page/organisation/old-name", HTML_ACCEPT, "/page/organisation/open-lab"),
    ("/data/organisation/old-name.nt", "*/*", "/data/organisation/open-lab.nt"),
])
def test_merged_entity_moves_permanently(tiny_client, path, accept, location):
    r = tiny_client.get(path, headers={"Accept": accept})
    assert r.status_code == 301
    assert r.headers["Location"] == location
    assert ("text/html" in r.content_type) == (accept == HTML_ACCEPT)
    assert "merged" in r.text


# -- /data/: suffixes and Accept --------------------------------------------------------------------
FORMATS = {"ttl": ("text/turtle", "turtle"), "nt": ("application/n-triples", "nt"),
           "jsonld": ("application/ld+json", "json-ld"), "rdf": ("application/rdf+xml", "xml")}


def _expected(tiny_kb) -> rdflib.Graph:
    from kb.publish.describe import describe

    d = describe(tiny_kb, ORG_IRI, "organisation/societe-numerique")
    nt = ox.serialize(d.triples(), format=ox.RdfFormat.N_TRIPLES)
    return parse(nt, "nt")


@pytest.mark.parametrize("ext", FORMATS)
def test_data_suffix_overrides_accept(tiny_client, tiny_kb, ext):
    mime, fmt = FORMATS[ext]
    r = tiny_client.get(f"/data/organisation/societe-numerique.{ext}", headers={"Accept": "text/html"})
    assert r.status_code == 200
    assert r.content_type.startswith(mime)
    assert isomorphic(parse(r.data, fmt), _expected(tiny_kb))


@pytest.mark.parametrize("ext", FORMATS)
def test_data_by_accept(tiny_client, tiny_kb, ext):
    mime, fmt = FORMATS[ext]
    r = tiny_client.get("/data/organisation/societe-numerique", headers={"Accept": mime})
    assert r.status_code == 200
    assert r.content_type.startswith(mime)
    assert "Accept" in r.headers["Vary"]
    assert r.headers["Content-Location"] == f"/data/organisation/societe-numerique.{ext}"
    assert isomorphic(parse(r.data, fmt), _expected(tiny_kb))


@pytest.mark.parametrize("url", ["/data/organisation/open-lab.ttl", "/page/organisation/open-lab"])
def test_conditional_get(tiny_client, url):
    first = tiny_client.get(url)
    assert first.headers["ETag"]
    again = tiny_client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    other = tiny_client.get(url.replace("open-lab", "societe-numerique"),
                            headers={"If-None-Match": first.headers["ETag"]})
    assert other.status_code == 200


def test_turtle_reads_cleanly(tiny_client):
    ttl = tiny_client.get("/data/organisation/societe-numerique.ttl").text
    assert "\\/" not in ttl  # no escaped slashes in prefixed names: entity IRIs are written in full
    assert "<https://w3id.org/dsi/id/place/france>" in ttl
    declared = [line.split()[1] for line in ttl.splitlines() if line.startswith("@prefix")]
    assert "dsi:" in declared and "sh:" not in declared  # only the prefixes it uses


def test_data_406(tiny_client):
    r = tiny_client.get("/data/organisation/societe-numerique", headers={"Accept": "text/html"})
    assert r.status_code == 406
    assert "text/turtle" in r.text


def test_jsonld_reads_naturally_and_context_is_published(tiny_client):
    r = tiny_client.get("/data/organisation/societe-numerique.jsonld")
    doc = r.get_json(force=True)
    top = doc["@graph"][0]
    assert top["id"] == "dsid:organisation/societe-numerique"
    assert top["country"] == "dsid:place/france"
    assert top["label"] == {"@value": "Société Numérique", "@language": "fr"}
    assert top["website"] == "https://societe.example.org/"
    assert top["lat"] == "48.85"
    published = tiny_client.get("/context.jsonld")
    assert published.status_code == 200
    assert published.content_type.startswith("application/ld+json")
    assert published.get_json(force=True)["@context"] == doc["@context"]


def test_concepts_dereference(tiny_client):
    r = tiny_client.get("/id/concept/area-of-society/health", headers={"Accept": "text/turtle"})
    assert r.status_code == 303 and r.headers["Location"] == "/data/concept/area-of-society/health.ttl"
    data = parse(tiny_client.get(r.headers["Location"]).data, "turtle")
    assert (rdflib.URIRef(B + "id/project/learn-code"), rdflib.URIRef(B + "def/dsi#areaOfSociety"),
            rdflib.URIRef(B + "id/concept/area-of-society/health")) in data
    scheme = tiny_client.get("/id/concept/area-of-society", headers={"Accept": HTML_ACCEPT})
    assert scheme.headers["Location"] == "/page/concept/area-of-society"
    page = tiny_client.get("/page/concept/area-of-society/health")
    assert "Health and wellbeing" in page.text
    assert "Learn Code" in page.text and 'href="/browse/project?area=health"' in page.text


# -- the HTML page ------------------------------------------------------------------------------------
def test_entity_page_shows_what_a_person_needs(tiny_client):
    r = tiny_client.get("/page/organisation/societe-numerique")
    assert r.status_code == 200
    html = r.text
    assert "<title>Société Numérique · Organisation" in html
    assert "Une association qui forme les citoyens" in html
    # key facts in reading order, related entities by label with links on this server
    where, website, leads = html.index(">Where<"), html.index(">Website<"), html.index(">Leads <")
    assert where < website < leads
    assert '<a href="/id/place/paris-france">Paris, France</a>' in html
    assert '<h3>Leads <span class="count">(1)</span></h3>\n    <ul class="links"><li><a href="/id/project/health-map">Health Map</a></li>' in html
    assert ">France</a>" not in html.split(">Where<")[1].split("</dd>")[0]  # said by "Paris, France"
    assert 'href="http://www.wikidata.org/entity/Q42" rel="external">Wikidata Q42' in html
    # other statements grouped by property with the ontology's label
    assert '>logo image</a></th>' in html and 'href="https://societe.example.org/logo.png" rel="external"' in html
    assert "<dt>Tags</dt><dd><span>digital inclusion</span></dd>" in html
    # provenance, licence, alternates, SPARQL link
    assert "DSI4EU platform export, March 2017" in html and "BY-NC-SA" in html
    for ext, mime in (("ttl", "text/turtle"), ("jsonld", "application/ld+json"),
                      ("rdf", "application/rdf+xml"), ("nt", "application/n-triples")):
        assert f'<link rel="alternate" type="{mime}" href="/data/organisation/societe-numerique.{ext}"' in html
        assert f'</data/organisation/societe-numerique.{ext}>; rel="alternate"; type="{mime}"' in r.headers["Link"]
    assert "/sparql?query=SELECT" in html
    # a way to correct the entry or ask for it to be removed
    iri = "https%3A//w3id.org/dsi/id/organisation/societe-numerique"
    assert f'<a href="/submit?entity={iri}">Suggest a change</a>' in html
    assert f'<a href="/submit/withdraw?entity={iri}">Ask for this entry to be removed</a>' in html


def test_page_embeds_schema_org(tiny_client):
    html = tiny_client.get("/page/organisation/societe-numerique").text
    start = html.index('<script type="application/ld+json">') + len('<script type="application/ld+json">')
    data = json.loads(html[start:html.index("</script>", start)])
    assert data["@type"] == "Organization" and data["name"] == "Société Numérique"
    assert data["url"] == "https://societe.example.org/"
    assert data["address"] == {"@type": "PostalAddress", "addressCountry": "France", "addressLocality": "Paris"}
    project = tiny_client.get("/page/project/health-map").text
    assert '"@type": "Project"' in project and "Led by" in project and "Open Lab" in project


def test_country_page_leads_to_its_lists(tiny_client):
    html = tiny_client.get("/page/place/france").text
    assert '<a class="button" href="/browse/organisation?country=france">Organisations in France</a>' in html
    assert "Health Map" in html  # linked from: the projects and organisations in France
    assert "Cheap Pills Shop" not in html and "1 flagged entry (spam or tests) left out." in html


def test_hidden_entity_dereferences_but_is_marked(tiny_client):
    r = tiny_client.get("/page/organisation/spam-shop")
    assert r.status_code == 200
    assert "Flagged entry" in r.text and '<meta name="robots" content="noindex">' in r.text


def test_links_follow_the_request_host_not_the_base():
    from endpoint import create_app

    kb = build_tiny("https://example.net/kb/")
    client = create_app(kb.settings, kb=kb).test_client()
    html = client.get("/page/organisation/societe-numerique", base_url="http://localhost:5000").text
    assert '<a href="/id/place/paris-france">Paris, France</a>' in html
    assert "<code>https://example.net/kb/id/organisation/societe-numerique</code>" in html
    r = client.get("/id/organisation/societe-numerique", headers={"Accept": "text/turtle"})
    assert r.headers["Location"] == "/data/organisation/societe-numerique.ttl"


# -- over the real built data (session fixtures from conftest) ---------------------------------------
def _leading_org(kb) -> tuple[str, str]:
    row = kb.select("SELECT ?s ?l WHERE { ?s a dsi:Organisation ; dsi:leads ?p ; rdfs:label ?l "
                    "FILTER NOT EXISTS { ?s dsi:hidden true } } ORDER BY ?s LIMIT 1")[0]
    return row["s"].value, row["l"].value


@pytest.mark.parametrize("accept, target", [
    (HTML_ACCEPT, "/page/"), ("text/turtle", "/data/"), ("application/ld+json;q=1, text/html;q=0.1", "/data/"),
])
def test_real_entity_dereferences(client, built_kb, accept, target):
    iri, label = _leading_org(built_kb)
    path = iri[len(built_kb.names.id_ns):]
    r = client.get("/id/" + path, headers={"Accept": accept})
    assert r.status_code == 303 and r.headers["Location"].startswith(target + path)
    final = client.get(r.headers["Location"], headers={"Accept": accept})
    assert final.status_code == 200
    if target == "/page/":
        assert f'<h1 id="title">{label}</h1>' in final.text.replace("&amp;", "&")
        assert "<h3>Leads" in final.text and "Where this comes from" in final.text
    else:
        g = parse(final.data, "turtle" if "turtle" in accept else "json-ld")
        assert (rdflib.URIRef(iri), rdflib.RDFS.label, None) in g
        doc = rdflib.URIRef(built_kb.names.base + "data/" + path)
        assert (doc, rdflib.FOAF.primaryTopic, rdflib.URIRef(iri)) in g
        assert list(g.objects(doc, rdflib.DCTERMS.license)), "the document names its licence(s)"
        # every project it leads is there with its label
        for p in g.objects(rdflib.URIRef(iri), rdflib.URIRef(built_kb.names.dsi("leads"))):
            assert g.value(p, rdflib.RDFS.label) is not None


def test_real_data_formats_agree(client, built_kb):
    iri, _ = _leading_org(built_kb)
    path = iri[len(built_kb.names.id_ns):]
    graphs = [parse(client.get(f"/data/{path}.{ext}").data, fmt) for ext, (_, fmt) in FORMATS.items()]
    assert client.get(f"/data/{path}.ttl").headers["Last-Modified"].endswith("GMT")
    assert len(graphs[0]) > 20
    for other in graphs[1:]:
        assert isomorphic(graphs[0], other)


def test_injected_script_label_renders_as_text(kb_copy):
    from endpoint import create_app

    iri, _ = _leading_org(kb_copy)
    kb_copy.update(f"DELETE {{ GRAPH ?g {{ <{iri}> rdfs:label ?l }} }} WHERE {{ GRAPH ?g {{ <{iri}> rdfs:label ?l }} }};"
                   f"INSERT DATA {{ GRAPH <{kb_copy.graphs.curated}> {{ <{iri}> rdfs:label \"<script>alert(1)</script>Evil & Co\" }} }}")
    client = create_app(kb_copy.settings, kb=kb_copy).test_client()
    path = iri[len(kb_copy.names.id_ns):]
    for url in (f"/page/{path}", "/search?q=evil", "/browse/organisation?per_page=500"):
        html = client.get(url).text
        assert "<script>alert(1)</script>" not in html, url
    page = client.get(f"/page/{path}").text
    assert '<h1 id="title">&lt;script&gt;alert(1)&lt;/script&gt;Evil &amp; Co</h1>' in page
    embedded = page.split('<script type="application/ld+json">', 1)[1].split("</script>", 1)[0]
    assert json.loads(embedded)["name"] == "<script>alert(1)</script>Evil & Co"
