"""The app's memory as data grows: ``dsikb serve`` of two source trees side by side, over the same data.

For each store directory given (e.g. 100k, 1M and 10M synthetic statements, bench/synth.py +
``dsikb load``), and each backend (``remote``: the app over an ``oxigraph serve-read-only`` of the
store; ``embedded``: the app over its own copy), both trees' servers are started at once; once
``/readyz`` says the lists and the search index are built, and again after a pages mix (browse pages
with and without filters, searches, entity pages), the app process's resident memory is read from
/proc: VmRSS and RssAnon (its own heap, not mapped store files), of the app process alone (the
embedded store's query workers are separate processes, each mapping the store). With ``--walk N``,
once more after N maps and filtered lists over the facet values and their pairs (each asked once, as
a crawler following every filter link): what the per-generation memos keep. Run by hand::

    git worktree add /tmp/before <commit>
    .venv/bin/python bench/memory_bench.py /tmp/mem/store-100k /tmp/mem/store-1m [--before /tmp/before] [--walk 300]

Prints a Markdown table: MiB per store, backend, tree and moment.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.test_ops import OXIGRAPH, free_port, wait_for  # noqa: E402


def memory(pid: int) -> dict:
    """VmRSS and RssAnon of one process, MiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key = line.split(":")[0]
        if key in ("VmRSS", "RssAnon"):
            out[key] = int(line.split()[1]) >> 10
    return out


def get(url: str, timeout: float = 300) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def ready(base: str, most: float) -> float:
    """Seconds until /readyz says the lists and the search index are built."""
    started = time.monotonic()
    while time.monotonic() - started < most:
        status, body = get(base + "/readyz", 30)
        if status == 200:
            built = json.loads(body).get("built") or {}
            if built.get("lists") is not None and built.get("search") is not None:
                return time.monotonic() - started
        time.sleep(1)
    raise RuntimeError(f"{base}: lists and search not built after {most} s")


def pages_mix(base: str, n: int, seed: int = 7) -> int:
    """``n`` requests of browse pages, filtered lists, searches and entity pages; the errors."""
    rnd = random.Random(seed)
    lists = {}
    for type_ in ("organisation", "project"):
        status, body = get(base + f"/browse/{type_}.json")
        lists[type_] = json.loads(body) if status == 200 else {"pages": 1, "items": []}
    orgs = ["/id/" + row["id"].split("/id/", 1)[1] for row in lists["organisation"]["items"]]
    words = ("open", "civic", "data", "lab", "commons", "maker", "digital", "health", "energy")
    errors = 0
    for i in range(n):
        kind = i % 4
        type_ = rnd.choice(("organisation", "project"))
        if kind == 0:
            path = f"/browse/{type_}?page={rnd.randint(1, lists[type_]['pages'])}"
        elif kind == 1:
            path = f"/browse/{type_}?technology={rnd.choice(('open-data', 'open-hardware'))}&page={rnd.randint(1, 5)}"
        elif kind == 2:
            path = "/search?" + urllib.parse.urlencode({"q": rnd.choice(words) + " " + rnd.choice(words)})
        else:
            path = rnd.choice(orgs) if orgs else "/"
        status, _ = get(base + path)
        if status >= 400 and errors < 3:
            print(f"  {status} {path}", flush=True)
        errors += status >= 400
    return errors


def walk_paths(listing, n: int) -> list[str]:
    """The first ``n`` paths of a walk: maps (/map.json) and filtered lists (/browse, two sorts) over
    the facet values and pairs of them, each once; ``listing(path)`` gives a /browse JSON document."""
    paths = []
    for type_ in ("organisation", "project"):
        facets = (listing(f"/browse/{type_}.json") or {}).get("facets", [])
        values = [(f["key"], v["value"]) for f in facets for v in f["values"]]
        combos = [[pair] for pair in values] + [[a, b] for a, b in itertools.combinations(values, 2)]
        for combo in combos:
            query = "&".join(f"{k}={urllib.parse.quote(v)}" for k, v in combo)
            paths += [f"/map.json?show={type_}&{query}", f"/browse/{type_}?{query}&sort=-added",
                      f"/browse/{type_}?{query}"]
    return paths[:n]


