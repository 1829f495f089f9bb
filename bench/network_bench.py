"""First paint of ``/network`` in headless Chromium, with 5,000 synthetic organisations.

Run by hand (not part of the test suite)::

    .venv/bin/python bench/network_bench.py [--organisations 5000] [--runs 7]

Builds a store in bench/out/network-{N}/ with the ontology and taxonomies and the first N
organisations of bench/synth.py (each with a project shared with an earlier one, so all are linked),
runs what an import runs next (kb.derive.derive, which computes the network figures), serves the app
on 127.0.0.1 and opens /network in a fresh Chromium context (empty cache) ``--runs`` times. The
figure is the page's own ``data-paint-ms``: ``performance.now()`` when sigma.js has drawn its first
frame, i.e. milliseconds from the start of navigation (HTML, script, /network.json, drawing). The
server's network is warm (computed by derive, as on a running server after the first request); the
cold computation is reported apart.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.settings import Settings  # noqa: E402
from kb.store import KB  # noqa: E402

OUT = ROOT / "bench" / "out"


def synthetic_file(organisations: int, path: Path) -> int:
    """The triples of bench/synth.py up to (not including) organisation ``organisations + 1``."""
    sys.path.insert(0, str(ROOT / "bench"))
    import synth

    stop = f"<{synth.ID}organisation/synth-org-{organisations + 1}>"
    written = 0
    with open(path, "w", encoding="utf-8") as fh:
        for s, p, o in synth.triples(10 ** 9):
            if s == stop:
                break
            fh.write(f"{s} {p} {o} .\n")
            written += 1
    return written


def build(store: Path, organisations: int) -> KB:
    from kb.build.derive import derive
    from kb.build.init import bundled_graphs, parse_files

    shutil.rmtree(store, ignore_errors=True)
    store.with_name(store.name + ".state.json").unlink(missing_ok=True)
    settings = Settings.from_env(environ={}, store=str(store))
    kb = KB.open(settings)
    for graph, files in bundled_graphs(kb).items():
        if files:
            kb.replace_graph(graph, parse_files(files, settings.base_uri))
    nt = store.with_suffix(".nt")
    n = synthetic_file(organisations, nt)
    kb.load_file(nt, graph=kb.graphs.source("synthetic"))
    t0 = time.perf_counter()
    derive(kb)
    print(f"{n:,} synthetic triples; derive (with the network figures) {time.perf_counter() - t0:.1f} s",
          flush=True)
    kb.flush()
    return kb


def first_paints(url: str, runs: int) -> list[dict]:
    from playwright.sync_api import sync_playwright

    from tests.support import CHROMIUM, CHROMIUM_FLAGS

    out = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            for _ in range(runs):
                context = browser.new_context(viewport={"width": 1200, "height": 900})  # empty cache
                page = context.new_page()
                page.goto(url + "/network")
                page.wait_for_selector("#network-graph[data-drawn]", timeout=60_000)
                out.append(page.eval_on_selector("#network-graph", "e => ({...e.dataset})"))
                context.close()
        finally:
            browser.close()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--organisations", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    kb = build(OUT / f"network-{args.organisations}" / "store", args.organisations)

    from kb.publish import network
    from tests.support import live_server, make_app

    t0 = time.perf_counter()
    net = network.compute(kb)  # not cached: compute() only computes
    cold = time.perf_counter() - t0
    print(f"network: {net.graph.number_of_nodes():,} organisations, {net.graph.number_of_edges():,} links, "
          f"{len(net.communities)} communities; computed cold in {cold:.2f} s", flush=True)
    t0 = time.perf_counter()
    network.network(kb)  # as derive left it: no recomputation
    print(f"network of the current generation (cached by derive): {(time.perf_counter() - t0) * 1000:.0f} ms")
    app = make_app(kb)
    client = app.test_client()
    t0 = time.perf_counter()
    size = len(client.get("/network.json").data)
    print(f"/network.json (warm): {(time.perf_counter() - t0) * 1000:.0f} ms, {size / 1024:.0f} KiB", flush=True)
    with live_server(app) as url:
        results = first_paints(url, args.runs)
    paints = [int(r["paintMs"]) for r in results]
    loads = [int(r["loadMs"]) for r in results]
    print(f"nodes drawn: {results[0]['nodes']}, edges: {results[0]['edges']}")
    print(f"first paint ms, each run: {paints}")
    print(f"first paint median: {statistics.median(paints):.0f} ms (fetch + draw median "
          f"{statistics.median(loads):.0f} ms); target < 2000 ms: {'met' if statistics.median(paints) < 2000 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
