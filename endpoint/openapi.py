"""``/openapi.json``: an OpenAPI 3.1 description of the HTTP API (everything but ``/sparql``, which the
SPARQL 1.1 Protocol describes, and the moderators' pages, which need a session).

Built from code rather than kept as a JSON file so that the lists it names (entity types, facets,
sorts, dumps, reconciliation types) are the ones the app uses, and the submission JSON shape is
``docs/submission.schema.json`` itself. ``tests/test_openapi.py`` checks it against ``app.url_map``.
``python -m endpoint.openapi`` prints it.
"""

from __future__ import annotations

import copy
import functools
import json

from flask import Blueprint, jsonify

bp = Blueprint("openapi", __name__)

HTML, JSON, TEXT = "text/html", "application/json", "text/plain"
RDF = ["text/turtle", "application/n-triples", "application/ld+json", "application/rdf+xml"]
ENTITY_RDF = RDF + ["application/n-quads", "application/trig", "text/n3"]  # quads: with their named graphs
SLUG = "^[a-z0-9]+(?:-[a-z0-9]+)*$"
STR = {"type": "string"}
INT = {"type": "integer", "minimum": 1}


def _param(name: str, where: str = "query", schema: dict | None = None, description: str = "",
           required: bool | None = None, example=None) -> dict:
    p = {"name": name, "in": where, "schema": schema or STR}
    if where == "path" or required:
        p["required"] = True
    if description:
        p["description"] = description
    if example is not None:
        p["example"] = example
    return p


def _list_param(name: str, description: str) -> dict:
    """A parameter that may be repeated (``?area=a&area=b``)."""
    return {"name": name, "in": "query", "description": description, "style": "form", "explode": True,
            "schema": {"type": "array", "items": STR}}


def _content(*types: str, schema: dict | None = None) -> dict:
    return {t: ({"schema": schema} if schema else {}) for t in types}


def _ok(description: str, *types: str, schema: dict | None = None, headers: dict | None = None) -> dict:
    out = {"description": description, "content": _content(*types, schema=schema)}
    if headers:
        out["headers"] = headers
    return out


ERROR = {"$ref": "#/components/responses/Error"}
LOCATION = {"Location": {"description": "where to go", "schema": STR}}
NOT_MODIFIED = {"description": "Not Modified (conditional GET with If-None-Match / If-Modified-Since)"}
MOVED = {"description": "Moved Permanently: the entity was merged into another one (Location)",
         "headers": LOCATION, "content": _content(HTML, TEXT)}


def _errors(*codes: int) -> dict:
    return {str(c): ERROR for c in codes}


def _op(summary: str, responses: dict, params: list | None = None, tags: list | None = None, **extra) -> dict:
    op = {"summary": summary, "responses": responses}
    if params:
        op["parameters"] = params
    if tags:
        op["tags"] = tags
    op.update(extra)
    return op


def _entity_params(*, concept: str | None = None, suffix: bool = False) -> list[dict]:
    last = "name" if suffix else "slug"
    last_pattern = SLUG[:-1] + r"(\.(ttl|nt|jsonld|rdf|nq|trig|n3))?$" if suffix else SLUG
    if concept == "scheme":
        return [_param(last if suffix else "scheme", "path", {"type": "string", "pattern": last_pattern},
                       "concept scheme slug" + (" with an optional RDF suffix" if suffix else ""),
                       example="area-of-society")]
    if concept == "concept":
        return [_param("scheme", "path", {"type": "string", "pattern": SLUG}, "concept scheme slug",
                       example="area-of-society"),
                _param(last, "path", {"type": "string", "pattern": last_pattern}, "concept slug",
                       example="health")]
    from kb.namespaces import ENTITY_TYPES

    return [_param("type", "path", {"type": "string", "enum": list(ENTITY_TYPES)}, "entity type",
                   example="organisation"),
            _param(last, "path", {"type": "string", "pattern": last_pattern},
                   "entity slug" + (", optionally with .ttl, .nt, .jsonld, .rdf, .nq, .trig or .n3" if suffix else ""),
                   example="nesta")]


