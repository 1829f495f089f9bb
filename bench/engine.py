"""An ``oxigraph serve-read-only`` over a copy of a store, for the benches that run the app in the
remote layout (bench/columns_bench.py, bench/memory_steps_bench.py, bench/memory_threads_bench.py)."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from pathlib import Path


@contextlib.contextmanager
def served_copy(store: str, prefix: str):
    """Yields (a work folder, the server's query URL); stops the server and removes both after."""
    from tests.test_ops import OXIGRAPH, free_port, wait_for

    work = Path(tempfile.mkdtemp(prefix=prefix))
    copy = work / "store"
    shutil.copytree(store, copy, ignore=shutil.ignore_patterns("LOCK"))
    port = free_port()
    engine = subprocess.Popen([OXIGRAPH, "serve-read-only", "--location", str(copy), "--bind", f"127.0.0.1:{port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{port}/query?query=ASK%7B%7D", engine, 60)
        yield work, f"http://127.0.0.1:{port}/query"
    finally:
        engine.terminate()
        engine.wait(30)
        shutil.rmtree(work, ignore_errors=True)
