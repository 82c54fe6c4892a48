"""Base-level attention and attribution of a Hugging Face model, for `genotx motifs`.

The same two readings as `genotx.motifs.collect` gives a genotx model, made
through the model's `genotx.models.hf.HfAdapter`:

- attention: each layer's attention probabilities, asked of transformers with
  ``output_attentions`` (the model switches to its eager attention, the only
  one that returns them), mapped from tokens to bases by the tokens' offsets
  (`genotx.motifs.collect.base_attention`). A DNABERT 6-mer covers six bases, so
  a key token's weight is shared among its six bases and a query base takes
  the mean row of the six tokens that cover it; the framing tokens ([CLS],
  [SEP], <cls>, <eos>) cover no base and drop out. Any model with attention
  layers is read: a classifier, an MLM or a bare encoder.
- attribution (``--attribution``): |gradient . embedding| per token, shared
  among its bases, of what the model outputs: the predicted class's logit
  minus the mean logit (classifier), the value (regressor), the
  log-likelihood of the sequence's own tokens (MLM). A bare encoder outputs
  nothing to explain and is refused.

A sequence longer than the model reads at once is read up to its first
``adapter.max_sequence_tokens`` tokens, as a genotx model's is up to its
``max_len``.

Example::

    for layers in attention_by_base(adapter, ["ACGT" * 30]):
        layers[0][1]      # (L, L) attention of head 1 of layer 0, by base
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from genotx.errors import InputError
from genotx.motifs.collect import base_attention, coverage
from genotx.runtime import import_torch


def _rows(adapter, seqs: list[str]):
    """(TokenBatch, per-sequence offsets of every row position: framing and padding cover no base)."""
    lead, limit = len(adapter.prefix), adapter.max_sequence_tokens
    rows, offsets = [], []
    for seq in seqs:
        ids, offs = adapter.tokenize(seq)
        if len(ids) == 0:
            raise InputError(f"a sequence of {len(seq)} bp gives no token for {adapter.source} (too short)")
        rows.append(ids[:limit])
        offsets.append(offs[:limit])
    batch = adapter.batch(rows)
    width = batch.ids.shape[1]
    framed = []
    for offs in offsets:
        full = np.zeros((width, 2), np.int64)  # [0, 0): covers nothing
        full[lead : lead + len(offs)] = offs
        framed.append(full)
    return batch, framed


def attention_by_base(adapter, seqs: list[str], batch_size: int = 16) -> Iterator:
    """Yield, per sequence, a list over layers of (H, L, L) float32 base attention (see the module docstring)."""
    torch = import_torch()
    for lo in range(0, len(seqs), batch_size):
        chunk = seqs[lo : lo + batch_size]
        batch, offsets = _rows(adapter, chunk)
        with torch.inference_mode():
            layers = [a.float().cpu().numpy() for a in adapter.attentions(batch)]
        if not layers:
            raise InputError(f"{adapter.source}: the model returns no attention; use --attribution")
        for b, seq in enumerate(chunk):
            yield [base_attention(a[b], offsets[b], len(seq)).astype(np.float32) for a in layers]


def _explained(adapter, batch):
    """The scalar whose gradient is read: see the module docstring."""
    if adapter.kind == "classifier":
        logits = adapter.logits(batch)
        return (logits - logits.mean(1, keepdim=True)).gather(1, logits.argmax(1, keepdim=True)).sum()
    if adapter.kind == "regressor":
        return adapter.logits(batch).sum()
    if adapter.kind == "mlm":
        logp = adapter.log_probs(batch).gather(-1, batch.ids.unsqueeze(-1)).squeeze(-1)
        return (logp * batch.real).sum()
    raise InputError(f"{adapter.source}: a {adapter.kind} model ({type(adapter.model).__name__}) has no output to "
                     "attribute (no class, value or token probabilities); motifs from its attention need no "
                     "--attribution")


def gradient_x_input(adapter, seqs: list[str], batch_size: int = 16) -> Iterator:
    """Yield, per sequence, a (L,) float array: |gradient . embedding| of the explained output, by base."""
    embedding = adapter.model.get_input_embeddings()
    captured = {}

    def keep(_module, _inputs, output):
        output.retain_grad()
        captured["x"] = output

    adapter.model.eval()
    handle = embedding.register_forward_hook(keep)
    try:
        for lo in range(0, len(seqs), batch_size):
            chunk = seqs[lo : lo + batch_size]
            batch, offsets = _rows(adapter, chunk)
            adapter.model.zero_grad(set_to_none=True)
            _explained(adapter, batch).backward()
            x = captured["x"]
            per_token = (x.grad * x).sum(-1).abs().detach().float().cpu().numpy()
            for b, seq in enumerate(chunk):
                _, key_map = coverage(offsets[b], len(seq))
                yield per_token[b] @ key_map
    finally:
        handle.remove()
