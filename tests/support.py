"""Shared test machinery: a live server on 127.0.0.1 and a headless Chromium, for the tests where a
real client is the point (SPARQLWrapper, browsers)."""

from __future__ import annotations

import contextlib
import shutil
import threading
import weakref
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

TEST_INDEX_WAIT = 60.0  # DSIKB_INDEX_WAIT of test stores (tests of the stale path set their own)


def make_app(kb):
    """The app over an open store, in testing mode (errors surface in the test, not as a 500 page)."""
    from endpoint import create_app

    app = create_app(kb.settings, kb=kb)
    app.config["TESTING"] = True
    return app


def counted_figures(client, deadline: float = 120) -> dict:
    """The store's figures from /healthz once they are counted for its generation: a probe waits 1 s
    for a count and then answers ``"counting": true`` (kb.publish.stats), which a loaded machine can
    reach on the real data."""
    import time

    end = time.monotonic() + deadline
    while True:
        figures = client.get("/healthz").get_json()["store"]
        if "counting" not in figures or time.monotonic() > end:
            return figures
        time.sleep(0.1)


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


def remote() -> bool:
    return BACKEND == "remote"


# Servers started for store directories, by resolved path; each belongs to the fixture (module or
# session scope) or the test that started it and stops when that ends (tests/conftest.py's hooks).
SERVERS: dict = {}  # Path -> tests.remote.OxigraphServer
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
    if server is None or server.process is None or server.process.poll() is not None:
        from tests.remote import OxigraphServer

        server = SERVERS[key] = OxigraphServer(key).start()
        (OWNERS[-1] if OWNERS else TEST_OWNED).append(key)
    return server.store


def queue_beside(path) -> str:
    """The submission queue of the store directory ``path`` (a remote one too): beside it, as
    ``DSIKB_SUBMISSIONS_DB`` defaults to for an on-disk store."""
    path = Path(path)
    return str(path.with_name(path.name + ".submissions.sqlite"))


def stop_servers(paths: list[Path]) -> None:
    """Stop these servers, closing first the remote knowledge bases still connected to them."""
    while paths:
        server = SERVERS.pop(paths.pop(), None)
        if server is not None:
            for client in list(CLIENTS):
                if client.query_url.startswith(server.url + "/"):
                    client.close()
            server.stop()


# Every remote knowledge base this process opened (weakly), so the servers' teardown can close their
# connections: one left to the garbage collector is an unclosed socket, a ResourceWarning (an error here).
CLIENTS: "weakref.WeakSet" = weakref.WeakSet()


def track_remote_clients() -> None:
    from kb.store.remote import RemoteKB

    if getattr(RemoteKB.__init__, "tracked", False):
        return
    init = RemoteKB.__init__

    def tracked(self, *args, **kwargs):
        init(self, *args, **kwargs)
        CLIENTS.add(self)

    tracked.tracked = True
    RemoteKB.__init__ = tracked


def open_served(path, **overrides):
    """A knowledge base over an Oxigraph server on the store directory ``path``, as after ``dsikb init``
    onto it: one write, so the store holds its generation and modification time."""
    from kb.store import KB
    from kb.settings import Settings

    from tests.conftest import SOURCES

    overrides.setdefault("submissions_db", queue_beside(path))
    overrides.setdefault("index_wait", TEST_INDEX_WAIT)
    kb = KB.open(Settings.from_env(environ={}, store=serve_dir(path), sources=str(SOURCES), **overrides))
    kb.bump()
    return kb


BUILT_DIR: Path | None = None  # the built store's directory (tests/conftest.py's built_store_dir)


def copy_built(built_kb, dest) -> Path:
    """A private copy of the built store at ``dest`` (a directory nothing holds open), for a test to
    open with ``KB.open(settings_for(dest))``: on the remote backend that gives it its own server."""
    dest = Path(dest)
    if remote():
        return copy_store_dir(BUILT_DIR, dest)
    built_kb.flush()
    built_kb.store.backup(str(dest))
    state = built_kb.path.with_name(built_kb.path.name + ".state.json")
    if state.exists():
        shutil.copy(state, dest.with_name(dest.name + ".state.json"))
    return dest


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
    store.extend(kb.quads())
    store.flush()
    del store
    gc.collect()
    served = KB.open(kb.settings.replace(store=serve_dir(dest), submissions_db=queue_beside(dest)))
    served.bump()
    return served
