"""Zero-shot variant effects on real splice donors, on held-out donors (a sanity check, not a test).

Data: the 3,186 primate splice-junction sequences of data/labelled/splice.tsv.gz
(60 bp; exon-intron "ei" donors have the intron's GT at positions 31-32).
Exact duplicates are dropped, then a stratified split by class puts
``--test-fraction`` of the sequences aside. A test donor is scored only if its
central 20 bp (positions 21-40) occur nowhere in the training sequences, on
either strand, so no scored donor was seen in pretraining.

Model: a small single-nucleotide masked LM (char tokens, learned absolute
positions) pretrained with `genotx pretrain` on training sequences only, each
sequence its own FASTA record so that every training window starts at the
sequence's first base (``--seq-len`` 54 with ``--eval-fraction`` 0.1 leaves one
window per 60-bp record; a few sequences joined into one longer record give the
held-out loss). Two corpora: the training donors ("sequences around donors",
the default) and all training sequences. The held-out donors are scored by
`genotx predict --task variant` in the same frame (their first 54 bp).

Why this set-up: `genotx pretrain --objective mlm` trains on both strands. In
windows cut at random places of a pseudo-chromosome, a model of this size
learns only base composition in a few minutes (AUROC 0.34-0.37 in earlier runs
of this script); with RoPE (relative positions only) it cannot tell where in
the frame a base sits either, and a reverse-strand window puts the donor's
complement next to it. Absolute positions in a fixed frame let it learn the
donor consensus within minutes, the way a position weight matrix does.

Variants per held-out donor with GT at 31-32:

- breaking: all six substitutions of the G and the T;
- random: ``--random`` substitutions at random positions outside 29-34.

Score convention (checked here): score = log p(alt) - log p(ref) at the masked
site, so a substitution the model dislikes scores below zero; the table
reports the AUROC of -score for breaking vs random (0.5 = no signal, 1 =
every breaking substitution below every random one), beside two baselines fitted
on the same training split:

- donor PWM: log-odds log f(alt) - log f(ref) at that position, f the base
  frequencies of the training donors (pseudocount 1): the textbook model of a
  splice donor, position-aware by construction;
- base composition: log f(alt) - log f(ref) with f the base frequencies of all
  training sequences: what an MLM that learned nothing but composition scores.

    python bench/variant.py            # about 3 minutes on 2 cores (the two pretraining runs in parallel)
"""

from __future__ import annotations

import argparse
import gzip
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != str(ROOT / "bench")]
sys.path.insert(0, str(ROOT))

from genotx.io.reader import revcomp  # noqa: E402
from genotx.tasks.metrics import auroc  # noqa: E402
from genotx.tasks.regulatory import stratified_split  # noqa: E402

BASES = "ACGT"


