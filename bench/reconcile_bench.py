"""Reconciliation latency: a batch of 10 queries over HTTP (Flask test client), median of N runs.

Side by side in one run: the warm in-memory index (what /reconcile does), the first batch after a
write (index rebuilt), and a naive baseline that asks the store one SPARQL label query per name.

    .venv/bin/python bench/reconcile_bench.py [--store DIR] [--runs 30]

Without --store, a store is built from the real DSI exports in a temporary folder first.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from endpoint import create_app  # noqa: E402
from kb import reconcile as rc  # noqa: E402
from kb.settings import Settings  # noqa: E402
from kb.store import KB  # noqa: E402

BATCH = {
    "q0": {"query": "Waag Society", "type": "organisation",
           "properties": [{"pid": "website", "v": "http://www.waag.org"}]},
    "q1": {"query": "nesta", "properties": [{"pid": "country", "v": "United Kingdom"}]},
    "q2": {"query": "Fab Lab Barcelona"},
    "q3": {"query": "OuiShare", "type": "organisation"},
    "q4": {"query": "Open Knowledge Foundation", "limit": 3},
    "q5": {"query": "OpenStreetMap", "type": "project"},
    "q6": {"query": "Manchester", "type": "place"},
    "q7": {"query": "University of Southampton"},
    "q8": {"query": "Citilab Cornella", "properties": [{"pid": "country", "v": "Spain"}]},
    "q9": {"query": "Smart Citizen Kit"},
}


def median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", help="a built store (default: build one from the real data)")
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    if args.store:
        settings = Settings.from_env(store=args.store)
    else:
        from kb.build.init import init

        tmp = tempfile.mkdtemp(prefix="dsikb-bench-")
        settings = Settings.from_env(store=str(Path(tmp) / "store"))
        t0 = time.perf_counter()
        init(settings)
        print(f"built a store from the real data in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    kb = KB.open(settings)
    app = create_app(settings, kb=kb)
    client = app.test_client()
    payload = {"queries": json.dumps(BATCH)}

    def batch():
        r = client.post("/reconcile", data=payload)
        assert r.status_code == 200, r.get_data(as_text=True)
        return r.get_json()

    first = batch()  # warms the index
    found = sum(1 for q in first.values() if q["result"])

    def cold():
        kb.bump()  # a write: the next batch rebuilds the index
        batch()

    def naive():
        for q in BATCH.values():
            name = q["query"].lower().replace('"', "")
            kb.select(f'SELECT ?e ?l WHERE {{ ?e rdfs:label ?l FILTER(CONTAINS(LCASE(STR(?l)), "{name}")) }} LIMIT 5')

    warm_ms = median_ms(batch, args.runs)
    cold_ms = median_ms(cold, max(3, args.runs // 5))
    naive_ms = median_ms(naive, max(3, args.runs // 5))
    entities = len(rc.index(kb).entities)
    print(f"entities indexed: {entities}; queries with candidates: {found}/10")
    print(f"batch of 10, warm index (HTTP, median of {args.runs}): {warm_ms:.1f} ms")
    print(f"batch of 10, first after a write (index rebuilt): {cold_ms:.1f} ms ({cold_ms / warm_ms:.1f}x)")
    print(f"naive baseline, 10 SPARQL CONTAINS label queries (no scoring): {naive_ms:.1f} ms "
          f"({naive_ms / warm_ms:.1f}x)")
    return 0 if warm_ms < 100 else 1


if __name__ == "__main__":
    sys.exit(main())
