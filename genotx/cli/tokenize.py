"""Tokenize reads (char, k-mer, BPE, rcBPE), train BPE tokenizers, or summarise tokenizations.

Output columns: id, n_bases, n_tokens, tokens (space-separated token strings,
or integer ids with --ids). With --stats, one row per input: input, reads,
bases, tokens, bases_per_token, vocab_coverage, rc_consistent.

Examples:

\b
  genotx tokenize --kind kmer --k 6 --stride 6 < reads.fq
  genotx tokenize --tokenizer tok.json reads.fq.gz
  genotx tokenize --train genome.fa.gz --kind rcbpe --vocab 4096 -o tok.json
  genotx tokenize --tokenizer tok.json --stats reads.fq.gz
"""

from __future__ import annotations

from typing import List, Optional

import typer

from genotx.cli._common import command, inputs_argument, paths_or_stdin, require
from genotx.io import TsvWriter, iter_batches
from genotx.progress import info, progress

KIND_CHOICES = ("char", "kmer", "bpe", "rcbpe")


def _tokenizer(kind: str, k: int, stride: Optional[int], path: Optional[str]):
    from genotx.tokenizers import build_tokenizer, load_tokenizer

    if path:
        return load_tokenizer(path)
    return build_tokenizer(kind, k=k, stride=stride)


def _train(train: List[str], kind: str, vocab: int, seed: int, single_strand: bool, output: Optional[str]):
    from genotx.tokenizers import train_tokenizer

    require(output is not None, "--train needs -o/--output FILE for the tokenizer")
    require(kind in ("bpe", "rcbpe"), f"--train needs --kind bpe or rcbpe (got {kind})")
    with progress(f"training {kind}", total=vocab, unit="tokens") as bar:
        tok = train_tokenizer(kind, train, vocab_size=vocab, seed=seed, both_strands=not single_strand, progress=bar)
        bar.update(completed=vocab)
    tok.save(output)
    bases = tok.training["bases"]
    info(f"trained {kind} tokenizer: {tok.vocab_size} tokens from {bases / 1e6:.2f} Mbp -> {output}")


def _keep_freed_memory() -> None:
    """Ask glibc to keep freed memory for reuse instead of handing it back to the kernel.

    Every batch allocates and frees arrays of a few MB; by default glibc maps each
    afresh and unmaps it on free, and the page faults of touching it again took
    more time than the tokenization itself (measured: system time 0.15 s -> 0.01 s
    on 140,000 reads). Elsewhere than glibc this does nothing.
    """
    from genotx.runtime import set_malloc

    # Arrays below 64 MB come from the heap, and up to 256 MB of freed heap memory is kept.
    set_malloc(mmap_threshold=64 << 20, trim_threshold=256 << 20)


def _raw_stream(stream):
    """The binary stream under `stream` (sys.stdout.buffer), or None for a text-only stream."""
    return getattr(stream, "buffer", None)


def _write_rows(out: TsvWriter, text, fast, paths: list[str]) -> None:
    """Rows of every read. A second thread formats batch i and writes it while this one
    parses batch i + 1: the C formatter and the writes run without the GIL, so two cores
    share the work. Batches are written in input order by that one thread, and once a
    batch fails no later batch is written: its error is raised before anything of
    batch i + 1 reaches the output. A reading error comes after the rows of the
    records before it. `fast`: the C formatter or None; `text()`: the `TokenText` of
    the general path, for kinds and batches the C formatter does not take."""
    from concurrent.futures import ThreadPoolExecutor

    buffer = bytearray()  # the C formatter's rows, reused for every batch
    failed = False

    def write_batch(batch) -> None:
        nonlocal failed
        if failed:
            return
        try:
            size = fast(batch.ids, batch.seqs, buffer) if fast is not None else None
            out.start()  # header first; rows are already clean TSV (ids never hold tabs)
            raw = _raw_stream(out.stream)
            if size is not None and raw is not None:
                with memoryview(buffer) as view, view[:size] as rows:  # released: the buffer may grow
                    raw.write(rows)
                raw.flush()
                return
            block = buffer[:size].decode("ascii") if size is not None else _rows_block(text(), batch)
            if raw is None:
                out.stream.write(block)
            else:
                raw.write(block.encode("utf-8"))
                raw.flush()
        except BaseException:
            failed = True
            raise

    pending = None
    with ThreadPoolExecutor(max_workers=1) as pool:
        try:
            for batch in iter_batches(paths, quals=False):  # rows never show qualities
                if len(batch):
                    job = pool.submit(write_batch, batch)
                    if pending is not None:
                        pending.result()
                    pending = job
        finally:  # also on a reading error: the batches before the bad record are written
            if pending is not None:
                pending.result()


