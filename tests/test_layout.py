"""The package layout shows the design: kb/ is grouped by capability with no import circles, and
only endpoint/ imports Flask. Imports inside functions count too: a circle hidden in a function is
still a circle."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parent.parent
KB = ROOT / "kb"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(package: Path) -> dict[str, Path]:
    return {_module_name(p): p for p in package.rglob("*.py")}


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The project modules a file imports; ``from pkg import sub`` names the submodule."""
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in known:
                    out.add(sub)
                elif base in known:
                    out.add(base)
    out.discard(name)
    return out


def import_graph() -> nx.DiGraph:
    modules = _modules(KB)
    graph = nx.DiGraph()
    for name, path in modules.items():
        graph.add_node(name)
        for target in _imports(path, name, set(modules)):
            graph.add_edge(name, target)
    return graph


def test_kb_has_no_import_circles():
    cycles = [c for c in nx.simple_cycles(import_graph()) if len(c) > 1]
    assert cycles == [], "import circles in kb/: " + "; ".join(" -> ".join(c + c[:1]) for c in cycles)


def test_kb_is_grouped_by_capability():
    """No more than a small core of modules sits directly in kb/; the rest is in subpackages."""
    top = sorted(p.stem for p in KB.glob("*.py") if p.stem != "__init__")
    core = {"cli", "errors", "graphs", "namespaces", "nesting", "settings", "slugs", "terms", "vocab"}
    assert set(top) <= core, f"modules outside a capability subpackage: {sorted(set(top) - core)}"
    for package in ("store", "publish", "contribute", "index", "link", "build", "importers", "sparql"):
        assert (KB / package / "__init__.py").exists(), package


def test_only_endpoint_imports_flask():
    offenders = []
    for path in KB.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n.split(".")[0] in ("flask", "flask_babel") for n in names):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_a_wheel_carries_the_data_it_reads(tmp_path):
    """A wheel install works: the ontology, shapes, taxonomies, the submission JSON Schema and the
    curated graph travel inside the package, and the code finds them there (run from the unpacked
    wheel, away from the repository)."""
    import subprocess
    import sys
    import zipfile

    out = tmp_path / "wheel"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = out.glob("dsikb-*.whl")
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    for required in ("kb/data/ontology/dsi.ttl", "kb/data/shapes/dsi-shapes.ttl", "kb/data/curated.ttl",
                     "kb/data/submission.schema.json", "endpoint/templates/base.html"):
        assert (site / required).is_file(), required
    assert list((site / "kb/data/ontology/taxonomies").glob("*.ttl"))
    probe = ("import kb.build.init as i, kb.contribute.validate as v, kb.contribute.submission_json as j;"
             "print(i.ONTOLOGY_DIR.is_dir(), v.SHAPES_FILE.is_file(), j.SCHEMA_PATH.is_file(), i.CURATED.is_file());"
             "print(i.ONTOLOGY_DIR.resolve())")
    ran = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                         env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert ran.returncode == 0, ran.stderr[-2000:]
    flags, where = ran.stdout.splitlines()
    assert flags == "True True True True"
    assert where.startswith(str(site))
