"""`ModelAdapter` of a genotx checkpoint (see `genotx.models.adapter`).

Framing follows how each kind of model was trained: a bidirectional LM reads
the bare tokens (MLM pretraining adds no CLS); an AR model starts from CLS
(its start symbol); a fine-tuned classifier or regressor reads CLS + tokens,
as `genotx finetune` fed it.

Example::

    adapter = GenotxAdapter.load("runs/mlm")
"""

from __future__ import annotations

import numpy as np

from genotx.errors import InputError
from genotx.models.adapter import ModelAdapter, TokenBatch
from genotx.runtime import import_torch


class GenotxAdapter(ModelAdapter):
    def __init__(self, model, tokenizer, metadata: dict, *, dtype=None, device: str = "cpu", source: str = ""):
        from genotx.tokenizers import CLS_ID, MASK_ID, PAD_ID

        if tokenizer is None:
            raise InputError(f"{source}: the checkpoint has no tokenizer.json; embed and ism need one")
        cfg = model.config
        self.model = model.to(device=device, dtype=dtype).eval()
        self.tokenizer, self.meta, self.device, self.source = tokenizer, metadata, device, source
        self.kind = {"lm": "ar" if cfg.causal else "mlm", "classify": "classifier", "regress": "regressor"}.get(cfg.head, "encoder")
        self.classes = list(metadata.get("classes") or [])
        self.prefix = [] if self.kind == "mlm" else [CLS_ID]
        self.suffix, self.mask_id, self.pad_id = [], MASK_ID, PAD_ID
        self.max_tokens, self.n_layers, self.d_model = cfg.max_len, cfg.n_layers, cfg.d_model
        self.causal, self.rc_equivariant = cfg.causal, cfg.rc_equivariant

    @classmethod
    def load(cls, path: str, *, dtype=None, device: str = "cpu") -> "GenotxAdapter":
        from genotx.models.checkpoint import load_checkpoint, resolve_model_dir

        path = resolve_model_dir(path)  # a pretraining run keeps its final model in model/
        model, tokenizer, metadata = load_checkpoint(path)
        return cls(model, tokenizer, metadata, dtype=dtype, device=device, source=path)

    def tokenize(self, seq: str) -> tuple[np.ndarray, np.ndarray]:
        return self.tokenizer.encode(seq).astype(np.int64), self.tokenizer.offsets(seq)

    def _forward(self, batch: TokenBatch):
        return self.model(batch.ids, batch.attention if batch.padded else None)

    def hidden(self, batch: TokenBatch, layer: int = -1):
        index = self.layer_index(layer)
        if index == self.n_layers:
            return self._forward(batch).hidden.float()
        # Earlier layers: the residual stream entering block `index` (0: embeddings + positions).
        module = self.model.dropout if index == 0 else self.model.blocks[index - 1]
        caught = []
        handle = module.register_forward_hook(lambda _m, _i, out: caught.append(out[0] if isinstance(out, tuple) else out))
        try:
            self._forward(batch)
        finally:
            handle.remove()
        states = caught[0].float()
        if self.rc_equivariant:  # rows B..2B are the reverse strands: aligned back and averaged, as the last layer is
            from genotx.models.rc import flip_rows, reverse_index

            rows, length = batch.ids.shape
            seqlens = batch.attention.sum(1) if batch.padded else None
            index_ = reverse_index(seqlens, length, rows, batch.ids.device)
            states = (states[:rows] + flip_rows(states[rows:], index_)) / 2
        return states

    def log_probs(self, batch: TokenBatch, select=None):
        """(B, T, vocab) log-probabilities, or (N, vocab) at the N True positions of ``select`` (B, T)."""
        if self.kind not in ("mlm", "ar"):
            raise InputError(f"{self.source}: a {self.kind} has no token probabilities")
        mask = batch.attention if batch.padded else None
        if select is None:
            return self.model(batch.ids, mask).logits.float().log_softmax(-1)
        return self.model(batch.ids, mask, logit_mask=select, masked_only=True).logits.float().log_softmax(-1)

    def logits(self, batch: TokenBatch):
        if self.kind not in ("classifier", "regressor"):
            raise InputError(f"{self.source}: a {self.kind} has no classification or regression head")
        return self._forward(batch).logits.float()

    def head(self, batch: TokenBatch):
        torch = import_torch()
        logits = self._forward(batch).logits.float()
        if self.kind == "regressor":
            mean, std = self.meta.get("target_mean", 0.0), self.meta.get("target_std", 1.0)
            return logits.squeeze(-1) * std + mean
        if self.kind == "classifier":
            return torch.softmax(logits, -1)
        raise InputError(f"{self.source}: a {self.kind} has no classification or regression head")
