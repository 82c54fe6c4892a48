"""The regulatory recipe and its levers: conv stem, strand averaging, windows, adaptive MLM, data-driven defaults."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
LABELLED = REPO / "data" / "labelled"


def genotx(*args, check: bool = True):
    proc = subprocess.run([sys.executable, "-m", "genotx", "-q", *map(str, args)], capture_output=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"genotx {' '.join(map(str, args))} failed ({proc.returncode}): {proc.stderr.decode()}")
    return proc


def random_seqs(rng, n, low, high):
    return ["".join(rng.choice(list("ACGTN"), p=[0.24, 0.24, 0.24, 0.24, 0.04], size=int(rng.integers(low, high))))
            for _ in range(n)]


def revcomp(seq: str) -> str:
    return seq.translate(str.maketrans("ACGTN", "TGCAN"))[::-1]


def char_model(**changes):
    import torch

    from genotx.models import GenomicModel, ModelConfig
    from genotx.tokenizers import build_tokenizer

    tok = build_tokenizer("char")
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=tok.vocab_size, d_model=32, n_layers=2, n_heads=4, head="classify", n_outputs=3,
                      complement_ids=[int(c) for c in tok.complement_ids], **changes)
    return GenomicModel(cfg).eval(), tok


@pytest.mark.parametrize("pooling", ["cls", "mean", "max"])
def test_strand_averaged_prediction_of_a_sequence_equals_that_of_its_reverse_complement(pooling):
    from genotx.models.windows import sequence_logits

    model, tok = char_model(conv_stem=9, strand_average=True, pooling=pooling, max_len=80)
    rng = np.random.default_rng(1)
    for seq in random_seqs(rng, 12, 5, 200):  # longer than the window too: windows mirror on the other strand
        assert np.array_equal(sequence_logits(model, tok, [seq]).detach().numpy(),
                              sequence_logits(model, tok, [revcomp(seq)]).detach().numpy()), seq


def test_one_strand_model_does_not_give_both_strands_the_same_prediction():
    from genotx.models.windows import sequence_logits

    model, tok = char_model(conv_stem=9, pooling="mean")
    seq = "ACGTTTGACAGGCTAGCATTAAAGGC" * 2
    assert not np.allclose(sequence_logits(model, tok, [seq]).detach().numpy(),
                           sequence_logits(model, tok, [revcomp(seq)]).detach().numpy())


@pytest.mark.parametrize("length", [1, 7, 63, 64, 65, 127, 128, 129, 1000, 1001])
@pytest.mark.parametrize("window", [1, 2, 63, 64])
def test_windows_cover_every_base_and_stay_inside_the_sequence(length, window):
    from genotx.models.windows import window_starts

    starts = window_starts(length, window)
    covered = np.zeros(length, dtype=bool)
    for start in starts:
        assert 0 <= start and (start + window <= length or start == 0)
        covered[start : start + window] = True
    assert covered.all()


def test_a_long_sequence_is_read_to_its_last_base_not_cut():
    import torch

    from genotx.models.windows import sequence_logits

    model, tok = char_model(conv_stem=5, max_len=33)
    rng = np.random.default_rng(2)
    seq = "".join(rng.choice(list("ACGT"), size=300))
    changed = seq[:-1] + ("A" if seq[-1] != "A" else "C")
    with torch.no_grad():
        assert not torch.equal(sequence_logits(model, tok, [seq]), sequence_logits(model, tok, [changed]))
        alone = sequence_logits(model, tok, [seq])
        beside_short = sequence_logits(model, tok, ["ACGT", seq])[1:]
    assert torch.allclose(alone, beside_short, atol=1e-5)


def test_conv_stem_output_of_a_row_does_not_depend_on_padding():
    import torch

    from genotx.models.windows import sequence_logits

    model, tok = char_model(conv_stem=9, pooling="mean")
    with torch.no_grad():
        alone = sequence_logits(model, tok, ["ACGTACGGTA"])
        padded = sequence_logits(model, tok, ["ACGTACGGTA", "ACGT" * 10])[:1]
    assert torch.allclose(alone, padded, atol=1e-5)


def test_conv_stem_must_be_odd_and_not_causal():
    from genotx.errors import InputError
    from genotx.models import ModelConfig

    with pytest.raises(InputError, match="odd"):
        ModelConfig(vocab_size=10, d_model=32, n_heads=4, conv_stem=4)
    with pytest.raises(InputError, match="causal"):
        ModelConfig(vocab_size=10, d_model=32, n_heads=4, conv_stem=5, causal=True)


def test_strand_symmetry_test_tells_oriented_splice_sites_from_chip_peaks():
    from genotx.tasks.regulatory import load_class_fastas, load_labelled_tsv
    from genotx.train.recipe import strand_symmetric

    splice = load_labelled_tsv(str(LABELLED / "splice.tsv.gz"))
    assert not strand_symmetric(splice.seqs, splice.labels)
    peaks = load_class_fastas([f"oct4={LABELLED / 'oct4-train1000.fa.gz'}", f"mafk={LABELLED / 'mafk-train1000.fa.gz'}"])
    assert strand_symmetric(peaks.seqs, peaks.labels)


def test_recipe_takes_single_bases_and_a_stem_for_short_sequences_and_leaves_given_flags_alone():
    from genotx.train.finetune import FinetuneConfig
    from genotx.train.recipe import regulatory_recipe
    from genotx.train.taskdata import make_task_data

    data = make_task_data("regulatory", [str(LABELLED / "splice.tsv.gz")])
    cfg, settings = regulatory_recipe(data, FinetuneConfig(task="regulatory"), {})
    assert settings["tokenizer"] == "char" and cfg.conv_stem > 0 and not cfg.rc_aug and not cfg.strand_average
    assert cfg.eval_every >= -(-len(data.train_seqs) // cfg.batch_size)  # one evaluation per epoch
    given = {"steps": 7, "conv_stem": 0}
    cfg, _ = regulatory_recipe(data, FinetuneConfig(task="regulatory", steps=7, conv_stem=0), given)
    assert cfg.steps == 7 and cfg.conv_stem == 0


@pytest.fixture(scope="module")
def peaks_tsv(tmp_path_factory) -> Path:
    from genotx.tasks.regulatory import load_class_fastas

    peaks = load_class_fastas([f"oct4={LABELLED / 'oct4-test.fa.gz'}", f"mafk={LABELLED / 'mafk-test.fa.gz'}"])
    path = tmp_path_factory.mktemp("peaks") / "peaks.tsv"
    path.write_text("sequence\tlabel\n" + "".join(f"{s}\t{peaks.classes[y]}\n" for s, y in zip(peaks.seqs, peaks.labels)))
    return path


@pytest.mark.parametrize("flags,expected", [
    (["--conv-stem", "5"], {"conv_stem": 5}),
    (["--conv-stem", "0", "--pooling", "max"], {"conv_stem": 0, "pooling": "max"}),
    (["--rc-aug", "--strand-average"], {"strand_average": True}),
    (["--no-rc-aug", "--no-strand-average", "--adapt-steps", "3"], {"strand_average": False}),
    ([], {"pe": "rope", "pooling": "max", "layer_scale": 1e-4}),  # peaks have no anchor: positions and pooling from the data
    (["--layer-scale", "0"], {"layer_scale": 0.0}),
    (["--pe", "learned", "--pooling", "cls"], {"pe": "learned", "pooling": "cls"}),
])
def test_each_lever_runs_end_to_end_and_predict_reads_it_from_config_json(peaks_tsv, tmp_path, flags, expected):
    out = tmp_path / "model"
    genotx("finetune", "--task", "regulatory", peaks_tsv, "--steps", "6", "--eval-every", "3", *flags, "-o", out)
    model = json.loads((out / "config.json").read_text())["model"]
    assert {k: model[k] for k in expected} == expected
    long_record = "".join(np.random.default_rng(3).choice(list("ACGT"), size=3 * model["max_len"]))
    fasta = tmp_path / "in.fa"
    fasta.write_text(f">short\nACGTACGTTGCA\n>long\n{long_record}\n")
    rows = genotx("predict", "--task", "regulatory", "--model", out, fasta).stdout.decode().splitlines()
    assert [r.split("\t")[0] for r in rows[2:]] == ["short", "long"]


def test_strand_average_refuses_kmer_tokens_with_one_line(peaks_tsv, tmp_path):
    proc = genotx("finetune", "--task", "regulatory", peaks_tsv, "--steps", "2", "--tokenizer", "kmer6",
                  "--strand-average", "-o", tmp_path / "m", check=False)
    assert proc.returncode == 2 and b"single-base" in proc.stderr and b"Traceback" not in proc.stderr
    assert not (tmp_path / "m").exists()


def test_positional_information_is_high_for_an_anchored_site_and_near_zero_for_a_site_anywhere():
    from genotx.train.recipe import ANCHOR_BITS, positional_information

    rng = np.random.default_rng(0)
    site = "TGACTCAGCA"

    def with_site(anchored: bool) -> list[str]:
        seqs = []
        for _ in range(300):
            bases = "".join(rng.choice(list("ACGT"), 100))
            at = 40 if anchored else int(rng.integers(0, 90))
            seqs.append(bases[:at] + site + bases[at + len(site):])
        return seqs

    labels = np.array([0] * 300 + [1] * 300)
    background = ["".join(rng.choice(list("ACGT"), 100)) for _ in range(300)]
    assert positional_information(with_site(True) + background, labels) > 5 * ANCHOR_BITS
    assert positional_information(with_site(False) + background, labels) < ANCHOR_BITS / 4


def test_recipe_reads_peaks_with_relative_positions_and_max_pooling_and_splice_sites_with_learned_ones():
    from genotx.tasks.regulatory import load_class_fastas
    from genotx.train.finetune import FinetuneConfig
    from genotx.train.recipe import regulatory_recipe
    from genotx.train.taskdata import make_task_data

    splice = make_task_data("regulatory", [str(LABELLED / "splice.tsv.gz")])
    cfg, settings = regulatory_recipe(splice, FinetuneConfig(task="regulatory"), {})
    assert (settings["pe"], cfg.pooling) == ("learned", "cls")
    peaks = make_task_data("regulatory", [], class_files=(f"oct4={LABELLED / 'oct4-train1000.fa.gz'}",
                                                          f"mafk={LABELLED / 'mafk-train1000.fa.gz'}"))
    cfg, settings = regulatory_recipe(peaks, FinetuneConfig(task="regulatory"), {})
    assert (settings["pe"], cfg.pooling) == ("rope", "max")
    cfg, _ = regulatory_recipe(peaks, FinetuneConfig(task="regulatory", pooling="mean"), {"pooling": "mean"})
    assert cfg.pooling == "mean"


def test_a_tiny_anchored_set_gets_a_narrow_max_pooled_model_and_a_larger_one_keeps_cls():
    from genotx.train.finetune import FinetuneConfig
    from genotx.train.recipe import TINY_SET, regulatory_recipe
    from genotx.train.taskdata import make_task_data

    ecoli = make_task_data("regulatory", [str(LABELLED / "promoters.tsv.gz")])
    assert len(ecoli.train_seqs) < TINY_SET
    cfg, settings = regulatory_recipe(ecoli, FinetuneConfig(task="regulatory"), {})
    assert (settings["pe"], settings["d_model"], cfg.pooling, settings["layer_scale"]) == ("learned", 32, "max", 1e-4)
    cfg, _ = regulatory_recipe(ecoli, FinetuneConfig(task="regulatory", pooling="cls"), {"pooling": "cls"})
    assert cfg.pooling == "cls"
    splice = make_task_data("regulatory", [str(LABELLED / "splice.tsv.gz")])
    cfg, settings = regulatory_recipe(splice, FinetuneConfig(task="regulatory"), {})
    assert (settings["d_model"], cfg.pooling, settings["layer_scale"]) == (64, "cls", 0.0)  # CLS: blocks start open


@pytest.mark.parametrize("flags,message", [
    (["--pe", "rope", "--preset", "regulatory-tiny"], b"--pe sets the positions"),
    (["--pe", "relative"], b"--pe must be"),
    (["--layer-scale", "0.1", "--preset", "regulatory-tiny"], b"--layer-scale sets the blocks"),
])
def test_pe_flag_is_refused_where_it_would_be_ignored_or_is_unknown(peaks_tsv, tmp_path, flags, message):
    proc = genotx("finetune", "--task", "regulatory", peaks_tsv, "--steps", "2", *flags, "-o", tmp_path / "m", check=False)
    assert proc.returncode == 2 and message in proc.stderr and b"Traceback" not in proc.stderr
    assert not (tmp_path / "m").exists()
