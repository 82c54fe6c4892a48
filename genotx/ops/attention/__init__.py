"""One attention function, three backends, one place that chooses between them.

    from genotx.ops.attention import attention
    out = attention(q, k, v, causal=True, alibi_slopes=slopes, backend="auto")

Backends:
  * "triton"    fused FlashAttention-2 kernel (triton.py): CUDA tensors of
                dtype float16, bfloat16 or float32, head dim <= 128;
  * "sdpa"      torch.nn.functional.scaled_dot_product_attention, with a boolean
                or float mask for what its flags cannot say (ALiBi, window,
                padding, global tokens, decoding with Lq < Lk); on CPU, plain
                bidirectional attention over at most SHORT_CPU_KEYS keys is
                the explicit softmax(q k^T) v product instead (faster there),
                and a window much shorter than the sequence runs in blocks
                (banded.py: memory O(L * window), not O(L^2));
  * "reference" plain PyTorch (reference.py), the definition of the semantics;
  * "auto"      Triton for supported CUDA tensors, else SDPA. CPU tensors never
                reach Triton; a fallback says why at debug level on the
                "genotx.ops" logger.

`attention_probs` returns the probabilities themselves (attention maps), which
only the reference forms: the fused paths never hold an (Lq, Lk) matrix.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..backends import auto_backend, check_backend, triton_unsupported
from . import banded, reference
from .reference import alibi_slopes

__all__ = ["attention", "attention_probs", "alibi_slopes", "BACKENDS"]

BACKENDS = ("auto", "triton", "sdpa", "reference")
TRITON_MAX_HEAD_DIM = 128


def attention(q, k, v, *, causal=False, softmax_scale=None, alibi_slopes=None,
              window=(-1, -1), seqlens=None, n_global=0, backend="auto"):
    """Scaled dot-product attention over (B, H, L, D) tensors.

    q: (B, H, Lq, D); k, v: (B, H, Lk, D), Lq <= Lk, all one float dtype and
    device. Query row i sits at key position Lk - Lq + i (decoding with a cache).
    softmax_scale: float, default 1/sqrt(D).
    alibi_slopes: (H,) float32; adds -slope[h] * |p - j| to the scores.
    window: (left, right) keys around the query position, -1 = unlimited.
    seqlens: (B,) int lengths of right-padded rows; padded keys are masked and
        padded query rows come out zero.
    n_global: the first n_global positions see and are seen by every position
        (only meaningful with a window).
    Returns (B, H, Lq, D) in q's dtype. See reference.py for the exact rules.

    >>> q = k = v = torch.randn(2, 4, 16, 32)
    >>> attention(q, k, v, causal=True, window=(8, 0)).shape
    torch.Size([2, 4, 16, 32])
    """
    window, seqlens, n_global = _check_inputs(q, k, v, softmax_scale, alibi_slopes,
                                              window, seqlens, n_global, backend)
    options = dict(causal=causal, softmax_scale=softmax_scale, alibi_slopes=alibi_slopes,
                   window=window, seqlens=seqlens, n_global=n_global)
    if backend == "auto":
        backend = auto_backend("attention", triton_unsupported(q, TRITON_MAX_HEAD_DIM), "sdpa")
    if backend == "triton":
        from . import triton as triton_backend

        return triton_backend.attention(q, k, v, **options)
    if backend == "sdpa":
        return sdpa_attention(q, k, v, **options)
    return reference.attention(q, k, v, **options)


def attention_probs(q, k, *, causal=False, softmax_scale=None, alibi_slopes=None,
                    window=(-1, -1), seqlens=None, n_global=0):
    """The weights `attention` gives each key: (B, H, Lq, Lk) float32 (float64 for float64 input).

    Arguments as for `attention` (without v). Disallowed keys get zero and
    padded query rows are all zero. Memory O(Lq * Lk): for attention maps.

    >>> q = k = torch.randn(2, 4, 16, 32)
    >>> attention_probs(q, k, causal=True).sum(-1).allclose(torch.ones(2, 4, 16))
    True
    """
    window, seqlens, n_global = _check_inputs(q, k, k, softmax_scale, alibi_slopes,
                                              window, seqlens, n_global, "reference")
    dtype = torch.promote_types(q.dtype, torch.float32)
    return reference.attention_probs(q.to(dtype), k.to(dtype), causal=causal, softmax_scale=softmax_scale,
                                     alibi_slopes=alibi_slopes, window=window, seqlens=seqlens,
                                     n_global=n_global)


SHORT_CPU_KEYS = 128


def sdpa_attention(q, k, v, *, causal=False, softmax_scale=None, alibi_slopes=None,
                   window=(-1, -1), seqlens=None, n_global=0):
    """The same semantics through `F.scaled_dot_product_attention`.

    Plain (and, for Lq == Lk, causal) attention goes through SDPA's own flags so
    that its fused kernels apply; everything else becomes an explicit mask.
    """
    lq, lk = q.shape[-2], k.shape[-2]
    plain = alibi_slopes is None and window == (-1, -1) and seqlens is None
    # One query row at the last position sees every key even when causal.
    if plain and not causal and q.device.type == "cpu" and lk <= SHORT_CPU_KEYS:
        # Short reads (a 150 bp read is ~50 k-mer tokens): on CPU the explicit product is
        # ~25 % faster than SDPA's kernels, whose per-call setup dominates at this size.
        scale = softmax_scale if softmax_scale is not None else q.shape[-1] ** -0.5
        return torch.matmul(torch.matmul(q, k.transpose(-1, -2)).mul_(scale).softmax(-1), v)
    if plain and (not causal or lq == lk or lq == 1):
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal and lq == lk and lq > 1,
                                              scale=softmax_scale)
    if q.device.type == "cpu" and banded.pays(lq, lk, window, n_global):
        # A window much shorter than the sequence: blocks of queries against their key span,
        # memory O(L * window) instead of an (L, L) mask and score matrix.
        return banded.attention(q, k, v, causal=causal, softmax_scale=softmax_scale, alibi_slopes=alibi_slopes,
                                window=window, seqlens=seqlens, n_global=n_global)
    allowed = reference.allowed_keys(lq, lk, causal=causal, window=window, seqlens=seqlens,
                                     n_global=n_global, device=q.device)
    valid = reference.valid_queries(lq, lk, seqlens, q.device)
    if valid is not None:
        allowed = allowed | ~valid  # keep padded rows finite; zeroed below
    mask = allowed
    if alibi_slopes is not None:
        bias = reference.alibi_bias(alibi_slopes.to(q.device), lq, lk)
        mask = bias.masked_fill(~allowed, float("-inf")).to(q.dtype)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=softmax_scale)
    if valid is not None:
        out = torch.where(valid, out, torch.zeros((), dtype=out.dtype, device=out.device))
    return out


def _check_inputs(q, k, v, softmax_scale, slopes, window, seqlens, n_global, backend):
    """Validate shapes and options; return (window, seqlens, n_global) normalised."""
    check_backend(backend, BACKENDS)
    if q.dim() != 4 or k.dim() != 4 or v.dim() != 4:
        raise ValueError(f"q, k and v must be (B, H, L, D), got {q.dim()}-, {k.dim()}- and {v.dim()}-dimensional")
    if k.shape != v.shape:
        raise ValueError(f"k and v must have the same shape, got {tuple(k.shape)} and {tuple(v.shape)}")
    if q.shape[:2] != k.shape[:2]:
        raise ValueError(f"q and k must have the same batch and heads, got {tuple(q.shape[:2])} and {tuple(k.shape[:2])}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must have the same head dim, got {q.shape[-1]} and {k.shape[-1]}")
    if q.shape[-2] > k.shape[-2]:
        raise ValueError(f"q cannot have more rows than k, got Lq={q.shape[-2]} and Lk={k.shape[-2]}")
    if not (q.dtype == k.dtype == v.dtype) or not q.dtype.is_floating_point:
        raise ValueError(f"q, k and v must share one float dtype, got {q.dtype}, {k.dtype} and {v.dtype}")
    if not (q.device == k.device == v.device):
        raise ValueError(f"q, k and v must be on one device, got {q.device}, {k.device} and {v.device}")
    if softmax_scale is not None and not softmax_scale > 0:
        raise ValueError(f"softmax_scale must be positive, got {softmax_scale}")
    if slopes is not None and tuple(slopes.shape) != (q.shape[1],):
        raise ValueError(f"alibi_slopes must be (H,) = ({q.shape[1]},), got {tuple(slopes.shape)}")
    left, right = (int(w) for w in window)
    if left < -1 or right < -1:
        raise ValueError(f"window sides must be >= 0 or -1 for unlimited, got {window}")
    if n_global < 0:
        raise ValueError(f"n_global must be >= 0, got {n_global}")
    if (left, right) == (-1, -1):
        n_global = 0  # global tokens only lift a window
    if seqlens is not None:
        seqlens = torch.as_tensor(seqlens, device=q.device)
        if tuple(seqlens.shape) != (q.shape[0],) or seqlens.dtype.is_floating_point:
            raise ValueError(f"seqlens must be (B,) = ({q.shape[0]},) integers, got {tuple(seqlens.shape)} {seqlens.dtype}")
        # Reading values back would stall a GPU stream, so only CPU lengths are range-checked.
        if seqlens.device.type == "cpu" and seqlens.numel() and (
                int(seqlens.min()) < 0 or int(seqlens.max()) > k.shape[-2]):
            raise ValueError(f"seqlens must lie in [0, Lk={k.shape[-2]}], got {seqlens.tolist()}")
    return (left, right), seqlens, int(n_global)
