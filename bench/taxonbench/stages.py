"""Where the time of `predict --task taxon` goes: each step of the per-read path timed in one thread.

The steps run one after the other in this thread (gzip is inflated here too, not in its
own thread as in `predict`), batch by batch as `predict` cuts them, so each step's time
is its own. The row text is made twice, in C and in Python (the reference), to show what
the C path saves; only the C text counts in the total.
"""

from __future__ import annotations

import time

import numpy as np

from genotx.io import fastq, source
from genotx.io.reader import DEFAULT_BATCH

STEPS = [("inflate gzip (ISA-L)", "released"), ("parse records (C)", "held"),
         ("k-mer look-up (C)", "released"), ("evidence and posterior (numpy)", "released in the loops"),
         ("ranking and row text (numpy argsort, C)", "released"), ("write", ""),
         ("row text in Python (not in the total)", "held")]


def stages(path: str, batch_size: int = DEFAULT_BATCH) -> None:
    from genotx.inference.predict import Predictor
    from genotx.shipped import default_model
    from genotx.taxon.classifier import taxon_lines

    predictor = Predictor.load(default_model("taxon"), "taxon", min_prob=0.5)
    classifier, seconds = predictor.classifier, dict.fromkeys([name for name, _ in STEPS], 0.0)
    if classifier.network is not None:
        raise SystemExit("the shipped taxon model runs its network; these steps are those of the k-mer memory alone")

    def timed(step, work, *args):
        start = time.perf_counter()
        result = work(*args)
        seconds[step] += time.perf_counter() - start
        return result

    def pieces():
        stream = source.open_input(path)
        first = stream.read(source.PIECE)
        blocks = source.inflate(stream, first, path) if first[:2] == source.GZIP_MAGIC else plain(stream, first)
        while (block := timed(STEPS[0][0], next, blocks, None)) is not None:
            yield from (block[i : i + source.PIECE] for i in range(0, len(block), source.PIECE))

    batches, reads, out = fastq.fastq_records(pieces(), path, batch_size, keep_quals=False), 0, open("/dev/null", "w")
    while True:
        before, start = seconds[STEPS[0][0]], time.perf_counter()
        batch = next(batches, None)
        seconds[STEPS[1][0]] += time.perf_counter() - start - (seconds[STEPS[0][0]] - before)
        if batch is None:
            break
        _, ids, seqs, _ = batch
        reads += len(ids)
        hits, valid = timed(STEPS[2][0], classifier.index.hits, seqs)
        probs = timed(STEPS[3][0], posterior, classifier, hits, valid)
        args = (ids, probs, predictor.classes, predictor.taxids, predictor.min_prob, True)
        text = timed(STEPS[4][0], taxon_lines, *args)
        timed(STEPS[5][0], out.write, text)
        assert timed(STEPS[6][0], lambda: taxon_lines(*args, use_c=False)) == text
    total = sum(seconds.values()) - seconds[STEPS[6][0]]
    print(f"# steps of predict --task taxon in one thread: {reads} reads of {path}, batches of {batch_size}; "
          f"total {total:.2f} s")
    print("step\tGIL\tseconds\tshare\tus_per_read")
    for name, gil in STEPS:
        print(f"{name}\t{gil}\t{seconds[name]:.2f}\t{seconds[name] / total:.0%}\t{seconds[name] / reads * 1e6:.2f}",
              flush=True)


def plain(stream, first: bytes):
    """The pieces of an uncompressed input."""
    yield first
    yield from iter(lambda: stream.read(source.PIECE), b"")


def posterior(classifier, hits: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """`KmerIndex.evidence` from counted hits, then `combine` with the network's (zero) log-probabilities."""
    from genotx.taxon.combine import combine

    index = classifier.index
    evidence = np.zeros((len(hits), index.n_classes + 1), dtype=np.float32)
    evidence[:, :-1] = hits * index.hit_score + (valid[:, None] - hits) * index.miss_score
    return combine(classifier.weights, np.zeros((len(hits), index.n_classes), np.float32), evidence)
