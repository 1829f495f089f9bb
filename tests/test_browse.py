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
    browse.warm(kb_copy)
    assert search._stored_generation(path) == search._stamp(kb_copy)
    generation, tables = browse._cache[kb_copy]
    assert generation == kb_copy.generation and set(tables) == set(browse.BROWSE_TYPES)
