"""Supervised fine-tuning: a sequence-level head on a pretrained or fresh backbone.

The model is a `GenomicModel` with ``head="classify"`` (or ``"regress"``),
its backbone copied from a pretraining checkpoint (``--from``) or initialised
fresh from a preset. Training uses AdamW with warm-up and cosine decay,
inverse-frequency class weights, evaluation every ``eval_every`` steps and
early stopping on the validation metric (macro-F1, or Pearson r for
regression); the best weights are restored and saved with the checkpoint.

Example::

    data = make_task_data("regulatory", ["splice.tsv.gz"])
    result = finetune(FinetuneConfig(task="regulatory", steps=500), data, "model/", preset="regulatory-tiny")
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from dataclasses import asdict, dataclass

import numpy as np

from genotx import __version__
from genotx.errors import InputError
from genotx.inference.batched import batched_outputs
from genotx.io.atomic import write_json_atomic
from genotx.models.checkpoint import resolve_model_dir
from genotx.models.encoding import encode_sequences
from genotx.progress import enabled as bar_shown
from genotx.progress import info, progress
from genotx.runtime import import_torch


@dataclass(frozen=True, kw_only=True)
class FinetuneConfig:
    task: str
    steps: int = 1000
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: int = 50
    eval_every: int = 100
    patience: int = 5  # evaluations without improvement before stopping
    seed: int = 0
    pooling: str = "auto"  # auto: CLS for bidirectional backbones, mean for causal ones
    dropout: float = 0.1
    kmer_memory: str = "auto"  # taxon: hashed k-mer memory "K:BITS" or "off"; auto is 13:23 for taxon
    # Levers of the regulatory recipe (genotx/train/recipe.py chooses them from the data):
    conv_stem: int = 0  # fresh models: width of a convolution over the embeddings before the blocks; 0: none
    rc_aug: bool = False  # train on a random strand of each sequence
    strand_average: bool = False  # the model's predictions average both strands (needs single-base tokens)
    select: str = "metric"  # keep the weights of the best validation "metric" (macro-F1 / Pearson) or "loss"
    adapt_steps: int = 0  # MLM steps on the training sequences before the classifier is trained

    def __post_init__(self) -> None:
        for name in ("batch_size", "eval_every"):
            if getattr(self, name) < 1:
                raise InputError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.steps < 0:
            raise InputError(f"--steps must be at least 0, got {self.steps}")
        if self.kmer_memory not in ("auto", "off") and self.task != "taxon":
            raise InputError(f"--kmer-memory is for --task taxon (it memorises genomes), not {self.task}")
        if self.select not in ("metric", "loss"):
            raise InputError(f"select must be metric or loss, got {self.select!r}")
        if self.adapt_steps < 0:
            raise InputError(f"--adapt-steps must be at least 0, got {self.adapt_steps}")
        if self.adapt_steps and self.task not in ("regulatory", "expression"):
            raise InputError(f"--adapt-steps trains on the training sequences of regulatory or expression, not {self.task}")
        if not self.lr > 0:
            raise InputError(f"--lr must be positive, got {self.lr}")
        self.memory_config()  # a malformed spec fails before any data is read

    def memory_config(self):
        """The `IndexConfig` of the taxon task's k-mer memory, or None."""
        from genotx.taxon.kmer_index import IndexConfig

        if self.task != "taxon":
            return None
        return IndexConfig.parse("13:23" if self.kmer_memory == "auto" else self.kmer_memory)


def _bases(item) -> int:
    """Length of a sequence, or of a (ref, alt) pair with its separator."""
    return len(item[0]) + len(item[1]) + 1 if isinstance(item, tuple) else len(item)


def _pooling(cfg: FinetuneConfig, causal: bool) -> str:
    """CLS pooling keeps where things are (mean pooling over a relative-PE encoder cannot tell
    a motif at the centre from one at the edge); a causal CLS sees nothing, so causal models pool by mean."""
    if cfg.pooling == "auto":
        return "mean" if causal else "cls"
    return cfg.pooling


