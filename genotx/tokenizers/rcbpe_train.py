"""Training of rcbpe: BPE merge classes learnt under the symmetric merge rounds.

Why not the `tokenizers` trainer: it applies merges left to right, so even on
both strands it learns tokens in the phase of left-to-right reading (``AA A``
in ``AAA``) and only ~5 % of its vocabulary has its reverse complement in it;
closing that vocabulary under reverse complement halves the number of useful
merges. Here the counts are taken from the very tokenization the encoder makes.

The loop: count pairs of adjacent tokens per merge class, pooled with the
mirror pair (which is what the other strand would count, so one strand is
enough); take the best few classes by tokens saved per new vocabulary entry;
add them with the next ranks; continue the merge rounds of `symmetric.py` from
the current tokenization; update the counts from the pairs the rounds removed
and added. New classes rank after all earlier ones, so continuing from the
current tokenization equals encoding from scratch with the larger table. Each
step adds ``BATCH_FRACTION`` of the vocabulary so far (at least ``MIN_BATCH`` classes),
which keeps the number of passes over the genome near a hundred.
"""

from __future__ import annotations

import numpy as np

from genotx.errors import InputError
from genotx.io import iter_batches
from genotx.tokenizers.base import BASES, FIRST_BASE_ID, N_CODE, SPECIALS, base_codes, revcomp
from genotx.tokenizers.symmetric import PairTable, TokenChain

BATCH_FRACTION = 0.02
MIN_BATCH = 1
MIN_COUNT = 2


def read_training_tokens(paths: list[str], separator: int, progress=None) -> tuple[np.ndarray, int]:
    """Single-base ids of all input sequences, N and sequence ends as separators."""
    parts, bases = [np.array([separator], dtype=np.int32)], 0
    for batch in iter_batches(paths, quals=False):
        lengths = np.fromiter(map(len, batch.seqs), dtype=np.int64, count=len(batch.seqs))
        codes = base_codes("".join(batch.seqs)).astype(np.int32)
        ids = np.where(codes == N_CODE, separator, codes + FIRST_BASE_ID)
        ends = np.cumsum(lengths)
        parts.append(np.insert(ids, ends, separator).astype(np.int32))
        bases += int(lengths.sum())
        if progress is not None:
            progress.update(status=f"read {bases / 1e6:.1f} Mbp")
    if not bases:
        raise InputError(f"no sequence to train on in {', '.join(paths)}")
    return np.concatenate(parts), bases


