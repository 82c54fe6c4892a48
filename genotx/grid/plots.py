"""Figures of a grid (matplotlib, PNG, written atomically): score by tokenizer and PE, extrapolation curves.

Example::

    paths = write_plots(results, "grid/")   # ['score_by_tokenizer_pe.png', 'extrapolation.png', ...]
"""

from __future__ import annotations

import os

from genotx.grid.extrapolate import CANNOT_RUN
from genotx.grid.spec import EXTRAPOLATION, PES, tokenizer_label
from genotx.grid.table import finished


def _save(fig, path: str) -> None:
    import matplotlib.pyplot as plt

    from genotx.io.atomic import atomic_path

    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
    finally:
        plt.close(fig)


def _main(results) -> list[dict]:
    return [r for r in finished(results) if r["stage"] == "main" and r.get("score") == r.get("score")]


def score_plot(results, path: str) -> bool:
    """Grouped bars: mean fine-tuning score per tokenizer, one bar per PE, one panel per objective."""
    import matplotlib.pyplot as plt
    import numpy as np

    cells = _main(results)
    if not cells:
        return False
    objectives = list(dict.fromkeys(r["objective"] for r in cells))
    tokenizers = list(dict.fromkeys(r["tokenizer"] for r in cells))
    pes = [p for p in PES if any(r["pe"] == p for r in cells)]
    fig, axes = plt.subplots(1, len(objectives), figsize=(4.5 * len(objectives), 3.6), squeeze=False, sharey=True)
    width = 0.8 / max(1, len(pes))
    for panel, objective in zip(axes[0], objectives):
        for j, pe in enumerate(pes):
            heights = []
            for tok in tokenizers:
                match = [r["score"] for r in cells if (r["objective"], r["pe"], r["tokenizer"]) == (objective, pe, tok)]
                heights.append(match[0] if match else np.nan)
            panel.bar(np.arange(len(tokenizers)) + (j - (len(pes) - 1) / 2) * width, heights, width, label=pe)
        panel.set_xticks(np.arange(len(tokenizers)), [tokenizer_label(t) for t in tokenizers], rotation=30)
        panel.set_title(f"objective {objective}", fontsize=10)
    axes[0][0].set_ylabel("mean macro-F1 over tasks")
    axes[0][-1].legend(title="PE", fontsize=8)
    fig.tight_layout()
    _save(fig, path)
    return True


def extrapolation_plot(results, path: str) -> bool:
    """Held-out loss at k·L relative to the loss at L, per PE (mean over tokenizers), one panel per objective.
    A PE that cannot run at a length has no point there."""
    import matplotlib.pyplot as plt
    import numpy as np

    cells = [r for r in finished(results) if r["stage"] == "main" and r.get("extrapolation")]
    if not cells:
        return False
    objectives = list(dict.fromkeys(r["objective"] for r in cells))
    fig, axes = plt.subplots(1, len(objectives), figsize=(4.5 * len(objectives), 3.6), squeeze=False)
    for panel, objective in zip(axes[0], objectives):
        for pe in PES:
            ratios = {f: [] for f in EXTRAPOLATION}
            for r in cells:
                if (r["objective"], r["pe"]) != (objective, pe):
                    continue
                base = r["extrapolation"].get("1")
                for f in EXTRAPOLATION:
                    value = r["extrapolation"].get(str(f))
                    if value not in (None, CANNOT_RUN) and base not in (None, CANNOT_RUN):
                        ratios[f].append(value / base)
            xs = [f for f in EXTRAPOLATION if ratios[f]]
            if xs:
                panel.plot(xs, [float(np.mean(ratios[f])) for f in xs], marker="o", label=pe)
        panel.axhline(1.0, color="grey", lw=0.8, ls="--")
        panel.set_xscale("log", base=2)
        panel.set_xticks(list(EXTRAPOLATION), [f"{f}L" for f in EXTRAPOLATION])
        panel.set_xlabel("evaluation length")
        panel.set_title(f"objective {objective}", fontsize=10)
    axes[0][0].set_ylabel("loss / loss at L")
    axes[0][-1].legend(title="PE", fontsize=8)
    fig.tight_layout()
    _save(fig, path)
    return True


def mixer_plot(results, path: str) -> bool:
    """Bars of the fine-tuning score of each mixer at the best main-grid setting."""
    import matplotlib.pyplot as plt

    cells = [r for r in finished(results) if r["stage"] == "mixer" and r.get("score") == r.get("score")]
    if not cells:
        return False
    best = [r for r in finished(results) if r["stage"] == "main" and
            (r["tokenizer"], r["objective"]) == (cells[0]["tokenizer"], cells[0]["objective"]) and
            r["pe"] in (cells[0]["pe"],) and r["seed"] == cells[0]["seed"]]
    shown = best[:1] + cells
    fig, panel = plt.subplots(figsize=(5, 3.4))
    panel.bar([f"{r['mixer']}\n({r['pe']})" for r in shown], [r["score"] for r in shown], color="tab:blue")
    panel.set_ylabel("mean macro-F1 over tasks")
    panel.set_title(f"mixers at {tokenizer_label(cells[0]['tokenizer'])}, {cells[0]['objective']}", fontsize=10)
    fig.tight_layout()
    _save(fig, path)
    return True


def write_plots(results, folder: str) -> list[str]:
    """Write every figure that has data into ``folder``; return their file names."""
    import matplotlib

    matplotlib.use("Agg")
    written = []
    for name, draw in (("score_by_tokenizer_pe.png", score_plot), ("extrapolation.png", extrapolation_plot),
                       ("mixers.png", mixer_plot)):
        if draw(results, os.path.join(folder, name)):
            written.append(name)
    return written
