"""The gallery's answers precomputed once per store generation (kb/sparql/precomputed.py): served
with the body a normal evaluation gives, in every format, only to the gallery's own queries, of the
store's current generation only; a failed precomputation leaves normal evaluation working."""

from __future__ import annotations

import json

import pyoxigraph as ox
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from endpoint.sparql_editor import examples
from kb.sparql import formats, precomputed

EXAMPLES = {ex.name: ex.query for ex in examples()}
SELECT_ONE = "07-organisation-types"  # SELECT with COUNT, a language filter
CONSTRUCT_ONE = "13-collaboration-network"
LIMITED = "02-open-hardware-organisations"  # ends with LIMIT 100
GRAPHS = "12-named-graphs"  # every named graph with its size
UNUSED = "PREFIX zzzunused: <http://example.org/unused#>\n"  # a different text, the same answer


@pytest.fixture(scope="module")
def real(app):
    """The session app over the real data with a table of three gallery queries (the whole gallery
    takes ~3 s to compute there; the tiny store's tests below cover all of it)."""
    svc = app.extensions["dsikb_sparql"]
    kept = svc.precomputed
    svc.precomputed = _subset(svc, app.extensions["dsikb"], [SELECT_ONE, CONSTRUCT_ONE, LIMITED])
    yield app
    svc.precomputed.close()
    svc.precomputed = kept


def _subset(svc, kb, names, timeout=None, path=None):
    return precomputed.Precomputed(
        {n: EXAMPLES[n] for n in names}, evaluate=svc.evaluate_gallery, generation=lambda: kb.generation,
        timeout=svc.settings.query_timeout if timeout is None else timeout,
        caps=(svc.settings.max_rows, svc.settings.max_response_bytes), prefixes=kb.names.prefixes(),
        output_prefixes=kb.names.prefixes(), path=path, modified=lambda: kb.modified)


def _ready(app):
    svc = app.extensions["dsikb_sparql"]
    getattr(svc.pool, "start", lambda: None)()  # as dsikb serve does: the table takes spare workers only
    table = svc.precomputed
    assert table is not None
    table.refresh()
    assert table.ready(), table.failures
    return table


def _get(client, query, media, **kw):
    return client.get("/sparql", query_string={"query": query}, headers={"Accept": media}, **kw)


def _form(name):
    return "SELECT" if "CONSTRUCT" not in EXAMPLES[name].split("WHERE")[0] else "CONSTRUCT"


def _same_as_normal(client, cases, generation):
    for name, media in cases:
        query = EXAMPLES[name]
        served = _get(client, query, media)
        normal = _get(client, UNUSED + query, media)
        assert served.status_code == normal.status_code == 200, (name, media, served.data[:200])
        assert served.headers["X-SPARQL-Precomputed"] == f"generation {generation}", (name, media)
        assert "X-SPARQL-Precomputed" not in normal.headers
        assert served.data == normal.data, (name, media)
        assert served.headers["Content-Type"] == normal.headers["Content-Type"]
        assert served.headers["X-SPARQL-Rows"] == normal.headers["X-SPARQL-Rows"]
        assert served.headers["ETag"].startswith(f'"g{generation}-')
        assert "X-SPARQL-Precomputed" in served.headers["Access-Control-Expose-Headers"]


def test_gallery_answered_precomputed_with_the_body_of_a_normal_evaluation(real):
    client = real.test_client()
    table = _ready(real)
    cases = [(SELECT_ONE, m) for m in formats.TABULAR] + [(CONSTRUCT_ONE, m) for m in formats.GRAPH]
    _same_as_normal(client, cases + [(LIMITED, "application/sparql-results+json")], table.generation())
    assert json.loads(_get(client, EXAMPLES[SELECT_ONE], "application/json").data)["results"]["bindings"]
    # the same ETag twice, and If-None-Match answered 304 as for any answer
    etag = _get(client, EXAMPLES[SELECT_ONE], "application/sparql-results+json").headers["ETag"]
    assert _get(client, EXAMPLES[SELECT_ONE], "application/sparql-results+json").headers["ETag"] == etag
    assert _get(client, EXAMPLES[SELECT_ONE], "application/sparql-results+json",
                environ_overrides={"HTTP_IF_NONE_MATCH": etag}).status_code == 304


