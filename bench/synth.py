"""Synthetic DSI data for benchmarks: N triples in the dsi vocabulary, apart from the real data.

Deterministic (seeded) organisations, projects, memberships with roles, places, tags, legacy and
Wikidata links, and a few hidden (spam) entities, as N-Triples (default), Turtle, N-Quads, TriG or
RDF/XML, gzip on ``.gz``.

    .venv/bin/python bench/synth.py 1000000 var/bench/synth-1m.nt
"""

from __future__ import annotations

import argparse
import gzip
import random
import sys
from pathlib import Path

BASE = "https://w3id.org/dsi/"
DSI = BASE + "def/dsi#"
ID = BASE + "id/"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
DESC = "http://purl.org/dc/terms/description"
SAME = "http://www.w3.org/2002/07/owl#sameAs"
CLOSE = "http://www.w3.org/2004/02/skos/core#closeMatch"
PREF = "http://www.w3.org/2004/02/skos/core#prefLabel"
LAT = "http://www.w3.org/2003/01/geo/wgs84_pos#lat"
LONG = "http://www.w3.org/2003/01/geo/wgs84_pos#long"
DEC = "http://www.w3.org/2001/XMLSchema#decimal"
DATE = "http://www.w3.org/2001/XMLSchema#date"
BOOL = "http://www.w3.org/2001/XMLSchema#boolean"
ROLES = ("delivery-lead", "delivery-partner", "co-funder", "evaluator", "takes-part")
AREAS = ("health-and-wellbeing", "education-and-skills", "culture-and-arts", "energy-and-environment",
         "participation-and-democracy", "science", "work-and-employment", "finance-and-economy")
TECH = ("open-data", "open-hardware", "open-networks", "open-knowledge")
COUNTRIES = ("united-kingdom", "spain", "italy", "germany", "france", "greece", "netherlands", "poland")
WORDS = ("open", "civic", "data", "lab", "commons", "maker", "digital", "social", "network", "city",
         "hub", "collective", "platform", "citizen", "fab", "democracy", "health", "energy")


def _iri(x: str) -> str:
    return f"<{x}>"


def _lit(text: str, dt: str | None = None, lang: str | None = None) -> str:
    esc = text.replace("\\", "\\\\").replace('"', '\\"')
    if lang:
        return f'"{esc}"@{lang}'
    return f'"{esc}"^^<{dt}>' if dt else f'"{esc}"'


def triples(n: int, seed: int = 42):
    """Yield (s, p, o) N-Triples terms until ``n`` triples are produced."""
    rnd = random.Random(seed)
    count = 0
    i = 0
    for c in COUNTRIES:  # places first, so every country link resolves
        place = _iri(f"{ID}place/{c}")
        for t in ((place, _iri(RDF_TYPE), _iri(DSI + "Place")),
                  (place, _iri(LABEL), _lit(c.replace("-", " ").title(), lang="en"))):
            yield t
            count += 1
    for scheme, names in (("area-of-society", AREAS), ("technology-focus", TECH), ("role", ROLES)):
        for c in names:  # concept labels, so the gallery's queries find their labels
            yield (_iri(f"{ID}concept/{scheme}/{c}"), _iri(PREF),
                   _lit(c.replace("-", " ").capitalize(), lang="en"))
            count += 1
    while count < n:
        i += 1
        name = " ".join(rnd.choice(WORDS) for _ in range(3)).title() + f" {i}"
        org = _iri(f"{ID}organisation/synth-org-{i}")
        proj_iri = f"{ID}project/synth-project-{i}"
        proj = _iri(proj_iri)
        batch = [
            (org, _iri(RDF_TYPE), _iri(DSI + "Organisation")),
            (org, _iri(LABEL), _lit(name, lang="en")),
            (org, _iri(DESC), _lit(f"{name} works on {rnd.choice(AREAS).replace('-', ' ')}.", lang="en")),
            (org, _iri(DSI + "country"), _iri(f"{ID}place/{rnd.choice(COUNTRIES)}")),
            (org, _iri(LAT), _lit(f"{rnd.uniform(36, 60):.5f}", DEC)),
            (org, _iri(LONG), _lit(f"{rnd.uniform(-9, 25):.5f}", DEC)),
            (org, _iri(DSI + "website"), _iri(f"https://synth-{i}.example.org/")),
            (org, _iri(SAME), _iri(f"http://data.digitalsocial.eu/id/organization/synth-{i:08d}")),
            (proj, _iri(RDF_TYPE), _iri(DSI + "Project")),
            (proj, _iri(LABEL), _lit(f"Project {name}", lang="en")),
            (proj, _iri(DSI + "startDate"), _lit(f"20{rnd.randint(10, 24)}-0{rnd.randint(1, 9)}-1{rnd.randint(0, 9)}", DATE)),
            (proj, _iri(DSI + "areaOfSociety"), _iri(f"{ID}concept/area-of-society/{rnd.choice(AREAS)}")),
            (proj, _iri(DSI + "technologyFocus"), _iri(f"{ID}concept/technology-focus/{rnd.choice(TECH)}")),
            (proj, _iri(DSI + "tag"), _lit(rnd.choice(WORDS))),
        ]
        role = rnd.choice(ROLES)
        m = _iri(f"{proj_iri}#membership-synth-org-{i}-{role}")
        batch += [
            (m, _iri(RDF_TYPE), _iri(DSI + "ActivityMembership")),
            (m, _iri(DSI + "organisation"), org),
            (m, _iri(DSI + "project"), proj),
            (m, _iri(DSI + "role"), _iri(f"{ID}concept/role/{role}")),
            (org, _iri(DSI + "takesPartIn"), proj),
        ]
        if i > 1:  # a second organisation in each project links the graph together
            other = _iri(f"{ID}organisation/synth-org-{rnd.randint(1, i - 1)}")
            batch.append((other, _iri(DSI + "takesPartIn"), proj))
        if i % 7 == 0:
            batch.append((org, _iri(CLOSE), _iri(f"http://www.wikidata.org/entity/Q{1000000 + i}")))
        if i % 200 == 0:  # a spam record, flagged and hidden
            batch.append((org, _iri(DSI + "hidden"), _lit("true", BOOL)))
            batch.append((org, _iri(DSI + "qualityIssue"), _iri(f"{ID}concept/quality-issue/spam")))
        for t in batch:
            if count >= n:
                return
            yield t
            count += 1


