"""Hypothesis over every route: arbitrary text in query parameters, path segments, form fields, Accept
headers and POST bodies (lone surrogates where the transport carries them, emoji, control characters,
huge numbers, inf/nan, very long strings, repeated parameters).

Property: never a 5xx (the app runs with TESTING, so a crash raises here with its traceback), and the
body parses as what its Content-Type says (JSON parses, HTML and text decode, RDF parses with
pyoxigraph). After the run a normal request still works. Deterministic: ``derandomize=True``.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pyoxigraph as ox
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.conftest import settings_for

B = "https://w3id.org/dsi/"
SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))
RUN = {"examples": 0}
FORM_TYPE = "application/x-www-form-urlencoded"

# -- what to send ----------------------------------------------------------------------------------
SPECIAL = ["", " ", "0", "-1", "1", "2", "-0", "00", "1e308", "1e-400", "inf", "-inf", "Infinity", "nan", "NaN",
           "9" * 40, "9" * 5000, "-" + "9" * 5000, "0x10", "1_000", "½", "١٢٣", "🚀", "👩🏽‍🚀", "\u202e",
           "\x00", "\x1b[31m", "\r\n", "\t", "%", "%00", "%ff", "a" * 10_000, "{", "}", "[", "]", "{}", "[]",
           "null", "true", '"', "'", "\\", "\\u", "\\ud800", "<script>alert(1)</script>", "<", ">", "&amp;",
           "' OR 1=1 --", "} ; DROP ALL ; {", "?x", "$x", "{{id}}", "../../etc/passwd", "/", "//", "#", "?",
           "javascript:alert(1)", "http://", "http://a b", "https://www.example.org/", "https://w3id.org/dsi/id/",
           B + "id/organisation/nesta", B + "id/organisation/does-not-exist", B + "id/organisation/<x>",
           "organisation/nesta", "organisation", "project", "place", "concept", "health", "open-data",
           "united-kingdom", "label", "-start", "text/html", "application/json"]
class Nested(str):
    """``[[[...]]]`` n deep, with a short repr (Hypothesis prints failing inputs)."""

    def __repr__(self) -> str:
        return f"Nested(depth={len(self) // 2})"


SURROGATE = st.characters(categories=["Cs"])
NUMBERS = ["0", "-1", "1", "-0", "1.5", "1e308", "-1e308", "1e999", "inf", "-inf", "nan", "9" * 40, "9" * 400,
           "9" * 5000, "-" + "9" * 40, "0x1f", "1" + "0" * 19, "18446744073709551616", " 7 ", "٣"]
TEXT = st.one_of(
    st.sampled_from(SPECIAL),
    st.sampled_from(NUMBERS),
    st.text(max_size=30),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=200),
    st.text(st.one_of(SURROGATE, st.characters()), max_size=10),
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.builds(lambda s, n: s * n, st.sampled_from(["a", "é", "🚀", " ", "-", "\x00"]), st.integers(0, 3000)),
)
ACCEPT = st.one_of(st.none(), st.sampled_from([
    "*/*", "text/html", "application/json", "text/turtle", "application/ld+json", "application/rdf+xml",
    "application/n-triples", "text/plain", "text/csv", "image/png", "*/*;q=0", "text/html;q=nan",
    "text/html;q=inf", "text/html;q=-1", "text/turtle;q=1e400", ";;;", "*", "text/*", "a/b;c=d;q=0.5, */*;q=0.1",
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "x" * 5000, ", , ,"]),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60))


def _encode(value: str) -> str:
    """Percent-encode text as UTF-8, keeping lone surrogates as their (invalid) three bytes."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def _query(pairs) -> str:
    return "&".join(f"{_encode(k)}={_encode(v)}" for k, v in pairs)


NUMERIC = {"page", "per_page", "limit", "latitude", "longitude"}
WITH_SURROGATE = st.builds(lambda a, b: a + b, st.sampled_from(["", "Nesta ", "x"]), st.text(SURROGATE, min_size=1,
                                                                                           max_size=2))


