"""Columns of strings in a mapped file (kb/index/columns.py): what a list of str gives, read back
from a file the kernel maps, and nothing left on disk or in the heap."""

from __future__ import annotations

import os
import pickle
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kb.index import browse
from kb.index.browse_table import Multi
from kb.index.columns import Ints, Mapped, Strings, Writer

TEXT = st.text(st.characters(codec=None), max_size=30)  # any code point, lone surrogates and NUL too


@settings(max_examples=150, deadline=None)
@given(st.lists(TEXT, max_size=60), st.data())
def test_a_column_reads_back_as_the_list_it_was_made_of(items, data):
    col = Strings(items, lookup=data.draw(st.booleans()))
    assert len(col) == len(items)
    assert list(col) == items and col == items and col[:] == items
    for i in range(-len(items), len(items)):
        assert col[i] == items[i]
    start, stop, step = data.draw(st.integers(-70, 70)), data.draw(st.integers(-70, 70)), data.draw(st.integers(1, 5))
    assert col[start:stop:step] == items[start:stop:step]
    for bad in (len(items), -len(items) - 1):
        with pytest.raises(IndexError):
            col[bad]


@settings(max_examples=150, deadline=None)
@given(st.lists(TEXT, max_size=60), TEXT, st.booleans())
def test_a_column_finds_the_first_position_of_a_value_or_says_none(items, other, lookup):
    col = Strings(items, lookup=lookup)
    for value in [*items, other]:
        if value in items:
            assert col.index_of(value) == items.index(value) == col.index(value)
            assert value in col
        else:
            assert col.index_of(value) is None and value not in col
            with pytest.raises(ValueError):
                col.index(value)
    assert 3 not in col and col.count(other) == items.count(other)


@settings(max_examples=100, deadline=None)
@given(st.lists(TEXT, max_size=60), TEXT)
def test_an_ordered_column_is_searched_by_bisection_of_its_items(items, other):
    items = sorted(items)
    writer = Writer()
    col = writer.strings(items, ordered=True)
    writer.finish()
    for value in [*items, other]:
        assert col.index_of(value) == (items.index(value) if value in items else None)
    if len(set(items)) > 1:
        with pytest.raises(ValueError):
            Writer().strings(items[::-1], ordered=True)


def test_columns_of_one_build_share_one_mapping_and_pickle_into_one():
    writer = Writer()
    a = writer.strings(["https://w3id.org/dsi/id/organisation/waag", "b"], lookup=True)
    b = writer.strings(["Waag", "Ærø — 東京 🙂", ""])
    writer.finish()
    assert a._file is b._file is writer.file
    a2, b2 = pickle.loads(pickle.dumps((a, b)))
    assert a2 == a and b2 == ["Waag", "Ærø — 東京 🙂", ""] and a2._file is b2._file is not a._file
    assert a2.index_of("b") == 1 and b2.index_of("") == 2


def test_an_empty_column_reads_as_an_empty_list():
    writer = Writer()
    col, other = writer.strings([], lookup=True), writer.strings([])
    writer.finish()
    assert len(col) == 0 and list(col) == [] and col == [] and col.index_of("x") is None and "x" not in other
    assert col.nbytes == other.nbytes == 8  # its one offset
    nothing = Writer()
    nothing.finish()
    assert len(nothing.file) == 0  # nothing written: nothing mapped