def walk(base: str, n: int) -> int:
    """``n`` paths of :func:`walk_paths`, as a crawler following every filter link does; the errors."""
    def listing(path: str):
        status, body = get(base + path)
        return json.loads(body) if status == 200 else None

    paths = walk_paths(listing, n)
    errors = 0
    for path in paths:
        status, _ = get(base + path)
        if status >= 400 and errors < 3:
            print(f"  {status} {path}", flush=True)
        errors += status >= 400
    return errors


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stores", nargs="+", help="store directories, smallest first")
    ap.add_argument("--before", help="the other source tree (e.g. a worktree of the code before); "
                                     "without it, this tree alone")
    ap.add_argument("--backends", default="remote,embedded")
    ap.add_argument("--requests", type=int, default=400, help="requests of the pages mix")
    ap.add_argument("--most", type=float, default=3600, help="seconds to wait for the warm-up")
    ap.add_argument("--walk", type=int, default=0, help="then this many maps and filtered lists (walk)")
    args = ap.parse_args()
    trees = ({"before": str(Path(args.before).resolve())} if args.before else {}) | {"this": str(ROOT)}
    rows = []
    for store in args.stores:
        for backend in args.backends.split(","):
            work = Path(tempfile.mkdtemp(prefix="dsikb-mem-"))
            engine, apps = None, {}
            try:
                if backend == "remote":
                    port = free_port()
                    engine = subprocess.Popen([OXIGRAPH, "serve-read-only", "--location", store, "--bind",
                                               f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    wait_for(f"http://127.0.0.1:{port}/query?query=ASK%7B%7D", engine, 60)
                for name, src in trees.items():
                    if backend == "remote":
                        target = f"sparql+http://127.0.0.1:{port}/query"
                    else:
                        target = str(work / name / "store")
                        shutil.copytree(store, target, ignore=shutil.ignore_patterns("LOCK"))
                    app_port = free_port()
                    env = {**{k: v for k, v in os.environ.items() if not k.startswith("DSIKB_")},
                           "PYTHONPATH": src, "DSIKB_ACCESS_LOG": "off", "DSIKB_RATE_LIMIT": "0",
                           "DSIKB_SUBMISSIONS_DB": str(work / f"{name}.sqlite"), "XDG_STATE_HOME": str(work / name)}
                    proc = subprocess.Popen([sys.executable, "-m", "kb.cli", "serve", "--port", str(app_port),
                                             "--store", target], cwd=src, env=env, start_new_session=True,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    apps[name] = (proc, f"http://127.0.0.1:{app_port}")
                for name, (proc, base) in apps.items():
                    wait_for(base + "/healthz", proc, 300)
                for name, (proc, base) in apps.items():
                    took = ready(base, args.most)
                    rows.append((Path(store).name, backend, name, "warm", round(took), memory(proc.pid)))
                for name, (proc, base) in apps.items():
                    errors = pages_mix(base, args.requests)
                    rows.append((Path(store).name, backend, name, f"after {args.requests} pages ({errors} errors)",
                                 "", memory(proc.pid)))
                moments = 2
                if args.walk:
                    moments = 3
                    for name, (proc, base) in apps.items():
                        errors = walk(base, args.walk)
                        rows.append((Path(store).name, backend, name,
                                     f"after a walk of {args.walk} maps and lists ({errors} errors)", "", memory(proc.pid)))
                for row in rows[-moments * len(apps):]:
                    print(row, flush=True)
            finally:
                for proc, _ in apps.values():
                    if proc.poll() is None:
                        os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(60)
                if engine is not None:
                    engine.terminate()
                    engine.wait(30)
                shutil.rmtree(work, ignore_errors=True)
    print("\n| store | backend | tree | moment | warm-up s | VmRSS MiB | RssAnon MiB |\n| --- | --- | --- | --- | ---: | ---: | ---: |")
    for store, backend, tree, moment, took, mem in rows:
        print(f"| {store} | {backend} | {tree} | {moment} | {took} | {mem['VmRSS']} | {mem['RssAnon']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
