"""One cell of the grid: pretrain at a fixed FLOP budget, score length extrapolation, fine-tune on every task.

A cell lives in OUT/cells/<name>/::

    pretrain/        the `genotx pretrain` run directory (run.json, model/)
    tasks/<task>.json  the validation metrics of one fine-tuning run
    result.json      everything the grid reports about the cell, written last and atomically

Each step is skipped when its output exists, so an interrupted cell continues
where it stopped (pretraining resumes from its last checkpoint) and a finished
cell is never run again.

Example::

    result = run_cell(Cell(tokenizer="char", pe="rope", objective="ar"), budget_settings("tiny"), "grid/",
                      corpus=corpus_files("small-genomes"), tasks=load_tasks(("splice",), [], taxon_valid=10))
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time

from genotx.errors import InputError
from genotx.grid.extrapolate import extrapolation_losses
from genotx.grid.spec import EXTRAPOLATION, Cell
from genotx.io.atomic import write_json_atomic

# The single number that ranks configurations: the mean of each task's headline metric.
HEADLINE = {"regulatory": "macro_f1", "taxon": "macro_f1", "expression": "pearson"}


def read_json(path: str) -> dict | None:
    """The content of a JSON file, or None when it is missing or unreadable (a torn write)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def tokenizer_spec(spec: str, budget: dict) -> str:
    """The tokenizer a budget trains: BPE vocabularies are capped by the budget's ``max_vocab``."""
    kind, _, size = spec.partition(":")
    if kind in ("bpe", "rcbpe"):
        return f"{kind}:{min(int(size or 4096), budget['max_vocab'])}"
    return spec


def _tokenizer_fasta(split, path: str, bases: int) -> None:
    """The first part of every record's training region, ``bases`` in all (the held-out tail stays unseen)."""
    from genotx.io.codes import codes_to_strings

    fraction = min(1.0, bases / max(1, split.train_bases))
    with open(path, "w", encoding="ascii") as out:
        for i, rid in enumerate(split.genome.ids):
            start, length = int(split.train_starts[i]), math.ceil(int(split.train_lengths[i]) * fraction)
            if length:
                out.write(f">{rid}\n{codes_to_strings(split.genome.codes[None, start : start + length])[0]}\n")


def shared_tokenizer(spec: str, split, folder: str, budget: dict) -> str:
    """The path (BPE kinds, trained once per grid and shared by its cells) or the spec of a cell's tokenizer."""
    from genotx.grid.spec import tokenizer_label
    from genotx.tokenizers import train_tokenizer

    spec = tokenizer_spec(spec, budget)
    kind, _, size = spec.partition(":")
    if kind not in ("bpe", "rcbpe"):
        return spec
    path = os.path.join(folder, f"{tokenizer_label(spec)}.json")
    if not os.path.exists(path):
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            fasta = os.path.join(tmp, "train.fa")
            _tokenizer_fasta(split, fasta, budget["tokenizer_bases"])
            train_tokenizer(kind, [fasta], vocab_size=int(size), seed=0).save(path)
    return path


def train_config(cell: Cell, budget: dict, tokenizer: str, max_tokens: int | None = None):
    from genotx.train.config import TrainConfig

    return TrainConfig(
        objective=cell.objective, tokenizer=tokenizer, pe=cell.pe, mixer=cell.mixer, d_model=budget["d_model"],
        n_layers=budget["n_layers"], n_heads=budget["n_heads"], seq_len=budget["seq_len"],
        batch_size=budget["batch_size"], lr=budget["lr"], eval_windows=budget["eval_windows"],
        eval_fraction=budget["eval_fraction"], max_steps=None if max_tokens else 1, max_tokens=max_tokens,
        seed=cell.seed, save_every=50, keep=1,
    )


def output_flops_per_token(cfg, vocab_size: int) -> float:
    """Training FLOPs per input token of the output layer (d_model x vocabulary), which
    training_flops leaves out with the embeddings: 6·d·V per predicted token, and MLM predicts
    only its masked share. With a 4k vocabulary and d_model 64 this layer costs more than the
    blocks, so a budget without it would hand large-vocabulary cells several times the time."""
    predicted = cfg.mask_rate if cfg.objective == "mlm" else 1.0
    return 6.0 * cfg.d_model * vocab_size * predicted


def tokens_for_budget(cfg, split, tokenizer, flops: float) -> int:
    """Tokens D whose training FLOPs (training_flops plus the output layer) equal ``flops``."""
    import numpy as np

    from genotx.models import GenomicModel
    from genotx.io.codes import codes_to_strings
    from genotx.train.record import training_flops
    from genotx.train.setup import model_config

    causal = cfg.objective == "ar"
    windows = split.train_windows(seed=0, step=0, batch_size=32).codes
    n_ctx = float(np.mean([len(t) for t in tokenizer.encode_batch(codes_to_strings(windows))])) + causal
    model_cfg = model_config(cfg, tokenizer, causal=causal)
    counts = GenomicModel(model_cfg).param_counts()
    per_token = training_flops(non_embedding=counts["non_embedding"], tokens=1, n_layers=cfg.n_layers,
                               d_model=cfg.d_model, n_ctx=n_ctx, mixer=cfg.mixer, window=cfg.window,
                               hybrid_pattern=model_cfg.hybrid_pattern)
    per_token += output_flops_per_token(cfg, tokenizer.vocab_size)
    return max(1, int(flops / per_token))


