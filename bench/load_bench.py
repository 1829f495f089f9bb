"""Benchmark: ``dsikb load`` of N synthetic triples side by side with raw ``pyoxigraph.Store.bulk_load``.

Both run as child processes on a fresh store, alternating, in the same run; wall time and peak
memory (``os.wait4`` rusage of each child) are reported as medians, with the ratio dsikb / raw.

    .venv/bin/python bench/load_bench.py --triples 1000000 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import synth  # noqa: E402

GRAPH = "https://w3id.org/dsi/graph/bench"
RAW = (
    "import sys, pyoxigraph as ox\n"
    "s = ox.Store(sys.argv[1])\n"
    "s.bulk_load(path=sys.argv[2], format=ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode(sys.argv[3]))\n"
    "s.flush()\n"
)

# The loader's first design, for comparison: parse the whole file once to prove it well formed, then
# bulk load, with a COUNT of the whole store before and after.
TWO_PASS = (
    "import sys, pyoxigraph as ox\n"
    "s = ox.Store(sys.argv[1])\n"
    "q = 'SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }'\n"
    "before = int(next(iter(s.query(q)))['n'].value)\n"
    "with open(sys.argv[2], 'rb') as fh:\n"
    "    for _ in ox.parse(fh, ox.RdfFormat.N_TRIPLES): pass\n"
    "s.bulk_load(path=sys.argv[2], format=ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode(sys.argv[3]))\n"
    "after = int(next(iter(s.query(q)))['n'].value)\n"
    "s.flush()\n"
)


def run(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process; fails loudly when it fails."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    err = proc.stderr.read().decode()
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {err}")
    return seconds, usage.ru_maxrss / 1024


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triples", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", help="where to write the file and stores (default: a temp dir)")
    parser.add_argument("--two-pass", action="store_true", help="also time the first (two-pass) design")
    args = parser.parse_args(argv)

    work = Path(args.workdir or tempfile.mkdtemp(prefix="dsikb-load-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / f"synth-{args.triples}.nt"
    if not data.exists():
        synth.write(args.triples, data)
    print(f"file: {data} ({data.stat().st_size / 1e6:.1f} MB, {args.triples} triples)")

    results = {"dsikb load": [], "raw bulk_load": []}
    if args.two_pass:
        results["two-pass design"] = []
    env_python = sys.executable
    for i in range(args.repeat):
        for name in results:
            store = work / f"store-{name.split()[0]}-{i}"
            shutil.rmtree(store, ignore_errors=True)
            if name == "dsikb load":
                cmd = [env_python, "-m", "kb.cli", "load", "--store", str(store), "--graph", GRAPH, str(data)]
            elif name == "two-pass design":
                cmd = [env_python, "-c", TWO_PASS, str(store), str(data), GRAPH]
            else:
                cmd = [env_python, "-c", RAW, str(store), str(data), GRAPH]
            results[name].append(run(cmd))
            shutil.rmtree(store, ignore_errors=True)
            print(f"  run {i + 1} {name:14} {results[name][-1][0]:7.2f} s  {results[name][-1][1]:7.0f} MiB")

    med = {k: (statistics.median(s for s, _ in v), statistics.median(m for _, m in v)) for k, v in results.items()}
    print(f"\n| what | median s | triples/s | peak RSS MiB |\n|---|---|---|---|")
    for name, (sec, mem) in med.items():
        print(f"| {name} | {sec:.2f} | {args.triples / sec:,.0f} | {mem:.0f} |")
    ratio = med["dsikb load"][0] / med["raw bulk_load"][0]
    print(f"\nratio dsikb/raw: {ratio:.2f}x (target <= 1.2x) over {args.repeat} runs")
    if "two-pass design" in med:
        print(f"ratio two-pass design/raw: {med['two-pass design'][0] / med['raw bulk_load'][0]:.2f}x")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
