"""Faceted lists: facet state in the URL, counts per value, sorting, paging, CSV and JSON twins."""

from __future__ import annotations

import csv
import io

import pytest

from tests.test_resources import B


def _counts(listing, key):
    facet = next(f for f in listing.facets if f["key"] == key)
    return {v["label"]: v["count"] for v in facet["values"]}


def test_facets_count_and_narrow(tiny_kb):
    from kb.index.browse import listing

    everything = listing(tiny_kb, "project")
    assert [r.label for r in everything.rows] == ["Health Map", "Learn Code"]
    assert _counts(everything, "area") == {"Health and wellbeing": 2, "Education and skills": 1}
    assert _counts(everything, "country") == {"France": 1, "Spain": 1}
    narrowed = listing(tiny_kb, "project", filters={"area": ["education"]})
    assert [r.label for r in narrowed.rows] == ["Learn Code"]
    assert _counts(narrowed, "country") == {"Spain": 1}
    both = listing(tiny_kb, "project", filters={"area": ["education", "health"]})
    assert both.total == 1


def test_hidden_merged_and_withdrawn_left_out(tiny_kb):
    from kb.index.browse import listing

    orgs = listing(tiny_kb, "organisation")
    assert [r.label for r in orgs.rows] == ["Open Lab", "Société Numérique"]
    assert _counts(orgs, "country") == {"France": 2}
    with_hidden = listing(tiny_kb, "organisation", include_hidden=True)
    assert "Cheap Pills Shop" in [r.label for r in with_hidden.rows]
    # organisations get areas through the projects they take part in
    assert _counts(orgs, "area") == {"Health and wellbeing": 2}


def test_sorting_and_paging(tiny_kb):
    from kb.index.browse import listing
    from kb.errors import BadRequest, NotFound

    assert [r.label for r in listing(tiny_kb, "project", sort="-label").rows] == ["Learn Code", "Health Map"]
    assert [r.label for r in listing(tiny_kb, "project", sort="-start").rows] == ["Learn Code", "Health Map"]
    assert [r.label for r in listing(tiny_kb, "project", sort="start").rows] == ["Health Map", "Learn Code"]
    page2 = listing(tiny_kb, "organisation", per_page=1, page=2)
    assert page2.pages == 2 and [r.label for r in page2.rows] == ["Société Numérique"]
    with pytest.raises(NotFound):
        listing(tiny_kb, "organisation", per_page=1, page=3)
    with pytest.raises(BadRequest):
        listing(tiny_kb, "project", sort="colour")
    with pytest.raises(BadRequest):
        listing(tiny_kb, "project", filters={"colour": ["red"]})


def test_browse_page_keeps_facet_state_in_the_url(tiny_client):
    r = tiny_client.get("/browse/project?area=health")
    assert r.status_code == 200
    html = r.text
    assert "<strong>2</strong> projects" in html
    assert '<a href="/browse/project?area=health&amp;area=education">Education and skills</a> <span class="count">1</span>' in html
    assert '<a href="/id/project/health-map">Health Map</a>' in html
    assert 'href="/browse/project.csv?area=health"' in html
    assert '</browse/project.json?area=health>; rel="alternate"' in r.headers["Link"]
    narrowed = tiny_client.get("/browse/project?area=health&area=education").text
    assert "<strong>1</strong> projects" in narrowed and "Health Map" not in narrowed.split("Results", 1)[1]


def test_browse_csv_and_json(tiny_client):
    r = tiny_client.get("/browse/project.csv?area=health&sort=-label")
    assert r.content_type.startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["label"] for row in rows] == ["Learn Code", "Health Map"]
    assert rows[0]["area"] == "Education and skills; Health and wellbeing"
    assert rows[0]["id"] == B + "id/project/learn-code"
    data = tiny_client.get("/browse/organisation.json?per_page=1").get_json()
    assert data["total"] == 2 and data["pages"] == 2 and len(data["items"]) == 1
    assert data["next"] == "/browse/organisation.json?per_page=1&page=2"
    assert {"value": "france", "id": B + "id/place/france", "label": "France", "count": 2} in data["facets"][1]["values"]


