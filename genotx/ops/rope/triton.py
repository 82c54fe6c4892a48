"""Fused rotary position embedding in Triton, forward and backward in one kernel.

Semantics are those of reference.py. Each program rotates BLOCK_L rows of one
(batch, head): it computes the angles in registers (no cos/sin table is read
from memory), so the kernel moves each element once in and once out. Rotating
by -angle undoes the rotation, and the gradient of a rotation is its inverse,
so the backward pass is the same kernel with the sine negated (BACKWARD=True).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ..backends import interpreting, last_dim_contiguous, require_cuda
from .reference import inverse_frequencies


@triton.jit
def _rope_kernel(
    X, Out, InvFreq,
    stride_xb, stride_xh, stride_xl, stride_ob, stride_oh, stride_ol,
    n_heads, length, offset, scale,
    HALF: tl.constexpr, BLOCK_L: tl.constexpr, BLOCK_HALF: tl.constexpr,
    INTERLEAVED: tl.constexpr, BACKWARD: tl.constexpr,
):
    """Rotate the HALF feature pairs of BLOCK_L rows of x; Out may be X (in place)."""
    b = tl.program_id(0) // n_heads
    h = tl.program_id(0) % n_heads
    rows = tl.program_id(1) * BLOCK_L + tl.arange(0, BLOCK_L)
    pairs = tl.arange(0, BLOCK_HALF)
    tile = (rows[:, None] < length) & (pairs[None, :] < HALF)
    positions = (rows + offset).to(tl.float32) / scale
    angle = positions[:, None] * tl.load(InvFreq + pairs, mask=pairs < HALF, other=0.0)[None, :]
    cos = tl.cos(angle)
    sin = tl.sin(angle)
    if BACKWARD:
        sin = -sin
    if INTERLEAVED:
        first, second = 2 * pairs, 2 * pairs + 1
    else:
        first, second = pairs, pairs + HALF
    x_rows = X + b * stride_xb + h * stride_xh + rows[:, None] * stride_xl
    x1 = tl.load(x_rows + first[None, :], mask=tile, other=0.0).to(tl.float32)
    x2 = tl.load(x_rows + second[None, :], mask=tile, other=0.0).to(tl.float32)
    out_rows = Out + b * stride_ob + h * stride_oh + rows[:, None] * stride_ol
    tl.store(out_rows + first[None, :], (x1 * cos - x2 * sin).to(Out.dtype.element_ty), mask=tile)
    tl.store(out_rows + second[None, :], (x2 * cos + x1 * sin).to(Out.dtype.element_ty), mask=tile)


def rotate(x: torch.Tensor, inv_freq: torch.Tensor, *, offset: int, scale: float,
           interleaved: bool, backward: bool = False, out: torch.Tensor | None = None) -> torch.Tensor:
    """Rotate x (B, H, L, D) into out (a new tensor, or x itself for in place)."""
    batch, heads, length, dim = x.shape
    if out is None:
        out = torch.empty_like(x)
    half = dim // 2
    block_half = triton.next_power_of_2(half)
    # About 4 k elements per program keeps registers low and the grid large.
    block_l = 16 if interpreting() else max(1, min(64, 4096 // block_half))
    grid = (batch * heads, triton.cdiv(length, block_l))
    _rope_kernel[grid](
        x, out, inv_freq, *x.stride()[:3], *out.stride()[:3], heads, length, offset, scale,
        HALF=half, BLOCK_L=block_l, BLOCK_HALF=block_half, INTERLEAVED=interleaved,
        BACKWARD=backward, num_warps=4,
    )
    return out


class Rope(torch.autograd.Function):
    """Autograd wrapper; in place when asked, gradients rotated back by -angle."""

    @staticmethod
    def forward(ctx, q, k, offset, base, scale, interleaved, inplace):
        inv_freq = inverse_frequencies(q.shape[-1], base, q.device)
        options = dict(offset=offset, scale=scale, interleaved=interleaved)
        q_out = rotate(q, inv_freq, out=q if inplace else None, **options)
        k_out = rotate(k, inv_freq, out=k if inplace else None, **options)
        if inplace:
            ctx.mark_dirty(q, k)
        ctx.save_for_backward(inv_freq)
        ctx.options = options
        return q_out, k_out

    @staticmethod
    def backward(ctx, dq, dk):
        (inv_freq,) = ctx.saved_tensors
        grads = []
        for grad in (dq, dk):
            if grad is not None:
                grad = rotate(last_dim_contiguous(grad), inv_freq, backward=True, **ctx.options)
            grads.append(grad)
        return grads[0], grads[1], None, None, None, None, None


def rope(q, k, *, offset=0, base=10000.0, scale=1.0, interleaved=False, inplace=False):
    """The fused kernel behind `genotx.ops.rope.rope(..., backend="triton")`.

    q: (B, H, Lq, D), k: (B, Hk, Lk, D), CUDA, float16/bfloat16/float32, even D.
    Returns (q, k) rotated; with inplace=True they are q and k themselves.
    Inputs are assumed checked by the dispatcher.
    """
    require_cuda(q)
    if inplace and (q.stride(-1) != 1 or k.stride(-1) != 1):
        raise ValueError("in-place rope needs q and k with a contiguous last dim")
    if not inplace:
        q, k = last_dim_contiguous(q), last_dim_contiguous(k)
    return Rope.apply(q, k, int(offset), float(base), float(scale), bool(interleaved), bool(inplace))
