"""Run a grid in three stages, resumably, and write grid.tsv, report.md and the figures.

1. main: every tokenizer × PE × objective with attention, in the declared order;
2. mixer: each other mixer at the best main-grid cell (highest score);
3. seeds: the top configurations of stages 1-2 again with further seeds.

Stages 2 and 3 follow from the results of the stages before them, which are
on disk once finished, so a resumed grid plans exactly the same cells.
OUT/grid.json holds the plan's settings; a rerun with other settings is refused.

With ``jobs`` > 1 the cells of a stage run in that many worker processes, each
with its share of the threads (small models use one core far better than a
second thread does). Results are yielded in the declared order whatever order
the workers finish in, and every cell keeps its own seed, so a grid run with
any number of jobs produces the same numbers.

Example::

    plan = grid_plan(GridAxes(), "tiny", seed=0, top=None, seeds=None, command="grid -o grid/")
    for result in run_grid(plan, "grid/"):
        print(result["name"], result["status"])
"""

from __future__ import annotations

import os
import traceback

from genotx.errors import GenotxError, InputError
from genotx.grid.cell import read_json, run_cell
from genotx.grid.spec import GridAxes, budget_settings, main_cells, mixer_cells, seed_cells
from genotx.grid.table import columns, flat_row, ranking, write_tsv_atomic
from genotx.progress import info, warn
from genotx.runtime import settings
from genotx.io.atomic import atomic_write, write_json_atomic


class GridFailed(GenotxError):
    """Some cells failed (exit 1); the others are kept and a rerun retries the failed ones."""

    exit_code = 1


def grid_plan(axes: GridAxes, budget_name: str, *, seed: int, top: int | None, seeds: int | None, command: str,
              corpus: list[str] | None = None, flops: float | None = None) -> dict:
    """The settings of a grid as stored in grid.json (defaults of top/seeds/corpus/flops from the budget)."""
    from genotx.grid.data import corpus_files

    budget = budget_settings(budget_name)
    if flops is not None:
        if not flops > 0:
            raise InputError(f"--flops must be positive, got {flops:g}")
        budget["flops"] = float(flops)
    files = list(corpus) if corpus else corpus_files(budget["corpus"])
    label = ", ".join(os.path.basename(f) for f in files) if corpus else f"{budget['corpus']} ({len(files)} files)"
    return {"budget_name": budget_name, "budget": budget, "flops_changed": flops is not None, "axes": axes.to_dict(), "seed": seed,
            "top": budget["top"] if top is None else top, "seeds": budget["seeds"] if seeds is None else seeds,
            "corpus_files": files, "corpus": label, "command": command}


def _check_plan(out_dir: str, plan: dict) -> None:
    path = os.path.join(out_dir, "grid.json")
    saved = read_json(path)
    if saved is not None:
        keys = ("budget_name", "budget", "axes", "seed", "top", "seeds")
        differs = [k for k in keys if saved.get(k) != plan.get(k)]
        if [os.path.basename(f) for f in saved.get("corpus_files", [])] != [os.path.basename(f) for f in plan["corpus_files"]]:
            differs.append("corpus")
        if differs:
            raise InputError(f"{out_dir} holds a grid with other settings ({', '.join(differs)}); "
                             "rerun it with the same options or choose a new -o DIR")
    os.makedirs(out_dir, exist_ok=True)
    write_json_atomic(path, plan)


class _Tasks:
    """Task data loaded on first use: a finished grid that is only re-reported loads nothing."""

    def __init__(self, plan: dict):
        self.plan, self.data = plan, None

    def get(self) -> dict:
        if self.data is None:
            from genotx.grid.data import load_tasks

            self.data = load_tasks(self.plan["axes"]["tasks"], self.plan["corpus_files"],
                                   taxon_valid=self.plan["budget"]["taxon_valid"])
        return self.data


