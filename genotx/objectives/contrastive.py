"""Contrastive pretraining (InfoNCE): embeddings of two views of the same locus attract, others repel.

Positives are either orthologous windows, given as a TSV of record pairs
(``id_a  id_b``, one pair a line; windows are taken at the same relative
position of both records, which holds for collinear orthologs), or, without
pairs, augmented views: the reverse complement of the window with point
mutations at ``mutation_rate``. The embedding is the mean of the final hidden
states passed through a two-layer projection (SimCLR, Chen et al. 2020); the
loss is the symmetric InfoNCE of van den Oord et al. 2018 with in-batch
negatives, whose chance level is log(batch size).

Example::

    objective = Contrastive(tokenizer=tok, pairs=None, mutation_rate=0.02, temperature=0.1)
"""

from __future__ import annotations

import math

import numpy as np

from genotx.errors import InputError
from genotx.objectives.common import LossParts, mean_pool, model_inputs, token_count, tokenize_windows
from genotx.io.codes import N_CODE, revcomp_codes


def read_pairs(path: str, genome) -> list[tuple[int, int]]:
    """Read ``id_a  id_b`` lines (``#`` comments allowed) as record-index pairs of ``genome``."""
    pairs = []
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError as exc:
        raise InputError(f"{path}: cannot read pairs file ({exc.strerror or exc})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) < 2:
            raise InputError(f"{path}: line {number}: expected 'id_a<TAB>id_b', got {line[:60]!r}")
        try:
            pairs.append((genome.index_of(fields[0].strip()), genome.index_of(fields[1].strip())))
        except InputError as exc:
            raise InputError(f"{path}: line {number}: {exc}") from None
    if not pairs:
        raise InputError(f"{path}: no pairs")
    return pairs


def mutate(codes: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Substitute each called base with probability ``rate`` by one of the three other bases."""
    hit = (rng.random(codes.shape) < rate) & (codes != N_CODE)
    shifted = (codes.astype(np.int64) + rng.integers(1, 4, size=codes.shape)) % 4
    return np.where(hit, shifted, codes).astype(np.uint8)


def pair_windows(split, pairs, rng: np.random.Generator, count: int, held_out: bool):
    """Windows at the same relative position of both records of randomly chosen pairs, random strands."""
    starts = split.eval_starts if held_out else split.train_starts
    lengths = split.eval_lengths if held_out else split.train_lengths
    slots = np.maximum(lengths - split.seq_len + 1, 0)
    usable = [p for p in pairs if slots[p[0]] > 0 and slots[p[1]] > 0]
    if not usable:
        where = "held-out" if held_out else "training"
        raise InputError(f"no ortholog pair has both {where} parts at least --seq-len {split.seq_len} bp long")
    usable = np.array(usable)
    chosen = usable[rng.integers(len(usable), size=count)]
    position = rng.random(count)
    views = []
    for side in (0, 1):
        rec = chosen[:, side]
        offsets = starts[rec] + np.floor(position * slots[rec]).astype(np.int64)
        windows = split.genome.codes[offsets[:, None] + np.arange(split.seq_len)[None, :]]
        flip = rng.random(count) < 0.5
        windows[flip] = revcomp_codes(windows[flip])
        views.append(windows)
    return views


class Contrastive:
    """Objective ``contrastive``: symmetric InfoNCE over in-batch negatives."""

    name = "contrastive"
    causal = False
    both_strands = True

    def __init__(self, *, tokenizer, pairs=None, split=None, mutation_rate: float = 0.02, temperature: float = 0.1):
        self.tokenizer = tokenizer
        self.pairs = pairs
        self.split = split
        self.mutation_rate = mutation_rate
        self.temperature = temperature

    @property
    def positives(self) -> str:
        return "ortholog pairs" if self.pairs else "augmented views (reverse complement + point mutations)"

    def heads(self, d_model: int) -> dict:
        import torch.nn as nn

        return {"projection": nn.Sequential(nn.Linear(d_model, d_model), nn.ReLU(), nn.Linear(d_model, 128))}

    def prepare(self, codes: np.ndarray, rng: np.random.Generator, held_out: bool = False, **_) -> dict:
        if self.pairs:
            view_a, view_b = pair_windows(self.split, self.pairs, rng, len(codes), held_out)
        else:
            view_a, view_b = codes, mutate(revcomp_codes(codes), self.mutation_rate, rng)
        ids_a, mask_a = tokenize_windows(self.tokenizer, view_a)
        ids_b, mask_b = tokenize_windows(self.tokenizer, view_b)
        return {"a": (ids_a, mask_a), "b": (ids_b, mask_b), "bases": view_a.size + view_b.size}

    def embed(self, model, heads, ids, mask):
        import torch.nn.functional as F

        pooled = mean_pool(model(*model_inputs(ids, mask)).hidden.float(), mask)
        return F.normalize(heads["projection"](pooled), dim=-1)

    def loss(self, model, heads, batch: dict, out=None) -> LossParts:
        import torch
        import torch.nn.functional as F

        z_a = self.embed(model, heads, *batch["a"])
        z_b = self.embed(model, heads, *batch["b"])
        logits = z_a @ z_b.T / self.temperature
        target = torch.arange(len(z_a), device=z_a.device)
        value = (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
        n = len(z_a)
        return LossParts(
            value,
            {self.name: (float(value.detach()) * n, n)},
            tokens=token_count(batch["a"][1]) + token_count(batch["b"][1]),
            bases=batch["bases"],
        )

    @staticmethod
    def chance(batch_size: int) -> float:
        """InfoNCE of embeddings that carry no information: log(batch size)."""
        return math.log(batch_size)
