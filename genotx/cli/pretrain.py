"""Pretrain a DNA language model (mlm, ar, contrastive, multitask) on FASTA genomes.

Writes a run directory (-o DIR): checkpoints, metrics.tsv, the final model in
DIR/model and the run record DIR/run.json (input of `genotx scaling-fit`).
Prints one summary row (TSV) on stdout. Multi-process training:
`torchrun --nproc-per-node N -m genotx pretrain ...`.
"""

from __future__ import annotations

import json
import os
from typing import List, Optional

import typer

from genotx.cli._common import command, inputs_argument, paths_or_stdin
from genotx.errors import InputError

# CLI option name -> TrainConfig field, for options whose names differ.
_FIELD = {"layers": "n_layers", "heads": "n_heads"}


def _settings(out: str, resume: bool, preset: Optional[str], explicit: dict, inputs: Optional[List[str]]):
    """Defaults <- preset <- explicit flags; on --resume the saved settings replace defaults and preset."""
    from genotx.presets import resolve_preset
    from genotx.train.config import TrainConfig

    saved_path = os.path.join(out, "train_config.json")
    if resume and os.path.exists(saved_path):
        with open(saved_path) as f:
            saved = json.load(f)
        base = saved["config"]
        paths = list(inputs) if inputs else saved["inputs"]
    else:
        base = TrainConfig().to_dict()
        if preset:
            base.update(resolve_preset(preset))
        paths = paths_or_stdin(inputs)
    return TrainConfig.from_dict({**base, **explicit}), paths


@command
def run(
    inputs: Optional[List[str]] = inputs_argument("FASTA genomes, plain or gzip ('-' or none: stdin)."),
    out: str = typer.Option(..., "-o", "--out", help="Run directory (created)."),
    preset: Optional[str] = typer.Option(None, "--preset", help="Named preset, e.g. variant-tiny; flags override it."),
    objective: Optional[str] = typer.Option(None, "--objective", help="mlm | ar | contrastive | multitask | mlm+contrastive."),
    tokenizer: Optional[str] = typer.Option(None, "--tokenizer", help="char | kmer6 | kmer6:6 | bpe[:4096] | rcbpe[:4096] | tokenizer.json."),
    pe: Optional[str] = typer.Option(None, "--pe", help="rope | alibi | sinusoidal | learned | hierarchical."),
    mixer: Optional[str] = typer.Option(None, "--mixer", help="attention | linear | window | mamba | hybrid."),
    d_model: Optional[int] = typer.Option(None, "--d-model", help="Model width."),
    layers: Optional[int] = typer.Option(None, "--layers", help="Number of blocks."),
    heads: Optional[int] = typer.Option(None, "--heads", help="Attention heads."),
    window: Optional[int] = typer.Option(None, "--window", help="Window of the sliding-window mixer (tokens)."),
    dropout: Optional[float] = typer.Option(None, "--dropout", help="Dropout rate."),
    seq_len: Optional[int] = typer.Option(None, "--seq-len", help="Window length in bases."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Windows per step per process."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Peak AdamW learning rate."),
    weight_decay: Optional[float] = typer.Option(None, "--weight-decay", help="AdamW weight decay."),
    warmup_fraction: Optional[float] = typer.Option(None, "--warmup", help="Fraction of steps of linear warm-up."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Optimiser steps (default 1000); 0 saves the initial weights, the no-pretraining control of a transfer study."),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", help="Stop after about this many tokens."),
    bf16: Optional[bool] = typer.Option(None, "--bf16/--no-bf16", help="bfloat16 autocast."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of initialisation and data order."),
    eval_fraction: Optional[float] = typer.Option(None, "--eval-fraction", help="Held-out tail of every sequence."),
    eval_windows: Optional[int] = typer.Option(None, "--eval-windows", help="Held-out windows evaluated."),
    mask_rate: Optional[float] = typer.Option(None, "--mask-rate", help="MLM masking rate."),
    rc_aug: Optional[bool] = typer.Option(None, "--rc-aug/--no-rc-aug", help="ar: random strand per window."),
    pairs: Optional[str] = typer.Option(None, "--pairs", help="contrastive: TSV of ortholog record pairs (id_a id_b)."),
    annotations: Optional[str] = typer.Option(None, "--annotations", help="multitask: TSV seq_id start end track value."),
    mutation_rate: Optional[float] = typer.Option(None, "--mutation-rate", help="contrastive views: substitution rate."),
    temperature: Optional[float] = typer.Option(None, "--temperature", help="InfoNCE temperature."),
    aux_weight: Optional[float] = typer.Option(None, "--aux-weight", help="Weight of the contrastive/track loss beside MLM."),
    log_every: Optional[int] = typer.Option(None, "--log-every", help="Steps between metrics.tsv rows."),
    eval_every: Optional[int] = typer.Option(None, "--eval-every", help="Steps between evaluations (0: at the end)."),
    save_every: Optional[int] = typer.Option(None, "--save-every", help="Steps between checkpoints."),
    keep: Optional[int] = typer.Option(None, "--keep", help="Checkpoints kept."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in -o DIR from its latest checkpoint "
                                "(a finished run too, with a larger --max-steps or --max-tokens)."),
) -> None:
    from genotx.io import TsvWriter
    from genotx.train.loop import pretrain

    given = dict(locals())
    names = ("objective tokenizer pe mixer d_model layers heads window dropout seq_len batch_size lr weight_decay "
             "warmup_fraction max_steps max_tokens bf16 seed eval_fraction eval_windows mask_rate rc_aug pairs "
             "annotations mutation_rate temperature aux_weight log_every eval_every save_every keep").split()
    explicit = {_FIELD.get(n, n): given[n] for n in names if given[n] is not None}
    if max_tokens is not None and max_steps is None:
        explicit["max_steps"] = None  # --max-tokens alone sets the length of the run
    if resume and not os.path.isdir(out):
        raise InputError(f"--resume: {out} is not a run directory")
    from genotx.io.outputs import RUN, check_output

    check_output(out, RUN, resumable=True)  # a folder of other files (or `-o .`) is refused before training
    cfg, paths = _settings(out, resume, preset, explicit, inputs)
    record = pretrain(cfg, paths, out, resume=resume)
    if record is not None:
        columns = ["run", "objective", "steps", "tokens", "params", "loss_per_token", "loss_per_base", "baseline"]
        with TsvWriter(columns) as table:
            table.write_rows([(out, record["objective"], record["steps"], record["tokens"], record["params"],
                               record["loss_per_token"], record["loss_per_base"], record["baseline_loss"])])
