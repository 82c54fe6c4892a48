"""Held-out evaluation: exact token-weighted losses over a fixed set of windows, and their baselines.

The evaluation windows, their masks and augmentations do not depend on the
run's seed, so runs with different seeds or settings are scored on the same
positions. The baseline of a language-model loss is the unigram entropy of
the held-out tokens (the best loss of a model that ignores context); the
baseline of InfoNCE is log(batch size) (embeddings that carry nothing).

Example::

    batches, baseline, tokens_per_window = eval_batches(objective, split, tokenizer, cfg)
    result = evaluate(loss_module, batches, baseline)   # {'loss_per_token': ..., 'parts': {...}}
"""

from __future__ import annotations

import math

import numpy as np

from genotx.train.data import codes_to_strings, step_rng

EVAL_SEED = 20240611  # fixed: the same masked positions and views for every run


def unigram_entropy(token_lists: list[np.ndarray]) -> float:
    """Entropy (nats) of the token frequencies of ``token_lists``."""
    counts = np.bincount(np.concatenate(token_lists).astype(np.int64))
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def eval_batches(objective, split, tokenizer, cfg) -> tuple[list, float, float]:
    """Prepared evaluation batches, the baseline loss, and the mean tokens per window."""
    windows = split.eval_windows(cfg.eval_windows)
    tokens = tokenizer.encode_batch(codes_to_strings(windows.codes))
    tokens_per_window = float(np.mean([len(t) for t in tokens]))
    rng = step_rng(EVAL_SEED, 0, 0)
    size = cfg.batch_size
    n = len(windows.codes)
    # InfoNCE depends on the batch size: keep evaluation chunks full (a lone short tail is dropped).
    ends = list(range(size, n + 1, size)) or [n]
    batches = []
    chance = []
    for end in ends:
        part = slice(end - min(size, n), end)
        batches.append(objective.prepare(windows.codes[part], rng, offsets=windows.offsets[part], held_out=True))
        chance.append(math.log(len(windows.codes[part])))
    if objective.name == "contrastive":
        baseline = float(np.mean(chance))
    else:
        baseline = unigram_entropy(tokens)
    return batches, baseline, tokens_per_window


def evaluate(loss_module, batches: list, baseline: float, tokens_per_base: float, to_device) -> dict:
    """Mean held-out loss per part; the first part (the language-model loss when there is one) is the run's loss."""
    import torch

    sums: dict[str, list[float]] = {}
    was_training = loss_module.training
    loss_module.eval()
    with torch.no_grad():
        for batch in batches:
            parts = loss_module(to_device(batch))
            for name, (nats, count) in parts.parts.items():
                acc = sums.setdefault(name, [0.0, 0.0])
                acc[0] += nats
                acc[1] += count
    loss_module.train(was_training)
    means = {name: s / c for name, (s, c) in sums.items()}
    main = next(iter(means))
    per_token = means[main]
    per_base = None if main == "contrastive" else per_token * tokens_per_base
    return {"loss_per_token": per_token, "loss_per_base": per_base, "main": main, "parts": means, "baseline": baseline}
