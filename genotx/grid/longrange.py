"""A synthetic genome whose next-base loss needs context: random bases with copies of earlier stretches.

The sequence is cut into blocks of ``block`` bases (drawn per block). A block
is, with probability ``copy_fraction``, an exact copy of the bases ``d``
positions earlier, ``d`` log-uniform in ``[min_distance, max_distance]``;
otherwise it is fresh i.i.d. uniform bases. Every base records the distance it
was copied from (0: not copied), so a scorer can ask whether a model uses
context at ``<= L`` bases and at ``(L, 4L]`` bases separately. Without context
every base costs log 4 nats; a model that copies perfectly pays nothing for
copied bases (``oracle_loss``).

Example::

    corpus = long_range_genome(2_000_000, seq_len=128, seed=1)
    corpus.codes[:8], corpus.distance[:8]    # uint8 base codes, int32 copy distances
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

LOG4 = math.log(4.0)


class LongRangeGenome(NamedTuple):
    """Base codes (A=0 C=1 G=2 T=3) and, per base, the distance it was copied from (0: fresh)."""

    codes: np.ndarray
    distance: np.ndarray


def long_range_genome(length: int, *, seq_len: int, seed: int, block: tuple[int, int] = (16, 32),
                      copy_fraction: float = 0.5, min_distance: int | None = None,
                      max_distance: int | None = None) -> LongRangeGenome:
    """``length`` bases with copies from ``[seq_len/4, 4*seq_len]`` back by default (module docstring)."""
    lo = min_distance if min_distance is not None else max(1, seq_len // 4)
    hi = max_distance if max_distance is not None else 4 * seq_len
    if not block[0] <= block[1] <= lo <= hi:
        # A source at least one block back never overlaps its copy, so every copied base equals its source.
        raise ValueError(f"need block sizes {block} <= min_distance {lo} <= max_distance {hi}")
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, size=length, dtype=np.uint8)
    distance = np.zeros(length, dtype=np.int32)
    pos = 0
    while pos < length:
        size = min(int(rng.integers(block[0], block[1] + 1)), length - pos)
        copy = rng.random() < copy_fraction
        d = int(round(math.exp(rng.uniform(math.log(lo), math.log(hi)))))
        if copy and d <= pos:
            codes[pos : pos + size] = codes[pos - d : pos - d + size]
            distance[pos : pos + size] = d
        pos += size
    return LongRangeGenome(codes, distance)


def distance_class(distance: np.ndarray, seq_len: int) -> np.ndarray:
    """Per base: 'fresh', 'near' (copied from <= L back) or 'far' (copied from more than L back)."""
    return np.where(distance == 0, "fresh", np.where(distance <= seq_len, "near", "far"))


def oracle_loss(distance: np.ndarray) -> float:
    """Nats per base of a predictor that knows every copy: 0 on copied bases, log 4 on fresh ones."""
    return float((distance == 0).mean() * LOG4)


def write_fasta(path: str, codes: np.ndarray, name: str, width: int = 80) -> None:
    """One FASTA record of the codes, written atomically."""
    from genotx.io.atomic import atomic_write
    from genotx.io.codes import decode

    text = decode(codes)
    with atomic_write(path) as fh:
        fh.write(f">{name}\n")
        for start in range(0, len(text), width):
            fh.write(text[start : start + width] + "\n")


def _latest_match(row: np.ndarray, k: int) -> np.ndarray:
    """Per position j: the base that followed the latest earlier occurrence of the k bases before j (-1: none)."""
    guess = np.full(len(row), -1, dtype=np.int64)
    seen: dict[bytes, int] = {}
    raw = row.tobytes()
    for j in range(k, len(row)):
        key = raw[j - k : j]
        i = seen.get(key)
        if i is not None:
            guess[j] = row[i]
        seen[key] = j
    return guess


def copy_baseline_fit(windows: np.ndarray, k: int) -> tuple[float, np.ndarray]:
    """(share of matched positions whose guess is right, base frequencies): the two parameters of the baseline."""
    right = matched = 0
    for row in windows:
        guess = _latest_match(row, k)
        hit = guess >= 0
        matched += int(hit.sum())
        right += int((guess[hit] == row[hit]).sum())
    counts = np.bincount(windows.ravel(), minlength=5)[:4] + 1.0
    return right / max(matched, 1), counts / counts.sum()


def copy_baseline_nats(windows: np.ndarray, *, k: int, hit_rate: float, background: np.ndarray) -> np.ndarray:
    """(n, window) nats of the copy baseline: after a k-mer seen earlier in the window, the base that followed it
    with probability ``hit_rate`` (the rest spread evenly); elsewhere the background base frequencies.
    The strongest simple predictor that uses context: what a model learns when it learns to copy."""
    q = min(max(hit_rate, 1e-6), 1 - 1e-6)
    nats = np.empty(windows.shape, dtype=np.float64)
    safe = np.minimum(windows, 3)  # N (rare in the held-out genomes) scored as if it were T
    for n, row in enumerate(windows):
        guess = _latest_match(row, k)
        base = safe[n]
        nats[n] = -np.log(background[base])
        hit = guess >= 0
        nats[n, hit] = np.where(guess[hit] == base[hit], -math.log(q), -math.log((1 - q) / 3))
    return nats
