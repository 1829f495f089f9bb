"""The map, place and concept pages and the search index's places read the browse tables' columns and indexes:
they give what the code that made every Row (``table().rows``) gave, on the hand-made store and on
the real data, and never touch ``Table.rows`` (it raises while they run). Place lists are checked
against SPARQL over the store too, and the value-to-positions index against a plain scan.
"""

from __future__ import annotations

import pyoxigraph as ox
import pytest
from hypothesis import given, settings, strategies as st

from kb.index import browse, mapdata, search
from kb.index.browse_table import Multi, Table, positions_of

NOWHERE = "https://w3id.org/dsi/id/place/nowhere-at-all"


@pytest.fixture(params=["tiny", "real"])
def kb(request):
    return request.getfixturevalue("tiny_kb" if request.param == "tiny" else "built_kb")


def _refuse(self):
    raise AssertionError(f"table({self.type!r}).rows made every Row")


def _row_view(rows) -> list[list]:
    return [[r.iri, r.label, r.place, r.description, r.hidden] for r in rows]


# -- the Row-based code as it was -----------------------------------------------------------------
def _by_place(kb) -> dict:
    """type -> place IRI -> its Rows, and org IRI -> the project Rows naming it as a partner (one
    pass over the Rows: the scan of every Row per place, as before, costs seconds on the real data)."""
    out: dict = {"partner": {}}
    for type_ in ("organisation", "project"):
        by = out.setdefault(type_, {})
        for r in browse.table(kb, type_).rows:
            for place in r.places:
                by.setdefault(place, []).append(r)
            if type_ == "project":
                for org in r.related:
                    out["partner"].setdefault(org, []).append(r)
    return out


def rows_at_place(by_place: dict, place: str, include_hidden: bool):
    orgs = [r for r in by_place["organisation"].get(place, ()) if include_hidden or not r.hidden]
    is_country = any(place in r.values.get("country", ()) for r in orgs)
    here = set() if is_country else {r.iri for r in orgs}
    found = {id(r): r for r in by_place["project"].get(place, ())}
    found.update((id(r), r) for org in here for r in by_place["partner"].get(org, ()))
    projects = [r for r in sorted(found.values(), key=lambda r: (r.label.casefold(), r.iri))
                if include_hidden or not r.hidden]
    page_says_country = any(place in r.values.get("country", ()) for r in orgs + projects)  # endpoint/pages.py
    return page_says_country, {"organisation": _row_view(orgs), "project": _row_view(projects)}


def by_iri(kb) -> tuple[dict, dict, dict]:
    """The map's placement as the map kept it before its columns, by IRI (the reference): own
    points, a project's partners (any role), an entity's countries."""
    d = kb.names.dsi
    partners: dict[str, set[str]] = {}
    countries: dict[str, set[str]] = {}
    for prop in mapdata.PARTNER_PROPS:
        for org, project in mapdata._pairs(kb, d(prop)):
            if isinstance(project, ox.NamedNode):
                partners.setdefault(project.value, set()).add(org)
    for s, o in mapdata._pairs(kb, d("country")):
        if isinstance(o, ox.NamedNode):
            countries.setdefault(s, set()).add(o.value)
    return mapdata.own_points(kb), partners, countries


def spots_by_iri(reference, loc, iri: str, kind: str, orgs: dict[str, str] | None) -> list[tuple]:
    """(lat, long, how, at) of one entity from the by-IRI reference: own, else partners', else countries'."""
    points, partners, countries = reference
    own = points.get(iri)
    if own is not None:
        return [(own.real, own.imag, "own", None)]
    if kind != "project":
        return []
    found = [(points[o].real, points[o].imag, "partner", orgs[o]) for o in sorted(partners.get(iri, ()))
             if o in orgs and o in points]
    if found:
        return found
    return [(*loc.places[c], "country", loc.labels.get(c, c.rsplit("/", 1)[-1]))
            for c in sorted(countries.get(iri, ())) if c in loc.places]


