"""Plan and run a grid of small `genotx pretrain` runs for a scaling law (resumable).

For each compute budget (--budgets, FLOPs as 6 N D) plans --sizes model sizes
around the compute-optimal guess, trains each with `genotx pretrain` on
D = C / (6 N) tokens into OUT/<run>/ (run.json, sweep.json), skipping runs
that already have a run.json and resuming started ones. Writes one row per run:
plan, status and the measured params, tokens, flops, loss. Fit the result with
`genotx scaling-fit OUT/*/run.json`.
"""

from __future__ import annotations

from typing import List, Optional

import typer

from genotx.cli._common import command, require
from genotx.errors import InputError

# Held fixed across the sweep unless a --preset supplies them: next-token loss on
# single bases, so every position is scored and tokens equal bases.
SWEEP_DEFAULTS = {
    "--objective": "ar", "--tokenizer": "char", "--pe": "rope", "--mixer": "attention",
    "--seq-len": 256, "--batch-size": 16, "--eval-windows": 256,
}
COLUMNS = ["run", "budget", "d_model", "layers", "heads", "planned_params", "planned_tokens",
           "status", "params", "tokens", "flops", "loss"]
MIN_STEPS = 20  # shorter runs spend most of their steps in warm-up


def _floats(text: str, option: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"{option} {text!r}: expected comma-separated numbers such as 1e12,3e12,1e13") from None
    require(bool(values) and all(v > 0 for v in values), f"{option} {text!r}: values must be positive")
    return values


def _row(run, status, record):
    record = record or {}
    return (run.name, run.budget, run.d_model, run.layers, run.heads, run.params, run.tokens, status,
            record.get("params"), record.get("tokens"), record.get("flops"), record.get("loss"))


@command
def run(
    inputs: List[str] = typer.Argument(..., help="FASTA genomes (plain or gzip), the same for every run.", show_default=False),
    out: str = typer.Option(..., "-o", "--out", help="Sweep directory; one sub-directory per run."),
    budgets: str = typer.Option(..., "--budgets", help="Compute budgets in FLOPs (6 N D), e.g. 1e12,3e12,1e13."),
    sizes: int = typer.Option(4, "--sizes", min=1, help="Model sizes per budget."),
    tokens_per_param: float = typer.Option(20.0, "--tokens-per-param", help="Guess of the optimal D/N; sizes centre on it."),
    spread: float = typer.Option(16.0, "--spread", help="Ratio of the largest to the smallest size of a budget."),
    aspect: float = typer.Option(32.0, "--aspect", help="Target d_model / layers of the shapes."),
    head_dim: int = typer.Option(32, "--head-dim", min=2, help="Width of one attention head; d_model is a multiple."),
    preset: Optional[str] = typer.Option(None, "--preset", help="pretrain preset; then only explicit flags below override it."),
    objective: Optional[str] = typer.Option(None, "--objective", help="pretrain objective (default ar)."),
    tokenizer: Optional[str] = typer.Option(None, "--tokenizer", help="Tokenizer kind or tokenizer.json (default char)."),
    pe: Optional[str] = typer.Option(None, "--pe", help="Positional encoding (default rope)."),
    mixer: Optional[str] = typer.Option(None, "--mixer", help="Sequence mixer (default attention)."),
    seq_len: Optional[int] = typer.Option(None, "--seq-len", help="Window length in bases (default 256)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Windows per step (default 16)."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Peak learning rate (default: pretrain's)."),
    eval_windows: Optional[int] = typer.Option(None, "--eval-windows", help="Held-out windows per evaluation (default 256)."),
    seed: int = typer.Option(0, "--seed", help="Seed of every run (same data order across sizes)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan without training."),
) -> None:
    from genotx.io import TsvWriter
    from genotx.progress import info, progress
    from genotx.runtime import settings
    from genotx.scaling.sweep import SweepFailed, plan_sweep, run_sweep

    from genotx.io.outputs import SWEEP, check_output

    if not dry_run:
        check_output(out, SWEEP, resumable=True)  # a folder of other files is never written into
    given = {"--objective": objective, "--tokenizer": tokenizer, "--pe": pe, "--mixer": mixer, "--seq-len": seq_len,
             "--batch-size": batch_size, "--lr": lr, "--eval-windows": eval_windows}
    options = {"--preset": preset} if preset else dict(SWEEP_DEFAULTS)
    options.update({flag: value for flag, value in given.items() if value is not None})
    options["--seed"] = seed
    per_step = int(options.get("--seq-len") or 1) * int(options.get("--batch-size") or 1)
    plan = plan_sweep(_floats(budgets, "--budgets"), sizes, tokens_per_param=tokens_per_param, spread=spread,
                      aspect=aspect, head_dim=head_dim, min_tokens=MIN_STEPS * per_step if not preset else 1)
    require(bool(plan), f"--budgets {budgets}: every run would be shorter than {MIN_STEPS} steps; raise the budgets")
    total = sum(r.budget for r in plan)
    info(f"{len(plan)} runs over {len(set(r.budget for r in plan))} budgets, {total:.3g} FLOPs (6 N D) in all")
    with TsvWriter(COLUMNS) as table:
        if dry_run:
            table.write_rows([_row(r, "planned", None) for r in plan])
            return
        failed = 0
        with progress("sweep", total=len(plan)) as bar:
            for planned, status, record in run_sweep(plan, inputs, out, options, threads=settings.threads):
                failed += status == "failed"
                bar.advance(1, status=planned.name)
                table.write_rows([_row(planned, status, record)])
    if failed:
        raise SweepFailed(f"{failed} of {len(plan)} runs failed (messages above); rerun the same command to retry them")
