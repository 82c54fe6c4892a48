"""Task-adaptive pretraining (``finetune --adapt-steps N``): MLM on the training sequences first.

Gururangan et al. (2020) found that continuing masked-language-model training
on a task's own unlabelled inputs helps the classifier trained after it. Here
a language-model copy of the fresh backbone trains ``N`` MLM steps (BERT
masking, see objectives/mlm.py) on the training sequences, labels unused, and
its weights go back into the classifier before fine-tuning starts.

Example::

    adapt_backbone(model, tokenizer, data.train_seqs, steps=200, batch_size=32, lr=1e-3, seed=0)
"""

from __future__ import annotations

import numpy as np

from genotx.progress import progress
from genotx.runtime import import_torch


def adapt_backbone(model, tokenizer, seqs: list[str], *, steps: int, batch_size: int, lr: float, seed: int) -> float:
    """Train ``model``'s backbone with MLM on ``seqs`` for ``steps`` steps, in place; returns the last loss."""
    torch = import_torch()
    from genotx.models import GenomicModel
    from genotx.models.windows import token_rows, window_starts
    from genotx.objectives.common import IGNORE
    from genotx.objectives.mlm import mask_tokens

    window = model.config.max_len - 1
    pieces = [s[a : a + window] for s in seqs for a in window_starts(len(s), window)]
    lm = GenomicModel(model.config.replace(head="lm", n_outputs=0, strand_average=False, pooling="mean"))
    lm.load_backbone_from(model)
    optimizer = torch.optim.AdamW(lm.parameters(), lr=lr, weight_decay=0.01)
    rng = np.random.default_rng([seed, 41])
    loss = torch.zeros(())
    lm.train()
    with progress("adapt (MLM)", total=steps) as bar:
        for step in range(steps):
            for group in optimizer.param_groups:  # linear warm-up over the first tenth
                group["lr"] = lr * min(1.0, (step + 1) / max(1, steps // 10))
            batch = [pieces[i] for i in rng.integers(len(pieces), size=batch_size)]
            ids, mask = token_rows(tokenizer, batch, model.config.max_len)
            full_mask = torch.ones_like(ids, dtype=torch.bool) if mask is None else mask
            inputs, labels = mask_tokens(ids, full_mask, rng, rate=0.15, vocab_size=model.config.vocab_size)
            logits = lm(inputs, mask).logits
            loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(lm.parameters(), 1.0)
            optimizer.step()
            bar.advance(1, status=f"MLM loss {loss.item():.4f}")
    model.load_backbone_from(lm)
    return float(loss.item())
