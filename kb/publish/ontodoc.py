"""HTML documentation of the ontology (pyLODE) and of the SHACL shapes, generated from the store.

pyLODE names its anchors after labels ("Organisation type" -> ``#Organisationtype``); the contract
says ``/def/dsi#OrganisationType`` resolves, so the anchors of our own terms are set to their local
names before pyLODE renders. Concept schemes, which pyLODE's OntPub profile does not list, are added
as a generated section, as are the shapes (one section per node shape). Generation takes seconds:
callers cache the result per store generation.

The terms of the 2013 DSI ontology (``legacy:``, mapped with owl:equivalentClass/Property) are kept
out of pyLODE's lists and shown in a section of their own, so the current terms read first.
``ontology_parts`` gives the pieces a site page wraps (header, language, phone layout);
``ontology_html`` a standalone page.
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from html import escape

import rdflib
from dominate import tags
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SH, SKOS

from kb.namespaces import LEGACY_DEF


def _label(g: rdflib.Graph, node, lang: str = "en") -> str:
    best = None
    for pred in (SKOS.prefLabel, RDFS.label, DCTERMS.title):
        for value in g.objects(node, pred):
            if isinstance(value, rdflib.Literal) and value.language in (lang, None):
                return str(value)
            best = best or str(value)
    return best or str(node).rstrip("/#").rsplit("/", 1)[-1].rsplit("#", 1)[-1]


def _english(g: rdflib.Graph) -> rdflib.Graph:
    """A copy without literals in other languages: pyLODE joins every label it finds into one
    ("OrganisationOrganización") and takes the last title it meets; the page is the English one."""
    out = rdflib.Graph(bind_namespaces="core")
    for prefix, ns in g.namespaces():
        out.bind(prefix, ns, override=True)
    for s, p, o in g:
        if isinstance(o, rdflib.Literal) and o.language and not o.language.lower().startswith("en"):
            continue
        out.add((s, p, o))
    return out


def ontology_html(ontology: rdflib.Graph, schemes: rdflib.Graph, dsi_ns: str) -> str:
    """A standalone page: pyLODE's documentation of ``ontology`` (anchors = local names), a section
    per concept scheme and one for the legacy terms; readable on a phone."""
    parts = ontology_parts(ontology, schemes, dsi_ns)
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{escape(parts['title'])}</title>\n{parts['jsonld']}\n</head>\n<body>\n"
            f"{parts['body']}\n</body>\n</html>\n")


def ontology_parts(ontology: rdflib.Graph, schemes: rdflib.Graph, dsi_ns: str,
                   legacy_ns: str = LEGACY_DEF) -> dict:
    """The pieces of the documentation page: ``title``, ``jsonld`` (a script element for the head),
    ``body`` (the table of contents as a disclosure, then pyLODE's sections, the concept schemes and
    the legacy terms) and ``languages`` (the languages the ontology and taxonomies label terms in)."""
    current = rdflib.Graph(bind_namespaces="core")
    for prefix, ns in ontology.namespaces():
        current.bind(prefix, ns, override=True)
    for t in ontology:
        if not str(t[0]).startswith(legacy_ns):
            current.add(t)
    # pyLODE configures the root logger: basicConfig(level=DEBUG) when imported, basicConfig() through
    # logging.info when it loads its background ontologies (see root_logging_kept)
    with root_logging_kept():
        from pylode import OntPub

        doc = OntPub(_english(current), sort_subjects=True)
        for s in set(ontology.subjects()):
            if isinstance(s, rdflib.URIRef) and str(s).startswith(dsi_ns) and len(str(s)) > len(dsi_ns):
                doc.fids[str(s)] = str(s)[len(dsi_ns):]
        with warnings.catch_warnings():  # pyLODE reads its stylesheet without closing the file
            warnings.simplefilter("ignore", ResourceWarning)
            html = doc.make_html()
    title = re.search(r"<title>(.*?)</title>", html, re.S)
    jsonld = re.search(r'<script type="application/ld\+json">.*?</script>', html, re.S)
    body = html[html.index("<body>") + len("<body>"):html.rindex("</body>")]
    toc_at = body.find('<div id="toc">')
    toc, body = (body[toc_at:], body[:toc_at]) if toc_at >= 0 else ("", body)
    body = body + _schemes_section(schemes) + _legacy_section(ontology, legacy_ns, dsi_ns)
    if toc:  # a closed disclosure first: on a phone the 120-line list no longer precedes the content
        toc = toc.replace('<div id="toc">', '<details id="toc"><summary>', 1).replace(
            "<h3>Table of Contents</h3>", "Table of contents</summary>", 1)
        toc = toc[:toc.rindex("</div>")] + "</details>"
        extra = ('<li><h4><a href="#conceptschemes">Concept schemes</a></h4></li>'
                 '<li><h4><a href="#legacy-terms">Legacy terms (2013)</a></h4></li>')
        toc = toc[:toc.rindex("</ul>")] + extra + toc[toc.rindex("</ul>"):]
    languages = sorted({lit.language for g in (ontology, schemes) for p in (RDFS.label, SKOS.prefLabel)
                        for lit in g.objects(None, p) if isinstance(lit, rdflib.Literal) and lit.language})
    return {"title": title.group(1).strip() if title else "The DSI ontology",
            "jsonld": jsonld.group(0) if jsonld else "", "body": toc + body, "languages": languages}


def _legacy_section(g: rdflib.Graph, legacy_ns: str, dsi_ns: str) -> str:
    """The 2013 terms, each with the current term(s) declared equivalent to it."""
    terms = sorted({s for s in g.subjects() if isinstance(s, rdflib.URIRef) and str(s).startswith(legacy_ns)}, key=str)
    sec = tags.div(id="legacy-terms", cls="section")
    sec.add(tags.h2("Legacy terms (2013 DSI ontology)"))
    sec.add(tags.p("Terms of the ontology of the 2013 DSI mapping (", tags.code(legacy_ns), "). Data published "
                   "with them still reads: each is equivalent to a current term above. New data uses the "
                   "current terms."))
    items = sec.add(tags.ul(cls="legacy-terms"))
    for term in terms:
        kinds = [_local(k) for k in g.objects(term, RDF.type)]
        current = sorted({s for p in (OWL.equivalentClass, OWL.equivalentProperty) for s in g.subjects(p, term)}, key=str)
        li = items.add(tags.li(id="legacy-" + _local(term)))
        li.add(tags.a("legacy:" + _local(term), href=str(term)))
        if kinds:
            li.add(f" ({', '.join(sorted(kinds))})")
        if current:
            li.add(" → ")
            for i, c in enumerate(current):
                local = str(c)[len(dsi_ns):] if str(c).startswith(dsi_ns) else None
                li.add(tags.a("dsi:" + local if local else str(c), href=f"#{local}" if local else str(c)))
                if i < len(current) - 1:
                    li.add(", ")
    return sec.render()


def _schemes_section(g: rdflib.Graph) -> str:
    sec = tags.div(id="conceptschemes", cls="section")
    sec.add(tags.h2("Concept schemes"))
    sec.add(tags.p("The controlled lists the data uses (SKOS). Each concept has its own page."))
    for scheme in sorted(g.subjects(RDF.type, SKOS.ConceptScheme), key=str):
        slug = str(scheme).rstrip("/").rsplit("/", 1)[-1]
        box = tags.div(id=f"scheme-{slug}", cls="property entity")
        box.add(tags.h3(_label(g, scheme), tags.sup("CS", cls="sup-c", title="SKOS concept scheme")))
        box.add(tags.p(tags.a(str(scheme), href=str(scheme))))
        for desc in g.objects(scheme, DCTERMS.description):
            if getattr(desc, "language", None) in ("en", None):
                box.add(tags.p(str(desc)))
        items = tags.ul()
        concepts = sorted(g.subjects(SKOS.inScheme, scheme), key=lambda c: _label(g, c).lower())
        for concept in concepts:
            li = items.add(tags.li(tags.a(_label(g, concept), href=str(concept))))
            definition = next((str(d) for d in g.objects(concept, SKOS.definition)
                               if getattr(d, "language", None) in ("en", None)), None)
            if definition:
                li.add(f": {definition}")
        box.add(tags.p(f"{len(concepts)} concepts"))
        box.add(items)
        sec.add(box)
    return sec.render()


def shapes_html(shapes: rdflib.Graph, title: str = "SHACL shapes of the DSI knowledge base") -> str:
    """A page with one section per node shape: its target class and property constraints."""
    doc = tags.html(lang="en")
    head = doc.add(tags.head())
    head.add(tags.meta(charset="utf-8"))
    head.add(tags.title(title))
    body = doc.add(tags.body())
    main = body.add(tags.main())
    main.add(tags.h1(title))
    main.add(tags.p("What a submission or an import must look like to be accepted. "
                    "The same shapes as Turtle, JSON-LD or RDF/XML: ask for them with an Accept header."))
    shapes_list = sorted(set(shapes.subjects(RDF.type, SH.NodeShape)), key=str)
    toc = main.add(tags.ul(id="toc"))
    for shape in shapes_list:
        local = _local(shape)
        toc.add(tags.li(tags.a(local, href=f"#{local}")))
    for shape in shapes_list:
        local = _local(shape)
        sec = main.add(tags.section(id=local))
        sec.add(tags.h2(local))
        for target in shapes.objects(shape, SH.targetClass):
            sec.add(tags.p("Applies to every ", tags.a(_local(target), href=str(target))))
        for comment in list(shapes.objects(shape, RDFS.comment)) + list(shapes.objects(shape, SH.description)):
            sec.add(tags.p(str(comment)))
        table = tags.table()
        table.add(tags.thead(tags.tr(tags.th("path"), tags.th("constraints"), tags.th("message"))))
        rows = table.add(tags.tbody())
        for prop in shapes.objects(shape, SH.property):
            path = shapes.value(prop, SH.path)
            constraints = []
            for pred, obj in sorted(shapes.predicate_objects(prop), key=lambda po: str(po[0])):
                if pred in (SH.path, SH.message, SH.name, SH.description, RDF.type):
                    continue
                constraints.append(f"{_local(pred)} {_short(shapes, obj)}")
            message = " ".join(str(m) for m in shapes.objects(prop, SH.message))
            rows.add(tags.tr(tags.td(_short(shapes, path) if path is not None else ""),
                             tags.td("; ".join(constraints)), tags.td(message)))
        sec.add(table)
    return "<!DOCTYPE html>\n" + doc.render()


def _local(node) -> str:
    text = str(node)
    return text.rsplit("#", 1)[-1] if "#" in text else text.rstrip("/").rsplit("/", 1)[-1]


def _short(g: rdflib.Graph, node) -> str:
    if isinstance(node, rdflib.URIRef):
        try:
            return g.namespace_manager.normalizeUri(node)
        except Exception:  # noqa: BLE001 - rdflib raises several kinds for IRIs it cannot shorten
            return str(node)
    if isinstance(node, rdflib.BNode):
        items = list(rdflib.collection.Collection(g, node)) if (node, RDF.first, None) in g else []
        return "(" + " ".join(_short(g, i) for i in items) + ")" if items else "[…]"
    return str(node)


@contextlib.contextmanager
def root_logging_kept():
    """Restore the root logger's handlers and level as they were, whatever the block did to them.

    pyLODE's supermodel profile calls ``logging.basicConfig(level=logging.DEBUG)`` when it is imported,
    and pyLODE logs through ``logging.info`` (which calls ``basicConfig()`` on a root logger without
    handlers) when it loads its background ontologies: the first ontology page put the process's root
    logger at DEBUG with a handler on standard error, so every library's debug and info lines (each
    HTTP request to a remote store, each SHACL shape checked) went to the server's stderr from then on.
    pyLODE's import and calls run under this (here and in ``endpoint.server.preload``)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
