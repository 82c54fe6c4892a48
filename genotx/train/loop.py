"""The pretraining loop: AdamW with warm-up and cosine decay, bf16 autocast, DDP, exact resume.

Run directory::

    train_config.json     settings and inputs of the run (checked on --resume)
    tokenizer.json        the run's tokenizer
    metrics.tsv           step, tokens, bases, lr, train loss, eval loss, tokens/s, elapsed
    checkpoints/step-N/   the last --keep checkpoints (genotx.train.checkpoint)
    model/                the final model (genotx.models checkpoint format)
    run.json              the run record (genotx.train.record), written last

Example::

    record = pretrain(TrainConfig(objective="ar", max_steps=100), ["genome.fa"], "runs/ar")
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field

from genotx.errors import InputError
from genotx.progress import info, progress
from genotx.runtime import default_threads, import_torch, settings
from genotx.train import checkpoint as ckpt
from genotx.train.config import TrainConfig
from genotx.io.genome import load_genome
from genotx.objectives.windows import GenomeSplit, step_rng
from genotx.train.distributed import Distributed
from genotx.train.evaluate import eval_batches, evaluate
from genotx.train.metrics import MetricsLog
from genotx.io.atomic import write_json_atomic
from genotx.train.record import run_record

# Settings that may change between a run and its --resume: bookkeeping, and the length of the
# run, so that a finished run can be trained further (the learning-rate schedule is then
# the one of the new length, continued from the step reached).
RESUMABLE_CHANGES = ("log_every", "eval_every", "save_every", "keep", "max_steps", "max_tokens")


def lr_at(step: int, cfg: TrainConfig, total: int) -> float:
    """Linear warm-up over warmup_fraction of the steps, then cosine decay to lr * min_lr_ratio."""
    warmup = max(1, round(cfg.warmup_fraction * total))
    if step < warmup:
        return cfg.lr * (step + 1) / warmup
    progress_ = (step - warmup) / max(1, total - warmup)
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + (cfg.lr - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress_)))


def _loss_module(model, heads, objective):
    """One module whose forward is the whole loss, so DDP sees a single forward per step."""
    import torch.nn as nn

    class LossModule(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model
            self.heads = nn.ModuleDict(heads)

        def forward(self, batch):
            return objective.loss(self.model, self.heads, batch)

    return LossModule()


def _to_device(device: str):
    def move(value):
        if hasattr(value, "to") and hasattr(value, "dtype"):
            return value.to(device, non_blocking=True)
        if isinstance(value, dict):
            return {k: move(v) for k, v in value.items()}
        if isinstance(value, tuple):
            return tuple(move(v) for v in value)
        return value

    return move


def _optimizer(torch, module, cfg: TrainConfig):
    # No weight decay on biases, norms and other vectors (as in GPT-2/-3 training).
    params = [p for p in module.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    rest = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.95), eps=1e-8)


def _total_steps(cfg: TrainConfig, tokens_per_window: float, views: int, world: int) -> int:
    steps = [cfg.max_steps] if cfg.max_steps is not None else []
    if cfg.max_tokens:
        per_step = max(1.0, tokens_per_window * views * cfg.batch_size * world)
        steps.append(max(1, math.ceil(cfg.max_tokens / per_step)))
    return min(steps)


def _prepare_run_dir(cfg: TrainConfig, inputs: list[str], run_dir: str, resume: bool, dist) -> str | None:
    """Check the run directory; return the checkpoint to resume from (or None)."""
    latest = ckpt.list_checkpoints(run_dir)
    if not resume and (latest or os.path.exists(os.path.join(run_dir, "run.json"))):
        raise InputError(f"{run_dir} already holds a run; add --resume to continue it or choose a new -o DIR")
    config_path = os.path.join(run_dir, "train_config.json")
    if resume and os.path.exists(config_path):
        with open(config_path) as f:
            saved = json.load(f)
        differs = [k for k, v in cfg.to_dict().items() if saved["config"].get(k) != v and k not in RESUMABLE_CHANGES]
        if differs:
            raise InputError(f"--resume: settings differ from the run in {run_dir}: {', '.join(differs)}")
    if dist.is_main:
        os.makedirs(run_dir, exist_ok=True)
        write_json_atomic(config_path, {"config": cfg.to_dict(), "inputs": inputs})
    return latest[-1] if (resume and latest) else None


def _tokenizer(cfg, split, run_dir: str, resume_from: str | None, dist):
    from genotx.tokenizers import load_tokenizer
    from genotx.train.setup import make_tokenizer

    path = os.path.join(run_dir, "tokenizer.json")
    if resume_from:
        return load_tokenizer(os.path.join(resume_from, "tokenizer.json"))
    if dist.is_main:
        make_tokenizer(cfg.tokenizer, split, run_dir, cfg.seed).save(path)
    dist.barrier()
    return load_tokenizer(path)


def pretrain(cfg: TrainConfig, inputs: list[str], run_dir: str, *, resume: bool = False) -> dict:
    """Train per ``cfg`` on the FASTA ``inputs``; return the run record (also written to run.json)."""
    wall_start = time.perf_counter()
    # The data is checked before torch is imported, so bad input fails fast.
    genome = load_genome(inputs)
    split = GenomeSplit(genome, seq_len=cfg.seq_len, eval_fraction=cfg.eval_fraction, max_n_fraction=cfg.max_n_fraction)
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    if local_world > 1:  # processes on one machine share its cores
        settings.threads = max(1, (settings.threads or default_threads()) // local_world)
    import_torch()
    dist = Distributed.from_environment()
    try:
        return _pretrain(cfg, inputs, split, run_dir, resume, dist, wall_start)
    finally:
        dist.close()


@dataclass
class _Run:
    """Everything one pretraining run holds while it trains (built by `_build`)."""

    cfg: TrainConfig
    split: object
    run_dir: str
    dist: object
    tokenizer: object
    objective: object
    model_cfg: object
    model: object
    module: object
    optimizer: object
    to_device: object
    metadata: dict
    wall_start: float
    state: dict = field(default_factory=lambda: {"tokens": 0, "bases": 0, "wall_time_s": 0.0})


def _pretrain(cfg: TrainConfig, inputs: list[str], split, run_dir: str, resume: bool, dist, wall_start: float) -> dict:
    torch = import_torch()
    resume_from = _prepare_run_dir(cfg, inputs, run_dir, resume, dist)
    run = _build(torch, cfg, split, run_dir, resume_from, dist, wall_start)
    batches, baselines, tokens_per_window = eval_batches(run.objective, split, run.tokenizer, cfg)
    views = 1 + cfg.objective.count("contrastive")
    total = _total_steps(cfg, tokens_per_window, views, dist.world)
    if resume_from:
        run.state = ckpt.load_training_checkpoint(resume_from, model=run.model, heads=run.module.heads,
                                                  optimizer=run.optimizer)
        if dist.is_main:
            info(f"resuming {run_dir} from step {run.state['step']}")
    start = int(run.state.get("step", 0))
    if dist.is_main and cfg.objective != "mlm+contrastive" and "contrastive" in cfg.objective:
        info(f"contrastive positives: {run.objective.positives}")
    evaluation = (batches, baselines, tokens_per_window / cfg.seq_len)
    result = _train_steps(torch, run, start, total, evaluation, resumed=bool(resume_from))
    wall = run.state["wall_time_s"] + time.perf_counter() - wall_start
    record = None
    if dist.is_main:
        final = evaluate(run.module, *evaluation, run.to_device) if start >= total else result
        n_ctx = tokens_per_window + (1 if run.objective.causal else 0)
        record = _finish(run, inputs, total, final, n_ctx=n_ctx, wall=wall)
    dist.barrier()
    return record


def _build(torch, cfg: TrainConfig, split, run_dir: str, resume_from: str | None, dist, wall_start: float) -> _Run:
    """Tokenizer, objective, model with the objective's heads, and optimiser of a run."""
    from genotx.models import GenomicModel
    from genotx.objectives import build_objective
    from genotx.train.setup import model_config

    tokenizer = _tokenizer(cfg, split, run_dir, resume_from, dist)
    objective = build_objective(
        cfg.objective, tokenizer=tokenizer, split=split, mask_rate=cfg.mask_rate, rc_aug=cfg.rc_aug,
        pairs=cfg.pairs, annotations=cfg.annotations, mutation_rate=cfg.mutation_rate, temperature=cfg.temperature,
        aux_weight=cfg.aux_weight, seed=cfg.seed,
    )
    model_cfg = model_config(cfg, tokenizer, causal=objective.causal)
    if dist.device == "cpu" and model_cfg.mixer in ("mamba", "hybrid"):
        # The CPU scan's many float64 chunk tensors of a few MB fragment glibc's heap, which
        # then never shrinks: 9.5 GB peak RSS for 2 GB of live tensors (d 128, 4 layers,
        # 8 x 512). Mapping blocks of 8 MB and more on their own brought it to 3.6 GB.
        from genotx.runtime import set_malloc

        set_malloc(mmap_threshold=8 << 20)
    torch.manual_seed(cfg.seed)
    model = GenomicModel(model_cfg)
    module = _loss_module(model, objective.heads(cfg.d_model), objective).to(dist.device)
    metadata = {"objective": cfg.objective, "train_config": cfg.to_dict(), "seed": cfg.seed,
                "positives": getattr(objective, "positives", None)}
    return _Run(cfg, split, run_dir, dist, tokenizer, objective, model_cfg, model, module,
                _optimizer(torch, module, cfg), _to_device(dist.device), metadata, wall_start)


