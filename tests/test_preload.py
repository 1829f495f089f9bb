"""``dsikb serve`` imports every module before it starts a thread, so no request imports one.

A deferred import run by two threads at once is not safe for packages that import in a circle: rdflib's
SPARQL package and pySHACL do, and a submission validated while the warm-up thread built the search index
got a half-initialised ``rdflib.plugins.sparql`` (``KeyError``) and answered 500 (found by
tests/test_fault.py). The property checked here: after :func:`endpoint.server.preload` and ``create_app``,
the requests of every surface (pages, data in each format, SPARQL in each result format, search,
reconciliation, dumps, a submission validated and accepted by a moderator) import no module of ours,
nor any other library's (the standard library's own deferred imports are
thread-safe). It runs in a fresh interpreter, whose ``sys.modules`` no other test has filled.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest

from kb.settings import PROJECT_ROOT

SCRIPT = r'''
import json, sys
from pathlib import Path

from tests.test_submissions import project, small_store
from kb.contribute.accounts import add_account

tmp = Path(sys.argv[1])
accounts = tmp / "moderators"
add_account(accounts, "mod", "preload test password")
kb = small_store(tmp / "store", moderators=str(accounts), rate_limit=0)
settings = kb.settings
kb.close()
del kb

if sys.argv[2] == "preload":
    from endpoint.server import preload
    preload()
from endpoint import create_app

app = create_app(settings)
client = app.test_client()
before = set(sys.modules)
statuses = {}

def get(path, **headers):
    statuses[f"GET {path} {headers.get('Accept', '')}"] = client.get(path, headers=headers).status_code

ORG = "/id/organisation/nesta"
for accept in ("text/html", "text/turtle", "application/ld+json", "application/rdf+xml",
               "application/n-triples", "application/n-quads", "application/trig"):
    get(ORG, Accept=accept)
    get("/data/organisation/nesta", Accept=accept)
for path in ("/", "/browse", "/browse?type=organisation", "/search?q=nesta", "/map", "/network", "/stats",
             "/def/dsi", "/.well-known/void", "/dumps/", "/sparql", "/reconcile", "/submit", "/openapi.json",
             "/api/submissions/schema", "/healthz", "/readyz", "/metrics", "/page/organisation/nesta"):
    get(path, Accept="text/html")
SELECT = "SELECT ?s ?l WHERE { ?s rdfs:label ?l } LIMIT 3"
for accept in ("application/sparql-results+json", "application/sparql-results+xml", "text/csv",
               "text/tab-separated-values", "text/html"):
    statuses[f"select {accept}"] = client.get("/sparql", query_string={"query": SELECT},
                                              headers={"Accept": accept}).status_code
for accept in ("text/turtle", "application/ld+json", "application/rdf+xml", "application/n-triples"):
    statuses[f"construct {accept}"] = client.get(
        "/sparql", query_string={"query": "CONSTRUCT WHERE { ?s rdfs:label ?l } LIMIT 3"},
        headers={"Accept": accept}).status_code
statuses["reconcile"] = client.post("/reconcile", data={"queries": json.dumps({"q0": {"query": "Nesta"}})}).status_code

resp = client.post("/api/submissions", json=project(name="Preload Project"))
statuses["submit"] = resp.status_code
sid = resp.get_json()["id"]
resp = client.post("/api/submissions", data=b"<a> <b> .", headers={"Content-Type": "text/turtle"})
statuses["submit bad turtle"] = resp.status_code

import re
def token(path):
    m = re.search(rb'name="csrf_token" value="([^"]+)"', client.get(path, headers={"Accept": "text/html"}).data)
    return m.group(1).decode()
statuses["login"] = client.post("/moderate/login", data={"name": "mod", "password": "preload test password",
                                                         "csrf_token": token("/moderate/login")}).status_code
get("/moderate", Accept="text/html")
get(f"/moderate/{sid}", Accept="text/html")
statuses["accept"] = client.post(f"/moderate/{sid}/accept", data={"csrf_token": token(f"/moderate/{sid}")},
                                 headers={"Accept": "text/html"}).status_code
get("/search?q=preload", Accept="text/html")
get("/moderate/duplicates", Accept="text/html")

new = sorted(m for m in set(sys.modules) - before if m.split(".")[0] not in sys.stdlib_module_names)
stdlib = sorted(m for m in set(sys.modules) - before if m.split(".")[0] in sys.stdlib_module_names)
import logging
root = logging.getLogger()
print(json.dumps({"statuses": statuses, "imported": new, "stdlib": stdlib,
                  "root_logger": [len(root.handlers), root.level]}))
'''


def run(tmp_path, mode: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), mode], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.embedded_only("the script builds an on-disk store of its own")
def test_requests_import_nothing_after_preload(tmp_path):
    out = run(tmp_path, "preload")
    assert {k: v for k, v in out["statuses"].items() if v >= 500} == {}
    # the surfaces answered (a request that failed early would import nothing and prove nothing)
    assert out["statuses"]["submit"] == 202 and out["statuses"]["submit bad turtle"] == 400
    assert out["statuses"]["accept"] in (200, 303) and out["statuses"]["login"] in (200, 303)
    assert all(v < 400 for k, v in out["statuses"].items() if k.startswith(("select", "construct"))), out
    assert out["imported"] == [], "imported while answering requests: " + ", ".join(out["imported"])
    assert out["root_logger"] == [0, logging.WARNING], out["root_logger"]  # see the test below


@pytest.mark.embedded_only("the script builds an on-disk store of its own")
def test_the_ontology_page_leaves_the_root_logger_alone(tmp_path):
    """pyLODE's supermodel profile calls logging.basicConfig(level=DEBUG) when imported: the first
    /def/dsi put the root logger at DEBUG with a stderr handler, and every library's debug lines (each
    request to a remote store, each SHACL shape) went to the server's stderr, which filled the pipe of
    a test that read it only at the end (test_ops' `serve --workers 2`: /readyz hung 30 s). Without
    the preload, the page imports pyLODE itself, under kb.publish.ontodoc.root_logging_kept."""
    out = run(tmp_path, "none")
    assert out["statuses"]["GET /def/dsi text/html"] == 200
    assert out["root_logger"] == [0, logging.WARNING], out["root_logger"]


@pytest.mark.embedded_only("the script builds an on-disk store of its own")
def test_without_preload_requests_import_the_circular_packages(tmp_path):
    """The check above can fail: without the preload, the first submission imports pySHACL and
    rdflib's SPARQL package from a request."""
    out = run(tmp_path, "none")
    assert "pyshacl" in out["imported"] and "rdflib.plugins.sparql" in out["imported"], out["imported"]