@pytest.mark.parametrize("url, status", [
    ("/browse/spaceship", 404), ("/browse/project.xlsx", 404), ("/browse/project?colour=red", 400),
    ("/browse/project?sort=colour", 400), ("/browse/project?page=0", 404), ("/browse/project?page=x", 400),
    ("/browse/project?per_page=100000", 400),
])
def test_bad_browse_requests(tiny_client, url, status):
    r = tiny_client.get(url)
    assert r.status_code == status
    assert r.text.strip()


def test_real_lists_match_the_store(client, built_kb):
    from kb.publish.stats import stats

    figures = stats(built_kb)["entities"]
    for type_, cls in (("organisation", "Organisation"), ("project", "Project")):
        data = client.get(f"/browse/{type_}.json").get_json()
        assert data["total"] == figures[cls]  # hidden ones left out, as the home page counts them
        country = next(f for f in data["facets"] if f["key"] == "country")
        if country["values"]:
            top = country["values"][0]
            narrowed = client.get(f"/browse/{type_}.json?country={top['value']}").get_json()
            assert narrowed["total"] == top["count"]
    page = client.get("/browse/project?sort=-start")
    assert page.status_code == 200 and "Area of society" in page.text


@pytest.mark.embedded_only("the index sits in a file beside the on-disk store (a remote store's is per process, in a temporary folder)")
def test_warm_builds_the_search_index_and_every_list_before_the_first_request(kb_copy):
    from kb.index import browse
    from kb.index import search

    path = search.index_path(kb_copy)
    assert not path.exists()
    from kb.index.warm import warm

    warm(kb_copy)
    assert search._stored_generation(path) == search._stamp(kb_copy)
    generation, tables = browse._cache[kb_copy]
    assert generation == kb_copy.generation and set(tables) == set(browse.BROWSE_TYPES)


def test_filtered_lists_from_the_index_match_a_scan_and_stay_bounded(built_kb, monkeypatch):
    """A filtered list comes from the facet-value index and the kept answers (kb/index/browse.py
    _filtered): the same rows in the same order, and the same counts, as filtering the whole list
    row by row; the kept answers stay within their bound."""
    from kb.index import browse

    whole = browse.listing(built_kb, "organisation", per_page=browse.MAX_PER_PAGE)
    countries = [v["slug"] for v in next(f for f in whole.facets if f["key"] == "country")["values"]][:6]
    areas = [v["slug"] for v in next(f for f in whole.facets if f["key"] == "area")["values"]][:3]
    monkeypatch.setattr(browse, "FILTERED_KEPT", 4)
    tab = browse.table(built_kb, "organisation")
    for sort in ("label", "-start"):
        for filters in [{"country": [c]} for c in countries] + [{"country": [countries[0]], "area": [a]} for a in areas]:
            for _ in range(2):  # computed, then kept
                got = browse.listing(built_kb, "organisation", filters=filters, sort=sort,
                                     per_page=browse.MAX_PER_PAGE)
                scan = [r for r in browse._ordered(tab, *browse.parse_sort("organisation", sort), False)
                        if all(set(v) <= r.slugs.get(k, set()) for k, v in filters.items())]
                assert got.total == len(scan) > 0, filters
                assert [r.iri for r in got.rows] == [r.iri for r in scan[:browse.MAX_PER_PAGE]]
                counts = {f["key"]: {v["iri"]: v["count"] for v in f["values"]} for f in got.facets}
                assert counts == browse._counts(tab, browse.FACETS["organisation"], scan)
    assert len(tab.memo["filtered"]) <= 4


# -- issue 13: facets that work, rows that say where and what, sorting ---------------------------
NL = "https://w3id.org/dsi/id/place/netherlands"


def _all_items(client, url):
    data = client.get(url + ("&" if "?" in url else "?") + "per_page=500").get_json()
    items = data["items"]
    for page in range(2, data["pages"] + 1):
        items += client.get(url + ("&" if "?" in url else "?") + f"per_page=500&page={page}").get_json()["items"]
    return data, items


