"""How deep a body nests, found by a linear scan before any parser sees it.

Recursive-descent parsers crash on deep nesting (pyoxigraph's JSON-LD parser segfaults the process
at ~4,000 levels; Python's ``json`` raises RecursionError), so submissions check the depth first.
The scanners skip strings, IRIs, comments and escapes: a ``[`` inside a string is not nesting.
Each step jumps to the next interesting character with a compiled regex: linear in the body.
"""

from __future__ import annotations

import re

from kb.errors import BadRequest

MAX_DEPTH = 64

_JSON_NEXT = re.compile(r'[\[\]{}"]')
_JSON_STRING_END = re.compile(r'\\.|"', re.S)
_TURTLE_NEXT = re.compile(r"""[\[\]()"'<#\\]""")
_IRI_END = re.compile(r"[>\s]")
_LINE_END = re.compile(r"[\r\n]")
_SHORT_END = {q: re.compile(r"\\.|[\r\n]|" + q, re.S) for q in "\"'"}
_LONG_END = {q: re.compile(r"\\.|" + q * 3, re.S) for q in "\"'"}


class TooDeep(BadRequest):
    """A body nests deeper than :data:`MAX_DEPTH` levels (a 400, before any parser runs)."""

    def __init__(self, depth: int, limit: int):
        super().__init__(f"the body nests {depth} levels deep; at most {limit} are accepted")
        self.depth, self.limit = depth, limit


def _skip(pattern: re.Pattern, text: str, at: int, closer: str) -> int:
    """The index after the ``closer`` that ends a string starting before ``at`` (escapes skipped)."""
    while True:
        m = pattern.search(text, at)
        if m is None:
            return len(text)
        if m.group() == closer or m.group() in "\r\n":
            return m.end()
        at = m.end()


def json_depth(text: str, limit: int = MAX_DEPTH) -> int:
    """Deepest ``[``/``{`` nesting of a JSON text; raises TooDeep as soon as it passes ``limit``."""
    depth = deepest = at = 0
    while (m := _JSON_NEXT.search(text, at)) is not None:
        c, at = m.group(), m.end()
        if c == '"':
            at = _skip(_JSON_STRING_END, text, at, '"')
        elif c in "[{":
            depth += 1
            if depth > limit:
                raise TooDeep(_finish(text, at, depth, json_depth), limit)
            deepest = max(deepest, depth)
        else:
            depth = max(0, depth - 1)
    return deepest


def turtle_depth(text: str, limit: int = MAX_DEPTH) -> int:
    """Deepest collection/blank-node-list nesting (``(``, ``[``) of a Turtle or N-Triples text."""
    depth = deepest = at = 0
    while (m := _TURTLE_NEXT.search(text, at)) is not None:
        c, at = m.group(), m.end()
        if c in "\"'":
            if text.startswith(c * 2, at):
                at = _skip(_LONG_END[c], text, at + 2, c * 3)
            else:
                at = _skip(_SHORT_END[c], text, at, c)
        elif c == "<":
            end = _IRI_END.search(text, at)
            at = len(text) if end is None else end.end() if end.group() == ">" else end.start()
        elif c == "#":
            end = _LINE_END.search(text, at)
            at = len(text) if end is None else end.end()
        elif c == "\\":
            at += 1
        elif c in "[(":
            depth += 1
            if depth > limit:
                raise TooDeep(_finish(text, at, depth, turtle_depth), limit)
            deepest = max(deepest, depth)
        else:
            depth = max(0, depth - 1)
    return deepest


def _finish(text: str, at: int, depth: int, scanner) -> int:
    """The full depth, for the message (the rest scanned with no limit, bounded by the body size)."""
    try:
        return depth + max(0, scanner(text[at:], limit=10**9) - 0)
    except TooDeep:  # pragma: no cover - the limit is never reached
        return depth


def check_depth(raw: bytes, media_type: str, limit: int = MAX_DEPTH) -> None:
    """Refuse (400) a JSON, JSON-LD, Turtle or N-Triples body nested deeper than ``limit``."""
    text = raw.decode("utf-8", "replace")
    if media_type in ("application/json", "application/ld+json"):
        json_depth(text, limit)
    elif media_type in ("text/turtle", "application/x-turtle", "application/n-triples"):
        turtle_depth(text, limit)
