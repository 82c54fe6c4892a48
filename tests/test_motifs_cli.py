"""`genotx motifs` end to end: a tiny classifier trained on a planted CTCF site, then the CLI through a pipe."""

import os
import subprocess
import sys

import numpy as np
import pytest

from genotx.motifs import jaspar
from genotx.motifs.meme import read_meme

COLUMNS = ["motif_id", "layer", "head", "width", "ic_total", "consensus", "n_sites",
           "jaspar_id", "jaspar_name", "similarity", "q_value", "site_rate", "random_site_rate", "selection_p"]
LENGTH = 60


def _sample_sites(n, rng):
    """Sites drawn from JASPAR's CTCF matrix (MA0139), either strand."""
    ctcf = next(m for m in jaspar.load("JASPAR2024") if m.matrix_id.startswith("MA0139"))
    pfm = ctcf.counts / ctcf.counts.sum(axis=1, keepdims=True)
    sites = []
    for _ in range(n):
        site = "".join("ACGT"[rng.choice(4, p=col)] for col in pfm)
        sites.append(site if rng.random() < 0.5 else site[::-1].translate(str.maketrans("ACGT", "TGCA")))
    return sites


def _planted(n, rng):
    positives, negatives = [], []
    for site in _sample_sites(n, rng):
        seq = list(rng.choice(list("ACGT"), size=LENGTH))
        pos = int(rng.integers(0, LENGTH - len(site)))
        seq[pos: pos + len(site)] = site
        positives.append("".join(seq))
        negatives.append("".join(rng.choice(list("ACGT"), size=LENGTH)))
    return positives, negatives


def _fasta(path, seqs):
    path.write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(seqs)))
    return str(path)