def test_whole_gallery_precomputed_on_the_tiny_store(tiny_client):
    table = _ready(tiny_client.application)
    cases = [(name, precomputed.media_for(_form(name))[0]) for name in EXAMPLES]
    _same_as_normal(tiny_client, cases, table.generation())


def test_the_same_query_as_a_client_sends_it_is_served_precomputed(real):
    client = real.test_client()
    _ready(real)
    query = EXAMPLES[LIMITED]
    without_comments = "\n".join(line for line in query.splitlines() if not line.startswith("#"))
    variants = [query.replace("\n", "\r\n"), "  " + " ".join(without_comments.split()),
                without_comments, query + "\n# a comment of mine\n"]
    json_media = "application/sparql-results+json"
    for text in variants:
        r = _get(client, text, json_media)
        assert r.headers.get("X-SPARQL-Precomputed"), text
    form = client.post("/sparql", data={"query": without_comments}, headers={"Accept": json_media})
    direct = client.post("/sparql", data=query.encode(), content_type="application/sparql-query",
                         headers={"Accept": "text/csv"})
    assert form.headers.get("X-SPARQL-Precomputed") and direct.headers.get("X-SPARQL-Precomputed")
    assert direct.data.decode().startswith("organisation,name,openHardwareProjects\r\n")


def test_a_query_differing_in_a_constant_is_evaluated(real):
    client = real.test_client()
    _ready(real)
    json_media = "application/sparql-results+json"
    changed = {
        LIMITED: EXAMPLES[LIMITED].replace("LIMIT 100", "LIMIT 7"),
        CONSTRUCT_ONE: EXAMPLES[CONSTRUCT_ONE].replace("?n >= 3", "?n >= 4"),
        "07-organisation-types": EXAMPLES["07-organisation-types"].replace('"en"', '"de"'),
    }
    for name, text in changed.items():
        assert text != EXAMPLES[name]
        media = "text/turtle" if name == CONSTRUCT_ONE else json_media
        r = _get(client, text, media)
        assert r.status_code == 200 and "X-SPARQL-Precomputed" not in r.headers, name
        assert r.data != _get(client, EXAMPLES[name], media).data, name
    rows = json.loads(_get(client, changed[LIMITED], json_media).data)["results"]["bindings"]
    assert len(rows) == 7
    # the dataset is part of the answer: with default-graph-uri the gallery text is evaluated
    r = client.get("/sparql", query_string={"query": EXAMPLES[SELECT_ONE],
                                            "default-graph-uri": "https://w3id.org/dsi/graph/meta"},
                   headers={"Accept": json_media})
    assert r.status_code == 200 and "X-SPARQL-Precomputed" not in r.headers


def test_a_write_gives_the_next_generation_its_own_answers(tiny_kb, tiny_client):
    app = tiny_client.application
    table = _ready(app)
    media = "text/csv"
    query = EXAMPLES[GRAPHS]
    before = _get(tiny_client, query, media)
    assert before.headers["X-SPARQL-Precomputed"] == f"generation {tiny_kb.generation}"
    graph = tiny_kb.graphs.submission("precomputed-test")
    s = ox.NamedNode(tiny_kb.names.base + "id/organisation/precomputed-test")
    tiny_kb.replace_graph(graph, [ox.Triple(s, ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label"),
                                            ox.Literal("Precomputed test"))])
    generation = tiny_kb.generation
    assert table.computed_generation != generation
    first = _get(tiny_client, query, media)  # evaluated at once, never the older answer
    assert "X-SPARQL-Precomputed" not in first.headers
    assert graph in first.data.decode() and first.data != before.data
    table.wait(60)
    table.refresh()
    after = _get(tiny_client, query, media)
    assert after.headers["X-SPARQL-Precomputed"] == f"generation {generation}"
    assert after.data == first.data == _get(tiny_client, UNUSED + query, media).data


