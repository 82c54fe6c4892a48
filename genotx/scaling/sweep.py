"""Plan and run a grid of pretraining runs for a scaling law (IsoFLOP design).

For every compute budget C the plan holds `sizes` models spread evenly in log N
around a guess of the compute-optimal size, each trained on D = C / (6 N)
tokens, so that every budget is one IsoFLOP profile and all runs together cover
the (N, D) plane for the parametric fit.

Shape rule. The guess of the optimum is N* = sqrt(C / (6 r)) with r tokens per
parameter (default 20, Chinchilla's ratio). Sizes run from N*/sqrt(spread) to
N*·sqrt(spread). A target N becomes a shape with width/depth ratio `aspect`:
layers = round((N / (12 aspect²))^(1/3)), at least 1, then d_model = the
multiple of `head_dim` closest to sqrt(N / (12 layers)), with d_model /
head_dim heads. Non-embedding parameters of the genotx attention block with
d_ff = 4 d_model are 12 L d² + 9 L d + 2 d. Sizes that round to the same shape
are planned once.

Each run lives in OUT/<name>/ (``C1e+12-d64-L2``) with ``sweep.json`` (the plan
of that run) and, once finished, ``run.json`` from `genotx pretrain`. A run
whose run.json exists is skipped, one with a started ``train_config.json`` is
resumed with ``--resume``.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import asdict, dataclass

from genotx.errors import GenotxError, InputError
from genotx.io.atomic import write_json_atomic
from genotx.scaling.law import FLOPS_PER_PARAM_TOKEN


@dataclass(frozen=True, kw_only=True)
class PlannedRun:
    """One pretraining run of a sweep.

    Example::

        PlannedRun(budget=1e12, d_model=64, layers=2, heads=2, params=99584, tokens=1673630).name
        # 'C1e+12-d64-L2'
    """

    budget: float
    d_model: int
    layers: int
    heads: int
    params: int  # estimated non-embedding parameters
    tokens: int  # D = C / (6 N)

    @property
    def name(self) -> str:
        return f"C{self.budget:.3g}-d{self.d_model}-L{self.layers}"

    def to_dict(self) -> dict:
        return {**asdict(self), "name": self.name}


def block_params(d_model: int, layers: int) -> int:
    """Non-embedding parameters of `layers` genotx attention blocks of width d_model (d_ff = 4 d)."""
    return 12 * layers * d_model**2 + 9 * layers * d_model + 2 * d_model


def shape_for_params(target: float, *, aspect: float = 32.0, head_dim: int = 32) -> tuple[int, int]:
    """(d_model, layers) with non-embedding parameters closest to `target` (in log).

    Candidates: d_model a multiple of `head_dim`, d_model / layers within a
    factor 3 of `aspect`. Among near-equal sizes the shape nearer `aspect` wins
    (a 10 % size difference outweighs a factor 2 in aspect).

    Example::

        shape_for_params(1e5)   # (64, 2)
    """
    best, best_score = None, math.inf
    for d_model in range(head_dim, 64 * head_dim + 1, head_dim):
        for layers in range(max(1, math.ceil(d_model / (3 * aspect))), math.floor(3 * d_model / aspect) + 1):
            score = abs(math.log(block_params(d_model, layers) / target)) + 0.14 * abs(math.log2(d_model / layers / aspect))
            if score < best_score:
                best, best_score = (d_model, layers), score
    return best


def plan_sweep(
    budgets, sizes: int = 4, *, tokens_per_param: float = 20.0, spread: float = 16.0,
    aspect: float = 32.0, head_dim: int = 32, min_tokens: int = 1,
) -> list[PlannedRun]:
    """Runs of an IsoFLOP sweep, ordered by budget then size (see the module docstring).

    Runs with fewer than `min_tokens` tokens (too short to train) are left out.

    Example::

        plan = plan_sweep([1e12, 1e13], sizes=4)
        [(r.name, r.tokens) for r in plan]
    """
    if sizes < 1:
        raise InputError(f"--sizes {sizes}: must be at least 1")
    if spread < 1 or tokens_per_param <= 0:
        raise InputError("--spread must be at least 1 and --tokens-per-param positive")
    plan: list[PlannedRun] = []
    for budget in sorted(set(float(b) for b in budgets)):
        if not budget > 0:
            raise InputError(f"--budgets: {budget:g} is not a positive compute budget")
        centre = math.sqrt(budget / (FLOPS_PER_PARAM_TOKEN * tokens_per_param))
        seen = set()
        for i in range(sizes):
            position = 0.0 if sizes == 1 else i / (sizes - 1) - 0.5  # -1/2 .. 1/2
            d_model, layers = shape_for_params(centre * spread**position, aspect=aspect, head_dim=head_dim)
            if (d_model, layers) in seen:
                continue
            seen.add((d_model, layers))
            params = block_params(d_model, layers)
            tokens = int(budget / (FLOPS_PER_PARAM_TOKEN * params))
            if tokens >= min_tokens:
                plan.append(PlannedRun(budget=budget, d_model=d_model, layers=layers, heads=d_model // head_dim,
                                       params=params, tokens=tokens))
    return plan


def pretrain_command(run: PlannedRun, inputs: list[str], run_dir: str, options: dict, *, threads=None) -> list[str]:
    """The `genotx pretrain` command line of one planned run.

    `options` maps pretrain flags to values for everything the sweep holds
    fixed (``{"--objective": "ar", "--seq-len": 256, ...}``); None values are left out.
    """
    command = [sys.executable, "-m", "genotx", "-q"]
    if threads:
        command += ["-t", str(threads)]
    command += ["pretrain", *inputs]
    for flag, value in options.items():
        if value is not None:
            command += [flag, str(value)]
    command += ["--d-model", str(run.d_model), "--layers", str(run.layers), "--heads", str(run.heads),
                "--max-tokens", str(run.tokens), "-o", run_dir]
    if os.path.exists(os.path.join(run_dir, "train_config.json")):
        command.append("--resume")
    return command


def _write_plan(run_dir: str, run: PlannedRun, options: dict) -> None:
    os.makedirs(run_dir, exist_ok=True)
    path = os.path.join(run_dir, "sweep.json")
    write_json_atomic(path, {**run.to_dict(), "options": options})


def read_record(run_dir: str) -> dict | None:
    """The run.json of a finished run, or None."""
    try:
        with open(os.path.join(run_dir, "run.json"), encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def run_sweep(plan, inputs, out_dir: str, options: dict, *, threads=None, on_start=None):
    """Run every planned run not yet finished; yield (run, status, record) in plan order.

    status is "skipped" (run.json already there), "done" or "failed". A usage
    error of pretrain (exit 2) would repeat for every run, so it stops the sweep.
    """
    for run in plan:
        run_dir = os.path.join(out_dir, run.name)
        record = read_record(run_dir)
        if record is not None:
            yield run, "skipped", record
            continue
        _write_plan(run_dir, run, options)
        if on_start:
            on_start(run)
        command = pretrain_command(run, inputs, run_dir, options, threads=threads)
        proc = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if proc.returncode == 2:
            message = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "usage error"
            raise InputError(f"pretrain of {run.name} refused its settings: {message.removeprefix('genotx: error: ')}")
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr)
            yield run, "failed", None
            continue
        yield run, "done", read_record(run_dir)


class SweepFailed(GenotxError):
    """Some runs of a sweep failed (exit 1); the others are kept and a rerun resumes."""
