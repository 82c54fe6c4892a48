"""Fixed vocabularies: one token per base (`char`) and k-mers (`kmer`).

Both encoders are vectorised over a whole batch: the sequences are joined,
mapped to base codes through a byte table, and every k-mer id is built from
k shifted slices of the code array, so no Python code runs per base.

k-mer rules (k from 1 to 8, stride from 1 to k):

* Windows start at 0, stride, 2*stride, ... while they fit in the sequence.
* Bases after the last window (a tail shorter than stride, or the whole
  sequence when it is shorter than k) become single-base tokens, so every
  base is covered by some token.
* A window containing N: with stride == k (non-overlapping, as in the
  Nucleotide Transformer) it is written as k single-base tokens, which keeps
  the tokenization lossless; with stride < k (overlapping, as in DNABERT) it
  becomes [UNK], and `decode` writes N for the bases it adds.
"""

from __future__ import annotations

from itertools import product

import numpy as np

from genotx.errors import InputError
from genotx.tokenizers.layout import MAX_K, kmer_layout  # noqa: F401
from genotx.tokenizers.base import (
    BASES,
    FIRST_BASE_ID,
    N_CODE,
    SPECIALS,
    UNK_ID,
    Tokenizer,
    base_codes,
    field,
)



def _joined_codes(seqs: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Base codes of all sequences back to back, and each sequence's length."""
    lengths = np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))
    return base_codes("".join(seqs)), lengths


def _split(values: np.ndarray, counts: np.ndarray) -> list[np.ndarray]:
    return np.split(values, np.cumsum(counts)[:-1]) if len(counts) else []


def _laid_out(counts: np.ndarray, firsts: np.ndarray, step: int) -> np.ndarray:
    """``firsts[i] + j * step`` for j < counts[i], for every i in turn.

    Example: ``_laid_out(np.array([2, 1]), np.array([0, 10]), 3) -> [0, 3, 10]``.
    """
    total = int(counts.sum())
    out = np.arange(0, total * step, step, dtype=np.int64)
    out += np.repeat(firsts - (np.cumsum(counts) - counts) * step, counts)
    return out


