"""Head specialisation scores from base-level attention matrices.

For one head on one sequence, `attention` is (L, L): row = query base,
column = key base, rows summing to 1. Three scores, each aggregated over
sequences by `HeadScores`:

- CpG focus: share of attention landing on bases of CG dinucleotides divided
  by the share of such bases (1 = no preference);
- palindrome symmetry: share of attention between reverse-complementary
  4-mers (the two arms of an inverted repeat: the 4-mer starting at one end
  is the reverse complement of the 4-mer ending at the other) divided by the
  share of such pairs (1 = no preference);
- 10 bp periodicity: power of the attention-vs-distance profile in the band
  of periods 9 to 11.5 bp, relative to its mean power over all frequencies,
  after removing the slow decay (1 = no periodicity; the helical repeat of
  B-DNA is ~10.5 bp).
"""

from __future__ import annotations

import numpy as np

K_PALINDROME = 4
MAX_DISTANCE = 100


def cpg_mask(codes: np.ndarray) -> np.ndarray:
    """True on both bases of every CG: ``cpg_mask(encode("ACGT")) -> [F, T, T, F]``."""
    codes = np.asarray(codes)
    cg = (codes[:-1] == 1) & (codes[1:] == 2)
    mask = np.zeros(len(codes), dtype=bool)
    mask[:-1] |= cg
    mask[1:] |= cg
    return mask


def inverted_repeat_pairs(codes: np.ndarray, k: int = K_PALINDROME) -> np.ndarray:
    """(L, L) True where the k-mer starting at min(i, j) reverse-complements the k-mer ending at max(i, j).

    The two k-mers must not overlap. Example: in ``"ACGTTACGT"`` ... positions
    0 and 8 pair (ACGT is its own reverse complement).
    """
    codes = np.asarray(codes).astype(np.int64)
    n = len(codes)
    pairs = np.zeros((n, n), dtype=bool)
    if n < 2 * k:
        return pairs
    starts = np.arange(n - k + 1)
    window = codes[starts[:, None] + np.arange(k)]  # (n-k+1, k), k-mer starting at each position
    valid = (window < 4).all(axis=1)
    fwd = (np.minimum(window, 3) * 4 ** np.arange(k - 1, -1, -1)).sum(1)
    rc = ((3 - np.minimum(window, 3))[:, ::-1] * 4 ** np.arange(k - 1, -1, -1)).sum(1)
    # k-mer starting at i (fwd[i]) vs reverse complement of the k-mer ending at j (rc[j - k + 1])
    match = (fwd[:, None] == rc[None, :]) & valid[:, None] & valid[None, :]
    i_idx, s_idx = np.nonzero(match)
    j_idx = s_idx + k - 1
    keep = j_idx - i_idx >= 2 * k - 1  # the arms do not overlap
    pairs[i_idx[keep], j_idx[keep]] = True
    return pairs | pairs.T


def distance_profile(attention: np.ndarray, max_distance: int = MAX_DISTANCE) -> tuple:
    """(sum of attention at |i - j| = d, number of such pairs) for d = 1..max_distance."""
    attention = np.asarray(attention, dtype=float)
    n = len(attention)
    top = min(max_distance, n - 1)
    total, count = np.zeros(max_distance), np.zeros(max_distance)
    for d in range(1, top + 1):
        total[d - 1] = np.trace(attention, offset=d) + np.trace(attention, offset=-d)
        count[d - 1] = 2 * (n - d)
    return total, count


def periodicity(profile: np.ndarray, band=(9.0, 11.5)) -> float:
    """Band power / mean power of a detrended profile (NaN when too short or flat).

    Example: a profile ``cos(2 pi d / 10)`` scores far above 1; white noise about 1.
    """
    profile = np.asarray(profile, dtype=float)
    if len(profile) < 30 or not np.isfinite(profile).all():
        return float("nan")
    smooth = np.convolve(np.pad(profile, 5, mode="edge"), np.ones(11) / 11, mode="valid")
    resid = profile - smooth
    if np.allclose(resid, 0):
        return float("nan")
    d = np.arange(1, len(resid) + 1)
    freqs = np.linspace(1.0 / len(resid), 0.5, 4 * len(resid))
    power = np.abs(np.exp(-2j * np.pi * freqs[:, None] * d[None, :]) @ resid) ** 2
    in_band = (freqs >= 1.0 / band[1]) & (freqs <= 1.0 / band[0])
    return float(power[in_band].mean() / power.mean())


class HeadScores:
    """Accumulates the three scores of one head over sequences.

    Example::

        hs = HeadScores()
        for attention, codes in per_sequence:
            hs.add(attention, codes)
        hs.result() -> {"cpg_focus": ..., "palindrome_symmetry": ..., "periodicity_10bp": ...}
    """

    def __init__(self, max_distance: int = MAX_DISTANCE):
        self.max_distance = max_distance
        self.cpg_observed = self.cpg_expected = 0.0
        self.pal_observed = self.pal_expected = 0.0
        self.dist_total = np.zeros(max_distance)
        self.dist_count = np.zeros(max_distance)

    def add(self, attention: np.ndarray, codes: np.ndarray) -> None:
        attention = np.asarray(attention, dtype=float)
        mass = attention.sum()
        if mass <= 0:
            return
        key_share = attention.sum(axis=0) / mass
        cg = cpg_mask(codes)
        self.cpg_observed += key_share[cg].sum()
        self.cpg_expected += cg.mean()
        pairs = inverted_repeat_pairs(codes)
        off_diag = mass - np.trace(attention)
        n = len(codes)
        if off_diag > 0 and n > 1:
            self.pal_observed += attention[pairs].sum() / off_diag
            self.pal_expected += pairs.sum() / (n * (n - 1))
        total, count = distance_profile(attention, self.max_distance)
        self.dist_total += total
        self.dist_count += count

    def result(self) -> dict:
        ratio = lambda o, e: o / e if e > 0 else float("nan")  # noqa: E731
        seen = self.dist_count > 0
        profile = self.dist_total[seen] / self.dist_count[seen]
        return {
            "cpg_focus": ratio(self.cpg_observed, self.cpg_expected),
            "palindrome_symmetry": ratio(self.pal_observed, self.pal_expected),
            "periodicity_10bp": periodicity(profile),
        }
