"""Checks a SPARQL request before anything evaluates it: what kind of operation it is, whether it is
small enough to parse safely, and whether it asks the server to reach out over the network.

pyoxigraph evaluates ``SERVICE`` by calling the named endpoint over HTTP and ``LOAD`` by fetching a
URL: on a public endpoint either is a server-side request forgery. Both are found in the *parsed*
operation (rdflib's SPARQL parser: pyoxigraph exposes no algebra) and refused before evaluation;
``SERVICE`` to an endpoint on the operator's allow-list (``DSIKB_SERVICE_ALLOWLIST``) is let through.
See docs/decisions/2026-12-01-sparql-safety.md.
"""

from __future__ import annotations

import re
import sys
import threading
from dataclasses import dataclass, field
from typing import Iterator, NamedTuple

from kb.errors import BadRequest

# The SPARQL 1.1 terminals (grammar section 19.8) that decide where a keyword can be: strings, IRIs,
# comments, variables, blank node labels, prefixed names (PN_PREFIX may hold dots but never end with
# one), numbers, language tags. A keyword is letters, digits and "_" only, so ``true.SERVICE`` is
# three tokens. Alternatives are tried in order; each is a longest match of its terminal.
_PN_CHARS_BASE = r"A-Za-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02FF\u0370-\u037D\u037F-\u1FFF\u200C-\u200D" \
                 r"\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD\U00010000-\U000EFFFF"
