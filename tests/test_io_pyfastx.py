"""Why genotx parses FASTA/FASTQ itself: malformed input that pyfastx accepts silently.

Each test shows pyfastx (the version installed) returning wrong records without
an error, and genotx's reader rejecting the same input with a precise message.
If a future pyfastx raises on one of these inputs, its test fails: the reader
could then use pyfastx for that case.
"""

from __future__ import annotations

import gzip

import pytest

from genotx.errors import InputError
from genotx.io import iter_records

pyfastx = pytest.importorskip("pyfastx")


def pyfastx_records(path, fmt):
    return [tuple(r) for r in pyfastx.Fastx(str(path), format=fmt)]


def genotx_error(path) -> str:
    with pytest.raises(InputError) as err:
        list(iter_records([str(path)]))
    return str(err.value)


def test_pyfastx_silently_stops_at_a_quality_length_mismatch(tmp_path):
    path = tmp_path / "qual.fq"
    path.write_bytes(b"@r1\nACGT\n+\nIIII\n@r2\nACGT\n+\nIII\n@r3\nACGT\n+\nIIII\n")
    assert pyfastx_records(path, "fastq") == [("r1", "ACGT", "IIII")]  # r2 and r3 are gone
    assert "record 2 ('r2'): quality length 3 differs from sequence length 4" in genotx_error(path)


def test_pyfastx_merges_a_record_without_plus_line_into_a_longer_sequence(tmp_path):
    path = tmp_path / "plus.fq"
    path.write_bytes(b"@r1\nACGT\nIIII\n@r2\nACGT\n+\nIIII\n")
    records = pyfastx_records(path, "fastq")
    assert records[0][:2] == ("r1", "ACGTIIII")  # the quality line became sequence
    assert "record 1 ('r1'): third line must start with '+'" in genotx_error(path)


def test_pyfastx_returns_the_readable_part_of_a_truncated_gzip_file(tmp_path):
    data = b"".join(b"@r%d\nACGTACGTAC\n+\nIIIIIIIIII\n" % i for i in range(2000))
    packed = gzip.compress(data)
    path = tmp_path / "cut.fq.gz"
    path.write_bytes(packed[: len(packed) // 2])
    assert 0 < len(pyfastx_records(path, "fastq")) < 2000
    assert "truncated gzip file" in genotx_error(path)


def test_pyfastx_drops_sequence_before_the_first_fasta_header(tmp_path):
    path = tmp_path / "nohead.fa"
    path.write_bytes(b"ACGTACGT\n>r1\nACGT\n")
    assert pyfastx_records(path, "fasta") == [("r1", "ACGT")]
    assert "not FASTA or FASTQ" in genotx_error(path)
