"""Reverse-complement-aware BPE: the tokens of revcomp(x) are the reverse
complements of the tokens of x, in reverse order, for every x.

How the guarantee is built (symmetric merges and a symmetric application order):

1. Symmetric merges. Every merge belongs to a *class* made of a pair (a, b)
   and its mirror (rc(b), rc(a)), which makes rc(ab); both pairs share one
   rank. The vocabulary is therefore closed under reverse complement, and
   `complement_ids` maps every token to its reverse complement.
2. A symmetric application order. Plain BPE applies merges left to right,
   which is where it breaks the symmetry (``AAA`` -> ``AA A`` but ``TTT`` ->
   ``TT T``, whose mirror is ``A AA``). Here merges are applied in rounds, to
   all pairs at once: each pair of adjacent tokens gets its class rank, and
   every maximal run of equal ranks lower than the ranks on both sides of it
   merges in the same round. Inside a run of m overlapping pairs (``AAAA...``)
   the pairs taken are those at even distance from the nearer end of the run,
   the same set read from either side; a run of exactly two pairs (``AAA``,
   or ``x P rc(x)`` with P palindromic) has no symmetric choice, so it waits
   and its neighbours may merge first (genotx/tokenizers/symmetric.py).

Reverse complement maps each pair to its mirror (same rank, reverse
complemented product) and reverses the order of the pairs; every rule above
looks only at ranks and is unchanged by reversal, so each round, and hence the
whole encoding, commutes with reverse complement. The tests check this on
thousands of random and genomic sequences with N, palindromes and repeats.

The trainer (genotx/tokenizers/rcbpe_train.py) learns the classes from counts
taken on this very tokenization, so compression stays close to plain BPE.
"""

from __future__ import annotations

import numpy as np

from genotx.errors import InputError
from genotx.tokenizers.base import BASE_CODE, BASES, FIRST_BASE_ID, SPECIALS, Tokenizer, base_codes, field, revcomp
from genotx.tokenizers.bpe import _merges_for, parse_merges
from genotx.tokenizers.rcbpe_train import train_classes
from genotx.tokenizers.symmetric import SEPARATOR_CODE, PairTable, encode_in_bands

# Base codes (as `base_codes`) with NUL, which joins the sequences of a batch, as the separator.
_FRAMED_CODE = bytes([SEPARATOR_CODE]) + BASE_CODE.tobytes()[1:]


def class_vocab(classes: list[tuple[str, str]]) -> list[str]:
    """Specials, bases, then each class's product and its reverse complement.

    Example: ``class_vocab([("A", "A")])[-2:] == ["AA", "TT"]``.
    """
    vocab = list(SPECIALS) + list(BASES)
    known = set(vocab)
    for left, right in classes:
        if left not in known or right not in known:
            raise InputError(f"merge {left!r} + {right!r} uses a token that no earlier merge made")
        made = left + right
        new = list(dict.fromkeys([made, revcomp(made)]))
        if any(t in known for t in new):
            raise InputError(f"merge {left!r} + {right!r} makes a token that an earlier merge made")
        vocab.extend(new)
        known.update(new)
    return vocab


class RcBpeTokenizer(Tokenizer):
    """BPE whose tokenization commutes with reverse complement; see the module docstring.

    Example::

        tok = train_tokenizer("rcbpe", ["genome.fa.gz"], vocab_size=4096)
        comp = tok.complement_ids
        assert (tok.encode(revcomp(x)) == comp[tok.encode(x)][::-1]).all()
    """

    kind = "rcbpe"

    def __init__(self, classes: list[tuple[str, str]], bands: list[int], training: dict | None = None):
        super().__init__(class_vocab(classes), training)
        self.classes = list(classes)
        self.bands = [int(b) for b in bands]
        if self.classes and (np.any(np.diff([0] + self.bands) <= 0) or self.bands[-1] != len(self.classes)):
            raise InputError("rcbpe 'bands' must rise strictly and end at the number of merges")
        self._complement = np.array([self.index[revcomp(t)] for t in self.vocab[FIRST_BASE_ID:]])
        self._complement = np.concatenate([np.arange(FIRST_BASE_ID), self._complement]).astype(np.int64)
        self._separator = self.vocab_size  # an id that no merge contains
        self._table = PairTable(radix=self.vocab_size + 1)
        keys, ranks, made = [], [], []
        for rank, (left, right) in enumerate(self.classes):
            for a, b in dict.fromkeys([(left, right), (revcomp(right), revcomp(left))]):
                keys.append(self.index[a] * self._table.radix + self.index[b])
                ranks.append(rank)
                made.append(self.index[a + b])
        self._table.add(keys, ranks, made)

    @classmethod
    def train(cls, paths, *, vocab_size: int = 4096, seed: int = 0, both_strands: bool = True, progress=None):
        _merges_for(vocab_size)
        # Counting a pair together with its mirror is counting both strands, whatever both_strands says.
        classes, bands, metadata = train_classes(list(paths), vocab_size, seed, progress)
        return cls(classes, bands, dict(metadata, vocab_size=vocab_size))

    def encode(self, seq: str) -> np.ndarray:
        return self.encode_batch([seq])[0]

    def encode_batch(self, seqs) -> list[np.ndarray]:
        tokens = self._encode_framed(list(seqs))
        bounds = np.flatnonzero(tokens == self._separator).tolist()
        return [tokens[a + 1 : b] for a, b in zip(bounds[:-1], bounds[1:])]

    def encode_flat(self, seqs) -> tuple[np.ndarray, np.ndarray]:
        tokens = self._encode_framed(list(seqs))
        is_separator = tokens == self._separator
        return tokens[~is_separator], np.diff(np.flatnonzero(is_separator)) - 1

    def _encode_framed(self, seqs: list[str]) -> np.ndarray:
        """Tokens of all sequences, with a separator id before, between and after them."""
        if not seqs:
            return np.full(1, self._separator, dtype=np.int32)
        framed = ("\0" + "\0".join(seqs) + "\0").encode("ascii", "replace").translate(_FRAMED_CODE)
        if b"\xff" in framed or framed.count(SEPARATOR_CODE) != len(seqs) + 1:
            base_codes("".join(seqs))  # raises the InputError that names the character (or NUL)
        codes = np.frombuffer(framed, dtype=np.uint8)
        return encode_in_bands(codes, self._separator, self._table, np.array(self.bands, dtype=np.int64))

    @property
    def complement_ids(self) -> np.ndarray:
        return self._complement.copy()

    def _extra_dict(self) -> dict:
        return {"merges": [list(c) for c in self.classes], "bands": list(self.bands)}

    @classmethod
    def _from_dict(cls, d: dict) -> "RcBpeTokenizer":
        bands = field(d, "bands", list)
        if not all(isinstance(b, int) and not isinstance(b, bool) for b in bands):
            raise InputError("rcbpe 'bands' must be a list of integers")
        return cls(parse_merges(d), bands, d.get("training"))
