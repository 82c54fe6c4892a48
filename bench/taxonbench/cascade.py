"""Cascade rows: the network only on reads the k-mer memory leaves unsure, against memory alone and network everywhere.

A candidate model (the shipped one with network and memory weights refitted on
held-out strains) is copied once per setting, each with its own
``kmer_memory.weights`` / ``cascade`` in config.json: memory alone (network weight
0), the network on every read (cascade 1), and the cascade at each threshold.
Accuracy is on reads of the held-out strains at 1/3/5 % error beside Kraken2;
reads/s are whole processes (start-up included) on those reads. The share of
reads that run the network is counted in this process from the evidence alone
(the rule needs no network). Then wall time against Kraken2 on the 200 k speed
speed set (reads of the training genomes, 1 % error) and on 200 k reads of the
held-out strains (1 % error), side by side in one run: memory alone and the two
lowest thresholds.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np

from taxonbench.accuracy import _fmt, score
from taxonbench.speed import speed_reads, speed_table
from taxonbench.tools import genotx_predict, kraken, simulate

TARGET_CASCADE_WALL = 2.0  # issue 18: genotx wall time at most this many times Kraken2's with the network in the call


def settings(candidate: str, thresholds, work: Path) -> list[tuple[str, Path]]:
    """(name, model directory) of memory alone, network everywhere and each cascade threshold."""
    config = json.loads((Path(candidate) / "config.json").read_text())
    w_model, w_memory = config["metadata"]["kmer_memory"]["weights"]
    variants = [("memory", [0.0, w_memory], 1.0), ("network-all", [w_model, w_memory], 1.0)]
    variants += [(f"cascade>{t:g}", [w_model, w_memory], t) for t in thresholds]
    out = []
    for name, weights, cascade in variants:
        folder = work / name.replace(">", "-")
        shutil.copytree(candidate, folder, dirs_exist_ok=True)
        config["metadata"]["kmer_memory"].update(weights=weights, cascade=cascade)
        (folder / "config.json").write_text(json.dumps(config))
        out.append((name, folder))
    return out


def network_share(model_dir: Path, fastq: Path) -> float:
    """Share of the reads in ``fastq`` whose memory-alone posterior is not conclusive under the model's cascade."""
    from genotx.io import iter_records
    from genotx.models.checkpoint import read_metadata
    from genotx.taxon.classifier import _load_index
    from genotx.taxon.combine import Weights, memory_alone

    meta = read_metadata(str(model_dir))
    memory = meta["kmer_memory"]
    weights = Weights.from_metadata(memory, str(model_dir))
    if not weights.needs_network:
        return 0.0
    index = _load_index(str(model_dir), memory, len(meta["classes"]))
    evidence = index.evidence([r.seq for r in iter_records([str(fastq)])])
    return float(np.mean(np.exp(memory_alone(weights, evidence).max(axis=1)) <= weights.cascade))


def cascade_rows(heldout, db, taxids, work: Path, cache: Path, threads: int, candidate: str, thresholds,
                 n: int, speed_n: int, repeats: int, train) -> None:
    models = settings(candidate, thresholds, work)
    print(f"# cascade: {candidate}; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}, "
          f"{os.cpu_count()} cores, {threads} threads")
    if n:
        accuracy_rows(heldout, db, taxids, work, threads, models, n)
    if not speed_n:
        return
    label = f"{speed_n // 1000}k"
    held = work / "speed-heldout.fq"
    simulate(heldout, speed_n, "0.01", 500, held)
    inputs = [(f"{label} trained", speed_reads(train, speed_n, cache)), (f"{label} held-out", held)]
    commands = [("kraken2", lambda fq: ["kraken2", "--db", db, "--threads", threads, fq])]
    timed_models = [models[0]] + models[2:4]  # the network on most of 200 k reads takes minutes: the two lowest
    commands += [(name, _predict(threads, folder)) for name, folder in timed_models]
    medians = speed_table(commands, inputs, work, repeats)
    for (label, fastq), (name, folder) in ((i, m) for i in inputs for m in timed_models[1:]):
        ratio = medians[label, name][0] / medians[label, "kraken2"][0]
        print(f"# {name}: network on {network_share(folder, fastq):.1%} of the {label} reads; wall "
              f"{ratio:.2f}x kraken2 (target <= {TARGET_CASCADE_WALL}x: "
              f"{'met' if ratio <= TARGET_CASCADE_WALL else 'not met'})")


def _predict(threads, folder):
    return lambda fq: [sys.executable, "-m", "genotx", "-t", threads, "-q", "predict", "--task", "taxon",
                       "--model", folder, fq]


def accuracy_rows(heldout, db, taxids, work: Path, threads: int, models, n: int) -> None:
    """Accuracy, reads/s (whole process) and network share of each setting on held-out strains at 1/3/5 % error."""
    print("held-out strains\tn\tkraken2 acc\tkraken2 reads/s\t"
          + "\t".join(f"{name} acc\t{name} reads/s\t{name} network share" for name, _ in models))
    for i, rate in enumerate(["0.01", "0.03", "0.05"]):
        path = work / f"heldout{rate}.fq"
        ids, truth = simulate(heldout, n, rate, 400 + i, path)
        calls, wall, _ = kraken(db, taxids, path, threads, work)
        cells = [f"{float(rate) * 100:.0f}% error", str(n), _fmt(score(calls, ids, truth, None)["accuracy"]),
                 f"{n / wall:.0f}"]
        for _, folder in models:
            calls, wall, _ = genotx_predict(path, threads, work, "--model", str(folder))
            cells += [_fmt(score(calls, ids, truth, None)["accuracy"]), f"{n / wall:.0f}",
                      f"{network_share(folder, path):.3f}"]
        print("\t".join(cells), flush=True)
