"""Fault test: ``dsikb serve`` over a copy of the real store is SIGKILLed while it regenerates the
public dumps (after an accepted submission changed the store). After each restart the served dumps
are whole: every listed file decompresses, parses with pyoxigraph, and has the listed SHA-256 and
triple count; only the four public files are listed, none of them temporary; the accepted
submission is in the store and, once the dumps are fresh, in the N-Quads dump."""

from __future__ import annotations

import base64
import gc
import gzip
import hashlib
import http.client
import json
import os
import random
import shutil
import threading
import time

import pyoxigraph as ox
import pytest

from kb.publish.dump import PUBLIC_DUMPS
from kb.settings import PROJECT_ROOT
from tests.conftest import settings_for
from tests.test_fault import PASSWORD, Client, Server, free_port
from tests.test_submissions import project

KILLS = 2  # each costs about two dump builds of the real data (8-25 s each here)
PARSE_FORMATS = {"ttl": ox.RdfFormat.TURTLE, "nt": ox.RdfFormat.N_TRIPLES, "nq": ox.RdfFormat.N_QUADS,
                 "jsonld": ox.RdfFormat.JSON_LD}


def copy_store(built_kb, dest):
    """A private copy of the built store (as the ``kb_copy`` fixture, without keeping it open)."""
    built_kb.flush()
    built_kb.store.backup(str(dest))
    state = built_kb.path.with_name(built_kb.path.name + ".state.json")
    if state.exists():
        shutil.copy(state, dest.with_name(dest.name + ".state.json"))


def listing(client, fresh=True, timeout=120.0) -> dict:
    """The dumps listing (JSON); with ``fresh``, waits until it matches the store's generation."""
    deadline = time.monotonic() + timeout
    while True:
        status, body, _ = client.request("/dumps/index.json", timeout=60)
        if status == 200:
            data = json.loads(body)
            if data["fresh"] or not fresh:
                return data
        elif status != 503:
            raise AssertionError(f"/dumps/index.json answered {status}: {body[:300]!r}")
        if time.monotonic() > deadline:
            raise AssertionError("the dumps did not become fresh")
        time.sleep(0.5)


def check_served_dumps(client, folder) -> dict:
    """Download every listed dump and check it against the listing; returns name -> quads (nq only).
    ``folder``: where the server keeps them (None: a folder of the server's own, not checked)."""
    data = listing(client, fresh=False)
    names = [f["name"] for f in data["files"]]
    assert sorted(names) == sorted(n for n, _, _ in PUBLIC_DUMPS), names
    if folder is not None:
        manifest = json.loads((folder / "manifest.json").read_text())
        served = folder / manifest["folder"]
        assert not [p.name for p in served.iterdir() if p.name not in names], "temporary files in the served folder"
    quads = {}
    for info in data["files"]:
        status, body, headers = client.request(f"/dumps/{info['name']}", timeout=60)
        assert status == 200, (info["name"], status)
        sha = hashlib.sha256(body).hexdigest()
        assert headers["Digest"] == "sha-256=" + base64.b64encode(bytes.fromhex(sha)).decode(), info["name"]
        if sha != info["sha256"]:  # a rebuild finished between the listing and this download: its listing
            now = listing(client, fresh=False)
            assert now["generation"] != data["generation"], f"{info['name']}: SHA-256 differs from the listing"
            info = next(f for f in now["files"] if f["name"] == info["name"])
            assert sha == info["sha256"], f"{info['name']}: SHA-256 differs from the listing"
        assert len(body) == info["bytes"]
        raw = gzip.decompress(body)  # raises on a cut gzip stream
        parsed = list(ox.parse(raw, PARSE_FORMATS[info["format"]]))
        if info["format"] == "jsonld":  # JSON-LD may state a triple twice; the listing counts it once
            assert len(set(parsed)) == info["triples"], info["name"]
        else:
            assert len(parsed) == info["triples"], f"{info['name']}: {len(parsed)} != {info['triples']}"
        if info["format"] == "nq":
            quads = parsed
    return {"generation": data["generation"], "fresh": data["fresh"], "quads": quads}


def ask_quietly(client, path):
    """A request whose answer does not matter (the server is killed under it)."""
    try:
        client.request(path, timeout=60)
    except (OSError, http.client.HTTPException):
        pass


