"""Taxon classification side by side: Kraken2, the k-mer baseline and `genotx predict`.

One run builds a Kraken2 database from the shipped training genomes (minimal
taxonomy written here: one node per species under the root), trains the
k-mer logistic-regression baseline on reads simulated from the same genomes,
and classifies the same read sets with every tool (`genotx` is the default model
as `predict` runs it; when that model has a k-mer memory, `genotx-net` is its
network alone, `predict --no-memory`):

- reads simulated from the training genomes at 0, 1, 3 and 5 % error;
- reads simulated (0-3 % error) from the held-out strains (H. pylori SJM180,
  S. aureus RF122, V. cholerae O395), whose species were trained on other strains;
- the real Illumina reads in --real-reads (72 bp). Truth is the species whose
  training genomes share the most 25-mers (either strand) with the read; reads
  sharing none are "outside" (organisms not in the database: mostly honey bee
  and human nuclear RNA); reads whose best species shares fewer than 4
  25-mers or less than twice the next one's, or whose species has fewer than
  50 such reads in the set, are "unclear" and left out. This truth
  favours exact-match tools such as Kraken2, which should be kept in mind.

Species-level accuracy counts an unclassified read as wrong; macro-F1 is over
the true species of the set. For "outside" reads the table gives the fraction
classified (false positives, lower is better). Speed rows time whole processes
(start-up included) of Kraken2 and `genotx predict --task taxon` on --threads
threads, side by side, median of --repeats runs: on empty input (start-up) and
on 200 k and 2 M simulated 150 bp reads (gzip FASTQ, cached); wall and CPU
(user + system) seconds, peak RSS, ratios to Kraken2, and the load average of
the machine beside them (it is shared; ratios from one run are what to compare).
The baseline calls a read unclassified below --min-prob, like `predict`.

    python bench/taxon.py            # a few minutes
    python bench/taxon.py --full     # more reads per set
    python bench/taxon.py --speed    # the speed rows alone
    python bench/taxon.py --stages   # where the time of predict goes, step by step
    python bench/taxon.py --cascade MODEL   # memory alone, network everywhere, cascade thresholds
"""


from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
# bench/ holds scripts named like standard modules (io.py, tokenize.py); keep them off the import path
# and load the parts of this benchmark (bench/taxonbench/) as a package by its location.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
_spec = importlib.util.spec_from_file_location("taxonbench", os.path.join(HERE, "taxonbench", "__init__.py"))
sys.modules["taxonbench"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sys.modules["taxonbench"])

import numpy as np  # noqa: E402

