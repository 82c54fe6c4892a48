"""Did the model place these windows, or would any windows do? The random-window null of `genotx motifs`.

`discover` aligns a motif in windows around a model's attention (or
attribution) peaks. On sequences that mostly hold a motif, its start (the
k-mer most enriched in the windows) and EM find that motif in almost any
windows, so an untrained model can return the same JASPAR match as a trained
one. What only the model adds is *where* the windows fall. So each motif's
windows are compared with random windows of the same number and width:

* a window holds a site when a placement of the motif wholly inside it (either
  strand, no N, within the sequence) scores at least the log-odds that a
  background sequence (the input's base composition, independent bases)
  reaches at one placement with probability ``alpha`` (1e-4, FIMO's default
  p threshold);
* ``site_rate``: the fraction of the model's windows holding a site;
* ``random_site_rate``: the expected fraction for random windows, window k at
  the same centre as the model's window k but on another sequence, drawn
  uniformly (exact: the share of the other sequences whose window there holds
  a site, averaged over the windows);
* ``p_value``: the probability that random windows hold at least as many sites
  as the model's did (the exact upper tail of the sum of the windows'
  independent Bernoulli variables; 1e-300 stands for anything smaller).

Random windows keep the model's positions because sites are not spread evenly
along most inputs: ChIP-seq peaks hold their motif near the summit, and a head
that attends to the middle of every peak, whatever the sequence, puts its
windows on sites more often than uniformly placed windows do. On the Oct4
peaks a model trained on permuted labels did exactly that (site rate 0.22
against 0.08 for uniform windows, 0.22 at the same positions in other peaks).
Kept at the same positions, random windows credit the model only for reading
each sequence. Where no other sequence reaches a centre (lengths differ), that
window's random counterpart lies anywhere on its own sequence.

The model's windows chose the motif (its start is the k-mer most enriched in
them), so they would hold it more often than fresh windows even if the model
had placed them at random. The comparison is therefore cross-fitted: the
sequences are split in two halves at random (from ``seed``), the motif is
aligned again (`align`) in the model's windows of each half, and every window,
the model's and the random ones alike, is scanned with the motif of the other
half, which never saw it; random windows are drawn from the sequences of the
window's own half.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genotx.io.codes import N_CODE
from genotx.motifs.pfm import normalise

ALPHA = 1e-4
SCORE_STEP = 0.01  # bits; scores are binned so the threshold and the scan agree exactly
P_FLOOR = 1e-300  # smaller tails underflow to 0; printed as 1e-300, read "at most"
_NO_SITE = -(10**9)  # score of N: a placement touching N (or beyond the sequence) is never a site


@dataclass(frozen=True)
class SelectionNull:
    """A motif's windows against random windows; NaN where a half of the sequences gives no motif."""

    site_rate: float
    random_site_rate: float
    p_value: float
    windows: int


def binned_log_odds(counts: np.ndarray, background) -> np.ndarray:
    """(width, 4) log2 odds (pseudocount 0.25, as EM aligns the motif) in whole SCORE_STEP bins."""
    pfm = normalise(counts, pseudocount=0.25)
    return np.round(np.log2(pfm / np.asarray(background, dtype=float)) / SCORE_STEP).astype(np.int64)


def site_threshold(bins: np.ndarray, background, alpha: float = ALPHA) -> int:
    """Lowest binned score that one background placement reaches with probability at most ``alpha``.

    The exact distribution of the summed score under independent background
    bases, built column by column. When even the best score is likelier than
    ``alpha`` (a short motif), the best score is the threshold.
    Example: ``site_threshold(np.array([[200, 0, 0, 0]]), [.25] * 4, 0.3) -> 200``.
    """
    bg = np.asarray(background, dtype=float)
    low = bins.min(axis=1)
    dist = np.ones(1)
    for col, lo in zip(bins, low):
        shift = col - lo
        grown = np.zeros(len(dist) + int(shift.max()))
        for base in range(4):
            grown[shift[base]: shift[base] + len(dist)] += bg[base] * dist
        dist = grown
    tail = np.cumsum(dist[::-1])[::-1]  # tail[k] = P(score >= k + sum(low))
    rare = np.flatnonzero(tail <= alpha * (1 + 1e-9))
    k = int(rare[0]) if len(rare) else len(dist) - 1
    return int(k + low.sum())


def upper_tail(probs: np.ndarray, observed: int) -> float:
    """P(sum of independent Bernoulli(probs) >= observed), exactly (Poisson-binomial), at least P_FLOOR.

    Example: ``upper_tail(np.array([0.5, 0.5]), 2) -> 0.25``.
    """
    dist = np.ones(1)
    for p in np.asarray(probs, dtype=float):
        dist = np.concatenate([dist * (1 - p), [0.0]]) + np.concatenate([[0.0], dist * p])
    return float(np.clip(dist[observed:].sum(), P_FLOOR, 1.0))


