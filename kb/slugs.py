"""Stable slugs for entity IRIs: ASCII, lowercase, hyphens, de-duplicated, never changed on re-import.

The slug registry is the data itself: every imported entity records its source key (the legacy
``http://data.digitalsocial.eu/id/...`` URI as ``owl:sameAs``, or ``dcterms:identifier
"dsi4eu:organisation:336"``), so before minting, an importer reads back which IRI each key already
has. New keys are minted in a fixed order (base slug, then key), so input row order never matters.
"""

from __future__ import annotations

import re

from anyascii import anyascii
import pyoxigraph as ox

from kb.namespaces import LEGACY_ID

MAX_LENGTH = 60
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def slugify(text: str, *, fallback: str = "unnamed") -> str:
    """``"Fab Lab Barcelona / IAAC"`` -> ``"fab-lab-barcelona-iaac"``; transliterated to ASCII."""
    ascii_text = anyascii(text or "").lower().replace("'", "").replace("&", " and ")
    slug = _NON_ALNUM.sub("-", ascii_text).strip("-")
    if len(slug) > MAX_LENGTH:
        cut = slug[:MAX_LENGTH]
        slug = cut.rsplit("-", 1)[0] if "-" in cut[MAX_LENGTH // 2:] else cut
        slug = slug.strip("-")
    return slug or fallback


class SlugRegistry:
    """Source key -> entity IRI, read back from the store, plus the slugs already taken per type."""

    def __init__(self, names, assigned: dict[str, str] | None = None, taken: set[str] | None = None):
        self.names = names
        self.assigned: dict[str, str] = dict(assigned or {})
        self.taken: set[str] = set(taken or ())
        self.taken.update(self.assigned.values())

    @classmethod
    def from_store(cls, kb, *, exclude_graphs: tuple[str, ...] = ()) -> "SlugRegistry":
        """Keys and IRIs of every entity already in the store (all graphs but ``exclude_graphs``
        for the taken set; keys are read from every graph so an entity keeps its IRI)."""
        id_ns = kb.names.id_ns
        bind = {"legacy": ox.Literal(LEGACY_ID), "idns": ox.Literal(id_ns)}
        rows = kb.select("""
            SELECT ?e ?k ?legacy ?idns WHERE {
              { ?e owl:sameAs ?k FILTER(STRSTARTS(STR(?k), ?legacy)) }
              UNION { ?e dcterms:identifier ?k FILTER(STRSTARTS(STR(?k), "dsi4eu:")) }
              FILTER(STRSTARTS(STR(?e), ?idns))
            }""", bind=bind)
        assigned: dict[str, str] = {}
        for row in sorted(rows, key=lambda r: (r["k"].value, r["e"].value)):
            assigned.setdefault(row["k"].value, row["e"].value)
        taken_rows = kb.select("""
            SELECT DISTINCT ?e ?idns WHERE { ?e a ?type FILTER(STRSTARTS(STR(?e), ?idns)) }""",
                               bind={"idns": ox.Literal(id_ns)})
        taken = {r["e"].value for r in taken_rows if "#" not in r["e"].value}
        return cls(kb.names, assigned, taken)

    def lookup(self, *keys: str) -> str | None:
        """The IRI an entity already has under any of its keys."""
        for key in keys:
            if key in self.assigned:
                return self.assigned[key]
        return None

    def mint_all(self, type_: str, wanted: list[tuple[str, str]]) -> dict[str, str]:
        """IRIs for ``(key, name)`` pairs: known keys keep theirs; new ones get ``slugify(name)``,
        then ``-2``, ``-3`` ... in the order (base slug, key), independent of input order."""
        out: dict[str, str] = {}
        new = []
        for key, name in wanted:
            known = self.assigned.get(key)
            if known:
                out[key] = known
            else:
                new.append((slugify(name), key))
        for base, key in sorted(set(new)):
            if key in out:
                continue
            iri = self._free(type_, base)
            self.assigned[key] = iri
            self.taken.add(iri)
            out[key] = iri
        return out

    def bind(self, key: str, iri: str) -> None:
        """Record that ``key`` belongs to an existing entity (a cross-source match)."""
        self.assigned[key] = iri

    def _free(self, type_: str, base: str) -> str:
        n = 1
        while True:
            slug = base if n == 1 else f"{base}-{n}"
            iri = self.names.entity(type_, slug)
            if iri not in self.taken:
                return iri
            n += 1


def slug_of(iri: str) -> str:
    """The last path segment of an entity IRI."""
    return iri.rstrip("/").rsplit("/", 1)[-1]
