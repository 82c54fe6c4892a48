"""Attention in plain PyTorch: the definition of what every backend computes.

Positions. q is (B, H, Lq, D) and k, v are (B, H, Lk, D) with Lq <= Lk. Query
row i sits at key position `Lk - Lq + i`, so Lq == Lk is a whole sequence and
Lq < Lk is the newest Lq tokens decoded against a cache of Lk keys. Every rule
below speaks of these positions: p for the query, j for the key.

Which keys a query sees (`allowed_keys`):
  * padding:  j < seqlens[b] (rows are right-padded; no seqlens = no padding);
  * causal:   j <= p;
  * window:   p - left <= j <= p + right, where -1 means unlimited on that side;
  * global:   the window is lifted when p < n_global or j < n_global (global
              tokens see, and are seen by, everything the causal rule allows).
A query row with p >= seqlens[b] is padding: its output is zero and no gradient
flows through it.

Scores. s = softmax_scale * q.k - slope[h] * |p - j| (the ALiBi term only when
slopes are given), then softmax over the allowed keys.

The reference computes the scores and the weighted sum in the input dtype with
the softmax in at least float32, as eager PyTorch code usually does; it materialises the
(Lq, Lk) score matrix, so it is for testing and documentation, not for speed.
"""

from __future__ import annotations

import math

import torch


def query_positions(lq: int, lk: int, device=None) -> torch.Tensor:
    """Key position of each query row: `Lk - Lq + i` (int64, shape (Lq,))."""
    return torch.arange(lk - lq, lk, device=device)


def allowed_keys(lq: int, lk: int, *, causal: bool = False, window=(-1, -1),
                 seqlens: torch.Tensor | None = None, n_global: int = 0,
                 device=None) -> torch.Tensor:
    """Boolean mask of the keys each query may attend to.

    Returns (1, 1, Lq, Lk) without `seqlens`, else (B, 1, Lq, Lk); True = allowed.

    >>> allowed_keys(3, 3, causal=True)[0, 0].int().tolist()
    [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    """
    p = query_positions(lq, lk, device)[:, None]
    j = torch.arange(lk, device=device)[None, :]
    allowed = torch.ones(lq, lk, dtype=torch.bool, device=device)
    left, right = window
    in_window = torch.ones_like(allowed)
    if left >= 0:
        in_window &= j >= p - left
    if right >= 0:
        in_window &= j <= p + right
    if n_global > 0:
        in_window |= (p < n_global) | (j < n_global)
    allowed &= in_window
    if causal:
        allowed &= j <= p
    allowed = allowed[None, None]
    if seqlens is not None:
        lengths = seqlens.to(device=device, dtype=torch.long)[:, None, None, None]
        allowed = allowed & (j < lengths)
    return allowed


def valid_queries(lq: int, lk: int, seqlens: torch.Tensor | None, device=None) -> torch.Tensor | None:
    """(B, 1, Lq, 1) bool, False on padded query rows; None without `seqlens`."""
    if seqlens is None:
        return None
    p = query_positions(lq, lk, device)[None, None, :, None]
    return p < seqlens.to(device=device, dtype=torch.long)[:, None, None, None]


def alibi_bias(slopes: torch.Tensor, lq: int, lk: int) -> torch.Tensor:
    """ALiBi score bias `-slope[h] * |p - j|` as (1, H, Lq, Lk), float32 or float64."""
    dtype = torch.promote_types(slopes.dtype, torch.float32)
    p = query_positions(lq, lk, slopes.device)[:, None]
    j = torch.arange(lk, device=slopes.device)[None, :]
    distance = (p - j).abs().to(dtype)
    return -slopes.to(dtype)[None, :, None, None] * distance


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """The geometric ALiBi slopes of Press et al. (2022), (H,) float32.

    For a power of two H the slopes are 2^(-8/H), 2^(-16/H), ...; other head
    counts interleave the slopes of the next power of two, as in the paper.

    >>> alibi_slopes(4).tolist()
    [0.25, 0.0625, 0.015625, 0.00390625]
    """
    def powers(n):
        start = 2.0 ** (-8.0 / n)
        return [start ** (i + 1) for i in range(n)]

    if math.log2(n_heads).is_integer():
        slopes = powers(n_heads)
    else:
        below = 2 ** math.floor(math.log2(n_heads))
        slopes = powers(below) + powers(2 * below)[0::2][: n_heads - below]
    return torch.tensor(slopes, dtype=torch.float32)


def attention_probs(q, k, *, causal=False, softmax_scale=None, alibi_slopes=None,
                    window=(-1, -1), seqlens=None, n_global=0) -> torch.Tensor:
    """(B, H, Lq, Lk) softmax weights of every (query, key) pair, in at least float32.

    Disallowed keys get exactly zero and padded query rows are all zero.

    >>> q = k = torch.randn(1, 2, 3, 8)
    >>> attention_probs(q, k, causal=True)[0, 0, 0].tolist()
    [1.0, 0.0, 0.0]
    """
    lq, lk = q.shape[-2], k.shape[-2]
    scale = softmax_scale if softmax_scale is not None else q.shape[-1] ** -0.5
    scores = torch.matmul(q, k.transpose(-1, -2)) * scale
    scores = scores.to(torch.promote_types(scores.dtype, torch.float32))
    if alibi_slopes is not None:
        scores = scores + alibi_bias(alibi_slopes, lq, lk).to(scores.dtype)
    allowed = allowed_keys(lq, lk, causal=causal, window=window, seqlens=seqlens,
                           n_global=n_global, device=q.device)
    valid = valid_queries(lq, lk, seqlens, q.device)
    if valid is not None:
        # A padded row has no allowed key; let it see every key so the softmax
        # stays finite (no NaN in the backward pass), then zero the row.
        allowed = allowed | ~valid
    probs = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)
    return probs if valid is None else probs * valid


def attention(q, k, v, *, causal=False, softmax_scale=None, alibi_slopes=None,
              window=(-1, -1), seqlens=None, n_global=0):
    """Scaled dot-product attention with every genotx option; (B, H, Lq, D) in q's dtype.

    >>> q = k = v = torch.randn(1, 2, 5, 8)
    >>> attention(q, k, v, causal=True).shape
    torch.Size([1, 2, 5, 8])
    """
    probs = attention_probs(q, k, causal=causal, softmax_scale=softmax_scale, alibi_slopes=alibi_slopes,
                            window=window, seqlens=seqlens, n_global=n_global)
    return torch.matmul(probs.to(v.dtype), v)
