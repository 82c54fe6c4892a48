"""Trained tokenizers: plain BPE and reverse-complement-aware BPE (rcbpe)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genotx.errors import InputError
from genotx.io import iter_records
from genotx.tokenizers import load_tokenizer, revcomp, train_tokenizer
from genotx.tokenizers.rcbpe import RcBpeTokenizer
from genotx.tokenizers.symmetric import NO_RANK, select_pairs

DATA = Path(__file__).parent / "data"
ECOLI = str(DATA / "tok_ecoli.fa.gz")
SAUREUS = str(DATA / "tok_saureus.fa.gz")


def genome(path: str) -> str:
    return "".join(r.seq for r in iter_records([path]))


@pytest.fixture(scope="module")
def rcbpe():
    return train_tokenizer("rcbpe", [ECOLI], vocab_size=512, seed=0)


@pytest.fixture(scope="module")
def bpe():
    return train_tokenizer("bpe", [ECOLI], vocab_size=512, seed=0)


def windows(seq: str, rng: np.random.Generator, count: int, longest: int) -> list[str]:
    lengths = rng.integers(1, longest, count)
    starts = rng.integers(0, len(seq) - longest, count)
    return [seq[s : s + n] for s, n in zip(starts.tolist(), lengths.tolist())]


def random_sequences(rng: np.random.Generator, count: int, longest: int) -> list[str]:
    """Random DNA with N, homopolymers and reverse-complement palindromes mixed in."""
    out = []
    for i in range(count):
        n = int(rng.integers(1, longest))
        seq = "".join(rng.choice(list("ACGTN"), n, p=[0.29, 0.2, 0.2, 0.29, 0.02]))
        if i % 4 == 1:
            seq = seq + revcomp(seq)  # a palindrome
        elif i % 4 == 2:
            seq = seq[: n // 2] + "A" * int(rng.integers(2, 12)) + seq[n // 2 :]
        elif i % 4 == 3:
            seq = seq + "N" + revcomp(seq)  # an odd-length palindrome
        out.append(seq)
    return out


def rc_consistent(tok, seqs: list[str]) -> np.ndarray:
    forward = tok.encode_batch(seqs)
    reverse = tok.encode_batch([revcomp(s) for s in seqs])
    comp = tok.complement_ids
    return np.array([np.array_equal(comp[f][::-1], r) for f, r in zip(forward, reverse)])


def test_rcbpe_tokens_of_revcomp_are_revcomp_of_tokens_on_genomic_windows(rcbpe):
    rng = np.random.default_rng(1)
    seqs = windows(genome(ECOLI), rng, 1500, 400) + windows(genome(SAUREUS), rng, 1500, 400)
    ok = rc_consistent(rcbpe, seqs)
    assert ok.all(), f"counter-example: {seqs[int(np.argmin(ok))]}"


def test_rcbpe_tokens_of_revcomp_are_revcomp_of_tokens_on_random_sequences(rcbpe):
    seqs = random_sequences(np.random.default_rng(2), 3000, 200)
    ok = rc_consistent(rcbpe, seqs)
    assert ok.all(), f"counter-example: {seqs[int(np.argmin(ok))]}"


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="ACGTN", min_size=0, max_size=120))
def test_rcbpe_revcomp_property_holds_for_any_sequence(rcbpe, seq):
    assert rc_consistent(rcbpe, [seq]).all()


def test_rcbpe_revcomp_property_holds_on_a_whole_genome_slice(rcbpe):
    assert rc_consistent(rcbpe, [genome(SAUREUS)]).all()


def test_plain_bpe_revcomp_consistency_is_measured_not_promised(bpe):
    seqs = windows(genome(SAUREUS), np.random.default_rng(3), 300, 300)
    ids = {t: i for i, t in enumerate(bpe.vocab)}
    same = 0
    for seq, fwd, rev in zip(seqs, bpe.encode_batch(seqs), bpe.encode_batch([revcomp(s) for s in seqs])):
        same += [ids.get(revcomp(t), -1) for t in bpe.tokens(fwd)][::-1] == rev.tolist()
    print(f"plain bpe: {same}/{len(seqs)} windows RC-consistent")
    assert 0 <= same <= len(seqs)


@pytest.mark.parametrize("kind", ["bpe", "rcbpe"])
def test_trained_decode_inverts_encode_with_n_and_odd_lengths(kind, bpe, rcbpe):
    tok = {"bpe": bpe, "rcbpe": rcbpe}[kind]
    seqs = random_sequences(np.random.default_rng(4), 200, 90) + windows(genome(SAUREUS), np.random.default_rng(5), 200, 301)
    for seq, ids in zip(seqs, tok.encode_batch(seqs)):
        assert ids.dtype == np.int32
        assert tok.decode(ids) == seq
        assert ids.tolist() == tok.encode(seq).tolist()


@pytest.mark.parametrize("kind", ["bpe", "rcbpe"])
def test_trained_offsets_spell_each_token(kind, bpe, rcbpe):
    tok = {"bpe": bpe, "rcbpe": rcbpe}[kind]
    seq = genome(SAUREUS)[:3000] + "NNACGTN"
    ids = tok.encode(seq)
    for token, (start, end) in zip(tok.tokens(ids), tok.offsets(seq).tolist()):
        assert seq[start:end] == token


def test_rcbpe_compresses_within_five_percent_of_bpe_on_the_training_genome(bpe, rcbpe):
    seq = genome(ECOLI)
    per_token = {name: len(seq) / len(t.encode(seq)) for name, t in [("bpe", bpe), ("rcbpe", rcbpe)]}
    print(f"bases per token on the E. coli slice: {per_token}")
    assert per_token["rcbpe"] >= 0.95 * per_token["bpe"]


def test_rcbpe_vocabulary_is_closed_under_revcomp(rcbpe):
    comp = rcbpe.complement_ids
    assert 510 <= rcbpe.vocab_size <= 512 and comp.shape == (rcbpe.vocab_size,)
    assert (comp[comp] == np.arange(rcbpe.vocab_size)).all()
    assert rcbpe.tokens(comp[5:]) == [revcomp(t) for t in rcbpe.vocab[5:]]


def test_bpe_merges_reproduce_a_hand_checked_example(tmp_path):
    # Words: ACACAC, GTGTGT (its reverse complement) and AC... counts: AC 3+0, CA 2, GT 3, TG 2.
    # Ties on the highest count break on the pair ids, so (A, C) then (G, T); then AC+AC, GT+GT.
    path = tmp_path / "tiny.fa"
    path.write_text(">r1\nACACAC\n")
    tok = train_tokenizer("bpe", [str(path)], vocab_size=14)
    assert tok.merges == [("A", "C"), ("G", "T"), ("AC", "AC"), ("GT", "GT")]
    assert tok.tokens(tok.encode("ACACAC")) == ["ACAC", "AC"]


def test_rcbpe_merges_reproduce_a_hand_checked_example(tmp_path):
    # ACACAC: pairs AC x3 (mirror GT), CA x2 (mirror TG). Class AC|GT saves 3 tokens for 2
    # entries; it becomes AC AC AC, then AC+AC (mirror GT+GT) counts 2, a stuck run of two.
    path = tmp_path / "tiny.fa"
    path.write_text(">r1\nACACAC\n")
    tok = train_tokenizer("rcbpe", [str(path)], vocab_size=12)
    assert tok.classes == [("A", "C")]
    assert tok.vocab[-2:] == ["AC", "GT"]
    assert tok.tokens(tok.encode("ACACAC")) == ["AC", "AC", "AC"]
    assert tok.tokens(tok.encode("GTGTGT")) == ["GT", "GT", "GT"]


@pytest.mark.parametrize("kind", ["bpe", "rcbpe"])
def test_training_is_deterministic_for_a_fixed_seed(kind):
    first = train_tokenizer(kind, [SAUREUS], vocab_size=300, seed=7)
    again = train_tokenizer(kind, [SAUREUS], vocab_size=300, seed=7)
    assert first.to_dict() == again.to_dict()
    assert first.training["seed"] == 7 and first.training["bases"] == 60000


@pytest.mark.parametrize("kind", ["bpe", "rcbpe"])
def test_trained_tokenizer_save_and_load_round_trip_exactly(tmp_path, kind, bpe, rcbpe):
    tok = {"bpe": bpe, "rcbpe": rcbpe}[kind]
    path = tmp_path / "tok.json"
    tok.save(str(path))
    again = load_tokenizer(str(path))
    assert again.to_dict() == tok.to_dict()
    seq = genome(SAUREUS)[:5000]
    assert again.encode(seq).tolist() == tok.encode(seq).tolist()


def test_rcbpe_file_with_a_broken_merge_list_is_an_input_error(tmp_path, rcbpe):
    d = rcbpe.to_dict()
    d["merges"] = [["ACGT", "A"]] + d["merges"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(d))
    with pytest.raises(InputError, match="no earlier merge"):
        load_tokenizer(str(path))


def test_training_on_an_empty_input_is_an_input_error(tmp_path):
    path = tmp_path / "empty.fa"
    path.write_text("")
    for kind in ("bpe", "rcbpe"):
        with pytest.raises(InputError, match="no sequence"):
            train_tokenizer(kind, [str(path)], vocab_size=64)


def test_vocabulary_too_small_is_an_input_error():
    with pytest.raises(InputError, match="vocabulary size"):
        train_tokenizer("rcbpe", [SAUREUS], vocab_size=8)


def test_select_pairs_reads_the_same_from_either_end():
    rng = np.random.default_rng(6)
    for _ in range(2000):
        ranks = rng.choice([0, 1, 2, 3, np.iinfo(np.int32).max], int(rng.integers(1, 30))).astype(np.int32)
        forward = set(select_pairs(ranks).tolist())
        mirrored = {ranks.size - 1 - j for j in select_pairs(ranks[::-1].copy()).tolist()}
        assert forward == mirrored
        assert all(j + 1 not in forward for j in forward)


def rcbpe_by_whole_rounds(tok, seq: str) -> list[int]:
    """rcbpe written plainly: for each band, rounds over every adjacent pair of the
    sequence until none merges (the encoder visits only pairs near the last changes)."""
    merges = {}
    for rank, (left, right) in enumerate(tok.classes):
        for a, b in {(left, right), (revcomp(right), revcomp(left))}:
            merges[tok.index[a], tok.index[b]] = (rank, tok.index[a + b])
    ids = [tok.index[base] for base in seq]
    for high in tok.bands:
        while len(ids) > 1:
            ranks = np.array([merges.get(pair, (NO_RANK,))[0] for pair in zip(ids, ids[1:])], dtype=np.int32)
            chosen = select_pairs(np.where(ranks < high, ranks, NO_RANK).astype(np.int32)).tolist()
            if not chosen:
                break
            for j in reversed(chosen):
                ids[j : j + 2] = [merges[ids[j], ids[j + 1]][1]]
    return ids


def test_rcbpe_encoder_equals_whole_rounds_over_every_pair(rcbpe):
    rng = np.random.default_rng(7)
    seqs = windows(genome(SAUREUS), rng, 150, 300) + random_sequences(rng, 150, 120)
    seqs += ["A" * n for n in range(1, 12)] + ["AT" * n for n in range(1, 8)]
    for seq, ids in zip(seqs, rcbpe.encode_batch(seqs)):
        assert ids.tolist() == rcbpe_by_whole_rounds(rcbpe, seq), seq


def test_rcbpe_without_merges_writes_single_bases():
    tok = RcBpeTokenizer([], [])
    assert [ids.tolist() for ids in tok.encode_batch(["ACGTN", ""])] == [[5, 6, 7, 8, 9], []]


def _c_and_numpy_rounds(rcbpe, seqs) -> tuple[list, list]:
    """rcbpe tokens of ``seqs`` with the C merge rounds, then with the numpy rounds (the reference)."""
    import genotx.tokenizers.symmetric as symmetric

    if symmetric._merge_rounds is None:
        pytest.skip("genotx.tokenizers._symmetric not built")
    fast = rcbpe.encode_batch(seqs)
    c_rounds, symmetric._merge_rounds = symmetric._merge_rounds, None
    try:
        reference = rcbpe.encode_batch(seqs)
    finally:
        symmetric._merge_rounds = c_rounds
    return [t.tolist() for t in fast], [t.tolist() for t in reference]


@settings(max_examples=40, deadline=None)
@given(seqs=st.lists(st.text("ACGTN", max_size=120) | st.text("AT", max_size=60) | st.text("ACGT", max_size=300),
                     min_size=1, max_size=12))
def test_rcbpe_merge_rounds_in_c_encode_exactly_as_the_numpy_rounds(rcbpe, seqs):
    fast, reference = _c_and_numpy_rounds(rcbpe, seqs)
    assert fast == reference


def test_rcbpe_merge_rounds_in_c_encode_genomic_reads_and_windows_as_the_numpy_rounds(rcbpe):
    seq = genome(SAUREUS)
    batches = [[seq[i : i + 150] for i in range(0, 150 * 600, 150)], [seq[i : i + 10_000] for i in range(0, 60_000, 10_000)]]
    for batch in batches:
        fast, reference = _c_and_numpy_rounds(rcbpe, batch)
        assert fast == reference and len(fast) == len(batch)