def _value(name: str):
    return st.one_of(st.sampled_from(NUMBERS), TEXT) if name in NUMERIC else TEXT


def params(names: list[str]):
    """A list of (name, value) pairs: known names (maybe repeated) and sometimes a stranger; numbers
    more often for the parameters that take numbers."""
    stranger = st.tuples(st.text(max_size=8), TEXT)
    if not names:
        return st.lists(stranger, max_size=6)
    known = st.sampled_from(names).flatmap(lambda n: st.tuples(st.just(n), _value(n)))
    return st.lists(st.one_of(known, known, known, stranger), max_size=6)


# -- checking what came back -----------------------------------------------------------------------
RDF_FORMATS = {"text/turtle": ox.RdfFormat.TURTLE, "application/n-triples": ox.RdfFormat.N_TRIPLES,
               "application/rdf+xml": ox.RdfFormat.RDF_XML, "application/ld+json": ox.RdfFormat.JSON_LD,
               "application/n-quads": ox.RdfFormat.N_QUADS, "application/trig": ox.RdfFormat.TRIG,
               "text/n3": ox.RdfFormat.N3}
TEXT_TYPES = {"text/html", "text/plain", "text/csv", "text/tab-separated-values", "application/javascript"}


def send(call, what: str, *args, **kwargs) -> None:
    """Make the request; a crash in the app (it raises under TESTING) fails with the input named."""
    RUN["examples"] += 1
    try:
        resp = call(*args, **kwargs)
    except Exception as exc:
        raise AssertionError(f"{what} -> {type(exc).__name__}: {str(exc)[:300]}") from exc
    check(resp, what)


def check(resp, what: str) -> None:
    """No server error, and a body that is what its Content-Type says."""
    body = resp.get_data()
    resp.close()
    assert resp.status_code < 500, f"{what}: {resp.status_code} {body[:300]!r}"
    if resp.status_code in (204, 304) or not body:
        return
    mime = resp.mimetype
    if mime in ("application/json", "application/geo+json"):
        json.loads(body)
    elif mime == "application/ld+json":
        json.loads(body)
        ox.parse(body, RDF_FORMATS[mime], base_iri=B)
    elif mime in RDF_FORMATS:
        ox.parse(body, RDF_FORMATS[mime], base_iri=B)
    elif mime in TEXT_TYPES:
        body.decode("utf-8")
    elif mime == "application/gzip":
        assert body[:2] == b"\x1f\x8b"
    else:
        raise AssertionError(f"{what}: unexpected Content-Type {resp.content_type!r}")


# -- the app ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fuzz_app(built_kb, tmp_path_factory):
    """The app over a private copy of the built store: fuzzed submissions must not reach other tests."""
    from kb.store import KB
    from tests.support import make_app

    from tests.support import copy_built

    dest = copy_built(built_kb, tmp_path_factory.mktemp("fuzz") / "store")
    return make_app(KB.open(settings_for(dest)))


@pytest.fixture(scope="module")
def fuzz_client(fuzz_app):
    c = fuzz_app.test_client()
    with c.session_transaction() as session:  # the CSRF token the forms need, so fuzzing gets past it
        session["csrf"] = "fuzz-token"
    return c


# Every GET route (but /sparql, /static and the moderators' pages) with its parameter names; path
# variables in {braces} are fuzzed too.
BROWSE = ["type", "country", "area", "technology", "activity", "sort", "page", "per_page", "hidden", "order", "lang"]
SEARCH = ["q", "type", "page", "per_page", "hidden", "exact"]
MAP = ["show", "type", "country", "area", "technology", "activity", "lang"]
FORM = ["type", "entity", "name", "website", "shortDescription", "description", "country", "city", "startDate",
        "endDate", "organisationType", "latitude", "longitude", "areasOfSociety", "technologyFocus",
        "technologyMethod", "partner", "partner_role", "submitter_name", "submitter_kind", "submitter_email",
        "consent", "idempotency_key"]
