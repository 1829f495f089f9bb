"""No value is spliced into SPARQL text (issue 10, item 2; STYLE habit 13): an AST walk over every
module of kb/ and endpoint/ fails when an f-string, ``.format`` or ``%`` builds text holding a SPARQL
keyword with an interpolated value, unless every interpolated value goes through the one
term-serialising helper, ``kb.terms.sparql_term`` (or is one of the constants listed below)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = re.compile(r"\b(SELECT|ASK|CONSTRUCT|DESCRIBE|INSERT|DELETE|WHERE|GRAPH|VALUES|FILTER)\b")
HELPER = "sparql_term"
# Interpolated names that are not values: (module, source of the expression) -> why it is safe.
ALLOWED = {
    ("kb/index/search.py", "where"): "SQLite FTS5 SQL, not SPARQL: constant fragments; values go as ? parameters",
    ("kb/index/search.py", "w"): "SQLite FTS5 SQL, not SPARQL: the bm25 weights, module constants",
    ("kb/sparql/evaluate.py", "exc"): "an error message naming a query form, not a query",
    ("kb/sparql/safety.py", "found.depth"): "an error message about a refused query's nesting, not a query",
    ("kb/sparql/safety.py", "MAX_DEPTH"): "an error message: the nesting limit, a module constant",
    ("kb/sparql/safety.py", "found.operations"): "an error message about a refused query's length, not a query",
    ("kb/sparql/safety.py", "MAX_OPERATIONS"): "an error message: the operator limit, a module constant",
    ("kb/store/publicview.py", "o"): "empty, or `GRAPH <public graph> {` written by sparql_term (Staging.view_open)",
    ("kb/store/publicview.py", "c"): "empty, or the `}` closing Staging.view_open (Staging.view_close)",
}


def _helper_call(node: ast.AST) -> bool:
    return (isinstance(node, ast.Call) and (getattr(node.func, "id", None) == HELPER
                                            or getattr(node.func, "attr", None) == HELPER))


def _text_of(node: ast.AST) -> str:
    """The literal text of an f-string, a .format template or a % template."""
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return ""


def offences(path: Path, source: str | None = None) -> list[str]:
    rel = path.relative_to(ROOT).as_posix() if path.is_absolute() and ROOT in path.parents else str(path)
    tree = ast.parse(source if source is not None else path.read_text(encoding="utf-8"))
    found = []

    def check(text: str, values: list[ast.AST], line: int) -> None:
        if not KEYWORDS.search(text):
            return
        for value in values:
            expr = ast.unparse(value)
            if _helper_call(value) or (rel, expr) in ALLOWED:
                continue
            found.append(f"{rel}:{line}: {{{expr}}} spliced into SPARQL text {text[:60]!r}")

    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            check(_text_of(node), [v.value for v in node.values if isinstance(v, ast.FormattedValue)], node.lineno)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"
              and isinstance(node.func.value, ast.Constant) and isinstance(node.func.value.value, str)):
            check(node.func.value.value, list(node.args) + [k.value for k in node.keywords], node.lineno)
        elif (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod)
              and isinstance(node.left, ast.Constant) and isinstance(node.left.value, str)):
            right = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
            check(node.left.value, right, node.lineno)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            # "SELECT ... <" + iri + "> ..." : a keyword constant concatenated with a value
            parts = _concat_parts(node)
            if any(KEYWORDS.search(_text_of(p)) for p in parts):
                check(" ".join(_text_of(p) for p in parts),
                      [p for p in parts if not (isinstance(p, ast.Constant) or isinstance(p, ast.JoinedStr))],
                      node.lineno)
    return found


def _concat_parts(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _concat_parts(node.left) + _concat_parts(node.right)
    return [node]


def modules() -> list[Path]:
    return sorted(p for d in ("kb", "endpoint") for p in (ROOT / d).rglob("*.py"))


def test_no_module_splices_values_into_sparql():
    found = [o for path in modules() for o in offences(path)]
    assert not found, "values spliced into SPARQL text (bind terms instead):\n" + "\n".join(found)


def test_the_check_catches_the_forms_of_splicing():
    bad = [
        'q = f"ASK {{ <{iri}> ?p ?o }}"',
        'q = "SELECT ?s WHERE {{ <{}> ?p ?o }}".format(iri)',
        'q = "SELECT ?s WHERE { <%s> ?p ?o }" % iri',
        'q = "SELECT ?s WHERE { <" + iri + "> ?p ?o }"',
        'q = f"DELETE DATA {{ GRAPH <{g}> {{ {triples} }} }}"',
    ]
    for source in bad:
        assert offences(Path("x.py"), source), source
    good = [
        'q = f"DELETE DATA {{ GRAPH {sparql_term(g)} {{ {sparql_term(triples)} }} }}"',
        'kb.ask("ASK { ?e ?p ?o }", bind={"e": node})',
        'msg = f"no entity {iri}"',
    ]
    for source in good:
        assert not offences(Path("x.py"), source), source
