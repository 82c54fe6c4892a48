"""The pieces of bench/extrapolation.py: the long-range corpus, the fixed scored bases, the copy baseline."""

from __future__ import annotations

import numpy as np
import pytest

from genotx.grid.extrapolate import CANNOT_RUN, context_windows, next_base_nats, scored_block_starts
from genotx.grid.longrange import (
    LOG4, copy_baseline_fit, copy_baseline_nats, distance_class, long_range_genome, oracle_loss,
)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_copied_base_equals_the_base_its_distance_back_and_distances_stay_in_range(seed):
    genome = long_range_genome(20_000, seq_len=64, seed=seed, block=(8, 16), copy_fraction=0.6)
    copied = np.flatnonzero(genome.distance)
    d = genome.distance[copied]
    assert np.array_equal(genome.codes[copied], genome.codes[copied - d])
    assert d.min() >= 16 and d.max() <= 256
    # both classes of the scorer occur, and about the stated share of bases is copied
    assert 0.4 < len(copied) / len(genome.codes) < 0.7
    assert set(distance_class(genome.distance, 64)) == {"near", "far", "fresh"}


def test_copies_come_in_blocks_of_the_stated_sizes_with_one_distance_each():
    genome = long_range_genome(20_000, seq_len=64, seed=3, block=(8, 12), copy_fraction=1.0)
    d = genome.distance
    edges = np.flatnonzero(np.diff(d) != 0) + 1
    runs = np.split(d, edges)
    inner = [r for r in runs[1:-1] if r[0] > 0]  # the last run may be cut by the end of the sequence
    # adjacent copied blocks can share a distance by chance, merging their runs; one block is never split
    assert all(len(r) >= 8 and len(set(r)) == 1 for r in inner)


def test_oracle_loss_counts_log4_for_fresh_bases_only():
    assert oracle_loss(np.array([0, 5, 0, 7])) == pytest.approx(LOG4 / 2)


def test_a_block_shorter_than_its_distance_is_required():
    with pytest.raises(ValueError):
        long_range_genome(1000, seq_len=64, seed=0, block=(16, 32), min_distance=20)


@pytest.mark.parametrize("seq_len, longest, length", [(8, 32, 100), (16, 64, 64), (16, 64, 200)])
def test_every_window_length_scores_the_same_bases(seq_len, longest, length):
    codes = np.random.default_rng(0).integers(0, 4, size=length).astype(np.uint8)
    starts = scored_block_starts(length, seq_len=seq_len, longest=longest)
    positions = {}
    for window in range(seq_len, longest + 1, seq_len):
        windows, pos = context_windows(codes, starts, seq_len=seq_len, window=window)
        assert windows.shape == (len(starts), window)
        assert np.array_equal(windows[:, -seq_len:], codes[pos])  # the scored bases end every window
        assert np.array_equal(windows, codes[pos[:, -1:] - window + 1 + np.arange(window)])  # contiguous context
        positions[window] = pos
    first = positions[seq_len]
    assert all(np.array_equal(p, first) for p in positions.values())
    assert len(np.unique(first)) == first.size  # blocks never overlap
    assert first.size and first.max() < length


def _tiny_model(pe: str, max_len: int):
    import torch

    from genotx.models import GenomicModel, ModelConfig
    from genotx.tokenizers import build_tokenizer

    torch.manual_seed(0)
    tok = build_tokenizer("char")
    cfg = ModelConfig(vocab_size=tok.vocab_size, d_model=16, n_layers=1, n_heads=2, pe=pe, max_len=max_len,
                      causal=True)
    return GenomicModel(cfg).eval(), tok


def test_per_base_nats_average_to_the_objective_loss_and_learned_positions_cannot_run_past_their_table():
    from genotx.grid.extrapolate import window_loss
    from genotx.objectives.ar import Autoregressive

    windows = np.random.default_rng(2).integers(0, 4, size=(6, 32)).astype(np.uint8)
    model, tok = _tiny_model("learned", max_len=33)
    nats = next_base_nats(model, tok, windows, batch_size=4)
    assert nats.shape == windows.shape
    objective = Autoregressive(tokenizer=tok, rc_aug=False)
    assert nats.mean() == pytest.approx(window_loss(model, objective, windows, seed=0, batch_size=4), rel=1e-5)
    longer = np.random.default_rng(3).integers(0, 4, size=(2, 64)).astype(np.uint8)
    assert next_base_nats(model, tok, longer, batch_size=4) == CANNOT_RUN


def test_a_causal_model_scores_a_base_the_same_whatever_follows_it():
    model, tok = _tiny_model("rope", max_len=65)
    windows = np.random.default_rng(4).integers(0, 4, size=(3, 48)).astype(np.uint8)
    changed = windows.copy()
    changed[:, 30:] = (changed[:, 30:] + 1) % 4
    a, b = next_base_nats(model, tok, windows, batch_size=2), next_base_nats(model, tok, changed, batch_size=2)
    assert np.allclose(a[:, :30], b[:, :30], atol=1e-5) and not np.allclose(a[:, 30:], b[:, 30:])


def test_the_copy_baseline_predicts_a_copied_stretch_and_not_fresh_bases():
    rng = np.random.default_rng(5)
    first = rng.integers(0, 4, size=100).astype(np.uint8)
    row = np.concatenate([first, rng.integers(0, 4, size=50).astype(np.uint8), first])[None, :]
    hit_rate, background = copy_baseline_fit(row, 8)
    assert hit_rate > 0.9
    nats = copy_baseline_nats(row, k=8, hit_rate=hit_rate, background=background)[0]
    assert nats[160:250].mean() < 0.2  # the copy, after its first 8 bases
    assert nats[:100].mean() > 1.2  # nothing earlier to copy from
