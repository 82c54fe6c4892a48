"""Held-out evaluation: exact token-weighted losses over a fixed set of windows, and their baselines.

The evaluation windows, their masks and augmentations do not depend on the
run's seed, so runs with different seeds or settings are scored on the same
positions. The baseline of a language-model loss is the loss of the unigram model of
the held-out tokens on the same scored positions (the best a model that
ignores context can do); the baseline of InfoNCE is log(batch size)
(embeddings that carry nothing).

Example::

    batches, baselines, tokens_per_window = eval_batches(objective, split, tokenizer, cfg)
    result = evaluate(loss_module, batches, baselines, tokens_per_base, to_device)  # {'loss_per_token': ...}
"""

from __future__ import annotations

import math

import numpy as np

from genotx.io.codes import codes_to_strings
from genotx.objectives.windows import step_rng

EVAL_SEED = 20240611  # fixed: the same masked positions and views for every run


def _scored_labels(batch: dict):
    """The label tensor of a prepared batch (the language-model part of a combined one), or None."""
    if "labels" in batch:
        return batch["labels"]
    for part in batch.values():
        if isinstance(part, dict) and "labels" in part:
            return part["labels"]
    return None


def unigram_baseline(token_lists: list[np.ndarray], batches: list) -> float:
    """Mean -log p(label) over the scored positions, p the token frequencies of the held-out windows.

    Scoring the context-free model on exactly the positions the model is
    scored on makes the comparison paired: which tokens got masked cancels out.
    """
    counts = np.bincount(np.concatenate(token_lists).astype(np.int64))
    nats = -np.log(np.maximum(counts, 1) / counts.sum())
    labels = np.concatenate([lab[lab >= 0].numpy() for lab in map(_scored_labels, batches) if lab is not None])
    return float(nats[np.minimum(labels, len(nats) - 1)].mean())


def _track_baseline(batches: list) -> float | None:
    """Mean over tracks of the loss of predicting each track's held-out mean (binary: its entropy)."""
    import torch

    targets = [b["targets"] for b in batches if isinstance(b, dict) and "targets" in b]
    if not targets:
        return None
    t = torch.cat(targets).double()
    mean = t.mean(0)
    binary = ((t == 0) | (t == 1)).all(0)
    p = mean.clamp(1e-6, 1 - 1e-6)
    entropy = -(p * p.log() + (1 - p) * (1 - p).log())
    return float(torch.where(binary, entropy, t.var(0, unbiased=False)).mean())


def eval_batches(objective, split, tokenizer, cfg) -> tuple[list, dict, float]:
    """Prepared evaluation batches, the baseline of each loss part, and the mean tokens per window."""
    windows = split.eval_windows(cfg.eval_windows)
    tokens = tokenizer.encode_batch(codes_to_strings(windows.codes))
    tokens_per_window = float(np.mean([len(t) for t in tokens]))
    rng = step_rng(EVAL_SEED, 0, 0)
    size, n = cfg.batch_size, len(windows.codes)
    contrastive = "contrastive" in objective.name
    # InfoNCE depends on the batch size: its chunks stay full (a short tail is dropped unless it is all there is).
    ends = (list(range(size, n + 1, size)) or [n]) if contrastive else list(range(size, n, size)) + [n]
    batches, chance = [], []
    for i, end in enumerate(ends):
        begin = max(0, end - size) if contrastive else (ends[i - 1] if i else 0)
        batches.append(objective.prepare(windows.codes[begin:end], rng, offsets=windows.offsets[begin:end],
                                         held_out=True))
        chance.append(math.log(end - begin))
    baselines = {}
    if objective.name != "contrastive":
        baselines["mlm" if objective.name != "ar" else "ar"] = unigram_baseline(tokens, batches)
    if contrastive:
        baselines["contrastive"] = float(np.mean(chance))
    tracks = _track_baseline(batches)
    if tracks is not None:
        baselines["tracks"] = tracks
    return batches, baselines, tokens_per_window


def evaluate(loss_module, batches: list, baselines: dict, tokens_per_base: float, to_device) -> dict:
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
    return {"loss_per_token": per_token, "loss_per_base": per_base, "main": main, "parts": means,
            "baseline": baselines[main], "baselines": baselines}
