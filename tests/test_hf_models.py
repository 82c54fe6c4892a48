"""Hugging Face directories read as they are: tokens as their own tokenizer makes them, embeddings as
transformers computes them, and the directories that must not be loaded refused with one line."""

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

from genotx.inference.embed import EmbedOptions, embed_sequences
from genotx.io.reader import revcomp
from genotx.models.adapter import load_adapter

torch.set_num_threads(1)
RNG = np.random.default_rng(7)


def random_dna(n: int, n_rate: float = 0.0) -> str:
    seq = RNG.choice(list("ACGT"), n)
    seq[RNG.random(n) < n_rate] = "N"
    return "".join(seq)


SEQS = [random_dna(n) for n in (12, 31, 45, 60)] + [random_dna(40, 0.1)]


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf")
    return {"bert": bert_kmer_dir(root / "bert"), "esm": esm_nt_dir(root / "esm")}


def reference_embedding(path: str, seq: str, pooling: str, layer: int = -1) -> np.ndarray:
    """What a user computes with transformers: the directory's tokenizer, the model, pooled by hand."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    model = transformers.AutoModelForMaskedLM.from_pretrained(path).eval()
    text = bert_tokens(seq) if "bert" in os.path.basename(path) else seq
    encoded = tokenizer(text, return_tensors="pt", return_special_tokens_mask=True)
    with torch.no_grad():
        hidden = model(input_ids=encoded["input_ids"], output_hidden_states=True).hidden_states[layer][0]
    real = ~encoded["special_tokens_mask"][0].bool()
    if pooling == "cls":
        return hidden[0].numpy()
    return (hidden[real].max(0).values if pooling == "max" else hidden[real].mean(0)).numpy()


@pytest.mark.parametrize("name", ["bert", "esm"])
@pytest.mark.parametrize("pooling", ["mean", "max", "cls"])
def test_embeddings_equal_those_computed_with_transformers(dirs, name, pooling):
    adapter = load_adapter(dirs[name], precision="fp32", device="cpu")
    got = embed_sequences(adapter, SEQS, EmbedOptions(pooling=pooling))
    want = np.stack([reference_embedding(dirs[name], s, pooling) for s in SEQS])
    np.testing.assert_allclose(got, want, atol=1e-4)


@pytest.mark.parametrize("name", ["bert", "esm"])
def test_rc_average_is_the_mean_of_both_strands_embeddings(dirs, name):
    adapter = load_adapter(dirs[name], precision="fp32", device="cpu")
    got = embed_sequences(adapter, SEQS, EmbedOptions(rc_average=True))
    want = np.stack([(reference_embedding(dirs[name], s, "mean") + reference_embedding(dirs[name], revcomp(s), "mean")) / 2
                     for s in SEQS])
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_layer_picks_that_hidden_state_and_negative_counts_from_the_last(dirs):
    adapter = load_adapter(dirs["esm"], precision="fp32", device="cpu")
    first = embed_sequences(adapter, SEQS[:2], EmbedOptions(layer=1))
    np.testing.assert_allclose(first, embed_sequences(adapter, SEQS[:2], EmbedOptions(layer=-2)), atol=1e-6)
    np.testing.assert_allclose(first, np.stack([reference_embedding(dirs["esm"], s, "mean", layer=1) for s in SEQS[:2]]),
                               atol=1e-4)


def test_long_records_are_embedded_in_windows_of_bases_weighted_by_their_tokens(dirs):
    adapter = load_adapter(dirs["esm"], precision="fp32", device="cpu")
    seq = random_dna(900)  # 150 six-mers: more than the 126 the model reads beside <cls> and <eos>
    got = embed_sequences(adapter, [seq], EmbedOptions(window=360, stride=300))[0]
    model = transformers.AutoModelForMaskedLM.from_pretrained(dirs["esm"]).eval()
    total, count = 0, 0
    for start in (0, 300, 540):  # every 300 bases, the last flush with the end (900 - 360)
        tokens = adapter.tokenize(seq[start : start + 360])[0]  # each window tokenised on its own: 60 six-mers
        row = torch.tensor([adapter.prefix + tokens.tolist() + adapter.suffix])
        with torch.no_grad():
            hidden = model(input_ids=row, output_hidden_states=True).hidden_states[-1][0, 1:-1]
        total, count = total + hidden.sum(0).numpy(), count + len(hidden)
    np.testing.assert_allclose(got, total / count, atol=1e-4)


def test_nucleotide_transformer_tokens_are_those_of_its_own_tokenizer(dirs):
    adapter = load_adapter(dirs["esm"], precision="fp32", device="cpu")
    tokenizer = transformers.AutoTokenizer.from_pretrained(dirs["esm"])
    for seq in [random_dna(n, rate) for n in (1, 5, 6, 7, 13, 50, 97) for rate in (0.0, 0.1, 0.4)]:
        want = tokenizer(seq, add_special_tokens=False)["input_ids"]
        ids, offsets = adapter.tokenize(seq)
        assert ids.tolist() == want, seq
        assert "".join(seq[a:b] for a, b in offsets) == seq  # tokens cover the sequence once, in order


def test_dnabert_tokens_are_the_overlapping_kmers_of_its_vocabulary(dirs):
    adapter = load_adapter(dirs["bert"], precision="fp32", device="cpu")
    tokenizer = transformers.AutoTokenizer.from_pretrained(dirs["bert"])
    assert adapter.scheme.k == 6 and adapter.prefix == [tokenizer.cls_token_id] and adapter.suffix == [tokenizer.sep_token_id]
    for seq in [random_dna(n, rate) for n in (6, 7, 40) for rate in (0.0, 0.2)]:
        want = tokenizer(bert_tokens(seq), add_special_tokens=False)["input_ids"]
        assert adapter.tokenize(seq)[0].tolist() == want


def test_embed_reads_a_hugging_face_directory_through_a_pipe(dirs, tmp_path):
    fasta = "".join(f">s{i}\n{s}\n" for i, s in enumerate(SEQS))
    (tmp_path / "in.fa").write_text(fasta)
    proc = subprocess.run(f"cat {tmp_path / 'in.fa'} | {sys.executable} -m genotx embed --model {dirs['bert']} "
                          "--precision fp32 | head -4", shell=True, capture_output=True, env=genotx_env(), cwd=REPO)
    lines = proc.stdout.decode().splitlines()
    assert proc.returncode == 0 and len(lines) == 4, proc.stderr.decode()
    assert lines[1].split("\t")[:3] == ["id", "e0", "e1"] and len(lines[1].split("\t")) == 33
    got = np.array([float(x) for x in lines[2].split("\t")[1:]])
    np.testing.assert_allclose(got, reference_embedding(dirs["bert"], SEQS[0], "mean"), atol=1e-4)


def test_pickle_only_directories_are_refused_unless_allowed(dirs, tmp_path):
    pickled = tmp_path / "pickled"
    bert_kmer_dir(pickled)
    model = transformers.AutoModelForMaskedLM.from_pretrained(str(pickled))
    torch.save(model.state_dict(), pickled / "pytorch_model.bin")
    os.remove(pickled / "model.safetensors")
    fasta = f">a\n{SEQS[1]}\n".encode()
    refused = run_genotx("embed", "--model", str(pickled), stdin=fasta)
    message = refused.stderr.decode()
    assert refused.returncode == 2 and refused.stdout == b"" and len(message.strip().splitlines()) == 1
    assert "pytorch_model.bin" in message and "save_file" in message and "--allow-pickle" in message
    allowed = run_genotx("embed", "--model", str(pickled), "--allow-pickle", "--precision", "fp32", stdin=fasta)
    assert allowed.returncode == 0, allowed.stderr.decode()
    got = np.array([float(x) for x in tsv_rows(allowed.stdout)[0][1:]])
    np.testing.assert_allclose(got, reference_embedding(dirs["bert"], SEQS[1], "mean"), atol=1e-4)


def test_directories_that_need_remote_code_are_refused(tmp_path):
    remote = tmp_path / "remote"
    esm_nt_dir(remote)
    config = json.loads((remote / "config.json").read_text())
    config["auto_map"] = {"AutoModelForMaskedLM": "modeling_custom.CustomModel"}
    (remote / "config.json").write_text(json.dumps(config))
    proc = run_genotx("embed", "--model", str(remote), stdin=b">a\nACGTACGTAC\n")
    assert proc.returncode == 2 and proc.stdout == b""
    assert "--trust-remote-code" in proc.stderr.decode() and len(proc.stderr.decode().strip().splitlines()) == 1


@pytest.mark.parametrize("content", [{"hello": "world"}, None])
def test_a_directory_that_is_neither_format_exits_2_with_a_clear_message(tmp_path, content):
    folder = tmp_path / "neither"
    folder.mkdir()
    if content is not None:
        (folder / "config.json").write_text(json.dumps(content))
    else:
        (folder / "weights.dat").write_bytes(b"\0" * 16)
    proc = run_genotx("embed", "--model", str(folder), stdin=b">a\nACGT\n")
    assert proc.returncode == 2 and proc.stdout == b""
    message = proc.stderr.decode()
    assert message.startswith("genotx: error:") and len(message.strip().splitlines()) == 1
    assert "genotx checkpoint" in message and ("Hugging Face" in message or "format" in message)


def test_an_unknown_model_type_is_refused(tmp_path):
    folder = tmp_path / "odd"
    esm_nt_dir(folder)
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "dna-wizard"
    (folder / "config.json").write_text(json.dumps(config))
    proc = run_genotx("ism", "--model", str(folder), stdin=b">a\nACGT\n")
    assert proc.returncode == 2 and b"not implemented by the installed transformers" in proc.stderr


def test_loading_never_reaches_for_the_network(dirs):
    # Every socket connection fails loudly in this process; loading and embedding must not try one.
    script = (
        "import socket, sys\n"
        "def refuse(*a, **k): raise SystemExit('network access attempted')\n"
        "socket.socket.connect = refuse; socket.create_connection = refuse; socket.getaddrinfo = refuse\n"
        "from genotx.cli import app\n"
        f"sys.argv = ['genotx', 'embed', '--model', {dirs['esm']!r}]\n"
        "app()\n"
    )
    env = {k: v for k, v in genotx_env().items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    proc = subprocess.run([sys.executable, "-c", script], input=b">a\nACGTACGTACGTAC\n", capture_output=True, env=env,
                          cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    assert len(tsv_rows(proc.stdout)) == 1


def test_commands_that_read_genotx_checkpoints_only_refuse_hugging_face_directories_in_one_line(dirs):
    proc = run_genotx("generate", "--model", dirs["esm"], "--n", "1", "--length", "10")
    message = proc.stderr.decode()
    assert proc.returncode == 2 and proc.stdout == b"", message
    assert "Hugging Face model directory" in message and len(message.strip().splitlines()) == 1
