"""Speed rows: Kraken2 and `genotx predict --task taxon` as whole processes side by side, median of repeats."""

from __future__ import annotations

import gzip
import os
import sys
from pathlib import Path

import numpy as np

from genotx.taxon.simulate import ErrorModel, ReadSimulator, to_fastq

from taxonbench.tools import genome_digest, timed_cpu

SPEED_READS = (200_000, 2_000_000)
TARGET_WALL = 1.2  # genotx wall time at most this many times Kraken2's (the k-mer memory alone decides)
TARGET_START = 0.5  # seconds of start-up on empty input


def speed_reads(genomes, n: int, cache: Path) -> Path:
    """``n`` reads of 150 bp at 1 % error from ``genomes``, gzip FASTQ, cached (2 M reads take minutes)."""
    path = cache / f"speed-{genome_digest(genomes)}-{n}.fq.gz"
    if not path.exists():
        reads = ReadSimulator(genomes, length=150, errors=ErrorModel.parse("0.01"), seed=300).reads(n)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with gzip.open(tmp, "wt", compresslevel=1) as out:
            while chunk := [r for _, r in zip(range(20000), reads)]:
                out.write(to_fastq(chunk))
        os.replace(tmp, path)
    return path


def speed_table(commands, inputs, work: Path, repeats: int = 3) -> dict:
    """One row per input and tool: medians of ``repeats`` runs, tools interleaved so load drifts hit all alike.

    ``commands``: (name, argv of a FASTQ path); the first is the reference of the ratio columns.
    ``inputs``: (label, path). Returns {(label, name): (wall, cpu, rss)}.
    """
    print("speed\ttool\twall_s\tcpu_s\tcpu_per_wall\trss_MB\twall_vs_" + commands[0][0] + "\tcpu_vs_"
          + commands[0][0] + "\tload_1min", flush=True)
    medians = {}
    for label, path in inputs:
        runs = {name: [] for name, _ in commands}
        for _ in range(repeats):
            for name, argv in commands:
                runs[name].append(timed_cpu(argv(path), work / "speed.out"))
        load = os.getloadavg()[0]
        for name, _ in commands:
            medians[label, name] = tuple(float(np.median([r[i] for r in runs[name]])) for i in range(3))
        ref = medians[label, commands[0][0]]
        for name, _ in commands:
            wall, cpu, rss = medians[label, name]
            print(f"{label}\t{name}\t{wall:.2f}\t{cpu:.2f}\t{cpu / wall:.2f}\t{rss:.0f}\t{wall / ref[0]:.2f}"
                  f"\t{cpu / max(ref[1], 1e-9):.2f}\t{load:.1f}", flush=True)
    return medians


def genotx_command(threads):
    return lambda fq: [sys.executable, "-m", "genotx", "-t", threads, "-q", "predict", "--task", "taxon", fq]


def speed(train, db, threads: int, work: Path, cache: Path, sizes=SPEED_READS, repeats: int = 3) -> None:
    """Kraken2 and `genotx predict --task taxon` (the default model as shipped) on empty input and on simulated sets.

    With ``threads`` > 1, `genotx -t 1` is a row too: how much the other threads add (its
    throughput ratio, and CPU seconds per wall second, which is near 1 when one core works).
    """
    empty = work / "empty.fq"
    empty.write_text("")
    inputs = [("empty", empty)] + [(f"{n // 1000}k reads" if n < 10**6 else f"{n // 10**6}M reads",
                                     speed_reads(train, n, cache)) for n in sizes]
    commands = [("kraken2", lambda fq: ["kraken2", "--db", db, "--threads", threads, fq]),
                ("genotx", genotx_command(threads))]
    if threads > 1:
        commands.append(("genotx -t 1", genotx_command(1)))
    print(f"# speed: whole processes, median of {repeats}, {threads} threads, 150 bp reads at 1 % error, gzip; "
          f"{os.cpu_count()} cores, load average before {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    medians = speed_table(commands, inputs, work, repeats)
    start = medians["empty", "genotx"][0]
    print(f"# target start-up <= {TARGET_START} s: genotx {start:.2f} s ({'met' if start <= TARGET_START else 'not met'})")
    for label, _ in inputs[1:]:
        ratio = medians[label, "genotx"][0] / medians[label, "kraken2"][0]
        print(f"# target wall <= {TARGET_WALL}x kraken2 on {label}: {ratio:.2f}x "
              f"({'met' if ratio <= TARGET_WALL else 'not met'})")
    for label, _ in inputs[1:] if threads > 1 else []:
        (one, one_cpu, _), (many, many_cpu, _) = medians[label, "genotx -t 1"], medians[label, "genotx"]
        print(f"# genotx -t {threads} against -t 1 on {label}: {one / many:.2f}x the throughput; CPU s per wall s "
              f"{many_cpu / many:.2f} against {one_cpu / one:.2f}")
