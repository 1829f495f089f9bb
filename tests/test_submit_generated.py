"""Generated submissions, not hand-picked ones (issue 11): hypothesis drives ``POST /submit`` (the form,
as a browser sends it) and ``POST /api/submissions`` (JSON) with every field combination, every concept
of the store's taxonomies, valid and invalid values, unicode, blanks, whitespace and very long values.

The property: a 202 (303 for the form) with a pending submission, or a 4xx whose every message is
attached to a field the form has and contains no ``{``, ``[`` or address; never a 5xx. Valid
organisations and projects must all be accepted. Figures (sent, accepted, refused by field) are printed
by the last test. A small real store (taxonomies, shapes, two organisations) keeps each SHACL
validation near 0.1 s; schema-level refusals take a few milliseconds, so most examples are those.
"""

from __future__ import annotations

import collections
import gc
import html as html_lib
import json
import re
import secrets

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from tests.test_submissions import BASE, ORG, small_store

SETTINGS = dict(deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
FIGURES: collections.Counter = collections.Counter()
REFUSED: collections.Counter = collections.Counter()  # field -> times named in a refusal
FORM_FIELDS = {"type", "name", "website", "shortDescription", "description", "country", "city", "latitude",
               "longitude", "startDate", "endDate", "organisationType", "organisationSize", "areasOfSociety",
               "technologyFocus", "technologyMethod", "partners", "submitter", "entity"}
ADDRESS = re.compile(r"[a-z][a-z0-9+.-]*://|\b(dsi|xsd|rdfs|skos|sh):[A-Za-z]", re.I)
SCHEMES = {"organisationType": "organisation-type", "organisationSize": "organisation-size",
           "activityType": "activity-type", "areasOfSociety": "area-of-society", "dsiAreas": "dsi-area",
           "technologyFocus": "technology-focus", "technologyMethod": "technology-method",
           "supportTypes": "support-type"}
ROLES = ["sole-funder", "co-funder", "delivery-lead", "delivery-partner", "evaluator", "advisory-group-member",
         "takes-part"]
CITIES = ["Amsterdam", "amsterdam", "Utrecht", "Zürich", "Łódź", "São Paulo", "Manchester", "Den Haag",
          "Reykjavík", "Αθήνα", "Москва", "  Leeds  ", "Saint-Étienne"]
COUNTRIES = ["Netherlands", "netherlands", "NL", "Nederland", "United Kingdom", "UK", "Latvia", "Malta",
             "Deutschland", "España", "Italia", "Polska", "Österreich", "Ελλάδα", "FR", "Česko"]


@pytest.fixture(scope="module")
def gen_app(tmp_path_factory):
    from endpoint import create_app

    from kb.settings import Settings

    # thousands of submissions from one address: no per-address hourly cap where the settings have one
    no_cap = {"submission_rate_limit": 0} if "submission_rate_limit" in Settings.__dataclass_fields__ else {}
    kb = small_store(tmp_path_factory.mktemp("generated") / "store", **no_cap)
    app = create_app(kb.settings, kb=kb)
    app.config["TESTING"] = True
    yield app
    del app, kb
    gc.collect()


@pytest.fixture(scope="module")
def concepts(gen_app):
    """Every concept of the form's taxonomies, read from the store: field -> [(IRI, slug)]."""
    import pyoxigraph as ox

    kb = gen_app.extensions["dsikb"]
    out = {}
    for field, scheme in SCHEMES.items():
        rows = kb.select("SELECT DISTINCT ?c ?s WHERE { ?c skos:inScheme ?s }",
                         bind={"s": ox.NamedNode(kb.names.scheme(scheme))})
        out[field] = sorted((r["c"].value, r["c"].value.rsplit("/", 1)[-1]) for r in rows)
        assert out[field], scheme
    return out


@pytest.fixture(scope="module")
def country_iris(gen_app):
    from kb.index import places

    return [c["iri"] for c in places.country_choices(gen_app.extensions["dsikb"])]


# -- what people type -------------------------------------------------------------------------
LETTERS = st.characters(codec="utf-8", exclude_categories=["Cs", "Cc", "Zl", "Zp"])
NAME = st.one_of(
    st.text(LETTERS, min_size=1, max_size=40).filter(lambda s: re.search(r"\w", s)),
    st.sampled_from(["Waag Society", "Fab Lab Barcelona", "Stichting Ñandú", "Ärzte für Alle", "漢字研究所",
                     "Ολυμπία Lab", "  Spaced   Out  ", "a" * 300, "O'Brien & Sons", "100% Open"]),
).filter(lambda s: 0 < len(re.sub(r"\s+", " ", s).strip()) <= 300)
TEXT = st.one_of(st.text(LETTERS, max_size=60), st.sampled_from(["", "   ", "x" * 1000]))
LONG_TEXT = st.one_of(st.text(LETTERS, max_size=200), st.just("word " * 3000))
WEBSITE = st.one_of(st.sampled_from(["https://example.org/", "www.example.org", "example.org/about",
                                     "http://ex-ample.eu/path?q=1", "HTTPS://EXAMPLE.ORG", " www.x.org "]),
                    st.from_regex(r"[a-z]{1,12}\.(org|eu|nl|com)", fullmatch=True))
LATITUDE = st.one_of(st.floats(-90, 90), st.integers(-90, 90),
                     st.floats(-90, 90).map(lambda f: f"{f:.4f}".replace(".", ",")),
                     st.floats(-90, 90).map(lambda f: f" {f:.5f} "))
LONGITUDE = st.one_of(st.floats(-180, 180), st.floats(-180, 180).map(lambda f: f"{f:.3f}".replace(".", ",")))
DAY = st.dates(min_value=__import__("datetime").date(1900, 1, 1), max_value=__import__("datetime").date(2099, 12, 31))
DATE_TEXT = st.one_of(DAY.map(str), DAY.map(lambda d: str(d.year)), DAY.map(lambda d: d.strftime("%d/%m/%Y")),
                      DAY.map(lambda d: d.strftime("%d.%m.%Y")))


def concept_value(pairs, as_slug: bool):
    return st.sampled_from(pairs).map(lambda p: p[1] if as_slug else p[0])


def valid_entity(concepts, kind: str):
    """A valid organisation or project in the JSON shape, any combination of optional fields."""
    slug = st.booleans()
    optional = {"website": WEBSITE, "shortDescription": TEXT.map(lambda s: s[:1000]),
                "description": LONG_TEXT, "city": st.sampled_from(CITIES),
                "coordinates": st.tuples(LATITUDE, LONGITUDE), "tags": st.lists(TEXT, max_size=3),
                "submitter": st.fixed_dictionaries({}, optional={
                    "name": TEXT.map(lambda s: s[:200]), "email": st.just("ada@example.org"),
                    "kind": st.sampled_from(["person", "organisation"]), "consentToBeNamed": st.booleans()})}
    if kind == "organisation":
        for key in ("organisationType", "organisationSize"):
            optional[key] = slug.flatmap(lambda s, key=key: concept_value(concepts[key], s))
        required = {"type": st.just("organisation"), "name": NAME, "country": st.sampled_from(COUNTRIES)}
    else:
        lists = lambda key, n: st.lists(concept_value(concepts[key], False), min_size=n, max_size=3,  # noqa: E731
                                        unique=True)
        required = {"type": st.just("project"), "name": NAME, "country": st.sampled_from(COUNTRIES),
                    "areasOfSociety": lists("areasOfSociety", 1), "technologyFocus": lists("technologyFocus", 1)}
        optional.update({"technologyMethod": lists("technologyMethod", 0), "dsiAreas": lists("dsiAreas", 0),
                         "supportTypes": lists("supportTypes", 0),
                         "activityType": concept_value(concepts["activityType"], True),
                         "partners": st.lists(st.fixed_dictionaries(
                             {"organisation": st.sampled_from([ORG + "nesta", ORG + "waag"])},
                             optional={"role": st.sampled_from(ROLES)}), max_size=2,
                             unique_by=lambda p: p["organisation"]),
                         "startDate": DATE_TEXT, "endDate": DATE_TEXT})
    return st.fixed_dictionaries(required, optional=optional).map(_tidy)


def _tidy(data: dict) -> dict:
    """Coordinates come in pairs; valid projects end after they start (swapped when the wrong way)."""
    from kb.contribute.submission_messages import date

    if "coordinates" in data:
        data["latitude"], data["longitude"] = data.pop("coordinates")
    if "startDate" in data and "endDate" in data:
        start, end = date("startDate", data["startDate"])[0], date("endDate", data["endDate"])[0]
        n = min(len(start), len(end))
        if end[:n] < start[:n]:
            data["startDate"], data["endDate"] = data["endDate"], data["startDate"]
    return data


BAD = {  # values that must be refused, each on its field
    "name": st.sampled_from(["", "   ", "\t\n", "n" * 301, 42, None, ["Waag"]]),
    "website": st.sampled_from(["not a url", "ftp://files.example.org/", "http://", "javascript:alert(1)",
                                "https://a b.org/", "{}", "[x]", "www", 12]),
    "latitude": st.sampled_from(["abc", "123", 123, -90.5, "1e999", "52,37,1", "NaN", True, "{1}", "9" * 400]),
    "longitude": st.sampled_from(["east", 181, "-180,5", "--4", False]),
    "startDate": st.sampled_from(["2024-13-45", "yesterday", "31/02/2024", "0000-00-00", "24", 2024]),
    "country": st.sampled_from(["Atlantis", "Narnia", "{x}", "[NL]", "https://w3id.org/dsi/id/place/atlantis", 7]),
    "city": st.sampled_from(["C", "123", "-", "test", "yes", "???", 5]),
    "organisationType": st.sampled_from(["not-a-type", "https://example.org/x y", 5, {"a": 1}]),
    "areasOfSociety": st.sampled_from([["nowhere"], [1], "https://a b/", [{"x": 1}]]),
    "partners": st.sampled_from([[{"organisation": "nesta"}], [{"organisation": "https://a b/"}],
                                 [{"organisation": ORG + "nesta", "role": "boss"}], [{"role": "co-funder"}],
                                 "Nesta", [ORG + "nesta"]]),
    "submitter": st.sampled_from([{"email": "not-an-email"}, {"kind": "alien"}, {"name": "x" * 201}, "me"]),
    "type": st.sampled_from(["person", "", None, ["project"]]),
}


def plain(message) -> bool:
    return isinstance(message, str) and message.strip() != "" and not re.search(r"[{}\[\]]", message) \
        and not ADDRESS.search(message)


# -- sending and checking --------------------------------------------------------------------
def check_json(client, data, *, must_accept: bool, broken: set[str] = frozenset()):
    FIGURES["sent"] += 1
    FIGURES["sent JSON"] += 1
    resp = client.post("/api/submissions", data=json.dumps(data), content_type="application/json")
    assert resp.status_code < 500, (data, resp.get_data(as_text=True)[:2000])
    body = resp.get_json()
    if resp.status_code == 202:
        FIGURES["accepted 202"] += 1
        assert body["status"] == "pending" and not broken, (data, body)
        assert all(plain(w["message"]) for w in body.get("warnings", [])), body
        return
    assert not must_accept, (data, body)
    assert 400 <= resp.status_code < 500 and body is not None, (data, resp.get_data(as_text=True)[:500])
    results = body.get("results") or [{"field": body.get("field"), "message": body.get("message")}]
    fields = {r["field"] for r in results if r.get("severity", "Violation") == "Violation"}
    for r in results:
        REFUSED[r["field"]] += 1
        assert r["field"] in FORM_FIELDS, (data, r)
        assert plain(r["message"]), (data, r)
    assert plain(body["message"]), (data, body["message"])
    assert not broken or fields & broken, (data, broken, results)
    FIGURES["refused 4xx"] += 1


FIELD_MESSAGE = re.compile(r'data-field="([^"]+)">([^<]*)<')
GENERAL = re.compile(r'<p class="field-error [a-z]*">([^<]*)<')


def check_form(client, token, form, *, must_accept: bool, broken: set[str] = frozenset()):
    FIGURES["sent"] += 1
    FIGURES["sent form"] += 1
    data = {"csrf_token": token, "idempotency_key": secrets.token_urlsafe(8), **form}
    resp = client.post("/submit", data=data)
    page = resp.get_data(as_text=True)
    assert resp.status_code < 500, (form, page[:2000])
    if resp.status_code == 303:
        FIGURES["accepted 202"] += 1
        status = client.get(resp.headers["Location"], headers={"Accept": "application/json"}).get_json()
        assert status["status"] == "pending" and not broken, (form, status)
        return
    found = [(f, html_lib.unescape(m)) for f, m in FIELD_MESSAGE.findall(page)]
    assert not must_accept, (form, found, GENERAL.findall(page))
    assert 400 <= resp.status_code < 500
    assert not GENERAL.findall(page), (form, GENERAL.findall(page))
    assert found, (form, page[:3000])
    for field, message in found:
        REFUSED[field] += 1
        assert field in FORM_FIELDS and plain(message), (form, field, message)
    assert not broken or {f for f, _ in found} & broken, (form, broken, found)
    for key, value in form.items():  # what the person typed is still in the form
        if isinstance(value, str) and value.strip() and key in ("name", "website", "city", "latitude"):
            assert html_lib.escape(value.strip(), quote=True)[:50] in page or value.strip()[:50] in html_lib.unescape(page), (key, value)
    FIGURES["refused 4xx"] += 1


def as_form(data: dict, country_iris, pick: int) -> dict:
    """The JSON shape as the form sends it: a country from the list, checkboxes, partner lists."""
    form = {}
    for key, value in data.items():
        if key == "submitter":
            continue
        if key == "partners":
            form["partner"] = [p.get("organisation") for p in value]
            form["partner_role"] = [p.get("role", "delivery-partner") for p in value]
        elif key == "country" and isinstance(value, str) and value in COUNTRIES:
            form[key] = country_iris[pick % len(country_iris)] if pick % 3 else value
        elif isinstance(value, (list, tuple)):
            form[key] = [str(v) for v in value]
        elif value is not None:
            form[key] = str(value) if not isinstance(value, float) else repr(value)
    return form


@pytest.fixture(scope="module")
def client(gen_app):
    return gen_app.test_client()


@pytest.fixture(scope="module")
def token(client):
    page = client.get("/submit").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


@pytest.mark.parametrize("kind", ["organisation", "project"])
def test_every_valid_submission_is_accepted_by_the_api(client, concepts, kind):
    @settings(max_examples=70, **SETTINGS)
    @given(data=valid_entity(concepts, kind))
    def run(data):
        check_json(client, data, must_accept=True)

    run()


@pytest.mark.parametrize("kind", ["organisation", "project"])
def test_every_valid_submission_is_accepted_by_the_form(client, token, concepts, country_iris, kind):
    @settings(max_examples=35, **SETTINGS)
    @given(data=valid_entity(concepts, kind), pick=st.integers(0, 10_000))
    def run(data, pick):
        check_form(client, token, as_form(data, country_iris, pick), must_accept=True)

    run()


def test_every_concept_is_accepted(client, concepts):
    """Each organisation type and size, area, technology: one organisation or project per concept."""
    for key, pairs in concepts.items():
        for iri, slug in pairs:
            if key in ("organisationType", "organisationSize"):
                data = {"type": "organisation", "name": f"Concept {slug}", "country": "Malta", key: iri}
            else:
                data = {"type": "project", "name": f"Concept {key} {slug}", "country": "Latvia",
                        "areasOfSociety": [concepts["areasOfSociety"][0][0]],
                        "technologyFocus": [concepts["technologyFocus"][0][0]], key: [slug] if key != "activityType" else slug}
                if key in ("areasOfSociety", "technologyFocus"):
                    data[key] = [iri]
            check_json(client, data, must_accept=True)


def broken_submission(concepts, kind: str):
    """A valid submission with one to three fields replaced by values that must be refused."""
    keys = sorted(BAD)
    return st.tuples(valid_entity(concepts, kind), st.lists(st.sampled_from(keys), min_size=1, max_size=3, unique=True)
                     ).flatmap(lambda t: st.tuples(st.just(t[0]), st.tuples(*[BAD[k] for k in t[1]]), st.just(t[1])))


def _apply(base: dict, values, keys, form: bool = False) -> tuple[dict, set[str]]:
    data = dict(base)
    for key, value in zip(keys, values):
        data[key] = value
    if data.get("type") not in ("organisation", "project"):
        return data, {"type"}
    if form and data["type"] == "organisation":  # the form leaves a project's fields out for an organisation
        keys = [k for k in keys if k not in ("areasOfSociety", "partners")]
    return data, set(keys)


@pytest.mark.parametrize("kind", ["organisation", "project"])
def test_every_invalid_submission_is_refused_on_its_field_by_the_api(client, concepts, kind):
    @settings(max_examples=500, **SETTINGS)
    @given(case=broken_submission(concepts, kind))
    def run(case):
        data, broken = _apply(*case)
        check_json(client, data, must_accept=False, broken=broken)

    run()


FORM_BAD = ("name", "website", "latitude", "longitude", "startDate", "country", "city", "organisationType", "type")


@pytest.mark.parametrize("kind", ["organisation", "project"])
def test_every_invalid_submission_is_refused_on_its_field_by_the_form(client, token, concepts, country_iris, kind):
    strategy = st.tuples(valid_entity(concepts, kind),
                         st.lists(st.sampled_from(FORM_BAD), min_size=1, max_size=2, unique=True)).flatmap(
        lambda t: st.tuples(st.just(t[0]), st.tuples(*[BAD[k].filter(lambda v: isinstance(v, str)) for k in t[1]]),
                            st.just(t[1])))

    @settings(max_examples=200, **SETTINGS)
    @given(case=strategy, pick=st.integers(0, 10_000))
    def run(case, pick):
        data, broken = _apply(*case, form=True)
        if kind == "project":
            broken.discard("organisationType")  # a project's form leaves the organisation's type out
        check_form(client, token, as_form(data, country_iris, pick), must_accept=False, broken=broken)

    run()


SCHEMA_FIELDS = ("name", "website", "shortDescription", "country", "city", "latitude", "longitude", "startDate",
                 "endDate", "organisationType", "areasOfSociety", "technologyFocus", "partners", "tags", "twitter")


def test_schema_generated_fields(client, concepts):
    """hypothesis-jsonschema: each field's values drawn from its own schema (from_schema cannot take
    the whole object schema with this Hypothesis), the others valid: a 202 or a 4xx on a field."""
    from kb.contribute.submission_json import json_schema

    props = json_schema()["$defs"]["entity"]["properties"]
    defs = json_schema()["$defs"]

    def field_schema(key):
        schema = dict(props[key])
        if "$ref" in schema:
            schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
        return piece(schema)

    def piece(schema):
        """from_schema, with objects built property by property (its objects break with this Hypothesis)."""
        if schema.get("type") == "array":
            return st.lists(piece(schema["items"]), max_size=3)
        if schema.get("type") == "object":
            req = set(schema.get("required", []))
            parts = {k: from_schema(v) for k, v in schema["properties"].items()}
            return st.fixed_dictionaries({k: v for k, v in parts.items() if k in req},
                                         optional={k: v for k, v in parts.items() if k not in req})
        return from_schema(schema)

    strategy = st.sampled_from(SCHEMA_FIELDS).flatmap(
        lambda k: st.tuples(st.just(k), field_schema(k), valid_entity(concepts, "project")))

    @settings(max_examples=400, **SETTINGS)
    @given(case=strategy)
    def run(case):
        key, value, data = case
        data[key] = value
        check_json(client, data, must_accept=False)

    run()


def test_figures(capsys):
    """At least 2,000 generated submissions; the figures, printed."""
    with capsys.disabled():
        print(f"\ngenerated submissions: {FIGURES['sent']} sent ({FIGURES['sent JSON']} JSON, "
              f"{FIGURES['sent form']} form), {FIGURES['accepted 202']} accepted (202/303), "
              f"{FIGURES['refused 4xx']} refused 4xx; refused by field: "
              + ", ".join(f"{k} {v}" for k, v in REFUSED.most_common()))
    assert FIGURES["sent"] >= 2000, FIGURES
