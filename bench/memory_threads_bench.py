"""Where the app's memory goes in a walk over filters: one thread or several, glibc's arenas or two.

Starts ``oxigraph serve-read-only`` over a copy of the store, then, for each thread count and each
``MALLOC_ARENA_MAX`` (``default``: unset), a fresh Python process that builds the app over it (remote
layout), builds the lists and the search index, asks the walk of bench/memory_bench.py (maps and
filtered lists over the facet values and pairs) through Flask's test client from that many threads,
and reads RssAnon before, after, and after ``malloc_trim``. Run by hand::

    .venv/bin/python bench/memory_threads_bench.py /tmp/mem/store-1m [--walk 300] [--threads 1,8] [--arenas default,2,1]
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def anon() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon"):
            return int(line.split()[1]) >> 10
    return -1


def child(threads: int, n: int) -> None:
    """In the measured process: the app over DSIKB_STORE, the walk from ``threads`` threads."""
    from endpoint.server import preload
    from kb.settings import Settings

    preload()
    from endpoint import create_app
    from kb.index import browse, mapdata, search
    from memory_bench import walk_paths

    app = create_app(Settings.from_env())
    kb = app.extensions["dsikb"]
    search.connect(kb).close()
    browse.tables(kb)
    client = app.test_client()
    paths = walk_paths(lambda p: client.get(p).get_json(), n)
    libc = ctypes.CDLL("libc.so.6")
    gc.collect()
    libc.malloc_trim(0)
    before = anon()
    errors = []

    def run(part: list[str]) -> None:
        own = app.test_client()
        errors.extend(p for p in part if own.get(p).status_code >= 400)

    workers = [threading.Thread(target=run, args=(paths[i::threads],)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    after = anon()
    gc.collect()
    libc.malloc_trim(0)
    memo = mapdata.spots(kb).memo
    print(json.dumps({"before": before, "after": after, "trimmed": anon(), "errors": len(errors),
                      "paths": len(paths), "map_features": memo.weight, "map_answers": len(memo)}), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("store")
    ap.add_argument("--walk", type=int, default=300)
    ap.add_argument("--threads", default="1,8")
    ap.add_argument("--arenas", default="default,2,1")
    args = ap.parse_args()
    from bench.engine import served_copy

    rows = []
    with served_copy(args.store, "dsikb-arenas-") as (work, url):
        for threads in [int(t) for t in args.threads.split(",")]:
            for arenas in args.arenas.split(","):
                env = {k: v for k, v in os.environ.items() if not k.startswith("DSIKB_") and k != "MALLOC_ARENA_MAX"}
                env.update(DSIKB_STORE=f"sparql+{url}", DSIKB_ACCESS_LOG="off",
                           DSIKB_RATE_LIMIT="0", XDG_STATE_HOME=str(work / "state"), PYTHONPATH=str(ROOT))
                if arenas != "default":
                    env["MALLOC_ARENA_MAX"] = arenas
                out = subprocess.run([sys.executable, __file__, "--child", str(threads), str(args.walk)], env=env,
                                     capture_output=True, text=True, timeout=3600)
                if out.returncode != 0:
                    raise SystemExit(out.stderr[-3000:])
                row = json.loads(out.stdout.strip().splitlines()[-1]) | {"threads": threads, "arenas": arenas}
                print(row, flush=True)
                rows.append(row)
    print(f"\n{Path(args.store).name}, walk of {args.walk}\n\n| threads | MALLOC_ARENA_MAX | RssAnon before MiB | after "
          "| after malloc_trim | map memo features (answers) | errors |\n| ---: | --- | ---: | ---: | ---: | --- | ---: |")
    for r in rows:
        print(f"| {r['threads']} | {r['arenas']} | {r['before']} | {r['after']} | {r['trimmed']} | "
              f"{r['map_features']} ({r['map_answers']}) | {r['errors']} |")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(int(sys.argv[2]), int(sys.argv[3]))
        os._exit(0)
    sys.exit(main())
