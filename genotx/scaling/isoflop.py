"""Chinchilla approach 2: IsoFLOP profiles.

Runs that share a compute budget are one IsoFLOP profile. Along each profile
the loss is fitted by a parabola in log N; its minimum is the compute-optimal
size N_opt(C) for that budget, and a line through log N_opt against log C gives
the exponent a in N_opt ∝ C^a (and b = 1 - a for D_opt, since C = 6 N D).

Profiles come from the planned ``budget`` of each run when known (sweeps
record it); otherwise runs are grouped by compute, a new group starting
wherever sorted compute jumps by more than `tolerance` (relative).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genotx.errors import InputError


def group_budgets(flops, budget=None, tolerance: float = 0.1) -> np.ndarray:
    """Profile index of every run (int array), in order of increasing compute.

    Example::

        group_budgets([1e12, 1.05e12, 1e13])   # array([0, 0, 1])
    """
    flops = np.asarray(flops, dtype=np.float64)
    if budget is not None and not np.isnan(np.asarray(budget, dtype=np.float64)).any():
        _, groups = np.unique(np.asarray(budget, dtype=np.float64), return_inverse=True)
        return groups
    order = np.argsort(flops)
    log_c = np.log(flops[order])
    starts = np.concatenate([[0], np.cumsum(np.diff(log_c) > np.log1p(tolerance))])
    groups = np.empty(len(flops), dtype=np.int64)
    groups[order] = starts
    return groups


def _parabola_minima(log_n, loss, groups, weights, min_sizes=3):
    """Weighted least-squares parabola per (resample, group); returns (S, G) log N_opt.

    NaN where the parabola has no minimum or the profile has fewer than
    `min_sizes` distinct runs in that resample.
    """
    n_groups = groups.max() + 1
    n_samples = weights.shape[0]
    minima = np.full((n_samples, n_groups), np.nan)
    for g in range(n_groups):
        member = groups == g
        x = log_n[member]
        design = np.stack([np.ones_like(x), x - x.mean(), (x - x.mean()) ** 2], axis=1)  # centred for conditioning
        w = weights[:, member]
        gram = np.einsum("si,ij,ik->sjk", w, design, design)
        rhs = np.einsum("si,ij,i->sj", w, design, loss[member])
        solvable = (np.linalg.matrix_rank(gram) == 3) & ((w > 0).sum(axis=1) >= min_sizes)
        coef = np.full((n_samples, 3), np.nan)
        if solvable.any():
            coef[solvable] = np.linalg.solve(gram[solvable], rhs[solvable][..., None])[..., 0]
        with np.errstate(invalid="ignore", divide="ignore"):
            vertex = x.mean() - coef[:, 1] / (2 * coef[:, 2])
        minima[:, g] = np.where(coef[:, 2] > 0, vertex, np.nan)
    return minima


@dataclass(frozen=True)
class IsoFlopFit:
    """N_opt ∝ C^a fitted through the minima of the IsoFLOP parabolas."""

    a: float
    log_k: float  # N_opt = exp(log_k) * C^a
    budgets: np.ndarray  # compute of each usable profile
    optimal_params: np.ndarray  # N_opt of each usable profile

    @property
    def b(self) -> float:
        return 1.0 - self.a

    def params_at(self, compute):
        return np.exp(self.log_k) * np.power(np.asarray(compute, dtype=np.float64), self.a)


def _line(log_c, log_n_opt):
    """Least-squares slope and intercept per row, ignoring NaN profiles; (S,) each."""
    ok = ~np.isnan(log_n_opt)
    count = ok.sum(1)
    c = np.where(ok, log_c, 0.0)
    n = np.where(ok, log_n_opt, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        c_mean = c.sum(1) / count
        n_mean = n.sum(1) / count
        dc = np.where(ok, log_c - c_mean[:, None], 0.0)
        slope = (dc * (n - n_mean[:, None])).sum(1) / (dc**2).sum(1)
    slope = np.where(count >= 2, slope, np.nan)
    return slope, n_mean - slope * c_mean


def fit_isoflop(params, loss, flops, groups, weights=None) -> "tuple[IsoFlopFit, np.ndarray]":
    """Fit approach 2; with `weights` (S, runs) also refit each bootstrap resample.

    Returns the fit on all runs and an (S, 2) array of (a, log_k) per resample
    (empty without weights).

    Example::

        fit, _ = fit_isoflop(n, loss, c, group_budgets(c))
        fit.a      # ~0.5 for Chinchilla-like data
    """
    log_n, log_c = np.log(params), np.log(flops)
    n_groups = groups.max() + 1
    group_c = np.array([log_c[groups == g].mean() for g in range(n_groups)])
    ones = np.ones((1, len(loss)))
    minima = _parabola_minima(log_n, loss, groups, ones)[0]
    usable = ~np.isnan(minima)
    if usable.sum() < 2:
        raise InputError(
            f"IsoFLOP method: {usable.sum()} of {n_groups} compute budgets have a loss minimum inside a parabola fit; "
            "need at least 2 budgets with 3 or more model sizes each"
        )
    slope, intercept = _line(group_c[None, :], minima[None, :])
    fit = IsoFlopFit(float(slope[0]), float(intercept[0]), np.exp(group_c[usable]), np.exp(minima[usable]))
    if weights is None:
        return fit, np.empty((0, 2))
    # three points fix a parabola exactly whatever their weights, so a resampled
    # profile says something about the spread only with four or more runs
    boot = _parabola_minima(log_n, loss, groups, weights, min_sizes=4)
    slope, intercept = _line(np.broadcast_to(group_c, boot.shape), boot)
    return fit, np.stack([slope, intercept], axis=1)
