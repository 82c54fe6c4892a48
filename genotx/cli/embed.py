"""One embedding vector per record from a genotx or Hugging Face model; TSV id e0 ... e{d-1}.

The vector is the mean (--pooling mean, default), the maximum (max) or the
first special token (cls) of one layer's hidden states (--layer, default -1:
the last; 0: the embeddings), over the record's own tokens: special tokens and
padding never enter it. A record longer than the model reads at once is cut
into windows of --window bases every --stride bases (the last one ends at the
record's end, so every base is read), each embedded and the windows pooled
(mean weighted by their tokens, max, or cls averaged). Windows count bases for
every model; the default is all the model reads: its tokens, plus k - 1 for
overlapping k-mers (DNABERT), six bases a token for the Nucleotide Transformer
(a window whose Ns make too many tokens is read as two halves).
--rc-average gives the mean of the sequence's and its reverse complement's
embedding.

The model (--model) is a genotx checkpoint or a Hugging Face model directory as
downloaded (config.json, model.safetensors, vocab.txt): DNABERT (BERT with a
k-mer vocabulary: the input is the overlapping k-mers) and the Nucleotide
Transformer (ESM: 6-mers, then single bases) are read directly; nothing is
converted and the hub is never contacted. --device picks CPU or CUDA (the
model and every input row on that one device); --precision auto is bf16 on
CUDA and on CPUs with native bf16, else fp32.

With -o FILE.npy or FILE.safetensors, the vectors are written as one float32 matrix
(tensor "embeddings" in safetensors) and the ids, in the same order, to
FILE.ids.tsv. Existing files are never written over, except the two files of an
earlier genotx embed -o with --force.
"""

from __future__ import annotations

from typing import List, Optional

import typer

from genotx.cli import _model_options as opt
from genotx.cli._common import command, inputs_argument, paths_or_stdin


@command
def run(
    inputs: Optional[List[str]] = inputs_argument(),
    model: str = typer.Option(..., "--model", "-m", help=opt.MODEL_HELP),
    layer: int = typer.Option(-1, "--layer", help="Hidden layer: 0 = embeddings, 1..n, negative counts from the last."),
    pooling: str = typer.Option("mean", "--pooling", help="mean, max or cls."),
    rc_average: bool = typer.Option(False, "--rc-average", help="Mean of the sequence's and its reverse complement's embedding."),
    window: Optional[int] = typer.Option(None, "--window", min=1,
                                         help="Bases per window of a long record (default: all the model reads)."),
    stride: Optional[int] = typer.Option(None, "--stride", min=1, help="Bases between window starts (default: window/2)."),
    output: Optional[str] = typer.Option(None, "-o", "--output", help="FILE.npy or FILE.safetensors (+ FILE.ids.tsv) instead of TSV."),
    force: bool = typer.Option(False, "--force", help="Replace the -o files of an earlier genotx embed (nothing else)."),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="Windows per forward pass."),
    precision: str = opt.PRECISION,
    device: str = opt.DEVICE,
    allow_pickle: bool = opt.ALLOW_PICKLE,
    trust_remote_code: bool = opt.TRUST_REMOTE_CODE,
) -> None:
    from genotx.inference.embed import EmbedOptions, embed_sequences
    from genotx.io import iter_batches
    from genotx.models.adapter import load_adapter

    options = EmbedOptions(layer=layer, pooling=pooling, rc_average=rc_average, window=window, stride=stride,
                           batch_size=batch_size)
    if output is not None:  # before the model loads: a refusal should not wait for it
        from genotx.io.matrix import check_matrix_path

        replace = check_matrix_path(output, force=force)
    paths = paths_or_stdin(inputs)
    adapter = load_adapter(model, **opt.load_options(precision, device, allow_pickle, trust_remote_code))
    adapter.layer_index(layer)
    if output is None:
        from genotx.io import TsvWriter

        writer = TsvWriter(["id"] + [f"e{i}" for i in range(adapter.d_model)])
        write = (lambda ids, vectors: writer.write_rows([(i, *map(float, v)) for i, v in zip(ids, vectors)]))
    else:
        from genotx.io.matrix import MatrixWriter

        writer = MatrixWriter(output, adapter.d_model, replace=replace)
        write = writer.write
    with writer:
        for batch in iter_batches(paths, quals=False):
            write(batch.ids, embed_sequences(adapter, batch.seqs, options, ids=batch.ids))
