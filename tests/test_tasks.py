"""Task inputs on real data slices, their error messages, metrics and the simple baselines."""

import gzip

import numpy as np
import pytest

from genotx.errors import InputError
from genotx.io import revcomp
from genotx.shipped import data_path
from genotx.tasks.baselines import LinearBaseline, kmer_profiles, ridge_baseline
from genotx.tasks.expression import grammar_value, load_values_tsv, simulate_expression
from genotx.tasks.metrics import auroc, classification_metrics, regression_metrics
from genotx.tasks.regulatory import load_class_fastas, load_labelled_tsv, stratified_split
from genotx.taxon.simulate import ErrorModel, ReadSimulator
from genotx.taxon.genomes import load_genomes, load_taxa_table, shipped_genomes, shipped_taxa
from genotx.tasks.variant import load_reference, load_variants

REPO = data_path().parent


@pytest.fixture(scope="module")
def splice():
    return load_labelled_tsv(str(data_path("labelled", "splice.tsv.gz")))


def test_shipped_genomes_are_found_and_every_heldout_species_is_also_trained():
    table = load_taxa_table(str(shipped_taxa()))
    train = {table[p.split("/")[-1]]["taxon"].name for p in shipped_genomes("train")}
    heldout = {table[p.split("/")[-1]]["taxon"].name for p in shipped_genomes("heldout")}
    assert len(train) == 10 and heldout == {"Helicobacter pylori", "Staphylococcus aureus", "Vibrio cholerae"}
    assert heldout <= train
    with pytest.raises(InputError, match="unknown split"):
        shipped_genomes("test")


def test_splice_slice_has_three_classes_and_donors_carry_gt(splice):
    assert splice.class_counts() == {"ei": 767, "ie": 765, "n": 1654}
    donors = [s for s, y in zip(splice.seqs, splice.labels) if splice.classes[y] == "ei"]
    assert sum(s[30:32] == "GT" for s in donors) == 759  # as documented for the source data


def test_class_fastas_load_oct4_and_mafk_peaks():
    data = load_class_fastas([f"oct4={data_path('labelled', 'oct4-test.fa.gz')}",
                              f"mafk={data_path('labelled', 'mafk-test.fa.gz')}"])
    assert data.classes == ["oct4", "mafk"] and data.class_counts() == {"oct4": 100, "mafk": 100}
    assert {len(s) for s in data.seqs} == {200}
    for bad in (["oct4"], [f"oct4={data_path('labelled', 'oct4-test.fa.gz')}"]):
        with pytest.raises(InputError, match="--class"):
            load_class_fastas(bad)


@pytest.mark.parametrize("content, message", [
    ("sequence\tlabel\nACGT\ta\nACXT\tb\n", "bad.tsv: line 3: invalid character 'X' at position 3"),
    ("seq\tlabel\nACGT\ta\n", "bad.tsv: line 1: header lacks column(s) sequence"),
    ("sequence\tlabel\nACGT\ta\tz\n", "bad.tsv: line 2: 3 fields, the header has 2"),
    ("sequence\tlabel\nACGT\ta\nACGT\ta\n", "need at least 2 classes"),
    ("# only a comment\n", "bad.tsv: empty file"),
])
def test_labelled_tsv_errors_name_file_and_line(tmp_path, content, message):
    path = tmp_path / "bad.tsv"
    path.write_text(content)
    with pytest.raises(InputError) as err:
        load_labelled_tsv(str(path))
    assert message in str(err.value)


def test_labelled_tsv_reads_gzip_comments_and_normalises(tmp_path):
    path = tmp_path / "ok.tsv.gz"
    with gzip.open(path, "wt") as f:
        f.write("#genotx 0.1.0 something\nid\tsequence\tlabel\nx1\tacgu\ta\nx2\tRYCA\tb\n")
    data = load_labelled_tsv(str(path))
    assert data.ids == ["x1", "x2"] and data.seqs == ["ACGT", "NNCA"] and data.labels.tolist() == [0, 1]


