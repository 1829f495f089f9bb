"""Fault test: ``dsikb serve`` is SIGKILLed while a moderator's acceptance is being carried out (the
kill lands at a random moment within an accept request's measured duration). After each restart the
moderator retries: every acceptance that was answered is published whole with its provenance, the
spool and the store agree (nothing half-done), and the served dumps are whole and hold it."""

from __future__ import annotations

import gc
import http.client
import json
import os
import random
import re
import threading
import time
import urllib.error

import pyoxigraph as ox
import pytest

from kb.settings import PROJECT_ROOT
from tests.conftest import settings_for
from tests.test_fault import PASSWORD, Client, Server, free_port
from tests.test_fault_dumps import check_served_dumps, listing
from tests.test_submissions import project, small_store

SUBMISSIONS = 10
KILLS = 4


@pytest.mark.slow
def test_sigkill_during_acceptance_loses_nothing(tmp_path, capsys):
    """On the embedded store the kill also checks RocksDB's recovery on reopening; on a remote one
    the store server keeps running and the restarted app settles the cut accept against it."""
    from kb.contribute.accounts import add_account

    accounts = tmp_path / "moderators"
    add_account(accounts, "mod", PASSWORD)
    store = tmp_path / "store"
    kb = small_store(store)
    settings = kb.settings  # on the remote backend: a server over ``store``, the queue beside it
    del kb
    gc.collect()
    env = {**os.environ, "DSIKB_MODERATORS": str(accounts), "DSIKB_SECRET_KEY": "fault-test-key",
           "PYTHONPATH": str(PROJECT_ROOT), "DSIKB_RATE_LIMIT": "0",
           "DSIKB_SUBMISSIONS_DB": settings.submissions_db}
    server = Server(settings.store, free_port(), env, tmp_path / "server.log")
    seed = int(time.time())
    rng = random.Random(seed)
    t0 = time.monotonic()
    server.start()
    client = Client(server.url)

    def login():
        client.form("/moderate/login", {"name": "mod", "password": PASSWORD,
                                        "csrf_token": client.token("/moderate/login")})

    def accept(sid):
        return client.form(f"/moderate/{sid}/accept", {"csrf_token": client.token(f"/moderate/{sid}")})

    login()
    ids = []
    for i in range(SUBMISSIONS):
        status, body, _ = client.request("/api/submissions", json.dumps(project(name=f"Accept Fault {seed} {i}")).encode(),
                                         {"Content-Type": "application/json"})
        assert status == 202, (body[:300], server.tail())
        ids.append(json.loads(body)["id"])
    acknowledged, answers, durations, kills, cut, done_by_cut = [], [], [], [], 0, 0
    kill_at = set(rng.sample(range(2, SUBMISSIONS), KILLS))  # the first two measure an accept's duration
    try:
        for i, sid in enumerate(ids):
            killer = None
            if i in kill_at:
                delay = rng.uniform(0.0, 1.2 * max(durations))

                def kill(delay=delay):
                    time.sleep(delay)
                    server.kill()
                    kills.append(round(delay, 3))

                token = client.token(f"/moderate/{sid}")  # fetched first: the kill aims at the accept itself
                killer = threading.Thread(target=kill)
                killer.start()
                try:
                    status, body, _ = client.form(f"/moderate/{sid}/accept", {"csrf_token": token})
                except (urllib.error.URLError, OSError, http.client.HTTPException):
                    status, body = None, b""
                killer.join()
                server.start()
                if status is None:  # the answer was lost: the moderator looks, and tries again if needed
                    cut += 1
                    _, state, _ = client.request(f"/api/submissions/{sid}", headers={"Accept": "application/json"})
                    if json.loads(state)["status"] == "accepted":
                        status, done_by_cut = 200, done_by_cut + 1  # the cut request had done it
                    else:
                        login()
                        status, body, _ = accept(sid)
            else:
                started = time.monotonic()
                status, body, _ = accept(sid)
                durations.append(time.monotonic() - started)
            answers.append(status)
            assert status == 200, (i, i in kill_at, status, re.sub(rb"\s+", b" ", re.sub(rb"<[^>]+>", b" ", body))[200:900], server.tail())
            acknowledged.append(sid)
        listing(client)
        dumps = check_served_dumps(client, None if settings.store_is_remote else store.with_name(store.name + ".dumps"))
    finally:
        server.stop()
    gc.collect()
    from kb.store import KB
    from kb.contribute.queue import SubmissionStore

    kb = KB.open(settings_for(store))
    subs = SubmissionStore(store.with_name(store.name + ".submissions.sqlite"))
    published = {g for g in kb.named_graphs() if g.startswith(kb.graphs.ns + "submission/")}
    in_spool = {kb.graphs.submission(s.id) for s in subs.list("accepted", limit=10_000)}
    whole = []
    for sid in acknowledged:
        graph = kb.graphs.submission(sid)
        have = {str(q.triple) for q in kb.graph_quads(graph)}
        if {str(t) for t in subs.get(sid).triples()} <= have and kb.ask(
                f"ASK {{ GRAPH <{graph}> {{ <{graph}> prov:wasGeneratedBy ?a ; prov:generatedAtTime ?t }} }}"):
            whole.append(sid)
    dumped = {q.graph_name.value for q in dumps["quads"] if isinstance(q.graph_name, ox.NamedNode)}
    in_dump = [sid for sid in acknowledged if kb.graphs.submission(sid) in dumped]
    staging = [g for g in kb.named_graphs() if g.startswith(kb.graphs.ns + "tmp/")]
    with capsys.disabled():
        print(f"\naccept fault test (seed {seed}): accepts sent {len(ids)}, kills {len(kills)} at {kills} s "
              f"(an accept takes {min(durations):.2f}-{max(durations):.2f} s), answers cut by the kill {cut} (of which the accept had been done: {done_by_cut}), "
              f"acknowledged {len(acknowledged)}, published whole {len(whole)}, accepted in spool "
              f"{len(in_spool)}, published {len(published)}, in the dumps {len(in_dump)}, "
              f"{time.monotonic() - t0:.1f} s")
    assert len(kills) == KILLS
    assert sorted(whole) == sorted(acknowledged) == sorted(ids)
    assert published == in_spool, "the spool and the store disagree (a half-done acceptance)"
    assert sorted(in_dump) == sorted(acknowledged)
    assert not staging
    subs.close()
    del kb
    gc.collect()
