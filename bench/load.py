"""Load test: pages, search, SPARQL and submissions together, against a real ``dsikb serve``.

Run by hand (not part of the test suite)::

    .venv/bin/python bench/load.py [--store DIR] [--users 32] [--duration 60] [--limits forwarded|off]

It builds a store with ``dsikb init`` into bench/out/load-store when ``--store`` is not given and
none is there, copies it to a temporary folder (the submissions posted during the run go there, not
into the built store), starts ``dsikb serve`` on 127.0.0.1 over the copy, warms it up with one request
of each kind, then runs locust headless (this file is also the locustfile) with ``--users`` simulated
clients for ``--duration`` seconds, each waiting 0.5-1.5 s between requests. It prints requests/s,
p50/p95/p99 per request type, errors by status, and the resident memory of the server process and
its children (the SPARQL query workers) before and after the load, and the verdict against the
targets (no errors but deliberate 429/503, p99 under 500 ms for pages and search, memory growth
under 10%).

All simulated clients come from 127.0.0.1, so per-address rate limits would throttle them as one:
``--limits forwarded`` (default) gives each simulated client its own ``X-Forwarded-For`` address and
starts the server with ``DSIKB_TRUSTED_PROXIES=127.0.0.1`` (servers that do not know that setting
ignore it, and the 429s then show it); ``--limits off`` sets ``DSIKB_RATE_LIMIT=0`` instead. More
settings for the server: ``--env NAME=VALUE`` (repeatable).
"""

from __future__ import annotations

import json
import os
import random
import re
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
TARGETS = {"p99_ms": 500, "memory_growth": 0.10}
WORDS = ("open data health energy school city democracy maker lab network social digital care water "
         "food skills commons mobility archive climate").split()
SPARQL = (
    "SELECT (COUNT(?o) AS ?n) WHERE { ?o a <https://w3id.org/dsi/def/dsi#Organisation> }",
    "SELECT ?p ?label WHERE { ?p a <https://w3id.org/dsi/def/dsi#Project> ; "
    "<http://www.w3.org/2000/01/rdf-schema#label> ?label } LIMIT 10",
    "ASK { ?s <http://www.w3.org/2002/07/owl#sameAs> ?o }",
    "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g",
)


def submission() -> dict:
    """A valid new project in the simple JSON shape (docs/submission.schema.json), unique each time."""
    tag = uuid.uuid4().hex[:10]
    return {"type": "project", "name": f"Load Test Project {tag}", "website": f"https://load-{tag}.example.org/",
            "shortDescription": "A project posted by the load test.", "country": "United Kingdom",
            "city": "Manchester", "areasOfSociety": ["energy-and-environment"], "technologyFocus": ["open-data"],
            "startDate": "2024-01-01",
            "submitter": {"name": "Load Test", "email": "load@example.org", "consentToBeNamed": False}}


if __name__ != "__main__":  # imported by locust as the locustfile
    from locust import HttpUser, between, task

    PAGES = json.loads(Path(os.environ["DSIKB_LOAD_PAGES"]).read_text())
    FORWARDED = os.environ.get("DSIKB_LOAD_LIMITS") == "forwarded"
    _next_address = iter(range(1, 60000))

    class Visitor(HttpUser):
        """A reader who browses, searches and queries, and now and then contributes."""

        wait_time = between(0.5, 1.5)

        def on_start(self):
            n = next(_next_address)
            self.headers = {"X-Forwarded-For": f"10.77.{n // 250}.{n % 250 + 1}"} if FORWARDED else {}

        def get(self, path, name, accept="text/html", **params):
            headers = dict(self.headers, Accept=accept)
            with self.client.get(path, params=params or None, headers=headers, name=name,
                                 catch_response=True) as resp:
                self.judge(resp)

        def judge(self, resp, ok=(200,)):
            if resp.status_code not in ok:
                resp.failure(f"status {resp.status_code}")

        @task(3)
        def home(self):
            self.get("/", "page: home")

        @task(6)
        def entity(self):
            self.get(random.choice(PAGES), "page: entity")

        @task(3)
        def browse(self):
            kind = random.choice(("organisation", "project"))
            self.get(f"/browse/{kind}", "page: browse", page=random.randint(1, 5))

        @task(4)
        def search(self):
            self.get("/search", "search", q=random.choice(WORDS))

        @task(3)
        def sparql(self):
            self.get("/sparql", "sparql", accept="application/sparql-results+json", query=random.choice(SPARQL))

        @task(1)
        def submit(self):
            headers = dict(self.headers, Accept="application/json")
            with self.client.post("/api/submissions", json=submission(), headers=headers, name="submission",
                                  catch_response=True) as resp:
                self.judge(resp, ok=(202,))


