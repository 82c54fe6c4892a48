"""`genotx` under a hostile environment, through the real command in real pipes.

Full disks (/dev/full, a small tmpfs), closed standard streams, slow producers,
odd file names and UTF-8 headers: each failure is one line naming the file or
stream, never a traceback; each success looks like a Unix tool's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time

import pytest
from conftest import REPO, genotx_env, run_genotx, tsv_rows

GENOTX = [sys.executable, "-m", "genotx"]
FASTQ = b"@r1 x\nACGT\n+\nIIII\n@r2\nGGCC\n+\nIIII\n"


def shell(script: str, **kwargs) -> subprocess.CompletedProcess:
    """Run `script` in bash with `genotx` meaning this checkout's command."""
    prelude = f"genotx() {{ {sys.executable} -m genotx \"$@\"; }}\n"
    return subprocess.run(["/bin/bash", "-c", prelude + script], capture_output=True, env=genotx_env(), cwd=REPO,
                          timeout=120, **kwargs)


def one_error_line(stderr: bytes) -> str:
    text = stderr.decode()
    assert text.count("\n") == 1 and "Traceback" not in text, text
    assert text.startswith("genotx: error: "), text
    return text.strip()


# --- 4: environment failures ------------------------------------------------------------

@pytest.mark.parametrize("args", [["stats", "IN"], ["--help"], ["--version"], ["stats", "--help"]], ids=" ".join)
def test_a_full_stdout_is_one_line_naming_stdout_with_status_1(tmp_path, args):
    (tmp_path / "in.fq").write_bytes(FASTQ)
    args = [str(tmp_path / "in.fq") if a == "IN" else a for a in args]
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([*GENOTX, *args], stdout=full, stderr=subprocess.PIPE, env=genotx_env(), cwd=REPO,
                              timeout=60)
    assert proc.returncode == 1
    assert one_error_line(proc.stderr) == "genotx: error: <stdout>: write error (No space left on device)"


@pytest.mark.parametrize("args", ["stats IN", "--help", "--version"])
def test_a_closed_stdout_is_one_line_naming_stdout_with_status_1(tmp_path, args):
    (tmp_path / "in.fq").write_bytes(FASTQ)
    proc = shell(f"genotx {args.replace('IN', str(tmp_path / 'in.fq'))} >&-")
    assert proc.returncode == 1
    assert one_error_line(proc.stderr).startswith("genotx: error: <stdout>: write error (Bad file descriptor")


def test_a_closed_stdin_is_an_input_error_naming_stdin():
    proc = shell("genotx stats - <&-")
    assert proc.returncode == 2
    assert "<stdin>: read error" in one_error_line(proc.stderr)


def test_a_closed_stderr_still_gives_the_exit_status(tmp_path):
    proc = shell(f"genotx stats {tmp_path}/missing.fq 2>&-")
    assert proc.returncode == 2 and proc.stdout == b""


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 64 KiB tmpfs (needs the right to mount; skipped without it)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


def test_stdout_redirected_to_a_full_filesystem_names_stdout(tmp_path, small_tmpfs):
    reads = tmp_path / "reads.fq"
    reads.write_bytes(b"".join(b"@read%d\nACGTACGTAC\n+\nIIIIIIIIII\n" % i for i in range(20_000)))
    proc = shell(f"genotx stats {reads} > {small_tmpfs}/out.tsv")
    assert proc.returncode == 1
    assert one_error_line(proc.stderr) == "genotx: error: <stdout>: write error (No space left on device)"


def test_an_output_file_on_a_full_filesystem_is_one_line_with_status_1(tmp_path, small_tmpfs):
    genome = tmp_path / "genome.fa"
    genome.write_text(">g\n" + "ACGTTGCAAGGCTTAC" * 4000 + "\n")
    (small_tmpfs / "filler").write_bytes(b"x" * (60 << 10))
    proc = run_genotx("tokenize", "--train", str(genome), "--kind", "bpe", "--vocab", "64",
                      "-o", str(small_tmpfs / "bpe.json"))
    assert proc.returncode == 1
    assert one_error_line(proc.stderr) == f"genotx: error: {small_tmpfs / 'bpe.json'}: No space left on device"
    assert os.listdir(small_tmpfs) == ["filler"]  # no temporary file left behind


