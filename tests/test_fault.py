"""Fault test: ``dsikb serve`` is SIGKILLed at random moments while submissions are posted and
accepted; after each restart every submission that got a 202 must be there, the store must open, and
no half-written graph may exist (a submission graph is either complete with its provenance or absent),
and the served dumps are whole and hold every published graph.
"""

from __future__ import annotations

import gc
import http.client
import http.cookiejar
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pyoxigraph as ox
import pytest

from kb.settings import PROJECT_ROOT
from tests.test_submissions import project, small_store

PASSWORD = "fault test password"
KILLS = 3
SUBMISSIONS = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python -m kb.cli serve`` over one store, restartable; its stderr is appended to ``log`` (a
    file, never a pipe nobody reads: a full pipe would block the server) so a failure can show it."""

    def __init__(self, store, port, env, log=None):
        self.store, self.port, self.env, self.proc, self.log = store, port, env, None, log
        self.url = f"http://127.0.0.1:{port}"

    def start(self, timeout=60.0):
        with open(self.log, "ab") if self.log else open(os.devnull, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "kb.cli", "serve", "--store", str(self.store), "--port", str(self.port)],
                cwd=PROJECT_ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server died on start: " + self.tail())
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server did not come up: " + self.tail())

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, chars=4000) -> str:
        """The end of what the server wrote to stderr (its tracebacks), for a failure's message."""
        if not self.log or not os.path.exists(self.log):
            return "(no log kept)"
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")[-chars:]

    def errors(self) -> list[str]:
        """The exception lines the server logged (the last line of each traceback)."""
        lines = self.tail(10**9).splitlines() if self.log else []
        return sorted({line for line in lines if line and not line.startswith((" ", "Traceback"))
                       and ("Error" in line or "error" in line)})


