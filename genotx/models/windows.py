"""Sequence-level outputs of sequences of any length: long ones are read in overlapping windows.

A model is trained with ``max_len`` tokens (CLS included). A sequence of more
than ``max_len - 1`` bases is cut into windows of that many bases, each next
one starting half a window later and the last one ending at the sequence's
end, so every base is read at least once; the sequence's logits are the mean
of its windows' logits (strand-averaging models: see `sequence_logits`). Every tokenizer makes at most one token per base, so a
window of ``max_len - 1`` bases always fits: nothing is cut silently.

Any model behind a `genotx.models.adapter.ModelAdapter` (a Hugging Face
directory too) is read alike, in windows of ``adapter.window_bases`` bases
(`base_windows`, `adapter_sequence_logits`); there a window whose tokens do
not fit after all (a 6-mer vocabulary makes one token per base around an N)
is read as its two halves, so nothing is cut either.

Example::

    logits = sequence_logits(model, tokenizer, ["ACGT" * 300])   # (1, n_outputs), 3 windows of a 511-token model
"""

from __future__ import annotations

import numpy as np

from genotx.runtime import import_torch
from genotx.tokenizers.layout import CLS_ID, PAD_ID


def window_starts(length: int, window: int, stride: int | None = None) -> list[int]:
    """Start of each window of ``window`` over a sequence of ``length``: every ``stride`` (default half a
    window), the last one flush with the end.

    >>> window_starts(10, 4)
    [0, 2, 4, 6]
    """
    if length <= window:
        return [0]
    stride = stride or max(1, window // 2)
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


def base_windows(adapter, seq: str, window: int, stride: int | None = None) -> list[tuple[int, int, np.ndarray]]:
    """(first base, end base, token ids) of the windows of ``window`` bases every ``stride`` over ``seq``.

    Every base is in at least one window. A window with more tokens than the model reads is replaced by
    its two halves (recursively). Example: ``base_windows(adapter, "ACGT" * 100, 120, 60)``.
    """
    pieces = []
    for start in window_starts(len(seq), window, stride):
        pieces.extend(_fitting(adapter, seq, start, min(len(seq), start + window)))
    return pieces


def _fitting(adapter, seq: str, start: int, end: int) -> list:
    ids = adapter.tokenize(seq[start:end])[0]
    if len(ids) <= adapter.max_sequence_tokens or end - start < 2:
        return [(start, end, ids)]
    middle = (start + end) // 2
    return _fitting(adapter, seq, start, middle) + _fitting(adapter, seq, middle, end)


def adapter_sequence_logits(adapter, seqs: list[str]):
    """(n, n_outputs) float logits of a classifier or regressor behind a `ModelAdapter`, on its device.

    A sequence longer than ``adapter.window_bases`` is the mean of its windows' logits (windows half a
    window apart), as `sequence_logits` reads a genotx model. Gradients flow (fine-tuning trains
    through it); callers that only infer wrap it in ``torch.inference_mode``.
    """
    from genotx.errors import InputError

    torch = import_torch()
    window = adapter.window_bases
    rows, owner = [], []
    for i, seq in enumerate(seqs):
        kept = [ids for _, _, ids in base_windows(adapter, seq, window) if len(ids)]
        if not kept:
            raise InputError(f"a sequence of {len(seq)} bp gives no token for {adapter.source} (too short)")
        rows.extend(kept)
        owner.extend([i] * len(kept))
    logits = adapter.logits(adapter.batch(rows))
    if len(rows) == len(seqs):
        return logits
    owner_t = torch.tensor(owner, device=logits.device)
    total = torch.zeros(len(seqs), logits.shape[-1], dtype=logits.dtype, device=logits.device)
    total = total.index_add(0, owner_t, logits)
    counts = torch.bincount(owner_t, minlength=len(seqs)).to(logits.dtype)
    return total / counts[:, None]
