"""Exact softmax attention through `genotx.ops.attention` (full, causal, or sliding window).

RoPE rotates q and k through `genotx.ops.rope`; ALiBi passes per-head slopes
to the kernel. `window` > 0 gives the `window` mixer: each token sees `window`
tokens on each side (only to its left when causal), and the first `n_global`
tokens see and are seen by all.

Example::

    layer = Attention(cfg)
    y, cache, probs = layer(x, Context(seqlens=lengths))
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genotx.errors import InputError
from genotx.models.config import ModelConfig
from genotx.models.mixers import Context
from genotx.ops.attention import alibi_slopes, attention, attention_probs
from genotx.ops.rope import rope


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig, *, windowed: bool = False):
        super().__init__()
        self.n_heads, self.head_dim = cfg.n_heads, cfg.head_dim
        self.causal = cfg.causal
        self.pe = cfg.pe
        self.rope_base, self.rope_scale = cfg.rope_base, cfg.rope_scale
        if windowed:
            self.window = (cfg.window, 0 if cfg.causal else cfg.window)
            self.n_global = cfg.n_global
        else:
            self.window, self.n_global = (-1, -1), 0
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)
        self.out = nn.Linear(cfg.d_model, cfg.d_model, bias=False)
        slopes = alibi_slopes(cfg.n_heads) if cfg.pe == "alibi" else torch.zeros(0)
        self.register_buffer("alibi_slopes", slopes, persistent=False)

    def forward(self, x: torch.Tensor, ctx: Context, state=None):
        batch, length, d_model = x.shape
        q, k, v = _heads(self.qkv(x), 3, self.n_heads)
        if self.pe == "rope":
            q, k = rope(q, k, offset=ctx.offset, base=self.rope_base, scale=self.rope_scale)
        if state is not None:
            k, v, state = _append(state, k, v)
        options = dict(causal=self.causal, alibi_slopes=self.alibi_slopes if self.pe == "alibi" else None,
                       window=self.window, seqlens=ctx.seqlens, n_global=self.n_global)
        y = attention(q, k, v, **options)
        probs = attention_probs(q, k, **options) if ctx.output_attentions else None
        y = y.transpose(1, 2).reshape(batch, length, d_model)
        return self.out(y), state, probs

    def selectable(self, ctx: Context) -> bool:
        """Whether `forward_selected` applies: no rule of the layer depends on a query's position."""
        plain = self.window == (-1, -1) and not self.causal and self.pe != "alibi"
        return plain and ctx.seqlens is None and not ctx.output_attentions

    def forward_selected(self, x: torch.Tensor, ctx: Context, select: torch.Tensor) -> torch.Tensor:
        """The output (N, d_model) at the N True positions of `select` (B, L), row-major.

        Keys and values come from every token; queries only from the selected
        ones, so a layer whose other outputs nobody reads costs a fraction of the
        full one. Needs `selectable(ctx)`: the kernel places fewer queries than
        keys at the end of the row, which only the rules checked there would notice.
        """
        batch, length, d_model = x.shape
        counts = select.sum(dim=1)
        width = int(counts.max()) if select.numel() else 0
        # Each row's selected positions first and in order; shorter rows are filled with
        # unselected positions whose outputs are dropped below.
        order = torch.argsort((~select).to(torch.int8), dim=1, stable=True)[:, :width]
        w_q, w_kv = self.qkv.weight.split([d_model, 2 * d_model])
        k, v = _heads(F.linear(x, w_kv), 2, self.n_heads)
        chosen = x.gather(1, order[:, :, None].expand(batch, width, d_model))
        q = F.linear(chosen, w_q).view(batch, width, self.n_heads, self.head_dim).transpose(1, 2)
        if self.pe == "rope":
            q, k = rope(q, k, offset=ctx.offset, base=self.rope_base, scale=self.rope_scale, q_positions=order)
        y = attention(q, k, v) if width else q
        y = y.transpose(1, 2).reshape(batch, width, d_model)
        kept = torch.arange(width, device=x.device)[None, :] < counts[:, None]
        return self.out(y[kept])

    def new_state(self, batch: int, max_len: int, like: torch.Tensor):
        shape = (batch, self.n_heads, max_len, self.head_dim)
        return (like.new_zeros(shape), like.new_zeros(shape), 0)


def _heads(projected: torch.Tensor, parts: int, n_heads: int):
    """Split a (B, L, parts * d_model) projection into `parts` (B, H, L, head_dim) views.

    Unbind then transpose rather than one permute: the same views, but autograd
    then stacks their gradients straight into the projection's (B, L, parts, H,
    head_dim) layout instead of stacking and copying them again (one pass over
    the q/k/v gradients less per layer).
    """
    batch, length, width = projected.shape
    split = projected.view(batch, length, parts, n_heads, width // (parts * n_heads))
    return tuple(t.transpose(1, 2) for t in split.unbind(2))


def _append(state, k, v):
    """Write the new keys/values into the cache; return all keys/values so far."""
    k_cache, v_cache, filled = state
    end = filled + k.shape[2]
    if end > k_cache.shape[2]:
        raise InputError(f"generation cache holds {k_cache.shape[2]} positions; step would reach {end}: make new_cache(..., max_len) larger")
    k_cache[:, :, filled:end] = k
    v_cache[:, :, filled:end] = v
    return k_cache[:, :, :end], v_cache[:, :, :end], (k_cache, v_cache, end)
