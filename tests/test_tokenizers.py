"""Fixed-vocabulary tokenizers (char, kmer) and the shared file format."""

from __future__ import annotations

import json
from itertools import product

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genotx.errors import InputError
from genotx.tokenizers import (
    CLS_ID,
    MASK_ID,
    PAD_ID,
    SEP_ID,
    UNK_ID,
    build_tokenizer,
    load_tokenizer,
    revcomp,
)
from genotx.tokenizers.base import Tokenizer

sequences = st.text(alphabet="ACGTN", min_size=0, max_size=80)
acgt_sequences = st.text(alphabet="ACGT", min_size=0, max_size=80)
kmer_settings = st.integers(1, 8).flatmap(lambda k: st.tuples(st.just(k), st.integers(1, k)))


def kmer_reference(seq: str, k: int, stride: int) -> list[str]:
    """Token strings by the documented rules, written as a plain loop."""
    tokens, start = [], 0
    while start + k <= len(seq):
        window = seq[start : start + k]
        if "N" not in window:
            tokens.append(window)
        elif stride == k:
            tokens.extend(window)
        else:
            tokens.append("[UNK]")
        start += stride
    last_end = start - stride + k if start > 0 else 0
    tokens.extend(seq[last_end:])
    return tokens


def test_special_ids_are_fixed_for_every_kind():
    assert (PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID) == (0, 1, 2, 3, 4)
    for tok in (build_tokenizer("char"), build_tokenizer("kmer", k=3, stride=1)):
        assert tok.tokens([0, 1, 2, 3, 4]) == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@settings(max_examples=200, deadline=None)
@given(sequences)
def test_char_decode_inverts_encode(seq):
    tok = build_tokenizer("char")
    ids = tok.encode(seq)
    assert ids.dtype == np.int32 and len(ids) == len(seq)
    assert tok.decode(ids) == seq


@settings(max_examples=300, deadline=None)
@given(sequences, kmer_settings)
def test_kmer_tokens_follow_the_documented_rules(seq, ks):
    k, stride = ks
    tok = build_tokenizer("kmer", k=k, stride=stride)
    ids = tok.encode(seq)
    assert tok.tokens(ids) == kmer_reference(seq, k, stride)
    starts = tok.offsets(seq)[:, 0]
    assert np.all(np.diff(starts) > 0)


@settings(max_examples=200, deadline=None)
@given(sequences, st.integers(1, 8))
def test_nonoverlapping_kmer_decode_inverts_encode_even_with_n(seq, k):
    tok = build_tokenizer("kmer", k=k, stride=k)
    assert tok.decode(tok.encode(seq)) == seq


@settings(max_examples=200, deadline=None)
@given(acgt_sequences, kmer_settings)
def test_overlapping_kmer_decode_inverts_encode_without_n(seq, ks):
    tok = build_tokenizer("kmer", k=ks[0], stride=ks[1])
    assert tok.decode(tok.encode(seq)) == seq


@settings(max_examples=100, deadline=None)
@given(st.lists(sequences, max_size=8), kmer_settings)
def test_encode_batch_equals_encode_one_by_one(seqs, ks):
    for tok in (build_tokenizer("char"), build_tokenizer("kmer", k=ks[0], stride=ks[1])):
        batch = tok.encode_batch(seqs)
        assert len(batch) == len(seqs)
        for ids, seq in zip(batch, seqs):
            assert ids.tolist() == tok.encode(seq).tolist()


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(alphabet="ACGTNacgtn", min_size=0, max_size=40), max_size=12), kmer_settings)
def test_kmer_batches_follow_the_documented_rules_sequence_by_sequence(seqs, ks):
    """The batch encoder lays out windows and tails of all sequences at once; each must
    still get exactly the tokens of the plain-loop reference."""
    tok = build_tokenizer("kmer", k=ks[0], stride=ks[1])
    ids, counts = tok.encode_flat(seqs)
    assert counts.tolist() == [len(kmer_reference(s.upper(), *ks)) for s in seqs]
    assert tok.tokens(ids) == [t for s in seqs for t in kmer_reference(s.upper(), *ks)]