def test_an_output_path_in_a_missing_folder_is_a_usage_error(tmp_path):
    genome = tmp_path / "genome.fa"
    genome.write_text(">g\n" + "ACGT" * 100 + "\n")
    proc = run_genotx("tokenize", "--train", str(genome), "--kind", "bpe", "--vocab", "16",
                      "-o", str(tmp_path / "no" / "such" / "bpe.json"))
    assert proc.returncode == 2
    line = one_error_line(proc.stderr)
    assert str(tmp_path / "no" / "such") in line and "internal error" not in line


# --- 5: UTF-8 header descriptions ---------------------------------------------------------

@pytest.mark.parametrize("record", [">id1 strain Müller\nACGT\n", "@id1 strain Müller 北京\nACGT\n+\nIIII\n"],
                         ids=["fasta", "fastq"])
def test_a_utf8_description_is_accepted_and_the_id_is_the_first_word(record):
    proc = run_genotx("stats", stdin=record.encode() * 3)
    assert proc.returncode == 0, proc.stderr
    assert [row[0] for row in tsv_rows(proc.stdout)] == ["id1"] * 3


def test_a_utf8_description_after_many_plain_fastq_records_keeps_every_record():
    # the C fast path meets the UTF-8 header in the middle of a piece
    plain = b"".join(b"@p%d\nACGT\n+\nIIII\n" % i for i in range(5000))
    proc = run_genotx("stats", stdin=plain + "@u1 Müller\nACGT\n+\nIIII\n".encode() + plain)
    assert proc.returncode == 0, proc.stderr
    assert len(tsv_rows(proc.stdout)) == 10_001


@pytest.mark.parametrize("header, problem", [
    (b"id1 a\x01b", "header contains control characters"),
    (b"id1 M\xfcller", "header is not UTF-8 text"),
    ("idü x".encode(), "has non-ASCII characters"),
], ids=["control", "latin-1", "non-ascii-id"])
@pytest.mark.parametrize("fmt", ["fasta", "fastq"])
def test_control_bytes_invalid_utf8_and_non_ascii_ids_are_still_refused(header, problem, fmt):
    record = b">" + header + b"\nACGT\n" if fmt == "fasta" else b"@" + header + b"\nACGT\n+\nIIII\n"
    proc = run_genotx("stats", stdin=record)
    assert proc.returncode == 2 and proc.stdout == b""
    assert problem in one_error_line(proc.stderr)


# --- 6: odd file names ---------------------------------------------------------------------

def test_a_file_name_with_a_newline_keeps_the_provenance_and_errors_on_one_line(tmp_path):
    odd = tmp_path / "a\nb.fq"
    odd.write_bytes(FASTQ)
    proc = run_genotx("stats", str(odd))
    assert proc.returncode == 0
    first, header = proc.stdout.decode().splitlines()[:2]
    assert first.endswith("$'" + str(odd).replace("\n", "\\n") + "'") and header.startswith("id\t")
    replay = subprocess.run(["/bin/bash", "-c", f"printf '%s' {first.split(' ', 3)[3]}"], capture_output=True)
    assert replay.stdout.decode() == str(odd)  # the provenance pastes back into a shell
    missing = run_genotx("stats", str(tmp_path / "x\ny.fq"))
    assert missing.returncode == 2 and "x\\ny.fq" in one_error_line(missing.stderr)


# --- 8: help text ----------------------------------------------------------------------------