GET_ROUTES = {
    "/": [], "/healthz": [], "/openapi.json": [], "/context.jsonld": [], "/readyz": [], "/metrics": [],
    "/id/organisation/{}": [], "/id/{}/nesta": [], "/id/organization/{}": [], "/id/activity/{}": [], "/id/concept/{}": [], "/id/concept/area-of-society/{}": [],
    "/data/organisation/{}": ["page"], "/data/project/{}.ttl": ["page"], "/data/concept/{}": ["page"],
    "/data/concept/area-of-society/{}": ["page"],
    "/page/organisation/{}": ["page"], "/page/concept/{}": ["page"], "/page/concept/area-of-society/{}": ["page"],
    "/browse/organisation": BROWSE, "/browse/project.json": BROWSE, "/browse/project.csv": BROWSE,
    "/browse/{}": BROWSE, "/search": SEARCH, "/search.json": SEARCH,
    "/dumps/": [], "/dumps/index.json": [], "/dumps/{}": [],
    "/.well-known/void": [], "/void": [], "/void.{}": [], "/def/dsi": [], "/def/shapes.{}": [],
    "/submit": FORM, "/submit/withdraw": ["entity", "reason"], "/submit/partners.json": ["q"],
    "/submit/entities.json": ["q"],
    "/api/submissions/schema": [], "/api/submissions/{}": [],
    "/reconcile": ["queries", "query", "callback"],
    "/reconcile/suggest/entity": ["prefix", "type", "limit", "callback"],
    "/reconcile/suggest/type": ["prefix", "callback"], "/reconcile/suggest/property": ["prefix", "callback"],
    "/reconcile/preview": ["id"], "/export/mixnmatch.tsv": ["type"],
    "/map": MAP, "/map.json": MAP,
    "/stats": [], "/stats.json": [], "/stats/{}": [], "/stats/country.csv": [],
    "/network": ["type", "country", "area", "technology", "lang"], "/network.json": ["type", "country", "area", "technology"],
}


def test_every_route_is_fuzzed(fuzz_app):
    """A new route fails this until it is added to GET_ROUTES (POST routes have their own tests)."""
    adapter = fuzz_app.url_map.bind("localhost")
    fuzzed = {adapter.match(r.replace("{}", "x"), method="GET")[0] for r in GET_ROUTES}
    fuzzed |= {"submissions.submit_post", "submissions.api_submit"}  # the POST-only rules
    rules = {r.endpoint for r in fuzz_app.url_map.iter_rules()
             if not r.rule.startswith(("/static/", "/sparql", "/moderate"))}
    assert sorted(rules - fuzzed) == []


# Sensible values sent after the fuzzed ones (the first of a repeated parameter wins), so that the
# fuzzed ones reach the code behind them: a search runs only with some q.
BASE = {"/search": [("q", "open")], "/search.json": [("q", "open")], "/reconcile/suggest/entity": [("prefix", "nes")]}


@pytest.mark.parametrize("route", list(GET_ROUTES))
def test_get_routes_survive_arbitrary_parameters(fuzz_client, route):
    fuzzed = "{}" in route or GET_ROUTES[route]

    @settings(SETTINGS, max_examples=25 if fuzzed else 8)
    @given(segment=TEXT, pairs=params(GET_ROUTES[route]), accept=ACCEPT)
    def run(segment, pairs, accept):
        path = route.replace("{}", _encode(segment) or "x")
        url = path + "?" + _query(pairs + BASE.get(route, []))
        send(fuzz_client.get, f"GET {url[:300]} Accept: {accept!r:.60}", url,
             headers={"Accept": accept} if accept else {})

    run()


EDGES = {"/data/organisation/nesta": ["page"], "/page/organisation/nesta": ["page"],
         "/page/concept/area-of-society": ["page"], "/browse/organisation": ["page", "per_page"],
         "/browse/project.json": ["page", "per_page"], "/search?q=open": ["page", "per_page"],
         "/search.json?q=open": ["page", "per_page"], "/reconcile/suggest/entity?prefix=nes": ["limit"],
         "/reconcile?query=Nesta": ["limit"]}


