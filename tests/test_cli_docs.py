"""The committed man pages and shell completion scripts match the current command line."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from conftest import REPO, genotx_env

needs_help2man = pytest.mark.skipif(shutil.which("help2man") is None, reason="help2man is not installed")


def check(tool: str, directory) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", f"genotx.tools.{tool}", str(directory), "--check"],
        capture_output=True, text=True, env=genotx_env(), cwd=REPO, timeout=300,
    )


@needs_help2man
def test_man_pages_are_current_with_the_help_text():
    proc = check("manpages", REPO / "man")
    assert proc.returncode == 0, proc.stderr


def test_completion_scripts_are_current():
    proc = check("completions", REPO / "completions")
    assert proc.returncode == 0, proc.stderr


def test_completion_scripts_are_the_three_shells_with_zsh_compdef_first():
    assert sorted(p.name for p in (REPO / "completions").iterdir()) == ["_genotx", "genotx.bash", "genotx.fish"]
    assert (REPO / "completions" / "_genotx").read_text().startswith("#compdef genotx\n")
    assert "_GENOTX_COMPLETE=complete_bash" in (REPO / "completions" / "genotx.bash").read_text()


@needs_help2man
def test_stale_or_extra_man_pages_are_reported_with_the_command_that_remakes_them(tmp_path):
    pages = tmp_path / "man"
    shutil.copytree(REPO / "man", pages)
    (pages / "genotx-stats.1").write_text(".TH OLD\n")
    (pages / "genotx-removed.1").write_text(".TH GONE\n")
    proc = check("manpages", pages)
    assert proc.returncode == 1
    assert "genotx-stats.1" in proc.stderr and "genotx-removed.1" in proc.stderr
    assert "run `make man`" in proc.stderr


def test_stale_completion_script_is_reported_with_the_command_that_remakes_it(tmp_path):
    shutil.copytree(REPO / "completions", tmp_path / "c")
    (tmp_path / "c" / "genotx.fish").write_text("old\n")
    proc = check("completions", tmp_path / "c")
    assert proc.returncode == 1 and "run `make completions`" in proc.stderr


def test_every_subcommand_has_a_man_page_listed_in_genotx_1():
    from genotx.cli import COMMANDS

    page = (REPO / "man" / "genotx.1").read_text()
    for name, _module in COMMANDS:
        assert (REPO / "man" / f"genotx-{name}.1").is_file(), f"no man page for {name}: run `make man`"
        assert f"genotx-{name}" in page, f"genotx.1 does not list {name}: run `make man`"