def test_projects_in_netherlands_come_from_partner_countries_and_match_sparql(client, built_kb):
    """Most projects state no country: the derived dsi:partnerCountry (its own named graph) fills the
    country facet, and the list is exactly what a SPARQL query over stated and derived countries says."""
    data = client.get("/browse/project.json?country=netherlands&per_page=500").get_json()
    stated = built_kb.select(f"SELECT (COUNT(DISTINCT ?p) AS ?n) WHERE {{ ?p a dsi:Project ; dsi:country <{NL}> }}")
    graph = built_kb.graphs.partner_countries
    rows = built_kb.select(f"""SELECT DISTINCT ?p WHERE {{
        ?p a dsi:Project .
        {{ ?p dsi:country <{NL}> }} UNION {{ GRAPH <{graph}> {{ ?p dsi:partnerCountry <{NL}> }} }}
        FILTER NOT EXISTS {{ ?p dsi:hidden true }} FILTER NOT EXISTS {{ ?p dsi:mergedInto ?m }}
        FILTER NOT EXISTS {{ ?p dsi:withdrawn ?w }} }}""")
    assert data["total"] > int(stated[0]["n"].value) and data["total"] > 20
    assert data["total"] == len(rows)
    assert {item["id"] for item in data["items"]} == {r["p"].value for r in rows}
    # the page a person sees says the same number, and the place page's link leads there
    html = client.get("/browse/project?country=netherlands").text
    assert f"<strong>{data['total']}</strong> projects" in html
    assert 'href="/browse/project?country=netherlands"' in client.get("/page/place/netherlands").text


def test_partner_countries_are_derived_apart_and_follow_the_rule(built_kb):
    """Only graph/derived/partner-countries states dsi:partnerCountry; it holds exactly the rule's
    conclusions; the meta graph describes it; the ontology states the rule as a property chain."""
    from kb.build.partner_countries import partner_country_triples

    graph = built_kb.graphs.partner_countries
    assert graph.endswith("/graph/derived/partner-countries")
    where = built_kb.select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s dsi:partnerCountry ?o } }")
    assert [r["g"].value for r in where] == [graph]
    held = {(q.subject, q.predicate, q.object) for q in built_kb.graph_quads(graph)}
    assert held == {(t.subject, t.predicate, t.object) for t in partner_country_triples(built_kb)}
    assert len(held) > 500
    assert built_kb.ask(f"ASK {{ GRAPH <{built_kb.graphs.meta}> {{ <{graph}> dcterms:title ?t ; dcterms:license ?l }} }}")
    assert built_kb.ask("""ASK { GRAPH ?o { dsi:partnerCountry owl:propertyChainAxiom ?chain .
        ?chain rdf:first [ owl:inverseOf dsi:takesPartIn ] ; rdf:rest/rdf:first dsi:country } }""")
    # a flagged (spam) organisation lends no country
    assert not built_kb.ask("""ASK { GRAPH ?g { ?p dsi:partnerCountry ?c }
        FILTER NOT EXISTS { ?m dsi:project ?p ; dsi:organisation ?o . ?o dsi:country ?c
                            FILTER NOT EXISTS { ?o dsi:hidden true } } }""")


def test_rows_say_where_what_and_how_many(client):
    data = client.get("/browse/organisation.json?sort=-projects&per_page=5").get_json()
    top = data["items"][0]
    assert top["place"] and top["projects"] >= data["items"][-1]["projects"] > 0
    assert top["kinds"]
    html = client.get("/browse/organisation?sort=-projects&per_page=5").text
    assert top["label"] in html and top["place"] in html and f"{top['projects']} projects" in html
    projects = client.get("/browse/project.json?country=netherlands&sort=-partners&per_page=5").get_json()
    assert any(item["place_derived"] for item in projects["items"])
    assert all("Netherlands" in item["countries"] for item in projects["items"])


