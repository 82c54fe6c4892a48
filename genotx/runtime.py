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
