"""HTML documentation of the ontology (pyLODE) and of the SHACL shapes, generated from the store.

pyLODE names its anchors after labels ("Organisation type" -> ``#Organisationtype``); the contract
says ``/def/dsi#OrganisationType`` resolves, so the anchors of our own terms are set to their local
names before pyLODE renders. Concept schemes, which pyLODE's OntPub profile does not list, are added
as a generated section, as are the shapes (one section per node shape). Generation takes seconds:
callers cache the result per store generation.
"""

from __future__ import annotations

import warnings

import rdflib
from dominate import tags
from rdflib.namespace import DCTERMS, RDF, RDFS, SH, SKOS


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
    """The pyLODE page of ``ontology``, anchors = local names, plus a section per concept scheme."""
    from pylode import OntPub

    doc = OntPub(_english(ontology), sort_subjects=True)
    for s in set(ontology.subjects()):
        if isinstance(s, rdflib.URIRef) and str(s).startswith(dsi_ns) and len(str(s)) > len(dsi_ns):
            doc.fids[str(s)] = str(s)[len(dsi_ns):]
    with warnings.catch_warnings():  # pyLODE reads its stylesheet without closing the file
        warnings.simplefilter("ignore", ResourceWarning)
        html = doc.make_html()
    section = _schemes_section(schemes)
    cut = html.rfind("</div>", 0, html.find('<div id="toc">')) if '<div id="toc">' in html else html.rfind("</body>")
    return html[:cut] + section + html[cut:]


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
