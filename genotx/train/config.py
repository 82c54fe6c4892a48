"""The configuration of a pretraining run: one frozen dataclass, validated, round-trips through JSON.

Example::

    cfg = TrainConfig(objective="ar", seq_len=256, max_steps=100)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from genotx.errors import InputError
from genotx.objectives import OBJECTIVES


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    # what to learn and from which tokens
    objective: str = "mlm"
    tokenizer: str = "char"  # char | kmer6 | kmer6:6 | bpe[:4096] | rcbpe[:4096] | path to tokenizer.json
    # model shape (genotx.models.ModelConfig)
    pe: str = "rope"
    mixer: str = "attention"
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    window: int = 128
    dropout: float = 0.0
    # data
    seq_len: int = 512  # bases per window
    batch_size: int = 16  # windows per step per process
    eval_fraction: float = 0.05
    eval_windows: int = 64
    max_n_fraction: float = 0.5
    # optimisation: AdamW, linear warm-up then cosine decay to lr * min_lr_ratio
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.05
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0
    max_steps: int | None = 1000
    max_tokens: int | None = None
    bf16: bool = False
    seed: int = 0
    # objectives
    mask_rate: float = 0.15
    rc_aug: bool = False
    pairs: str | None = None
    annotations: str | None = None
    mutation_rate: float = 0.02
    temperature: float = 0.1
    aux_weight: float = 1.0  # weight of the contrastive / track loss next to MLM in combined objectives
    # bookkeeping
    log_every: int = 10
    eval_every: int = 0  # 0: evaluate only at the end
    save_every: int = 100
    keep: int = 3

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise InputError(f"unknown objective {self.objective!r}; choose one of {', '.join(OBJECTIVES)}")
        positive = ["d_model", "n_layers", "n_heads", "seq_len", "batch_size", "eval_windows", "log_every", "keep", "window"]
        for name in positive:
            if getattr(self, name) < 1:
                raise InputError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.max_steps is None and self.max_tokens is None:
            raise InputError("give --max-steps or --max-tokens")
        # --max-steps 0 saves the initialised model: the no-pretraining control of a transfer study.
        if self.max_steps is not None and self.max_steps < 0:
            raise InputError(f"--max-steps must be at least 0, got {self.max_steps}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise InputError(f"--max-tokens must be at least 1, got {self.max_tokens}")
        if self.lr <= 0:
            raise InputError(f"--lr must be positive, got {self.lr}")
        for name in ("mask_rate", "eval_fraction"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise InputError(f"--{name.replace('_', '-')} must be between 0 and 1, got {getattr(self, name)}")
        for name in ("mutation_rate", "warmup_fraction", "min_lr_ratio", "max_n_fraction", "dropout"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise InputError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        if self.aux_weight < 0:
            raise InputError(f"--aux-weight must be >= 0, got {self.aux_weight}")
        if self.temperature <= 0:
            raise InputError(f"--temperature must be positive, got {self.temperature}")
        if self.d_model % self.n_heads:
            raise InputError(f"--d-model {self.d_model} must be divisible by --heads {self.n_heads}")
        if self.save_every < 0 or self.eval_every < 0:
            raise InputError("--save-every and --eval-every must be >= 0")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise InputError(f"unknown training setting(s): {', '.join(unknown)}")
        return cls(**d)

    def replace(self, **changes) -> "TrainConfig":
        return TrainConfig.from_dict({**self.to_dict(), **changes})
