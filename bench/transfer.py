"""Does genome pretraining transfer? Fine-tune from a pretraining run and from the same model before its first step.

The control that could refute a transfer claim is the same network, same tokenizer and
same fine-tuning, started from its initial weights: `genotx pretrain ... --max-steps 0`
with the pretraining run's flags and seed saves exactly the weights that run started
from. Both are fine-tuned with `genotx finetune --task regulatory --from RUN` and no
other flag (the regulatory recipe's training choices: epochs with early stopping on
validation loss, both strands where the classes look strand-symmetric), on the splits
of bench/regulatory.py (stratified 80/20, or 5-fold cross-validation for the 106
E. coli promoters), several seeds. The table gives each start's accuracy and the
paired difference (pretrained - initial) per seed with a 95 % t interval; an effect
counts as resolved only where that interval excludes zero.

Zero-shot (``--zero-shot``): each model scores the substitutions of bench/variant.py
(held-out splice donors: the GT's six breaking substitutions against random ones
outside positions 29-34) with `genotx predict --task variant`; AUROC of -score,
0.5 = no signal.

    genotx pretrain genomes/*.fa.gz --objective mlm --tokenizer char ... --seed 0 -o runs/char-mlm
    genotx pretrain genomes/*.fa.gz --objective mlm --tokenizer char ... --seed 0 --max-steps 0 -o runs/char-init
    python bench/transfer.py --start pretrained=runs/char-mlm --start initial=runs/char-init \\
        --datasets ecoli_promoters,splice --seeds 0,1,2 --out transfer.jsonl
    python bench/transfer.py --table transfer.jsonl

Appends one JSON line per run to --out and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != str(REPO / "bench")]
sys.path.insert(0, str(REPO))
sys.path.insert(1, str(REPO / "bench"))

import regulatory  # noqa: E402  (bench/regulatory.py: datasets, splits, the CLI round trip)

T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def interval(values) -> tuple[float, float]:
    """(mean, half-width of the 95 % t interval); half-width nan for one value."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return float(values.mean()), float("nan")
    half = T975.get(len(values) - 1, 1.96) * values.std(ddof=1) / np.sqrt(len(values))
    return float(values.mean()), float(half)


def fine_tune_accuracy(name: str, data, run: str, seed: int) -> float:
    hits = total = 0
    for train, test in regulatory.splits(name, data.labels, seed):
        with tempfile.TemporaryDirectory() as tmp:
            predicted = regulatory.genotx_predictions(data, train, test, ["--from", run], seed, tmp)
        hits += int((predicted == data.labels[test]).sum())
        total += len(test)
    return hits / total


def zero_shot_auroc(run: str, seed: int) -> tuple[float, int]:
    """AUROC of bench/variant.py's breaking vs random substitutions of held-out donors, and their number."""
    import variant

    from genotx.tasks.metrics import auroc

    _, _, donors, _ = variant.load_split(0.2, seed)
    rows = variant.substitutions(donors, 3, np.random.default_rng(seed))
    kinds = np.array([r[3] for r in rows])
    with tempfile.TemporaryDirectory() as tmp:
        table = Path(tmp, "variants.tsv")
        table.write_text("sequence\tpos\talt\n" + "".join(f"{s}\t{p}\t{a}\n" for s, p, a, _ in rows))
        model = Path(run, "model") if Path(run, "model").is_dir() else Path(run)
        scores = variant.zero_shot_scores(model, table)
    return auroc(kinds, -scores), len(rows)


