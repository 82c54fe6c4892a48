"""The one batched inference loop: a model's outputs for many sequences, a batch at a time.

Fine-tuning's validation and `genotx predict` both run it. With
``by_length`` the sequences are run sorted by length, so each batch holds
reads of similar length and little padding; the outputs come back in input
order either way.

Example::

    probs = batched_outputs(model, tokenizer, seqs, transform=lambda logits: logits.softmax(-1))
"""

from __future__ import annotations

import numpy as np

from genotx.models.encoding import encode_sequences
from genotx.models.windows import sequence_logits
from genotx.runtime import import_torch


def head_outputs(model):
    """The usual reading of a fine-tuned head's logits: probabilities, or the value of a regressor."""
    if model.config.head == "regress":
        return lambda logits: logits.squeeze(-1)
    return lambda logits: logits.softmax(-1)


def batched_outputs(model, tokenizer, seqs: list, *, batch_size: int = 256, transform=None,
                    by_length: bool = False) -> np.ndarray:
    """``transform(float32 logits)`` of every sequence, stacked in the order of ``seqs``.

    ``transform`` defaults to `head_outputs`: (n, C) probabilities or (n,) values.
    """
    torch = import_torch()
    transform = transform or head_outputs(model)
    order = np.argsort([len(s) for s in seqs], kind="stable") if by_length else np.arange(len(seqs))
    pieces = []
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            chunk = [seqs[i] for i in order[start : start + batch_size]]
            if isinstance(chunk[0], tuple):  # (ref, alt) pairs of the variant task
                logits = model(*encode_sequences(tokenizer, chunk, model.config.max_len)).logits.float()
            else:  # a sequence longer than the model's window is read in windows, never cut
                logits = sequence_logits(model, tokenizer, chunk)
            pieces.append(transform(logits))
    stacked = torch.cat(pieces).numpy()
    if not by_length:
        return stacked
    restored = np.empty_like(stacked)
    restored[order] = stacked
    return restored


def adapter_outputs(adapter, seqs: list[str], *, batch_size: int = 64) -> np.ndarray:
    """(n, C) probabilities of a classifier or (n,) values of a regressor behind a `ModelAdapter`
    (a Hugging Face classifier from ``genotx finetune --from``), in the order of ``seqs``.

    Values are the head's own (standardised, for a model genotx trained on standardised targets).
    Long sequences are the mean of their windows' logits (`genotx.models.windows.adapter_sequence_logits`);
    sequences run sorted by length, so a batch holds little padding.
    """
    from genotx.models.windows import adapter_sequence_logits

    torch = import_torch()
    order = np.argsort([len(s) for s in seqs], kind="stable")
    pieces = []
    adapter.model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            logits = adapter_sequence_logits(adapter, [seqs[i] for i in order[start : start + batch_size]])
            pieces.append((logits.squeeze(-1) if adapter.kind == "regressor" else logits.softmax(-1)).float().cpu())
    if not pieces:
        return np.zeros((0,) if adapter.kind == "regressor" else (0, len(adapter.classes)), np.float32)
    stacked = torch.cat(pieces).numpy()
    restored = np.empty_like(stacked)
    restored[order] = stacked
    return restored
