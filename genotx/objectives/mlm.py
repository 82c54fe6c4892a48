"""Masked language modelling (BERT): mask 15 % of tokens, replace 80/10/10, predict the originals.

Of the chosen positions 80 % become MASK, 10 % a random sequence token and
10 % stay unchanged, so the model cannot learn that only MASK positions
matter (Devlin et al. 2019, section 3.1). The loss is the mean cross-entropy
over chosen positions.

Example::

    inputs, labels = mask_tokens(ids, mask, rng, rate=0.15, vocab_size=9)
"""

from __future__ import annotations

import numpy as np

from genotx.objectives.common import FIRST_REAL, IGNORE, MASK_ID, LossParts, model_inputs, token_count, tokenize_windows


def mask_tokens(ids, attention_mask, rng: np.random.Generator, *, rate: float, vocab_size: int):
    """Return (masked inputs, labels) as new tensors; labels are IGNORE off the chosen positions."""
    import torch

    real = attention_mask.numpy() & (ids.numpy() >= FIRST_REAL)
    chosen = (rng.random(ids.shape) < rate) & real
    if not chosen.any():  # at least one prediction per batch keeps the loss defined
        rows, cols = np.nonzero(real)
        pick = rng.integers(len(rows))
        chosen[rows[pick], cols[pick]] = True
    action = rng.random(ids.shape)
    random_ids = rng.integers(FIRST_REAL, vocab_size, size=ids.shape)
    inputs = ids.numpy().copy()
    inputs[chosen & (action < 0.8)] = MASK_ID
    swap = chosen & (action >= 0.8) & (action < 0.9)
    inputs[swap] = random_ids[swap]
    labels = np.where(chosen, ids.numpy(), IGNORE)
    return torch.from_numpy(inputs), torch.from_numpy(labels)


class MaskedLM:
    """Objective ``mlm``: windows from both strands, loss on masked tokens."""

    name = "mlm"
    causal = False
    both_strands = True

    def __init__(self, *, tokenizer, mask_rate: float):
        self.tokenizer = tokenizer
        self.mask_rate = mask_rate

    def heads(self, d_model: int) -> dict:
        return {}

    def prepare(self, codes: np.ndarray, rng: np.random.Generator, **_) -> dict:
        ids, mask = tokenize_windows(self.tokenizer, codes)
        inputs, labels = mask_tokens(ids, mask, rng, rate=self.mask_rate, vocab_size=self.tokenizer.vocab_size)
        return {"inputs": inputs, "labels": labels, "mask": mask, "bases": codes.size}

    def loss(self, model, heads, batch: dict, out=None) -> LossParts:
        """Mean cross-entropy at the masked positions; ``out`` must then hold (N, vocab) logits of those."""
        import torch.nn.functional as F

        labels = batch["labels"]
        chosen = labels != IGNORE
        if out is None:  # logits at the masked positions only: (N, vocab)
            out = model(*model_inputs(batch["inputs"], batch["mask"]), logit_mask=chosen, masked_only=True)
        nats = F.cross_entropy(out.logits.float(), labels[chosen], reduction="sum")
        count = int(chosen.sum())
        return LossParts(
            nats / count,
            {self.name: (float(nats.detach()), count)},
            tokens=token_count(batch["mask"]),
            bases=batch["bases"],
        )
