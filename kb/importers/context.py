"""What one import run works with: the graph being built, the writer, concepts, slugs and the report."""

from __future__ import annotations

import pyoxigraph as ox

from kb.importers.common import (RDF_TYPE, TRUE, Builder, clean_text, outside_europe, placeholder,
                                 placeholder_name, placeholder_place, quality_issues, std, website)
from kb.importers.concepts import PROPERTY, ConceptIndex
from kb.importers.entity import EntityWriter, Existing
from kb.importers.report import ImportReport
from kb.slugs import SlugRegistry

SINGLE_SCHEMES = ("organisation-type", "organisation-size")


class Context:
    """Shared state of one import: ``b`` (triples), ``w`` (entity writer), ``concepts``, ``slugs``,
    ``report``."""

    def __init__(self, kb, source: str, report: ImportReport, higher_graphs: list[str]):
        self.kb = kb
        self.names = kb.names
        self.source = source
        self.report = report
        self.b = Builder(kb.names)
        self.w = EntityWriter(self.b, Existing.from_graphs(kb, higher_graphs))
        self.concepts = ConceptIndex.from_store(kb)
        self.slugs = SlugRegistry.from_store(kb)

    def identity(self, iri: str, name: str, raw_site, *, file: str, row: int, name_field: str,
                 site_field: str, extra=()) -> list[str]:
        """An entity's name and website, with the quality flags they raise (spam, test entry, no
        usable name hide it; a malformed website is reported); counts the row. Returns the flags."""
        self.w.label(iri, name)
        site, problem = website(raw_site)
        issues = quality_issues(name, site=site or raw_site, extra=extra)
        for issue in issues:
            self.flag_quality(iri, issue, hide=True)
            if issue == "placeholder-name":
                issue += f" ({placeholder_name(name, site=site or raw_site)})"
                self.count(issue)
            self.report.flag(file, row, name_field, issue, name)
        self.report.row(file, "flagged" if issues else "entity")
        if site:
            self.w.single(iri, "website", site)
        elif problem:
            self.flag_quality(iri, "invalid-website", hide=False)
            self.report.issue(file, row, site_field, problem, raw_site)
        return issues

    def flag_quality(self, iri: str, issue: str, *, hide: bool) -> None:
        self.b.link(iri, "qualityIssue", self.concepts.quality(issue))
        if hide:
            self.b.add(iri, "hidden", TRUE)

    def classify(self, iri: str, schemes: tuple[str, ...], value: str, *, file: str, row: int,
                 field: str) -> bool:
        """Attach the concept ``value`` names (first matching scheme); else keep it as a dsi:tag
        and report it. Returns whether it mapped."""
        raw, value = value, clean_text(value)
        if not value:
            return True
        found = self.concepts.find(schemes, value)
        if found:
            scheme, concept = found
            if scheme in SINGLE_SCHEMES:
                kept = self.w.existing.values(iri, self.names.dsi(PROPERTY[scheme]))
                if kept and concept not in kept:
                    self.report.issue(file, row, field, f"differs from {kept[0]} given by a "
                                      "higher-precedence source: not imported", raw)
                self.w.single(iri, PROPERTY[scheme], concept)
            else:
                self.b.link(iri, PROPERTY[scheme], concept)
            return True
        if value.isdigit():  # a stray id such as "21", not text anyone wrote: not kept
            self.report.issue(file, row, field, f"a bare number, not in the {schemes[0]} scheme: dropped", raw)
            return False
        self.b.add(iri, "tag", ox.Literal(value))
        self.report.issue(file, row, field, f"not in the {schemes[0]} scheme: kept as dsi:tag", raw)
        return False

    def place(self, iri: str, country: str, city: str, *, file: str, row: int, coords=None,
              city_field: str = "city") -> None:
        label = std("rdfs:label").value
        country_iri, city_iri = self.b.place(
            country, city, labelled=lambda place: self.w.existing.has(place, label))
        if country_iri:
            self.w.single(iri, "country", country_iri)
            if outside_europe(country):
                self.flag_quality(iri, "outside-europe", hide=False)
            self.check_coordinates(iri, country, coords, file=file, row=row)
        if city_iri:
            self.w.single(iri, "city", city_iri)
            self.check_place(city_iri, city, file=file, row=row, field=city_field)

    # -- quality rules of places (counted per rule in the report's figures) ----------------------
    def count(self, rule: str) -> None:
        key = f"{self.source} flagged: {rule}"
        self.report.figures[key] = self.report.figures.get(key, 0) + 1

    def check_place(self, place_iri: str, name: str, *, file: str, row: int, field: str) -> None:
        """A city named by a placeholder ('c', 'test', 'XXXX') is hidden: it names no place."""
        rule = placeholder_place(name)
        if rule:
            self.flag_quality(place_iri, "placeholder-place", hide=True)
            self.count(f"placeholder-place ({rule})")
            self.report.issue(file, row, field, f"placeholder-place ({rule}): the place is hidden", name)

    def check_coordinates(self, iri: str, country: str, coords, *, file: str, row: int) -> None:
        """Coordinates far from the stated country (GeoNames cities, kb.places) flag the record."""
        from kb.index import places

        code = places.lookup_code(clean_text(country))
        if not coords or not code:
            return
        elsewhere = places.country_elsewhere(float(coords[0]), float(coords[1]), code)
        if elsewhere:
            self.flag_quality(iri, "coordinates-elsewhere", hide=False)
            self.count("coordinates-elsewhere")
            self.report.issue(file, row, "latitude/longitude", f"coordinates-elsewhere: the point lies in "
                              f"{elsewhere}, not in {code} ({clean_text(country)})", f"{coords[0]}, {coords[1]}")

    def region(self, iri: str, value: str, *, file: str, row: int, field: str) -> None:
        """A region, unless it is a placeholder ('Yes', 'test'): then it is reported, not kept."""
        value = clean_text(value)
        rule = placeholder(value)
        if rule:
            self.count(f"placeholder-region ({rule})")
            self.report.issue(file, row, field, f"placeholder-region ({rule}): not imported", value)
        else:
            self.w.text(iri, "region", value)

    def typed(self, iri: str, cls: str) -> None:
        self.b.add(iri, RDF_TYPE, self.b.dsi(cls))
