"""The taxon classifier of a model directory: the network, the k-mer index, or both combined.

It decides once, when it loads, whether the network is needed: without a
k-mer index (or with ``--no-memory``) the network decides alone; with one, the
fitted weights in config.json (`genotx.taxon.combine`) say how the two
combine, and a network weight of 0 means the index decides alone. Then the
network is never loaded, cast or run (the shipped default model is such a
case), and only the header of its weights file is read, so a damaged model is
still refused.

Where the network takes part, it runs as a cascade: the k-mer evidence of the
whole batch comes first, and a read whose memory-alone posterior
(`genotx.taxon.combine.memory_alone`: the combination with the network's term
0) puts more than ``kmer_memory.cascade`` on one hypothesis is conclusive and
keeps that posterior; the network runs on the other reads only, which are
combined as before. The hypothesis may be the background, so a read of an
unknown organism skips the network too. A cascade of 1 (the default) runs the
network on every read, which is the plain combination; 0 on none.

Example::

    classifier = TaxonClassifier.load("models/taxon-default", read_metadata("models/taxon-default"))
    probs = classifier.probabilities(["ACGT..."])      # (n, classes)
    rows = taxon_rows(ids, probs, classifier.classes, taxids, min_prob=0.5)
"""

from __future__ import annotations

import os
import threading

import numpy as np

from genotx.errors import InputError
from genotx.io.tsv import format_field, format_rows
from genotx.taxon import UNCLASSIFIED
from genotx.taxon.combine import Weights, combine, memory_alone

try:
    from genotx.taxon import _rows
except ImportError:  # built without a C compiler: the rows are formatted in Python
    _rows = None

# prob_none: the probability of the k-mer index's background hypothesis, "none of these
# species" (1 - the sum of the species' probabilities). A read of an organism outside the
# training set puts most of its mass there, so every species gets a probability near 0.
# NA without an index (--no-memory, or a model without one): the network alone has no such
# hypothesis and spreads all the mass over the species.
COLUMNS = ["read_id", "taxon", "taxid", "prob", "runner_up", "runner_up_prob", "prob_none"]


class TaxonClassifier:
    """Species probabilities of reads; ``network`` is (model, tokenizer) or None when it is not needed."""

    def __init__(self, classes: list[str], *, network=None, index=None, weights: Weights | None = None,
                 batch_size: int = 256):
        if network is None and (index is None or weights is None or weights.needs_network):
            raise InputError("a taxon classifier without its network needs a k-mer index with network weight 0")
        self.classes, self.network, self.index, self.weights = classes, network, index, weights
        self.batch_size = batch_size
        self.reads = self.network_reads = 0  # counted for predict's note on stderr
        self._count_lock = threading.Lock()

    @classmethod
    def load(cls, model_dir: str, metadata: dict, *, use_memory: bool = True, precision: str = "fp32",
             batch_size: int = 256) -> "TaxonClassifier":
        classes = list(metadata.get("classes") or [])
        memory_meta = metadata.get("kmer_memory") if use_memory else None
        index = weights = None
        if memory_meta:
            index = _load_index(model_dir, memory_meta, len(classes))
            weights = Weights.from_metadata(memory_meta, os.path.join(model_dir, "config.json"))
        network = None
        if weights is None or weights.needs_network:
            from genotx.inference.precision import set_precision
            from genotx.models.checkpoint import load_checkpoint
            from genotx.runtime import import_torch

            import_torch()  # here, not at start-up: the thread setting, and torch only where the network runs
            model, tokenizer, _ = load_checkpoint(model_dir)
            network = (set_precision(model.eval(), precision), tokenizer)
        else:
            from genotx.models.checkpoint import check_weights

            check_weights(model_dir)
        return cls(classes, network=network, index=index, weights=weights, batch_size=batch_size)

    def parts(self) -> str:
        """Which parts make the calls, in words for `predict`'s note on stderr."""
        if self.index is None:
            return "the network alone (no k-mer memory used)"
        if self.network is None:
            return f"the k-mer memory alone (network weight 0, memory weight {self.weights.memory:.3g} in config.json)"
        return (f"the network and the k-mer memory combined (fitted weights: network {self.weights.model:.3g}, "
                f"memory {self.weights.memory:.3g}; the network runs on reads whose memory-alone top probability "
                f"is at most the cascade, {self.weights.cascade:.3g})")

    def probabilities(self, seqs: list[str]) -> np.ndarray:
        """(n, classes) species probabilities in the order of ``seqs``; with an index, 1 - sum is the background's."""
        if self.index is None:
            return self._network_outputs(seqs, lambda logits: logits.softmax(-1))
        if self.network is None:
            log_probs = np.zeros((len(seqs), len(self.classes)), dtype=np.float32)
            return combine(self.weights, log_probs, self.index.evidence(seqs))
        return self._cascade(seqs, self.index.evidence(seqs))

    def _cascade(self, seqs: list[str], evidence: np.ndarray) -> np.ndarray:
        """The memory-alone posterior of conclusive reads, the full combination of the others."""
        alone = memory_alone(self.weights, evidence)
        unsure = np.flatnonzero(np.exp(alone.max(axis=1)) <= self.weights.cascade)
        probs = np.exp(alone[:, :-1])
        if len(unsure):
            log_probs = self._network_outputs([seqs[i] for i in unsure], lambda logits: logits.log_softmax(-1))
            probs[unsure] = combine(self.weights, log_probs, evidence[unsure])
        with self._count_lock:
            self.reads += len(seqs)
            self.network_reads += len(unsure)
        return probs

    def _network_outputs(self, seqs: list[str], transform) -> np.ndarray:
        from genotx.inference.batched import batched_outputs

        model, tokenizer = self.network
        return batched_outputs(model, tokenizer, seqs, batch_size=self.batch_size, transform=transform, by_length=True)