@settings(max_examples=100, deadline=None)
@given(sequences, kmer_settings)
def test_offsets_cover_the_bases_each_token_spells(seq, ks):
    tok = build_tokenizer("kmer", k=ks[0], stride=ks[1])
    ids = tok.encode(seq)
    offsets = tok.offsets(seq)
    assert offsets.shape == (len(ids), 2) and offsets.dtype == np.int64
    for token, (start, end) in zip(tok.tokens(ids), offsets.tolist()):
        assert token == "[UNK]" and "N" in seq[start:end] or seq[start:end] == token
    if len(seq):
        assert offsets[:, 1].max() == len(seq)


def test_lowercase_and_ambiguity_codes_are_normalised():
    tok = build_tokenizer("char")
    assert tok.decode(tok.encode("acgtuRY")) == "ACGTTNN"


def test_invalid_character_is_an_input_error():
    with pytest.raises(InputError, match="position 3"):
        build_tokenizer("kmer", k=2).encode("AC-T")


@pytest.mark.parametrize("k, stride", [(0, 1), (9, 1), (3, 4), (3, 0)])
def test_kmer_settings_out_of_range_are_refused(k, stride):
    with pytest.raises(InputError):
        build_tokenizer("kmer", k=k, stride=stride)


@pytest.mark.parametrize("k", [1, 2, 3, 6])
def test_kmer_complement_ids_map_each_kmer_to_its_revcomp(k):
    tok = build_tokenizer("kmer", k=k, stride=k)
    comp = tok.complement_ids
    assert comp[:5].tolist() == [0, 1, 2, 3, 4]
    strings = tok.tokens(np.arange(5, tok.vocab_size))
    assert tok.tokens(comp[5:]) == [revcomp(s) for s in strings]
    assert build_tokenizer("kmer", k=k + 1, stride=1).complement_ids is None


@settings(max_examples=100, deadline=None)
@given(acgt_sequences.filter(lambda s: len(s) % 4 == 0))
def test_kmer_tokens_of_revcomp_are_revcomp_of_tokens_when_length_is_a_multiple_of_k(seq):
    tok = build_tokenizer("kmer", k=4, stride=4)
    assert tok.encode(revcomp(seq)).tolist() == tok.complement_ids[tok.encode(seq)][::-1].tolist()


def test_all_kmers_are_in_the_vocabulary_in_lexicographic_order():
    tok = build_tokenizer("kmer", k=3, stride=3)
    assert tok.vocab_size == 10 + 64
    assert tok.tokens(range(10, 74)) == ["".join(p) for p in product("ACGT", repeat=3)]


@pytest.mark.parametrize("kind, options", [("char", {}), ("kmer", {"k": 5, "stride": 2})])
def test_save_and_load_round_trip_exactly(tmp_path, kind, options):
    tok = build_tokenizer(kind, **options)
    path = tmp_path / "tok.json"
    tok.save(str(path))
    again = load_tokenizer(str(path))
    assert again == tok and again.to_dict() == tok.to_dict()
    assert Tokenizer.from_dict(json.loads(path.read_text())).encode("ACGTNACG").tolist() == tok.encode(
        "ACGTNACG"
    ).tolist()


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"format": "genotx-tokenizer", "version": 99, "kind": "char"}', "unsupported tokenizer version 99"),
        ('{"format": "other", "version": 1}', "not a genotx tokenizer"),
        ('{"format": "genotx-tokenizer", "version": 1, "kind": "wordpiece"}', "unknown tokenizer kind"),
        ('{"format": "genotx-tokenizer", "version": 1, "kind": "kmer", "k": "6", "stride": 6}', "'k' must be int"),
        ('{"format": "genotx-tokenizer", "version": 1, "kind": "char", "vocab": ["A"]}', "does not match"),
    ],
)
def test_malformed_tokenizer_file_is_an_input_error_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InputError, match=message) as caught:
        load_tokenizer(str(path))
    assert str(path) in str(caught.value)
