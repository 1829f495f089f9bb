"""Light SPARQL lookups: the dsikb endpoint against ``oxigraph serve-read-only`` on one store, one run.

Run by hand (not part of the test suite), loopback only, bounded in time::

    .venv/bin/python bench/light_bench.py --store DIR [--inline 2] [--before DIR] [--floor] [--granian] [--proxy] [--seconds 10] [--rounds 2]

Servers, all over a copy of the same store: ``dsikb`` (this checkout), ``dsikb-inline`` (``--inline N``: this
checkout with DSIKB_INLINE_SLOTS=N, kb/sparql/inline.py), ``dsikb-before`` (``--before``:
another checkout's ``dsikb serve``, e.g. the code before a change), ``oxigraph`` (the peer) and, with
``--floor``, ``floor``: a Flask app on waitress that answers every GET with a fixed SPARQL JSON result
(no check, no store) — what one Python web process on waitress costs before any SPARQL work.
``--granian`` adds the same floor app and this checkout's app (``dsikb-granian``: the app
``dsikb serve`` builds, embedded store) served by granian, an HTTP server written in Rust that calls
the WSGI app (one worker process, 8 threads; not a dependency of dsikb: ``pip install granian``),
and ``eval-granian``, the evaluation floor: a bare WSGI callable on granian that evaluates the query
with pyoxigraph on a read-only open of the store and returns pyoxigraph's JSON, with no check, no
limit, no log and no Flask: the least any Python web process evaluating with pyoxigraph can do.
``BENCH_GRANIAN_WORKERS=N`` serves each granian app with N worker processes (8 // N threads each).
``--proxy`` adds ``nginx-oxigraph``: the Oxigraph server behind nginx (``proxy_pass`` over keep-alive
connections, no access log, ``BENCH_NGINX_WORKERS`` worker processes, 1 by default): the least any
front of the Oxigraph server costs, with no SPARQL work of its own (Debian's nginx or nginx-light).

The mix is issue 14's light mix: ASK on an organisation, an organisation's projects with labels, the
labels of 20 IRIs by VALUES, over random organisations of the store; every query is unique (a counter
in a comment), so no result cache answers. First sequential latency (servers alternated, medians per
kind), then ``--clients`` keep-alive clients for ``--seconds`` per server and round (servers alternated,
order reversed every round): throughput, median and p95 latency; medians over rounds; ratios to the
Oxigraph server of the same run.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DSI = "https://w3id.org/dsi/def/dsi#"
LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
JSON_RESULTS = "application/sparql-results+json"
FLOOR_APP = r'''
import sys
from flask import Flask, Response
from waitress import serve
app = Flask("floor")
BODY = b'{"head":{"vars":["s","label"]},"results":{"bindings":[]}}'
@app.route("/sparql")
def sparql():
    return Response(BODY, 200, {"Content-Type": "application/sparql-results+json"})
if __name__ == "__main__":
    serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=24, ident="floor")
'''
# The evaluation floor: a bare WSGI callable (no Flask, no check, no limits, no log) that evaluates
# the query with pyoxigraph on a read-only open of the store and returns pyoxigraph's own JSON:
# the least any Python web process over pyoxigraph does for a lookup.
EVAL_APP = r'''
import os
from urllib.parse import parse_qs
import pyoxigraph as ox
STORE = ox.Store.read_only(os.environ["DSIKB_STORE"])
JSON = ox.QueryResultsFormat.JSON
def app(environ, start_response):
    text = parse_qs(environ.get("QUERY_STRING", "")).get("query", [""])[0]
    body = STORE.query(text, use_default_graph_as_union=True).serialize(format=JSON)
    start_response("200 OK", [("Content-Type", "application/sparql-results+json"),
                              ("Content-Length", str(len(body)))])
    return [body]
'''
DSIKB_GRANIAN_APP = r'''
from endpoint.observability import configure_logging
from endpoint.server import build
from kb.settings import Settings

settings = Settings.from_env()
configure_logging(settings.access_log)
app = build(settings)
'''
NGINX_CONF = """daemon off;
user root;
worker_processes {workers};
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log error;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/nginx-body;
    proxy_temp_path {dir}/nginx-proxy;
    upstream oxigraph {{ server 127.0.0.1:{inner}; keepalive 32; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://oxigraph;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering on;
        }}
    }}
}}
"""
GRANIAN_WORKERS = os.environ.get("BENCH_GRANIAN_WORKERS", "1")  # processes of each granian server
_counter = itertools.count()
_local = threading.local()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, name: str, port: int, path: str, process: subprocess.Popen):
        self.name, self.port, self.path, self.process = name, port, path, process

    def stop(self) -> None:
        """SIGTERM to the server's whole process group (granian's workers, dsikb's query workers:
        terminating the parent alone once left a granian worker running), SIGKILL after 15 s."""
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, None)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue


def request(server: Server, query: str, timeout: float = 60) -> int:
    """GET on this thread's keep-alive connection to ``server``; the status."""
    conns = _local.__dict__.setdefault("conns", {})
    path = server.path + "?query=" + urllib.parse.quote(query)
    for attempt in (0, 1):
        conn = conns.get(server.name)
        if conn is None:
            conn = conns[server.name] = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
        try:
            conn.request("GET", path, headers={"Accept": JSON_RESULTS})
            response = conn.getresponse()
            response.read()
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                del conns[server.name]
            return response.status
        except (OSError, http.client.HTTPException):
            conn.close()
            conns.pop(server.name, None)
            if attempt:
                raise
    raise AssertionError


