"""The interface in the visitor's language (docs/i18n.md): English, Spanish, French, German, Italian.

Over the real store and real HTTP: Accept-Language, ``?lang=`` and the ``dsikb_lang`` cookie choose
the language of interface strings and of taxonomy labels; URIs never change; each language has its
own ETag; the catalogues cover every extracted string and their .mo files are up to date; every SKOS
concept has a prefLabel in the five languages; /def/dsi is usable on a phone. A browser test clicks
the language switch.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from endpoint.i18n import COOKIE, LANGUAGES
from kb.settings import PROJECT_ROOT
from tests.support import ARTIFACTS, chromium

TRANSLATIONS = PROJECT_ROOT / "endpoint" / "translations"
TAXONOMIES = PROJECT_ROOT / "ontology" / "taxonomies"
HEALTH = "https://w3id.org/dsi/id/concept/area-of-society/health-and-wellbeing"


def html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def switch_links(body: str) -> dict[str, str]:
    """The language switch in the header: language code -> (unescaped) href."""
    nav = re.search(r'<nav class="languages"[^>]*>(.*?)</nav>', body, re.S).group(1)
    return {m.group(2): m.group(1).replace("&amp;", "&")
            for m in re.finditer(r'<a href="([^"]+)" hreflang="(\w+)"', nav)}


def test_english_by_default(client):
    r = client.get("/")
    body = html(r)
    assert '<html lang="en">' in body and "DSI knowledge base" in body and "In figures" in body
    assert "Accept-Language" in r.headers["Vary"]


def test_spanish_home_page_from_accept_language(client):
    r = client.get("/", headers={"Accept-Language": "es-ES,es;q=0.9,en;q=0.5"})
    body = html(r)
    assert '<html lang="es">' in body
    assert "Base de conocimiento DSI" in body and "En cifras" in body and "Organizaciones" in body
    assert "In figures" not in body
    assert "Accept-Language" in r.headers["Vary"]
    assert COOKIE not in r.headers.get("Set-Cookie", "")  # only an explicit choice is remembered


def test_best_match_and_unknown_languages(client):
    assert '<html lang="de">' in html(client.get("/", headers={"Accept-Language": "de-AT, fr;q=0.5"}))
    assert '<html lang="en">' in html(client.get("/", headers={"Accept-Language": "ja, zh;q=0.8"}))
    assert '<html lang="en">' in html(client.get("/?lang=xx", headers={"Accept-Language": "nl"}))


def test_spanish_concept_page_shows_spanish_labels(client):
    path = "/page/concept/area-of-society/health-and-wellbeing"
    es = html(client.get(path, headers={"Accept-Language": "es"}))
    en = html(client.get(path))
    assert re.search(r'<h1 id="title">Salud y bienestar</h1>', es)
    assert re.search(r'<h1 id="title">Health and wellbeing</h1>', en)
    assert "De dónde procede" in es and "Where this comes from" in en
    # the scheme it belongs to, a linked concept, is named in Spanish too
    assert "Ámbitos de la sociedad" in es
    # the identifier is the same language-free URI
    assert f"<code>{HEALTH}</code>" in es and f"<code>{HEALTH}</code>" in en


def test_project_page_shows_concepts_in_the_readers_language(client, built_kb):
    rows = built_kb.select(
        "SELECT ?p WHERE { ?p a dsi:Project ; dsi:areaOfSociety ?a . ?a skos:prefLabel ?l "
        "FILTER(lang(?l) = 'it') FILTER NOT EXISTS { ?p dsi:hidden true } } ORDER BY ?p LIMIT 1")
    project = rows[0]["p"].value
    concept = built_kb.select(
        "SELECT ?p ?en ?it WHERE { ?p dsi:areaOfSociety ?a . ?a skos:prefLabel ?en, ?it "
        "FILTER(lang(?en) = 'en' && lang(?it) = 'it') } ORDER BY ?en LIMIT 1", bind={"p": rows[0]["p"]})[0]
    path = "/page/" + project.split("/id/", 1)[1]
    it = html(client.get(path, headers={"Accept-Language": "it"}))
    assert "Ambiti della società" in it and concept["it"].value in it  # fact label and concept label
    assert '<p class="kind">Progetto</p>' in it  # the class's rdfs:label@it from the ontology
    en = html(client.get(path))
    assert "Areas of society" in en and concept["en"].value in en


def test_browse_facets_in_spanish(client):
    es = html(client.get("/browse/project", headers={"Accept-Language": "es"}))
    en = html(client.get("/browse/project"))
    assert "<h2>Ámbito de la sociedad</h2>" in es and "<h2>Area of society</h2>" in en
    assert ">Salud y bienestar</a>" in es and ">Health and wellbeing</a>" in en
    assert "Ordenar por" in es and "nombre A–Z" in es
    # the same filter links (slugs), whatever the language
    slugs = lambda body: sorted(set(re.findall(r'href="/browse/project\?area=([a-z-]+)"', body)))
    assert slugs(es) == slugs(en) and "health-and-wellbeing" in slugs(en)


def test_browse_json_stays_english(client):
    data = client.get("/browse/project.json", headers={"Accept-Language": "es"}).get_json()
    area = next(f for f in data["facets"] if f["key"] == "area")
    assert area["label"] == "Area of society"
    assert any(v["label"] == "Health and wellbeing" for v in area["values"])


def test_lang_parameter_sets_cookie_and_switch_keeps_the_page(client):
    r = client.get("/browse/project?area=health-and-wellbeing&sort=-label&lang=fr")
    body = html(r)
    assert '<html lang="fr">' in body and "Domaine de la société" in body
    assert f"{COOKIE}=fr" in r.headers["Set-Cookie"]
    links = switch_links(body)
    assert sorted(links) == sorted(LANGUAGES)
    for code, href in links.items():
        parts = urlsplit(href)
        assert parts.path == "/browse/project"
        assert parse_qs(parts.query) == {"area": ["health-and-wellbeing"], "sort": ["-label"], "lang": [code]}
    assert re.search(r'hreflang="fr" lang="fr" aria-current="true">Français</a>', body)
    assert body.count("aria-current") == 1
    # the cookie carries the choice to the next page, over Accept-Language
    again = html(client.get("/", headers={"Accept-Language": "de"}))
    assert '<html lang="fr">' in again and "En chiffres" in again


def test_uris_are_language_free(client):
    for lang in LANGUAGES:
        r = client.get("/id/concept/area-of-society/health-and-wellbeing",
                       headers={"Accept": "text/html", "Accept-Language": lang})
        assert r.status_code == 303 and r.headers["Location"].endswith("/page/concept/area-of-society/health-and-wellbeing")
        body = html(client.get("/page/concept/area-of-society/health-and-wellbeing?lang=" + lang))
        assert f'<link rel="canonical" href="/id/concept/area-of-society/health-and-wellbeing">' in body
        assert all("lang=" not in href for href in re.findall(r'href="(/id/[^"]*)"', body))


def test_etag_differs_per_language(client):
    path = "/page/concept/area-of-society/health-and-wellbeing"
    tags = {lang: client.get(path, headers={"Accept-Language": lang}).headers["ETag"] for lang in LANGUAGES}
    assert len(set(tags.values())) == len(LANGUAGES)
    # a cache holding the English copy cannot answer a Spanish reader with 304
    r = client.get(path, headers={"Accept-Language": "es", "If-None-Match": tags["en"]})
    assert r.status_code == 200 and "Salud y bienestar" in r.get_data(as_text=True)
    same = client.get(path, headers={"Accept-Language": "es", "If-None-Match": tags["es"]})
    assert same.status_code == 304
    assert "Accept-Language" in client.get(path).headers["Vary"]


def test_submission_form_in_german(client):
    de = html(client.get("/submit", headers={"Accept-Language": "de"}))
    en = html(client.get("/submit"))
    assert "Eine Organisation oder ein Projekt hinzufügen" in de and "Zur Prüfung senden" in de
    assert "> Offene Daten</label>" in de and "> Open data</label>" in en  # concept checkboxes
    values = lambda body: sorted(re.findall(r'name="technologyFocus" value="([^"]+)"', body))
    assert values(de) == values(en)  # same concept IRIs submitted, whatever the language


def test_error_pages_are_translated(client):
    r = client.get("/page/organisation/no-such-thing", headers={"Accept": "text/html", "Accept-Language": "it"})
    assert r.status_code == 404
    body = r.get_data(as_text=True)
    assert "404 Non trovato" in body and "Torna alla pagina iniziale" in body


# -- the catalogues ------------------------------------------------------------------------------
def _extracted() -> set:
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with open(PROJECT_ROOT / "babel.cfg") as f:
        method_map, options_map = parse_mapping_cfg(f)
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "N_": None}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(PROJECT_ROOT), method_map, options_map, keywords=keywords):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_every_extracted_string_is_translated(lang):
    from babel.messages.pofile import read_po

    with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", "rb") as f:
        catalog = read_po(f)
    extracted = _extracted()
    assert len(extracted) > 300
    untranslated = sorted(m for m in extracted if not catalog.get(m) or not all(
        catalog.get(m).string if isinstance(catalog.get(m).string, tuple) else [catalog.get(m).string]))
    assert untranslated == [], f"run `make translations` and translate these in {lang}"
    assert not [m.id for m in catalog if m.id and m.fuzzy]
    assert [(m.id, errors) for m, errors in catalog.check()] == []  # placeholders match


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_compiled_catalogues_are_up_to_date(lang, tmp_path):
    from babel.messages.mofile import read_mo, write_mo
    from babel.messages.pofile import read_po

    folder = TRANSLATIONS / lang / "LC_MESSAGES"
    with open(folder / "messages.po", "rb") as f:
        catalog = read_po(f)
    with open(tmp_path / "messages.mo", "wb") as f:
        write_mo(f, catalog)
    with open(tmp_path / "messages.mo", "rb") as fresh, open(folder / "messages.mo", "rb") as committed:
        a, b = read_mo(fresh), read_mo(committed)
    def strings(catalog):
        flat = lambda x: tuple(x) if isinstance(x, (list, tuple)) else x  # plural forms
        return {flat(m.id): flat(m.string) for m in catalog if m.id}
    assert strings(a) == strings(b), \
        "run `make translations` (pybabel compile) and commit the .mo"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lang=st.text(max_size=12), accept=st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60))
def test_any_language_parameter_or_header_is_answered(app, lang, accept):
    client = app.test_client()
    for path in ("/", "/browse/project", "/page/concept/area-of-society/science"):
        r = client.get(path, query_string={"lang": lang}, headers={"Accept-Language": accept})
        assert r.status_code < 500
        if r.status_code == 200:
            assert re.search(r'<html lang="(en|es|fr|de|it)">', r.get_data(as_text=True))


def test_every_concept_has_a_preflabel_in_five_languages():
    import rdflib

    g = rdflib.Graph()
    for f in sorted(TAXONOMIES.glob("*.ttl")):
        g.parse(f)
    rows = g.query("""
        PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
        SELECT ?c ?lang WHERE {
          { ?c a skos:Concept } UNION { ?c a skos:ConceptScheme }
          VALUES ?lang { "en" "es" "fr" "de" "it" }
          FILTER NOT EXISTS { ?c skos:prefLabel ?l FILTER(lang(?l) = ?lang) }
        }""")
    assert sorted((str(c), str(lang)) for c, lang in rows) == []
    assert len(set(g.subjects(rdflib.RDF.type, rdflib.SKOS.Concept))) > 90
    too_many = g.query("""
        PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
        SELECT ?c WHERE { ?c skos:prefLabel ?a, ?b FILTER(?a != ?b && lang(?a) = lang(?b)) }""")
    assert list(too_many) == []  # SKOS: at most one prefLabel per language


def test_ontology_terms_are_labelled_in_five_languages():
    import rdflib

    g = rdflib.Graph().parse(PROJECT_ROOT / "ontology" / "dsi.ttl")
    dsi = "https://w3id.org/dsi/def/dsi#"
    terms = {s for s in g.subjects(rdflib.RDFS.label, None) if str(s).startswith(dsi)}
    assert len(terms) > 60
    missing = sorted((str(s), lang) for s in terms for lang in LANGUAGES
                     if not any(lit.language == lang for lit in g.objects(s, rdflib.RDFS.label)))
    assert missing == []


# -- /def/dsi --------------------------------------------------------------------------------------
def test_ontology_page_is_a_site_page_for_phones(client):
    body = html(client.get("/def/dsi", headers={"Accept": "text/html"}))
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in body
    assert '<html lang="en">' in body and '<nav aria-label="Main">' in body and 'class="languages"' in body
    assert 'ontodoc.css' in body and "<style>" not in body  # the CSP allows no inline style
    # the legacy 2013 terms are grouped apart, after the current ones
    legacy = body.index('id="legacy-terms"')
    assert body.index('id="Organisation"') < legacy
    assert 'id="legacy-Activity"' in body and 'href="#Project">dsi:Project</a>' in body[legacy:]
    assert "Activity1" not in body  # pyLODE no longer lists legacy:Activity among the classes
    assert "Español, Français, Deutsch, Italiano" in body or all(
        n in body for n in ("Español", "Français", "Deutsch", "Italiano"))
    es = html(client.get("/def/dsi", headers={"Accept": "text/html", "Accept-Language": "es"}))
    assert '<html lang="es">' in es and 'class="ontodoc" lang="en"' in es
    assert "Esta documentación está en inglés" in es


# -- in a browser --------------------------------------------------------------------------------
@pytest.mark.browser
def test_spanish_reader_switches_language_in_a_browser(app, live_url, tmp_path_factory):
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium(tmp_path_factory.mktemp("chromium-i18n"), width=390, height=844) as context:
        page = context.new_page()
        page.set_extra_http_headers({"Accept-Language": "es-ES,es;q=0.9"})
        page.goto(live_url + "/browse/project?area=health-and-wellbeing")
        assert page.locator("html").get_attribute("lang") == "es"
        assert page.locator(".facets summary h2").first.inner_text() == "Ámbito de la sociedad"
        assert page.get_by_text("Salud y bienestar").first.is_visible()
        page.screenshot(path=str(ARTIFACTS / "i18n-browse-es-phone.png"), full_page=False)
        page.locator('nav.languages a[hreflang="it"]').click()
        page.wait_for_load_state()
        url = urlsplit(page.url)
        assert url.path == "/browse/project" and parse_qs(url.query)["area"] == ["health-and-wellbeing"]
        assert page.locator("html").get_attribute("lang") == "it"
        assert page.locator(".facets summary h2").first.inner_text() == "Ambito della società"
        assert page.locator('nav.languages a[aria-current="true"]').inner_text() == "Italiano"
        # the choice follows the reader to the next page (cookie), over Accept-Language
        page.goto(live_url + "/page/concept/area-of-society/health-and-wellbeing")
        assert page.locator("h1").inner_text() == "Salute e benessere"
        page.goto(live_url + "/def/dsi")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390 + 2, f"the ontology page scrolls sideways on a phone ({width}px)"
        assert page.locator("#legacy-terms h2").is_visible() or page.locator("#legacy-terms").count() == 1
        page.screenshot(path=str(ARTIFACTS / "i18n-def-dsi-phone.png"), full_page=False)