class Client:
    """A client with cookies (the moderator's session survives restarts: fixed secret key)."""

    def __init__(self, url):
        self.url = url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def request(self, path, data=None, headers=None, timeout=10):
        req = urllib.request.Request(self.url + path, data=data, headers=headers or {})
        try:
            with self.opener.open(req, timeout=timeout) as r:
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read(), dict(e.headers)

    def token(self, path):
        status, body, _ = self.request(path, headers={"Accept": "text/html"})
        m = re.search(rb'name="csrf_token" value="([^"]+)"', body)
        return m.group(1).decode() if m else ""

    def form(self, path, fields, timeout=10):
        from urllib.parse import urlencode

        return self.request(path, urlencode(fields).encode(),
                            {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"}, timeout)


@pytest.mark.slow
def test_sigkill_while_submitting_loses_nothing(tmp_path, capsys):
    """On the embedded store the kill also checks RocksDB's recovery on reopening; on a remote one
    the store server keeps running while the app is killed and restarted."""
    from kb.contribute.accounts import add_account
    from kb.store import KB
    from kb.contribute.queue import SubmissionStore

    accounts = tmp_path / "moderators"
    add_account(accounts, "mod", PASSWORD)
    store = tmp_path / "store"
    kb = small_store(store)
    settings = kb.settings
    del kb
    gc.collect()
    env = {**os.environ, "DSIKB_MODERATORS": str(accounts), "DSIKB_SECRET_KEY": "fault-test-key",
           "DSIKB_SOURCES": settings.sources, "PYTHONPATH": str(PROJECT_ROOT),
           "DSIKB_SUBMISSIONS_DB": settings.submissions_db}  # set on the remote backend: beside ``store``
    server = Server(settings.store, free_port(), env, tmp_path / "server.log")
    seed = int(time.time())
    rng = random.Random(seed)
    acknowledged: dict[str, str] = {}  # idempotency key -> submission id
    accept_sent = []
    sent = retries = 0
    t0 = time.monotonic()
    server.start()
    client = Client(server.url)
    logged_in = False
    kill_at = set(rng.sample(range(5, SUBMISSIONS - 5), KILLS))  # submissions during which to kill
    kills = []

    def killer(trigger):
        trigger.wait()
        time.sleep(rng.uniform(0.0, 0.08))  # lands at a random point of a request (or between them)
        server.kill()
        kills.append(round(time.monotonic() - t0, 2))
        server.start()

    thread = None
    try:
        for i in range(SUBMISSIONS):
            if i in kill_at:
                if thread is not None:
                    thread.join()
                trigger = threading.Event()
                thread = threading.Thread(target=killer, args=(trigger,))
                thread.start()
                trigger.set()
            key = f"fault-{seed}-{i}"
            body = json.dumps(project(name=f"Fault Project {i}")).encode()
            sent += 1
            give_up = time.monotonic() + 60
            while time.monotonic() < give_up:  # the same key on retry: a lost 202 must not make a second one
                try:
                    status, resp, headers = client.request(
                        "/api/submissions", body, {"Content-Type": "application/json", "Idempotency-Key": key})
                except (urllib.error.URLError, OSError, http.client.HTTPException):
                    retries += 1
                    time.sleep(0.1)
                    continue
                assert status == 202, (resp[:500], server.tail())
                acknowledged[key] = json.loads(resp)["id"]
                break
            if i % 4 == 3 and acknowledged:  # accept some, so the store is written while killed
                sid = acknowledged[key] if key in acknowledged else None
                try:
                    if not logged_in:
                        client.form("/moderate/login", {"name": "mod", "password": PASSWORD,
                                                        "csrf_token": client.token("/moderate/login")})
                        logged_in = True
                    if sid:
                        client.form(f"/moderate/{sid}/accept", {"csrf_token": client.token(f"/moderate/{sid}")})
                        accept_sent.append(sid)
                except (urllib.error.URLError, OSError, http.client.HTTPException):
                    pass
    finally:
        if thread is not None:
            thread.join()
        server.stop()

    # the store opens; every acknowledged submission is in the spool; no half-written graph
    from tests.test_fault_dumps import check_served_dumps, listing

    server.start()  # a restart runs recovery (an accept cut between store and spool is settled)
    try:
        listing(Client(server.url))  # the dumps of the final content: whole, with every published graph
        dumps = check_served_dumps(Client(server.url), None if settings.store_is_remote
                                   else store.with_name(store.name + ".dumps"))
    finally:
        server.stop()
    gc.collect()
    kb = KB.open(settings)
    subs = SubmissionStore(store.with_name(store.name + ".submissions.sqlite"))
    found = [sid for sid in acknowledged.values() if subs.get(sid).ntriples]
    graphs = [g for g in kb.named_graphs()]
    assert not [g for g in graphs if g.startswith(kb.graphs.ns + "tmp/")], "a staging graph was left behind"
    published = [g for g in graphs if g.startswith(kb.graphs.ns + "submission/")]
    accepted = [s for s in subs.list("accepted", limit=10_000)]
    assert {kb.graphs.submission(s.id) for s in accepted} == set(published)
    for sub in accepted:
        graph = kb.graphs.submission(sub.id)
        have = {str(q.triple) for q in kb.graph_quads(graph)}
        want = {str(t) for t in sub.triples()}
        assert want <= have, f"graph of {sub.id} is missing {len(want - have)} statements"
        assert kb.ask(f"ASK {{ GRAPH <{graph}> {{ <{graph}> prov:wasGeneratedBy ?a ; prov:generatedAtTime ?t }} }}")
    dumped = {q.graph_name.value for q in dumps["quads"] if isinstance(q.graph_name, ox.NamedNode)}
    assert set(published) <= dumped, "a published submission graph is missing from the N-Quads dump"
    elapsed = time.monotonic() - t0
    with capsys.disabled():  # the figures belong in the test output, not only on failure
        print(f"\nfault test (seed {seed}): sent {sent}, acknowledged {len(acknowledged)}, found {len(found)}, "
              f"in spool {len(subs.ids())}, retries {retries}, kills at {kills} s, "
              f"accepts sent {len(accept_sent)}, published graphs {len(published)} (all in the served dumps, "
              f"which are whole), {elapsed:.1f} s")
    assert len(found) == len(acknowledged) == SUBMISSIONS
    assert len(subs.ids()) == SUBMISSIONS, "a retried POST made a second submission"
    assert len(kills) == KILLS
    del kb
    gc.collect()
