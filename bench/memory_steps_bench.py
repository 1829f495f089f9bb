"""The app's memory step by step as it warms up: what each per-generation structure leaves held.

Starts ``oxigraph serve-read-only`` over a copy of the store, then, for each source tree given, a
fresh Python process running that tree's code (remote layout, in-process app object, no server)
that reads RssAnon after ``gc.collect()`` and ``malloc_trim`` at each step: the app made, the browse
tables, the search index, three searches, the map's data (GeoNames and the entities' points), then
browse pages and both whole maps. A step's growth is what it keeps plus what its scratch left
pinned. Run by hand::

    git worktree add /tmp/before <commit>
    .venv/bin/python bench/memory_steps_bench.py /tmp/mem/store-100k /tmp/mem/store-1m [--tree before=/tmp/before] [--tree this=.]
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STEPS = ("app", "lists", "search index", "searches", "map data", "pages and maps")


def anon() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon"):
            return int(line.split()[1]) >> 10
    return -1


def child() -> None:
    """In the measured process (its tree first on sys.path): the steps, one JSON line of MiB."""
    libc = ctypes.CDLL("libc.so.6")

    def held() -> int:
        gc.collect()
        libc.malloc_trim(0)
        return anon()

    from endpoint.server import preload
    from kb.settings import Settings

    preload()
    from endpoint import create_app
    from kb.index import browse, mapdata, search

    app = create_app(Settings.from_env())
    kb = app.extensions["dsikb"]
    out = {"app": held()}
    browse.tables(kb)
    out["lists"] = held()
    search.connect(kb).close()
    out["search index"] = held()
    client = app.test_client()
    for path in ("/search?q=data", "/search?q=open&type=project", "/search"):
        assert client.get(path).status_code == 200, path
    out["searches"] = held()
    mapdata.located(kb)
    if hasattr(mapdata, "spots"):  # the trees before 6e5f2b8 kept the entities' points in located()
        mapdata.spots(kb)
    out["map data"] = held()
    for path in ("/browse/organisation", "/browse/project", "/map.json?show=organisation", "/map.json?show=project"):
        assert client.get(path).status_code == 200, path
    out["pages and maps"] = held()
    print(json.dumps(out), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stores", nargs="+")
    ap.add_argument("--tree", action="append", default=[], help="name=path of a source tree (default: this=.)")
    args = ap.parse_args()
    trees = [t.split("=", 1) for t in args.tree] or [["this", str(ROOT)]]
    sys.path.insert(0, str(ROOT))
    from bench.engine import served_copy

    rows = []
    for store in args.stores:
        with served_copy(store, "dsikb-steps-") as (work, url):
            for name, tree in trees:
                env = {k: v for k, v in os.environ.items() if not k.startswith("DSIKB_")}
                env.update(DSIKB_STORE=f"sparql+{url}", DSIKB_ACCESS_LOG="off",
                           DSIKB_RATE_LIMIT="0", XDG_STATE_HOME=str(work / "state"),
                           PYTHONPATH=str(Path(tree).resolve()))
                out = subprocess.run([sys.executable, __file__, "--child"], env=env, capture_output=True, text=True,
                                     timeout=3600, cwd=str(Path(tree).resolve()))
                if out.returncode != 0:
                    raise SystemExit(out.stderr[-3000:])
                row = json.loads(out.stdout.strip().splitlines()[-1])
                print(Path(store).name, name, row, flush=True)
                rows.append((Path(store).name, name, row))
    print("\n| store | tree | " + " | ".join(f"+ {s}" if i else s for i, s in enumerate(STEPS)) + " |")
    print("| --- | --- |" + " ---: |" * len(STEPS))
    for store, name, row in rows:
        print(f"| {store} | {name} | " + " | ".join(str(row[s]) for s in STEPS) + " |")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        child()
        os._exit(0)
    sys.exit(main())
