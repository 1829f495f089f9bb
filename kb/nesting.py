"""How deep a body nests, found by a linear scan before any parser sees it.

Recursive-descent parsers crash on deep nesting (pyoxigraph's JSON-LD and SPARQL parsers segfault the
process at a few thousand levels; Python's ``json`` raises RecursionError), so bodies are checked
first. The scanners skip strings, IRIs, comments and escapes: a ``[`` inside a string is not nesting.
Text between those is measured in C (a regex keeps the brackets, ``accumulate`` sums them), so even
a megabyte of brackets takes milliseconds.
"""

from __future__ import annotations

import re
from itertools import accumulate

from kb.errors import BadRequest

MAX_DEPTH = 64

_NOT_BRACKET = re.compile(r"[^\[\](){}]+")
_DELTA = {"[": 1, "(": 1, "{": 1, "]": -1, ")": -1, "}": -1}
_JSON_PLAIN = re.compile(r'[^"]*')
_JSON_STRING_END = re.compile(r'\\.|"', re.S)
# IRIREF of Turtle and SPARQL: where this does not match, "<" is not an IRI (a SPARQL less-than)
_IRI_BODY = r'(?:[^<>"{}|^`\\\x00-\x20]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})*+>'
_IRIREF = re.compile("<" + _IRI_BODY)
_TURTLE_PLAIN = re.compile(r"""(?:[^"'<#\\]|<(?!""" + _IRI_BODY + "))*+")
_LINE_END = re.compile(r"[\r\n]")
_SHORT_END = {q: re.compile(r"\\.|[\r\n]|" + q, re.S) for q in "\"'"}
_LONG_END = {q: re.compile(r"\\.|" + q * 3, re.S) for q in "\"'"}


class TooDeep(BadRequest):
    """A body nests deeper than :data:`MAX_DEPTH` levels (a 400, before any parser runs)."""

    def __init__(self, depth: int, limit: int):
        super().__init__(f"the body nests {depth} levels deep; at most {limit} are accepted")
        self.depth, self.limit = depth, limit


class _Depth:
    """Running bracket depth over chunks of plain text (outside strings, IRIs and comments)."""

    def __init__(self, limit: int):
        self.limit, self.depth, self.deepest, self.broken = limit, 0, 0, False

    def add(self, chunk: str) -> None:
        kept = _NOT_BRACKET.sub("", chunk)
        if not kept:
            return
        sums = list(accumulate(map(_DELTA.__getitem__, kept), initial=self.depth))
        self.deepest = max(self.deepest, max(sums))
        self.depth = sums[-1]
        # an unmatched closer is a syntax error: parsers stop there, so nothing after it nests
        self.broken = min(sums) < 0
        if self.deepest > self.limit:
            raise TooDeep(self.deepest, self.limit)


def _skip(pattern: re.Pattern, text: str, at: int, closer: str) -> int:
    """The index after the ``closer`` that ends a string whose content starts at ``at``."""
    while True:
        m = pattern.search(text, at)
        if m is None:
            return len(text)
        if m.group() == closer or m.group() in "\r\n":
            return m.end()
        at = m.end()


def _scan(text: str, limit: int, step) -> int:
    """Deepest nesting, ``step(text, at)`` skipping the non-plain token at ``at``."""
    state, at, n = _Depth(limit), 0, len(text)
    plain = _JSON_PLAIN if step is _json_step else _TURTLE_PLAIN
    try:
        while at < n:
            m = plain.match(text, at)
            state.add(m.group())
            if state.broken:
                return state.deepest
            at = m.end()
            if at < n:
                at = step(text, at)
    except TooDeep:
        rest = _scan(text[m.end():], 10**9, step) if limit < 10**9 else 0  # the full depth, for the message
        raise TooDeep(max(state.deepest, state.depth + rest), limit) from None
    return state.deepest


def _json_step(text: str, at: int) -> int:
    return _skip(_JSON_STRING_END, text, at + 1, '"')


def _turtle_step(text: str, at: int) -> int:
    c = text[at]
    if c in "\"'":
        if text.startswith(c * 3, at):
            return _skip(_LONG_END[c], text, at + 3, c * 3)
        return _skip(_SHORT_END[c], text, at + 1, c)
    if c == "<":
        iri = _IRIREF.match(text, at)
        return iri.end() if iri is not None else at + 1
    if c == "#":
        end = _LINE_END.search(text, at)
        return len(text) if end is None else end.end()
    return at + 2  # a backslash escape outside strings (``ex:a\(b``)


def json_depth(text: str, limit: int = MAX_DEPTH) -> int:
    """Deepest ``[``/``{`` nesting of a JSON text; raises TooDeep past ``limit``."""
    return _scan(text, limit, _json_step)


def turtle_depth(text: str, limit: int = MAX_DEPTH) -> int:
    """Deepest bracket nesting (``(``, ``[``, ``{``) of a Turtle, N-Triples or SPARQL text:
    collections, blank-node property lists, groups and expressions."""
    return _scan(text, limit, _turtle_step)


sparql_depth = turtle_depth  # SPARQL lexes strings, IRIs and comments as Turtle does


def check_depth(raw: bytes, media_type: str, limit: int = MAX_DEPTH) -> None:
    """Refuse (400) a JSON, JSON-LD, Turtle or N-Triples body nested deeper than ``limit``."""
    text = raw.decode("utf-8", "replace")
    if len(_NOT_BRACKET.sub("", text)) <= limit:  # the usual case: too few brackets to nest deeper
        return
    if media_type in ("application/json", "application/ld+json"):
        json_depth(text, limit)
    elif media_type in ("text/turtle", "application/x-turtle", "application/n-triples"):
        turtle_depth(text, limit)
