"""Benchmark: the dsikb SPARQL endpoint (``dsikb serve``: waitress + worker processes) against the
Oxigraph server (``oxigraph serve-read-only --union-default-graph``) on one copy of the same store and
the same query mix (the editor's example queries), in one run.

Reports per query the median and p95 latency of sequential requests (servers alternated), then the
throughput of 8 concurrent clients over the mix, and the ratios. Each request carries a unique
trailing comment, so no result cache (ours) answers a repeated query: both servers evaluate every time.

    .venv/bin/python bench/sparql_bench.py --store var/store [--runs 15] [--seconds 10]

Run by hand (not in the test suite); it needs a built store (`dsikb init`). Issue 14's light
lookups (ASK, an organisation's projects, labels by VALUES), with the floor of a bare Flask app and
the server CPU per query: bench/light_bench.py.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUERIES = sorted((ROOT / "endpoint" / "queries").glob("*.rq"))
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited: {process.args}")
        try:
            with urllib.request.urlopen(url + "?query=" + urllib.parse.quote("ASK {}"), timeout=5) as r:
                r.read()
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server did not answer: {url}")


_counter = itertools.count()


def run_query(url: str, query: str) -> float:
    """One GET with a unique comment; returns seconds; raises on a non-200 answer."""
    accept = "text/turtle" if "CONSTRUCT" in query.split("WHERE")[0].upper() else "application/sparql-results+json"
    text = f"{query}\n# bench {next(_counter)}"
    request = urllib.request.Request(url + "?query=" + urllib.parse.quote(text), headers={"Accept": accept})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        body = response.read()
        if response.status != 200 or not body:
            raise RuntimeError(f"{url}: {response.status}")
    return time.perf_counter() - start


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def throughput(url: str, queries: list[str], clients: int, seconds: float) -> float:
    done = [0] * clients
    errors: list[str] = []
    stop = time.monotonic() + seconds

    def client(i: int) -> None:
        for n in itertools.count(i):
            if time.monotonic() >= stop:
                return
            try:
                run_query(url, queries[n % len(queries)])
                done[i] += 1
            except (OSError, RuntimeError) as exc:
                errors.append(str(exc))
                return

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"{url}: {errors[0]}")
    return sum(done) / (time.monotonic() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=os.environ.get("DSIKB_STORE", "var/store"))
    parser.add_argument("--runs", type=int, default=15, help="sequential runs per query and server")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each throughput test")
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    source = Path(args.store)
    if not source.is_dir():
        raise SystemExit(f"no store at {source}: run `dsikb init` first")
    work = Path(tempfile.mkdtemp(prefix="dsikb-bench-"))
    copy = work / "store"
    shutil.copytree(source, copy)
    state = source.with_name(source.name + ".state.json")
    if state.exists():
        shutil.copy(state, copy.with_name("store.state.json"))
    (copy / "LOCK").unlink(missing_ok=True)
    ours_port, oxi_port = free_port(), free_port()
    # one address sends every client's queries: the per-client limits are off, the workers as before
    # DSIKB_PRECOMPUTE=0: measure evaluation, not the precomputed gallery (bench/precomputed_bench.py)
    env = {**os.environ, "DSIKB_RATE_LIMIT": "0", "DSIKB_CLIENT_QUERIES": "0", "DSIKB_QUERY_WORKERS": "2",
           "DSIKB_PRECOMPUTE": os.environ.get("DSIKB_PRECOMPUTE", "0"), "DSIKB_STORE": str(copy)}
    ours = subprocess.Popen([str(BIN / "dsikb"), "serve", "--store", str(copy), "--port", str(ours_port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    oxi = subprocess.Popen([str(BIN / "oxigraph"), "serve-read-only", "--location", str(copy),
                            "--bind", f"127.0.0.1:{oxi_port}"],  # the store's default graph: the public merge
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    urls = {"dsikb": f"http://127.0.0.1:{ours_port}/sparql", "oxigraph": f"http://127.0.0.1:{oxi_port}/query"}
    try:
        for name, url in urls.items():
            wait_up(url, ours if name == "dsikb" else oxi)
        queries = [q.read_text() for q in QUERIES]
        for q in queries:  # warm up both (caches, worker start)
            for url in urls.values():
                run_query(url, q)
                run_query(url, q)
        print(f"store: {source} ({copy}), {len(queries)} queries, {args.runs} runs each, "
              f"{args.clients} clients for {args.seconds:g} s")
        print(f"{'query':42} {'dsikb med':>10} {'oxigraph med':>12} {'ratio':>6} {'dsikb p95':>10} {'oxi p95':>8}")
        worst = 0.0
        for path, q in zip(QUERIES, queries):
            times = {name: [] for name in urls}
            for _ in range(args.runs):
                for name, url in urls.items():
                    times[name].append(run_query(url, q))
            med = {n: statistics.median(t) * 1000 for n, t in times.items()}
            ratio = med["dsikb"] / med["oxigraph"]
            worst = max(worst, ratio)
            print(f"{path.stem[:42]:42} {med['dsikb']:9.1f}ms {med['oxigraph']:11.1f}ms {ratio:6.2f} "
                  f"{p95(times['dsikb']) * 1000:9.1f}ms {p95(times['oxigraph']) * 1000:7.1f}ms")
        tput = {name: throughput(url, queries, args.clients, args.seconds) for name, url in urls.items()}
        print(f"throughput, {args.clients} concurrent clients over the mix: dsikb {tput['dsikb']:.1f} q/s, "
              f"oxigraph {tput['oxigraph']:.1f} q/s, ratio {tput['dsikb'] / tput['oxigraph']:.2f}")
        print(f"worst median ratio {worst:.2f} (target <= 1.5); throughput ratio target >= 0.8")
    finally:
        for process in (ours, oxi):
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
