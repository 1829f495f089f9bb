"""Result formats of the SPARQL endpoint and streaming serialisers that respect row and byte caps.

SELECT results are written row by row (pyoxigraph's own serialiser cannot stop after N rows), so a
capped result is still a complete, valid document. CONSTRUCT/DESCRIBE triples go through
``pyoxigraph.serialize`` fed by a generator that stops at the caps. Every writer writes to an
``output`` with ``write(bytes)`` and ``tell()`` (bytes written so far).
"""

from __future__ import annotations

import json
from itertools import islice
from json.encoder import encode_basestring as _enc
from typing import Iterable
from xml.sax.saxutils import escape, quoteattr

import pyoxigraph as ox

from kb.errors import BadRequest, NotAcceptable

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
RDF_DIR_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#dirLangString"

TABULAR = {  # media type -> short name
    "application/sparql-results+json": "json",
    "application/sparql-results+xml": "xml",
    "text/csv": "csv",
    "text/tab-separated-values": "tsv",
}
BOOLEAN = {  # CSV and TSV answers to ASK are written as Fuseki and Virtuoso write them
    "application/sparql-results+json": "json",
    "application/sparql-results+xml": "xml",
    "text/csv": "csv",
    "text/tab-separated-values": "tsv",
}
GRAPH = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "application/ld+json": ox.RdfFormat.JSON_LD,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "application/n-quads": ox.RdfFormat.N_QUADS,
    "application/trig": ox.RdfFormat.TRIG,
}
# Accept aliases: what a client may ask for -> the media type answered.
ALIASES = {
    "application/json": "application/sparql-results+json",
    "application/xml": "application/sparql-results+xml",
    "text/xml": "application/sparql-results+xml",
}
GRAPH_ALIASES = {
    "application/x-turtle": "text/turtle",
    "application/turtle": "text/turtle",
    "text/n3": "text/turtle",  # Turtle is a subset of N3: what Fuseki and Virtuoso answer
    "text/rdf+n3": "text/turtle",
    "application/n3": "text/turtle",
    "application/x-json+ld": "application/ld+json",
    "text/plain": "application/n-triples",
    "application/json": "application/ld+json",
    "application/xml": "application/rdf+xml",
    "text/xml": "application/rdf+xml",
}
# Every media type a query may be answered in, aliases included (to tell whether HTML is preferred).
ANSWERS = sorted({*TABULAR, *BOOLEAN, *GRAPH, *ALIASES, *GRAPH_ALIASES})
# ``format=`` values typed by hand in links.
SHORT_NAMES = {
    "json": "application/sparql-results+json", "srj": "application/sparql-results+json",
    "xml": "application/sparql-results+xml", "srx": "application/sparql-results+xml",
    "csv": "text/csv", "tsv": "text/tab-separated-values",
    "ttl": "text/turtle", "turtle": "text/turtle", "nt": "application/n-triples",
    "ntriples": "application/n-triples", "jsonld": "application/ld+json",
    "rdf": "application/rdf+xml", "rdfxml": "application/rdf+xml", "owl": "application/rdf+xml",
    "nq": "application/n-quads", "nquads": "application/n-quads", "trig": "application/trig",
}


# ``format=`` (and ``output=``, ``results=``) names whose meaning depends on the query form, as
# Fuseki and Virtuoso read them: ``xml`` is SPARQL XML results for SELECT/ASK but RDF/XML for a graph.
FORM_NAMES = {
    "graph": {"xml": "application/rdf+xml", "json": "application/ld+json", "n3": "text/turtle",
              "rdf": "application/rdf+xml", "rdf+xml": "application/rdf+xml", "json-ld": "application/ld+json"},
    "table": {"rdf+xml": None, "json-ld": None, "n3": None, "rdf": None},
}
FORMAT_PARAMETERS = ("format", "output", "results")


