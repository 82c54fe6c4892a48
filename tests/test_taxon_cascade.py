"""The cascade: the network only on reads whose memory-alone posterior is not conclusive.

A stub network (deterministic log-probabilities from each read's bases) counts the
reads it is asked about; the k-mer memory is the shipped model's.
"""

from __future__ import annotations

import gzip
import random

import numpy as np
import pytest

from conftest import REPO
from genotx.errors import InputError
from genotx.taxon.classifier import TaxonClassifier
from genotx.taxon.combine import Weights, combine, log_posterior

MODEL = REPO / "models" / "taxon-default"
REFIT = Weights(0.185, 0.048)  # network and memory weights of a leave-one-strain-out refit


class StubNetwork:
    """Log-probabilities that depend on the read alone; ``asked`` holds every read it ran on."""

    def __init__(self, n_classes: int):
        self.n_classes, self.asked = n_classes, []

    def __call__(self, seqs, transform=None) -> np.ndarray:
        self.asked += list(seqs)
        logits = np.array([[(s.count("ACG"[c % 3]) * (c + 1)) % 7 for c in range(self.n_classes)] for s in seqs],
                          dtype=np.float32).reshape(len(seqs), self.n_classes)
        return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))


@pytest.fixture(scope="module")
def memory():
    from genotx.models.checkpoint import read_metadata
    from genotx.taxon.classifier import _load_index

    meta = read_metadata(str(MODEL))
    return meta["classes"], _load_index(str(MODEL), meta["kmer_memory"], len(meta["classes"]))


@pytest.fixture(scope="module")
def reads() -> list[str]:
    """Reads of the training species at several error rates, and random sequences (no species: the background)."""
    lines = gzip.decompress((REPO / "examples" / "reads.fq.gz").read_bytes()).decode().splitlines()
    rng = random.Random(7)
    return lines[1::4][:600] + ["".join(rng.choice("ACGT") for _ in range(150)) for _ in range(50)]


def classifier(memory, cascade: float):
    classes, index = memory
    stub = StubNetwork(len(classes))
    weights = Weights(REFIT.model, REFIT.memory, cascade)
    clf = TaxonClassifier(classes, network=("stub", None), index=index, weights=weights)
    clf._network_outputs = stub
    return clf, stub


def test_cascade_of_one_runs_the_network_on_every_read_and_equals_the_full_combination(memory, reads):
    clf, stub = classifier(memory, 1.0)
    full = combine(REFIT, StubNetwork(len(clf.classes))(reads), memory[1].evidence(reads))
    assert np.array_equal(clf.probabilities(reads), full)
    assert stub.asked == reads and (clf.reads, clf.network_reads) == (len(reads), len(reads))


def test_cascade_of_zero_never_runs_the_network_and_equals_the_memory_with_the_network_term_zero(memory, reads):
    clf, stub = classifier(memory, 0.0)
    zeros = np.zeros((len(reads), len(clf.classes)), dtype=np.float32)
    assert np.array_equal(clf.probabilities(reads), combine(REFIT, zeros, memory[1].evidence(reads)))
    assert stub.asked == [] and clf.network_reads == 0


@pytest.mark.parametrize("cascade", [0.9, 0.99, 0.999])
def test_each_read_gets_the_rule_of_a_read_by_read_reference(memory, reads, cascade):
    """Conclusive (memory-alone top probability above the cascade): that posterior; otherwise the full combination."""
    clf, stub = classifier(memory, cascade)
    got = clf.probabilities(reads)
    w = np.asarray(REFIT.as_list())
    expected, unsure = [], []
    for seq in reads:
        evidence = memory[1].evidence([seq])
        alone = log_posterior(w, np.zeros((1, len(clf.classes)), dtype=np.float32), evidence)
        if np.exp(alone.max()) > cascade:
            expected.append(np.exp(alone)[0, :-1])
        else:
            unsure.append(seq)
            expected.append(combine(REFIT, StubNetwork(len(clf.classes))([seq]), evidence)[0])
    np.testing.assert_array_equal(got, np.array(expected))
    assert stub.asked == unsure  # a conclusive read never reaches the network
    assert 0 < len(unsure) < len(reads)


def test_random_sequences_are_conclusive_for_the_background_and_skip_the_network(memory, reads):
    """With the refit's memory weight such a read leaves about 0.8 to the background: above a cascade of 0.5."""
    clf, stub = classifier(memory, 0.5)
    probs = clf.probabilities(reads[-50:])
    assert stub.asked == [] and (1 - probs.sum(axis=1) > 0.5).all()


@pytest.mark.parametrize("value", [1.5, -0.1, "x"])
def test_a_cascade_outside_zero_to_one_is_refused(value):
    with pytest.raises(InputError, match="cascade"):
        Weights.from_metadata({"weights": [0.1, 0.2], "cascade": value}, "config.json")


def test_a_model_without_a_cascade_runs_the_network_on_every_read():
    assert Weights.from_metadata({"weights": [0.1, 0.2]}, "config.json").cascade == 1.0
