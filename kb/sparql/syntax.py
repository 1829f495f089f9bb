"""Whether a SPARQL query parses, decided here by pyoxigraph's parser before any store sees it, so a
syntax error reads the same on every backend: ``SPARQL syntax error at line 2, column 10: ...``,
the position in the text the person sent (a remote store is sent a prologue of prefixes first, and
answers in its own words; Oxigraph's server says ``error at 3:10``, Virtuoso something else).

pyoxigraph has no parse-only call, and ``Store.query`` on an empty store is no substitute: it
evaluates there, eagerly for ASK and ORDER BY, so a pattern-free cross product of VALUES would run
in this process without a timeout (and a SERVICE would be called). Asking for the default graph
both as the union and as a list is refused *after* parsing and *before* evaluation (pyoxigraph
0.5's ``parse_query``): a SyntaxError means the text does not parse, that ValueError that it does.
tests/test_sparql_protocol.py holds pyoxigraph to this (a heavy query and a SERVICE to a closed port
are checked at once).
"""

from __future__ import annotations

import re

import pyoxigraph as ox

from kb.errors import BadRequest

_EMPTY = ox.Store()  # in memory, never written: only its parser is used
_PARSED = "use_default_graph_as_union and default_graph"  # pyoxigraph's words once the text parsed
_POSITION = re.compile(r"^error at (\d+):(\d+):")


def check(text: str, *, prefixes: dict[str, str] | None = None, base_iri: str | None = None) -> None:
    """Raise :class:`BadRequest` with :func:`message` if ``text`` is not a SPARQL query that parses
    with these prefixes and base IRI; evaluate nothing. Nesting is bounded before this is called
    (kb.sparql.safety.check), which keeps the parser's recursion shallow."""
    try:
        _EMPTY.query(text, prefixes=prefixes, base_iri=base_iri,
                     use_default_graph_as_union=True, default_graph=[])
    except SyntaxError as exc:
        raise BadRequest(message(exc)) from None
    except ValueError as exc:
        if _PARSED in str(exc):
            return
        raise BadRequest(f"the query could not be read: {exc}") from None
    raise AssertionError("pyoxigraph evaluated a query it was only asked to parse")  # never: see above


def message(exc: SyntaxError) -> str:
    """The parser's message with its position spelled out: ``error at 2:9: ...`` -> line 2, column 9."""
    text = _POSITION.sub(r"line \1, column \2:", str(exc))
    return f"SPARQL syntax error at {text}" if text != str(exc) else f"SPARQL syntax error: {text}"
