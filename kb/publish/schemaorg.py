"""The schema.org JSON-LD a page embeds for search engines and generic clients.

One node per page in the namespace schema.org publishes (``https://schema.org/``, the one graph/aligned
uses), with an inline context so that it parses offline (the remote context maps to ``http://``). Each
kind gets its schema.org type: Organization, Project, Place, Event, Person, DefinedTerm(Set).
"""

from __future__ import annotations

from kb.publish.describe import Description
from kb.namespaces import STANDARD_PREFIXES as P

SDO = P["schema"]
CONTEXT = {"@vocab": SDO, "url": {"@type": "@id"}, "sameAs": {"@type": "@id"}}
KINDS = (("Organisation", "Organization"), ("Project", "Project"), ("Activity", "Project"),
         ("Event", "Event"), ("Place", "Place"), ("Person", "Person"), ("Funding", "MonetaryGrant"))


def _http(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def kind(desc: Description, names) -> str:
    """The schema.org type of the described resource."""
    types = set(desc.types.get(desc.iri, []))
    for ours, theirs in KINDS:
        if names.dsi(ours) in types:
            return theirs
    if P["skos"] + "ConceptScheme" in types:
        return "DefinedTermSet"
    if P["skos"] + "Concept" in types or desc.path.startswith("concept/"):
        return "DefinedTerm"
    return "Thing"


def _ref(desc: Description, iri: str, type_: str) -> dict:
    out = {"@id": iri, "@type": type_}
    if desc.labels.get(iri):
        out["name"] = desc.labels[iri]
    return out


def page_jsonld(desc: Description, names, *, description: str | None = None) -> dict:
    """The page's schema.org node (``description``: the text the page shows, when it has one)."""
    d = names.dsi
    type_ = kind(desc, names)
    data = {"@context": CONTEXT, "@type": type_, "@id": desc.iri, "name": desc.label() or desc.iri}
    if description:
        data["description"] = description
    site = desc.first(d("website"))
    if site is not None and _http(site.value):
        data["url"] = site.value
    same = sorted({v.value for v in desc.values(P["owl"] + "sameAs") if _http(v.value)})
    if same:
        data["sameAs"] = same
    country, city = desc.first(d("country")), desc.first(d("city"))
    if type_ == "Place":
        if country is not None and country.value != desc.iri:
            data["containedInPlace"] = _ref(desc, country.value, "Place")
    elif type_ in ("Organization", "Project", "Event", "Person") and (country is not None or city is not None):
        data["location"] = [_ref(desc, p.value, "Place") for p in (city, country) if p is not None]
        address = {"@type": "PostalAddress"}
        if country is not None:
            address["addressCountry"] = desc.labels.get(country.value, country.value.rsplit("/", 1)[-1])
        if city is not None:
            address["addressLocality"] = desc.labels.get(city.value, city.value.rsplit("/", 1)[-1]).split(",")[0]
        data["address"] = address
    lat, lon = desc.first(P["geo"] + "lat"), desc.first(P["geo"] + "long")
    if lat is not None and lon is not None and type_ != "DefinedTerm":
        data["geo"] = {"@type": "GeoCoordinates", "latitude": lat.value, "longitude": lon.value}
    start = desc.first(d("startDate"))
    if start is not None and type_ in ("Organization", "Project", "Event"):
        data["foundingDate" if type_ == "Organization" else "startDate"] = start.value
    if type_ == "Project":
        for key, prop in (("funder", SDO + "funder"), ("member", SDO + "member")):
            refs = [_ref(desc, v.value, "Organization") for v in desc.values(prop) if v.value in desc.labels]
            if refs:
                data[key] = refs
    if type_ == "DefinedTerm":
        scheme = desc.first(P["skos"] + "inScheme")
        if scheme is not None:
            data["inDefinedTermSet"] = _ref(desc, scheme.value, "DefinedTermSet")
        notation = desc.first(P["skos"] + "notation")
        if notation is not None:
            data["termCode"] = notation.value
    return data
