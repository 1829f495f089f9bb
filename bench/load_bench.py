"""Benchmark: ``dsikb load`` of N synthetic statements side by side with ``oxigraph load`` (the CLI of
the ``oxigraph`` PyPI package), for every format, on a fresh store each time.

Each run is a child process, the tools alternating within a format, in the same run; wall time and
peak memory (``os.wait4`` rusage of the child) are reported as medians, with the ratio dsikb / oxigraph.
Triple formats go into one named graph with both tools (``--graph``). ``dsikb load`` leaves the public
default graph to the next open of the store (kb/store/loader.py): that open is timed too (``view``,
a child process opening the store), and ``load + view`` is what a load costs until the store is served.

    .venv/bin/python bench/load_bench.py --triples 1000000 --repeat 3 --formats nq,nt,ttl,trig,rdf \\
        --workdir /tmp/dsikb-load-bench
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
OXIGRAPH = Path(sys.executable).parent / "oxigraph"
QUADS = ("nq", "trig")
OPEN = "import sys; from kb.settings import Settings; from kb.store import KB; KB.open(Settings.from_env(store=sys.argv[1]))"


def run(cmd: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MiB) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    err = proc.stderr.read().decode()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{' '.join(cmd)} failed: {err[-2000:]}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triples", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--formats", default="nq,nt,ttl,trig,rdf")
    parser.add_argument("--workdir", help="where to write the files and stores (default: a temp dir, removed)")
    args = parser.parse_args(argv)

    work = Path(args.workdir or tempfile.mkdtemp(prefix="dsikb-load-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for fmt in args.formats.split(","):
        data = work / f"synth-{args.triples}.{fmt}"
        if not data.exists():
            synth.write(args.triples, data)
        graph = [] if fmt in QUADS else ["--graph", GRAPH]
        print(f"{fmt}: {data} ({data.stat().st_size / 1e6:.1f} MB); load average {os.getloadavg()[0]:.1f}", flush=True)
        res: dict[str, list] = {"dsikb load": [], "oxigraph load": [], "view": []}
        for i in range(args.repeat):
            for name in ("dsikb load", "oxigraph load"):
                store = work / f"store-{fmt}-{name.split()[0]}-{i}"
                shutil.rmtree(store, ignore_errors=True)
                if name == "dsikb load":
                    cmd = [sys.executable, "-m", "kb.cli", "load", "--store", str(store), *graph, str(data)]
                else:
                    cmd = [str(OXIGRAPH), "load", "--location", str(store), "--file", str(data), *graph]
                res[name].append(run(cmd))
                line = f"  run {i + 1} {name:14} {res[name][-1][0]:7.2f} s ({res[name][-1][1]:6.2f} s CPU) {res[name][-1][2]:6.0f} MiB"
                if name == "dsikb load":
                    res["view"].append(run([sys.executable, "-c", OPEN, str(store)]))
                    line += f"; view at next open {res['view'][-1][0]:6.2f} s ({res['view'][-1][1]:6.2f} s CPU)"
                print(line, flush=True)
                shutil.rmtree(store, ignore_errors=True)
                Path(str(store) + ".state.json").unlink(missing_ok=True)
        med = {k: [statistics.median(x[j] for x in v) for j in range(3)] for k, v in res.items()}
        both = statistics.median(a[0] + b[0] for a, b in zip(res["dsikb load"], res["view"]))
        rows.append((fmt, med, both))
        print(f"  ratio {med['dsikb load'][0] / med['oxigraph load'][0]:.2f} (CPU "
              f"{med['dsikb load'][1] / med['oxigraph load'][1]:.2f}); load + view {both / med['oxigraph load'][0]:.2f}",
              flush=True)
        if not args.workdir:
            data.unlink()
    print(f"\n| format | dsikb load s | oxigraph load s | ratio | CPU s dsikb / oxigraph | view at next open s "
          f"| load + view ratio | peak MiB dsikb / oxigraph |\n|---|---:|---:|---:|---:|---:|---:|---:|")
    for fmt, med, both in rows:
        d, o, v = med["dsikb load"], med["oxigraph load"], med["view"]
        print(f"| {fmt} | {d[0]:.2f} | {o[0]:.2f} | **{d[0] / o[0]:.2f}** | {d[1]:.1f} / {o[1]:.1f} | {v[0]:.2f} "
              f"| {both / o[0]:.2f} | {d[2]:.0f} / {o[2]:.0f} |")
    print(f"\n{args.triples:,} statements, medians of {args.repeat}; target: ratio <= 1.2")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
