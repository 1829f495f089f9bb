"""Reading a SPARQL 1.1 Protocol request: one explicit dispatch on method and body type, as
Oxigraph's server does it. Ambiguous requests (a parameter twice, query and update together, a
query both in the URL and the body) are 400, unknown bodies 415."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyoxigraph as ox
from flask import Request

from kb.errors import BadRequest, TooLarge, UnsupportedMediaType
from kb.sparql.formats import FORMAT_PARAMETERS

FORM = "application/x-www-form-urlencoded"
QUERY = "application/sparql-query"
UPDATE = "application/sparql-update"


@dataclass
class Operation:
    """What a request asks: ``kind`` is ``query``, ``update`` or None (no operation: describe)."""

    kind: str | None
    text: str | None = None
    default_graphs: list[str] | None = None
    named_graphs: list[str] | None = None
    using_graphs: list[str] | None = None
    using_named_graphs: list[str] | None = None
    formats: list[str] = field(default_factory=list)

    @property
    def format(self) -> str | None:
        """The first non-empty ``format=``/``output=``/``results=`` value, if any."""
        return next((f for f in self.formats if f.strip()), None)


def html_preferred(request: Request, offered: list[str]) -> bool:
    """True only when ``text/html`` has a higher q than every other type the endpoint could answer
    with: a client that lists HTML as a fallback (Comunica, ``..., text/html;q=0.1``) and ``*/*``
    get data, a browser gets the editor."""
    accept = request.accept_mimetypes
    html = accept["text/html"]
    return html > 0 and all(accept[media] < html for media in offered)


def _one(values: list[str], name: str) -> str | None:
    if len(values) > 1:
        raise BadRequest(f"the parameter {name!r} is given {len(values)} times; give it once")
    return values[0] if values else None


def _graphs(values: list[str], name: str) -> list[str] | None:
    if not values:
        return None
    for value in values:
        try:
            ox.NamedNode(value)
        except ValueError:
            raise BadRequest(f"{name}={value!r} is not an absolute IRI") from None
    return values


def _utf8_body(request: Request) -> str:
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(
            f"the body is declared as {charset}; the SPARQL protocol requires UTF-8 (send charset=utf-8)")
    try:
        return request.get_data(cache=True).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the body is not valid UTF-8 (byte {exc.start})") from None


def parse(request: Request, *, max_length: int) -> Operation:
    """The operation of a GET or POST request on the endpoint (other methods never get here)."""
    args = request.args
    if request.method in ("GET", "HEAD"):
        if "update" in args:
            raise BadRequest("SPARQL Update must be sent by POST (application/sparql-update or a form "
                             "with update=), never by GET")
        op = Operation("query" if "query" in args else None, _one(args.getlist("query"), "query"))
        sources = [args]
    else:
        mimetype = request.mimetype
        if not mimetype:  # 400, as the W3C protocol test bad_query_missing_form_type expects
            raise BadRequest(
                f"the POST has no Content-Type: send {FORM} (query=... or update=...), {QUERY} or {UPDATE}")
        if mimetype == FORM:
            form = request.form
            for name in ("query", "update"):
                if name in args and name in form:
                    raise BadRequest(f"{name!r} is given both in the URL and in the body; give it once")
            query = _one(form.getlist("query") + args.getlist("query"), "query")
            update = _one(form.getlist("update") + args.getlist("update"), "update")
            if query is not None and update is not None:
                raise BadRequest("a request carries either a query or an update, not both")
            if query is None and update is None:
                raise BadRequest("the form has neither query= nor update=")
            op = Operation("query" if query is not None else "update", query if query is not None else update)
            sources = [args, form]
        elif mimetype in (QUERY, UPDATE):
            if "query" in args or "update" in args:
                raise BadRequest(f"a {mimetype} body and a query/update URL parameter conflict; send one")
            op = Operation("query" if mimetype == QUERY else "update", _utf8_body(request))
            sources = [args]
        else:
            raise UnsupportedMediaType(
                f"unsupported body type {mimetype}: send {FORM} (query=... or update=...), {QUERY} or {UPDATE}")
    if op.text is not None and len(op.text) > max_length:
        raise TooLarge(f"the {op.kind} is {len(op.text)} characters long; this endpoint accepts at most "
                       f"{max_length} (DSIKB_MAX_QUERY_LENGTH)")

    def collect(name):
        return [v for src in sources for v in src.getlist(name)]

    op.default_graphs = _graphs(collect("default-graph-uri"), "default-graph-uri")
    op.named_graphs = _graphs(collect("named-graph-uri"), "named-graph-uri")
    op.using_graphs = _graphs(collect("using-graph-uri"), "using-graph-uri")
    op.using_named_graphs = _graphs(collect("using-named-graph-uri"), "using-named-graph-uri")
    if op.kind == "query" and (op.using_graphs or op.using_named_graphs):
        raise BadRequest("using-graph-uri and using-named-graph-uri apply to updates; queries take "
                         "default-graph-uri / named-graph-uri")
    # SPARQLWrapper and others repeat the format under several names: they must agree (checked where
    # the query form is known, kb.sparql.formats.from_parameters).
    op.formats = [v for name in FORMAT_PARAMETERS for v in collect(name)]
    if op.kind == "update" and (op.default_graphs or op.named_graphs):
        raise BadRequest("default-graph-uri and named-graph-uri apply to queries; updates take "
                         "using-graph-uri / using-named-graph-uri")
    return op
