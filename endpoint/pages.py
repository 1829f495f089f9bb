"""People-facing pages: the home page, template filters, and the view of one entity's description.

Links in pages point to the server that rendered them: an IRI under ``{base}`` becomes a path on the
request's host (the base may be a different host, e.g. w3id.org).
"""

from __future__ import annotations

import re
import weakref
from urllib.parse import quote, urlencode, urlsplit

import pyoxigraph as ox
from flask import Blueprint, render_template, request
from flask_babel import gettext as _, ngettext

from endpoint.i18n import N_, current_language

from endpoint.state import get_kb
from kb.publish.describe import Description, property_labels
from kb.namespaces import LEGACY_CONCEPT, LEGACY_ID, STANDARD_PREFIXES as P
from kb.publish.schemaorg import page_jsonld
from kb.publish.stats import PAGE_WAIT, PAGE_WAIT_STALE, stats
from kb.terms import sparql_term

bp = Blueprint("pages", __name__)

ROLE_GROUPS = (("delivery-lead", N_("Led by"), N_("Leads")),
               ("sole-funder", N_("Funded by"), N_("Funds")), ("co-funder", N_("Funded by"), N_("Funds")))
FALLBACK_LABELS = {
    P["rdfs"] + "label": N_("name"), P["skos"] + "altLabel": N_("also known as"), P["skos"] + "prefLabel": N_("name"),
    P["dcterms"] + "description": N_("description"), P["dcterms"] + "identifier": N_("identifier"),
    P["owl"] + "sameAs": N_("same as"), P["skos"] + "closeMatch": N_("probably the same as"),
    P["skos"] + "exactMatch": N_("same as"), P["rdf"] + "type": N_("type"), P["geo"] + "lat": N_("latitude"),
    P["geo"] + "long": N_("longitude"), P["schema"] + "funder": N_("funder"), P["schema"] + "member": N_("member"),
    P["skos"] + "inScheme": N_("in scheme"), P["skos"] + "broader": N_("broader"), P["skos"] + "narrower": N_("narrower"),
    P["skos"] + "definition": N_("definition"), P["skos"] + "hasTopConcept": N_("top concept"),
    P["skos"] + "topConceptOf": N_("top concept of"), P["dcterms"] + "created": N_("created"),
    P["dcterms"] + "modified": N_("modified"), P["dcterms"] + "source": N_("source"),
}


def humanize(iri: str) -> str:
    """A readable name from an IRI's local part: ``technologyFocus`` -> ``technology focus``."""
    local = re.split(r"[#/]", iri.rstrip("/#"))[-1]
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", local).replace("-", " ").replace("_", " ").lower() or iri


def local_href(iri: str) -> str | None:
    """Where a link to ``iri`` goes on this server: {base}id/x -> /id/x, {base}def/... -> /def/...;
    None for IRIs outside the base."""
    base = get_kb().names.base
    if not iri.startswith(base):
        return None
    rest = iri[len(base):]
    if rest.startswith("id/"):
        return request.script_root + "/id/" + rest[3:].split("#", 1)[0]
    if rest.startswith(("def/", "dumps/", "dataset")):
        return request.script_root + "/" + rest
    return None


LINK_SCHEMES = frozenset({"http", "https", "mailto"})
# What browsers drop from a URL before reading its scheme (C0 controls, space; tabs and newlines even
# inside), plus DEL and the Unicode spaces and separators, so that the scheme is read as they read it.
_IGNORED = re.compile(r"[\x00-\x20\x7f-\x9f\u00a0\u1680\u2000-\u200f\u2028\u2029\u202f\u205f\u3000\ufeff]")


def link_target(value: str | None) -> str | None:
    """``value`` as a safe href: an http(s) or mailto: address, or a path on this server ("/..."); None
    for anything else (javascript:, data:, ftp:, urn:, "//host"), which pages show as text.

    Decided on the parsed URL's scheme, as a browser reads it, never on a substring."""
    if not value:
        return None
    cleaned = _IGNORED.sub("", value)
    try:
        parts = urlsplit(cleaned)
    except ValueError:
        return None
    if parts.scheme:
        return cleaned if parts.scheme.lower() in LINK_SCHEMES else None
    # a relative reference: only an absolute path (not "//host" nor "/\\host", which leave this server)
    if cleaned.startswith("/") and not cleaned.startswith(("//", "/\\")):
        return cleaned
    return None