def _run(cell, plan: dict, out_dir: str, tasks: _Tasks) -> dict:
    quiet = settings.quiet
    settings.quiet = True  # the grid reports one line per cell; pretrain and finetune stay silent
    try:
        tasks = {} if _is_done(cell, out_dir) else tasks.get()
        return run_cell(cell, plan["budget"], out_dir, corpus=plan["corpus_files"], tasks=tasks)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001 - one broken cell must not end a two-hour grid
        settings.quiet = quiet
        if settings.debug:
            traceback.print_exc()
        warn(f"cell {cell.name} failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        return {**cell.to_dict(), "status": "failed"}
    finally:
        settings.quiet = quiet


_WORKER: dict = {}


def _worker_start(plan: dict, out_dir: str, threads: int, quiet: bool, debug: bool) -> None:
    settings.threads, settings.quiet, settings.debug = threads, quiet, debug
    _WORKER.update(plan=plan, out_dir=out_dir, tasks=_Tasks(plan))


def _worker_run(cell) -> dict:
    return _run(cell, _WORKER["plan"], _WORKER["out_dir"], _WORKER["tasks"])


def _cells_in_parallel(cells: list, plan: dict, out_dir: str, jobs: int):
    """Run ``cells`` in ``jobs`` worker processes; yield their results in the order of ``cells``."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from genotx.runtime import default_threads

    threads = max(1, (settings.threads or default_threads()) // jobs)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_worker_start,
                             initargs=(plan, out_dir, threads, settings.quiet, settings.debug)) as pool:
        yield from pool.map(_worker_run, cells)


def _is_done(cell, out_dir: str) -> bool:
    return os.path.exists(os.path.join(out_dir, "cells", cell.name, "result.json"))


def run_grid(plan: dict, out_dir: str, jobs: int = 1):
    """Run every cell of the plan not yet finished; yield each cell's result in run order."""
    if jobs < 1:
        raise InputError(f"--jobs must be at least 1, got {jobs}")
    _check_plan(out_dir, plan)
    axes = GridAxes(**{k: tuple(v) for k, v in plan["axes"].items()})
    tasks = _Tasks(plan)
    results: list[dict] = []

    def stage(cells):
        cells = list(cells)
        todo = sum(not _is_done(c, out_dir) for c in cells)
        if jobs > 1 and todo > 1:
            outcomes = _cells_in_parallel(cells, plan, out_dir, min(jobs, todo))
        else:
            outcomes = (_run(cell, plan, out_dir, tasks) for cell in cells)
        for cell, result in zip(cells, outcomes):
            results.append(result)
            if result["status"] != "skipped":
                info(f"{cell.name}: {result['status']}, score {result.get('score', float('nan')):.3f}, "
                     f"{result.get('wall_s', 0):.0f} s")
            yield result

    yield from stage(main_cells(axes, seed=plan["seed"]))
    best = ranking(results, stages=("main",))
    if best and any(m != "attention" for m in axes.mixers):
        from genotx.grid.spec import Cell

        winner = Cell(**{k: best[0][k] for k in ("tokenizer", "pe", "objective", "mixer", "seed", "stage")})
        yield from stage(mixer_cells(axes, winner))
    if plan["seeds"] > 1 and plan["top"] > 0:
        from genotx.grid.spec import Cell

        top = [Cell(**{k: r[k] for k in ("tokenizer", "pe", "objective", "mixer", "seed", "stage")})
               for r in ranking(results)[: plan["top"]]]
        yield from stage(seed_cells(top, plan["seeds"], plan["seed"]))


def write_outputs(results: list[dict], plan: dict, out_dir: str) -> list[str]:
    """grid.tsv, report.md and the PNG figures in ``out_dir``; returns the figure names."""
    from genotx.grid.plots import write_plots
    from genotx.grid.report import report_markdown

    tasks = plan["axes"]["tasks"]
    write_tsv_atomic(os.path.join(out_dir, "grid.tsv"), columns(tasks),
                     [flat_row(r, tasks=tasks) for r in results], plan["command"])
    figures = write_plots(results, out_dir)
    path = os.path.join(out_dir, "report.md")
    with atomic_write(path) as handle:
        handle.write(report_markdown(results, plan, figures))
    return figures
