"""What reading the browse tables' columns costs: two source trees' app objects over the same data.

The browse tables' per-entity columns moved from Python lists to a mapped file (kb/index/columns.py):
an item is decoded when read and an IRI's position found by bisection. This measures the requests
that read many items once their tables are built, with what they computed before forgotten each
time (the tables' memos and the map's answers; the map's columns are kept): a whole map, the first
page of a list by name and by newest, a filtered list, a place page, searches. Each tree runs in a
fresh Python process of its own (remote layout: ``oxigraph serve-read-only`` over a copy of the
store, in-process app, Flask's test client), the trees alternated ``--rounds`` times; per request the
median of ``--runs`` in each round, then the median over the rounds. Run by hand::

    git worktree add /tmp/before <commit>
    .venv/bin/python bench/columns_bench.py /tmp/mem/store-1m --tree before=/tmp/before --tree this=.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def child(runs: int) -> None:
    """In the measured process (its tree first on sys.path): one JSON line of medians in ms."""
    from endpoint.server import preload
    from kb.settings import Settings

    preload()
    from endpoint import create_app
    from kb.index import browse, mapdata, search

    app = create_app(Settings.from_env())
    kb = app.extensions["dsikb"]
    tabs = browse.tables(kb)
    search.connect(kb).close()
    spots = mapdata.spots(kb)
    orgs = tabs["organisation"]
    # the place with most organisations (a country): its page lists the most
    counts: dict[int, int] = {}
    country = orgs.located["country"]
    for pos in range(len(orgs)):
        for v in country.get(pos):
            counts[v] = counts.get(v, 0) + 1
    place = orgs.shared.values[max(counts, key=counts.get)]
    slug = place.rsplit("/", 1)[-1]
    facet, value = next((k, v.rsplit("/", 1)[-1]) for k, values in orgs.bits.items() for v in values)
    paths = {
        "map, organisations (whole)": "/map.json?show=organisation",
        "map, projects (whole)": "/map.json?show=project",
        "list by name, page 1": "/browse/organisation.json",
        "list by newest, page 1": "/browse/organisation.json?sort=-added",
        f"list filtered ({facet})": f"/browse/organisation.json?{facet}={value}",
        "place page (largest country)": f"/page/place/{slug}",
        "search 'data' (20 hits)": "/search.json?q=data",
        "search 'open' projects": "/search.json?q=open&type=project",
    }
    client = app.test_client()
    out = {}
    for name, path in paths.items():
        times = []
        for _ in range(runs):
            for tab in tabs.values():
                for key in [k for k in tab.memo if k != mapdata.SPOTS_KEY]:
                    del tab.memo[key]
            spots.memo.clear()
            t = time.perf_counter()
            response = client.get(path)
            response.get_data()  # a streamed answer (/map.json) is made as it is read
            times.append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200, (path, response.status_code)
        out[name] = statistics.median(times)
    print(json.dumps(out), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("store")
    ap.add_argument("--tree", action="append", default=[], help="name=path of a source tree (default: this=.)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    trees = [t.split("=", 1) for t in args.tree] or [["this", str(ROOT)]]
    sys.path.insert(0, str(ROOT))
    from bench.engine import served_copy

    results: dict[str, list[dict]] = {name: [] for name, _ in trees}
    with served_copy(args.store, "dsikb-columns-bench-") as (work, url):
        for _ in range(args.rounds):
            for name, tree in trees:
                env = {k: v for k, v in os.environ.items() if not k.startswith("DSIKB_")}
                env.update(DSIKB_STORE=f"sparql+{url}", DSIKB_ACCESS_LOG="off",
                           DSIKB_RATE_LIMIT="0", XDG_STATE_HOME=str(work / "state"),
                           PYTHONPATH=str(Path(tree).resolve()))
                out = subprocess.run([sys.executable, __file__, "--child", str(args.runs)], env=env,
                                     capture_output=True, text=True, timeout=3600, cwd=str(Path(tree).resolve()))
                if out.returncode != 0:
                    raise SystemExit(out.stderr[-3000:])
                row = json.loads(out.stdout.strip().splitlines()[-1])
                print(name, row, flush=True)
                results[name].append(row)
    names = [name for name, _ in trees]
    keys = list(results[names[0]][0])
    print(f"\n| request | {' | '.join(n + ' ms' for n in names)} | ratio {names[-1]} / {names[0]} |")
    print("| --- |" + " ---: |" * (len(names) + 1))
    for key in keys:
        med = [statistics.median(r[key] for r in results[n]) for n in names]
        print(f"| {key} | " + " | ".join(f"{m:.1f}" for m in med) + f" | {med[-1] / med[0]:.2f} |")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(int(sys.argv[2]))
        os._exit(0)
    sys.exit(main())
