"""Accuracy rows: the truth of real reads, scores of each tool's calls, the held-out strain rows."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from genotx.io import iter_records
from genotx.io.codes import encode
from genotx.tasks.metrics import classification_metrics
from genotx.taxon import UNCLASSIFIED
from genotx.taxon.kmer_index import canonical_kmers

from taxonbench.tools import genome_digest, genotx_predict, kraken, simulate

REAL_READS = ["/work/shared/data/reads/SRR059298_subset-reads1-20000.fastq.gz",
              "/work/shared/data/reads/ERR127302_1_subset.fastq.gz"]
TRUTH_K = 25
MIN_REAL_CLASS = 50
# --- held-out strains: which parts should call -------------------------------------------------

def heldout_rows(train, heldout, db, taxids, work, cache, threads, candidate: str, n: int) -> None:
    """Accuracy on reads of the held-out strains at 1/3/5 % error, and unknown-organism reads classified.

    Columns: Kraken2; the shipped model (today's weights); ``candidate`` (a model directory, e.g. the
    shipped model refitted by `finetune --from models/taxon-default --steps 0`) with its own weights,
    with its network alone (--no-memory), and with its memory alone (network weight 0, its memory weight).
    """
    import json

    config = json.loads((Path(candidate) / "config.json").read_text())
    w_model, w_memory = config["metadata"]["kmer_memory"]["weights"]
    memory_alone = work / "memory-alone"
    shutil.copytree(candidate, memory_alone, dirs_exist_ok=True)
    config["metadata"]["kmer_memory"]["weights"] = [0.0, w_memory]
    (memory_alone / "config.json").write_text(json.dumps(config))
    tools = [("kraken2", lambda fq: kraken(db, taxids, fq, threads, work)),
             ("shipped", lambda fq: genotx_predict(fq, threads, work)),
             (f"candidate({w_model:.3g},{w_memory:.3g})", lambda fq: genotx_predict(fq, threads, work, "--model", candidate)),
             ("candidate-net", lambda fq: genotx_predict(fq, threads, work, "--model", candidate, "--no-memory")),
             ("candidate-memory", lambda fq: genotx_predict(fq, threads, work, "--model", memory_alone))]
    print("held-out strains\tn\t" + "\t".join(f"{name} acc\t{name} s" for name, _ in tools))
    for i, rate in enumerate(["0.01", "0.03", "0.05"]):
        path = work / f"heldout{rate}.fq"
        ids, truth = simulate(heldout, n, rate, 400 + i, path)
        cells = [f"{float(rate) * 100:.0f}% error", str(n)]
        for _, run in tools:
            calls, wall, _ = run(path)
            cells += [_fmt(score(calls, ids, truth, None)["accuracy"]), f"{wall:.1f}"]
        print("\t".join(cells), flush=True)
    records = list(iter_records([REAL_READS[0]]))
    truth = real_truth(train.labels(), kmer_tables(train, cache), [r.seq for r in records])
    outside = [r for r, t in zip(records, truth) if t == "outside"]
    path = work / "outside.fq"
    path.write_text("".join(f"@{r.id}\n{r.seq}\n+\n{r.qual}\n" for r in outside))
    shares = [np.mean([c != UNCLASSIFIED for c in run(path)[0].values()]) for _, run in tools]
    print(f"# {len(outside)} SRR059298 reads sharing no 25-mer with the training genomes, classified anyway: "
          + ", ".join(f"{name} {100 * x:.1f}%" for (name, _), x in zip(tools, shares)))


# --- truth of the real reads -------------------------------------------------------------

def _canonical_kmers(codes: np.ndarray, k: int) -> np.ndarray:
    """The canonical k-mers of ``codes`` without N, as 2-bit codes."""
    kmers, valid = canonical_kmers(codes, k)
    return kmers[valid]


def kmer_tables(genomes, cache: Path) -> list[np.ndarray]:
    """Sorted canonical 25-mers of each taxon's genomes (cached on disk as .npy)."""
    digest = genome_digest(genomes)
    tables = []
    for t, taxon in enumerate(genomes.taxa):
        path = cache / f"kmers{TRUTH_K}-{digest}-{t}.npy"
        if not path.exists():
            parts = [_canonical_kmers(c, TRUTH_K) for g in genomes.of_taxon(t) for c in g.records]
            np.save(f"{path}.tmp.npy", np.unique(np.concatenate(parts)))
            os.replace(f"{path}.tmp.npy", path)
        tables.append(np.load(path))
    return tables


