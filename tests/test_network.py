"""The network of organisations (issue 13): its figures as RDF in graph/network, answered over SPARQL
and checked against an independent SPARQL count over the real store; recomputed after a change and
a merge; shown on entity pages; /network.json and its filters; and /network drawn in Chromium."""

from __future__ import annotations

import json

import pyoxigraph as ox
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.support import ARTIFACTS, make_app

B = "https://w3id.org/dsi/"
NETWORK = B + "graph/network"
PREFIXES = f"PREFIX dsi: <{B}def/dsi#>\nPREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"

# Partners counted straight from the data, as the ontology defines them, without kb/publish/network.py:
# the organisations that share a project (membership, takes-part shortcut or funding) or a 2013
# partnership with ?a, and are neither hidden, withdrawn nor merged.
TAKES_PART = """{ ?m dsi:organisation ?o ; dsi:project ?p } UNION { ?o dsi:takesPartIn ?p }
      UNION { ?f dsi:funder ?o ; dsi:fundedProject ?p }"""
PARTNERS = PREFIXES + f"""SELECT ?a (COUNT(DISTINCT ?b) AS ?n) WHERE {{
  {{ {{ SELECT DISTINCT (?o AS ?a) ?p WHERE {{ {TAKES_PART} }} }}
     {{ SELECT DISTINCT (?o AS ?b) ?p WHERE {{ {TAKES_PART} }} }} }}
  UNION {{ ?c a dsi:Collaboration ; dsi:collaborator ?a, ?b }}
  FILTER(?a != ?b)
  ?b a dsi:Organisation .
  FILTER NOT EXISTS {{ ?b dsi:hidden true }} FILTER NOT EXISTS {{ ?b dsi:withdrawn ?w }} FILTER NOT EXISTS {{ ?b dsi:mergedInto ?s }}
}} GROUP BY ?a"""


def sparql(client, query: str) -> list[dict]:
    resp = client.get("/sparql", query_string={"query": query}, headers={"Accept": "application/sparql-results+json"})
    assert resp.status_code == 200, resp.data[:300]
    return [{k: v["value"] for k, v in b.items()} for b in json.loads(resp.data)["results"]["bindings"]]


def figures_by_sparql(client) -> dict[str, dict]:
    rows = sparql(client, PREFIXES + f"""SELECT ?o ?degree ?betweenness ?community WHERE {{
        GRAPH <{NETWORK}> {{ ?o dsi:degree ?degree ; dsi:betweenness ?betweenness ; dsi:community ?community }} }}""")
    return {r["o"]: r for r in rows}


def test_degree_over_sparql_is_the_number_of_partners_counted_independently(client, built_kb):
    figures = figures_by_sparql(client)
    assert len(figures) > 100  # the real network: a few hundred linked organisations
    partners = {r["a"].value: int(r["n"].value) for r in built_kb.select(PARTNERS, prologue=False)}
    visible = {r["o"].value for r in built_kb.select(PREFIXES + """SELECT ?o WHERE { ?o a dsi:Organisation
        FILTER NOT EXISTS { ?o dsi:hidden true } FILTER NOT EXISTS { ?o dsi:withdrawn ?w }
        FILTER NOT EXISTS { ?o dsi:mergedInto ?s } }""", prologue=False)}
    expected = {o: n for o, n in partners.items() if o in visible and n > 0}
    assert {o: int(f["degree"]) for o, f in figures.items()} == expected
    assert int(figures[B + "id/organisation/waag-society"]["degree"]) == expected[B + "id/organisation/waag-society"]


def test_communities_and_bridges_are_consistent(client):
    figures = figures_by_sparql(client)
    sizes = {r["c"]: int(r["n"]) for r in sparql(client, PREFIXES + f"""SELECT ?c ?n ?label WHERE {{
        GRAPH <{NETWORK}> {{ ?c a dsi:Community ; dsi:communitySize ?n ; rdfs:label ?label }} }}""")}
    assert sum(sizes.values()) == len(figures) and len(sizes) > 5
    assert all(f["community"] in sizes for f in figures.values())
    assert all(0 <= float(f["betweenness"]) <= 1 for f in figures.values())
    members: dict[str, int] = {}
    for f in figures.values():
        members[f["community"]] = members.get(f["community"], 0) + 1
    assert members == sizes
    # a bridge names its own community and at least one more, each the community of itself or a partner
    bridges = sparql(client, PREFIXES + f"""SELECT ?o (COUNT(?c) AS ?n) WHERE {{
        GRAPH <{NETWORK}> {{ ?o dsi:bridgesCommunities ?c }} }} GROUP BY ?o""")
    assert len(bridges) > 10 and all(int(b["n"]) >= 2 for b in bridges)
    wrong = sparql(client, PREFIXES + f"""SELECT ?o ?c WHERE {{ GRAPH <{NETWORK}> {{ ?o dsi:bridgesCommunities ?c }}
        FILTER NOT EXISTS {{ GRAPH <{NETWORK}> {{ ?o dsi:community ?c }} }}
        FILTER NOT EXISTS {{ ?o dsi:collaboratesWith ?x . GRAPH <{NETWORK}> {{ ?x dsi:community ?c }} }} }}""")
    assert wrong == []


