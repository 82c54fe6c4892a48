"""scaling-sweep: the IsoFLOP planner, the shape rule, the resumable runner and a tiny real sweep."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from genotx.errors import InputError
from genotx.scaling import sweep
from genotx.scaling.runs import read_runs
from genotx.scaling.sweep import PlannedRun, block_params, plan_sweep, pretrain_command, run_sweep, shape_for_params

GENOME = Path(__file__).parent / "data" / "scaling_hpylori-G27-60kb.fa.gz"


def genotx(*args):
    return subprocess.run([sys.executable, "-m", "genotx", *args], capture_output=True, text=True, timeout=300)


def rows(stdout: str) -> list[dict]:
    lines = [line.split("\t") for line in stdout.splitlines() if not line.startswith("#")]
    return [dict(zip(lines[0], line)) for line in lines[1:]]


def test_every_planned_run_spends_its_budget_as_6nd():
    for run in plan_sweep([1e11, 1e12, 3e12, 1e13], sizes=4):
        used = 6 * run.params * run.tokens
        assert used <= run.budget and used == pytest.approx(run.budget, rel=1e-5)


def test_sizes_of_a_budget_are_distinct_increasing_and_bracket_the_chinchilla_guess():
    budget = 1e14
    plan = plan_sweep([budget], sizes=5, tokens_per_param=20, spread=16)
    params = [r.params for r in plan]
    assert params == sorted(set(params)) and len(params) == 5
    guess = math.sqrt(budget / (6 * 20))
    assert params[0] < guess < params[-1]
    # ends within the rounding of the shape ladder (a factor 1.5) of guess / 4 and guess * 4
    assert guess / 4 / 1.5 < params[0] < guess / 4 * 1.5
    assert guess * 4 / 1.5 < params[-1] < guess * 4 * 1.5


@pytest.mark.parametrize("target", [2e4, 1e5, 7e5, 3e6, 2e7, 1e8])
def test_shape_rule_gives_head_multiples_near_the_aspect_and_near_the_target_size(target):
    d_model, layers = shape_for_params(target, aspect=32, head_dim=32)
    assert d_model % 32 == 0
    assert 32 / 3 <= d_model / layers <= 32 * 3
    assert 1 / 1.5 < block_params(d_model, layers) / target < 1.5


def test_block_params_equals_the_models_non_embedding_count():
    from genotx.models import GenomicModel, ModelConfig

    for d_model, layers in [(32, 1), (64, 3), (96, 2)]:
        model = GenomicModel(ModelConfig(vocab_size=9, d_model=d_model, n_layers=layers, n_heads=d_model // 32,
                                         causal=True, pe="rope", mixer="attention"))
        assert block_params(d_model, layers) == model.param_counts()["non_embedding"]


def test_runs_shorter_than_min_tokens_are_left_out_and_bad_budgets_refused():
    full = plan_sweep([1e10], sizes=4)
    short = plan_sweep([1e10], sizes=4, min_tokens=200_000)
    assert len(short) < len(full) and all(r.tokens >= 200_000 for r in short)
    with pytest.raises(InputError):
        plan_sweep([0.0])
    with pytest.raises(InputError):
        plan_sweep([1e12], sizes=0)


def test_pretrain_command_sets_the_shape_and_resumes_only_started_runs(tmp_path):
    run = PlannedRun(budget=1e12, d_model=64, layers=2, heads=2, params=99584, tokens=1673628)
    command = pretrain_command(run, ["g.fa"], str(tmp_path / run.name), {"--objective": "ar", "--lr": None})
    joined = " ".join(command)
    assert "pretrain g.fa --objective ar --d-model 64 --layers 2 --heads 2 --max-tokens 1673628" in joined
    assert "--lr" not in joined and "--resume" not in command
    (tmp_path / run.name).mkdir()
    (tmp_path / run.name / "train_config.json").write_text("{}")
    assert pretrain_command(run, ["g.fa"], str(tmp_path / run.name), {})[-1] == "--resume"


def _fake_pretrain(calls, returncode=0):
    def fake(command, **kwargs):
        out = Path(command[command.index("-o") + 1])
        calls.append(out.name)
        if returncode == 0:
            n = int(command[command.index("--d-model") + 1]) ** 2 * 12
            d = int(command[command.index("--max-tokens") + 1])
            (out / "run.json").write_text(json.dumps({"params": n, "tokens": d, "loss": 1.3, "flops": 6.6 * n * d}))
        return subprocess.CompletedProcess(command, returncode, "", "genotx: error: unknown preset 'x'\n")

    return fake


def test_runner_skips_finished_runs_and_records_the_planned_budget(tmp_path, monkeypatch):
    plan = plan_sweep([1e11, 1e12], sizes=2)
    calls: list[str] = []
    monkeypatch.setattr(sweep.subprocess, "run", _fake_pretrain(calls))
    first = list(run_sweep(plan, ["g.fa"], str(tmp_path), {"--objective": "ar"}))
    assert [status for _, status, _ in first] == ["done"] * len(plan) and len(calls) == len(plan)
    again = list(run_sweep(plan, ["g.fa"], str(tmp_path), {"--objective": "ar"}))
    assert [status for _, status, _ in again] == ["skipped"] * len(plan) and len(calls) == len(plan)
    runs = read_runs(sorted(str(p) for p in tmp_path.glob("*/run.json")))
    # run.json's flops include attention; the planned budget from sweep.json groups IsoFLOP profiles
    assert sorted(set(runs.budget)) == [1e11, 1e12]


def test_a_usage_error_of_pretrain_stops_the_sweep_with_its_message(tmp_path, monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(sweep.subprocess, "run", _fake_pretrain(calls, returncode=2))
    with pytest.raises(InputError, match="unknown preset 'x'"):
        list(run_sweep(plan_sweep([1e12], sizes=3), ["g.fa"], str(tmp_path), {}))
    assert len(calls) == 1


def test_cli_dry_run_prints_the_plan_and_trains_nothing(tmp_path):
    proc = genotx("scaling-sweep", str(GENOME), "--budgets", "1e12,3e12", "--sizes", "3", "-o", str(tmp_path / "s"),
                  "--dry-run")
    assert proc.returncode == 0, proc.stderr
    table = rows(proc.stdout)
    assert list(table[0]) == ["run", "budget", "d_model", "layers", "heads", "planned_params", "planned_tokens",
                              "status", "params", "tokens", "flops", "loss"]
    assert len(table) == 6 and {r["status"] for r in table} == {"planned"}
    assert not (tmp_path / "s").exists()


def test_cli_bad_budgets_exit_2():
    proc = genotx("scaling-sweep", str(GENOME), "--budgets", "1e12,lots", "-o", "x", "--dry-run")
    assert proc.returncode == 2 and proc.stderr.startswith("genotx: error: --budgets")


def test_tiny_real_sweep_writes_run_records_and_a_rerun_skips_them(tmp_path):
    args = ["scaling-sweep", str(GENOME), "--budgets", "1e9,2e9", "--sizes", "1", "--tokens-per-param", "5",
            "--seq-len", "64", "--batch-size", "8", "--eval-windows", "8", "-o", str(tmp_path)]
    proc = genotx(*args)
    assert proc.returncode == 0, proc.stderr
    table = rows(proc.stdout)
    assert [r["status"] for r in table] == ["done", "done"]
    for row in table:
        record = json.loads((tmp_path / row["run"] / "run.json").read_text())
        assert record["params"] == int(row["planned_params"]) and float(row["loss"]) == pytest.approx(record["loss"], rel=1e-5)  # 6 significant digits
        assert record["tokens"] >= int(row["planned_tokens"])  # whole steps: at least the planned tokens
        assert record["config"]["objective"] == "ar" and record["config"]["tokenizer"] == "char"
    again = genotx(*args)
    assert [r["status"] for r in rows(again.stdout)] == ["skipped", "skipped"]
