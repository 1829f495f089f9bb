"""The simple JSON shape of a submission (docs/submission.schema.json): checked with ``jsonschema``,
then turned into the triples the importers would have written for the same organisation or project
(places as ``{base}id/place/...``, concepts by slug or IRI, memberships as ``{project}#membership-...``).
"""

from __future__ import annotations

import json
import math
import re

import pyoxigraph as ox

from kb.errors import BadRequest, SyntaxProblem
from kb.settings import DATA_DIR
from kb.contribute.submission_messages import LABELS, Problems, normalise, schema_result, typed
from kb.contribute.submission_messages import problem as field_problem
from kb.contribute.queue import DCTERMS, GEO, RDF, RDFS, XSD, slugify
from kb.terms import FieldProblem, iri, website

SCHEMA_PATH = DATA_DIR / "submission.schema.json"


def load_json(raw: bytes, deferred: list | None = None) -> dict:
    """The simple JSON shape, parsed, read as people type (kb.submission_messages.normalise) and checked
    against docs/submission.schema.json. With ``deferred``, values that cannot be read are left out
    and their problems added there, so that the shapes can report on the rest in the same answer."""
    import jsonschema

    try:
        data = json.loads(raw)
    except UnicodeDecodeError:
        raise BadRequest("the body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        problem = SyntaxProblem(f"the body does not parse as JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}")
        problem.line, problem.column = exc.lineno, exc.colno
        raise problem from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise BadRequest(f"the body holds a value JSON cannot read here: {str(exc)[:200]}") from None
    except RecursionError:  # kb.nesting refuses deep bodies first; this is the last line of defence
        raise BadRequest("the body nests too deep") from None
    _check_text(data, "")
    problems = normalise(data)  # comma decimals, websites without a scheme, one-item lists ...
    early = list(problems)
    if not isinstance(data, dict):
        raise Problems([field_problem("(top level)", "Send one JSON object: an organisation, a project or a withdrawal")])
    branch = "withdrawal" if "withdraw" in data else "entity"
    schema = json_schema()
    validator = jsonschema.Draft202012Validator({"$ref": f"#/$defs/{branch}", "$defs": schema["$defs"]})
    seen = {p["field"] for p in problems}
    for field in seen:
        data.pop(field, None)
    for error in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        result = schema_result(error, data)
        if result["field"] not in seen:  # one message per field: the first says enough
            seen.add(result["field"])
            problems.append(result)
    if len(problems) > len(early) or (problems and deferred is None):  # the schema's: no triples without it
        raise Problems(problems)
    if deferred is not None:
        deferred.extend(problems)
    return data