def test_stratified_split_keeps_class_proportions(splice):
    train, valid = stratified_split(splice.labels, 0.2, seed=1)
    assert len(np.intersect1d(train, valid)) == 0 and len(train) + len(valid) == len(splice)
    counts = np.bincount(splice.labels[valid]) / np.bincount(splice.labels)
    assert np.allclose(counts, 0.2, atol=0.01)


def test_taxa_table_errors_name_the_line(tmp_path):
    path = tmp_path / "taxa.tsv"
    path.write_text("file\tspecies\tncbi_taxid\na.fa\tX y\t12\nb.fa\tX y\t13\n")
    with pytest.raises(InputError, match="taxa.tsv: line 3: taxid 13 of 'X y' differs"):
        load_taxa_table(str(path))
    path.write_text("file\tspecies\tncbi_taxid\na.fa\tX y\tabc\n")
    with pytest.raises(InputError, match="line 2: taxid 'abc' is not a positive integer"):
        load_taxa_table(str(path))


def test_expression_example_is_marked_synthetic_and_follows_the_grammar():
    path = REPO / "examples" / "expression_synthetic.tsv"
    assert "SYNTHETIC" in path.read_text().splitlines()[0]
    data = load_values_tsv(str(path))
    again = simulate_expression(1000, length=150, seed=0)
    assert data.seqs == again.seqs and np.allclose(data.values, again.values)
    assert grammar_value("TATAAT") == 1.5
    # The -35/-10 synergy depends on the spacer: 17 bp counts, 25 bp does not.
    assert grammar_value("TTGACA" + "C" * 17 + "TATAAT") == 1.5 + 1.0 + 2.0
    assert grammar_value("TTGACA" + "C" * 25 + "TATAAT") == 1.5 + 1.0
    assert grammar_value(revcomp("GGGCGG")) == 0.5


def test_expression_values_must_be_numbers(tmp_path):
    path = tmp_path / "v.tsv"
    path.write_text("sequence\tvalue\nACGT\t1.5\nACGT\thigh\n")
    with pytest.raises(InputError, match="v.tsv: line 3: value 'high' is not a number"):
        load_values_tsv(str(path))


def test_kmer_spectrum_baseline_explains_synthetic_expression_better_than_chance():
    data = simulate_expression(1200, length=150, seed=3)
    predicted = ridge_baseline(data.seqs[:1000], data.values[:1000], data.seqs[1000:], k=4)
    assert regression_metrics(data.values[1000:], predicted)["pearson"] > 0.3


def test_variants_from_a_vcf_like_table_are_checked_against_the_reference(tmp_path):
    ref = tmp_path / "ref.fa"
    ref.write_text(">chr1 test\nACGTACGTACGGGG\n>chr2\nTTTT\n")
    reference = load_reference(str(ref))
    vcf = tmp_path / "v.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\nchr1\t3\trs1\tG\tA,T\nchr2\t2\t.\tT\tTA\n")
    variants = load_variants(str(vcf), reference)
    assert [v.id for v in variants] == ["rs1.1", "rs1.2", "chr2:2:T>TA"]
    ref_window, alt_window, i = variants[0].windows(6)
    assert ref_window[i] == "G" and alt_window[i] == "A" and len(ref_window) == 6
    for content, message in [
        ("chrom\tpos\tref\talt\nchr1\t3\tA\tT\n", "v.tsv: line 2: ref 'A' does not match chromosome 'chr1' at 3"),
        ("chrom\tpos\tref\talt\nchr9\t3\tA\tT\n", "v.tsv: line 2: chromosome 'chr9' is not in the reference"),
        ("chrom\tpos\tref\talt\nchr2\t9\tT\tA\n", "v.tsv: line 2: pos 9 is beyond the end"),
        ("chrom\tpos\tref\talt\nchr2\t1\tT\t<DEL>\n", "line 2: alt allele '<DEL>' is not a sequence"),
    ]:
        path = tmp_path / "v.tsv"
        path.write_text(content)
        with pytest.raises(InputError) as err:
            load_variants(str(path), reference)
        assert message in str(err.value)


