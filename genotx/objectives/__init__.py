"""Pretraining objectives: mlm, ar, contrastive, multitask, and mlm+contrastive.

An objective turns a batch of genome windows (base codes) into model inputs
(`prepare`, numpy randomness only, so a step's batch is a pure function of its
generator) and computes the loss (`loss`, returning `LossParts`). `heads`
names the extra modules it trains beside the language model (a projection
for contrastive, track heads for multitask). Choosing one is a dict lookup.

Example::

    objective = build_objective("mlm", tokenizer=tok, split=split, mask_rate=0.15)
"""

from __future__ import annotations

from genotx.errors import InputError
from genotx.objectives.ar import Autoregressive
from genotx.objectives.common import LossParts
from genotx.objectives.contrastive import Contrastive, read_pairs
from genotx.objectives.mlm import MaskedLM
from genotx.objectives.multitask import MultiTask, read_tracks

OBJECTIVES = ("mlm", "ar", "contrastive", "multitask", "mlm+contrastive")


class Combined:
    """Weighted sum of objectives on the same windows (e.g. GENA-LM-style MLM + contrastive): first + aux_weight * rest."""

    causal = False
    both_strands = True

    def __init__(self, objectives: list, aux_weight: float = 1.0):
        self.objectives = objectives
        self.weights = [1.0] + [aux_weight] * (len(objectives) - 1)
        self.name = "+".join(o.name for o in objectives)

    def heads(self, d_model: int) -> dict:
        merged = {}
        for o in self.objectives:
            merged.update(o.heads(d_model))
        return merged

    def prepare(self, codes, rng, **kw) -> dict:
        return {o.name: o.prepare(codes, rng, **kw) for o in self.objectives}

    def loss(self, model, heads, batch: dict, out=None) -> LossParts:
        total = None
        merged = LossParts(0.0)
        for o, weight in zip(self.objectives, self.weights):
            part = o.loss(model, heads, batch[o.name])
            total = part.total if total is None else total + weight * part.total
            merged.parts.update(part.parts)
            merged.tokens += part.tokens
            merged.bases += part.bases
        merged.total = total
        return merged


def build_objective(
    name: str,
    *,
    tokenizer,
    split,
    mask_rate: float = 0.15,
    rc_aug: bool = False,
    pairs: str | None = None,
    annotations: str | None = None,
    mutation_rate: float = 0.02,
    temperature: float = 0.1,
    aux_weight: float = 1.0,
    seed: int = 0,
):
    """The objective called ``name``, with its inputs (pairs TSV, annotation TSV) read and checked."""
    if name not in OBJECTIVES:
        raise InputError(f"unknown objective {name!r}; choose one of {', '.join(OBJECTIVES)}")
    if annotations and name != "multitask":
        raise InputError("--annotations is only used by --objective multitask")
    if pairs and "contrastive" not in name:
        raise InputError("--pairs is only used by the contrastive objectives")
    if rc_aug and name != "ar":
        raise InputError("--rc-aug applies to --objective ar (the other objectives always use both strands)")

    def contrastive():
        pair_list = read_pairs(pairs, split.genome) if pairs else None
        return Contrastive(
            tokenizer=tokenizer, pairs=pair_list, split=split, mutation_rate=mutation_rate, temperature=temperature
        )

    if name == "mlm":
        return MaskedLM(tokenizer=tokenizer, mask_rate=mask_rate)
    if name == "ar":
        return Autoregressive(tokenizer=tokenizer, rc_aug=rc_aug)
    if name == "contrastive":
        return contrastive()
    if name == "multitask":
        if not annotations:
            raise InputError("--objective multitask needs --annotations TSV (seq_id start end track value)")
        tracks = read_tracks(annotations, split.genome)
        return MultiTask(tokenizer=tokenizer, tracks=tracks, mask_rate=mask_rate, split=split, seed=seed,
                         aux_weight=aux_weight)
    return Combined([MaskedLM(tokenizer=tokenizer, mask_rate=mask_rate), contrastive()], aux_weight=aux_weight)


__all__ = ["OBJECTIVES", "build_objective", "LossParts", "Combined"]
