"""``/openapi.json`` stays true: it is a valid OpenAPI 3.1 document, it names every route of the app
(but /sparql, /static and the moderators' pages) and nothing else, its GET operations answer one of
their documented statuses with a documented media type, and schemathesis fuzzes every operation of it
against the app over the real built store (in-process WSGI, no network).
"""

from __future__ import annotations

import re
import time

import pytest

from tests.conftest import settings_for

UNDOCUMENTED = ("/static/", "/sparql", "/moderate")
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def fuzz_app(built_kb, tmp_path_factory):
    """The app over a private copy of the built store: fuzzed submissions must not reach other tests."""
    from kb.store import KB
    from tests.support import make_app

    from tests.support import copy_built

    dest = copy_built(built_kb, tmp_path_factory.mktemp("openapi") / "store")
    return make_app(KB.open(settings_for(dest)))


@pytest.fixture(scope="module")
def doc(fuzz_app):
    resp = fuzz_app.test_client().get("/openapi.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    return resp.get_json()


def template(path: str) -> str:
    """A path with its variables blanked: Flask's ``<any(a, b):kind>`` and OpenAPI's ``{kind}`` alike."""
    return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)


def test_document_is_valid_openapi(doc):
    from openapi_spec_validator import validate

    validate(doc)
    assert doc["openapi"].startswith("3.1")


def test_document_names_every_route_and_only_routes(fuzz_app, doc):
    routes: dict[str, set[str]] = {}
    for rule in fuzz_app.url_map.iter_rules():
        if rule.rule.startswith(UNDOCUMENTED):
            continue
        routes.setdefault(template(rule.rule), set()).update(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
    documented = {template(p): {m for m in ops if m in METHODS} for p, ops in doc["paths"].items()}
    assert sorted(set(routes) - set(documented)) == [], "routes missing from /openapi.json"
    assert sorted(set(documented) - set(routes)) == [], "documented paths the app does not have"
    for path, methods in routes.items():
        assert documented[path] == methods, f"{path}: app has {methods}, document says {documented[path]}"


def test_submission_schema_is_embedded(doc):
    from kb.contribute.submission_json import json_schema

    body = doc["paths"]["/api/submissions"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    embedded = doc["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]
    assert embedded["oneOf"] and set(json_schema()["$defs"]) <= {
        k.removeprefix("Submission_") for k in doc["components"]["schemas"]}


def _example_url(path: str, op: dict) -> str:
    url = path
    query = []
    for p in op.get("parameters", []):
        value = p.get("example")
        if value is None:
            enum = p["schema"].get("enum")
            value = enum[0] if enum else "does-not-exist"
        if p["in"] == "path":
            url = url.replace("{" + p["name"] + "}", str(value))
        elif p["in"] == "query" and "example" in p:
            query.append((p["name"], str(value)))
    from urllib.parse import urlencode

    return url + ("?" + urlencode(query) if query else "")


def _documented(doc: dict, op: dict, status: int) -> set[str] | None:
    spec = op["responses"].get(str(status))
    if spec is None:
        return None
    if "$ref" in spec:
        spec = doc["components"]["responses"][spec["$ref"].rsplit("/", 1)[-1]]
    return set(spec.get("content", {}))


@pytest.mark.parametrize("accept", [None, "text/html", "application/json", "text/turtle"])
def test_documented_gets_answer_a_documented_status(fuzz_app, doc, accept):
    client = fuzz_app.test_client()
    headers = {"Accept": accept} if accept else {}
    checked = 0
    for path, ops in doc["paths"].items():
        op = ops.get("get")
        if op is None:
            continue
        url = _example_url(path, op)
        with client.get(url, headers=headers) as resp:  # closes the files send_file opened
            resp.get_data()
        types = _documented(doc, op, resp.status_code)
        assert types is not None, f"GET {url} (Accept {accept}) answered undocumented {resp.status_code}"
        if types:
            assert resp.mimetype in types, f"GET {url} (Accept {accept}): {resp.mimetype} not in {types}"
        checked += 1
    assert checked >= 30


# -- schemathesis ------------------------------------------------------------------------------------
import schemathesis  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

CONFIG = {"seed": 20261201, "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
          "generation": {"mode": "all", "deterministic": True}}
RUN = {"examples": 0, "started": None}


class ClosingClient(FlaskClient):
    """Flask's test client, closing each response once read (schemathesis leaves send_file's open)."""

    def open(self, *args, **kwargs):
        resp = super().open(*args, **kwargs)
        resp.get_data()
        resp.close()
        return resp


def _schema():
    """The document as the code builds it (no store needed); requests go to ``fuzz_app`` in the test.
    (Not ``schemathesis.pytest.from_fixture``: schemathesis 4.32 reads a pytest attribute 9.x dropped.)"""
    from schemathesis.config import SchemathesisConfig

    from endpoint.openapi import document

    return schemathesis.openapi.from_dict(document(), config=SchemathesisConfig.from_dict(CONFIG))


schema = _schema()


@schema.parametrize()
@settings(max_examples=12, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_schemathesis(case, fuzz_app):
    """No 5xx, and statuses and media types as documented, for generated (and invalid) requests."""
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

    RUN["started"] = RUN["started"] or time.monotonic()
    RUN["examples"] += 1
    client = ClosingClient(fuzz_app, fuzz_app.response_class)
    if isinstance(case.body, dict) and "csrf_token" in case.body:  # the forms: get past their CSRF check
        with client.session_transaction() as session:
            session["csrf"] = case.body["csrf_token"] = "fuzz-token"
    case.call_and_validate(app=fuzz_app, session=client, checks=[not_a_server_error, status_code_conformance, content_type_conformance])


def test_schemathesis_ran_and_the_app_still_answers(fuzz_app, capsys):
    resp = fuzz_app.test_client().get("/healthz")
    assert resp.status_code == 200 and resp.get_json()["status"] == "ok"
    elapsed = time.monotonic() - RUN["started"] if RUN["started"] else 0.0
    with capsys.disabled():
        print(f"\nschemathesis: {RUN['examples']} requests in {elapsed:.1f} s")
    assert RUN["examples"] > 0
