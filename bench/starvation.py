"""Starvation: do runaway SPARQL queries from one client slow down everyone else?

Run by hand (not part of the test suite), loopback only, bounded in time::

    .venv/bin/python bench/starvation.py --store DIR [--seconds 60] [--runaway 10] [--code DIR]

Starts ``dsikb serve`` (default settings, a free port on 127.0.0.1) over a built store (``dsikb init
--store DIR``). One client (source address 127.0.0.2) keeps ``--runaway`` cartesian-product queries
in flight, re-sending each 0.1 s after it ends (it ignores Retry-After, as an abusive client would);
another client (127.0.0.3) asks a one-row query and an entity page every ~100 ms. Prints, for the
second client, p50/p95/p99 latency and the status counts of each, and the runaway client's statuses.
``--code`` runs the server from another checkout (e.g. the code before a change) for comparison.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
PAGE = "/page/organisation/nesta"


def get(port: int, path: str, source: str, accept: str, timeout: float = 120) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(source, 0))
    try:
        conn.request("GET", path, headers={"Accept": accept})
        response = conn.getresponse()
        response.read()
        return response.status
    except OSError:
        return 0  # no answer (refused, reset, timed out)
    finally:
        conn.close()


def sparql_path(query: str) -> str:
    return "/sparql?" + urllib.parse.urlencode({"query": query})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, process: subprocess.Popen, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"dsikb serve exited with {process.returncode}")
        if get(port, sparql_path("ASK {}"), "127.0.0.1", "application/sparql-results+json", 5) == 200:
            return
        time.sleep(0.3)
    sys.exit("dsikb serve did not answer in time")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, help="a built store (dsikb init --store DIR)")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--runaway", type=int, default=10)
    parser.add_argument("--code", default=str(ROOT), help="checkout whose dsikb serve runs")
    args = parser.parse_args(argv)

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSIKB_")}  # default settings
    env.update(PYTHONPATH=args.code, DSIKB_STORE=args.store, DSIKB_HOST="127.0.0.1", DSIKB_PORT=str(port))
    server = subprocess.Popen([sys.executable, "-m", "kb.cli", "serve"], cwd=args.code, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stop = threading.Event()
    abuser: collections.Counter = collections.Counter()
    try:
        wait_ready(port, server)
        get(port, PAGE, "127.0.0.1", "text/html")  # warm the page path once

        def runaway():
            while not stop.is_set():
                abuser[get(port, sparql_path(RUNAWAY), "127.0.0.2", "application/sparql-results+json")] += 1
                time.sleep(0.1)

        threads = [threading.Thread(target=runaway, daemon=True) for _ in range(args.runaway)]
        for t in threads:
            t.start()
        time.sleep(2.0)  # the runaway queries are in flight
        timings = {"query": [], "page": []}
        statuses = {"query": collections.Counter(), "page": collections.Counter()}
        end = time.monotonic() + args.seconds
        i = 0
        while time.monotonic() < end:
            tick = time.monotonic()
            for name, path, accept in (
                    ("query", sparql_path(f"SELECT ?s WHERE {{ ?s ?p ?o }} LIMIT 1 OFFSET {i % 5000}"),
                     "application/sparql-results+json"),
                    ("page", PAGE, "text/html")):
                started = time.monotonic()
                status = get(port, path, "127.0.0.3", accept)
                timings[name].append(time.monotonic() - started)
                statuses[name][status] += 1
            i += 1
            time.sleep(max(0.0, 0.1 - (time.monotonic() - tick)))
        stop.set()
    finally:
        stop.set()
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

    print(f"code: {args.code}  store: {args.store}  {args.seconds:g} s, {args.runaway} runaway queries "
          "from 127.0.0.2; measured from 127.0.0.3")
    print(f"{'':6} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}  statuses")
    for name in ("query", "page"):
        values = timings[name]
        print(f"{name:6} {len(values):5d} {statistics.median(values) * 1000:8.1f} "
              f"{percentile(values, 95) * 1000:8.1f} {percentile(values, 99) * 1000:8.1f} "
              f"{max(values) * 1000:8.1f}  {dict(sorted(statuses[name].items()))}")
    print(f"runaway client statuses: {dict(sorted(abuser.items()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
