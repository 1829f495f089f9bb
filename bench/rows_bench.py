"""The map's points, a place page's lists, the search index's places and the /network page's views: made from every browse Row
(``table().rows``, as before) or from the tables' columns and indexes (as now), side by side.

Run by hand (not part of the test suite), on a store built by bench/scale.py (open read-only; copy it
first if another process holds it)::

    .venv/bin/python bench/rows_bench.py --store /tmp/browse-scale/store-1000000 [--runs 3]

Each run starts one process per way ("rows", then "columns"), which opens the store, builds the browse
tables and the map's coordinates (both ways need them: not measured), then measures each feature from
cold: the Rows, the Rows kept for pages and the indexes and memos of these features dropped first.
Per feature: CPU seconds, wall seconds, the peak RSS above what the process held before (MiB, the
kernel's high-water mark reset first) and what stays held after (the Rows are kept per generation).
Medians over the runs, and the ratio rows/columns. Both ways must give the same answer (a digest of
each is compared), else the script says so and exits 1.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import hashlib
import json
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.index import browse, mapdata, search  # noqa: E402
from kb.settings import Settings  # noqa: E402
from kb.store import KB  # noqa: E402
from tests.test_rows_free import by_iri, spots_by_iri  # noqa: E402  (the map by IRI, as before its columns)

FEATURES = ("map organisations", "map projects", "place page (largest)", "place page (smallest)", "search places",
            "network views")
INDEX_KEYS = ("place-texts", ("by-related",), ("hidden-positions",))  # and ("by-value", prop), ("network-positions", g)
LIST_CAP = 500  # as endpoint/pages.py


# -- the Row-based code as it was (kb/index/{mapdata,browse,search}.py before) ----------------------
def rows_map(kb, kind: str) -> list[dict]:
    loc, reference = mapdata.located(kb), by_iri(kb)
    summary = browse.listing(kb, kind, per_page=1)
    rows = [r for r in browse.table(kb, kind).rows if not r.hidden]
    for facet_key, slugs in summary.selected.items():
        rows = [r for r in rows if set(slugs) <= r.slugs.get(facet_key, set())]
    orgs = {r.iri: r.label for r in browse.table(kb, "organisation").rows if not r.hidden} if kind == "project" else None
    out = []
    for row in rows:
        for lat, lon, placed, at in spots_by_iri(reference, loc, row.iri, kind, orgs):
            props = {"id": row.iri, "name": row.label, "type": kind, "placed": placed}
            if at:
                props["at"] = at
            out.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": props})
    return out


def rows_place(kb, place: str):
    tabs = browse.tables(kb)
    orgs = [r for r in tabs["organisation"].rows if place in r.places and not r.hidden]
    is_country = any(place in r.values.get("country", ()) for r in orgs)
    here = set() if is_country else {r.iri for r in orgs}
    projects = [r for r in tabs["project"].rows if not r.hidden and (place in r.places or r.related & here)]
    found = {"organisation": orgs, "project": projects}
    is_country = any(place in r.values.get("country", ()) for r in orgs + projects)
    return _place_view(found, is_country)


def rows_search_places(kb) -> dict[str, str]:
    return {r.iri: r.place for t in ("organisation", "project") for r in browse.table(kb, t).rows if r.place}


def rows_network(kb, net, filters: dict) -> dict:
    """/network's view as kb/publish/network.py made it before (every organisation's Row, kept per
    network)."""
    facets = browse.FACETS["organisation"]
    keys = [f.key for f in facets]
    tab = browse.table(kb, "organisation")
    rows = net.memo.get("rows")
    if rows is None:
        rows = net.memo["rows"] = {r.iri: r for r in tab.rows}
    shown = [iri for iri in net.graph if iri in rows
             and all(set(vs) <= rows[iri].slugs.get(k, set()) for k, vs in filters.items())]
    index = {iri: i for i, iri in enumerate(shown)}
    edges = [[index[a], index[b], d["weight"], int(d["funding"])] for a, b, d in net.graph.edges(data=True)
             if a in index and b in index]
    counts: dict[str, dict[str, int]] = {k: {} for k in keys}
    for iri in shown:
        for k in keys:
            for v in rows[iri].values.get(k, ()):
                counts[k][v] = counts[k].get(v, 0) + 1
    return _network_view(shown, edges, counts, filters)


# -- the column-based code (now) ------------------------------------------------------------------
def columns_map(kb, kind: str) -> list[dict]:
    return mapdata.features(kb, kind).features


def columns_place(kb, place: str):
    found = browse.at_place(kb, place)
    return _place_view(found, found.is_country)


def columns_network(kb, net, filters: dict) -> dict:
    from kb.publish import network

    got = network.view(kb, filters, net=net)
    return _network_view([n["id"] for n in got["nodes"]], got["edges"],
                         {f["key"]: {v["id"]: v["count"] for v in f["values"]} for f in got["facets"]}, filters)


def _network_view(shown, edges, counts, filters) -> dict:
    return {"filters": filters, "nodes": shown, "edges": edges,
            "counts": {k: sorted(c.items()) for k, c in counts.items() if c}}


def _place_view(found, is_country: bool):
    return is_country, {t: [len(rows), [[r.iri, r.label, r.place] for r in rows[:LIST_CAP]]] for t, rows in found.items() if rows}


WAYS = {"rows": (rows_map, rows_place, rows_search_places, rows_network),
        "columns": (columns_map, columns_place, search._place_of, columns_network)}


def _status() -> dict[str, float]:
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def _cold(kb, net=None) -> None:
    """Forget every Row and what these features keep, so the next one starts from the tables."""
    for tab in browse.tables(kb).values():
        tab._rows = None
        tab._recent.clear()
        for key in list(tab.memo):
            if key in INDEX_KEYS or (isinstance(key, tuple) and key[0] in ("by-value", "network-positions")):
                del tab.memo[key]
    mapdata.spots(kb).memo.clear()
    if net is not None:
        net.memo.clear()  # the network's views (and, the Row way, its Rows)
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # give freed memory back, so RSS shows what a feature takes


def child(store: str, way: str) -> dict:
    kb = KB.open(Settings.from_env(environ={}, store=store), read_only=True)
    t = time.perf_counter()
    tabs = browse.tables(kb)
    mapdata.located(kb)
    mapdata.spots(kb)
    for kind in mapdata.KINDS:
        browse.listing(kb, kind, per_page=1)  # the memos /browse keeps anyway
    built = time.perf_counter() - t
    org = tabs["organisation"]
    sizes: dict[int, int] = {}  # place value id -> organisations there (city or country)
    for multi in org.located.values():
        for v in multi.ids:
            sizes[v] = sizes.get(v, 0) + 1
    ranked = sorted(sizes, key=lambda v: (-sizes[v], org.shared.values[v]))
    largest, smallest = org.shared.values[ranked[0]], org.shared.values[ranked[-1]]
    map_of, place_of, places_of, network_of = WAYS[way]
    from kb.publish import network

    net = network.compute(kb)  # (not measured: both ways need it)
    views = [{}, {"country": ["spain"]}, {"technology": ["open-data"]}]  # unfiltered, two filters (bench/synth.py)
    calls = {"map organisations": lambda: map_of(kb, "organisation"), "map projects": lambda: map_of(kb, "project"),
             "place page (largest)": lambda: place_of(kb, largest), "place page (smallest)": lambda: place_of(kb, smallest),
             "search places": lambda: sorted(places_of(kb).items()),
             "network views": lambda: [network_of(kb, net, f) for f in views]}
    out = {"way": way, "tables_s": round(built, 2), "organisations": len(org), "projects": len(tabs["project"]),
           "largest": f"{largest} ({sizes[ranked[0]]})", "smallest": f"{smallest} ({sizes[ranked[-1]]})", "features": {}}
    for name in FEATURES:
        _cold(kb, net)
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak RSS
        before = _status()
        t, c = time.perf_counter(), time.process_time()
        answer = calls[name]()
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        after = _status()
        digest = hashlib.sha256(json.dumps(answer, sort_keys=True, default=str).encode()).hexdigest()[:16]
        del answer
        _cold(kb, net)  # again, under tracemalloc: the Python heap the feature takes at its peak and keeps
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        answer = calls[name]()
        del answer
        kept, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out["features"][name] = {"cpu_s": round(cpu, 3), "wall_s": round(wall, 3),
                                 "peak_mib": round(after["VmHWM"] - before["VmRSS"], 1),
                                 "kept_mib": round(after["VmRSS"] - before["VmRSS"], 1),
                                 "heap_peak_mib": round((peak - base) / 2**20, 1),
                                 "heap_kept_mib": round((kept - base) / 2**20, 1), "digest": digest}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--way", choices=tuple(WAYS), help=argparse.SUPPRESS)  # one child process
    args = parser.parse_args()
    if args.way:
        print(json.dumps(child(args.store, args.way)))
        return 0
    results: dict[str, list[dict]] = {way: [] for way in WAYS}
    for run in range(args.runs):
        for way in WAYS:
            done = subprocess.run([sys.executable, __file__, "--store", args.store, "--way", way],
                                  check=True, capture_output=True, text=True)
            results[way].append(json.loads(done.stdout))
            print(f"run {run + 1} {way}: tables {results[way][-1]['tables_s']} s", file=sys.stderr)
    first = results["rows"][0]
    print(f"store {args.store}: {first['organisations']} organisations, {first['projects']} projects; "
          f"place pages (organisations there): {first['largest']}, {first['smallest']}; medians of {args.runs} runs")
    print("RSS: peak above the process's RSS before / RSS kept after; heap: the same, of the Python heap "
          "(tracemalloc, a second cold call)")
    print(f"{'feature':<22} {'CPU s rows':>10} {'columns':>8} {'ratio':>6} | {'RSS peak MiB rows':>17} {'columns':>7} "
          f"| {'RSS kept rows':>13} {'columns':>7} | {'heap peak rows':>14} {'columns':>7} | {'heap kept rows':>14} {'columns':>7}")
    same = True
    for name in FEATURES:
        med = {way: {k: statistics.median(r["features"][name][k] for r in results[way])
                     for k in ("cpu_s", "wall_s", "peak_mib", "kept_mib", "heap_peak_mib", "heap_kept_mib")}
               for way in WAYS}
        digests = {r["features"][name]["digest"] for way in WAYS for r in results[way]}
        same &= len(digests) == 1
        ratio = med["rows"]["cpu_s"] / max(med["columns"]["cpu_s"], 1e-3)
        r, c = med["rows"], med["columns"]
        print(f"{name:<22} {r['cpu_s']:>10.2f} {c['cpu_s']:>8.3f} {ratio:>5.0f}x | {r['peak_mib']:>17.1f} {c['peak_mib']:>7.1f} "
              f"| {r['kept_mib']:>13.1f} {c['kept_mib']:>7.1f} | {r['heap_peak_mib']:>14.1f} {c['heap_peak_mib']:>7.1f} "
              f"| {r['heap_kept_mib']:>14.1f} {c['heap_kept_mib']:>7.1f}" + ("" if len(digests) == 1 else "  ANSWERS DIFFER"))
    print("same answers both ways" if same else "ANSWERS DIFFER")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
