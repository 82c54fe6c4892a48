"""Sample DNA from an autoregressive checkpoint; writes FASTA to stdout.

Only checkpoints trained with `genotx pretrain --objective ar` can generate
(a masked model does not define left-to-right probabilities). Each prompt
record (--prompt FASTA) is continued in turn; without prompts sequences start
from scratch. The output sequences hold the generated bases only.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Optional

import typer

from genotx.cli._common import command, require
from genotx.errors import InputError


def checkpoint_path(model_dir: str) -> str:
    """A model checkpoint directory, or a run directory holding one in model/."""
    for candidate in (model_dir, os.path.join(model_dir, "model")):
        if os.path.exists(os.path.join(candidate, "config.json")):
            return candidate
    raise InputError(f"{model_dir}: not a genotx checkpoint (no config.json here or in {model_dir}/model)")


def _check_autoregressive(path: str) -> dict:
    try:
        with open(os.path.join(path, "config.json")) as f:
            config = json.load(f)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}/config.json: unreadable ({exc})") from None
    objective = (config.get("metadata") or {}).get("objective", "unknown")
    if not config.get("model", {}).get("causal") or objective not in ("ar", "unknown"):
        raise InputError(
            f"{path}: trained with objective {objective!r}, not autoregressive; generate needs a causal model "
            "(genotx pretrain --objective ar) because a masked model cannot sample left to right"
        )
    return config


def _write_fasta(name: str, seq: str) -> None:
    lines = [seq[i : i + 80] for i in range(0, len(seq), 80)]
    sys.stdout.write(f">{name}\n" + "\n".join(lines) + "\n")
    sys.stdout.flush()


@command
def run(
    model_dir: str = typer.Option(..., "--model", "-m", help="AR checkpoint or run directory."),
    n: int = typer.Option(1, "-n", "--n", help="Sequences per prompt."),
    length: int = typer.Option(1000, "--length", help="Bases generated per sequence."),
    prompt: Optional[str] = typer.Option(None, "--prompt", help="FASTA of prompts (each record is continued)."),
    temperature: float = typer.Option(1.0, "--temperature", help="Softmax temperature (0: greedy)."),
    top_k: int = typer.Option(0, "--top-k", help="Sample among the k most likely tokens (0: all)."),
    top_p: float = typer.Option(1.0, "--top-p", help="Nucleus sampling mass (1: all)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same sequences)."),
    prefix: str = typer.Option("gen", "--prefix", help="Name prefix of the output records."),
) -> None:
    require(n >= 1, f"--n must be at least 1, got {n}")
    require(length >= 1, f"--length must be at least 1, got {length}")
    require(temperature >= 0, f"--temperature must be >= 0, got {temperature}")
    require(top_k >= 0, f"--top-k must be >= 0, got {top_k}")
    require(0 < top_p <= 1, f"--top-p must be in (0, 1], got {top_p}")
    path = checkpoint_path(model_dir)
    config = _check_autoregressive(path)
    prompts = [("", "")]
    if prompt:
        from genotx.io import iter_records

        prompts = [(r.id, r.seq) for r in iter_records([prompt])]
        require(bool(prompts), f"{prompt}: no prompt records")
    if config["model"].get("pe") == "learned":
        longest = max(len(p) for _, p in prompts) + length + 1
        limit = int(config["model"].get("max_len", 0))
        require(longest <= limit, f"{path}: learned positions stop at {limit} tokens; ask for at most "
                f"{max(1, limit - 1 - max(len(p) for _, p in prompts))} bases with this prompt")
    from genotx.models import load_checkpoint
    from genotx.runtime import import_torch
    from genotx.inference.sample import sample

    torch = import_torch()
    model, tokenizer, _ = load_checkpoint(path)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device).eval()
    generator = torch.Generator(device="cpu").manual_seed(seed)
    number = 0
    for prompt_id, prompt_seq in prompts:
        seqs = sample(model, tokenizer, prompt=prompt_seq, n=n, length=length, temperature=temperature,
                      top_k=top_k, top_p=top_p, seed=seed, device=device, generator=generator)
        for seq in seqs:
            number += 1
            note = f" prompt={prompt_id}" if prompt_id else ""
            _write_fasta(f"{prefix}{number}{note} length={len(seq)} seed={seed}", seq)
