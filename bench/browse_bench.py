"""The browse table at scale: build time (wall and CPU), memory, and listing() latency, in-process.

Run by hand (not part of the test suite) against a store loaded with ``dsikb load`` (bench/synth.py
data), with PYTHONPATH pointing at the code to measure, so the old and the new code can be compared
side by side on the same store::

    PYTHONPATH=$PWD .venv/bin/python bench/browse_bench.py /tmp/browse-scale/store-1000000 [--profile]

Prints one JSON line: the build of the organisation and project tables (wall s, CPU s, RSS growth
MiB; the new code builds every type's table in the first call), then the median wall and CPU ms of a
few listings (unfiltered page 1 and 40, a facet-filtered list, a filtered list's page 2, sort by
-projects, projects page 40) over ``--runs`` rounds: ``listing_ms`` with the counts, filtered
lists and kept Rows forgotten before each (what a new filter or page costs), ``listing_again_ms`` the same request
again. ``--profile`` prints the top of a cProfile of the build instead.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # last: PYTHONPATH chooses the code measured


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def forget(browse) -> None:
    """Drop the memoised answers, so each listing is computed as for a new request."""
    for _, tables in list(browse._cache.values()):
        for tab in tables.values():
            tab.memo.pop("filtered", None)
            getattr(tab, "_recent", {}).clear()  # the new code's Rows kept once shown
            for k in [k for k in tab.memo if k and k[0] in ("counts",)]:
                tab.memo.pop(k, None)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("store")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args(argv)
    from kb.settings import Settings
    from kb.store import KB
    from kb.index import browse

    kb = KB.open(Settings.from_env(environ={}, store=args.store))
    out = {"store": args.store, "code": str(Path(browse.__file__).resolve().parent.parent.parent)}
    before = rss_mib()
    if args.profile:
        import cProfile
        import pstats
        prof = cProfile.Profile()
        prof.enable()
        try:  # the new code builds in a thread of its own: profile its build function here
            from kb.index.browse_table import build_all
            build_all(kb)
        except ImportError:
            for t in ("organisation", "project"):
                browse.table(kb, t)
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)
        return 0
    for t in ("organisation", "project"):
        tab, wall, cpu = timed(lambda: browse.table(kb, t))
        out[f"build_{t}"] = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2)}
    out["build_rss_mib"] = round(rss_mib() - before, 1)
    whole = browse.listing(kb, "organisation")
    out["organisations"] = whole.total
    area = next(f for f in whole.facets if f["key"] == "area")["values"][0]["slug"]
    country = next(f for f in whole.facets if f["key"] == "country")["values"][0]["slug"]
    pages = whole.pages
    cases = {
        "page1": dict(),
        "page40": dict(page=min(40, pages)),
        "filtered": dict(filters={"area": [area]}),
        "filtered2": dict(filters={"area": [area], "country": [country]}, page=2),
        "-projects": dict(sort="-projects", page=min(3, pages)),
        "project-page40": dict(type_="project", page=min(40, pages)),
    }
    for name, kw in cases.items():  # the sort orders, computed once per table in both versions
        kw = dict(kw)
        browse.listing(kb, kw.pop("type_", "organisation"), **kw)
    times: dict[str, list] = {k: [] for k in cases}
    again: dict[str, list] = {k: [] for k in cases}
    for _ in range(args.runs):
        for name, kw in cases.items():
            forget(browse)
            kw = dict(kw)
            t = kw.pop("type_", "organisation")
            _, wall, cpu = timed(lambda: browse.listing(kb, t, **kw))
            times[name].append((wall, cpu))
            _, wall, cpu = timed(lambda: browse.listing(kb, t, **kw))
            again[name].append((wall, cpu))

    def medians(found):
        return {k: {"wall": round(statistics.median(w for w, _ in v) * 1000, 2),
                    "cpu": round(statistics.median(c for _, c in v) * 1000, 2)} for k, v in found.items()}
    out["listing_ms"] = medians(times)  # counts and filtered lists computed for this request
    out["listing_again_ms"] = medians(again)  # the same request again (memoised counts and filters)
    out["rss_mib"] = round(rss_mib(), 1)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
