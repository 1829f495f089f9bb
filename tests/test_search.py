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
