"""Regulatory benchmark: `genotx finetune --task regulatory` with no tuning flags vs. simple baselines.

Every shipped labelled set, the same splits for every method, several seeds:

* splice sites (data/labelled/splice.tsv.gz, 3 classes), stratified random 80/20;
* Oct4 vs MafK ChIP-seq peaks (the shipped train1000 and test files pooled), 80/20;
* fly promoters vs distal upstream windows (data/labelled/fly_promoters.tsv.gz), 80/20;
* E. coli promoters (106 sequences), stratified 5-fold cross-validation, accuracy over all folds.

genotx runs as a user would run it: `genotx finetune --task regulatory train.tsv -o m`
then `genotx predict --task regulatory --model m test.fa` (subprocesses; the
finetune holds out 10 % of train.tsv for early stopping, the baselines train on
all of it). Ablations add one flag to the same command. Baselines: logistic
regression on one-hot (equal-length sets) and on 6-mer frequencies, and the
one-hot CNN (genotx.tasks.baselines.CNNBaseline) as global-max-pool, both-strand
max-pool and 12-bin positional variants, 20 epochs each.

    python bench/regulatory.py --seeds 0,1,2 --out bench-regulatory.jsonl
    python bench/regulatory.py --table bench-regulatory.jsonl      # table of a finished run

Prints a markdown table (mean +- sd over seeds) and appends one JSON line per run to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
LABELLED = REPO / "data" / "labelled"

from genotx.tasks.baselines import CNNBaseline, LinearBaseline  # noqa: E402
from genotx.tasks.regulatory import load_class_fastas, load_labelled_tsv, stratified_split  # noqa: E402

DATASETS = ("splice", "oct4_mafk", "fly_promoters", "ecoli_promoters")
ABLATIONS = {
    "no conv stem": ["--conv-stem", "0"],
    "no RC aug/averaging": ["--no-rc-aug", "--no-strand-average"],
    "RC aug + averaging": ["--rc-aug", "--strand-average"],
    "adaptive MLM 300": ["--adapt-steps", "300"],
    "blocks open (no LayerScale)": ["--layer-scale", "0"],
}


def load(name: str):
    if name == "splice":
        return load_labelled_tsv(str(LABELLED / "splice.tsv.gz"))
    if name == "ecoli_promoters":
        return load_labelled_tsv(str(LABELLED / "promoters.tsv.gz"))
    if name == "fly_promoters":
        return load_labelled_tsv(str(LABELLED / "fly_promoters.tsv.gz"))
    parts = [load_class_fastas([f"mafk={LABELLED / f'mafk-{s}.fa.gz'}", f"oct4={LABELLED / f'oct4-{s}.fa.gz'}"])
             for s in ("train1000", "test")]
    return parts[0].__class__(parts[0].ids + parts[1].ids, parts[0].seqs + parts[1].seqs,
                              np.concatenate([parts[0].labels, parts[1].labels]), parts[0].classes)


def splits(name: str, labels: np.ndarray, seed: int):
    """(train, test) index pairs: one stratified 80/20 split, or 5 stratified folds for the small set."""
    if name != "ecoli_promoters":
        return [stratified_split(labels, 0.2, seed)]
    rng = np.random.default_rng(seed)
    folds = [[] for _ in range(5)]
    for c in np.unique(labels):
        for i, index in enumerate(rng.permutation(np.flatnonzero(labels == c))):
            folds[i % 5].append(index)
    every = np.arange(len(labels))
    return [(np.setdiff1d(every, fold), np.sort(fold)) for fold in map(np.array, folds)]


def genotx(*args) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "genotx", "-q", *map(str, args)], capture_output=True, env=env)
    if proc.returncode:
        raise SystemExit(f"genotx {' '.join(map(str, args))} failed: {proc.stderr.decode()[-2000:]}")
    return proc.stdout.decode()


def genotx_predictions(data, train, test, flags, seed, tmp):
    with open(f"{tmp}/train.tsv", "w") as fh:
        fh.write("sequence\tlabel\n")
        fh.writelines(f"{data.seqs[i]}\t{data.classes[data.labels[i]]}\n" for i in train)
    with open(f"{tmp}/test.fa", "w") as fh:
        fh.writelines(f">t{i}\n{data.seqs[i]}\n" for i in test)
    genotx("finetune", "--task", "regulatory", f"{tmp}/train.tsv", "-o", f"{tmp}/m", "--seed", seed, *flags)
    rows = [line.split("\t") for line in genotx("predict", "--task", "regulatory", "--model", f"{tmp}/m",
                                               f"{tmp}/test.fa").splitlines()[2:]]
    return np.array([data.classes.index(r[1]) for r in rows])


BASELINES = {
    "LR one-hot": lambda seed: LinearBaseline(features="onehot", seed=seed),
    "LR 6-mer": lambda seed: LinearBaseline(features="kmer", k=6, seed=seed),
    "CNN max-pool": lambda seed: CNNBaseline(epochs=20, seed=seed),
    "CNN both strands": lambda seed: CNNBaseline(epochs=20, both_strands=True, seed=seed),
    "CNN 12 bins": lambda seed: CNNBaseline(epochs=20, bins=12, seed=seed),
}


def run_method(name, method, data, seed):
    """Accuracy over the test part(s) of ``seed``'s split(s), and the wall time."""
    started, hits, total = time.time(), 0, 0
    for train, test in splits(name, data.labels, seed):
        if method in BASELINES:
            seqs = [data.seqs[i] for i in train]
            if method == "LR one-hot" and len({len(s) for s in data.seqs}) > 1:
                return None, 0.0
            model = BASELINES[method](seed).fit(seqs, data.labels[train], data.classes)
            predicted = model.predict_proba([data.seqs[i] for i in test]).argmax(1)
        else:
            flags = [] if method == "genotx default" else ABLATIONS[method]
            with tempfile.TemporaryDirectory() as tmp:
                predicted = genotx_predictions(data, train, test, flags, seed, tmp)
        hits += int((predicted == data.labels[test]).sum())
        total += len(test)
    return hits / total, time.time() - started


