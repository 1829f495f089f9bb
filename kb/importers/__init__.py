"""Importers of the real DSI exports, each into its own named graph (atomic, idempotent).

``run_import(kb, "dsi2013" | "dsi4eu", folder, report_dir)`` builds the source's graph in memory
(no blank nodes, so a second run yields the same triples and changes nothing), replaces
``graph/import/{source}``, rewrites the source's part of ``graph/meta`` (licence, origin, SHA-256)
and writes the import report (JSON and CSV). DSI4EU also writes ``graph/matches``.
"""

from __future__ import annotations

from pathlib import Path

from kb.errors import BadRequest, SourceUnavailable
from kb.importers.context import Context
from kb.importers.meta import SOURCES, describe_source, update_meta
from kb.importers.report import ImportReport

__all__ = ["run_import", "ImportReport", "SOURCES"]



def run_import(kb, source: str, dir: Path, report_dir: Path = Path("var/reports")) -> ImportReport:
    """Import one source from ``dir``; returns the report (also written to ``report_dir``)."""
    if source not in SOURCES:
        raise BadRequest(f"unknown source {source!r}: use one of {', '.join(SOURCES)}")
    module, license = SOURCES[source]
    folder = Path(dir)
    missing = [name for name in module.FILES if not (folder / name).is_file()]
    if missing:
        raise SourceUnavailable(f"{folder}: missing {', '.join(missing)} "
                                f"(run `dsikb fetch-sources` or pass the folder of the DSI exports)")
    g = kb.graphs
    report = ImportReport(source)
    higher = [g.curated] + ([g.source("dsi2013")] if source == "dsi4eu" else [])
    ctx = Context(kb, source, report, higher)
    extra = module.build(ctx, folder) or {}
    graph = g.source(source)
    from kb.contribute.overrides import without_overridden

    kept = without_overridden(kb, ctx.b.triples)  # values corrected by accepted edits stay corrected
    if len(kept) != len(ctx.b.triples):
        report.figures[f"{source} statements corrected by accepted edits"] = len(ctx.b.triples) - len(kept)
    states = {graph: kb.replace_graph(graph, kept)}
    for other, triples in extra.items():
        states[other] = kb.replace_graph(other, triples)
    states[g.meta] = update_meta(kb, {graph: describe_source(graph, source, module.FILES, license)})
    report.graph_states = {k: "updated" if v else "unchanged" for k, v in states.items()}
    report.figures[f"{source} triples"] = len(kept)
    report.write(Path(report_dir))
    return report