@bp.app_template_filter("href")
def href_filter(iri: str) -> str | None:
    """Where a link to ``iri`` goes: a path on this server for ours, the IRI itself for a web
    address, None (show it as text) for anything else."""
    return local_href(iri) or link_target(iri)


@bp.app_template_filter("link_target")
def link_target_filter(value: str | None) -> str | None:
    return link_target(value)


@bp.app_template_global("query_url")
def query_url(**changes) -> str:
    """The current URL with some query parameters changed (None removes one); keeps repeated ones."""
    items = [(k, v) for k, v in request.args.items(multi=True) if k not in changes]
    for key, value in changes.items():
        if value is None:
            continue
        for v in value if isinstance(value, list) else [value]:
            items.append((key, v))
    return request.path + ("?" + urlencode(items) if items else "")


_HOME: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # KB -> (generation, figures, example)


@bp.get("/")
def home():
    kb = get_kb()
    generation = kb.generation
    cached = _HOME.get(kb)
    if cached is None or cached[0] != generation:  # the figures change only when the store does
        # counted on a thread of their own: waited for a moment (less when older figures can be shown)
        figures = stats(kb, wait=PAGE_WAIT, wait_stale=PAGE_WAIT_STALE)
        cached = (generation, figures, _example(kb))
        if not figures.get("counting"):
            _HOME[kb] = cached
    return render_template("home.html", figures=cached[1], base=kb.names.base, example=cached[2],
                           facets=_home_facets(kb, current_language()))


def _home_facets(kb, lang: str) -> dict[str, list[dict]]:
    """The values of the facets the home page opens (area and technology of projects, country and type
    of organisations), most used first, each with its count and the filtered list's link; labels in
    ``lang`` where the data has them (the lists' counts are kept in memory, so this is cheap)."""
    from kb.index.browse import listing

    out = {}
    for type_, key in (("project", "area"), ("project", "technology"), ("organisation", "country"),
                       ("organisation", "type")):
        facet = next(f for f in listing(kb, type_, per_page=1, lang=lang).facets if f["key"] == key)
        out[f"{type_}-{key}"] = [{"label": v["label"], "count": v["count"],
                                  "href": f"{request.script_root}/browse/{type_}?{urlencode({key: v['slug']})}"}
                                 for v in facet["values"]]
    return out


def _example(kb) -> str | None:
    rows = kb.select("SELECT ?s WHERE { ?s a dsi:Organisation ; dsi:leads ?p ; rdfs:label ?l "
                     "FILTER NOT EXISTS { ?s dsi:hidden true } } ORDER BY ?l LIMIT 1")
    return rows[0]["s"].value if rows else None


# -- the view of one description ------------------------------------------------------------------
def _link(desc: Description, term) -> dict:
    """A value for a template: {text, href, external, lang, iri}."""
    if isinstance(term, ox.Literal):
        return {"text": term.value, "lang": term.language, "href": None, "external": False}
    if isinstance(term, ox.BlankNode):
        return {"text": _("(unnamed node)"), "href": None, "external": False}
    iri = term.value
    label = desc.labels.get(iri)
    href = local_href(iri)
    external = href is None
    return {"text": label or _short(iri), "href": href or link_target(iri), "external": external, "iri": iri,
            "has_label": label is not None}


def _short(iri: str) -> str:
    for prefix, ns in (("wikidata", "http://www.wikidata.org/entity/"),):
        if iri.startswith(ns):
            return f"Wikidata {iri[len(ns):]}"
    return iri


