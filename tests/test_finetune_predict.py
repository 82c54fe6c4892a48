"""`genotx finetune` and `genotx predict` end to end through real pipes, at tiny size on real data."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"
SMALL_GENOMES = [
    DATA / "genomes" / "homo_sapiens-mitochondrion.fa.gz",
    DATA / "genomes" / "deformed_wing_virus-NC_004830.fa.gz",
    DATA / "genomes" / "varroa_destructor_virus_1-NC_006494.fa.gz",
]


def genotx(*args, stdin: bytes | None = None, check: bool = True, timeout: float = 300):
    proc = subprocess.run([sys.executable, "-m", "genotx", "-q", *map(str, args)], input=stdin,
                          capture_output=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"genotx {' '.join(map(str, args))} failed ({proc.returncode}): {proc.stderr.decode()}")
    return proc


def table(stdout: bytes) -> tuple[list[str], list[list[str]]]:
    lines = stdout.decode().splitlines()
    assert lines[0].startswith("#genotx ")
    return lines[1].split("\t"), [line.split("\t") for line in lines[2:]]


@pytest.fixture(scope="module")
def taxon_model(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("taxon") / "model"
    genotx("finetune", "--task", "taxon", *SMALL_GENOMES, "--taxa", DATA / "genomes" / "taxa.tsv",
           "--tokenizer", "kmer4:4", "--steps", "120", "--batch-size", "32", "--eval-every", "60", "-o", out)
    return out


@pytest.fixture(scope="module")
def small_reads() -> bytes:
    return genotx("simulate", *SMALL_GENOMES, "--taxa", DATA / "genomes" / "taxa.tsv", "--n", "300",
                  "--length", "150", "--seed", "5").stdout


def test_taxon_finetune_writes_checkpoint_and_metrics(taxon_model):
    for name in ("config.json", "model.safetensors", "tokenizer.json", "metrics.json"):
        assert (taxon_model / name).exists(), name


def test_taxon_predictions_beat_chance_and_keep_input_order(taxon_model, small_reads):
    proc = genotx("predict", "--task", "taxon", "--model", taxon_model, "--min-prob", "0", stdin=small_reads)
    header, rows = table(proc.stdout)
    assert header == ["read_id", "taxon", "taxid", "prob", "runner_up", "runner_up_prob", "prob_none"]
    ids = [line[1:] for line in small_reads.decode().splitlines()[0::4]]
    assert [r[0] for r in rows] == ids
    truth = [i.split("|taxon=")[1].split("|")[0] for i in ids]
    accuracy = np.mean([r[1] == t for r, t in zip(rows, truth)])
    assert accuracy > 0.6, accuracy  # three taxa: chance is 1/3
    assert all(0.0 <= float(r[3]) <= 1.0 and float(r[5]) <= float(r[3]) for r in rows)


def test_taxon_reads_below_min_prob_are_unclassified(taxon_model, small_reads):
    _, rows = table(genotx("predict", "--model", taxon_model, "--min-prob", "1.0", stdin=small_reads).stdout)
    assert rows and all(r[1] == "unclassified" and r[2] == "0" for r in rows if float(r[3]) < 1.0)


def test_predict_into_head_ends_quietly(taxon_model, small_reads):
    reads = small_reads * 20
    cmd = f"{sys.executable} -m genotx -q predict --model {taxon_model} | head -n 1"
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], input=reads, capture_output=True, timeout=300)
    assert proc.returncode == 0 and proc.stderr == b""
    assert proc.stdout.startswith(b"#genotx")


def test_model_for_another_task_is_refused(taxon_model, small_reads):
    proc = genotx("predict", "--task", "regulatory", "--model", taxon_model, stdin=small_reads, check=False)
    assert proc.returncode == 2
    assert b"genotx: error:" in proc.stderr and b"taxon" in proc.stderr and b"Traceback" not in proc.stderr


def test_corrupted_checkpoint_is_a_clear_error(taxon_model, tmp_path, small_reads):
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("config.json", "tokenizer.json"):
        (broken / name).write_bytes((taxon_model / name).read_bytes())
    data = (taxon_model / "model.safetensors").read_bytes()
    (broken / "model.safetensors").write_bytes(data[: len(data) // 2])
    proc = genotx("predict", "--model", broken, stdin=small_reads, check=False)
    assert proc.returncode == 2 and b"genotx: error:" in proc.stderr and b"Traceback" not in proc.stderr


def test_taxon_model_carries_a_kmer_memory_by_default(taxon_model):
    import json

    meta = json.loads((taxon_model / "config.json").read_text())["metadata"]
    assert meta["kmer_memory"]["k"] == 13 and meta["kmer_memory"]["bits"] == 23
    assert (taxon_model / meta["kmer_memory"]["file"]).exists()
    assert all(w >= 0 for w in meta["kmer_memory"]["weights"])


def test_taxon_model_without_memory_predicts_alone(tmp_path, small_reads):
    out = tmp_path / "plain"
    genotx("finetune", "--task", "taxon", *SMALL_GENOMES, "--taxa", DATA / "genomes" / "taxa.tsv",
           "--tokenizer", "kmer4:4", "--steps", "120", "--batch-size", "32", "--eval-every", "60",
           "--kmer-memory", "off", "-o", out)
    assert not (out / "kmer_memory.safetensors").exists()
    _, rows = table(genotx("predict", "--model", out, "--min-prob", "0", stdin=small_reads).stdout)
    ids = [line[1:] for line in small_reads.decode().splitlines()[0::4]]
    truth = [i.split("|taxon=")[1].split("|")[0] for i in ids]
    assert np.mean([r[1] == t for r, t in zip(rows, truth)]) > 0.6  # three taxa: chance is 1/3


def test_steps_zero_keeps_weights_and_rebuilds_the_memory(taxon_model, tmp_path, small_reads):
    from safetensors.numpy import load_file

    out = tmp_path / "again"
    genotx("finetune", "--task", "taxon", *SMALL_GENOMES, "--taxa", DATA / "genomes" / "taxa.tsv",
           "--from", taxon_model, "--steps", "0", "--kmer-memory", "11:14", "-o", out)
    before, after = load_file(str(taxon_model / "model.safetensors")), load_file(str(out / "model.safetensors"))
    assert before.keys() == after.keys() and all(np.array_equal(before[k], after[k]) for k in before)
    assert (out / "kmer_memory.safetensors").stat().st_size < (taxon_model / "kmer_memory.safetensors").stat().st_size
    _, rows = table(genotx("predict", "--model", out, "--min-prob", "0", stdin=small_reads).stdout)
    ids = [line[1:] for line in small_reads.decode().splitlines()[0::4]]
    truth = [i.split("|taxon=")[1].split("|")[0] for i in ids]
    assert np.mean([r[1] == t for r, t in zip(rows, truth)]) > 0.9


def test_no_memory_flag_predicts_with_the_network_alone(taxon_model, tmp_path, small_reads):
    import json

    plain = tmp_path / "plain"
    plain.mkdir()
    for name in ("tokenizer.json", "model.safetensors"):
        (plain / name).write_bytes((taxon_model / name).read_bytes())
    config = json.loads((taxon_model / "config.json").read_text())
    del config["metadata"]["kmer_memory"]
    (plain / "config.json").write_text(json.dumps(config))
    flagged = genotx("predict", "--model", taxon_model, "--no-memory", "--min-prob", "0", stdin=small_reads).stdout
    alone = genotx("predict", "--model", plain, "--min-prob", "0", stdin=small_reads).stdout
    assert flagged.splitlines()[1:] == alone.splitlines()[1:]


def test_a_zero_network_weight_gives_the_memory_posterior_without_loading_the_network(taxon_model, tmp_path,
                                                                                    small_reads):
    import json

    from genotx.inference.predict import Predictor
    from genotx.taxon.combine import Weights, combine

    alone = tmp_path / "alone"
    alone.mkdir()
    for name in ("tokenizer.json", "model.safetensors", "kmer_memory.safetensors"):
        (alone / name).write_bytes((taxon_model / name).read_bytes())
    config = json.loads((taxon_model / "config.json").read_text())
    config["metadata"]["kmer_memory"]["weights"] = [0.0, 0.7]
    (alone / "config.json").write_text(json.dumps(config))
    predictor = Predictor.load(str(alone), "taxon")
    classifier = predictor.classifier
    assert classifier.network is None  # decided once, at load: the network is never read
    seqs = small_reads.decode().splitlines()[1::4][:64]
    expected = combine(Weights(0.0, 0.7), np.zeros((len(seqs), len(predictor.classes)), dtype=np.float32),
                       classifier.index.evidence(seqs))
    np.testing.assert_allclose(predictor.outputs(seqs), expected, rtol=1e-6)


def test_a_nonzero_network_weight_loads_the_network(taxon_model):
    import json

    from genotx.inference.predict import Predictor

    weights = json.loads((taxon_model / "config.json").read_text())["metadata"]["kmer_memory"]["weights"]
    classifier = Predictor.load(str(taxon_model), "taxon").classifier
    assert (classifier.network is not None) == (weights[0] != 0)
    assert Predictor.load(str(taxon_model), "taxon", use_memory=False).classifier.network is not None


def test_missing_memory_file_is_a_clear_error(taxon_model, tmp_path, small_reads):
    broken = tmp_path / "nomemory"
    broken.mkdir()
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        (broken / name).write_bytes((taxon_model / name).read_bytes())
    proc = genotx("predict", "--model", broken, stdin=small_reads, check=False)
    assert proc.returncode == 2 and b"k-mer memory" in proc.stderr and b"Traceback" not in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["--task", "regulatory", "--kmer-memory", "13:21"], b"--kmer-memory is for --task taxon"),
    (["--task", "taxon", "--kmer-memory", "13:x"], b"--kmer-memory"),
    (["--task", "taxon", "--steps", "0"], b"--steps 0"),
    (["--task", "taxon", "--lr", "0"], b"--lr must be positive"),
])
def test_bad_memory_step_and_lr_options_exit_2(tmp_path, args, message):
    proc = genotx("finetune", *args, SMALL_GENOMES[0], "-o", tmp_path / "m", check=False)
    assert proc.returncode == 2 and message in proc.stderr and b"Traceback" not in proc.stderr


def test_regulatory_splice_classifier_beats_majority_class(tmp_path):
    rows = gzip.open(DATA / "labelled" / "splice.tsv.gz", "rt").read().splitlines()[1:]
    rng = np.random.default_rng(0)
    picked = [rows[i] for i in rng.choice(len(rows), 900, replace=False)]
    train, test = picked[:700], picked[700:]
    (tmp_path / "train.tsv").write_text("sequence\tlabel\n" + "\n".join(train) + "\n")
    out = tmp_path / "splice"
    genotx("finetune", "--task", "regulatory", tmp_path / "train.tsv", "--preset", "variant-tiny", "--steps", "400",
           "--batch-size", "32", "--eval-every", "100", "--lr", "3e-3", "-o", out)
    fasta = "".join(f">s{i}\n{r.split(chr(9))[0]}\n" for i, r in enumerate(test)).encode()
    header, got = table(genotx("predict", "--task", "regulatory", "--model", out, "--all-probs", stdin=fasta).stdout)
    assert header == ["id", "label", "prob", "prob_ei", "prob_ie", "prob_n"]
    truth = [r.split("\t")[1] for r in test]
    accuracy = np.mean([g[1] == t for g, t in zip(got, truth)])
    majority = max(truth.count(c) for c in set(truth)) / len(truth)
    assert accuracy > majority + 0.1, (accuracy, majority)
    assert all(abs(sum(map(float, g[3:])) - 1.0) < 1e-4 for g in got)


def test_expression_regressor_predicts_one_value_per_sequence(tmp_path):
    example = REPO / "examples" / "expression_synthetic.tsv"
    out = tmp_path / "expr"
    genotx("finetune", "--task", "expression", example, "--preset", "variant-tiny", "--tokenizer", "kmer3:3", "--steps", "60",
           "--eval-every", "30", "-o", out)
    seqs = [line.split("\t") for line in example.read_text().splitlines() if not line.startswith("#")]
    col = seqs[0].index("sequence")
    fasta = "".join(f">e{i}\n{r[col]}\n" for i, r in enumerate(seqs[1:21])).encode()
    header, got = table(genotx("predict", "--task", "expression", "--model", out, stdin=fasta).stdout)
    assert header == ["id", "value"] and len(got) == 20
    assert all(np.isfinite(float(g[1])) for g in got)


def test_unknown_task_and_missing_inputs_exit_2(tmp_path):
    proc = genotx("finetune", "--task", "nonsense", "-o", tmp_path / "x", check=False)
    assert proc.returncode == 2 and b"unknown task" in proc.stderr
    proc = genotx("predict", "--task", "nonsense", stdin=b"", check=False)
    assert proc.returncode == 2 and b"genotx: error:" in proc.stderr


def test_variant_scores_from_a_pretrained_mlm(tmp_path):
    run = tmp_path / "mlm"
    genotx("pretrain", SMALL_GENOMES[0], "--objective", "mlm", "--tokenizer", "char", "--d-model", "32",
           "--layers", "1", "--heads", "2", "--seq-len", "64", "--batch-size", "8", "--max-steps", "20", "-o", run)
    seq = gzip.open(SMALL_GENOMES[0], "rt").read().split("\n", 1)[1].replace("\n", "")[:200]
    alt = {"A": "C", "C": "G", "G": "T", "T": "A"}
    lines = ["sequence\tpos\talt"] + [f"{seq}\t{p}\t{alt[seq[p - 1]]}" for p in (50, 100, 150)]
    (tmp_path / "v.tsv").write_text("\n".join(lines) + "\n")
    header, got = table(genotx("predict", "--task", "variant", "--model", run, tmp_path / "v.tsv", "--window", "64").stdout)
    assert header == ["id", "chrom", "pos", "ref", "alt", "score"]
    assert [int(g[2]) for g in got] == [50, 100, 150]
    assert all(np.isfinite(float(g[5])) for g in got)
