"""Hugging Face models scored and read as transformers computes them by hand: indel likelihoods, windows
in bases that cover every base, attention mapped from k-mer tokens to bases, bf16 beside fp32, devices."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import REPO, genotx_env, run_genotx, tsv_rows
from model_dirs import bert_kmer_dir, bert_tokens, esm_nt_dir, genotx_dir, transformers

from genotx.inference.embed import EmbedOptions, embed_sequences
from genotx.models.adapter import load_adapter, pick_dtype
from genotx.models.windows import base_windows

torch.set_num_threads(1)
RNG = np.random.default_rng(21)


def random_dna(n: int, n_rate: float = 0.0) -> str:
    seq = RNG.choice(list("ACGT"), n)
    seq[RNG.random(n) < n_rate] = "N"
    return "".join(seq)


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf_scores")
    return {"root": root, "bert": bert_kmer_dir(root / "bert"), "esm": esm_nt_dir(root / "esm"),
            "encoder": esm_nt_dir(root / "encoder", architecture=transformers.EsmModel),
            "genotx": genotx_dir(root / "genotx", max_len=40)}


def pseudo_loglik_by_hand(path: str, seq: str) -> float:
    """Each base's covering tokens masked together (one token for the Nucleotide Transformer's tokens, the k
    overlapping k-mers for DNABERT), log p of the true tokens summed; a masked row that repeats counts once."""
    model = transformers.AutoModelForMaskedLM.from_pretrained(path).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    kmers = "bert" in path.rsplit("/", 1)[-1]
    encoded = tokenizer(bert_tokens(seq) if kmers else seq, return_special_tokens_mask=True)
    ids = torch.tensor(encoded["input_ids"])
    positions = [i for i, special in enumerate(encoded["special_tokens_mask"]) if not special]
    spans, start = [], 0  # the bases each sequence token covers
    for i in positions:
        text = tokenizer.convert_ids_to_tokens(int(ids[i]))
        spans.append((i, start, start + len(text)))
        start += 1 if kmers else len(text)
    total, seen = 0.0, set()
    for base in range(len(seq)):
        covering = tuple(i for i, a, b in spans if a <= base < b)
        if covering in seen:
            continue
        seen.add(covering)
        masked = ids.clone()
        masked[list(covering)] = tokenizer.mask_token_id
        with torch.no_grad():
            logp = model(input_ids=masked[None]).logits[0].log_softmax(-1)
        total += float(sum(logp[i, ids[i]] for i in covering))
    return total


@pytest.mark.parametrize("name", ["esm", "bert"])
def test_indel_scores_are_the_pseudo_log_likelihood_difference_computed_with_transformers(dirs, name):
    context = random_dna(50)
    insertion = (23, context[22], context[22] + "GA")
    deletion = (31, context[30:33], context[30])
    table = "id\tsequence\tpos\tref\talt\n" + "".join(f"{kind}\t{context}\t{p}\t{r}\t{a}\n"
                                                      for kind, (p, r, a) in zip(("ins", "del"), (insertion, deletion)))
    proc = subprocess.run(f"{sys.executable} -m genotx predict --task variant --model {dirs[name]} --precision fp32 "
                          "--window 128 - | cat", input=table.encode(), shell=True, capture_output=True,
                          env=genotx_env(), cwd=REPO)
    assert proc.returncode == 0, proc.stderr.decode()
    got = {r[0]: float(r[5]) for r in tsv_rows(proc.stdout)}
    reference = pseudo_loglik_by_hand(dirs[name], context)
    for kind, (pos, ref, alt) in zip(("ins", "del"), (insertion, deletion)):
        alternate = context[: pos - 1] + alt + context[pos - 1 + len(ref):]  # the whole 50 bp fits in --window 128
        want = pseudo_loglik_by_hand(dirs[name], alternate) - reference
        # fp32 sums of about 50 log-probabilities (each near -8), batched by genotx, one row at a time here
        assert got[kind] == pytest.approx(want, abs=1e-3), kind


@pytest.mark.parametrize("name", ["bert", "esm", "genotx"])
def test_windows_of_a_long_record_cover_every_base_and_fit_the_model(dirs, name):
    adapter = load_adapter(dirs[name], precision="fp32", device="cpu")
    for length, n_rate, window, stride in [(2000, 0.0, None, None), (1500, 0.3, None, None), (1000, 0.05, 100, 70),
                                           (777, 1.0, None, None), (90, 0.0, 40, 40)]:
        seq = random_dna(length, n_rate)
        window = window or adapter.window_bases
        pieces = base_windows(adapter, seq, window, stride or window // 2)
        covered = np.zeros(length, bool)
        for start, end, ids in pieces:
            covered[start:end] = True
            assert len(ids) <= adapter.max_sequence_tokens and end - start <= window
            assert ids.tolist() == adapter.tokenize(seq[start:end])[0].tolist()
        assert covered.all(), (name, length, n_rate)


def test_embed_window_and_stride_count_bases_for_overlapping_kmers(dirs):
    seq = random_dna(200)
    proc = run_genotx("embed", "--model", dirs["bert"], "--precision", "fp32", "--window", "60", "--stride", "50",
                      stdin=f">long\n{seq}\n".encode())
    assert proc.returncode == 0, proc.stderr.decode()
    got = np.array([float(x) for x in tsv_rows(proc.stdout)[0][1:]])
    model = transformers.AutoModelForMaskedLM.from_pretrained(dirs["bert"]).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(dirs["bert"])
    total, count = 0, 0
    for start in (0, 50, 100, 140):  # 60 bases every 50, the last flush with the end: 55 six-mers each
        encoded = tokenizer(bert_tokens(seq[start : start + 60]), return_tensors="pt")
        with torch.no_grad():
            hidden = model(**encoded, output_hidden_states=True).hidden_states[-1][0, 1:-1]
        total, count = total + hidden.sum(0).numpy(), count + len(hidden)
    np.testing.assert_allclose(got, total / count, atol=1e-4)
    too_long = run_genotx("embed", "--model", dirs["bert"], "--window", "68", stdin=f">long\n{seq}\n".encode())
    assert too_long.returncode == 2 and b"at most 67 bases" in too_long.stderr  # 62 six-mers + 5


def test_attention_of_kmer_tokens_is_shared_among_the_bases_they_cover(dirs):
    from genotx.motifs.hf import attention_by_base

    seq, k = random_dna(20), 6
    adapter = load_adapter(dirs["bert"], precision="fp32", device="cpu")
    (got,) = list(attention_by_base(adapter, [seq]))
    model = transformers.AutoModelForMaskedLM.from_pretrained(dirs["bert"], attn_implementation="eager").eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(dirs["bert"])
    with torch.no_grad():
        layers = model(**tokenizer(bert_tokens(seq), return_tensors="pt"), output_attentions=True).attentions
    n_tokens = len(seq) - k + 1  # row: [CLS], the k-mers, [SEP]
    for layer, attention in zip(got, layers):
        token = attention[0].numpy()
        want = np.zeros_like(layer)
        for i in range(len(seq)):
            queries = [t for t in range(n_tokens) if t <= i < t + k]
            for t in queries:  # a query base: the mean row of the k-mers covering it
                for u in range(n_tokens):  # a key k-mer: its weight split among its k bases
                    want[:, i, u : u + k] += token[:, 1 + t, 1 + u][:, None] / k / len(queries)
        np.testing.assert_allclose(layer, want, atol=1e-6)


def test_a_bare_encoder_gives_attention_motifs_but_no_attribution(dirs):
    fasta = "".join(f">s{i}\n{random_dna(60)}\n" for i in range(6)).encode()
    heads = run_genotx("motifs", "--model", dirs["encoder"], "--heads", stdin=fasta)
    assert heads.returncode == 0 and len(tsv_rows(heads.stdout)) == 4, heads.stderr.decode()
    refused = run_genotx("motifs", "--model", dirs["encoder"], "--attribution", stdin=fasta)
    message = refused.stderr.decode()
    assert refused.returncode == 2 and refused.stdout == b"" and len(message.strip().splitlines()) == 1
    assert "bare encoder" in message and "--attribution" in message


@pytest.mark.parametrize("name", ["bert", "esm"])
def test_bf16_runs_on_a_cpu_without_native_bf16_and_agrees_with_fp32(dirs, name):
    seqs = [random_dna(n) for n in (30, 61, 200)]
    fp32 = embed_sequences(load_adapter(dirs[name], precision="fp32", device="cpu"), seqs)
    bf16_adapter = load_adapter(dirs[name], precision="bf16", device="cpu")
    assert next(bf16_adapter.model.parameters()).dtype == torch.bfloat16
    bf16 = embed_sequences(bf16_adapter, seqs)
    # bf16 keeps 8 bits of mantissa (0.4 % per rounding); through two layers the embeddings (|x| < 2) move by
    # less than 0.01 here, so 0.05 is loose, and the direction must agree almost exactly
    np.testing.assert_allclose(bf16, fp32, atol=0.05)
    cosine = (bf16 * fp32).sum(1) / np.linalg.norm(bf16, axis=1) / np.linalg.norm(fp32, axis=1)
    assert cosine.min() > 0.999


def test_auto_precision_is_bf16_only_where_the_cpu_has_it(monkeypatch):
    import genotx.models.adapter as adapter_module

    monkeypatch.setattr(adapter_module, "cpu_has_bf16", lambda: False)
    assert pick_dtype("auto", "cpu") == torch.float32
    monkeypatch.setattr(adapter_module, "cpu_has_bf16", lambda: True)
    assert pick_dtype("auto", "cpu") == torch.bfloat16
    assert pick_dtype("fp32", "cpu") == torch.float32 and pick_dtype("bf16", "cpu") == torch.bfloat16


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
@pytest.mark.parametrize("command", [["embed"], ["ism"], ["motifs", "--heads"]])
def test_device_cuda_without_cuda_exits_2_in_one_line(dirs, command):
    proc = run_genotx(*command, "--model", dirs["esm"], "--device", "cuda", stdin=b">a\nACGTACGTACGTAC\n")
    message = proc.stderr.decode()
    assert proc.returncode == 2 and proc.stdout == b"" and len(message.strip().splitlines()) == 1, message
    assert "CUDA is not available" in message


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", ["bert", "esm", "genotx"])
def test_embeddings_on_cuda_equal_those_on_the_cpu(dirs, name):
    seqs = [random_dna(n, 0.02) for n in (30, 90, 700)]  # 700 bp: several windows on every model here
    cpu, cuda = (load_adapter(dirs[name], precision="fp32", device=device) for device in ("cpu", "cuda"))
    for options in (EmbedOptions(), EmbedOptions(pooling="max", rc_average=True, layer=1)):
        np.testing.assert_allclose(embed_sequences(cuda, seqs, options), embed_sequences(cpu, seqs, options), atol=1e-3)