def test_tokenize_examples_stay_one_per_line_in_help_and_man_page():
    proc = run_genotx("tokenize", "--help")
    examples = [line.strip() for line in proc.stdout.decode().splitlines() if line.strip().startswith("genotx tokenize")]
    assert len(examples) == 4 and all(e.count("genotx tokenize") == 1 for e in examples)
    page = (REPO / "man" / "genotx-tokenize.1").read_text()
    block = page.split(".nf\n", 1)[1].split(".fi\n", 1)[0].splitlines()  # troff prints these lines as they are
    assert len(block) == 4 and all(line.startswith("genotx tokenize ") for line in block)


def test_simulate_read_id_example_is_not_broken_inside_a_word():
    proc = run_genotx("simulate", "--help")
    assert "r000001|taxon=Escherichia_coli|taxid=562|strand=-|pos=123|seq=NC_000913.3|errors=2" in proc.stdout.decode()


# --- 9: habits ---------------------------------------------------------------------------------

def test_global_options_work_after_the_subcommand(tmp_path):
    (tmp_path / "in.fq").write_bytes(FASTQ)
    after = run_genotx("stats", "-q", "-t", "1", str(tmp_path / "in.fq"))
    before = run_genotx("-q", "-t", "1", "stats", str(tmp_path / "in.fq"))
    assert after.returncode == before.returncode == 0
    assert tsv_rows(after.stdout) == tsv_rows(before.stdout)
    debug = run_genotx("stats", str(tmp_path / "missing.fq"), "--debug")
    assert debug.returncode == 2 and "Traceback" in debug.stderr.decode()  # --debug after the subcommand took effect


def test_threads_after_the_subcommand_reach_the_settings():
    probe = (
        "import sys, types\n"
        "import genotx.cli as cli\n"
        "from genotx.cli._common import command\n"
        "from genotx.runtime import settings\n"
        "module = types.ModuleType('genotx.cli._probe')\n"
        "module.run = command(lambda: print(settings.threads, settings.quiet, settings.debug))\n"
        "sys.modules['genotx.cli._probe'] = module\n"
        "cli.COMMANDS.append(('probe', '_probe'))\n"
        "cli.app(prog_name='genotx')\n"
    )
    run = lambda *a: subprocess.run([sys.executable, "-c", probe, *a], capture_output=True, text=True,  # noqa: E731
                                    env=genotx_env(), cwd=REPO, timeout=60)
    assert run("-t", "3", "probe").stdout == "3 False False\n"
    assert run("-t", "3", "probe", "-t", "5", "-q", "--debug").stdout == "5 True True\n"


def test_debug_error_lines_do_not_ask_to_rerun_with_debug():
    probe = (
        "from genotx.cli import app\nfrom genotx.cli._common import command\n"
        "@app.command('boom')\n@command\ndef boom():\n    raise RuntimeError('kaboom')\n"
        "app(prog_name='genotx')\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe, "--debug", "boom"], capture_output=True, text=True,
                          env=genotx_env(), cwd=REPO, timeout=60)
    assert proc.returncode == 1 and "Traceback" in proc.stderr
    assert proc.stderr.splitlines()[-1] == "genotx: error: internal error: RuntimeError: kaboom"


def test_generate_takes_n_as_simulate_does():
    for sub in ("generate", "simulate"):
        assert "-n, --n" in run_genotx(sub, "--help").stdout.decode()


# --- 10: streaming latency -------------------------------------------------------------------

@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
def test_rows_of_a_slow_producer_appear_while_its_input_is_still_open(gzipped):
    """A producer that writes three reads and then waits: their rows must come before it ends."""
    proc = subprocess.Popen([*GENOTX, "stats"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=genotx_env(), cwd=REPO)
    records = b"".join(b"@live%d\nACGT\n+\nIIII\n" % i for i in range(3))
    if gzipped:
        import zlib

        deflate = zlib.compressobj(wbits=31)
        records = deflate.compress(records) + deflate.flush(zlib.Z_SYNC_FLUSH)
    proc.stdin.write(records)
    proc.stdin.flush()
    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout.readline() for _ in range(5)), daemon=True)
    reader.start()
    reader.join(timeout=60)  # generous: the reads come after about one second of silence
    still_open = proc.poll() is None
    proc.stdin.close()
    proc.wait(timeout=60)
    assert still_open and [line.split(b"\t")[0] for line in lines[2:]] == [b"live0", b"live1", b"live2"]


