"""``dsikb load`` (all or nothing per file, on both the in-memory and the bulk path; progress bar;
summary) and ``dsikb stats`` (text and ``--json``), through ``kb.cli.main`` and a subprocess."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import pytest

from kb.settings import PROJECT_ROOT
from tests.conftest import settings_for

EX = "https://w3id.org/dsi/"
GOOD = "".join(f'<{EX}id/organisation/o{i}> <http://www.w3.org/2000/01/rdf-schema#label> "Org {i}" .\n'
               for i in range(200))
BROKEN = GOOD + f'<{EX}id/organisation/bad> <http://www.w3.org/2000/01/rdf-schema#label> .\n'


@pytest.fixture()
def kb(tmp_path):
    from kb.store import KB

    return KB.open(settings_for(tmp_path / "store"))


@pytest.fixture(params=["memory", "bulk"])
def path_kind(request, monkeypatch):
    """Run a test on the small-file path and, with the threshold lowered, on the bulk-load path."""
    if request.param == "bulk":
        monkeypatch.setattr("kb.store.loader.BULK_THRESHOLD", 0)
    return request.param


def snapshot(kb) -> set:
    return set(kb.quads())


@pytest.mark.parametrize("into_existing", [False, True])
def test_a_broken_file_changes_nothing_and_names_line_and_column(kb, tmp_path, path_kind, into_existing):
    from kb.errors import SyntaxProblem

    graph = EX + "graph/curated"
    seed = tmp_path / "seed.nt"
    seed.write_text(f'<{EX}id/organisation/seed> <http://www.w3.org/2000/01/rdf-schema#label> "Seed" .\n')
    kb.load_file(seed, graph=graph if into_existing else EX + "graph/other")
    before, generation = snapshot(kb), kb.generation
    bad = tmp_path / "bad.nt"
    bad.write_text(BROKEN)
    with pytest.raises(SyntaxProblem) as err:
        kb.load_file(bad, graph=graph)
    assert "bad.nt" in err.value.message and "line 201" in err.value.message and "column" in err.value.message
    assert snapshot(kb) == before and kb.generation == generation


def test_a_broken_quad_file_changes_nothing(kb, tmp_path, path_kind):
    from kb.errors import SyntaxProblem

    bad = tmp_path / "bad.nq"
    bad.write_text(f'<{EX}a> <{EX}p> "x" <{EX}graph/g> .\n<{EX}a> <{EX}p> "y" "not a graph" .\n<{EX}b> <{EX}p> "z" .\n')
    with pytest.raises(SyntaxProblem, match="line 2"):
        kb.load_file(bad)
    assert snapshot(kb) == set()


def test_counts_are_of_statements_added(kb, tmp_path, path_kind):
    good = tmp_path / "good.nt.gz"
    good.write_bytes(gzip.compress(GOOD.encode()))
    assert kb.load_file(good, graph=EX + "graph/curated") == 200
    assert kb.load_file(good, graph=EX + "graph/curated") == 0  # already there
    assert kb.triple_count(EX + "graph/curated") == 200


@pytest.mark.embedded_only("the embedded loader's bulk path and its progress bar (a remote store is loaded over the Graph Store Protocol)")
def test_progress_bar_on_large_files(kb, tmp_path, monkeypatch, capsys):
    from kb.store.loader import load_file

    monkeypatch.setattr("kb.store.loader.BULK_THRESHOLD", 0)
    good = tmp_path / "good.nt"
    good.write_text(GOOD)
    assert load_file(kb, good, graph=EX + "graph/curated", progress=True) == 200
    err = capsys.readouterr().err
    assert "loading good.nt [" in err and "100.0%" in err and "MB/s" in err


def test_cli_load_summary_and_all_or_nothing_per_file(tmp_path, capsys):
    from kb.cli import main
    from kb.store import KB

    good, bad = tmp_path / "good.nt", tmp_path / "bad.nt"
    good.write_text(GOOD)
    bad.write_text(BROKEN)
    store = tmp_path / "store"
    target = settings_for(store).store  # the store under test (on the remote backend, a server over it)
    assert main(["load", "--store", target, "--graph", EX + "graph/curated", str(good)]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == "200 triples added"
    assert "good.nt: 200 triples added in" in err and err.rstrip().endswith(" s")
    assert main(["load", "--store", target, "--graph", EX + "graph/x", str(good), str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.nt, line 201, column" in err
    kb = KB.open(settings_for(store))
    assert kb.triple_count(EX + "graph/curated") == 200 and kb.triple_count(EX + "graph/x") == 200


def test_cli_load_and_stats_in_a_subprocess(tmp_path):
    data = tmp_path / "orgs.ttl"
    data.write_text(f"""@prefix dsi: <{EX}def/dsi#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
<{EX}id/organisation/a> a dsi:Organisation ; owl:sameAs <http://www.wikidata.org/entity/Q42> .
<{EX}id/organisation/b> a dsi:Organisation ; dsi:hidden true ;
    owl:sameAs <http://data.digitalsocial.eu/id/organization/0b> .
