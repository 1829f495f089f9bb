"""Issue 14: after a write, /search and /browse keep answering from the previous index while the new
one is built in the background (kb/index/refresh.py), saying so; builds are one at a time and
coalesced; with no index at all yet, 503 with Retry-After.

Builds are paused deterministically with the refreshers' ``hold`` event (cleared: a build waits
before it starts), never with sleeps."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

import pytest

from kb.index import browse, search
from tests.support import make_app

NOTE = "Results are from before the latest change; the index is being refreshed."


@contextlib.contextmanager
def builds_paused():
    """Every search-index and browse-tables build waits until the block ends."""
    search.refresher.hold.clear()
    browse.refresher.hold.clear()
    try:
        yield
    finally:
        search.refresher.hold.set()
        browse.refresher.hold.set()


def _client(kb, **settings):
    app = make_app(kb)
    app.config["DSIKB_SETTINGS"] = kb.settings.replace(**settings)
    return app.test_client()


def _add(kb, slug: str, label: str) -> None:
    base = kb.names.base
    kb.update("INSERT DATA { GRAPH <%sgraph/curated> { <%sid/organisation/%s> a dsi:Organisation ; "
              "rdfs:label \"%s\" } }" % (base, base, slug, label))


def _ready(kb) -> None:
    """The current generation's index and lists, built (as warm-up does)."""
    search.lexicon(kb)
    browse.tables(kb)


def test_after_a_write_search_and_browse_answer_from_the_previous_index_with_a_note(tiny_kb):
    _ready(tiny_kb)
    before = tiny_kb.generation
    stale = _client(tiny_kb, index_wait=0.05)  # a request waits 50 ms for the new index
    with builds_paused():
        _add(tiny_kb, "zebrafish-collective", "Zebrafish Collective")
        found = stale.get("/search.json?q=zebrafish")
        assert found.status_code == 200
        body = found.get_json()
        assert body["total"] == 0  # the previous index: the new organisation is not in it yet
        assert body["index"] == {"generation": before, "current": False, "refreshing": True}
        assert stale.get("/search.json?q=open").get_json()["total"] >= 1  # still answers what it knew
        page = stale.get("/search?q=open")
        assert page.status_code == 200 and NOTE in page.text
        listed = stale.get("/browse/organisation.json")
        assert listed.status_code == 200
        data = listed.get_json()
        assert data["index"] == {"generation": before, "current": False, "refreshing": True}
        assert "Zebrafish Collective" not in [item["label"] for item in data["items"]]
        html = stale.get("/browse/organisation")
        assert html.status_code == 200 and NOTE in html.text
        german = stale.get("/browse/organisation?lang=de")
        assert "Die Ergebnisse stammen von vor der letzten Änderung" in german.text
    fresh = _client(tiny_kb, index_wait=60)  # once the builds run, the next requests get the new index
    body = fresh.get("/search.json?q=zebrafish").get_json()
    assert body["total"] == 1 and body["results"][0]["label"] == "Zebrafish Collective"
    assert body["index"] == {"generation": tiny_kb.generation, "current": True, "refreshing": False}
    data = fresh.get("/browse/organisation.json").get_json()
    assert data["index"]["current"] and "Zebrafish Collective" in [item["label"] for item in data["items"]]
    assert NOTE not in fresh.get("/search?q=zebrafish").text
    assert NOTE not in fresh.get("/browse/organisation").text


def test_three_writes_during_a_build_make_one_more_build_not_three(tiny_kb):
    _ready(tiny_kb)
    client = _client(tiny_kb, index_wait=0.01)
    searched, listed = search.refresher.state(tiny_kb).builds, browse.refresher.state(tiny_kb).builds
    with builds_paused():
        for i in range(3):
            _add(tiny_kb, f"coalesced-{i}", f"Coalesced Cooperative {i}")
            assert client.get("/search.json?q=cooperative").status_code == 200  # each asks for its generation
            assert client.get("/browse/organisation.json").status_code == 200
    body = _client(tiny_kb, index_wait=60).get("/search.json?q=coalesced cooperative").get_json()
    assert body["total"] == 3 and body["index"]["current"]
    browse.tables(tiny_kb)
    assert 1 <= search.refresher.state(tiny_kb).builds - searched <= 2
    assert 1 <= browse.refresher.state(tiny_kb).builds - listed <= 2


