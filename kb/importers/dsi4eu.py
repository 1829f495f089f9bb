"""The DSI4EU platform export (27 March 2017): organisations, projects, their links, tags.

Records that are the same as a 2013 (or curated) entity describe that entity (see matching.py);
the 10 March snapshot is read only as evidence (records deleted between the two snapshots).
Rows are numbered from 1 in array order.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyoxigraph as ox

from kb.importers.common import (Builder, clean_text, coordinates, host_of, iso_date, plain_text,
                                 website)
from kb.importers.context import Context
from kb.importers.dsi2013 import membership
from kb.importers.matching import Record, match, store_candidates
from kb.slugs import slug_of, slugify

ORGS = "dsi4eu_organisations2_2017-03-27.json"
PROJECTS = "dsi4eu_projects2_2017-03-27.json"
EARLIER_ORGS = "dsi4eu_organisations_2017-03-10.json"
EARLIER_PROJECTS = "dsi4eu_projects_2017-03-10.json"
FILES = (ORGS, PROJECTS, EARLIER_ORGS, EARLIER_PROJECTS)


def org_key(i) -> str:
    return f"dsi4eu:organisation:{int(i)}"


def project_key(i) -> str:
    return f"dsi4eu:project:{int(i)}"


def _load(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))


def _record(ctx: Context, key: str, name: str, r: dict, orgs=frozenset()) -> Record:
    site, _ = website(r.get("website"))
    pair, _ = coordinates(r.get("latitude"), r.get("longitude"))
    country = clean_text(r.get("country"))
    return Record(key, clean_text(name), host_of(site),
                  float(pair[0]) if pair else None, float(pair[1]) if pair else None,
                  ctx.names.entity("place", slugify(country)) if country else "", frozenset(orgs))


def build(ctx: Context, folder: Path) -> dict:
    g = ctx.kb.graphs
    higher = [g.curated, g.source("dsi2013")]
    orgs = _load(folder / ORGS)
    projects = _load(folder / PROJECTS)
    matches = []
    org_iris = _resolve(ctx, "organisation", "Organisation", ORGS, higher, matches,
                        [(org_key(r["organisation_id"]), r["organisation_name"], r, ()) for r in orgs])
    links = _links(ctx, orgs, projects, org_iris)
    project_iris = _resolve(ctx, "project", "Project", PROJECTS, higher, matches, [
        (project_key(r["project_id"]), r["project_name"], r,
         {org_iris[k] for k in links.get(project_key(r["project_id"]), ()) if k in org_iris})
        for r in projects])
    for n, r in enumerate(orgs, 1):
        _organisation(ctx, n, r, org_iris[org_key(r["organisation_id"])])
    for n, r in enumerate(projects, 1):
        _project(ctx, n, r, project_iris[project_key(r["project_id"])])
    count = 0
    for pkey, okeys in sorted(links.items()):
        for okey in sorted(okeys):
            membership(ctx, org_iris[okey], project_iris[pkey], "takes-part")
            count += 1
    ctx.report.figures["dsi4eu memberships"] = count
    _earlier(ctx, folder, orgs, projects)
    return {g.matches: _matches_graph(ctx, matches)}


def _resolve(ctx, type_, cls, file, higher, matches, items) -> dict[str, str]:
    """IRIs for DSI4EU records: the registry's, else a confident match's, else a new slug."""
    records = [_record(ctx, key, name, r, orgs) for key, name, r, orgs in items]
    found = match(records, store_candidates(ctx.kb, cls, higher))
    confident = {m.key: m for m in found if m.confident}
    for key, m in confident.items():
        if not ctx.slugs.lookup(key):
            ctx.slugs.bind(key, m.iri)
    iris = ctx.slugs.mint_all(type_, [(key, name) for key, name, _, _ in items])
    rows = {key: n for n, (key, _, _, _) in enumerate(items, 1)}
    for m in found:
        matches.append((m, iris[m.key]))
        if not m.confident:
            ctx.report.issue(file, rows[m.key], "name", f"doubtful match with <{m.iri}> "
                             f"({m.other_name!r}): kept apart; " + "; ".join(m.evidence), m.name)
    ctx.report.figures[f"dsi4eu {type_}s matched"] = sum(
        1 for m in confident.values() if iris[m.key] == m.iri)
    ctx.report.figures[f"dsi4eu {type_}s doubtful matches"] = sum(1 for m in found if not m.confident)
    return iris


def _links(ctx, orgs, projects, org_iris) -> dict[str, set[str]]:
    """Project key -> organisation keys, from both sides' linked ids; dangling ids reported."""
    org_ids = {int(r["organisation_id"]) for r in orgs}
    project_ids = {int(r["project_id"]) for r in projects}
    links: dict[str, set[str]] = {}
    for n, r in enumerate(orgs, 1):
        for pid in r.get("linked_project_ids") or []:
            if str(pid).strip().isdigit() and int(pid) in project_ids:
                links.setdefault(project_key(pid), set()).add(org_key(r["organisation_id"]))
            else:
                ctx.report.issue(ORGS, n, "linked_project_ids", "unknown project id", pid)
    for n, r in enumerate(projects, 1):
        for oid in r.get("linked_organisation_ids") or []:
            if str(oid).strip().isdigit() and int(oid) in org_ids:
                links.setdefault(project_key(r["project_id"]), set()).add(org_key(oid))
            else:
                ctx.report.issue(PROJECTS, n, "linked_organisation_ids", "unknown organisation id", oid)
    return links


