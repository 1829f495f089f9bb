"""Where a project happens, derived from who does it: ``?project dsi:partnerCountry ?country`` for
every country one of its partner organisations (any role) is based in.

Most projects state no country (the 2013 mapping recorded places on organisations only), so a
"projects in the Netherlands" list needs this rule to be useful. The ontology states it as an OWL 2
property chain (``dsi:partnerCountry owl:propertyChainAxiom ([owl:inverseOf dsi:takesPartIn]
dsi:country)``); flagged (hidden) and withdrawn organisations lend no country. The statements live in
their own named graph, ``graph/derived/partner-countries``, so stated and derived places stay apart.
"""

from __future__ import annotations

import pyoxigraph as ox

TITLE = ("Countries of projects derived from their partner organisations "
         "(dsi:partnerCountry, the property chain stated in the ontology)")

# The rule, as a CONSTRUCT anyone can run against /sparql (docs/ontology.md quotes it).
RULE = """CONSTRUCT { ?project dsi:partnerCountry ?country } WHERE {
  ?membership dsi:project ?project ; dsi:organisation ?org .
  ?project a dsi:Project .
  ?org dsi:country ?country .
  FILTER NOT EXISTS { ?org dsi:hidden true }
  FILTER NOT EXISTS { ?org dsi:withdrawn ?when }
}"""


def partner_country_triples(kb) -> set[ox.Triple]:
    """The rule's conclusions over the named graphs (never over graph/derived/partner-countries
    itself: the rule reads only memberships and organisations' stated countries)."""
    out: set[ox.Triple] = set()
    for triple in kb.query(RULE):
        if isinstance(triple.subject, ox.NamedNode) and isinstance(triple.object, ox.NamedNode):
            out.add(triple)
    return out


def of_project(kb, project: ox.NamedNode) -> set[ox.Triple]:
    """The rule's conclusions about one project, from quad patterns (what kb/build/incremental.py
    recomputes after a small write): the same as :func:`partner_country_triples` restricted to it."""
    d = lambda name: ox.NamedNode(kb.names.dsi(name))  # noqa: E731
    rdf_type = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
    if not isinstance(project, ox.NamedNode) or not _any(kb.quads(project, rdf_type, d("Project"), None)):
        return set()
    out: set[ox.Triple] = set()
    for m in {q.subject for q in kb.quads(None, d("project"), project, None)}:
        for org in {q.object for q in kb.quads(m, d("organisation"), None, None)}:
            if isinstance(org, ox.Literal) or _any(kb.quads(org, d("hidden"), ox.Literal(True), None)) \
                    or _any(kb.quads(org, d("withdrawn"), None, None)):
                continue
            out.update(ox.Triple(project, d("partnerCountry"), q.object) for q in kb.quads(org, d("country"), None, None)
                       if isinstance(q.object, ox.NamedNode))
    return out


def _any(quads) -> bool:
    return next(iter(quads), None) is not None


def derive_partner_countries(kb) -> bool:
    """Rebuild graph/derived/partner-countries; True when it changed."""
    return kb.replace_graph(kb.graphs.partner_countries, partner_country_triples(kb))
