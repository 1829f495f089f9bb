"""``dsikb init``: build the store, or bring it up to date. Re-running changes nothing.

Each part goes into its own named graph, replaced atomically and only when its content changed:
the ontology, each taxonomy, the shapes, the project's curated data, each real DSI import, the
links of places to GeoNames (kb/link/geonames.py, offline), the derived statements and the graph
descriptions (licence, source, provenance).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pyoxigraph as ox

from kb.namespaces import rebase
from kb.contribute.overrides import without_overridden
from kb.settings import DATA_DIR, Settings
from kb.store import KB, rdf_format

ONTOLOGY_DIR = DATA_DIR / "ontology"
SHAPES_DIR = DATA_DIR / "shapes"
CURATED = DATA_DIR / "curated.ttl"
SOURCES = ("dsi2013", "dsi4eu")


def parse_files(files, base_uri: str) -> list[ox.Triple]:
    """Triples of RDF files written against the default base, moved to ``base_uri``."""
    triples = []
    for file in files:
        text = rebase(Path(file).read_text(encoding="utf-8"), base_uri)
        for t in ox.parse(text, rdf_format(file), base_iri=Path(file).resolve().as_uri()):
            triples.append(t)
    return triples


def bundled_graphs(kb: KB) -> dict[str, list[Path]]:
    """Graph IRI -> files for everything the repository itself ships."""
    g = kb.graphs
    parts = {g.ontology: [ONTOLOGY_DIR / "dsi.ttl"]}
    for file in sorted((ONTOLOGY_DIR / "taxonomies").glob("*.ttl")):
        parts[g.taxonomy(file.stem)] = [file]
    parts[g.shapes] = sorted(SHAPES_DIR.glob("*.ttl"))
    parts[g.curated] = [CURATED]
    return {graph: [f for f in files if f.exists()] for graph, files in parts.items()}


def init(settings: Settings, *, log: Callable[[str], None] = lambda m: None, kb: KB | None = None) -> dict:
    """Build or update the store; returns a summary (graph -> 'updated' | 'unchanged')."""
    kb = kb or KB.open(settings)
    states: dict[str, str] = {}
    for graph in kb.drop_staging_graphs():  # what a killed run left between staging and MOVE
        log(f"removed a staging graph left by an interrupted run: {graph}")
    for graph, files in bundled_graphs(kb).items():
        if not files:
            continue
        triples = parse_files(files, settings.base_uri)
        if graph == kb.graphs.curated:  # values corrected by accepted edits stay corrected
            triples = without_overridden(kb, triples)
        changed = kb.replace_graph(graph, triples)
        states[graph] = "updated" if changed else "unchanged"
        log(f"{states[graph]}: {graph}")

    from kb.importers import run_import
    from kb.build.sources import locate_sources

    source_dir = locate_sources(settings, log=log)
    for source in SOURCES:
        report = run_import(kb, source, source_dir, report_dir=Path("var/reports"))
        log(report.summary())
        states.update(report.graph_states)
    from kb.link import geonames

    states.update(geonames.build(kb, log=log))  # before derive: links are statements like any other
    from kb.build.derive import derive

    states.update(derive(kb))
    from kb.store import publicview

    if publicview.size(kb) == 0 and kb.named_graphs():  # a store made before the public default graph
        publicview.rebuild(kb)
        kb.bump()
        states["default graph"] = "updated"
    kb.flush()
    return {"store": str(settings.store), "graphs": states, "triples": kb.triple_count(),
            "generation": kb.generation}