_PN_CHARS_U = _PN_CHARS_BASE + "_"
_PN_CHARS = _PN_CHARS_U + r"\-0-9\u00B7\u0300-\u036F\u203F-\u2040"
_PLX = r"%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%]"
_PN_PREFIX = rf"[{_PN_CHARS_BASE}](?:[{_PN_CHARS}.]*[{_PN_CHARS}])?"
_PN_LOCAL = rf"(?:[{_PN_CHARS_U}:0-9]|{_PLX})(?:(?:[{_PN_CHARS}.:]|{_PLX})*(?:[{_PN_CHARS}:]|{_PLX}))?"
_EXPONENT = r"[eE][+-]?[0-9]+"
_TOKEN = re.compile(
    rf"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n\r]*)
  | (?P<string>'''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"
              |'(?:[^'\\\n\r]|\\.)*'|"(?:[^"\\\n\r]|\\.)*")
  | (?P<iri><[^<>"{{}}|^`\\\x00-\x20]*>)
  | (?P<var>[?$][{_PN_CHARS_U}0-9][{_PN_CHARS_U}0-9\u00B7\u0300-\u036F\u203F-\u2040]*)
  | (?P<bnode>_:[{_PN_CHARS_U}0-9](?:[{_PN_CHARS}.]*[{_PN_CHARS}])?)
  | (?P<pname>(?:{_PN_PREFIX})?:(?:{_PN_LOCAL})?)
  | (?P<number>[0-9]+\.[0-9]*{_EXPONENT}|\.?[0-9]+{_EXPONENT}|[0-9]*\.[0-9]+|[0-9]+)
  | (?P<lang>@[A-Za-z]+(?:-[A-Za-z0-9]+)*)
  | (?P<word>[A-Za-z][A-Za-z0-9_]*)
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)

_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
QUERY_FORMS = {"SELECT", "ASK", "CONSTRUCT", "DESCRIBE"}
UPDATE_WORDS = {"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH"}

# Limits that keep every parser's recursion far from its stack (measured in the decision note:
# Oxigraph 0.5.13 overflows past ~1,000 nested groups and ~2,000 chained BINDs).
MAX_DEPTH = 64
MAX_OPERATIONS = 500
_OPENERS = {"(": 1, "{": 1, "[": 1, ")": -1, "}": -1, "]": -1}
# Tokens that each add a level to the parse tree Oxigraph builds and walks recursively, nested or not.
_OPERATION_WORDS = {"UNION", "OPTIONAL", "MINUS", "FILTER", "BIND", "SERVICE", "GRAPH", "VALUES",
                    "EXISTS", "LATERAL"}
_OPERATION_MARKS = set(".;,/|+-*=<>!&")
_PATH_MARKS = set("/|+*^")  # property paths (and arithmetic): may walk much of the store


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
    depth: int = 0
    operations: int = 0
    checked: str = "fast path"  # or "parsed": how SERVICE/LOAD were ruled out or found
    # what kb/sparql/lanes.py classifies by: keywords (upper case), a constant in subject position,
    # the LIMIT, property-path or arithmetic operators
    words: set[str] = field(default_factory=set)
    anchored: bool = False
    limit: int | None = None
    offset: int | None = None
    path_operators: int = 0
    separators: int = 0  # "." and "{": more than the independent parts a query can have (products.py)

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
    """Classify a query or update from its tokens: form, FROM use, prefixes it uses without declaring
    them, relative IRIs, nesting depth and size. SERVICE and LOAD are left to :func:`check`."""
    toks = tokens(text)
    form = None
    i = 0
    while i < len(toks):  # prologue: BASE <iri> | PREFIX p: <iri>
        word = toks[i].text.upper() if toks[i].kind == "word" else ""
        if word == "BASE":
            i += 2
        elif word == "PREFIX":
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
    depth = 0
    data = -1  # the depth of an INSERT DATA / DELETE DATA block being read: plain triples, no operators
    previous = ""
    for j, tok in enumerate(toks):
        kind = tok.kind
        if kind == "iri" or kind == "pname":
            if previous == "{" or previous == ".":
                result.anchored = True
        elif kind == "number" and previous in ("LIMIT", "OFFSET"):
            value = int(tok.text) if tok.text.isdigit() else None
            if previous == "LIMIT":
                result.limit = value
            else:
                result.offset = value
        elif kind == "other" and tok.text in _PATH_MARKS and not (
                tok.text == "*" and previous in ("SELECT", "DISTINCT", "REDUCED", "(")):
            result.path_operators += 1
        previous = tok.text.upper() if kind == "word" else tok.text
        if kind == "other":
            step = _OPENERS.get(tok.text)
            if step is not None:
                depth = max(0, depth + step)
                if depth > result.depth:
                    result.depth = depth
                if depth <= data:
                    data = -1
            if tok.text in _OPERATION_MARKS and data < 0:
                result.operations += 1
            if tok.text == "." or tok.text == "{":
                result.separators += 1
        elif kind == "iri":
            if not _ABSOLUTE.match(tok.text[1:-1]):
                result.relative_iris = True
        elif kind == "pname":
            result.undeclared.add(tok.text.split(":", 1)[0])
        elif kind == "word":
            word = tok.text.upper()
            result.words.add(word)
            if word in _OPERATION_WORDS and data < 0:
                result.operations += 1
            if word == "DATA" and j + 1 < len(toks) and toks[j + 1].text == "{":
                data = depth
            if word == "PREFIX" and j + 2 < len(toks) and toks[j + 2].kind == "iri":
                own.add(toks[j + 1].text.split(":", 1)[0])
            elif word == "FROM":
                result.has_dataset = True
            elif word == "LOAD":
                result.loads = True
    result.undeclared -= own
    return result


def check(text: str, *, allowlist: frozenset[str] | set[str] = frozenset(),
          prefixes: dict[str, str] | None = None) -> Analysis:
    """Analyse ``text`` and refuse (400, with the reason) what is too deeply nested to parse safely or
    would make the server fetch from the web; otherwise return the analysis."""
    found = analyse(text, prefixes)
    if found.depth > MAX_DEPTH:
        raise BadRequest(f"the query nests {found.depth} levels deep (brackets, braces and parentheses); "
                         f"the limit is {MAX_DEPTH}. Flatten it, e.g. with VALUES or fewer nested groups.")
    if found.operations > MAX_OPERATIONS:
        raise BadRequest(f"the query has {found.operations} operators and pattern separators (UNION, "
                         f"OPTIONAL, FILTER, BIND, '.', '+', '||', ...); the limit is {MAX_OPERATIONS}. "
                         "Split it into several queries, or list values with VALUES.")
    if _may_reach_out(text) and not _only_inside_iris(text):
        found.checked = "parsed"
        services, loads = _outbound(text, found, prefixes or {})
        if loads:
            raise BadRequest(
                "LOAD is refused: this endpoint never fetches data from the web on a request's behalf. "
                "Load files with `dsikb load` instead.")
        for target in services:
            if target is None or not _ABSOLUTE.match(target) or target not in allowlist:
                allowed = ", ".join(sorted(allowlist)) or "none"
                shown = "with a variable endpoint" if target is None else target
                raise BadRequest(
                    f"SERVICE {shown} is refused: this endpoint only calls the federated endpoints "
                    f"its operator allow-listed, by absolute IRI (DSIKB_SERVICE_ALLOWLIST: {allowed}).")
        found.services = [t for t in services if t is not None]
    return found


def _may_reach_out(text: str) -> bool:
    """Whether ``text`` may hold a SERVICE or LOAD keyword. A necessary condition, not a filter: both
    parsers read a keyword only from its ASCII letters (in any case), written out or, for rdflib,
    as \\u/\\U escapes, which are expanded before looking. Text without "service" and "load" in
    either form has neither keyword, so the parse that finds them can be skipped."""
    lowered = text.lower()
    if "service" in lowered or "load" in lowered:
        return True
    if "\\u" not in lowered:
        return False
    expanded = _ESCAPE.sub(_expand_one, text).lower()
    return "service" in expanded or "load" in expanded or "\\u" in expanded


def _only_inside_iris(text: str) -> bool:
    """Whether every "service" and "load" of ``text`` (any case, no escapes) lies inside an absolute
    IRI token, e.g. ``<https://w3id.org/dsi/id/organisation/kall-services>``: such a token holds no
    space, brace or ``<``, and a SERVICE pattern needs a ``{`` after its keyword, LOAD a space or
    ``<``; so no parser can read a keyword there, and the slow second parse is not needed (an IRI
    naming a "services" organisation is common in this knowledge base)."""
    lowered = text.lower()
    if "\\u" in lowered:
        return False
    hits = lowered.count("service") + lowered.count("load")
    inside = 0
    for kind, token, _ in spans(text):
        if kind == "iri" and _ABSOLUTE.match(token[1:-1]):
            token = token.lower()
            inside += token.count("service") + token.count("load")
    return inside == hits


def _expand_one(m: re.Match) -> str:
    code = int(m.group(1) or m.group(2), 16)
    return chr(code) if code <= sys.maxunicode else m.group()


def _outbound(text: str, found: Analysis, prefixes: dict[str, str]) -> tuple[list[str | None], bool]:
    """(SERVICE endpoint IRIs, None for a variable or unresolvable one; whether there is a LOAD),
    read from rdflib's parse tree. Refuses what rdflib cannot read the way Oxigraph does."""
    for m in _ESCAPE.finditer(text):
        char = _expand_one(m)
        if len(char) == 1 and char < "\x80" and not char.isalnum():
            # rdflib expands escapes before lexing, Oxigraph only inside strings and IRIs: an escaped
            # quote, '#', '>' or '\' would make them split the text differently.
            raise BadRequest(
                f"this query mentions SERVICE or LOAD, so it is checked before it runs, and it writes "
                f"{char!r} as the escape {m.group()}, which SPARQL parsers read in different places: "
                "write the character itself (escapes are fine for letters, digits and non-ASCII).")
    for tok in tokens(text):
        # Oxigraph matches a keyword without a word boundary and falls back to it when a prefixed
        # name's prefix is undeclared: "?s ?p trueSERVICE:x {...}" is "true SERVICE :x" to it, a
        # prefixed name to rdflib. A keyword glued to other letters is refused.
        head = tok.text.split(":", 1)[0].lower() if tok.kind in ("word", "pname") else ""
        if ("service" in head or "load" in head) and head not in ("service", "load"):
            raise BadRequest(
                f"{tok.text!r} has SERVICE or LOAD glued to other letters, which SPARQL parsers split "
                "differently, so this query could not be checked and was not run: write the keyword "
                "as a separate word (or rename the prefix).")
    tree = _parse(text, found.form, found.depth)
    services: list[str | None] = []
    loads = False
    declared: dict[str, list[str]] = {}
    service_nodes = []
    for node in _walk(tree):
        name = getattr(node, "name", None)
        if name == "PrefixDecl":
            declared.setdefault(str(node.get("prefix") or ""), []).append(str(node.get("iri")))
        elif name == "ServiceGraphPattern":
            service_nodes.append(node.get("term"))
        elif name == "Load":
            loads = True
    for term in service_nodes:
        services.extend(_endpoints(term, declared, prefixes))
    # A second, independent reading: every SERVICE keyword token (as Oxigraph lexes the text) must
    # be one rdflib found. Fewer means the two parsers disagree about this text: refuse it.
    keywords = sum(1 for t in tokens(text) if t.kind == "word" and t.text.upper() == "SERVICE")
    if keywords > len(service_nodes):
        raise BadRequest("this query has a SERVICE keyword that the safety check's SPARQL parser did not "
                         "read as a SERVICE pattern, so it could not be checked and was not run")
    return services, loads or found.loads


def _endpoints(term, declared: dict[str, list[str]], prefixes: dict[str, str]) -> Iterator[str | None]:
    """Every IRI a SERVICE term may stand for (a prefix declared twice gives two); None if unknown."""
    name = getattr(term, "name", None)
    if name == "pname":
        prefix, local = str(term.get("prefix") or ""), str(term.get("localname") or "")
        bases = declared.get(prefix) or ([prefixes[prefix]] if prefix in prefixes else [])
        if not bases or "\\" in local:
            yield None
        for base in bases:
            yield base + local
    elif name is None and type(term).__name__ == "URIRef":
        yield str(term)
    else:
        yield None  # a variable, or something unexpected: never on an allow-list


_RECURSION = threading.Lock()
_PARSER = threading.Lock()
_parsing = 0  # parses under way, and the recursion limit from before the first of them
_saved_limit = 0


def _parse(text: str, form: str | None, depth: int):
    """rdflib's parse tree of ``text`` (query or update). Depth is bounded by :func:`check` first;
    pyparsing spends ~40 Python frames per level, so the recursion limit is raised to what this
    depth needs meanwhile (Python 3.11 keeps those frames off the C stack). No higher: some texts
    send pyparsing into endless recursion, which then fails sooner."""
    from pyparsing import ParseBaseException
    from rdflib.plugins.sparql import parser

    global _parsing, _saved_limit
    attempts = [parser.parseUpdate] if form == "UPDATE" else [parser.parseQuery]
    if form is None:
        attempts.append(parser.parseUpdate)
    frames, frame = 0, sys._getframe()
    while frame is not None:
        frames, frame = frames + 1, frame.f_back
    with _RECURSION:
        _parsing += 1
        if _parsing == 1:
            _saved_limit = sys.getrecursionlimit()
        needed = max(_saved_limit, frames + 60 * depth + 300)
        if needed > sys.getrecursionlimit():
            sys.setrecursionlimit(needed)
    try:
        problem = ""
        for attempt in attempts:
            try:
                with _PARSER:  # pyparsing's parser is not thread-safe: concurrent parses failed
                    return attempt(text)  # with TypeError (500) or a false syntax error (400)
            except (ParseBaseException, ValueError, RecursionError) as exc:
                problem = problem or (str(exc).splitlines() or ["?"])[0][:300]
        raise BadRequest(
            "this query mentions SERVICE or LOAD, so a second SPARQL parser checks it before it runs, "
            f"and that parser could not read it ({problem}); the query was not run. Write it in "
            "standard SPARQL 1.1 syntax.")
    finally:
        with _RECURSION:
            _parsing -= 1
            if _parsing == 0:
                sys.setrecursionlimit(_saved_limit)


def _walk(tree) -> Iterator:
    """Every node of an rdflib parse tree (CompValues, ParseResults, lists), without recursion."""
    from pyparsing import ParseResults

    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, dict):  # CompValue
            stack.extend(node.values())
        elif isinstance(node, (list, tuple, ParseResults)):
            stack.extend(node)


def parse_allowlist(value: str) -> frozenset[str]:
    """The allow-list setting (space-separated endpoint IRIs) as a set."""
    return frozenset(v for v in value.split() if v)
