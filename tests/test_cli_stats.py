"""`genotx stats` end to end through real pipes: columns, values, inputs, errors."""

from __future__ import annotations

import gzip
import subprocess
import sys

from conftest import DATA, REPO, genotx_env, run_genotx, tsv_rows

from genotx.io import iter_records

READS = DATA / "io_SRR059298_200.fq.gz"
PHIX = DATA / "io_phix174.fa.gz"


def reference_stats(seq: str, qual: str | None) -> tuple[int, float | None, float, float | None]:
    called = sum(c != "N" for c in seq)
    gc = sum(c in "GC" for c in seq) / called if called else None
    mean_q = sum(ord(c) - 33 for c in qual) / len(qual) if qual is not None else None
    return len(seq), gc, seq.count("N") / len(seq), mean_q


def test_stats_of_real_reads_piped_on_stdin_match_a_reference():
    proc = run_genotx("stats", stdin=READS.read_bytes())
    assert proc.returncode == 0 and proc.stderr == b""
    lines = proc.stdout.decode().splitlines()
    assert lines[0] == "#genotx 0.1.0 stats"
    assert lines[1].split("\t") == ["id", "length", "gc", "n_fraction", "mean_quality"]
    rows = tsv_rows(proc.stdout)
    records = list(iter_records([str(READS)]))
    assert [r[0] for r in rows] == [r.id for r in records]
    for row, rec in zip(rows, records):
        length, gc, n_frac, mean_q = reference_stats(rec.seq, rec.qual)
        assert int(row[1]) == length
        assert row[2] == "NA" if gc is None else abs(float(row[2]) - gc) < 1e-5
        assert abs(float(row[3]) - n_frac) < 1e-5
        assert abs(float(row[4]) - mean_q) < 1e-4


def test_stats_reads_a_fasta_file_and_stdin_dash_in_a_row():
    cat = subprocess.Popen(["cat", str(READS)], stdout=subprocess.PIPE)
    proc = subprocess.run(
        [sys.executable, "-m", "genotx", "stats", str(PHIX), "-"],
        stdin=cat.stdout, capture_output=True, env=genotx_env(), cwd=REPO, timeout=60,
    )
    cat.stdout.close()
    cat.wait()
    assert proc.returncode == 0, proc.stderr
    rows = tsv_rows(proc.stdout)
    assert rows[0][:2] == ["phix", "5386"] and rows[0][4] == "NA"
    assert len(rows) == 201 and all(len(r) == 5 for r in rows)


def test_empty_input_prints_the_header_only_and_succeeds():
    for stdin in (b"", gzip.compress(b"")):
        proc = run_genotx("stats", stdin=stdin)
        assert proc.returncode == 0 and proc.stderr == b""
        assert proc.stdout.decode().splitlines() == ["#genotx 0.1.0 stats", "id\tlength\tgc\tn_fraction\tmean_quality"]


def test_bad_input_exits_2_with_one_error_line_and_no_output():
    proc = run_genotx("stats", stdin=b"@r1\nACGT\n+\nIII\n")
    assert proc.returncode == 2
    assert proc.stderr.decode() == (
        "genotx: error: <stdin>: record 1 ('r1'): quality length 3 differs from sequence length 4\n"
    )
    assert proc.stdout == b""


def test_provenance_line_quotes_the_arguments(tmp_path):
    path = tmp_path / "my reads.fa"
    path.write_bytes(b">r\nACGT\n")
    proc = run_genotx("stats", str(path))
    assert proc.stdout.decode().splitlines()[0] == f"#genotx 0.1.0 stats '{path}'"
