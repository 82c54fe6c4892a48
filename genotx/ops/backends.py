"""What the dispatchers and the Triton wrappers of every op share.

A dispatcher called with `backend="auto"` takes Triton only for tensors a
kernel supports (CUDA, float16/bfloat16/float32) and otherwise says why at
debug level on the "genotx.ops" logger. A Triton wrapper refuses CPU tensors
unless the Triton interpreter runs the kernels on the CPU (TRITON_INTERPRET=1,
set by the tests before the kernels are imported).
"""

from __future__ import annotations

import logging
import os

import torch

TRITON_DTYPES = (torch.float16, torch.bfloat16, torch.float32)

log = logging.getLogger("genotx.ops")


def check_backend(backend: str, backends: tuple[str, ...]) -> None:
    if backend not in backends:
        raise ValueError(f"backend must be one of {', '.join(backends)}, got {backend!r}")


def auto_backend(op: str, unsupported: str | None, fallback: str) -> str:
    """"triton" when `unsupported` (why the kernel cannot take the call) is None, else `fallback`."""
    if unsupported is None:
        return "triton"
    log.debug("%s: %s instead of triton: %s", op, fallback, unsupported)
    return fallback


def triton_unsupported(x: torch.Tensor, max_head_dim: int | None = None) -> str | None:
    """Why a Triton kernel cannot take tensors like x (…, D), or None when it can."""
    if x.device.type != "cuda":
        return f"tensors are on {x.device.type}, the kernel needs CUDA"
    if x.dtype not in TRITON_DTYPES:
        return f"dtype {x.dtype} is not float16, bfloat16 or float32"
    if max_head_dim is not None and x.shape[-1] > max_head_dim:
        return f"head dim {x.shape[-1]} is above {max_head_dim}"
    try:
        import triton  # noqa: F401
    except ImportError:  # pragma: no cover - triton ships with CUDA builds of torch
        return "triton is not installed"
    return None


def interpreting() -> bool:
    """Whether Triton runs kernels as NumPy code on the CPU (tests only)."""
    return os.environ.get("TRITON_INTERPRET") == "1"


def require_cuda(x: torch.Tensor) -> None:
    if x.device.type != "cuda" and not interpreting():
        raise ValueError(f"the triton backend needs CUDA tensors, got {x.device.type} "
                         "(set TRITON_INTERPRET=1 before importing to run it on the CPU for testing)")


def last_dim_contiguous(x: torch.Tensor) -> torch.Tensor:
    """x itself when its features are contiguous (the kernels' one layout need), else a copy."""
    return x if x.stride(-1) == 1 else x.contiguous()
