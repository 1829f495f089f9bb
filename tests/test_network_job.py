"""Issue 14: the network of organisations never stalls the web process nor a moderator's Accept
(kb/publish/network_job.py). It is computed in a child process, once per generation: a request that
finds none waits at most the query timeout, then gets a 503 with Retry-After and a message; an older
generation's network is served meanwhile, saying so; above DSIKB_NETWORK_INLINE_MAX organisations an
accept leaves the figures to that job, which writes what a full derivation would; a killed child
fails its job only, and the next request (or start-up) starts it again."""

from __future__ import annotations

import json
import os
import signal
import time

import pyoxigraph as ox

from tests.support import make_app
from tests.test_submissions import ORG, project

PARTNERS = [{"organisation": ORG + "nesta", "role": "delivery-lead"},
            {"organisation": ORG + "swirrl", "role": "delivery-partner"},
            {"organisation": ORG + "forum-virium-helsinki", "role": "co-funder"}]
DEADLINE = 120  # seconds for a job on the real data (a few on an idle machine)


def _until(check, what: str, deadline: float = DEADLINE):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"not within {deadline} s: {what}")


def _child(kb):
    from kb.publish import network_job

    return _until(lambda: (j := network_job.job(kb)) is not None and j.process is not None and j.process.pid and j.process,
                  "the job's child process started")


def _degree(kb, org: str) -> int | None:
    """dsi:degree of ``org`` in graph/network (None: not in the network's figures)."""
    rows = kb.select("SELECT ?g ?o ?d WHERE { GRAPH ?g { ?o dsi:degree ?d } }",
                     bind={"g": ox.NamedNode(kb.graphs.network), "o": ox.NamedNode(org)})
    return int(rows[0]["d"].value) if rows else None


def test_no_network_yet_503_then_stale_while_refreshed_then_current(kb_copy):
    from kb.index import browse
    from kb.publish import network_job

    kb = kb_copy  # a store just opened: no network computed in this process yet
    app = make_app(kb)
    app.config["DSIKB_SETTINGS"] = kb.settings.replace(query_timeout=0.01)  # a request waits 10 ms
    client = app.test_client()
    browse.tables(kb)  # the organisation list is ready: what is missing is the network
    answers = [client.get(url) for url in ("/network.json", "/network", "/network.json?country=spain")]
    assert [a.status_code for a in answers] == [503] * 3, [a.get_data(as_text=True)[:300] for a in answers]
    for a in answers:
        assert 5 <= int(a.headers["Retry-After"]) <= 300
        assert "network of organisations is being computed" in a.get_data(as_text=True)
    first = network_job.job(kb)
    assert network_job.wait(kb, DEADLINE) and first.error is None and first.rounds == 1  # one job for all
    fresh = client.get("/network.json")
    data = fresh.get_json()
    assert fresh.status_code == 200 and data["generation"] == kb.generation and data["refreshing"] is False
    assert len(data["nodes"]) > 100

    # a new version of the data: the last network is served at once, saying whose it is, while the job
    # computes the new one
    old = kb.generation
    kb.bump()
    stale = client.get("/network.json")
    body = stale.get_json()
    assert stale.status_code == 200 and body["generation"] == old and body["refreshing"] is True
    assert body["current_generation"] == kb.generation and stale.headers["ETag"] != fresh.headers["ETag"]
    page = client.get("/network").get_data(as_text=True)
    assert f"These figures are of version {old} of the data and are being recomputed" in page
    assert network_job.wait(kb, DEADLINE)
    browse.tables(kb)  # (the lists of the new version too: a request waits 10 ms for them, then 503)
    now = client.get("/network.json").get_json()
    assert now["generation"] == kb.generation and now["refreshing"] is False
    assert "being recomputed" not in client.get("/network").get_data(as_text=True)


