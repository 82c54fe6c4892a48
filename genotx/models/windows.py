"""Sequence-level outputs of sequences of any length: long ones are read in overlapping windows.

A model is trained with ``max_len`` tokens (CLS included). A sequence of more
than ``max_len - 1`` bases is cut into windows of that many bases, each next
one starting half a window later and the last one ending at the sequence's
end, so every base is read at least once; the sequence's logits are the mean
of its windows' logits (strand-averaging models: see `sequence_logits`). Every tokenizer makes at most one token per base, so a
window of ``max_len - 1`` bases always fits: nothing is cut silently.

Example::

    logits = sequence_logits(model, tokenizer, ["ACGT" * 300])   # (1, n_outputs), 3 windows of a 511-token model
"""

from __future__ import annotations

import numpy as np

from genotx.runtime import import_torch
from genotx.tokenizers.layout import CLS_ID, PAD_ID


def window_starts(length: int, window: int) -> list[int]:
    """Start of each window of ``window`` bases over a sequence of ``length``; stride half a window.

    >>> window_starts(10, 4)
    [0, 2, 4, 6]
    """
    if length <= window:
        return [0]
    stride = max(1, window // 2)
    starts = list(range(0, length - window + 1, stride))
    if starts[-1] + window < length:
        starts.append(length - window)
    return starts


def token_rows(tokenizer, seqs: list[str], max_tokens: int):
    """CLS + tokens of each sequence, right-padded: (ids, mask or None); rows must fit in ``max_tokens``."""
    torch = import_torch()
    rows = tokenizer.encode_batch(seqs)
    width = 1 + max(len(r) for r in rows)
    if width > max_tokens:
        raise ValueError(f"a row of {width} tokens does not fit in {max_tokens}; cut it into windows first")
    ids = np.full((len(rows), width), PAD_ID, dtype=np.int64)
    ids[:, 0] = CLS_ID
    lengths = np.empty(len(rows), dtype=np.int64)
    for i, row in enumerate(rows):
        ids[i, 1 : 1 + len(row)] = row
        lengths[i] = 1 + len(row)
    mask = np.arange(width)[None, :] < lengths[:, None]
    return torch.from_numpy(ids), (None if bool(mask.all()) else torch.from_numpy(mask))


def sequence_logits(model, tokenizer, seqs: list[str]):
    """(n, n_outputs) float logits; a sequence longer than the model's window is the mean over its windows.

    A ``strand_average`` model in evaluation averages the windowed logits of each
    sequence and of its reverse complement (two passes), so a sequence and its
    reverse complement get the same output exactly, windows or not.
    """
    if model.config.strand_average and not model.training:
        from genotx.tokenizers import revcomp

        forward = _windowed_logits(model, tokenizer, seqs, one_strand=True)
        return (forward + _windowed_logits(model, tokenizer, [revcomp(s) for s in seqs], one_strand=True)) / 2
    return _windowed_logits(model, tokenizer, seqs)


def _windowed_logits(model, tokenizer, seqs: list[str], one_strand: bool = False):
    torch = import_torch()
    window = model.config.max_len - 1
    pieces, owner = [], []
    for i, seq in enumerate(seqs):
        for start in window_starts(len(seq), window):
            pieces.append(seq[start : start + window])
            owner.append(i)
    ids, mask = token_rows(tokenizer, pieces, model.config.max_len)
    logits = model(ids, mask, one_strand=one_strand).logits.float()
    if len(pieces) == len(seqs):
        return logits
    owner_t = torch.tensor(owner)
    total = torch.zeros(len(seqs), logits.shape[-1], dtype=logits.dtype).index_add_(0, owner_t, logits)
    counts = torch.bincount(owner_t, minlength=len(seqs)).to(logits.dtype)
    return total / counts[:, None]