SOURCE_GRAPH = _iri(BASE + "graph/source/synthetic")
DERIVED_GRAPH = _iri(BASE + "graph/derived")
TAKES_PART = _iri(DSI + "takesPartIn")


def fmt_of(out: Path) -> str:
    """``nt``, ``ttl``, ``nq``, ``trig`` or ``rdf`` from a file name (``x.nq.gz`` -> ``nq``)."""
    name = out.name[:-3] if out.name.endswith(".gz") else out.name
    return name.rsplit(".", 1)[-1]


def write(n: int, out: Path, fmt: str | None = None, seed: int = 42) -> int:
    """Write ``n`` statements to ``out``: N-Triples, Turtle with one statement per line, N-Quads or TriG
    (``nq``/``trig``: the derived ``takesPartIn`` shortcuts in graph/derived, the rest in
    graph/source/synthetic, as ``dsikb init`` lays out real data), or RDF/XML (``rdf``: the same triples
    as N-Triples, serialised by pyoxigraph). Streams; the format defaults to the file's extension."""
    fmt = fmt or fmt_of(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if out.suffix == ".gz" else open
    tmp = out.with_name(out.name + ".part")  # a half-written file is never mistaken for a whole one
    if fmt == "rdf":
        import pyoxigraph as ox

        nt = out.with_name(out.name + ".nt.part")
        written = write(n, nt, "nt", seed)
        with open(nt, "rb") as src, opener(tmp, "wb") as fh:
            ox.serialize(ox.parse(src, ox.RdfFormat.N_TRIPLES), fh, ox.RdfFormat.RDF_XML)
        nt.unlink()
        tmp.replace(out)
        return written
    written = 0
    derived = []  # TriG: the derived graph's block comes after the source graph's
    with opener(tmp, "wt", encoding="utf-8") as fh:
        buf = [f"{SOURCE_GRAPH} {{\n"] if fmt == "trig" else []
        for s, p, o in triples(n, seed):
            if fmt == "nq":
                buf.append(f"{s} {p} {o} {DERIVED_GRAPH if p == TAKES_PART else SOURCE_GRAPH} .\n")
            elif fmt == "trig" and p == TAKES_PART:
                derived.append(f"{s} {p} {o} .\n")
            else:
                buf.append(f"{s} {p} {o} .\n")
            written += 1
            if len(buf) >= 10000:
                fh.write("".join(buf))
                buf.clear()
        if fmt == "trig":
            buf.append(f"}}\n{DERIVED_GRAPH} {{\n")
            buf.extend(derived)
            buf.append("}\n")
        fh.write("".join(buf))
    tmp.replace(out)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("triples", type=int, help="how many triples")
    parser.add_argument("out", help="output file (.nt, .ttl, .nq, .trig or .rdf, optionally .gz)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    n = write(args.triples, Path(args.out), seed=args.seed)
    print(f"{n} triples written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
