"""Length extrapolation that can fail: next-base loss of the same held-out bases with L, 2L and 4L bases of window.

Models are pretrained (`genotx pretrain --objective ar --tokenizer char`) on
windows of L bases, one per positional encoding and seed, on two corpora:

* ``synthetic``: random bases in which blocks of 16-32 bp copy the bases
  ``d`` back, ``d`` log-uniform in [L/4, 4L] (genotx.grid.longrange). A model
  that can use context past L predicts copies from more than L back better
  when it is given a longer window; one that breaks past L gets worse on
  every base.
* ``genome``: a real genome (held-out tail: the last ``--eval-fraction``,
  scored on both strands).

The scored bases are fixed: every block of L held-out bases that has 4L bases
of sequence up to its end, scored as the last L bases of a window of L, 2L or
4L bases (so only the context before a block changes). Next-token loss has no
masks, so nothing else is drawn per length. Learned positions have no table
past L + 1 tokens: 'cannot run'. Beside the models, the copy baseline (the base
that followed the latest earlier occurrence of the 8 bases before, within the
same window; two parameters fitted on training windows).

    python bench/extrapolation.py --out docs/results/extrapolation   # about 30 min on one core
    python bench/extrapolation.py --steps 20 --genome-steps 20 --seeds 0 --out /tmp/x --work /tmp/x  # a quick look

Writes results.jsonl, table.md and extrapolation.png into --out.
"""

from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Keep bench/ off the import path: a script there named like a standard module would shadow it.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.join(ROOT, "bench")]
sys.path.insert(0, ROOT)

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

GENOME = os.path.join(ROOT, "data", "genomes", "chlamydia_trachomatis-D_UW-3_CX.fa.gz")
FACTORS = (1, 2, 4)
PES = ("rope", "alibi", "sinusoidal", "learned")
K = 8  # k-mer of the copy baseline: chance matches within 4L = 512 bases are rare at 4^8


def pretrain(fasta: str, run_dir: str, pe: str, seed: int, steps: int, args) -> None:
    """Train one model with `genotx pretrain` unless its run directory already holds the final model."""
    if os.path.exists(os.path.join(run_dir, "model", "config.json")):
        return
    cmd = [sys.executable, "-m", "genotx", "pretrain", fasta, "-o", run_dir, "--objective", "ar", "--tokenizer", "char",
           "--pe", pe, "--seq-len", str(args.seq_len), "--d-model", str(args.d_model), "--layers", str(args.layers),
           "--heads", str(args.heads), "--batch-size", str(args.batch_size), "--max-steps", str(steps),
           "--lr", str(args.lr),
           "--warmup", "0.05", "--no-rc-aug", "--eval-fraction", str(args.eval_fraction), "--seed", str(seed),
           "-t", "1", "-q"]
    env = {**os.environ, "PYTHONPATH": ROOT}
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)