def _dereferencing(paths: dict) -> None:
    page = _param("page", schema=INT, description="page of the inverse links (entities pointing here)")
    forms = ((None, "an entity", "/{type}/{slug}", "/{type}/{name}"),
             ("concept", "a concept", "/concept/{scheme}/{slug}", "/concept/{scheme}/{name}"),
             ("scheme", "a concept scheme", "/concept/{scheme}", "/concept/{name}"))
    for concept, what, tail, data_tail in forms:
        paths["/id" + tail] = {"get": _op(
            f"The identifier of {what}: 303 See Other to its page (HTML) or its data (RDF) by Accept",
            {"303": {"description": "See Other: /page/... for browsers, /data/....{ext} for RDF clients",
                     "headers": LOCATION, "content": _content(TEXT)},
             "301": MOVED, **_errors(404, 406, 410)},
            _entity_params(concept=concept), ["linked data"])}
        if concept is None:  # the 2013 site's identifiers
            paths["/id/organization/{uuid}"] = {"get": _op(
                "A 2013 DSI identifier (http://data.digitalsocial.eu/id/organization/{uuid}; also "
                "/id/activity/{uuid}): 301 to the entity that carries it as owl:sameAs",
                {"301": {"description": "Moved Permanently: the entity's /id/ path", "headers": LOCATION,
                         "content": _content(TEXT)}, **_errors(404)},
                [_param("uuid", "path", {"type": "string"}, "the 2013 UUID",
                        example="ba71764f-aa4e-fc08-d79b-f6ee1921c8fb")], ["linked data"])}
        paths["/data" + data_tail] = {"get": _op(
            f"The RDF description of {what}; a suffix overrides Accept",
            {"200": _ok("the description (own triples, labels of what it links to, inverse links)", *ENTITY_RDF),
             "301": MOVED, "304": NOT_MODIFIED, **_errors(400, 404, 406, 410)},
            _entity_params(concept=concept, suffix=True) + [page], ["linked data"])}
        paths["/page" + tail] = {"get": _op(
            f"The HTML page of {what}",
            {"200": _ok("the page", HTML), "301": MOVED, "304": NOT_MODIFIED, **_errors(400, 404, 410)},
            _entity_params(concept=concept) + [page], ["linked data"])}


def _browse(paths: dict) -> None:
    from kb.index.browse import BROWSE_TYPES, FACETS, SORT_ALIASES, sort_menu
    from kb.index.search import SEARCH_TYPES

    names = [f"{t}{ext}" for t in BROWSE_TYPES for ext in ("", ".csv", ".json")]
    facets = sorted({f.key for fs in FACETS.values() for f in fs})
    hidden = _param("hidden", schema={"type": "string", "enum": ["1", "true", "include"]},
                    description="include entries hidden as spam or tests")
    # after a write the previous lists and search index answer while new ones are built ("index":
    # {"generation", "current": false, "refreshing"} in JSON, a note on pages); none at all yet: 503
    BUILDING = {"description": "no lists or search index exist yet (first start): being built (Retry-After)",
                "headers": {"Retry-After": {"schema": {"type": "integer"}}}}
    paths["/browse/{name}"] = {"get": _op(
        "Faceted, paged list of one entity type (HTML, or .csv / .json); filters are slugs of facet values",
        {"200": _ok("the list (.csv: every row, no paging)", HTML, "text/csv", JSON), **_errors(400, 404),
         "503": BUILDING},
        [_param("name", "path", {"type": "string", "enum": names}, "entity type, with .csv or .json",
                example="organisation.json"),
         *[_list_param(k, f"facet filter ({', '.join(t for t, fs in FACETS.items() if k in [f.key for f in fs])})")
           for k in facets],
         _param("sort", schema={"type": "string", "enum": sorted(
             {v for t in BROWSE_TYPES for v in sort_menu(t)} | {p + a for a in SORT_ALIASES for p in ("", "-")})},
             description="name, country, projects (organisations), partners (projects), added (date the "
                         "record was made), start; a leading '-' reverses (label is name)", example="-projects"),
         _param("order", schema={"type": "string", "enum": ["asc", "desc"]},
                description="the sort's direction (instead of a leading '-')"),
         _param("page", schema=INT),
         _param("per_page", schema=INT), hidden,
         _param("lang", description="interface language of the HTML page (en, es, fr, de, it; others are "
                "ignored); any HTML page takes it, and a cookie keeps the choice (docs/i18n.md)")], ["browse"])}
    search_params = [_param("q", description="words to find in labels and descriptions", example="open data"),
                     _param("type", schema={"type": "string", "enum": list(SEARCH_TYPES)}),
                     _param("page", schema=INT), _param("per_page", schema={**INT, "maximum": 100}), hidden,
                     _param("exact", schema={"type": "string", "enum": ["1", "true"]},
                            description="search these words only: when nothing matches, do not show the "
                                        "results of the suggested spelling")]
    paths["/search"] = {"get": _op("Full-text search (HTML)", {"200": _ok("results", HTML), **_errors(400),
                                                                "503": BUILDING},
                                   search_params, ["browse"])}
    paths["/search.json"] = {"get": _op("Full-text search (JSON)", {"200": _ok("results", JSON, schema={
        "type": "object", "required": ["q", "total", "page", "pages", "results"]}), **_errors(400),
        "503": BUILDING},
        search_params, ["browse"])}


