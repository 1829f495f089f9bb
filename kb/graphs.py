"""Every named graph IRI is minted here, and only here.

Loaders name their target graph; dumps name theirs; the store's default graph is the union of all.
Each graph has a licence and a source recorded in the meta graph (see :func:`kb.store.KB.describe_graph`).
"""

from __future__ import annotations

import re

from kb.namespaces import Names

_PART = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


def _check(part: str) -> str:
    if not _PART.match(part):
        raise ValueError(f"not a valid graph name part: {part!r}")
    return part


class Graphs:
    """Named graphs of the knowledge base under one base IRI."""

    def __init__(self, names: Names):
        self.ns = names.graph_ns

    @property
    def ontology(self) -> str:
        return self.ns + "ontology"

    @property
    def shapes(self) -> str:
        return self.ns + "shapes"

    @property
    def curated(self) -> str:
        """Entities the project wrote itself (data/curated.ttl)."""
        return self.ns + "curated"

    @property
    def meta(self) -> str:
        """Descriptions of the graphs themselves: licence, source, provenance, generation."""
        return self.ns + "meta"

    @property
    def matches(self) -> str:
        """Cross-source matches (the same organisation in the 2013 and DSI4EU exports)."""
        return self.ns + "matches"

    @property
    def merges(self) -> str:
        """Moderators' merges of duplicate entities (dsi:mergedInto); kept apart so re-imports keep them."""
        return self.ns + "merges"

    @property
    def derived(self) -> str:
        """Statements derived from others (shortcuts, collaborations with counts)."""
        return self.ns + "derived"

    @property
    def partner_countries(self) -> str:
        """Projects' countries derived from their partner organisations (dsi:partnerCountry,
        kb/build/partner_countries.py): its own graph, so stated and derived places can be told apart."""
        return self.ns + "derived/partner-countries"

    @property
    def aligned(self) -> str:
        """Standard-vocabulary statements (schema.org, ORG, FOAF, ...) entailed by the ontology's
        alignment axioms (kb/link/align.py)."""
        return self.ns + "aligned"

    @property
    def network(self) -> str:
        """Figures of the network of organisations (degree, betweenness, communities, bridges),
        computed from shared projects (kb/publish/network.py)."""
        return self.ns + "network"

    def taxonomy(self, scheme: str) -> str:
        return self.ns + "taxonomy/" + _check(scheme)

    def source(self, name: str) -> str:
        """An import of a real source, e.g. ``dsi2013`` or ``dsi4eu``."""
        return self.ns + "import/" + _check(name)

    def submission(self, submission_id: str) -> str:
        return self.ns + "submission/" + _check(submission_id)

    def linkset(self, target: str) -> str:
        return self.ns + "linkset/" + _check(target)

    def kind(self, iri: str) -> str | None:
        """The first path segment of a graph IRI of ours ('import', 'linkset', ...), else None."""
        if not iri.startswith(self.ns):
            return None
        return iri[len(self.ns):].split("/", 1)[0]
