"""Search and browse right after a write, while the search index and the browse tables are rebuilt
(issue 14): the code before (rebuild inside the request; /browse 503 after the query timeout) and
after (the previous index served while the new one builds), side by side in one run.

For each tree, a fresh copy of the store (with its search index file) is served by the tree's app in
a process of its own, warmed (search index and lists current, one search and one list answered), then one organisation is added (a
write: the store's generation moves on) and at once ``--clients`` clients ask, in turn,
``/search.json`` and ``/browse/organisation.json`` for ``--seconds``; each request's latency and
status are recorded (requests still running at the end are waited for, up to ``--timeout``)::

    git archive 9c58023 | tar -x -C /tmp/refresh/old
    PYTHONPATH=$PWD .venv/bin/python bench/refresh_bench.py /tmp/browse-scale/store-1000000 \\
        --tree before=/tmp/refresh/old --tree after=$PWD --work /tmp/refresh

The original store is only read (copied with ``cp -r``). Prints a JSON line per tree and a table.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

WORDS = ("open", "civic", "data", "lab", "commons", "maker", "digital", "social")


def serve(store: str) -> None:
    """The server process: warm, print the port, add an organisation on a line of stdin, serve."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    from endpoint import create_app
    from kb.index import browse, search
    from kb.settings import Settings
    from kb.store import KB

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):
            pass

    settings = Settings.from_env(environ={}, store=store, sources="", precompute=False, access_log="off")
    kb = KB.open(settings)
    search.search(kb, "open")  # as a server that has answered before: index, its words, places
    browse.listing(kb, "organisation")
    app = create_app(settings, kb=kb)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("ready", server.server_port, flush=True)
    for line in sys.stdin:
        if line.strip() == "write":
            base = kb.names.base
            kb.update("INSERT DATA { GRAPH <%sgraph/curated> { <%sid/organisation/refresh-bench> a dsi:Organisation ; "
                      "rdfs:label \"Refresh Bench Collective\" } }" % (base, base))
            print("written", kb.generation, flush=True)
        elif line.strip() == "quit":
            break


def get(port: int, path: str, timeout: float) -> tuple[int, float, dict]:
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        status = resp.status
    except (OSError, http.client.HTTPException):
        status, body = 0, b""
    finally:
        conn.close()
    dt = time.perf_counter() - t0
    info = {}
    if status == 200:
        try:
            info = json.loads(body).get("index") or {}
        except ValueError:
            pass
    return status, dt, info


def run(name: str, tree: str, source: Path, work: Path, clients: int, seconds: float, timeout: float) -> dict:
    dest = work / name
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    store = dest / source.name
    subprocess.run(["cp", "-r", str(source), str(store)], check=True)
    for suffix in (".state.json", ".search.sqlite"):
        if source.with_name(source.name + suffix).exists():
            shutil.copy(source.with_name(source.name + suffix), store.with_name(store.name + suffix))
    env = {**os.environ, "PYTHONPATH": tree}
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(store)], cwd=tree, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline().split()[1])
        warm = time.monotonic() - t0
        proc.stdin.write("write\n")
        proc.stdin.flush()
        proc.stdout.readline()
        results: list[tuple[str, int, float, dict]] = []
        lock = threading.Lock()
        stop_at = time.monotonic() + seconds

        def client(i: int) -> None:
            n = 0
            while time.monotonic() < stop_at:
                kind = ("search", "browse")[(i + n) % 2]
                path = (f"/search.json?q={WORDS[(i + n) % len(WORDS)]}" if kind == "search"
                        else f"/browse/organisation.json?page={1 + (i + n) % 20}")
                status, dt, info = get(port, path, timeout)
                with lock:
                    results.append((kind, status, dt, info))
                n += 1

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        proc.stdin.write("quit\n")
        proc.stdin.flush()
    finally:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    out = {"tree": name, "warm_s": round(warm, 1)}
    for kind in ("search", "browse"):
        mine = [r for r in results if r[0] == kind]
        ok = sorted(r[2] for r in mine if r[1] == 200)
        out[kind] = {
            "requests": len(mine), "ok": len(ok),
            "statuses": {str(s): sum(1 for r in mine if r[1] == s) for s in sorted({r[1] for r in mine})},
            "stale": sum(1 for r in mine if r[1] == 200 and r[3].get("current") is False),
            "median_ms": round(statistics.median([r[2] for r in mine]) * 1000, 1) if mine else None,
            "p95_ms": round(sorted(r[2] for r in mine)[int(0.95 * (len(mine) - 1))] * 1000, 1) if mine else None,
            "max_ms": round(max(r[2] for r in mine) * 1000, 1) if mine else None,
        }
    shutil.rmtree(dest, ignore_errors=True)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("store", nargs="?")
    ap.add_argument("--serve")
    ap.add_argument("--tree", action="append", default=[], help="name=path of a source tree")
    ap.add_argument("--work", default="/tmp/refresh")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--timeout", type=float, default=600.0)
    args = ap.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    rows = []
    for spec in args.tree:
        name, _, tree = spec.partition("=")
        row = run(name, tree, Path(args.store), Path(args.work), args.clients, args.seconds, args.timeout)
        print(json.dumps(row), flush=True)
        rows.append(row)
    print("| tree | route | requests (200 / all) | statuses | stale answers | median ms | p95 ms | max ms |")
    print("| --- | --- | ---: | --- | ---: | ---: | ---: | ---: |")
    for row in rows:
        for kind in ("search", "browse"):
            k = row[kind]
            print(f"| {row['tree']} | {kind} | {k['ok']} / {k['requests']} | {k['statuses']} | {k['stale']} | "
                  f"{k['median_ms']} | {k['p95_ms']} | {k['max_ms']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
