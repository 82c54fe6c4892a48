"""Properties of genome windows, objectives' inputs, presets and the run record (no training here)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from genotx.errors import InputError
from genotx.io import revcomp
from genotx.io.codes import codes_to_strings, revcomp_codes, strings_to_codes
from genotx.io.genome import load_genome
from genotx.objectives.windows import GenomeSplit

DATA = os.path.join(os.path.dirname(__file__), "data")
GENOME = os.path.join(DATA, "pretrain_saureus.fa.gz")
TRACKS = os.path.join(os.path.dirname(DATA), "..", "examples", "pretrain_tracks.tsv")


@pytest.fixture(scope="module")
def genome():
    return load_genome([GENOME])


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_genome_codes_decode_back_to_the_fasta_sequence(genome):
    from genotx.io import iter_records

    records = list(iter_records([GENOME]))
    assert genome.ids == [r.id for r in records]
    for i, record in enumerate(records):
        start, length = genome.starts[i], genome.lengths[i]
        assert codes_to_strings(genome.codes[None, start : start + length])[0] == record.seq


def test_revcomp_codes_match_string_revcomp():
    rng = np.random.default_rng(3)
    seqs = ["".join(rng.choice(list("ACGTN"), 37)) for _ in range(20)]
    flipped = codes_to_strings(revcomp_codes(strings_to_codes(seqs)))
    assert flipped == [revcomp(s) for s in seqs]


def test_train_windows_are_a_pure_function_of_seed_and_step(genome):
    split = GenomeSplit(genome, seq_len=100, eval_fraction=0.1)
    a = split.train_windows(seed=1, step=5, batch_size=8)
    b = split.train_windows(seed=1, step=5, batch_size=8)
    c = split.train_windows(seed=2, step=5, batch_size=8)
    assert np.array_equal(a.codes, b.codes) and np.array_equal(a.offsets, b.offsets)
    assert not np.array_equal(a.offsets, c.offsets)


def test_ranks_take_disjoint_slices_of_the_same_global_batch(genome):
    split = GenomeSplit(genome, seq_len=100, eval_fraction=0.1)
    whole = split.train_windows(seed=0, step=3, batch_size=8, world=1)
    ranks = [split.train_windows(seed=0, step=3, batch_size=4, rank=r, world=2) for r in (0, 1)]
    assert np.array_equal(np.concatenate([r.offsets for r in ranks]), whole.offsets)
    assert np.array_equal(np.concatenate([r.codes for r in ranks]), whole.codes)


def test_windows_are_genome_slices_on_their_strand_and_never_touch_held_out_bases(genome):
    split = GenomeSplit(genome, seq_len=50, eval_fraction=0.2)
    for step in range(20):
        w = split.train_windows(seed=0, step=step, batch_size=16)
        for codes, offset, minus in zip(w.codes, w.offsets, w.minus):
            forward = genome.codes[offset : offset + 50]
            assert np.array_equal(codes, revcomp_codes(forward[None])[0] if minus else forward)
            rec = np.searchsorted(genome.starts, offset, side="right") - 1
            assert offset + 50 <= split.eval_starts[rec]
    assert 0 < np.mean([split.train_windows(seed=0, step=s, batch_size=16).minus.mean() for s in range(20)]) < 1
    held = split.eval_windows(100)
    for offset in held.offsets:
        rec = np.searchsorted(genome.starts, offset, side="right") - 1
        assert split.eval_starts[rec] <= offset and offset + 50 <= genome.starts[rec] + genome.lengths[rec]


def test_mostly_n_windows_are_skipped(tmp_path):
    seq = "N" * 300 + "ACGT" * 50 + "N" * 300 + "ACGT" * 50
    path = _write(tmp_path, "n.fa", f">x\n{seq}\n")
    split = GenomeSplit(load_genome([path]), seq_len=40, eval_fraction=0.2)
    w = split.train_windows(seed=0, step=0, batch_size=64)
    assert ((w.codes == 4).mean(axis=1) <= 0.5).all()


def test_window_longer_than_every_sequence_is_an_input_error(genome):
    with pytest.raises(InputError, match="longer than every input sequence"):
        GenomeSplit(genome, seq_len=50_000, eval_fraction=0.05)
    with pytest.raises(InputError, match="held-out"):
        GenomeSplit(genome, seq_len=5_000, eval_fraction=0.05)


def test_mlm_masking_follows_80_10_10():
    import torch

    from genotx.objectives.mlm import mask_tokens

    rng = np.random.default_rng(0)
    ids = torch.from_numpy(rng.integers(5, 10, size=(64, 512)))
    mask = torch.ones_like(ids, dtype=torch.bool)
    mask[:, 500:] = False  # padding is never chosen
    inputs, labels = mask_tokens(ids, mask, rng, rate=0.15, vocab_size=10)
    chosen = labels != -100
    assert not chosen[:, 500:].any()
    rate = chosen[:, :500].float().mean().item()
    assert abs(rate - 0.15) < 0.01  # 32,000 draws: sd of the rate is 0.002
    assert torch.equal(labels[chosen], ids[chosen])
    masked = (inputs[chosen] == 4).float().mean().item()
    kept = (inputs[chosen] == ids[chosen]).float().mean().item()
    assert abs(masked - 0.8) < 0.02 and abs(kept - (0.1 + 0.1 / 5)) < 0.02  # a random id equals the old one 1 in 5
    assert torch.equal(inputs[~chosen], ids[~chosen])


def test_track_targets_match_a_per_base_reference(genome, tmp_path):
    from genotx.objectives.multitask import read_tracks

    tracks = read_tracks(TRACKS, genome)
    offsets = np.array([0, 480, 20_000 + 900, 40_000 + 15_000, 19_900])
    got = tracks.targets(offsets, seq_len=100)
    for j, track in enumerate(tracks.tracks):
        cover = np.zeros(len(genome.codes))
        for s, e, v in zip(track.starts, track.ends, track.values):
            cover[s:e] = v
        for i, o in enumerate(offsets):
            part = cover[o : o + 100]
            want = float(part.max() > 0) if track.binary else part.mean()
            assert got[i, j] == pytest.approx(want, abs=1e-6)
    assert {t.name: t.binary for t in tracks.tracks} == {"gc": False, "orf": True}


@pytest.mark.parametrize(
    "line, message",
    [("N315\t10\t5\torf\t1", "outside"), ("nope\t0\t5\torf\t1", "not in the input"), ("N315\t0\t5\torf", "5 tab")],
)
def test_bad_annotation_lines_name_file_and_line(genome, tmp_path, line, message):
    from genotx.objectives.multitask import read_tracks

    path = _write(tmp_path, "t.tsv", "seq_id\tstart\tend\ttrack\tvalue\n" + line + "\n")
    with pytest.raises(InputError, match=f"t.tsv: line 2: .*{message}"):
        read_tracks(path, genome)


def _shared_kmers(a: str, b: str, k: int = 12) -> float:
    mine = {a[i : i + k] for i in range(len(a) - k + 1)}
    theirs = {b[i : i + k] for i in range(len(b) - k + 1)} | {revcomp(b)[i : i + k] for i in range(len(b) - k + 1)}
    return len(mine & theirs) / len(mine)


def test_ortholog_pair_windows_share_sequence_unlike_random_windows(genome):
    from genotx.objectives.contrastive import pair_windows, read_pairs

    pairs = read_pairs(os.path.join(os.path.dirname(TRACKS), "pretrain_pairs.tsv"), genome)
    split = GenomeSplit(genome, seq_len=200, eval_fraction=0.1)
    a, b = pair_windows(split, pairs, np.random.default_rng(0), 32, held_out=False)
    a, b = codes_to_strings(a), codes_to_strings(b)
    paired = [_shared_kmers(x, y) for x, y in zip(a, b)]
    shuffled = [_shared_kmers(x, y) for x, y in zip(a, b[1:] + b[:1])]
    # collinear strains: a paired window overlaps its partner (up to small shifts), a random one does not
    assert np.median(paired) > 0.5 and np.median(shuffled) < 0.05


def test_learning_rate_warms_up_then_decays_to_the_floor():
    from genotx.train.config import TrainConfig
    from genotx.train.loop import lr_at

    cfg = TrainConfig(lr=1e-3, warmup_fraction=0.1, min_lr_ratio=0.1, max_steps=100)
    lrs = [lr_at(s, cfg, 100) for s in range(100)]
    assert lrs[9] == pytest.approx(1e-3) and all(a < b for a, b in zip(lrs[:9], lrs[1:10]))
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    assert lrs[-1] == pytest.approx(1e-4, rel=0.01)


def test_flops_are_6nd_plus_the_attention_term():
    from genotx.train.record import training_flops

    base = dict(non_embedding=1000, tokens=50, n_layers=4, d_model=32, n_ctx=64)
    assert training_flops(**base, mixer="attention") == 6 * 1000 * 50 + 6 * 4 * 64 * 32 * 50
    assert training_flops(**base, mixer="mamba") == 6 * 1000 * 50
    assert training_flops(**base, mixer="window", window=16) == 6 * 1000 * 50 + 6 * 4 * 16 * 32 * 50
    assert training_flops(**base, mixer="hybrid") == 6 * 1000 * 50 + 6 * 1 * 64 * 32 * 50


def test_every_preset_resolves_to_a_valid_config_and_cites_a_source():
    from genotx.presets import FAMILIES, preset_names, resolve_preset
    from genotx.train.config import TrainConfig

    assert {n.split("-")[0] for n in preset_names()} == {"variant", "expression", "taxon", "generation", "regulatory"}
    for name in preset_names():
        cfg = TrainConfig().replace(**resolve_preset(name))
        assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    assert all(len(f["source"]) > 40 for f in FAMILIES.values())
    assert resolve_preset("taxon") == resolve_preset("taxon-small")
    with pytest.raises(InputError, match="unknown preset"):
        resolve_preset("variant-huge")


def test_max_tokens_sets_the_number_of_steps_from_tokens_per_step():
    from genotx.train.config import TrainConfig
    from genotx.train.loop import _total_steps

    cfg = TrainConfig(max_steps=None, max_tokens=1000, batch_size=16)
    assert _total_steps(cfg, tokens_per_window=10, views=1, world=1) == 7  # ceil(1000 / 160)
    assert _total_steps(cfg, tokens_per_window=10, views=2, world=2) == 2  # two views, two ranks: 640 per step
    assert _total_steps(cfg.replace(max_steps=3), tokens_per_window=10, views=1, world=1) == 3  # the smaller wins
    with pytest.raises(InputError, match="--max-steps or --max-tokens"):
        TrainConfig(max_steps=None)


def test_set_malloc_takes_effect_under_glibc():
    import platform

    from genotx.runtime import set_malloc

    # 32 MB / 64 MB: where glibc's own sliding thresholds end up in a process of large
    # tensors, so the tests that follow in this worker run as they would have.
    took = set_malloc(mmap_threshold=32 << 20, trim_threshold=64 << 20)
    assert took == (platform.libc_ver()[0] == "glibc")
