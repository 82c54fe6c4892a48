"""Strict four-line FASTQ parsing.

Each piece of input is decoded once and split into lines; all checks on the
records of a piece are then done in bulk with C-level string operations
(joins, ``bytes.translate``, ``map``), so no Python code runs per record
unless a piece fails a check. Only then is the piece walked record by record
(`explain`) to name the first bad record and what is wrong with it.

Where the C extension `genotx.io._fastq` is built (a C compiler at install
time), it parses well-formed records in one pass over the bytes. It accepts
only input the strict parser accepts without comment and stops at anything
else; from there on the strict parser takes the same bytes, so both paths give
the same records and the same errors. Without the extension the strict parser
does all the work.
"""

from __future__ import annotations

from itertools import chain, repeat
from operator import itemgetter
from typing import Iterator

from genotx.errors import InputError
from genotx.io.normalise import (
    BASES,
    HEADER_CHARS,
    QUALITY_CHARS,
    check_sequence,
    header_problem,
    normalise_many,
    record_id,
)

try:
    from genotx.io import _fastq as fast
except ImportError:  # built without a C compiler: the strict parser alone
    fast = None

_first = itemgetter(0)


class Batcher:
    """Collect parsed records; hand them out as ``(first, ids, seqs, quals)`` batches of `size`.

    ``first`` is the 1-based number of the batch's first record in its input.
    """

    def __init__(self, size: int, with_quals: bool):
        self.size = size
        self.first = 1
        self.ids: list[str] = []
        self.seqs: list[str] = []
        self.quals: list[str] | None = [] if with_quals else None

    def add(self, ids: list[str], seqs: list[str], quals: list[str] | None = None) -> None:
        self.ids += ids
        self.seqs += seqs
        if self.quals is not None:
            self.quals += quals

    def take(self, final: bool = False) -> Iterator[tuple[int, list[str], list[str], list[str] | None]]:
        """Yield full batches (and, if `final`, the remainder)."""
        size = self.size
        while len(self.ids) >= size or (final and self.ids):
            ids, self.ids = self.ids[:size], self.ids[size:]
            seqs, self.seqs = self.seqs[:size], self.seqs[size:]
            quals = None
            if self.quals is not None:
                quals, self.quals = self.quals[:size], self.quals[size:]
            yield self.first, ids, seqs, quals
            self.first += len(ids)


MAX_RECORD_CHARS = 1 << 31  # a record this long is surely not FASTQ (no newlines in binary data)
FAST_CARRY_LIMIT = 1 << 20  # a record this long goes to the strict parser, which joins long records once


def fastq_records(pieces: Iterator[bytes], name: str, batch_size: int, use_fast: bool = True,
                  keep_quals: bool = True):
    """Yield ``(first, ids, seqs, quals)`` for consecutive batches of a FASTQ stream.

    An empty piece (the input stalls) hands out the records parsed so far as a short batch.

    ``keep_quals=False``: qualities are checked all the same, but ``quals`` is None.
    """
    out = Batcher(batch_size, with_quals=keep_quals)
    pieces = iter(pieces)
    number = 1
    if fast is not None and use_fast:
        rest = b""
        for piece in pieces:
            if not piece:  # the input stalls: hand out what is parsed
                yield from out.take(final=True)
                continue
            parsed = fast.parse(rest, piece, keep_quals)
            if parsed is None:
                pieces = chain((rest + piece,), pieces)  # the strict parser judges from here on
                break
            ids, seqs, quals, used = parsed
            if used < 0:  # the piece ends inside the record begun in rest
                rest += piece
                if len(rest) > FAST_CARRY_LIMIT:
                    pieces = chain((rest,), pieces)
                    break
                continue
            rest = piece[used:]
            if ids:
                out.add(ids, seqs, quals)
                number += len(ids)
                yield from out.take()
        else:
            pieces = iter((rest,) if rest else ())
    yield from _strict_records(pieces, name, out, number)


