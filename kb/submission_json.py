"""The simple JSON shape of a submission (docs/submission.schema.json): checked with ``jsonschema``,
then turned into the triples the importers would have written for the same organisation or project
(places as ``{base}id/place/...``, concepts by slug or IRI, memberships as ``{project}#membership-...``).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pyoxigraph as ox

from kb.errors import BadRequest, SyntaxProblem, Unprocessable
from kb.submissions import DCTERMS, GEO, RDF, RDFS, XSD, slugify
from kb.terms import FieldProblem, iri, website

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "docs" / "submission.schema.json"


def load_json(raw: bytes) -> dict:
    """The simple JSON shape, parsed and checked against docs/submission.schema.json."""
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
    validator = jsonschema.Draft202012Validator(json_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        problem = Unprocessable("the JSON does not follow the submission schema (/api/submissions/schema): "
                                + "; ".join(f"{_json_path(e)}: {e.message}" for e in errors[:10]))
        problem.results = [{"field": _json_path(e), "path": _json_path(e), "severity": "Violation",
                            "message": e.message} for e in errors]
        raise problem
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


def _json_path(error) -> str:
    return "/".join(str(p) for p in error.absolute_path) or "(top level)"


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
    if value.startswith(("http://", "https://")):
        return iri(value, field)
    return iri(kb.names.concept(scheme, slugify(value) or "none"), field)


def _place(kb, value: str, within: str | None, triples: list, field: str) -> ox.NamedNode:
    """A place IRI for a country slug/label/IRI or a city (``{city}-{country}``); unknown places are
    described in the submission (a label and dsi:Place) so the page has a name to show."""
    if value.startswith(("http://", "https://")):
        return iri(value, field)
    slug = (slugify(value) or "unnamed") + (f"-{within}" if within else "")
    node = iri(kb.names.entity("place", slug), field)
    if not kb.ask("ASK { ?e ?p ?o }", bind={"e": node}):
        triples += [ox.Triple(node, ox.NamedNode(RDF + "type"), ox.NamedNode(kb.names.dsi("Place"))),
                    ox.Triple(node, ox.NamedNode(RDFS + "label"), ox.Literal(value.strip()))]
    return node


def json_to_triples(kb, data: dict, subject: str) -> list[ox.Triple]:
    """Triples of one organisation or project in the simple JSON shape, about ``subject``."""
    n = kb.names
    s = ox.NamedNode(subject)
    dsi = lambda term: ox.NamedNode(n.dsi(term))  # noqa: E731
    out = [ox.Triple(s, ox.NamedNode(RDF + "type"), dsi(data["type"].capitalize())),
           ox.Triple(s, ox.NamedNode(RDFS + "label"), ox.Literal(data["name"].strip()))]
    if data.get("description"):
        out.append(ox.Triple(s, ox.NamedNode(DCTERMS + "description"), ox.Literal(data["description"])))
    if data.get("website"):
        out.append(ox.Triple(s, dsi("website"), website(data["website"])))
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
    country = None
    if data.get("country"):
        country = _place(kb, data["country"], None, out, "country")
        out.append(ox.Triple(s, dsi("country"), country))
    if data.get("city"):
        within = n.parse_entity(country.value)[1] if country is not None and n.parse_entity(country.value) else None
        out.append(ox.Triple(s, dsi("city"), _place(kb, data["city"], within, out, "city")))
    for key, prop in (("latitude", "lat"), ("longitude", "long")):
        if data.get(key) is not None:
            out.append(ox.Triple(s, ox.NamedNode(GEO + prop), _lit(data[key], XSD + "decimal")))
    for partner in data.get("partners") or []:
        org = iri(partner["organisation"], "partners")
        role = slugify(partner.get("role") or "delivery-partner")
        parsed = n.parse_entity(org.value)
        org_slug = parsed[1] if parsed else slugify(org.value)
        m = iri(f"{subject}#membership-{org_slug}-{role}", "partners")
        out += [ox.Triple(m, ox.NamedNode(RDF + "type"), dsi("ActivityMembership")),
                ox.Triple(m, dsi("organisation"), org),
                ox.Triple(m, dsi("project"), s),
                ox.Triple(m, dsi("role"), _concept(kb, "role", role, "partners"))]
    return out
