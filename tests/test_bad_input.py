"""Bad input gets a 4xx with a message a person can act on, never a 500 or a dead process: bodies
nested thousands of levels deep, invalid IRIs, lone surrogates, huge numbers, odd page and limit
parameters, an unknown submitter kind and a malformed Content-Type (issue 10, items 1a, 7 and 8)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from urllib.parse import quote

import pytest

from tests.test_submissions import ORG, api, post_json, project, sub_app  # noqa: F401 (fixtures)

DEEP = 4000


def deep_jsonld(depth: int) -> str:
    return '{"@id":"#it",' + '"http://e/p":{' * depth + '"@id":"#x"' + "}" * depth + "}"


def test_a_4000_deep_jsonld_body_is_refused_and_the_server_lives(tmp_path):
    """A live server in a subprocess (a regression segfaults that process, not pytest: exit -11),
    sent the body by a real HTTP client; afterwards the same server still answers /healthz."""
    import urllib.error
    import urllib.request

    from tests.conftest import settings_for

    # the store under test (on the remote backend, an Oxigraph server this process started), passed
    # by its settings: the subprocess runs in the test's working directory, where `tests` is no package
    settings = settings_for(tmp_path / "store")
    script = textwrap.dedent(f"""
        import sys
        from werkzeug.serving import make_server
        from endpoint import create_app
        from kb.settings import Settings
        from kb.store import KB
        kb = KB.open(Settings.from_env(environ={{}}, store={settings.store!r},
                                       submissions_db={settings.submissions_db!r}))
        server = make_server("127.0.0.1", 0, create_app(kb.settings, kb=kb), threaded=True)
        print(server.server_port, flush=True)
        server.serve_forever()
    """)
    errors = open(tmp_path / "server.err", "w+")
    server = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                              stderr=errors, text=True)
    try:
        port = server.stdout.readline().strip()
        if not port.isdigit():
            server.wait(10)
            errors.seek(0)
            pytest.fail(f"the server did not start (exit code {server.returncode}): {errors.read()[-2000:]}")
        root = f"http://127.0.0.1:{port}"
        request = urllib.request.Request(root + "/api/submissions", data=deep_jsonld(DEEP).encode(),
                                         headers={"Content-Type": "application/ld+json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as resp:
                status, body = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read()
        except OSError as exc:
            server.wait(10)
            pytest.fail(f"the server died: {exc}, exit code {server.returncode}")
        assert status == 400, body[:300]
        message = json.loads(body)["message"]
        assert f"nests {DEEP + 1} levels deep" in message and "at most 64" in message
        with urllib.request.urlopen(root + "/healthz", timeout=30) as resp:
            assert resp.status == 200
        assert server.poll() is None
    finally:
        server.terminate()
        server.wait(10)
        server.stdout.close()
        errors.close()


@pytest.mark.parametrize("content_type, body", [
    ("application/ld+json", deep_jsonld(200)),
    ("application/json", "[" * 100_000 + "]" * 100_000),
    ("application/json", '{"type": "project", "name": ' + "[" * 100_000),
    ("text/turtle", "<#a> <http://e/p> " + "( " * 5000 + ") " * 5000 + "."),
    ("text/turtle", "<#a> <http://e/p> " + "[ <http://e/p> " * 5000 + "] " * 5000 + "."),
])
def test_deeply_nested_bodies_get_400_naming_the_depth(api, content_type, body):
    resp = api.post("/api/submissions", data=body, content_type=content_type)
    assert resp.status_code == 400, resp.get_data(as_text=True)[:300]
    assert "levels deep; at most 64 are accepted" in resp.get_json()["message"]


def test_brackets_inside_strings_iris_and_comments_are_not_nesting(api):
    """The depth scanner skips strings, IRIs and comments: this body nests one level, not hundreds."""
    noise = "[ ( { " * 200
    body = f"""@prefix dsi: <https://w3id.org/dsi/def/dsi#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
    # {noise}
    [] a dsi:Organisation ; rdfs:label "Bracket Lovers {noise}" ;
       dsi:shortDescription '''{noise} " \\''' ''', "{noise} \\" [" ;
       dsi:website <https://brackets.example.org/{"(" * 300}> ."""
    resp = api.post("/api/submissions", data=body.encode(), content_type="text/turtle")
    assert resp.status_code in (202, 422), resp.get_data(as_text=True)[:500]
    jbody = json.dumps(project(name="Deep " + "[{" * 500, description="]}" * 500 + '\\"'))
    resp = api.post("/api/submissions", data=jbody, content_type="application/json")
    assert resp.status_code in (202, 422), resp.get_data(as_text=True)[:500]


def test_a_website_without_scheme_is_normalised(api, sub_app):
    resp = post_json(api, project(name="Scheme Less", website="www.schemeless.example.org"))
    assert resp.status_code == 202, resp.get_data(as_text=True)
    stored = sub_app.extensions["dsikb_submissions"].get(resp.get_json()["id"])
    assert "<https://www.schemeless.example.org/>" in stored.ntriples


@pytest.mark.parametrize("changes, field", [
    ({"website": "not a url"}, "website"),
    ({"website": "https://exa mple.org/"}, "website"),
    ({"country": "http://bad country/"}, "country"),
    ({"city": "https://bad city/"}, "city"),
    ({"technologyFocus": ["https://bad concept/"]}, "technologyFocus"),
    ({"partners": [{"organisation": "https://w3id.org/dsi/id/organisation/a b", "role": "co-funder"}]}, "partners"),
    ({"entity": "https://w3id.org/dsi/id/organisation/nes ta"}, "entity"),
])
def test_invalid_iris_are_field_errors(api, changes, field):
    resp = post_json(api, project(**changes))
    assert resp.status_code in (400, 422), resp.get_data(as_text=True)[:500]
    body = resp.get_json()
    assert body["field"] == field and body["message"]


def test_a_lone_surrogate_in_a_name_is_a_field_error(api):
    raw = json.dumps(project()).replace('"Open Air Quality Map"', '"Open \\ud800 Map"')
    resp = api.post("/api/submissions", data=raw, content_type="application/json")
    assert resp.status_code == 400, resp.get_data(as_text=True)[:500]
    assert resp.get_json()["field"] == "name"


def test_a_5000_digit_number_is_a_400(api):
    raw = json.dumps(project(latitude=0)).replace('"latitude": 0', '"latitude": ' + "9" * 5000)
    resp = api.post("/api/submissions", data=raw, content_type="application/json")
    assert resp.status_code == 400, resp.get_data(as_text=True)[:500]
    assert resp.get_json()["message"]


def test_emoji_in_the_partner_search_is_fine(api):
    resp = api.get("/submit/partners.json?q=" + "\U0001F600nesta")
    assert resp.status_code == 200
    assert resp.get_json() == []
    assert api.get("/submit/partners.json?q=nest").get_json()[0]["label"] == "Nesta"


@pytest.mark.parametrize("path", ["/search.json?q=nesta&page=", "/search?q=nesta&page=",
                                  "/search.json?q=nesta&per_page=", "/browse/organisation?page=",
                                  "/browse/organisation.json?per_page="])
@pytest.mark.parametrize("value", ["999999999999999999999", "-1", "abc", "\u00b2", "1e3"])
def test_page_parameters_out_of_range_are_400(api, path, value):
    resp = api.get(path + value, headers={"Accept": "application/json"})
    assert resp.status_code == 400, (path + value, resp.status_code)
    assert resp.get_json()["field"] == path.rsplit("&", 1)[-1].split("?")[-1].rstrip("=")


@pytest.mark.parametrize("limit", ["Infinity", "-Infinity", "NaN", "-1", "1e400", "\"inf\"", "\"nan\""])
def test_reconcile_limits_that_are_not_numbers_are_400(api, limit):
    query = '{"q0": {"query": "Nesta", "limit": %s}}' % limit
    resp = api.get("/reconcile", query_string={"queries": query})
    assert resp.status_code == 400, (limit, resp.status_code, resp.get_data(as_text=True)[:300])
    assert "limit" in resp.get_json()["message"] and resp.get_json()["field"] == "limit"
    for raw in (limit.strip('"'), "inf", "nan", "-1"):
        resp = api.get("/reconcile/suggest/entity", query_string={"prefix": "Nes", "limit": raw})
        assert resp.status_code == 400, (raw, resp.status_code)
        assert "limit" in resp.get_json()["message"]


def test_a_huge_reconcile_limit_is_capped(api):
    resp = api.get("/reconcile", query_string={"queries": '{"q0": {"query": "Nesta", "limit": 1e300}}'})
    assert resp.status_code == 200


def test_an_unknown_submitter_kind_is_refused(api):
    resp = post_json(api, project(name="Kind Test"), **{"X-Submitter-Kind": "robot<script>"})
    assert resp.status_code == 400
    assert resp.get_json()["field"] == "X-Submitter-Kind"
    resp = post_json(api, project(name="Kind Test"), **{"X-Submitter-Kind": "organisation"})
    assert resp.status_code == 202


@pytest.mark.parametrize("content_type, status", [
    ('application/json; charset="utf-8"x', 400),
    ("application/json; charset=latin-1", 415),
    ("application/json; charset=utf-16", 415),
])
def test_malformed_or_non_utf8_charsets_are_refused(api, content_type, status):
    resp = api.post("/api/submissions", data=json.dumps(project(name="Charset")), headers={"Content-Type": content_type})
    assert resp.status_code == status, resp.get_data(as_text=True)[:300]
    assert "charset" in resp.get_json()["message"]


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/json; charset=UTF-8",
                                          'application/json; charset="utf-8"', "application/json"])
def test_utf8_charsets_are_accepted(api, content_type):
    resp = api.post("/api/submissions", data=json.dumps(project(name="Charset " + content_type[-6:])),
                    headers={"Content-Type": content_type})
    assert resp.status_code == 202, resp.get_data(as_text=True)[:300]


# -- the depth scanner itself --------------------------------------------------------------------
def test_the_scanners_skip_strings_iris_and_comments():
    from kb.nesting import json_depth, sparql_depth, turtle_depth

    assert json_depth('{"a": "[[[[", "b": [1, {"c": "\\"[{"}]}') == 3
    assert turtle_depth('<#a> <http://e/p> "((" , """[[ "" \\""" ((""", \'x(\' ; <http://x/(> ( [ ] ) . # (((') == 2
    assert sparql_depth("SELECT * WHERE { ?a ?b ?c FILTER(?a < ((1)) && ?b > 2) }") == 4  # "<" as less-than
    assert sparql_depth("SELECT * WHERE { ?a <http://x/((((> ?c } # {{{{") == 1


@pytest.mark.parametrize("scanner, body", [
    ("json_depth", "[]" * 500_000), ("json_depth", '["\\"' * 200_000 + "]"),
    ("turtle_depth", "()" * 500_000), ("turtle_depth", "(<" * 500_000), ("turtle_depth", '("""' * 300_000),
    ("turtle_depth", "<" + "a" * 1_000_000), ("turtle_depth", "(<a>)" * 100_000),
])
def test_the_scanners_are_linear_on_a_megabyte(scanner, body):
    import time

    import kb.nesting

    started = time.monotonic()
    try:
        getattr(kb.nesting, scanner)(body)
    except kb.nesting.TooDeep:
        pass
    assert time.monotonic() - started < 5


# -- property: whatever the body, a 202 or a 4xx whose body parses, never a 5xx or an exception -----
def _answer_is_sane(client, raw, content_type: str) -> None:
    resp = client.post("/api/submissions", data=raw, content_type=content_type)
    assert resp.status_code == 202 or 400 <= resp.status_code < 500, (resp.status_code, raw[:300])
    assert isinstance(resp.get_json(), dict) and resp.get_json().get("message", "x"), resp.get_data()[:300]


def _property_settings():
    from hypothesis import HealthCheck, settings

    return settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _from_schema(node: dict, defs: dict):
    """Values for a schema node: objects as fixed dictionaries of their properties (the installed
    hypothesis-jsonschema fails on object schemas with this Hypothesis), other nodes by from_schema."""
    from hypothesis import strategies as st
    from hypothesis_jsonschema import from_schema

    if "$ref" in node:
        return _from_schema(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    if node.get("type") == "object":
        props = {k: _from_schema(v, defs) for k, v in node.get("properties", {}).items()}
        required = node.get("required", [])
        return st.fixed_dictionaries({k: props[k] for k in required},
                                     optional={k: v for k, v in props.items() if k not in required})
    if node.get("type") == "array" and node.get("items", {}).get("type") == "object":
        return st.lists(_from_schema(node["items"], defs), max_size=3)
    leaf = {k: v for k, v in node.items() if k not in ("description", "format")}
    if "items" in leaf and "$ref" in leaf["items"]:
        leaf["items"] = defs[leaf["items"]["$ref"].rsplit("/", 1)[-1]]
    return from_schema(leaf)


def test_schema_shaped_bodies_get_202_or_4xx(sub_app):
    from hypothesis import given
    from hypothesis import strategies as st

    from kb.contribute.submission_json import json_schema

    client = sub_app.test_client()
    defs = json_schema()["$defs"]
    bodies = st.one_of(*[_from_schema(option, defs) for option in json_schema()["oneOf"]])

    @_property_settings()
    @given(bodies)
    def check(data):
        _answer_is_sane(client, json.dumps(data), "application/json")

    check()


def test_arbitrary_json_and_text_get_4xx_never_5xx(sub_app):
    from hypothesis import given
    from hypothesis import strategies as st

    client = sub_app.test_client()
    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
    values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=20)
    fields = st.sampled_from(["type", "name", "entity", "withdraw", "website", "country", "city", "partners",
                              "latitude", "areasOfSociety", "startDate", "submitter", "reason", "tags"])
    near_schema = st.fixed_dictionaries({"type": st.sampled_from(["project", "organisation"]),
                                         "name": st.text(min_size=1, max_size=40)},
                                        optional={"x": st.just(1)}).flatmap(
        lambda base: st.dictionaries(fields, values, max_size=4).map(lambda extra: {**base, **extra}))
    bodies = (near_schema.map(json.dumps) | values.map(lambda v: json.dumps(v, allow_nan=True))
              | st.text(max_size=200) | st.binary(max_size=200))
    types = st.sampled_from(["application/json", "application/ld+json", "text/turtle", "application/n-triples"])

    @_property_settings()
    @given(bodies, types)
    def check(raw, content_type):
        _answer_is_sane(client, raw, content_type)

    check()


@pytest.mark.parametrize("q", ['"', "*", "NEAR(", "a AND", "\x00", "\U0001F600", "-", "^x", "a:b", "'", "((((", "x" * 5000,
                               "%ED%A0%80", "%FF%FE", "nesta OR"])
@pytest.mark.parametrize("path", ["/search.json", "/search", "/reconcile/suggest/entity", "/submit/partners.json",
                                  "/browse/organisation.json", "/browse/project", "/reconcile"])
def test_odd_search_texts_never_500(api, path, q):
    key = {"/reconcile/suggest/entity": "prefix", "/browse/organisation.json": "country",
           "/browse/project": "sort", "/reconcile": "query"}.get(path, "q")
    raw = q if q.startswith("%") else quote(q)  # %ED%A0%80 and %FF%FE are not UTF-8
    resp = api.get(f"{path}?{key}={raw}")
    assert resp.status_code == 200 or 400 <= resp.status_code < 500, (path, q, resp.status_code)


def test_rdf_xml_is_not_a_submission_format(api):
    """Submissions take no RDF/XML (no XML parser, no entity expansion on the web surface): 415."""
    body = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">]>'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>')
    resp = api.post("/api/submissions", data=body, content_type="application/rdf+xml")
    assert resp.status_code == 415


def test_a_remote_jsonld_context_is_not_fetched(api):
    body = json.dumps({"@context": "http://127.0.0.1:9/context.jsonld", "@id": "#it",
                       "@type": "https://w3id.org/dsi/def/dsi#Organisation"})
    resp = api.post("/api/submissions", data=body, content_type="application/ld+json")
    assert resp.status_code == 400 and "remote context" in resp.get_json()["message"]