def _load_index(model_dir: str, memory_meta: dict, n_classes: int):
    from genotx.taxon.kmer_index import KmerIndex

    path = os.path.join(model_dir, str(memory_meta.get("file", "")))
    if not os.path.isfile(path):
        raise InputError(f"{model_dir}: its config names a k-mer memory {path!r} that is missing")
    index = KmerIndex.load(path)
    if index.n_classes != n_classes:
        raise InputError(f"{path}: k-mer memory has {index.n_classes} classes, the model {n_classes}")
    return index


def taxon_lines(ids: list[str], probs: np.ndarray, classes: list[str], taxids: list, min_prob: float,
                background: bool = True, use_c: bool = True) -> str:
    """The TSV lines of `taxon_rows`, exactly as `genotx.io.tsv.format_rows` writes them, made without tuples.

    The ranking and prob_none are numpy's; the text is made in C (`genotx.taxon._rows`,
    GIL released) where it is built, else by `_python_lines`, the reference. In Python
    the text held the GIL for about 2.3 us a read, a third of `predict`'s work and the
    part a second thread could not overlap (docs/architecture.md has the profile).
    """
    if len(ids) == 0 or len(classes) < 2 or np.isnan(probs).any():
        return format_rows(taxon_rows(ids, probs, classes, taxids, min_prob, background), len(COLUMNS))
    top2 = np.argsort(-probs, axis=1)[:, :2]  # as taxon_rows, so ties break alike
    none = np.clip(1.0 - probs.sum(axis=1, dtype=np.float64), 0.0, 1.0) if background else None
    names = [format_field(c) for c in classes]
    taxid_of = [format_field(t or "NA") for t in taxids]
    if _rows is not None and use_c:
        exact = probs if probs.dtype in (np.float32, np.float64) else probs.astype(np.float64)  # same doubles
        text = _rows.taxon_text(ids if isinstance(ids, list) else list(ids), np.ascontiguousarray(exact),
                                np.ascontiguousarray(top2[:, 0], dtype=np.int64),
                                np.ascontiguousarray(top2[:, 1], dtype=np.int64), none, names, taxid_of,
                                float(min_prob), UNCLASSIFIED)
        if text is not None:
            return text
    return _python_lines(ids, probs, top2, none, names, taxid_of, min_prob)


def _python_lines(ids, probs, top2, none, names, taxid_of, min_prob) -> str:
    """`taxon_lines` in Python: the reference of the C path."""
    rows = np.arange(len(ids))
    best = probs[rows, top2[:, 0]].astype(np.float64)
    called = (best >= min_prob).tolist()
    first_p = [f"{p:.6g}" for p in best.tolist()]
    second_p = [f"{p:.6g}" for p in probs[rows, top2[:, 1]].tolist()]
    none = ["NA"] * len(ids) if none is None else [f"{p:.6g}" for p in none.tolist()]
    if any(c in "\0".join(ids) for c in "\t\n\r"):
        ids = [format_field(i) for i in ids]
    lines = [f"{rid}\t{names[a]}\t{taxid_of[a]}\t{pa}\t{names[b]}\t{pb}\t{pn}" if ok else
             f"{rid}\t{UNCLASSIFIED}\t0\t{pa}\t{names[a]}\t{pa}\t{pn}"
             for rid, ok, a, b, pa, pb, pn in zip(ids, called, top2[:, 0].tolist(), top2[:, 1].tolist(), first_p,
                                                  second_p, none)]
    return "\n".join(lines) + "\n"


def taxon_rows(ids: list[str], probs: np.ndarray, classes: list[str], taxids: list, min_prob: float,
               background: bool = True) -> list[tuple]:
    """Rows of `COLUMNS`: the best species and the runner-up; below ``min_prob`` the read is unclassified.

    ``background``: the probabilities leave the background hypothesis its share (a k-mer
    index took part), written as prob_none; otherwise prob_none is NA.
    """
    top2 = np.argsort(-probs, axis=1)[:, :2]
    none = np.clip(1.0 - probs.sum(axis=1, dtype=np.float64), 0.0, 1.0) if background else [None] * len(ids)
    rows = []
    for rid, p, (first, second), rest in zip(ids, probs, top2, none):
        p1, p2 = float(p[first]), float(p[second])
        rest = None if rest is None else float(rest)
        if p1 < min_prob:
            rows.append((rid, UNCLASSIFIED, 0, p1, classes[first], p1, rest))
        else:
            rows.append((rid, classes[first], taxids[first] or "NA", p1, classes[second], p2, rest))
    return rows
