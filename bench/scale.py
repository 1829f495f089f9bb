"""Scale benchmark: dsikb beside the engines underneath, at 100k, 1M and 10M synthetic statements.

    .venv/bin/python bench/scale.py [--sizes 100k,1m,10m] [--seconds 20] [--clients 8] [--formats nq,nt,ttl,trig,rdf]
                                    [--baseline-src /work/main] [--no-virtuoso] [--remote] [--data DIR] [--out DIR]
                                    [--clean]

``--data`` (or ``DSIKB_SCALE_DATA``) is where the generated files go, ``--out`` (or ``DSIKB_SCALE_OUT``)
where the stores, logs and results go (both default to bench/out/scale/; put them under /tmp for 10M:
~2 GB of files and ~6 GB of stores); ``--clean`` deletes each size's files and stores after it ran.

For each size it
1. generates the synthetic data (bench/synth.py) as N-Quads, N-Triples, Turtle, TriG or RDF/XML
   (reused when present);
2. times ``dsikb load`` against ``oxigraph load`` of the same file into a fresh store, side by side
   (alternating, child processes, peak RSS from ``wait4``), for every format asked;
3. serves the dsikb-loaded store with ``dsikb serve`` (this tree; and the code in ``--baseline-src``
   when given, e.g. the code before a change) and ``oxigraph serve-read-only`` over the same copy
   (the peer), and Virtuoso (``virtuoso-t``, its own database loaded from the N-Quads) when installed;
   ``--remote`` adds dsikb over the Oxigraph server (``DSIKB_STORE=sparql+http://``);
4. waits (``--startup-wait``) until each server stops burning CPU after its start (``dsikb serve``
   builds its search index, /browse tables and network in the background then: timed), warms each
   server up (``--warmup-light`` lookups, ``--warmup-gallery`` gallery queries; no pages),
   then runs, with ``--clients`` concurrent clients for ``--seconds`` each, two mixes of unique queries
   (a counter in a comment or in the IRIs: no cache answers): ``light`` (ASK on an organisation, an
   organisation's projects, labels of 20 IRIs by VALUES) and ``full`` (the 13 gallery queries plus the
   light ones, the light ones reported apart: head-of-line blocking shows there); then sequential light
   latency (servers alternated, after the light mix); after each mix it waits (``--settle``) until no server burns CPU on
   queries a client gave up on. Only then the pages: the first /browse of each list (its table is built
   from the whole store: ``--pages-wait`` bounds the wait, the time is reported) and the ``pages`` mix
   (entity pages and /browse, dsikb only; entity pages only if the lists did not finish building);
5. prints medians, p95, throughput, ratios to the Oxigraph server, app memory (RSS with workers),
   how latency and memory grow from the smallest size to each larger one, and writes everything to
   results-<size>.json.

Loopback only; every loop is bounded by a time or a count. Run by hand, not in the test suite.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import synth  # noqa: E402
from scale_http import (  # noqa: E402
    JSON_RESULTS,
    Server,
    free_port,
    request,
    rss_tree,
    settle,
    start_up,
    stop,
)

DATA = Path(os.environ.get("DSIKB_SCALE_DATA", ROOT / "bench" / "out" / "scale"))  # generated files, shared by runs
OUT = Path(os.environ.get("DSIKB_SCALE_OUT", DATA))  # stores, logs and results of this run
BIN = Path(sys.executable).parent
GALLERY = sorted((ROOT / "endpoint" / "queries").glob("*.rq"))
SIZES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000, "10m": 10_000_000}
GRAPH = "https://w3id.org/dsi/graph/source/synthetic"
DSI = "https://w3id.org/dsi/def/dsi#"
ID = "https://w3id.org/dsi/id/"
LABEL = "http://www.w3.org/2000/01/rdf-schema#label"


# -- data --------------------------------------------------------------------------------------------
def data_file(n: int, fmt: str) -> Path:
    path = DATA / f"synth-{n}.{fmt}"
    if not path.exists():
        t0 = time.monotonic()
        synth.write(n, path, fmt)
        print(f"  generated {path.name} in {time.monotonic() - t0:.1f} s", flush=True)
    return path


def entities(n: int) -> int:
    """How many synthetic organisations (and projects) a file of ``n`` statements surely holds."""
    return max(10, n // 24)


# -- processes ---------------------------------------------------------------------------------------
def timed(cmd: list[str], env: dict | None = None, timeout: float = 3600) -> tuple[float, int, int]:
    """(seconds, peak RSS MiB, exit status) of a child process."""
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = t0 + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.05)
    seconds = time.monotonic() - t0
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    if code:
        print(f"  ! {' '.join(cmd[:4])} ... exited {code}: {proc.stderr.read().decode()[-500:]}", flush=True)
    proc.stderr.close()
    return seconds, usage.ru_maxrss >> 10, code


def app_env(src: Path, store: str, extra: dict | None = None) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src), "DSIKB_STORE": store, "DSIKB_RATE_LIMIT": "0",
           "DSIKB_CLIENT_QUERIES": "0", "DSIKB_QUEUE_WAIT": "60", "DSIKB_SUBMISSION_RATE_LIMIT": "0",
           # the mixes measure evaluation: gallery texts with a trailing comment would match the precomputed
           # gallery (bench/precomputed_bench.py measures that); DSIKB_PRECOMPUTE=1 in the environment turns it on
           "DSIKB_PRECOMPUTE": os.environ.get("DSIKB_PRECOMPUTE", "0")}
    env.update(extra or {})
    return env


# -- loading -----------------------------------------------------------------------------------------
def load_side_by_side(n: int, formats: list[str], repeat: int, work: Path, baseline: str | None = None) -> list[dict]:
    rows = []
    for fmt in formats:
        path = data_file(n, fmt)
        graph = [] if fmt == "nq" else ["--graph", GRAPH]
        runs: dict[str, list[tuple[float, int]]] = {"dsikb load": [], "oxigraph load": []}
        if baseline:
            runs["dsikb-baseline load"] = []
        for r in range(repeat):
            for name in runs:
                store = work / f"load-{fmt}-{r}-{name.split()[0]}"
                shutil.rmtree(store, ignore_errors=True)
                if name.startswith("dsikb"):
                    cmd = [sys.executable, "-m", "kb.cli", "load", "--store", str(store), *graph, str(path)]
                    env = app_env(Path(baseline) if "baseline" in name else ROOT, str(store))
                else:
                    cmd = [str(BIN / "oxigraph"), "load", "--location", str(store), "--file", str(path), *graph]
                    env = None
                seconds, peak, code = timed(cmd, env)
                if not code:
                    runs[name].append((seconds, peak))
                if r < repeat - 1 or name != "dsikb load" or fmt != "nq":
                    shutil.rmtree(store, ignore_errors=True)
        med = {k: (statistics.median(s for s, _ in v), max(m for _, m in v)) if v else (float("nan"), 0)
               for k, v in runs.items()}
        row = {"format": fmt, "bytes": path.stat().st_size, "dsikb_s": med["dsikb load"][0],
               "oxigraph_s": med["oxigraph load"][0], "dsikb_peak_mib": med["dsikb load"][1],
               "oxigraph_peak_mib": med["oxigraph load"][1]}
        row["ratio"] = row["dsikb_s"] / row["oxigraph_s"]
        if baseline:
            row["baseline_s"] = med["dsikb-baseline load"][0]
            row["baseline_ratio"] = row["baseline_s"] / row["oxigraph_s"]
        print(f"  load {fmt}: dsikb {row['dsikb_s']:.2f} s ({row['dsikb_peak_mib']} MiB), oxigraph "
              f"{row['oxigraph_s']:.2f} s ({row['oxigraph_peak_mib']} MiB), ratio {row['ratio']:.2f}"
              + (f"; baseline code {row['baseline_s']:.2f} s, ratio {row['baseline_ratio']:.2f}" if baseline else ""),
              flush=True)
        rows.append(row)
    return rows


def dsikb_store(n: int, work: Path, result: dict) -> Path:
    """A dsikb-loaded store of the N-Quads file (kept from the load timing, else loaded now, timed)."""
    store = work / "load-nq-0-dsikb"
    if not (store / "CURRENT").exists():
        shutil.rmtree(store, ignore_errors=True)
        path = data_file(n, "nq")
        seconds, peak, code = timed([sys.executable, "-m", "kb.cli", "load", "--store", str(store), str(path)],
                                    app_env(ROOT, str(store)), timeout=7200)
        if code:
            raise SystemExit(f"dsikb load of {path} failed")
        result["serving_store_load"] = {"seconds": round(seconds, 1), "peak_mib": peak}
        print(f"  dsikb load {path.name} (the store served): {seconds:.1f} s, peak {peak} MiB", flush=True)
    result["store_mib"] = du_mib(store)
    return store


def du_mib(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) >> 20


# -- servers -----------------------------------------------------------------------------------------
def start_app(name: str, src: Path, store: str, port: int, extra: dict | None = None) -> Server:
    log = open(OUT / f"{name}.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "kb.cli", "serve", "--store", store, "--host", "127.0.0.1",
                             "--port", str(port)], cwd=src, env=app_env(src, store, extra),
                            stdout=subprocess.DEVNULL, stderr=log)
    return Server(name, f"http://127.0.0.1:{port}/sparql", proc, "app")


def start_oxigraph(store: Path, port: int, timeout_s: float = 0) -> Server:
    limit = ["--timeout-s", str(int(timeout_s))] if timeout_s else []
    proc = subprocess.Popen([str(BIN / "oxigraph"), "serve-read-only", "--location", str(store), "--bind",
                             f"127.0.0.1:{port}", *limit], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return Server("oxigraph", f"http://127.0.0.1:{port}/query", proc, "engine")


VIRTUOSO_INI = """[Database]
DatabaseFile = {d}/virtuoso.db
ErrorLogFile = {d}/virtuoso.log
LockFile = {d}/virtuoso.lck
TransactionFile = {d}/virtuoso.trx
xa_persistent_file = {d}/virtuoso.pxa
ErrorLogLevel = 7
FileExtend = 200
MaxCheckpointRemap = 2000
Striping = 0
TempStorage = TempDatabase
[TempDatabase]
DatabaseFile = {d}/virtuoso-temp.db
TransactionFile = {d}/virtuoso-temp.trx
MaxCheckpointRemap = 2000
Striping = 0
[Parameters]
ServerPort = {sql}
ServerThreads = 20
CheckpointInterval = 60
NumberOfBuffers = 340000
MaxDirtyBuffers = 250000
MaxQueryMem = 1G
DirsAllowed = ., {data}, /usr/share/virtuoso-opensource-7/vad
ThreadCleanupInterval = 0
ResourcesCleanupInterval = 0
[HTTPServer]
ServerPort = {http}
ServerRoot = /var/lib/virtuoso-opensource-7/vsp
ServerThreads = 20
MaxKeepAlives = 20
KeepAliveTimeout = 10
[SPARQL]
ResultSetMaxRows = 1000000
MaxQueryCostEstimationTime = 0
MaxQueryExecutionTime = 30
DefaultQuery = ASK {{}}
"""


def start_virtuoso(n: int, work: Path) -> tuple[Server | None, dict]:
    """Virtuoso over its own database loaded from the N-Quads file; (None, why) when not installed."""
    exe = shutil.which("virtuoso-t")
    isql = shutil.which("isql-vt") or shutil.which("isql")
    if not exe or not isql:
        print("  virtuoso: not installed (apt-get install virtuoso-opensource): skipped", flush=True)
        return None, {"skipped": "not installed"}
    d = work / "virtuoso"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    sql, http_port = free_port(), free_port()
    data = data_file(n, "nq")
    (d / "virtuoso.ini").write_text(VIRTUOSO_INI.format(d=d, sql=sql, http=http_port, data=data.parent))
    proc = subprocess.Popen([exe, "+foreground", "+configfile", str(d / "virtuoso.ini")], cwd=d,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Server("virtuoso", f"http://127.0.0.1:{http_port}/sparql", proc, "engine")
    if not server.wait_up(120):
        stop(proc)
        print("  virtuoso: did not start: skipped", flush=True)
        return None, {"skipped": "did not start"}
    t0 = time.monotonic()
    script = (f"ld_dir('{data.parent}', '{data.name}', '{GRAPH}');\nrdf_loader_run();\ncheckpoint;\n"
              "SELECT COUNT(*) FROM DB.DBA.LOAD_LIST WHERE ll_error IS NOT NULL;\n")
    done = subprocess.run([isql, str(sql), "dba", "dba"], input=script.encode(), capture_output=True, timeout=7200)
    seconds = time.monotonic() - t0
    print(f"  virtuoso: loaded {data.name} in {seconds:.1f} s (rdf_loader_run, one loader)", flush=True)
    return server, {"load_s": seconds, "isql": done.stdout.decode()[-300:]}


# -- queries -----------------------------------------------------------------------------------------
_counter = itertools.count()


def light_queries(n_entities: int, rnd: random.Random):
    """Endless (kind, query) light lookups over random entities (unique: the counter in a comment)."""
    org = lambda: f"<{ID}organisation/synth-org-{rnd.randint(1, n_entities)}>"  # noqa: E731
    kinds = ("ask", "projects", "labels")
    for k in itertools.count():
        kind = kinds[k % 3]
        if kind == "ask":
            q = f"ASK {{ {org()} a <{DSI}Organisation> }}"
        elif kind == "projects":
            q = (f"SELECT ?p ?label WHERE {{ {org()} <{DSI}takesPartIn> ?p . ?p <{LABEL}> ?label }}")
        else:
            values = " ".join(org() for _ in range(20))
            q = f"SELECT ?s ?label WHERE {{ VALUES ?s {{ {values} }} ?s <{LABEL}> ?label }}"
        yield kind, f"{q}\n# scale {next(_counter)}"


def gallery_queries():
    texts = [(p.stem[:2], p.read_text()) for p in GALLERY]
    for k in itertools.count():
        name, text = texts[k % len(texts)]
        yield f"gallery-{name}", f"{text}\n# scale {next(_counter)}"


def page_paths(n_entities: int, rnd: random.Random, browse: bool = True):
    last_page = max(1, min(50, n_entities // 100))  # browse lists 20-50 a page: stay within the list
    for k in itertools.count():
        i = rnd.randint(1, n_entities)
        kind = k % (4 if browse else 2)
        if kind == 0:
            yield "page", f"/page/organisation/synth-org-{i}"
        elif kind == 1:
            yield "page", f"/page/project/synth-project-{i}"
        else:
            yield "browse", f"/browse/{('organisation', 'project')[kind - 2]}?page={rnd.randint(1, last_page)}"


def accept_for(kind: str, text: str) -> str:
    return "text/turtle" if "CONSTRUCT" in text.split("WHERE")[0].upper() else JSON_RESULTS


def run_mix(server: Server, make, clients: int, seconds: float, timeout: float) -> dict:
    """``clients`` threads send requests from ``make()`` for ``seconds``; latency per kind."""
    times: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    sources = [make(i) for i in range(clients)]

    def client(i: int) -> None:
        for kind, item in sources[i]:
            if time.monotonic() >= stop_at:
                return
            if item.startswith("/"):
                path, accept = item, "text/html"
            else:
                path, accept = server.path + "?query=" + urllib.parse.quote(item), accept_for(kind, item)
            t0 = time.perf_counter()
            try:
                status, _ = request(server, path, accept, timeout)
            except (OSError, http.client.HTTPException):
                status = 0
            dt = time.perf_counter() - t0
            with lock:
                if status == 200:
                    times.setdefault(kind, []).append(dt)
                else:
                    errors[f"{kind}:{status}"] = errors.get(f"{kind}:{status}", 0) + 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + timeout + 30)
    elapsed = time.monotonic() - t0
    everything = [x for v in times.values() for x in v]
    light = [x for k, v in times.items() if not k.startswith(("gallery", "page", "browse")) for x in v]
    return {"done": len(everything), "qps": len(everything) / elapsed, "errors": errors,
            "median_ms": _ms(statistics.median(everything)) if everything else None,
            "p95_ms": _ms(_p95(everything)) if everything else None,
            "light_median_ms": _ms(statistics.median(light)) if light else None,
            "light_p95_ms": _ms(_p95(light)) if light else None,
            "light_max_ms": _ms(max(light)) if light else None,
            "by_kind": {k: {"n": len(v), "median_ms": _ms(statistics.median(v))} for k, v in sorted(times.items())}}


def sequential_light(servers: list[Server], n_entities: int, runs: int, timeout: float = 120) -> dict:
    """Light lookups one at a time, the servers alternated: median latency per server and kind."""
    rnd = random.Random(5)
    gen = light_queries(n_entities, rnd)
    out: dict[str, dict[str, list[float]]] = {s.name: {} for s in servers}
    for _ in range(runs * 3):
        kind, q = next(gen)
        for s in servers:
            path = s.path + "?query=" + urllib.parse.quote(q)
            t0 = time.perf_counter()
            try:
                status, _ = request(s, path, JSON_RESULTS, timeout)
            except (OSError, http.client.HTTPException):
                status = 0
            if status == 200:
                out[s.name].setdefault(kind, []).append(time.perf_counter() - t0)
    return {name: {k: _ms(statistics.median(v)) for k, v in kinds.items()} for name, kinds in out.items()}


def _ms(x: float) -> float:
    return round(x * 1000, 2)


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


# -- one size ----------------------------------------------------------------------------------------
def run_size(label: str, args) -> dict:
    n = SIZES[label]
    work = OUT / f"work-{label}"
    work.mkdir(parents=True, exist_ok=True)
    print(f"== {label}: {n:,} statements; machine load average {os.getloadavg()[0]:.1f}", flush=True)
    result: dict = {"size": label, "statements": n, "load_average_start": os.getloadavg()[0]}
    for fmt in args.formats:
        data_file(n, fmt)
    result["load"] = (load_side_by_side(n, args.formats, args.repeat, work, args.baseline_src)
                      if not args.no_load else [])
    if args.no_serve:
        (OUT / f"results-{label}.json").write_text(json.dumps(result, indent=1))
        return result
    store = dsikb_store(n, work, result)
    n_ent = entities(n)
    servers: list[Server] = []
    try:
        # the peer serves a copy taken before dsikb starts: `dsikb serve` writes to its store at start-up
        # (the network's graph), and a read-only RocksDB open of a store another process compacts
        # loses files under it (the peer then answered 500 to everything)
        peer = work / "load-nq-0-oxigraph-peer"
        if not (peer / "CURRENT").exists():
            shutil.rmtree(peer, ignore_errors=True)
            shutil.copytree(store, peer)
        servers.append(start_app("dsikb", ROOT, str(store), free_port()))
        # no --timeout-s until the full mix: the server spawns a thread per query that sleeps for the
        # timeout, and ~1,000 light lookups a second with 30 s ran the machine out of PIDs (32,768):
        # every later query got 500 or a closed connection (see restart_peer)
        servers.append(start_oxigraph(peer, free_port()))
        if args.baseline_src:
            copy = work / "baseline-store"  # a second writer may not open the same store
            if not copy.exists():
                shutil.copytree(store, copy)
            servers.append(start_app("dsikb-baseline", Path(args.baseline_src), str(copy), free_port()))
        if args.remote:
            ox_port = servers[1].port
            servers.append(start_app("dsikb-remote", ROOT, f"sparql+http://127.0.0.1:{ox_port}/query", free_port()))
        if not args.no_virtuoso:
            virt, info = start_virtuoso(n, work)
            result["virtuoso"] = info
            if virt is not None:
                servers.append(virt)
        up = []
        for s in servers:
            if s.wait_up():
                up.append(s)
            else:
                print(f"  {s.name}: did not start, left out", flush=True)
        servers = up
        result["start_up"] = start_up(servers, args.startup_wait)
        print(f"  start-up (until no CPU burnt: dsikb serve's background index and /browse builds): "
              f"{json.dumps(result['start_up'])}", flush=True)
        warm_up(servers, args)
        result["settle_s"] = [settle(servers, args.settle)]
        result["rss_idle_mib"] = {s.name: rss_tree(s.proc.pid) for s in servers}
        mixes = {
            "light": lambda i: light_queries(n_ent, random.Random(100 + i)),
            "full": lambda i: _interleave(gallery_queries(), light_queries(n_ent, random.Random(200 + i)), i),
        }
        result["mixes"] = {}
        for mix, make in mixes.items():  # the queries first: they never wait on a /browse table
            if mix == "full" and args.engine_timeout:
                servers = restart_peer(servers, peer, args.engine_timeout)
            for s in servers:
                measure(result, mix, s, make, args)
                result["settle_s"].append(settle(servers, args.settle))
            if mix == "light":  # one at a time, before the full mix's whole-store aggregates can linger
                result["sequential_light_ms"] = sequential_light(servers, n_ent, args.runs, args.timeout)
                print(f"  sequential light medians (ms): {json.dumps(result['sequential_light_ms'])}", flush=True)
        result["rss_after_mib"] = {s.name: rss_tree(s.proc.pid) for s in servers}
        print("  RSS MiB idle -> after: " + ", ".join(
            f"{k} {result['rss_idle_mib'][k]} -> {result['rss_after_mib'][k]}" for k in result["rss_after_mib"]), flush=True)
        for s in servers:  # then the pages: the first /browse of each list builds its table, timed
            if s.kind != "app" or (s.name == "dsikb-remote" and args.no_remote_pages):
                continue
            first = result.setdefault("first_pages", {})[s.name] = first_pages(s, args.pages_wait, args.timeout)
            browse = first["browse_done"]
            measure(result, "pages", s, lambda i, b=browse: page_paths(n_ent, random.Random(300 + i), b), args)
            result["mixes"]["pages"][s.name]["browse_included"] = browse
            result.setdefault("rss_after_pages_mib", {})[s.name] = rss_tree(s.proc.pid)
            result["settle_s"].append(settle(servers, args.settle))
    finally:
        for s in servers:
            stop(s.proc)
    result["load_average_end"] = os.getloadavg()[0]
    (OUT / f"results-{label}.json").write_text(json.dumps(result, indent=1))
    if args.clean:  # the stores and files of this size (10M: several GB)
        shutil.rmtree(work, ignore_errors=True)
        for f in DATA.glob(f"synth-{n}.*"):
            f.unlink()
    return result


def restart_peer(servers: list[Server], peer: Path, timeout_s: float) -> list[Server]:
    """The Oxigraph peer again on the same port (dsikb-remote points at it), now with ``--timeout-s``
    (the gallery's whole-store aggregates need it; the full mix's request rate is low)."""
    out = []
    for s in servers:
        if s.name == "oxigraph":
            stop(s.proc)
            s = start_oxigraph(peer, s.port, timeout_s)
            if not s.wait_up(120):
                raise SystemExit("the Oxigraph server did not start again with --timeout-s")
        out.append(s)
    return out


def warm_up(servers: list[Server], args) -> None:
    """Start the workers and fill the page caches: light lookups, then some gallery queries (at 10M
    each is a whole-store aggregate: ``--warmup-gallery`` bounds how many). No /browse here."""
    gen = gallery_queries()
    for s in servers:
        t0 = time.monotonic()
        queries = [q for _, q in itertools.islice(light_queries(10, random.Random(1)), args.warmup_light)]
        queries += [next(gen)[1] for _ in range(args.warmup_gallery)]
        for q in queries:
            try:
                request(s, s.path + "?query=" + urllib.parse.quote(q), accept_for("", q), args.timeout)
            except OSError:
                pass
        print(f"  warm-up {s.name}: {time.monotonic() - t0:.1f} s", flush=True)


def first_pages(s: Server, wait: float, timeout: float) -> dict:
    """The first /browse page of each list (its table is built from the whole store then) and one
    entity page, timed; the lists get ``wait`` seconds in all. ``browse_done`` False: still building."""
    out: dict = {"wait_s": wait, "browse_done": True}
    t0 = time.monotonic()
    for path in ("/browse/organisation", "/browse/project"):
        t1 = time.monotonic()
        refusals = 0
        try:
            while True:  # before its first build a list answers 503 + Retry-After (kb/index/refresh.py)
                left = wait - (time.monotonic() - t0)
                if left <= 0:
                    raise TimeoutError
                status, _ = request(s, path, "text/html", left)
                if status != 503:
                    break
                refusals += 1
                time.sleep(min(5.0, max(0.0, wait - (time.monotonic() - t0))))
            out[path] = round(time.monotonic() - t1, 1) if status == 200 else f"status {status}"
            if refusals:
                out[path + " 503s before"] = refusals
        except OSError:
            out[path] = None  # not finished within the wait (the build goes on in the server)
            out["browse_done"] = False
            break
    out["browse_s"] = round(time.monotonic() - t0, 1)
    t1 = time.monotonic()
    try:
        status, _ = request(s, "/page/organisation/synth-org-1", "text/html", timeout)
        out["/page/organisation/synth-org-1"] = round(time.monotonic() - t1, 2) if status == 200 else f"status {status}"
    except OSError:
        out["/page/organisation/synth-org-1"] = None
    print(f"  first pages {s.name}: {json.dumps(out)}", flush=True)
    return out


def measure(result: dict, mix: str, s: Server, make, args) -> None:
    la = os.getloadavg()[0]
    seconds = args.full_seconds if mix == "full" and args.full_seconds else args.seconds
    r = run_mix(s, make, args.clients, seconds, args.timeout)
    r["seconds"] = seconds
    r["load_average"] = la
    result["mixes"].setdefault(mix, {})[s.name] = r
    print(f"  {mix:6} {s.name:15} {r['qps']:7.1f} req/s  median {r['median_ms']} ms  p95 {r['p95_ms']} ms"
          f"  light median {r['light_median_ms']} ms p95 {r['light_p95_ms']} max {r['light_max_ms']}"
          f"  errors {r['errors'] or 'none'}  (load average {la:.1f})", flush=True)


def _interleave(gallery, light, offset: int):
    """One gallery query, then three light lookups, and so on (each client starts elsewhere)."""
    for _ in range(offset):
        next(gallery)
    while True:
        yield next(gallery)
        for _ in range(3):
            yield next(light)


def report(results: list[dict]) -> None:
    print("\n| size | format | dsikb load s | oxigraph load s | ratio | dsikb peak MiB | oxigraph peak MiB |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        for row in r.get("load", []):
            base = (f" (code before: {row['baseline_s']:.1f} s, {row['baseline_ratio']:.2f})"
                    if "baseline_s" in row else "")
            print(f"| {r['size']} | {row['format']} | {row['dsikb_s']:.1f}{base} | {row['oxigraph_s']:.1f} | "
                  f"{row['ratio']:.2f} | {row['dsikb_peak_mib']} | {row['oxigraph_peak_mib']} |")
    print("\n| size | mix | server | req/s | tput vs oxigraph | median ms | ratio | light median ms | light ratio | light p95 ms | errors |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in results:
        for mix, by in r.get("mixes", {}).items():
            peer = by.get("oxigraph")
            for name, m in by.items():
                tput = f"{m['qps'] / peer['qps']:.2f}" if peer and peer["qps"] else "-"
                ratio = f"{m['median_ms'] / peer['median_ms']:.2f}" if peer and m["median_ms"] else "-"
                lratio = (f"{m['light_median_ms'] / peer['light_median_ms']:.2f}"
                          if peer and m["light_median_ms"] and peer["light_median_ms"] else "-")
                errs = sum(m["errors"].values())
                print(f"| {r['size']} | {mix} | {name} | {m['qps']:.1f} | {tput} | {m['median_ms']} | {ratio} | "
                      f"{m['light_median_ms']} | {lratio} | {m['light_p95_ms']} | {errs} |")
    if not any("sequential_light_ms" in r for r in results):
        return
    print("\n| size | server | sequential light median ms (ask / projects / labels) | ratio to oxigraph | RSS idle -> after MiB |")
    print("| --- | --- | --- | --- | --- |")
    for r in results:
        seq = r.get("sequential_light_ms", {})
        peer = seq.get("oxigraph", {})
        for name, kinds in seq.items():
            vals = " / ".join(str(kinds.get(k)) for k in ("ask", "projects", "labels"))
            ratios = " / ".join(f"{kinds[k] / peer[k]:.2f}" for k in ("ask", "projects", "labels")
                                if k in kinds and peer.get(k))
            print(f"| {r['size']} | {name} | {vals} | {ratios} | {r['rss_idle_mib'].get(name)} -> "
                  f"{r['rss_after_mib'].get(name)} |")
    for r in results:
        nq = next((row for row in r.get("load", []) if row["format"] == "nq"), None)
        loaded = r.get("serving_store_load", {}).get("seconds") or (round(nq["dsikb_s"], 1) if nq else "-")
        virt = r.get("virtuoso", {}).get("load_s")
        print(f"\n{r['size']}: the store served: N-Quads loaded by dsikb in {loaded} s, {r.get('store_mib')} MiB "
              f"on disk" + (f"; Virtuoso loaded them in {virt:.1f} s" if virt else ""))
        for name, st in r.get("start_up", {}).items():
            print(f"{r['size']} {name}: start-up {json.dumps(st)}")
        for name, first in r.get("first_pages", {}).items():
            print(f"{r['size']} {name}: first pages {json.dumps(first)}; RSS after pages "
                  f"{r.get('rss_after_pages_mib', {}).get(name)} MiB")


def growth(results: list[dict]) -> None:
    """How latency and memory grow with the store: each size beside the smallest one run."""
    rows = sorted((r for r in results if "sequential_light_ms" in r), key=lambda r: r["statements"])
    if len(rows) < 2:
        return
    first = rows[0]

    def seq(r, name):  # the mean of the three sequential light medians
        kinds = r["sequential_light_ms"].get(name, {})
        return statistics.mean(kinds.values()) if kinds else None

    def mix(r, m, name, key="median_ms"):
        return (r.get("mixes", {}).get(m, {}).get(name) or {}).get(key)

    print("\n| size | server | store MiB | sequential light ms | light mix median ms | full mix light median ms "
          "| pages median ms | RSS after MiB | growth from " + first["size"] + " (seq / RSS) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        for name in r["sequential_light_ms"]:
            s0, s1 = seq(first, name), seq(r, name)
            m0, m1 = first["rss_after_mib"].get(name), r["rss_after_mib"].get(name)
            g = (f"{s1 / s0:.1f}x / {m1 / m0:.1f}x" if s0 and s1 and m0 and m1 else "-")
            print(f"| {r['size']} | {name} | {r.get('store_mib', '-')} | {s1:.2f} | {mix(r, 'light', name)} | "
                  f"{mix(r, 'full', name, 'light_median_ms')} | {mix(r, 'pages', name) or '-'} | {m1} | {g} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100k,1m", help="comma-separated: 100k, 1m, 10m")
    ap.add_argument("--formats", default="nq,nt,ttl")
    ap.add_argument("--repeat", type=int, default=1, help="load timings per format and tool")
    ap.add_argument("--seconds", type=float, default=20.0, help="duration of each mix per server")
    ap.add_argument("--full-seconds", type=float, default=0.0,
                    help="duration of the full mix (default --seconds): longer than its slowest query (10M)")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--runs", type=int, default=30, help="sequential runs per light query kind")
    ap.add_argument("--timeout", type=float, default=60.0, help="client timeout per request (s)")
    ap.add_argument("--pages-wait", "--warmup-timeout", dest="pages_wait", type=float, default=600.0,
                    help="how long the first /browse pages (both lists) may take to build, after the query "
                         "mixes; if they do not finish, the pages mix has entity pages only (s)")
    ap.add_argument("--startup-wait", type=float, default=900.0,
                    help="before the mixes, wait this long at most for the servers' start-up work to end (s)")
    ap.add_argument("--no-remote-pages", action="store_true", help="no pages mix for dsikb-remote (time)")
    ap.add_argument("--warmup-light", type=int, default=30, help="light lookups per server before the mixes")
    ap.add_argument("--warmup-gallery", type=int, default=13, help="gallery queries per server before the mixes")
    ap.add_argument("--settle", type=float, default=180.0,
                    help="after each mix, wait up to this long for the servers to stop burning CPU (s)")
    ap.add_argument("--engine-timeout", type=float, default=30.0,
                    help="oxigraph serve-read-only --timeout-s: the same as dsikb's DSIKB_QUERY_TIMEOUT (0: none)")
    ap.add_argument("--baseline-src", help="another checkout to serve beside this tree (e.g. the code before)")
    ap.add_argument("--remote", action="store_true", help="also dsikb over the Oxigraph server (sparql+http://)")
    ap.add_argument("--no-virtuoso", action="store_true")
    ap.add_argument("--no-load", action="store_true", help="skip the load timing (reuse the loaded store)")
    ap.add_argument("--no-serve", action="store_true", help="only the load timing")
    ap.add_argument("--data", help="folder for the generated files (default: DSIKB_SCALE_DATA or bench/out/scale)")
    ap.add_argument("--out", help="folder for stores, logs, results (default: DSIKB_SCALE_OUT or --data)")
    ap.add_argument("--clean", action="store_true", help="delete each size's files and stores after it ran")
    args = ap.parse_args(argv)
    global DATA, OUT
    if args.data:
        DATA = Path(args.data)
        OUT = Path(os.environ.get("DSIKB_SCALE_OUT", DATA))
    if args.out:
        OUT = Path(args.out)
    DATA.mkdir(parents=True, exist_ok=True)
    args.formats = [f for f in args.formats.split(",") if f]
    OUT.mkdir(parents=True, exist_ok=True)
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    results = [run_size(label, args) for label in args.sizes.split(",") if label]
    report(results)
    growth(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
