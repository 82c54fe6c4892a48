"""The one place that imports mamba-ssm, with or without its CUDA extension.

mamba-ssm imports its compiled `selective_scan_cuda` at module level, so on a
machine where it was built without CUDA (`MAMBA_SKIP_CUDA_BUILD=TRUE`) even its
pure-PyTorch reference scan cannot be imported. `import_mamba_ssm()` puts a
stand-in module under that name first (any use of it raises a clear error),
points the `Mamba` module's `selective_scan_fn` at `selective_scan_ref`, and
reports whether the real CUDA scan is there.

Example::

    ssm = import_mamba_ssm()
    y = ssm.selective_scan_ref(u, delta, A, B, C, D)
    layer = ssm.Mamba(d_model=64, use_fast_path=False)   # runs on CPU
"""

from __future__ import annotations

import functools
import sys
import types
from dataclasses import dataclass


@dataclass(frozen=True)
class MambaSsm:
    selective_scan_ref: object
    selective_scan_fn: object  # the CUDA scan, or the reference where it is missing
    Mamba: type
    has_cuda_scan: bool


class _MissingExtension(types.ModuleType):
    # AttributeError (not RuntimeError) so that hasattr() probes, e.g. by inspect, still work.
    def __getattr__(self, name):
        raise AttributeError(
            f"selective_scan_cuda.{name}: mamba-ssm was built without its CUDA extension (selective_scan_cuda); "
            "genotx uses its own PyTorch scan instead")


@functools.lru_cache(maxsize=None)
def import_mamba_ssm() -> MambaSsm:
    """Import mamba-ssm's scan and Mamba module; raises ImportError if mamba-ssm is absent."""
    try:
        import selective_scan_cuda  # noqa: F401

        has_cuda_scan = True
    except ImportError:
        sys.modules.setdefault("selective_scan_cuda", _MissingExtension("selective_scan_cuda"))
        has_cuda_scan = False
    from mamba_ssm.modules import mamba_simple
    from mamba_ssm.ops import selective_scan_interface as ssi

    if not has_cuda_scan:
        mamba_simple.selective_scan_fn = ssi.selective_scan_ref
    return MambaSsm(
        selective_scan_ref=ssi.selective_scan_ref,
        selective_scan_fn=ssi.selective_scan_fn if has_cuda_scan else ssi.selective_scan_ref,
        Mamba=mamba_simple.Mamba,
        has_cuda_scan=has_cuda_scan,
    )
