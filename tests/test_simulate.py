"""Read simulator: error rates, strands, truth in ids, and `genotx simulate` through a pipe."""

import subprocess
import sys

import numpy as np
import pytest

from genotx.errors import InputError
from genotx.io import iter_records, revcomp
from genotx.shipped import data_path
from genotx.taxon.simulate import ErrorModel, ReadSimulator, parse_truth, to_fastq
from genotx.taxon.genomes import load_genomes

SMALL = ["homo_sapiens-mitochondrion.fa.gz", "deformed_wing_virus-NC_004830.fa.gz",
         "varroa_destructor_virus_1-NC_006494.fa.gz"]
BASES = "ACGTN"


@pytest.fixture(scope="module")
def genomes():
    return load_genomes([str(data_path("genomes", f)) for f in SMALL], taxa=str(data_path("genomes", "taxa.tsv")))


def _genome_seq(genomes, read_id):
    name = parse_truth(read_id)
    record = read_id.split("seq=")[1].split("|")[0]
    for g in genomes.genomes:
        for rid, codes in zip(g.ids, g.records):
            if rid.rstrip("|").split("|")[-1] == record:
                return "".join(BASES[c] for c in codes), name
    raise AssertionError(f"record {record} not found")


def _edit_distance(a: str, b: str) -> int:
    """Plain Levenshtein distance (reference implementation, one row at a time)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


@pytest.mark.parametrize("rate", [0.01, 0.05])
def test_edit_rate_matches_requested_rate(genomes, rate):
    sim = ReadSimulator(genomes, length=150, errors=ErrorModel(rate_min=rate, rate_max=rate), seed=3)
    reads = list(sim.reads(3000))
    measured = np.mean([r.errors for r in reads]) / 150
    # 3000 reads x 150 bp at rate >= 1 %: the mean's relative sd is about 2-3 %; allow 12 %.
    assert abs(measured - rate) / rate < 0.12


def test_reported_errors_bound_the_edit_distance_to_the_true_span(genomes):
    sim = ReadSimulator(genomes, length=100, errors=ErrorModel(rate_min=0.05, rate_max=0.05), seed=4)
    distances, reported = [], []
    for read in sim.reads(40):
        genome, truth = _genome_seq(genomes, read.id)
        # The read covers [pos, pos + n) of the forward strand for some n near its length.
        spans = [genome[truth.pos - 1 : truth.pos - 1 + n] for n in range(90, 113)]
        best = min(_edit_distance(read.seq, s if truth.strand == "+" else revcomp(s)) for s in spans)
        distances.append(best)
        reported.append(read.errors)
        assert best <= read.errors
    # Edits may cancel or merge, so the aligned distance is a little below the count.
    assert sum(distances) >= 0.8 * sum(reported)


def test_error_free_reads_match_the_genome_at_their_truth_position_on_both_strands(genomes):
    sim = ReadSimulator(genomes, length=80, errors=ErrorModel(rate_min=0, rate_max=0), seed=5)
    strands = set()
    for read in sim.reads(200):
        genome, truth = _genome_seq(genomes, read.id)
        forward = genome[truth.pos - 1 : truth.pos - 1 + 80]
        assert read.seq == (forward if truth.strand == "+" else revcomp(forward))
        assert read.errors == 0
        strands.add(truth.strand)
    assert strands == {"+", "-"}


def test_both_strands_are_sampled_about_equally(genomes):
    reads = list(ReadSimulator(genomes, seed=6).reads(2000))
    minus = np.mean([r.strand == "-" for r in reads])
    assert 0.45 < minus < 0.55  # binomial sd ~0.011


def test_taxon_balance_gives_each_taxon_a_similar_share(genomes):
    reads = list(ReadSimulator(genomes, seed=7).reads(3000))
    counts = np.bincount([r.taxon for r in reads], minlength=3)
    assert counts.min() > 850


def test_same_seed_gives_same_reads_and_another_seed_differs(genomes):
    a = [r.seq for r in ReadSimulator(genomes, seed=1).reads(50)]
    b = [r.seq for r in ReadSimulator(genomes, seed=1).reads(50)]
    c = [r.seq for r in ReadSimulator(genomes, seed=2).reads(50)]
    assert a == b and a != c


def test_truth_ids_parse_back_to_taxon_taxid_strand_and_position(genomes):
    for read in ReadSimulator(genomes, seed=8).reads(100):
        truth = parse_truth(read.id)
        taxon = genomes.taxa[read.taxon]
        assert (truth.taxon, truth.taxid, truth.strand, truth.pos) == (taxon.label, taxon.taxid, read.strand, read.pos)
    with pytest.raises(InputError, match="no taxon="):
        parse_truth("SRR059298.1.1")


def test_error_rate_option_accepts_a_rate_or_a_range_and_rejects_nonsense():
    assert ErrorModel.parse("0.01") == ErrorModel(rate_min=0.01, rate_max=0.01)
    assert ErrorModel.parse("0-0.03") == ErrorModel()
    for bad in ("x", "0.03-0.01", "0.9", "-1"):
        with pytest.raises(InputError):
            ErrorModel.parse(bad)


def test_reads_longer_than_every_record_are_refused(genomes):
    with pytest.raises(InputError, match="no record of at least"):
        ReadSimulator(genomes, length=20000)


def _genotx(*args, stdin=b""):
    return subprocess.run([sys.executable, "-m", "genotx", *args], input=stdin, capture_output=True)


def test_cli_writes_valid_fastq_with_truth_ids(tmp_path):
    paths = [str(data_path("genomes", f)) for f in SMALL]
    done = _genotx("simulate", *paths, "--taxa", str(data_path("genomes", "taxa.tsv")), "-n", "300",
                   "--length", "120", "--error-rate", "0.02", "--seed", "9")
    assert done.returncode == 0, done.stderr
    out = tmp_path / "reads.fq"
    out.write_bytes(done.stdout)
    records = list(iter_records([str(out)]))
    assert len(records) == 300 and {len(r.seq) for r in records} == {120}
    labels = {parse_truth(r.id).taxon for r in records}
    assert labels == {"Homo_sapiens", "Deformed_wing_virus", "Varroa_destructor_virus_1"}
    assert to_fastq([]) == ""


def test_cli_reads_taxon_tags_from_headers_without_a_table(tmp_path):
    fasta = tmp_path / "tagged.fa"
    rng = np.random.default_rng(0)
    fasta.write_text("".join(f">g{i} taxon=Species_{i} taxid={i + 1}\n{''.join(rng.choice(list('ACGT'), 500))}\n"
                             for i in range(2)))
    done = _genotx("simulate", str(fasta), "-n", "20", "--length", "50")
    assert done.returncode == 0, done.stderr
    ids = [line[1:] for line in done.stdout.decode().splitlines()[0::4]]
    assert {parse_truth(i).taxon for i in ids} == {"Species_0", "Species_1"}
    assert {parse_truth(i).taxid for i in ids} == {1, 2}


def test_cli_errors_exit_2_with_one_line(tmp_path):
    untagged = tmp_path / "plain.fa"
    untagged.write_text(">chr1\n" + "ACGT" * 100 + "\n")
    for args, message in [
        (["--error-rate", "abc"], "--error-rate 'abc'"),
        ([str(untagged)], "no taxon=NAME tag"),
        ([str(untagged), "--taxa", str(data_path("genomes", "taxa.tsv"))], "not listed in"),
        ([str(tmp_path / "missing.fa")], "no such file"),
    ]:
        done = _genotx("simulate", *args)
        assert done.returncode == 2
        err = done.stderr.decode()
        assert err.startswith("genotx: error:") and message in err and err.count("\n") == 1


def test_cli_piped_into_head_ends_quietly():
    proc = subprocess.Popen([sys.executable, "-m", "genotx", "simulate", "-n", "200000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()
    assert proc.wait(timeout=60) == 0
    assert first.startswith(b"@r000001|taxon=")
    assert proc.stderr.read() == b""
