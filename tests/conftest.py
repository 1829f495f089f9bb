"""Shared fixtures: a real on-disk Oxigraph store built once per session from the real DSI sources.

- ``settings_for(path)``: Settings for a store directory (tests never touch ``var/``).
- ``built_kb``: the knowledge base as ``dsikb init`` builds it (ontology, taxonomies, shapes, curated
  data, both real imports), in a session temp dir. Read-only for tests: copy it (``kb_copy``) to write.
- ``app`` / ``client``: the Flask app over ``built_kb`` and its test client.
- ``kb_copy``: a private writable copy of the built store, for tests that change data.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kb.settings import PROJECT_ROOT, Settings

SHARED = PROJECT_ROOT.parent / "shared"
SOURCES = SHARED / "data" / "dsi"
SPECS = SHARED / "data" / "specs"


def settings_for(path, **overrides) -> Settings:
    return Settings.from_env(environ={}, store=str(path), sources=str(SOURCES), **overrides)


@pytest.fixture(scope="session")
def built_store_dir(tmp_path_factory) -> Path:
    from kb.build.init import init
    from kb.store import KB

    root = tmp_path_factory.mktemp("built")
    settings = settings_for(root / "store")
    kb = KB.open(settings)
    init(settings, kb=kb)
    kb.flush()
    del kb
    import gc

    gc.collect()
    return root / "store"


@pytest.fixture(scope="session")
def built_kb(built_store_dir):
    from kb.store import KB

    kb = KB.open(settings_for(built_store_dir))
    yield kb


@pytest.fixture(scope="session")
def app(built_kb):
    from tests.support import make_app

    return make_app(built_kb)


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def kb_copy(built_kb, tmp_path):
    """A writable copy of the built store (its own directory and state file)."""
    from kb.store import KB

    built_kb.flush()
    dest = tmp_path / "store"
    built_kb.store.backup(str(dest))
    state = built_kb.path.with_name(built_kb.path.name + ".state.json")
    if state.exists():
        shutil.copy(state, dest.with_name(dest.name + ".state.json"))
    return KB.open(settings_for(dest))


@pytest.fixture(scope="module")
def tiny_kb():
    """The small hand-written store of tests/test_resources.py (every entity type, hidden and
    merged entities, two languages), one per test module."""
    from tests.test_resources import build_tiny

    return build_tiny()


@pytest.fixture(scope="module")
def tiny_client(tiny_kb):
    from tests.support import make_app

    return make_app(tiny_kb).test_client()
