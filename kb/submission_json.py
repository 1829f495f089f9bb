"""The simple JSON shape of a submission (docs/submission.schema.json): checked with ``jsonschema``,
then turned into the triples the importers would have written for the same organisation or project
(places as ``{base}id/place/...``, concepts by slug or IRI, memberships as ``{project}#membership-...``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyoxigraph as ox

from kb.errors import BadRequest, SyntaxProblem, Unprocessable
from kb.submissions import DCTERMS, GEO, RDF, RDFS, XSD, slugify

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
    validator = jsonschema.Draft202012Validator(json_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        problem = Unprocessable("the JSON does not follow the submission schema (/api/submissions/schema): "
                                + "; ".join(f"{_json_path(e)}: {e.message}" for e in errors[:10]))
        problem.results = [{"field": _json_path(e), "path": _json_path(e), "severity": "Violation",
                            "message": e.message} for e in errors]
        raise problem
    return data


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


def _concept(kb, scheme: str, value: str) -> ox.NamedNode:
    if value.startswith(("http://", "https://")):
        return ox.NamedNode(value)
    return ox.NamedNode(kb.names.concept(scheme, slugify(value)))


def _place(kb, value: str, within: str | None, triples: list) -> ox.NamedNode:
    """A place IRI for a country slug/label/IRI or a city (``{city}-{country}``); unknown places are
    described in the submission (a label and dsi:Place) so the page has a name to show."""
    if value.startswith(("http://", "https://")):
        return ox.NamedNode(value)
    slug = slugify(value) + (f"-{within}" if within else "")
    node = ox.NamedNode(kb.names.entity("place", slug))
    if not kb.ask(f"ASK {{ <{node.value}> ?p ?o }}"):
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
        out.append(ox.Triple(s, dsi("website"), ox.NamedNode(data["website"].strip())))
    for key, prop in TEXT_FIELDS.items():
        values = data.get(key) or []
        for value in values if isinstance(values, list) else [values]:
            if str(value).strip():
                out.append(ox.Triple(s, dsi(prop), ox.Literal(str(value).strip())))
    for key, (prop, scheme) in CONCEPT_FIELDS.items():
        values = data.get(key) or []
        for value in values if isinstance(values, list) else [values]:
            out.append(ox.Triple(s, dsi(prop), _concept(kb, scheme, value)))
    for key in ("startDate", "endDate"):
        if data.get(key):
            out.append(ox.Triple(s, dsi(key), _lit(data[key], _date_type(data[key]))))
    country = None
    if data.get("country"):
        country = _place(kb, data["country"], None, out)
        out.append(ox.Triple(s, dsi("country"), country))
    if data.get("city"):
        within = n.parse_entity(country.value)[1] if country is not None and n.parse_entity(country.value) else None
        out.append(ox.Triple(s, dsi("city"), _place(kb, data["city"], within, out)))
    for key, prop in (("latitude", "lat"), ("longitude", "long")):
        if data.get(key) is not None:
            out.append(ox.Triple(s, ox.NamedNode(GEO + prop), _lit(data[key], XSD + "decimal")))
    for partner in data.get("partners") or []:
        org = partner["organisation"]
        role = slugify(partner.get("role") or "delivery-partner")
        parsed = n.parse_entity(org)
        org_slug = parsed[1] if parsed else slugify(org)
        m = ox.NamedNode(f"{subject}#membership-{org_slug}-{role}")
        out += [ox.Triple(m, ox.NamedNode(RDF + "type"), dsi("ActivityMembership")),
                ox.Triple(m, dsi("organisation"), ox.NamedNode(org)),
                ox.Triple(m, dsi("project"), s),
                ox.Triple(m, dsi("role"), _concept(kb, "role", role))]
    return out
