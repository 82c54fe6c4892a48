"""Sliding-window attention in blocks: memory O(L * (window + n_global)), not O(L^2).

The queries are cut into blocks of `block` rows. The keys a block can see under
a window (left, right) lie in one span of `block + left + right` positions, so
each block attends to its own span only (through SDPA, with a small mask for
the exact window edges), and the score matrix never exceeds L x span per head.
Global tokens join every span as extra keys, and their own query rows, which
see everything, are computed separately against all keys. The result is the
reference's (reference.py) for Lq == Lk and a window finite on both sides.

    >>> q = k = v = torch.randn(1, 2, 1000, 16)
    >>> attention(q, k, v, window=(64, 64), n_global=1).shape
    torch.Size([1, 2, 1000, 16])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

MIN_BLOCK = 32  # smaller blocks make matrix products too small to run well


def block_size(window) -> int:
    """Rows per query block: at least each side of the window (and MIN_BLOCK)."""
    return max(MIN_BLOCK, *window)


def pays(lq: int, lk: int, window, n_global: int) -> bool:
    """Whether the blocked form applies and sees fewer keys per query than the full one."""
    left, right = window
    if lq != lk or left < 0 or right < 0:
        return False
    return 2 * (block_size(window) + left + right + n_global) <= lk


def attention(q, k, v, *, causal=False, softmax_scale=None, alibi_slopes=None,
              window=(0, 0), seqlens=None, n_global=0, block=None):
    """(B, H, L, D) attention of q, k, v (all length L) under a finite window (left, right)."""
    batch, heads, length, dim = q.shape
    left, right = window
    block = block or block_size(window)
    n_blocks = -(-length // block)
    span = block + left + right
    padded = n_blocks * block
    qb = F.pad(q, (0, 0, 0, padded - length)).reshape(batch, heads * n_blocks, block, dim)
    # Block i sees key positions i * block - left ... i * block + block - 1 + right.
    kb, vb = (F.pad(t, (0, 0, left, padded - length + right)).unfold(2, span, block).transpose(-1, -2)
              for t in (k, v))
    kb, vb = (t.reshape(batch, heads * n_blocks, span, dim) for t in (kb, vb))
    p = torch.arange(padded, device=q.device).view(n_blocks, block, 1)  # query positions
    j = (torch.arange(n_blocks, device=q.device)[:, None] * block - left
         + torch.arange(span, device=q.device)).view(n_blocks, 1, span)  # key positions
    lengths = _lengths(seqlens, batch, length, q.device)  # (B', 1, 1, 1)
    allowed = (j >= p - left) & (j <= p + right) & (j >= n_global)  # global keys come separately
    if n_global:
        g = torch.arange(n_global, device=q.device).view(1, 1, n_global)
        kb = torch.cat([k[:, :, None, :n_global].expand(-1, -1, n_blocks, -1, -1)
                        .reshape(batch, heads * n_blocks, n_global, dim), kb], dim=2)
        vb = torch.cat([v[:, :, None, :n_global].expand(-1, -1, n_blocks, -1, -1)
                        .reshape(batch, heads * n_blocks, n_global, dim), vb], dim=2)
        j = torch.cat([g.expand(n_blocks, 1, n_global), j], dim=-1)
        allowed = torch.cat([torch.ones(n_blocks, block, n_global, dtype=torch.bool, device=q.device), allowed], dim=-1)
    if causal:
        allowed = allowed & (j <= p)
    # (B', 1, n_blocks, block, keys): real keys only; padded query rows see everything (zeroed below).
    valid = p[None] < lengths
    allowed = (allowed[None] & (j[None] >= 0) & (j[None] < lengths)) | ~valid
    mask = _mask(allowed, alibi_slopes, p, j, q.dtype, heads)
    out = F.scaled_dot_product_attention(qb, kb, vb, attn_mask=mask, scale=softmax_scale)
    out = out.view(batch, heads, padded, dim)[:, :, :length]
    if n_global:
        out = torch.cat([_global_rows(q, k, v, causal, softmax_scale, alibi_slopes, lengths, n_global),
                         out[:, :, n_global:]], dim=2)
    if seqlens is not None:
        rows = valid.reshape(-1, 1, padded, 1)[:, :, :length]
        out = torch.where(rows, out, torch.zeros((), dtype=out.dtype, device=out.device))
    return out


def _lengths(seqlens, batch, length, device) -> torch.Tensor:
    """Row lengths as (B, 1, 1, 1), or (1, 1, 1, 1) holding L when nothing is padded."""
    if seqlens is None:
        return torch.full((1, 1, 1, 1), length, device=device)
    return seqlens.to(device=device, dtype=torch.long).view(batch, 1, 1, 1)


def _mask(allowed, slopes, p, j, dtype, heads):
    """SDPA mask (B', H * n_blocks, block, keys) from allowed (B', n_blocks, block, keys):
    boolean, or float with the ALiBi bias."""
    batch, n_blocks = allowed.shape[:2]
    if slopes is None:
        mask = allowed[:, None].expand(batch, heads, *allowed.shape[1:])
    else:
        bias = -slopes.to(device=p.device, dtype=torch.float32)[:, None, None, None] * (p - j).abs()  # (H, nb, block, keys)
        mask = bias[None].masked_fill(~allowed[:, None], float("-inf")).to(dtype)
    return mask.reshape(batch, heads * n_blocks, *allowed.shape[-2:])


def _global_rows(q, k, v, causal, scale, slopes, lengths, n_global):
    """Output of the first n_global query rows, which see every key (B, H, n_global, D)."""
    p = torch.arange(n_global, device=q.device)[:, None]
    j = torch.arange(k.shape[2], device=q.device)[None, :]
    allowed = j < lengths
    if causal:
        allowed = allowed & (j <= p)
    allowed = allowed | ~(p < lengths)  # padded rows stay finite; zeroed by the caller
    mask = allowed
    if slopes is not None:
        bias = -slopes.to(device=q.device, dtype=torch.float32)[:, None, None] * (p - j).abs()
        mask = bias.masked_fill(~allowed, float("-inf")).to(q.dtype)
    return F.scaled_dot_product_attention(q[:, :, :n_global], k, v, attn_mask=mask, scale=scale)
