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
