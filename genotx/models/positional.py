"""Positional encodings: absolute ones added to the token embeddings, relative ones for attention.

* `sinusoidal`   fixed sin/cos of the position (Vaswani et al.), any length;
* `learned`      one trained vector per position up to `max_len`;
* `hierarchical` the sum of three learned tables: position within the codon
                 (frame 0-2, or 3 = not coding), exon index, and a sinusoidal code
                 of the offset within the gene; from an annotation track, else
                 frame = position mod 3, exon 0, offset = position;
* `rope`         rotary on q/k inside attention (`genotx.ops.rope`);
* `alibi`        per-head linear distance bias inside attention (`alibi_slopes`).

Absolute encodings take `positions` (B, L) long so that cached generation and the
reverse strand of RC-equivariant models can give each token its own position.

Example::

    pe = AbsolutePE.build(cfg)              # None for rope / alibi
    x = embed(ids) + pe(positions, annotation)
"""

from __future__ import annotations

import math

import torch
from torch import nn

from genotx.errors import InputError
from genotx.models.config import ModelConfig

NONCODING_FRAME = 3  # annotation frame value of bases outside a coding sequence


def sinusoid(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """sin/cos code of integer positions (...,) -> (..., dim) float32, period up to 10000 * 2 pi.

    >>> sinusoid(torch.tensor([0, 1]), 4).shape
    torch.Size([2, 4])
    """
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=positions.device, dtype=torch.float32) / half)
    angle = positions.float()[..., None] * freqs
    code = torch.cat([angle.sin(), angle.cos()], dim=-1)
    if dim % 2:
        code = torch.nn.functional.pad(code, (0, 1))
    return code


class SinusoidalPE(nn.Module):
    """The sin/cos code scaled to the token embeddings' size at init (RMS ``embed_std`` per component).

    Unscaled, each component is +-1 while token embeddings start at std 0.02: the
    sum is then almost all position, and after the first LayerNorm the model sees
    its tokens through a 3 % signal. Small budgets never recover (the loss stays
    at the unigram baseline). Vaswani et al. met the same mismatch by multiplying
    the embeddings by sqrt(d_model); scaling the code instead keeps the tied
    output layer unchanged.
    """

    def __init__(self, cfg: ModelConfig, embed_std: float):
        super().__init__()
        self.d_model = cfg.d_model
        self.scale = embed_std * math.sqrt(2.0)  # a sin/cos component has RMS 1/sqrt(2)

    def forward(self, positions: torch.Tensor, annotation: torch.Tensor | None = None) -> torch.Tensor:
        return sinusoid(positions, self.d_model) * self.scale


class LearnedPE(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.max_len = cfg.max_len
        self.table = nn.Embedding(cfg.max_len, cfg.d_model)

    def forward(self, positions: torch.Tensor, annotation: torch.Tensor | None = None) -> torch.Tensor:
        longest = int(positions.max()) + 1 if positions.numel() else 0
        if longest > self.max_len:
            raise InputError(
                f"pe='learned' has positions 0..{self.max_len - 1} (max_len={self.max_len}) but the input reaches "
                f"position {longest - 1}: cut the input to {self.max_len} tokens, or train with pe='rope' or pe='alibi', which have no length limit")
        return self.table(positions)


class HierarchicalPE(nn.Module):
    """Codon frame + exon index + offset within the gene, summed.

    `annotation` (B, L, 3) long gives, per token (its first base), the frame
    (0, 1, 2, or 3 outside coding sequence), the exon index (0 = not in an exon;
    indices >= n_exons share the last slot) and the offset in bases from the gene
    start. Without it: frame = position mod 3, exon 0, offset = position.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.d_model = cfg.d_model
        self.n_exons = cfg.n_exons
        self.frame = nn.Embedding(NONCODING_FRAME + 1, cfg.d_model)
        self.exon = nn.Embedding(cfg.n_exons, cfg.d_model)
        # The gene offset is unbounded, so it is a fixed sinusoid through a learned map.
        self.offset = nn.Linear(cfg.d_model, cfg.d_model, bias=False)

    def forward(self, positions: torch.Tensor, annotation: torch.Tensor | None = None) -> torch.Tensor:
        if annotation is None:
            frame, exon, offset = positions % 3, torch.zeros_like(positions), positions
        else:
            if annotation.shape != (*positions.shape, 3):
                raise InputError(f"annotation must be (batch, length, 3) = {(*positions.shape, 3)}, got {tuple(annotation.shape)}")
            annotation = annotation.long()
            frame, exon, offset = annotation.unbind(-1)
            if bool(((frame < 0) | (frame > NONCODING_FRAME)).any()):
                raise InputError(f"annotation frame must be 0, 1, 2 or {NONCODING_FRAME} (not coding)")
            if bool(((exon < 0) | (offset < 0)).any()):
                raise InputError("annotation exon index and gene offset must be >= 0")
            exon = exon.clamp(max=self.n_exons - 1)
        code = sinusoid(offset, self.d_model).to(self.offset.weight.dtype)
        return self.frame(frame) + self.exon(exon) + self.offset(code)


ABSOLUTE_PES = {"sinusoidal": SinusoidalPE, "learned": LearnedPE, "hierarchical": HierarchicalPE}


def build_absolute_pe(cfg: ModelConfig, embed_std: float) -> nn.Module | None:
    """The module added to the embeddings, or None for rope / alibi (they act in attention).
    ``embed_std``: the init std of the embedding tables, the scale of the fixed sinusoidal code."""
    if cfg.pe == "sinusoidal":
        return SinusoidalPE(cfg, embed_std)
    cls = ABSOLUTE_PES.get(cfg.pe)
    return cls(cfg) if cls is not None else None