def _map(paths: dict) -> None:
    from kb.index.browse import FACETS
    from kb.index.mapdata import KINDS

    facets = sorted({f.key for k in KINDS for f in FACETS.get(k, ())})
    params = [_param("show", schema={"type": "string", "enum": list(KINDS)},
                     description="what to put on the map (default organisation)"),
              *[_list_param(k, f"facet filter, as /browse ({', '.join(t for t in KINDS if k in [f.key for f in FACETS[t]])})")
                for k in facets]]
    paths["/map"] = {"get": _op(
        "Map of organisations or projects (HTML; Leaflet, clustered), filtered by the /browse facets",
        {"200": _ok("the page", HTML), **_errors(400)}, params, ["browse"])}
    paths["/map.json"] = {"get": _op(
        "The map's points as GeoJSON: one Feature per organisation with coordinates; a project at its "
        "own coordinates, else at each partner's location, else at its country's capital (properties.placed)",
        {"200": _ok("a GeoJSON FeatureCollection with total, placed and filters", "application/geo+json", schema={
            "type": "object", "required": ["type", "features", "total", "placed"]}), **_errors(400)},
        params, ["browse"])}
def _network(paths: dict) -> None:
    """/network and /network.json: the network of organisations (endpoint/network.py)."""
    from kb.index.browse import FACETS

    params = [_list_param(f.key, f"{f.label}: value slugs, as in /browse/organisation (repeatable; ANDed)")
              for f in FACETS["organisation"]]
    computing = {"503": {"description": "no network computed yet for this store: it is being computed in the "
                                        "background (Retry-After); or the organisation list is being built",
                         "headers": {"Retry-After": {"schema": {"type": "integer"}}}}}
    paths["/network"] = {"get": _op(
        "The network of organisations linked by shared projects, drawn in the browser (sigma.js)",
        {"200": _ok("the page", HTML), **_errors(400), **computing}, params, ["browse"])}
    paths["/network.json"] = {"get": _op(
        "The network's data: organisations with positions, degree, betweenness and community; links; "
        "communities; counts per facet value",
        {"200": _ok("the network", JSON, schema={"type": "object", "required": [
            "generation", "nodes", "edges", "communities", "facets", "total"]}),
         "304": NOT_MODIFIED, **_errors(400), **computing}, params, ["browse"])}


def _publishing(paths: dict) -> None:
    from kb.publish.dump import PUBLIC_DUMPS

    unavailable = {"503": {"$ref": "#/components/responses/Unavailable"}}
    paths["/dumps/"] = {"get": _op("The dumps, with sizes, triple counts and SHA-256 sums (HTML or JSON by Accept)",
                                   {"200": _ok("the listing", HTML, JSON), **_errors(406), **unavailable},
                                   tags=["publishing"])}
    paths["/dumps/index.json"] = {"get": _op("The dumps listing as JSON", {"200": _ok("the listing", JSON),
                                                                          **unavailable}, tags=["publishing"])}
    paths["/dumps/{name}"] = {"get": _op(
        "One gzipped dump of the public dataset (ETag is its SHA-256)",
        {"200": _ok("the file", "application/gzip", headers={"Digest": {"schema": STR}}),
         "304": NOT_MODIFIED, **_errors(404), **unavailable},
        [_param("name", "path", {"type": "string", "enum": [n for n, _, _ in PUBLIC_DUMPS]}, example="dsi.ttl.gz")],
        ["publishing"])}
    void = {"200": _ok("VoID + DCAT description of the dataset", *RDF), "304": NOT_MODIFIED,
            **_errors(406), **unavailable}
    for path in ("/.well-known/void", "/void"):
        paths[path] = {"get": _op("VoID + DCAT description, by Accept", void, tags=["publishing"])}
    paths["/void.{ext}"] = {"get": _op(
        "VoID + DCAT description in the format its suffix names",
        {"200": _ok("the description", *RDF), "304": NOT_MODIFIED, **_errors(404), **unavailable},
        [_param("ext", "path", {"type": "string", "enum": ["ttl", "nt", "jsonld", "rdf"]}, example="ttl")],
        ["publishing"])}
    kind = _param("kind", "path", {"type": "string", "enum": ["dsi", "shapes"]},
                  "dsi: the ontology and taxonomies; shapes: the SHACL shapes", example="dsi")
    paths["/def/{kind}"] = {"get": _op("Ontology or shapes: HTML documentation or RDF by Accept",
                                       {"200": _ok("the document", HTML, *RDF), "304": NOT_MODIFIED,
                                        **_errors(404, 406)}, [kind], ["publishing"])}
    paths["/def/{kind}.{ext}"] = {"get": _op(
        "Ontology or shapes in the format its suffix names",
        {"200": _ok("the document", HTML, *RDF), "304": NOT_MODIFIED, **_errors(404)},
        [kind, _param("ext", "path", {"type": "string", "enum": ["ttl", "nt", "jsonld", "rdf", "html"]},
                      example="ttl")], ["publishing"])}
    paths["/context.jsonld"] = {"get": _op("The JSON-LD context of the data",
                                           {"200": _ok("the context", "application/ld+json")}, tags=["publishing"])}


