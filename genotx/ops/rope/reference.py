"""Rotary position embedding (RoPE) in plain PyTorch: the definition of the kernel.

Row i of a (B, H, L, D) tensor sits at position p = (offset + i) / scale
(scale > 1 interpolates positions to stretch a model to longer inputs). Its
D features form D/2 pairs; pair j is rotated by the angle p * theta_j with
theta_j = base^(-2j / D):

    (x1, x2) -> (x1 cos - x2 sin,  x2 cos + x1 sin)

The pairs are (x[j], x[j + D/2]) in the rotate-half layout (GPT-NeoX, Llama)
and (x[2j], x[2j + 1]) in the interleaved layout (GPT-J, the RoFormer paper).
Angles and the rotation are computed in float32 (float64 for float64 input, the
yardstick of the tests) and the result is cast back to the input dtype.
Rotating by -angle undoes the rotation, which is also the backward pass.
"""

from __future__ import annotations

import torch


def inverse_frequencies(dim: int, base: float = 10000.0, device=None,
                        dtype=torch.float32) -> torch.Tensor:
    """theta_j = base^(-2j / dim) for j < dim / 2.

    >>> inverse_frequencies(4, base=100.0).tolist()
    [1.0, 0.10000000149011612]
    """
    exponents = torch.arange(0, dim, 2, device=device, dtype=dtype) / dim
    return 1.0 / (base ** exponents)


def angles(length: int, dim: int, *, offset: int = 0, base: float = 10000.0,
           scale: float = 1.0, device=None, dtype=torch.float32, rows=None) -> torch.Tensor:
    """Rotation angle of every (row, pair): (length, dim / 2).

    rows: (B, length) ints, the index of each row in its sequence when not
    0, 1, ... (queries picked out of a longer row); the angles are then
    (B, 1, length, dim / 2), one per batch row and shared by the heads.
    """
    if rows is None:
        positions = torch.arange(offset, offset + length, device=device, dtype=dtype) / scale
    else:
        positions = (rows[:, None].to(device=device, dtype=dtype) + offset) / scale
    return positions[..., None] * inverse_frequencies(dim, base, device, dtype)


def rotate(x: torch.Tensor, angle: torch.Tensor, *, interleaved: bool = False) -> torch.Tensor:
    """Rotate the feature pairs of x (..., L, D) by angle (..., L, D/2); same dtype as x."""
    cos, sin = angle.cos(), angle.sin()
    x32 = x.to(angle.dtype)
    if interleaved:
        x1, x2 = x32[..., 0::2], x32[..., 1::2]
    else:
        x1, x2 = x32.chunk(2, dim=-1)
    y1 = x1 * cos - x2 * sin
    y2 = x2 * cos + x1 * sin
    if interleaved:
        y = torch.stack((y1, y2), dim=-1).flatten(-2)
    else:
        y = torch.cat((y1, y2), dim=-1)
    return y.to(x.dtype)


def rope(q, k, *, offset=0, base=10000.0, scale=1.0, interleaved=False, inplace=False,
         q_positions=None):
    """Rotate q and k (B, H, L, D) by their positions; returns (q, k).

    Row i is at position (offset + i) / scale, a query row i of batch b at
    (offset + q_positions[b, i]) / scale when q_positions (B, Lq) is given.
    With inplace=True the results are written into q and k as well.

    >>> q = k = torch.randn(1, 2, 6, 8)
    >>> rq, rk = rope(q, k, offset=10)
    >>> rq.shape
    torch.Size([1, 2, 6, 8])
    """
    rotated = []
    for x, rows in ((q, q_positions), (k, None)):
        angle = angles(x.shape[-2], x.shape[-1], offset=offset, base=base, scale=scale, rows=rows,
                       device=x.device, dtype=torch.promote_types(x.dtype, torch.float32))
        y = rotate(x, angle, interleaved=interleaved)
        rotated.append(x.copy_(y) if inplace else y)
    return tuple(rotated)
