"""Thousands of generated ways to write SERVICE (any letter case, \\u escapes, comments, after every
kind of token, in every kind of group, query or update) pointing at a loopback listener: each one is
refused with a 400 and the listener is never contacted. (A text whose "SERVICE" is glued into a
prefixed name holds no SERVICE: the check lets it through, and Oxigraph run on it unchecked must not
reach out either.)"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from kb.errors import BadRequest
from kb.sparql import safety
from tests.test_sparql_ssrf import Listener
from tests.test_sparql_safety import TOKEN, make_app

EXAMPLES = int(__import__("os").environ.get("SSRF_EXAMPLES", 5000))
HTTP_EVERY = 12  # every 12th generated text also goes through the real endpoint and worker pool, and
# so does every text the check lets through (a keyword glued into a prefixed name is no keyword)


def keyword(word: str):
    """``word`` with each letter upper or lower case; one time in four some letters are written as
    \\u / \\U escapes (which rdflib reads as the letter and Oxigraph refuses outside strings)."""
    def letter(c, escapes):
        plain = [c.upper(), c.lower()]
        return st.sampled_from(plain * 2 + [f"\\u{ord(c.upper()):04X}", f"\\u{ord(c.lower()):04x}",
                                            f"\\U{ord(c):08X}"] if escapes else plain)
    return st.sampled_from([False, False, False, True]).flatmap(
        lambda escapes: st.tuples(*[letter(c, escapes) for c in word]).map("".join))


SEPARATORS = ["", " ", "  ", "\n", "\t", "\r\n", " # a comment\n", "#\n", " #SERVICE <http://x/>\n"]
BEFORE = [  # the token right before SERVICE, of every kind
    "?s ?p true", "?s ?p false", "?s ?p TRUE", "?s ?p 1", "?s ?p 1.5", "?s ?p 1e3", "?s ?p -2",
    '?s ?p "str"', "?s ?p 'str'", '?s ?p """long"""', "?s ?p '''long'''", '?s ?p "x"@en',
    '?s ?p "1"^^<http://www.w3.org/2001/XMLSchema#int>', '?s ?p "1"^^xsd:int',
    "?s ?p <http://example.org/o>", "?s ?p lo:o", "?s ?p lo:", "?s ?p ?o", "?s ?p $o", "?s ?p _:b",
    "?s ?p []", "?s ?p ( 1 2 )", "?s a ?t", '?s ?p "\\u0022"', "{ ?s ?p ?o }", "FILTER(true)",
    "FILTER(?o)", "BIND(1 AS ?b)", "VALUES ?v { 1 }", "OPTIONAL { ?s ?p ?o }", "",
]
AFTER_TOKEN = ["", ".", " .", ". ", ".\n", ";", ",", " ; ", "}", ")"]
AFTER = ["", " ?s ?p ?o", ' ?s ?p """ ?s ?p """ # """\n', " . ?a ?b ?c"]
WRAPPERS = [
    "OPTIONAL {{ {} }}", "{{ ?a ?b ?c }} UNION {{ {} }}", "{{ {} }} UNION {{ ?a ?b ?c }}",
    "MINUS {{ {} }}", "FILTER EXISTS {{ {} }}", "FILTER NOT EXISTS {{ {} }}",
    "FILTER(EXISTS {{ {} }})", "BIND(NOT EXISTS {{ {} }} AS ?q)", "{{ SELECT * WHERE {{ {} }} }}",
    "{{ SELECT ?x WHERE {{ {} }} LIMIT 1 }}", "GRAPH ?g {{ {} }}", "GRAPH <http://example.org/g> {{ {} }}",
    "{{ {} }}", "SERVICE SILENT <http://127.0.0.1:9/> {{ {} }}",
]
FORMS = ["SELECT * WHERE", "SELECT ?x WHERE", "SELECT * ", "ASK", "ASK WHERE", "CONSTRUCT { ?s ?p ?o } WHERE",
         "DESCRIBE ?s WHERE", "SELECT (COUNT(*) AS ?n) WHERE", "SELECT * FROM <http://example.org/g> WHERE"]
UPDATES = ["INSERT { <http://a> <http://b> ?x } WHERE", "DELETE { ?s ?p ?o } WHERE",
           "WITH <http://example.org/g> DELETE { ?s ?p ?o } INSERT { ?s ?p 1 } WHERE",
           "INSERT DATA { <http://a> <http://b> 1 } ; INSERT { ?s ?p ?o } WHERE"]


def queries(url: str, port: int):
    """Texts with SERVICE calls to ``url`` written in every way the grammar allows."""
    digits = escaped(port)
    endpoints = st.sampled_from([
        f"<{url}>", f"<http://127.0.0.1:{digits}/x>", "lo:x", "?e", "$e", "<x>", f"<{url}#frag>",
        f"<http://127.0.0.1:{port}>", "lo:", ":x",
    ])
    service = st.builds(
        lambda kw, silent, s1, s2, ep: f"{kw}{silent}{s1}{ep}{s2}{{ ?x ?y ?z }}",
        keyword("SERVICE"),
        st.one_of(st.just(""), st.builds(lambda s, w: s + w, st.sampled_from([" ", "\n", " #c\n"]),
                                         keyword("SILENT"))),
        st.sampled_from(SEPARATORS), st.sampled_from(SEPARATORS), endpoints)
    body = st.builds(lambda before, tok, sep, svc, after: f"{before}{tok}{sep}{svc}{after}",
                     st.sampled_from(BEFORE), st.sampled_from(AFTER_TOKEN), st.sampled_from(SEPARATORS),
                     service, st.sampled_from(AFTER))

    def wrap(inner, wrappers):
        for w in wrappers:
            inner = w.format(inner)
        return inner

    prologue = st.sampled_from(["", f"PREFIX lo: <{url.rsplit('/', 1)[0]}/> ",
                                f"PREFIX lo: <{url.rsplit('/', 1)[0]}/>\nPREFIX xsd: <http://www.w3.org/2001/XMLSchema#> ",
                                f"BASE <{url}> PREFIX lo: <http://127.0.0.1:{port}/> ",
                                f"PREFIX : <{url.rsplit('/', 1)[0]}/> "])
    binding = st.sampled_from(["", f"BIND(<{url}> AS ?e) ", f"VALUES ?e {{ <{url}> }} "])
    return st.builds(
        lambda pro, head, bind, inner, wrappers: f"{pro}{head} {{ {bind}{wrap(inner, wrappers)} }}",
        prologue, st.one_of(st.sampled_from(FORMS), st.sampled_from(UPDATES)), binding, body,
        st.lists(st.sampled_from(WRAPPERS), max_size=3))