def test_a_partial_batch_on_a_stall_changes_no_row(tmp_path):
    """Rows with stalls in the middle of the input equal the rows of the same input in one go."""
    records = [b"@s%d\nACGTN\n+\nIIIII\n" % i for i in range(30)]
    whole = run_genotx("stats", stdin=b"".join(records))
    proc = subprocess.Popen([*GENOTX, "stats"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=genotx_env(), cwd=REPO)
    for cut in (records[:7], records[7:8], records[8:]):
        proc.stdin.write(b"".join(cut))
        proc.stdin.flush()
        time.sleep(1.5)  # not a timing assertion: only makes the stall happen
    proc.stdin.close()
    assert tsv_rows(proc.stdout.read()) == tsv_rows(whole.stdout)
    assert proc.wait(timeout=60) == 0


# --- scaling out --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def taxon_reads(tmp_path_factory):
    path = tmp_path_factory.mktemp("reads") / "reads.fq"
    with open(path, "wb") as out:
        subprocess.run([*GENOTX, "simulate", "-n", "9000", "--seed", "3", "--split", "all"], stdout=out,
                       env=genotx_env(), cwd=REPO, check=True, timeout=300)
    return path


def _calls(stdout: bytes) -> list[tuple[str, ...]]:
    return [tuple(line.split("\t")) for line in stdout.decode().splitlines()
            if not line.startswith("#genotx ") and not line.startswith("read_id\t")]


def test_shards_together_hold_every_read_once_with_the_same_calls(taxon_reads):
    whole = run_genotx("-t", "1", "predict", str(taxon_reads), timeout=600)
    assert whole.returncode == 0, whole.stderr
    parts = [run_genotx("predict", "--shard", f"{i}/3", "-t", "1", str(taxon_reads), timeout=600) for i in (1, 2, 3)]
    assert all(p.returncode == 0 for p in parts)
    shard_calls = [_calls(p.stdout) for p in parts]
    assert sorted(sum(shard_calls, [])) == sorted(_calls(whole.stdout))
    # 9000 reads in batches of 4096: shard 1 has batch 1, shard 2 batch 2, shard 3 none (header only)
    assert [len(c) for c in shard_calls] == [4096, 4096, 808]


@pytest.mark.parametrize("shard", ["0/2", "3/2", "x/2", "1"])
def test_a_bad_shard_is_a_usage_error(taxon_reads, shard):
    proc = run_genotx("predict", "--shard", shard, str(taxon_reads))
    assert proc.returncode == 2 and "--shard must be I/N" in one_error_line(proc.stderr)


def test_shard_refuses_stdin():
    proc = run_genotx("predict", "--shard", "1/2", stdin=FASTQ)
    assert proc.returncode == 2 and "stdin" in one_error_line(proc.stderr)


@pytest.mark.skipif(shutil.which("parallel") is None, reason="GNU parallel is not installed")
def test_gnu_parallel_recipe_gives_the_rows_of_one_process_in_order(taxon_reads):
    whole = run_genotx("-t", "1", "predict", str(taxon_reads), timeout=600)
    genotx = f"{sys.executable} -m genotx"  # parallel starts its own shell: a bash function is not seen there
    proc = shell(f"parallel --pipe -L 4 --block 400k -j 2 --keep-order {genotx} -t 1 predict < {taxon_reads}"
                 " | awk 'NR <= 2 || !/^#genotx |^read_id\\t/'")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.decode().splitlines()
    assert lines[1] == whole.stdout.decode().splitlines()[1]
    assert not [line for line in lines[2:] if line.startswith("#genotx ") or line == lines[1]]
    assert _calls(proc.stdout) == _calls(whole.stdout)  # same rows, same order
