"""Model inputs from sequences: token id rows, padded into (input_ids, attention_mask) tensors.

Training (objectives, fine-tuning) and inference (predict, variant scores)
encode inputs here, so a model sees the same rows in both. Rows are right-padded
with PAD; a mask is passed only when some row is padded, which lets the model
take its unpadded path.

Example::

    ids, mask = encode_sequences(tokenizer, ["ACGTAC", "GGT"], max_tokens=64)   # CLS + tokens, padded
    ids, mask = encode_pairs(tokenizer, [("ACGTA", "ACTTA")], max_tokens=64)   # CLS ref SEP alt
"""

from __future__ import annotations

import numpy as np

from genotx.runtime import import_torch
from genotx.tokenizers import CLS_ID, PAD_ID, SEP_ID


def pad_token_rows(rows, lead: int | None = None, max_tokens: int | None = None):
    """Token id rows -> right-padded (input_ids, attention_mask) torch tensors.

    ``lead`` (e.g. CLS) starts every row; rows longer than ``max_tokens`` (lead
    included) are cut. Example: ``pad_token_rows([np.array([5, 6]), np.array([7])])``.
    """
    import torch

    start = 0 if lead is None else 1
    width = start + max(len(r) for r in rows)
    if max_tokens is not None:
        width = min(width, max_tokens)
    ids = np.full((len(rows), width), PAD_ID, dtype=np.int64)
    if lead is not None:
        ids[:, 0] = lead
    lengths = np.empty(len(rows), dtype=np.int64)
    for i, r in enumerate(rows):
        n = min(len(r), width - start)
        ids[i, start : start + n] = r[:n]
        lengths[i] = start + n
    mask = np.arange(width)[None, :] < lengths[:, None]
    return torch.from_numpy(ids), torch.from_numpy(mask)


def model_inputs(ids, mask):
    """Pass no mask when no row is padded (lets the model take its unpadded path)."""
    return (ids, None) if bool(mask.all()) else (ids, mask)


def encode_sequences(tokenizer, seqs: list, max_tokens: int):
    """Tokenise, prepend CLS, truncate to ``max_tokens`` and right-pad: (ids, mask or None) tensors.

    Items may also be (ref, alt) window pairs of the variant task: see `encode_pairs`.
    """
    import_torch()
    if seqs and isinstance(seqs[0], tuple):
        return encode_pairs(tokenizer, seqs, max_tokens)
    return model_inputs(*pad_token_rows(tokenizer.encode_batch(seqs), lead=CLS_ID, max_tokens=max_tokens))


def encode_pairs(tokenizer, pairs: list[tuple[str, str]], max_tokens: int):
    """``CLS ref SEP alt`` rows of (reference, alternate) windows, right-padded: (ids, mask or None).

    Each window is centred on its variant, so when the pair does not fit in
    ``max_tokens`` both windows lose tokens at both ends and the variant stays in.
    Example: ``encode_pairs(tok, [("ACGTA", "ACTTA")], 64)``.
    """
    half = max(1, (max_tokens - 2) // 2)

    def centre(ids: np.ndarray) -> np.ndarray:
        cut = max(0, len(ids) - half)
        return ids[cut // 2 : len(ids) - (cut - cut // 2)]

    rows = [np.concatenate([[CLS_ID], centre(tokenizer.encode(ref)), [SEP_ID], centre(tokenizer.encode(alt))])
            for ref, alt in pairs]
    return model_inputs(*pad_token_rows(rows, max_tokens=max_tokens))