def entity_view(kb, desc: Description) -> dict:
    """What an entity page shows, in reading order."""
    n = kb.names
    plabels = property_labels(kb, current_language())

    def plabel(iri: str) -> str:
        return plabels.get(iri) or (_(FALLBACK_LABELS[iri]) if iri in FALLBACK_LABELS else humanize(iri))

    d = n.dsi
    types = desc.types.get(desc.iri, [])
    is_org = d("Organisation") in types
    is_project = d("Project") in types or d("Activity") in types
    shown = {P["rdfs"] + "label", P["skos"] + "prefLabel", P["rdf"] + "type", P["dcterms"] + "description",
             d("shortDescription"), d("hidden"), P["owl"] + "sameAs", P["skos"] + "closeMatch",
             P["skos"] + "exactMatch", P["geo"] + "lat", P["geo"] + "long", P["skos"] + "definition",
             P["skos"] + "hiddenLabel"}
    facts: list[dict] = []

    def fact(label: str, *predicates: str, sep: str = ", "):
        values = []
        for p in predicates:
            shown.add(p)
            values += [_link(desc, v) for v in desc.values(p)]
        if values:
            facts.append({"label": label, "values": values, "sep": sep})

    fact(_("Where"), d("city"), d("region"), d("country"))
    if facts:  # "Paris, France, France": a city label that names its country says enough
        where = facts[-1]["values"]
        facts[-1]["values"] = [w for i, w in enumerate(where)
                               if not any(o is not w and o["text"].endswith(", " + w["text"]) for o in where)]
    dates = [v.value[:10] for v in desc.values(d("startDate"))] , [v.value[:10] for v in desc.values(d("endDate"))]
    shown |= {d("startDate"), d("endDate")}
    if dates[0] or dates[1]:
        text = (dates[0][0] if dates[0] else "?") + (f" – {dates[1][0]}" if dates[1] else "")
        facts.append({"label": _("When") if is_project else _("Founded"), "values": [{"text": text}], "sep": ""})
    fact(_("Website"), d("website"))
    fact(_("Twitter"), d("twitter"))
    fact(_("Organisation type"), d("organisationType"))
    fact(_("Size"), d("organisationSize"))
    fact(_("Activity type"), d("activityType"))
    fact(_("Areas of society"), d("areaOfSociety"))
    fact(_("DSI areas"), d("dsiArea"))
    fact(_("Technology focus"), d("technologyFocus"))
    fact(_("Technology methods"), d("technologyMethod"))
    fact(_("Support"), d("supportType"))
    fact(_("Who it helps"), d("whoWeHelp"))
    if [v.value for v in desc.values(d("socialImpact"))] != [_pick(desc, P["dcterms"] + "description")]:
        fact(_("Social impact"), d("socialImpact"))
    shown |= {d("socialImpact"), d("qualityIssue")}
    fact(_("Tags"), d("tag"), d("networkTag"))

    involvement = _involvement(kb, desc, is_org)
    if involvement:
        shown |= {d("takesPartIn"), d("leads"), d("funds"), d("partnerIn"), d("evaluates"), d("advises"),
                  P["schema"] + "funder", P["schema"] + "member"}
    else:
        for label, p in ((_("Leads"), d("leads")), (_("Funds"), d("funds")), (_("Takes part in"), d("takesPartIn")),
                         (_("Funded by"), P["schema"] + "funder"), (_("Members"), P["schema"] + "member")):
            fact(label, p)
    shown.add(d("collaboratesWith"))
    collaborators = _collaborators(kb, desc)
    shown |= {d("degree"), d("betweenness"), d("community"), d("bridgesCommunities")}  # as "In the network"
    from kb.publish.network import figures

    network = figures(kb, desc.iri) if is_org else None

    description = (_pick(desc, P["dcterms"] + "description") or _pick(desc, P["skos"] + "definition")
                   or _pick(desc, d("shortDescription")))
    short = _pick(desc, d("shortDescription"))
    groups: dict[str, dict] = {}
    for s in desc.own:
        if s.predicate.value in shown:
            continue
        g = groups.setdefault(s.predicate.value, {"label": plabel(s.predicate.value),
                                                  "iri": s.predicate.value, "values": []})
        g["values"].append(_link(desc, s.value) | {"graphs": s.graphs})
    others = sorted(groups.values(), key=lambda g: g["label"].casefold())

    inverse: dict[str, dict] = {}
    hidden_inverse = 0
    lists = _place_lists(kb, desc) if d("Place") in types else _concept_lists(kb, desc)
    listed = {item["iri"] for li in lists for item in li["items"]}
    skip = {P["schema"] + "member", P["schema"] + "funder", d("takesPartIn"), d("leads"), d("funds"),
            d("partnerIn"), d("evaluates"), d("advises")}
    for i in desc.inverse:
        if isinstance(i.subject, ox.BlankNode) or "#" in i.subject.value:
            continue  # memberships and collaborations are shown as involvement
        if (involvement and i.predicate.value in skip) or i.predicate.value == d("collaboratesWith"):
            continue
        if i.subject.value in listed:
            continue  # shown in the place's or concept's own lists
        if i.subject.value in desc.hidden_links and not desc.hidden:
            hidden_inverse += 1
            continue  # spam and test entries stay out of public lists
        g = inverse.setdefault(i.predicate.value, {"label": plabel(i.predicate.value), "values": []})
        g["values"].append(_link(desc, i.subject))
    for g in inverse.values():
        g["values"].sort(key=lambda v: v["text"].casefold())

    elsewhere = []
    for p in (P["owl"] + "sameAs", P["skos"] + "exactMatch", P["skos"] + "closeMatch"):
        for v in desc.values(p):
            iri = v.value
            if iri.startswith("http://www.wikidata.org/entity/"):
                link = {"href": iri, "text": "Wikidata " + iri.rsplit("/", 1)[-1], "external": True}
            elif iri.startswith(LEGACY_ID):
                link = {"href": iri, "text": _("DSI 2013 linked data (%(kind)s)", kind=iri[len(LEGACY_ID):].split("/")[0]),
                        "external": True}
            elif iri.startswith(LEGACY_CONCEPT):
                link = {"href": iri, "text": _("DSI 2013 linked data (concept)"), "external": True}
            else:
                link = _link(desc, v)
            elsewhere.append(link | {"probable": p.endswith("closeMatch")})

    issues = [_link(desc, v)["text"] for v in desc.values(d("qualityIssue"))]
    browse = [{"href": li["browse"], "text": li["title"]} for li in lists
              if li.get("browse") and d("Place") in types]
    type_labels = [plabels.get(t) or humanize(t).capitalize() for t in types if t.startswith(n.dsi_ns)]
    type_labels += [_(SKOS_CLASSES[t]) for t in types if t in SKOS_CLASSES and not type_labels]
    sparql = (f"SELECT ?property ?value ?valueLabel ?graph WHERE {{\n"
              f"  GRAPH ?graph {{ {sparql_term(ox.NamedNode(desc.iri))} ?property ?value }}\n"
              f"  OPTIONAL {{ ?value rdfs:label ?valueLabel }}\n}} ORDER BY ?property")
    return {
        "title": desc.label() or desc.iri.rsplit("/", 1)[-1],
        "types": type_labels or [_("Resource")],
        "is_org": is_org, "is_project": is_project,
        "description": description, "short": short if short != description else None,
        "facts": facts, "involvement": involvement, "collaborators": collaborators, "others": others,
        "inverse": sorted(inverse.values(), key=lambda g: g["label"].casefold()),
        "elsewhere": elsewhere, "issues": issues, "browse": browse, "lists": lists,
        "hidden_inverse": hidden_inverse, "hidden": desc.hidden,
        "coordinates": _coordinates(desc),
        "network": network,
        "sparql_href": request.script_root + "/sparql?" + urlencode({"query": sparql}),
        "schema": page_jsonld(desc, kb.names, description=description),
    }


