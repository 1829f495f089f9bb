"""Shared fixtures: a real on-disk Oxigraph store built once per session from the real DSI sources.

- ``settings_for(path)``: Settings for a store directory (tests never touch ``var/``).
- ``built_kb``: the knowledge base as ``dsikb init`` builds it (ontology, taxonomies, shapes, curated
  data, both real imports), in a session temp dir. Read-only for tests: copy it (``kb_copy``) to write.
- ``app`` / ``client``: the Flask app over ``built_kb`` and its test client.
- ``kb_copy``: a private writable copy of the built store, for tests that change data.

Backends (``--backend=embedded|remote``, or ``DSIKB_TEST_BACKEND``; default embedded): on ``remote``
every store directory a test names through ``settings_for`` (under pytest's temp root) is served by
its own ``oxigraph serve`` on a free port of 127.0.0.1, and the settings point at it
(``sparql+http://127.0.0.1:PORT``); the built store is built embedded once, then served from a copy.
Tests about the embedded store itself are marked ``@pytest.mark.embedded_only("why")`` and skipped on
remote with that reason. See tests/support.py.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest

from kb.settings import PROJECT_ROOT, Settings
from tests import support

SHARED = PROJECT_ROOT.parent / "shared"
SOURCES = SHARED / "data" / "dsi"
SPECS = SHARED / "data" / "specs"


def pytest_addoption(parser):
    parser.addoption("--backend", choices=support.BACKENDS,
                     default=os.environ.get("DSIKB_TEST_BACKEND") or "embedded",
                     help="store the suite runs on: embedded (pyoxigraph in process, the default) or "
                          "remote (an `oxigraph serve` per store, over SPARQL); env DSIKB_TEST_BACKEND")


def pytest_configure(config):
    support.BACKEND = config.getoption("--backend")
    if support.BACKEND not in support.BACKENDS:
        raise pytest.UsageError(f"DSIKB_TEST_BACKEND must be one of {support.BACKENDS}: {support.BACKEND!r}")
    if support.remote() and not config.pluginmanager.has_plugin("dsikb-servers"):
        config.pluginmanager.register(ServerOwnership(), "dsikb-servers")
        support.track_remote_clients()


def pytest_sessionstart(session):
    if support.remote():
        support.BASETEMP = session.config._tmp_path_factory.getbasetemp().resolve()


def pytest_report_header(config):
    return f"dsikb store backend: {support.BACKEND}"


def pytest_collection_modifyitems(config, items):
    for item in items:
        # schemathesis 4 gives each operation's test the same node id (test_schemathesis), which
        # pytest-xdist takes for one test: 50 of the 51 operations were never fuzzed under `make test`.
        # Each gets its own, with the operation as the parameter (test_schemathesis[GET /]).
        suffix = item.name[len(item.originalname):] if getattr(item, "originalname", None) else ""
        if suffix.startswith("[") and not item.nodeid.endswith(suffix):
            if hasattr(item, "_id"):  # pytest 9: a structured node id
                item._id = type(item._id).parse(item.nodeid + suffix)
            else:
                item._nodeid = item.nodeid + suffix
    if not support.remote():
        return
    for item in items:
        marker = item.get_closest_marker("embedded_only")
        if marker is not None:
            reason = marker.args[0] if marker.args else marker.kwargs.get("reason", "about the embedded store")
            item.add_marker(pytest.mark.skip(reason=f"embedded store only: {reason}"))


class ServerOwnership:
    """Each Oxigraph server belongs to the wider-scoped fixture that started it, or else to the test.
    A plugin of its own (registered in pytest_configure), not hooks of this conftest: a conftest's
    hooks do not see session-scoped fixtures, which are set up on the session node."""

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef, request):
        if fixturedef.scope == "function":
            return (yield)
        owned: list[Path] = []
        support.OWNERS.append(owned)
        fixturedef.addfinalizer(lambda: support.stop_servers(owned))  # runs after the fixture's teardown
        try:
            return (yield)
        finally:
            support.OWNERS.pop()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item, nextitem):
        try:
            return (yield)
        finally:  # at the module's end: a module's fixtures may keep apps a test's store started
            if nextitem is None or nextitem.module is not item.module:
                support.stop_servers(support.TEST_OWNED)
                # Collect the module's garbage now, so that a socket or file it left open is reported
                # (ResourceWarning, an error here) against this module, not against whichever later
                # test the collector happens to run in.
                gc.collect()

    def pytest_sessionfinish(self, session, exitstatus):
        support.stop_servers(list(support.SERVERS))


def settings_for(path, **overrides) -> Settings:
    """Settings for the store at ``path``; on the remote backend, for an Oxigraph server over it."""
    store = str(path)
    # a read right after a write gets the new search index and lists even on a loaded machine
    # (DSIKB_INDEX_WAIT's 5 s is ample for the real data's ~1 s rebuild on its own)
    overrides.setdefault("index_wait", support.TEST_INDEX_WAIT)
    if support.serves(path):  # the queue beside the served directory, as beside an on-disk store
        store = support.serve_dir(path)
        overrides.setdefault("submissions_db", support.queue_beside(path))
    return Settings.from_env(environ={}, store=store, sources=str(SOURCES), **overrides)


def _own_working_dir(factory, name):
    """On the remote backend, a working directory and state folder of its own: a remote store opened
    with settings that do not name its submission queue keeps it in $XDG_STATE_HOME/dsikb (kb/contribute/
    queue.py), so each session, module and test gets its own and none writes into the user's home or
    the repository's var/."""
    if not support.remote():
        yield
        return
    with pytest.MonkeyPatch.context() as mp:
        folder = factory.mktemp(name)
        mp.chdir(folder)
        mp.setenv("XDG_STATE_HOME", str(folder / "state"))
        yield