def real_truth(labels, tables, reads) -> list[str]:
    """The species sharing the most 25-mers with each read, if clearly ahead.

    Clearly ahead: at least 4 shared 25-mers and at least twice as many as the
    next species. 'outside': no 25-mer shared with any training genome;
    'unclear' (left out of accuracy): the rest, i.e. near-ties such as
    DWV/VDV-1 recombinants, and chance hits of a few 25-mers.
    """
    read_kmers = [_canonical_kmers(encode(seq), TRUTH_K) for seq in reads]
    sizes = np.array([len(k) for k in read_kmers])
    owner = np.repeat(np.arange(len(reads)), sizes)
    kmers = np.concatenate(read_kmers)
    hits = np.zeros((len(reads), len(tables)), dtype=np.int64)
    for t, table in enumerate(tables):
        idx = np.searchsorted(table, kmers).clip(max=len(table) - 1)
        hits[:, t] = np.bincount(owner[table[idx] == kmers], minlength=len(reads))
    truth = []
    ranked = np.sort(hits, axis=1)
    for row, top, second in zip(hits, ranked[:, -1], ranked[:, -2]):
        if top == 0:
            truth.append("outside")
        elif top < 4 or top < 2 * second:
            truth.append("unclear")
        else:
            truth.append(labels[int(row.argmax())])
    # A species with a handful of such reads (conserved genes) would make macro-F1 noise.
    counts = {t: truth.count(t) for t in set(truth)}
    return [t if t in ("outside", "unclear") or counts[t] >= MIN_REAL_CLASS else "unclear" for t in truth]


def score(calls, ids, truth, classes):
    pred = [calls.get(i, UNCLASSIFIED) for i in ids]
    judged = [(t, p) for t, p in zip(truth, pred) if t not in ("outside", "unclear")]
    out = {}
    if judged:
        t, p = zip(*judged)
        out = classification_metrics(list(t), list(p), classes=sorted(set(t)))
    outside = [p for t, p in zip(truth, pred) if t == "outside"]
    out["outside_classified"] = float(np.mean([p != UNCLASSIFIED for p in outside])) if outside else None
    out["classified"] = float(np.mean([p != UNCLASSIFIED for p in pred]))
    return out


def _fmt(x, pct=False):
    return "NA" if x is None else f"{100 * x:.1f}%" if pct else f"{x:.3f}"


def report(sets, tools, note):
    names = [name for name, _ in tools]
    head = ["read set", "n", "judged"] + [f"{n} {m}" for n in names for m in ("acc", "F1")]
    print("\t".join(head))
    outside_rows = []
    for label, path, ids, truth in sets:
        results = [score(run(path)[0], ids, truth, None) for _, run in tools]
        judged = sum(t not in ("outside", "unclear") for t in truth)
        cells = [label, str(len(ids)), str(judged)]
        for r in results:
            cells += [_fmt(r.get("accuracy")), _fmt(r.get("macro_f1"))]
        print("\t".join(cells), flush=True)
        if any(t == "outside" for t in truth):
            outside_rows.append((label, sum(t == "outside" for t in truth), [r["outside_classified"] for r in results]))
    for label, n_out, fractions in outside_rows:
        shown = ", ".join(f"{n} {_fmt(f, pct=True)}" for n, f in zip(names, fractions))
        print(f"# {label}: {n_out} reads share no 25-mer with the training genomes; classified anyway: {shown}")
    if note:
        print(f"# {note}")
