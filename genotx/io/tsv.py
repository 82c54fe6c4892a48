"""TSV output: a provenance comment line, a header row, then rows.

Fields never contain tabs or newlines (they are replaced by spaces). Rows are
flushed per batch so that ``| head`` and ``| less`` see output as it is made.
"""

from __future__ import annotations

import shlex
import sys
from typing import Iterable, Sequence, TextIO

from genotx import __version__

_CLEAN = str.maketrans({"\t": " ", "\n": " ", "\r": " "})


def command_line(argv: Sequence[str] | None = None) -> str:
    r"""The invocation as one shell-quoted line, e.g. ``predict --task taxon``.

    An argument holding a control character (a file name with a newline) is
    written in bash's ``$'...'`` form, so the line stays one line and pastes back
    into a shell: ``command_line(["stats", "a\nb.fa"]) == "stats $'a\\nb.fa'"``.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    return " ".join(map(shell_word, args))


_ANSI_C = {c: f"\\x{c:02x}" for c in range(32)} | {
    7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r", 27: "\\E", 127: "\\x7f",
    ord("\\"): "\\\\", ord("'"): "\\'",
}


def shell_word(arg: str) -> str:
    """`arg` quoted for a shell, on one line (``$'...'`` when it holds control characters)."""
    if any(ord(c) < 32 or ord(c) == 127 for c in arg):
        return "$'" + arg.translate(_ANSI_C) + "'"
    return shlex.quote(arg)


def format_field(value: object) -> str:
    if value is None:
        return "NA"
    if isinstance(value, float):
        if value != value:
            return "NA"
        return f"{value:.6g}"
    return str(value).translate(_CLEAN)


class HeaderFirst:
    """Writes its header lines once: with the first rows, or on leaving a ``with`` block without an error.

    So input that fails validation before any row produces no output at all. Subclasses
    set ``stream`` and ``_started`` and say what the header is in ``header_text``.
    """

    stream: TextIO
    _started: bool

    def header_text(self) -> str:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.start()

    def start(self) -> None:
        """Write the header lines (once)."""
        if not self._started:
            self._started = True
            self.stream.write(self.header_text())
            self.stream.flush()


class TsvWriter(HeaderFirst):
    """Write ``#genotx <version> <command>``, a header row, then rows.

    The two header lines are written with the first rows, or on leaving the
    ``with`` block without an error, so input that fails validation before any
    row produces no output at all, and empty input produces the header alone.

    Example::

        with TsvWriter(["id", "length"]) as out:
            out.write_rows([("r1", 150)])
    """

    def __init__(self, columns: Sequence[str], stream: TextIO | None = None, command: str | None = None):
        self.columns = list(columns)
        self.stream = stream if stream is not None else sys.stdout
        self.command = command if command is not None else command_line()
        self._started = False

    def header_text(self) -> str:
        return f"#genotx {__version__} {self.command}\n" + "\t".join(self.columns) + "\n"

    def write_rows(self, rows: Iterable[Sequence[object]]) -> None:
        self.write_text(format_rows(rows, len(self.columns)))

    def write_text(self, text: str) -> None:
        """Lines already formatted as `format_rows` does (each ending in a newline), e.g. by a faster path."""
        if text:
            self.start()
            self.stream.write(text)
            self.stream.flush()


def format_rows(rows: Iterable[Sequence[object]], width: int) -> str:
    """The TSV lines of ``rows`` of ``width`` fields, each ending in a newline ('' for no rows)."""
    lines = []
    for row in rows:
        if len(row) != width:
            raise ValueError(f"row has {len(row)} fields, header has {width}")
        lines.append("\t".join(map(format_field, row)))
    return "\n".join(lines) + "\n" if lines else ""
