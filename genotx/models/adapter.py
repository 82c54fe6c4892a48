"""One interface to every model that embed, ism and variant scoring read.

A `ModelAdapter` turns sequences into token rows and gives what inference
needs from a forward pass, whatever made the model (a genotx checkpoint or a
Hugging Face directory, see `genotx.models.hf`):

- ``tokenize(seq)``: token ids without special tokens, and the bases each covers;
- ``batch(rows)``: rows framed by the model's special tokens and right-padded,
  with the mask of real (sequence) tokens, on the model's device;
- ``hidden(batch, layer)``: hidden states (B, T, d) of a layer, 0 = embeddings,
  -1 = the last (what the model's head reads);
- ``log_probs(batch, select)``: (B, T, vocab) token log-probabilities of an MLM or AR
  model, or (N, vocab) at the N True positions of ``select`` (B, T);
- ``head(batch)``: (B, C) class probabilities of a classifier, (B,) values of a regressor;
  ``logits(batch)``: the head's raw outputs (B, C), what windows of one sequence average;
- ``window_bases``: the most bases read at once (long records are read in windows of it).

``kind`` says which of these the model has: mlm, ar, classifier, regressor or
encoder (hidden states only).

Example::

    adapter = load_adapter("runs/mlm")            # or a Hugging Face model directory
    ids, offsets = adapter.tokenize("ACGTACGT")
    batch = adapter.batch([ids])
    vectors = adapter.hidden(batch, -1)[batch.real]
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from genotx.errors import InputError
from genotx.runtime import cpu_has_bf16, import_torch

PRECISIONS = ("auto", "fp32", "bf16")


def pick_device(device: str = "auto") -> str:
    torch = import_torch()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {device}: CUDA is not available here")
    if device != "cpu" and not device.startswith("cuda"):
        raise InputError(f"--device must be auto, cpu or cuda[:N], got {device!r}")
    return device


def pick_dtype(precision: str, device: str):
    """torch dtype of inference: ``auto`` is bf16 on CUDA and on CPUs with native bf16, else fp32."""
    torch = import_torch()
    if precision not in PRECISIONS:
        raise InputError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        native = device.startswith("cuda") and torch.cuda.is_bf16_supported() or device == "cpu" and cpu_has_bf16()
        precision = "bf16" if native else "fp32"
    return torch.bfloat16 if precision == "bf16" else torch.float32


@dataclass
class TokenBatch:
    """Framed, right-padded token rows: ids (B, T) long; attention (B, T) bool (False = padding);
    real (B, T) bool (sequence tokens: no special tokens, no padding)."""

    ids: object
    attention: object
    real: object

    @property
    def padded(self) -> bool:
        return not bool(self.attention.all())


class ModelAdapter:
    """Common part of the adapters; subclasses set the attributes and implement the model calls."""

    kind: str = "encoder"
    classes: list = []
    prefix: list = []  # special token ids before the sequence
    suffix: list = []  # and after it
    mask_id: int | None = None
    pad_id: int = 0
    max_tokens: int = 512  # framed row, special tokens included
    n_layers: int = 0
    d_model: int = 0
    device: str = "cpu"
    source: str = ""

    def tokenize(self, seq: str) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    @property
    def max_sequence_tokens(self) -> int:
        """Most sequence tokens that fit in one row beside the special tokens."""
        return self.max_tokens - len(self.prefix) - len(self.suffix)

    @property
    def window_bases(self) -> int:
        """Most bases read at once; genotx tokenizers make at most one token per base."""
        return self.max_sequence_tokens

    def batch(self, rows: list[np.ndarray]) -> TokenBatch:
        torch = import_torch()
        lead, tail = len(self.prefix), len(self.suffix)
        width = lead + tail + max(len(r) for r in rows)
        ids = np.full((len(rows), width), self.pad_id, np.int64)
        real = np.zeros((len(rows), width), bool)
        attention = np.zeros((len(rows), width), bool)
        for i, row in enumerate(rows):
            n = len(row)
            ids[i, :lead] = self.prefix
            ids[i, lead : lead + n] = row
            ids[i, lead + n : lead + n + tail] = self.suffix
            real[i, lead : lead + n] = True
            attention[i, : lead + n + tail] = True
        as_tensor = (lambda a: torch.from_numpy(a).to(self.device))
        return TokenBatch(as_tensor(ids), as_tensor(attention), as_tensor(real))

    def layer_index(self, layer: int) -> int:
        """0 .. n_layers (0 = embeddings); negative counts from the last."""
        index = layer + self.n_layers + 1 if layer < 0 else layer
        if not 0 <= index <= self.n_layers:
            raise InputError(f"--layer {layer}: the model has layers 0 (embeddings) to {self.n_layers} "
                             f"(or -1 to -{self.n_layers + 1})")
        return index

    def hidden(self, batch: TokenBatch, layer: int = -1):
        raise NotImplementedError

    def log_probs(self, batch: TokenBatch, select=None):
        raise NotImplementedError

    def head(self, batch: TokenBatch):
        raise NotImplementedError

    def logits(self, batch: TokenBatch):
        raise NotImplementedError


def model_format(path: str) -> str:
    """``genotx`` or ``hf`` for a model directory; InputError when it is neither."""
    from genotx.models.hf import is_hf_dir

    config = os.path.join(path, "config.json")
    if not os.path.isdir(path):
        raise InputError(f"{path}: no such model directory")
    if is_hf_dir(path):
        return "hf"
    if os.path.isfile(config) or os.path.isfile(os.path.join(path, "model", "config.json")):
        return "genotx"  # load_checkpoint names what is wrong with it, if anything
    raise InputError(f"{path}: neither a genotx checkpoint nor a Hugging Face model directory "
                     "(expected config.json with format 'genotx-checkpoint', or config.json with a model_type)")


def load_adapter(path: str, *, precision: str = "auto", device: str = "auto", allow_pickle: bool = False,
                 trust_remote_code: bool = False) -> ModelAdapter:
    """The adapter of a genotx checkpoint (or pretraining run) or a Hugging Face model directory."""
    device = pick_device(device)
    dtype = pick_dtype(precision, device)
    if model_format(path) == "hf":
        from genotx.models.hf import HfAdapter

        return HfAdapter.load(path, dtype=dtype, device=device, allow_pickle=allow_pickle,
                              trust_remote_code=trust_remote_code)
    from genotx.models.genotx_adapter import GenotxAdapter

    return GenotxAdapter.load(path, dtype=dtype, device=device)
