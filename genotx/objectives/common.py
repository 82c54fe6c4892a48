"""Pieces every objective shares: tokenising windows, pooling, the loss record.

A loss is reported as a sum of nats and a count (tokens, or pairs for
InfoNCE) so that evaluation can average exactly over many batches and DDP
ranks instead of averaging averages.

Example::

    ids, mask = tokenize_windows(tok, codes)          # (B, T) long, (B, T) bool
    pooled = mean_pool(model(ids, mask).hidden, mask)  # (B, d_model)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from genotx.tokenizers import CLS_ID, MASK_ID, PAD_ID, SPECIALS
from genotx.train.data import codes_to_strings

FIRST_REAL = len(SPECIALS)  # ids from here on are sequence tokens; the specials are fixed for every kind
IGNORE = -100  # torch cross-entropy's ignore_index


@dataclass
class LossParts:
    """The differentiable total plus, per named part, (sum of nats, count) for exact averaging."""

    total: object  # scalar tensor
    parts: dict[str, tuple[float, float]] = field(default_factory=dict)
    tokens: int = 0  # input tokens the model saw (padding excluded)
    bases: int = 0  # bases those tokens cover


def tokenize_windows(tokenizer, codes: np.ndarray, *, bos: bool = False):
    """(B, L) base codes -> right-padded (input_ids, attention_mask) torch tensors.

    With ``bos`` every row starts with CLS, the start symbol of autoregressive
    training and generation.
    """
    encoded = tokenizer.encode_batch(codes_to_strings(codes))
    return pad_token_rows(encoded, lead=CLS_ID if bos else None)


def pad_token_rows(rows, lead: int | None = None, max_tokens: int | None = None):
    """Token id rows -> right-padded (input_ids, attention_mask) torch tensors.

    ``lead`` (e.g. CLS) starts every row; rows longer than ``max_tokens`` (lead
    included) are cut. Example: ``pad_token_rows([np.array([5, 6]), np.array([7])])``.
    """
    import torch

    start = 0 if lead is None else 1
    width = start + max(len(r) for r in rows)
    if max_tokens is not None:
        width = min(width, max_tokens)
    ids = np.full((len(rows), width), PAD_ID, dtype=np.int64)
    if lead is not None:
        ids[:, 0] = lead
    lengths = np.empty(len(rows), dtype=np.int64)
    for i, r in enumerate(rows):
        n = min(len(r), width - start)
        ids[i, start : start + n] = r[:n]
        lengths[i] = start + n
    mask = np.arange(width)[None, :] < lengths[:, None]
    return torch.from_numpy(ids), torch.from_numpy(mask)


def model_inputs(ids, mask):
    """Pass no mask when no row is padded (lets the model take its unpadded path)."""
    return (ids, None) if bool(mask.all()) else (ids, mask)


def mean_pool(hidden, mask):
    """Mean of the hidden states of real tokens: (B, L, D), (B, L) -> (B, D)."""
    weights = mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * weights).sum(1) / weights.sum(1).clamp_min(1.0)


def small_linear(d_in: int, d_out: int):
    """A Linear layer initialised like the model's output layers (N(0, 0.02), zero bias), for heads
    whose bias is then set to the context-free prediction."""
    import torch.nn as nn

    layer = nn.Linear(d_in, d_out)
    nn.init.normal_(layer.weight, std=0.02)
    nn.init.zeros_(layer.bias)
    return layer


def token_count(mask, bos: bool = False) -> int:
    return int(mask.sum()) - (mask.shape[0] if bos else 0)
