"""The combination of network and k-mer memory is fitted on reads of strains the memory has not indexed."""

from __future__ import annotations

import numpy as np
import pytest

from genotx.io.codes import decode
from genotx.shipped import data_path
from genotx.taxon.genomes import load_genomes
from genotx.taxon.heldout import held_out_strains, leave_one_strain_out
from genotx.taxon.kmer_index import IndexConfig, KmerIndex
from genotx.taxon.simulate import ErrorModel

# Two iflaviruses about 84 % identical stand in for two strains of one species; the human
# mitochondrion is a species with one genome, which no fold can hold out.
FILES = ["deformed_wing_virus-NC_004830.fa.gz", "varroa_destructor_virus_1-NC_006494.fa.gz",
         "homo_sapiens-mitochondrion.fa.gz"]
CONFIG = IndexConfig(k=11, bits=16)


@pytest.fixture(scope="module")
def taxa_tsv(tmp_path_factory):
    path = tmp_path_factory.mktemp("taxa") / "taxa.tsv"
    path.write_text("file\tspecies\n" + f"{FILES[0]}\tIflavirus x\n{FILES[1]}\tIflavirus x\n{FILES[2]}\tHomo sapiens\n")
    return str(path)


@pytest.fixture(scope="module")
def genomes(taxa_tsv):
    return load_genomes([str(data_path("genomes", f)) for f in FILES], taxa=taxa_tsv)


def sequence_of(genome) -> str:
    return "N".join(decode(r) for r in genome.records)


def revcomp(seq: str) -> str:
    return seq.translate(str.maketrans("ACGTN", "TGCAN"))[::-1]


def test_only_genomes_of_species_with_another_genome_are_held_out(genomes):
    assert held_out_strains(genomes) == [0, 1]


def test_each_folds_reads_come_from_its_held_out_genome_and_their_evidence_from_a_memory_without_it(genomes):
    index = KmerIndex.build(genomes, CONFIG)
    held = leave_one_strain_out(index, genomes, n_reads=200, length=100, errors=ErrorModel.parse("0"), seed=3)
    assert len(held.folds) == 2 and len(held.seqs) == 200
    for f, fold in enumerate(held.folds):
        assert fold.held_out not in fold.indexed and len(fold.indexed) == len(genomes.genomes) - 1
        g = [x.path for x in genomes.genomes].index(fold.held_out)
        rows = np.flatnonzero(held.fold_of == f)
        source = sequence_of(genomes.genomes[g])
        reads = [held.seqs[i] for i in rows]
        assert all(r in source or revcomp(r) in source for r in reads)  # error-free reads of the held-out genome
        assert (held.targets[rows] == genomes.taxon_of[g]).all()
        rest = [x for x in range(len(genomes.genomes)) if x != g]
        from genotx.taxon.genomes import GenomeSet

        without = KmerIndex.build(GenomeSet(genomes.taxa, [genomes.genomes[x] for x in rest],
                                            [genomes.taxon_of[x] for x in rest]), CONFIG)
        np.testing.assert_array_equal(held.evidence[rows], without.evidence(reads))


def test_held_out_reads_miss_more_of_their_species_than_reads_of_an_indexed_genome(genomes):
    """The point of holding out: against the full memory the same reads hit nearly everywhere."""
    index = KmerIndex.build(genomes, CONFIG)
    held = leave_one_strain_out(index, genomes, n_reads=200, length=100, errors=ErrorModel.parse("0"), seed=4)
    t = held.targets
    rows = np.arange(len(t))
    assert np.mean(held.evidence[rows, t]) < 0.8 * np.mean(index.evidence(held.seqs)[rows, t])


def test_no_species_with_two_genomes_gives_nothing_to_fit_on():
    single = load_genomes([str(data_path("genomes", f)) for f in FILES], taxa=str(data_path("genomes", "taxa.tsv")))
    assert leave_one_strain_out(KmerIndex.build(single, CONFIG), single, n_reads=10, length=100,
                                errors=ErrorModel(), seed=0) is None


def test_finetune_fits_the_combination_only_on_reads_of_held_out_strains(monkeypatch, taxa_tsv, genomes):
    """Every read whose network output the fit asks for comes from the genome its fold left out."""
    import genotx.train.finetune as finetune
    from genotx.train.taskdata import make_task_data

    data = make_task_data("taxon", [str(data_path("genomes", f)) for f in FILES], taxa=taxa_tsv, seed=1,
                          read_lengths=(100,), error_rate=(0.0, 0.0), n_valid=60)
    asked = []

    def uniform(model, tokenizer, seqs, **_):
        asked.extend(seqs)
        return np.full((len(seqs), 2), 0.5, dtype=np.float32)

    monkeypatch.setattr(finetune, "batched_outputs", uniform)
    weights, record = finetune._fit_combination(None, None, data, KmerIndex.build(data.genomes, CONFIG))
    assert record["reads"] == "leave one strain out" and record["held_out"] == FILES[:2]
    assert len(asked) == 60
    sources = [sequence_of(g) for g in data.genomes.genomes[:2]]
    half = len(asked) // 2  # fold 0 (the first virus held out), then fold 1
    for reads, source in ((asked[:half], sources[0]), (asked[half:], sources[1])):
        assert all(r in source or revcomp(r) in source for r in reads)
    assert weights.model >= 0 and weights.memory > 0
