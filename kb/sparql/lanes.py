"""Light and heavy SPARQL queries: which lane of query workers a query waits in.

A lookup that names the thing it looks up (an entity in subject position, a VALUES list, an ASK, a
small LIMIT) and uses no aggregate, sort, text filter, negation or property path finishes in
milliseconds at any store size; it gets workers of its own, so it never waits behind heavy queries
(docs/decisions/2026-12-01-query-evaluation.md). The classification reads the tokens the safety
check already has (no second parse: a light query's whole budget is a millisecond or two). It may be
wrong; a query classified light that is still running after ``DSIKB_LIGHT_SECONDS`` is stopped and
evaluated again on the heavy lane (kb/sparql/pool.py), so a mistake costs that query at most that
much and the light lane at most that much of one worker.
"""

from __future__ import annotations

from kb.sparql.safety import Analysis

LIGHT, HEAVY = "light", "heavy"
# keywords that make the evaluation touch many rows whatever the anchors: aggregates, sorting,
# grouping, text and regex filters (they scan what they filter), negation, federation, subqueries
HEAVY_WORDS = frozenset({
    "GROUP", "ORDER", "HAVING", "COUNT", "SUM", "AVG", "MIN", "MAX", "SAMPLE", "GROUP_CONCAT",
    "DISTINCT", "REDUCED", "REGEX", "CONTAINS", "STRSTARTS", "STRENDS", "LCASE", "UCASE", "REPLACE",
    "SUBSTR", "STRLEN", "NOT", "MINUS", "EXISTS", "SERVICE", "FROM", "LATERAL"})
SMALL_LIMIT = 1000  # rows: a LIMIT at most this with nothing heavy stops early enough


def classify(found: Analysis) -> str:
    """``light`` or ``heavy`` for an analysed query (updates and unknown forms: heavy)."""
    if found.form not in ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE"):
        return HEAVY
    if found.words & HEAVY_WORDS or found.path_operators:
        return HEAVY
    if found.offset is not None and found.offset > SMALL_LIMIT:  # skipped rows are evaluated too
        return HEAVY
    if "SELECT" in found.words and found.form != "SELECT":  # a subquery inside ASK/CONSTRUCT
        return HEAVY
    if found.anchored or "VALUES" in found.words or found.form == "ASK":
        return LIGHT
    if found.limit is not None and found.limit <= SMALL_LIMIT:
        return LIGHT
    return HEAVY
