"""Compare tokenizers, positional encodings, objectives and mixers on equal compute (resumable).

Pretrains one model per cell on the shipped genomes with the same training
FLOPs, scores its held-out loss at 1, 2, 4 and 8 times the training length,
fine-tunes it on the shipped tasks (taxon reads, splice sites, promoters,
Oct4/MafK peaks) and ranks the cells by mean macro-F1. The default grid is
tokenizer {char, kmer6, kmer6:6, bpe:4096, rcbpe:4096} x PE {sinusoidal,
learned, alibi, rope} x objective {mlm, ar} with attention, then every mixer
at the best setting, then the top configurations with more seeds.

Writes OUT/grid.tsv (one row per cell), OUT/report.md and PNG figures, and
prints the grid.tsv rows on stdout as cells finish. Finished cells are skipped
on a rerun of the same command. `--jobs 2` runs two cells at once, one thread
each: on a 2-core machine that is faster for small models than one cell on two
threads, and gives the same numbers. Budgets: tiny (seconds), small (CPU, about
two hours on two cores), medium and large (one GPU).
"""

from __future__ import annotations

from typing import List, Optional

import typer

from genotx.cli._common import command


def _values(text: Optional[str], default: tuple) -> tuple:
    if text is None:
        return default
    return tuple(v.strip() for v in text.split(",") if v.strip())


@command
def run(
    out: str = typer.Option(..., "-o", "--out", help="Grid directory (created; rerun to resume)."),
    budget: str = typer.Option("small", "--budget", help="tiny | small | medium | large (see docs/grid.md)."),
    tokenizers: Optional[str] = typer.Option(None, "--tokenizers", help="Comma-separated, default char,kmer6,kmer6:6,bpe:4096,rcbpe:4096."),
    pes: Optional[str] = typer.Option(None, "--pes", help="Comma-separated, default sinusoidal,learned,alibi,rope."),
    objectives: Optional[str] = typer.Option(None, "--objectives", help="Comma-separated, default mlm,ar."),
    mixers: Optional[str] = typer.Option(None, "--mixers", help="Mixers tried at the best setting, default attention,linear,window,mamba,hybrid ('attention' alone: none)."),
    tasks: Optional[str] = typer.Option(None, "--tasks", help="Fine-tuning tasks, default taxon,splice,promoters,chip."),
    corpus: Optional[List[str]] = typer.Option(None, "--corpus", help="Pretraining FASTA instead of the budget's shipped genomes (repeatable)."),
    top: Optional[int] = typer.Option(None, "--top", min=0, help="Configurations repeated over seeds (default: the budget's)."),
    seeds: Optional[int] = typer.Option(None, "--seeds", min=1, help="Seeds of each top configuration (default: the budget's)."),
    flops: Optional[float] = typer.Option(None, "--flops", help="Training FLOPs per cell instead of the budget's."),
    seed: int = typer.Option(0, "--seed", help="Seed of the main grid; repeats use seed+1, seed+2, ..."),
    jobs: int = typer.Option(1, "-j", "--jobs", min=1, help="Cells run at once, each in its own process with threads/jobs threads (same results for any value)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the main-grid cells without running them."),
) -> None:
    from genotx.grid import spec
    from genotx.grid.runner import GridFailed, grid_plan, run_grid, write_outputs
    from genotx.grid.table import columns, flat_row
    from genotx.io import TsvWriter
    from genotx.io.tsv import command_line
    from genotx.progress import info

    axes = spec.GridAxes(tokenizers=_values(tokenizers, spec.TOKENIZERS), pes=_values(pes, spec.PES),
                         objectives=_values(objectives, spec.OBJECTIVES), mixers=_values(mixers, spec.MIXERS),
                         tasks=_values(tasks, spec.TASKS))
    plan = grid_plan(axes, budget, seed=seed, top=top, seeds=seeds, command=command_line(), corpus=corpus,
                     flops=flops)
    names = columns(axes.tasks)
    with TsvWriter(names) as table:
        if dry_run:
            cells = spec.main_cells(axes, seed=seed)
            table.write_rows([flat_row({**c.to_dict(), "status": "planned", "budget_flops": plan["budget"]["flops"]},
                                       tasks=axes.tasks) for c in cells])
            return
        from genotx.io.outputs import GRID, check_output

        check_output(out, GRID, resumable=True)  # a folder of other files is never written into
        results = []
        for result in run_grid(plan, out, jobs=jobs):
            results.append(result)
            table.write_rows([flat_row(result, tasks=axes.tasks)])
    figures = write_outputs(results, plan, out)
    info(f"wrote {out}/grid.tsv, {out}/report.md and {len(figures)} figure(s)")
    failed = sum(r["status"] == "failed" for r in results)
    if failed:
        raise GridFailed(f"{failed} of {len(results)} cells failed (messages above); rerun the same command to retry them")
