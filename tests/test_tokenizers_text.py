"""Token columns built for whole batches (genotx.tokenizers.text) against a per-read join."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genotx.errors import InputError
from genotx.io import iter_records
from genotx.tokenizers import build_tokenizer, train_tokenizer
from genotx.tokenizers.text import TokenText

SAUREUS = str(Path(__file__).parent / "data" / "tok_saureus.fa.gz")
batches = st.lists(st.text(alphabet="ACGTNacgtn", min_size=0, max_size=60), max_size=10)
kinds = st.sampled_from([("char", 1, 1), ("kmer", 6, 6), ("kmer", 6, 1), ("kmer", 3, 2), ("kmer", 1, 1)])


def reference_rows(tok, seqs: list[str], as_ids: bool) -> list[str]:
    """One read at a time: the token strings (or ids) joined by spaces."""
    rows = []
    for seq in seqs:
        ids = tok.encode(seq)
        rows.append(" ".join(map(str, ids.tolist())) if as_ids else " ".join(tok.tokens(ids)))
    return rows


@settings(max_examples=150, deadline=None)
@given(batches, kinds, st.booleans())
def test_batch_rows_equal_tokens_joined_read_by_read(seqs, kind, as_ids):
    name, k, stride = kind
    tok = build_tokenizer(name, k=k, stride=stride)
    rows, counts = TokenText(tok, as_ids).encode_rows(seqs)
    assert rows == reference_rows(tok, seqs, as_ids)
    assert counts.tolist() == [len(tok.encode(s)) for s in seqs]


@pytest.mark.parametrize("kind", ["bpe", "rcbpe"])
def test_trained_tokenizer_rows_equal_tokens_joined_read_by_read(kind):
    tok = train_tokenizer(kind, [SAUREUS], vocab_size=300)
    genome = next(iter_records([SAUREUS])).seq
    seqs = [genome[i : i + n] for i, n in zip(range(0, 30000, 997), [1, 150, 37, 0, 250, 2] * 6)]
    seqs += ["NNACGTN", "ACGTNNNNACGT"]
    for as_ids in (False, True):
        rows, counts = TokenText(tok, as_ids).encode_rows(seqs)
        assert rows == reference_rows(tok, seqs, as_ids)


def test_char_rows_refuse_a_character_that_is_not_a_base():
    with pytest.raises(InputError, match="invalid character '-'"):
        TokenText(build_tokenizer("char")).encode_rows(["ACGT", "AC-G"])
