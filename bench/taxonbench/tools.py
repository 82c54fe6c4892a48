"""Kraken2, the k-mer logistic-regression baseline and `genotx predict`, each run as a whole process and timed."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from genotx.io import iter_records
from genotx.io.codes import decode
from genotx.tasks.baselines import LinearBaseline
from genotx.taxon import UNCLASSIFIED
from genotx.taxon.simulate import ErrorModel, ReadSimulator, parse_truth, to_fastq

SCRIPT = Path(__file__).resolve().parents[1] / "taxon.py"  # runs the baseline child


def simulate(genomes, n, rate, seed, path):
    sim = ReadSimulator(genomes, length=150, errors=ErrorModel.parse(rate), seed=seed)
    reads = list(sim.reads(n))
    Path(path).write_text(to_fastq(reads))
    return [r.id for r in reads], [parse_truth(r.id).taxon for r in reads]


# --- Kraken2 ---------------------------------------------------------------------------

def genome_digest(genomes) -> str:
    """Names the cached files built from a genome set."""
    labelled = zip(genomes.genomes, genomes.taxon_of)
    return hashlib.sha1("".join(f"{g.path}:{g.bp}:{t}" for g, t in labelled).encode()).hexdigest()[:12]


def build_kraken_db(genomes, threads, cache: Path) -> tuple[Path, dict[int, str]]:
    """Database with taxid 100 + i for species i (our own ids; one genome lacks an NCBI taxid)."""
    taxids = {100 + i: t.label for i, t in enumerate(genomes.taxa)}
    digest = genome_digest(genomes)
    db = cache / f"kraken2-{digest}"
    if (db / "hash.k2d").exists():
        return db, taxids
    tmp = Path(tempfile.mkdtemp(dir=cache, prefix="build-"))
    (tmp / "taxonomy").mkdir()
    with open(tmp / "taxonomy" / "names.dmp", "w") as names, open(tmp / "taxonomy" / "nodes.dmp", "w") as nodes:
        names.write("1\t|\troot\t|\t\t|\tscientific name\t|\n")
        nodes.write("1\t|\t1\t|\tno rank\t|\n")
        for taxid, label in taxids.items():
            names.write(f"{taxid}\t|\t{label.replace('_', ' ')}\t|\t\t|\tscientific name\t|\n")
            nodes.write(f"{taxid}\t|\t1\t|\tspecies\t|\n")
    library = tmp / "genomes.fa"
    with open(library, "w") as out:
        for g, t in zip(genomes.genomes, genomes.taxon_of):
            for rid, codes in zip(g.ids, g.records):
                out.write(f">{rid.replace('|', '_')}|kraken:taxid|{100 + t}\n{decode(codes)}\n")
    run = dict(check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    subprocess.run(["kraken2-build", "--add-to-library", str(library), "--db", str(tmp), "--no-masking"], **run)
    subprocess.run(["kraken2-build", "--build", "--db", str(tmp), "--threads", str(threads)], **run)
    library.unlink()
    shutil.rmtree(db, ignore_errors=True)
    os.replace(tmp, db)
    return db, taxids


def timed(cmd, stdout_path) -> tuple[float, float]:
    """Run ``cmd`` with stdout to a file; return (wall seconds, peak RSS in MB)."""
    wall, _, rss = timed_cpu(cmd, stdout_path)
    return wall, rss


def timed_cpu(cmd, stdout_path) -> tuple[float, float, float]:
    """Run ``cmd`` with stdout to a file; return (wall seconds, CPU seconds (user + system), peak RSS in MB).

    GNU time measures CPU and peak RSS: a child forked straight from this (large)
    process would report this process's memory as its own high-water mark.
    """
    stats_path = f"{stdout_path}.stats"
    start = time.perf_counter()
    with open(stdout_path, "w") as out:
        done = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", stats_path, *map(str, cmd)], stdout=out,
                              stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(map(str, cmd))}\n{done.stderr.decode()[-2000:]}")
    user, system, rss = Path(stats_path).read_text().split()[-3:]
    return wall, float(user) + float(system), int(rss) / 1024


def kraken(db, taxids, fastq, threads, work):
    out = work / "kraken.out"
    wall, rss = timed(["kraken2", "--db", str(db), "--threads", str(threads), str(fastq)], out)
    calls = {}
    for line in open(out):
        status, rid, taxid = line.split("\t")[:3]
        calls[rid] = taxids.get(int(taxid), UNCLASSIFIED) if status == "C" else UNCLASSIFIED
    return calls, wall, rss



# --- k-mer baseline, run in a child process so that speed and memory are its own --------

def baseline_child(model_path, fastq, min_prob):
    model = LinearBaseline.load(model_path)
    out = sys.stdout
    ids, seqs = [], []
    for rec in iter_records([fastq]):
        ids.append(rec.id)
        seqs.append(rec.seq)
        if len(ids) == 8192:
            _baseline_write(model, ids, seqs, min_prob, out)
            ids, seqs = [], []
    _baseline_write(model, ids, seqs, min_prob, out)


def _baseline_write(model, ids, seqs, min_prob, out):
    if not ids:
        return
    probs = model.predict_proba(seqs)
    best = probs.argmax(axis=1)
    for rid, b, p in zip(ids, best, probs[np.arange(len(best)), best]):
        out.write(f"{rid}\t{model.classes[b] if p >= min_prob else UNCLASSIFIED}\n")


def baseline(model_path, fastq, threads, min_prob, work):
    out = work / "baseline.out"
    env_cmd = [sys.executable, str(SCRIPT), "--baseline-child", str(model_path), str(fastq), str(min_prob)]
    os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
    wall, rss = timed(env_cmd, out)
    return dict(line.rstrip("\n").split("\t") for line in open(out)), wall, rss


def genotx_predict_problem(work) -> str:
    """Why `genotx predict --task taxon` cannot run here ('' when it can)."""
    from genotx.cli import COMMANDS

    if not any(name == "predict" for name, _ in COMMANDS):
        return "genotx predict does not exist yet in this build"
    probe = work / "probe.fq"
    probe.write_text("@probe\n" + "ACGT" * 38 + "\n+\n" + "I" * 152 + "\n")
    cmd = [sys.executable, "-m", "genotx", "-q", "predict", "--task", "taxon", str(probe)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    return "" if done.returncode == 0 else (done.stderr.strip().splitlines() or ["failed"])[-1]


def uses_memory() -> bool:
    """Whether the default taxon model has a k-mer memory (then its network alone is a column too)."""
    import json

    from genotx.shipped import default_model

    return bool(json.load(open(Path(default_model("taxon")) / "config.json"))["metadata"].get("kmer_memory"))


def genotx_predict(fastq, threads, work, *options):
    out = work / "predict.out"
    cmd = [sys.executable, "-m", "genotx", "-t", str(threads), "-q", "predict", "--task", "taxon", *options,
           str(fastq)]
    wall, rss = timed(cmd, out)
    calls = {}
    for line in open(out):
        if line.startswith("#") or line.startswith("read_id\t"):
            continue
        fields = line.rstrip("\n").split("\t")
        calls[fields[0]] = fields[1]
    return calls, wall, rss