def _main() -> int:
    import argparse
    import csv
    import shutil
    import socket
    import subprocess
    import sys
    import tempfile
    import time
    import urllib.request

    import psutil

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, help="a built store (default: bench/out/load-store, built if absent)")
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--spawn-rate", type=float, default=8.0)
    parser.add_argument("--duration", type=int, default=60, help="seconds of load")
    parser.add_argument("--limits", choices=("forwarded", "off"), default="forwarded")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="more server settings")
    args = parser.parse_args()
    python = sys.executable
    pypath = {"PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}

    store = args.store or OUT / "load-store"
    if not store.exists():
        print(f"building the store with dsikb init into {store} ...", file=sys.stderr)
        subprocess.run([python, "-m", "kb.cli", "init", "--store", str(store)], cwd=ROOT, check=True,
                       env={**os.environ, **pypath}, stdout=subprocess.DEVNULL)
    work = Path(tempfile.mkdtemp(prefix="dsikb-load-"))
    copy = work / "store"
    shutil.copytree(store, copy)
    state = store.with_name(store.name + ".state.json")
    if state.exists():
        shutil.copy(state, copy.with_name("store.state.json"))

    sys.path.insert(0, str(ROOT))
    from kb.settings import Settings
    from kb.store import KB

    kb = KB.open(Settings.from_env(environ={}, store=str(copy)), read_only=True)
    rows = kb.select("SELECT ?e WHERE { VALUES ?t { <https://w3id.org/dsi/def/dsi#Organisation> "
                     "<https://w3id.org/dsi/def/dsi#Project> } ?e a ?t } LIMIT 5000")
    pages = ["/page/" + r["e"].value.split("/id/", 1)[1] for r in rows if "/id/" in r["e"].value]
    del kb
    rng = random.Random(7)
    pages = rng.sample(pages, min(500, len(pages)))
    (work / "pages.json").write_text(json.dumps(pages))

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, **pypath}
    if args.limits == "forwarded":
        env["DSIKB_TRUSTED_PROXIES"] = "127.0.0.1"
    else:  # every simulated client comes from 127.0.0.1: the per-client limits are off
        env["DSIKB_RATE_LIMIT"] = "0"
        env["DSIKB_CLIENT_QUERIES"] = "0"
        env["DSIKB_SUBMISSION_RATE_LIMIT"] = "0"
    for item in args.env:
        name, _, value = item.partition("=")
        env[name] = value
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([python, "-m", "kb.cli", "serve", "--store", str(copy), "--host", "127.0.0.1",
                               "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=open(work / "server.log", "wb"))

    def rss() -> tuple[int, int]:
        """(RSS of the server process, RSS of it and all its children) in bytes."""
        proc = psutil.Process(server.pid)
        own = proc.memory_info().rss
        return own, own + sum(c.memory_info().rss for c in proc.children(recursive=True) if c.is_running())

    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    print((work / "server.log").read_text()[-3000:], file=sys.stderr)
                    return 2
                time.sleep(0.2)
        warm = [("/", "text/html"), (pages[0], "text/html"), ("/browse/organisation", "text/html"),
                ("/browse/project", "text/html"), ("/search?q=open", "text/html")]
        warm += [("/sparql?query=" + urllib.request.quote(q), "application/sparql-results+json") for q in SPARQL]
        for path, accept in warm * 2:  # warm-up: each kind twice (starts the SPARQL query workers)
            with urllib.request.urlopen(urllib.request.Request(url + path, headers={"Accept": accept}),
                                        timeout=60) as r:
                r.read()
        time.sleep(2)
        before = rss()
        prefix = work / "locust"
        cmd = [python, "-m", "locust", "-f", str(Path(__file__).resolve()), "--headless", "--only-summary",
               "-u", str(args.users), "-r", str(args.spawn_rate), "-t", f"{args.duration}s", "--host", url,
               "--csv", str(prefix), "--stop-timeout", "10", "--loglevel", "WARNING"]
        started = time.monotonic()
        locust = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "DSIKB_LOAD_PAGES": str(work / "pages.json"),
                                                      "DSIKB_LOAD_LIMITS": args.limits},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        series = []  # RSS with workers every 10 s: a plateau is caches filling, a slope a leak
        while locust.poll() is None:
            if time.monotonic() - started > args.duration + 120:
                locust.kill()
                break
            if time.monotonic() - started >= 10 * len(series):
                series.append(rss()[1] >> 20)
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        after = rss()
        with open(f"{prefix}_stats.csv") as fh:
            stats = list(csv.DictReader(fh))
        with open(f"{prefix}_failures.csv") as fh:
            failures = list(csv.DictReader(fh))
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

    load = os.getloadavg()
    print(f"dsikb load test: {args.users} users, {args.duration} s (ran {elapsed:.0f} s), store {store}, "
          f"rate limits: {'per simulated client via X-Forwarded-For, DSIKB_TRUSTED_PROXIES=127.0.0.1' if args.limits == 'forwarded' else 'off (DSIKB_RATE_LIMIT=0)'}"
          + (f", extra settings {args.env}" if args.env else "") + f"; machine load average {load[0]:.1f}")
    print(f"{'request':14} {'count':>7} {'fail':>5} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")
    verdict = []
    for row in stats:
        name = row["Name"]
        print(f"{name:14} {row['Request Count']:>7} {row['Failure Count']:>5} {float(row['Requests/s']):7.1f} "
              f"{row['50%']:>7} {row['95%']:>7} {row['99%']:>7}")
        if name.startswith(("page", "search")) and float(row["99%"]) > TARGETS["p99_ms"]:
            verdict.append(f"p99 of {name} is {row['99%']} ms (target {TARGETS['p99_ms']})")
    by_status: dict[str, int] = {}
    for row in failures:
        key = f"{row['Name']}: {row['Error']}"
        by_status[key] = by_status.get(key, 0) + int(row["Occurrences"])
    print("errors by status:", json.dumps(by_status) if by_status else "none")
    unexpected = {k: v for k, v in by_status.items() if not re.search(r"status (429|503)\b", k)}
    if unexpected:
        verdict.append(f"errors other than 429/503: {unexpected}")
    growth = after[1] / before[1] - 1
    print(f"server memory (RSS): process {before[0] >> 20} -> {after[0] >> 20} MB, with its workers "
          f"{before[1] >> 20} -> {after[1] >> 20} MB ({growth:+.1%}); every 10 s during the load: {series} MB")
    steady = after[1] / (series[1] << 20) - 1 if len(series) > 2 else None
    if steady is not None:
        print(f"from 10 s into the load to the end (caches filled during the ramp-up): {steady:+.1%}")
    if growth > TARGETS["memory_growth"]:
        verdict.append(f"memory grew {growth:.1%} from idle (target under {TARGETS['memory_growth']:.0%})"
                       + (f", {steady:+.1%} after the first 10 s" if steady is not None else ""))
    print("targets:", "all met" if not verdict else "; ".join(verdict))
    shutil.rmtree(work, ignore_errors=True)
    return 0 if not verdict else 1


if __name__ == "__main__":
    raise SystemExit(_main())
