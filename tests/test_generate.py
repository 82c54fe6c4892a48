"""`genotx generate`: valid FASTA of the requested length, reproducible by seed, MLM checkpoints refused."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

DATA = os.path.join(os.path.dirname(__file__), "data")
GENOME = os.path.join(DATA, "pretrain_saureus.fa.gz")
ENV = {**os.environ, "GENOTX_THREADS": "1"}


def genotx(*args, stdin: bytes | None = None):
    return subprocess.run([sys.executable, "-m", "genotx", *args], input=stdin, capture_output=True, timeout=180,
                          env=ENV)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three tiny runs, trained in this process (the pretrain command has its own end-to-end tests)."""
    from genotx.runtime import settings
    from genotx.train.config import TrainConfig
    from genotx.train.loop import pretrain

    settings.quiet = True
    root = tmp_path_factory.mktemp("gen")
    tiny = dict(d_model=32, n_layers=2, n_heads=2, seq_len=64, batch_size=4, eval_windows=8, max_steps=3, lr=0.01)
    made = {}
    for name, extra in {"ar": dict(objective="ar", rc_aug=True), "ar_kmer": dict(objective="ar", tokenizer="kmer3"),
                        "mlm": dict(objective="mlm", max_steps=1)}.items():
        pretrain(TrainConfig(**{**tiny, **extra}), [GENOME], str(root / name))
        made[name] = str(root / name)
    return made


def _fasta(text: str) -> list[tuple[str, str]]:
    records = []
    for block in text.split(">")[1:]:
        header, _, body = block.partition("\n")
        assert all(len(line) <= 80 for line in body.splitlines())
        records.append((header, body.replace("\n", "")))
    return records


@pytest.mark.parametrize("which", ["ar", "ar_kmer"])
def test_generate_writes_n_records_of_exactly_length_bases(runs, which):
    done = genotx("generate", "--model", runs[which], "--n", "3", "--length", "150", "--seed", "7")
    assert done.returncode == 0, done.stderr.decode()
    records = _fasta(done.stdout.decode())
    assert [h.split()[0] for h, _ in records] == ["gen1", "gen2", "gen3"]
    for _, seq in records:
        assert len(seq) == 150 and set(seq) <= set("ACGTN")


def test_same_seed_same_sequences_other_seed_other_sequences(runs):
    args = ["generate", "--model", runs["ar"], "--n", "2", "--length", "120", "--top-k", "3", "--top-p", "0.9"]
    a, b, c = genotx(*args, "--seed", "1"), genotx(*args, "--seed", "1"), genotx(*args, "--seed", "2")
    assert a.returncode == b.returncode == c.returncode == 0
    assert a.stdout == b.stdout and a.stdout != c.stdout


def test_prompts_are_continued_per_record_and_greedy_decoding_is_deterministic(runs, tmp_path):
    prompt = tmp_path / "p.fa"
    prompt.write_text(">p1\nATGAAAGCT\n>p2\nTTGACA\n")
    args = ["generate", "--model", os.path.join(runs["ar"], "model"), "--prompt", str(prompt), "--n", "2",
            "--length", "40", "--temperature", "0"]
    first, second = genotx(*args, "--seed", "1"), genotx(*args, "--seed", "9")
    assert first.returncode == 0, first.stderr.decode()
    records = _fasta(first.stdout.decode())
    assert [h.split()[1] for h, _ in records] == ["prompt=p1", "prompt=p1", "prompt=p2", "prompt=p2"]
    assert records[0][1] == records[1][1] and first.stdout.replace(b"seed=1", b"seed=9") == second.stdout


def test_generation_matches_sampling_from_the_full_forward_pass(runs):
    """The KV-cache path equals recomputing logits from scratch (greedy, so no sampling noise)."""
    import torch

    from genotx.models import load_checkpoint
    from genotx.tokenizers import CLS_ID
    from genotx.inference.sample import sample

    model, tok, _ = load_checkpoint(os.path.join(runs["ar"], "model"))
    model.eval()
    cached = sample(model, tok, prompt="ACGTTG", n=1, length=30, temperature=0, top_k=0, top_p=1.0, seed=0)[0]
    ids = [CLS_ID] + list(tok.encode("ACGTTG"))
    with torch.no_grad():
        for _ in range(30):
            logits = model(torch.tensor([ids])).logits[0, -1].clone()
            logits[:5] = float("-inf")
            ids.append(int(logits.argmax()))
    assert tok.decode(ids[1:])[6:] == cached


def test_mlm_checkpoint_is_refused_with_a_clear_message(runs):
    done = genotx("generate", "--model", runs["mlm"], "--length", "10")
    err = done.stderr.decode()
    assert done.returncode == 2 and err.startswith("genotx: error: ") and "not autoregressive" in err
    assert done.stdout == b""


@pytest.mark.parametrize(
    "args, message",
    [(["--length", "0"], "--length"), (["--top-p", "1.5"], "--top-p"), (["--temperature", "-1"], "--temperature")],
)
def test_bad_generate_options_exit_2(runs, args, message):
    done = genotx("generate", "--model", runs["ar"], *args)
    assert done.returncode == 2 and message in done.stderr.decode()


def test_missing_model_directory_exits_2(tmp_path):
    done = genotx("generate", "--model", str(tmp_path), "--length", "5")
    assert done.returncode == 2 and "not a genotx checkpoint" in done.stderr.decode()


@pytest.mark.parametrize("which", ["ar", "ar_kmer"])
def test_a_prompt_longer_than_the_context_is_continued_from_its_last_window(runs, which, tmp_path):
    """A 300 kbp prompt gives what its last context window gives, and the first forward pass sees only that."""
    import json
    import random
    import re

    from genotx.models import load_checkpoint

    rng = random.Random(5)
    long_seq = "".join(rng.choice("ACGT") for _ in range(300_000))
    (tmp_path / "long.fa").write_text(f">long\n{long_seq}\n")
    args = ["generate", "--model", runs[which], "--length", "30", "--temperature", "0", "-n", "1"]
    whole = genotx(*args, "--prompt", str(tmp_path / "long.fa"))
    assert whole.returncode == 0, whole.stderr.decode()
    kept = int(re.search(r"continuing its last (\d+) ", whole.stderr.decode()).group(1))
    (tmp_path / "tail.fa").write_text(f">long\n{long_seq[-kept:]}\n")
    tail = genotx(*args, "--prompt", str(tmp_path / "tail.fa"))
    assert whole.stdout == tail.stdout and tail.stderr == b""  # the tail alone fits: no note
    _, tokenizer, _ = load_checkpoint(os.path.join(runs[which], "model"))
    context = json.load(open(os.path.join(runs[which], "model", "config.json")))["model"]["max_len"] - 1
    assert context - 3 <= len(tokenizer.encode(long_seq[-kept:])) <= context  # the window is (nearly) full
