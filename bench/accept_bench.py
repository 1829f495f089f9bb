"""How long a moderator waits after clicking Accept: ``kb.contribute.moderation.accept`` on copies of
the real built store, this tree's code (the derived graphs brought up to date incrementally,
kb/build/incremental.py) beside the code before (``--baseline-src``: a source tree whose accept
derives everything from the whole store), alternating in one run. Each accept runs in a child
process with networkx imported and the store opened first (as in a server), timing only the
``accept`` call; each publishes a new project with three partners (new shortcuts, collaborations,
partner countries, network links). At the end a full derivation of this tree's store must find
nothing to change (the incremental result is the full one).

    git -C /work/main archive 089a00c kb ontology shapes | tar -x -C /tmp/base
    .venv/bin/python bench/accept_bench.py --store /path/to/built/store --baseline-src /tmp/base --accepts 5

``--store``: a built store (``dsikb init``'s directory, closed), copied to bench/out/accept/ per
tree; without it the real data in ../shared/data/dsi is built there first (about a minute).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.settings import Settings  # noqa: E402
from kb.store import KB  # noqa: E402

OUT = ROOT / "bench" / "out" / "accept"
SOURCES = ROOT.parent / "shared" / "data" / "dsi"
ORG = "https://w3id.org/dsi/id/organisation/"
PARTNERS = [("nesta", "delivery-lead"), ("waag-society", "co-funder"), ("swirrl", "delivery-partner"),
            ("ouishare", "delivery-partner"), ("forum-virium-helsinki", "co-funder"), ("futureeverything", "evaluator")]


def build(dest: Path) -> Path:
    from kb.build.init import init

    settings = Settings.from_env(environ={}, store=str(dest), sources=str(SOURCES))
    kb = KB.open(settings)
    t0 = time.perf_counter()
    init(settings, kb=kb)
    kb.flush()
    print(f"built the real data in {time.perf_counter() - t0:.0f} s", flush=True)
    del kb
    return dest


def copy(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest)
    state = source.with_name(source.name + ".state.json")
    if state.exists():
        shutil.copy(state, dest.with_name(dest.name + ".state.json"))
    return dest


def body(i: int) -> str:
    partners = [PARTNERS[(i + k) % len(PARTNERS)] for k in range(3)]
    return json.dumps({
        "type": "project", "name": f"Accept Bench Project {i}", "website": f"https://bench{i}.example.org/",
        "shortDescription": "Timing an accept.", "country": "United Kingdom", "city": "Manchester",
        "areasOfSociety": ["energy-and-environment"], "technologyFocus": ["open-data"],
        "partners": [{"organisation": ORG + o, "role": r} for o, r in partners]})


# one accept in a child process: argv = source tree, store, sources, submission body; prints seconds
ACCEPT = """import sys, time
sys.path.insert(0, sys.argv[1])
import networkx  # noqa: F401  (a server has it loaded: not part of an accept's time)
from kb.settings import Settings
from kb.store import KB
from kb.contribute.queue import SubmissionStore
from kb.contribute.submissions import submit
from kb.contribute import moderation
import kb.publish.network  # noqa: F401
kb = KB.open(Settings.from_env(environ={}, store=sys.argv[2], sources=sys.argv[3]))
subs = SubmissionStore.for_kb(kb)
sid = submit(kb, subs, sys.argv[4].encode(), "application/json").submission.id
t0, c0 = time.perf_counter(), time.process_time()
moderation.accept(kb, subs, sid, "bench")
print(time.perf_counter() - t0, time.process_time() - c0)
"""


def accept(src: Path, store: Path, data: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process: on a shared machine the steadier figure)"""
    out = subprocess.run([sys.executable, "-c", ACCEPT, str(src), str(store), str(SOURCES), data],
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(src)})
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    wall, cpu = out.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, help="a built store directory to copy (default: build one)")
    parser.add_argument("--baseline-src", type=Path, help="source tree of the code before (optional)")
    parser.add_argument("--accepts", type=int, default=5, help="accepts per tree (alternating)")
    args = parser.parse_args()

    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    source = args.store or build(OUT / "built" / "store")
    trees = {"incremental (this tree)": ROOT}
    if args.baseline_src:
        trees["full derive (before)"] = args.baseline_src
    stores = {name: copy(source, OUT / f"tree-{i}" / "store") for i, name in enumerate(trees)}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    for i in range(args.accepts):
        for name, src in trees.items():
            times[name].append(accept(src, stores[name], body(i)))
            print(f"  accept {i + 1} {name:24} {times[name][-1][0]:6.2f} s ({times[name][-1][1]:6.2f} s CPU)", flush=True)

    from kb.build.derive import derive

    kb = KB.open(Settings.from_env(environ={}, store=str(stores["incremental (this tree)"]), sources=str(SOURCES)))
    print(f"{kb.quad_count():,} quads after the accepts", flush=True)
    states = derive(kb)
    changed = sorted(g for g, state in states.items() if state != "unchanged")
    print("a full derivation after the incremental accepts:", "nothing to change" if not changed else f"CHANGED {changed}")
    print()
    print("| accept | median s | min s | max s | median CPU s | accepts |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, ts in times.items():
        wall = [w for w, _ in ts]
        print(f"| {name} | {statistics.median(wall):.2f} | {min(wall):.2f} | {max(wall):.2f} | "
              f"{statistics.median(c for _, c in ts):.2f} | {len(ts)} |")
    if args.baseline_src:
        med = {name: (statistics.median(w for w, _ in ts), statistics.median(c for _, c in ts)) for name, ts in times.items()}
        full, inc = med["full derive (before)"], med["incremental (this tree)"]
        print(f"\nratio of medians: {full[0] / inc[0]:.1f}x wall, {full[1] / inc[1]:.1f}x CPU")
    if changed:
        sys.exit(1)


if __name__ == "__main__":
    main()
