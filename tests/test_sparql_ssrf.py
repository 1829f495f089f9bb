"""SERVICE and LOAD can never make this server reach out, however the query is written: the check
reads the parsed query, the query workers have no network, and failures of an allow-listed
federated endpoint are reported without network details."""

from __future__ import annotations

import json
import multiprocessing
import socket
import threading

import pytest

from tests.test_sparql_safety import TOKEN, app_factory  # noqa: F401 (app_factory: a fixture)


class Listener:
    """A TCP server on 127.0.0.1 that records every connection made to it (it must get none) and
    answers with an empty SPARQL JSON result, so a query that reached it would get data back."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/x"
        self.contacts = 0
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        body = b'{"head":{"vars":["x"]},"results":{"bindings":[{"x":{"type":"literal","value":"LEAK"}}]}}'
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self._stop:
                conn.close()
                return
            self.contacts += 1
            with conn:
                conn.settimeout(2)
                try:
                    conn.recv(65536)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/sparql-results+json\r\n"
                                 b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
                except OSError:
                    pass

    def close(self):
        self._stop = True
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            pass
        self.sock.close()
        self.thread.join(5)


@pytest.fixture()
def listener():
    lst = Listener()
    yield lst
    lst.close()


def bypasses(url: str) -> list[str]:
    """The confirmed ways around the old text check (issue 10), and one more: a string escape that
    rdflib expands before lexing but Oxigraph only inside the string."""
    return [
        f"SELECT * WHERE {{ ?s ?p true.SERVICE <{url}> {{ ?x ?y ?z }} }}",
        f"SELECT * WHERE {{ ?s ?p false.SERVICE SILENT <{url}> {{ ?x ?y ?z }} }}",
        f"SELECT * WHERE {{ BIND(<{url}> AS ?e) ?s ?p true.SERVICE ?e {{ ?x ?y ?z }} }}",
        f"SELECT * WHERE {{ ?s ?p 1.SERVICE <{url}> {{ ?x ?y ?z }} }}",
        f"SELECT * WHERE {{ ?s ?p ?o }}SERVICE <{url}> {{ ?x ?y ?z }} }}",
        f'SELECT * WHERE {{ ?s ?p "\\u0022" . SERVICE <{url}> {{ ?x ?y ?z }} ?s ?p """ ?s ?p """ # """\n}}',
        # Oxigraph reads an undeclared "trueSERVICE:x" as true SERVICE :x (no word boundary needed)
        f"PREFIX : <{url.rsplit('/', 1)[0]}/> SELECT * {{ ?s ?p trueSERVICE:x {{ ?a ?b ?c }} }}",
        f"SELECT * {{ ?s ?p 1SERVICE<{url}> {{ ?a ?b ?c }} }}",
        f"SELECT * {{ ?s ?p ?o OPTIONAL{{}}SERVICE<{url}> {{ ?a ?b ?c }} }}",
    ]


def test_service_after_a_keyword_literal_is_refused(app_factory, listener):
    c = app_factory().test_client()
    for query in bypasses(listener.url):
        r = c.get("/sparql", query_string={"query": query})
        assert r.status_code == 400, (query, r.status_code, r.data[:300])
        assert b"LEAK" not in r.data
    assert listener.contacts == 0


def test_load_after_a_keyword_literal_is_refused(app_factory, listener):
    c = app_factory(update_token=TOKEN).test_client()
    update = f"INSERT DATA {{ <http://a> <http://b> true }} ; LOAD <{listener.url}>"
    r = c.post("/sparql", data=update, content_type="application/sparql-update",
               headers={"Authorization": "Bearer " + TOKEN})
    assert r.status_code == 400 and "LOAD" in r.data.decode()
    assert listener.contacts == 0


def test_evaluation_errors_reveal_no_network_details():
    """What an unreachable endpoint says (host, port, 'Connection refused') stays in the server log."""
    import pyoxigraph as ox

    from kb.sparql.evaluate import evaluate

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    messages = []
    job = {"query": f"SELECT * {{ SERVICE <http://127.0.0.1:{port}/sparql> {{ ?s ?p ?o }} }}",
           "media": "application/sparql-results+json", "max_rows": 10, "max_bytes": 10_000}
    evaluate(ox.Store().query, job, messages.append)
    kind, status, message = messages[0]
    assert kind == "error" and status >= 500
    for detail in (str(port), "127.0.0.1", "refused", "os error", "Connection"):
        assert detail not in message, message
    assert "could not be reached" in message


