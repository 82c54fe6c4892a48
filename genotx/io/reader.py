"""Streaming FASTA/FASTQ reader with strict validation.

Input may be plain or gzip/bgzip (multi-member) compressed, from files or stdin
(``-``). The compression is detected from the magic bytes ``1f 8b`` and the
format from the first non-blank byte (``>`` FASTA, ``@`` FASTQ), never from
the file name.

Sequences are normalised: upper case, ``U`` -> ``T``, the IUPAC ambiguity
codes ``R Y S W K M B D H V`` -> ``N``; ``-``, ``.``, digits, spaces inside a
sequence line, or any other character are errors.

Parsing is done on large byte chunks with ``bytes.split``; per-record Python
work only happens when a batch fails a vectorised check and the exact bad
record has to be named. pyfastx is not used for parsing: it silently drops a
FASTQ record whose quality length differs from its sequence, merges a record
without a ``+`` line into its neighbour, and stops without complaint on a
truncated gzip member (see ``bench/io.py`` for speed, ``tests/test_io.py``
for these cases).
"""

from __future__ import annotations

import os
import sys
import zlib
from dataclasses import dataclass
from itertools import repeat
from typing import BinaryIO, Iterable, Iterator, NamedTuple

from genotx.errors import InputError

CHUNK_BYTES = 1 << 22
DEFAULT_BATCH = 4096

_IUPAC = b"RYSWKMBDHV"
# Table mapping every valid sequence byte to its normal form; invalid bytes map to '!'.
_NORM = bytearray(b"!" * 256)
for _c in b"ACGTN":
    _NORM[_c] = _c
    _NORM[_c + 32] = _c
_NORM[ord("U")] = _NORM[ord("u")] = ord("T")
for _c in _IUPAC:
    _NORM[_c] = _NORM[_c + 32] = ord("N")
_NORM = bytes(_NORM)
_QUAL_OK = bytes(range(33, 127))
_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


def revcomp(seq: str) -> str:
    """Reverse complement of a normalised sequence: ``revcomp("AACGN") == "NCGTT"``."""
    return seq.translate(_COMPLEMENT)[::-1]


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


def _display(path: str) -> str:
    return "<stdin>" if path == "-" else path


