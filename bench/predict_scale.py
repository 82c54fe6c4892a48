"""`genotx predict` on one process and on two: reads per second and per-core efficiency.

Reads are independent, so predict scales out by running several processes
(docs/parallel.md). This script classifies the same simulated 150 bp reads
with the shipped taxon model

- in one process (`genotx -t 1 predict reads.fq`),
- in two processes sharing a file (`--shard 1/2` and `--shard 2/2`, each `-t 1`),
- in two processes fed by GNU parallel (`parallel --pipe -L 4 -j 2 --keep-order`),
  when `parallel` is installed,

and prints reads/s (wall clock of the whole run, model loading included), the
speed-up over one process, the efficiency per process (speed-up / processes)
and the largest resident set of one process. Every run's rows are checked to
hold each read exactly once with the same call as the single process.

    python bench/predict_scale.py               # 100,000 reads
    python bench/predict_scale.py --reads 400000
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# bench/ holds scripts named like standard modules (tokenize.py); keep them off the import path.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

GENOTX = [sys.executable, "-m", "genotx"]


def simulate(path: Path, reads: int, seed: int) -> None:
    with open(path, "wb") as out:
        subprocess.run([*GENOTX, "simulate", "-n", str(reads), "--seed", str(seed), "--split", "all"],
                       stdout=out, check=True)


def rows(text: str) -> dict[str, str]:
    """read id -> called taxon, from one or more concatenated genotx outputs."""
    calls = {}
    for line in text.splitlines():
        if line.startswith("#genotx ") or line.startswith("read_id\t"):
            continue
        fields = line.split("\t")
        assert fields[0] not in calls, f"read {fields[0]} reported twice"
        calls[fields[0]] = fields[1]
    return calls


def timed(commands: list[list[str] | str], stdin_path: Path | None = None) -> tuple[float, str, int]:
    """Run the commands at once; return (seconds, their stdout joined in order, largest peak RSS in KB).

    The peak comes from wait4: a child's own, or the largest of its descendants (GNU parallel's jobs).
    """
    from concurrent.futures import ThreadPoolExecutor

    start = time.perf_counter()
    procs = []
    for cmd in commands:
        stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
        procs.append(subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.PIPE, shell=isinstance(cmd, str),
                                      env={**os.environ, "OMP_NUM_THREADS": "1"}))
    with ThreadPoolExecutor(len(procs)) as pool:  # read all pipes at once: no process waits on a full pipe
        outputs = list(pool.map(lambda p: p.stdout.read().decode(), procs))
    peak = 0
    for p in procs:
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        assert p.returncode == 0, f"exit status {p.returncode}"
        peak = max(peak, usage.ru_maxrss)
    return time.perf_counter() - start, "".join(outputs), peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        reads = Path(tmp) / "reads.fq"
        simulate(reads, args.reads, args.seed)
        predict = [*GENOTX, "-t", "1", "predict"]
        runs = [("1 process", 1, [[*predict, str(reads)]], None),
                ("2 processes, --shard", 2, [[*predict, "--shard", f"{i}/2", str(reads)] for i in (1, 2)], None)]
        if shutil.which("parallel"):
            line = " ".join(predict)
            runs.append(("2 processes, GNU parallel", 2,
                         [f"parallel --pipe -L 4 --block 10M -j 2 --keep-order {line}"], reads))
        print(f"{args.reads} reads of 150 bp, shipped taxon model, {os.cpu_count()} CPUs visible\n")
        print(f"{'run':<28}{'seconds':>9}{'reads/s':>10}{'speed-up':>10}{'per core':>10}{'peak RSS/process':>18}")
        single = None
        reference = None
        for name, processes, commands, stdin_path in runs:
            seconds, out, peak = timed(commands, stdin_path)
            calls = rows(out)
            assert len(calls) == args.reads, f"{name}: {len(calls)} rows for {args.reads} reads"
            if reference is None:
                reference = calls
            assert calls == reference, f"{name}: calls differ from one process"
            rate = args.reads / seconds
            single = single or rate
            print(f"{name:<28}{seconds:>9.1f}{rate:>10.0f}{rate / single:>10.2f}{rate / single / processes:>10.2f}"
                  f"{peak / 1024:>15.0f} MB")


if __name__ == "__main__":
    main()
