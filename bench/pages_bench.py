"""Entity page (HTML) and entity data (Turtle) latency, on the built data and at ~1M triples.

Run by hand (not part of the test suite)::

    .venv/bin/python bench/pages_bench.py [--store DIR] [--triples 1000000] [--samples 300]

Without ``--store`` it builds the store with ``dsikb init`` into bench/out/. The 1M store is a copy
of the built one plus synthetic organisations and projects in the dsi vocabulary (memberships,
derived shortcuts, countries, concepts), so pages there look like real ones. Requests go through the
Flask app in-process (no network), one at a time; each figure is the median over ``--samples``
different entities, after one warm-up pass.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import time
from pathlib import Path

import pyoxigraph as ox

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.settings import Settings  # noqa: E402
from kb.store import KB  # noqa: E402

OUT = ROOT / "bench" / "out"
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
LABEL = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
DESC = ox.NamedNode("http://purl.org/dc/terms/description")
SCHEMA_MEMBER = ox.NamedNode("https://schema.org/member")
WORDS = ("open data civic lab health school commons maker network digital social city energy food "
         "repair mobility democracy skills archive water climate youth care").split()


def settings_for(path: Path) -> Settings:
    return Settings.from_env(environ={}, store=str(path))


def build(store: Path) -> None:
    from kb.build.init import init

    kb = KB.open(settings_for(store))
    init(settings_for(store), kb=kb, log=lambda m: None)
    kb.flush()


def synthesize(kb: KB, target: int, seed: int = 7) -> int:
    """Add synthetic organisations and projects until the store holds ``target`` triples."""
    batches = _batches(kb, random.Random(seed))
    count = estimate = kb.triple_count()
    while count < target:
        while estimate < target:
            quads = next(batches)
            kb.store.bulk_extend(quads)
            estimate += len(quads)
        count = estimate = kb.triple_count()  # derived shortcuts may repeat: count, top up if short
    kb.bump()
    kb.flush()
    return count


def _batches(kb: KB, rnd: random.Random):
    """Endless batches of 200 organisations and 100 projects with memberships and shortcuts."""
    n = kb.names
    d = lambda t: ox.NamedNode(n.dsi(t))  # noqa: E731
    graph = ox.NamedNode(kb.graphs.source("synthetic"))
    derived = ox.NamedNode(kb.graphs.derived)
    countries = [ox.NamedNode(n.entity("place", c)) for c in
                 ("united-kingdom", "spain", "italy", "germany", "france", "netherlands", "greece",
                  "portugal", "poland", "sweden", "finland", "belgium", "austria", "ireland")]
    areas = [ox.NamedNode(n.concept("area-of-society", s)) for s in
             ("health-and-wellbeing", "education-and-skills", "participation-and-democracy",
              "culture-and-arts", "energy-and-environment", "work-and-employment", "food-and-agriculture")]
    techs = [ox.NamedNode(n.concept("technology-focus", s)) for s in
             ("open-data", "open-hardware", "open-networks", "open-knowledge")]
    role = ox.NamedNode(n.concept("role", "delivery-partner"))
    lead = ox.NamedNode(n.concept("role", "delivery-lead"))
    i = 0
    while True:
        quads = []
        orgs = []
        for k in range(200):
            i += 1
            org = ox.NamedNode(n.entity("organisation", f"synthetic-org-{i}"))
            orgs.append(org)
            name = " ".join(rnd.choice(WORDS).title() for _ in range(3)) + f" {i}"
            for p, o in ((RDF_TYPE, d("Organisation")), (LABEL, ox.Literal(name, language="en")),
                         (DESC, ox.Literal(f"{name} works on " + " ".join(rnd.sample(WORDS, 8)), language="en")),
                         (d("shortDescription"), ox.Literal(f"A synthetic organisation number {i}.")),
                         (d("country"), rnd.choice(countries)),
                         (d("website"), ox.NamedNode(f"https://org{i}.example.org/")),
                         (d("startDate"), ox.Literal(f"{rnd.randint(1990, 2017)}", datatype=ox.NamedNode(XSD + "gYear"))),
                         (ox.NamedNode("http://www.w3.org/2003/01/geo/wgs84_pos#lat"),
                          ox.Literal(f"{rnd.uniform(36, 60):.4f}", datatype=ox.NamedNode(XSD + "decimal"))),
                         (ox.NamedNode("http://www.w3.org/2003/01/geo/wgs84_pos#long"),
                          ox.Literal(f"{rnd.uniform(-9, 25):.4f}", datatype=ox.NamedNode(XSD + "decimal")))):
                quads.append(ox.Quad(org, p, o, graph))
        for k in range(100):
            i += 1
            proj = ox.NamedNode(n.entity("project", f"synthetic-project-{i}"))
            name = " ".join(rnd.choice(WORDS).title() for _ in range(2)) + f" project {i}"
            for p, o in ((RDF_TYPE, d("Project")), (LABEL, ox.Literal(name, language="en")),
                         (DESC, ox.Literal(f"{name}: " + " ".join(rnd.sample(WORDS, 10)), language="en")),
                         (d("country"), rnd.choice(countries)), (d("areaOfSociety"), rnd.choice(areas)),
                         (d("areaOfSociety"), rnd.choice(areas)), (d("technologyFocus"), rnd.choice(techs)),
                         (d("startDate"), ox.Literal(f"{rnd.randint(2005, 2017)}-01-01", datatype=ox.NamedNode(XSD + "date")))):
                quads.append(ox.Quad(proj, p, o, graph))
            for j, org in enumerate(rnd.sample(orgs, 6)):
                r = lead if j == 0 else role
                m = ox.NamedNode(f"{proj.value}#membership-{org.value.rsplit('/', 1)[-1]}-{r.value.rsplit('/', 1)[-1]}")
                quads += [ox.Quad(m, RDF_TYPE, d("ActivityMembership"), graph),
                          ox.Quad(m, d("organisation"), org, graph), ox.Quad(m, d("project"), proj, graph),
                          ox.Quad(m, d("role"), r, graph),
                          ox.Quad(org, d("takesPartIn"), proj, derived),
                          ox.Quad(proj, SCHEMA_MEMBER, org, derived)]
                if j == 0:
                    quads.append(ox.Quad(org, d("leads"), proj, derived))
        yield quads


def sample_paths(kb: KB, k: int, seed: int = 11) -> list[str]:
    rows = kb.select("SELECT ?s WHERE { { ?s a dsi:Organisation } UNION { ?s a dsi:Project } "
                     "FILTER NOT EXISTS { ?s dsi:hidden true } FILTER NOT EXISTS { ?s dsi:mergedInto ?x } "
                     "FILTER NOT EXISTS { ?s dsi:withdrawn ?w } }")
    paths = [kb.names.parse_entity(r["s"].value) for r in rows]
    paths = [f"{t}/{s}" for t, s in (p for p in paths if p)]
    random.Random(seed).shuffle(paths)
    return paths[:k]


def measure(kb: KB, paths: list[str]) -> dict:
    from endpoint import create_app

    app = create_app(kb.settings, kb=kb)
    client = app.test_client()
    out = {}
    for name, url in (("page", "/page/{}"), ("turtle", "/data/{}.ttl")):
        for p in paths[:20]:
            assert client.get(url.format(p)).status_code == 200
        times = []
        for p in paths:
            t0 = time.perf_counter()
            r = client.get(url.format(p))
            times.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, (url.format(p), r.status_code)
        times.sort()
        out[name] = {"median": statistics.median(times), "p90": times[int(len(times) * 0.9) - 1]}
    from kb.index.search import index_path

    if index_path(kb) is not None:
        index_path(kb).unlink(missing_ok=True)
    t0 = time.perf_counter()
    client.get("/browse/project")
    client.get("/search?q=open")
    out["first"] = (time.perf_counter() - t0) * 1000  # builds the browse table and the search index
    for name, urls in (("browse", [f"/browse/project?sort={s}&page={p}" for s in ("label", "-start") for p in (1, 2, 3)]
                        + [f"/browse/organisation?country={c}" for c in ("spain", "italy", "united-kingdom")]),
                       ("search", [f"/search?q={w}" for w in WORDS[:12]])):
        times = []
        for url in urls * 2:
            t0 = time.perf_counter()
            assert client.get(url).status_code == 200, url
            times.append((time.perf_counter() - t0) * 1000)
        out[name] = statistics.median(times)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", type=Path, help="a store built by `dsikb init` (default: build one in bench/out/)")
    ap.add_argument("--triples", type=int, default=1_000_000)
    ap.add_argument("--samples", type=int, default=300)
    args = ap.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    store = args.store
    if store is None:
        store = OUT / "pages-built"
        if not store.exists():
            print("building the store with dsikb init ...", flush=True)
            build(store)
    big = OUT / "pages-1m"
    shutil.rmtree(big, ignore_errors=True)
    base_kb = KB.open(settings_for(store))
    base_kb.store.backup(str(big))
    small = {"triples": base_kb.triple_count()}
    small.update(measure(base_kb, sample_paths(base_kb, args.samples)))
    del base_kb
    big_kb = KB.open(settings_for(big))
    t0 = time.perf_counter()
    total = synthesize(big_kb, args.triples)
    print(f"synthesized up to {total:,} triples in {time.perf_counter() - t0:.0f} s", flush=True)
    large = {"triples": total}
    large.update(measure(big_kb, sample_paths(big_kb, args.samples)))
    print(f"\n| store | triples | page HTML median (p90) | data Turtle median (p90) |")
    print("| --- | ---: | ---: | ---: |")
    for name, r in (("built data", small), ("with synthetic", large)):
        print(f"| {name} | {r['triples']:,} | {r['page']['median']:.1f} ms ({r['page']['p90']:.1f}) "
              f"| {r['turtle']['median']:.1f} ms ({r['turtle']['p90']:.1f}) |")
    print("\n| store | first list + search (builds table and index) | browse median | search median |")
    print("| --- | ---: | ---: | ---: |")
    for name, r in (("built data", small), ("with synthetic", large)):
        print(f"| {name} | {r['first']:.0f} ms | {r['browse']:.1f} ms | {r['search']:.1f} ms |")
    print(f"\nratio 1M / built: page {large['page']['median'] / small['page']['median']:.2f}x, "
          f"turtle {large['turtle']['median'] / small['turtle']['median']:.2f}x; target < 15 ms median at 1M: "
          f"{'met' if max(large['page']['median'], large['turtle']['median']) < 15 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
