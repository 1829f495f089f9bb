"""A real, writable ``oxigraph serve`` (PyPI ``oxigraph``, its binary in the venv) for tests of the
remote store (``DSIKB_STORE=sparql+http://...``).

API::

    server = OxigraphServer(location)      # a store directory (created if absent); not started
    server.start()                         # on 127.0.0.1:<free port>; waits until it answers
    server.store                           # "sparql+http://127.0.0.1:PORT": a DSIKB_STORE value
    server.url                             # "http://127.0.0.1:PORT"
    server.settings(**overrides)           # Settings pointing at it (tests.conftest.settings_for)
    server.stop(); server.start()          # the same location and port: a store that went away
    server.close()                         # stop for good

Fixtures (import them into a test module or conftest: ``from tests.remote import oxigraph_server``):

- ``oxigraph_server``: an empty server for one test;
- ``remote_built``: a server over a copy of ``built_kb`` (the real data as ``dsikb init`` builds
  it), one per test module: started from a copy of the store's directory, no slow load over HTTP.
"""

from __future__ import annotations

import gc
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

OXIGRAPH = shutil.which("oxigraph", path=str(Path(sys.executable).parent)) or shutil.which("oxigraph")


QUERY_TIMEOUT_S = 120  # seconds the servers let a query run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OxigraphServer:
    def __init__(self, location: Path, port: int | None = None):
        self.location = Path(location)
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def store(self) -> str:
        return "sparql+" + self.url

    def settings(self, **overrides):
        """Settings for this server, its submission queue beside its directory."""
        from tests.conftest import settings_for
        from tests.support import queue_beside

        overrides.setdefault("submissions_db", queue_beside(self.location))
        return settings_for(self.store, **overrides)

    def start(self, timeout: float = 30) -> "OxigraphServer":
        """Start the server (``QUERY_TIMEOUT_S`` stops a query the app gave up on: a client's timeout
        alone does not, and a runaway query would grow the server's memory); its log is beside its
        directory."""
        if OXIGRAPH is None:
            pytest.fail("the oxigraph server binary (PyPI package `oxigraph`, in the [test] extra) is missing")
        self.location.mkdir(parents=True, exist_ok=True)
        log = self.location.with_name(self.location.name + ".oxigraph.log")
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [OXIGRAPH, "serve", "--location", str(self.location), "--bind", f"127.0.0.1:{self.port}",
                 "--timeout-s", str(QUERY_TIMEOUT_S)], stdout=out, stderr=out, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.url + "/query?query=ASK%7B%7D", timeout=2):
                    return self
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    pytest.fail(f"oxigraph serve did not start: {log.read_text(errors='replace')[-2000:]}")
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    close = stop

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


@pytest.fixture()
def oxigraph_server(tmp_path):
    with OxigraphServer(tmp_path / "oxigraph") as server:
        yield server


@pytest.fixture(scope="module")
def remote_built(built_kb, tmp_path_factory):
    """On either backend: a copy of the built store's directory (the embedded store's own backup, or
    on the remote backend a copy of the closed directory it serves), served by a server of its own."""
    from tests.support import copy_built

    location = copy_built(built_kb, tmp_path_factory.mktemp("remote-built") / "db")
    gc.collect()
    with OxigraphServer(location) as server:
        yield server