def _save(run: _Run, step: int) -> None:
    """A training checkpoint of step ``step`` (written by the main process; every rank waits for it)."""
    if run.dist.is_main:
        elapsed = run.state["wall_time_s"] + time.perf_counter() - run.wall_start
        ckpt.save_training_checkpoint(
            run.run_dir, step=step, model=run.model, heads=run.module.heads, optimizer=run.optimizer,
            tokenizer=run.tokenizer, metadata={**run.metadata, "step": step}, keep=run.cfg.keep,
            state={"tokens": run.state["tokens"], "bases": run.state["bases"], "wall_time_s": elapsed},
        )
    run.dist.barrier()


def _train_steps(torch, run: _Run, start: int, total: int, evaluation: tuple, *, resumed: bool):
    """Steps ``start`` to ``total``, logging, evaluating and saving on schedule; returns the last evaluation."""
    cfg, dist, state = run.cfg, run.dist, run.state
    metrics = None
    if dist.is_main:
        metrics = MetricsLog(os.path.join(run.run_dir, "metrics.tsv"), keep_until=start if resumed else None)
    trainer = dist.wrap(run.module)
    autocast = torch.autocast(device_type=dist.device.split(":")[0], dtype=torch.bfloat16, enabled=cfg.bf16)
    window_start, window_tokens, window_losses = time.perf_counter(), 0, []
    result = None
    run.module.train()
    with progress("pretrain", total=total) as bar:
        bar.advance(start)
        for step in range(start, total):
            parts = _train_step(torch, step, lr_at(step, cfg, total), cfg=cfg, split=run.split,
                                objective=run.objective, trainer=trainer, optimizer=run.optimizer, dist=dist,
                                to_device=run.to_device, autocast=autocast)
            seen = _all_ranks_sum(torch, dist, [parts.tokens, parts.bases])
            state["tokens"] += int(seen[0])
            state["bases"] += int(seen[1])
            window_tokens += int(seen[0])
            loss_value = float(parts.total.detach())
            window_losses.append(loss_value)
            done = step + 1
            rate = window_tokens / max(1e-9, time.perf_counter() - window_start)
            bar.advance(1, status=f"loss {loss_value:.4f}  {rate:,.0f} tok/s")
            eval_now = done == total or (cfg.eval_every and done % cfg.eval_every == 0)
            result = evaluate(run.module, *evaluation, run.to_device) if (eval_now and dist.is_main) else None
            if dist.is_main and (done % cfg.log_every == 0 or result is not None):
                elapsed = state["wall_time_s"] + time.perf_counter() - run.wall_start
                metrics.write(step=done, tokens=state["tokens"], bases=state["bases"],
                              lr=run.optimizer.param_groups[0]["lr"], loss=sum(window_losses) / len(window_losses),
                              eval_loss=result["loss_per_token"] if result else None, tokens_per_s=rate,
                              elapsed_s=elapsed)
                window_start, window_tokens, window_losses = time.perf_counter(), 0, []
            if done == total or (cfg.save_every and done % cfg.save_every == 0):
                _save(run, done)
    return result


