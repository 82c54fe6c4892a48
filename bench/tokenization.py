"""Tokenizer benchmark: encode throughput, `genotx tokenize` vs the bare reader,
training time, and bpe vs rcbpe compression.

    python bench/tokenization.py            # ~3-5 minutes on 2 cores: 1 Mbp slices
    python bench/tokenization.py --full     # whole genomes for training and compression

Targets (docs/tokenizers.md): char/kmer >= 50 Mbp/s, bpe/rcbpe >= 5 Mbp/s,
`genotx tokenize` >= 0.7x the bare reader's reads/s, training on 5 Mbp <= 60 s.
The end-to-end table runs `genotx tokenize` and the bare reader as new processes on the
same 1 M reads (a file, then the same file through a pipe), start-up included, and
"steady", each side's start-up on empty input left out.
"""

from __future__ import annotations

import os
import sys

# This file is named like the standard library's `tokenize`, which `inspect` imports:
# keep its folder off the import path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import argparse  # noqa: E402
import gzip  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from genotx.io import iter_records  # noqa: E402
from genotx.tokenizers import build_tokenizer, train_tokenizer  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "genomes"
GENOMES = {
    "E. coli": SHARED / "escherichia_coli-MG1655.fa.gz",
    "S. aureus": SHARED / "staphylococcus_aureus-N315.fa.gz",
}
FALLBACK = {"E. coli": ROOT / "tests/data/tok_ecoli.fa.gz", "S. aureus": ROOT / "tests/data/tok_saureus.fa.gz"}


def genome(name: str) -> str:
    path = GENOMES[name] if GENOMES[name].exists() else FALLBACK[name]
    return "".join(r.seq for r in iter_records([str(path)]))


def write_fasta(path: str, seqs: dict[str, str]) -> None:
    with gzip.open(path, "wt", compresslevel=1) as fh:
        for name, seq in seqs.items():
            fh.write(f">{name}\n")
            fh.writelines(seq[i : i + 80] + "\n" for i in range(0, len(seq), 80))


