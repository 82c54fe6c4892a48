"""Fit the scaling law L(N, D) = E + A/N^alpha + B/D^beta to training runs, with bootstrap intervals.

Reads run.json files of `genotx pretrain` and/or TSV/CSV tables with columns
params, tokens, loss (optional flops), mixed. Fits Chinchilla's approach 3
(Huber loss on log-loss residuals, L-BFGS from a grid of starts) and writes
parameter, estimate, ci_low, ci_high: E, A, B, alpha, beta, the frontier
exponents a (N_opt ∝ C^a) and b (D_opt ∝ C^b), and N_opt, D_opt and loss at
each --frontier compute budget (C = 6 N D). --method isoflop adds approach 2.
"""

from __future__ import annotations

from typing import List, Optional

import typer

from genotx.cli._common import command, require
from genotx.errors import InputError

METHODS = ("lse", "isoflop")


def _budgets(text: Optional[str], flops) -> list[float]:
    from genotx.scaling.report import default_budgets

    if not text:
        return default_budgets(flops)
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"--frontier {text!r}: expected comma-separated compute budgets such as 1e18,1e20") from None
    require(values and all(v > 0 for v in values), f"--frontier {text!r}: budgets must be positive numbers")
    return values


@command
def run(
    inputs: List[str] = typer.Argument(..., help="run.json files and/or TSV/CSV tables ('-': stdin).", show_default=False),
    drop_worst: int = typer.Option(0, "--drop-worst", min=0, help="Leave out the K runs of highest loss first."),
    bootstrap: int = typer.Option(1000, "--bootstrap", min=0, help="Bootstrap resamples of the runs (0: no intervals)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap resampling."),
    delta: float = typer.Option(1e-3, "--delta", help="Huber loss threshold on log-loss residuals."),
    level: float = typer.Option(0.95, "--ci", help="Confidence level of the percentile intervals."),
    method: str = typer.Option("lse", "--method", help="lse (approach 3) or isoflop (approach 3 and approach 2)."),
    frontier: Optional[str] = typer.Option(
        None, "--frontier", help="Compute budgets for N_opt/D_opt/loss, e.g. 1e18,1e20 (default: decades of the runs)."
    ),
    plot: Optional[str] = typer.Option(None, "--plot", help="Write a figure (png/pdf/svg) of the fit to this file."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip rows with missing or non-positive values."),
) -> None:
    from genotx.io import TsvWriter
    from genotx.progress import info, warn
    from genotx.scaling.fit import bootstrap_laws, fit_law
    from genotx.scaling.report import law_rows
    from genotx.scaling.runs import read_runs

    require(method in METHODS, f"--method {method!r}: choose one of {', '.join(METHODS)}")
    require(delta > 0, f"--delta {delta}: must be positive")
    require(0 < level < 1, f"--ci {level}: must be between 0 and 1")
    runs = read_runs(inputs, skip_bad=skip_bad)
    if runs.skipped:
        warn(f"skipped {runs.skipped} run(s) with missing or non-positive values")
    runs = runs.drop_worst(drop_worst)
    require(len(runs) >= 5, f"{len(runs)} runs left after --drop-worst {drop_worst}; the law has 5 parameters, need at least 5")
    budgets = _budgets(frontier, runs.flops)

    fit = fit_law(runs.params, runs.tokens, runs.loss, delta=delta)
    info(
        f"fitted {len(runs)} runs" + (f" ({drop_worst} highest-loss left out)" if drop_worst else "")
        + f": Huber objective {fit.objective:.6g}, reached by {fit.n_at_best} of {fit.n_starts} starts"
    )
    if not fit.law.has_frontier:
        warn(f"fitted alpha {fit.law.alpha:.3g}, beta {fit.law.beta:.3g}: not both positive, so no compute-optimal "
             "frontier (NA); the runs may not span enough of N and D")
    thetas = None
    weights = None
    if bootstrap:
        thetas, weights = bootstrap_laws(
            runs.params, runs.tokens, runs.loss, fit.theta, n_samples=bootstrap, seed=seed, delta=delta,
            return_weights=True,
        )
        failed = int((~_finite_rows(thetas)).sum())
        if failed:
            warn(f"{failed} of {bootstrap} bootstrap fits did not converge; intervals use the rest")
    rows = law_rows(fit.law, thetas, budgets, level)
    if method == "isoflop":
        rows += _isoflop(runs, weights, budgets, level)
    with TsvWriter(["parameter", "estimate", "ci_low", "ci_high"]) as out:
        out.write_rows(rows)
    if plot:
        from genotx.scaling.plot import plot_fit

        plot_fit(plot, fit.law, runs.params, runs.tokens, runs.loss, budgets)


def _finite_rows(thetas):
    import numpy as np

    return np.isfinite(thetas).all(axis=1)


def _isoflop(runs, weights, budgets, level):
    import numpy as np

    from genotx.progress import info, warn
    from genotx.scaling.isoflop import fit_isoflop, group_budgets
    from genotx.scaling.report import isoflop_rows

    groups = group_budgets(runs.flops, runs.budget)
    fit, boot = fit_isoflop(runs.params, runs.loss, runs.flops, groups, weights)
    info(f"IsoFLOP: {len(fit.budgets)} of {groups.max() + 1} compute budgets have a loss minimum")
    if weights is not None and not np.isfinite(boot[:, 0]).any():
        warn("IsoFLOP intervals need budgets with at least 4 model sizes; reported as NA")
    return isoflop_rows(fit, boot, budgets, level)
