"""Reading the small TSV inputs of the tasks, with errors naming file and line.

Lines starting with ``#`` are comments (so a genotx output, whose first line
is ``#genotx ...``, can be read back); the first other line is the header. A
VCF-style ``#CHROM`` line is taken as the header. Input may be gzip, detected
from its magic bytes, and ``-`` is stdin.
"""

from __future__ import annotations

import gzip
import io
import sys
from typing import Iterator

from genotx.errors import InputError

_IUPAC = "RYSWKMBDHV"
_NORMALISE = str.maketrans({**{c: "N" for c in _IUPAC + _IUPAC.lower()}, "U": "T", "u": "T"})
_VALID = set("ACGTN")


def display(path: str) -> str:
    return "<stdin>" if path == "-" else str(path)


def open_text(path: str) -> io.TextIOBase:
    """Open a plain or gzip text file (or stdin for ``-``)."""
    name = display(path)
    try:
        raw = sys.stdin.buffer if path == "-" else open(path, "rb")
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a directory, expected a TSV file") from None
    except PermissionError:
        raise InputError(f"{name}: permission denied") from None
    buffered = raw
    if buffered.peek(2)[:2] == b"\x1f\x8b":
        buffered = gzip.GzipFile(fileobj=buffered)
    return io.TextIOWrapper(buffered, encoding="utf-8", errors="strict", newline=None)


def read_rows(path: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, {column: value})`` for each data row of a TSV.

    Example: ``for line, row in read_rows("train.tsv", ("sequence", "label")): ...``
    """
    name = display(path)
    stream = open_text(path)
    header: list[str] | None = None
    try:
        for number, line in enumerate(stream, 1):
            line = line.rstrip("\n")
            if header is None and line.upper().startswith("#CHROM"):
                line = line[1:]
            elif not line.strip() or line.startswith("#"):
                continue
            fields = line.split("\t")
            if header is None:
                header = [f.strip().lower() for f in fields]
                missing = [c for c in required if c not in header]
                if missing:
                    raise InputError(
                        f"{name}: line {number}: header lacks column(s) {', '.join(missing)} "
                        f"(found: {', '.join(header)}; columns must be tab-separated)"
                    )
                continue
            if len(fields) != len(header):
                raise InputError(f"{name}: line {number}: {len(fields)} fields, the header has {len(header)}")
            row = dict(zip(header, (f.strip() for f in fields)))
            yield number, {c: row[c] for c in required + optional if c in row}
    except UnicodeDecodeError:
        raise InputError(f"{name}: not a text file (non-UTF-8 bytes)") from None
    except (OSError, EOFError) as exc:
        raise InputError(f"{name}: read error ({exc})") from None
    finally:
        if path != "-":
            stream.close()
    if header is None:
        raise InputError(f"{name}: empty file, expected a header line with {', '.join(required)}")


def normalise_sequence(seq: str, where: str) -> str:
    """Upper-case, U -> T, IUPAC ambiguity codes -> N; anything else is an error.

    Example: ``normalise_sequence("acgu", "x.tsv: line 2") == "ACGT"``.
    """
    norm = seq.translate(_NORMALISE).upper()
    if not norm:
        raise InputError(f"{where}: empty sequence")
    if not set(norm) <= _VALID:
        bad = next(i for i, c in enumerate(norm) if c not in _VALID)
        raise InputError(f"{where}: invalid character {seq[bad]!r} at position {bad + 1} of the sequence")
    return norm


def parse_float(value: str, where: str, what: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise InputError(f"{where}: {what} {value!r} is not a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise InputError(f"{where}: {what} {value!r} is not a finite number")
    return number
