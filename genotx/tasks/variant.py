"""Variant task inputs: variants with their sequence context, ready for scoring.

Two input forms (TSV, tab-separated, header line; ``#`` lines are comments,
and a VCF's ``#CHROM`` line is read as the header, so a plain VCF works):

- ``chrom  pos  ref  alt`` with a reference FASTA (``--reference``): ``pos`` is
  1-based and ``ref`` must match the reference there;
- ``sequence  pos  alt`` (optionally ``ref``, checked): the variant sits at the
  1-based ``pos`` of the given sequence, which is its context.

Optional columns: ``id``, and ``label`` for supervised fine-tuning. ``alt``
may list several alleles separated by commas (one variant each).

A ``ref`` that does not match the reference (or the given sequence), a
chromosome the reference lacks, or a ``pos`` beyond a chromosome's end is an
error naming the line (training, ``predict --strict``); for scoring without
``strict`` it is a warning naming the line, and the variant is kept with its
``problem`` set (its score NA), as a VCF record is.
"""

from __future__ import annotations

from dataclasses import dataclass

from genotx.errors import InputError
from genotx.io import iter_records
from genotx.progress import warn
from genotx.tasks._table import display, normalise_sequence, read_rows

_OPTIONAL = ("id", "label", "ref", "chrom", "sequence")


@dataclass(frozen=True)
class Variant:
    """A substitution or small indel; ``context[offset:offset + len(ref)] == ref``."""

    id: str
    chrom: str
    pos: int  # 1-based on chrom (or on the given sequence)
    ref: str
    alt: str
    context: str  # the chromosome or the given sequence (shared, not copied)
    offset: int  # 0-based start of ref in context
    label: str | None = None
    problem: str | None = None  # why it cannot be scored (a REF mismatch), when kept to score NA

    def windows(self, width: int) -> tuple[str, str, int]:
        """Reference and alternate sequence of about ``width`` bp centred on the variant.

        Returns ``(ref_window, alt_window, start)`` where ``start`` is the 0-based
        position of the variant in both windows.
        Example: ``ref_seq, alt_seq, i = variant.windows(128)``.
        """
        left = max(0, self.offset - (width - len(self.ref)) // 2)
        right = min(len(self.context), left + width)
        left = max(0, min(left, right - width))
        i = self.offset - left
        ref_window = self.context[left:right]
        alt_window = ref_window[:i] + self.alt + ref_window[i + len(self.ref) :]
        return ref_window, alt_window, i


def load_reference(path: str) -> dict[str, str]:
    """Sequences of a reference FASTA by record id (the first word of the header)."""
    reference: dict[str, str] = {}
    for rec in iter_records([path]):
        if rec.id in reference:
            raise InputError(f"{path}: record {rec.id!r} occurs twice")
        reference[rec.id] = rec.seq
    if not reference:
        raise InputError(f"{path}: no sequences in the reference")
    return reference


def _allele(value: str, where: str, what: str) -> str:
    if value in ("", ".", "-", "*") or value.startswith("<"):
        raise InputError(f"{where}: {what} allele {value!r} is not a sequence (symbolic or missing alleles are not supported)")
    return normalise_sequence(value, f"{where}: {what} allele")


def _position(value: str, where: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise InputError(f"{where}: pos {value!r} is not a positive integer (1-based)")
    return int(value)


def _flag(problem: str, where: str, strict: bool) -> str:
    """``problem`` as an error (strict) or as a warning whose variant scores NA."""
    if strict:
        raise InputError(f"{where}: {problem}")
    warn(f"{where}: {problem}; score NA")
    return problem


def load_variants(path: str, reference: dict[str, str] | None = None, *, strict: bool = True) -> list[Variant]:
    """Read variants in either input form; see the module docstring (``strict``: mismatches are errors).

    Example: ``load_variants("snps.tsv", load_reference("genome.fa"))``.
    """
    name = display(path)
    rows = read_rows(path, ("pos", "alt"), _OPTIONAL)
    variants: list[Variant] = []
    for number, row in rows:
        if row.get("id") == ".":  # VCF: no id
            del row["id"]
        where = f"{name}: line {number}" + (f" ({row['id']!r})" if row.get("id") else "")
        context, chrom, what, problem = _context(row, reference, name, where, number, strict)
        pos = _position(row["pos"], where)
        if problem is None and pos > len(context):
            beyond = f"pos {pos} is beyond the end of {what} ({len(context)} bp)"
            if "sequence" in row:
                raise InputError(f"{where}: {beyond}")
            problem = _flag(beyond, where, strict)
        if "ref" in row:
            ref = _allele(row["ref"], where, "ref")
            found = context[pos - 1 : pos - 1 + len(ref)]
            if problem is None and found != ref:
                problem = _flag(f"ref {ref!r} does not match {what} at {pos} (it has {found!r})", where, strict)
        elif "chrom" in row:
            raise InputError(f"{name}: header lacks the ref column")
        else:
            ref = context[pos - 1]
        for k, alt_text in enumerate(row["alt"].split(",")):
            alt = _allele(alt_text, where, "alt")
            if alt == ref:
                raise InputError(f"{where}: alt {alt!r} equals ref")
            rid = row.get("id") or f"{chrom}:{pos}:{ref}>{alt}"
            if row.get("id") and "," in row["alt"]:
                rid = f"{rid}.{k + 1}"
            variants.append(Variant(rid, chrom, pos, ref, alt, context, pos - 1, row.get("label") or None, problem))
    if not variants:
        raise InputError(f"{name}: no variants after the header")
    return variants


def _context(row: dict, reference, name: str, where: str, number: int, strict: bool):
    """(context, chrom, what it is called, problem or None) of a row."""
    if "sequence" in row:
        return normalise_sequence(row["sequence"], where), row.get("id") or row.get("chrom") or f"seq{number}", \
            "the sequence", None
    if "chrom" not in row:
        raise InputError(f"{name}: header needs either chrom, pos, ref, alt or sequence, pos, alt")
    if reference is None:
        raise InputError(f"{name}: chrom/pos/ref/alt variants need a reference FASTA (--reference)")
    chrom = row["chrom"]
    if chrom not in reference:
        listed = f"{', '.join(list(reference)[:5])}{' ...' if len(reference) > 5 else ''}"
        return "", chrom, f"chromosome {chrom!r}", _flag(
            f"chromosome {chrom!r} is not in the reference (it has {listed})", where, strict)
    return reference[chrom], chrom, f"chromosome {chrom!r}", None
