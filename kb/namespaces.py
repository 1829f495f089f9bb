"""IRIs and prefixes: one prefix map feeds Turtle output, the SPARQL prologue, JSON-LD and pages.

Everything the knowledge base mints lives under one configurable base (``DSIKB_BASE_URI``). Files in
the repository are written against :data:`kb.settings.DEFAULT_BASE_URI`; :func:`rebase` moves them.
"""

from __future__ import annotations

import re
from functools import lru_cache

from kb.settings import DEFAULT_BASE_URI
from kb.vocab import TERMS

ENTITY_TYPES = ("organisation", "project", "activity", "person", "place", "event")
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

# Legacy namespaces of the original DSI linked data (2013, Swirrl).
LEGACY_ID = "http://data.digitalsocial.eu/id/"
LEGACY_DEF = "http://data.digitalsocial.eu/def/ontology/"
LEGACY_CONCEPT = "http://data.digitalsocial.eu/def/concept/"

STANDARD_PREFIXES = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "dcterms": "http://purl.org/dc/terms/",
    "dcat": "http://www.w3.org/ns/dcat#",
    "void": "http://rdfs.org/ns/void#",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "schema": "https://schema.org/",
    "org": "http://www.w3.org/ns/org#",
    "prov": "http://www.w3.org/ns/prov#",
    "geo": "http://www.w3.org/2003/01/geo/wgs84_pos#",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "vann": "http://purl.org/vocab/vann/",
    "sh": "http://www.w3.org/ns/shacl#",
    "sd": "http://www.w3.org/ns/sparql-service-description#",
    "frapo": "http://purl.org/cerif/frapo/",
    "wd": "http://www.wikidata.org/entity/",
    "wdt": "http://www.wikidata.org/prop/direct/",
    "legacy": LEGACY_DEF,
}


class Names:
    """The IRIs minted under one base: entities, concepts, ontology terms, shapes, graphs."""

    def __init__(self, base: str = DEFAULT_BASE_URI):
        self.base = base
        self.dsi_ns = base + "def/dsi#"
        self.id_ns = base + "id/"
        self.concept_ns = base + "id/concept/"
        self.graph_ns = base + "graph/"
        self.shapes = base + "def/shapes"
        self.ontology = base + "def/dsi"
        self.dataset = base + "dataset"

    def dsi(self, term: str) -> str:
        """IRI of an ontology term; unknown terms raise (a closed namespace)."""
        if term not in TERMS:
            raise AttributeError(f"dsi:{term} is not a term of the DSI ontology (kb/vocab.py)")
        return self.dsi_ns + term

    def entity(self, type_: str, slug: str) -> str:
        if type_ not in ENTITY_TYPES:
            raise ValueError(f"unknown entity type {type_!r}; one of {', '.join(ENTITY_TYPES)}")
        if not SLUG_RE.match(slug):
            raise ValueError(f"not a valid slug: {slug!r}")
        return f"{self.id_ns}{type_}/{slug}"

    def concept(self, scheme: str, slug: str) -> str:
        return f"{self.concept_ns}{scheme}/{slug}"

    def scheme(self, scheme: str) -> str:
        return f"{self.concept_ns}{scheme}"

    def parse_entity(self, iri: str) -> tuple[str, str] | None:
        """(type, slug) of an entity IRI under this base, else None."""
        if not iri.startswith(self.id_ns):
            return None
        parts = iri[len(self.id_ns):].split("/")
        if len(parts) == 2 and parts[0] in ENTITY_TYPES and SLUG_RE.match(parts[1]):
            return parts[0], parts[1]
        return None

    def prefixes(self) -> dict[str, str]:
        """The project's prefix map, base-dependent prefixes first."""
        return {
            "dsi": self.dsi_ns,
            "dsid": self.id_ns,
            "concept": self.concept_ns,
            "graph": self.graph_ns,
            **STANDARD_PREFIXES,
        }

    def sparql_prologue(self) -> str:
        return "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in self.prefixes().items())

    def turtle_prefixes(self) -> str:
        return "".join(f"@prefix {p}: <{ns}> .\n" for p, ns in self.prefixes().items())


@lru_cache(maxsize=8)
def names(base: str = DEFAULT_BASE_URI) -> Names:
    return Names(base)


def rebase(text: str, base: str) -> str:
    """Move RDF text written against the default base to ``base`` (identity for the default)."""
    if base == DEFAULT_BASE_URI:
        return text
    return text.replace(DEFAULT_BASE_URI, base)