def _open_raw(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, expected a FASTA/FASTQ file") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None


def _read_plain(stream: BinaryIO, first: bytes) -> Iterator[bytes]:
    if first:
        yield first
    while True:
        block = stream.read(CHUNK_BYTES)
        if not block:
            return
        yield block


def _read_gzip(stream: BinaryIO, first: bytes, name: str) -> Iterator[bytes]:
    """Decompress all gzip members (bgzip files are many members)."""
    decomp = zlib.decompressobj(31)
    pending = first
    while True:
        if not pending:
            pending = stream.read(CHUNK_BYTES)
            if not pending:
                break
        try:
            out = decomp.decompress(pending)
        except zlib.error as exc:
            raise InputError(f"{name}: corrupt gzip data ({exc})") from None
        pending = b""
        if out:
            yield out
        if decomp.eof:
            pending = decomp.unused_data
            if not pending:
                pending = stream.read(CHUNK_BYTES)
                if not pending:
                    return
            if pending[:2] != b"\x1f\x8b":
                # Trailing zero padding is tolerated (some tools pad blocks).
                if pending.strip(b"\x00"):
                    raise InputError(f"{name}: trailing garbage after gzip data")
                pending = b""
                continue
            decomp = zlib.decompressobj(31)
    raise InputError(f"{name}: truncated gzip file (unexpected end of compressed data)")


def _chunks(path: str) -> Iterator[bytes]:
    name = _display(path)
    stream = _open_raw(path)
    try:
        first = stream.read(CHUNK_BYTES)
        if first[:2] == b"\x1f\x8b":
            yield from _read_gzip(stream, first, name)
        else:
            yield from _read_plain(stream, first)
    except OSError as exc:
        raise InputError(f"{name}: read error ({exc.strerror or exc})") from None
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def _decode(raw: bytes, name: str, number: int, what: str) -> str:
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        raise InputError(f"{name}: record {number}: {what} contains non-ASCII bytes (binary data?)") from None


def _record_id(header: bytes, name: str, number: int) -> str:
    fields = header[1:].split(None, 1)
    if not fields:
        raise InputError(f"{name}: record {number}: empty record name")
    return _decode(fields[0], name, number, "the header")


def _normalise(seq: bytes, name: str, number: int, rid: str) -> str:
    norm = seq.translate(_NORM)
    bad = norm.find(b"!")
    if bad >= 0:
        ch = seq[bad : bad + 1]
        shown = ch.decode("ascii") if 32 < ch[0] < 127 else f"byte 0x{ch[0]:02x}"
        raise InputError(
            f"{name}: record {number} ({rid!r}): invalid character {shown!r} at position {bad + 1}"
        )
    return norm.decode("ascii")


def _normalise_many(seqs: list[bytes], name: str, first: int, ids: list[str]) -> list[str]:
    joined = b"\n".join(seqs)
    if not joined.translate(None, b"ACGTN\n"):
        return joined.decode("ascii").split("\n") if seqs else []
    return [_normalise(s, name, first + i, ids[i]) for i, s in enumerate(seqs)]


def _fastq_batches(chunks: Iterator[bytes], name: str, batch: int) -> Iterator[RecordBatch]:
    number = 1
    rest = b""
    done = False
    while not done:
        block = next(chunks, None)
        if block is None:
            done = True
            buf = rest
        else:
            buf = rest + block
        if b"\r" in buf:
            buf = buf.replace(b"\r\n", b"\n")
            if done:
                buf = buf.rstrip(b"\r")
        lines = buf.split(b"\n")
        if done:
            while lines and not lines[-1]:
                lines.pop()
            usable = len(lines)
            if usable % 4:
                head = lines[usable // 4 * 4]
                rid = head[1:].split(None, 1)[0].decode("ascii", "replace") if head[1:].strip() else "?"
                raise InputError(
                    f"{name}: record {number + usable // 4} ({rid!r}): truncated FASTQ record "
                    f"(file ends after {usable % 4} of its 4 lines)"
                )
            rest = b""
        else:
            usable = (len(lines) - 1) // 4 * 4
            rest = b"\n".join(lines[usable:])
        for start in range(0, usable, 4 * batch):
            part = lines[start : min(usable, start + 4 * batch)]
            yield _fastq_batch(part, name, number)
            number += len(part) // 4


def _fastq_batch(lines: list[bytes], name: str, first: int) -> RecordBatch:
    heads, seqs, plus, quals = lines[0::4], lines[1::4], lines[2::4], lines[3::4]
    ok = (
        all(map(bytes.startswith, heads, repeat(b"@")))
        and all(map(bytes.startswith, plus, repeat(b"+")))
        and list(map(len, seqs)) == list(map(len, quals))
        and all(seqs)
        and not b"".join(quals).translate(None, _QUAL_OK)
    )
    if not ok:
        _fastq_explain(heads, seqs, plus, quals, name, first)
    ids = [_record_id(h, name, first + i) for i, h in enumerate(heads)]
    return RecordBatch(
        name, first, ids, _normalise_many(seqs, name, first, ids), [q.decode("ascii") for q in quals]
    )


def _fastq_explain(heads, seqs, plus, quals, name, first) -> None:
    for i, (h, s, p, q) in enumerate(zip(heads, seqs, plus, quals)):
        number = first + i
        if not h.startswith(b"@"):
            raise InputError(f"{name}: record {number}: FASTQ header must start with '@' (got {h[:20]!r})")
        rid = _record_id(h, name, number)
        where = f"{name}: record {number} ({rid!r})"
        if not p.startswith(b"+"):
            raise InputError(f"{where}: missing '+' line (multi-line FASTQ is not supported)")
        if not s:
            raise InputError(f"{where}: empty sequence")
        if len(s) != len(q):
            raise InputError(f"{where}: quality length {len(q)} differs from sequence length {len(s)}")
        if q.translate(None, _QUAL_OK):
            raise InputError(f"{where}: quality string has characters outside '!'..'~'")
    raise InputError(f"{name}: malformed FASTQ batch starting at record {first}")


def _fasta_batches(chunks: Iterator[bytes], name: str, batch: int) -> Iterator[RecordBatch]:
    number = 1
    rest = b""
    done = False
    while not done:
        block = next(chunks, None)
        if block is None:
            done = True
            buf = rest
        else:
            buf = rest + block
        parts = buf.split(b"\n>")
        if done:
            rest = b""
        else:
            rest = b">" + parts.pop() if len(parts) > 1 else b""
            if not parts or (len(parts) == 1 and not rest):
                rest, parts = buf, []
        if parts and parts[0].startswith(b">"):
            parts[0] = parts[0][1:]
        elif parts and number == 1 and parts[0].strip():
            raise InputError(f"{name}: record 1: FASTA must start with a '>' header line")
        for start in range(0, len(parts), batch):
            chunk = parts[start : start + batch]
            yield _fasta_batch(chunk, name, number)
            number += len(chunk)


def _fasta_batch(parts: list[bytes], name: str, first: int) -> RecordBatch:
    ids, raw = [], []
    for i, part in enumerate(parts):
        header, _, body = part.partition(b"\n")
        rid = _record_id(b">" + header.rstrip(b"\r"), name, first + i)
        seq = body.replace(b"\r", b"").replace(b"\n", b"")
        if not seq:
            raise InputError(f"{name}: record {first + i} ({rid!r}): empty sequence")
        ids.append(rid)
        raw.append(seq)
    return RecordBatch(name, first, ids, _normalise_many(raw, name, first, ids), None)


def _sniff(chunks: Iterator[bytes], name: str) -> tuple[str | None, Iterator[bytes]]:
    """Return the format ('fasta', 'fastq' or None for empty input) and the chunk stream."""
    seen: list[bytes] = []
    for block in chunks:
        seen.append(block)
        stripped = block.lstrip()
        if not stripped:
            continue
        lead = stripped[:1]
        fmt = {b">": "fasta", b"@": "fastq"}.get(lead)
        if fmt is None:
            shown = lead.decode("ascii") if 32 < lead[0] < 127 else f"byte 0x{lead[0]:02x}"
            raise InputError(f"{name}: not FASTA or FASTQ (first character {shown!r}, expected '>' or '@')")
        seen[-1] = stripped if len(seen) == 1 else block
        if len(seen) > 1:
            seen = [b"".join(seen).lstrip()]
        return fmt, _chain(seen, chunks)
    return None, iter(())


def _chain(first: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    yield from first
    yield from rest


def iter_batches(paths: Iterable[str] | None = None, batch_size: int = DEFAULT_BATCH) -> Iterator[RecordBatch]:
    """Yield validated batches from each input in turn (``-`` or no paths: stdin).

    Example: ``sum(len(b) for b in iter_batches(["reads.fq.gz"]))`` counts reads.
    """
    for path in list(paths or ["-"]):
        name = _display(path)
        fmt, chunks = _sniff(_chunks(path), name)
        if fmt is None:
            continue
        parse = _fastq_batches if fmt == "fastq" else _fasta_batches
        yield from parse(chunks, name, batch_size)


def iter_records(paths: Iterable[str] | None = None) -> Iterator[Record]:
    """Yield validated records one by one; see `iter_batches`."""
    for batch in iter_batches(paths):
        yield from batch.records()


def stdin_is_terminal() -> bool:
    try:
        return os.isatty(sys.stdin.fileno())
    except (OSError, ValueError):
        return False
