"""metrics.tsv of a run: one row every --log-every steps and at every evaluation.

On --resume the rows after the resumed checkpoint are dropped (they will be
logged again), so the file reads as if the run had never stopped.

Example::

    log = MetricsLog("run/metrics.tsv")
    log.write(step=10, tokens=5120, bases=5120, lr=1e-3, loss=1.39, eval_loss=None, tokens_per_s=8e3, elapsed_s=2.5)
"""

from __future__ import annotations

import os

from genotx.io.atomic import atomic_write
from genotx.io.tsv import format_field

COLUMNS = ["step", "tokens", "bases", "lr", "loss", "eval_loss", "tokens_per_s", "elapsed_s"]


class MetricsLog:
    def __init__(self, path: str, keep_until: int | None = None):
        self.path = path
        kept = []
        if keep_until is not None and os.path.exists(path):
            with open(path) as f:
                for line in f.read().splitlines()[1:]:
                    if line and int(line.split("\t", 1)[0]) <= keep_until:
                        kept.append(line)
        with atomic_write(path) as f:
            f.write("\t".join(COLUMNS) + "\n")
            f.writelines(line + "\n" for line in kept)

    def write(self, **row) -> None:
        with open(self.path, "a") as f:
            f.write("\t".join(format_field(row[c]) for c in COLUMNS) + "\n")
