"""Sliding-window attention plus global tokens: exact attention restricted to a band.

Each token sees `cfg.window` tokens on each side (left only when causal); the
first `cfg.n_global` tokens (e.g. CLS) see and are seen by all. Cost O(L * window)
in the Triton kernel and, once the window is well below the length, on the CPU
too (queries in blocks against their key span: `genotx.ops.attention.banded`).

Example::

    layer = WindowAttention(cfg.replace(window=64, n_global=1))
"""

from __future__ import annotations

from genotx.models.config import ModelConfig
from genotx.models.mixers.attention import Attention


class WindowAttention(Attention):
    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg, windowed=True)
