"""Legacy identifiers resolve over HTTP (issue 12): the 2013 site's /id/organization/{uuid} and
/id/activity/{uuid} answer 301 to the entity carrying that owl:sameAs; unknown ones 404 with a page that
says so; /search finds an entity by a legacy identifier, its UUID or a DSI4EU identifier."""

from __future__ import annotations

import csv

import pytest

from tests.conftest import SOURCES

WAAG = "ba71764f-aa4e-fc08-d79b-f6ee1921c8fb"  # Waag Society in dsi2013_swirrl_export_orgs.csv
CASI = "713c4ec0-a2cd-395a-8559-18d6e56ebf7f"  # a project (2013: activity)
HTML_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_the_uuids_are_the_real_ones():
    with open(SOURCES / "dsi2013_swirrl_export_orgs.csv", encoding="utf-8") as f:
        assert any(r["Organisation ID"] == WAAG and r["Name"] == "Waag Society" for r in csv.DictReader(f))


@pytest.mark.parametrize("path, target", [
    (f"/id/organization/{WAAG}", "/id/organisation/waag-society"),
    (f"/id/activity/{CASI}", "/id/project/casi"),
    (f"/id/organization/{WAAG.upper()}", "/id/organisation/waag-society"),
])
@pytest.mark.parametrize("accept", [HTML_ACCEPT, "text/turtle", None])
def test_2013_paths_answer_301_to_the_entity(client, path, target, accept):
    r = client.get(path, headers={"Accept": accept} if accept else {})
    assert r.status_code == 301 and r.headers["Location"] == target
    then = client.get(target, headers={"Accept": accept or "text/turtle"})
    assert then.status_code == 303  # and on by the usual content negotiation


def test_every_2013_organisation_link_resolves(client, built_kb):
    rows = built_kb.select("SELECT DISTINCT ?o WHERE { ?s owl:sameAs ?o FILTER(STRSTARTS(STR(?o), "
                           "'http://data.digitalsocial.eu/id/organization/')) } ORDER BY ?o LIMIT 200")
    assert len(rows) == 200
    for row in rows:
        r = client.get("/id/organization/" + row["o"].value.rsplit("/", 1)[-1])
        assert r.status_code == 301, row["o"].value


@pytest.mark.parametrize("path", ["/id/organization/00000000-0000-0000-0000-000000000000",
                                  "/id/activity/00000000-0000-0000-0000-000000000000",
                                  "/id/organization/not-a-uuid"])
def test_unknown_legacy_identifier_is_404_with_a_page(client, path):
    page = client.get(path, headers={"Accept": HTML_ACCEPT})
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "is not an identifier of the 2013 DSI site" in page.text and "/search" in page.text
    text = client.get(path, headers={"Accept": "text/turtle"})
    assert text.status_code == 404 and text.mimetype == "text/plain"


def test_a_current_activity_slug_still_works(tiny_client):
    assert tiny_client.get("/id/activity/not-there", headers={"Accept": "text/turtle"}).status_code == 404


@pytest.mark.parametrize("q, iri_end", [
    (WAAG, "/id/organisation/waag-society"),
    (f"http://data.digitalsocial.eu/id/organization/{WAAG}", "/id/organisation/waag-society"),
    (f"  {CASI} ", "/id/project/casi"),
])
def test_search_finds_an_entity_by_a_legacy_identifier(client, q, iri_end):
    r = client.get("/search.json", query_string={"q": q})
    assert r.status_code == 200
    hits = r.get_json()["results"]
    assert hits and hits[0]["id"].endswith(iri_end)
    html = client.get("/search", query_string={"q": q}).text
    assert iri_end.replace("/id/", "/page/", 1) in html or iri_end in html


def test_search_finds_a_dsi4eu_identifier(client, built_kb):
    row = built_kb.select("SELECT ?s ?i WHERE { ?s a dsi:Organisation ; dcterms:identifier ?i "
                          "FILTER(STRSTARTS(?i, 'dsi4eu:organisation:')) FILTER NOT EXISTS { ?s dsi:hidden true } "
                          "FILTER NOT EXISTS { ?s dsi:mergedInto ?x } } ORDER BY ?i LIMIT 1")[0]
    hits = client.get("/search.json", query_string={"q": row["i"].value}).get_json()["results"]
    assert hits and hits[0]["id"] == row["s"].value


def test_an_activity_whose_slug_looks_like_a_uuid_is_served(kb_copy):
    """A current entity wins over the 2013 reading of the same path."""
    from tests.support import make_app

    slug = "00000000-0000-0000-0000-00000000abcd"
    kb_copy.update(f"INSERT DATA {{ GRAPH <{kb_copy.graphs.curated}> {{ <{kb_copy.names.id_ns}activity/{slug}> "
                   f"a dsi:Activity ; rdfs:label \"An activity\" }} }}", touched=[kb_copy.names.id_ns + f"activity/{slug}"])
    r = make_app(kb_copy).test_client().get(f"/id/activity/{slug}", headers={"Accept": "text/turtle"})
    assert r.status_code == 303 and r.headers["Location"] == f"/data/activity/{slug}.ttl"
