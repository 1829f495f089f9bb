"""The query editor browsers get on ``/sparql``: YASGUI (served from our static files, no CDN),
preloaded with the endpoint, the project's prefixes and the gallery of example queries
(``endpoint/queries/*.rq``). ``/sparql?query=...`` and ``/sparql#query=...`` (the shareable form, read by
static/sparql-editor.js) open it with that query and run it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from flask import make_response, render_template, request

from endpoint.negotiation import vary_accept
from endpoint.state import get_kb

QUERIES = Path(__file__).resolve().parent / "queries"
_PREFIX_USE = re.compile(r"(?<![\w<?$])([A-Za-z][\w-]*)?:(?=[\w])")


@dataclass(frozen=True)
class Example:
    """One example query: ``name`` is the file stem, ``title`` and ``description`` its head comments."""

    name: str
    title: str
    description: str
    query: str

    @property
    def link(self) -> str:
        """The shareable link: the editor opens the query from the fragment and runs it."""
        return "/sparql#query=" + quote(self.query, safe="")


@lru_cache(maxsize=1)
def examples() -> tuple[Example, ...]:
    """The gallery, in file-name order. Each .rq starts with ``# Title`` then ``# description`` lines."""
    out = []
    for path in sorted(QUERIES.glob("*.rq")):
        text = path.read_text(encoding="utf-8")
        comments = []
        for line in text.splitlines():
            if not line.startswith("#"):
                break
            comments.append(line.lstrip("#").strip())
        title = comments[0] if comments else path.stem
        out.append(Example(path.stem, title, " ".join(c for c in comments[1:] if c), text))
    return tuple(out)


def with_prefixes(query: str, prefixes: dict[str, str]) -> str:
    """The query with PREFIX lines added for the project prefixes it uses but does not declare
    (the endpoint knows them; the editor's syntax checker needs them spelled out)."""
    declared = set(re.findall(r"(?im)^\s*PREFIX\s+([\w-]*):", query))
    used = {m.group(1) or "" for m in _PREFIX_USE.finditer(query)}
    missing = [p for p in prefixes if p in used and p not in declared]
    return "".join(f"PREFIX {p}: <{prefixes[p]}>\n" for p in missing) + query


def editor(query: str | None = None):
    kb = get_kb()
    prefixes = kb.names.prefixes()
    gallery = examples()
    initial = with_prefixes(query, prefixes) if query else (gallery[0].query if gallery else "SELECT * WHERE { ?s ?p ?o } LIMIT 10")
    body = render_template(
        "sparql.html",
        endpoint=request.base_url,
        prefixes=prefixes,
        examples=gallery,
        initial=initial,
        shared=query is not None,
    )
    response = vary_accept(make_response(body))
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    return response