def test_figures_graph_is_described_with_a_licence(client):
    rows = sparql(client, f"""SELECT ?l WHERE {{ GRAPH ?m {{ <{NETWORK}> <http://purl.org/dc/terms/license> ?l }} }}""")
    assert {r["l"] for r in rows} == {"https://creativecommons.org/licenses/by/4.0/"}


def _new_project(kb, a: str, b: str) -> None:
    """Two organisations share a new project, as an accepted submission writes it; then what accepting
    runs next (kb.derive.derive)."""
    from kb.build.derive import derive

    d = kb.names.dsi
    project = ox.NamedNode(B + "id/project/network-test-project")
    t = [ox.Triple(project, ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"), ox.NamedNode(d("Project"))),
         ox.Triple(project, ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label"), ox.Literal("Network test"))]
    for org in (a, b):
        m = ox.NamedNode(f"{project.value}#membership-{org.rsplit('/', 1)[-1]}")
        t += [ox.Triple(m, ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"), ox.NamedNode(d("ActivityMembership"))),
              ox.Triple(m, ox.NamedNode(d("organisation")), ox.NamedNode(org)),
              ox.Triple(m, ox.NamedNode(d("project")), project)]
    kb.replace_graph(kb.graphs.submission("network-test"), t)
    derive(kb)


def _degree(kb, org: str) -> int | None:
    rows = kb.select("SELECT ?g ?o ?d WHERE { GRAPH ?g { ?o dsi:degree ?d } }",
                     bind={"g": ox.NamedNode(NETWORK), "o": ox.NamedNode(org)})
    return int(rows[0]["d"].value) if rows else None


def test_recomputed_after_a_change_and_after_a_merge(kb_copy):
    from kb.contribute.merge import merge

    kb = kb_copy
    client = make_app(kb).test_client()
    before = client.get("/network.json").get_json()
    waag = B + "id/organisation/waag-society"
    alone = next(r["o"].value for r in kb.select("""SELECT ?o WHERE { ?o a dsi:Organisation ; rdfs:label ?l
        FILTER NOT EXISTS { ?o dsi:hidden true } FILTER NOT EXISTS { ?o dsi:collaboratesWith ?x }
        FILTER NOT EXISTS { ?m dsi:organisation ?o } } ORDER BY ?o LIMIT 1"""))
    assert _degree(kb, alone) is None and alone not in {n["id"] for n in before["nodes"]}
    start = _degree(kb, waag)
    _new_project(kb, waag, alone)
    assert _degree(kb, alone) == 1 and _degree(kb, waag) == start + 1
    after = client.get("/network.json").get_json()  # the page's cache follows the store's generation
    assert after["generation"] != before["generation"]
    assert len(after["nodes"]) == len(before["nodes"]) + 1 and alone in {n["id"] for n in after["nodes"]}
    # merging an organisation into Waag Society: its partners become Waag's, it leaves the network
    other = next(r["o"].value for r in kb.select("""SELECT ?g ?w ?o WHERE { GRAPH ?g { ?o dsi:degree ?d } FILTER(?o != ?w) }
        ORDER BY DESC(?d) ?o LIMIT 1""", bind={"g": ox.NamedNode(NETWORK), "w": ox.NamedNode(waag)}))

    def partners(org):  # collaboratesWith (graph/derived) of organisations in the network
        return {r["x"].value for r in kb.select("SELECT ?o ?x WHERE { ?o dsi:collaboratesWith ?x }",
                                                 bind={"o": ox.NamedNode(org)}) if _degree(kb, r["x"].value) is not None}

    expected = len((partners(waag) | partners(other)) - {waag, other})
    merge(kb, waag, other, by="test", reason="network test")
    assert _degree(kb, other) is None
    assert _degree(kb, waag) == expected
    assert other not in {n["id"] for n in client.get("/network.json").get_json()["nodes"]}


def test_entity_page_says_which_communities_an_organisation_links(client):
    rows = sparql(client, PREFIXES + f"""SELECT ?o (COUNT(?c) AS ?n) WHERE {{
        GRAPH <{NETWORK}> {{ ?o dsi:bridgesCommunities ?c }} }} GROUP BY ?o ORDER BY DESC(?n) ?o LIMIT 1""")
    org, n = rows[0]["o"], int(rows[0]["n"])
    labels = [r["l"] for r in sparql(client, PREFIXES + f"""SELECT ?l WHERE {{ GRAPH <{NETWORK}> {{
        <{org}> dsi:bridgesCommunities ?c . ?c rdfs:label ?l }} }}""")]
    resp = client.get("/page/" + org[len(B + "id/"):])
    html = resp.data.decode()
    assert resp.status_code == 200
    assert f"Links {n} communities:" in html and all(label in html for label in labels)
    degree = figures_by_sparql(client)[org]["degree"]
    assert f"{degree} partners" in html
    assert "dsi#degree" not in html.split('id="more-h"', 1)[-1]  # not repeated among the other statements


def test_network_json_filters_and_etag(client):
    whole = client.get("/network.json")
    data = whole.get_json()
    assert whole.status_code == 200 and len(data["nodes"]) == data["total"]["nodes"] == len(figures_by_sparql(client))
    assert len(data["edges"]) == data["total"]["edges"]
    country = next(f for f in data["facets"] if f["key"] == "country")["values"][0]
    narrow = client.get("/network.json", query_string={"country": country["value"]}).get_json()
    assert len(narrow["nodes"]) == country["count"] < len(data["nodes"])
    ids = {n["id"] for n in narrow["nodes"]}
    assert all(s < len(ids) and t < len(ids) for s, t, *_ in narrow["edges"])
    assert client.get("/network.json", headers={"If-None-Match": whole.headers["ETag"]}).status_code == 304
    assert client.get("/network.json?country=nowhere").get_json()["nodes"] == []
    bad = client.get("/network.json?colour=red")
    assert bad.status_code == 400 and b"colour" in bad.data
    assert client.get("/network?lang=es").status_code == 200


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(pairs=st.lists(st.tuples(st.sampled_from(["type", "country", "area", "technology", "lang", "colour", "q"]),
                                st.one_of(st.sampled_from(["spain", "united-kingdom", "open-data", "business",
                                                           "health-and-wellbeing", "", "x" * 300]),
                                          st.text(max_size=20))), max_size=4))
def test_any_parameters_give_the_network_or_a_4xx(client, pairs):
    for path in ("/network.json", "/network"):
        resp = client.get(path, query_string=pairs)
        assert resp.status_code in (200, 400), (path, pairs, resp.status_code)
        if resp.status_code == 400:
            assert any(k in ("colour", "q") for k, _ in pairs) or any(len(v) > 200 for _, v in pairs)
        elif path.endswith(".json"):
            data = resp.get_json()
            assert len(data["nodes"]) <= data["total"]["nodes"]
            if all(k == "lang" or not v for k, v in pairs):
                assert len(data["nodes"]) == data["total"]["nodes"]


# -- in Chromium --------------------------------------------------------------------------------------
def _drawn(page) -> dict:
    page.wait_for_selector("#network-graph[data-drawn]", timeout=30_000)
    return page.eval_on_selector("#network-graph", "e => ({...e.dataset})")


@pytest.mark.browser
def test_network_page_draws_opens_entities_and_filters(browser, live_url, client):
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(live_url + "/network")
    drawn = _drawn(page)
    data = client.get("/network.json").get_json()
    assert int(drawn["nodes"]) == len(data["nodes"]) and int(drawn["edges"]) == len(data["edges"])
    assert page.locator("#network-graph canvas").count() > 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "network.png"), full_page=True)

    # find an organisation with the search box, then click it where sigma drew it
    target = max(data["nodes"], key=lambda n: n["degree"])
    page.fill("#network-search", target["label"])
    page.press("#network-search", "Enter")
    page.wait_for_function("() => document.getElementById('network-graph').dataset.selected")
    page.wait_for_timeout(600)  # the camera's move to the node
    assert page.locator("#network-selected").inner_text().startswith(target["label"])
    page.screenshot(path=str(ARTIFACTS / "network-selected.png"))
    at = page.eval_on_selector("#network-graph", "e => [Number(e.dataset.selectedX), Number(e.dataset.selectedY)]")
    with page.expect_navigation():
        page.mouse.click(at[0], at[1])
    assert page.url.endswith("/page/" + target["id"][len(B + "id/"):])
    assert target["label"] in page.locator("h1").inner_text()

    # a facet filter narrows the drawing to the organisations of that value
    country = next(f for f in data["facets"] if f["key"] == "country")["values"][0]
    page.goto(live_url + "/network")
    _drawn(page)
    page.select_option("select[name=country]", country["value"])
    with page.expect_navigation():
        page.click(".network-filters button[type=submit]")
    narrowed = _drawn(page)
    assert int(narrowed["nodes"]) == country["count"] < len(data["nodes"])
    page.screenshot(path=str(ARTIFACTS / "network-filtered.png"))
    assert errors == []
