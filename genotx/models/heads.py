"""Task heads on the final hidden states.

* `lm`             logits over the vocabulary, tied to the token embedding (MLM and AR);
* `classify`       (B, n_outputs) class logits from the pooled sequence (mean or CLS);
* `regress`        (B, n_outputs) real values from the pooled sequence;
* `token_classify` (B, L, n_outputs) per-token class logits.

RC-equivariant models call the heads with both strands: `pool` each strand and
average (invariant), per-token heads see the strand-averaged hidden states
(equivariant); the LM head maps the reverse strand's logits through the
complement of each token (see `GenomicModel`).

Example::

    head = SequenceHead(cfg)
    logits = head(head.pool(hidden, key_mask))
"""

from __future__ import annotations

import torch
from torch import nn

from genotx.models.config import ModelConfig


def mean_pool(hidden: torch.Tensor, key_mask: torch.Tensor | None) -> torch.Tensor:
    """Average over real tokens: (B, L, d) -> (B, d)."""
    if key_mask is None:
        return hidden.mean(dim=1)
    weights = key_mask.to(hidden.dtype)[..., None]
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


def max_pool(hidden: torch.Tensor, key_mask: torch.Tensor | None) -> torch.Tensor:
    """Largest value of each channel over real tokens (a motif counts wherever it is): (B, L, d) -> (B, d)."""
    if key_mask is None:
        return hidden.amax(dim=1)
    return hidden.masked_fill(~key_mask[..., None], float("-inf")).amax(dim=1)


class SequenceHead(nn.Module):
    """One vector per sequence -> n_outputs (classification logits or regression values)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.pooling = cfg.pooling
        self.proj = nn.Linear(cfg.d_model, cfg.n_outputs)

    def pool(self, hidden: torch.Tensor, key_mask: torch.Tensor | None) -> torch.Tensor:
        if self.pooling == "max":
            return max_pool(hidden, key_mask)
        return hidden[:, 0] if self.pooling == "cls" else mean_pool(hidden, key_mask)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.proj(pooled)


class TokenHead(nn.Module):
    """Per-token outputs: (B, L, d) -> (B, L, n_outputs)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.proj = nn.Linear(cfg.d_model, cfg.n_outputs)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.proj(hidden)


# The LM head has no parameters of its own (tied to the embedding), so it has no class.
HEADS = {"classify": SequenceHead, "regress": SequenceHead, "token_classify": TokenHead}
