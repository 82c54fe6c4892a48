"""Files and directories written whole or not at all, with the permissions a plain open() gives.

A temporary file beside the target, then one rename: a reader sees the old
content or the new one, never half of it, and a failed write leaves no
temporary file behind. Temporary files are made with `open` (not `mkstemp`,
whose files are private), and whatever a library wrote into a temporary path or
directory is given ``0o666 & ~umask`` (files) and ``0o777 & ~umask`` (folders)
before the rename, so colleagues on a shared server can read models as they can
read any file the user writes. A failed write (a full disk, a missing folder)
is an `OutputError` naming the target.

Example::

    write_json_atomic("run.json", {"loss": 1.2})
    with atomic_write("report.md") as fh:
        fh.write("# Report\n")
    with atomic_path("model.safetensors") as tmp:
        save_file(tensors, tmp)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager

from genotx.errors import output_error


def current_umask() -> int:
    """The process's umask (read by setting it and setting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def give_default_permissions(path: str) -> None:
    """Make `path` (a file, or a folder and everything in it) as permissive as open()/mkdir() would."""
    mask = current_umask()
    if not os.path.isdir(path):
        os.chmod(path, 0o666 & ~mask)
        return
    for root, dirs, files in os.walk(path):
        os.chmod(root, 0o777 & ~mask)
        for name in files:
            os.chmod(os.path.join(root, name), 0o666 & ~mask)


def _temporary_name(path: str) -> str:
    folder, base = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{base}.tmp-{os.getpid()}-{os.urandom(3).hex()}")


@contextmanager
def atomic_path(path: str):
    """A temporary path beside `path` for a writer that takes a path; renamed to `path` on success."""
    tmp = _temporary_name(path)
    try:
        yield tmp
        give_default_permissions(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise output_error(exc, path) from None
    finally:
        if os.path.lexists(tmp):
            os.remove(tmp)


@contextmanager
def atomic_write(path: str, mode: str = "w", encoding: str | None = "utf-8"):
    """A file object whose content replaces ``path`` when the block ends without an error."""
    with atomic_path(path) as tmp:
        with open(tmp, mode, encoding=None if "b" in mode else encoding) as fh:
            yield fh


def write_json_atomic(path: str, payload: dict, *, indent: int = 1) -> None:
    """``payload`` as JSON (numpy scalars as floats) with a final newline, replacing ``path`` atomically."""
    with atomic_write(path) as fh:
        json.dump(payload, fh, indent=indent, default=float)
        fh.write("\n")


def temporary_directory(path: str) -> str:
    """A new empty folder beside `path` (to be filled, then placed with `place_directory`)."""
    parent = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(parent, exist_ok=True)
        return tempfile.mkdtemp(prefix=f".{os.path.basename(os.path.abspath(path))}.tmp-", dir=parent)
    except OSError as exc:
        raise output_error(exc, path) from None


def place_directory(tmp: str, path: str, *, replace: bool = False) -> None:
    """Put the filled folder `tmp` at `path`.

    `path` absent: one rename. `path` an empty folder: the entries move into it
    (it may be the current directory, which a rename would unlink). `replace`:
    the existing folder (a genotx output the caller has checked and may replace)
    is moved aside, the new one renamed in, then the old one removed.
    """
    path = os.path.abspath(path)
    try:
        give_default_permissions(tmp)
        if not os.path.lexists(path):
            os.replace(tmp, path)
        elif os.path.isdir(path) and not os.listdir(path):
            for name in os.listdir(tmp):
                os.replace(os.path.join(tmp, name), os.path.join(path, name))
            os.rmdir(tmp)
        elif replace:
            old = _temporary_name(path).replace(".tmp-", ".old-")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:  # the callers check first; this is the last guard against a race
            raise FileExistsError(17, "exists and is not empty", path)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise output_error(exc, path) from None


@contextmanager
def staged_directory(path: str, *, replace: bool = False):
    """A temporary folder beside `path` to fill in the ``with`` block, placed at `path` when it ends.

    An error inside the block removes the folder and leaves `path` as it was (an
    OSError becomes the one-line output error naming `path`)::

        with staged_directory("model/", replace=False) as tmp:
            save_file(weights, os.path.join(tmp, "model.safetensors"))
    """
    tmp = temporary_directory(path)
    try:
        yield tmp
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise output_error(exc, path) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    place_directory(tmp, path, replace=replace)
