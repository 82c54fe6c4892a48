"""VCF in and out: a streaming reader (plain or bgzip, file or stdin) and a writer that adds one INFO field.

Reading keeps every line as it came, so the writer gives the input back
unchanged except for the declared INFO field (a ``##INFO`` header line
before ``#CHROM`` and ``ID=value`` in each record's INFO column; an earlier
field of the same ID is replaced). Values are one per ALT allele
(``Number=A``), ``.`` where there is none. A multi-allelic record is split
into one allele per ALT by `VcfRecord.alleles`.

Compression is detected from the gzip magic, never from the name, and
decompressed by `genotx.io.source`.

Example::

    reader = VcfReader("calls.vcf.gz")
    with VcfWriter(sys.stdout, reader.header, "SCORE", "log-likelihood ratio alt vs ref") as out:
        for record in reader:
            out.write(record, [0.5] * len(record.alts))
"""

from __future__ import annotations

import sys
import zlib
from dataclasses import dataclass
from typing import Iterator, Sequence, TextIO

from genotx.errors import InputError
from genotx.io.source import GZIP_MAGIC, display_name, inflate, pieces
from genotx.io.tsv import HeaderFirst

VCF_MAGIC = b"##fileformat=VCF"


def looks_like_vcf(path: str) -> bool:
    """True when the (decompressed) input starts with ``##fileformat=VCF``; stdin is peeked, not consumed."""
    try:
        if path == "-":
            head = sys.stdin.buffer.peek(1 << 16)
        else:
            with open(path, "rb") as fh:
                head = fh.read(1 << 16)
    except OSError:
        return False  # the reader that follows names the problem
    if head[:2] == GZIP_MAGIC:
        try:
            head = zlib.decompressobj(31).decompress(head, 64)
        except zlib.error:
            return False
    return head.startswith(VCF_MAGIC)


def _lines(path: str) -> Iterator[str]:
    """Decoded lines of a plain or gzip input, without line ends."""
    name = display_name(path)
    if path == "-":  # through Python's buffer: `looks_like_vcf` may have peeked into it
        stream = sys.stdin.buffer
        first = stream.read(1 << 16)
        chunks = inflate(stream, first, name) if first[:2] == GZIP_MAGIC else _chunks(stream, first)
    else:
        chunks = pieces(path)
    carry = b""
    number = 0
    for chunk in chunks:
        parts = (carry + chunk).split(b"\n")
        carry = parts.pop()
        for raw in parts:
            number += 1
            yield _decode(raw, name, number)
    if carry:
        yield _decode(carry, name, number + 1)


def _chunks(stream, first: bytes) -> Iterator[bytes]:
    block = first
    while block:
        yield block
        block = stream.read(1 << 16)


def _decode(raw: bytes, name: str, number: int) -> str:
    try:
        return raw.rstrip(b"\r").decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{name}: line {number}: not UTF-8 text") from None


@dataclass(frozen=True)
class VcfRecord:
    """One data line; ``fields`` are its tab-separated columns as read."""

    number: int  # line number in the input
    fields: tuple[str, ...]

    @property
    def chrom(self) -> str:
        return self.fields[0]

    @property
    def pos(self) -> int:
        return int(self.fields[1])

    @property
    def id(self) -> str:
        return self.fields[2]

    @property
    def ref(self) -> str:
        return self.fields[3].upper()

    @property
    def alts(self) -> tuple[str, ...]:
        return tuple(a.upper() for a in self.fields[4].split(","))

    def name(self) -> str:
        """How the record is named in messages and output ids: its ID, else chrom:pos."""
        return self.id if self.id not in ("", ".") else f"{self.chrom}:{self.pos}"

    def alleles(self) -> list[tuple[str, str]]:
        """(id, alt) per ALT: the record's name, with ``.1``, ``.2``, ... when it has several."""
        alts = self.alts
        if len(alts) == 1:
            return [(self.name(), alts[0])]
        return [(f"{self.name()}.{k + 1}", alt) for k, alt in enumerate(alts)]


class VcfReader:
    """The header lines (``##`` meta lines and the ``#CHROM`` line) on opening, then records."""

    def __init__(self, path: str):
        self.path, self.name = path, display_name(path)
        self._lines = _lines(path)
        self.header: list[str] = []
        self._number = 0
        for line in self._lines:
            self._number += 1
            if not self.header and not line.startswith("##fileformat=VCF"):
                raise InputError(f"{self.name}: line 1: not a VCF (expected ##fileformat=VCF)")
            self.header.append(line)
            if line.startswith("#CHROM"):
                break
        if not self.header or not self.header[-1].startswith("#CHROM"):
            raise InputError(f"{self.name}: VCF header has no #CHROM line")

    def __iter__(self) -> Iterator[VcfRecord]:
        for line in self._lines:
            self._number += 1
            if not line.strip():
                continue
            fields = tuple(line.split("\t"))
            where = f"{self.name}: line {self._number}"
            if len(fields) < 8:
                raise InputError(f"{where}: {len(fields)} columns, a VCF record has at least 8 (tab-separated)")
            if not fields[1].isdigit() or int(fields[1]) < 1:
                raise InputError(f"{where}: POS {fields[1]!r} is not a positive integer")
            if not fields[3] or not fields[4]:
                raise InputError(f"{where}: empty REF or ALT")
            yield VcfRecord(self._number, fields)


def format_value(value: float | None) -> str:
    if value is None or value != value:
        return "."
    return f"{value:.6g}"


class VcfWriter(HeaderFirst):
    """Write the header with one more INFO field, then records carrying its values."""

    def __init__(self, stream: TextIO, header: Sequence[str], info_id: str, description: str,
                 provenance: str | None = None):
        if not info_id.replace("_", "").isalnum() or info_id[0].isdigit():
            raise InputError(f"INFO field name {info_id!r}: letters, digits and _ only, not starting with a digit")
        self.stream, self.info_id = stream, info_id
        declared = f'##INFO=<ID={info_id},Number=A,Type=Float,Description="{description}">'
        meta = [line for line in header[:-1] if not line.startswith(f"##INFO=<ID={info_id},")]
        last_info = max((i for i, line in enumerate(meta) if line.startswith("##INFO=")), default=len(meta) - 1)
        meta.insert(last_info + 1, declared)
        if provenance:
            meta.append(f"##genotxCommand={provenance}")
        self._header = "\n".join(meta + [header[-1]]) + "\n"
        self._started = False

    def header_text(self) -> str:
        return self._header

    def line(self, record: VcfRecord, values: Sequence[float | None]) -> str:
        fields = list(record.fields)
        entry = f"{self.info_id}={','.join(format_value(v) for v in values)}"
        kept = [f for f in fields[7].split(";") if f not in ("", ".") and f.split("=", 1)[0] != self.info_id]
        fields[7] = ";".join(kept + [entry])
        return "\t".join(fields)

    def write(self, records: Sequence[VcfRecord], values: Sequence[Sequence[float | None]]) -> None:
        """Records with their values, one per ALT, written and flushed together."""
        lines = [self.line(r, v) for r, v in zip(records, values)]
        if lines:
            self.start()
            self.stream.write("\n".join(lines) + "\n")
            self.stream.flush()
