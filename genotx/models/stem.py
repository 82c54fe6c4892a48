"""Parts of a sequence classifier around the mixer layers: a convolutional stem and strand averaging.

* `ConvStem` (``ModelConfig.conv_stem = width``): one convolution of the
  token embeddings, ``x + gelu(conv(x))``, before the first block, as the
  convolution towers of Basenji (Kelley et al. 2018) and Enformer (Avsec et
  al. 2021) come before their dilated or attention layers. With
  single-base tokens each position then starts from a motif-sized window of
  bases instead of one base, which attention layers would otherwise have to
  assemble. Padding is zeroed first, so a row scores alike alone or in a batch.
* `strand_revcomp` / ``ModelConfig.strand_average``: post-hoc conjoining
  (Caduceus, Schiff et al. 2024): in evaluation the sequence head's logits are
  the mean of those of the sequence and of its reverse complement, so both
  strands of one element get the same prediction exactly.

Example::

    stem = ConvStem(ModelConfig(vocab_size=9, d_model=32, conv_stem=9))
    x = stem(embeddings, key_mask)                      # (B, L, 32)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genotx.models.config import ModelConfig
from genotx.models.rc import reverse_index
from genotx.tokenizers.layout import CLS_ID


class ConvStem(nn.Module):
    """x + gelu(conv1d(x)) over positions; width ``cfg.conv_stem`` (odd), d_model channels in and out."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.conv = nn.Conv1d(cfg.d_model, cfg.d_model, cfg.conv_stem, padding=cfg.conv_stem // 2)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None) -> torch.Tensor:
        if key_mask is not None:
            x = x.masked_fill(~key_mask[..., None], 0.0)
        return x + F.gelu(self.conv(x.transpose(1, 2)).transpose(1, 2))


def strand_revcomp(ids: torch.Tensor, seqlens: torch.Tensor | None, complement: torch.Tensor) -> torch.Tensor:
    """Token ids of the other strand of right-padded rows; a leading CLS stays first.

    The CLS token is no base: reversing it with the row would move the token a
    CLS-pooled head reads to the end.
    """
    batch, length = ids.shape
    lead = 1 if bool((ids[:, 0] == CLS_ID).all()) else 0
    body = ids[:, lead:]
    lengths = None if seqlens is None else seqlens - lead
    index = reverse_index(lengths, length - lead, batch, ids.device)
    flipped = complement[torch.gather(body, 1, index)]
    return torch.cat([ids[:, :lead], flipped], dim=1)