@pytest.fixture(scope="module")
def listener():
    lst = Listener()
    yield lst
    lst.close()


def escaped(port: int) -> str:
    return "".join(f"\\u{ord(d):04x}" for d in str(port))


@pytest.fixture(scope="module")
def canary():
    """An in-memory Oxigraph store with data for every pattern the generator puts before SERVICE,
    queried WITHOUT the check, and its own listener: how many generated texts are real attacks."""
    import pyoxigraph as ox

    store = ox.Store()
    data = ("@prefix lo: <http://127.0.0.1:1/> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> . "
            "<http://example.org/s> <http://example.org/p> true, false, 1, 1.5, 1e3, -2, \"str\", "
            "\"long\", \"x\"@en, \"1\"^^xsd:int, <http://example.org/o>, lo:o, lo:, '\"', "
            "[ a <http://example.org/T> ], ( 1 2 ) .")
    store.load(data.encode(), ox.RdfFormat.TURTLE)
    lst = Listener()
    yield store, lst
    lst.close()


def run_unchecked(store, text: str, is_update: bool) -> None:
    """Evaluate ``text`` on the canary store as pyoxigraph would without any check."""
    import pyoxigraph as ox

    try:
        if is_update:
            store.update(text)
        else:
            results = store.query(text)
            if not isinstance(results, ox.QueryBoolean):
                list(results)
    except (SyntaxError, OSError, RuntimeError, ValueError):
        pass


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from endpoint import sparql

    app = make_app(tmp_path_factory.mktemp("ssrf") / "store", update_token=TOKEN)
    yield app.test_client()
    sparql.close(app)


def test_generated_service_calls_are_all_refused_and_never_reach_the_listener(client, listener, canary,
                                                                                capsys):
    counts = {"generated": 0, "http": 0, "updates": 0, "passed check": 0, "check s": 0.0, "http s": 0.0,
              "attacks": 0}
    started = time.perf_counter()

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=False,
              phases=[Phase.generate, Phase.shrink],  # no "explain": its line tracing slows parsing 5x
              suppress_health_check=list(HealthCheck))
    @given(queries(listener.url, listener.port))
    def one(text):
        is_update = safety.analyse(text).is_update
        counts["generated"] += 1
        started = time.perf_counter()
        try:
            safety.check(text, prefixes={"xsd": "http://www.w3.org/2001/XMLSchema#"})
            passed = True  # e.g. "trueSERVICElo:x" is one prefixed name: no SERVICE in this text
        except BadRequest:
            passed = False
        counts["check s"] += time.perf_counter() - started
        counts["passed check"] += passed
        if passed or counts["generated"] % HTTP_EVERY == 0:
            counts["http"] += 1
            if is_update:
                counts["updates"] += 1
                r = client.post("/sparql", data=text, content_type="application/sparql-update",
                                headers={"Authorization": "Bearer " + TOKEN})
            else:
                r = client.get("/sparql", query_string={"query": text})
            assert b"LEAK" not in r.data
            counts["http s"] += time.perf_counter() - started
            # the same text, unchecked, against the canary: would it have reached out?
            store, other = canary
            before = other.contacts
            unchecked = (text.replace(str(listener.port), str(other.port))
                         .replace(escaped(listener.port), escaped(other.port)))
            run_unchecked(store, unchecked, is_update)
            counts["attacks"] += other.contacts > before
            if passed:  # valid SPARQL may succeed ("xsd:intSERVICElo:x" is a prefixed name): a query
                # 200, an update 204, but it must not reach out
                assert r.status_code in (200, 204, 400) and other.contacts == before, text
            else:
                assert r.status_code == 400, (text, r.status_code, r.data[:300])

    one()
    with capsys.disabled():
        print(f"\nSSRF generator: {counts['generated']} texts checked, {counts['http']} sent over HTTP "
              f"({counts['updates']} updates; {counts['passed check']} that the check let through "
              f"because they hold no SERVICE: a keyword glued into a prefixed name), "
              f"listener contacted {listener.contacts} times; {counts['attacks']} of the texts sent over "
              f"HTTP reach a listener when run without the check; {time.perf_counter() - started:.0f} s in all, "
              f"{counts['check s']:.0f} s in safety.check, {counts['http s']:.0f} s over HTTP")
    assert counts["generated"] >= EXAMPLES and counts["http"] >= EXAMPLES // HTTP_EVERY
    assert listener.contacts == 0
    assert counts["attacks"] >= max(1, counts["http"] // 20)  # the generator makes real attacks (~12%)
