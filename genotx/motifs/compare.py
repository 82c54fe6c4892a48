"""Motif-to-motif similarity and JASPAR matching with empirical p-values.

Similarity of a query PFM Q (w_q, 4) and a target PFM T (w_t, 4): for every
offset and both strands of T, the Pearson correlations of the overlapping
column pairs are summed and divided by min(w_q, w_t); the best offset/strand
wins. A motif against itself or its reverse complement scores 1.

Significance (Tomtom-like, but empirical): the query's columns are shuffled
2 * `n_shuffles` times and scored against every target the same way. Shuffling
the query's columns permutes the rows of the column-correlation matrix, so the
null costs no new correlations. Each target's observed score is standardised
by the mean and spread of half of its shuffles (long targets reach higher
maxima by chance); the p-value is the fraction of the other half's
standardised scores, pooled over all targets, at least as high; q-values are
Benjamini-Hochberg over the targets. The smallest q-value reachable is about
1 / n_shuffles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genotx.motifs.pfm import normalise


@dataclass(frozen=True)
class Match:
    """Best alignment of a query against one target."""

    target: int
    similarity: float
    offset: int  # target column aligned with query column 0 (may be negative)
    strand: str
    p_value: float
    q_value: float


def _column_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) Pearson correlation of the 4-vectors; 0 where a column is flat."""
    ac = a - a.mean(axis=1, keepdims=True)
    bc = b - b.mean(axis=1, keepdims=True)
    an = np.linalg.norm(ac, axis=1, keepdims=True)
    bn = np.linalg.norm(bc, axis=1, keepdims=True)
    num = ac @ bc.T
    den = an @ bn.T
    return np.where(den > 1e-12, num / np.where(den > 1e-12, den, 1.0), 0.0)


def _as_probs(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=float)
    return normalise(m, pseudocount=0.0) if np.any(np.abs(m.sum(axis=1) - 1) > 1e-6) else m


def similarity(query: np.ndarray, target: np.ndarray) -> tuple:
    """(score, offset, strand) of the best alignment; reference implementation.

    Example: ``similarity(pfm, revcomp_pfm(pfm))[0] == 1.0``.
    """
    q, t = _as_probs(query), _as_probs(target)
    best = (-np.inf, 0, "+")
    for strand, tt in (("+", t), ("-", t[::-1, ::-1])):
        corr = _column_pearson(q, tt)
        for off in range(-(len(q) - 1), len(tt)):
            total = sum(corr[i, i + off] for i in range(len(q)) if 0 <= i + off < len(tt))
            score = total / min(len(q), len(tt))
            if score > best[0] + 1e-12:
                best = (float(score), off, strand)
    return best


class TargetSet:
    """Targets packed once for fast scoring: both strands padded to a common width."""

    def __init__(self, targets: list):
        self.pfms = [_as_probs(t) for t in targets]
        self.widths = np.array([len(t) for t in self.pfms])
        self.max_width = int(self.widths.max())
        self.columns = np.vstack([np.vstack([p, p[::-1, ::-1]]) for p in self.pfms])
        # start row of each target's forward and reverse block inside `columns`
        self.starts = np.concatenate([[0], np.cumsum(2 * self.widths)[:-1]])

    def correlations(self, query: np.ndarray) -> np.ndarray:
        """(w_q, n_targets, 2, w_pad) column correlations, zero beyond each target's end."""
        q = _as_probs(query)
        corr = _column_pearson(q, self.columns)
        out = np.zeros((len(q), len(self.pfms), 2, self.max_width))
        for j, (s, w) in enumerate(zip(self.starts, self.widths)):
            out[:, j, 0, :w] = corr[:, s: s + w]
            out[:, j, 1, :w] = corr[:, s + w: s + 2 * w]
        return out


def _best_offsets(corr: np.ndarray, order: np.ndarray, norm: np.ndarray):
    """Best (score, offset index, strand) per target when query column i is order[i]."""
    w_q, n_t, _, w_pad = corr.shape
    padded = np.zeros((w_q, n_t, 2, w_pad + 2 * (w_q - 1)))
    padded[:, :, :, w_q - 1: w_q - 1 + w_pad] = corr
    n_off = w_pad + w_q - 1
    totals = np.zeros((n_t, 2, n_off))
    for i, row in enumerate(order):
        # offset index o aligns query column i with padded column i + o
        totals += padded[row, :, :, i: i + n_off]
    totals /= norm[:, None, None]
    flat = totals.reshape(n_t, -1)
    arg = flat.argmax(axis=1)
    return flat[np.arange(n_t), arg], arg % n_off, arg // n_off


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """BH q-values: ``benjamini_hochberg([0.01, 0.04, 0.03]) -> [0.03, 0.04, 0.04]``."""
    p = np.asarray(p, dtype=float)
    n = len(p)
    order = np.argsort(p)
    ranked = p[order] * n / np.arange(1, n + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(n)
    q[order] = np.minimum(ranked, 1.0)
    return q


def match(query: np.ndarray, targets: TargetSet, *, n_shuffles: int = 200, seed: int = 0) -> list:
    """Every target's best alignment with p- and q-values, most significant first.

    Example: ``match(pfm, TargetSet([j.counts for j in jaspar.load()]))[0].target``.
    """
    w_q = len(query)
    corr = targets.correlations(query)
    norm = np.minimum(targets.widths, w_q).astype(float)
    score, off_idx, strand = _best_offsets(corr, np.arange(w_q), norm)
    rng = np.random.default_rng(seed)
    null = np.stack([_best_offsets(corr, rng.permutation(w_q), norm)[0] for _ in range(2 * n_shuffles)])
    # centre and scale from one half of the shuffles, count exceedances in the other: a null
    # score used to estimate its own spread would look less extreme than the observed score does
    mu, sd = null[::2].mean(axis=0), null[::2].std(axis=0) + 1e-9
    z_obs = (score - mu) / sd
    z_null = np.sort(((null[1::2] - mu) / sd).ravel())
    exceed = len(z_null) - np.searchsorted(z_null, z_obs - 1e-12, side="left")
    p = (1 + exceed) / (1 + len(z_null))
    q = benjamini_hochberg(p)
    # ties in p (several targets beyond every null score) are broken by similarity, then by z
    order = np.lexsort((-z_obs, -np.round(score, 9), p))
    return [
        Match(int(j), float(score[j]), int(off_idx[j]) - (w_q - 1), "+-"[int(strand[j])], float(p[j]), float(q[j]))
        for j in order
    ]
