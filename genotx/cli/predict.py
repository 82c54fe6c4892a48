"""Predict with a fine-tuned model: taxon of reads, regulatory class, expression value, variant effect.

taxon: read_id taxon taxid prob runner_up runner_up_prob prob_none (prob <
--min-prob: `unclassified`, taxid 0, the best guess in runner_up). prob_none is
the probability of "none of these species", the k-mer memory's background
hypothesis: a read of an organism outside the training set puts most of its
mass there, so every species gets a prob near 0 (NA with --no-memory). regulatory: id label
prob. expression: id value. variant: id chrom pos ref alt score (input is a
variant TSV or a VCF, plain or bgzip; a pretrained model, genotx or Hugging
Face, gives the zero-shot log-likelihood ratio alt vs ref, below 0 when the
model prefers ref: the masked marginal for substitutions, the difference of
the windows' (pseudo) log likelihoods for indels; a model from `finetune --task variant` gives the
probability of the positive label). regulatory and expression also take a
Hugging Face classifier directory as --model (from `genotx finetune --from
HF_DIR`, or any *ForSequenceClassification directory), run on --device and
read in overlapping windows where a sequence is longer than the model reads.

VCF: --reference is needed; multi-allelic records give one row per ALT. In a VCF
and in a TSV alike, a REF that differs from the reference (or a chromosome it
lacks) warns, naming the record, and scores NA (--strict: exit 2);
--output-vcf writes the input VCF back to stdout with the scores in the INFO
field --info-field (one value per ALT, declared in the header).

A taxon model with a k-mer memory of its training genomes (docs/taxon.md)
combines the memory's evidence with the network's output, with the weights in
its config.json; --no-memory uses the network alone. The shipped model's
network weight is 0: its calls are the k-mer memory's alone, and the network
is never loaded. Where the network takes part it runs only on the reads the
memory leaves unsure (kmer_memory.cascade in config.json: a read whose
memory-alone top probability is above it skips the network; 1, the default,
runs it on every read). A note on stderr (not with -q) says which parts made
the calls and, at the end, what share of reads went through the network.
Reads are worked on by --threads threads; the output is the same for any count.

Scaling out: reads are independent, so several processes can share them.
--shard I/N makes this process predict batches I, I+N, I+2N, ... of the input
files (batches of 4096 records, counted over all files), for the N tasks of a
cluster array job; the N outputs together hold every read once. On one machine,
GNU parallel splits stdin among processes (docs/parallel.md):

\b
  parallel --pipe -L 4 --block 50M --keep-order genotx -t 1 predict < reads.fq
"""

from __future__ import annotations

from typing import List, Optional

import typer

from genotx.cli import _model_options as opt
from genotx.cli._common import command, inputs_argument, parse_shard, paths_or_stdin, require


