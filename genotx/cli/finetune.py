"""Fine-tune a classifier or regressor for a task and save a model predict can load.

Tasks: taxon (genome FASTA + --taxa TSV; reads simulated on the fly),
regulatory (TSV `sequence label` or --class NAME=file.fa), expression
(TSV `sequence value`), variant (TSV `sequence pos alt label`, or `chrom pos
ref alt label` with --reference; a classifier of (ref, alt) window pairs).
Metrics go to DIR/metrics.json and a table on stderr.

regulatory: flags left unset are chosen from the data (docs/finetune.md):
single-base tokens with a convolutional stem for sequences up to 1 kb, epochs
with early stopping on validation loss, and both strands (--rc-aug,
--strand-average) when the classes look strand-symmetric.

--from also takes a Hugging Face model directory (DNABERT, Nucleotide
Transformer: config.json + model.safetensors) for regulatory and expression:
its encoder gets transformers' own sequence classification head and is trained
whole (default --lr 5e-5), on --device. -o DIR is then a Hugging Face
classifier directory plus genotx.json (task, classes, training record), which
predict, ism --class, embed and motifs read (docs/finetune.md).
"""

from __future__ import annotations

from typing import List, Optional

import typer

from genotx.cli._common import command, require


def _lengths(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    require(bool(values) and min(values) >= 20, f"--read-lengths {text!r}: expected lengths >= 20 like 150 or 150,250")
    return values


@command
def run(
    inputs: Optional[List[str]] = typer.Argument(None, help="Training data: genome FASTA files (taxon) or one TSV.",
                                                show_default=False),
    task: str = typer.Option(..., "--task", help="taxon, regulatory, expression or variant."),
    output: str = typer.Option(..., "-o", "--output", help="Directory of the fine-tuned model."),
    pretrained: Optional[str] = typer.Option(None, "--from", help="Pretraining run or checkpoint directory, or a "
                                             "Hugging Face model directory (regulatory, expression)."),
    preset: Optional[str] = typer.Option(None, "--preset", help="Preset of a fresh model (default: TASK-tiny)."),
    tokenizer: Optional[str] = typer.Option(None, "--tokenizer", help="Tokenizer of a fresh model: char, kmer6, kmer6:6, bpe:N, FILE."),
    pe: Optional[str] = typer.Option(None, "--pe", show_default=False,
                                     help="regulatory, fresh model: position encoding (rope, alibi, sinusoidal, learned; "
                                     "default from the data: learned for anchored windows, else rope)."),
    valid: Optional[str] = typer.Option(None, "--valid", help="Validation TSV (default: hold out --valid-fraction)."),
    valid_fraction: float = typer.Option(0.1, "--valid-fraction", min=0.01, max=0.5),
    class_files: Optional[List[str]] = typer.Option(None, "--class", help="NAME=file.fa, one per class (regulatory)."),
    taxa: Optional[str] = typer.Option(None, "--taxa", help="TSV mapping genome files to species (taxon)."),
    read_lengths: str = typer.Option("150", "--read-lengths", help="Simulated read lengths (taxon), e.g. 150,250."),
    error_rate: str = typer.Option("0-0.03", "--error-rate", help="Per-read error rate or range (taxon)."),
    reference: Optional[str] = typer.Option(None, "--reference", help="variant: reference FASTA for chrom/pos/ref/alt."),
    window: int = typer.Option(128, "--window", min=8, help="variant: context bases around the variant."),
    steps: Optional[int] = typer.Option(None, "--steps", min=0, show_default=False,
                                        help="Training steps (default 1000; regulatory: up to 30 epochs, see docs/finetune.md); "
                                        "0 keeps the weights of --from (a model of the same task)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, show_default=False,
                                             help="Sequences per step (default 64; regulatory 32)."),
    lr: Optional[float] = typer.Option(None, "--lr", show_default=False, help="Peak learning rate (default 1e-3)."),
    eval_every: Optional[int] = typer.Option(None, "--eval-every", min=1, show_default=False,
                                             help="Steps between evaluations (default 100; regulatory: one epoch)."),
    patience: Optional[int] = typer.Option(None, "--patience", min=1, show_default=False,
                                           help="Evaluations without improvement before stopping (default 5)."),
    pooling: str = typer.Option("auto", "--pooling", help="cls, mean, max or auto (cls, or mean for causal backbones; "
                                "regulatory: cls for anchored windows, else max, and max for sets under 300 sequences; docs/finetune.md)."),
    conv_stem: Optional[int] = typer.Option(None, "--conv-stem", min=0, show_default=False,
                                            help="Fresh model: width of a convolution over the embeddings before the "
                                            "attention layers, 0 for none (regulatory default: 9 with single-base tokens)."),
    rc_aug: Optional[bool] = typer.Option(None, "--rc-aug/--no-rc-aug", show_default=False,
                                          help="Train on a random strand of each sequence (regulatory default: when "
                                          "the classes look strand-symmetric)."),
    strand_average: Optional[bool] = typer.Option(None, "--strand-average/--no-strand-average", show_default=False,
                                                  help="Predictions average both strands; needs single-base tokens "
                                                  "(regulatory default: with --rc-aug)."),
    layer_scale: Optional[float] = typer.Option(
        None, "--layer-scale", min=0.0, show_default=False,
        help="Regulatory fresh model: initial gain of every block's residual branches (LayerScale), 0 for none "
        "(default 1e-4 with max pooling, so the model starts as its embeddings and conv stem, without which no "
        "planted motif in 500 bp was learned; 0 with CLS pooling, where it cost splice sites 0.970 -> 0.940; "
        "docs/finetune.md)."),
    adapt_steps: int = typer.Option(0, "--adapt-steps", min=0,
                                    help="Fresh model: masked-language-model steps on the training sequences first."),
    seed: int = typer.Option(0, "--seed"),
    kmer_memory: str = typer.Option("auto", "--kmer-memory",
                                    help="taxon: hashed k-mer memory K:BITS beside the model (auto: 13:23), or off."),
    force: bool = typer.Option(False, "--force", help="Replace -o DIR if it holds a fine-tuned model (nothing else)."),
    device: str = typer.Option("auto", "--device", help="Hugging Face --from: auto (CUDA when there is one), cpu or "
                               "cuda[:N]; genotx models train on the CPU."),
) -> None:
    from genotx.progress import info
    from genotx.taxon.simulate import ErrorModel
    from genotx.train.finetune import FinetuneConfig, finetune
    from genotx.train.taskdata import make_task_data

    from genotx.io.outputs import FINETUNED, check_output

    # before any data is read or any step trained: a refusal at the end would waste the run
    check_output(output, FINETUNED, force=force)
    require(pooling in ("auto", "mean", "cls", "max"), f"--pooling must be auto, mean, max or cls, got {pooling!r}")
    require(not (pretrained and preset), "give --from or --preset, not both")
    require(pe is None or (task == "regulatory" and not (pretrained or preset)),
            "--pe sets the positions of the regulatory recipe's fresh model (no --from, no --preset)")
    require(layer_scale is None or (task == "regulatory" and not (pretrained or preset)),
            "--layer-scale sets the blocks of the regulatory recipe's fresh model (no --from, no --preset)")
    require(pe is None or pe in ("rope", "alibi", "sinusoidal", "learned"),
            f"--pe must be rope, alibi, sinusoidal or learned, got {pe!r}")
    errors = ErrorModel.parse(error_rate)
    given = {"steps": steps, "batch_size": batch_size, "lr": lr, "eval_every": eval_every, "patience": patience,
             "conv_stem": conv_stem, "rc_aug": rc_aug, "strand_average": strand_average,
             "pooling": None if pooling == "auto" else pooling, "pe": pe, "layer_scale": layer_scale}
    # Options are checked before any data is read: a typo should not wait for genomes to load.
    cfg = FinetuneConfig(task=task, seed=seed, pooling=pooling, kmer_memory=kmer_memory, adapt_steps=adapt_steps,
                         **{k: v for k, v in given.items() if v is not None and k not in ("pooling", "pe", "layer_scale")})
    require(steps is None or steps > 0 or pretrained is not None,
            "--steps 0 (no training) needs --from a fine-tuned model of the same task")
    from genotx.models.hf_load import is_hf_dir

    hugging_face = pretrained is not None and is_hf_dir(pretrained)
    if hugging_face:
        from genotx.models.adapter import pick_device
        from genotx.train.hf_finetune import check_hf_finetune

        check_hf_finetune(task, {**given, "adapt_steps": adapt_steps}, preset=preset, tokenizer=tokenizer)
        device = pick_device(device)  # a missing CUDA is said before the data is read
    require(hugging_face or device in ("auto", "cpu"), "--device is for --from a Hugging Face model directory; "
                                                       "genotx models train on the CPU")
    data = make_task_data(task, list(inputs or []), taxa=taxa, class_files=class_files or (), valid=valid,
                          seed=seed, valid_fraction=valid_fraction, read_lengths=_lengths(read_lengths),
                          error_rate=(errors.rate_min, errors.rate_max), reference=reference, window=window)
    if task == "regulatory":
        from genotx.train.recipe import regulatory_recipe

        cfg, settings = regulatory_recipe(data, cfg, given, tokenizer=tokenizer, preset=preset,
                                          pretrained=pretrained is not None)
        if not (pretrained or preset):
            preset = settings
    if hugging_face and lr is None:
        import dataclasses

        from genotx.train.hf_finetune import DEFAULT_LR

        cfg = dataclasses.replace(cfg, lr=DEFAULT_LR)
    result = finetune(cfg, data, output, pretrained=pretrained, preset=preset, tokenizer_spec=tokenizer, device=device)
    shown = {k: v for k, v in result["validation"].items() if isinstance(v, (int, float))}
    info(f"best validation at step {result['best_step']}: " + "  ".join(f"{k} {v:.4g}" for k, v in shown.items()))
    info(f"model written to {output}")
