"""The import report: what happened to every row (entity, flagged or reported) and every value that
could not be mapped, written as JSON and CSV and summarised on the console."""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

OUTCOMES = ("entity", "flagged", "reported")


@dataclass
class Finding:
    """One line of the report: a row that was flagged or not imported, or a field left unmapped."""

    file: str
    row: int
    field: str
    reason: str
    value: str = ""
    kind: str = "field"  # "row" (the row's outcome) or "field" (a value of an imported row)

    def as_dict(self) -> dict:
        return {"file": self.file, "row": self.row, "field": self.field, "reason": self.reason,
                "value": self.value, "kind": self.kind}


@dataclass
class ImportReport:
    """Counts per file (rows = entities + flagged + reported) and the findings behind them."""

    source: str
    graph_states: dict[str, str] = field(default_factory=dict)
    rows: Counter = field(default_factory=Counter)
    outcomes: dict[str, Counter] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    figures: dict[str, int] = field(default_factory=dict)
    matches: list[dict] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)

    def row(self, file: str, outcome: str) -> None:
        """Count one input row of ``file`` with its outcome."""
        assert outcome in OUTCOMES, outcome
        self.rows[file] += 1
        self.outcomes.setdefault(file, Counter())[outcome] += 1

    def flag(self, file: str, row: int, field: str, reason: str, value="") -> None:
        self.findings.append(Finding(file, row, field, reason, _short(value), "row"))

    def issue(self, file: str, row: int, field: str, reason: str, value="") -> None:
        self.findings.append(Finding(file, row, field, reason, _short(value), "field"))

    def totals(self) -> dict[str, int]:
        out = {"rows": sum(self.rows.values())}
        for outcome in OUTCOMES:
            out[outcome] = sum(c[outcome] for c in self.outcomes.values())
        out["field_issues"] = sum(1 for f in self.findings if f.kind == "field")
        return out

    def balanced(self) -> bool:
        """Every row is accounted for: rows in = entities + flagged + reported, per file."""
        return all(self.rows[f] == sum(self.outcomes[f][o] for o in OUTCOMES) for f in self.rows)

    def summary(self) -> str:
        t = self.totals()
        lines = [f"import {self.source}: {t['rows']} rows = {t['entity']} imported + "
                 f"{t['flagged']} flagged + {t['reported']} reported; "
                 f"{t['field_issues']} values unmapped or dropped"]
        for file in sorted(self.rows):
            c = self.outcomes[file]
            lines.append(f"  {file}: {self.rows[file]} rows, {c['entity']} imported, "
                         f"{c['flagged']} flagged, {c['reported']} reported")
        if self.figures:
            lines.append("  " + ", ".join(f"{k}: {v}" for k, v in sorted(self.figures.items())))
        lines += [f"  {state}: {graph}" for graph, state in self.graph_states.items()]
        if self.paths:
            lines.append(f"  report: {self.paths[0]}")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {
            "source": self.source,
            "totals": self.totals(),
            "balanced": self.balanced(),
            "files": {f: {"rows": self.rows[f], **{o: self.outcomes[f][o] for o in OUTCOMES}}
                      for f in sorted(self.rows)},
            "figures": dict(sorted(self.figures.items())),
            "graphs": self.graph_states,
            "matches": self.matches,
            "findings": [f.as_dict() for f in self.findings],
        }

    def write(self, report_dir: Path) -> list[Path]:
        """Write ``{source}-report.json`` and ``{source}-report.csv`` atomically."""
        report_dir = Path(report_dir)
        report_dir.mkdir(parents=True, exist_ok=True)
        json_path = report_dir / f"{self.source}-report.json"
        csv_path = report_dir / f"{self.source}-report.csv"
        _atomic(json_path, json.dumps(self.as_dict(), indent=1, ensure_ascii=False))
        tmp = csv_path.with_suffix(".csv.tmp")
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["file", "row", "field", "reason", "value", "kind"])
            for f in self.findings:
                writer.writerow([f.file, f.row, f.field, f.reason, f.value, f.kind])
        os.replace(tmp, csv_path)
        self.paths = [json_path, csv_path]
        return self.paths


def _short(value) -> str:
    text = str(value if value is not None else "")
    return text if len(text) <= 200 else text[:197] + "..."


def _atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
