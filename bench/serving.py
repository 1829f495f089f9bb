"""waitress against gunicorn as the server of one `dsikb serve` process, side by side.

Run by hand (not part of the test suite)::

    .venv/bin/python bench/serving.py [--store DIR] [--rounds 3] [--seconds 10] [--clients 8]

Without ``--store`` it builds the store with ``dsikb init`` into bench/out/serving-store. Each round
starts the same app on the same store under waitress (``dsikb serve``, DSIKB_SERVER_THREADS threads)
and under gunicorn (one gthread worker with as many threads), warms it, and runs the page mix (home,
browse, entity pages, entity data) from ``--clients`` keep-alive clients for ``--seconds``; servers
alternate so that a noisy machine hurts both alike. Prints throughput and the median and p95 latency
per server, medians over rounds, and the ratios.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
OUT = ROOT / "bench" / "out"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(kind: str, store: Path, port: int, threads: int) -> subprocess.Popen:
    env = {**os.environ, "DSIKB_STORE": str(store), "DSIKB_ACCESS_LOG": "off", "DSIKB_RATE_LIMIT": "0",
           "DSIKB_SERVER_THREADS": str(threads)}
    if kind == "waitress":
        cmd = [str(BIN / "dsikb"), "serve", "--port", str(port)]
    else:
        cmd = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1", "--worker-class",
               "gthread", "--threads", str(threads), "--log-level", "warning", "endpoint:create_app()"]
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def wait(base: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            if httpx.get(base + "/healthz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit("server did not start")


def paths(base: str) -> list[str]:
    rows = httpx.get(base + "/sparql", params={"query": "PREFIX dsi: <https://w3id.org/dsi/def/dsi#> "
                     "SELECT ?o WHERE { ?o a dsi:Organisation } LIMIT 300"},
                     headers={"Accept": "application/sparql-results+json"}, timeout=60).json()
    entities = [b["o"]["value"].split("/id/", 1)[1] for b in rows["results"]["bindings"]]
    out = ["/", "/browse/organisation", "/browse/project?page=2"]
    out += [f"/page/{e}" for e in entities] + [f"/data/{e}.ttl" for e in entities]
    return out


def run_mix(base: str, mix: list[str], clients: int, seconds: float) -> tuple[float, list[float]]:
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(seed: int):
        rnd = random.Random(seed)
        mine = []
        with httpx.Client(base_url=base, timeout=60) as http:
            while time.monotonic() < stop:
                t = time.perf_counter()
                r = http.get(rnd.choice(mix))
                r.read()
                mine.append(time.perf_counter() - t)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(latencies) / (time.monotonic() - started), latencies


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--threads", type=int, default=24)
    args = ap.parse_args()
    store = Path(args.store) if args.store else OUT / "serving-store"
    if not store.exists():
        subprocess.run([str(BIN / "dsikb"), "init", "--store", str(store)], check=True, cwd=ROOT)
    results: dict[str, list[tuple[float, float, float]]] = {"waitress": [], "gunicorn": []}
    mix = None
    for r in range(args.rounds):
        for kind in (("waitress", "gunicorn") if r % 2 == 0 else ("gunicorn", "waitress")):
            port = free_port()
            process = start(kind, store, port, args.threads)
            base = f"http://127.0.0.1:{port}"
            try:
                wait(base, process)
                mix = mix or paths(base)
                run_mix(base, mix, args.clients, 3)  # warm-up: caches, browse tables
                rps, lat = run_mix(base, mix, args.clients, args.seconds)
                lat.sort()
                results[kind].append((rps, statistics.median(lat) * 1000, lat[int(len(lat) * 0.95)] * 1000))
                print(f"round {r + 1} {kind:9} {rps:7.1f} req/s  median {results[kind][-1][1]:6.1f} ms  "
                      f"p95 {results[kind][-1][2]:6.1f} ms", flush=True)
            finally:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(30)
    med = {k: tuple(statistics.median(x[i] for x in v) for i in range(3)) for k, v in results.items()}
    print(f"\n| server | req/s | median ms | p95 ms |\n|---|---|---|---|")
    for k, (rps, m, p) in med.items():
        print(f"| {k} | {rps:.1f} | {m:.1f} | {p:.1f} |")
    w, g = med["waitress"], med["gunicorn"]
    print(f"\ngunicorn/waitress: throughput {g[0] / w[0]:.2f}x, median latency {g[1] / w[1]:.2f}x, p95 {g[2] / w[2]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
