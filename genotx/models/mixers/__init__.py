"""Sequence mixers: modules that move information between positions.

Each takes x (B, L, d_model) and a `Context`, and returns (y, state, probs):
`state` is the layer's cache after these tokens (None when no cache is kept),
`probs` its (B, H, L, Lk) attention probabilities when asked for, else None.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Context:
    """What every layer of one forward call shares."""

    seqlens: torch.Tensor | None = None  # (B,) lengths of right-padded rows; None = no padding
    key_mask: torch.Tensor | None = None  # (B, L) bool, True = real token; None = no padding
    offset: int = 0  # position of the first token (cached generation)
    output_attentions: bool = False
    flip_index: torch.Tensor | None = None  # (B, L) reverse_index of the rows (bidirectional scans)
