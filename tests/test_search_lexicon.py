"""The search lexicon is compact: a type and a hidden flag per indexed entity, not every entity's IRI
and label in a dict, and rowids in name order instead of a rank (kb/index/search.py, Lexicon); what
searches answer is unchanged."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("text", ["data", "open", "lab", "digital social", "fab"])
def test_search_ranks_ties_by_name_then_iri_from_the_index(built_kb, text):
    """The lexicon keeps no entity's IRI or label (41 MiB at 1M statements): hits with equal scores
    still come by name (casefolded), then IRI, as the index says, and what a hit shows is the index's
    row."""
    from kb.index import search

    kb = built_kb
    result = search.find(kb, text, limit=100_000, include_hidden=True, correct=False)
    assert len(result.hits) > 5 and sum(result.types.values()) == result.total == len(result.hits)
    index = search.open_index(kb)
    try:
        rows = {iri: (typ, label or "", bool(int(hidden))) for iri, typ, label, hidden in
                index.conn.execute("SELECT iri, type, label, hidden FROM entity")}
    finally:
        index.close()
    keys = [(h.score, rows[h.iri][1].casefold(), h.iri) for h in result.hits]
    assert keys == sorted(keys)
    for h in result.hits:
        typ, label, hidden = rows[h.iri]
        assert (h.type, h.label, h.hidden) == (typ, label or h.iri.rsplit("/", 1)[-1], hidden)
    assert search.lexicon(kb).present_types() == {typ for typ, _, _ in rows.values()}


def test_the_lexicon_counts_every_word_as_the_index_does_from_mapped_columns(built_kb):
    """The words and their counts are columns of a mapped file, looked up by bisection: each of the
    index's words has its count, a word it does not have has none, and only words without digits
    are offered as spellings."""
    from kb.index import search
    from kb.index.columns import Strings

    lex = search.lexicon(built_kb)
    index = search.open_index(built_kb)
    try:
        vocab = dict(index.conn.execute("SELECT term, doc FROM vocab"))
    finally:
        index.close()
    assert isinstance(lex.words, Strings) and len(lex.words) == len(vocab) > 1000
    assert all(lex.docs(term) == n for term, n in vocab.items())
    assert lex.docs("zzzqqqxx") == 0 and lex.docs("") == 0 and lex.docs("x" * (lex.longest + 1)) == 0
    assert lex.fuzzy == sorted(t for t in vocab if not any(c.isdigit() for c in t))
    assert search.suggest("democrazy", lex) == "democracy"
