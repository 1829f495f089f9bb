"""The Wikidata linker against a real Oxigraph server loaded with Wikidata-shaped fixture data.

A tiny fault-injecting HTTP proxy (http.server on 127.0.0.1) sits in front of the server for the
error paths: 429 with Retry-After, 500, 503, timeouts, malformed results. The quality figure is
measured on tests/data/wikidata_heldout.csv with the real store as ``dsikb init`` builds it.
"""

from __future__ import annotations

import collections
import csv
import gc
import socket
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kb.link import link, state_path
from kb.link.client import RemoteError, SparqlClient
from kb.link.linkset import CLOSE_MATCH, SAME_AS, decide, links
from kb.namespaces import LEGACY_ID
from tests.conftest import settings_for

DATA = Path(__file__).parent / "data"
WD = "http://www.wikidata.org/entity/"
UA = "dsikb-tests/0.1 (linker tests; https://w3id.org/dsi/)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def wikidata(tmp_path_factory):
    """URL of a real Oxigraph SPARQL server holding the fixture (killed at the end)."""
    from tests.remote import (
        OXIGRAPH as exe,  # the binary beside this Python (a clone may have no .venv)
    )

    if exe is None:
        pytest.fail("the oxigraph server binary (PyPI package `oxigraph`, in the [test] extra) is missing")
    location = tmp_path_factory.mktemp("wikidata") / "db"
    subprocess.run([exe, "load", "--location", str(location), "--file", str(DATA / "wikidata_fixture.ttl")],
                   check=True, capture_output=True, timeout=60)
    port = _free_port()
    proc = subprocess.Popen([exe, "serve-read-only", "--location", str(location), "--bind", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/query"
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(url + "?query=ASK%7B%7D", timeout=1).read()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("the oxigraph server did not start")
            time.sleep(0.1)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


class FaultProxy:
    """Forwards SPARQL requests to ``upstream``, first serving the queued faults one per request."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.faults: collections.deque = collections.deque()
        self.seen: list[dict] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                proxy.handle(self, b"")

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                proxy.handle(self, self.rfile.read(length))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/query"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def handle(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        fault = self.faults.popleft() if self.faults else None
        self.seen.append({"at": time.monotonic(), "ua": h.headers.get("User-Agent"), "fault": fault})
        try:
            if fault and fault.startswith("429"):
                self._send(h, 429, b"slow down", "text/plain", {"Retry-After": fault.split(":")[1]})
            elif fault in ("500", "503", "400"):
                self._send(h, int(fault), b"trouble", "text/plain")
            elif fault == "malformed":
                self._send(h, 200, b'{"head": {"vars": ["item"]}, "results": {"bindi', "application/sparql-results+json")
            elif fault == "html":
                self._send(h, 200, b"<html><body>maintenance</body></html>", "application/sparql-results+json")
            else:
                if fault and fault.startswith("timeout"):
                    time.sleep(float(fault.split(":")[1]))
                req = urllib.request.Request(self.upstream, data=body or None, method=h.command, headers={
                    "Content-Type": h.headers.get("Content-Type", "application/x-www-form-urlencoded"),
                    "Accept": h.headers.get("Accept", "*/*")})
                with urllib.request.urlopen(req, timeout=30) as r:
                    self._send(h, r.status, r.read(), r.headers.get("Content-Type"))
        except OSError:
            pass  # the client gave up (timeout): nothing to answer

    @staticmethod
    def _send(h, status, payload, ctype, headers=None):
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(payload)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(payload)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def proxy(wikidata):
    p = FaultProxy(wikidata)
    yield p
    p.close()


def _client(url, **kw) -> SparqlClient:
    kw.setdefault("backoff", 0.05)
    return SparqlClient(url, UA, timeout=kw.pop("timeout", 2.0), **kw)


Q = "SELECT ?item WHERE { ?item <http://www.w3.org/2000/01/rdf-schema#label> \"Nesta\"@en }"


def test_client_answers_through_the_real_server(wikidata):
    rows = _client(wikidata).select(Q)
    assert {r["item"].value for r in rows} == {WD + "Q9000001", WD + "Q9000101"}


def test_429_waits_for_retry_after_and_sends_our_user_agent(proxy):
    proxy.faults.extend(["429:1", "503"])
    client = _client(proxy.url)
    rows = client.select(Q)
    assert len(rows) == 2 and client.retries == 2
    assert proxy.seen[1]["at"] - proxy.seen[0]["at"] >= 0.95  # Retry-After: 1 honoured
    assert {s["ua"] for s in proxy.seen} == {UA}


@pytest.mark.parametrize("fault", ["500", "malformed", "html", "timeout:2.5"])
def test_transient_faults_are_retried(proxy, fault):
    proxy.faults.append(fault)
    client = _client(proxy.url, timeout=1)
    assert len(client.select(Q)) == 2
    assert client.retries == 1 and len(proxy.seen) == 2


def test_retries_are_bounded_and_the_message_says_why(proxy):
    proxy.faults.extend(["500"] * 10)
    client = _client(proxy.url, max_attempts=3)
    with pytest.raises(RemoteError, match="failed 3 times, last: HTTP 500"):
        client.select(Q)
    assert len(proxy.seen) == 3


def test_a_rejected_query_is_not_retried(proxy):
    proxy.faults.append("400")
    with pytest.raises(RemoteError, match="rejected the query"):
        _client(proxy.url).select(Q)
    assert len(proxy.seen) == 1


def test_retry_after_is_capped(proxy):
    proxy.faults.append("429:3600")
    waits = []
    client = _client(proxy.url, max_wait=0.2, sleep=lambda s: (waits.append(s), time.sleep(s)))
    client.select(Q)
    assert waits == [0.2]


# -- the linker on a small store -----------------------------------------------------------------
SMALL = """
@prefix dsi: <https://w3id.org/dsi/def/dsi#> .
@prefix o: <https://w3id.org/dsi/id/organisation/> .
@prefix pr: <https://w3id.org/dsi/id/project/> .
@prefix pl: <https://w3id.org/dsi/id/place/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix dcterms: <http://purl.org/dc/terms/> .
o:nesta a dsi:Organisation ; rdfs:label "Nesta" ; dsi:website <http://www.nesta.org.uk/> ;
  dsi:country pl:united-kingdom .
o:waag-society a dsi:Organisation ; rdfs:label "Waag Society" ; dsi:website <http://www.waag.org> ;
  dsi:country pl:netherlands .
o:small-axe a dsi:Organisation ; rdfs:label "Small Axe" ; dsi:website <http://weare.thesmallaxe.com> ;
  dsi:country pl:united-kingdom .
o:madlab a dsi:Organisation ; rdfs:label "MadLab" ; dsi:country pl:germany .
o:spam a dsi:Organisation ; rdfs:label "Nesta" ; dsi:hidden true .
pr:openstreetmap a dsi:Project ; rdfs:label "OpenStreetMap" .
pl:united-kingdom a dsi:Place ; rdfs:label "United Kingdom"@en .
pl:netherlands a dsi:Place ; rdfs:label "Netherlands"@en .
pl:germany a dsi:Place ; rdfs:label "Germany"@en .
pl:manchester-united-kingdom a dsi:Place ; rdfs:label "Manchester" ; dsi:country pl:united-kingdom .
"""
ID = "https://w3id.org/dsi/id/"


@pytest.fixture()
def small_kb(tmp_path):
    from kb.store import KB

    kb = KB.open(settings_for(tmp_path / "store", user_agent=UA))
    ttl = tmp_path / "small.ttl"
    ttl.write_text(SMALL)
    kb.load_file(ttl, graph=kb.graphs.curated)
    return kb


def _links(kb):
    return {(lk["entity"][len(ID):], lk["item"][len(WD):]): lk["predicate"]
            for lk in links(kb, kb.graphs.linkset("wikidata"))}


def test_link_small_store(small_kb, wikidata):
    figures = link(small_kb, "wikidata", small_kb.settings, endpoint=wikidata)
    got = _links(small_kb)
    assert got == {
        ("organisation/nesta", "Q9000001"): SAME_AS,            # website
        ("organisation/waag-society", "Q9000002"): SAME_AS,     # website, old name as alias
        ("project/openstreetmap", "Q9000301"): CLOSE_MATCH,     # same name, class fits, no country
        ("place/united-kingdom", "Q145"): SAME_AS,              # not the disambiguation page
        ("place/netherlands", "Q55"): SAME_AS,
        ("place/germany", "Q183"): SAME_AS,
        ("place/manchester-united-kingdom", "Q18125"): SAME_AS,  # not Manchester, New Hampshire
        ("organisation/madlab", "Q9000137"): SAME_AS,           # the German MadLab, by country
    }
    assert figures["same_as"] == 7 and figures["close_match"] == 1
    g = small_kb.graphs.linkset("wikidata")
    rows = small_kb.select(f"""SELECT ?score ?date ?src (GROUP_CONCAT(?d; separator=" | ") AS ?ev) WHERE {{
        GRAPH <{g}> {{ ?n rdf:subject <{ID}organisation/nesta> ; rdf:predicate owl:sameAs ;
        rdf:object <{WD}Q9000001> ; prov:value ?score ; dcterms:date ?date ; dcterms:source ?src ;
        dcterms:description ?d }} }} GROUP BY ?score ?date ?src""")
    assert len(rows) == 1
    assert float(rows[0]["score"].value) >= 0.9 and rows[0]["src"].value == wikidata
    assert "same website (nesta.org.uk)" in rows[0]["ev"].value
    assert "country match" in rows[0]["ev"].value
    assert small_kb.ask(f"""ASK {{ GRAPH <{small_kb.graphs.meta}> {{ <{g}> dcterms:license
        <https://creativecommons.org/licenses/by/4.0/> ; prov:wasDerivedFrom <{WD}> }} }}""")


def test_rerun_changes_nothing_and_moderator_decisions_stand(small_kb, wikidata):
    link(small_kb, "wikidata", small_kb.settings, endpoint=wikidata)
    g = small_kb.graphs.linkset("wikidata")
    before = _links(small_kb)
    n_before = small_kb.triple_count(g)
    # a moderator rejects MadLab's link and confirms OpenStreetMap's as owl:sameAs
    decide(small_kb, g, ID + "organisation/madlab", WD + "Q9000137", "rejected", by="alice",
           reason="the Manchester MadLab, not the German one")
    decide(small_kb, g, ID + "project/openstreetmap", WD + "Q9000301", "confirmed", by="alice")
    link(small_kb, "wikidata", small_kb.settings, endpoint=wikidata)
    after = _links(small_kb)
    assert ("organisation/madlab", "Q9000137") not in after
    assert after[("project/openstreetmap", "Q9000301")] == SAME_AS
    assert {k: v for k, v in after.items() if k[0] not in ("organisation/madlab", "project/openstreetmap")} == \
        {k: v for k, v in before.items() if k[0] not in ("organisation/madlab", "project/openstreetmap")}
    statuses = {lk["item"][len(WD):]: lk["status"] for lk in links(small_kb, g)}
    assert statuses["Q9000301"] == "confirmed"
    assert small_kb.ask(f'ASK {{ GRAPH <{g}> {{ ?n rdf:object <{WD}Q9000137> ; dsi:status "rejected" }} }}')
    n_again = small_kb.triple_count(g)
    link(small_kb, "wikidata", small_kb.settings, endpoint=wikidata)
    assert small_kb.triple_count(g) == n_again and n_again > 0 and n_before > 0


def test_interrupted_run_resumes(small_kb, proxy):
    """The endpoint fails for good mid-run: the CLI exits 2 with the progress saved; --resume ends it."""
    client = _client(proxy.url, max_attempts=2)
    link(small_kb, "wikidata", small_kb.settings, client=client, batch_size=3, limit=3)
    proxy.faults.extend(["500"] * 2)
    with pytest.raises(RemoteError):
        link(small_kb, "wikidata", small_kb.settings, client=client, batch_size=3, resume=True)
    import json

    state = json.loads(state_path(small_kb, "wikidata").read_text())
    assert len(state["done"]) == 3 and state["finished"] is False
    seen = len(proxy.seen)
    figures = link(small_kb, "wikidata", small_kb.settings, client=client, batch_size=3, resume=True)
    assert figures["entities"] == 9  # 3 before + the 6 left (the hidden one is never linked)
    assert json.loads(state_path(small_kb, "wikidata").read_text())["finished"] is True
    assert len(proxy.seen) > seen
    assert len(_links(small_kb)) == 8


def test_cli_link_exit_codes(tmp_path, wikidata, proxy, capsys):
    from kb.cli import main
    from kb.store import KB

    kb = KB.open(settings_for(tmp_path / "store"))
    store = kb.settings.store  # the directory, or on the remote backend the server's URL
    ttl = tmp_path / "small.ttl"
    ttl.write_text(SMALL)
    kb.load_file(ttl, graph=kb.graphs.curated)
    kb.flush()
    del kb
    gc.collect()
    assert main(["link", "wikidata", "--store", store, "--endpoint", wikidata]) == 0
    assert "7 owl:sameAs, 1 skos:closeMatch" in capsys.readouterr().out
    proxy.faults.extend(["400"])
    assert main(["link", "wikidata", "--store", store, "--endpoint", proxy.url]) == 2
    assert "run again with --resume" in capsys.readouterr().err


# -- the quality figure on the held-out set, with the real store --------------------------------------
def _resolve(kb, key: str) -> str | None:
    if key.startswith(("place/", "organisation/", "project/")):
        iri = kb.names.id_ns + key
        return iri if kb.ask(f"ASK {{ <{iri}> ?p ?o }}") else None
    if key.startswith(LEGACY_ID):
        rows = kb.select(f"SELECT ?e WHERE {{ ?e owl:sameAs <{key}> FILTER(STRSTARTS(STR(?e), '{kb.names.id_ns}')) }}")
    else:
        rows = kb.select(f'SELECT ?e WHERE {{ ?e dcterms:identifier "{key}" }}')
    iris = sorted({r["e"].value for r in rows})
    return iris[0] if iris else None


def test_heldout_precision_and_recall(kb_copy, wikidata, capsys):
    pairs = list(csv.DictReader((DATA / "wikidata_heldout.csv").read_text(encoding="utf-8").splitlines()))
    assert len(pairs) >= 30
    t0 = time.monotonic()
    figures = link(kb_copy, "wikidata", kb_copy.settings.replace(user_agent=UA), endpoint=wikidata)
    seconds = time.monotonic() - t0
    found = {}
    for lk in links(kb_copy, kb_copy.graphs.linkset("wikidata")):
        found.setdefault(lk["entity"], set()).add(lk["item"][len(WD):])
    tp = fp = fn = 0
    unresolved, seen, report = [], set(), []
    for pair in pairs:
        iri = _resolve(kb_copy, pair["key"])
        if iri is None:
            unresolved.append(pair["key"])
            continue
        if iri in seen:
            continue
        seen.add(iri)
        got = found.get(iri, set())
        expected = pair["expected"]
        assert len(got) <= 1, f"{iri} has several links: {got}"
        predicted = next(iter(got)) if got else "none"
        if predicted != "none" and predicted == expected:
            tp += 1
        elif predicted != expected:
            if predicted != "none":
                fp += 1
            if expected != "none":
                fn += 1
            report.append(f"  {pair['key']}: expected {expected}, got {predicted} ({pair['note']})")
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    with capsys.disabled():
        print(f"\nWikidata linking on the held-out set: {len(seen)} entities, precision {precision:.3f}, "
              f"recall {recall:.3f} (tp {tp}, fp {fp}, fn {fn}); whole store: {figures['entities']} "
              f"entities, {figures['same_as']} owl:sameAs, {figures['close_match']} skos:closeMatch, "
              f"{figures['requests']} requests in {seconds:.1f} s")
        if report:
            print("\n".join(report))
    assert len(unresolved) <= 3, f"held-out keys not in the store: {unresolved}"
    assert len(seen) >= 30
    assert precision >= 0.95 and recall >= 0.8


@pytest.mark.parametrize("body", [b"[]", b'{"head": {}}', b'{"results": {"bindings": [1]}}',
                                  b'{"results": {"bindings": [{"item": {"type": "uri"}}]}}', b"\xff\xfe"])
def test_malformed_results_are_recognised(body):
    from kb.link.client import MalformedResult, parse_results

    with pytest.raises(MalformedResult):
        parse_results(body)
