"""The organisation network's figures at scale: each step of ``kb.publish.network.compute`` timed apart.

Run by hand (not part of the test suite) against a store loaded with ``dsikb load`` (bench/synth.py
data, e.g. the stores of bench/browse_bench.py), opened READ-ONLY (nothing is written to it)::

    PYTHONPATH=$PWD .venv/bin/python bench/network_scale_bench.py /tmp/browse-scale/store-1000000 \\
        [--before /work/main/kb/publish/network.py] [--cap 600] [--profile]

Steps: ``read_graph`` (quad patterns -> networkx graph and labels), betweenness, communities (Louvain)
and ``layout``, each with wall s, CPU s (this process) and RSS (MiB after the step, and the peak so
far). ``--before FILE`` loads another version of network.py (e.g. the main branch's) under another
name and times its steps too, in the same process on the same graph, so the figures compare side by
side on a noisy machine; its betweenness and Louvain are networkx's (what compute() called).
``--cap`` stops a step after so many wall seconds (pure-Python steps only: a C call runs to its end)
and prints ">cap". Prints one JSON object per step and a summary line with node/edge/community counts.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # last: PYTHONPATH chooses the code measured


class Capped(Exception):
    pass


def rss_mib() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process, MiB."""
    now = peak = 0.0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            now = int(line.split()[1]) / 1024
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return now, peak


def step(name: str, fn, cap: float, profile: bool = False):
    """Run ``fn`` with a wall-clock cap; print and return (result or None, record)."""
    def stop(*_):
        raise Capped()

    old = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, cap)
    prof = None
    if profile:
        import cProfile
        prof = cProfile.Profile()
        prof.enable()
    w, c = time.perf_counter(), time.process_time()
    out, capped = None, False
    try:
        out = fn()
    except Capped:
        capped = True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    wall, cpu = time.perf_counter() - w, time.process_time() - c
    if prof is not None:
        import pstats
        prof.disable()
        pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(12)
    now, peak = rss_mib()
    record = {"step": name, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "rss_mib": round(now),
              "peak_mib": round(peak)}
    if capped:
        record["capped"] = f">{cap:.0f} s wall"
    print(json.dumps(record), flush=True)
    return out, record


def load_module(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def old_steps(old, g, cap: float, profile: bool) -> None:
    """The steps of the old compute(): networkx betweenness and Louvain, then its layout."""
    import networkx as nx

    n = g.number_of_nodes()
    degree = dict(g.degree())
    k = old.SAMPLES if n > old.EXACT_BETWEENNESS else None
    bt, _ = step("before: betweenness (networkx)", lambda: nx.betweenness_centrality(g, k=k, seed=old.SEED),
                 cap, profile)
    found, _ = step("before: communities (networkx louvain)",
                    lambda: nx.community.louvain_communities(g, weight="weight", seed=old.SEED), cap, profile)
    if found is None:
        return
    bt = bt or {}

    def central(iri):
        return (-degree[iri], -bt.get(iri, 0.0), iri)

    communities = sorted((sorted(c, key=central) for c in found), key=lambda c: (-len(c), central(c[0])))
    community = {iri: i + 1 for i, c in enumerate(communities) for iri in c}
    net = old.Network(0, g, {}, degree, bt, community, communities, {})
    step("before: layout", lambda: old.layout(net), cap, profile)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("store")
    ap.add_argument("--before", help="another network.py to time beside (e.g. /work/main/kb/publish/network.py)")
    ap.add_argument("--cap", type=float, default=600.0, help="wall seconds per step (pure-Python steps)")
    ap.add_argument("--profile", action="store_true", help="cProfile each step (to stderr)")
    ap.add_argument("--skip-new", action="store_true", help="time only --before's steps (after read_graph)")
    args = ap.parse_args(argv)
    from kb.publish import network
    from kb.settings import Settings
    from kb.store import KB

    kb = KB.open(Settings.from_env(environ={}, store=args.store), read_only=True)
    print(json.dumps({"store": args.store, "code": str(Path(network.__file__).resolve()),
                      "before": args.before}), flush=True)
    read, _ = step("read_graph", lambda: network.read_graph(kb), max(args.cap, 3600), args.profile)
    g, labels = read
    n, m = g.number_of_nodes(), g.number_of_edges()
    print(json.dumps({"nodes": n, "edges": m, "labels": len(labels)}), flush=True)
    summary = {"nodes": n, "edges": m}
    if args.before:
        old = load_module(args.before, "network_before")
        step("before: read_graph", lambda: old.read_graph(kb), max(args.cap, 3600), args.profile)
        old_steps(old, g, args.cap, args.profile)
    if not args.skip_new:
        degree = dict(g.degree())
        bt, _ = step("betweenness", lambda: network.betweenness_of(g), args.cap, args.profile)
        found, _ = step("communities", lambda: network.communities_of(g), args.cap, args.profile)
        if bt is not None and found is not None:
            net, _ = step("assemble (sort, community, links)",
                          lambda: network.assemble(0, g, labels, degree, bt, found), args.cap, args.profile)
            step("layout", lambda: network.layout(net), args.cap, args.profile)
            summary["communities"] = len(net.communities)
            summary["largest"] = [len(c) for c in net.communities[:5]]
            summary["betweenness_max"] = round(max(bt.values(), default=0.0), 6)
        summary["engine"] = "igraph" if n > network.FAST_ABOVE else "networkx"
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
