"""Shell completion scripts: ``completions/genotx.bash``, ``completions/_genotx`` (zsh), ``completions/genotx.fish``.

Run ``make completions`` (or ``python -m genotx.tools.completions completions``);
``--check`` only reports stale files. The scripts are typer's completion
sources (``_GENOTX_COMPLETE=source_bash genotx``); at completion time they
call ``genotx`` itself, so new subcommands and options complete without
regenerating them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from genotx.tools import sync

SHELLS = {"bash": "genotx.bash", "zsh": "_genotx", "fish": "genotx.fish"}


def make_scripts() -> dict[str, str]:
    """Return ``{file name: completion script}`` for bash, zsh and fish."""
    scripts = {}
    for shell, name in SHELLS.items():
        env = {**os.environ, "_GENOTX_COMPLETE": f"source_{shell}", "TYPER_USE_RICH": "0"}
        proc = subprocess.run([sys.executable, "-m", "genotx"], capture_output=True, text=True, env=env, check=True)
        if not proc.stdout.strip():
            raise SystemExit(f"no {shell} completion script from genotx: {proc.stderr.strip()}")
        scripts[name] = proc.stdout.strip("\n") + "\n"  # zsh needs #compdef on the first line
    return scripts


def main() -> None:
    parser = argparse.ArgumentParser(description="Write (or --check) the shell completion scripts of genotx.")
    parser.add_argument("directory", nargs="?", default="completions")
    parser.add_argument("--check", action="store_true", help="only report stale scripts (exit 1)")
    args = parser.parse_args()
    raise SystemExit(sync(make_scripts(), args.directory, args.check, "make completions", owned="*genotx*"))


if __name__ == "__main__":
    main()
