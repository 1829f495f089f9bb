"""SPARQL text the remote store sends (kb/store/remote.py): bound terms written into a query where
pyoxigraph would substitute them, the query's form, whether it names its own dataset, a prologue.
Read with a tokenizer that skips strings, IRIs and comments, so text inside them never changes."""

from __future__ import annotations

import re

from kb.terms import sparql_term

_TOKEN = re.compile(r"""("{3}(?:[^"\\]|\\.|"(?!""))*"{3}|'{3}(?:[^'\\]|\\.|'(?!''))*'{3}"""
                    r"""|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|<[^<>"{}|^`\\\x00-\x20]*>|#[^\n]*"""
                    r"""|[?$][A-Za-z0-9_\u00B7-\uFFFF]+|[A-Za-z_]+|[(){}])""")


def substitute(sparql: str, bind: dict) -> str:
    """Bound variables replaced by their terms (written by :func:`sparql_term`) wherever they occur,
    as pyoxigraph's ``substitutions`` do: in nested groups and filters too, where a VALUES block
    at the top would not reach (a FILTER is evaluated in its own group). In a projection a bound
    ``?v`` becomes ``(term AS ?v)``, so the row still carries it. Strings, IRIs and comments are
    skipped by the tokenizer, so text inside them never changes."""
    if not bind:
        return sparql
    out, last = [], 0
    projection, depth, after_as, by = False, 0, False, False
    for match in _TOKEN.finditer(sparql):
        token = match.group(1)
        word = token.upper()
        replacement = None
        if token[0] in "?$" and len(token) > 1:
            term = bind.get(token[1:])
            if term is not None:
                if by:  # GROUP BY / ORDER BY take a bracketed expression, not a bare term
                    replacement = f"({sparql_term(term)})"
                elif not projection:
                    replacement = sparql_term(term)
                elif depth == 0 and not after_as:
                    replacement = f"({sparql_term(term)} AS {token})"
                elif not after_as:
                    replacement = sparql_term(term)
        elif word == "BY":
            by = True
        elif word in ("SELECT", "HAVING", "LIMIT", "OFFSET", "VALUES") or token in ("{", "}"):
            by = False
        if word == "SELECT":
            projection, depth = True, 0
        elif word == "WHERE" or token == "{":
            projection = False
        elif token == "(" and projection:
            depth += 1
        elif token == ")" and projection:
            depth -= 1
        after_as = word == "AS"
        if replacement is not None:
            out.append(sparql[last:match.start()])
            out.append(replacement)
            last = match.end()
    out.append(sparql[last:])
    return "".join(out)


def query_form(sparql: str) -> str | None:
    """SELECT, ASK, CONSTRUCT or DESCRIBE: the query's first such keyword (strings, IRIs and
    comments skipped)."""
    for match in _TOKEN.finditer(sparql):
        word = match.group(1).upper()
        if word in ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE"):
            return word
    return None


def declares_dataset(sparql: str) -> bool:
    """Whether a query names its own dataset (``FROM``/``FROM NAMED``), which a protocol
    ``default-graph-uri`` would override."""
    for match in _TOKEN.finditer(sparql):
        if match.group(1).upper() == "FROM":
            before = sparql[match.start() - 1] if match.start() else " "
            if not (before.isalnum() or before in ":-._"):
                return True
    return False


def prologue(prefixes: dict | None, base_iri: str | None) -> str:
    """PREFIX and BASE lines to put before a query or update."""
    text = "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in (prefixes or {}).items())
    return (f"BASE <{base_iri}>\n" if base_iri else "") + text
