"""Controlled source values -> SKOS concepts, by reading the taxonomies (ontology/taxonomies/*.ttl).

Every real source spelling sits on its concept as prefLabel, altLabel, hiddenLabel or notation; a
value matches when its normalised form (casefold, accents stripped, punctuation collapsed) equals a
normalised label. A scheme whose taxonomy is not (yet) loaded falls back to the built-in spellings
below, minted under the scheme slugs of the team brief.
"""

from __future__ import annotations

from kb.importers.common import norm
from kb.slugs import slugify

# Built-in fallback: scheme -> concept slug -> source spellings (used only for schemes with no taxonomy).
FALLBACK: dict[str, dict[str, list[str]]] = {
    "organisation-type": {
        "business": ["business", "For-profit business"],
        "social-enterprise-charity-or-foundation": [
            "social-enterprise-charity-or-foundation",
            "Social enterprise, charity, foundation or other non-profit"],
        "grass-roots-organization-or-community-network": [
            "grass-roots-organization-or-community-network",
            "Grassroots organisation or community network"],
        "academia-and-research": ["academia-and-research", "Academia/Research organisation"],
        "government-and-public-sector": ["government-and-public-sector", "Government/Public Sector"],
    },
    "organisation-size": {slugify(v): [v] for v in (
        "0-5 people", "6-10 people", "11-25 people", "26-50 people", "51-100 people",
        "101-500 people", "501-1000 people", "over-1000 people")},
    "role": {r: [r] for r in ("sole-funder", "co-funder", "delivery-lead", "delivery-partner",
                              "evaluator", "advisory-group-member", "takes-part")},
    "area-of-society": {slugify(v): [v] for v in (
        "education and skills", "participation and democracy", "culture and arts",
        "health and wellbeing", "work and employment", "neighbourhood regeneration",
        "energy and environment", "finance and economy", "science")},
    "dsi-area": {slugify(v): [v] for v in (
        "open democracy", "open access", "new ways of making", "collaborative economy",
        "awareness networks", "funding acceleration and incubation")},
    "technology-focus": {slugify(v): [v] for v in (
        "open knowledge", "open networks", "open data", "open hardware")},
    "technology-method": {
        "social-networks-and-social-media": ["social networks", "social media",
                                             "Social networks and social media"],
        "crowdsourcing-crowdmapping-and-crowdfunding": [
            "crowdsourcing", "crowdmapping", "crowdfunding",
            "Crowdsourcing, crowdmapping and crowdfunding"],
        "peer-to-peer-networks": ["p2p distributed exchange networks", "Peer-to-peer networks",
                                  "online peer support"],
        "mobile-and-web-apps": ["mobile apps", "Mobile and web apps"],
        "open-source-technologies": ["open source", "Open-source technologies"],
        "online-marketplaces-and-noticeboards": ["online market place", "online notice board",
                                                 "Online marketplaces and noticeboards"],
        "online-learning-and-moocs": ["online learning models and moocs", "Online learning and MOOCs"],
        "sensors-and-internet-of-things": ["sensors and internet of things"],
        "big-data": ["big data"],
        "geotagging-gps-and-gis": ["geotagging", "Geotagging, GPS and GIS"],
        "digital-fabrication-and-3d-printing": ["3d printing", "digital fabrication",
                                                "Digital fabrication and 3D-printing"],
        "wearables-and-personal-monitoring": ["personal monitoring",
                                              "Wearables and personal monitoring"],
        "artificial-intelligence-and-machine-learning": [
            "machine learning", "Artificial intelligence and machine learning"],
        "digital-democracy-tools": ["e petitions", "Digital democracy tools"],
    },
    "activity-type": {slugify(v): [v] for v in (
        "delivering a web service", "education and training", "research project", "network",
        "incubators and accelerators", "maker and hacker spaces", "advocating and campaigning",
        "event", "advisory or expert body", "investment and funding", "other")},
    "quality-issue": {s: [s] for s in (
        "spam", "test-entry", "no-name", "placeholder-date", "impossible-coordinates",
        "outside-europe", "invalid-website", "unknown-reference")},
}


class ConceptIndex:
    """Normalised label -> concept IRI, per scheme slug."""

    def __init__(self, names, index: dict[str, dict[str, str]], loaded: set[str]):
        self.names = names
        self.index = index
        self.loaded = loaded  # schemes read from taxonomies (the rest use FALLBACK)

    @classmethod
    def from_store(cls, kb) -> "ConceptIndex":
        rows = kb.select("""
            SELECT ?c ?scheme ?label WHERE {
              ?c skos:inScheme ?scheme .
              { ?c skos:prefLabel ?label } UNION { ?c skos:altLabel ?label }
              UNION { ?c skos:hiddenLabel ?label } UNION { ?c skos:notation ?label }
            }""")
        index: dict[str, dict[str, str]] = {}
        ns = kb.names.concept_ns
        for row in sorted(rows, key=lambda r: (r["c"].value, r["label"].value)):
            scheme_iri = row["scheme"].value
            if not scheme_iri.startswith(ns):
                continue
            scheme = scheme_iri[len(ns):].strip("/")
            concept = row["c"].value
            by_label = index.setdefault(scheme, {})
            by_label.setdefault(norm(row["label"].value), concept)
            by_label.setdefault(norm(concept.rsplit("/", 1)[-1]), concept)
        loaded = set(index)
        for scheme, concepts in FALLBACK.items():
            if scheme in loaded:
                continue
            by_label = index.setdefault(scheme, {})
            for slug, spellings in concepts.items():
                for spelling in [slug, *spellings]:
                    by_label.setdefault(norm(spelling), kb.names.concept(scheme, slug))
        return cls(kb.names, index, loaded)

    def lookup(self, scheme: str, value: str) -> str | None:
        return self.index.get(scheme, {}).get(norm(value))

    def find(self, schemes: tuple[str, ...], value: str) -> tuple[str, str] | None:
        """(scheme, concept IRI) of the first scheme in ``schemes`` that knows ``value``."""
        for scheme in schemes:
            iri = self.lookup(scheme, value)
            if iri:
                return scheme, iri
        return None

    def quality(self, slug: str) -> str:
        """The quality-issue concept for one of our issue slugs."""
        return self.lookup("quality-issue", slug) or self.names.concept("quality-issue", slug)


# Which property a scheme's concepts are attached with.
PROPERTY = {
    "organisation-type": "organisationType", "organisation-size": "organisationSize",
    "area-of-society": "areaOfSociety", "dsi-area": "dsiArea", "technology-focus": "technologyFocus",
    "technology-method": "technologyMethod", "activity-type": "activityType",
    "support-type": "supportType", "role": "role", "quality-issue": "qualityIssue",
}
