"""Sampling DNA from an autoregressive checkpoint with the model's KV cache.

Each sequence starts from CLS (the start symbol of AR pretraining) followed by
the prompt's tokens; one forward step per new token reuses the cache
(`model.new_cache` / `model.step`), so cost grows linearly with length.
Special tokens are never sampled. ``temperature == 0`` is greedy decoding.

Example::

    seqs = sample(model, tok, prompt="ATG", n=4, length=300, temperature=1.0, top_k=0, top_p=0.95, seed=1)
"""

from __future__ import annotations

import math

import numpy as np

from genotx.tokenizers import CLS_ID, SPECIALS


def filter_logits(logits, *, top_k: int, top_p: float):
    """Keep the top_k most likely tokens and the smallest set with cumulative probability >= top_p."""
    import torch

    if top_k > 0 and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        ordered, order = torch.sort(logits, dim=-1, descending=True)
        cumulative = torch.softmax(ordered, dim=-1).cumsum(-1)
        # drop a token when the tokens before it already reach top_p (the first always stays)
        drop = (cumulative - torch.softmax(ordered, dim=-1)) >= top_p
        ordered = ordered.masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, ordered)
    return logits


def bases_per_token(tokenizer) -> np.ndarray:
    """Bases each token adds to a growing sequence (the stride for overlapping k-mers)."""
    ids = list(range(tokenizer.vocab_size))
    lengths = np.array([0 if i < len(SPECIALS) else len(t) for i, t in enumerate(tokenizer.tokens(ids))])
    stride = getattr(tokenizer, "stride", None)
    if tokenizer.kind == "kmer" and stride is not None and stride < getattr(tokenizer, "k", stride):
        lengths[len(SPECIALS):] = stride
    return lengths


def sample(model, tokenizer, *, prompt: str, n: int, length: int, temperature: float, top_k: int, top_p: float,
           seed: int, device: str = "cpu", generator=None) -> list[str]:
    """``n`` continuations of ``prompt``, each exactly ``length`` bases (the prompt not included)."""
    import torch

    generator = generator or torch.Generator(device="cpu").manual_seed(seed)
    prompt_ids = [CLS_ID] + [int(i) for i in tokenizer.encode(prompt)] if prompt else [CLS_ID]
    step_bases = bases_per_token(tokenizer)
    min_bases = max(1, int(step_bases[step_bases > 0].min()))
    budget = math.ceil(length / min_bases) + 8
    cache = model.new_cache(n, len(prompt_ids) + budget)
    inputs = torch.tensor([prompt_ids] * n, dtype=torch.long, device=device)
    new = np.zeros((n, budget), dtype=np.int64)
    made = np.zeros(n, dtype=np.int64)
    with torch.no_grad():
        logits = model.step(inputs, cache)[:, -1, :].float()
        for t in range(budget):
            logits[:, : len(SPECIALS)] = float("-inf")
            if temperature == 0:
                choice = logits.argmax(-1)
            else:
                probs = torch.softmax(filter_logits(logits / temperature, top_k=top_k, top_p=top_p), dim=-1)
                choice = torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(1)
            new[:, t] = choice.cpu().numpy()
            made += step_bases[new[:, t]]
            if (made >= length).all():
                new = new[:, : t + 1]
                break
            logits = model.step(choice.view(n, 1).to(device), cache)[:, -1, :].float()
    head = tokenizer.decode(prompt_ids)
    return [tokenizer.decode(prompt_ids + row.tolist())[len(head):][:length] for row in new]
