"""Process-wide settings from the global CLI options, and lazy torch import.

Nothing here imports torch at module import time, so `genotx --help` stays
instant; library code calls `import_torch()` where it needs torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class Settings:
    threads: int | None = None
    quiet: bool = False
    debug: bool = False


settings = Settings()


def default_threads() -> int:
    """`GENOTX_THREADS` if set, else `OMP_NUM_THREADS` if set, else all cores available to this process."""
    for name in ("GENOTX_THREADS", "OMP_NUM_THREADS"):
        try:
            n = int(os.environ.get(name) or 0)
        except ValueError:
            n = 0
        if n > 0:
            return n
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def import_torch():
    """Import torch once and apply the thread setting; returns the module."""
    import torch

    threads = settings.threads or default_threads()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return torch


def cpu_has_bf16() -> bool:
    """True where the CPU multiplies bfloat16 natively (AVX512-BF16 or AMX); elsewhere bf16 is emulated and slow."""
    try:
        with open("/proc/cpuinfo") as fh:
            flags = fh.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def set_malloc(*, mmap_threshold: int, trim_threshold: int | None = None) -> bool:
    """Set glibc's malloc thresholds for this process (bytes); False where glibc is not the allocator.

    ``mmap_threshold``: blocks of at least this size get their own mapping, returned to
    the kernel when freed; smaller ones come from the heap. Setting it also stops glibc
    from raising the threshold by itself. ``trim_threshold``: free heap memory above
    this is handed back. Example: ``set_malloc(mmap_threshold=8 << 20)``.
    """
    import ctypes
    import ctypes.util

    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    ok = mallopt(m_mmap_threshold, mmap_threshold) == 1
    if trim_threshold is not None:
        ok = mallopt(m_trim_threshold, trim_threshold) == 1 and ok
    return ok
