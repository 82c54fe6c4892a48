"""DNA tokenizers: single bases, k-mers, BPE and reverse-complement-aware BPE.

Every kind shares the special tokens [PAD] [UNK] [CLS] [SEP] [MASK] (ids 0-4),
encodes a sequence to an int32 array without adding specials, and saves to one
JSON file. See docs/tokenizers.md for the rules of each kind.

Example::

    from genotx.tokenizers import build_tokenizer, load_tokenizer
    tok = build_tokenizer("kmer", k=6, stride=6)
    ids = tok.encode("ACGTACGTAC")          # ACGTAC, G, T, A, C
    tok.save("kmer6.json"); assert load_tokenizer("kmer6.json") == tok
"""

from __future__ import annotations

from typing import Iterable

from genotx.errors import InputError
from genotx.tokenizers.base import (
    CLS_ID,
    MASK_ID,
    PAD_ID,
    SEP_ID,
    SPECIALS,
    UNK_ID,
    Tokenizer,
    load_tokenizer,
    revcomp,
)
from genotx.tokenizers.bpe import BpeTokenizer
from genotx.tokenizers.fixed import CharTokenizer, KmerTokenizer
from genotx.tokenizers.rcbpe import RcBpeTokenizer

# kind name -> class; `Tokenizer.from_dict` dispatches on this.
KINDS = {"char": CharTokenizer, "kmer": KmerTokenizer, "bpe": BpeTokenizer, "rcbpe": RcBpeTokenizer}
TRAINED_KINDS = ("bpe", "rcbpe")


def build_tokenizer(kind: str, k: int = 6, stride: int | None = None) -> Tokenizer:
    """A tokenizer that needs no training: ``build_tokenizer("kmer", k=6, stride=1)``."""
    if kind == "char":
        return CharTokenizer()
    if kind == "kmer":
        return KmerTokenizer(k, stride)
    if kind in TRAINED_KINDS:
        raise InputError(f"a {kind} tokenizer must be trained (--train FASTA) or loaded (--tokenizer FILE)")
    raise InputError(f"unknown tokenizer kind {kind!r} (expected one of {', '.join(KINDS)})")


def train_tokenizer(
    kind: str,
    paths: Iterable[str],
    vocab_size: int = 4096,
    seed: int = 0,
    both_strands: bool = True,
    progress=None,
) -> Tokenizer:
    """Train a BPE tokenizer on FASTA/FASTQ files: ``train_tokenizer("rcbpe", ["g.fa.gz"], 4096)``.

    `progress`, if given, is a `genotx.progress.progress` bar with total `vocab_size`.
    """
    if kind not in TRAINED_KINDS:
        raise InputError(f"only {' and '.join(TRAINED_KINDS)} tokenizers are trained, not {kind!r}")
    return KINDS[kind].train(list(paths), vocab_size=vocab_size, seed=seed, both_strands=both_strands,
                             progress=progress)


__all__ = [
    "Tokenizer", "build_tokenizer", "train_tokenizer", "load_tokenizer", "revcomp", "KINDS", "SPECIALS",
    "PAD_ID", "UNK_ID", "CLS_ID", "SEP_ID", "MASK_ID",
]
