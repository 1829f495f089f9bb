"""Junk stays out of sight: placeholder names and places of the real imports are flagged and hidden,
coordinates in another country than the one stated are flagged, each rule is counted in the import
report, and no real organisation is hidden by these rules."""

from __future__ import annotations

import pytest

from kb.importers import run_import
from kb.importers.common import placeholder, placeholder_name, placeholder_place, quality_issues
from kb.store import KB
from tests.conftest import SOURCES, settings_for
from tests.support import copy_built

ID = "https://w3id.org/dsi/id/"
QI = ID + "concept/quality-issue/"
HIDING_RULES = ("placeholder-name", "placeholder-place")  # coordinates-elsewhere flags, never hides


@pytest.fixture(scope="module")
def reports(built_kb, tmp_path_factory):
    """Both sources imported again into a copy of the built store, for their reports."""
    root = tmp_path_factory.mktemp("junk")
    copy_built(built_kb, root / "store")
    kb = KB.open(settings_for(root / "store"))
    return {s: run_import(kb, s, SOURCES, report_dir=root / "reports") for s in ("dsi2013", "dsi4eu")}


def _hidden_with(kb, issue: str) -> dict[str, str]:
    rows = kb.select(f"""SELECT DISTINCT ?e ?l WHERE {{ ?e dsi:qualityIssue <{QI}{issue}> ; dsi:hidden true .
        OPTIONAL {{ ?e rdfs:label ?l }} }} ORDER BY ?e""")
    return {r["e"].value: r["l"].value if r.get("l") else "" for r in rows}


@pytest.mark.parametrize("name", ["a", "adam", "adf", "bleh", "Blah", "Bob", "ma", "bbba", "none", "tes",
                                  "qdsfds", "szdxfcgv", "basbbabbdb", "country"])
def test_placeholder_names_of_the_real_imports_are_hidden(built_kb, name):
    rows = built_kb.select(f"""SELECT ?e ?h WHERE {{ ?e rdfs:label "{name}" .
        {{ ?e a dsi:Organisation }} UNION {{ ?e a dsi:Project }}
        OPTIONAL {{ ?e dsi:hidden ?h }} }}""")
    assert rows, name
    assert all(r.get("h") is not None and r["h"].value == "true" for r in rows), name
    assert built_kb.ask(f"""ASK {{ ?e rdfs:label "{name}" ; dsi:qualityIssue <{QI}placeholder-name> }}""")


@pytest.mark.parametrize("slug", ["c-austria", "test-austria", "test-bulgaria", "test-france", "xxxx-france"])
def test_placeholder_places_are_hidden(built_kb, slug):
    assert built_kb.ask(f"""ASK {{ <{ID}place/{slug}> a dsi:Place ; dsi:hidden true ;
        dsi:qualityIssue <{QI}placeholder-place> }}""")


def test_a_placeholder_region_is_not_imported(built_kb):
    adam = built_kb.select('SELECT ?e WHERE { ?e rdfs:label "adam" ; a dsi:Organisation }')[0]["e"].value
    assert not built_kb.ask(f'ASK {{ <{adam}> dsi:region ?r }}')  # its region was "Yes"
    assert not built_kb.ask('ASK { ?e dsi:region "Yes" }')


def test_coordinates_in_another_country_are_flagged_not_hidden(built_kb):
    a = built_kb.select(f"""SELECT ?e WHERE {{ ?e rdfs:label "a" ; a dsi:Organisation ;
        dsi:country <{ID}place/austria> }}""")[0]["e"].value
    assert built_kb.ask(f"ASK {{ <{a}> dsi:qualityIssue <{QI}coordinates-elsewhere> }}")
    flagged = built_kb.select(f"""SELECT DISTINCT ?e ?l WHERE {{ ?e dsi:qualityIssue <{QI}coordinates-elsewhere> ;
        rdfs:label ?l FILTER NOT EXISTS {{ ?e dsi:hidden true }} }}""")
    print(f"\ncoordinates elsewhere, still shown: {sorted(r['l'].value for r in flagged)}")
    assert 5 <= len(flagged) <= 60


