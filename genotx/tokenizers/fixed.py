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

MAX_K = 8


def _joined_codes(seqs: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Base codes of all sequences back to back, and each sequence's length."""
    lengths = np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))
    return base_codes("".join(seqs)), lengths


def _split(values: np.ndarray, counts: np.ndarray) -> list[np.ndarray]:
    return np.split(values, np.cumsum(counts)[:-1]) if len(counts) else []


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
        stride = k if stride is None else stride
        if not 1 <= k <= MAX_K:
            raise InputError(f"k must be from 1 to {MAX_K}, got {k}")
        if not 1 <= stride <= k:
            raise InputError(f"stride must be from 1 to k={k} so that every base is covered, got {stride}")
        self.k, self.stride = k, stride
        # k-mer ids follow the single bases; for k == 1 the single bases are the k-mers.
        self.first_kmer_id = FIRST_BASE_ID if k == 1 else FIRST_BASE_ID + len(BASES)
        kmers = [] if k == 1 else ["".join(p) for p in product("ACGT", repeat=k)]
        super().__init__(list(SPECIALS) + list(BASES) + kmers, training)
        self.token_lengths[UNK_ID] = k  # [UNK] stands for one window containing N

    def _encode_joined(self, seqs: list[str]):
        """(ids, start base of each token within its sequence, tokens per sequence)."""
        k, s = self.k, self.stride
        codes, lengths = _joined_codes(seqs)
        n = codes.size
        read_start = np.cumsum(lengths) - lengths
        rel = np.arange(n, dtype=np.int64) - np.repeat(read_start, lengths)
        read_len = np.repeat(lengths, lengths)
        last_end = np.where(lengths >= k, (lengths - k) // s * s + k, 0)
        is_tail = rel >= np.repeat(last_end, lengths)
        is_start = rel + k <= read_len
        if s > 1:
            is_start &= rel % s == 0
        kmer = self._kmer_values(codes)
        has_n = codes == N_CODE
        any_n = bool(has_n.any())
        if any_n:
            n_before = np.concatenate([[0], np.cumsum(has_n, dtype=np.int64)])
            top = np.minimum(np.arange(n) + k, n)
            window_has_n = n_before[top] > n_before[:n]
        single = codes.astype(np.int32) + FIRST_BASE_ID
        if s == k and any_n:
            # Bases of a window with N are written one by one (lossless).
            in_bad = window_has_n[np.arange(n) - rel % k] & ~is_tail
            emit = is_tail | in_bad | is_start
            ids = np.where(is_tail | in_bad, single, kmer)
        else:
            emit = is_start | is_tail
            ids = np.where(is_tail, single, kmer)
            if any_n:
                ids[is_start & window_has_n] = UNK_ID
        emitted_before = np.concatenate([[0], np.cumsum(emit, dtype=np.int64)])
        counts = emitted_before[read_start + lengths] - emitted_before[read_start]
        return ids[emit], rel[emit], counts

    def _kmer_values(self, codes: np.ndarray) -> np.ndarray:
        """Id of the k-mer starting at every position (meaningless where it does not fit)."""
        k = self.k
        n = codes.size
        value = np.zeros(n, dtype=np.int32)
        low = (codes & 3).astype(np.int32)
        for i in range(min(k, n)):
            value[: n - i] <<= 2
            value[: n - i] |= low[i:]
        return value + self.first_kmer_id

    def encode(self, seq: str) -> np.ndarray:
        return self._encode_joined([seq])[0]

    def encode_batch(self, seqs) -> list[np.ndarray]:
        ids, _, counts = self._encode_joined(list(seqs))
        return _split(ids, counts)

    def encode_flat(self, seqs) -> tuple[np.ndarray, np.ndarray]:
        ids, _, counts = self._encode_joined(list(seqs))
        return ids, counts

    def offsets(self, seq: str) -> np.ndarray:
        ids, starts, _ = self._encode_joined([seq])
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