def test_the_text_lives_in_an_unlinked_file_the_kernel_maps(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    items = [f"https://w3id.org/dsi/id/organisation/o{i:06d}" for i in range(20000)]
    col = Strings(items, lookup=True)
    assert os.listdir(tmp_path) == []  # unlinked at once: nothing is left behind
    with open("/proc/self/maps") as maps:
        mapped = [line for line in maps if str(tmp_path) in line]
    assert mapped and all("(deleted)" in line for line in mapped)
    assert col.nbytes >= sum(len(i) for i in items) and col.index_of(items[12345]) == 12345


def test_the_browse_tables_keep_their_strings_in_columns_of_one_file(built_kb):
    tabs = browse.tables(built_kb)
    orgs, projects = tabs["organisation"], tabs["project"]
    assert isinstance(orgs.iris, Strings) and isinstance(orgs.labels, Strings)
    multis = [m for tab in tabs.values() for m in (*tab.facet_values.values(), *tab.located.values(), tab.kinds,
                                                  tab.related) if m is not None]
    columns = [c for tab in tabs.values() for c in (tab.iris, tab.labels, tab.starts, tab.added, tab.counts)]
    columns += [orgs.shared.others, *(m.ids for m in multis), *(m.offsets for m in multis)]
    assert all(isinstance(c, (Strings, Ints)) for c in columns)
    assert len({id(c._file) for c in columns}) == 1  # one file, one mapping for the generation
    iri = "https://w3id.org/dsi/id/organisation/waag-society"
    pos = orgs.position_of(iri)
    assert pos is not None and orgs.iris[pos] == iri and "Waag" in orgs.labels[pos]
    assert orgs.position_of(iri + "-not") is None and projects.position_of(iri) is None
    # related IRIs are found by bisection too: Waag's projects are those that list it as a partner
    related = orgs.row(pos).related
    assert related and all(orgs.shared.others[orgs.shared.other_at(r)] == r for r in related)
    assert orgs.shared.other_at(iri + "-not") is None
    assert set(projects.related_to([iri])) == {projects.position_of(r) for r in related} - {None}
    assert all(iri in projects.row(p).related for p in projects.related_to([iri]))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=40))
def test_floats_read_back_bit_for_bit(values):
    writer = Writer()
    col = writer.floats(values)
    writer.finish()
    assert [repr(v) for v in col] == [repr(v) for v in values] and len(col.view) == len(values)


def test_the_maps_columns_are_a_mapped_file_too(built_kb):
    from kb.index import mapdata

    spots = mapdata.spots(built_kb)
    assert all(isinstance(col, memoryview) and col.format == "d" for col in spots.points.values())
    assert isinstance(spots.partners.ids, Ints) and isinstance(spots.partners.offsets, Ints)
    orgs = spots.tabs["organisation"]
    placed = [pos for pos in range(len(orgs)) if spots.points["organisation"][2 * pos] == spots.points["organisation"][2 * pos]]
    assert len(placed) > 1000


def test_a_mapped_file_pickles_by_value():
    file = Mapped([b"abc", b"def"])
    again = pickle.loads(pickle.dumps(file))
    assert bytes(again.view) == b"abcdef" and again is not file


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-2**31, 2**31 - 1), max_size=80), st.data())
def test_ints_read_back_as_the_ints_they_were_made_of(values, data):
    col = Ints(values)
    assert len(col) == len(values) and list(col) == values and col == values
    start, stop = data.draw(st.integers(-90, 90)), data.draw(st.integers(-90, 90))
    assert list(col[start:stop]) == values[start:stop]
    assert pickle.loads(pickle.dumps(col)) == values


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 30).flatmap(lambda n: st.tuples(
    st.just(n), st.lists(st.tuples(st.integers(0, max(n - 1, 0)), st.integers(0, 40)), max_size=100 if n else 0))))
def test_a_multi_moved_into_a_mapped_file_answers_as_before(case):
    n, pairs = case
    multi = Multi(n, pairs)
    writer = Writer()
    mapped = multi.mapped(writer)
    writer.finish()
    again = pickle.loads(pickle.dumps(mapped))
    for m in (mapped, again):
        assert isinstance(m.ids, Ints) and isinstance(m.offsets, Ints)
        for pos in range(n):
            assert list(m.get(pos)) == sorted({v for p, v in pairs if p == pos})
            assert m.has(pos) == any(p == pos for p, _ in pairs)
        by_id = m.transposed(41)
        for v in range(41):
            assert list(by_id.get(v)) == sorted({p for p, w in pairs if w == v})
