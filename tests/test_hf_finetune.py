"""Hugging Face encoders fine-tuned through `genotx finetune --from`, and the result read back by predict,
ism, embed and motifs: a directory that transformers itself loads, weights in safetensors + JSON only."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import REPO, genotx_env, run_genotx, tsv_rows
from model_dirs import bert_kmer_dir, bert_tokens, esm_nt_dir, transformers

torch.set_num_threads(1)
RNG = np.random.default_rng(3)


def rich(bases: str, n: int) -> str:
    return "".join(RNG.choice(list(bases), n))


# Trivially separable: GC-rich sequences are "pos", AT-rich "neg"; a majority guess gets 0.5.
TRAIN = [(rich("GC" if i % 2 else "AT", 40), "pos" if i % 2 else "neg") for i in range(120)]
TEST = [(f"t{i}", rich("GC" if i % 2 else "AT", 40 if i < 16 else 300), "pos" if i % 2 else "neg") for i in range(20)]
TEST_FASTA = "".join(f">{rid}\n{seq}\n" for rid, seq, _ in TEST).encode()
STEPS = ["--steps", "40", "--lr", "1e-3", "--eval-every", "20"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf_finetune")
    (root / "train.tsv").write_text("sequence\tlabel\n" + "".join(f"{s}\t{label}\n" for s, label in TRAIN))
    dirs = {"root": root, "bert": bert_kmer_dir(root / "bert"), "esm": esm_nt_dir(root / "esm")}
    for name in ("bert", "esm"):
        proc = run_genotx("finetune", "--task", "regulatory", "--from", dirs[name], str(root / "train.tsv"),
                          "-o", str(root / f"{name}_cls"), *STEPS, timeout=300)
        assert proc.returncode == 0, proc.stderr.decode()
        dirs[f"{name}_cls"] = str(root / f"{name}_cls")
    return dirs


@pytest.mark.parametrize("name", ["bert", "esm"])
def test_a_fine_tuned_encoder_separates_a_separable_set_and_predicts_through_a_pipe(trained, name):
    metrics = json.loads(open(os.path.join(trained[f"{name}_cls"], "metrics.json")).read())
    assert metrics["validation"]["accuracy"] >= 0.9  # majority guess: 0.5
    assert metrics["history"][-1]["train_loss"] < metrics["history"][0]["train_loss"]
    proc = subprocess.run(f"{sys.executable} -m genotx predict --task regulatory --model {trained[f'{name}_cls']} "
                          "--all-probs - | cat", input=TEST_FASTA, shell=True, capture_output=True, env=genotx_env(),
                          cwd=REPO)
    assert proc.returncode == 0, proc.stderr.decode()
    lines = proc.stdout.decode().splitlines()
    assert lines[1].split("\t") == ["id", "label", "prob", "prob_neg", "prob_pos"]
    rows = [line.split("\t") for line in lines[2:]]
    assert [r[0] for r in rows] == [rid for rid, _, _ in TEST]  # 300 bp records too: read in windows
    accuracy = np.mean([r[1] == label for r, (_, _, label) in zip(rows, TEST)])
    assert accuracy >= 0.9


def test_the_output_is_a_hugging_face_classifier_that_transformers_loads_as_it_is(trained):
    folder = trained["bert_cls"]
    files = set(os.listdir(folder))
    assert {"config.json", "model.safetensors", "vocab.txt", "genotx.json", "metrics.json"} <= files
    assert not [f for f in files if f.endswith((".bin", ".pt", ".pth", ".ckpt", ".pkl"))]
    record = json.loads(open(os.path.join(folder, "genotx.json")).read())
    assert record["format"] == "genotx-hf-finetune" and record["task"] == "regulatory" and record["classes"] == ["neg", "pos"]
    model = transformers.AutoModelForSequenceClassification.from_pretrained(folder).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    assert type(model).__name__ == "BertForSequenceClassification" and model.config.id2label == {0: "neg", 1: "pos"}
    short = [(rid, seq) for rid, seq, _ in TEST if len(seq) == 40]
    with torch.no_grad():
        want = [model(**tokenizer(bert_tokens(seq), return_tensors="pt")).logits.softmax(-1)[0].numpy() for _, seq in short]
    fasta = "".join(f">{rid}\n{seq}\n" for rid, seq in short).encode()
    proc = run_genotx("predict", "--task", "regulatory", "--model", folder, "--all-probs", "--precision", "fp32", stdin=fasta)
    assert proc.returncode == 0, proc.stderr.decode()
    got = np.array([[float(r[3]), float(r[4])] for r in tsv_rows(proc.stdout)])
    np.testing.assert_allclose(got, np.stack(want), atol=1e-5)


def test_ism_of_a_class_and_embed_read_the_fine_tuned_directory(trained):
    fasta = f">a\n{TEST[1][1]}\n".encode()
    ism = run_genotx("ism", "--model", trained["esm_cls"], "--class", "pos", "--positions", "1-5", stdin=fasta)
    assert ism.returncode == 0, ism.stderr.decode()
    rows = tsv_rows(ism.stdout)
    assert len(rows) == 15 and {r[3] for r in rows} <= set("ACGT") and all(np.isfinite(float(r[4])) for r in rows)
    unknown = run_genotx("ism", "--model", trained["esm_cls"], "--class", "enhancer", stdin=fasta)
    assert unknown.returncode == 2 and b"neg, pos" in unknown.stderr
    embed = run_genotx("embed", "--model", trained["bert_cls"], stdin=fasta)
    assert embed.returncode == 0 and len(tsv_rows(embed.stdout)[0]) == 33, embed.stderr.decode()


def test_motifs_read_attention_and_attribution_of_the_fine_tuned_classifier(trained):
    from genotx.cli.motifs import MOTIF_COLUMNS

    fasta = "".join(f">{rid}\n{seq}\n" for rid, seq, _ in TEST[:12]).encode()
    heads = run_genotx("motifs", "--model", trained["bert_cls"], "--heads", stdin=fasta)
    assert heads.returncode == 0, heads.stderr.decode()
    assert [r[:2] for r in tsv_rows(heads.stdout)] == [["0", "0"], ["0", "1"], ["1", "0"], ["1", "1"]]
    for extra in ([], ["--attribution"]):
        proc = run_genotx("motifs", "--model", trained["esm_cls"], "--min-sites", "2", "--shuffles", "10", *extra, stdin=fasta)
        assert proc.returncode == 0, proc.stderr.decode()
        rows = tsv_rows(proc.stdout)
        assert rows and all(len(r) == len(MOTIF_COLUMNS) for r in rows)
        assert {r[2] for r in rows} <= ({"grad_x_input"} if extra else {"0", "1"})


def test_an_expression_regressor_learns_values_given_back_in_their_own_scale(trained):
    root = trained["root"]
    gc = RNG.random(160)
    seqs = ["".join(RNG.choice(list("ACGT"), 40, p=[(1 - g) / 2, g / 2, g / 2, (1 - g) / 2])) for g in gc]
    values = 100 + 50 * np.array([(s.count("G") + s.count("C")) / 40 for s in seqs])
    (root / "expr.tsv").write_text("sequence\tvalue\n" + "".join(f"{s}\t{v}\n" for s, v in zip(seqs, values)))
    proc = run_genotx("finetune", "--task", "expression", "--from", trained["esm"], str(root / "expr.tsv"),
                      "-o", str(root / "expr"), "--steps", "60", "--lr", "1e-3", "--eval-every", "30", timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()
    assert json.loads((root / "expr" / "metrics.json").read_text())["validation"]["pearson"] > 0.5
    fasta = "".join(f">e{i}\n{s}\n" for i, s in enumerate(seqs[:40])).encode()
    predicted = run_genotx("predict", "--task", "expression", "--model", str(root / "expr"), stdin=fasta)
    assert predicted.returncode == 0, predicted.stderr.decode()
    got = np.array([float(r[1]) for r in tsv_rows(predicted.stdout)])
    assert 100 < got.mean() < 150 and np.corrcoef(got, values[:40])[0, 1] > 0.5  # the scale of the values, not z-scores


def test_finetune_output_is_replaced_only_with_force_and_steps_0_keeps_the_weights(trained):
    root = trained["root"]
    again = run_genotx("finetune", "--task", "regulatory", "--from", trained["bert"], str(root / "train.tsv"),
                       "-o", trained["bert_cls"], *STEPS)
    assert again.returncode == 2 and b"add --force" in again.stderr
    kept = run_genotx("finetune", "--task", "regulatory", "--from", trained["bert_cls"], str(root / "train.tsv"),
                      "-o", str(root / "kept"), "--steps", "0", timeout=300)
    assert kept.returncode == 0, kept.stderr.decode()
    before = run_genotx("predict", "--task", "regulatory", "--model", trained["bert_cls"], stdin=TEST_FASTA)
    after = run_genotx("predict", "--task", "regulatory", "--model", str(root / "kept"), stdin=TEST_FASTA)
    assert tsv_rows(before.stdout) == tsv_rows(after.stdout)


@pytest.mark.parametrize("args, message", [
    (["--task", "taxon"], "regulatory or expression, not taxon"),
    (["--task", "variant"], "regulatory or expression, not variant"),
    (["--task", "regulatory", "--conv-stem", "9"], "--conv-stem changes a genotx model"),
    (["--task", "regulatory", "--pooling", "mean"], "reads the first token"),
    (["--task", "regulatory", "--device", "cuda"], "CUDA is not available"),
])
def test_what_a_hugging_face_encoder_cannot_be_fine_tuned_with_exits_2_in_one_line(trained, args, message):
    if "cuda" in args and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    out = trained["root"] / "refused"
    proc = run_genotx("finetune", "--from", trained["esm"], str(trained["root"] / "train.tsv"), "-o", str(out), *args)
    text = proc.stderr.decode()
    assert proc.returncode == 2 and message in text and len(text.strip().splitlines()) == 1, text
    assert not out.exists()


def test_a_masked_lm_is_no_classifier_for_predict_but_its_attention_gives_motifs(trained):
    fasta = "".join(f">{rid}\n{seq}\n" for rid, seq, _ in TEST[:12]).encode()
    proc = run_genotx("predict", "--task", "regulatory", "--model", trained["esm"], stdin=fasta)
    assert proc.returncode == 2 and b"fine-tune it first" in proc.stderr and proc.stdout == b""
    heads = run_genotx("motifs", "--model", trained["esm"], "--heads", stdin=fasta)
    assert heads.returncode == 0 and len(tsv_rows(heads.stdout)) == 4, heads.stderr.decode()
