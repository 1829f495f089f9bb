"""The store wrapper: names, graphs, atomic graph replacement, generations, the settings table."""

from __future__ import annotations

import os
import re
import time

import pyoxigraph as ox
import pytest

from kb.errors import BadRequest, SyntaxProblem
from kb.graphs import Graphs
from kb.namespaces import Names, rebase
from kb.settings import PROJECT_ROOT, SETTINGS, Settings
from kb.store import KB, rdf_format
from tests.conftest import settings_for

EX = "http://example.org/"


def triples(*spo):
    return [ox.Triple(ox.NamedNode(EX + s), ox.NamedNode(EX + p), ox.Literal(o)) for s, p, o in spo]


@pytest.fixture()
def kb(tmp_path):
    return KB.open(settings_for(tmp_path / "store"))


def test_names_mint_contract_iris():
    n = Names("https://w3id.org/dsi/")
    assert n.entity("organisation", "nesta") == "https://w3id.org/dsi/id/organisation/nesta"
    assert n.concept("technology-focus", "open-data") == "https://w3id.org/dsi/id/concept/technology-focus/open-data"
    assert n.dsi("Organisation") == "https://w3id.org/dsi/def/dsi#Organisation"
    assert n.parse_entity("https://w3id.org/dsi/id/project/decidim") == ("project", "decidim")
    assert n.parse_entity("https://w3id.org/dsi/id/project/Bad_Slug") is None


@pytest.mark.parametrize("bad", [("company", "nesta"), ("organisation", "Nesta"), ("organisation", "a--b"), ("organisation", "")])
def test_names_refuse_what_the_contract_forbids(bad):
    with pytest.raises(ValueError):
        Names().entity(*bad)


def test_closed_namespace_refuses_misspelled_terms():
    with pytest.raises(AttributeError, match="not a term"):
        Names().dsi("Organization")


def test_graph_names_are_minted_in_one_place():
    g = Graphs(Names("https://example.net/kb/"))
    assert g.source("dsi2013") == "https://example.net/kb/graph/import/dsi2013"
    assert g.taxonomy("area-of-society") == "https://example.net/kb/graph/taxonomy/area-of-society"
    assert g.kind(g.linkset("wikidata")) == "linkset"
    with pytest.raises(ValueError):
        g.source("../evil")


def test_rebase_moves_default_base_only_when_configured():
    text = "<https://w3id.org/dsi/id/organisation/nesta> a <https://w3id.org/dsi/def/dsi#Organisation> ."
    assert rebase(text, "https://w3id.org/dsi/") == text
    assert "https://kb.example/id/organisation/nesta" in rebase(text, "https://kb.example/")


def test_replace_graph_is_idempotent_and_bumps_generation(kb):
    g = kb.graphs.curated
    assert kb.replace_graph(g, triples(("a", "p", "1"), ("b", "p", "2"))) is True
    gen = kb.generation
    assert kb.replace_graph(g, triples(("b", "p", "2"), ("a", "p", "1"))) is False
    assert kb.generation == gen
    assert kb.replace_graph(g, triples(("a", "p", "1"))) is True
    assert kb.generation == gen + 1
    assert kb.triple_count(g) == 1
    assert not [x for x in kb.named_graphs() if "/tmp/" in x]


def test_generation_survives_reopening(tmp_path):
    settings = settings_for(tmp_path / "store")
    kb = KB.open(settings)
    kb.replace_graph(kb.graphs.curated, triples(("a", "p", "1")))
    gen = kb.generation
    del kb
    assert KB.open(settings).generation == gen



@pytest.mark.embedded_only("the generation's state file beside the on-disk store, cached by its stat signature")
def test_a_reader_sees_each_write_of_another_handle(kb, tmp_path):
    """The generation is cached by the state file's stat signature: a read-only handle (as a server
    beside `dsikb load` has) still sees every bump, including several within one second."""
    reader = KB.open(settings_for(tmp_path / "store"), read_only=True)
    seen = [reader.generation]
    for n in range(3):
        kb.replace_graph(kb.graphs.curated, triples(("a", "p", str(n))))
        seen.append(reader.generation)
    assert seen == [seen[0], seen[0] + 1, seen[0] + 2, seen[0] + 3]
    assert reader.modified == kb.modified is not None
    # an old state file is answered from the cache, and a write still invalidates it
    state = tmp_path / "store.state.json"
    os.utime(state, (time.time() - 60, time.time() - 60))
    assert reader.generation == seen[-1] == reader.generation
    kb.replace_graph(kb.graphs.curated, triples(("a", "p", "last")))
    assert reader.generation == seen[-1] + 1

def test_queries_see_the_union_of_graphs_with_project_prefixes(kb):
    n = kb.names
    kb.replace_graph(kb.graphs.curated, [ox.Triple(ox.NamedNode(n.entity("organisation", "nesta")),
                                                   ox.NamedNode(n.dsi("country")),
                                                   ox.NamedNode(n.entity("place", "united-kingdom")))])
    # (the union counts a triple once per graph stating it, the derived public default graph too)
    rows = kb.select("SELECT DISTINCT ?o WHERE { ?o dsi:country ?c }")
    assert [r["o"].value for r in rows] == [n.entity("organisation", "nesta")]


def test_load_file_is_all_or_nothing(kb, tmp_path):
    good = tmp_path / "good.ttl"
    good.write_text(f"<{EX}a> <{EX}p> 1 .\n<{EX}b> <{EX}p> 2 .\n")
    bad = tmp_path / "bad.ttl"
    bad.write_text(f"<{EX}c> <{EX}p> 3 .\n<{EX}d> <{EX}p> .\n")
    assert kb.load_file(good, graph=EX + "g") == 2
    gen = kb.generation
    with pytest.raises(SyntaxProblem) as err:
        kb.load_file(bad, graph=EX + "g")
    assert "bad.ttl" in err.value.message and "line 2" in err.value.message
    assert kb.triple_count() == 2 and kb.generation == gen


def test_rdf_format_by_name_and_extension():
    assert rdf_format("x.nt.gz") == ox.RdfFormat.N_TRIPLES
    assert rdf_format("trig") == ox.RdfFormat.TRIG
    with pytest.raises(BadRequest, match="unknown RDF format"):
        rdf_format("x.docx")


def test_settings_from_environment_and_overrides():
    s = Settings.from_env({"DSIKB_QUERY_TIMEOUT": "2.5", "DSIKB_MAX_ROWS": "10"}, store="/tmp/x")
    assert (s.query_timeout, s.max_rows, s.store) == (2.5, 10, "/tmp/x")
    assert Settings.from_env({"DSIKB_STORE": "sparql+http://127.0.0.1:7878/query"}).store_is_remote
    with pytest.raises(ValueError, match="must end with"):
        Settings.from_env({"DSIKB_BASE_URI": "https://example.org/kb"})


def test_every_setting_is_documented_in_the_readme():
    readme = (PROJECT_ROOT / "README.md").read_text()
    missing = [name for name, _, _ in SETTINGS if f"`DSIKB_{name.upper()}`" not in readme]
    assert not missing, f"settings missing from README's table: {missing}"
    documented = set(re.findall(r"`DSIKB_([A-Z_]+)`", readme))
    unknown = documented - {name.upper() for name, _, _ in SETTINGS}
    assert not unknown, f"README documents settings that do not exist: {unknown}"