def held_out(fasta: str, eval_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(training part, held-out tail) of the longest sequence, split as `genotx pretrain` splits it."""
    from genotx.io.genome import load_genome

    genome = load_genome([fasta])
    rec = int(np.argmax(genome.lengths))
    start, length = int(genome.starts[rec]), int(genome.lengths[rec])
    cut = start + length - int(np.ceil(length * eval_fraction))
    return genome.codes[start:cut], genome.codes[cut : start + length]


def scoring_sets(strands: list[np.ndarray], seq_len: int) -> dict:
    """{factor: (windows, positions of the scored bases in the strands laid end to end)}: the same scored bases
    for every factor; no window crosses from one strand into the next."""
    from genotx.grid.extrapolate import context_windows, scored_block_starts

    codes = np.concatenate(strands)
    first = np.cumsum([0] + [len(s) for s in strands[:-1]])
    starts = np.concatenate([offset + scored_block_starts(len(s), seq_len=seq_len, longest=max(FACTORS) * seq_len)
                             for offset, s in zip(first, strands)])
    return {f: context_windows(codes, starts, seq_len=seq_len, window=f * seq_len) for f in FACTORS}


def summarise(nats: np.ndarray, classes: np.ndarray | None) -> dict:
    """Mean nats per scored base, overall and per copy class."""
    row = {"loss": float(nats.mean()), "bases": int(nats.size)}
    if classes is not None:
        for name in ("near", "far", "fresh"):
            pick = classes == name
            row[f"loss_{name}"], row[f"bases_{name}"] = float(nats[pick].mean()), int(pick.sum())
    return row


def evaluate_model(model_dir: str, sets: dict, seq_len: int, classes) -> dict:
    """{factor: summary or 'cannot run'} of one model."""
    from genotx.grid.extrapolate import CANNOT_RUN, next_base_nats
    from genotx.models import load_checkpoint

    model, tokenizer, _ = load_checkpoint(model_dir)
    model.eval()
    out = {}
    for factor, (windows, _) in sets.items():
        nats = next_base_nats(model, tokenizer, windows, batch_size=max(1, 64 // factor))
        out[factor] = CANNOT_RUN if isinstance(nats, str) else summarise(nats[:, -seq_len:], classes)
    return out


def evaluate_baseline(train: np.ndarray, sets: dict, seq_len: int, classes) -> dict:
    """{factor: summary} of the copy baseline, its parameters fitted on windows of the training part."""
    from genotx.grid.longrange import copy_baseline_fit, copy_baseline_nats

    out = {}
    for factor, (windows, _) in sets.items():
        width = factor * seq_len
        fit_rows = train[: (min(len(train), 400_000) // width) * width].reshape(-1, width)
        hit_rate, background = copy_baseline_fit(fit_rows, K)
        nats = copy_baseline_nats(windows, k=K, hit_rate=hit_rate, background=background)[:, -seq_len:]
        out[factor] = {**summarise(nats, classes), "hit_rate": round(hit_rate, 4)}
    return out


def fmt(value) -> str:
    return value if isinstance(value, str) else f"{value:.4f}"


def table(rows: list[dict], corpus: str, key: str, seq_len: int) -> list[str]:
    """Markdown rows: per model, the mean over seeds (and each seed) of ``key`` at L, 2L, 4L, and 4L vs L."""
    lines = [f"| model | " + " | ".join(f"{f}L = {f * seq_len} bp" for f in FACTORS) + " | 4L vs L |",
             "|---|" + "---:|" * (len(FACTORS) + 1)]
    for name in dict.fromkeys(r["model"] for r in rows if r["corpus"] == corpus):
        mine = [r for r in rows if r["corpus"] == corpus and r["model"] == name]
        cells, means = [], {}
        for f in FACTORS:
            values = [r["result"][str(f)] for r in mine]
            if any(isinstance(v, str) for v in values):
                cells.append(values[0] if isinstance(values[0], str) else "mixed")
                continue
            per_seed = [v[key] for v in values]
            means[f] = float(np.mean(per_seed))
            seeds = " / ".join(f"{x:.4f}" for x in per_seed)
            cells.append(f"{means[f]:.4f} ({seeds})" if len(per_seed) > 1 else f"{means[f]:.4f}")
        change = f"{100 * (means[4] / means[1] - 1):+.1f}%" if 1 in means and 4 in means else "-"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {change} |")
    return lines


def plot(rows: list[dict], path: str, seq_len: int) -> None:
    """Change of loss from the window of L bases, per model (seeds as dots): the copy baseline's change is
    far larger and stays in the table, so the models' differences remain visible."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("synthetic", "loss", "synthetic: all scored bases"),
              ("synthetic", "loss_far", f"synthetic: copied from {seq_len}-{4 * seq_len} bp back"),
              ("synthetic", "loss_fresh", "synthetic: not copied"),
              ("genome", "loss", "genome held-out tail, both strands")]
    fig, axes = plt.subplots(1, len(panels), figsize=(18, 4.2))
    for ax, (corpus, key, title) in zip(axes, panels):
        for name in dict.fromkeys(r["model"] for r in rows if r["corpus"] == corpus and r["model"] != "copy baseline"):
            mine = [r for r in rows if r["corpus"] == corpus and r["model"] == name]
            xs = [f * seq_len for f in FACTORS if all(not isinstance(r["result"][str(f)], str) for r in mine)]
            ys = [[r["result"][str(x // seq_len)][key] - r["result"]["1"][key] for r in mine] for x in xs]
            line, = ax.plot(xs, [np.mean(y) for y in ys], marker="o", label=name)
            for x, y in zip(xs, ys):
                ax.scatter([x] * len(y), y, color=line.get_color(), s=12, alpha=0.6)
        ax.axhline(0.0, color="grey", linewidth=0.8)
        ax.set_xscale("log", base=2)
        ax.set_xticks([f * seq_len for f in FACTORS], [f"{f}L" for f in FACTORS])
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(f"window (L = {seq_len} bp); same scored bases")
        ax.set_ylabel("nats per base, minus the loss at L")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench-extrapolation", help="folder of the outputs (created)")
    parser.add_argument("--work", default="/tmp/genotx-extrapolation", help="FASTA and run directories (reused)")
    parser.add_argument("--genome", default=GENOME)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--pes", nargs="+", default=list(PES))
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=850, help="optimiser steps on the synthetic corpus")
    parser.add_argument("--genome-steps", type=int, default=350, help="optimiser steps on the genome")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--copy-fraction", type=float, default=0.8)
    parser.add_argument("--synthetic-bases", type=int, default=2_000_000)
    parser.add_argument("--eval-fraction", type=float, default=0.05)
    parser.add_argument("--replot", action="store_true", help="only redraw the plot from --out/results.jsonl")
    args = parser.parse_args()
    if args.replot:
        with open(os.path.join(args.out, "results.jsonl")) as fh:
            plot([json.loads(line) for line in fh], os.path.join(args.out, "extrapolation.png"), args.seq_len)
        return
    from genotx.io.codes import revcomp_codes
    from genotx.grid.longrange import LOG4, distance_class, long_range_genome, oracle_loss, write_fasta

    os.makedirs(args.work, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    synthetic = long_range_genome(args.synthetic_bases, seq_len=args.seq_len, seed=1, copy_fraction=args.copy_fraction)
    fasta = os.path.join(args.work, "longrange.fa")
    if not os.path.exists(fasta):
        write_fasta(fasta, synthetic.codes, "longrange")
    rows, notes = [], []
    for corpus, path in (("synthetic", fasta), ("genome", args.genome)):
        train, tail = held_out(path, args.eval_fraction)
        # The genome's tail is scored on both strands (neither was trained on) to reach more than 64k bases.
        strands = [tail] if corpus == "synthetic" else [tail, revcomp_codes(tail[None, :])[0]]
        sets = scoring_sets(strands, args.seq_len)
        positions = sets[1][1]
        assert all(np.array_equal(pos, positions) for _, pos in sets.values())  # the same bases at every length
        classes = None
        if corpus == "synthetic":
            tail_distance = synthetic.distance[len(train):]
            classes = distance_class(tail_distance[positions], args.seq_len)
            notes.append(f"Synthetic scored bases: {positions.size}; {(classes == 'near').mean():.1%} copied from "
                         f"<= L back, {(classes == 'far').mean():.1%} from (L, 4L] back. Context-free loss "
                         f"log 4 = {LOG4:.4f}; a copier that knows every copy: "
                         f"{oracle_loss(tail_distance[positions]):.4f} nats per base.")
        else:
            notes.append(f"Genome scored bases: {positions.size} ({os.path.basename(path)}, held-out tail of "
                         f"{len(tail)} bp, both strands).")
        rows.append({"corpus": corpus, "model": "copy baseline", "seed": None,
                     "result": {str(f): v for f, v in evaluate_baseline(train, sets, args.seq_len, classes).items()}})
        for pe in args.pes:
            for seed in args.seeds:
                run_dir = os.path.join(args.work, f"{corpus}-{pe}-s{seed}")
                started = time.perf_counter()
                pretrain(path, run_dir, pe, seed, args.steps if corpus == "synthetic" else args.genome_steps, args)
                result = evaluate_model(os.path.join(run_dir, "model"), sets, args.seq_len, classes)
                rows.append({"corpus": corpus, "model": pe, "seed": seed,
                             "result": {str(f): v for f, v in result.items()},
                             "wall_s": round(time.perf_counter() - started, 1)})
                print(json.dumps(rows[-1]), file=sys.stderr)
    write_outputs(rows, args, notes)


def write_outputs(rows: list[dict], args, notes: list[str]) -> None:
    from genotx.io.atomic import atomic_write

    with atomic_write(os.path.join(args.out, "results.jsonl")) as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    lines = [f"Next-base loss (nats per scored base; mean over seeds, then each seed). L = {args.seq_len} bp.", ""]
    lines += notes + [""]
    for corpus, key, title in (("synthetic", "loss", "Synthetic long-range corpus, all scored bases"),
                               ("synthetic", "loss_near", f"Synthetic, bases copied from <= {args.seq_len} bp back"),
                               ("synthetic", "loss_far", f"Synthetic, bases copied from {args.seq_len}-"
                                                         f"{4 * args.seq_len} bp back"),
                               ("synthetic", "loss_fresh", "Synthetic, bases not copied (best possible: log 4)"),
                               ("genome", "loss", "Genome held-out tail")):
        lines += [f"### {title}", ""] + table(rows, corpus, key, args.seq_len) + [""]
    with atomic_write(os.path.join(args.out, "table.md")) as fh:
        fh.write("\n".join(lines))
    plot(rows, os.path.join(args.out, "extrapolation.png"), args.seq_len)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
