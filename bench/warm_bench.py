"""The first visitor's /browse over a remote store: ``dsikb serve`` of a source tree over an
``oxigraph serve-read-only`` of a store, one visitor asking /browse/organisation.json a while after
the server is up (again every second until a 200). Run it for two trees (this one, and one from
before the start-up warm-up on remote stores) and compare::

    git worktree add /tmp/old <commit>
    for src in /tmp/old $PWD; do .venv/bin/python bench/warm_bench.py STORE_DIR $src --after 30; done

Prints one JSON line per run: seconds until the app answered, each answer of the visitor (status,
seconds), and seconds from the start to the first 200.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.test_ops import OXIGRAPH, free_port, wait_for  # noqa: E402


def visit(url: str) -> tuple[int, float]:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    return status, round(time.monotonic() - started, 2)


def run(store: str, src: str, after: float) -> dict:
    port = free_port()
    engine = subprocess.Popen([OXIGRAPH, "serve-read-only", "--location", store, "--bind", f"127.0.0.1:{port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    app = None
    try:
        wait_for(f"http://127.0.0.1:{port}/query?query=ASK%7B%7D", engine, 60)
        app_port = free_port()
        started = time.monotonic()
        app = subprocess.Popen([sys.executable, "-m", "kb.cli", "serve", "--port", str(app_port),
                                "--store", f"sparql+http://127.0.0.1:{port}/query"],
                               cwd=src, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                               env={**os.environ, "PYTHONPATH": src, "DSIKB_ACCESS_LOG": "off", "DSIKB_RATE_LIMIT": "0"})
        base = f"http://127.0.0.1:{app_port}"
        wait_for(base + "/openapi.json", app, 120)  # up (older trees count the whole store per /healthz)
        up = time.monotonic() - started
        time.sleep(after)  # the first visitor comes this long after the server is up
        answers = [visit(base + "/browse/organisation.json")]
        while answers[-1][0] != 200:
            time.sleep(1)
            answers.append(visit(base + "/browse/organisation.json"))
        return {"src": src, "up_s": round(up, 1), "visitor_after_s": after, "answers": answers,
                "first_200_after_start_s": round(time.monotonic() - started, 1)}
    finally:
        if app is not None:
            os.killpg(app.pid, signal.SIGTERM)
            app.wait(30)
        engine.terminate()
        engine.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("store", help="a store directory (served read-only by oxigraph)")
    parser.add_argument("src", help="the source tree whose dsikb serve is measured")
    parser.add_argument("--after", type=float, default=30.0, help="seconds after start-up the visitor comes")
    args = parser.parse_args()
    print(json.dumps(run(args.store, args.src, args.after)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
