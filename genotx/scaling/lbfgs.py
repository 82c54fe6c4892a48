"""L-BFGS run on many independent small problems at once (numpy, float64).

Fitting a scaling law means minimising the same 5-parameter objective from
thousands of starting points, then again on a thousand bootstrap resamples.
Calling scipy once per problem spends nearly all its time in Python
overhead; here every step (two-loop recursion, line search, convergence test)
is one array operation over all problems still running, so the cost is a few
hundred evaluations of the objective on a (problems x points) array.

Each problem keeps its own history, step length and stopping state; problems
never influence each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

# objective(theta (P, k), rows (P,) int) -> (value (P,), gradient (P, k)).
# `rows` says which of the original problems each row of theta belongs to, so
# the objective can pick per-problem data (bootstrap weights) for them.
Objective = Callable[[np.ndarray, np.ndarray], "tuple[np.ndarray, np.ndarray]"]


@dataclass(frozen=True)
class Result:
    """Final point, value and gradient of every problem, iterations used, and a convergence flag."""

    x: np.ndarray
    fun: np.ndarray
    grad: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray


def _direction(g, S, Y, rho, gamma, order):
    """Two-loop recursion: -H g for every problem, H from the stored (s, y) pairs."""
    q = g.copy()
    alphas = []
    for slot in order[::-1]:  # newest first
        a = rho[:, slot] * np.einsum("pk,pk->p", S[:, slot], q)
        q -= a[:, None] * Y[:, slot]
        alphas.append(a)
    r = gamma[:, None] * q
    for slot, a in zip(order, alphas[::-1]):  # oldest first
        b = rho[:, slot] * np.einsum("pk,pk->p", Y[:, slot], r)
        r += (a - b)[:, None] * S[:, slot]
    return -r


def minimize(
    objective: Objective,
    x0: np.ndarray,
    *,
    memory: int = 10,
    max_iter: int = 1000,
    ftol: float = 1e-12,
    gtol: float = 1e-9,
    max_halvings: int = 40,
) -> Result:
    """Minimise P independent problems from the starts x0 (P, k).

    A problem stops when an iteration lowers its value by less than
    ``ftol * max(|f|, tiny)`` (relative, unlike scipy's absolute floor of 1,
    because Huber objectives with a small delta are tiny), when its gradient's
    largest component is below `gtol`, or when backtracking finds no decrease.

    Example::

        res = minimize(lambda x, rows: ((x**2).sum(1), 2 * x), np.ones((3, 2)))
        # res.x is ~0 for all three problems
    """
    with np.errstate(all="ignore"):  # overflow in far-off trial points is caught by the finiteness tests
        return _minimize(objective, x0, memory, max_iter, ftol, gtol, max_halvings)


def _minimize(objective, x0, memory, max_iter, ftol, gtol, max_halvings) -> Result:
    x = np.array(x0, dtype=np.float64)
    n_problems, k = x.shape
    f, g = objective(x, np.arange(n_problems))
    S = np.zeros((n_problems, memory, k))
    Y = np.zeros((n_problems, memory, k))
    rho = np.zeros((n_problems, memory))
    gamma = np.ones(n_problems)
    iterations = np.zeros(n_problems, dtype=np.int64)
    converged = np.abs(g).max(axis=1) < gtol
    active = np.flatnonzero(~converged & np.isfinite(f))
    first = np.ones(n_problems, dtype=bool)
    order: list[int] = []
    for it in range(max_iter):
        if active.size == 0:
            break
        slot = it % memory
        d = _direction(g[active], S[active], Y[active], rho[active], gamma[active], order)
        slope = np.einsum("pk,pk->p", d, g[active])
        uphill = ~(slope < 0)
        if uphill.any():  # stale curvature: fall back to steepest descent for those problems
            d[uphill] = -g[active][uphill]
            slope[uphill] = -np.einsum("pk,pk->p", g[active][uphill], g[active][uphill])
        # scipy's first step: unit step scaled to the gradient, later steps start at 1
        step = np.where(first[active], np.minimum(1.0, 1.0 / np.maximum(np.abs(g[active]).sum(1), 1e-300)), 1.0)
        x_new, f_new, g_new, ok = _backtrack(objective, x[active], f[active], g[active], d, slope, step, active, max_halvings)
        s = x_new - x[active]
        y = g_new - g[active]
        sy = np.einsum("pk,pk->p", s, y)
        yy = np.einsum("pk,pk->p", y, y)
        good = ok & (sy > 1e-16 * np.maximum(yy, 1e-300))  # keep only pairs with positive curvature
        S[active, slot] = np.where(good[:, None], s, 0.0)
        Y[active, slot] = np.where(good[:, None], y, 0.0)
        rho[active, slot] = np.where(good, 1.0 / np.where(good, sy, 1.0), 0.0)
        gamma[active] = np.where(good, sy / np.where(good, yy, 1.0), gamma[active])
        if slot in order:
            order.remove(slot)
        order.append(slot)
        decrease = f[active] - f_new
        x[active], f[active], g[active] = x_new, f_new, g_new
        iterations[active] += 1
        first[active] = False
        scale = np.maximum(np.abs(f_new), 1e-300)
        done = ~ok | (decrease <= ftol * scale) | (np.abs(g_new).max(axis=1) < gtol)
        converged[active[done & ok]] = True
        converged[active[~ok]] = np.abs(g_new[~ok]).max(axis=1) < np.sqrt(gtol)
        active = active[~done]
    return Result(x=x, fun=f, grad=g, iterations=iterations, converged=converged)


def _backtrack(objective, x, f, g, d, slope, step, rows, max_halvings, c1=1e-4):
    """Armijo backtracking per problem; returns the accepted points and which problems found one."""
    x_new = x.copy()
    f_new = f.copy()
    g_new = g.copy()
    ok = np.zeros(len(x), dtype=bool)
    pending = np.arange(len(x))
    for _ in range(max_halvings):
        trial = x[pending] + step[pending, None] * d[pending]
        ft, gt = objective(trial, rows[pending])
        accept = np.isfinite(ft) & np.isfinite(gt).all(axis=1) & (ft <= f[pending] + c1 * step[pending] * slope[pending])
        hit = pending[accept]
        x_new[hit], f_new[hit], g_new[hit] = trial[accept], ft[accept], gt[accept]
        ok[hit] = True
        pending = pending[~accept]
        if pending.size == 0:
            break
        step[pending] *= 0.5
    return x_new, f_new, g_new, ok