@pytest.mark.slow
@pytest.mark.embedded_only("SIGKILLs the process that holds the on-disk store open and checks RocksDB's recovery on reopening")
def test_sigkill_while_regenerating_dumps_serves_whole_files(built_kb, tmp_path, capsys):
    from kb.contribute.accounts import add_account

    accounts = tmp_path / "moderators"
    add_account(accounts, "mod", PASSWORD)
    store = tmp_path / "store"
    copy_store(built_kb, store)
    folder = store.with_name(store.name + ".dumps")
    env = {**os.environ, "DSIKB_MODERATORS": str(accounts), "DSIKB_SECRET_KEY": "fault-test-key",
           "PYTHONPATH": str(PROJECT_ROOT), "DSIKB_RATE_LIMIT": "0"}
    server = Server(store, free_port(), env)
    seed = int(time.time())
    rng = random.Random(seed)
    t0 = time.monotonic()
    accepted, kills, checks = [], [], 0
    server.start()
    client = Client(server.url)
    try:
        started = time.monotonic()
        check_served_dumps(client, folder)  # the first build, uninterrupted: how long one takes
        build_time = time.monotonic() - started
        client.form("/moderate/login", {"name": "mod", "password": PASSWORD,
                                        "csrf_token": client.token("/moderate/login")})
        for i in range(KILLS):
            status, body, _ = client.request(
                "/api/submissions", json.dumps(project(name=f"Dump Fault Project {seed} {i}")).encode(),
                {"Content-Type": "application/json"})
            assert status == 202, body[:300]
            sid = json.loads(body)["id"]
            # an accept derives only what the submission changes (kb/build/incremental.py): a second
            # or two, even beside a dumps rebuild; what this test checks is the files after a kill
            status, body, _ = client.form(f"/moderate/{sid}/accept", {"csrf_token": client.token(f"/moderate/{sid}")},
                                          timeout=20)
            assert status == 200, body[:300]  # the 303 to the submission's page, followed
            accepted.append(sid)
            before = {p.name for p in folder.iterdir()}
            # the listing starts the rebuild; kill while it writes
            trigger = threading.Thread(target=ask_quietly, args=(client, "/dumps/index.json"), daemon=True)
            trigger.start()
            deadline = time.monotonic() + 30
            while not ({p.name for p in folder.iterdir() if p.name.startswith("g")} - before):
                assert time.monotonic() < deadline, "no rebuild started"
                time.sleep(0.01)
            delay = rng.uniform(0.0, build_time * 0.9)
            time.sleep(delay)
            generation = json.loads((folder / "manifest.json").read_text())["generation"]
            server.kill()
            after = json.loads((folder / "manifest.json").read_text())["generation"]
            kills.append(f"{delay:.2f}s into the build" + ("" if after == generation else " (it had finished)"))
            trigger.join(30)
            server.start()
            client = Client(server.url)
            client.form("/moderate/login", {"name": "mod", "password": PASSWORD,
                                            "csrf_token": client.token("/moderate/login")})
            check_served_dumps(client, folder)  # right after the restart: the previous dumps, whole
            checks += 1
        listing(client)  # fresh again
        final = check_served_dumps(client, folder)
        checks += 1
    finally:
        server.stop()
    gc.collect()
    from kb.store import KB
    from kb.contribute.queue import SubmissionStore

    kb = KB.open(settings_for(store))
    subs = SubmissionStore(store.with_name(store.name + ".submissions.sqlite"))
    in_store = [sid for sid in accepted if kb.store.contains_named_graph(ox.NamedNode(kb.graphs.submission(sid)))]
    in_spool = [sid for sid in accepted if subs.get(sid).status == "accepted"]
    dumped_graphs = {q.graph_name.value for q in final["quads"] if isinstance(q.graph_name, ox.NamedNode)}
    in_dump = [sid for sid in accepted if kb.graphs.submission(sid) in dumped_graphs]
    leftovers = sorted(p.name for p in folder.iterdir() if p.name.startswith("g")
                       and p.name != json.loads((folder / "manifest.json").read_text())["folder"])
    with capsys.disabled():
        print(f"\ndump fault test (seed {seed}): one build {build_time:.1f} s, kills {kills}, served dumps "
              f"checked {checks} times, accepts acknowledged {len(accepted)}, in store {len(in_store)}, "
              f"in spool {len(in_spool)}, in the fresh dump {len(in_dump)}, "
              f"old build folders left {len(leftovers)}, {time.monotonic() - t0:.1f} s")
    assert len(in_store) == len(in_spool) == len(in_dump) == KILLS
    assert not leftovers, f"build folders of killed builds left behind: {leftovers}"
    del kb
    gc.collect()


@pytest.mark.slow
@pytest.mark.embedded_only("SIGKILLs the process that holds the on-disk store open and checks RocksDB's recovery on reopening")
def test_sigkill_of_dsikb_dump_leaves_the_previous_file_whole(built_kb, tmp_path, capsys):
    """``dsikb dump --out FILE.gz`` killed at random moments: FILE is the last whole dump (never a cut
    one); the killed runs' temporary files are the only leftovers (counted in the output)."""
    import subprocess
    import sys

    out = tmp_path / "dsi.nq.gz"
    store = tmp_path / "store"
    copy_store(built_kb, store)
    cmd = [sys.executable, "-m", "kb.cli", "dump", "--store", str(store), "--format", "nq", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    seed = int(time.time())
    rng = random.Random(seed)
    t0 = time.monotonic()
    started = time.monotonic()
    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=120)
    full = time.monotonic() - started
    whole = hashlib.sha256(out.read_bytes()).hexdigest()
    kills = []
    for _ in range(3):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        delay = rng.uniform(0.3 * full, full)  # after the interpreter started: while it writes
        try:
            proc.wait(delay)
        except subprocess.TimeoutExpired:
            proc.kill()
            kills.append(round(delay, 2))
        proc.wait()
        assert hashlib.sha256(out.read_bytes()).hexdigest() == whole, "a killed dump replaced the file"
    quads = len(list(ox.parse(gzip.decompress(out.read_bytes()), ox.RdfFormat.N_QUADS)))
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp"))
    with capsys.disabled():
        print(f"\ndsikb dump fault test (seed {seed}): one dump {full:.1f} s, kills at {kills} s, file whole "
              f"({quads} quads), temporary files left by killed runs {len(leftovers)}, {time.monotonic() - t0:.1f} s")
    assert kills
    assert all(name.startswith(".dsi.nq.gz.") for name in leftovers)