def build_model(data, cfg: FinetuneConfig, *, pretrained: str | None, preset: str | None, tokenizer_spec=None,
                max_len: int | None = None):
    """(model, tokenizer, source description) for fine-tuning."""
    from genotx.models import GenomicModel, ModelConfig, load_checkpoint

    head = "regress" if data.regression else "classify"
    if pretrained:
        base, tokenizer, meta = load_checkpoint(resolve_model_dir(pretrained))
        if meta.get("task") == data.task and meta.get("classes") == data.classes and base.config.head == head:
            # A model fine-tuned for the same task and classes goes on from its own head.
            return base, tokenizer, f"{data.task} model {pretrained}"
        if cfg.steps == 0:
            raise InputError(f"--steps 0 keeps the weights of --from as they are, so it needs a model fine-tuned "
                             f"for task {data.task} with the same classes; {pretrained} is not one")
        mcfg = base.config.replace(head=head, n_outputs=data.n_outputs, pooling=_pooling(cfg, base.config.causal),
                                   dropout=cfg.dropout)
        if mcfg.causal and cfg.pooling == "cls":
            raise InputError("a causal backbone cannot pool on CLS (it sees nothing after it); use --pooling mean")
        model = GenomicModel(mcfg)
        model.load_backbone_from(base)
        return model, tokenizer, f"pretrained {pretrained}"
    from genotx.presets import resolve_preset

    settings = preset if isinstance(preset, dict) else resolve_preset(preset or f"{data.task}-tiny")
    spec = tokenizer_spec or settings["tokenizer"]
    tokenizer = _fixed_tokenizer(spec, data, cfg.seed)
    longest = max(map(_bases, data.valid_seqs + data.train_seqs[:1000])) if data.train_seqs else 300
    lengths = data.metadata.get("read_lengths")
    if lengths:
        longest = max(longest, max(lengths))
    mcfg = ModelConfig(
        vocab_size=tokenizer.vocab_size, d_model=settings["d_model"], n_layers=settings["n_layers"],
        n_heads=settings["n_heads"], pe=settings["pe"], mixer=settings["mixer"], causal=False,
        max_len=max_len or max(64, 2 + longest), dropout=cfg.dropout, head=head, n_outputs=data.n_outputs,
        pooling=_pooling(cfg, False), conv_stem=cfg.conv_stem, strand_average=cfg.strand_average,
        layer_scale=settings.get("layer_scale", 0.0),
        complement_ids=_complement_ids(tokenizer) if cfg.strand_average else None,
    )
    name = settings.get("name", "recipe") if isinstance(preset, dict) else preset or "default"
    return GenomicModel(mcfg), tokenizer, f"preset {name} (no pretraining)"


def _complement_ids(tokenizer):
    # Only with one token per base is the token-level reverse complement that of the sequence.
    from genotx.tokenizers.fixed import CharTokenizer

    if not isinstance(tokenizer, CharTokenizer):
        raise InputError("--strand-average needs single-base tokens (--tokenizer char)")
    return [int(c) for c in tokenizer.complement_ids]


def _fixed_tokenizer(spec: str, data, seed: int):
    """Tokenizer of a from-scratch model; BPE kinds are trained on the training sequences."""
    import tempfile

    from genotx.train.setup import tokenizer_from_spec

    items = data.train_seqs or data.valid_seqs
    seqs = [s for item in items for s in (item if isinstance(item, tuple) else (item,))]

    def write_fasta(path: str) -> None:
        with open(path, "w") as fh:
            fh.writelines(f">s{i}\n{s}\n" for i, s in enumerate(seqs))

    # A vocabulary far larger than the training text would hold mostly unseen merges.
    max_vocab = max(64, sum(map(len, seqs)) // 200)
    with tempfile.TemporaryDirectory() as tmp:
        return tokenizer_from_spec(spec, write_fasta, tmp, seed, max_vocab=max_vocab)


def _lr(step: int, cfg: FinetuneConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress_frac = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress_frac))))


