"""Figure of a scaling-law fit: observed vs predicted loss, and the (N, D) plane with
iso-loss contours, the runs, IsoFLOP lines and the compute-optimal frontier."""

from __future__ import annotations

import os

import numpy as np

from genotx.scaling.law import FLOPS_PER_PARAM_TOKEN, ScalingLaw


def plot_fit(path: str, law: ScalingLaw, params, tokens, loss, budgets) -> None:
    """Write the figure to `path` (format from its extension; written atomically).

    Example::

        plot_fit("fit.png", fit.law, runs.params, runs.tokens, runs.loss, [1e20, 1e22])
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    params, tokens, loss = (np.asarray(v, dtype=np.float64) for v in (params, tokens, loss))
    predicted = law.loss(params, tokens)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.6))

    left.scatter(predicted, loss, s=12, color="tab:blue")
    span = [min(loss.min(), predicted.min()), max(loss.max(), predicted.max())]
    left.plot(span, span, color="grey", lw=1, ls="--")
    left.set_xlabel("predicted loss")
    left.set_ylabel("observed loss")
    left.set_title(f"E={law.E:.3g}  A={law.A:.4g}  B={law.B:.4g}\nα={law.alpha:.3f}  β={law.beta:.3f}", fontsize=9)

    budgets = np.asarray(sorted(budgets), dtype=np.float64)
    compute = FLOPS_PER_PARAM_TOKEN * params * tokens
    c_all = np.concatenate([compute, budgets]) if budgets.size else compute
    n_opt = law.optimal_params(budgets) if budgets.size else np.empty(0)
    d_opt = law.optimal_tokens(budgets) if budgets.size else np.empty(0)
    n_lim = np.log10([min(params.min(), *n_opt) / 2, max(params.max(), *n_opt) * 2])
    d_lim = np.log10([min(tokens.min(), *d_opt) / 2, max(tokens.max(), *d_opt) * 2])
    grid_n, grid_d = np.meshgrid(np.logspace(*n_lim, 200), np.logspace(*d_lim, 200))
    levels = np.quantile(law.loss(grid_n, grid_d), np.linspace(0.02, 0.98, 12))
    contours = right.contour(grid_n, grid_d, law.loss(grid_n, grid_d), levels=np.unique(levels), colors="0.45", linewidths=0.7)
    right.clabel(contours, fontsize=6, fmt="%.2f")
    points = right.scatter(params, tokens, s=12, c=loss, cmap="viridis", zorder=3)
    fig.colorbar(points, ax=right, label="observed loss")
    for c in budgets:  # iso-FLOP lines: D = C / (6 N)
        n_line = np.logspace(*n_lim, 50)
        right.plot(n_line, c / (FLOPS_PER_PARAM_TOKEN * n_line), color="tab:blue", lw=0.6, ls=":")
    c_line = np.logspace(np.log10(c_all.min()), np.log10(c_all.max()), 50)
    right.plot(law.optimal_params(c_line), law.optimal_tokens(c_line), color="tab:red", lw=2, label="compute-optimal")
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlim(10 ** n_lim)
    right.set_ylim(10 ** d_lim)
    right.set_xlabel("parameters N")
    right.set_ylabel("tokens D")
    right.set_title("iso-loss contours, IsoFLOP lines of the budgets (dotted)", fontsize=9)
    right.legend(loc="upper left", fontsize=8)
    fig.tight_layout()

    from genotx.io.atomic import atomic_path

    suffix = os.path.splitext(path)[1].lstrip(".") or "png"
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=130, format=suffix)  # the temporary name has no extension to go by
    finally:
        plt.close(fig)
