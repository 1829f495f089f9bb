"""The per-generation memos keep a bounded amount, whatever the data's size (kb.store.generational.Budgeted).

They were bounded by a count of answers only: a client walking /map.json's filter combinations made the
process keep 256 answers of up to every organisation each (~30 MiB apiece at 1M statements: RssAnon
+125 MiB after 20 filtered maps). Each memo now also bounds the total size of what it keeps (features,
matching positions, nodes and edges), and the answers stay what they were.
"""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from kb.index import browse, mapdata
from kb.store.generational import Budgeted


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 6), st.integers(0, 30),
       st.lists(st.tuples(st.sampled_from("put get".split()), st.integers(0, 8), st.integers(0, 40)), max_size=80))
def test_budgeted_keeps_within_its_count_and_weight_most_recent_first(entries, limit, ops):
    memo = Budgeted(entries, limit, lambda v: v)
    model: list[tuple[int, int]] = []  # (key, weight), least recently used first
    for op, key, weight in ops:
        if op == "get":
            got = memo.get(key)
            kept = [w for k, w in model if k == key]
            assert got == (kept[0] if kept else None)
            if kept:
                model = [(k, w) for k, w in model if k != key] + [(key, kept[0])]
            continue
        memo.put(key, weight)
        model = [(k, w) for k, w in model if k != key]
        if weight <= limit:
            while model and (len(model) >= entries or sum(w for _, w in model) + weight > limit):
                model.pop(0)
            model.append((key, weight))
        assert len(memo) == len(model) <= entries
        assert memo.weight == sum(w for _, w in model) <= limit
        assert all(k in memo for k, _ in model)
    memo.clear()
    assert len(memo) == 0 and memo.weight == 0 and memo.get(0) is None


def _filters(kb, kind: str) -> list[dict[str, list[str]]]:
    listing = browse.listing(kb, kind, per_page=1)
    return [{f["key"]: [v["slug"]]} for f in listing.facets for v in f["values"]]


def test_a_walk_over_map_filters_keeps_at_most_the_feature_budget(built_kb, monkeypatch):
    kb = built_kb
    loc = mapdata.spots(kb)
    loc.memo.clear()
    cases = [{}] + _filters(kb, "organisation")
    want = [mapdata.features(kb, "organisation", f) for f in cases]  # under the default budget
    whole = len(want[0].features)
    assert whole > 50 and len(cases) > 10 and any(0 < len(w.features) < whole for w in want[1:])
    budget = whole // 2
    monkeypatch.setattr(mapdata, "MEMO_FEATURES", budget)  # read by the memo at each answer kept
    loc.memo.clear()
    for _ in range(2):
        for filters, expected in zip(cases, want):
            got = mapdata.features(kb, "organisation", filters)
            assert (got.features, got.total, got.placed, got.how) == \
                (expected.features, expected.total, expected.placed, expected.how), filters
            assert loc.memo.weight <= budget
    assert mapdata._key("organisation", {}) not in loc.memo  # larger than the whole budget: not kept
    small = min((c for c, w in zip(cases, want) if 0 < len(w.features) <= budget // 4),
                key=lambda c: str(c))
    first = mapdata.features(kb, "organisation", small)
    assert mapdata.features(kb, "organisation", small) is first  # kept: the second ask is the memo's


def test_map_json_answers_the_same_under_a_small_budget(client, built_kb, monkeypatch):
    kb = built_kb
    paths = ["/map.json?show=organisation", "/map.json?show=project"] + [
        "/map.json?show=organisation&" + "&".join(f"{k}={v}" for k, vs in f.items() for v in vs)
        for f in _filters(kb, "organisation")[:8]]
    want = [client.get(p).get_json() for p in paths]
    assert all(w["features"] is not None for w in want)
    monkeypatch.setattr(mapdata, "MEMO_FEATURES", 10)
    mapdata.spots(kb).memo.clear()
    for path, expected in zip(paths * 2, want * 2):
        response = client.get(path)
        assert response.status_code == 200 and response.get_json() == expected, path
    assert mapdata.spots(kb).memo.weight <= 10


def test_filtered_lists_keep_at_most_the_position_budget(built_kb, monkeypatch):
    kb = built_kb
    cases = _filters(kb, "organisation") + _filters(kb, "project")
    sorts = ("name", "-added")
    want = []  # (kind, filters, sort, what the page shows)
    for kind in ("organisation", "project"):
        for f in [{}] + _filters(kb, kind):
            for sort in sorts:
                listing = browse.listing(kb, kind, filters=f, sort=sort, per_page=20)
                want.append((kind, f, sort, ([r.iri for r in listing.rows], listing.total, listing.facets)))
    assert len(cases) > 10
    monkeypatch.setattr(browse, "FILTERED_POSITIONS", 1000)
    for kind in ("organisation", "project"):
        browse.table(kb, kind).memo["filtered"].clear()
    for _ in range(2):
        for kind, f, sort, expected in want:
            listing = browse.listing(kb, kind, filters=f, sort=sort, per_page=20)
            assert ([r.iri for r in listing.rows], listing.total, listing.facets) == expected, (kind, f, sort)
    for kind in ("organisation", "project"):
        kept = browse.table(kb, kind).memo["filtered"]
        assert 0 < len(kept) and kept.weight <= 1000


def test_network_views_keep_at_most_the_item_budget(built_kb, monkeypatch):
    from kb.publish import network

    kb = built_kb
    net = network.network(kb)
    first = network.view(kb, net=net)
    cases = [{}] + [{f["key"]: [v["value"]]} for f in first["facets"] for v in f["values"][:4]]
    want = [network.view(kb, f, net=net) for f in cases]
    whole = len(want[0]["nodes"]) + len(want[0]["edges"])
    assert whole > 20
    monkeypatch.setattr(network, "MEMO_ITEMS", whole // 2)
    net.memo.clear()
    for filters, expected in zip(cases * 2, want * 2):
        got = network.view(kb, filters, net=net)
        assert {k: v for k, v in got.items() if k != "generation"} == \
            {k: v for k, v in expected.items() if k != "generation"}, filters
        assert net.memo["views"].weight <= whole // 2


def test_an_older_generations_tables_and_map_are_freed_after_a_write(kb_copy):
    """The map's columns live with the browse tables they were built from: once a write made newer
    ones, nothing keeps the older ones (a dict keyed by the table did: the Spots refer to it)."""
    import gc
    import weakref

    kb = kb_copy
    assert mapdata.features(kb, "organisation").size > 50
    old_table = weakref.ref(browse.tables(kb)["organisation"])
    old_spots = weakref.ref(mapdata.spots(kb))
    old_files = [weakref.ref(browse.tables(kb)["organisation"].iris._file),  # the mapped columns
                 weakref.ref(mapdata.spots(kb).partners.ids._file)]
    kb.update(f"INSERT DATA {{ GRAPH <{kb.graphs.curated}> {{ <https://w3id.org/dsi/id/organisation/freed> "
              f"a <{kb.names.dsi('Organisation')}> }} }}")  # the test's own constants: a new generation
    newer = mapdata.features(kb, "organisation")
    assert "https://w3id.org/dsi/id/organisation/freed" in browse.tables(kb)["organisation"].iris and newer.size > 50
    gc.collect()
    assert old_table() is None and old_spots() is None
    assert all(f() is None for f in old_files)  # unmapped: their files (unlinked) are gone with them
