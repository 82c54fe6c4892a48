"""Batched inference for `genotx predict`: taxon, regulatory and expression rows.

Records stream in as `RecordBatch`es; inside each batch the sequences are
sorted by length and run in sub-batches of similar length (little padding,
`genotx.inference.batched`), then the rows are put back in input order.
Memory stays constant in the number of reads. Models load from safetensors +
JSON only. Taxon models answer through `genotx.taxon.classifier`, which runs
the network only where its k-mer index needs it. A Hugging Face classifier
(from ``genotx finetune --from HF_DIR``, or any *ForSequenceClassification
directory: regulatory for classes, expression for one value) runs through its
`genotx.models.hf.HfAdapter` on ``device``, long sequences in windows.

Example::

    predictor = Predictor.load("models/taxon-default", "taxon")
    for batch in iter_batches(["reads.fq.gz"]):
        rows = predictor.rows(batch)
"""

from __future__ import annotations

import numpy as np

from genotx.errors import InputError


def columns(task: str, classes: list[str], all_probs: bool) -> list[str]:
    if task == "taxon":
        from genotx.taxon.classifier import COLUMNS

        return list(COLUMNS)
    if task == "regulatory":
        return ["id", "label", "prob"] + ([f"prob_{c}" for c in classes] if all_probs else [])
    return ["id", "value"]


class Predictor:
    """A fine-tuned model ready for inference on batches of records.

    ``network`` is (model, tokenizer) for regulatory and expression models; a
    taxon model brings its `TaxonClassifier` instead.
    """

    def __init__(self, metadata: dict, *, task: str, network=None, classifier=None, adapter=None, batch_size: int = 256,
                 min_prob: float = 0.0, all_probs: bool = False):
        self.meta, self.task, self.network, self.classifier, self.adapter = metadata, task, network, classifier, adapter
        self.batch_size, self.min_prob, self.all_probs = batch_size, min_prob, all_probs
        self.classes = list(metadata.get("classes") or [])
        self.taxids = metadata.get("taxids") or [None] * len(self.classes)
        self.columns = columns(task, self.classes, all_probs)

    @classmethod
    def load(cls, model_dir: str, task: str, *, use_memory: bool = True, precision: str = "fp32",
             batch_size: int = 256, device: str = "auto", load_options: dict | None = None, **options) -> "Predictor":
        from genotx.models.checkpoint import load_checkpoint, read_metadata
        from genotx.models.hf_load import is_hf_dir

        if is_hf_dir(model_dir):
            return cls._load_hf(model_dir, task, precision=precision, device=device, batch_size=batch_size,
                                load_options=load_options or {}, **options)
        if device not in ("auto", "cpu"):
            raise InputError(f"--device {device}: {model_dir} is a genotx model, and genotx classifiers run on the CPU")
        metadata = read_metadata(model_dir)
        trained_for = metadata.get("task")
        if trained_for is None:
            raise InputError(f"{model_dir}: not a fine-tuned model (no task in its metadata); "
                             "fine-tune it first with `genotx finetune --from`")
        if trained_for != task:
            raise InputError(f"{model_dir}: model was fine-tuned for task {trained_for!r}, not {task!r}")
        if task == "taxon":
            from genotx.taxon.classifier import TaxonClassifier

            classifier = TaxonClassifier.load(model_dir, metadata, use_memory=use_memory, precision=precision,
                                              batch_size=batch_size)
            return cls(metadata, task=task, classifier=classifier, batch_size=batch_size, **options)
        from genotx.inference.precision import set_precision

        model, tokenizer, _ = load_checkpoint(model_dir)
        network = (set_precision(model.eval(), precision), tokenizer)
        return cls(metadata, task=task, network=network, batch_size=batch_size, **options)

    @classmethod
    def _load_hf(cls, model_dir: str, task: str, *, precision: str, device: str, batch_size: int, load_options: dict,
                 **options) -> "Predictor":
        from genotx.inference.precision import set_precision
        from genotx.models.adapter import load_adapter

        if precision == "int8" and device not in ("auto", "cpu"):
            raise InputError("--precision int8 (dynamic quantisation) runs on the CPU; give --device cpu")
        adapter = load_adapter(model_dir, precision="fp32" if precision == "int8" else precision,
                               device="cpu" if precision == "int8" else device, **load_options)
        if precision == "int8":
            adapter.model = set_precision(adapter.model, "int8")
        trained_for = adapter.record.get("task") or {"classifier": "regulatory", "regressor": "expression"}.get(adapter.kind)
        if trained_for is None:
            raise InputError(f"{model_dir}: a Hugging Face {adapter.kind} model ({type(adapter.model).__name__}) has no "
                             "classification head; fine-tune it first with `genotx finetune --from`")
        if trained_for != task:
            raise InputError(f"{model_dir}: model was fine-tuned for task {trained_for!r}, not {task!r}")
        metadata = adapter.record or {"task": trained_for, "classes": adapter.classes}
        return cls(metadata, task=task, adapter=adapter, batch_size=batch_size, **options)

    def outputs(self, seqs: list[str]) -> np.ndarray:
        """(n, C) class probabilities or (n,) values, in the order of ``seqs``."""
        if self.classifier is not None:
            return self.classifier.probabilities(seqs)
        if self.adapter is not None:
            from genotx.inference.batched import adapter_outputs

            return adapter_outputs(self.adapter, seqs, batch_size=self.batch_size)
        from genotx.inference.batched import batched_outputs

        model, tokenizer = self.network
        return batched_outputs(model, tokenizer, seqs, batch_size=self.batch_size, by_length=True)

    @property
    def workers(self) -> int:
        """Threads that may work on batches at once: one where a network runs (torch's own threads share the cores)."""
        from genotx.runtime import default_threads, settings

        network_runs = (self.network is not None or self.adapter is not None
                        or (self.classifier is not None and self.classifier.network is not None))
        return 1 if network_runs else settings.threads or default_threads()

    def lines(self, batch) -> str:
        """The TSV lines of a batch's rows (as `genotx.io.tsv.format_rows` writes `rows`)."""
        if self.task == "taxon":
            from genotx.taxon.classifier import taxon_lines

            return taxon_lines(batch.ids, self.outputs(batch.seqs), self.classes, self.taxids, self.min_prob,
                               background=self.classifier.index is not None)
        from genotx.io.tsv import format_rows

        return format_rows(self.rows(batch), len(self.columns))

    def rows(self, batch) -> list[tuple]:
        out = self.outputs(batch.seqs)
        if self.task == "expression":
            mean, std = self.meta.get("target_mean", 0.0), self.meta.get("target_std", 1.0)
            return [(rid, float(v) * std + mean) for rid, v in zip(batch.ids, out)]
        if self.task == "taxon":
            from genotx.taxon.classifier import taxon_rows

            return taxon_rows(batch.ids, out, self.classes, self.taxids, self.min_prob,
                              background=self.classifier.index is not None)
        top = np.argsort(-out, axis=1)[:, 0]  # as the taxon rows rank, so ties break alike
        rows = []
        for rid, probs, best in zip(batch.ids, out, top):
            row = (rid, self.classes[best], float(probs[best]))
            rows.append(row + tuple(float(p) for p in probs) if self.all_probs else row)
        return rows