class _ClassCounts:
    """Occurrences of each merge class (a pair pooled with its mirror) in sorted arrays."""

    def __init__(self, radix: int, separator: int, complement: np.ndarray):
        self.radix, self.separator, self.complement = radix, separator, complement
        self.keys = np.zeros(0, dtype=np.int64)
        self.counts = np.zeros(0, dtype=np.int64)

    def class_keys(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        ok = (left != self.separator) & (right != self.separator)
        left, right = left[ok].astype(np.int64), right[ok].astype(np.int64)
        mirror = self.complement[right] * self.radix + self.complement[left]
        return np.minimum(left * self.radix + right, mirror)

    def add(self, keys: np.ndarray, sign: int | np.ndarray) -> None:
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        signs = np.broadcast_to(np.asarray(sign, dtype=np.int64), order.shape)[order]
        if not keys.size:
            return
        first = np.concatenate([[True], keys[1:] != keys[:-1]])
        keys, sums = keys[first], np.add.reduceat(signs, np.flatnonzero(first))
        at = np.searchsorted(self.keys, keys)
        found = at < self.keys.size
        found[found] = self.keys[at[found]] == keys[found]
        np.add.at(self.counts, at[found], sums[found])
        merged_keys = np.concatenate([self.keys, keys[~found]])
        order = np.argsort(merged_keys, kind="stable")  # two sorted runs: a linear merge
        self.keys = merged_keys[order]
        self.counts = np.concatenate([self.counts, sums[~found]])[order]

    def best(self, limit: int, tie_break: np.ndarray) -> np.ndarray:
        """Class keys by tokens saved per new vocabulary entry, best first."""
        live = self.counts >= MIN_COUNT
        keys, counts = self.keys[live], self.counts[live]
        left, right = keys // self.radix, keys % self.radix
        palindromic = self.complement[right] * self.radix + self.complement[left] == keys
        score = counts / np.where(palindromic, 1, 2)
        top = np.argpartition(-score, limit)[:limit] if score.size > limit else np.arange(score.size)
        order = np.lexsort((tie_break[keys[top] % tie_break.size], -score[top]))
        return keys[top[order]]


def train_classes(paths: list[str], vocab_size: int, seed: int = 0, progress=None) -> tuple[list, list, dict]:
    """Merge classes ``[(left, right), ...]`` in rank order, the end of each band, and metadata."""
    separator = vocab_size  # above every token id
    radix = vocab_size + 1
    vocab = list(SPECIALS) + list(BASES)
    index = {t: i for i, t in enumerate(vocab)}
    complement = np.arange(radix, dtype=np.int64)
    complement[FIRST_BASE_ID : FIRST_BASE_ID + 5] = [8, 7, 6, 5, 9]
    tokens, bases = read_training_tokens(paths, separator, progress)
    counts = _ClassCounts(radix, separator, complement)
    counts.add(counts.class_keys(tokens[:-1], tokens[1:]), 1)
    table = PairTable(radix)
    chain = TokenChain(tokens, table)
    band_ends: list[int] = []
    tie_break = np.random.default_rng(seed).permutation(1 << 16)
    classes: list[tuple[str, str]] = []
    refused: set[int] = set()
    while len(vocab) < vocab_size:
        room = vocab_size - len(vocab)
        wanted = max(MIN_BATCH, int(BATCH_FRACTION * len(vocab)))
        keys, ranks, made, taken = [], [], [], 0
        for key in counts.best(4 * wanted + 64, tie_break).tolist():
            if taken >= wanted or room <= 0:
                break
            if key in refused:
                continue
            a, b = divmod(key, radix)
            product = vocab[a] + vocab[b]
            new = list(dict.fromkeys([product, revcomp(product)]))
            if any(t in index for t in new) or len(new) > room:
                refused.add(key)  # made already by another pair, or no room left for it
                continue
            for t in new:
                index[t] = len(vocab)
                vocab.append(t)
            complement[index[new[0]]], complement[index[new[-1]]] = index[new[-1]], index[new[0]]
            mirror = (int(complement[b]), int(complement[a]))
            for pair in dict.fromkeys([(a, b), mirror]):
                keys.append(pair[0] * radix + pair[1])
                ranks.append(len(classes))
                made.append(index[vocab[pair[0]] + vocab[pair[1]]])
            classes.append((vocab[a], vocab[b]))
            room -= len(new)
            taken += 1
        if not taken:
            break  # no pair occurs often enough to merge
        table.add(keys, ranks, made)
        low, high = band_ends[-1] if band_ends else 0, len(classes)
        band_ends.append(high)
        if chain.alive.mean() < 0.5:
            chain = TokenChain(chain.tokens(), table)  # drop merged-away nodes
        else:
            chain.refresh()
        changes: list = []
        band = np.flatnonzero((chain.rank >= low) & (chain.rank < high))
        chain.merge_band(band, low, high, changes)
        for left, right, sign in changes:
            counts.add(counts.class_keys(left, right), sign)
        if progress is not None:
            progress.update(completed=len(vocab), status=f"{len(classes)} merge classes")
    n_tokens = int(np.count_nonzero(chain.tokens() != separator))
    metadata = {"inputs": list(paths), "bases": bases, "seed": seed, "both_strands": True,
                "bases_per_token": round(bases / max(1, n_tokens), 4)}
    return classes, band_ends, metadata