def table(results: list[dict]) -> str:
    methods = list(dict.fromkeys(r["method"] for r in results))
    datasets = [d for d in DATASETS if any(r["dataset"] == d for r in results)]
    lines = ["| method | " + " | ".join(datasets) + " |", "|---|" + "---:|" * len(datasets)]
    for method in methods:
        cells = []
        for d in datasets:
            accs = [r["accuracy"] for r in results if r["dataset"] == d and r["method"] == method and r["accuracy"] is not None]
            if not accs:
                cells.append("–")
            elif len(accs) == 1:
                cells.append(f"{accs[0]:.3f} (1 seed)")
            else:
                cells.append(f"{np.mean(accs):.3f} ± {np.std(accs, ddof=1):.3f} ({len(accs)} seeds)")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    walls = [r["wall_s"] for r in results if r["method"] == "genotx default"]
    if walls:
        lines.append(f"\ngenotx default wall time per run (finetune + predict): median {np.median(walls):.0f} s, "
                     f"max {max(walls):.0f} s")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--methods", default=",".join(["genotx default", *BASELINES]),
                        help=f"comma-separated; ablations: {', '.join(ABLATIONS)}")
    parser.add_argument("--out", default="bench-regulatory.jsonl")
    parser.add_argument("--table", help="only print the table of a finished JSONL file")
    args = parser.parse_args()
    if args.table:
        print(table([json.loads(line) for line in open(args.table)]))
        return
    import torch

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    results = []
    for name in args.datasets.split(","):
        data = load(name)
        for seed in map(int, args.seeds.split(",")):
            for method in args.methods.split(","):
                accuracy, wall = run_method(name, method, data, seed)
                row = {"dataset": name, "seed": seed, "method": method, "accuracy": accuracy, "wall_s": round(wall, 1)}
                results.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
                with open(args.out, "a") as fh:
                    fh.write(json.dumps(row) + "\n")
    print(table(results))


if __name__ == "__main__":
    main()
