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

from genotx.io.codes import codes_to_strings
from genotx.models.encoding import model_inputs, pad_token_rows  # noqa: F401  (model_inputs: for the objectives)
from genotx.tokenizers import CLS_ID, MASK_ID, PAD_ID, SPECIALS  # noqa: F401

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
