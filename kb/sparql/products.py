"""Cross products a remote store cannot stop: refused before they are sent.

The Oxigraph server's ``--timeout-s`` cancels a query only when it next reads the store (a cancellation
token checked on each read: oxigraph/oxigraph#1409, and #1336 on why no more is planned). A join of
parts that share no variable is evaluated in memory once each part has been read: ``{ ?a ?b ?c .
?d ?e ?f . ?g ?h ?i }`` over 92k statements is 10^15 combinations with no read between them, and the
server ran such a query for hours past its timeout, growing to gigabytes, after the app had given up
(docs/deploy.md). On the embedded store the query's worker process is killed at the timeout instead,
so this check is for remote stores only.

A query is refused when one of its graph patterns joins **three or more parts that share no
variable** (two unrelated parts cost one read of the first per pass over the second, so the store
read still cancels them). Decided on the parsed algebra (rdflib), never on the text:

- the triple patterns of a basic graph pattern are parts, merged when they share a variable (or a
  blank node); ``GRAPH ?g`` makes one part of everything inside it (``GRAPH <iri>`` does not);
- an OPTIONAL and a sub-query are parts of the group that holds them; a UNION is one part (its
  branches are checked on their own); a VALUES block or a ``BIND`` of a constant is none (their
  rows are in the text, and a product with them reads the store for each row of another part);
- FILTERs do not connect parts (the engine filters the product after making it);
- sub-queries, UNION branches, MINUS and EXISTS patterns are checked on their own.
"""

from __future__ import annotations

import functools

from kb.errors import BadRequest
from kb.sparql import safety

LIMIT = 3  # parts sharing no variable, from which a pattern is refused


class _Parts:
    """Disjoint sets of variables: the independent parts of one graph pattern."""

    def __init__(self):
        self.sets: list[set] = []

    def add(self, names: set) -> None:
        """A part with these variables, merged with every part it shares one with."""
        merged = set(names)
        keep = []
        for part in self.sets:
            if part & merged:
                merged |= part
            else:
                keep.append(part)
        self.sets = keep + [merged]

    def extend(self, other: _Parts) -> None:
        for part in other.sets:
            self.add(part)


def _term_vars(term) -> set:
    from rdflib.term import BNode, Variable

    if isinstance(term, (Variable, BNode)):
        return {term}
    return set()


def _triple_vars(triple) -> set:
    from rdflib.paths import Path

    found = set()
    for term in triple:
        if not isinstance(term, Path):
            found |= _term_vars(term)
    return found


def _expression_vars(expr) -> set:
    """The variables an expression reads (not those of its EXISTS patterns)."""
    from rdflib.plugins.sparql.parserutils import CompValue
    from rdflib.term import Variable

    names, stack = set(), [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Variable):
            names.add(node)
        elif isinstance(node, CompValue):
            if node.name not in ("Builtin_EXISTS", "Builtin_NOTEXISTS"):
                stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend(node)
    return names


def _expression_patterns(expr, out: list) -> None:
    """The graph patterns of EXISTS / NOT EXISTS inside an expression (translated if still raw)."""
    from rdflib.plugins.sparql.algebra import translateGroupGraphPattern
    from rdflib.plugins.sparql.parserutils import CompValue

    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, CompValue):
            if node.name in ("Builtin_EXISTS", "Builtin_NOTEXISTS"):
                graph = node.get("graph")
                if isinstance(graph, CompValue) and graph.name == "GroupGraphPatternSub":
                    graph = translateGroupGraphPattern(graph)
                out.append(graph)
                continue
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend(node)


