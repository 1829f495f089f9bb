"""Full-text search: accent- and case-insensitive, ranked, type-filtered, hidden left out; HTML and JSON."""

from __future__ import annotations

import pytest

from tests.test_resources import B


@pytest.mark.parametrize("text", ["societe", "SOCIÉTÉ", "Societe numerique", "numéri", "citoyens"])
def test_accent_and_case_insensitive(tiny_kb, text):
    from kb.index.search import search

    hits, total = search(tiny_kb, text)
    assert total == 1
    assert hits[0].iri == B + "id/organisation/societe-numerique"
    assert hits[0].label == "Société Numérique"


def test_label_outranks_description_and_alt_names_match(tiny_kb):
    from kb.index.search import search

    hits, _ = search(tiny_kb, "open")  # "Open Lab" by name; "Health Map" only by its description
    assert [h.label for h in hits[:2]] == ["Open Lab", "Health Map"]
    assert [h.label for h in search(tiny_kb, "carte sante")[0]] == ["Health Map"]


def test_type_filter_and_hidden(tiny_kb):
    from kb.errors import BadRequest
    from kb.index.search import search

    assert {h.type for h in search(tiny_kb, "open", type="project")[0]} == {"project"}
    assert search(tiny_kb, "old name")[1] == 0  # merged and withdrawn entries are not found
    assert search(tiny_kb, "pills")[1] == 0
    assert search(tiny_kb, "pills", include_hidden=True)[0][0].hidden
    with pytest.raises(BadRequest):
        search(tiny_kb, "x", type="spaceship")


def test_odd_input_is_safe(tiny_kb):
    from kb.index.search import search

    for text in ['"', "open AND", "NEAR(", "*", "-", "o'neil"]:
        search(tiny_kb, text)  # never an FTS5 syntax error


@pytest.mark.embedded_only("the index sits in a file beside the on-disk store (a remote store's is per process, in a temporary folder)")
def test_index_on_disk_is_rebuilt_when_the_store_changes(kb_copy):
    from kb.index.search import index_path, search

    kb_copy.update("INSERT DATA { GRAPH <%sgraph/curated> { <%sid/organisation/zz-new> a dsi:Organisation ; "
                   "rdfs:label \"Zebrafish Collective Éditions\" } }" % (kb_copy.names.base, kb_copy.names.base))
    hits, total = search(kb_copy, "editions zebrafish")
    assert total == 1 and hits[0].iri.endswith("/zz-new")
    assert index_path(kb_copy).exists()
    kb_copy.update("DELETE WHERE { GRAPH ?g { <%sid/organisation/zz-new> ?p ?o } }" % kb_copy.names.base)
    assert search(kb_copy, "zebrafish")[1] == 0


def test_search_page_and_json(tiny_client):
    page = tiny_client.get("/search?q=societe")
    assert page.status_code == 200
    assert '<a href="/id/organisation/societe-numerique">Société Numérique</a>' in page.text
    assert "1 result for “societe”" in page.text
    data = tiny_client.get("/search.json?q=open&type=organisation").get_json()
    assert data["total"] == 1 and data["results"][0]["label"] == "Open Lab"
    assert data["results"][0]["url"].endswith("/id/organisation/open-lab")
    assert tiny_client.get("/search.json?q=x&type=spaceship").status_code == 400
    assert tiny_client.get("/search?q=" + "a" * 500).status_code == 400
    empty = tiny_client.get("/search")
    assert empty.status_code == 200 and "result" not in empty.text.split("<main", 1)[1]


def test_script_in_a_label_renders_as_text(tiny_client, tiny_kb):
    tiny_kb.update("INSERT DATA { GRAPH <%sgraph/curated> { <%sid/organisation/evil> a dsi:Organisation ; "
                   "rdfs:label \"<script>alert('x')</script> Evil\" } }" % (B, B))
    html = tiny_client.get("/search?q=evil").text
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Evil" in html


def test_real_data_accent_folding(client, built_kb):
    """"liberte living" finds "Liberté Living-Lab"; hidden (spam) entries never show up."""
    rows = built_kb.select("SELECT ?s ?l WHERE { ?s a dsi:Organisation ; rdfs:label ?l "
                           "FILTER(CONTAINS(?l, 'é')) FILTER NOT EXISTS { ?s dsi:hidden true } } ORDER BY ?s LIMIT 1")
    iri, label = rows[0]["s"].value, rows[0]["l"].value
    import unicodedata

    folded = "".join(c for c in unicodedata.normalize("NFD", label) if not unicodedata.combining(c)).lower()
    data = client.get("/search.json", query_string={"q": folded, "type": "organisation"}).get_json()
    assert iri in [r["id"] for r in data["results"][:3]]
    hidden = {r["s"].value for r in built_kb.select("SELECT ?s WHERE { ?s dsi:hidden true }")}
    for word in ("test", "viagra", "casino", "loan", "essay"):
        found = client.get("/search.json", query_string={"q": word, "per_page": 100}).get_json()
        assert not hidden & {r["id"] for r in found["results"]}