def _finish(run: _Run, inputs: list[str], total: int, final: dict, *, n_ctx: float, wall: float) -> dict:
    """The final model in ``model/`` and the run record in run.json (main process only)."""
    from genotx.models import save_checkpoint

    cfg, state = run.cfg, run.state
    # the run's own model (a resumed run that trains further replaces it)
    save_checkpoint(os.path.join(run.run_dir, "model"), run.model, run.tokenizer, {**run.metadata, "step": total})
    record = run_record(
        cfg=cfg, model_cfg=run.model_cfg, counts=run.model.param_counts(), tokens=state["tokens"],
        bases=state["bases"], n_ctx=n_ctx, evaluation=final, steps=total, wall_s=wall, world=run.dist.world,
        inputs=inputs,
        extra={"baseline": "log(batch size)" if final["main"] == "contrastive" else "unigram model on the scored tokens",
               "positives": getattr(run.objective, "positives", None)},
    )
    write_json_atomic(os.path.join(run.run_dir, "run.json"), record)
    info(f"{cfg.objective}: held-out loss {final['loss_per_token']:.4f} nats/token "
         f"(baseline {final['baseline']:.4f}) after {total} steps; wrote {run.run_dir}/run.json")
    return record


def _train_step(torch, step: int, lr: float, *, cfg, split, objective, trainer, optimizer, dist, to_device, autocast):
    """One optimiser step on this rank's windows of step ``step``; every random draw is seeded by the step."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    windows = split.train_windows(seed=cfg.seed, step=step, batch_size=cfg.batch_size, rank=dist.rank,
                                  world=dist.world, both_strands=objective.both_strands)
    torch.manual_seed(cfg.seed * 1_000_003 + step * 1_009 + dist.rank)  # dropout
    batch = objective.prepare(windows.codes, step_rng(cfg.seed, step, 1 + dist.rank), offsets=windows.offsets)
    with autocast:
        parts = trainer(to_device(batch))
    parts.total.backward()
    if cfg.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]], cfg.grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return parts


def _all_ranks_sum(torch, dist, values: list[int]) -> list[int]:
    if not dist.enabled:
        return values
    import torch.distributed as tdist

    t = torch.tensor(values, dtype=torch.int64, device=dist.device)
    tdist.all_reduce(t)
    return t.tolist()
