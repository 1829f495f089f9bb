"""The 2013 DSI mapping (Swirrl linked data, exported for DSI4EU): organisations, projects, roles,
DSI areas and the partner network. Rows are numbered from 1 after the header (CSV records, which
may span several lines)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyoxigraph as ox

from kb.importers.common import clean_text, coordinates, twitter
from kb.importers.context import Context
from kb.namespaces import LEGACY_CONCEPT, LEGACY_ID
from kb.slugs import slug_of

ORGS = "dsi2013_swirrl_export_orgs.csv"
PROJECTS = "dsi2013_swirrl_export_projects.csv"
LINKS = "dsi2013_swirrl_export_org-projects.csv"
AREAS = "swirrl_digitalsocial_areas_of_digital_social_innovation.txt"
PARTNERS = "swirrl_digitalsocial_map_partners_static.json"
FILES = (ORGS, PROJECTS, LINKS, AREAS, PARTNERS)
ROLES = ("sole-funder", "co-funder", "delivery-lead", "delivery-partner", "evaluator",
         "advisory-group-member")


def org_key(uuid: str) -> str:
    return f"{LEGACY_ID}organization/{uuid.strip()}"


def project_key(uuid: str) -> str:
    return f"{LEGACY_ID}activity/{uuid.strip()}"


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _split(value: str) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def build(ctx: Context, folder: Path) -> None:
    orgs = _rows(folder / ORGS)
    projects = _rows(folder / PROJECTS)
    org_iris = ctx.slugs.mint_all("organisation", [(org_key(r["Organisation ID"]), r["Name"]) for r in orgs])
    project_iris = ctx.slugs.mint_all("project", [(project_key(r["Project ID"]), r["Project Name"])
                                                  for r in projects])
    _organisations(ctx, orgs, org_iris)
    _projects(ctx, projects, project_iris)
    _memberships(ctx, _rows(folder / LINKS), org_iris, project_iris)
    _areas(ctx, folder / AREAS, project_iris)
    _partners(ctx, folder / PARTNERS, org_iris)


def _organisations(ctx: Context, rows: list[dict], iris: dict[str, str]) -> None:
    for n, r in enumerate(rows, 1):
        key = org_key(r["Organisation ID"])
        iri = iris[key]
        name = clean_text(r["Name"])
        ctx.typed(iri, "Organisation")
        ctx.b.link(iri, "owl:sameAs", key)
        ctx.identity(iri, name, r["Website"], file=ORGS, row=n, name_field="Name", site_field="Website",
                     extra=(r["Street Address"], r["Region"], r["Location"]))
        handle = twitter(r["Twitter"])
        if handle:
            ctx.w.text(iri, "twitter", handle)
        elif clean_text(r["Twitter"]):
            ctx.report.issue(ORGS, n, "Twitter", "not a Twitter handle", r["Twitter"])
        ctx.classify(iri, ("organisation-type",), r["Organisation type"], file=ORGS, row=n,
                     field="Organisation type")
        ctx.classify(iri, ("organisation-size",), r["Size of Organisation"], file=ORGS, row=n,
                     field="Size of Organisation")
        pair, problem = coordinates(r["Latitude"], r["Longitude"])
        ctx.w.coords(iri, pair)
        if problem:
            ctx.flag_quality(iri, "impossible-coordinates", hide=False)
            ctx.report.issue(ORGS, n, "Latitude/Longitude", problem)
        ctx.place(iri, r["Country"], r["Location"], file=ORGS, row=n, coords=pair, city_field="Location")
        ctx.region(iri, r["Region"], file=ORGS, row=n, field="Region")


def _projects(ctx: Context, rows: list[dict], iris: dict[str, str]) -> None:
    for n, r in enumerate(rows, 1):
        key = project_key(r["Project ID"])
        iri = iris[key]
        name = clean_text(r["Project Name"])
        ctx.typed(iri, "Project")
        ctx.b.link(iri, "owl:sameAs", key)
        ctx.identity(iri, name, r["Project website"], file=PROJECTS, row=n, name_field="Project Name",
                     site_field="Project website")
        ctx.classify(iri, ("activity-type",), r["Project type"], file=PROJECTS, row=n,
                     field="Project type")
        for value in _split(r["Area of Society"]):
            ctx.classify(iri, ("area-of-society", "technology-focus"), value, file=PROJECTS, row=n,
                         field="Area of Society")
        for value in _split(r["DSI Areas"]):
            ctx.classify(iri, ("dsi-area",), value, file=PROJECTS, row=n, field="DSI Areas")
        for value in _split(r["Technology Focus"]):
            ctx.classify(iri, ("technology-focus",), value, file=PROJECTS, row=n,
                         field="Technology Focus")
        for value in _split(r["Technology method"]):
            ctx.classify(iri, ("technology-method", "technology-focus"), value, file=PROJECTS,
                         row=n, field="Technology method")
        ctx.w.text(iri, "socialImpact", clean_text(r["Social Impact"]))


def _memberships(ctx: Context, rows: list[dict], org_iris: dict, project_iris: dict) -> None:
    seen: dict[tuple, int] = {}
    count = 0
    for n, r in enumerate(rows, 1):
        key = org_key(r["Organisation ID"])
        org = org_iris.get(key) or ctx.slugs.lookup(key)  # a curated entity may hold the key
        project = project_iris.get(project_key(r["Project ID"]))
        role = clean_text(r["Role"])
        problem = None
        if not org:
            problem = ("Organisation ID", "unknown organisation: not in " + ORGS, r["Organisation ID"])
        elif not project:
            problem = ("Project ID", "unknown project: not in " + PROJECTS, r["Project ID"])
        elif not ctx.concepts.lookup("role", role):
            problem = ("Role", "not in the role scheme", role)
        elif (org, project, role) in seen:
            problem = ("Linking ID", f"duplicate of row {seen[(org, project, role)]}", r["Linking ID"])
        if problem:
            ctx.report.flag(LINKS, n, *problem)
            ctx.report.row(LINKS, "reported")
            continue
        seen[(org, project, role)] = n
        membership(ctx, org, project, role)
        ctx.report.row(LINKS, "entity")
        count += 1
    ctx.report.figures["dsi2013 memberships"] = count


def membership(ctx: Context, org: str, project: str, role: str) -> str:
    """The n-ary involvement node ``<{project}#membership-{org-slug}-{role}>``."""
    iri = f"{project}#membership-{slug_of(org)}-{role}"
    ctx.typed(iri, "ActivityMembership")
    ctx.b.link(iri, "organisation", org)
    ctx.b.link(iri, "project", project)
    ctx.b.link(iri, "role", ctx.concepts.lookup("role", role))
    return iri


