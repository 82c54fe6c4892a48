"""Saturation mutagenesis: the batched scores equal a loop that scores one variant at a time."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import REPO, genotx_env, run_genotx, tsv_rows
from model_dirs import bert_kmer_dir, esm_nt_dir, genotx_dir, transformers

from genotx.inference.ism import IsmOptions, ism_rows, parse_positions
from genotx.io.reader import revcomp
from genotx.models.adapter import load_adapter

torch.set_num_threads(1)
RNG = np.random.default_rng(3)
SEQ = "".join(RNG.choice(list("ACGT"), 45))


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ism")
    return {"bert": bert_kmer_dir(root / "bert"), "esm": esm_nt_dir(root / "esm"),
            "mlm": genotx_dir(root / "mlm"), "ar": genotx_dir(root / "ar", causal=True),
            "classifier": genotx_dir(root / "cls", head="classify", classes=["closed", "open"])}


def mutate(seq: str, pos: int, alt: str) -> str:
    return seq[:pos] + alt + seq[pos + 1 :]


def hf_masked_marginal(path: str, adapter, seq: str, pos: int, alt: str) -> float:
    """One variant with transformers: mask the tokens over the base in each sequence, compare log-probabilities."""
    model = transformers.AutoModelForMaskedLM.from_pretrained(path).eval()
    total = 0.0
    for s, sign in ((mutate(seq, pos, alt), 1), (seq, -1)):
        ids, offsets = adapter.tokenize(s)
        hit = np.flatnonzero((offsets[:, 0] <= pos) & (offsets[:, 1] > pos))
        masked = ids.copy()
        masked[hit] = adapter.mask_id
        with torch.no_grad():
            logp = model(input_ids=torch.tensor([adapter.prefix + masked.tolist() + adapter.suffix])).logits[0].log_softmax(-1)
        total += sign * sum(float(logp[len(adapter.prefix) + h, ids[h]]) for h in hit)
    return total


@pytest.mark.parametrize("name", ["bert", "esm"])
def test_ism_of_a_hugging_face_mlm_equals_a_per_variant_loop(dirs, name):
    adapter = load_adapter(dirs[name], precision="fp32", device="cpu")
    rows = ism_rows(adapter, "s", SEQ, IsmOptions(first=10, last=21))
    assert [(r[1], r[3]) for r in rows[:3]] == [(10, b) for b in "ACGT" if b != SEQ[9]]
    assert len(rows) == 12 * 3
    for rid, pos, ref, alt, score in rows:
        assert ref == SEQ[pos - 1]
        assert score == pytest.approx(hf_masked_marginal(dirs[name], adapter, SEQ, pos - 1, alt), abs=1e-4)


def test_ism_of_a_genotx_mlm_equals_variant_scoring_one_variant_at_a_time(dirs):
    from genotx.models import load_checkpoint
    from genotx.tasks.variant import Variant
    from genotx.inference.variant import score_variants

    adapter = load_adapter(dirs["mlm"], precision="fp32", device="cpu")
    model, tokenizer, _ = load_checkpoint(dirs["mlm"])
    rows = ism_rows(adapter, "s", SEQ)
    assert len(rows) == 3 * len(SEQ)
    for rid, pos, ref, alt, score in rows[::7]:
        variant = Variant("v", "s", pos, ref, alt, SEQ, pos - 1)
        (want,) = score_variants(model, tokenizer, [variant], window=len(SEQ))
        assert score == pytest.approx(want, abs=1e-4)


def ar_loglik(model, tokenizer, seq: str) -> float:
    from genotx.tokenizers import CLS_ID

    ids = torch.tensor([[CLS_ID] + tokenizer.encode(seq).tolist()])
    with torch.no_grad():
        logp = model(ids).logits[0].log_softmax(-1)
    return float(logp[:-1].gather(-1, ids[0, 1:, None]).sum())


def test_ism_of_an_ar_model_is_the_change_of_sequence_log_likelihood(dirs):
    from genotx.models import load_checkpoint

    adapter = load_adapter(dirs["ar"], precision="fp32", device="cpu")
    model, tokenizer, _ = load_checkpoint(dirs["ar"])
    base = ar_loglik(model, tokenizer, SEQ)
    for rid, pos, ref, alt, score in ism_rows(adapter, "s", SEQ, IsmOptions(first=1, last=4)):
        assert score == pytest.approx(ar_loglik(model, tokenizer, mutate(SEQ, pos - 1, alt)) - base, abs=1e-3)


def test_ism_of_a_classifier_is_the_change_of_the_class_probability(dirs):
    from genotx.models import load_checkpoint
    from genotx.tokenizers import CLS_ID

    adapter = load_adapter(dirs["classifier"], precision="fp32", device="cpu")
    model, tokenizer, _ = load_checkpoint(dirs["classifier"])

    def prob_closed(seq):
        with torch.no_grad():
            return float(model(torch.tensor([[CLS_ID] + tokenizer.encode(seq).tolist()])).logits.softmax(-1)[0, 0])

    rows = ism_rows(adapter, "s", SEQ, IsmOptions(first=5, last=6, target=0))
    for rid, pos, ref, alt, score in rows:
        assert score == pytest.approx(prob_closed(mutate(SEQ, pos - 1, alt)) - prob_closed(SEQ), abs=1e-5)


def test_both_strands_average_the_mirrored_complementary_change(dirs):
    adapter = load_adapter(dirs["esm"], precision="fp32", device="cpu")
    forward = {(r[1], r[3]): r[4] for r in ism_rows(adapter, "s", SEQ)}
    reverse = {(r[1], r[3]): r[4] for r in ism_rows(adapter, "r", revcomp(SEQ))}
    both = ism_rows(adapter, "s", SEQ, IsmOptions(both_strands=True))
    complement = str.maketrans("ACGT", "TGCA")
    for rid, pos, ref, alt, score in both:
        mirrored = reverse[(len(SEQ) + 1 - pos, alt.translate(complement))]
        assert score == pytest.approx((forward[(pos, alt)] + mirrored) / 2, abs=1e-6)


def test_positions_with_n_are_skipped_and_positions_parse():
    from genotx.errors import InputError
    from genotx.inference.ism import ism_alleles

    assert [a.start for a in ism_alleles("ANCG", None, None)][::3] == [0, 2, 3]
    assert parse_positions("100-200") == (100, 200) and parse_positions("7") == (7, 7) and parse_positions("5-") == (5, None)
    assert parse_positions("-4") == (None, 4)
    for bad in ("0", "9-3", "x", "4-x"):
        with pytest.raises(InputError):
            parse_positions(bad)


def test_ism_streams_tsv_through_a_pipe(dirs, tmp_path):
    (tmp_path / "in.fa").write_text(f">a\n{SEQ}\n>b\n{SEQ[:20]}NN\n")
    proc = subprocess.run(f"cat {tmp_path / 'in.fa'} | {sys.executable} -m genotx ism --model {dirs['esm']} "
                          "--precision fp32 --positions 3-5 | sort -k5,5g | head -50",
                          shell=True, capture_output=True, env=genotx_env(), cwd=REPO)
    assert proc.returncode == 0, proc.stderr.decode()
    lines = [line.split("\t") for line in proc.stdout.decode().splitlines() if not line.startswith(("#", "id"))]
    assert len(lines) == 2 * 3 * 3 and {line[0] for line in lines} == {"a", "b"}


def test_ism_of_a_bare_encoder_or_a_wrong_class_exits_2(dirs, tmp_path):
    proc = run_genotx("ism", "--model", dirs["classifier"], "--class", "nope", stdin=b">a\nACGT\n")
    assert proc.returncode == 2 and b"closed, open" in proc.stderr and proc.stdout == b""
    encoder = esm_nt_dir(tmp_path / "encoder", architecture=transformers.EsmModel)
    proc = run_genotx("ism", "--model", encoder, stdin=b">a\nACGT\n")
    assert proc.returncode == 2 and b"bare encoder" in proc.stderr
    ok = run_genotx("ism", "--model", dirs["classifier"], "--class", "open", stdin=b">a\nACGT\n")
    assert ok.returncode == 0 and len(tsv_rows(ok.stdout)) == 12