def _interleave_order(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Order that takes ``first[i]`` items of one array, then ``second[i]`` of another
    appended to it, for every i in turn (each sequence's windows, then its tail)."""
    counts = first + second
    starts = np.cumsum(counts) - counts
    target = np.concatenate([_laid_out(first, starts, 1), _laid_out(second, starts + first, 1)])
    order = np.empty(target.size, dtype=np.int64)
    order[target] = np.arange(target.size)
    return order


def _kmer_values(codes: np.ndarray, k: int) -> np.ndarray:
    """2-bit value of the k bases from every position where k bases remain (first base
    highest; N counts as A). Built by doubling, spans of 2 from spans of 1, of 4 from 2,
    so it takes about log2(k) passes; 16 bits hold any k <= 8.

    Example: ``_kmer_values(base_codes("ACGT"), 2) -> [1, 6, 11]`` (AC, CG, GT).
    """
    spans = {1: (codes & 3).astype(np.uint16)}
    span = 1
    while 2 * span <= k:
        shorter = spans[span]
        longer = shorter[:-span] << (2 * span) if shorter.size > span else shorter[:0].copy()
        longer |= shorter[span:] if shorter.size > span else shorter[:0]
        span *= 2
        spans[span] = longer
    n = max(codes.size - k + 1, 0)
    value, offset = None, 0
    for span in sorted(spans, reverse=True):
        if k & span:
            part = spans[span][offset : offset + n]
            value = part.copy() if value is None else (value << (2 * span)) | part
            offset += span
    return value


class CharTokenizer(Tokenizer):
    """One token per base: A C G T N are ids 5-9.

    Example: ``build_tokenizer("char").encode("ACGTN") -> [5, 6, 7, 8, 9]``.
    """

    kind = "char"

    def __init__(self, training: dict | None = None):
        super().__init__(list(SPECIALS) + list(BASES), training)

    def encode(self, seq: str) -> np.ndarray:
        return base_codes(seq).astype(np.int32) + FIRST_BASE_ID

    def encode_batch(self, seqs) -> list[np.ndarray]:
        seqs = list(seqs)
        codes, lengths = _joined_codes(seqs)
        return _split(codes.astype(np.int32) + FIRST_BASE_ID, lengths)

    def encode_flat(self, seqs) -> tuple[np.ndarray, np.ndarray]:
        codes, lengths = _joined_codes(list(seqs))
        return codes.astype(np.int32) + FIRST_BASE_ID, lengths

    def decode(self, ids) -> str:
        ids = np.asarray(ids, dtype=np.int64)
        ids = ids[ids >= FIRST_BASE_ID]
        return np.frombuffer(BASES.encode(), dtype=np.uint8)[ids - FIRST_BASE_ID].tobytes().decode("ascii")

    @property
    def complement_ids(self) -> np.ndarray:
        return np.array([0, 1, 2, 3, 4, 8, 7, 6, 5, 9], dtype=np.int64)

    @classmethod
    def _from_dict(cls, d: dict) -> "CharTokenizer":
        return cls(d.get("training"))


class KmerTokenizer(Tokenizer):
    """k-mers every `stride` bases; see the module docstring for tails and N.

    Example: ``build_tokenizer("kmer", k=3, stride=3).tokens(tok.encode("ACGTA"))
    -> ["ACG", "T", "A"]``.
    """

    kind = "kmer"

    def __init__(self, k: int = 6, stride: int | None = None, training: dict | None = None):
        _, self.k, self.stride, self.first_kmer_id = kmer_layout("kmer", k, stride)
        kmers = [] if k == 1 else ["".join(p) for p in product("ACGT", repeat=k)]
        super().__init__(list(SPECIALS) + list(BASES) + kmers, training)
        self.token_lengths[UNK_ID] = k  # [UNK] stands for one window containing N

    def _encode_joined(self, seqs: list[str], with_starts: bool = False):
        """(ids, start base of each token within its sequence or None, tokens per sequence).

        Works on tokens rather than bases: the windows of all sequences, then their
        tails, each laid out with one `repeat`, then put in sequence order.
        """
        k, s = self.k, self.stride
        codes, lengths = _joined_codes(seqs)
        offsets = np.cumsum(lengths) - lengths
        windows = np.where(lengths >= k, (lengths - k) // s + 1, 0)
        last_end = np.where(windows > 0, (windows - 1) * s + k, 0)
        tails = lengths - last_end
        at = _laid_out(windows, offsets, s)  # first base of every window
        ids = _kmer_values(codes, k)[at].astype(np.int32)
        ids += self.first_kmer_id
        if codes.size and codes.max() == N_CODE:
            at, ids, windows = self._windows_with_n(codes, at, ids, windows)
        tail_at = _laid_out(tails, offsets + last_end, 1)
        counts = windows + tails
        if tail_at.size:
            order = _interleave_order(windows, tails)
            ids = np.concatenate([ids, codes[tail_at].astype(np.int32) + FIRST_BASE_ID])[order]
            at = np.concatenate([at, tail_at])[order]
        starts = at - np.repeat(offsets, counts) if with_starts else None
        return ids, starts, counts

    def _windows_with_n(self, codes, at, ids, windows):
        """The N rule: [UNK] for an overlapping window, k single bases for the others."""
        k = self.k
        n_before = np.concatenate([[0], np.cumsum(codes == N_CODE, dtype=np.int64)])
        has_n = n_before[at + k] > n_before[at]
        if self.stride < k:
            ids[has_n] = UNK_ID
            return at, ids, windows
        size = np.where(has_n, k, 1)
        at = _laid_out(size, at, 1)
        ids = np.where(np.repeat(has_n, size), codes[at].astype(np.int32) + FIRST_BASE_ID, np.repeat(ids, size))
        window_seq = np.repeat(np.arange(windows.size), windows)
        windows = windows + (k - 1) * np.bincount(window_seq[has_n], minlength=windows.size)
        return at, ids, windows

    def encode(self, seq: str) -> np.ndarray:
        return self._encode_joined([seq])[0]

    def encode_batch(self, seqs) -> list[np.ndarray]:
        ids, _, counts = self._encode_joined(list(seqs))
        return _split(ids, counts)

    def encode_flat(self, seqs) -> tuple[np.ndarray, np.ndarray]:
        ids, _, counts = self._encode_joined(list(seqs))
        return ids, counts

    def offsets(self, seq: str) -> np.ndarray:
        ids, starts, _ = self._encode_joined([seq], with_starts=True)
        return np.stack([starts, starts + self.token_lengths[ids]], axis=1)

    def decode(self, ids) -> str:
        if self.stride == self.k:
            return super().decode(ids)
        # Overlapping windows: the first k-mer gives k bases, each later one `stride` new bases.
        parts, seen_window = [], False
        for i in np.asarray(ids, dtype=np.int64).tolist():
            if i == UNK_ID or i >= self.first_kmer_id and self.k > 1:
                text = "N" * self.k if i == UNK_ID else self.vocab[i]
                parts.append(text[self.k - self.stride :] if seen_window else text)
                seen_window = True
            elif i >= FIRST_BASE_ID:
                parts.append(self.vocab[i])
        return "".join(parts)

    @property
    def complement_ids(self) -> np.ndarray | None:
        if self.stride != self.k:
            return None
        ids = np.arange(self.vocab_size, dtype=np.int64)
        ids[FIRST_BASE_ID : FIRST_BASE_ID + 5] = [8, 7, 6, 5, 9]
        if self.k > 1:
            values = np.arange(4**self.k)
            rc = np.zeros_like(values)
            for i in range(self.k):  # digit i from the right becomes digit i from the left, complemented
                rc = rc * 4 + (3 - ((values >> (2 * i)) & 3))
            ids[self.first_kmer_id :] = rc + self.first_kmer_id
        return ids

    def _extra_dict(self) -> dict:
        return {"k": self.k, "stride": self.stride}

    @classmethod
    def _from_dict(cls, d: dict) -> "KmerTokenizer":
        return cls(field(d, "k", int), field(d, "stride", int), d.get("training"))
