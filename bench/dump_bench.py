"""Benchmark: ``dsikb dump`` of a store of N synthetic triples beside ``oxigraph dump`` (the PyPI
``oxigraph`` CLI) of the same store, in one run, alternating; plus the four gzipped public dumps the
web app builds. Medians of wall time and peak memory (``os.wait4`` rusage of each child).

    .venv/bin/python bench/dump_bench.py --triples 1000000 --repeat 3

Peak memory at a quarter of N is printed too: a streaming dump keeps it flat as the store grows.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import synth  # noqa: E402
from load_bench import RAW, run  # noqa: E402

GRAPH = "https://w3id.org/dsi/graph/import/synthetic"
BUILD = (
    "import sys; sys.path.insert(0, sys.argv[3])\n"
    "from kb.store import KB\nfrom kb.settings import Settings\nfrom kb.dump import write_public_dumps\n"
    "kb = KB.open(Settings(store=sys.argv[1]), read_only=True)\n"
    "from kb import void\nwrite_public_dumps(kb, sys.argv[2], extra=void.statistics)\n"
)


def make_store(work: Path, triples: int) -> Path:
    data = work / f"synth-{triples}.nt"
    if not data.exists():
        synth.write(triples, data)
    store = work / f"store-{triples}"
    if not store.exists():
        run([sys.executable, "-c", RAW, str(store), str(data), GRAPH])
    return store


def measure(store: Path, work: Path, repeat: int, with_build: bool) -> dict[str, list[tuple[float, float]]]:
    oxigraph = shutil.which("oxigraph", path=str(Path(sys.executable).parent)) or "oxigraph"
    out = work / "out.nq"
    cases = {
        "oxigraph dump (nq)": [oxigraph, "dump", "--location", str(store), "--file", str(out)],
        "dsikb dump (nq)": [sys.executable, "-m", "kb.cli", "dump", "--store", str(store), "--format", "nq",
                            "--out", str(out)],
        "dsikb dump --public (nq)": [sys.executable, "-m", "kb.cli", "dump", "--store", str(store), "--public",
                                     "--format", "nq", "--out", str(out)],
    }
    if with_build:
        cases["4 public dumps, gzip (/dumps/)"] = [sys.executable, "-c", BUILD, str(store), str(work / "dumps"),
                                                   str(ROOT)]
    results: dict[str, list] = {name: [] for name in cases}
    for i in range(repeat):
        for name, cmd in cases.items():
            results[name].append(run(cmd))
            print(f"  run {i + 1} {name:32} {results[name][-1][0]:7.2f} s {results[name][-1][1]:7.0f} MiB")
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triples", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", help="where to keep the file and stores (default: a temp dir)")
    parser.add_argument("--no-build", action="store_true", help="skip the four gzipped public dumps")
    args = parser.parse_args(argv)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="dsikb-dump-bench-"))
    work.mkdir(parents=True, exist_ok=True)

    quarter = make_store(work, args.triples // 4)
    print(f"store of {args.triples // 4} triples (memory at a quarter of the size):")
    small = measure(quarter, work, 1, False)
    store = make_store(work, args.triples)
    print(f"store of {args.triples} triples:")
    results = measure(store, work, args.repeat, not args.no_build)

    print(f"\n| what | median s ({args.triples:,} triples) | peak RSS MiB | peak RSS MiB at {args.triples // 4:,} |")
    print("|---|---|---|---|")
    med = {}
    for name, runs in results.items():
        med[name] = statistics.median(s for s, _ in runs)
        mem = statistics.median(m for _, m in runs)
        mem_small = f"{small[name][0][1]:.0f}" if name in small else "-"
        print(f"| {name} | {med[name]:.2f} | {mem:.0f} | {mem_small} |")
    base = med["oxigraph dump (nq)"]
    for name in med:
        if name.startswith("dsikb"):
            print(f"ratio {name} / oxigraph dump: {med[name] / base:.2f}x (target <= 1.3x)")
    print(f"over {args.repeat} runs")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
