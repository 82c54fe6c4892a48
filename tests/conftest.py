"""Shared test helpers: running the real `genotx` command and locating test data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
# The project's shared data set sits next to the checkout; tests that need it skip without it.
SHARED_DATA = REPO.parent / "shared" / "data"


def genotx_env(**extra: str) -> dict[str, str]:
    """The environment for a `genotx` subprocess: plain help output, no colour, no inherited thread setting."""
    env = {k: v for k, v in os.environ.items() if k not in ("GENOTX_THREADS", "_GENOTX_COMPLETE")}
    env.update({"TYPER_USE_RICH": "0", "NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "100"})
    env.update(extra)
    return env


def run_genotx(
    *args: str, stdin: bytes | None = None, env: dict | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """Run ``python -m genotx ARGS`` with `stdin` piped in; return the finished process (bytes output)."""
    return subprocess.run(
        [sys.executable, "-m", "genotx", *args],
        input=stdin if stdin is not None else b"",
        capture_output=True,
        env=env if env is not None else genotx_env(),
        timeout=timeout,
        cwd=REPO,
    )


def tsv_rows(stdout: bytes) -> list[list[str]]:
    """Data rows of genotx TSV output (the '#genotx' line and the header row removed)."""
    lines = stdout.decode().splitlines()
    assert lines and lines[0].startswith("#genotx "), f"missing provenance line in {lines[:2]}"
    return [line.split("\t") for line in lines[2:]]


@pytest.fixture
def shared_data() -> Path:
    """The shared real-data folder; skips the test when this checkout has none next to it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA
