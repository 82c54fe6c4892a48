"""Autoregressive next-token prediction, optionally on a random strand per window.

Every window starts with CLS as its start symbol, so the loss covers every
token of the window (the first one is predicted from CLS alone) and
`genotx generate` can start from nothing. With ``rc_aug`` half the windows are
reverse complemented, which teaches the model both strands of the genome.

Example::

    objective = Autoregressive(tokenizer=tok, rc_aug=True)
"""

from __future__ import annotations

import numpy as np

from genotx.objectives.common import IGNORE, PAD_ID, LossParts, model_inputs, token_count, tokenize_windows


class Autoregressive:
    """Objective ``ar``: causal model, cross-entropy of each token given the ones before it."""

    name = "ar"
    causal = True

    def __init__(self, *, tokenizer, rc_aug: bool):
        self.tokenizer = tokenizer
        self.both_strands = rc_aug

    def heads(self, d_model: int) -> dict:
        return {}

    def prepare(self, codes: np.ndarray, rng: np.random.Generator, **_) -> dict:
        ids, mask = tokenize_windows(self.tokenizer, codes, bos=True)
        labels = ids[:, 1:].clone()
        labels[~mask[:, 1:]] = IGNORE
        labels[labels == PAD_ID] = IGNORE
        return {"inputs": ids[:, :-1], "mask": mask[:, :-1], "labels": labels, "full_mask": mask, "bases": codes.size}

    def loss(self, model, heads, batch: dict, out=None) -> LossParts:
        import torch.nn.functional as F

        if out is None:
            out = model(*model_inputs(batch["inputs"], batch["mask"]))
        labels = batch["labels"]
        nats = F.cross_entropy(out.logits.float().flatten(0, 1), labels.flatten(), ignore_index=IGNORE, reduction="sum")
        count = int((labels != IGNORE).sum())
        return LossParts(
            nats / count,
            {self.name: (float(nats.detach()), count)},
            tokens=token_count(batch["full_mask"], bos=True),
            bases=batch["bases"],
        )
