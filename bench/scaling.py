"""Speed of the scaling-law fit: batched L-BFGS vs a loop of scipy L-BFGS-B, one start at a time.

Data: the 240 Chinchilla runs (five highest-loss left out) in tests/data. The
loop runs on a subset of the default grid and of the bootstrap resamples (all
of them with --full, which takes several minutes); the batched fitter runs on
the same subset and on the full problem, which has a target of 30 s for the
default grid (4500 starts) plus 1000 bootstraps on 2 cores.

    python bench/scaling.py [--full]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize as scipy_minimize
from scipy.special import huber, logsumexp

from genotx.scaling import lbfgs
from genotx.scaling.fit import HuberLSE, bootstrap_laws, fit_law, grid_starts
from genotx.scaling.runs import read_runs

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "scaling_chinchilla-epoch.tsv"


def scipy_objective(theta, log_n, log_d, log_loss, weights):
    a, b, e, alpha, beta = theta
    pred = logsumexp([a - alpha * log_n, b - beta * log_d, np.full_like(log_n, e)], axis=0)
    return (weights * huber(1e-3, pred - log_loss)).sum()


def scipy_loop(runs, starts, weights):
    logs = (np.log(runs.params), np.log(runs.tokens), np.log(runs.loss))
    values = [scipy_minimize(scipy_objective, s, args=(*logs, w), method="L-BFGS-B").fun for s, w in zip(starts, weights)]
    return np.array(values)


def timed(fn):
    """Wall seconds (and, in CPU_SECONDS, CPU seconds of this process and its children) of fn()."""
    def cpu():
        me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime

    start, start_cpu = time.perf_counter(), cpu()
    out = fn()
    CPU_SECONDS.append(cpu() - start_cpu)
    return time.perf_counter() - start, out


# the machine may be shared: CPU seconds show the work done even when wall time is inflated by others
CPU_SECONDS: list = []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="loop scipy over all 4500 starts and 1000 resamples")
    opts = parser.parse_args()
    runs = read_runs([str(DATA)]).drop_worst(5)
    starts = grid_starts()
    subset = starts if opts.full else starts[::50]
    n_boot_loop = 1000 if opts.full else 50
    rows = []

    # same starts, side by side
    ones = np.ones((len(subset), len(runs)))
    loop_s, loop_f = timed(lambda: scipy_loop(runs, subset, ones))
    objective = HuberLSE(runs.params, runs.tokens, runs.loss)
    batch_s, batch = timed(lambda: lbfgs.minimize(objective, subset))
    rows.append(("grid starts", len(subset), loop_s, batch_s, loop_f.min(), batch.fun.min()))

    fit = fit_law(runs.params, runs.tokens, runs.loss)
    _, weights = bootstrap_laws(runs.params, runs.tokens, runs.loss, fit.theta, n_samples=1000, seed=0, return_weights=True)
    loop_s, loop_f = timed(lambda: scipy_loop(runs, np.tile(fit.theta, (n_boot_loop, 1)), weights[:n_boot_loop]))
    boot_objective = HuberLSE(runs.params, runs.tokens, runs.loss, weights=weights[:n_boot_loop])
    batch_s, batch = timed(lambda: lbfgs.minimize(boot_objective, np.tile(fit.theta, (n_boot_loop, 1))))
    rows.append(("bootstrap refits", n_boot_loop, loop_s, batch_s, loop_f.mean(), batch.fun.mean()))

    grid_s, fit = timed(lambda: fit_law(runs.params, runs.tokens, runs.loss))
    boot_s, _ = timed(lambda: bootstrap_laws(runs.params, runs.tokens, runs.loss, fit.theta, n_samples=1000, seed=0))
    cli_s, proc = timed(lambda: subprocess.run(
        [sys.executable, "-m", "genotx", "scaling-fit", str(DATA), "--drop-worst", "5", "--bootstrap", "1000"],
        capture_output=True, text=True, check=True))

    print(f"scaling-law fit on {len(runs)} Chinchilla runs; batched = numpy L-BFGS over all problems at once")
    cpu = CPU_SECONDS
    print(f"{'task':<34}{'problems':>9}{'scipy loop s':>13}{'batched s':>11}{'speed-up':>9}"
          f"{'(CPU s: loop / batched)':>25}  objective scipy / batched")
    for i, (task, n, loop_s, batch_s, f_loop, f_batch) in enumerate(rows):
        print(f"{task:<34}{n:>9}{loop_s:>13.2f}{batch_s:>11.2f}{loop_s / batch_s:>8.1f}x"
              f"{cpu[2 * i]:>14.2f} / {cpu[2 * i + 1]:<8.2f}  {f_loop:.9g} / {f_batch:.9g}")
    for task, n, wall, used in [
        ("full grid fit (+ polish)", len(starts), grid_s, cpu[4]),
        ("1000 bootstrap refits", 1000, boot_s, cpu[5]),
        ("grid + 1000 bootstraps (<= 30 s)", "", grid_s + boot_s, cpu[4] + cpu[5]),
        ("genotx scaling-fit, end to end", "", cli_s, cpu[6]),
    ]:
        print(f"{task:<34}{n:>9}{'':>13}{wall:>11.2f}{'':>9}{'':>14}   {used:<8.2f}")
    law = fit.law
    print(f"fit: E {law.E:.4g}  A {law.A:.4g}  B {law.B:.5g}  alpha {law.alpha:.4g}  beta {law.beta:.4g}"
          "  (Epoch AI: 1.817 477.8 2143.9 0.347 0.367)")


if __name__ == "__main__":
    main()
