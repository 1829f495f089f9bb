"""Slugs: transliterated, lowercase, hyphens, de-duplicated, and stable across re-imports and row order."""

from __future__ import annotations

import csv
import shutil

import pytest

from kb.importers import run_import
from kb.namespaces import SLUG_RE
from kb.settings import Settings
from kb.slugs import slugify
from kb.store import KB
from tests.conftest import SOURCES

ORG_HEADER = ["Organisation ID", "Name", "Organisation type", "Size of Organisation", "Twitter",
              "Website", "Logo file", "Site ID", "Latitude", "Longitude", "Address ID",
              "Street Address", "Postcode", "Region", "Country", "Location"]


@pytest.mark.parametrize("text, slug", [
    ("Fab Lab Barcelona / IAAC", "fab-lab-barcelona-iaac"),
    ("Łódź Straße", "lodz-strasse"),
    ("Ελληνική Εταιρεία", "elliniki-etaireia"),
    ("  --Waag   Society-- ", "waag-society"),
    ("Citizens' Foundation & Co", "citizens-foundation-and-co"),
    ("", "unnamed"),
    ("???", "unnamed"),
])
def test_slugify(text, slug):
    assert slugify(text) == slug
    assert SLUG_RE.match(slugify(text))


def test_long_names_are_cut_at_a_word():
    slug = slugify("a mix of training skill development for migrant communities and young people "
                   "and delivering digital services around creative walks")
    assert len(slug) <= 60 and SLUG_RE.match(slug) and not slug.endswith("-")


def _org(uuid: str, name: str) -> dict:
    row = dict.fromkeys(ORG_HEADER, "")
    row.update({"Organisation ID": uuid, "Name": name, "Country": "Spain", "Location": "Madrid"})
    return row


def _source_dir(path, orgs):
    """A 2013 source folder: the real projects/links/areas/partners files, our own orgs file."""
    path.mkdir(parents=True, exist_ok=True)
    from kb.importers import dsi2013

    for name in dsi2013.FILES:
        if name != dsi2013.ORGS:
            shutil.copy(SOURCES / name, path / name)
    with open(path / dsi2013.ORGS, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, ORG_HEADER)
        writer.writeheader()
        writer.writerows(orgs)
    return path


def _org_slugs(kb) -> dict[str, str]:
    rows = kb.select("""SELECT ?e ?k WHERE { ?e a dsi:Organisation ; owl:sameAs ?k }""")
    return {r["k"].value: r["e"].value.rsplit("/", 1)[-1] for r in rows}


ORGS = [_org("00000000-0000-0000-0000-00000000000b", "Åbo Akademi"),
        _org("00000000-0000-0000-0000-00000000000a", "Abo Akademi"),
        _org("00000000-0000-0000-0000-00000000000c", "Café Crème")]


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    root = tmp_path_factory.mktemp("slugs")
    kb = KB.in_memory(Settings.from_env(environ={}))
    run_import(kb, "dsi2013", _source_dir(root / "a", ORGS), report_dir=root / "reports")
    return kb, root


def test_duplicates_get_a_numeric_suffix(first):
    slugs = _org_slugs(first[0])
    key = "http://data.digitalsocial.eu/id/organization/00000000-0000-0000-0000-0000000000"
    assert slugs[key + "0a"] == "abo-akademi"
    assert slugs[key + "0b"] == "abo-akademi-2"
    assert slugs[key + "0c"] == "cafe-creme"


def test_row_order_does_not_change_slugs(first):
    kb, root = first
    other = KB.in_memory(Settings.from_env(environ={}))
    run_import(other, "dsi2013", _source_dir(root / "b", list(reversed(ORGS))),
               report_dir=root / "reports-b")
    assert _org_slugs(other) == _org_slugs(kb)


def test_reimport_keeps_slugs_when_a_new_namesake_arrives(first):
    kb, root = first
    before = _org_slugs(kb)
    newcomer = _org("00000000-0000-0000-0000-000000000000", "Abo Akademi")  # sorts first
    run_import(kb, "dsi2013", _source_dir(root / "c", [newcomer, *ORGS]), report_dir=root / "r-c")
    after = _org_slugs(kb)
    assert {k: after[k] for k in before} == before
    assert after["http://data.digitalsocial.eu/id/organization/" + newcomer["Organisation ID"]] == \
        "abo-akademi-3"


def test_renamed_entity_keeps_its_slug(first):
    kb, root = first
    before = _org_slugs(kb)
    renamed = [dict(ORGS[2], Name="Cafe Creme Cooperative")] + ORGS[:2]
    run_import(kb, "dsi2013", _source_dir(root / "d", renamed), report_dir=root / "r-d")
    key = "http://data.digitalsocial.eu/id/organization/" + ORGS[2]["Organisation ID"]
    assert _org_slugs(kb)[key] == before[key] == "cafe-creme"
    labels = kb.select(f"""SELECT ?l WHERE {{ <{kb.names.entity('organisation', 'cafe-creme')}>
                           rdfs:label ?l }}""", union=False)  # the public merge: each label once
    assert [r["l"].value for r in labels] == ["Cafe Creme Cooperative"]


def test_real_slugs_are_valid_and_known(built_kb):
    rows = built_kb.select("""SELECT DISTINCT ?e WHERE {
        { ?e a dsi:Organisation } UNION { ?e a dsi:Project } UNION { ?e a dsi:Place } }""")
    slugs = [r["e"].value for r in rows]
    assert len(slugs) > 2000
    assert all(built_kb.names.parse_entity(iri) for iri in slugs), "every entity IRI has a valid slug"
    waag = built_kb.select("""SELECT ?e WHERE { ?e owl:sameAs
        <http://data.digitalsocial.eu/id/organization/ba71764f-aa4e-fc08-d79b-f6ee1921c8fb> }""")
    assert {r["e"].value for r in waag} == {built_kb.names.entity("organisation", "waag-society")}
