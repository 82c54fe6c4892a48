"""`genotx grid`: a 2x2x1 micro-grid end to end, resume, refused reruns, length extrapolation."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from conftest import REPO, run_genotx, tsv_rows

MICRO = ["grid", "--budget", "tiny", "--tokenizers", "char,kmer6:6", "--pes", "rope,learned", "--objectives", "mlm",
         "--mixers", "attention", "--tasks", "splice,taxon"]
THREADS = {"OMP_NUM_THREADS": "1"}


def _env():
    from conftest import genotx_env

    return genotx_env(**THREADS)


@pytest.fixture(scope="module")
def micro_grid(tmp_path_factory):
    """The micro-grid run once: (out dir, finished process)."""
    out = tmp_path_factory.mktemp("grid") / "g"
    proc = run_genotx(*MICRO, "-o", str(out), env=_env(), timeout=300)
    return out, proc


def _header(stdout: bytes) -> list[str]:
    return stdout.decode().splitlines()[1].split("\t")


def _by_name(proc) -> dict:
    header = _header(proc.stdout)
    return {row[0]: dict(zip(header, row)) for row in tsv_rows(proc.stdout)}


def test_micro_grid_runs_every_cell_then_repeats_the_best_with_a_second_seed(micro_grid):
    out, proc = micro_grid
    assert proc.returncode == 0, proc.stderr.decode()
    rows = _by_name(proc)
    main = [n for n, r in rows.items() if r["stage"] == "main"]
    # tokenizer outer, PE, objective inner: the declared order
    assert main == ["char-rope-mlm-attention-s0", "char-learned-mlm-attention-s0",
                    "kmer6s6-rope-mlm-attention-s0", "kmer6s6-learned-mlm-attention-s0"]
    repeats = [r for r in rows.values() if r["stage"] == "seeds"]
    assert len(repeats) == 1 and repeats[0]["seed"] == "1" and repeats[0]["config"] + "-s0" in main
    for row in rows.values():
        assert row["status"] == "done"
        # the token budget is derived from the FLOP budget: what was used is within 10 % of it
        assert abs(float(row["flops"]) / float(row["budget_flops"]) - 1) < 0.1
        for metric in ("splice_macro_f1", "taxon_macro_f1", "taxon_accuracy", "score"):
            assert 0.0 <= float(row[metric]) <= 1.0
        assert float(row["loss_1x"]) > 0
    # equal FLOPs: a 4k-token output layer costs more per token than a 9-token one, but each 6-mer of
    # stride 6 holds 6 bases, so the k-mer cell trains on fewer tokens and more bases
    kmer, char = rows["kmer6s6-rope-mlm-attention-s0"], rows["char-rope-mlm-attention-s0"]
    assert int(kmer["tokens"]) < int(char["tokens"]) and int(kmer["bases"]) > int(char["bases"])


def test_micro_grid_writes_the_tsv_the_report_and_png_figures(micro_grid):
    out, proc = micro_grid
    written = (out / "grid.tsv").read_bytes()
    assert tsv_rows(written) == tsv_rows(proc.stdout)
    report = (out / "report.md").read_text()
    for heading in ("## Main grid", "## Length extrapolation", "## Top 1 configurations over seeds"):
        assert heading in report
    for figure in ("score_by_tokenizer_pe.png", "extrapolation.png"):
        assert (out / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({figure})" in report


def test_learned_pe_reports_cannot_run_past_its_table_and_rope_runs_at_every_length(micro_grid):
    _, proc = micro_grid
    rows = _by_name(proc)
    learned, rope = rows["char-learned-mlm-attention-s0"], rows["char-rope-mlm-attention-s0"]
    assert float(learned["loss_1x"]) > 0
    assert [learned[f"loss_{k}x"] for k in (2, 4, 8)] == ["cannot run"] * 3
    assert all(float(rope[f"loss_{k}x"]) > 0 for k in (1, 2, 4, 8))


def test_resumed_grid_skips_finished_cells_and_reruns_only_the_missing_one(micro_grid):
    out, first = micro_grid
    cells = out / "cells"
    stamps = {d.name: (d / "result.json").stat().st_mtime_ns for d in cells.iterdir()}
    missing = "kmer6s6-rope-mlm-attention-s0"
    for path in sorted((cells / missing).rglob("*"), key=lambda p: -len(p.parts)):
        path.unlink() if path.is_file() else path.rmdir()
    (cells / missing).rmdir()
    proc = run_genotx(*MICRO, "-o", str(out), env=_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()
    after = {d.name: (d / "result.json").stat().st_mtime_ns for d in cells.iterdir()}
    assert {n for n in stamps if after[n] != stamps[n]} == {missing}
    assert f"{missing}: done" in proc.stderr.decode()
    assert [r[0] for r in tsv_rows(proc.stdout)] == [r[0] for r in tsv_rows(first.stdout)]
    # the same seed, data order and FLOPs give the same pretraining loss again
    again, before = _by_name(proc)[missing], _by_name(first)[missing]
    assert abs(float(again["loss_per_token"]) - float(before["loss_per_token"])) < 1e-4


def test_two_jobs_rerun_missing_cells_in_parallel_with_the_same_results(micro_grid):
    out, first = micro_grid
    cells = out / "cells"
    missing = ["char-learned-mlm-attention-s0", "kmer6s6-learned-mlm-attention-s0"]
    for name in missing:
        for path in sorted((cells / name).rglob("*"), key=lambda p: -len(p.parts)):
            path.unlink() if path.is_file() else path.rmdir()
        (cells / name).rmdir()
    proc = run_genotx(*MICRO, "-o", str(out), "--jobs", "2", env=_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()
    assert [r[0] for r in tsv_rows(proc.stdout)] == [r[0] for r in tsv_rows(first.stdout)]  # declared order kept
    again, before = _by_name(proc), _by_name(first)
    for name in missing:
        assert f"{name}: done" in proc.stderr.decode()
        for metric in ("loss_per_token", "loss_1x", "splice_macro_f1", "taxon_macro_f1"):
            assert abs(float(again[name][metric]) - float(before[name][metric])) < 1e-4, (name, metric)


def test_rerun_with_other_settings_is_refused(micro_grid):
    out, _ = micro_grid
    proc = run_genotx(*MICRO, "-o", str(out), "--seed", "5", env=_env())
    assert proc.returncode == 2
    assert proc.stderr.decode().startswith("genotx: error: ") and "other settings (seed)" in proc.stderr.decode()
    assert proc.stdout == b""


def test_dry_run_lists_the_default_forty_cells_in_declared_order(tmp_path):
    proc = run_genotx("grid", "--dry-run", "-o", str(tmp_path / "g"), env=_env())
    assert proc.returncode == 0, proc.stderr.decode()
    rows = tsv_rows(proc.stdout)
    assert len(rows) == 5 * 4 * 2
    assert [r[0] for r in rows[:3]] == ["char-sinusoidal-mlm-attention-s0", "char-sinusoidal-ar-attention-s0",
                                         "char-learned-mlm-attention-s0"]
    assert rows[-1][0] == "rcbpe4096-rope-ar-attention-s0"
    assert {r[8] for r in rows} == {"planned"}
    assert not (tmp_path / "g").exists()


@pytest.mark.parametrize("option, value", [("--pes", "rope,xpos"), ("--budget", "huge"), ("--tokenizers", "kmer:x")])
def test_unknown_axis_values_are_usage_errors(tmp_path, option, value):
    proc = run_genotx("grid", "--dry-run", "-o", str(tmp_path / "g"), option, value, env=_env())
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert err.startswith("genotx: error: ") and len(err.strip().splitlines()) == 1


def _tiny_model(pe: str, max_len: int):
    from genotx.models import GenomicModel, ModelConfig
    from genotx.tokenizers import build_tokenizer

    import torch

    torch.manual_seed(0)
    tok = build_tokenizer("char")
    cfg = ModelConfig(vocab_size=tok.vocab_size, d_model=16, n_layers=1, n_heads=2, pe=pe, max_len=max_len,
                      causal=True)
    return GenomicModel(cfg), tok


def test_extrapolation_of_a_learned_pe_model_is_cannot_run_not_an_error():
    from genotx.grid.extrapolate import CANNOT_RUN, extrapolation_losses

    genome = [str(REPO / "data" / "genomes" / "homo_sapiens-mitochondrion.fa.gz")]
    results = {}
    for pe in ("learned", "rope"):
        model, tok = _tiny_model(pe, max_len=33)
        results[pe] = extrapolation_losses(model, tok, "ar", genome, seq_len=32, factors=(1, 2, 4, 8), windows=16,
                                           eval_fraction=0.1)
    assert results["learned"][1] > 0 and [results["learned"][k] for k in (2, 4, 8)] == [CANNOT_RUN] * 3
    # an untrained model predicts about uniformly: near log(vocab) per base, at every length
    assert all(0.5 * np.log(9) < results["rope"][k] < 1.5 * np.log(9) for k in (1, 2, 4, 8))


def test_extrapolation_scores_the_same_bases_at_every_length():
    from genotx.grid.extrapolate import window_loss

    class Recorder:  # an objective that records the windows it is given
        seen = {}

        def prepare(self, codes, rng, **_):
            self.seen.setdefault(codes.shape[1], []).append(codes.copy())
            import torch

            return {"inputs": torch.zeros((len(codes), codes.shape[1]), dtype=torch.long)}

        def loss(self, model, heads, batch):
            from genotx.objectives.common import LossParts

            return LossParts(0.0, {"x": (1.0, 1.0)}, tokens=1, bases=1)

    class Model:
        class config:
            length_limited = False

    rng = np.random.default_rng(1)
    long = rng.integers(0, 4, size=(3, 64)).astype(np.uint8)
    recorder = Recorder()
    for factor in (1, 2, 4, 8):
        window_loss(Model(), recorder, long.reshape(-1, 8 * factor), seed=0, batch_size=4)
    flat = {length: np.concatenate(parts).reshape(-1) for length, parts in recorder.seen.items()}
    assert all(np.array_equal(flat[length], long.reshape(-1)) for length in (8, 16, 32, 64))


def test_mean_interval_matches_the_student_t_formula():
    from scipy import stats

    from genotx.grid.table import mean_interval

    values = [0.71, 0.74, 0.69, 0.75]
    mean, low, high, n = mean_interval(values)
    sem = np.std(values, ddof=1) / np.sqrt(4)
    ref_low, ref_high = stats.t.interval(0.95, 3, loc=np.mean(values), scale=sem)
    assert n == 4 and abs(mean - np.mean(values)) < 1e-12
    assert abs(low - ref_low) < 1e-9 and abs(high - ref_high) < 1e-9
    assert mean_interval([0.5])[1:3] == (0.5, 0.5)


def test_ranking_breaks_ties_by_name_and_ignores_seed_repeats():
    from genotx.grid.table import ranking

    results = [{"name": "b", "stage": "main", "status": "done", "score": 0.5},
               {"name": "a", "stage": "main", "status": "skipped", "score": 0.5},
               {"name": "c", "stage": "seeds", "status": "done", "score": 0.9},
               {"name": "d", "stage": "mixer", "status": "done", "score": 0.6},
               {"name": "e", "stage": "main", "status": "cannot run"}]
    assert [r["name"] for r in ranking(results)] == ["d", "a", "b"]


def test_mixer_stage_gives_linear_attention_rope_instead_of_alibi():
    from genotx.grid.spec import Cell, GridAxes, mixer_cells

    best = Cell(tokenizer="char", pe="alibi", objective="mlm")
    cells = mixer_cells(GridAxes(), best)
    assert [(c.mixer, c.pe) for c in cells] == [("linear", "rope"), ("window", "alibi"), ("mamba", "alibi"),
                                                ("hybrid", "alibi")]
    assert {c.stage for c in cells} == {"mixer"}


def test_saved_results_round_trip_through_json(micro_grid):
    out, _ = micro_grid
    for cell in (out / "cells").iterdir():
        result = json.loads((cell / "result.json").read_text())
        assert result["name"] == cell.name and set(result["tasks"]) == {"splice", "taxon"}
        assert not os.path.exists(cell / "pretrain" / "checkpoints")