def close_connections() -> None:
    for conn in _local.__dict__.pop("conns", {}).values():
        conn.close()


def light_queries(orgs: list[str], rnd: random.Random):
    """Endless (kind, query): ASK / projects / labels of 20, over random organisations, all unique."""
    for k in itertools.count():
        kind = ("ask", "projects", "labels")[k % 3]
        if kind == "ask":
            q = f"ASK {{ <{rnd.choice(orgs)}> a <{DSI}Organisation> }}"
        elif kind == "projects":
            q = f"SELECT ?p ?label WHERE {{ <{rnd.choice(orgs)}> <{DSI}takesPartIn> ?p . ?p <{LABEL}> ?label }}"
        else:
            values = " ".join(f"<{rnd.choice(orgs)}>" for _ in range(20))
            q = f"SELECT ?s ?label WHERE {{ VALUES ?s {{ {values} }} ?s <{LABEL}> ?label }}"
        yield kind, f"{q}\n# light {next(_counter)}"


def wait_up(server: Server, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(f"{server.name} exited with {server.process.returncode}")
        try:
            if request(server, f"ASK {{}} # up {next(_counter)}", timeout=5) == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.3)
    raise SystemExit(f"{server.name} did not answer in time")


def start(name: str, store: Path, code: Path | None, threads: int, extra: dict | None = None) -> Server:
    port = free_port()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "start_new_session": True}
    if name == "oxigraph":
        proc = subprocess.Popen([str(BIN / "oxigraph"), "serve-read-only", "--location", str(store),
                                 "--bind", f"127.0.0.1:{port}"], **quiet)
        return Server(name, port, "/query", proc)
    if name == "nginx-oxigraph":  # nginx in front of its own Oxigraph server; one process tree
        inner = free_port()
        folder = store.parent
        (folder / "nginx.conf").write_text(NGINX_CONF.format(
            workers=os.environ.get("BENCH_NGINX_WORKERS", "1"), dir=folder, port=port, inner=inner))
        script = (f'"{BIN / "oxigraph"}" serve-read-only --location "{store}" --bind 127.0.0.1:{inner} & '
                  f'exec nginx -p "{folder}" -c "{folder / "nginx.conf"}"')
        proc = subprocess.Popen(["bash", "-c", script], **quiet)
        return Server(name, port, "/query", proc)
    if name == "floor":
        proc = subprocess.Popen([sys.executable, "-c", FLOOR_APP, str(port)], **quiet)
        return Server(name, port, "/sparql", proc)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSIKB_")}
    if name.endswith("-granian"):  # the app module in a folder of its own, served by granian
        folder = store.parent / "granian-app"  # beside its copy of the store: removed with it
        folder.mkdir(exist_ok=True)
        (folder / "granian_app.py").write_text({"floor-granian": FLOOR_APP, "eval-granian": EVAL_APP}.get(
            name, DSIKB_GRANIAN_APP))
        env.update(PYTHONPATH=f"{folder}{os.pathsep}{code or ROOT}", DSIKB_STORE=str(store), DSIKB_RATE_LIMIT="0",
                   DSIKB_CLIENT_QUERIES="0", DSIKB_ACCESS_LOG="off", **(extra or {}))
        proc = subprocess.Popen([str(BIN / "granian"), "--interface", "wsgi", "--host", "127.0.0.1", "--port",
                                 str(port), "--workers", GRANIAN_WORKERS, "--blocking-threads",
                                 str(8 // int(GRANIAN_WORKERS)), "--no-ws", "granian_app:app"],
                                cwd=str(folder), env=env, **quiet)
        return Server(name, port, "/sparql", proc)
    # one address sends every client's queries: the per-client limits off, the rest as deployed
    env.update(PYTHONPATH=str(code), DSIKB_STORE=str(store), DSIKB_RATE_LIMIT="0", DSIKB_CLIENT_QUERIES="0",
               DSIKB_ACCESS_LOG="off", DSIKB_SERVER_THREADS=str(threads), DSIKB_HOST="127.0.0.1",
               DSIKB_PORT=str(port), **(extra or {}))
    proc = subprocess.Popen([sys.executable, "-m", "kb.cli", "serve"], cwd=str(code), env=env, **quiet)
    return Server(name, port, "/sparql", proc)


def organisations(server: Server) -> list[str]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    q = f"SELECT ?o WHERE {{ ?o a <{DSI}Organisation> }} LIMIT 5000"
    conn.request("GET", server.path + "?query=" + urllib.parse.quote(q), headers={"Accept": JSON_RESULTS})
    rows = json.loads(conn.getresponse().read())["results"]["bindings"]
    conn.close()
    return [r["o"]["value"] for r in rows]


def sequential(servers: list[Server], orgs: list[str], runs: int) -> dict:
    gen = light_queries(orgs, random.Random(5))
    out: dict = {s.name: {} for s in servers}
    for _ in range(runs * 3):
        kind, q = next(gen)
        for s in servers:
            t = time.perf_counter()
            status = request(s, q)
            if status != 200:
                raise SystemExit(f"{s.name}: {status} for {q}")
            out[s.name].setdefault(kind, []).append(time.perf_counter() - t)
    return {n: {k: round(statistics.median(v) * 1000, 3) for k, v in kinds.items()} for n, kinds in out.items()}


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its live descendants (the query workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    tree, total = {pid}, 0.0
    for p in sorted(parents):  # descendants (a few levels: workers of the server)
        q = p
        for _ in range(4):
            q = parents.get(q, 0)
            if q in tree or q == pid:
                tree.add(p)
                break
    return sum(times.get(p, 0.0) for p in tree)


def settle(servers: list[Server], limit: float = 300) -> None:
    """Wait until no server is busy on its own (start-up work: dsikb builds its /browse tables in a
    background thread at start, which would be counted against its queries)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = [cpu_seconds(s.process.pid) for s in servers]
        time.sleep(1.0)
        if all(cpu_seconds(s.process.pid) - b < 0.05 for s, b in zip(servers, before)):
            return


def concurrent(server: Server, orgs: list[str], clients: int, seconds: float, seed: int) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(i: int) -> None:
        mine = []
        try:
            for _, q in light_queries(orgs, random.Random(seed * 100 + i)):
                if time.monotonic() >= stop_at:
                    break
                t = time.perf_counter()
                status = request(server, q)
                if status != 200:
                    errors.append(str(status))
                    if len(errors) == 1:
                        print(f"  {server.name}: {status} for {q!r}", flush=True)
                    continue
                mine.append(time.perf_counter() - t)
        except (OSError, http.client.HTTPException) as exc:
            errors.append(repr(exc))
        finally:
            close_connections()
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    cpu0 = cpu_seconds(server.process.pid)
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    cpu = cpu_seconds(server.process.pid) - cpu0
    latencies.sort()
    return {"qps": len(latencies) / elapsed, "median_ms": statistics.median(latencies) * 1000,
            "p95_ms": latencies[int(0.95 * (len(latencies) - 1))] * 1000, "errors": len(errors),
            "cpu_ms": cpu * 1000 / max(1, len(latencies))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", required=True, help="a built store (dsikb init / dsikb load)")
    ap.add_argument("--before", help="another checkout to serve as dsikb-before")
    ap.add_argument("--floor", action="store_true", help="also a bare Flask/waitress app (the floor)")
    ap.add_argument("--granian", action="store_true", help="also the floor app and this checkout on granian")
    ap.add_argument("--proxy", action="store_true", help="also the Oxigraph server behind nginx")
    ap.add_argument("--inline", type=int, default=0,
                    help="also this checkout with DSIKB_INLINE_SLOTS=N (the inline lane) as dsikb-inline")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--runs", type=int, default=30, help="sequential runs per kind")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--threads", type=int, default=24)
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="dsikb-light-"))
    source = Path(args.store)
    names = (["dsikb"] + (["dsikb-inline"] if args.inline else []) + (["dsikb-before"] if args.before else [])
             + (["dsikb-granian"] if args.granian else [])
             + (["dsikb-inline-granian"] if args.granian and args.inline else []) + ["oxigraph"] + (["nginx-oxigraph"] if args.proxy else []) + (["floor"] if args.floor else [])
             + (["floor-granian", "eval-granian"] if args.granian else []))
    servers: list[Server] = []
    try:
        for name in names:  # each its own copy: two processes never open one RocksDB directory
            copy = work / name / "store"
            shutil.copytree(source, copy, ignore=shutil.ignore_patterns("LOCK"))
            state = source.with_name(source.name + ".state.json")
            if state.exists():
                shutil.copy(state, copy.with_name("store.state.json"))
            code = Path(args.before) if name == "dsikb-before" else ROOT if name.startswith("dsikb") else None
            extra = {"DSIKB_INLINE_SLOTS": str(args.inline)} if name.startswith("dsikb-inline") else None
            servers.append(start(name, copy, code, args.threads, extra))
        for s in servers:
            wait_up(s)
        settle(servers)
        orgs = organisations(next(s for s in servers if s.name == "oxigraph"))
        gen = light_queries(orgs, random.Random(1))
        for _ in range(60):  # warm up: worker start, caches
            _, q = next(gen)
            for s in servers:
                request(s, q)
        print(f"store {source}: {len(orgs)} organisations; {args.clients} clients, {args.seconds:g} s x "
              f"{args.rounds} rounds; load average {os.getloadavg()[0]:.1f}", flush=True)
        seq = sequential(servers, orgs, args.runs)
        results: dict[str, list[dict]] = {s.name: [] for s in servers}
        for r in range(args.rounds):
            for s in (servers if r % 2 == 0 else servers[::-1]):
                m = concurrent(s, orgs, args.clients, args.seconds, r)
                results[s.name].append(m)
                print(f"  round {r + 1} {s.name:13} {m['qps']:7.1f} q/s  median {m['median_ms']:6.2f} ms  "
                      f"p95 {m['p95_ms']:6.2f} ms  server CPU {m['cpu_ms']:5.2f} ms/query  errors {m['errors']}", flush=True)
        print(f"load average at the end {os.getloadavg()[0]:.1f}")
        peer = {k: statistics.median(x[k] for x in results["oxigraph"]) for k in ("qps", "median_ms", "p95_ms")}
        peer_seq = seq["oxigraph"]
        print("\n| server | q/s | tput vs oxigraph | median ms | ratio | p95 ms | sequential ask / projects / "
              "labels ms | ratio | server CPU ms/query |\n| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |")
        for s in servers:
            m = {k: statistics.median(x[k] for x in results[s.name]) for k in ("qps", "median_ms", "p95_ms", "cpu_ms")}
            sq = seq[s.name]
            kinds = ("ask", "projects", "labels")
            print(f"| {s.name} | {m['qps']:.1f} | {m['qps'] / peer['qps']:.2f} | {m['median_ms']:.2f} | "
                  f"{m['median_ms'] / peer['median_ms']:.2f} | {m['p95_ms']:.2f} | "
                  f"{' / '.join(f'{sq[k]:.2f}' for k in kinds)} | "
                  f"{' / '.join(f'{sq[k] / peer_seq[k]:.2f}' for k in kinds)} | {m['cpu_ms']:.2f} |")
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
