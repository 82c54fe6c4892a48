"""Rows of float32 vectors streamed to a .npy or .safetensors file, with their ids in a TSV beside it.

The number of rows is known only at the end, so the file starts with a
header of fixed size (the format's own padding: spaces in both formats),
rows are appended as they come, and the header is rewritten with the final
shape before the file is renamed into place. Memory stays that of one batch;
the ids go to ``<name>.ids.tsv`` (``#genotx`` line, ``id`` header, one id a
line), in row order. An existing file is replaced only with ``replace``
(`check_matrix_path` first checks that it is a genotx embeddings output).

Example::

    with MatrixWriter("emb.npy", 256) as out:      # also writes emb.ids.tsv
        out.write(["r1", "r2"], vectors)            # (2, 256) float32
"""

from __future__ import annotations

import json
import os
import struct
import tempfile

import numpy as np

from genotx.errors import InputError
from genotx.io.tsv import TsvWriter

SUFFIXES = (".npy", ".safetensors")
HEADER = 256  # bytes reserved for the header: room for any shape


def ids_path(path: str) -> str:
    """``emb.npy`` -> ``emb.ids.tsv``."""
    return os.path.splitext(path)[0] + ".ids.tsv"


def _npy_header(rows: int, d: int) -> bytes:
    text = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (rows, d)
    body = HEADER - 10  # magic (6), version (2), header length (2)
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", body) + text.ljust(body - 1).encode("latin1") + b"\n"


def _safetensors_header(rows: int, d: int) -> bytes:
    meta = {"embeddings": {"dtype": "F32", "shape": [rows, d], "data_offsets": [0, rows * d * 4]}}
    text = json.dumps(meta, separators=(",", ":"))
    return struct.pack("<Q", HEADER - 8) + text.ljust(HEADER - 8).encode("ascii")


def check_matrix_path(path: str, *, force: bool) -> bool:
    """Refuse a name that is not .npy/.safetensors, or that holds anything but genotx embeddings (those only
    with ``force``): before any work starts. True when an earlier output is to be replaced."""
    from genotx.io.outputs import EMBEDDINGS, EXISTING, check_output

    if not path.endswith(SUFFIXES):
        raise InputError(f"-o {path}: the name must end in .npy or .safetensors (or leave -o out for TSV on stdout)")
    return check_output(path, EMBEDDINGS, force=force) == EXISTING


class MatrixWriter:
    def __init__(self, path: str, d: int, command: str | None = None, *, replace: bool = False):
        if not path.endswith(SUFFIXES):
            raise InputError(f"-o {path}: the name must end in .npy or .safetensors (or leave -o out for TSV on stdout)")
        for target in (path, ids_path(path)):
            if os.path.exists(target) and not replace:
                raise InputError(f"{target}: exists; not overwritten (remove it or choose another name)")
        self.path, self.d, self.rows = path, d, 0
        self.header = _npy_header if path.endswith(".npy") else _safetensors_header
        folder = os.path.dirname(os.path.abspath(path))
        try:
            fd, self.tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.splitext(path)[1])
        except OSError as exc:
            raise InputError(f"{path}: cannot write there ({exc.strerror or exc})") from None
        self.fh = os.fdopen(fd, "wb")
        self.fh.write(self.header(0, d))
        ids_fd, self.ids_tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".ids.tsv")
        self.ids_fh = os.fdopen(ids_fd, "w")
        self.ids = TsvWriter(["id"], stream=self.ids_fh, command=command)

    def __enter__(self) -> "MatrixWriter":
        return self

    def write(self, ids: list[str], vectors: np.ndarray) -> None:
        self.fh.write(np.ascontiguousarray(vectors, dtype="<f4").tobytes())
        self.ids.write_rows((i,) for i in ids)
        self.rows += len(ids)

    def __exit__(self, exc_type, exc, tb) -> None:
        self.ids.start()
        self.ids_fh.close()
        if exc_type is None:
            self.fh.seek(0)
            self.fh.write(self.header(self.rows, self.d))
        self.fh.close()
        if exc_type is not None:
            for tmp in (self.tmp, self.ids_tmp):
                os.unlink(tmp)
            return
        umask = os.umask(0)
        os.umask(umask)
        for tmp, target in ((self.tmp, self.path), (self.ids_tmp, ids_path(self.path))):
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; an output follows the umask
            os.replace(tmp, target)
