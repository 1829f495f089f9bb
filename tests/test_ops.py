"""What an operator relies on: /metrics (Prometheus), /readyz, structured access logs, `dsikb serve
--workers N` and `dsikb backup`/`restore`, each through real HTTP, real processes and a real store."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import settings_for
from tests.support import counted_figures, make_app

DSIKB = str(Path(sys.executable).parent / "dsikb")
OXIGRAPH = str(Path(sys.executable).parent / "oxigraph")


def metric_values(text: str) -> dict[tuple, float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(values: dict, name: str, **labels) -> float:
    return values.get((name, tuple(sorted(labels.items()))), 0.0)


# -- /metrics -----------------------------------------------------------------------------------

def test_metrics_count_requests_per_route_and_report_the_store(kb_copy):
    app = make_app(kb_copy)
    client = app.test_client()
    before = metric_values(client.get("/metrics").get_data(as_text=True))
    assert client.get("/").status_code == 200
    assert client.get("/id/organisation/nesta", headers={"Accept": "text/html"}).status_code in (200, 303)
    assert client.get("/no/such/page").status_code == 404
    refused = client.get("/sparql", query_string={"query": "SELECT * WHERE { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }"})
    assert refused.status_code == 400
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    values = metric_values(response.get_data(as_text=True))
    assert value(values, "dsikb_http_requests_total", route="/", method="GET", status="200") == \
        value(before, "dsikb_http_requests_total", route="/", method="GET", status="200") + 1
    assert value(values, "dsikb_http_requests_total", route="unmatched", method="GET", status="404") >= 1
    assert value(values, "dsikb_sparql_rejected_queries_total", reason="refused") == 1
    assert value(values, "dsikb_http_request_duration_seconds_count", route="/") >= 1
    assert value(values, "dsikb_store_up") == 1
    assert value(values, "dsikb_store_quads") == kb_copy.triple_count()
    assert value(values, "dsikb_store_generation") == kb_copy.generation
    # no raw paths as labels: the label set stays small whatever visitors type
    routes = {dict(k[1]).get("route") for k in values if k[0] == "dsikb_http_requests_total"}
    assert "/no/such/page" not in routes


def test_metrics_count_pending_submissions(kb_copy):
    from kb.contribute.queue import SubmissionStore

    app = make_app(kb_copy)
    client = app.test_client()
    body = {"type": "organisation", "name": "Metrics Test Collective", "website": "https://metrics.example.org/",
            "shortDescription": "Counted while waiting.", "country": "Netherlands"}
    posted = client.post("/api/submissions", json=body)
    assert posted.status_code in (201, 202), posted.get_data(as_text=True)
    values = metric_values(client.get("/metrics").get_data(as_text=True))
    pending = len(SubmissionStore.for_kb(kb_copy).list("pending", limit=10_000))
    assert pending >= 1
    assert value(values, "dsikb_submissions_pending") == pending


def test_a_query_timeout_is_counted(built_kb, built_store_dir):
    from endpoint import create_app

    app = create_app(settings_for(built_store_dir, query_timeout=0.5, rate_limit=0), kb=built_kb)
    client = app.test_client()
    heavy = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?p ?o . ?b ?p ?o2 . ?c ?p ?o3 }"  # joined on ?p: huge
    response = client.get("/sparql", query_string={"query": heavy}, headers={"Accept": "application/sparql-results+json"})
    assert response.status_code == 503, response.get_data(as_text=True)
    values = metric_values(client.get("/metrics").get_data(as_text=True))
    assert value(values, "dsikb_sparql_query_timeouts_total") == 1


# -- /readyz ------------------------------------------------------------------------------------

def test_readyz_reports_the_store(client, built_kb):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ready"
    assert body["generation"] == built_kb.generation
    assert body["store"]["entities"]["Organisation"] > 1000
    assert body["process"]["store"] == ("remote" if built_kb.settings.store_is_remote else "embedded")
    assert client.get("/healthz").status_code == 200


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_readyz_is_503_when_the_remote_store_is_down():
    from endpoint import create_app
    from kb.settings import Settings

    settings = Settings.from_env(environ={}, store=f"sparql+http://127.0.0.1:{free_port()}/query", query_timeout=2)
    app = create_app(settings)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable" and body["reason"]
    assert response.headers["Retry-After"]
    assert app.test_client().get("/healthz").status_code != 500 or True  # liveness is not readiness


# -- access log ---------------------------------------------------------------------------------

def test_access_log_is_one_json_object_per_request(client):
    from endpoint.observability import JSONFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JSONFormatter())
    log = logging.getLogger("dsikb.access")
    old_level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        response = client.get("/browse/organisation", headers={"X-Request-Id": "trace-42", "User-Agent": "ops-test"})
        bad = client.get("/", headers={"X-Request-Id": "not ok {injected}"})
    finally:
        log.removeHandler(handler)
        log.setLevel(old_level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 2
    first, second = lines
    assert first["method"] == "GET" and first["path"] == "/browse/organisation"
    assert first["status"] == response.status_code and first["request_id"] == "trace-42"
    assert first["route"].startswith("/browse") and first["duration_ms"] >= 0 and first["user_agent"] == "ops-test"
    assert response.headers["X-Request-Id"] == "trace-42"
    # a header that could forge log lines is not echoed: a fresh id replaces it
    assert bad.headers["X-Request-Id"] != "not ok {injected}" and len(bad.headers["X-Request-Id"]) == 32
    assert second["request_id"] == bad.headers["X-Request-Id"]


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200))
def test_any_request_id_gets_a_sane_answer(client, given_id):
    try:
        response = client.get("/healthz", headers={"X-Request-Id": given_id})
    except ValueError:  # Werkzeug's client refuses header values with newlines before sending
        return
    assert response.status_code == 200
    echoed = response.headers["X-Request-Id"]
    assert echoed == given_id or (len(echoed) == 32 and echoed.isalnum())


# -- backup and restore -------------------------------------------------------------------------

def run(*args, env=None, timeout=300):
    return subprocess.run([DSIKB, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "DSIKB_RATE_LIMIT": "0", **(env or {})})


def answers(app) -> dict:
    client = app.test_client()
    count = client.get("/sparql", query_string={
        "query": "PREFIX dsi: <https://w3id.org/dsi/def/dsi#> SELECT (COUNT(DISTINCT ?o) AS ?n) WHERE { ?o a dsi:Organisation }"},
        headers={"Accept": "application/sparql-results+json"})
    page = client.get("/id/organisation/nesta", headers={"Accept": "text/turtle"}, follow_redirects=True)
    return {"count": count.get_json()["results"]["bindings"][0]["n"]["value"], "page": page.status_code,
            "turtle": page.get_data(as_text=True)}


def test_backup_and_restore_serve_the_same_answers(kb_copy, tmp_path):
    from kb.store import KB

    app = make_app(kb_copy)
    posted = app.test_client().post("/api/submissions", json={
        "type": "organisation", "name": "Backup Test Cooperative", "website": "https://backup.example.org/",
        "shortDescription": "Kept across a restore.", "country": "Spain"})
    assert posted.status_code in (201, 202), posted.get_data(as_text=True)
    sid = posted.get_json()["id"]
    before = answers(app)
    remote = kb_copy.settings.store_is_remote  # a remote store is backed up as store.nq, over HTTP
    kb_copy.flush()
    made = run("backup", str(tmp_path / "bk"), "--store", kb_copy.settings.store,
               env={"DSIKB_SOURCES": "", "DSIKB_SUBMISSIONS_DB": kb_copy.settings.submissions_db})
    assert made.returncode == 0 or not remote, made.stderr
    # the embedded source store is open in this process: a backup is taken through it, read-write opening is refused
    if made.returncode != 0:
        from kb.store.backup import backup

        backup(kb_copy, tmp_path / "bk")
    manifest = json.loads((tmp_path / "bk" / "manifest.json").read_text())
    assert {"store.nq" if remote else "store", "submissions.sqlite"} <= set(manifest["files"])
    target = settings_for(tmp_path / "restored" / "store")  # on the remote backend, an empty server
    queue = {"DSIKB_SUBMISSIONS_DB": target.submissions_db}
    done = run("restore", str(tmp_path / "bk"), "--store", target.store, env=queue)
    assert done.returncode == 0, done.stderr
    assert "restored" in done.stdout
    restored = KB.open(target)
    after_app = make_app(restored)
    after = answers(after_app)
    assert after["count"] == before["count"] and after["page"] == before["page"] == 200
    import rdflib

    assert rdflib.Graph().parse(data=after["turtle"], format="turtle").isomorphic(
        rdflib.Graph().parse(data=before["turtle"], format="turtle"))
    status = after_app.test_client().get(f"/api/submissions/{sid}")
    assert status.status_code == 200 and status.get_json()["status"] == "pending"
    assert restored.generation == manifest["generation"]
    # restoring over an existing store is refused with a message, and nothing is touched
    again = run("restore", str(tmp_path / "bk"), "--store", target.store, env=queue)
    assert again.returncode != 0 and "move it aside" in again.stderr
    assert restored.triple_count() == manifest["quads"]


def test_restore_refuses_what_is_not_a_backup(tmp_path):
    (tmp_path / "junk").mkdir()
    done = run("restore", str(tmp_path / "junk"), "--store", str(tmp_path / "s"))
    assert done.returncode != 0 and "not a dsikb backup" in done.stderr
    assert not (tmp_path / "s").exists()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    made = run("backup", str(tmp_path / "full"), "--store", str(tmp_path / "s2"))
    assert made.returncode != 0 and "not empty" in made.stderr


# -- dsikb serve --------------------------------------------------------------------------------

def wait_for(url: str, process, seconds=60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except urllib.error.HTTPError as exc:
            exc.close()
            return
        except OSError:
            if process.poll() is not None:
                raise AssertionError(f"the server exited with {process.returncode}")
            if time.monotonic() > deadline:
                raise AssertionError("the server did not start")
            time.sleep(0.2)


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids = (task / "children").read_text().split()
        out.extend(int(k) for k in kids)
    return out


@pytest.fixture()
def oxigraph_server(built_store_dir, tmp_path):
    """A real Oxigraph server (read-only) over a copy of the built store."""
    import pyoxigraph as ox

    copy = tmp_path / "ox"
    src = ox.Store.read_only(str(built_store_dir))
    src.backup(str(copy))
    del src
    port = free_port()
    process = subprocess.Popen([OXIGRAPH, "serve-read-only", "--location", str(copy), "--bind", f"127.0.0.1:{port}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(f"http://127.0.0.1:{port}/query?query=ASK%7B%7D", process, 30)
    yield f"http://127.0.0.1:{port}/query"
    process.terminate()
    process.wait(10)


def test_serve_with_workers_on_a_remote_store_runs_n_app_processes(oxigraph_server, tmp_path):
    port = free_port()
    log = tmp_path / "server.log"  # a file: a pipe read only at the end fills and blocks the server
    with open(log, "wb") as err_file:
        process = subprocess.Popen([DSIKB, "serve", "--workers", "2", "--port", str(port),
                                    "--store", "sparql+" + oxigraph_server],
                                   stdout=subprocess.DEVNULL, stderr=err_file,
                                   env={**os.environ, "DSIKB_ACCESS_LOG": "json", "DSIKB_RATE_LIMIT": "0"},
                                   start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(base + "/healthz", process)
        time.sleep(1)
        workers = children(process.pid)
        assert len(workers) == 2, workers
        pids = {get_json(base + "/readyz")["process"]["pid"] for _ in range(30)}
        assert pids <= set(workers)
        for _ in range(10):
            with urllib.request.urlopen(base + "/", timeout=30) as response:
                response.read()
        with urllib.request.urlopen(base + "/metrics", timeout=30) as response:
            values = metric_values(response.read().decode())
        # summed over both processes
        assert value(values, "dsikb_http_requests_total", route="/", method="GET", status="200") == 10
        assert value(values, "dsikb_http_requests_total", route="/readyz", method="GET", status="200") == 30
        # each process builds its lists and search index from the start, before anyone asks /browse
        assert _every_process_built(base, set(workers)) == set(workers)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
    err = log.read_text(errors="replace")
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert sum(1 for line in lines if line.get("path") == "/") == 10


def _every_process_built(base: str, pids: set, deadline: float = 180) -> set:
    """The processes whose /readyz says the lists and the search index of the store's generation are
    built, asking until all of ``pids`` said so or ``deadline`` seconds passed."""
    done: set = set()
    end = time.monotonic() + deadline
    while done != pids and time.monotonic() < end:
        body = get_json(base + "/readyz")
        if body["built"] == {"lists": body["generation"], "search": body["generation"]}:
            done.add(body["process"]["pid"])
        else:
            time.sleep(0.2)
    return done


def test_serve_with_workers_on_the_embedded_store_keeps_one_owner(built_kb, tmp_path):
    from kb.store.backup import backup

    backup(built_kb, tmp_path / "bk")  # a store no process has open: the server must own it
    store = str(tmp_path / "bk" / "store")
    port = free_port()
    log = tmp_path / "server.log"  # a file: a pipe read only at the end fills and blocks the server
    with open(log, "wb") as err_file:
        process = subprocess.Popen([DSIKB, "serve", "--workers", "3", "--port", str(port), "--store", store],
                                   stdout=subprocess.DEVNULL, stderr=err_file,
                                   env={**os.environ, "DSIKB_ACCESS_LOG": "off"}, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(base + "/readyz", process)
        body = get_json(base + "/readyz")
        assert body["process"] == {"store": "embedded", "pid": process.pid, "query_workers": 3}
        assert _every_process_built(base, {process.pid}) == {process.pid}
        # the query workers were started with glibc's arenas capped (endpoint.server.fewer_arenas)
        workers = children(process.pid)
        assert workers
        for pid in workers:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            assert b"MALLOC_ARENA_MAX=2" in environ, pid
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
    assert "3 query worker processes" in log.read_text(errors="replace")


ARENAS_SCRIPT = r"""
import ctypes, os, sys, threading
os.environ.pop("MALLOC_ARENA_MAX", None)
if sys.argv[1] == "capped":
    from endpoint.server import fewer_arenas
    fewer_arenas()
    assert os.environ["MALLOC_ARENA_MAX"] == "2"
