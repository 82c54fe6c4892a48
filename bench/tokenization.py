"""Tokenizer benchmark: encode throughput, `genotx tokenize` vs the bare reader,
training time, and bpe vs rcbpe compression.

    python bench/tokenization.py            # ~3-5 minutes on 2 cores: 1 Mbp slices
    python bench/tokenization.py --full     # whole genomes for training and compression

Targets (docs/tokenizers.md): char/kmer >= 50 Mbp/s, bpe/rcbpe >= 5 Mbp/s,
`genotx tokenize` >= 0.7x the bare reader's reads/s, training on 5 Mbp <= 60 s.
The end-to-end table gives each command's reads/s as a user sees them (a new process)
and "steady", without the process start-up measured on empty input.
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

from genotx.io import iter_batches, iter_records  # noqa: E402
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


def end_to_end(seq: str, folder: str, tokenizer_files: dict[str, str]) -> None:
    """`genotx tokenize` as a user runs it (a new process, output to /dev/null) against the
    bare reader loop in this process. A process also pays its start-up (Python, numpy,
    the command line), measured on empty input; the steady column leaves it out."""
    path = os.path.join(folder, "reads.fq")
    reads = [seq[i : i + 150] for i in range(0, len(seq) - 150, 20)]  # enough that start-up is small
    with open(path, "w") as fh:
        for i, read in enumerate(reads):
            fh.write(f"@r{i}\n{read}\n+\n{'I' * len(read)}\n")
    bare = best_time(lambda: sum(len(b) for b in iter_batches([path])), 3)
    startup = best_time(lambda: subprocess.run([sys.executable, "-m", "genotx", "tokenize", "--kind", "char"],
                                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=True), 3)
    print(f"\n## `genotx tokenize` end to end ({len(reads)} reads of 150 bp, FASTQ file, output to /dev/null)")
    print(f"Start-up of `genotx tokenize` on empty input: {startup:.2f} s. Target: 0.7x the bare reader.")
    print("| command | reads/s | vs bare reader | steady reads/s (less start-up) | steady vs bare |")
    print("|---|---:|---:|---:|---:|")
    print(f"| bare reader (iter_batches, in process) | {len(reads) / bare:,.0f} | 1.00 | | |")
    commands = [["--kind", "kmer"], ["--kind", "kmer", "--k", "6", "--stride", "1"], ["--kind", "char"],
                ["--kind", "kmer", "--ids"], ["--kind", "char", "--ids"]]
    commands += [["--tokenizer", name] for name in tokenizer_files]
    for args in commands:
        shown = " ".join(args)
        args = [tokenizer_files.get(a, a) for a in args]
        command = [sys.executable, "-m", "genotx", "tokenize", *args, path]
        seconds = best_time(lambda: subprocess.run(command, stdout=subprocess.DEVNULL, check=True), 2)
        steady = max(seconds - startup, 1e-9)
        print(f"| genotx tokenize {shown} | {len(reads) / seconds:,.0f} | {bare / seconds:.2f} | "
              f"{len(reads) / steady:,.0f} | {bare / steady:.2f} |")


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
    parser.add_argument("--full", action="store_true", help="whole genomes for training and compression")
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
        end_to_end(saureus[:3_000_000], folder, tokenizer_files)
        training_time((ecoli + saureus)[:5_000_000] if args.full else ecoli[:1_000_000], folder)
        compression({"E. coli": ecoli[: size or len(ecoli)], "S. aureus": saureus[: size or len(saureus)]}, folder)


if __name__ == "__main__":
    main()