def test_each_rule_and_its_count_is_in_the_import_report(reports):
    figures = {k: v for r in reports.values() for k, v in r.figures.items() if " flagged: " in k}
    print("\n" + "\n".join(f"  {k}: {v}" for k, v in sorted(figures.items())))
    assert figures["dsi2013 flagged: placeholder-name (single letter)"] == 2  # organisation "a", project "a"
    assert figures["dsi2013 flagged: placeholder-name (first name alone)"] == 2  # adam, Bob
    assert figures["dsi2013 flagged: placeholder-place (single letter)"] == 1  # "c"
    assert figures["dsi2013 flagged: placeholder-region (filler word)"] >= 1  # "Yes"
    assert figures["dsi2013 flagged: coordinates-elsewhere"] >= 10
    findings = [f for r in reports.values() for f in r.findings]
    assert any(f.reason == "placeholder-name (keyboard fragment)" and f.value == "adf" for f in findings)
    assert any(f.reason.startswith("coordinates-elsewhere: the point lies in ES, not in AT") for f in findings)
    assert all(r.balanced() for r in reports.values())


def test_no_real_organisation_is_hidden_by_the_new_rules(built_kb):
    hidden = {}
    for issue in HIDING_RULES:
        hidden.update(_hidden_with(built_kb, issue))
    print("\nhidden by the new rules:\n"
          + "\n".join(f"  {label!r:12} {iri}" for iri, label in sorted(hidden.items())))
    labels = set(hidden.values())
    # read by hand: every one of these is a placeholder (see the printed list)
    assert labels <= {"a", "adam", "adf", "bleh", "Blah", "Bob", "ma", "bbba", "none", "tes", "C", "Test",
                      "Xxxx", "country", "qdsfds", "basbbabbdb", "jkdhvb", "szdxfcgv", "dfbhgvcb",
                      "Sdfdsqfdfqsfsdqf", "Szdxfcgv"}, labels
    for real in ("Waag Society", "Nesta", "Fab Lab Barcelona", "Echo", "Off", "KTH", "UCL", "W3C", "Hoop"):
        assert not built_kb.ask(f'ASK {{ ?e rdfs:label "{real}" ; dsi:hidden true }}'), real


@pytest.mark.parametrize("name, rule", [
    ("a", "single letter"), ("adf", "keyboard fragment"), ("qwe", "keyboard fragment"),
    ("bbba", "repeated letters"), ("none", "filler word"), ("Blah", "filler word"),
    ("ma", "two lower-case letters"), ("qdsfds", "keyboard mash"), ("basbbabbdb", "keyboard mash"),
    ("adam", "first name alone"), ("Bob", "first name alone"),
])
def test_placeholder_rules(name, rule):
    assert placeholder_name(name) == rule
    assert "placeholder-name" in quality_issues(name)


@pytest.mark.parametrize("name", ["Waag Society", "Nesta", "Fab Lab Barcelona", "KTH", "W3C", "UCL", "Echo",
                                  "Off", "Hoop", "Sync", "FoAM", "Fing", "e4c", "food", "joy", "flash",
                                  "Adam Smith Institute", "Xnet", "Qoin", "Lynx", "OKFN", "CNR", "dad"])
def test_real_names_break_no_placeholder_rule(name):
    assert placeholder_name(name, site="http://example.org/") is None
    assert "placeholder-name" not in quality_issues(name, site="http://example.org/")


def test_a_first_name_with_a_website_is_kept():
    assert placeholder_name("Ada", site="http://ada.example/") is None and placeholder_name("Ada") is None
    assert placeholder_name("Sarah") == "first name alone"


@pytest.mark.parametrize("city, rule", [("c", "single letter"), ("XXXX", "repeated letters"),
                                        ("test", "test entry"), ("Yes", "filler word"),
                                        ("Vic", None), ("Zug", None), ("Bod", None), ("NY", None)])
def test_placeholder_place_rules(city, rule):
    assert placeholder_place(city) == rule
    assert placeholder("Abq") is None
