"""Rows of the `scaling-fit` table: estimates with bootstrap percentile intervals.

One long table, ``parameter  estimate  ci_low  ci_high``, so that it stays one
header and greps well: the law (E, A, B, alpha, beta), the frontier exponents
(a, b), then per compute budget C the frontier ``N_opt@C``, ``D_opt@C`` and
``loss@C``; the IsoFLOP method adds ``isoflop_a``, ``isoflop_b`` and
``isoflop_N_opt@C``.
"""

from __future__ import annotations

import numpy as np

from genotx.scaling.law import ScalingLaw


def budget_label(compute: float) -> str:
    """Compact, round-trippable label of a compute budget: 1e+20, 3e+21, 1.5e+19."""
    return f"{compute:.3g}"


def default_budgets(flops) -> list[float]:
    """Powers of ten spanning the compute of the runs.

    Example::

        default_budgets([3e18, 2e21])   # [1e18, 1e19, 1e20, 1e21, 1e22]
    """
    log_c = np.log10(np.asarray(flops, dtype=np.float64))
    return [10.0**k for k in range(int(np.floor(log_c.min())), int(np.ceil(log_c.max())) + 1)]


def _quantities(law: ScalingLaw, budgets) -> list[tuple[str, float]]:
    rows = [
        ("E", law.E), ("A", law.A), ("B", law.B), ("alpha", law.alpha), ("beta", law.beta),
        ("a", law.params_exponent), ("b", law.tokens_exponent),
    ]
    for c in budgets:
        label = budget_label(c)
        rows += [
            (f"N_opt@{label}", float(law.optimal_params(c))),
            (f"D_opt@{label}", float(law.optimal_tokens(c))),
            (f"loss@{label}", float(law.optimal_loss(c))),
        ]
    return rows


def _interval(samples: np.ndarray, level: float):
    samples = samples[np.isfinite(samples)]
    if samples.size == 0:
        return None, None
    tail = 50.0 * (1.0 - level)
    low, high = np.percentile(samples, [tail, 100.0 - tail])
    return float(low), float(high)


def law_rows(law: ScalingLaw, boot_thetas, budgets, level: float = 0.95):
    """(parameter, estimate, ci_low, ci_high) for the law and its frontier; CIs None without bootstrap."""
    estimates = _quantities(law, budgets)
    if boot_thetas is None or len(boot_thetas) == 0:
        return [(name, value, None, None) for name, value in estimates]
    per_sample = [
        [v for _, v in _quantities(ScalingLaw.from_theta(t), budgets)] if np.isfinite(t).all() else None
        for t in boot_thetas
    ]
    table = np.array([row for row in per_sample if row is not None], dtype=np.float64).reshape(-1, len(estimates))
    with np.errstate(all="ignore"):
        return [(name, value, *_interval(table[:, j], level)) for j, (name, value) in enumerate(estimates)]


def isoflop_rows(fit, boot, budgets, level: float = 0.95):
    """(parameter, estimate, ci_low, ci_high) for approach 2."""
    rows = [("isoflop_a", fit.a, boot[:, 0]), ("isoflop_b", fit.b, 1.0 - boot[:, 0])]
    for c in budgets:
        samples = np.exp(boot[:, 1]) * np.power(c, boot[:, 0]) if len(boot) else boot[:, 0]
        rows.append((f"isoflop_N_opt@{budget_label(c)}", float(fit.params_at(c)), samples))
    out = []
    for name, value, samples in rows:
        low, high = _interval(np.asarray(samples), level) if len(samples) else (None, None)
        out.append((name, value, low, high))
    return out