class _Checker:
    def __init__(self):
        self.worst: tuple[int, list[set]] = (0, [])

    def check(self, pattern) -> None:
        """Check ``pattern`` and every pattern nested in it on its own."""
        parts = self.parts(pattern)
        if len(parts.sets) > self.worst[0]:
            self.worst = (len(parts.sets), parts.sets)

    def parts(self, node) -> _Parts:
        from rdflib.plugins.sparql.parserutils import CompValue

        found = _Parts()
        if not isinstance(node, CompValue):
            return found
        name = node.name
        if name == "BGP":
            for triple in node.get("triples") or ():
                names = _triple_vars(triple)
                if names:
                    found.add(names)
        elif name in ("Join", "LeftJoin"):
            found.extend(self.parts(node.get("p1")))
            found.extend(self.parts(node.get("p2")))
            self._expressions(node.get("expr"))
        elif name == "Filter":
            found.extend(self.parts(node.get("p")))
            self._expressions(node.get("expr"))
        elif name == "Extend":
            found.extend(self.parts(node.get("p")))
            self._expressions(node.get("expr"))
            names = _expression_vars(node.get("expr"))
            if any(part & names for part in found.sets):  # BIND(f(?a) AS ?b) relates ?b to ?a's part;
                found.add(names | {node.get("var")})       # a constant or an aggregate's result adds none
        elif name == "Graph":
            inner = self.parts(node.get("p"))
            graph = _term_vars(node.get("term"))
            if graph:  # GRAPH ?g: every part inside is joined on ?g
                found.add(set().union(graph, *inner.sets))
            else:
                found.extend(inner)
        elif name == "Union":
            self.check(node.get("p1"))
            self.check(node.get("p2"))
            found.add(set(node.get("_vars") or ()) or {("union", id(node))})
        elif name == "Minus":
            found.extend(self.parts(node.get("p1")))
            self.check(node.get("p2"))
        elif name == "ToMultiSet":
            inner = node.get("p")
            if isinstance(inner, CompValue) and inner.name == "values":
                pass  # inline rows, as many as the text holds: a product with them stays cancellable
            else:  # a sub-query: checked on its own, one part of what it projects
                self.check(inner)
                found.add(set(self._projected(inner)) or {("subquery", id(inner))})
        elif name in ("Project", "Distinct", "Reduced", "Slice", "OrderBy", "Group", "AggregateJoin",
                      "SelectQuery", "AskQuery", "ConstructQuery", "DescribeQuery"):
            found.extend(self.parts(node.get("p")))
            if name == "OrderBy":
                self._expressions(node.get("expr"))
        else:  # anything else (e.g. a future algebra node): look inside for patterns to check
            for value in node.values():
                if isinstance(value, CompValue):
                    self.check(value)
        return found

    def _projected(self, node):
        from rdflib.plugins.sparql.parserutils import CompValue

        while isinstance(node, CompValue):
            if node.get("PV") is not None:
                return node.get("PV")
            node = node.get("p")
        return ()

    def _expressions(self, expr) -> None:
        patterns: list = []
        _expression_patterns(expr, patterns)
        for pattern in patterns:
            self.check(pattern)


def independent_parts(text: str, prefixes: dict[str, str] | None = None,
                      found: safety.Analysis | None = None) -> list[set]:
    """The largest set of mutually unrelated parts among the query's graph patterns (see above)."""
    from rdflib.plugins.sparql.algebra import translateQuery

    found = found or safety.analyse(text, prefixes)
    tree = safety._parse(text, found.form, found.depth)
    try:
        query = translateQuery(tree, initNs=prefixes or {})
    except Exception as exc:  # rdflib raises bare Exceptions (e.g. an unknown prefix)
        raise BadRequest(f"this query could not be checked for cross products ({str(exc)[:200]}), so "
                         "it was not run; write it in standard SPARQL 1.1.") from exc
    checker = _Checker()
    checker.check(query.algebra)
    return checker.worst[1]


def check_once(text: str, found: safety.Analysis, prefixes: dict[str, str] | None = None) -> None:
    """:func:`check`, its verdict remembered per text and prefixes (a parse costs 10-40 ms)."""
    if found.is_update or found.separators < LIMIT:
        return
    refusal = _verdict(text, tuple(sorted((prefixes or {}).items())))
    if refusal:
        raise BadRequest(refusal)


@functools.lru_cache(maxsize=512)
def _verdict(text: str, prefixes: tuple) -> str:
    try:
        check(text, safety.analyse(text, dict(prefixes)), dict(prefixes))
    except BadRequest as exc:
        return exc.message
    return ""


def check(text: str, found: safety.Analysis, prefixes: dict[str, str] | None = None) -> None:
    """Refuse (400, with what to change) a query that joins ``LIMIT`` or more unrelated parts."""
    if found.is_update or found.separators < LIMIT:
        return  # fewer "." and "{" than that cannot hold that many parts: no parse needed
    parts = independent_parts(text, prefixes, found)
    if len(parts) >= LIMIT:
        shown = "; ".join(" ".join(sorted(_shown(v) for v in part)) for part in parts[:5])
        raise BadRequest(
            f"this query joins {len(parts)} parts that share no variable ({shown}): a cross product, "
            "which the store behind this endpoint cannot stop once it has started. Connect the parts "
            "with a shared variable, or send them as separate queries.")


def _shown(name) -> str:
    from rdflib.term import BNode, Variable

    if isinstance(name, Variable):
        return "?" + str(name)
    if isinstance(name, BNode):
        return "[]"
    return "(" + str(name[0]) + ")"
