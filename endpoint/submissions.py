"""Submissions over HTTP: the ``/submit`` form, the ``/api/submissions`` API and the moderators' pages.

CSRF: every HTML form carries a random token kept in the signed session and compared in constant
time. A hand-rolled check (rather than Flask-WTF's ``CSRFProtect``) because ``CSRFProtect`` guards
*every* POST of the app, which would break the SPARQL protocol and the reconciliation API; the
``/api/submissions`` POST needs none: it uses no cookies.
"""

from __future__ import annotations

import json
import re
import secrets

import pyoxigraph as ox
from flask import (Blueprint, Response, current_app, jsonify, make_response, redirect,
                   render_template, request, session, url_for)

from endpoint import moderator_auth
from endpoint.i18n import current_language
from endpoint.moderator_auth import moderator_required
from endpoint.negotiation import negotiate, vary_accept, wants_html
from endpoint.ratelimit import limit_submissions
from endpoint.state import get_kb, get_settings
from kb.contribute import moderation
from kb.publish.describe import best_label
from kb.errors import BadRequest, Forbidden, SyntaxProblem, TooLarge, Unprocessable
from kb.contribute.submission_json import CONCEPT_FIELDS, json_schema
from kb.contribute.queue import SubmissionStore, Submitter
from kb.contribute.recovery import Recovery
from kb.contribute.submissions import NotConforming, submit
from kb.terms import FieldProblem, iri

bp = Blueprint("submissions", __name__)

FORM_SCHEMES = {"organisationType": "organisation-type", "organisationSize": "organisation-size",
                "areasOfSociety": "area-of-society", "technologyFocus": "technology-focus",
                "technologyMethod": "technology-method"}
SINGLE = ("organisationType", "organisationSize", "activityType")  # one value each (the schema's strings)
REPORT_TYPES = ["application/json", "text/turtle", "application/ld+json"]
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
DCTERMS = "http://purl.org/dc/terms/"
GEO = "http://www.w3.org/2003/01/geo/wgs84_pos#"


def init_app(app) -> None:
    """Open the submissions spool beside the store and settle any accept a crash interrupted: now,
    or, while the store is down, as soon as it is back (kb/contribute/recovery.py)."""
    kb = app.extensions["dsikb"]
    subs = SubmissionStore.for_kb(kb)
    app.extensions["dsikb_submissions"] = subs
    moderator_auth.init_app(app)  # session cookie flags, sign-in throttle
    recovery = app.extensions["dsikb_recovery"] = Recovery(kb, subs)
    recovery.settle(strict=False)  # every store is writable, the remote one too


@bp.before_app_request
def _settle_recovery():
    """Until the start-up recovery has run: try it again (the store may be back); the submissions'
    and moderators' pages answer 503 meanwhile, as their queue may still say "pending" wrongly."""
    recovery = current_app.extensions.get("dsikb_recovery")
    if recovery is not None and recovery.pending:
        recovery.settle(strict=request.blueprint in ("submissions", "moderate_duplicates"))


def get_subs() -> SubmissionStore:
    return current_app.extensions["dsikb_submissions"]


# -- CSRF and sessions -------------------------------------------------------------------------
def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf() -> None:
    sent = request.form.get("csrf_token", "")
    kept = session.get("csrf", "")
    if not sent or not kept or not secrets.compare_digest(sent, kept):
        raise Forbidden("the form's security token is missing or out of date: reload the page and send it again")


@bp.app_context_processor
def _inject():
    # new_key: the form's Idempotency-Key, so a double click or a resent form makes one submission
    return {"csrf_token": csrf_token, "new_key": lambda: secrets.token_urlsafe(16)}


