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


def derive_partner_countries(kb) -> bool:
    """Rebuild graph/derived/partner-countries; True when it changed."""
    return kb.replace_graph(kb.graphs.partner_countries, partner_country_triples(kb))