def from_parameters(form: str, values: list[str], *, accept_given: bool = True) -> str | None:
    """The media type that ``format=``/``output=``/``results=`` values choose for ``form``, or None
    when they choose nothing this form offers (the Accept header decides then).

    A value is a short name (``json``, ``ttl``, ``n3``...) or media types (SPARQLWrapper repeats its
    Accept header there, commas and all). Repeated values must agree. Values known for another form
    only (``turtle`` on a SELECT, as SPARQLWrapper sends with ``Accept: */*``) are passed over when the
    request has an Accept header to decide by (``accept_given``); otherwise, and for unknown values, 406.
    """
    form = form or "SELECT"
    offered = offers(form)
    kind = "table" if form in ("SELECT", "ASK") else "graph"
    chosen: list[str] = []
    unknown: list[str] = []
    for value in values:
        for item in value.split(","):
            name = item.split(";", 1)[0].strip().lower()
            if not name or name == "*/*":
                continue
            if name in FORM_NAMES[kind]:
                media = FORM_NAMES[kind][name]
            else:
                media = SHORT_NAMES.get(name, name)
                media = aliases(form).get(media, media)
            if media in offered:
                if media not in chosen:
                    chosen.append(media)
            elif not accept_given or not _known(name):
                unknown.append(item.strip())
    if len(chosen) > 1:
        raise BadRequest("the format parameters disagree: they ask for " + " and ".join(chosen)
                         + "; give one format")
    if chosen:
        return chosen[0]
    if unknown:
        raise NotAcceptable(f"format={unknown[0]} is not offered for a {form} query. Offered: "
                            + ", ".join(offered) + " (or format=" + ", ".join(
                                k for k, v in SHORT_NAMES.items() if v in offered) + ")")
    return None


def _known(name: str) -> bool:
    """A format name or media type some query form offers (or an alias of one)."""
    return (name in SHORT_NAMES or name in FORM_NAMES["graph"] or name in TABULAR or name in GRAPH
            or name in ALIASES or name in GRAPH_ALIASES)


def offers(form: str) -> list[str]:
    """Media types offered for a query form, the default first."""
    if form == "SELECT":
        return list(TABULAR)
    if form == "ASK":
        return list(BOOLEAN)
    return list(GRAPH)


def aliases(form: str) -> dict[str, str]:
    return ALIASES if form in ("SELECT", "ASK") else GRAPH_ALIASES


def content_type(media: str) -> str:
    if media.startswith("text/") or media.endswith(("+json", "+xml", "/trig", "/n-quads", "/n-triples")):
        return media + "; charset=utf-8"
    return media


class Caps:
    """Row and byte limits; ``truncated`` names the one that stopped the output."""

    def __init__(self, max_rows: int, max_bytes: int):
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.rows = 0
        self.truncated: str | None = None


# -- SELECT ---------------------------------------------------------------------------------------
# Rows are built as strings with the C-accelerated JSON string encoder: values are read by position
# (``tuple(solution)``), several times faster than by name; see bench/sparql_bench.py.
_NN, _BN, _LIT, _TRIPLE = ox.NamedNode, ox.BlankNode, ox.Literal, ox.Triple


def _json_term(term) -> str:
    cls = type(term)
    if cls is _NN:
        return '{"type":"uri","value":' + _enc(term.value) + "}"
    if cls is _LIT:
        lang = term.language
        if lang:
            return '{"type":"literal","value":' + _enc(term.value) + ',"xml:lang":' + _enc(lang) + "}"
        datatype = term.datatype.value
        if datatype == XSD_STRING:
            return '{"type":"literal","value":' + _enc(term.value) + "}"
        return '{"type":"literal","value":' + _enc(term.value) + ',"datatype":' + _enc(datatype) + "}"
    if cls is _BN:
        return '{"type":"bnode","value":' + _enc(term.value) + "}"
    if cls is _TRIPLE:
        return ('{"type":"triple","value":{"subject":' + _json_term(term.subject) + ',"predicate":'
                + _json_term(term.predicate) + ',"object":' + _json_term(term.object) + "}}")
    raise TypeError(f"not an RDF term: {term!r}")


def _xml_term(term) -> str:
    cls = type(term)
    if cls is _NN:
        return f"<uri>{escape(term.value)}</uri>"
    if cls is _LIT:
        if term.language:
            return f"<literal xml:lang={quoteattr(term.language)}>{escape(term.value)}</literal>"
        if term.datatype.value != XSD_STRING:
            return f"<literal datatype={quoteattr(term.datatype.value)}>{escape(term.value)}</literal>"
        return f"<literal>{escape(term.value)}</literal>"
    if cls is _BN:
        return f"<bnode>{escape(term.value)}</bnode>"
    if cls is _TRIPLE:
        return (f"<triple><subject>{_xml_term(term.subject)}</subject><predicate>"
                f"{_xml_term(term.predicate)}</predicate><object>{_xml_term(term.object)}</object></triple>")
    raise TypeError(f"not an RDF term: {term!r}")


