"""Generators of the committed files derived from the command line: man pages and shell completions.

Each generator writes ``{file name: text}`` into a folder with `sync`, or with
``check=True`` only reports which files differ (the tests use this to fail
when the committed files are stale).
"""

from __future__ import annotations

import sys
from pathlib import Path


def sync(outputs: dict[str, str], directory: str | Path, check: bool, remake: str, owned: str = "*") -> int:
    """Write `outputs` into `directory`, or with `check` compare.

    Files matching the glob `owned` that are no longer made are removed (or, with
    `check`, reported as stale).

    Returns 0 when the folder is (now) current; with `check`, prints the stale
    files and the command that remakes them (`remake`, e.g. ``make man``) and returns 1.
    """
    folder = Path(directory)
    present = {p.name for p in folder.glob(owned) if p.is_file()} if folder.is_dir() else set()
    stale = sorted(n for n, text in outputs.items() if not (folder / n).is_file() or (folder / n).read_text() != text)
    extra = sorted(present - set(outputs))
    if check:
        if stale or extra:
            print(
                f"{folder}: stale {', '.join(stale + extra)}; run `{remake}` and commit the result",
                file=sys.stderr,
            )
            return 1
        return 0
    folder.mkdir(parents=True, exist_ok=True)
    for name in stale:
        tmp = folder / f".{name}.tmp"
        tmp.write_text(outputs[name])
        tmp.replace(folder / name)
    for name in extra:
        (folder / name).unlink()
    return 0
