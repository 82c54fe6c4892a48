"""The one-hot CNN baseline: it finds a planted motif wherever it sits, and beats chance on real splice sites."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from genotx.tasks.baselines import CNNBaseline, LinearBaseline

MOTIF = "TGACTCAG"  # an AP-1-like site


def planted(n: int, rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """Random 60-100 bp sequences; class 1 carries MOTIF at a random place (either strand when asked)."""
    seqs, labels = [], rng.integers(2, size=n)
    for label in labels:
        seq = list(rng.choice(list("ACGT"), size=int(rng.integers(60, 101))))
        if label:
            at = int(rng.integers(0, len(seq) - len(MOTIF)))
            seq[at : at + len(MOTIF)] = MOTIF
        seqs.append("".join(seq))
    return seqs, labels


def test_cnn_learns_a_planted_motif_at_any_position_where_onehot_lr_cannot():
    rng = np.random.default_rng(0)
    train, train_y = planted(600, rng)
    test, test_y = planted(200, rng)
    cnn = CNNBaseline(epochs=10, seed=0).fit(train, train_y, ["absent", "present"])
    accuracy = np.mean(cnn.predict_proba(test).argmax(1) == test_y)
    assert accuracy > 0.9, accuracy
    kmer = LinearBaseline(features="kmer", k=3).fit(train, train_y, ["absent", "present"])
    assert accuracy > np.mean(kmer.predict_proba(test).argmax(1) == test_y)  # 3-mers blur an 8-bp motif


def test_cnn_probabilities_do_not_depend_on_padding_or_batch_neighbours():
    rng = np.random.default_rng(1)
    seqs, labels = planted(100, rng)
    cnn = CNNBaseline(epochs=2, both_strands=True).fit(seqs, labels, ["a", "b"])
    together = cnn.predict_proba(seqs[:10])
    alone = np.vstack([cnn.predict_proba([s]) for s in seqs[:10]])
    np.testing.assert_allclose(together, alone, atol=1e-5)  # float32 convolution rounding only
    np.testing.assert_allclose(together.sum(1), 1.0, atol=1e-5)


def test_cnn_beats_chance_on_real_splice_sites():
    path = Path(__file__).resolve().parents[1] / "data" / "labelled" / "splice.tsv.gz"
    rows = [r.split("\t") for r in gzip.open(path, "rt").read().splitlines()[1:]]
    order = np.random.default_rng(0).permutation(len(rows))
    classes = ["ei", "ie", "n"]
    seqs = [rows[i][0] for i in order]
    labels = np.array([classes.index(rows[i][1]) for i in order])
    cnn = CNNBaseline(epochs=8).fit(seqs[:1200], labels[:1200], classes)
    accuracy = np.mean(cnn.predict_proba(seqs[1200:1600]).argmax(1) == labels[1200:1600])
    assert accuracy > 0.65, accuracy  # majority class: about 0.52