def _strict_records(pieces: Iterator[bytes], name: str, out: Batcher, number: int):
    """The strict parser from record `number` on, adding to `out`; ends the stream."""
    rest = ""
    long_record: list[str] = []  # pieces of a record longer than a piece (long reads)
    newlines = 0
    for piece in pieces:
        if not piece:  # the input stalls: hand out what is parsed
            yield from out.take(final=True)
            continue
        text = piece.decode("latin-1")  # 1:1 on bytes; non-ASCII is caught by the checks
        if long_record:
            long_record.append(text)
            newlines += text.count("\n")
            if newlines < 4:
                if sum(map(len, long_record)) > MAX_RECORD_CHARS:
                    raise InputError(f"{name}: record {number}: no line break in 2 GiB (not FASTQ?)")
                continue
            text, long_record = "".join(long_record), []
        buf = rest + text if rest else text
        if "\r" in buf:
            buf = buf.replace("\r\n", "\n")
        lines = buf.split("\n")
        end = len(lines) - 1  # the last line is incomplete
        while end and not lines[end - 1]:
            end -= 1  # blank lines wait in `rest`: harmless at the end of input, an error before a record
        complete = end // 4 * 4
        if not complete:
            rest, long_record, newlines = "", [buf], len(lines) - 1
            continue
        rest = "\n".join(lines[complete:])
        out.add(*parse_lines(lines[:complete], name, number))
        number += complete // 4
        yield from out.take()
    tail = "".join(long_record) if long_record else rest
    lines = tail.replace("\r\n", "\n").rstrip("\n").split("\n") if tail.strip() else []
    complete = len(lines) // 4 * 4
    if complete:
        out.add(*parse_lines(lines[:complete], name, number))  # an earlier error is reported first
        number += complete // 4
    if len(lines) > complete:
        head = lines[complete]
        rid = record_id(head[1:]) if head.startswith("@") else ""
        shown = f" ({rid!r})" if rid else ""
        raise InputError(
            f"{name}: record {number}{shown}: truncated FASTQ record (input ends after "
            f"{len(lines) - complete} of its 4 lines)"
        )
    yield from out.take(final=True)


def parse_lines(lines: list[str], name: str, first: int) -> tuple[list[str], list[str], list[str]]:
    """Validate 4-line records in bulk; return ``(ids, seqs, quals)`` with normalised sequences."""
    heads, seqs, plus, quals = lines[0::4], lines[1::4], lines[2::4], lines[3::4]
    n = len(heads)
    head_text = "\n".join(heads)
    # Splitting on "\n@" both strips the '@' and proves that every header has one.
    names = head_text[1:].split("\n@")
    plus_text = "".join(plus)
    seq_lens = list(map(len, seqs))
    ok = (
        head_text[:1] == "@"
        and len(names) == n
        and (_plain_ascii(head_text) or not any(map(_line_problem, heads)))
        and (
            plus_text == "+" * n
            or (
                (_plain_ascii(plus_text) or not any(map(_line_problem, plus)))
                and all(map(str.startswith, plus, repeat("+")))
            )
        )
        and seq_lens == list(map(len, quals))
        and 0 not in seq_lens
    )
    if ok:
        qual_text = "".join(quals)
        ok = qual_text.isascii() and not qual_text.encode("ascii").translate(None, QUALITY_CHARS)
    if ok:
        seq_text = "".join(seqs)
        if not seq_text.isascii() or seq_text.encode("ascii").translate(None, BASES):
            seqs = normalise_many(seqs)
        if "\t" in head_text:
            names = [h.replace("\t", " ") for h in names]
        if " " in head_text or "\t" in head_text:
            names = list(map(_first, map(str.partition, names, repeat(" "))))
        ok = seqs is not None and all(names)
    if not ok:
        explain(lines, name, first)
    return names, seqs, quals


def _plain_ascii(text: str) -> bool:
    """Printable ASCII and tabs only (newlines join the lines): no header of it needs a closer look."""
    return text.isascii() and not text.encode("ascii").translate(None, HEADER_CHARS)


def _line_problem(line: str, what: str = "header") -> str | None:
    """`header_problem` of a header or '+' line as decoded here (latin-1), its first character left out."""
    return header_problem(line[1:].encode("latin-1"), what)


def explain(lines: list[str], name: str, first: int) -> None:
    """Walk 4-line records one by one and raise an `InputError` for the first bad one."""
    for i in range(0, len(lines) - 3, 4):
        head, seq, plus, qual = lines[i : i + 4]
        number = first + i // 4
        if not head.startswith("@"):
            what = "a blank line" if not head.strip() else f"{head[:30]!r}"
            raise InputError(f"{name}: record {number}: expected a FASTQ header starting with '@', got {what}")
        problem = _line_problem(head)
        if problem is not None:
            raise InputError(f"{name}: record {number}: {problem}")
        rid = record_id(head[1:])
        where = f"{name}: record {number} ({rid!r})" if rid else f"{name}: record {number}"
        if not rid:
            raise InputError(f"{where}: empty record name after '@'")
        if not plus.startswith("+"):
            raise InputError(
                f"{where}: third line must start with '+', got {plus[:30]!r} "
                "(missing '+' line, or multi-line FASTQ, which is not supported)"
            )
        problem = _line_problem(plus, "'+' line")
        if problem is not None:
            raise InputError(f"{where}: {problem}")
        if not seq:
            raise InputError(f"{where}: empty sequence")
        check_sequence(seq, where)
        if len(seq) != len(qual):
            raise InputError(f"{where}: quality length {len(qual)} differs from sequence length {len(seq)}")
        if not qual.isascii() or qual.encode("ascii").translate(None, QUALITY_CHARS):
            bad = next(c for c in qual if not ("!" <= c <= "~"))
            raise InputError(f"{where}: quality string has character {bad!r}, outside '!'..'~'")
    raise InputError(f"{name}: malformed FASTQ in records {first}..{first + len(lines) // 4 - 1}")