SKOS_CLASSES = {P["skos"] + "ConceptScheme": N_("Concept scheme"), P["skos"] + "Concept": N_("Concept")}  # types of schemes
LIST_CAP = 500  # names listed on a place or concept page; the browse link has them all


def _rows_view(rows) -> list[dict]:
    return [{"iri": r.iri, "href": local_href(r.iri) or link_target(r.iri), "text": r.label, "place": r.place}
            for r in rows[:LIST_CAP]]


def _place_lists(kb, desc: Description) -> list[dict]:
    """The organisations and projects at a place, by name, with the browse list of a country."""
    from kb.index.browse import at_place

    found = at_place(kb, desc.iri)
    slug = desc.iri.rsplit("/", 1)[-1]
    is_country = found.is_country  # an entity listed names it as its country (no Row made for it)
    name = desc.label() or slug
    titles = {"organisation": _("Organisations in %(place)s", place=name),
              "project": _("Projects in %(place)s", place=name)}
    notes = {"organisation": None,
             "project": _("stated, or where a partner organisation is based") if is_country
             else _("stated, or with a partner organisation here")}
    return [{"key": t, "title": titles[t], "note": notes[t], "count": len(rows), "items": _rows_view(rows),
             "browse": f"{request.script_root}/browse/{t}?{urlencode({'country': slug})}" if is_country else None}
            for t, rows in found.items() if rows]