def test_with_no_index_yet_search_and_browse_answer_503_with_retry_after(tiny_kb):
    client = _client(tiny_kb, index_wait=0.01, query_timeout=0.01)
    with builds_paused():
        _add(tiny_kb, "first-ever", "First Ever Foundry")
        search.refresher.drop(tiny_kb)  # as at start-up: nothing built yet
        browse.refresher.drop(tiny_kb)
        for url in ("/search.json?q=foundry", "/search?q=foundry", "/browse/organisation",
                    "/browse/project.json"):
            resp = client.get(url)
            assert resp.status_code == 503, (url, resp.status_code)
            assert 5 <= int(resp.headers["Retry-After"]) <= 300
            assert "being built" in resp.get_data(as_text=True)
    assert _client(tiny_kb, index_wait=60).get("/search.json?q=foundry").get_json()["total"] == 1


@pytest.mark.embedded_only("the index sits in a file beside the on-disk store")
def test_the_index_file_is_served_while_another_is_built_and_swapped_in_whole(tmp_path):
    from kb.settings import Settings
    from kb.store import KB

    kb_copy = KB.open(Settings.from_env(environ={}, store=str(tmp_path / "store"), sources=""))
    base = kb_copy.names.base
    kb_copy.update("INSERT DATA { GRAPH <%sgraph/curated> { %s } }" % (base, " ".join(
        f'<{base}id/organisation/org-{i}> a dsi:Organisation ; rdfs:label "Organisation Number {i}" .'
        for i in range(120))))
    path = search.index_path(kb_copy)
    search.open_index(kb_copy).close()
    old = search._stored_generation(path)
    with builds_paused():
        _add(kb_copy, "zz-file", "Zebrafish Filehouse")
        index = search.open_index(kb_copy, wait=None, fresh_wait=0.01)
        try:
            assert (index.stamp, index.current) == (old, False)
            assert index.conn.execute("SELECT count(*) FROM entity").fetchone()[0] > 100
        finally:
            index.close()
        assert search._stored_generation(path) == old  # untouched until the new one is whole
    index = search.open_index(kb_copy)  # waits for the current one (as warm-up does)
    try:
        found = index.conn.execute("SELECT label FROM entity WHERE entity MATCH 'filehouse'").fetchall()
    finally:
        index.close()
    assert found == [("Zebrafish Filehouse",)] and index.current
    assert search._stored_generation(path) == search._stamp(kb_copy)
    assert not list(path.parent.glob(path.name + ".*.tmp"))  # nothing left half-built
    # a second process finding the file current builds nothing: the stamp is read from the file
    assert search._probe(kb_copy) == (search._stamp(kb_copy), path)
    # while another process holds the index's lock file (building it), this one builds nothing
    built = search._stored_generation(path)
    with search._file_lock(path):  # a lock of its own open file, as another process's would be
        _add(kb_copy, "zz-locked", "Zebrafish Lockhouse")
        index = search.open_index(kb_copy, wait=None, fresh_wait=0.05)
        index.close()
        assert not index.current and search._stored_generation(path) == built
    index = search.open_index(kb_copy)
    index.close()
    assert index.current and search._stored_generation(path) == search._stamp(kb_copy)


def test_warm_up_closing_its_connection_leaves_the_in_memory_index_working(tiny_kb):
    from kb.index.warm import warm

    warm(tiny_kb)  # closes the connection it was given
    assert search.search(tiny_kb, "open")[1] >= 1


MEMORY_SCRIPT = r'''
import sys, time
from kb.index import refresh

def anon():
    for line in open("/proc/self/status"):
        if line.startswith("RssAnon"):
            return int(line.split()[1]) >> 10

def build(kb, key):  # like a build of the lists: much allocated and freed, a little kept
    scratch = [bytes(1000 + i % 7) for i in range(200_000)]  # ~200 MiB of malloc'd blocks
    keep = [bytes(2000) for _ in range(100)]  # allocated last: the top of the heap stays in use
    del scratch
    return keep

class Store:
    pass

kb = Store()
refresher = refresh.Refresher(build, name="memory-test", what="test value")
before = anon()
refresher.get(kb, 1, wait=None)
deadline = time.monotonic() + 30
while refresher.state(kb).running and time.monotonic() < deadline:  # the builder thread finishing
    time.sleep(0.02)
print(before, anon())
'''


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads /proc")
def test_a_build_gives_its_scratch_memory_back():
    """After a build, the memory it allocated and freed leaves the process: without malloc_trim glibc
    kept it, and the app's resident size stayed near its largest build's peak (bench/memory_bench.py)."""
    from kb.settings import PROJECT_ROOT

    done = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    before, after = map(int, done.stdout.split())
    assert after - before < 50, f"RssAnon {before} MiB before the build, {after} MiB after it (~200 MiB was scratch)"