def _common(ctx: Context, n: int, file: str, r: dict, iri: str, cls: str, key: str, name: str) -> None:
    ctx.typed(iri, cls)
    ctx.b.add(iri, "dcterms:identifier", ox.Literal(key))
    ctx.identity(iri, name, r.get("website"), file=file, row=n, name_field="name", site_field="website")
    ctx.w.text(iri, "shortDescription", plain_text(r.get("short_description")))
    long = plain_text(r.get("long_description"))
    if long:
        ctx.w.single_std(iri, "dcterms:description", ox.Literal(long))
    pair, problem = coordinates(r.get("latitude"), r.get("longitude"))
    ctx.w.coords(iri, pair)
    if problem:
        ctx.flag_quality(iri, "impossible-coordinates", hide=False)
        ctx.report.issue(file, n, "latitude/longitude", problem)
    ctx.place(iri, r.get("country"), r.get("region"), file=file, row=n, coords=pair, city_field="region")


def _created(ctx, n, file, iri, field, raw) -> None:
    value, problem = iso_date(raw)
    if problem == "placeholder-date":
        ctx.report.issue(file, n, field, "1970-01-01 is a placeholder: not imported", raw)
    elif problem:
        ctx.report.issue(file, n, field, problem, raw)
    elif value:
        ctx.w.single_std(iri, "dcterms:created", ox.Literal(
            value, datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#date")))


def _date(ctx, n, file, iri, term, field, raw) -> None:
    value, problem = iso_date(raw)
    if problem == "placeholder-date":
        ctx.flag_quality(iri, "placeholder-date", hide=False)
        ctx.report.issue(file, n, field, "1970-01-01 is a placeholder: not imported", raw)
    elif problem:
        ctx.report.issue(file, n, field, problem, raw)
    ctx.w.date(iri, term, value)


def _organisation(ctx: Context, n: int, r: dict, iri: str) -> None:
    name = clean_text(r.get("organisation_name"))
    _common(ctx, n, ORGS, r, iri, "Organisation", org_key(r["organisation_id"]), name)
    kind = r.get("organisation_type")
    kind = kind.get("name") if isinstance(kind, dict) else kind
    ctx.classify(iri, ("organisation-type",), kind or "", file=ORGS, row=n, field="organisation_type")
    ctx.classify(iri, ("organisation-size",), r.get("organisation_size") or "", file=ORGS, row=n,
                 field="organisation_size")
    _date(ctx, n, ORGS, iri, "startDate", "startDate", r.get("startDate"))
    _created(ctx, n, ORGS, iri, "created", r.get("created"))
    for tag in r.get("tags") or []:
        ctx.b.text(iri, "tag", tag if isinstance(tag, str) else tag.get("name"))
    for tag in r.get("networkTags") or []:
        ctx.b.text(iri, "networkTag", tag if isinstance(tag, str) else tag.get("name"))


def _project(ctx: Context, n: int, r: dict, iri: str) -> None:
    name = clean_text(r.get("project_name"))
    _common(ctx, n, PROJECTS, r, iri, "Project", project_key(r["project_id"]), name)
    ctx.w.text(iri, "socialImpact", plain_text(r.get("social_impact")))
    _date(ctx, n, PROJECTS, iri, "startDate", "start_date", r.get("start_date"))
    _date(ctx, n, PROJECTS, iri, "endDate", "end_date", r.get("end_date"))
    _created(ctx, n, PROJECTS, iri, "creation_date", r.get("creation_date"))
    for tag in r.get("who_we_help_tags") or []:
        ctx.b.text(iri, "whoWeHelp", tag if isinstance(tag, str) else tag.get("name"))
    for field, schemes in (("support_tags", ("area-of-society", "technology-method", "technology-focus")),
                           ("focus", ("technology-focus",)),
                           ("technology", ("technology-method", "technology-focus", "area-of-society"))):
        for tag in r.get(field) or []:
            value = tag.get("name") if isinstance(tag, dict) else tag
            ctx.classify(iri, schemes, value or "", file=PROJECTS, row=n, field=field)


def _earlier(ctx: Context, folder: Path, orgs: list[dict], projects: list[dict]) -> None:
    """Evidence from the 10 March snapshot: records it had that the later one no longer has."""
    for file, later, id_field, kind in ((EARLIER_ORGS, orgs, "organisation_id", "organisations"),
                                        (EARLIER_PROJECTS, projects, "project_id", "projects")):
        later_ids = {int(r[id_field]) for r in later}
        gone = [r for r in _load(folder / file) if int(r[id_field]) not in later_ids]
        ctx.report.figures[f"dsi4eu {kind} removed after 10 March"] = len(gone)


def _matches_graph(ctx: Context, matches) -> set[ox.Triple]:
    """Evidence notes for merged records; rdfs:seeAlso (doubtful) or owl:sameAs (a confident match
    that kept its own older IRI) between two entities."""
    b = Builder(ctx.names)
    for m, iri in sorted(matches, key=lambda x: (x[0].key, x[0].iri)):
        kind, number = m.key.split(":")[1:]
        note = f"{iri}#match-dsi4eu-{kind}-{number}" if m.confident else \
            f"{iri}#possible-match-{slug_of(m.iri)}"
        reason = "; ".join(m.evidence)
        if m.confident and iri == m.iri:
            decision = "same entity"
        elif m.confident:
            decision = "same entity, kept as two IRIs (owl:sameAs)"
            b.link(iri, "owl:sameAs", m.iri)
        else:
            decision = "doubtful: kept as two entities"
            b.link(iri, "rdfs:seeAlso", m.iri)
        b.link(note, "rdfs:seeAlso", iri)
        b.link(note, "rdfs:seeAlso", m.iri)
        b.add(note, "reason", ox.Literal(f"DSI4EU record {m.key} ({m.name!r}) and "
                                         f"{m.other_name!r}: {decision}; evidence: {reason}"))
        ctx.report.matches.append({**m.as_dict(), "iri": iri, "decision": decision})
    return b.triples
