"""/browse served over HTTP at scale: time to the first list, the app's CPU and RSS, req/s and median.

Run by hand (not part of the test suite), on stores loaded with ``dsikb load`` from bench/synth.py
data; reuses bench/scale.py's servers, request loop and pages mix::

    PYTHONPATH=$PWD .venv/bin/python bench/browse_serve_bench.py /tmp/browse-scale/store-100000 \
        /tmp/browse-scale/store-1000000 [--baseline-src /work/main] [--seconds 20]

For each store: ``dsikb serve`` starts (which warms the browse tables, search index and network in
the background); the first ``/browse/organisation.json`` is asked every second until it answers 200
(503 while the lists are built): the seconds to that, the app's CPU seconds (user+system of the
process tree) meanwhile, and its RSS before and after. After the app is idle (the rest of its
warm-up done),  two mixes, 1 and 8 clients: ``browse``
(unfiltered pages 1-50 of both lists, a facet-filtered list, sort by -projects, as bench/scale.py's
pages mix draws them) and ``pages`` (bench/scale.py's mix: entity pages and browse pages). With
``--baseline-src`` the code there is served too, on a copy of the store, one after the other.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import scale  # noqa: E402

FILTERS = ("area=health-and-wellbeing", "country=spain", "technology=open-data", "type=", "country=italy&area=science")


def cpu_tree(pid: int) -> float:
    """User+system CPU seconds of a process and its live descendants, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(stat.parent.name)] = fields
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        fields = stats.get(p)
        if fields:
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        todo.extend(children.get(p, []))
    return total


def browse_paths(n_entities: int, rnd: random.Random):
    """What a visitor asks of /browse: pages of both lists, filtered lists, other sorts."""
    last_page = max(1, min(50, n_entities // 100))
    k = 0
    while True:
        k += 1
        kind = ("organisation", "project")[k % 2]
        if k % 5 == 0:
            yield "browse", f"/browse/organisation?{FILTERS[rnd.randrange(4)]}&page=1"
        elif k % 7 == 0:
            yield "browse", f"/browse/{kind}?sort=-{'projects' if kind == 'organisation' else 'partners'}&page={rnd.randint(1, last_page)}"
        else:
            yield "browse", f"/browse/{kind}?page={rnd.randint(1, last_page)}"


def first_list(server, timeout: float) -> dict:
    pid = server.proc.pid
    cpu0, rss0, t0 = cpu_tree(pid), scale.rss_tree(pid), time.monotonic()
    busy = 0
    while time.monotonic() - t0 < timeout:
        status, _ = scale.request(server, "/browse/organisation.json", "application/json", timeout)
        if status == 200:
            break
        busy += status == 503
        time.sleep(1)
    return {"first_list_s": round(time.monotonic() - t0, 1), "cpu_s": round(cpu_tree(pid) - cpu0, 1),
            "rss_before_mib": rss0, "rss_after_mib": scale.rss_tree(pid), "answers_503": busy}


def settle(pid: int, timeout: float) -> float:
    """Wait until the app is idle (its background warm-up done): seconds waited."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        before = cpu_tree(pid)
        time.sleep(2)
        if cpu_tree(pid) - before < 0.2:
            break
    return round(time.monotonic() - t0, 1)


def measure(name: str, src: Path, store: str, args) -> dict:
    server = scale.start_app(name, src, store, scale.free_port())
    try:
        if not server.wait_up():
            raise SystemExit(f"{name} did not start on {store}")
        out = {"server": name, "store": store, **first_list(server, args.warmup_timeout)}
        print(f"  {name}: first list {out['first_list_s']} s, app CPU {out['cpu_s']} s, "
              f"RSS {out['rss_before_mib']} -> {out['rss_after_mib']} MiB, 503s {out['answers_503']}", flush=True)
        out["warm_done_s"] = settle(server.proc.pid, args.warmup_timeout)  # the search index, the network
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/browse/organisation.json?per_page=1") as resp:
            n_ent = json.load(resp)["total"]  # synthetic organisations (and projects) are numbered 1..n
        out["organisations"] = n_ent
        mixes = {"browse": lambda i: browse_paths(n_ent, random.Random(400 + i)),
                 "pages": lambda i: scale.page_paths(n_ent, random.Random(300 + i))}
        for mix, make in mixes.items():
            for clients in (1, 8):
                r = scale.run_mix(server, make, clients, args.seconds, args.timeout)
                out[f"{mix}_{clients}"] = {k: r[k] for k in ("done", "qps", "median_ms", "p95_ms", "errors")}
                print(f"  {name} {mix:6} {clients} clients: {r['qps']:6.1f} req/s, median {r['median_ms']} ms, "
                      f"p95 {r['p95_ms']} ms, errors {r['errors'] or 'none'}", flush=True)
        out["rss_end_mib"] = scale.rss_tree(server.proc.pid)
        return out
    finally:
        scale.stop(server.proc)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("stores", nargs="+")
    ap.add_argument("--baseline-src", help="another checkout (e.g. the code before) served on a copy of each store")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--warmup-timeout", type=float, default=1800.0)
    ap.add_argument("--out", default=str(ROOT / "bench" / "out" / "browse-serve"))
    args = ap.parse_args(argv)
    scale.OUT = Path(args.out)
    scale.OUT.mkdir(parents=True, exist_ok=True)
    results = []
    for store in args.stores:
        print(f"== {store}; load average {os.getloadavg()[0]:.1f}", flush=True)
        results.append(measure("dsikb", ROOT, store, args))
        if args.baseline_src:
            copy = Path(args.out) / (Path(store).name + "-baseline")
            if not copy.exists():
                shutil.copytree(store, copy)
                state = Path(store + ".state.json")
                if state.exists():
                    shutil.copy(state, str(copy) + ".state.json")
            results.append(measure("baseline", Path(args.baseline_src), str(copy), args))
    (Path(args.out) / "results.json").write_text(json.dumps(results, indent=1))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