def _ordered(values, descending):
    present = [v for v in values if v is not None]
    assert values == present + [None] * (len(values) - len(present)), "rows without a value come last"
    return present == sorted(present, reverse=descending)


@pytest.mark.parametrize("type_, sort", [
    ("organisation", "name"), ("organisation", "-name"), ("organisation", "country"), ("organisation", "-country"),
    ("organisation", "projects"), ("organisation", "-projects"), ("organisation", "added"),
    ("organisation", "-added"), ("project", "partners"), ("project", "-partners"), ("project", "country"),
    ("project", "-added"), ("project", "start"), ("project", "-start"),
])
def test_sorting_orders_as_said(client, type_, sort):
    key = sort.lstrip("-")
    _, items = _all_items(client, f"/browse/{type_}.json?sort={sort}")
    value = {"name": lambda i: i["label"].casefold(),
             "country": lambda i: i["countries"][0].casefold() if i["countries"] else None,
             "projects": lambda i: i.get("projects") or None, "partners": lambda i: i.get("partners") or None,
             "added": lambda i: i["added"], "start": lambda i: i["start"]}[key]
    assert _ordered([value(i) for i in items], sort.startswith("-"))
    # order=desc says the same as a leading '-'
    if not sort.startswith("-"):
        again = client.get(f"/browse/{type_}.json?sort={sort}&order=desc&per_page=20").get_json()["items"]
        first = client.get(f"/browse/{type_}.json?sort=-{sort}&per_page=20").get_json()["items"]
        assert [i["id"] for i in again] == [i["id"] for i in first]


@pytest.mark.parametrize("url, allowed", [
    ("/browse/organisation?sort=colour", "name, country, projects, added, start"),
    ("/browse/project?sort=projects", "name, country, partners, added, start"),
    ("/browse/project?sort=name&order=sideways", "asc or desc"),
])
def test_unknown_sorts_are_400_naming_the_allowed_values(client, url, allowed):
    r = client.get(url)
    assert r.status_code == 400 and allowed in r.text


def test_each_active_filter_has_a_link_that_removes_it(client):
    import html as html_lib
    import re

    both = client.get("/browse/project?country=netherlands&area=health-and-wellbeing&sort=-partners")
    assert both.status_code == 200
    links = dict(re.findall(r'<strong>([^<]+)</strong>\s*<a class="remove" href="([^"]+)"', both.text))
    assert set(links) == {"Netherlands", "Health and wellbeing"}
    for label, href in links.items():
        href = html_lib.unescape(href)
        assert "sort=-partners" in href  # the order stays
        kept = "area=health-and-wellbeing" if label == "Netherlands" else "country=netherlands"
        assert kept in href and ("country=" in href) != (label == "Netherlands")
        alone = client.get(f"/browse/project.json?{kept}").get_json()["total"]
        page = client.get(href)
        assert page.status_code == 200 and f"<strong>{alone}</strong> projects" in page.text
    narrowed = client.get("/browse/project.json?country=netherlands&area=health-and-wellbeing").get_json()["total"]
    assert f"<strong>{narrowed}</strong> projects" in both.text


def test_home_page_opens_the_area_and_technology_facets(client):
    import html as html_lib
    import re

    html = client.get("/").text
    for heading in ("Projects by area of society", "Projects by technology"):
        section = html.split(heading, 1)[1].split("</section>", 1)[0]
        links = re.findall(r'<a href="([^"]+)">([^<]+)</a> <span class="count">(\d+)</span>', section)
        assert len(links) >= 3
        for href, label, count in links[:3]:
            href = html_lib.unescape(href)
            assert re.match(r"^/browse/project\?(area|technology)=[a-z0-9-]+$", href)
            assert client.get(href.replace("/browse/project", "/browse/project.json")).get_json()["total"] == int(count)
    assert 'href="/browse/project#facet-area"' in html and 'id="facet-area"' in client.get("/browse/project").text


