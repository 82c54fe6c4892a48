"""`genotx tokenize` end to end through real pipes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from genotx.io import revcomp
from genotx.tokenizers import load_tokenizer

DATA = Path(__file__).parent / "data"
SAUREUS = str(DATA / "tok_saureus.fa.gz")
READS = "@r1\nACGTACGTNNAC\n+\nIIIIIIIIIIII\n@r2 second\nGGGCCCA\n+\nIIIIIII\n"


def genotx(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "genotx", *args], input=stdin, capture_output=True, text=True, timeout=120
    )


def table(stdout: str) -> list[list[str]]:
    lines = stdout.splitlines()
    assert lines[0].startswith("#genotx ")
    return [line.split("\t") for line in lines[1:]]


def test_kmer_tokens_of_piped_fastq_follow_the_tsv_contract():
    result = genotx("tokenize", "--kind", "kmer", "--k", "3", "--stride", "3", stdin=READS)
    assert result.returncode == 0, result.stderr
    rows = table(result.stdout)
    assert rows[0] == ["id", "n_bases", "n_tokens", "tokens"]
    assert rows[1] == ["r1", "12", "8", "ACG TAC G T N N A C"]
    assert rows[2] == ["r2", "7", "3", "GGG CCC A"]


def test_ids_option_writes_integer_ids():
    result = genotx("tokenize", "--kind", "char", "--ids", stdin=">a\nACGTN\n")
    assert result.returncode == 0, result.stderr
    assert table(result.stdout)[1] == ["a", "5", "5", "5 6 7 8 9"]


def test_train_then_tokenize_with_the_saved_rcbpe_file(tmp_path):
    path = tmp_path / "tok.json"
    trained = genotx("tokenize", "--train", SAUREUS, "--kind", "rcbpe", "--vocab", "300", "-o", str(path))
    assert trained.returncode == 0, trained.stderr
    assert trained.stdout == ""
    assert json.loads(path.read_text())["kind"] == "rcbpe"
    seq = "ATTGCAGGATTTAAACGGCATTAGCAAAAAATGGC"
    fasta = f">fwd\n{seq}\n>rev\n{revcomp(seq)}\n"
    result = genotx("tokenize", "--tokenizer", str(path), stdin=fasta)
    assert result.returncode == 0, result.stderr
    rows = table(result.stdout)[1:]
    forward, reverse = rows[0][3].split(), rows[1][3].split()
    assert "".join(forward) == seq
    assert reverse == [revcomp(t) for t in reversed(forward)]
    assert load_tokenizer(str(path)).vocab_size <= 300


def test_stats_row_per_input_reports_compression_and_rc_consistency():
    result = genotx("tokenize", "--kind", "char", "--stats", "-", SAUREUS, stdin=READS)
    assert result.returncode == 0, result.stderr
    rows = table(result.stdout)
    assert rows[0] == ["input", "reads", "bases", "tokens", "bases_per_token", "vocab_coverage", "rc_consistent"]
    assert rows[1][:5] == ["-", "2", "19", "19", "1"]
    assert rows[2][0] == SAUREUS and rows[2][2] == "60000" and rows[2][6] == "1"


def test_bad_tokenizer_file_exits_2_with_one_error_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"format": "genotx-tokenizer", "version": 42, "kind": "char"}')
    result = genotx("tokenize", "--tokenizer", str(path), stdin=READS)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"genotx: error: {path}: unsupported tokenizer version 42 (this genotx reads version 1)"
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--kind", "kmer", "--k", "9"], "k must be from 1 to 8"),
        (["--kind", "bpe"], "must be trained"),
        (["--train", SAUREUS, "--kind", "rcbpe"], "needs -o/--output"),
        (["--kind", "wordpiece"], "--kind must be one of"),
    ],
)
def test_bad_usage_exits_2(args, message):
    result = genotx("tokenize", *args, stdin=READS)
    assert result.returncode == 2
    assert result.stderr.startswith("genotx: error: ") and message in result.stderr


def test_invalid_sequence_exits_2_naming_the_record():
    result = genotx("tokenize", "--kind", "char", stdin=">ok\nACGT\n>bad\nAC-GT\n")
    assert result.returncode == 2
    assert "record 2 ('bad')" in result.stderr


def test_output_into_head_closes_quietly():
    reads = "".join(f">r{i}\nACGTACGTAC\n" for i in range(20000))
    proc = subprocess.Popen(
        f"{sys.executable} -m genotx tokenize --kind kmer --k 2 | head -n 3",
        shell=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    out, err = proc.communicate(reads, timeout=120)
    assert proc.returncode == 0 and len(out.splitlines()) == 3 and err == ""


def test_kmer_rows_start_without_importing_numpy_or_pydantic():
    """Start-up is most of a short run: char and k-mer rows need neither module."""
    program = (
        "import sys, runpy\n"
        "sys.argv = ['genotx', 'tokenize', '--kind', 'kmer', '--k', '6', '--stride', '1', '-']\n"
        "try:\n    runpy.run_module('genotx', run_name='__main__')\n"
        "except SystemExit as end:\n    assert not end.code, end.code\n"
        "print(sorted(m for m in ('numpy', 'pydantic') if m in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", program], input=READS, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert table(done.stdout)[1][:3] == ["r1", "12", "7"]
    assert done.stderr.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("option, values", [
    ("k", ["6", "-3", "+3", " 6", "06", "1_000", "6.0", "abc", "", "٣", 6]),
    ("inputs", [("a.fq", "b.fq"), ()]),
    ("kind", ["kmer", ""]),
])
def test_option_values_converted_without_pydantic_equal_typers_conversion(option, values):
    from typer._click import Context
    from typer._click.exceptions import BadParameter
    from typer._coercion import build_runtime_param

    from genotx.cli._common import PlainValues, load_subcommand

    command = load_subcommand("tokenize", "tokenize")
    param = next(p for p in command.params if p.name == option)
    assert isinstance(param._runtime_param, PlainValues)
    ctx = Context(command)

    def outcome(converter, value):
        try:
            return "value", converter.coerce(value, param=param, ctx=ctx)
        except BadParameter as error:
            return "error", error.format_message()

    typers = build_runtime_param(param.type_descriptor)
    for value in values:
        assert outcome(param._runtime_param, value) == outcome(typers, value), value


def test_threads_below_its_minimum_is_still_a_usage_error():
    done = genotx("-t", "0", "tokenize", "--kind", "char", stdin=READS)
    assert done.returncode == 2 and done.stderr.startswith("genotx: error: ") and done.stdout == ""


def test_kmer_tokenizer_from_a_file_writes_the_rows_of_the_built_one(tmp_path):
    saved = tmp_path / "kmer3.json"
    assert genotx("tokenize", "--kind", "kmer", "--k", "3", "--stride", "1", "-o", str(saved)).returncode == 0
    for ids in ([], ["--ids"]):
        built = genotx("tokenize", "--kind", "kmer", "--k", "3", "--stride", "1", *ids, stdin=READS)
        loaded = genotx("tokenize", "--tokenizer", str(saved), *ids, stdin=READS)
        assert built.returncode == loaded.returncode == 0
        assert table(built.stdout) == table(loaded.stdout)