""")
    store = settings_for(tmp_path / "store").store  # the store under test (remote backend: its server)
    run = [sys.executable, "-m", "kb.cli"]
    loaded = subprocess.run(run + ["load", "--store", store, str(data)], capture_output=True, text=True,
                            cwd=PROJECT_ROOT)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "5 triples added"
    stats = subprocess.run(run + ["stats", "--json", "--store", store], capture_output=True, text=True,
                           cwd=PROJECT_ROOT)
    assert stats.returncode == 0, stats.stderr
    figures = json.loads(stats.stdout)
    # triples: the public merge (b is hidden); quads: every statement of every named graph
    assert figures["triples"] == 2 and figures["quads"] == 5 and figures["entities"]["Organisation"] == 1
    assert figures["hidden_entities"] == 1 and figures["graphs"] == 1
    assert figures["graph_triples"] == {f"{EX}graph/load/orgs": 5}
    assert figures["links"] == {"dsi2013-legacy": 1, "wikidata": 1}
    assert figures["last_modified"]
    text = subprocess.run(run + ["stats", "--store", store], capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert "triples: 2" in text.stdout and "  Organisation: 1" in text.stdout


def test_cli_stats_of_a_missing_store_exits_2(tmp_path, capsys):
    from kb.cli import main

    assert main(["stats", "--store", str(tmp_path / "none")]) == 2
    assert "dsikb init" in capsys.readouterr().err


VIEW_DATA = (  # a hidden organisation, its membership, a visible one, a statement in two graphs
    f'<{EX}id/organisation/a> <http://www.w3.org/2000/01/rdf-schema#label> "A" <{EX}graph/source/x> .\n'
    f'<{EX}id/organisation/a> <http://www.w3.org/2000/01/rdf-schema#label> "A" <{EX}graph/source/y> .\n'
    f'<{EX}id/organisation/h> <http://www.w3.org/2000/01/rdf-schema#label> "Spam" <{EX}graph/source/x> .\n'
    f'<{EX}id/organisation/h> <{EX}def/dsi#hidden> "true"^^<http://www.w3.org/2001/XMLSchema#boolean> <{EX}graph/source/x> .\n'
    f'<{EX}id/project/p> <http://www.w3.org/2000/01/rdf-schema#label> "P" <{EX}graph/source/x> .\n'
    f'<{EX}id/project/p#m> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{EX}def/dsi#ActivityMembership> <{EX}graph/source/x> .\n'
    f'<{EX}id/project/p#m> <{EX}def/dsi#organisation> <{EX}id/organisation/h> <{EX}graph/source/x> .\n'
    f'<{EX}id/project/p#m> <{EX}def/dsi#project> <{EX}id/project/p> <{EX}graph/source/x> .\n'
    f'<{EX}id/organisation/h> <{EX}def/dsi#takesPartIn> <{EX}id/project/p> <{EX}graph/derived> .\n')


def public_view(kb) -> set:
    import pyoxigraph as ox

    return {q.triple for q in kb.quads(graph=ox.DefaultGraph())}


def test_a_load_keeps_the_public_default_graph_as_a_full_rebuild_would(kb, tmp_path, path_kind):
    """The streamed update of the default graph after a load gives what publicview.rebuild derives
    (each triple once, hidden entities and their memberships left out), for quads, for triples into
    a new graph and into one that holds data, and when a later load hides a visible entity."""
    from kb.store import publicview

    data = tmp_path / "data.nq"
    data.write_text(VIEW_DATA)
    assert kb.load_file(data) == 9
    view = public_view(kb)
    texts = {str(t) for t in view}
    assert any('"A"' in t for t in texts) and sum('"A"' in t for t in texts) == 1
    assert not any("organisation/h>" in t or "p#m>" in t for t in texts)
    assert any("project/p>" in t for t in texts)
    more = tmp_path / "more.nt"
    more.write_text(f'<{EX}id/organisation/b> <http://www.w3.org/2000/01/rdf-schema#label> "B" .\n')
    assert kb.load_file(more, graph=EX + "graph/source/x") == 1
    hide = tmp_path / "hide.nt"
    hide.write_text(f'<{EX}id/organisation/a> <{EX}def/dsi#withdrawn> "2026-01-01" .\n')
    assert kb.load_file(hide, graph=EX + "graph/source/z") == 1
    loaded = public_view(kb)
    assert not any("organisation/a>" in str(t) for t in loaded)
    assert any('"B"' in str(t) for t in loaded)
    publicview.rebuild(kb)
    assert loaded == public_view(kb)


@pytest.mark.embedded_only("the embedded store's deferred public default graph (kb/store/loader.py)")
@pytest.mark.parametrize("afterwards", ["unchanged", "file gone"])
def test_cli_load_leaves_the_public_default_graph_to_the_next_open(tmp_path, capsys, afterwards):
    """`dsikb load` bulk loads only the named graphs; the next open brings the default graph to what
    a full re-derivation gives (from the file read again, or from the named graphs when the file is
    gone), once; a broken file leaves nothing pending."""
    from kb.cli import main
    from kb.store import KB, publicview

    data, bad = tmp_path / "data.nq", tmp_path / "bad.nt"
    data.write_text(VIEW_DATA)
    bad.write_text(BROKEN)
    store = tmp_path / "store"
    assert main(["load", "--store", str(store), str(data)]) == 0
    assert main(["load", "--store", str(store), "--graph", EX + "graph/x", str(bad)]) == 2
    capsys.readouterr()
    state = json.loads((tmp_path / "store.state.json").read_text())
    assert [e["path"] for e in state["view_pending"]] == [str(data.resolve())] and state["view_pending"][0]["loaded"]
    if afterwards == "file gone":
        data.unlink()
    kb = KB.open(settings_for(store))
    assert "view_pending" not in json.loads((tmp_path / "store.state.json").read_text())
    assert kb.generation == state["generation"] + 1
    view = public_view(kb)
    assert view and not any("organisation/h>" in str(t) for t in view)
    publicview.rebuild(kb)
    assert public_view(kb) == view
    assert not kb.apply_pending_view()  # done once
