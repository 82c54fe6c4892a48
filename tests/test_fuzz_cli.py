"""Fuzzing `genotx stats` with malformed inputs made from real reads and genomes.

Every case is built so that it is malformed for certain (a mutation that no
valid FASTA/FASTQ can contain), written to a file or piped to stdin, and run
as its own `genotx` process with a timeout. Each must exit with status 2 and
exactly one ``genotx: error:`` line on stderr, no traceback, and no row for
the damaged record or any after it on stdout.
"""

from __future__ import annotations

import gzip
import os
import random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

from conftest import DATA, REPO, genotx_env

SEED = 20240601
CASES_PER_KIND = 14
TIMEOUT_S = 60
INVALID_SEQUENCE_CHARS = "-.*0123456789 XJZOxjzo@#&:\x00\x01\x1b\x7f\x80\xe9\xff"


class Case(NamedTuple):
    name: str
    data: bytes
    max_rows: int | None  # rows allowed on stdout: only records before the damaged one


def fastq_records() -> list[tuple[bytes, bytes, bytes]]:
    lines = gzip.decompress((DATA / "io_ERR127302_200.fq.gz").read_bytes()).split(b"\n")
    lines += gzip.decompress((DATA / "io_SRR059298_200.fq.gz").read_bytes()).split(b"\n")
    lines = [line for line in lines if line]
    return [(lines[i], lines[i + 1], lines[i + 3]) for i in range(0, len(lines), 4)]


def fasta_records() -> list[tuple[bytes, bytes]]:
    text = gzip.decompress((DATA / "io_16s_20.fa.gz").read_bytes()).decode()
    return [(">" + part.partition("\n")[0], part.partition("\n")[2].replace("\n", "")) for part in text.lstrip(">").split("\n>")]


def fastq_text(records, plus: bytes = b"+") -> bytes:
    return b"".join(b"%s\n%s\n%s\n%s\n" % (h, s, plus, q) for h, s, q in records)


def fasta_text(records, width: int) -> bytes:
    out = []
    for header, seq in records:
        out.append(header + "\n" + "\n".join(seq[i : i + width] for i in range(0, len(seq), width)) + "\n")
    return "".join(out).encode()


def fastq_cases(rng: random.Random, reads) -> list[Case]:
    cases = []
    for i in range(CASES_PER_KIND):
        recs = [list(r) for r in rng.sample(reads, rng.randint(2, 12))]
        k = rng.randrange(len(recs))
        h, s, q = recs[k]
        bad = rng.choice(INVALID_SEQUENCE_CHARS).encode("latin-1")
        at = rng.randrange(len(s) + 1)
        recs_invalid = [r[:] for r in recs]
        recs_invalid[k] = [h, s[:at] + bad + s[at:], q[:at] + b"I" + q[at:]]
        cases.append(Case(f"fastq-invalid-char-{i}", fastq_text(recs_invalid), k))
        delta = rng.choice([-3, -2, -1, 1, 2, 5])
        recs_len = [r[:] for r in recs]
        recs_len[k] = [h, s, (q + b"IIIII")[: len(q) + delta]]
        cases.append(Case(f"fastq-quality-length-{i}", fastq_text(recs_len), k))
        text = fastq_text(recs).split(b"\n")
        del text[4 * k + 2]
        cases.append(Case(f"fastq-missing-plus-{i}", b"\n".join(text), k))
        recs_empty = [r[:] for r in recs]
        recs_empty[k] = [h, b"", b""]
        cases.append(Case(f"fastq-empty-sequence-{i}", fastq_text(recs_empty), k))
        full = fastq_text(recs)
        last = len(fastq_text(recs[:-1]))
        cut = rng.randrange(last + 1, len(full) - 1)  # inside the last record, losing at least a base
        cases.append(Case(f"fastq-truncated-{i}", full[:cut], len(recs) - 1))
        text = fastq_text(recs).split(b"\n")
        j = rng.randrange(1, len(recs)) if len(recs) > 1 else 0
        text[4 * j] = rng.choice([b"", b">" + text[4 * j][1:], text[4 * j][1:], b"#" + text[4 * j][1:]])
        cases.append(Case(f"fastq-bad-header-{i}", b"\n".join(text), j))
        recs_qual = [r[:] for r in recs]
        p = rng.randrange(len(q))
        recs_qual[k] = [h, s, q[:p] + rng.choice([b" ", b"\x7f", b"\x80", b"\t", b"\x00"]) + q[p + 1 :]]
        cases.append(Case(f"fastq-quality-char-{i}", fastq_text(recs_qual), k))
        text = fastq_text(recs).split(b"\n")
        mid = len(s) // 2
        text[4 * k + 1 : 4 * k + 4] = [s[:mid], s[mid:], b"+", q[:mid], q[mid:]]
        cases.append(Case(f"fastq-multiline-{i}", b"\n".join(text), k))
        if len(recs) > 1:
            text = fastq_text(recs).split(b"\n")
            text.insert(4 * j, b"")
            cases.append(Case(f"fastq-blank-line-{i}", b"\n".join(text), j))
    return cases


