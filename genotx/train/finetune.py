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
from genotx.progress import enabled as bar_shown
from genotx.progress import info, progress
from genotx.runtime import import_torch
from genotx.tasks.kmer_memory import FILE as KMER_MEMORY_FILE


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

    def __post_init__(self) -> None:
        for name in ("batch_size", "eval_every"):
            if getattr(self, name) < 1:
                raise InputError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.steps < 0:
            raise InputError(f"--steps must be at least 0, got {self.steps}")
        if self.kmer_memory not in ("auto", "off") and self.task != "taxon":
            raise InputError(f"--kmer-memory is for --task taxon (it memorises genomes), not {self.task}")
        if not self.lr > 0:
            raise InputError(f"--lr must be positive, got {self.lr}")
        self.memory_config()  # a malformed spec fails before any data is read

    def memory_config(self):
        """The `MemoryConfig` of the k-mer memory, or None."""
        from genotx.tasks.kmer_memory import MemoryConfig

        if self.task != "taxon":
            return None
        return MemoryConfig.parse("13:23" if self.kmer_memory == "auto" else self.kmer_memory)


def encode_sequences(tokenizer, seqs: list, max_tokens: int):
    """Tokenise, prepend CLS, truncate to ``max_tokens`` and right-pad: (ids, mask or None) tensors.

    Items may also be (ref, alt) window pairs of the variant task: see `encode_pairs`.
    """
    import_torch()
    from genotx.objectives.common import pad_token_rows
    from genotx.tokenizers import CLS_ID

    if seqs and isinstance(seqs[0], tuple):
        return encode_pairs(tokenizer, seqs, max_tokens)
    ids, mask = pad_token_rows(tokenizer.encode_batch(seqs), lead=CLS_ID, max_tokens=max_tokens)
    return ids, (None if bool(mask.all()) else mask)


def encode_pairs(tokenizer, pairs: list[tuple[str, str]], max_tokens: int):
    """``CLS ref SEP alt`` rows of (reference, alternate) windows, right-padded: (ids, mask or None).

    Each window is centred on its variant, so when the pair does not fit in
    ``max_tokens`` both windows lose tokens at both ends and the variant stays in.
    Example: ``encode_pairs(tok, [("ACGTA", "ACTTA")], 64)``.
    """
    from genotx.objectives.common import pad_token_rows
    from genotx.tokenizers import CLS_ID, SEP_ID

    half = max(1, (max_tokens - 2) // 2)

    def centre(ids: np.ndarray) -> np.ndarray:
        cut = max(0, len(ids) - half)
        return ids[cut // 2 : len(ids) - (cut - cut // 2)]

    rows = [np.concatenate([[CLS_ID], centre(tokenizer.encode(ref)), [SEP_ID], centre(tokenizer.encode(alt))])
            for ref, alt in pairs]
    ids, mask = pad_token_rows(rows, max_tokens=max_tokens)
    return ids, (None if bool(mask.all()) else mask)


def _bases(item) -> int:
    """Length of a sequence, or of a (ref, alt) pair with its separator."""
    return len(item[0]) + len(item[1]) + 1 if isinstance(item, tuple) else len(item)


def _pooling(cfg: FinetuneConfig, causal: bool) -> str:
    """CLS pooling keeps where things are (mean pooling over a relative-PE encoder cannot tell
    a motif at the centre from one at the edge); a causal CLS sees nothing, so causal models pool by mean."""
    if cfg.pooling == "auto":
        return "mean" if causal else "cls"
    return cfg.pooling


def resolve_model_dir(path: str) -> str:
    """A checkpoint directory, or a pretraining run directory holding its final model in ``model/``."""
    if not os.path.exists(os.path.join(path, "config.json")) and os.path.exists(os.path.join(path, "model", "config.json")):
        return os.path.join(path, "model")
    return path


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

    settings = resolve_preset(preset or f"{data.task}-tiny")
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
        pooling=_pooling(cfg, False),
    )
    return GenomicModel(mcfg), tokenizer, f"preset {preset or 'default'} (no pretraining)"


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


def predict_outputs(model, tokenizer, seqs: list[str], batch_size: int = 256):
    """Model outputs for many sequences: (n, C) probabilities or (n,) standardised values."""
    torch = import_torch()
    outs = []
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(seqs), batch_size):
            ids, mask = encode_sequences(tokenizer, seqs[start : start + batch_size], model.config.max_len)
            logits = model(ids, mask).logits.float()
            outs.append(logits.squeeze(-1) if model.config.head == "regress" else logits.softmax(-1))
    return torch.cat(outs).numpy()