@pytest.mark.parametrize("route", list(EDGES))
def test_numeric_parameters_at_their_edges(fuzz_client, route):
    """Every number-taking parameter with every edge value, not left to chance."""
    for name in EDGES[route]:
        for value in NUMBERS:
            url = route + ("&" if "?" in route else "?") + _query([(name, value)])
            send(fuzz_client.get, f"GET {url[:200]}", url)


# -- POST routes: forms, reconciliation queries, submissions ---------------------------------------
JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT,
                      st.sampled_from([10 ** 300, -(10 ** 300), 1e308, float("inf"), float("nan")]))
JSON_VALUE = st.recursive(JSON_LEAF, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)), max_leaves=12)


def _dumps(value) -> str:
    """JSON as Python writes it (Infinity and NaN included)."""
    return json.dumps(value)


VALID_FORM = [("type", "organisation"), ("name", "Fuzzed Form Organisation"), ("country", "United Kingdom"),
              ("website", "https://fuzz.example.net/"), ("shortDescription", "Made by the fuzz tests.")]


@SETTINGS
@given(pairs=params(FORM))
def test_submit_form_survives_arbitrary_fields(fuzz_client, pairs):
    data = [("csrf_token", "fuzz-token"), *pairs, *VALID_FORM]
    send(fuzz_client.post, f"POST /submit {pairs!r:.300}", "/submit", data=_form(data), content_type=FORM_TYPE)


@pytest.mark.parametrize("partner", [B + "id/organisation/x> {", B + "id/organisation/x> } ; DROP ALL ; #",
                                     B + "id/organisation/🚀", B + "id/organisation/a b", B + "id/organisation/\\"])
def test_submit_form_survives_odd_partners(fuzz_client, partner):
    """A form sent back with its errors names the partners it had: their IRIs come from the request."""
    data = [("csrf_token", "fuzz-token"), ("type", "project"), ("name", ""), ("partner", partner),
            ("partner_role", "delivery-lead")]
    send(fuzz_client.post, f"POST /submit partner={partner}", "/submit", data=_form(data), content_type=FORM_TYPE)


@SETTINGS
@given(pairs=params(["entity", "reason", "submitter_name", "submitter_email", "consent"]))
def test_withdraw_form_survives_arbitrary_fields(fuzz_client, pairs):
    data = [("csrf_token", "fuzz-token"), *pairs]
    send(fuzz_client.post, f"POST /submit/withdraw {pairs!r:.300}", "/submit/withdraw", data=_form(data),
         content_type=FORM_TYPE)


def _form(pairs) -> bytes:
    return _query(pairs).encode("ascii")


QUERY_OBJECT = st.fixed_dictionaries({}, optional={
    "query": JSON_VALUE, "type": st.one_of(st.sampled_from(["organisation", "project", "place", "nope"]), JSON_VALUE),
    "limit": st.one_of(st.sampled_from([0, -1, 1, 3, 1e308, 10 ** 300, float("inf"), float("nan"), "inf", "nan",
                                        "1e999", "5", True]), JSON_VALUE),
    "properties": st.one_of(st.lists(st.fixed_dictionaries({"pid": JSON_VALUE, "v": JSON_VALUE}), max_size=3),
                            JSON_VALUE),
    "type_strict": JSON_VALUE})
RECONCILE_BODY = st.one_of(
    st.dictionaries(TEXT, QUERY_OBJECT, min_size=1, max_size=3).map(lambda d: [("queries", _dumps(d))]),
    QUERY_OBJECT.map(lambda q: [("query", _dumps(q))]),
    JSON_VALUE.map(lambda v: [("queries", _dumps(v))]),
    params(["queries", "query"]),
    st.sampled_from(['{"q0": {"query": "Nesta", "limit": 1e999}}', '{"q0": {"query": "Nesta", "limit": -1e999}}',
                     '{"q0": {"query": "Nesta", "limit": ' + "9" * 5000 + "}}", Nested("[" * 100_000 + "]" * 100_000),
                     '{"q0": {"query": "Nesta", "limit": NaN}}']).map(lambda raw: [("queries", raw)]))


