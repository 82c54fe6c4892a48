"""Chinchilla approach 3: fit L(N, D) = E + A/N^alpha + B/D^beta to training runs.

The fit follows Hoffmann et al. (2022) as re-done by Besiroglu et al. (2024):
minimise the Huber loss (small delta, so close to absolute error) of
log-loss residuals, with the prediction written as a log-sum-exp,

    log L = LSE(a - alpha log N, b - beta log D, e),  A = e^a, B = e^b, E = e^e,

by L-BFGS from every point of a grid of starts, keeping the best. Bootstrap
intervals refit the law on runs resampled with replacement, starting from the
best fit. All starts, and all resamples, run as one batch (`genotx.scaling.lbfgs`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from genotx.scaling import lbfgs
from genotx.scaling.law import ScalingLaw

# Epoch AI's grid (their replication of Chinchilla's approach 3): 5 * 5 * 5 * 6 * 6 = 4500 starts.
DEFAULT_GRID = {
    "alpha": (0.0, 0.5, 1.0, 1.5, 2.0),
    "beta": (0.0, 0.5, 1.0, 1.5, 2.0),
    "e": (-1.0, -0.5, 0.0, 0.5, 1.0),
    "a": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
    "b": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
}
DEFAULT_DELTA = 1e-3


def grid_starts(grid: dict = DEFAULT_GRID) -> np.ndarray:
    """Every combination of the grid as rows (a, b, e, alpha, beta).

    Example::

        grid_starts().shape   # (4500, 5)
    """
    combos = itertools.product(grid["a"], grid["b"], grid["e"], grid["alpha"], grid["beta"])
    return np.array(list(combos), dtype=np.float64)


class HuberLSE:
    """Objective: sum over runs of weight * Huber_delta(predicted log L - observed log L).

    `weights` is (problems, runs) run multiplicities for bootstrap resamples,
    or None for one weight per run shared by all problems.
    """

    def __init__(self, params, tokens, loss, *, delta=DEFAULT_DELTA, weights=None):
        self.log_n = np.log(np.asarray(params, dtype=np.float64))
        self.log_d = np.log(np.asarray(tokens, dtype=np.float64))
        self.log_loss = np.log(np.asarray(loss, dtype=np.float64))
        self.delta = float(delta)
        self.weights = None if weights is None else np.asarray(weights, dtype=np.float64)

    def __call__(self, theta: np.ndarray, rows: np.ndarray):
        a, b, e, alpha, beta = (theta[:, j : j + 1] for j in range(5))
        u_n = a - alpha * self.log_n
        u_d = b - beta * self.log_d
        top = np.maximum(np.maximum(u_n, u_d), e)
        p_n = np.exp(u_n - top)
        p_d = np.exp(u_d - top)
        p_e = np.exp(e - top)
        total = p_n + p_d + p_e
        residual = top + np.log(total) - self.log_loss
        inside = np.abs(residual) <= self.delta
        huber = np.where(inside, 0.5 * residual**2, self.delta * (np.abs(residual) - 0.5 * self.delta))
        # d huber / d prediction, divided by the softmax normaliser once for all three terms
        slope = np.clip(residual, -self.delta, self.delta) / total
        if self.weights is not None:
            w = self.weights[rows]
            huber = huber * w
            slope = slope * w
        g_n = slope * p_n
        g_d = slope * p_d
        grad = np.stack(
            [g_n.sum(1), g_d.sum(1), (slope * p_e).sum(1), -(g_n @ self.log_n), -(g_d @ self.log_d)],
            axis=1,
        )
        return huber.sum(1), grad


@dataclass(frozen=True)
class Fit:
    """Best law, its objective value, and how many starts converged to within 1e-6 of it."""

    law: ScalingLaw
    objective: float
    n_starts: int
    n_at_best: int
    theta: np.ndarray


def fit_law(params, tokens, loss, *, delta=DEFAULT_DELTA, starts=None) -> Fit:
    """Best Huber-LSE fit over a grid of starting points.

    Example::

        fit = fit_law(n, d, loss)
        fit.law.alpha, fit.law.beta
    """
    objective = HuberLSE(params, tokens, loss, delta=delta)
    x0 = grid_starts() if starts is None else np.atleast_2d(np.asarray(starts, dtype=np.float64))
    res = lbfgs.minimize(objective, x0)
    fun = np.where(np.isfinite(res.fun), res.fun, np.inf)
    best = int(np.argmin(fun))
    # polish the winner: a fresh memory sometimes finds a little more in flat valleys
    polished = lbfgs.minimize(objective, res.x[best : best + 1], ftol=1e-15, gtol=1e-12)
    theta = polished.x[0] if polished.fun[0] <= fun[best] else res.x[best]
    value = float(min(polished.fun[0], fun[best]))
    near = int(np.sum(fun <= value + 1e-6 * max(abs(value), 1e-12)))
    return Fit(law=ScalingLaw.from_theta(theta), objective=value, n_starts=len(x0), n_at_best=near, theta=theta)


def bootstrap_laws(
    params, tokens, loss, start: np.ndarray, *, n_samples=1000, seed=0, delta=DEFAULT_DELTA, return_weights=False
):
    """Refit on `n_samples` resamples of the runs (with replacement), all from `start`.

    Returns an (n_samples, 5) array of theta = (a, b, e, alpha, beta); rows that
    did not converge to a finite value are NaN. With `return_weights`, also
    the (n_samples, runs) multiplicities of the resamples, so that other
    estimators (IsoFLOP) can use the same resamples.

    Example::

        thetas = bootstrap_laws(n, d, loss, fit.theta, n_samples=200, seed=1)
    """
    n_runs = len(loss)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n_runs, size=(n_samples, n_runs))
    weights = np.zeros((n_samples, n_runs))
    np.add.at(weights, (np.repeat(np.arange(n_samples), n_runs), picks.ravel()), 1.0)
    objective = HuberLSE(params, tokens, loss, delta=delta, weights=weights)
    res = lbfgs.minimize(objective, np.tile(np.asarray(start, dtype=np.float64), (n_samples, 1)))
    thetas = res.x.copy()
    thetas[~np.isfinite(res.fun)] = np.nan
    return (thetas, weights) if return_weights else thetas
