"""Streaming FASTA/FASTQ reader with strict validation: the public entry points.

Input may be plain or gzip/bgzip (multi-member) compressed, from files or stdin
(``-``), several inputs in a row. Compression is detected from the magic bytes
``1f 8b`` and the format from the first non-blank byte (``>`` FASTA, ``@``
FASTQ), never from the file name. Sequences are normalised as described in
`genotx.io.normalise`; every malformed input raises `genotx.errors.InputError`
naming the input, the record number and id, and what is wrong.

The parsers are our own rather than pyfastx (2.3.1), which we measured to
accept malformed input silently: it stops without complaint at a FASTQ record
whose quality length differs from its sequence (dropping it and all after it),
merges a record without a '+' line into its neighbour, returns the readable
part of a truncated gzip file, and drops sequence lines before the first
FASTA header. ``tests/test_io_pyfastx.py`` keeps these cases; ``bench/io.py``
compares the speed.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from itertools import chain, repeat
from typing import Iterable, Iterator, NamedTuple

from genotx.errors import InputError
from genotx.io.fasta import fasta_records
from genotx.io.fastq import fastq_records
from genotx.io.normalise import normalise, record_id, revcomp
from genotx.io.source import STALL_SECONDS, display_name, pieces

DEFAULT_BATCH = 4096

__all__ = ["Record", "RecordBatch", "iter_batches", "iter_records", "normalise", "record_id", "revcomp"]


class Record(NamedTuple):
    """One sequence record; ``qual`` is None for FASTA."""

    id: str
    seq: str
    qual: str | None = None


@dataclass
class RecordBatch:
    """Consecutive records of one input; ``first`` is the 1-based number of the first."""

    source: str
    first: int
    ids: list[str]
    seqs: list[str]
    quals: list[str] | None

    def __len__(self) -> int:
        return len(self.ids)

    def records(self) -> Iterator[Record]:
        quals = self.quals if self.quals is not None else repeat(None)
        return map(Record, self.ids, self.seqs, quals)


def sniff(chunks: Iterator[bytes], name: str) -> tuple[str | None, Iterator[bytes]]:
    """Return the format ('fasta', 'fastq', or None for empty input) and the pieces, unchanged."""
    seen: list[bytes] = []
    for block in chunks:
        seen.append(block)
        stripped = block.lstrip()
        if not stripped:
            continue
        lead = stripped[0]
        fmt = {0x3E: "fasta", 0x40: "fastq"}.get(lead)
        if fmt is None:
            shown = repr(chr(lead)) if 32 < lead < 127 else f"byte 0x{lead:02x}"
            raise InputError(f"{name}: not FASTA or FASTQ (first character {shown}, expected '>' or '@')")
        if fmt == "fastq":
            # The FASTQ parser counts lines from the first header: drop leading blank lines.
            seen = [b"".join(seen).lstrip()]
        return fmt, chain(seen, chunks)
    return None, iter(())


def iter_batches(paths: Iterable[str] | None = None, batch_size: int = DEFAULT_BATCH,
                 quals: bool = True, shard: tuple[int, int] | None = None) -> Iterator[RecordBatch]:
    """Yield validated batches of at most `batch_size` records from each input in turn.

    ``-`` or no paths: stdin. ``quals=False``: FASTQ qualities are still checked but not
    kept (``batch.quals`` is None, as for FASTA), for commands that never read them.
    ``shard=(i, n)``: only batches i, i + n, i + 2n, ... (1-based, counted over all
    inputs), so that n processes given the same files share the records; every
    process still reads and checks all of them. A pipe that stalls for a second
    hands out the records read so far as a short batch (`genotx.io.source.pieces`);
    with `shard` it never does, so that batches do not depend on timing.
    Example: ``sum(len(b) for b in iter_batches(["reads.fq.gz"]))`` counts the reads.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if shard is not None and not 1 <= shard[0] <= shard[1]:
        raise ValueError(f"shard must be (i, n) with 1 <= i <= n, got {shard}")
    batches = _all_batches(list(paths or ["-"]), batch_size, quals, stall=None if shard else STALL_SECONDS)
    if shard is None:
        yield from batches
        return
    index, count = shard
    for number, batch in enumerate(batches):
        if number % count == index - 1:
            yield batch


def _all_batches(paths: list[str], batch_size: int, quals: bool, stall: float | None) -> Iterator[RecordBatch]:
    for path in paths:
        name = display_name(path)
        raw = pieces(path, stall)
        try:
            fmt, chunks = sniff(raw, name)
            if fmt is None:
                continue
            if fmt == "fastq":
                batches = fastq_records(chunks, name, batch_size, keep_quals=quals)
            else:
                batches = fasta_records(chunks, name, batch_size)
            for first, ids, seqs, kept in batches:
                yield RecordBatch(name, first, ids, seqs, kept)
        finally:
            raw.close()  # closes the file and stops an inflating thread, also on errors


def iter_records(paths: Iterable[str] | None = None) -> Iterator[Record]:
    """Yield validated records one by one; see `iter_batches`.

    Example: ``[r.id for r in iter_records(["ref.fa"])]``.
    """
    for batch in iter_batches(paths):
        yield from batch.records()


def stdin_is_terminal() -> bool:
    try:
        return os.isatty(sys.stdin.fileno())
    except (OSError, ValueError, AttributeError):  # AttributeError: stdin closed, sys.stdin None
        return False