@SETTINGS
@given(pairs=RECONCILE_BODY, method=st.sampled_from(["GET", "POST"]))
def test_reconcile_survives_arbitrary_queries(fuzz_client, pairs, method):
    what = f"{method} /reconcile {pairs!r:.300}"
    if method == "GET":
        send(fuzz_client.get, what, "/reconcile?" + _query(pairs))
    else:
        send(fuzz_client.post, what, "/reconcile", data=_form(pairs), content_type=FORM_TYPE)


ENTITY_FIELDS = ["entity", "website", "shortDescription", "description", "country", "city", "latitude",
                 "longitude", "startDate", "endDate", "organisationType", "organisationSize", "activityType",
                 "areasOfSociety", "dsiAreas", "technologyFocus", "technologyMethod", "supportTypes", "tags",
                 "twitter", "partners", "submitter"]
IRI_ISH = st.one_of(st.sampled_from(["https://www.example.org/", "http://a b/", "https://x/<y>", "http://",
                                     "https://exa\u00a0mple.org", "https://w3id.org/dsi/id/organisation/nesta",
                                     "https://🚀.example/", "http://[::1", "https://a/\ud800", "https://a/{x}",
                                     "https://a/\"x\"", "https://a/\\x", "https://a/`x`", "https://a/^x|"]),
                    TEXT.map(lambda t: "https://" + t))
FIELD_VALUE = st.one_of(TEXT, IRI_ISH, JSON_VALUE, WITH_SURROGATE, st.lists(st.one_of(TEXT, IRI_ISH), max_size=3),
                        st.lists(st.fixed_dictionaries({"organisation": st.one_of(IRI_ISH, TEXT),
                                                        "role": TEXT}), max_size=2))
ENTITY = st.fixed_dictionaries(
    {"type": st.sampled_from(["organisation", "project"]), "name": TEXT},
    optional={f: FIELD_VALUE for f in ENTITY_FIELDS})
WITHDRAWAL = st.fixed_dictionaries({"withdraw": st.one_of(IRI_ISH, TEXT)}, optional={"reason": TEXT})
TURTLE = st.builds(
    lambda iri, label, extra: (f"@prefix dsi: <{B}def/dsi#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
                               f"<#it> a dsi:Organisation ; rdfs:label {_dumps(label)} ; dsi:website <{iri}> .\n{extra}"),
    IRI_ISH, TEXT, st.sampled_from(["", "<#it> dsi:country <x> .", "<#it> rdfs:label 1e999 .", "[] a dsi:Project ."]))
DEEP = st.one_of(st.integers(1, 100_000), st.sampled_from([20_000, 100_000])).map(
    lambda n: Nested("[" * n + "]" * n))
VALID = {"type": "organisation", "name": "Fuzzed Organisation", "country": "united-kingdom",
         "website": "https://fuzz.example.net/", "shortDescription": "Made by the fuzz tests."}
ONE_BAD_FIELD = st.builds(lambda field, value: {**VALID, field: value},
                          st.sampled_from(["type", "name", *ENTITY_FIELDS]), FIELD_VALUE)
BODY = st.one_of(
    ONE_BAD_FIELD.map(lambda d: ("application/json", _dumps(d))),
    ENTITY.map(lambda d: ("application/json", _dumps(d))),
    WITHDRAWAL.map(lambda d: ("application/json", _dumps(d))),
    JSON_VALUE.map(lambda v: ("application/json", _dumps(v))),
    st.just(("application/json", '{"type": "project", "name": "x", "latitude": ' + "9" * 5000 + "}")),
    DEEP.map(lambda b: ("application/json", b)),
    TURTLE.map(lambda t: ("text/turtle", t)),
    st.tuples(st.sampled_from(["text/turtle", "application/n-triples", "application/ld+json", "application/json",
                               "text/plain", "", "application/json; charset=latin-1", "multipart/form-data"]),
              TEXT),
)