def validation_metrics(data, outputs: np.ndarray) -> dict:
    from genotx.tasks.metrics import auroc, classification_metrics, regression_metrics

    if data.regression:
        return regression_metrics(data.valid_targets, outputs)
    predicted = outputs.argmax(1)
    labels = np.array(data.classes)
    metrics = classification_metrics(labels[data.valid_targets], labels[predicted], classes=data.classes)
    metrics["auroc"] = auroc(data.valid_targets, outputs)
    return metrics


def _score(data, metrics: dict) -> float:
    value = metrics["pearson"] if data.regression else metrics["macro_f1"]
    return -math.inf if value != value else value


def finetune(cfg: FinetuneConfig, data, out_dir: str, *, pretrained=None, preset=None, tokenizer_spec=None) -> dict:
    """Train, early-stop on validation, save the best checkpoint to ``out_dir``; returns metrics."""
    torch = import_torch()
    from genotx.models import save_checkpoint

    torch.manual_seed(cfg.seed)
    if cfg.steps == 0 and not pretrained:
        raise InputError("--steps 0 (no training) needs --from a fine-tuned model of the same task")
    model, tokenizer, source = build_model(data, cfg, pretrained=pretrained, preset=preset,
                                           tokenizer_spec=tokenizer_spec)
    info(f"fine-tuning {data.task} from {source}: {model.param_counts()['total']:,} parameters, "
         f"{data.n_outputs} output(s), {len(data.valid_seqs)} validation sequences")
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)
    weights = data.class_weights()
    weight_t = None if weights is None else torch.tensor(weights, dtype=torch.float32)
    best = {"score": -math.inf, "state": None, "step": 0, "metrics": {}}
    history, stale, started = [], 0, time.time()
    with progress(f"finetune {data.task}", total=cfg.steps) as bar:
        for step in range(cfg.steps):
            model.train()
            for group in optimizer.param_groups:
                group["lr"] = _lr(step, cfg)
            seqs, targets = data.train_batch(step, cfg.batch_size)
            ids, mask = encode_sequences(tokenizer, seqs, model.config.max_len)
            logits = model(ids, mask).logits
            if data.regression:
                loss = torch.nn.functional.mse_loss(logits.squeeze(-1), torch.as_tensor(targets, dtype=torch.float32))
            else:
                loss = torch.nn.functional.cross_entropy(logits, torch.as_tensor(targets), weight=weight_t)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            bar.advance(1, status=f"loss {loss.item():.4f}")
            if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:
                metrics = validation_metrics(data, predict_outputs(model, tokenizer, data.valid_seqs))
                history.append({"step": step + 1, "train_loss": float(loss.item()), **metrics})
                if not bar_shown():
                    key = "pearson" if data.regression else "macro_f1"
                    info(f"step {step + 1}/{cfg.steps}: train loss {loss.item():.4f}, validation {key} {metrics[key]:.4f}")
                # The first evaluation always counts, so a metric that is undefined (NaN: constant
                # predictions) still leaves weights to save.
                if best["state"] is None or _score(data, metrics) > best["score"]:
                    best = {"score": _score(data, metrics), "state": copy.deepcopy(model.state_dict()),
                            "step": step + 1, "metrics": metrics}
                    stale = 0
                else:
                    stale += 1
                    if stale >= cfg.patience:
                        info(f"early stop at step {step + 1}: no improvement for {stale} evaluations")
                        break
    if cfg.steps == 0:
        metrics = validation_metrics(data, predict_outputs(model, tokenizer, data.valid_seqs))
        best = {"score": _score(data, metrics), "state": copy.deepcopy(model.state_dict()), "step": 0,
                "metrics": metrics}
    model.load_state_dict(best["state"])
    extra_files, memory_meta = {}, {}
    memory_cfg = cfg.memory_config()
    if memory_cfg is not None:
        memory, memory_meta = _fit_memory(model, tokenizer, data, memory_cfg)
        best["metrics"] = {**memory_meta["validation"], "model_only": best["metrics"]}
        extra_files[KMER_MEMORY_FILE] = memory.save
    result = {"task": data.task, "best_step": best["step"], "validation": best["metrics"], "history": history,
              "wall_seconds": round(time.time() - started, 1), "source": source, "config": asdict(cfg),
              "genotx_version": __version__}
    metadata = {"task": data.task, "classes": data.classes, "finetune": asdict(cfg), "source": source,
                "validation": best["metrics"], **data.metadata,
                **({"kmer_memory": {k: v for k, v in memory_meta.items() if k != "validation"}} if memory_meta else {})}
    if cfg.steps == 0:
        # The weights are the source model's: keep how they were trained, and say what was redone.
        with open(os.path.join(resolve_model_dir(pretrained), "config.json")) as fh:
            trained = json.load(fh).get("metadata") or {}
        metadata.update(finetune=trained.get("finetune"), source=trained.get("source"),
                        rebuilt={"from": str(pretrained), "finetune": asdict(cfg)})
        result.update(source=trained.get("source"), rebuilt_from=str(pretrained))
        source_metrics = os.path.join(resolve_model_dir(pretrained), "metrics.json")
        if os.path.exists(source_metrics):
            with open(source_metrics) as fh:
                result["history"] = json.load(fh).get("history", [])
    save_checkpoint(out_dir, model, tokenizer, metadata, extra_files=extra_files)
    _write_json_atomic(os.path.join(out_dir, "metrics.json"), result)
    return result


