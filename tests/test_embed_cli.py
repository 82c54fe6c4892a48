"""genotx embed on genotx checkpoints, and its outputs: TSV through a pipe, .npy and .safetensors with ids beside."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import REPO, genotx_env, run_genotx, tsv_rows
from model_dirs import genotx_dir

from genotx.inference.embed import EmbedOptions, embed_sequences, window_starts
from genotx.models import load_checkpoint
from genotx.models.adapter import load_adapter

torch.set_num_threads(1)
RNG = np.random.default_rng(5)
SEQS = ["".join(RNG.choice(list("ACGTN"), n, p=[0.24, 0.24, 0.24, 0.24, 0.04])) for n in (9, 30, 57, 80)]
FASTA = "".join(f">r{i} some description\n{s}\n" for i, s in enumerate(SEQS)).encode()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("embed")
    return {"mlm": genotx_dir(root / "mlm"), "kmer": genotx_dir(root / "kmer", tokenizer="kmer3"),
            "classifier": genotx_dir(root / "cls", head="classify", classes=["a", "b"], max_len=40)}


def direct_mean(path: str, seq: str, cls: bool = False) -> np.ndarray:
    """The model's last hidden states averaged over the sequence's tokens, computed by hand."""
    from genotx.tokenizers import CLS_ID

    model, tokenizer, _ = load_checkpoint(path)
    ids = tokenizer.encode(seq).tolist()
    with torch.no_grad():
        hidden = model(torch.tensor([[CLS_ID] + ids if cls else ids])).hidden[0]
    return hidden[1:].mean(0).numpy() if cls else hidden.mean(0).numpy()


@pytest.mark.parametrize("name", ["mlm", "kmer"])
def test_genotx_embeddings_are_the_mean_hidden_state_of_the_sequence_tokens(models, name):
    adapter = load_adapter(models[name], precision="fp32", device="cpu")
    got = embed_sequences(adapter, SEQS, EmbedOptions(batch_size=3))
    np.testing.assert_allclose(got, np.stack([direct_mean(models[name], s) for s in SEQS]), atol=1e-5)


def test_padding_never_enters_the_embedding(models):
    adapter = load_adapter(models["mlm"], precision="fp32", device="cpu")
    alone = np.stack([embed_sequences(adapter, [s])[0] for s in SEQS])
    for pooling in ("mean", "max"):
        together = embed_sequences(adapter, SEQS, EmbedOptions(pooling=pooling, batch_size=4))
        single = np.stack([embed_sequences(adapter, [s], EmbedOptions(pooling=pooling))[0] for s in SEQS])
        np.testing.assert_allclose(together, single, atol=1e-5)
    np.testing.assert_allclose(embed_sequences(adapter, SEQS, EmbedOptions(batch_size=4)), alone, atol=1e-5)


def test_a_classifier_reads_cls_then_tokens_and_long_records_are_windowed(models):
    adapter = load_adapter(models["classifier"], precision="fp32", device="cpu")
    assert adapter.max_sequence_tokens == 39
    np.testing.assert_allclose(embed_sequences(adapter, SEQS[:2])[1], direct_mean(models["classifier"], SEQS[1], cls=True),
                               atol=1e-5)
    long = SEQS[3]  # 80 tokens: windows 0, 19, 38, 41 of 39 tokens
    assert window_starts(80, 39, 19) == [0, 19, 38, 41]
    pieces = [(long[s : s + 39], 39) for s in window_starts(80, 39, 19)]
    want = sum(direct_mean(models["classifier"], p, cls=True) * n for p, n in pieces) / sum(n for _, n in pieces)
    np.testing.assert_allclose(embed_sequences(adapter, [long])[0], want, atol=1e-5)


def test_embed_tsv_streams_through_a_pipe_with_ids_and_d_columns(models):
    proc = subprocess.run(f"{sys.executable} -m genotx embed --model {models['mlm']} | head -3", input=FASTA, shell=True,
                          capture_output=True, env=genotx_env(), cwd=REPO)
    lines = proc.stdout.decode().splitlines()
    assert proc.returncode == 0 and len(lines) == 3, proc.stderr.decode()
    assert lines[1].split("\t") == ["id"] + [f"e{i}" for i in range(32)]
    row = lines[2].split("\t")
    assert row[0] == "r0"
    np.testing.assert_allclose([float(x) for x in row[1:]], direct_mean(models["mlm"], SEQS[0]), atol=1e-4)


@pytest.mark.parametrize("suffix", [".npy", ".safetensors"])
def test_matrix_outputs_hold_every_row_in_input_order_with_ids_beside(models, tmp_path, suffix):
    out = tmp_path / f"emb{suffix}"
    proc = run_genotx("embed", "--model", models["mlm"], "--pooling", "max", "-o", str(out), stdin=FASTA)
    assert proc.returncode == 0 and proc.stdout == b"", proc.stderr.decode()
    if suffix == ".npy":
        matrix = np.load(out)
    else:
        from safetensors.numpy import load_file

        matrix = load_file(str(out))["embeddings"]
    adapter = load_adapter(models["mlm"], precision="fp32", device="cpu")
    np.testing.assert_allclose(matrix, embed_sequences(adapter, SEQS, EmbedOptions(pooling="max")), atol=1e-6)
    ids = (tmp_path / "emb.ids.tsv").read_text().splitlines()
    assert ids[0].startswith("#genotx ") and ids[1:] == ["id", "r0", "r1", "r2", "r3"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([out.name, "emb.ids.tsv"])


@pytest.mark.parametrize("suffix", [".npy", ".safetensors"])
def test_matrix_output_replaces_only_an_earlier_embed_output_and_only_with_force(models, tmp_path, suffix):
    out = tmp_path / f"emb{suffix}"
    first = run_genotx("embed", "--model", models["mlm"], "-o", str(out), stdin=FASTA)
    assert first.returncode == 0, first.stderr.decode()
    written = out.read_bytes()
    again = run_genotx("embed", "--model", models["mlm"], "--pooling", "max", "-o", str(out), stdin=FASTA)
    assert again.returncode == 2 and b"add --force" in again.stderr and again.stdout == b""
    assert out.read_bytes() == written
    forced = run_genotx("embed", "--model", models["mlm"], "--pooling", "max", "-o", str(out), "--force", stdin=FASTA)
    assert forced.returncode == 0, forced.stderr.decode()
    assert out.read_bytes() != written and sorted(p.name for p in tmp_path.iterdir()) == sorted([out.name, "emb.ids.tsv"])
    # files genotx did not write, at the matrix's name or at its ids' name, are never replaced, --force or not
    for mine, other in ((tmp_path / f"user{suffix}", None), (tmp_path / f"side{suffix}", tmp_path / "side.ids.tsv")):
        (other or mine).write_text("my own notes\n")
        proc = run_genotx("embed", "--model", models["mlm"], "-o", str(mine), "--force", stdin=FASTA)
        message = proc.stderr.decode()
        assert proc.returncode == 2 and "never writes over" in message and len(message.strip().splitlines()) == 1, message
        assert (other or mine).read_text() == "my own notes\n"
    assert not (tmp_path / "user.ids.tsv").exists() and not (tmp_path / f"side{suffix}").exists()


def test_empty_input_gives_the_header_and_bad_input_no_output(models):
    empty = run_genotx("embed", "--model", models["mlm"], stdin=b"")
    assert empty.returncode == 0 and len(empty.stdout.decode().splitlines()) == 2 and tsv_rows(empty.stdout) == []
    bad = run_genotx("embed", "--model", models["mlm"], stdin=b">a\nACGT\n>b\nAC-GT\n")
    assert bad.returncode == 2 and bad.stdout == b"" and b"'b'" in bad.stderr


@pytest.mark.parametrize("args, message", [
    (["--pooling", "cls"], b"reads the bare tokens"),
    (["--pooling", "sum"], b"--pooling must be one of"),
    (["--layer", "7"], b"layers 0 (embeddings) to 2"),
    (["-o", "out.txt"], b".npy or .safetensors"),
])
def test_impossible_requests_exit_2_in_one_line(models, args, message):
    proc = run_genotx("embed", "--model", models["mlm"], *args, stdin=FASTA)
    assert proc.returncode == 2 and message in proc.stderr and proc.stdout == b""
    assert len(proc.stderr.decode().strip().splitlines()) == 1
