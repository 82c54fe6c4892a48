"""Variant effects: the zero-shot sign convention, and supervised fine-tuning end to end through pipes."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SPLICE = REPO / "data" / "labelled" / "splice.tsv.gz"


def genotx(*args, stdin: bytes | None = None, check: bool = True):
    proc = subprocess.run([sys.executable, "-m", "genotx", "-q", *map(str, args)], input=stdin,
                          capture_output=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"genotx {' '.join(map(str, args))} failed ({proc.returncode}): {proc.stderr.decode()}")
    return proc


def table(stdout: bytes) -> tuple[list[str], list[list[str]]]:
    lines = [line for line in stdout.decode().splitlines() if not line.startswith("#")]
    return lines[0].split("\t"), [line.split("\t") for line in lines[1:]]


def donor_variants(donors: list[str], rng) -> list[str]:
    """One GT-breaking (label 1) and one distant (label 0) substitution per real splice donor."""
    rows = []
    for seq in donors:
        pos = int(rng.choice([31, 32]))
        rows.append(f"{seq}\t{pos}\t{rng.choice([b for b in 'ACGT' if b != seq[pos - 1]])}\t1")
        pos = int(rng.choice([p for p in range(1, 61) if not 27 <= p <= 36]))
        rows.append(f"{seq}\t{pos}\t{rng.choice([b for b in 'ACGT' if b != seq[pos - 1]])}\t0")
    return rows


@pytest.fixture(scope="module")
def donor_sets():
    rows = gzip.open(SPLICE, "rt").read().splitlines()[1:]
    donors = sorted({s for s, label in (r.split("\t") for r in rows) if label == "ei" and s[30:32] == "GT"})
    rng = np.random.default_rng(0)
    order = rng.permutation(len(donors))
    train = donor_variants([donors[i] for i in order[:300]], rng)
    test = donor_variants([donors[i] for i in order[300:400]], rng)
    return train, test


@pytest.fixture(scope="module")
def classifier(tmp_path_factory, donor_sets):
    folder = tmp_path_factory.mktemp("variant")
    (folder / "train.tsv").write_text("sequence\tpos\talt\tlabel\n" + "\n".join(donor_sets[0]) + "\n")
    genotx("finetune", "--task", "variant", folder / "train.tsv", "--preset", "variant-tiny", "--window", "24",
           "--steps", "120", "--batch-size", "32", "--eval-every", "40", "--lr", "3e-3", "--valid-fraction", "0.2",
           "-o", folder / "model")
    return folder / "model"


def test_variant_finetune_reports_auroc_accuracy_and_mcc(classifier):
    import json

    metrics = json.loads((classifier / "metrics.json").read_text())["validation"]
    assert {"auroc", "accuracy", "mcc"} <= set(metrics)
    assert metrics["n"] == 120 and metrics["auroc"] > 0.6


def test_variant_classifier_scores_held_out_donors_through_a_pipe(classifier, donor_sets):
    from genotx.tasks.metrics import auroc

    test = donor_sets[1]
    stdin = ("sequence\tpos\talt\n" + "".join(r.rsplit("\t", 1)[0] + "\n" for r in test)).encode()
    header, got = table(genotx("predict", "--task", "variant", "--model", classifier, stdin=stdin).stdout)
    assert header == ["id", "chrom", "pos", "ref", "alt", "score"]
    assert [int(g[2]) for g in got] == [int(r.split("\t")[1]) for r in test]  # input order
    scores = np.array([float(g[5]) for g in got])
    assert ((scores >= 0) & (scores <= 1)).all()
    labels = np.array([int(r.rsplit("\t", 1)[1]) for r in test])
    assert auroc(labels, scores) > 0.7  # probability of label 1 (GT broken) is higher where the GT is broken


def test_variant_training_needs_two_labels_and_a_label_on_every_row(tmp_path):
    seq = "ACGT" * 10
    (tmp_path / "one.tsv").write_text("sequence\tpos\talt\tlabel\n" + "".join(f"{seq}\t{p}\tA\t1\n" for p in (2, 3, 4)))
    proc = genotx("finetune", "--task", "variant", tmp_path / "one.tsv", "-o", tmp_path / "m", check=False)
    assert proc.returncode == 2 and b"genotx: error:" in proc.stderr and b"exactly two values" in proc.stderr
    (tmp_path / "none.tsv").write_text("sequence\tpos\talt\n" + f"{seq}\t2\tA\n")
    proc = genotx("finetune", "--task", "variant", tmp_path / "none.tsv", "-o", tmp_path / "m", check=False)
    assert proc.returncode == 2 and b"label column" in proc.stderr and b"Traceback" not in proc.stderr


def test_variant_scoring_refuses_a_model_of_another_task(classifier, tmp_path):
    import json
    import shutil

    other = tmp_path / "other"
    shutil.copytree(classifier, other)
    config = json.loads((other / "config.json").read_text())
    config["metadata"]["task"] = "regulatory"
    (other / "config.json").write_text(json.dumps(config))
    stdin = b"sequence\tpos\talt\n" + b"ACGTACGTACGTACGTACGTACGT\t5\tC\n"
    proc = genotx("predict", "--task", "variant", "--model", other, stdin=stdin, check=False)
    assert proc.returncode == 2 and b"fine-tuned for task 'regulatory'" in proc.stderr


def test_zero_shot_score_is_negative_when_the_model_prefers_ref(tmp_path):
    """A masked LM trained on poly-A scores A>C below 0 and, in the same context, C>A above 0."""
    import torch

    from genotx.models import GenomicModel, ModelConfig
    from genotx.tasks.variant import load_variants
    from genotx.tokenizers import MASK_ID, build_tokenizer
    from genotx.inference.variant import score_variants

    torch.manual_seed(0)
    tok = build_tokenizer("char")
    model = GenomicModel(ModelConfig(vocab_size=tok.vocab_size, d_model=16, n_layers=1, n_heads=2, max_len=32))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    ids = torch.tensor(tok.encode("A" * 24), dtype=torch.long).repeat(4, 1)
    for _ in range(30):
        masked = ids.clone()
        masked[:, ::3] = MASK_ID
        loss = torch.nn.functional.cross_entropy(model(masked).logits[:, ::3].reshape(-1, tok.vocab_size),
                                                 ids[:, ::3].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    (tmp_path / "v.tsv").write_text("sequence\tpos\talt\n" + "A" * 24 + "\t12\tC\n"
                                    + "A" * 11 + "C" + "A" * 12 + "\t12\tA\n")
    variants = load_variants(str(tmp_path / "v.tsv"))
    scores = score_variants(model, tok, variants, window=24)
    assert scores[0] < -1.0 and scores[1] > 1.0, scores
    # Both variants mask the same site in the same context, so the scores are exact opposites.
    assert abs(scores[0] + scores[1]) < 1e-4