def _check_text(value, path: str) -> None:
    """Every string (key or value) must be encodable text: a lone surrogate (``"\\ud800"``) is a
    JSON escape no RDF term or UTF-8 file can hold (a 400 naming the field)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise FieldProblem(path or "(top level)", "holds a lone surrogate escape (such as \\ud800): "
                               "send the character itself or a valid surrogate pair", status=400) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, path)
            _check_text(item, f"{path}/{key}" if path else key)
    elif isinstance(value, list):
        for n, item in enumerate(value):
            _check_text(item, f"{path}/{n}" if path else str(n))
    elif isinstance(value, float) and not math.isfinite(value):  # NaN, Infinity: JSON extensions
        raise FieldProblem(path or "(top level)", "is not a finite number", status=400)


_SCHEMA: dict | None = None


def json_schema() -> dict:
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return _SCHEMA


CONCEPT_FIELDS = {  # JSON field -> (dsi property, concept scheme)
    "organisationType": ("organisationType", "organisation-type"),
    "organisationSize": ("organisationSize", "organisation-size"),
    "activityType": ("activityType", "activity-type"),
    "areasOfSociety": ("areaOfSociety", "area-of-society"),
    "dsiAreas": ("dsiArea", "dsi-area"),
    "technologyFocus": ("technologyFocus", "technology-focus"),
    "technologyMethod": ("technologyMethod", "technology-method"),
    "supportTypes": ("supportType", "support-type"),
}
TEXT_FIELDS = {"shortDescription": "shortDescription", "tags": "tag", "whoWeHelp": "whoWeHelp",
               "twitter": "twitter", "socialImpact": "socialImpact"}


def _lit(value, datatype: str | None = None) -> ox.Literal:
    return ox.Literal(str(value), datatype=ox.NamedNode(datatype)) if datatype else ox.Literal(str(value))


def _date_type(value: str) -> str:
    return XSD + ("gYear" if re.fullmatch(r"\d{4}", value) else "date")


def _concept(kb, scheme: str, value: str, field: str) -> ox.NamedNode:
    """A concept by IRI or slug; an unusable value is a plain problem on its field."""
    try:
        if value.startswith(("http://", "https://")):
            return iri(value, field)
        return iri(kb.names.concept(scheme, slugify(value) or "none"), field)
    except FieldProblem:
        raise Problems([field_problem(field, f"Choose the {LABELS.get(field, field)} from the list")]) from None


def _places(kb, data: dict, s: ox.NamedNode, out: list) -> list[dict]:
    """dsi:country and dsi:city as real places (kb.places): an existing place, or a new one described
    here (dsi:Place, label, country); what names no place is a problem with suggestions."""
    from kb.index import places

    found, problems = None, []
    dsi = lambda term: ox.NamedNode(kb.names.dsi(term))  # noqa: E731
    place = lambda node, label: [ox.Triple(node, ox.NamedNode(RDF + "type"), dsi("Place")),  # noqa: E731
                                 ox.Triple(node, ox.NamedNode(RDFS + "label"), ox.Literal(label))]
    if data.get("country"):
        try:
            found = places.country(kb, data["country"])
        except places.PlaceError as exc:
            maybe = f" (did you mean {', '.join(exc.suggestions)}?)" if exc.suggestions else ""
            problems.append(field_problem("country", "Choose a country from the list: we know no country called "
                                    + data["country"][:60] + maybe if typed(data["country"])
                                    else "Choose a country from the list" + maybe))
        else:
            node = ox.NamedNode(found.iri)
            out.append(ox.Triple(s, dsi("country"), node))
            if not found.existing:
                out.extend(place(node, found.name))
    city = data.get("city") or ""
    if city.startswith(("http://", "https://")):  # a place IRI: ours and known, else no city
        if city.startswith(kb.names.id_ns + "place/") and city in places._index(kb).labels:
            out.append(ox.Triple(s, dsi("city"), ox.NamedNode(city)))
        else:
            problems.append(field_problem("city", "Give the name of a city or town"))
    elif city and not (data.get("country") and found is None):
        try:
            town = places.city(kb, city, found)
        except places.PlaceError:
            problems.append(field_problem("city", "Give the name of a city or town" + typed(data["city"])))
        else:
            node = ox.NamedNode(town.iri)
            out.append(ox.Triple(s, dsi("city"), node))
            if not town.existing:
                out.extend(place(node, town.label))
                if found is not None:
                    out.append(ox.Triple(node, dsi("country"), ox.NamedNode(found.iri)))
    return problems


def json_to_triples(kb, data: dict, subject: str, deferred: list | None = None) -> list[ox.Triple]:
    """Triples of one organisation or project in the simple JSON shape, about ``subject``; with
    ``deferred``, places and partners that cannot be used are left out and reported there."""
    n = kb.names
    s = ox.NamedNode(subject)
    dsi = lambda term: ox.NamedNode(n.dsi(term))  # noqa: E731
    out = [ox.Triple(s, ox.NamedNode(RDF + "type"), dsi(data["type"].capitalize())),
           ox.Triple(s, ox.NamedNode(RDFS + "label"), ox.Literal(data["name"].strip()))]
    if data.get("description"):
        out.append(ox.Triple(s, ox.NamedNode(DCTERMS + "description"), ox.Literal(data["description"])))
    if data.get("website"):
        try:
            out.append(ox.Triple(s, dsi("website"), website(data["website"])))
        except FieldProblem:
            raise Problems([field_problem("website", "Give the website's address, such as www.example.org")]) from None
    for key, prop in TEXT_FIELDS.items():
        values = data.get(key) or []
        for value in values if isinstance(values, list) else [values]:
            if str(value).strip():
                out.append(ox.Triple(s, dsi(prop), ox.Literal(str(value).strip())))
    for key, (prop, scheme) in CONCEPT_FIELDS.items():
        values = data.get(key) or []
        for value in values if isinstance(values, list) else [values]:
            out.append(ox.Triple(s, dsi(prop), _concept(kb, scheme, value, key)))
    for key in ("startDate", "endDate"):
        if data.get(key):
            out.append(ox.Triple(s, dsi(key), _lit(data[key], _date_type(data[key]))))
    problems = _places(kb, data, s, out)
    for key, prop in (("latitude", "lat"), ("longitude", "long")):
        if data.get(key) is not None:
            out.append(ox.Triple(s, ox.NamedNode(GEO + prop), _lit(data[key], XSD + "decimal")))
    for partner in data.get("partners") or []:
        try:
            org = iri(partner["organisation"], "partners")
        except FieldProblem:
            problems.append(field_problem("partners", "Choose each partner from the suggestions"))
            continue
        role = slugify(partner.get("role") or "delivery-partner")
        parsed = n.parse_entity(org.value)
        org_slug = parsed[1] if parsed else slugify(org.value)
        m = iri(f"{subject}#membership-{org_slug}-{role}", "partners")
        out += [ox.Triple(m, ox.NamedNode(RDF + "type"), dsi("ActivityMembership")),
                ox.Triple(m, dsi("organisation"), org),
                ox.Triple(m, dsi("project"), s),
                ox.Triple(m, dsi("role"), _concept(kb, "role", role, "partners"))]
    if problems and deferred is None:
        raise Problems(problems)
    if deferred is not None:
        deferred.extend(problems)
    return out