def validation_metrics(data, outputs: np.ndarray) -> dict:
    from genotx.tasks.metrics import auroc, classification_metrics, regression_metrics

    if data.regression:
        return regression_metrics(data.valid_targets, outputs)
    predicted = outputs.argmax(1)
    labels = np.array(data.classes)
    metrics = classification_metrics(labels[data.valid_targets], labels[predicted], classes=data.classes)
    metrics["auroc"] = auroc(data.valid_targets, outputs)
    chosen = outputs[np.arange(len(outputs)), data.valid_targets]
    metrics["loss"] = float(-np.log(np.clip(chosen, 1e-12, 1.0)).mean())  # cross-entropy, nats
    return metrics


def _score(data, metrics: dict, select: str = "metric") -> float:
    if select == "loss" and "loss" in metrics:
        value = -metrics["loss"]
    else:
        value = metrics["pearson"] if data.regression else metrics["macro_f1"]
    return -math.inf if value != value else value


def finetune(cfg: FinetuneConfig, data, out_dir: str, *, pretrained=None, preset=None, tokenizer_spec=None,
             device: str = "auto") -> dict:
    """Train, early-stop on validation, save the best checkpoint to ``out_dir``; returns metrics.

    ``pretrained`` may be a Hugging Face model directory (`genotx.train.hf_finetune`, trained on ``device``);
    genotx models train on the CPU.
    """
    torch = import_torch()
    from genotx.models import save_checkpoint
    from genotx.models.hf_load import is_hf_dir

    if pretrained and is_hf_dir(pretrained):
        from genotx.train.hf_finetune import finetune_hf

        return finetune_hf(cfg, data, out_dir, pretrained, device=device)

    torch.manual_seed(cfg.seed)
    if cfg.steps == 0 and not pretrained:
        raise InputError("--steps 0 (no training) needs --from a fine-tuned model of the same task")
    model, tokenizer, source = build_model(data, cfg, pretrained=pretrained, preset=preset,
                                           tokenizer_spec=tokenizer_spec)
    info(f"fine-tuning {data.task} from {source}: {model.param_counts()['total']:,} parameters, "
         f"{data.n_outputs} output(s), {len(data.valid_seqs)} validation sequences")
    started = time.time()
    if cfg.adapt_steps:
        from genotx.train.adapt import adapt_backbone

        mlm_loss = adapt_backbone(model, tokenizer, data.train_seqs, steps=cfg.adapt_steps, batch_size=cfg.batch_size,
                                  lr=cfg.lr, seed=cfg.seed)
        info(f"adapted the backbone with {cfg.adapt_steps} MLM steps on the training sequences (loss {mlm_loss:.4f})")
    forward = (lambda seqs: model(*encode_sequences(tokenizer, seqs, model.config.max_len)).logits)
    evaluate = (lambda seqs: batched_outputs(model, tokenizer, seqs))
    if cfg.steps:
        best, history = train_head(cfg, data, model, forward, evaluate)
    else:
        best, history = evaluate_as_is(data, model, evaluate), []
    model.load_state_dict(best["state"])
    extra_files, memory_meta = {}, {}
    if cfg.memory_config() is not None:
        extra_files, memory_meta = _attach_memory(model, tokenizer, data, cfg.memory_config())
        best["metrics"] = {**memory_meta.pop("validation"), "model_only": best["metrics"]}
    result = {"task": data.task, "best_step": best["step"], "validation": best["metrics"], "history": history,
              "wall_seconds": round(time.time() - started, 1), "source": source, "config": asdict(cfg),
              "genotx_version": __version__}
    metadata = {"task": data.task, "classes": data.classes, "finetune": asdict(cfg), "source": source,
                "validation": best["metrics"], **data.metadata, **({"kmer_memory": memory_meta} if memory_meta else {})}
    if cfg.steps == 0:
        _keep_source_record(cfg, pretrained, metadata, result)
    extra_files["metrics.json"] = lambda path: write_json_atomic(path, result, indent=2)  # in the same swap
    save_checkpoint(out_dir, model, tokenizer, metadata, extra_files=extra_files)
    return result


