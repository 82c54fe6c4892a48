"""DNA tokenizers: single bases, k-mers, BPE and reverse-complement-aware BPE.

Every kind shares the special tokens [PAD] [UNK] [CLS] [SEP] [MASK] (ids 0-4),
encodes a sequence to an int32 array without adding specials, and saves to one
JSON file. See docs/tokenizers.md for the rules of each kind.

Example::

    from genotx.tokenizers import build_tokenizer, load_tokenizer
    tok = build_tokenizer("kmer", k=6, stride=6)
    ids = tok.encode("ACGTACGTAC")          # ACGTAC, G, T, A, C
    tok.save("kmer6.json"); assert load_tokenizer("kmer6.json") == tok

The tokenizer classes (and numpy, which they use) are imported on first use of
a name that needs them, so that importing this package, as `genotx tokenize`
does before writing char and k-mer rows, stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Iterable

from genotx.errors import InputError
from genotx.tokenizers.layout import CLS_ID, MASK_ID, PAD_ID, SEP_ID, SPECIALS, UNK_ID

# kind name -> (module, class); `KINDS`, which `Tokenizer.from_dict` dispatches on, maps to the classes.
_CLASSES = {
    "char": ("fixed", "CharTokenizer"),
    "kmer": ("fixed", "KmerTokenizer"),
    "bpe": ("bpe", "BpeTokenizer"),
    "rcbpe": ("rcbpe", "RcBpeTokenizer"),
}
TRAINED_KINDS = ("bpe", "rcbpe")
# names imported on first use -> their module
_LATER = {"Tokenizer": "base", "load_tokenizer": "base", "revcomp": "base"}
_LATER.update({cls: module for module, cls in _CLASSES.values()})


def __getattr__(name: str):
    if name == "KINDS":
        kinds = {kind: _class(kind) for kind in _CLASSES}
        globals()["KINDS"] = kinds
        return kinds
    if name in _LATER:
        value = getattr(importlib.import_module(f"genotx.tokenizers.{_LATER[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'genotx.tokenizers' has no attribute {name!r}")


def _class(kind: str):
    module, name = _CLASSES[kind]
    return getattr(importlib.import_module(f"genotx.tokenizers.{module}"), name)


def build_tokenizer(kind: str, k: int = 6, stride: int | None = None) -> Tokenizer:
    """A tokenizer that needs no training: ``build_tokenizer("kmer", k=6, stride=1)``."""
    if kind == "char":
        return _class("char")()
    if kind == "kmer":
        return _class("kmer")(k, stride)
    if kind in TRAINED_KINDS:
        raise InputError(f"a {kind} tokenizer must be trained (--train FASTA) or loaded (--tokenizer FILE)")
    raise InputError(f"unknown tokenizer kind {kind!r} (expected one of {', '.join(_CLASSES)})")


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
    return _class(kind).train(list(paths), vocab_size=vocab_size, seed=seed, both_strands=both_strands,
                              progress=progress)


__all__ = [
    "Tokenizer", "build_tokenizer", "train_tokenizer", "load_tokenizer", "revcomp", "KINDS", "SPECIALS",
    "PAD_ID", "UNK_ID", "CLS_ID", "SEP_ID", "MASK_ID",
]