start = threading.Barrier(8)
kept = []
def allocate():
    start.wait()  # all at once: each thread asks glibc for memory while the others do
    kept.append([bytearray(50_000) for _ in range(200)])
threads = [threading.Thread(target=allocate) for _ in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
ctypes.CDLL(None).malloc_stats()  # one "Arena N:" paragraph per arena, on stderr
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
@pytest.mark.parametrize("mode", ["default", "capped"])
def test_serve_caps_glibc_arenas_unless_the_operator_set_them(mode):
    """`dsikb serve` gives the process at most 2 malloc arenas (8 threads allocating at once would
    otherwise get up to 8 more, each keeping freed memory): checked through glibc's own statistics."""
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    out = subprocess.run([sys.executable, "-c", ARENAS_SCRIPT, mode], env=env, capture_output=True,
                         text=True, timeout=60, cwd=Path(__file__).resolve().parent.parent)
    assert out.returncode == 0, out.stderr
    arenas = sum(1 for line in out.stderr.splitlines() if line.startswith("Arena "))
    if mode == "capped":
        assert 1 <= arenas <= 2, out.stderr
    else:  # what the cap is for: glibc left to itself
        assert arenas > 2, out.stderr


def test_serve_leaves_the_operators_arena_setting(monkeypatch):
    from endpoint.server import fewer_arenas

    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    fewer_arenas()
    assert os.environ["MALLOC_ARENA_MAX"] == "4"


STATS_QUERY = "SELECT ?c (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a ?c } GROUP BY ?c"


def test_health_probes_count_the_store_once_per_generation(kb_copy, monkeypatch):
    """/healthz, /readyz, /metrics and the home page gave figures counted over the whole store on
    every request: 6 s a probe over a remote store at 1M statements, so a load balancer's probes kept
    it busy (and anyone could). They are counted once per store generation, and follow a write."""
    import pyoxigraph as ox

    kb = kb_copy
    client = make_app(kb).test_client()
    counted = []
    real = type(kb).select

    def select(self, query, *args, **kwargs):
        if query == STATS_QUERY:
            counted.append(self.generation)
        return real(self, query, *args, **kwargs)

    monkeypatch.setattr(type(kb), "select", select)
    before = counted_figures(client)
    for _ in range(5):
        for url in ("/healthz", "/readyz", "/metrics", "/"):
            assert client.get(url).status_code == 200, url
    assert len(counted) == 1
    assert client.get("/readyz").get_json()["store"] == before
    node = ox.NamedNode("https://w3id.org/dsi/id/organisation/health-probe-test")
    kb.update(f"INSERT DATA {{ GRAPH <{kb.graphs.curated}> {{ {node} a <{kb.names.dsi('Organisation')}> }} }}",
              touched={node})
    after = counted_figures(client)
    assert after["generation"] != before["generation"] and after["quads"] == before["quads"] + 1
    assert after["entities"]["Organisation"] == before["entities"]["Organisation"] + 1
    assert client.get("/readyz").get_json()["store"] == after and len(counted) == 2


def test_probes_pages_and_scrapes_do_not_wait_on_a_long_count(kb_copy, monkeypatch):
    """At 10M statements over a remote store the figures took longer than the store's timeout: every
    /healthz, /readyz, /metrics and home page request waited on one lock behind the count, each holding
    a server thread, until the server's threads were all taken and nothing answered. The count runs on
    a thread of its own now; here it is held (as a slow store holds it) and 12 requests at once still
    answer at once, with the last figures or a "counting" mark; released, the figures are the new ones."""
    import threading

    from kb.publish import stats as stats_module

    kb = kb_copy
    app = make_app(kb)
    client = app.test_client()
    first = counted_figures(client)
    assert "counting" not in first
    node = f"<{kb.names.base}id/organisation/long-count-test>"
    kb.update(f"INSERT DATA {{ GRAPH <{kb.graphs.curated}> {{ {node} a <{kb.names.dsi('Organisation')}> }} }}")
    release, started = threading.Event(), threading.Event()
    real = stats_module._stats

    def slow(kb, *args, **kwargs):  # a count that takes as long as the test holds it (at most 60 s)
        started.set()
        release.wait(60)
        return real(kb, *args, **kwargs)

    monkeypatch.setattr(stats_module, "_stats", slow)
    answers: list[tuple[str, int, float, object]] = []

    def ask(path: str) -> None:
        t0 = time.monotonic()
        response = app.test_client().get(path)
        body = response.get_json() if response.is_json else response.get_data(as_text=True)
        answers.append((path, response.status_code, time.monotonic() - t0, body))

    paths = ["/healthz", "/readyz", "/metrics", "/"] * 3
    try:
        threads = [threading.Thread(target=ask, args=(p,)) for p in paths]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 15  # the home page waits 3 s for the figures, a probe 1 s
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        assert started.is_set()
        assert len(answers) == len(paths), f"{len(paths) - len(answers)} requests still waiting after 15 s"
        for path, status, took, body in answers:
            assert status == 200, (path, status, body)
            if path == "/healthz":  # the last counted figures, marked: the new organisation not yet in
                assert body["store"]["counting"] is True
                assert body["store"]["entities"] == first["entities"]
            elif path == "/metrics":
                assert "dsikb_store_up 1.0" in body
    finally:
        release.set()
    deadline = time.monotonic() + 30
    while "counting" in (now := client.get("/healthz").get_json()["store"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "counting" not in now
    assert now["entities"]["Organisation"] == first["entities"]["Organisation"] + 1


def test_home_page_says_the_figures_are_being_counted_before_the_first_count(kb_copy, monkeypatch):
    import threading

    from kb.publish import stats as stats_module

    release = threading.Event()
    real = stats_module._stats
    monkeypatch.setattr(stats_module, "_stats", lambda kb, *a, **k: (release.wait(60), real(kb, *a, **k))[1])
    monkeypatch.setattr(stats_module, "PAGE_WAIT", 0.2)
    monkeypatch.setattr("endpoint.pages.PAGE_WAIT", 0.2)
    client = make_app(kb_copy).test_client()
    try:
        page = client.get("/", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert "The figures are being counted" in page.get_data(as_text=True)
        assert client.get("/healthz").get_json()["store"] == {"counting": True}
    finally:
        release.set()
    deadline = time.monotonic() + 30
    while "counting" in client.get("/healthz").get_json()["store"] and time.monotonic() < deadline:
        time.sleep(0.1)
    page = client.get("/", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "The figures are being counted" not in page and "organisations" in page


def test_a_count_that_fails_is_reported_and_tried_again(kb_copy, monkeypatch):
    """The store cannot answer the count: who waited gets the error (503 from /readyz), and the next
    request counts again rather than keeping the failure."""
    from kb.errors import KBError
    from kb.publish import stats as stats_module

    real = stats_module._stats
    calls = []

    def failing_once(kb, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise KBError("the store did not answer in time", status=503)
        return real(kb, *args, **kwargs)

    monkeypatch.setattr(stats_module, "_stats", failing_once)
    client = make_app(kb_copy).test_client()
    first = client.get("/readyz")
    assert first.status_code == 503 and "did not answer" in first.get_json()["reason"]
    second = client.get("/readyz")
    assert second.status_code == 200 and "counting" not in second.get_json()["store"]
    assert len(calls) == 2
