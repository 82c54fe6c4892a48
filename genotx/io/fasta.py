"""Strict FASTA parsing: multi-line records of any length, streamed piece by piece.

A record starts at a line beginning with '>'; its sequence is every following
line up to the next header. Blank lines are skipped. A record's lines are
collected as a list of pieces and joined once, so a chromosome-sized record
costs linear time however the input is cut.
"""

from __future__ import annotations

from typing import Iterator

from genotx.errors import InputError
from genotx.io.fastq import Batcher
from genotx.io.normalise import NORM_TABLE, check_sequence, header_problem, record_id

MAX_BATCH_BASES = 1 << 24  # hand out a batch early once it holds this many bases (genomes)


class _Record:
    """The record being read: its number, header and the sequence lines seen so far."""

    def __init__(self, number: int, header: str):
        self.number = number
        self.header = header
        self.parts: list[bytes] = []


def fasta_records(pieces: Iterator[bytes], name: str, batch_size: int):
    """Yield ``(first, ids, seqs, None)`` for consecutive batches of a FASTA stream.

    An empty piece (the input stalls) hands out the complete records read so far.
    """
    out = Batcher(batch_size, with_quals=False)
    bases = 0
    record: _Record | None = None
    header_part: list[bytes] | None = None  # a header line cut by a piece boundary
    line_start = True  # the previous piece ended with a newline (or this is the start)
    number = 0
    for piece in pieces:
        pos, size = 0, len(piece)
        while pos < size:
            if header_part is not None:
                nl = piece.find(b"\n", pos)
                if nl < 0:
                    header_part.append(piece[pos:])
                    pos = size
                    line_start = False
                    break
                header_part.append(piece[pos:nl])
                if record is not None:
                    bases += _finish(record, name, out)
                number += 1
                record = _Record(number, _header(b"".join(header_part), name, number))
                header_part = None
                pos, line_start = nl + 1, True
                continue
            if line_start and piece[pos] == 0x3E:  # '>'
                header_part = []
                pos += 1
                continue
            if record is None:
                rest = piece[pos:].lstrip()
                if rest[:1] not in (b"", b">"):
                    raise InputError(f"{name}: record 1: FASTA must start with a '>' header line")
                pos = size - len(rest)
                line_start = True
                continue
            nxt = piece.find(b"\n>", pos)
            end = size if nxt < 0 else nxt + 1
            record.parts.append(piece[pos:end])
            pos = end
            line_start = nxt >= 0 or piece.endswith(b"\n")
        if bases >= MAX_BATCH_BASES or not piece:  # not piece: the input stalls (the open record waits)
            yield from out.take(final=True)
            bases = 0
        else:
            yield from out.take()
    if header_part is not None:
        number += 1
        header = _header(b"".join(header_part), name, number)
        if record is not None:
            _finish(record, name, out)
        raise InputError(f"{name}: record {number} ({record_id(header)!r}): empty sequence (input ends after the header)")
    if record is not None:
        _finish(record, name, out)
    yield from out.take(final=True)


def _header(raw: bytes, name: str, number: int) -> str:
    raw = raw.rstrip(b"\r")
    problem = header_problem(raw)
    if problem is not None:
        raise InputError(f"{name}: record {number}: {problem}")
    return raw.decode("latin-1")  # only the id (ASCII) is kept; a UTF-8 description is never shown


def _finish(record: _Record, name: str, out: Batcher) -> int:
    """Validate and normalise a complete record, add it to `out`; return its length."""
    rid = record_id(record.header)
    where = f"{name}: record {record.number} ({rid!r})" if rid else f"{name}: record {record.number}"
    if not rid:
        raise InputError(f"{where}: empty record name after '>'")
    raw = b"".join(record.parts)
    if b"\r" in raw:
        raw = raw.replace(b"\r\n", b"\n")
    raw = raw.replace(b"\n", b"")
    if not raw:
        raise InputError(f"{where}: empty sequence")
    norm = raw.translate(NORM_TABLE)
    if b"!" in norm:
        check_sequence(raw.decode("latin-1"), where)
    out.add([rid], [norm.decode("ascii")])
    return len(norm)