def _concept_lists(kb, desc: Description) -> list[dict]:
    """What is filed under a concept, by name, as its browse list has it (same rows, same count)."""
    from kb.index.browse import filed_under

    if "/id/concept/" not in desc.iri:
        return []
    name = desc.label() or desc.iri.rsplit("/", 1)[-1]
    out = []
    for type_, facet, rows in filed_under(kb, desc.iri):
        title = (_("Organisations filed under “%(name)s”", name=name) if type_ == "organisation"
                 else _("Projects filed under “%(name)s”", name=name))
        out.append({"key": type_, "title": title, "note": _(facet.label).lower(),
                    "count": len(rows), "items": _rows_view(rows),
                    "browse": f"{request.script_root}/browse/{type_}?{urlencode({facet.key: desc.iri.rsplit('/', 1)[-1]})}"})
    return out


def _pick(desc: Description, predicate: str) -> str | None:
    values = [v for v in desc.values(predicate) if isinstance(v, ox.Literal)]
    values.sort(key=lambda lit: lit.language not in (None, "en"))
    return values[0].value if values else None


def _coordinates(desc: Description):
    lat, lon = desc.first(P["geo"] + "lat"), desc.first(P["geo"] + "long")
    if lat is None or lon is None:
        return None
    query = urlencode({"mlat": lat.value, "mlon": lon.value})
    return {"lat": lat.value, "long": lon.value,
            "osm": f"https://www.openstreetmap.org/?{query}#map=12/{quote(lat.value)}/{quote(lon.value)}"}


def _involvement(kb, desc: Description, is_org: bool) -> list[dict]:
    """Who does what: from the membership nodes (organisation, project, role), grouped by role."""
    d = kb.names.dsi
    nodes: dict = {}
    for t in desc.attached:
        if t.predicate.value in (d("organisation"), d("project"), d("role")):
            nodes.setdefault(t.subject, {})[t.predicate.value.rsplit("#", 1)[-1]] = t.object
    groups: dict[str, dict] = {}
    for parts in nodes.values():
        if not {"organisation", "project"} <= parts.keys():
            continue
        other = parts["project"] if is_org else parts["organisation"]
        if other.value == desc.iri:
            continue
        role = parts.get("role")
        role_slug = role.value.rsplit("/", 1)[-1] if role is not None else "takes-part"
        heading = next((g[2] if is_org else g[1] for g in ROLE_GROUPS if g[0] == role_slug), None)
        if heading is None:
            heading = N_("Takes part in") if is_org else N_("Partners")
        entry = groups.setdefault(heading, {"label": heading, "by": {}})
        roles = entry["by"].setdefault(other.value, (other, set()))[1]
        if role is not None and role_slug not in ("takes-part", "delivery-lead"):
            roles.add(desc.labels.get(role.value, humanize(role.value)))
    out = []
    named = {iri for h, e in groups.items() if h not in ("Partners", "Takes part in") for iri in e["by"]}
    for heading, entry in groups.items():
        values = []
        for other, roles in entry["by"].values():
            if heading in ("Partners", "Takes part in") and other.value in named and not roles:
                continue  # already listed as lead or funder
            link = _link(desc, other)
            link["role"] = ", ".join(sorted(roles)).lower() or None
            values.append(link)
        values.sort(key=lambda v: v["text"].casefold())
        if values:
            out.append({"label": heading, "values": values})
    order = ["Led by", "Leads", "Funded by", "Funds", "Partners", "Takes part in"]
    out.sort(key=lambda g: order.index(g["label"]) if g["label"] in order else 99)
    return [g | {"label": _(g["label"])} for g in out]  # headings are English keys until here


def _collaborators(kb, desc: Description) -> list[dict]:
    """Organisations it shares projects with, most shared first (from dsi:Collaboration nodes)."""
    d = kb.names.dsi
    nodes: dict = {}
    for t in desc.attached:
        if t.predicate.value == d("collaborator") and t.object.value != desc.iri:
            nodes.setdefault(t.subject, {})["other"] = t.object
        elif t.predicate.value == d("sharedProjects"):
            nodes.setdefault(t.subject, {})["n"] = int(t.object.value)
    out = {}
    for parts in nodes.values():
        if "other" in parts:
            link = _link(desc, parts["other"])
            n = parts.get("n", 0)
            link["role"] = ngettext("%(num)s shared project", "%(num)s shared projects", n) if n else None
            link["n"] = n
            out[parts["other"].value] = link
    if not out:
        out = {v.value: _link(desc, v) | {"n": 0, "role": None} for v in desc.values(d("collaboratesWith"))}
    return sorted(out.values(), key=lambda v: (-v["n"], v["text"].casefold()))
