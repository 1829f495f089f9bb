"""Validation time of one submission: the form's path against a naive one, side by side, medians.

    .venv/bin/python bench/validate_bench.py [--store DIR] [--runs 30]

``--store``: a store built by ``dsikb init`` (opened read-only); without it a small store (ontology,
taxonomies, shapes, two organisations) is built in a temporary folder.

- fast: kb.submission_validation.validate, as the API runs it (kb.validate.validate_graph: shapes parsed
  once, an in-memory Oxigraph data graph with the submission, the ontology's axioms, and the
  type/label/scheme of what the submission references);
- naive: an rdflib data graph with the submission, the whole ontology and every taxonomy, every node
  validated (what validating "with the ontology and taxonomies" gives without care).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyoxigraph as ox  # noqa: E402

from kb.settings import Settings  # noqa: E402
from kb.store import KB  # noqa: E402

BASE = "https://w3id.org/dsi/"


def small_store(path: Path) -> KB:
    from kb.build.init import bundled_graphs, parse_files

    kb = KB.open(Settings.from_env(environ={}, store=str(path)))
    for graph, files in bundled_graphs(kb).items():
        if files:
            kb.replace_graph(graph, parse_files(files, kb.settings.base_uri))
    seed = f"""@prefix dsi: <{BASE}def/dsi#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
    <{BASE}id/organisation/nesta> a dsi:Organisation ; rdfs:label "Nesta" ; dsi:country <{BASE}id/place/united-kingdom> .
    <{BASE}id/place/united-kingdom> a dsi:Place ; rdfs:label "United Kingdom" ."""
    kb.replace_graph(kb.graphs.source("dsi4eu"), list(ox.parse(seed, ox.RdfFormat.TURTLE)))
    return kb


def cases(kb) -> dict[str, tuple[bytes, str]]:
    partner = kb.select("SELECT ?o WHERE { ?o a dsi:Organisation FILTER NOT EXISTS { ?o dsi:hidden true } } "
                        "ORDER BY ?o LIMIT 1")[0]["o"].value
    project = {"type": "project", "name": "Bench Air Quality Network", "website": "https://air.example.org/",
               "shortDescription": "Open sensors.", "country": "United Kingdom", "city": "Leeds",
               "areasOfSociety": ["energy-and-environment"], "technologyFocus": ["open-data", "open-hardware"],
               "technologyMethod": ["open-data"], "startDate": "2024-01-01", "endDate": "2025-06-30",
               "partners": [{"organisation": partner, "role": "delivery-lead"}]}
    org = {"type": "organisation", "name": "Bench Makers Cooperative", "website": "https://makers.example.org/",
           "country": "United Kingdom", "organisationType": "social-enterprise-charity-or-foundation"}
    ttl = f"""@prefix dsi: <{BASE}def/dsi#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
    [] a dsi:Organisation ; rdfs:label "Bench Turtle Lab" ; dsi:website <https://lab.example.org/> ;
       dsi:country <{BASE}id/place/united-kingdom> ."""
    return {"project (JSON, 1 partner)": (json.dumps(project).encode(), "application/json"),
            "organisation (JSON)": (json.dumps(org).encode(), "application/json"),
            "organisation (Turtle)": (ttl.encode(), "text/turtle")}


def naive(kb, triples):
    import pyshacl
    import rdflib

    data = rdflib.Graph()
    graphs = [kb.graphs.ontology] + [g for g in kb.named_graphs() if g.startswith(kb.graphs.ns + "taxonomy/")]
    quads = [q.triple for g in graphs for q in kb.graph_quads(g)]
    data.parse(data=ox.serialize(list(triples) + quads, format=ox.RdfFormat.N_TRIPLES).decode(), format="nt")
    shapes = rdflib.Graph().parse(
        data=ox.serialize([q.triple for q in kb.graph_quads(kb.graphs.shapes)], format=ox.RdfFormat.N_TRIPLES).decode(),
        format="nt")
    return pyshacl.validate(data, shacl_graph=shapes, advanced=True, allow_warnings=True)


def timed(func, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        func()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="a store built by dsikb init (default: a small one in a temp folder)")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    if args.store:
        kb = KB.open(Settings.from_env(environ={}, store=args.store), read_only=True)
    else:
        kb = small_store(Path(tmp.name) / "store")
    from kb.contribute.submission_validation import validate
    from kb.contribute.queue import SubmissionStore, Submitter
    from kb.contribute.submissions import _build

    subs = SubmissionStore(Path(tmp.name) / "spool.sqlite")
    print(f"store: {args.store or 'small temporary store'}, {kb.triple_count():,} triples; runs: {args.runs}")
    print("| submission | statements | fast (median) | naive (median) | naive / fast |")
    print("| --- | --- | --- | --- | --- |")
    for name, (raw, media) in cases(kb).items():
        _, triples, _, _ = _build(kb, subs, raw, media, Submitter())
        validate(kb, triples)  # warm the shapes cache, as a running server has
        fast = timed(lambda: validate(kb, triples), args.runs)
        slow = timed(lambda: naive(kb, triples), max(3, args.runs // 6))
        print(f"| {name} | {len(triples)} | {fast:.1f} ms | {slow:.1f} ms | {slow / fast:.1f}x |")
    print()
    print(f"POST /api/submissions end to end (parse, mint, validate, fsync'd SQLite write; {args.runs} runs):")
    from endpoint import create_app

    app = create_app(kb.settings, kb=kb)
    client = app.test_client()
    raw, media = cases(kb)["project (JSON, 1 partner)"]
    data = json.loads(raw)
    counter = iter(range(10**6))

    def post():
        data["name"] = f"Bench Project {next(counter)} {time.time_ns()}"
        resp = client.post("/api/submissions", data=json.dumps(data), content_type=media)
        assert resp.status_code == 202, resp.get_data(as_text=True)

    print(f"| project (JSON, 1 partner) | {timed(post, args.runs):.1f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