def _optimizer(torch, model, cfg: FinetuneConfig):
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)


def train_head(cfg: FinetuneConfig, data, model, forward, evaluate) -> tuple[dict, list]:
    """The training loop: (best evaluation with its weights, history of evaluations).

    ``forward(seqs)`` gives the logits of a batch with gradients (the model in training mode),
    ``evaluate(seqs)`` the (n, C) probabilities or (n,) values of validation sequences: so the
    loop runs a genotx model and a Hugging Face classifier (`genotx.train.hf_finetune`) alike.
    """
    torch = import_torch()
    optimizer = _optimizer(torch, model, cfg)
    weights = data.class_weights()
    weight_t = None if weights is None else torch.tensor(weights, dtype=torch.float32)
    best = {"score": -math.inf, "state": None, "step": 0, "metrics": {}}
    history, stale = [], 0
    with progress(f"finetune {data.task}", total=cfg.steps) as bar:
        for step in range(cfg.steps):
            loss = _train_step(torch, step, cfg, data, model, forward, optimizer, weight_t)
            bar.advance(1, status=f"loss {loss:.4f}")
            if (step + 1) % cfg.eval_every and step + 1 != cfg.steps:
                continue
            metrics = validation_metrics(data, evaluate(data.valid_seqs))
            history.append({"step": step + 1, "train_loss": loss, **metrics})
            if not bar_shown():
                key = "pearson" if data.regression else "macro_f1"
                info(f"step {step + 1}/{cfg.steps}: train loss {loss:.4f}, validation {key} {metrics[key]:.4f}")
            # The first evaluation always counts, so a metric that is undefined (NaN: constant
            # predictions) still leaves weights to save.
            if best["state"] is None or _score(data, metrics, cfg.select) > best["score"]:
                best = {"score": _score(data, metrics, cfg.select), "state": copy.deepcopy(model.state_dict()),
                        "step": step + 1, "metrics": metrics}
                stale = 0
            else:
                stale += 1
                if stale >= cfg.patience:
                    info(f"early stop at step {step + 1}: no improvement for {stale} evaluations")
                    break
    return best, history


def _train_step(torch, step: int, cfg: FinetuneConfig, data, model, forward, optimizer, weight_t) -> float:
    """One optimiser step on the batch of ``step``; returns its loss."""
    model.train()
    for group in optimizer.param_groups:
        group["lr"] = _lr(step, cfg)
    seqs, targets = data.train_batch(step, cfg.batch_size)
    if cfg.rc_aug:
        from genotx.train.recipe import random_strand

        seqs = random_strand(seqs, np.random.default_rng([cfg.seed, step, 29]))
    logits = forward(seqs).float()
    targets = torch.as_tensor(targets, device=logits.device)
    if data.regression:
        loss = torch.nn.functional.mse_loss(logits.squeeze(-1), targets.float())
    else:
        weight = None if weight_t is None else weight_t.to(logits.device)
        loss = torch.nn.functional.cross_entropy(logits, targets, weight=weight)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    return float(loss.item())


def evaluate_as_is(data, model, evaluate) -> dict:
    """--steps 0: the source model's weights, evaluated on this validation set."""
    metrics = validation_metrics(data, evaluate(data.valid_seqs))
    return {"score": _score(data, metrics), "state": copy.deepcopy(model.state_dict()), "step": 0, "metrics": metrics}


def _keep_source_record(cfg: FinetuneConfig, pretrained: str, metadata: dict, result: dict) -> None:
    """--steps 0 keeps the source model's weights: keep how they were trained, and say what was redone."""
    with open(os.path.join(resolve_model_dir(pretrained), "config.json")) as fh:
        trained = json.load(fh).get("metadata") or {}
    metadata.update(finetune=trained.get("finetune"), source=trained.get("source"),
                    rebuilt={"from": str(pretrained), "finetune": asdict(cfg)})
    result.update(source=trained.get("source"), rebuilt_from=str(pretrained))
    source_metrics = os.path.join(resolve_model_dir(pretrained), "metrics.json")
    if os.path.exists(source_metrics):
        with open(source_metrics) as fh:
            result["history"] = json.load(fh).get("history", [])


