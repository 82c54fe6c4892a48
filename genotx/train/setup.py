"""Turn a TrainConfig into the things a run needs: a tokenizer and a model configuration.

Tokenizer specifications: ``char``; ``kmerK`` (stride 1) or ``kmerK:S``;
``bpe``/``rcbpe`` with an optional vocabulary size (``bpe:4096``), trained on
the training part of the input only (the held-out part stays unseen); or the
path of a saved ``tokenizer.json``.

Example::

    tok = make_tokenizer("kmer6:6", split, work_dir, seed=0)
    model_cfg = model_config(cfg, tok, causal=True)
"""

from __future__ import annotations

import os
import re

from genotx.errors import InputError
from genotx.io.atomic import atomic_write
from genotx.io.codes import codes_to_strings

_KMER = re.compile(r"^kmer(\d+)(?::(\d+))?$")
_BPE = re.compile(r"^(bpe|rcbpe)(?::(\d+))?$")


def _write_training_fasta(split, path: str) -> None:
    """The training part of every record, as FASTA for the BPE trainer (written atomically)."""
    genome = split.genome
    with atomic_write(path, encoding="ascii") as out:
        for i, rid in enumerate(genome.ids):
            start, length = int(split.train_starts[i]), int(split.train_lengths[i])
            if length == 0:
                continue
            out.write(f">{rid}\n")
            for chunk in range(start, start + length, 1 << 20):
                piece = genome.codes[chunk : min(chunk + (1 << 20), start + length)]
                out.write(codes_to_strings(piece[None, :])[0] + "\n")


def make_tokenizer(spec: str, split, work_dir: str, seed: int):
    """Build, train or load the tokenizer named by ``spec`` (see the module docstring)."""
    return tokenizer_from_spec(spec, lambda fasta: _write_training_fasta(split, fasta), work_dir, seed)


def tokenizer_from_spec(spec: str, write_training_fasta, work_dir: str, seed: int, max_vocab: int | None = None):
    """The tokenizer named by ``spec``; BPE kinds are trained on the FASTA that
    ``write_training_fasta(path)`` writes (a temporary file in ``work_dir``), with the
    vocabulary capped at ``max_vocab`` when given. Errors name the ``--tokenizer`` value."""
    try:
        return _tokenizer_from_spec(spec, write_training_fasta, work_dir, seed, max_vocab)
    except InputError as exc:
        raise InputError(f"--tokenizer {spec}: {exc}") from None


def _tokenizer_from_spec(spec, write_training_fasta, work_dir, seed, max_vocab):
    from genotx.tokenizers import build_tokenizer, load_tokenizer, train_tokenizer

    if spec == "char":
        return build_tokenizer("char")
    kmer = _KMER.match(spec)
    if kmer:
        k = int(kmer.group(1))
        return build_tokenizer("kmer", k=k, stride=int(kmer.group(2) or 1))
    bpe = _BPE.match(spec)
    if bpe:
        vocab = int(bpe.group(2) or 4096)
        fasta = os.path.join(work_dir, "tokenizer-training.fa")
        write_training_fasta(fasta)
        try:
            return train_tokenizer(bpe.group(1), [fasta], vocab_size=min(vocab, max_vocab or vocab), seed=seed)
        finally:
            os.remove(fasta)
    if os.path.exists(spec):
        return load_tokenizer(spec)
    raise InputError(
        "unknown tokenizer: use char, kmer6, kmer6:6 (k:stride), bpe[:SIZE], rcbpe[:SIZE] "
        "or the path of a tokenizer.json"
    )


def model_config(cfg, tokenizer, *, causal: bool):
    """The genotx.models.ModelConfig of a run; max_len leaves room for the start token."""
    from genotx.models import ModelConfig

    return ModelConfig(
        vocab_size=tokenizer.vocab_size,
        d_model=cfg.d_model,
        n_layers=cfg.n_layers,
        n_heads=cfg.n_heads,
        dropout=cfg.dropout,
        pe=cfg.pe,
        mixer=cfg.mixer,
        causal=causal,
        max_len=cfg.seq_len + 1,
        window=cfg.window,
        head="lm",
    )
