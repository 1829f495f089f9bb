"""Query-string parameters read the same way on every page: a bad value is a 400 naming the field."""

from __future__ import annotations

from flask import request

from kb.terms import FieldProblem

MAX_PAGE = 1_000_000


def int_arg(name: str, default: int, maximum: int = MAX_PAGE, *, minimum: int = 0) -> int:
    """A page or page-size parameter: ASCII digits (``isdigit`` alone accepts "²") from ``minimum`` up
    to ``maximum``; the length is checked before ``int()``, which refuses 4,300 digits and more."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()):
        raise FieldProblem(name, f"must be a positive whole number, not {raw[:50]!r}", status=400)
    if len(raw) > len(str(maximum)) or int(raw) > maximum:
        raise FieldProblem(name, f"must be at most {maximum}, not {raw[:50]}", status=400)
    if int(raw) < minimum:
        raise FieldProblem(name, f"must be at least {minimum}, not {raw[:50]}", status=400)
    return int(raw)
