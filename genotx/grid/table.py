"""The grid's numbers: one flat row per cell (grid.tsv), the ranking, and seed confidence intervals.

Example::

    rows = [flat_row(r, tasks=("splice",)) for r in results]
    top = ranking(results)[:3]
    intervals = confidence_intervals(results, [c["config"] for c in top])
"""

from __future__ import annotations

import math

from genotx.grid.spec import EXTRAPOLATION

CELL_COLUMNS = ["name", "stage", "config", "tokenizer", "pe", "objective", "mixer", "seed", "status", "budget_flops",
                "flops", "kaplan_flops", "params", "tokens", "bases", "steps", "vocab_size", "loss_per_token", "loss_per_base",
                "baseline_loss"]
TASK_METRICS = ("macro_f1", "accuracy", "auroc")


def extrapolation_columns() -> list[str]:
    return [f"loss_{f}x" for f in EXTRAPOLATION]


def columns(tasks) -> list[str]:
    """grid.tsv columns: the cell, its compute, its losses, extrapolation, task metrics, score, time."""
    task_columns = [f"{task}_{metric}" for task in tasks for metric in TASK_METRICS]
    return CELL_COLUMNS + extrapolation_columns() + task_columns + ["score", "pretrain_wall_s", "wall_s"]


def flat_row(result: dict, *, tasks) -> list:
    """The grid.tsv row of one cell result, in `columns(tasks)` order (NA where nothing was measured)."""
    row = {name: result.get(name) for name in CELL_COLUMNS}
    if row["status"] == "skipped":
        row["status"] = "done"
    extrapolation = result.get("extrapolation") or {}
    for factor in EXTRAPOLATION:
        row[f"loss_{factor}x"] = extrapolation.get(str(factor))
    for task in tasks:
        metrics = ((result.get("tasks") or {}).get(task) or {}).get("metrics", {})
        for metric in TASK_METRICS:
            row[f"{task}_{metric}"] = metrics.get(metric)
    row.update(score=result.get("score"), pretrain_wall_s=result.get("pretrain_wall_s"), wall_s=result.get("wall_s"))
    return [row[name] for name in columns(tasks)]


def finished(results) -> list[dict]:
    return [r for r in results if r.get("status") in ("done", "skipped")]


def ranking(results, *, stages=("main", "mixer")) -> list[dict]:
    """Finished cells of ``stages``, best score first; ties broken by name so the order is fixed."""
    pool = [r for r in finished(results) if r["stage"] in stages and r.get("score") == r.get("score")]
    return sorted(pool, key=lambda r: (-r["score"], r["name"]))


def mean_interval(values: list[float], level: float = 0.95) -> tuple[float, float, float, int]:
    """(mean, lower, upper, n): Student-t interval of the mean; lower = upper = mean when n < 2.

    Example: ``mean_interval([0.8, 0.82, 0.78])`` -> (0.8, 0.750..., 0.849..., 3)
    """
    values = [v for v in values if v is not None and v == v]
    n = len(values)
    if n == 0:
        return (math.nan, math.nan, math.nan, 0)
    mean = sum(values) / n
    if n < 2:
        return (mean, mean, mean, n)
    from scipy.stats import t

    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return (mean, mean - half, mean + half, n)


def confidence_intervals(results, configs: list[str], tasks) -> list[dict]:
    """Per configuration: mean and 95 % interval over its seeds of the score, each task's headline metric
    and the held-out loss per base."""
    out = []
    for config in configs:
        cells = [r for r in finished(results) if r["config"] == config]
        entry = {"config": config, "seeds": sorted(r["seed"] for r in cells)}
        entry["score"] = mean_interval([r["score"] for r in cells])
        entry["loss_per_base"] = mean_interval([r["loss_per_base"] for r in cells])
        for task in tasks:
            metric = "macro_f1"
            entry[task] = mean_interval([((r.get("tasks") or {}).get(task) or {}).get("metrics", {}).get(metric)
                                         for r in cells])
        out.append(entry)
    return out


def write_tsv_atomic(path: str, header: list[str], rows: list[list], command: str) -> None:
    """Write a genotx TSV (provenance line, header, rows) to ``path`` via a temporary file."""
    from genotx.io import TsvWriter

    from genotx.io.atomic import atomic_write

    with atomic_write(path) as handle:
        with TsvWriter(header, stream=handle, command=command) as table:
            table.write_rows(rows)