@settings(SETTINGS, max_examples=40)
@given(body=BODY, accept=ACCEPT)
def test_api_submissions_survive_arbitrary_bodies(fuzz_client, body, accept):
    content_type, text = body
    raw = text.encode("utf-8", "surrogatepass")
    headers = {"Accept": accept} if accept else {}
    send(fuzz_client.post, f"POST /api/submissions {content_type} {text[:300]!r}", "/api/submissions", data=raw,
         content_type=content_type or None, headers=headers)


@pytest.mark.parametrize("field", ["name", "shortDescription", "description", "city", "country", "twitter",
                                   "website", "tags", "startDate"])
def test_api_submissions_survive_lone_surrogates(fuzz_client, field):
    """JSON may escape a lone surrogate (\\ud800); no Python str holding one can be encoded as UTF-8."""
    value = ["tag \ud800"] if field == "tags" else "x \udc00 y"
    body = json.dumps({**VALID, field: value})  # ensure_ascii: the surrogate travels as a \\udc00 escape
    send(fuzz_client.post, f"POST /api/submissions {body[:300]}", "/api/submissions", data=body,
         content_type="application/json")


@pytest.mark.parametrize("website", ["www.example.org", "example.org/x", "https://www.example.org/", "http://a b/",
                                     "https://x/<y>", "mailto:hello@example.org", "https://", "//example.org",
                                     "https://exa mple.org", "https://🚀.example/"])
def test_api_submissions_survive_odd_websites(fuzz_client, website):
    body = json.dumps({**VALID, "website": website})
    send(fuzz_client.post, f"POST /api/submissions website={website}", "/api/submissions", data=body,
         content_type="application/json")


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "9" * 5000, "1e-999",
                                    '"nan"', '"inf"', "1" + "0" * 30])
@pytest.mark.parametrize("field", ["latitude", "longitude"])
def test_api_submissions_survive_edge_numbers(fuzz_client, field, number):
    """Python's json reads NaN, Infinity and 1e999 (as inf); 5,000 digits trip its int limit."""
    body = json.dumps({**VALID, "latitude": 51.5, "longitude": -0.1, field: "N"}).replace('"N"', number)
    send(fuzz_client.post, f"POST /api/submissions {field}={number[:40]}", "/api/submissions", data=body,
         content_type="application/json")


@SETTINGS
@given(name=TEXT, kind=TEXT, consent=TEXT, email=TEXT, key=TEXT)
def test_api_submission_headers_survive_arbitrary_text(fuzz_client, name, kind, consent, email, key):
    latin1 = {k: v.encode("utf-8", "surrogatepass").decode("latin-1")[:2000]
              for k, v in {"X-Submitter-Name": name, "X-Submitter-Kind": kind, "X-Submitter-Consent": consent,
                           "From": email, "Idempotency-Key": key}.items()}
    headers = {k: v.replace("\r", " ").replace("\n", " ") for k, v in latin1.items()}
    body = json.dumps({"type": "organisation", "name": "Fuzz header test " + str(abs(hash(name)) % 1000)})
    send(fuzz_client.post, f"POST /api/submissions headers {headers!r:.300}", "/api/submissions", data=body,
         content_type="application/json", headers=headers)


def test_the_app_still_answers_after_the_fuzzing(fuzz_client, capsys):
    resp = fuzz_client.get("/healthz")
    assert resp.status_code == 200 and resp.get_json()["status"] == "ok"
    resp = fuzz_client.get("/search.json?q=nesta")
    assert resp.status_code == 200 and resp.get_json()["total"] >= 1
    with capsys.disabled():
        print(f"\nroute fuzzing: {RUN['examples']} requests")
    assert RUN["examples"] > 0
