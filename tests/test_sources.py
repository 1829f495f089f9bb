"""Source files: pinned SHA-256 sums, and a verified download from a local HTTP origin (no internet
here: the origin URL template is pointed at a server on 127.0.0.1 serving files made in tmp)."""

from __future__ import annotations

import functools
import http.server
import shutil
import socket
import threading

import pytest

from kb.errors import SourceUnavailable
from kb.build.sources import FILES, fetch_sources, locate_sources, problems, sha256_file
from tests.conftest import SOURCES, settings_for


def test_pinned_sums_match_the_shared_sums_file():
    listed = dict(line.split()[::-1] for line in (SOURCES / "SHA256SUMS").read_text().splitlines()
                  if line.strip())
    assert {f.name: f.sha256 for f in FILES} == listed


def test_locate_uses_the_configured_folder_when_verified(tmp_path):
    logs = []
    assert locate_sources(settings_for(tmp_path / "store"), logs.append) == SOURCES
    assert "verified" in logs[0]


@pytest.fixture()
def origin(tmp_path):
    """A local web server laid out like raw.githubusercontent.com/{owner}/{repo}/{commit}/{path}."""
    root = tmp_path / "origin"
    for f in FILES:
        owner, repo, commit = f.origin
        target = root / owner / repo / commit / f.path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SOURCES / f.name, target)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/{{owner}}/{{repo}}/{{commit}}/{{path}}"
    yield root, base
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_fetch_downloads_and_verifies(origin, tmp_path):
    _, base = origin
    dest = fetch_sources(tmp_path / "dest", base_url=base)
    assert problems(dest) == []
    assert all(sha256_file(dest / f.name) == f.sha256 for f in FILES)
    again = []
    fetch_sources(dest, again.append, base_url=base)
    assert all("already there" in line for line in again)


def test_checksum_mismatch_is_refused_and_nothing_written(origin, tmp_path):
    root, base = origin
    victim = FILES[0]
    owner, repo, commit = victim.origin
    (root / owner / repo / commit / victim.path).write_bytes(b"Organisation ID,Name\nx,tampered\n")
    with pytest.raises(SourceUnavailable) as exc:
        fetch_sources(tmp_path / "dest", base_url=base)
    assert victim.name in exc.value.message and "SHA-256" in exc.value.message
    assert not (tmp_path / "dest" / victim.name).exists()
    assert not list((tmp_path / "dest").glob(".*.part"))


def test_missing_file_at_origin_is_a_clear_error(origin, tmp_path):
    root, base = origin
    victim = FILES[-1]
    owner, repo, commit = victim.origin
    (root / owner / repo / commit / victim.path).unlink()
    with pytest.raises(SourceUnavailable, match="HTTP 404"):
        fetch_sources(tmp_path / "dest", base_url=base)


def test_offline_is_a_clear_error(tmp_path):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}/{{owner}}/{{repo}}/{{commit}}/{{path}}"
    with pytest.raises(SourceUnavailable) as exc:
        fetch_sources(tmp_path / "dest", base_url=base, timeout=5)
    assert "offline?" in exc.value.message and "--sources" in exc.value.message
    assert exc.value.exit_code == 2
