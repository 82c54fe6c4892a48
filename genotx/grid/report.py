"""The grid's Markdown report (report.md): what was run, the tables, the figures, the intervals.

Example::

    text = report_markdown(results, plan, figures=["extrapolation.png"])
"""

from __future__ import annotations

from genotx.grid.extrapolate import CANNOT_RUN
from genotx.grid.spec import EXTRAPOLATION, PES, tokenizer_label
from genotx.grid.table import confidence_intervals, finished, mean_interval, ranking


def _num(value, digits: int = 3) -> str:
    if value is None or value != value:
        return "NA"
    if isinstance(value, str):
        return value
    return f"{value:.{digits}f}"


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _task_metric(result: dict, task: str):
    return ((result.get("tasks") or {}).get(task) or {}).get("metrics", {}).get("macro_f1")


def _cells_table(cells, tasks) -> list[str]:
    header = ["tokenizer", "PE", "objective", "mixer", "seed", "loss/base", "baseline/token"] + list(tasks) + ["score"]
    rows = [[tokenizer_label(r["tokenizer"]), r["pe"], r["objective"], r["mixer"], r["seed"], _num(r["loss_per_base"]),
             _num(r["baseline_loss"])] + [_num(_task_metric(r, t)) for t in tasks] + [f"**{_num(r['score'])}**"]
            for r in cells]
    return _table(header, rows)


def _pivot(cells, row_key: str, col_key: str, rows_order, cols_order) -> list[str]:
    """Mean score of the cells in each (row, column) pair."""
    out = []
    for row in rows_order:
        line = [tokenizer_label(row) if row_key == "tokenizer" else row]
        for col in cols_order:
            values = [r["score"] for r in cells if r[row_key] == row and r[col_key] == col]
            line.append(_num(mean_interval(values)[0]) if values else "NA")
        out.append(line)
    return _table([row_key] + list(cols_order), out)


def _extrapolation_table(cells) -> list[str]:
    rows = []
    for r in cells:
        ext = r.get("extrapolation") or {}
        rows.append([tokenizer_label(r["tokenizer"]), r["pe"], r["objective"]] +
                    [_num(ext.get(str(f))) if ext.get(str(f)) != CANNOT_RUN else CANNOT_RUN for f in EXTRAPOLATION])
    return _table(["tokenizer", "PE", "objective"] + [f"{f}L" for f in EXTRAPOLATION], rows)


def _interval_table(intervals, tasks) -> list[str]:
    def fmt(entry):
        mean, low, high, n = entry
        return f"{_num(mean)} [{_num(low)}, {_num(high)}]" if n > 1 else _num(mean)

    rows = [[e["config"], len(e["seeds"]), fmt(e["score"])] + [fmt(e[t]) for t in tasks] + [fmt(e["loss_per_base"])]
            for e in intervals]
    return _table(["configuration", "seeds", "score"] + list(tasks) + ["loss/base"], rows)


def report_markdown(results, plan: dict, figures: list[str]) -> str:
    """The whole report as Markdown text."""
    budget, tasks = plan["budget"], plan["axes"]["tasks"]
    done = finished(results)
    main = [r for r in done if r["stage"] == "main"]
    refused = [r for r in results if r.get("status") == "cannot run"]
    changed = f" with {budget['flops']:.3g} FLOPs per cell" if plan.get("flops_changed") else ""
    lines = [f"# genotx grid: budget `{plan['budget_name']}`{changed}", "",
             f"Command: `genotx {plan['command']}`", "",
             f"- cells finished: {len(done)} of {len(results)} planned so far; refused: {len(refused)}",
             f"- model: d_model {budget['d_model']}, {budget['n_layers']} layers, {budget['n_heads']} heads; "
             f"windows of {budget['seq_len']} bp, batch {budget['batch_size']}",
             f"- compute per cell: {budget['flops']:.3g} training FLOPs (6·N·D + attention as in run.json, plus the "
             "output layer; column `flops` is what each cell used, `kaplan_flops` the run.json part)",
             f"- pretraining corpus: {plan['corpus']}; fine-tuning: {budget['finetune_steps']} steps of "
             f"{budget['finetune_batch']} per task, scored once after the last step",
             f"- total time of the cells: {sum(r.get('wall_s') or 0 for r in done) / 60:.1f} min", "",
             "Score = mean macro-F1 over the tasks (validation sets fixed for every cell). "
             "Pretraining losses compare only within one objective (MLM scores 15 % masked tokens, AR every "
             "token); `loss/base` is nats per base.", ""]
    if main:
        lines += ["## Main grid (attention)", ""] + _cells_table(main, tasks)
        lines += ["### Mean score by tokenizer and PE (over objectives)", ""]
        lines += _pivot(main, "tokenizer", "pe", list(dict.fromkeys(r["tokenizer"] for r in main)),
                        [p for p in PES if any(r["pe"] == p for r in main)])
        lines += ["### Mean score by objective and PE (over tokenizers)", ""]
        lines += _pivot(main, "objective", "pe", list(dict.fromkeys(r["objective"] for r in main)),
                        [p for p in PES if any(r["pe"] == p for r in main)])
    if "score_by_tokenizer_pe.png" in figures:
        lines += ["![score by tokenizer and PE](score_by_tokenizer_pe.png)", ""]
    if main:
        lines += ["## Length extrapolation", "",
                  f"Held-out loss (nats/base) of models trained on {budget['seq_len']} bp windows, evaluated on the "
                  "same held-out bases cut into windows of L, 2L, 4L and 8L. Learned absolute positions end at L: "
                  f"`{CANNOT_RUN}`.", ""] + _extrapolation_table(main)
    if "extrapolation.png" in figures:
        lines += ["![extrapolation](extrapolation.png)", ""]
    mixers = [r for r in done if r["stage"] == "mixer"]
    if mixers:
        lines += ["## Mixers at the best main-grid setting", "",
                  "Linear attention cannot take ALiBi; it runs with RoPE when the best PE is ALiBi.", ""]
        lines += _cells_table(mixers, tasks)
    if "mixers.png" in figures:
        lines += ["![mixers](mixers.png)", ""]
    top = [r["config"] for r in ranking(results)[: plan["top"]]]
    if top:
        lines += [f"## Top {len(top)} configurations over seeds", "",
                  "Mean [95 % Student-t interval] over the seeds of each configuration.", ""]
        lines += _interval_table(confidence_intervals(results, top, tasks), tasks)
    if refused:
        lines += ["## Refused cells", ""] + [f"- `{r['name']}`: {r.get('reason', '')}" for r in refused] + [""]
    return "\n".join(lines)
