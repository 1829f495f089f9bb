"""Targets of the linker: where candidates come from and which of their classes fit our types.

A target is data, not code: its namespace, the SPARQL it is asked (Wikidata-shaped: ``wdt:P856``
official website, ``wdt:P17`` country, ``wdt:P31/wdt:P279*`` class), and per kind of our entity the
classes that confirm or exclude a candidate. Adding a dataset with a Wikidata-like SPARQL endpoint is
adding a :class:`Target`; the linker itself does not change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyoxigraph as ox

from kb.terms import sparql_term

WD = "http://www.wikidata.org/entity/"

# Classes whose membership (through P31/P279*) we ask about, by Q-id.
ORGANIZATION, HUMAN, COUNTRY, CITY, SETTLEMENT = "Q43229", "Q5", "Q6256", "Q515", "Q486972"
PROJECT, WEBSITE, SOFTWARE, EVENT = "Q170584", "Q35127", "Q7397", "Q1656682"
FILM, DISAMBIGUATION, ADMIN_AREA, SOVEREIGN_STATE = "Q11424", "Q4167410", "Q56061", "Q3624078"
ASKED_CLASSES = (ORGANIZATION, HUMAN, COUNTRY, CITY, SETTLEMENT, PROJECT, WEBSITE, SOFTWARE, EVENT,
                 FILM, DISAMBIGUATION, ADMIN_AREA, SOVEREIGN_STATE)


@dataclass(frozen=True)
class Kind:
    """What a candidate must (``fits``) and must not (``excludes``) be, for one kind of our entity."""

    fits: frozenset
    excludes: frozenset


KINDS = {
    "organisation": Kind(frozenset({ORGANIZATION}),
                         frozenset({HUMAN, COUNTRY, CITY, SETTLEMENT, FILM, DISAMBIGUATION, ADMIN_AREA})),
    "project": Kind(frozenset({PROJECT, WEBSITE, SOFTWARE, EVENT}),
                    frozenset({HUMAN, COUNTRY, CITY, SETTLEMENT, FILM, DISAMBIGUATION, ADMIN_AREA})),
    "country": Kind(frozenset({COUNTRY, SOVEREIGN_STATE}),
                    frozenset({HUMAN, ORGANIZATION, CITY, FILM, DISAMBIGUATION})),
    "city": Kind(frozenset({CITY, SETTLEMENT}),
                 frozenset({HUMAN, ORGANIZATION, COUNTRY, SOVEREIGN_STATE, FILM, DISAMBIGUATION})),
}

# Languages a name may carry at the target, by the (folded) country it is in. English and 'mul'
# (Wikidata's language-independent labels) are always asked.
COUNTRY_LANGUAGES = {
    "united kingdom": ["en"], "ireland": ["en", "ga"], "germany": ["de"], "austria": ["de"],
    "switzerland": ["de", "fr", "it"], "france": ["fr"], "belgium": ["fr", "nl"], "luxembourg": ["fr", "de"],
    "netherlands": ["nl"], "spain": ["es", "ca"], "italy": ["it"], "portugal": ["pt"], "greece": ["el"],
    "poland": ["pl"], "sweden": ["sv"], "denmark": ["da"], "finland": ["fi", "sv"], "norway": ["nb", "no"],
    "romania": ["ro"], "turkey": ["tr"], "czech republic": ["cs"], "czechia": ["cs"], "hungary": ["hu"],
    "slovenia": ["sl"], "slovakia": ["sk"], "croatia": ["hr"], "estonia": ["et"], "latvia": ["lv"],
    "lithuania": ["lt"], "bulgaria": ["bg"], "serbia": ["sr"], "iceland": ["is"], "cyprus": ["el"],
    "malta": ["mt", "en"],
}


@dataclass(frozen=True)
class Target:
    """A dataset we link to through a Wikidata-shaped SPARQL endpoint."""

    name: str
    namespace: str
    title: str
    website_property: str = "http://www.wikidata.org/prop/direct/P856"
    country_property: str = "http://www.wikidata.org/prop/direct/P17"
    instance_of: str = "http://www.wikidata.org/prop/direct/P31"
    subclass_of: str = "http://www.wikidata.org/prop/direct/P279"
    kinds: dict = field(default_factory=lambda: KINDS)

    def item(self, qid: str) -> str:
        return self.namespace + qid

    def website_query(self, sites: list[str]) -> str:
        """Items with one of these websites (sites that are not valid IRIs are left out)."""
        nodes = [node for node in map(_node, sites) if node is not None]
        return (f"SELECT DISTINCT ?item ?site WHERE {{ VALUES ?site {{ {sparql_term(nodes)} }} "
                f"?item {sparql_term(ox.NamedNode(self.website_property))} ?site . }}")

    def label_query(self, literals: list[tuple[str, str]]) -> str:
        names = [ox.Literal(text, language=lang) for text, lang in literals]
        return (f"SELECT DISTINCT ?item ?name WHERE {{ VALUES ?name {{ {sparql_term(names)} }} "
                "{ ?item <http://www.w3.org/2000/01/rdf-schema#label> ?name } UNION "
                "{ ?item <http://www.w3.org/2004/02/skos/core#altLabel> ?name } }")

    def details_query(self, items: list[str], languages: list[str]) -> str:
        """One row per fact about each candidate: labels, aliases, websites, countries, classes."""
        nodes = [ox.NamedNode(i) for i in items]
        langs = [ox.Literal(lang) for lang in languages]
        classes = [ox.NamedNode(self.item(q)) for q in ASKED_CLASSES]
        website, country = ox.NamedNode(self.website_property), ox.NamedNode(self.country_property)
        isa, sub = ox.NamedNode(self.instance_of), ox.NamedNode(self.subclass_of)
        return f"""SELECT ?item ?p ?v ?vl WHERE {{
  VALUES ?item {{ {sparql_term(nodes)} }}
  {{ VALUES ?lang {{ {sparql_term(langs)} }} ?item <http://www.w3.org/2000/01/rdf-schema#label> ?v BIND("label" AS ?p)
     FILTER(LANG(?v) = ?lang) }}
  UNION {{ VALUES ?lang {{ {sparql_term(langs)} }} ?item <http://www.w3.org/2004/02/skos/core#altLabel> ?v
           BIND("alt" AS ?p) FILTER(LANG(?v) = ?lang) }}
  UNION {{ ?item {sparql_term(website)} ?v BIND("site" AS ?p) }}
  UNION {{ ?item {sparql_term(country)} ?v BIND("country" AS ?p)
           OPTIONAL {{ ?v <http://www.w3.org/2000/01/rdf-schema#label> ?vl FILTER(LANG(?vl) = "en") }} }}
  UNION {{ VALUES ?v {{ {sparql_term(classes)} }} ?item {sparql_term(isa)}/{sparql_term(sub)}* ?v BIND("isa" AS ?p) }}
}}"""


def _node(iri: str) -> ox.NamedNode | None:
    try:
        return ox.NamedNode(iri)
    except ValueError:
        return None


TARGETS = {"wikidata": Target("wikidata", WD, "Wikidata")}