def test_worker_with_isolation_cannot_open_a_connection(tmp_path, listener):
    """The defence in depth on its own: a worker given a SERVICE query directly (no text check)
    reaches nothing; the same worker without isolation does reach the listener."""
    import pyoxigraph as ox

    from kb.sparql.pool import worker_main

    store_path = tmp_path / "store"
    ox.Store(str(store_path)).flush()
    ctx = multiprocessing.get_context("spawn")
    job = {"query": f"SELECT * {{ SERVICE <{listener.url}> {{ ?s ?p ?o }} }}",
           "media": "application/sparql-results+json", "max_rows": 10, "max_bytes": 10_000}
    answers = {}
    for isolate in (True, False):
        parent, child = ctx.Pipe()
        process = ctx.Process(target=worker_main, args=(child, str(store_path)),
                              kwargs={"isolate": isolate}, daemon=True)
        process.start()
        child.close()
        try:
            assert parent.poll(60)
            ready = parent.recv()
            assert ready[0] == "ready", ready
            parent.send(job)
            assert parent.poll(30)
            answers[isolate] = (ready, parent.recv(), listener.contacts)
            parent.send(None)
        finally:
            process.join(5)
            if process.is_alive():
                process.kill()
            parent.close()
    ready, answer, contacts = answers[True]
    assert ready[1]["network_isolated"] is True, ready
    assert answer[0] == "error" and contacts == 0, answer
    ready, answer, contacts = answers[False]
    assert ready[1]["network_isolated"] is False
    assert contacts == 1  # the test's listener does see an unisolated worker


OXIGRAPH = "/work/main/.venv/bin/oxigraph"


@pytest.fixture()
def oxigraph_server():
    """A real SPARQL endpoint on 127.0.0.1 (Oxigraph's own server, in memory) holding one triple."""
    import os
    import shutil
    import subprocess
    import time
    import urllib.request

    binary = OXIGRAPH if os.path.exists(OXIGRAPH) else shutil.which("oxigraph")
    if not binary:
        pytest.skip("the oxigraph server binary is not installed")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    process = subprocess.Popen([binary, "serve", "--bind", f"127.0.0.1:{port}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                request = urllib.request.Request(base + "/store?default", method="POST",
                                                 data=b"<http://a> <http://b> 'from afar' .",
                                                 headers={"Content-Type": "text/turtle"})
                urllib.request.urlopen(request, timeout=2).close()
                break
            except OSError:
                if process.poll() is not None:
                    pytest.skip("the oxigraph server did not start")
                time.sleep(0.1)
        else:
            pytest.skip("the oxigraph server did not answer")
        yield base + "/query", process
    finally:
        process.kill()
        process.wait(5)


def test_an_allow_listed_endpoint_works_and_its_failures_hide_network_details(app_factory, oxigraph_server):
    endpoint, process = oxigraph_server
    c = app_factory(service_allowlist=endpoint).test_client()
    query = f"SELECT ?o WHERE {{ SERVICE <{endpoint}> {{ <http://a> <http://b> ?o }} }}"
    r = c.get("/sparql", query_string={"query": query})
    assert r.status_code == 200, r.data
    assert [b["o"]["value"] for b in json.loads(r.data)["results"]["bindings"]] == ["from afar"]
    # a prefixed name that resolves to it is the same endpoint
    r = c.get("/sparql", query_string={"query": f"PREFIX r: <{endpoint.rsplit('/', 1)[0]}/> "
                                                "ASK { SERVICE r:query { <http://a> <http://b> ?o } }"})
    assert r.status_code == 200 and json.loads(r.data)["boolean"] is True
    # another endpoint on the same host is not on the list
    r = c.get("/sparql", query_string={"query": query.replace("/query", "/update")})
    assert r.status_code == 400 and "allow-listed" in r.data.decode()
    process.kill()
    process.wait(5)
    r = c.get("/sparql", query_string={"query": query + " # again"})
    assert r.status_code == 502, r.data
    message = r.data.decode()
    assert "could not be reached" in message
    port = endpoint.rsplit(":", 1)[1].split("/")[0]
    for detail in (port, "127.0.0.1", "refused", "os error", "Connection"):
        assert detail not in message, message
