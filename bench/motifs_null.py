"""Motifs with a null: does `genotx motifs` show what the model contributed?

Three models of the same recipe (`genotx finetune --task regulatory`, no tuning
flags) per seed: trained, trained on permuted labels, and untrained (the same
command with `--lr 1e-12 --steps 1`: the recipe's architecture at its initial
weights). For each, `genotx motifs --top-matches 50` on held-out sequences and:

* accuracy on a held-out split, beside logistic regression on 6-mers and the
  both-strand one-hot CNN (genotx.tasks.baselines) on the same split;
* planted sets only: the share of attention windows (31 bp around each head's
  peaks, as `genotx motifs` cuts them) that hold the whole planted site, mean
  over heads and best head, beside the share expected of random windows;
* the best rank of the planted (or ChIP-ed) factor's JASPAR matrix over the
  motifs' match lists, and the random-window null columns of that motif.

Sets:

* ``planted``: 500 bp of real sequence (fly upstream regions, the shared
  dm3_upstream2000 file, one window per record, records split between train
  and test) with one site sampled from JASPAR's REST matrix (MA0138, random
  strand and position) in each positive; negatives the same without a site.
  A 31 bp window holds a whole 20 bp site at only 12 of ~500 centres.
* ``peaks``: Oct4 vs MafK ChIP-seq peaks (data/labelled/{oct4,mafk}-train1000
  to train, -test to score accuracy); motifs on the train1000 peaks of each factor.

    python bench/motifs_null.py planted --seeds 0,1,2 --out docs/results/motifs/planted.jsonl
    python bench/motifs_null.py peaks --seeds 0 --out docs/results/motifs/peaks.jsonl
    python bench/motifs_null.py report docs/results/motifs/planted.jsonl docs/results/motifs/peaks.jsonl \\
        --plot docs/results/motifs/null.png

Each run appends one JSON line to --out; `report` prints the markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import re
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
LABELLED = REPO / "data" / "labelled"
# the shared data folder beside the checkout (or $GENOTX_SHARED_DATA): fly upstream regions, not shipped
SHARED = Path(os.environ.get("GENOTX_SHARED_DATA", REPO.parent / "shared" / "data"))
BACKGROUND = str(SHARED / "labelled" / "dm3_upstream2000-chr2L.fa.gz")
FLANK = 15  # windows of genotx motifs: 2 * 15 + 1 bp around each peak
# condition -> the flags added to `genotx finetune --task regulatory train.tsv -o m --seed S`
CONDITIONS = {"trained": [], "permuted labels": [], "untrained": ["--lr", "1e-12", "--steps", "1"],
              "trained patience 30": ["--patience", "30"]}

from genotx.io import iter_records  # noqa: E402
from genotx.motifs import jaspar  # noqa: E402
from genotx.tasks.baselines import CNNBaseline, LinearBaseline  # noqa: E402


sys.path.insert(0, str(REPO / "bench"))
from regulatory import genotx  # noqa: E402  (the CLI as a subprocess, as a user runs it)


def planted_set(seed: int, n_train: int = 500, n_test: int = 150, length: int = 500, factor: str = "REST"):
    """{"train": [(seq, label)], "test": [(seq, label, site start or -1)]}; half of each split planted."""
    rng = np.random.default_rng(seed)
    matrix = next(m for m in jaspar.load() if m.name == factor)
    pfm = matrix.counts / matrix.counts.sum(axis=1, keepdims=True)
    chunks = []
    for rec in iter_records([BACKGROUND]):
        if len(rec.seq) >= length:
            start = int(rng.integers(0, len(rec.seq) - length + 1))
            chunk = rec.seq[start: start + length]
            if "N" not in chunk:
                chunks.append(chunk)
    chunks = [chunks[i] for i in rng.permutation(len(chunks))[: 2 * (n_train + n_test)]]
    rows = []
    for k, chunk in enumerate(chunks):
        if k % 2:
            rows.append((chunk, "background", -1))
            continue
        site = "".join("ACGT"[rng.choice(4, p=col)] for col in pfm)
        site = site if rng.random() < 0.5 else site[::-1].translate(str.maketrans("ACGT", "TGCA"))
        pos = int(rng.integers(0, length - len(site) + 1))
        rows.append((chunk[:pos] + site + chunk[pos + len(site):], factor, pos))
    return {"train": [r[:2] for r in rows[: 2 * n_train]], "test": rows[2 * n_train:], "width": len(pfm)}


def peaks_set():
    def read(name, split):
        return [rec.seq for rec in iter_records([str(LABELLED / f"{name}-{split}.fa.gz")])]
    train = [(s, "oct4") for s in read("oct4", "train1000")] + [(s, "mafk") for s in read("mafk", "train1000")]
    test = [(s, "oct4", -1) for s in read("oct4", "test")] + [(s, "mafk", -1) for s in read("mafk", "test")]
    return {"train": train, "test": test, "motif_inputs": {"oct4": read("oct4", "train1000"),
                                                           "mafk": read("mafk", "train1000")}}


def write_tsv(path, rows) -> None:
    Path(path).write_text("sequence\tlabel\n" + "".join(f"{s}\t{label}\n" for s, label in rows))


def write_fasta(path, seqs) -> None:
    Path(path).write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(seqs)))


def accuracy(model_dir, test, tmp) -> float:
    write_fasta(f"{tmp}/test.fa", [s for s, _, _ in test])
    calls = [line.split("\t")[1] for line in genotx("predict", "--task", "regulatory", "--model", model_dir,
                                                    f"{tmp}/test.fa").splitlines()[2:]]
    return float(np.mean([c == label for c, (_, label, _) in zip(calls, test)]))


def baselines(data, seed) -> dict:
    seqs = [s for s, _ in data["train"]]
    classes = sorted({label for _, label in data["train"]})
    labels = np.array([classes.index(label) for _, label in data["train"]])
    truth = np.array([classes.index(label) for _, label, _ in data["test"]])
    test = [s for s, _, _ in data["test"]]
    out = {}
    for name, model in (("LR 6-mer", LinearBaseline(features="kmer", k=6, seed=seed)),
                        ("CNN both strands", CNNBaseline(epochs=20, both_strands=True, seed=seed))):
        out[name] = float((model.fit(seqs, labels, classes).predict_proba(test).argmax(1) == truth).mean())
    return out


def motif_rows(model_dir, seqs, tmp, tag) -> list:
    write_fasta(f"{tmp}/{tag}.fa", seqs)
    lines = genotx("motifs", "--model", model_dir, "--top-matches", "50", "--meme", f"{model_dir}-{tag}.meme",
                   "--force", f"{tmp}/{tag}.fa").splitlines()
    header = lines[1].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[2:]]


def best_rank(rows, name) -> dict:
    """The motif whose match list ranks JASPAR matrix ``name`` highest, with its null columns."""
    best = {"rank": None}
    rank_in = {}
    for r in rows:
        rank_in[r["motif_id"]] = rank_in.get(r["motif_id"], 0) + 1
        if r["jaspar_name"].lower() == name.lower() and (best["rank"] is None or rank_in[r["motif_id"]] < best["rank"]):
            best = {"rank": rank_in[r["motif_id"]], "motif": r["motif_id"], "consensus": r["consensus"],
                    "similarity": float(r["similarity"]), "q_value": float(r["q_value"]),
                    "site_rate": float(r["site_rate"]), "random_site_rate": float(r["random_site_rate"]),
                    "selection_p": float(r["selection_p"])}
    return best


def motif_summary(rows) -> dict:
    firsts = [r for i, r in enumerate(rows) if i == 0 or rows[i - 1]["motif_id"] != r["motif_id"]]
    p = [float(r["selection_p"]) for r in firsts if r["selection_p"] != "NA"]
    return {"n_motifs": len(firsts), "n_selected_p01": int(sum(x < 0.01 for x in p)),
            "top_matches": [(r["motif_id"], r["jaspar_name"], r["selection_p"]) for r in firsts]}


def planted_hits(model_dir, test, width) -> dict:
    """Share of each head's attention windows holding the whole planted site, beside random windows."""
    import torch

    from genotx.models import load_checkpoint
    from genotx.motifs.collect import attention_by_base
    from genotx.motifs.discover import find_peaks

    torch.set_num_threads(2)
    planted = [(s, pos) for s, _, pos in test if pos >= 0]
    model, tok, _ = load_checkpoint(model_dir)
    received: dict = {}
    for layers in attention_by_base(model, tok, [s for s, _ in planted], 16):
        for li, heads in enumerate(layers):
            for hi, row in enumerate(heads.mean(axis=1)):  # attention each base receives, as genotx motifs
                received.setdefault((li, hi), []).append(row)
    rates, chance = [], []
    for scores in received.values():
        peaks = find_peaks(scores, min_ratio=1.5, max_sites=500, min_gap=12)  # discover's defaults
        holds = [planted[i][1] >= c - FLANK and planted[i][1] + width - 1 <= c + FLANK for i, c, _ in peaks]
        rates.append(float(np.mean(holds)))
        # centres c in [0, L) whose window holds the site: c in [pos + width - 1 - FLANK, pos + FLANK]
        chance.append(float(np.mean([_centres(planted[i][1], width, len(planted[i][0])) for i, _, _ in peaks])))
    return {"hit_rate_mean": float(np.mean(rates)), "hit_rate_best": float(np.max(rates)),
            "random_hit_rate": float(np.mean(chance))}


