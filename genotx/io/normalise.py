"""The input normalisation rule, shared by the FASTA and FASTQ parsers.

Sequences are upper-cased, ``U`` becomes ``T``, and the IUPAC ambiguity codes
``R Y S W K M B D H V`` become ``N``; after that only ``A C G T N`` remain.
Any other character (``-``, ``.``, ``*``, digits, spaces, ...) is an error.
A record's id is its header up to the first space or tab: printable ASCII. The
description after it may be any UTF-8 text (``>id1 strain Müller``); control
characters and bytes that are not UTF-8 are refused anywhere in a header.
"""

from __future__ import annotations

from genotx.errors import InputError

BASES = b"ACGTN"
IUPAC_AMBIGUOUS = b"RYSWKMBDHV"
QUALITY_CHARS = bytes(range(33, 127))  # Phred+33: '!' .. '~'
HEADER_CHARS = bytes(range(32, 127)) + b"\t\n"  # printable ASCII; no control characters
_NOT_CONTROL = bytes(range(32, 127)) + b"\t" + bytes(range(128, 256))

# Every valid sequence byte -> its normal form; everything else -> '!'. Newline
# maps to itself so that many sequences can be normalised in one joined string.
_NORM = bytearray(b"!" * 256)
for _c in BASES:
    _NORM[_c] = _NORM[_c + 32] = _c
_NORM[ord("U")] = _NORM[ord("u")] = ord("T")
for _c in IUPAC_AMBIGUOUS:
    _NORM[_c] = _NORM[_c + 32] = ord("N")
_NORM[ord("\n")] = ord("\n")
NORM_TABLE = bytes(_NORM)
del _NORM, _c

_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


def revcomp(seq: str) -> str:
    """Reverse complement of a normalised sequence: ``revcomp("AACGN") == "NCGTT"``."""
    return seq.translate(_COMPLEMENT)[::-1]


def record_id(header: str) -> str:
    """The id in a header line without its '>' or '@': ``record_id("r1 len=72") == "r1"``."""
    return header.replace("\t", " ").partition(" ")[0]


def header_problem(raw: bytes, line: str = "header") -> str | None:
    """Why a header line (without its '>' or '@') is refused, or None when it is fine.

    Example: ``header_problem("r1 strain Müller".encode()) is None``.
    """
    if not raw.translate(None, HEADER_CHARS):
        return None  # plain ASCII, the common case
    if raw.translate(None, _NOT_CONTROL):
        return f"{line} contains control characters (binary data?)"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return f"{line} is not UTF-8 text (binary data?)"
    rid = raw.replace(b"\t", b" ").partition(b" ")[0]
    if not rid.isascii():
        shown = rid.decode("utf-8")
        return f"record id {shown!r} has non-ASCII characters (only the description after the first space may)"
    return None


def normalise(seq: str | bytes) -> str | None:
    """Normal form of one sequence, or None if it has an invalid character.

    Example: ``normalise("acgUR") == "ACGTN"``.
    """
    raw = seq.encode("latin-1", "replace") if isinstance(seq, str) else seq
    norm = raw.translate(NORM_TABLE)
    if b"!" in norm or b"\n" in norm:
        return None
    return norm.decode("ascii")


def normalise_many(seqs: list[str]) -> list[str] | None:
    """Normal forms of many sequences in one pass, or None if any has an invalid character."""
    joined = "\n".join(seqs)
    if not joined.isascii():
        return None
    norm = joined.encode("ascii").translate(NORM_TABLE)
    if b"!" in norm:
        return None
    return norm.decode("ascii").split("\n")


def check_sequence(seq: str, where: str) -> str:
    """Return the normal form of `seq`, or raise an `InputError` naming the first bad character."""
    norm = normalise(seq)
    if norm is not None:
        return norm
    for position, ch in enumerate(seq, 1):
        if normalise(ch) is None:
            code = ord(ch)
            shown = repr(ch) if 32 <= code < 127 else f"byte 0x{code:02x}"
            hint = " (binary data?)" if code >= 128 or code < 32 else ""
            raise InputError(f"{where}: invalid character {shown} at position {position}{hint}")
    raise InputError(f"{where}: invalid sequence")
