"""Rotary position embedding with one dispatch point.

    from genotx.ops.rope import rope
    q, k = rope(q, k, offset=cache_len, backend="auto")

Backends: "triton" (fused kernel, CUDA tensors of float16, bfloat16 or float32),
"reference" (plain PyTorch, reference.py) and "auto" (Triton for supported CUDA
tensors, else the reference; CPU tensors never reach Triton, and a fallback
says why at debug level on the "genotx.ops" logger).
"""

from __future__ import annotations

import logging

import torch

from . import reference

__all__ = ["rope", "BACKENDS"]

BACKENDS = ("auto", "triton", "reference")
TRITON_DTYPES = (torch.float16, torch.bfloat16, torch.float32)

log = logging.getLogger("genotx.ops")


def rope(q, k, *, offset=0, base=10000.0, scale=1.0, interleaved=False, inplace=False,
         backend="auto"):
    """Rotate q and k by their positions; returns (q, k) in their dtypes.

    q: (B, H, Lq, D), k: (B, Hk, Lk, D) with even D, float16/bfloat16/float32.
    Row i of each is at position (offset + i) / scale; offset is an int >= 0
    (the number of cached tokens when decoding). interleaved picks the pair
    layout (x[2j], x[2j+1]) over rotate-half (x[j], x[j + D/2]). inplace=True
    writes the results into q and k (and returns them). See reference.py.

    >>> q = k = torch.randn(2, 4, 16, 32)
    >>> rq, rk = rope(q, k, offset=3)
    >>> rq.shape, rk.shape
    (torch.Size([2, 4, 16, 32]), torch.Size([2, 4, 16, 32]))
    """
    _check_inputs(q, k, offset, base, scale, backend)
    options = dict(offset=int(offset), base=float(base), scale=float(scale),
                   interleaved=interleaved, inplace=inplace)
    if backend == "auto":
        reason = triton_unsupported(q)
        if reason is None:
            backend = "triton"
        else:
            backend = "reference"
            log.debug("rope: reference instead of triton: %s", reason)
    if backend == "triton":
        from . import triton as triton_backend

        return triton_backend.rope(q, k, **options)
    return reference.rope(q, k, **options)


def triton_unsupported(q) -> str | None:
    """Why the Triton kernel cannot take this call, or None when it can."""
    if q.device.type != "cuda":
        return f"tensors are on {q.device.type}, the kernel needs CUDA"
    if q.dtype not in TRITON_DTYPES:
        return f"dtype {q.dtype} is not float16, bfloat16 or float32"
    return None


def _check_inputs(q, k, offset, base, scale, backend):
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
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
