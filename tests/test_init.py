"""`dsikb init`: a second run over an up-to-date store changes nothing and says so for every graph."""

from __future__ import annotations

from kb.cli import main
from kb.store import KB
from tests.conftest import SOURCES, settings_for
from tests.support import copy_built


def test_second_init_reports_every_graph_unchanged(built_kb, tmp_path, capsys, monkeypatch):
    copy_built(built_kb, tmp_path / "store")
    monkeypatch.chdir(tmp_path)  # import reports go to ./var/reports
    settings = settings_for(tmp_path / "store")  # on the remote backend: the server over it
    before = KB.open(settings)
    digests = {g: before.graph_digest(g) for g in before.named_graphs()}
    generation = before.generation
    del before
    import gc

    gc.collect()
    code = main(["init", "--store", settings.store, "--sources", str(SOURCES)])
    out = capsys.readouterr().out
    assert code == 0
    states = [line.split()[0] for line in out.splitlines() if line.startswith("  ")]
    assert len(states) >= 10
    assert set(states) == {"unchanged"}, out
    after = KB.open(settings)
    assert after.generation == generation
    assert {g: after.graph_digest(g) for g in after.named_graphs()} == digests
    assert (tmp_path / "var" / "reports" / "dsi4eu-report.csv").is_file()
