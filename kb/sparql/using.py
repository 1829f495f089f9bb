"""The protocol's ``using-graph-uri`` / ``using-named-graph-uri`` for SPARQL Update.

pyoxigraph's ``update`` takes no dataset, so the protocol dataset becomes ``USING`` / ``USING NAMED``
clauses placed before the ``WHERE`` of each DELETE/INSERT operation, found from the update's tokens
(a ``WHERE`` at brace depth 0 that does not belong to ``DELETE WHERE``). The graph IRIs are written
from parsed :class:`pyoxigraph.NamedNode` terms, never from the request's text.
"""

from __future__ import annotations

import pyoxigraph as ox

from kb.errors import BadRequest
from kb.sparql import safety
from kb.terms import sparql_term


def apply(text: str, using: list[str], using_named: list[str]) -> str:
    """``text`` with the protocol dataset as USING clauses on each DELETE/INSERT ... WHERE."""
    clauses = "".join(f" USING {sparql_term(ox.NamedNode(g))}" for g in using)
    clauses += "".join(f" USING NAMED {sparql_term(ox.NamedNode(g))}" for g in using_named)
    depth = 0
    previous = ""  # the token before, whatever its depth: DELETE right before WHERE is DELETE WHERE
    cuts: list[int] = []
    for kind, token, start in safety.spans(text):
        word = token.upper() if kind == "word" else token
        if kind == "other" and token in "{([":
            depth += 1
        elif kind == "other" and token in "})]":
            depth -= 1
        elif kind == "word" and depth == 0:
            if word in ("USING", "WITH"):
                raise BadRequest("the update names its own dataset (USING or WITH) and the request gives "
                                 "using-graph-uri / using-named-graph-uri: give one or the other")
            if word == "WHERE":
                if previous == "DELETE":
                    raise BadRequest("using-graph-uri / using-named-graph-uri cannot apply to DELETE WHERE "
                                     "{ ... }: write it as DELETE { ... } WHERE { ... }")
                cuts.append(start)
        previous = word
    out, last = [], 0
    for cut in cuts:
        out += [text[last:cut], clauses.lstrip() + " "]
        last = cut
    out.append(text[last:])
    return "".join(out)
