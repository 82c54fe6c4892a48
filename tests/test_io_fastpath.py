"""The C fast path of the FASTQ reader gives exactly the strict parser's records and errors."""

from __future__ import annotations

import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genotx.errors import InputError
from genotx.io import fastq

needs_fast = pytest.mark.skipif(fastq.fast is None, reason="genotx.io._fastq not built (no C compiler)")


def test_fast_path_is_built_where_a_c_compiler_exists():
    if shutil.which("cc") or shutil.which("gcc"):
        assert fastq.fast is not None, "pip install -e . should have built genotx/io/_fastq.c"


def _outcome(data: bytes, cuts: list[int], use_fast: bool, batch: int = 3, keep_quals: bool = True):
    pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]
    try:
        return list(fastq.fastq_records(iter(pieces), "x.fq", batch, use_fast=use_fast, keep_quals=keep_quals))
    except InputError as exc:
        return f"error: {exc}"


def _without_quals(outcome):
    return outcome if isinstance(outcome, str) else [(first, i, s, None) for first, i, s, _ in outcome]


ids = st.text("abcXYZ019_:./", min_size=1, max_size=8)
comments = st.sampled_from(["", " 1:N:0", "\tlen=5", " a b"])
seqs = st.text("ACGTNacgtnRYUu", min_size=1, max_size=30)


@st.composite
def fastq_text(draw):
    records = []
    for _ in range(draw(st.integers(0, 12))):
        seq = draw(seqs)
        qual = draw(st.text("!#5AIJ~", min_size=len(seq), max_size=len(seq)))
        plus = draw(st.sampled_from(["+", "+", "+name"]))
        records.append(f"@{draw(ids)}{draw(comments)}\n{seq}\n{plus}\n{qual}\n")
    return "".join(records).encode()


@needs_fast
@settings(max_examples=300, deadline=None)
@given(fastq_text(), st.lists(st.integers(0, 2000), max_size=5))
def test_fast_and_strict_paths_give_the_same_records(data, cuts):
    cuts = sorted(c % (len(data) + 1) for c in cuts)
    fast_result, strict_result = _outcome(data, cuts, True), _outcome(data, cuts, False)
    assert fast_result == strict_result


@needs_fast
@settings(max_examples=400, deadline=None)
@given(fastq_text(), st.integers(0, 10_000), st.sampled_from([b"\r", b"\n", b"\x01", b"-", b"@", b"+", b" ", b"\xc3",
                                                              b"\n\n", b"", b"I"]),
       st.lists(st.integers(0, 2000), max_size=3), st.booleans())
def test_fast_and_strict_paths_give_the_same_error_or_records_on_damaged_input(data, at, byte, cuts, replace):
    at = at % (len(data) + 1)
    damaged = data[:at] + byte + data[at + int(replace):]
    cuts = sorted(c % (len(damaged) + 1) for c in cuts)
    assert _outcome(damaged, cuts, True) == _outcome(damaged, cuts, False)


@needs_fast
@settings(max_examples=300, deadline=None)
@given(fastq_text(), st.integers(0, 10_000), st.sampled_from([b"\x01", b"\xc3", b" ", b"I", b"\n"]),
       st.lists(st.integers(0, 2000), max_size=3), st.booleans())
def test_dropping_qualities_keeps_their_checks_and_the_records(data, at, byte, cuts, damage):
    """keep_quals=False (tokenize, predict): same records and errors, only without the qualities."""
    at = at % (len(data) + 1)
    data = data[:at] + byte + data[at + 1 :] if damage else data
    cuts = sorted(c % (len(data) + 1) for c in cuts)
    reference = _without_quals(_outcome(data, cuts, False))
    assert _outcome(data, cuts, True, keep_quals=False) == reference
    assert _outcome(data, cuts, False, keep_quals=False) == reference


@needs_fast
def test_a_record_longer_than_the_carry_limit_goes_to_the_strict_parser():
    seq = b"ACGT" * (fastq.FAST_CARRY_LIMIT // 2)
    data = b"@long\n" + seq + b"\n+\n" + b"I" * len(seq) + b"\n@short\nAC\n+\nII\n"
    pieces = [data[i : i + 65536] for i in range(0, len(data), 65536)]
    batches = list(fastq.fastq_records(iter(pieces), "x.fq", 10))
    assert [b[1] for b in batches] == [["long", "short"]] and batches[0][2][0] == seq.decode()
