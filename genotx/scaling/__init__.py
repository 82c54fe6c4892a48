"""Scaling laws of DNA language models: read runs, fit L(N, D), plan sweeps.

Example::

    from genotx.scaling import read_runs, fit_law, bootstrap_laws
    runs = read_runs(["runs/a/run.json", "more.tsv"]).drop_worst(0)
    fit = fit_law(runs.params, runs.tokens, runs.loss)
    fit.law.alpha, fit.law.optimal_params(1e20)
"""

from genotx.scaling.fit import bootstrap_laws, fit_law
from genotx.scaling.law import ScalingLaw
from genotx.scaling.runs import Runs, read_runs
from genotx.scaling.sweep import PlannedRun, plan_sweep, run_sweep

__all__ = ["ScalingLaw", "Runs", "read_runs", "fit_law", "bootstrap_laws", "PlannedRun", "plan_sweep", "run_sweep"]
