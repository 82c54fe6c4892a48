"""Linear attention mixer: elu+1 features, O(L); causal through a running state.

Example::

    y, state, _ = LinearAttention(cfg)(x, Context())
"""

from __future__ import annotations

import torch
from torch import nn

from genotx.models.config import ModelConfig
from genotx.models.mixers import Context
from genotx.ops.linear_attention import feature_map, linear_attention
from genotx.ops.rope import rope


class LinearAttention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_heads, self.head_dim = cfg.n_heads, cfg.head_dim
        self.causal = cfg.causal
        self.pe = cfg.pe
        self.rope_base, self.rope_scale = cfg.rope_base, cfg.rope_scale
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)
        self.out = nn.Linear(cfg.d_model, cfg.d_model, bias=False)

    def forward(self, x: torch.Tensor, ctx: Context, state=None):
        batch, length, d_model = x.shape
        q, k, v = self.qkv(x).view(batch, length, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k = feature_map(q), feature_map(k)
        q_rot = k_rot = None
        if self.pe == "rope":
            q_rot, k_rot = rope(q, k, offset=ctx.offset, base=self.rope_base, scale=self.rope_scale)
        y, state = linear_attention(q, k, v, causal=self.causal, q_rot=q_rot, k_rot=k_rot,
                                    key_mask=ctx.key_mask, state=state)
        y = y.transpose(1, 2).reshape(batch, length, d_model)
        return self.out(y), state, None

    def new_state(self, batch: int, max_len: int, like: torch.Tensor):
        return None  # the first step starts from zero sums
