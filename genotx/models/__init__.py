"""One configurable family of DNA language models (see docs/api.md, "Models").

    from genotx.models import ModelConfig, GenomicModel, save_checkpoint, load_checkpoint

`ModelConfig` imports without torch; the rest import torch on first use, so
command-line modules may import this package at the top.
"""

from __future__ import annotations

from genotx.models.config import ModelConfig

__all__ = ["ModelConfig", "GenomicModel", "ModelOutput", "GenerationCache", "save_checkpoint", "load_checkpoint"]

_LAZY = {
    "GenomicModel": "genotx.models.model",
    "ModelOutput": "genotx.models.model",
    "GenerationCache": "genotx.models.model",
    "save_checkpoint": "genotx.models.checkpoint",
    "load_checkpoint": "genotx.models.checkpoint",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'genotx.models' has no attribute {name!r}")
