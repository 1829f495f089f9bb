"""The inline lane (kb/sparql/inline.py): the lightest lookups answered in the web process, the same
answers as the store gives, and guarded so that a slow one cannot hold the process; and the safety
check's fast path for IRIs that merely contain "service" or "load"."""

from __future__ import annotations

import json
import threading
import time

import pytest

from kb.sparql import safety
from kb.sparql.inline import InlineLane, eligible

NESTA = "https://w3id.org/dsi/id/organisation/nesta"
DSI = "https://w3id.org/dsi/def/dsi#"
LABEL = "http://www.w3.org/2000/01/rdf-schema#label"


def test_only_lookups_that_start_from_constants_are_eligible():
    inline = [f"ASK {{ <{NESTA}> a <{DSI}Organisation> }}",
              f"SELECT ?p ?l WHERE {{ <{NESTA}> <{DSI}takesPartIn> ?p . ?p <{LABEL}> ?l }}",
              f"SELECT ?s ?l WHERE {{ VALUES ?s {{ <{NESTA}> <http://x/b> }} ?s <{LABEL}> ?l }} # 1",
              f"PREFIX d: <{DSI}> SELECT ?p WHERE {{ <{NESTA}> ?p ?o ; a d:Organisation , ?t . }} LIMIT 5",
              f'ASK {{ <{NESTA}> <{LABEL}> "Nesta"@en }}']
    workers = ["SELECT * WHERE { ?s ?p ?o } LIMIT 1",  # light, but no constant to start from
               f"SELECT ?x WHERE {{ <{NESTA}> ?p ?o . ?x ?q ?o }}",  # ?x is not bound by anything before
               f"ASK {{ ?a a <{DSI}Organisation> . FILTER(?a = <{NESTA}>) }}",
               f"SELECT ?o WHERE {{ GRAPH ?g {{ <{NESTA}> ?p ?o }} }}",
               f"SELECT ?o WHERE {{ <{NESTA}> ?p [ ?q ?o ] }}",
               f"SELECT ?o WHERE {{ <{NESTA}> ?p ?o OPTIONAL {{ ?o ?q ?r }} }}",
               f"SELECT ?o FROM <http://g> WHERE {{ <{NESTA}> ?p ?o }}",
               f"CONSTRUCT {{ <{NESTA}> ?p ?o }} WHERE {{ <{NESTA}> ?p ?o }}",
               "SELECT ?e WHERE { <http://x/a> ?p ?b . ?b ?p ?c . ?c ?p ?d . ?d ?p ?e . ?e ?p ?f }"]  # 5 patterns
    assert [q for q in inline if not eligible(q)] == []
    assert [q for q in workers if eligible(q)] == []


@pytest.mark.embedded_only("the inline lane sits beside the worker lanes over the on-disk store")
def test_a_lookup_is_answered_inline_with_the_stores_answer(app, built_kb):
    svc = app.extensions["dsikb_sparql"]
    before = svc.inline  # off by default (DSIKB_INLINE_SLOTS=0): switched on for this test
    svc.inline = InlineLane(built_kb.raw_query, 2, 1.0)
    try:
        _answered_inline(app.test_client(), built_kb)
    finally:
        svc.inline = before


def _answered_inline(client, built_kb):
    query = f"SELECT ?p ?l WHERE {{ <{NESTA}> <{DSI}takesPartIn> ?p . ?p <{LABEL}> ?l }} # inline test"
    response = client.get("/sparql", query_string={"query": query},
                          headers={"Accept": "application/sparql-results+json"})
    assert response.status_code == 200
    assert response.headers["X-SPARQL-Lane"] == "inline"
    rows = {(b["p"]["value"], b["l"]["value"]) for b in response.get_json()["results"]["bindings"]}
    expected = {(s["p"].value, s["l"].value) for s in built_kb.raw_query(query)}
    assert rows == expected and rows
    assert response.headers["X-SPARQL-Rows"] == str(len(rows))
    # a query that is light but not of the inline shape still goes to a worker
    response = client.get("/sparql", query_string={"query": "SELECT ?s WHERE { ?s ?p ?o } LIMIT 1 # w"},
                          headers={"Accept": "text/csv"})
    assert response.status_code == 200 and response.headers["X-SPARQL-Lane"] in ("light", "heavy")
    # ASK in XML, inline too
    response = client.get("/sparql", query_string={"query": f"ASK {{ <{NESTA}> a <{DSI}Organisation> }} # x"},
                          headers={"Accept": "application/sparql-results+xml"})
    assert response.headers["X-SPARQL-Lane"] == "inline" and b"<boolean>true</boolean>" in response.data


