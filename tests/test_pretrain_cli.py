"""`genotx pretrain` end to end through a pipe: outputs, kill-and-resume equality, DDP, bad inputs."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

DATA = os.path.join(os.path.dirname(__file__), "data")
GENOME = os.path.join(DATA, "pretrain_saureus.fa.gz")
TINY = ["--tokenizer", "kmer3", "--d-model", "32", "--layers", "2", "--heads", "2", "--seq-len", "64",
        "--batch-size", "8", "--eval-windows", "16", "--lr", "0.01"]
ENV = {**os.environ, "GENOTX_THREADS": "1", "PYTHONHASHSEED": "0"}


def genotx(*args, stdin: bytes | None = None, timeout: float = 120):
    return subprocess.run([sys.executable, "-m", "genotx", *args], input=stdin, capture_output=True,
                          timeout=timeout, env=ENV)


def test_pretrain_writes_run_record_metrics_checkpoints_and_a_summary_row(tmp_path):
    run_dir = str(tmp_path / "run")
    with open(GENOME, "rb") as f:  # genome on stdin
        done = genotx("pretrain", "--objective", "ar", *TINY, "--max-steps", "6", "--save-every", "2", "--keep", "2",
                      "--log-every", "2", "-o", run_dir, stdin=f.read())
    assert done.returncode == 0, done.stderr.decode()
    lines = done.stdout.decode().splitlines()
    assert lines[0].startswith("#genotx") and lines[1].split("\t")[:3] == ["run", "objective", "steps"]
    row = dict(zip(lines[1].split("\t"), lines[2].split("\t")))
    assert row["objective"] == "ar" and row["steps"] == "6"
    record = json.load(open(os.path.join(run_dir, "run.json")))
    for key in ("params", "params_total", "tokens", "bases", "flops", "loss", "loss_per_token", "loss_per_base",
                "objective", "config", "seed", "wall_time_s", "genotx_version"):
        assert key in record
    assert record["params"] < record["params_total"]
    assert record["bases"] == 6 * 8 * 64 and record["tokens"] == 6 * 8 * 62  # 3-mers of 64 bp, stride 1
    assert record["flops"] >= 6 * record["params"] * record["tokens"]
    assert record["loss_per_base"] == pytest.approx(record["loss_per_token"] * 62 / 64)
    assert sorted(os.listdir(os.path.join(run_dir, "checkpoints"))) == ["step-00000004", "step-00000006"]
    metrics = [ln.split("\t") for ln in open(os.path.join(run_dir, "metrics.tsv")).read().splitlines()]
    assert metrics[0][:2] == ["step", "tokens"] and [m[0] for m in metrics[1:]] == ["2", "4", "6"]
    assert float(metrics[-1][5]) == pytest.approx(record["loss"], rel=1e-5)


def _wait_for_step(run_dir: str, proc, step: int, deadline: float) -> None:
    """Return once metrics.tsv (one row per step) has reached ``step``."""
    path = os.path.join(run_dir, "metrics.tsv")
    while time.time() < deadline:
        if os.path.exists(path) and len(open(path).read().splitlines()) - 1 >= step:
            return
        if proc.poll() is not None:
            raise AssertionError(f"run ended before step {step}")
        time.sleep(0.01)
    raise AssertionError(f"step {step} not reached in time")


def test_run_killed_at_a_random_step_and_resumed_ends_with_the_same_eval_loss(tmp_path):
    args = ["pretrain", GENOME, "--objective", "mlm", *TINY, "--max-steps", "24", "--save-every", "2",
            "--log-every", "1", "--dropout", "0.1"]
    whole = genotx(*args, "-o", str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr.decode()
    killed_dir = str(tmp_path / "killed")
    proc = subprocess.Popen([sys.executable, "-m", "genotx", *args, "-o", killed_dir], env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kill_at = random.randint(3, 16)
    _wait_for_step(killed_dir, proc, kill_at, time.time() + 120)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not os.path.exists(os.path.join(killed_dir, "run.json")), "the run finished before it was killed"
    resumed = genotx(*args, "-o", killed_dir, "--resume")
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert "resuming" in resumed.stderr.decode()
    a = json.load(open(os.path.join(tmp_path / "whole", "run.json")))
    b = json.load(open(os.path.join(killed_dir, "run.json")))
    assert b["loss"] == a["loss"], f"killed at step {kill_at}"  # exact: same data, masks, dropout, optimiser state
    assert (b["tokens"], b["bases"]) == (a["tokens"], a["bases"])
    steps = [ln.split("\t")[0] for ln in open(os.path.join(killed_dir, "metrics.tsv")).read().splitlines()[1:]]
    assert steps == [str(s) for s in range(1, 25)]  # rows after the checkpoint were dropped, then logged again


# --local-addr: the rendezvous must not depend on the host name resolving (it does not on every CI host)
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--local-addr", "127.0.0.1",
            "--nproc-per-node", "2"]
GLOO_PROBE = """
import torch, torch.distributed as dist
dist.init_process_group("gloo")
x = torch.ones(2)
dist.all_reduce(x)
assert x.tolist() == [2.0, 2.0]
dist.destroy_process_group()
"""


def _gloo_works(tmp_path) -> tuple[bool, str]:
    """Whether two plain torch processes can all-reduce over gloo on loopback here."""
    probe = tmp_path / "gloo_probe.py"
    probe.write_text(GLOO_PROBE)
    done = subprocess.run([*TORCHRUN, str(probe)], capture_output=True, timeout=120,
                          env={**ENV, "GLOO_SOCKET_IFNAME": "lo"})
    return done.returncode == 0, done.stderr.decode()[:1500]


def test_two_process_ddp_run_trains_and_only_rank_zero_writes(tmp_path):
    run_dir = str(tmp_path / "ddp")
    cmd = [*TORCHRUN, "-m", "genotx",
           "pretrain", GENOME, "--objective", "ar", *TINY, "--batch-size", "4", "--max-steps", "4", "-o", run_dir]
    done = subprocess.run(cmd, capture_output=True, timeout=240, env=ENV)
    if done.returncode != 0:
        # A host where not even plain torch can start gloo cannot test DDP; anywhere else this is a failure.
        works, probe_err = _gloo_works(tmp_path)
        if not works:
            pytest.skip(f"gloo cannot run two processes on this host: {probe_err}")
    # the ranks' own messages come first; torchrun's traceback about the failed child follows them
    assert done.returncode == 0, done.stderr.decode()[:3000]
    record = json.load(open(os.path.join(run_dir, "run.json")))
    assert record["world_size"] == 2
    assert record["tokens"] == 4 * 2 * 4 * 62  # steps x ranks x windows x tokens
    assert done.stdout.decode().count("#genotx") == 1  # one summary, from rank 0
    assert os.listdir(os.path.join(run_dir, "checkpoints")) == ["step-00000004"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--preset", "nonsense-tiny"], "unknown preset 'nonsense-tiny'"),
        (["--seq-len", "100000"], "longer than every input sequence"),
        (["--objective", "multitask"], "needs --annotations"),
        (["--objective", "banana"], "unknown objective"),
        (["--tokenizer", "kmer99"], "tokenizer"),
        (["--objective", "contrastive", "--pairs", "/nonexistent.tsv"], "cannot read pairs"),
    ],
)
def test_bad_settings_exit_2_with_one_clear_line(tmp_path, args, message):
    done = genotx("pretrain", GENOME, "--max-steps", "1", *args, "-o", str(tmp_path / "r"))
    err = done.stderr.decode()
    assert done.returncode == 2 and err.startswith("genotx: error: ") and message in err, err
    assert "Traceback" not in err and done.stdout == b""


def test_empty_fasta_exits_2(tmp_path):
    done = genotx("pretrain", "--max-steps", "1", "-o", str(tmp_path / "r"), stdin=b"")
    assert done.returncode == 2 and "empty input" in done.stderr.decode()


def test_existing_run_is_not_overwritten_without_resume(tmp_path):
    run_dir = tmp_path / "r"
    (run_dir / "checkpoints" / "step-00000001").mkdir(parents=True)
    (run_dir / "checkpoints" / "step-00000001" / "train_state.json").write_text("{}")
    done = genotx("pretrain", GENOME, "--max-steps", "1", "-o", str(run_dir))
    assert done.returncode == 2 and "already holds a run" in done.stderr.decode()


def test_preset_supplies_settings_and_explicit_flags_override_it(tmp_path):
    run_dir = str(tmp_path / "p")
    done = genotx("pretrain", GENOME, "--preset", "taxon-tiny", "--d-model", "32", "--heads", "2", "--max-steps", "2",
                  "--batch-size", "4", "--eval-windows", "8", "-o", run_dir)
    assert done.returncode == 0, done.stderr.decode()
    config = json.load(open(os.path.join(run_dir, "run.json")))["config"]
    assert (config["tokenizer"], config["pe"], config["objective"], config["seq_len"]) == ("kmer6", "learned", "contrastive", 150)
    assert (config["d_model"], config["n_heads"], config["batch_size"]) == (32, 2, 4)
    assert "augmented views" in done.stderr.decode()  # which positives ran is said on stderr


def test_max_steps_0_saves_the_initial_weights_a_run_of_that_seed_starts_from(tmp_path):
    """The no-pretraining control of a transfer study (bench/transfer.py): no step, same seed, same weights."""
    from safetensors.numpy import load_file

    weights = {}
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        run_dir = tmp_path / name
        done = genotx("pretrain", GENOME, *TINY, "--max-steps", "0", "--seed", seed, "-o", str(run_dir))
        assert done.returncode == 0, done.stderr.decode()
        record = json.load(open(run_dir / "run.json"))
        assert record["steps"] == 0 and record["tokens"] == 0
        assert record["loss"] > record["baseline_loss"]  # untrained: worse than base frequencies
        weights[name] = load_file(str(run_dir / "model" / "model.safetensors"))
    assert weights["a"].keys() == weights["c"].keys()
    assert all((weights["a"][k] == weights["b"][k]).all() for k in weights["a"])
    assert any((weights["a"][k] != weights["c"][k]).any() for k in weights["a"])
    done = genotx("pretrain", GENOME, *TINY, "--max-steps", "-1", "-o", str(tmp_path / "d"))
    assert done.returncode == 2 and "--max-steps must be at least 0" in done.stderr.decode()
