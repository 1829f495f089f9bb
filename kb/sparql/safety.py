"""Checks a SPARQL request before anything evaluates it: what kind of operation it is, and whether it
asks the server to reach out over the network.

pyoxigraph evaluates ``SERVICE`` by calling the named endpoint over HTTP and ``LOAD`` by fetching a
URL: on a public endpoint either is a server-side request forgery. Both are refused here, from the
query's tokens (comments, strings and IRIs cannot hide or fake a keyword), before evaluation.
``SERVICE`` to an endpoint on the operator's allow-list (``DSIKB_SERVICE_ALLOWLIST``) is let through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from kb.errors import BadRequest

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n\r]*)
  | (?P<string>'''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"
              |'(?:[^'\\\n\r]|\\.)*'|"(?:[^"\\\n\r]|\\.)*")
  | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
  | (?P<var>[?$][A-Za-z0-9_\u00B7-\uFFFF]+)
  | (?P<word>[A-Za-z_\u00C0-\uFFFF][\w\-.\u00B7-\uFFFF]*(?::[\w\-.:%\\\u00B7-\uFFFF]*)?
            |:[\w\-.:%\\\u00B7-\uFFFF]*)
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)

_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
QUERY_FORMS = {"SELECT", "ASK", "CONSTRUCT", "DESCRIBE"}
UPDATE_WORDS = {"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH"}


class Token(NamedTuple):
    kind: str
    text: str


@dataclass
class Analysis:
    """What a request's text is: ``form`` is SELECT/ASK/CONSTRUCT/DESCRIBE for a query, UPDATE for an
    update, None when it cannot tell (the parser will then say what is wrong)."""

    form: str | None
    has_dataset: bool = False
    services: list[str] = field(default_factory=list)
    loads: bool = False
    undeclared: set[str] = field(default_factory=set)
    relative_iris: bool = False

    @property
    def is_update(self) -> bool:
        return self.form == "UPDATE"

    @property
    def tabular(self) -> bool:
        return self.form == "SELECT"


def tokens(text: str) -> list[Token]:
    """The significant tokens of a SPARQL text (no whitespace, no comments)."""
    return [Token(m.lastgroup, m.group()) for m in _TOKEN.finditer(text)
            if m.lastgroup != "ws" and m.lastgroup != "comment"]


def spans(text: str) -> list[tuple[str, str, int]]:
    """The significant tokens with their start offsets: ``(kind, text, start)``."""
    return [(m.lastgroup, m.group(), m.start()) for m in _TOKEN.finditer(text)
            if m.lastgroup != "ws" and m.lastgroup != "comment"]


def analyse(text: str, prefixes: dict[str, str] | None = None) -> Analysis:
    """Classify a query or update and collect its ``SERVICE`` targets, ``LOAD`` and ``FROM`` use."""
    toks = tokens(text)
    declared = dict(prefixes or {})
    form = None
    i = 0
    # prologue: BASE <iri> | PREFIX p: <iri>
    while i < len(toks):
        word = toks[i].text.upper() if toks[i].kind == "word" else ""
        if word == "BASE" and i + 1 < len(toks):
            i += 2
        elif word == "PREFIX" and i + 2 < len(toks):
            declared[toks[i + 1].text.rstrip(":")] = toks[i + 2].text[1:-1]
            i += 3
        else:
            break
    if i < len(toks) and toks[i].kind == "word":
        first = toks[i].text.upper()
        if first in QUERY_FORMS:
            form = first
        elif first in UPDATE_WORDS:
            form = "UPDATE"
    result = Analysis(form)
    own: set[str] = set()
    for j, tok in enumerate(toks):
        if tok.kind == "iri" and not _ABSOLUTE.match(tok.text[1:-1]):
            result.relative_iris = True
        if tok.kind != "word":
            continue
        if ":" in tok.text:
            result.undeclared.add(tok.text.split(":", 1)[0])
        word = tok.text.upper()
        if word == "PREFIX" and j + 2 < len(toks) and toks[j + 2].kind == "iri":
            declared[toks[j + 1].text.rstrip(":")] = toks[j + 2].text[1:-1]
            own.add(toks[j + 1].text.rstrip(":"))
        elif word == "FROM":
            result.has_dataset = True
        elif word == "LOAD":
            result.loads = True
        elif word == "SERVICE":
            k = j + 1
            if k < len(toks) and toks[k].text.upper() == "SILENT":
                k += 1
            target = toks[k] if k < len(toks) else Token("other", "")
            result.services.append(_service_iri(target, declared))
    result.undeclared -= own | {"_"}
    return result


def _service_iri(tok: Token, prefixes: dict[str, str]) -> str:
    if tok.kind == "iri":
        return tok.text[1:-1]
    if tok.kind == "word" and ":" in tok.text:
        prefix, local = tok.text.split(":", 1)
        if prefix in prefixes:
            return prefixes[prefix] + local
    return tok.text  # a variable or something unresolvable: never on an allow-list


def check(text: str, *, allowlist: frozenset[str] | set[str] = frozenset(),
          prefixes: dict[str, str] | None = None) -> Analysis:
    """Analyse ``text`` and refuse (400, with the reason) what would make the server fetch from the web."""
    found = analyse(text, prefixes)
    if found.loads:
        raise BadRequest(
            "LOAD is refused: this endpoint never fetches data from the web on a request's behalf. "
            "Load files with `dsikb load` instead."
        )
    for target in found.services:
        if target not in allowlist:
            allowed = ", ".join(sorted(allowlist)) or "none"
            raise BadRequest(
                f"SERVICE {target or '(missing endpoint)'} is refused: this endpoint only calls the "
                f"federated endpoints its operator allow-listed (DSIKB_SERVICE_ALLOWLIST: {allowed})."
            )
    return found


def parse_allowlist(value: str) -> frozenset[str]:
    """The allow-list setting (space-separated endpoint IRIs) as a set."""
    return frozenset(v for v in value.split() if v)