@command
def run(
    inputs: Optional[List[str]] = inputs_argument(),
    task: str = typer.Option("taxon", "--task", help="taxon, regulatory, expression or variant."),
    model: Optional[str] = typer.Option(None, "--model", help="Model directory, genotx or Hugging Face (default: the shipped model of the task)."),
    batch_size: int = typer.Option(256, "--batch-size", min=1, help="Sequences per forward pass."),
    precision: str = typer.Option("auto", "--precision",
                                  help="auto (bf16 where the CPU has native bf16, else fp32), fp32, bf16 or int8."),
    min_prob: float = typer.Option(0.5, "--min-prob", min=0.0, max=1.0,
                                   help="taxon: below this probability a read is unclassified."),
    all_probs: bool = typer.Option(False, "--all-probs", help="regulatory: one probability column per class."),
    memory: bool = typer.Option(True, "--memory/--no-memory",
                                help="taxon: use the model's k-mer memory (default) or the network alone."),
    reference: Optional[str] = typer.Option(None, "--reference", help="variant: reference FASTA for chrom/pos/ref/alt."),
    window: int = typer.Option(128, "--window", min=8,
                               help="variant: context bases around the variant (zero-shot; a classifier keeps its own)."),
    shard: Optional[str] = typer.Option(None, "--shard", metavar="I/N",
                                        help="Predict only batches I, I+N, I+2N, ... of the input files (1 <= I <= N)."),
    strict: bool = typer.Option(False, "--strict", help="variant: a REF (VCF or TSV) that differs from --reference is an error (exit 2), not NA."),
    output_vcf: bool = typer.Option(False, "--output-vcf", help="variant: write the input VCF back, scores in an INFO field."),
    info_field: str = typer.Option("GENOTX_SCORE", "--info-field", help="variant: name of that INFO field."),
    device: str = typer.Option("auto", "--device", help="Hugging Face models and variant scoring: auto (CUDA when "
                               "there is one), cpu or cuda[:N]; genotx classifiers run on the CPU."),
    allow_pickle: bool = opt.ALLOW_PICKLE,
    trust_remote_code: bool = opt.TRUST_REMOTE_CODE,
) -> None:
    from genotx.io import TsvWriter, iter_batches
    from genotx.runtime import import_torch

    from genotx.tasks import TASKS

    require(task in TASKS, f"unknown task {task!r}; choose {', '.join(TASKS[:-1])} or {TASKS[-1]}")
    paths = paths_or_stdin(inputs)
    shard_of = parse_shard(shard, paths)
    require(shard_of is None or task != "variant", "--shard takes reads (taxon, regulatory, expression), not variants")
    if task != "taxon":  # a taxon model imports torch only if its network runs (start-up: 2 s with torch, 0.3 without)
        import_torch()
    if task == "variant":
        from genotx.inference.variant_effect import score_variant_files

        require(model is not None, "variant scoring needs --model DIR (an MLM or AR checkpoint, a Hugging Face "
                                   "model directory, or a variant classifier)")
        require(precision != "int8", "variant scoring runs in auto, fp32 or bf16 precision")
        score_variant_files(model, paths, reference=reference, window=window, batch_size=batch_size,
                            strict=strict, output_vcf=output_vcf, info_field=info_field,
                            **opt.load_options(precision, device, allow_pickle, trust_remote_code))
        return
    if model is not None:
        _refuse_pretraining_run(model, task)
    from genotx.inference.predict import Predictor
    from genotx.shipped import default_model

    predictor = Predictor.load(model or default_model(task), task, batch_size=batch_size, min_prob=min_prob,
                               all_probs=all_probs, precision=precision, use_memory=memory, device=device,
                               load_options={"allow_pickle": allow_pickle, "trust_remote_code": trust_remote_code})
    from genotx.inference.pipeline import ordered_map
    from genotx.progress import info

    if predictor.classifier is not None:
        info(f"taxon calls by {predictor.classifier.parts()}")

    batches = iter_batches(paths, quals=False, shard=shard_of)
    with TsvWriter(predictor.columns) as out:
        for text in ordered_map(predictor.lines, batches, workers=predictor.workers):
            out.write_text(text)
    classifier = predictor.classifier
    if classifier is not None and classifier.network is not None and classifier.index is not None:
        share = classifier.network_reads / max(classifier.reads, 1)
        info(f"the network ran on {classifier.network_reads} of {classifier.reads} reads ({share:.1%}); "
             "the k-mer memory was conclusive on the others")


def _refuse_pretraining_run(model: str, task: str) -> None:
    """A pretraining run directory (run.json, the model in model/) is not a fine-tuned model: say what takes it."""
    import os

    from genotx.errors import InputError

    if os.path.isfile(os.path.join(model, "run.json")) and not os.path.isfile(os.path.join(model, "config.json")):
        raise InputError(
            f"{model}: a pretraining run (genotx pretrain), not a fine-tuned model; predict --task {task} needs the "
            "directory written by genotx finetune -o. A pretraining run is taken by genotx finetune --from, "
            "genotx predict --task variant --model (zero-shot scores) and, for --objective ar, genotx generate --model"
        )
