"""Byte-pair encoding learnt from genomes, trained and applied by the `tokenizers` library.

Training text is the input sequences cut at runs of N and into words of
`WORD_BASES` bases (the library's trainer rescans a whole word for every merge
it applies, so shorter words train faster; 512 bases lose under 0.5 % of the
pairs at word ends). Words start at a phase drawn from `seed`, and the reverse
complement of every word is added when training on both strands. N never takes
part in a merge, so it is always a token of its own.

Token ids: specials 0-4, bases A C G T N 5-9, then the merged tokens in the
order they were learnt. `merges` in the file are the learnt pairs in rank order.
"""

from __future__ import annotations

import json
import re
from itertools import chain
from typing import Iterator

import numpy as np

from genotx.errors import InputError
from genotx.io import iter_batches
from genotx.tokenizers.base import BASES, SPECIALS, Tokenizer, clean_sequence, field, revcomp

WORD_BASES = 512
_N_RUNS = re.compile("N+")


def training_words(paths: list[str], seed: int, both_strands: bool, seen: dict, progress=None) -> Iterator[str]:
    """Words of the training text; counts input bases in ``seen["bases"]`` as it goes."""
    rng = np.random.default_rng(seed)
    seen.setdefault("bases", 0)
    for batch in iter_batches(paths, quals=False):
        for seq in batch.seqs:
            seen["bases"] += len(seq)
            for piece in _N_RUNS.split(seq):
                phase = int(rng.integers(WORD_BASES)) if len(piece) > WORD_BASES else 0
                starts = [0] + list(range(phase or WORD_BASES, len(piece), WORD_BASES))
                for start, end in zip(starts, starts[1:] + [len(piece)]):
                    word = piece[start:end]
                    if len(word) > 1:
                        yield word
                        if both_strands:
                            yield revcomp(word)
        if progress is not None:
            progress.update(status=f"read {seen['bases'] / 1e6:.1f} Mbp")


def learn_merges(
    paths: list[str], n_merges: int, seed: int, both_strands: bool, progress=None
) -> tuple[list[tuple[str, str]], dict]:
    """Merged pairs in rank order, learnt by the library's trainer, and training metadata."""
    from tokenizers import Tokenizer as LibraryTokenizer
    from tokenizers import __version__ as library_version
    from tokenizers import models, trainers

    seen: dict = {}
    library = LibraryTokenizer(models.BPE())
    trainer = trainers.BpeTrainer(vocab_size=4 + n_merges, show_progress=False, initial_alphabet=list("ACGT"))
    library.train_from_iterator(training_words(paths, seed, both_strands, seen, progress), trainer)
    if progress is not None:
        progress.update(completed=4 + n_merges, status="merges learnt")
    if not seen.get("bases"):
        raise InputError(f"no sequence to train on in {', '.join(paths)}")
    merges = json.loads(library.to_str())["model"]["merges"]
    pairs = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in merges]
    metadata = {
        "inputs": list(paths),
        "bases": seen["bases"],
        "seed": seed,
        "both_strands": both_strands,
        "word_bases": WORD_BASES,
        "library": f"tokenizers {library_version}",
    }
    return pairs, metadata


def merged_vocab(merges: list[tuple[str, str]]) -> list[str]:
    """Specials, bases, then each merge's new token in order (a token made twice counts once)."""
    vocab = list(SPECIALS) + list(BASES)
    known = set(vocab)
    for left, right in merges:
        if left not in known or right not in known:
            raise InputError(f"merge {left!r} + {right!r} uses a token that no earlier merge made")
        if left + right not in known:
            known.add(left + right)
            vocab.append(left + right)
    return vocab


def parse_merges(d: dict) -> list[tuple[str, str]]:
    merges = field(d, "merges", list)
    if not all(isinstance(m, list) and len(m) == 2 and all(isinstance(x, str) and x for x in m) for m in merges):
        raise InputError("tokenizer 'merges' must be a list of [left, right] token strings")
    return [(a, b) for a, b in merges]


class BpeTokenizer(Tokenizer):
    """Plain BPE; encoding runs in the `tokenizers` library (Rust, multi-threaded).

    Example: ``tok = train_tokenizer("bpe", ["genome.fa.gz"], vocab_size=4096); tok.encode("ACGT...")``.
    """

    kind = "bpe"

    def __init__(self, merges: list[tuple[str, str]], training: dict | None = None):
        super().__init__(merged_vocab(merges), training)
        self.merges = list(merges)
        from tokenizers import Tokenizer as LibraryTokenizer
        from tokenizers import models

        model = models.BPE(vocab=dict(self.index), merges=self.merges)
        self._library = LibraryTokenizer(model)

    @classmethod
    def train(cls, paths, *, vocab_size: int = 4096, seed: int = 0, both_strands: bool = True, progress=None):
        n_merges = _merges_for(vocab_size)
        merges, metadata = learn_merges(paths, n_merges, seed, both_strands, progress)
        return cls(merges, dict(metadata, vocab_size=vocab_size))

    def encode(self, seq: str) -> np.ndarray:
        return np.array(self._library.encode(clean_sequence(seq), add_special_tokens=False).ids, dtype=np.int32)

    def encode_batch(self, seqs) -> list[np.ndarray]:
        return [np.array(ids, dtype=np.int32) for ids in self._library_ids(list(seqs))]

    def encode_flat(self, seqs) -> tuple[np.ndarray, np.ndarray]:
        ids = self._library_ids(list(seqs))
        counts = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        return np.fromiter(chain.from_iterable(ids), dtype=np.int32, count=int(counts.sum())), counts

    def _library_ids(self, seqs: list[str]) -> list[list[int]]:
        joined = "".join(seqs)
        if clean_sequence(joined) is not joined:  # one check for the usual, clean batch
            seqs = [clean_sequence(s) for s in seqs]
        encoded = self._library.encode_batch_fast(seqs, add_special_tokens=False)
        return [e.ids for e in encoded]

    def _extra_dict(self) -> dict:
        return {"merges": [list(m) for m in self.merges]}

    @classmethod
    def _from_dict(cls, d: dict) -> "BpeTokenizer":
        return cls(parse_merges(d), d.get("training"))


def _merges_for(vocab_size: int) -> int:
    floor = len(SPECIALS) + len(BASES)
    if not isinstance(vocab_size, int) or vocab_size <= floor:
        raise InputError(f"vocabulary size must be more than {floor} (specials and bases), got {vocab_size}")
    return vocab_size - floor