def test_variants_given_with_their_sequence_need_no_reference(tmp_path):
    path = tmp_path / "s.tsv"
    path.write_text("sequence\tpos\talt\tlabel\nACGTACGTAC\t3\tT\t1\n")
    (variant,) = load_variants(str(path))
    assert (variant.ref, variant.alt, variant.label) == ("G", "T", "1")
    path.write_text("chrom\tpos\tref\talt\nchr1\t3\tA\tT\n")
    with pytest.raises(InputError, match="need a reference FASTA"):
        load_variants(str(path))


def test_kmer_profiles_match_a_counting_reference():
    seqs = ["ACGTACGTTAGN", "GGGTTTAAACCC", "ACN"]
    profiles = kmer_profiles(seqs, k=3).toarray()
    for seq, row in zip(seqs, profiles):
        kmers = [seq[i : i + 3] for i in range(len(seq) - 2) if "N" not in seq[i : i + 3]]
        canonical = sorted(min(k, revcomp(k)) for k in kmers)
        expected = sorted(np.unique(canonical, return_counts=True)[1] / max(1, len(kmers)))
        assert np.allclose(sorted(row[row > 0]), expected)
    # A sequence and its reverse complement have the same canonical spectrum.
    assert np.allclose(kmer_profiles([seqs[0]], 3).toarray(), kmer_profiles([revcomp(seqs[0])], 3).toarray())


def test_onehot_baseline_beats_chance_on_splice_sites(splice, tmp_path):
    train, valid = stratified_split(splice.labels, 0.25, seed=0)
    sub = train[::2]
    model = LinearBaseline(features="onehot", c=0.1).fit([splice.seqs[i] for i in sub], splice.labels[sub], splice.classes)
    seqs = [splice.seqs[i] for i in valid]
    truth = [splice.classes[y] for y in splice.labels[valid]]
    metrics = classification_metrics(truth, model.predict(seqs))
    assert metrics["accuracy"] > 0.8 and metrics["macro_f1"] > 0.8  # chance: 0.52 accuracy (majority class)
    model.save(str(tmp_path / "m.safetensors"))
    again = LinearBaseline.load(str(tmp_path / "m.safetensors"))
    assert np.allclose(again.predict_proba(seqs), model.predict_proba(seqs), atol=1e-6)


def test_kmer_baseline_beats_chance_on_simulated_reads():
    paths = shipped_genomes("train")[:5] + shipped_genomes("train")[-3:]
    genomes = load_genomes(paths, taxa=str(shipped_taxa()))
    reads = list(ReadSimulator(genomes, seed=1, errors=ErrorModel.parse("0.01")).reads(3000))
    labels = np.array([r.taxon for r in reads])
    model = LinearBaseline(features="kmer", k=4).fit([r.seq for r in reads[:2400]], labels[:2400], genomes.labels())
    probs = model.predict_proba([r.seq for r in reads[2400:]])
    truth = [genomes.labels()[y] for y in labels[2400:]]
    chance = 1 / len(genomes.taxa)
    assert classification_metrics(truth, model.predict([r.seq for r in reads[2400:]]))["accuracy"] > 2 * chance
    assert auroc(labels[2400:], probs) > 0.8


def test_unclassified_counts_as_a_miss_but_not_as_a_false_positive():
    metrics = classification_metrics(["a", "a", "b", "b"], ["a", "unclassified", "b", "b"], classes=["a", "b"])
    assert metrics["accuracy"] == 0.75
    assert metrics["macro_f1"] == pytest.approx((2 / 3 + 1.0) / 2)