def _train(positives, negatives, steps, mixer="attention"):
    import torch

    from genotx.models import GenomicModel, ModelConfig
    from genotx.tokenizers import CLS_ID, build_tokenizer

    torch.manual_seed(0)
    torch.set_num_threads(1)  # a tiny model gains nothing from more threads
    tok = build_tokenizer("char")
    seqs = positives + negatives
    ids = torch.tensor(np.stack([np.concatenate([[CLS_ID], tok.encode(s)]) for s in seqs]).astype(np.int64))
    labels = torch.tensor([1] * len(positives) + [0] * len(negatives))
    cfg = ModelConfig(vocab_size=tok.vocab_size, d_model=32, n_layers=2, n_heads=2, head="classify",
                      n_outputs=2, max_len=LENGTH + 1, mixer=mixer)
    model = GenomicModel(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(steps):
        batch = torch.randint(0, len(seqs), (32,), generator=gen)
        loss = torch.nn.functional.cross_entropy(model(ids[batch]).logits, labels[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval(), tok


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A checkpoint of a tiny attention classifier (CTCF planted in the positives) and the positives' FASTA."""
    from genotx.models import save_checkpoint

    root = tmp_path_factory.mktemp("motifs")
    rng = np.random.default_rng(1)
    positives, negatives = _planted(200, rng)
    model, tok = _train(positives, negatives, steps=300)
    save_checkpoint(str(root / "model"), model, tok, {"task": "planted CTCF"})
    return root, str(root / "model"), _fasta(root / "pos.fa", positives)


def _genotx(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "genotx", *args], input=stdin, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "GENOTX_THREADS": "2"})


def _table(stdout):
    lines = stdout.splitlines()
    assert lines[0].startswith("#genotx ")
    header = lines[1].split("\t")
    return header, [dict(zip(header, line.split("\t"))) for line in lines[2:]]


def test_planted_ctcf_is_the_top_jaspar_match_and_meme_and_logos_are_written(planted):
    root, model, fasta = planted
    meme, logos = root / "out.meme", root / "logos"
    with open(fasta) as fh:
        res = _genotx("motifs", "--model", model, "--meme", str(meme), "--logo", str(logos), "--shuffles", "50",
                      stdin=fh.read())
    assert res.returncode == 0, res.stderr
    header, rows = _table(res.stdout)
    assert header == COLUMNS
    assert rows and rows[0]["motif_id"] == "motif1"
    assert rows[0]["jaspar_name"] == "CTCF"
    assert float(rows[0]["q_value"]) < 0.05 and float(rows[0]["similarity"]) > 0.8
    assert {r["layer"] for r in rows} <= {"0", "1"} and {r["head"] for r in rows} <= {"0", "1"}
    for r in rows:  # the random-window null of every motif
        assert 0 <= float(r["site_rate"]) <= 1 and 0 < float(r["random_site_rate"]) < 1
        assert 0 < float(r["selection_p"]) <= 1
    parsed = read_meme(open(meme))
    assert [m.name for m in parsed] == [r["motif_id"] for r in rows]
    assert [len(m.pfm) for m in parsed] == [int(r["width"]) for r in rows]
    for r in rows:
        assert (logos / f"{r['motif_id']}.png").read_bytes()[:4] == b"\x89PNG"


def test_top_matches_gives_ranked_rows_per_motif(planted):
    _, model, fasta = planted
    res = _genotx("motifs", "--model", model, "--top-matches", "3", "--shuffles", "20", "--max-seqs", "100", fasta)
    assert res.returncode == 0, res.stderr
    _, rows = _table(res.stdout)
    per_motif = {}
    for r in rows:
        per_motif.setdefault(r["motif_id"], []).append(r)
    assert per_motif and all(len(v) == 3 for v in per_motif.values())
    for hits in per_motif.values():
        assert len({h["jaspar_id"] for h in hits}) == 3


def test_same_seed_gives_the_same_table_and_the_null_halves_follow_the_seed(planted):
    _, model, fasta = planted
    runs = [_genotx("motifs", "--model", model, "--shuffles", "20", "--max-seqs", "120", "--seed", seed, fasta)
            for seed in ("3", "3", "4")]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr
    assert runs[0].stdout.splitlines()[1:] == runs[1].stdout.splitlines()[1:]
    null = [[(r["site_rate"], r["random_site_rate"]) for r in _table(run.stdout)[1]] for run in runs]
    assert null[0] == null[1] and null[0] != null[2]


def test_heads_table_has_one_row_per_layer_and_head(planted):
    _, model, fasta = planted
    res = _genotx("motifs", "--model", model, "--heads", "--max-seqs", "30", fasta)
    assert res.returncode == 0, res.stderr
    header, rows = _table(res.stdout)
    assert header == ["layer", "head", "cpg_focus", "palindrome_symmetry", "periodicity_10bp"]
    assert [(r["layer"], r["head"]) for r in rows] == [("0", "0"), ("0", "1"), ("1", "0"), ("1", "1")]
    for r in rows:
        assert float(r["cpg_focus"]) > 0 and float(r["palindrome_symmetry"]) >= 0


def test_attribution_rows_say_gradient_x_input(planted):
    _, model, fasta = planted
    res = _genotx("motifs", "--model", model, "--attribution", "--shuffles", "20", fasta)
    assert res.returncode == 0, res.stderr
    assert "gradient x input" in res.stderr
    _, rows = _table(res.stdout)
    assert rows and all(r["head"] == "grad_x_input" and r["layer"] == "NA" for r in rows)


def test_model_without_attention_falls_back_to_attribution(tmp_path):
    from genotx.models import save_checkpoint

    rng = np.random.default_rng(4)
    positives, negatives = _planted(40, rng)
    model, tok = _train(positives, negatives, steps=2, mixer="linear")
    save_checkpoint(str(tmp_path / "linear"), model, tok, {})
    res = _genotx("motifs", "--model", str(tmp_path / "linear"), "--shuffles", "10", "--min-sites", "2",
                  _fasta(tmp_path / "p.fa", positives))
    assert res.returncode == 0, res.stderr
    assert "no attention" in res.stderr
    header, rows = _table(res.stdout)
    assert header == COLUMNS and all(r["head"] == "grad_x_input" for r in rows)
    heads = _genotx("motifs", "--model", str(tmp_path / "linear"), "--heads", str(tmp_path / "p.fa"))
    assert heads.returncode == 2 and heads.stderr.startswith("genotx: error: --heads needs attention layers")


def test_bad_release_and_missing_model_are_input_errors(planted, tmp_path):
    _, model, fasta = planted
    res = _genotx("motifs", "--model", model, "--release", "JASPAR1999", fasta)
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.startswith("genotx: error: JASPAR release 'JASPAR1999'")
    res = _genotx("motifs", "--model", str(tmp_path / "nothing"), fasta)
    assert res.returncode == 2 and res.stderr.startswith("genotx: error: ")


def test_bad_sequence_is_reported_with_its_record(planted):
    _, model, _ = planted
    res = _genotx("motifs", "--model", model, stdin=">a\nACGT\n>b\nAC-GT\n")
    assert res.returncode == 2 and "genotx: error:" in res.stderr and res.stdout == ""


def test_empty_input_gives_the_header_only(planted):
    _, model, _ = planted
    res = _genotx("motifs", "--model", model, stdin="")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[1].split("\t") == COLUMNS and len(res.stdout.splitlines()) == 2


def test_base_attention_is_identity_for_chars_and_keeps_rows_stochastic_for_kmers():
    from genotx.motifs.collect import base_attention, coverage
    from genotx.tokenizers import build_tokenizer

    rng = np.random.default_rng(0)
    seq = "ACGTACGGTCAT"
    char = build_tokenizer("char")
    offs = np.vstack([[[0, 0]], char.offsets(seq)])  # leading CLS covers nothing
    attn = rng.dirichlet(np.ones(len(offs)), size=(2, len(offs)))
    base = base_attention(attn, offs, len(seq))
    assert base == pytest.approx(attn[:, 1:, 1:], abs=1e-12)
    kmer = build_tokenizer("kmer", k=3, stride=3)
    offs = kmer.offsets(seq)
    attn = rng.dirichlet(np.ones(len(offs)), size=(1, len(offs)))
    base = base_attention(attn, offs, len(seq))
    assert base.sum(axis=-1) == pytest.approx(np.ones((1, len(seq))))
    query_map, key_map = coverage(offs, len(seq))
    # a key token's weight is shared equally by its three bases
    assert base[0, 0, :3] == pytest.approx(np.full(3, attn[0, 0, 0] / 3))
    assert key_map.sum(axis=1) == pytest.approx(np.ones(len(offs)))