def test_sort_and_filter_parameters_answer_200_or_4xx(client):
    """Property: any mix of sort, order, filters, page and per_page gets a list or a 4xx, never a 5xx;
    a list is always in the order asked for."""
    from hypothesis import HealthCheck, given, settings, strategies as st

    sorts = st.sampled_from(["name", "-name", "country", "-country", "projects", "-projects", "partners",
                             "-partners", "added", "-added", "start", "-start", "label", "-label", "--name",
                             "-", "", "colour", "name-", "NAME"]) | st.text(max_size=10)
    orders = st.sampled_from(["asc", "desc", "", "up", "DESC"]) | st.text(max_size=5)
    values = st.sampled_from(["netherlands", "spain", "health-and-wellbeing", "open-data", "x", ""]) | st.text(max_size=8)
    keys = st.sampled_from(["country", "area", "technology", "type", "activity", "colour"])

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(type_=st.sampled_from(["organisation", "project"]), sort=st.none() | sorts, order=st.none() | orders,
           filters=st.lists(st.tuples(keys, values), max_size=3), page=st.none() | st.integers(-2, 5),
           per_page=st.none() | st.integers(-1, 600))
    def check(type_, sort, order, filters, page, per_page):
        params = [("sort", sort), ("order", order), ("page", page), ("per_page", per_page)]
        query = [(k, str(v)) for k, v in params if v is not None] + filters
        r = client.get(f"/browse/{type_}.json", query_string=query)
        assert r.status_code == 200 or 400 <= r.status_code < 500, (query, r.status_code)
        if r.status_code == 200 and (sort or "name").lstrip("-") == "name":
            labels = [i["label"].casefold() for i in r.get_json()["items"]]
            descending = (sort or "").startswith("-") or order == "desc"
            assert labels == sorted(labels, reverse=descending)

    check()


def test_sort_order_and_active_filters_in_the_readers_language(client, built_kb):
    """Spanish: the facet headings, the sort menu and the active filters (name of the facet and of the
    value) are in Spanish, while order= and the filters work as in English."""
    import html as html_lib
    import re

    import pyoxigraph as ox

    spanish = next(q.object.value for q in built_kb.quads(
        ox.NamedNode(f"{B}id/concept/area-of-society/health-and-wellbeing"),
        ox.NamedNode("http://www.w3.org/2004/02/skos/core#prefLabel"), None, None) if q.object.language == "es")
    r = client.get("/browse/project?area=health-and-wellbeing&sort=name&order=desc&lang=es")
    assert r.status_code == 200 and '<html lang="es">' in r.text
    assert "<h2>Ámbito de la sociedad</h2>" in r.text
    assert '<option value="-name" selected>nombre Z–A</option>' in r.text  # order=desc chose it
    active = r.text.split('class="active-filters"', 1)[1].split("</section>", 1)[0]
    assert '<span class="facet-name">Ámbito de la sociedad:</span>' in active
    assert f"<strong>{html_lib.escape(spanish)}</strong>" in active
    assert f'aria-label="Quitar el filtro {html_lib.escape(spanish)}"' in active
    english = client.get("/browse/project.json?area=health-and-wellbeing&sort=-name").get_json()
    names = re.findall(r'<li><a href="[^"]+">([^<]+)</a>\s*<span class="row-meta">', r.text)
    assert names and [html_lib.unescape(n) for n in names] == [i["label"] for i in english["items"]][:len(names)]


def test_home_page_facet_links_in_the_readers_language(client, built_kb):
    """The home page's area links carry the concepts' Spanish names for a Spanish reader (the counts
    and links are the same as in English)."""
    import pyoxigraph as ox

    concept = ox.NamedNode(f"{B}id/concept/area-of-society/health-and-wellbeing")
    spanish = next(q.object.value for q in built_kb.quads(
        concept, ox.NamedNode("http://www.w3.org/2004/02/skos/core#prefLabel"), None, None)
        if q.object.language == "es")
    english = client.get("/").text
    page = client.get("/?lang=es").text
    link = '<a href="/browse/project?area=health-and-wellbeing">'
    assert f"{link}Health and wellbeing</a>" in english
    assert f"{link}{spanish}</a>" in page and spanish != "Health and wellbeing"