def best_time(func, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def encode_throughput(tokenizers: dict, seq: str) -> None:
    reads = [seq[i : i + 150] for i in range(0, len(seq) - 150, 150)]
    windows = [seq[i : i + 10_000] for i in range(0, len(seq) - 10_000, 10_000)]
    print(f"\n## Encode throughput (Mbp/s, encode_batch of 4096 reads / 64 windows, {len(seq) / 1e6:.1f} Mbp)")
    print("| kind | 150 bp reads | 10 kb windows | target |")
    print("|---|---:|---:|---:|")
    for name, tok in tokenizers.items():
        speeds = []
        for seqs, size in ((reads, 4096), (windows, 64)):
            bases = sum(map(len, seqs))
            seconds = best_time(lambda: [tok.encode_batch(seqs[i : i + size]) for i in range(0, len(seqs), size)], 2)
            speeds.append(bases / seconds / 1e6)
        target = 5 if tok.kind in ("bpe", "rcbpe") else 50
        print(f"| {name} | {speeds[0]:.1f} | {speeds[1]:.1f} | {target} |")


BARE_READER = "import sys; from genotx.io import iter_batches; sum(len(b) for b in iter_batches(sys.argv[1:] or ['-']))"
# What tokenize reads with: qualities checked as strictly, but not kept (no str per read).
BARE_READER_NO_QUALS = BARE_READER.replace("or ['-'])", "or ['-'], quals=False)")


def run_process(command: list[str], path: str, pipe: bool) -> float:
    """Seconds of one run of `command` on `path` (appended as its input), or fed to its
    stdin by `cat` through a pipe; output to /dev/null."""
    start = time.perf_counter()
    if pipe:
        cat = subprocess.Popen(["cat", path], stdout=subprocess.PIPE)
        subprocess.run(command, stdin=cat.stdout, stdout=subprocess.DEVNULL, check=True)
        cat.stdout.close()
        cat.wait()
    else:
        subprocess.run([*command, path], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def write_reads(path: str, seq: str, count: int) -> None:
    """`count` reads of 150 bp from `seq` as FASTQ, starting every 3 bases (every 150
    bases of many shifted tilings), so that the file is much larger than any cache."""
    with open(path, "w") as fh:
        written = shift = 0
        while written < count:
            for start in range(shift, len(seq) - 150, 150):
                fh.write(f"@r{written}\n{seq[start : start + 150]}\n+\n{'I' * 150}\n")
                written += 1
                if written == count:
                    break
            shift += 3


def end_to_end(seq: str, folder: str, tokenizer_files: dict[str, str], reads: int, repeats: int) -> None:
    """`genotx tokenize` against the bare reader (`genotx.io.iter_batches`, counting
    records), both as new processes on the same input, as a user runs them: a FASTQ file
    named on the command line, and the same file through a pipe; output to /dev/null;
    best of `repeats`. "steady" leaves out each side's start-up, measured on empty input."""
    path = os.path.join(folder, "reads.fq")
    write_reads(path, seq, reads)
    bpe_reads = min(reads, 50_000)  # bpe/rcbpe run at a few Mbp/s: a smaller file keeps the bench short
    bpe_path = os.path.join(folder, "reads_bpe.fq")
    write_reads(bpe_path, seq, bpe_reads)
    bare = [sys.executable, "-c", BARE_READER]
    tokenize = [sys.executable, "-m", "genotx", "tokenize"]
    empty = os.devnull

    def best(command, on, pipe):
        return min(run_process(command, on, pipe) for _ in range(repeats))

    start_bare = best(bare, empty, False)
    print(f"\n## `genotx tokenize` end to end ({reads:,} reads of 150 bp; bpe/rcbpe: {bpe_reads:,}; "
          f"output to /dev/null; best of {repeats})")
    print(f"Both sides are new processes. Start-up (on empty input): bare reader {start_bare:.3f} s; each "
          "command's in its row. Target: 0.7x the bare reader. tokenize reads with quals=False (qualities "
          "checked, not kept); that reader alone is shown too.")
    print("| command | start-up s | file reads/s | file vs bare | pipe reads/s | pipe vs bare | steady (file) vs bare |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    baselines = {}
    for on, count in ((path, reads), (bpe_path, bpe_reads)):
        baselines[on] = (best(bare, on, False), best(bare, on, True))
    file_s, pipe_s = baselines[path]
    print(f"| bare reader | {start_bare:.3f} | {reads / file_s:,.0f} | 1.00 | {reads / pipe_s:,.0f} | 1.00 | 1.00 |")
    lean = [sys.executable, "-c", BARE_READER_NO_QUALS]
    lean_file, lean_pipe = best(lean, path, False), best(lean, path, True)
    print(f"| bare reader, quals=False | {start_bare:.3f} | {reads / lean_file:,.0f} | {file_s / lean_file:.2f} | "
          f"{reads / lean_pipe:,.0f} | {pipe_s / lean_pipe:.2f} | {(file_s - start_bare) / (lean_file - start_bare):.2f} |")
    commands = [["--kind", "kmer"], ["--kind", "kmer", "--stride", "1"], ["--kind", "char"],
                ["--kind", "kmer", "--ids"], ["--kind", "char", "--ids"], ["--kind", "kmer", "--stride", "1", "--ids"]]
    commands += [["--tokenizer", name] for name in tokenizer_files]
    for args in commands:
        shown = " ".join(args)
        on, count = (bpe_path, bpe_reads) if args[0] == "--tokenizer" else (path, reads)
        bare_file, bare_pipe = baselines[on]
        command = [*tokenize, *[tokenizer_files.get(a, a) for a in args]]
        start = best(command, empty, False)
        seconds_file, seconds_pipe = best(command, on, False), best(command, on, True)
        steady = (bare_file - start_bare) / max(seconds_file - start, 1e-9)
        print(f"| genotx tokenize {shown} | {start:.3f} | {count / seconds_file:,.0f} | {bare_file / seconds_file:.2f} | "
              f"{count / seconds_pipe:,.0f} | {bare_pipe / seconds_pipe:.2f} | {steady:.2f} |")
    print("bpe/rcbpe rows are bound by encoding (their encode target is 5 Mbp/s, about 33,000 reads/s of "
          "150 bp), while the reader parses several hundred Mbp/s: 0.7x the reader would need encoding 100x "
          "faster than that target. Their ratio is reported, not a target.")


def training_time(seq: str, folder: str) -> None:
    from tokenizers import Tokenizer, models, trainers

    from genotx.tokenizers.bpe import training_words

    path = os.path.join(folder, "train.fa.gz")
    write_fasta(path, {"train": seq})
    print(f"\n## Training time ({len(seq) / 1e6:.1f} Mbp, vocabulary 4096)")
    print("| trainer | seconds | vs library |")
    print("|---|---:|---:|")

    def library():
        words = list(training_words([path], 0, True, {}))
        trainer = trainers.BpeTrainer(vocab_size=4096 - 6, show_progress=False, initial_alphabet=list("ACGT"))
        Tokenizer(models.BPE()).train_from_iterator(words, trainer)

    base = best_time(library, 1)
    print(f"| tokenizers library alone (words prepared) | {base:.1f} | 1.00 |")
    for kind in ("bpe", "rcbpe"):
        seconds = best_time(lambda: train_tokenizer(kind, [path], vocab_size=4096), 1)
        print(f"| train_tokenizer('{kind}') | {seconds:.1f} | {seconds / base:.2f} |")


def compression(genomes: dict[str, str], folder: str, sizes=(1024, 4096, 16384)) -> None:
    print("\n## Compression (bases per token on the training genome)")
    print("| genome | Mbp | vocab | bpe | rcbpe | rcbpe / bpe | rcbpe train s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, seq in genomes.items():
        path = os.path.join(folder, "genome.fa.gz")
        write_fasta(path, {name.replace(" ", "_"): seq})
        for vocab in sizes:
            bpe = train_tokenizer("bpe", [path], vocab_size=vocab)
            start = time.perf_counter()
            rcbpe = train_tokenizer("rcbpe", [path], vocab_size=vocab)
            seconds = time.perf_counter() - start
            per_token = [len(seq) / sum(map(len, t.encode_batch([seq[i : i + 100_000] for i in range(0, len(seq), 100_000)])))
                         for t in (bpe, rcbpe)]
            print(f"| {name} | {len(seq) / 1e6:.2f} | {vocab} | {per_token[0]:.3f} | {per_token[1]:.3f} | "
                  f"{per_token[1] / per_token[0]:.3f} | {seconds:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="whole genomes for training and compression, 2 M reads")
    parser.add_argument("--reads", type=int, default=None, help="reads in the end-to-end file (default 2 M, 4 M with --full)")
    parser.add_argument("--repeats", type=int, default=5, help="end to end: best of this many runs (runs of a few tenths of a second on a shared machine vary by a third)")
    args = parser.parse_args()
    ecoli, saureus = genome("E. coli"), genome("S. aureus")
    size = None if args.full else 1_000_000
    with tempfile.TemporaryDirectory() as folder:
        train_path = os.path.join(folder, "ecoli.fa.gz")
        write_fasta(train_path, {"ecoli": ecoli[: size or len(ecoli)]})
        tokenizers = {
            "char": build_tokenizer("char"),
            "kmer k=6 stride=1": build_tokenizer("kmer", k=6, stride=1),
            "kmer k=6 stride=6": build_tokenizer("kmer", k=6, stride=6),
            "bpe 4096": train_tokenizer("bpe", [train_path], vocab_size=4096),
            "rcbpe 4096": train_tokenizer("rcbpe", [train_path], vocab_size=4096),
        }
        test = saureus[:2_000_000]
        print("# bench/tokenization.py (bpe/rcbpe trained on E. coli, encoding S. aureus)")
        encode_throughput(tokenizers, test)
        tokenizer_files = {}  # name shown in the table -> saved file
        for kind in ("bpe", "rcbpe"):
            tokenizer_files[f"{kind}4096.json"] = os.path.join(folder, f"{kind}4096.json")
            tokenizers[f"{kind} 4096"].save(tokenizer_files[f"{kind}4096.json"])
        reads = args.reads or (4_000_000 if args.full else 2_000_000)
        end_to_end(saureus, folder, tokenizer_files, reads, args.repeats)
        training_time((ecoli + saureus)[:5_000_000] if args.full else ecoli[:1_000_000], folder)
        compression({"E. coli": ecoli[: size or len(ecoli)], "S. aureus": saureus[: size or len(saureus)]}, folder)


if __name__ == "__main__":
    main()