def fasta_cases(rng: random.Random, genomes) -> list[Case]:
    cases = []
    for i in range(CASES_PER_KIND):
        recs = [tuple(r) for r in rng.sample(genomes, rng.randint(2, 6))]
        width = rng.choice([50, 60, 70, 80, 10_000])
        k = rng.randrange(len(recs))
        h, s = recs[k]
        bad = rng.choice(INVALID_SEQUENCE_CHARS.replace("\x00", "").replace(" ", ""))
        at = rng.randrange(len(s))
        broken = list(recs)
        broken[k] = (h, s[:at] + bad + s[at:])
        text = fasta_text(broken, width)
        cases.append(Case(f"fasta-invalid-char-{i}", text, k))
        broken = list(recs)
        broken[k] = (h, "")
        cases.append(Case(f"fasta-empty-sequence-{i}", fasta_text(broken, width).replace(b"\n\n", b"\n"), k))
        broken = list(recs)
        broken[k] = (rng.choice([">", "> desc", ">\tx", ">id\x01", ">id\xff"]), s)
        cases.append(Case(f"fasta-bad-header-{i}", fasta_text(broken, width).replace(b"\xc3\xbf", b"\xff"), k))
        cases.append(Case(f"fasta-sequence-first-{i}", s[:70].encode() + b"\n" + fasta_text(recs, width), 0))
        fq = fastq_text([(b"@" + h[1:].encode(), s[:50].encode(), b"I" * 50)])
        cases.append(Case(f"mixed-fasta-then-fastq-{i}", fasta_text(recs, width) + fq, len(recs) - 1))
    return cases


def other_cases(rng: random.Random, reads, genomes) -> list[Case]:
    cases = []
    for i in range(CASES_PER_KIND):
        valid_fq = fastq_text(rng.sample(reads, 40))
        some_genomes = rng.sample(genomes, 2)
        n = rng.randint(1, 3000)
        junk = bytes(rng.randrange(256) for _ in range(n))
        cases.append(Case(f"binary-{i}", rng.choice([b"", b"@", b">", b"@r\xff"]) + b"\xff" + junk, 0))
        packed = gzip.compress(valid_fq + fastq_text([(b"@x", b"ACGT", b"III")]), mtime=0)
        cases.append(Case(f"gzip-of-malformed-{i}", packed, 40))
        packed = gzip.compress(valid_fq, mtime=0)
        cases.append(Case(f"gzip-truncated-{i}", packed[: rng.randrange(20, len(packed) - 1)], None))
        flip = rng.randrange(10, len(packed))
        damaged = packed[:flip] + bytes([packed[flip] ^ (1 << rng.randrange(8))]) + packed[flip + 1 :]
        cases.append(Case(f"gzip-corrupt-byte-{i}", damaged, None))
        cases.append(Case(f"gzip-trailing-garbage-{i}", packed + b"junk" + junk[:50], None))
        text = rng.choice([b"hello world\n", b'{"reads": []}\n', b"id\tseq\nr1\tACGT\n", b"#comment\n>r\nAC\n", b"\xef\xbb\xbf>r\n"])
        cases.append(Case(f"not-sequence-{i}", text + fasta_text(some_genomes, 60), 0))
        cases.append(Case(f"utf16-fasta-{i}", fasta_text(some_genomes, 60).decode().encode("utf-16"), 0))
        cases.append(Case(f"mixed-fastq-then-fasta-{i}", valid_fq + fasta_text(some_genomes, 60), 40))
    return cases


def all_cases() -> list[Case]:
    rng = random.Random(SEED)
    reads, genomes = fastq_records(), fasta_records()
    return fastq_cases(rng, reads) + fasta_cases(rng, genomes) + other_cases(rng, reads, genomes)


def run_case(case: Case, index: int, tmp_path) -> str | None:
    """Run one case (odd ones through stdin); return a description of what went wrong, or None."""
    args = [sys.executable, "-m", "genotx", "stats"]
    stdin = case.data
    if index % 2 == 0:
        path = tmp_path / f"{index}-{case.name}"
        path.write_bytes(case.data)
        args.append(str(path))
        stdin = b""
    try:
        proc = subprocess.run(args, input=stdin, capture_output=True, env=genotx_env(), cwd=REPO, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"{case.name}: no exit within {TIMEOUT_S} s"
    err = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 2:
        return f"{case.name}: exit {proc.returncode}, stderr {err[-300:]!r}"
    if "Traceback" in err or err.count("\n") != 1 or not err.startswith("genotx: error: "):
        return f"{case.name}: stderr is not one error line: {err[-300:]!r}"
    out = proc.stdout.decode("utf-8", "replace")
    if out and not out.endswith("\n"):
        return f"{case.name}: partial line on stdout"
    rows = out.splitlines()[2:]
    if any(len(row.split("\t")) != 5 for row in rows):
        return f"{case.name}: malformed row on stdout"
    if case.max_rows is not None and len(rows) > case.max_rows:
        return f"{case.name}: {len(rows)} rows printed, the damaged record is number {case.max_rows + 1}"
    return None


def test_cases_are_many_distinct_and_deterministic():
    cases = all_cases()
    assert len(cases) >= 300
    assert len({c.data for c in cases}) == len(cases)
    assert [c.data for c in all_cases()[:50]] == [c.data for c in cases[:50]]


def test_every_malformed_input_exits_2_with_one_error_line(tmp_path):
    cases = all_cases()
    workers = max(2, min(8, os.cpu_count() or 2))
    with ThreadPoolExecutor(workers) as pool:
        problems = [p for p in pool.map(run_case, cases, range(len(cases)), [tmp_path] * len(cases)) if p]
    assert not problems, f"{len(problems)} of {len(cases)} cases misbehaved:\n" + "\n".join(problems[:20])