# -- the API -----------------------------------------------------------------------------------
def _read_body(limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge(f"the body has {request.content_length} bytes; submissions may have at most {limit}")
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise TooLarge(f"the body has more than {limit} bytes; submissions may have at most {limit}")
    return raw


def _submitter_from_headers() -> Submitter:
    """Who sent an API submission; an unknown X-Submitter-Kind is refused by ``submit`` (400)."""
    return Submitter(name=request.headers.get("X-Submitter-Name", ""), email=request.headers.get("From", ""),
                     kind=request.headers.get("X-Submitter-Kind", "").strip().lower() or "person",
                     named=request.headers.get("X-Submitter-Consent", "").lower() in {"yes", "true", "1"})


@bp.post("/api/submissions")
@limit_submissions
def api_submit():
    settings = get_settings()
    raw = _read_body(settings.submission_max_bytes)
    try:
        intake = submit(get_kb(), get_subs(), raw, request.content_type,
                        idempotency_key=request.headers.get("Idempotency-Key"),
                        submitter=_submitter_from_headers())
    except SyntaxProblem as exc:
        body = {"status": 400, "error": "Bad Request", "message": exc.message,
                "line": getattr(exc, "line", None), "column": getattr(exc, "column", None)}
        return jsonify(body), 400
    except NotConforming as exc:
        return _report_response(exc)
    except FieldProblem as exc:  # one field is unusable: say which (400 or 422)
        return jsonify({"status": exc.status, "error": "Unprocessable Content" if exc.status == 422 else "Bad Request",
                        "field": exc.field, "message": exc.message, "results": exc.results}), exc.status
    except Unprocessable as exc:
        results = getattr(exc, "results", [])
        return jsonify({"status": 422, "error": "Unprocessable Content", "message": exc.message,
                        "field": _first_field(results), "conforms": False, "results": results}), 422
    sub = intake.submission
    body = sub.status_body()
    body["duplicate"] = not intake.created
    if intake.warnings:
        body["warnings"] = intake.warnings
    resp = jsonify(body)
    resp.status_code = 202
    resp.headers["Location"] = f"/api/submissions/{sub.id}"
    return resp


def _report_response(exc: NotConforming) -> Response:
    """422 with the sh:ValidationReport as Turtle, JSON-LD or readable JSON (by Accept)."""
    mt = negotiate(REPORT_TYPES, default="application/json")
    if mt == "application/json":
        resp = jsonify({"status": 422, "error": "Unprocessable Content", "message": exc.message,
                        "field": _first_field(exc.results), "conforms": False, "results": exc.results})
    else:
        resp = make_response(report_rdf(exc.result.report_graph, mt), 422, {"Content-Type": f"{mt}; charset=utf-8"})
    resp.status_code = 422
    return vary_accept(resp)


def _first_field(results: list[dict]) -> str | None:
    """The field of the first violation: what a client shows first (every result has its own)."""
    return next((r["field"] for r in results if r.get("severity", "Violation") == "Violation"), None)


def report_rdf(report_graph, media_type: str) -> bytes:
    """The rdflib report graph as Turtle or JSON-LD, written by Oxigraph with the project's prefixes."""
    triples = ox.parse(report_graph.serialize(format="nt", encoding="utf-8"), ox.RdfFormat.N_TRIPLES)
    fmt = ox.RdfFormat.TURTLE if media_type == "text/turtle" else ox.RdfFormat.JSON_LD
    prefixes = {**get_kb().names.prefixes(), "sh": "http://www.w3.org/ns/shacl#"}
    return ox.serialize(triples, format=fmt, prefixes=prefixes)


@bp.get("/api/submissions/schema")
def api_schema():
    return jsonify(json_schema())


@bp.get("/api/submissions/<sid>")
def api_status(sid: str):
    sub = get_subs().get(sid)
    if wants_html():
        resp = make_response(render_template("submit_status.html", sub=sub, links=_entity_links(sub),
                                             summary=summary(sub), warnings=_warnings(sub)))
    else:
        resp = jsonify(sub.status_body())
    return vary_accept(resp)


def _page(kb, iri: str) -> str:
    """The page of one of our entities (other IRIs are returned as they are)."""
    parsed = kb.names.parse_entity(iri)
    return f"/page/{parsed[0]}/{parsed[1]}" if parsed else iri


def _entity_links(sub) -> list[dict]:
    kb = get_kb()
    return [{"iri": iri, "page": _page(kb, iri), "label": _named_in(sub, iri) or best_label(kb, ox.NamedNode(iri))
             or iri} for iri in sub.entities]


def _named_in(sub, entity: str) -> str:
    return next((t.object.value for t in sub.triples() if t.subject.value == entity
                 and t.predicate.value == RDFS_LABEL), "")


def _warnings(sub) -> list[dict]:
    return [r for r in json.loads(sub.report or "[]") if r.get("severity") != "Violation"]


def summary(sub) -> str:
    """What happened to a submission, in a sentence: "New organisation 'X', waiting for review"."""
    kb = get_kb()
    entity = sub.entities[0] if sub.entities else ""
    parsed = kb.names.parse_entity(entity) if entity else None
    what = parsed[0] if parsed else "entry"
    name = (best_label(kb, ox.NamedNode(entity)) if entity and sub.kind != "create" else None) \
        or _named_in(sub, entity) or what
    subject = {"create": f"New {what} '{name}'", "edit": f"Your change to {name}",
               "withdraw": f"Your request to remove {name}"}[sub.kind]
    if sub.status == "pending":
        return f"{subject}, waiting for review" if sub.kind == "create" else f"{subject} is waiting for review"
    if sub.status == "accepted":
        return f"{subject} was accepted" + (" and is published" if sub.kind != "withdraw" else "")
    return f"{subject} was rejected because {sub.reason}"


# -- the form ----------------------------------------------------------------------------------
_options_cache: dict = {}


def form_options() -> dict:
    """Concepts of the form's taxonomies and every ISO 3166 country (named in the reader's EU
    language, mapped to our place IRIs by kb.places), cached per store generation and language."""
    from kb.index import places

    kb = get_kb()
    chosen = current_language()  # the interface language, else the browser's EU language for countries
    lang = chosen if chosen != "en" else (request.accept_languages.best_match(places.EU_LANGUAGES) or "en")
    key = (id(kb), kb.generation, lang)
    if key in _options_cache:
        return _options_cache[key]
    options = {}
    for field, scheme in FORM_SCHEMES.items():
        rows = kb.select("""SELECT ?c (SAMPLE(?l) AS ?label) (SAMPLE(?t) AS ?translated) (SAMPLE(?n) AS ?order) ?scheme ?lang WHERE {
            ?c skos:inScheme ?scheme ; skos:prefLabel ?l FILTER(LANG(?l) = "en" || LANG(?l) = "")
            OPTIONAL { ?c skos:prefLabel ?t FILTER(LANG(?t) = ?lang) }
            OPTIONAL { ?c skos:notation ?n } } GROUP BY ?c ?scheme ?lang ORDER BY ?label""",
                         bind={"scheme": ox.NamedNode(kb.names.scheme(scheme)), "lang": ox.Literal(lang)})
        labels = [(r["c"].value, (r.get("translated") or r["label"]).value) for r in rows]  # English fallback
        options[field] = sorted(labels, key=lambda cl: cl[1].casefold()) if lang != "en" else labels
    options["countries"] = places.country_choices(kb, lang)
    if len(_options_cache) > 30:
        _options_cache.clear()
    _options_cache[key] = options
    return options


def form_to_json(form) -> dict:
    """The form's fields in the simple JSON shape (empty fields left out)."""
    data = {"type": form.get("type", "project")}
    if form.get("entity", "").strip():
        data["entity"] = form["entity"].strip()
    for key in ("name", "website", "shortDescription", "description", "country", "city", "startDate",
                "endDate"):
        if form.get(key, "").strip():
            data[key] = form[key].strip()
    data.setdefault("name", "")
    for key in ("latitude", "longitude"):
        value = form.get(key, "").strip()
        if value:
            data[key] = value  # read as people type it (52,37) by kb.submission_messages.normalise
    for key in CONCEPT_FIELDS:
        values = [v for v in form.getlist(key) if v]
        if values:  # a select gives one value (the schema's string), checkboxes a list
            data[key] = values[0] if key in SINGLE and len(values) == 1 else values
    if data["type"] == "organisation":
        for key in ("areasOfSociety", "technologyFocus", "technologyMethod"):
            data.pop(key, None)
    else:
        data.pop("organisationType", None)
        data.pop("organisationSize", None)
    partners = [{"organisation": o, "role": r or "delivery-partner"}
                for o, r in zip(form.getlist("partner"), form.getlist("partner_role")) if o]
    if partners and data["type"] == "project":
        data["partners"] = partners
    who = {"name": form.get("submitter_name", "").strip(), "kind": form.get("submitter_kind", "person"),
           "consentToBeNamed": form.get("consent") == "yes"}
    if form.get("submitter_email", "").strip():
        who["email"] = form["submitter_email"].strip()
    data["submitter"] = who
    return data


def _partner_labels(form) -> list[dict]:
    kb = get_kb()
    out = []
    for value, role in zip(form.getlist("partner"), form.getlist("partner_role")):
        if not value.startswith(kb.names.id_ns):
            continue
        try:
            node = iri(value, "partners")
        except FieldProblem:
            out.append({"iri": value, "label": value, "role": role})  # shown back with its error
            continue
        rows = kb.select("SELECT ?e (SAMPLE(?l) AS ?label) WHERE { ?e rdfs:label ?l } GROUP BY ?e", bind={"e": node})
        label = rows[0]["label"].value if rows and "label" in rows[0] else value
        out.append({"iri": value, "label": label, "role": role})
    return out


@bp.get("/submit")
def submit_form():
    entity = request.args.get("entity", "").strip()
    if entity:  # suggest a change: the form starts from what the store says now
        values = current_values(entity)
        return render_template("submit.html", options=form_options(), values=values, errors={}, general=[],
                               partners=_partner_labels(values))
    return render_template("submit.html", options=form_options(), values=request.args, errors={},
                           general=[], partners=[])


def current_values(entity: str):
    """The form's fields for an existing organisation or project (404 for anything else)."""
    from werkzeug.datastructures import MultiDict

    from kb.errors import NotFound

    kb = get_kb()
    parsed = kb.names.parse_entity(entity)
    try:
        node = iri(entity, "entity")
    except FieldProblem:
        node = None
    if (node is None or not parsed or parsed[0] not in ("organisation", "project")
            or not kb.ask("ASK { ?e a ?t }", bind={"e": node})):
        raise NotFound(f"{entity} is not an organisation or project of this knowledge base")
    n = kb.names
    single = {"name": RDFS_LABEL, "website": n.dsi("website"), "shortDescription": n.dsi("shortDescription"),
              "description": DCTERMS + "description", "startDate": n.dsi("startDate"),
              "endDate": n.dsi("endDate"), "latitude": GEO + "lat", "longitude": GEO + "long",
              "organisationType": n.dsi("organisationType")}
    values = MultiDict({"type": parsed[0], "entity": entity})
    for key, prop in single.items():
        rows = kb.select("SELECT ?e ?prop ?v WHERE { ?e ?prop ?v } ORDER BY ?v LIMIT 1",
                         bind={"e": node, "prop": ox.NamedNode(prop)})
        if rows:
            values[key] = rows[0]["v"].value
    rows = kb.select("SELECT ?e ?prop ?p WHERE { ?e ?prop ?p } ORDER BY ?p LIMIT 1",
                     bind={"e": node, "prop": ox.NamedNode(n.dsi("country"))})
    if rows:  # the country list's values are place IRIs
        values["country"] = rows[0]["p"].value
    rows = kb.select("SELECT ?e ?prop ?l WHERE { ?e ?prop ?p . ?p rdfs:label ?l } ORDER BY ?l LIMIT 1",
                     bind={"e": node, "prop": ox.NamedNode(n.dsi("city"))})
    if rows:
        values["city"] = rows[0]["l"].value
    for key, (prop, _) in CONCEPT_FIELDS.items():
        for row in kb.select("SELECT DISTINCT ?e ?prop ?c WHERE { ?e ?prop ?c }",
                             bind={"e": node, "prop": ox.NamedNode(n.dsi(prop))}):
            values.add(key, row["c"].value)
    for row in kb.select("""SELECT DISTINCT ?e ?o ?r WHERE { ?m dsi:project ?e ; dsi:organisation ?o .
                             OPTIONAL { ?m dsi:role ?r } } ORDER BY ?o""", bind={"e": node}):
        values.add("partner", row["o"].value)
        values.add("partner_role", row["r"].value.rsplit("/", 1)[-1] if "r" in row else "takes-part")
    return values


@bp.post("/submit")
@limit_submissions
def submit_post():
    check_csrf()
    data = form_to_json(request.form)
    raw = json.dumps(data, sort_keys=True).encode()
    errors, general = {}, []
    try:
        intake = submit(get_kb(), get_subs(), raw, "application/json",
                        idempotency_key=request.form.get("idempotency_key") or None)
    except (NotConforming, Unprocessable) as exc:
        for r in getattr(exc, "results", []) or [{"field": "", "message": exc.message, "severity": "Violation"}]:
            field = r["field"].split("/", 1)[0]
            if field in _FORM_FIELDS:
                errors.setdefault(field, []).append(r)
            else:
                general.append(r)
        body = render_template("submit.html", options=form_options(), values=request.form, errors=errors,
                               general=general, partners=_partner_labels(request.form))
        return body, 422
    except BadRequest as exc:
        general.append({"field": "", "message": exc.message, "severity": "Violation"})
        body = render_template("submit.html", options=form_options(), values=request.form, errors={},
                               general=general, partners=_partner_labels(request.form))
        return body, 400
    return redirect(f"/api/submissions/{intake.submission.id}", code=303)


_FORM_FIELDS = {"type", "name", "website", "shortDescription", "description", "country", "city", "latitude",
                "longitude", "startDate", "endDate", "organisationType", "organisationSize", "areasOfSociety",
                "technologyFocus", "technologyMethod", "partners", "submitter", "entity"}


@bp.route("/submit/withdraw", methods=["GET", "POST"])
def withdraw_form():
    """An organisation asks to be removed: a withdrawal submission, decided by a moderator. The entry
    is named as people know it (search-as-you-type fills in its identifier)."""
    kb = get_kb()
    errors, values = [], request.values
    if request.method == "POST":
        check_csrf()
        target, why = find_entry(request.form.get("entity", ""), request.form.get("entity_iri", ""))
        if target is None:
            errors = [{"field": "entity", "message": why}]
            return render_template("submit_withdraw.html", values=values, errors=errors), 422
        data = {"withdraw": target, "reason": request.form.get("reason", "").strip() or "withdrawal requested",
                "submitter": {"name": request.form.get("submitter_name", "").strip(), "kind": "organisation",
                              "consentToBeNamed": request.form.get("consent") == "yes"}}
        if request.form.get("submitter_email", "").strip():
            data["submitter"]["email"] = request.form["submitter_email"].strip()
        try:
            intake = submit(kb, get_subs(), json.dumps(data, sort_keys=True).encode(), "application/json")
        except (Unprocessable, BadRequest) as exc:
            errors = getattr(exc, "results", None) or [{"message": exc.message}]
            return render_template("submit_withdraw.html", values=values, errors=errors), 422
        return redirect(f"/api/submissions/{intake.submission.id}", code=303)
    chosen = request.args.get("entity", "").strip()
    if chosen.startswith(kb.names.id_ns):  # from an entry's page: its name, and its IRI chosen already
        try:
            label = best_label(kb, ox.NamedNode(chosen))
        except ValueError:
            label = None
        if label:
            values = {"entity": label, "entity_iri": chosen}
    return render_template("submit_withdraw.html", values=values, errors=errors)


def find_entry(name: str, chosen: str = "") -> tuple[str | None, str]:
    """(IRI, '') of the organisation or project a person named: the one chosen from the suggestions
    (checked against the search index), else the only one of that name; else (None, what to do)."""
    from kb.index.places import key
    from kb.index.search import search

    name = name.strip()[:200]
    if not name:
        return None, "Type the name of the organisation or project and choose it from the suggestions"
    pasted = re.fullmatch(r"(?:https?://[^/\s]+)?/?(?:.*/)?(?:page|id|data)/(organisation|project)/([a-z0-9-]+)"
                          r"(?:\.\w+)?/?(?:[?#].*)?", name)
    if pasted:  # the address of its page, pasted: checked by the intake as a bound term
        return get_kb().names.entity(pasted.group(1), pasted.group(2)), ""
    hits = []
    for type_ in ("organisation", "project"):
        hits += search(get_kb(), name, type=type_, limit=20)[0]
    if chosen and any(h.iri == chosen for h in hits):
        return chosen, ""
    same = [h for h in hits if key(h.label) == key(name)]
    if len(same) == 1 or len(hits) == 1:
        return (same or hits)[0].iri, ""
    shown = name[:80]
    if same:
        return None, f"{len(same)} entries are called \u201c{shown}\u201d: choose one from the suggestions"
    return None, (f"No organisation or project is called \u201c{shown}\u201d: type part of its name and "
                  "choose it from the suggestions")


@bp.get("/submit/entities.json")
def entities_json():
    """Search-as-you-type for "ask to be removed" and "suggest a change": organisations and
    projects by name, over the index of /search."""
    from kb.index.search import search

    q = request.args.get("q", "").strip()
    if len(q) < 2:
        return jsonify([])
    if len(q) > 100:
        raise BadRequest("type at most 100 characters")
    kb = get_kb()
    hits = search(kb, q, limit=10)[0]
    return jsonify([{"iri": h.iri, "label": h.label, "type": h.type, "page": _page(kb, h.iri)}
                    for h in hits if h.type in ("organisation", "project")])


@bp.get("/submit/partners.json")
def partners_json():
    """Search-as-you-type for partners: organisations whose name contains the typed text."""
    q = request.args.get("q", "").strip().lower()
    if len(q) < 2:
        return jsonify([])
    if len(q) > 100:
        raise BadRequest("type at most 100 characters")
    kb = get_kb()
    rows = kb.select("""SELECT ?e (SAMPLE(?l) AS ?label) ?needle WHERE { ?e a dsi:Organisation ; rdfs:label ?l
        FILTER(CONTAINS(LCASE(STR(?l)), ?needle))
        FILTER NOT EXISTS { ?e dsi:hidden true } FILTER NOT EXISTS { ?e dsi:withdrawn ?w } }
        GROUP BY ?e ?needle ORDER BY STRLEN(?label) ?label LIMIT 10""", bind={"needle": ox.Literal(q)})
    return jsonify([{"iri": r["e"].value, "label": r["label"].value} for r in rows])


# -- moderation --------------------------------------------------------------------------------
@bp.route("/moderate/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        check_csrf()
        return moderator_auth.sign_in()  # throttled; a new session and CSRF token on success
    return moderator_auth.login_page()


@bp.post("/moderate/logout")
def logout():
    check_csrf()
    moderator_auth.end_session()  # copies of the cookie are refused from now on
    return redirect(url_for("submissions.login"), code=303)


@bp.get("/moderate")
@moderator_required
def queue():
    subs = get_subs()
    return render_template("moderate_queue.html", pending=subs.list("pending"),
                           decided=[s for s in reversed(subs.list(limit=10_000)) if s.status != "pending"][:20])


@bp.get("/moderate/<sid>")
@moderator_required
def detail(sid: str):
    kb, sub = get_kb(), get_subs().get(sid)
    warnings = json.loads(sub.report) if sub.report else []
    dups = moderation.duplicates(kb, sub)
    for d in dups:
        d["page"] = _page(kb, d["candidate"])
    diff = [{**d, "label": best_label(kb, ox.NamedNode(d["entity"])) or _named_in(sub, d["entity"]),
             "added": moderation.named(kb, d["added"]), "removed": moderation.named(kb, d["removed"])}
            for d in moderation.diff(kb, sub)]
    return render_template("moderate_detail.html", sub=sub, diff=diff,
                           dups=dups, warnings=warnings, summary=summary(sub),
                           raw=sub.raw.decode("utf-8", "replace"), links=_entity_links(sub))


@bp.post("/moderate/<sid>/accept")
@moderator_required
def accept(sid: str):
    check_csrf()
    moderation.accept(get_kb(), get_subs(), sid, session["moderator"])  # derived graph refreshed too
    return redirect(url_for("submissions.detail", sid=sid), code=303)


@bp.post("/moderate/<sid>/reject")
@moderator_required
def reject(sid: str):
    check_csrf()
    moderation.reject(get_subs(), sid, session["moderator"], request.form.get("reason", ""))
    return redirect(url_for("submissions.detail", sid=sid), code=303)


# -- links to other datasets and merges --------------------------------------------------------
LINK_TARGET = "wikidata"


@bp.get("/moderate/links")
@moderator_required
def link_queue():
    """The linker's proposals waiting for a decision (probable ones first), and recent decisions."""
    from kb.link import linkset

    kb = get_kb()
    graph = kb.graphs.linkset(LINK_TARGET)
    rows = linkset.links(kb, graph)
    decided = linkset.decisions(kb, graph)
    waiting = [r for r in rows if r["status"] is None and (r["entity"], r["item"]) not in decided]
    waiting.sort(key=lambda r: (r["predicate"] != linkset.CLOSE_MATCH, -(r["score"] or 0), r["entity"]))
    limit = min(max(request.args.get("limit", 200, type=int) or 200, 1), 2000)
    shown = waiting[:limit]
    for r in shown:
        r["label"] = best_label(kb, ox.NamedNode(r["entity"])) or r["entity"]
        r["page"] = _page(kb, r["entity"])
        r["probable"] = r["predicate"] == linkset.CLOSE_MATCH
    done = [{"entity": e, "label": best_label(kb, ox.NamedNode(e)) or e, "page": _page(kb, e), "item": i,
             "status": st} for (e, i), st in sorted(decided.items())[:50]]
    return render_template("moderate_links.html", links=shown, waiting=len(waiting),
                           decided=done, target=LINK_TARGET)


@bp.post("/moderate/links/decide")
@moderator_required
def link_decide():
    from kb.link import linkset

    check_csrf()
    kb = get_kb()
    entity, item = request.form.get("entity", "").strip(), request.form.get("item", "").strip()
    decision = request.form.get("decision", "")
    if not entity or not item:
        raise BadRequest("a decision needs the entity and the item it links to")
    linkset.decide(kb, kb.graphs.linkset(LINK_TARGET), entity, item, decision,
                   by=session["moderator"], reason=request.form.get("reason", ""))
    return redirect(url_for("submissions.link_queue"), code=303)


@bp.route("/moderate/merge", methods=["GET", "POST"])
@moderator_required
def merge_form():
    """Merge a duplicate into the entity that stays: the duplicate's URI then answers 301."""
    from kb.contribute.merge import merge

    kb, done = get_kb(), None
    if request.method == "POST":
        check_csrf()
        survivor = request.form.get("survivor", "").strip()
        merged = request.form.get("merged", "").strip()
        reason = request.form.get("reason", "").strip()
        if not reason:
            raise BadRequest("give a reason for the merge: it is kept with the merge's provenance")
        changed = merge(kb, survivor, merged, by=session["moderator"], reason=reason)
        done = {"survivor": survivor, "merged": merged, "changed": changed, "page": _page(kb, survivor)}
    return render_template("moderate_merge.html", done=done, form=request.form)