class _Genome:
    """The sequences laid end to end with N between them: one scan covers them all, no site spans two."""

    def __init__(self, codes: list, pad: int):
        self.lengths = np.array([len(c) for c in codes], dtype=np.int64)
        self.offsets = pad + np.concatenate([[0], np.cumsum(self.lengths + pad)[:-1]]).astype(np.int64)
        self.bases = np.full(int(self.lengths.sum() + pad * (len(codes) + 1)), N_CODE, dtype=np.uint8)
        for off, c in zip(self.offsets, codes):
            self.bases[off: off + len(c)] = c

    def site_starts(self, bins: np.ndarray, threshold: int) -> np.ndarray:
        """Bool per genome position: a placement starting there scores >= threshold on either strand."""
        table = np.concatenate([bins, np.full((len(bins), 1), _NO_SITE, dtype=np.int64)], axis=1)
        reverse = table[::-1][:, [3, 2, 1, 0, 4]]
        n_pos = len(self.bases) - len(bins) + 1
        fwd = np.zeros(n_pos, dtype=np.int64)
        rev = np.zeros(n_pos, dtype=np.int64)
        for j in range(len(bins)):
            part = self.bases[j: j + n_pos]
            fwd += table[j][part]
            rev += reverse[j][part]
        out = np.zeros(len(self.bases), dtype=bool)
        out[:n_pos] = np.maximum(fwd, rev) >= threshold
        return out

    def holds_site(self, starts: np.ndarray, width: int, flank: int) -> np.ndarray:
        """Bool per genome position c: the window c +- flank holds a whole site (starts in [c-flank, c+flank-width+1])."""
        total = np.concatenate([[0], np.cumsum(starts)])
        c = np.arange(len(self.bases))
        hi = np.clip(c + flank - width + 2, 0, len(starts))
        lo = np.clip(c - flank, 0, len(starts))
        return total[hi] - total[np.minimum(lo, hi)] > 0


def _same_position(genome: _Genome, good: np.ndarray, members: np.ndarray, seq_index, centres) -> np.ndarray:
    """Chance that window k, moved to another of the ``members`` sequences at the same centre, holds a site."""
    longest = int(genome.lengths[members].max())
    hits, covering = np.zeros(longest), np.zeros(longest)
    for j in members:
        n = genome.lengths[j]
        hits[:n] += good[genome.offsets[j]: genome.offsets[j] + n]
        covering[:n] += 1
    own = good[genome.offsets[seq_index] + centres]
    others = covering[centres] - 1
    at_centre = (hits[centres] - own) / np.maximum(others, 1)
    # a centre that no other sequence reaches (lengths differ): anywhere on the window's own sequence
    total = np.concatenate([[0], np.cumsum(good)])
    start, end = genome.offsets[seq_index], genome.offsets[seq_index] + genome.lengths[seq_index]
    return np.where(others > 0, at_centre, (total[end] - total[start]) / genome.lengths[seq_index])


def selection_null(motif, codes: list, *, seed=0, alpha: float = ALPHA, **alignment) -> SelectionNull:
    """The motif's windows against random windows, cross-fitted on two halves (see the module docstring).

    ``codes``: base codes of the sequences `discover` saw, in the same order;
    ``alignment``: the settings `discover` was given.
    Example: ``selection_null(discover(seqs, scores), [encode(s) for s in seqs], seed=0).p_value``.
    """
    from genotx.motifs.discover import align

    flank = motif.flank
    seq_index = np.array([w[0] for w in motif.windows], dtype=np.int64)
    centres = np.array([w[1] for w in motif.windows], dtype=np.int64)
    nan = SelectionNull(float("nan"), float("nan"), float("nan"), len(seq_index))
    half = np.random.default_rng(seed).random(len(codes)) < 0.5
    genome = _Genome(codes, pad=2 * flank + 2)
    holds = np.zeros(len(seq_index), dtype=bool)
    chance = np.zeros(len(seq_index))
    for side in (False, True):
        fitted = [w for w in motif.windows if half[w[0]] == side]
        other = align(codes, fitted, motif.background, flank=flank, **alignment)
        scanned = np.flatnonzero(half[seq_index] != side)
        if other is None:
            if len(scanned):
                return nan
            continue
        bins = binned_log_odds(other.counts, motif.background)
        starts = genome.site_starts(bins, site_threshold(bins, motif.background, alpha))
        good = genome.holds_site(starts, other.width, flank)
        seqs, at = seq_index[scanned], centres[scanned]
        holds[scanned] = good[genome.offsets[seqs] + at]
        chance[scanned] = _same_position(genome, good, np.flatnonzero(half != side), seqs, at)
    if not len(seq_index):
        return nan
    observed = int(holds.sum())
    return SelectionNull(observed / len(holds), float(chance.mean()), upper_tail(chance, observed), len(holds))