def rows_map(kb, kind: str, filters: dict) -> tuple[list[dict], dict]:
    loc, reference = mapdata.located(kb), by_iri(kb)
    summary = browse.listing(kb, kind, filters=filters, per_page=1)
    rows = [r for r in browse.table(kb, kind).rows if not r.hidden]
    for key, slugs in summary.selected.items():
        rows = [r for r in rows if set(slugs) <= r.slugs.get(key, set())]
    orgs = {r.iri: r.label for r in browse.table(kb, "organisation").rows if not r.hidden}
    out, how = [], {"own": 0, "partner": 0, "country": 0}
    for row in rows:
        spots = spots_by_iri(reference, loc, row.iri, kind, orgs if kind == "project" else None)
        if spots:
            how[spots[0][2]] += 1
        for lat, lon, placed, at in spots:
            props = {"id": row.iri, "name": row.label, "type": kind, "placed": placed}
            if at:
                props["at"] = at
            out.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
                        "properties": props})
    return out, how


def rows_filed_under(kb) -> dict[str, list]:
    """concept -> (type, facet key, visible Rows whose facet values hold it), as concept pages list them."""
    found: dict = {}
    for type_, facets in browse.FACETS.items():
        for facet in facets:
            for r in browse.table(kb, type_).rows:
                for v in r.values.get(facet.key, ()):
                    found.setdefault(v, {}).setdefault((type_, facet.key, facet.via_projects), []).append(r)
    return {concept: [(t, k, _row_view(shown)) for (t, k, via), rows in lists.items()
                      if not via and (shown := [r for r in rows if not r.hidden])]
            for concept, lists in found.items()}


def rows_search_places(kb) -> dict[str, str]:
    return {r.iri: r.place for t in ("organisation", "project") for r in browse.table(kb, t).rows if r.place}


def _places_to_try(kb) -> list[str]:
    tabs = browse.tables(kb)
    countries = {v for t in ("organisation", "project") for v in tabs[t].bits.get("country", {})}
    return sorted(set(tabs["place"].iris) | countries) + [NOWHERE]


def _map_cases(kb) -> list[tuple[str, dict]]:
    cases = []
    for kind in mapdata.KINDS:
        cases.append((kind, {}))
        facets = browse.listing(kb, kind, per_page=1).facets
        for facet in facets:
            for value in facet["values"][:2]:
                cases.append((kind, {facet["key"]: [value["slug"]]}))
        if len(facets) > 1 and facets[0]["values"] and facets[1]["values"]:
            cases.append((kind, {facets[0]["key"]: [facets[0]["values"][0]["slug"]],
                                 facets[1]["key"]: [facets[1]["values"][0]["slug"]]}))
    return cases


def test_place_lists_map_and_search_places_are_what_the_rows_gave(kb, monkeypatch):
    places = _places_to_try(kb)
    cases = _map_cases(kb)
    by_place = _by_place(kb)
    want_places = {(p, h): rows_at_place(by_place, p, h) for p in places for h in (False, True)}
    want_map = [rows_map(kb, kind, filters) for kind, filters in cases]
    want_search = rows_search_places(kb)
    want_concepts = rows_filed_under(kb)
    assert any(lists["organisation"] for _, lists in want_places.values())  # the comparison means something
    assert want_search and any(features for features, _ in want_map)
    for tab in browse.tables(kb).values():  # from the columns only: no Row made before, none kept
        tab._rows = None
        tab._recent.clear()
    mapdata.spots(kb).memo.clear()
    monkeypatch.setattr(Table, "rows", property(_refuse))
    for (place, hidden), (country, lists) in want_places.items():
        found = browse.at_place(kb, place, include_hidden=hidden)
        assert found.is_country == country, place
        assert {t: _row_view(rows) for t, rows in found.items()} == lists, (place, hidden)
        for t, rows in found.items():  # what the page reads: a count and the first names
            assert len(rows) == len(lists[t]) and _row_view(rows[:3]) == lists[t][:3]
    for (kind, filters), (features, how) in zip(cases, want_map):
        got = mapdata.features(kb, kind, filters)
        assert (got.features, got.how) == (features, how), (kind, filters)
    assert search._place_of(kb) == want_search
    for concept, lists in want_concepts.items():
        assert [(t, f.key, _row_view(rows)) for t, f, rows in browse.filed_under(kb, concept)] == lists, concept


PLACE_MEMBERS = """
SELECT DISTINCT ?e ?place ?class WHERE {
  VALUES ?located { dsi:city dsi:country dsi:partnerCountry }
  ?e a ?class ; ?located ?place .
  FILTER NOT EXISTS { ?e dsi:hidden true }
  FILTER NOT EXISTS { ?e dsi:mergedInto ?survivor }
  FILTER NOT EXISTS { ?e dsi:withdrawn ?when }
}"""


