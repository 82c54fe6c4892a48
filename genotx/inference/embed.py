"""Sequence embeddings from any model a `ModelAdapter` reads: one vector per record.

A record's tokens are run through the model and the hidden states of one
layer are pooled over the record's own tokens:

- ``mean`` (default): the mean over the sequence tokens; special tokens and
  padding never enter it;
- ``max``: the element-wise maximum over the same tokens;
- ``cls``: the hidden state of the first special token (models that frame a
  sequence with one, e.g. [CLS] or <cls>).

A record longer than the model reads at once is cut into windows of
``window`` bases that start every ``stride`` bases (the last window ends at
the last base, so every base is read; `genotx.models.windows.base_windows`),
for every kind of token alike. The default window is ``adapter.window_bases``:
all the model reads (k-mer tokens: tokens + k - 1 bases; the Nucleotide
Transformer's 6-mers: six bases a token, a window made too long by Ns read as
two halves). Each window is tokenised and run on its own, and the windows are
pooled again: mean weighted by their token counts (so the overlaps count
twice), max over windows, cls averaged. With ``rc_average`` the embedding is
the mean of the sequence's and its reverse complement's.

Speed: the windows of a whole input batch are sorted by length and run in
batches of similar length, so little padding is computed (a batch of equal
lengths carries no attention mask at all); torch runs in inference mode.

Example::

    vectors = embed_sequences(adapter, ["ACGT" * 30, "GGCA" * 10], EmbedOptions(pooling="mean"))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genotx.errors import InputError
from genotx.io.reader import revcomp
from genotx.models.windows import base_windows, window_starts  # noqa: F401 (window_starts: part of this API)
from genotx.runtime import import_torch

POOLINGS = ("mean", "max", "cls")


@dataclass(frozen=True)
class EmbedOptions:
    layer: int = -1
    pooling: str = "mean"
    rc_average: bool = False
    window: int | None = None  # bases per window; default: all the model reads
    stride: int | None = None  # bases between window starts; default: window // 2
    batch_size: int = 64  # windows per forward pass

    def __post_init__(self):
        if self.pooling not in POOLINGS:
            raise InputError(f"--pooling must be one of {', '.join(POOLINGS)}, got {self.pooling!r}")
        if self.window is not None and self.window < 1 or self.stride is not None and self.stride < 1:
            raise InputError("--window and --stride must be positive numbers of bases")


def _check(adapter, options: EmbedOptions) -> tuple[int, int]:
    adapter.layer_index(options.layer)
    if options.pooling == "cls" and not adapter.prefix:
        raise InputError(f"{adapter.source}: --pooling cls needs a model that puts a special token before the "
                         "sequence; this one reads the bare tokens (use mean or max)")
    if options.pooling == "cls" and adapter.kind == "ar":
        raise InputError(f"{adapter.source}: --pooling cls on a causal model sees only the start token; use mean or max")
    limit = adapter.window_bases
    window = options.window or limit
    if window > limit:
        raise InputError(f"--window {window}: the model reads at most {limit} bases at once "
                         f"({adapter.max_sequence_tokens} tokens)")
    return window, options.stride or max(1, window // 2)


def _pool(hidden, batch, pooling: str):
    torch = import_torch()
    if pooling == "cls":
        return hidden[:, 0]
    real = batch.real.unsqueeze(-1)
    if pooling == "max":
        return hidden.masked_fill(~real, float("-inf")).amax(1)
    return (hidden * real).sum(1) / real.sum(1).clamp(min=1).to(hidden.dtype)


def embed_sequences(adapter, seqs: list[str], options: EmbedOptions = EmbedOptions(), ids: list[str] | None = None) -> np.ndarray:
    """(len(seqs), d) float32 embeddings in the order of ``seqs``; see the module docstring."""
    torch = import_torch()
    window, stride = _check(adapter, options)
    strands = [seqs, [revcomp(s) for s in seqs]] if options.rc_average else [seqs]
    pieces = []  # (strand, record, token ids of one window)
    for strand, sequences in enumerate(strands):
        for i, seq in enumerate(sequences):
            windows = [(strand, i, tokens) for _, _, tokens in base_windows(adapter, seq, window, stride) if len(tokens)]
            if not windows:
                name = ids[i] if ids else f"#{i + 1}"
                raise InputError(f"record {name!r}: {len(seq)} bp give no token for this model (too short)")
            pieces.extend(windows)
    order = sorted(range(len(pieces)), key=lambda p: len(pieces[p][2]))
    pooled = np.zeros((len(pieces), adapter.d_model), np.float32)
    with torch.inference_mode():
        for start in range(0, len(order), options.batch_size):
            chosen = order[start : start + options.batch_size]
            batch = adapter.batch([pieces[p][2] for p in chosen])
            vectors = _pool(adapter.hidden(batch, options.layer), batch, options.pooling)
            pooled[chosen] = vectors.float().cpu().numpy()
    return _combine(pieces, pooled, len(seqs), len(strands), options.pooling)


def _combine(pieces, pooled: np.ndarray, n: int, n_strands: int, pooling: str) -> np.ndarray:
    """Windows pooled into records (token-weighted for mean), strands averaged."""
    d = pooled.shape[1]
    total = np.zeros((n_strands, n, d), np.float64)
    weight = np.zeros((n_strands, n), np.float64)
    if pooling == "max":
        total.fill(-np.inf)
    for (strand, record, tokens), vector in zip(pieces, pooled):
        if pooling == "max":
            np.maximum(total[strand, record], vector, out=total[strand, record])
            continue
        w = len(tokens) if pooling == "mean" else 1
        total[strand, record] += w * vector
        weight[strand, record] += w
    if pooling != "max":
        total /= weight[..., None]
    return total.mean(0).astype(np.float32)