def pretrain_cell(cell: Cell, budget: dict, run_dir: str, corpus: list[str], tokenizer_folder: str) -> dict:
    """The run record of the cell's pretraining (reused when run.json exists)."""
    from genotx.io.genome import load_genome
    from genotx.objectives.windows import GenomeSplit
    from genotx.train.loop import pretrain
    from genotx.train.setup import make_tokenizer

    record = read_json(os.path.join(run_dir, "run.json"))
    if record is not None:
        return record
    split = GenomeSplit(load_genome(corpus), seq_len=budget["seq_len"], eval_fraction=budget["eval_fraction"])
    spec = shared_tokenizer(cell.tokenizer, split, tokenizer_folder, budget)
    tokenizer = make_tokenizer(spec, split, tokenizer_folder, seed=0)
    tokens = tokens_for_budget(train_config(cell, budget, spec), split, tokenizer, budget["flops"])
    cfg = train_config(cell, budget, spec, max_tokens=tokens)
    resume = os.path.exists(os.path.join(run_dir, "train_config.json"))
    return pretrain(cfg, corpus, run_dir, resume=resume)


def finetune_cell(cell: Cell, budget: dict, run_dir: str, task: str, data, path: str) -> dict:
    """Validation metrics of fine-tuning the cell's model on one task (reused when ``path`` exists)."""
    from genotx.train.finetune import FinetuneConfig, finetune

    saved = read_json(path)
    if saved is not None:
        return saved
    steps = budget["finetune_steps"]
    # One evaluation, after the last step: no early stopping chooses among evaluations on the
    # very set that is reported, so the reported metric carries no selection bias.
    cfg = FinetuneConfig(task=data.task, steps=steps, batch_size=budget["finetune_batch"], warmup=max(1, steps // 10),
                         eval_every=steps, seed=cell.seed)
    with tempfile.TemporaryDirectory(dir=os.path.dirname(path)) as tmp:
        result = finetune(cfg, data, os.path.join(tmp, "model"), pretrained=run_dir)
    metrics = {k: v for k, v in result["validation"].items() if isinstance(v, (int, float))}
    payload = {"task": task, "metrics": metrics, "headline": HEADLINE[data.task], "wall_s": result["wall_seconds"]}
    write_json_atomic(path, payload)
    return payload


def score(tasks: dict) -> float:
    """Mean headline metric over the tasks (NaN when there are none)."""
    values = [t["metrics"].get(t["headline"], float("nan")) for t in tasks.values()]
    values = [v for v in values if v == v]
    return sum(values) / len(values) if values else float("nan")


def run_cell(cell: Cell, budget: dict, out_dir: str, *, corpus: list[str], tasks: dict) -> dict:
    """Run (or finish) one cell and return its result (see the module docstring)."""
    from genotx.models import load_checkpoint

    cell_dir = os.path.join(out_dir, "cells", cell.name)
    done = read_json(os.path.join(cell_dir, "result.json"))
    if done is not None:
        return {**done, "status": "skipped"}
    os.makedirs(os.path.join(cell_dir, "tasks"), exist_ok=True)
    started = time.perf_counter()
    run_dir = os.path.join(cell_dir, "pretrain")
    try:
        record = pretrain_cell(cell, budget, run_dir, corpus, os.path.join(out_dir, "tokenizers"))
    except InputError as exc:  # a combination the models refuse: reported, not retried
        result = {**cell.to_dict(), "status": "cannot run", "reason": str(exc)}
        write_json_atomic(os.path.join(cell_dir, "result.json"), result)
        return result
    from genotx.train.config import TrainConfig

    cfg = TrainConfig.from_dict(record["config"])
    model, tokenizer, _ = load_checkpoint(os.path.join(run_dir, "model"))
    extrapolation = extrapolation_losses(model, tokenizer, cell.objective, corpus, seq_len=budget["seq_len"],
                                         factors=EXTRAPOLATION, windows=budget["eval_windows"],
                                         eval_fraction=budget["eval_fraction"], batch_size=budget["batch_size"])
    scores = {task: finetune_cell(cell, budget, run_dir, task, data, os.path.join(cell_dir, "tasks", f"{task}.json"))
              for task, data in tasks.items()}
    result = {
        **cell.to_dict(), "status": "done", "budget_flops": budget["flops"], "kaplan_flops": record["flops"],
        "flops": record["flops"] + record["tokens"] * output_flops_per_token(cfg, record["model"]["vocab_size"]),
        "params": record["params"], "params_total": record["params_total"], "tokens": record["tokens"],
        "bases": record["bases"], "steps": record["steps"], "vocab_size": record["model"]["vocab_size"],
        "loss_per_token": record["loss_per_token"], "loss_per_base": record["loss_per_base"],
        "baseline_loss": record["baseline_loss"], "pretrain_wall_s": record["wall_time_s"],
        "extrapolation": {str(k): v for k, v in extrapolation.items()},
        "tasks": scores, "score": score(scores), "wall_s": round(time.perf_counter() - started, 2),
    }
    write_json_atomic(os.path.join(cell_dir, "result.json"), result)
    shutil.rmtree(os.path.join(run_dir, "checkpoints"), ignore_errors=True)  # the final model stays in model/
    return result
