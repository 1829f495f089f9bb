"""Fault test: the store's filesystem is full. The store and the submissions spool sit on a small
tmpfs (skipped, with the reason, where mounting is refused); it is filled, then submissions are posted
and accepted: each must be refused with a 4xx or 503 and a message (never a 202 for something not
stored, never a half-written graph). After the space is freed the store opens and every acknowledged
write is there, and new writes succeed again."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import time

import pyoxigraph as ox
import pytest

from kb.settings import PROJECT_ROOT
from tests.conftest import settings_for
from tests.test_fault import PASSWORD, Client, Server, free_port
from tests.test_submissions import project, small_store

SIZE_MB = 48
BEFORE, DURING = 4, 8  # submissions posted with space, and on the full disk


def mount_tmpfs(path) -> None:
    path.mkdir()
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE_MB}m", "tmpfs", str(path)],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot mount a tmpfs to fill: {exc}")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill (needs root): {done.stderr.strip()}")


def fill(path) -> int:
    """Write a file until the filesystem refuses one more byte; returns its size."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    size, chunk = 0, 1 << 20
    try:
        while chunk:
            try:
                size += os.write(fd, b"\0" * chunk)
            except OSError:
                chunk //= 2
    finally:
        os.close(fd)
    return size


def login(client):
    client.form("/moderate/login", {"name": "mod", "password": PASSWORD,
                                    "csrf_token": client.token("/moderate/login")})


def submit(client, name):
    return client.request("/api/submissions", json.dumps(project(name=name)).encode(),
                          {"Content-Type": "application/json", "Accept": "application/json"})


def accept(client, sid):
    return client.form(f"/moderate/{sid}/accept", {"csrf_token": client.token(f"/moderate/{sid}")})


def refused_properly(status, body) -> bool:
    """A 4xx or 503 whose body says something (not an empty page or a stack trace)."""
    text = body.decode("utf-8", "replace")
    return (400 <= status < 500 or status == 503) and len(text.strip()) > 10 and "Traceback" not in text


@pytest.mark.slow
@pytest.mark.embedded_only("fills the filesystem under the on-disk store (a remote store's disk is the store server's)")
def test_full_disk_refuses_writes_and_loses_nothing(tmp_path, capsys):
    from kb.contribute.accounts import add_account

    disk = tmp_path / "disk"
    mount_tmpfs(disk)
    server = None
    seed = int(time.time())
    t0 = time.monotonic()
    try:
        accounts = tmp_path / "moderators"
        add_account(accounts, "mod", PASSWORD)
        store = disk / "store"
        kb = small_store(store)
        del kb
        gc.collect()
        env = {**os.environ, "DSIKB_MODERATORS": str(accounts), "DSIKB_SECRET_KEY": "fault-test-key",
               "PYTHONPATH": str(PROJECT_ROOT), "DSIKB_RATE_LIMIT": "0"}
        server = Server(store, free_port(), env, tmp_path / "server.log")
        server.start()
        client = Client(server.url)
        login(client)
        acknowledged, accepted, answers = {}, [], []
        for i in range(BEFORE):
            status, body, _ = submit(client, f"Disk Fault Project {seed} {i}")
            assert status == 202, body[:300]
            acknowledged[json.loads(body)["id"]] = f"before {i}"
        for sid in list(acknowledged)[:2]:
            status, body, _ = accept(client, sid)
            assert status == 200, body[:300]
            accepted.append(sid)
        filler = disk / "filler"
        filled = fill(filler)
        pending = [sid for sid in acknowledged if sid not in accepted]
        for i in range(DURING):  # new submissions on the full disk
            status, body, _ = submit(client, f"Disk Fault Project {seed} full {i}")
            answers.append(("submit", status, body[:200]))
            if status == 202:
                acknowledged[json.loads(body)["id"]] = f"full {i}"
        for sid in pending:  # acceptances on the full disk
            status, body, _ = accept(client, sid)
            answers.append(("accept", status, body[:200]))
            if status == 200:
                accepted.append(sid)
        os.unlink(filler)
        status, body, _ = submit(client, f"Disk Fault Project {seed} after")  # space again, same process
        answers.append(("submit after freeing", status, body[:200]))
        if status == 202:
            sid = json.loads(body)["id"]
            acknowledged[sid] = "after"
            status, body, _ = accept(client, sid)  # the store takes writes again, without a restart
            answers.append(("accept after freeing", status, body[:200]))
            if status == 200:
                accepted.append(sid)
        server.stop()
        server.start()  # reopens the store and settles an interrupted accept
        server.stop()
        server = None
        gc.collect()
        from kb.store import KB
        from kb.contribute.queue import SubmissionStore

        kb = KB.open(settings_for(store))
        subs = SubmissionStore(store.with_name(store.name + ".submissions.sqlite"))
        found = [sid for sid in acknowledged if sid in subs.ids() and subs.get(sid).ntriples]
        published = {g for g in kb.named_graphs() if g.startswith(kb.graphs.ns + "submission/")}
        in_spool = {kb.graphs.submission(s.id) for s in subs.list("accepted", limit=10_000)}
        complete = []
        for sid in accepted:
            graph = kb.graphs.submission(sid)
            have = {str(q.triple) for q in kb.graph_quads(graph)}
            if {str(t) for t in subs.get(sid).triples()} <= have and kb.store.contains_named_graph(ox.NamedNode(graph)):
                complete.append(sid)
        staging = [g for g in kb.named_graphs() if g.startswith(kb.graphs.ns + "tmp/")]
        subs.close()
        del kb
        gc.collect()
    finally:
        if server is not None:
            server.stop()
        subprocess.run(["umount", "-l", str(disk)], check=False)
    errors = (server or Server(None, 0, {}, tmp_path / "server.log")).errors()
    bad = [(what, status, body) for what, status, body in answers if status not in (200, 202)
           and not refused_properly(status, body)]
    statuses = [(what, status) for what, status, _ in answers]
    with capsys.disabled():
        print(f"\ndisk-full fault test (seed {seed}): tmpfs {SIZE_MB} MB, filler {filled >> 20} MB; answers on "
              f"the full disk {statuses}; acknowledged {len(acknowledged)}, found {len(found)}; accepts "
              f"acknowledged {len(accepted)}, published whole {len(complete)}, published {len(published)}, "
              f"accepted in spool {len(in_spool)}; {time.monotonic() - t0:.1f} s; server errors: {errors}")
    assert sorted(found) == sorted(acknowledged), "an acknowledged submission is missing"
    assert sorted(complete) == sorted(accepted), "an acknowledged acceptance is missing or incomplete"
    assert published == in_spool, "a published graph and the spool disagree (half-done acceptance)"
    assert not staging
    after = dict((what, status) for what, status, _ in answers if what.endswith("after freeing"))
    assert after.get("submit after freeing") == 202, after
    findings = []  # nothing lost, but wrong answers: reported, see docs/reliability.md
    if bad:
        findings.append(f"a full disk answers {sorted({s for _, s, _ in bad})} without a message a person can "
                        f"act on (should be 503 with Retry-After)")
    if after.get("accept after freeing") != 200:
        findings.append(f"after the space is freed the store still refuses writes until a restart "
                        f"(accept: {after.get('accept after freeing')})")
    if findings:
        pytest.xfail("known findings: " + "; ".join(findings) + f"; server errors: {errors}")
