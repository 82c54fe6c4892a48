"""The hashed k-mer index of the taxon task and its combination with a network, against simple references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genotx.errors import InputError
from genotx.shipped import data_path
from genotx.taxon.combine import Weights, combine, fit_weights
from genotx.taxon.kmer_index import IndexConfig, KmerIndex, bucket_of, canonical_kmers, kmer_buckets
from genotx.taxon.simulate import ErrorModel, ReadSimulator
from genotx.io.codes import encode
from genotx.taxon.genomes import load_genomes

SMALL = ["homo_sapiens-mitochondrion.fa.gz", "deformed_wing_virus-NC_004830.fa.gz",
         "varroa_destructor_virus_1-NC_006494.fa.gz"]
COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


def revcomp(seq: str) -> str:
    return seq.translate(COMPLEMENT)[::-1]


def reference_code(kmer: str) -> int | None:
    """2-bit code of the smaller of a k-mer and its reverse complement, written out base by base."""
    if "N" in kmer:
        return None
    digits = {"A": 0, "C": 1, "G": 2, "T": 3}

    def code(s: str) -> int:
        value = 0
        for base in s:
            value = value * 4 + digits[base]
        return value

    return min(code(kmer), code(revcomp(kmer)))


@pytest.fixture(scope="module")
def genomes():
    return load_genomes([str(data_path("genomes", name)) for name in SMALL], taxa=str(data_path("genomes", "taxa.tsv")))


@pytest.fixture(scope="module")
def memory(genomes):
    return KmerIndex.build(genomes, IndexConfig(k=11, bits=16))


dna = st.text(alphabet="ACGTN", min_size=0, max_size=60)


@settings(max_examples=200, deadline=None)
@given(seq=dna, k=st.integers(5, 31))
def test_canonical_kmers_match_the_string_reference(seq, k):
    kmers, valid = canonical_kmers(encode(seq), k)
    expected = [reference_code(seq[i : i + k]) for i in range(len(seq) - k + 1)]
    assert list(valid) == [e is not None for e in expected]
    assert [int(x) for x, ok in zip(kmers, valid) if ok] == [e for e in expected if e is not None]


@settings(max_examples=100, deadline=None)
@given(seq=dna, bits=st.integers(8, 20))
def test_kmers_with_n_fall_in_the_zero_row_and_others_in_range(seq, bits):
    buckets = kmer_buckets(encode(seq), 7, bits)
    expected_invalid = [("N" in seq[i : i + 7]) for i in range(len(seq) - 6)]
    assert list(buckets == (1 << bits)) == expected_invalid
    assert ((buckets >= 0) & (buckets <= (1 << bits))).all()


def test_evidence_of_many_reads_equals_each_read_alone(memory):
    rng = np.random.default_rng(3)
    reads = ["".join(rng.choice(list("ACGTN"), p=[0.24, 0.24, 0.24, 0.24, 0.04], size=n)) for n in
             (150, 0, 5, 11, 12, 300, 1, 10, 151)]
    together = memory.evidence(reads)
    alone = np.vstack([memory.evidence([r]) for r in reads])
    np.testing.assert_allclose(together, alone, rtol=0, atol=1e-4)
    assert np.all(together[[1, 2, 6, 7]] == 0)  # reads shorter than k have no evidence


def test_evidence_is_the_same_on_both_strands(memory):
    rng = np.random.default_rng(4)
    reads = ["".join(rng.choice(list("ACGT"), size=150)) for _ in range(50)]
    np.testing.assert_array_equal(memory.evidence(reads), memory.evidence([revcomp(r) for r in reads]))


def test_bits_mark_exactly_the_buckets_of_the_species_kmers(genomes, memory):
    """Redo one taxon the slow way: the set of canonical k-mers written out as strings, then their buckets."""
    t = 0
    seen = set()
    for g in genomes.of_taxon(t):
        for rec in g.records:
            text = "".join("ACGTN"[c] for c in rec)
            seen.update(c for c in (reference_code(text[i : i + 11]) for i in range(len(text) - 10)) if c is not None)
    expected = np.zeros(1 << 16, dtype=np.uint8)
    expected[bucket_of(np.array(sorted(seen), dtype=np.uint64), 16)] = 1
    np.testing.assert_array_equal(memory.bit_matrix()[:, t], expected)


def test_evidence_counts_hits_and_misses_per_species(memory):
    """Evidence of one read against a per-k-mer loop over its buckets."""
    rng = np.random.default_rng(5)
    read = "".join(rng.choice(list("ACGTN"), p=[0.24, 0.24, 0.24, 0.24, 0.04], size=120))
    buckets = [b for b in kmer_buckets(encode(read), 11, 16) if b < 1 << 16]
    bits = memory.bit_matrix()
    expected = [sum(memory.hit_score[c] if bits[b, c] else memory.miss_score for b in buckets)
                for c in range(memory.n_classes)]
    np.testing.assert_allclose(memory.evidence([read])[0], expected + [0.0], rtol=1e-5, atol=1e-4)


def test_reads_are_classified_to_their_genome_with_errors(genomes, memory):
    reads = list(ReadSimulator(genomes, length=150, errors=ErrorModel.parse("0.03"), seed=9).reads(300))
    predicted = memory.evidence([r.seq for r in reads])[:, :-1].argmax(axis=1)
    accuracy = np.mean(predicted == np.array([r.taxon for r in reads]))
    assert accuracy > 0.95, accuracy  # three taxa; chance is 1/3


def test_reads_of_an_organism_outside_the_memory_go_to_the_background(genomes, memory):
    """E. coli is not among the three genomes: its reads should look like the background, not a species."""
    outside = load_genomes([str(data_path("genomes", "escherichia_coli-MG1655.fa.gz"))],
                           taxa=str(data_path("genomes", "taxa.tsv")))
    foreign = [r.seq for r in ReadSimulator(outside, length=150, seed=11).reads(300)]
    known = [r.seq for r in ReadSimulator(genomes, length=150, errors=ErrorModel.parse("0.03"), seed=12).reads(300)]
    alone = Weights(0.0, 1.0)
    no_model = np.zeros((300, 3), dtype=np.float32)
    assert np.mean(combine(alone, no_model, memory.evidence(foreign)).max(axis=1) >= 0.5) < 0.02
    assert np.mean(combine(alone, no_model, memory.evidence(known)).max(axis=1) >= 0.5) > 0.98


def test_fitted_weights_raise_validation_likelihood(genomes):
    """With buckets this crowded the raw evidence is confidently wrong on some reads; fitting tempers it."""
    memory = KmerIndex.build(genomes, IndexConfig(k=11, bits=9))
    reads = list(ReadSimulator(genomes, length=150, errors=ErrorModel.parse("0.05-0.1"), seed=10).reads(300))
    targets = np.array([r.taxon for r in reads])
    evidence = memory.evidence([r.seq for r in reads])
    uniform = np.full((len(reads), 3), np.log(1 / 3), dtype=np.float32)

    def nll(probs):
        return -np.mean(np.log(np.maximum(probs[np.arange(len(targets)), targets], 1e-300)))

    before = nll(combine(Weights(1.0, 1.0), uniform, evidence))  # raw naive Bayes
    weights = fit_weights(uniform, evidence, targets)
    assert weights.model >= 0 and weights.memory >= 0
    assert before > 0.05  # the raw evidence is not already perfect
    assert nll(combine(weights, uniform, evidence)) < 0.8 * before


@pytest.mark.parametrize("classes", [1, 3, 8, 9, 17, 70])
def test_bit_lookup_round_trips_for_any_number_of_classes(classes):
    rng = np.random.default_rng(classes)
    bits = (rng.random((1 << 10, classes)) < 0.3).astype(np.uint8)
    memory = KmerIndex(IndexConfig(k=7, bits=10), bits)
    np.testing.assert_array_equal(memory.bit_matrix(), bits)
    read = "".join(rng.choice(list("ACGT"), size=60))
    buckets = kmer_buckets(encode(read), 7, 10)
    hits = bits[buckets].sum(axis=0)
    expected = hits * memory.hit_score + (len(buckets) - hits) * memory.miss_score
    np.testing.assert_allclose(memory.evidence([read])[0, :-1], expected, rtol=1e-5)


def test_save_load_round_trip_is_exact_and_holds_no_weights(memory, tmp_path):
    from safetensors import safe_open

    path = tmp_path / "m.safetensors"
    memory.save(str(path))
    loaded = KmerIndex.load(str(path))
    assert loaded.config == memory.config
    with safe_open(str(path), framework="numpy") as fh:
        assert set(fh.metadata()) == {"config"}  # the weights live in the model's config.json only
    np.testing.assert_array_equal(loaded.bit_matrix(), memory.bit_matrix())
    # One word per bucket (one byte holds 3 species' bits), the per-species counts and the header.
    assert path.stat().st_size < ((1 << 16) + 1) * 1 + 3 * 8 + 1000


def test_damaged_memory_file_is_a_clear_error(memory, tmp_path):
    path = tmp_path / "m.safetensors"
    memory.save(str(path))
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(InputError, match="k-mer memory"):
        KmerIndex.load(str(path))


@pytest.mark.parametrize("text", ["13:", "x", "13:21:4", "3", "13:40", "13:7"])
def test_bad_memory_specs_are_refused(text):
    with pytest.raises(InputError):
        IndexConfig.parse(text)


def test_memory_spec_forms():
    assert IndexConfig.parse("off") is None
    assert IndexConfig.parse("13:21") == IndexConfig(k=13, bits=21)
    assert IndexConfig.parse("15").k == 15
