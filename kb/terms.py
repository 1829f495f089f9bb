"""Terms, not text: request values become parsed pyoxigraph terms before any query sees them.

``iri()`` parses and checks an IRI (pyoxigraph refuses spaces, ``<>"{}|^`\\`` and a missing scheme),
raising a :class:`FieldProblem` that names the field. ``bindings()`` turns ``{"e": term}`` into the
``substitutions`` of ``Store.query``. ``sparql_term()`` is the ONE place a term becomes SPARQL text
(for updates, which take no substitutions, and for remote stores): it takes only pyoxigraph term
objects, whose ``str()`` is valid N-Triples/SPARQL syntax by construction.
"""

from __future__ import annotations

import re

import pyoxigraph as ox

from kb.errors import Unprocessable

TERM_TYPES = (ox.NamedNode, ox.Literal, ox.BlankNode)
TEXT_TYPES = TERM_TYPES + (ox.Variable, ox.Triple, ox.Quad)


class FieldProblem(Unprocessable):
    """A value of one field is unusable (an invalid IRI, a lone surrogate): 422 naming the field."""

    def __init__(self, field: str, message: str, *, status: int | None = None):
        super().__init__(f"{field}: {message}", status=status)
        self.field = field
        self.results = [{"field": field, "path": field, "severity": "Violation", "message": message}]


def iri(value, field: str = "iri") -> ox.NamedNode:
    """``value`` as a NamedNode, or a FieldProblem saying why it is not an absolute IRI."""
    if not isinstance(value, str) or not value:
        raise FieldProblem(field, "give an IRI such as https://example.org/")
    try:
        return ox.NamedNode(value)
    except ValueError as exc:
        shown = value if len(value) <= 200 else value[:200] + "…"
        raise FieldProblem(field, f"{shown!r} is not a valid IRI ({exc}); give a full address "
                                  "such as https://example.org/") from None


def website(value: str, field: str = "website") -> ox.NamedNode:
    """A website IRI; ``www.example.org`` (no scheme) is read as ``https://www.example.org/``."""
    text = value.strip()
    if re.fullmatch(r"(?i)www\.[^\s/:]+\.[^\s/:]+(/\S*)?", text):
        text = "https://" + text + ("" if "/" in text else "/")
    return iri(text, field)  # the scheme (http or https) is the shapes' to check, with the other fields


def bindings(bind: dict | None) -> dict:
    """``{"e": term}`` as pyoxigraph ``substitutions`` (``{Variable("e"): term}``); only terms pass."""
    out = {}
    for name, term in (bind or {}).items():
        if not isinstance(term, TERM_TYPES):
            raise TypeError(f"bind {name!r} to a pyoxigraph term, not {type(term).__name__}")
        out[ox.Variable(name)] = term
    return out


def sparql_term(term) -> str:
    """The one place a term becomes SPARQL text: only parsed pyoxigraph terms (never ``str``).
    A list (or other iterable) of terms or triples becomes their texts joined by spaces: the
    content of a ``VALUES`` block or of ``INSERT DATA``/``DELETE DATA``; a tuple is one row of a
    multi-variable ``VALUES`` block: ``(<s> <p>)``."""
    if isinstance(term, tuple):
        return "(" + " ".join(sparql_term(t) for t in term) + ")"
    if not isinstance(term, TEXT_TYPES + (str, bytes)) and hasattr(term, "__iter__"):
        return " ".join(sparql_term(t) for t in term)
    if not isinstance(term, TEXT_TYPES):
        raise TypeError(f"only pyoxigraph terms become SPARQL text, not {type(term).__name__}")
    if isinstance(term, ox.Quad):  # a quad as a triple inside ``GRAPH <g> { ... }``: the caller names g
        term = term.triple
    return str(term) + (" ." if isinstance(term, ox.Triple) else "")


def inline_bindings(sparql: str, bind: dict | None) -> str:
    """For stores without ``substitutions`` (remote SPARQL endpoints): the bound values as a
    ``VALUES`` block opening the query's first group, each term written by :func:`sparql_term`."""
    if not bind:
        return sparql
    block = " ".join(f"VALUES {sparql_term(var)} {{ {sparql_term(term)} }}" for var, term in bindings(bind).items())
    at = sparql.index("{")
    return sparql[:at + 1] + " " + block + " " + sparql[at + 1:]

