"""Per-record length, GC content, N fraction and mean base quality.

Output columns: id, length, gc, n_fraction, mean_quality (NA for FASTA).
"""

from __future__ import annotations

from typing import List, Optional

import typer

from genotx.cli._common import command, inputs_argument, paths_or_stdin
from genotx.io import TsvWriter, iter_batches


def _row(rid: str, seq: str, qual: str | None):
    n = len(seq)
    gc = seq.count("G") + seq.count("C")
    ns = seq.count("N")
    called = n - ns
    mean_q = (sum(qual.encode()) / n - 33) if qual is not None else None
    return rid, n, (gc / called if called else None), ns / n, mean_q


@command
def run(
    inputs: Optional[List[str]] = inputs_argument(),
) -> None:
    with TsvWriter(["id", "length", "gc", "n_fraction", "mean_quality"]) as out:
        for batch in iter_batches(paths_or_stdin(inputs)):
            out.write_rows([_row(*rec) for rec in batch.records()])
