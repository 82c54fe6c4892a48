"""Regulatory task inputs: sequences with class labels, plus a stratified split.

Two input forms:

- a TSV with columns ``sequence`` and ``label`` (and optionally ``id``), as in
  ``data/labelled/splice.tsv.gz`` (3 classes) and ``promoters.tsv.gz`` (2);
- one FASTA file per class, given as ``NAME=file.fa`` (``--class`` options), as
  for the Oct4 vs MafK ChIP-seq peaks in ``data/labelled/*.fa.gz``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genotx.errors import InputError
from genotx.io import iter_records
from genotx.tasks._table import display, normalise_sequence, read_rows


@dataclass
class LabelledSequences:
    """``labels[i]`` indexes ``classes``; ``ids`` are unique within a set."""

    ids: list[str]
    seqs: list[str]
    labels: np.ndarray
    classes: list[str]

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, index) -> "LabelledSequences":
        index = np.asarray(index, dtype=np.int64)
        return LabelledSequences([self.ids[i] for i in index], [self.seqs[i] for i in index],
                                 self.labels[index], list(self.classes))

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(self.classes))
        return dict(zip(self.classes, counts.tolist()))


def _class_index(names: list[str], classes: list[str] | None, source: str) -> tuple[np.ndarray, list[str]]:
    if classes is None:
        classes = sorted(set(names))
    known = {c: i for i, c in enumerate(classes)}
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise InputError(f"{source}: label(s) {', '.join(map(repr, unknown))} not among the classes {classes}")
    if len(classes) < 2:
        raise InputError(f"{source}: need at least 2 classes, found {classes}")
    return np.array([known[n] for n in names], dtype=np.int64), list(classes)


def load_labelled_tsv(path: str, classes: list[str] | None = None) -> LabelledSequences:
    """Read ``sequence  label`` rows; classes are sorted label names unless given.

    Example: ``load_labelled_tsv(str(data_path("labelled", "splice.tsv.gz"))).classes == ["ei", "ie", "n"]``.
    """
    name = display(path)
    ids, seqs, names = [], [], []
    for number, row in read_rows(path, ("sequence", "label"), ("id",)):
        where = f"{name}: line {number}"
        if not row["label"]:
            raise InputError(f"{where}: empty label")
        seqs.append(normalise_sequence(row["sequence"], where))
        names.append(row["label"])
        ids.append(row.get("id") or f"seq{len(ids) + 1}")
    if not seqs:
        raise InputError(f"{name}: no sequences after the header")
    labels, classes = _class_index(names, classes, name)
    return LabelledSequences(ids, seqs, labels, classes)


def parse_class_option(text: str) -> tuple[str, str]:
    """``"oct4=peaks.fa"`` -> ``("oct4", "peaks.fa")``."""
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise InputError(f"--class {text!r}: expected NAME=FILE, e.g. --class oct4=oct4.fa")
    return name, path


def load_class_fastas(specs: list[str]) -> LabelledSequences:
    """One FASTA/FASTQ file per class from ``NAME=FILE`` strings; classes in the order given.

    Example: ``load_class_fastas(["oct4=oct4-test.fa.gz", "mafk=mafk-test.fa.gz"])``.
    """
    pairs = [parse_class_option(s) for s in specs]
    classes = [n for n, _ in pairs]
    if len(set(classes)) != len(classes):
        raise InputError(f"--class: a class name is given twice ({', '.join(classes)})")
    if len(classes) < 2:
        raise InputError("--class: give at least two classes, e.g. --class a=a.fa --class b=b.fa")
    ids, seqs, labels = [], [], []
    for label, (cls, path) in enumerate(pairs):
        before = len(ids)
        for rec in iter_records([path]):
            ids.append(rec.id)
            seqs.append(rec.seq)
            labels.append(label)
        if len(ids) == before:
            raise InputError(f"{path}: no sequences for class {cls!r}")
    return LabelledSequences(ids, seqs, np.array(labels, dtype=np.int64), classes)


def stratified_split(labels: np.ndarray, valid_fraction: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, valid) with each class split in the same proportion.

    Every class with at least 2 members keeps one in each part.
    Example: ``train, valid = stratified_split(data.labels, 0.2)``.
    """
    if not 0 < valid_fraction < 1:
        raise InputError(f"validation fraction must be between 0 and 1, got {valid_fraction}")
    rng = np.random.default_rng(seed)
    train, valid = [], []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        k = int(round(len(members) * valid_fraction))
        if len(members) >= 2:
            k = min(max(k, 1), len(members) - 1)
        valid.append(members[:k])
        train.append(members[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(valid))