def _submissions(paths: dict) -> None:
    token = {"name": "csrf_token", "type": "string", "description": "the token of the form's session"}
    form_fields = ["type", "entity", "name", "website", "shortDescription", "description", "country", "city",
                   "startDate", "endDate", "organisationType", "latitude", "longitude", "areasOfSociety",
                   "technologyFocus", "technologyMethod", "partner", "partner_role", "submitter_name",
                   "submitter_kind", "submitter_email", "consent", "idempotency_key"]
    form = {"type": "object", "required": ["csrf_token"],
            "properties": {"csrf_token": {"type": "string", "description": token["description"]},
                           **{f: STR for f in form_fields}}}
    html_error = {"description": "the form again, with what is wrong next to each field", "content": _content(HTML)}
    paths["/submit"] = {
        "get": _op("The submission form; with entity=IRI it starts from that entity's description",
                   {"200": _ok("the form", HTML), **_errors(404)},
                   [_param("entity", description="IRI of an organisation or project to change")], ["contribute"]),
        "post": _op("Send the form (needs the session cookie and its CSRF token)",
                    {"303": {"description": "stored: see its status", "headers": LOCATION, "content": _content(HTML)},
                     "400": html_error, "422": html_error, **_errors(403, 413)}, tags=["contribute"],
                    requestBody={"required": True, "content": {
                        "application/x-www-form-urlencoded": {"schema": form}}})}
    withdraw_form = {"type": "object", "required": ["csrf_token", "entity"], "properties": {
        "csrf_token": STR, "entity": {"type": "string", "description": "the entry's name (or its page address)"},
        "entity_iri": {"type": "string", "description": "the entry chosen from /submit/entities.json"},
        "reason": STR, "submitter_name": STR, "submitter_email": STR, "consent": STR}}
    paths["/submit/withdraw"] = {
        "get": _op("The form an organisation uses to ask to be removed", {"200": _ok("the form", HTML)},
                   tags=["contribute"]),
        "post": _op("Ask for a withdrawal (needs the session cookie and its CSRF token)",
                    {"303": {"description": "stored: see its status", "headers": LOCATION, "content": _content(HTML)},
                     "422": html_error, **_errors(403, 413)}, tags=["contribute"],
                    requestBody={"required": True, "content": {
                        "application/x-www-form-urlencoded": {"schema": withdraw_form}}})}
    paths["/submit/partners.json"] = {"get": _op(
        "Search-as-you-type for partner organisations (at most 10; nothing under 2 characters)",
        {"200": _ok("matches", JSON, schema={"type": "array", "items": {
            "type": "object", "required": ["iri", "label"], "properties": {"iri": STR, "label": STR}}}),
         **_errors(400)}, [_param("q", schema={"type": "string", "maxLength": 100}, example="nesta")],
        ["contribute"])}
    paths["/submit/entities.json"] = {"get": _op(
        "Search-as-you-type for the organisation or project to change or withdraw (the /search index)",
        {"200": _ok("matches", JSON, schema={"type": "array", "items": {
            "type": "object", "required": ["iri", "label"], "properties": {"iri": STR, "label": STR, "type": STR,
                                                                           "page": STR}}}),
         **_errors(400)}, [_param("q", schema={"type": "string", "maxLength": 100}, example="waag")],
        ["contribute"])}
    rdf_body = {"schema": {"type": "string"}}
    paths["/api/submissions"] = {"post": _op(
        "Submit an organisation, project, change or withdrawal: validated against the shapes, stored "
        "before the 202, published once a moderator accepts it",
        {"202": _ok("stored, pending moderation", JSON, schema={"$ref": "#/components/schemas/SubmissionStatus"},
                    headers=LOCATION),
         "400": _ok("the body does not parse", JSON),
         "422": _ok("a shape is violated or the JSON is outside the schema (sh:ValidationReport by Accept)",
                    JSON, "text/turtle", "application/ld+json"),
         **_errors(413, 415)},
        [_param("Idempotency-Key", "header", description="a repeat with the same key returns the first submission"),
         _param("X-Submitter-Name", "header"), _param("From", "header", description="email, never published"),
         _param("X-Submitter-Kind", "header", {"type": "string", "enum": ["person", "organisation"]}),
         _param("X-Submitter-Consent", "header", {"type": "string", "enum": ["yes", "no"]})],
        ["contribute"], requestBody={"required": True, "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Submission"}},
            "text/turtle": rdf_body, "application/n-triples": rdf_body, "application/ld+json": rdf_body}})}
    paths["/api/submissions/schema"] = {"get": _op("The JSON Schema of the simple JSON submission shape",
                                                   {"200": _ok("the schema", JSON)}, tags=["contribute"])}
    paths["/api/submissions/{sid}"] = {"get": _op(
        "The status of one submission (JSON, or a page for browsers)",
        {"200": _ok("its status", JSON, HTML, schema={"$ref": "#/components/schemas/SubmissionStatus"}),
         **_errors(404)}, [_param("sid", "path", description="the id the 202 gave")], ["contribute"])}


