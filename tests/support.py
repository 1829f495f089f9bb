"""Shared test machinery: a live server on 127.0.0.1 and a headless Chromium, for the tests where a
real client is the point (SPARQLWrapper, browsers)."""

from __future__ import annotations

import contextlib
import shutil
import threading
from pathlib import Path
from typing import Iterator

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# As this machine's Chromium needs them: no sandbox as root, and no background connections, which
# the closed network would refuse many at a time.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage"]
ARTIFACTS = Path(__file__).parent / "artifacts"  # screenshots the browser tests keep (gitignored)


def make_app(kb):
    """The app over an open store, in testing mode (errors surface in the test, not as a 500 page)."""
    from endpoint import create_app

    app = create_app(kb.settings, kb=kb)
    app.config["TESTING"] = True
    return app


@contextlib.contextmanager
def live_server(app) -> Iterator[str]:
    """Serve ``app`` on a free port of 127.0.0.1 in a thread; yields its root URL (no trailing /)."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):
            pass

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextlib.contextmanager
def chromium(profile: Path, *, width: int = 1200, height: int = 900):
    """A headless Chromium (Debian's, driven by Playwright) with a fresh profile; skips the test
    when Chromium or Playwright is missing (.ci/run installs both)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (no browser download)")
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": width, "height": height})
        try:
            yield context
        finally:
            context.close()


# -- the store backend the suite runs on (tests/conftest.py: --backend / DSIKB_TEST_BACKEND) ---------
# "embedded": the knowledge base in an on-disk pyoxigraph store in this process (the default);
# "remote": every store a test builds is served by its own `oxigraph serve` (the PyPI binary) on a free
# port of 127.0.0.1, and the knowledge base talks to it over SPARQL (DSIKB_STORE=sparql+http://...).
BACKENDS = ("embedded", "remote")
BACKEND = "embedded"
BASETEMP: Path | None = None  # pytest's temp root: only store directories under it get a server
OXIGRAPH = (shutil.which("oxigraph", path=str(Path(__import__("sys").executable).parent))
            or shutil.which("oxigraph"))


def remote() -> bool:
    return BACKEND == "remote"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OxigraphServer:
    """``oxigraph serve --location DIR`` on a free loopback port (read-write: /query, /update, /store);
    its log goes to ``DIR.oxigraph.log``. ``start()`` waits until it answers a query."""

    def __init__(self, location: Path):
        self.location = Path(location)
        self.process = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 30) -> "OxigraphServer":
        import subprocess
        import time
        import urllib.request

        if OXIGRAPH is None:
            pytest.fail("the oxigraph server binary (PyPI package `oxigraph`, in the [test] extra) is missing")
        self.location.mkdir(parents=True, exist_ok=True)
        log = self.location.with_name(self.location.name + ".oxigraph.log")
        for _attempt in range(3):  # the free port may be taken between choosing and binding it
            self.port = _free_port()
            with open(log, "ab") as out:
                self.process = subprocess.Popen(
                    [OXIGRAPH, "serve", "--location", str(self.location), "--bind", f"127.0.0.1:{self.port}"],
                    stdout=out, stderr=out, stdin=subprocess.DEVNULL)
            deadline = time.monotonic() + timeout
            while self.process.poll() is None and time.monotonic() < deadline:
                try:
                    with urllib.request.urlopen(self.url + "/query?query=ASK%7B%7D", timeout=2):
                        return self
                except OSError:
                    time.sleep(0.05)
            self.stop()
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        pytest.fail(f"oxigraph serve --location {self.location} did not start:\n{tail}")

    def stop(self) -> None:
        import subprocess

        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None


def store_url(server: OxigraphServer) -> str:
    """The DSIKB_STORE value for a running server."""
    return "sparql+" + server.url


# Servers started for store directories, by resolved path; each belongs to the fixture (module or
# session scope) or the test that started it and stops when that ends (tests/conftest.py's hooks).
SERVERS: dict[Path, OxigraphServer] = {}
OWNERS: list[list[Path]] = []  # the stack of wider-scoped fixtures being set up
TEST_OWNED: list[Path] = []


def serves(path) -> bool:
    """Whether the remote backend serves this store path (an absolute directory under pytest's temp root)."""
    if not remote() or BASETEMP is None or isinstance(path, str) and "://" in path:
        return False
    p = Path(path)
    return p.is_absolute() and BASETEMP in p.resolve().parents


def serve_dir(path) -> str:
    """The DSIKB_STORE URL of an Oxigraph server over this store directory (started once per directory)."""
    key = Path(path).resolve()
    server = SERVERS.get(key)
    if server is None or not server.alive():
        server = SERVERS[key] = OxigraphServer(key).start()
        (OWNERS[-1] if OWNERS else TEST_OWNED).append(key)
    return store_url(server)


def stop_servers(paths: list[Path]) -> None:
    while paths:
        server = SERVERS.pop(paths.pop(), None)
        if server is not None:
            server.stop()


def copy_store_dir(source: Path, dest: Path) -> Path:
    """Copy a closed on-disk store (and its state file) to ``dest``."""
    shutil.copytree(source, dest)
    state = source.with_name(source.name + ".state.json")
    if state.exists():
        shutil.copy(state, dest.with_name(dest.name + ".state.json"))
    return dest


def on_backend(kb, dest: Path):
    """``kb`` (an embedded knowledge base, in memory or on disk) on the backend under test: itself when
    embedded; when remote, a remote knowledge base over an Oxigraph server holding a copy of all its
    quads (``dest``: a new directory under pytest's temp root)."""
    if not remote() or kb.settings.store_is_remote:
        return kb
    import gc

    import pyoxigraph as ox

    from kb.store import KB

    store = ox.Store(str(dest))
    store.extend(kb.store.quads_for_pattern(None, None, None, None))
    store.flush()
    del store
    gc.collect()
    return KB.open(kb.settings.replace(store=serve_dir(dest)))