def test_a_failed_precomputation_leaves_normal_evaluation_working(tiny_kb, tiny_client):
    app = tiny_client.application
    svc = app.extensions["dsikb_sparql"]
    kept = svc.precomputed
    failing = _subset(svc, tiny_kb, [GRAPHS], timeout=0.0)
    svc.precomputed = failing
    try:
        failing.refresh()
        assert failing.ready() and "Timeout" in failing.failures[GRAPHS]
        r = _get(tiny_client, EXAMPLES[GRAPHS], "application/sparql-results+json")
        assert r.status_code == 200 and "X-SPARQL-Precomputed" not in r.headers
        assert r.data == _get(tiny_client, UNUSED + EXAMPLES[GRAPHS], "application/sparql-results+json").data
        assert json.loads(r.data)["results"]["bindings"]
    finally:
        failing.close()
        svc.precomputed = kept


def test_app_processes_share_one_computation_through_a_file(real, tmp_path):
    svc, kb = real.extensions["dsikb_sparql"], real.extensions["dsikb"]
    path = tmp_path / "store.submissions.sqlite.precomputed.sqlite"
    first, second = (_subset(svc, kb, [SELECT_ONE], path=path) for _ in range(2))
    other_version = _subset(svc, kb, [SELECT_ONE, LIMITED], path=path)  # another gallery: its own run
    try:
        assert first.refresh() and first.source == "computed"
        assert second.refresh() and second.source == "shared"  # read, not evaluated again
        assert other_version.refresh() and other_version.source == "computed"
        generation = kb.generation
        for media in formats.TABULAR:
            answer = second.lookup(EXAMPLES[SELECT_ONE], media, generation)
            assert answer is not None and answer == first.lookup(EXAMPLES[SELECT_ONE], media, generation)
    finally:
        for table in (first, second, other_version):
            table.close()


# -- property: near-variants of the gallery texts never get another query's answer ------------------
MATCHER = precomputed.Matcher(EXAMPLES)
EDITS = st.sampled_from([" ", "\n", "\t", "", "0", "1", "9", "a", "A", "?", "#", '"', "<", ">", ".",
                         ",", ";", "{", "}", "(", ")", "e", "E", "-", ":"])


@st.composite
def near_variants(draw):
    name = draw(st.sampled_from(sorted(EXAMPLES)))
    text = EXAMPLES[name]
    for _ in range(draw(st.integers(1, 2))):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 1))
        text = text[:at] + draw(EDITS) + text[at + cut:]
    return name, text


def _answer(kb, text):
    """What the store answers (rows in order, or the set of triples), or None if it cannot."""
    try:
        results = kb.raw_query(text)
    except (SyntaxError, ValueError, OSError):
        return None
    if isinstance(results, ox.QueryBoolean):
        return bool(results)
    if isinstance(results, ox.QuerySolutions):
        names = [v.value for v in results.variables]
        return names, [tuple(str(s[n]) if s[n] is not None else None for n in names) for s in results]
    return sorted(str(t) for t in results)


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(near_variants())
def test_near_variants_never_get_a_wrong_precomputed_answer(tiny_kb, case):
    name, text = case
    matched = MATCHER.match(text)
    if matched is None:
        return
    assert matched == name  # a variant matches only the query it was made from ...
    assert _answer(tiny_kb, text) == _answer(tiny_kb, EXAMPLES[name])  # ... and means the same


@pytest.mark.parametrize("text", [
    EXAMPLES[LIMITED].replace("LIMIT 100", "LIMIT 100 OFFSET 0"),
    EXAMPLES[LIMITED].replace("LIMIT 100", "limit 100"),
    EXAMPLES[CONSTRUCT_ONE].replace("?n >= 3", "?n >= 3.0"),
    EXAMPLES[CONSTRUCT_ONE].replace("?n >= 3", "?n>=03"),
    EXAMPLES[LIMITED].replace("dsi:takesPartIn", "<https://w3id.org/dsi/def/dsi#takesPartIn>"),
])
def test_an_equivalent_query_spelled_otherwise_is_evaluated_not_guessed(text):
    # the key is the query's tokens: another spelling of the same query is evaluated normally
    assert MATCHER.match(text) is None
