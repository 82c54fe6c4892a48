"""Run a model over sequences and return base-level attention or attribution.

Token-level attention (H, T, T) becomes base-level (H, L, L) through the
tokenizer's offsets: a query base takes the mean row of the tokens covering it
and a key token's weight is shared equally among its bases, so rows still sum
to 1 and a char tokenizer is the identity. The leading CLS token (added as in
fine-tuning) covers no base and drops out.

For models without attention layers (linear, mamba), `gradient_x_input`
scores each base by |gradient . embedding| of the predicted output. A model
that averages its prediction over both strands is read on the given strand.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from genotx.errors import InputError
from genotx.runtime import import_torch


def coverage(offsets: np.ndarray, length: int) -> tuple:
    """(query map (L, T), key map (T, L)) from token offsets; rows of both sum to 1 where covered.

    Example: offsets [[0, 2], [2, 3]] of "ACG" -> query map [[1, 0], [1, 0], [0, 1]],
    key map [[.5, .5, 0], [0, 0, 1]].
    """
    offsets = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    covers = np.zeros((len(offsets), length))
    for t, (a, b) in enumerate(offsets):
        covers[t, max(0, a): min(length, b)] = 1.0
    key_map = covers / np.maximum(covers.sum(axis=1, keepdims=True), 1)
    query_map = covers.T / np.maximum(covers.T.sum(axis=1, keepdims=True), 1)
    return query_map, key_map


def base_attention(attention: np.ndarray, offsets: np.ndarray, length: int) -> np.ndarray:
    """(H, T, T) token attention -> (H, L, L) base attention (see module docstring)."""
    query_map, key_map = coverage(offsets, length)
    if (query_map.max(axis=1) == 1).all() and (key_map.max(axis=1)[key_map.any(axis=1)] == 1).all():
        # one token per base and one base per token: the maps only select rows and columns
        # (the einsum took 1 s per sequence of 500 bp with 2 layers of 4 heads)
        token = query_map.argmax(axis=1)
        return attention[:, token][:, :, token]
    return np.einsum("it,htu,uj->hij", query_map, attention, key_map, optimize=True)


def _prepare(model, tokenizer, seqs: list) -> tuple:
    """Token ids (B, T), mask, and per-sequence token offsets; CLS first, as fine-tuning and pretraining feed it."""
    torch = import_torch()
    from genotx.tokenizers import CLS_ID, PAD_ID

    max_len = model.config.max_len
    rows, offs = [], []
    for seq in seqs:
        ids = np.concatenate([[CLS_ID], np.asarray(tokenizer.encode(seq), dtype=np.int64)])
        off = np.vstack([[[0, 0]], np.asarray(tokenizer.offsets(seq), dtype=np.int64).reshape(-1, 2)])
        rows.append(ids[:max_len])
        offs.append(off[:max_len])
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), PAD_ID, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.bool)
    for b, r in enumerate(rows):
        ids[b, : len(r)] = torch.from_numpy(r)
        mask[b, : len(r)] = True
    return ids, mask, offs


def _one_strand(model) -> dict:
    """A strand-averaging model is read on the given strand, as it was trained: its averaged
    forward pass returns no attention, and its second pass would mirror gradient x input."""
    return {"one_strand": True} if getattr(model.config, "strand_average", False) else {}


def has_attention(model) -> bool:
    """True when the model returns attention probabilities (hybrids: of their attention layers)."""
    cfg = model.config
    return cfg.mixer in ("attention", "window") or (cfg.mixer == "hybrid" and "A" in cfg.hybrid_pattern)


def attention_by_base(model, tokenizer, seqs: list, batch_size: int = 16) -> Iterator:
    """Yield, per sequence, a list over attention layers of (H, L, L) float32 base attention.

    Example: ``for layers in attention_by_base(model, tok, seqs): layers[0][3]`` is head 3 of layer 0.
    """
    torch = import_torch()
    model.eval()
    for lo in range(0, len(seqs), batch_size):
        chunk = seqs[lo: lo + batch_size]
        ids, mask, offs = _prepare(model, tokenizer, chunk)
        with torch.no_grad():
            out = model(ids, attention_mask=mask, output_attentions=True, **_one_strand(model))
        if not out.attentions:
            raise InputError("this model returns no attention; use attribution instead")
        layers = [a.float().cpu().numpy() for a in out.attentions]
        for b, seq in enumerate(chunk):
            n = int(mask[b].sum())
            yield [base_attention(a[b, :, :n, :n], offs[b], len(seq)).astype(np.float32) for a in layers]


def _embedding(model, vocab_size: int):
    torch = import_torch()
    for module in model.modules():
        if isinstance(module, torch.nn.Embedding) and module.num_embeddings == vocab_size:
            return module
    raise InputError("cannot find the model's token embedding for gradient x input attribution")


def gradient_x_input(model, tokenizer, seqs: list, batch_size: int = 16) -> Iterator:
    """Yield, per sequence, a (L,) float array: |gradient . embedding| of the predicted output per base.

    The output is the predicted class's logit minus the mean logit (classify),
    the sum of outputs (regress), or the log-likelihood of the sequence (lm).
    """
    torch = import_torch()
    model.eval()
    cfg = model.config
    emb = _embedding(model, cfg.vocab_size)
    captured = {}

    def keep(_module, _inputs, output):
        output.retain_grad()
        captured["x"] = output

    handle = emb.register_forward_hook(keep)
    try:
        for lo in range(0, len(seqs), batch_size):
            chunk = seqs[lo: lo + batch_size]
            ids, mask, offs = _prepare(model, tokenizer, chunk)
            model.zero_grad(set_to_none=True)
            logits = model(ids, attention_mask=mask, **_one_strand(model)).logits
            if cfg.head == "classify":
                target = (logits - logits.mean(dim=1, keepdim=True)).gather(1, logits.argmax(1, keepdim=True)).sum()
            elif cfg.head == "lm":
                logp = torch.log_softmax(logits.float(), dim=-1).gather(2, ids.unsqueeze(-1)).squeeze(-1)
                target = (logp * mask).sum()
            else:
                target = (logits * mask.unsqueeze(-1)).sum() if logits.dim() == 3 else logits.sum()
            target.backward()
            x = captured["x"]
            per_token = (x.grad * x).sum(-1).abs().detach().float().cpu().numpy()
            for b, seq in enumerate(chunk):
                n = int(mask[b].sum())
                _, key_map = coverage(offs[b], len(seq))
                yield per_token[b, :n] @ key_map
    finally:
        handle.remove()
