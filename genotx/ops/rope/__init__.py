"""Rotary position embedding with one dispatch point.

    from genotx.ops.rope import rope
    q, k = rope(q, k, offset=cache_len, backend="auto")

Backends: "triton" (fused kernel, CUDA tensors of float16, bfloat16 or float32),
"reference" (plain PyTorch, reference.py) and "auto" (Triton for supported CUDA
tensors, else the reference; CPU tensors never reach Triton, and a fallback
says why at debug level on the "genotx.ops" logger).
"""

from __future__ import annotations

import torch  # noqa: F401  (the example in the docstring of rope)

from ..backends import auto_backend, check_backend, triton_unsupported
from . import reference

__all__ = ["rope", "BACKENDS"]

BACKENDS = ("auto", "triton", "reference")


def rope(q, k, *, offset=0, base=10000.0, scale=1.0, interleaved=False, inplace=False,
         q_positions=None, backend="auto"):
    """Rotate q and k by their positions; returns (q, k) in their dtypes.

    q: (B, H, Lq, D), k: (B, Hk, Lk, D) with even D, float16/bfloat16/float32.
    Row i of each is at position (offset + i) / scale; offset is an int >= 0
    (the number of cached tokens when decoding). q_positions: (B, Lq) ints, for
    queries picked out of a longer row: query row i of batch b is then at
    (offset + q_positions[b, i]) / scale (the reference only: the kernel
    rotates consecutive rows). interleaved picks the pair layout (x[2j],
    x[2j+1]) over rotate-half (x[j], x[j + D/2]). inplace=True writes the
    results into q and k (and returns them). See reference.py.

    >>> q = k = torch.randn(2, 4, 16, 32)
    >>> rq, rk = rope(q, k, offset=3)
    >>> rq.shape, rk.shape
    (torch.Size([2, 4, 16, 32]), torch.Size([2, 4, 16, 32]))
    """
    _check_inputs(q, k, offset, base, scale, q_positions, backend)
    options = dict(offset=int(offset), base=float(base), scale=float(scale),
                   interleaved=interleaved, inplace=inplace)
    if backend == "auto":
        unsupported = triton_unsupported(q)
        if unsupported is None and q_positions is not None:
            unsupported = "q_positions given, and the kernel rotates consecutive rows only"
        backend = auto_backend("rope", unsupported, "reference")
    if backend == "triton":
        from . import triton as triton_backend

        return triton_backend.rope(q, k, **options)
    return reference.rope(q, k, q_positions=q_positions, **options)


def _check_inputs(q, k, offset, base, scale, q_positions, backend):
    check_backend(backend, BACKENDS)
    if q.dim() != 4 or k.dim() != 4:
        raise ValueError(f"q and k must be (B, H, L, D), got {q.dim()}- and {k.dim()}-dimensional")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must have the same head dim, got {q.shape[-1]} and {k.shape[-1]}")
    if q.shape[-1] % 2:
        raise ValueError(f"head dim must be even to form rotation pairs, got {q.shape[-1]}")
    if q.dtype != k.dtype or not q.dtype.is_floating_point:
        raise ValueError(f"q and k must share one float dtype, got {q.dtype} and {k.dtype}")
    if q.device != k.device:
        raise ValueError(f"q and k must be on one device, got {q.device} and {k.device}")
    if int(offset) != offset or offset < 0:
        raise ValueError(f"offset must be an int >= 0, got {offset!r}")
    if not base > 0 or not scale > 0:
        raise ValueError(f"base and scale must be positive, got base={base} and scale={scale}")
    if q_positions is not None:
        if tuple(q_positions.shape) != (q.shape[0], q.shape[2]) or q_positions.dtype.is_floating_point:
            raise ValueError(f"q_positions must be (B, Lq) = ({q.shape[0]}, {q.shape[2]}) integers, "
                             f"got {tuple(q_positions.shape)} {q_positions.dtype}")
        if backend == "triton":
            raise ValueError("the triton backend rotates consecutive rows only; "
                             "q_positions needs backend 'reference' or 'auto'")