def table(rows: list[dict]) -> str:
    starts = list(dict.fromkeys(r["start"] for r in rows))
    lines = []
    tasks = [d for d in (*regulatory.DATASETS, "zero-shot donors") if any(r["dataset"] == d for r in rows)]
    head = "| task | " + " | ".join(f"{s} (mean ± sd)" for s in starts)
    if len(starts) == 2:
        head += f" | {starts[0]} - {starts[1]}, paired: mean [95 % interval] | resolved"
    lines += [head + " |", "|---|" + "---:|" * (len(starts) + (2 if len(starts) == 2 else 0))]
    for task in tasks:
        by_start = {s: {r["seed"]: r["score"] for r in rows if r["dataset"] == task and r["start"] == s} for s in starts}
        cells = []
        for s in starts:
            v = list(by_start[s].values())
            cells.append("–" if not v else f"{np.mean(v):.3f} ± {np.std(v, ddof=1) if len(v) > 1 else 0:.3f} ({len(v)})")
        if len(starts) == 2:
            seeds = sorted(set(by_start[starts[0]]) & set(by_start[starts[1]]))
            diffs = [by_start[starts[0]][k] - by_start[starts[1]][k] for k in seeds]
            if diffs:
                mean, half = interval(diffs)
                resolved = "no" if not np.isfinite(half) or abs(mean) <= half else ("yes, higher" if mean > 0 else "yes, lower")
                cells += [f"{mean:+.3f} [{mean - half:+.3f}, {mean + half:+.3f}] ({len(diffs)} seeds)", resolved]
            else:
                cells += ["–", "–"]
        metric = "AUROC" if task == "zero-shot donors" else "accuracy"
        lines.append(f"| {task} ({metric}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(rows: list[dict], runs: list[str], path: str) -> None:
    """Held-out loss per base of each pretraining run against its unigram baseline; accuracy per start and seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (curve, points) = plt.subplots(1, 2, figsize=(12, 4.2))
    for run in runs:
        record = json.load(open(Path(run, "run.json")))
        per_base = record["loss_per_base"] / record["loss"]  # tokens per base of the held-out windows
        lines = [line.split("\t") for line in open(Path(run, "metrics.tsv")).read().splitlines()]
        head, body = lines[0], [dict(zip(lines[0], line)) for line in lines[1:]]
        if "eval_loss" not in head:
            continue
        scored = [(int(r["bases"]), float(r["eval_loss"]) * per_base) for r in body if r["eval_loss"] != "NA"]
        name = f"{record['config']['tokenizer']} {record['objective']}"
        line, = curve.plot([b for b, _ in scored], [v for _, v in scored], marker=".", label=name)
        curve.axhline(record["baseline_loss"] * per_base, color=line.get_color(), ls=":",
                      label=f"{name}: unigram of the scored tokens")
    curve.set(xlabel="bases seen in pretraining", ylabel="held-out loss, nats per base", title="pretraining")
    curve.legend(fontsize=7)
    starts = list(dict.fromkeys((r["start"], Path(r["run"]).name) for r in rows))
    tasks = list(dict.fromkeys(r["dataset"] for r in rows))
    for j, start in enumerate(starts):
        for i, task in enumerate(tasks):
            values = [r["score"] for r in rows if r["dataset"] == task and (r["start"], Path(r["run"]).name) == start]
            xs = i + (j - (len(starts) - 1) / 2) * 0.18 + np.linspace(-0.03, 0.03, len(values))
            points.scatter(xs, values, color=f"C{j}", label=f"{start[0]} ({start[1]})" if i == 0 else None, s=18)
    points.set_xticks(range(len(tasks)), tasks, fontsize=8)
    points.set(ylabel="accuracy (zero-shot: AUROC)", title="fine-tuned from each start, one point per seed")
    points.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def record(rows: list[dict], out: str, row: dict) -> None:
    """Keep ``row``, show it on stderr and append it to the JSONL file ``out`` as soon as it is measured."""
    rows.append(row)
    print(json.dumps(row), file=sys.stderr, flush=True)
    with open(out, "a") as fh:
        fh.write(json.dumps(row) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--start", action="append", default=[], metavar="NAME=RUN",
                        help="a start point: NAME=pretraining run directory (give two to get paired differences)")
    parser.add_argument("--datasets", default="ecoli_promoters,splice")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--zero-shot", action="store_true", help="also score held-out splice-donor substitutions")
    parser.add_argument("--out", default="bench-transfer.jsonl")
    parser.add_argument("--table", help="only print the table of a finished JSONL file")
    parser.add_argument("--plot", help="with --table: also draw the curves of the --start runs and the points to this PNG")
    args = parser.parse_args()
    if args.table:
        rows = [json.loads(line) for line in open(args.table)]
        print(table(rows))
        if args.plot:
            plot(rows, [s.split("=", 1)[1] for s in args.start], args.plot)
        return
    starts = [s.split("=", 1) for s in args.start]
    if not starts or any(len(s) != 2 or not Path(s[1]).is_dir() for s in starts):
        sys.exit("give --start NAME=RUN for each start point, RUN an existing pretraining run directory")
    rows = []
    for name in [d for d in args.datasets.split(",") if d]:
        data = regulatory.load(name)
        for seed in map(int, args.seeds.split(",")):
            for start, run in starts:
                began = time.time()
                record(rows, args.out, {"dataset": name, "seed": seed, "start": start, "run": run,
                                        "score": fine_tune_accuracy(name, data, run, seed),
                                        "wall_s": round(time.time() - began, 1)})
    if args.zero_shot:
        for seed in map(int, args.seeds.split(",")):
            for start, run in starts:
                score, n = zero_shot_auroc(run, seed)
                record(rows, args.out, {"dataset": "zero-shot donors", "seed": seed, "start": start, "run": run,
                                        "score": score, "substitutions": n})
    print(table(rows))


if __name__ == "__main__":
    main()
