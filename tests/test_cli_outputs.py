"""What genotx writes to disk: never a user's files lost, permissions as a plain open() gives,
pretraining runs recognised for what they are. Everything through the real command."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import REPO, genotx_env

DATA = REPO / "tests" / "data"
GENOME = str(DATA / "pretrain_saureus.fa.gz")
TINY = ["--tokenizer", "kmer3", "--d-model", "32", "--layers", "2", "--heads", "2", "--seq-len", "64",
        "--batch-size", "8", "--eval-windows", "16", "--lr", "0.01"]
FASTQ = b"@r1\nACGTACGTAAGGCTTAACGT\n+\nIIIIIIIIIIIIIIIIIIII\n"


def genotx(*args: str, stdin: bytes | None = b"", umask: int | None = None, timeout: float = 300, cwd=REPO):
    preexec = (lambda: os.umask(umask)) if umask is not None else None
    return subprocess.run([sys.executable, "-m", "genotx", *args], input=stdin, capture_output=True, timeout=timeout,
                          env=genotx_env(GENOTX_THREADS="1"), cwd=cwd, preexec_fn=preexec)


def one_error_line(proc) -> str:
    text = proc.stderr.decode()
    assert text.count("\n") == 1 and "Traceback" not in text, text
    return text.strip()


@pytest.fixture(scope="module")
def pretrain_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "run"
    done = genotx("pretrain", GENOME, "--objective", "ar", *TINY, "--max-steps", "2", "-o", str(run))
    assert done.returncode == 0, done.stderr.decode()
    return run


# --- 7: a pretraining run given to predict --------------------------------------------------

def test_predict_on_a_pretraining_run_says_what_it_is_and_which_commands_take_it(pretrain_run):
    proc = genotx("predict", "--model", str(pretrain_run), stdin=FASTQ)
    assert proc.returncode == 2 and proc.stdout == b""
    line = one_error_line(proc)
    assert "a pretraining run" in line and "finetune --from" in line and "config.json" not in line


def _regulatory_tsv(folder) -> str:
    import random

    rng = random.Random(2)
    rows = [f"{''.join(rng.choice('ACGT') for _ in range(40))}\t{'ab'[i % 2]}" for i in range(60)]
    path = folder / "train.tsv"
    path.write_text("sequence\tlabel\n" + "\n".join(rows) + "\n")
    return str(path)


def finetune(out, tsv, *extra, umask=None, cwd=REPO):
    return genotx("finetune", "--task", "regulatory", tsv, "--preset", "variant-tiny", "--steps", "2",
                  "--eval-every", "1", "--batch-size", "8", "-o", str(out), *extra, umask=umask, cwd=cwd)


# --- 1: outputs never replace a user's files -----------------------------------------------------

def test_finetune_refuses_a_folder_of_other_files_and_leaves_it_untouched(tmp_path):
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    for extra in ([], ["--force"]):
        proc = finetune(target, _regulatory_tsv(tmp_path), *extra)
        assert proc.returncode == 2 and str(target) in one_error_line(proc)
        assert sorted(os.listdir(target)) == ["notes.txt"] and (target / "notes.txt").read_text() == "keep me"


def test_finetune_into_its_pretraining_run_is_refused_even_with_force(tmp_path, pretrain_run):
    before = sorted(os.listdir(pretrain_run))
    for extra in ([], ["--force"]):
        proc = genotx("finetune", "--task", "regulatory", _regulatory_tsv(tmp_path), "--from", str(pretrain_run),
                      "--steps", "1", "-o", str(pretrain_run), *extra)
        assert proc.returncode == 2 and "pretraining run" in one_error_line(proc)
        assert sorted(os.listdir(pretrain_run)) == before


def test_finetune_into_the_current_directory_removes_nothing(tmp_path):
    here = tmp_path / "work"
    here.mkdir()
    (here / "data.txt").write_text("x")
    proc = finetune(".", _regulatory_tsv(tmp_path), "--force", cwd=here)
    assert proc.returncode == 2 and "internal error" not in one_error_line(proc)
    assert os.listdir(here) == ["data.txt"]


def test_finetune_replaces_its_own_model_only_with_force_and_fills_an_empty_folder(tmp_path):
    tsv = _regulatory_tsv(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert finetune(empty, tsv).returncode == 0 and "config.json" in os.listdir(empty)
    again = finetune(empty, tsv)
    assert again.returncode == 2 and "--force" in one_error_line(again)
    assert finetune(empty, tsv, "--force").returncode == 0
    assert sorted(os.listdir(empty)) == ["config.json", "metrics.json", "model.safetensors", "tokenizer.json"]


def test_pretrain_refuses_a_folder_of_other_files(tmp_path):
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    proc = genotx("pretrain", GENOME, *TINY, "--max-steps", "1", "-o", str(target))
    assert proc.returncode == 2 and str(target) in one_error_line(proc)
    assert os.listdir(target) == ["notes.txt"]


@pytest.mark.parametrize("args", [
    ["tokenize", "--train", GENOME, "--kind", "bpe", "--vocab", "16", "-o", "TARGET"],
    ["tokenize", "--train", GENOME, "--kind", "bpe", "--vocab", "16", "-o", "TARGET", "--force"],
], ids=["plain", "force"])
def test_tokenize_train_never_replaces_a_file_genotx_did_not_write(tmp_path, args):
    target = tmp_path / "notes.json"
    target.write_text('{"mine": true}')
    proc = genotx(*[str(target) if a == "TARGET" else a for a in args])
    assert proc.returncode == 2 and str(target) in one_error_line(proc)
    assert target.read_text() == '{"mine": true}'


@pytest.mark.parametrize("command", ["grid --budget tiny", "scaling-sweep GENOME --budgets 1e12"])
def test_grid_and_sweep_refuse_a_folder_of_other_files(tmp_path, command):
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    proc = genotx(*[GENOME if a == "GENOME" else a for a in command.split()], "-o", str(target))
    assert proc.returncode == 2 and str(target) in one_error_line(proc)
    assert os.listdir(target) == ["notes.txt"]


# --- 2: permissions as a plain open() gives them ----------------------------------------------

def _modes(folder) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mode & 0o777 for p in [folder, *folder.rglob("*")]}


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_model_tokenizer_and_run_files_have_the_permissions_of_open_and_mkdir(tmp_path, umask):
    reference_file, reference_dir = tmp_path / "by_open", tmp_path / "by_mkdir"
    old = os.umask(umask)
    try:
        open(reference_file, "w").close()
        reference_dir.mkdir()
    finally:
        os.umask(old)
    file_mode, dir_mode = reference_file.stat().st_mode & 0o777, reference_dir.stat().st_mode & 0o777
    model = tmp_path / "model"
    assert finetune(model, _regulatory_tsv(tmp_path), umask=umask).returncode == 0
    tok = tmp_path / "bpe.json"
    assert genotx("tokenize", "--train", GENOME, "--kind", "bpe", "--vocab", "16", "-o", str(tok),
                  umask=umask).returncode == 0
    run = tmp_path / "run"
    assert genotx("pretrain", GENOME, *TINY, "--max-steps", "1", "-o", str(run), umask=umask).returncode == 0
    modes = {**_modes(model), **{f"run/{k}": v for k, v in _modes(run).items()}, "bpe.json": tok.stat().st_mode & 0o777}
    wrong = {name: oct(mode) for name, mode in modes.items()
             if mode != (dir_mode if (tmp_path / name).is_dir() or name == "." else file_mode)}
    assert not wrong, f"expected files {oct(file_mode)}, folders {oct(dir_mode)}: {wrong}"


# --- 9: --resume extends a finished run ------------------------------------------------------

def test_resume_trains_a_finished_run_further(tmp_path):
    import json

    run = tmp_path / "run"
    assert genotx("pretrain", GENOME, *TINY, "--max-steps", "2", "-o", str(run)).returncode == 0
    more = genotx("pretrain", GENOME, *TINY, "--max-steps", "4", "--resume", "-o", str(run))
    assert more.returncode == 0, more.stderr.decode()
    assert json.load(open(run / "run.json"))["steps"] == 4
    assert json.load(open(run / "model" / "config.json"))["metadata"]["step"] == 4


# --- 11: the probability of "none of these species" --------------------------------------------

def test_a_random_sequence_puts_its_mass_on_prob_none_and_a_simulated_read_does_not():
    import random

    rng = random.Random(11)
    unknown = "".join(rng.choice("ACGT") for _ in range(150))
    known = genotx("simulate", "-n", "1", "--seed", "4", "--error-rate", "0").stdout.decode().splitlines()[1]
    fasta = f">unknown\n{unknown}\n>known\n{known}\n".encode()
    lines = genotx("predict", stdin=fasta).stdout.decode().splitlines()
    assert lines[1].split("\t") == ["read_id", "taxon", "taxid", "prob", "runner_up", "runner_up_prob", "prob_none"]
    rows = {line.split("\t")[0]: line.split("\t") for line in lines[2:]}
    assert rows["unknown"][1] == "unclassified" and float(rows["unknown"][6]) > 0.9
    assert rows["known"][1] != "unclassified" and float(rows["known"][6]) < 0.1
    for row in rows.values():  # the species and "none" share one probability mass
        assert float(row[3]) + float(row[6]) <= 1.0 + 1e-6
    network_alone = genotx("predict", "--no-memory", stdin=fasta).stdout.decode().splitlines()[2:]
    assert [line.split("\t")[6] for line in network_alone] == ["NA", "NA"]