def _job(query: str) -> dict:
    return {"query": query, "media": "application/sparql-results+json", "max_rows": 100_000,
            "max_bytes": 1 << 26, "union": False}


def test_a_slow_inline_evaluation_closes_the_lane_until_it_ends(tiny_kb):
    """A store that takes 0.4 s to answer (a lookup mistaken for light): past ``seconds`` nothing
    else starts inline (the worker lanes answer those), the slow text is remembered, and the lane
    opens again once the slow evaluation has ended."""
    slow_text = "ASK { <http://x/slow> ?p ?o }"

    def store_query(text, **kwargs):
        if text == slow_text:
            time.sleep(0.4)
        return tiny_kb.raw_query(text, **kwargs)

    lane = InlineLane(store_query, slots=2, seconds=0.1)
    answers = {}
    slow = threading.Thread(target=lambda: answers.setdefault("slow", lane.run(_job(slow_text))))
    slow.start()
    time.sleep(0.2)  # the slow one is past its 0.1 s
    assert lane.run(_job("ASK { <http://x/a> ?p ?o }")) is None  # closed: a worker would answer it
    slow.join()
    assert json.loads(answers["slow"][1]) == {"head": {}, "boolean": False}  # it did finish
    assert lane.run(_job(slow_text)) is None  # remembered: never inline again
    answer = lane.run(_job("ASK { <http://x/a> ?p ?o }"))
    assert answer is not None and answer[2]["seconds"] < 0.1  # open again


def test_a_select_past_its_seconds_is_abandoned_between_rows(tiny_kb):
    text = "SELECT ?s ?p ?o WHERE { <http://x/none> ?q ?r . ?s ?p ?o }"  # not eligible; the lane runs what it is given

    def store_query(q, **kwargs):
        time.sleep(0.15)  # slower than the lane's seconds before the first row
        return tiny_kb.raw_query("SELECT ?s ?p ?o WHERE { ?s ?p ?o }", **kwargs)

    lane = InlineLane(store_query, slots=1, seconds=0.1)
    assert lane.run(_job(text)) is None
    assert lane.run(_job(text)) is None  # remembered


def test_service_inside_an_iri_needs_no_second_parse_and_the_keyword_is_still_refused():
    text = ("SELECT ?l WHERE { VALUES ?s { <https://w3id.org/dsi/id/organisation/kall-services> "
            "<https://w3id.org/dsi/id/organisation/download-lab> } ?s <http://l> ?l }")
    assert safety.check(text).checked == "fast path"
    for refused in ("SELECT * WHERE { SERVICE <https://w3id.org/x/services> { ?s ?p ?o } }",
                    "SELECT * WHERE { SERVICE<http://evil/x> { ?s ?p ?o } } # <http://a/service>",
                    'SELECT * WHERE { ?s ?p "<http://a/service>" . SERVICE <http://evil> { ?s ?p ?o } }'):
        with pytest.raises(safety.BadRequest):
            safety.check(refused)
    # "service" in a comment or a string is still parsed (only absolute IRIs are skipped)
    assert safety.check("SELECT * WHERE { ?s ?p ?o } # services").checked == "parsed"
    assert safety.check('SELECT * WHERE { ?s ?p "load" }').checked == "parsed"


def test_concurrent_checks_that_need_the_second_parse_all_succeed():
    """rdflib's parser is not thread-safe: parsed concurrently, such checks failed with TypeError
    (a 500) or a false syntax error (a 400)."""
    failures: list[str] = []

    def check(i: int) -> None:
        for k in range(4):
            try:
                safety.check(f"SELECT ?s WHERE {{ ?s ?p ?o }} LIMIT 1 # services {i} {k}")
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                failures.append(repr(exc))

    threads = [threading.Thread(target=check, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