def genotx(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "genotx", "-q", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"genotx {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


def load_split(test_fraction: float, seed: int):
    """(train sequences, held-out donors): duplicates dropped, donors unseen in training."""
    rows = [line.split("\t") for line in gzip.open(ROOT / "data" / "labelled" / "splice.tsv.gz", "rt").read().splitlines()[1:]]
    first = {}
    for seq, label in rows:
        first.setdefault(seq, label)
    seqs, labels = list(first), np.array(list(first.values()))
    train_idx, test_idx = stratified_split(labels, test_fraction, seed)
    train = [seqs[i] for i in train_idx]
    seen = "|".join(train) + "|" + "|".join(revcomp(s) for s in train)
    candidates = [seqs[i] for i in test_idx if labels[i] == "ei" and seqs[i][30:32] == "GT"]
    donors = [s for s in candidates if s[20:40] not in seen]
    train_donors = [seqs[i] for i in train_idx if labels[i] == "ei" and seqs[i][30:32] == "GT"]
    return train, train_donors, donors, len(candidates) - len(donors)


FRAME = 54  # bases of each sequence the model trains on and scores in (see the docstring)
TAIL = 10  # sequences joined into the one record long enough for held-out windows


def substitutions(donors: list[str], n_random: int, rng: np.random.Generator):
    """(frame, 1-based pos, alt, is_breaking) for every donor, in its first FRAME bases."""
    rows = []
    outside = [p for p in range(1, FRAME + 1) if not 29 <= p <= 34]
    for seq in donors:
        frame = seq[:FRAME]
        for pos in (31, 32):
            rows += [(frame, pos, alt, 1) for alt in BASES if alt != frame[pos - 1]]
        for pos in rng.choice(outside, size=n_random, replace=False):
            ref = frame[pos - 1]
            if ref in BASES:
                rows.append((frame, int(pos), str(rng.choice([b for b in BASES if b != ref])), 0))
    return rows


def log_frequencies(seqs: list[str], by_position: bool) -> np.ndarray:
    """(60, 4) log base frequencies per position, or the overall ones repeated (pseudocount 1)."""
    counts = np.ones((60, 4))
    for seq in seqs:
        for i, b in enumerate(seq):
            if b in BASES:
                counts[i if by_position else 0, BASES.index(b)] += 1
    if not by_position:
        counts[:] = counts[0]
    return np.log(counts / counts.sum(1, keepdims=True))


def frequency_scores(profile: np.ndarray, rows) -> np.ndarray:
    """log f(alt) - log f(ref) at each substitution's position."""
    return np.array([profile[p - 1, BASES.index(a)] - profile[p - 1, BASES.index(s[p - 1])] for s, p, a, _ in rows])


def pretrain(corpus: list[str], folder: Path, args) -> subprocess.Popen:
    """Start `genotx pretrain` on one record per sequence (plus the joined tail record)."""
    fasta = folder / "corpus.fa"
    with open(fasta, "w") as fh:
        fh.write(">tail\n" + "".join(corpus[:TAIL]) + "\n")
        fh.writelines(f">s{i}\n{seq}\n" for i, seq in enumerate(corpus[TAIL:]))
    cmd = [sys.executable, "-m", "genotx", "-q", "pretrain", str(fasta), "--objective", "mlm", "--tokenizer", "char",
           "--pe", "learned", "--d-model", str(args.d_model), "--layers", str(args.layers), "--heads", "4",
           "--seq-len", str(FRAME), "--batch-size", str(args.batch_size), "--lr", str(args.lr),
           "--eval-fraction", "0.1", "--eval-windows", "32", "--eval-every", "0",
           "--max-steps", str(args.steps), "--seed", str(args.seed), "-o", str(folder / "mlm")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # two runs side by side on two cores
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)


def zero_shot_scores(model: Path, table: Path) -> np.ndarray:
    out = genotx("predict", "--task", "variant", "--model", str(model), "--window", str(FRAME), str(table))
    lines = [line for line in out.splitlines() if not line.startswith("#")]
    return np.array([float(line.split("\t")[5]) for line in lines[1:]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--random", type=int, default=3, help="random substitutions per held-out donor")
    args = parser.parse_args()
    train, train_donors, donors, leaked = load_split(args.test_fraction, args.seed)
    rows = substitutions(donors, args.random, np.random.default_rng(args.seed))
    kinds = np.array([r[3] for r in rows])
    corpora = [("training donors", train_donors), ("all training sequences", train)]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        table = Path(tmp, "variants.tsv")
        table.write_text("sequence\tpos\talt\n" + "".join(f"{s}\t{p}\t{a}\n" for s, p, a, _ in rows))
        started = time.perf_counter()
        runs = []
        for i, (name, corpus) in enumerate(corpora):
            Path(tmp, str(i)).mkdir()
            runs.append(pretrain(corpus, Path(tmp, str(i)), args))
        for (name, corpus), proc in zip(corpora, runs):
            if proc.wait() != 0:
                sys.exit(f"genotx pretrain failed: {proc.stderr.read()}")
        pretrain_s = time.perf_counter() - started
        for i, (name, corpus) in enumerate(corpora):
            label = (f"genotx MLM on {name} ({60 * len(corpus):,} bp; char, learned PE, d={args.d_model}, "
                     f"{args.layers} layers, {args.steps} steps)")
            results.append((label, zero_shot_scores(Path(tmp, str(i), "mlm"), table)))
    results += [
        (f"donor PWM log-odds ({len(train_donors)} training donors)", frequency_scores(log_frequencies(train_donors, True), rows)),
        ("base composition of the training sequences", frequency_scores(log_frequencies(train, False), rows)),
    ]
    print(f"# split: {len(train)} training sequences ({len(train_donors)} donors with GT at 31-32); scored: {len(donors)} "
          f"held-out donors ({leaked} more left out: their central 20 bp occur in training)")
    print(f"# {int(kinds.sum())} GT-breaking substitutions vs {int((kinds == 0).sum())} random substitutions "
          f"outside 29-34; both pretraining runs together took {pretrain_s:.0f} s")
    print("# score = log p(alt) - log p(ref) (below 0: the model prefers ref); AUROC of -score, breaking vs random")
    print("scorer\tauroc\tmean_score_breaking\tmean_score_random\tfraction_breaking_below_0")
    for name, s in results:
        print(f"{name}\t{auroc(kinds, -s):.3f}\t{s[kinds == 1].mean():.3f}\t{s[kinds == 0].mean():.3f}\t"
              f"{np.mean(s[kinds == 1] < 0):.3f}")


if __name__ == "__main__":
    main()
