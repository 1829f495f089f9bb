"""The dsikb command: every subcommand has --help; errors exit 2 with a message on stderr."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kb.cli import build_parser, main

SUBCOMMANDS = ["init", "serve", "import", "fetch-sources", "load", "dump", "validate", "stats", "link"]


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_contract_subcommand_has_help(name, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([name, "--help"])
    assert exit_.value.code == 0
    assert "usage: dsikb " + name in capsys.readouterr().out


def test_parser_knows_every_subcommand():
    choices = build_parser()._subparsers._group_actions[0].choices
    assert set(SUBCOMMANDS) <= set(choices)


def test_load_of_a_missing_file_exits_2_with_a_message(tmp_path, capsys):
    code = main(["load", "--store", str(tmp_path / "s"), str(tmp_path / "nope.ttl")])
    assert code == 2
    assert "nope.ttl: no such file" in capsys.readouterr().err


def test_load_of_a_broken_file_exits_2_naming_line(tmp_path, capsys):
    bad = tmp_path / "bad.nt"
    bad.write_text("<http://e.org/a> <http://e.org/p> \"x\" .\n<http://e.org/a> <http://e.org/p> .\n")
    assert main(["load", "--store", str(tmp_path / "s"), str(bad)]) == 2
    assert "line 2" in capsys.readouterr().err


def test_installed_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "kb.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "init" in out.stdout
