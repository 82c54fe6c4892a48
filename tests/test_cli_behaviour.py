"""Unix etiquette of the `genotx` command: exit codes, broken pipes, global options, lazy torch."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from conftest import REPO, genotx_env, run_genotx

import genotx

# A tiny program that adds test-only subcommands to the real app and runs it,
# so that internal errors and global settings can be observed end to end.
PROBE = textwrap.dedent(
    """
    import sys
    from genotx.cli import app
    from genotx.cli._common import command
    from genotx.runtime import settings

    @app.command("boom")
    @command
    def boom():
        raise RuntimeError("kaboom\\nsecond line")

    @app.command("show-threads")
    @command
    def show_threads():
        print(settings.threads)

    app(prog_name="genotx")
    """
)


def run_probe(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=genotx_env(**env), cwd=REPO, timeout=60
    )


def big_fastq(path, reads: int = 50_000) -> None:
    path.write_bytes(b"".join(b"@read%d x\nACGTNACGTA\n+\nIIIIIIIIII\n" % i for i in range(reads)))


def test_version_prints_the_package_version():
    proc = run_genotx("--version")
    assert proc.returncode == 0
    assert proc.stdout.decode() == f"genotx {genotx.__version__}\n"


@pytest.mark.parametrize(
    "args, message",
    [
        (["stats", "--bogus"], "genotx: error: No such option: --bogus (see 'genotx stats --help')"),
        (["nosuch"], "genotx: error: No such command 'nosuch'."),
        (["-t", "0", "stats"], "genotx: error: Invalid value for '-t' / '--threads'"),
    ],
)
def test_usage_errors_exit_2_with_one_error_line(args, message):
    proc = run_genotx(*args)
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert err.startswith(message) and err.count("\n") == 1
    assert proc.stdout == b""


def test_missing_file_is_an_input_error_naming_it():
    proc = run_genotx("stats", "no-such-file.fq")
    assert (proc.returncode, proc.stderr.decode()) == (2, "genotx: error: no-such-file.fq: no such file\n")


def test_internal_error_exits_1_with_one_line_and_debug_shows_the_traceback():
    proc = run_probe("boom")
    assert proc.returncode == 1
    assert proc.stderr == (
        "genotx: error: internal error: RuntimeError: kaboom (rerun with --debug for the traceback)\n"
    )
    debug = run_probe("--debug", "boom")
    assert debug.returncode == 1
    assert "Traceback (most recent call last)" in debug.stderr and "RuntimeError: kaboom" in debug.stderr
    assert debug.stderr.rstrip().splitlines()[-1].startswith("genotx: error: internal error: RuntimeError")


def test_threads_come_from_the_option_then_the_environment():
    assert run_probe("-t", "3", "show-threads").stdout == "3\n"
    assert run_probe("--threads", "2", "show-threads", GENOTX_THREADS="5").stdout == "2\n"
    assert run_probe("show-threads", GENOTX_THREADS="5").stdout == "5\n"
    bad = run_probe("show-threads", GENOTX_THREADS="lots")
    assert (bad.returncode, bad.stderr) == (2, "genotx: error: GENOTX_THREADS must be a positive integer, got 'lots'\n")


def test_import_torch_applies_the_thread_setting():
    code = "from genotx.runtime import settings, import_torch; settings.threads = 2; print(import_torch().get_num_threads())"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.stdout == "2\n", proc.stderr


@pytest.mark.parametrize("args", [["--help"], ["stats"], ["stats", "--help"]], ids=" ".join)
def test_help_and_stats_do_not_import_torch(args):
    code = (
        "import sys\nfrom genotx.cli import app\n"
        "try:\n    app(prog_name='genotx')\nexcept SystemExit:\n    pass\n"
        "sys.stderr.write('TORCH' if 'torch' in sys.modules else 'NO-TORCH')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], input=b">r\nACGT\n", capture_output=True, env=genotx_env(), cwd=REPO, timeout=60
    )
    assert proc.stderr.decode().endswith("NO-TORCH"), proc.stderr.decode()[-2000:]


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
def test_broken_pipe_ends_quietly_with_status_0(tmp_path, gzipped):
    path = tmp_path / "big.fq"
    big_fastq(path)
    if gzipped:
        subprocess.run(["gzip", str(path)], check=True)
        path = tmp_path / "big.fq.gz"
    proc = subprocess.Popen(
        [sys.executable, "-m", "genotx", "stats", str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=genotx_env(), cwd=REPO,
    )
    first = proc.stdout.readline()  # what `| head -1` does
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0
    assert first.startswith(b"#genotx ") and err == b""


def test_broken_pipe_in_a_shell_pipeline_with_head():
    proc = subprocess.run(
        f"yes '>r\nACGT' | head -n 400000 | {sys.executable} -m genotx stats | head -n 1",
        shell=True, capture_output=True, env=genotx_env(), cwd=REPO, timeout=60,
        executable="/bin/bash",
    )
    assert proc.stdout.startswith(b"#genotx ") and proc.stderr == b""


def test_output_is_flushed_per_batch_so_head_sees_rows_before_input_ends(tmp_path):
    # The writer side keeps stdin open: rows must arrive before end of input.
    proc = subprocess.Popen(
        [sys.executable, "-m", "genotx", "stats"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=genotx_env(), cwd=REPO,
    )
    proc.stdin.write(b"".join(b"@r%d\nACGT\n+\nIIII\n" % i for i in range(10_000)))
    proc.stdin.flush()
    head = [proc.stdout.readline() for _ in range(3)]
    proc.stdin.close()
    proc.stdout.read()
    assert proc.wait(timeout=60) == 0
    assert head[2].startswith(b"r0\t4\t")


def test_no_input_with_a_terminal_on_stdin_is_a_usage_error_not_a_hang():
    import pty

    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "genotx", "stats"], stdin=follower, capture_output=True, env=genotx_env(), cwd=REPO, timeout=60
        )
    finally:
        os.close(leader)
        os.close(follower)
    assert proc.returncode == 2
    assert proc.stderr.decode().startswith("genotx: error: no input files and stdin is a terminal")
