"""Length extrapolation: held-out loss of a model trained on windows of L bases, at L, 2L, 4L, 8L.

Every length is scored on the same held-out bases: windows of the longest
length are cut into 2, 4, 8 ... shorter ones, so only the context the model
sees changes, not the sequence it is scored on. The loss is the training
objective's (masked-token or next-token cross-entropy) in nats per base.
A model with learned absolute positions has no position past its table: at
those lengths the result is ``CANNOT_RUN``, never an error.

Example::

    losses = extrapolation_losses(model, tok, "ar", ["genome.fa"], seq_len=256, factors=(1, 2, 4, 8),
                                  windows=64, eval_fraction=0.05)
    losses[8]    # 1.37, or 'cannot run'
"""

from __future__ import annotations

import numpy as np

from genotx.errors import InputError

CANNOT_RUN = "cannot run"


def held_out_windows(inputs: list[str], *, length: int, count: int, eval_fraction: float) -> np.ndarray:
    """(n, length) base codes from the held-out tail of the genomes (the tails pretraining never trains on)."""
    from genotx.io.genome import load_genome
    from genotx.objectives.windows import GenomeSplit

    genome = load_genome(inputs)
    longest_tail = int(np.ceil(genome.lengths * eval_fraction).max())
    if longest_tail < length:
        raise InputError(f"length extrapolation needs a held-out stretch of {length} bp, but the longest held-out "
                         f"part is {longest_tail} bp; use a larger corpus or fewer extrapolation lengths")
    split = GenomeSplit(genome, seq_len=length, eval_fraction=eval_fraction)
    return split.eval_windows(count).codes


def _fits(model, n_tokens: int) -> bool:
    return not (model.config.length_limited and n_tokens > model.config.max_len)


def window_loss(model, objective, codes: np.ndarray, *, seed: int, batch_size: int):
    """Loss in nats per base of ``objective`` over the windows ``codes``, or CANNOT_RUN."""
    import torch

    from genotx.objectives.windows import step_rng

    device = next(model.parameters()).device if hasattr(model, "parameters") else None
    rng = step_rng(seed, codes.shape[1], 0)
    nats = count = tokens = bases = 0.0
    with torch.no_grad():
        for start in range(0, len(codes), batch_size):
            batch = objective.prepare(codes[start : start + batch_size], rng, held_out=True)
            if not _fits(model, int(batch["inputs"].shape[1])):
                return CANNOT_RUN
            if device is not None:
                batch = {k: v.to(device) if hasattr(v, "to") else v for k, v in batch.items()}
            try:
                parts = objective.loss(model, {}, batch)
            except InputError:  # a length limit the model knows of and this check does not
                return CANNOT_RUN
            for part_nats, part_count in parts.parts.values():
                nats, count = nats + part_nats, count + part_count
            tokens, bases = tokens + parts.tokens, bases + parts.bases
    return (nats / count) * (tokens / bases)


def extrapolation_losses(model, tokenizer, objective_name: str, inputs: list[str], *, seq_len: int, factors,
                         windows: int, eval_fraction: float, batch_size: int = 16, seed: int = 20240611) -> dict:
    """{factor: nats per base or CANNOT_RUN} for windows of factor × seq_len bases (module docstring)."""
    from genotx.objectives import build_objective

    longest = max(factors)
    codes = held_out_windows(inputs, length=longest * seq_len, count=max(1, windows // longest),
                             eval_fraction=eval_fraction)
    import torch

    objective = build_objective(objective_name, tokenizer=tokenizer, split=None)
    model.eval()
    if torch.cuda.is_available():
        model.cuda()
    result = {}
    for factor in sorted(factors):
        length = factor * seq_len
        pieces = codes.reshape(len(codes) * (longest // factor), length) if longest % factor == 0 else codes[:, :length]
        # The same number of bases per forward pass at every length.
        per_batch = max(1, batch_size // factor)
        result[factor] = window_loss(model, objective, np.ascontiguousarray(pieces), seed=seed, batch_size=per_batch)
    return result


# -- Fixed scored bases ------------------------------------------------------------------------------
# The grid's windows above cut one long window into shorter ones, so a short window's bases are scored
# with less context than the same bases in the long window, and the first bases of every window with none.
# Below, the scored bases are the same L-base blocks at every length: only the context before them grows.


def scored_block_starts(length: int, *, seq_len: int, longest: int) -> np.ndarray:
    """Start of every block of ``seq_len`` bases of a sequence of ``length`` with ``longest`` bases up to its end."""
    return np.arange(longest - seq_len, length - seq_len + 1, seq_len, dtype=np.int64)


def context_windows(codes: np.ndarray, starts: np.ndarray, *, seq_len: int, window: int):
    """(windows ending with each scored block, the scored bases' positions in ``codes``): (n, window), (n, seq_len)."""
    index = (starts + seq_len - window)[:, None] + np.arange(window)[None, :]
    if index.size and (index.min() < 0 or index.max() >= len(codes)):
        raise ValueError(f"a window of {window} bases ending a scored block runs off the sequence")
    return codes[index], index[:, window - seq_len :]


def next_base_nats(model, tokenizer, windows: np.ndarray, *, batch_size: int):
    """(n, window) nats of each base given the bases before it in its window (AR, one token per base), or
    CANNOT_RUN when the model has no positions that far."""
    import torch
    import torch.nn.functional as F

    from genotx.objectives.ar import Autoregressive
    from genotx.objectives.common import model_inputs

    if not _fits(model, windows.shape[1]):
        return CANNOT_RUN
    objective = Autoregressive(tokenizer=tokenizer, rc_aug=False)
    rows = []
    with torch.no_grad():
        for start in range(0, len(windows), batch_size):
            batch = objective.prepare(windows[start : start + batch_size], None)
            if batch["labels"].shape[1] != windows.shape[1]:
                raise ValueError("per-base scoring needs a tokenizer with one token per base (char)")
            out = model(*model_inputs(batch["inputs"], batch["mask"]))
            nats = F.cross_entropy(out.logits.float().transpose(1, 2), batch["labels"], reduction="none")
            rows.append(nats.numpy())
    return np.concatenate(rows)
