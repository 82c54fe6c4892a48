"""Standard streams that fail like a Unix tool's: one line naming the stream and the OS error.

Python reports a failed write to stdout (a full disk, ``> /dev/full``, a closed
descriptor) as a bare ``OSError: [Errno 28]`` from wherever the buffer happened to
be flushed, or, when the shell closed stdout (``>&-``), as an ``AttributeError``
on ``None``. `guard_standard_streams` replaces ``sys.stdout`` with a stream whose
lowest layer turns such failures into `genotx.errors.OutputError`
(``<stdout>: write error (No space left on device)``); a closed reader
(``| head``) still raises `BrokenPipeError`, which the command line ends quietly.

It also keeps descriptors 0-2 taken: with stdout closed, the next file opened
(a model being saved) would otherwise get descriptor 1, and rows meant for
stdout would land in it.
"""

from __future__ import annotations

import io
import os
import sys

from genotx.errors import OutputError

STDOUT_BUFFER = 1 << 16  # as large as a pipe's buffer: one write per pipe-full


def os_error_text(exc: OSError) -> str:
    """``No space left on device`` for an `OSError`, without the ``[Errno 28]``."""
    return exc.strerror or str(exc)


class _StdoutDescriptor(io.RawIOBase):
    """Descriptor 1, with write failures other than a broken pipe raised as `OutputError`.

    After the first failure every later write is dropped, so that the
    interpreter's last flush at exit does not report the same failure again.
    """

    def __init__(self, fd: int, closed_at_start: bool = False):
        super().__init__()
        self.fd = fd
        self.closed_at_start = closed_at_start
        self.failed = False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        if self.closed_at_start:
            raise OSError(9, "Bad file descriptor")
        return self.fd

    def isatty(self) -> bool:
        return not self.closed_at_start and os.isatty(self.fd)

    def write(self, data) -> int:
        if self.failed:
            return len(data)
        if self.closed_at_start:
            self.failed = True
            raise OutputError("<stdout>: write error (Bad file descriptor: stdout is closed)")
        try:
            return os.write(self.fd, data)
        except BrokenPipeError:
            raise
        except OSError as exc:
            self.failed = True
            raise OutputError(f"<stdout>: write error ({os_error_text(exc)})") from None


def _reserve(fd: int, mode: int) -> bool:
    """Open /dev/null on `fd` if it is closed; True if it was closed."""
    try:
        os.fstat(fd)
        return False
    except OSError:
        pass
    null = os.open(os.devnull, mode)
    if null != fd:
        os.dup2(null, fd)
        os.close(null)
    return True


def guard_standard_streams() -> None:
    """Give closed standard descriptors a placeholder and wrap stdout (see the module docstring)."""
    _reserve(0, os.O_RDONLY)  # reading '-' then finds no data rather than another file's
    stdout_closed = _reserve(1, os.O_WRONLY)
    if _reserve(2, os.O_WRONLY) or sys.stderr is None:
        sys.stderr = open(2, "w", closefd=False)
    old = sys.stdout
    if old is not None and old is not sys.__stdout__:
        return  # already guarded, or replaced by a caller that captures output
    raw = _StdoutDescriptor(1, closed_at_start=stdout_closed or old is None)
    buffered = io.BufferedWriter(raw, STDOUT_BUFFER)
    encoding = getattr(old, "encoding", None) or "utf-8"
    errors = getattr(old, "errors", None) or "strict"
    sys.stdout = io.TextIOWrapper(buffered, encoding=encoding, errors=errors, line_buffering=raw.isatty(),
                                  write_through=False)
    if old is not None:
        try:
            old.flush()
        except (OSError, ValueError):
            pass


def silence_stdout() -> None:
    """After a failed or broken stdout, point descriptor 1 at /dev/null so the final flush at exit is quiet."""
    raw = getattr(getattr(sys.stdout, "buffer", None), "raw", None)
    if isinstance(raw, _StdoutDescriptor):
        raw.failed = True
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    except OSError:
        pass
