"""kb/index/places.py over the real store: every ISO country in the EU languages maps to the country place
the importers mint, unknown countries are field errors with suggestions, and cities are matched to
existing places (case, accents, other names of one city) before a new place is proposed."""

from __future__ import annotations

import pytest

from kb.index import places
from kb.errors import KBError

BASE = "https://w3id.org/dsi/id/place/"


@pytest.mark.parametrize("text, code, slug", [
    ("ES", "ES", "spain"), ("esp", "ES", "spain"), ("Spain", "ES", "spain"), ("España", "ES", "spain"),
    ("ESPANA", "ES", "spain"), ("Espagne", "ES", "spain"), ("Deutschland", "DE", "germany"),
    ("Nederland", "NL", "netherlands"), ("the Netherlands", "NL", "netherlands"),
    ("Ελλάδα", "GR", "greece"), ("Czechia", "CZ", "czech-republic"), ("Česko", "CZ", "czech-republic"),
    ("UK", "GB", "united-kingdom"), ("Royaume-Uni", "GB", "united-kingdom"),
    ("North Macedonia", "MK", "macedonia-the-former-yugoslav-republic-of"), ("Türkiye", "TR", "turkey"),
    ("Kosovo", "XK", "kosovo"), (BASE + "spain", "ES", "spain"),
])
def test_countries_by_code_or_any_eu_language_name_map_to_the_imported_place(built_kb, text, code, slug):
    match = places.country(built_kb, text)
    assert (match.code, match.iri, match.existing) == (code, BASE + slug, True)
    assert built_kb.ask(f"ASK {{ <{match.iri}> a dsi:Place }}")


@pytest.mark.parametrize("text, code", [("Latvija", "LV"), ("Latvia", "LV"), ("Lettland", "LV"),
                                        ("Malta", "MT"), ("LVA", "LV"), ("Lietuva", "LT")])
def test_countries_not_yet_in_the_data_get_the_iri_an_import_would_mint(built_kb, text, code):
    from kb.slugs import slugify

    match = places.country(built_kb, text)
    assert match.code == code
    assert match.iri == BASE + slugify(match.name)


def test_an_unknown_country_is_a_field_error_with_suggestions(built_kb):
    with pytest.raises(places.PlaceError) as info:
        places.country(built_kb, "Atlantis")
    assert info.value.field == "country" and info.value.status == 422 and isinstance(info.value, KBError)
    with pytest.raises(places.PlaceError) as info:
        places.country(built_kb, "Germny")
    assert info.value.suggestions[0] == "Germany" and "Germany" in str(info.value)
    with pytest.raises(places.PlaceError):
        places.country(built_kb, "")


def test_every_iso_country_is_a_choice_european_first_named_in_the_visitors_language(built_kb):
    import pycountry

    choices = places.country_choices(built_kb, "lv")
    codes = [c["code"] for c in choices]
    assert set(codes) >= {c.alpha_2 for c in pycountry.countries} and "XK" in codes
    assert len(codes) == len(set(codes))
    european = [c["european"] for c in choices]
    assert european == sorted(european, reverse=True)  # European ones first
    by_code = {c["code"]: c for c in choices}
    assert by_code["LV"]["label"] == "Latvija" and by_code["MT"]["european"]
    assert by_code["ES"]["iri"] == BASE + "spain"
    assert {c["code"]: c["label"] for c in places.country_choices(built_kb, "de")}["DE"] == "Deutschland"


@pytest.mark.parametrize("text, country, slug, how", [
    ("Amsterdam", "NL", "amsterdam-netherlands", "same name"),
    ("AMSTERDAM", "Nederland", "amsterdam-netherlands", "same name"),
    ("málaga", "Spain", "malaga-spain", "same name"),
    ("Den Haag", "NL", "den-haag-netherlands", "same name"),
    ("'s-Gravenhage", "NL", None, "another name of the same city (GeoNames)"),
    ("Barcelona", "España", "barcelona-spain", "same name"),
])
def test_cities_match_existing_places_in_the_country(built_kb, text, country, slug, how):
    match = places.city(built_kb, text, country)
    assert match.existing and match.how == how
    if slug:
        assert match.iri == BASE + slug
    else:
        assert match.iri in (BASE + "den-haag-netherlands", BASE + "the-hague-netherlands")


