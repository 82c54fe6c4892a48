"""`ModelConfig`: every shape and choice of a `GenomicModel`, validated, JSON round-trip.

One frozen keyword-only dataclass covers DNABERT-style encoders (attention,
bidirectional), HyenaDNA/Evo-style causal models, Caduceus-style RC-equivariant
bidirectional Mamba and Evo-style hybrids. Invalid combinations raise
`genotx.errors.InputError` with a message naming the problem and a fix.

Example::

    cfg = ModelConfig(vocab_size=4101, d_model=256, n_layers=6, pe="alibi")
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from genotx.errors import InputError

PES = ("rope", "alibi", "sinusoidal", "learned", "hierarchical")
MIXERS = ("attention", "linear", "window", "mamba", "hybrid")
HEADS = ("lm", "classify", "regress", "token_classify")
POOLINGS = ("mean", "cls", "max")
# Letters of `hybrid_pattern`: the mixer each layer uses.
PATTERN_LETTERS = {"A": "attention", "M": "mamba", "L": "linear", "W": "window"}
# Positional encodings that act on attention scores; the rest are added to the embeddings.
RELATIVE_PES = ("rope", "alibi")


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    vocab_size: int
    d_model: int = 256
    n_layers: int = 6
    n_heads: int = 8
    d_ff: int | None = None  # None -> 4 * d_model
    dropout: float = 0.0
    pe: str = "rope"
    mixer: str = "attention"
    causal: bool = False
    max_len: int = 1024
    window: int = 128
    n_global: int = 0
    hybrid_pattern: str = "MMMA"
    rope_base: float = 10000.0
    rope_scale: float = 1.0
    rc_equivariant: bool = False
    head: str = "lm"
    n_outputs: int = 0
    pooling: str = "mean"
    # Extensions (optional keywords, documented in docs/api.md):
    complement_ids: tuple[int, ...] | None = None  # token id -> id of its reverse complement
    d_state: int = 16  # Mamba: SSM state size per channel
    d_conv: int = 4  # Mamba: width of the causal depthwise convolution
    expand: int = 2  # Mamba: inner width = expand * d_model
    n_exons: int = 64  # hierarchical PE: exon index slots (larger indices share the last)
    conv_stem: int = 0  # width of a convolution over the embeddings before the blocks (models/stem.py); 0: none
    strand_average: bool = False  # sequence heads: evaluation averages the logits of both strands
    layer_scale: float = 0.0  # initial per-channel gain of every block's residual branches (LayerScale); 0: none

    def __post_init__(self) -> None:
        if self.d_ff is None:
            object.__setattr__(self, "d_ff", 4 * self.d_model)
        if self.complement_ids is not None:
            object.__setattr__(self, "complement_ids", tuple(int(i) for i in self.complement_ids))
        self._validate()

    # -- derived ------------------------------------------------------------------------
    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def layer_mixers(self) -> tuple[str, ...]:
        """The mixer of each layer, e.g. ('mamba', 'mamba', 'mamba', 'attention') for MMMA."""
        if self.mixer != "hybrid":
            return (self.mixer,) * self.n_layers
        pattern = self.hybrid_pattern
        return tuple(PATTERN_LETTERS[pattern[i % len(pattern)]] for i in range(self.n_layers))

    @property
    def n_layers_by_mixer(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for name in self.layer_mixers:
            counts[name] = counts.get(name, 0) + 1
        return counts

    @property
    def length_limited(self) -> bool:
        """True when inputs longer than `max_len` cannot be run (learned absolute positions)."""
        return self.pe == "learned"

    # -- JSON -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if d["complement_ids"] is not None:
            d["complement_ids"] = list(d["complement_ids"])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise InputError(f"model config: unknown field(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        return cls(**d)

    def replace(self, **changes: Any) -> "ModelConfig":
        return dataclasses.replace(self, **changes)

    # -- validation -----------------------------------------------------------------------
    def _validate(self) -> None:
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise InputError(f"model config: {message}")

        def choice(name: str, value: str, options: tuple[str, ...]) -> None:
            need(value in options, f"{name}={value!r} is not one of {', '.join(options)}")

        choice("pe", self.pe, PES)
        choice("mixer", self.mixer, MIXERS)
        choice("head", self.head, HEADS)
        choice("pooling", self.pooling, POOLINGS)
        for name in ("vocab_size", "d_model", "n_layers", "n_heads", "d_ff", "max_len", "d_state", "d_conv", "expand", "n_exons"):
            value = getattr(self, name)
            need(isinstance(value, int) and not isinstance(value, bool) and value > 0, f"{name} must be a positive integer, got {value!r}")
        need(self.vocab_size >= 5, f"vocab_size must be at least 5 (the special tokens), got {self.vocab_size}")
        need(0.0 <= self.dropout < 1.0, f"dropout must be in [0, 1), got {self.dropout}")
        need(self.layer_scale >= 0, f"layer_scale must be 0 (none) or a positive initial gain, got {self.layer_scale}")
        need(self.d_model % self.n_heads == 0, f"n_heads ({self.n_heads}) must divide d_model ({self.d_model}); try n_heads={_divisor_near(self.d_model, self.n_heads)}")
        if self.pe == "rope":
            need(self.head_dim % 2 == 0, f"pe='rope' rotates pairs of channels: d_model / n_heads must be even, got {self.head_dim}")
            need(self.rope_base > 1.0, f"rope_base must be > 1, got {self.rope_base}")
            need(self.rope_scale > 0.0, f"rope_scale must be > 0, got {self.rope_scale}")
        need(self.window >= 1, f"window must be >= 1, got {self.window}")
        need(self.n_global >= 0, f"n_global must be >= 0, got {self.n_global}")
        need(self.n_global == 0 or not self.causal, "n_global tokens see the whole sequence, which a causal model may not: set n_global=0 or causal=False")
        if self.mixer == "hybrid":
            bad = sorted(set(self.hybrid_pattern) - set(PATTERN_LETTERS))
            need(bool(self.hybrid_pattern) and not bad,
                 f"hybrid_pattern={self.hybrid_pattern!r}: use the letters {', '.join(f'{k}={v}' for k, v in PATTERN_LETTERS.items())}, e.g. 'MMMA'")
        mixers = set(self.layer_mixers)
        need(not (self.pe == "alibi" and "linear" in mixers),
             "pe='alibi' adds a bias to exact attention scores, which linear attention never forms: use pe='rope' or an absolute PE with mixer='linear'")
        self._validate_head(need)
        self._validate_rc(need)
        self._validate_stem(need)

    def _validate_head(self, need) -> None:
        if self.head == "lm":
            need(self.n_outputs == 0, f"head='lm' predicts tokens (vocab_size outputs): set n_outputs=0, got {self.n_outputs}")
        else:
            need(self.n_outputs >= 1, f"head={self.head!r} needs n_outputs >= 1 (classes or regression targets)")
        need(not (self.pooling == "cls" and self.causal and self.head in ("classify", "regress")),
             "pooling='cls' reads the first token, which sees nothing else in a causal model: use pooling='mean'")

    def _validate_rc(self, need) -> None:
        if self.complement_ids is not None:
            comp = self.complement_ids
            need(len(comp) == self.vocab_size, f"complement_ids has {len(comp)} entries but vocab_size is {self.vocab_size}")
            need(all(0 <= c < self.vocab_size for c in comp) and all(comp[c] == i for i, c in enumerate(comp)),
                 "complement_ids must map every id into the vocabulary and be its own inverse (revcomp of revcomp is the token)")
        if not self.rc_equivariant:
            return
        need(self.complement_ids is not None,
             "rc_equivariant=True needs complement_ids (the tokenizer's complement_ids map: char, kmer with stride == k, or rcbpe)")
        need(not self.causal,
             f"rc_equivariant=True with causal=True (mixer={self.mixer!r}, pe={self.pe!r}) is not defined: "
             "the reverse strand reads each prefix from its other end; use causal=False (MLM) for RC equivariance")


    def _validate_stem(self, need) -> None:
        need(self.conv_stem == 0 or (self.conv_stem >= 3 and self.conv_stem % 2 == 1),
             f"conv_stem must be 0 (none) or an odd width >= 3, got {self.conv_stem}")
        need(not (self.conv_stem and self.causal),
             "conv_stem reads bases on both sides of each position, which a causal model may not: set conv_stem=0")
        if self.strand_average:
            need(self.head in ("classify", "regress"),
                 f"strand_average averages sequence-level outputs; head={self.head!r} has none")
            need(self.complement_ids is not None,
                 "strand_average needs complement_ids (single-base or non-overlapping k-mer tokens)")


def _divisor_near(n: int, target: int) -> int:
    divisors = [k for k in range(1, n + 1) if n % k == 0]
    return min(divisors, key=lambda k: (abs(k - target), k))