def _reconcile(paths: dict) -> None:
    from kb.index import reconcile as rc

    jsonp = _param("callback", description="JSONP: wrap the answer in a call to this JavaScript function")
    answer = {"200": _ok("the manifest (no query), or the candidates", JSON, "application/javascript"),
              **_errors(400)}
    query_params = [_param("queries", description='JSON object of query objects, e.g. {"q0": {"query": "Nesta"}}',
                           example='{"q0": {"query": "Nesta"}}'),
                    _param("query", description="a single query (Reconciliation API 0.1): text or a query object")]
    paths["/reconcile"] = {
        "get": _op("W3C Reconciliation Service API 0.2: the manifest, or batched queries",
                   answer, [*query_params, jsonp], ["reconcile"]),
        "post": _op("Batched reconciliation queries as a form",
                    {"200": _ok("the candidates", JSON), **_errors(400)}, tags=["reconcile"],
                    requestBody={"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
                        "type": "object", "properties": {"queries": STR, "query": STR}}}}})}
    types = {"type": "string", "enum": list(rc.TYPES)}
    limit = _param("limit", schema={"type": "integer", "minimum": 1, "maximum": 100})
    prefix = _param("prefix", example="nes")
    for kind, params in (("entity", [prefix, _param("type", schema=types), limit, jsonp]),
                         ("type", [prefix, jsonp]), ("property", [prefix, jsonp])):
        paths[f"/reconcile/suggest/{kind}"] = {"get": _op(
            f"Suggest {kind}s for a prefix", {"200": _ok("suggestions", JSON, "application/javascript"),
                                              **_errors(400)}, params, ["reconcile"])}
    paths["/reconcile/preview"] = {"get": _op(
        "A small HTML preview of one entity", {"200": _ok("the preview", HTML), **_errors(400, 404)},
        [_param("id", description="our URI, or type/slug", required=True, example="organisation/nesta")],
        ["reconcile"])}
    paths["/export/mixnmatch.tsv"] = {"get": _op(
        "Mix'n'match catalogue of one entity type (id, name, description, url, type)",
        {"200": _ok("the catalogue", "text/tab-separated-values"), **_errors(400)},
        [_param("type", schema=types)], ["reconcile"])}


