"""Zero-shot variant effects on real splice donors (a sanity check, not a test).

Pretrains a small single-nucleotide masked LM on the primate splice-junction
sequences (data/labelled/splice.tsv.gz, all 3,186 60-bp sequences joined into
one pseudo-chromosome), then scores with `genotx predict --task variant`:

- breaking: every substitution of the donor GT at positions 31-32 of the
  767 exon-intron (ei) sequences that have GT there;
- random: one random substitution per donor sequence at a position outside
  29-34.

A model that learned the donor consensus gives breaking substitutions much
lower log-likelihood ratios; the table reports the AUROC of -score for
breaking vs random (0.5 = no signal) beside a position-frequency baseline
(log frequency of alt minus ref at that position among the training donors,
the strongest simple model of this signal).

    python bench/variant.py            # about 5 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import gzip
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != str(ROOT / "bench")]
sys.path.insert(0, str(ROOT))

from genotx.tasks.metrics import auroc  # noqa: E402


def genotx(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "genotx", "-q", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"genotx {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--seq-len", type=int, default=64)
    args = parser.parse_args()
    rows = [line.split("\t") for line in gzip.open(ROOT / "data" / "labelled" / "splice.tsv.gz", "rt").read().splitlines()[1:]]
    donors = [s for s, label in rows if label == "ei" and s[30:32] == "GT"]
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        genome = Path(tmp, "splice.fa")
        genome.write_text(">splice_junctions\n" + "".join(s for s, _ in rows) + "\n")
        run = Path(tmp, "mlm")
        genotx("pretrain", str(genome), "--objective", "mlm", "--tokenizer", "char", "--pe", "rope",
               "--d-model", str(args.d_model), "--layers", str(args.layers), "--heads", "4",
               "--seq-len", str(args.seq_len), "--batch-size", "32",
               "--max-steps", str(args.steps), "--seed", str(args.seed), "-o", str(run))
        lines, kinds = ["sequence\tpos\talt"], []
        for seq in donors:
            for pos in (31, 32):
                for alt in "ACGT":
                    if alt != seq[pos - 1]:
                        lines.append(f"{seq}\t{pos}\t{alt}")
                        kinds.append(1)
            pos = int(rng.choice([p for p in range(1, 61) if not 29 <= p <= 34]))
            alt = str(rng.choice([b for b in "ACGT" if b != seq[pos - 1]]))
            lines.append(f"{seq}\t{pos}\t{alt}")
            kinds.append(0)
        table = Path(tmp, "variants.tsv")
        table.write_text("\n".join(lines) + "\n")
        out = genotx("predict", "--task", "variant", "--model", str(run), "--window", "60", str(table))
    scores = np.array([float(r.split("\t")[5]) for r in out.splitlines()[2:]])
    kinds = np.array(kinds)
    # Position-frequency baseline from the same donors (in-sample: an upper bound for it).
    counts = np.ones((60, 4))
    for seq in donors:
        for i, b in enumerate(seq):
            if b in "ACGT":
                counts[i, "ACGT".index(b)] += 1
    freq = np.log(counts / counts.sum(1, keepdims=True))
    base = [freq[int(p) - 1, "ACGT".index(a)] - freq[int(p) - 1, "ACGT".index(s[int(p) - 1])]
            for s, p, a in (line.split("\t") for line in lines[1:])]
    print(f"# {len(donors)} donors with GT at 31-32; {kinds.sum()} breaking, {(kinds == 0).sum()} random substitutions")
    print("model\tauroc_breaking_vs_random\tmean_score_breaking\tmean_score_random")
    print(f"genotx MLM (char, RoPE, d={args.d_model}, {args.layers} layers, {args.steps} steps)\t{auroc(kinds, -scores):.3f}\t"
          f"{scores[kinds == 1].mean():.3f}\t{scores[kinds == 0].mean():.3f}")
    base = np.array(base)
    print(f"position frequency matrix of the donors (in-sample)\t{auroc(kinds, -base):.3f}\t"
          f"{base[kinds == 1].mean():.3f}\t{base[kinds == 0].mean():.3f}")


if __name__ == "__main__":
    main()