def _csv_field(term) -> str:
    if term is None:
        return ""
    if type(term) is _BN:
        value = "_:" + term.value
    elif type(term) is _TRIPLE:
        value = str(term)
    else:
        value = term.value
    if any(c in value for c in ',"\r\n'):
        value = '"' + value.replace('"', '""') + '"'
    return value


def _tsv_field(term) -> str:
    if term is None:
        return ""
    return str(term).replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def write_solutions(solutions: ox.QuerySolutions, short: str, output, caps: Caps) -> None:
    """Write SELECT results in ``short`` (json, xml, csv, tsv), stopping at the caps."""
    names = [v.value for v in solutions.variables]
    if short == "json":
        keys = [_enc(n) + ":" for n in names]
        head = '{"head":{"vars":' + json.dumps(names, separators=(",", ":")) + '},"results":{"bindings":['
        sep, tail = ",", "]}}"

        def row(values):
            return "{" + ",".join([k + _json_term(v) for k, v in zip(keys, values) if v is not None]) + "}"
    elif short == "xml":
        opens = [f"<binding name={quoteattr(n)}>" for n in names]
        head = ('<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#"><head>'
                + "".join(f"<variable name={quoteattr(n)}/>" for n in names) + "</head><results>")
        sep, tail = "", "</results></sparql>\n"

        def row(values):
            return "<result>" + "".join([o + _xml_term(v) + "</binding>"
                                         for o, v in zip(opens, values) if v is not None]) + "</result>"
    elif short == "csv":
        head, sep, tail = ",".join(names) + "\r\n", "", ""

        def row(values):
            return ",".join([_csv_field(v) for v in values]) + "\r\n"
    elif short == "tsv":
        head, sep, tail = "\t".join("?" + n for n in names) + "\n", "", ""

        def row(values):
            return "\t".join([_tsv_field(v) for v in values]) + "\n"
    else:
        raise ValueError(f"unknown results format {short!r}")
    output.write(head.encode())
    reserve = len(tail.encode())
    max_rows, max_bytes = caps.max_rows, caps.max_bytes
    written = output.tell()
    rows = 0
    for sol in solutions:
        if rows >= max_rows:
            caps.truncated = "rows"
            break
        data = ((sep if rows else "") + row(tuple(sol))).encode()
        if written + len(data) + reserve > max_bytes:
            caps.truncated = "bytes"
            break
        output.write(data)
        written += len(data)
        rows += 1
    caps.rows = rows
    output.write(tail.encode())


def write_boolean(value: bool, short: str, output) -> None:
    word = b"true" if value else b"false"
    if short == "json":
        output.write(b'{"head":{},"boolean":' + word + b"}")
    elif short == "csv":
        output.write(b"_askResult\r\n" + word + b"\r\n")
    elif short == "tsv":
        output.write(b"?_askResult\n" + word + b"\n")
    else:
        output.write(b'<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">'
                     b"<head/><boolean>" + (b"true" if value else b"false") + b"</boolean></sparql>\n")


def write_triples(triples: Iterable[ox.Triple], media: str, output, caps: Caps,
                  prefixes: dict[str, str] | None = None) -> None:
    """Write CONSTRUCT/DESCRIBE triples as ``media``, stopping at the caps."""
    fmt = GRAPH[media]
    quads = fmt in (ox.RdfFormat.N_QUADS, ox.RdfFormat.TRIG)

    def capped():
        for triple in islice(triples, None):
            if caps.rows >= caps.max_rows:
                caps.truncated = "rows"
                return
            if output.tell() >= caps.max_bytes:
                caps.truncated = "bytes"
                return
            caps.rows += 1
            yield ox.Quad(triple.subject, triple.predicate, triple.object, ox.DefaultGraph()) if quads else triple

    use_prefixes = prefixes if fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.TRIG, ox.RdfFormat.RDF_XML) else None
    ox.serialize(capped(), output, fmt, prefixes=use_prefixes)
