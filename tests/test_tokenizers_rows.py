"""The C row formatter of `genotx tokenize` writes exactly the bytes of the general path."""

from __future__ import annotations

import functools
import shutil
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genotx.cli.tokenize import _rows_block
from genotx.tokenizers import build_tokenizer
from genotx.tokenizers.text import TokenText, fast_rows

KINDS = [("char", 1, 1)] + [("kmer", k, s) for k, s in [(1, 1), (3, 1), (3, 2), (3, 3), (6, 1), (6, 3), (6, 6), (8, 8)]]


@functools.lru_cache(maxsize=None)
def _tokenizer(kind, k, stride):
    return build_tokenizer("char") if kind == "char" else build_tokenizer("kmer", k=k, stride=stride)


@functools.lru_cache(maxsize=None)
def _text(kind, k, stride, as_ids):  # k = 8: 65,546 token texts, built once rather than per example
    return TokenText(_tokenizer(kind, k, stride), as_ids)


def test_row_formatter_is_built_where_a_c_compiler_exists():
    if shutil.which("cc") or shutil.which("gcc"):
        assert fast_rows(build_tokenizer("char")) is not None


@pytest.mark.parametrize("kind, k, stride", KINDS)
@pytest.mark.parametrize("as_ids", [False, True])
@settings(max_examples=60, deadline=None)
@given(seqs=st.lists(st.text("ACGTN", min_size=1, max_size=40) | st.text("ACGT", min_size=1, max_size=40),
                     min_size=1, max_size=8))
def test_fast_rows_equal_the_general_path_byte_for_byte(kind, k, stride, as_ids, seqs):
    tok = _tokenizer(kind, k, stride)
    fast = fast_rows(tok, as_ids)
    if fast is None:
        pytest.skip("genotx.tokenizers._rows not built")
    batch = SimpleNamespace(ids=[f"r{i}" for i in range(len(seqs))], seqs=seqs)
    assert fast(batch.ids, batch.seqs) == _rows_block(_text(kind, k, stride, as_ids), batch).encode()


def test_fast_rows_decline_letters_outside_the_normal_form():
    fast = fast_rows(build_tokenizer("kmer", k=3))
    if fast is None:
        pytest.skip("genotx.tokenizers._rows not built")
    assert fast(["r1"], ["ACGR"]) is None
    assert fast(["r1"], ["ACGT"]) == b"r1\t4\t2\tACG T\n"
    # ids: ACG = 10 + 0b000110; overlapping windows holding N are [UNK] = 1; non-overlapping ones split
    assert fast_rows(build_tokenizer("kmer", k=3, stride=1), True)(["r1"], ["ACGNA"]) == b"r1\t5\t3\t16 1 1\n"
    assert fast_rows(build_tokenizer("kmer", k=3), True)(["r1"], ["ACGNA"]) == b"r1\t5\t3\t16 9 5\n"


def _real_reads(with_n_every: int = 7) -> list[str]:
    """150 bp reads of a real genome slice, some with N, plus short and odd-length ones."""
    from genotx.io import iter_records

    seq = "".join(r.seq for r in iter_records(["tests/data/tok_saureus.fa.gz"]))[:60_000]
    reads = [seq[i : i + 150] for i in range(0, len(seq) - 150, 150)]
    for i in range(0, len(reads), with_n_every):
        at = i % 150
        reads[i] = reads[i][:at] + "N" + reads[i][at + 1 :]
    return reads + ["A", "ACGTACG", "NNNNNNNNN", "ACGTN" * 3]


@pytest.mark.parametrize("kind, k, stride", KINDS)
@pytest.mark.parametrize("as_ids", [False, True])
def test_fast_rows_of_real_reads_into_a_reused_buffer_equal_the_general_path(kind, k, stride, as_ids, monkeypatch):
    monkeypatch.chdir(__import__("pathlib").Path(__file__).parent.parent)
    tok = _tokenizer(kind, k, stride)
    fast = fast_rows(tok, as_ids)
    if fast is None:
        pytest.skip("genotx.tokenizers._rows not built")
    reads = _real_reads()
    buffer = bytearray()
    for size in (len(reads), 3, 1, 97):  # the buffer grows once, then is reused by smaller batches
        batch = SimpleNamespace(ids=[f"r{i} x" for i in range(size)], seqs=reads[:size])
        expected = _rows_block(_text(kind, k, stride, as_ids), batch).encode()
        assert fast(batch.ids, batch.seqs) == expected
        used = fast(batch.ids, batch.seqs, buffer)
        assert bytes(buffer[:used]) == expected
