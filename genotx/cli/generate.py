"""Sample DNA from an autoregressive checkpoint; writes FASTA to stdout.

Only checkpoints trained with `genotx pretrain --objective ar` can generate
(a masked model does not define left-to-right probabilities). Each prompt
record (--prompt FASTA) is continued in turn; without prompts sequences start
from scratch. The output sequences hold the generated bases only.

A prompt longer than the model's context (the tokens of its training windows)
is cut to its last context window: the model never saw more at once, and the
memory of the first forward pass then stays the same however long the prompt
(a note on stderr says so).
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


def _context_window(rid: str, seq: str, tokenizer, config: dict, length: int, path: str) -> str:
    """The end of a prompt that fits the model's context, as `sample` will tokenize it.

    Context: ``max_len`` tokens less the start token; with learned positions also less
    the tokens to generate. Only the last ``tokens * longest`` bases are tokenized
    (no token covers more), then cut at the token boundary that leaves `tokens`.
    """
    import math

    from genotx.progress import info
    from genotx.inference.sample import bases_per_token

    step = bases_per_token(tokenizer)
    fewest, longest = max(1, int(step[step > 0].min())), max(1, int(step.max()))
    limit = int(config["model"].get("max_len", 0))
    tokens = limit - 1
    if config["model"].get("pe") == "learned":
        tokens -= math.ceil(length / fewest) + 8  # the generated tokens need positions too (see sample)
        require(tokens >= 0, f"{path}: learned positions stop at {limit} tokens; ask for at most "
                f"{max(1, (limit - 10) * fewest)} bases")
    if len(seq) <= tokens * fewest:
        return seq  # fits whatever the tokenization
    tail = seq[len(seq) - tokens * longest:] if tokens else ""
    ids = tokenizer.encode(tail) if tail else []
    if len(ids) > tokens:
        tail = tail[len(tail) - int(step[ids[len(ids) - tokens:]].sum()):] if tokens else ""
    if len(tail) < len(seq):
        info(f"prompt {rid or 1}: {len(seq)} bases; continuing its last {len(tail)} (the model's context)")
    return tail


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
    from genotx.models.checkpoint import HF_REFUSED
    from genotx.models.hf_load import is_hf_dir

    require(not is_hf_dir(path), f"{path}: {HF_REFUSED}")
    config = _check_autoregressive(path)
    if prompt:
        from genotx.io.source import open_input

        open_input(prompt).close()  # a missing prompt file is reported before the model loads
    from genotx.models import load_checkpoint
    from genotx.runtime import import_torch
    from genotx.inference.sample import sample

    torch = import_torch()
    model, tokenizer, _ = load_checkpoint(path)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device).eval()
    generator = torch.Generator(device="cpu").manual_seed(seed)
    # Every prompt is read (and checked) before anything is written; each is cut as soon as it is read.
    contexts = [(rid, _context_window(rid, seq, tokenizer, config, length, path)) for rid, seq in _prompts(prompt)]
    require(bool(contexts), f"{prompt}: no prompt records")
    number = 0
    for prompt_id, context in contexts:
        seqs = sample(model, tokenizer, prompt=context, n=n, length=length, temperature=temperature,
                      top_k=top_k, top_p=top_p, seed=seed, device=device, generator=generator)
        for seq in seqs:
            number += 1
            note = f" prompt={prompt_id}" if prompt_id else ""
            _write_fasta(f"{prefix}{number}{note} length={len(seq)} seed={seed}", seq)


def _prompts(path: Optional[str]):
    """(id, sequence) of each prompt record, or one empty prompt without --prompt."""
    if not path:
        yield "", ""
        return
    from genotx.io import iter_records

    for record in iter_records([path]):
        yield record.id, record.seq
