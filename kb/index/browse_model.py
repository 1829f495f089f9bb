"""What a browse list is made of: the entity types, their facets and sorts, and the Row a list
shows (kb/index/browse.py re-exports all of it; kb/index/browse_table.py builds the rows)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyoxigraph as ox


def N_(text: str) -> str:  # noqa: N802 - the gettext marker: `make translations` extracts the string,
    return text  # the page translates it where it shows it (kb/ never imports Flask; docs/i18n.md)


BROWSE_TYPES = {"organisation": "Organisation", "project": "Project", "activity": "Activity",
                "event": "Event", "place": "Place", "person": "Person"}


@dataclass(frozen=True)
class Facet:
    """A facet: its URL parameter, label, the dsi property, and whether organisations inherit the
    values of the projects they take part in."""

    key: str
    label: str
    prop: str
    via_projects: bool = False
    also: tuple[str, ...] = ()  # more dsi properties whose values count as this facet's


AREA = Facet("area", N_("Area of society"), "areaOfSociety")
TECH = Facet("technology", N_("Technology focus"), "technologyFocus")
COUNTRY = Facet("country", N_("Country"), "country")
PROJECT_COUNTRY = Facet("country", N_("Country (stated, or of its partners)"), "country",
                        also=("partnerCountry",))
ORG_TYPE = Facet("type", N_("Organisation type"), "organisationType")
FACETS = {
    "organisation": (ORG_TYPE, COUNTRY,
                     Facet("area", N_("Area of society (of its projects)"), "areaOfSociety", True),
                     Facet("technology", N_("Technology focus (of its projects)"), "technologyFocus", True)),
    "project": (AREA, TECH, PROJECT_COUNTRY, Facet("activity", N_("Activity type"), "activityType")),
}
# sort key -> what it orders by; "-key" (or order=desc) reverses. Rows without a value come last.
SORT_KEYS = {
    "organisation": ("name", "country", "projects", "added", "start"),
    "project": ("name", "country", "partners", "added", "start"),
}
SORT_ALIASES = {"label": "name"}  # the names of earlier versions, kept working
# What the sort menu offers (value -> label), per type.
SORTS_MENU = {
    "organisation": {"name": N_("name A–Z"), "-name": N_("name Z–A"), "country": N_("country A–Z"),
                     "-country": N_("country Z–A"), "-projects": N_("most projects"),
                     "projects": N_("fewest projects"), "-added": N_("newest added"),
                     "added": N_("oldest added"), "-start": N_("newest founded"), "start": N_("oldest founded")},
    "project": {"name": N_("name A–Z"), "-name": N_("name Z–A"), "country": N_("country A–Z"),
                "-country": N_("country Z–A"), "-partners": N_("most partners"),
                "partners": N_("fewest partners"), "-added": N_("newest added"), "added": N_("oldest added"),
                "-start": N_("newest started"), "start": N_("oldest started")},
}
OTHER_MENU = {"name": N_("name A–Z"), "-name": N_("name Z–A"), "-added": N_("newest added"),
              "added": N_("oldest added"), "-start": N_("newest first"), "start": N_("oldest first")}
SORTS = SORTS_MENU["project"]  # kept for callers of earlier versions


def sort_menu(type_: str) -> dict[str, str]:
    """The sort menu of a list: value -> label."""
    return SORTS_MENU.get(type_, OTHER_MENU)


ORDERS = ("asc", "desc")
MAX_PER_PAGE = 500


@dataclass
class Row:
    iri: str
    label: str
    description: str = ""
    start: str = ""
    hidden: bool = False
    values: dict[str, set] = field(default_factory=dict)  # facet key -> value IRIs
    slugs: dict[str, set] = field(default_factory=dict)  # facet key -> value slugs
    added: str = ""  # dcterms:created (the date the record was made), earliest
    cities: list[str] = field(default_factory=list)  # labels
    countries: list[str] = field(default_factory=list)  # labels: stated, else derived (partners')
    countries_derived: bool = False
    kinds: list[str] = field(default_factory=list)  # labels of its organisation or activity types
    places: set = field(default_factory=set)  # IRIs of its cities and countries (stated and derived)
    related: set = field(default_factory=set)  # IRIs: its projects (organisation), partners (project)

    @property
    def place(self) -> str:
        """"Amsterdam, Netherlands": cities then countries, without a country a city label names."""
        return place_text(self.cities, self.countries)

    @property
    def line(self) -> str:
        """The description's first line, at most about 160 characters, cut at a word."""
        text = " ".join(self.description.split("\n", 1)[0].split())
        if len(text) <= 160:
            return text
        return text[:160].rsplit(" ", 1)[0].rstrip(",;:") + "…"

    @property
    def count(self) -> int:
        return len(self.related)


def place_text(cities, countries) -> str:
    """"Amsterdam, Netherlands" from city and country labels (:attr:`Row.place`, and the tables'
    place column, which makes no Row)."""
    parts = [c for c in cities if c]
    parts += [c for c in countries if c and not any(p.endswith(", " + c) for p in parts)]
    return ", ".join(dict.fromkeys(parts))


def slug_of(iri: str) -> str:
    return iri.rstrip("/").rsplit("/", 1)[-1]


def pick(literals) -> str | None:
    """The best of some literals: English or untagged first, then by language and value."""
    found = [lit for lit in literals if isinstance(lit, ox.Literal)]
    found.sort(key=lambda lit: (lit.language not in (None, "en"), lit.language or "", lit.value))
    return found[0].value if found else None