# -- issue 13: search that forgives -----------------------------------------------------------------
def _ids(client, q, **params):
    data = client.get("/search.json", query_string={"q": q, "per_page": 100, **params}).get_json()
    ids = [r["id"] for r in data["results"]]
    for page in range(2, data["pages"] + 1):
        ids += [r["id"] for r in client.get("/search.json", query_string={"q": q, "per_page": 100, "page": page,
                                                                           **params}).get_json()["results"]]
    return data, ids


def test_fairfone_suggests_and_finds_fairphone(client):
    import html as html_lib

    data = client.get("/search.json?q=Fairfone").get_json()
    assert data["suggestion"] == "fairphone" and data["corrected"] is True
    assert {r["label"] for r in data["results"]} == {"Fairphone"} and data["total"] >= 1
    page = client.get("/search?q=Fairfone").text
    assert "Showing results for" in page and '<strong>fairphone</strong>' in page
    assert '<a href="/id/organisation/fairphone">Fairphone</a>' in page
    # the words alone, on request: nothing, and the suggestion as a link
    only = client.get("/search?q=Fairfone&exact=1").text
    assert "0 results for “Fairfone”" in only and "Did you mean" in only
    assert html_lib.escape("/search?q=fairphone") in only
    # a word the index knows well gets no suggestion
    assert client.get("/search.json?q=fairphone").get_json()["suggestion"] is None


def test_fab_lab_and_fablab_find_the_same_things(client):
    spaced, a = _ids(client, "fab lab")
    joined, b = _ids(client, "fablab")
    assert spaced["total"] == joined["total"] > 20
    assert set(a) == set(b)
    labels = {r["label"] for r in spaced["results"]}
    assert any("Fab Lab" in label for label in labels) and any("FabLab" in label or "Fablab" in label for label in labels)
    assert set(_ids(client, "Fab-Lab")[1]) == set(a)


def test_results_show_place_and_snippet(client):
    data = client.get("/search.json?q=fairphone&type=organisation").get_json()
    assert data["results"][0]["place"] == "Amsterdam, Netherlands"
    page = client.get("/search?q=waag").text
    assert "<mark>Waag</mark>" in page  # the FTS5 snippet, matched words marked
    assert '<span class="place">Amsterdam, Netherlands</span>' in page


def test_type_menu_offers_only_types_that_exist(client, tiny_client):
    import re

    def options(html):
        menu = html.split('<select id="search-type"', 1)[1].split("</select>", 1)[0]
        return re.findall(r'<option value="([^"]*)"', menu)

    data = client.get("/search.json?q=fab lab").get_json()
    assert options(client.get("/search?q=fab+lab").text) == [""] + [t for t in
                                                                   ("organisation", "project", "activity", "event", "person", "place")
                                                                   if t in data["types"]]
    assert set(data["types"]) == {"organisation", "project"}
    assert "event" not in options(client.get("/search").text)  # the real data has no events
    assert "person" not in options(tiny_client.get("/search?q=open").text)


def test_suggestions_follow_the_store(kb_copy):
    from kb.index.search import find

    assert find(kb_copy, "zebrafsh").suggestion is None
    kb_copy.update("INSERT DATA { GRAPH <%sgraph/curated> { <%sid/organisation/zz-fish> a dsi:Organisation ; "
                   "rdfs:label \"Zebrafish Commons\" } }" % (kb_copy.names.base, kb_copy.names.base))
    found = find(kb_copy, "zebrafsh")
    assert found.suggestion == "zebrafish" and found.corrected and found.hits[0].iri.endswith("/zz-fish")


def test_search_parameters_answer_200_or_4xx(client):
    from hypothesis import HealthCheck, given, settings, strategies as st

    words = st.sampled_from(["fab lab", "fablab", "Fairfone", "open data", "société", "", " ", "\"", "*", "a",
                             "x" * 201, "NEAR(", "fab*lab", "zz", "3d printing"]) | st.text(max_size=30)

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(q=words, type_=st.none() | st.sampled_from(["organisation", "project", "place", "event", "spaceship", ""]),
           exact=st.none() | st.sampled_from(["1", "true", "0", "x"]), page=st.none() | st.integers(-1, 4),
           as_json=st.booleans())
    def check(q, type_, exact, page, as_json):
        params = {"q": q, "type": type_, "exact": exact, "page": page}
        r = client.get("/search.json" if as_json else "/search",
                       query_string={k: str(v) for k, v in params.items() if v is not None})
        assert r.status_code == 200 or 400 <= r.status_code < 500, (params, r.status_code)

    check()