def test_a_big_network_is_left_to_the_job_which_survives_a_killed_child(kb_copy):
    """DSIKB_NETWORK_INLINE_MAX=0: every accept leaves the network to the job. Its child is killed: the
    figures stay of the older generation, no request fails with a 500, and the next start (here: the
    next request) computes them, as a fresh computation does."""
    from kb.build import incremental
    from kb.contribute import moderation
    from kb.contribute.queue import SubmissionStore
    from kb.contribute.submissions import submit
    from kb.publish import network, network_job

    kb = kb_copy
    kb.settings = kb.settings.replace(network_inline_max=0)
    subs = SubmissionStore.for_kb(kb)
    client = make_app(kb).test_client()

    def degree(org: str) -> int:
        return _degree(kb, org) or 0

    before = degree(ORG + "swirrl")
    sid = submit(kb, subs, json.dumps(project(name="Deferred Network Project", partners=PARTNERS)).encode(),
                 "application/json").submission.id
    moderation.accept(kb, subs, sid, "alice")
    assert network.cached(kb) is None  # the accept did not compute the network: the job does, after it
    os.kill(_child(kb).pid, signal.SIGKILL)  # killed before it could answer
    assert network_job.wait(kb, DEADLINE)
    assert isinstance(network_job.job(kb).error, network_job.Crashed)
    assert degree(ORG + "swirrl") == before  # nothing written: graph/network is of the older generation
    answer = client.get("/network.json")  # the next request starts the job again
    assert answer.status_code in (200, 503), answer.get_data(as_text=True)[:300]
    assert network_job.job(kb).error is None
    assert network_job.wait(kb, DEADLINE) and network_job.job(kb).error is None
    assert degree(ORG + "swirrl") > before  # graph/network has the accepted project's links
    assert client.get("/network.json").get_json()["refreshing"] is False

    # what the job wrote is what a fresh computation gives, in graph/network and graph/aligned
    assert network.cached(kb).generation == kb.generation
    assert incremental.network_changes(kb, network.compute(kb)) == {kb.graphs.network: (set(), set())}


def test_a_merge_in_a_big_network_leaves_the_figures_to_the_job(kb_copy):
    """A merge (a moderator's request) recomputed the network in the request: minutes at 10M, holding
    the web process's interpreter. Above DSIKB_NETWORK_INLINE_MAX it leaves the figures to the job,
    which writes what a fresh computation gives: the merged organisation leaves the network and its
    partners count for the survivor."""
    from kb.build import incremental
    from kb.contribute.merge import merge
    from kb.publish import network, network_job

    kb = kb_copy
    kb.settings = kb.settings.replace(network_inline_max=0)

    survivor, merged = ORG + "nesta", ORG + "swirrl"
    assert _degree(kb, survivor) and _degree(kb, merged)
    before = _degree(kb, survivor)
    merge(kb, survivor, merged, by="test", reason="network job test")
    assert network.cached(kb) is None  # the merge did not compute the network: the job does, after it
    assert _degree(kb, merged) is not None  # graph/network is still of the generation before the merge
    assert network_job.wait(kb, DEADLINE) and network_job.job(kb).error is None
    assert _degree(kb, merged) is None and _degree(kb, survivor) >= before
    assert network.cached(kb).generation == kb.generation
    assert incremental.network_changes(kb, network.compute(kb)) == {kb.graphs.network: (set(), set())}


def test_a_store_without_figures_is_not_taken_for_an_empty_network(kb_copy):
    """A store loaded from N-Quads and not derived has no figures in graph/network: its size is
    bounded by its organisations, so a big one leaves the figures to the job (it was taken for an
    empty network, and computed in the request)."""
    from kb.build import incremental

    kb = kb_copy
    organisations = int(kb.select("SELECT (COUNT(?o) AS ?n) WHERE { ?o a dsi:Organisation }")[0]["n"].value)
    assert incremental.network_size(kb) < organisations  # figures written: the linked ones
    kb.replace_graph(kb.graphs.network, [])
    assert incremental.network_size(kb) == organisations
    kb.settings = kb.settings.replace(network_inline_max=organisations - 1)
    assert not incremental.inline_network(kb)
    kb.settings = kb.settings.replace(network_inline_max=organisations)
    assert incremental.inline_network(kb)
