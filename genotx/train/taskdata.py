"""Supervised data for `genotx finetune`: one adapter per task, same interface.

An adapter gives training batches for any step (reproducibly from the seed and
the step number, so runs can resume), a fixed validation set, and what the
checkpoint must remember to predict later (class names, taxids, read length).

- ``taxon``: genome FASTA files + a taxa TSV (or ``taxon=`` header tags). Each
  step draws fresh reads from both strands with the read simulator's error
  model; validation is a fixed set drawn with another seed.
- ``regulatory``: a ``sequence label`` TSV or ``NAME=file.fa`` class files;
  stratified hold-out (or ``--valid``).
- ``expression``: a ``sequence value`` TSV; random hold-out (or ``--valid``).
- ``variant``: a variant TSV with a ``label`` column (two values); each input is
  the pair (reference window, alternate window) around the variant, and the
  checkpoint remembers the window width. Stratified hold-out (or ``--valid``).

Example::

    data = make_task_data("regulatory", ["splice.tsv.gz"], seed=0)
    seqs, targets = data.train_batch(step=0, batch_size=32)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from genotx.errors import InputError
from genotx.tasks import TASKS


@dataclass
class TaskData:
    """Sequences and targets of one task; ``classes`` is empty for regression."""

    task: str
    classes: list[str]
    train_seqs: list = field(default_factory=list)  # strings, or (ref, alt) window pairs for variant
    train_targets: np.ndarray | None = None
    valid_seqs: list[str] = field(default_factory=list)
    valid_targets: np.ndarray | None = None
    metadata: dict = field(default_factory=dict)
    seed: int = 0
    simulators: list = field(default_factory=list)  # taxon: one read simulator per read length
    genomes: object = None  # taxon: the GenomeSet (the k-mer memory is built from it)

    @property
    def regression(self) -> bool:
        return not self.classes

    @property
    def n_outputs(self) -> int:
        return 1 if self.regression else len(self.classes)

    def train_batch(self, step: int, batch_size: int) -> tuple[list[str], np.ndarray]:
        """The batch of training step ``step``: a function of (seed, step) only."""
        rng = np.random.default_rng([self.seed, step, 17])
        if self.simulators:
            sim = self.simulators[int(rng.integers(len(self.simulators)))]
            sim.rng = rng
            reads = list(sim.reads(batch_size))
            return [r.seq for r in reads], np.array([r.taxon for r in reads], dtype=np.int64)
        index = rng.integers(len(self.train_seqs), size=batch_size)
        return [self.train_seqs[i] for i in index], self.train_targets[index]

    def class_weights(self) -> np.ndarray | None:
        """Inverse-frequency weights (mean 1) so rare classes count as much as common ones."""
        if self.regression or self.simulators:
            return None  # simulated reads are drawn balanced over taxa already
        counts = np.bincount(self.train_targets, minlength=len(self.classes)).astype(float)
        weights = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / len(counts), 0.0)
        return weights / weights[counts > 0].mean()


def _taxon(inputs, *, taxa, seed, read_lengths, error_rate, n_valid) -> TaskData:
    from genotx.taxon.simulate import ErrorModel, ReadSimulator
    from genotx.taxon.genomes import load_genomes

    genomes = load_genomes(list(inputs), taxa=taxa)
    if len(genomes.taxa) < 2:
        raise InputError(f"taxon training needs genomes of at least 2 taxa, found {genomes.labels()}")
    errors = ErrorModel(rate_min=error_rate[0], rate_max=error_rate[1])
    sims = [ReadSimulator(genomes, length=n, errors=errors, seed=seed) for n in read_lengths]
    valid_sim = ReadSimulator(genomes, length=read_lengths[0], errors=errors, seed=seed + 1_000_003)
    valid = list(valid_sim.reads(n_valid))
    meta = {
        "taxids": [t.taxid for t in genomes.taxa],
        "read_lengths": list(read_lengths),
        "error_rate": list(error_rate),
        "genomes": [g.path for g in genomes.genomes],
    }
    return TaskData("taxon", genomes.labels(), valid_seqs=[r.seq for r in valid],
                    valid_targets=np.array([r.taxon for r in valid], dtype=np.int64),
                    metadata=meta, seed=seed, simulators=sims, genomes=genomes)


def _labelled(inputs, class_files):
    from genotx.tasks.regulatory import load_class_fastas, load_labelled_tsv

    if class_files:
        if inputs:
            raise InputError("give either a labelled TSV or --class NAME=file.fa options, not both")
        return load_class_fastas(list(class_files))
    if len(inputs) != 1:
        raise InputError(f"regulatory training takes one 'sequence label' TSV (got {len(inputs)} files) "
                         "or --class NAME=file.fa options")
    return load_labelled_tsv(inputs[0])


def _regulatory(inputs, *, class_files, valid, seed, valid_fraction) -> TaskData:
    from genotx.tasks.regulatory import load_labelled_tsv, stratified_split

    data = _labelled(inputs, class_files)
    if valid:
        train, held = data, load_labelled_tsv(valid, classes=data.classes)
    else:
        tr, va = stratified_split(data.labels, valid_fraction, seed)
        train, held = data.subset(tr), data.subset(va)
    return TaskData("regulatory", list(data.classes), train.seqs, train.labels, held.seqs, held.labels,
                    metadata={"class_counts": train.class_counts()}, seed=seed)


def _expression(inputs, *, valid, seed, valid_fraction) -> TaskData:
    from genotx.tasks.expression import load_values_tsv

    if len(inputs) != 1:
        raise InputError(f"expression training takes one 'sequence value' TSV (got {len(inputs)} files)")
    data = load_values_tsv(inputs[0])
    values = np.asarray(data.values, dtype=np.float32)
    if valid:
        held = load_values_tsv(valid)
        tr_seqs, tr_vals = data.seqs, values
        va_seqs, va_vals = held.seqs, np.asarray(held.values, dtype=np.float32)
    else:
        order = np.random.default_rng(seed).permutation(len(values))
        n_valid = max(1, int(round(valid_fraction * len(values))))
        va, tr = order[:n_valid], order[n_valid:]
        tr_seqs, tr_vals = [data.seqs[i] for i in tr], values[tr]
        va_seqs, va_vals = [data.seqs[i] for i in va], values[va]
    if len(tr_seqs) < 2:
        raise InputError(f"{inputs[0]}: too few sequences to train on ({len(tr_seqs)})")
    # Targets are standardised for training; the checkpoint keeps the scale to undo it.
    mean, std = float(tr_vals.mean()), float(tr_vals.std() or 1.0)
    return TaskData("expression", [], tr_seqs, (tr_vals - mean) / std, va_seqs, (va_vals - mean) / std,
                    metadata={"target_mean": mean, "target_std": std}, seed=seed)


def _label_order(labels: set[str]) -> list[str]:
    """Numbers by value (0 before 1), other labels alphabetically; the last one is the positive class."""
    def key(label: str):
        try:
            return (0, float(label), label)
        except ValueError:
            return (1, 0.0, label)
    return sorted(labels, key=key)


def _labelled_variants(path: str, reference, window: int, classes=None):
    from genotx.tasks.variant import load_variants

    variants = load_variants(path, reference)
    unlabelled = [v.id for v in variants if v.label is None]
    if unlabelled:
        raise InputError(f"{path}: supervised variant training needs a label column with a value on every row "
                         f"({len(unlabelled)} variants lack one, e.g. {unlabelled[0]!r})")
    classes = classes or _label_order({v.label for v in variants})
    if len(classes) != 2:
        raise InputError(f"{path}: variant labels must take exactly two values (e.g. 0/1 or benign/pathogenic), "
                         f"found {len(classes)}: {', '.join(classes[:5])}")
    unknown = sorted({v.label for v in variants} - set(classes))
    if unknown:
        raise InputError(f"{path}: labels {', '.join(unknown)} do not occur in the training data ({', '.join(classes)})")
    pairs = [v.windows(window)[:2] for v in variants]
    return pairs, np.array([classes.index(v.label) for v in variants], dtype=np.int64), classes


def _variant(inputs, *, reference, window, valid, seed, valid_fraction) -> TaskData:
    from genotx.tasks.regulatory import stratified_split
    from genotx.tasks.variant import load_reference

    if len(inputs) != 1:
        raise InputError(f"variant training takes one labelled variant TSV (got {len(inputs)} files)")
    ref = load_reference(reference) if reference else None
    pairs, targets, classes = _labelled_variants(inputs[0], ref, window)
    if valid:
        held_pairs, held_targets, _ = _labelled_variants(valid, ref, window, classes)
        train_pairs, train_targets = pairs, targets
    else:
        tr, va = stratified_split(targets, valid_fraction, seed)
        train_pairs, train_targets = [pairs[i] for i in tr], targets[tr]
        held_pairs, held_targets = [pairs[i] for i in va], targets[va]
    counts = {c: int((train_targets == i).sum()) for i, c in enumerate(classes)}
    return TaskData("variant", classes, train_pairs, train_targets, held_pairs, held_targets,
                    metadata={"window": window, "positive": classes[-1], "class_counts": counts}, seed=seed)


def make_task_data(task: str, inputs, *, taxa=None, class_files=(), valid=None, seed=0,
                   valid_fraction=0.1, read_lengths=(150,), error_rate=(0.0, 0.03), n_valid=2000,
                   reference=None, window=128) -> TaskData:
    """Load the training data of ``task`` (see the module docstring)."""
    if task == "taxon":
        return _taxon(inputs, taxa=taxa, seed=seed, read_lengths=read_lengths, error_rate=error_rate,
                      n_valid=n_valid)
    if task == "regulatory":
        return _regulatory(inputs, class_files=class_files, valid=valid, seed=seed, valid_fraction=valid_fraction)
    if task == "expression":
        return _expression(inputs, valid=valid, seed=seed, valid_fraction=valid_fraction)
    if task == "variant":
        return _variant(inputs, reference=reference, window=window, valid=valid, seed=seed,
                        valid_fraction=valid_fraction)
    raise InputError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
