"""Tokenize reads (char, k-mer, BPE, rcBPE), train BPE tokenizers, or summarise tokenizations.

Output columns: id, n_bases, n_tokens, tokens (space-separated token strings,
or integer ids with --ids). With --stats, one row per input: input, reads,
bases, tokens, bases_per_token, vocab_coverage, rc_consistent.

  genotx tokenize --kind kmer --k 6 --stride 6 < reads.fq
  genotx tokenize --tokenizer tok.json reads.fq.gz
  genotx tokenize --train genome.fa.gz --kind rcbpe --vocab 4096 -o tok.json
  genotx tokenize --tokenizer tok.json --stats reads.fq.gz
"""

from __future__ import annotations

from typing import List, Optional

import numpy as np
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


class _TokenText:
    """Writes the tokens column of a whole batch with array operations, not per token.

    Every token's text (its string, or its id with --ids) sits in one byte buffer;
    the column is gathered from it with a space after each token and a newline
    after each read's last token, then split into one string per read.
    """

    def __init__(self, tok, as_ids: bool):
        texts = [str(i) for i in range(tok.vocab_size)] if as_ids else tok.vocab
        self.length = np.array([len(t) for t in texts], dtype=np.int64)
        self.start = np.cumsum(self.length) - self.length
        self.buffer = np.frombuffer(("".join(texts) + " ").encode("ascii"), dtype=np.uint8)

    def column(self, ids: np.ndarray, counts: np.ndarray) -> list[str]:
        if not ids.size:
            return [""] * len(counts)
        width = self.length[ids] + 1
        out_start = np.cumsum(width) - width
        source = np.repeat(self.start[ids] - out_start, width) + np.arange(int(width.sum()))
        out = self.buffer[source]
        ends = out_start + width - 1
        out[ends] = ord(" ")
        out[ends[np.cumsum(counts[counts > 0]) - 1]] = ord("\n")
        texts = out.tobytes().decode("ascii").split("\n")[:-1]
        if (counts == 0).any():  # only an empty sequence has no token
            it = iter(texts)
            texts = [next(it) if c else "" for c in counts.tolist()]
        return texts


def _write_batch(out: TsvWriter, text: _TokenText, tok, batch) -> None:
    ids, counts = tok.encode_flat(batch.seqs)
    lengths = map(str, map(len, batch.seqs))
    lines = map("\t".join, zip(batch.ids, lengths, map(str, counts.tolist()), text.column(ids, counts)))
    out.start()  # header first; rows are already clean TSV (ids never hold tabs)
    out.stream.write("\n".join(lines) + "\n")
    out.stream.flush()


def _stats(tok, paths: list[str]):
    with TsvWriter(["input", "reads", "bases", "tokens", "bases_per_token", "vocab_coverage", "rc_consistent"]) as out:
        for path in paths:
            reads = bases = tokens = consistent = 0
            used = np.zeros(tok.vocab_size, dtype=bool)
            for batch in iter_batches([path]):
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
) -> None:
    require(kind in KIND_CHOICES, f"--kind must be one of {', '.join(KIND_CHOICES)}, got {kind!r}")
    if train:
        require(not inputs and not tokenizer and not stats, "--train takes no inputs, --tokenizer or --stats")
        _train(list(train), kind, vocab, seed, single_strand, output)
        return
    tok = _tokenizer(kind, k, stride, tokenizer)
    if output:
        require(not inputs and not stats, "-o without --train saves the tokenizer and reads no input")
        tok.save(output)
        return
    paths = paths_or_stdin(inputs)
    if stats:
        _stats(tok, paths)
        return
    text = _TokenText(tok, ids)
    with TsvWriter(["id", "n_bases", "n_tokens", "tokens"]) as out:
        for batch in iter_batches(paths):
            if len(batch):
                _write_batch(out, text, tok, batch)