def _rows_block(text, batch) -> str:
    rows, counts = text.encode_rows(batch.seqs)
    lengths = list(map(len, batch.seqs))
    n_tokens = counts.tolist()
    if lengths.count(lengths[0]) == len(lengths) and n_tokens.count(n_tokens[0]) == len(n_tokens):
        middle = f"\t{lengths[0]}\t{n_tokens[0]}\t"  # reads of one length: the middle columns are shared
        lines = map(middle.join, zip(batch.ids, rows))
    else:
        lines = map("\t".join, zip(batch.ids, map(str, lengths), map(str, n_tokens), rows))
    return "\n".join(lines) + "\n"


def _stats(tok, paths: list[str]):
    import numpy as np

    with TsvWriter(["input", "reads", "bases", "tokens", "bases_per_token", "vocab_coverage", "rc_consistent"]) as out:
        for path in paths:
            reads = bases = tokens = consistent = 0
            used = np.zeros(tok.vocab_size, dtype=bool)
            for batch in iter_batches([path], quals=False):
                encoded = tok.encode_batch(batch.seqs)
                reads += len(batch)
                bases += sum(map(len, batch.seqs))
                tokens += sum(map(len, encoded))
                if encoded:
                    used[np.concatenate(encoded)] = True
                consistent += int(tok.rc_consistent(batch.seqs).sum())
            coverage = used[5:].sum() / (tok.vocab_size - 5)
            name = "-" if path == "-" else path
            out.write_rows([(name, reads, bases, tokens, bases / tokens if tokens else None, coverage,
                             consistent / reads if reads else None)])


@command
def run(
    inputs: Optional[List[str]] = inputs_argument(),
    kind: str = typer.Option("kmer", "--kind", help="Tokenizer kind: char, kmer, bpe, rcbpe (bpe/rcbpe: with --train)."),
    k: int = typer.Option(6, "--k", help="k-mer length, 1-8."),
    stride: Optional[int] = typer.Option(None, "--stride", help="k-mer step, 1..k (default k: non-overlapping)."),
    tokenizer: Optional[str] = typer.Option(None, "--tokenizer", help="Tokenizer JSON file (overrides --kind)."),
    ids: bool = typer.Option(False, "--ids", help="Write integer token ids instead of token strings."),
    stats: bool = typer.Option(False, "--stats", help="One summary row per input instead of one row per read."),
    train: Optional[List[str]] = typer.Option(None, "--train", help="Train a bpe/rcbpe tokenizer on this FASTA (repeatable)."),
    vocab: int = typer.Option(4096, "--vocab", help="Vocabulary size to train, specials included."),
    seed: int = typer.Option(0, "--seed", help="Training seed."),
    single_strand: bool = typer.Option(False, "--single-strand", help="bpe: train on the given strand only."),
    output: Optional[str] = typer.Option(None, "-o", "--output", help="Write the tokenizer JSON here."),
    force: bool = typer.Option(False, "--force", help="Replace -o FILE if it is a genotx tokenizer (nothing else)."),
) -> None:
    require(kind in KIND_CHOICES, f"--kind must be one of {', '.join(KIND_CHOICES)}, got {kind!r}")
    if output:
        from genotx.io.outputs import TOKENIZER, check_output

        check_output(output, TOKENIZER, force=force)  # before training: other files are never replaced
    if train:
        require(not inputs and not tokenizer and not stats, "--train takes no inputs, --tokenizer or --stats")
        _train(list(train), kind, vocab, seed, single_strand, output)
        return
    fast = None
    if not tokenizer and not output and not stats and kind in ("char", "kmer"):
        from genotx.tokenizers.layout import fast_rows, kmer_layout

        # checked as build_tokenizer checks it, but without numpy: rows start sooner
        fast = fast_rows(kmer_layout(kind, k, stride), ids)
    tok = _tokenizer(kind, k, stride, tokenizer) if fast is None else None
    if output:
        require(not inputs and not stats, "-o without --train saves the tokenizer and reads no input")
        tok.save(output)
        return
    paths = paths_or_stdin(inputs)
    if stats:
        _stats(tok, paths)
        return
    if fast is None:  # a char or k-mer tokenizer from --tokenizer FILE takes the C formatter too
        from genotx.tokenizers.layout import fast_rows

        fast = fast_rows(tok, ids)
    _keep_freed_memory()
    with TsvWriter(["id", "n_bases", "n_tokens", "tokens"]) as out:
        _write_rows(out, _TextOnFirstUse(tok, kind, k, stride, ids), fast, paths)


class _TextOnFirstUse:
    """The general path's `TokenText`, made when a batch first needs it (with the fast
    path, never: it needs numpy and the tokenizer's vocabulary)."""

    def __init__(self, tok, kind: str, k: int, stride: Optional[int], ids: bool):
        self.tok, self.kind, self.k, self.stride, self.ids = tok, kind, k, stride, ids
        self.text = None

    def __call__(self):
        if self.text is None:
            from genotx.tokenizers.text import TokenText

            tok = self.tok or _tokenizer(self.kind, self.k, self.stride, None)
            self.text = TokenText(tok, self.ids)
        return self.text
