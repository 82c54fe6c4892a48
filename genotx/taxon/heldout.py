"""Reads the k-mer memory has not indexed, for fitting how network and memory combine: leave one strain out.

Fitted on reads of the indexed genomes, the combination learns that the memory
is never wrong (every k-mer of such a read is in it, up to sequencing errors),
which holds for no read of a strain the memory has not seen. So each genome of
a species with several training genomes is held out in turn: the memory of
that fold is the full one with that species' bits rebuilt from its other
genomes, reads are simulated from the held-out genome, and their evidence is
taken from the fold's memory. The reads of a fold never come from a genome its
memory indexed (`Fold` records both, and the tests check it).

What this cannot hold out is the network: it was trained on reads of every
training genome, held-out strains included, so on these reads it is somewhat
better than on a strain it never saw (retraining it per fold would cost a full
training run each). A network weight fitted here is therefore an upper bound.

Species with a single training genome give no fold; with none of several
genomes there is nothing to fit on, and `leave_one_strain_out` returns None.

Example::

    held = leave_one_strain_out(index, genomes, n_reads=2000, length=150, errors=ErrorModel.parse("0-0.03"), seed=1)
    weights = fit_weights(network_log_probs(held.seqs), held.evidence, held.targets)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genotx.taxon.genomes import GenomeSet
from genotx.taxon.kmer_index import KmerIndex, species_buckets
from genotx.taxon.simulate import ErrorModel, ReadSimulator


@dataclass(frozen=True)
class Fold:
    """One held-out genome (its path), the species it belongs to, and the genomes its memory indexed."""

    held_out: str
    taxon: int
    indexed: tuple[str, ...]


@dataclass(frozen=True)
class HeldOutReads:
    """Reads of held-out strains: sequences, species targets, their evidence against their fold's memory."""

    seqs: list[str]
    targets: np.ndarray
    evidence: np.ndarray
    folds: list[Fold]
    fold_of: np.ndarray  # the fold of each read


def held_out_strains(genomes: GenomeSet) -> list[int]:
    """Indices of the genomes that can be held out: those whose species has another training genome."""
    counts = np.bincount(genomes.taxon_of, minlength=len(genomes.taxa))
    return [g for g, t in enumerate(genomes.taxon_of) if counts[t] >= 2]


def leave_one_strain_out(index: KmerIndex, genomes: GenomeSet, *, n_reads: int, length: int,
                         errors: ErrorModel, seed: int, report=None) -> HeldOutReads | None:
    """About ``n_reads`` reads, split evenly over the held-out genomes; None when no species has two genomes.

    ``index`` is the memory of all of ``genomes``; ``report(i)`` after each fold.
    """
    held = held_out_strains(genomes)
    if not held:
        return None
    bits = index.bit_matrix()
    seqs, targets, evidence, folds, fold_of = [], [], [], [], []
    per_fold = max(1, n_reads // len(held))
    for f, g in enumerate(held):
        t = genomes.taxon_of[g]
        others = [o for o, ot in enumerate(genomes.taxon_of) if ot == t and o != g]
        column = np.zeros(len(bits), dtype=np.uint8)
        column[species_buckets([genomes.genomes[o] for o in others], index.config)] = 1
        fold_bits = bits.copy()
        fold_bits[:, t] = column
        fold_index = KmerIndex(index.config, fold_bits)
        alone = GenomeSet([genomes.taxa[t]], [genomes.genomes[g]], [0])
        reads = [r.seq for r in ReadSimulator(alone, length=length, errors=errors, seed=seed + f).reads(per_fold)]
        seqs += reads
        targets.append(np.full(len(reads), t, dtype=np.int64))
        evidence.append(fold_index.evidence(reads))
        fold_of.append(np.full(len(reads), f, dtype=np.int64))
        indexed = tuple(genomes.genomes[o].path for o in range(len(genomes.genomes)) if o != g)
        folds.append(Fold(genomes.genomes[g].path, t, indexed))
        if report:
            report(f)
    return HeldOutReads(seqs, np.concatenate(targets), np.vstack(evidence), folds, np.concatenate(fold_of))