def _attach_memory(model, tokenizer, data, index_cfg) -> tuple[dict, dict]:
    """Build the taxon k-mer index from the training genomes and fit its weight against the network's.

    The weights are fitted on reads the memory has not indexed (`genotx.taxon.heldout`: leave
    one strain out), never on reads of the indexed genomes, where the memory is never wrong.
    Returns the checkpoint's extra files and its ``kmer_memory`` metadata (the one place the
    weights are kept), with the combined ``validation`` metrics.
    """
    from genotx.taxon.combine import combine
    from genotx.taxon.kmer_index import FILE, KmerIndex

    genomes = data.genomes
    started = time.time()
    with progress("k-mer memory", total=len(genomes.taxa)) as bar:
        index = KmerIndex.build(genomes, index_cfg, report=lambda _t: bar.advance(1))
    weights, fit = _fit_combination(model, tokenizer, data, index)
    log_probs = np.log(np.maximum(batched_outputs(model, tokenizer, data.valid_seqs), 1e-30))
    evidence = index.evidence(data.valid_seqs)
    combined = validation_metrics(data, combine(weights, log_probs, evidence))
    memory_only = validation_metrics(data, combine(weights, np.zeros_like(log_probs), evidence))
    info(f"k-mer memory (k {index_cfg.k}, 2^{index_cfg.bits} buckets) built and fitted in {time.time() - started:.0f} s; "
         f"weights model {weights.model:.3g}, memory {weights.memory:.3g}; validation (reads of the indexed genomes) "
         f"macro-F1 {combined['macro_f1']:.4f} (memory alone {memory_only['macro_f1']:.4f})")
    meta = {**asdict(index_cfg), "file": FILE, "weights": weights.as_list(), "fit": fit,
            "memory_only_macro_f1": memory_only["macro_f1"], "validation": combined}
    return {FILE: index.save}, meta


def _fit_combination(model, tokenizer, data, index):
    """Weights of network and memory fitted on held-out strains' reads, and a record of the fit."""
    from genotx.taxon.combine import Weights, combine, fit_weights
    from genotx.taxon.heldout import leave_one_strain_out

    sim = data.simulators[0]
    held = leave_one_strain_out(index, data.genomes, n_reads=len(data.valid_seqs), length=sim.length,
                                errors=sim.errors, seed=data.seed + 2_000_003)
    if held is None:
        info("k-mer memory: no species has two training genomes, so there are no reads the memory has not "
             "indexed to fit the combination on; the memory decides alone, its evidence as it is (weights 0, 1)")
        return Weights(0.0, 1.0), {"reads": "none: no species with two training genomes"}
    log_probs = np.log(np.maximum(batched_outputs(model, tokenizer, held.seqs), 1e-30))
    weights = fit_weights(log_probs, held.evidence, held.targets)

    def accuracy(probs):  # as predict calls reads: below probability 0.5 unclassified, which is wrong here
        return float(np.mean((probs.argmax(1) == held.targets) & (probs.max(1) >= 0.5)))

    scores = {"combined": accuracy(combine(weights, log_probs, held.evidence)),
              "memory_alone": accuracy(combine(weights, np.zeros_like(log_probs), held.evidence)),
              "network_alone": accuracy(np.exp(log_probs))}
    info(f"combination fitted on {len(held.seqs)} reads of {len(held.folds)} held-out strains (leave one strain out): "
         + ", ".join(f"{k.replace('_', ' ')} accuracy {v:.4f}" for k, v in scores.items()))
    return weights, {"reads": "leave one strain out", "n_reads": len(held.seqs), "accuracy": scores,
                     "held_out": [os.path.basename(f.held_out) for f in held.folds]}