def _areas(ctx: Context, path: Path, project_iris: dict) -> None:
    prefix = LEGACY_CONCEPT + "area-of-digital-social-innovation/"
    n = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        n += 1
        parts = line.split()
        project = project_iris.get(parts[0]) if len(parts) == 2 else None
        area = parts[1][len(prefix):] if len(parts) == 2 and parts[1].startswith(prefix) else None
        concept = ctx.concepts.lookup("dsi-area", area.replace("-", " ")) if area else None
        if not project:
            ctx.report.flag(AREAS, n, "activity", "unknown activity: not in " + PROJECTS, parts[0])
            ctx.report.row(AREAS, "reported")
        elif not concept:
            ctx.report.flag(AREAS, n, "area", "not in the dsi-area scheme", line)
            ctx.report.row(AREAS, "reported")
        else:
            ctx.b.link(project, "dsiArea", concept)
            ctx.report.row(AREAS, "entity")


def _partners(ctx: Context, path: Path, org_iris: dict) -> None:
    """The 2013 site's partner network: a dsi:Collaboration per pair with its shared-project count."""
    data = json.loads(path.read_text(encoding="utf-8"))
    n = 0
    counts: dict[tuple[str, str], int] = {}
    for entry in data.get("organisations", []):
        a = org_iris.get(org_key(entry["guid"])) or ctx.slugs.lookup(org_key(entry["guid"]))
        for guid, partner in sorted(entry.get("partners", {}).items()):
            n += 1
            b = org_iris.get(org_key(guid)) or ctx.slugs.lookup(org_key(guid))
            if not a or not b or a == b:
                missing = entry["guid"] if not a else guid
                ctx.report.flag(PARTNERS, n, "guid", "unknown organisation: not in " + ORGS, missing)
                ctx.report.row(PARTNERS, "reported")
                continue
            pair = tuple(sorted((a, b)))
            count = int(partner.get("count") or 0)
            if pair in counts and counts[pair] != count:
                ctx.report.issue(PARTNERS, n, "count", f"differs from the reverse entry ({counts[pair]})",
                                 count)
            counts[pair] = max(count, counts.get(pair, 0))
            ctx.report.row(PARTNERS, "entity")
    integer = ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")
    for (a, b), count in sorted(counts.items()):
        node = collaboration_iri(a, b)
        ctx.typed(node, "Collaboration")
        ctx.b.link(node, "collaborator", a)
        ctx.b.link(node, "collaborator", b)
        ctx.b.add(node, "sharedProjects", ox.Literal(str(count), datatype=integer))
    ctx.report.figures["dsi2013 partner pairs"] = len(counts)


def collaboration_iri(a: str, b: str) -> str:
    """``<{first org}#collaboration-{other org's slug}>``, the pair in IRI order."""
    first, second = sorted((a, b))
    return f"{first}#collaboration-{slug_of(second)}"
