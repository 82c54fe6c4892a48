"""Build fly_promoters.tsv.gz: Drosophila core-promoter regions vs. distal upstream background.

Input: dm3_upstream2000-chr2L.fa.gz (2 kb upstream of each RefSeq transcript start
on dm3 chr2L, Biostrings extdata; see README.md). Each record gives two 200-bp windows:

* ``promoter``: the 200 bp just upstream of the transcript start;
* ``distal``: the first 200 bp of the record, 1.8-2 kb upstream of the start.

Transcripts whose promoter window overlaps one already taken (alternative starts of
one gene) are skipped, so no two windows share bases across a split; a distal window
is dropped when it overlaps any promoter window or a distal window already taken, and
windows with N are dropped. Each class is then cut to PER_CLASS (1,500) windows with seed 0.

Run: ``python data/labelled/make_fly_promoters.py SRC.fa.gz data/labelled/fly_promoters.tsv.gz``
"""

import gzip
import sys

import numpy as np

WINDOW = 200
PER_CLASS = 1500  # keeps the shipped file near 200 kB


def records(path):
    name, parts = None, []
    with gzip.open(path, "rt") as fh:
        for line in fh:
            if line.startswith(">"):
                if name:
                    yield name, "".join(parts)
                name, parts = line[1:].strip(), []
            else:
                parts.append(line.strip())
    if name:
        yield name, "".join(parts)


def overlaps(interval, taken):
    return any(interval[0] <= b and a <= interval[1] for a, b in taken)


def main(src, out):
    rows = []
    for name, seq in records(src):
        strand = name.split()[0].rsplit("_", 1)[1]
        start, end = (int(v) for v in name.split()[1].split(":")[1].split("-"))
        seq = seq.upper()
        if strand == "f":  # sequence reads towards the start, which lies after `end`
            promoter, distal = (end - WINDOW + 1, end), (start, start + WINDOW - 1)
        else:
            promoter, distal = (start, start + WINDOW - 1), (end - WINDOW + 1, end)
        rows.append((name.split()[0], promoter, distal, seq[-WINDOW:], seq[:WINDOW]))
    rows.sort(key=lambda r: r[1][0])
    promoters, taken = [], []
    for rid, promoter, _, pseq, _ in rows:
        if not overlaps(promoter, taken) and "N" not in pseq:
            taken.append(promoter)
            promoters.append((rid, pseq))
    all_promoters = [r[1] for r in rows]
    distals, taken_distal = [], []
    for rid, _, distal, _, dseq in rows:
        if not overlaps(distal, all_promoters) and not overlaps(distal, taken_distal) and "N" not in dseq:
            taken_distal.append(distal)
            distals.append((rid, dseq))
    rng = np.random.default_rng(0)
    n = min(len(promoters), len(distals), PER_CLASS)
    chosen = [(rid, s, "promoter") for rid, s in (promoters[i] for i in sorted(rng.choice(len(promoters), n, replace=False)))]
    chosen += [(rid, s, "distal") for rid, s in (distals[i] for i in sorted(rng.choice(len(distals), n, replace=False)))]
    with gzip.GzipFile(out, "wb", mtime=0, compresslevel=9) as fh:
        fh.write(b"id\tsequence\tlabel\n")
        for rid, s, label in chosen:
            fh.write(f"{rid}_{label}\t{s}\t{label}\n".encode())
    print(f"{out}: {n} promoter + {n} distal windows of {WINDOW} bp", file=sys.stderr)


if __name__ == "__main__":
    main(*sys.argv[1:])
