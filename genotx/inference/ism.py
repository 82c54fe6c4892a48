"""In-silico saturation mutagenesis: every base of a sequence changed to each other base, and scored.

For each position (1-based) whose base is A, C, G or T, and each of the three
other bases, the model's score change (`genotx.inference.likelihood`):

- masked LM: the masked-marginal log-likelihood ratio alt vs ref;
- autoregressive LM: log-likelihood of the mutated sequence minus the original's;
- classifier: the change of one class's probability (default: the last class);
  regressor: the change of the predicted value.

Positions with N are skipped (there is no reference base to change). A
sequence longer than the model reads at once is scored in windows centred on
each position. With ``both_strands`` the score is the mean of the forward
strand's and that of the reverse complement, with the complementary alleles
at the mirrored position.

Cost: a masked LM needs one masked row per position for all three
alternatives (one per token with non-overlapping k-mers), so a 1 kb sequence
is 1,000 rows, a handful of batched forward passes.

Example::

    for row in ism_rows(adapter, "seq1", "ACGTTGCA", IsmOptions(first=2, last=5)):
        print(row)   # ('seq1', 2, 'C', 'A', -0.41), ...
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genotx.errors import InputError
from genotx.inference.likelihood import Allele, allele_scores, fitting_width
from genotx.io.reader import revcomp

BASES = "ACGT"
COMPLEMENT = str.maketrans("ACGT", "TGCA")


@dataclass(frozen=True)
class IsmOptions:
    first: int | None = None  # 1-based, inclusive
    last: int | None = None
    both_strands: bool = False
    target: int = -1  # class index of a classifier's score
    batch_size: int = 64


def parse_positions(text: str | None) -> tuple[int | None, int | None]:
    """``150`` -> (150, 150); ``100-200`` -> (100, 200); ``100-`` -> (100, None); ``-50`` -> (None, 50)."""
    if not text:
        return None, None
    first, dash, last = text.partition("-")
    try:
        a = int(first) if first else None
        b = (int(last) if last else None) if dash else a
    except ValueError:
        a = b = -1
    if a is not None and a < 1 or b is not None and b < 1 or a is not None and b is not None and b < a:
        raise InputError(f"--positions {text!r}: expected 1-based FIRST-LAST like 100-200, 150, 100- or -50")
    return a, b


def ism_alleles(seq: str, first: int | None, last: int | None) -> list[Allele]:
    """Every substitution at the 1-based positions first..last (clipped to the sequence), N skipped."""
    start = (first or 1) - 1
    stop = min(len(seq), last or len(seq))
    return [Allele(seq, p, seq[p], alt) for p in range(start, stop) if seq[p] in BASES for alt in BASES if alt != seq[p]]


def ism_scores(adapter, seq: str, alleles: list[Allele], options: IsmOptions) -> np.ndarray:
    width = fitting_width(adapter, seq, None)
    scores = allele_scores(adapter, alleles, width=width, target=options.target, batch_size=options.batch_size)
    if options.both_strands:
        rc, n = revcomp(seq), len(seq)
        mirrored = [Allele(rc, n - 1 - a.start, a.ref.translate(COMPLEMENT), a.alt.translate(COMPLEMENT)) for a in alleles]
        scores = (scores + allele_scores(adapter, mirrored, width=width, target=options.target,
                                         batch_size=options.batch_size)) / 2
    return scores


def ism_rows(adapter, rid: str, seq: str, options: IsmOptions = IsmOptions()) -> list[tuple]:
    """Rows ``(id, pos, ref, alt, score)`` of one sequence, by position then alt base."""
    alleles = ism_alleles(seq, options.first, options.last)
    if not alleles:
        return []
    scores = ism_scores(adapter, seq, alleles, options)
    return [(rid, a.start + 1, a.ref, a.alt, float(s)) for a, s in zip(alleles, scores)]
