"""Position frequency matrices: one-hot coding, background, information content.

A PFM here is a float array of shape (width, 4), columns A C G T, each row a
probability distribution over the four bases. Everything is numpy; no torch.
"""

from __future__ import annotations

import numpy as np

from genotx.io.codes import encode  # noqa: F401  (base codes 0..3 for A C G T, 4 for N)

BASES = "ACGT"
_EYE = np.vstack([np.eye(4), np.zeros((1, 4))])


def one_hot(seq: str) -> np.ndarray:
    """(len, 4) float one-hot matrix; N is an all-zero row."""
    return _EYE[encode(seq)]


def background(seqs) -> np.ndarray:
    """Base composition of the input (A C G T frequencies, N ignored).

    Example: ``background(["AACG"]) -> [0.5, 0.25, 0.25, 0.0]`` before the
    tiny floor that keeps every frequency positive (log of zero is undefined).
    """
    counts = np.zeros(5)
    for seq in seqs:
        counts += np.bincount(encode(seq), minlength=5)
    acgt = counts[:4]
    if acgt.sum() == 0:
        return np.full(4, 0.25)
    q = np.maximum(acgt / acgt.sum(), 1e-6)
    return q / q.sum()


def normalise(counts: np.ndarray, pseudocount: float = 0.0) -> np.ndarray:
    """Rows of a count matrix turned into probabilities (uniform where a row is empty)."""
    counts = np.asarray(counts, dtype=float) + pseudocount
    total = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        probs = np.where(total > 0, counts / np.where(total > 0, total, 1), 0.25)
    return probs


def information_content(pfm: np.ndarray, background_freqs=None) -> np.ndarray:
    """IC per column in bits: sum_b p_b log2(p_b / q_b), with 0 log 0 = 0.

    Example: a uniform column is 0 bits, a one-hot column 2 bits under a
    uniform background: ``information_content(np.eye(4)) -> [2, 2, 2, 2]``.
    """
    p = np.asarray(pfm, dtype=float)
    q = np.full(4, 0.25) if background_freqs is None else np.asarray(background_freqs, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log2(np.where(p > 0, p, 1) / q), 0.0)
    return terms.sum(axis=-1)


def revcomp_pfm(pfm: np.ndarray) -> np.ndarray:
    """The PFM of the reverse strand: rows reversed, A<->T and C<->G swapped."""
    return np.asarray(pfm)[::-1, ::-1].copy()


_IUPAC = {
    "A": "A", "C": "C", "G": "G", "T": "T", "AC": "M", "AG": "R", "AT": "W",
    "CG": "S", "CT": "Y", "GT": "K",
}


def consensus(pfm: np.ndarray) -> str:
    """IUPAC consensus: a base above 0.5 (and twice the next) or a two-base code above 0.75, else N.

    Example: ``consensus(np.eye(4)) -> "ACGT"``.
    """
    letters = []
    for col in np.asarray(pfm, dtype=float):
        order = np.argsort(col)[::-1]
        top, second = col[order[0]], col[order[1]]
        if top >= 0.5 and top >= 2 * second:
            letters.append(BASES[order[0]])
        elif top + second >= 0.75:
            letters.append(_IUPAC["".join(sorted(BASES[order[0]] + BASES[order[1]]))])
        else:
            letters.append("N")
    return "".join(letters)


def attention_weighted_pfm(attention: np.ndarray, onehot: np.ndarray) -> np.ndarray:
    """For each query position, the attention-weighted base frequencies over the keys.

    attention (L, L) rows = queries, summing to 1 over keys; onehot (L, 4).
    Returns (L, 4): row i is sum_j attention[i, j] * onehot[j]. Summing these
    over sequences of equal length and normalising gives the aggregated PFM.

    Example: a head that always attends to key 0 of ``"GAT"`` gives three
    rows equal to [0, 0, 1, 0] (G).
    """
    return np.asarray(attention, dtype=float) @ np.asarray(onehot, dtype=float)
