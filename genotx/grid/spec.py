"""What a comparison grid runs: its axes, its compute budgets, and its cells in a fixed order.

The default grid crosses tokenizer × positional encoding × objective with
attention (40 cells), then tries every other mixer at the best of those
settings, then repeats the top configurations with more seeds for confidence
intervals. Budgets are data: one dict per name, holding the model shape,
window length, training compute per cell and the fine-tuning effort.

Compute per cell is a number of training FLOPs: those `genotx pretrain` counts
in run.json (`genotx.train.record.training_flops`: 6·N·D for the N
non-embedding parameters and D tokens, plus the attention term) plus the output
layer, 6·d_model·vocabulary per predicted token (all tokens for AR, the masked
15 % for MLM). Every cell gets the same FLOPs, so a tokenizer with fewer tokens
per base sees more bases, a large vocabulary sees fewer tokens, and a cheaper
mixer sees more tokens.

Example::

    cells = main_cells(GridAxes(), seed=0)
    cells[0].name    # 'char-sinusoidal-mlm-attention-s0'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from genotx.errors import InputError

TOKENIZERS = ("char", "kmer6", "kmer6:6", "bpe:4096", "rcbpe:4096")
PES = ("sinusoidal", "learned", "alibi", "rope")
OBJECTIVES = ("mlm", "ar")
MIXERS = ("attention", "linear", "window", "mamba", "hybrid")
TASKS = ("taxon", "splice", "promoters", "chip")
EXTRAPOLATION = (1, 2, 4, 8)  # evaluation lengths as multiples of the training window

BUDGETS = {
    # tiny: seconds per cell; for tests and for trying the command. The corpus is the three
    # smallest shipped genomes (human mitochondrion and two bee viruses, 37 kb). With one
    # layer the hybrid mixer is a Mamba layer.
    "tiny": {
        "d_model": 32, "n_layers": 1, "n_heads": 2, "seq_len": 64, "batch_size": 4, "flops": 2e9,
        "lr": 2e-3, "eval_windows": 8, "eval_fraction": 0.1, "max_vocab": 128, "tokenizer_bases": 40_000,
        "finetune_steps": 4, "finetune_batch": 8, "taxon_valid": 60, "corpus": "small-genomes",
        "top": 1, "seeds": 2,
    },
    # small: the CPU budget (docs/grid.md gives the time estimate); the corpus is every
    # shipped genome of split 'train' (12 genomes, 26 Mb). Four layers, so that the hybrid
    # mixer (pattern MMMA over depth) holds one attention layer.
    "small": {
        "d_model": 64, "n_layers": 4, "n_heads": 4, "seq_len": 256, "batch_size": 16, "flops": 1.5e12,
        "lr": 2e-3, "eval_windows": 64, "eval_fraction": 0.05, "max_vocab": 4096, "tokenizer_bases": 4_000_000,
        "finetune_steps": 150, "finetune_batch": 32, "taxon_valid": 1000, "corpus": "train-genomes",
        "top": 3, "seeds": 3,
    },
    # medium and large: for one GPU. Pretraining and the extrapolation runs use it; fine-tuning
    # (genotx.train.finetune) runs on the CPU, so its steps are kept moderate.
    "medium": {
        "d_model": 256, "n_layers": 6, "n_heads": 8, "seq_len": 512, "batch_size": 32, "flops": 3e15,
        "lr": 1e-3, "eval_windows": 256, "eval_fraction": 0.05, "max_vocab": 4096, "tokenizer_bases": 20_000_000,
        "finetune_steps": 400, "finetune_batch": 64, "taxon_valid": 2000, "corpus": "train-genomes",
        "top": 3, "seeds": 3,
    },
    "large": {
        "d_model": 512, "n_layers": 8, "n_heads": 8, "seq_len": 1024, "batch_size": 64, "flops": 5e16,
        "lr": 6e-4, "eval_windows": 512, "eval_fraction": 0.05, "max_vocab": 4096, "tokenizer_bases": 30_000_000,
        "finetune_steps": 600, "finetune_batch": 64, "taxon_valid": 2000, "corpus": "train-genomes",
        "top": 5, "seeds": 3,
    },
}


def budget_settings(name: str) -> dict:
    """The settings of budget ``name`` (a copy); unknown names are an InputError."""
    if name not in BUDGETS:
        raise InputError(f"unknown budget {name!r}; choose one of {', '.join(BUDGETS)}")
    return dict(BUDGETS[name])


@dataclass(frozen=True, kw_only=True)
class GridAxes:
    """The values each axis takes. ``mixers`` are tried at the best main-grid setting."""

    tokenizers: tuple = TOKENIZERS
    pes: tuple = PES
    objectives: tuple = OBJECTIVES
    mixers: tuple = MIXERS
    tasks: tuple = TASKS

    def __post_init__(self) -> None:
        checks = {"--pes": (self.pes, PES), "--objectives": (self.objectives, OBJECTIVES),
                  "--mixers": (self.mixers, MIXERS), "--tasks": (self.tasks, TASKS)}
        for option, (values, allowed) in checks.items():
            unknown = [v for v in values if v not in allowed]
            if unknown:
                raise InputError(f"{option}: unknown value(s) {', '.join(unknown)}; choose from {', '.join(allowed)}")
        for option in ("tokenizers", "pes", "objectives"):
            if not getattr(self, option):
                raise InputError(f"--{option}: give at least one value")
        for spec in self.tokenizers:
            tokenizer_label(spec)

    def to_dict(self) -> dict:
        return {k: list(v) for k, v in asdict(self).items()}


def tokenizer_label(spec: str) -> str:
    """A file-name-safe label: ``kmer6:6`` -> ``kmer6s6``, ``bpe:4096`` -> ``bpe4096``."""
    kind, _, size = spec.partition(":")
    if kind.startswith("kmer") and kind[4:].isdigit() and (not size or size.isdigit()):
        return kind + (f"s{size}" if size else "")
    if kind in ("char",) and not size:
        return kind
    if kind in ("bpe", "rcbpe") and (not size or size.isdigit()):
        return kind + (size or "4096")
    raise InputError(f"--tokenizers: {spec!r} is not char, kmerK, kmerK:STRIDE, bpe[:SIZE] or rcbpe[:SIZE]")


@dataclass(frozen=True, kw_only=True)
class Cell:
    """One pretraining + fine-tuning run of the grid. ``stage``: main, mixer or seeds."""

    tokenizer: str
    pe: str
    objective: str
    mixer: str = "attention"
    seed: int = 0
    stage: str = "main"

    @property
    def config(self) -> str:
        """The configuration without its seed: cells that differ only by seed share it."""
        return f"{tokenizer_label(self.tokenizer)}-{self.pe}-{self.objective}-{self.mixer}"

    @property
    def name(self) -> str:
        return f"{self.config}-s{self.seed}"

    def to_dict(self) -> dict:
        return {**asdict(self), "config": self.config, "name": self.name}


def main_cells(axes: GridAxes, *, seed: int) -> list[Cell]:
    """Tokenizer (outer) × PE × objective (inner), all with attention, in the declared order."""
    return [Cell(tokenizer=t, pe=p, objective=o, seed=seed)
            for t in axes.tokenizers for p in axes.pes for o in axes.objectives]


def mixer_pe(mixer: str, pe: str) -> str:
    """The PE a mixer runs with: linear attention forms no score matrix for ALiBi to bias,
    so it falls back to RoPE (the other relative encoding); everything else keeps ``pe``."""
    return "rope" if (mixer == "linear" and pe == "alibi") else pe


def mixer_cells(axes: GridAxes, best: Cell) -> list[Cell]:
    """Every mixer other than attention at the best main-grid setting, in the declared order."""
    return [replace(best, mixer=m, pe=mixer_pe(m, best.pe), stage="mixer")
            for m in axes.mixers if m != "attention"]


def seed_cells(top: list[Cell], seeds: int, base_seed: int) -> list[Cell]:
    """Repeats of each top configuration with seeds base+1 .. base+seeds-1 (its own run is base)."""
    return [replace(cell, seed=base_seed + k, stage="seeds") for cell in top for k in range(1, seeds)]
