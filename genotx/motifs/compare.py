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
standardised scores, pooled over all targets, at least as high.

Adaptive shuffles: a p-value resting on fewer than `MIN_EXCEED` null scores
above the observed one is not resolved (at 200 shuffles every strong match
sits at the same floor). Those targets get more shuffles, in rounds that
double, scored against them alone and pooled over them, until each has
`MIN_EXCEED` exceedances or `max_shuffles` is reached; a p-value still at its
floor means that no shuffle came close. q-values are Benjamini-Hochberg over
the targets. Matches are ranked by similarity (as printed, 4 decimals), ties
by q-value.
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


MIN_EXCEED = 10  # null scores above the observed one for a resolved p-value (relative error ~1/sqrt(10))
_CHUNK = 4_000_000  # floats per block of batched shuffles (32 MB)


def _shuffled_scores(corr: np.ndarray, norm: np.ndarray, orders: np.ndarray) -> np.ndarray:
    """(len(orders), n_targets) best scores when position i holds query column orders[k, i] in shuffle k."""
    w_q, n_t, _, w_pad = corr.shape
    padded = np.zeros((w_q, n_t, 2, w_pad + 2 * (w_q - 1)))
    padded[:, :, :, w_q - 1: w_q - 1 + w_pad] = corr
    n_off = w_pad + w_q - 1
    out = np.empty((len(orders), n_t))
    step = max(1, _CHUNK // (n_t * 2 * n_off))
    for lo in range(0, len(orders), step):
        block = orders[lo: lo + step]
        totals = np.zeros((len(block), n_t, 2, n_off))
        for i in range(w_q):
            totals += padded[block[:, i], :, :, i: i + n_off]
        out[lo: lo + step] = (totals / norm[None, :, None, None]).reshape(len(block), n_t, -1).max(axis=2)
    return out


def _exceeding(pool: np.ndarray, z: np.ndarray) -> np.ndarray:
    """How many of the sorted `pool` are at least each z."""
    return len(pool) - np.searchsorted(pool, z - 1e-12, side="left")


def _refine(corr, norm, mu, sd, z_obs, exceed, n_null, rng, done: int, max_shuffles: int) -> None:
    """More shuffles for the targets with fewer than MIN_EXCEED exceedances (updates exceed, n_null)."""
    batch = done
    while done < max_shuffles:
        open_ = np.flatnonzero(exceed < MIN_EXCEED)
        if not len(open_):
            return
        batch = min(batch, max_shuffles - done)
        orders = np.argsort(rng.random((batch, len(corr))), axis=1)
        null = _shuffled_scores(corr[:, open_], norm[open_], orders)
        pool = np.sort(((null - mu[open_]) / sd[open_]).ravel())
        exceed[open_] += _exceeding(pool, z_obs[open_])
        n_null[open_] += len(pool)
        done += batch
        batch *= 2


def match(query: np.ndarray, targets: TargetSet, *, n_shuffles: int = 200, max_shuffles: int | None = None,
          seed: int = 0) -> list:
    """Every target's best alignment with p- and q-values, most similar first.

    max_shuffles: the most shuffles a target gets when its p-value is not
    resolved (default 50 * n_shuffles; n_shuffles turns refinement off).
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
    pool = np.sort(((null[1::2] - mu) / sd).ravel())
    exceed = _exceeding(pool, z_obs)
    n_null = np.full(len(score), len(pool))
    _refine(corr, norm, mu, sd, z_obs, exceed, n_null, rng, n_shuffles,
            50 * n_shuffles if max_shuffles is None else max_shuffles)
    p = (1 + exceed) / (1 + n_null)
    q = benjamini_hochberg(p)
    order = np.lexsort((-z_obs, q, -np.round(score, 4)))
    return [
        Match(int(j), float(score[j]), int(off_idx[j]) - (w_q - 1), "+-"[int(strand[j])], float(p[j]), float(q[j]))
        for j in order
    ]