@pytest.fixture(scope="session", autouse=True)
def _session_cwd(tmp_path_factory):
    yield from _own_working_dir(tmp_path_factory, "cwd-session")


@pytest.fixture(scope="module", autouse=True)
def _module_cwd(tmp_path_factory):
    yield from _own_working_dir(tmp_path_factory, "cwd-module")


@pytest.fixture(autouse=True)
def _test_cwd(tmp_path_factory):
    yield from _own_working_dir(tmp_path_factory, "cwd")


@pytest.fixture(scope="session")
def backend() -> str:
    return support.BACKEND


@pytest.fixture(scope="session")
def built_store_dir(tmp_path_factory) -> Path:
    """The built store's directory (always embedded: the remote backend serves copies of it)."""
    from kb.build.init import init
    from kb.store import KB

    root = tmp_path_factory.mktemp("built")
    support.BUILT_DIR = root / "store"
    reuse = os.environ.get("DSIKB_TEST_BUILT_STORE")  # a closed store built by this code before: for
    if reuse:                                          # quick reruns while developing, never in CI
        return support.copy_store_dir(Path(reuse), root / "store")
    settings = Settings.from_env(environ={}, store=str(root / "store"), sources=str(SOURCES))
    kb = KB.open(settings)
    init(settings, kb=kb)
    kb.flush()
    del kb
    import gc

    gc.collect()
    return root / "store"


@pytest.fixture(scope="session")
def built_kb(built_store_dir, tmp_path_factory):
    from kb.store import KB

    if support.remote():
        yield support.open_served(support.copy_store_dir(built_store_dir,
                                                         tmp_path_factory.mktemp("built-remote") / "store"))
        return
    kb = KB.open(settings_for(built_store_dir))
    yield kb


@pytest.fixture(scope="session")
def app(built_kb):
    from tests.support import make_app

    return make_app(built_kb)


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def live_url(app):
    """``app`` (the real data) served over HTTP on a free port of 127.0.0.1: its root URL."""
    with support.live_server(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser(request, tmp_path_factory):
    """A headless Chromium with a fresh profile for one test module. A module sets
    ``BROWSER_VIEWPORT = (width, height)`` for another window size than 1200x900."""
    width, height = getattr(request.module, "BROWSER_VIEWPORT", (1200, 900))
    with support.chromium(tmp_path_factory.mktemp("chromium"), width=width, height=height) as context:
        yield context


@pytest.fixture()
def kb_copy(built_kb, built_store_dir, tmp_path):
    """A writable copy of the built store (its own directory and state file; on the remote backend,
    its own Oxigraph server over a copy of the built directory)."""
    from kb.store import KB

    dest = support.copy_built(built_kb, tmp_path / "store")
    if support.remote():
        return support.open_served(dest)
    return KB.open(settings_for(dest))


@pytest.fixture(scope="module")
def tiny_kb(tmp_path_factory):
    """The small hand-written store of tests/test_resources.py (every entity type, hidden and
    merged entities, two languages), one per test module (on the remote backend: served by Oxigraph)."""
    from tests.test_resources import build_tiny

    kb = build_tiny()
    if support.remote():
        return support.on_backend(kb, tmp_path_factory.mktemp("tiny") / "store")
    return kb


@pytest.fixture(scope="module")
def tiny_client(tiny_kb):
    from tests.support import make_app

    return make_app(tiny_kb).test_client()