def _fit_memory(model, tokenizer, data, memory_cfg):
    """Build the k-mer memory from the training genomes and fit its weight against the model's on validation."""
    from genotx.tasks.kmer_memory import KmerMemory

    genomes = data.genomes
    started = time.time()
    with progress("k-mer memory", total=len(genomes.taxa)) as bar:
        memory = KmerMemory.build(genomes, memory_cfg, report=lambda _t: bar.advance(1))
    log_probs = np.log(np.maximum(predict_outputs(model, tokenizer, data.valid_seqs), 1e-30))
    evidence = memory.evidence(data.valid_seqs)
    weights = memory.fit_weights(log_probs, evidence, data.valid_targets)
    combined = validation_metrics(data, memory.combine(log_probs, evidence))
    memory_only = validation_metrics(data, memory.combine(np.zeros_like(log_probs), evidence))
    info(f"k-mer memory (k {memory_cfg.k}, 2^{memory_cfg.bits} buckets) built in {time.time() - started:.0f} s; "
         f"weights model {weights[0]:.3g}, memory {weights[1]:.3g}; validation macro-F1 "
         f"{combined['macro_f1']:.4f} (memory alone {memory_only['macro_f1']:.4f})")
    meta = {**asdict(memory_cfg), "file": KMER_MEMORY_FILE, "weights": list(weights),
            "memory_only_macro_f1": memory_only["macro_f1"], "validation": combined}
    return memory, meta


def _write_json_atomic(path: str, payload: dict) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as fh:
        json.dump(payload, fh, indent=2, default=float)
        fh.write("\n")
    os.replace(tmp, path)