from genotx.io import iter_records  # noqa: E402
from genotx.tasks.baselines import LinearBaseline  # noqa: E402
from genotx.taxon.genomes import load_genomes, shipped_genomes, shipped_taxa  # noqa: E402
from genotx.taxon.simulate import ErrorModel, ReadSimulator  # noqa: E402
from taxonbench.cascade import cascade_rows  # noqa: E402
from taxonbench.accuracy import REAL_READS, heldout_rows, kmer_tables, real_truth, report  # noqa: E402
from taxonbench.regulatory import regulatory_baselines  # noqa: E402
from taxonbench.speed import SPEED_READS, speed, speed_reads  # noqa: E402
from taxonbench.stages import stages  # noqa: E402
from taxonbench.tools import (baseline, baseline_child, build_kraken_db, genotx_predict,  # noqa: E402
                              genotx_predict_problem, kraken, simulate, uses_memory)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="larger read sets (slower)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--min-prob", type=float, default=0.5)
    ap.add_argument("--real-reads", nargs="*", default=REAL_READS)
    ap.add_argument("--cache", default=os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "genotx-bench"))
    ap.add_argument("--speed", action="store_true", help="only the speed rows (Kraken2 vs genotx, wall/CPU/RSS)")
    ap.add_argument("--speed-reads", type=int, nargs="*", default=list(SPEED_READS), help="sizes of the speed sets")
    ap.add_argument("--heldout", metavar="MODEL", help="only the held-out strain rows, for the shipped model and MODEL")
    ap.add_argument("--cascade", metavar="MODEL",
                    help="only the cascade rows of MODEL (a taxon model whose network weight is not 0)")
    ap.add_argument("--thresholds", type=float, nargs="*", default=[0.5, 0.9, 0.99],
                    help="--cascade: the kmer_memory.cascade values to compare")
    ap.add_argument("--cascade-reads", type=int, default=5000, help="--cascade: held-out reads per error rate (0: only the speed rows)")
    ap.add_argument("--repeats", type=int, default=3, help="runs per speed row (the median is shown)")
    ap.add_argument("--stages", nargs="?", const="", metavar="FASTQ",
                    help="only the time of each step of predict in one thread (default input: the 200 k speed set)")
    ap.add_argument("--baseline-child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.baseline_child:
        model, fastq, min_prob = args.baseline_child
        return baseline_child(model, fastq, float(min_prob))

    n_eval, n_train = (10000, 10000) if args.full else (2000, 2000)
    taxa = str(shipped_taxa())
    train = load_genomes(shipped_genomes("train"), taxa=taxa)
    heldout = load_genomes(shipped_genomes("heldout"), taxa=taxa)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    if args.stages is not None:
        return stages(args.stages or str(speed_reads(train, SPEED_READS[0], cache)))
    work = Path(tempfile.mkdtemp(prefix="genotx-bench-taxon-"))
    t0 = time.perf_counter()
    db, taxids = build_kraken_db(train, args.threads, cache)
    print(f"kraken2 database: {db} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    if args.heldout:
        return heldout_rows(train, heldout, db, taxids, work, cache, args.threads, args.heldout, 2000)
    if args.cascade:
        return cascade_rows(heldout, db, taxids, work, cache, args.threads, args.cascade, args.thresholds,
                            args.cascade_reads, (args.speed_reads or [0])[0], args.repeats, train)
    if args.speed:
        return speed(train, db, args.threads, work, cache, args.speed_reads, args.repeats)

    t0 = time.perf_counter()
    train_sim = ReadSimulator(train, length=150, errors=ErrorModel(), seed=12345)
    reads = list(train_sim.reads(n_train * len(train.taxa)))
    model = LinearBaseline(features="kmer", k=5).fit([r.seq for r in reads], np.array([r.taxon for r in reads]),
                                                     train.labels())
    model_path = work / "baseline.safetensors"
    model.save(str(model_path))
    print(f"k-mer baseline trained on {len(reads)} reads ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)

    sets = []
    for i, rate in enumerate(["0", "0.01", "0.03", "0.05"]):
        path = work / f"sim{rate}.fq"
        sets.append((f"simulated {float(rate) * 100:.0f}% error", path, *simulate(train, n_eval, rate, 100 + i, path)))
    path = work / "heldout.fq"
    sets.append(("held-out strains, 0-3% error", path, *simulate(heldout, n_eval, "0-0.03", 200, path)))
    tables = kmer_tables(train, cache) if args.real_reads else []
    for k, real in enumerate(args.real_reads):
        records = list(iter_records([real]))
        path = work / f"real{k}.fq"
        path.write_text("".join(f"@{r.id}\n{r.seq}\n+\n{r.qual}\n" for r in records))
        sets.append((f"real {Path(real).name.split('.')[0]}", path, [r.id for r in records],
                     real_truth(train.labels(), tables, [r.seq for r in records])))
    print(f"read sets ready ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)

    tools = [("kraken2", lambda fq: kraken(db, taxids, fq, args.threads, work)),
             ("kmer-LR", lambda fq: baseline(model_path, fq, args.threads, args.min_prob, work))]
    problem = genotx_predict_problem(work)
    note = f"genotx predict column skipped: {problem}" if problem else ""
    if not problem:
        tools.append(("genotx", lambda fq: genotx_predict(fq, args.threads, work)))
        if uses_memory():
            tools.append(("genotx-net", lambda fq: genotx_predict(fq, args.threads, work, "--no-memory")))
    report(sets, tools, note)
    speed(train, db, args.threads, work, cache, args.speed_reads, args.repeats)
    regulatory_baselines()
    shutil.rmtree(work, ignore_errors=True)





if __name__ == "__main__":
    main()
