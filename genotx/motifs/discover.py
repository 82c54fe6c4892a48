"""Motif discovery from high-attention regions.

Given, for each sequence, one importance score per base (attention received
by that base from a head, or an attribution score), find the peaks, cut seed
windows around them, align the windows on both strands and keep the columns
that carry information:

1. peaks: each sequence's highest score, plus up to two more at least
   ``min_ratio`` times the sequence's mean score, best ``max_sites`` kept;
2. start: the k-mer (either strand) most enriched in the windows relative to
   the whole input starts the matrix;
3. align: hard expectation-maximisation, each window contributing its best
   site (either strand, any offset) when that site scores above a fraction of
   the matrix's best possible score (zero or one site per window);
4. grow/trim: the aligned sites are widened by ``grow`` bases on each side and
   cut to the contiguous run of columns whose information content exceeds
   ``min_column_ic`` (largest sum of IC above that floor).

Steps 2-4 are `align`, which takes the windows as (sequence index, centre);
the random-window null (`genotx.motifs.null`) aligns again with it in half of
a motif's windows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product

import numpy as np

from genotx.io.codes import COMPLEMENT_CODE
from genotx.motifs.pfm import consensus, encode, information_content, normalise



@dataclass
class Motif:
    """An aligned set of sites: counts (width, 4) and where they are.

    ``sites`` holds (sequence index, start, strand) with start on the forward
    strand; ``windows`` the (sequence index, centre) of the windows of
    centre +- ``flank`` it was aligned in; ``source`` says which layer/head (or
    attribution) produced it.
    """

    counts: np.ndarray
    background: np.ndarray
    sites: list = field(default_factory=list)
    source: tuple = ("NA", "NA")
    windows: list = field(default_factory=list)
    flank: int = 15

    @property
    def pfm(self) -> np.ndarray:
        # one pseudocount per base keeps motifs of a few sites from claiming full information
        return normalise(self.counts, pseudocount=1.0)

    @property
    def width(self) -> int:
        return int(self.counts.shape[0])

    @property
    def ic(self) -> np.ndarray:
        return information_content(self.pfm, self.background)

    @property
    def ic_total(self) -> float:
        return float(self.ic.sum())

    @property
    def n_sites(self) -> int:
        return len(self.sites)

    @property
    def consensus(self) -> str:
        return consensus(self.pfm)


def find_peaks(scores: list, *, min_ratio: float = 1.5, max_sites: int = 500, min_gap: int = 10) -> list:
    """Attention peaks as (sequence index, position, ratio to the sequence's mean), best first.

    Example: ``find_peaks([np.array([1, 1, 9, 1, 1.])])`` -> ``[(0, 2, 3.46...)]``; a flat
    sequence gives none.
    """
    peaks = []
    for i, s in enumerate(scores):
        s = np.asarray(s, dtype=float)
        if s.size == 0 or s.mean() <= 0:
            continue
        ratio = s / s.mean()
        order = np.argsort(-ratio, kind="stable")
        taken: list[int] = []
        for pos in order:
            # each sequence seeds with its strongest peak; further peaks must stand out
            if ratio[pos] <= 1.0 or (taken and ratio[pos] < min_ratio):
                break
            if all(abs(pos - t) >= min_gap for t in taken):
                taken.append(int(pos))
                peaks.append((i, int(pos), float(ratio[pos])))
            if len(taken) >= 3:  # a few peaks per sequence are plenty for seeding
                break
    peaks.sort(key=lambda p: -p[2])
    return peaks[:max_sites]


def _windows(codes: list, centres: list, flank: int) -> np.ndarray:
    """(n, 2 * flank + 1) base codes around each (sequence index, centre), N (4) beyond the ends."""
    span = 2 * flank + 1
    out = np.full((len(centres), span), 4, dtype=np.int8)
    for row, (i, pos) in enumerate(centres):
        seq = codes[i]
        lo, hi = max(0, pos - flank), min(len(seq), pos + flank + 1)
        out[row, lo - (pos - flank): hi - (pos - flank)] = seq[lo:hi]
    return out


def _kmer_index(codes: np.ndarray, k: int) -> np.ndarray:
    """Index of every k-mer (base-4 number) along the last axis; -1 where it contains N."""
    n = codes.shape[-1] - k + 1
    if n <= 0:
        return np.zeros(codes.shape[:-1] + (0,), dtype=np.int64)
    idx = np.zeros(codes.shape[:-1] + (n,), dtype=np.int64)
    bad = np.zeros(idx.shape, dtype=bool)
    for j in range(k):
        part = codes[..., j: j + n].astype(np.int64)
        bad |= part == 4
        idx = idx * 4 + np.minimum(part, 3)
    return np.where(bad, -1, idx)


def _canonical(k: int) -> np.ndarray:
    """Map of each k-mer index to the smaller of itself and its reverse complement."""
    kmers = np.array(list(product(range(4), repeat=k)), dtype=np.int64)
    fwd = (kmers * 4 ** np.arange(k - 1, -1, -1)).sum(1)
    rc = ((3 - kmers[:, ::-1]) * 4 ** np.arange(k - 1, -1, -1)).sum(1)
    return np.minimum(fwd, rc)


def _kmer_counts(codes, k: int) -> np.ndarray:
    canon = _canonical(k)
    counts = np.zeros(4**k)
    for c in codes:
        idx = _kmer_index(np.asarray(c), k).ravel()
        idx = idx[idx >= 0]
        counts += np.bincount(canon[idx], minlength=4**k)
    return counts


def _start_matrix(windows: np.ndarray, codes: list, k: int, width: int, bg: np.ndarray) -> np.ndarray:
    """Counts (width, 4) around the k-mer most enriched in the windows over the whole input."""
    in_windows = _kmer_counts(windows, k)
    everywhere = _kmer_counts(codes, k)
    expected = in_windows.sum() * everywhere / max(everywhere.sum(), 1)
    enrichment = in_windows * np.log2((in_windows + 1) / (expected + 1))
    best = int(np.argmax(enrichment))
    digits = [(best // 4 ** (k - 1 - j)) % 4 for j in range(k)]
    counts = np.tile(bg, (width, 1)) * 0.5
    left = (width - k) // 2
    for j, d in enumerate(digits):
        counts[left + j, d] += 10.0
    return counts


def _log_odds(counts: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """(width, 5) log2 odds against the background; N scores 0."""
    pfm = normalise(counts, pseudocount=0.25)
    return np.hstack([np.log2(pfm / bg), np.zeros((len(pfm), 1))])


def _scan(windows: np.ndarray, log_odds: np.ndarray) -> np.ndarray:
    """Scores (n, 2, n_pos) of every start on the forward (0) and reverse (1) strand."""
    width = len(log_odds)
    n_pos = windows.shape[1] - width + 1
    rc = log_odds[::-1][:, [3, 2, 1, 0, 4]]
    out = np.zeros((windows.shape[0], 2, n_pos))
    for j in range(width):
        part = windows[:, j: j + n_pos]
        out[:, 0] += log_odds[j][part]
        out[:, 1] += rc[j][part]
    return out


def _site_codes(codes: np.ndarray, start: int, width: int, strand: str) -> np.ndarray:
    """Bases of a site (N beyond the sequence), read on its strand."""
    out = np.full(width, 4, dtype=np.int8)
    lo, hi = max(0, start), min(len(codes), start + width)
    if hi > lo:
        out[lo - start: hi - start] = codes[lo:hi]
    return out if strand == "+" else COMPLEMENT_CODE[out[::-1]]


def _count(rows) -> np.ndarray:
    counts = np.zeros((len(rows[0]) if rows else 0, 5))
    for r in rows:
        counts[np.arange(len(r)), r] += 1
    return counts[:, :4]


def _align(windows: np.ndarray, counts: np.ndarray, bg: np.ndarray, min_score: float, rounds: int):
    """Hard EM; returns (counts, [(window row, offset, strand)])."""
    width = len(counts)
    chosen: list = []
    for _ in range(rounds):
        lo = _log_odds(counts, bg)
        scores = _scan(windows, lo)
        best_max = np.log2(normalise(counts, 0.25) / bg).max(axis=1).sum()
        flat = scores.reshape(len(windows), -1)
        arg = flat.argmax(axis=1)
        keep = flat[np.arange(len(windows)), arg] >= min_score * best_max
        new = [(int(r), int(arg[r] % scores.shape[2]), "+-"[arg[r] // scores.shape[2]]) for r in np.flatnonzero(keep)]
        if not new:
            break
        rows = [_site_codes(windows[r], off, width, strand) for r, off, strand in new]
        counts = _count(rows)
        if new == chosen:
            break
        chosen = new
    return counts, chosen


def _best_segment(ic: np.ndarray, floor: float, min_width: int, max_width: int) -> tuple:
    """[start, end) of the run of columns maximising sum(ic - floor), width within bounds."""
    gain = ic - floor
    best, span = -np.inf, (0, min(len(ic), min_width))
    for a in range(len(ic)):
        total = 0.0
        for b in range(a, min(len(ic), a + max_width)):
            total += gain[b]
            if b - a + 1 >= min_width and total > best:
                best, span = total, (a, b + 1)
    return span


def discover(seqs: list, scores: list, *, background_freqs=None, min_ratio: float = 1.5, max_sites: int = 500,
             seed_width: int = 12, **alignment):
    """One motif from the high-score regions of `seqs`, or None when there are no peaks.

    seqs: normalised sequences; scores: one float array per sequence, one value
    per base; ``alignment``: the settings of `align`. Example:
    ``discover(seqs, [attention_received(a) for a in heads])``.
    """
    from genotx.motifs.pfm import background

    bg = background(seqs) if background_freqs is None else np.asarray(background_freqs, dtype=float)
    peaks = find_peaks(scores, min_ratio=min_ratio, max_sites=max_sites, min_gap=seed_width)
    return align([encode(s) for s in seqs], [(i, pos) for i, pos, _ in peaks], bg, seed_width=seed_width,
                 **alignment)


def align(
    codes: list,
    windows: list,
    bg: np.ndarray,
    *,
    flank: int = 15,
    seed_width: int = 12,
    k: int = 6,
    grow: int = 6,
    min_score: float = 0.4,
    min_column_ic: float = 0.25,
    min_width: int = 5,
    max_width: int = 24,
    rounds: int = 10,
):
    """The motif aligned in the windows centre +- flank, given as (sequence index, centre); None without sites.

    codes: base codes of every input sequence (the start k-mer is judged against all of them).
    Example: ``align([encode(s) for s in seqs], [(0, 40), (3, 12)], background(seqs))``.
    """
    if len(windows) < 2:
        return None
    cut = _windows(codes, windows, flank)
    counts = _start_matrix(cut, codes, min(k, seed_width), seed_width, bg)
    counts, chosen = _align(cut, counts, bg, min_score, rounds)
    if not chosen:
        return None
    sites = []
    for r, off, strand in chosen:
        i, pos = windows[r]
        start = pos - flank + off
        sites.append((i, start - grow, strand))  # both strands widen around the forward span
    wide = seed_width + 2 * grow
    wide_counts = _count([_site_codes(codes[i], s, wide, strand) for i, s, strand in sites])
    ic = information_content(normalise(wide_counts, 0.25), bg)
    a, b = _best_segment(ic, min_column_ic, min_width, max_width)
    final_sites = []
    for i, s, strand in sites:
        # a forward site keeps its left edge at column a; a reverse site is read right to left
        start = s + a if strand == "+" else s + wide - b
        final_sites.append((i, start, strand))
    return Motif(counts=wide_counts[a:b], background=bg, sites=final_sites, windows=list(windows), flank=flank)
