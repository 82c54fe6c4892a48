"""Expression task inputs, and a SYNTHETIC expression data set from a motif grammar.

No measured expression data ships with genotx. ``examples/expression_synthetic.tsv``
is made by `simulate_expression` and is synthetic: the values come from the
grammar below, not from any experiment. It exists to exercise the regression
path end to end and to check that a model can learn motif interactions.

The grammar (`GRAMMAR`, values are log-expression units), scanned on the
forward strand unless stated:

- ``TATAAT`` (-10 box): +1.5 for the first site;
- ``TTGACA`` (-35 box): +1.0 for the first site;
- the pair ``TTGACA`` then ``TATAAT`` with a 15-19 bp spacer: +2.0 more (synergy
  depends on spacing and order, so k-mer counts alone cannot explain it);
- ``GGGCGG`` on either strand: +0.5 per site, at most 3 sites counted;
- ``CACGTG`` (repressor): -1.0 per site, and -2.0 more if it starts within 10 bp
  after a ``TATAAT``;
- Gaussian noise with standard deviation ``noise`` (default 0.25).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from genotx.errors import InputError
from genotx.io import revcomp
from genotx.tasks._table import display, normalise_sequence, parse_float, read_rows

GRAMMAR = {
    "minus10": ("TATAAT", 1.5),
    "minus35": ("TTGACA", 1.0),
    "synergy_spacer": ((15, 19), 2.0),
    "gc_box": ("GGGCGG", 0.5, 3),
    "repressor": ("CACGTG", -1.0),
    "repressor_near_minus10": (10, -2.0),
}


@dataclass
class ValuedSequences:
    ids: list[str]
    seqs: list[str]
    values: np.ndarray  # float64

    def __len__(self) -> int:
        return len(self.ids)


def load_values_tsv(path: str) -> ValuedSequences:
    """Read ``sequence  value`` rows (optional ``id`` column).

    Example: ``load_values_tsv("examples/expression_synthetic.tsv").values.mean()``.
    """
    name = display(path)
    ids, seqs, values = [], [], []
    for number, row in read_rows(path, ("sequence", "value"), ("id",)):
        where = f"{name}: line {number}"
        seqs.append(normalise_sequence(row["sequence"], where))
        values.append(parse_float(row["value"], where, "value"))
        ids.append(row.get("id") or f"seq{len(ids) + 1}")
    if not seqs:
        raise InputError(f"{name}: no sequences after the header")
    return ValuedSequences(ids, seqs, np.array(values, dtype=np.float64))


def _starts(motif: str, seq: str) -> list[int]:
    return [m.start() for m in re.finditer(f"(?={motif})", seq)]


def grammar_value(seq: str) -> float:
    """Noise-free value of a sequence under `GRAMMAR`: ``grammar_value("TATAAT") == 1.5``."""
    m10, w10 = GRAMMAR["minus10"]
    m35, w35 = GRAMMAR["minus35"]
    (lo, hi), w_syn = GRAMMAR["synergy_spacer"]
    gc, w_gc, gc_cap = GRAMMAR["gc_box"]
    rep, w_rep = GRAMMAR["repressor"]
    near, w_near = GRAMMAR["repressor_near_minus10"]
    s10, s35 = _starts(m10, seq), _starts(m35, seq)
    value = (w10 if s10 else 0.0) + (w35 if s35 else 0.0)
    if any(lo <= b - (a + len(m35)) <= hi for a in s35 for b in s10):
        value += w_syn
    value += w_gc * min(gc_cap, len(_starts(gc, seq)) + len(_starts(gc, revcomp(seq))))
    for r in _starts(rep, seq):
        value += w_rep
        if any(0 <= r - (b + len(m10)) < near for b in s10):
            value += w_near
    return value


def _plant(chars: list[str], motif: str, at: int) -> None:
    chars[at : at + len(motif)] = motif


def simulate_expression(n: int, *, length: int = 150, seed: int = 0, noise: float = 0.25) -> ValuedSequences:
    """SYNTHETIC sequences and values from `GRAMMAR` (random background, GC 45 %).

    Motifs are planted at random: each box with probability 1/2, the -35/-10
    pair with a spacer of 12-22 bp (inside or outside the synergy window) with
    probability 0.3, 0-4 GC boxes and 0-2 repressor sites.
    Example: ``simulate_expression(1000, seed=0).values``.
    """
    if length < 60:
        raise InputError(f"synthetic expression sequences need at least 60 bp, got {length}")
    rng = np.random.default_rng(seed)
    bases = np.array(list("ACGT"))
    p = np.array([0.275, 0.225, 0.225, 0.275])
    ids, seqs, values = [], [], []
    for i in range(n):
        chars = list(rng.choice(bases, size=length, p=p))
        if rng.random() < 0.3:
            spacer = int(rng.integers(12, 23))
            at = int(rng.integers(0, length - 12 - spacer))
            _plant(chars, "TTGACA", at)
            _plant(chars, "TATAAT", at + 6 + spacer)
        else:
            for motif in ("TTGACA", "TATAAT"):
                if rng.random() < 0.5:
                    _plant(chars, motif, int(rng.integers(0, length - 6)))
        for motif, count in (("GGGCGG", rng.integers(0, 5)), ("CACGTG", rng.integers(0, 3))):
            for _ in range(int(count)):
                site = motif if rng.random() < 0.5 or motif == "CACGTG" else revcomp(motif)
                _plant(chars, site, int(rng.integers(0, length - 6)))
        seq = "".join(chars)
        ids.append(f"synthetic{i + 1:05d}")
        seqs.append(seq)
        values.append(grammar_value(seq) + rng.normal(0.0, noise))
    return ValuedSequences(ids, seqs, np.round(np.array(values), 4))


def write_values_tsv(data: ValuedSequences, stream, note: str = "") -> None:
    """Write ``id  sequence  value`` with ``#`` comment lines first (e.g. a synthetic-data note)."""
    for line in note.splitlines():
        stream.write(f"# {line}\n")
    stream.write("id\tsequence\tvalue\n")
    for rid, seq, value in zip(data.ids, data.seqs, data.values):
        stream.write(f"{rid}\t{seq}\t{value:.4f}\n")
