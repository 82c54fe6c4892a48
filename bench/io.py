"""Reading speed: genotx's reader vs a bare pyfastx loop vs a plain Python line parser.

Generates a FASTQ of 1 M reads of 150 bp (Illumina-like binned qualities) under
/tmp, plain and gzip, then reads it from a file and from a pipe (``cat f |``).
Each measurement runs in a fresh process; the best wall time of --repeat runs
is kept, with its CPU time (all threads). Prints records/s and the ratio to
pyfastx.

genotx's FASTQ reader parses well-formed records in a small C extension
(`genotx.io._fastq`, built at install time when a compiler is present) and
hands anything else to its strict pure-Python parser; `genotx-batches` is the
API genotx's commands use, `genotx-records` adds one Record tuple per read.

The ``split-floor`` row is not a reader: it only reads the bytes (genotx's
byte source, gzip inflated in a thread), decodes them and splits them into
lines with ``str.split``, with no checks and no ids. Every pure-Python reader
that hands out ``str`` records does at least this much work, so its ratio is
the ceiling for genotx's reader on the same input.

    python bench/io.py                 # 1 M reads
    python bench/io.py --reads 200000  # quicker
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import time

READERS = ["genotx-batches", "genotx-records", "pyfastx", "python-lines", "split-floor"]


def generate(path: str, reads: int, length: int, seed: int = 0) -> None:
    """Write `reads` FASTQ records of `length` bp: random bases (0.1 % N), binned qualities."""
    import numpy as np

    rng = np.random.default_rng(seed)
    bases = np.frombuffer(b"ACGTN", dtype=np.uint8)
    levels = np.frombuffer(b"F:,#", dtype=np.uint8)  # NovaSeq-style binned Phred 37/25/11/2
    tmp = path + ".tmp"
    with open(tmp, "wb") as out:
        for start in range(0, reads, 50_000):
            m = min(50_000, reads - start)
            seqs = bases[rng.choice(5, size=(m, length), p=[0.24975] * 4 + [0.001])]
            quals = levels[rng.choice(4, size=(m, length), p=[0.85, 0.08, 0.05, 0.02])]
            out.write(
                b"".join(
                    b"@BENCH:1:FC:1:%d:%d:%d 1:N:0:ACGTAC\n%s\n+\n%s\n"
                    % (start + i, i % 977, i % 1291, seqs[i].tobytes(), quals[i].tobytes())
                    for i in range(m)
                )
            )
    os.replace(tmp, path)


def compress(src: str, dst: str) -> None:
    with open(src, "rb") as fin, gzip.open(dst + ".tmp", "wb", compresslevel=6) as fout:
        while block := fin.read(1 << 20):
            fout.write(block)
    os.replace(dst + ".tmp", dst)


def worker(reader: str, path: str) -> None:
    """Count the records of `path` ('-': stdin) with one reader; print JSON timings.

    Modules are imported before the clock starts, so the times are those of reading
    (`import genotx.io` takes about 20 ms, `import pyfastx` under 1 ms)."""
    import pyfastx

    from genotx.io import iter_batches, iter_records
    from genotx.io.source import pieces

    wall, cpu = time.perf_counter(), time.process_time()
    n = 0
    if reader == "genotx-batches":
        for batch in iter_batches([path]):
            n += len(batch)
    elif reader == "genotx-records":
        for _ in iter_records([path]):
            n += 1
    elif reader == "pyfastx":
        for _name, _seq, _qual in pyfastx.Fastx("/dev/stdin" if path == "-" else path, format="fastq"):
            n += 1
    elif reader == "python-lines":
        raw = sys.stdin.buffer if path == "-" else open(path, "rb")
        head = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
        stream = gzip.GzipFile(fileobj=raw) if head == b"\x1f\x8b" else raw
        lines = iter(stream)
        for header, seq, _plus, qual in zip(lines, lines, lines, lines):
            record = (header[1:].split(None, 1)[0].decode(), seq.rstrip().decode(), qual.rstrip().decode())
            n += 1
        del record
    elif reader == "split-floor":
        newlines = 0
        for piece in pieces(path):
            newlines += len(piece.decode("latin-1").split("\n")) - 1  # pieces cut lines anywhere
        n = newlines // 4
    print(json.dumps({"n": n, "wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}))


def measure(reader: str, path: str, via_pipe: bool, repeat: int) -> dict:
    best = None
    for _ in range(repeat):
        cmd = [sys.executable, __file__, "--worker", reader, "-" if via_pipe else path]
        if via_pipe:
            cat = subprocess.Popen(["cat", path], stdout=subprocess.PIPE)
            proc = subprocess.run(cmd, stdin=cat.stdout, capture_output=True, text=True)
            cat.stdout.close()
            cat.wait()
        else:
            proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"{reader} failed on {path}:\n{proc.stderr}")
        result = json.loads(proc.stdout)
        if best is None or result["wall"] < best["wall"]:
            best = result
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=1_000_000)
    parser.add_argument("--length", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", default="/tmp/genotx-bench-io")
    parser.add_argument("--worker", nargs=2, metavar=("READER", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    os.makedirs(args.dir, exist_ok=True)
    plain = os.path.join(args.dir, f"reads-{args.reads}x{args.length}.fq")
    if not os.path.exists(plain):
        print(f"generating {plain}", file=sys.stderr)
        generate(plain, args.reads, args.length)
    if not os.path.exists(plain + ".gz"):
        compress(plain, plain + ".gz")
    print(f"# {args.reads} reads x {args.length} bp; best wall time of {args.repeat}; cpu = all threads")
    print(f"# {'input':<11} {'reader':<15} {'records/s':>11} {'wall s':>7} {'cpu s':>6} {'vs pyfastx':>10}")
    for path, label in [(plain, "plain"), (plain + ".gz", "gzip")]:
        for via_pipe in (False, True):
            rows = {reader: measure(reader, path, via_pipe, args.repeat) for reader in READERS}
            base = rows["pyfastx"]["wall"]
            where = f"{label}-{'pipe' if via_pipe else 'file'}"
            for reader, r in rows.items():
                if r["n"] != args.reads:
                    raise SystemExit(f"{reader} counted {r['n']} records in {where}, expected {args.reads}")
                print(
                    f"  {where:<11} {reader:<15} {r['n'] / r['wall']:>11,.0f} {r['wall']:>7.2f} "
                    f"{r['cpu']:>6.2f} {base / r['wall']:>9.2f}x"
                )


if __name__ == "__main__":
    main()
