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