def _centres(pos, width, length) -> float:
    lo, hi = max(0, pos + width - 1 - FLANK), min(length - 1, pos + FLANK)
    return max(0, hi - lo + 1) / length


def train(data, condition, seed, model_dir) -> None:
    """The recipe's model for one condition; a model already in ``model_dir`` is kept (--work reuses runs)."""
    if os.path.exists(f"{model_dir}/config.json"):
        return
    rows = data["train"]
    if condition == "permuted labels":
        labels = [label for _, label in rows]
        order = np.random.default_rng(seed + 1000).permutation(len(labels))
        rows = [(s, labels[j]) for (s, _), j in zip(rows, order)]
    with tempfile.TemporaryDirectory() as tmp:
        write_tsv(f"{tmp}/train.tsv", rows)
        flags = CONDITIONS[condition]
        genotx("finetune", "--task", "regulatory", f"{tmp}/train.tsv", "-o", model_dir, "--seed", seed, *flags)


def constructed(data, kind: str, seed: int) -> dict:
    """No model: windows centred on every planted site ("oracle windows") or at random positions."""
    from genotx.motifs.compare import TargetSet, match
    from genotx.motifs.discover import discover
    from genotx.motifs.null import selection_null
    from genotx.motifs.pfm import background, encode

    rng = np.random.default_rng(seed)
    planted = [(s, pos) for s, _, pos in data["test"] if pos >= 0]
    seqs = [s for s, _ in planted]
    scores = [rng.random(len(s)) for s in seqs]
    if kind == "oracle windows":
        for score, (_, pos) in zip(scores, planted):
            score[pos + data["width"] // 2] = 1e3  # one peak per sequence, in the middle of the site
    motif = discover(seqs, scores, background_freqs=background(seqs))
    null = selection_null(motif, [encode(s) for s in seqs], seed=seed)
    database = jaspar.load()
    hits = match(motif.pfm, TargetSet([m.counts for m in database]), seed=seed)[:50]
    rank = next((k + 1 for k, h in enumerate(hits) if database[h.target].name == "REST"), None)
    rest = {"rank": rank, "motif": "motif1", "consensus": motif.consensus, "site_rate": null.site_rate,
            "random_site_rate": null.random_site_rate, "selection_p": null.p_value,
            "similarity": next((h.similarity for h in hits if database[h.target].name == "REST"), float("nan"))}
    return {"experiment": "planted", "seed": seed, "condition": kind, "REST": rest, "n_motifs": 1,
            "n_selected_p01": int(null.p_value < 0.01), "top_matches": [["motif1", database[hits[0].target].name]]}


def run(experiment: str, seed: int, out: str, work: str, conditions: list) -> None:
    data = planted_set(seed) if experiment == "planted" else peaks_set()
    started = time.time()
    Path(work).mkdir(parents=True, exist_ok=True)
    cached = Path(f"{work}/{experiment}-seed{seed}-baselines.json")
    if cached.exists():
        base = json.loads(cached.read_text())
    else:
        base = baselines(data, seed) if set(conditions) & set(CONDITIONS) else {}
        if base:
            cached.write_text(json.dumps(base))
    base_wall = time.time() - started
    for condition in conditions:
        started = time.time()
        if condition in ("oracle windows", "random windows"):
            row = constructed(data, condition, seed)
            print(json.dumps(row), file=sys.stderr, flush=True)
            with open(out, "a") as fh:
                fh.write(json.dumps(row) + "\n")
            continue
        model = f"{work}/{experiment}-seed{seed}-{re.sub('[^a-z0-9]+', '-', condition)}"
        train(data, condition, seed, model)
        with tempfile.TemporaryDirectory() as tmp:
            row = {"experiment": experiment, "seed": seed, "condition": condition,
                   "accuracy": accuracy(model, data["test"], tmp), **{f"acc {k}": v for k, v in base.items()},
                   "baseline_wall_s": round(base_wall, 1)}
            if experiment == "planted":
                row.update(planted_hits(model, data["test"], data["width"]))
                rows = motif_rows(model, [s for s, _, pos in data["test"] if pos >= 0], tmp, "positives")
                row.update(motif_summary(rows), REST=best_rank(rows, "REST"))
            else:
                for factor, names in (("oct4", ("POU5F1", "Pou5f1::Sox2")), ("mafk", ("MAFK",))):
                    rows = motif_rows(model, data["motif_inputs"][factor], tmp, factor)
                    row[factor] = {"summary": motif_summary(rows), **{n: best_rank(rows, n) for n in names}}
        row["wall_s"] = round(time.time() - started, 1)
        print(json.dumps(row), file=sys.stderr, flush=True)
        with open(out, "a") as fh:
            fh.write(json.dumps(row) + "\n")


def _cell(values, digits=3) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ± {np.std(values, ddof=1):.{digits}f}"


def _factor(match: dict) -> str:
    if match.get("rank") is None:
        return "not in top 50"
    return (f"{match['rank']} ({match['motif']}, sim {match['similarity']:.3f}); site rate {match['site_rate']:.3f} "
            f"vs {match['random_site_rate']:.3f}, p {match['selection_p']:.2g}")


def report(rows: list, plot: str | None) -> str:
    lines = []
    planted = [r for r in rows if r["experiment"] == "planted"]
    if planted:
        lines += ["| model | seed | accuracy (LR 6-mer, CNN) | attention windows on the site: mean / best head "
                  "(random windows) | REST: best rank; its motif's site_rate vs random, selection_p | motifs with "
                  "selection_p < 0.01 |", "|---|---|---|---|---|---|"]
        for r in planted:
            model = "accuracy" in r
            accuracy = (f"{r['accuracy']:.3f} ({r['acc LR 6-mer']:.3f}, {r['acc CNN both strands']:.3f})"
                        if model else "no model")
            hits = (f"{r['hit_rate_mean']:.3f} / {r['hit_rate_best']:.3f} ({r['random_hit_rate']:.3f})"
                    if model else "–")
            lines.append(f"| {r['condition']} | {r['seed']} | {accuracy} | {hits} | {_factor(r['REST'])} | "
                         f"{r['n_selected_p01']} of {r['n_motifs']} |")
    peaks = [r for r in rows if r["experiment"] == "peaks"]
    if peaks:
        lines += ["", "| model | seed | accuracy (LR 6-mer, CNN) | Oct4 peaks: POU5F1 | Oct4 peaks: Pou5f1::Sox2 | "
                  "MafK peaks: MAFK | motifs with selection_p < 0.01 (Oct4, MafK) |", "|---|---|---|---|---|---|---|"]
        for r in peaks:
            lines.append(f"| {r['condition']} | {r['seed']} | {r['accuracy']:.3f} ({r['acc LR 6-mer']:.3f}, "
                         f"{r['acc CNN both strands']:.3f}) | {_factor(r['oct4']['POU5F1'])} | "
                         f"{_factor(r['oct4']['Pou5f1::Sox2'])} | {_factor(r['mafk']['MAFK'])} | "
                         f"{r['oct4']['summary']['n_selected_p01']} of {r['oct4']['summary']['n_motifs']}, "
                         f"{r['mafk']['summary']['n_selected_p01']} of {r['mafk']['summary']['n_motifs']} |")
    if plot:
        _plot(planted, peaks, plot)
    return "\n".join(lines)


def _plot(planted, peaks, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("planted REST, 500 bp: motif most like REST", [(r, r["REST"]) for r in planted]),
              ("Oct4 peaks: motif most like POU5F1", [(r, r["oct4"]["POU5F1"]) for r in peaks]),
              ("MafK peaks: motif most like MAFK", [(r, r["mafk"]["MAFK"]) for r in peaks])]
    panels = [p for p in panels if p[1]]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.8), squeeze=False)
    for ax, (title, pairs) in zip(axes[0], panels):
        conditions = list(dict.fromkeys(r["condition"] for r, _ in pairs))
        y = np.arange(len(conditions))[::-1]
        for yi, condition in zip(y, conditions):
            got = [m for r, m in pairs if r["condition"] == condition and m.get("site_rate") is not None]
            model = np.mean([m["site_rate"] for m in got])
            chance = np.mean([m["random_site_rate"] for m in got])
            ax.barh(yi + 0.2, model, 0.4, color="tab:blue", label="model's windows" if yi == y[0] else None)
            ax.barh(yi - 0.2, chance, 0.4, color="tab:orange", label="random windows" if yi == y[0] else None)
            ranks = ",".join(str(m["rank"]) if m.get("rank") else "-" for m in got)
            ax.text(1.15, yi, f"p {max(m['selection_p'] for m in got):.2g}\nrank {ranks}", va="center", fontsize=7)
        ax.set_xscale("log")
        ax.set_xlim(3e-3, 1.1)
        seeds = {c: sum(r["condition"] == c for r, _ in pairs) for c in conditions}
        ax.set_yticks(y, [f"{c} ({seeds[c]} seed{'s' * (seeds[c] > 1)})" for c in conditions], fontsize=8)
        ax.set_xlabel("share of windows holding a site (log)")
        ax.set_title(title, fontsize=9)
    axes[0][0].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def resolution(meme: str, motif: str, factor: str, n: int = 10) -> str:
    """Top matches of one motif: ranked by p at --shuffles 200 alone (before) and by similarity with the
    extra shuffles (now), with the p- and q-values of each."""
    from genotx.motifs.compare import TargetSet, match
    from genotx.motifs.meme import read_meme

    pfm = next(m.pfm for m in read_meme(open(meme)) if m.name == motif)
    database = jaspar.load()
    targets = TargetSet([m.counts for m in database])
    plain = match(pfm, targets, n_shuffles=200, max_shuffles=200, seed=0)
    before = sorted(plain, key=lambda h: (h.p_value, -round(h.similarity, 4)))
    now = match(pfm, targets, n_shuffles=200, seed=0)
    lines = ["| rank | by p, 200 shuffles: matrix | similarity | p | q | by similarity, more shuffles: matrix | "
             "similarity | p | q |", "|---:|---|---:|---:|---:|---|---:|---:|---:|"]
    for k, (a, b) in enumerate(zip(before[:n], now[:n])):
        lines.append(f"| {k + 1} | {database[a.target].name} | {a.similarity:.4f} | {a.p_value:.2g} | "
                     f"{a.q_value:.2g} | {database[b.target].name} | {b.similarity:.4f} | {b.p_value:.2g} | "
                     f"{b.q_value:.2g} |")
    ranks = [next(k + 1 for k, h in enumerate(hits) if database[h.target].name == factor) for hits in (before, now)]
    return "\n".join(lines) + f"\n\n{factor}: rank {ranks[0]} by p at 200 shuffles, rank {ranks[1]} by similarity"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("experiment", choices=("planted", "peaks", "report", "resolution"))
    parser.add_argument("files", nargs="*", help="report: the JSONL files; resolution: MEME MOTIF_ID FACTOR")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--out", default="bench-motifs-null.jsonl")
    parser.add_argument("--plot", help="report: write the figure here")
    parser.add_argument("--conditions", default="trained,permuted labels,untrained",
                        help=f"comma-separated, of: {', '.join(CONDITIONS)}, oracle windows, random windows "
                        "(planted; no model)")
    parser.add_argument("--work", default="bench-motifs-null-models", help="models are kept (and reused) here")
    args = parser.parse_args()
    if args.experiment == "resolution":
        print(resolution(*args.files))
        return
    if args.experiment == "report":
        print(report([json.loads(line) for f in args.files for line in open(f)], args.plot))
        return
    for seed in map(int, args.seeds.split(",")):
        run(args.experiment, seed, args.out, args.work, args.conditions.split(","))


if __name__ == "__main__":
    main()
