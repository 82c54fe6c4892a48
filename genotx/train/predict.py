"""Batched inference for `genotx predict`: taxon, regulatory and expression rows.

Records stream in as `RecordBatch`es; inside each batch the sequences are
sorted by length and run in sub-batches of similar length (little padding),
then the rows are put back in input order. Memory stays constant in the
number of reads. Models load from safetensors + JSON only.

Example::

    predictor = Predictor.load("models/taxon-default", "taxon")
    for batch in iter_batches(["reads.fq.gz"]):
        rows = predictor.rows(batch)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from genotx.errors import InputError
from genotx.runtime import import_torch
from genotx.train.finetune import encode_sequences

UNCLASSIFIED = "unclassified"


def _model_roots() -> list[Path]:
    roots = []
    if os.environ.get("GENOTX_MODELS"):
        roots.append(Path(os.environ["GENOTX_MODELS"]))
    here = Path(__file__).resolve()
    roots.append(here.parents[2] / "models")  # a checkout or editable install: <repo>/models
    roots.append(Path(sys.prefix) / "share" / "genotx" / "models")
    return roots


def default_model(task: str) -> str:
    """Directory of the shipped default model of ``task`` (``models/<task>-default``)."""
    for root in _model_roots():
        candidate = root / f"{task}-default"
        if (candidate / "config.json").exists():
            return str(candidate)
    raise InputError(f"no shipped default model for task {task!r}; pass --model DIR "
                     f"(looked in {', '.join(str(r) for r in _model_roots())})")


PRECISIONS = ("auto", "fp32", "bf16", "int8")


def cpu_has_bf16() -> bool:
    """True where the CPU multiplies bfloat16 natively (AVX512-BF16 or AMX); elsewhere bf16 is emulated and slow."""
    try:
        with open("/proc/cpuinfo") as fh:
            flags = fh.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def set_precision(model, precision: str):
    """The model in the requested inference precision; ``auto`` is bf16 where the CPU has native bf16.

    bf16 and int8 (dynamic quantisation of the linear layers) change the taxon
    calls of the default model on examples/reads.fq.gz in under 0.1 % of reads.
    """
    torch = import_torch()
    if precision not in PRECISIONS:
        raise InputError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        precision = "bf16" if cpu_has_bf16() else "fp32"
    if precision == "bf16":
        return model.to(torch.bfloat16)
    if precision == "int8":
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the eager quantisation API is deprecated in favour of torchao
            return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    return model


def columns(task: str, classes: list[str], all_probs: bool) -> list[str]:
    if task == "taxon":
        return ["read_id", "taxon", "taxid", "prob", "runner_up", "runner_up_prob"]
    if task == "regulatory":
        return ["id", "label", "prob"] + ([f"prob_{c}" for c in classes] if all_probs else [])
    return ["id", "value"]


class Predictor:
    """A fine-tuned model ready for inference on batches of records."""

    def __init__(self, model, tokenizer, metadata: dict, *, task: str, batch_size: int = 256,
                 min_prob: float = 0.0, all_probs: bool = False, precision: str = "fp32", memory=None):
        self.model, self.tokenizer, self.meta = set_precision(model.eval(), precision), tokenizer, metadata
        self.memory = memory  # taxon: a KmerMemory whose evidence joins the model's (see genotx.tasks.kmer_memory)
        self.task, self.batch_size, self.min_prob, self.all_probs = task, batch_size, min_prob, all_probs
        self.classes = list(metadata.get("classes") or [])
        self.taxids = metadata.get("taxids") or [None] * len(self.classes)
        self.columns = columns(task, self.classes, all_probs)

    @classmethod
    def load(cls, model_dir: str, task: str, *, use_memory: bool = True, **options) -> "Predictor":
        from genotx.models import load_checkpoint

        model, tokenizer, metadata = load_checkpoint(model_dir)
        trained_for = (metadata or {}).get("task")
        if trained_for is None:
            raise InputError(f"{model_dir}: not a fine-tuned model (no task in its metadata); "
                             "fine-tune it first with `genotx finetune --from`")
        if trained_for != task:
            raise InputError(f"{model_dir}: model was fine-tuned for task {trained_for!r}, not {task!r}")
        memory = None
        if metadata.get("kmer_memory") and use_memory:
            from genotx.tasks.kmer_memory import KmerMemory

            path = os.path.join(model_dir, str(metadata["kmer_memory"].get("file", "")))
            if not os.path.isfile(path):
                raise InputError(f"{model_dir}: its config names a k-mer memory {path!r} that is missing")
            memory = KmerMemory.load(path)
            if memory.n_classes != len(metadata.get("classes") or []):
                raise InputError(f"{path}: k-mer memory has {memory.n_classes} classes, the model "
                                 f"{len(metadata.get('classes') or [])}")
        return cls(model, tokenizer, metadata, task=task, memory=memory, **options)

    def outputs(self, seqs: list[str]) -> np.ndarray:
        """(n, C) class probabilities or (n,) values, in the order of ``seqs``."""
        torch = import_torch()
        order = np.argsort([len(s) for s in seqs], kind="stable")
        pieces = []
        # A fitted model weight of 0 means the memory decides alone: the forward pass would be multiplied by 0.
        model_unused = self.memory is not None and self.memory.weights[0] == 0
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                chunk = [seqs[i] for i in order[start : start + self.batch_size]]
                if model_unused:
                    no_model = np.zeros((len(chunk), len(self.classes)), dtype=np.float32)
                    pieces.append(self.memory.combine(no_model, self.memory.evidence(chunk)))
                    continue
                ids, mask = encode_sequences(self.tokenizer, chunk, self.model.config.max_len)
                logits = self.model(ids, mask).logits.float()
                if self.memory is not None:
                    log_probs = logits.log_softmax(-1).numpy()
                    pieces.append(self.memory.combine(log_probs, self.memory.evidence(chunk)))
                else:
                    pieces.append((logits.squeeze(-1) if self.task == "expression" else logits.softmax(-1)).numpy())
        result = np.concatenate(pieces)
        restored = np.empty_like(result)
        restored[order] = result
        return restored

    def rows(self, batch) -> list[tuple]:
        out = self.outputs(batch.seqs)
        if self.task == "expression":
            mean, std = self.meta.get("target_mean", 0.0), self.meta.get("target_std", 1.0)
            return [(rid, float(v) * std + mean) for rid, v in zip(batch.ids, out)]
        top2 = np.argsort(-out, axis=1)[:, :2]
        rows = []
        for rid, probs, (first, second) in zip(batch.ids, out, top2):
            p1, p2 = float(probs[first]), float(probs[second])
            if self.task == "taxon":
                if p1 < self.min_prob:
                    rows.append((rid, UNCLASSIFIED, 0, p1, self.classes[first], p1))
                else:
                    rows.append((rid, self.classes[first], self.taxids[first] or "NA", p1, self.classes[second], p2))
            else:
                row = (rid, self.classes[first], p1)
                rows.append(row + tuple(float(p) for p in probs) if self.all_probs else row)
        return rows