def _stats(paths: dict) -> None:
    from kb.publish.figures import BY_NAME

    names = [f"{n}{ext}" for n in BY_NAME for ext in (".csv", ".json", "")]
    paths["/stats"] = {"get": _op("The dataset in figures: charts, tables and the SPARQL query of each (HTML)",
                                  {"200": _ok("the page", HTML)}, tags=["pages"])}
    paths["/stats.json"] = {"get": _op("Every figure: its query, variables and rows (JSON)", {"200": _ok(
        "the figures", JSON, schema={"type": "object", "required": ["generation", "figures"]})}, tags=["pages"])}
    paths["/stats/{name}"] = {"get": _op(
        "One figure's table: the answer of its query as CSV or JSON; without a suffix, 303 to it on /stats",
        {"200": _ok("the table", "text/csv", JSON), "303": {"description": "See Other: /stats#{figure}",
                                                            "headers": LOCATION}, **_errors(404)},
        [_param("name", "path", {"type": "string", "enum": names}, "figure, with .csv or .json",
                example="country.csv")], ["pages"])}


def _submission_schemas() -> dict:
    """``docs/submission.schema.json`` as components: its ``$defs`` become sibling schemas."""
    from kb.contribute.submission_json import json_schema

    schema = copy.deepcopy(json_schema())
    defs = schema.pop("$defs", {})
    schema.pop("$id", None)
    schema.pop("$schema", None)
    out = {"Submission": schema, **{f"Submission_{k}": v for k, v in defs.items()}}
    text = json.dumps(out).replace('"#/$defs/', '"#/components/schemas/Submission_')
    return json.loads(text)


@functools.cache
def document() -> dict:
    """The OpenAPI 3.1 document (built once per process: it depends on code, not on the store)."""
    paths: dict = {
        "/": {"get": _op("Home page: what the dataset is, figures, search, browse, download",
                         {"200": _ok("the page", HTML)}, tags=["pages"])},
        "/healthz": {"get": _op("Liveness and store figures", {"200": _ok("ok", JSON, schema={
            "type": "object", "required": ["status", "store"]})}, tags=["pages"])},
        "/openapi.json": {"get": _op("This description", {"200": _ok("OpenAPI 3.1", JSON)}, tags=["pages"])},
        "/readyz": {"get": _op("Readiness: the store answers (generation, figures, process shape)", {
            "200": _ok("ready", JSON, schema={"type": "object", "required": ["status", "generation", "store"]}),
            "503": _ok("the store cannot be reached", JSON, schema={
                "type": "object", "required": ["status", "reason"]})}, tags=["operations"])},
        "/metrics": {"get": _op("Prometheus metrics: requests and latency per route, query timeouts, refused "
                                "queries, store size, pending submissions",
                                {"200": _ok("Prometheus text format", TEXT)}, tags=["operations"])},
    }
    _dereferencing(paths)
    _browse(paths)
    _map(paths)
    _network(paths)
    _publishing(paths)
    _submissions(paths)
    _reconcile(paths)
    _stats(paths)
    error_types = {HTML: {"schema": STR}, TEXT: {"schema": STR}, JSON: {"schema": {
        "type": "object", "required": ["status", "error", "message"],
        "properties": {"status": {"type": "integer"}, "error": STR, "message": STR}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "DSI knowledge base", "version": "0.1.0",
                 "description": "The linked-data knowledge base of Digital Social Innovation in Europe. "
                                "SPARQL is at /sparql (SPARQL 1.1 Protocol, not described here).",
                 "license": {"name": "MIT", "identifier": "MIT"}},
        "externalDocs": {"description": "SPARQL 1.1 Protocol", "url": "https://www.w3.org/TR/sparql11-protocol/"},
        "paths": dict(sorted(paths.items())),
        "components": {
            "responses": {
                "Error": {"description": "an error, as a page (browsers), JSON (.json paths, /api/, "
                                         "/reconcile, or Accept: application/json) or plain text",
                          "content": error_types},
                "Unavailable": {"description": "the dumps are being built for the first time (Retry-After)",
                                "headers": {"Retry-After": {"schema": STR}}, "content": error_types},
            },
            "schemas": {
                "SubmissionStatus": {"type": "object", "required": ["id", "status"], "properties": {
                    "id": STR, "status": {"type": "string", "enum": ["pending", "accepted", "rejected"]}}},
                **_submission_schemas(),
            },
        },
    }


@bp.get("/openapi.json")
def openapi_json():
    resp = jsonify(document())
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


if __name__ == "__main__":
    print(json.dumps(document(), indent=1))
