"""The network of organisations off the request path (kb/publish/network_job.py), on a big store:

1. how long a moderator waits for Accept with the network figures computed in the accept's
   transaction (``DSIKB_NETWORK_INLINE_MAX`` above the network's size: before) and left to the
   background job (``DSIKB_NETWORK_INLINE_MAX=0``), alternating in one run, each accept in a child
   process with the store opened and networkx loaded first (as bench/accept_bench.py), timing only
   ``accept``; for a deferred accept, also when the job has written the figures;
2. ``/browse`` latency (one client, the Flask app in this process, lists built first) for up to
   ``--seconds`` each: with nothing else running, while the background job computes the network in
   its child process, and while the network is computed in a thread of this process (as the start-up
   warm-up did: it holds the interpreter).

    .venv/bin/python bench/network_job_bench.py --store /tmp/netjob/big/store --accepts 2

``--store`` is copied first (to ``--work``), never written. It needs the derived graphs (an accept
on a store without them derives everything from scratch).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.settings import Settings  # noqa: E402

ORG = "https://w3id.org/dsi/id/organisation/"

ACCEPT = """import json, sys, time
sys.path.insert(0, sys.argv[1])
import networkx  # noqa: F401  (a server has it loaded: not part of an accept's time)
from kb.settings import Settings
from kb.store import KB
from kb.contribute.queue import SubmissionStore
from kb.contribute.submissions import submit
from kb.contribute import moderation
from kb.publish import network_job
kb = KB.open(Settings.from_env(environ={"DSIKB_NETWORK_INLINE_MAX": sys.argv[3]}, store=sys.argv[2], sources=""))
subs = SubmissionStore.for_kb(kb)
sid = submit(kb, subs, sys.argv[4].encode(), "application/json").submission.id
t0, c0 = time.perf_counter(), time.process_time()
moderation.accept(kb, subs, sid, "bench")
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
if sys.argv[5] == "wait":
    network_job.wait(kb, 7200)  # a deferred accept's figures: written by the job's child process
job = network_job.job(kb)
print(json.dumps({"wall": wall, "cpu": cpu, "written": time.perf_counter() - t0 if job and job.ended else None,
                  "rounds": job.rounds if job else 0, "error": repr(job.error) if job and job.error else None}))
"""


def body(i: int, orgs: list[str]) -> str:
    return json.dumps({
        "type": "project", "name": f"Network Job Bench Project {i}", "website": f"https://netjob{i}.example.org/",
        "shortDescription": "Timing an accept.", "country": "United Kingdom", "city": "Manchester",
        "areasOfSociety": ["energy-and-environment"], "technologyFocus": ["open-data"],
        "partners": [{"organisation": o, "role": "delivery-partner"} for o in orgs]})


def accepts(store: Path, n: int, which: str = "both", wait_job: bool = True) -> dict[str, list[dict]]:
    modes = {"inline (network in the accept)": str(10 ** 9), "deferred (background job)": "0"}
    if which != "both":
        modes = {k: v for k, v in modes.items() if k.startswith(which)}
    out: dict[str, list[dict]] = {m: [] for m in modes}
    for i in range(n):
        for name, limit in modes.items():
            partners = [f"{ORG}synth-org-{k}" for k in (11 + 3 * i, 500 + 7 * i, 9000 + 13 * i)]
            run = subprocess.run([sys.executable, "-c", ACCEPT, str(ROOT), str(store), limit, body(len(out[name]) * 2 + (name[0] == "d"), partners),
                                  "wait" if wait_job else "no"],
                                 capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
            if run.returncode:
                raise SystemExit(run.stderr[-3000:])
            out[name].append(json.loads(run.stdout.strip().splitlines()[-1]))
            print(f"  accept {i + 1} {name:32} {out[name][-1]}", flush=True)
    return out


def browse_latency(store: Path, seconds: float) -> None:
    from kb.index import browse
    from kb.publish import network, network_job
    from kb.store import KB
    from tests.support import make_app

    kb = KB.open(Settings.from_env(environ={}, store=str(store), sources=""))
    client = make_app(kb).test_client()
    browse.tables(kb)
    urls = [f"/browse/organisation?page={p}" for p in range(1, 11)] + \
           [f"/browse/project?page={p}&sort=-start" for p in range(1, 11)]

    def sample(until) -> list[float]:
        times, i = [], 0
        while until():
            t0 = time.perf_counter()
            assert client.get(urls[i % len(urls)]).status_code == 200, urls[i % len(urls)]
            times.append((time.perf_counter() - t0) * 1000)
            i += 1
        return times

    def report(name: str, times: list[float], extra: str = "") -> None:
        q = statistics.quantiles(times, n=20)
        print(f"| {name} | {len(times)} | {statistics.median(times):.1f} | {q[18]:.1f} | {max(times):.1f} |{extra}", flush=True)

    print("| /browse, 1 client | requests | p50 ms | p95 ms | max ms |")
    print("| --- | ---: | ---: | ---: | ---: |")
    end = time.monotonic() + seconds
    report("nothing else running", sample(lambda: time.monotonic() < end))

    network._cache.pop(kb, None)
    network_job.refresh(kb)
    end = time.monotonic() + seconds
    report("network computed by the background job's child process (after)",
           sample(lambda: time.monotonic() < end and not network_job.job(kb).ended))
    job = network_job.job(kb)
    if job.process is not None:
        job.process.kill()  # enough seen: the next case needs the CPU as it was
    network_job.wait(kb, 60)

    done = threading.Event()
    threading.Thread(target=lambda: (network.compute(kb), done.set()), daemon=True).start()
    end = time.monotonic() + seconds
    report("network computed in a thread of the web process (before)",
           sample(lambda: time.monotonic() < end and not done.is_set()))
    # the thread is left to die with the process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, required=True, help="a store with the derived graphs (copied first)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/netjob/bench"), help="where the copy goes")
    parser.add_argument("--accepts", type=int, default=2, help="accepts per mode (alternating)")
    parser.add_argument("--seconds", type=float, default=60, help="longest /browse sample per case")
    parser.add_argument("--skip-accepts", action="store_true")
    parser.add_argument("--modes", choices=("both", "inline", "deferred"), default="both")
    parser.add_argument("--no-wait-job", action="store_true",
                        help="a deferred accept's process ends without waiting for the job (its child is stopped)")
    parser.add_argument("--skip-browse", action="store_true")
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    store = args.work / "store"
    shutil.copytree(args.store, store)
    state = args.store.with_name(args.store.name + ".state.json")
    if state.exists():
        shutil.copy(state, store.with_name("store.state.json"))
    if not args.skip_accepts:
        times = accepts(store, args.accepts, args.modes, not args.no_wait_job)
        print("\n| accept | median s | median CPU s | figures written after (median s) | accepts |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for name, ts in times.items():
            written = [t["written"] for t in ts if t["written"] is not None and name.startswith("deferred")]
            print(f"| {name} | {statistics.median(t['wall'] for t in ts):.2f} | "
                  f"{statistics.median(t['cpu'] for t in ts):.2f} | "
                  f"{statistics.median(written) if written else '-'} | {len(ts)} |")
        if len(times) == 2:
            inline, deferred = times.values()
            print(f"\nratio of medians (inline / deferred): {statistics.median(t['wall'] for t in inline) / statistics.median(t['wall'] for t in deferred):.1f}x wall, "
                  f"{statistics.median(t['cpu'] for t in inline) / statistics.median(t['cpu'] for t in deferred):.1f}x CPU\n", flush=True)
    if not args.skip_browse:
        browse_latency(store, args.seconds)


if __name__ == "__main__":
    main()
