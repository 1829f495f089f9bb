"""Work done in a child process over the same store (kb/store/child.py): the search index is built
there, so the web process keeps none of the build's scratch. The child sees what the store holds,
writes just made included; its result, its errors and its death reach the caller; an in-memory
store does the work in the caller."""

from __future__ import annotations

import os

import pyoxigraph as ox
import pytest

from kb.errors import BadRequest
from kb.index import browse, search
from kb.store import KB, child
from tests.conftest import settings_for

LABEL = "http://www.w3.org/2000/01/rdf-schema#label"


def pid_and_label(kb, iri: str):
    """(this process's id, the entity's rdfs:label): run in the child."""
    labels = [q.object.value for q in kb.quads(ox.NamedNode(iri), ox.NamedNode(LABEL), None, None)]
    return os.getpid(), labels


def refuse(kb, message: str):
    raise BadRequest(message)


def die(kb):
    os._exit(3)


def moved_once(kb, marker: str):
    """Fails as a read-only open does when the writer compacted its files, the first time only."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise OSError("IO error: No such file or directory: While open a file for random read: 000042.sst")
    return "read"


def test_the_child_reads_the_same_store_and_sends_its_answer_back(kb_copy):
    iri = "https://w3id.org/dsi/id/organisation/made-just-now"
    kb_copy.update(f'INSERT DATA {{ GRAPH <{kb_copy.graphs.curated}> {{ <{iri}> <{LABEL}> "Made just now" }} }}')
    pid, labels = child.run(kb_copy, pid_and_label, iri)
    assert pid != os.getpid() and set(labels) == {"Made just now"}  # another process, the write seen


def test_an_error_in_the_child_is_raised_here_as_it_was(kb_copy):
    with pytest.raises(BadRequest, match="no such thing"):
        child.run(kb_copy, refuse, "no such thing")


def test_a_child_that_dies_is_an_error_here_not_a_hang(kb_copy):
    with pytest.raises(child.Crashed, match="exit code 3"):
        child.run(kb_copy, die)


def test_files_moved_under_the_child_make_it_try_again_other_errors_do_not(kb_copy, tmp_path):
    assert child.run(kb_copy, moved_once, str(tmp_path / "marker")) == "read"
    with pytest.raises(BadRequest):
        child.run(kb_copy, refuse, "No such file, but not from the store")  # not an OSError: raised at once


def test_an_in_memory_store_does_the_work_here():
    kb = KB(ox.Store(), settings_for("/nonexistent"))
    assert not child.possible(kb)
    pid, labels = child.run(kb, pid_and_label, "https://w3id.org/dsi/id/organisation/x")
    assert pid == os.getpid() and labels == []


def test_builds_over_a_small_store_stay_here_over_a_large_one_go_to_a_child(kb_copy, monkeypatch):
    assert child.worth_it(kb_copy) is False  # the real data: fewer than IN_PLACE_BELOW typed resources
    monkeypatch.setattr(child, "IN_PLACE_BELOW", 1_000)
    assert child.worth_it(kb_copy) is True
    monkeypatch.setattr(child, "IN_PLACE_BELOW", 50_000)

    def no_child(*args, **kwargs):
        raise AssertionError("a small store's build started a child process")

    monkeypatch.setattr(child, "run", no_child)
    assert search.find(kb_copy, "fairphone", wait=600, fresh_wait=600).hits
    assert browse.tables(kb_copy)["organisation"].kb is kb_copy


def test_the_search_index_built_in_a_child_finds_a_write_just_made(kb_copy, monkeypatch):
    monkeypatch.setattr(child, "IN_PLACE_BELOW", 1)  # as for a large store
    built_here = []
    monkeypatch.setattr(search, "_fill", lambda *a: built_here.append(a))  # only a child may build it
    iri = "https://w3id.org/dsi/id/organisation/zyxwv-collective"
    kb_copy.update(f"INSERT DATA {{ GRAPH <{kb_copy.graphs.curated}> {{ <{iri}> a <{kb_copy.names.dsi('Organisation')}> ; "
                   f'<{LABEL}> "Zyxwv Collective" }} }}')  # the test's own constants, no request value
    found = search.find(kb_copy, "zyxwv", wait=600, fresh_wait=600)
    assert [h.iri for h in found.hits] == [iri] and not built_here
    tab = browse.tables(kb_copy)["organisation"]  # built in a child too, given this process's store
    assert tab.kb is kb_copy and iri in tab.iris
    row, = tab.rows_at([tab.iris.index(iri)])
    assert (row.iri, row.label) == (iri, "Zyxwv Collective")
    path = search.index_path(kb_copy)
    if path is not None:  # an on-disk store: the file beside it, for every app process
        assert path.exists()
    else:  # a remote store: this process's own file, already unlinked (nothing left behind)
        index = search.open_index(kb_copy)
        try:
            (_, _, file), = [row for row in index.conn.execute("PRAGMA database_list") if row[1] == "main"]
            assert index.shared and file and not os.path.exists(file)
        finally:
            index.close()


def _columns(tab) -> tuple:
    multis = {**tab.facet_values, **{"located " + k: m for k, m in tab.located.items()},
              "kinds": tab.kinds, "related": tab.related}
    return (tab.type, tab.iris, tab.labels, tab.starts, tab.added, list(tab.counts), tab.hidden, tab.all, tab.bits,
            {k: (list(m.ids), list(m.offsets)) for k, m in multis.items() if m is not None},
            tab.shared.values, tab.shared.others, tab.shared.value_labels, tab.shared.labels_in)


def test_browse_tables_built_in_a_child_are_the_ones_built_here(built_kb):
    from kb.index.browse_table import build_all

    here = build_all(built_kb)
    there = child.run(built_kb, build_all)
    assert list(there) == list(here) and len(here["organisation"]) > 100
    for type_, tab in here.items():
        assert _columns(there[type_]) == _columns(tab), type_
        assert there[type_].kb is None and there[type_].memo == {}  # the receiver gives its store
    assert there["organisation"].shared is there["project"].shared  # still one Shared for all
