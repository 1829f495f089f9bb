"""The cost of the public default graph (docs/decisions/2026-12-01-public-default-graph.md), measured
side by side with the code before it: store size and `dsikb init` time on the real data, the latency
of SPARQL queries as the endpoint evaluates them (before: the union of the named graphs; now: the
store's default graph), and the time of writes that keep the default graph in step.

    .venv/bin/python bench/default_graph_bench.py --old-src /path/to/checkout-at-5fe2913

Run by hand (not in `make test`); loopback and local files only. Both stores are built into a fresh
temporary folder from ../shared/data/dsi.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyoxigraph as ox

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT.parent / "shared" / "data" / "dsi"
PREFIX = ("PREFIX dsi: <https://w3id.org/dsi/def/dsi#> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> "
          "PREFIX dsid: <https://w3id.org/dsi/id/> ")
QUERIES = {
    "count organisations": "SELECT (COUNT(*) AS ?n) WHERE { ?o a dsi:Organisation }",
    "Dutch organisations": "SELECT ?o ?l WHERE { ?o a dsi:Organisation ; rdfs:label ?l ; "
                           "dsi:country <https://w3id.org/dsi/id/place/netherlands> }",
    "50 labels, a join": "SELECT ?o ?l WHERE { ?o a dsi:Organisation ; rdfs:label ?l } LIMIT 50",
    "projects per area": "SELECT ?a (COUNT(DISTINCT ?p) AS ?n) WHERE { ?p a dsi:Project ; dsi:areaOfSociety ?a } "
                         "GROUP BY ?a",
    "one entity's statements": "SELECT ?p ?o WHERE { <https://w3id.org/dsi/id/organisation/waag-society> ?p ?o }",
    "all triples": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }",
}
WRITE = """
import sys, time, json
import pyoxigraph as ox
from kb.settings import Settings
from kb.store import KB
kb = KB.open(Settings.from_env(environ={}, store=sys.argv[1]))
n = kb.names
times = {}
for i in range(5):
    triples = [ox.Triple(ox.NamedNode(n.entity("organisation", f"bench-{i}-{j}")), ox.NamedNode(n.dsi("country")),
                         ox.NamedNode(n.entity("place", "netherlands"))) for j in range(50)]
    t = time.perf_counter(); kb.replace_graph(n.base + f"graph/bench/{i}", triples)
    times.setdefault("replace a 50-triple graph", []).append(time.perf_counter() - t)
for i in range(5):
    t = time.perf_counter(); kb.drop_graph(n.base + f"graph/bench/{i}")
    times.setdefault("drop a 50-triple graph", []).append(time.perf_counter() - t)
print(json.dumps({k: sorted(v)[len(v) // 2] for k, v in times.items()}))
"""


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def init(src: Path, store: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(src)}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "kb.cli", "init", "--store", str(store), "--sources", str(SOURCES)],
                   env=env, cwd=src, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def writes(src: Path, store: Path) -> dict:
    copy = store.with_name(store.name + "-writes")
    shutil.copytree(store, copy)
    state = store.with_name(store.name + ".state.json")
    if state.exists():
        shutil.copy(state, copy.with_name(copy.name + ".state.json"))
    out = subprocess.run([sys.executable, "-c", WRITE, str(copy)], env={**os.environ, "PYTHONPATH": str(src)},
                         cwd=src, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def latency(old: ox.Store, new: ox.Store, runs: int) -> dict:
    """Medians in ms, each query run alternately on both stores."""
    out = {}
    for name, body in QUERIES.items():
        q = PREFIX + body
        times = {"before": [], "now": []}
        rows = {}
        for _ in range(runs):
            for label, store, kwargs in (("before", old, {"use_default_graph_as_union": True}), ("now", new, {})):
                t = time.perf_counter()
                result = list(store.query(q, **kwargs))
                times[label].append(time.perf_counter() - t)
                rows[label] = len(result) if len(result) != 1 else result[0][0].value
        out[name] = {k: round(statistics.median(v) * 1000, 2) for k, v in times.items()}
        out[name]["answer"] = rows
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old-src", required=True, type=Path, help="a checkout of the code before (5fe2913)")
    parser.add_argument("--runs", type=int, default=31)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dsikb-dg-") as tmp:
        tmp = Path(tmp)
        result = {}
        for label, src in (("before", args.old_src.resolve()), ("now", ROOT)):
            store = tmp / label / "store"
            result.setdefault("init s", {})[label] = round(init(src, store), 1)
            result.setdefault("store MB", {})[label] = round(du(store) / 2**20, 1)
            result.setdefault("writes s", {})[label] = {k: round(v, 3) for k, v in writes(src, store).items()}
        old = ox.Store.read_only(str(tmp / "before" / "store"))
        new = ox.Store.read_only(str(tmp / "now" / "store"))
        result["query ms (median)"] = latency(old, new, args.runs)
        print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
