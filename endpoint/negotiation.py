"""Content negotiation in one place: Werkzeug's Accept parsing, URL suffixes override Accept, every
negotiated response says ``Vary: Accept``, and 406 lists what would work."""

from __future__ import annotations

from flask import Response, request

from kb.errors import NotAcceptable

RDF_TYPES = {
    "text/turtle": "ttl",
    "application/n-triples": "nt",
    "application/ld+json": "jsonld",
    "application/rdf+xml": "rdf",
    "application/n-quads": "nq",  # quad forms: each statement in the named graph it comes from
    "application/trig": "trig",
    "text/n3": "n3",  # served as Turtle, which is N3 without its extensions
}
QUAD_FORMS = {"nq", "trig"}
SUFFIX_TYPES = {ext: mime for mime, ext in RDF_TYPES.items()}
ALIASES = {"application/x-turtle": "text/turtle", "text/plain": "application/n-triples",
           "application/json": "application/ld+json", "application/xml": "application/rdf+xml",
           "text/xml": "application/rdf+xml"}


def negotiate(offers: list[str], *, default: str | None = None) -> str:
    """The best of ``offers`` for the request's Accept header (q-values honoured).

    A missing Accept header (or ``*/*``) gets ``default`` or the first offer; nothing acceptable
    raises 406 naming every offered type.
    """
    raw = request.headers.get("Accept", "")
    if raw in offers:  # the common case of a client asking for exactly one type: no parsing needed
        return raw
    accept = request.accept_mimetypes
    if not accept or accept.provided is False:
        return default or offers[0]
    best = accept.best_match(offers, default=None)
    if best is None:
        for alias, target in ALIASES.items():
            if target in offers and accept[alias] > 0:
                return target
        raise NotAcceptable(
            "None of the media types in your Accept header is offered here. Offered: "
            + ", ".join(offers)
            + f". For example: Accept: {offers[0]}",
            headers={"Vary": "Accept"},
        )
    if accept.best == "*/*" and default:
        quality = accept[best]
        if quality <= accept["*/*"]:
            return default
    return best


def vary_accept(response: Response) -> Response:
    existing = response.headers.get("Vary")
    if not existing:
        response.headers["Vary"] = "Accept"
    elif "accept" not in [v.strip().lower() for v in existing.split(",")]:
        response.headers["Vary"] = existing + ", Accept"
    return response


def wants_html() -> bool:
    """True when a browser asked (text/html preferred over JSON and RDF)."""
    raw = request.headers.get("Accept", "")
    if raw and "html" not in raw and "*" not in raw:  # no pattern could match text/html
        return False
    accept = request.accept_mimetypes
    best = accept.best_match(["text/html", "application/json", "text/plain"], default=None)
    return best == "text/html" and accept["text/html"] > accept["application/json"]