def test_a_new_city_is_a_proposal_in_its_country(built_kb):
    match = places.city(built_kb, "riga", "Latvija")
    assert not match.existing and match.how == "new place"
    assert (match.label, match.slug, match.iri) == ("Riga", "riga-latvia", BASE + "riga-latvia")
    assert match.country.code == "LV"
    # a city of another country with the same name is not this one
    assert not places.city(built_kb, "Amsterdam", "Malta").existing


@pytest.mark.parametrize("text", ["C", "Yes", "test", "XXXX", "", "123"])
def test_placeholder_cities_are_field_errors(built_kb, text):
    with pytest.raises(places.PlaceError) as info:
        places.city(built_kb, text, "Austria")
    assert info.value.field == "city"


def test_points_far_from_the_stated_country_are_found():
    assert places.country_elsewhere(41.37536, -4.122114, "AT") == "ES"  # the 2013 record "a"
    assert places.country_elsewhere(48.2082, 16.3738, "AT") is None  # Vienna
    assert places.country_elsewhere(47.80, 13.03, "DE") is None  # Salzburg, 10 km from Germany
    assert places.country_elsewhere(35.9, 14.5, "MT") is None  # Valletta


def test_read_queries_take_no_request_text(built_kb):
    """The store is read once per generation with fixed queries; odd input only meets dictionaries."""
    for text in ['Spain" } ; DROP ALL ; #', "<http://x>", "\\u0000"]:
        with pytest.raises(places.PlaceError):
            places.country(built_kb, text)
    assert built_kb.ask(f"ASK {{ <{BASE}spain> a dsi:Place }}")


# -- issue 13: place and concept pages list what is there, with counts that match -----------------
def _section(html: str, heading_start: str) -> tuple[int, list[str]]:
    """(the count in a list section's heading, the names it lists)."""
    import re

    part = html.split(heading_start, 1)[1].split("</section>", 1)[0]
    count = int(re.match(r'[^<]*<span class="count">\(([\d,]+)\)', part).group(1).replace(",", ""))
    names = re.findall(r'<li><a href="/id/[^"]+">([^<]+)</a>', part)
    return count, names


def test_country_page_lists_organisations_and_projects_by_name(client):
    import html as html_lib

    page = client.get("/page/place/netherlands").text
    for type_, heading in (("organisation", "Organisations in Netherlands"), ("project", "Projects in Netherlands")):
        count, names = _section(page, f'-h">{heading}')
        listed = client.get(f"/browse/{type_}.json?country=netherlands&per_page=500").get_json()
        assert count == listed["total"] == len(names) > 20
        assert sorted(html_lib.unescape(n) for n in names) == sorted(i["label"] for i in listed["items"])
    assert '<a href="/id/organisation/fairphone">Fairphone</a>' in page


def test_city_page_lists_what_is_there(client):
    page = client.get("/page/place/amsterdam-netherlands").text
    count, names = _section(page, '-h">Organisations in Amsterdam')
    assert count == len(names) and "Fairphone" in names and "Waag Society" in names
    count, names = _section(page, '-h">Projects in Amsterdam')
    assert count == len(names) > 0


@pytest.mark.parametrize("path, type_, key", [
    ("area-of-society/health-and-wellbeing", "project", "area"),
    ("technology-focus/open-hardware", "project", "technology"),
    ("organisation-type/academia-and-research", "organisation", "type"),
])
def test_concept_counts_match_their_lists(client, path, type_, key):
    page = client.get(f"/page/concept/{path}")
    assert page.status_code == 200, path
    html = page.text
    count, names = _section(html, f'id="list-{type_}-h">')
    total = client.get(f"/browse/{type_}.json?{key}={path.rsplit('/', 1)[1]}").get_json()["total"]
    assert count == len(names) == total > 0
    assert f"Browse the {total} {type_}s filed under" in html


def test_scheme_pages_are_labelled_as_schemes(client):
    html = client.get("/page/concept/area-of-society").text
    assert '<p class="kind">Concept scheme</p>' in html and "Resource" not in html.split("<main", 1)[1][:400]
