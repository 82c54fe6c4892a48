"""Files written whole or not at all: a temporary file beside the target, then one rename.

The temporary file is created with `open`, so the result follows the umask
like any other file the user writes; a reader sees the old content or the new
one, never half of it, and a failed write leaves no temporary file behind.

Example::

    write_json_atomic("run.json", {"loss": 1.2})
    with atomic_write("report.md") as fh:
        fh.write("# Report\n")
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager


@contextmanager
def atomic_write(path: str, mode: str = "w", encoding: str | None = "utf-8"):
    """A file object whose content replaces ``path`` when the block ends without an error."""
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, mode, encoding=None if "b" in mode else encoding) as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_json_atomic(path: str, payload: dict, *, indent: int = 1) -> None:
    """``payload`` as JSON (numpy scalars as floats) with a final newline, replacing ``path`` atomically."""
    with atomic_write(path) as fh:
        json.dump(payload, fh, indent=indent, default=float)
        fh.write("\n")