@pytest.mark.parametrize("slug", ["netherlands", "amsterdam-netherlands", "spain"])
def test_place_lists_hold_who_the_store_says_is_there(built_kb, slug, monkeypatch):
    import pyoxigraph as ox

    place = f"https://w3id.org/dsi/id/place/{slug}"
    monkeypatch.setattr(Table, "rows", property(_refuse))
    found = browse.at_place(built_kb, place)
    org = {r["e"].value for r in built_kb.select(PLACE_MEMBERS, bind={
        "place": ox.NamedNode(place), "class": ox.NamedNode(built_kb.names.dsi("Organisation"))})}
    assert org and set(found["organisation"].iris) == org
    projects = set(found["project"].iris)
    stated = {r["e"].value for r in built_kb.select(PLACE_MEMBERS, bind={
        "place": ox.NamedNode(place), "class": ox.NamedNode(built_kb.names.dsi("Project"))})}
    assert stated <= projects  # and, for a city, the projects of organisations there
    tab = browse.table(built_kb, "organisation")
    names = [tab.labels[p].casefold() for p in found["organisation"].positions]
    assert names == sorted(names)


def test_pages_map_and_search_answer_without_making_every_row(app, built_kb, monkeypatch):
    client = app.test_client()
    for tab in browse.tables(built_kb).values():
        tab._rows = None
        tab._recent.clear()
    mapdata.spots(built_kb).memo.clear()
    monkeypatch.setattr(Table, "rows", property(_refuse))
    page = client.get("/page/place/netherlands")
    assert page.status_code == 200 and "Organisations in Netherlands" in page.text and "Fairphone" in page.text
    assert client.get("/page/place/amsterdam-netherlands").status_code == 200
    body = client.get("/map.json?show=project").get_json()
    assert body["features"]
    hits = client.get("/search.json?q=fairphone")
    assert hits.status_code == 200, hits.text[:300]
    assert "Netherlands" in hits.text


def rows_network(kb, net, filters: dict) -> tuple[list[str], dict]:
    """The /network view's organisations and facet counts as the Row-based code gave them."""
    rows = {r.iri: r for r in browse.table(kb, "organisation").rows}
    shown = [iri for iri in net.graph if iri in rows
             and all(set(vs) <= rows[iri].slugs.get(k, set()) for k, vs in filters.items())]
    counts: dict = {}
    for iri in shown:
        for k, vs in rows[iri].values.items():
            for v in vs:
                counts.setdefault(k, {})[v] = counts.setdefault(k, {}).get(v, 0) + 1
    return shown, counts


def test_the_network_view_is_what_the_rows_gave(built_kb, monkeypatch):
    """/network's filtered views and facet counts read the organisation list's columns, not a Row per
    organisation (every organisation's Row, kept per generation: 122 MiB at 1M)."""
    from kb.publish import network

    kb = built_kb
    net = network.network(kb)
    first = network.view(kb, net=net)
    cases = [{}] + [{f["key"]: [v["value"]]} for f in first["facets"] for v in f["values"][:3]]
    two = [f for f in first["facets"] if f["values"]][:2]
    cases.append({f["key"]: [f["values"][0]["value"]] for f in two})  # two facets at once
    cases.append({two[0]["key"]: [v["value"] for v in two[0]["values"][:2]]})  # two values of one
    want = [rows_network(kb, net, filters) for filters in cases]
    assert any(0 < len(shown) < len(want[0][0]) for shown, _ in want[1:])  # filters narrow
    net.memo.clear()
    for tab in browse.tables(kb).values():
        tab._rows = None
        tab._recent.clear()
    monkeypatch.setattr(Table, "rows", property(_refuse))
    for filters, (shown, counts) in zip(cases, want):
        got = network.view(kb, filters, net=net)
        assert [n["id"] for n in got["nodes"]] == shown, filters
        assert {f["key"]: {v["id"]: v["count"] for v in f["values"]} for f in got["facets"] if f["values"]} == \
            {k: c for k, c in counts.items() if c and k in {f["key"] for f in got["facets"]}}, filters


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 19), st.integers(0, 9)), max_size=60))
def test_the_value_index_is_a_scan_turned_around(pairs):
    multi = Multi(20, pairs)
    index = multi.transposed(10)
    for v in range(10):
        assert list(index.get(v)) == sorted({p for p, w in pairs if w == v})
    bits = sum(1 << p for p in {p for p, _ in pairs})
    assert list(positions_of(bits)) == sorted({p for p, _ in pairs})
