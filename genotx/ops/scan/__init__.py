"""Mamba's selective scan with one dispatch point.

    from genotx.ops.scan import selective_scan
    y, state = selective_scan(u, delta, A, B, C, D, z, delta_bias=bias,
                              delta_softplus=True, return_last_state=True)

CUDA tensors go to mamba-ssm's fused scan where mamba-ssm was built with it
(`mamba_ssm_shim.py`); everything else, and a scan continued from a cached
state (which mamba-ssm's kernel does not take), runs the PyTorch scan of
reference.py. Both have the arguments of mamba-ssm's `selective_scan_ref`.
"""

from __future__ import annotations

from . import reference

__all__ = ["selective_scan"]


def selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                   return_last_state=False, initial_state=None):
    """u, delta, z: (batch, d, L); A: (d, n); B, C: (batch, n, L); D, delta_bias: (d,);
    initial_state: (batch, d, n) float32. Returns out (batch, d, L) in u's dtype
    [, last_state (batch, d, n) float32]."""
    if u.is_cuda and initial_state is None:
        cuda_scan = _cuda_scan()
        if cuda_scan is not None:
            return cuda_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state)
    return reference.selective_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus,
                                    return_last_state, initial_state)


def _cuda_scan():
    """mamba-ssm's fused scan, or None where mamba-ssm or its CUDA extension is missing."""
    try:
        from ..mamba_ssm_shim import import_mamba_ssm

        ssm = import_mamba_ssm()
    except ImportError:
        return None
    return ssm.selective_scan_fn if ssm.has_cuda_scan else None
